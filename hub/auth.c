/*  auth: the hub's ZAP handler, see auth.h. */
#include "auth.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clock.h"
#include "log.h"

#define ZAP_ENDPOINT   "inproc://zeromq.zap.01"
#define AUTH_PIPE      "inproc://onenet-auth"
#define WATCH_MS       1000 /* how often the file's mtime is looked at */
#define MAX_ZAP_FRAMES 8

struct auth {
    char path[512];         /* the authorised-keys file */
    void *zap;              /* REP bound at ZAP_ENDPOINT (the thread's) */
    void *pipe;             /* PAIR: the caller's end */
    void *thread_pipe;      /* PAIR: the thread's end */
    pthread_t thread;       /* the handler */
    authorised_keys_t keys; /* the file as last read (the thread's) */
    struct stat seen;       /* the file's stat when last read */
    bool seen_ok;           /* seen is valid */
};

void
auth_identity_format (const authorised_key_t *entry, char *buf, size_t len)
{
    if (entry->role == KEY_ADAPTER)
        snprintf (buf, len, "adapter %s %s", entry->agency, entry->adapter);
    else
        snprintf (buf, len, "%s %s", authorised_key_role_name (entry->role), entry->name);
}

bool
auth_identity_parse (const char *user_id, auth_identity_t *id)
{
    memset (id, 0, sizeof *id);
    char role[16];
    if (sscanf (user_id, "adapter %32s %64s", id->agency, id->adapter) == 2) {
        id->role = KEY_ADAPTER;
        return true;
    }
    if (sscanf (user_id, "%15s %64s", role, id->name) == 2
        && authorised_key_role_parse (role, &id->role) && id->role != KEY_ADAPTER)
        return true;
    memset (id, 0, sizeof *id);
    return false;
}

bool
auth_identity_of (zmq_msg_t *msg, auth_identity_t *id)
{
    const char *user_id = zmq_msg_gets (msg, "User-Id");
    return user_id && auth_identity_parse (user_id, id);
}

int
auth_server_socket (void *socket, const hub_config_t *config, const char *domain)
{
    int one = 1;
    if (zmq_setsockopt (socket, ZMQ_CURVE_SERVER, &one, sizeof one) != 0
        || zmq_setsockopt (socket, ZMQ_CURVE_SECRETKEY, config->keypair.secret_key,
                           CURVE_KEY_Z85_LEN)
               != 0
        || zmq_setsockopt (socket, ZMQ_ZAP_DOMAIN, domain, strlen (domain)) != 0) {
        log_error ("could not make a CURVE server socket", "socket=%s error=%s",
                   log_q (domain), log_q (zmq_strerror (errno)));
        return -1;
    }
    return 0;
}

/* Reads the file; logs what changed. Writes a JSON outcome into reply
   when reply is not NULL. */
static void
load (auth_t *self, const char *why, strbuf_t *reply)
{
    strbuf_t problems;
    strbuf_init (&problems);
    authorised_keys_t fresh = {0};
    int skipped = authorised_keys_load (&fresh, self->path, &problems);
    if (stat (self->path, &self->seen) == 0)
        self->seen_ok = true;
    if (skipped < 0) {
        /* keep the keys last read: a file being replaced by hand must not
           lock everyone out */
        log_error ("could not read the authorised keys; keeping the keys read before",
                   "file=%s why=%s error=%s keys=%zu", log_q (self->path), log_q (why),
                   log_q (problems.len ? problems.data : ""), self->keys.n);
        authorised_keys_free (&fresh);
    }
    else {
        for (char *line = problems.data, *nl; line && *line; line = nl + 1) {
            nl = strchr (line, '\n');
            *nl = '\0';
            log_error ("authorised keys: line skipped", "problem=%s", log_q (line));
        }
        authorised_keys_free (&self->keys);
        self->keys = fresh;
        log_info ("authorised keys loaded", "file=%s why=%s keys=%zu valid=%zu skipped=%d",
                  log_q (self->path), log_q (why), self->keys.n,
                  authorised_keys_valid (&self->keys), skipped);
    }
    if (reply) {
        strbuf_reset (reply);
        if (skipped < 0) {
            strbuf_puts (reply, "{\"reloaded\":false,\"error\":");
            while (problems.len && problems.data[problems.len - 1] == '\n')
                problems.data[--problems.len] = '\0';
            strbuf_json_string (reply, problems.data);
            strbuf_printf (reply, ",\"keys\":%zu,\"valid\":%zu}", self->keys.n,
                           authorised_keys_valid (&self->keys));
        }
        else {
            strbuf_printf (reply, "{\"reloaded\":true,\"file\":");
            strbuf_json_string (reply, self->path);
            strbuf_printf (reply, ",\"keys\":%zu,\"valid\":%zu,\"problems\":[",
                           self->keys.n, authorised_keys_valid (&self->keys));
            /* problems is now NUL-separated lines */
            size_t at = 0;
            for (int i = 0; at < problems.len; i++) {
                if (i)
                    strbuf_putc (reply, ',');
                strbuf_json_string (reply, problems.data + at);
                at += strlen (problems.data + at) + 1;
            }
            strbuf_puts (reply, "]}");
        }
    }
    strbuf_free (&problems);
}

/* True when the file differs from what was last read. */
static bool
file_changed (auth_t *self)
{
    struct stat st;
    if (stat (self->path, &st) != 0)
        return false; /* missing for a moment (an editor's rename): keep the keys */
    return !self->seen_ok || st.st_ino != self->seen.st_ino
           || st.st_size != self->seen.st_size
           || st.st_mtim.tv_sec != self->seen.st_mtim.tv_sec
           || st.st_mtim.tv_nsec != self->seen.st_mtim.tv_nsec;
}

/* Why a connection from key may not use the socket of domain, or NULL. */
static const char *
refusal (const authorised_key_t *e, const char *domain)
{
    if (!e)
        return "unknown key";
    if (*e->retired)
        return "key retired";
    if (!strcmp (domain, AUTH_DOMAIN_INGEST))
        return e->role == KEY_READ_ONLY ? "a read-only operator key may not send events"
                                        : NULL;
    if (!strcmp (domain, AUTH_DOMAIN_CONTROL))
        return e->role == KEY_ADAPTER ? "an adapter key may not use the control socket"
                                      : NULL;
    return "unknown socket";
}

static void
send_frame (void *sock, const void *data, size_t len, bool more)
{
    zmq_send (sock, data, len, more ? ZMQ_SNDMORE : 0);
}

/* Answers one ZAP request (RFC 27). */
static void
handle_zap (auth_t *self)
{
    zmq_msg_t frames[MAX_ZAP_FRAMES];
    int n = 0;
    bool more = true;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init (&m);
        if (zmq_msg_recv (&m, self->zap, 0) < 0) {
            zmq_msg_close (&m);
            break;
        }
        more = zmq_msg_more (&m);
        if (n < MAX_ZAP_FRAMES)
            frames[n++] = m;
        else
            zmq_msg_close (&m);
    }
    if (n < 6) {
        /* libzmq always sends at least 6 frames; still answer (a REP socket
           must), refusing */
        log_error ("malformed ZAP request refused", "frames=%d", n);
        send_frame (self->zap, "1.0", 3, true);
        if (n >= 2)
            send_frame (self->zap, zmq_msg_data (&frames[1]), zmq_msg_size (&frames[1]),
                        true);
        else
            send_frame (self->zap, "", 0, true);
        send_frame (self->zap, "500", 3, true);
        send_frame (self->zap, "malformed ZAP request", 21, true);
        send_frame (self->zap, "", 0, true);
        send_frame (self->zap, "", 0, false);
        for (int i = 0; i < n; i++)
            zmq_msg_close (&frames[i]);
        return;
    }
    char domain[64] = "", address[64] = "", mechanism[16] = "";
    snprintf (domain, sizeof domain, "%.*s", (int) zmq_msg_size (&frames[2]),
              (char *) zmq_msg_data (&frames[2]));
    snprintf (address, sizeof address, "%.*s", (int) zmq_msg_size (&frames[3]),
              (char *) zmq_msg_data (&frames[3]));
    snprintf (mechanism, sizeof mechanism, "%.*s", (int) zmq_msg_size (&frames[5]),
              (char *) zmq_msg_data (&frames[5]));
    const char *why = NULL;
    char key[CURVE_KEY_Z85_LEN + 1] = "";
    char user_id[200] = "";
    if (strcmp (mechanism, "CURVE") != 0 || n < 7 || zmq_msg_size (&frames[6]) != 32)
        why = "not a CURVE connection";
    else {
        zmq_z85_encode (key, zmq_msg_data (&frames[6]), 32);
        const authorised_key_t *e = authorised_keys_find (&self->keys, key);
        why = refusal (e, domain);
        if (!why) {
            auth_identity_format (e, user_id, sizeof user_id);
            log_info ("connection authorised", "socket=%s peer=%s key=%s identity=%s",
                      log_q (domain), log_q (address), log_q (key), log_q (user_id));
        }
        else if (e && *e->retired)
            log_warn ("connection refused",
                      "socket=%s peer=%s key=%s reason=%s "
                      "retired=%s",
                      log_q (domain), log_q (address), log_q (key), log_q (why),
                      log_q (e->retired));
        else
            log_warn ("connection refused", "socket=%s peer=%s key=%s reason=%s",
                      log_q (domain), log_q (address), log_q (key), log_q (why));
    }
    if (why && !*key)
        log_warn ("connection refused", "socket=%s peer=%s mechanism=%s reason=%s",
                  log_q (domain), log_q (address), log_q (mechanism), log_q (why));
    send_frame (self->zap, "1.0", 3, true);
    send_frame (self->zap, zmq_msg_data (&frames[1]), zmq_msg_size (&frames[1]), true);
    send_frame (self->zap, why ? "400" : "200", 3, true);
    send_frame (self->zap, why ? why : "OK", strlen (why ? why : "OK"), true);
    send_frame (self->zap, user_id, strlen (user_id), true);
    send_frame (self->zap, "", 0, false);
    for (int i = 0; i < n; i++)
        zmq_msg_close (&frames[i]);
}

static void *
run (void *arg)
{
    auth_t *self = arg;
    int64_t next_watch = clock_mono_ms () + WATCH_MS;
    strbuf_t reply;
    strbuf_init (&reply);
    while (true) {
        zmq_pollitem_t items[2] = {{self->zap, 0, ZMQ_POLLIN, 0},
                                   {self->thread_pipe, 0, ZMQ_POLLIN, 0}};
        long timeout = (long) (next_watch - clock_mono_ms ());
        int rc = zmq_poll (items, 2, timeout > 0 ? timeout : 0);
        if (rc < 0 && zmq_errno () != EINTR)
            break;
        if (rc > 0 && (items[0].revents & ZMQ_POLLIN))
            handle_zap (self);
        if (rc > 0 && (items[1].revents & ZMQ_POLLIN)) {
            char cmd[100];
            int len = zmq_recv (self->thread_pipe, cmd, sizeof cmd - 1, 0);
            if (len <= 0)
                break; /* "": stop */
            cmd[len < (int) sizeof cmd ? len : (int) sizeof cmd - 1] = '\0';
            char why[160];
            snprintf (why, sizeof why, "reload-keys(operator=%.100s)", cmd + 1);
            load (self, why, &reply);
            zmq_send (self->thread_pipe, reply.data, reply.len, 0);
        }
        if (clock_mono_ms () >= next_watch) {
            if (file_changed (self))
                load (self, "file-changed", NULL);
            next_watch = clock_mono_ms () + WATCH_MS;
        }
    }
    strbuf_free (&reply);
    return NULL;
}

auth_t *
auth_start (void *ctx, const hub_config_t *config, char *err, size_t errlen)
{
    auth_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    snprintf (self->path, sizeof self->path, "%s", config->authorised_keys);
    strbuf_t problems;
    strbuf_init (&problems);
    if (authorised_keys_load (&self->keys, self->path, &problems) < 0) {
        snprintf (err, errlen, "%s", problems.data);
        if (strlen (err) && err[strlen (err) - 1] == '\n')
            err[strlen (err) - 1] = '\0';
        strbuf_free (&problems);
        authorised_keys_free (&self->keys);
        free (self);
        return NULL;
    }
    for (char *line = problems.data, *nl; line && *line; line = nl + 1) {
        nl = strchr (line, '\n');
        *nl = '\0';
        log_error ("authorised keys: line skipped", "problem=%s", log_q (line));
    }
    strbuf_free (&problems);
    if (stat (self->path, &self->seen) == 0)
        self->seen_ok = true;
    log_info ("authorised keys loaded", "file=%s why=start keys=%zu valid=%zu",
              log_q (self->path), self->keys.n, authorised_keys_valid (&self->keys));
    int linger = 0;
    self->zap = zmq_socket (ctx, ZMQ_REP);
    self->pipe = zmq_socket (ctx, ZMQ_PAIR);
    self->thread_pipe = zmq_socket (ctx, ZMQ_PAIR);
    zmq_setsockopt (self->zap, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind (self->zap, ZAP_ENDPOINT) != 0 || zmq_bind (self->pipe, AUTH_PIPE) != 0
        || zmq_connect (self->thread_pipe, AUTH_PIPE) != 0) {
        snprintf (err, errlen, "cannot open the ZAP handler (%s): %s", ZAP_ENDPOINT,
                  zmq_strerror (errno));
        goto fail;
    }
    if (pthread_create (&self->thread, NULL, run, self) != 0) {
        snprintf (err, errlen, "cannot start the ZAP handler thread");
        goto fail;
    }
    return self;
fail:
    zmq_close (self->zap);
    zmq_close (self->pipe);
    zmq_close (self->thread_pipe);
    authorised_keys_free (&self->keys);
    free (self);
    return NULL;
}

void
auth_reload (auth_t *self, const char *operator_name, strbuf_t *reply)
{
    char cmd[80];
    int len = snprintf (cmd, sizeof cmd, "R%.64s", operator_name);
    zmq_send (self->pipe, cmd, (size_t) len, 0);
    zmq_msg_t m;
    zmq_msg_init (&m);
    strbuf_reset (reply);
    if (zmq_msg_recv (&m, self->pipe, 0) >= 0)
        strbuf_append (reply, zmq_msg_data (&m), zmq_msg_size (&m));
    else
        strbuf_puts (reply, "{\"error\":\"the key handler did not answer\"}");
    zmq_msg_close (&m);
}

void
auth_stop (auth_t **self_p)
{
    auth_t *self = *self_p;
    if (!self)
        return;
    zmq_send (self->pipe, "", 0, 0);
    pthread_join (self->thread, NULL);
    zmq_close (self->zap);
    zmq_close (self->pipe);
    zmq_close (self->thread_pipe);
    authorised_keys_free (&self->keys);
    free (self);
    *self_p = NULL;
}
