/*  log: one-line structured logs (logfmt) on stderr.

    Every line is
        ts=2026-11-29T08:00:00.123Z level=info proc=hub msg="batch committed" events=500
    so it can be grepped by a person and parsed by a log shipper. The message
    says what happened; the fields name the object it happened to (adapter,
    agency, event id, case number), never a C function. */
#ifndef ONENET_LOG_H
#define ONENET_LOG_H

#include <stdbool.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 } log_level_t;

/* Sets the process name printed as proc= and the lowest level written. */
void log_init (const char *proc, log_level_t min_level);

/* Parses "debug", "info", "warn" or "error". Returns false on anything else. */
bool log_level_parse (const char *text, log_level_t *level);

/* Writes one line: msg is quoted, fields (a printf format, may be NULL) is
   appended verbatim. Newlines in the result are replaced by spaces, so one
   call is always one line. Thread-safe (one write(2) per line). */
void log_write (log_level_t level, const char *msg, const char *fields, ...)
    __attribute__ ((format (printf, 3, 4)));

#define log_debug(msg, ...) log_write (LOG_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...)  log_write (LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...)  log_write (LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_write (LOG_ERROR, msg, __VA_ARGS__)

#endif
