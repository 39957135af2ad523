/*
 * libcurl requests with retries. One code path prepares an attempt (xfer_begin) and judges its end
 * (xfer_end); s3_http_execute drives it with curl_easy_perform and sleeps between attempts,
 * s3_http_execute_many drives many of them on a multi handle and schedules the backoffs instead of
 * sleeping. Easy handles are pooled per client so blocking requests reuse connections.
 */
#include "s3/http.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <curl/curl.h>

#include "err.h"
#include "log.h"
#include "xalloc.h"

#include "banned.h"

enum {
    HTTP_POOL_KEEP = 16, /* idle easy handles kept per client */
    HTTP_POLL_MAX_MS = 1000,
};

struct s3_http {
    char *ca_bundle;
    long connect_timeout_s;
    long stall_timeout_s;
    unsigned max_attempts;
    pthread_mutex_t mu;
    CURL *idle[HTTP_POOL_KEEP];
    size_t nidle;
};

/* What to do after an attempt. */
enum xfer_next {
    XFER_DONE,
    XFER_RETRY, /* after x->delay_ms */
    XFER_AGAIN, /* a new request (again callback), at once */
};

/* One request in flight. */
struct xfer {
    struct s3_http *h;
    struct s3_http_request *req;
    CURL *eh;
    struct curl_slist *slist;
    struct s3_http_headers headers;
    size_t upload_off;
    bool aborted;
    bool header_done; /* the final header block of this attempt was seen */
    bool in_multi;
    bool stalled;       /* the progress callback gave up on a transfer that stopped moving */
    curl_off_t seen_dl; /* progress counters at the last movement */
    curl_off_t seen_ul;
    uint64_t last_move_ms;
    uint64_t delay_ms;
    uint64_t due_ms; /* execute_many: when a scheduled retry may start */
    char errbuf[CURL_ERROR_SIZE];
};

/* ---- pure helpers ------------------------------------------------------------------------- */

/* Service error codes the AWS SDKs treat as throttling or transient. */
static const char *const retry_codes[] = {
    "BandwidthLimitExceeded",
    "InternalError",
    "PriorRequestNotComplete",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "RequestThrottled",
    "RequestThrottledException",
    "RequestTimeout",
    "RequestTimeoutException",
    "ServiceUnavailable",
    "SlowDown",
    "ThrottledException",
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "TransactionInProgressException",
    "EC2ThrottledException",
};

bool
s3_http_retryable(enum s3_http_failure failure, long status, const char *code)
{
    switch (failure) {
    case S3_HTTP_OK:
        break;
    case S3_HTTP_E_CONNECT:
    case S3_HTTP_E_TIMEOUT:
    case S3_HTTP_E_BROKEN:
        return true;
    case S3_HTTP_E_ABORTED:
    case S3_HTTP_E_OTHER:
        return false;
    }
    if (code && *code) {
        for (size_t i = 0; i < JR_ARRAY_LEN(retry_codes); i++)
            if (strcmp(code, retry_codes[i]) == 0)
                return true;
    }
    return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

uint64_t
s3_http_backoff_ms(unsigned retry, uint64_t rnd)
{
    uint64_t ceiling = S3_HTTP_BACKOFF_CAP_MS;

    if (retry == 0)
        return 0;
    /* 100 ms * 2^18 is past the cap already; avoid shifting into overflow. */
    if (retry - 1 < 18) {
        uint64_t c = (uint64_t)S3_HTTP_BACKOFF_BASE_MS << (retry - 1);

        if (c < ceiling)
            ceiling = c;
    }
    return rnd % (ceiling + 1);
}

static uint64_t
random_u64(void)
{
    struct timespec ts;
    uint64_t r;

    if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
        return r;
    /* No entropy yet: the jitter only spreads load, any varying value does. */
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_nsec * 2654435761u ^ (uint64_t)ts.tv_sec;
}

static uint64_t
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
sleep_ms(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- headers ------------------------------------------------------------------------------ */

void
s3_http_headers_add(struct s3_http_headers *h, const char *name, const char *value)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->lines = xreallocarray(h->lines, h->cap, sizeof(*h->lines));
    }
    h->lines[h->n++] = xasprintf("%s: %s", name, value);
}

void
s3_http_headers_reset(struct s3_http_headers *h)
{
    for (size_t i = 0; i < h->n; i++)
        xfree_secret(h->lines[i]);
    h->n = 0;
}

void
s3_http_headers_release(struct s3_http_headers *h)
{
    s3_http_headers_reset(h);
    free(h->lines);
    h->lines = NULL;
    h->cap = 0;
}

/* ---- responses ---------------------------------------------------------------------------- */

static void
response_clear(struct s3_http_response *r)
{
    unsigned attempts = r->attempts;
    struct buf body = r->error_body;

    memset(r, 0, sizeof(*r));
    r->content_length = -1;
    r->attempts = attempts;
    buf_reset(&body);
    r->error_body = body;
}

void
s3_http_response_release(struct s3_http_response *resp)
{
    buf_release(&resp->error_body);
}

bool
s3_http_response_ok(const struct s3_http_response *resp)
{
    return resp->failure == S3_HTTP_OK && resp->status >= 200 && resp->status < 300 &&
           !resp->code[0];
}

static const char *
failure_text(enum s3_http_failure f)
{
    switch (f) {
    case S3_HTTP_OK:
        return "ok";
    case S3_HTTP_E_CONNECT:
        return "cannot connect";
    case S3_HTTP_E_TIMEOUT:
        return "timed out";
    case S3_HTTP_E_BROKEN:
        return "connection broken";
    case S3_HTTP_E_ABORTED:
        return "aborted";
    case S3_HTTP_E_OTHER:
        return "transfer failed";
    }
    return "transfer failed";
}

static void
describe(const struct s3_http_response *resp, struct buf *out, bool with_attempts)
{
    if (resp->failure != S3_HTTP_OK) {
        buf_printf(out, "%s: %s", failure_text(resp->failure), resp->errmsg);
    } else {
        buf_printf(out, "HTTP %ld", resp->status);
        if (resp->code[0])
            buf_printf(out, " %s", resp->code);
        else if (resp->reason[0])
            buf_printf(out, " %s", resp->reason);
        if (resp->message[0])
            buf_printf(out, ": %s", resp->message);
    }
    if (with_attempts && resp->attempts > 1)
        buf_printf(out, " (after %u attempts)", resp->attempts);
}

void
s3_http_response_describe(const struct s3_http_response *resp, struct buf *out)
{
    describe(resp, out, true);
}

/* ---- the client and its pool -------------------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void
curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct s3_http *
s3_http_open(const struct s3_http_config *cfg, struct jr_err *err)
{
    struct s3_http *h;

    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK)
        return jr_err_set(err, JR_E_INTERNAL, "cannot initialise libcurl: %s",
                          curl_easy_strerror(curl_init_rc)),
               NULL;
    h = xcalloc(1, sizeof(*h));
    h->ca_bundle = cfg->ca_bundle && *cfg->ca_bundle ? xstrdup(cfg->ca_bundle) : NULL;
    h->connect_timeout_s =
        cfg->connect_timeout_s ? cfg->connect_timeout_s : S3_HTTP_DEFAULT_CONNECT_TIMEOUT_S;
    h->stall_timeout_s =
        cfg->stall_timeout_s ? cfg->stall_timeout_s : S3_HTTP_DEFAULT_STALL_TIMEOUT_S;
    h->max_attempts = cfg->max_attempts ? cfg->max_attempts : S3_HTTP_DEFAULT_ATTEMPTS;
    if (pthread_mutex_init(&h->mu, NULL) != 0) {
        free(h->ca_bundle);
        free(h);
        return jr_err_set(err, JR_E_INTERNAL, "cannot initialise a mutex"), NULL;
    }
    return h;
}

void
s3_http_close(struct s3_http *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->nidle; i++)
        curl_easy_cleanup(h->idle[i]);
    pthread_mutex_destroy(&h->mu);
    free(h->ca_bundle);
    free(h);
}

unsigned
s3_http_max_attempts(const struct s3_http *h)
{
    return h->max_attempts;
}

static CURL *
pool_get(struct s3_http *h)
{
    CURL *eh = NULL;

    pthread_mutex_lock(&h->mu);
    if (h->nidle)
        eh = h->idle[--h->nidle];
    pthread_mutex_unlock(&h->mu);
    return eh ? eh : curl_easy_init();
}

static void
pool_put(struct s3_http *h, CURL *eh)
{
    if (!eh)
        return;
    pthread_mutex_lock(&h->mu);
    if (h->nidle < HTTP_POOL_KEEP) {
        h->idle[h->nidle++] = eh;
        eh = NULL;
    }
    pthread_mutex_unlock(&h->mu);
    if (eh)
        curl_easy_cleanup(eh);
}

/* ---- libcurl callbacks -------------------------------------------------------------------- */

static bool
status_ok(long status)
{
    return status >= 200 && status < 300;
}

/* Copy a header value (after "name:") without surrounding blanks and the line end. */
static void
header_value(const char *v, size_t len, char *out, size_t size)
{
    while (len && (*v == ' ' || *v == '\t'))
        v++, len--;
    while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
        len--;
    if (len >= size)
        len = size - 1;
    memcpy(out, v, len);
    out[len] = '\0';
}

static bool
header_is(const char *line, size_t len, const char *name, const char **value, size_t *vlen)
{
    size_t nlen = strlen(name);

    if (len <= nlen || line[nlen] != ':' || strncasecmp(line, name, nlen) != 0)
        return false;
    *value = line + nlen + 1;
    *vlen = len - nlen - 1;
    return true;
}

static size_t
on_header(char *line, size_t size, size_t nitems, void *ud)
{
    struct xfer *x = ud;
    struct s3_http_response *r = &x->req->resp;
    size_t len = size * nitems;
    const char *v;
    size_t vlen;
    char tmp[128];

    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new status line (after "100 Continue", too): forget the previous block. */
        const char *sp = memchr(line, ' ', len);

        r->status = 0;
        r->reason[0] = '\0';
        r->content_length = -1;
        r->etag[0] = '\0';
        r->last_modified = 0;
        x->header_done = false;
        if (sp) {
            size_t rest = len - (size_t)(sp + 1 - line);
            const char *sp2;

            header_value(sp + 1, rest, tmp, sizeof(tmp));
            r->status = strtol(tmp, NULL, 10);
            sp2 = strchr(tmp, ' ');
            if (sp2)
                header_value(sp2 + 1, strlen(sp2 + 1), r->reason, sizeof(r->reason));
        }
    } else if (header_is(line, len, "content-length", &v, &vlen)) {
        char *end;
        long long n;

        header_value(v, vlen, tmp, sizeof(tmp));
        n = strtoll(tmp, &end, 10);
        if (end != tmp && !*end && n >= 0)
            r->content_length = (int64_t)n;
    } else if (header_is(line, len, "etag", &v, &vlen)) {
        header_value(v, vlen, r->etag, sizeof(r->etag));
    } else if (header_is(line, len, "last-modified", &v, &vlen)) {
        time_t t;

        header_value(v, vlen, tmp, sizeof(tmp));
        t = curl_getdate(tmp, NULL);
        r->last_modified = t < 0 ? 0 : t;
    } else if ((len == 2 && line[0] == '\r') || (len == 1 && line[0] == '\n')) {
        if (r->status >= 200 && !x->header_done) {
            x->header_done = true;
            if (status_ok(r->status) && x->req->on_head && x->req->on_head(x->req->arg, r) < 0) {
                x->aborted = true;
                return 0;
            }
        }
    }
    return len;
}

static size_t
on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    struct s3_http_response *r = &x->req->resp;
    size_t len = size * nmemb;

    if (!status_ok(r->status)) {
        size_t room = S3_HTTP_ERROR_BODY_MAX - r->error_body.len;

        buf_add(&r->error_body, data, len < room ? len : room);
        return len;
    }
    if (x->req->on_data && len && x->req->on_data(x->req->arg, data, len) < 0) {
        x->aborted = true;
        return 0;
    }
    return len;
}

static size_t
on_read(char *out, size_t size, size_t nitems, void *ud)
{
    struct xfer *x = ud;
    size_t room = size * nitems;
    size_t left = x->req->body_len - x->upload_off;
    size_t n = left < room ? left : room;

    if (n)
        memcpy(out, (const char *)x->req->body + x->upload_off, n);
    x->upload_off += n;
    return n;
}

static int
on_seek(void *ud, curl_off_t offset, int origin)
{
    struct xfer *x = ud;

    if (origin != SEEK_SET || offset < 0 || (size_t)offset > x->req->body_len)
        return CURL_SEEKFUNC_FAIL;
    x->upload_off = (size_t)offset;
    return CURL_SEEKFUNC_OK;
}

/*
 * Stall detection. libcurl's LOW_SPEED_* options average the speed over several seconds, so a
 * transfer that stops after a burst is noticed late; this gives up exactly stall_timeout_s after
 * the last byte moved in either direction (or after the start, while waiting for a reply).
 */
static int
on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    struct xfer *x = ud;
    uint64_t now = now_ms();

    (void)dltotal, (void)ultotal;
    if (dlnow != x->seen_dl || ulnow != x->seen_ul) {
        x->seen_dl = dlnow;
        x->seen_ul = ulnow;
        x->last_move_ms = now;
        return 0;
    }
    if (now - x->last_move_ms >= (uint64_t)x->h->stall_timeout_s * 1000u) {
        x->stalled = true;
        return 1;
    }
    return 0;
}

/* ---- one attempt -------------------------------------------------------------------------- */

#define SETOPT(eh, opt, val)                                                                       \
    do {                                                                                           \
        if (curl_easy_setopt((eh), (opt), (val)) != CURLE_OK)                                      \
            return jr_err_set(err, JR_E_INTERNAL, "libcurl refused option %s", #opt);              \
    } while (0)

/* Prepare x->eh for the next attempt of x->req. */
static int
xfer_begin(struct xfer *x, struct jr_err *err)
{
    struct s3_http_request *req = x->req;
    struct s3_http *h = x->h;
    CURL *eh;

    if (!x->eh && !(x->eh = pool_get(h)))
        return jr_err_set(err, JR_E_INTERNAL, "cannot create a libcurl handle");
    eh = x->eh;
    curl_easy_reset(eh);
    req->resp.attempts++;
    x->upload_off = 0;
    x->aborted = false;
    x->header_done = false;
    x->stalled = false;
    x->seen_dl = x->seen_ul = 0;
    x->last_move_ms = now_ms();
    x->errbuf[0] = '\0';

    s3_http_headers_reset(&x->headers);
    if (req->sign && req->sign(req->arg, &x->headers, err) < 0)
        return -1;
    /* No "Expect: 100-continue" round trip, and no libcurl default content type on POST. */
    s3_http_headers_add(&x->headers, "Expect", "");
    curl_slist_free_all(x->slist);
    x->slist = NULL;
    for (size_t i = 0; i < x->headers.n; i++) {
        struct curl_slist *n = curl_slist_append(x->slist, x->headers.lines[i]);

        if (!n)
            return jr_err_set(err, JR_E_INTERNAL, "out of memory building headers");
        x->slist = n;
    }

    SETOPT(eh, CURLOPT_URL, req->url);
    SETOPT(eh, CURLOPT_PRIVATE, x);
    SETOPT(eh, CURLOPT_NOSIGNAL, 1L);
    SETOPT(eh, CURLOPT_ERRORBUFFER, x->errbuf);
    SETOPT(eh, CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(eh, CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(eh, CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(eh, CURLOPT_SSL_VERIFYHOST, 2L);
    if (h->ca_bundle)
        SETOPT(eh, CURLOPT_CAINFO, h->ca_bundle);
    SETOPT(eh, CURLOPT_CONNECTTIMEOUT, h->connect_timeout_s);
    SETOPT(eh, CURLOPT_NOPROGRESS, 0L);
    SETOPT(eh, CURLOPT_XFERINFOFUNCTION, on_progress);
    SETOPT(eh, CURLOPT_XFERINFODATA, x);
    SETOPT(eh, CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(eh, CURLOPT_HTTPHEADER, x->slist);
    SETOPT(eh, CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(eh, CURLOPT_HEADERDATA, x);
    SETOPT(eh, CURLOPT_WRITEFUNCTION, on_write);
    SETOPT(eh, CURLOPT_WRITEDATA, x);

    if (strcmp(req->method, "GET") == 0) {
        SETOPT(eh, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(req->method, "HEAD") == 0) {
        SETOPT(eh, CURLOPT_NOBODY, 1L);
    } else if (strcmp(req->method, "PUT") == 0 || strcmp(req->method, "POST") == 0) {
        SETOPT(eh, CURLOPT_UPLOAD, 1L);
        SETOPT(eh, CURLOPT_INFILESIZE_LARGE, (curl_off_t)req->body_len);
        SETOPT(eh, CURLOPT_READFUNCTION, on_read);
        SETOPT(eh, CURLOPT_READDATA, x);
        SETOPT(eh, CURLOPT_SEEKFUNCTION, on_seek);
        SETOPT(eh, CURLOPT_SEEKDATA, x);
        if (strcmp(req->method, "POST") == 0)
            SETOPT(eh, CURLOPT_CUSTOMREQUEST, "POST");
    } else {
        SETOPT(eh, CURLOPT_CUSTOMREQUEST, req->method);
    }
    return 0;
}

static enum s3_http_failure
classify(CURLcode rc, bool aborted, bool stalled)
{
    if (aborted)
        return S3_HTTP_E_ABORTED;
    if (stalled)
        return S3_HTTP_E_TIMEOUT;
    switch (rc) {
    case CURLE_OK:
        return S3_HTTP_OK;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
        return S3_HTTP_E_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        return S3_HTTP_E_TIMEOUT;
    case CURLE_PARTIAL_FILE:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR:
        return S3_HTTP_E_BROKEN;
    case CURLE_ABORTED_BY_CALLBACK:
        return S3_HTTP_E_ABORTED;
    default:
        return S3_HTTP_E_OTHER;
    }
}

/* Record how the attempt ended and decide what comes next. */
static enum xfer_next
xfer_end(struct xfer *x, CURLcode rc)
{
    struct s3_http_request *req = x->req;
    struct s3_http_response *r = &req->resp;
    long status = 0;
    unsigned max = x->h->max_attempts;
    struct buf why = BUF_INIT;

    r->failure = classify(rc, x->aborted, x->stalled);
    if (curl_easy_getinfo(x->eh, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK && status)
        r->status = status;
    if (x->stalled) {
        snprintf(r->errmsg, sizeof(r->errmsg), "no data moved for %ld s", x->h->stall_timeout_s);
    } else if (r->failure != S3_HTTP_OK) {
        const char *text = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);

        header_value(text, strlen(text), r->errmsg, sizeof(r->errmsg));
    } else if (req->inspect) {
        req->inspect(req->arg, r);
    }
    curl_slist_free_all(x->slist);
    x->slist = NULL;
    s3_http_headers_reset(&x->headers);

    if (r->attempts < max && s3_http_retryable(r->failure, r->status, r->code)) {
        x->delay_ms = s3_http_backoff_ms(r->attempts, random_u64());
        if (log_enabled(LOG_LEVEL_INFO)) {
            describe(r, &why, false);
            log_info("retrying %s in %llu ms (attempt %u/%u): %s", req->what ? req->what : "",
                     (unsigned long long)x->delay_ms, r->attempts + 1, max, buf_cstr(&why));
            buf_release(&why);
        }
        if (req->on_reset)
            req->on_reset(req->arg);
        response_clear(r);
        return XFER_RETRY;
    }
    if (req->again && req->again(req->arg, req)) {
        if (req->on_reset)
            req->on_reset(req->arg);
        response_clear(r);
        r->attempts = 0;
        return XFER_AGAIN;
    }
    return XFER_DONE;
}

static void
xfer_release(struct xfer *x)
{
    curl_slist_free_all(x->slist);
    x->slist = NULL;
    s3_http_headers_release(&x->headers);
    if (x->eh) {
        pool_put(x->h, x->eh);
        x->eh = NULL;
    }
}

static void
request_start(struct s3_http_request *req)
{
    buf_release(&req->resp.error_body);
    memset(&req->resp, 0, sizeof(req->resp));
    req->resp.content_length = -1;
}

int
s3_http_execute(struct s3_http *h, struct s3_http_request *req, struct jr_err *err)
{
    struct xfer x = {0};
    int rc = -1;

    x.h = h;
    x.req = req;
    request_start(req);
    for (;;) {
        enum xfer_next next;

        if (xfer_begin(&x, err) < 0)
            goto out;
        next = xfer_end(&x, curl_easy_perform(x.eh));
        if (next == XFER_DONE)
            break;
        if (next == XFER_RETRY)
            sleep_ms(x.delay_ms);
    }
    rc = 0;
out:
    xfer_release(&x);
    return rc;
}

/* ---- many at once ------------------------------------------------------------------------- */

static int
multi_start(CURLM *m, struct xfer *x, struct jr_err *err)
{
    if (xfer_begin(x, err) < 0)
        return -1;
    if (curl_multi_add_handle(m, x->eh) != CURLM_OK)
        return jr_err_set(err, JR_E_INTERNAL, "cannot add a libcurl transfer");
    x->in_multi = true;
    return 0;
}

int
s3_http_execute_many(struct s3_http *h, struct s3_http_request *const *reqs, size_t n,
                     unsigned parallel, struct jr_err *err)
{
    struct xfer *xs = NULL;
    size_t *waiting = NULL; /* indexes of requests waiting for a retry or a fresh start */
    size_t nwaiting = 0;
    size_t next = 0, active = 0, done = 0;
    CURLM *m = NULL;
    int rc = -1;

    if (!n)
        return 0;
    if (!parallel)
        parallel = 1;
    m = curl_multi_init();
    if (!m)
        return jr_err_set(err, JR_E_INTERNAL, "cannot create a libcurl multi handle");
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)parallel);
    xs = xcalloc(n, sizeof(*xs));
    waiting = xcalloc(n, sizeof(*waiting));
    for (size_t i = 0; i < n; i++) {
        xs[i].h = h;
        xs[i].req = reqs[i];
        request_start(reqs[i]);
    }

    while (done < n) {
        uint64_t now = now_ms();
        uint64_t wake = now + HTTP_POLL_MAX_MS;
        int running = 0;
        CURLMsg *msg;
        int left;

        /* Start what may start: due retries first, then new requests. */
        for (size_t w = 0; w < nwaiting && active < parallel;) {
            struct xfer *x = &xs[waiting[w]];

            if (x->due_ms > now) {
                if (x->due_ms < wake)
                    wake = x->due_ms;
                w++;
                continue;
            }
            waiting[w] = waiting[--nwaiting];
            if (multi_start(m, x, err) < 0)
                goto out;
            active++;
        }
        while (active < parallel && next < n) {
            struct xfer *x = &xs[next++];

            if (multi_start(m, x, err) < 0)
                goto out;
            active++;
        }

        if (curl_multi_perform(m, &running) != CURLM_OK) {
            jr_err_set(err, JR_E_INTERNAL, "libcurl multi transfer failed");
            goto out;
        }
        while ((msg = curl_multi_info_read(m, &left))) {
            struct xfer *x;
            char *priv = NULL;
            enum xfer_next nx;

            if (msg->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            x = (struct xfer *)(void *)priv;
            curl_multi_remove_handle(m, msg->easy_handle);
            x->in_multi = false;
            active--;
            nx = xfer_end(x, msg->data.result);
            if (nx == XFER_DONE) {
                xfer_release(x);
                done++;
            } else {
                x->due_ms = now_ms() + (nx == XFER_RETRY ? x->delay_ms : 0);
                waiting[nwaiting++] = (size_t)(x - xs);
            }
        }
        if (done == n)
            break;

        now = now_ms();
        for (size_t w = 0; w < nwaiting; w++)
            if (xs[waiting[w]].due_ms < wake)
                wake = xs[waiting[w]].due_ms;
        if (active == 0 && next == n) {
            /* Only backoffs pending. */
            if (wake > now)
                sleep_ms(wake - now);
        } else if (active > 0) {
            int timeout = wake > now ? (int)(wake - now) : 0;

            if (curl_multi_poll(m, NULL, 0, timeout, NULL) != CURLM_OK) {
                jr_err_set(err, JR_E_INTERNAL, "libcurl multi poll failed");
                goto out;
            }
        }
    }
    rc = 0;
out:
    for (size_t i = 0; i < n; i++) {
        if (xs[i].in_multi)
            curl_multi_remove_handle(m, xs[i].eh);
        xfer_release(&xs[i]);
    }
    curl_multi_cleanup(m);
    free(waiting);
    free(xs);
    return rc;
}
