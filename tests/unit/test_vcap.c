/*
 * Tests of vcap: Cloud Foundry VCAP_SERVICES documents from tests/fixtures/vcap (the shapes the
 * cloud.gov brokers produce, and broken ones: malformed JSON, duplicate keys, arrays where objects
 * belong, numbers where strings belong, missing members), the choice of the s3 binding (named,
 * single, "*csv-upload-bucket*", ambiguous), the exact error messages, JR_E_CONFIG as the code,
 * and that no secret from the document ever reaches a message.
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
#include "err.h"
#include "vcap.h"
#include "xalloc.h"

#include "banned.h"

/* Every secret in the fixtures contains this marker (passwords, secret keys, the URIs that embed
 * them), so one strstr proves a message holds none of them. */
#define SECRET_MARK "SECRET"

#define RDS_ONLY_URI                                                                                \
    "postgres://u9x8c7v6b5:RDSSECRETpw7Tq@cg-aws-broker-prodq1w2e3r4t5.ci7nkegdizyy.us-gov-west-1." \
    "rds.amazonaws.com:5432/cgawsbrokerprodq1w2e3r4t5"

/* The whole fixture tests/fixtures/vcap/<name>, NUL-terminated. */
static char *
fixture(const char *name)
{
    const char *base = getenv("JR_TESTDATA");
    char *path = xasprintf("%s/vcap/%s", base && *base ? base : "tests/fixtures", name);
    FILE *f = fopen(path, "rb");
    struct buf b = BUF_INIT;
    char chunk[4096];
    size_t n;

    if (!f)
        fail_msg("cannot open fixture '%s': %s", path, strerror(errno));
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_add(&b, chunk, n);
    assert_int_equal(ferror(f), 0);
    fclose(f);
    free(path);
    return buf_detach(&b, NULL);
}

static void
assert_released(const struct vcap_services *v)
{
    assert_null(v->rds_uri);
    assert_null(v->rds_name);
    assert_false(v->has_s3);
    assert_null(v->s3_name);
    assert_null(v->bucket);
    assert_null(v->access_key_id);
    assert_null(v->secret_access_key);
    assert_null(v->region);
}

/* Parse fixture `name` with `service`; expect failure with exactly `msg`, code JR_E_CONFIG, no
 * secret in the message and nothing left in the result. */
static void
expect_error(const char *name, const char *service, const char *msg)
{
    char *json = fixture(name);
    struct vcap_services v;
    struct jr_err err = JR_ERR_INIT;

    memset(&v, 0xa5, sizeof(v)); /* vcap_parse must initialise it */
    assert_int_equal(vcap_parse(json, service, &v, &err), -1);
    assert_int_equal(err.code, JR_E_CONFIG);
    assert_string_equal(err.msg, msg);
    assert_null(strstr(err.msg, SECRET_MARK));
    assert_released(&v);
    vcap_release(&v);
    free(json);
}

static void
test_rds_only(void **state)
{
    char *json = fixture("rds_only.json");
    struct vcap_services v;
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    assert_int_equal(vcap_parse(json, NULL, &v, &err), 0);
    assert_string_equal(v.rds_uri, RDS_ONLY_URI);
    assert_string_equal(v.rds_name, "notify-api-rds-staging");
    assert_false(v.has_s3);
    assert_null(v.s3_name);
    assert_null(v.bucket);
    assert_null(v.access_key_id);
    assert_null(v.secret_access_key);
    assert_null(v.region);
    vcap_release(&v);
    assert_released(&v);
    free(json);
}

static void
test_one_s3_binding(void **state)
{
    char *json = fixture("one_s3.json");
    struct vcap_services v;
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    assert_int_equal(vcap_parse(json, NULL, &v, &err), 0);
    assert_string_equal(v.rds_uri,
                        "postgres://notifyuser:RDSSECRETpw7Tq@cg-aws-broker-demo.example.us-gov-"
                        "west-1.rds.amazonaws.com:5432/cgawsbrokerdemo");
    assert_string_equal(v.rds_name, "notify-api-rds-demo");
    assert_true(v.has_s3);
    assert_string_equal(v.s3_name, "notify-api-csv-upload-bucket-demo");
    assert_string_equal(v.bucket, "cg-7d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
    assert_string_equal(v.access_key_id, "AKIAS3KEYONEXAMPLE");
    assert_string_equal(v.secret_access_key, "S3SECRETkeyOne/9hQ");
    assert_string_equal(v.region, "us-gov-west-1");
    vcap_release(&v);
    assert_released(&v);
    free(json);
}

/* A single binding is taken whatever its name; a binding without region leaves region NULL. */
static void
test_single_binding_any_name(void **state)
{
    char *json = fixture("s3_no_region.json");
    struct vcap_services v;
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    assert_int_equal(vcap_parse(json, NULL, &v, &err), 0);
    assert_null(v.rds_uri);
    assert_true(v.has_s3);
    assert_string_equal(v.s3_name, "jobreport-bucket");
    assert_string_equal(v.bucket, "cg-noregion");
    assert_string_equal(v.access_key_id, "AKIANOREGION");
    assert_string_equal(v.secret_access_key, "S3SECRETnoRegion");
    assert_null(v.region);
    vcap_release(&v);
    free(json);
}

static void
test_several_s3_one_matches(void **state)
{
    char *json = fixture("several_s3_match.json");
    struct vcap_services v;
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    assert_int_equal(vcap_parse(json, NULL, &v, &err), 0);
    assert_true(v.has_s3);
    assert_string_equal(v.s3_name, "notify-api-csv-upload-bucket-staging");
    assert_string_equal(v.bucket, "cg-csv-upload-bucket");
    assert_string_equal(v.access_key_id, "AKIACSVUPLOAD");
    assert_string_equal(v.secret_access_key, "S3SECRETcsvUpload");
    assert_string_equal(v.region, "us-gov-west-1");
    vcap_release(&v);
    free(json);
}

static void
test_several_s3_none_matches(void **state)
{
    (void)state;
    expect_error("several_s3_nomatch.json", NULL,
                 "VCAP_SERVICES has 2 s3 bindings and none is named '*csv-upload-bucket*'; set "
                 "JOBREPORT_S3_SERVICE");
}

static void
test_several_s3_two_match(void **state)
{
    (void)state;
    expect_error("several_s3_two_match.json", NULL,
                 "VCAP_SERVICES has several s3 bindings named '*csv-upload-bucket*'; set "
                 "JOBREPORT_S3_SERVICE");
}

/* JOBREPORT_S3_SERVICE picks a binding by its exact name, overriding the csv-upload-bucket rule. */
static void
test_named_service(void **state)
{
    static const struct {
        const char *fixture;
        const char *service;
        const char *bucket;
        const char *key;
    } cases[] = {
        {"several_s3_nomatch.json", "notify-api-logo-upload-bucket-staging",
         "cg-logo-upload-bucket", "AKIALOGOUPLOAD"},
        {"several_s3_nomatch.json", "notify-api-contact-list-bucket-staging",
         "cg-contact-list-bucket", "AKIACONTACTLIST"},
        {"several_s3_match.json", "notify-api-logo-upload-bucket-staging", "cg-logo-upload-bucket",
         "AKIALOGOUPLOAD"},
        {"several_s3_two_match.json", "notify-api-csv-upload-bucket-staging",
         "cg-csv-upload-bucket", "AKIACSVUPLOAD"},
        {"several_s3_two_match.json", "notify-api-csv-upload-bucket-staging-old",
         "cg-csv-upload-bucket-old", "AKIACSVUPLOADOLD"},
        {"one_s3.json", "notify-api-csv-upload-bucket-demo",
         "cg-7d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "AKIAS3KEYONEXAMPLE"},
    };

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(cases); i++) {
        char *json = fixture(cases[i].fixture);
        struct vcap_services v;
        struct jr_err err = JR_ERR_INIT;

        assert_int_equal(vcap_parse(json, cases[i].service, &v, &err), 0);
        assert_true(v.has_s3);
        assert_string_equal(v.s3_name, cases[i].service);
        assert_string_equal(v.bucket, cases[i].bucket);
        assert_string_equal(v.access_key_id, cases[i].key);
        vcap_release(&v);
        free(json);
    }
}

static void
test_named_service_missing(void **state)
{
    (void)state;
    /* no binding with that name */
    expect_error(
        "several_s3_match.json", "notify-api-reports",
        "VCAP_SERVICES has no s3 binding named 'notify-api-reports' (JOBREPORT_S3_SERVICE)");
    /* a substring of a binding name is not its name */
    expect_error(
        "several_s3_match.json", "csv-upload-bucket",
        "VCAP_SERVICES has no s3 binding named 'csv-upload-bucket' (JOBREPORT_S3_SERVICE)");
    /* no s3 array at all */
    expect_error("rds_only.json", "notify-api-csv-upload-bucket-demo",
                 "VCAP_SERVICES has no s3 binding named 'notify-api-csv-upload-bucket-demo' "
                 "(JOBREPORT_S3_SERVICE)");
    /* an empty s3 array */
    expect_error("rds_empty_array.json", "x",
                 "VCAP_SERVICES has no s3 binding named 'x' (JOBREPORT_S3_SERVICE)");
}

/* Absent kinds of binding are not errors; other services ("user-provided") are ignored. */
static void
test_absent_bindings(void **state)
{
    static const char *const names[] = {"empty_object.json", "rds_empty_array.json"};

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(names); i++) {
        char *json = fixture(names[i]);
        struct vcap_services v;
        struct jr_err err = JR_ERR_INIT;

        assert_int_equal(vcap_parse(json, NULL, &v, &err), 0);
        assert_released(&v);
        vcap_release(&v);
        free(json);
    }
}

static void
test_user_provided_ignored(void **state)
{
    char *json = fixture("one_s3.json");
    struct vcap_services v;
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    assert_int_equal(vcap_parse(json, NULL, &v, &err), 0);
    assert_string_not_equal(v.bucket, "not-this-one");
    assert_string_not_equal(v.access_key_id, "AKIANOTTHISONE");
    vcap_release(&v);
    free(json);
}

static void
test_malformed(void **state)
{
    (void)state;
    expect_error("malformed_truncated.json", NULL,
                 "invalid VCAP_SERVICES: malformed JSON at line 9, column 0");
    expect_error("malformed_unterminated.json", NULL,
                 "invalid VCAP_SERVICES: malformed JSON at line 1, column 99");
    expect_error("malformed_trailing_comma.json", NULL,
                 "invalid VCAP_SERVICES: malformed JSON at line 3, column 92");
    /* the second "bucket" of one credentials object */
    expect_error("duplicate_keys.json", NULL,
                 "invalid VCAP_SERVICES: malformed JSON at line 9, column 16");
    expect_error("root_array.json", NULL, "invalid VCAP_SERVICES: not a JSON object");
}

static void
test_malformed_inline(void **state)
{
    static const struct {
        const char *json;
        const char *msg;
    } cases[] = {
        {"", "invalid VCAP_SERVICES: malformed JSON at line 1, column 0"},
        /* jansson takes only an object or an array at the top */
        {"null", "invalid VCAP_SERVICES: malformed JSON at line 1, column 4"},
        {"\"s3\"", "invalid VCAP_SERVICES: malformed JSON at line 1, column 4"},
        {"42", "invalid VCAP_SERVICES: malformed JSON at line 1, column 2"},
        {"[]", "invalid VCAP_SERVICES: not a JSON object"},
        {"{\"s3\": null}", "invalid VCAP_SERVICES: 's3' is not an array"},
        {"{\"aws-rds\": \"postgres://u:RDSSECRETx@h/d\"}",
         "invalid VCAP_SERVICES: 'aws-rds' is not an array"},
        {"{\"s3\": []} {\"s3\": []}", "invalid VCAP_SERVICES: malformed JSON at line 1, column 12"},
    };

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(cases); i++) {
        struct vcap_services v;
        struct jr_err err = JR_ERR_INIT;

        assert_int_equal(vcap_parse(cases[i].json, NULL, &v, &err), -1);
        assert_int_equal(err.code, JR_E_CONFIG);
        assert_string_equal(err.msg, cases[i].msg);
        assert_null(strstr(err.msg, SECRET_MARK));
        assert_released(&v);
    }
}

static void
test_wrong_types_rds(void **state)
{
    (void)state;
    expect_error("rds_not_array.json", NULL, "invalid VCAP_SERVICES: 'aws-rds' is not an array");
    expect_error("rds_binding_string.json", NULL,
                 "invalid VCAP_SERVICES: 'aws-rds[0]' is not an object");
    expect_error("rds_credentials_array.json", NULL,
                 "invalid VCAP_SERVICES: 'aws-rds[0].credentials' is not an object");
    expect_error("rds_uri_number.json", NULL,
                 "invalid VCAP_SERVICES: 'aws-rds[0]' name or credentials.uri is not a string");
    expect_error("rds_missing_uri.json", NULL,
                 "invalid VCAP_SERVICES: 'aws-rds[0].credentials.uri' is missing");
}

static void
test_wrong_types_s3(void **state)
{
    (void)state;
    expect_error("s3_not_array.json", NULL, "invalid VCAP_SERVICES: 's3' is not an array");
    expect_error("s3_element_string.json", NULL, "invalid VCAP_SERVICES: 's3[1]' is not an object");
    expect_error("s3_credentials_array.json", NULL,
                 "invalid VCAP_SERVICES: s3 binding 'notify-api-csv-upload-bucket-demo' has no "
                 "credentials object");
    expect_error("s3_no_credentials.json", NULL,
                 "invalid VCAP_SERVICES: s3 binding 'notify-api-csv-upload-bucket-demo' has no "
                 "credentials object");
    expect_error("s3_bucket_number.json", NULL,
                 "invalid VCAP_SERVICES: a credential of s3 binding "
                 "'notify-api-csv-upload-bucket-demo' is not a string");
    expect_error("s3_secret_number.json", NULL,
                 "invalid VCAP_SERVICES: a credential of s3 binding "
                 "'notify-api-csv-upload-bucket-demo' is not a string");
    expect_error("s3_name_number.json", NULL,
                 "invalid VCAP_SERVICES: a credential of s3 binding '(unnamed)' is not a string");
}

static void
test_missing_bucket(void **state)
{
    (void)state;
    expect_error("s3_missing_bucket.json", NULL,
                 "invalid VCAP_SERVICES: s3 binding 'notify-api-csv-upload-bucket-demo' has no "
                 "credentials.bucket");
    expect_error("s3_empty_bucket.json", NULL,
                 "invalid VCAP_SERVICES: s3 binding 'notify-api-csv-upload-bucket-demo' has no "
                 "credentials.bucket");
}

/* A good aws-rds binding followed by a bad s3 binding: the failure releases what was parsed. */
static void
test_failure_releases_everything(void **state)
{
    static const char json[] =
        "{\"aws-rds\": [{\"name\": \"db\", \"credentials\": {\"uri\": \"postgres://u:RDSSECRETz@h/d\"}}],"
        " \"s3\": [{\"name\": \"b\", \"credentials\": {\"access_key_id\": \"AKIA\"}}]}";
    struct vcap_services v;
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    assert_int_equal(vcap_parse(json, NULL, &v, &err), -1);
    assert_string_equal(err.msg, "invalid VCAP_SERVICES: s3 binding 'b' has no credentials.bucket");
    assert_released(&v);
}

/* Whatever the document and the selection, no message contains a secret from the document. */
static void
test_no_secret_in_any_message(void **state)
{
    static const char *const names[] = {
        "duplicate_keys.json",
        "empty_object.json",
        "malformed_trailing_comma.json",
        "malformed_truncated.json",
        "malformed_unterminated.json",
        "one_s3.json",
        "rds_binding_string.json",
        "rds_credentials_array.json",
        "rds_empty_array.json",
        "rds_missing_uri.json",
        "rds_not_array.json",
        "rds_only.json",
        "rds_uri_number.json",
        "root_array.json",
        "s3_bucket_number.json",
        "s3_credentials_array.json",
        "s3_element_string.json",
        "s3_empty_bucket.json",
        "s3_missing_bucket.json",
        "s3_name_number.json",
        "s3_no_credentials.json",
        "s3_no_region.json",
        "s3_not_array.json",
        "s3_secret_number.json",
        "several_s3_match.json",
        "several_s3_nomatch.json",
        "several_s3_two_match.json",
    };
    static const char *const services[] = {NULL, "notify-api-csv-upload-bucket-demo", "nope"};
    size_t failures = 0;

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(names); i++) {
        char *json = fixture(names[i]);

        for (size_t s = 0; s < JR_ARRAY_LEN(services); s++) {
            struct vcap_services v;
            struct jr_err err = JR_ERR_INIT;

            if (vcap_parse(json, services[s], &v, &err) < 0) {
                failures++;
                assert_int_equal(err.code, JR_E_CONFIG);
                if (strstr(err.msg, SECRET_MARK))
                    fail_msg("%s: secret in message '%s'", names[i], err.msg);
            }
            vcap_release(&v);
        }
        free(json);
    }
    /* most of the combinations are errors: the loop really looked at messages */
    assert_true(failures >= 60);
}

static void
test_release_zeroed(void **state)
{
    struct vcap_services v;

    (void)state;
    memset(&v, 0, sizeof(v));
    vcap_release(&v);
    vcap_release(&v);
    assert_released(&v);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rds_only),
        cmocka_unit_test(test_one_s3_binding),
        cmocka_unit_test(test_single_binding_any_name),
        cmocka_unit_test(test_several_s3_one_matches),
        cmocka_unit_test(test_several_s3_none_matches),
        cmocka_unit_test(test_several_s3_two_match),
        cmocka_unit_test(test_named_service),
        cmocka_unit_test(test_named_service_missing),
        cmocka_unit_test(test_absent_bindings),
        cmocka_unit_test(test_user_provided_ignored),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_malformed_inline),
        cmocka_unit_test(test_wrong_types_rds),
        cmocka_unit_test(test_wrong_types_s3),
        cmocka_unit_test(test_missing_bucket),
        cmocka_unit_test(test_failure_releases_everything),
        cmocka_unit_test(test_no_secret_in_any_message),
        cmocka_unit_test(test_release_zeroed),
    };

    return cmocka_run_group_tests_name("vcap", tests, NULL, NULL);
}
