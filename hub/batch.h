/*  batch: one unit of group commit, handed from ingest to store and back.

    The ingest thread fills a batch (COPY rows of accepted events, dead
    letters, heartbeats), passes its pointer to the store thread over an
    inproc socket, and does not touch it until the store thread passes it
    back with the outcome. Ownership moves with the pointer: the two threads
    never share a batch at the same time. */
#ifndef ONENET_BATCH_H
#define ONENET_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "digest.h"
#include "strbuf.h"

/* One event refused by validation, or one unreadable message. */
typedef struct {
    char *sender;       /* adapter id claimed by the batch, or the peer */
    char *agency;       /* claimed agency, NULL if unknown */
    char *event_id;     /* as sent, NULL if none */
    char *case_no;      /* NULL if unknown */
    char *event_type;   /* NULL if unknown */
    error_code_t code;  /* why */
    char *reason;       /* human-readable why */
    uint8_t *payload;   /* bytes as received (bounded) */
    size_t payload_len; /* bytes in payload */
} dead_letter_t;

/* One quarantine row an adapter reported (validated by ingest; owned). */
typedef struct {
    uint64_t seq;           /* its number in the adapter's quarantine */
    char *place;            /* file:line, table row, event id */
    char *code;             /* BAD_RECORD, or the hub's code */
    char *reason;           /* why */
    int64_t rejected_at_ms; /* when the adapter quarantined it */
    char *event_id;         /* the event a hub rejected, NULL for a record */
} reject_row_t;

/* Samples one adapter's heartbeats may bring into one batch, at most: the
   hub takes REJECT_SAMPLES_MAX of each heartbeat; an adapter heartbeats
   far less often than a batch commits. */
#define BATCH_REJECTS_PER_ADAPTER 64

/* The newest heartbeat of one adapter in this batch. */
typedef struct {
    char *adapter_id;          /* adapter instance */
    char *agency;              /* its agency */
    uint64_t outbox_depth;     /* its backlog */
    int64_t oldest_unacked_ms; /* accepted_at of its oldest unacked event */
    uint64_t task_cursor;      /* last task it has */
    bool takes_tasks;          /* it delivers tasks: send those after task_cursor */
    uint8_t peer[256];         /* ROUTER routing id it spoke from */
    size_t peer_len;           /* bytes in peer */
    /* its quarantine: the counts of the newest heartbeat that had them */
    bool counted;              /* the counts below are known */
    uint64_t quarantined;      /* rows in the adapter's quarantine */
    uint64_t refused;          /* of them BAD_RECORD: refused by the adapter */
    uint64_t rejected;         /* of them with a hub's code: events a hub rejected */
    char *codes_json;          /* {"BAD_RECORD": 3, ...} (owned), NULL when not counted */
    reject_row_t *rejects;     /* samples of all its heartbeats in this batch, by seq */
    size_t n_rejects;
    uint64_t rejects_mark;     /* the highest sample seq taken (stored or refused) */
    bool reply_owed;           /* a heartbeat with samples waits for the commit */
    bool rejects_failed;       /* filled by store: the samples were not stored */
} heartbeat_row_t;

typedef enum {
    BATCH_COMMITTED = 0,  /* transaction committed; row_stored says which rows were new */
    BATCH_UNAVAILABLE = 1 /* nothing committed: the store is unreachable */
} batch_outcome_t;

typedef struct {
    /* filled by ingest */
    strbuf_t copy;                      /* COPY text rows for the events table */
    size_t n_rows;                      /* rows in copy */
    size_t cap_rows;                    /* capacity of the row arrays */
    char (*row_ids)[37];                /* lower-case event id of each row */
    size_t *row_end;                    /* offset in copy just past row i's newline */
    uint8_t (*row_content)[DIGEST_LEN]; /* content digest of row i (docs/schema.md) */
    dead_letter_t *dls;                 /* dead letters */
    size_t n_dls, cap_dls;              /* count and capacity of dls */
    heartbeat_row_t *hbs;               /* heartbeats, one per adapter */
    size_t n_hbs, cap_hbs;              /* count and capacity of hbs */
    int64_t first_at_us;                /* monotonic time the first item arrived */
    /* filled by store */
    batch_outcome_t outcome; /* committed or not */
    bool *row_stored;        /* per row: inserted now (true) or already there */
    char **row_error;        /* per row: store-side rejection reason, or NULL */
    error_code_t *row_code;  /* per row: the code of row_error (INVALID_FIELD, CONFLICT) */
    int64_t commit_us;       /* how long the transaction took */
} batch_t;

batch_t *batch_new (void);
void batch_destroy (batch_t **self_p);
/* Empties the batch for reuse, keeping its memory. */
void batch_reset (batch_t *self);
bool batch_empty (const batch_t *self);
/* Starts a new row; returns its index. The caller appends the row's COPY
   text to self->copy and then calls batch_end_row with the content digest
   of the row's columns (digest_event), which the store links into the
   hash chain. */
size_t batch_begin_row (batch_t *self, const char *event_id_lower);
void batch_end_row (batch_t *self, const uint8_t content[DIGEST_LEN]);
/* Appends a dead letter; takes copies of every string (made valid UTF-8,
   at most 1 KiB each) and of the payload. */
void batch_add_dead_letter (batch_t *self, const char *sender, const char *agency,
                            const char *event_id, const char *case_no,
                            const char *event_type, error_code_t code, const char *reason,
                            const void *payload, size_t payload_len);
/* Records a heartbeat heard from peer, replacing an earlier one of the
   same adapter; its counts replace the earlier ones when hb has them. The
   n samples (already validated), with mark, the highest seq of hb's
   samples that were looked at, join those of the adapter's earlier
   heartbeats in this batch; owe_reply: answer it after the commit.
   Returns the row. */
heartbeat_row_t *batch_add_heartbeat (batch_t *self, const heartbeat_t *hb,
                                      const reject_sample_t *samples, size_t n,
                                      uint64_t mark, bool owe_reply, const void *peer,
                                      size_t peer_len);

#endif
