/*
 * libpq wrapper. Streaming uses COPY (query) TO STDOUT in text format: PQgetCopyData hands out
 * exactly one row per buffer, which is decoded in place (tab-separated, \N for NULL, backslash
 * escapes) with no per-row PGresult allocation. Waiting is done with poll() on the socket in
 * short slices, so a cancel request from a signal handler is noticed within a quarter second.
 */
#include "pg.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "err.h"
#include "xalloc.h"

#include "banned.h"

#define PG_POLL_MS 250

struct pg {
    PGconn *conn;
    volatile sig_atomic_t *cancel_flag;
    bool streaming;
    char *copybuf; /* the current COPY row, owned by libpq */
    char **fields;
    size_t fcap;
    char sqlstate[6];
};

struct pg_rows {
    PGresult *res;
};

/* libpq messages end with a newline and may hold more ("...failed: Connection refused\n\tIs the
 * server running...", "LINE 1: ..."); a line break with the blanks around it becomes one space,
 * so every message is one line. */
static int
err_pg(struct jr_err *err, const char *what, const char *msg)
{
    char line[JR_ERR_MSG_MAX];
    size_t n = 0;
    bool gap = false;

    for (const char *p = msg; *p && n < sizeof(line) - 1; p++) {
        if (*p == '\n' || *p == '\r' || *p == '\t' || (gap && *p == ' ')) {
            gap = true;
            continue;
        }
        if (gap && n && n < sizeof(line) - 2)
            line[n++] = ' ';
        gap = false;
        line[n++] = *p;
    }
    while (n && line[n - 1] == ' ')
        n--;
    line[n] = '\0';
    return jr_err_set(err, JR_E_DB, "%s: %s", what, line);
}

static int
err_result(struct pg *pg, struct jr_err *err, const char *what, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : "";

    snprintf(pg->sqlstate, sizeof(pg->sqlstate), "%s", state ? state : "");
    if (primary) {
        /* The server's own fields: the message, its detail and hint, without the query excerpt
         * ("LINE 1: ...") that libpq's full text adds. */
        const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY);
        const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
        const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
        char text[JR_ERR_MSG_MAX];

        snprintf(text, sizeof(text), "%s:  %s%s%s%s%s", severity ? severity : "ERROR", primary,
                 detail ? " DETAIL: " : "", detail ? detail : "", hint ? " HINT: " : "",
                 hint ? hint : "");
        return err_pg(err, what, text);
    }
    if (!*msg)
        msg = PQerrorMessage(pg->conn);
    return err_pg(err, what, *msg ? msg : "unknown error");
}

static void
notice_quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* server notices are not errors; never echo them to stderr */
}

struct pg *
pg_open(const char *conninfo, unsigned statement_timeout_s, struct jr_err *err)
{
    static const char *const keys[] = {"dbname", "application_name", "connect_timeout", NULL};
    const char *vals[] = {conninfo, "jobreport", "15", NULL};
    struct pg *pg;
    char sql[128];

    pg = xcalloc(1, sizeof(*pg));
    /* expand_dbname lets conninfo be a URI or a key=value string; "" keeps libpq's defaults. */
    pg->conn = PQconnectdbParams(keys, vals, 1);
    if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) {
        err_pg(err, "cannot connect to PostgreSQL",
               pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
        pg_close(pg);
        return NULL;
    }
    PQsetNoticeProcessor(pg->conn, notice_quiet, NULL);
    snprintf(sql, sizeof(sql),
             "SET statement_timeout = '%us'; SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'",
             statement_timeout_s);
    if (pg_exec(pg, sql, err) < 0) {
        pg_close(pg);
        return NULL;
    }
    return pg;
}

void
pg_close(struct pg *pg)
{
    if (!pg)
        return;
    if (pg->streaming)
        pg_stream_abort(pg);
    if (pg->conn)
        PQfinish(pg->conn);
    free(pg->fields);
    free(pg);
}

void
pg_set_cancel_flag(struct pg *pg, volatile sig_atomic_t *flag)
{
    pg->cancel_flag = flag;
}

static void
send_cancel(struct pg *pg)
{
    PGcancel *c = PQgetCancel(pg->conn);

    if (c) {
        char buf[256];

        PQcancel(c, buf, sizeof(buf));
        PQfreeCancel(c);
    }
}

/* Wait until the socket is readable or the cancel flag is set. -1 when cancelled. */
static int
wait_readable(struct pg *pg)
{
    struct pollfd pfd;

    pfd.fd = PQsocket(pg->conn);
    pfd.events = POLLIN;
    if (pfd.fd < 0)
        return 0; /* a broken connection: let libpq report it */
    for (;;) {
        if (pg->cancel_flag && *pg->cancel_flag)
            return -1;
        if (poll(&pfd, 1, PG_POLL_MS) > 0)
            return 0;
    }
}

/*
 * The next result of the running statement. While waiting, a set cancel flag sends one cancel
 * request for the statement (*cancel_sent records it, so draining never sends a second) and the
 * wait goes on until the server ends the statement.
 */
static PGresult *
get_result(struct pg *pg, bool *cancel_sent)
{
    while (PQisBusy(pg->conn)) {
        if (*cancel_sent) {
            struct pollfd pfd = {PQsocket(pg->conn), POLLIN, 0};

            if (pfd.fd >= 0)
                poll(&pfd, 1, PG_POLL_MS);
        } else if (wait_readable(pg) < 0) {
            send_cancel(pg);
            *cancel_sent = true;
        }
        if (!PQconsumeInput(pg->conn))
            break;
    }
    return PQgetResult(pg->conn);
}

static void
drain(struct pg *pg, bool *cancel_sent)
{
    PGresult *r;

    while ((r = get_result(pg, cancel_sent)))
        PQclear(r);
}

/* Send sql with parameters and wait for its first result; NULL with err set when the statement
 * was cancelled or could not be sent. The caller drains the rest. */
static PGresult *
run(struct pg *pg, const char *sql, int nparams, const char *const *params, bool *cancel_sent,
    struct jr_err *err)
{
    PGresult *res;

    pg->sqlstate[0] = '\0';
    *cancel_sent = false;
    if (!PQsendQueryParams(pg->conn, sql, nparams, NULL, params, NULL, NULL, 0)) {
        err_pg(err, "cannot send query to PostgreSQL", PQerrorMessage(pg->conn));
        return NULL;
    }
    res = get_result(pg, cancel_sent);
    if (*cancel_sent) {
        PQclear(res);
        drain(pg, cancel_sent);
        jr_err_set(err, JR_E_DB, "query cancelled by signal");
        return NULL;
    }
    return res;
}

int
pg_exec(struct pg *pg, const char *sql, struct jr_err *err)
{
    bool cancel_sent = false;
    int rc = 0;

    pg->sqlstate[0] = '\0';
    if (!PQsendQuery(pg->conn, sql))
        return err_pg(err, "cannot send query to PostgreSQL", PQerrorMessage(pg->conn));
    for (;;) {
        PGresult *res = get_result(pg, &cancel_sent);

        if (!res)
            break;
        if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK &&
            PQresultStatus(res) != PGRES_TUPLES_OK)
            rc = err_result(pg, err, "query failed", res);
        PQclear(res);
    }
    if (cancel_sent)
        rc = jr_err_set(err, JR_E_DB, "query cancelled by signal");
    return rc;
}

struct pg_rows *
pg_query(struct pg *pg, const char *sql, int nparams, const char *const *params, struct jr_err *err)
{
    bool cancel_sent;
    PGresult *res = run(pg, sql, nparams, params, &cancel_sent, err);
    struct pg_rows *r;

    if (!res) {
        if (cancel_sent)
            return NULL; /* run() drained and set err */
        if (err->code == JR_OK)
            err_pg(err, "query failed", PQerrorMessage(pg->conn));
        drain(pg, &cancel_sent);
        return NULL;
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        err_result(pg, err, "query failed", res);
        PQclear(res);
        drain(pg, &cancel_sent);
        return NULL;
    }
    drain(pg, &cancel_sent);
    r = xmalloc(sizeof(*r));
    r->res = res;
    return r;
}

size_t
pg_result_rows(const struct pg_rows *r)
{
    return (size_t)PQntuples(r->res);
}

const char *
pg_result_value(const struct pg_rows *r, size_t row, int col)
{
    if (PQgetisnull(r->res, (int)row, col))
        return NULL;
    return PQgetvalue(r->res, (int)row, col);
}

void
pg_result_free(struct pg_rows *r)
{
    if (!r)
        return;
    PQclear(r->res);
    free(r);
}

const char *
pg_last_sqlstate(const struct pg *pg)
{
    return pg->sqlstate;
}

char *
pg_literal(struct pg *pg, const char *s)
{
    char *lit = PQescapeLiteral(pg->conn, s, strlen(s));
    char *out;

    if (!lit) {
        fprintf(stderr, "jobreport: fatal: cannot escape SQL literal\n");
        exit(1);
    }
    out = xstrdup(lit);
    PQfreemem(lit);
    return out;
}

int
pg_stream_begin(struct pg *pg, const char *select_sql, struct jr_err *err)
{
    char *sql = xasprintf("COPY (%s) TO STDOUT", select_sql);
    bool cancel_sent;
    PGresult *res = run(pg, sql, 0, NULL, &cancel_sent, err);

    free(sql);
    if (!res) {
        if (cancel_sent)
            return -1; /* run() drained and set err */
        if (err->code == JR_OK)
            err_pg(err, "query failed", PQerrorMessage(pg->conn));
        drain(pg, &cancel_sent);
        return -1;
    }
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        err_result(pg, err, "query failed", res);
        PQclear(res);
        drain(pg, &cancel_sent);
        return -1;
    }
    PQclear(res);
    /* Non-blocking sends are irrelevant here (rows only come in); a failure changes nothing. */
    PQsetnonblocking(pg->conn, 1);
    pg->streaming = true;
    return 0;
}

/* Decode one COPY text field in place; returns its new end. */
static char *
unescape(char *s, const char *end)
{
    char *out = s;

    for (char *p = s; p < end; p++) {
        if (*p != '\\' || p + 1 >= end) {
            *out++ = *p;
            continue;
        }
        p++;
        switch (*p) {
        case 'b':
            *out++ = '\b';
            break;
        case 'f':
            *out++ = '\f';
            break;
        case 'n':
            *out++ = '\n';
            break;
        case 'r':
            *out++ = '\r';
            break;
        case 't':
            *out++ = '\t';
            break;
        case 'v':
            *out++ = '\v';
            break;
        default:
            if (*p >= '0' && *p <= '7') {
                int v = 0;

                for (int i = 0; i < 3 && p < end && *p >= '0' && *p <= '7'; i++, p++)
                    v = v * 8 + (*p - '0');
                p--;
                *out++ = (char)v;
            } else {
                *out++ = *p; /* \\ and any other escaped character */
            }
        }
    }
    return out;
}

static size_t
split_row(struct pg *pg, char *line, size_t len)
{
    size_t nf = 0;
    char *p = line;
    char *end = line + len;

    if (len && end[-1] == '\n')
        end--;
    for (;;) {
        char *tab = memchr(p, '\t', (size_t)(end - p));
        char *fend = tab ? tab : end;

        if (nf == pg->fcap) {
            pg->fcap = pg->fcap ? pg->fcap * 2 : 16;
            pg->fields = xreallocarray(pg->fields, pg->fcap, sizeof(*pg->fields));
        }
        if (fend - p == 2 && p[0] == '\\' && p[1] == 'N') {
            pg->fields[nf++] = NULL;
        } else {
            char *e = memchr(p, '\\', (size_t)(fend - p)) ? unescape(p, fend) : fend;

            *e = '\0';
            pg->fields[nf++] = p;
        }
        if (!tab)
            break;
        p = tab + 1;
    }
    return nf;
}

int
pg_stream_next(struct pg *pg, char ***fields, size_t *nfields, struct jr_err *err)
{
    if (pg->copybuf) {
        PQfreemem(pg->copybuf);
        pg->copybuf = NULL;
    }
    if (!pg->streaming)
        return 0;
    for (;;) {
        char *line = NULL;
        int n = PQgetCopyData(pg->conn, &line, 1);

        if (n > 0) {
            pg->copybuf = line;
            *nfields = split_row(pg, line, (size_t)n);
            *fields = pg->fields;
            return 1;
        }
        if (n == 0) {
            if (wait_readable(pg) < 0) {
                pg_stream_abort(pg);
                return jr_err_set(err, JR_E_DB, "query cancelled by signal");
            }
            if (!PQconsumeInput(pg->conn)) {
                pg->streaming = false;
                return err_pg(err, "lost the PostgreSQL connection while reading rows",
                              PQerrorMessage(pg->conn));
            }
            continue;
        }
        if (n == -1) {
            /* End of COPY: the final result says whether the query succeeded. */
            PGresult *res;
            bool cancel_sent = false;
            int rc = 0;

            pg->streaming = false;
            PQsetnonblocking(pg->conn, 0);
            while ((res = get_result(pg, &cancel_sent))) {
                if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
                    rc = err_result(pg, err, "query failed while reading rows", res);
                PQclear(res);
            }
            return rc < 0 ? -1 : 0;
        }
        pg->streaming = false;
        return err_pg(err, "lost the PostgreSQL connection while reading rows",
                      PQerrorMessage(pg->conn));
    }
}

void
pg_stream_abort(struct pg *pg)
{
    if (pg->copybuf) {
        PQfreemem(pg->copybuf);
        pg->copybuf = NULL;
    }
    if (!pg->streaming)
        return;
    pg->streaming = false;
    send_cancel(pg);
    PQsetnonblocking(pg->conn, 0);
    for (;;) {
        char *line = NULL;
        int n = PQgetCopyData(pg->conn, &line, 0);

        if (line)
            PQfreemem(line);
        if (n < 0)
            break;
    }
    {
        bool cancel_sent = true; /* the cancel above covers this statement */

        drain(pg, &cancel_sent);
    }
}
