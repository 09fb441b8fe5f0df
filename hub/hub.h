/*  hub: the hub process's threads, started and stopped in one place.

    The main thread runs ingest (the adapters' ROUTER socket, hubctl's
    control socket); beside it run the store thread (group commits), the
    correlation thread, the supervision thread and the dispatch thread
    (tasks read for adapters), each with its own PostgreSQL connection and
    an inproc pipe to ingest (worker.h), plus the ZAP handler when CURVE is
    on, the handshake monitors and the HTTP endpoint when asked for.
    hub_run starts them in dependency order, serves, and stops them in the
    reverse order once ingest has drained. */
#ifndef ONENET_HUB_H
#define ONENET_HUB_H

#include <signal.h>

#include "hub_config.h"
#include "workflow_def.h"

/* Runs the hub until *terminated becomes non-zero. Returns 0 on a clean
   stop, -1 when something asked for could not start (the socket, a
   thread, the control socket, the HTTP endpoint) or the drain timed out. */
int hub_run (const hub_config_t *config, const workflow_set_t *set,
             volatile sig_atomic_t *terminated);

#endif
