/*
 * Tests of the libcurl layer (src/s3/http.c): the retry decision table and the backoff bounds
 * (pure functions), then the retry engine end to end against a scripted HTTP server on a loopback
 * port inside this process (one thread, one connection at a time): retries on 503 and on a body
 * cut short, retries exhausted, errors not retried, reset callbacks, aborts from callbacks, capped
 * error bodies, uploads resent from memory, and the multi-handle batch with a re-issued request.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "buf.h"
#include "err.h"
#include "s3/http.h"
#include "s3/xml.h"
#include "xalloc.h"

#include "banned.h"

/* ---- pure functions ---- */

static void
test_retry_table(void **state)
{
    static const struct {
        enum s3_http_failure f;
        long status;
        const char *code;
        bool retry;
    } cases[] = {
        {S3_HTTP_E_CONNECT, 0, "", true},
        {S3_HTTP_E_TIMEOUT, 0, "", true},
        {S3_HTTP_E_BROKEN, 0, "", true},
        {S3_HTTP_E_BROKEN, 200, "", true},
        {S3_HTTP_E_ABORTED, 200, "", false},
        {S3_HTTP_E_ABORTED, 503, "SlowDown", false},
        {S3_HTTP_E_OTHER, 0, "", false},
        {S3_HTTP_OK, 200, "", false},
        {S3_HTTP_OK, 204, NULL, false},
        {S3_HTTP_OK, 500, "", true},
        {S3_HTTP_OK, 502, "", true},
        {S3_HTTP_OK, 503, "", true},
        {S3_HTTP_OK, 504, "", true},
        {S3_HTTP_OK, 429, "", true},
        {S3_HTTP_OK, 501, "NotImplemented", false},
        {S3_HTTP_OK, 505, "", false},
        {S3_HTTP_OK, 400, "", false},
        {S3_HTTP_OK, 403, "AccessDenied", false},
        {S3_HTTP_OK, 403, "SignatureDoesNotMatch", false},
        {S3_HTTP_OK, 403, "RequestTimeTooSkewed", false},
        {S3_HTTP_OK, 404, "NoSuchKey", false},
        {S3_HTTP_OK, 405, "MethodNotAllowed", false},
        {S3_HTTP_OK, 400, "RequestTimeout", true},
        {S3_HTTP_OK, 400, "RequestTimeoutException", true},
        {S3_HTTP_OK, 503, "SlowDown", true},
        {S3_HTTP_OK, 400, "Throttling", true},
        {S3_HTTP_OK, 400, "ThrottlingException", true},
        {S3_HTTP_OK, 403, "RequestThrottled", true},
        {S3_HTTP_OK, 429, "TooManyRequestsException", true},
        {S3_HTTP_OK, 400, "ProvisionedThroughputExceededException", true},
        {S3_HTTP_OK, 503, "RequestLimitExceeded", true},
        {S3_HTTP_OK, 509, "BandwidthLimitExceeded", true},
        {S3_HTTP_OK, 400, "PriorRequestNotComplete", true},
        {S3_HTTP_OK, 500, "InternalError", true},
        {S3_HTTP_OK, 200, "InternalError", true}, /* CompleteMultipartUpload's error inside 200 */
        {S3_HTTP_OK, 200, "SlowDown", true},
        {S3_HTTP_OK, 503, "ServiceUnavailable", true},
        {S3_HTTP_OK, 200, "InvalidPart", false},
        {S3_HTTP_OK, 400, "slowdown", false}, /* codes are case-sensitive */
    };

    (void)state;
    for (size_t i = 0; i < JR_ARRAY_LEN(cases); i++) {
        bool got = s3_http_retryable(cases[i].f, cases[i].status, cases[i].code);

        if (got != cases[i].retry)
            fail_msg("case %zu (failure %d, status %ld, code '%s'): got %d", i, (int)cases[i].f,
                     cases[i].status, cases[i].code ? cases[i].code : "(null)", got);
    }
}

static void
test_backoff_bounds(void **state)
{
    static const uint64_t ceilings[] = {0,    100,  200,   400,   800,  1600,
                                        3200, 6400, 12800, 20000, 20000};
    uint64_t sum = 0;

    (void)state;
    for (unsigned r = 0; r < JR_ARRAY_LEN(ceilings); r++) {
        assert_int_equal(s3_http_backoff_ms(r, 0), 0);
        assert_int_equal(s3_http_backoff_ms(r, ceilings[r]), ceilings[r]);
        assert_int_equal(s3_http_backoff_ms(r, ceilings[r] + 1), 0);
        assert_true(s3_http_backoff_ms(r, UINT64_MAX) <= ceilings[r]);
    }
    /* no overflow for absurd retry numbers */
    assert_true(s3_http_backoff_ms(64, UINT64_MAX) <= S3_HTTP_BACKOFF_CAP_MS);
    assert_true(s3_http_backoff_ms(1000000, 123456789) <= S3_HTTP_BACKOFF_CAP_MS);
    assert_true(s3_http_backoff_ms(~0u, 987654321) <= S3_HTTP_BACKOFF_CAP_MS);
    /* full jitter: values spread over the whole range */
    for (uint64_t rnd = 0; rnd < 4010; rnd++)
        sum += s3_http_backoff_ms(3, rnd * 7919);
    assert_true(sum / 4010 > 150 && sum / 4010 < 250);
}

static void
test_describe(void **state)
{
    struct s3_http_response r = {0};
    struct buf b = BUF_INIT;

    (void)state;
    r.failure = S3_HTTP_OK;
    r.status = 403;
    snprintf(r.code, sizeof(r.code), "AccessDenied");
    snprintf(r.message, sizeof(r.message), "Access Denied");
    r.attempts = 1;
    s3_http_response_describe(&r, &b);
    assert_string_equal(buf_cstr(&b), "HTTP 403 AccessDenied: Access Denied");

    buf_reset(&b);
    r.code[0] = r.message[0] = '\0';
    snprintf(r.reason, sizeof(r.reason), "Not Found");
    r.status = 404;
    s3_http_response_describe(&r, &b);
    assert_string_equal(buf_cstr(&b), "HTTP 404 Not Found");

    buf_reset(&b);
    r.failure = S3_HTTP_E_TIMEOUT;
    r.attempts = 3;
    snprintf(r.errmsg, sizeof(r.errmsg), "Operation too slow");
    s3_http_response_describe(&r, &b);
    assert_string_equal(buf_cstr(&b), "timed out: Operation too slow (after 3 attempts)");
    buf_release(&b);
}

/* ---- a scripted HTTP server ---- */

struct server {
    int fd;
    int port;
    pthread_t thread;
    pthread_mutex_t mu;
    char log[256][160]; /* "METHOD PATH" per request */
    size_t nlog;
    char last_headers[2048];
    size_t last_body_len;
};

static struct server srv;

/* How many requests had this exact "METHOD PATH" line. */
static size_t
server_count(const char *line)
{
    size_t n = 0;

    pthread_mutex_lock(&srv.mu);
    for (size_t i = 0; i < srv.nlog && i < JR_ARRAY_LEN(srv.log); i++)
        if (strcmp(srv.log[i], line) == 0)
            n++;
    pthread_mutex_unlock(&srv.mu);
    return n;
}

static void
send_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

        if (n <= 0)
            return;
        p += n;
        len -= (size_t)n;
    }
}

static void
reply(int fd, int status, const char *reason, const char *body, size_t len)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\nETag: \"etag-%d\"\r\n"
                     "Last-Modified: Wed, 12 Oct 2009 17:50:00 GMT\r\nConnection: close\r\n\r\n",
                     status, reason, len, status);

    send_all(fd, head, (size_t)n);
    send_all(fd, body, len);
}

static void
reply_error(int fd, int status, const char *code)
{
    char body[256];
    int n = snprintf(body, sizeof(body),
                     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
                     "<Message>scripted %s</Message></Error>",
                     code, code);

    reply(fd, status, "Scripted", body, (size_t)n);
}

static void
serve_one(int fd)
{
    char req[8192];
    size_t len = 0;
    char method[16] = "", path[128] = "";
    char *end;
    size_t body_len = 0, have;
    const char *cl;
    size_t hits;
    char line[160];

    while (len < sizeof(req) - 1) {
        ssize_t n = recv(fd, req + len, sizeof(req) - 1 - len, 0);

        if (n <= 0)
            return;
        len += (size_t)n;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    end = strstr(req, "\r\n\r\n");
    if (!end || sscanf(req, "%15s %127s", method, path) != 2)
        return;
    cl = strcasestr(req, "\r\ncontent-length:");
    if (cl && cl < end)
        body_len = (size_t)strtoul(cl + 17, NULL, 10);
    have = len - (size_t)(end + 4 - req);
    while (have < body_len) {
        char sink[65536];
        ssize_t n = recv(fd, sink, sizeof(sink), 0);

        if (n <= 0)
            return;
        have += (size_t)n;
    }
    snprintf(line, sizeof(line), "%s %s", method, path);
    pthread_mutex_lock(&srv.mu);
    if (srv.nlog < JR_ARRAY_LEN(srv.log))
        snprintf(srv.log[srv.nlog], sizeof(srv.log[0]), "%s", line);
    srv.nlog++;
    snprintf(srv.last_headers, sizeof(srv.last_headers), "%.*s", (int)(end - req), req);
    srv.last_body_len = body_len;
    pthread_mutex_unlock(&srv.mu);
    hits = server_count(line);

    if (strncmp(path, "/ok/", 4) == 0) {
        reply(fd, 200, "OK", path + 4, strlen(path + 4));
    } else if (strncmp(path, "/slowdown-once/", 15) == 0) {
        if (hits == 1)
            reply_error(fd, 503, "SlowDown");
        else
            reply(fd, 200, "OK", path + 15, strlen(path + 15));
    } else if (strncmp(path, "/err500/", 8) == 0) {
        reply_error(fd, 500, "InternalError");
    } else if (strncmp(path, "/denied/", 8) == 0) {
        reply_error(fd, 403, "AccessDenied");
    } else if (strncmp(path, "/missing/", 9) == 0) {
        reply_error(fd, 404, "NoSuchKey");
    } else if (strncmp(path, "/broken-once/", 13) == 0) {
        const char *body = "0123456789abcdefghij";

        if (hits == 1) {
            const char *head = "HTTP/1.1 200 OK\r\nContent-Length: 20\r\nConnection: close\r\n\r\n";

            send_all(fd, head, strlen(head));
            send_all(fd, body, 10);
        } else {
            reply(fd, 200, "OK", body, 20);
        }
    } else if (strncmp(path, "/nothing-once/", 14) == 0) {
        if (hits > 1)
            reply(fd, 200, "OK", "fine", 4);
    } else if (strcmp(path, "/big") == 0 || strcmp(path, "/bigerr") == 0) {
        char *body = xmalloc(100000);

        memset(body, 'x', 100000);
        reply(fd, path[4] ? 404 : 200, "Big", body, 100000);
        free(body);
    } else {
        reply_error(fd, 400, "UnknownScriptPath");
    }
}

static void *
server_main(void *arg)
{
    (void)arg;
    for (;;) {
        int fd = accept(srv.fd, NULL, NULL);
        struct timeval tv = {5, 0};

        if (fd < 0)
            return NULL;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        serve_one(fd);
        shutdown(fd, SHUT_RDWR);
        close(fd);
    }
}

static int
server_start(void **state)
{
    struct sockaddr_in sa = {0};
    socklen_t sl = sizeof(sa);
    int one = 1;

    (void)state;
    memset(&srv, 0, sizeof(srv));
    pthread_mutex_init(&srv.mu, NULL);
    srv.fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(srv.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(srv.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(srv.fd, 64) < 0 ||
        getsockname(srv.fd, (struct sockaddr *)&sa, &sl) < 0)
        return -1;
    srv.port = ntohs(sa.sin_port);
    return pthread_create(&srv.thread, NULL, server_main, NULL) == 0 ? 0 : -1;
}

static int
server_stop(void **state)
{
    (void)state;
    shutdown(srv.fd, SHUT_RDWR);
    close(srv.fd);
    pthread_join(srv.thread, NULL);
    pthread_mutex_destroy(&srv.mu);
    return 0;
}

/* ---- requests against it ---- */

struct sink {
    struct buf body;
    int resets;
    int heads;
    int abort_after; /* abort when this many bytes arrived (0: never) */
    int64_t max_len; /* abort in on_head when Content-Length is larger (0: never) */
};

static int
sink_data(void *arg, const void *data, size_t len)
{
    struct sink *s = arg;

    buf_add(&s->body, data, len);
    return s->abort_after && s->body.len >= (size_t)s->abort_after ? -1 : 0;
}

static void
sink_reset(void *arg)
{
    struct sink *s = arg;

    buf_reset(&s->body);
    s->resets++;
}

static int
sink_head(void *arg, const struct s3_http_response *r)
{
    struct sink *s = arg;

    s->heads++;
    return s->max_len && r->content_length > s->max_len ? -1 : 0;
}

static void
sink_inspect(void *arg, struct s3_http_response *r)
{
    struct s3_xml_error e;

    (void)arg;
    if ((r->status < 200 || r->status >= 300) &&
        s3_xml_parse_error(r->error_body.data, r->error_body.len, &e) == 0) {
        snprintf(r->code, sizeof(r->code), "%s", e.code);
        snprintf(r->message, sizeof(r->message), "%s", e.message);
    }
}

static int
sign_test(void *arg, struct s3_http_headers *h, struct jr_err *err)
{
    (void)arg, (void)err;
    s3_http_headers_add(h, "X-Test", "signed");
    return 0;
}

static struct s3_http *
client(unsigned attempts)
{
    struct s3_http_config cfg = {0};
    struct jr_err err = JR_ERR_INIT;
    struct s3_http *h;

    cfg.max_attempts = attempts;
    cfg.connect_timeout_s = 5;
    cfg.stall_timeout_s = 5;
    h = s3_http_open(&cfg, &err);
    assert_non_null(h);
    return h;
}

static void
run(struct s3_http *h, struct s3_http_request *req, struct sink *s, const char *method,
    const char *path, struct buf *url)
{
    struct jr_err err = JR_ERR_INIT;

    buf_reset(url);
    buf_printf(url, "http://127.0.0.1:%d%s", srv.port, path);
    memset(req, 0, sizeof(*req));
    req->method = method;
    req->url = buf_cstr(url);
    req->what = path;
    req->sign = sign_test;
    req->on_head = sink_head;
    req->on_data = sink_data;
    req->on_reset = sink_reset;
    req->inspect = sink_inspect;
    req->arg = s;
    assert_int_equal(s3_http_execute(h, req, &err), 0);
}

static void
test_retry_then_success(void **state)
{
    struct s3_http *h = client(3);
    struct s3_http_request req;
    struct sink s = {0};
    struct buf url = BUF_INIT;

    (void)state;
    run(h, &req, &s, "GET", "/slowdown-once/payload", &url);
    assert_true(s3_http_response_ok(&req.resp));
    assert_int_equal(req.resp.attempts, 2);
    assert_int_equal(req.resp.status, 200);
    assert_int_equal(req.resp.content_length, 7);
    assert_string_equal(req.resp.etag, "\"etag-200\"");
    assert_int_equal(req.resp.last_modified, 1255369800);
    assert_int_equal(s.resets, 1);
    assert_string_equal(buf_cstr(&s.body), "payload");
    assert_int_equal(server_count("GET /slowdown-once/payload"), 2);
    /* the sign callback's headers went out; no Expect header */
    assert_non_null(strstr(srv.last_headers, "X-Test: signed"));
    assert_null(strcasestr(srv.last_headers, "Expect:"));
    s3_http_response_release(&req.resp);
    buf_release(&s.body);
    buf_release(&url);
    s3_http_close(h);
}

static void
test_retries_exhausted(void **state)
{
    struct s3_http *h = client(3);
    struct s3_http_request req;
    struct sink s = {0};
    struct buf url = BUF_INIT, why = BUF_INIT;

    (void)state;
    run(h, &req, &s, "GET", "/err500/x", &url);
    assert_false(s3_http_response_ok(&req.resp));
    assert_int_equal(req.resp.failure, S3_HTTP_OK);
    assert_int_equal(req.resp.status, 500);
    assert_int_equal(req.resp.attempts, 3);
    assert_string_equal(req.resp.code, "InternalError");
    assert_int_equal(server_count("GET /err500/x"), 3);
    s3_http_response_describe(&req.resp, &why);
    assert_string_equal(buf_cstr(&why),
                        "HTTP 500 InternalError: scripted InternalError (after 3 attempts)");
    s3_http_response_release(&req.resp);

    /* AWS_MAX_ATTEMPTS=1: no retry at all */
    s3_http_close(h);
    h = client(1);
    run(h, &req, &s, "GET", "/err500/y", &url);
    assert_int_equal(req.resp.attempts, 1);
    assert_int_equal(server_count("GET /err500/y"), 1);
    s3_http_response_release(&req.resp);
    buf_release(&why);
    buf_release(&s.body);
    buf_release(&url);
    s3_http_close(h);
}

static void
test_not_retried(void **state)
{
    struct s3_http *h = client(3);
    struct s3_http_request req;
    struct sink s = {0};
    struct buf url = BUF_INIT;

    (void)state;
    run(h, &req, &s, "GET", "/denied/x", &url);
    assert_int_equal(req.resp.status, 403);
    assert_string_equal(req.resp.code, "AccessDenied");
    assert_int_equal(req.resp.attempts, 1);
    assert_int_equal(s.heads, 0); /* on_head is for 2xx replies only */
    assert_int_equal(s.body.len, 0);
    s3_http_response_release(&req.resp);

    run(h, &req, &s, "DELETE", "/missing/x", &url);
    assert_int_equal(req.resp.status, 404);
    assert_string_equal(req.resp.code, "NoSuchKey");
    assert_int_equal(req.resp.attempts, 1);
    assert_int_equal(server_count("DELETE /missing/x"), 1);
    s3_http_response_release(&req.resp);
    buf_release(&s.body);
    buf_release(&url);
    s3_http_close(h);
}

static void
test_broken_body_retried(void **state)
{
    struct s3_http *h = client(3);
    struct s3_http_request req;
    struct sink s = {0};
    struct buf url = BUF_INIT;

    (void)state;
    run(h, &req, &s, "GET", "/broken-once/x", &url);
    assert_true(s3_http_response_ok(&req.resp));
    assert_int_equal(req.resp.attempts, 2);
    assert_int_equal(s.resets, 1);
    assert_string_equal(buf_cstr(&s.body), "0123456789abcdefghij");
    s3_http_response_release(&req.resp);

    run(h, &req, &s, "GET", "/nothing-once/x", &url);
    assert_true(s3_http_response_ok(&req.resp));
    assert_int_equal(req.resp.attempts, 2);
    assert_string_equal(buf_cstr(&s.body), "fine");
    s3_http_response_release(&req.resp);
    buf_release(&s.body);
    buf_release(&url);
    s3_http_close(h);
}

static void
test_connect_failure(void **state)
{
    struct s3_http *h = client(2);
    struct s3_http_request req = {0};
    struct jr_err err = JR_ERR_INIT;
    struct buf why = BUF_INIT;

    (void)state;
    req.method = "GET";
    req.url = "http://127.0.0.1:1/x";
    req.what = "GET 'x'";
    assert_int_equal(s3_http_execute(h, &req, &err), 0);
    assert_int_equal(req.resp.failure, S3_HTTP_E_CONNECT);
    assert_int_equal(req.resp.attempts, 2);
    s3_http_response_describe(&req.resp, &why);
    assert_true(strncmp(buf_cstr(&why), "cannot connect: ", 16) == 0);
    assert_non_null(strstr(buf_cstr(&why), "(after 2 attempts)"));
    s3_http_response_release(&req.resp);
    buf_release(&why);
    s3_http_close(h);
}

static void
test_callback_aborts(void **state)
{
    struct s3_http *h = client(3);
    struct s3_http_request req;
    struct sink s = {0};
    struct buf url = BUF_INIT;

    (void)state;
    s.abort_after = 1000;
    run(h, &req, &s, "GET", "/big", &url);
    assert_int_equal(req.resp.failure, S3_HTTP_E_ABORTED);
    assert_int_equal(req.resp.attempts, 1);
    assert_int_equal(server_count("GET /big"), 1);
    s3_http_response_release(&req.resp);

    buf_reset(&s.body);
    s.abort_after = 0;
    s.max_len = 99999;
    run(h, &req, &s, "GET", "/big", &url);
    assert_int_equal(req.resp.failure, S3_HTTP_E_ABORTED);
    assert_int_equal(req.resp.content_length, 100000);
    assert_int_equal(s.body.len, 0); /* refused before the body */
    assert_int_equal(req.resp.attempts, 1);
    s3_http_response_release(&req.resp);
    buf_release(&s.body);
    buf_release(&url);
    s3_http_close(h);
}

static void
test_error_body_capped(void **state)
{
    struct s3_http *h = client(1);
    struct s3_http_request req;
    struct sink s = {0};
    struct buf url = BUF_INIT;

    (void)state;
    run(h, &req, &s, "GET", "/bigerr", &url);
    assert_int_equal(req.resp.status, 404);
    assert_int_equal(req.resp.error_body.len, S3_HTTP_ERROR_BODY_MAX);
    assert_int_equal(s.body.len, 0);
    assert_string_equal(req.resp.code, ""); /* not an S3 error document */
    s3_http_response_release(&req.resp);
    buf_release(&url);
    s3_http_close(h);
}

static void
test_upload_resent(void **state)
{
    struct s3_http *h = client(3);
    struct s3_http_request req;
    struct sink s = {0};
    struct buf url = BUF_INIT;
    char *body = xmalloc(300000);

    (void)state;
    memset(body, 'b', 300000);
    buf_printf(&url, "http://127.0.0.1:%d/slowdown-once/put", srv.port);
    memset(&req, 0, sizeof(req));
    req.method = "PUT";
    req.url = buf_cstr(&url);
    req.body = body;
    req.body_len = 300000;
    req.inspect = sink_inspect;
    req.on_data = sink_data;
    req.arg = &s;
    {
        struct jr_err err = JR_ERR_INIT;

        assert_int_equal(s3_http_execute(h, &req, &err), 0);
    }
    assert_true(s3_http_response_ok(&req.resp));
    assert_int_equal(req.resp.attempts, 2);
    assert_int_equal(srv.last_body_len, 300000);
    assert_null(strcasestr(srv.last_headers, "Expect:")); /* no 100-continue round trip */
    assert_non_null(strcasestr(srv.last_headers, "Content-Length: 300000"));
    assert_int_equal(server_count("PUT /slowdown-once/put"), 2);
    s3_http_response_release(&req.resp);
    buf_release(&s.body);
    buf_release(&url);
    free(body);
    s3_http_close(h);
}

/* ---- many at once ---- */

struct many_item {
    struct sink sink;
    struct buf url;
    bool switched;
};

static bool
again_to_ok(void *arg, struct s3_http_request *req)
{
    struct many_item *it = (struct many_item *)arg;

    if (req->resp.status != 404 || it->switched)
        return false;
    it->switched = true;
    buf_reset(&it->url);
    buf_printf(&it->url, "http://127.0.0.1:%d/ok/fallback", srv.port);
    req->url = buf_cstr(&it->url);
    return true;
}

static void
test_many(void **state)
{
    enum { N = 12 };
    struct s3_http *h = client(3);
    struct many_item items[N];
    struct s3_http_request reqs[N];
    struct s3_http_request *ptrs[N];
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    memset(items, 0, sizeof(items));
    for (int i = 0; i < N; i++) {
        const char *kind = i % 4 == 1 ? "slowdown-once" : i % 4 == 2 ? "missing" : "ok";

        buf_printf(&items[i].url, "http://127.0.0.1:%d/%s/item%d", srv.port, kind, i);
        memset(&reqs[i], 0, sizeof(reqs[i]));
        reqs[i].method = "GET";
        reqs[i].url = buf_cstr(&items[i].url);
        reqs[i].what = "many";
        reqs[i].on_data = sink_data;
        reqs[i].on_reset = sink_reset;
        reqs[i].inspect = sink_inspect;
        reqs[i].arg = &items[i];
        if (i % 4 == 2)
            reqs[i].again = again_to_ok;
        ptrs[i] = &reqs[i];
    }
    /* the first member of many_item is the sink the data callbacks use */
    assert_int_equal(s3_http_execute_many(h, ptrs, N, 3, &err), 0);
    for (int i = 0; i < N; i++) {
        char want[32];

        assert_true(s3_http_response_ok(&reqs[i].resp));
        if (i % 4 == 2) {
            assert_true(items[i].switched);
            assert_string_equal(buf_cstr(&items[i].sink.body), "fallback");
            assert_int_equal(reqs[i].resp.attempts, 1);
        } else {
            snprintf(want, sizeof(want), "item%d", i);
            assert_string_equal(buf_cstr(&items[i].sink.body), want);
            assert_int_equal(reqs[i].resp.attempts, i % 4 == 1 ? 2 : 1);
        }
        s3_http_response_release(&reqs[i].resp);
        buf_release(&items[i].sink.body);
        buf_release(&items[i].url);
    }
    assert_int_equal(server_count("GET /ok/fallback"), N / 4);
    s3_http_close(h);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retry_table),
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_retry_then_success),
        cmocka_unit_test(test_retries_exhausted),
        cmocka_unit_test(test_not_retried),
        cmocka_unit_test(test_broken_body_retried),
        cmocka_unit_test(test_connect_failure),
        cmocka_unit_test(test_callback_aborts),
        cmocka_unit_test(test_error_body_capped),
        cmocka_unit_test(test_upload_resent),
        cmocka_unit_test(test_many),
    };

    return cmocka_run_group_tests_name("s3_http", tests, server_start, server_stop);
}
