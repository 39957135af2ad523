/*
 * Errors: a caller-owned struct filled once at the point of failure, and the mapping from error
 * category to the documented exit status. Nothing here prints; cmd/jobreport.c prints the final
 * message. Exit statuses are part of the interface (man page, EXIT STATUS) and never renumbered.
 */
#ifndef JR_ERR_H
#define JR_ERR_H

#include <stddef.h>

#include "compat.h"

enum jr_errcode {
    JR_OK = 0,
    JR_E_INTERNAL = 1,
    JR_E_USAGE = 2,
    JR_E_CONFIG = 3,
    JR_E_DB = 4,
    JR_E_STORAGE = 5,
    JR_E_IO = 6,
    JR_E_LOCKED = 7,
    JR_E_PARTIAL = 8,
    JR_E_DATA = 9,
};

#define JR_ERR_MSG_MAX 512

struct jr_err {
    enum jr_errcode code;
    int sys_errno;
    char msg[JR_ERR_MSG_MAX];
};

#define JR_ERR_INIT                                                                                \
    {                                                                                              \
        JR_OK, 0,                                                                                  \
        {                                                                                          \
            0                                                                                      \
        }                                                                                          \
    }

/* Reset err to "no error". */
void jr_err_clear(struct jr_err *err);

/* Set code and a printf-formatted message (truncated to fit). Always returns -1. */
int jr_err_set(struct jr_err *err, enum jr_errcode code, const char *fmt, ...) JR_PRINTF(3, 4);

/* Like jr_err_set, then appends ": <strerror(errno)>" and records errno. Returns -1. */
int jr_err_errno(struct jr_err *err, enum jr_errcode code, const char *fmt, ...) JR_PRINTF(3, 4);

/* Prefix the existing message with context: "<context>: <old message>". Keeps code. Returns -1. */
int jr_err_prefix(struct jr_err *err, const char *fmt, ...) JR_PRINTF(2, 3);

/* The process exit status for an error category (the table in the man page). */
int jr_err_exit_status(enum jr_errcode code);

/* A short stable name for a category ("database", "storage", ...), for logs and summaries. */
const char *jr_err_name(enum jr_errcode code);

#endif
