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

struct pg_result {
    PGresult *res;
};

/* libpq messages end with a newline; drop it so messages stay one line. */
static int
err_pg(struct jr_err *err, const char *what, const char *msg)
{
    size_t len = strlen(msg);

    while (len && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
        len--;
    return jr_err_set(err, JR_E_DB, "%s: %.*s", what, (int)len, msg);
}

static int
err_result(struct pg *pg, struct jr_err *err, const char *what, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : "";

    snprintf(pg->sqlstate, sizeof(pg->sqlstate), "%s", state ? state : "");
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
        int n;

        if (pg->cancel_flag && *pg->cancel_flag)
            return -1;
        n = poll(&pfd, 1, PG_POLL_MS);
        if (n > 0)
            return 0;
    }
}

/* The next result of the running statement, waiting with cancel checks. */
static PGresult *
get_result(struct pg *pg, bool *cancelled)
{
    while (PQisBusy(pg->conn)) {
        if (wait_readable(pg) < 0) {
            *cancelled = true;
            send_cancel(pg);
            /* After a cancel the server ends the statement promptly: just drain. */
            pg->cancel_flag = NULL;
        }
        if (!PQconsumeInput(pg->conn))
            break;
    }
    return PQgetResult(pg->conn);
}

static void
drain(struct pg *pg)
{
    PGresult *r;
    bool cancelled = false;

    while ((r = get_result(pg, &cancelled)))
        PQclear(r);
}

/* Send sql with parameters, wait for its first result. The caller drains the rest. */
static PGresult *
run(struct pg *pg, const char *sql, int nparams, const char *const *params, struct jr_err *err)
{
    PGresult *res;
    bool cancelled = false;
    volatile sig_atomic_t *flag = pg->cancel_flag;

    pg->sqlstate[0] = '\0';
    if (!PQsendQueryParams(pg->conn, sql, nparams, NULL, params, NULL, NULL, 0)) {
        err_pg(err, "cannot send query to PostgreSQL", PQerrorMessage(pg->conn));
        return NULL;
    }
    res = get_result(pg, &cancelled);
    pg->cancel_flag = flag;
    if (cancelled) {
        PQclear(res);
        drain(pg);
        pg->cancel_flag = flag;
        jr_err_set(err, JR_E_DB, "query cancelled by signal");
        return NULL;
    }
    return res;
}

int
pg_exec(struct pg *pg, const char *sql, struct jr_err *err)
{
    int rc = 0;

    pg->sqlstate[0] = '\0';
    if (!PQsendQuery(pg->conn, sql))
        return err_pg(err, "cannot send query to PostgreSQL", PQerrorMessage(pg->conn));
    for (;;) {
        bool cancelled = false;
        PGresult *res = get_result(pg, &cancelled);

        if (!res)
            break;
        if (rc == 0 && PQresultStatus(res) != PGRES_COMMAND_OK &&
            PQresultStatus(res) != PGRES_TUPLES_OK)
            rc = err_result(pg, err, "query failed", res);
        if (rc == 0 && cancelled)
            rc = jr_err_set(err, JR_E_DB, "query cancelled by signal");
        PQclear(res);
    }
    return rc;
}

struct pg_result *
pg_query(struct pg *pg, const char *sql, int nparams, const char *const *params, struct jr_err *err)
{
    PGresult *res = run(pg, sql, nparams, params, err);
    struct pg_result *r;

    if (!res) {
        if (err->code == JR_OK)
            err_pg(err, "query failed", PQerrorMessage(pg->conn));
        drain(pg);
        return NULL;
    }
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        err_result(pg, err, "query failed", res);
        PQclear(res);
        drain(pg);
        return NULL;
    }
    drain(pg);
    r = xmalloc(sizeof(*r));
    r->res = res;
    return r;
}

size_t
pg_result_rows(const struct pg_result *r)
{
    return (size_t)PQntuples(r->res);
}

const char *
pg_result_value(const struct pg_result *r, size_t row, int col)
{
    if (PQgetisnull(r->res, (int)row, col))
        return NULL;
    return PQgetvalue(r->res, (int)row, col);
}

void
pg_result_free(struct pg_result *r)
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
    PGresult *res = run(pg, sql, 0, NULL, err);

    free(sql);
    if (!res) {
        if (err->code == JR_OK)
            err_pg(err, "query failed", PQerrorMessage(pg->conn));
        drain(pg);
        return -1;
    }
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        err_result(pg, err, "query failed", res);
        PQclear(res);
        drain(pg);
        return -1;
    }
    PQclear(res);
    if (!PQsetnonblocking(pg->conn, 1)) {
        /* not fatal: PQgetCopyData(async) works either way */
    }
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
            bool cancelled = false;
            int rc = 0;

            pg->streaming = false;
            PQsetnonblocking(pg->conn, 0);
            while ((res = get_result(pg, &cancelled))) {
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
    pg->cancel_flag = NULL;
    PQsetnonblocking(pg->conn, 0);
    for (;;) {
        char *line = NULL;
        int n = PQgetCopyData(pg->conn, &line, 0);

        if (line)
            PQfreemem(line);
        if (n < 0)
            break;
    }
    drain(pg);
}
