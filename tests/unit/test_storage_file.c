/*
 * Tests of the local-directory storage backend through storage_open and the storage_* API (the
 * same calls commands make): atomic writes (nothing visible before commit, a hidden temporary
 * only, mode 0600, parents created, replacement by rename), abort, put results (bytes and SHA-256
 * against OpenSSL), keys that try to leave the directory, fetch_many (in-order delivery, missing,
 * fallback keys, size limit, abort by the callback), remove, remove_many, list (sorted, prefix,
 * temporaries hidden), stat, and storage_open's errors. Every test gets a fresh directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "storage.h"
#include "xalloc.h"

#include "banned.h"

#define REPORT_KEY "0b1e4c52-3f7a-4c1e-9d2b-6a8f0e3d5c71-service-notify/1-day-report.csv"
#define REPORT_DIR "0b1e4c52-3f7a-4c1e-9d2b-6a8f0e3d5c71-service-notify"

struct fixture {
    char *root; /* the bucket directory (real path) */
    struct storage *st;
};

/* ---- helpers ---- */

static int
rm_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    return remove(path);
}

static int
setup(void **state)
{
    const char *tmp = getenv("TMPDIR");
    char *tmpl = xasprintf("%s/jr-test-storage-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    struct fixture *fx = xcalloc(1, sizeof(*fx));
    char *bucket;
    struct jr_err err = JR_ERR_INIT;

    if (!mkdtemp(tmpl))
        fail_msg("mkdtemp: %s", strerror(errno));
    /* the bucket is a subdirectory, so escapes to its parent can be detected */
    bucket = xasprintf("%s/bucket", tmpl);
    assert_int_equal(mkdir(bucket, 0700), 0);
    fx->root = realpath(bucket, NULL);
    assert_non_null(fx->root);
    free(bucket);
    free(tmpl);
    fx->st = storage_open(fx->root, NULL, &err);
    if (!fx->st)
        fail_msg("storage_open: %s", err.msg);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *fx = *state;
    char *parent = xstrdup(fx->root);

    storage_close(fx->st);
    *strrchr(parent, '/') = '\0';
    nftw(parent, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(parent);
    free(fx->root);
    free(fx);
    return 0;
}

static char *
path_in(const struct fixture *fx, const char *rel)
{
    return xasprintf("%s/%s", fx->root, rel);
}

/* Create root/rel with data, making parent directories. */
static void
put_file(const struct fixture *fx, const char *rel, const void *data, size_t len)
{
    char *path = path_in(fx, rel);
    FILE *f;

    for (char *p = strchr(path + strlen(fx->root) + 1, '/'); p; p = strchr(p + 1, '/')) {
        *p = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
            fail_msg("mkdir '%s': %s", path, strerror(errno));
        *p = '/';
    }
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    free(path);
}

/* The contents of root/rel, or NULL when it does not exist. */
static char *
get_file(const struct fixture *fx, const char *rel, size_t *len)
{
    char *path = path_in(fx, rel);
    FILE *f = fopen(path, "rb");
    struct buf b = BUF_INIT;
    char chunk[8192];
    size_t n;

    free(path);
    if (!f)
        return NULL;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_add(&b, chunk, n);
    fclose(f);
    return buf_detach(&b, len);
}

static bool
exists(const struct fixture *fx, const char *rel)
{
    char *path = path_in(fx, rel);
    struct stat sb;
    bool ok = lstat(path, &sb) == 0;

    free(path);
    return ok;
}

/* Names in root/rel other than "." and "..", sorted, joined by '|'. */
static char *
dir_names(const struct fixture *fx, const char *rel)
{
    char *path = *rel ? path_in(fx, rel) : xstrdup(fx->root);
    DIR *d = opendir(path);
    struct dirent *de;
    char *names[64];
    size_t n = 0;
    struct buf b = BUF_INIT;

    assert_non_null(d);
    while ((de = readdir(d)) && n < 64)
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
            names[n++] = xstrdup(de->d_name);
    closedir(d);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];

            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        buf_printf(&b, "%s%s", i ? "|" : "", names[i]);
        free(names[i]);
    }
    free(path);
    return buf_detach(&b, NULL);
}

/* Count regular files anywhere below root (temporaries included). */
static size_t n_files_found;

static int
count_entry(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)path;
    (void)ftw;
    if (type == FTW_F && S_ISREG(sb->st_mode))
        n_files_found++;
    return 0;
}

static size_t
count_files(const struct fixture *fx)
{
    n_files_found = 0;
    nftw(fx->root, count_entry, 16, FTW_PHYS);
    return n_files_found;
}

static void
sha256(const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 0;

    assert_int_equal(EVP_Digest(data, len, out, &n, EVP_sha256(), NULL), 1);
    assert_int_equal(n, 32);
}

static char *
pattern(size_t len)
{
    char *p = xmalloc(len ? len : 1);

    for (size_t i = 0; i < len; i++)
        p[i] = (char)((i * 7 + i / 251) & 0xff);
    return p;
}

/* Write data to key in chunks of `chunk` bytes and commit. */
static void
write_object(struct storage *st, const char *key, const void *data, size_t len, size_t chunk,
             struct storage_put_result *res)
{
    struct jr_err err = JR_ERR_INIT;
    struct storage_writer *w = storage_writer_open(st, key, NULL, &err);
    const char *p = data;

    if (!w)
        fail_msg("writer_open '%s': %s", key, err.msg);
    for (size_t off = 0; off < len; off += chunk) {
        size_t n = len - off < chunk ? len - off : chunk;

        if (storage_writer_write(w, p + off, n, &err) < 0)
            fail_msg("write: %s", err.msg);
    }
    if (storage_writer_commit(w, res, &err) < 0)
        fail_msg("commit: %s", err.msg);
}

struct collect {
    struct buf data;
    unsigned calls;
    unsigned abort_at; /* return -1 on this call (1-based); 0 = never */
    unsigned resets;
};

static int
on_data(void *arg, const void *data, size_t len)
{
    struct collect *c = arg;

    c->calls++;
    if (c->abort_at && c->calls == c->abort_at)
        return -1;
    buf_add(&c->data, data, len);
    return 0;
}

static void
on_reset(void *arg)
{
    struct collect *c = arg;

    c->resets++;
    buf_reset(&c->data);
}

static void
fetch_init(struct storage_fetch *it, const char *key, const char *fallback, int64_t max,
           struct collect *c)
{
    memset(it, 0, sizeof(*it));
    it->key = key;
    it->fallback_key = fallback;
    it->max_bytes = max;
    it->on_data = on_data;
    it->on_reset = on_reset;
    it->arg = c;
    /* outputs hold garbage: storage_fetch_many must set them */
    it->status = (enum storage_fetch_status)77;
    it->used_fallback = true;
    it->bytes = -5;
    memset(it->errmsg, 'E', sizeof(it->errmsg) - 1);
}

struct listing {
    char *keys[64];
    int64_t sizes[64];
    time_t mtimes[64];
    size_t n;
    size_t stop_after; /* return -1 after this many; 0 = never */
};

static int
on_list(void *arg, const struct storage_object_info *info)
{
    struct listing *l = arg;

    assert_true(l->n < 64);
    l->keys[l->n] = xstrdup(info->key);
    l->sizes[l->n] = info->size;
    l->mtimes[l->n] = info->mtime;
    l->n++;
    return l->stop_after && l->n >= l->stop_after ? -1 : 0;
}

static char *
listing_keys(const struct listing *l)
{
    struct buf b = BUF_INIT;

    for (size_t i = 0; i < l->n; i++)
        buf_printf(&b, "%s%s", i ? "|" : "", l->keys[i]);
    return buf_detach(&b, NULL);
}

static void
listing_release(struct listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->keys[i]);
    l->n = 0;
}

static void
expect_list(struct storage *st, const char *prefix, const char *want)
{
    struct listing l;
    struct jr_err err = JR_ERR_INIT;
    char *got;

    memset(&l, 0, sizeof(l));
    if (storage_list(st, prefix, on_list, &l, &err) < 0)
        fail_msg("list: %s", err.msg);
    got = listing_keys(&l);
    assert_string_equal(got, want);
    free(got);
    listing_release(&l);
}

/* ---- storage_open ---- */

static void
test_open_forms(void **state)
{
    struct fixture *fx = *state;
    struct jr_err err = JR_ERR_INIT;
    char *want = xasprintf("file:%s", fx->root);
    char *loc = xasprintf("file:%s", fx->root);
    char *link = xasprintf("%s/../bucket-link", fx->root);
    char *slashed = xasprintf("%s/", fx->root);
    struct storage *st;

    assert_string_equal(storage_describe(fx->st), want);
    assert_false(storage_is_remote(fx->st));

    st = storage_open(loc, NULL, &err);
    assert_non_null(st);
    assert_string_equal(storage_describe(st), want);
    assert_false(storage_is_remote(st));
    storage_close(st);

    st = storage_open(slashed, NULL, &err);
    assert_non_null(st);
    assert_string_equal(storage_describe(st), want);
    storage_close(st);

    /* a symbolic link to the directory is resolved in the description */
    assert_int_equal(symlink(fx->root, link), 0);
    st = storage_open(link, NULL, &err);
    assert_non_null(st);
    assert_string_equal(storage_describe(st), want);
    storage_close(st);

    storage_close(NULL);
    free(slashed);
    free(link);
    free(loc);
    free(want);
}

static void
test_open_errors(void **state)
{
    struct fixture *fx = *state;
    char *missing = path_in(fx, "no-such-dir");
    char *file = path_in(fx, "plain-file");
    char *file_loc = xasprintf("file:%s", missing);
    struct storage_s3_params s3;

    const struct {
        const char *loc;
        bool with_s3;
        enum jr_errcode code;
        char *msg;
    } cases[] = {
        {missing, false, JR_E_CONFIG, xasprintf("directory '%s' does not exist", missing)},
        {file_loc, false, JR_E_CONFIG, xasprintf("directory '%s' does not exist", missing)},
        {file, false, JR_E_CONFIG, xasprintf("'%s' is not a directory", file)},
        {"", false, JR_E_CONFIG, xstrdup("invalid storage location: empty path")},
        {"file:", false, JR_E_CONFIG, xstrdup("invalid storage location: empty path")},
        {"s3://notify-reports", false, JR_E_CONFIG,
         xstrdup("no S3 configuration for 's3://notify-reports'")},
        {"s3://notify-reports/daily", false, JR_E_CONFIG,
         xstrdup("no S3 configuration for 's3://notify-reports/daily'")},
        {"s3://", true, JR_E_CONFIG, xstrdup("invalid bucket location 's3://': no bucket name")},
        {"s3:///prefix", true, JR_E_CONFIG,
         xstrdup("invalid bucket location 's3:///prefix': no bucket name")},
        {"https://bucket.s3.amazonaws.com", false, JR_E_CONFIG,
         xstrdup("unsupported storage location 'https://bucket.s3.amazonaws.com': use s3://BUCKET "
                 "or a directory")},
    };

    put_file(fx, "plain-file", "x", 1);
    memset(&s3, 0, sizeof(s3));
    s3.region = "us-east-1";
    s3.max_attempts = 3;
    for (size_t i = 0; i < JR_ARRAY_LEN(cases); i++) {
        struct jr_err err = JR_ERR_INIT;
        struct storage *st = storage_open(cases[i].loc, cases[i].with_s3 ? &s3 : NULL, &err);

        if (st)
            fail_msg("'%s' opened", cases[i].loc);
        assert_int_equal(err.code, cases[i].code);
        assert_string_equal(err.msg, cases[i].msg);
        free(cases[i].msg);
    }
    free(file_loc);
    free(file);
    free(missing);
}

/* ---- writers ---- */

static void
test_write_commit(void **state)
{
    struct fixture *fx = *state;
    static const char body[] = "Phone Number,Template\r\n12025550143,Reminder\r\n";
    struct jr_err err = JR_ERR_INIT;
    struct storage_put_opts opts = {"text/csv; charset=utf-8", true};
    struct storage_put_result res;
    struct storage_writer *w;
    struct storage_object_info info;
    unsigned char want[32];
    char *names;
    char *got;
    size_t len;
    struct stat sb;
    char *path = path_in(fx, REPORT_KEY);
    bool ex = true;

    /* another object, so that the listing below is not of an empty bucket (test_list_empty) */
    put_file(fx, "other.csv", "o", 1);
    w = storage_writer_open(fx->st, REPORT_KEY, &opts, &err);
    if (!w)
        fail_msg("writer_open: %s", err.msg);
    assert_int_equal(storage_writer_write(w, body, 20, &err), 0);
    assert_int_equal(storage_writer_write(w, body + 20, 0, &err), 0);
    assert_int_equal(storage_writer_write(w, body + 20, sizeof(body) - 1 - 20, &err), 0);

    /* before commit: the parent exists, holding only a hidden temporary; nothing at the key */
    assert_false(exists(fx, REPORT_KEY));
    names = dir_names(fx, REPORT_DIR);
    assert_null(strchr(names, '|')); /* exactly one entry */
    assert_int_equal(strncmp(names, ".jrtmp.", 7), 0);
    assert_int_equal(strlen(names), 13);
    free(names);
    assert_int_equal(storage_stat(fx->st, REPORT_KEY, &info, &ex, &err), 0);
    assert_false(ex);
    expect_list(fx->st, "", "other.csv");

    memset(&res, 0xee, sizeof(res));
    assert_int_equal(storage_writer_commit(w, &res, &err), 0);

    got = get_file(fx, REPORT_KEY, &len);
    assert_non_null(got);
    assert_int_equal(len, sizeof(body) - 1);
    assert_memory_equal(got, body, len);
    free(got);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    assert_true(S_ISREG(sb.st_mode));
    names = dir_names(fx, REPORT_DIR);
    assert_string_equal(names, "1-day-report.csv"); /* the temporary is gone */
    free(names);

    assert_true(res.bytes == (int64_t)sizeof(body) - 1);
    sha256(body, sizeof(body) - 1, want);
    assert_memory_equal(res.sha256, want, 32);
    free(path);
}

/* Mode 0600 whatever the umask, and parents several levels deep. */
static void
test_write_mode_and_parents(void **state)
{
    struct fixture *fx = *state;
    mode_t old = umask(0);
    struct stat sb;
    char *path = path_in(fx, "a/b/c/d.csv");

    write_object(fx->st, "a/b/c/d.csv", "x", 1, 1, NULL);
    umask(old);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    free(path);
}

static void
test_write_empty_object(void **state)
{
    struct fixture *fx = *state;
    struct storage_put_result res;
    unsigned char want[32];
    char *got;
    size_t len = 99;

    write_object(fx->st, "empty.csv", "", 0, 1, &res);
    got = get_file(fx, "empty.csv", &len);
    assert_non_null(got);
    assert_int_equal(len, 0);
    free(got);
    assert_true(res.bytes == 0);
    sha256("", 0, want);
    assert_memory_equal(res.sha256, want, 32);
}

/* 3 MiB written in odd-sized chunks: the file, the byte count and the SHA-256 all agree. */
static void
test_write_many_chunks(void **state)
{
    struct fixture *fx = *state;
    const size_t n = (size_t)3 << 20;
    char *body = pattern(n);
    struct storage_put_result res;
    unsigned char want[32];
    char *got;
    size_t len;

    write_object(fx->st, "big/object.csv", body, n, 65521, &res);
    got = get_file(fx, "big/object.csv", &len);
    assert_int_equal(len, n);
    assert_memory_equal(got, body, n);
    assert_true(res.bytes == (int64_t)n);
    sha256(body, n, want);
    assert_memory_equal(res.sha256, want, 32);
    free(got);
    free(body);
}

static void
test_commit_without_result(void **state)
{
    struct fixture *fx = *state;
    char *got;
    size_t len;

    write_object(fx->st, "k.csv", "abc", 3, 2, NULL);
    got = get_file(fx, "k.csv", &len);
    assert_int_equal(len, 3);
    assert_memory_equal(got, "abc", 3);
    free(got);
}

/* A commit replaces the object by a rename: a reader holding the old file keeps reading the old
 * bytes, readers never see a mix, and the old object stays until the commit. */
static void
test_commit_replaces_atomically(void **state)
{
    struct fixture *fx = *state;
    struct jr_err err = JR_ERR_INIT;
    struct storage_writer *w;
    char *path = path_in(fx, REPORT_KEY);
    struct stat before;
    struct stat after;
    char buf[64];
    char *got;
    size_t len;
    int fd;

    write_object(fx->st, REPORT_KEY, "old contents", 12, 100, NULL);
    assert_int_equal(chmod(path, 0644), 0);
    assert_int_equal(stat(path, &before), 0);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);

    w = storage_writer_open(fx->st, REPORT_KEY, NULL, &err);
    assert_non_null(w);
    assert_int_equal(storage_writer_write(w, "new", 3, &err), 0);
    got = get_file(fx, REPORT_KEY, &len); /* still the old object */
    assert_int_equal(len, 12);
    assert_memory_equal(got, "old contents", 12);
    free(got);
    assert_int_equal(storage_writer_commit(w, NULL, &err), 0);

    got = get_file(fx, REPORT_KEY, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(got, "new", 3);
    free(got);
    assert_int_equal(stat(path, &after), 0);
    assert_true(before.st_ino != after.st_ino); /* a new file, not rewritten in place */
    assert_int_equal(after.st_mode & 07777, 0600);
    assert_int_equal(read(fd, buf, sizeof(buf)), 12);
    assert_memory_equal(buf, "old contents", 12);
    close(fd);
    got = dir_names(fx, REPORT_DIR);
    assert_string_equal(got, "1-day-report.csv");
    free(got);
    free(path);
}

static void
test_abort(void **state)
{
    struct fixture *fx = *state;
    struct jr_err err = JR_ERR_INIT;
    struct storage_writer *w;
    char *got;
    size_t len;

    w = storage_writer_open(fx->st, "svc/new.csv", NULL, &err);
    assert_non_null(w);
    assert_int_equal(storage_writer_write(w, "partial", 7, &err), 0);
    storage_writer_abort(w);
    assert_false(exists(fx, "svc/new.csv"));
    assert_int_equal(count_files(fx), 0); /* no temporary left either */

    /* aborting a replacement leaves the old object untouched */
    write_object(fx->st, "svc/old.csv", "keep me", 7, 100, NULL);
    w = storage_writer_open(fx->st, "svc/old.csv", NULL, &err);
    assert_non_null(w);
    assert_int_equal(storage_writer_write(w, "replacement", 11, &err), 0);
    storage_writer_abort(w);
    got = get_file(fx, "svc/old.csv", &len);
    assert_int_equal(len, 7);
    assert_memory_equal(got, "keep me", 7);
    free(got);
    assert_int_equal(count_files(fx), 1);

    /* abort right after open, and abort(NULL) */
    w = storage_writer_open(fx->st, "svc/nothing.csv", NULL, &err);
    assert_non_null(w);
    storage_writer_abort(w);
    storage_writer_abort(NULL);
    assert_int_equal(count_files(fx), 1);
}

/* Two writers of one key: each has its own temporary; the last commit wins; nothing is left. */
static void
test_concurrent_writers(void **state)
{
    struct fixture *fx = *state;
    struct jr_err err = JR_ERR_INIT;
    struct storage_writer *w1 = storage_writer_open(fx->st, "k/r.csv", NULL, &err);
    struct storage_writer *w2 = storage_writer_open(fx->st, "k/r.csv", NULL, &err);
    char *got;
    size_t len;

    assert_non_null(w1);
    assert_non_null(w2);
    assert_int_equal(storage_writer_write(w1, "first", 5, &err), 0);
    assert_int_equal(storage_writer_write(w2, "second", 6, &err), 0);
    assert_int_equal(count_files(fx), 2);
    assert_int_equal(storage_writer_commit(w2, NULL, &err), 0);
    assert_int_equal(storage_writer_commit(w1, NULL, &err), 0);
    got = get_file(fx, "k/r.csv", &len);
    assert_int_equal(len, 5);
    assert_memory_equal(got, "first", 5);
    free(got);
    assert_int_equal(count_files(fx), 1);
}

/* Keys are relative paths of ordinary segments; anything else is refused by every operation, and
 * nothing appears outside the directory. */
static void
test_unsafe_keys(void **state)
{
    struct fixture *fx = *state;
    static const char *const bad[] = {
        "../x", "/abs", "/etc/passwd", "a//b",      "a/./b",          "",    "a/", ".",
        "..",   "a/..", "./a",         "a/../../x", "a/b/../../../x", "//x",
    };
    char *parent = xstrdup(fx->root);

    *strrchr(parent, '/') = '\0';
    for (size_t i = 0; i < JR_ARRAY_LEN(bad); i++) {
        struct jr_err err = JR_ERR_INIT;
        struct storage_object_info info;
        struct storage_fetch it;
        struct collect c;
        char *want = xasprintf("invalid object key '%s'", bad[i]);
        bool ex;

        if (storage_writer_open(fx->st, bad[i], NULL, &err))
            fail_msg("writer_open accepted '%s'", bad[i]);
        assert_int_equal(err.code, JR_E_IO);
        assert_string_equal(err.msg, want);

        jr_err_clear(&err);
        assert_int_equal(storage_remove(fx->st, bad[i], &err), -1);
        assert_int_equal(err.code, JR_E_IO);
        assert_string_equal(err.msg, want);

        jr_err_clear(&err);
        assert_int_equal(storage_stat(fx->st, bad[i], &info, &ex, &err), -1);
        assert_int_equal(err.code, JR_E_IO);
        assert_string_equal(err.msg, want);

        memset(&c, 0, sizeof(c));
        fetch_init(&it, bad[i], NULL, 0, &c);
        assert_int_equal(storage_fetch_many(fx->st, &it, 1, 1, &err), 0);
        assert_int_equal(it.status, STORAGE_FETCH_FAILED);
        assert_string_equal(it.errmsg, want);
        assert_int_equal(c.calls, 0);
        free(want);
    }
    /* a valid key whose fallback is unsafe */
    {
        struct jr_err err = JR_ERR_INIT;
        struct storage_fetch it;
        struct collect c;

        memset(&c, 0, sizeof(c));
        fetch_init(&it, "svc/missing.csv", "../outside.csv", 0, &c);
        assert_int_equal(storage_fetch_many(fx->st, &it, 1, 1, &err), 0);
        assert_int_equal(it.status, STORAGE_FETCH_FAILED);
        assert_string_equal(it.errmsg, "invalid object key '../outside.csv'");
    }
    assert_int_equal(count_files(fx), 0);
    {
        char *x = xasprintf("%s/x", parent);
        struct stat sb;

        assert_int_equal(lstat(x, &sb), -1);
        free(x);
    }
    free(parent);
}

/* Dots inside segments are ordinary characters. */
static void
test_unusual_but_safe_keys(void **state)
{
    struct fixture *fx = *state;
    static const char *const good[] = {"x..y/z.csv",    "...",
                                       "a/.../b",       "..c/d",
                                       "a/.hidden.csv", "caf\xc3\xa9/r\xc3\xa9sum\xc3\xa9.csv",
                                       "sp ace/a b.csv"};

    for (size_t i = 0; i < JR_ARRAY_LEN(good); i++) {
        struct jr_err err = JR_ERR_INIT;
        struct storage_object_info info;
        bool ex = false;

        write_object(fx->st, good[i], "1", 1, 1, NULL);
        assert_true(exists(fx, good[i]));
        assert_int_equal(storage_stat(fx->st, good[i], &info, &ex, &err), 0);
        assert_true(ex);
    }
}

/* ---- fetch_many ---- */

static void
test_fetch_ok(void **state)
{
    struct fixture *fx = *state;
    const size_t n = 200000;
    char *body = pattern(n);
    struct storage_fetch it;
    struct collect c;
    struct jr_err err = JR_ERR_INIT;

    put_file(fx, "svc-service-notify/job.csv", body, n);
    memset(&c, 0, sizeof(c));
    fetch_init(&it, "svc-service-notify/job.csv", "service-svc-notify/job.csv", 0, &c);
    assert_int_equal(storage_fetch_many(fx->st, &it, 1, 4, &err), 0);
    assert_int_equal(it.status, STORAGE_FETCH_OK);
    assert_false(it.used_fallback);
    assert_true(it.bytes == (int64_t)n);
    assert_int_equal(c.data.len, n);
    assert_memory_equal(c.data.data, body, n); /* in order */
    assert_true(c.calls >= 1);
    buf_release(&c.data);
    free(body);
}

static void
test_fetch_empty_object(void **state)
{
    struct fixture *fx = *state;
    struct storage_fetch it;
    struct collect c;
    struct jr_err err = JR_ERR_INIT;

    put_file(fx, "e.csv", "", 0);
    memset(&c, 0, sizeof(c));
    fetch_init(&it, "e.csv", NULL, 10, &c);
    assert_int_equal(storage_fetch_many(fx->st, &it, 1, 1, &err), 0);
    assert_int_equal(it.status, STORAGE_FETCH_OK);
    assert_true(it.bytes == 0);
    assert_int_equal(c.data.len, 0);
}

static void
test_fetch_missing(void **state)
{
    struct fixture *fx = *state;
    struct storage_fetch items[3];
    struct collect c[3];
    struct jr_err err = JR_ERR_INIT;

    put_file(fx, "file-not-dir", "x", 1);
    memset(c, 0, sizeof(c));
    fetch_init(&items[0], "svc/none.csv", NULL, 0, &c[0]);
    fetch_init(&items[1], "svc/none.csv", "legacy/none.csv", 0, &c[1]);
    fetch_init(&items[2], "file-not-dir/x.csv", NULL, 0, &c[2]); /* a file where a dir would be */
    assert_int_equal(storage_fetch_many(fx->st, items, 3, 2, &err), 0);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(items[i].status, STORAGE_FETCH_MISSING);
        assert_false(items[i].used_fallback);
        assert_true(items[i].bytes == 0);
        assert_int_equal(c[i].calls, 0);
    }
}

static void
test_fetch_fallback(void **state)
{
    struct fixture *fx = *state;
    struct storage_fetch items[2];
    struct collect c[2];
    struct jr_err err = JR_ERR_INIT;

    put_file(fx, "service-svc-notify/legacy.csv", "legacy layout", 13);
    put_file(fx, "svc-service-notify/both.csv", "new layout", 10);
    put_file(fx, "service-svc-notify/both.csv", "old layout", 10);
    memset(c, 0, sizeof(c));
    fetch_init(&items[0], "svc-service-notify/legacy.csv", "service-svc-notify/legacy.csv", 0,
               &c[0]);
    fetch_init(&items[1], "svc-service-notify/both.csv", "service-svc-notify/both.csv", 0, &c[1]);
    assert_int_equal(storage_fetch_many(fx->st, items, 2, 1, &err), 0);

    assert_int_equal(items[0].status, STORAGE_FETCH_OK);
    assert_true(items[0].used_fallback);
    assert_true(items[0].bytes == 13);
    assert_string_equal(buf_cstr(&c[0].data), "legacy layout");

    assert_int_equal(items[1].status, STORAGE_FETCH_OK);
    assert_false(items[1].used_fallback); /* the key wins when both exist */
    assert_string_equal(buf_cstr(&c[1].data), "new layout");
    buf_release(&c[0].data);
    buf_release(&c[1].data);
}

static void
test_fetch_too_big(void **state)
{
    struct fixture *fx = *state;
    const size_t n = 100000;
    char *body = pattern(n);
    struct storage_fetch items[4];
    struct collect c[4];
    struct jr_err err = JR_ERR_INIT;

    put_file(fx, "big.csv", body, n);
    put_file(fx, "legacy/big.csv", body, n);
    memset(c, 0, sizeof(c));
    fetch_init(&items[0], "big.csv", NULL, (int64_t)n - 1, &c[0]);
    fetch_init(&items[1], "big.csv", NULL, (int64_t)n, &c[1]); /* exactly the limit is fine */
    fetch_init(&items[2], "big.csv", NULL, 0, &c[2]);          /* no limit */
    fetch_init(&items[3], "missing.csv", "legacy/big.csv", 1000, &c[3]);
    assert_int_equal(storage_fetch_many(fx->st, items, 4, 2, &err), 0);
    assert_int_equal(items[0].status, STORAGE_FETCH_TOO_BIG);
    assert_int_equal(items[1].status, STORAGE_FETCH_OK);
    assert_int_equal(c[1].data.len, n);
    assert_int_equal(items[2].status, STORAGE_FETCH_OK);
    assert_int_equal(c[2].data.len, n);
    assert_int_equal(items[3].status, STORAGE_FETCH_TOO_BIG);
    assert_true(items[3].used_fallback);
    for (size_t i = 0; i < 4; i++)
        buf_release(&c[i].data);
    free(body);
}

static void
test_fetch_aborted(void **state)
{
    struct fixture *fx = *state;
    const size_t n = 300000; /* several reads */
    char *body = pattern(n);
    struct storage_fetch items[2];
    struct collect c[2];
    struct jr_err err = JR_ERR_INIT;

    put_file(fx, "job.csv", body, n);
    memset(c, 0, sizeof(c));
    c[0].abort_at = 1;
    c[1].abort_at = 2;
    fetch_init(&items[0], "job.csv", NULL, 0, &c[0]);
    fetch_init(&items[1], "job.csv", NULL, 0, &c[1]);
    assert_int_equal(storage_fetch_many(fx->st, items, 2, 1, &err), 0);
    assert_int_equal(items[0].status, STORAGE_FETCH_ABORTED);
    assert_int_equal(c[0].calls, 1); /* nothing more is delivered after -1 */
    assert_int_equal(items[1].status, STORAGE_FETCH_ABORTED);
    assert_int_equal(c[1].calls, 2);
    assert_true(c[1].data.len > 0 && c[1].data.len < n);
    assert_memory_equal(c[1].data.data, body, c[1].data.len);
    buf_release(&c[0].data);
    buf_release(&c[1].data);
    free(body);
}

/* Outcomes land in their own items, whatever the parallelism. */
static void
test_fetch_many_mixed(void **state)
{
    struct fixture *fx = *state;
    static const unsigned parallel[] = {0, 1, 3, 16};
    char *body = pattern(5000);

    put_file(fx, "a/1.csv", "one", 3);
    put_file(fx, "legacy/2.csv", "two", 3);
    put_file(fx, "a/3.csv", body, 5000);
    put_file(fx, "a/5.csv", "five", 4);
    {
        char *d = path_in(fx, "a/dir.csv");

        assert_int_equal(mkdir(d, 0700), 0);
        free(d);
    }
    for (size_t p = 0; p < JR_ARRAY_LEN(parallel); p++) {
        struct storage_fetch items[6];
        struct collect c[6];
        struct jr_err err = JR_ERR_INIT;

        memset(c, 0, sizeof(c));
        fetch_init(&items[0], "a/1.csv", "legacy/1.csv", 0, &c[0]);
        fetch_init(&items[1], "a/2.csv", "legacy/2.csv", 0, &c[1]);
        fetch_init(&items[2], "a/3.csv", NULL, 100, &c[2]);
        fetch_init(&items[3], "a/4.csv", "legacy/4.csv", 0, &c[3]);
        fetch_init(&items[4], "a/dir.csv", NULL, 0, &c[4]);
        fetch_init(&items[5], "a/5.csv", NULL, 0, &c[5]);
        c[5].abort_at = 1;
        assert_int_equal(storage_fetch_many(fx->st, items, 6, parallel[p], &err), 0);
        assert_int_equal(items[0].status, STORAGE_FETCH_OK);
        assert_string_equal(buf_cstr(&c[0].data), "one");
        assert_int_equal(items[1].status, STORAGE_FETCH_OK);
        assert_true(items[1].used_fallback);
        assert_string_equal(buf_cstr(&c[1].data), "two");
        assert_int_equal(items[2].status, STORAGE_FETCH_TOO_BIG);
        assert_int_equal(items[3].status, STORAGE_FETCH_MISSING);
        assert_int_equal(items[4].status, STORAGE_FETCH_FAILED);
        assert_string_equal(items[4].errmsg, "not a regular file");
        assert_int_equal(items[5].status, STORAGE_FETCH_ABORTED);
        for (size_t i = 0; i < 6; i++)
            buf_release(&c[i].data);
    }
    {
        struct jr_err err = JR_ERR_INIT;

        assert_int_equal(storage_fetch_many(fx->st, NULL, 0, 1, &err), 0);
    }
    free(body);
}

/* ---- remove ---- */

static void
test_remove(void **state)
{
    struct fixture *fx = *state;
    struct jr_err err = JR_ERR_INIT;

    put_file(fx, "svc/1-day-report.csv", "x", 1);
    assert_int_equal(storage_remove(fx->st, "svc/1-day-report.csv", &err), 0);
    assert_false(exists(fx, "svc/1-day-report.csv"));
    /* removing what is not there succeeds */
    assert_int_equal(storage_remove(fx->st, "svc/1-day-report.csv", &err), 0);
    assert_int_equal(storage_remove(fx->st, "no-dir/at-all.csv", &err), 0);
}

struct capture {
    int saved;
    int fd;
};

static void
capture_start(struct capture *c)
{
    const char *dir = getenv("TMPDIR");
    char *path = xasprintf("%s/jr-test-stderr-XXXXXX", dir && *dir ? dir : "/tmp");

    fflush(stderr);
    c->fd = mkstemp(path);
    assert_true(c->fd >= 0);
    unlink(path);
    free(path);
    c->saved = dup(2);
    assert_int_equal(dup2(c->fd, 2), 2);
}

static char *
capture_end(struct capture *c)
{
    struct buf b = BUF_INIT;
    char chunk[4096];
    ssize_t n;

    fflush(stderr);
    assert_int_equal(dup2(c->saved, 2), 2);
    close(c->saved);
    lseek(c->fd, 0, SEEK_SET);
    while ((n = read(c->fd, chunk, sizeof(chunk))) > 0)
        buf_add(&b, chunk, (size_t)n);
    close(c->fd);
    return buf_detach(&b, NULL);
}

static void
test_remove_many(void **state)
{
    struct fixture *fx = *state;
    const char *const keys[] = {"svc/1-day-report.csv", "svc/missing.csv", "../escape.csv",
                                "svc/7-day-report.csv"};
    bool failed[4] = {true, true, false, true};
    struct jr_err err = JR_ERR_INIT;
    struct capture cap;
    char *log;

    put_file(fx, "svc/1-day-report.csv", "1", 1);
    put_file(fx, "svc/7-day-report.csv", "7", 1);
    put_file(fx, "svc/3-day-report.csv", "3", 1);
    log_setup(LOG_LEVEL_WARN, LOG_FORMAT_TEXT);
    capture_start(&cap);
    assert_int_equal(storage_remove_many(fx->st, keys, 4, failed, &err), 0);
    log = capture_end(&cap);
    assert_false(failed[0]);
    assert_false(failed[1]);
    assert_true(failed[2]);
    assert_false(failed[3]);
    assert_string_equal(log, "jobreport: warning: invalid object key '../escape.csv'\n");
    free(log);
    expect_list(fx->st, "", "svc/3-day-report.csv");
    assert_int_equal(storage_remove_many(fx->st, keys, 0, failed, &err), 0);
}

/* ---- list ---- */

static void
test_list(void **state)
{
    struct fixture *fx = *state;
    struct jr_err err = JR_ERR_INIT;
    struct storage_writer *open_writer;
    struct listing l;

    put_file(fx, "c.csv", "ccc", 3);
    put_file(fx, "a/2.csv", "22", 2);
    put_file(fx, "a/10.csv", "1010", 4);
    put_file(fx, "b/z.csv", "z", 1);
    put_file(fx, "a-x.csv", "ax", 2);
    put_file(fx, "\xc3\xa9.csv", "e", 1);
    write_object(fx->st, "a/1.csv", "1", 1, 1, NULL);
    put_file(fx, "a/.jrtmp.Ab12Cd", "stale temporary of a crashed run", 32);
    open_writer = storage_writer_open(fx->st, "a/3.csv", NULL, &err); /* uncommitted */
    assert_non_null(open_writer);
    assert_int_equal(storage_writer_write(open_writer, "3", 1, &err), 0);
    {
        char *d = path_in(fx, "empty-dir");

        assert_int_equal(mkdir(d, 0700), 0);
        free(d);
    }

    /* byte order, as S3 lists: '-' (0x2d) < '/' (0x2f) < digits < letters < UTF-8 */
    expect_list(fx->st, "", "a-x.csv|a/1.csv|a/10.csv|a/2.csv|b/z.csv|c.csv|\xc3\xa9.csv");
    expect_list(fx->st, NULL, "a-x.csv|a/1.csv|a/10.csv|a/2.csv|b/z.csv|c.csv|\xc3\xa9.csv");
    expect_list(fx->st, "a/", "a/1.csv|a/10.csv|a/2.csv");
    expect_list(fx->st, "a", "a-x.csv|a/1.csv|a/10.csv|a/2.csv");
    expect_list(fx->st, "a/1", "a/1.csv|a/10.csv");
    expect_list(fx->st, "zzz", "");
    expect_list(fx->st, "a/.", "");

    /* sizes and modification times */
    memset(&l, 0, sizeof(l));
    assert_int_equal(storage_list(fx->st, "a/", on_list, &l, &err), 0);
    assert_int_equal(l.n, 3);
    assert_true(l.sizes[0] == 1 && l.sizes[1] == 4 && l.sizes[2] == 2);
    for (size_t i = 0; i < l.n; i++) {
        char *p = path_in(fx, l.keys[i]);
        struct stat sb;

        assert_int_equal(stat(p, &sb), 0);
        assert_true(l.mtimes[i] == sb.st_mtime);
        free(p);
    }
    listing_release(&l);
    storage_writer_abort(open_writer);
}

static void
test_list_stop(void **state)
{
    struct fixture *fx = *state;
    struct jr_err err = JR_ERR_INIT;
    struct listing l;
    char *want = xasprintf("listing of '%s' stopped", fx->root);

    put_file(fx, "a.csv", "a", 1);
    put_file(fx, "b.csv", "b", 1);
    put_file(fx, "c.csv", "c", 1);
    memset(&l, 0, sizeof(l));
    l.stop_after = 2;
    assert_int_equal(storage_list(fx->st, "", on_list, &l, &err), -1);
    assert_int_equal(err.code, JR_E_IO);
    assert_string_equal(err.msg, want);
    assert_int_equal(l.n, 2); /* no callback after -1 */
    listing_release(&l);
    free(want);
}

/* An empty bucket, and one holding only directories and temporaries, list nothing. Kept last in
 * main: it is the case that trips UBSan in file_list (qsort of a NULL array). */
static void
test_list_empty(void **state)
{
    struct fixture *fx = *state;

    struct jr_err err = JR_ERR_INIT;
    struct storage_writer *w;
    char *d = path_in(fx, "svc-service-notify");

    expect_list(fx->st, "", "");
    expect_list(fx->st, "svc", "");
    assert_int_equal(mkdir(d, 0700), 0);
    w = storage_writer_open(fx->st, "svc-service-notify/1-day-report.csv", NULL, &err);
    assert_non_null(w);
    expect_list(fx->st, "", "");
    storage_writer_abort(w);
    free(d);
}

/* ---- stat ---- */

static void
test_stat(void **state)
{
    struct fixture *fx = *state;
    struct jr_err err = JR_ERR_INIT;
    struct storage_object_info info;
    bool ex = false;
    struct stat sb;
    char *p = path_in(fx, "svc/r.csv");

    put_file(fx, "svc/r.csv", "hello", 5);
    assert_int_equal(stat(p, &sb), 0);
    memset(&info, 0x77, sizeof(info));
    assert_int_equal(storage_stat(fx->st, "svc/r.csv", &info, &ex, &err), 0);
    assert_true(ex);
    assert_string_equal(info.key, "svc/r.csv");
    assert_true(info.size == 5);
    assert_true(info.mtime == sb.st_mtime);
    assert_string_equal(info.etag, "");

    ex = true;
    assert_int_equal(storage_stat(fx->st, "svc/none.csv", &info, &ex, &err), 0);
    assert_false(ex);
    ex = true;
    assert_int_equal(storage_stat(fx->st, "nodir/none.csv", &info, &ex, &err), 0);
    assert_false(ex);
    ex = true;
    assert_int_equal(storage_stat(fx->st, "svc/r.csv/below", &info, &ex, &err), 0);
    assert_false(ex);
    ex = true;
    assert_int_equal(storage_stat(fx->st, "svc", &info, &ex, &err), 0); /* a directory */
    assert_false(ex);
    free(p);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_forms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_mode_and_parents, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_empty_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_many_chunks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_without_result, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_replaces_atomically, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsafe_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unusual_but_safe_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_empty_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_aborted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fetch_many_mixed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stat, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_empty, setup, teardown), /* last, see there */
    };

    return cmocka_run_group_tests_name("storage_file", tests, NULL, NULL);
}
