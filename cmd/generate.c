/*
 * jobreport generate: the nightly job. Options, then: database and lock, windows, services in
 * scope, the job cache for exactly the jobs the widest window references, one ordered stream of
 * notifications feeding every window of every service, deletion of empty windows, the summary.
 */
#include "cmd.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job_cache.h"
#include "log.h"
#include "notify_db.h"
#include "pg.h"
#include "report.h"
#include "storage.h"
#include "summary.h"
#include "uuid.h"
#include "xalloc.h"

#include "banned.h"

#define GENERATE_MAX_SERVICES_ARGS 1024

struct generate_opts {
    unsigned days[REPORT_MAX_WINDOWS];
    size_t ndays;
    const char *services[GENERATE_MAX_SERVICES_ARGS];
    size_t nservices;
    const char *dest;
    const char *as_of;
    const char *tz;
    bool until_now;
    const char *type; /* NULL = all */
    size_t max_rows;
    unsigned shard_k;
    unsigned shard_n;
    unsigned parallel;
    const char *summary;
    bool dry_run;
    bool escape_formulas;
};

void
cmd_generate_usage(FILE *f)
{
    fprintf(
        f, "usage: jobreport generate [options]\n"
           "\n"
           "Write the N-day reports of every active service: one streaming pass over the\n"
           "notifications of the widest window, joined with recipients from the job files.\n"
           "\n"
           "  --days LIST          windows to write, from 1,3,5,7 (default 1,3,5,7)\n"
           "  --service UUID       only this service (repeatable)\n"
           "  --dest DEST          s3://BUCKET[/PREFIX], a directory, or - for stdout\n"
           "                       (default: the bucket)\n"
           "  --as-of TIME         reference time in UTC, e.g. 2025-11-05T01:00:05Z (default now)\n"
           "  --tz ZONE            time zone of the calendar days (default UTC)\n"
           "  --until midnight|now end windows at 00:00 of the as-of day, or at as-of\n"
           "  --type all|sms|email notification types to include (default all)\n"
           "  --max-rows N         keep only the newest N rows of each report\n"
           "  --shard K/N          only services whose id is K modulo N\n"
           "  --parallel N         job files downloaded at once (default 8)\n"
           "  --summary FILE       write the JSON run summary to FILE (- for stdout)\n"
           "  --escape-formulas    prefix ' to cells starting with = + - @ TAB CR\n"
           "  --dry-run            do everything but write or delete reports\n"
           "  -h, --help           show this help\n");
}

JR_PRINTF(2, 3) static int usage_error(struct jr_err *err, const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return jr_err_set(err, JR_E_USAGE, "%s\nhint: see 'jobreport generate --help'", msg);
}

static int
parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    unsigned long long v;

    if (!s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

static int
parse_days(const char *s, struct generate_opts *o, struct jr_err *err)
{
    char *copy = xstrdup(s);
    char *save = NULL;
    int rc = 0;

    o->ndays = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok && rc == 0; tok = strtok_r(NULL, ",", &save)) {
        unsigned long long v;

        if (parse_uint(tok, 7, &v) < 0 || (v != 1 && v != 3 && v != 5 && v != 7)) {
            rc = usage_error(err, "invalid --days '%s': expected a list from 1,3,5,7", s);
            break;
        }
        for (size_t i = 0; i < o->ndays; i++)
            if (o->days[i] == v)
                goto next;
        o->days[o->ndays++] = (unsigned)v;
    next:;
    }
    if (rc == 0 && o->ndays == 0)
        rc = usage_error(err, "invalid --days '%s': expected a list from 1,3,5,7", s);
    free(copy);
    return rc;
}

static int
parse_options(int argc, char **argv, struct generate_opts *o, struct jr_err *err)
{
    static const struct option longopts[] = {
        {"days", required_argument, NULL, 'd'},
        {"service", required_argument, NULL, 's'},
        {"dest", required_argument, NULL, 'o'},
        {"as-of", required_argument, NULL, 'a'},
        {"tz", required_argument, NULL, 'z'},
        {"until", required_argument, NULL, 'u'},
        {"type", required_argument, NULL, 't'},
        {"max-rows", required_argument, NULL, 'm'},
        {"shard", required_argument, NULL, 'S'},
        {"parallel", required_argument, NULL, 'p'},
        {"summary", required_argument, NULL, 'j'},
        {"escape-formulas", no_argument, NULL, 'e'},
        {"dry-run", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;

    memset(o, 0, sizeof(*o));
    o->days[0] = 1, o->days[1] = 3, o->days[2] = 5, o->days[3] = 7;
    o->ndays = 4;
    o->tz = "UTC";
    o->parallel = 8;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        unsigned long long v;

        switch (c) {
        case 'd':
            if (parse_days(optarg, o, err) < 0)
                return -1;
            break;
        case 's':
            if (!uuid_valid(optarg))
                return usage_error(err, "invalid --service '%s': expected a UUID", optarg);
            if (o->nservices == GENERATE_MAX_SERVICES_ARGS)
                return usage_error(err, "too many --service options (at most %d)",
                                   GENERATE_MAX_SERVICES_ARGS);
            o->services[o->nservices++] = optarg;
            break;
        case 'o':
            if (!*optarg)
                return usage_error(err, "invalid --dest '%s'", optarg);
            o->dest = optarg;
            break;
        case 'a':
            o->as_of = optarg;
            break;
        case 'z':
            o->tz = optarg;
            break;
        case 'u':
            if (strcmp(optarg, "now") == 0)
                o->until_now = true;
            else if (strcmp(optarg, "midnight") == 0)
                o->until_now = false;
            else
                return usage_error(err, "invalid --until '%s': expected midnight or now", optarg);
            break;
        case 't':
            if (strcmp(optarg, "all") == 0)
                o->type = NULL;
            else if (strcmp(optarg, "sms") == 0 || strcmp(optarg, "email") == 0)
                o->type = optarg;
            else
                return usage_error(err, "invalid --type '%s': expected all, sms or email", optarg);
            break;
        case 'm':
            if (parse_uint(optarg, 1000000000ULL, &v) < 0 || v == 0)
                return usage_error(err, "invalid --max-rows '%s': expected a positive number",
                                   optarg);
            o->max_rows = (size_t)v;
            break;
        case 'S': {
            const char *slash = strchr(optarg, '/');
            char k[32];
            unsigned long long kk;
            unsigned long long nn;

            if (!slash || (size_t)(slash - optarg) >= sizeof(k))
                return usage_error(err, "invalid --shard '%s': expected K/N, e.g. 0/4", optarg);
            memcpy(k, optarg, (size_t)(slash - optarg));
            k[slash - optarg] = '\0';
            if (parse_uint(k, 1000, &kk) < 0 || parse_uint(slash + 1, 1000, &nn) < 0 || nn == 0 ||
                kk >= nn)
                return usage_error(err, "invalid --shard '%s': expected K/N with 0 <= K < N",
                                   optarg);
            o->shard_k = (unsigned)kk;
            o->shard_n = (unsigned)nn;
            break;
        }
        case 'p':
            if (parse_uint(optarg, 64, &v) < 0 || v == 0)
                return usage_error(err, "invalid --parallel '%s': expected 1 to 64", optarg);
            o->parallel = (unsigned)v;
            break;
        case 'j':
            o->summary = optarg;
            break;
        case 'e':
            o->escape_formulas = true;
            break;
        case 'n':
            o->dry_run = true;
            break;
        case 'h':
            break;
        case ':':
            return usage_error(err, "option '%s' needs a value", argv[optind - 1]);
        default:
            return usage_error(err, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error(err, "unexpected argument '%s'", argv[optind]);
    if (o->dest && strcmp(o->dest, "-") == 0 && (o->ndays != 1 || o->nservices != 1))
        return usage_error(err, "%s",
                           "--dest - writes one report: give exactly one --service and one --days");
    if (o->dest && o->summary && strcmp(o->dest, "-") == 0 && strcmp(o->summary, "-") == 0)
        return usage_error(err, "%s", "--dest - and --summary - cannot both use standard output");
    return 0;
}

/* What the stream loop needs besides the engine. */
struct gen_state {
    struct job_cache *cache;
    struct report_engine *engine;
    const struct notify_service *services;
    size_t nservices;
    size_t next_service; /* services[next_service..] not begun yet */
    char current[40];
    /* per-service counts of row-level misses (file-level ones are logged per job file) */
    size_t null_row;
    size_t no_row;
    char first_null_row[40];
    size_t rows;
};

static int
want_job(void *arg, const char *job_id, const char *service_id, const char *template_type,
         struct jr_err *err)
{
    struct job_cache *jc = arg;

    if (strcmp(template_type, "sms") == 0)
        return job_cache_want(jc, job_id, service_id, JOBCSV_PHONE, err);
    if (strcmp(template_type, "email") == 0)
        return job_cache_want(jc, job_id, service_id, JOBCSV_EMAIL, err);
    return 0; /* letters have no recipient column: their rows show Unavailable */
}

static void
log_service_misses(struct gen_state *s)
{
    if (s->null_row)
        log_warn("service '%s': rows with a job but no job_row_number, shown Unavailable: %zu "
                 "(first: notification '%s')",
                 s->current, s->null_row, s->first_null_row);
    if (s->no_row)
        log_warn("service '%s': rows pointing past the end of their job file, shown "
                 "Unavailable: %zu",
                 s->current, s->no_row);
    s->null_row = s->no_row = 0;
}

/* Begin services up to (not including) id; those before it have no rows at all. */
static int
begin_until(struct gen_state *s, const char *id, struct jr_err *err)
{
    while (s->next_service < s->nservices) {
        const char *next = s->services[s->next_service].id;
        int c = id ? strcmp(next, id) : -1;
        const char *failure;

        if (c > 0)
            break;
        s->next_service++;
        if (report_engine_service_begin(s->engine, next, err) < 0)
            return -1;
        failure = job_cache_service_failure(s->cache, next);
        if (failure)
            report_engine_service_fail(s->engine, JR_E_STORAGE, failure);
        if (c == 0) {
            snprintf(s->current, sizeof(s->current), "%s", next);
            return 1;
        }
        if (report_engine_service_end(s->engine, err) < 0)
            return -1;
    }
    return 0;
}

static void
resolve_recipient(struct gen_state *s, const struct notify_row *nr, struct report_row *rr)
{
    unsigned char key[16];
    enum jobcsv_kind kind;
    const char *str = NULL;
    size_t len = 0;

    rr->recipient = NULL;
    rr->recipient_len = 0;
    rr->unavailable = false;
    if (!nr->job_id)
        return;
    rr->recipient = REPORT_UNAVAILABLE;
    rr->recipient_len = sizeof(REPORT_UNAVAILABLE) - 1;
    rr->unavailable = true;
    if (nr->job_row_number < 0) {
        if (!s->null_row++)
            snprintf(s->first_null_row, sizeof(s->first_null_row), "%s", nr->id);
        return;
    }
    if (strcmp(nr->template_type, "sms") == 0)
        kind = JOBCSV_PHONE;
    else if (strcmp(nr->template_type, "email") == 0)
        kind = JOBCSV_EMAIL;
    else
        return;
    if (job_cache_key(nr->job_id, key) < 0)
        return;
    switch (job_cache_get(s->cache, key, kind, nr->job_row_number, &str, &len)) {
    case JOB_CACHE_HIT:
        rr->recipient = str;
        rr->recipient_len = len;
        rr->unavailable = false;
        break;
    case JOB_CACHE_NO_ROW:
        s->no_row++;
        break;
    case JOB_CACHE_NO_JOB:    /* logged with its job file */
    case JOB_CACHE_ROW_EMPTY: /* counted with its job file */
        break;
    }
}

/* Read the stream (already begun on pg) into the report engine. */
static int
stream_rows(struct pg *pg, struct gen_state *s, struct jr_ctx *ctx, struct jr_err *err)
{
    struct notify_row nr;
    int rc;

    while ((rc = notify_db_next(pg, &nr, err)) == 1) {
        struct report_row rr;

        if (strcmp(nr.service_id, s->current) != 0) {
            if (s->current[0]) {
                log_service_misses(s);
                if (report_engine_service_end(s->engine, err) < 0)
                    return -1;
                s->current[0] = '\0';
            }
            if (begin_until(s, nr.service_id, err) != 1)
                return jr_err_set(err, JR_E_INTERNAL, "rows of service '%s' arrived out of order",
                                  nr.service_id);
        }
        resolve_recipient(s, &nr, &rr);
        rr.template_name = nr.template_name;
        rr.sent_by = nr.sent_by;
        rr.carrier = nr.carrier;
        rr.status = nr.status;
        rr.template_type = nr.template_type;
        rr.created_at = nr.created_at;
        rr.batch_file = nr.batch_file;
        rr.provider_response = nr.provider_response;
        if (report_engine_row(s->engine, &rr, nr.created_at, err) < 0)
            return -1;
        s->rows++;
        if (ctx->stderr_tty && log_enabled(LOG_LEVEL_WARN) && s->rows % 200000 == 0) {
            double secs = (double)(window_now() - ctx->started) / 1e6;

            fprintf(stderr, "\rjobreport: %zu rows, %zu of %zu services, %.0f rows/s", s->rows,
                    s->next_service, s->nservices, secs > 0 ? (double)s->rows / secs : 0.0);
        }
    }
    if (ctx->stderr_tty && log_enabled(LOG_LEVEL_WARN) && s->rows >= 200000)
        fputc('\n', stderr);
    if (rc < 0)
        return -1;
    if (s->current[0]) {
        log_service_misses(s);
        if (report_engine_service_end(s->engine, err) < 0)
            return -1;
        s->current[0] = '\0';
    }
    return begin_until(s, NULL, err) < 0 ? -1 : 0;
}

static int
cmp_uint(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a;
    unsigned y = *(const unsigned *)b;

    return x < y ? -1 : x > y;
}

static int
write_summary(const struct generate_opts *o, const struct summary_run *run, struct jr_ctx *ctx,
              struct jr_err *err)
{
    FILE *f;
    int rc;

    if (!o->summary) {
        if (ctx->stdout_tty && !o->dry_run && !(o->dest && strcmp(o->dest, "-") == 0))
            summary_write_table(run, stdout);
        return 0;
    }
    if (strcmp(o->summary, "-") == 0)
        return summary_write_json(run, stdout, err);
    f = fopen(o->summary, "w");
    if (!f)
        return jr_err_errno(err, JR_E_IO, "cannot write summary '%s'", o->summary);
    rc = summary_write_json(run, f, err);
    if (fclose(f) != 0 && rc == 0)
        rc = jr_err_errno(err, JR_E_IO, "cannot write summary '%s'", o->summary);
    return rc;
}

int
cmd_generate(int argc, char **argv, struct jr_ctx *ctx, struct jr_err *err)
{
    struct generate_opts o;
    struct job_cache_opts jco;
    struct storage_s3_params s3;
    struct report_opts ro;
    struct notify_filter f;
    struct gen_state s;
    struct summary_run run;
    struct summary_totals tot;
    struct storage *bucket = NULL;
    struct storage *dest = NULL;
    struct pg *pg = NULL;
    struct pg *stream = NULL;
    struct notify_service *services = NULL;
    size_t nservices = 0;
    const struct report_result *results = NULL;
    size_t nresults = 0;
    jr_usec as_of;
    bool stream_failed = false;
    struct jr_err run_err = JR_ERR_INIT;
    int rc = -1;

    memset(&s, 0, sizeof(s));
    memset(&run, 0, sizeof(run));
    if (parse_options(argc, argv, &o, err) < 0)
        return -1;
    if (o.as_of) {
        if (window_parse_as_of(o.as_of, &as_of, err) < 0)
            return -1;
    } else {
        as_of = ctx->started;
    }
    if (!window_zone_valid(o.tz))
        return usage_error(err, "unknown time zone '%s' (--tz)", o.tz);
    if (!ctx->cfg.bucket)
        return jr_err_set(err, JR_E_CONFIG,
                          "no bucket configured: job files cannot be read\nhint: set --bucket, "
                          "JOBREPORT_BUCKET, CSV_BUCKET_NAME or an s3 binding in VCAP_SERVICES");

    /* Windows, narrowest first; they share their end. */
    qsort(o.days, o.ndays, sizeof(o.days[0]), cmp_uint);
    memset(&ro, 0, sizeof(ro));
    for (size_t i = 0; i < o.ndays; i++)
        if (window_compute(as_of, o.tz, o.days[i], o.until_now, &ro.windows[i], err) < 0)
            return -1;
    ro.nwindows = o.ndays;
    ro.max_rows = o.max_rows;
    ro.escape_formulas = o.escape_formulas;
    ro.dry_run = o.dry_run;
    ro.upload_threads = 4;

    config_s3_params(&ctx->cfg, &s3);
    bucket = storage_open(ctx->cfg.bucket, &s3, err);
    if (!bucket) {
        jr_err_prefix(err, "cannot open the bucket");
        goto out;
    }
    if (o.dest && strcmp(o.dest, "-") == 0) {
        ro.out = stdout;
    } else if (o.dest) {
        dest = storage_open(o.dest, &s3, err);
        if (!dest) {
            jr_err_prefix(err, "cannot open --dest");
            goto out;
        }
        ro.storage = dest;
    } else {
        ro.storage = bucket;
    }

    pg = pg_open(ctx->cfg.db_conninfo, ctx->cfg.statement_timeout_s, err);
    if (!pg)
        goto out;
    pg_set_cancel_flag(pg, ctx->cancelled);
    if (!o.dry_run &&
        notify_db_lock(pg, "generate", o.shard_n ? o.shard_k + 1 : 0, ctx->lock_timeout_s, err) < 0)
        goto out;
    if (notify_db_services(pg, o.services, o.nservices, o.shard_k, o.shard_n, &services, &nservices,
                           err) < 0)
        goto out;
    log_info("generate: %zu active services in scope, windows %s", nservices,
             o.until_now ? "until as-of" : "until midnight");

    memset(&f, 0, sizeof(f));
    f.services = services;
    f.nservices = nservices;
    f.start = ro.windows[ro.nwindows - 1].start;
    f.end = ro.windows[0].end;
    f.type = o.type;

    /*
     * Start the ordered stream now, on a second connection, so that the server sorts the window
     * while this connection lists the jobs and their files download; rows are read only once the
     * job cache is complete (the socket buffers hold the server back until then).
     */
    if (nservices) {
        stream = pg_open(ctx->cfg.db_conninfo, ctx->cfg.statement_timeout_s, err);
        if (!stream)
            goto out;
        pg_set_cancel_flag(stream, ctx->cancelled);
        if (notify_db_stream_begin(stream, &f, err) < 0)
            goto out;
    }

    job_cache_opts_init(&jco);
    jco.parallel = o.parallel;
    jco.max_file_bytes = ctx->cfg.max_file_bytes;
    jco.max_memory = ctx->cfg.max_memory;
    s.cache = job_cache_new(&jco);
    if (notify_db_jobs(pg, &f, want_job, s.cache, err) < 0)
        goto out;
    if (job_cache_load(s.cache, bucket, err) < 0)
        goto out;
    {
        const struct job_cache_stats *cs = job_cache_get_stats(s.cache);

        log_info("generate: job cache: %zu jobs, %zu rows, %zu missing, %zu malformed, %lld bytes "
                 "read, %zu bytes held, %.2fs",
                 cs->jobs, cs->rows, cs->missing, cs->malformed, (long long)cs->bytes, cs->memory,
                 cs->seconds);
    }

    s.engine = report_engine_new(&ro);
    s.services = services;
    s.nservices = nservices;
    if (nservices && stream_rows(stream, &s, ctx, &run_err) < 0) {
        stream_failed = true;
        report_engine_service_abort(s.engine);
    }
    report_engine_finish(s.engine, stream_failed, err);
    results = report_engine_results(s.engine, &nresults);

    run.as_of = as_of;
    run.generated_at = window_now();
    run.seconds = (double)(run.generated_at - ctx->started) / 1e6;
    run.time_zone = o.tz;
    run.until = o.until_now ? "now" : "midnight";
    run.type = o.type ? o.type : "all";
    run.destination = ro.out ? "-" : storage_describe(ro.storage);
    run.dry_run = o.dry_run;
    run.max_rows = o.max_rows;
    run.services = nservices;
    run.cache = job_cache_get_stats(s.cache);
    run.results = results;
    run.nresults = nresults;
    run.fatal_error = stream_failed ? run_err.msg : NULL;
    summary_totals(&run, &tot);
    if (write_summary(&o, &run, ctx, err) < 0)
        goto out;
    if (o.dry_run && !(o.summary && strcmp(o.summary, "-") == 0) && !ro.out) {
        for (size_t i = 0; i < nresults; i++)
            printf("would %s %s (%zu rows)\n",
                   results[i].outcome == REPORT_WRITTEN ? "write" : "delete", results[i].key,
                   results[i].rows);
    }
    log_info("generate: %zu reports written, %zu empty windows deleted, %zu failed, %zu rows, "
             "%zu Unavailable, %lld bytes",
             tot.written, tot.removed, tot.failed, tot.rows, tot.unavailable, tot.bytes);

    if (stream_failed) {
        *err = run_err;
        goto out;
    }
    if (tot.failed) {
        /* Partial when something succeeded; otherwise the first failure's own category. */
        const struct report_result *first = NULL;

        for (size_t i = 0; i < nresults && !first; i++)
            if (results[i].outcome == REPORT_FAILED)
                first = &results[i];
        jr_err_set(err,
                   (tot.written + tot.removed) ? JR_E_PARTIAL : (enum jr_errcode)first->errcode,
                   "%zu of %zu reports failed; first '%s': %s", tot.failed, nresults, first->key,
                   first->error);
        goto out;
    }
    rc = 0;
out:
    report_engine_free(s.engine);
    job_cache_free(s.cache);
    free(services);
    pg_close(stream);
    pg_close(pg);
    storage_close(dest);
    storage_close(bucket);
    return rc;
}
