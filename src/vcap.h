/*
 * Cloud Foundry VCAP_SERVICES (JSON, parsed with jansson): the PostgreSQL URI of the `aws-rds`
 * binding and the credentials of one `s3` binding. jansson types never leave vcap.c. Secrets in
 * the result are wiped by vcap_release.
 */
#ifndef JR_VCAP_H
#define JR_VCAP_H

#include <stdbool.h>

struct jr_err;

struct vcap_services {
    char *rds_uri;  /* credentials.uri of the first aws-rds binding, or NULL */
    char *rds_name; /* its binding name */
    bool has_s3;    /* an s3 binding was selected */
    char *s3_name;  /* binding name */
    char *bucket;
    char *access_key_id;
    char *secret_access_key;
    char *region;
};

/*
 * Parse json. The s3 binding is the one named s3_service (when not NULL), else the only one,
 * else the one whose name contains "csv-upload-bucket". Fails with JR_E_CONFIG (message without
 * secrets) on malformed JSON, wrong shapes, a named binding that does not exist, or several s3
 * bindings with no way to choose. An absent kind of binding is not an error.
 */
int vcap_parse(const char *json, const char *s3_service, struct vcap_services *out,
               struct jr_err *err);

/* Which bindings vcap_parse_some reads and checks. */
#define VCAP_WANT_RDS 1u
#define VCAP_WANT_S3  2u

/*
 * Like vcap_parse, but only the bindings in `want` are read and checked: a configuration that
 * takes its database or bucket from a higher-precedence source is not failed by a problem in a
 * binding it does not use. Malformed JSON always fails.
 */
int vcap_parse_some(const char *json, const char *s3_service, unsigned want,
                    struct vcap_services *out, struct jr_err *err);

/* Wipe secrets and free. Safe on a zeroed struct. */
void vcap_release(struct vcap_services *v);

#endif
