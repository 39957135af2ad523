/*
 * Tests of log: the default threshold (warnings and errors, text), level filtering, the text
 * format (one line, newlines replaced), the JSON-lines format (valid JSON, quotes, backslashes,
 * control characters and newlines escaped, UTF-8 kept, time and pid fields), and the level and
 * format parsers. stderr is captured by pointing fd 2 at a temporary file around each call.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "buf.h"
#include "log.h"
#include "xalloc.h"

#include "banned.h"

struct capture {
    int saved;
    int fd;
};

static void
capture_start(struct capture *c)
{
    const char *dir = getenv("TMPDIR");
    char *path = xasprintf("%s/jr-test-log-XXXXXX", dir && *dir ? dir : "/tmp");

    fflush(stderr);
    c->fd = mkstemp(path);
    if (c->fd < 0)
        fail_msg("mkstemp: %s", strerror(errno));
    unlink(path);
    free(path);
    c->saved = dup(2);
    assert_true(c->saved >= 0);
    assert_int_equal(dup2(c->fd, 2), 2);
}

/* Restore stderr and return what was written to it (caller frees). */
static char *
capture_end(struct capture *c)
{
    struct buf b = BUF_INIT;
    char chunk[4096];
    ssize_t n;

    fflush(stderr);
    assert_int_equal(dup2(c->saved, 2), 2);
    close(c->saved);
    assert_int_equal(lseek(c->fd, 0, SEEK_SET), 0);
    while ((n = read(c->fd, chunk, sizeof(chunk))) > 0)
        buf_add(&b, chunk, (size_t)n);
    close(c->fd);
    return buf_detach(&b, NULL);
}

/* Log msg at level (through "%s", so the bytes are exactly msg) and return what stderr got. */
static char *
emit(enum log_level level, const char *msg)
{
    struct capture c;

    capture_start(&c);
    switch (level) {
    case LOG_LEVEL_ERROR:
        log_error("%s", msg);
        break;
    case LOG_LEVEL_WARN:
        log_warn("%s", msg);
        break;
    case LOG_LEVEL_INFO:
        log_info("%s", msg);
        break;
    case LOG_LEVEL_DEBUG:
        log_debug("%s", msg);
        break;
    }
    return capture_end(&c);
}

static void
expect_line(enum log_level level, const char *msg, const char *want)
{
    char *got = emit(level, msg);

    assert_string_equal(got, want);
    free(got);
}

/* Must run first: nothing has called log_setup yet. */
static void
test_defaults(void **state)
{
    (void)state;
    assert_true(log_enabled(LOG_LEVEL_ERROR));
    assert_true(log_enabled(LOG_LEVEL_WARN));
    assert_false(log_enabled(LOG_LEVEL_INFO));
    assert_false(log_enabled(LOG_LEVEL_DEBUG));
    expect_line(LOG_LEVEL_WARN, "job file missing", "jobreport: warning: job file missing\n");
    expect_line(LOG_LEVEL_ERROR, "boom", "jobreport: error: boom\n");
    expect_line(LOG_LEVEL_INFO, "quiet", "");
    expect_line(LOG_LEVEL_DEBUG, "quiet", "");
}

static void
test_text_format(void **state)
{
    struct capture c;
    char *got;

    (void)state;
    log_setup(LOG_LEVEL_DEBUG, LOG_FORMAT_TEXT);
    expect_line(LOG_LEVEL_ERROR, "e", "jobreport: error: e\n");
    expect_line(LOG_LEVEL_WARN, "w", "jobreport: warning: w\n");
    expect_line(LOG_LEVEL_INFO, "i", "jobreport: info: i\n");
    expect_line(LOG_LEVEL_DEBUG, "d", "jobreport: debug: d\n");
    expect_line(LOG_LEVEL_WARN, "", "jobreport: warning: \n");
    /* printf formatting of the arguments, and '%' in an argument stays as it is */
    capture_start(&c);
    log_warn("%d rows, %s done, key '%s'", 1200, "100%", "a-service-notify/1-day-report.csv");
    got = capture_end(&c);
    assert_string_equal(got, "jobreport: warning: 1200 rows, 100% done, key "
                             "'a-service-notify/1-day-report.csv'\n");
    free(got);
}

/* A text record is one line: CR and LF inside the message become spaces. */
static void
test_text_newlines(void **state)
{
    (void)state;
    log_setup(LOG_LEVEL_WARN, LOG_FORMAT_TEXT);
    expect_line(LOG_LEVEL_WARN, "line one\nline two\r\nline three\r",
                "jobreport: warning: line one line two  line three \n");
    expect_line(LOG_LEVEL_ERROR, "\n", "jobreport: error:  \n");
    /* quotes, backslashes and UTF-8 are not touched in text */
    expect_line(LOG_LEVEL_WARN, "say \"hi\" \\ caf\xc3\xa9",
                "jobreport: warning: say \"hi\" \\ caf\xc3\xa9\n");
}

static void
test_level_filtering(void **state)
{
    static const struct {
        enum log_level threshold;
        bool printed[4]; /* error, warn, info, debug */
    } cases[] = {
        {LOG_LEVEL_ERROR, {true, false, false, false}},
        {LOG_LEVEL_WARN, {true, true, false, false}},
        {LOG_LEVEL_INFO, {true, true, true, false}},
        {LOG_LEVEL_DEBUG, {true, true, true, true}},
    };

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(cases); i++) {
        for (int fmt = 0; fmt < 2; fmt++) {
            log_setup(cases[i].threshold, fmt ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT);
            for (int lv = LOG_LEVEL_ERROR; lv <= LOG_LEVEL_DEBUG; lv++) {
                char *got = emit((enum log_level)lv, "m");

                assert_int_equal(log_enabled((enum log_level)lv), cases[i].printed[lv]);
                if (cases[i].printed[lv])
                    assert_true(strlen(got) > 0);
                else
                    assert_string_equal(got, "");
                free(got);
            }
        }
    }
}

/* Parse one JSON record; check its shape and return the msg member (caller frees). */
static char *
check_json_record(const char *line, const char *level)
{
    json_error_t jerr;
    json_t *root;
    const char *stamp;
    char *msg;
    struct tm tm;
    int ms;
    char z;
    time_t t;
    time_t now = time(NULL);

    assert_true(strlen(line) > 0);
    assert_int_equal(line[strlen(line) - 1], '\n');
    assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1); /* one line */
    root = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        fail_msg("not JSON (%s): %s", jerr.text, line);
    assert_true(json_is_object(root));
    assert_int_equal(json_object_size(root), 4);
    assert_string_equal(json_string_value(json_object_get(root, "level")), level);
    assert_true(json_is_integer(json_object_get(root, "pid")));
    assert_int_equal(json_integer_value(json_object_get(root, "pid")), getpid());
    stamp = json_string_value(json_object_get(root, "time"));
    assert_non_null(stamp);
    /* 2025-11-05T01:00:05.123Z */
    assert_int_equal(strlen(stamp), 24);
    memset(&tm, 0, sizeof(tm));
    assert_int_equal(sscanf(stamp, "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &tm.tm_year, &tm.tm_mon,
                            &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &z),
                     8);
    assert_int_equal(z, 'Z');
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    t = timegm(&tm);
    assert_true(t >= now - 5 && t <= now + 5); /* UTC, now */
    assert_true(json_is_string(json_object_get(root, "msg")));
    msg = xstrdup(json_string_value(json_object_get(root, "msg")));
    json_decref(root);
    return msg;
}

static void
test_json_format(void **state)
{
    static const struct {
        enum log_level level;
        const char *name;
    } levels[] = {
        {LOG_LEVEL_ERROR, "error"},
        {LOG_LEVEL_WARN, "warning"},
        {LOG_LEVEL_INFO, "info"},
        {LOG_LEVEL_DEBUG, "debug"},
    };

    char *line;
    char *msg;

    (void)state;
    log_setup(LOG_LEVEL_DEBUG, LOG_FORMAT_JSON);
    line = emit(LOG_LEVEL_WARN, "job file missing");
    msg = check_json_record(line, "warning");
    assert_string_equal(msg, "job file missing");
    /* the msg member is the last one and carries the text verbatim */
    assert_non_null(strstr(line, ",\"msg\":\"job file missing\"}\n"));
    assert_memory_equal(line, "{\"time\":\"", 9);
    free(msg);
    free(line);

    for (size_t i = 0; i < JR_ARRAY_LEN(levels); i++) {
        line = emit(levels[i].level, "x");
        msg = check_json_record(line, levels[i].name);
        assert_string_equal(msg, "x");
        free(msg);
        free(line);
    }
}

/* Escaping: each input and the exact JSON text it must become inside "msg":"...". */
static void
test_json_escaping(void **state)
{
    static const struct {
        const char *in;
        const char *escaped;
    } cases[] = {
        {"say \"hi\"", "say \\\"hi\\\""},
        {"C:\\path\\to", "C:\\\\path\\\\to"},
        {"a\nb", "a\\nb"},
        {"a\r\nb", "a\\r\\nb"},
        {"tab\there", "tab\\there"},
        {"\x01\x02\x1f", "\\u0001\\u0002\\u001f"},
        {"bell\a back\b ff\f vt\v esc\x1b",
         "bell\\u0007 back\\u0008 ff\\u000c vt\\u000b esc\\u001b"},
        {"caf\xc3\xa9 \xe2\x80\x99 \xf0\x9f\x93\xb1", "caf\xc3\xa9 \xe2\x80\x99 \xf0\x9f\x93\xb1"},
        {"\\\"\n", "\\\\\\\"\\n"},
        {"/ and ' stay", "/ and ' stay"},
        {"", ""},
    };

    (void)state;
    log_setup(LOG_LEVEL_WARN, LOG_FORMAT_JSON);
    for (size_t i = 0; i < JR_ARRAY_LEN(cases); i++) {
        char *line = emit(LOG_LEVEL_ERROR, cases[i].in);
        char *want = xasprintf(",\"msg\":\"%s\"}\n", cases[i].escaped);
        char *msg = check_json_record(line, "error");

        if (!strstr(line, want))
            fail_msg("case %zu: '%s' does not end with '%s'", i, line, want);
        assert_string_equal(msg, cases[i].in); /* and it decodes back to the input */
        free(msg);
        free(want);
        free(line);
    }
}

/*
 * JSON text is UTF-8 (RFC 8259): a message holding bytes that are not UTF-8 (a Latin-1 file
 * name from a local bucket, a truncated sequence) must still produce a record a JSON parser
 * accepts, keeping the valid text around the bad bytes. How the bad bytes are shown (U+FFFD,
 * \u00XX) is the module's choice.
 */
static void
test_json_invalid_utf8(void **state)
{
    static const char *const inputs[] = {
        "key 'caf\xe9.csv' removed", /* Latin-1 e-acute */
        "truncated \xc3",            /* a lead byte at the end */
        "lone \x80 continuation",
        "overlong \xc0\xaf slash",
        "surrogate \xed\xa0\x80 half",
    };

    (void)state;
    log_setup(LOG_LEVEL_WARN, LOG_FORMAT_JSON);
    for (size_t i = 0; i < JR_ARRAY_LEN(inputs); i++) {
        char *line = emit(LOG_LEVEL_WARN, inputs[i]);
        size_t head = strcspn(inputs[i], "\x80\xa0\xaf\xc0\xc3\xe9\xed");
        json_error_t jerr;
        json_t *root = json_loads(line, 0, &jerr);
        const char *msg = root ? json_string_value(json_object_get(root, "msg")) : NULL;
        bool kept = msg && strncmp(msg, inputs[i], head) == 0;

        free(line); /* before any assertion: a failure leaks nothing */
        json_decref(root);
        if (!root)
            fail_msg("case %zu: the record is not JSON: %s", i, jerr.text);
        assert_true(kept); /* the text before the bad bytes is kept */
    }
}

/* A long record is written whole, as one line. */
static void
test_long_message(void **state)
{
    char *big = xmalloc(100001);
    char *line;
    char *msg;

    (void)state;
    memset(big, 'k', 100000);
    big[100000] = '\0';
    big[50000] = '\n';
    log_setup(LOG_LEVEL_WARN, LOG_FORMAT_TEXT);
    line = emit(LOG_LEVEL_WARN, big);
    assert_int_equal(strlen(line), strlen("jobreport: warning: ") + 100000 + 1);
    assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
    free(line);

    log_setup(LOG_LEVEL_WARN, LOG_FORMAT_JSON);
    line = emit(LOG_LEVEL_WARN, big);
    msg = check_json_record(line, "warning");
    assert_string_equal(msg, big);
    free(msg);
    free(line);
    free(big);
}

static void
test_level_parse(void **state)
{
    static const struct {
        const char *s;
        enum log_level want;
    } good[] = {
        {"error", LOG_LEVEL_ERROR}, {"warning", LOG_LEVEL_WARN}, {"warn", LOG_LEVEL_WARN},
        {"info", LOG_LEVEL_INFO},   {"debug", LOG_LEVEL_DEBUG},
    };

    static const char *const bad[] = {"", "ERROR", "Warn", "verbose", "trace", "info ", "2", "err"};

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(good); i++) {
        enum log_level lv = (enum log_level)99;

        assert_int_equal(log_level_parse(good[i].s, &lv), 0);
        assert_int_equal(lv, good[i].want);
    }
    for (size_t i = 0; i < JR_ARRAY_LEN(bad); i++) {
        enum log_level lv = (enum log_level)99;

        if (log_level_parse(bad[i], &lv) != -1)
            fail_msg("'%s' accepted", bad[i]);
        assert_int_equal(lv, 99); /* untouched */
    }
}

static void
test_format_parse(void **state)
{
    enum log_format f = (enum log_format)99;

    (void)state;
    assert_int_equal(log_format_parse("text", &f), 0);
    assert_int_equal(f, LOG_FORMAT_TEXT);
    assert_int_equal(log_format_parse("json", &f), 0);
    assert_int_equal(f, LOG_FORMAT_JSON);
    f = (enum log_format)99;
    assert_int_equal(log_format_parse("JSON", &f), -1);
    assert_int_equal(log_format_parse("", &f), -1);
    assert_int_equal(log_format_parse("jsonl", &f), -1);
    assert_int_equal(log_format_parse("logfmt", &f), -1);
    assert_int_equal(f, 99);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults), /* first: before any log_setup */
        cmocka_unit_test(test_text_format),     cmocka_unit_test(test_text_newlines),
        cmocka_unit_test(test_level_filtering), cmocka_unit_test(test_json_format),
        cmocka_unit_test(test_json_escaping),   cmocka_unit_test(test_json_invalid_utf8),
        cmocka_unit_test(test_long_message),    cmocka_unit_test(test_level_parse),
        cmocka_unit_test(test_format_parse),
    };

    return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
