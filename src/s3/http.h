/*
 * A thin libcurl layer for the S3 client: one request (or a batch run concurrently) with
 * connection reuse, timeouts, and retries in the manner of the AWS SDKs' standard retry mode
 * (exponential backoff with full jitter on 5xx, throttling and transient service codes, timeouts
 * and broken connections). It knows HTTP, not S3: the caller signs each attempt through a
 * callback and tells it the service error code of a reply (inspect callback); the retry table of
 * AWS error codes is the one piece of AWS knowledge here.
 *
 * Request bodies come from memory, so a retry resends them; response bodies of 2xx replies go to
 * a callback, and the reset callback runs before every retry so the receiver can start over.
 * Bodies of other replies are kept (capped) for the caller's error message. TLS peer verification
 * is always on; only the CA bundle is configurable. Proxies come from the environment (libcurl's
 * http_proxy/https_proxy/no_proxy handling). Nothing here logs bodies or header values: retries
 * are logged at info level with the request's `what` text only.
 *
 * Thread safety: a struct s3_http may be used by several threads at once (easy handles come from a
 * mutex-protected pool); each request belongs to one call.
 */
#ifndef JR_S3_HTTP_H
#define JR_S3_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"

struct jr_err;
struct s3_http;
struct s3_http_request;

enum {
    S3_HTTP_DEFAULT_ATTEMPTS = 3,
    S3_HTTP_DEFAULT_CONNECT_TIMEOUT_S = 10,
    S3_HTTP_DEFAULT_STALL_TIMEOUT_S = 60,
    S3_HTTP_BACKOFF_BASE_MS = 100,
    S3_HTTP_BACKOFF_CAP_MS = 20000,
    S3_HTTP_ERROR_BODY_MAX = 64 * 1024, /* bytes of a non-2xx body kept for the message */
};

struct s3_http_config {
    const char *ca_bundle;      /* CA file; NULL for the system default */
    unsigned connect_timeout_s; /* 0: S3_HTTP_DEFAULT_CONNECT_TIMEOUT_S */
    unsigned stall_timeout_s;   /* abort a transfer that moves nothing this long; 0: default */
    unsigned max_attempts;      /* attempts per request; 0: S3_HTTP_DEFAULT_ATTEMPTS */
};

/* Request headers for one attempt, as "Name: value" lines. */
struct s3_http_headers {
    char **lines;
    size_t n;
    size_t cap;
};

#define S3_HTTP_HEADERS_INIT                                                                       \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void s3_http_headers_add(struct s3_http_headers *h, const char *name, const char *value);
/* Drop all lines (wiping them: they may hold a security token), keeping the allocation. */
void s3_http_headers_reset(struct s3_http_headers *h);
void s3_http_headers_release(struct s3_http_headers *h);

/* How an attempt ended, before HTTP status is considered. */
enum s3_http_failure {
    S3_HTTP_OK,        /* a complete response arrived (any status) */
    S3_HTTP_E_CONNECT, /* could not connect: refused, unreachable, name not resolved */
    S3_HTTP_E_TIMEOUT, /* connect timeout, or the transfer stalled */
    S3_HTTP_E_BROKEN,  /* connection reset or closed early, send/receive error, partial body */
    S3_HTTP_E_ABORTED, /* a callback returned -1 */
    S3_HTTP_E_OTHER,   /* anything else (TLS verification, bad URL, ...): never retried */
};

/* The outcome of a request (of its last attempt). */
struct s3_http_response {
    enum s3_http_failure failure;
    long status;            /* HTTP status, 0 when no response arrived */
    char reason[64];        /* reason phrase of the status line, may be "" */
    int64_t content_length; /* -1 when absent */
    char etag[80];          /* "" when absent */
    time_t last_modified;   /* 0 when absent */
    char code[64];          /* service error code (set by the inspect callback), or "" */
    char message[256];      /* service error message, or "" */
    char errmsg[256];       /* for failure != S3_HTTP_OK: libcurl's description */
    unsigned attempts;      /* attempts made */
    struct buf error_body;  /* the body of a non-2xx reply, at most S3_HTTP_ERROR_BODY_MAX bytes */
};

/* Add the headers of one attempt (Host, x-amz-date, Authorization...). Called before each. */
typedef int s3_http_sign_fn(void *arg, struct s3_http_headers *headers, struct jr_err *err);
/* The headers of a 2xx reply arrived (status, content_length, etag filled). -1 aborts. */
typedef int s3_http_head_fn(void *arg, const struct s3_http_response *resp);
/* Bytes of a 2xx body, in order. -1 aborts the request (no retry). */
typedef int s3_http_data_fn(void *arg, const void *data, size_t len);
/* A retry (or a re-issued request) is about to start: forget the body received so far. */
typedef void s3_http_reset_fn(void *arg);
/* An attempt got a complete reply: set resp->code/message when it carries a service error
 * (from resp->error_body, or from a 2xx body the caller collected). Drives the retry decision. */
typedef void s3_http_inspect_fn(void *arg, struct s3_http_response *resp);
/* s3_http_execute_many only: the request finished; return true after changing req (e.g. its
 * url) to issue it again with a fresh attempt count (the reset callback runs first). */
typedef bool s3_http_again_fn(void *arg, struct s3_http_request *req);

struct s3_http_request {
    /* in */
    const char *method; /* GET, HEAD, PUT, POST, DELETE */
    const char *url;    /* complete, already encoded */
    const char *what;   /* subject for log lines, e.g. "GET 'a/b.csv'"; no secrets */
    const void *body;   /* request body (PUT, POST), borrowed; resent on retry */
    size_t body_len;
    s3_http_sign_fn *sign;       /* may be NULL */
    s3_http_head_fn *on_head;    /* may be NULL */
    s3_http_data_fn *on_data;    /* may be NULL: 2xx bodies are discarded */
    s3_http_reset_fn *on_reset;  /* may be NULL */
    s3_http_inspect_fn *inspect; /* may be NULL */
    s3_http_again_fn *again;     /* may be NULL */
    void *arg;                   /* for the callbacks */
    /* out */
    struct s3_http_response resp;
};

/* Create a client (initialises libcurl once per process). Returns NULL and sets err on failure. */
struct s3_http *s3_http_open(const struct s3_http_config *cfg, struct jr_err *err);

/* Close a client and its pooled connections. NULL is a no-op. */
void s3_http_close(struct s3_http *h);

/* The configured attempts per request (>= 1). */
unsigned s3_http_max_attempts(const struct s3_http *h);

/*
 * Run one request with retries. Returns 0 once the request is finished, whatever the outcome:
 * req->resp says how (failure, status, code). Returns -1 (err set) only when it could not run
 * (the sign callback failed, libcurl could not be set up). Release req->resp afterwards.
 */
int s3_http_execute(struct s3_http *h, struct s3_http_request *req, struct jr_err *err);

/*
 * Run n requests, at most `parallel` (>= 1) at once on one libcurl multi handle, each with its
 * own retries and backoff. Same return convention as s3_http_execute, per request.
 */
int s3_http_execute_many(struct s3_http *h, struct s3_http_request *const *reqs, size_t n,
                         unsigned parallel, struct jr_err *err);

/* Free what a response holds (its error body). */
void s3_http_response_release(struct s3_http_response *resp);

/* True when the status is 2xx and no service error code was found. */
bool s3_http_response_ok(const struct s3_http_response *resp);

/*
 * Describe a failed response for a message: "HTTP 403 AccessDenied: Access Denied",
 * "HTTP 404 Not Found", or "connection failed: <libcurl text> (after 3 attempts)". Appends to out.
 */
void s3_http_response_describe(const struct s3_http_response *resp, struct buf *out);

/*
 * The retry decision (pure): may an attempt that ended this way be retried? True for transport
 * failures CONNECT, TIMEOUT and BROKEN; HTTP 429, 500, 502, 503, 504; and the throttling and
 * transient service codes (SlowDown, Throttling, RequestTimeout, InternalError, ...), whatever
 * the status (S3 can report an error inside a 200 reply).
 */
bool s3_http_retryable(enum s3_http_failure failure, long status, const char *code);

/*
 * Backoff before retry number `retry` (1 for the first retry), full jitter (pure): a value in
 * [0, min(S3_HTTP_BACKOFF_CAP_MS, S3_HTTP_BACKOFF_BASE_MS * 2^(retry-1))] chosen by rnd.
 */
uint64_t s3_http_backoff_ms(unsigned retry, uint64_t rnd);

#endif
