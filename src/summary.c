/*
 * Summary output. The JSON is built with jansson so that every string is escaped correctly, and
 * keys are emitted in insertion order for stable, diffable output.
 */
#include "summary.h"

#include <string.h>

#include <jansson.h>

#include "err.h"
#include "job_cache.h"
#include "report.h"

#include "banned.h"

static const char *
outcome_name(enum report_outcome o)
{
    switch (o) {
    case REPORT_WRITTEN:
        return "written";
    case REPORT_REMOVED:
        return "deleted";
    case REPORT_FAILED:
        return "failed";
    case REPORT_PENDING:
        break;
    }
    return "not-done";
}

void
summary_totals(const struct summary_run *run, struct summary_totals *t)
{
    memset(t, 0, sizeof(*t));
    for (size_t i = 0; i < run->nresults; i++) {
        const struct report_result *r = &run->results[i];

        if (r->outcome == REPORT_WRITTEN) {
            t->written++;
            t->rows += r->rows;
            t->unavailable += r->unavailable;
            t->bytes += r->bytes;
        } else if (r->outcome == REPORT_REMOVED) {
            t->removed++;
        } else {
            t->failed++;
        }
    }
}

static json_t *
iso(jr_usec t)
{
    char s[32];

    window_format_iso(t, s);
    return json_string(s);
}

static json_t *
cache_json(const struct job_cache_stats *c)
{
    if (!c)
        return json_null();
    return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f}", "jobs",
                     (json_int_t)c->jobs, "loaded", (json_int_t)c->loaded, "missing",
                     (json_int_t)c->missing, "legacy_key", (json_int_t)c->legacy_key, "malformed",
                     (json_int_t)c->malformed, "too_big", (json_int_t)c->too_big, "failed",
                     (json_int_t)c->failed, "rows", (json_int_t)c->rows, "bad_rows",
                     (json_int_t)c->bad_rows, "bytes", (json_int_t)c->bytes, "memory_bytes",
                     (json_int_t)c->memory, "seconds", c->seconds);
}

static json_t *
result_json(const struct report_result *r)
{
    json_t *o = json_object();
    json_t *st = json_object();

    for (int s = 0; s < REPORT_NSTATUS; s++)
        if (r->status_counts[s])
            json_object_set_new(st, report_status_names[s],
                                json_integer((json_int_t)r->status_counts[s]));
    json_object_set_new(o, "service_id", json_string(r->service_id));
    json_object_set_new(o, "days", json_integer(r->days));
    json_object_set_new(o, "key", json_string(r->key));
    json_object_set_new(o, "outcome", json_string(outcome_name(r->outcome)));
    json_object_set_new(o, "window_start", iso(r->start));
    json_object_set_new(o, "window_end", iso(r->end));
    json_object_set_new(o, "rows", json_integer((json_int_t)r->rows));
    json_object_set_new(o, "rows_in_window", json_integer((json_int_t)r->rows_in_window));
    json_object_set_new(o, "truncated", json_boolean(r->truncated));
    json_object_set_new(o, "unavailable", json_integer((json_int_t)r->unavailable));
    json_object_set_new(o, "statuses", st);
    json_object_set_new(o, "bytes", json_integer(r->bytes));
    if (r->rows && r->outcome != REPORT_FAILED) {
        char hex[65];

        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", r->sha256[i]);
        json_object_set_new(o, "sha256", json_string(hex));
    } else {
        json_object_set_new(o, "sha256", json_null());
    }
    json_object_set_new(o, "error", r->error[0] ? json_string(r->error) : json_null());
    return o;
}

int
summary_write_json(const struct summary_run *run, FILE *f, struct jr_err *err)
{
    struct summary_totals t;
    json_t *root = json_object();
    json_t *reports = json_array();
    json_t *failures = json_array();
    int rc = 0;

    summary_totals(run, &t);
    for (size_t i = 0; i < run->nresults; i++) {
        const struct report_result *r = &run->results[i];

        json_array_append_new(reports, result_json(r));
        if (r->outcome == REPORT_FAILED)
            json_array_append_new(failures, json_pack("{s:s,s:i,s:s,s:s}", "service_id",
                                                      r->service_id, "days", (int)r->days, "key",
                                                      r->key, "error", r->error));
    }
    if (run->fatal_error)
        json_array_append_new(failures, json_pack("{s:s}", "error", run->fatal_error));
    json_object_set_new(root, "as_of", iso(run->as_of));
    json_object_set_new(root, "generated_at", iso(run->generated_at));
    json_object_set_new(root, "time_zone", json_string(run->time_zone));
    json_object_set_new(root, "until", json_string(run->until));
    json_object_set_new(root, "type", json_string(run->type));
    json_object_set_new(root, "destination", json_string(run->destination));
    json_object_set_new(root, "dry_run", json_boolean(run->dry_run));
    json_object_set_new(root, "max_rows",
                        run->max_rows ? json_integer((json_int_t)run->max_rows) : json_null());
    json_object_set_new(root, "services", json_integer((json_int_t)run->services));
    json_object_set_new(root, "duration_seconds", json_real(run->seconds));
    json_object_set_new(root, "job_cache", cache_json(run->cache));
    json_object_set_new(root, "reports", reports);
    json_object_set_new(root, "totals",
                        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "reports_written",
                                  (json_int_t)t.written, "reports_deleted", (json_int_t)t.removed,
                                  "reports_failed", (json_int_t)t.failed, "rows",
                                  (json_int_t)t.rows, "unavailable", (json_int_t)t.unavailable,
                                  "bytes", (json_int_t)t.bytes));
    json_object_set_new(root, "failures", failures);
    if (json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 || fputc('\n', f) == EOF)
        rc = jr_err_errno(err, JR_E_IO, "cannot write the summary");
    json_decref(root);
    return rc;
}

void
summary_write_table(const struct summary_run *run, FILE *f)
{
    struct summary_totals t;

    summary_totals(run, &t);
    fprintf(f, "%-36s %4s %-8s %9s %11s %11s\n", "SERVICE", "DAYS", "OUTCOME", "ROWS",
            "UNAVAILABLE", "BYTES");
    for (size_t i = 0; i < run->nresults; i++) {
        const struct report_result *r = &run->results[i];

        if (r->outcome == REPORT_REMOVED)
            continue;
        fprintf(f, "%-36s %4u %-8s %9zu %11zu %11lld%s\n", r->service_id, r->days,
                outcome_name(r->outcome), r->rows, r->unavailable, (long long)r->bytes,
                r->truncated ? " (truncated)" : "");
    }
    fprintf(f,
            "%zu reports written, %zu empty windows deleted, %zu failed; %zu rows (%zu "
            "Unavailable), %lld bytes in %.1fs\n",
            t.written, t.removed, t.failed, t.rows, t.unavailable, t.bytes, run->seconds);
}
