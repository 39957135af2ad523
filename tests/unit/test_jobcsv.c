/*
 * Tests of the job CSV parser against every rule of SPEC §4. Each input is parsed whole and again
 * in 1-, 2- and 5-byte chunks, which must give identical rows: the strip layer and libcsv both
 * keep state across chunk boundaries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobcsv.h"
#include "utf8.h"
#include "xalloc.h"

#define MAXROWS 64

struct got {
    size_t n;
    size_t index[MAXROWS];
    enum jobcsv_problem problem[MAXROWS];
    char *rcpt[JOBCSV_NKINDS][MAXROWS];
    int stop_after; /* return -1 from the callback after this many rows (0 = never) */
};

static int
collect(void *arg, const struct jobcsv_row *row)
{
    struct got *g = arg;

    assert_true(g->n < MAXROWS);
    g->index[g->n] = row->index;
    g->problem[g->n] = row->problem;
    for (int k = 0; k < JOBCSV_NKINDS; k++)
        g->rcpt[k][g->n] =
            row->recipient[k] ? xstrndup(row->recipient[k], row->recipient_len[k]) : NULL;
    g->n++;
    if (g->stop_after && g->n == (size_t)g->stop_after)
        return -1;
    return 0;
}

static void
got_free(struct got *g)
{
    for (size_t i = 0; i < g->n; i++)
        for (int k = 0; k < JOBCSV_NKINDS; k++)
            free(g->rcpt[k][i]);
    memset(g, 0, sizeof(*g));
}

static const struct jobcsv_limits default_limits = {1 << 20, 4 << 20};

static int
parse_chunked(const char *data, size_t len, size_t chunk, unsigned want,
              const struct jobcsv_limits *lim, struct got *g, struct jobcsv_stats *st)
{
    struct jobcsv *p = jobcsv_new(want, lim, collect, g);
    int rc = 0;

    for (size_t off = 0; off < len && rc == 0; off += chunk)
        rc = jobcsv_feed(p, data + off, len - off < chunk ? len - off : chunk);
    if (rc == 0)
        rc = jobcsv_finish(p);
    *st = *jobcsv_get_stats(p);
    jobcsv_free(p);
    return rc;
}

/* Parse whole, then in small chunks; all must agree. Leaves the whole-input result in g/st. */
static void
parse_all_ways(const char *data, size_t len, unsigned want, struct got *g, struct jobcsv_stats *st)
{
    static const size_t chunks[] = {1, 2, 5};

    memset(g, 0, sizeof(*g));
    parse_chunked(data, len, len ? len : 1, want, &default_limits, g, st);
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
        struct got g2;
        struct jobcsv_stats st2;

        memset(&g2, 0, sizeof(g2));
        parse_chunked(data, len, chunks[c], want, &default_limits, &g2, &st2);
        assert_int_equal(g2.n, g->n);
        for (size_t i = 0; i < g->n; i++) {
            assert_int_equal(g2.index[i], g->index[i]);
            assert_int_equal(g2.problem[i], g->problem[i]);
            for (int k = 0; k < JOBCSV_NKINDS; k++) {
                if (g->rcpt[k][i])
                    assert_string_equal(g2.rcpt[k][i], g->rcpt[k][i]);
                else
                    assert_null(g2.rcpt[k][i]);
            }
        }
        assert_memory_equal(&st2, st, sizeof(*st));
        got_free(&g2);
    }
}

#define PARSE(str, want, g, st) parse_all_ways((str), sizeof(str) - 1, (want), (g), (st))

static void
assert_phones(const struct got *g, const char *const *want, size_t n)
{
    assert_int_equal(g->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(g->index[i], i);
        if (want[i])
            assert_string_equal(g->rcpt[JOBCSV_PHONE][i], want[i]);
        else
            assert_null(g->rcpt[JOBCSV_PHONE][i]);
    }
}

static void
test_basic_crlf(void **state)
{
    static const char *const want[] = {"12025550143", "12025550100"};
    struct got g;
    struct jobcsv_stats st;

    (void)state;
    PARSE("phone number,name\r\n+1 (202) 555-0143,Bob\r\n+1 202 555 0100,Al\r\n", JOBCSV_WANT_PHONE,
          &g, &st);
    assert_phones(&g, want, 2);
    assert_true(st.have_header);
    assert_true(st.column_found[JOBCSV_PHONE]);
    assert_false(st.column_found[JOBCSV_EMAIL]);
    assert_int_equal(st.rows, 2);
    assert_int_equal(g.problem[0], JOBCSV_ROW_OK);
    got_free(&g);
}

static void
test_lf_and_no_final_newline(void **state)
{
    static const char *const want[] = {"2025550143", "2025550100"};
    struct got g;
    struct jobcsv_stats st;

    (void)state;
    PARSE("name,phone number\nBob,202-555-0143\nAl,202.555.0100", JOBCSV_WANT_PHONE, &g, &st);
    assert_phones(&g, want, 2);
    got_free(&g);
}

static void
test_header_spellings(void **state)
{
    static const char *const headers[] = {
        "phone number", "Phone Number",   "phone_number",   "PHONENUMBER",
        "Phone-Number", "phone - number", " Phone_Number ", "\"phone number\"",
    };
    static const char *const want[] = {"2025550143"};

    (void)state;
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        char buf[128];
        struct got g;
        struct jobcsv_stats st;

        snprintf(buf, sizeof(buf), "x,%s\r\n1,202 555 0143\r\n", headers[i]);
        parse_all_ways(buf, strlen(buf), JOBCSV_WANT_PHONE, &g, &st);
        assert_true(st.column_found[JOBCSV_PHONE]);
        assert_phones(&g, want, 1);
        got_free(&g);
    }
    assert_true(jobcsv_header_matches("Email_Address", 13, JOBCSV_EMAIL));
    assert_true(jobcsv_header_matches("EMAIL-ADDRESS", 13, JOBCSV_EMAIL));
    assert_false(jobcsv_header_matches("email", 5, JOBCSV_EMAIL));
    assert_false(jobcsv_header_matches("phone", 5, JOBCSV_PHONE));
    assert_false(jobcsv_header_matches("phone numbers", 13, JOBCSV_PHONE));
    assert_false(jobcsv_header_matches("mobile phone number", 19, JOBCSV_PHONE));
    assert_false(jobcsv_header_matches("", 0, JOBCSV_PHONE));
}

static void
test_first_matching_column_wins(void **state)
{
    static const char *const want[] = {"111"};
    struct got g;
    struct jobcsv_stats st;

    (void)state;
    PARSE("Phone Number,name,phone_number\r\n111,x,222\r\n", JOBCSV_WANT_PHONE, &g, &st);
    assert_phones(&g, want, 1);
    got_free(&g);
}

static void
test_no_recipient_column_never_falls_back(void **state)
{
    static const char *const want[] = {NULL, NULL};
    struct got g;
    struct jobcsv_stats st;

    (void)state;
    /* An SMS job whose file only has an email column and a "phone" column: nothing is used. */
    PARSE("phone,email address\r\n2025550143,a@example.com\r\n2025550100,b@example.com\r\n",
          JOBCSV_WANT_PHONE, &g, &st);
    assert_false(st.column_found[JOBCSV_PHONE]);
    assert_phones(&g, want, 2);
    assert_int_equal(st.rows, 2);
    got_free(&g);
}

static void
test_email_column(void **state)
{
    struct got g;
    struct jobcsv_stats st;

    (void)state;
    PARSE(
        "Email Address,name\r\n  Jane.Doe+tag@Example.COM  ,J\r\n\xc2\xa0x@example.org\xe2\x80\x8b,K"
        "\r\n",
        JOBCSV_WANT_EMAIL, &g, &st);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.rcpt[JOBCSV_EMAIL][0], "Jane.Doe+tag@Example.COM");
    assert_string_equal(g.rcpt[JOBCSV_EMAIL][1], "x@example.org");
    assert_null(g.rcpt[JOBCSV_PHONE][0]);
    got_free(&g);
}

static void
test_both_kinds(void **state)
{
    struct got g;
    struct jobcsv_stats st;

    (void)state;
    PARSE("email address,phone number\r\na@example.com,(202) 555-0143\r\n",
          JOBCSV_WANT_PHONE | JOBCSV_WANT_EMAIL, &g, &st);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.rcpt[JOBCSV_EMAIL][0], "a@example.com");
    assert_string_equal(g.rcpt[JOBCSV_PHONE][0], "2025550143");
    got_free(&g);
}

static void
test_bom_leading_blank_lines_and_commas(void **state)
{
    static const char *const want[] = {"2025550143", "2025550100"};
    struct got g;
    struct jobcsv_stats st;

    (void)state;
    PARSE("\xef\xbb\xbf\r\n\r\n,,,\r\n  \xc2\xa0\xe2\x80\x8b\r\nphone number,name\r\n"
          "202 555 0143,a\r\n202 555 0100,b\r\n\r\n,,\r\n\r\n \xe2\x81\xa0\xef\xbb\xbf",
          JOBCSV_WANT_PHONE, &g, &st);
    assert_phones(&g, want, 2);
    got_free(&g);
}

static void
test_trailing_commas_of_last_row_stripped(void **state)
{
    static const char *const want[] = {"1", "2"};
    struct got g;
    struct jobcsv_stats st;

    (void)state;
    /* The whole-file strip removes the last row's trailing commas; earlier rows keep theirs. */
    PARSE("name,phone number,x\r\na,1,,\r\nb,2,,,\r\n", JOBCSV_WANT_PHONE, &g, &st);
    assert_phones(&g, want, 2);
    got_free(&g);
}

static void
test_blank_records_consume_row_numbers(void **state)
{
    static const char *const want[] = {"1", NULL, NULL, "4"};
    struct got g;
    struct jobcsv_stats st;

    (void)state;
    PARSE("phone number\r\n1\r\n\r\n\r\n4\r\n", JOBCSV_WANT_PHONE, &g, &st);
    assert_phones(&g, want, 4);
    assert_int_equal(g.problem[1], JOBCSV_ROW_BLANK);
    assert_int_equal(g.problem[2], JOBCSV_ROW_BLANK);
    assert_int_equal(st.blank_rows, 2);
    got_free(&g);

    PARSE("phone number\n1\n\n4\n", JOBCSV_WANT_PHONE, &g, &st);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.problem[1], JOBCSV_ROW_BLANK);
    assert_string_equal(g.rcpt[JOBCSV_PHONE][2], "4");
    got_free(&g);
}

static void
test_quoted_newlines_are_one_record(void **state)
{
    static const char *const want[] = {"1", "2", "3"};
    struct got g;
    struct jobcsv_stats st;

    (void)state;
    PARSE("note,phone number\r\n\"line one\r\nline two, still\",1\r\n\"say \"\"hi\"\"\",2\r\n"
          "\"a\nb\n\nc\",3\r\n",
          JOBCSV_WANT_PHONE, &g, &st);
    assert_phones(&g, want, 3);
    got_free(&g);
}

static void
test_skipinitialspace(void **state)
{
    struct got g;
    struct jobcsv_stats st;

    (void)state;
    /* Spaces before a quoted field are skipped, so the quoted comma does not split it. */
    PARSE("name, phone number, note\r\nx,   \"+1 (202) 555-0143\", \"a, b\"\r\n", JOBCSV_WANT_PHONE,
          &g, &st);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.rcpt[JOBCSV_PHONE][0], "12025550143");
    got_free(&g);
    /* A tab is not skipped: it starts an unquoted field, in which quotes are literal. */
    PARSE("phone number,note\r\n\t\"202\",x\r\n", JOBCSV_WANT_PHONE, &g, &st);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.rcpt[JOBCSV_PHONE][0], "\"202\"");
    got_free(&g);
}

static void
test_short_rows(void **state)
{
    static const char *const want[] = {"1", NULL, "3"};
    struct got g;
    struct jobcsv_stats st;

    (void)state;
    PARSE("name,note,phone number\r\na,b,1\r\nshort,row\r\nc,d,3\r\n", JOBCSV_WANT_PHONE, &g, &st);
    assert_phones(&g, want, 3);
    assert_int_equal(g.problem[1], JOBCSV_ROW_SHORT);
    assert_int_equal(st.short_rows, 1);
    got_free(&g);
}

static void
test_invalid_utf8_row(void **state)
{
    static const char *const want[] = {"1", NULL, NULL, "4"};
    struct got g;
    struct jobcsv_stats st;

    (void)state;
    /* Row 1: a Latin-1 byte in another column; row 2: an overlong encoding in the phone cell. */
    PARSE("name,phone number\r\na,1\r\nJos\xe9,2\r\nb,3\xc0\xaf\r\nc,4\r\n", JOBCSV_WANT_PHONE, &g,
          &st);
    assert_phones(&g, want, 4);
    assert_int_equal(g.problem[1], JOBCSV_ROW_BAD_UTF8);
    assert_int_equal(g.problem[2], JOBCSV_ROW_BAD_UTF8);
    assert_int_equal(st.bad_utf8_rows, 2);
    got_free(&g);
}

static void
test_empty_recipient(void **state)
{
    static const char *const want[] = {NULL, NULL, "5"};
    struct got g;
    struct jobcsv_stats st;

    (void)state;
    PARSE("phone number,name\r\n,a\r\n ( ) - . + \xc2\xa0,b\r\n5,c\r\n", JOBCSV_WANT_PHONE, &g,
          &st);
    assert_phones(&g, want, 3);
    assert_int_equal(st.empty_recipients, 2);
    assert_int_equal(g.problem[0], JOBCSV_ROW_OK);
    got_free(&g);
}

static void
test_cell_cleaning(void **state)
{
    char s[64];
    size_t n;

    (void)state;
    snprintf(s, sizeof(s), "%s",
             " \t\xe2\x80\x8b"
             "a\xc2\xa0"
             "b\xe2\x80\x8c\xe2\x80\x8d\xe2\x81\xa0"
             "\xef\xbb\xbf"
             "c \r\n");
    n = jobcsv_clean_cell(s, strlen(s));
    assert_int_equal(n, 3);
    assert_memory_equal(s, "abc", 3);
    /* Whitespace inside is kept by the cell cleaner, removed by the phone cleaner. */
    snprintf(s, sizeof(s), "  +1 (202)\t555-01.43\vx ");
    n = jobcsv_clean_cell(s, strlen(s));
    n = jobcsv_clean_phone(s, n);
    assert_int_equal(n, 12);
    assert_memory_equal(s, "12025550143x", 12);
    /* "Whitespace" is ASCII whitespace plus the invisible characters SPEC names: an EM SPACE
     * or an ideographic space is data, at the ends of a cell and inside a phone number. */
    snprintf(s, sizeof(s),
             "\xe2\x80\x83"
             "202 555\xe3\x80\x80"
             "0143");
    n = jobcsv_clean_cell(s, strlen(s));
    n = jobcsv_clean_phone(s, n);
    assert_int_equal(n, 16);
    assert_memory_equal(s,
                        "\xe2\x80\x83"
                        "202555\xe3\x80\x80"
                        "0143",
                        16);
    /* Nothing else changes: letters, '#', leading zeros, unicode digits stay. */
    snprintf(s, sizeof(s), "0044 7700#900\xd9\xa1");
    n = jobcsv_clean_phone(s, strlen(s));
    assert_int_equal(n, 14);
    assert_memory_equal(s, "00447700#900\xd9\xa1", 14);
}

static void
test_empty_and_header_only_files(void **state)
{
    struct got g;
    struct jobcsv_stats st;

    (void)state;
    PARSE("", JOBCSV_WANT_PHONE, &g, &st);
    assert_int_equal(g.n, 0);
    assert_false(st.have_header);
    PARSE(" \r\n,,\r\n\xef\xbb\xbf", JOBCSV_WANT_PHONE, &g, &st);
    assert_int_equal(g.n, 0);
    assert_false(st.have_header);
    PARSE("phone number\r\n", JOBCSV_WANT_PHONE, &g, &st);
    assert_int_equal(g.n, 0);
    assert_true(st.have_header);
    assert_true(st.column_found[JOBCSV_PHONE]);
}

static void
test_field_over_limit(void **state)
{
    const struct jobcsv_limits lim = {1024, 1 << 20};
    size_t big = 300000;
    char *data = xmalloc(big + 64);
    struct got g;
    struct jobcsv_stats st;
    size_t len;
    int rc;

    (void)state;
    len = (size_t)snprintf(data, 64, "phone number,x\r\n1,a\r\n2,\"");
    memset(data + len, 'z', big);
    len += big;
    memcpy(data + len, "\"\r\n3,b\r\n", 8);
    len += 8;
    memset(&g, 0, sizeof(g));
    rc = parse_chunked(data, len, 4096, JOBCSV_WANT_PHONE, &lim, &g, &st);
    assert_int_equal(rc, -1);
    assert_true(st.field_too_long);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.rcpt[JOBCSV_PHONE][0], "1");
    got_free(&g);
    free(data);
}

static void
test_record_over_limit(void **state)
{
    const struct jobcsv_limits lim = {1 << 20, 16};
    const char *data = "phone number,x\r\n1,short\r\n2,this record is too long\r\n3,ok\r\n";
    struct got g;
    struct jobcsv_stats st;

    (void)state;
    memset(&g, 0, sizeof(g));
    assert_int_equal(parse_chunked(data, strlen(data), 3, JOBCSV_WANT_PHONE, &lim, &g, &st), 0);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.problem[1], JOBCSV_ROW_TOO_LONG);
    assert_null(g.rcpt[JOBCSV_PHONE][1]);
    assert_string_equal(g.rcpt[JOBCSV_PHONE][2], "3");
    assert_int_equal(st.too_long_rows, 1);
    got_free(&g);
}

static void
test_callback_stop(void **state)
{
    const char *data = "phone number\n1\n2\n3\n";
    struct got g;
    struct jobcsv_stats st;

    (void)state;
    memset(&g, 0, sizeof(g));
    g.stop_after = 2;
    assert_int_equal(
        parse_chunked(data, strlen(data), 100, JOBCSV_WANT_PHONE, &default_limits, &g, &st), -1);
    assert_int_equal(g.n, 2);
    got_free(&g);
}

static void
test_reset_restarts(void **state)
{
    const char *data = "phone number\r\n1\r\n2\r\n";
    struct got g;
    struct jobcsv *p;

    (void)state;
    memset(&g, 0, sizeof(g));
    p = jobcsv_new(JOBCSV_WANT_PHONE, &default_limits, collect, &g);
    assert_int_equal(jobcsv_feed(p, data, 10), 0); /* a retried download: partial body */
    got_free(&g);
    jobcsv_reset(p);
    assert_int_equal(jobcsv_feed(p, data, strlen(data)), 0);
    assert_int_equal(jobcsv_finish(p), 0);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.index[0], 0);
    assert_string_equal(g.rcpt[JOBCSV_PHONE][1], "2");
    assert_int_equal(jobcsv_get_stats(p)->rows, 2);
    jobcsv_free(p);
    got_free(&g);
}

static void
test_truncated_utf8_at_end_is_data(void **state)
{
    struct got g;
    struct jobcsv_stats st;

    (void)state;
    /* A file cut inside a 3-byte character: the bytes are not whitespace, so they are kept
     * (and make the row invalid UTF-8) rather than silently stripped. */
    PARSE("phone number\r\n1\r\n2\xe2\x80", JOBCSV_WANT_PHONE, &g, &st);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.problem[1], JOBCSV_ROW_BAD_UTF8);
    got_free(&g);
}

static void
test_utf8_validation(void **state)
{
    (void)state;
    assert_true(utf8_valid("", 0));
    assert_true(utf8_valid("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10));
    assert_false(utf8_valid("\xc0\x80", 2));         /* overlong NUL */
    assert_false(utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    assert_false(utf8_valid("\xe2\x82", 2));         /* truncated */
    assert_false(utf8_valid("\x80", 1));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic_crlf),
        cmocka_unit_test(test_lf_and_no_final_newline),
        cmocka_unit_test(test_header_spellings),
        cmocka_unit_test(test_first_matching_column_wins),
        cmocka_unit_test(test_no_recipient_column_never_falls_back),
        cmocka_unit_test(test_email_column),
        cmocka_unit_test(test_both_kinds),
        cmocka_unit_test(test_bom_leading_blank_lines_and_commas),
        cmocka_unit_test(test_trailing_commas_of_last_row_stripped),
        cmocka_unit_test(test_blank_records_consume_row_numbers),
        cmocka_unit_test(test_quoted_newlines_are_one_record),
        cmocka_unit_test(test_skipinitialspace),
        cmocka_unit_test(test_short_rows),
        cmocka_unit_test(test_invalid_utf8_row),
        cmocka_unit_test(test_empty_recipient),
        cmocka_unit_test(test_cell_cleaning),
        cmocka_unit_test(test_empty_and_header_only_files),
        cmocka_unit_test(test_field_over_limit),
        cmocka_unit_test(test_record_over_limit),
        cmocka_unit_test(test_callback_stop),
        cmocka_unit_test(test_reset_restarts),
        cmocka_unit_test(test_truncated_utf8_at_end_is_data),
        cmocka_unit_test(test_utf8_validation),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
