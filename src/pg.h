/*
 * PostgreSQL access over libpq: a connection with a statement timeout and a UTC session, small
 * queries whose results fit in memory, and a streaming reader for large results that never holds
 * the whole result (COPY (query) TO STDOUT, decoded row by row). A cancel flag set by a signal
 * handler is polled while waiting for the server; when it is set, the running query is cancelled
 * server-side and the call fails. libpq types never leave pg.c. Errors carry the server's message
 * and use JR_E_DB.
 */
#ifndef JR_PG_H
#define JR_PG_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

struct jr_err;
struct pg;
struct pg_rows;

/* Connect with conninfo (a URI or key=value string; "" for libpq's PG* defaults), then set
 * statement_timeout (seconds, 0 = none), TimeZone=UTC and application_name=jobreport. */
struct pg *pg_open(const char *conninfo, unsigned statement_timeout_s, struct jr_err *err);

/* Close the connection. NULL is a no-op. */
void pg_close(struct pg *pg);

/* The flag pg polls while waiting (set to non-zero by a SIGINT/SIGTERM handler). */
void pg_set_cancel_flag(struct pg *pg, volatile sig_atomic_t *flag);

/* Run a statement that returns no rows (or whose rows are ignored). */
int pg_exec(struct pg *pg, const char *sql, struct jr_err *err);

/* Run a query with text parameters (NULL entries are SQL NULL) and keep its whole result: use it
 * for small results only. Returns NULL on failure. */
struct pg_rows *pg_query(struct pg *pg, const char *sql, int nparams, const char *const *params,
                         struct jr_err *err);
size_t pg_result_rows(const struct pg_rows *r);
/* The value at (row, col), or NULL for SQL NULL. Borrowed until pg_result_free. */
const char *pg_result_value(const struct pg_rows *r, size_t row, int col);
void pg_result_free(struct pg_rows *r);

/* The SQLSTATE of the last failed statement ("" when none), e.g. "55P03" for a lock timeout. */
const char *pg_last_sqlstate(const struct pg *pg);

/* s as a quoted SQL literal, escaped for this connection. Caller frees. */
char *pg_literal(struct pg *pg, const char *s);

/* Start streaming `SELECT ...` (embedded in COPY (...) TO STDOUT): all values must be literals. */
int pg_stream_begin(struct pg *pg, const char *select_sql, struct jr_err *err);

/*
 * The next row: returns 1 and sets *fields (NULL entries for SQL NULL) and *nfields; 0 at the end
 * of the result; -1 on failure (connection lost, query error, cancelled). The fields are valid
 * until the next call only: copy what you keep.
 */
int pg_stream_next(struct pg *pg, char ***fields, size_t *nfields, struct jr_err *err);

/* Abandon a stream early (cancels the query and drains the connection). */
void pg_stream_abort(struct pg *pg);

#endif
