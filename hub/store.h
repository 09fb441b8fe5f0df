/*  store: the hub's one PostgreSQL writer, in its own thread.

    The ingest thread sends batch pointers over an inproc PAIR socket; the
    store thread commits each batch in one transaction and sends the pointer
    back with the outcome. Only after that does ingest acknowledge anything,
    so an acknowledgement always follows a commit.

    Pipe protocol (inproc, PAIR):
      ingest -> store   sizeof(batch_t *) bytes: commit this batch
                        0 bytes: stop
      store -> ingest   sizeof(batch_t *) bytes: batch done, see outcome
                        1 byte 'U' / 'D': the store became available / unavailable

    When PostgreSQL goes away the thread reconnects with exponential backoff
    (100 ms doubling to db_retry_max_ms); batches that arrive meanwhile come
    back at once as BATCH_UNAVAILABLE. On connect it applies the schema
    migrations. */
#ifndef ONENET_STORE_H
#define ONENET_STORE_H

#include "batch.h"
#include "hub_config.h"

typedef struct store store_t;

/* Whether the store can commit, as its thread last found out: read by
   other threads (the HTTP endpoint's /healthz) at any time. */
typedef struct {
    bool connected;     /* the thread holds a working session */
    int64_t last_ok_ms; /* monotonic ms (clock_mono_ms) of the last round trip that
                           succeeded: a commit, an idle probe or a new session;
                           0 when there was none yet */
    char error[512];    /* why the last one failed, on one line ("" after a success) */
} store_health_t;

/* Starts the store thread; it connects a PAIR socket to pipe_endpoint,
   which the caller has bound already. Returns NULL if the thread cannot
   start. */
store_t *store_start (void *zmq_ctx, const hub_config_t *config, const char *pipe_endpoint);

/* Copies the store's health into out; safe from any thread while the
   store runs. */
void store_health (store_t *self, store_health_t *out);

/* Waits for the store thread to finish (after a stop message). */
void store_join (store_t **self_p);

/* Connects once, applies migrations and returns 0, or -1 after logging why.
   For onenet-hub --migrate-only. */
int store_migrate_once (const hub_config_t *config);

#endif
