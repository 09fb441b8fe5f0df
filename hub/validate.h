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

typedef struct {
    error_code_t code; /* ERR_NONE when the event is acceptable */
    char reason[320];  /* human-readable, names field and value */
} verdict_t;

/* Validates event. batch_agency is the agency the whole batch claims ("" if
   none). now_ms is the hub's clock. Returns true when acceptable; otherwise
   fills verdict and returns false. */
bool validate_event (const hub_config_t *config, const case_event_t *event,
                     const char *batch_agency, int64_t now_ms, verdict_t *verdict);

/* True when s is well-formed UTF-8 (PostgreSQL refuses anything else). */
bool validate_utf8 (const char *s);

#endif
