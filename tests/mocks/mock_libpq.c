/*
 * Scripted libpq (see mock_libpq.h). Each __wrap_PQ* function replaces the PQ* call of the same
 * name in the objects linked with --wrap: the ones that talk to the server take their outcome from
 * cmocka's queues, the others read the mock objects. The libpq types are completed here (libpq-fe.h
 * leaves them opaque), and every wrapper is declared with the type of the function it replaces, so
 * a signature that drifts from the installed libpq fails the build.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "mock_libpq.h"

#include "banned.h"

__typeof__(PQconnectdbParams) __wrap_PQconnectdbParams;
__typeof__(PQstatus) __wrap_PQstatus;
__typeof__(PQerrorMessage) __wrap_PQerrorMessage;
__typeof__(PQfinish) __wrap_PQfinish;
__typeof__(PQsetNoticeProcessor) __wrap_PQsetNoticeProcessor;
__typeof__(PQsendQuery) __wrap_PQsendQuery;
__typeof__(PQsendQueryParams) __wrap_PQsendQueryParams;
__typeof__(PQisBusy) __wrap_PQisBusy;
__typeof__(PQconsumeInput) __wrap_PQconsumeInput;
__typeof__(PQsocket) __wrap_PQsocket;
__typeof__(PQgetResult) __wrap_PQgetResult;
__typeof__(PQresultStatus) __wrap_PQresultStatus;
__typeof__(PQresultErrorField) __wrap_PQresultErrorField;
__typeof__(PQresultErrorMessage) __wrap_PQresultErrorMessage;
__typeof__(PQntuples) __wrap_PQntuples;
__typeof__(PQgetvalue) __wrap_PQgetvalue;
__typeof__(PQgetisnull) __wrap_PQgetisnull;
__typeof__(PQclear) __wrap_PQclear;
__typeof__(PQgetCopyData) __wrap_PQgetCopyData;
__typeof__(PQsetnonblocking) __wrap_PQsetnonblocking;
__typeof__(PQfreemem) __wrap_PQfreemem;
__typeof__(PQgetCancel) __wrap_PQgetCancel;
__typeof__(PQcancel) __wrap_PQcancel;
__typeof__(PQfreeCancel) __wrap_PQfreeCancel;
__typeof__(PQescapeLiteral) __wrap_PQescapeLiteral;

struct pg_conn {
    ConnStatusType status;
    char *errmsg; /* PQerrorMessage: "" or a message ending in '\n' */
};

struct pg_result {
    ExecStatusType status;
    char *sqlstate; /* NULL when none */
    char *message;  /* "" when none */
    int nrows, ncols;
    char **cells; /* row-major; NULL for SQL NULL */
};

struct pg_cancel {
    int unused;
};

/* What PQisBusy and PQgetCopyData's 0 mean for the socket: data comes, or nothing comes. */
enum { ARRIVES = 1, STALLS = 2 };

enum kind { K_CONN = 1, K_RESULT, K_MEM, K_CANCEL };

#define MAX_LIVE   256
#define MAX_SENT   16
#define MAX_PARAMS 8
#define MAX_KEYS   8

struct sent {
    char *sql;
    bool with_params;
    int nparams;
    char *param[MAX_PARAMS]; /* NULL for SQL NULL */
};

static struct {
    int sock[2]; /* [0] is PQsocket; a byte written to [1] makes it readable */

    struct {
        void *p;
        enum kind kind;
        bool out; /* handed to pg.c (a scripted result is not, until PQgetResult) */
    } live[MAX_LIVE];

    size_t nlive;
    struct sent sent[MAX_SENT];
    size_t nsent;
    char *key[MAX_KEYS], *val[MAX_KEYS];
    size_t nkeys;
    int expand_dbname;
    int cancels;
    int nonblocking;
    PQnoticeProcessor notice;
} m = {.sock = {-1, -1}};

static char empty_value[1]; /* PQgetvalue of an SQL NULL */

static const char *
kind_name(enum kind k)
{
    switch (k) {
    case K_CONN:
        return "connection";
    case K_RESULT:
        return "PGresult";
    case K_MEM:
        return "libpq buffer (PQfreemem)";
    case K_CANCEL:
        return "PGcancel";
    }
    return "?";
}

static char *
dup_or_null(const char *s)
{
    char *d;

    if (!s)
        return NULL;
    d = strdup(s);
    assert_non_null(d);
    return d;
}

static void
track(void *p, enum kind k, bool out)
{
    if (m.nlive == MAX_LIVE)
        fail_msg("mock libpq: more than %d live objects", MAX_LIVE);
    m.live[m.nlive].p = p;
    m.live[m.nlive].kind = k;
    m.live[m.nlive].out = out;
    m.nlive++;
}

static size_t
find_live(const void *p, enum kind k, const char *fn)
{
    for (size_t i = 0; i < m.nlive; i++) {
        if (m.live[i].p == p) {
            if (m.live[i].kind != k)
                fail_msg("%s: %p is a %s, not a %s", fn, p, kind_name(m.live[i].kind),
                         kind_name(k));
            return i;
        }
    }
    fail_msg("%s: %p is not a live %s (freed already, or never handed out)", fn, p, kind_name(k));
    return 0; /* not reached */
}

static void
untrack(const void *p, enum kind k, const char *fn)
{
    size_t i = find_live(p, k, fn);

    m.live[i] = m.live[--m.nlive];
}

static void
free_result(PGresult *r)
{
    if (r->cells)
        for (int i = 0; i < r->nrows * r->ncols; i++)
            free(r->cells[i]);
    free(r->cells);
    free(r->sqlstate);
    free(r->message);
    free(r);
}

static void
free_object(void *p, enum kind k)
{
    switch (k) {
    case K_CONN: {
        PGconn *c = p;

        free(c->errmsg);
        free(c);
        break;
    }
    case K_RESULT:
        free_result(p);
        break;
    case K_MEM:
    case K_CANCEL:
        free(p);
        break;
    }
}

static void
set_errmsg(PGconn *conn, const char *msg)
{
    free(conn->errmsg);
    conn->errmsg = dup_or_null(msg ? msg : "");
}

/* The socket becomes readable: one byte per scripted arrival. */
static void
arrive(void)
{
    char c = 'd';

    if (write(m.sock[1], &c, 1) != 1)
        fail_msg("mock libpq: write to socketpair: %s", strerror(errno));
}

/* Read one pending arrival, if any. Returns the number read (0 or 1). */
static int
take_arrival(void)
{
    char c;

    return read(m.sock[0], &c, 1) == 1;
}

/* ---- per test ---- */

void
mock_pq_setup(void)
{
    memset(&m, 0, sizeof(m));
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, m.sock) != 0)
        fail_msg("socketpair: %s", strerror(errno));
    if (fcntl(m.sock[0], F_SETFL, O_NONBLOCK) != 0)
        fail_msg("fcntl: %s", strerror(errno));
}

void
mock_pq_teardown(void)
{
    size_t leaked = mock_pq_live();
    char what[256] = "";
    int unread = 0;

    /* scripted results never handed out are freed quietly: cmocka reports the unused script */
    for (size_t i = 0; i < m.nlive; i++) {
        size_t len = strlen(what);

        if (m.live[i].out && len < sizeof(what) - 1)
            snprintf(what + len, sizeof(what) - len, "%s%s", len ? ", " : "",
                     kind_name(m.live[i].kind));
        free_object(m.live[i].p, m.live[i].kind);
    }
    m.nlive = 0;
    while (take_arrival())
        unread++;
    for (size_t i = 0; i < m.nsent; i++) {
        free(m.sent[i].sql);
        for (int j = 0; j < MAX_PARAMS; j++)
            free(m.sent[i].param[j]);
    }
    for (size_t i = 0; i < m.nkeys; i++) {
        free(m.key[i]);
        free(m.val[i]);
    }
    close(m.sock[0]);
    close(m.sock[1]);
    memset(&m, 0, sizeof(m));
    m.sock[0] = m.sock[1] = -1;
    if (leaked)
        fail_msg("pg.c did not free %zu libpq object(s): %s", leaked, what);
    if (unread)
        fail_msg("%d scripted arrival(s) never consumed by PQconsumeInput", unread);
}

/* ---- results ---- */

static PGresult *
new_result(ExecStatusType status)
{
    PGresult *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    r->status = status;
    r->message = dup_or_null("");
    track(r, K_RESULT, false);
    return r;
}

PGresult *
mock_pq_result(ExecStatusType status)
{
    return new_result(status);
}

PGresult *
mock_pq_error(const char *sqlstate, const char *message)
{
    PGresult *r = new_result(PGRES_FATAL_ERROR);

    r->sqlstate = dup_or_null(sqlstate);
    free(r->message);
    r->message = dup_or_null(message);
    return r;
}

PGresult *
mock_pq_tuples(int nrows, int ncols, const char *const *cells)
{
    PGresult *r = new_result(PGRES_TUPLES_OK);

    r->nrows = nrows;
    r->ncols = ncols;
    if (nrows * ncols > 0) {
        r->cells = calloc((size_t)(nrows * ncols), sizeof(*r->cells));
        assert_non_null(r->cells);
        for (int i = 0; i < nrows * ncols; i++)
            r->cells[i] = dup_or_null(cells[i]);
    }
    return r;
}

/* ---- scripting ---- */

/* will_return(fn, v), recorded at the test's line (file, line) so cmocka's reports point there. */
#define WILL(fn, v) _will_return(#fn, file, line, cast_to_largest_integral_type(v), 1)

void
mock_pq_will_connect_at(ConnStatusType status, const char *errmsg, const char *file, int line)
{
    WILL(__wrap_PQconnectdbParams, 1);
    WILL(__wrap_PQconnectdbParams, status);
    WILL(__wrap_PQconnectdbParams, errmsg);
}

void
mock_pq_will_connect_null_at(const char *file, int line)
{
    WILL(__wrap_PQconnectdbParams, 0);
}

void
mock_pq_will_send_at(const char *errmsg, const char *file, int line)
{
    WILL(__wrap_PQsendQuery, errmsg);
}

void
mock_pq_will_send_params_at(const char *errmsg, const char *file, int line)
{
    WILL(__wrap_PQsendQueryParams, errmsg);
}

void
mock_pq_will_result_at(PGresult *res, const char *file, int line)
{
    WILL(__wrap_PQisBusy, 0);
    WILL(__wrap_PQgetResult, res);
}

void
mock_pq_will_get_result_at(PGresult *res, const char *file, int line)
{
    WILL(__wrap_PQgetResult, res);
}

void
mock_pq_will_wait_at(const char *consume_errmsg, const char *file, int line)
{
    WILL(__wrap_PQisBusy, ARRIVES);
    WILL(__wrap_PQconsumeInput, consume_errmsg);
}

void
mock_pq_will_stall_at(const char *file, int line)
{
    WILL(__wrap_PQisBusy, STALLS);
    WILL(__wrap_PQconsumeInput, NULL);
}

static void
will_copy(int async, int n, const char *file, int line)
{
    _expect_value("__wrap_PQgetCopyData", "async", file, line, (LargestIntegralType)async, 1);
    WILL(__wrap_PQgetCopyData, n);
}

void
mock_pq_will_copy_row_at(const char *row, const char *file, int line)
{
    assert_true(strlen(row) > 0);
    will_copy(1, (int)strlen(row), file, line);
    WILL(__wrap_PQgetCopyData, row);
}

void
mock_pq_will_copy_wait_at(const char *consume_errmsg, const char *file, int line)
{
    will_copy(1, 0, file, line);
    WILL(__wrap_PQgetCopyData, ARRIVES);
    WILL(__wrap_PQconsumeInput, consume_errmsg);
}

void
mock_pq_will_copy_stall_at(const char *file, int line)
{
    will_copy(1, 0, file, line);
    WILL(__wrap_PQgetCopyData, STALLS);
}

void
mock_pq_will_copy_end_at(const char *file, int line)
{
    will_copy(1, -1, file, line);
}

void
mock_pq_will_copy_lost_at(const char *errmsg, const char *file, int line)
{
    will_copy(1, -2, file, line);
    WILL(__wrap_PQgetCopyData, errmsg);
}

void
mock_pq_will_copy_blocking_at(const char *row, const char *file, int line)
{
    if (!row) {
        will_copy(0, -1, file, line);
        return;
    }
    assert_true(strlen(row) > 0);
    will_copy(0, (int)strlen(row), file, line);
    WILL(__wrap_PQgetCopyData, row);
}

/* ---- observations ---- */

size_t
mock_pq_live(void)
{
    size_t n = 0;

    for (size_t i = 0; i < m.nlive; i++)
        n += m.live[i].out;
    return n;
}

int
mock_pq_cancels(void)
{
    return m.cancels;
}

int
mock_pq_nonblocking(void)
{
    return m.nonblocking;
}

int
mock_pq_expand_dbname(void)
{
    return m.expand_dbname;
}

const char *
mock_pq_connect_param(const char *key)
{
    for (size_t i = 0; i < m.nkeys; i++)
        if (strcmp(m.key[i], key) == 0)
            return m.val[i];
    return NULL;
}

PQnoticeProcessor
mock_pq_notice_processor(void)
{
    return m.notice;
}

size_t
mock_pq_nsent(void)
{
    return m.nsent;
}

static const struct sent *
sent_at(size_t i)
{
    if (i >= m.nsent)
        fail_msg("statement %zu was not sent (%zu sent)", i, m.nsent);
    return &m.sent[i];
}

const char *
mock_pq_sent_sql(size_t i)
{
    return sent_at(i)->sql;
}

bool
mock_pq_sent_with_params(size_t i)
{
    return sent_at(i)->with_params;
}

int
mock_pq_sent_nparams(size_t i)
{
    return sent_at(i)->nparams;
}

const char *
mock_pq_sent_param(size_t i, int j)
{
    const struct sent *s = sent_at(i);

    assert_in_range(j, 0, s->nparams - 1);
    return s->param[j];
}

/* ---- the wrapped libpq ---- */

PGconn *
__wrap_PQconnectdbParams(const char *const *keywords, const char *const *values, int expand_dbname)
{
    PGconn *conn;

    for (size_t i = 0; keywords[i]; i++) {
        if (m.nkeys == MAX_KEYS)
            fail_msg("PQconnectdbParams: more than %d keywords", MAX_KEYS);
        m.key[m.nkeys] = dup_or_null(keywords[i]);
        m.val[m.nkeys] = dup_or_null(values[i]);
        m.nkeys++;
    }
    m.expand_dbname = expand_dbname;
    if (!mock())
        return NULL;
    conn = calloc(1, sizeof(*conn));
    assert_non_null(conn);
    conn->status = (ConnStatusType)mock();
    set_errmsg(conn, mock_ptr_type(const char *));
    track(conn, K_CONN, true);
    return conn;
}

ConnStatusType
__wrap_PQstatus(const PGconn *conn)
{
    if (!conn)
        return CONNECTION_BAD;
    find_live(conn, K_CONN, __func__);
    return conn->status;
}

char *
__wrap_PQerrorMessage(const PGconn *conn)
{
    find_live(conn, K_CONN, __func__);
    return conn->errmsg;
}

void
__wrap_PQfinish(PGconn *conn)
{
    if (!conn)
        return;
    untrack(conn, K_CONN, __func__);
    free_object(conn, K_CONN);
}

PQnoticeProcessor
__wrap_PQsetNoticeProcessor(PGconn *conn, PQnoticeProcessor proc, void *arg)
{
    PQnoticeProcessor old = m.notice;

    (void)arg;
    find_live(conn, K_CONN, __func__);
    m.notice = proc;
    return old;
}

static int
record_send(PGconn *conn, const char *sql, bool with_params, int nparams, const char *const *params,
            const char *errmsg)
{
    struct sent *s;

    find_live(conn, K_CONN, "PQsendQuery");
    if (m.nsent == MAX_SENT)
        fail_msg("more than %d statements sent", MAX_SENT);
    assert_true(nparams >= 0 && nparams <= MAX_PARAMS);
    s = &m.sent[m.nsent++];
    s->sql = dup_or_null(sql);
    s->with_params = with_params;
    s->nparams = nparams;
    for (int i = 0; i < nparams; i++)
        s->param[i] = dup_or_null(params[i]);
    if (errmsg) {
        set_errmsg(conn, errmsg);
        return 0;
    }
    set_errmsg(conn, "");
    return 1;
}

int
__wrap_PQsendQuery(PGconn *conn, const char *query)
{
    return record_send(conn, query, false, 0, NULL, mock_ptr_type(const char *));
}

int
__wrap_PQsendQueryParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
                         const char *const *paramValues, const int *paramLengths,
                         const int *paramFormats, int resultFormat)
{
    (void)paramTypes;
    (void)paramLengths;
    (void)paramFormats;
    assert_int_equal(resultFormat, 0); /* the mock's results are text */
    return record_send(conn, command, true, nParams, paramValues, mock_ptr_type(const char *));
}

int
__wrap_PQisBusy(PGconn *conn)
{
    int busy;

    find_live(conn, K_CONN, __func__);
    busy = (int)mock();
    if (busy == ARRIVES)
        arrive();
    return busy != 0;
}

int
__wrap_PQconsumeInput(PGconn *conn)
{
    const char *errmsg;

    find_live(conn, K_CONN, __func__);
    take_arrival();
    errmsg = mock_ptr_type(const char *);
    if (errmsg) {
        set_errmsg(conn, errmsg);
        return 0;
    }
    return 1;
}

int
__wrap_PQsocket(const PGconn *conn)
{
    find_live(conn, K_CONN, __func__);
    return m.sock[0];
}

PGresult *
__wrap_PQgetResult(PGconn *conn)
{
    PGresult *res;

    find_live(conn, K_CONN, __func__);
    res = mock_ptr_type(PGresult *);
    if (res) {
        size_t i = find_live(res, K_RESULT, __func__);

        if (m.live[i].out)
            fail_msg("PQgetResult: the script hands out the same PGresult twice");
        m.live[i].out = true;
    }
    return res;
}

ExecStatusType
__wrap_PQresultStatus(const PGresult *res)
{
    if (!res)
        return PGRES_FATAL_ERROR;
    find_live(res, K_RESULT, __func__);
    return res->status;
}

char *
__wrap_PQresultErrorField(const PGresult *res, int fieldcode)
{
    if (!res)
        return NULL;
    find_live(res, K_RESULT, __func__);
    return fieldcode == PG_DIAG_SQLSTATE ? res->sqlstate : NULL;
}

char *
__wrap_PQresultErrorMessage(const PGresult *res)
{
    if (!res)
        return empty_value;
    find_live(res, K_RESULT, __func__);
    return res->message;
}

int
__wrap_PQntuples(const PGresult *res)
{
    find_live(res, K_RESULT, __func__);
    return res->nrows;
}

static char *
cell(const PGresult *res, int row, int col, const char *fn)
{
    find_live(res, K_RESULT, fn);
    if (row < 0 || row >= res->nrows || col < 0 || col >= res->ncols)
        fail_msg("%s(%d, %d) outside a %d x %d result", fn, row, col, res->nrows, res->ncols);
    return res->cells[row * res->ncols + col];
}

char *
__wrap_PQgetvalue(const PGresult *res, int tup_num, int field_num)
{
    char *v = cell(res, tup_num, field_num, __func__);

    return v ? v : empty_value;
}

int
__wrap_PQgetisnull(const PGresult *res, int tup_num, int field_num)
{
    return cell(res, tup_num, field_num, __func__) == NULL;
}

void
__wrap_PQclear(PGresult *res)
{
    if (!res)
        return;
    untrack(res, K_RESULT, __func__);
    free_object(res, K_RESULT);
}

int
__wrap_PQgetCopyData(PGconn *conn, char **buffer, int async)
{
    int n;

    find_live(conn, K_CONN, __func__);
    check_expected(async);
    n = (int)mock();
    *buffer = NULL;
    if (n > 0) {
        const char *line = mock_ptr_type(const char *);
        char *copy = malloc((size_t)n + 1);

        assert_non_null(copy);
        memcpy(copy, line, (size_t)n + 1); /* libpq NUL-terminates the row */
        track(copy, K_MEM, true);
        *buffer = copy;
    } else if (n == 0) {
        if (mock() == ARRIVES)
            arrive();
    } else if (n == -2) {
        set_errmsg(conn, mock_ptr_type(const char *));
    }
    return n;
}

int
__wrap_PQsetnonblocking(PGconn *conn, int arg)
{
    find_live(conn, K_CONN, __func__);
    m.nonblocking = arg;
    return 0;
}

void
__wrap_PQfreemem(void *ptr)
{
    if (!ptr)
        return;
    untrack(ptr, K_MEM, __func__);
    free_object(ptr, K_MEM);
}

PGcancel *
__wrap_PQgetCancel(PGconn *conn)
{
    PGcancel *c;

    find_live(conn, K_CONN, __func__);
    c = calloc(1, sizeof(*c));
    assert_non_null(c);
    track(c, K_CANCEL, true);
    return c;
}

int
__wrap_PQcancel(PGcancel *cancel, char *errbuf, int errbufsize)
{
    find_live(cancel, K_CANCEL, __func__);
    assert_non_null(errbuf);
    assert_true(errbufsize > 0);
    errbuf[0] = '\0';
    m.cancels++;
    return 1;
}

void
__wrap_PQfreeCancel(PGcancel *cancel)
{
    if (!cancel)
        return;
    untrack(cancel, K_CANCEL, __func__);
    free_object(cancel, K_CANCEL);
}

/* libpq's quoting: quotes doubled; with backslashes, an E'' literal (after a space) doubling them.
 */
char *
__wrap_PQescapeLiteral(PGconn *conn, const char *str, size_t len)
{
    size_t nbs = 0, i, o = 0;
    char *out;

    find_live(conn, K_CONN, __func__);
    for (i = 0; i < len; i++)
        nbs += str[i] == '\\';
    out = malloc(2 * len + 5);
    assert_non_null(out);
    if (nbs) {
        out[o++] = ' ';
        out[o++] = 'E';
    }
    out[o++] = '\'';
    for (i = 0; i < len; i++) {
        if (str[i] == '\'' || str[i] == '\\')
            out[o++] = str[i];
        out[o++] = str[i];
    }
    out[o++] = '\'';
    out[o] = '\0';
    track(out, K_MEM, true);
    return out;
}
