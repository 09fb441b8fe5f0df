/*  hub: the hub's threads, started and stopped in one place, see hub.h. */
#include "hub.h"

#include <errno.h>
#include <stdbool.h>
#include <zmq.h>

#include "auth.h"
#include "correlate.h"
#include "dispatch.h"
#include "handshake_log.h"
#include "http.h"
#include "ingest.h"
#include "log.h"
#include "store.h"
#include "strbuf.h"
#include "supervise.h"
#include "vocabulary.h"

#define STORE_PIPE     "inproc://onenet-store"
#define CORRELATE_PIPE "inproc://onenet-correlate"
#define SUPERVISE_PIPE "inproc://onenet-supervise"
#define DISPATCH_PIPE  "inproc://onenet-dispatch"

/* A PAIR socket bound to endpoint, for a thread to connect to; NULL,
   logged, when it cannot bind. */
static void *
bound_pipe (void *ctx, const char *endpoint, const char *hub_id)
{
    void *pipe = zmq_socket (ctx, ZMQ_PAIR);
    if (pipe && zmq_bind (pipe, endpoint) == 0)
        return pipe;
    log_error ("could not bind a pipe to a hub thread", "hub=%s pipe=%s error=%s",
               log_q (hub_id), log_q (endpoint), log_q (zmq_strerror (errno)));
    if (pipe)
        zmq_close (pipe);
    return NULL;
}

/* Opens the control socket for hubctl; NULL, logged, when it cannot. */
static void *
open_control (void *ctx, const hub_config_t *config, auth_t *auth,
              handshake_log_t **handshakes)
{
    int linger = 1000;
    void *control = zmq_socket (ctx, ZMQ_REP);
    zmq_setsockopt (control, ZMQ_LINGER, &linger, sizeof linger);
    *handshakes = handshake_log_start (ctx, control, "control", config->hub_id);
    if ((auth && auth_server_socket (control, config, AUTH_DOMAIN_CONTROL) != 0)
        || zmq_bind (control, config->control) != 0) {
        log_error ("could not open the control socket", "hub=%s endpoint=%s error=%s",
                   log_q (config->hub_id), log_q (config->control),
                   log_q (zmq_strerror (errno)));
        handshake_log_stop (handshakes, control);
        zmq_close (control);
        return NULL;
    }
    log_info ("control socket open", "hub=%s endpoint=%s", log_q (config->hub_id),
              log_q (config->control));
    return control;
}

int
hub_run (const hub_config_t *config, const workflow_set_t *set,
         volatile sig_atomic_t *terminated)
{
    const char *hub_id = config->hub_id;
    void *ctx = zmq_ctx_new ();
    auth_t *auth = NULL;
    ingest_t *ingest = NULL;
    store_t *store = NULL;
    correlate_t *correlator = NULL;
    supervise_t *supervisor = NULL;
    dispatch_t *dispatcher = NULL;
    http_t *http = NULL;
    void *control = NULL;
    handshake_log_t *control_handshakes = NULL;
    strbuf_t vocabulary;
    strbuf_init (&vocabulary);
    bool failed = false; /* something asked for did not start */
    int rc = -1;

    void *store_pipe = bound_pipe (ctx, STORE_PIPE, hub_id);
    void *correlate_pipe = bound_pipe (ctx, CORRELATE_PIPE, hub_id);
    void *supervise_pipe = bound_pipe (ctx, SUPERVISE_PIPE, hub_id);
    void *dispatch_pipe = bound_pipe (ctx, DISPATCH_PIPE, hub_id);
    if (!store_pipe || !correlate_pipe || !supervise_pipe || !dispatch_pipe)
        goto stop;
    /* the ZAP handler must be up before a CURVE socket binds: without one,
       libzmq would let any key in */
    if (!config->insecure) {
        char err[1024];
        auth = auth_start (ctx, config, err, sizeof err);
        if (!auth) {
            log_error ("refusing to start: no authorised keys", "hub=%s error=%s",
                       log_q (hub_id), log_q (err));
            goto stop;
        }
    }
    ingest = ingest_new (ctx, config, set, auth);
    if (!ingest)
        goto stop;
    store = store_start (ctx, config, STORE_PIPE);
    if (!store) {
        log_error ("could not start the store thread", "hub=%s", log_q (hub_id));
        goto stop;
    }
    /* without correlation, supervision or dispatch, deadlines and tasks
       would go unwatched: do not take events */
    correlator = correlate_start (ctx, config, set, CORRELATE_PIPE);
    supervisor = supervise_start (ctx, config, SUPERVISE_PIPE);
    dispatcher = dispatch_start (ctx, config, DISPATCH_PIPE);
    if (!correlator || !supervisor || !dispatcher) {
        log_error ("could not start a thread of the hub",
                   "hub=%s correlation=%s supervision=%s dispatch=%s", log_q (hub_id),
                   correlator ? "started" : "failed", supervisor ? "started" : "failed",
                   dispatcher ? "started" : "failed");
        failed = true;
    }
    log_info ("hub listening", "hub=%s endpoint=%s workflows=%zu security=%s",
              log_q (hub_id), log_q (ingest_endpoint (ingest)), workflow_set_count (set),
              log_q (auth ? "curve" : "NONE (insecure)"));
    /* an operator asked for these: do not run without them */
    if (!failed && *config->control) {
        control = open_control (ctx, config, auth, &control_handshakes);
        failed = !control;
        /* the definitions and settings never change while the hub runs */
        if (control)
            vocabulary_json (config, set, &vocabulary);
    }
    if (!failed && *config->http) {
        char err[1024];
        http = http_start (config, set, store, err, sizeof err);
        if (!http) {
            log_error ("could not open the HTTP endpoint", "hub=%s address=%s error=%s",
                       log_q (hub_id), log_q (config->http), log_q (err));
            failed = true;
        }
        else
            log_info ("HTTP endpoint open", "hub=%s address=%s token=%s", log_q (hub_id),
                      log_q (config->http),
                      log_q (*config->http_token_file ? "required" : "none (loopback)"));
    }
    ingest_links_t links = {store_pipe,
                            correlator ? correlate_pipe : NULL,
                            dispatcher ? dispatch_pipe : NULL,
                            control,
                            http,
                            control ? vocabulary.data : NULL};
    ingest_attach (ingest, &links);
    if (failed)
        *terminated = 1; /* serve nothing; drain what there is (nothing) */
    rc = ingest_serve (ingest, terminated);
    if (control) {
        handshake_log_stop (&control_handshakes, control);
        zmq_close (control);
    }
    http_stop (&http); /* before the store it asks goes */

stop:
    /* a word to stop, only to a thread that runs (a PAIR with no peer
       would wait for one forever); after a drain timeout the database may
       be hanging: do not wait for the threads that use it */
    if (correlator)
        zmq_send (correlate_pipe, "", 0, 0);
    if (supervisor)
        zmq_send (supervise_pipe, "", 0, 0);
    if (dispatcher)
        zmq_send (dispatch_pipe, "", 0, 0);
    bool hanging = rc != 0 && ingest;
    if (!hanging) {
        correlate_join (&correlator);
        supervise_join (&supervisor);
    }
    if (!(ingest && ingest_tasks_pending (ingest)))
        dispatch_join (&dispatcher);
    bool store_stuck = store && ingest && ingest_committing (ingest);
    if (store && !store_stuck) {
        zmq_send (store_pipe, "", 0, 0);
        store_join (&store);
    }
    strbuf_free (&vocabulary);
    if (store_stuck || correlator || supervisor || dispatcher) {
        /* a thread is stuck in PostgreSQL: leave it all, exit anyway */
        log_warn ("a hub thread did not stop; exiting without it", "hub=%s", log_q (hub_id));
        return -1;
    }
    ingest_destroy (&ingest);
    void *pipes[] = {store_pipe, correlate_pipe, supervise_pipe, dispatch_pipe};
    for (size_t i = 0; i < sizeof pipes / sizeof *pipes; i++)
        if (pipes[i])
            zmq_close (pipes[i]);
    auth_stop (&auth); /* only now that no CURVE socket is open */
    zmq_ctx_term (ctx);
    return failed ? -1 : rc;
}
