/*  ingest: the hub's front door, the ZeroMQ ROUTER that adapters talk to.

    Runs in the main thread. Reads AdapterMessages, validates every event,
    gathers accepted events into a batch (group commit: a batch goes to the
    store thread when it holds batch_max events, when its oldest event has
    waited batch_wait_ms, or as soon as the store is idle and the wait has
    passed), and answers each EventBatch with a BatchAck only after the
    store thread reports the commit. While one batch commits, the next one
    fills. See docs/protocol.md for the rules the adapters follow. */
#ifndef ONENET_INGEST_H
#define ONENET_INGEST_H

#include <signal.h>

#include "hub_config.h"
#include "workflow_def.h"

/* Serves until *terminated becomes non-zero, then drains: commits and
   acknowledges what was read, or leaves it unacknowledged. Also runs the
   hub's other threads (store, correlate with the workflow set, supervise)
   and stops them. Returns 0 on a clean stop, -1 if the socket could not
   be set up or the drain timed out. */
int ingest_run (const hub_config_t *config, const workflow_set_t *set,
                volatile sig_atomic_t *terminated);

#endif
