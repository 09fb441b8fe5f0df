/*  correlate: turns stored events into workflow instances, in its own thread.

    Ingest puts every newly stored event id into correlation_queue in the
    same transaction as the event. This thread claims a page of the queue
    (FOR UPDATE SKIP LOCKED, so several hubs share the work), records the
    events' correlation keys in case_keys, takes a transaction-scoped
    advisory lock per key (in sorted order, so two hubs never deadlock and
    never fold the same key at once), reads every event of those keys,
    folds them (fold.h) and has wf_store.h write the instances, steps,
    deadlines, breaches, tasks and unmatched events, all in one
    transaction. A crash before the commit
    leaves the queue rows in place; a refold is idempotent, so at-least-once
    processing gives exactly-once outcomes.

    Ingest comes first: acknowledgements are what adapters wait for, and
    correlated state can always be recomputed. While ingest reports full
    batches ("B" on the pipe), the thread takes only one page a second and
    catches up when the load eases; the lag is visible as the age of the
    oldest correlation_queue row.

    Pipe protocol (inproc PAIR, bound by the caller): 0 bytes = stop;
    "B" = ingest is saturated, yield for a while. */
#ifndef ONENET_CORRELATE_H
#define ONENET_CORRELATE_H

#include "hub_config.h"
#include "workflow_def.h"

typedef struct correlate correlate_t;

/* Starts the thread; the set must outlive it. */
correlate_t *correlate_start (void *zmq_ctx, const hub_config_t *config,
                              const workflow_set_t *set, const char *pipe_endpoint);
void correlate_join (correlate_t **self_p);

#endif
