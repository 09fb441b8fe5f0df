/*  handshake_log: connections that fail their handshake, in the hub's log.

    A plaintext client at a CURVE hub, or a client holding a wrong server
    public key, never gets as far as the ZAP handler (hub/auth.c, which
    logs the keys it refuses): libzmq drops the connection during the ZMTP
    handshake without a word. This module watches a socket's ZMTP events
    (zmq_socket_monitor) from a thread of its own and writes one warning
    per failed handshake, naming the peer's address (read from the accepted
    connection at once) and the reason in words. At most
    HANDSHAKE_LOG_BURST lines a minute per socket; beyond that, one line
    a minute says how many more failed. */
#ifndef ONENET_HANDSHAKE_LOG_H
#define ONENET_HANDSHAKE_LOG_H

#include <stddef.h>

#define HANDSHAKE_LOG_BURST 20

typedef struct handshake_log handshake_log_t;

/* Starts watching socket (before it binds, so that every connection is
   seen), whose name ("ingest", "control") and hub id go in each line.
   NULL, with a logged error, when the monitor cannot start; the hub then
   runs without it. */
handshake_log_t *handshake_log_start (void *zmq_ctx, void *socket, const char *name,
                                      const char *hub_id);

/* Stops watching (call from the socket's own thread, before closing it),
   joins the thread and frees. */
void handshake_log_stop (handshake_log_t **self_p, void *socket);

/* The reason in words for a ZMTP handshake failure event and its value
   (exposed for tests). */
const char *handshake_log_reason (unsigned event, unsigned value, char *buf, size_t len);

#endif
