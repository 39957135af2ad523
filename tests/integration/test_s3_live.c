/*
 * The S3 storage backend against a live, signature-verifying local S3 server (scripts/s3-test.sh)
 * and the fault-injecting proxy in front of it (tests/s3/faultproxy.js), through the storage
 * interface only. Reads JR_S3_ENDPOINT, JR_S3_BUCKET, JR_S3_ACCESS_KEY, JR_S3_SECRET_KEY and
 * JR_S3_FAULT_ENDPOINT; the tests skip when they are unset.
 *
 *   test_s3_live                       run the cmocka suite
 *   test_s3_live put KEY FILE [PART]   upload FILE as KEY (SSE on; PART: part size in bytes)
 *   test_s3_live get KEY FILE          download KEY into FILE (exit 3 when missing)
 *   test_s3_live bench MB              time an MB-sized upload and download, print MB/s
 *
 * Every run writes below a fresh "live-PID-TIME/" prefix, so runs never see each other's keys.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "storage.h"
#include "xalloc.h"

#include "banned.h"

#define MIB (1024u * 1024u)

static char run_prefix[64];

/* ---- helpers ---- */

static const char *
env(const char *name)
{
    const char *v = getenv(name);

    return v && *v ? v : NULL;
}

static bool
have_server(void)
{
    return env("JR_S3_ENDPOINT") && env("JR_S3_BUCKET") && env("JR_S3_ACCESS_KEY") &&
           env("JR_S3_SECRET_KEY");
}

#define NEED_SERVER()                                                                              \
    do {                                                                                           \
        if (!have_server())                                                                        \
            skip();                                                                                \
    } while (0)

#define NEED_PROXY()                                                                               \
    do {                                                                                           \
        if (!have_server() || !env("JR_S3_FAULT_ENDPOINT"))                                        \
            skip();                                                                                \
    } while (0)

struct open_opts {
    bool via_proxy;
    const char *prefix; /* below the run prefix; NULL for the run prefix itself */
    const char *secret; /* NULL: the real one */
    const char *token;  /* session token, or NULL */
    unsigned attempts;  /* 0: 3 */
    unsigned stall_s;   /* 0: 10 */
    size_t part_size;   /* 0: 5 MiB */
};

static struct storage *
open_store(const struct open_opts *o)
{
    struct storage_s3_params p = {0};
    struct jr_err err = JR_ERR_INIT;
    struct buf loc = BUF_INIT;
    struct storage *st;

    buf_printf(&loc, "s3://%s/%s", env("JR_S3_BUCKET"), run_prefix);
    if (o->prefix)
        buf_printf(&loc, "/%s", o->prefix);
    p.region = "us-east-1";
    p.access_key_id = env("JR_S3_ACCESS_KEY");
    p.secret_access_key = o->secret ? o->secret : env("JR_S3_SECRET_KEY");
    p.session_token = o->token;
    p.endpoint_url = o->via_proxy ? env("JR_S3_FAULT_ENDPOINT") : env("JR_S3_ENDPOINT");
    p.path_style = true;
    p.max_attempts = o->attempts ? o->attempts : 3;
    p.connect_timeout_s = 5;
    p.stall_timeout_s = o->stall_s ? o->stall_s : 10;
    p.part_size = o->part_size ? o->part_size : 5 * MIB;
    st = storage_open(buf_cstr(&loc), &p, &err);
    if (!st)
        fail_msg("cannot open '%s': %s", buf_cstr(&loc), err.msg);
    buf_release(&loc);
    return st;
}

static struct storage *
open_direct(void)
{
    struct open_opts o = {0};

    return open_store(&o);
}

static struct storage *
open_proxy(void)
{
    struct open_opts o = {0};

    o.via_proxy = true;
    return open_store(&o);
}

/* Deterministic pseudo-random bytes (with NULs, CRs, high bytes). */
static void
fill_random(unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;

    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
}

/* Write data as key in chunks of `chunk` bytes; returns the commit result. */
static int
put_chunked(struct storage *st, const char *key, const void *data, size_t len, size_t chunk,
            const struct storage_put_opts *opts, struct jr_err *err)
{
    struct storage_writer *w = storage_writer_open(st, key, opts, err);
    const unsigned char *p = data;

    if (!w)
        return -1;
    while (len) {
        size_t n = len < chunk ? len : chunk;

        if (storage_writer_write(w, p, n, err) < 0) {
            storage_writer_abort(w);
            return -1;
        }
        p += n;
        len -= n;
    }
    return storage_writer_commit(w, NULL, err);
}

static void
put_ok(struct storage *st, const char *key, const void *data, size_t len)
{
    struct jr_err err = JR_ERR_INIT;

    if (put_chunked(st, key, data, len, 65536, NULL, &err) < 0)
        fail_msg("put '%s': %s", key, err.msg);
}

static void
put_str(struct storage *st, const char *key, const char *s)
{
    put_ok(st, key, s, strlen(s));
}

struct collect {
    struct buf body;
    int resets;
    int64_t abort_after; /* return -1 once this many bytes arrived (0: never) */
};

static int
collect_data(void *arg, const void *data, size_t len)
{
    struct collect *c = arg;

    buf_add(&c->body, data, len);
    return c->abort_after && (int64_t)c->body.len >= c->abort_after ? -1 : 0;
}

static void
collect_reset(void *arg)
{
    struct collect *c = arg;

    buf_reset(&c->body);
    c->resets++;
}

/* Fetch one key; returns the status, body in c. */
static enum storage_fetch_status
fetch(struct storage *st, const char *key, const char *fallback, int64_t max, struct collect *c,
      struct storage_fetch *out)
{
    struct storage_fetch f = {0};
    struct jr_err err = JR_ERR_INIT;

    f.key = key;
    f.fallback_key = fallback;
    f.max_bytes = max;
    f.on_data = collect_data;
    f.on_reset = collect_reset;
    f.arg = c;
    if (storage_fetch_many(st, &f, 1, 1, &err) < 0)
        fail_msg("fetch '%s' could not run: %s", key, err.msg);
    if (out)
        *out = f;
    return f.status;
}

static void
expect_content(struct storage *st, const char *key, const void *data, size_t len)
{
    struct collect c = {0};
    struct storage_fetch f;

    if (fetch(st, key, NULL, 0, &c, &f) != STORAGE_FETCH_OK)
        fail_msg("fetch '%s': status %d %s", key, f.status, f.errmsg);
    if (c.body.len != len || (len && memcmp(c.body.data, data, len) != 0))
        fail_msg("'%s': %zu bytes differ from the %zu written", key, c.body.len, len);
    assert_int_equal(f.bytes, (int64_t)len);
    buf_release(&c.body);
}

/* ---- the fault proxy ---- */

static size_t
curl_to_buf(char *p, size_t size, size_t n, void *ud)
{
    buf_add(ud, p, size * n);
    return size * n;
}

/* POST body (may be NULL) or GET the proxy's control path; returns the reply body. */
static void
proxy_call(const char *path, const char *body, struct buf *out)
{
    struct buf url = BUF_INIT;
    CURL *eh = curl_easy_init();
    long status = 0;
    CURLcode rc;

    buf_printf(&url, "%s%s", env("JR_S3_FAULT_ENDPOINT"), path);
    curl_easy_setopt(eh, CURLOPT_URL, buf_cstr(&url));
    curl_easy_setopt(eh, CURLOPT_WRITEFUNCTION, curl_to_buf);
    curl_easy_setopt(eh, CURLOPT_WRITEDATA, out);
    if (body)
        curl_easy_setopt(eh, CURLOPT_POSTFIELDS, body);
    rc = curl_easy_perform(eh);
    curl_easy_getinfo(eh, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(eh);
    if (rc != CURLE_OK || status != 200)
        fail_msg("fault proxy %s: %s (HTTP %ld) %s", path, curl_easy_strerror(rc), status,
                 buf_cstr(out));
    buf_release(&url);
}

static void
proxy_reset(void)
{
    struct buf out = BUF_INIT;

    proxy_call("/__fault/reset", "", &out);
    buf_release(&out);
}

static void JR_PRINTF(1, 2) proxy_rule(const char *fmt, ...)
{
    struct buf rule = BUF_INIT, out = BUF_INIT;
    va_list ap;

    va_start(ap, fmt);
    buf_vprintf(&rule, fmt, ap);
    va_end(ap);
    proxy_call("/__fault/rules", buf_cstr(&rule), &out);
    buf_release(&rule);
    buf_release(&out);
}

/*
 * Count the logged requests with this method whose path contains path_part and whose query
 * contains query_part (either may be NULL); their statuses go to statuses (up to max).
 */
static size_t
proxy_count(const char *method, const char *path_part, const char *query_part, long *statuses,
            size_t max)
{
    struct buf out = BUF_INIT;
    size_t n = 0;
    char *save = NULL;

    proxy_call("/__fault/log", NULL, &out);
    buf_addch(&out, '\n'); /* never NULL for strtok_r */
    for (char *line = strtok_r(out.data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *rec = json_loads(line, 0, &je);
        const char *m, *p, *q;

        if (!rec)
            fail_msg("bad proxy log line: %s", je.text);
        m = json_string_value(json_object_get(rec, "method"));
        p = json_string_value(json_object_get(rec, "path"));
        q = json_string_value(json_object_get(rec, "query"));
        if (m && p && q && strcmp(m, method) == 0 && (!path_part || strstr(p, path_part)) &&
            (!query_part || strstr(q, query_part))) {
            if (statuses && n < max)
                statuses[n] = (long)json_integer_value(json_object_get(rec, "status"));
            n++;
        }
        json_decref(rec);
    }
    buf_release(&out);
    return n;
}

/* ---- tests against the server ---- */

static void
test_roundtrip(void **state)
{
    size_t len = 3 * MIB + 12345;
    unsigned char *data = xmalloc(len);
    struct storage *st;
    struct storage_writer *w;
    struct storage_put_result res;
    struct storage_object_info info;
    struct jr_err err = JR_ERR_INIT;
    unsigned char md[32];
    unsigned int mdlen;
    bool exists = false;
    time_t now = time(NULL);

    (void)state;
    NEED_SERVER();
    st = open_direct();
    fill_random(data, len, 1);
    w = storage_writer_open(st, "rt/binary.bin", NULL, &err);
    assert_non_null(w);
    assert_int_equal(storage_writer_write(w, data, 1, &err), 0);
    assert_int_equal(storage_writer_write(w, data + 1, len - 1, &err), 0);
    if (storage_writer_commit(w, &res, &err) < 0)
        fail_msg("commit: %s", err.msg);
    assert_int_equal(res.bytes, (int64_t)len);
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    assert_memory_equal(res.sha256, md, 32);
    expect_content(st, "rt/binary.bin", data, len);

    assert_int_equal(storage_stat(st, "rt/binary.bin", &info, &exists, &err), 0);
    assert_true(exists);
    assert_int_equal(info.size, (int64_t)len);
    assert_true(info.etag[0] == '"');
    assert_true(info.mtime > now - 86400 && info.mtime < now + 86400);

    /* an empty object is an object */
    put_ok(st, "rt/empty", "", 0);
    expect_content(st, "rt/empty", "", 0);
    assert_int_equal(storage_stat(st, "rt/empty", &info, &exists, &err), 0);
    assert_true(exists);
    assert_int_equal(info.size, 0);

    /* replacing keeps the key readable and gives the new content */
    put_str(st, "rt/replace.csv", "old\r\n");
    put_str(st, "rt/replace.csv", "new,content\r\n");
    expect_content(st, "rt/replace.csv", "new,content\r\n", 13);
    storage_close(st);
    free(data);
}

static void
test_sse_and_content_type(void **state)
{
    struct storage_put_opts opts = {"text/csv; charset=utf-8", true};
    struct jr_err err = JR_ERR_INIT;
    const char *csv = "Phone Number,Template\r\n12025550143,x\r\n";
    struct storage *st;

    (void)state;
    NEED_SERVER();
    st = open_direct();
    if (put_chunked(st, "sse/1-day-report.csv", csv, strlen(csv), 7, &opts, &err) < 0)
        fail_msg("put with SSE: %s", err.msg);
    expect_content(st, "sse/1-day-report.csv", csv, strlen(csv));
    storage_close(st);
}

static void
test_multipart(void **state)
{
    size_t len = 12 * MIB + 4321;
    unsigned char *data = xmalloc(len);
    struct storage_put_opts opts = {"application/octet-stream", true};
    struct jr_err err = JR_ERR_INIT;
    struct storage *st;
    long statuses[8];

    (void)state;
    NEED_PROXY();
    proxy_reset();
    st = open_proxy();
    fill_random(data, len, 2);
    /* odd chunk sizes so parts fill across write calls */
    if (put_chunked(st, "mp/twelve.bin", data, len, 777777, &opts, &err) < 0)
        fail_msg("multipart put: %s", err.msg);
    expect_content(st, "mp/twelve.bin", data, len);
    /* it really went multipart: create, 3 parts, complete; no single PUT */
    assert_int_equal(proxy_count("POST", "mp/twelve.bin", "uploads", statuses, 8), 1);
    assert_int_equal(statuses[0], 200);
    assert_int_equal(proxy_count("PUT", "mp/twelve.bin", "partNumber=", NULL, 0), 3);
    assert_int_equal(proxy_count("PUT", "mp/twelve.bin", "partNumber=3", NULL, 0), 1);
    assert_int_equal(proxy_count("POST", "mp/twelve.bin", "uploadId=", statuses, 8), 1);
    assert_int_equal(statuses[0], 200);
    assert_int_equal(proxy_count("DELETE", "mp/twelve.bin", NULL, NULL, 0), 0);

    /* exactly one part's worth stays a single PUT */
    proxy_reset();
    if (put_chunked(st, "mp/exact.bin", data, 5 * MIB - 1, MIB, NULL, &err) < 0)
        fail_msg("put: %s", err.msg);
    assert_int_equal(proxy_count("PUT", "mp/exact.bin", "", NULL, 0), 1);
    assert_int_equal(proxy_count("POST", "mp/exact.bin", NULL, NULL, 0), 0);
    expect_content(st, "mp/exact.bin", data, 5 * MIB - 1);
    storage_close(st);
    free(data);
}

static void
test_fallback_missing_too_big(void **state)
{
    struct storage *st;
    struct collect c = {0};
    struct storage_fetch f;
    char big[10000];

    (void)state;
    NEED_SERVER();
    st = open_direct();
    put_str(st, "svc-service-notify/job1.csv", "phone number\r\n+1 202 555 0143\r\n");
    put_str(st, "service-svc-notify/job2.csv", "phone number\r\nlegacy\r\n");

    assert_int_equal(
        fetch(st, "svc-service-notify/job1.csv", "service-svc-notify/job1.csv", 0, &c, &f),
        STORAGE_FETCH_OK);
    assert_false(f.used_fallback);
    assert_string_equal(buf_cstr(&c.body), "phone number\r\n+1 202 555 0143\r\n");

    buf_reset(&c.body);
    assert_int_equal(
        fetch(st, "svc-service-notify/job2.csv", "service-svc-notify/job2.csv", 0, &c, &f),
        STORAGE_FETCH_OK);
    assert_true(f.used_fallback);
    assert_string_equal(buf_cstr(&c.body), "phone number\r\nlegacy\r\n");

    buf_reset(&c.body);
    assert_int_equal(
        fetch(st, "svc-service-notify/job3.csv", "service-svc-notify/job3.csv", 0, &c, &f),
        STORAGE_FETCH_MISSING);
    assert_false(f.used_fallback);
    assert_int_equal(fetch(st, "nothing/here.csv", NULL, 0, &c, &f), STORAGE_FETCH_MISSING);
    assert_int_equal(c.body.len, 0);

    memset(big, 'z', sizeof(big));
    put_ok(st, "big/ten-thousand", big, sizeof(big));
    assert_int_equal(fetch(st, "big/ten-thousand", NULL, 9999, &c, &f), STORAGE_FETCH_TOO_BIG);
    assert_int_equal(c.body.len, 0); /* refused on Content-Length, before the body */
    assert_int_equal(fetch(st, "big/ten-thousand", NULL, 10000, &c, &f), STORAGE_FETCH_OK);
    assert_int_equal(c.body.len, 10000);

    /* the consumer stops the transfer */
    buf_reset(&c.body);
    c.abort_after = 100;
    assert_int_equal(fetch(st, "big/ten-thousand", NULL, 0, &c, &f), STORAGE_FETCH_ABORTED);
    buf_release(&c.body);
    storage_close(st);
}

static void
test_stat_remove(void **state)
{
    struct storage *st;
    struct storage_object_info info;
    struct jr_err err = JR_ERR_INIT;
    bool exists = true;

    (void)state;
    NEED_SERVER();
    st = open_direct();
    assert_int_equal(storage_stat(st, "rm/none", &info, &exists, &err), 0);
    assert_false(exists);
    put_str(st, "rm/one", "1");
    assert_int_equal(storage_stat(st, "rm/one", &info, &exists, &err), 0);
    assert_true(exists);
    assert_int_equal(info.size, 1);
    if (storage_remove(st, "rm/one", &err) < 0)
        fail_msg("remove: %s", err.msg);
    assert_int_equal(storage_stat(st, "rm/one", &info, &exists, &err), 0);
    assert_false(exists);
    /* removing a missing key succeeds */
    if (storage_remove(st, "rm/one", &err) < 0)
        fail_msg("remove missing: %s", err.msg);
    storage_close(st);
}

struct listing {
    char **keys;
    int64_t *sizes;
    size_t n, cap;
};

static int
list_collect(void *arg, const struct storage_object_info *info)
{
    struct listing *l = arg;

    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->keys = xreallocarray(l->keys, l->cap, sizeof(*l->keys));
        l->sizes = xreallocarray(l->sizes, l->cap, sizeof(*l->sizes));
    }
    l->keys[l->n] = xstrdup(info->key);
    l->sizes[l->n++] = info->size;
    return 0;
}

static void
listing_release(struct listing *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->keys[i]);
    free(l->keys);
    free(l->sizes);
    memset(l, 0, sizeof(*l));
}

static void
list_all(struct storage *st, const char *prefix, struct listing *l)
{
    struct jr_err err = JR_ERR_INIT;

    listing_release(l);
    if (storage_list(st, prefix, list_collect, l, &err) < 0)
        fail_msg("list '%s': %s", prefix, err.msg);
}

static void
test_many_keys(void **state)
{
    enum { N = 1205 };
    struct open_opts o = {0};
    struct storage *st, *outside;
    struct listing l = {0};
    struct jr_err err = JR_ERR_INIT;
    char **keys = xcalloc(N + 1, sizeof(*keys));
    bool *failed = xcalloc(N + 1, sizeof(*failed));

    (void)state;
    NEED_PROXY();
    o.via_proxy = true;
    o.prefix = "many/p";
    st = open_store(&o);
    outside = open_direct();
    /* a key next to the prefix must never show up in the prefixed storage */
    put_str(outside, "many/p-sibling", "x");
    put_str(outside, "many/pother/x", "x");
    for (size_t i = 0; i < N; i++) {
        keys[i] = xasprintf("%s/obj-%05zu.csv", i % 2 ? "odd" : "even", i);
        put_str(st, keys[i], keys[i]);
    }
    keys[N] = xstrdup("odd/never-written.csv");

    proxy_reset();
    list_all(st, "", &l);
    assert_int_equal(l.n, N);
    for (size_t i = 1; i < l.n; i++)
        assert_true(strcmp(l.keys[i - 1], l.keys[i]) < 0); /* key order */
    assert_string_equal(l.keys[0], "even/obj-00000.csv");
    assert_int_equal(l.sizes[0], (int64_t)strlen("even/obj-00000.csv"));
    assert_string_equal(l.keys[N - 1], "odd/obj-01203.csv");
    /* more than one page, following continuation tokens */
    assert_int_equal(proxy_count("GET", NULL, "list-type=2", NULL, 0), 2);
    assert_int_equal(proxy_count("GET", NULL, "continuation-token=", NULL, 0), 1);

    list_all(st, "odd/", &l);
    assert_int_equal(l.n, N / 2);
    assert_string_equal(l.keys[0], "odd/obj-00001.csv");
    list_all(st, "odd/obj-0119", &l);
    assert_int_equal(l.n, 5);

    proxy_reset();
    if (storage_remove_many(st, (const char *const *)keys, N + 1, failed, &err) < 0)
        fail_msg("remove_many: %s", err.msg);
    for (size_t i = 0; i <= N; i++)
        assert_false(failed[i]);
    assert_int_equal(proxy_count("POST", "", "delete", NULL, 0), 2); /* 1000 + 206 */
    list_all(st, "", &l);
    assert_int_equal(l.n, 0);
    /* the neighbours outside the prefix are untouched */
    list_all(outside, "many/p", &l);
    assert_int_equal(l.n, 2);
    listing_release(&l);
    for (size_t i = 0; i <= N; i++)
        free(keys[i]);
    free(keys);
    free(failed);
    storage_close(st);
    storage_close(outside);
}

static void
test_odd_keys(void **state)
{
    static const char *const keys[] = {
        "odd/a b.csv",
        "odd/a+b.csv",
        "odd/100%.csv",
        "odd/%2F%41.csv",
        "odd/\xc3\xbcn\xc3\xaf"
        "c\xc3\xb8"
        "d\xc3\xa9 \xe2\x98\x83.csv",
        "odd/\xe6\x97\xa5\xe6\x9c\xac/\xf0\x9f\x93\xb1 phone.csv",
        "odd/tilde~_-.(1)!*.csv", /* no '\'': the local server double-escapes it in listings */
        "odd/q?x=1#frag.csv",
    };
    struct storage *st;
    struct listing l = {0};
    struct jr_err err = JR_ERR_INIT;
    bool failed[JR_ARRAY_LEN(keys)];

    (void)state;
    NEED_SERVER();
    st = open_direct();
    for (size_t i = 0; i < JR_ARRAY_LEN(keys); i++) {
        put_str(st, keys[i], keys[i]);
        expect_content(st, keys[i], keys[i], strlen(keys[i]));
    }
    list_all(st, "odd/", &l);
    assert_int_equal(l.n, JR_ARRAY_LEN(keys));
    for (size_t i = 0; i < JR_ARRAY_LEN(keys); i++) {
        bool found = false;

        for (size_t j = 0; j < l.n; j++)
            found = found || strcmp(l.keys[j], keys[i]) == 0;
        if (!found)
            fail_msg("'%s' not listed", keys[i]);
    }
    for (size_t i = 1; i < l.n; i++)
        assert_true(strcmp(l.keys[i - 1], l.keys[i]) < 0);
    assert_int_equal(storage_remove_many(st, keys, JR_ARRAY_LEN(keys), failed, &err), 0);
    for (size_t i = 0; i < JR_ARRAY_LEN(keys); i++)
        assert_false(failed[i]);
    list_all(st, "odd/", &l);
    assert_int_equal(l.n, 0);
    listing_release(&l);
    storage_close(st);
}

static void
test_wrong_secret(void **state)
{
    struct open_opts o = {0};
    struct storage *st;
    struct jr_err err = JR_ERR_INIT;
    struct collect c = {0};
    struct storage_fetch f;

    (void)state;
    NEED_SERVER();
    o.secret = "not-the-secret-0123456789";
    st = open_store(&o);
    assert_int_equal(put_chunked(st, "auth/x.csv", "x", 1, 1, NULL, &err), -1);
    assert_int_equal(err.code, JR_E_STORAGE);
    assert_non_null(strstr(err.msg, "SignatureDoesNotMatch"));
    assert_non_null(strstr(err.msg, "cannot put '"));
    assert_null(strstr(err.msg, "not-the-secret"));
    assert_int_equal(fetch(st, "auth/x.csv", NULL, 0, &c, &f), STORAGE_FETCH_FAILED);
    assert_non_null(strstr(f.errmsg, "SignatureDoesNotMatch"));
    assert_null(strstr(f.errmsg, "not-the-secret"));
    storage_close(st);
}

static void
test_session_token(void **state)
{
    struct open_opts o = {0};
    struct storage *st;

    (void)state;
    NEED_SERVER();
    /* The local server accepts any token but verifies the signature over x-amz-security-token. */
    o.token = "FwoGZXIvYXdzEBYaDHqa0AP1/+token==";
    st = open_store(&o);
    put_str(st, "token/x.csv", "signed with a session token");
    expect_content(st, "token/x.csv", "signed with a session token", 27);
    storage_close(st);
}

struct thread_arg {
    struct storage *st;
    int id;
    int failures;
};

static void *
thread_main(void *p)
{
    struct thread_arg *ta = p;

    for (int i = 0; i < 8; i++) {
        struct jr_err err = JR_ERR_INIT;
        struct collect c = {0};
        struct storage_fetch f;
        char key[64], body[64];

        snprintf(key, sizeof(key), "threads/t%d/%d.csv", ta->id, i);
        snprintf(body, sizeof(body), "thread %d object %d\r\n", ta->id, i);
        if (put_chunked(ta->st, key, body, strlen(body), 5, NULL, &err) < 0 ||
            fetch(ta->st, key, NULL, 0, &c, &f) != STORAGE_FETCH_OK ||
            strcmp(buf_cstr(&c.body), body) != 0)
            ta->failures++;
        buf_release(&c.body);
    }
    return NULL;
}

static void
test_threads(void **state)
{
    enum { T = 4 };
    struct thread_arg args[T];
    pthread_t th[T];
    struct storage *st;

    (void)state;
    NEED_SERVER();
    /* one storage, used from several threads at once (report uploads run on threads) */
    st = open_direct();
    for (int i = 0; i < T; i++) {
        args[i] = (struct thread_arg){st, i, 0};
        assert_int_equal(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
    }
    for (int i = 0; i < T; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(args[i].failures, 0);
    }
    storage_close(st);
}

/* ---- through the fault proxy ---- */

static void
test_fault_500_then_success(void **state)
{
    struct storage *st;
    long statuses[4];

    (void)state;
    NEED_PROXY();
    proxy_reset();
    proxy_rule("{\"method\":\"PUT\",\"path\":\"faults/f500\",\"action\":\"status\","
               "\"status\":500,\"count\":1}");
    st = open_proxy();
    put_str(st, "faults/f500.csv", "after a 500");
    assert_int_equal(proxy_count("PUT", "faults/f500", NULL, statuses, 4), 2);
    assert_int_equal(statuses[0], 500);
    assert_int_equal(statuses[1], 200);
    expect_content(st, "faults/f500.csv", "after a 500", 11);
    storage_close(st);
}

static void
test_fault_slowdown_then_success(void **state)
{
    struct storage *st;
    long statuses[4];

    (void)state;
    NEED_PROXY();
    st = open_proxy();
    put_str(st, "faults/slow.csv", "throttled");
    proxy_reset();
    proxy_rule("{\"method\":\"GET\",\"path\":\"faults/slow\",\"action\":\"slowdown\",\"count\":2}");
    expect_content(st, "faults/slow.csv", "throttled", 9);
    assert_int_equal(proxy_count("GET", "faults/slow", NULL, statuses, 4), 3);
    assert_int_equal(statuses[0], 503);
    assert_int_equal(statuses[1], 503);
    assert_int_equal(statuses[2], 200);
    storage_close(st);
}

static void
test_fault_reset_mid_body(void **state)
{
    size_t len = 2 * MIB + 17;
    unsigned char *data = xmalloc(len);
    struct storage *st;
    struct collect c = {0};
    struct storage_fetch f;
    long statuses[4];

    (void)state;
    NEED_PROXY();
    st = open_proxy();
    fill_random(data, len, 3);
    put_ok(st, "faults/reset.bin", data, len);
    proxy_reset();
    proxy_rule("{\"method\":\"GET\",\"path\":\"faults/reset\",\"action\":\"reset\","
               "\"fraction\":0.5,\"count\":1}");
    assert_int_equal(fetch(st, "faults/reset.bin", NULL, 0, &c, &f), STORAGE_FETCH_OK);
    assert_int_equal(c.resets, 1); /* half the body arrived, then it restarted */
    assert_int_equal(c.body.len, len);
    assert_memory_equal(c.body.data, data, len);
    assert_int_equal(f.bytes, (int64_t)len);
    assert_int_equal(proxy_count("GET", "faults/reset", NULL, statuses, 4), 2);
    assert_int_equal(statuses[0], 0); /* reset */
    assert_int_equal(statuses[1], 200);

    /* a connection reset in the middle of an upload is retried too (body resent) */
    proxy_reset();
    proxy_rule("{\"method\":\"PUT\",\"path\":\"faults/upreset\",\"action\":\"reset\","
               "\"count\":1}");
    put_ok(st, "faults/upreset.bin", data, len);
    assert_int_equal(proxy_count("PUT", "faults/upreset", NULL, statuses, 4), 2);
    assert_int_equal(statuses[0], 0);
    assert_int_equal(statuses[1], 200);
    expect_content(st, "faults/upreset.bin", data, len);
    buf_release(&c.body);
    storage_close(st);
    free(data);
}

/* Fetch key through st while the proxy stalls; returns the seconds it took. */
static double
fetch_stalled(struct storage *st, const char *key, const unsigned char *data, size_t len)
{
    struct collect c = {0};
    struct storage_fetch f;
    struct timespec t0, t1;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (fetch(st, key, NULL, 0, &c, &f) != STORAGE_FETCH_OK)
        fail_msg("fetch '%s': status %d %s", key, f.status, f.errmsg);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(c.body.len, len);
    assert_memory_equal(c.body.data, data, len);
    buf_release(&c.body);
    return (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

static void
test_fault_stall(void **state)
{
    size_t len = MIB;
    unsigned char *data = xmalloc(len);
    struct open_opts o = {0};
    struct storage *st;
    double secs;

    (void)state;
    NEED_PROXY();
    o.via_proxy = true;
    o.stall_s = 1;
    st = open_store(&o);
    fill_random(data, len, 4);
    put_ok(st, "faults/stall.bin", data, len);

    /* the reply stops after its headers */
    proxy_reset();
    proxy_rule("{\"method\":\"GET\",\"path\":\"faults/stall\",\"action\":\"stall\","
               "\"fraction\":0,\"seconds\":8,\"count\":1}");
    secs = fetch_stalled(st, "faults/stall.bin", data, len);
    if (secs > 4.0)
        fail_msg("stall after the headers detected after %.1f s (timeout 1 s)", secs);
    assert_int_equal(proxy_count("GET", "faults/stall", NULL, NULL, 0), 2);

    /* the reply stops in the middle of the body, after a fast first half */
    proxy_reset();
    proxy_rule("{\"method\":\"GET\",\"path\":\"faults/stall\",\"action\":\"stall\","
               "\"fraction\":0.5,\"seconds\":8,\"count\":1}");
    secs = fetch_stalled(st, "faults/stall.bin", data, len);
    if (secs > 4.0)
        fail_msg("stall mid-body detected after %.1f s (timeout 1 s)", secs);
    assert_int_equal(proxy_count("GET", "faults/stall", NULL, NULL, 0), 2);

    /* the server stops reading an upload */
    proxy_reset();
    proxy_rule("{\"method\":\"PUT\",\"path\":\"faults/upstall\",\"action\":\"stall\","
               "\"seconds\":8,\"count\":1}");
    put_ok(st, "faults/upstall.bin", data, len);
    assert_int_equal(proxy_count("PUT", "faults/upstall", NULL, NULL, 0), 2);
    secs = fetch_stalled(st, "faults/upstall.bin", data, len);
    storage_close(st);
    free(data);
}

static void
test_fault_retries_exhausted(void **state)
{
    struct storage *direct, *st;
    struct jr_err err = JR_ERR_INIT;
    long statuses[4];

    (void)state;
    NEED_PROXY();
    direct = open_direct();
    put_str(direct, "faults/keep.csv", "the good old report");
    proxy_reset();
    proxy_rule("{\"method\":\"PUT\",\"path\":\"faults/keep\",\"action\":\"status\","
               "\"status\":503,\"code\":\"ServiceUnavailable\",\"count\":10}");
    st = open_proxy();
    assert_int_equal(put_chunked(st, "faults/keep.csv", "new", 3, 3, NULL, &err), -1);
    assert_int_equal(err.code, JR_E_STORAGE);
    assert_non_null(strstr(err.msg, "cannot put '"));
    assert_non_null(strstr(err.msg, "faults/keep.csv' to 's3://"));
    assert_non_null(strstr(err.msg, "HTTP 503 ServiceUnavailable"));
    assert_non_null(strstr(err.msg, "(after 3 attempts)"));
    assert_int_equal(proxy_count("PUT", "faults/keep", NULL, statuses, 4), 3);
    expect_content(direct, "faults/keep.csv", "the good old report", 19);
    storage_close(st);
    storage_close(direct);
}

static void
test_fault_multipart_failure(void **state)
{
    size_t len = 12 * MIB;
    unsigned char *data = xmalloc(len);
    struct storage *direct, *st;
    struct storage_writer *w;
    struct jr_err err = JR_ERR_INIT;
    long statuses[4];
    int rc = 0;

    (void)state;
    NEED_PROXY();
    direct = open_direct();
    put_str(direct, "faults/mp-keep.bin", "old multipart target");
    fill_random(data, len, 5);
    st = open_proxy();

    /* an UploadPart that keeps failing: the write fails, the upload is aborted */
    proxy_reset();
    proxy_rule("{\"method\":\"PUT\",\"path\":\"faults/mp-keep\",\"query\":\"partNumber=2&\","
               "\"action\":\"status\",\"status\":500,\"count\":100}");
    w = storage_writer_open(st, "faults/mp-keep.bin", NULL, &err);
    assert_non_null(w);
    for (size_t off = 0; off < len && rc == 0; off += MIB)
        rc = storage_writer_write(w, data + off, MIB, &err);
    assert_int_equal(rc, -1);
    assert_int_equal(err.code, JR_E_STORAGE);
    assert_non_null(strstr(err.msg, "cannot upload part 2 of '"));
    assert_int_equal(storage_writer_commit(w, NULL, &err), -1);
    assert_int_equal(proxy_count("PUT", "faults/mp-keep", "partNumber=2&", NULL, 0), 3);
    assert_int_equal(proxy_count("DELETE", "faults/mp-keep", "uploadId=", statuses, 4), 1);
    assert_int_equal(statuses[0], 405); /* the local server does not implement Abort */
    assert_int_equal(proxy_count("POST", "faults/mp-keep", "uploadId=", NULL, 0), 0);
    expect_content(direct, "faults/mp-keep.bin", "old multipart target", 20);

    /* CompleteMultipartUpload keeps failing: commit fails, the upload is aborted */
    proxy_reset();
    proxy_rule("{\"method\":\"POST\",\"path\":\"faults/mp-keep\",\"query\":\"uploadId=\","
               "\"action\":\"status\",\"status\":500,\"count\":100}");
    if (put_chunked(st, "faults/mp-keep.bin", data, len, MIB, NULL, &err) == 0)
        fail_msg("commit succeeded through a failing CompleteMultipartUpload");
    assert_non_null(strstr(err.msg, "cannot complete the multipart upload of '"));
    assert_int_equal(proxy_count("PUT", "faults/mp-keep", "partNumber=", NULL, 0), 3);
    assert_int_equal(proxy_count("POST", "faults/mp-keep", "uploadId=", NULL, 0), 3);
    assert_int_equal(proxy_count("DELETE", "faults/mp-keep", "uploadId=", NULL, 0), 1);
    expect_content(direct, "faults/mp-keep.bin", "old multipart target", 20);

    /* an abandoned writer aborts its upload as well */
    proxy_reset();
    w = storage_writer_open(st, "faults/mp-keep.bin", NULL, &err);
    assert_int_equal(storage_writer_write(w, data, 6 * MIB, &err), 0);
    storage_writer_abort(w);
    assert_int_equal(proxy_count("POST", "faults/mp-keep", "uploads", NULL, 0), 1);
    assert_int_equal(proxy_count("DELETE", "faults/mp-keep", "uploadId=", NULL, 0), 1);
    expect_content(direct, "faults/mp-keep.bin", "old multipart target", 20);
    storage_close(st);
    storage_close(direct);
    free(data);
}

static void
test_fault_error_inside_200(void **state)
{
    size_t len = 6 * MIB;
    unsigned char *data = xmalloc(len);
    struct storage *direct, *st;
    struct jr_err err = JR_ERR_INIT;
    long statuses[4];
    const char *in200 = "<?xml version=\\\"1.0\\\" encoding=\\\"UTF-8\\\"?>\\n\\n"
                        "<Error><Code>InternalError</Code><Message>We encountered an internal "
                        "error. Please try again.</Message></Error>";

    (void)state;
    NEED_PROXY();
    fill_random(data, len, 6);
    direct = open_direct();
    st = open_proxy();
    put_str(direct, "faults/in200.bin", "previous");

    /* CompleteMultipartUpload answers 200 with an <Error>: retried like a 500 */
    proxy_reset();
    proxy_rule("{\"method\":\"POST\",\"path\":\"faults/in200\",\"query\":\"uploadId=\","
               "\"action\":\"reply\",\"body\":\"%s\",\"count\":1}",
               in200);
    put_ok(st, "faults/in200.bin", data, len);
    assert_int_equal(proxy_count("POST", "faults/in200", "uploadId=", statuses, 4), 2);
    assert_int_equal(statuses[0], 200);
    assert_int_equal(statuses[1], 200);
    expect_content(direct, "faults/in200.bin", data, len);

    /* ... and when it keeps doing so, the commit fails and the old object stays */
    put_str(direct, "faults/in200.bin", "previous");
    proxy_reset();
    proxy_rule("{\"method\":\"POST\",\"path\":\"faults/in200\",\"query\":\"uploadId=\","
               "\"action\":\"reply\",\"body\":\"%s\",\"count\":10}",
               in200);
    assert_int_equal(put_chunked(st, "faults/in200.bin", data, len, MIB, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "HTTP 200 InternalError: We encountered an internal error"));
    assert_non_null(strstr(err.msg, "(after 3 attempts)"));
    assert_int_equal(proxy_count("DELETE", "faults/in200", "uploadId=", NULL, 0), 1);
    expect_content(direct, "faults/in200.bin", "previous", 8);
    storage_close(st);
    storage_close(direct);
    free(data);
}

static void
test_fault_delete_per_key_errors(void **state)
{
    const char *keys[] = {"del/a.csv", "del/b.csv", "del/c.csv"};
    bool failed[3];
    struct storage *st;
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    NEED_PROXY();
    st = open_proxy();
    for (size_t i = 0; i < 3; i++)
        put_str(st, keys[i], keys[i]);
    /* S3 reports per-key failures inside a 200 DeleteResult */
    proxy_reset();
    proxy_rule("{\"method\":\"POST\",\"query\":\"delete\",\"action\":\"reply\","
               "\"body\":\"<DeleteResult><Error><Key>%s/del/b.csv</Key><Code>AccessDenied</Code>"
               "<Message>Access Denied</Message></Error></DeleteResult>\",\"count\":1}",
               run_prefix);
    assert_int_equal(storage_remove_many(st, keys, 3, failed, &err), 0);
    assert_false(failed[0]);
    assert_true(failed[1]);
    assert_false(failed[2]);
    /* the whole batch failing marks every key */
    proxy_reset();
    proxy_rule("{\"method\":\"POST\",\"query\":\"delete\",\"action\":\"status\","
               "\"status\":403,\"code\":\"AccessDenied\",\"count\":1}");
    assert_int_equal(storage_remove_many(st, keys, 3, failed, &err), -1);
    assert_int_equal(err.code, JR_E_STORAGE);
    assert_non_null(strstr(err.msg, "HTTP 403 AccessDenied"));
    assert_true(failed[0] && failed[1] && failed[2]);
    assert_int_equal(storage_remove_many(st, keys, 3, failed, &err), 0);
    assert_false(failed[0] || failed[1] || failed[2]);
    storage_close(st);
}

/* ---- many objects at once ---- */

struct expect_obj {
    struct collect c;
    unsigned char *data;
    size_t len;
};

static void
test_fetch_many_parallel(void **state)
{
    enum { N = 50 };
    struct expect_obj objs[N + 2];
    struct storage_fetch items[N + 2];
    char keys[N + 2][64], fallbacks[N + 2][64];
    struct storage *st;
    struct jr_err err = JR_ERR_INIT;
    size_t gets;

    (void)state;
    NEED_PROXY();
    st = open_proxy();
    memset(objs, 0, sizeof(objs));
    memset(items, 0, sizeof(items));
    for (size_t i = 0; i < N; i++) {
        objs[i].len = 1 + (i * 7919) % 200000;
        objs[i].data = xmalloc(objs[i].len);
        fill_random(objs[i].data, objs[i].len, 100 + i);
        snprintf(keys[i], sizeof(keys[i]), "fm/svc-service-notify/job%02zu.csv", i);
        snprintf(fallbacks[i], sizeof(fallbacks[i]), "fm/service-svc-notify/job%02zu.csv", i);
        /* every fifth object exists only under the legacy layout */
        put_ok(st, i % 5 == 3 ? fallbacks[i] : keys[i], objs[i].data, objs[i].len);
    }
    for (size_t i = N; i < N + 2; i++) {
        snprintf(keys[i], sizeof(keys[i]), "fm/svc-service-notify/missing%zu.csv", i);
        snprintf(fallbacks[i], sizeof(fallbacks[i]), "fm/service-svc-notify/missing%zu.csv", i);
    }
    proxy_reset();
    /* some throttling and a broken transfer along the way */
    proxy_rule("[{\"method\":\"GET\",\"path\":\"job07\",\"action\":\"slowdown\",\"count\":1},"
               "{\"method\":\"GET\",\"path\":\"job21\",\"action\":\"status\",\"status\":500,"
               "\"count\":2},"
               "{\"method\":\"GET\",\"path\":\"job40\",\"action\":\"reset\",\"count\":1}]");
    for (size_t i = 0; i < N + 2; i++) {
        items[i].key = keys[i];
        items[i].fallback_key = fallbacks[i];
        items[i].max_bytes = 256 * 1024;
        items[i].on_data = collect_data;
        items[i].on_reset = collect_reset;
        items[i].arg = &objs[i].c;
    }
    if (storage_fetch_many(st, items, N + 2, 4, &err) < 0)
        fail_msg("fetch_many: %s", err.msg);
    for (size_t i = 0; i < N; i++) {
        if (items[i].status != STORAGE_FETCH_OK)
            fail_msg("item %zu: status %d %s", i, items[i].status, items[i].errmsg);
        assert_int_equal(items[i].used_fallback, i % 5 == 3);
        assert_int_equal(objs[i].c.body.len, objs[i].len);
        assert_memory_equal(objs[i].c.body.data, objs[i].data, objs[i].len);
        assert_int_equal(items[i].bytes, (int64_t)objs[i].len);
        buf_release(&objs[i].c.body);
        free(objs[i].data);
    }
    assert_int_equal(items[N].status, STORAGE_FETCH_MISSING);
    assert_int_equal(items[N + 1].status, STORAGE_FETCH_MISSING);
    assert_int_equal(proxy_count("GET", "job07", NULL, NULL, 0), 2);
    assert_int_equal(proxy_count("GET", "job21", NULL, NULL, 0), 3);
    assert_int_equal(proxy_count("GET", "job40", NULL, NULL, 0), 2);
    assert_true(objs[40].c.resets >= 1);
    /* N gets, + N/5 fallbacks, + 4 retries, + 2 missing objects x 2 keys */
    gets = proxy_count("GET", "/fm/", NULL, NULL, 0);
    assert_int_equal(gets, N + N / 5 + 4 + 4);
    storage_close(st);
}

/* ---- modes for the shell tests and the measurement ---- */

static struct storage *
open_for_mode(size_t part_size)
{
    struct storage_s3_params p = {0};
    struct jr_err err = JR_ERR_INIT;
    struct buf loc = BUF_INIT;
    struct storage *st;

    if (!have_server()) {
        fprintf(stderr, "test_s3_live: JR_S3_* variables are not set\n");
        exit(2);
    }
    buf_printf(&loc, "s3://%s", env("JR_S3_BUCKET"));
    p.region = "us-east-1";
    p.access_key_id = env("JR_S3_ACCESS_KEY");
    p.secret_access_key = env("JR_S3_SECRET_KEY");
    p.endpoint_url = env("JR_S3_ENDPOINT");
    p.max_attempts = 3;
    p.part_size = part_size;
    st = storage_open(buf_cstr(&loc), &p, &err);
    buf_release(&loc);
    if (!st) {
        fprintf(stderr, "test_s3_live: %s\n", err.msg);
        exit(1);
    }
    return st;
}

static int
mode_put(const char *key, const char *file, size_t part_size)
{
    struct storage_put_opts opts = {"application/octet-stream", true};
    struct storage *st = open_for_mode(part_size);
    struct jr_err err = JR_ERR_INIT;
    struct storage_writer *w;
    unsigned char chunk[65536];
    FILE *f = fopen(file, "rb");
    size_t n;
    int rc = 1;

    if (!f) {
        perror(file);
        goto out;
    }
    w = storage_writer_open(st, key, &opts, &err);
    if (!w)
        goto fail;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (storage_writer_write(w, chunk, n, &err) < 0) {
            storage_writer_abort(w);
            goto fail;
        }
    }
    if (ferror(f)) {
        storage_writer_abort(w);
        fprintf(stderr, "test_s3_live: cannot read '%s'\n", file);
        goto out;
    }
    if (storage_writer_commit(w, NULL, &err) < 0)
        goto fail;
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "test_s3_live: %s\n", err.msg);
out:
    if (f)
        fclose(f);
    storage_close(st);
    return rc;
}

static int
write_file(void *arg, const void *data, size_t len)
{
    return fwrite(data, 1, len, arg) == len ? 0 : -1;
}

static void
rewind_file(void *arg)
{
    FILE *f = arg;

    if (fflush(f) != 0 || ftruncate(fileno(f), 0) != 0)
        perror("truncate");
    rewind(f);
}

static int
mode_get(const char *key, const char *file)
{
    struct storage *st = open_for_mode(5 * MIB);
    struct storage_fetch item = {0};
    struct jr_err err = JR_ERR_INIT;
    FILE *f = fopen(file, "wb");
    int rc = 1;

    if (!f) {
        perror(file);
        storage_close(st);
        return 1;
    }
    item.key = key;
    item.on_data = write_file;
    item.on_reset = rewind_file;
    item.arg = f;
    if (storage_fetch_many(st, &item, 1, 1, &err) < 0)
        fprintf(stderr, "test_s3_live: %s\n", err.msg);
    else if (item.status == STORAGE_FETCH_MISSING)
        rc = 3, fprintf(stderr, "test_s3_live: '%s' does not exist\n", key);
    else if (item.status != STORAGE_FETCH_OK)
        fprintf(stderr, "test_s3_live: get '%s': status %d %s\n", key, item.status, item.errmsg);
    else
        rc = 0;
    if (fclose(f) != 0)
        rc = 1;
    storage_close(st);
    return rc;
}

static double
elapsed(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

struct count_sink {
    size_t bytes;
};

static int
count_data(void *arg, const void *data, size_t len)
{
    (void)data;
    ((struct count_sink *)arg)->bytes += len;
    return 0;
}

static void
count_reset(void *arg)
{
    ((struct count_sink *)arg)->bytes = 0;
}

static int
mode_bench(const char *mb_arg)
{
    size_t mb = (size_t)strtoul(mb_arg, NULL, 10);
    size_t len = mb * MIB;
    unsigned char *data;
    struct storage *st = open_for_mode(8 * MIB);
    struct jr_err err = JR_ERR_INIT;
    struct timespec t0, t1;
    struct count_sink sink = {0};
    struct storage_fetch item = {0};
    struct storage_writer *w;
    char key[128];

    if (!mb)
        return 2;
    data = xmalloc(len);
    fill_random(data, len, 42);
    snprintf(key, sizeof(key), "bench/%s.bin", run_prefix);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    w = storage_writer_open(st, key, NULL, &err);
    for (size_t off = 0; w && off < len; off += 65536)
        if (storage_writer_write(w, data + off, len - off < 65536 ? len - off : 65536, &err) < 0)
            return fprintf(stderr, "%s\n", err.msg), 1;
    if (!w || storage_writer_commit(w, NULL, &err) < 0)
        return fprintf(stderr, "%s\n", err.msg), 1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("upload   %zu MiB in %.2f s: %.1f MB/s\n", mb, elapsed(&t0, &t1),
           (double)len / 1e6 / elapsed(&t0, &t1));

    item.key = key;
    item.on_data = count_data;
    item.on_reset = count_reset;
    item.arg = &sink;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (storage_fetch_many(st, &item, 1, 1, &err) < 0 || item.status != STORAGE_FETCH_OK ||
        sink.bytes != len)
        return fprintf(stderr, "download failed: %s %s\n", err.msg, item.errmsg), 1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("download %zu MiB in %.2f s: %.1f MB/s\n", mb, elapsed(&t0, &t1),
           (double)len / 1e6 / elapsed(&t0, &t1));
    storage_remove(st, key, &err);
    storage_close(st);
    free(data);
    return 0;
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_sse_and_content_type),
        cmocka_unit_test(test_multipart),
        cmocka_unit_test(test_fallback_missing_too_big),
        cmocka_unit_test(test_stat_remove),
        cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_odd_keys),
        cmocka_unit_test(test_wrong_secret),
        cmocka_unit_test(test_session_token),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_fault_500_then_success),
        cmocka_unit_test(test_fault_slowdown_then_success),
        cmocka_unit_test(test_fault_reset_mid_body),
        cmocka_unit_test(test_fault_stall),
        cmocka_unit_test(test_fault_retries_exhausted),
        cmocka_unit_test(test_fault_multipart_failure),
        cmocka_unit_test(test_fault_error_inside_200),
        cmocka_unit_test(test_fault_delete_per_key_errors),
        cmocka_unit_test(test_fetch_many_parallel),
    };
    const char *level = getenv("JR_TEST_LOG_LEVEL");
    enum log_level lv = LOG_LEVEL_INFO;

    if (level && log_level_parse(level, &lv) < 0)
        lv = LOG_LEVEL_INFO;
    log_setup(lv, LOG_FORMAT_TEXT);
    snprintf(run_prefix, sizeof(run_prefix), "live-%ld-%ld", (long)getpid(), (long)time(NULL));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (argc >= 4 && strcmp(argv[1], "put") == 0)
        return mode_put(argv[2], argv[3], argc > 4 ? (size_t)strtoul(argv[4], NULL, 10) : 5 * MIB);
    if (argc == 4 && strcmp(argv[1], "get") == 0)
        return mode_get(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "bench") == 0)
        return mode_bench(argv[2]);
    if (argc != 1) {
        fprintf(stderr, "usage: test_s3_live [put KEY FILE [PART] | get KEY FILE | bench MB]\n");
        return 2;
    }
    return cmocka_run_group_tests_name("s3_live", tests, NULL, NULL);
}
