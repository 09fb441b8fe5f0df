/*  auth: who may talk to the hub. The hub's sockets are CURVE servers
    (encrypted, and every client proves it holds a secret key); libzmq asks
    a ZAP handler (RFC 27, inproc://zeromq.zap.01) about every new
    connection, and this module is that handler, in its own thread.

    It answers from the authorised-keys file (authorised_keys.h): an
    unknown or retired key is refused and logged with the key and the
    peer's address, as is a key on the wrong socket (adapters speak to the
    "ingest" socket; operators to "control", and read-write operators to
    "ingest" too, for hubctl replay). An accepted connection carries its
    identity as the ZAP User-Id, which every message read from it returns
    (zmq_msg_gets "User-Id"); auth_identity_of() reads it back.

    The file is re-read when it changes (checked every second) and on
    auth_reload(), so adding and retiring keys needs no restart; a
    connection already authenticated stays open until it closes, so a
    retired key is refused from its next connection on. */
#ifndef ONENET_AUTH_H
#define ONENET_AUTH_H

#include <stdbool.h>
#include <zmq.h>

#include "authorised_keys.h"
#include "hub_config.h"
#include "strbuf.h"

#define AUTH_DOMAIN_INGEST  "ingest"
#define AUTH_DOMAIN_CONTROL "control"

typedef struct auth auth_t;

/* Reads config->authorised_keys and starts the ZAP handler on ctx; must
   run before any CURVE socket of ctx binds. NULL (with err) when the file
   cannot be read. */
auth_t *auth_start (void *ctx, const hub_config_t *config, char *err, size_t errlen);

/* Stops the handler and frees it; NULL-safe, nulls *self_p. */
void auth_stop (auth_t **self_p);

/* Re-reads the file now and writes the outcome into reply as JSON
   ({"reloaded":true,"keys":N,"valid":M,"problems":[...]}). Called from
   the thread that started auth. */
void auth_reload (auth_t *self, const char *operator_name, strbuf_t *reply);

/* Makes socket a CURVE server with the hub's key pair, its connections
   authenticated in ZAP domain (AUTH_DOMAIN_*). Returns 0 or -1. */
int auth_server_socket (void *socket, const hub_config_t *config, const char *domain);

/* The identity a connection was authenticated as. */
typedef struct {
    key_role_t role;  /* adapter, read-only or read-write operator */
    char agency[33];  /* adapter: its agency */
    char adapter[65]; /* adapter: its adapter id */
    char name[65];    /* operator: who */
} auth_identity_t;

/* Writes the User-Id of entry into buf. */
void auth_identity_format (const authorised_key_t *entry, char *buf, size_t len);

/* Parses a User-Id. False when it is not one auth wrote. */
bool auth_identity_parse (const char *user_id, auth_identity_t *id);

/* The identity of the connection msg came from; false when there is none
   (a plaintext socket) or it cannot be read. */
bool auth_identity_of (zmq_msg_t *msg, auth_identity_t *id);

#endif
