/*
 * CSV field writer. The scan for characters that force quoting uses strpbrk-like byte checks on
 * the (usually short) field; most fields are copied with one memcpy.
 */
#include "csv_out.h"

#include <string.h>

#include "buf.h"

#include "banned.h"

static bool
needs_quotes(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (c == ',' || c == '"' || c == '\r' || c == '\n')
            return true;
    }
    return false;
}

static bool
is_formula_start(char c)
{
    return c == '=' || c == '+' || c == '-' || c == '@' || c == '\t' || c == '\r';
}

void
csv_out_field(struct buf *b, const char *s, size_t len, bool escape_formulas, bool last)
{
    bool prefix = escape_formulas && s && len && is_formula_start(s[0]);

    if (s && len) {
        if (!needs_quotes(s, len)) {
            if (prefix)
                buf_addch(b, '\'');
            buf_add(b, s, len);
        } else {
            const char *p = s;
            const char *end = s + len;

            buf_grow(b, len + 4);
            buf_addch(b, '"');
            if (prefix)
                buf_addch(b, '\'');
            while (p < end) {
                const char *q = memchr(p, '"', (size_t)(end - p));

                if (!q) {
                    buf_add(b, p, (size_t)(end - p));
                    break;
                }
                buf_add(b, p, (size_t)(q - p) + 1);
                buf_addch(b, '"');
                p = q + 1;
            }
            buf_addch(b, '"');
        }
    }
    if (last)
        buf_add(b, "\r\n", 2);
    else
        buf_addch(b, ',');
}

void
csv_out_str(struct buf *b, const char *s, bool escape_formulas, bool last)
{
    csv_out_field(b, s, s ? strlen(s) : 0, escape_formulas, last);
}
