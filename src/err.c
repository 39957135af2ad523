/*
 * Error struct helpers and the single code-to-exit-status switch (so a new code without an exit
 * status is a compiler warning).
 */
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "banned.h"

void
jr_err_clear(struct jr_err *err)
{
    err->code = JR_OK;
    err->sys_errno = 0;
    err->msg[0] = '\0';
}

JR_PRINTF(2, 0) static void err_vformat(struct jr_err *err, const char *fmt, va_list ap)
{
    int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);

    if (n < 0)
        snprintf(err->msg, sizeof(err->msg), "(unformattable error message)");
}

int
jr_err_set(struct jr_err *err, enum jr_errcode code, const char *fmt, ...)
{
    va_list ap;

    err->code = code;
    err->sys_errno = 0;
    va_start(ap, fmt);
    err_vformat(err, fmt, ap);
    va_end(ap);
    return -1;
}

int
jr_err_errno(struct jr_err *err, enum jr_errcode code, const char *fmt, ...)
{
    int saved = errno;
    size_t len;
    va_list ap;

    err->code = code;
    va_start(ap, fmt);
    err_vformat(err, fmt, ap);
    va_end(ap);
    err->sys_errno = saved;
    len = strlen(err->msg);
    snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", strerror(saved));
    return -1;
}

int
jr_err_prefix(struct jr_err *err, const char *fmt, ...)
{
    char old[JR_ERR_MSG_MAX];
    size_t len;
    va_list ap;

    memcpy(old, err->msg, sizeof(old));
    va_start(ap, fmt);
    err_vformat(err, fmt, ap);
    va_end(ap);
    len = strlen(err->msg);
    snprintf(err->msg + len, sizeof(err->msg) - len, ": %s", old);
    return -1;
}

int
jr_err_exit_status(enum jr_errcode code)
{
    switch (code) {
    case JR_OK:
        return 0;
    case JR_E_INTERNAL:
        return 1;
    case JR_E_USAGE:
        return 2;
    case JR_E_CONFIG:
        return 3;
    case JR_E_DB:
        return 4;
    case JR_E_STORAGE:
        return 5;
    case JR_E_IO:
        return 6;
    case JR_E_LOCKED:
        return 7;
    case JR_E_PARTIAL:
        return 8;
    case JR_E_DATA:
        return 9;
    }
    return 1;
}

const char *
jr_err_name(enum jr_errcode code)
{
    switch (code) {
    case JR_OK:
        return "ok";
    case JR_E_INTERNAL:
        return "internal";
    case JR_E_USAGE:
        return "usage";
    case JR_E_CONFIG:
        return "configuration";
    case JR_E_DB:
        return "database";
    case JR_E_STORAGE:
        return "storage";
    case JR_E_IO:
        return "local-io";
    case JR_E_LOCKED:
        return "locked";
    case JR_E_PARTIAL:
        return "partial";
    case JR_E_DATA:
        return "data";
    }
    return "internal";
}
