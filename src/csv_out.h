/*
 * The Notify-compatible CSV writer (SPEC §5.1): ',' delimiter, '"' quoting with quotes doubled, a
 * field quoted only when it contains ',', '"', CR or LF, every record ended by CRLF, NULL written
 * as an empty field. Optionally neutralises spreadsheet formulas (CSV injection) by prefixing '
 * to a cell that starts with '=', '+', '-', '@', TAB or CR. Appends to a caller's buffer; no I/O.
 */
#ifndef JR_CSV_OUT_H
#define JR_CSV_OUT_H

#include <stdbool.h>
#include <stddef.h>

struct buf;

/* Append one field (s may be NULL: an empty field) followed by ',' unless last is true, in which
 * case CRLF ends the record. */
void csv_out_field(struct buf *b, const char *s, size_t len, bool escape_formulas, bool last);

/* Same for a NUL-terminated string (NULL allowed). */
void csv_out_str(struct buf *b, const char *s, bool escape_formulas, bool last);

#endif
