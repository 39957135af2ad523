/*
 * Report windows (SPEC §5.1). A run has one reference instant `as_of`; D is the calendar date of
 * as_of in the report time zone; the N-day window is [00:00 of D-N, 00:00 of D) in that zone, or
 * [00:00 of D-N, as_of) with --until now, converted to UTC. Instants are microseconds since the
 * epoch, UTC. Time zones come from the system tz database by name; neither the process's TZ nor
 * anything else in the environment changes the result.
 */
#ifndef JR_WINDOW_H
#define JR_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

struct jr_err;

/* Microseconds since 1970-01-01 00:00:00 UTC. */
typedef int64_t jr_usec;

struct window {
    unsigned days;
    jr_usec start; /* inclusive */
    jr_usec end;   /* exclusive */
};

/*
 * Parse an --as-of value in UTC: "2025-11-05T01:00:05Z", "2025-11-05 01:00:05", with optional
 * fractional seconds and an optional "Z" or "+00:00", or a date "2025-11-05" meaning its 00:00.
 * Returns -1 (JR_E_USAGE, message quoting the value) otherwise.
 */
int window_parse_as_of(const char *s, jr_usec *out, struct jr_err *err);

/* Is zone a usable time zone name ("UTC", "America/New_York")? Checks the tz database. */
bool window_zone_valid(const char *zone);

/* Compute the window of `days` for as_of in zone. until_now ends it at as_of. Returns -1
 * (JR_E_USAGE) for an unknown zone. */
int window_compute(jr_usec as_of, const char *zone, unsigned days, bool until_now,
                   struct window *out, struct jr_err *err);

/* Format t as "YYYY-MM-DD HH:MM:SS.ffffff" (26 chars + NUL): the form PostgreSQL compares with
 * timestamp columns and the stream's created_at column uses. */
void window_format_sql(jr_usec t, char out[27]);

/* Format t as "YYYY-MM-DDTHH:MM:SSZ" (or with .ffffff when not a whole second), for summaries. */
void window_format_iso(jr_usec t, char out[32]);

/* The current time. */
jr_usec window_now(void);

#endif
