/*  ingest: the hub's front door, the ZeroMQ ROUTER that adapters talk to.

    Runs in the main thread. Reads AdapterMessages, validates every event,
    gathers accepted events into a batch (group commit: a batch goes to the
    store thread when it holds batch_max events, when its oldest event has
    waited batch_wait_ms, or as soon as the store is idle and the wait has
    passed), and answers each EventBatch with a BatchAck only after the
    store thread reports the commit. While one batch commits, the next one
    fills. It also answers hubctl on the control socket, hands heartbeats'
    task requests to the dispatch thread and sends what it read, and
    publishes its counters to the HTTP endpoint. The other threads are
    started and stopped by hub_run (hub.h). See docs/protocol.md for the
    rules the adapters follow. */
#ifndef ONENET_INGEST_H
#define ONENET_INGEST_H

#include <signal.h>
#include <stdbool.h>

#include "auth.h"
#include "http.h"
#include "hub_config.h"
#include "workflow_def.h"

typedef struct ingest ingest_t;

/* What ingest talks to, set up by hub_run: the bound ends of the threads'
   pipes and the optional sockets. */
typedef struct {
    void *store_pipe;       /* PAIR to the store thread */
    void *correlate_pipe;   /* PAIR to the correlation thread, NULL when it is not running */
    void *dispatch_pipe;    /* PAIR to the dispatch thread, NULL when it is not running */
    void *control;          /* REP socket for hubctl, NULL when none */
    http_t *http;           /* the HTTP endpoint, NULL when off */
    const char *vocabulary; /* JSON of the definitions' vocabulary, for the control socket */
} ingest_links_t;

/* Opens the ROUTER socket (CURVE through auth unless it is NULL) and binds
   it to config->listen. NULL, logged, when it cannot listen. */
ingest_t *ingest_new (void *zmq_ctx, const hub_config_t *config, const workflow_set_t *set,
                      auth_t *auth);

/* Where the socket listens, as bound (a port 0 resolved). */
const char *ingest_endpoint (const ingest_t *self);

/* Connects ingest to the threads and sockets of links (borrowed: the
   caller closes them after ingest_serve). */
void ingest_attach (ingest_t *self, const ingest_links_t *links);

/* Serves until *terminated becomes non-zero, then drains: commits and
   acknowledges what was read, or leaves it unacknowledged, and sends the
   tasks still being read. Returns 0 on a clean stop, -1 if the drain timed
   out. */
int ingest_serve (ingest_t *self, volatile sig_atomic_t *terminated);

/* True while a batch is with the store thread (after a drain that timed
   out: the store is stuck in PostgreSQL). */
bool ingest_committing (const ingest_t *self);

/* True while task requests are with the dispatch thread. */
bool ingest_tasks_pending (const ingest_t *self);

/* Closes the socket and frees the batches; only once the store thread has
   stopped (it may hold a batch). */
void ingest_destroy (ingest_t **self_p);

#endif
