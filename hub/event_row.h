/*  event_row: an event as a row of the events table, in COPY text format.

    The one place that knows the events table's columns as the hub writes
    them and their order in a row: ingest appends rows with it, the store
    names the columns in its COPY and reads fields of a row back with it
    (to compare a redelivery with what is stored). The hash-chain columns
    follow these in the store's COPY (store.c). The content digest is
    computed over the same field texts (common/digest.h), so one
    digest_event_t describes both. The keys and attributes columns are
    JSON written here too, as docs/schema.md ("events") describes them. */
#ifndef ONENET_EVENT_ROW_H
#define ONENET_EVENT_ROW_H

#include <stddef.h>

#include "codec.h"
#include "digest.h"
#include "strbuf.h"

/* The columns of a row, in order. */
#define EVENT_ROW_COLUMNS                                                                  \
    "event_id, agency, adapter_id, case_no, event_type, occurred_at, "                     \
    "accepted_at, received_at, schema_version, keys, attrs, hub_id"

typedef enum {
    EVENT_ROW_EVENT_ID,
    EVENT_ROW_AGENCY,
    EVENT_ROW_ADAPTER_ID,
    EVENT_ROW_CASE_NO,
    EVENT_ROW_EVENT_TYPE,
    EVENT_ROW_OCCURRED_AT,
    EVENT_ROW_ACCEPTED_AT,
    EVENT_ROW_RECEIVED_AT,
    EVENT_ROW_SCHEMA_VERSION,
    EVENT_ROW_KEYS,
    EVENT_ROW_ATTRS,
    EVENT_ROW_HUB_ID,
    EVENT_ROW_FIELDS /* how many */
} event_row_field_t;

/* Writes e's keys into js (reset first): one JSON object, key kind to
   value, in the order the event gives them. */
void event_row_keys_json (strbuf_t *js, const case_event_t *e);

/* Writes e's typed attributes into js (reset first): one JSON object,
   name to value; a time as ISO 8601 UTC text. */
void event_row_attrs_json (strbuf_t *js, const case_event_t *e);

/* Appends one attribute's value as event_row_attrs_json writes it (so
   that two values compare as text). */
void event_row_attr_value_json (strbuf_t *js, const event_attr_t *at);

/* Appends e as one row ending in a newline: every text escaped for COPY,
   a NULL accepted_at as \N. */
void event_row_append (strbuf_t *sb, const digest_event_t *e);

/* Field i of the row [row, end) written by event_row_append, unescaped,
   appended to out. */
void event_row_field (const char *row, const char *end, event_row_field_t i, strbuf_t *out);

#endif
