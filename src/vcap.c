/*
 * VCAP_SERVICES parsing. The document is untrusted input (it is fuzzed): every member is checked
 * for type before use, and error messages name the path that was wrong, never a value.
 */
#include "vcap.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "err.h"
#include "xalloc.h"

#include "banned.h"

/* A string member of obj, duplicated; NULL when absent. -1 when present but not a string. */
static int
get_str(json_t *obj, const char *name, char **out)
{
    json_t *v = json_object_get(obj, name);

    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return -1;
    *out = xstrndup(json_string_value(v), json_string_length(v));
    return 0;
}

static int
take_rds(json_t *root, struct vcap_services *out, struct jr_err *err)
{
    json_t *arr = json_object_get(root, "aws-rds");
    json_t *b;
    json_t *cred;

    if (!arr)
        return 0;
    if (!json_is_array(arr))
        return jr_err_set(err, JR_E_CONFIG, "invalid VCAP_SERVICES: 'aws-rds' is not an array");
    if (json_array_size(arr) == 0)
        return 0;
    b = json_array_get(arr, 0);
    if (!json_is_object(b))
        return jr_err_set(err, JR_E_CONFIG, "invalid VCAP_SERVICES: 'aws-rds[0]' is not an object");
    cred = json_object_get(b, "credentials");
    if (!json_is_object(cred))
        return jr_err_set(err, JR_E_CONFIG,
                          "invalid VCAP_SERVICES: 'aws-rds[0].credentials' is not an object");
    if (get_str(b, "name", &out->rds_name) < 0 || get_str(cred, "uri", &out->rds_uri) < 0)
        return jr_err_set(err, JR_E_CONFIG,
                          "invalid VCAP_SERVICES: 'aws-rds[0]' name or credentials.uri is not a "
                          "string");
    if (!out->rds_uri)
        return jr_err_set(err, JR_E_CONFIG,
                          "invalid VCAP_SERVICES: 'aws-rds[0].credentials.uri' is missing");
    return 0;
}

static const char *
binding_name(json_t *b)
{
    json_t *n = json_object_get(b, "name");

    return json_is_string(n) ? json_string_value(n) : "(unnamed)";
}

static int
take_s3(json_t *root, const char *want, struct vcap_services *out, struct jr_err *err)
{
    json_t *arr = json_object_get(root, "s3");
    json_t *chosen = NULL;
    json_t *cred;
    size_t n;

    if (!arr)
        return want
                   ? jr_err_set(err, JR_E_CONFIG,
                                "VCAP_SERVICES has no s3 binding named '%s' (JOBREPORT_S3_SERVICE)",
                                want)
                   : 0;
    if (!json_is_array(arr))
        return jr_err_set(err, JR_E_CONFIG, "invalid VCAP_SERVICES: 's3' is not an array");
    n = json_array_size(arr);
    for (size_t i = 0; i < n; i++)
        if (!json_is_object(json_array_get(arr, i)))
            return jr_err_set(err, JR_E_CONFIG, "invalid VCAP_SERVICES: 's3[%zu]' is not an object",
                              i);
    if (want) {
        for (size_t i = 0; i < n && !chosen; i++)
            if (strcmp(binding_name(json_array_get(arr, i)), want) == 0)
                chosen = json_array_get(arr, i);
        if (!chosen)
            return jr_err_set(err, JR_E_CONFIG,
                              "VCAP_SERVICES has no s3 binding named '%s' (JOBREPORT_S3_SERVICE)",
                              want);
    } else if (n == 1) {
        chosen = json_array_get(arr, 0);
    } else {
        for (size_t i = 0; i < n; i++) {
            if (strstr(binding_name(json_array_get(arr, i)), "csv-upload-bucket")) {
                if (chosen)
                    return jr_err_set(err, JR_E_CONFIG,
                                      "VCAP_SERVICES has several s3 bindings named "
                                      "'*csv-upload-bucket*'; set JOBREPORT_S3_SERVICE");
                chosen = json_array_get(arr, i);
            }
        }
        if (!chosen && n > 1)
            return jr_err_set(err, JR_E_CONFIG,
                              "VCAP_SERVICES has %zu s3 bindings and none is named "
                              "'*csv-upload-bucket*'; set JOBREPORT_S3_SERVICE",
                              n);
        if (!chosen)
            return 0;
    }
    cred = json_object_get(chosen, "credentials");
    if (!json_is_object(cred))
        return jr_err_set(err, JR_E_CONFIG,
                          "invalid VCAP_SERVICES: s3 binding '%s' has no credentials object",
                          binding_name(chosen));
    if (get_str(chosen, "name", &out->s3_name) < 0 || get_str(cred, "bucket", &out->bucket) < 0 ||
        get_str(cred, "access_key_id", &out->access_key_id) < 0 ||
        get_str(cred, "secret_access_key", &out->secret_access_key) < 0 ||
        get_str(cred, "region", &out->region) < 0)
        return jr_err_set(err, JR_E_CONFIG,
                          "invalid VCAP_SERVICES: a credential of s3 binding '%s' is not a string",
                          binding_name(chosen));
    if (!out->bucket || !*out->bucket)
        return jr_err_set(err, JR_E_CONFIG,
                          "invalid VCAP_SERVICES: s3 binding '%s' has no credentials.bucket",
                          binding_name(chosen));
    out->has_s3 = true;
    return 0;
}

/* jansson keeps its own copies of every string, secrets included: wipe them when it frees. */
static void *
vcap_json_malloc(size_t n)
{
    return malloc(n);
}

static void
vcap_json_free(void *p)
{
    if (p) {
        OPENSSL_cleanse(p, malloc_usable_size(p));
        free(p);
    }
}

int
vcap_parse(const char *json, const char *s3_service, struct vcap_services *out, struct jr_err *err)
{
    return vcap_parse_some(json, s3_service, VCAP_WANT_RDS | VCAP_WANT_S3, out, err);
}

int
vcap_parse_some(const char *json, const char *s3_service, unsigned want, struct vcap_services *out,
                struct jr_err *err)
{
    json_error_t jerr;
    json_t *root;
    int rc;

    memset(out, 0, sizeof(*out));
    json_set_alloc_funcs(vcap_json_malloc, vcap_json_free);
    root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return jr_err_set(err, JR_E_CONFIG,
                          "invalid VCAP_SERVICES: malformed JSON at line %d, column %d", jerr.line,
                          jerr.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return jr_err_set(err, JR_E_CONFIG, "invalid VCAP_SERVICES: not a JSON object");
    }
    rc = (want & VCAP_WANT_RDS) ? take_rds(root, out, err) : 0;
    if (rc == 0 && (want & VCAP_WANT_S3))
        rc = take_s3(root, s3_service, out, err);
    json_decref(root);
    if (rc < 0)
        vcap_release(out);
    return rc;
}

void
vcap_release(struct vcap_services *v)
{
    xfree_secret(v->rds_uri); /* holds the database password */
    free(v->rds_name);
    free(v->s3_name);
    free(v->bucket);
    xfree_secret(v->access_key_id);
    xfree_secret(v->secret_access_key);
    free(v->region);
    memset(v, 0, sizeof(*v));
}
