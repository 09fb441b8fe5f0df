/*  log: one-line structured logs (logfmt) on stderr.

    Every line is
        ts=2026-11-29T08:00:00.123Z level=info proc=hub msg="batch committed" events=500
    so it can be grepped by a person and parsed by a log shipper. The message
    says what happened; the fields name the object it happened to (adapter,
    agency, event id, case number), never a C function. */
#ifndef ONENET_LOG_H
#define ONENET_LOG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 } log_level_t;

/* Sets the process name printed as proc= and the lowest level written. */
void log_init (const char *proc, log_level_t min_level);

/* Parses "debug", "info", "warn" or "error". Returns false on anything else. */
bool log_level_parse (const char *text, log_level_t *level);

/* A value made safe for a logfmt field: returned bare when it is non-empty
   and holds no space, '"', '=', '\\', control byte or byte that is not
   UTF-8; otherwise in double quotes with '"' and '\\' escaped as \" and
   \\, tab, newline and carriage return as \t \n \r, and every other
   control byte or byte that is not UTF-8 as \xNN. A value longer than
   LOG_Q_MAX bytes is cut (at a character) and ends in "...". NULL is "".

   The result lives in a per-thread ring of LOG_Q_SLOTS buffers: use it in
   the log call that asked for it, with at most LOG_Q_SLOTS values per call.
   Every field whose value comes from outside (an agency, a case number, an
   event id, a reason, a PostgreSQL message) goes through log_q, so no value
   can forge a field or a line:
       log_warn ("event rejected", "case=%s reason=%s", log_q (c), log_q (r)); */
#define LOG_Q_MAX   1024
#define LOG_Q_SLOTS 12
const char *log_q (const char *value);

/* The same for len bytes that may hold NUL. */
const char *log_qn (const char *value, size_t len);

/* Writes one line: msg is written through log_q, fields (a printf format,
   may be NULL) is appended verbatim. Newlines in the result are replaced by spaces, so one
   call is always one line. Fields past the line's 4 KiB are dropped whole (never
   cut inside a quoted value) and the line ends in truncated=true. Thread-safe
   (one write(2) per line). */
void log_write (log_level_t level, const char *msg, const char *fields, ...)
    __attribute__ ((format (printf, 3, 4)));

#define log_debug(msg, ...) log_write (LOG_DEBUG, msg, __VA_ARGS__)
#define log_info(msg, ...)  log_write (LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...)  log_write (LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_write (LOG_ERROR, msg, __VA_ARGS__)

#endif
