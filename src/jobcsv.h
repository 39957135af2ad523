/*
 * Job CSV parsing (SPEC §4): a push parser that takes a job file in chunks, as it arrives from
 * storage, and hands each data row to a callback with its recipient cleaned and numbered exactly as
 * the sending side numbered it. It strips the whole file of whitespace, BOM, zero-width characters
 * and commas at both ends, parses RFC 4180 with libcsv (leading spaces before a field skipped),
 * matches the header case- and punctuation-insensitively, and never falls back to another column.
 * Bad input never fails the parse: it marks rows Unavailable and counts why.
 *
 * The parser holds PII (cell contents) in its buffers; jobcsv_free and jobcsv_reset wipe them.
 * Nothing here logs.
 */
#ifndef JR_JOBCSV_H
#define JR_JOBCSV_H

#include <stdbool.h>
#include <stddef.h>

/* Recipient kinds: which column a job's template type reads (SMS: phone, email: email). */
enum jobcsv_kind {
    JOBCSV_PHONE = 0,
    JOBCSV_EMAIL = 1,
};

#define JOBCSV_NKINDS     2
#define JOBCSV_WANT_PHONE (1u << JOBCSV_PHONE)
#define JOBCSV_WANT_EMAIL (1u << JOBCSV_EMAIL)

/* Why a row has no recipient (beyond a missing header column, which is per file). */
enum jobcsv_problem {
    JOBCSV_ROW_OK = 0,
    JOBCSV_ROW_BLANK,    /* an empty record */
    JOBCSV_ROW_SHORT,    /* fewer fields than the recipient column needs */
    JOBCSV_ROW_BAD_UTF8, /* a field is not valid UTF-8: the whole row is Unavailable */
    JOBCSV_ROW_TOO_LONG, /* the record exceeds the record size limit */
};

/* One data row. Pointers are borrowed until the callback returns. */
struct jobcsv_row {
    size_t index; /* 0-based data row number */
    enum jobcsv_problem problem;
    const char *recipient[JOBCSV_NKINDS]; /* cleaned; NULL = Unavailable for that kind */
    size_t recipient_len[JOBCSV_NKINDS];
};

/* Return 0 to continue, -1 to stop parsing (jobcsv_feed then returns -1). */
typedef int jobcsv_row_fn(void *arg, const struct jobcsv_row *row);

struct jobcsv_limits {
    size_t max_field;  /* bytes in one field; beyond it parsing stops (JOBCSV_E_FIELD) */
    size_t max_record; /* bytes in one record; beyond it the row is JOBCSV_ROW_TOO_LONG */
};

/* Counters for logs and the run summary (no PII). */
struct jobcsv_stats {
    size_t rows; /* data rows delivered */
    size_t blank_rows;
    size_t short_rows; /* rows short of a wanted, present recipient column */
    size_t bad_utf8_rows;
    size_t too_long_rows;
    size_t empty_recipients; /* recipient cell empty after cleaning */
    bool have_header;
    bool column_found[JOBCSV_NKINDS]; /* the header has the wanted column */
    bool field_too_long;              /* parsing stopped at a field over max_field */
};

struct jobcsv;

/* A parser that extracts the recipient kinds in `want` (JOBCSV_WANT_*). Never NULL. */
struct jobcsv *jobcsv_new(unsigned want, const struct jobcsv_limits *limits, jobcsv_row_fn *fn,
                          void *arg);

/* Parse the next chunk. Returns 0, or -1 when the callback stopped the parse or a field exceeded
 * max_field (see stats); after -1 further input is ignored. */
int jobcsv_feed(struct jobcsv *p, const void *data, size_t len);

/* End of input: delivers the last row. Returns 0 or -1 like jobcsv_feed. */
int jobcsv_finish(struct jobcsv *p);

/* Start over (a retried download restarts the body): counters zeroed, buffers wiped. */
void jobcsv_reset(struct jobcsv *p);

const struct jobcsv_stats *jobcsv_get_stats(const struct jobcsv *p);

/* Wipe and free. NULL is a no-op. */
void jobcsv_free(struct jobcsv *p);

/*
 * Cell and recipient cleaning, exposed for tests and for other job-file consumers.
 * jobcsv_clean_cell: remove zero-width characters (U+200B-U+200D, U+2060, U+FEFF) and NBSP, then
 * trim ASCII whitespace at both ends. jobcsv_clean_phone: also remove '+', '(', ')', '-', '.' and
 * ASCII whitespace anywhere. Other Unicode spaces are kept as data. Both work in place on
 * s[0..len) and return the new length.
 */
size_t jobcsv_clean_cell(char *s, size_t len);
size_t jobcsv_clean_phone(char *s, size_t len);

/* Does s[0..len) name the column of kind after lower-casing and removing ' ', '_' and '-'? */
bool jobcsv_header_matches(const char *s, size_t len, enum jobcsv_kind kind);

#endif
