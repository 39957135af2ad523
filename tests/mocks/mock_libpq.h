/*
 * Scripted libpq for unit tests of src/pg.c, linked with -Wl,--wrap=PQ... (LDFLAGS_test_pg in the
 * Makefile). A test queues what each libpq call returns, in order, with the mock_pq_will_* helpers
 * (cmocka will_return/expect queues underneath), then calls pg.c. An unscripted call fails the
 * test, and so does a script left unconsumed. Connections, results, copy buffers, escaped
 * literals and cancel objects are counted while alive; mock_pq_teardown fails the test if pg.c did
 * not free every one, or freed one twice or with the wrong function.
 *
 * PQsocket hands out one end of a socketpair. A scripted wait (mock_pq_will_wait,
 * mock_pq_will_copy_wait) writes one byte to the other end, so poll() sees the socket readable,
 * and the PQconsumeInput that follows reads it back. A stall (mock_pq_will_stall,
 * mock_pq_will_copy_stall) writes nothing: only the cancel flag ends that wait.
 */
#ifndef JR_MOCK_LIBPQ_H
#define JR_MOCK_LIBPQ_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

/* Per test: fresh state before, and the balance checks after (fails the test on a leak). */
void mock_pq_setup(void);
void mock_pq_teardown(void);

/* Results to script; owned by the mock until pg.c passes them to PQclear. */
PGresult *mock_pq_result(ExecStatusType status);
/* PGRES_FATAL_ERROR with an SQLSTATE (NULL: none) and a libpq-style message ("ERROR:  ...\n"). */
PGresult *mock_pq_error(const char *sqlstate, const char *message);
/* PGRES_TUPLES_OK with nrows x ncols text cells, row-major; NULL cells are SQL NULL. */
PGresult *mock_pq_tuples(int nrows, int ncols, const char *const *cells);

/*
 * The script. Each helper is a macro recording the test's own line, so that cmocka's reports of
 * an unexpected call or of an unused script entry point at the test.
 */

/* The next PQconnectdbParams: a connection in this status with this PQerrorMessage. */
#define mock_pq_will_connect(status, errmsg)                                                       \
    mock_pq_will_connect_at(status, errmsg, __FILE__, __LINE__)
/* The next PQconnectdbParams returns NULL (libpq out of memory). */
#define mock_pq_will_connect_null() mock_pq_will_connect_null_at(__FILE__, __LINE__)
/* The next PQsendQuery / PQsendQueryParams: accepted when errmsg is NULL, else refused with it. */
#define mock_pq_will_send(errmsg)        mock_pq_will_send_at(errmsg, __FILE__, __LINE__)
#define mock_pq_will_send_params(errmsg) mock_pq_will_send_params_at(errmsg, __FILE__, __LINE__)
/* PQisBusy says 0, then PQgetResult returns res (NULL: no more results). */
#define mock_pq_will_result(res) mock_pq_will_result_at(res, __FILE__, __LINE__)
/* PQgetResult returns res, with no PQisBusy before it (after a failed PQconsumeInput). */
#define mock_pq_will_get_result(res) mock_pq_will_get_result_at(res, __FILE__, __LINE__)
/* PQisBusy says 1, data arrives, then PQconsumeInput succeeds (errmsg NULL) or fails so. */
#define mock_pq_will_wait(consume_errmsg) mock_pq_will_wait_at(consume_errmsg, __FILE__, __LINE__)
/* PQisBusy says 1 and nothing arrives until a cancel; then PQconsumeInput succeeds. */
#define mock_pq_will_stall() mock_pq_will_stall_at(__FILE__, __LINE__)

/* PQgetCopyData(conn, &buf, 1) during a stream: a row (its text, usually ending in '\n'). */
#define mock_pq_will_copy_row(row) mock_pq_will_copy_row_at(row, __FILE__, __LINE__)
/* ... returns 0, data arrives, then PQconsumeInput succeeds or fails with consume_errmsg. */
#define mock_pq_will_copy_wait(consume_errmsg)                                                     \
    mock_pq_will_copy_wait_at(consume_errmsg, __FILE__, __LINE__)
/* ... returns 0 and nothing arrives (only a cancel ends the wait). No PQconsumeInput follows. */
#define mock_pq_will_copy_stall() mock_pq_will_copy_stall_at(__FILE__, __LINE__)
/* ... returns -1 (end of the COPY data; the final result follows from PQgetResult). */
#define mock_pq_will_copy_end() mock_pq_will_copy_end_at(__FILE__, __LINE__)
/* ... returns -2 with errmsg (the connection is gone). */
#define mock_pq_will_copy_lost(errmsg) mock_pq_will_copy_lost_at(errmsg, __FILE__, __LINE__)
/* PQgetCopyData(conn, &buf, 0) (blocking, while draining): a row when row is non-NULL, else -1. */
#define mock_pq_will_copy_blocking(row) mock_pq_will_copy_blocking_at(row, __FILE__, __LINE__)

void mock_pq_will_connect_at(ConnStatusType status, const char *errmsg, const char *file, int line);
void mock_pq_will_connect_null_at(const char *file, int line);
void mock_pq_will_send_at(const char *errmsg, const char *file, int line);
void mock_pq_will_send_params_at(const char *errmsg, const char *file, int line);
void mock_pq_will_result_at(PGresult *res, const char *file, int line);
void mock_pq_will_get_result_at(PGresult *res, const char *file, int line);
void mock_pq_will_wait_at(const char *consume_errmsg, const char *file, int line);
void mock_pq_will_stall_at(const char *file, int line);
void mock_pq_will_copy_row_at(const char *row, const char *file, int line);
void mock_pq_will_copy_wait_at(const char *consume_errmsg, const char *file, int line);
void mock_pq_will_copy_stall_at(const char *file, int line);
void mock_pq_will_copy_end_at(const char *file, int line);
void mock_pq_will_copy_lost_at(const char *errmsg, const char *file, int line);
void mock_pq_will_copy_blocking_at(const char *row, const char *file, int line);

/* What pg.c did. */
size_t mock_pq_live(void);     /* objects handed to pg.c and not freed yet */
int mock_pq_cancels(void);     /* PQcancel calls since setup */
int mock_pq_nonblocking(void); /* the last PQsetnonblocking argument (0 before any) */
int mock_pq_expand_dbname(void);
const char *mock_pq_connect_param(const char *key); /* NULL when not passed */
PQnoticeProcessor mock_pq_notice_processor(void);   /* the last one installed */
size_t mock_pq_nsent(void);                         /* statements sent since setup */
const char *mock_pq_sent_sql(size_t i);
bool mock_pq_sent_with_params(size_t i); /* PQsendQueryParams rather than PQsendQuery */
int mock_pq_sent_nparams(size_t i);
const char *mock_pq_sent_param(size_t i, int j); /* NULL for SQL NULL */

#endif
