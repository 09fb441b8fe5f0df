/*  validate: is a decoded case event acceptable to the hub?

    Checks an event against the protocol (docs/protocol.md "Validation") and
    the hub's limits. Pure: no I/O, no allocation. The verdict names the
    field and the offending value, so an operator reading the dead letter
    knows what to fix at the agency. */
#ifndef ONENET_VALIDATE_H
#define ONENET_VALIDATE_H

#include <stdbool.h>
#include <stdint.h>

#include "codec.h"
#include "hub_config.h"
#include "workflow_def.h"

/* A correlation key value's bytes at most, whatever max-string allows: keys
   are indexed (case_keys, workflow_instances), and a PostgreSQL B-tree
   entry holds at most about 2 700 bytes. */
#define VALIDATE_KEY_MAX 1024

typedef struct {
    error_code_t code; /* ERR_NONE when the event is acceptable */
    char reason[1024]; /* human-readable, names field and value (and the known ones) */
} verdict_t;

/* Validates event. batch_agency is the agency the whole batch claims ("" if
   none). now_ms is the hub's clock. Returns true when acceptable; otherwise
   fills verdict and returns false. */
bool validate_event (const hub_config_t *config, const case_event_t *event,
                     const char *batch_agency, int64_t now_ms, verdict_t *verdict);

/* Checks the event's type against its agency's vocabulary: the event
   types that the loaded workflow definitions name for that agency (in
   starts_on, a step's completes_on, rejects_on, reopens_on, cancels_on),
   plus the operator's extra-event-types ("agency:type,..."). Call it after
   validate_event accepted the event. An unknown type is refused with
   ERR_INVALID_FIELD and the list of the agency's known types. With no set
   (NULL) every well-formed type is accepted. Cost: O(log e) for a known
   type; the list is built only for a refusal. */
bool validate_event_type (const hub_config_t *config, const workflow_set_t *set,
                          const case_event_t *event, verdict_t *verdict);

#endif
