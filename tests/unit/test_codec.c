/*  test_codec.c - unit tests for common/codec.c

    A standalone program: every failing case is printed with its file and
    line, a summary closes the run, and the exit status is 1 when any case
    failed. Every message kind is encoded, decoded and compared field by
    field; the inbound decoder is also fed every prefix and every
    single-byte corruption of a valid message, which must decode or be
    refused but never crash (run it under ASan to see the difference).
*/

#include "codec.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNIT_NAME "test_codec"
#include "unit.h"

//  The sample event: every key kind and every attribute type.
static const event_key_t s_keys[] = {
    {KEY_CREDIT_CODE, "91350100M000100Y43"},
    {KEY_UNIT_NUMBER, "640425001002GB00123F00010001"},
    {KEY_PROJECT_CODE, "2020-640425-47-01-000123"},
    {KEY_APPLICATION_NO, "SQ2020090100012"},
    {KEY_REFUND_NO, "TK-2020-0001"},
};

static event_attr_t s_attrs[] = {
    {.name = "seller_name", .type = ATTR_TEXT, .text = "宁夏彭阳县某某房地产开发有限公司"},
    {.name = "empty_text", .type = ATTR_TEXT, .text = ""},
    {.name = "parcel_count", .type = ATTR_INTEGER, .integer = 3},
    {.name = "int_min", .type = ATTR_INTEGER, .integer = INT64_MIN},
    {.name = "int_max", .type = ATTR_INTEGER, .integer = INT64_MAX},
    {.name = "int_zero", .type = ATTR_INTEGER, .integer = 0},
    {.name = "deed_tax_yuan", .type = ATTR_NUMBER, .number = 12000.5},
    {.name = "tiny", .type = ATTR_NUMBER, .number = -4.9e-324},
    {.name = "number_zero", .type = ATTR_NUMBER, .number = 0.0},
    {.name = "has_mortgage", .type = ATTR_FLAG, .flag = true},
    {.name = "is_gift", .type = ATTR_FLAG, .flag = false},
    {.name = "registered_at", .type = ATTR_TIME, .time_ms = 1598925600000},
    {.name = "before_epoch", .type = ATTR_TIME, .time_ms = -2208988800000},
};

#define N_KEYS  (sizeof s_keys / sizeof *s_keys)
#define N_ATTRS (sizeof s_attrs / sizeof *s_attrs)

static case_event_t
s_sample_event (void)
{
    case_event_t e = {
        .schema_version = ONENET_SCHEMA_VERSION,
        .event_id = "0f8fad5b-d9cb-469f-a165-70867728950e",
        .agency = "land",
        .adapter_id = "land-彭阳-1",
        .case_no = "PY-BDC-2020-001234 （彭阳）",
        .event_type = "transfer.accepted",
        .occurred_at_ms = 1598923867250,
        .accepted_at_ms = 1598923870000,
        .n_keys = N_KEYS,
        .keys = s_keys,
        .n_attrs = N_ATTRS,
        .attrs = s_attrs,
    };
    return e;
}

/*  True when two events hold the same values in every field.  */
static bool
s_same_event (const case_event_t *a, const case_event_t *b)
{
    if (a->schema_version != b->schema_version || !STREQ (a->event_id, b->event_id)
        || !STREQ (a->agency, b->agency) || !STREQ (a->adapter_id, b->adapter_id)
        || !STREQ (a->case_no, b->case_no) || !STREQ (a->event_type, b->event_type)
        || a->occurred_at_ms != b->occurred_at_ms || a->accepted_at_ms != b->accepted_at_ms
        || a->n_keys != b->n_keys || a->n_attrs != b->n_attrs)
        return false;
    for (size_t i = 0; i < a->n_keys; i++)
        if (a->keys[i].kind != b->keys[i].kind
            || !STREQ (a->keys[i].value, b->keys[i].value))
            return false;
    for (size_t i = 0; i < a->n_attrs; i++) {
        const event_attr_t *x = &a->attrs[i], *y = &b->attrs[i];
        if (!STREQ (x->name, y->name) || x->type != y->type)
            return false;
        switch (x->type) {
        case ATTR_TEXT:
            if (!STREQ (x->text, y->text))
                return false;
            break;
        case ATTR_INTEGER:
            if (x->integer != y->integer)
                return false;
            break;
        case ATTR_NUMBER:
            if (memcmp (&x->number, &y->number, sizeof x->number) != 0)
                return false;
            break;
        case ATTR_FLAG:
            if (x->flag != y->flag)
                return false;
            break;
        case ATTR_TIME:
            if (x->time_ms != y->time_ms)
                return false;
            break;
        default: break;
        }
    }
    return true;
}

/*  Reads every part of a decoded inbound message, so that ASan sees any
    bad view. Returns a checksum-ish count so nothing is optimised away.  */
static size_t
s_walk_inbound (const codec_inbound_t *in)
{
    size_t n = 0;
    if (codec_inbound_kind (in) == INBOUND_HEARTBEAT) {
        heartbeat_t hb;
        codec_inbound_heartbeat (in, &hb);
        n += strlen (hb.adapter_id) + strlen (hb.agency);
        n += strlen (codec_inbound_adapter_id (in)) + strlen (codec_inbound_agency (in));
        return n;
    }
    n += strlen (codec_inbound_adapter_id (in)) + strlen (codec_inbound_agency (in));
    n += (size_t) codec_inbound_batch_seq (in);
    for (size_t i = 0; i < codec_inbound_event_count (in); i++) {
        case_event_t e;
        codec_inbound_event (in, i, &e);
        n += strlen (e.event_id) + strlen (e.agency) + strlen (e.adapter_id)
             + strlen (e.case_no) + strlen (e.event_type);
        for (size_t k = 0; k < e.n_keys; k++)
            n += strlen (e.keys[k].value) + strlen (key_kind_name (e.keys[k].kind));
        for (size_t a = 0; a < e.n_attrs; a++) {
            n += strlen (e.attrs[a].name);
            if (e.attrs[a].type == ATTR_TEXT)
                n += strlen (e.attrs[a].text);
        }
        size_t len;
        uint8_t *bytes = codec_inbound_event_bytes (in, i, &len);
        n += len;
        free (bytes);
    }
    return n;
}

/*  One event: encode, wrap, decode, compare every field.  */
static void
s_test_event_round_trip (void)
{
    case_event_t e = s_sample_event ();
    size_t ev_len;
    uint8_t *ev = codec_event_encode (&e, &ev_len);
    CHECK (ev != NULL && ev_len > 0);

    const uint8_t *events[1] = {ev};
    size_t lens[1] = {ev_len};
    size_t len;
    uint8_t *msg = codec_batch_encode (77, "land-彭阳-1", "land", events, lens, 1, &len);
    CHECK (msg != NULL);

    char err[256] = "";
    codec_inbound_t *in = codec_inbound_decode (msg, len, err, sizeof err);
    CHECK (in != NULL);
    if (!in) {
        fprintf (stderr, "  decode: %s\n", err);
        free (ev);
        free (msg);
        return;
    }
    CHECK (codec_inbound_kind (in) == INBOUND_BATCH);
    CHECK (codec_inbound_batch_seq (in) == 77);
    CHECK (STREQ (codec_inbound_adapter_id (in), "land-彭阳-1"));
    CHECK (STREQ (codec_inbound_agency (in), "land"));
    CHECK (codec_inbound_event_count (in) == 1);

    case_event_t got;
    codec_inbound_event (in, 0, &got);
    CHECK (got.schema_version == 1);
    CHECK (STREQ (got.event_id, "0f8fad5b-d9cb-469f-a165-70867728950e"));
    CHECK (STREQ (got.agency, "land"));
    CHECK (STREQ (got.adapter_id, "land-彭阳-1"));
    CHECK (STREQ (got.case_no, "PY-BDC-2020-001234 （彭阳）"));
    CHECK (STREQ (got.event_type, "transfer.accepted"));
    CHECK (got.occurred_at_ms == 1598923867250);
    CHECK (got.accepted_at_ms == 1598923870000);
    CHECK (got.n_keys == N_KEYS);
    for (size_t k = 0; k < got.n_keys && k < N_KEYS; k++) {
        CHECK (got.keys[k].kind == s_keys[k].kind);
        CHECK (STREQ (got.keys[k].value, s_keys[k].value));
    }
    CHECK (got.n_attrs == N_ATTRS);
    if (got.n_attrs == N_ATTRS) {
        CHECK (STREQ (got.attrs[0].name, "seller_name") && got.attrs[0].type == ATTR_TEXT
               && STREQ (got.attrs[0].text, "宁夏彭阳县某某房地产开发有限公司"));
        CHECK (got.attrs[1].type == ATTR_TEXT && STREQ (got.attrs[1].text, ""));
        CHECK (got.attrs[2].type == ATTR_INTEGER && got.attrs[2].integer == 3);
        CHECK (got.attrs[3].type == ATTR_INTEGER && got.attrs[3].integer == INT64_MIN);
        CHECK (got.attrs[4].type == ATTR_INTEGER && got.attrs[4].integer == INT64_MAX);
        //  A zero inside the oneof is still a value, not "no value".
        CHECK (got.attrs[5].type == ATTR_INTEGER && got.attrs[5].integer == 0);
        CHECK (got.attrs[6].type == ATTR_NUMBER && got.attrs[6].number == 12000.5);
        CHECK (got.attrs[7].type == ATTR_NUMBER && got.attrs[7].number == -4.9e-324);
        CHECK (got.attrs[8].type == ATTR_NUMBER && got.attrs[8].number == 0.0);
        CHECK (got.attrs[9].type == ATTR_FLAG && got.attrs[9].flag == true);
        CHECK (got.attrs[10].type == ATTR_FLAG && got.attrs[10].flag == false);
        CHECK (got.attrs[11].type == ATTR_TIME && got.attrs[11].time_ms == 1598925600000);
        CHECK (got.attrs[12].type == ATTR_TIME && got.attrs[12].time_ms == -2208988800000);
    }
    CHECK (s_same_event (&e, &got));

    //  The event alone, re-serialized, is the same event (and the same
    //  bytes the adapter encoded).
    size_t one_len;
    uint8_t *one = codec_inbound_event_bytes (in, 0, &one_len);
    CHECK (one != NULL);
    CHECK (one_len == ev_len && memcmp (one, ev, ev_len) == 0);
    const uint8_t *again[1] = {one};
    size_t again_lens[1] = {one_len};
    size_t len2;
    uint8_t *msg2 = codec_batch_encode (78, "x", "land", again, again_lens, 1, &len2);
    codec_inbound_t *in2 = msg2 ? codec_inbound_decode (msg2, len2, err, sizeof err) : NULL;
    CHECK (in2 != NULL);
    if (in2) {
        case_event_t got2;
        codec_inbound_event (in2, 0, &got2);
        CHECK (s_same_event (&e, &got2));
        CHECK (codec_inbound_batch_seq (in2) == 78);
    }
    codec_inbound_destroy (&in2);
    CHECK (in2 == NULL);
    free (msg2);
    free (one);

    codec_inbound_destroy (&in);
    CHECK (in == NULL);
    codec_inbound_destroy (&in); //  idempotent
    free (msg);
    free (ev);
}

/*  Several events of different shapes in one batch: the per-event key and
    attribute views must not bleed into each other.  */
static void
s_test_batch_of_many (void)
{
    case_event_t ev[4];
    ev[0] = s_sample_event ();
    ev[1] = (case_event_t){.schema_version = 1,
                           .event_id = "7c9e6679-7425-40de-944b-e07fc1f90ae7",
                           .agency = "land",
                           .adapter_id = "a",
                           .case_no = "c2",
                           .event_type = "t.two",
                           .occurred_at_ms = 1,
                           .accepted_at_ms = 2};
    event_key_t k3[] = {{KEY_REFUND_NO, "R-3"}};
    event_attr_t a3[] = {{.name = "n", .type = ATTR_INTEGER, .integer = -3}};
    ev[2] = (case_event_t){.schema_version = 1,
                           .event_id = "00000000-0000-0000-0000-000000000003",
                           .agency = "tax",
                           .adapter_id = "a",
                           .case_no = "c3",
                           .event_type = "t.three",
                           .occurred_at_ms = -3,
                           .n_keys = 1,
                           .keys = k3,
                           .n_attrs = 1,
                           .attrs = a3};
    //  NULL strings are encoded as empty and decode as "", never NULL.
    ev[3] = (case_event_t){.schema_version = 0};

    uint8_t *bytes[4];
    size_t lens[4];
    for (int i = 0; i < 4; i++)
        bytes[i] = codec_event_encode (&ev[i], &lens[i]);
    CHECK (lens[3] == 0); //  an all-default message is empty
    size_t len;
    uint8_t *msg = codec_batch_encode (UINT64_MAX, "adapter", "land",
                                       (const uint8_t *const *) bytes, lens, 4, &len);
    char err[256];
    codec_inbound_t *in = msg ? codec_inbound_decode (msg, len, err, sizeof err) : NULL;
    CHECK (in != NULL);
    if (in) {
        CHECK (codec_inbound_batch_seq (in) == UINT64_MAX);
        CHECK (codec_inbound_event_count (in) == 4);
        for (size_t i = 0; i < 3 && i < codec_inbound_event_count (in); i++) {
            case_event_t got;
            codec_inbound_event (in, i, &got);
            s_check (s_same_event (&ev[i], &got), "batch event round trip", NULL, __FILE__,
                     __LINE__);
        }
        case_event_t empty;
        codec_inbound_event (in, 3, &empty);
        CHECK (empty.event_id && STREQ (empty.event_id, ""));
        CHECK (empty.agency && STREQ (empty.agency, ""));
        CHECK (empty.adapter_id && STREQ (empty.adapter_id, ""));
        CHECK (empty.case_no && STREQ (empty.case_no, ""));
        CHECK (empty.event_type && STREQ (empty.event_type, ""));
        CHECK (empty.n_keys == 0 && empty.n_attrs == 0 && empty.schema_version == 0);
        codec_inbound_t *copy = in;
        codec_inbound_destroy (&copy);
    }
    free (msg);

    //  An empty batch is a batch.
    msg = codec_batch_encode (5, "adapter", "land", NULL, NULL, 0, &len);
    in = msg ? codec_inbound_decode (msg, len, err, sizeof err) : NULL;
    CHECK (in != NULL && codec_inbound_kind (in) == INBOUND_BATCH
           && codec_inbound_event_count (in) == 0 && codec_inbound_batch_seq (in) == 5);
    codec_inbound_destroy (&in);
    free (msg);

    //  An attribute without a value stays without one.
    event_attr_t none[] = {{.name = "empty", .type = ATTR_NONE}};
    case_event_t e = s_sample_event ();
    e.n_attrs = 1;
    e.attrs = none;
    size_t one_len;
    uint8_t *one = codec_event_encode (&e, &one_len);
    const uint8_t *ones[1] = {one};
    msg = codec_batch_encode (1, "a", "land", ones, &one_len, 1, &len);
    in = msg ? codec_inbound_decode (msg, len, err, sizeof err) : NULL;
    CHECK (in != NULL);
    if (in) {
        case_event_t got;
        codec_inbound_event (in, 0, &got);
        CHECK (got.n_attrs == 1 && got.attrs[0].type == ATTR_NONE
               && STREQ (got.attrs[0].name, "empty"));
    }
    codec_inbound_destroy (&in);
    free (msg);
    free (one);

    //  Unknown key kinds from a newer adapter decode as their number.
    event_key_t odd[] = {{(key_kind_t) 9, "x"}};
    e = s_sample_event ();
    e.n_keys = 1;
    e.keys = odd;
    one = codec_event_encode (&e, &one_len);
    ones[0] = one;
    msg = codec_batch_encode (1, "a", "land", ones, &one_len, 1, &len);
    in = msg ? codec_inbound_decode (msg, len, err, sizeof err) : NULL;
    CHECK (in != NULL);
    if (in) {
        case_event_t got;
        codec_inbound_event (in, 0, &got);
        CHECK (got.n_keys == 1 && (int) got.keys[0].kind == 9);
        CHECK (STREQ (key_kind_name (got.keys[0].kind), "unknown"));
    }
    codec_inbound_destroy (&in);
    free (msg);
    free (one);

    for (int i = 0; i < 4; i++)
        free (bytes[i]);
}

/*  An event that is not a CaseEvent makes the whole batch fail.  */
static void
s_test_batch_encode_refuses (void)
{
    case_event_t e = s_sample_event ();
    size_t good_len;
    uint8_t *good = codec_event_encode (&e, &good_len);
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    const uint8_t *events[3] = {good, garbage, good};
    size_t lens[3] = {good_len, sizeof garbage, good_len};
    size_t len = 12345;
    CHECK (codec_batch_encode (1, "a", "land", events, lens, 3, &len) == NULL);
    events[0] = garbage;
    lens[0] = sizeof garbage;
    CHECK (codec_batch_encode (1, "a", "land", events, lens, 1, &len) == NULL);
    //  A truncated event.
    events[0] = good;
    lens[0] = good_len - 1;
    CHECK (codec_batch_encode (1, "a", "land", events, lens, 1, &len) == NULL);
    free (good);
}

/*  Heartbeats, adapter to hub.  */
static void
s_test_heartbeat (void)
{
    heartbeat_t hb = {.adapter_id = "tax-1",
                      .agency = "tax",
                      .sent_at_ms = 1598923867000,
                      .outbox_depth = UINT64_MAX,
                      .oldest_unacked_ms = -1,
                      .task_cursor = 42};
    size_t len;
    uint8_t *msg = codec_heartbeat_encode (&hb, &len);
    char err[256] = "";
    codec_inbound_t *in = codec_inbound_decode (msg, len, err, sizeof err);
    CHECK (in != NULL);
    if (in) {
        CHECK (codec_inbound_kind (in) == INBOUND_HEARTBEAT);
        CHECK (codec_inbound_event_count (in) == 0);
        CHECK (codec_inbound_batch_seq (in) == 0);
        CHECK (STREQ (codec_inbound_adapter_id (in), "tax-1"));
        CHECK (STREQ (codec_inbound_agency (in), "tax"));
        heartbeat_t got;
        codec_inbound_heartbeat (in, &got);
        CHECK (STREQ (got.adapter_id, "tax-1") && STREQ (got.agency, "tax"));
        CHECK (got.sent_at_ms == 1598923867000);
        CHECK (got.outbox_depth == UINT64_MAX);
        CHECK (got.oldest_unacked_ms == -1);
        CHECK (got.task_cursor == 42);
    }
    codec_inbound_destroy (&in);
    free (msg);

    //  An all-default heartbeat is still a heartbeat.
    heartbeat_t zero = {0};
    msg = codec_heartbeat_encode (&zero, &len);
    in = codec_inbound_decode (msg, len, err, sizeof err);
    CHECK (in != NULL && codec_inbound_kind (in) == INBOUND_HEARTBEAT);
    if (in) {
        heartbeat_t got;
        codec_inbound_heartbeat (in, &got);
        CHECK (STREQ (got.adapter_id, "") && got.outbox_depth == 0);
    }
    codec_inbound_destroy (&in);
    free (msg);
}

/*  A heartbeat's quarantine report: counts by code and samples, every
    field back as sent, Chinese text and a reason at its full 512 bytes
    included; and a sample whose reason is not UTF-8, or holds a NUL byte,
    named by the problem of its bytes (written by hand: the encoder takes
    C strings).  */
static void
s_test_heartbeat_quarantine (void)
{
    char reason[REJECT_REASON_MAX + 1];
    memset (reason, 'r', REJECT_REASON_MAX);
    reason[REJECT_REASON_MAX] = '\0';
    quarantine_count_t counts[] = {{"BAD_RECORD", 30}, {"INVALID_KEY", 2}, {"", 0}};
    reject_sample_t samples[] = {
        {7, "pengyang-land-2020-09-01.ndjson:12", "BAD_RECORD",
         "field \"unit_number\" is \"6404251010\": 28 characters expected", 1598923867123,
         ""},
        {8, "table onenet_outbox row 17", "BAD_RECORD", "字段 \"申请人\" 缺失", 1, ""},
        {UINT64_MAX, "event 0f8fad5b-d9cb-469f-a165-70867728950e", "INVALID_KEY", reason,
         INT64_MAX, "0f8fad5b-d9cb-469f-a165-70867728950e"},
    };
    heartbeat_t hb = {.adapter_id = "land-1",
                      .agency = "land",
                      .sent_at_ms = 1598923867000,
                      .quarantine_counted = true,
                      .quarantined = 32,
                      .n_quarantine_codes = 3,
                      .quarantine_codes = counts,
                      .n_rejects = 3,
                      .rejects = samples};
    size_t len;
    uint8_t *msg = codec_heartbeat_encode (&hb, &len);
    char err[256] = "";
    codec_inbound_t *in = codec_inbound_decode (msg, len, err, sizeof err);
    CHECK (in != NULL);
    if (in) {
        heartbeat_t got;
        codec_inbound_heartbeat (in, &got);
        CHECK (got.quarantine_counted && got.quarantined == 32);
        CHECK (got.n_quarantine_codes == 3 && got.n_rejects == 3);
        for (size_t i = 0; i < 3 && i < got.n_quarantine_codes; i++) {
            CHECK (STREQ (got.quarantine_codes[i].code, counts[i].code));
            CHECK (got.quarantine_codes[i].count == counts[i].count);
            CHECK (codec_inbound_count_problem (in, i) == NULL);
        }
        for (size_t i = 0; i < 3 && i < got.n_rejects; i++) {
            const reject_sample_t *r = &got.rejects[i];
            CHECK (r->seq == samples[i].seq);
            CHECK (STREQ (r->place, samples[i].place));
            CHECK (STREQ (r->code, samples[i].code));
            CHECK (STREQ (r->reason, samples[i].reason));
            CHECK (r->rejected_at_ms == samples[i].rejected_at_ms);
            CHECK (STREQ (r->event_id, samples[i].event_id));
            CHECK (codec_inbound_reject_problem (in, i) == NULL);
        }
        CHECK (codec_inbound_reject_problem (in, 3) == NULL);
    }
    codec_inbound_destroy (&in);
    free (msg);

    //  Without a report: nothing counted, no samples (an adapter from
    //  before the quarantine was reported sends this).
    heartbeat_t plain = {.adapter_id = "land-1", .agency = "land"};
    msg = codec_heartbeat_encode (&plain, &len);
    in = codec_inbound_decode (msg, len, err, sizeof err);
    CHECK (in != NULL);
    if (in) {
        heartbeat_t got;
        codec_inbound_heartbeat (in, &got);
        CHECK (!got.quarantine_counted && got.quarantined == 0);
        CHECK (got.n_quarantine_codes == 0 && got.n_rejects == 0);
    }
    codec_inbound_destroy (&in);
    free (msg);

    //  AdapterMessage{heartbeat(2): Heartbeat{adapter_id(1)="a", rejects(11) x2:
    //  RejectSample{seq(1)=1, reason(4)="x\xff"}, RejectSample{seq(1)=2,
    //  place(2)="p\0q"}}}
    static const uint8_t bad[] = {0x12, 0x14, 0x0a, 0x01, 'a',  0x5a, 0x06, 0x08,
                                  0x01, 0x22, 0x02, 'x',  0xff, 0x5a, 0x07, 0x08,
                                  0x02, 0x12, 0x03, 'p',  0x00, 'q'};
    in = codec_inbound_decode (bad, sizeof bad, err, sizeof err);
    CHECK (in != NULL);
    if (in) {
        heartbeat_t got;
        codec_inbound_heartbeat (in, &got);
        CHECK (got.n_rejects == 2);
        const char *p0 = codec_inbound_reject_problem (in, 0);
        const char *p1 = codec_inbound_reject_problem (in, 1);
        CHECK (p0 && STREQ (p0, "rejects[0].reason is not valid UTF-8"));
        CHECK (p1 && strstr (p1, "rejects[1].place holds a NUL byte") == p1);
    }
    codec_inbound_destroy (&in);
}

/*  Acknowledgements, heartbeat replies and errors, hub to adapter.  */
static void
s_test_outbound (void)
{
    event_ack_t acks[] = {
        {"0f8fad5b-d9cb-469f-a165-70867728950e", ACK_STORED, ERR_NONE, ""},
        {"7c9e6679-7425-40de-944b-e07fc1f90ae7", ACK_DUPLICATE, ERR_NONE, ""},
        {"00000000-0000-0000-0000-000000000003", ACK_REJECTED, ERR_INVALID_KEY,
         "credit code \"91350100M000100Y4A\": check character is 'A', expected '3'"},
        {"00000000-0000-0000-0000-000000000004", ACK_RETRY, ERR_STORE_UNAVAILABLE,
         "数据库不可用"},
    };
    size_t n = sizeof acks / sizeof *acks;
    size_t len;
    uint8_t *msg = codec_ack_encode (991, acks, n, &len);
    codec_outbound_t *out = codec_outbound_decode (msg, len);
    CHECK (out != NULL);
    if (out) {
        CHECK (codec_outbound_kind (out) == OUTBOUND_ACK);
        CHECK (codec_outbound_batch_seq (out) == 991);
        CHECK (codec_outbound_ack_count (out) == n);
        for (size_t i = 0; i < n && i < codec_outbound_ack_count (out); i++) {
            event_ack_t got;
            codec_outbound_ack (out, i, &got);
            s_check (STREQ (got.event_id, acks[i].event_id) && got.status == acks[i].status
                         && got.code == acks[i].code && STREQ (got.reason, acks[i].reason),
                     "ack round trip", acks[i].event_id, __FILE__, __LINE__);
        }
        CHECK (!codec_outbound_store_available (out));
        const char *reason = "x";
        CHECK (codec_outbound_error (out, &reason) == ERR_NONE && STREQ (reason, ""));
    }
    codec_outbound_destroy (&out);
    CHECK (out == NULL);
    codec_outbound_destroy (&out);
    free (msg);

    //  No acks at all.
    msg = codec_ack_encode (3, NULL, 0, &len);
    out = codec_outbound_decode (msg, len);
    CHECK (out != NULL && codec_outbound_kind (out) == OUTBOUND_ACK
           && codec_outbound_ack_count (out) == 0 && codec_outbound_batch_seq (out) == 3);
    codec_outbound_destroy (&out);
    free (msg);

    //  Heartbeat replies, with the store up and down.
    msg = codec_heartbeat_reply_encode (1598923867000, "hub-1", true, 0, &len);
    out = codec_outbound_decode (msg, len);
    CHECK (out != NULL && codec_outbound_kind (out) == OUTBOUND_HEARTBEAT);
    if (out) {
        CHECK (codec_outbound_store_available (out));
        CHECK (codec_outbound_ack_count (out) == 0 && codec_outbound_batch_seq (out) == 0);
    }
    codec_outbound_destroy (&out);
    free (msg);
    msg = codec_heartbeat_reply_encode (0, NULL, false, 0, &len);
    out = codec_outbound_decode (msg, len);
    CHECK (out != NULL && codec_outbound_kind (out) == OUTBOUND_HEARTBEAT);
    if (out) {
        CHECK (!codec_outbound_store_available (out));
        CHECK (codec_outbound_rejects_stored (out) == 0);
    }
    codec_outbound_destroy (&out);
    free (msg);

    //  The reply to a heartbeat that carried quarantine samples.
    msg = codec_heartbeat_reply_encode (1598923867000, "hub-1", true, 9007199254740993ULL,
                                        &len);
    out = codec_outbound_decode (msg, len);
    CHECK (out != NULL && codec_outbound_rejects_stored (out) == 9007199254740993ULL);
    codec_outbound_destroy (&out);
    free (msg);

    //  Errors.
    msg = codec_error_encode (0, ERR_MESSAGE_TOO_LARGE,
                              "message of 2000000 bytes exceeds the limit of 1048576 bytes",
                              &len);
    out = codec_outbound_decode (msg, len);
    CHECK (out != NULL && codec_outbound_kind (out) == OUTBOUND_ERROR);
    if (out) {
        const char *reason = NULL;
        CHECK (codec_outbound_error (out, &reason) == ERR_MESSAGE_TOO_LARGE);
        CHECK (reason
               && STREQ (reason,
                         "message of 2000000 bytes exceeds the limit of 1048576 bytes"));
        CHECK (codec_outbound_ack_count (out) == 0);
        CHECK (codec_outbound_batch_seq (out) == 0);
        CHECK (!codec_outbound_store_available (out));
    }
    codec_outbound_destroy (&out);
    free (msg);
    //  A batch refused whole: the Error names its batch_seq.
    msg = codec_error_encode (1764748800000123ULL, ERR_LIMIT_EXCEEDED, "batch holds 9 events",
                              &len);
    out = codec_outbound_decode (msg, len);
    CHECK (out != NULL && codec_outbound_kind (out) == OUTBOUND_ERROR);
    if (out) {
        const char *reason = NULL;
        CHECK (codec_outbound_error (out, &reason) == ERR_LIMIT_EXCEEDED);
        CHECK (codec_outbound_batch_seq (out) == 1764748800000123ULL);
    }
    codec_outbound_destroy (&out);
    free (msg);
    for (int code = ERR_NONE; code <= ERR_CONFLICT; code++) {
        msg = codec_error_encode (0, (error_code_t) code, "r", &len);
        out = codec_outbound_decode (msg, len);
        const char *reason = NULL;
        s_check (out && codec_outbound_kind (out) == OUTBOUND_ERROR
                     && codec_outbound_error (out, &reason) == (error_code_t) code
                     && STREQ (reason, "r"),
                 "error round trip", error_code_name ((error_code_t) code), __FILE__,
                 __LINE__);
        codec_outbound_destroy (&out);
        free (msg);
    }

    //  Not a HubMessage, or one with no body.
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff};
    CHECK (codec_outbound_decode (garbage, sizeof garbage) == NULL);
    CHECK (codec_outbound_decode ("", 0) == NULL);
    //  An inbound heartbeat read as outbound: field 2 is a HeartbeatReply
    //  on that side, so it decodes, but it never crashes.
    heartbeat_t hb = {.adapter_id = "a", .agency = "b"};
    msg = codec_heartbeat_encode (&hb, &len);
    out = codec_outbound_decode (msg, len);
    if (out)
        (void) codec_outbound_store_available (out);
    codec_outbound_destroy (&out);
    free (msg);
}

/*  Bad bytes into the inbound decoder: garbage, empty, every prefix, every
    single-byte corruption.  */
static void
s_test_inbound_bad (void)
{
    char err[256];
    static const uint8_t garbage[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    err[0] = '\0';
    CHECK (codec_inbound_decode (garbage, sizeof garbage, err, sizeof err) == NULL);
    CHECK (strstr (err, "7 bytes are not a valid AdapterMessage") != NULL);
    static const char text[] = "GET / HTTP/1.1\r\nHost: hub\r\n\r\n";
    err[0] = '\0';
    CHECK (codec_inbound_decode (text, sizeof text - 1, err, sizeof err) == NULL);
    CHECK (err[0] != '\0');

    //  Empty bytes are a valid but empty AdapterMessage: no body.
    err[0] = '\0';
    CHECK (codec_inbound_decode ("", 0, err, sizeof err) == NULL);
    CHECK (strstr (err, "no batch or heartbeat") != NULL);
    //  Only a field from the reserved range (3): still no body.
    static const uint8_t reserved_only[] = {0x18, 0x01};
    err[0] = '\0';
    CHECK (codec_inbound_decode (reserved_only, sizeof reserved_only, err, sizeof err)
           == NULL);
    CHECK (strstr (err, "no batch or heartbeat") != NULL);

    //  A batch of two events, every prefix and every corruption.
    case_event_t e = s_sample_event ();
    size_t ev_len;
    uint8_t *ev = codec_event_encode (&e, &ev_len);
    const uint8_t *events[2] = {ev, ev};
    size_t lens[2] = {ev_len, ev_len};
    size_t len;
    uint8_t *msg = codec_batch_encode (9, "land-1", "land", events, lens, 2, &len);
    int refused_without_reason = 0, decoded = 0, refused = 0;
    size_t sum = 0;
    for (size_t n = 0; n < len; n++) {
        //  A copy of exactly n bytes, so ASan catches any read past it.
        uint8_t *prefix = malloc (n ? n : 1);
        memcpy (prefix, msg, n);
        err[0] = '\0';
        codec_inbound_t *in = codec_inbound_decode (prefix, n, err, sizeof err);
        if (in) {
            decoded++;
            sum += s_walk_inbound (in);
            codec_inbound_destroy (&in);
        }
        else {
            refused++;
            if (!err[0])
                refused_without_reason++;
        }
        free (prefix);
    }
    CHECK (refused > 0);
    CHECK (refused_without_reason == 0);
    for (size_t pos = 0; pos < len; pos++)
        for (int flip = 0; flip < 3; flip++) {
            uint8_t *bad = malloc (len);
            memcpy (bad, msg, len);
            static const uint8_t masks[3] = {0xff, 0x80, 0x01};
            bad[pos] ^= masks[flip];
            err[0] = '\0';
            codec_inbound_t *in = codec_inbound_decode (bad, len, err, sizeof err);
            if (in) {
                sum += s_walk_inbound (in);
                codec_inbound_destroy (&in);
            }
            else if (!err[0])
                refused_without_reason++;
            free (bad);
        }
    CHECK (refused_without_reason == 0);
    CHECK (sum > 0);

    //  The heartbeat too.
    heartbeat_t hb = {.adapter_id = "tax-1",
                      .agency = "tax",
                      .sent_at_ms = 5,
                      .outbox_depth = 7,
                      .oldest_unacked_ms = 3,
                      .task_cursor = 1};
    uint8_t *hmsg = codec_heartbeat_encode (&hb, &len);
    for (size_t n = 0; n < len; n++) {
        uint8_t *prefix = malloc (n ? n : 1);
        memcpy (prefix, hmsg, n);
        codec_inbound_t *in = codec_inbound_decode (prefix, n, err, sizeof err);
        if (in) {
            sum += s_walk_inbound (in);
            codec_inbound_destroy (&in);
        }
        free (prefix);
    }
    free (hmsg);
    free (msg);
    free (ev);

    //  Outbound prefixes likewise.
    event_ack_t acks[] = {
        {"0f8fad5b-d9cb-469f-a165-70867728950e", ACK_REJECTED, ERR_INVALID_KEY, "reason"}};
    uint8_t *amsg = codec_ack_encode (4, acks, 1, &len);
    for (size_t n = 0; n < len; n++) {
        uint8_t *prefix = malloc (n ? n : 1);
        memcpy (prefix, amsg, n);
        codec_outbound_t *out = codec_outbound_decode (prefix, n);
        if (out) {
            for (size_t i = 0; i < codec_outbound_ack_count (out); i++) {
                event_ack_t got;
                codec_outbound_ack (out, i, &got);
                sum += strlen (got.event_id) + strlen (got.reason);
            }
            codec_outbound_destroy (&out);
        }
        free (prefix);
    }
    free (amsg);
    (void) decoded;
}

/*  Names of key kinds, error codes and ack statuses.  */
static void
s_test_names (void)
{
    static const char *kinds[] = {"credit_code", "unit_number", "project_code",
                                  "application_no", "refund_no"};
    for (int k = KEY_CREDIT_CODE; k <= KEY_REFUND_NO; k++) {
        key_kind_t parsed = KEY_NONE;
        s_check (STREQ (key_kind_name ((key_kind_t) k), kinds[k - 1])
                     && key_kind_parse (kinds[k - 1], &parsed) && parsed == (key_kind_t) k,
                 "key kind round trip", kinds[k - 1], __FILE__, __LINE__);
    }
    key_kind_t kind = KEY_REFUND_NO;
    CHECK (!key_kind_parse ("", &kind));
    CHECK (!key_kind_parse ("unknown", &kind));
    CHECK (!key_kind_parse ("CREDIT_CODE", &kind));
    CHECK (!key_kind_parse ("credit_code ", &kind));
    CHECK (!key_kind_parse ("credit", &kind));
    CHECK (kind == KEY_REFUND_NO); //  untouched on failure
    CHECK (STREQ (key_kind_name (KEY_NONE), ""));
    CHECK (STREQ (key_kind_name ((key_kind_t) 6), "unknown"));
    CHECK (STREQ (key_kind_name ((key_kind_t) -1), "unknown"));

    static const char *codes[] = {
        "NONE",          "MALFORMED",         "UNSUPPORTED_VERSION", "MISSING_FIELD",
        "INVALID_FIELD", "UNKNOWN_AGENCY",    "AGENCY_MISMATCH",     "LIMIT_EXCEEDED",
        "INVALID_KEY",   "TIME_OUT_OF_RANGE", "STORE_UNAVAILABLE",   "MESSAGE_TOO_LARGE",
        "SHUTTING_DOWN", "CONFLICT"};
    for (int c = ERR_NONE; c <= ERR_CONFLICT; c++)
        s_check (STREQ (error_code_name ((error_code_t) c), codes[c]), "error code name",
                 codes[c], __FILE__, __LINE__);
    CHECK (STREQ (error_code_name ((error_code_t) 14), "UNKNOWN"));
    CHECK (STREQ (error_code_name ((error_code_t) -1), "UNKNOWN"));

    CHECK (STREQ (ack_status_name (ACK_STORED), "stored"));
    CHECK (STREQ (ack_status_name (ACK_DUPLICATE), "duplicate"));
    CHECK (STREQ (ack_status_name (ACK_REJECTED), "rejected"));
    CHECK (STREQ (ack_status_name (ACK_RETRY), "retry"));
    CHECK (STREQ (ack_status_name ((ack_status_t) 0), "unspecified"));
    CHECK (STREQ (ack_status_name ((ack_status_t) 5), "unknown"));
}

/*  Runs every group, prints the summary; exit status 1 on any failure.  */
/*  Tasks round-trip through a TaskBatch, and a heartbeat carries the task
    cursor and takes_tasks.  */
static void
s_test_tasks (void)
{
    task_t in[2] = {
        {1, "power", "account.transfer", "property_transfer", "power_transferred",
         KEY_UNIT_NUMBER, "640425001002GB00123F00010001",
         "{\"has_mortgage\":false,\"buyer_name\":\"马\"}", 1600000000000, 1600100000000,
         false, ""},
        {2, "power", "account.transfer", "property_transfer", "power_transferred",
         KEY_UNIT_NUMBER, "640425001002GB00124F00010002", "{}", 1600000001000, 0, true,
         "the agency had done the step before it was ready"}};
    size_t len = 0;
    uint8_t *buf = codec_tasks_encode (in, 2, &len);
    codec_outbound_t *out = codec_outbound_decode (buf, len);
    CHECK (out != NULL);
    if (out) {
        CHECK (codec_outbound_kind (out) == OUTBOUND_TASKS);
        CHECK (codec_outbound_task_count (out) == 2);
        for (size_t i = 0; i < 2 && i < codec_outbound_task_count (out); i++) {
            task_t t;
            codec_outbound_task (out, i, &t);
            CHECK (t.seq == in[i].seq);
            CHECK (STREQ (t.agency, in[i].agency));
            CHECK (STREQ (t.kind, in[i].kind));
            CHECK (STREQ (t.workflow, in[i].workflow));
            CHECK (STREQ (t.step, in[i].step));
            CHECK (t.key_kind == KEY_UNIT_NUMBER);
            CHECK (STREQ (t.key_value, in[i].key_value));
            CHECK (STREQ (t.payload_json, in[i].payload_json));
            CHECK (t.ready_at_ms == in[i].ready_at_ms);
            CHECK (t.due_at_ms == in[i].due_at_ms);
            CHECK (t.withdrawn == in[i].withdrawn);
            CHECK (STREQ (t.withdrawn_reason, in[i].withdrawn_reason));
        }
        CHECK (codec_outbound_ack_count (out) == 0);
    }
    codec_outbound_destroy (&out);
    free (buf);

    heartbeat_t hb = {.adapter_id = "power-1",
                      .agency = "power",
                      .sent_at_ms = 1,
                      .task_cursor = 42,
                      .takes_tasks = true};
    buf = codec_heartbeat_encode (&hb, &len);
    char err[256];
    codec_inbound_t *msg = codec_inbound_decode (buf, len, err, sizeof err);
    CHECK (msg != NULL);
    if (msg) {
        heartbeat_t got;
        codec_inbound_heartbeat (msg, &got);
        CHECK (got.task_cursor == 42);
        CHECK (got.takes_tasks);
    }
    codec_inbound_destroy (&msg);
    free (buf);
}

/*  Reading a batch's count, seq and sender from its bytes without decoding
    it; bytes written by hand from the wire format, not by the encoder
    under test.  */
static void
s_test_peek (void)
{
    batch_peek_t peek;
    //  AdapterMessage{batch(1): EventBatch{batch_seq(1)=300, adapter_id(2)="tax-1",
    //  agency(3)="tax", events(4) x3 (empty)}}
    static const uint8_t three[] = {0x0a, 0x15, 0x08, 0xac, 0x02, 0x12, 0x05, 't',  'a',
                                    'x',  '-',  '1',  0x1a, 0x03, 't',  'a',  'x',  0x22,
                                    0x00, 0x22, 0x00, 0x22, 0x00};
    CHECK (codec_inbound_peek (three, sizeof three, &peek));
    CHECK (peek.is_batch && peek.n_events == 3 && peek.batch_seq == 300);
    CHECK (peek.adapter_id_len == 5 && memcmp (peek.adapter_id, "tax-1", 5) == 0);
    CHECK (peek.agency_len == 3 && memcmp (peek.agency, "tax", 3) == 0);
    char err[200];
    codec_inbound_t *in = codec_inbound_decode (three, sizeof three, err, sizeof err);
    CHECK (in && codec_inbound_event_count (in) == 3);
    codec_inbound_destroy (&in);
    //  The batch given twice: protobuf-c keeps the last one; the peek too.
    uint8_t twice[sizeof three + 4];
    memcpy (twice, three, sizeof three);
    memcpy (twice + sizeof three, (const uint8_t[]){0x0a, 0x02, 0x22, 0x00}, 4);
    CHECK (codec_inbound_peek (twice, sizeof twice, &peek) && peek.n_events == 1
           && peek.batch_seq == 0 && !peek.adapter_id);
    in = codec_inbound_decode (twice, sizeof twice, err, sizeof err);
    CHECK (in && codec_inbound_event_count (in) == 1 && codec_inbound_batch_seq (in) == 0);
    codec_inbound_destroy (&in);
    //  A heartbeat after the batch wins the oneof: not a batch.
    static const uint8_t then_hb[] = {0x0a, 0x02, 0x22, 0x00, 0x12, 0x00};
    CHECK (!codec_inbound_peek (then_hb, sizeof then_hb, &peek));
    //  Garbage and a cut length: nothing claimed.
    static const uint8_t cut[] = {0x0a, 0x40, 0x22, 0x00};
    CHECK (!codec_inbound_peek (cut, sizeof cut, &peek) && peek.n_events == 0);
    CHECK (!codec_inbound_peek ("", 0, &peek));
}

/*  An event with a NUL byte is kept for its dead letter as it came, not as
    protobuf-c cut it.  */
static void
s_test_raw_bytes_of_refused_event (void)
{
    //  events[0] = CaseEvent{case_no(5)="HX\0t"} in a batch
    static const uint8_t msg[] = {0x0a, 0x08, 0x22, 0x06, 0x2a, 0x04, 'H', 'X', 0x00, 't'};
    char err[200];
    codec_inbound_t *in = codec_inbound_decode (msg, sizeof msg, err, sizeof err);
    CHECK (in != NULL);
    if (!in)
        return;
    CHECK (codec_inbound_event_problem (in, 0) != NULL);
    size_t len = 0;
    uint8_t *bytes = codec_inbound_event_bytes (in, 0, &len);
    CHECK (len == 6 && memcmp (bytes, msg + 4, 6) == 0);
    free (bytes);
    codec_inbound_destroy (&in);
    //  A clean batch, then the batch protobuf-c keeps, whose event holds the
    //  NUL: the problem is found in the event that is kept (not skipped
    //  because the walk of the first one counted it as event 1).
    static const uint8_t twice[] = {0x0a, 0x04, 0x22, 0x02, 0x2a, 0x00,
                                    0x0a, 0x08, 0x22, 0x06, 0x2a, 0x04, 'H', 'X', 0x00, 't'};
    in = codec_inbound_decode (twice, sizeof twice, err, sizeof err);
    CHECK (in && codec_inbound_event_count (in) == 1);
    if (in)
        CHECK (codec_inbound_event_problem (in, 0) != NULL);
    codec_inbound_destroy (&in);
}

int
main (void)
{
    s_test_peek ();
    s_test_raw_bytes_of_refused_event ();
    s_test_event_round_trip ();
    s_test_batch_of_many ();
    s_test_batch_encode_refuses ();
    s_test_heartbeat ();
    s_test_heartbeat_quarantine ();
    s_test_outbound ();
    s_test_inbound_bad ();
    s_test_names ();
    s_test_tasks ();
    return s_summary ();
}
