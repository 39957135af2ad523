/*
 * The run summary of `generate` (SPEC §5.3), free of PII: per service and window the object key,
 * rows, bytes, SHA-256, counts by status, Unavailable count, truncation and window bounds; the
 * job cache counters; totals; failures. Written as JSON (jansson) or as a short text table.
 */
#ifndef JR_SUMMARY_H
#define JR_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "window.h"

struct jr_err;
struct job_cache_stats;
struct report_result;

struct summary_run {
    jr_usec as_of;
    jr_usec generated_at;
    double seconds;
    const char *time_zone;
    const char *until;       /* "midnight" or "now" */
    const char *type;        /* "all", "sms", "email" */
    const char *destination; /* "s3://...", "file:/...", "-" */
    bool dry_run;
    size_t max_rows;
    size_t services;
    const struct job_cache_stats *cache;
    const struct report_result *results;
    size_t nresults;
    const char *fatal_error; /* a run-stopping error, or NULL */
};

/* Totals over the results. */
struct summary_totals {
    size_t written;
    size_t removed;
    size_t failed;
    size_t rows;
    size_t unavailable;
    long long bytes;
};

void summary_totals(const struct summary_run *run, struct summary_totals *t);

/* Write the JSON document to f. Returns -1 (JR_E_IO) when writing fails. */
int summary_write_json(const struct summary_run *run, FILE *f, struct jr_err *err);

/* Write a short human table (one line per written or failed report, then totals). */
void summary_write_table(const struct summary_run *run, FILE *f);

#endif
