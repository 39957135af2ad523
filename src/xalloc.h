/*
 * Allocation that never returns NULL: on out-of-memory it prints
 * "jobreport: fatal: out of memory (N bytes)" and exits 1. Data-driven growth (the job cache) is
 * bounded by an explicit memory budget elsewhere, so reaching this is a machine problem.
 */
#ifndef JR_XALLOC_H
#define JR_XALLOC_H

#include <stddef.h>

#include "compat.h"

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
/* realloc for an array of nmemb elements, checking the multiplication for overflow. */
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new allocation the caller frees. */
char *xasprintf(const char *fmt, ...) JR_PRINTF(1, 2);

/* Overwrite len bytes with zeros in a way the compiler cannot optimise away (for PII, secrets). */
void xwipe(void *ptr, size_t len);

/* Wipe a NUL-terminated string, then free it. NULL is a no-op. */
void xfree_secret(char *s);

#endif
