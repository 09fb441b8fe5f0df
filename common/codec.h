/*  codec: the only module that sees protobuf-c's generated types.

    It turns the wire messages of proto/onenet.proto into plain C views
    (case_event_t and friends) and back. Decoded messages own their memory;
    the views point into them and live as long as the decoded message. */
#ifndef ONENET_CODEC_H
#define ONENET_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ONENET_SCHEMA_VERSION 1

/* Correlation key kinds; values equal the wire enum KeyKind. */
typedef enum {
    KEY_NONE = 0,
    KEY_CREDIT_CODE = 1,
    KEY_UNIT_NUMBER = 2,
    KEY_PROJECT_CODE = 3,
    KEY_APPLICATION_NO = 4,
    KEY_REFUND_NO = 5
} key_kind_t;

/* Attribute value types; values equal the wire oneof cases. */
typedef enum {
    ATTR_NONE = 0,
    ATTR_TEXT = 2,
    ATTR_INTEGER = 3,
    ATTR_NUMBER = 4,
    ATTR_FLAG = 5,
    ATTR_TIME = 6
} attr_type_t;

typedef enum {
    ACK_STORED = 1,
    ACK_DUPLICATE = 2,
    ACK_REJECTED = 3,
    ACK_RETRY = 4
} ack_status_t;

/* Machine-readable reasons; values equal the wire enum ErrorCode. */
typedef enum {
    ERR_NONE = 0,
    ERR_MALFORMED = 1,
    ERR_UNSUPPORTED_VERSION = 2,
    ERR_MISSING_FIELD = 3,
    ERR_INVALID_FIELD = 4,
    ERR_UNKNOWN_AGENCY = 5,
    ERR_AGENCY_MISMATCH = 6,
    ERR_LIMIT_EXCEEDED = 7,
    ERR_INVALID_KEY = 8,
    ERR_TIME_OUT_OF_RANGE = 9,
    ERR_STORE_UNAVAILABLE = 10,
    ERR_MESSAGE_TOO_LARGE = 11,
    ERR_SHUTTING_DOWN = 12,
    ERR_CONFLICT = 13
} error_code_t;

typedef struct {
    key_kind_t kind;   /* which identifier scheme */
    const char *value; /* the identifier itself */
} event_key_t;

typedef struct {
    const char *name; /* attribute name, [a-z0-9_]+ by convention */
    attr_type_t type; /* which of the fields below holds the value */
    const char *text; /* ATTR_TEXT */
    int64_t integer;  /* ATTR_INTEGER */
    double number;    /* ATTR_NUMBER */
    bool flag;        /* ATTR_FLAG */
    int64_t time_ms;  /* ATTR_TIME, ms since the epoch UTC */
} event_attr_t;

/* One case event (CaseEvent on the wire). Strings are never NULL once
   decoded (absent strings are ""). */
typedef struct {
    uint32_t schema_version;   /* protocol schema version, 1 */
    const char *event_id;      /* globally unique UUID text */
    const char *agency;        /* agency code, "tax", "land", ... */
    const char *adapter_id;    /* adapter instance that accepted it */
    const char *case_no;       /* the agency's own case number */
    const char *event_type;    /* the agency's event vocabulary */
    int64_t occurred_at_ms;    /* when it happened, ms since epoch UTC */
    int64_t accepted_at_ms;    /* when the adapter accepted it */
    size_t n_keys;             /* number of correlation keys */
    const event_key_t *keys;   /* correlation keys */
    size_t n_attrs;            /* number of attributes */
    const event_attr_t *attrs; /* typed attributes */
} case_event_t;

typedef struct {
    const char *event_id; /* the event this answers */
    ack_status_t status;  /* stored, duplicate, rejected, retry */
    error_code_t code;    /* why, when rejected or retry */
    const char *reason;   /* human-readable reason, "" when none */
} event_ack_t;

/* Limits of the quarantine report a heartbeat carries (docs/protocol.md). */
#define REJECT_SAMPLES_MAX     5   /* samples per heartbeat */
#define REJECT_PLACE_MAX       256 /* bytes of a sample's place */
#define REJECT_REASON_MAX      512 /* bytes of a sample's reason */
#define REJECT_CODE_MAX        32  /* bytes of a code ([A-Z_]) */
#define REJECT_EVENT_ID_MAX    64  /* bytes of a sample's event id */
#define QUARANTINE_CODES_MAX   32  /* codes counted per heartbeat */

/* How many quarantine rows an adapter holds with one code. */
typedef struct {
    const char *code; /* BAD_RECORD, or the hub's error code name */
    uint64_t count;   /* rows */
} quarantine_count_t;

/* One quarantine row, reported with a heartbeat. */
typedef struct {
    uint64_t seq;           /* its number in the adapter's quarantine */
    const char *place;      /* file:line, "table T row N", "event <id>" */
    const char *code;       /* BAD_RECORD, or the hub's error code name */
    const char *reason;     /* why, naming the field */
    int64_t rejected_at_ms; /* when it was quarantined */
    const char *event_id;   /* the event a hub rejected, "" for a record */
} reject_sample_t;

typedef struct {
    const char *adapter_id;    /* adapter instance reporting */
    const char *agency;        /* its agency */
    int64_t sent_at_ms;        /* adapter's clock when sent */
    uint64_t outbox_depth;     /* events accepted, not yet acknowledged */
    int64_t oldest_unacked_ms; /* accepted_at of the oldest of them, 0 if none */
    uint64_t task_cursor;      /* last task seq handed durably to the agency */
    bool takes_tasks;          /* the adapter delivers tasks */
    bool quarantine_counted;   /* the quarantine counts below are known */
    uint64_t quarantined;      /* rows in its quarantine */
    size_t n_quarantine_codes; /* the same by code */
    const quarantine_count_t *quarantine_codes;
    size_t n_rejects;          /* quarantine rows not yet confirmed by a hub */
    const reject_sample_t *rejects;
} heartbeat_t;

const char *key_kind_name (key_kind_t kind); /* "credit_code", ... */
bool key_kind_parse (const char *name, key_kind_t *kind);
const char *error_code_name (error_code_t code);   /* "MALFORMED", ... */
const char *ack_status_name (ack_status_t status); /* "stored", ... */

/* --- adapter -> hub ---------------------------------------------------- */

typedef struct codec_inbound codec_inbound_t;

typedef enum { INBOUND_BATCH = 1, INBOUND_HEARTBEAT = 2 } inbound_kind_t;

/* What can be read of an EventBatch's bytes without decoding it: enough
   to refuse a batch that breaks a limit as a whole, before one event is
   looked at (and before protobuf-c allocates one). */
typedef struct {
    bool is_batch;          /* the bytes hold an EventBatch (as far as they parse) */
    uint64_t batch_seq;     /* its batch_seq */
    size_t n_events;        /* events it holds */
    const char *adapter_id; /* its adapter_id's bytes (not NUL-terminated), or NULL */
    size_t adapter_id_len;
    const char *agency; /* its agency's bytes, or NULL */
    size_t agency_len;
} batch_peek_t;

/* Walks an AdapterMessage's wire bytes without allocating. Returns
   peek->is_batch; bytes that do not parse are left to
   codec_inbound_decode to name. */
bool codec_inbound_peek (const void *data, size_t len, batch_peek_t *peek);

/* Decodes an AdapterMessage. Returns NULL when the bytes are not one, or
   when it carries no body, and says why in err. */
codec_inbound_t *codec_inbound_decode (const void *data, size_t len, char *err,
                                       size_t errlen);
void codec_inbound_destroy (codec_inbound_t **self_p);
inbound_kind_t codec_inbound_kind (const codec_inbound_t *self);
uint64_t codec_inbound_batch_seq (const codec_inbound_t *self);
const char *codec_inbound_adapter_id (const codec_inbound_t *self);
const char *codec_inbound_agency (const codec_inbound_t *self);
size_t codec_inbound_event_count (const codec_inbound_t *self);
/* Fills a view of event i; valid while self lives. */
void codec_inbound_event (const codec_inbound_t *self, size_t i, case_event_t *event);
/* What is wrong with the bytes of event i's string fields as they came
   over the wire (a NUL byte, bytes that are not UTF-8), naming the field
   ("case_no holds a NUL byte (byte 7 of 11)"), or NULL when nothing is:
   the view of codec_inbound_event would hold those fields cut short. */
const char *codec_inbound_event_problem (const codec_inbound_t *self, size_t i);
/* The same for the batch's own string fields (adapter_id, agency). */
const char *codec_inbound_batch_problem (const codec_inbound_t *self);
/* Event i alone as a CaseEvent (for the dead-letter record): its bytes as
   they came when it has a problem (a NUL byte protobuf-c cut at, bad
   UTF-8), else re-serialized. Returns malloc'd bytes, caller frees. */
uint8_t *codec_inbound_event_bytes (const codec_inbound_t *self, size_t i, size_t *len);
/* Fills a view of the heartbeat, its counts and samples included; valid
   while self lives. */
void codec_inbound_heartbeat (const codec_inbound_t *self, heartbeat_t *hb);
/* What is wrong with the bytes of the heartbeat's sample i, or of its
   count i, as they came (a NUL byte, bytes that are not UTF-8), naming
   the field ("rejects[2].reason is not valid UTF-8"), or NULL. */
const char *codec_inbound_reject_problem (const codec_inbound_t *self, size_t i);
const char *codec_inbound_count_problem (const codec_inbound_t *self, size_t i);

/* Serializes one CaseEvent. Returns malloc'd bytes, caller frees. */
uint8_t *codec_event_encode (const case_event_t *event, size_t *len);

/* Builds an AdapterMessage{EventBatch} from already serialized CaseEvents
   (as kept in an adapter outbox). Returns NULL if one of them does not
   decode. Returns malloc'd bytes, caller frees. */
uint8_t *codec_batch_encode (uint64_t batch_seq, const char *adapter_id, const char *agency,
                             const uint8_t *const *events, const size_t *event_lens,
                             size_t n, size_t *len);

uint8_t *codec_heartbeat_encode (const heartbeat_t *hb, size_t *len);

/* --- hub -> adapter ---------------------------------------------------- */

typedef struct codec_outbound codec_outbound_t;

typedef enum {
    OUTBOUND_ACK = 1,
    OUTBOUND_HEARTBEAT = 2,
    OUTBOUND_ERROR = 3,
    OUTBOUND_TASKS = 4
} outbound_kind_t;

/* A task for an agency (Task on the wire). */
typedef struct {
    uint64_t seq;             /* the agency's sequence number */
    const char *agency;       /* who must act */
    const char *kind;         /* account.transfer, ... */
    const char *workflow;     /* the workflow it serves */
    const char *step;         /* the step the answer completes */
    key_kind_t key_kind;      /* the case's key kind */
    const char *key_value;    /* and value */
    const char *payload_json; /* the case's attributes, JSON object text */
    int64_t ready_at_ms;      /* when it arose */
    int64_t due_at_ms;        /* the step's deadline, 0 if none */
    bool withdrawn;           /* the case no longer calls for it */
    const char *withdrawn_reason; /* why, "" when not withdrawn */
} task_t;

uint8_t *codec_ack_encode (uint64_t batch_seq, const event_ack_t *acks, size_t n,
                           size_t *len);
/* rejects_stored_up_to: 0, or the highest sample seq of the heartbeat
   answered that is committed (protocol.md). */
uint8_t *codec_heartbeat_reply_encode (int64_t hub_time_ms, const char *hub_id,
                                       bool store_available, uint64_t rejects_stored_up_to,
                                       size_t *len);
/* An Error; batch_seq is the refused batch's, 0 for a message with none. */
uint8_t *codec_error_encode (uint64_t batch_seq, error_code_t code, const char *reason,
                             size_t *len);
uint8_t *codec_tasks_encode (const task_t *tasks, size_t n, size_t *len);

codec_outbound_t *codec_outbound_decode (const void *data, size_t len);
void codec_outbound_destroy (codec_outbound_t **self_p);
outbound_kind_t codec_outbound_kind (const codec_outbound_t *self);
/* A BatchAck's batch_seq, or an Error's (0 when the Error answers no batch). */
uint64_t codec_outbound_batch_seq (const codec_outbound_t *self);
size_t codec_outbound_ack_count (const codec_outbound_t *self);
void codec_outbound_ack (const codec_outbound_t *self, size_t i, event_ack_t *ack);
bool codec_outbound_store_available (const codec_outbound_t *self);
/* A HeartbeatReply's rejects_stored_up_to (0 for anything else). */
uint64_t codec_outbound_rejects_stored (const codec_outbound_t *self);
error_code_t codec_outbound_error (const codec_outbound_t *self, const char **reason);
size_t codec_outbound_task_count (const codec_outbound_t *self);
/* Fills a view of task i; valid while self lives. */
void codec_outbound_task (const codec_outbound_t *self, size_t i, task_t *task);

#endif
