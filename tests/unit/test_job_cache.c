/*
 * Tests of the job cache over a real local bucket directory: key layouts, missing, oversized and
 * malformed files, lookups by row, and the memory budget.
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

#include "err.h"
#include "job_cache.h"
#include "log.h"
#include "storage.h"
#include "xalloc.h"

#define SVC  "11111111-1111-4111-8111-111111111111"
#define JOB1 "aaaaaaaa-0000-4000-8000-000000000001"
#define JOB2 "aaaaaaaa-0000-4000-8000-000000000002"
#define JOB3 "aaaaaaaa-0000-4000-8000-000000000003"
#define JOB4 "aaaaaaaa-0000-4000-8000-000000000004"
#define JOB5 "aaaaaaaa-0000-4000-8000-000000000005"
#define JOB6 "aaaaaaaa-0000-4000-8000-000000000006"

struct fixture {
    char dir[64];
    struct storage *st;
};

static void
put_file(const char *dir, const char *key, const char *body)
{
    char path[512];
    char *slash;
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", dir, key);
    slash = strrchr(path, '/');
    *slash = '\0';
    mkdir(path, 0700);
    *slash = '/';
    f = fopen(path, "wb");
    assert_non_null(f);
    fputs(body, f);
    fclose(f);
}

static int
setup(void **state)
{
    struct fixture *fx = xcalloc(1, sizeof(*fx));
    struct jr_err err = JR_ERR_INIT;

    snprintf(fx->dir, sizeof(fx->dir), "/tmp/jrtest-jc.XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    put_file(
        fx->dir, SVC "-service-notify/" JOB1 ".csv",
        "\xef\xbb\xbfname,Phone Number\r\na,+1 (202) 555-0143\r\nb,\r\nshort\r\nc,202.555.0100\r\n");
    put_file(fx->dir, "service-" SVC "-notify/" JOB2 ".csv", "email address\nx@example.com\n");
    /* JOB3 has no file at all. */
    put_file(fx->dir, SVC "-service-notify/" JOB4 ".csv", "name,email\r\na,a@example.com\r\n");
    put_file(fx->dir, SVC "-service-notify/" JOB5 ".csv",
             "phone number,email address\r\n2025550101,p@example.com\r\n");
    put_file(fx->dir, SVC "-service-notify/" JOB6 ".csv",
             "phone number\r\n1111111111\r\n2222222222\r\n3333333333\r\n4444444444\r\n");
    fx->st = storage_open(fx->dir, NULL, &err);
    assert_non_null(fx->st);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    char cmd[128];

    storage_close(fx->st);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
    assert_int_equal(system(cmd), 0);
    free(fx);
    return 0;
}

static enum job_cache_miss
get(struct job_cache *jc, const char *job, enum jobcsv_kind kind, int64_t row, char *out,
    size_t size)
{
    unsigned char key[16];
    const char *s = NULL;
    size_t len = 0;
    enum job_cache_miss m;

    assert_int_equal(job_cache_key(job, key), 0);
    m = job_cache_get(jc, key, kind, row, &s, &len);
    out[0] = '\0';
    if (m == JOB_CACHE_HIT)
        snprintf(out, size, "%.*s", (int)len, s);
    return m;
}

static void
test_load_and_lookup(void **state)
{
    struct fixture *fx = *state;
    struct job_cache_opts opts;
    struct job_cache *jc;
    struct jr_err err = JR_ERR_INIT;
    const struct job_cache_stats *st;
    char v[64];

    job_cache_opts_init(&opts);
    opts.parallel = 2;
    jc = job_cache_new(&opts);
    assert_int_equal(job_cache_want(jc, JOB1, SVC, JOBCSV_PHONE, &err), 0);
    assert_int_equal(job_cache_want(jc, JOB2, SVC, JOBCSV_EMAIL, &err), 0);
    assert_int_equal(job_cache_want(jc, JOB3, SVC, JOBCSV_PHONE, &err), 0);
    assert_int_equal(job_cache_want(jc, JOB4, SVC, JOBCSV_EMAIL, &err), 0);
    assert_int_equal(job_cache_want(jc, JOB5, SVC, JOBCSV_PHONE, &err), 0);
    assert_int_equal(job_cache_want(jc, JOB5, SVC, JOBCSV_EMAIL, &err), 0); /* both kinds */
    assert_int_equal(job_cache_load(jc, fx->st, &err), 0);

    assert_int_equal(get(jc, JOB1, JOBCSV_PHONE, 0, v, sizeof(v)), JOB_CACHE_HIT);
    assert_string_equal(v, "12025550143");
    assert_int_equal(get(jc, JOB1, JOBCSV_PHONE, 1, v, sizeof(v)), JOB_CACHE_ROW_EMPTY);
    assert_int_equal(get(jc, JOB1, JOBCSV_PHONE, 2, v, sizeof(v)), JOB_CACHE_ROW_EMPTY);
    assert_int_equal(get(jc, JOB1, JOBCSV_PHONE, 3, v, sizeof(v)), JOB_CACHE_HIT);
    assert_string_equal(v, "2025550100");
    assert_int_equal(get(jc, JOB1, JOBCSV_PHONE, 4, v, sizeof(v)), JOB_CACHE_NO_ROW);
    assert_int_equal(get(jc, JOB1, JOBCSV_PHONE, -1, v, sizeof(v)), JOB_CACHE_NO_ROW);
    /* The kind that was not asked for is not cached. */
    assert_int_equal(get(jc, JOB1, JOBCSV_EMAIL, 0, v, sizeof(v)), JOB_CACHE_NO_JOB);

    assert_int_equal(get(jc, JOB2, JOBCSV_EMAIL, 0, v, sizeof(v)), JOB_CACHE_HIT); /* legacy */
    assert_string_equal(v, "x@example.com");
    assert_int_equal(get(jc, JOB3, JOBCSV_PHONE, 0, v, sizeof(v)), JOB_CACHE_NO_JOB);
    assert_int_equal(get(jc, JOB4, JOBCSV_EMAIL, 0, v, sizeof(v)), JOB_CACHE_NO_JOB);
    assert_int_equal(get(jc, JOB5, JOBCSV_PHONE, 0, v, sizeof(v)), JOB_CACHE_HIT);
    assert_string_equal(v, "2025550101");
    assert_int_equal(get(jc, JOB5, JOBCSV_EMAIL, 0, v, sizeof(v)), JOB_CACHE_HIT);
    assert_string_equal(v, "p@example.com");
    assert_int_equal(get(jc, "aaaaaaaa-0000-4000-8000-0000000000ff", JOBCSV_PHONE, 0, v, sizeof(v)),
                     JOB_CACHE_NO_JOB);

    st = job_cache_get_stats(jc);
    assert_int_equal(st->jobs, 5);
    assert_int_equal(st->loaded, 4);
    assert_int_equal(st->missing, 1);
    assert_int_equal(st->legacy_key, 1);
    assert_int_equal(st->malformed, 1);
    assert_int_equal(st->rows, 4 + 1 + 1 + 1);
    assert_int_equal(st->bad_rows, 2); /* JOB1: one empty recipient, one short row */
    assert_true(st->bytes > 0);
    assert_true(st->memory > 0);
    job_cache_free(jc);
}

static void
test_too_big(void **state)
{
    struct fixture *fx = *state;
    struct job_cache_opts opts;
    struct job_cache *jc;
    struct jr_err err = JR_ERR_INIT;
    char v[64];

    job_cache_opts_init(&opts);
    opts.max_file_bytes = 20;
    jc = job_cache_new(&opts);
    assert_int_equal(job_cache_want(jc, JOB6, SVC, JOBCSV_PHONE, &err), 0);
    assert_int_equal(job_cache_load(jc, fx->st, &err), 0);
    assert_int_equal(job_cache_get_stats(jc)->too_big, 1);
    assert_int_equal(get(jc, JOB6, JOBCSV_PHONE, 0, v, sizeof(v)), JOB_CACHE_NO_JOB);
    job_cache_free(jc);
}

static void
test_memory_budget(void **state)
{
    struct fixture *fx = *state;
    struct job_cache_opts opts;
    struct job_cache *jc;
    struct jr_err err = JR_ERR_INIT;

    job_cache_opts_init(&opts);
    opts.max_memory = 1000; /* less than one blob block */
    jc = job_cache_new(&opts);
    assert_int_equal(job_cache_want(jc, JOB6, SVC, JOBCSV_PHONE, &err), 0);
    assert_int_equal(job_cache_load(jc, fx->st, &err), -1);
    assert_int_equal(err.code, JR_E_DATA);
    assert_string_equal(err.msg,
                        "job cache exceeds its memory budget of 1000 bytes after 1 of 1 job files");
    job_cache_free(jc);
}

static void
test_bad_ids(void **state)
{
    struct job_cache_opts opts;
    struct job_cache *jc;
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    job_cache_opts_init(&opts);
    jc = job_cache_new(&opts);
    assert_int_equal(job_cache_want(jc, "not-a-uuid", SVC, JOBCSV_PHONE, &err), -1);
    assert_int_equal(err.code, JR_E_DATA);
    job_cache_free(jc);
}

static void
test_many_jobs_table_growth(void **state)
{
    struct fixture *fx = *state;
    struct job_cache_opts opts;
    struct job_cache *jc;
    struct jr_err err = JR_ERR_INIT;
    char v[64];

    job_cache_opts_init(&opts);
    jc = job_cache_new(&opts);
    for (int i = 0; i < 3000; i++) {
        char id[40];

        snprintf(id, sizeof(id), "bbbbbbbb-0000-4000-8000-%012d", i);
        assert_int_equal(job_cache_want(jc, id, SVC, JOBCSV_PHONE, &err), 0);
    }
    assert_int_equal(job_cache_want(jc, JOB6, SVC, JOBCSV_PHONE, &err), 0);
    assert_int_equal(job_cache_load(jc, fx->st, &err), 0);
    assert_int_equal(job_cache_get_stats(jc)->jobs, 3001);
    assert_int_equal(job_cache_get_stats(jc)->missing, 3000);
    assert_int_equal(get(jc, JOB6, JOBCSV_PHONE, 3, v, sizeof(v)), JOB_CACHE_HIT);
    assert_string_equal(v, "4444444444");
    job_cache_free(jc);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_load_and_lookup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_budget, setup, teardown),
        cmocka_unit_test(test_bad_ids),
        cmocka_unit_test_setup_teardown(test_many_jobs_table_growth, setup, teardown),
    };

    log_setup(LOG_LEVEL_ERROR, LOG_FORMAT_TEXT); /* the expected warnings are not failures */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
