/*  clock: wall and monotonic time in milliseconds, and RFC 3339 text.

    onenet keeps every instant as int64 milliseconds since the Unix epoch,
    UTC. Text forms are RFC 3339 with an explicit offset (agency records
    carry +08:00, Beijing time). */
#ifndef ONENET_CLOCK_H
#define ONENET_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Wall-clock now, ms since the epoch. */
int64_t clock_now_ms (void);

/* Monotonic now in ms, for timeouts and latency (never goes back). */
int64_t clock_mono_ms (void);

/* Monotonic now in microseconds. */
int64_t clock_mono_us (void);

/* Parses "2020-09-01T09:31:07+08:00", "...07.250Z", "2020-09-01 09:31:07+08"
   into ms since the epoch. An offset (or Z) is required: a local time without
   one is ambiguous. Returns false on anything else. */
bool clock_parse_rfc3339 (const char *text, int64_t *ms);

/* Writes ms as "2020-09-01T01:31:07.000Z" into buf (at least 32 bytes). */
void clock_format_utc (int64_t ms, char *buf, size_t len);

/* Writes ms as PostgreSQL timestamptz input "2020-09-01 01:31:07.000+00". */
void clock_format_pg (int64_t ms, char *buf, size_t len);

#endif
