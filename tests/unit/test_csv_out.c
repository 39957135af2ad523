/*
 * Tests of csv_out against golden files in tests/fixtures/expected/ (written by hand, byte for
 * byte, from SPEC §5.1): the SPEC's own example, quoting (commas, quotes doubled, CR, LF, CRLF,
 * NULL and empty fields, spaces never quoted, unicode), formula escaping on and off (SPEC §5.2),
 * and CRLF after the last field of every record. Plus direct checks of lengths, appending and
 * embedded NULs.
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

#include <cmocka.h>

#include "buf.h"
#include "csv_out.h"
#include "xalloc.h"

#include "banned.h"

#define MAX_FIELDS 8

/* One record; the fields end at the first END (NULL is a field: an SQL NULL). */
#define END ((const char *)&end_marker)
static const char end_marker = 0;

struct record {
    const char *f[MAX_FIELDS + 1];
};

static char *
golden(const char *name, size_t *len)
{
    const char *base = getenv("JR_TESTDATA");
    char *path = xasprintf("%s/expected/%s", base && *base ? base : "tests/fixtures", name);
    FILE *f = fopen(path, "rb");
    struct buf b = BUF_INIT;
    char chunk[4096];
    size_t n;

    if (!f)
        fail_msg("cannot open golden file '%s': %s", path, strerror(errno));
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_add(&b, chunk, n);
    fclose(f);
    free(path);
    return buf_detach(&b, len);
}

static void
write_records(struct buf *b, const struct record *recs, size_t n, bool escape)
{
    for (size_t r = 0; r < n; r++) {
        size_t nf = 0;

        while (recs[r].f[nf] != END)
            nf++;
        for (size_t i = 0; i < nf; i++)
            csv_out_str(b, recs[r].f[i], escape, i + 1 == nf);
    }
}

/* Byte-for-byte comparison; on mismatch, report the first differing offset and its line. */
static void
assert_golden(const struct buf *b, const char *name)
{
    size_t len;
    char *want = golden(name, &len);

    if (b->len != len || memcmp(b->data, want, len) != 0) {
        size_t i = 0;
        size_t line = 1;

        while (i < len && i < b->len && b->data[i] == want[i]) {
            if (want[i] == '\n')
                line++;
            i++;
        }
        fail_msg("%s: output differs at byte %zu (line %zu): got %zu bytes, want %zu", name, i,
                 line, b->len, len);
    }
    free(want);
}

static void
test_spec_example(void **state)
{
    static const struct record recs[] = {
        {{"Phone Number", "Template", "Sent By", "Carrier", "Status", "Time", "Batch File",
          "Carrier Response", END}},
        {{"12025550143", "Appointment reminder", "Jane Smith", "Verizon Wireless", "Delivered",
          "2025-08-11 18:04:09", "August reminders.csv", "Message has been accepted by phone",
          END}},
        {{"", "Reminder, Spanish", NULL, NULL, "Unable to find carrier response -- still looking",
          "2025-08-11 16:00:00", NULL, NULL, END}},
    };
    struct buf b = BUF_INIT;

    (void)state;
    write_records(&b, recs, JR_ARRAY_LEN(recs), false);
    assert_golden(&b, "spec_example.csv");
    buf_release(&b);
}

static const struct record quoting[] = {
    {{"plain", "hello world", "end", END}},
    {{"comma", "a,b", "end", END}},
    {{"quote", "say \"hi\"", "end", END}},
    {{"only-quote", "\"", "end", END}},
    {{"cr", "a\rb", "end", END}},
    {{"lf", "a\nb", "end", END}},
    {{"crlf", "line one\r\nline two", "end", END}},
    {{"null", NULL, "end", END}},
    {{"empty", "", "end", END}},
    {{"spaces", "  padded  ", "end", END}},
    {{"tab", "a\tb", "end", END}},
    {{"unicode", "Email address doesn\xe2\x80\x99t exist \xe2\x80\x94 caf\xc3\xa9 \xf0\x9f\x93\xb1",
      "end", END}},
    {{"other", "it's; fine | ok", "end", END}},
    {{"mix", " a,\"b\"\r\nc ", "end", END}},
    {{"comma-at-edges", ",x,", "end", END}},
    {{"last", "x,y", END}},
    {{"last-quote", "\"q\"", END}},
    {{"last-null", NULL, END}},
    {{"last-plain", "z", END}},
};

static void
test_quoting(void **state)
{
    struct buf b = BUF_INIT;

    (void)state;
    write_records(&b, quoting, JR_ARRAY_LEN(quoting), false);
    assert_golden(&b, "quoting.csv");
    buf_release(&b);
}

/* None of the quoting cases starts with a formula character: escaping changes nothing. */
static void
test_quoting_with_escape_on(void **state)
{
    struct buf b = BUF_INIT;

    (void)state;
    write_records(&b, quoting, JR_ARRAY_LEN(quoting), true);
    assert_golden(&b, "quoting.csv");
    buf_release(&b);
}

static const struct record formulas[] = {
    {{"sum", "=SUM(A1:A2)", "end", END}},
    {{"plus", "+12025550143", "end", END}},
    {{"minus", "-5", "end", END}},
    {{"at", "@cmd", "end", END}},
    {{"tab", "\tx", "end", END}},
    {{"cr", "\rx", "end", END}},
    {{"comma", "=1,2", "end", END}},
    {{"quotes", "=HYPERLINK(\"http://x\",\"y\")", "end", END}},
    {{"dash", "-", "end", END}},
    {{"space-first", " =1", "end", END}},
    {{"inside", "a=b", "end", END}},
    {{"already", "'=x", "end", END}},
    {{"lf-first", "\n=x", "end", END}},
    {{"null", NULL, "end", END}},
    {{"empty", "", "end", END}},
    {{"unicode", "\xc3\xa9=", "end", END}},
    {{"last", "=1+1", END}},
    {{"last-quoted", "@a,b", END}},
};

static void
test_formulas_escaped(void **state)
{
    struct buf b = BUF_INIT;

    (void)state;
    write_records(&b, formulas, JR_ARRAY_LEN(formulas), true);
    assert_golden(&b, "formulas.csv");
    buf_release(&b);
}

static void
test_formulas_not_escaped(void **state)
{
    struct buf b = BUF_INIT;

    (void)state;
    write_records(&b, formulas, JR_ARRAY_LEN(formulas), false);
    assert_golden(&b, "formulas_off.csv");
    buf_release(&b);
}

/* csv_out_field writes exactly len bytes of s, whatever follows them. */
static void
test_field_length(void **state)
{
    struct buf b = BUF_INIT;

    (void)state;
    csv_out_field(&b, "abc,def", 3, false, false); /* the comma is past len */
    csv_out_field(&b, "x\"yz", 2, false, false);
    csv_out_field(&b, "=formula", 0, true, false); /* zero length: an empty field, no prefix */
    csv_out_field(&b, NULL, 0, true, true);
    assert_int_equal(b.len, strlen("abc,\"x\"\"\",,\r\n"));
    assert_string_equal(buf_cstr(&b), "abc,\"x\"\"\",,\r\n");
    buf_release(&b);
}

/* A NUL byte inside a field is data, copied like any other byte. */
static void
test_field_embedded_nul(void **state)
{
    struct buf b = BUF_INIT;

    (void)state;
    csv_out_field(&b, "a\0b", 3, false, false);
    csv_out_field(&b, "c\0,", 3, false, true);
    assert_int_equal(b.len, 11);
    assert_memory_equal(b.data, "a\0b,\"c\0,\"\r\n", 11);
    buf_release(&b);
}

/* The writer appends to what the buffer already holds. */
static void
test_appends(void **state)
{
    struct buf b = BUF_INIT;

    (void)state;
    buf_addstr(&b, "prefix|");
    csv_out_str(&b, "a", false, false);
    csv_out_str(&b, "b", false, true);
    assert_string_equal(buf_cstr(&b), "prefix|a,b\r\n");
    buf_release(&b);
}

/* Records made of a single field, and long fields that need quoting (buffer growth inside the
 * quoted path). */
static void
test_single_and_long(void **state)
{
    struct buf b = BUF_INIT;
    struct buf want = BUF_INIT;
    char *big = xmalloc(20001);

    (void)state;
    csv_out_str(&b, NULL, false, true);
    csv_out_str(&b, "", true, true);
    csv_out_str(&b, "only", false, true);
    assert_string_equal(buf_cstr(&b), "\r\n\r\nonly\r\n");
    buf_reset(&b);

    for (size_t i = 0; i < 20000; i++)
        big[i] = i % 100 == 99 ? '"' : (i % 10 == 9 ? ',' : 'x');
    big[20000] = '\0';
    csv_out_str(&b, big, true, true);
    buf_addch(&want, '"');
    for (size_t i = 0; i < 20000; i++) {
        buf_addch(&want, big[i]);
        if (big[i] == '"')
            buf_addch(&want, '"');
    }
    buf_addstr(&want, "\"\r\n");
    assert_int_equal(b.len, want.len);
    assert_memory_equal(b.data, want.data, want.len);
    buf_release(&b);
    buf_release(&want);
    free(big);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_example),           cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_quoting_with_escape_on), cmocka_unit_test(test_formulas_escaped),
        cmocka_unit_test(test_formulas_not_escaped),   cmocka_unit_test(test_field_length),
        cmocka_unit_test(test_field_embedded_nul),     cmocka_unit_test(test_appends),
        cmocka_unit_test(test_single_and_long),
    };

    return cmocka_run_group_tests_name("csv_out", tests, NULL, NULL);
}
