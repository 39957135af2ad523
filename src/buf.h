/*
 * A growable byte buffer (git's strbuf, reduced). The contents are always NUL-terminated so
 * buf_cstr() is cheap, but may also hold NUL bytes. Caller-allocated: struct buf b = BUF_INIT;
 * ... buf_release(&b). Allocation failure exits (xalloc.h).
 */
#ifndef JR_BUF_H
#define JR_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "compat.h"

struct buf {
    char *data; /* NULL until the first append */
    size_t len;
    size_t cap;
};

#define BUF_INIT                                                                                   \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Make room for at least extra more bytes (plus the terminating NUL). */
void buf_grow(struct buf *b, size_t extra);
void buf_add(struct buf *b, const void *data, size_t len);
void buf_addstr(struct buf *b, const char *s);
void buf_addch(struct buf *b, char c);
void buf_printf(struct buf *b, const char *fmt, ...) JR_PRINTF(2, 3);
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) JR_PRINTF(2, 0);
/* Set the length to len (<= current length), keeping the allocation. */
void buf_truncate(struct buf *b, size_t len);
/* Empty the buffer, keeping the allocation. */
void buf_reset(struct buf *b);
/* The contents as a C string; "" for an empty, never-used buffer. Borrowed until the next change.
 */
const char *buf_cstr(const struct buf *b);
/* Free the storage and reset to BUF_INIT. */
void buf_release(struct buf *b);
/* Like buf_release, but first overwrites the whole allocation (for PII and secrets). */
void buf_release_wipe(struct buf *b);
/* Hand the storage to the caller (free() it) and reset to BUF_INIT. Never NULL. */
char *buf_detach(struct buf *b, size_t *len);

#endif
