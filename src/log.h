/*
 * Logging: one line per event to stderr, as text ("jobreport: warning: ...") or as JSON lines
 * ({"time":...,"level":...,"msg":...}) for log aggregation. Callers must never pass PII (phone
 * numbers, email addresses, personalisation) or secrets; identifiers (service and job ids, object
 * keys) and counts are fine. Safe to call from several threads: each record is one write.
 */
#ifndef JR_LOG_H
#define JR_LOG_H

#include <stdbool.h>

#include "compat.h"

enum log_level {
    LOG_LEVEL_ERROR,
    LOG_LEVEL_WARN,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG,
};

enum log_format {
    LOG_FORMAT_TEXT,
    LOG_FORMAT_JSON,
};

/* Set the threshold and format. The default is warnings and errors, as text. */
void log_setup(enum log_level level, enum log_format format);

/* Is a record at this level printed? Use it to skip building expensive messages. */
bool log_enabled(enum log_level level);

/* Parse "error|warning|info|debug" (also "warn"). Returns -1 for anything else. */
int log_level_parse(const char *s, enum log_level *out);

/* Parse "text|json". Returns -1 for anything else. */
int log_format_parse(const char *s, enum log_format *out);

void log_error(const char *fmt, ...) JR_PRINTF(1, 2);
void log_warn(const char *fmt, ...) JR_PRINTF(1, 2);
void log_info(const char *fmt, ...) JR_PRINTF(1, 2);
void log_debug(const char *fmt, ...) JR_PRINTF(1, 2);

#endif
