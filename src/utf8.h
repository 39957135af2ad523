/*
 * UTF-8 decoding and validation (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF),
 * shared by the job CSV parser and the JSON log writer.
 */
#ifndef JR_UTF8_H
#define JR_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UTF8_INCOMPLETE ((size_t)-1)

/*
 * Decode the character at s[0..n) (n >= 1). Returns its length and sets *cp; 0 when the bytes are
 * not a valid character; UTF8_INCOMPLETE when s could start a valid character but n is too short.
 */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Is s[0..len) entirely valid UTF-8? */
bool utf8_valid(const char *s, size_t len);

#endif
