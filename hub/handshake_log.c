/*  handshake_log: failed handshakes in the log, see handshake_log.h. */
#include "handshake_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <zmq.h>

#include "clock.h"
#include "log.h"
#include "worker.h"

#define PEERS     256   /* accepted connections remembered, by descriptor */
#define WINDOW_MS 60000 /* the rate limit's window */

typedef struct {
    int fd;         /* descriptor of the accepted connection, -1 when free */
    char addr[64];  /* its peer address, "unknown" when already gone */
} peer_t;

struct handshake_log {
    worker_t *worker;     /* the thread reading the monitor */
    char endpoint[96];    /* inproc endpoint of the monitor */
    char name[32];        /* the socket's name */
    char hub_id[128];     /* the hub's id */
    peer_t peers[PEERS];  /* open connections and their peers */
    unsigned failed;      /* the failure waiting for its connection's close */
    unsigned failed_value;
    bool pending;         /* a failure is waiting */
    int64_t window_at;    /* when the current minute began */
    unsigned logged;      /* lines written in it */
    unsigned suppressed;  /* failures not written in it */
    atomic_bool stop;     /* set by handshake_log_stop */
};

const char *
handshake_log_reason (unsigned event, unsigned value, char *buf, size_t len)
{
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) {
        switch (value) {
        case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
            return "security mechanism mismatch: a plaintext client at a CURVE hub, or a "
                   "CURVE client at a hub run --insecure";
        case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC:
            return "CURVE handshake failed: the client holds a wrong server public key, or "
                   "its handshake bytes were corrupted";
        case ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE:
            return "CURVE key exchange failed";
        default:
            snprintf (buf, len, "ZMTP protocol error 0x%08x from the client", value);
            return buf;
        }
    }
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        snprintf (buf, len, "refused by the key check (ZAP status %u)", value);
        return buf;
    }
    snprintf (buf, len, "the connection broke off during the handshake (%s)",
              strerror ((int) value));
    return buf;
}

static peer_t *
s_peer (handshake_log_t *self, int fd)
{
    for (int i = 0; i < PEERS; i++)
        if (self->peers[i].fd == fd)
            return &self->peers[i];
    return NULL;
}

static void
s_accepted (handshake_log_t *self, int fd)
{
    peer_t *p = s_peer (self, fd);
    if (!p)
        p = s_peer (self, -1);
    if (!p)
        p = &self->peers[(unsigned) fd % PEERS]; /* full: forget one */
    p->fd = fd;
    struct sockaddr_storage sa;
    socklen_t sl = sizeof sa;
    char host[INET6_ADDRSTRLEN] = "";
    if (getpeername (fd, (struct sockaddr *) &sa, &sl) != 0)
        snprintf (p->addr, sizeof p->addr, "unknown (closed before it was read)");
    else if (sa.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *) &sa;
        inet_ntop (AF_INET, &in->sin_addr, host, sizeof host);
        snprintf (p->addr, sizeof p->addr, "%s:%u", host, ntohs (in->sin_port));
    }
    else if (sa.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &sa;
        inet_ntop (AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf (p->addr, sizeof p->addr, "[%s]:%u", host, ntohs (in6->sin6_port));
    }
    else
        snprintf (p->addr, sizeof p->addr, "local (ipc)");
}

/* Ends the rate limit's minute when it is over, saying how many failures
   it did not write one by one. */
static void
s_roll_window (handshake_log_t *self)
{
    int64_t now = clock_mono_ms ();
    if (now - self->window_at < WINDOW_MS)
        return;
    if (self->suppressed)
        log_warn ("more connections failed their handshake; not logged one by one",
                  "hub=%s socket=%s failed=%u window_s=%d", log_q (self->hub_id),
                  self->name, self->suppressed, WINDOW_MS / 1000);
    self->window_at = now;
    self->logged = 0;
    self->suppressed = 0;
}

/* Writes the failure waiting for fd's close, within the rate limit. */
static void
s_report (handshake_log_t *self, const char *addr, const char *listen)
{
    s_roll_window (self);
    if (self->logged >= HANDSHAKE_LOG_BURST) {
        self->suppressed++;
        return;
    }
    self->logged++;
    char buf[160];
    log_warn ("connection refused at handshake", "hub=%s socket=%s listen=%s peer=%s reason=%s",
              log_q (self->hub_id), self->name, log_q (listen), log_q (addr),
              log_q (handshake_log_reason (self->failed, self->failed_value, buf,
                                          sizeof buf)));
}

static void
s_run (void *pipe, void *arg)
{
    handshake_log_t *self = arg;
    while (!atomic_load (&self->stop)) {
        zmq_pollitem_t item = {pipe, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll (&item, 1, 200);
        if (rc < 0 && zmq_errno () == EINTR)
            continue;
        if (rc < 0)
            return;
        if (rc == 0) {
            s_roll_window (self); /* the minute's count, even when all is quiet now */
            continue;
        }
        zmq_msg_t ev, addr;
        zmq_msg_init (&ev);
        zmq_msg_init (&addr);
        if (zmq_msg_recv (&ev, pipe, 0) < 0 || !zmq_msg_more (&ev)
            || zmq_msg_recv (&addr, pipe, 0) < 0 || zmq_msg_size (&ev) < 6) {
            zmq_msg_close (&ev);
            zmq_msg_close (&addr);
            continue;
        }
        const uint8_t *d = zmq_msg_data (&ev);
        uint16_t event;
        uint32_t value;
        memcpy (&event, d, 2);
        memcpy (&value, d + 2, 4);
        char listen[128];
        snprintf (listen, sizeof listen, "%.*s", (int) zmq_msg_size (&addr),
                  (const char *) zmq_msg_data (&addr));
        zmq_msg_close (&ev);
        zmq_msg_close (&addr);
        switch (event) {
        case ZMQ_EVENT_MONITOR_STOPPED: return;
        case ZMQ_EVENT_ACCEPTED: s_accepted (self, (int) value); break;
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
            /* the connection's close follows: it names the peer */
            self->pending = true;
            self->failed = event;
            self->failed_value = value;
            break;
        case ZMQ_EVENT_DISCONNECTED: {
            peer_t *p = s_peer (self, (int) value);
            if (self->pending)
                s_report (self, p ? p->addr : "unknown", listen);
            self->pending = false;
            if (p)
                p->fd = -1;
            break;
        }
        default: break; /* a key the ZAP handler refused is logged by auth.c */
        }
    }
}

handshake_log_t *
handshake_log_start (void *zmq_ctx, void *socket, const char *name, const char *hub_id)
{
    static int serial;
    handshake_log_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    for (int i = 0; i < PEERS; i++)
        self->peers[i].fd = -1;
    snprintf (self->name, sizeof self->name, "%s", name);
    snprintf (self->hub_id, sizeof self->hub_id, "%s", hub_id);
    snprintf (self->endpoint, sizeof self->endpoint, "inproc://onenet-handshakes-%s-%d",
              name, __atomic_fetch_add (&serial, 1, __ATOMIC_RELAXED));
    self->window_at = clock_mono_ms ();
    int events = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_MONITOR_STOPPED
                 | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                 | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL;
    if (zmq_socket_monitor (socket, self->endpoint, events) != 0) {
        log_error ("could not watch handshakes; failed ones will not be logged",
                   "hub=%s socket=%s error=%s", log_q (hub_id), name,
                   log_q (zmq_strerror (zmq_errno ())));
        free (self);
        return NULL;
    }
    self->worker = worker_start (zmq_ctx, self->endpoint, s_run, self);
    if (!self->worker) {
        log_error ("could not start the handshake watcher; failed handshakes will not be "
                   "logged",
                   "hub=%s socket=%s", log_q (hub_id), name);
        zmq_socket_monitor (socket, NULL, 0);
        free (self);
        return NULL;
    }
    return self;
}

void
handshake_log_stop (handshake_log_t **self_p, void *socket)
{
    handshake_log_t *self = *self_p;
    if (!self)
        return;
    /* the thread returns on MONITOR_STOPPED, or at its next look at stop */
    zmq_socket_monitor (socket, NULL, 0);
    atomic_store (&self->stop, true);
    worker_join (&self->worker);
    free (self);
    *self_p = NULL;
}
