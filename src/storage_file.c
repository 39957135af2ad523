/*
 * Local-directory storage backend: the bucket's key layout below a directory, for demos, tests and
 * sites without S3. Writes go to a temporary file in the target directory (mode 0600), then fsync,
 * rename and a directory fsync, so a reader sees the old file or the new one, never half of one.
 * Keys are checked so that none can escape the directory.
 */
#include "storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "xalloc.h"

#include "banned.h"

#define FILE_TMP_MARK ".jrtmp."

struct file_storage {
    struct storage base; /* must be first */
    char *root;          /* absolute directory */
};

#define FILE_WRITE_BUF 65536

struct file_writer {
    struct storage_writer base; /* must be first */
    char *path;                 /* final path */
    char *tmp;                  /* temporary path */
    int fd;
    size_t used;              /* bytes waiting in buf */
    char buf[FILE_WRITE_BUF]; /* rows arrive a line at a time: one write(2) per 64 KiB */
};

/* A key is a relative path of non-empty segments, none "." or "..", without NUL. */
static bool
key_is_safe(const char *key)
{
    const char *seg = key;

    if (!*key || *key == '/')
        return false;
    for (;;) {
        const char *end = strchr(seg, '/');
        size_t len = end ? (size_t)(end - seg) : strlen(seg);

        if (len == 0 || (len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
            return false;
        if (!end)
            return true;
        seg = end + 1;
    }
}

static char *
key_path(struct file_storage *fs, const char *key, struct jr_err *err)
{
    if (!key_is_safe(key)) {
        jr_err_set(err, JR_E_IO, "invalid object key '%s'", key);
        return NULL;
    }
    return xasprintf("%s/%s", fs->root, key);
}

/* Create the directories leading to path (not path itself), mode 0700. */
static int
make_parents(const char *path, struct jr_err *err)
{
    char *dir = xstrdup(path);
    int rc = 0;

    for (char *p = strchr(dir + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
            rc = jr_err_errno(err, JR_E_IO, "cannot create directory '%s'", dir);
            break;
        }
        *p = '/';
    }
    free(dir);
    return rc;
}

static int
read_one(const char *path, struct storage_fetch *it, bool *missing)
{
    unsigned char chunk[65536];
    struct stat sb;
    int fd;

    *missing = false;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            *missing = true;
            return 0;
        }
        snprintf(it->errmsg, sizeof(it->errmsg), "cannot open: %s", strerror(errno));
        return -1;
    }
    if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        snprintf(it->errmsg, sizeof(it->errmsg), "not a regular file");
        close(fd);
        return -1;
    }
    if (it->max_bytes > 0 && (int64_t)sb.st_size > it->max_bytes) {
        it->status = STORAGE_FETCH_TOO_BIG;
        it->bytes = 0;
        close(fd);
        return 0;
    }
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(it->errmsg, sizeof(it->errmsg), "read error: %s", strerror(errno));
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        if (it->max_bytes > 0 && it->bytes + n > it->max_bytes) {
            it->status = STORAGE_FETCH_TOO_BIG; /* grew while we read it */
            close(fd);
            return 0;
        }
        it->bytes += n;
        if (it->on_data(it->arg, chunk, (size_t)n) < 0) {
            it->status = STORAGE_FETCH_ABORTED;
            close(fd);
            return 0;
        }
    }
    close(fd);
    it->status = STORAGE_FETCH_OK;
    return 0;
}

static int
file_fetch_many(struct storage *st, struct storage_fetch *items, size_t n, unsigned parallel,
                struct jr_err *err)
{
    struct file_storage *fs = (struct file_storage *)st;

    (void)parallel; /* local reads are fast enough one at a time */
    for (size_t i = 0; i < n; i++) {
        struct storage_fetch *it = &items[i];
        const char *keys[2] = {it->key, it->fallback_key};

        it->status = STORAGE_FETCH_MISSING;
        for (size_t k = 0; k < 2 && keys[k]; k++) {
            struct jr_err kerr = JR_ERR_INIT;
            char *path = key_path(fs, keys[k], &kerr);
            bool missing;

            if (!path) {
                it->status = STORAGE_FETCH_FAILED;
                snprintf(it->errmsg, sizeof(it->errmsg), "%.250s", kerr.msg);
                break;
            }
            if (read_one(path, it, &missing) < 0)
                it->status = STORAGE_FETCH_FAILED;
            free(path);
            if (!missing) {
                it->used_fallback = k == 1;
                break;
            }
        }
    }
    (void)err;
    return 0;
}

static struct storage_writer *
file_writer_open(struct storage *st, const char *key, const struct storage_put_opts *opts,
                 struct jr_err *err)
{
    struct file_storage *fs = (struct file_storage *)st;
    struct file_writer *w;
    char *path;
    char *slash;
    int fd;

    (void)opts;
    path = key_path(fs, key, err);
    if (!path)
        return NULL;
    if (make_parents(path, err) < 0) {
        free(path);
        return NULL;
    }
    w = xcalloc(1, sizeof(*w));
    w->path = path;
    slash = strrchr(path, '/');
    /* The temporary name does not repeat the final one, so any key that fits fits here too. */
    w->tmp = xasprintf("%.*s/" FILE_TMP_MARK "XXXXXX", (int)(slash - path), path);
    fd = mkostemp(w->tmp, O_CLOEXEC); /* mode 0600 */
    if (fd < 0) {
        jr_err_errno(err, JR_E_IO, "cannot create temporary file for '%s'", path);
        free(w->tmp);
        free(w->path);
        free(w);
        return NULL;
    }
    w->fd = fd;
    w->base.key = xstrdup(key);
    return &w->base;
}

static int
write_all(struct file_writer *w, const char *p, size_t len, struct jr_err *err)
{
    while (len) {
        ssize_t n = write(w->fd, p, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return jr_err_errno(err, JR_E_IO, "cannot write '%s'", w->path);
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int
file_writer_write(struct storage_writer *sw, const void *data, size_t len, struct jr_err *err)
{
    struct file_writer *w = (struct file_writer *)sw;

    if (w->used + len > sizeof(w->buf)) {
        if (write_all(w, w->buf, w->used, err) < 0)
            return -1;
        w->used = 0;
        if (len >= sizeof(w->buf))
            return write_all(w, data, len, err);
    }
    memcpy(w->buf + w->used, data, len);
    w->used += len;
    return 0;
}

static void
file_writer_free(struct file_writer *w)
{
    xwipe(w->buf, w->used); /* report rows hold PII */
    free(w->base.key);
    free(w->tmp);
    free(w->path);
    free(w);
}

static void
file_writer_abort(struct storage_writer *sw)
{
    struct file_writer *w = (struct file_writer *)sw;

    if (w->fd >= 0)
        close(w->fd);
    unlink(w->tmp);
    file_writer_free(w);
}

static int
fsync_dir_of(const char *path)
{
    char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    int fd;
    int rc = 0;

    if (slash)
        *slash = '\0';
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0)
        rc = -1;
    if (fd >= 0)
        close(fd);
    free(dir);
    return rc;
}

static int
file_writer_commit(struct storage_writer *sw, struct jr_err *err)
{
    struct file_writer *w = (struct file_writer *)sw;
    int rc = -1;

    if (write_all(w, w->buf, w->used, err) < 0)
        goto out;
    w->used = 0;
    if (fsync(w->fd) < 0) {
        jr_err_errno(err, JR_E_IO, "cannot write '%s'", w->path);
        goto out;
    }
    if (close(w->fd) < 0) {
        w->fd = -1;
        jr_err_errno(err, JR_E_IO, "cannot write '%s'", w->path);
        goto out;
    }
    w->fd = -1;
    if (rename(w->tmp, w->path) < 0) {
        jr_err_errno(err, JR_E_IO, "cannot rename temporary file to '%s'", w->path);
        goto out;
    }
    if (fsync_dir_of(w->path) < 0) {
        jr_err_errno(err, JR_E_IO, "cannot sync directory of '%s'", w->path);
        file_writer_free(w);
        return -1;
    }
    file_writer_free(w);
    return 0;
out:
    file_writer_abort(sw);
    return rc;
}

static int
file_remove(struct storage *st, const char *key, struct jr_err *err)
{
    char *path = key_path((struct file_storage *)st, key, err);

    if (!path)
        return -1;
    if (unlink(path) < 0 && errno != ENOENT) {
        jr_err_errno(err, JR_E_IO, "cannot remove '%s'", path);
        free(path);
        return -1;
    }
    free(path);
    return 0;
}

static int
file_remove_many(struct storage *st, const char *const *keys, size_t n, bool *failed,
                 struct jr_err *err)
{
    (void)err;
    for (size_t i = 0; i < n; i++) {
        struct jr_err kerr = JR_ERR_INIT;

        if (file_remove(st, keys[i], &kerr) < 0) {
            failed[i] = true;
            log_warn("%s", kerr.msg);
        }
    }
    return 0;
}

struct key_list {
    char **keys;
    size_t n;
    size_t cap;
};

static int
walk(const char *root, const char *rel, struct key_list *kl, struct jr_err *err)
{
    char *dirpath = *rel ? xasprintf("%s/%s", root, rel) : xstrdup(root);
    DIR *d = opendir(dirpath);
    struct dirent *de;
    int rc = 0;

    if (!d) {
        rc = jr_err_errno(err, JR_E_IO, "cannot list '%s'", dirpath);
        free(dirpath);
        return rc;
    }
    while ((de = readdir(d))) {
        char *child;
        struct stat sb;
        char *full;

        if (strncmp(de->d_name, FILE_TMP_MARK, sizeof(FILE_TMP_MARK) - 1) == 0 ||
            strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        child = *rel ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
        full = xasprintf("%s/%s", root, child);
        if (lstat(full, &sb) < 0) {
            free(child);
        } else if (S_ISDIR(sb.st_mode)) {
            rc = walk(root, child, kl, err);
            free(child);
        } else if (S_ISREG(sb.st_mode)) {
            if (kl->n == kl->cap) {
                kl->cap = kl->cap ? kl->cap * 2 : 64;
                kl->keys = xreallocarray(kl->keys, kl->cap, sizeof(*kl->keys));
            }
            kl->keys[kl->n++] = child;
        } else {
            free(child);
        }
        free(full);
        if (rc < 0)
            break;
    }
    closedir(d);
    free(dirpath);
    return rc;
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int
file_list(struct storage *st, const char *prefix, storage_list_fn *fn, void *arg,
          struct jr_err *err)
{
    struct file_storage *fs = (struct file_storage *)st;
    struct key_list kl = {NULL, 0, 0};
    size_t plen = strlen(prefix);
    int rc;

    rc = walk(fs->root, "", &kl, err);
    if (rc == 0 && kl.n)
        qsort(kl.keys, kl.n, sizeof(*kl.keys), cmp_str);
    for (size_t i = 0; i < kl.n && rc == 0; i++) {
        struct storage_object_info info;
        struct stat sb;
        char *full;

        if (strncmp(kl.keys[i], prefix, plen) != 0)
            continue;
        full = xasprintf("%s/%s", fs->root, kl.keys[i]);
        if (stat(full, &sb) == 0) {
            memset(&info, 0, sizeof(info));
            info.key = kl.keys[i];
            info.size = (int64_t)sb.st_size;
            info.mtime = sb.st_mtime;
            if (fn(arg, &info) < 0)
                rc = jr_err_set(err, JR_E_IO, "listing of '%s' stopped", fs->root);
        }
        free(full);
    }
    for (size_t i = 0; i < kl.n; i++)
        free(kl.keys[i]);
    free(kl.keys);
    return rc;
}

static int
file_stat(struct storage *st, const char *key, struct storage_object_info *info, bool *exists,
          struct jr_err *err)
{
    char *path = key_path((struct file_storage *)st, key, err);
    struct stat sb;

    if (!path)
        return -1;
    if (stat(path, &sb) < 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            free(path);
            return 0;
        }
        jr_err_errno(err, JR_E_IO, "cannot stat '%s'", path);
        free(path);
        return -1;
    }
    free(path);
    *exists = S_ISREG(sb.st_mode);
    info->size = (int64_t)sb.st_size;
    info->mtime = sb.st_mtime;
    return 0;
}

static void
file_close(struct storage *st)
{
    struct file_storage *fs = (struct file_storage *)st;

    free(fs->root);
    free(fs->base.description);
    free(fs);
}

static const struct storage_driver file_driver = {
    .name = "file",
    .fetch_many = file_fetch_many,
    .writer_open = file_writer_open,
    .writer_write = file_writer_write,
    .writer_commit = file_writer_commit,
    .writer_abort = file_writer_abort,
    .remove = file_remove,
    .remove_many = file_remove_many,
    .list = file_list,
    .stat = file_stat,
    .close = file_close,
};

struct storage *
storage_file_open(const char *dir, struct jr_err *err)
{
    struct file_storage *fs;
    char *real = realpath(dir, NULL);
    struct stat sb;

    if (!real) {
        if (errno == ENOENT || errno == ENOTDIR)
            jr_err_set(err, JR_E_CONFIG, "directory '%s' does not exist", dir);
        else
            jr_err_errno(err, JR_E_IO, "cannot open directory '%s'", dir);
        return NULL;
    }
    if (stat(real, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
        jr_err_set(err, JR_E_CONFIG, "'%s' is not a directory", dir);
        free(real);
        return NULL;
    }
    fs = xcalloc(1, sizeof(*fs));
    fs->base.driver = &file_driver;
    fs->root = real;
    fs->base.description = xasprintf("file:%s", real);
    return &fs->base;
}
