/*
 * Leveled logging to stderr. The level is the one global of src/ (STYLE §5.7). Each record is
 * formatted into a local buffer and written with a single fwrite, so records from upload threads
 * never interleave mid-line.
 */
#include "log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "utf8.h"

#include "banned.h"

static enum log_level log_threshold = LOG_LEVEL_WARN;
static enum log_format log_fmt = LOG_FORMAT_TEXT;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void
log_setup(enum log_level level, enum log_format format)
{
    log_threshold = level;
    log_fmt = format;
}

bool
log_enabled(enum log_level level)
{
    return level <= log_threshold;
}

int
log_level_parse(const char *s, enum log_level *out)
{
    for (size_t i = 0; i < JR_ARRAY_LEN(level_names); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    if (strcmp(s, "warn") == 0) {
        *out = LOG_LEVEL_WARN;
        return 0;
    }
    return -1;
}

int
log_format_parse(const char *s, enum log_format *out)
{
    if (strcmp(s, "text") == 0)
        *out = LOG_FORMAT_TEXT;
    else if (strcmp(s, "json") == 0)
        *out = LOG_FORMAT_JSON;
    else
        return -1;
    return 0;
}

/* Append s as the body of a JSON string (without quotes). Bytes that are not valid UTF-8 (a
 * local file name, say) become U+FFFD so that every record stays valid JSON. */
static void
json_escape(struct buf *b, const char *s)
{
    const unsigned char *end = (const unsigned char *)s + strlen(s);

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x80) {
            uint32_t cp;
            size_t k = utf8_decode(p, (size_t)(end - p), &cp);

            if (k == 0 || k == UTF8_INCOMPLETE) {
                buf_addstr(b, "\\ufffd");
            } else {
                buf_add(b, p, k);
                p += k - 1;
            }
            continue;
        }
        switch (*p) {
        case '"':
            buf_addstr(b, "\\\"");
            break;
        case '\\':
            buf_addstr(b, "\\\\");
            break;
        case '\n':
            buf_addstr(b, "\\n");
            break;
        case '\r':
            buf_addstr(b, "\\r");
            break;
        case '\t':
            buf_addstr(b, "\\t");
            break;
        default:
            if (*p < 0x20)
                buf_printf(b, "\\u%04x", *p);
            else
                buf_addch(b, (char)*p);
        }
    }
}

JR_PRINTF(2, 0) static void log_write(enum log_level level, const char *fmt, va_list ap)
{
    struct buf msg = BUF_INIT;
    struct buf line = BUF_INIT;

    if (!log_enabled(level))
        return;
    buf_vprintf(&msg, fmt, ap);
    if (log_fmt == LOG_FORMAT_JSON) {
        struct timespec ts;
        struct tm tm;
        char stamp[32];

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        buf_printf(&line, "{\"time\":\"%s.%03dZ\",\"level\":\"%s\",\"pid\":%d,\"msg\":\"", stamp,
                   (int)(ts.tv_nsec / 1000000), level_names[level], (int)getpid());
        json_escape(&line, buf_cstr(&msg));
        buf_addstr(&line, "\"}\n");
    } else {
        /* A message is one line: embedded newlines would break log parsers. */
        for (size_t i = 0; i < msg.len; i++) {
            if (msg.data[i] == '\n' || msg.data[i] == '\r' || msg.data[i] == '\t')
                msg.data[i] = ' ';
            else if ((unsigned char)msg.data[i] < 0x20 || msg.data[i] == 0x7f)
                msg.data[i] = '?'; /* no terminal escapes from data into a log */
        }
        buf_printf(&line, "jobreport: %s: %s\n", level_names[level], buf_cstr(&msg));
    }
    fwrite(line.data, 1, line.len, stderr);
    fflush(stderr);
    buf_release(&msg);
    buf_release(&line);
}

#define LOG_FN(name, level)                                                                        \
    void name(const char *fmt, ...)                                                                \
    {                                                                                              \
        va_list ap;                                                                                \
        va_start(ap, fmt);                                                                         \
        log_write(level, fmt, ap);                                                                 \
        va_end(ap);                                                                                \
    }

LOG_FN(log_error, LOG_LEVEL_ERROR)
LOG_FN(log_warn, LOG_LEVEL_WARN)
LOG_FN(log_info, LOG_LEVEL_INFO)
LOG_FN(log_debug, LOG_LEVEL_DEBUG)
