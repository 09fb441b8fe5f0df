/*  ingest: ROUTER socket, validation, group commit, acknowledgements.
    See ingest.h for the contract and docs/protocol.md for the wire rules. */
#include "ingest.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "auth.h"
#include "batch.h"
#include "clock.h"
#include "codec.h"
#include "digest.h"
#include "handshake_log.h"
#include "http.h"
#include "control.h"
#include "dispatch.h"
#include "event_row.h"
#include "id_index.h"
#include "log.h"
#include "strbuf.h"
#include "validate.h"

#define DEAD_LETTER_PREFIX 4096 /* bytes of an unreadable message kept */
#define STATS_EVERY_MS     10000

/* One event of an EventBatch, waiting for its acknowledgement. */
typedef struct {
    const char *event_id; /* as sent; points into the reply's message */
    const codec_inbound_t *msg; /* the message it came in */
    size_t index;         /* its place in that message */
    long row;             /* row in the batch, -1 when rejected */
    bool dup_in_batch;    /* same id as an earlier row of this batch */
    error_code_t code;    /* rejection code, ERR_NONE when accepted */
    char *reason;         /* rejection reason (malloc'd) */
} item_t;

/* One message that will be answered after the batch commits. */
typedef struct {
    codec_inbound_t *msg; /* the decoded batch, NULL for an unreadable message */
    uint8_t peer[256];    /* ROUTER routing id of the sender */
    size_t peer_len;      /* bytes in peer */
    uint64_t batch_seq;   /* echoed in the BatchAck */
    size_t first, count;  /* this message's items */
    error_code_t error;   /* for an unreadable message: why */
    char *error_reason;   /* and in words (malloc'd) */
} reply_t;

/* A batch being filled or committed, with the answers it owes. */
typedef struct {
    batch_t *batch;   /* rows, dead letters, heartbeats */
    reply_t *replies; /* messages to answer */
    size_t n_replies, cap_replies;
    item_t *items; /* events to answer */
    size_t n_items, cap_items;
    size_t *row_item; /* the item each row of the batch came from */
    size_t cap_row_item;
    id_index_t index; /* event id -> row, for in-batch duplicates */
} pending_t;

/* Counters, logged every STATS_EVERY_MS and answered on the control socket. */
typedef hub_status_t stats_t;

struct ingest {
    const hub_config_t *config; /* settings */
    auth_t *auth;               /* the ZAP handler; NULL when insecure */
    const workflow_set_t *set;  /* workflow definitions: the agencies' event types */
    void *router;               /* the ingest socket */
    void *pipe;                 /* PAIR to the store thread */
    void *correlate_pipe;       /* PAIR to the correlation thread: "B" = ingest is busy */
    int64_t busy_told_ms;       /* when the correlator was last told */
    void *dispatch_pipe;        /* PAIR to the task thread, NULL when it did not start */
    size_t tasks_asked;         /* task requests the dispatch thread has not answered */
    pending_t slots[2];         /* the two batches that alternate */
    pending_t *filling;         /* the one being filled */
    pending_t *inflight;        /* the one at the store, NULL when it is idle */
    bool store_up;              /* last status from the store thread */
    stats_t stats;              /* since start */
    http_t *http;               /* the HTTP endpoint, NULL when off */
    strbuf_t scratch;           /* JSON of one event's keys */
    strbuf_t attrs_scratch;     /* JSON of one event's attributes */
    strbuf_t encoding;          /* one event's canonical encoding (common/digest) */
    void *control;              /* REP socket for hubctl, NULL when none */
    handshake_log_t *handshakes; /* failed handshakes on the router, logged */
    char endpoint[256];         /* where the router listens, as bound */
};

static void *
grow (void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return p;
    size_t cap2 = *cap ? *cap : 64;
    while (cap2 < need)
        cap2 *= 2;
    void *q = realloc (p, cap2 * size);
    if (!q)
        abort ();
    *cap = cap2;
    return q;
}

static void
pending_clear (pending_t *p)
{
    for (size_t i = 0; i < p->n_replies; i++) {
        codec_inbound_destroy (&p->replies[i].msg);
        free (p->replies[i].error_reason);
    }
    for (size_t i = 0; i < p->n_items; i++)
        free (p->items[i].reason);
    p->n_replies = 0;
    p->n_items = 0;
    batch_reset (p->batch);
    id_index_reset (&p->index, 0);
}

static bool
pending_empty (const pending_t *p)
{
    return p->n_replies == 0 && batch_empty (p->batch);
}

static reply_t *
add_reply (pending_t *p, const zmq_msg_t *peer)
{
    p->replies = grow (p->replies, &p->cap_replies, p->n_replies + 1, sizeof *p->replies);
    reply_t *r = &p->replies[p->n_replies++];
    memset (r, 0, sizeof *r);
    r->peer_len = zmq_msg_size ((zmq_msg_t *) peer);
    if (r->peer_len > sizeof r->peer)
        r->peer_len = sizeof r->peer;
    memcpy (r->peer, zmq_msg_data ((zmq_msg_t *) peer), r->peer_len);
    r->first = p->n_items;
    return r;
}

/* Whether two valid events (names unique: validation refuses a repeated
   key kind or attribute name) say the same, compared as the store compares
   a redelivery with what it holds (jsonb: order does not matter): agency,
   case number, event type, occurred_at, schema version, keys, attributes.
   Writes the fields that differ, comma-separated, into differs. */
static bool
same_said (const case_event_t *a, const case_event_t *b, char *differs, size_t len)
{
    *differs = '\0';
#define DIFFERS(name)                                                                      \
    snprintf (differs + strlen (differs), len - strlen (differs), "%s%s",                 \
              *differs ? ", " : "", name)
    if (strcmp (a->agency, b->agency))
        DIFFERS ("agency");
    if (strcmp (a->case_no, b->case_no))
        DIFFERS ("case_no");
    if (strcmp (a->event_type, b->event_type))
        DIFFERS ("event_type");
    if (a->occurred_at_ms != b->occurred_at_ms)
        DIFFERS ("occurred_at");
    if (a->schema_version != b->schema_version)
        DIFFERS ("schema_version");
    bool keys = a->n_keys == b->n_keys;
    for (size_t i = 0; keys && i < a->n_keys; i++) {
        size_t j = 0;
        while (j < b->n_keys && b->keys[j].kind != a->keys[i].kind)
            j++;
        keys = j < b->n_keys && strcmp (a->keys[i].value, b->keys[j].value) == 0;
    }
    if (!keys)
        DIFFERS ("keys");
    bool attrs = a->n_attrs == b->n_attrs;
    strbuf_t va, vb;
    strbuf_init (&va);
    strbuf_init (&vb);
    for (size_t i = 0; attrs && i < a->n_attrs; i++) {
        size_t j = 0;
        while (j < b->n_attrs && strcmp (b->attrs[j].name, a->attrs[i].name))
            j++;
        if (j == b->n_attrs) {
            attrs = false;
            break;
        }
        strbuf_reset (&va);
        strbuf_reset (&vb);
        event_row_attr_value_json (&va, &a->attrs[i]);
        event_row_attr_value_json (&vb, &b->attrs[j]);
        attrs = va.len == vb.len && memcmp (va.data, vb.data, va.len) == 0;
    }
    strbuf_free (&va);
    strbuf_free (&vb);
    if (!attrs)
        DIFFERS ("attributes");
#undef DIFFERS
    return !*differs;
}

/* Appends one COPY text row for an accepted event, with the digest of its
   content (docs/schema.md, "Hash chain"): computed here, while the store
   thread commits the previous batch, from the very column texts the row
   carries, so the store only links rows into the chain. Returns false,
   appending nothing, when the columns cannot be digested; why says what. */
static bool
append_row (ingest_t *self, batch_t *b, const case_event_t *e, const char *id_lower,
            const char *received_pg, char *why, size_t whylen)
{
    char occurred[40], accepted[40], version[12];
    clock_format_pg (e->occurred_at_ms, occurred, sizeof occurred);
    if (e->accepted_at_ms)
        clock_format_pg (e->accepted_at_ms, accepted, sizeof accepted);
    snprintf (version, sizeof version, "%u", e->schema_version);
    strbuf_t *keys = &self->scratch, *attrs = &self->attrs_scratch;
    event_row_keys_json (keys, e);
    event_row_attrs_json (attrs, e);
    digest_event_t d = {id_lower,
                        e->agency,
                        e->adapter_id,
                        e->case_no,
                        e->event_type,
                        occurred,
                        e->accepted_at_ms ? accepted : NULL,
                        received_pg,
                        version,
                        keys->data,
                        attrs->data,
                        self->config->hub_id};
    uint8_t content[DIGEST_LEN];
    if (digest_event (&d, &self->encoding, content, why, whylen) < 0)
        return false;

    batch_begin_row (b, id_lower);
    event_row_append (&b->copy, &d);
    batch_end_row (b, content);
    return true;
}

/* Files one rejected event: an answer owed and a dead letter to store. */
static void
reject_event (pending_t *p, item_t *item, const codec_inbound_t *msg, size_t i,
              const case_event_t *e, const char *sender, error_code_t code,
              const char *reason)
{
    item->row = -1;
    item->code = code;
    size_t len;
    uint8_t *bytes = codec_inbound_event_bytes (msg, i, &len);
    batch_add_dead_letter (p->batch, sender, e->agency, e->event_id, e->case_no,
                           e->event_type, code, reason, bytes, len);
    free (bytes);
    /* log and answer with the dead letter's UTF-8-safe copies */
    dead_letter_t *d = &p->batch->dls[p->batch->n_dls - 1];
    item->reason = str_dup (d->reason);
    log_warn ("event rejected", "adapter=%s agency=%s event=%s case=%s code=%s reason=%s",
              log_q (d->sender), log_q (d->agency), log_q (d->event_id), log_q (d->case_no),
              error_code_name (code), log_q (d->reason));
}

/* With CURVE, whether the key a batch came with may send it: an adapter
   key only as its own adapter, for its own agency; a read-write operator
   key (hubctl replay) for any agency the hub knows. Writes why not into
   refused ("" when it may). */
static void
authorise_batch (const ingest_t *self, const auth_identity_t *id, const char *sender,
                 const char *batch_agency, char *refused, size_t len)
{
    char quoted[80];
    *refused = '\0';
    if (!self->auth)
        return;
    if (!id)
        snprintf (refused, len, "the connection carries no authenticated key identity");
    else if (id->role == KEY_ADAPTER && strcmp (sender, id->adapter) != 0)
        snprintf (refused, len,
                  "the key of adapter \"%s\" (agency %s) sent a batch as adapter \"%s\"",
                  id->adapter, id->agency, utf8_safe_copy (quoted, sizeof quoted, sender));
    else if (id->role == KEY_ADAPTER && *batch_agency && strcmp (batch_agency, id->agency))
        snprintf (refused, len,
                  "the key of adapter \"%s\" speaks for agency \"%s\", not for \"%s\"",
                  id->adapter, id->agency,
                  utf8_safe_copy (quoted, sizeof quoted, batch_agency));
}

/* With CURVE, whether an adapter key may send this event: every field
   that names a sender is bound to the key, the event's agency and its own
   adapter_id as well as the batch's. Writes why not. */
static bool
authorise_event (const ingest_t *self, const auth_identity_t *id, const case_event_t *e,
                 char *why, size_t len)
{
    char quoted[80];
    if (!self->auth || id->role != KEY_ADAPTER)
        return true;
    if (strcmp (e->agency, id->agency)) {
        snprintf (why, len,
                  "the key of adapter \"%s\" speaks for agency \"%s\"; it may not send an "
                  "event of agency \"%s\"",
                  id->adapter, id->agency,
                  utf8_safe_copy (quoted, sizeof quoted, e->agency));
        return false;
    }
    if (strcmp (e->adapter_id, id->adapter)) {
        snprintf (why, len,
                  "the key of adapter \"%s\" may not send an event recorded as coming from "
                  "adapter \"%s\"",
                  id->adapter, utf8_safe_copy (quoted, sizeof quoted, e->adapter_id));
        return false;
    }
    return true;
}

static void
handle_batch (ingest_t *self, const zmq_msg_t *peer, codec_inbound_t *msg,
              const auth_identity_t *key_id)
{
    pending_t *p = self->filling;
    const hub_config_t *config = self->config;
    reply_t *r = add_reply (p, peer);
    r->msg = msg;
    r->batch_seq = codec_inbound_batch_seq (msg);
    size_t n = codec_inbound_event_count (msg);
    r->count = n;
    p->items = grow (p->items, &p->cap_items, p->n_items + n, sizeof *p->items);
    self->stats.events += n;

    const char *sender = codec_inbound_adapter_id (msg);
    const char *batch_agency = codec_inbound_agency (msg);
    int64_t now = clock_now_ms ();
    char received_pg[40];
    clock_format_pg (now, received_pg, sizeof received_pg);
    char refused[400], batch_wire[360];
    authorise_batch (self, key_id, sender, batch_agency, refused, sizeof refused);

    for (size_t i = 0; i < n; i++) {
        item_t *item = &p->items[p->n_items++];
        memset (item, 0, sizeof *item);
        case_event_t e;
        codec_inbound_event (msg, i, &e);
        item->event_id = e.event_id;
        item->msg = msg;
        item->index = i;
        verdict_t v;
        /* a string field protobuf-c would have cut short (a NUL byte) or
           that is not UTF-8, in the event or its batch: never stored */
        const char *wire = codec_inbound_event_problem (msg, i);
        if (!wire && codec_inbound_batch_problem (msg)) {
            snprintf (batch_wire, sizeof batch_wire, "the batch's %s",
                      codec_inbound_batch_problem (msg));
            wire = batch_wire;
        }
        if (wire) {
            reject_event (p, item, msg, i, &e, sender, ERR_INVALID_FIELD, wire);
            continue;
        }
        if (*refused) {
            reject_event (p, item, msg, i, &e, sender, ERR_AGENCY_MISMATCH, refused);
            continue;
        }
        char denied[300];
        if (!authorise_event (self, key_id, &e, denied, sizeof denied)) {
            reject_event (p, item, msg, i, &e, sender, ERR_AGENCY_MISMATCH, denied);
            continue;
        }
        if (!validate_event (config, &e, batch_agency, now, &v)
            || !validate_event_type (config, self->set, &e, &v)) {
            reject_event (p, item, msg, i, &e, sender, v.code, v.reason);
            continue;
        }
        char id[37];
        for (int c = 0; c < 36; c++)
            id[c] = (char) tolower ((unsigned char) e.event_id[c]);
        id[36] = '\0';
        long row = id_index_find (&p->index, p->batch->row_ids, id);
        if (row >= 0) {
            /* the same id earlier in this transaction: a duplicate when it
               says the same, a CONFLICT (as against a stored event) when not */
            const item_t *first = &p->items[p->row_item[row]];
            case_event_t f;
            codec_inbound_event (first->msg, first->index, &f);
            char differs[200], conflict[400];
            if (!same_said (&f, &e, differs, sizeof differs)) {
                snprintf (conflict, sizeof conflict,
                          "event id %s came twice at once with other content (it differs "
                          "in %s): the first stands, this one is refused",
                          id, differs);
                reject_event (p, item, msg, i, &e, sender, ERR_CONFLICT, conflict);
                continue;
            }
            item->row = row;
            item->dup_in_batch = true;
            continue;
        }
        char why[512];
        if (!append_row (self, p->batch, &e, id, received_pg, why, sizeof why)) {
            char undigestible[600];
            snprintf (undigestible, sizeof undigestible, "the event cannot be digested: %s",
                      why);
            reject_event (p, item, msg, i, &e, sender, ERR_INVALID_FIELD, undigestible);
            continue;
        }
        item->row = (long) p->batch->n_rows - 1;
        id_index_put (&p->index, p->batch->row_ids, (size_t) item->row);
        p->row_item = grow (p->row_item, &p->cap_row_item, p->batch->n_rows,
                            sizeof *p->row_item);
        p->row_item[item->row] = p->n_items - 1;
    }
    if (!p->batch->first_at_us)
        p->batch->first_at_us = clock_mono_us ();
}

/* A message answered as a whole with an Error after its dead letter is
   committed: one that could not be read (batch_seq 0), or a batch refused
   before any of its events was looked at (its batch_seq echoed). sender is
   the adapter id the batch claims, NULL to name the peer. */
static void
handle_refused (ingest_t *self, const zmq_msg_t *peer, uint64_t batch_seq,
                const char *sender, error_code_t code, const char *reason,
                const void *data, size_t len)
{
    pending_t *p = self->filling;
    reply_t *r = add_reply (p, peer);
    r->batch_seq = batch_seq;
    r->error = code;
    r->error_reason = str_dup (reason);
    char peer_name[80];
    /* no adapter id can be trusted from unreadable bytes: name the peer */
    snprintf (peer_name, sizeof peer_name, "peer:");
    size_t plen = zmq_msg_size ((zmq_msg_t *) peer);
    const uint8_t *pid = zmq_msg_data ((zmq_msg_t *) peer);
    for (size_t i = 0; i < plen && i < 16; i++)
        snprintf (peer_name + strlen (peer_name), sizeof peer_name - strlen (peer_name),
                  "%02x", pid[i]);
    if (!sender)
        sender = peer_name;
    batch_add_dead_letter (p->batch, sender, NULL, NULL, NULL, NULL, code, reason, data,
                           len < DEAD_LETTER_PREFIX ? len : DEAD_LETTER_PREFIX);
    if (!p->batch->first_at_us)
        p->batch->first_at_us = clock_mono_us ();
    if (code == ERR_LIMIT_EXCEEDED)
        self->stats.batches_refused++;
    else
        self->stats.unreadable++;
    log_warn (batch_seq ? "batch refused whole" : "message refused",
              "adapter=%s peer=%s batch_seq=%llu code=%s reason=%s", log_q (sender),
              peer_name, (unsigned long long) batch_seq, error_code_name (code),
              log_q (reason));
}

/* Limits a batch breaks as a whole, read from its bytes before it is
   decoded: more events than max-batch-events, or an adapter_id or agency
   over max-string. Returns true and answers it when it breaks one. */
static bool
refuse_whole (ingest_t *self, const zmq_msg_t *peer, const void *data, size_t size)
{
    const hub_config_t *config = self->config;
    batch_peek_t peek;
    if (!codec_inbound_peek (data, size, &peek))
        return false;
    char reason[300];
    if (peek.n_events > (size_t) config->max_batch_events)
        snprintf (reason, sizeof reason,
                  "batch holds %zu events, limit %d: refused whole, none of its events "
                  "was stored; send at most %d events a batch",
                  peek.n_events, config->max_batch_events, config->max_batch_events);
    else if (peek.adapter_id_len > (size_t) config->max_string)
        snprintf (reason, sizeof reason,
                  "the batch's adapter_id is %zu bytes, limit %d: refused whole",
                  peek.adapter_id_len, config->max_string);
    else if (peek.agency_len > (size_t) config->max_string)
        snprintf (reason, sizeof reason,
                  "the batch's agency is %zu bytes, limit %d: refused whole",
                  peek.agency_len, config->max_string);
    else
        return false;
    /* the claimed adapter id names the dead letter when it is one */
    char sender[300];
    const char *named = NULL;
    if (peek.adapter_id && peek.adapter_id_len > 0
        && peek.adapter_id_len <= (size_t) config->max_string
        && peek.adapter_id_len < sizeof sender
        && !memchr (peek.adapter_id, 0, peek.adapter_id_len)) {
        memcpy (sender, peek.adapter_id, peek.adapter_id_len);
        sender[peek.adapter_id_len] = '\0';
        if (utf8_valid (sender))
            named = sender;
    }
    handle_refused (self, peer, peek.batch_seq, named, ERR_LIMIT_EXCEEDED, reason, data,
                    size);
    return true;
}

static void
send_to (ingest_t *self, const uint8_t *peer, size_t peer_len, uint8_t *buf, size_t len)
{
    /* a peer that went away is not an error: it will resend */
    if (zmq_send (self->router, peer, peer_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
        zmq_send (self->router, buf, len, ZMQ_DONTWAIT);
    free (buf);
}

/* A quarantine code: [A-Z0-9_], 1 to REJECT_CODE_MAX bytes. */
static bool
reject_code_valid (const char *code)
{
    size_t n = strlen (code);
    if (n == 0 || n > REJECT_CODE_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(isupper ((unsigned char) code[i]) || isdigit ((unsigned char) code[i])
              || code[i] == '_'))
            return false;
    return true;
}

/* The latest instant a sample may name (9999-12-31 UTC). */
#define REJECT_AT_MAX_MS 253402300799999LL

/* Why sample i of a heartbeat cannot be stored (into why), or NULL. */
static const char *
reject_problem (const codec_inbound_t *msg, size_t i, const reject_sample_t *r, char *why,
                size_t whylen)
{
    const char *wire = codec_inbound_reject_problem (msg, i);
    if (wire)
        return wire;
    char q[80];
    if (r->seq == 0 || r->seq > INT64_MAX)
        snprintf (why, whylen, "rejects[%zu].seq %llu is out of range", i,
                  (unsigned long long) r->seq);
    else if (!reject_code_valid (r->code))
        snprintf (why, whylen,
                  "rejects[%zu].code \"%s\" is not a code (A-Z, 0-9, _; at most %d bytes)",
                  i, utf8_safe_copy (q, sizeof q, r->code), REJECT_CODE_MAX);
    else if (!*r->place || strlen (r->place) > REJECT_PLACE_MAX)
        snprintf (why, whylen, "rejects[%zu].place is %zu bytes, expected 1 to %d", i,
                  strlen (r->place), REJECT_PLACE_MAX);
    else if (!*r->reason || strlen (r->reason) > REJECT_REASON_MAX)
        snprintf (why, whylen, "rejects[%zu].reason is %zu bytes, expected 1 to %d", i,
                  strlen (r->reason), REJECT_REASON_MAX);
    else if (strlen (r->event_id) > REJECT_EVENT_ID_MAX)
        snprintf (why, whylen, "rejects[%zu].event_id is %zu bytes, more than %d", i,
                  strlen (r->event_id), REJECT_EVENT_ID_MAX);
    else if (r->rejected_at_ms <= 0 || r->rejected_at_ms > REJECT_AT_MAX_MS)
        snprintf (why, whylen, "rejects[%zu].rejected_at_ms %lld is not a time", i,
                  (long long) r->rejected_at_ms);
    else
        return NULL;
    return why;
}

static int
by_seq (const void *a, const void *b)
{
    const reject_sample_t *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The quarantine report of a heartbeat into its row: the counts when the
   adapter counted (each code checked; a bad one is left out), and the
   samples, at most REJECT_SAMPLES_MAX of the lowest seq. A sample that
   breaks a rule is logged and left out; the reply still confirms it
   (resent, it would break the rule again). Returns true when the heartbeat
   carried samples, so its reply waits for the commit. */
static bool
add_heartbeat (ingest_t *self, const zmq_msg_t *peer, const codec_inbound_t *msg,
               const heartbeat_t *hb)
{
    size_t n = hb->n_rejects;
    reject_sample_t *taken = calloc (n + 1, sizeof *taken);
    if (!taken)
        abort ();
    if (n)
        memcpy (taken, hb->rejects, n * sizeof *taken);
    qsort (taken, n, sizeof *taken, by_seq);
    if (n > REJECT_SAMPLES_MAX)
        n = REJECT_SAMPLES_MAX; /* the rest come again with the next heartbeats */
    uint64_t mark = n ? taken[n - 1].seq : 0;
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        size_t at = 0; /* its index as sent, for the problem of its bytes */
        while (at < hb->n_rejects && hb->rejects[at].seq != taken[i].seq)
            at++;
        char why[200];
        const char *problem = reject_problem (msg, at, &taken[i], why, sizeof why);
        if (problem)
            log_warn ("adapter's quarantine sample not stored",
                      "adapter=%s agency=%s seq=%llu reason=%s", log_q (hb->adapter_id),
                      log_q (hb->agency), (unsigned long long) taken[i].seq,
                      log_q (problem));
        else
            taken[kept++] = taken[i];
    }
    heartbeat_row_t *row =
        batch_add_heartbeat (self->filling->batch, hb, taken, kept, mark, n > 0,
                             zmq_msg_data ((zmq_msg_t *) peer),
                             zmq_msg_size ((zmq_msg_t *) peer));
    free (taken);
    if (hb->quarantine_counted) {
        strbuf_t js;
        strbuf_init (&js);
        strbuf_putc (&js, '{');
        uint64_t refused = 0, rejected = 0;
        size_t codes = 0;
        for (size_t i = 0; i < hb->n_quarantine_codes && codes < QUARANTINE_CODES_MAX;
             i++) {
            const quarantine_count_t *c = &hb->quarantine_codes[i];
            const char *wire = codec_inbound_count_problem (msg, i);
            bool twice = false;
            for (size_t k = 0; k < i && !twice; k++)
                twice = strcmp (hb->quarantine_codes[k].code, c->code) == 0;
            const char *why = wire;
            if (!why && !reject_code_valid (c->code))
                why = "not a code (A-Z, 0-9, _; at most 32 bytes)";
            else if (!why && twice)
                why = "the code is counted twice";
            else if (!why && c->count > INT64_MAX)
                why = "the count is out of range";
            if (why) {
                log_warn ("adapter's quarantine count not stored",
                          "adapter=%s agency=%s code=%s reason=%s", log_q (hb->adapter_id),
                          log_q (hb->agency), log_q (c->code), log_q (why));
                continue;
            }
            strbuf_printf (&js, "%s\"%s\":%llu", codes++ ? "," : "", c->code,
                           (unsigned long long) c->count);
            if (strcmp (c->code, "BAD_RECORD") == 0)
                refused = c->count;
            else
                rejected += c->count;
        }
        strbuf_putc (&js, '}');
        row->counted = true;
        row->quarantined = hb->quarantined > INT64_MAX ? INT64_MAX : hb->quarantined;
        row->refused = refused;
        row->rejected = rejected;
        free (row->codes_json);
        row->codes_json = strdup (js.data);
        if (!row->codes_json)
            abort ();
        strbuf_free (&js);
    }
    return n > 0;
}

static void
handle_heartbeat (ingest_t *self, const zmq_msg_t *peer, codec_inbound_t *msg,
                  const auth_identity_t *id)
{
    heartbeat_t hb;
    codec_inbound_heartbeat (msg, &hb);
    if (self->auth
        && (!id || id->role != KEY_ADAPTER || strcmp (hb.adapter_id, id->adapter) != 0
            || strcmp (hb.agency, id->agency) != 0)) {
        /* a heartbeat fetches the agency's tasks: only its own adapter's key */
        char why[300], qa[80], qg[80];
        char key_is[160] = "unidentified";
        if (id && id->role == KEY_ADAPTER)
            snprintf (key_is, sizeof key_is, "adapter %s of agency %s", id->adapter,
                      id->agency);
        else if (id)
            snprintf (key_is, sizeof key_is, "operator %s", id->name);
        snprintf (why, sizeof why,
                  "heartbeat as adapter \"%s\" of agency \"%s\" refused: the key is %s",
                  utf8_safe_copy (qa, sizeof qa, hb.adapter_id),
                  utf8_safe_copy (qg, sizeof qg, hb.agency), key_is);
        log_warn ("heartbeat refused", "adapter=%s agency=%s reason=%s",
                  log_q (hb.adapter_id), log_q (hb.agency), log_q (why));
        size_t len;
        uint8_t *buf = codec_error_encode (0, ERR_AGENCY_MISMATCH, why, &len);
        send_to (self, zmq_msg_data ((zmq_msg_t *) peer), zmq_msg_size ((zmq_msg_t *) peer),
                 buf, len);
        codec_inbound_destroy (&msg);
        return;
    }
    if (*hb.adapter_id && strlen (hb.adapter_id) <= (size_t) self->config->max_string
        && utf8_valid (hb.adapter_id) && utf8_valid (hb.agency)
        && strlen (hb.agency) <= (size_t) self->config->max_string) {
        bool wait = add_heartbeat (self, peer, msg, &hb);
        if (!self->filling->batch->first_at_us)
            self->filling->batch->first_at_us = clock_mono_us ();
        if (wait) {
            /* answered once its samples are committed (complete) */
            codec_inbound_destroy (&msg);
            return;
        }
    }
    size_t len;
    uint8_t *buf = codec_heartbeat_reply_encode (clock_now_ms (), self->config->hub_id,
                                                 self->store_up, 0, &len);
    send_to (self, zmq_msg_data ((zmq_msg_t *) peer), zmq_msg_size ((zmq_msg_t *) peer),
             buf, len);
    codec_inbound_destroy (&msg);
}

/* Reads one ROUTER message ([peer][payload]) and files it. Returns false
   when nothing was there. */
static bool
read_one (ingest_t *self)
{
    zmq_msg_t peer, payload;
    zmq_msg_init (&peer);
    if (zmq_msg_recv (&peer, self->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&peer);
        return false;
    }
    zmq_msg_init (&payload);
    int frames = 1;
    bool have_payload = false;
    while (zmq_msg_more (frames == 1 ? &peer : &payload)) {
        if (have_payload)
            zmq_msg_close (&payload), zmq_msg_init (&payload);
        zmq_msg_recv (&payload, self->router, 0);
        have_payload = true;
        frames++;
    }
    char reason[200];
    size_t size = zmq_msg_size (&payload);
    if (frames != 2) {
        snprintf (reason, sizeof reason,
                  "message has %d frames, expected 1 "
                  "(one serialized AdapterMessage)",
                  frames - 1);
        handle_refused (self, &peer, 0, NULL, ERR_MALFORMED, reason,
                        zmq_msg_data (&payload), size);
    }
    else if (size > (size_t) self->config->max_message_bytes) {
        snprintf (reason, sizeof reason,
                  "message of %zu bytes exceeds the limit of %d bytes", size,
                  self->config->max_message_bytes);
        batch_peek_t peek;
        codec_inbound_peek (zmq_msg_data (&payload), size, &peek);
        handle_refused (self, &peer, peek.batch_seq, NULL, ERR_MESSAGE_TOO_LARGE, reason,
                        zmq_msg_data (&payload), size);
    }
    else if (refuse_whole (self, &peer, zmq_msg_data (&payload), size))
        ;
    else {
        /* with CURVE, the key's identity (the ZAP User-Id) comes with every message */
        auth_identity_t id;
        const auth_identity_t *who =
            self->auth && auth_identity_of (&payload, &id) ? &id : NULL;
        codec_inbound_t *msg =
            codec_inbound_decode (zmq_msg_data (&payload), size, reason, sizeof reason);
        if (!msg)
            handle_refused (self, &peer, 0, NULL, ERR_MALFORMED, reason,
                            zmq_msg_data (&payload), size);
        else if (codec_inbound_kind (msg) == INBOUND_HEARTBEAT)
            handle_heartbeat (self, &peer, msg, who);
        else
            handle_batch (self, &peer, msg, who);
    }
    zmq_msg_close (&peer);
    zmq_msg_close (&payload);
    return true;
}

/* Hands the filling batch to the store; the other slot becomes the filling one. */
static void
hand_to_store (ingest_t *self)
{
    pending_t *p = self->filling;
    batch_t *b = p->batch;
    zmq_send (self->pipe, &b, sizeof b, 0);
    self->inflight = p;
    self->filling = p == &self->slots[0] ? &self->slots[1] : &self->slots[0];
}

/* Room for one acknowledged event id that is not UTF-8, rewritten by
   utf8_safe_copy (an id longer than that is cut, still parseable). */
#define ACK_ID_MAX 160

static char *
xcalloc_ack_ids (size_t count)
{
    char *p = calloc (count ? count : 1, ACK_ID_MAX);
    if (!p)
        abort ();
    return p;
}

/* Asks the dispatch thread for the tasks after an adapter's cursor. */
static void
ask_tasks (ingest_t *self, const heartbeat_row_t *h)
{
    if (!self->dispatch_pipe)
        return;
    if (self->tasks_asked >= DISPATCH_MAX_OUTSTANDING) {
        log_debug ("task request not queued: the dispatch thread is behind",
                   "adapter=%s agency=%s", log_q (h->adapter_id), log_q (h->agency));
        return; /* the adapter asks again with its next heartbeat */
    }
    task_request_t *req =
        task_request_new (h->peer, h->peer_len, h->adapter_id, h->agency, h->task_cursor);
    if (zmq_send (self->dispatch_pipe, &req, sizeof req, ZMQ_DONTWAIT) != (int) sizeof req) {
        task_request_free (&req);
        return;
    }
    self->tasks_asked++;
}

/* Sends the tasks the dispatch thread read for one adapter, if any. */
static void
read_dispatch (ingest_t *self)
{
    task_request_t *req = NULL;
    if (zmq_recv (self->dispatch_pipe, &req, sizeof req, ZMQ_DONTWAIT) != (int) sizeof req)
        return;
    self->tasks_asked--;
    if (req->tasks_msg) {
        send_to (self, req->peer, req->peer_len, req->tasks_msg, req->tasks_len);
        req->tasks_msg = NULL; /* send_to freed it */
    }
    task_request_free (&req);
}

/* The store gave a batch back: answer everything it owed. */
static void
complete (ingest_t *self)
{
    pending_t *p = self->inflight;
    batch_t *b = p->batch;
    bool committed = b->outcome == BATCH_COMMITTED;
    if (committed) {
        self->stats.batches++;
        self->stats.commit_us += (uint64_t) b->commit_us;
        control_count_commit (&self->stats, b->commit_us);
        /* ingest comes first: while batches come back full, tell the
           correlator to yield (it still takes a page a second) */
        if (b->n_rows >= (size_t) self->config->batch_max / 2 && self->correlate_pipe
            && clock_mono_ms () - self->busy_told_ms >= 100) {
            zmq_send (self->correlate_pipe, "B", 1, ZMQ_DONTWAIT);
            self->busy_told_ms = clock_mono_ms ();
        }
    }
    event_ack_t *acks = NULL;
    size_t cap = 0;
    for (size_t ri = 0; ri < p->n_replies; ri++) {
        reply_t *r = &p->replies[ri];
        size_t len;
        if (!r->msg) {
            /* unreadable message: answer only once its dead letter is stored */
            if (committed) {
                uint8_t *buf =
                    codec_error_encode (r->batch_seq, r->error, r->error_reason, &len);
                send_to (self, r->peer, r->peer_len, buf, len);
            }
            continue;
        }
        acks = grow (acks, &cap, r->count + 1, sizeof *acks);
        char *fixed = NULL; /* event ids that are not UTF-8, as the peer can parse them */
        for (size_t i = 0; i < r->count; i++) {
            item_t *item = &p->items[r->first + i];
            event_ack_t *a = &acks[i];
            a->event_id = item->event_id;
            if (!utf8_valid (item->event_id)) {
                /* echoed with each byte that is not UTF-8 written as \xNN: a
                   string every protobuf parser accepts (acks[i] answers
                   events[i], whatever the id says) */
                if (!fixed)
                    fixed = xcalloc_ack_ids (r->count);
                a->event_id =
                    utf8_safe_copy (fixed + i * ACK_ID_MAX, ACK_ID_MAX, item->event_id);
            }
            a->code = ERR_NONE;
            a->reason = "";
            if (!committed) {
                a->status = ACK_RETRY;
                a->code = ERR_STORE_UNAVAILABLE;
                a->reason = "the hub's database is unavailable; resend later";
                self->stats.retried++;
            }
            else if (item->code != ERR_NONE) {
                a->status = ACK_REJECTED;
                a->code = item->code;
                a->reason = item->reason;
                self->stats.rejected++;
                if (a->code == ERR_CONFLICT)
                    self->stats.conflicts++;
            }
            else if (b->row_error[item->row]) {
                a->status = ACK_REJECTED;
                a->code =
                    b->row_code[item->row] ? b->row_code[item->row] : ERR_INVALID_FIELD;
                a->reason = b->row_error[item->row];
                self->stats.rejected++;
                if (a->code == ERR_CONFLICT)
                    self->stats.conflicts++;
            }
            else if (!item->dup_in_batch && b->row_stored[item->row]) {
                a->status = ACK_STORED;
                self->stats.stored++;
            }
            else {
                a->status = ACK_DUPLICATE;
                self->stats.duplicates++;
            }
        }
        uint8_t *buf = codec_ack_encode (r->batch_seq, acks, r->count, &len);
        free (fixed);
        send_to (self, r->peer, r->peer_len, buf, len);
    }
    free (acks);
    /* the heartbeats that carried quarantine samples: what is now stored */
    for (size_t i = 0; i < b->n_hbs; i++) {
        heartbeat_row_t *h = &b->hbs[i];
        if (!h->reply_owed)
            continue;
        size_t len;
        uint64_t mark = committed && !h->rejects_failed ? h->rejects_mark : 0;
        uint8_t *buf = codec_heartbeat_reply_encode (clock_now_ms (), self->config->hub_id,
                                                     committed, mark, &len);
        send_to (self, h->peer, h->peer_len, buf, len);
    }
    /* tasks for adapters that asked with their heartbeat: read by the
       dispatch thread, sent when it answers (ask_tasks, read_dispatch) */
    for (size_t i = 0; committed && i < b->n_hbs; i++)
        if (b->hbs[i].takes_tasks)
            ask_tasks (self, &b->hbs[i]);
    log_debug ("batch done", "rows=%zu dead_letters=%zu committed=%s commit_ms=%.2f",
               b->n_rows, b->n_dls, committed ? "yes" : "no", b->commit_us / 1000.0);
    pending_clear (p);
    self->inflight = NULL;
}

/* Fills in the figures that are read, not counted, and hands them to the
   HTTP endpoint. */
static void
publish_stats (ingest_t *self)
{
    self->stats.store_up = self->store_up;
    self->stats.pending_rows = self->filling->batch->n_rows;
    self->stats.committing = self->inflight != NULL;
    http_publish (self->http, &self->stats);
}

/* Reads the store's answer: a batch pointer or a status byte. */
static void
read_pipe (ingest_t *self)
{
    batch_t *b = NULL;
    int n = zmq_recv (self->pipe, &b, sizeof b, ZMQ_DONTWAIT);
    if (n == 1) {
        self->store_up = *(char *) &b == 'U';
        publish_stats (self);
        return;
    }
    if (n == (int) sizeof b && self->inflight && self->inflight->batch == b) {
        complete (self);
        publish_stats (self);
    }
}

/* True when the filling batch holds batch_max entries. Dead letters and
   heartbeats count as rows: a client sending only refused events (or only
   heartbeats) must not make one transaction grow without bound while
   other adapters wait behind it. */
static bool
filling_full (const ingest_t *self)
{
    const batch_t *b = self->filling->batch;
    return b->n_rows + b->n_dls + b->n_hbs >= (size_t) self->config->batch_max;
}

static bool
batch_due (ingest_t *self, int64_t now_us)
{
    batch_t *b = self->filling->batch;
    if (pending_empty (self->filling))
        return false;
    return filling_full (self)
           || now_us - b->first_at_us >= (int64_t) self->config->batch_wait_ms * 1000;
}

static void
log_stats (ingest_t *self)
{
    stats_t *s = &self->stats;
    log_info ("ingest stats",
              "hub=%s events=%llu stored=%llu duplicates=%llu rejected=%llu retried=%llu "
              "unreadable=%llu batches=%llu avg_commit_ms=%.2f store=%s",
              log_q (self->config->hub_id), (unsigned long long) s->events,
              (unsigned long long) s->stored, (unsigned long long) s->duplicates,
              (unsigned long long) s->rejected, (unsigned long long) s->retried,
              (unsigned long long) s->unreadable, (unsigned long long) s->batches,
              s->batches ? s->commit_us / 1000.0 / (double) s->batches : 0.0,
              self->store_up ? "up" : "down");
}

/* Answers one request on the control socket (hubctl status / metrics). */
static void
answer_control (ingest_t *self, void *control, strbuf_t *reply)
{
    zmq_msg_t req;
    zmq_msg_init (&req);
    if (zmq_msg_recv (&req, control, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&req);
        return;
    }
    while (zmq_msg_more (&req)) { /* one frame is the protocol: drop the rest */
        zmq_msg_close (&req);
        zmq_msg_init (&req);
        zmq_msg_recv (&req, control, 0);
    }
    publish_stats (self);
    /* an operator key's rights; without CURVE (loopback only) anyone may write */
    auth_identity_t id;
    control_rights_t rights = CONTROL_READ_WRITE;
    const char *who = "anyone (insecure)";
    if (self->auth) {
        bool known = auth_identity_of (&req, &id) && id.role != KEY_ADAPTER;
        if (known)
            rights = id.role == KEY_READ_WRITE ? CONTROL_READ_WRITE : CONTROL_READ_ONLY;
        else
            rights = CONTROL_NONE;
        who = known ? id.name : "unidentified";
    }
    if (control_answer (&self->stats, zmq_msg_data (&req), zmq_msg_size (&req), rights, who,
                        reply)
        == CONTROL_DO_RELOAD_KEYS) {
        if (self->auth)
            auth_reload (self->auth, who, reply);
        else
            strbuf_puts (reply, "{\"error\":\"the hub runs with --insecure: there are no "
                                "keys to reload\"}");
    }
    zmq_msg_close (&req);
    zmq_send (control, reply->data, reply->len, 0);
}

/* Sends the tasks still being read for adapters, waiting a few seconds at
   most. Returns false when the dispatch thread did not answer them all. */
static bool
finish_tasks (ingest_t *self)
{
    int64_t deadline = clock_mono_ms () + 5000;
    while (self->tasks_asked > 0 && clock_mono_ms () < deadline) {
        zmq_pollitem_t item = {self->dispatch_pipe, 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, (long) (deadline - clock_mono_ms ())) > 0)
            read_dispatch (self);
    }
    if (self->tasks_asked > 0)
        log_warn ("task reads still running at stop; their adapters ask again",
                  "hub=%s requests=%zu", log_q (self->config->hub_id), self->tasks_asked);
    return self->tasks_asked == 0;
}

/* Commits and answers what was read, waiting at most drain_timeout_ms. */
static int
drain (ingest_t *self)
{
    int64_t deadline = clock_mono_ms () + self->config->drain_timeout_ms;
    log_info ("draining", "hub=%s pending_events=%zu", log_q (self->config->hub_id),
              self->filling->batch->n_rows);
    while (clock_mono_ms () < deadline) {
        if (!self->inflight) {
            if (pending_empty (self->filling))
                return 0;
            hand_to_store (self);
        }
        zmq_pollitem_t item = {self->pipe, 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, (long) (deadline - clock_mono_ms ())) > 0)
            read_pipe (self);
    }
    log_error ("drain timed out: unacknowledged events stay with their adapters", "hub=%s",
               log_q (self->config->hub_id));
    return -1;
}

ingest_t *
ingest_new (void *ctx, const hub_config_t *config, const workflow_set_t *set, auth_t *auth)
{
    ingest_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->config = config;
    self->set = set;
    self->auth = auth;
    strbuf_init (&self->scratch);
    strbuf_init (&self->attrs_scratch);
    strbuf_init (&self->encoding);
    for (int i = 0; i < 2; i++) {
        self->slots[i].batch = batch_new ();
        id_index_init (&self->slots[i].index);
    }
    self->filling = &self->slots[0];
    self->stats.hub_id = config->hub_id;

    self->router = zmq_socket (ctx, ZMQ_ROUTER);
    /* libzmq drops a peer that sends a frame beyond this; below it, the hub
       answers MESSAGE_TOO_LARGE itself and records the attempt */
    int64_t hard_max = (int64_t) config->max_message_bytes * 4;
    /* hwm: messages queued per adapter connection, each way. Far above any
       adapter's window, it bounds what one adapter can make the hub hold:
       one that floods is pushed back by TCP beyond it, one that never reads
       its answers loses the ones beyond it (sends never block; the adapter
       resends and gets DUPLICATE) */
    int linger = 1000, hwm = 1000;
    zmq_setsockopt (self->router, ZMQ_MAXMSGSIZE, &hard_max, sizeof hard_max);
    zmq_setsockopt (self->router, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (self->router, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt (self->router, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (auth && auth_server_socket (self->router, config, AUTH_DOMAIN_INGEST) != 0) {
        ingest_destroy (&self);
        return NULL;
    }
    /* handshakes that fail (plaintext or a wrong server key) leave a line */
    self->handshakes = handshake_log_start (ctx, self->router, "ingest", config->hub_id);
    if (zmq_bind (self->router, config->listen) != 0) {
        log_error ("could not listen", "hub=%s endpoint=%s error=%s",
                   log_q (config->hub_id), log_q (config->listen),
                   log_q (zmq_strerror (errno)));
        ingest_destroy (&self);
        return NULL;
    }
    size_t len = sizeof self->endpoint;
    zmq_getsockopt (self->router, ZMQ_LAST_ENDPOINT, self->endpoint, &len);
    return self;
}

const char *
ingest_endpoint (const ingest_t *self)
{
    return self->endpoint;
}

void
ingest_attach (ingest_t *self, const ingest_links_t *links)
{
    self->pipe = links->store_pipe;
    self->correlate_pipe = links->correlate_pipe;
    self->dispatch_pipe = links->dispatch_pipe;
    self->control = links->control;
    self->http = links->http;
    self->stats.vocabulary = links->vocabulary;
    self->stats.started_ms = clock_now_ms ();
    if (self->http)
        publish_stats (self);
}

int
ingest_serve (ingest_t *self, volatile sig_atomic_t *terminated)
{
    const hub_config_t *config = self->config;
    strbuf_t control_reply;
    strbuf_init (&control_reply);
    int64_t next_stats = clock_mono_ms () + STATS_EVERY_MS;
    int64_t rate_at = clock_mono_ms (); /* events/s: sampled once a second */
    uint64_t rate_events = 0;
    while (!*terminated) {
        /* stop reading adapters when the next batch is full and the store busy:
           ZeroMQ's queues then push back on the senders */
        bool accept = !(self->inflight && filling_full (self));
        zmq_pollitem_t items[4] = {{self->pipe, 0, ZMQ_POLLIN, 0}};
        int n_items = 1, at_control = -1, at_router = -1, at_dispatch = -1;
        if (self->dispatch_pipe) {
            at_dispatch = n_items;
            items[n_items++] = (zmq_pollitem_t){self->dispatch_pipe, 0, ZMQ_POLLIN, 0};
        }
        if (self->control) {
            at_control = n_items;
            items[n_items++] = (zmq_pollitem_t){self->control, 0, ZMQ_POLLIN, 0};
        }
        if (accept) {
            at_router = n_items;
            items[n_items++] = (zmq_pollitem_t){self->router, 0, ZMQ_POLLIN, 0};
        }
        long timeout = 1000;
        if (!self->inflight && !pending_empty (self->filling)) {
            int64_t wait_us = self->filling->batch->first_at_us
                              + (int64_t) config->batch_wait_ms * 1000 - clock_mono_us ();
            timeout = wait_us > 0 ? (long) (wait_us + 999) / 1000 : 0;
        }
        int n = zmq_poll (items, n_items, timeout);
        if (n < 0) {
            if (zmq_errno () == EINTR)
                continue;
            log_error ("poll failed", "hub=%s error=%s", log_q (config->hub_id),
                       log_q (zmq_strerror (zmq_errno ())));
            break;
        }
        if (items[0].revents & ZMQ_POLLIN)
            read_pipe (self);
        if (at_dispatch >= 0 && (items[at_dispatch].revents & ZMQ_POLLIN))
            read_dispatch (self);
        if (at_control >= 0 && (items[at_control].revents & ZMQ_POLLIN))
            answer_control (self, self->control, &control_reply);
        /* read until the socket is empty or the batch is full; a full batch
           goes at once if the store is idle, else reading pauses (above) */
        if (at_router >= 0 && (items[at_router].revents & ZMQ_POLLIN))
            while (!filling_full (self) && read_one (self))
                ;
        if (!self->inflight && filling_full (self))
            hand_to_store (self);
        if (!self->inflight && batch_due (self, clock_mono_us ()))
            hand_to_store (self);
        if (clock_mono_ms () - rate_at >= 1000) {
            int64_t now = clock_mono_ms ();
            self->stats.events_per_s = (double) (self->stats.events - rate_events) * 1000.0
                                       / (double) (now - rate_at);
            rate_events = self->stats.events;
            rate_at = now;
            publish_stats (self);
        }
        if (clock_mono_ms () >= next_stats) {
            log_stats (self);
            next_stats = clock_mono_ms () + STATS_EVERY_MS;
        }
    }
    strbuf_free (&control_reply);
    self->control = NULL; /* the caller closes it; hubctl gets no answer while draining */
    int rc = drain (self);
    finish_tasks (self);
    log_stats (self);
    self->http = NULL; /* the caller stops it */
    self->stats.vocabulary = NULL;
    return rc;
}

bool
ingest_committing (const ingest_t *self)
{
    return self->inflight != NULL;
}

bool
ingest_tasks_pending (const ingest_t *self)
{
    return self->tasks_asked > 0;
}

void
ingest_destroy (ingest_t **self_p)
{
    ingest_t *self = *self_p;
    if (!self)
        return;
    for (int i = 0; i < 2; i++) {
        pending_clear (&self->slots[i]);
        batch_destroy (&self->slots[i].batch);
        id_index_free (&self->slots[i].index);
        free (self->slots[i].replies);
        free (self->slots[i].items);
        free (self->slots[i].row_item);
    }
    strbuf_free (&self->scratch);
    strbuf_free (&self->attrs_scratch);
    strbuf_free (&self->encoding);
    handshake_log_stop (&self->handshakes, self->router);
    zmq_close (self->router);
    free (self);
    *self_p = NULL;
}
