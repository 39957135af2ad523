/*
 * UUID text <-> bytes.
 */
#include "uuid.h"

#include <stdio.h>
#include <string.h>

#include "banned.h"

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
uuid_parse(const char *s, unsigned char out[16])
{
    size_t o = 0;

    if (strlen(s) != UUID_STR_LEN)
        return -1;
    for (size_t i = 0; i < UUID_STR_LEN;) {
        int hi;
        int lo;

        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return -1;
            i++;
            continue;
        }
        hi = hexval(s[i]);
        lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[o++] = (unsigned char)(hi << 4 | lo);
        i += 2;
    }
    return 0;
}

bool
uuid_valid(const char *s)
{
    unsigned char tmp[16];

    return uuid_parse(s, tmp) == 0;
}

void
uuid_format(const unsigned char in[16], char out[UUID_STR_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[in[i] >> 4];
        out[o++] = hex[in[i] & 15];
    }
    out[o] = '\0';
}
