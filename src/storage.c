/*
 * Storage front end: picks a backend from a location string and dispatches to it. It also keeps,
 * for every writer, the byte count and SHA-256 of what was written, so every backend reports the
 * same digest for the run summary.
 */
#include "storage.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "err.h"
#include "xalloc.h"

#include "banned.h"

struct storage *
storage_open(const char *location, const struct storage_s3_params *s3, struct jr_err *err)
{
    if (strncmp(location, "s3://", 5) == 0) {
        struct storage_s3_params p;
        const char *bucket = location + 5;
        const char *slash = strchr(bucket, '/');
        char *name;
        char *prefix = NULL;
        struct storage *st;

        if (!s3)
            return jr_err_set(err, JR_E_CONFIG, "no S3 configuration for '%s'", location), NULL;
        name = slash ? xstrndup(bucket, (size_t)(slash - bucket)) : xstrdup(bucket);
        if (!*name) {
            free(name);
            jr_err_set(err, JR_E_CONFIG, "invalid bucket location '%s': no bucket name", location);
            return NULL;
        }
        if (slash) {
            size_t len;

            while (*slash == '/')
                slash++;
            prefix = xstrdup(slash);
            len = strlen(prefix);
            while (len && prefix[len - 1] == '/')
                prefix[--len] = '\0';
        }
        p = *s3;
        p.bucket = name;
        p.prefix = (prefix && *prefix) ? prefix : NULL;
        st = storage_s3_open(&p, err);
        free(name);
        free(prefix);
        return st;
    }
    if (strncmp(location, "file:", 5) == 0)
        location += 5;
    if (!*location)
        return jr_err_set(err, JR_E_CONFIG, "invalid storage location: empty path"), NULL;
    if (strstr(location, "://"))
        return jr_err_set(err, JR_E_CONFIG,
                          "unsupported storage location '%s': use s3://BUCKET or a directory",
                          location),
               NULL;
    return storage_file_open(location, err);
}

void
storage_close(struct storage *st)
{
    if (st)
        st->driver->close(st);
}

const char *
storage_describe(const struct storage *st)
{
    return st->description;
}

bool
storage_is_remote(const struct storage *st)
{
    return strcmp(st->driver->name, "file") != 0;
}

int
storage_fetch_many(struct storage *st, struct storage_fetch *items, size_t n, unsigned parallel,
                   struct jr_err *err)
{
    for (size_t i = 0; i < n; i++) {
        items[i].status = STORAGE_FETCH_FAILED;
        items[i].used_fallback = false;
        items[i].bytes = 0;
        items[i].errmsg[0] = '\0';
    }
    return st->driver->fetch_many(st, items, n, parallel ? parallel : 1, err);
}

struct storage_writer *
storage_writer_open(struct storage *st, const char *key, const struct storage_put_opts *opts,
                    struct jr_err *err)
{
    static const struct storage_put_opts defaults = {NULL, false};
    struct storage_writer *w;
    EVP_MD_CTX *md;

    w = st->driver->writer_open(st, key, opts ? opts : &defaults, err);
    if (!w)
        return NULL;
    w->st = st;
    w->bytes = 0;
    md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(md);
        w->sha_ctx = NULL;
        st->driver->writer_abort(w);
        jr_err_set(err, JR_E_INTERNAL, "cannot initialise SHA-256");
        return NULL;
    }
    w->sha_ctx = md;
    return w;
}

int
storage_writer_write(struct storage_writer *w, const void *data, size_t len, struct jr_err *err)
{
    if (!len)
        return 0;
    if (EVP_DigestUpdate(w->sha_ctx, data, len) != 1)
        return jr_err_set(err, JR_E_INTERNAL, "SHA-256 update failed");
    w->bytes += (int64_t)len;
    return w->st->driver->writer_write(w, data, len, err);
}

int
storage_writer_commit(struct storage_writer *w, struct storage_put_result *res, struct jr_err *err)
{
    EVP_MD_CTX *md = w->sha_ctx;
    unsigned int mdlen = 0;

    if (res) {
        res->bytes = w->bytes;
        if (EVP_DigestFinal_ex(md, res->sha256, &mdlen) != 1 || mdlen != 32) {
            EVP_MD_CTX_free(md);
            w->sha_ctx = NULL;
            w->st->driver->writer_abort(w);
            return jr_err_set(err, JR_E_INTERNAL, "SHA-256 final failed");
        }
    }
    EVP_MD_CTX_free(md);
    w->sha_ctx = NULL;
    return w->st->driver->writer_commit(w, err);
}

void
storage_writer_abort(struct storage_writer *w)
{
    if (!w)
        return;
    EVP_MD_CTX_free(w->sha_ctx);
    w->sha_ctx = NULL;
    w->st->driver->writer_abort(w);
}

int
storage_remove(struct storage *st, const char *key, struct jr_err *err)
{
    return st->driver->remove(st, key, err);
}

int
storage_remove_many(struct storage *st, const char *const *keys, size_t n, bool *failed,
                    struct jr_err *err)
{
    for (size_t i = 0; i < n; i++)
        failed[i] = false;
    if (!n)
        return 0;
    return st->driver->remove_many(st, keys, n, failed, err);
}

int
storage_list(struct storage *st, const char *prefix, storage_list_fn *fn, void *arg,
             struct jr_err *err)
{
    return st->driver->list(st, prefix ? prefix : "", fn, arg, err);
}

int
storage_stat(struct storage *st, const char *key, struct storage_object_info *info, bool *exists,
             struct jr_err *err)
{
    memset(info, 0, sizeof(*info));
    info->key = key;
    *exists = false;
    return st->driver->stat(st, key, info, exists, err);
}
