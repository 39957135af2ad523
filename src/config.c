/*
 * Configuration resolution. The environment is read through a function pointer so tests can
 * supply a table instead of mutating the process environment.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "buf.h"
#include "err.h"
#include "storage.h"
#include "vcap.h"
#include "xalloc.h"

#include "banned.h"

/* The variables through which libpq picks its own connection target. */
static const char *const pg_env_vars[] = {"PGHOST",     "PGHOSTADDR", "PGPORT",
                                          "PGDATABASE", "PGUSER",     "PGSERVICE"};

static const char *
env_nonempty(config_getenv_fn *getenv_fn, const char *name)
{
    const char *v = getenv_fn(name);

    return (v && *v) ? v : NULL;
}

static char *
dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

int
config_parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    unsigned shift = 0;

    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        end++;
        break;
    case 'm':
    case 'M':
        shift = 20;
        end++;
        break;
    case 'g':
    case 'G':
        shift = 30;
        end++;
        break;
    default:
        return -1;
    }
    if ((*end == 'i' || *end == 'I') && shift)
        end++;
    if ((*end == 'b' || *end == 'B') && shift)
        end++;
    if (*end || (shift && v > (UINT64_MAX >> shift)))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

int
config_parse_duration(const char *s, uint64_t *seconds)
{
    char *end;
    unsigned long long v;
    uint64_t mult = 1;

    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno)
        return -1;
    if (*end == 's')
        end++;
    else if (*end == 'm')
        mult = 60, end++;
    else if (*end == 'h')
        mult = 3600, end++;
    else if (*end == 'd')
        mult = 86400, end++;
    if (*end || v > UINT64_MAX / mult)
        return -1;
    *seconds = (uint64_t)v * mult;
    return 0;
}

static int
env_uint(config_getenv_fn *getenv_fn, const char *name, unsigned min, unsigned max, unsigned *out,
         struct jr_err *err)
{
    const char *v = env_nonempty(getenv_fn, name);
    char *end;
    long long n;

    if (!v)
        return 0;
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno || *end || n < (long long)min || n > (long long)max)
        return jr_err_set(err, JR_E_CONFIG,
                          "invalid %s '%s': expected a whole number from %u to %u", name, v, min,
                          max);
    *out = (unsigned)n;
    return 0;
}

static int
env_bool(config_getenv_fn *getenv_fn, const char *name, bool *out, struct jr_err *err)
{
    const char *v = env_nonempty(getenv_fn, name);

    if (!v)
        return 0;
    if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0)
        *out = true;
    else if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0)
        *out = false;
    else
        return jr_err_set(err, JR_E_CONFIG, "invalid %s '%s': expected true or false", name, v);
    return 0;
}

/* Does any of libpq's own connection variables name a target? */
static bool
pg_env_present(config_getenv_fn *getenv_fn)
{
    for (size_t i = 0; i < JR_ARRAY_LEN(pg_env_vars); i++)
        if (env_nonempty(getenv_fn, pg_env_vars[i]))
            return true;
    return false;
}

/* Does a source above VCAP_SERVICES name the bucket? */
static bool
bucket_named_above_vcap(const char *bucket_flag, config_getenv_fn *getenv_fn)
{
    return bucket_flag || env_nonempty(getenv_fn, "JOBREPORT_BUCKET") ||
           env_nonempty(getenv_fn, "CSV_BUCKET_NAME");
}

static int
load_database(struct jr_config *cfg, config_getenv_fn *getenv_fn, const struct vcap_services *vcap)
{
    const char *url = env_nonempty(getenv_fn, "DATABASE_URL");

    if (url) {
        cfg->db_conninfo = xstrdup(url);
        cfg->db_source = "DATABASE_URL";
        return 0;
    }
    if (pg_env_present(getenv_fn)) {
        cfg->db_conninfo = xstrdup("");
        cfg->db_source = "PG* environment";
        return 0;
    }
    if (vcap && vcap->rds_uri) {
        cfg->db_conninfo = xstrdup(vcap->rds_uri);
        cfg->db_source = "VCAP_SERVICES aws-rds";
        return 0;
    }
    cfg->db_conninfo = xstrdup("");
    cfg->db_source = "libpq defaults";
    return 0;
}

static int
load_bucket(struct jr_config *cfg, const char *bucket_flag, config_getenv_fn *getenv_fn,
            const struct vcap_services *vcap, struct jr_err *err)
{
    const char *v;

    if (bucket_flag || (v = env_nonempty(getenv_fn, "JOBREPORT_BUCKET"))) {
        if (bucket_flag) {
            v = bucket_flag;
            cfg->bucket_source = "--bucket";
        } else {
            cfg->bucket_source = "JOBREPORT_BUCKET";
        }
        if (!*v)
            return jr_err_set(err, JR_E_CONFIG, "invalid %s: empty bucket", cfg->bucket_source);
        cfg->bucket = xstrdup(v);
        cfg->access_key_id = dup_or_null(env_nonempty(getenv_fn, "AWS_ACCESS_KEY_ID"));
        cfg->secret_access_key = dup_or_null(env_nonempty(getenv_fn, "AWS_SECRET_ACCESS_KEY"));
        cfg->session_token = dup_or_null(env_nonempty(getenv_fn, "AWS_SESSION_TOKEN"));
        v = env_nonempty(getenv_fn, "AWS_REGION");
        if (!v)
            v = env_nonempty(getenv_fn, "AWS_DEFAULT_REGION");
        cfg->region = dup_or_null(v);
    } else if ((v = env_nonempty(getenv_fn, "CSV_BUCKET_NAME"))) {
        cfg->bucket_source = "CSV_BUCKET_NAME";
        cfg->bucket = strncmp(v, "s3://", 5) == 0 ? xstrdup(v) : xasprintf("s3://%s", v);
        cfg->access_key_id = dup_or_null(env_nonempty(getenv_fn, "CSV_AWS_ACCESS_KEY_ID"));
        cfg->secret_access_key = dup_or_null(env_nonempty(getenv_fn, "CSV_AWS_SECRET_ACCESS_KEY"));
        cfg->region = dup_or_null(env_nonempty(getenv_fn, "CSV_AWS_REGION"));
    } else if (vcap && vcap->has_s3) {
        cfg->bucket_source = "VCAP_SERVICES s3";
        cfg->bucket = xasprintf("s3://%s", vcap->bucket);
        cfg->access_key_id = dup_or_null(vcap->access_key_id);
        cfg->secret_access_key = dup_or_null(vcap->secret_access_key);
        cfg->region = dup_or_null(vcap->region);
    }
    if (!cfg->region)
        cfg->region = xstrdup("us-east-1");
    if (cfg->bucket && strncmp(cfg->bucket, "s3://", 5) == 0) {
        if (!cfg->bucket[5] || cfg->bucket[5] == '/')
            return jr_err_set(err, JR_E_CONFIG, "invalid bucket '%s' from %s: no bucket name",
                              cfg->bucket, cfg->bucket_source);
        if (!cfg->access_key_id != !cfg->secret_access_key)
            return jr_err_set(err, JR_E_CONFIG,
                              "incomplete S3 credentials from %s: an access key id needs its "
                              "secret access key and the other way round",
                              cfg->bucket_source);
    }
    return 0;
}

static int
load_s3_settings(struct jr_config *cfg, config_getenv_fn *getenv_fn, struct jr_err *err)
{
    const char *v = env_nonempty(getenv_fn, "AWS_ENDPOINT_URL_S3");

    if (!v)
        v = env_nonempty(getenv_fn, "AWS_ENDPOINT_URL");
    if (v && strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0)
        return jr_err_set(err, JR_E_CONFIG,
                          "invalid S3 endpoint '%s': expected an http:// or https:// URL", v);
    cfg->endpoint_url = dup_or_null(v);
    v = env_nonempty(getenv_fn, "AWS_CA_BUNDLE");
    if (!v)
        v = env_nonempty(getenv_fn, "SSL_CERT_FILE");
    cfg->ca_bundle = dup_or_null(v);
    cfg->max_attempts = 3;
    cfg->connect_timeout_s = 10;
    cfg->stall_timeout_s = 30;
    cfg->part_size = (size_t)8 << 20; /* a report buffers at most one part in memory */
    if (env_bool(getenv_fn, "AWS_USE_FIPS_ENDPOINT", &cfg->use_fips, err) < 0 ||
        env_uint(getenv_fn, "AWS_MAX_ATTEMPTS", 1, 20, &cfg->max_attempts, err) < 0)
        return -1;
    return 0;
}

static int
load_tunables(struct jr_config *cfg, config_getenv_fn *getenv_fn, struct jr_err *err)
{
    const char *v;
    uint64_t n;

    cfg->statement_timeout_s = 3600;
    cfg->max_file_bytes = (int64_t)256 << 20;
    cfg->max_memory = (size_t)4 << 30;
    if (env_uint(getenv_fn, "JOBREPORT_STATEMENT_TIMEOUT", 0, 86400 * 7, &cfg->statement_timeout_s,
                 err) < 0)
        return -1;
    if ((v = env_nonempty(getenv_fn, "JOBREPORT_MAX_FILE_SIZE"))) {
        if (config_parse_size(v, &n) < 0 || n == 0 || n > INT64_MAX)
            return jr_err_set(err, JR_E_CONFIG,
                              "invalid JOBREPORT_MAX_FILE_SIZE '%s': expected a size like 256M", v);
        cfg->max_file_bytes = (int64_t)n;
    }
    if ((v = env_nonempty(getenv_fn, "JOBREPORT_MAX_MEMORY"))) {
        if (config_parse_size(v, &n) < 0 || n == 0 || n > SIZE_MAX)
            return jr_err_set(err, JR_E_CONFIG,
                              "invalid JOBREPORT_MAX_MEMORY '%s': expected a size like 4G", v);
        cfg->max_memory = (size_t)n;
    }
    return 0;
}

int
config_load(struct jr_config *cfg, const char *bucket_flag, config_getenv_fn *getenv_fn,
            struct jr_err *err)
{
    struct vcap_services vcap;
    bool have_vcap = false;
    const char *v;
    int rc = -1;

    memset(cfg, 0, sizeof(*cfg));
    memset(&vcap, 0, sizeof(vcap));
    if ((v = env_nonempty(getenv_fn, "VCAP_SERVICES"))) {
        /* Only the bindings that no higher source overrides are read and checked. */
        unsigned want = VCAP_WANT_RDS | VCAP_WANT_S3;

        if (env_nonempty(getenv_fn, "DATABASE_URL") || pg_env_present(getenv_fn))
            want &= ~VCAP_WANT_RDS;
        if (bucket_named_above_vcap(bucket_flag, getenv_fn))
            want &= ~VCAP_WANT_S3;
        if (vcap_parse_some(v, env_nonempty(getenv_fn, "JOBREPORT_S3_SERVICE"), want, &vcap, err) <
            0)
            goto out;
        have_vcap = true;
    }
    if (load_database(cfg, getenv_fn, have_vcap ? &vcap : NULL) < 0 ||
        load_bucket(cfg, bucket_flag, getenv_fn, have_vcap ? &vcap : NULL, err) < 0 ||
        load_s3_settings(cfg, getenv_fn, err) < 0 || load_tunables(cfg, getenv_fn, err) < 0)
        goto out;
    rc = 0;
out:
    vcap_release(&vcap);
    if (rc < 0)
        config_release(cfg);
    return rc;
}

void
config_release(struct jr_config *cfg)
{
    xfree_secret(cfg->db_conninfo);
    free(cfg->bucket);
    xfree_secret(cfg->access_key_id);
    xfree_secret(cfg->secret_access_key);
    xfree_secret(cfg->session_token);
    free(cfg->region);
    free(cfg->endpoint_url);
    free(cfg->ca_bundle);
    memset(cfg, 0, sizeof(*cfg));
}

void
config_s3_params(const struct jr_config *cfg, struct storage_s3_params *p)
{
    memset(p, 0, sizeof(*p));
    p->region = cfg->region;
    p->access_key_id = cfg->access_key_id;
    p->secret_access_key = cfg->secret_access_key;
    p->session_token = cfg->session_token;
    p->endpoint_url = cfg->endpoint_url;
    p->use_fips = cfg->use_fips;
    p->path_style = cfg->endpoint_url != NULL;
    p->ca_bundle = cfg->ca_bundle;
    p->max_attempts = cfg->max_attempts;
    p->connect_timeout_s = cfg->connect_timeout_s;
    p->stall_timeout_s = cfg->stall_timeout_s;
    p->part_size = cfg->part_size;
}

char *
config_db_describe(const struct jr_config *cfg)
{
    static const char *const shown[] = {"host", "hostaddr", "port", "dbname", "user"};
    struct buf b = BUF_INIT;
    PQconninfoOption *opts;
    char *errmsg = NULL;

    opts = PQconninfoParse(cfg->db_conninfo ? cfg->db_conninfo : "", &errmsg);
    if (!opts) {
        PQfreemem(errmsg);
        return xstrdup("(unparsable connection string)");
    }
    for (size_t i = 0; i < JR_ARRAY_LEN(shown) + 1; i++) {
        const char *want = i < JR_ARRAY_LEN(shown) ? shown[i] : "password";

        for (PQconninfoOption *o = opts; o->keyword; o++) {
            if (strcmp(o->keyword, want) != 0 || !o->val || !*o->val)
                continue;
            if (i < JR_ARRAY_LEN(shown))
                buf_printf(&b, "%s%s=%s", b.len ? " " : "", o->keyword, o->val);
            else
                buf_printf(&b, "%spassword=<redacted>", b.len ? " " : "");
        }
    }
    PQconninfoFree(opts);
    if (!b.len)
        buf_addstr(&b, "(libpq defaults and PG* environment)");
    return buf_detach(&b, NULL);
}
