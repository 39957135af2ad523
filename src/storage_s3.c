/*
 * S3 storage backend: maps the storage operations onto s3/s3.h. Keys live below "PREFIX/" when
 * the storage has a prefix; listings hand keys back without it. A writer keeps the object in
 * memory (never on local disk: job files and reports hold PII) up to one part; a bigger object
 * switches to a multipart upload and sends each full part as it fills. Commit is a single PUT or
 * CompleteMultipartUpload, so readers see the old object until the new one is whole; an aborted
 * or failed write aborts the multipart upload, leaving the old object untouched. Write buffers
 * are wiped before they are freed.
 */
#include "storage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "s3/s3.h"
#include "xalloc.h"

#include "banned.h"

enum {
    S3_STORAGE_PART_DEFAULT = 8 * 1024 * 1024,
    S3_STORAGE_PART_MAX = 512 * 1024 * 1024, /* kept in memory: far below S3's 5 GiB limit */
    S3_STORAGE_BUF_START = 64 * 1024,
};

struct s3_storage {
    struct storage base; /* first: the storage front end casts */
    struct s3_client *client;
    char *prefix; /* "" or "prefix/" */
    size_t part_size;
};

struct s3_writer {
    struct storage_writer base; /* first */
    struct s3_storage *st;
    char *full_key;
    char *content_type;
    bool sse;
    unsigned char *data; /* the current part; wiped on growth and release */
    size_t len;
    size_t cap;
    char *upload_id; /* set once the object went multipart */
    char (*etags)[80];
    size_t nparts;
    size_t etags_cap;
    bool failed; /* an earlier write failed (the multipart upload is aborted) */
};

static const struct storage_driver s3_driver;

static char *
full_key(const struct s3_storage *st, const char *key)
{
    return xasprintf("%s%s", st->prefix, key);
}

/* ---- writer ------------------------------------------------------------------------------- */

static void
writer_free(struct s3_writer *w)
{
    if (w->data) {
        xwipe(w->data, w->cap);
        free(w->data);
    }
    free(w->full_key);
    free(w->content_type);
    free(w->upload_id);
    free(w->etags);
    free(w->base.key);
    free(w);
}

static void
writer_abort_upload(struct s3_writer *w)
{
    struct jr_err err = JR_ERR_INIT;

    if (!w->upload_id)
        return;
    if (s3_multipart_abort(w->st->client, w->full_key, w->upload_id, &err) < 0)
        log_warn("%s; the parts stay until the bucket's lifecycle rule removes them", err.msg);
    free(w->upload_id);
    w->upload_id = NULL;
}

static struct storage_writer *
s3_writer_open(struct storage *base, const char *key, const struct storage_put_opts *opts,
               struct jr_err *err)
{
    struct s3_storage *st = (struct s3_storage *)base;
    struct s3_writer *w;

    if (!*key)
        return jr_err_set(err, JR_E_STORAGE, "cannot write an empty key to '%s'",
                          base->description),
               NULL;
    w = xcalloc(1, sizeof(*w));
    w->st = st;
    w->base.key = xstrdup(key);
    w->full_key = full_key(st, key);
    w->content_type = opts->content_type ? xstrdup(opts->content_type) : NULL;
    w->sse = opts->server_side_encryption;
    return &w->base;
}

/* Make room for `need` bytes in the part buffer without leaving copies of it in freed memory. */
static void
writer_reserve(struct s3_writer *w, size_t need)
{
    size_t cap = w->cap ? w->cap : S3_STORAGE_BUF_START;
    unsigned char *n;

    if (need <= w->cap)
        return;
    while (cap < need)
        cap *= 2;
    if (cap > w->st->part_size)
        cap = w->st->part_size;
    n = xmalloc(cap);
    if (w->len)
        memcpy(n, w->data, w->len);
    if (w->data) {
        xwipe(w->data, w->cap);
        free(w->data);
    }
    w->data = n;
    w->cap = cap;
}

static struct s3_put_opts
writer_put_opts(const struct s3_writer *w)
{
    struct s3_put_opts o = {w->content_type, w->sse};

    return o;
}

/* Send the buffered bytes as the next part (starting the multipart upload if needed). */
static int
writer_flush_part(struct s3_writer *w, struct jr_err *err)
{
    struct s3_client *c = w->st->client;
    struct s3_put_opts o = writer_put_opts(w);

    if (!w->upload_id && s3_multipart_create(c, w->full_key, &o, &w->upload_id, err) < 0)
        return -1;
    if (w->nparts == w->etags_cap) {
        w->etags_cap = w->etags_cap ? w->etags_cap * 2 : 16;
        w->etags = xreallocarray(w->etags, w->etags_cap, sizeof(*w->etags));
    }
    if (s3_multipart_upload_part(c, w->full_key, w->upload_id, (unsigned)(w->nparts + 1), w->data,
                                 w->len, w->etags[w->nparts], err) < 0)
        return -1;
    w->nparts++;
    xwipe(w->data, w->len);
    w->len = 0;
    return 0;
}

static int
s3_writer_write(struct storage_writer *base, const void *data, size_t len, struct jr_err *err)
{
    struct s3_writer *w = (struct s3_writer *)base;
    const unsigned char *p = data;

    if (w->failed)
        return jr_err_set(err, JR_E_STORAGE, "cannot write '%s' to '%s': an earlier write failed",
                          base->key, w->st->base.description);
    while (len) {
        size_t room = w->st->part_size - w->len;
        size_t n = len < room ? len : room;

        writer_reserve(w, w->len + n);
        memcpy(w->data + w->len, p, n);
        w->len += n;
        p += n;
        len -= n;
        if (w->len == w->st->part_size && writer_flush_part(w, err) < 0) {
            w->failed = true;
            writer_abort_upload(w);
            return -1;
        }
    }
    return 0;
}

static int
s3_writer_commit(struct storage_writer *base, struct jr_err *err)
{
    struct s3_writer *w = (struct s3_writer *)base;
    struct s3_client *c = w->st->client;
    struct s3_put_opts o = writer_put_opts(w);
    int rc = -1;

    if (w->failed) {
        jr_err_set(err, JR_E_STORAGE, "cannot commit '%s' to '%s': an earlier write failed",
                   base->key, w->st->base.description);
        goto out;
    }
    if (!w->upload_id) {
        rc = s3_put_object(c, w->full_key, w->data, w->len, &o, NULL, err);
        goto out;
    }
    if (w->len && writer_flush_part(w, err) < 0)
        goto out;
    rc = s3_multipart_complete(c, w->full_key, w->upload_id, (const char(*)[80])w->etags, w->nparts,
                               err);
    if (rc == 0) {
        free(w->upload_id);
        w->upload_id = NULL;
    }
out:
    writer_abort_upload(w);
    writer_free(w);
    return rc;
}

static void
s3_writer_abort(struct storage_writer *base)
{
    struct s3_writer *w = (struct s3_writer *)base;

    writer_abort_upload(w);
    writer_free(w);
}

/* ---- reads -------------------------------------------------------------------------------- */

static int
s3_fetch_many(struct storage *base, struct storage_fetch *items, size_t n, unsigned parallel,
              struct jr_err *err)
{
    struct s3_storage *st = (struct s3_storage *)base;
    struct s3_get *gets = xcalloc(n ? n : 1, sizeof(*gets));
    char **keys = xcalloc(n ? 2 * n : 1, sizeof(*keys));
    int rc;

    for (size_t i = 0; i < n; i++) {
        keys[2 * i] = full_key(st, items[i].key);
        keys[2 * i + 1] = items[i].fallback_key ? full_key(st, items[i].fallback_key) : NULL;
        gets[i].key = keys[2 * i];
        gets[i].fallback_key = keys[2 * i + 1];
        gets[i].max_bytes = items[i].max_bytes;
        gets[i].on_data = items[i].on_data;
        gets[i].on_reset = items[i].on_reset;
        gets[i].arg = items[i].arg;
    }
    rc = s3_get_many(st->client, gets, n, parallel, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        static const enum storage_fetch_status map[] = {
            [S3_GET_OK] = STORAGE_FETCH_OK,           [S3_GET_MISSING] = STORAGE_FETCH_MISSING,
            [S3_GET_TOO_BIG] = STORAGE_FETCH_TOO_BIG, [S3_GET_ABORTED] = STORAGE_FETCH_ABORTED,
            [S3_GET_FAILED] = STORAGE_FETCH_FAILED,
        };

        items[i].status = map[gets[i].status];
        items[i].used_fallback = gets[i].used_fallback;
        items[i].bytes = gets[i].bytes;
        snprintf(items[i].errmsg, sizeof(items[i].errmsg), "%s", gets[i].errmsg);
    }
    for (size_t i = 0; i < 2 * n; i++)
        free(keys[i]);
    free(keys);
    free(gets);
    return rc;
}

static int
s3_stat(struct storage *base, const char *key, struct storage_object_info *info, bool *exists,
        struct jr_err *err)
{
    struct s3_storage *st = (struct s3_storage *)base;
    struct s3_object_info oi = {0};
    char *fk = full_key(st, key);
    int rc = s3_head_object(st->client, fk, &oi, exists, err);

    free(fk);
    if (rc == 0 && *exists) {
        info->size = oi.size;
        info->mtime = oi.mtime;
        memcpy(info->etag, oi.etag, sizeof(info->etag));
    }
    return rc;
}

struct list_arg {
    struct s3_storage *st;
    storage_list_fn *fn;
    void *arg;
};

static int
list_one(void *arg, const char *key, const struct s3_object_info *oi)
{
    struct list_arg *la = arg;
    size_t plen = strlen(la->st->prefix);
    struct storage_object_info info;

    if (strncmp(key, la->st->prefix, plen) != 0 || !key[plen])
        return 0; /* cannot happen with a prefix listing; never hand out a foreign key */
    info.key = key + plen;
    info.size = oi->size;
    info.mtime = oi->mtime;
    memcpy(info.etag, oi->etag, sizeof(info.etag));
    return la->fn(la->arg, &info);
}

static int
s3_list(struct storage *base, const char *prefix, storage_list_fn *fn, void *arg,
        struct jr_err *err)
{
    struct s3_storage *st = (struct s3_storage *)base;
    struct list_arg la = {st, fn, arg};
    char *fp = full_key(st, prefix);
    int rc = s3_list_objects(st->client, fp, list_one, &la, err);

    free(fp);
    return rc;
}

/* ---- deletes ------------------------------------------------------------------------------ */

static int
s3_remove(struct storage *base, const char *key, struct jr_err *err)
{
    struct s3_storage *st = (struct s3_storage *)base;
    char *fk = full_key(st, key);
    int rc = s3_delete_object(st->client, fk, err);

    free(fk);
    return rc;
}

static int
s3_remove_many(struct storage *base, const char *const *keys, size_t n, bool *failed,
               struct jr_err *err)
{
    struct s3_storage *st = (struct s3_storage *)base;
    char **fks = xcalloc(n ? n : 1, sizeof(*fks));
    int rc;

    for (size_t i = 0; i < n; i++)
        fks[i] = full_key(st, keys[i]);
    rc = s3_delete_objects(st->client, (const char *const *)fks, n, failed, err);
    for (size_t i = 0; i < n; i++)
        free(fks[i]);
    free(fks);
    return rc;
}

/* ---- open and close ----------------------------------------------------------------------- */

static void
s3_close(struct storage *base)
{
    struct s3_storage *st = (struct s3_storage *)base;

    s3_client_close(st->client);
    free(st->prefix);
    free(st->base.description);
    free(st);
}

static const struct storage_driver s3_driver = {
    .name = "s3",
    .fetch_many = s3_fetch_many,
    .writer_open = s3_writer_open,
    .writer_write = s3_writer_write,
    .writer_commit = s3_writer_commit,
    .writer_abort = s3_writer_abort,
    .remove = s3_remove,
    .remove_many = s3_remove_many,
    .list = s3_list,
    .stat = s3_stat,
    .close = s3_close,
};

struct storage *
storage_s3_open(const struct storage_s3_params *params, struct jr_err *err)
{
    struct s3_config cfg = {0};
    struct s3_storage *st;
    const char *prefix = params->prefix ? params->prefix : "";
    size_t part = params->part_size ? params->part_size : S3_STORAGE_PART_DEFAULT;

    if (part < S3_PART_MIN || part > S3_STORAGE_PART_MAX)
        return jr_err_set(err, JR_E_CONFIG,
                          "invalid S3 part size %zu: must be between %d and %d bytes", part,
                          S3_PART_MIN, S3_STORAGE_PART_MAX),
               NULL;
    while (*prefix == '/')
        prefix++;
    cfg.bucket = params->bucket;
    cfg.region = params->region;
    cfg.access_key_id = params->access_key_id;
    cfg.secret_access_key = params->secret_access_key;
    cfg.session_token = params->session_token;
    cfg.endpoint_url = params->endpoint_url;
    cfg.use_fips = params->use_fips;
    cfg.path_style = params->path_style;
    cfg.ca_bundle = params->ca_bundle;
    cfg.max_attempts = params->max_attempts;
    cfg.connect_timeout_s = params->connect_timeout_s;
    cfg.stall_timeout_s = params->stall_timeout_s;

    st = xcalloc(1, sizeof(*st));
    st->client = s3_client_open(&cfg, err);
    if (!st->client) {
        free(st);
        return NULL;
    }
    st->base.driver = &s3_driver;
    if (*prefix) {
        size_t len = strlen(prefix);

        while (len && prefix[len - 1] == '/')
            len--;
        st->prefix = xasprintf("%.*s/", (int)len, prefix);
        st->base.description = xasprintf("s3://%s/%.*s", params->bucket, (int)len, prefix);
    } else {
        st->prefix = xstrdup("");
        st->base.description = xasprintf("s3://%s", params->bucket);
    }
    st->part_size = part;
    return &st->base;
}
