/*
 * Report formatting and the streaming report engine. Each row is formatted once and appended to
 * every window it belongs to. Commits run on a small pool of threads fed through a bounded queue,
 * so at most (threads + queue) finished reports wait in memory while the stream moves on.
 */
#include "report.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "buf.h"
#include "csv_out.h"
#include "err.h"
#include "log.h"
#include "storage.h"
#include "xalloc.h"

#include "banned.h"

#define COMMIT_QUEUE 8

const char *const report_status_names[REPORT_NSTATUS] = {
    "cancelled",
    "created",
    "sending",
    "sent",
    "delivered",
    "pending",
    "failed",
    "technical-failure",
    "temporary-failure",
    "permanent-failure",
    "pending-virus-check",
    "validation-failed",
    "virus-scan-failed",
    "other",
};

int
report_status_index(const char *status)
{
    if (status)
        for (int i = 0; i < REPORT_STATUS_OTHER; i++)
            if (strcmp(status, report_status_names[i]) == 0)
                return i;
    return REPORT_STATUS_OTHER;
}

/* SPEC §5.1's table: {status, sms wording, email wording}. */
static const char *const status_table[][3] = {
    {"failed", "Failed", "Failed"},
    {"technical-failure", "Technical failure", "Technical failure"},
    {"temporary-failure", "Unable to find carrier response -- still looking",
     "Inbox not accepting messages right now"},
    {"permanent-failure", "Unable to find carrier response.",
     "Email address doesn\xe2\x80\x99t exist"},
    {"delivered", "Delivered", "Delivered"},
    {"pending", "Pending", "pending"},
    {"sending", "Sending", "Sending"},
    {"created", "Sending", "Sending"},
    {"sent", "Sent internationally", "Delivered"},
};

const char *
report_status_text(const char *status, const char *template_type)
{
    int col;

    if (!status)
        return "";
    if (template_type && strcmp(template_type, "sms") == 0)
        col = 1;
    else if (template_type && strcmp(template_type, "email") == 0)
        col = 2;
    else
        return status;
    for (size_t i = 0; i < JR_ARRAY_LEN(status_table); i++)
        if (strcmp(status, status_table[i][0]) == 0)
            return status_table[i][col];
    return status;
}

void
report_format_row(struct buf *b, const struct report_row *r, bool esc)
{
    const char *status = report_status_text(r->status, r->template_type);
    size_t tlen = r->created_at ? strlen(r->created_at) : 0;

    csv_out_field(b, r->recipient, r->recipient ? r->recipient_len : 0, esc, false);
    csv_out_str(b, r->template_name, esc, false);
    csv_out_str(b, r->sent_by, esc, false);
    csv_out_str(b, r->carrier, esc, false);
    csv_out_str(b, status, esc, false);
    csv_out_field(b, r->created_at, tlen > 19 ? 19 : tlen, esc, false);
    csv_out_str(b, r->batch_file, esc, false);
    csv_out_str(b, r->provider_response, esc, true);
}

void
report_key(char *out, size_t size, const char *service_id, unsigned days)
{
    snprintf(out, size, "%s-service-notify/%u-day-report.csv", service_id, days);
}

struct commit_task {
    struct storage_writer *w;
    struct report_result *res;
};

struct report_engine {
    struct report_opts o;
    char start_sql[REPORT_MAX_WINDOWS][27];

    struct report_result **blocks; /* one block of nwindows results per service */
    size_t nblocks;
    size_t cap;
    struct report_result *cur; /* the current service's block, or NULL */
    struct storage_writer *w[REPORT_MAX_WINDOWS];
    EVP_MD_CTX *md[REPORT_MAX_WINDOWS];
    struct buf line;

    /* the commit pool */
    pthread_t *threads;
    unsigned nthreads;
    pthread_mutex_t mu;
    pthread_cond_t nonempty;
    pthread_cond_t nonfull;
    struct commit_task queue[COMMIT_QUEUE];
    size_t qhead;
    size_t qcount;
    bool stopping;

    /* flattened results for report_engine_results */
    struct report_result *flat;
};

static void
fail_result(struct report_result *r, const struct jr_err *err, const char *what)
{
    r->outcome = REPORT_FAILED;
    r->errcode = err->code;
    snprintf(r->error, sizeof(r->error), "%.299s", err->msg);
    log_error("cannot %s report '%s': %s", what, r->key, err->msg);
}

static void *
commit_worker(void *arg)
{
    struct report_engine *e = arg;

    for (;;) {
        struct commit_task t;
        struct jr_err err = JR_ERR_INIT;

        pthread_mutex_lock(&e->mu);
        while (!e->qcount && !e->stopping)
            pthread_cond_wait(&e->nonempty, &e->mu);
        if (!e->qcount) {
            pthread_mutex_unlock(&e->mu);
            return NULL;
        }
        t = e->queue[e->qhead];
        e->qhead = (e->qhead + 1) % COMMIT_QUEUE;
        e->qcount--;
        pthread_cond_signal(&e->nonfull);
        pthread_mutex_unlock(&e->mu);

        if (storage_writer_commit(t.w, NULL, &err) < 0)
            fail_result(t.res, &err, "store");
        else
            t.res->outcome = REPORT_WRITTEN;
    }
}

static void
submit(struct report_engine *e, struct storage_writer *w, struct report_result *res)
{
    pthread_mutex_lock(&e->mu);
    while (e->qcount == COMMIT_QUEUE)
        pthread_cond_wait(&e->nonfull, &e->mu);
    e->queue[(e->qhead + e->qcount) % COMMIT_QUEUE] = (struct commit_task){w, res};
    e->qcount++;
    pthread_cond_signal(&e->nonempty);
    pthread_mutex_unlock(&e->mu);
}

struct report_engine *
report_engine_new(const struct report_opts *opts)
{
    struct report_engine *e = xcalloc(1, sizeof(*e));

    e->o = *opts;
    if (e->o.upload_threads == 0)
        e->o.upload_threads = 1;
    for (size_t i = 0; i < e->o.nwindows; i++)
        window_format_sql(e->o.windows[i].start, e->start_sql[i]);
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->nonempty, NULL);
    pthread_cond_init(&e->nonfull, NULL);
    if (e->o.storage && !e->o.dry_run && !e->o.out) {
        e->nthreads = e->o.upload_threads;
        e->threads = xcalloc(e->nthreads, sizeof(*e->threads));
        for (unsigned i = 0; i < e->nthreads; i++) {
            if (pthread_create(&e->threads[i], NULL, commit_worker, e) != 0) {
                fprintf(stderr, "jobreport: fatal: cannot start upload thread\n");
                exit(1);
            }
        }
    }
    return e;
}

int
report_engine_service_begin(struct report_engine *e, const char *service_id, struct jr_err *err)
{
    struct report_result *block;

    (void)err;
    if (e->nblocks == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 64;
        e->blocks = xreallocarray(e->blocks, e->cap, sizeof(*e->blocks));
    }
    block = xcalloc(e->o.nwindows, sizeof(*block));
    for (size_t i = 0; i < e->o.nwindows; i++) {
        struct report_result *r = &block[i];

        snprintf(r->service_id, sizeof(r->service_id), "%s", service_id);
        r->days = e->o.windows[i].days;
        r->start = e->o.windows[i].start;
        r->end = e->o.windows[i].end;
        if (e->o.out)
            snprintf(r->key, sizeof(r->key), "-");
        else
            report_key(r->key, sizeof(r->key), service_id, r->days);
        e->w[i] = NULL;
        e->md[i] = NULL;
    }
    e->blocks[e->nblocks++] = block;
    e->cur = block;
    return 0;
}

static int
sink_write(struct report_engine *e, size_t i, const void *data, size_t len, struct jr_err *err)
{
    struct report_result *r = &e->cur[i];

    EVP_DigestUpdate(e->md[i], data, len);
    r->bytes += (int64_t)len;
    if (e->o.dry_run)
        return 0;
    if (e->o.out) {
        if (fwrite(data, 1, len, e->o.out) != len)
            return jr_err_errno(err, JR_E_IO, "cannot write the report to standard output");
        return 0;
    }
    return storage_writer_write(e->w[i], data, len, err);
}

/* Start window i's report at its first row. */
static int
sink_open(struct report_engine *e, size_t i, struct jr_err *err)
{
    static const struct storage_put_opts put = {"text/csv; charset=utf-8", true};

    e->md[i] = EVP_MD_CTX_new();
    if (!e->md[i] || EVP_DigestInit_ex(e->md[i], EVP_sha256(), NULL) != 1) {
        fprintf(stderr, "jobreport: fatal: cannot initialise SHA-256\n");
        exit(1);
    }
    if (!e->o.dry_run && !e->o.out) {
        e->w[i] = storage_writer_open(e->o.storage, e->cur[i].key, &put, err);
        if (!e->w[i])
            return -1;
    }
    return sink_write(e, i, REPORT_HEADER "\r\n", sizeof(REPORT_HEADER "\r\n") - 1, err);
}

void
report_engine_service_fail(struct report_engine *e, int code, const char *msg)
{
    for (size_t i = 0; i < e->o.nwindows; i++) {
        struct report_result *r = &e->cur[i];

        r->outcome = REPORT_FAILED;
        r->errcode = code;
        snprintf(r->error, sizeof(r->error), "%s", msg);
    }
}

static void
window_fail(struct report_engine *e, size_t i, const struct jr_err *err)
{
    fail_result(&e->cur[i], err, "write");
    storage_writer_abort(e->w[i]);
    e->w[i] = NULL;
}

int
report_engine_row(struct report_engine *e, const struct report_row *row, const char *created_at,
                  struct jr_err *err)
{
    bool formatted = false;
    int status = -1;

    for (size_t i = 0; i < e->o.nwindows; i++) {
        struct report_result *r = &e->cur[i];
        struct jr_err werr = JR_ERR_INIT;

        if (strcmp(created_at, e->start_sql[i]) < 0)
            continue;
        r->rows_in_window++;
        if (e->o.max_rows && r->rows >= e->o.max_rows) {
            r->truncated = true;
            continue;
        }
        if (r->outcome == REPORT_FAILED)
            continue;
        if (!formatted) {
            buf_reset(&e->line);
            report_format_row(&e->line, row, e->o.escape_formulas);
            status = report_status_index(row->status);
            formatted = true;
        }
        if (!e->md[i] && sink_open(e, i, &werr) < 0) {
            if (e->o.out)
                return jr_err_set(err, werr.code, "%s", werr.msg);
            window_fail(e, i, &werr);
            continue;
        }
        if (sink_write(e, i, e->line.data, e->line.len, &werr) < 0) {
            if (e->o.out)
                return jr_err_set(err, werr.code, "%s", werr.msg);
            window_fail(e, i, &werr);
            continue;
        }
        r->rows++;
        r->status_counts[status]++;
        if (row->unavailable)
            r->unavailable++;
    }
    return 0;
}

int
report_engine_service_end(struct report_engine *e, struct jr_err *err)
{
    (void)err;
    for (size_t i = 0; i < e->o.nwindows; i++) {
        struct report_result *r = &e->cur[i];

        if (e->md[i]) {
            unsigned int len = 0;

            EVP_DigestFinal_ex(e->md[i], r->sha256, &len);
            EVP_MD_CTX_free(e->md[i]);
            e->md[i] = NULL;
        }
        if (r->outcome == REPORT_FAILED)
            continue;
        if (r->rows == 0) {
            if (e->o.dry_run || e->o.out)
                r->outcome = REPORT_REMOVED;
            continue; /* deleted in report_engine_finish */
        }
        if (e->o.dry_run || e->o.out)
            r->outcome = REPORT_WRITTEN;
        else {
            submit(e, e->w[i], r);
            e->w[i] = NULL;
        }
    }
    e->cur = NULL;
    return 0;
}

void
report_engine_service_abort(struct report_engine *e)
{
    if (!e->cur)
        return;
    for (size_t i = 0; i < e->o.nwindows; i++) {
        storage_writer_abort(e->w[i]);
        e->w[i] = NULL;
        EVP_MD_CTX_free(e->md[i]);
        e->md[i] = NULL;
        if (e->cur[i].outcome == REPORT_PENDING) {
            e->cur[i].outcome = REPORT_FAILED;
            e->cur[i].errcode = JR_E_INTERNAL;
            snprintf(e->cur[i].error, sizeof(e->cur[i].error),
                     "not written: the run stopped while reading this service's rows");
        }
    }
    e->cur = NULL;
}

static void
stop_pool(struct report_engine *e)
{
    if (!e->threads)
        return;
    pthread_mutex_lock(&e->mu);
    e->stopping = true;
    pthread_cond_broadcast(&e->nonempty);
    pthread_mutex_unlock(&e->mu);
    for (unsigned i = 0; i < e->nthreads; i++)
        pthread_join(e->threads[i], NULL);
    free(e->threads);
    e->threads = NULL;
}

int
report_engine_finish(struct report_engine *e, bool skip_removals, struct jr_err *err)
{
    const char **keys;
    struct report_result **owners;
    bool *failed;
    size_t n = 0;

    report_engine_service_abort(e);
    stop_pool(e);
    if (e->o.dry_run || e->o.out)
        return 0;
    keys = xcalloc(e->nblocks * e->o.nwindows + 1, sizeof(*keys));
    owners = xcalloc(e->nblocks * e->o.nwindows + 1, sizeof(*owners));
    for (size_t b = 0; b < e->nblocks; b++) {
        for (size_t i = 0; i < e->o.nwindows; i++) {
            struct report_result *r = &e->blocks[b][i];

            if (r->outcome != REPORT_PENDING || r->rows != 0)
                continue;
            if (skip_removals) {
                snprintf(r->error, sizeof(r->error),
                         "not deleted: the run failed before it could confirm the window is empty");
                continue;
            }
            keys[n] = r->key;
            owners[n++] = r;
        }
    }
    failed = xcalloc(n + 1, sizeof(*failed));
    if (n && storage_remove_many(e->o.storage, keys, n, failed, err) < 0) {
        for (size_t i = 0; i < n; i++)
            fail_result(owners[i], err, "delete");
    } else {
        for (size_t i = 0; i < n; i++) {
            if (failed[i]) {
                owners[i]->outcome = REPORT_FAILED;
                owners[i]->errcode = JR_E_STORAGE;
                snprintf(owners[i]->error, sizeof(owners[i]->error), "cannot delete '%s'",
                         owners[i]->key);
            } else {
                owners[i]->outcome = REPORT_REMOVED;
            }
        }
    }
    jr_err_clear(err);
    free(failed);
    free(keys);
    free(owners);
    return 0;
}

const struct report_result *
report_engine_results(struct report_engine *e, size_t *n)
{
    free(e->flat);
    e->flat = xcalloc(e->nblocks * e->o.nwindows + 1, sizeof(*e->flat));
    for (size_t b = 0; b < e->nblocks; b++)
        memcpy(e->flat + b * e->o.nwindows, e->blocks[b], e->o.nwindows * sizeof(*e->flat));
    *n = e->nblocks * e->o.nwindows;
    return e->flat;
}

void
report_engine_free(struct report_engine *e)
{
    if (!e)
        return;
    report_engine_service_abort(e);
    stop_pool(e);
    for (size_t b = 0; b < e->nblocks; b++)
        free(e->blocks[b]);
    free(e->blocks);
    free(e->flat);
    buf_release_wipe(&e->line);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->nonempty);
    pthread_cond_destroy(&e->nonfull);
    free(e);
}
