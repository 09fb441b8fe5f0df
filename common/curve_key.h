/*  curve_key: CURVE key pairs on disk, and the rules every onenet program
    applies before it talks ZeroMQ in the clear or encrypted.

    A key pair lives in a secret-key file, INI style (read with inih):
        # onenet CURVE key pair
        public-key = <40 characters of Z85>
        secret-key = <40 characters of Z85>
    The file must be private to its owner: one that group or others may
    read (or write) is refused, naming the file and its mode. Files are
    written atomically (temporary file, fsync, rename) with mode 0600.

    Plaintext is only for loopback: curve_endpoint_local() says whether an
    endpoint can only be reached from this machine (tcp on 127.0.0.0/8,
    localhost or ::1, ipc, inproc). See docs/security.md. */
#ifndef ONENET_CURVE_KEY_H
#define ONENET_CURVE_KEY_H

#include <stdbool.h>
#include <stddef.h>

#define CURVE_KEY_Z85_LEN 40 /* characters of a Z85-encoded 32-byte key */

/* A key pair as Z85 text. */
typedef struct {
    char public_key[CURVE_KEY_Z85_LEN + 1]; /* shared with the other side */
    char secret_key[CURVE_KEY_Z85_LEN + 1]; /* never leaves its file */
} curve_keypair_t;

/* True when text is exactly one Z85-encoded 32-byte key. */
bool curve_key_valid (const char *text);

/* Reads a secret-key file. Returns 0, or -1 with err naming the file and
   the problem (missing, mode not private, a bad line, a public key that is
   not the secret key's). */
int curve_keyfile_read (const char *path, curve_keypair_t *pair, char *err, size_t errlen);

/* Writes a new key pair file with mode 0600, atomically; refuses to replace
   an existing file. Returns 0, or -1 with err. */
int curve_keyfile_write (const char *path, const curve_keypair_t *pair, char *err,
                         size_t errlen);

/* Generates a new key pair. Returns 0, or -1 when libzmq lacks CURVE. */
int curve_keypair_new (curve_keypair_t *pair);

/* True when endpoint can only be reached from this host. */
bool curve_endpoint_local (const char *endpoint);

/* The first endpoint of a comma-separated list that is not local, copied
   into buf; NULL when all are local. */
const char *curve_first_remote (const char *endpoints, char *buf, size_t len);

/* Makes socket a CURVE client of the server with public key server_key
   (Z85), authenticating with the key pair in secret_key_path. Returns 0,
   or -1 with err. */
int curve_client_setup (void *socket, const char *server_key, const char *secret_key_path,
                        char *err, size_t errlen);

/* Checks the client-side settings shared by adapters and hubctl: either
   both server_key and secret_key_path are given (CURVE), or neither, and
   then every endpoint must be local unless insecure. Returns 0, or -1
   with err. */
int curve_client_check (const char *endpoints, const char *server_key,
                        const char *secret_key_path, bool insecure, char *err,
                        size_t errlen);

#endif
