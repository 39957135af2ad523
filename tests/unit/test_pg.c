/*
 * Tests of src/pg.c against a scripted libpq (tests/mocks/mock_libpq.c, linked with --wrap): each
 * test queues the server's side of the conversation, runs pg.c, and checks results, error codes
 * and messages, SQLSTATEs and what was sent. pg_open (connection failure, session settings, a
 * failing SET), pg_exec and pg_query (server errors with SQLSTATE, a refused send, a connection
 * lost while waiting, parameters and NULLs), pg_literal, and the COPY stream: rows decoded
 * (tab-separated, \N, every escape, octal, wide rows), a clean end, an error after the data, the
 * connection lost mid-stream (PQgetCopyData -2, PQconsumeInput failing), a cancel from a signal
 * while waiting, pg_stream_abort and pg_close of a running stream. Every test ends with the mock's
 * balance check: every PGresult, copy buffer, cancel object and connection handed out was freed.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "err.h"
#include "mocks/mock_libpq.h"
#include "pg.h"

#include "banned.h"

#define CONNINFO   "postgresql://jobreport@db.example:5432/notify"
#define WATCHDOG_S 10 /* SIGALRM ends a run whose wait never ends, instead of a hang */

#define LOST_MSG                                                                                   \
    "server closed the connection unexpectedly\n\tThis probably means the server terminated "      \
    "abnormally\n\tbefore or while processing the request.\n"
/* As pg.c reports it: one line, the line breaks and their indentation folded into spaces. */
#define LOST_MSG_TRIMMED                                                                           \
    "server closed the connection unexpectedly This probably means the server terminated "         \
    "abnormally before or while processing the request."

/* ---- the signal that sets the cancel flag, like cmd/jobreport.c's SIGINT/SIGTERM handler ---- */

static volatile sig_atomic_t cancel_flag;
static timer_t timer;
static bool timer_armed;

static void
on_signal(int sig)
{
    (void)sig;
    cancel_flag = 1;
}

/* SIGUSR1 arrives in ms milliseconds (while pg.c is blocked in poll) and sets cancel_flag. */
static void
signal_in(long ms)
{
    struct sigaction sa;
    struct sigevent sev;
    struct itimerspec its;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
    memset(&sev, 0, sizeof(sev));
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGUSR1;
    assert_int_equal(timer_create(CLOCK_MONOTONIC, &sev, &timer), 0);
    timer_armed = true;
    memset(&its, 0, sizeof(its));
    its.it_value.tv_nsec = ms * 1000000L;
    assert_int_equal(timer_settime(timer, 0, &its, NULL), 0);
}

static int
setup(void **state)
{
    (void)state;
    cancel_flag = 0;
    mock_pq_setup();
    alarm(WATCHDOG_S);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    alarm(0);
    if (timer_armed) {
        timer_delete(timer);
        timer_armed = false;
    }
    mock_pq_teardown();
    return 0;
}

/* ---- helpers ---- */

/* pg_open that succeeds: the connection, then the SET statements (one result each). */
static void
script_open(void)
{
    mock_pq_will_connect(CONNECTION_OK, "");
    mock_pq_will_send(NULL);
    for (int i = 0; i < 3; i++)
        mock_pq_will_result(mock_pq_result(PGRES_COMMAND_OK));
    mock_pq_will_result(NULL);
}

static struct pg *
open_pg(void)
{
    struct jr_err err = JR_ERR_INIT;
    struct pg *pg;

    script_open();
    pg = pg_open(CONNINFO, 30, &err);
    if (!pg)
        fail_msg("pg_open: %s", err.msg);
    assert_int_equal(mock_pq_live(), 1); /* the connection */
    return pg;
}

static void
begin_stream(struct pg *pg)
{
    struct jr_err err = JR_ERR_INIT;

    mock_pq_will_send_params(NULL);
    mock_pq_will_result(mock_pq_result(PGRES_COPY_OUT));
    if (pg_stream_begin(pg, "SELECT id, name FROM t", &err) < 0)
        fail_msg("pg_stream_begin: %s", err.msg);
    assert_int_equal(mock_pq_live(), 1); /* the COPY_OUT result was cleared */
}

/* The next row must be want[0..n-1] (NULL: SQL NULL). */
static void
expect_row(struct pg *pg, size_t n, const char *const *want)
{
    struct jr_err err = JR_ERR_INIT;
    char **f = NULL;
    size_t nf = 0;
    int rc = pg_stream_next(pg, &f, &nf, &err);

    if (rc != 1)
        fail_msg("pg_stream_next returned %d (%s), expected a row", rc, err.msg);
    assert_int_equal(err.code, JR_OK);
    assert_int_equal(nf, n);
    for (size_t i = 0; i < n; i++) {
        if (!want[i]) {
            if (f[i])
                fail_msg("field %zu: expected NULL, got \"%s\"", i, f[i]);
        } else {
            if (!f[i])
                fail_msg("field %zu: expected \"%s\", got NULL", i, want[i]);
            assert_string_equal(f[i], want[i]);
        }
    }
    assert_int_equal(mock_pq_live(), 2); /* the connection and this row's buffer, no older one */
}

static void
expect_stream_fails(struct pg *pg, const char *msg)
{
    struct jr_err err = JR_ERR_INIT;
    char **f = NULL;
    size_t nf = 0;

    assert_int_equal(pg_stream_next(pg, &f, &nf, &err), -1);
    assert_int_equal(err.code, JR_E_DB);
    assert_string_equal(err.msg, msg);
    assert_int_equal(mock_pq_live(), 1);
}

/* ---- pg_open ---- */

static void
test_open_connect_failure(void **state)
{
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    mock_pq_will_connect(CONNECTION_BAD,
                         "connection to server at \"127.0.0.1\", port 1 failed: Connection "
                         "refused\n");
    assert_null(pg_open(CONNINFO, 30, &err));
    assert_int_equal(err.code, JR_E_DB);
    assert_string_equal(err.msg, "cannot connect to PostgreSQL: connection to server at "
                                 "\"127.0.0.1\", port 1 failed: Connection refused");
    assert_int_equal(mock_pq_nsent(), 0);
    /* teardown: the failed PGconn was passed to PQfinish */
}

static void
test_open_connect_failure_multiline(void **state)
{
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    mock_pq_will_connect(CONNECTION_BAD, "FATAL:  password authentication failed for user "
                                         "\"jobreport\"\n \n");
    assert_null(pg_open("", 0, &err));
    assert_int_equal(err.code, JR_E_DB);
    assert_string_equal(err.msg, "cannot connect to PostgreSQL: FATAL:  password authentication "
                                 "failed for user \"jobreport\"");
    assert_string_equal(mock_pq_connect_param("dbname"), "");
}

static void
test_open_out_of_memory(void **state)
{
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    mock_pq_will_connect_null();
    assert_null(pg_open(CONNINFO, 30, &err));
    assert_int_equal(err.code, JR_E_DB);
    assert_string_equal(err.msg, "cannot connect to PostgreSQL: out of memory");
}

static void
test_open_sets_session(void **state)
{
    struct pg *pg;
    const char *sql;
    PQnoticeProcessor notice;
    FILE *cap;
    int saved;

    (void)state;
    pg = open_pg();
    /* the connection string is expanded by libpq, and the application name is set */
    assert_int_equal(mock_pq_expand_dbname(), 1);
    assert_string_equal(mock_pq_connect_param("dbname"), CONNINFO);
    assert_string_equal(mock_pq_connect_param("application_name"), "jobreport");
    assert_non_null(mock_pq_connect_param("connect_timeout"));
    /* one simple-query round trip with the SET statements */
    assert_int_equal(mock_pq_nsent(), 1);
    assert_false(mock_pq_sent_with_params(0));
    sql = mock_pq_sent_sql(0);
    assert_non_null(strstr(sql, "SET statement_timeout = '30s'"));
    assert_non_null(strstr(sql, "SET TimeZone = 'UTC'"));
    assert_string_equal(pg_last_sqlstate(pg), "");
    /* server notices are swallowed, never written to stderr */
    notice = mock_pq_notice_processor();
    assert_non_null(notice);
    cap = tmpfile();
    assert_non_null(cap);
    fflush(stderr);
    saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_int_equal(dup2(fileno(cap), STDERR_FILENO), STDERR_FILENO);
    notice(NULL, "NOTICE:  relation \"x\" already exists, skipping\n");
    fflush(stderr);
    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    assert_int_equal(ftell(cap), 0);
    fseek(cap, 0, SEEK_END);
    assert_int_equal(ftell(cap), 0);
    fclose(cap);
    pg_close(pg);
}

static void
test_open_statement_timeout_zero(void **state)
{
    struct jr_err err = JR_ERR_INIT;
    struct pg *pg;

    (void)state;
    script_open();
    pg = pg_open(CONNINFO, 0, &err);
    assert_non_null(pg);
    assert_non_null(strstr(mock_pq_sent_sql(0), "SET statement_timeout = '0s'"));
    pg_close(pg);
}

static void
test_open_set_fails(void **state)
{
    struct jr_err err = JR_ERR_INIT;

    (void)state;
    mock_pq_will_connect(CONNECTION_OK, "");
    mock_pq_will_send(NULL);
    mock_pq_will_result(mock_pq_error("22023", "ERROR:  invalid value for parameter "
                                               "\"TimeZone\": \"UTC\"\n"));
    mock_pq_will_result(NULL);
    assert_null(pg_open(CONNINFO, 30, &err));
    assert_int_equal(err.code, JR_E_DB);
    assert_string_equal(err.msg,
                        "query failed: ERROR:  invalid value for parameter \"TimeZone\": \"UTC\"");
}

/* ---- pg_exec ---- */

static void
test_exec_error_keeps_sqlstate(void **state)
{
    struct jr_err err = JR_ERR_INIT;
    struct pg *pg;

    (void)state;
    pg = open_pg();
    /* the first statement fails; its result and any after it are cleared */
    mock_pq_will_send(NULL);
    mock_pq_will_result(mock_pq_error("42P01", "ERROR:  relation \"nope\" does not exist\n"
                                               "LINE 1: SELECT * FROM nope\n"
                                               "                      ^\n"));
    mock_pq_will_result(mock_pq_result(PGRES_COMMAND_OK));
    mock_pq_will_result(NULL);
    assert_int_equal(pg_exec(pg, "SELECT * FROM nope; SELECT 1", &err), -1);
    assert_int_equal(err.code, JR_E_DB);
    assert_string_equal(err.msg, "query failed: ERROR:  relation \"nope\" does not exist "
                                 "LINE 1: SELECT * FROM nope ^");
    assert_string_equal(pg_last_sqlstate(pg), "42P01");
    assert_string_equal(mock_pq_sent_sql(1), "SELECT * FROM nope; SELECT 1");
    assert_int_equal(mock_pq_live(), 1);

    /* a later success resets the SQLSTATE */
    jr_err_clear(&err);
    mock_pq_will_send(NULL);
    mock_pq_will_wait(NULL);
    mock_pq_will_result(mock_pq_result(PGRES_COMMAND_OK));
    mock_pq_will_result(NULL);
    assert_int_equal(pg_exec(pg, "SET lock_timeout = 0", &err), 0);
    assert_int_equal(err.code, JR_OK);
    assert_string_equal(pg_last_sqlstate(pg), "");
    pg_close(pg);
}

static void
test_exec_send_refused(void **state)
{
    struct jr_err err = JR_ERR_INIT;
    struct pg *pg;

    (void)state;
    pg = open_pg();
    mock_pq_will_send("no connection to the server\n");
    assert_int_equal(pg_exec(pg, "SELECT 1", &err), -1);
    assert_int_equal(err.code, JR_E_DB);
    assert_string_equal(err.msg, "cannot send query to PostgreSQL: no connection to the server");
    pg_close(pg);
}

/* ---- pg_query ---- */

static void
test_query_rows(void **state)
{
    static const char *const cells[] = {"t", NULL, "", "two"};
    const char *const params[] = {"0b1e4c52-3f7a-4c1e-9d2b-6a8f0e3d5c71", NULL};
    struct jr_err err = JR_ERR_INIT;
    struct pg_rows *r;
    struct pg *pg;

    (void)state;
    pg = open_pg();
    mock_pq_will_send_params(NULL);
    mock_pq_will_wait(NULL); /* the server takes a while */
    mock_pq_will_wait(NULL);
    mock_pq_will_result(mock_pq_tuples(2, 2, cells));
    mock_pq_will_result(NULL);
    r = pg_query(pg, "SELECT a, b FROM t WHERE id = $1 AND x IS NOT DISTINCT FROM $2", 2, params,
                 &err);
    if (!r)
        fail_msg("pg_query: %s", err.msg);
    assert_true(mock_pq_sent_with_params(1));
    assert_int_equal(mock_pq_sent_nparams(1), 2);
    assert_string_equal(mock_pq_sent_param(1, 0), params[0]);
    assert_null(mock_pq_sent_param(1, 1));
    assert_int_equal(pg_result_rows(r), 2);
    assert_string_equal(pg_result_value(r, 0, 0), "t");
    assert_null(pg_result_value(r, 0, 1));
    assert_string_equal(pg_result_value(r, 1, 0), ""); /* empty string is not NULL */
    assert_string_equal(pg_result_value(r, 1, 1), "two");
    assert_int_equal(mock_pq_live(), 2); /* the connection and the kept result */
    pg_result_free(r);
    assert_int_equal(mock_pq_live(), 1);
    pg_result_free(NULL);
    pg_close(pg);
}

static void
test_query_error_keeps_sqlstate(void **state)
{
    struct jr_err err = JR_ERR_INIT;
    struct pg *pg;

    (void)state;
    pg = open_pg();
    mock_pq_will_send_params(NULL);
    mock_pq_will_wait(NULL);
    mock_pq_will_result(
        mock_pq_error("55P03", "ERROR:  canceling statement due to lock timeout\n"));
    mock_pq_will_result(NULL);
    assert_null(pg_query(pg, "SELECT pg_advisory_lock(1, 2), true", 0, NULL, &err));
    assert_int_equal(err.code, JR_E_DB);
    assert_string_equal(err.msg, "query failed: ERROR:  canceling statement due to lock timeout");
    assert_string_equal(pg_last_sqlstate(pg), "55P03");
    assert_int_equal(mock_pq_live(), 1);

    /* a result that is not rows (a statement) is an error too, without SQLSTATE */
    jr_err_clear(&err);
    mock_pq_will_send_params(NULL);
    mock_pq_will_result(mock_pq_result(PGRES_COMMAND_OK));
    mock_pq_will_result(NULL);
    assert_null(pg_query(pg, "SET x = 1", 0, NULL, &err));
    assert_int_equal(err.code, JR_E_DB);
    assert_string_equal(pg_last_sqlstate(pg), "");
    pg_close(pg);
}

static void
test_query_connection_lost(void **state)
{
    struct jr_err err = JR_ERR_INIT;
    struct pg *pg;

    (void)state;
    pg = open_pg();
    /* PQconsumeInput fails; libpq then hands out an error result without a message of its own */
    mock_pq_will_send_params(NULL);
    mock_pq_will_wait(LOST_MSG);
    mock_pq_will_get_result(mock_pq_error(NULL, ""));
    mock_pq_will_result(NULL);
    assert_null(pg_query(pg, "SELECT 1", 0, NULL, &err));
    assert_int_equal(err.code, JR_E_DB);
    assert_string_equal(err.msg, "query failed: " LOST_MSG_TRIMMED);
    assert_string_equal(pg_last_sqlstate(pg), "");

    /* and when no result comes at all */
    jr_err_clear(&err);
    mock_pq_will_send_params(NULL);
    mock_pq_will_wait("could not receive data from server: Connection reset by peer\n");
    mock_pq_will_get_result(NULL);
    mock_pq_will_result(NULL);
    assert_null(pg_query(pg, "SELECT 1", 0, NULL, &err));
    assert_int_equal(err.code, JR_E_DB);
    assert_string_equal(
        err.msg, "query failed: could not receive data from server: Connection reset by peer");
    pg_close(pg);
}

static void
test_query_send_refused(void **state)
{
    struct jr_err err = JR_ERR_INIT;
    struct pg *pg;

    (void)state;
    pg = open_pg();
    mock_pq_will_send_params("another command is already in progress\n");
    mock_pq_will_result(NULL);
    assert_null(pg_query(pg, "SELECT 1", 0, NULL, &err));
    assert_int_equal(err.code, JR_E_DB);
    assert_string_equal(err.msg,
                        "cannot send query to PostgreSQL: another command is already in progress");
    pg_close(pg);
}

/* ---- pg_literal ---- */

static void
test_literal(void **state)
{
    struct pg *pg;
    char *s;

    (void)state;
    pg = open_pg();
    s = pg_literal(pg, "O'Brien");
    assert_string_equal(s, "'O''Brien'");
    assert_int_equal(mock_pq_live(), 1); /* libpq's copy went back through PQfreemem */
    free(s);
    s = pg_literal(pg, "a\\b");
    assert_string_equal(s, " E'a\\\\b'");
    free(s);
    pg_close(pg);
}

/* ---- the COPY stream ---- */

#define WIDE 100 /* fields in a row, well past pg.c's first allocation */

static void
test_stream_rows_decoded(void **state)
{
    static const char *const r1[] = {"plain", NULL, "", "last"};
    static const char *const r2[] = {"tab\there", "nl\nx", "cr\rx", "bs\\x",
                                     "bs\bx",     "ff\fx", "vt\vx", "a\\"};
    static const char *const r3[] = {"A\a1\nx", "\\N", NULL, "caf\xc3\xa9", "x\\N"};
    static const char *const r5[] = {NULL};
    static const char *const r6[] = {""};
    static const char *const r7[] = {"\\", "end"};
    char wide[WIDE * 8];
    const char *wide_want[WIDE];
    char wide_cells[WIDE][8];
    size_t len = 0;
    struct jr_err err = JR_ERR_INIT;
    char **f;
    size_t nf;
    struct pg *pg;

    (void)state;
    for (int i = 0; i < WIDE; i++) {
        snprintf(wide_cells[i], sizeof(wide_cells[i]), "f%d", i);
        wide_want[i] = wide_cells[i];
        len +=
            (size_t)snprintf(wide + len, sizeof(wide) - len, "%s%s", i ? "\t" : "", wide_cells[i]);
    }
    pg = open_pg();
    begin_stream(pg);
    assert_true(mock_pq_sent_with_params(1));
    assert_string_equal(mock_pq_sent_sql(1), "COPY (SELECT id, name FROM t) TO STDOUT");
    assert_int_equal(mock_pq_nonblocking(), 1);

    mock_pq_will_copy_row("plain\t\\N\t\tlast\n");
    mock_pq_will_copy_row("tab\\there\tnl\\nx\tcr\\rx\tbs\\\\x\tbs\\bx\tff\\fx\tvt\\vx\ta\\\\\n");
    mock_pq_will_copy_row("\\101\\0071\\12x\t\\\\N\t\\N\tcaf\xc3\xa9\tx\\\\N\n");
    mock_pq_will_copy_row(wide); /* more fields than the first allocation, no newline */
    mock_pq_will_copy_wait(NULL);
    mock_pq_will_copy_wait(NULL);
    mock_pq_will_copy_row("\\N\n");
    mock_pq_will_copy_row("\n");
    mock_pq_will_copy_row("\\\\\tend\n");
    mock_pq_will_copy_wait(NULL);
    mock_pq_will_copy_end();
    mock_pq_will_result(mock_pq_result(PGRES_COMMAND_OK)); /* "COPY 7" */
    mock_pq_will_result(NULL);

    expect_row(pg, 4, r1);
    expect_row(pg, 8, r2);
    expect_row(pg, 5, r3);
    expect_row(pg, WIDE, wide_want);
    expect_row(pg, 1, r5);
    expect_row(pg, 1, r6);
    expect_row(pg, 2, r7);
    assert_int_equal(pg_stream_next(pg, &f, &nf, &err), 0);
    assert_int_equal(err.code, JR_OK);
    assert_int_equal(mock_pq_live(), 1);
    assert_int_equal(mock_pq_nonblocking(), 0);
    assert_string_equal(pg_last_sqlstate(pg), "");
    /* after the end, nothing more is read */
    assert_int_equal(pg_stream_next(pg, &f, &nf, &err), 0);
    pg_close(pg);
    assert_int_equal(mock_pq_cancels(), 0);
}

static void
test_stream_empty(void **state)
{
    struct jr_err err = JR_ERR_INIT;
    char **f;
    size_t nf;
    struct pg *pg;

    (void)state;
    pg = open_pg();
    begin_stream(pg);
    mock_pq_will_copy_end();
    mock_pq_will_wait(NULL); /* the final result is not there yet */
    mock_pq_will_result(mock_pq_result(PGRES_COMMAND_OK));
    mock_pq_will_result(NULL);
    assert_int_equal(pg_stream_next(pg, &f, &nf, &err), 0);
    assert_int_equal(err.code, JR_OK);
    pg_close(pg);
}

static void
test_stream_begin_error(void **state)
{
    struct jr_err err = JR_ERR_INIT;
    char **f;
    size_t nf;
    struct pg *pg;

    (void)state;
    pg = open_pg();
    mock_pq_will_send_params(NULL);
    mock_pq_will_wait(NULL);
    mock_pq_will_result(mock_pq_error("42703", "ERROR:  column \"nme\" does not exist\n"));
    mock_pq_will_result(NULL);
    assert_int_equal(pg_stream_begin(pg, "SELECT nme FROM t", &err), -1);
    assert_int_equal(err.code, JR_E_DB);
    assert_string_equal(err.msg, "query failed: ERROR:  column \"nme\" does not exist");
    assert_string_equal(pg_last_sqlstate(pg), "42703");
    assert_int_equal(mock_pq_live(), 1);
    assert_int_equal(mock_pq_nonblocking(), 0);
    /* no stream: nothing to read, and closing does not cancel anything */
    jr_err_clear(&err);
    assert_int_equal(pg_stream_next(pg, &f, &nf, &err), 0);
    pg_close(pg);
    assert_int_equal(mock_pq_cancels(), 0);
}

static void
test_stream_error_after_data(void **state)
{
    static const char *const r1[] = {"1", "a"};
    struct pg *pg;

    (void)state;
    pg = open_pg();
    begin_stream(pg);
    mock_pq_will_copy_row("1\ta\n");
    mock_pq_will_copy_end();
    mock_pq_will_result(mock_pq_error("22012", "ERROR:  division by zero\n"));
    mock_pq_will_result(NULL);
    expect_row(pg, 2, r1);
    expect_stream_fails(pg, "query failed while reading rows: ERROR:  division by zero");
    assert_string_equal(pg_last_sqlstate(pg), "22012");
    assert_int_equal(mock_pq_nonblocking(), 0);
    pg_close(pg);
    assert_int_equal(mock_pq_cancels(), 0);
}

static void
test_stream_lost_in_getcopydata(void **state)
{
    static const char *const r1[] = {"1", "a"};
    static const char *const r2[] = {"2", NULL};
    struct jr_err err = JR_ERR_INIT;
    char **f;
    size_t nf;
    struct pg *pg;

    (void)state;
    pg = open_pg();
    begin_stream(pg);
    mock_pq_will_copy_row("1\ta\n");
    mock_pq_will_copy_row("2\t\\N\n");
    mock_pq_will_copy_lost(LOST_MSG);
    expect_row(pg, 2, r1);
    expect_row(pg, 2, r2);
    expect_stream_fails(pg, "lost the PostgreSQL connection while reading rows: " LOST_MSG_TRIMMED);
    /* the stream is over: no more rows, and closing neither cancels nor drains */
    assert_int_equal(pg_stream_next(pg, &f, &nf, &err), 0);
    pg_close(pg);
    assert_int_equal(mock_pq_cancels(), 0);
}

static void
test_stream_lost_in_consume(void **state)
{
    static const char *const r1[] = {"1", "a"};
    struct pg *pg;

    (void)state;
    pg = open_pg();
    begin_stream(pg);
    mock_pq_will_copy_row("1\ta\n");
    mock_pq_will_copy_wait(NULL);
    mock_pq_will_copy_wait("could not receive data from server: Connection reset by peer\n");
    expect_row(pg, 2, r1);
    expect_stream_fails(pg, "lost the PostgreSQL connection while reading rows: could not receive "
                            "data from server: Connection reset by peer");
    pg_close(pg);
    assert_int_equal(mock_pq_cancels(), 0);
}

static void
test_stream_cancel_while_waiting(void **state)
{
    static const char *const r1[] = {"1", "a"};
    struct jr_err err = JR_ERR_INIT;
    char **f;
    size_t nf;
    struct pg *pg;

    (void)state;
    pg = open_pg();
    pg_set_cancel_flag(pg, &cancel_flag);
    begin_stream(pg);
    mock_pq_will_copy_row("1\ta\n");
    mock_pq_will_copy_stall(); /* the server is busy: nothing arrives until the signal */
    /* after the cancel: rows already in flight are drained, then the server's cancel error */
    mock_pq_will_copy_blocking("2\tb\n");
    mock_pq_will_copy_blocking(NULL);
    mock_pq_will_result(
        mock_pq_error("57014", "ERROR:  canceling statement due to user request\n"));
    mock_pq_will_result(NULL);
    expect_row(pg, 2, r1);
    signal_in(50);
    expect_stream_fails(pg, "query cancelled by signal");
    assert_int_equal(cancel_flag, 1);
    assert_int_equal(mock_pq_cancels(), 1);
    assert_int_equal(mock_pq_nonblocking(), 0);
    jr_err_clear(&err);
    assert_int_equal(pg_stream_next(pg, &f, &nf, &err), 0);
    pg_close(pg);
    assert_int_equal(mock_pq_cancels(), 1);
}

static void
test_stream_abort(void **state)
{
    static const char *const r1[] = {"1", "a"};
    struct jr_err err = JR_ERR_INIT;
    char **f;
    size_t nf;
    struct pg *pg;

    (void)state;
    pg = open_pg();
    begin_stream(pg);
    mock_pq_will_copy_row("1\ta\n");
    expect_row(pg, 2, r1);
    /* abandoned with a row still held: cancel, drain the rows in flight and the results */
    mock_pq_will_copy_blocking("2\tb\n");
    mock_pq_will_copy_blocking("3\tc\n");
    mock_pq_will_copy_blocking(NULL);
    mock_pq_will_wait(NULL);
    mock_pq_will_result(
        mock_pq_error("57014", "ERROR:  canceling statement due to user request\n"));
    mock_pq_will_result(NULL);
    pg_stream_abort(pg);
    assert_int_equal(mock_pq_cancels(), 1);
    assert_int_equal(mock_pq_live(), 1);
    assert_int_equal(mock_pq_nonblocking(), 0);
    assert_int_equal(pg_stream_next(pg, &f, &nf, &err), 0);
    pg_stream_abort(pg); /* a second abort does nothing */
    assert_int_equal(mock_pq_cancels(), 1);
    /* the connection is usable again */
    mock_pq_will_send(NULL);
    mock_pq_will_result(mock_pq_result(PGRES_COMMAND_OK));
    mock_pq_will_result(NULL);
    assert_int_equal(pg_exec(pg, "SELECT 1", &err), 0);
    pg_close(pg);
}

static void
test_close_while_streaming(void **state)
{
    static const char *const r1[] = {"1", "a"};
    struct pg *pg;

    (void)state;
    pg = open_pg();
    begin_stream(pg);
    mock_pq_will_copy_row("1\ta\n");
    expect_row(pg, 2, r1);
    mock_pq_will_copy_blocking(NULL);
    mock_pq_will_result(
        mock_pq_error("57014", "ERROR:  canceling statement due to user request\n"));
    mock_pq_will_result(NULL);
    pg_close(pg);
    assert_int_equal(mock_pq_cancels(), 1);
}

/* ---- cancel while waiting for a result ---- */

static void
test_query_cancel_while_waiting(void **state)
{
    struct jr_err err = JR_ERR_INIT;
    struct pg *pg;

    (void)state;
    pg = open_pg();
    pg_set_cancel_flag(pg, &cancel_flag);
    mock_pq_will_send_params(NULL);
    mock_pq_will_stall();
    mock_pq_will_wait(NULL);
    mock_pq_will_result(
        mock_pq_error("57014", "ERROR:  canceling statement due to user request\n"));
    mock_pq_will_result(NULL); /* drained by run(), once */
    signal_in(50);
    assert_null(pg_query(pg, "SELECT pg_sleep(60)", 0, NULL, &err));
    assert_int_equal(err.code, JR_E_DB);
    assert_string_equal(err.msg, "query cancelled by signal");
    assert_int_equal(mock_pq_cancels(), 1);
    assert_int_equal(mock_pq_live(), 1);
    pg_close(pg);
}

static void
test_exec_cancel_while_waiting(void **state)
{
    struct jr_err err = JR_ERR_INIT;
    struct pg *pg;

    (void)state;
    pg = open_pg();
    pg_set_cancel_flag(pg, &cancel_flag);
    mock_pq_will_send(NULL);
    mock_pq_will_stall();
    mock_pq_will_result(mock_pq_result(PGRES_COMMAND_OK)); /* it finished before the cancel */
    mock_pq_will_result(NULL);
    signal_in(50);
    assert_int_equal(pg_exec(pg, "SELECT pg_sleep(60)", &err), -1);
    assert_int_equal(err.code, JR_E_DB);
    assert_string_equal(err.msg, "query cancelled by signal");
    assert_int_equal(mock_pq_cancels(), 1);
    assert_int_equal(mock_pq_live(), 1);
    pg_close(pg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_connect_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_connect_failure_multiline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_out_of_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_sets_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_statement_timeout_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_set_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_error_keeps_sqlstate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_send_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_error_keeps_sqlstate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_connection_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_send_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_literal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_rows_decoded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_begin_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_error_after_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_lost_in_getcopydata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_lost_in_consume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_cancel_while_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_while_streaming, setup, teardown),
        cmocka_unit_test_setup_teardown(test_query_cancel_while_waiting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exec_cancel_while_waiting, setup, teardown),
    };

    return cmocka_run_group_tests_name("pg", tests, NULL, NULL);
}
