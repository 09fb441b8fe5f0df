/*  fuzz_wire: what the hub does with the bytes of one message from an
    adapter, the whole batch through validation: read the batch's count,
    seq and sender from its bytes as ingest does before decoding (and
    refuse it whole beyond max-batch-events), decode the AdapterMessage
    (common/codec.c), then validate each event against the hub's default
    limits and the shipped workflow definitions (hub/validate.c) and
    re-serialize it as a dead letter would be; for a heartbeat, read its
    fields. Properties checked, beyond "no crash, no leak":
    - the pre-decode reading agrees with protobuf-c's decode (kind, count,
      batch_seq, adapter_id, agency), so no batch is refused whole or let
      through on a different count than the one stored;
    - bytes in = bytes stored: an accepted event's strings are its wire
      bytes whole (no NUL cut), and its re-encoding decodes to the same
      event;
    - every refusal carries a code and a UTF-8 reason naming the field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "codec.h"
#include "fuzz.h"
#include "hub_config.h"
#include "log.h"
#include "strbuf.h"
#include "validate.h"
#include "workflow_def.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static hub_config_t config;   /* onenet-hub's defaults */
static workflow_set_t *flows; /* the shipped workflows: the event vocabulary */

/* 2026-01-01T00:00:00Z: a fixed clock keeps every run reproducible */
#define NOW_MS 1767225600000LL

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    char prog[] = "onenet-hub";
    char *args[] = {prog, NULL};
    if (hub_config_load (&config, 1, args) != 0)
        abort ();
    log_init ("fuzz_wire", LOG_ERROR);
    char err[4096];
    flows = hub_config_load_workflows (&config, ONENET_SOURCE_DIR "/workflows", err,
                                       sizeof err);
    if (!flows) {
        fprintf (stderr, "fuzz_wire: the shipped workflows do not load:\n%s\n", err);
        abort ();
    }
    return 0;
}

/* Formats ms as ingest writes an accepted event's times into its COPY row
   (clock_format_pg) or attribute JSON (clock_format_utc) and aborts unless
   it is a timestamp PostgreSQL reads: a four-digit year, then "-". An
   accepted event must never carry a time that makes its row unreadable. */
static void
check_time (int64_t ms, bool pg)
{
    char buf[64];
    if (pg)
        clock_format_pg (ms, buf, sizeof buf);
    else
        clock_format_utc (ms, buf, sizeof buf);
    for (int i = 0; i < 4; i++)
        if (buf[i] < '0' || buf[i] > '9')
            abort ();
    if (buf[4] != '-')
        abort ();
}

/* The pre-decode reading of a bytes field equals protobuf-c's string. */
static void
check_peeked (const char *peeked, size_t len, const char *decoded)
{
    if (!peeked) {
        if (*decoded)
            abort ();
        return;
    }
    /* protobuf-c cuts at a NUL: compare up to it (the walker refuses those) */
    size_t cut = strnlen (peeked, len);
    if (strlen (decoded) != cut || memcmp (peeked, decoded, cut) != 0)
        abort ();
}

static bool
same_str (const char *a, const char *b)
{
    return strcmp (a ? a : "", b ? b : "") == 0;
}

/* An accepted event, encoded again and decoded, is the same event. */
static void
check_round_trip (const case_event_t *e)
{
    size_t len;
    uint8_t *bytes = codec_event_encode (e, &len);
    const uint8_t *events[1] = {bytes};
    size_t lens[1] = {len};
    size_t blen;
    uint8_t *batch = codec_batch_encode (1, "fuzz", e->agency, events, lens, 1, &blen);
    free (bytes);
    if (!batch)
        abort ();
    char err[200];
    codec_inbound_t *again = codec_inbound_decode (batch, blen, err, sizeof err);
    free (batch);
    if (!again || codec_inbound_event_count (again) != 1
        || codec_inbound_event_problem (again, 0))
        abort ();
    case_event_t f;
    codec_inbound_event (again, 0, &f);
    if (!same_str (e->event_id, f.event_id) || !same_str (e->agency, f.agency)
        || !same_str (e->adapter_id, f.adapter_id) || !same_str (e->case_no, f.case_no)
        || !same_str (e->event_type, f.event_type) || e->occurred_at_ms != f.occurred_at_ms
        || e->accepted_at_ms != f.accepted_at_ms || e->schema_version != f.schema_version
        || e->n_keys != f.n_keys || e->n_attrs != f.n_attrs)
        abort ();
    for (size_t k = 0; k < e->n_keys; k++)
        if (e->keys[k].kind != f.keys[k].kind || !same_str (e->keys[k].value, f.keys[k].value))
            abort ();
    for (size_t a = 0; a < e->n_attrs; a++) {
        const event_attr_t *x = &e->attrs[a], *y = &f.attrs[a];
        if (!same_str (x->name, y->name) || x->type != y->type)
            abort ();
        if ((x->type == ATTR_TEXT && !same_str (x->text, y->text))
            || (x->type == ATTR_INTEGER && x->integer != y->integer)
            || (x->type == ATTR_NUMBER && memcmp (&x->number, &y->number, sizeof x->number))
            || (x->type == ATTR_FLAG && x->flag != y->flag)
            || (x->type == ATTR_TIME && x->time_ms != y->time_ms))
            abort ();
    }
    codec_inbound_destroy (&again);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size > (size_t) config.max_message_bytes)
        return 0; /* refused before decoding, as ingest does */
    batch_peek_t peek;
    bool is_batch = codec_inbound_peek (data, size, &peek);
    if (is_batch && (peek.n_events > (size_t) config.max_batch_events
                     || peek.adapter_id_len > (size_t) config.max_string
                     || peek.agency_len > (size_t) config.max_string))
        return 0; /* refused whole before decoding, as ingest does */
    char err[200] = "";
    codec_inbound_t *msg = codec_inbound_decode (data, size, err, sizeof err);
    if (!msg) {
        if (!*err)
            abort (); /* a refusal must say why */
        return 0;
    }
    /* what was read before decoding is what protobuf-c decoded */
    if (is_batch != (codec_inbound_kind (msg) == INBOUND_BATCH))
        abort ();
    if (is_batch) {
        if (peek.n_events != codec_inbound_event_count (msg)
            || peek.batch_seq != codec_inbound_batch_seq (msg))
            abort ();
        check_peeked (peek.adapter_id, peek.adapter_id_len, codec_inbound_adapter_id (msg));
        check_peeked (peek.agency, peek.agency_len, codec_inbound_agency (msg));
    }
    if (codec_inbound_kind (msg) == INBOUND_HEARTBEAT) {
        heartbeat_t hb;
        codec_inbound_heartbeat (msg, &hb);
        utf8_valid (hb.adapter_id);
        utf8_valid (hb.agency);
    }
    else {
        const char *agency = codec_inbound_agency (msg);
        utf8_valid (codec_inbound_adapter_id (msg));
        const char *problem = codec_inbound_batch_problem (msg);
        if (problem && (!*problem || !utf8_valid (problem)))
            abort (); /* a refusal names the field, in text that can be stored */
        size_t n = codec_inbound_event_count (msg);
        for (size_t i = 0; i < n && i < (size_t) config.max_batch_events; i++) {
            case_event_t e;
            codec_inbound_event (msg, i, &e);
            problem = codec_inbound_event_problem (msg, i);
            if (problem && (!*problem || !utf8_valid (problem)))
                abort ();
            verdict_t v;
            bool ok = validate_event (&config, &e, agency, NOW_MS, &v)
                      && validate_event_type (&config, flows, &e, &v);
            if (!ok && (v.code == ERR_NONE || !*v.reason))
                abort (); /* a rejection must carry a code and a reason */
            if (ok && !problem) {
                check_round_trip (&e);
                check_time (e.occurred_at_ms, true);
                if (e.accepted_at_ms)
                    check_time (e.accepted_at_ms, true);
                for (size_t a = 0; a < e.n_attrs; a++)
                    if (e.attrs[a].type == ATTR_TIME)
                        check_time (e.attrs[a].time_ms, false);
            }
            size_t len;
            uint8_t *bytes = codec_inbound_event_bytes (msg, i, &len);
            free (bytes);
        }
    }
    codec_inbound_destroy (&msg);
    return 0;
}
