/*  curve_key: key pair files and the plaintext rules, see curve_key.h. */
#include "curve_key.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <libgen.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

bool
curve_key_valid (const char *text)
{
    if (!text || strlen (text) != CURVE_KEY_Z85_LEN)
        return false;
    uint8_t bin[32];
    return zmq_z85_decode (bin, text) != NULL;
}

typedef struct {
    curve_keypair_t *pair; /* being filled */
    const char *path;      /* for messages */
    char *err;             /* first problem found */
    size_t errlen;
} read_ctx_t;

static int
on_key_entry (void *user, const char *section, const char *name, const char *value)
{
    read_ctx_t *ctx = user;
    (void) section;
    char *target = !strcmp (name, "public-key")   ? ctx->pair->public_key
                   : !strcmp (name, "secret-key") ? ctx->pair->secret_key
                                                  : NULL;
    if (*ctx->err)
        return 1;
    if (!target)
        snprintf (ctx->err, ctx->errlen,
                  "%s: unknown entry \"%s\" (a key file holds public-key and secret-key)",
                  ctx->path, name);
    else if (!curve_key_valid (value))
        snprintf (ctx->err, ctx->errlen,
                  "%s: %s is not a CURVE key (40 characters of Z85 expected)", ctx->path,
                  name);
    else
        strcpy (target, value);
    return 1;
}

int
curve_keyfile_read (const char *path, curve_keypair_t *pair, char *err, size_t errlen)
{
    memset (pair, 0, sizeof *pair);
    *err = '\0';
    struct stat st;
    if (!path || !*path) {
        snprintf (err, errlen, "no secret key file given");
        return -1;
    }
    if (stat (path, &st) != 0) {
        snprintf (err, errlen, "secret key file %s: %s", path, strerror (errno));
        return -1;
    }
    if (st.st_mode & (S_IRWXG | S_IRWXO)) {
        snprintf (err, errlen,
                  "secret key file %s has mode %04o: group or others may read it; "
                  "make it private to its owner (chmod 600 %s)",
                  path, (unsigned) (st.st_mode & 07777), path);
        return -1;
    }
    read_ctx_t ctx = {pair, path, err, errlen};
    int line = ini_parse (path, on_key_entry, &ctx);
    if (line < 0) {
        snprintf (err, errlen, "secret key file %s: cannot be read", path);
        return -1;
    }
    if (line > 0 && !*err)
        snprintf (err, errlen, "%s:%d: syntax error (expected \"name = value\")", path,
                  line);
    if (*err)
        return -1;
    if (!*pair->secret_key) {
        snprintf (err, errlen, "%s: no secret-key entry", path);
        return -1;
    }
    char derived[CURVE_KEY_Z85_LEN + 1];
    if (zmq_curve_public (derived, pair->secret_key) != 0) {
        snprintf (err, errlen, "%s: this libzmq cannot derive CURVE keys", path);
        return -1;
    }
    if (*pair->public_key && strcmp (derived, pair->public_key) != 0) {
        snprintf (err, errlen,
                  "%s: public-key %s does not belong to the secret key (that would be %s)",
                  path, pair->public_key, derived);
        return -1;
    }
    strcpy (pair->public_key, derived);
    return 0;
}

int
curve_keyfile_write (const char *path, const curve_keypair_t *pair, char *err,
                     size_t errlen)
{
    if (access (path, F_OK) == 0) {
        snprintf (err, errlen,
                  "%s exists; a key file is never overwritten (retire the old "
                  "key, then remove the file yourself)",
                  path);
        return -1;
    }
    char tmp[4096];
    if (snprintf (tmp, sizeof tmp, "%s.tmp-%d", path, (int) getpid ())
        >= (int) sizeof tmp) {
        snprintf (err, errlen, "key file path too long: %s", path);
        return -1;
    }
    int fd = open (tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        snprintf (err, errlen, "cannot create %s: %s", tmp, strerror (errno));
        return -1;
    }
    fchmod (fd, 0600); /* whatever the umask */
    char text[256];
    int n = snprintf (text, sizeof text,
                      "# onenet CURVE key pair: keep this file private (mode 0600)\n"
                      "public-key = %s\nsecret-key = %s\n",
                      pair->public_key, pair->secret_key);
    bool ok = write (fd, text, (size_t) n) == n && fsync (fd) == 0;
    int saved = errno;
    ok = close (fd) == 0 && ok;
    if (ok && link (tmp, path) != 0) {
        /* link, not rename: it fails rather than replace a file made meanwhile */
        saved = errno;
        ok = false;
    }
    unlink (tmp);
    if (!ok) {
        snprintf (err, errlen, "cannot write %s: %s", path, strerror (saved));
        return -1;
    }
    char dir[4096];
    snprintf (dir, sizeof dir, "%s", path);
    int dfd = open (dirname (dir), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync (dfd);
        close (dfd);
    }
    return 0;
}

int
curve_keypair_new (curve_keypair_t *pair)
{
    memset (pair, 0, sizeof *pair);
    return zmq_curve_keypair (pair->public_key, pair->secret_key) == 0 ? 0 : -1;
}

bool
curve_endpoint_local (const char *endpoint)
{
    if (!strncmp (endpoint, "inproc://", 9) || !strncmp (endpoint, "ipc://", 6))
        return true;
    if (strncmp (endpoint, "tcp://", 6) != 0)
        return false; /* pgm, udp, ws ...: never local */
    const char *host = endpoint + 6;
    /* "tcp://source;host:port": the host connected to is after the ';' */
    const char *semi = strchr (host, ';');
    if (semi)
        host = semi + 1;
    if (!strncmp (host, "localhost:", 10) || !strncmp (host, "[::1]:", 6))
        return true;
    if (strncmp (host, "127.", 4) != 0)
        return false;
    int a, b, c, d;
    char colon;
    return sscanf (host, "%d.%d.%d.%d%c", &a, &b, &c, &d, &colon) == 5 && colon == ':'
           && a == 127 && b >= 0 && b < 256 && c >= 0 && c < 256 && d >= 0 && d < 256;
}

const char *
curve_first_remote (const char *endpoints, char *buf, size_t len)
{
    char *copy = strdup (endpoints), *save = NULL;
    if (!copy)
        abort ();
    const char *found = NULL;
    for (char *ep = strtok_r (copy, ", ", &save); ep && !found;
         ep = strtok_r (NULL, ", ", &save))
        if (!curve_endpoint_local (ep)) {
            snprintf (buf, len, "%s", ep);
            found = buf;
        }
    free (copy);
    return found;
}

int
curve_client_setup (void *socket, const char *server_key, const char *secret_key_path,
                    char *err, size_t errlen)
{
    curve_keypair_t pair;
    if (!curve_key_valid (server_key)) {
        snprintf (err, errlen,
                  "the hub's public key \"%s\" is not a CURVE key (40 characters of Z85)",
                  server_key);
        return -1;
    }
    if (curve_keyfile_read (secret_key_path, &pair, err, errlen) != 0)
        return -1;
    if (zmq_setsockopt (socket, ZMQ_CURVE_SERVERKEY, server_key, CURVE_KEY_Z85_LEN) != 0
        || zmq_setsockopt (socket, ZMQ_CURVE_PUBLICKEY, pair.public_key, CURVE_KEY_Z85_LEN)
               != 0
        || zmq_setsockopt (socket, ZMQ_CURVE_SECRETKEY, pair.secret_key, CURVE_KEY_Z85_LEN)
               != 0) {
        snprintf (err, errlen, "cannot set CURVE keys from %s: %s", secret_key_path,
                  zmq_strerror (errno));
        memset (&pair, 0, sizeof pair);
        return -1;
    }
    memset (&pair, 0, sizeof pair);
    return 0;
}

int
curve_client_check (const char *endpoints, const char *server_key,
                    const char *secret_key_path, bool insecure, char *err, size_t errlen)
{
    bool have_server = server_key && *server_key;
    bool have_secret = secret_key_path && *secret_key_path;
    if (have_server != have_secret) {
        snprintf (err, errlen, "%s is set but %s is not: CURVE needs both",
                  have_server ? "hub-public-key" : "secret-key",
                  have_server ? "secret-key" : "hub-public-key");
        return -1;
    }
    if (have_server && !curve_key_valid (server_key)) {
        snprintf (err, errlen,
                  "hub-public-key \"%s\" is not a CURVE key (40 characters of Z85)",
                  server_key);
        return -1;
    }
    char remote[512];
    if (!have_server && !insecure
        && curve_first_remote (endpoints, remote, sizeof remote)) {
        snprintf (err, errlen,
                  "refusing plaintext to %s, which is not a loopback endpoint: set "
                  "hub-public-key and secret-key (docs/security.md), or insecure to "
                  "accept an unencrypted, unauthenticated link",
                  remote);
        return -1;
    }
    return 0;
}
