/*
 * The job cache (SPEC §4): an in-memory map from (job, data row) to the recipient, built from the
 * job CSV files of exactly the jobs a run needs. It lives only in process memory: never on disk,
 * never in a log, and every byte of recipient data is wiped when freed or moved.
 *
 * Layout: per job and recipient kind, one contiguous string blob and one uint32_t offset per row,
 * so a row costs 4 bytes over its recipient string. Jobs are found through an open-addressing
 * table keyed by the 16-byte job id.
 *
 * Building: job_cache_want() registers each (job, service, kind) the run needs, then
 * job_cache_load() fetches the files from storage (current key, then the legacy key) with bounded
 * parallelism and parses them (jobcsv.h). Problems with a file (missing, too big, no recipient
 * column, bad rows) are logged as warnings without PII and counted; they never fail the load. Only
 * the memory budget (JR_E_DATA) and storage-wide failures fail it.
 */
#ifndef JR_JOB_CACHE_H
#define JR_JOB_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobcsv.h"

struct jr_err;
struct storage;
struct job_cache;

struct job_cache_opts {
    int64_t max_file_bytes; /* job files larger than this are Unavailable (default 256 MiB) */
    size_t max_memory;      /* budget for cached recipient data; exceeding it fails the load */
    unsigned parallel;      /* concurrent downloads */
    size_t max_field;       /* jobcsv limits */
    size_t max_record;
};

/* Defaults: 256 MiB files, 4 GiB memory, 8 parallel, 1 MiB fields, 4 MiB records. */
void job_cache_opts_init(struct job_cache_opts *opts);

/* Counters, all free of PII. */
struct job_cache_stats {
    size_t jobs;       /* jobs registered */
    size_t loaded;     /* files parsed (possibly with bad rows) */
    size_t missing;    /* no file at either key */
    size_t legacy_key; /* found only at the legacy key */
    size_t malformed;  /* no recipient column, or parsing stopped at an oversized field */
    size_t too_big;    /* over max_file_bytes */
    size_t failed;     /* could not be read after retries */
    size_t rows;       /* data rows parsed */
    size_t bad_rows;   /* rows Unavailable because of the row itself (short, blank, ...) */
    int64_t bytes;     /* job file bytes read */
    size_t memory;     /* bytes of cache memory held */
    double seconds;    /* wall time of job_cache_load */
};

struct job_cache *job_cache_new(const struct job_cache_opts *opts);

/* Wipe every recipient and free. NULL is a no-op. */
void job_cache_free(struct job_cache *jc);

/*
 * Register that the run needs recipients of `kind` for job_id (a canonical UUID string) of
 * service_id. Registering the same job again adds the kind. Returns -1 (JR_E_DATA) for a
 * malformed id.
 */
int job_cache_want(struct job_cache *jc, const char *job_id, const char *service_id,
                   enum jobcsv_kind kind, struct jr_err *err);

/* Fetch and parse every registered job file. See the file comment for what fails it. */
int job_cache_load(struct job_cache *jc, struct storage *st, struct jr_err *err);

/* The job's 16-byte id from its text form, for repeated lookups. Returns -1 if malformed. */
int job_cache_key(const char *job_id, unsigned char key[16]);

/* Why a lookup found no recipient. */
enum job_cache_miss {
    JOB_CACHE_HIT = 0,
    JOB_CACHE_NO_JOB,    /* job not registered or its file could not be used */
    JOB_CACHE_NO_ROW,    /* row number negative or beyond the file's last row */
    JOB_CACHE_ROW_EMPTY, /* the row exists but has no usable recipient */
};

/*
 * Look up the recipient of row (0-based) of a job. On a hit *s and *len point into the cache
 * (valid until job_cache_free). Thread-safe for concurrent readers after the load.
 */
enum job_cache_miss job_cache_get(const struct job_cache *jc, const unsigned char key[16],
                                  enum jobcsv_kind kind, int64_t row, const char **s, size_t *len);

const struct job_cache_stats *job_cache_get_stats(const struct job_cache *jc);

/*
 * When a job file of service_id (a UUID string) could not be read because storage failed (not
 * because it is missing or malformed), the message of the first such failure; else NULL. Reports
 * of such a service must not be replaced: their phone numbers would be wrongly Unavailable.
 */
const char *job_cache_service_failure(const struct job_cache *jc, const char *service_id);

#endif
