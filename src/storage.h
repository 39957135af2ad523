/*
 * Storage: the one seam through which commands read job files and write, list and delete report
 * objects. Two backends sit behind it: a local directory holding the bucket's key layout
 * (storage_file.c) and S3 (storage_s3.c). Keys are bucket-relative ("<svc>-service-notify/x.csv");
 * a backend opened with a prefix maps them below it. Nothing here knows about reports or PII; it
 * moves bytes. All functions fill err (code JR_E_STORAGE for remote failures, JR_E_IO for local
 * ones) and return -1 on failure.
 *
 * Thread safety: a storage handle may be used from several threads at once (report uploads run on
 * background threads); each writer and each listing belongs to one thread.
 */
#ifndef JR_STORAGE_H
#define JR_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct jr_err;
struct storage;
struct storage_writer;

/* Object metadata from a listing or a stat. key is borrowed for the callback's (or call's)
 * duration. */
struct storage_object_info {
    const char *key; /* bucket-relative (prefix removed) */
    int64_t size;    /* bytes */
    time_t mtime;    /* last modified, UTC */
    char etag[80];   /* as S3 returns it (quoted), or "" when the backend has none */
};

/* Receives body bytes in order. Return 0 to continue, -1 to abort the transfer. */
typedef int storage_data_fn(void *arg, const void *data, size_t len);
/* Called before a retried transfer restarts the body from its first byte. */
typedef void storage_reset_fn(void *arg);
/* One listed object. Return 0 to continue, -1 to stop the listing (the listing then fails). */
typedef int storage_list_fn(void *arg, const struct storage_object_info *info);

enum storage_fetch_status {
    STORAGE_FETCH_OK,      /* body delivered in full through on_data */
    STORAGE_FETCH_MISSING, /* neither key nor fallback_key exists */
    STORAGE_FETCH_TOO_BIG, /* object larger than max_bytes; nothing (or a prefix) delivered */
    STORAGE_FETCH_ABORTED, /* on_data returned -1 */
    STORAGE_FETCH_FAILED,  /* transfer failed after retries; err says why */
};

/* One object to read, for storage_fetch_many. Inputs first, then outputs. */
struct storage_fetch {
    const char *key;            /* in: tried first */
    const char *fallback_key;   /* in: tried when key does not exist; may be NULL */
    int64_t max_bytes;          /* in: refuse objects larger than this (0 = no limit) */
    storage_data_fn *on_data;   /* in */
    storage_reset_fn *on_reset; /* in: may be NULL when transfers are never retried mid-body */
    void *arg;                  /* in: passed to the callbacks */
    enum storage_fetch_status status; /* out */
    bool used_fallback;               /* out: the body came from fallback_key */
    int64_t bytes;                    /* out: body bytes delivered */
    char errmsg[256];                 /* out: for STORAGE_FETCH_FAILED, a message without PII */
};

/* Options for a new object. */
struct storage_put_opts {
    const char *content_type;    /* e.g. "text/csv; charset=utf-8"; NULL for none */
    bool server_side_encryption; /* S3: x-amz-server-side-encryption: AES256 */
};

/* What a committed write produced. */
struct storage_put_result {
    int64_t bytes;
    unsigned char sha256[32]; /* of the body */
};

/* Parameters of an S3 bucket (SPEC §6). Strings are borrowed for the open call only. */
struct storage_s3_params {
    const char *bucket;
    const char *prefix; /* key prefix without leading/trailing '/', or NULL */
    const char *region; /* e.g. "us-east-1" */
    const char *access_key_id;
    const char *secret_access_key; /* secret: never logged */
    const char *session_token;     /* may be NULL */
    const char *endpoint_url;      /* custom endpoint (local S3 server), NULL for AWS */
    bool use_fips;                 /* AWS FIPS endpoint */
    bool path_style;               /* path-style addressing (always on for custom endpoints) */
    const char *ca_bundle;         /* CA file, NULL for the system default */
    unsigned max_attempts;         /* per request, >= 1 (AWS_MAX_ATTEMPTS, default 3) */
    unsigned connect_timeout_s;    /* connect timeout */
    unsigned stall_timeout_s;      /* abort a transfer that moves nothing for this long */
    size_t part_size;              /* multipart part size in bytes (>= 5 MiB) */
};

/* The backend operations; storage.c dispatches to them. For backends only. */
struct storage_driver {
    const char *name; /* "file" or "s3" */
    int (*fetch_many)(struct storage *st, struct storage_fetch *items, size_t n, unsigned parallel,
                      struct jr_err *err);
    struct storage_writer *(*writer_open)(struct storage *st, const char *key,
                                          const struct storage_put_opts *opts, struct jr_err *err);
    int (*writer_write)(struct storage_writer *w, const void *data, size_t len, struct jr_err *err);
    int (*writer_commit)(struct storage_writer *w, struct jr_err *err);
    void (*writer_abort)(struct storage_writer *w);
    int (*remove)(struct storage *st, const char *key, struct jr_err *err);
    int (*remove_many)(struct storage *st, const char *const *keys, size_t n, bool *failed,
                       struct jr_err *err);
    int (*list)(struct storage *st, const char *prefix, storage_list_fn *fn, void *arg,
                struct jr_err *err);
    int (*stat)(struct storage *st, const char *key, struct storage_object_info *info, bool *exists,
                struct jr_err *err);
    void (*close)(struct storage *st);
};

/* Common head of every backend's storage struct and writer struct. For backends only. */
struct storage {
    const struct storage_driver *driver;
    char *description; /* "file:/path" or "s3://bucket/prefix", no secrets */
};

struct storage_writer {
    struct storage *st;
    char *key;
    int64_t bytes;
    void *sha_ctx; /* EVP_MD_CTX *, kept opaque here */
};

/*
 * Open a storage from a location: "s3://BUCKET[/PREFIX]" (needs s3 params for credentials and
 * endpoint; the bucket and prefix in the URL win over s3->bucket/prefix), "file:DIR" or a plain
 * directory path. A local directory must exist. s3 may be NULL for local locations.
 * Returns NULL and sets err (JR_E_CONFIG for a bad location, JR_E_IO, JR_E_STORAGE).
 */
struct storage *storage_open(const char *location, const struct storage_s3_params *s3,
                             struct jr_err *err);

/* Backend constructors (storage_open calls them). */
struct storage *storage_file_open(const char *dir, struct jr_err *err);
struct storage *storage_s3_open(const struct storage_s3_params *params, struct jr_err *err);

/* Release a storage. NULL is a no-op. */
void storage_close(struct storage *st);

/* "file:/abs/dir" or "s3://bucket/prefix": for messages. Borrowed for the storage's lifetime. */
const char *storage_describe(const struct storage *st);

/* True when the storage is S3 (PII must then never touch local disk on the way). */
bool storage_is_remote(const struct storage *st);

/*
 * Read several objects, at most `parallel` at a time (>= 1). Per-object outcomes go into
 * items[i].status; returns -1 only when the whole operation cannot run.
 */
int storage_fetch_many(struct storage *st, struct storage_fetch *items, size_t n, unsigned parallel,
                       struct jr_err *err);

/*
 * Start writing key. Nothing is visible to readers until storage_writer_commit, which replaces
 * any previous object atomically (a rename, or a single PUT / completed multipart upload).
 */
struct storage_writer *storage_writer_open(struct storage *st, const char *key,
                                           const struct storage_put_opts *opts, struct jr_err *err);
int storage_writer_write(struct storage_writer *w, const void *data, size_t len,
                         struct jr_err *err);
/* Publish the object and free w (also on failure, after which the old object is untouched). */
int storage_writer_commit(struct storage_writer *w, struct storage_put_result *res,
                          struct jr_err *err);
/* Discard everything written and free w. NULL is a no-op. */
void storage_writer_abort(struct storage_writer *w);

/* Delete key; deleting a missing key succeeds. */
int storage_remove(struct storage *st, const char *key, struct jr_err *err);

/*
 * Delete several keys (S3: DeleteObjects batches of at most 1000). failed[i] is set for keys that
 * could not be deleted (a message is logged for each); returns -1 only when nothing could run.
 */
int storage_remove_many(struct storage *st, const char *const *keys, size_t n, bool *failed,
                        struct jr_err *err);

/* List every object whose key starts with prefix ("" for all), in key order. */
int storage_list(struct storage *st, const char *prefix, storage_list_fn *fn, void *arg,
                 struct jr_err *err);

/* Metadata of one object; *exists is false (and 0 returned) when it does not exist. */
int storage_stat(struct storage *st, const char *key, struct storage_object_info *info,
                 bool *exists, struct jr_err *err);

#endif
