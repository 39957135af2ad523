/*
 * Tests of S3 request targets (src/s3/s3.c s3_client_url and the configuration checks of
 * s3_client_open) and of the S3 storage backend's key prefix mapping (src/storage_s3.c): virtual-
 * hosted and path-style addressing, FIPS and China endpoints, custom endpoints with a port, keys
 * with spaces, '+', '%' and unicode, and keys below a prefix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "s3/s3.h"
#include "storage.h"

#include "banned.h"

struct url_case {
    const char *bucket;
    const char *region;
    const char *endpoint;
    bool fips;
    bool path_style;
    const char *key;
    const char *query;
    const char *url;
    const char *host;
    const char *path;
};

static const struct url_case url_cases[] = {
    /* AWS, virtual-hosted */
    {"reports", "eu-west-1", NULL, false, false, "svc-service-notify/1-day-report.csv", NULL,
     "https://reports.s3.eu-west-1.amazonaws.com/svc-service-notify/1-day-report.csv",
     "reports.s3.eu-west-1.amazonaws.com", "/svc-service-notify/1-day-report.csv"},
    {"reports", NULL, NULL, false, false, "k", NULL, "https://reports.s3.us-east-1.amazonaws.com/k",
     "reports.s3.us-east-1.amazonaws.com", "/k"},
    {"reports", "", NULL, false, false, NULL, "list-type=2&prefix=a%2Fb",
     "https://reports.s3.us-east-1.amazonaws.com/?list-type=2&prefix=a%2Fb",
     "reports.s3.us-east-1.amazonaws.com", "/"},
    /* FIPS */
    {"gov-bucket", "us-gov-west-1", NULL, true, false, "a.csv", NULL,
     "https://gov-bucket.s3-fips.us-gov-west-1.amazonaws.com/a.csv",
     "gov-bucket.s3-fips.us-gov-west-1.amazonaws.com", "/a.csv"},
    {"gov-bucket", "us-gov-west-1", NULL, true, true, "a.csv", NULL,
     "https://s3-fips.us-gov-west-1.amazonaws.com/gov-bucket/a.csv",
     "s3-fips.us-gov-west-1.amazonaws.com", "/gov-bucket/a.csv"},
    /* China partition */
    {"cnb", "cn-north-1", NULL, false, false, "k", NULL,
     "https://cnb.s3.cn-north-1.amazonaws.com.cn/k", "cnb.s3.cn-north-1.amazonaws.com.cn", "/k"},
    /* path-style: asked for, dotted bucket, non-DNS bucket */
    {"reports", "us-west-2", NULL, false, true, "k", NULL,
     "https://s3.us-west-2.amazonaws.com/reports/k", "s3.us-west-2.amazonaws.com", "/reports/k"},
    {"my.dotted.bucket", "us-west-2", NULL, false, false, "k", NULL,
     "https://s3.us-west-2.amazonaws.com/my.dotted.bucket/k", "s3.us-west-2.amazonaws.com",
     "/my.dotted.bucket/k"},
    {"Legacy_Bucket", "us-east-1", NULL, false, false, NULL, "list-type=2",
     "https://s3.us-east-1.amazonaws.com/Legacy_Bucket?list-type=2", "s3.us-east-1.amazonaws.com",
     "/Legacy_Bucket"},
    /* custom endpoints are always path-style; the port is part of Host */
    {"jobreport-test", "us-east-1", "http://127.0.0.1:9000", false, false, "a/b.csv", NULL,
     "http://127.0.0.1:9000/jobreport-test/a/b.csv", "127.0.0.1:9000", "/jobreport-test/a/b.csv"},
    {"jobreport-test", "us-east-1", "https://minio.internal:8443/", true, false, "k", "uploads",
     "https://minio.internal:8443/jobreport-test/k?uploads", "minio.internal:8443",
     "/jobreport-test/k"},
    {"jobreport-test", NULL, "http://localhost", false, false, NULL, NULL,
     "http://localhost/jobreport-test", "localhost", "/jobreport-test"},
    /* keys are encoded once in the URL and kept raw for signing */
    {"b", "us-east-1", "http://127.0.0.1:9000", false, false, "dir/a b+c%d.csv", NULL,
     "http://127.0.0.1:9000/b/dir/a%20b%2Bc%25d.csv", "127.0.0.1:9000", "/b/dir/a b+c%d.csv"},
    {"bkt", "us-east-1", NULL, false, false, "r\xc3\xa9sum\xc3\xa9/\xe2\x98\x83 ~x_y-z.csv", NULL,
     "https://bkt.s3.us-east-1.amazonaws.com/r%C3%A9sum%C3%A9/%E2%98%83%20~x_y-z.csv",
     "bkt.s3.us-east-1.amazonaws.com", "/r\xc3\xa9sum\xc3\xa9/\xe2\x98\x83 ~x_y-z.csv"},
    {"bkt", "us-east-1", NULL, false, false, "a//b/%2F?#&=.csv", NULL,
     "https://bkt.s3.us-east-1.amazonaws.com/a//b/%252F%3F%23%26%3D.csv",
     "bkt.s3.us-east-1.amazonaws.com", "/a//b/%2F?#&=.csv"},
};

static void
test_urls(void **state)
{
    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(url_cases); i++) {
        const struct url_case *uc = &url_cases[i];
        struct s3_config cfg = {0};
        struct jr_err err = JR_ERR_INIT;
        struct buf url = BUF_INIT, host = BUF_INIT, path = BUF_INIT;
        struct s3_client *c;

        cfg.bucket = uc->bucket;
        cfg.region = uc->region;
        cfg.endpoint_url = uc->endpoint;
        cfg.use_fips = uc->fips;
        cfg.path_style = uc->path_style;
        cfg.access_key_id = "AKIDEXAMPLE";
        cfg.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        c = s3_client_open(&cfg, &err);
        if (!c)
            fail_msg("case %zu: %s", i, err.msg);
        s3_client_url(c, uc->key, uc->query, &url, &host, &path);
        if (strcmp(buf_cstr(&url), uc->url) != 0 || strcmp(buf_cstr(&host), uc->host) != 0 ||
            strcmp(buf_cstr(&path), uc->path) != 0)
            fail_msg("case %zu: got url '%s' host '%s' path '%s'", i, buf_cstr(&url),
                     buf_cstr(&host), buf_cstr(&path));
        buf_release(&url);
        buf_release(&host);
        buf_release(&path);
        s3_client_close(c);
    }
}

static void
test_describe(void **state)
{
    struct s3_config cfg = {0};
    struct jr_err err = JR_ERR_INIT;
    struct s3_client *c;

    (void)state;
    cfg.bucket = "reports";
    cfg.access_key_id = "a";
    cfg.secret_access_key = "s";
    c = s3_client_open(&cfg, &err);
    assert_non_null(c);
    assert_string_equal(s3_client_describe(c), "s3://reports");
    s3_client_close(c);
}

static void
test_bad_config(void **state)
{
    static const struct {
        const char *bucket, *region, *endpoint, *akid, *secret, *msg;
    } cases[] = {
        {NULL, NULL, NULL, "a", "s", "no S3 bucket configured"},
        {"", NULL, NULL, "a", "s", "no S3 bucket configured"},
        {"bad/bucket", NULL, NULL, "a", "s", "invalid S3 bucket name 'bad/bucket'"},
        {"b", "us east", NULL, "a", "s", "invalid AWS region 'us east'"},
        {"b", "evil.com/x", NULL, "a", "s", "invalid AWS region"},
        {"b", NULL, NULL, NULL, "s", "no S3 credentials for 's3://b'"},
        {"b", NULL, NULL, "a", "", "no S3 credentials"},
        {"b", NULL, "ftp://127.0.0.1", "a", "s", "invalid S3 endpoint 'ftp://127.0.0.1'"},
        {"b", NULL, "127.0.0.1:9000", "a", "s", "invalid S3 endpoint"},
        {"b", NULL, "http://127.0.0.1:9000/base", "a", "s", "with no path"},
        {"b", NULL, "http://user:pw@127.0.0.1", "a", "s", "invalid S3 endpoint"},
        {"b", NULL, "http://", "a", "s", "invalid S3 endpoint"},
        {"b", NULL, "http://h st", "a", "s", "bad host name"},
    };

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(cases); i++) {
        struct s3_config cfg = {0};
        struct jr_err err = JR_ERR_INIT;

        cfg.bucket = cases[i].bucket;
        cfg.region = cases[i].region;
        cfg.endpoint_url = cases[i].endpoint;
        cfg.access_key_id = cases[i].akid;
        cfg.secret_access_key = cases[i].secret;
        assert_null(s3_client_open(&cfg, &err));
        assert_int_equal(err.code, JR_E_CONFIG);
        if (!strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.msg, cases[i].msg);
        /* the secret never shows up in a message */
        assert_null(strstr(err.msg, "wJalr"));
    }
}

/* ---- prefix mapping in the storage backend ---- */

static int
discard(void *arg, const void *data, size_t len)
{
    (void)arg, (void)data, (void)len;
    return 0;
}

/* Open a storage on a port where nothing listens: every request fails at once, and the message
 * names the full object key. */
static struct storage *
open_unreachable(const char *location)
{
    struct storage_s3_params p = {0};
    struct jr_err err = JR_ERR_INIT;
    struct storage *st;

    p.bucket = "ignored";
    p.access_key_id = "a";
    p.secret_access_key = "s";
    p.endpoint_url = "http://127.0.0.1:1";
    p.max_attempts = 1;
    p.part_size = 5 * 1024 * 1024;
    st = storage_open(location, &p, &err);
    if (!st)
        fail_msg("open '%s': %s", location, err.msg);
    return st;
}

static void
test_prefix_mapping(void **state)
{
    static const struct {
        const char *location, *describe, *key, *full;
    } cases[] = {
        {"s3://bkt", "s3://bkt", "svc-service-notify/1-day-report.csv",
         "'svc-service-notify/1-day-report.csv' from 's3://bkt'"},
        {"s3://bkt/", "s3://bkt", "a b.csv", "'a b.csv' from"},
        {"s3://bkt/pre/fix", "s3://bkt/pre/fix", "a b+%\xc3\xbc.csv",
         "'pre/fix/a b+%\xc3\xbc.csv' from 's3://bkt'"},
        {"s3://bkt//pre/fix//", "s3://bkt/pre/fix", "k", "'pre/fix/k' from"},
    };

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(cases); i++) {
        struct storage *st = open_unreachable(cases[i].location);
        struct storage_fetch f = {0};
        struct jr_err err = JR_ERR_INIT;

        assert_string_equal(storage_describe(st), cases[i].describe);
        assert_true(storage_is_remote(st));
        f.key = cases[i].key;
        f.on_data = discard;
        assert_int_equal(storage_fetch_many(st, &f, 1, 1, &err), 0);
        assert_int_equal(f.status, STORAGE_FETCH_FAILED);
        if (!strstr(f.errmsg, cases[i].full))
            fail_msg("case %zu: '%s' lacks '%s'", i, f.errmsg, cases[i].full);
        assert_non_null(strstr(f.errmsg, "cannot connect"));
        storage_close(st);
    }
}

static void
test_storage_bad_part_size(void **state)
{
    struct storage_s3_params p = {0};
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    p.bucket = "b";
    p.access_key_id = "a";
    p.secret_access_key = "s";
    p.part_size = 1024 * 1024;
    assert_null(storage_s3_open(&p, &err));
    assert_int_equal(err.code, JR_E_CONFIG);
    assert_non_null(strstr(err.msg, "invalid S3 part size"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_prefix_mapping),
        cmocka_unit_test(test_storage_bad_part_size),
    };

    return cmocka_run_group_tests_name("s3_url", tests, NULL, NULL);
}
