/*
 * UUIDs as 16 bytes: parsing the canonical text form PostgreSQL prints and formatting it back.
 */
#ifndef JR_UUID_H
#define JR_UUID_H

#include <stdbool.h>

#define UUID_STR_LEN 36

/* Parse "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx" (hex in either case). Returns -1 if malformed. */
int uuid_parse(const char *s, unsigned char out[16]);

/* Is s a canonical UUID string? */
bool uuid_valid(const char *s);

/* Format as lowercase canonical text into out (37 bytes with the NUL). */
void uuid_format(const unsigned char in[16], char out[UUID_STR_LEN + 1]);

#endif
