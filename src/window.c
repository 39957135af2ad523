/*
 * Window arithmetic. UTC needs no tz database (timegm). Other zones are applied by pointing TZ at
 * the zone's tz database file for the duration of one localtime_r/mktime pair and restoring it
 * afterwards; this runs once per run, before any thread starts.
 */
#include "window.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "xalloc.h"

#include "banned.h"

#define USEC 1000000LL

static int
digits(const char *s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static bool
is_utc(const char *zone)
{
    return strcmp(zone, "UTC") == 0 || strcmp(zone, "Etc/UTC") == 0 || strcmp(zone, "Z") == 0 ||
           strcmp(zone, "GMT") == 0 || strcmp(zone, "Etc/GMT") == 0 || strcmp(zone, "Zulu") == 0;
}

int
window_parse_as_of(const char *s, jr_usec *out, struct jr_err *err)
{
    struct tm tm;
    int y, mo, d, h = 0, mi = 0, sec = 0;
    long frac = 0;
    const char *p = s;
    time_t t;

    memset(&tm, 0, sizeof(tm));
    if (strlen(s) < 10 || digits(p, 4, &y) < 0 || p[4] != '-' || digits(p + 5, 2, &mo) < 0 ||
        p[7] != '-' || digits(p + 8, 2, &d) < 0)
        goto bad;
    p += 10;
    if (*p == 'T' || *p == ' ') {
        if (digits(p + 1, 2, &h) < 0 || p[3] != ':' || digits(p + 4, 2, &mi) < 0 || p[6] != ':' ||
            digits(p + 7, 2, &sec) < 0)
            goto bad;
        p += 9;
        if (*p == '.') {
            int n = 0;

            p++;
            while (*p >= '0' && *p <= '9') {
                if (n < 6)
                    frac = frac * 10 + (*p - '0'), n++;
                p++;
            }
            if (n == 0)
                goto bad;
            while (n++ < 6)
                frac *= 10;
        }
        if (*p == 'Z')
            p++;
        else if (strcmp(p, "+00:00") == 0 || strcmp(p, "+0000") == 0)
            p += strlen(p);
    }
    if (*p)
        goto bad;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59 || y < 1970)
        goto bad;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    if (tm.tm_mday != d || tm.tm_mon != mo - 1) /* 2025-02-30 */
        goto bad;
    *out = (jr_usec)t * USEC + frac;
    return 0;
bad:
    return jr_err_set(err, JR_E_USAGE,
                      "invalid --as-of '%s': expected a UTC time like 2025-11-05T01:00:05Z or a "
                      "date like 2025-11-05",
                      s);
}

/* Zones come from the system tz database only: no environment variable redirects them. */
static char *
zone_file(const char *zone)
{
    return xasprintf("/usr/share/zoneinfo/%s", zone);
}

bool
window_zone_valid(const char *zone)
{
    char magic[4];
    char *path;
    FILE *f;
    bool ok;

    if (is_utc(zone))
        return true;
    if (!*zone || zone[0] == '/' || zone[0] == '.' || strstr(zone, "..") || strchr(zone, ':'))
        return false;
    path = zone_file(zone);
    f = fopen(path, "rb");
    free(path);
    if (!f)
        return false;
    ok = fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
    fclose(f);
    return ok;
}

/* Is the local calendar date of t (in the current TZ) before y-m-d? */
static bool
date_before(time_t t, const struct tm *day)
{
    struct tm tm;

    localtime_r(&t, &tm);
    if (tm.tm_year != day->tm_year)
        return tm.tm_year < day->tm_year;
    if (tm.tm_mon != day->tm_mon)
        return tm.tm_mon < day->tm_mon;
    return tm.tm_mday < day->tm_mday;
}

/*
 * The first instant of the calendar day `back` days before the day of t, in zone. This is found
 * by bisection on "the local date is still before that day" rather than by mktime, because
 * mktime's answer for an ambiguous local midnight (clocks set back across it) depends on its
 * previous call, and a skipped midnight has no answer at all; the first instant is right in both
 * cases (the first of two midnights; the moment of the jump).
 */
static time_t
zone_day_start(time_t t, const char *zone, unsigned back)
{
    struct tm day;
    char *old = NULL;
    char *tz;
    const char *cur;
    time_t lo;
    time_t hi;

    if (is_utc(zone)) {
        gmtime_r(&t, &day);
        day.tm_mday -= (int)back;
        day.tm_hour = day.tm_min = day.tm_sec = 0;
        return timegm(&day);
    }
    cur = getenv("TZ");
    if (cur)
        old = xstrdup(cur);
    tz = zone_file(zone);
    setenv("TZ", tz, 1);
    free(tz);
    tzset();
    localtime_r(&t, &day);
    /* Normalise the target date (day - back may cross months and years). */
    {
        struct tm norm = day;

        norm.tm_mday -= (int)back;
        norm.tm_hour = 12;
        norm.tm_min = norm.tm_sec = 0;
        timegm(&norm);
        day.tm_year = norm.tm_year;
        day.tm_mon = norm.tm_mon;
        day.tm_mday = norm.tm_mday;
    }
    /* Offsets stay within +-26 hours, so the day starts within this bracket. */
    hi = t - (time_t)back * 86400 + 2 * 86400;
    lo = t - (time_t)back * 86400 - 3 * 86400;
    while (hi - lo > 1) {
        time_t mid = lo + (hi - lo) / 2;

        if (date_before(mid, &day))
            lo = mid;
        else
            hi = mid;
    }
    if (old) {
        setenv("TZ", old, 1);
        free(old);
    } else {
        unsetenv("TZ");
    }
    tzset();
    return hi;
}

int
window_compute(jr_usec as_of, const char *zone, unsigned days, bool until_now, struct window *out,
               struct jr_err *err)
{
    time_t t = (time_t)(as_of >= 0 ? as_of / USEC : (as_of - USEC + 1) / USEC);

    if (!window_zone_valid(zone))
        return jr_err_set(err, JR_E_USAGE, "unknown time zone '%s' (--tz)", zone);
    out->days = days;
    out->start = (jr_usec)zone_day_start(t, zone, days) * USEC;
    out->end = until_now ? as_of : (jr_usec)zone_day_start(t, zone, 0) * USEC;
    return 0;
}

static void
split(jr_usec t, struct tm *tm, long *frac)
{
    time_t s = (time_t)(t >= 0 ? t / USEC : (t - USEC + 1) / USEC);

    *frac = (long)(t - (jr_usec)s * USEC);
    gmtime_r(&s, tm);
}

void
window_format_sql(jr_usec t, char out[27])
{
    struct tm tm;
    long frac;

    split(t, &tm, &frac);
    strftime(out, 27, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(out + 19, 8, ".%06u", (unsigned)frac % 1000000u);
}

void
window_format_iso(jr_usec t, char out[32])
{
    struct tm tm;
    long frac;

    split(t, &tm, &frac);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    if (frac)
        snprintf(out + 19, 9, ".%06uZ", (unsigned)frac % 1000000u);
    else
        snprintf(out + 19, 2, "Z");
}

jr_usec
window_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (jr_usec)ts.tv_sec * USEC + ts.tv_nsec / 1000;
}
