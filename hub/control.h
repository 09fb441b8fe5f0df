/*  control: the hub's control socket, where hubctl asks for live figures.

    A ZeroMQ REP socket bound to the `control` setting (off when empty). A
    request is one frame of text; the reply is one frame:
        "status"   JSON: hub id, uptime, counters, events/s, batch commit
                   latency (average and histogram), store availability,
                   the batch being filled
        "metrics"  the same figures in the Prometheus text exposition
                   format (version 0.0.4), for the monitoring operators run
        "vocabulary"  JSON: every agency's event types, and what each does
                   in each workflow (vocabulary.h), as this hub accepts
                   them: from its definitions and extra-event-types
        "reload-keys"  re-read the authorised-keys file now (auth.h); the
                   answer says how many keys it holds and what was skipped
    Anything else is answered {"error": "..."}. Answering costs no database
    round trip: the figures are the ingest thread's own counters, and the
    vocabulary is built once, when the socket opens.

    With CURVE (the default) only operator keys connect (auth.h): a
    read-only key may ask status, metrics and vocabulary; commands that change
    something (reload-keys) need a read-write key, and a read-only one is
    answered {"error": "refused: ..."}. */
#ifndef ONENET_CONTROL_H
#define ONENET_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

/* Upper bounds (ms) of the commit latency histogram; the last is +Inf. */
#define CONTROL_BUCKETS 12
extern const double control_bucket_ms[CONTROL_BUCKETS];

/* The live figures of one hub. */
typedef struct {
    const char *hub_id;                    /* the hub's name */
    int64_t started_ms;                    /* wall clock at start */
    bool store_up;                         /* PostgreSQL reachable at last word */
    uint64_t events;                       /* events read */
    uint64_t stored;                       /* acknowledged STORED */
    uint64_t duplicates;                   /* acknowledged DUPLICATE */
    uint64_t rejected;                     /* acknowledged REJECTED */
    uint64_t conflicts;                    /* of those, CONFLICT: an id reused for other
                                              content */
    uint64_t retried;                      /* answered RETRY */
    uint64_t unreadable;                   /* messages that were not AdapterMessages */
    uint64_t batches_refused;              /* batches refused whole (LIMIT_EXCEEDED) */
    uint64_t batches;                      /* transactions committed */
    uint64_t commit_us;                    /* time spent committing them */
    uint64_t commit_hist[CONTROL_BUCKETS]; /* commits per latency bucket (not cumulative) */
    double events_per_s;                   /* events read per second, last few seconds */
    size_t pending_rows;                   /* events in the batch being filled */
    bool committing;                       /* a batch is at the store now */
    const char *vocabulary;                /* the "vocabulary" answer (vocabulary.h) */
} hub_status_t;

/* Counts one commit of us microseconds into the histogram. */
void control_count_commit (hub_status_t *status, int64_t us);

/* Appends the figures in the Prometheus text exposition format (0.0.4):
   what "metrics" answers, and what the HTTP endpoint's /metrics begins with. */
void control_prometheus (const hub_status_t *status, strbuf_t *out);

/* Appends value escaped as a Prometheus label value (between the quotes):
   backslash, double quote and newline as \\, \" and \n. */
void control_label_value (strbuf_t *out, const char *value);

/* What the operator asking may do. */
typedef enum {
    CONTROL_NONE,      /* nothing (no operator identity) */
    CONTROL_READ_ONLY, /* status, metrics and vocabulary */
    CONTROL_READ_WRITE /* and commands */
} control_rights_t;

/* What the caller still has to do after control_answer. */
typedef enum {
    CONTROL_ANSWERED,      /* reply holds the answer */
    CONTROL_DO_RELOAD_KEYS /* re-read the authorised keys, answer with the outcome */
} control_action_t;

/* Writes the answer to request (len bytes) from operator who, holding
   rights, into reply; or says what the caller must do. */
control_action_t control_answer (const hub_status_t *status, const char *request,
                                 size_t len, control_rights_t rights, const char *who,
                                 strbuf_t *reply);

#endif
