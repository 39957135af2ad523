/*
 * Growable byte buffer.
 */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

#include "banned.h"

void
buf_grow(struct buf *b, size_t extra)
{
    size_t need;

    if (extra > (size_t)-1 - b->len - 1)
        need = (size_t)-1; /* xrealloc will fail and report */
    else
        need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    if (b->cap && need < b->cap + b->cap / 2)
        need = b->cap + b->cap / 2;
    if (need < 64)
        need = 64;
    b->data = xrealloc(b->data, need);
    if (!b->cap)
        b->data[0] = '\0';
    b->cap = need;
}

void
buf_add(struct buf *b, const void *data, size_t len)
{
    buf_grow(b, len);
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void
buf_addstr(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

void
buf_addch(struct buf *b, char c)
{
    buf_grow(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    int n;

    buf_grow(b, 64);
    va_copy(cp, ap);
    n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, cp);
    va_end(cp);
    if (n < 0)
        return;
    if ((size_t)n >= b->cap - b->len) {
        buf_grow(b, (size_t)n);
        n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        if (n < 0)
            return;
    }
    b->len += (size_t)n;
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void
buf_truncate(struct buf *b, size_t len)
{
    if (len < b->len) {
        b->len = len;
        b->data[len] = '\0';
    }
}

void
buf_reset(struct buf *b)
{
    buf_truncate(b, 0);
}

const char *
buf_cstr(const struct buf *b)
{
    return b->data ? b->data : "";
}

void
buf_release(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void
buf_release_wipe(struct buf *b)
{
    xwipe(b->data, b->cap);
    buf_release(b);
}

char *
buf_detach(struct buf *b, size_t *len)
{
    char *p;

    if (!b->data)
        buf_grow(b, 0);
    p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
