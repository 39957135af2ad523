/*
 * Configuration (SPEC §6): where the database and the bucket are, their credentials, and the
 * tunables, resolved once before a command runs. Precedence: flags > environment >
 * VCAP_SERVICES > defaults. The database and the bucket are resolved independently; the bucket and
 * its credentials always come as one set from the first source that names a bucket. Every value
 * remembers its source, for `doctor` and the begin log line. Secrets never reach a message.
 */
#ifndef JR_CONFIG_H
#define JR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jr_err;
struct storage_s3_params;

/* Reads one environment variable; getenv in production, a table in tests. */
typedef const char *config_getenv_fn(const char *name);

struct jr_config {
    /* PostgreSQL: a libpq conninfo string or URI; "" means libpq's own PG* variables/defaults. */
    char *db_conninfo;
    const char *db_source; /* "DATABASE_URL", "PG* environment", "VCAP_SERVICES aws-rds", ... */

    /* The bucket: "s3://NAME" or a local directory; NULL when no source names one. */
    char *bucket;
    const char *bucket_source; /* "--bucket", "JOBREPORT_BUCKET", "CSV_BUCKET_NAME", ... */
    char *access_key_id;       /* S3 credentials from the same source as the bucket */
    char *secret_access_key;
    char *session_token;
    char *region;
    char *endpoint_url; /* AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, or NULL */
    bool use_fips;
    char *ca_bundle;       /* AWS_CA_BUNDLE / SSL_CERT_FILE, or NULL */
    unsigned max_attempts; /* AWS_MAX_ATTEMPTS, default 3 */
    unsigned connect_timeout_s;
    unsigned stall_timeout_s;
    size_t part_size;

    /* Tunables */
    unsigned statement_timeout_s; /* JOBREPORT_STATEMENT_TIMEOUT, default 3600 */
    int64_t max_file_bytes;       /* JOBREPORT_MAX_FILE_SIZE, default 256 MiB */
    size_t max_memory;            /* JOBREPORT_MAX_MEMORY, default 4 GiB */
};

/* Resolve everything. bucket_flag is the global --bucket value or NULL. Fails with JR_E_CONFIG
 * naming the variable at fault. On failure cfg holds nothing to release. */
int config_load(struct jr_config *cfg, const char *bucket_flag, config_getenv_fn *getenv_fn,
                struct jr_err *err);

/* Wipe secrets and free. Safe on a zeroed struct. */
void config_release(struct jr_config *cfg);

/* Fill S3 parameters for storage_open from cfg (pointers borrowed from cfg). */
void config_s3_params(const struct jr_config *cfg, struct storage_s3_params *p);

/* A one-line description of the database target without secrets: "host=h port=p dbname=d
 * user=u" (password never shown). Caller frees. */
char *config_db_describe(const struct jr_config *cfg);

/* Parse a byte size: digits with an optional K, M, G suffix (powers of 1024). -1 if malformed. */
int config_parse_size(const char *s, uint64_t *out);

/* Parse a duration: digits with an optional s, m, h or d suffix (default seconds). -1 if bad. */
int config_parse_duration(const char *s, uint64_t *seconds);

#endif
