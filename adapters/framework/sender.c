/*  sender: Lazy Pirate delivery of batches, see sender.h. */
#include "sender.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "clock.h"
#include "curve_key.h"
#include "strbuf.h"
#include "log.h"

typedef enum {
    FLIGHT_SENT, /* on the wire, waiting for the BatchAck */
    FLIGHT_WAIT  /* to be (re)sent at resend_at */
} flight_state_t;

typedef struct {
    uint64_t batch_seq;   /* echoed by the hub */
    flight_state_t state; /* sent or waiting */
    int64_t sent_at;      /* monotonic ms of the last send */
    int64_t resend_at;    /* monotonic ms of the next send, when waiting */
    int attempts;         /* sends so far */
    uint8_t *bytes;       /* the encoded AdapterMessage */
    size_t len;           /* bytes */
    size_t n;             /* events in it */
    int64_t *tokens;      /* caller's token per event */
    bool *answered;       /* event i has had its final answer */
    size_t open;          /* events without a final answer */
} flight_t;

struct sender {
    void *ctx;            /* ZeroMQ context */
    sender_options_t opt; /* settings (strings copied below) */
    char *endpoints;      /* copy of opt.endpoints */
    char *adapter_id;     /* copy of opt.adapter_id */
    char *agency;         /* copy of opt.agency */
    char *hub_key;        /* copy of opt.hub_public_key ("" = plaintext) */
    char *secret_key;     /* copy of opt.secret_key_path */
    void *socket;         /* current DEALER */
    flight_t *flights;    /* window slots */
    size_t n_flights;     /* used slots */
    uint64_t next_seq;    /* next batch_seq */
    int64_t last_send;    /* monotonic ms of the last message sent */
    int64_t last_hb;      /* monotonic ms of the last heartbeat attempt */
    int64_t last_recv;    /* monotonic ms of the last message received */
    int64_t hb_sent_at;   /* monotonic ms of the unanswered heartbeat, 0 if none */
    int retry_ms;         /* current RETRY backoff */
    uint64_t reconnects;  /* sockets replaced so far */
    uint64_t rejects_stored; /* the highest quarantine row a hub confirmed storing */
};

static char *
xstrdup (const char *s)
{
    return str_dup (s ? s : "");
}

/* Sets an integer option of the socket; a refusal is logged with the
   option's name (the socket still works, with ZeroMQ's default). */
static void
set_option (sender_t *self, int option, const char *name, int value)
{
    if (zmq_setsockopt (self->socket, option, &value, sizeof value) != 0)
        log_error ("could not set a hub socket option", "adapter=%s option=%s error=%s",
                   log_q (self->adapter_id), name, log_q (zmq_strerror (errno)));
}

static void
open_socket (sender_t *self)
{
    self->socket = zmq_socket (self->ctx, ZMQ_DEALER);
    if (!self->socket) {
        /* only when the context is gone or out of sockets: a fault here */
        log_error ("could not open a socket to the hub", "adapter=%s error=%s",
                   log_q (self->adapter_id), log_q (zmq_strerror (errno)));
        abort ();
    }
    set_option (self, ZMQ_LINGER, "linger", 0);
    /* queue only to live connections, so a send with no hub fails fast */
    set_option (self, ZMQ_IMMEDIATE, "immediate", 1);
    set_option (self, ZMQ_RECONNECT_IVL, "reconnect_ivl", 100);
    set_option (self, ZMQ_RECONNECT_IVL_MAX, "reconnect_ivl_max", 2000);
    set_option (self, ZMQ_SNDHWM, "sndhwm", 10000);
    set_option (self, ZMQ_RCVHWM, "rcvhwm", 10000);
    char err[1024];
    if (*self->hub_key
        && curve_client_setup (self->socket, self->hub_key, self->secret_key, err,
                               sizeof err)
               != 0)
        /* the hub refuses a socket without our key: it stays unanswered and
           the sender keeps retrying, so the fault is visible in the log */
        log_error ("could not set up CURVE", "adapter=%s error=%s",
                   log_q (self->adapter_id), log_q (err));
    /* ZMTP pings: a hub that stops answering them (hung, or cut off without
       a reset) loses its connection after ack_timeout_ms, so new batches
       and resends go only to the hubs that answer; it rejoins when it
       answers again */
    set_option (self, ZMQ_HEARTBEAT_IVL, "heartbeat_ivl", self->opt.heartbeat_ms);
    set_option (self, ZMQ_HEARTBEAT_TIMEOUT, "heartbeat_timeout", self->opt.ack_timeout_ms);
    char *copy = xstrdup (self->endpoints), *save = NULL;
    for (char *ep = strtok_r (copy, ", ", &save); ep; ep = strtok_r (NULL, ", ", &save))
        if (zmq_connect (self->socket, ep) != 0)
            log_error ("could not connect to hub", "adapter=%s endpoint=%s error=%s",
                       log_q (self->adapter_id), log_q (ep), log_q (zmq_strerror (errno)));
    free (copy);
}

sender_t *
sender_new (void *zmq_ctx, const sender_options_t *options)
{
    sender_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->ctx = zmq_ctx;
    self->opt = *options;
    self->endpoints = xstrdup (options->endpoints);
    self->adapter_id = xstrdup (options->adapter_id);
    self->agency = xstrdup (options->agency);
    self->hub_key = xstrdup (options->hub_public_key);
    self->secret_key = xstrdup (options->secret_key_path);
    self->flights = calloc ((size_t) options->window, sizeof *self->flights);
    if (!self->flights)
        abort ();
    /* batch_seq starts from the clock so a restarted adapter never reuses one */
    self->next_seq = (uint64_t) clock_now_ms () * 1000;
    self->last_recv = clock_mono_ms ();
    self->retry_ms = 100;
    char remote[512];
    if (!*self->hub_key && curve_first_remote (self->endpoints, remote, sizeof remote))
        log_warn ("INSECURE: plaintext to a hub that is not on loopback (insecure is set)",
                  "adapter=%s endpoint=%s", log_q (self->adapter_id), log_q (remote));
    open_socket (self);
    return self;
}

static void
flight_free (flight_t *f)
{
    free (f->bytes);
    free (f->tokens);
    free (f->answered);
    memset (f, 0, sizeof *f);
}

void
sender_destroy (sender_t **self_p)
{
    sender_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->n_flights; i++)
        flight_free (&self->flights[i]);
    free (self->flights);
    zmq_close (self->socket);
    free (self->endpoints);
    free (self->adapter_id);
    free (self->agency);
    free (self->hub_key);
    free (self->secret_key);
    free (self);
    *self_p = NULL;
}

void *
sender_socket (sender_t *self)
{
    return self->socket;
}

bool
sender_has_room (const sender_t *self)
{
    return self->n_flights < (size_t) self->opt.window;
}

size_t
sender_in_flight (const sender_t *self)
{
    return self->n_flights;
}

/* Puts a flight on the wire, or schedules it when no hub is connected. */
static void
transmit (sender_t *self, flight_t *f)
{
    int64_t now = clock_mono_ms ();
    f->attempts++;
    if (zmq_send (self->socket, f->bytes, f->len, ZMQ_DONTWAIT) == (int) f->len) {
        f->state = FLIGHT_SENT;
        f->sent_at = now;
        self->last_send = now;
    }
    else {
        /* no hub connected (or its queue is full): try again shortly */
        f->state = FLIGHT_WAIT;
        f->resend_at = now + 100;
    }
}

int
sender_send (sender_t *self, const uint8_t *const *events, const size_t *lens,
             const int64_t *tokens, size_t n)
{
    if (!sender_has_room (self))
        return -1;
    flight_t *f = &self->flights[self->n_flights];
    memset (f, 0, sizeof *f);
    f->batch_seq = self->next_seq++;
    f->bytes = codec_batch_encode (f->batch_seq, self->adapter_id, self->agency, events,
                                   lens, n, &f->len);
    if (!f->bytes)
        return -1;
    f->n = n;
    f->open = n;
    f->tokens = malloc (n * sizeof *f->tokens);
    f->answered = calloc (n, sizeof *f->answered);
    if (!f->tokens || !f->answered)
        abort ();
    memcpy (f->tokens, tokens, n * sizeof *tokens);
    self->n_flights++;
    transmit (self, f);
    return 0;
}

static void
remove_flight (sender_t *self, size_t i)
{
    flight_free (&self->flights[i]);
    memmove (&self->flights[i], &self->flights[i + 1],
             (self->n_flights - i - 1) * sizeof *self->flights);
    self->n_flights--;
    memset (&self->flights[self->n_flights], 0, sizeof *self->flights);
}

/* Held back this long when the hub refuses a batch as a whole (more events
   or bytes than it takes): nothing of it was stored, and resending it
   unchanged gets the same answer until an operator lowers the adapter's
   batch-max or raises the hub's limit. */
#define REFUSED_BATCH_HOLD_MS 60000

/* An Error: for a batch the hub refused whole (its batch_seq echoed), the
   batch stays in the outbox and is held back instead of being resent at
   once or after the ack timeout. */
static void
handle_error (sender_t *self, codec_outbound_t *msg)
{
    const char *reason;
    error_code_t code = codec_outbound_error (msg, &reason);
    uint64_t seq = codec_outbound_batch_seq (msg);
    size_t fi = self->n_flights;
    for (size_t i = 0; seq && i < self->n_flights; i++)
        if (self->flights[i].batch_seq == seq)
            fi = i;
    if (fi == self->n_flights) {
        log_error ("hub refused a message", "adapter=%s batch=%llu code=%s reason=%s",
                   log_q (self->adapter_id), (unsigned long long) seq, error_code_name (code),
                   log_q (reason));
        return;
    }
    flight_t *f = &self->flights[fi];
    f->state = FLIGHT_WAIT;
    f->resend_at = clock_mono_ms () + REFUSED_BATCH_HOLD_MS;
    log_error ("hub refused a batch whole; its events stay in the outbox, held back",
               "adapter=%s batch=%llu events=%zu bytes=%zu code=%s hold_s=%d reason=%s",
               log_q (self->adapter_id), (unsigned long long) seq, f->n, f->len,
               error_code_name (code), REFUSED_BATCH_HOLD_MS / 1000, log_q (reason));
}

static void
handle_ack (sender_t *self, codec_outbound_t *msg, sender_ack_fn on_ack, void *user)
{
    uint64_t seq = codec_outbound_batch_seq (msg);
    size_t fi;
    for (fi = 0; fi < self->n_flights; fi++)
        if (self->flights[fi].batch_seq == seq)
            break;
    if (fi == self->n_flights)
        return; /* an answer to a batch already settled: ignore */
    flight_t *f = &self->flights[fi];
    size_t n = codec_outbound_ack_count (msg);
    if (n != f->n) {
        log_warn ("hub answered a batch with the wrong number of acks, resending",
                  "adapter=%s batch=%llu events=%zu acks=%zu", log_q (self->adapter_id),
                  (unsigned long long) seq, f->n, n);
        f->state = FLIGHT_WAIT;
        f->resend_at = clock_mono_ms () + self->retry_ms;
        return;
    }
    bool retry = false;
    for (size_t i = 0; i < n; i++) {
        event_ack_t ack;
        codec_outbound_ack (msg, i, &ack);
        if (ack.status == ACK_RETRY || ack.status < ACK_STORED || ack.status > ACK_RETRY) {
            retry = true;
            continue;
        }
        if (!f->answered[i]) {
            f->answered[i] = true;
            f->open--;
            on_ack (user, f->tokens[i], &ack);
        }
    }
    if (f->open == 0) {
        remove_flight (self, fi);
        self->retry_ms = 100;
    }
    else if (retry) {
        /* resend the whole batch later; settled events come back DUPLICATE */
        f->state = FLIGHT_WAIT;
        f->resend_at = clock_mono_ms () + self->retry_ms;
        log_info ("hub asked to retry", "adapter=%s batch=%llu open=%zu retry_ms=%d",
                  log_q (self->adapter_id), (unsigned long long) seq, f->open,
                  self->retry_ms);
        self->retry_ms = self->retry_ms * 2 > self->opt.retry_max_ms
                             ? self->opt.retry_max_ms
                             : self->retry_ms * 2;
    }
}

void
sender_receive (sender_t *self, sender_ack_fn on_ack, sender_task_fn on_tasks, void *user)
{
    while (true) {
        zmq_msg_t m;
        zmq_msg_init (&m);
        if (zmq_msg_recv (&m, self->socket, ZMQ_DONTWAIT) < 0) {
            /* EAGAIN: all read; anything else is a fault of the socket, which
               the ack timeout replaces */
            if (zmq_errno () != EAGAIN && zmq_errno () != EINTR)
                log_error ("could not read from the hub socket", "adapter=%s error=%s",
                           log_q (self->adapter_id), log_q (zmq_strerror (zmq_errno ())));
            zmq_msg_close (&m);
            return;
        }
        self->last_recv = clock_mono_ms ();
        self->hb_sent_at = 0;
        codec_outbound_t *msg =
            codec_outbound_decode (zmq_msg_data (&m), zmq_msg_size (&m));
        if (!msg)
            log_warn ("unreadable message from hub", "adapter=%s bytes=%zu",
                      log_q (self->adapter_id), zmq_msg_size (&m));
        else if (codec_outbound_kind (msg) == OUTBOUND_ACK)
            handle_ack (self, msg, on_ack, user);
        else if (codec_outbound_kind (msg) == OUTBOUND_TASKS) {
            size_t n = codec_outbound_task_count (msg);
            task_t *tasks = calloc (n ? n : 1, sizeof *tasks);
            if (!tasks)
                abort ();
            for (size_t i = 0; i < n; i++)
                codec_outbound_task (msg, i, &tasks[i]);
            on_tasks (user, tasks, n);
            free (tasks);
        }
        else if (codec_outbound_kind (msg) == OUTBOUND_ERROR)
            handle_error (self, msg);
        else if (codec_outbound_kind (msg) == OUTBOUND_HEARTBEAT
                 && codec_outbound_rejects_stored (msg) > self->rejects_stored)
            self->rejects_stored = codec_outbound_rejects_stored (msg);
        codec_outbound_destroy (&msg);
        zmq_msg_close (&m);
    }
}

/* Lazy Pirate: replace the socket and resend everything unanswered. */
static void
reconnect (sender_t *self, const char *why)
{
    self->reconnects++;
    log_warn ("no answer from hub, reconnecting and resending",
              "adapter=%s why=%s in_flight=%zu reconnects=%llu", log_q (self->adapter_id),
              log_q (why), self->n_flights, (unsigned long long) self->reconnects);
    zmq_close (self->socket);
    open_socket (self);
    self->hb_sent_at = 0;
    self->last_recv = clock_mono_ms ();
    for (size_t i = 0; i < self->n_flights; i++) {
        self->flights[i].state = FLIGHT_WAIT;
        self->flights[i].resend_at = clock_mono_ms ();
    }
}

void
sender_tick (sender_t *self, const heartbeat_t *hb)
{
    int64_t now = clock_mono_ms ();
    for (size_t i = 0; i < self->n_flights; i++) {
        flight_t *f = &self->flights[i];
        if (f->state != FLIGHT_SENT || now - f->sent_at < self->opt.ack_timeout_ms)
            continue;
        if (now - self->last_recv >= self->opt.ack_timeout_ms) {
            /* the hub is silent: the connection itself is suspect */
            reconnect (self, "acknowledgement timed out");
            break;
        }
        /* the hub answers other things but lost this batch (it restarted
           between reading and committing it): send it again */
        log_info ("batch not acknowledged, resending", "adapter=%s batch=%llu attempt=%d",
                  log_q (self->adapter_id), (unsigned long long) f->batch_seq,
                  f->attempts + 1);
        transmit (self, f);
    }
    if (self->hb_sent_at && now - self->hb_sent_at >= self->opt.ack_timeout_ms
        && now - self->last_recv >= self->opt.ack_timeout_ms)
        reconnect (self, "heartbeat not answered");
    now = clock_mono_ms ();
    for (size_t i = 0; i < self->n_flights; i++) {
        flight_t *f = &self->flights[i];
        if (f->state == FLIGHT_WAIT && now >= f->resend_at)
            transmit (self, f);
    }
    /* a heartbeat every heartbeat_ms, busy or not: it carries the backlog */
    if (now - self->last_hb >= self->opt.heartbeat_ms) {
        size_t len;
        uint8_t *buf = codec_heartbeat_encode (hb, &len);
        if (zmq_send (self->socket, buf, len, ZMQ_DONTWAIT) == (int) len
            && !self->hb_sent_at)
            self->hb_sent_at = now;
        self->last_hb = now;
        free (buf);
    }
}

bool
sender_heartbeat_due (const sender_t *self)
{
    return clock_mono_ms () - self->last_hb >= self->opt.heartbeat_ms;
}

long
sender_next_timeout (const sender_t *self)
{
    int64_t now = clock_mono_ms ();
    int64_t next = self->last_hb + self->opt.heartbeat_ms;
    if (self->hb_sent_at && self->hb_sent_at + self->opt.ack_timeout_ms < next)
        next = self->hb_sent_at + self->opt.ack_timeout_ms;
    for (size_t i = 0; i < self->n_flights; i++) {
        const flight_t *f = &self->flights[i];
        int64_t t =
            f->state == FLIGHT_WAIT ? f->resend_at : f->sent_at + self->opt.ack_timeout_ms;
        if (t < next)
            next = t;
    }
    return next <= now ? 0 : (long) (next - now);
}

uint64_t
sender_rejects_stored (const sender_t *self)
{
    return self->rejects_stored;
}
