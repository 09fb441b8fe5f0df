/*  sender: reliable delivery of event batches to the hub ("Lazy Pirate").

    A DEALER socket connected to every hub endpoint (ZeroMQ spreads batches
    across the hubs that are up; a hub that stops answering ZeroMQ's pings
    for ack_timeout_ms is dropped until it answers again, so with several
    hubs a hung one gets no new batches and its unanswered ones are resent
    to the others; an answer from any hub settles a batch). Up to `window` batches are in flight at once; each waits
    for its BatchAck. If the hub stays silent past ack_timeout_ms, the
    sender closes the socket, opens a new one (a new connection and routing
    id, so nothing stale comes back) and resends every unacknowledged batch.
    RETRY answers are resent after an exponential backoff. Events are never
    dropped here: a batch leaves the sender only when every event in it has a
    final answer (stored, duplicate or rejected). */
#ifndef ONENET_SENDER_H
#define ONENET_SENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"

typedef struct sender sender_t;

typedef struct {
    const char *endpoints;  /* comma-separated hub endpoints */
    const char *adapter_id; /* this adapter */
    const char *agency;     /* its agency */
    int window;             /* batches in flight, at most */
    int ack_timeout_ms;     /* silence after which the connection is replaced */
    int heartbeat_ms;       /* a heartbeat (with the backlog) is sent this often */
    int retry_max_ms;       /* backoff ceiling for RETRY answers */

    /* CURVE: both set, or neither (plaintext) */
    const char *hub_public_key;  /* the hub's public key (Z85), NULL or "" */
    const char *secret_key_path; /* this adapter's key pair file */
} sender_options_t;

/* One final answer for an event, with the caller's token for it. */
typedef void (*sender_ack_fn) (void *user, int64_t token, const event_ack_t *ack);

sender_t *sender_new (void *zmq_ctx, const sender_options_t *options);
void sender_destroy (sender_t **self_p);

/* The socket to poll for ZMQ_POLLIN. Changes after a reconnect: ask again
   before every poll. */
void *sender_socket (sender_t *self);

/* True when another batch may be sent now. */
bool sender_has_room (const sender_t *self);
/* Batches not yet fully answered. */
size_t sender_in_flight (const sender_t *self);

/* Sends a batch of serialized CaseEvents; tokens[i] comes back with event
   i's answer (the outbox sequence). Returns 0, or -1 if an event does not
   encode (a programming error upstream). */
int sender_send (sender_t *self, const uint8_t *const *events, const size_t *lens,
                 const int64_t *tokens, size_t n);

/* The tasks of one TaskBatch from the hub, in order of seq (views into
   the message, valid during the call). */
typedef void (*sender_task_fn) (void *user, const task_t *tasks, size_t n);

/* Reads everything the hub sent; calls on_ack once per final answer and
   on_tasks once per TaskBatch received. */
void sender_receive (sender_t *self, sender_ack_fn on_ack, sender_task_fn on_tasks,
                     void *user);

/* Timers: resends, reconnects, heartbeats. hb describes the backlog for the
   heartbeat. Call after every poll. */
void sender_tick (sender_t *self, const heartbeat_t *hb);

/* True when the next sender_tick sends a heartbeat: only then is the
   backlog worth measuring. */
bool sender_heartbeat_due (const sender_t *self);

/* The highest quarantine row (RejectSample.seq) a hub has confirmed
   storing, from the replies to heartbeats that carried samples; 0: none
   yet. */
uint64_t sender_rejects_stored (const sender_t *self);

/* Milliseconds until sender_tick has something to do (for the poll). */
long sender_next_timeout (const sender_t *self);

#endif
