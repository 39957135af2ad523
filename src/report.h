/*
 * N-day reports (SPEC §5.1): the status wording, the row format, and the streaming engine that
 * turns one pass over a service-ordered, newest-first row stream into every window's report.
 *
 * The windows of a run share their end, so each N-day report is a prefix of the widest one: a row
 * goes to every window whose start it is not older than. A report object is opened at its first
 * row (an empty window never writes anything; its object is deleted at the end), written as rows
 * arrive, and committed when its service ends, on background threads so uploads overlap the
 * stream. A failure of one service's report is recorded and never stops the others. Memory does
 * not grow with the number of rows.
 */
#ifndef JR_REPORT_H
#define JR_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "window.h"

struct buf;
struct jr_err;
struct storage;

#define REPORT_HEADER                                                                              \
    "Phone Number,Template,Sent By,Carrier,Status,Time,Batch File,Carrier Response"
#define REPORT_MAX_WINDOWS 8
#define REPORT_UNAVAILABLE "Unavailable"

/* The notify_statuses enum, in schema order; REPORT_STATUS_OTHER counts anything else. */
enum { REPORT_NSTATUS = 14, REPORT_STATUS_OTHER = 13 };

extern const char *const report_status_names[REPORT_NSTATUS];

/* The index of a raw status in report_status_names (REPORT_STATUS_OTHER when unknown). */
int report_status_index(const char *status);

/* The Status column for a raw notification_status and template type ("sms", "email", other):
 * the table of SPEC §5.1, any other status as its raw value. NULL status gives "". */
const char *report_status_text(const char *status, const char *template_type);

/* One notification as the report shows it. Strings may be NULL (empty field). */
struct report_row {
    const char *recipient; /* phone/email, REPORT_UNAVAILABLE, or NULL (no job) */
    size_t recipient_len;
    bool unavailable; /* recipient is REPORT_UNAVAILABLE */
    const char *template_name;
    const char *sent_by;
    const char *carrier;
    const char *status;        /* raw notification_status */
    const char *template_type; /* decides the Status wording */
    const char *created_at;    /* "YYYY-MM-DD HH:MM:SS[.ffffff]" UTC; the first 19 chars shown */
    const char *batch_file;
    const char *provider_response;
};

/* Append the row's CSV record (with CRLF) to b. */
void report_format_row(struct buf *b, const struct report_row *row, bool escape_formulas);

/* The object key of a service's N-day report: "<service_id>-service-notify/<N>-day-report.csv". */
void report_key(char *out, size_t size, const char *service_id, unsigned days);

enum report_outcome {
    REPORT_PENDING,
    REPORT_WRITTEN, /* committed (or, in a dry run, would have been) */
    REPORT_REMOVED, /* no rows: the object was deleted (or would have been) */
    REPORT_FAILED,  /* writing, committing or deleting failed; the old object is untouched */
};

/* The outcome of one (service, window) report. No PII. */
struct report_result {
    char service_id[40];
    unsigned days;
    char key[96];
    jr_usec start;
    jr_usec end;
    enum report_outcome outcome;
    size_t rows;           /* rows written */
    size_t rows_in_window; /* before --max-rows truncation */
    bool truncated;
    size_t unavailable; /* rows whose Phone Number is Unavailable */
    size_t status_counts[REPORT_NSTATUS];
    int64_t bytes;
    unsigned char sha256[32];
    char error[300];
    int errcode; /* enum jr_errcode of a failure */
};

struct report_opts {
    struct window windows[REPORT_MAX_WINDOWS]; /* all with the same end */
    size_t nwindows;
    size_t max_rows; /* per report, newest kept; 0 = no limit */
    bool escape_formulas;
    bool dry_run;            /* compute everything, write and delete nothing */
    struct storage *storage; /* destination (NULL when out is set or dry_run) */
    FILE *out;               /* stream destination ('-'): one service, one window */
    unsigned upload_threads; /* background commits, >= 1 */
};

struct report_engine;

/* A new engine. opts is copied. */
struct report_engine *report_engine_new(const struct report_opts *opts);

/* Rows of service_id follow until report_engine_service_end. */
int report_engine_service_begin(struct report_engine *e, const char *service_id,
                                struct jr_err *err);

/* Mark every report of the current service failed with msg (its rows are then ignored and its
 * old objects stay as they are). */
void report_engine_service_fail(struct report_engine *e, int code, const char *msg);

/* One row of the current service; rows come newest first. created_at must be in the
 * window_format_sql form. Returns -1 only for failures that must stop the run (stdout errors). */
int report_engine_row(struct report_engine *e, const struct report_row *row, const char *created_at,
                      struct jr_err *err);

/* End the current service: its reports are queued for commit, its empty windows for deletion. */
int report_engine_service_end(struct report_engine *e, struct jr_err *err);

/* Abandon the current service (the run failed mid-stream): its writers are aborted, so its old
 * objects stay as they were. */
void report_engine_service_abort(struct report_engine *e);

/* Wait for every commit, then delete the objects of empty windows (unless skip_removals: used
 * when the stream failed, so nothing is deleted on partial knowledge). */
int report_engine_finish(struct report_engine *e, bool skip_removals, struct jr_err *err);

/* Results in service order, windows in opts order. Valid until report_engine_free. */
const struct report_result *report_engine_results(struct report_engine *e, size_t *n);

void report_engine_free(struct report_engine *e);

#endif
