/*  mapped_event: what an agency's mapping makes of one record, and how the
    framework turns it into the event that travels.

    A mapping (adapter_map_fn) reads one record and fills a mapped_event_t:
    the case event's own fields (case number, event type, time, keys,
    attributes), and what the event's id comes from — the record's own
    event id, or the parts of the record that name it (a record number),
    or nothing, for the record's bytes. Everything else is the framework's:
    it derives the id (record_event_id over the agency and those parts, or
    over the agency and where the record was read, for a row of the
    agency's outbox table), fills in the agency, the adapter, the schema
    version and the time of acceptance, and encodes the event once.

    Strings in the event may point into the parsed record (keep it in
    root), into the mapping's static tables, or into copies the event owns
    (mapped_event_keep); the framework releases them after encoding. */
#ifndef ONENET_MAPPED_EVENT_H
#define ONENET_MAPPED_EVENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"

#define MAPPED_EVENT_KEYS  16 /* correlation keys an event may carry */
#define MAPPED_EVENT_ATTRS 64 /* attributes an event may carry */
#define MAPPED_EVENT_PARTS 3  /* parts an id may be derived from */

typedef struct {
    /* case_no, event_type, occurred_at_ms, n_keys and n_attrs (keys and
       attrs point to the arrays below); the rest is the framework's */
    case_event_t event;
    event_key_t keys[MAPPED_EVENT_KEYS];
    event_attr_t attrs[MAPPED_EVENT_ATTRS];

    /* the id: the record's own event id (a UUID, any case; checked by the
       mapping), else derived from the agency and id_parts[0..n_id_parts),
       else (n_id_parts 0) from the agency and the record's bytes */
    const char *event_id;
    const char *id_parts[MAPPED_EVENT_PARTS];
    size_t id_lens[MAPPED_EVENT_PARTS];
    size_t n_id_parts;

    json_t *root; /* the parsed record the strings point into, or NULL */
    char **kept;  /* copies made by mapped_event_keep */
    size_t n_kept;
} mapped_event_t;

/* An agency's mapping: one input line to one case event. Returns true
   with out filled, or false with a reason naming the field (and its
   value) in err; out is released by the caller either way. agency is the
   adapter's; a mapping that checks the record against it says so. */
typedef bool (*adapter_map_fn) (const char *line, size_t line_len, const char *agency,
                                mapped_event_t *out, char *err, size_t errlen);

void mapped_event_init (mapped_event_t *self);
void mapped_event_release (mapped_event_t *self);

/* A copy of s[0..len) (NUL added) that lives as long as the event. */
const char *mapped_event_keep (mapped_event_t *self, const char *s, size_t len);

/* Adds one part the id is derived from (at most MAPPED_EVENT_PARTS). */
void mapped_event_id_part (mapped_event_t *self, const char *s, size_t len);

/* Maps line with map and encodes its event once: the id comes from where
   the record was read when from (n_from parts, e.g. the table and the row
   of the agency's outbox table) is given, else as the mapping says (see
   mapped_event_t). Returns malloc'd bytes (caller frees) with *len and
   the id in event_id, or NULL with the mapping's reason in err. */
uint8_t *mapped_event_encode (adapter_map_fn map, const char *line, size_t line_len,
                              const char *agency, const char *adapter_id,
                              int64_t accepted_at_ms, const char *const *from,
                              size_t n_from, char event_id[37], size_t *len, char *err,
                              size_t errlen);

#endif
