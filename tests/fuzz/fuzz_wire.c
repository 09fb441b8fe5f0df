/*  fuzz_wire: what the hub does with the bytes of one message from an
    adapter: decode the AdapterMessage (common/codec.c), then, for a batch,
    validate each event against the hub's default limits and the shipped
    workflow definitions (hub/validate.c) and re-serialize it as a dead
    letter would be; for a heartbeat, read its fields. */
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
    const char *agencies[HUB_MAX_AGENCIES];
    for (size_t i = 0; i < config.n_agencies; i++)
        agencies[i] = config.agency_list[i];
    char err[4096];
    flows = workflow_set_load_dir (ONENET_SOURCE_DIR "/workflows", agencies,
                                   config.n_agencies, err, sizeof err);
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

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size > (size_t) config.max_message_bytes)
        return 0; /* refused before decoding, as ingest does */
    char err[200] = "";
    codec_inbound_t *msg = codec_inbound_decode (data, size, err, sizeof err);
    if (!msg) {
        if (!*err)
            abort (); /* a refusal must say why */
        return 0;
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
            if (ok) {
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
