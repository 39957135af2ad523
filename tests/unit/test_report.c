/*
 * Tests of report wording, row format (SPEC §5.1's worked example, byte for byte) and the
 * streaming engine over a real local directory: nested windows, truncation, deletion of empty
 * windows, dry runs, and one service's failure not stopping another.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "report.h"
#include "storage.h"
#include "window.h"
#include "xalloc.h"

#define SVC1 "11111111-1111-4111-8111-111111111111"
#define SVC2 "22222222-2222-4222-8222-222222222222"

static void
test_status_table(void **state)
{
    static const char *const rows[][3] = {
        {"failed", "Failed", "Failed"},
        {"technical-failure", "Technical failure", "Technical failure"},
        {"temporary-failure", "Unable to find carrier response -- still looking",
         "Inbox not accepting messages right now"},
        {"permanent-failure", "Unable to find carrier response.",
         "Email address doesn\xe2\x80\x99t exist"},
        {"delivered", "Delivered", "Delivered"},
        {"pending", "Pending", "pending"},
        {"sending", "Sending", "Sending"},
        {"created", "Sending", "Sending"},
        {"sent", "Sent internationally", "Delivered"},
        {"cancelled", "cancelled", "cancelled"},
        {"pending-virus-check", "pending-virus-check", "pending-virus-check"},
        {"validation-failed", "validation-failed", "validation-failed"},
        {"virus-scan-failed", "virus-scan-failed", "virus-scan-failed"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        assert_string_equal(report_status_text(rows[i][0], "sms"), rows[i][1]);
        assert_string_equal(report_status_text(rows[i][0], "email"), rows[i][2]);
        assert_string_equal(report_status_text(rows[i][0], "letter"), rows[i][0]);
        assert_int_equal(report_status_index(rows[i][0]) == REPORT_STATUS_OTHER, 0);
    }
    assert_string_equal(report_status_text(NULL, "sms"), "");
    assert_string_equal(report_status_text("brand-new-status", "sms"), "brand-new-status");
    assert_int_equal(report_status_index("brand-new-status"), REPORT_STATUS_OTHER);
}

static void
test_spec_example(void **state)
{
    struct report_row a = {
        .recipient = "12025550143",
        .recipient_len = 11,
        .template_name = "Appointment reminder",
        .sent_by = "Jane Smith",
        .carrier = "Verizon Wireless",
        .status = "delivered",
        .template_type = "sms",
        .created_at = "2025-08-11 18:04:09.123456",
        .batch_file = "August reminders.csv",
        .provider_response = "Message has been accepted by phone",
    };
    struct report_row b = {
        .template_name = "Reminder, Spanish",
        .status = "temporary-failure",
        .template_type = "sms",
        .created_at = "2025-08-11 16:00:00.000000",
    };
    struct buf out = BUF_INIT;

    (void)state;
    buf_addstr(&out, REPORT_HEADER "\r\n");
    report_format_row(&out, &a, false);
    report_format_row(&out, &b, false);
    assert_string_equal(
        buf_cstr(&out),
        "Phone Number,Template,Sent By,Carrier,Status,Time,Batch File,Carrier Response\r\n"
        "12025550143,Appointment reminder,Jane Smith,Verizon Wireless,Delivered,"
        "2025-08-11 18:04:09,August reminders.csv,Message has been accepted by phone\r\n"
        ",\"Reminder, Spanish\",,,Unable to find carrier response -- still looking,"
        "2025-08-11 16:00:00,,\r\n");
    buf_release(&out);
}

static void
test_quoting_and_formulas(void **state)
{
    struct report_row r = {
        .recipient = "=cmd",
        .recipient_len = 4,
        .template_name = "He said \"hi\"",
        .sent_by = "-x",
        .carrier = "@home",
        .status = "email-custom",
        .template_type = "email",
        .created_at = "2025-01-02 03:04:05",
        .batch_file = "+a,b",
        .provider_response = "line1\r\nline2",
    };
    struct buf out = BUF_INIT;

    (void)state;
    report_format_row(&out, &r, false);
    assert_string_equal(buf_cstr(&out), "=cmd,\"He said \"\"hi\"\"\",-x,@home,email-custom,"
                                        "2025-01-02 03:04:05,\"+a,b\",\"line1\r\nline2\"\r\n");
    buf_reset(&out);
    report_format_row(&out, &r, true);
    assert_string_equal(buf_cstr(&out), "'=cmd,\"He said \"\"hi\"\"\",'-x,'@home,email-custom,"
                                        "2025-01-02 03:04:05,\"'+a,b\",\"line1\r\nline2\"\r\n");
    buf_release(&out);
}

/* --- the engine over a temp directory --- */

struct fx {
    char dir[64];
    struct storage *st;
};

static int
setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof(*f));
    struct jr_err err = JR_ERR_INIT;

    snprintf(f->dir, sizeof(f->dir), "/tmp/jrtest-report.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->st = storage_open(f->dir, NULL, &err);
    assert_non_null(f->st);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fx *f = *state;
    char cmd[256];

    storage_close(f->st);
    snprintf(cmd, sizeof(cmd), "chmod -R u+w %s; rm -rf %s", f->dir, f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static char *
slurp(const char *dir, const char *key)
{
    char path[512];
    FILE *fp;
    struct buf b = BUF_INIT;
    char chunk[4096];
    size_t n;

    snprintf(path, sizeof(path), "%s/%s", dir, key);
    fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    while ((n = fread(chunk, 1, sizeof(chunk), fp)) > 0)
        buf_add(&b, chunk, n);
    fclose(fp);
    return buf_detach(&b, NULL);
}

static void
put(const char *dir, const char *key, const char *body)
{
    char path[512];
    char *slash;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, key);
    slash = strrchr(path, '/');
    *slash = '\0';
    mkdir(path, 0700);
    *slash = '/';
    fp = fopen(path, "wb");
    assert_non_null(fp);
    fputs(body, fp);
    fclose(fp);
}

static void
make_opts(struct report_opts *o, struct fx *f)
{
    jr_usec as_of;
    struct jr_err err = JR_ERR_INIT;
    static const unsigned days[] = {1, 3, 7};

    memset(o, 0, sizeof(*o));
    assert_int_equal(window_parse_as_of("2025-08-12T01:00:00Z", &as_of, &err), 0);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(window_compute(as_of, "UTC", days[i], false, &o->windows[i], &err), 0);
    o->nwindows = 3;
    o->storage = f->st;
    o->upload_threads = 2;
}

static void
row_at(struct report_engine *e, const char *created_at, const char *status)
{
    struct jr_err err = JR_ERR_INIT;
    struct report_row r = {
        .template_name = "T",
        .status = status,
        .template_type = "sms",
        .created_at = created_at,
    };

    assert_int_equal(report_engine_row(e, &r, created_at, &err), 0);
}

static const struct report_result *
find(const struct report_result *rs, size_t n, const char *svc, unsigned days)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rs[i].service_id, svc) == 0 && rs[i].days == days)
            return &rs[i];
    fail_msg("no result for %s/%u", svc, days);
    return NULL;
}

static void
test_engine_windows(void **state)
{
    struct fx *f = *state;
    struct report_opts o;
    struct report_engine *e;
    struct jr_err err = JR_ERR_INIT;
    const struct report_result *rs;
    size_t n;
    char *body;

    make_opts(&o, f);
    /* Stale objects: SVC1's 1-day window will be empty and SVC2 has no rows at all. */
    put(f->dir, SVC1 "-service-notify/1-day-report.csv", "old");
    put(f->dir, SVC2 "-service-notify/7-day-report.csv", "old");
    put(f->dir, SVC2 "-service-notify/job.csv", "job files are never touched");
    e = report_engine_new(&o);
    assert_int_equal(report_engine_service_begin(e, SVC1, &err), 0);
    row_at(e, "2025-08-10 23:59:59.999999", "delivered"); /* 3 and 7 */
    row_at(e, "2025-08-09 00:00:00.000000", "failed");    /* 3 and 7: start of the 3-day window */
    row_at(e, "2025-08-08 23:59:59.999999", "sent");      /* 7 only */
    assert_int_equal(report_engine_service_end(e, &err), 0);
    assert_int_equal(report_engine_service_begin(e, SVC2, &err), 0);
    assert_int_equal(report_engine_service_end(e, &err), 0);
    assert_int_equal(report_engine_finish(e, false, &err), 0);
    rs = report_engine_results(e, &n);
    assert_int_equal(n, 6);
    assert_int_equal(find(rs, n, SVC1, 1)->outcome, REPORT_REMOVED);
    assert_int_equal(find(rs, n, SVC1, 3)->outcome, REPORT_WRITTEN);
    assert_int_equal(find(rs, n, SVC1, 3)->rows, 2);
    assert_int_equal(find(rs, n, SVC1, 7)->rows, 3);
    assert_int_equal(find(rs, n, SVC1, 7)->status_counts[report_status_index("sent")], 1);
    assert_int_equal(find(rs, n, SVC2, 7)->outcome, REPORT_REMOVED);
    assert_null(slurp(f->dir, SVC1 "-service-notify/1-day-report.csv"));
    assert_null(slurp(f->dir, SVC2 "-service-notify/7-day-report.csv"));
    body = slurp(f->dir, SVC2 "-service-notify/job.csv");
    assert_string_equal(body, "job files are never touched");
    free(body);
    body = slurp(f->dir, SVC1 "-service-notify/3-day-report.csv");
    assert_string_equal(body, REPORT_HEADER "\r\n"
                                            ",T,,,Delivered,2025-08-10 23:59:59,,\r\n"
                                            ",T,,,Failed,2025-08-09 00:00:00,,\r\n");
    assert_int_equal(find(rs, n, SVC1, 3)->bytes, (int64_t)strlen(body));
    free(body);
    report_engine_free(e);
}

static void
test_engine_max_rows(void **state)
{
    struct fx *f = *state;
    struct report_opts o;
    struct report_engine *e;
    struct jr_err err = JR_ERR_INIT;
    const struct report_result *rs;
    size_t n;
    char *body;

    make_opts(&o, f);
    o.max_rows = 2;
    e = report_engine_new(&o);
    assert_int_equal(report_engine_service_begin(e, SVC1, &err), 0);
    row_at(e, "2025-08-11 12:00:00.000000", "sent");
    row_at(e, "2025-08-11 11:00:00.000000", "sending");
    row_at(e, "2025-08-11 10:00:00.000000", "created");
    assert_int_equal(report_engine_service_end(e, &err), 0);
    assert_int_equal(report_engine_finish(e, false, &err), 0);
    rs = report_engine_results(e, &n);
    assert_int_equal(find(rs, n, SVC1, 1)->rows, 2);
    assert_int_equal(find(rs, n, SVC1, 1)->rows_in_window, 3);
    assert_true(find(rs, n, SVC1, 1)->truncated);
    body = slurp(f->dir, SVC1 "-service-notify/1-day-report.csv");
    assert_string_equal(body, REPORT_HEADER "\r\n"
                                            ",T,,,Sent internationally,2025-08-11 12:00:00,,\r\n"
                                            ",T,,,Sending,2025-08-11 11:00:00,,\r\n");
    free(body);
    report_engine_free(e);
}

static void
test_engine_dry_run(void **state)
{
    struct fx *f = *state;
    struct report_opts o;
    struct report_engine *e;
    struct jr_err err = JR_ERR_INIT;
    const struct report_result *rs;
    size_t n;
    char *body;

    make_opts(&o, f);
    o.dry_run = true;
    put(f->dir, SVC1 "-service-notify/1-day-report.csv", "old");
    e = report_engine_new(&o);
    assert_int_equal(report_engine_service_begin(e, SVC1, &err), 0);
    row_at(e, "2025-08-05 12:00:00.000000", "sent");
    assert_int_equal(report_engine_service_end(e, &err), 0);
    assert_int_equal(report_engine_finish(e, false, &err), 0);
    rs = report_engine_results(e, &n);
    assert_int_equal(find(rs, n, SVC1, 7)->outcome, REPORT_WRITTEN);
    assert_int_equal(find(rs, n, SVC1, 1)->outcome, REPORT_REMOVED);
    assert_true(find(rs, n, SVC1, 7)->bytes > 0);
    assert_null(slurp(f->dir, SVC1 "-service-notify/7-day-report.csv"));
    body = slurp(f->dir, SVC1 "-service-notify/1-day-report.csv");
    assert_string_equal(body, "old");
    free(body);
    report_engine_free(e);
}

static void
test_engine_one_service_fails(void **state)
{
    struct fx *f = *state;
    struct report_opts o;
    struct report_engine *e;
    struct jr_err err = JR_ERR_INIT;
    const struct report_result *rs;
    size_t n;
    char *body;

    make_opts(&o, f);
    /* SVC1's folder is a plain file: nothing can be written below it. */
    put(f->dir, SVC1 "-service-notify", "in the way");
    e = report_engine_new(&o);
    assert_int_equal(report_engine_service_begin(e, SVC1, &err), 0);
    row_at(e, "2025-08-11 12:00:00.000000", "sent");
    assert_int_equal(report_engine_service_end(e, &err), 0);
    assert_int_equal(report_engine_service_begin(e, SVC2, &err), 0);
    row_at(e, "2025-08-11 12:00:00.000000", "sent");
    assert_int_equal(report_engine_service_end(e, &err), 0);
    assert_int_equal(report_engine_finish(e, false, &err), 0);
    rs = report_engine_results(e, &n);
    assert_int_equal(find(rs, n, SVC1, 1)->outcome, REPORT_FAILED);
    assert_int_equal(find(rs, n, SVC1, 1)->errcode, JR_E_IO);
    assert_non_null(strstr(find(rs, n, SVC1, 1)->error, "Not a directory"));
    assert_int_equal(find(rs, n, SVC2, 1)->outcome, REPORT_WRITTEN);
    body = slurp(f->dir, SVC2 "-service-notify/7-day-report.csv");
    assert_non_null(body);
    free(body);
    report_engine_free(e);
}

static void
test_engine_abort_keeps_old(void **state)
{
    struct fx *f = *state;
    struct report_opts o;
    struct report_engine *e;
    struct jr_err err = JR_ERR_INIT;
    char *body;

    make_opts(&o, f);
    put(f->dir, SVC1 "-service-notify/1-day-report.csv", "previous good report");
    e = report_engine_new(&o);
    assert_int_equal(report_engine_service_begin(e, SVC1, &err), 0);
    row_at(e, "2025-08-11 12:00:00.000000", "sent");
    /* The stream fails here (say the connection is lost): nothing replaces the old object and
     * no empty window is deleted. */
    report_engine_service_abort(e);
    assert_int_equal(report_engine_finish(e, true, &err), 0);
    body = slurp(f->dir, SVC1 "-service-notify/1-day-report.csv");
    assert_string_equal(body, "previous good report");
    free(body);
    report_engine_free(e);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_table),
        cmocka_unit_test(test_spec_example),
        cmocka_unit_test(test_quoting_and_formulas),
        cmocka_unit_test_setup_teardown(test_engine_windows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_max_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_dry_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_one_service_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_engine_abort_keeps_old, setup, teardown),
    };

    log_setup(LOG_LEVEL_ERROR + 0, LOG_FORMAT_TEXT);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
