/*
 * Tests of window (SPEC §5.1): --as-of parsing with exact microsecond results, the N-day windows
 * [00:00 of D-N, 00:00 of D) in UTC and in zones with daylight saving time (New York across both
 * 2025 changes, Auckland, a day that starts at 01:00 in Santiago and Havana, a midnight that
 * happens twice in Havana) and ahead of UTC (Tokyo, Auckland: the local date differs from UTC's),
 * --until now, unknown zones, that the process's TZ changes nothing (and is left as it was), and
 * the SQL and ISO formats.
 *
 * Expected instants are written as UTC calendar values and converted by days_from_civil below,
 * not by the libc functions the module itself uses. The local midnights were checked against
 * GNU date with the system tz database (e.g. TZ=America/New_York 2025-03-09 00:00 = 05:00Z).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "compat.h"
#include "err.h"
#include "window.h"
#include "xalloc.h"

#include "banned.h"

#define USEC INT64_C(1000000)

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
    int64_t era;
    unsigned yoe;
    unsigned doy;
    unsigned doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = (unsigned)(y - era * 400);
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* The instant y-m-d h:mi:s UTC, in microseconds. */
static jr_usec
utc(int y, unsigned m, unsigned d, int h, int mi, int s)
{
    return (days_from_civil(y, m, d) * 86400 + h * 3600 + mi * 60 + s) * USEC;
}

static void
test_civil_helper(void **state)
{
    (void)state;
    /* the helper itself, against well-known epoch values */
    assert_true(utc(1970, 1, 1, 0, 0, 0) == 0);
    assert_true(utc(2000, 3, 1, 0, 0, 0) == INT64_C(951868800) * USEC);
    assert_true(utc(2025, 11, 5, 1, 0, 5) == INT64_C(1762304405) * USEC);
    assert_true(utc(1969, 12, 31, 23, 59, 59) == -USEC);
}

/* ---- window_parse_as_of ---- */

static void
test_parse_accepted(void **state)
{
    const struct {
        const char *s;
        jr_usec want;
    } cases[] = {
        {"2025-11-05T01:00:05Z", utc(2025, 11, 5, 1, 0, 5)},
        {"2025-11-05 01:00:05", utc(2025, 11, 5, 1, 0, 5)},
        {"2025-11-05T01:00:05", utc(2025, 11, 5, 1, 0, 5)},
        {"2025-11-05 01:00:05Z", utc(2025, 11, 5, 1, 0, 5)},
        {"2025-11-05T01:00:05+00:00", utc(2025, 11, 5, 1, 0, 5)},
        {"2025-11-05T01:00:05+0000", utc(2025, 11, 5, 1, 0, 5)},
        {"2025-11-05T01:00:05.123456Z", utc(2025, 11, 5, 1, 0, 5) + 123456},
        {"2025-11-05T01:00:05.5Z", utc(2025, 11, 5, 1, 0, 5) + 500000},
        {"2025-11-05T01:00:05.000001", utc(2025, 11, 5, 1, 0, 5) + 1},
        {"2025-11-05 01:00:05.999999+00:00", utc(2025, 11, 5, 1, 0, 5) + 999999},
        {"2025-11-05T01:00:05.1234567Z", utc(2025, 11, 5, 1, 0, 5) + 123456}, /* truncated */
        {"2025-11-05", utc(2025, 11, 5, 0, 0, 0)},
        {"2025-11-05T00:00:00Z", utc(2025, 11, 5, 0, 0, 0)},
        {"2025-11-05T23:59:59Z", utc(2025, 11, 5, 23, 59, 59)},
        {"2024-02-29", utc(2024, 2, 29, 0, 0, 0)},
        {"2000-02-29T12:00:00Z", utc(2000, 2, 29, 12, 0, 0)},
        {"2025-12-31T23:59:59.999999Z", utc(2025, 12, 31, 23, 59, 59) + 999999},
        {"1970-01-01", 0},
        {"1970-01-01T00:00:00.000001Z", 1},
        {"2038-01-19T03:14:08Z", INT64_C(2147483648) * USEC},
        {"9999-12-31T23:59:59Z", utc(9999, 12, 31, 23, 59, 59)},
    };

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(cases); i++) {
        struct jr_err err = JR_ERR_INIT;
        jr_usec got = -42;

        if (window_parse_as_of(cases[i].s, &got, &err) != 0)
            fail_msg("'%s' rejected: %s", cases[i].s, err.msg);
        if (got != cases[i].want)
            fail_msg("'%s': got %lld, want %lld", cases[i].s, (long long)got,
                     (long long)cases[i].want);
    }
}

static void
test_parse_rejected(void **state)
{
    static const char *const bad[] = {
        "",
        "2025",
        "2025-11",
        "25-11-05",
        "2025/11/05",
        "2025-1-05",
        "2025-11-5",
        " 2025-11-05",
        "2025-11-05 ",
        "2025-11-05x",
        "2025-11-05T",
        "2025-11-05T01",
        "2025-11-05T01:00",
        "2025-11-05T01:00:5",
        "2025-11-05T1:00:05",
        "2025-11-05t01:00:05",
        "2025-11-05_01:00:05",
        "2025-11-05T01:00:05.",
        "2025-11-05T01:00:05.Z",
        "2025-11-05T01:00:05ZZ",
        "2025-11-05T01:00:05Z ",
        "2025-11-05T01:00:05 Z",
        "2025-11-05T01:00:05+01:00",
        "2025-11-05T01:00:05-05:00",
        "2025-11-05T01:00:05+00",
        "2025-11-05T01:00:05+00:00Z",
        "2025-11-05T01:00:05Z+00:00",
        "2025-11-05T01:00:05junk",
        "2025-11-05T01:00:05.12x",
        "2025-02-30",
        "2025-02-29",
        "1900-02-29",
        "2025-04-31",
        "2025-13-01",
        "2025-00-10",
        "2025-11-00",
        "2025-11-32",
        "2025-11-05T24:00:00",
        "2025-11-05T23:60:00",
        "2025-11-05T23:59:60",
        "1969-12-31",
        "1969-12-31T23:59:59Z",
        "0000-01-01",
        "10000-01-01",
        "-2025-11-05",
        "+2025-11-05",
        "2025-11-05T01:00:05\n",
        "now",
        "yesterday",
    };

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(bad); i++) {
        struct jr_err err = JR_ERR_INIT;
        jr_usec got = -42;
        char *want;

        if (window_parse_as_of(bad[i], &got, &err) != -1)
            fail_msg("'%s' accepted as %lld", bad[i], (long long)got);
        assert_true(got == -42); /* untouched */
        assert_int_equal(err.code, JR_E_USAGE);
        want = xasprintf("invalid --as-of '%s': expected a UTC time like 2025-11-05T01:00:05Z or "
                         "a date like 2025-11-05",
                         bad[i]);
        assert_string_equal(err.msg, want);
        free(want);
    }
}

/* ---- window_compute ---- */

struct wcase {
    const char *zone;
    jr_usec as_of;
    unsigned days;
    jr_usec start;
    jr_usec end;
};

static void
check_windows(const struct wcase *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct window w;
        struct jr_err err = JR_ERR_INIT;
        char a[27];
        char b[27];
        char ws[27];
        char we[27];

        memset(&w, 0x5a, sizeof(w));
        if (window_compute(cases[i].as_of, cases[i].zone, cases[i].days, false, &w, &err) != 0)
            fail_msg("case %zu (%s): %s", i, cases[i].zone, err.msg);
        if (w.start != cases[i].start || w.end != cases[i].end || w.days != cases[i].days) {
            window_format_sql(w.start, a);
            window_format_sql(w.end, b);
            window_format_sql(cases[i].start, ws);
            window_format_sql(cases[i].end, we);
            fail_msg("case %zu (%s, %u days): got [%s, %s), want [%s, %s)", i, cases[i].zone,
                     cases[i].days, a, b, ws, we);
        }
        /* --until now: same start, ends at as_of exactly */
        memset(&w, 0x5a, sizeof(w));
        assert_int_equal(
            window_compute(cases[i].as_of, cases[i].zone, cases[i].days, true, &w, &err), 0);
        if (w.start != cases[i].start || w.end != cases[i].as_of) {
            window_format_sql(w.start, a);
            window_format_sql(cases[i].start, ws);
            fail_msg("case %zu (%s, %u days, --until now): start %s, want %s", i, cases[i].zone,
                     cases[i].days, a, ws);
        }
        assert_int_equal(w.days, cases[i].days);
    }
}

/* UTC: D is the UTC date; windows of 1, 3, 5, 7 days end at 00:00 of D. */
static void
test_compute_utc(void **state)
{
    const jr_usec as_of = utc(2025, 11, 5, 1, 0, 5) + 250000;
    const jr_usec d0 = utc(2025, 11, 5, 0, 0, 0);
    const struct wcase cases[] = {
        {"UTC", as_of, 1, utc(2025, 11, 4, 0, 0, 0), d0},
        {"UTC", as_of, 3, utc(2025, 11, 2, 0, 0, 0), d0},
        {"UTC", as_of, 5, utc(2025, 10, 31, 0, 0, 0), d0},
        {"UTC", as_of, 7, utc(2025, 10, 29, 0, 0, 0), d0},
    };

    (void)state;
    check_windows(cases, JR_ARRAY_LEN(cases));
}

static void
test_compute_utc_edges(void **state)
{
    const struct wcase cases[] = {
        /* as_of exactly at midnight belongs to the new day */
        {"UTC", utc(2025, 11, 5, 0, 0, 0), 1, utc(2025, 11, 4, 0, 0, 0), utc(2025, 11, 5, 0, 0, 0)},
        /* one microsecond earlier it is still the previous day */
        {"UTC", utc(2025, 11, 5, 0, 0, 0) - 1, 1, utc(2025, 11, 3, 0, 0, 0),
         utc(2025, 11, 4, 0, 0, 0)},
        /* across the year and a leap day */
        {"UTC", utc(2025, 1, 2, 10, 0, 0), 7, utc(2024, 12, 26, 0, 0, 0), utc(2025, 1, 2, 0, 0, 0)},
        {"UTC", utc(2024, 3, 1, 9, 0, 0), 1, utc(2024, 2, 29, 0, 0, 0), utc(2024, 3, 1, 0, 0, 0)},
        {"UTC", utc(2024, 3, 1, 9, 0, 0), 3, utc(2024, 2, 27, 0, 0, 0), utc(2024, 3, 1, 0, 0, 0)},
        {"UTC", utc(2025, 3, 1, 9, 0, 0), 1, utc(2025, 2, 28, 0, 0, 0), utc(2025, 3, 1, 0, 0, 0)},
        /* before the epoch: the day of -1 us is 1969-12-31 */
        {"UTC", -1, 1, utc(1969, 12, 30, 0, 0, 0), utc(1969, 12, 31, 0, 0, 0)},
        {"UTC", 0, 1, utc(1969, 12, 31, 0, 0, 0), 0},
        /* the other spellings of UTC */
        {"Etc/UTC", utc(2025, 11, 5, 1, 0, 5), 1, utc(2025, 11, 4, 0, 0, 0),
         utc(2025, 11, 5, 0, 0, 0)},
        {"GMT", utc(2025, 11, 5, 1, 0, 5), 3, utc(2025, 11, 2, 0, 0, 0), utc(2025, 11, 5, 0, 0, 0)},
        {"Etc/GMT", utc(2025, 11, 5, 1, 0, 5), 1, utc(2025, 11, 4, 0, 0, 0),
         utc(2025, 11, 5, 0, 0, 0)},
    };

    (void)state;
    check_windows(cases, JR_ARRAY_LEN(cases));
}

/* New York, spring forward on Sunday 2025-03-09 02:00 EST -> 03:00 EDT. as_of Monday 08:00 EDT:
 * D starts at 04:00Z (EDT) while D-1 and earlier start at 05:00Z (EST). */
static void
test_compute_new_york_spring(void **state)
{
    const jr_usec as_of = utc(2025, 3, 10, 12, 0, 0);
    const jr_usec d0 = utc(2025, 3, 10, 4, 0, 0);
    const struct wcase cases[] = {
        {"America/New_York", as_of, 1, utc(2025, 3, 9, 5, 0, 0), d0}, /* a 23-hour day */
        {"America/New_York", as_of, 3, utc(2025, 3, 7, 5, 0, 0), d0},
        {"America/New_York", as_of, 5, utc(2025, 3, 5, 5, 0, 0), d0},
        {"America/New_York", as_of, 7, utc(2025, 3, 3, 5, 0, 0), d0},
    };

    (void)state;
    check_windows(cases, JR_ARRAY_LEN(cases));
    assert_true(cases[0].end - cases[0].start == INT64_C(23) * 3600 * USEC);
}

/* New York, fall back on Sunday 2025-11-02 02:00 EDT -> 01:00 EST. as_of Monday 07:00 EST. */
static void
test_compute_new_york_fall(void **state)
{
    const jr_usec as_of = utc(2025, 11, 3, 12, 0, 0);
    const jr_usec d0 = utc(2025, 11, 3, 5, 0, 0);
    const struct wcase cases[] = {
        {"America/New_York", as_of, 1, utc(2025, 11, 2, 4, 0, 0), d0}, /* a 25-hour day */
        {"America/New_York", as_of, 3, utc(2025, 10, 31, 4, 0, 0), d0},
        {"America/New_York", as_of, 5, utc(2025, 10, 29, 4, 0, 0), d0},
        {"America/New_York", as_of, 7, utc(2025, 10, 27, 4, 0, 0), d0},
    };

    (void)state;
    check_windows(cases, JR_ARRAY_LEN(cases));
    assert_true(cases[0].end - cases[0].start == INT64_C(25) * 3600 * USEC);
}

/* The nightly run at 01:00:05Z is still the previous evening in New York: D is the day before
 * the UTC date. */
static void
test_compute_new_york_date_behind_utc(void **state)
{
    const jr_usec as_of = utc(2025, 11, 5, 1, 0, 5); /* 2025-11-04 20:00:05 EST */
    const jr_usec d0 = utc(2025, 11, 4, 5, 0, 0);
    const struct wcase cases[] = {
        {"America/New_York", as_of, 1, utc(2025, 11, 3, 5, 0, 0), d0},
        {"America/New_York", as_of, 3, utc(2025, 11, 1, 4, 0, 0), d0}, /* Nov 1 was EDT */
        {"America/New_York", as_of, 7, utc(2025, 10, 28, 4, 0, 0), d0},
        /* one microsecond before local midnight and exactly at it */
        {"America/New_York", utc(2025, 11, 4, 5, 0, 0) - 1, 1, utc(2025, 11, 2, 4, 0, 0),
         utc(2025, 11, 3, 5, 0, 0)},
        {"America/New_York", utc(2025, 11, 4, 5, 0, 0), 1, utc(2025, 11, 3, 5, 0, 0),
         utc(2025, 11, 4, 5, 0, 0)},
    };

    (void)state;
    check_windows(cases, JR_ARRAY_LEN(cases));
}

/* Ahead of UTC: at 16:00Z on Nov 5 it is already Nov 6 in Tokyo (+9) and Auckland (+13, NZDT). */
static void
test_compute_ahead_of_utc(void **state)
{
    const struct wcase cases[] = {
        {"Asia/Tokyo", utc(2025, 11, 5, 16, 0, 0), 1, utc(2025, 11, 4, 15, 0, 0),
         utc(2025, 11, 5, 15, 0, 0)},
        {"Asia/Tokyo", utc(2025, 11, 5, 16, 0, 0), 7, utc(2025, 10, 29, 15, 0, 0),
         utc(2025, 11, 5, 15, 0, 0)},
        /* 14:59:59Z is still Nov 5 in Tokyo */
        {"Asia/Tokyo", utc(2025, 11, 5, 14, 59, 59), 1, utc(2025, 11, 3, 15, 0, 0),
         utc(2025, 11, 4, 15, 0, 0)},
        {"Pacific/Auckland", utc(2025, 11, 5, 12, 0, 0), 1, utc(2025, 11, 4, 11, 0, 0),
         utc(2025, 11, 5, 11, 0, 0)},
        {"Pacific/Auckland", utc(2025, 11, 5, 16, 0, 0), 3, utc(2025, 11, 2, 11, 0, 0),
         utc(2025, 11, 5, 11, 0, 0)},
        /* Auckland ends daylight time on 2025-04-06 03:00 NZDT -> 02:00 NZST */
        {"Pacific/Auckland", utc(2025, 4, 7, 0, 0, 0), 1, utc(2025, 4, 5, 11, 0, 0),
         utc(2025, 4, 6, 12, 0, 0)},
        {"Pacific/Auckland", utc(2025, 4, 7, 0, 0, 0), 3, utc(2025, 4, 3, 11, 0, 0),
         utc(2025, 4, 6, 12, 0, 0)},
    };

    (void)state;
    check_windows(cases, JR_ARRAY_LEN(cases));
}

/* Days that do not start at 00:00: Santiago (2025-09-07) and Havana (2025-03-09) jump from 00:00
 * to 01:00, so those days start at the jump. Havana's 2025-11-02 has two 00:00s (01:00 CDT ->
 * 00:00 CST); the day starts at the first. */
static void
test_compute_midnight_transitions(void **state)
{
    const struct wcase cases[] = {
        {"America/Santiago", utc(2025, 9, 8, 12, 0, 0), 1, utc(2025, 9, 7, 4, 0, 0),
         utc(2025, 9, 8, 3, 0, 0)},
        {"America/Santiago", utc(2025, 9, 7, 12, 0, 0), 1, utc(2025, 9, 6, 4, 0, 0),
         utc(2025, 9, 7, 4, 0, 0)},
        {"America/Havana", utc(2025, 3, 9, 12, 0, 0), 1, utc(2025, 3, 8, 5, 0, 0),
         utc(2025, 3, 9, 5, 0, 0)},
        {"America/Havana", utc(2025, 3, 10, 12, 0, 0), 1, utc(2025, 3, 9, 5, 0, 0),
         utc(2025, 3, 10, 4, 0, 0)},
        {"America/Havana", utc(2025, 11, 2, 12, 0, 0), 1, utc(2025, 11, 1, 4, 0, 0),
         utc(2025, 11, 2, 4, 0, 0)},
        {"America/Havana", utc(2025, 11, 3, 12, 0, 0), 1, utc(2025, 11, 2, 4, 0, 0),
         utc(2025, 11, 3, 5, 0, 0)},
    };

    (void)state;
    check_windows(cases, JR_ARRAY_LEN(cases));
}

/*
 * A window depends on (as_of, zone, days) only, never on what was computed before it. Each
 * target is computed after "primers" that leave the zone's previous computation on either side
 * of the transition (libc's mktime remembers the last offset it used as its next guess).
 */
static void
test_compute_independent_of_history(void **state)
{
    const struct {
        struct wcase target;
        jr_usec primers[2]; /* as_of values of 1-day windows computed just before */
    } cases[] = {
        /* Havana: 2025-11-02 00:00 happens at 04:00Z (CDT) and again at 05:00Z (CST) */
        {{"America/Havana", utc(2025, 11, 3, 12, 0, 0), 1, utc(2025, 11, 2, 4, 0, 0),
          utc(2025, 11, 3, 5, 0, 0)},
         {utc(2025, 11, 2, 12, 0, 0), utc(2025, 11, 3, 12, 0, 0)}},
        {{"America/Havana", utc(2025, 11, 4, 12, 0, 0), 2, utc(2025, 11, 2, 4, 0, 0),
          utc(2025, 11, 4, 5, 0, 0)},
         {utc(2025, 7, 1, 12, 0, 0), utc(2025, 12, 1, 12, 0, 0)}},
        /* Santiago: 2025-09-07 has no 00:00; it starts at 01:00 -03 = 04:00Z */
        {{"America/Santiago", utc(2025, 9, 8, 12, 0, 0), 1, utc(2025, 9, 7, 4, 0, 0),
          utc(2025, 9, 8, 3, 0, 0)},
         {utc(2025, 8, 1, 12, 0, 0), utc(2025, 10, 1, 12, 0, 0)}},
        /* Havana: 2025-03-09 has no 00:00; it starts at 01:00 CDT = 05:00Z */
        {{"America/Havana", utc(2025, 3, 10, 12, 0, 0), 1, utc(2025, 3, 9, 5, 0, 0),
          utc(2025, 3, 10, 4, 0, 0)},
         {utc(2025, 2, 1, 12, 0, 0), utc(2025, 4, 1, 12, 0, 0)}},
    };

    unsigned failures = 0;

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(cases); i++) {
        for (size_t p = 0; p < 2; p++) {
            for (int until = 0; until < 2; until++) {
                struct window w;
                struct jr_err err = JR_ERR_INIT;
                char got[27];
                char want[27];

                assert_int_equal(
                    window_compute(cases[i].primers[p], cases[i].target.zone, 1, false, &w, &err),
                    0);
                assert_int_equal(window_compute(cases[i].target.as_of, cases[i].target.zone,
                                                cases[i].target.days, until != 0, &w, &err),
                                 0);
                if (w.start != cases[i].target.start) {
                    window_format_sql(w.start, got);
                    window_format_sql(cases[i].target.start, want);
                    print_error("case %zu (%s), primer %zu, until %s: start %s, want %s\n", i,
                                cases[i].target.zone, p, until ? "now" : "midnight", got, want);
                    failures++;
                }
                if (!until && w.end != cases[i].target.end) {
                    window_format_sql(w.end, got);
                    window_format_sql(cases[i].target.end, want);
                    fail_msg("case %zu (%s), primer %zu: end %s, want %s", i, cases[i].target.zone,
                             p, got, want);
                }
            }
        }
    }
    assert_int_equal(failures, 0);
}

/* The four windows of a run are nested and share their end. */
static void
test_compute_nested(void **state)
{
    static const char *const zones[] = {"UTC", "America/New_York", "Asia/Tokyo",
                                        "Pacific/Auckland"};
    static const unsigned days[] = {1, 3, 5, 7};
    const jr_usec as_of = utc(2025, 11, 3, 1, 0, 5);

    (void)state;
    for (size_t z = 0; z < JR_ARRAY_LEN(zones); z++) {
        struct window prev;
        struct jr_err err = JR_ERR_INIT;

        for (size_t i = 0; i < JR_ARRAY_LEN(days); i++) {
            struct window w;

            assert_int_equal(window_compute(as_of, zones[z], days[i], false, &w, &err), 0);
            assert_true(w.start < w.end);
            assert_true(w.end <= as_of);
            if (i) {
                assert_true(w.end == prev.end);
                assert_true(w.start < prev.start);
            }
            prev = w;
        }
    }
}

static void
test_unknown_zones(void **state)
{
    static const char *const bad[] = {
        "",
        "Mars/Olympus_Mons",
        "America/New_Yrok",
        "america/new_york",
        "America/New_York ",
        "America",
        "America/",
        "../../../../etc/passwd",
        "/usr/share/zoneinfo/UTC",
        "./UTC",
        "Asia/../Asia/Tokyo",
        "EST5EDT,M3.2.0,M11.1.0",
        ":America/New_York",
        "zone.tab",
        "iso3166.tab",
        "+05:00",
        "UTC+1",
        "utc",
    };

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(bad); i++) {
        struct window w;
        struct jr_err err = JR_ERR_INIT;
        char *want;

        if (window_zone_valid(bad[i]))
            fail_msg("'%s' taken as a zone", bad[i]);
        assert_int_equal(window_compute(utc(2025, 11, 5, 1, 0, 5), bad[i], 1, false, &w, &err), -1);
        assert_int_equal(err.code, JR_E_USAGE);
        want = xasprintf("unknown time zone '%s' (--tz)", bad[i]);
        assert_string_equal(err.msg, want);
        free(want);
    }
}

static void
test_known_zones(void **state)
{
    static const char *const good[] = {
        "UTC",
        "Etc/UTC",
        "GMT",
        "Etc/GMT",
        "Zulu",
        "Asia/Tokyo",
        "America/New_York",
        "Pacific/Auckland",
        "EST5EDT",
        "Etc/GMT+5",
    };

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(good); i++)
        if (!window_zone_valid(good[i]))
            fail_msg("'%s' rejected", good[i]);
}

/* The process's TZ changes no result, and is still what it was after every call. */
static void
test_process_tz_ignored(void **state)
{
    static const char *const tzs[] = {"America/Los_Angeles", ":Asia/Kolkata", "EST5EDT",
                                      "NOT/A_ZONE", "<+14>-14"};
    const struct wcase cases[] = {
        {"UTC", utc(2025, 11, 5, 1, 0, 5), 1, utc(2025, 11, 4, 0, 0, 0), utc(2025, 11, 5, 0, 0, 0)},
        {"America/New_York", utc(2025, 3, 10, 12, 0, 0), 1, utc(2025, 3, 9, 5, 0, 0),
         utc(2025, 3, 10, 4, 0, 0)},
        {"America/New_York", utc(2025, 11, 5, 1, 0, 5), 1, utc(2025, 11, 3, 5, 0, 0),
         utc(2025, 11, 4, 5, 0, 0)},
        {"Asia/Tokyo", utc(2025, 11, 5, 16, 0, 0), 1, utc(2025, 11, 4, 15, 0, 0),
         utc(2025, 11, 5, 15, 0, 0)},
        {"Pacific/Auckland", utc(2025, 4, 7, 0, 0, 0), 3, utc(2025, 4, 3, 11, 0, 0),
         utc(2025, 4, 6, 12, 0, 0)},
    };
    char *saved = getenv("TZ") ? xstrdup(getenv("TZ")) : NULL;

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(tzs); i++) {
        struct jr_err err = JR_ERR_INIT;
        jr_usec t;

        setenv("TZ", tzs[i], 1);
        tzset();
        check_windows(cases, JR_ARRAY_LEN(cases));
        assert_int_equal(window_parse_as_of("2025-11-05 01:00:05", &t, &err), 0);
        assert_true(t == utc(2025, 11, 5, 1, 0, 5));
        assert_non_null(getenv("TZ"));
        assert_string_equal(getenv("TZ"), tzs[i]);
    }

    /* and the process's own local time still follows its TZ afterwards */
    setenv("TZ", "America/Los_Angeles", 1);
    tzset();
    {
        struct window w;
        struct jr_err err = JR_ERR_INIT;
        time_t t = (time_t)1762304405; /* 2025-11-05 01:00:05Z = Nov 4 17:00:05 PST */
        struct tm tm;

        assert_int_equal(
            window_compute(utc(2025, 11, 5, 16, 0, 0), "Asia/Tokyo", 1, false, &w, &err), 0);
        localtime_r(&t, &tm);
        assert_int_equal(tm.tm_hour, 17);
        assert_int_equal(tm.tm_mday, 4);
        assert_int_equal(tm.tm_gmtoff, -8 * 3600);
    }

    /* TZ unset stays unset */
    unsetenv("TZ");
    tzset();
    check_windows(cases, JR_ARRAY_LEN(cases));
    assert_null(getenv("TZ"));

    if (saved) {
        setenv("TZ", saved, 1);
        free(saved);
    }
    tzset();
}

/* ---- formatting ---- */

static void
test_format_sql(void **state)
{
    const struct {
        jr_usec t;
        const char *want;
    } cases[] = {
        {0, "1970-01-01 00:00:00.000000"},
        {utc(2025, 11, 5, 1, 0, 5), "2025-11-05 01:00:05.000000"},
        {utc(2025, 11, 5, 1, 0, 5) + 123456, "2025-11-05 01:00:05.123456"},
        {utc(2025, 11, 5, 1, 0, 5) + 1, "2025-11-05 01:00:05.000001"},
        {utc(2024, 2, 29, 23, 59, 59) + 999999, "2024-02-29 23:59:59.999999"},
        {-1, "1969-12-31 23:59:59.999999"},
        {-USEC, "1969-12-31 23:59:59.000000"},
        {utc(9999, 12, 31, 23, 59, 59) + 999999, "9999-12-31 23:59:59.999999"},
    };

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(cases); i++) {
        char out[40];

        memset(out, '#', sizeof(out));
        window_format_sql(cases[i].t, out);
        assert_string_equal(out, cases[i].want);
        for (size_t k = 27; k < sizeof(out); k++)
            assert_int_equal(out[k], '#'); /* stays inside its 27 bytes */
    }
}

static void
test_format_iso(void **state)
{
    const struct {
        jr_usec t;
        const char *want;
    } cases[] = {
        {0, "1970-01-01T00:00:00Z"},
        {utc(2025, 11, 5, 1, 0, 5), "2025-11-05T01:00:05Z"},
        {utc(2025, 11, 5, 1, 0, 5) + 500000, "2025-11-05T01:00:05.500000Z"},
        {utc(2025, 11, 5, 1, 0, 5) + 1, "2025-11-05T01:00:05.000001Z"},
        {-1, "1969-12-31T23:59:59.999999Z"},
        {utc(9999, 12, 31, 23, 59, 59) + 999999, "9999-12-31T23:59:59.999999Z"},
    };

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(cases); i++) {
        char out[48];

        memset(out, '#', sizeof(out));
        window_format_iso(cases[i].t, out);
        assert_string_equal(out, cases[i].want);
        for (size_t k = 32; k < sizeof(out); k++)
            assert_int_equal(out[k], '#');
    }
}

/* Parse and format agree: every accepted form prints back in the canonical forms. */
static void
test_parse_format_round_trip(void **state)
{
    struct jr_err err = JR_ERR_INIT;
    jr_usec t;
    char sql[27];
    char iso[32];

    (void)state;
    assert_int_equal(window_parse_as_of("2025-11-05 01:00:05.25+00:00", &t, &err), 0);
    window_format_sql(t, sql);
    window_format_iso(t, iso);
    assert_string_equal(sql, "2025-11-05 01:00:05.250000");
    assert_string_equal(iso, "2025-11-05T01:00:05.250000Z");
}

static void
test_now(void **state)
{
    struct timespec a;
    struct timespec b;
    jr_usec now;

    (void)state;
    clock_gettime(CLOCK_REALTIME, &a);
    now = window_now();
    clock_gettime(CLOCK_REALTIME, &b);
    assert_true(now >= (jr_usec)a.tv_sec * USEC + a.tv_nsec / 1000);
    assert_true(now <= (jr_usec)b.tv_sec * USEC + b.tv_nsec / 1000);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_civil_helper),
        cmocka_unit_test(test_parse_accepted),
        cmocka_unit_test(test_parse_rejected),
        cmocka_unit_test(test_compute_utc),
        cmocka_unit_test(test_compute_utc_edges),
        cmocka_unit_test(test_compute_new_york_spring),
        cmocka_unit_test(test_compute_new_york_fall),
        cmocka_unit_test(test_compute_new_york_date_behind_utc),
        cmocka_unit_test(test_compute_ahead_of_utc),
        cmocka_unit_test(test_compute_midnight_transitions),
        cmocka_unit_test(test_compute_independent_of_history),
        cmocka_unit_test(test_compute_nested),
        cmocka_unit_test(test_unknown_zones),
        cmocka_unit_test(test_known_zones),
        cmocka_unit_test(test_process_tz_ignored),
        cmocka_unit_test(test_format_sql),
        cmocka_unit_test(test_format_iso),
        cmocka_unit_test(test_parse_format_round_trip),
        cmocka_unit_test(test_now),
    };

    return cmocka_run_group_tests_name("window", tests, NULL, NULL);
}
