/*  outbox: the adapter's durable local store of accepted events.

    An event the agency hands over is "accepted" once outbox_put() returns:
    it is then in a SQLite database in WAL mode with synchronous=FULL (the
    commit is fsync'ed), so it survives SIGKILL and power loss. It leaves the
    outbox only when the hub acknowledges it (STORED or DUPLICATE), or moves
    to the quarantine table when the hub rejects it. The same table holds
    records that were refused locally (bad input), with the reason.

    SQLite is the embedded store here because it is the standard tool for a
    crash-safe single-file database; onenet does not write its own log. */
#ifndef ONENET_OUTBOX_H
#define ONENET_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct outbox outbox_t;

/* An event to accept. */
typedef struct {
    const char *event_id;   /* its UUID */
    const uint8_t *bytes;   /* serialized CaseEvent */
    size_t len;             /* bytes */
    int64_t accepted_at_ms; /* when the adapter took it */
} outbox_item_t;

/* An event waiting to be sent, as read back. */
typedef struct {
    int64_t seq;       /* outbox sequence, increasing in acceptance order */
    char event_id[40]; /* its UUID */
    uint8_t *bytes;    /* serialized CaseEvent (malloc'd) */
    size_t len;        /* bytes */
} outbox_row_t;

/* Opens or creates the outbox at path. NULL with a reason in err. */
outbox_t *outbox_open (const char *path, char *err, size_t errlen);
void outbox_close (outbox_t **self_p);

/* Accepts items in one transaction; an event id already in the outbox is
   skipped. If source is not NULL, records that source has been consumed up
   to offset in the same transaction (see outbox_source_offset). Returns the
   number newly accepted, or -1 with a reason in err (then nothing was
   accepted: disk full, I/O error). */
int outbox_put (outbox_t *self, const outbox_item_t *items, size_t n, const char *source,
                int64_t offset, char *err, size_t errlen);

/* Every call below that can fail returns -1 with SQLite's reason in err
   (and changes nothing); the caller names the outbox and the object. */

/* Where a source (a spool file) was consumed up to, into *offset: 0 if
   never. Returns 0, or -1: the position is then unknown, never 0. */
int outbox_source_offset (outbox_t *self, const char *source, int64_t *offset, char *err,
                          size_t errlen);
/* Forgets a source once it is fully consumed. Returns 0 or -1. */
int outbox_source_done (outbox_t *self, const char *source, char *err, size_t errlen);

/* Reads up to max_n events with seq > after_seq, oldest first, stopping
   before max_bytes. Returns how many rows were filled (0: none after
   after_seq), or -1 when the outbox could not be read (no row is then
   left filled). */
int outbox_fetch (outbox_t *self, int64_t after_seq, size_t max_n, size_t max_bytes,
                  outbox_row_t *rows, char *err, size_t errlen);
void outbox_row_free (outbox_row_t *row);

/* Removes acknowledged events in one transaction. Returns 0 or -1. */
int outbox_remove (outbox_t *self, const int64_t *seqs, size_t n, char *err, size_t errlen);

/* Moves one event to quarantine with the hub's reason. Returns 0 or -1. */
int outbox_quarantine_event (outbox_t *self, int64_t seq, const char *code,
                             const char *reason, char *err, size_t errlen);

/* Records an input record refused before it became an event; the same
   record from the same place is recorded once. Returns 0 or -1. */
int outbox_quarantine_record (outbox_t *self, const char *where, const char *reason,
                              const char *record, size_t len, char *err, size_t errlen);

/* Events waiting for acknowledgement (a count kept in step with the
   table, so it never fails). */
uint64_t outbox_depth (outbox_t *self);
/* When the oldest waiting event was accepted, into *oldest_ms: 0 if none.
   Returns 0 or -1. */
int outbox_oldest_ms (outbox_t *self, int64_t *oldest_ms, char *err, size_t errlen);
/* Rows in quarantine, or -1 with the reason in err. */
int64_t outbox_quarantined (outbox_t *self, char *err, size_t errlen);

/* ---- the quarantine as heartbeats report it to the hub ---------------- */

/* Quarantine rows with one code. */
typedef struct {
    char code[33];  /* BAD_RECORD, or the hub's code */
    uint64_t count; /* rows */
} outbox_code_count_t;

/* Reads the rows in quarantine by code (counts kept by triggers, so a few
   rows are read, the quarantine is not counted): up to max codes into
   counts (*n of them), every row into *total. Returns 0 or -1. */
int outbox_quarantine_counts (outbox_t *self, outbox_code_count_t *counts, size_t max,
                              size_t *n, uint64_t *total, char *err, size_t errlen);

/* One quarantine row as a heartbeat carries it: every text valid UTF-8,
   cut at a character to the size the protocol allows. */
typedef struct {
    int64_t id;         /* its number in the quarantine, increasing */
    char place[257];    /* file:line, "table T row N", or "event <event id>" */
    char code[33];      /* BAD_RECORD, or the hub's code */
    char reason[513];   /* why */
    int64_t at_ms;      /* when it was quarantined */
    char event_id[65];  /* the event the hub rejected, "" for a record */
} outbox_reject_t;

/* Reads up to max quarantine rows with id > after_id, oldest first.
   Returns how many, or -1. */
int outbox_quarantine_after (outbox_t *self, int64_t after_id, outbox_reject_t *rows,
                             size_t max, char *err, size_t errlen);

/* The quarantine id up to which a hub has confirmed storing the rows
   (0: none yet), and its update (never moved back). Return 0 or -1. */
int outbox_reported_mark (outbox_t *self, int64_t *mark, char *err, size_t errlen);
int outbox_set_reported_mark (outbox_t *self, int64_t mark, char *err, size_t errlen);

#endif
