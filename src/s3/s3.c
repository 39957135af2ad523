/*
 * S3 operations. Each request is a struct s3_op: the target (URL, Host, raw path for signing),
 * the headers to sign, and a small buffer for XML replies. The op's sign callback runs before
 * every attempt, so a retried request carries a fresh x-amz-date. Replies that are not 2xx are
 * turned into S3 codes by op_inspect, which is also what lets the retry layer see SlowDown or an
 * InternalError hidden in a 200 reply to CompleteMultipartUpload.
 */
#include "s3/s3.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "s3/http.h"
#include "s3/sigv4.h"
#include "s3/xml.h"
#include "xalloc.h"

#include "banned.h"

/* SHA-256 of the empty body. */
static const char empty_sha256[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct s3_client {
    char *bucket;
    char *region;
    char *access_key_id;
    char *secret_access_key;
    char *session_token;
    char *scheme;    /* "https" or "http" */
    char *authority; /* service host[:port], without the bucket */
    bool virtual_host;
    char *description; /* "s3://bucket" */
    s3_clock_fn *now;
    struct s3_http *http;
};

/* One request being built and run. */
struct s3_op {
    struct s3_client *c;
    const char *method;
    struct buf url;
    struct buf host;
    struct buf path;
    struct buf what;
    char payload_hash[65];
    const char *content_type;
    char content_md5[32];
    bool sse;
    /* 2xx reply body, for XML replies */
    bool collect;
    bool complete_reply; /* inspect a 2xx body as a CompleteMultipartUpload reply */
    bool overflow;
    struct buf reply;
};

/* ---- small helpers ------------------------------------------------------------------------ */

static int
sha256_hex(const void *data, size_t len, char out[65], struct jr_err *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return jr_err_set(err, JR_E_INTERNAL, "cannot compute SHA-256");
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = "0123456789abcdef"[md[i] >> 4];
        out[2 * i + 1] = "0123456789abcdef"[md[i] & 15];
    }
    out[64] = '\0';
    return 0;
}

static int
md5_base64(const void *data, size_t len, char out[32], struct jr_err *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (EVP_Digest(data, len, md, &mdlen, EVP_md5(), NULL) != 1 || mdlen != 16)
        return jr_err_set(err, JR_E_INTERNAL, "cannot compute MD5 for Content-MD5");
    EVP_EncodeBlock((unsigned char *)out, md, (int)mdlen); /* 24 chars + NUL */
    return 0;
}

/* Copy src into dst[size], truncating. */
static void
copy_trunc(char *dst, size_t size, const char *src)
{
    size_t len = strlen(src);

    if (len >= size)
        len = size - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static bool
valid_region(const char *r)
{
    if (!*r || strlen(r) > 64)
        return false;
    for (const char *p = r; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-'))
            return false;
    return true;
}

/* Bucket names allowed here, and whether they work as a DNS label (virtual-hosted style). */
static bool
valid_bucket(const char *b, bool *dns_ok)
{
    size_t len = strlen(b);

    *dns_ok = len >= 3 && len <= 63;
    if (!len || len > 255)
        return false;
    for (const char *p = b; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')
            continue;
        if ((*p >= 'A' && *p <= 'Z') || *p == '_' || *p == '.') {
            *dns_ok = false; /* dots break the TLS wildcard certificate */
            continue;
        }
        return false;
    }
    return true;
}

/* Split "http[s]://host[:port][/]" into scheme and authority. */
static int
parse_endpoint(const char *url, char **scheme, char **authority, struct jr_err *err)
{
    const char *rest;
    size_t len;

    if (strncmp(url, "https://", 8) == 0) {
        *scheme = xstrdup("https");
        rest = url + 8;
    } else if (strncmp(url, "http://", 7) == 0) {
        *scheme = xstrdup("http");
        rest = url + 7;
    } else {
        return jr_err_set(err, JR_E_CONFIG,
                          "invalid S3 endpoint '%s': expected http://HOST[:PORT] or https://...",
                          url);
    }
    len = strcspn(rest, "/?#");
    if (!len || strchr(rest, '@') || (rest[len] && strcmp(rest + len, "/") != 0)) {
        free(*scheme);
        *scheme = NULL;
        return jr_err_set(err, JR_E_CONFIG,
                          "invalid S3 endpoint '%s': expected http://HOST[:PORT] with no path",
                          url);
    }
    for (size_t i = 0; i < len; i++) {
        char ch = rest[i];

        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '-' || ch == ':' || ch == '[' || ch == ']')) {
            free(*scheme);
            *scheme = NULL;
            return jr_err_set(err, JR_E_CONFIG, "invalid S3 endpoint '%s': bad host name", url);
        }
    }
    *authority = xstrndup(rest, len);
    return 0;
}

/* "cannot <subject>: <what the response says>", code JR_E_STORAGE. */
static int JR_PRINTF(3, 4)
    fail_resp(struct jr_err *err, const struct s3_http_response *r, const char *fmt, ...)
{
    struct buf msg = BUF_INIT;
    va_list ap;

    buf_addstr(&msg, "cannot ");
    va_start(ap, fmt);
    buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    buf_addstr(&msg, ": ");
    s3_http_response_describe(r, &msg);
    jr_err_set(err, JR_E_STORAGE, "%s", buf_cstr(&msg));
    buf_release(&msg);
    return -1;
}

static int
check_key(const struct s3_client *c, const char *key, const char *verb, struct jr_err *err)
{
    size_t len = strlen(key);

    if (!len)
        return jr_err_set(err, JR_E_STORAGE, "cannot %s an empty key in '%s'", verb,
                          c->description);
    if (len > S3_KEY_MAX)
        return jr_err_set(err, JR_E_STORAGE,
                          "cannot %s '%.64s...' in '%s': key longer than %d bytes", verb, key,
                          c->description, S3_KEY_MAX);
    return 0;
}

/* ---- client ------------------------------------------------------------------------------- */

struct s3_client *
s3_client_open(const struct s3_config *cfg, struct jr_err *err)
{
    struct s3_http_config hc = {0};
    struct s3_client *c;
    const char *region = cfg->region && *cfg->region ? cfg->region : "us-east-1";
    bool dns_ok;

    if (!cfg->bucket || !*cfg->bucket)
        return jr_err_set(err, JR_E_CONFIG, "no S3 bucket configured"), NULL;
    if (!valid_bucket(cfg->bucket, &dns_ok))
        return jr_err_set(err, JR_E_CONFIG, "invalid S3 bucket name '%s'", cfg->bucket), NULL;
    if (!valid_region(region))
        return jr_err_set(err, JR_E_CONFIG, "invalid AWS region '%s'", region), NULL;
    if (!cfg->access_key_id || !*cfg->access_key_id || !cfg->secret_access_key ||
        !*cfg->secret_access_key)
        return jr_err_set(err, JR_E_CONFIG, "no S3 credentials for 's3://%s'", cfg->bucket), NULL;

    c = xcalloc(1, sizeof(*c));
    if (cfg->endpoint_url && *cfg->endpoint_url) {
        if (parse_endpoint(cfg->endpoint_url, &c->scheme, &c->authority, err) < 0) {
            free(c);
            return NULL;
        }
        c->virtual_host = false;
    } else {
        const char *suffix = strncmp(region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com";

        c->scheme = xstrdup("https");
        c->authority = xasprintf("%s.%s.%s", cfg->use_fips ? "s3-fips" : "s3", region, suffix);
        c->virtual_host = dns_ok && !cfg->path_style;
    }
    c->bucket = xstrdup(cfg->bucket);
    c->region = xstrdup(region);
    c->access_key_id = xstrdup(cfg->access_key_id);
    c->secret_access_key = xstrdup(cfg->secret_access_key);
    c->session_token =
        cfg->session_token && *cfg->session_token ? xstrdup(cfg->session_token) : NULL;
    c->description = xasprintf("s3://%s", cfg->bucket);
    c->now = cfg->now ? cfg->now : time;

    hc.ca_bundle = cfg->ca_bundle;
    hc.connect_timeout_s = cfg->connect_timeout_s;
    hc.stall_timeout_s = cfg->stall_timeout_s;
    hc.max_attempts = cfg->max_attempts;
    c->http = s3_http_open(&hc, err);
    if (!c->http) {
        s3_client_close(c);
        return NULL;
    }
    return c;
}

void
s3_client_close(struct s3_client *c)
{
    if (!c)
        return;
    s3_http_close(c->http);
    free(c->bucket);
    free(c->region);
    xfree_secret(c->access_key_id);
    xfree_secret(c->secret_access_key);
    xfree_secret(c->session_token);
    free(c->scheme);
    free(c->authority);
    free(c->description);
    free(c);
}

const char *
s3_client_describe(const struct s3_client *c)
{
    return c->description;
}

void
s3_client_url(const struct s3_client *c, const char *key, const char *query, struct buf *url,
              struct buf *host, struct buf *path)
{
    struct buf p = BUF_INIT;
    struct buf h = BUF_INIT;

    if (c->virtual_host)
        buf_printf(&h, "%s.%s", c->bucket, c->authority);
    else
        buf_addstr(&h, c->authority);
    if (!c->virtual_host) {
        buf_addch(&p, '/');
        buf_addstr(&p, c->bucket);
    }
    if (key) {
        buf_addch(&p, '/');
        buf_addstr(&p, key);
    } else if (c->virtual_host) {
        buf_addch(&p, '/');
    }
    if (url) {
        buf_printf(url, "%s://%s", c->scheme, buf_cstr(&h));
        s3_sigv4_uri_encode(url, p.data, p.len, true);
        if (query && *query)
            buf_printf(url, "?%s", query);
    }
    if (host)
        buf_add(host, h.data, h.len);
    if (path)
        buf_add(path, p.data, p.len);
    buf_release(&p);
    buf_release(&h);
}

/* ---- one request -------------------------------------------------------------------------- */

static void
op_init(struct s3_op *op, struct s3_client *c, const char *method, const char *key,
        const char *query)
{
    memset(op, 0, sizeof(*op));
    op->c = c;
    op->method = method;
    memcpy(op->payload_hash, empty_sha256, sizeof(empty_sha256));
    s3_client_url(c, key, query, &op->url, &op->host, &op->path);
    buf_printf(&op->what, "%s '%s'", method, key ? key : c->bucket);
}

/* Point an op at another key (same method and query-less target). */
static void
op_retarget(struct s3_op *op, const char *key)
{
    buf_reset(&op->url);
    buf_reset(&op->host);
    buf_reset(&op->path);
    buf_reset(&op->what);
    s3_client_url(op->c, key, NULL, &op->url, &op->host, &op->path);
    buf_printf(&op->what, "%s '%s'", op->method, key);
}

static void
op_release(struct s3_op *op)
{
    buf_release(&op->url);
    buf_release(&op->host);
    buf_release(&op->path);
    buf_release(&op->what);
    buf_release(&op->reply);
}

/* The query part of op->url, as sent ("" for none). */
static const char *
op_query(const struct s3_op *op)
{
    const char *q = strchr(buf_cstr(&op->url), '?');

    return q ? q + 1 : "";
}

static int
op_sign(void *arg, struct s3_http_headers *out, struct jr_err *err)
{
    struct s3_op *op = arg;
    struct s3_client *c = op->c;
    struct s3_sigv4_header hs[8];
    struct s3_sigv4_request req = {0};
    struct s3_sigv4_credentials cred = {c->access_key_id, c->secret_access_key, c->session_token};
    struct buf auth = BUF_INIT;
    char amz_date[17];
    time_t t = c->now(NULL);
    size_t n = 0;
    int rc;

    s3_sigv4_amz_date(t, amz_date);
    hs[n++] = (struct s3_sigv4_header){"Host", buf_cstr(&op->host)};
    hs[n++] = (struct s3_sigv4_header){"x-amz-date", amz_date};
    hs[n++] = (struct s3_sigv4_header){"x-amz-content-sha256", op->payload_hash};
    if (c->session_token)
        hs[n++] = (struct s3_sigv4_header){"x-amz-security-token", c->session_token};
    if (op->content_type)
        hs[n++] = (struct s3_sigv4_header){"Content-Type", op->content_type};
    if (op->content_md5[0])
        hs[n++] = (struct s3_sigv4_header){"Content-MD5", op->content_md5};
    if (op->sse)
        hs[n++] = (struct s3_sigv4_header){"x-amz-server-side-encryption", "AES256"};

    req.method = op->method;
    req.path = buf_cstr(&op->path);
    req.query = op_query(op);
    req.headers = hs;
    req.nheaders = n;
    req.payload_hash = op->payload_hash;
    rc = s3_sigv4_sign(&req, &cred, c->region, "s3", t, &auth, NULL, err);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            s3_http_headers_add(out, hs[i].name, hs[i].value);
        s3_http_headers_add(out, "Authorization", buf_cstr(&auth));
    }
    buf_release(&auth);
    return rc;
}

static int
op_collect(void *arg, const void *data, size_t len)
{
    struct s3_op *op = arg;

    if (op->reply.len + len > S3_XML_MAX_BYTES) {
        op->overflow = true;
        return -1;
    }
    buf_add(&op->reply, data, len);
    return 0;
}

static void
op_reset(void *arg)
{
    struct s3_op *op = arg;

    buf_reset(&op->reply);
    op->overflow = false;
}

static void
op_inspect(void *arg, struct s3_http_response *resp)
{
    struct s3_op *op = arg;
    struct s3_xml_error e;

    if (resp->status < 200 || resp->status >= 300) {
        if (s3_xml_parse_error(resp->error_body.data, resp->error_body.len, &e) == 0) {
            snprintf(resp->code, sizeof(resp->code), "%s", e.code);
            snprintf(resp->message, sizeof(resp->message), "%s", e.message);
        }
    } else if (op->complete_reply) {
        if (s3_xml_parse_error(op->reply.data, op->reply.len, &e) == 0) {
            snprintf(resp->code, sizeof(resp->code), "%s", e.code);
            snprintf(resp->message, sizeof(resp->message), "%s", e.message);
        }
    }
}

/* Run op with body; resp is filled in req (caller releases). -1 only when it could not run. */
static int
op_run(struct s3_op *op, struct s3_http_request *req, const void *body, size_t len,
       struct jr_err *err)
{
    memset(req, 0, sizeof(*req));
    req->method = op->method;
    req->url = buf_cstr(&op->url);
    req->what = buf_cstr(&op->what);
    req->body = body;
    req->body_len = len;
    req->sign = op_sign;
    req->inspect = op_inspect;
    req->arg = op;
    if (op->collect) {
        req->on_data = op_collect;
        req->on_reset = op_reset;
    }
    return s3_http_execute(op->c->http, req, err);
}

/* Fail for a finished request that did not succeed. */
static int JR_PRINTF(4, 5) op_fail(struct s3_op *op, const struct s3_http_response *r,
                                   struct jr_err *err, const char *fmt, ...)
{
    struct buf subject = BUF_INIT;
    va_list ap;

    va_start(ap, fmt);
    buf_vprintf(&subject, fmt, ap);
    va_end(ap);
    if (op->overflow)
        jr_err_set(err, JR_E_STORAGE, "cannot %s: reply larger than %d bytes", buf_cstr(&subject),
                   S3_XML_MAX_BYTES);
    else
        fail_resp(err, r, "%s", buf_cstr(&subject));
    buf_release(&subject);
    return -1;
}

/* ---- PutObject and multipart -------------------------------------------------------------- */

int
s3_put_object(struct s3_client *c, const char *key, const void *body, size_t len,
              const struct s3_put_opts *opts, char *etag, struct jr_err *err)
{
    struct s3_http_request req;
    struct s3_op op;
    int rc = -1;

    if (check_key(c, key, "put", err) < 0)
        return -1;
    op_init(&op, c, "PUT", key, NULL);
    if (opts) {
        op.content_type = opts->content_type;
        op.sse = opts->server_side_encryption;
    }
    if (sha256_hex(body, len, op.payload_hash, err) < 0 || op_run(&op, &req, body, len, err) < 0)
        goto out;
    if (!s3_http_response_ok(&req.resp)) {
        op_fail(&op, &req.resp, err, "put '%s' to '%s'", key, c->description);
        goto done;
    }
    if (etag)
        snprintf(etag, 80, "%s", req.resp.etag);
    rc = 0;
done:
    s3_http_response_release(&req.resp);
out:
    op_release(&op);
    return rc;
}

int
s3_multipart_create(struct s3_client *c, const char *key, const struct s3_put_opts *opts,
                    char **upload_id, struct jr_err *err)
{
    struct s3_http_request req;
    struct s3_op op;
    int rc = -1;

    *upload_id = NULL;
    if (check_key(c, key, "upload", err) < 0)
        return -1;
    op_init(&op, c, "POST", key, "uploads");
    buf_addstr(&op.what, " (start multipart upload)");
    op.collect = true;
    if (opts) {
        op.content_type = opts->content_type;
        op.sse = opts->server_side_encryption;
    }
    if (op_run(&op, &req, NULL, 0, err) < 0)
        goto out;
    if (!s3_http_response_ok(&req.resp)) {
        op_fail(&op, &req.resp, err, "start a multipart upload of '%s' to '%s'", key,
                c->description);
        goto done;
    }
    if (s3_xml_parse_initiate(op.reply.data, op.reply.len, upload_id, err) < 0) {
        jr_err_prefix(err, "cannot start a multipart upload of '%s' to '%s'", key, c->description);
        goto done;
    }
    rc = 0;
done:
    s3_http_response_release(&req.resp);
out:
    op_release(&op);
    return rc;
}

static void
upload_query(struct buf *q, const char *upload_id, unsigned part_number)
{
    if (part_number)
        buf_printf(q, "partNumber=%u&", part_number);
    buf_addstr(q, "uploadId=");
    s3_sigv4_uri_encode(q, upload_id, strlen(upload_id), false);
}

int
s3_multipart_upload_part(struct s3_client *c, const char *key, const char *upload_id,
                         unsigned part_number, const void *body, size_t len, char *etag,
                         struct jr_err *err)
{
    struct s3_http_request req;
    struct buf q = BUF_INIT;
    struct s3_op op;
    int rc = -1;

    if (part_number < 1 || part_number > S3_PARTS_MAX)
        return jr_err_set(err, JR_E_STORAGE, "cannot upload '%s' to '%s': more than %d parts", key,
                          c->description, S3_PARTS_MAX);
    upload_query(&q, upload_id, part_number);
    op_init(&op, c, "PUT", key, buf_cstr(&q));
    buf_printf(&op.what, " part %u", part_number);
    if (sha256_hex(body, len, op.payload_hash, err) < 0 || op_run(&op, &req, body, len, err) < 0)
        goto out;
    if (!s3_http_response_ok(&req.resp)) {
        op_fail(&op, &req.resp, err, "upload part %u of '%s' to '%s'", part_number, key,
                c->description);
        goto done;
    }
    if (!req.resp.etag[0]) {
        jr_err_set(err, JR_E_STORAGE, "cannot upload part %u of '%s' to '%s': no ETag in reply",
                   part_number, key, c->description);
        goto done;
    }
    snprintf(etag, 80, "%s", req.resp.etag);
    rc = 0;
done:
    s3_http_response_release(&req.resp);
out:
    op_release(&op);
    buf_release(&q);
    return rc;
}

int
s3_multipart_complete(struct s3_client *c, const char *key, const char *upload_id,
                      const char (*etags)[80], size_t nparts, struct jr_err *err)
{
    struct s3_http_request req;
    struct buf body = BUF_INIT;
    struct buf q = BUF_INIT;
    struct s3_xml_error xe;
    struct s3_op op;
    char etag[80];
    bool is_error;
    int rc = -1;

    buf_addstr(&body,
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (size_t i = 0; i < nparts; i++) {
        buf_printf(&body, "<Part><PartNumber>%zu</PartNumber><ETag>", i + 1);
        if (s3_xml_escape(&body, etags[i], strlen(etags[i])) < 0) {
            jr_err_set(err, JR_E_STORAGE,
                       "cannot complete the multipart upload of '%s' to '%s': bad ETag of part %zu",
                       key, c->description, i + 1);
            buf_release(&body);
            return -1;
        }
        buf_addstr(&body, "</ETag></Part>");
    }
    buf_addstr(&body, "</CompleteMultipartUpload>");

    upload_query(&q, upload_id, 0);
    op_init(&op, c, "POST", key, buf_cstr(&q));
    buf_addstr(&op.what, " (complete multipart upload)");
    op.collect = true;
    op.complete_reply = true;
    op.content_type = "application/xml";
    if (sha256_hex(body.data, body.len, op.payload_hash, err) < 0 ||
        op_run(&op, &req, body.data, body.len, err) < 0)
        goto out;
    if (!s3_http_response_ok(&req.resp)) {
        op_fail(&op, &req.resp, err, "complete the multipart upload of '%s' to '%s'", key,
                c->description);
        goto done;
    }
    if (s3_xml_parse_complete(op.reply.data, op.reply.len, &is_error, etag, &xe, err) < 0) {
        jr_err_prefix(err, "cannot complete the multipart upload of '%s' to '%s'", key,
                      c->description);
        goto done;
    }
    if (is_error) { /* inspect saw it already; kept for a reply that changed under us */
        jr_err_set(err, JR_E_STORAGE,
                   "cannot complete the multipart upload of '%s' to '%s': HTTP 200 %s: %s", key,
                   c->description, xe.code, xe.message);
        goto done;
    }
    rc = 0;
done:
    s3_http_response_release(&req.resp);
out:
    op_release(&op);
    buf_release(&q);
    buf_release(&body);
    return rc;
}

int
s3_multipart_abort(struct s3_client *c, const char *key, const char *upload_id, struct jr_err *err)
{
    struct s3_http_request req;
    struct buf q = BUF_INIT;
    struct s3_op op;
    int rc = -1;

    upload_query(&q, upload_id, 0);
    op_init(&op, c, "DELETE", key, buf_cstr(&q));
    buf_addstr(&op.what, " (abort multipart upload)");
    if (op_run(&op, &req, NULL, 0, err) < 0)
        goto out;
    if (!s3_http_response_ok(&req.resp) && req.resp.status != 404) {
        op_fail(&op, &req.resp, err, "abort the multipart upload of '%s' to '%s'", key,
                c->description);
        goto done;
    }
    rc = 0;
done:
    s3_http_response_release(&req.resp);
out:
    op_release(&op);
    buf_release(&q);
    return rc;
}

/* ---- GetObject ---------------------------------------------------------------------------- */

struct get_ctx {
    struct s3_client *c;
    struct s3_get *item;
    struct s3_op op;
    struct s3_http_request req;
    bool too_big;
    bool user_abort;
    bool cannot_restart; /* bytes went out and the receiver has no reset callback */
};

static int
get_on_head(void *arg, const struct s3_http_response *resp)
{
    struct get_ctx *g = arg;

    if (g->item->max_bytes > 0 && resp->content_length > g->item->max_bytes) {
        g->too_big = true;
        return -1;
    }
    return 0;
}

static int
get_on_data(void *arg, const void *data, size_t len)
{
    struct get_ctx *g = arg;
    struct s3_get *it = g->item;

    if (g->cannot_restart)
        return -1;
    if (it->max_bytes > 0 && it->bytes + (int64_t)len > it->max_bytes) {
        g->too_big = true;
        return -1;
    }
    it->bytes += (int64_t)len;
    if (it->on_data(it->arg, data, len) < 0) {
        g->user_abort = true;
        return -1;
    }
    return 0;
}

static void
get_on_reset(void *arg)
{
    struct get_ctx *g = arg;
    struct s3_get *it = g->item;

    if (it->bytes > 0) {
        if (it->on_reset)
            it->on_reset(it->arg);
        else
            g->cannot_restart = true;
    }
    it->bytes = 0;
}

static bool
is_missing(const struct s3_http_response *r)
{
    /* A missing bucket is a configuration problem, not a missing object. */
    return r->failure == S3_HTTP_OK && r->status == 404 && strcmp(r->code, "NoSuchBucket") != 0;
}

static bool
get_again(void *arg, struct s3_http_request *req)
{
    struct get_ctx *g = arg;
    struct s3_get *it = g->item;

    if (!is_missing(&req->resp) || !it->fallback_key || it->used_fallback)
        return false;
    it->used_fallback = true;
    op_retarget(&g->op, it->fallback_key);
    req->url = buf_cstr(&g->op.url);
    req->what = buf_cstr(&g->op.what);
    return true;
}

/* The op callbacks, reached through the get context (the requests' arg). */
static int
get_sign(void *arg, struct s3_http_headers *h, struct jr_err *err)
{
    return op_sign(&((struct get_ctx *)arg)->op, h, err);
}

static void
get_inspect(void *arg, struct s3_http_response *resp)
{
    op_inspect(&((struct get_ctx *)arg)->op, resp);
}

/* Set up g for item it; false (item marked failed) when its keys are invalid. */
static bool
get_prepare(struct get_ctx *g, struct s3_client *c, struct s3_get *it)
{
    struct jr_err e = JR_ERR_INIT;

    memset(g, 0, sizeof(*g));
    g->c = c;
    g->item = it;
    it->status = S3_GET_FAILED;
    it->used_fallback = false;
    it->bytes = 0;
    it->info.size = -1;
    it->info.mtime = 0;
    it->info.etag[0] = '\0';
    it->errmsg[0] = '\0';
    if (check_key(c, it->key, "get", &e) < 0 ||
        (it->fallback_key && check_key(c, it->fallback_key, "get", &e) < 0)) {
        copy_trunc(it->errmsg, sizeof(it->errmsg), e.msg);
        return false;
    }
    op_init(&g->op, c, "GET", it->key, NULL);
    g->req.method = "GET";
    g->req.url = buf_cstr(&g->op.url);
    g->req.what = buf_cstr(&g->op.what);
    g->req.sign = get_sign;
    g->req.inspect = get_inspect;
    g->req.on_head = get_on_head;
    g->req.on_data = get_on_data;
    g->req.on_reset = get_on_reset;
    g->req.again = get_again;
    g->req.arg = g;
    return true;
}

static void
get_finish(struct get_ctx *g)
{
    struct s3_get *it = g->item;
    const struct s3_http_response *r = &g->req.resp;
    const char *key = it->used_fallback ? it->fallback_key : it->key;

    if (g->user_abort) {
        it->status = S3_GET_ABORTED;
    } else if (g->too_big) {
        it->status = S3_GET_TOO_BIG;
        if (r->content_length >= 0)
            it->info.size = r->content_length;
    } else if (g->cannot_restart) {
        it->status = S3_GET_FAILED;
        snprintf(it->errmsg, sizeof(it->errmsg),
                 "cannot get '%s' from '%s': transfer broke mid-body and cannot restart", key,
                 g->c->description);
    } else if (s3_http_response_ok(r)) {
        it->status = S3_GET_OK;
        it->info.size = r->content_length >= 0 ? r->content_length : it->bytes;
        it->info.mtime = r->last_modified;
        memcpy(it->info.etag, r->etag, sizeof(it->info.etag));
    } else if (is_missing(r)) {
        it->status = S3_GET_MISSING;
        it->used_fallback = false; /* no body came from anywhere */
    } else {
        struct jr_err e = JR_ERR_INIT;

        it->status = S3_GET_FAILED;
        fail_resp(&e, r, "get '%s' from '%s'", key, g->c->description);
        copy_trunc(it->errmsg, sizeof(it->errmsg), e.msg);
    }
}

int
s3_get_object(struct s3_client *c, struct s3_get *item, struct jr_err *err)
{
    return s3_get_many(c, item, 1, 1, err);
}

int
s3_get_many(struct s3_client *c, struct s3_get *items, size_t n, unsigned parallel,
            struct jr_err *err)
{
    struct get_ctx *gs = xcalloc(n ? n : 1, sizeof(*gs));
    struct s3_http_request **reqs = xcalloc(n ? n : 1, sizeof(*reqs));
    struct get_ctx **ctxs = xcalloc(n ? n : 1, sizeof(*ctxs));
    size_t nreq = 0;
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        if (get_prepare(&gs[i], c, &items[i])) {
            ctxs[nreq] = &gs[i];
            reqs[nreq++] = &gs[i].req;
        }
    }
    if (nreq == 1)
        rc = s3_http_execute(c->http, reqs[0], err);
    else if (nreq > 1)
        rc = s3_http_execute_many(c->http, reqs, nreq, parallel, err);
    for (size_t i = 0; i < nreq; i++) {
        if (rc == 0)
            get_finish(ctxs[i]);
        s3_http_response_release(&ctxs[i]->req.resp);
        op_release(&ctxs[i]->op);
    }
    free(ctxs);
    free(reqs);
    free(gs);
    return rc;
}

/* ---- HeadObject, DeleteObject ------------------------------------------------------------- */

int
s3_head_object(struct s3_client *c, const char *key, struct s3_object_info *info, bool *exists,
               struct jr_err *err)
{
    struct s3_http_request req;
    struct s3_op op;
    int rc = -1;

    *exists = false;
    if (check_key(c, key, "stat", err) < 0)
        return -1;
    op_init(&op, c, "HEAD", key, NULL);
    if (op_run(&op, &req, NULL, 0, err) < 0)
        goto out;
    if (req.resp.failure == S3_HTTP_OK && req.resp.status == 404) {
        rc = 0;
    } else if (!s3_http_response_ok(&req.resp)) {
        op_fail(&op, &req.resp, err, "stat '%s' in '%s'", key, c->description);
    } else {
        *exists = true;
        info->size = req.resp.content_length >= 0 ? req.resp.content_length : 0;
        info->mtime = req.resp.last_modified;
        memcpy(info->etag, req.resp.etag, sizeof(info->etag));
        rc = 0;
    }
    s3_http_response_release(&req.resp);
out:
    op_release(&op);
    return rc;
}

int
s3_delete_object(struct s3_client *c, const char *key, struct jr_err *err)
{
    struct s3_http_request req;
    struct s3_op op;
    int rc = -1;

    if (check_key(c, key, "delete", err) < 0)
        return -1;
    op_init(&op, c, "DELETE", key, NULL);
    if (op_run(&op, &req, NULL, 0, err) < 0)
        goto out;
    if (s3_http_response_ok(&req.resp) || is_missing(&req.resp))
        rc = 0;
    else
        op_fail(&op, &req.resp, err, "delete '%s' from '%s'", key, c->description);
    s3_http_response_release(&req.resp);
out:
    op_release(&op);
    return rc;
}

/* ---- DeleteObjects ------------------------------------------------------------------------ */

struct delete_batch {
    struct s3_client *c;
    const char *const *keys;
    bool *failed;
    size_t n;
    size_t nfailed;
};

static void
delete_on_error(void *arg, const char *key, const char *code, const char *message)
{
    struct delete_batch *b = arg;
    bool found = false;

    for (size_t i = 0; i < b->n; i++) {
        if (!b->failed[i] && strcmp(b->keys[i], key) == 0) {
            b->failed[i] = true;
            b->nfailed++;
            found = true;
        }
    }
    log_warn("cannot delete '%s' from '%s': %s%s%s", key, b->c->description, code,
             message[0] ? ": " : "", message);
    if (!found)
        log_warn("DeleteObjects reply names a key that was not asked for: '%s'", key);
}

/* One DeleteObjects request for keys[0..n). Returns -1 (err set) when the request failed. */
static int
delete_batch(struct s3_client *c, const char *const *keys, size_t n, bool *failed,
             struct jr_err *err)
{
    struct delete_batch b = {c, keys, failed, n, 0};
    struct s3_http_request req;
    struct buf body = BUF_INIT;
    struct s3_op op;
    size_t deleted = 0;
    size_t sent = 0;
    int rc = -1;

    buf_addstr(&body,
               "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>");
    for (size_t i = 0; i < n; i++) {
        size_t mark = body.len;

        if (check_key(c, keys[i], "delete", err) < 0) {
            log_warn("%s", err->msg);
            failed[i] = true;
            continue;
        }
        buf_addstr(&body, "<Object><Key>");
        if (s3_xml_escape(&body, keys[i], strlen(keys[i])) < 0) {
            buf_truncate(&body, mark);
            log_warn("cannot delete '%s' from '%s': key holds characters XML cannot carry", keys[i],
                     c->description);
            failed[i] = true;
            continue;
        }
        buf_addstr(&body, "</Key></Object>");
        sent++;
    }
    buf_addstr(&body, "</Delete>");
    if (!sent) {
        buf_release(&body);
        return 0;
    }

    op_init(&op, c, "POST", NULL, "delete");
    buf_reset(&op.what);
    buf_printf(&op.what, "POST '%s' (delete %zu keys)", c->description, sent);
    op.collect = true;
    op.content_type = "application/xml";
    if (md5_base64(body.data, body.len, op.content_md5, err) < 0 ||
        sha256_hex(body.data, body.len, op.payload_hash, err) < 0 ||
        op_run(&op, &req, body.data, body.len, err) < 0)
        goto out;
    if (!s3_http_response_ok(&req.resp)) {
        op_fail(&op, &req.resp, err, "delete %zu keys from '%s'", sent, c->description);
    } else if (s3_xml_parse_delete(op.reply.data, op.reply.len, delete_on_error, &b, &deleted,
                                   err) < 0) {
        jr_err_prefix(err, "cannot delete %zu keys from '%s'", sent, c->description);
    } else {
        rc = 0;
    }
    s3_http_response_release(&req.resp);
out:
    op_release(&op);
    buf_release(&body);
    return rc;
}

int
s3_delete_objects(struct s3_client *c, const char *const *keys, size_t n, bool *failed,
                  struct jr_err *err)
{
    size_t batches = 0, batch_failures = 0;

    for (size_t start = 0; start < n; start += S3_DELETE_MAX) {
        size_t count = n - start < S3_DELETE_MAX ? n - start : S3_DELETE_MAX;

        batches++;
        if (delete_batch(c, keys + start, count, failed + start, err) < 0) {
            batch_failures++;
            log_warn("%s", err->msg);
            for (size_t i = start; i < start + count; i++)
                failed[i] = true;
        }
    }
    return batches && batch_failures == batches ? -1 : 0;
}

/* ---- ListObjectsV2 ------------------------------------------------------------------------ */

int
s3_list_objects(struct s3_client *c, const char *prefix, s3_list_fn *fn, void *arg,
                struct jr_err *err)
{
    struct s3_xml_list page = S3_XML_LIST_INIT;
    struct buf q = BUF_INIT;
    char *token = NULL;
    int rc = -1;

    for (;;) {
        struct s3_http_request req;
        struct s3_op op;
        bool ok;

        buf_reset(&q);
        buf_addstr(&q, "list-type=2&encoding-type=url");
        if (prefix && *prefix) {
            buf_addstr(&q, "&prefix=");
            s3_sigv4_uri_encode(&q, prefix, strlen(prefix), false);
        }
        if (token) {
            buf_addstr(&q, "&continuation-token=");
            s3_sigv4_uri_encode(&q, token, strlen(token), false);
        }
        op_init(&op, c, "GET", NULL, buf_cstr(&q));
        buf_reset(&op.what);
        buf_printf(&op.what, "GET '%s' (list '%s')", c->description, prefix ? prefix : "");
        op.collect = true;
        if (op_run(&op, &req, NULL, 0, err) < 0) {
            op_release(&op);
            goto out;
        }
        ok = s3_http_response_ok(&req.resp);
        if (!ok)
            op_fail(&op, &req.resp, err, "list '%s' in '%s'", prefix ? prefix : "", c->description);
        else if (s3_xml_parse_list(op.reply.data, op.reply.len, &page, err) < 0) {
            jr_err_prefix(err, "cannot list '%s' in '%s'", prefix ? prefix : "", c->description);
            ok = false;
        }
        s3_http_response_release(&req.resp);
        op_release(&op);
        if (!ok)
            goto out;

        for (size_t i = 0; i < page.n; i++) {
            struct s3_object_info info;

            info.size = page.entries[i].size;
            info.mtime = page.entries[i].mtime;
            memcpy(info.etag, page.entries[i].etag, sizeof(info.etag));
            if (fn(arg, page.entries[i].key, &info) < 0) {
                jr_err_set(err, JR_E_STORAGE, "listing '%s' in '%s' stopped by its consumer",
                           prefix ? prefix : "", c->description);
                goto out;
            }
        }
        if (!page.truncated)
            break;
        if (token && strcmp(token, page.next_token) == 0) {
            jr_err_set(err, JR_E_STORAGE,
                       "cannot list '%s' in '%s': the server repeated a continuation token",
                       prefix ? prefix : "", c->description);
            goto out;
        }
        free(token);
        token = page.next_token;
        page.next_token = NULL;
        s3_xml_list_release(&page);
    }
    rc = 0;
out:
    s3_xml_list_release(&page);
    free(token);
    buf_release(&q);
    return rc;
}
