/*
 * UTF-8 decoding. Overlongs and surrogates are rejected as early as the second byte allows, so a
 * streaming caller learns "invalid" without waiting for bytes that cannot help.
 */
#include "utf8.h"

#include "banned.h"

size_t
utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t c = s[0];
    uint32_t min;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF)
        len = 2, c &= 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        len = 3, c &= 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        len = 4, c &= 0x07, min = 0x10000;
    else
        return 0;
    for (size_t i = 1; i < len; i++) {
        if (i >= n)
            return UTF8_INCOMPLETE;
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
        if (i == 1 && len == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F)))
            return 0;
        if (i == 1 && len == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] > 0x8F)))
            return 0;
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

bool
utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    while (i < len) {
        uint32_t cp;
        size_t k;

        if (s[i] < 0x80) {
            i++;
            continue;
        }
        k = utf8_decode(s + i, len - i, &cp);
        if (k == 0 || k == UTF8_INCOMPLETE)
            return false;
        i += k;
    }
    return true;
}
