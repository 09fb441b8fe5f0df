/*  dispatch: tasks read and encoded off the commit path, see dispatch.h. */
#include "dispatch.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "clock.h"
#include "codec.h"
#include "db.h"
#include "log.h"
#include "strbuf.h"
#include "worker.h"

/* Tasks sent per answer at most; the adapter's next heartbeat asks on. */
#define TASKS_PER_ANSWER "200"

/* After a failed connection attempt, requests are answered empty for this
   long before the next attempt (a database that is down is not asked once
   per heartbeat). */
#define RECONNECT_AFTER_MS 1000

struct dispatch {
    worker_t *worker;           /* the thread and its pipe */
    const hub_config_t *config; /* settings, read-only */
};

task_request_t *
task_request_new (const uint8_t *peer, size_t peer_len, const char *adapter_id,
                  const char *agency, uint64_t cursor)
{
    task_request_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    if (peer_len > sizeof self->peer)
        peer_len = sizeof self->peer;
    memcpy (self->peer, peer, peer_len);
    self->peer_len = peer_len;
    self->adapter_id = str_dup (adapter_id ? adapter_id : "");
    self->agency = str_dup (agency ? agency : "");
    self->cursor = cursor;
    return self;
}

void
task_request_free (task_request_t **self_p)
{
    task_request_t *self = *self_p;
    if (!self)
        return;
    free (self->adapter_id);
    free (self->agency);
    free (self->tasks_msg);
    free (self);
    *self_p = NULL;
}

/* Reads the agency's tasks after the request's cursor into it. Returns
   false when the statement failed (the caller checks the connection). */
static bool
answer (PGconn *conn, task_request_t *req)
{
    char cursor[24];
    snprintf (cursor, sizeof cursor, "%llu", (unsigned long long) req->cursor);
    const char *params[2] = {req->agency, cursor};
    PGresult *res = PQexecParams (
        conn,
        "SELECT seq, agency, kind, workflow, step, key_kind, key_value, payload::text, "
        "(extract(epoch FROM ready_at) * 1000)::bigint, "
        "coalesce((extract(epoch FROM due_at) * 1000)::bigint, 0), "
        "withdrawn_at IS NOT NULL, coalesce(withdrawn_reason, '') "
        "FROM public.tasks WHERE agency = $1 AND seq > $2 ORDER BY seq "
        "LIMIT " TASKS_PER_ANSWER,
        2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus (res) != PGRES_TUPLES_OK) {
        log_warn ("tasks not read for an adapter; it will ask again",
                  "adapter=%s agency=%s cursor=%s error=%s", log_q (req->adapter_id),
                  log_q (req->agency), cursor, log_q (PQresultErrorMessage (res)));
        PQclear (res);
        return false;
    }
    int n = PQntuples (res);
    if (n > 0) {
        task_t *tasks = calloc ((size_t) n, sizeof *tasks);
        if (!tasks)
            abort ();
        for (int r = 0; r < n; r++) {
            task_t *t = &tasks[r];
            t->seq = strtoull (PQgetvalue (res, r, 0), NULL, 10);
            t->agency = PQgetvalue (res, r, 1);
            t->kind = PQgetvalue (res, r, 2);
            t->workflow = PQgetvalue (res, r, 3);
            t->step = PQgetvalue (res, r, 4);
            if (!key_kind_parse (PQgetvalue (res, r, 5), &t->key_kind))
                t->key_kind = KEY_NONE;
            t->key_value = PQgetvalue (res, r, 6);
            t->payload_json = PQgetvalue (res, r, 7);
            t->ready_at_ms = atoll (PQgetvalue (res, r, 8));
            t->due_at_ms = atoll (PQgetvalue (res, r, 9));
            t->withdrawn = *PQgetvalue (res, r, 10) == 't';
            t->withdrawn_reason = PQgetvalue (res, r, 11);
        }
        req->tasks_msg = codec_tasks_encode (tasks, (size_t) n, &req->tasks_len);
        free (tasks);
        log_debug ("tasks read for an adapter", "adapter=%s agency=%s cursor=%s tasks=%d",
                   log_q (req->adapter_id), log_q (req->agency), cursor, n);
    }
    PQclear (res);
    return true;
}

static void
dispatch_run (void *pipe, void *arg)
{
    dispatch_t *self = arg;
    const hub_config_t *config = self->config;
    PGconn *conn = NULL;
    int64_t failed_at = 0; /* monotonic ms of the last failed connection attempt */
    while (true) {
        task_request_t *req = NULL;
        int n = zmq_recv (pipe, &req, sizeof req, 0);
        if (n < 0) {
            if (zmq_errno () == EINTR)
                continue;
            break;
        }
        if (n == 0)
            break; /* stop */
        if (n != (int) sizeof req)
            continue;
        if (!conn && (!failed_at || clock_mono_ms () - failed_at >= RECONNECT_AFTER_MS)) {
            conn = db_connect (config, "onenet-hub dispatch");
            failed_at = conn ? 0 : clock_mono_ms ();
        }
        if (conn && !answer (conn, req) && db_lost (conn)) {
            PQfinish (conn);
            conn = NULL;
        }
        /* answered, or empty: ingest sends what there is and frees it */
        zmq_send (pipe, &req, sizeof req, 0);
    }
    if (conn)
        PQfinish (conn);
}

dispatch_t *
dispatch_start (void *zmq_ctx, const hub_config_t *config, const char *pipe_endpoint)
{
    dispatch_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = config;
    self->worker = worker_start (zmq_ctx, pipe_endpoint, dispatch_run, self);
    if (!self->worker) {
        free (self);
        return NULL;
    }
    return self;
}

void
dispatch_join (dispatch_t **self_p)
{
    if (!*self_p)
        return;
    worker_join (&(*self_p)->worker);
    free (*self_p);
    *self_p = NULL;
}
