/*
 * Job CSV push parser. Three layers, each streaming:
 *
 *  1. strip: drops strippable characters (whitespace, BOM, NBSP, zero-width, commas) at the start
 *     of the file, and holds back any strippable run until a later non-strippable character proves
 *     it is not the end of the file;
 *  2. libcsv, with CSV_REPALL_NL so blank lines come through as empty records (the sending side's
 *     Python csv.reader numbers them), and only ' ' as the skippable space (skipinitialspace);
 *  3. records: the first is the header; each later one becomes a numbered row with its recipients
 *     cleaned.
 *
 * With CSV_REPALL_NL libcsv reports the LF of a CRLF pair as an empty record of its own; such a
 * record, directly after a record ended by CR, is the second half of a line ending and is dropped.
 */
#include "jobcsv.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#include "buf.h"
#include "utf8.h"
#include "xalloc.h"

#include "banned.h"

/* libcsv is fed at most this much at a time, so a runaway field is noticed within one slice. */
#define JOBCSV_SLICE ((size_t)65536)

struct jobcsv {
    unsigned want;
    struct jobcsv_limits lim;
    jobcsv_row_fn *fn;
    void *arg;
    struct csv_parser csv;

    bool at_start;   /* still inside the leading strippable run */
    struct buf held; /* unparsed tail: a strippable run, maybe an incomplete character */

    struct buf rec; /* the current record's fields, concatenated */
    size_t *fend;   /* end offset of each field in rec */
    size_t nf;
    size_t fcap;
    bool rec_too_long;
    int prev_term; /* terminator of the previous record: '\r', '\n' or -1 */

    bool have_header;
    size_t col[JOBCSV_NKINDS]; /* recipient column per kind, SIZE_MAX when absent */
    size_t next_index;
    bool stopped;
    struct jobcsv_stats st;
};

/*
 * What SPEC §4 calls whitespace: ASCII whitespace (Python's string.whitespace, as the sending side
 * uses) plus the invisible characters it names: BOM U+FEFF, NBSP U+00A0 and the zero-width
 * U+200B-U+200D and U+2060. Other Unicode spaces (U+2003, U+3000...) are data, not whitespace.
 */
static bool
cp_is_space(uint32_t cp)
{
    switch (cp) {
    case 0x09:
    case 0x0A:
    case 0x0B:
    case 0x0C:
    case 0x0D:
    case 0x20:
    case 0xA0:
    case 0x200B:
    case 0x200C:
    case 0x200D:
    case 0x2060:
    case 0xFEFF:
        return true;
    default:
        return false;
    }
}

/* Characters removed from inside every cell before trimming. */
static bool
cp_is_invisible(uint32_t cp)
{
    return cp == 0x200B || cp == 0x200C || cp == 0x200D || cp == 0x2060 || cp == 0xFEFF ||
           cp == 0xA0;
}

/*
 * Length of the strippable character at s[0..n): 0 when the character there is not strippable,
 * UTF8_INCOMPLETE when more bytes are needed to tell (never when final is set).
 */
static size_t
strip_len(const unsigned char *s, size_t n, bool final)
{
    uint32_t cp;
    size_t k;

    if (s[0] < 0x80)
        return (s[0] == ',' || cp_is_space(s[0])) ? 1 : 0;
    k = utf8_decode(s, n, &cp);
    if (k == UTF8_INCOMPLETE)
        return final ? 0 : UTF8_INCOMPLETE;
    if (k == 0)
        return 0;
    return cp_is_space(cp) ? k : 0;
}

static void
on_field(void *data, size_t len, void *arg)
{
    struct jobcsv *p = arg;

    if (p->stopped)
        return;
    if (p->nf == p->fcap) {
        p->fcap = p->fcap ? p->fcap * 2 : 16;
        p->fend = xreallocarray(p->fend, p->fcap, sizeof(*p->fend));
    }
    if (p->rec_too_long || p->rec.len + len > p->lim.max_record)
        p->rec_too_long = true;
    else
        buf_add(&p->rec, data, len);
    p->fend[p->nf++] = p->rec.len;
}

static void
record_reset(struct jobcsv *p)
{
    xwipe(p->rec.data, p->rec.len);
    buf_reset(&p->rec);
    p->nf = 0;
    p->rec_too_long = false;
}

static void
take_header(struct jobcsv *p)
{
    size_t start = 0;

    p->have_header = true;
    p->st.have_header = true;
    for (size_t f = 0; f < p->nf; f++) {
        const char *cell = p->rec.data + start;
        size_t len = p->fend[f] - start;

        for (int k = 0; k < JOBCSV_NKINDS; k++) {
            if (p->col[k] == SIZE_MAX && jobcsv_header_matches(cell, len, (enum jobcsv_kind)k)) {
                p->col[k] = f;
                p->st.column_found[k] = true;
            }
        }
        start = p->fend[f];
    }
}

static void
take_row(struct jobcsv *p)
{
    struct jobcsv_row row;

    memset(&row, 0, sizeof(row));
    row.index = p->next_index++;
    p->st.rows++;
    if (p->nf == 0) {
        row.problem = JOBCSV_ROW_BLANK;
        p->st.blank_rows++;
    } else if (p->rec_too_long) {
        row.problem = JOBCSV_ROW_TOO_LONG;
        p->st.too_long_rows++;
    } else {
        size_t start = 0;

        for (size_t f = 0; f < p->nf; f++) {
            if (!utf8_valid(p->rec.data + start, p->fend[f] - start)) {
                row.problem = JOBCSV_ROW_BAD_UTF8;
                p->st.bad_utf8_rows++;
                break;
            }
            start = p->fend[f];
        }
    }
    if (row.problem == JOBCSV_ROW_OK) {
        bool short_row = false;

        for (int k = 0; k < JOBCSV_NKINDS; k++) {
            size_t c = p->col[k];
            size_t start;
            size_t len;
            char *cell;

            if (!(p->want & (1u << k)) || c == SIZE_MAX)
                continue;
            if (c >= p->nf) {
                short_row = true;
                continue;
            }
            start = c ? p->fend[c - 1] : 0;
            cell = p->rec.data + start;
            len = jobcsv_clean_cell(cell, p->fend[c] - start);
            if (k == JOBCSV_PHONE)
                len = jobcsv_clean_phone(cell, len);
            if (len == 0) {
                p->st.empty_recipients++;
                continue;
            }
            row.recipient[k] = cell;
            row.recipient_len[k] = len;
        }
        if (short_row) {
            row.problem = JOBCSV_ROW_SHORT;
            p->st.short_rows++;
        }
    }
    if (p->fn(p->arg, &row) < 0)
        p->stopped = true;
}

static void
on_record(int c, void *arg)
{
    struct jobcsv *p = arg;

    if (p->stopped)
        return;
    if (p->nf == 0 && c == '\n' && p->prev_term == '\r') {
        p->prev_term = c; /* the LF of a CRLF pair */
        return;
    }
    p->prev_term = c;
    if (!p->have_header)
        take_header(p);
    else
        take_row(p);
    record_reset(p);
}

static int
parse_slices(struct jobcsv *p, const unsigned char *s, size_t n)
{
    while (n && !p->stopped) {
        size_t len = n < JOBCSV_SLICE ? n : JOBCSV_SLICE;

        if (csv_parse(&p->csv, s, len, on_field, on_record, p) != len) {
            /* Only an allocation failure stops libcsv outside strict mode. */
            p->st.field_too_long = true;
            p->stopped = true;
            break;
        }
        if (csv_get_buffer_size(&p->csv) > p->lim.max_field + JOBCSV_SLICE) {
            p->st.field_too_long = true;
            p->stopped = true;
        }
        s += len;
        n -= len;
    }
    return p->stopped ? -1 : 0;
}

/* Run the strip layer over held (which already holds the new input) and parse what is known not
 * to be the file's stripped tail. */
static int
strip_and_parse(struct jobcsv *p, bool final)
{
    const unsigned char *s = (const unsigned char *)p->held.data;
    size_t n = p->held.len;
    size_t i = 0;
    size_t cut;
    size_t j;
    int rc;

    if (n == 0)
        return 0;
    if (p->at_start) {
        while (i < n) {
            size_t k = strip_len(s + i, n - i, final);

            if (k == UTF8_INCOMPLETE)
                break;
            if (k == 0) {
                p->at_start = false;
                break;
            }
            i += k;
        }
        if (p->at_start) {
            memmove(p->held.data, s + i, n - i);
            buf_truncate(&p->held, n - i);
            return 0;
        }
    }
    cut = i;
    j = i;
    while (j < n) {
        size_t k;

        if (s[j] < 0x80) {
            if (s[j] != ',' && !cp_is_space(s[j]))
                cut = j + 1;
            j++;
            continue;
        }
        k = strip_len(s + j, n - j, final);
        if (k == UTF8_INCOMPLETE)
            break;
        if (k == 0)
            cut = ++j;
        else
            j += k;
    }
    rc = parse_slices(p, s + i, cut - i);
    xwipe(p->held.data, cut);
    memmove(p->held.data, s + cut, n - cut);
    buf_truncate(&p->held, n - cut);
    return rc;
}

static int
space_only(unsigned char c)
{
    return c == ' ';
}

static void
parser_start(struct jobcsv *p)
{
    csv_init(&p->csv, CSV_REPALL_NL);
    csv_set_space_func(&p->csv, space_only);
    p->at_start = true;
    p->prev_term = -1;
    p->have_header = false;
    p->next_index = 0;
    p->stopped = false;
    memset(&p->st, 0, sizeof(p->st));
    for (int k = 0; k < JOBCSV_NKINDS; k++)
        p->col[k] = SIZE_MAX;
}

struct jobcsv *
jobcsv_new(unsigned want, const struct jobcsv_limits *limits, jobcsv_row_fn *fn, void *arg)
{
    struct jobcsv *p = xcalloc(1, sizeof(*p));

    p->want = want;
    p->lim = *limits;
    p->fn = fn;
    p->arg = arg;
    parser_start(p);
    return p;
}

int
jobcsv_feed(struct jobcsv *p, const void *data, size_t len)
{
    if (p->stopped)
        return -1;
    buf_add(&p->held, data, len);
    return strip_and_parse(p, false);
}

int
jobcsv_finish(struct jobcsv *p)
{
    if (p->stopped)
        return -1;
    if (strip_and_parse(p, true) < 0)
        return -1;
    /* Whatever is still held is the stripped tail of the file. */
    xwipe(p->held.data, p->held.len);
    buf_reset(&p->held);
    csv_fini(&p->csv, on_field, on_record, p);
    return p->stopped ? -1 : 0;
}

static void
parser_wipe(struct jobcsv *p)
{
    xwipe(p->csv.entry_buf, p->csv.entry_size);
    csv_free(&p->csv);
    xwipe(p->held.data, p->held.cap);
    buf_reset(&p->held);
    xwipe(p->rec.data, p->rec.cap);
    buf_reset(&p->rec);
    p->nf = 0;
    p->rec_too_long = false;
}

void
jobcsv_reset(struct jobcsv *p)
{
    parser_wipe(p);
    parser_start(p);
}

const struct jobcsv_stats *
jobcsv_get_stats(const struct jobcsv *p)
{
    return &p->st;
}

void
jobcsv_free(struct jobcsv *p)
{
    if (!p)
        return;
    parser_wipe(p);
    buf_release(&p->held);
    buf_release(&p->rec);
    free(p->fend);
    free(p);
}

size_t
jobcsv_clean_cell(char *str, size_t len)
{
    unsigned char *s = (unsigned char *)str;
    size_t out = 0;
    size_t i = 0;
    size_t start;
    size_t end;

    /* Remove the invisible characters. */
    while (i < len) {
        uint32_t cp;
        size_t k = s[i] < 0x80 ? 1 : utf8_decode(s + i, len - i, &cp);

        if (k == 0 || k == UTF8_INCOMPLETE)
            k = 1; /* not valid UTF-8: keep the byte */
        else if (k > 1 && cp_is_invisible(cp)) {
            i += k;
            continue;
        }
        memmove(s + out, s + i, k);
        out += k;
        i += k;
    }
    len = out;
    /* Trim whitespace at both ends. */
    start = 0;
    while (start < len) {
        uint32_t cp;
        size_t k = utf8_decode(s + start, len - start, &cp);

        if (k == 0 || k == UTF8_INCOMPLETE || !cp_is_space(cp))
            break;
        start += k;
    }
    end = len;
    while (end > start) {
        size_t b = end - 1;
        uint32_t cp;
        size_t k;

        while (b > start && (s[b] & 0xC0) == 0x80 && end - b < 4)
            b--;
        k = utf8_decode(s + b, end - b, &cp);
        if (k != end - b || !cp_is_space(cp))
            break;
        end = b;
    }
    if (start)
        memmove(s, s + start, end - start);
    return end - start;
}

size_t
jobcsv_clean_phone(char *str, size_t len)
{
    unsigned char *s = (unsigned char *)str;
    size_t out = 0;
    size_t i = 0;

    while (i < len) {
        uint32_t cp;
        size_t k = utf8_decode(s + i, len - i, &cp);

        if (k == 0 || k == UTF8_INCOMPLETE) {
            s[out++] = s[i++];
            continue;
        }
        if (!(cp == '+' || cp == '(' || cp == ')' || cp == '-' || cp == '.' || cp_is_space(cp))) {
            memmove(s + out, s + i, k);
            out += k;
        }
        i += k;
    }
    return out;
}

bool
jobcsv_header_matches(const char *s, size_t len, enum jobcsv_kind kind)
{
    const char *want = kind == JOBCSV_PHONE ? "phonenumber" : "emailaddress";
    size_t w = 0;

    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (c == ' ' || c == '_' || c == '-')
            continue;
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (want[w] == '\0' || want[w] != c)
            return false;
        w++;
    }
    return want[w] == '\0';
}
