/*  record: the generic NDJSON case record, one JSON object per line.

        {"event_id": "optional UUID",
         "agency": "optional, must match the adapter's",
         "case_no": "PY-BDC-2020-001234",
         "event_type": "transfer.accepted",
         "occurred_at": "2020-09-01T09:31:07+08:00",
         "keys": {"unit_number": "640425001002GB00123F00010001"},
         "attrs": {"has_mortgage": true, "deed_tax_yuan": 12000.5,
                   "registered_at": {"time": "2020-09-01T10:00:00+08:00"}}}

    JSON strings become text attributes, integers integer, other numbers
    number, booleans flag, and {"time": "..."} a time. Without an event_id
    the id is derived from the agency and the record's bytes (UUID v5), so
    feeding the same record twice yields the same event and the hub absorbs
    the second. docs/adapters/generic.md documents the format. */
#ifndef ONENET_RECORD_H
#define ONENET_RECORD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mapped_event.h"

/* A derived event id: UUID v5 in onenet's own namespace over the n parts
   joined by line feeds, e.g. {agency, record bytes} or {agency, the
   agency's record number}. The same parts always give the same id, so a
   record delivered twice is the same event. Every adapter derives its ids
   here. */
/* Parses line as one JSON object, member names unique: the object (to
   json_decref), or NULL with err ("not JSON: ... (column N)", or "a record
   must be a JSON object, not an array"). Every record format starts here. */
json_t *record_json_object (const char *line, size_t line_len, char *err, size_t errlen);

/* "an object", "an array", "a string", "a number", "a boolean" or "null":
   what a JSON value is, for messages that say what was found. */
const char *record_json_type_name (const json_t *value);

void record_event_id (const char *const *parts, const size_t *lens, size_t n,
                      char event_id[37]);

/* The generic format's mapping, an adapter_map_fn (mapped_event.h): parses
   one line into out, the event id being the record's own event_id (a
   UUID) or, without one, derived from the agency and the line's bytes. On
   failure returns false with a reason naming the field in err.
   Correlation keys are checked here (credit code and unit number check
   rules), before anything travels. */
bool record_parse_ndjson (const char *line, size_t line_len, const char *agency,
                          mapped_event_t *out, char *err, size_t errlen);

#endif
