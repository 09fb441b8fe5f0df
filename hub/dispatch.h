/*  dispatch: the tasks each agency's adapter asks for, read and encoded
    off the commit path.

    An adapter that delivers tasks says, in every heartbeat, the sequence
    number of the last task of its agency it has (its cursor). Once the
    batch holding that heartbeat has committed, ingest hands the dispatch
    thread a request (the adapter's routing id, agency and cursor); the
    thread reads the agency's tasks after the cursor from its own
    PostgreSQL connection, encodes them as one TaskBatch and gives the
    request back to ingest, which sends it on the adapter's connection. The
    store thread therefore never waits on a task read. A request that
    cannot be answered (the database unreachable) comes back empty: the
    adapter asks again with its next heartbeat. */
#ifndef ONENET_DISPATCH_H
#define ONENET_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "hub_config.h"

/* Requests in flight at most; ingest drops a heartbeat's request beyond
   it (the adapter asks again). */
#define DISPATCH_MAX_OUTSTANDING 256

typedef struct dispatch dispatch_t;

/* One adapter's ask, owned by whoever holds it (ingest, then the thread,
   then ingest again). */
typedef struct {
    uint8_t peer[256];  /* ROUTER routing id of the adapter's connection */
    size_t peer_len;    /* bytes in peer */
    char *adapter_id;   /* the adapter instance, for the log */
    char *agency;       /* whose tasks */
    uint64_t cursor;    /* the last task the adapter has */
    uint8_t *tasks_msg; /* filled by the thread: an encoded TaskBatch, or NULL */
    size_t tasks_len;   /* bytes in tasks_msg */
} task_request_t;

/* A request with copies of the strings; aborts when out of memory. */
task_request_t *task_request_new (const uint8_t *peer, size_t peer_len,
                                  const char *adapter_id, const char *agency,
                                  uint64_t cursor);
void task_request_free (task_request_t **self_p);

/* Starts the thread; its PAIR connects to pipe_endpoint, which the caller
   bound. Over the pipe: a task_request_t pointer each way; an empty
   message to stop. NULL if the thread cannot start. */
dispatch_t *dispatch_start (void *zmq_ctx, const hub_config_t *config,
                            const char *pipe_endpoint);

/* Waits for the thread (told to stop) and frees it. */
void dispatch_join (dispatch_t **self_p);

#endif
