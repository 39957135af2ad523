/*
 * The queries jobreport runs against the Notify schema (SPEC §2), in one place: the services in
 * scope, the jobs whose files a run needs, the single ordered notification stream that feeds every
 * report, and the advisory lock that keeps runs from overlapping. It never selects
 * notifications."to" or normalised_to: they may briefly hold a real phone number.
 */
#ifndef JR_NOTIFY_DB_H
#define JR_NOTIFY_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "window.h"

struct jr_err;
struct pg;

struct notify_service {
    char id[40];
};

/*
 * Active services, sorted by id. When nids > 0 only those ids are taken: an id that does not exist
 * fails (JR_E_USAGE); an inactive one is skipped with a warning. shard_n > 0 keeps the services
 * whose id, read as a 128-bit big-endian number, is shard_k modulo shard_n. *out is freed by the
 * caller.
 */
int notify_db_services(struct pg *pg, const char *const *ids, size_t nids, unsigned shard_k,
                       unsigned shard_n, struct notify_service **out, size_t *n,
                       struct jr_err *err);

/* Which notifications a run reads. */
struct notify_filter {
    const struct notify_service *services;
    size_t nservices;
    jr_usec start;    /* inclusive */
    jr_usec end;      /* exclusive */
    const char *type; /* "sms", "email", or NULL for all */
};

/* Receives each job the filtered notifications reference, with the service whose bucket folder
 * holds its file and the template type of the notifications (one call per type). */
typedef int notify_job_fn(void *arg, const char *job_id, const char *service_id,
                          const char *template_type, struct jr_err *err);

int notify_db_jobs(struct pg *pg, const struct notify_filter *f, notify_job_fn *fn, void *arg,
                   struct jr_err *err);

/* One notification of the stream. Strings are borrowed until the next notify_db_next. */
struct notify_row {
    const char *service_id;
    const char *id;
    const char *job_id;     /* NULL for API sends */
    int64_t job_row_number; /* -1 when NULL */
    const char *template_name;
    const char *template_type; /* of the notification's template version (or its type) */
    const char *sent_by;
    const char *carrier;
    const char *status;
    const char *created_at; /* "YYYY-MM-DD HH:MM:SS.ffffff" */
    const char *batch_file;
    const char *provider_response;
};

/* Start the stream: rows of f ordered by service id, then created_at descending, then id. */
int notify_db_stream_begin(struct pg *pg, const struct notify_filter *f, struct jr_err *err);

/* 1 with a row, 0 at the end, -1 on failure. */
int notify_db_next(struct pg *pg, struct notify_row *row, struct jr_err *err);

/*
 * Take the advisory lock of `command` (and shard), waiting up to timeout_s seconds (0: do not
 * wait). Another holder gives JR_E_LOCKED. Held until the connection closes.
 */
int notify_db_lock(struct pg *pg, const char *command, unsigned shard, double timeout_s,
                   struct jr_err *err);

#endif
