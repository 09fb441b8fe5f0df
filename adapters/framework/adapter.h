/*  adapter: the run loop every agency adapter shares.

    input (stdin or a spool directory of NDJSON files)
        -> map each record to a case event (the agency's own mapping)
        -> outbox (durable, fsync'ed, deduplicated by event id)
        -> sender (batches, window, Lazy Pirate resend)
        -> hub acknowledgement -> removed from the outbox, or quarantined

    Spool files: only names ending in .ndjson that do not start with "." are
    read, so an agency system writes "x.ndjson.tmp" (or ".x.ndjson") and
    renames it when complete. Progress in a file is committed in the same
    outbox transaction as its records, so a restart resumes exactly where it
    stopped. A consumed file moves to done/ (or failed/ when it cannot be
    read at all). Bad records are logged with file:line and the reason and
    kept in the outbox's quarantine table; the good records around them go
    on. */
#ifndef ONENET_ADAPTER_H
#define ONENET_ADAPTER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "adapter_config.h"
#include "mapped_event.h"

/* An agency's mapping (adapter_map_fn, mapped_event.h) fills a case event
   from one input line; the run loop derives the event's id — from the
   record, or for a row of the agency's outbox table from the agency, the
   table and the row — and encodes it once. */

/* Runs until the input is done (with --once) or *terminated. Returns the
   process exit status. */
int adapter_run (const adapter_config_t *config, adapter_map_fn map,
                 volatile sig_atomic_t *terminated);

/* The whole main() of an adapter program: loads the settings (for an
   agency program, agency is fixed: --agency may be left out, and another
   agency is refused), sets up logging and signals, and runs. agency NULL:
   --agency is required (the generic adapter). Returns the exit status. */
int adapter_main (int argc, char **argv, const char *prog, const char *agency,
                  const char *description, adapter_map_fn map);

#endif
