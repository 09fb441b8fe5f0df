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

/* Starts the store thread; it connects a PAIR socket to pipe_endpoint,
   which the caller has bound already. Returns NULL if the thread cannot
   start. */
store_t *store_start (void *zmq_ctx, const hub_config_t *config, const char *pipe_endpoint);

/* Waits for the store thread to finish (after a stop message). */
void store_join (store_t **self_p);

/* Connects once, applies migrations and returns 0, or -1 after logging why.
   For onenet-hub --migrate-only. */
int store_migrate_once (const hub_config_t *config);

#endif
