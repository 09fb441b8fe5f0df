/*  supervise: supervision (督办), in its own thread.

    Every supervise_interval_ms the thread asks PostgreSQL for the steps
    whose deadline or warning point has passed and that are not yet marked,
    marks them, records a breach (which agency, which step, when it was
    due) and logs it. The queries run on partial indexes over due_at and
    warn_at that hold only unfinished, unmarked steps, so one tick costs in
    proportion to the deadlines that passed since the last tick, not to the
    number of open steps (a million open steps cost the same as a thousand).
    Several hubs can supervise one database: rows are claimed with
    FOR UPDATE SKIP LOCKED and every mark is recorded once.

    The same tick marks parked events that have waited longer than their TTL
    as expired: a listing for operators, never a reason to refuse a later
    join (joining compares event times, see fold.h).

    Pipe protocol (inproc PAIR, bound by the caller): 0 bytes = stop. */
#ifndef ONENET_SUPERVISE_H
#define ONENET_SUPERVISE_H

#include "hub_config.h"

typedef struct supervise supervise_t;

supervise_t *supervise_start (void *zmq_ctx, const hub_config_t *config,
                              const char *pipe_endpoint);
void supervise_join (supervise_t **self_p);

#endif
