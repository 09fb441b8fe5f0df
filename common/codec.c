/*  codec: protobuf-c behind plain C views, see codec.h. */
#include "codec.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "onenet.pb-c.h"
#include "strbuf.h"

typedef Onenet__V1__AdapterMessage AdapterMessage;
typedef Onenet__V1__HubMessage HubMessage;
typedef Onenet__V1__CaseEvent CaseEvent;

struct codec_inbound {
    AdapterMessage *msg;  /* the decoded protobuf, owns all strings */
    char **event_problem; /* per event: a string field whose bytes protobuf-c could
                              not hand over whole (NUL, not UTF-8), or NULL */
    char *batch_problem;  /* the same for the batch's own fields, or NULL */
    uint8_t **event_raw;  /* per event with a problem: its bytes as they came */
    size_t *event_raw_len; /* and how many */
    event_key_t *keys;    /* key views of all events, one allocation */
    event_attr_t *attrs;  /* attribute views of all events */
    size_t *key_at;       /* index into keys where event i starts */
    size_t *attr_at;      /* index into attrs where event i starts */
    /* a heartbeat's quarantine report */
    quarantine_count_t *counts; /* views of its counts by code */
    reject_sample_t *samples;   /* views of its samples */
    char **count_problem;       /* per count: a string field not whole, or NULL */
    char **sample_problem;      /* per sample: the same */
};

struct codec_outbound {
    HubMessage *msg; /* the decoded protobuf */
};

static const char *key_names[] = {
    "", "credit_code", "unit_number", "project_code", "application_no", "refund_no"};

const char *
key_kind_name (key_kind_t kind)
{
    return (unsigned) kind < sizeof key_names / sizeof *key_names ? key_names[kind]
                                                                  : "unknown";
}

bool
key_kind_parse (const char *name, key_kind_t *kind)
{
    for (size_t i = 1; i < sizeof key_names / sizeof *key_names; i++)
        if (strcmp (name, key_names[i]) == 0) {
            *kind = (key_kind_t) i;
            return true;
        }
    return false;
}

const char *
error_code_name (error_code_t code)
{
    static const char *names[] = {
        "NONE",          "MALFORMED",         "UNSUPPORTED_VERSION", "MISSING_FIELD",
        "INVALID_FIELD", "UNKNOWN_AGENCY",    "AGENCY_MISMATCH",     "LIMIT_EXCEEDED",
        "INVALID_KEY",   "TIME_OUT_OF_RANGE", "STORE_UNAVAILABLE",   "MESSAGE_TOO_LARGE",
        "SHUTTING_DOWN", "CONFLICT"};
    return (unsigned) code < sizeof names / sizeof *names ? names[code] : "UNKNOWN";
}

const char *
ack_status_name (ack_status_t status)
{
    static const char *names[] = {"unspecified", "stored", "duplicate", "rejected",
                                  "retry"};
    return (unsigned) status < sizeof names / sizeof *names ? names[status] : "unknown";
}

/* --- adapter -> hub ---------------------------------------------------- */

/* --- string fields as they came over the wire ---------------------------

   protobuf-c hands a string field over as a C string: bytes after a NUL
   would be cut off without a word. So the raw bytes of every string field
   of a batch are checked first, walking the wire format with protobuf-c's
   own descriptors: a field holding a NUL byte, or bytes that are not
   UTF-8, is named with its path (e.g. "keys[1].value") and its event is
   refused; nothing is ever stored shortened. */

/* Reads a base-128 varint at *p (< end); false when it runs off the end. */
static bool
s_varint (const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        v |= (uint64_t) (b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return true;
        }
    }
    return false;
}

/* True when the n bytes at p are UTF-8 (no NUL checked here). */
static bool
s_utf8_bytes (const uint8_t *p, size_t n)
{
    const uint8_t *end = p + n;
    while (p < end) {
        unsigned char c[5] = {0};
        size_t left = (size_t) (end - p);
        memcpy (c, p, left < 4 ? left : 4);
        size_t k = utf8_char_len (c);
        if (k == 0 || k > left)
            return false;
        p += k;
    }
    return true;
}

/* Reads the next field of a message's bytes at *p (< end): its number,
   and for a length-delimited field (wire type 2) its bytes; other wire
   types are skipped. False at the end or on bytes that do not parse
   (protobuf-c read them: nothing more to learn). */
static bool
s_next_field (const uint8_t **p, const uint8_t *end, uint32_t *number,
              const uint8_t **value, size_t *len)
{
    while (*p < end) {
        uint64_t tag = 0, n = 0;
        if (!s_varint (p, end, &tag))
            return false;
        unsigned wire = (unsigned) (tag & 7);
        if (wire == 0) {
            if (!s_varint (p, end, &n))
                return false;
            continue;
        }
        if (wire == 1 || wire == 5) {
            size_t skip = wire == 1 ? 8 : 4;
            if ((size_t) (end - *p) < skip)
                return false;
            *p += skip;
            continue;
        }
        if (wire != 2 || !s_varint (p, end, &n) || n > (uint64_t) (end - *p))
            return false;
        *number = (uint32_t) (tag >> 3);
        *value = *p;
        *len = (size_t) n;
        *p += n;
        return true;
    }
    return false;
}

/* Checks one length-delimited field of a message of type desc: a string's
   bytes for NUL and UTF-8, a message's fields within depth. Writes the
   first problem, named by path, and returns false then. seen counts the
   occurrences of repeated fields, for [i] in paths. */
static bool s_field_whole (const ProtobufCMessageDescriptor *desc, uint32_t number,
                           const uint8_t *value, size_t n, const char *path, unsigned *seen,
                           char *problem, size_t plen, int depth);

/* The same for every field of the message's bytes [p, end). */
static bool
s_strings_whole (const ProtobufCMessageDescriptor *desc, const uint8_t *p,
                 const uint8_t *end, const char *path, char *problem, size_t plen,
                 int depth)
{
    unsigned seen[32] = {0};
    uint32_t number;
    const uint8_t *value;
    size_t n;
    while (s_next_field (&p, end, &number, &value, &n))
        if (!s_field_whole (desc, number, value, n, path, seen, problem, plen, depth))
            return false;
    return true;
}

static bool
s_field_whole (const ProtobufCMessageDescriptor *desc, uint32_t number,
               const uint8_t *value, size_t n, const char *path, unsigned *seen,
               char *problem, size_t plen, int depth)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field (desc, number);
    if (!f)
        return true;
    size_t fi = (size_t) (f - desc->fields);
    unsigned occurrence = fi < 32 ? seen[fi]++ : 0;
    char here[160];
    if (f->label == PROTOBUF_C_LABEL_REPEATED)
        snprintf (here, sizeof here, "%s%s%s[%u]", path, *path ? "." : "", f->name,
                  occurrence);
    else
        snprintf (here, sizeof here, "%s%s%s", path, *path ? "." : "", f->name);
    if (f->type == PROTOBUF_C_TYPE_STRING) {
        const uint8_t *nul = memchr (value, 0, n);
        if (nul) {
            snprintf (problem, plen, "%s holds a NUL byte (byte %zu of %zu)", here,
                      (size_t) (nul - value) + 1, n);
            return false;
        }
        if (!s_utf8_bytes (value, n)) {
            snprintf (problem, plen, "%s is not valid UTF-8", here);
            return false;
        }
    }
    else if (f->type == PROTOBUF_C_TYPE_MESSAGE && depth > 0)
        return s_strings_whole (f->descriptor, value, value + n, here, problem, plen,
                                depth - 1);
    return true;
}

/* The bytes of the last occurrence of length-delimited field id in a
   message's bytes [p, end), NULL when it has none: a message field given
   twice is not merged by protobuf-c (1.4), the last one replaces the
   others, so that is the one the decoded message holds. */
static const uint8_t *
s_last_field (const uint8_t *p, const uint8_t *end, uint32_t id, size_t *len)
{
    uint32_t number;
    const uint8_t *value, *last = NULL;
    size_t n;
    while (s_next_field (&p, end, &number, &value, &n))
        if (number == id) {
            last = value;
            *len = n;
        }
    return last;
}

/* Checks the string fields of a batch's bytes: each event's own, and the
   batch's. A batch field given twice is not merged by protobuf-c (1.4): the
   last one replaces the others, so only the last one is walked. */
static void
s_check_batch_strings (codec_inbound_t *self, const uint8_t *p, const uint8_t *end)
{
    const ProtobufCMessageDescriptor *batch = &onenet__v1__event_batch__descriptor;
    uint32_t batch_id = protobuf_c_message_descriptor_get_field_by_name (
                            &onenet__v1__adapter_message__descriptor, "batch")
                            ->id;
    uint32_t events_id =
        protobuf_c_message_descriptor_get_field_by_name (batch, "events")->id;
    size_t i = 0; /* the event being read */
    unsigned seen[32] = {0};
    char problem[300];
    uint32_t number;
    size_t last_len;
    const uint8_t *last = s_last_field (p, end, batch_id, &last_len);
    if (!last)
        return;
    const uint8_t *q = last, *qend = last + last_len, *v;
    size_t m;
    while (s_next_field (&q, qend, &number, &v, &m)) {
        if (number == events_id) {
            if (i < self->msg->batch->n_events && !self->event_problem[i]
                && !s_strings_whole (&onenet__v1__case_event__descriptor, v, v + m, "",
                                     problem, sizeof problem, 4)) {
                self->event_problem[i] = strdup (problem);
                /* kept as it came: protobuf-c's copy is cut at the NUL */
                self->event_raw[i] = malloc (m ? m : 1);
                if (!self->event_problem[i] || !self->event_raw[i])
                    abort ();
                memcpy (self->event_raw[i], v, m);
                self->event_raw_len[i] = m;
            }
            i++;
        }
        else if (!self->batch_problem
                 && !s_field_whole (batch, number, v, m, "", seen, problem, sizeof problem,
                                    0))
            self->batch_problem = strdup (problem);
    }
}

/* Checks the string fields of a heartbeat's counts and samples as they
   came (the heartbeat given twice: the last one, as protobuf-c keeps). */
static void
s_check_heartbeat_strings (codec_inbound_t *self, const uint8_t *p, const uint8_t *end)
{
    const ProtobufCMessageDescriptor *hb = &onenet__v1__heartbeat__descriptor;
    uint32_t hb_id = protobuf_c_message_descriptor_get_field_by_name (
                         &onenet__v1__adapter_message__descriptor, "heartbeat")
                         ->id;
    uint32_t counts_id =
        protobuf_c_message_descriptor_get_field_by_name (hb, "quarantined_by_code")->id;
    uint32_t rejects_id = protobuf_c_message_descriptor_get_field_by_name (hb, "rejects")->id;
    Onenet__V1__Heartbeat *h = self->msg->heartbeat;
    char problem[300], path[48];
    uint32_t number;
    size_t last_len, ci = 0, ri = 0;
    const uint8_t *last = s_last_field (p, end, hb_id, &last_len);
    if (!last)
        return;
    const uint8_t *q = last, *qend = last + last_len, *v;
    size_t m;
    while (s_next_field (&q, qend, &number, &v, &m)) {
        if (number == counts_id && ci < h->n_quarantined_by_code) {
            snprintf (path, sizeof path, "quarantined_by_code[%zu]", ci);
            if (!s_strings_whole (&onenet__v1__quarantine_count__descriptor, v, v + m, path,
                                  problem, sizeof problem, 0)
                && !(self->count_problem[ci] = strdup (problem)))
                abort ();
            ci++;
        }
        else if (number == rejects_id && ri < h->n_rejects) {
            snprintf (path, sizeof path, "rejects[%zu]", ri);
            if (!s_strings_whole (&onenet__v1__reject_sample__descriptor, v, v + m, path,
                                  problem, sizeof problem, 0)
                && !(self->sample_problem[ri] = strdup (problem)))
                abort ();
            ri++;
        }
    }
}

/* Reads a varint field's value or a length-delimited field's bytes at *p:
   like s_next_field, but hands varints over too (wire type in *wire). */
static bool
s_next_any (const uint8_t **p, const uint8_t *end, uint32_t *number, unsigned *wire,
            uint64_t *varint, const uint8_t **value, size_t *len)
{
    uint64_t tag = 0, n = 0;
    if (*p >= end || !s_varint (p, end, &tag))
        return false;
    *number = (uint32_t) (tag >> 3);
    *wire = (unsigned) (tag & 7);
    if (*wire == 0)
        return s_varint (p, end, varint);
    if (*wire == 1 || *wire == 5) {
        size_t skip = *wire == 1 ? 8 : 4;
        if ((size_t) (end - *p) < skip)
            return false;
        *p += skip;
        return true;
    }
    if (*wire != 2 || !s_varint (p, end, &n) || n > (uint64_t) (end - *p))
        return false;
    *value = *p;
    *len = (size_t) n;
    *p += n;
    return true;
}

bool
codec_inbound_peek (const void *data, size_t len, batch_peek_t *peek)
{
    memset (peek, 0, sizeof *peek);
    uint32_t batch_id, heartbeat_id, seq_id, adapter_id, agency_id, events_id;
    {
        heartbeat_id = protobuf_c_message_descriptor_get_field_by_name (
                           &onenet__v1__adapter_message__descriptor, "heartbeat")
                           ->id;
        const ProtobufCMessageDescriptor *b = &onenet__v1__event_batch__descriptor;
        seq_id = protobuf_c_message_descriptor_get_field_by_name (b, "batch_seq")->id;
        adapter_id = protobuf_c_message_descriptor_get_field_by_name (b, "adapter_id")->id;
        agency_id = protobuf_c_message_descriptor_get_field_by_name (b, "agency")->id;
        events_id = protobuf_c_message_descriptor_get_field_by_name (b, "events")->id;
        batch_id = protobuf_c_message_descriptor_get_field_by_name (
                       &onenet__v1__adapter_message__descriptor, "batch")
                       ->id;
    }
    const uint8_t *p = data, *end = p + len, *v, *w;
    uint32_t number;
    unsigned wire;
    uint64_t varint;
    size_t n, m;
    while (p < end) {
        if (!s_next_any (&p, end, &number, &wire, &varint, &v, &n))
            return peek->is_batch; /* protobuf-c will say what is wrong */
        if (number == heartbeat_id)
            peek->is_batch = false; /* the later member of the oneof wins */
        if (number != batch_id || wire != 2)
            continue;
        /* a batch given twice: protobuf-c keeps the last one only */
        memset (peek, 0, sizeof *peek);
        peek->is_batch = true;
        const uint8_t *q = v, *qend = v + n;
        while (q < qend && s_next_any (&q, qend, &number, &wire, &varint, &w, &m)) {
            if (number == seq_id && wire == 0)
                peek->batch_seq = varint;
            else if (number == events_id && wire == 2)
                peek->n_events++;
            else if (number == adapter_id && wire == 2) {
                peek->adapter_id = (const char *) w;
                peek->adapter_id_len = m;
            }
            else if (number == agency_id && wire == 2) {
                peek->agency = (const char *) w;
                peek->agency_len = m;
            }
        }
    }
    return peek->is_batch;
}

codec_inbound_t *
codec_inbound_decode (const void *data, size_t len, char *err, size_t errlen)
{
    AdapterMessage *msg = onenet__v1__adapter_message__unpack (NULL, len, data);
    if (!msg) {
        snprintf (err, errlen,
                  "%zu bytes are not a valid AdapterMessage "
                  "(truncated or not protobuf)",
                  len);
        return NULL;
    }
    if (msg->body_case != ONENET__V1__ADAPTER_MESSAGE__BODY_BATCH
        && msg->body_case != ONENET__V1__ADAPTER_MESSAGE__BODY_HEARTBEAT) {
        snprintf (err, errlen, "AdapterMessage of %zu bytes has no batch or heartbeat",
                  len);
        onenet__v1__adapter_message__free_unpacked (msg, NULL);
        return NULL;
    }
    codec_inbound_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->msg = msg;
    if (msg->body_case == ONENET__V1__ADAPTER_MESSAGE__BODY_HEARTBEAT) {
        Onenet__V1__Heartbeat *h = msg->heartbeat;
        self->counts = calloc (h->n_quarantined_by_code + 1, sizeof *self->counts);
        self->samples = calloc (h->n_rejects + 1, sizeof *self->samples);
        self->count_problem = calloc (h->n_quarantined_by_code + 1, sizeof (char *));
        self->sample_problem = calloc (h->n_rejects + 1, sizeof (char *));
        if (!self->counts || !self->samples || !self->count_problem || !self->sample_problem)
            abort ();
        for (size_t i = 0; i < h->n_quarantined_by_code; i++) {
            self->counts[i].code = h->quarantined_by_code[i]->code;
            self->counts[i].count = h->quarantined_by_code[i]->count;
        }
        for (size_t i = 0; i < h->n_rejects; i++) {
            const Onenet__V1__RejectSample *r = h->rejects[i];
            self->samples[i] = (reject_sample_t){r->seq,    r->place,          r->code,
                                                 r->reason, r->rejected_at_ms, r->event_id};
        }
        s_check_heartbeat_strings (self, data, (const uint8_t *) data + len);
    }
    if (msg->body_case == ONENET__V1__ADAPTER_MESSAGE__BODY_BATCH) {
        Onenet__V1__EventBatch *b = msg->batch;
        self->event_problem = calloc (b->n_events + 1, sizeof (char *));
        self->event_raw = calloc (b->n_events + 1, sizeof (uint8_t *));
        self->event_raw_len = calloc (b->n_events + 1, sizeof (size_t));
        if (!self->event_problem || !self->event_raw || !self->event_raw_len)
            abort ();
        s_check_batch_strings (self, data, (const uint8_t *) data + len);
        size_t nk = 0, na = 0;
        self->key_at = calloc (b->n_events + 1, sizeof (size_t));
        self->attr_at = calloc (b->n_events + 1, sizeof (size_t));
        if (!self->key_at || !self->attr_at)
            abort ();
        for (size_t i = 0; i < b->n_events; i++) {
            self->key_at[i] = nk;
            self->attr_at[i] = na;
            nk += b->events[i]->n_keys;
            na += b->events[i]->n_attributes;
        }
        self->keys = calloc (nk + 1, sizeof (event_key_t));
        self->attrs = calloc (na + 1, sizeof (event_attr_t));
        if (!self->keys || !self->attrs)
            abort ();
        for (size_t i = 0; i < b->n_events; i++) {
            CaseEvent *e = b->events[i];
            for (size_t k = 0; k < e->n_keys; k++) {
                event_key_t *key = &self->keys[self->key_at[i] + k];
                key->kind = (key_kind_t) e->keys[k]->kind;
                key->value = e->keys[k]->value;
            }
            for (size_t a = 0; a < e->n_attributes; a++) {
                Onenet__V1__Attribute *src = e->attributes[a];
                event_attr_t *attr = &self->attrs[self->attr_at[i] + a];
                attr->name = src->name;
                attr->type = (attr_type_t) src->value_case;
                switch (src->value_case) {
                case ONENET__V1__ATTRIBUTE__VALUE_TEXT: attr->text = src->text; break;
                case ONENET__V1__ATTRIBUTE__VALUE_INTEGER:
                    attr->integer = src->integer;
                    break;
                case ONENET__V1__ATTRIBUTE__VALUE_NUMBER: attr->number = src->number; break;
                case ONENET__V1__ATTRIBUTE__VALUE_FLAG: attr->flag = src->flag; break;
                case ONENET__V1__ATTRIBUTE__VALUE_TIME_MS:
                    attr->time_ms = src->time_ms;
                    break;
                default: attr->type = ATTR_NONE;
                }
            }
        }
    }
    return self;
}

void
codec_inbound_destroy (codec_inbound_t **self_p)
{
    if (!*self_p)
        return;
    codec_inbound_t *self = *self_p;
    if (self->event_problem)
        for (size_t i = 0; i < self->msg->batch->n_events; i++) {
            free (self->event_problem[i]);
            free (self->event_raw[i]);
        }
    free (self->event_problem);
    free (self->event_raw);
    free (self->event_raw_len);
    free (self->batch_problem);
    if (self->count_problem)
        for (size_t i = 0; i < self->msg->heartbeat->n_quarantined_by_code; i++)
            free (self->count_problem[i]);
    if (self->sample_problem)
        for (size_t i = 0; i < self->msg->heartbeat->n_rejects; i++)
            free (self->sample_problem[i]);
    free (self->count_problem);
    free (self->sample_problem);
    free (self->counts);
    free (self->samples);
    onenet__v1__adapter_message__free_unpacked (self->msg, NULL);
    free (self->keys);
    free (self->attrs);
    free (self->key_at);
    free (self->attr_at);
    free (self);
    *self_p = NULL;
}

inbound_kind_t
codec_inbound_kind (const codec_inbound_t *self)
{
    return self->msg->body_case == ONENET__V1__ADAPTER_MESSAGE__BODY_BATCH
               ? INBOUND_BATCH
               : INBOUND_HEARTBEAT;
}

uint64_t
codec_inbound_batch_seq (const codec_inbound_t *self)
{
    return codec_inbound_kind (self) == INBOUND_BATCH ? self->msg->batch->batch_seq : 0;
}

const char *
codec_inbound_adapter_id (const codec_inbound_t *self)
{
    return codec_inbound_kind (self) == INBOUND_BATCH ? self->msg->batch->adapter_id
                                                      : self->msg->heartbeat->adapter_id;
}

const char *
codec_inbound_agency (const codec_inbound_t *self)
{
    return codec_inbound_kind (self) == INBOUND_BATCH ? self->msg->batch->agency
                                                      : self->msg->heartbeat->agency;
}

size_t
codec_inbound_event_count (const codec_inbound_t *self)
{
    return codec_inbound_kind (self) == INBOUND_BATCH ? self->msg->batch->n_events : 0;
}

const char *
codec_inbound_event_problem (const codec_inbound_t *self, size_t i)
{
    return self->event_problem && i < self->msg->batch->n_events ? self->event_problem[i]
                                                                 : NULL;
}

const char *
codec_inbound_batch_problem (const codec_inbound_t *self)
{
    return self->batch_problem;
}

void
codec_inbound_event (const codec_inbound_t *self, size_t i, case_event_t *event)
{
    CaseEvent *e = self->msg->batch->events[i];
    event->schema_version = e->schema_version;
    event->event_id = e->event_id;
    event->agency = e->agency;
    event->adapter_id = e->adapter_id;
    event->case_no = e->case_no;
    event->event_type = e->event_type;
    event->occurred_at_ms = e->occurred_at_ms;
    event->accepted_at_ms = e->accepted_at_ms;
    event->n_keys = e->n_keys;
    event->keys = &self->keys[self->key_at[i]];
    event->n_attrs = e->n_attributes;
    event->attrs = &self->attrs[self->attr_at[i]];
}

static uint8_t *
pack_message (const ProtobufCMessage *msg, size_t *len)
{
    *len = protobuf_c_message_get_packed_size (msg);
    uint8_t *buf = malloc (*len ? *len : 1);
    if (!buf)
        abort ();
    protobuf_c_message_pack (msg, buf);
    return buf;
}

uint8_t *
codec_inbound_event_bytes (const codec_inbound_t *self, size_t i, size_t *len)
{
    if (self->event_raw && self->event_raw[i]) {
        uint8_t *copy = malloc (self->event_raw_len[i] ? self->event_raw_len[i] : 1);
        if (!copy)
            abort ();
        memcpy (copy, self->event_raw[i], self->event_raw_len[i]);
        *len = self->event_raw_len[i];
        return copy;
    }
    return pack_message (&self->msg->batch->events[i]->base, len);
}

void
codec_inbound_heartbeat (const codec_inbound_t *self, heartbeat_t *hb)
{
    Onenet__V1__Heartbeat *h = self->msg->heartbeat;
    hb->adapter_id = h->adapter_id;
    hb->agency = h->agency;
    hb->sent_at_ms = h->sent_at_ms;
    hb->outbox_depth = h->outbox_depth;
    hb->oldest_unacked_ms = h->oldest_unacked_ms;
    hb->task_cursor = h->task_cursor;
    hb->takes_tasks = h->takes_tasks;
    hb->quarantine_counted = h->quarantine_counted;
    hb->quarantined = h->quarantined;
    hb->n_quarantine_codes = h->n_quarantined_by_code;
    hb->quarantine_codes = self->counts;
    hb->n_rejects = h->n_rejects;
    hb->rejects = self->samples;
}

const char *
codec_inbound_reject_problem (const codec_inbound_t *self, size_t i)
{
    return self->sample_problem && i < self->msg->heartbeat->n_rejects
               ? self->sample_problem[i]
               : NULL;
}

const char *
codec_inbound_count_problem (const codec_inbound_t *self, size_t i)
{
    return self->count_problem && i < self->msg->heartbeat->n_quarantined_by_code
               ? self->count_problem[i]
               : NULL;
}

/* protobuf-c wants char * for strings it will only read while packing. */
#define W(s) ((char *) (uintptr_t) ((s) ? (s) : ""))

uint8_t *
codec_event_encode (const case_event_t *ev, size_t *len)
{
    CaseEvent e = ONENET__V1__CASE_EVENT__INIT;
    e.schema_version = ev->schema_version;
    e.event_id = W (ev->event_id);
    e.agency = W (ev->agency);
    e.adapter_id = W (ev->adapter_id);
    e.case_no = W (ev->case_no);
    e.event_type = W (ev->event_type);
    e.occurred_at_ms = ev->occurred_at_ms;
    e.accepted_at_ms = ev->accepted_at_ms;

    Onenet__V1__CorrelationKey *keys = calloc (ev->n_keys + 1, sizeof *keys);
    Onenet__V1__CorrelationKey **key_ptrs = calloc (ev->n_keys + 1, sizeof *key_ptrs);
    Onenet__V1__Attribute *attrs = calloc (ev->n_attrs + 1, sizeof *attrs);
    Onenet__V1__Attribute **attr_ptrs = calloc (ev->n_attrs + 1, sizeof *attr_ptrs);
    if (!keys || !key_ptrs || !attrs || !attr_ptrs)
        abort ();
    for (size_t k = 0; k < ev->n_keys; k++) {
        onenet__v1__correlation_key__init (&keys[k]);
        keys[k].kind = (Onenet__V1__KeyKind) ev->keys[k].kind;
        keys[k].value = W (ev->keys[k].value);
        key_ptrs[k] = &keys[k];
    }
    for (size_t a = 0; a < ev->n_attrs; a++) {
        const event_attr_t *src = &ev->attrs[a];
        Onenet__V1__Attribute *dst = &attrs[a];
        onenet__v1__attribute__init (dst);
        dst->name = W (src->name);
        dst->value_case = (Onenet__V1__Attribute__ValueCase) src->type;
        switch (src->type) {
        case ATTR_TEXT: dst->text = W (src->text); break;
        case ATTR_INTEGER: dst->integer = src->integer; break;
        case ATTR_NUMBER: dst->number = src->number; break;
        case ATTR_FLAG: dst->flag = src->flag; break;
        case ATTR_TIME: dst->time_ms = src->time_ms; break;
        default: dst->value_case = ONENET__V1__ATTRIBUTE__VALUE__NOT_SET;
        }
        attr_ptrs[a] = dst;
    }
    e.n_keys = ev->n_keys;
    e.keys = key_ptrs;
    e.n_attributes = ev->n_attrs;
    e.attributes = attr_ptrs;
    uint8_t *buf = pack_message (&e.base, len);
    free (keys);
    free (key_ptrs);
    free (attrs);
    free (attr_ptrs);
    return buf;
}

uint8_t *
codec_batch_encode (uint64_t batch_seq, const char *adapter_id, const char *agency,
                    const uint8_t *const *events, const size_t *event_lens, size_t n,
                    size_t *len)
{
    CaseEvent **decoded = calloc (n + 1, sizeof *decoded);
    if (!decoded)
        abort ();
    uint8_t *buf = NULL;
    size_t i;
    for (i = 0; i < n; i++) {
        decoded[i] = onenet__v1__case_event__unpack (NULL, event_lens[i], events[i]);
        if (!decoded[i])
            break;
    }
    if (i == n) {
        Onenet__V1__EventBatch batch = ONENET__V1__EVENT_BATCH__INIT;
        batch.batch_seq = batch_seq;
        batch.adapter_id = W (adapter_id);
        batch.agency = W (agency);
        batch.n_events = n;
        batch.events = decoded;
        AdapterMessage msg = ONENET__V1__ADAPTER_MESSAGE__INIT;
        msg.body_case = ONENET__V1__ADAPTER_MESSAGE__BODY_BATCH;
        msg.batch = &batch;
        buf = pack_message (&msg.base, len);
    }
    for (size_t j = 0; j < n && decoded[j]; j++)
        onenet__v1__case_event__free_unpacked (decoded[j], NULL);
    free (decoded);
    return buf;
}

uint8_t *
codec_heartbeat_encode (const heartbeat_t *hb, size_t *len)
{
    Onenet__V1__Heartbeat h = ONENET__V1__HEARTBEAT__INIT;
    h.adapter_id = W (hb->adapter_id);
    h.agency = W (hb->agency);
    h.sent_at_ms = hb->sent_at_ms;
    h.outbox_depth = hb->outbox_depth;
    h.oldest_unacked_ms = hb->oldest_unacked_ms;
    h.task_cursor = hb->task_cursor;
    h.takes_tasks = hb->takes_tasks;
    h.quarantine_counted = hb->quarantine_counted;
    h.quarantined = hb->quarantined;
    size_t nc = hb->n_quarantine_codes, nr = hb->n_rejects;
    Onenet__V1__QuarantineCount *counts = calloc (nc + 1, sizeof *counts);
    Onenet__V1__QuarantineCount **count_ptrs = calloc (nc + 1, sizeof *count_ptrs);
    Onenet__V1__RejectSample *samples = calloc (nr + 1, sizeof *samples);
    Onenet__V1__RejectSample **sample_ptrs = calloc (nr + 1, sizeof *sample_ptrs);
    if (!counts || !count_ptrs || !samples || !sample_ptrs)
        abort ();
    for (size_t i = 0; i < nc; i++) {
        onenet__v1__quarantine_count__init (&counts[i]);
        counts[i].code = W (hb->quarantine_codes[i].code);
        counts[i].count = hb->quarantine_codes[i].count;
        count_ptrs[i] = &counts[i];
    }
    for (size_t i = 0; i < nr; i++) {
        const reject_sample_t *r = &hb->rejects[i];
        onenet__v1__reject_sample__init (&samples[i]);
        samples[i].seq = r->seq;
        samples[i].place = W (r->place);
        samples[i].code = W (r->code);
        samples[i].reason = W (r->reason);
        samples[i].rejected_at_ms = r->rejected_at_ms;
        samples[i].event_id = W (r->event_id);
        sample_ptrs[i] = &samples[i];
    }
    h.n_quarantined_by_code = nc;
    h.quarantined_by_code = count_ptrs;
    h.n_rejects = nr;
    h.rejects = sample_ptrs;
    AdapterMessage msg = ONENET__V1__ADAPTER_MESSAGE__INIT;
    msg.body_case = ONENET__V1__ADAPTER_MESSAGE__BODY_HEARTBEAT;
    msg.heartbeat = &h;
    uint8_t *buf = pack_message (&msg.base, len);
    free (counts);
    free (count_ptrs);
    free (samples);
    free (sample_ptrs);
    return buf;
}

/* --- hub -> adapter ---------------------------------------------------- */

uint8_t *
codec_ack_encode (uint64_t batch_seq, const event_ack_t *acks, size_t n, size_t *len)
{
    Onenet__V1__EventAck *items = calloc (n + 1, sizeof *items);
    Onenet__V1__EventAck **ptrs = calloc (n + 1, sizeof *ptrs);
    if (!items || !ptrs)
        abort ();
    for (size_t i = 0; i < n; i++) {
        onenet__v1__event_ack__init (&items[i]);
        items[i].event_id = W (acks[i].event_id);
        items[i].status = (Onenet__V1__AckStatus) acks[i].status;
        items[i].code = (Onenet__V1__ErrorCode) acks[i].code;
        items[i].reason = W (acks[i].reason);
        ptrs[i] = &items[i];
    }
    Onenet__V1__BatchAck ack = ONENET__V1__BATCH_ACK__INIT;
    ack.batch_seq = batch_seq;
    ack.n_acks = n;
    ack.acks = ptrs;
    HubMessage msg = ONENET__V1__HUB_MESSAGE__INIT;
    msg.body_case = ONENET__V1__HUB_MESSAGE__BODY_ACK;
    msg.ack = &ack;
    uint8_t *buf = pack_message (&msg.base, len);
    free (items);
    free (ptrs);
    return buf;
}

uint8_t *
codec_heartbeat_reply_encode (int64_t hub_time_ms, const char *hub_id, bool store_available,
                              uint64_t rejects_stored_up_to, size_t *len)
{
    Onenet__V1__HeartbeatReply r = ONENET__V1__HEARTBEAT_REPLY__INIT;
    r.hub_time_ms = hub_time_ms;
    r.hub_id = W (hub_id);
    r.store_available = store_available;
    r.rejects_stored_up_to = rejects_stored_up_to;
    HubMessage msg = ONENET__V1__HUB_MESSAGE__INIT;
    msg.body_case = ONENET__V1__HUB_MESSAGE__BODY_HEARTBEAT;
    msg.heartbeat = &r;
    return pack_message (&msg.base, len);
}

uint8_t *
codec_error_encode (uint64_t batch_seq, error_code_t code, const char *reason, size_t *len)
{
    Onenet__V1__Error e = ONENET__V1__ERROR__INIT;
    e.code = (Onenet__V1__ErrorCode) code;
    e.batch_seq = batch_seq;
    e.reason = W (reason);
    HubMessage msg = ONENET__V1__HUB_MESSAGE__INIT;
    msg.body_case = ONENET__V1__HUB_MESSAGE__BODY_ERROR;
    msg.error = &e;
    return pack_message (&msg.base, len);
}

uint8_t *
codec_tasks_encode (const task_t *tasks, size_t n, size_t *len)
{
    Onenet__V1__Task *items = calloc (n + 1, sizeof *items);
    Onenet__V1__Task **ptrs = calloc (n + 1, sizeof *ptrs);
    Onenet__V1__CorrelationKey *keys = calloc (n + 1, sizeof *keys);
    if (!items || !ptrs || !keys)
        abort ();
    for (size_t i = 0; i < n; i++) {
        const task_t *t = &tasks[i];
        onenet__v1__task__init (&items[i]);
        onenet__v1__correlation_key__init (&keys[i]);
        keys[i].kind = (Onenet__V1__KeyKind) t->key_kind;
        keys[i].value = W (t->key_value);
        items[i].seq = t->seq;
        items[i].agency = W (t->agency);
        items[i].kind = W (t->kind);
        items[i].workflow = W (t->workflow);
        items[i].step = W (t->step);
        items[i].key = &keys[i];
        items[i].payload_json = W (t->payload_json);
        items[i].ready_at_ms = t->ready_at_ms;
        items[i].due_at_ms = t->due_at_ms;
        items[i].withdrawn = t->withdrawn;
        items[i].withdrawn_reason = W (t->withdrawn ? t->withdrawn_reason : "");
        ptrs[i] = &items[i];
    }
    Onenet__V1__TaskBatch batch = ONENET__V1__TASK_BATCH__INIT;
    batch.n_tasks = n;
    batch.tasks = ptrs;
    HubMessage msg = ONENET__V1__HUB_MESSAGE__INIT;
    msg.body_case = ONENET__V1__HUB_MESSAGE__BODY_TASKS;
    msg.tasks = &batch;
    uint8_t *buf = pack_message (&msg.base, len);
    free (items);
    free (ptrs);
    free (keys);
    return buf;
}

codec_outbound_t *
codec_outbound_decode (const void *data, size_t len)
{
    HubMessage *msg = onenet__v1__hub_message__unpack (NULL, len, data);
    if (!msg)
        return NULL;
    if (msg->body_case == ONENET__V1__HUB_MESSAGE__BODY__NOT_SET) {
        onenet__v1__hub_message__free_unpacked (msg, NULL);
        return NULL;
    }
    codec_outbound_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->msg = msg;
    return self;
}

void
codec_outbound_destroy (codec_outbound_t **self_p)
{
    if (!*self_p)
        return;
    onenet__v1__hub_message__free_unpacked ((*self_p)->msg, NULL);
    free (*self_p);
    *self_p = NULL;
}

outbound_kind_t
codec_outbound_kind (const codec_outbound_t *self)
{
    return (outbound_kind_t) self->msg->body_case;
}

uint64_t
codec_outbound_batch_seq (const codec_outbound_t *self)
{
    if (self->msg->body_case == ONENET__V1__HUB_MESSAGE__BODY_ERROR)
        return self->msg->error->batch_seq;
    return self->msg->body_case == ONENET__V1__HUB_MESSAGE__BODY_ACK
               ? self->msg->ack->batch_seq
               : 0;
}

size_t
codec_outbound_ack_count (const codec_outbound_t *self)
{
    return self->msg->body_case == ONENET__V1__HUB_MESSAGE__BODY_ACK
               ? self->msg->ack->n_acks
               : 0;
}

void
codec_outbound_ack (const codec_outbound_t *self, size_t i, event_ack_t *ack)
{
    Onenet__V1__EventAck *a = self->msg->ack->acks[i];
    ack->event_id = a->event_id;
    ack->status = (ack_status_t) a->status;
    ack->code = (error_code_t) a->code;
    ack->reason = a->reason;
}

bool
codec_outbound_store_available (const codec_outbound_t *self)
{
    return self->msg->body_case == ONENET__V1__HUB_MESSAGE__BODY_HEARTBEAT
           && self->msg->heartbeat->store_available;
}

uint64_t
codec_outbound_rejects_stored (const codec_outbound_t *self)
{
    return self->msg->body_case == ONENET__V1__HUB_MESSAGE__BODY_HEARTBEAT
               ? self->msg->heartbeat->rejects_stored_up_to
               : 0;
}

error_code_t
codec_outbound_error (const codec_outbound_t *self, const char **reason)
{
    if (self->msg->body_case != ONENET__V1__HUB_MESSAGE__BODY_ERROR) {
        *reason = "";
        return ERR_NONE;
    }
    *reason = self->msg->error->reason;
    return (error_code_t) self->msg->error->code;
}

size_t
codec_outbound_task_count (const codec_outbound_t *self)
{
    return self->msg->body_case == ONENET__V1__HUB_MESSAGE__BODY_TASKS
               ? self->msg->tasks->n_tasks
               : 0;
}

void
codec_outbound_task (const codec_outbound_t *self, size_t i, task_t *task)
{
    Onenet__V1__Task *t = self->msg->tasks->tasks[i];
    task->seq = t->seq;
    task->agency = t->agency;
    task->kind = t->kind;
    task->workflow = t->workflow;
    task->step = t->step;
    task->key_kind = t->key ? (key_kind_t) t->key->kind : KEY_NONE;
    task->key_value = t->key ? t->key->value : "";
    task->payload_json = t->payload_json;
    task->ready_at_ms = t->ready_at_ms;
    task->due_at_ms = t->due_at_ms;
    task->withdrawn = t->withdrawn;
    task->withdrawn_reason = t->withdrawn_reason;
}
