/*
 * The in-memory job cache. Recipient blobs grow by copy-wipe-free rather than realloc, so no
 * stale copy of PII is left in freed heap memory. Memory is counted against a budget as it is
 * allocated; crossing it stops the load with a clear error instead of the OOM killer.
 */
#include "job_cache.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "log.h"
#include "storage.h"
#include "uuid.h"
#include "xalloc.h"

#include "banned.h"

enum jc_status {
    JC_PENDING,
    JC_OK,
    JC_MISSING,
    JC_TOO_BIG,
    JC_FAILED,
};

struct jc_column {
    uint32_t *off; /* nrows + 1 offsets into blob; NULL when the file has no such column */
    size_t off_cap;
    char *blob;
    size_t blob_len;
    size_t blob_cap;
};

struct jc_job {
    unsigned char id[16];
    unsigned char service[16];
    unsigned want;
    enum jc_status status;
    uint32_t nrows;
    struct jc_column col[JOBCSV_NKINDS];
};

/* Per-file warnings beyond this many are logged at debug level, then summarised once. */
#define JC_WARN_MAX 20

/* A service with a job file that storage failed to deliver. */
struct jc_failure {
    unsigned char service[16];
    char msg[300];
};

struct job_cache {
    struct job_cache_opts opts;
    struct jc_failure *failures;
    size_t nfailures;
    size_t warned;
    size_t unwarned;
    struct jc_job *jobs;
    size_t njobs;
    size_t cap;
    uint32_t *table; /* job index + 1; 0 = empty slot */
    size_t tcap;     /* power of two */
    size_t memory;
    bool over_budget;
    struct job_cache_stats st;
};

/* One download in flight. */
struct jc_load {
    struct job_cache *jc;
    struct jc_job *job;
    struct jobcsv *parser;
    char key[128];
    char legacy[128];
};

void
job_cache_opts_init(struct job_cache_opts *opts)
{
    opts->max_file_bytes = (int64_t)256 << 20;
    opts->max_memory = (size_t)4 << 30;
    opts->parallel = 8;
    opts->max_field = (size_t)1 << 20;
    opts->max_record = (size_t)4 << 20;
}

struct job_cache *
job_cache_new(const struct job_cache_opts *opts)
{
    struct job_cache *jc = xcalloc(1, sizeof(*jc));

    jc->opts = *opts;
    jc->tcap = 64;
    jc->table = xcalloc(jc->tcap, sizeof(*jc->table));
    return jc;
}

static void
column_release(struct job_cache *jc, struct jc_column *c)
{
    xwipe(c->blob, c->blob_cap);
    free(c->blob);
    free(c->off);
    jc->memory -= c->blob_cap + c->off_cap * sizeof(*c->off);
    memset(c, 0, sizeof(*c));
}

void
job_cache_free(struct job_cache *jc)
{
    if (!jc)
        return;
    for (size_t i = 0; i < jc->njobs; i++)
        for (int k = 0; k < JOBCSV_NKINDS; k++)
            column_release(jc, &jc->jobs[i].col[k]);
    free(jc->jobs);
    free(jc->table);
    free(jc->failures);
    free(jc);
}

static size_t
key_hash(const unsigned char key[16])
{
    uint64_t h;

    memcpy(&h, key + 8, sizeof(h)); /* the random half of a v4 UUID */
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return (size_t)h;
}

static struct jc_job *
find_job(const struct job_cache *jc, const unsigned char key[16])
{
    size_t mask = jc->tcap - 1;

    for (size_t i = key_hash(key) & mask;; i = (i + 1) & mask) {
        uint32_t slot = jc->table[i];

        if (!slot)
            return NULL;
        if (memcmp(jc->jobs[slot - 1].id, key, 16) == 0)
            return &jc->jobs[slot - 1];
    }
}

static void
table_insert(struct job_cache *jc, size_t index)
{
    size_t mask = jc->tcap - 1;
    size_t i = key_hash(jc->jobs[index].id) & mask;

    while (jc->table[i])
        i = (i + 1) & mask;
    jc->table[i] = (uint32_t)(index + 1);
}

int
job_cache_key(const char *job_id, unsigned char key[16])
{
    return uuid_parse(job_id, key);
}

int
job_cache_want(struct job_cache *jc, const char *job_id, const char *service_id,
               enum jobcsv_kind kind, struct jr_err *err)
{
    unsigned char id[16];
    unsigned char svc[16];
    struct jc_job *job;

    if (uuid_parse(job_id, id) < 0 || uuid_parse(service_id, svc) < 0)
        return jr_err_set(err, JR_E_DATA, "malformed job or service id in the database");
    job = find_job(jc, id);
    if (job) {
        job->want |= 1u << kind;
        return 0;
    }
    if (jc->njobs == jc->cap) {
        jc->cap = jc->cap ? jc->cap * 2 : 256;
        jc->jobs = xreallocarray(jc->jobs, jc->cap, sizeof(*jc->jobs));
    }
    if ((jc->njobs + 1) * 2 > jc->tcap) {
        free(jc->table);
        jc->tcap *= 2;
        jc->table = xcalloc(jc->tcap, sizeof(*jc->table));
        for (size_t i = 0; i < jc->njobs; i++)
            table_insert(jc, i);
    }
    job = &jc->jobs[jc->njobs];
    memset(job, 0, sizeof(*job));
    memcpy(job->id, id, 16);
    memcpy(job->service, svc, 16);
    job->want = 1u << kind;
    job->status = JC_PENDING;
    table_insert(jc, jc->njobs);
    jc->njobs++;
    jc->st.jobs = jc->njobs;
    return 0;
}

/* Grow the blob to hold `extra` more bytes: copy, wipe the old block, free it. */
static int
blob_reserve(struct job_cache *jc, struct jc_column *c, size_t extra)
{
    size_t need = c->blob_len + extra;
    size_t cap;
    char *nb;

    if (need <= c->blob_cap)
        return 0;
    cap = c->blob_cap ? c->blob_cap * 2 : 4096;
    while (cap < need)
        cap *= 2;
    if (need > UINT32_MAX)
        return -1;
    if (jc->memory + (cap - c->blob_cap) > jc->opts.max_memory) {
        jc->over_budget = true;
        return -1;
    }
    nb = xmalloc(cap);
    if (c->blob_len)
        memcpy(nb, c->blob, c->blob_len);
    xwipe(c->blob, c->blob_cap);
    free(c->blob);
    jc->memory += cap - c->blob_cap;
    c->blob = nb;
    c->blob_cap = cap;
    return 0;
}

static int
off_reserve(struct job_cache *jc, struct jc_column *c, size_t n)
{
    size_t cap;

    if (n <= c->off_cap)
        return 0;
    cap = c->off_cap ? c->off_cap * 2 : 256;
    while (cap < n)
        cap *= 2;
    if (jc->memory + (cap - c->off_cap) * sizeof(*c->off) > jc->opts.max_memory) {
        jc->over_budget = true;
        return -1;
    }
    c->off = xreallocarray(c->off, cap, sizeof(*c->off));
    if (c->off_cap == 0)
        c->off[0] = 0;
    jc->memory += (cap - c->off_cap) * sizeof(*c->off);
    c->off_cap = cap;
    return 0;
}

static int
on_row(void *arg, const struct jobcsv_row *row)
{
    struct jc_load *ld = arg;
    struct jc_job *job = ld->job;

    if (row->index >= UINT32_MAX - 1)
        return -1;
    for (int k = 0; k < JOBCSV_NKINDS; k++) {
        struct jc_column *c = &job->col[k];
        size_t len = row->recipient[k] ? row->recipient_len[k] : 0;

        if (!(job->want & (1u << k)))
            continue;
        if (off_reserve(ld->jc, c, (size_t)job->nrows + 2) < 0 || blob_reserve(ld->jc, c, len) < 0)
            return -1;
        if (len)
            memcpy(c->blob + c->blob_len, row->recipient[k], len);
        c->blob_len += len;
        c->off[job->nrows + 1] = (uint32_t)c->blob_len;
    }
    job->nrows++;
    return 0;
}

static void
job_reset(struct job_cache *jc, struct jc_job *job)
{
    for (int k = 0; k < JOBCSV_NKINDS; k++)
        column_release(jc, &job->col[k]);
    job->nrows = 0;
}

static int
on_data(void *arg, const void *data, size_t len)
{
    struct jc_load *ld = arg;

    if (!ld->parser) {
        struct jobcsv_limits lim = {ld->jc->opts.max_field, ld->jc->opts.max_record};

        ld->parser = jobcsv_new(ld->job->want, &lim, on_row, ld);
    }
    return jobcsv_feed(ld->parser, data, len);
}

static void
on_reset(void *arg)
{
    struct jc_load *ld = arg;

    if (ld->parser)
        jobcsv_reset(ld->parser);
    job_reset(ld->jc, ld->job);
}

/* Give back the unused tail of a finished column (copy-wipe-free for the blob). */
static void
column_shrink(struct job_cache *jc, struct jc_column *c, uint32_t nrows)
{
    if (c->blob_cap > c->blob_len) {
        char *nb = c->blob_len ? xmalloc(c->blob_len) : NULL;

        if (c->blob_len)
            memcpy(nb, c->blob, c->blob_len);
        xwipe(c->blob, c->blob_cap);
        free(c->blob);
        jc->memory -= c->blob_cap - c->blob_len;
        c->blob = nb;
        c->blob_cap = c->blob_len;
    }
    if (c->off && c->off_cap > (size_t)nrows + 1) {
        c->off = xreallocarray(c->off, (size_t)nrows + 1, sizeof(*c->off));
        jc->memory -= (c->off_cap - ((size_t)nrows + 1)) * sizeof(*c->off);
        c->off_cap = (size_t)nrows + 1;
    }
}

JR_PRINTF(2, 3) static void jc_warn(struct job_cache *jc, const char *fmt, ...)
{
    char msg[600];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (jc->warned < JC_WARN_MAX) {
        jc->warned++;
        log_warn("%s", msg);
    } else {
        jc->unwarned++;
        log_debug("%s", msg);
    }
}

static void
record_failure(struct job_cache *jc, const unsigned char service[16], const char *key,
               const char *why)
{
    struct jc_failure *f;

    for (size_t i = 0; i < jc->nfailures; i++)
        if (memcmp(jc->failures[i].service, service, 16) == 0)
            return; /* the first failure of a service is the one reported */
    jc->failures = xreallocarray(jc->failures, jc->nfailures + 1, sizeof(*jc->failures));
    f = &jc->failures[jc->nfailures++];
    memcpy(f->service, service, 16);
    snprintf(f->msg, sizeof(f->msg), "cannot read job file '%s': %.200s", key, why);
}

const char *
job_cache_service_failure(const struct job_cache *jc, const char *service_id)
{
    unsigned char svc[16];

    if (uuid_parse(service_id, svc) < 0)
        return NULL;
    for (size_t i = 0; i < jc->nfailures; i++)
        if (memcmp(jc->failures[i].service, svc, 16) == 0)
            return jc->failures[i].msg;
    return NULL;
}

static const char *const kind_column[JOBCSV_NKINDS] = {"phone number", "email address"};

/* Record the outcome of one download, log what went wrong (ids and counts only). */
static void
finish_job(struct jc_load *ld, struct storage_fetch *it)
{
    struct job_cache *jc = ld->jc;
    struct jc_job *job = ld->job;
    char id[UUID_STR_LEN + 1];
    const char *key = it->used_fallback ? ld->legacy : ld->key;
    const struct jobcsv_stats *ps;
    size_t bad;

    uuid_format(job->id, id);
    jc->st.bytes += it->bytes;
    switch (it->status) {
    case STORAGE_FETCH_MISSING:
        job->status = JC_MISSING;
        jc->st.missing++;
        jc_warn(jc, "job '%s': no job file at '%s' or '%s'; its rows are Unavailable", id, ld->key,
                ld->legacy);
        job_reset(jc, job);
        return;
    case STORAGE_FETCH_TOO_BIG:
        job->status = JC_TOO_BIG;
        jc->st.too_big++;
        jc_warn(jc,
                "job '%s': job file '%s' is larger than the %lld-byte limit; its rows are "
                "Unavailable",
                id, key, (long long)jc->opts.max_file_bytes);
        job_reset(jc, job);
        return;
    case STORAGE_FETCH_FAILED:
        job->status = JC_FAILED;
        jc->st.failed++;
        record_failure(jc, job->service, key, it->errmsg);
        log_error("job '%s': cannot read job file '%s': %s; the reports of its service are not "
                  "replaced",
                  id, key, it->errmsg);
        job_reset(jc, job);
        return;
    case STORAGE_FETCH_ABORTED:
    case STORAGE_FETCH_OK:
        break;
    }
    if (jc->over_budget)
        return;
    if (!ld->parser)
        on_data(ld, "", 0);
    if (it->status == STORAGE_FETCH_OK)
        jobcsv_finish(ld->parser);
    if (jc->over_budget)
        return;
    job->status = JC_OK;
    jc->st.loaded++;
    if (it->used_fallback) {
        jc->st.legacy_key++;
        log_info("job '%s': job file read from the legacy key '%s'", id, key);
    }
    ps = jobcsv_get_stats(ld->parser);
    jc->st.rows += ps->rows;
    for (int k = 0; k < JOBCSV_NKINDS; k++) {
        if (!(job->want & (1u << k)))
            continue;
        if (!ps->column_found[k]) {
            jc->st.malformed++;
            jc_warn(jc,
                    "job '%s': job file '%s' has no '%s' column; all its rows are Unavailable "
                    "(%zu)",
                    id, key, kind_column[k], ps->rows);
            column_release(jc, &job->col[k]);
            continue;
        }
        if (!job->col[k].off && off_reserve(jc, &job->col[k], 1) < 0)
            return;
        column_shrink(jc, &job->col[k], job->nrows);
    }
    if (ps->field_too_long) {
        jc->st.malformed++;
        jc_warn(jc,
                "job '%s': job file '%s' has a field over the %zu-byte limit; rows from %zu on "
                "are Unavailable",
                id, key, jc->opts.max_field, ps->rows);
    }
    bad = ps->blank_rows + ps->short_rows + ps->bad_utf8_rows + ps->too_long_rows +
          ps->empty_recipients;
    if (bad) {
        jc->st.bad_rows += bad;
        jc_warn(jc,
                "job '%s': job file '%s': rows Unavailable: %zu (short %zu, blank %zu, invalid "
                "UTF-8 %zu, over the size limit %zu, empty recipient %zu)",
                id, key, bad, ps->short_rows, ps->blank_rows, ps->bad_utf8_rows, ps->too_long_rows,
                ps->empty_recipients);
    }
}

int
job_cache_load(struct job_cache *jc, struct storage *st, struct jr_err *err)
{
    unsigned parallel = jc->opts.parallel ? jc->opts.parallel : 1;
    size_t batch = (size_t)parallel * 4;
    struct storage_fetch *items = xcalloc(batch, sizeof(*items));
    struct jc_load *loads = xcalloc(batch, sizeof(*loads));
    struct timespec t0;
    struct timespec t1;
    int rc = 0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t base = 0; base < jc->njobs && rc == 0; base += batch) {
        size_t n = jc->njobs - base < batch ? jc->njobs - base : batch;

        for (size_t i = 0; i < n; i++) {
            struct jc_load *ld = &loads[i];
            char job[UUID_STR_LEN + 1];
            char svc[UUID_STR_LEN + 1];

            memset(ld, 0, sizeof(*ld));
            ld->jc = jc;
            ld->job = &jc->jobs[base + i];
            uuid_format(ld->job->id, job);
            uuid_format(ld->job->service, svc);
            snprintf(ld->key, sizeof(ld->key), "%s-service-notify/%s.csv", svc, job);
            snprintf(ld->legacy, sizeof(ld->legacy), "service-%s-notify/%s.csv", svc, job);
            memset(&items[i], 0, sizeof(items[i]));
            items[i].key = ld->key;
            items[i].fallback_key = ld->legacy;
            items[i].max_bytes = jc->opts.max_file_bytes;
            items[i].on_data = on_data;
            items[i].on_reset = on_reset;
            items[i].arg = ld;
        }
        rc = storage_fetch_many(st, items, n, parallel, err);
        for (size_t i = 0; i < n; i++) {
            if (rc == 0)
                finish_job(&loads[i], &items[i]);
            jobcsv_free(loads[i].parser);
            loads[i].parser = NULL;
        }
        if (rc == 0 && jc->over_budget)
            rc = jr_err_set(err, JR_E_DATA,
                            "job cache exceeds its memory budget of %zu bytes after %zu of %zu job "
                            "files",
                            jc->opts.max_memory, base + n, jc->njobs);
    }
    free(items);
    free(loads);
    if (jc->unwarned)
        log_warn("%zu more job file warnings like the ones above (shown with -vv)", jc->unwarned);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    jc->st.seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    jc->st.memory = jc->memory;
    return rc;
}

enum job_cache_miss
job_cache_get(const struct job_cache *jc, const unsigned char key[16], enum jobcsv_kind kind,
              int64_t row, const char **s, size_t *len)
{
    const struct jc_job *job = find_job(jc, key);
    const struct jc_column *c;

    if (!job || job->status != JC_OK || !job->col[kind].off)
        return JOB_CACHE_NO_JOB;
    if (row < 0 || row >= (int64_t)job->nrows)
        return JOB_CACHE_NO_ROW;
    c = &job->col[kind];
    *len = c->off[row + 1] - c->off[row];
    if (*len == 0)
        return JOB_CACHE_ROW_EMPTY;
    *s = c->blob + c->off[row];
    return JOB_CACHE_HIT;
}

const struct job_cache_stats *
job_cache_get_stats(const struct job_cache *jc)
{
    return &jc->st;
}
