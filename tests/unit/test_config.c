/*
 * Tests of config: config_load driven by a table standing in for the environment (the process
 * environment is set to decoys that must never show up), covering the precedence of every
 * source (SPEC §6): the database target, the bucket and its credentials as one set, region,
 * endpoint, FIPS, retry attempts, sizes and timeouts; the exact error messages, JR_E_CONFIG as
 * their code, and that no secret ever reaches a message; config_db_describe's redaction,
 * config_s3_params, config_parse_size and config_parse_duration.
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
#include "config.h"
#include "err.h"
#include "storage.h"
#include "xalloc.h"

#include "banned.h"

/* Every secret fed to config_load contains this marker. */
#define SECRET_MARK "SECRET"

#define AWS_KEY    "AKIAAWSENVKEY"
#define AWS_SECRET "AWSSECRETenv/k3y+Q"
#define AWS_TOKEN  "AWSSECRETsessionTok3n"
#define CSV_KEY    "AKIACSVENVKEY"
#define CSV_SECRET "CSVSECRETenv/9x"
#define VCAP_RDS_URI                                                                               \
    "postgres://notifyuser:RDSSECRETpw7Tq@cg-aws-broker-demo.example.us-gov-west-1.rds.amazonaws.com:5432/cgawsbrokerdemo"
#define DB_URL                                                                                     \
    "postgresql://jobreport:DBSECRETpassw0rd@db.internal:6432/notification_api?sslmode=verify-full"

struct env_var {
    const char *name;
    const char *value;
};

/* The environment config_load sees: a NULL-name terminated table. */
static const struct env_var *fake_env;

static const char *
fake_getenv(const char *name)
{
    for (const struct env_var *e = fake_env; e && e->name; e++)
        if (strcmp(e->name, name) == 0)
            return e->value;
    return NULL;
}

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
    fclose(f);
    free(path);
    return buf_detach(&b, NULL);
}

/* Fixture contents, loaded once in main. */
static char *vcap_rds_only;
static char *vcap_one_s3;
static char *vcap_several_nomatch;
static char *vcap_no_region;
static char *vcap_malformed;

static void
load_ok(const struct env_var *env, const char *flag, struct jr_config *cfg)
{
    struct jr_err err = JR_ERR_INIT;

    fake_env = env;
    if (config_load(cfg, flag, fake_getenv, &err) < 0)
        fail_msg("config_load failed: %s", err.msg);
}

static void
assert_zeroed(const struct jr_config *cfg)
{
    assert_null(cfg->db_conninfo);
    assert_null(cfg->db_source);
    assert_null(cfg->bucket);
    assert_null(cfg->bucket_source);
    assert_null(cfg->access_key_id);
    assert_null(cfg->secret_access_key);
    assert_null(cfg->session_token);
    assert_null(cfg->region);
    assert_null(cfg->endpoint_url);
    assert_null(cfg->ca_bundle);
}

/* Expect failure with exactly msg, JR_E_CONFIG, no secret in the message, nothing kept in cfg. */
static void
load_fails(const struct env_var *env, const char *flag, const char *msg)
{
    struct jr_config cfg;
    struct jr_err err = JR_ERR_INIT;

    fake_env = env;
    memset(&cfg, 0x5a, sizeof(cfg));
    assert_int_equal(config_load(&cfg, flag, fake_getenv, &err), -1);
    assert_int_equal(err.code, JR_E_CONFIG);
    assert_string_equal(err.msg, msg);
    assert_null(strstr(err.msg, SECRET_MARK));
    assert_zeroed(&cfg);
    config_release(&cfg);
}

/* ---- database ---- */

static void
test_db_database_url_first(void **state)
{
    const struct env_var env[] = {
        {"DATABASE_URL", DB_URL},
        {"PGHOST", "pg.example"},
        {"PGUSER", "someone"},
        {"VCAP_SERVICES", vcap_rds_only},
        {NULL, NULL},
    };
    struct jr_config cfg;

    (void)state;
    load_ok(env, NULL, &cfg);
    assert_string_equal(cfg.db_conninfo, DB_URL);
    assert_string_equal(cfg.db_source, "DATABASE_URL");
    config_release(&cfg);
}

/* postgres:// is taken as it is (libpq accepts both URI schemes). */
static void
test_db_postgres_scheme(void **state)
{
    const struct env_var env[] = {
        {"DATABASE_URL", "postgres://u:DBSECRETx@h/d"},
        {NULL, NULL},
    };
    struct jr_config cfg;

    (void)state;
    load_ok(env, NULL, &cfg);
    assert_string_equal(cfg.db_conninfo, "postgres://u:DBSECRETx@h/d");
    assert_string_equal(cfg.db_source, "DATABASE_URL");
    config_release(&cfg);
}

/* Any of libpq's targeting variables leaves the target to libpq, even with an aws-rds binding. */
static void
test_db_pg_environment(void **state)
{
    static const char *const vars[] = {"PGHOST",     "PGHOSTADDR", "PGPORT",
                                       "PGDATABASE", "PGUSER",     "PGSERVICE"};

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(vars); i++) {
        const struct env_var env[] = {
            {vars[i], "x"},
            {"VCAP_SERVICES", vcap_rds_only},
            {NULL, NULL},
        };
        struct jr_config cfg;

        load_ok(env, NULL, &cfg);
        assert_string_equal(cfg.db_conninfo, "");
        assert_string_equal(cfg.db_source, "PG* environment");
        config_release(&cfg);
    }
}

static void
test_db_vcap(void **state)
{
    const struct env_var env[] = {
        {"DATABASE_URL", ""}, /* empty means unset */
        {"PGHOST", ""},
        {"VCAP_SERVICES", vcap_one_s3},
        {NULL, NULL},
    };
    struct jr_config cfg;

    (void)state;
    load_ok(env, NULL, &cfg);
    assert_string_equal(cfg.db_conninfo, VCAP_RDS_URI);
    assert_string_equal(cfg.db_source, "VCAP_SERVICES aws-rds");
    config_release(&cfg);
}

static void
test_db_libpq_defaults(void **state)
{
    const struct env_var env[] = {
        {"VCAP_SERVICES", "{}"},
        {NULL, NULL},
    };
    const struct env_var none[] = {{NULL, NULL}};
    struct jr_config cfg;

    (void)state;
    load_ok(none, NULL, &cfg);
    assert_string_equal(cfg.db_conninfo, "");
    assert_string_equal(cfg.db_source, "libpq defaults");
    config_release(&cfg);
    load_ok(env, NULL, &cfg);
    assert_string_equal(cfg.db_conninfo, "");
    assert_string_equal(cfg.db_source, "libpq defaults");
    config_release(&cfg);
}

/* ---- bucket and credentials ---- */

static const struct env_var all_sources[] = {
    {"JOBREPORT_BUCKET", "s3://from-jobreport-bucket"},
    {"AWS_ACCESS_KEY_ID", AWS_KEY},
    {"AWS_SECRET_ACCESS_KEY", AWS_SECRET},
    {"AWS_SESSION_TOKEN", AWS_TOKEN},
    {"AWS_REGION", "us-gov-west-1"},
    {"AWS_DEFAULT_REGION", "us-west-2"},
    {"CSV_BUCKET_NAME", "from-csv-bucket-name"},
    {"CSV_AWS_ACCESS_KEY_ID", CSV_KEY},
    {"CSV_AWS_SECRET_ACCESS_KEY", CSV_SECRET},
    {"CSV_AWS_REGION", "eu-west-1"},
    {NULL, NULL},
};

static void
test_bucket_flag_first(void **state)
{
    struct jr_config cfg;

    (void)state;
    load_ok(all_sources, "s3://from-flag/reports", &cfg);
    assert_string_equal(cfg.bucket, "s3://from-flag/reports");
    assert_string_equal(cfg.bucket_source, "--bucket");
    assert_string_equal(cfg.access_key_id, AWS_KEY);
    assert_string_equal(cfg.secret_access_key, AWS_SECRET);
    assert_string_equal(cfg.session_token, AWS_TOKEN);
    assert_string_equal(cfg.region, "us-gov-west-1");
    config_release(&cfg);
}

static void
test_bucket_jobreport_bucket(void **state)
{
    struct jr_config cfg;

    (void)state;
    load_ok(all_sources, NULL, &cfg);
    assert_string_equal(cfg.bucket, "s3://from-jobreport-bucket");
    assert_string_equal(cfg.bucket_source, "JOBREPORT_BUCKET");
    assert_string_equal(cfg.access_key_id, AWS_KEY);
    assert_string_equal(cfg.secret_access_key, AWS_SECRET);
    assert_string_equal(cfg.session_token, AWS_TOKEN);
    assert_string_equal(cfg.region, "us-gov-west-1");
    config_release(&cfg);
}

/* The flag and JOBREPORT_BUCKET also name local directories. */
static void
test_bucket_local_directory(void **state)
{
    const struct env_var env[] = {
        {"JOBREPORT_BUCKET", "/srv/jobreport/bucket"},
        {NULL, NULL},
    };
    struct jr_config cfg;

    (void)state;
    load_ok(env, NULL, &cfg);
    assert_string_equal(cfg.bucket, "/srv/jobreport/bucket");
    assert_string_equal(cfg.bucket_source, "JOBREPORT_BUCKET");
    assert_null(cfg.access_key_id);
    config_release(&cfg);
    load_ok(env, "file:demo/bucket", &cfg);
    assert_string_equal(cfg.bucket, "file:demo/bucket");
    assert_string_equal(cfg.bucket_source, "--bucket");
    config_release(&cfg);
}

/* AWS_REGION, then AWS_DEFAULT_REGION, then us-east-1. */
static void
test_bucket_region_sources(void **state)
{
    const struct env_var both[] = {
        {"JOBREPORT_BUCKET", "s3://b"},
        {"AWS_REGION", "us-gov-west-1"},
        {"AWS_DEFAULT_REGION", "us-west-2"},
        {NULL, NULL},
    };
    const struct env_var def_only[] = {
        {"JOBREPORT_BUCKET", "s3://b"},
        {"AWS_REGION", ""},
        {"AWS_DEFAULT_REGION", "us-west-2"},
        {NULL, NULL},
    };
    const struct env_var neither[] = {
        {"JOBREPORT_BUCKET", "s3://b"},
        {NULL, NULL},
    };
    const struct env_var no_bucket[] = {
        {"AWS_REGION", "us-gov-west-1"},
        {NULL, NULL},
    };
    struct jr_config cfg;

    (void)state;
    load_ok(both, NULL, &cfg);
    assert_string_equal(cfg.region, "us-gov-west-1");
    config_release(&cfg);
    load_ok(def_only, NULL, &cfg);
    assert_string_equal(cfg.region, "us-west-2");
    config_release(&cfg);
    load_ok(neither, NULL, &cfg);
    assert_string_equal(cfg.region, "us-east-1");
    config_release(&cfg);
    load_ok(no_bucket, NULL, &cfg);
    assert_null(cfg.bucket);
    assert_string_equal(cfg.region, "us-east-1");
    config_release(&cfg);
}

/* CSV_BUCKET_NAME brings its own set: CSV_AWS_* only, never AWS_* (not even the region). */
static void
test_bucket_csv_bucket_name(void **state)
{
    const struct env_var env[] = {
        {"AWS_ACCESS_KEY_ID", AWS_KEY},
        {"AWS_SECRET_ACCESS_KEY", AWS_SECRET},
        {"AWS_SESSION_TOKEN", AWS_TOKEN},
        {"AWS_REGION", "us-gov-west-1"},
        {"CSV_BUCKET_NAME", "notify-csv-upload"},
        {"CSV_AWS_ACCESS_KEY_ID", CSV_KEY},
        {"CSV_AWS_SECRET_ACCESS_KEY", CSV_SECRET},
        {"CSV_AWS_REGION", "eu-west-1"},
        {"VCAP_SERVICES", vcap_one_s3},
        {NULL, NULL},
    };
    const struct env_var no_region[] = {
        {"AWS_REGION", "us-gov-west-1"},
        {"CSV_BUCKET_NAME", "s3://notify-csv-upload"},
        {NULL, NULL},
    };
    struct jr_config cfg;

    (void)state;
    load_ok(env, NULL, &cfg);
    assert_string_equal(cfg.bucket, "s3://notify-csv-upload");
    assert_string_equal(cfg.bucket_source, "CSV_BUCKET_NAME");
    assert_string_equal(cfg.access_key_id, CSV_KEY);
    assert_string_equal(cfg.secret_access_key, CSV_SECRET);
    assert_null(cfg.session_token);
    assert_string_equal(cfg.region, "eu-west-1");
    config_release(&cfg);

    load_ok(no_region, NULL, &cfg);
    assert_string_equal(cfg.bucket, "s3://notify-csv-upload"); /* not s3://s3://... */
    assert_null(cfg.access_key_id);
    assert_null(cfg.secret_access_key);
    assert_string_equal(cfg.region, "us-east-1");
    config_release(&cfg);
}

static void
test_bucket_vcap(void **state)
{
    const struct env_var env[] = {
        {"JOBREPORT_BUCKET", ""},         {"CSV_BUCKET_NAME", ""},
        {"AWS_ACCESS_KEY_ID", AWS_KEY},   {"AWS_SECRET_ACCESS_KEY", AWS_SECRET},
        {"AWS_SESSION_TOKEN", AWS_TOKEN}, {"AWS_REGION", "us-west-2"},
        {"VCAP_SERVICES", vcap_one_s3},   {NULL, NULL},
    };
    const struct env_var no_region[] = {
        {"AWS_REGION", "us-west-2"},
        {"VCAP_SERVICES", vcap_no_region},
        {NULL, NULL},
    };
    const struct env_var named[] = {
        {"VCAP_SERVICES", vcap_several_nomatch},
        {"JOBREPORT_S3_SERVICE", "notify-api-logo-upload-bucket-staging"},
        {NULL, NULL},
    };
    struct jr_config cfg;

    (void)state;
    load_ok(env, NULL, &cfg);
    assert_string_equal(cfg.bucket, "s3://cg-7d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
    assert_string_equal(cfg.bucket_source, "VCAP_SERVICES s3");
    assert_string_equal(cfg.access_key_id, "AKIAS3KEYONEXAMPLE");
    assert_string_equal(cfg.secret_access_key, "S3SECRETkeyOne/9hQ");
    assert_null(cfg.session_token);
    assert_string_equal(cfg.region, "us-gov-west-1");
    config_release(&cfg);

    load_ok(no_region, NULL, &cfg);
    assert_string_equal(cfg.bucket, "s3://cg-noregion");
    assert_string_equal(cfg.region, "us-east-1");
    config_release(&cfg);

    load_ok(named, NULL, &cfg);
    assert_string_equal(cfg.bucket, "s3://cg-logo-upload-bucket");
    assert_string_equal(cfg.access_key_id, "AKIALOGOUPLOAD");
    assert_string_equal(cfg.secret_access_key, "S3SECRETlogoUpload");
    config_release(&cfg);
}

/* A higher source that names a bucket takes no credential from a lower one. */
static void
test_bucket_credentials_never_mix(void **state)
{
    const struct env_var env[] = {
        {"JOBREPORT_BUCKET", "s3://explicit"},
        {"CSV_AWS_ACCESS_KEY_ID", CSV_KEY},
        {"CSV_AWS_SECRET_ACCESS_KEY", CSV_SECRET},
        {"CSV_AWS_REGION", "eu-west-1"},
        {"VCAP_SERVICES", vcap_one_s3},
        {NULL, NULL},
    };
    struct jr_config cfg;

    (void)state;
    load_ok(env, NULL, &cfg);
    assert_string_equal(cfg.bucket, "s3://explicit");
    assert_null(cfg.access_key_id); /* an instance role or the default chain, not CSV/VCAP keys */
    assert_null(cfg.secret_access_key);
    assert_null(cfg.session_token);
    assert_string_equal(cfg.region, "us-east-1");
    config_release(&cfg);
}

static void
test_bucket_none(void **state)
{
    const struct env_var env[] = {
        {"AWS_ACCESS_KEY_ID", AWS_KEY},
        {"AWS_SECRET_ACCESS_KEY", AWS_SECRET},
        {"VCAP_SERVICES", vcap_rds_only},
        {NULL, NULL},
    };
    struct jr_config cfg;

    (void)state;
    load_ok(env, NULL, &cfg);
    assert_null(cfg.bucket);
    assert_null(cfg.bucket_source);
    assert_null(cfg.access_key_id);
    assert_null(cfg.secret_access_key);
    assert_string_equal(cfg.region, "us-east-1");
    config_release(&cfg);
}

/*
 * SPEC §6: the bucket comes from the first source that names one. When the flag,
 * JOBREPORT_BUCKET or CSV_BUCKET_NAME names it, the VCAP_SERVICES s3 bindings are not consulted,
 * so their ambiguity (several bindings, none "*csv-upload-bucket*") must not fail the run.
 */
static void
test_bucket_higher_source_ignores_vcap_ambiguity(void **state)
{
    const struct env_var by_env[] = {
        {"JOBREPORT_BUCKET", "s3://explicit-bucket"},
        {"VCAP_SERVICES", vcap_several_nomatch},
        {NULL, NULL},
    };
    const struct env_var by_csv[] = {
        {"CSV_BUCKET_NAME", "explicit-csv"},
        {"VCAP_SERVICES", vcap_several_nomatch},
        {NULL, NULL},
    };
    const struct env_var by_flag[] = {
        {"VCAP_SERVICES", vcap_several_nomatch},
        {NULL, NULL},
    };
    struct jr_config cfg;

    (void)state;
    load_ok(by_env, NULL, &cfg);
    assert_string_equal(cfg.bucket, "s3://explicit-bucket");
    config_release(&cfg);
    load_ok(by_csv, NULL, &cfg);
    assert_string_equal(cfg.bucket, "s3://explicit-csv");
    config_release(&cfg);
    load_ok(by_flag, "s3://from-flag", &cfg);
    assert_string_equal(cfg.bucket, "s3://from-flag");
    config_release(&cfg);
}

static void
test_bucket_invalid(void **state)
{
    const struct env_var none[] = {{NULL, NULL}};
    const struct env_var empty_name[] = {{"JOBREPORT_BUCKET", "s3://"}, {NULL, NULL}};
    const struct env_var slash_name[] = {{"JOBREPORT_BUCKET", "s3:///reports"}, {NULL, NULL}};
    const struct env_var csv_empty[] = {{"CSV_BUCKET_NAME", "s3://"}, {NULL, NULL}};

    (void)state;
    load_fails(none, "", "invalid --bucket: empty bucket");
    load_fails(none, "s3://", "invalid bucket 's3://' from --bucket: no bucket name");
    load_fails(empty_name, NULL, "invalid bucket 's3://' from JOBREPORT_BUCKET: no bucket name");
    load_fails(slash_name, NULL,
               "invalid bucket 's3:///reports' from JOBREPORT_BUCKET: no bucket name");
    load_fails(csv_empty, NULL, "invalid bucket 's3://' from CSV_BUCKET_NAME: no bucket name");
}

static void
test_bucket_half_credentials(void **state)
{
    static const char half_vcap[] =
        "{\"s3\": [{\"name\": \"notify-api-csv-upload-bucket-x\", \"credentials\": "
        "{\"bucket\": \"cg-half\", \"secret_access_key\": \"VCAPSECREThalf\"}}]}";
    const struct env_var key_only[] = {
        {"JOBREPORT_BUCKET", "s3://b"},
        {"AWS_ACCESS_KEY_ID", AWS_KEY},
        {"AWS_SESSION_TOKEN", AWS_TOKEN},
        {NULL, NULL},
    };
    const struct env_var secret_only[] = {
        {"AWS_SECRET_ACCESS_KEY", AWS_SECRET},
        {"AWS_SESSION_TOKEN", AWS_TOKEN},
        {NULL, NULL},
    };
    const struct env_var csv_key_only[] = {
        {"CSV_BUCKET_NAME", "notify-csv"},
        {"CSV_AWS_ACCESS_KEY_ID", CSV_KEY},
        {"AWS_SECRET_ACCESS_KEY", AWS_SECRET}, /* not part of the CSV set */
        {NULL, NULL},
    };
    const struct env_var csv_secret_only[] = {
        {"CSV_BUCKET_NAME", "notify-csv"},
        {"CSV_AWS_SECRET_ACCESS_KEY", CSV_SECRET},
        {"AWS_ACCESS_KEY_ID", AWS_KEY},
        {NULL, NULL},
    };
    const struct env_var vcap_secret_only[] = {
        {"VCAP_SERVICES", half_vcap},
        {NULL, NULL},
    };

    (void)state;
    load_fails(key_only, NULL,
               "incomplete S3 credentials from JOBREPORT_BUCKET: an access key id needs its secret "
               "access key and the other way round");
    load_fails(secret_only, "s3://b",
               "incomplete S3 credentials from --bucket: an access key id needs its secret access "
               "key and the other way round");
    load_fails(csv_key_only, NULL,
               "incomplete S3 credentials from CSV_BUCKET_NAME: an access key id needs its secret "
               "access key and the other way round");
    load_fails(csv_secret_only, NULL,
               "incomplete S3 credentials from CSV_BUCKET_NAME: an access key id needs its secret "
               "access key and the other way round");
    load_fails(vcap_secret_only, NULL,
               "incomplete S3 credentials from VCAP_SERVICES s3: an access key id needs its secret "
               "access key and the other way round");
}

/* No credentials at all is fine for s3:// (the default chain); the check is about half sets. */
static void
test_bucket_no_credentials(void **state)
{
    const struct env_var env[] = {{"JOBREPORT_BUCKET", "s3://b"}, {NULL, NULL}};
    struct jr_config cfg;

    (void)state;
    load_ok(env, NULL, &cfg);
    assert_string_equal(cfg.bucket, "s3://b");
    assert_null(cfg.access_key_id);
    assert_null(cfg.secret_access_key);
    config_release(&cfg);
}

static void
test_vcap_error_propagates(void **state)
{
    const struct env_var env[] = {
        {"DATABASE_URL", DB_URL},
        {"VCAP_SERVICES", vcap_malformed},
        {NULL, NULL},
    };
    const struct env_var missing[] = {
        {"VCAP_SERVICES", vcap_one_s3},
        {"JOBREPORT_S3_SERVICE", "notify-api-reports"},
        {NULL, NULL},
    };

    (void)state;
    load_fails(env, NULL, "invalid VCAP_SERVICES: malformed JSON at line 9, column 0");
    load_fails(missing, NULL,
               "VCAP_SERVICES has no s3 binding named 'notify-api-reports' (JOBREPORT_S3_SERVICE)");
}

/* ---- S3 settings ---- */

static void
test_s3_defaults(void **state)
{
    const struct env_var env[] = {{"JOBREPORT_BUCKET", "s3://b"}, {NULL, NULL}};
    struct jr_config cfg;

    (void)state;
    load_ok(env, NULL, &cfg);
    assert_null(cfg.endpoint_url);
    assert_false(cfg.use_fips);
    assert_null(cfg.ca_bundle);
    assert_int_equal(cfg.max_attempts, 3);
    assert_int_equal(cfg.connect_timeout_s, 10);
    assert_int_equal(cfg.stall_timeout_s, 30);
    assert_int_equal(cfg.part_size, 8u << 20);
    assert_int_equal(cfg.statement_timeout_s, 3600);
    assert_true(cfg.max_file_bytes == (int64_t)256 << 20);
    assert_true(cfg.max_memory == (size_t)4 << 30);
    config_release(&cfg);
}

static void
test_s3_endpoint(void **state)
{
    static const struct {
        const char *s3;
        const char *generic;
        const char *want;
    } cases[] = {
        {"http://127.0.0.1:9000", "https://generic.example", "http://127.0.0.1:9000"},
        {NULL, "https://generic.example", "https://generic.example"},
        {"", "http://localhost:4566", "http://localhost:4566"},
        {"https://s3.local", NULL, "https://s3.local"},
        {NULL, NULL, NULL},
    };

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(cases); i++) {
        const struct env_var env[] = {
            {"JOBREPORT_BUCKET", "s3://b"},
            {"AWS_ENDPOINT_URL_S3", cases[i].s3}, /* a NULL value reads as unset */
            {"AWS_ENDPOINT_URL", cases[i].generic},
            {NULL, NULL},
        };
        struct jr_config cfg;

        load_ok(env, NULL, &cfg);
        if (cases[i].want)
            assert_string_equal(cfg.endpoint_url, cases[i].want);
        else
            assert_null(cfg.endpoint_url);
        config_release(&cfg);
    }
}

static void
test_s3_endpoint_bad_scheme(void **state)
{
    const struct env_var ftp[] = {{"AWS_ENDPOINT_URL", "ftp://files.example"}, {NULL, NULL}};
    const struct env_var bare[] = {{"AWS_ENDPOINT_URL_S3", "localhost:9000"}, {NULL, NULL}};
    /* the S3-specific one wins, so its bad value fails even with a good generic one */
    const struct env_var s3_bad[] = {
        {"AWS_ENDPOINT_URL_S3", "s3.local"},
        {"AWS_ENDPOINT_URL", "https://good.example"},
        {NULL, NULL},
    };

    (void)state;
    load_fails(ftp, NULL,
               "invalid S3 endpoint 'ftp://files.example': expected an http:// or https:// URL");
    load_fails(bare, NULL,
               "invalid S3 endpoint 'localhost:9000': expected an http:// or https:// URL");
    load_fails(s3_bad, NULL, "invalid S3 endpoint 's3.local': expected an http:// or https:// URL");
}

static void
test_s3_fips(void **state)
{
    static const struct {
        const char *value;
        bool want;
    } good[] = {{"true", true}, {"1", true}, {"false", false}, {"0", false}, {"", false}};

    static const char *const bad[] = {"yes", "on", "2", "tru", "true ", "garbage"};

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(good); i++) {
        const struct env_var env[] = {{"AWS_USE_FIPS_ENDPOINT", good[i].value}, {NULL, NULL}};
        struct jr_config cfg;

        load_ok(env, NULL, &cfg);
        assert_int_equal(cfg.use_fips, good[i].want);
        config_release(&cfg);
    }
    for (size_t i = 0; i < JR_ARRAY_LEN(bad); i++) {
        const struct env_var env[] = {{"AWS_USE_FIPS_ENDPOINT", bad[i]}, {NULL, NULL}};
        char *msg = xasprintf("invalid AWS_USE_FIPS_ENDPOINT '%s': expected true or false", bad[i]);

        load_fails(env, NULL, msg);
        free(msg);
    }
}

static void
test_s3_max_attempts(void **state)
{
    static const struct {
        const char *value;
        unsigned want;
    } good[] = {{"1", 1}, {"3", 3}, {"5", 5}, {"20", 20}, {"", 3}};

    static const char *const bad[] = {
        "0", "21", "-1", "abc", "3x", "2.5", "1e1", "99999999999999999999", "4294967297"};

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(good); i++) {
        const struct env_var env[] = {{"AWS_MAX_ATTEMPTS", good[i].value}, {NULL, NULL}};
        struct jr_config cfg;

        load_ok(env, NULL, &cfg);
        assert_int_equal(cfg.max_attempts, good[i].want);
        config_release(&cfg);
    }
    for (size_t i = 0; i < JR_ARRAY_LEN(bad); i++) {
        const struct env_var env[] = {{"AWS_MAX_ATTEMPTS", bad[i]}, {NULL, NULL}};
        char *msg = xasprintf("invalid AWS_MAX_ATTEMPTS '%s': expected a whole number from 1 to 20",
                              bad[i]);

        load_fails(env, NULL, msg);
        free(msg);
    }
}

static void
test_s3_ca_bundle(void **state)
{
    const struct env_var both[] = {
        {"AWS_CA_BUNDLE", "/etc/ssl/aws-ca.pem"},
        {"SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"},
        {NULL, NULL},
    };
    const struct env_var ssl_only[] = {
        {"SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"},
        {NULL, NULL},
    };
    struct jr_config cfg;

    (void)state;
    load_ok(both, NULL, &cfg);
    assert_string_equal(cfg.ca_bundle, "/etc/ssl/aws-ca.pem");
    config_release(&cfg);
    load_ok(ssl_only, NULL, &cfg);
    assert_string_equal(cfg.ca_bundle, "/etc/ssl/certs/ca-certificates.crt");
    config_release(&cfg);
}

/* ---- tunables ---- */

static void
test_tunable_sizes(void **state)
{
    static const struct {
        const char *file;
        const char *memory;
        int64_t want_file;
        uint64_t want_memory;
    } cases[] = {
        {"256M", "4G", (int64_t)256 << 20, (uint64_t)4 << 30},
        {"1G", "256M", (int64_t)1 << 30, (uint64_t)256 << 20},
        {"512K", "512MiB", (int64_t)512 << 10, (uint64_t)512 << 20},
        {"1000", "16g", 1000, (uint64_t)16 << 30},
        {"1", "1", 1, 1},
    };

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(cases); i++) {
        const struct env_var env[] = {
            {"JOBREPORT_MAX_FILE_SIZE", cases[i].file},
            {"JOBREPORT_MAX_MEMORY", cases[i].memory},
            {NULL, NULL},
        };
        struct jr_config cfg;

        load_ok(env, NULL, &cfg);
        assert_true(cfg.max_file_bytes == cases[i].want_file);
        assert_true((uint64_t)cfg.max_memory == cases[i].want_memory);
        config_release(&cfg);
    }
}

static void
test_tunable_sizes_bad(void **state)
{
    static const char *const bad[] = {"garbage", "0",     "256X", "-1", "1.5G",
                                      " 256M",   "256M ", "M",    "4T", "9223372036854775808",
                                      "8E",      "0K"};

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(bad); i++) {
        const struct env_var file[] = {{"JOBREPORT_MAX_FILE_SIZE", bad[i]}, {NULL, NULL}};
        const struct env_var mem[] = {{"JOBREPORT_MAX_MEMORY", bad[i]}, {NULL, NULL}};
        char *msg;

        msg = xasprintf("invalid JOBREPORT_MAX_FILE_SIZE '%s': expected a size like 256M", bad[i]);
        load_fails(file, NULL, msg);
        free(msg);
        if (strcmp(bad[i], "9223372036854775808") == 0)
            continue; /* 8 EiB fits a size_t on 64-bit machines */
        msg = xasprintf("invalid JOBREPORT_MAX_MEMORY '%s': expected a size like 4G", bad[i]);
        load_fails(mem, NULL, msg);
        free(msg);
    }
}

static void
test_tunable_statement_timeout(void **state)
{
    const struct env_var zero[] = {{"JOBREPORT_STATEMENT_TIMEOUT", "0"}, {NULL, NULL}};
    const struct env_var week[] = {{"JOBREPORT_STATEMENT_TIMEOUT", "604800"}, {NULL, NULL}};
    const struct env_var over[] = {{"JOBREPORT_STATEMENT_TIMEOUT", "604801"}, {NULL, NULL}};
    const struct env_var unit[] = {{"JOBREPORT_STATEMENT_TIMEOUT", "1h"}, {NULL, NULL}};
    struct jr_config cfg;

    (void)state;
    load_ok(zero, NULL, &cfg);
    assert_int_equal(cfg.statement_timeout_s, 0);
    config_release(&cfg);
    load_ok(week, NULL, &cfg);
    assert_int_equal(cfg.statement_timeout_s, 604800);
    config_release(&cfg);
    load_fails(over, NULL,
               "invalid JOBREPORT_STATEMENT_TIMEOUT '604801': expected a whole number from 0 to "
               "604800");
    load_fails(
        unit, NULL,
        "invalid JOBREPORT_STATEMENT_TIMEOUT '1h': expected a whole number from 0 to 604800");
}

/* ---- secrets ---- */

/* Every failing configuration, each also carrying every kind of secret: none reaches a message. */
static void
test_no_secret_in_messages(void **state)
{
    static const char half_vcap[] =
        "{\"aws-rds\": [{\"name\": \"db\", \"credentials\": {\"uri\": \"postgres://u:RDSSECRETa@h/d\"}}],"
        " \"s3\": [{\"name\": \"x-csv-upload-bucket\", \"credentials\": "
        "{\"bucket\": \"b\", \"access_key_id\": \"AKIAV\"}}]}";
    static const char bad_vcap[] =
        "{\"aws-rds\": [{\"name\": \"db\", \"credentials\": {\"uri\": \"postgres://u:RDSSECRETb@h/d\"";
    /* Up to two variables per problem; "-" pads (a NULL value reads as unset). Earlier entries
     * shadow the secret-laden defaults that follow. */
    static const struct env_var problems[][2] = {
        {{"AWS_MAX_ATTEMPTS", "0"}, {"-", NULL}},
        {{"AWS_USE_FIPS_ENDPOINT", "maybe"}, {"-", NULL}},
        {{"AWS_ENDPOINT_URL", "ftp://x"}, {"-", NULL}},
        {{"JOBREPORT_MAX_FILE_SIZE", "lots"}, {"-", NULL}},
        {{"JOBREPORT_MAX_MEMORY", "lots"}, {"-", NULL}},
        {{"JOBREPORT_STATEMENT_TIMEOUT", "-5"}, {"-", NULL}},
        {{"JOBREPORT_BUCKET", "s3://"}, {"-", NULL}},
        {{"JOBREPORT_BUCKET", "s3://b"}, {"AWS_SECRET_ACCESS_KEY", ""}},
        {{"JOBREPORT_BUCKET", "s3://b"}, {"AWS_ACCESS_KEY_ID", ""}},
        {{"CSV_BUCKET_NAME", "b"}, {"CSV_AWS_SECRET_ACCESS_KEY", ""}},
        {{"VCAP_SERVICES", half_vcap}, {"-", NULL}},
        {{"VCAP_SERVICES", bad_vcap}, {"-", NULL}},
        {{"JOBREPORT_S3_SERVICE", "none-such"}, {"-", NULL}},
    };

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(problems); i++) {
        const struct env_var env[] = {
            problems[i][0],
            problems[i][1],
            {"DATABASE_URL", DB_URL},
            {"PGPASSWORD", "PGSECRETpw"},
            {"AWS_ACCESS_KEY_ID", AWS_KEY},
            {"AWS_SECRET_ACCESS_KEY", AWS_SECRET},
            {"AWS_SESSION_TOKEN", AWS_TOKEN},
            {"CSV_AWS_ACCESS_KEY_ID", CSV_KEY},
            {"CSV_AWS_SECRET_ACCESS_KEY", CSV_SECRET},
            {"VCAP_SERVICES", vcap_one_s3},
            {NULL, NULL},
        };
        struct jr_config cfg;
        struct jr_err err = JR_ERR_INIT;

        fake_env = env;
        if (config_load(&cfg, NULL, fake_getenv, &err) == 0)
            fail_msg("problem %zu (%s) was accepted", i, problems[i][0].name);
        assert_int_equal(err.code, JR_E_CONFIG);
        if (strstr(err.msg, SECRET_MARK) || strstr(err.msg, "AKIA"))
            fail_msg("problem %zu: secret in '%s'", i, err.msg);
    }
}

/* ---- config_db_describe ---- */

/* The words of s, sorted, joined by '|': the set of key=value pairs, whatever their order. */
static char *
word_set(const char *s)
{
    char *copy = xstrdup(s);
    char *words[32];
    size_t n = 0;
    char *save = NULL;
    struct buf b = BUF_INIT;

    for (char *w = strtok_r(copy, " ", &save); w && n < 32; w = strtok_r(NULL, " ", &save))
        words[n++] = w;
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(words[j - 1], words[j]) > 0; j--) {
            char *t = words[j];

            words[j] = words[j - 1];
            words[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++)
        buf_printf(&b, "%s%s", i ? "|" : "", words[i]);
    free(copy);
    return buf_detach(&b, NULL);
}

static void
test_db_describe_redacts(void **state)
{
    static const struct {
        const char *conninfo;
        const char *words; /* sorted */
    } cases[] = {
        {DB_URL,
         "dbname=notification_api|host=db.internal|password=<redacted>|port=6432|user=jobreport"},
        {VCAP_RDS_URI, "dbname=cgawsbrokerdemo|host=cg-aws-broker-demo.example.us-gov-west-1.rds."
                       "amazonaws.com|password=<redacted>|port=5432|user=notifyuser"},
        {"postgres://u:DB%53ECRET%2Fpct@h.example/d",
         "dbname=d|host=h.example|password=<redacted>|user=u"},
        {"postgresql://h.example/d?user=u&password=DBSECRETquery",
         "dbname=d|host=h.example|password=<redacted>|user=u"},
        {"host=h.example port=5433 dbname=d user=u password=DBSECRETkv",
         "dbname=d|host=h.example|password=<redacted>|port=5433|user=u"},
        {"host=h.example password='DBSECRET with spaces' user=u",
         "host=h.example|password=<redacted>|user=u"},
        {"hostaddr=10.0.0.5 password=DBSECRETaddr", "hostaddr=10.0.0.5|password=<redacted>"},
    };

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(cases); i++) {
        struct jr_config cfg;
        char *d;
        char *w;

        memset(&cfg, 0, sizeof(cfg));
        cfg.db_conninfo = xstrdup(cases[i].conninfo);
        d = config_db_describe(&cfg);
        if (strstr(d, SECRET_MARK))
            fail_msg("secret in '%s'", d);
        w = word_set(d);
        assert_string_equal(w, cases[i].words);
        free(w);
        free(d);
        config_release(&cfg);
    }
}

/* config.h documents the form "host=h port=p dbname=d user=u". */
static void
test_db_describe_order(void **state)
{
    struct jr_config cfg;
    char got[256];
    char *d;

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    cfg.db_conninfo = xstrdup("postgresql://notify@db.internal:6432/notification_api");
    d = config_db_describe(&cfg);
    snprintf(got, sizeof(got), "%s", d); /* compare after freeing: a failure leaks nothing */
    free(d);
    config_release(&cfg);
    assert_string_equal(got, "host=db.internal port=6432 dbname=notification_api user=notify");
}

static void
test_db_describe_special(void **state)
{
    static const struct {
        const char *conninfo;
        const char *want;
    } cases[] = {
        {NULL, "(libpq defaults and PG* environment)"},
        {"", "(libpq defaults and PG* environment)"},
        {"password=DBSECRETonly", "password=<redacted>"},
        {"host=h password='DBSECRETunterminated", "(unparsable connection string)"},
        {"postgres://u:DBSECRET@[::1/d", "(unparsable connection string)"},
        {"nonsense DBSECRETword", "(unparsable connection string)"},
        {"sslmode=require connect_timeout=10", "(libpq defaults and PG* environment)"},
    };

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(cases); i++) {
        struct jr_config cfg;
        char *d;

        memset(&cfg, 0, sizeof(cfg));
        cfg.db_conninfo = cases[i].conninfo ? xstrdup(cases[i].conninfo) : NULL;
        d = config_db_describe(&cfg);
        assert_string_equal(d, cases[i].want);
        free(d);
        config_release(&cfg);
    }
}

/* ---- config_s3_params ---- */

static void
test_s3_params(void **state)
{
    const struct env_var env[] = {
        {"JOBREPORT_BUCKET", "s3://b"},
        {"AWS_ACCESS_KEY_ID", AWS_KEY},
        {"AWS_SECRET_ACCESS_KEY", AWS_SECRET},
        {"AWS_SESSION_TOKEN", AWS_TOKEN},
        {"AWS_REGION", "us-gov-west-1"},
        {"AWS_ENDPOINT_URL", "http://127.0.0.1:9000"},
        {"AWS_USE_FIPS_ENDPOINT", "true"},
        {"AWS_CA_BUNDLE", "/ca.pem"},
        {"AWS_MAX_ATTEMPTS", "7"},
        {NULL, NULL},
    };
    const struct env_var plain[] = {{"JOBREPORT_BUCKET", "s3://b"}, {NULL, NULL}};
    struct jr_config cfg;
    struct storage_s3_params p;

    (void)state;
    load_ok(env, NULL, &cfg);
    memset(&p, 0xa5, sizeof(p));
    config_s3_params(&cfg, &p);
    assert_null(p.bucket); /* storage_open takes it from the location */
    assert_null(p.prefix);
    assert_ptr_equal(p.region, cfg.region); /* borrowed, not copied */
    assert_string_equal(p.region, "us-gov-west-1");
    assert_ptr_equal(p.access_key_id, cfg.access_key_id);
    assert_ptr_equal(p.secret_access_key, cfg.secret_access_key);
    assert_ptr_equal(p.session_token, cfg.session_token);
    assert_string_equal(p.endpoint_url, "http://127.0.0.1:9000");
    assert_true(p.use_fips);
    assert_true(p.path_style); /* always with a custom endpoint */
    assert_string_equal(p.ca_bundle, "/ca.pem");
    assert_int_equal(p.max_attempts, 7);
    assert_int_equal(p.connect_timeout_s, 10);
    assert_int_equal(p.stall_timeout_s, 30);
    assert_int_equal(p.part_size, 8u << 20);
    config_release(&cfg);

    load_ok(plain, NULL, &cfg);
    config_s3_params(&cfg, &p);
    assert_null(p.endpoint_url);
    assert_false(p.path_style);
    assert_false(p.use_fips);
    assert_null(p.access_key_id);
    assert_null(p.session_token);
    assert_null(p.ca_bundle);
    assert_string_equal(p.region, "us-east-1");
    assert_int_equal(p.max_attempts, 3);
    config_release(&cfg);
}

/* ---- parsers ---- */

static void
test_parse_size(void **state)
{
    static const struct {
        const char *s;
        uint64_t want;
    } good[] = {
        {"0", 0},
        {"1", 1},
        {"1024", 1024},
        {"1K", 1024},
        {"1k", 1024},
        {"1KiB", 1024},
        {"256M", (uint64_t)256 << 20},
        {"256m", (uint64_t)256 << 20},
        {"256MiB", (uint64_t)256 << 20},
        {"4G", (uint64_t)4 << 30},
        {"4GiB", (uint64_t)4 << 30},
        {"18446744073709551615", UINT64_MAX},
        {"17179869183G", (uint64_t)17179869183 << 30},
        {"007", 7},
    };

    static const char *const bad[] = {
        "",
        "K",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1.5M",
        "1T",
        "1KK",
        "1iB",
        "1B",
        "1Mx",
        "1MiBs",
        "0x10",
        "18446744073709551616",
        "17179869184G",
        "1e3",
    };

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(good); i++) {
        uint64_t v = 12345;

        if (config_parse_size(good[i].s, &v) != 0)
            fail_msg("'%s' rejected", good[i].s);
        assert_true(v == good[i].want);
    }
    for (size_t i = 0; i < JR_ARRAY_LEN(bad); i++) {
        uint64_t v = 12345;

        if (config_parse_size(bad[i], &v) != -1)
            fail_msg("'%s' accepted", bad[i]);
        assert_true(v == 12345); /* untouched on failure */
    }
    assert_int_equal(config_parse_size(NULL, &(uint64_t){0}), -1);
}

static void
test_parse_duration(void **state)
{
    static const struct {
        const char *s;
        uint64_t want;
    } good[] = {
        {"0", 0},
        {"45", 45},
        {"45s", 45},
        {"30m", 1800},
        {"1h", 3600},
        {"24h", 86400},
        {"7d", 604800},
        {"90d", 7776000},
        {"18446744073709551615", UINT64_MAX},
        {"213503982334601d", (uint64_t)213503982334601 * 86400},
    };

    static const char *const bad[] = {
        "",
        "m",
        "-1",
        "+1",
        " 1",
        "1 ",
        "1.5h",
        "1w",
        "1ms",
        "1M",
        "1H",
        "1hh",
        "1d2h",
        "0x1",
        "18446744073709551616",
        "213503982334602d",
    };

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(good); i++) {
        uint64_t v = 12345;

        if (config_parse_duration(good[i].s, &v) != 0)
            fail_msg("'%s' rejected", good[i].s);
        assert_true(v == good[i].want);
    }
    for (size_t i = 0; i < JR_ARRAY_LEN(bad); i++) {
        uint64_t v = 12345;

        if (config_parse_duration(bad[i], &v) != -1)
            fail_msg("'%s' accepted", bad[i]);
        assert_true(v == 12345);
    }
    assert_int_equal(config_parse_duration(NULL, &(uint64_t){0}), -1);
}

/* ---- lifecycle ---- */

static void
test_release(void **state)
{
    struct jr_config cfg;

    (void)state;
    memset(&cfg, 0, sizeof(cfg));
    config_release(&cfg);
    load_ok(all_sources, NULL, &cfg);
    config_release(&cfg);
    assert_zeroed(&cfg);
    config_release(&cfg);
}

/* The real process environment holds decoys; config_load must read only the function given. */
static void
test_reads_only_given_environment(void **state)
{
    const struct env_var none[] = {{NULL, NULL}};
    struct jr_config cfg;

    (void)state;
    load_ok(none, NULL, &cfg);
    assert_string_equal(cfg.db_source, "libpq defaults");
    assert_null(cfg.bucket);
    assert_null(cfg.endpoint_url);
    assert_int_equal(cfg.max_attempts, 3);
    config_release(&cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_db_database_url_first),
        cmocka_unit_test(test_db_postgres_scheme),
        cmocka_unit_test(test_db_pg_environment),
        cmocka_unit_test(test_db_vcap),
        cmocka_unit_test(test_db_libpq_defaults),
        cmocka_unit_test(test_bucket_flag_first),
        cmocka_unit_test(test_bucket_jobreport_bucket),
        cmocka_unit_test(test_bucket_local_directory),
        cmocka_unit_test(test_bucket_region_sources),
        cmocka_unit_test(test_bucket_csv_bucket_name),
        cmocka_unit_test(test_bucket_vcap),
        cmocka_unit_test(test_bucket_credentials_never_mix),
        cmocka_unit_test(test_bucket_none),
        cmocka_unit_test(test_bucket_higher_source_ignores_vcap_ambiguity),
        cmocka_unit_test(test_bucket_invalid),
        cmocka_unit_test(test_bucket_half_credentials),
        cmocka_unit_test(test_bucket_no_credentials),
        cmocka_unit_test(test_vcap_error_propagates),
        cmocka_unit_test(test_s3_defaults),
        cmocka_unit_test(test_s3_endpoint),
        cmocka_unit_test(test_s3_endpoint_bad_scheme),
        cmocka_unit_test(test_s3_fips),
        cmocka_unit_test(test_s3_max_attempts),
        cmocka_unit_test(test_s3_ca_bundle),
        cmocka_unit_test(test_tunable_sizes),
        cmocka_unit_test(test_tunable_sizes_bad),
        cmocka_unit_test(test_tunable_statement_timeout),
        cmocka_unit_test(test_no_secret_in_messages),
        cmocka_unit_test(test_db_describe_redacts),
        cmocka_unit_test(test_db_describe_order),
        cmocka_unit_test(test_db_describe_special),
        cmocka_unit_test(test_s3_params),
        cmocka_unit_test(test_parse_size),
        cmocka_unit_test(test_parse_duration),
        cmocka_unit_test(test_release),
        cmocka_unit_test(test_reads_only_given_environment),
    };
    static const char *const decoys[] = {
        "DATABASE_URL",     "PGHOST",           "JOBREPORT_BUCKET",  "CSV_BUCKET_NAME",
        "AWS_ENDPOINT_URL", "AWS_MAX_ATTEMPTS", "AWS_ACCESS_KEY_ID", "VCAP_SERVICES",
    };
    int failed;

    /* Decoys: a config_load that consults the real environment would pick these up or fail. */
    for (size_t i = 0; i < JR_ARRAY_LEN(decoys); i++)
        setenv(decoys[i], "decoy-from-real-environment", 1);
    vcap_rds_only = fixture("rds_only.json");
    vcap_one_s3 = fixture("one_s3.json");
    vcap_several_nomatch = fixture("several_s3_nomatch.json");
    vcap_no_region = fixture("s3_no_region.json");
    vcap_malformed = fixture("malformed_truncated.json");
    failed = cmocka_run_group_tests_name("config", tests, NULL, NULL);
    free(vcap_rds_only);
    free(vcap_one_s3);
    free(vcap_several_nomatch);
    free(vcap_no_region);
    free(vcap_malformed);
    return failed ? 1 : 0;
}
