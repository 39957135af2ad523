/*
 * AWS Signature Version 4 for S3 on libcrypto (SHA-256, HMAC-SHA256). Builds the canonical
 * request, the string to sign, the signing key and the signature from plain values; it never
 * reads the clock, the environment or the network. The HTTP client (s3.c) decides which headers
 * to send; this module signs exactly those.
 */
#include "s3/sigv4.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "buf.h"
#include "err.h"
#include "xalloc.h"

#include "banned.h"

#define SIGV4_ALGORITHM  "AWS4-HMAC-SHA256"
#define SIGV4_TERMINATOR "aws4_request"
#define SIGV4_KEY_LEN    32

/* A header ready for canonical order: lower-cased name, raw value, original position. */
struct canon_header {
    char *name;
    const char *value;
    size_t pos;
};

/* A query parameter, both halves already URI-encoded (so sorting compares encoded bytes). */
struct query_param {
    char *name;
    char *value;
};

struct query_list {
    struct query_param *v;
    size_t n;
    size_t cap;
};

static const char hex_lower[] = "0123456789abcdef";
static const char hex_upper[] = "0123456789ABCDEF";

static void
hex_encode(const unsigned char *in, size_t len, char *out)
{
    size_t i;

    for (i = 0; i < len; i++) {
        out[2 * i] = hex_lower[in[i] >> 4];
        out[2 * i + 1] = hex_lower[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

static int
sha256(const void *data, size_t len, unsigned char md[SIGV4_KEY_LEN])
{
    unsigned int mdlen = 0;

    if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != SIGV4_KEY_LEN)
        return -1; /* LCOV_EXCL_LINE uncovered - libcrypto failure, not provoked in tests */
    return 0;
}

static int
hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
            unsigned char out[SIGV4_KEY_LEN])
{
    size_t outlen = 0;

    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, keylen, data, len, out, SIGV4_KEY_LEN,
                   &outlen) ||
        outlen != SIGV4_KEY_LEN)
        return -1; /* LCOV_EXCL_LINE uncovered - libcrypto failure, not provoked in tests */
    return 0;
}

/* Format t as "YYYYMMDDTHHMMSSZ"; false when t has no 4-digit UTC year. */
static bool
amz_date_fmt(time_t t, char out[17])
{
    struct tm tm;
    int n;

    if (!gmtime_r(&t, &tm) || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900)
        return false;
    n = snprintf(out, 17, "%04d%02d%02dT%02d%02d%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return n == 16;
}

void
s3_sigv4_amz_date(time_t t, char out[17])
{
    bool ok = amz_date_fmt(t, out);

    assert(ok);
    (void)ok;
}

static bool
is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

void
s3_sigv4_uri_encode(struct buf *out, const char *s, size_t len, bool keep_slash)
{
    size_t i;

    /* no buf_grow() up front: on a never-used buffer it leaves the contents unterminated */
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (is_unreserved(c) || (c == '/' && keep_slash)) {
            buf_addch(out, (char)c);
        } else {
            char esc[3] = {'%', hex_upper[c >> 4], hex_upper[c & 0x0f]};

            buf_add(out, esc, sizeof(esc));
        }
    }
}

int
s3_sigv4_sha256_hex(const void *data, size_t len, char out[65], struct jr_err *err)
{
    unsigned char md[SIGV4_KEY_LEN];

    if (sha256(data, len, md) < 0) /* LCOV_EXCL_START uncovered - libcrypto failure */
        return jr_err_set(err, JR_E_INTERNAL, "cannot compute SHA-256: libcrypto failed");
    /* LCOV_EXCL_STOP */
    hex_encode(md, sizeof(md), out);
    return 0;
}

/* RFC 9110 token characters: what a header name may contain. */
static bool
is_token_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bool
is_header_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* SigV4 "trimall": drop leading and trailing whitespace and turn each inner run of whitespace
 * into one space. A folded value ("a\n  b") is a run of whitespace too, so it becomes "a b". */
static void
add_trimmed(struct buf *out, const char *v)
{
    bool pending = false;
    bool any = false;

    for (; *v; v++) {
        if (is_header_space(*v)) {
            pending = any;
            continue;
        }
        if (pending)
            buf_addch(out, ' ');
        buf_addch(out, *v);
        pending = false;
        any = true;
    }
}

static int
canon_header_cmp(const void *a, const void *b)
{
    const struct canon_header *x = a;
    const struct canon_header *y = b;
    int c = strcmp(x->name, y->name);

    if (c)
        return c;
    /* qsort is not stable: the position keeps repeated headers in the order they were given */
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static void
canon_headers_free(struct canon_header *h, size_t n)
{
    size_t i;

    if (!h)
        return;
    for (i = 0; i < n; i++)
        free(h[i].name);
    free(h);
}

/* Append the canonical headers block ("name:value\n" per name, sorted) to block and the signed
 * header names ("a;b;c") to signed_headers. */
static int
canon_headers(const struct s3_sigv4_request *req, struct buf *block, struct buf *signed_headers,
              struct jr_err *err)
{
    struct canon_header *h = NULL;
    size_t i, j, n = req->nheaders;
    bool have_host = false;
    int ret = -1;

    if (n && !req->headers) {
        jr_err_set(err, JR_E_INTERNAL, "cannot sign request: header list is NULL");
        goto out;
    }
    h = xcalloc(n, sizeof(*h));
    for (i = 0; i < n; i++) {
        const char *name = req->headers[i].name;
        size_t k, len;

        if (!name || !*name || !req->headers[i].value) {
            jr_err_set(err, JR_E_INTERNAL, "cannot sign request: header %zu has no name or value",
                       i);
            goto out;
        }
        len = strlen(name);
        h[i].name = xmalloc(len + 1);
        for (k = 0; k < len; k++) {
            unsigned char c = (unsigned char)name[k];

            if (!is_token_char(c)) {
                jr_err_set(err, JR_E_INTERNAL,
                           "cannot sign request: invalid character in header name '%s'", name);
                goto out;
            }
            h[i].name[k] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
        }
        h[i].name[len] = '\0';
        h[i].value = req->headers[i].value;
        h[i].pos = i;
        if (strcmp(h[i].name, "host") == 0)
            have_host = true;
    }
    if (!have_host) {
        jr_err_set(err, JR_E_INTERNAL, "cannot sign request: no host header");
        goto out;
    }
    qsort(h, n, sizeof(*h), canon_header_cmp);

    for (i = 0; i < n; i = j) {
        buf_addstr(block, h[i].name);
        buf_addch(block, ':');
        for (j = i; j < n && strcmp(h[j].name, h[i].name) == 0; j++) {
            if (j > i)
                buf_addch(block, ',');
            add_trimmed(block, h[j].value);
        }
        buf_addch(block, '\n');
        if (i > 0)
            buf_addch(signed_headers, ';');
        buf_addstr(signed_headers, h[i].name);
    }
    ret = 0;
out:
    canon_headers_free(h, n);
    return ret;
}

static int
hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Decode s[0..len) (offset base within the whole query, for the message) into out. */
static int
query_decode(struct buf *out, const char *s, size_t len, size_t base, struct jr_err *err)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi = i + 2 < len ? hex_digit(s[i + 1]) : -1;
            int lo = i + 2 < len ? hex_digit(s[i + 2]) : -1;

            if (hi < 0 || lo < 0)
                return jr_err_set(err, JR_E_INTERNAL,
                                  "cannot sign request: malformed %%-escape at offset %zu of the "
                                  "query",
                                  base + i);
            buf_addch(out, (char)(hi << 4 | lo));
            i += 2;
        } else if (s[i] == '+') {
            return jr_err_set(err, JR_E_INTERNAL,
                              "cannot sign request: literal '+' at offset %zu of the query "
                              "(send %%2B or %%20)",
                              base + i);
        } else {
            buf_addch(out, s[i]);
        }
    }
    return 0;
}

/* Add one parameter given raw (decoded): it is encoded here. */
static void
query_list_add(struct query_list *q, const char *name, size_t nlen, const char *value, size_t vlen)
{
    struct buf b = BUF_INIT;

    if (q->n == q->cap) {
        q->cap = q->cap ? 2 * q->cap : 16;
        q->v = xreallocarray(q->v, q->cap, sizeof(*q->v));
    }
    s3_sigv4_uri_encode(&b, name, nlen, false);
    q->v[q->n].name = buf_detach(&b, NULL);
    s3_sigv4_uri_encode(&b, value, vlen, false);
    q->v[q->n].value = buf_detach(&b, NULL);
    q->n++;
}

static void
query_list_add_str(struct query_list *q, const char *name, const char *value)
{
    query_list_add(q, name, strlen(name), value, strlen(value));
}

/* Split a query string as sent into parameters; "name" without '=' is "name=". */
static int
query_list_parse(struct query_list *q, const char *query, struct jr_err *err)
{
    struct buf name = BUF_INIT, value = BUF_INIT;
    const char *p = query;
    int ret = -1;

    while (p && *p) {
        size_t seg = strcspn(p, "&");
        const char *eq = memchr(p, '=', seg);
        size_t nlen = eq ? (size_t)(eq - p) : seg;

        if (seg) {
            buf_reset(&name);
            buf_reset(&value);
            if (query_decode(&name, p, nlen, (size_t)(p - query), err) < 0)
                goto out;
            if (eq &&
                query_decode(&value, eq + 1, seg - nlen - 1, (size_t)(eq + 1 - query), err) < 0)
                goto out;
            query_list_add(q, buf_cstr(&name), name.len, buf_cstr(&value), value.len);
        }
        p += seg;
        if (*p == '&')
            p++;
    }
    ret = 0;
out:
    /* the decoded values may include a session token (X-Amz-Security-Token) */
    buf_release_wipe(&name);
    buf_release_wipe(&value);
    return ret;
}

static int
query_param_cmp(const void *a, const void *b)
{
    const struct query_param *x = a;
    const struct query_param *y = b;
    int c = strcmp(x->name, y->name);

    return c ? c : strcmp(x->value, y->value);
}

/* Sort and append "n1=v1&n2=v2" to out. */
static void
query_list_emit(struct query_list *q, struct buf *out)
{
    size_t i;

    if (q->n)
        qsort(q->v, q->n, sizeof(*q->v), query_param_cmp);
    for (i = 0; i < q->n; i++) {
        if (i)
            buf_addch(out, '&');
        buf_addstr(out, q->v[i].name);
        buf_addch(out, '=');
        buf_addstr(out, q->v[i].value);
    }
}

static void
query_list_release(struct query_list *q)
{
    size_t i;

    for (i = 0; i < q->n; i++) {
        free(q->v[i].name);
        xfree_secret(q->v[i].value);
    }
    free(q->v);
    q->v = NULL;
    q->n = q->cap = 0;
}

static int
check_request(const struct s3_sigv4_request *req, struct jr_err *err)
{
    if (!req->method || !*req->method)
        return jr_err_set(err, JR_E_INTERNAL, "cannot sign request: no method");
    if (!req->path || req->path[0] != '/')
        return jr_err_set(err, JR_E_INTERNAL, "cannot sign request: path must start with '/'");
    if (!req->payload_hash || !*req->payload_hash)
        return jr_err_set(err, JR_E_INTERNAL, "cannot sign request: no payload hash");
    return 0;
}

static void
assemble_canonical(const struct s3_sigv4_request *req, const struct buf *query,
                   const struct buf *headers, const struct buf *signed_headers, struct buf *out)
{
    buf_addstr(out, req->method);
    buf_addch(out, '\n');
    s3_sigv4_uri_encode(out, req->path, strlen(req->path), true);
    buf_addch(out, '\n');
    buf_add(out, buf_cstr(query), query->len);
    buf_addch(out, '\n');
    buf_add(out, buf_cstr(headers), headers->len);
    buf_addch(out, '\n');
    buf_add(out, buf_cstr(signed_headers), signed_headers->len);
    buf_addch(out, '\n');
    buf_addstr(out, req->payload_hash);
}

/* The canonical request of a header-signed request (its own query only). */
static int
canonical_request(const struct s3_sigv4_request *req, struct buf *out, struct buf *signed_headers,
                  struct jr_err *err)
{
    struct query_list q = {NULL, 0, 0};
    struct buf query = BUF_INIT, headers = BUF_INIT, sh = BUF_INIT;
    int ret = -1;

    if (check_request(req, err) < 0 || canon_headers(req, &headers, &sh, err) < 0 ||
        query_list_parse(&q, req->query, err) < 0)
        goto out;
    query_list_emit(&q, &query);
    assemble_canonical(req, &query, &headers, &sh, out);
    if (signed_headers)
        buf_add(signed_headers, buf_cstr(&sh), sh.len);
    ret = 0;
out:
    query_list_release(&q);
    buf_release(&query);
    buf_release_wipe(&headers); /* may hold x-amz-security-token */
    buf_release(&sh);
    return ret;
}

int
s3_sigv4_canonical_request(const struct s3_sigv4_request *req, struct buf *out,
                           struct buf *signed_headers, struct jr_err *err)
{
    return canonical_request(req, out, signed_headers, err);
}

/* "yyyymmdd/region/service/aws4_request" */
static void
add_scope(struct buf *out, const char amz_date[17], const char *region, const char *service)
{
    buf_add(out, amz_date, 8);
    buf_printf(out, "/%s/%s/" SIGV4_TERMINATOR, region, service);
}

static int
string_to_sign(const char *creq, size_t creq_len, const char amz_date[17], const char *region,
               const char *service, struct buf *out)
{
    unsigned char md[SIGV4_KEY_LEN];
    char hex[2 * SIGV4_KEY_LEN + 1];

    if (sha256(creq, creq_len, md) < 0)
        return -1; /* LCOV_EXCL_LINE uncovered - libcrypto failure, not provoked in tests */
    hex_encode(md, sizeof(md), hex);
    buf_addstr(out, SIGV4_ALGORITHM "\n");
    buf_addstr(out, amz_date);
    buf_addch(out, '\n');
    add_scope(out, amz_date, region, service);
    buf_addch(out, '\n');
    buf_addstr(out, hex);
    return 0;
}

void
s3_sigv4_string_to_sign(const char *canonical_request, time_t t, const char *region,
                        const char *service, struct buf *out)
{
    char amz_date[17];

    s3_sigv4_amz_date(t, amz_date);
    if (string_to_sign(canonical_request, strlen(canonical_request), amz_date, region, service,
                       out) < 0) {
        /* LCOV_EXCL_START uncovered - only a libcrypto without SHA-256 gets here: like
         * out-of-memory, not an error to handle */
        fputs("jobreport: fatal: libcrypto cannot compute SHA-256\n", stderr);
        abort();
        /* LCOV_EXCL_STOP */
    }
}

static int
check_scope(const char *region, const char *service, struct jr_err *err)
{
    if (!region || !*region || strchr(region, '/'))
        return jr_err_set(err, JR_E_INTERNAL, "cannot sign request: invalid region");
    if (!service || !*service || strchr(service, '/'))
        return jr_err_set(err, JR_E_INTERNAL, "cannot sign request: invalid service");
    return 0;
}

static int
signing_key(const char *secret, const char amz_date[17], const char *region, const char *service,
            unsigned char key[SIGV4_KEY_LEN], struct jr_err *err)
{
    unsigned char k_date[SIGV4_KEY_LEN], k_region[SIGV4_KEY_LEN], k_service[SIGV4_KEY_LEN];
    size_t slen = strlen(secret);
    char *k_secret = xmalloc(4 + slen);
    int ret = -1;

    memcpy(k_secret, "AWS4", 4);
    memcpy(k_secret + 4, secret, slen);
    if (hmac_sha256(k_secret, 4 + slen, amz_date, 8, k_date) < 0 ||
        hmac_sha256(k_date, sizeof(k_date), region, strlen(region), k_region) < 0 ||
        hmac_sha256(k_region, sizeof(k_region), service, strlen(service), k_service) < 0 ||
        hmac_sha256(k_service, sizeof(k_service), SIGV4_TERMINATOR, strlen(SIGV4_TERMINATOR), key) <
            0) {
        /* LCOV_EXCL_START uncovered - libcrypto failure, not provoked in tests */
        xwipe(key, SIGV4_KEY_LEN);
        jr_err_set(err, JR_E_INTERNAL, "cannot derive signing key: libcrypto HMAC-SHA256 failed");
        goto out;
        /* LCOV_EXCL_STOP */
    }
    ret = 0;
out:
    xwipe(k_secret, 4 + slen);
    free(k_secret);
    xwipe(k_date, sizeof(k_date));
    xwipe(k_region, sizeof(k_region));
    xwipe(k_service, sizeof(k_service));
    return ret;
}

static int
check_time(time_t t, char amz_date[17], struct jr_err *err)
{
    if (!amz_date_fmt(t, amz_date))
        return jr_err_set(err, JR_E_INTERNAL, "cannot sign request: time out of range");
    return 0;
}

int
s3_sigv4_signing_key(const char *secret_access_key, time_t t, const char *region,
                     const char *service, unsigned char key[32], struct jr_err *err)
{
    char amz_date[17];

    if (!secret_access_key || !*secret_access_key)
        return jr_err_set(err, JR_E_INTERNAL, "cannot derive signing key: no secret access key");
    if (check_scope(region, service, err) < 0 || check_time(t, amz_date, err) < 0)
        return -1;
    return signing_key(secret_access_key, amz_date, region, service, key, err);
}

static int
check_credentials(const struct s3_sigv4_credentials *cred, struct jr_err *err)
{
    if (!cred->access_key_id || !*cred->access_key_id || strchr(cred->access_key_id, '/'))
        return jr_err_set(err, JR_E_INTERNAL, "cannot sign request: invalid access key id");
    if (!cred->secret_access_key || !*cred->secret_access_key)
        return jr_err_set(err, JR_E_INTERNAL, "cannot sign request: no secret access key");
    return 0;
}

/* Append the string to sign of a canonical request to sts and write its hex signature; the
 * derived key is wiped here. */
static int
sign_canonical(const struct s3_sigv4_credentials *cred, const char amz_date[17], const char *region,
               const char *service, const struct buf *creq, struct buf *sts,
               char hex[2 * SIGV4_KEY_LEN + 1], struct jr_err *err)
{
    unsigned char key[SIGV4_KEY_LEN], mac[SIGV4_KEY_LEN];
    int ret = -1;

    if (string_to_sign(buf_cstr(creq), creq->len, amz_date, region, service, sts) < 0 ||
        signing_key(cred->secret_access_key, amz_date, region, service, key, err) < 0 ||
        hmac_sha256(key, sizeof(key), buf_cstr(sts), sts->len, mac) < 0) {
        /* LCOV_EXCL_START uncovered - libcrypto failure, not provoked in tests */
        jr_err_set(err, JR_E_INTERNAL, "cannot sign request: libcrypto SHA-256/HMAC failed");
        goto out;
        /* LCOV_EXCL_STOP */
    }
    hex_encode(mac, sizeof(mac), hex);
    ret = 0;
out:
    xwipe(key, sizeof(key));
    return ret;
}

/* Does the request carry exactly one header called name (any case) whose trimmed value is want?
 * Returns the number of such headers found through *count. */
static bool
header_is(const struct s3_sigv4_request *req, const char *name, const char *want, size_t *count)
{
    struct buf v = BUF_INIT;
    bool match = false;
    size_t i;

    *count = 0;
    for (i = 0; i < req->nheaders; i++) {
        if (strcasecmp(req->headers[i].name, name) != 0)
            continue;
        ++*count;
        buf_reset(&v);
        add_trimmed(&v, req->headers[i].value);
        match = strcmp(buf_cstr(&v), want) == 0;
    }
    buf_release_wipe(&v);
    return *count == 1 && match;
}

/* The checks that turn a request S3 would refuse with a bare 403 into a clear local error. */
static int
check_signed_headers(const struct s3_sigv4_request *req, const struct s3_sigv4_credentials *cred,
                     const char *service, const char amz_date[17], struct jr_err *err)
{
    size_t n;

    if (!header_is(req, "x-amz-date", amz_date, &n))
        return jr_err_set(err, JR_E_INTERNAL,
                          n == 1 ? "cannot sign request: x-amz-date header differs from the "
                                   "signing time '%s'"
                                 : "cannot sign request: need exactly one x-amz-date header ('%s')",
                          amz_date);
    if (cred->session_token && !header_is(req, "x-amz-security-token", cred->session_token, &n))
        return jr_err_set(err, JR_E_INTERNAL,
                          "cannot sign request: session token set but the request does not carry "
                          "it in exactly one x-amz-security-token header");
    if (strcmp(service, "s3") == 0 &&
        !header_is(req, "x-amz-content-sha256", req->payload_hash, &n))
        return jr_err_set(err, JR_E_INTERNAL,
                          "cannot sign request: need exactly one x-amz-content-sha256 header equal "
                          "to the payload hash");
    return 0;
}

int
s3_sigv4_sign(const struct s3_sigv4_request *req, const struct s3_sigv4_credentials *cred,
              const char *region, const char *service, time_t t, struct buf *authorization,
              char *signature_hex, struct jr_err *err)
{
    struct buf creq = BUF_INIT, sh = BUF_INIT, sts = BUF_INIT;
    char amz_date[17], hex[2 * SIGV4_KEY_LEN + 1];
    int ret = -1;

    if (check_credentials(cred, err) < 0 || check_scope(region, service, err) < 0 ||
        check_time(t, amz_date, err) < 0 || canonical_request(req, &creq, &sh, err) < 0 ||
        check_signed_headers(req, cred, service, amz_date, err) < 0 ||
        sign_canonical(cred, amz_date, region, service, &creq, &sts, hex, err) < 0)
        goto out;

    buf_addstr(authorization, SIGV4_ALGORITHM " Credential=");
    buf_addstr(authorization, cred->access_key_id);
    buf_addch(authorization, '/');
    add_scope(authorization, amz_date, region, service);
    buf_addstr(authorization, ", SignedHeaders=");
    buf_add(authorization, buf_cstr(&sh), sh.len);
    buf_addstr(authorization, ", Signature=");
    buf_addstr(authorization, hex);
    if (signature_hex)
        memcpy(signature_hex, hex, sizeof(hex));
    ret = 0;
out:
    buf_release_wipe(&creq); /* may hold the session token */
    buf_release(&sh);
    buf_release(&sts);
    return ret;
}

int
s3_sigv4_presign_detail(const struct s3_sigv4_request *req, const struct s3_sigv4_credentials *cred,
                        const char *region, const char *service, time_t t, unsigned expires_s,
                        struct buf *query_out, struct buf *canonical_out,
                        struct buf *string_to_sign_out, struct jr_err *err)
{
    struct query_list q = {NULL, 0, 0};
    struct buf query = BUF_INIT, headers = BUF_INIT, sh = BUF_INIT, creq = BUF_INIT;
    struct buf sts = BUF_INIT, tmp = BUF_INIT;
    char amz_date[17], hex[2 * SIGV4_KEY_LEN + 1];
    int ret = -1;

    if (check_credentials(cred, err) < 0 || check_scope(region, service, err) < 0 ||
        check_time(t, amz_date, err) < 0 || check_request(req, err) < 0)
        goto out;
    if (expires_s < 1 || expires_s > S3_SIGV4_EXPIRES_MAX) {
        jr_err_set(err, JR_E_INTERNAL, "cannot presign request: expiry %u s is not in 1..%u",
                   expires_s, S3_SIGV4_EXPIRES_MAX);
        goto out;
    }
    if (canon_headers(req, &headers, &sh, err) < 0 || query_list_parse(&q, req->query, err) < 0)
        goto out;

    /* the X-Amz-* parameters are part of what is signed, all but the signature itself */
    query_list_add_str(&q, "X-Amz-Algorithm", SIGV4_ALGORITHM);
    buf_addstr(&tmp, cred->access_key_id);
    buf_addch(&tmp, '/');
    add_scope(&tmp, amz_date, region, service);
    query_list_add_str(&q, "X-Amz-Credential", buf_cstr(&tmp));
    query_list_add_str(&q, "X-Amz-Date", amz_date);
    buf_reset(&tmp);
    buf_printf(&tmp, "%u", expires_s);
    query_list_add_str(&q, "X-Amz-Expires", buf_cstr(&tmp));
    if (cred->session_token)
        query_list_add_str(&q, "X-Amz-Security-Token", cred->session_token);
    query_list_add_str(&q, "X-Amz-SignedHeaders", buf_cstr(&sh));
    query_list_emit(&q, &query);

    assemble_canonical(req, &query, &headers, &sh, &creq);
    if (sign_canonical(cred, amz_date, region, service, &creq, &sts, hex, err) < 0)
        goto out; /* LCOV_EXCL_LINE uncovered - libcrypto failure, not provoked in tests */

    buf_add(query_out, buf_cstr(&query), query.len);
    buf_addstr(query_out, "&X-Amz-Signature=");
    buf_addstr(query_out, hex);
    if (canonical_out)
        buf_add(canonical_out, buf_cstr(&creq), creq.len);
    if (string_to_sign_out)
        buf_add(string_to_sign_out, buf_cstr(&sts), sts.len);
    ret = 0;
out:
    query_list_release(&q);
    /* query, headers and canonical request may hold the session token */
    buf_release_wipe(&query);
    buf_release_wipe(&headers);
    buf_release_wipe(&creq);
    buf_release(&sh);
    buf_release(&sts);
    buf_release(&tmp);
    return ret;
}

int
s3_sigv4_presign(const struct s3_sigv4_request *req, const struct s3_sigv4_credentials *cred,
                 const char *region, const char *service, time_t t, unsigned expires_s,
                 struct buf *query_out, struct jr_err *err)
{
    struct s3_sigv4_request r = *req;

    r.payload_hash = S3_SIGV4_UNSIGNED_PAYLOAD;
    return s3_sigv4_presign_detail(&r, cred, region, service, t, expires_s, query_out, NULL, NULL,
                                   err);
}
