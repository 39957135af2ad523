/*
 * S3 operations on one bucket: PutObject, multipart upload, GetObject (streamed, one or many at
 * once, with a fallback key and a size limit), HeadObject, DeleteObject, DeleteObjects and
 * ListObjectsV2. Requests are signed with SigV4 (s3/sigv4.h) over the SHA-256 of the in-memory
 * body, and retried by s3/http.h. Replies are parsed with s3/xml.h. Keys are full object keys
 * (any prefix already applied) and are URI-encoded once in the request path.
 *
 * Addressing: AWS endpoints are virtual-hosted (https://BUCKET.s3.REGION.amazonaws.com, FIPS:
 * BUCKET.s3-fips.REGION.amazonaws.com); path-style (https://s3.REGION.amazonaws.com/BUCKET) when
 * asked, when the bucket name has dots or is not DNS-compatible, and always with a custom
 * endpoint (a local S3 server: http://127.0.0.1:9000/BUCKET).
 *
 * Errors: every failing function sets err with code JR_E_STORAGE (JR_E_CONFIG from
 * s3_client_open) and a message such as "cannot put 'a/b.csv' to 's3://bucket': HTTP 403
 * SignatureDoesNotMatch: The request signature we calculated ...". Messages and logs carry keys
 * and S3's codes, never credentials or object contents.
 *
 * Thread safety: a client may be used from several threads at once.
 */
#ifndef JR_S3_S3_H
#define JR_S3_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct buf;
struct jr_err;
struct s3_client;

/* A clock with the signature of time(3), which is the default. */
typedef time_t s3_clock_fn(time_t *out);

enum {
    S3_KEY_MAX = 1024,             /* bytes */
    S3_DELETE_MAX = 1000,          /* keys per DeleteObjects request */
    S3_PART_MIN = 5 * 1024 * 1024, /* smallest part but the last */
    S3_PARTS_MAX = 10000,
};

struct s3_config {
    const char *bucket;
    const char *region; /* NULL or "": us-east-1 */
    const char *access_key_id;
    const char *secret_access_key; /* copied and wiped on close */
    const char *session_token;     /* NULL when none; sent as x-amz-security-token */
    const char *endpoint_url;      /* "http[s]://host[:port]" of a custom endpoint, or NULL */
    bool use_fips;                 /* AWS FIPS endpoint (ignored with a custom endpoint) */
    bool path_style;               /* force path-style addressing */
    const char *ca_bundle;         /* CA file, NULL for the system default */
    unsigned max_attempts;         /* per request; 0: 3 */
    unsigned connect_timeout_s;    /* 0: default */
    unsigned stall_timeout_s;      /* 0: default */
    s3_clock_fn *now;              /* NULL: time() */
};

struct s3_object_info {
    int64_t size;
    time_t mtime;  /* UTC */
    char etag[80]; /* quoted, as S3 sends it */
};

struct s3_put_opts {
    const char *content_type;    /* NULL for none */
    bool server_side_encryption; /* x-amz-server-side-encryption: AES256 */
};

/* Receives body bytes; return -1 to abort. */
typedef int s3_data_fn(void *arg, const void *data, size_t len);
/* A retried transfer restarts from the first byte. */
typedef void s3_reset_fn(void *arg);
/* One listed object; key borrowed for the call. Return -1 to stop (the listing then fails). */
typedef int s3_list_fn(void *arg, const char *key, const struct s3_object_info *info);

enum s3_get_status {
    S3_GET_OK,
    S3_GET_MISSING, /* neither key nor fallback_key exists */
    S3_GET_TOO_BIG, /* larger than max_bytes (nothing, or a prefix, delivered) */
    S3_GET_ABORTED, /* on_data returned -1 */
    S3_GET_FAILED,  /* errmsg says why */
};

/* One GetObject. Inputs first, then outputs. */
struct s3_get {
    const char *key;
    const char *fallback_key; /* tried when key does not exist; may be NULL */
    int64_t max_bytes;        /* 0: no limit */
    s3_data_fn *on_data;
    s3_reset_fn *on_reset; /* may be NULL */
    void *arg;
    enum s3_get_status status;
    bool used_fallback;
    int64_t bytes;              /* delivered (after the last reset) */
    struct s3_object_info info; /* of the object read (size -1 when unknown) */
    char errmsg[256];           /* for S3_GET_FAILED */
};

/*
 * Validate cfg and create a client. JR_E_CONFIG for a missing bucket or credentials, an invalid
 * bucket name, region or endpoint URL.
 */
struct s3_client *s3_client_open(const struct s3_config *cfg, struct jr_err *err);

/* Close a client, wiping its secrets. NULL is a no-op. */
void s3_client_close(struct s3_client *c);

/* "s3://bucket", for messages. Borrowed for the client's lifetime. */
const char *s3_client_describe(const struct s3_client *c);

/*
 * The request target for key (NULL for the bucket itself) and an encoded query ("" or NULL for
 * none): appends the full URL to url, the Host header value to host, and the raw (unencoded)
 * path that SigV4 signs to path. Any of the three may be NULL. Exposed for tests.
 */
void s3_client_url(const struct s3_client *c, const char *key, const char *query, struct buf *url,
                   struct buf *host, struct buf *path);

/* PutObject from memory. etag (80 bytes) may be NULL. */
int s3_put_object(struct s3_client *c, const char *key, const void *body, size_t len,
                  const struct s3_put_opts *opts, char *etag, struct jr_err *err);

/* CreateMultipartUpload: *upload_id receives a string the caller frees. */
int s3_multipart_create(struct s3_client *c, const char *key, const struct s3_put_opts *opts,
                        char **upload_id, struct jr_err *err);

/* UploadPart number part_number (1..10000); etag (80 bytes) receives the part's ETag. */
int s3_multipart_upload_part(struct s3_client *c, const char *key, const char *upload_id,
                             unsigned part_number, const void *body, size_t len, char *etag,
                             struct jr_err *err);

/* CompleteMultipartUpload with parts 1..nparts whose ETags are etags[0..nparts). Also fails
 * when S3 answers 200 with an <Error> document. */
int s3_multipart_complete(struct s3_client *c, const char *key, const char *upload_id,
                          const char (*etags)[80], size_t nparts, struct jr_err *err);

/* AbortMultipartUpload. A missing upload (404) counts as aborted. */
int s3_multipart_abort(struct s3_client *c, const char *key, const char *upload_id,
                       struct jr_err *err);

/* GetObject of one item (status, bytes... filled). Returns -1 only when it cannot run. */
int s3_get_object(struct s3_client *c, struct s3_get *item, struct jr_err *err);

/* GetObject of n items, at most `parallel` at once. Returns -1 only when it cannot run. */
int s3_get_many(struct s3_client *c, struct s3_get *items, size_t n, unsigned parallel,
                struct jr_err *err);

/* HeadObject: *exists false (and 0 returned) on 404. */
int s3_head_object(struct s3_client *c, const char *key, struct s3_object_info *info, bool *exists,
                   struct jr_err *err);

/* DeleteObject; deleting a missing key succeeds. */
int s3_delete_object(struct s3_client *c, const char *key, struct jr_err *err);

/*
 * DeleteObjects in batches of at most S3_DELETE_MAX keys (quiet mode, Content-MD5). failed[i] is
 * set for each key S3 reported an error for, or whose batch failed (a warning is logged for
 * each); failed must hold n entries, initialised to false. Returns -1 (err set: the last batch
 * failure) only when no batch could be run; 0 otherwise.
 */
int s3_delete_objects(struct s3_client *c, const char *const *keys, size_t n, bool *failed,
                      struct jr_err *err);

/* ListObjectsV2 of every key starting with prefix ("" for all), in key order, following
 * continuation tokens. */
int s3_list_objects(struct s3_client *c, const char *prefix, s3_list_fn *fn, void *arg,
                    struct jr_err *err);

#endif
