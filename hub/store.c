/*  store: batched, idempotent PostgreSQL writes, see store.h.

    Each batch is one transaction. Usually:
        COPY events FROM STDIN                   -- the batch's accepted events
        COPY correlation_queue FROM STDIN        -- their ids
    and when some id is already stored (a redelivery, or another hub racing
    for the same id: the COPY hits the unique index), the batch is staged
    instead:
        COPY ingest_stage FROM STDIN             -- the batch's accepted events
        INSERT INTO events SELECT ... FROM ingest_stage
            ON CONFLICT (event_id) DO NOTHING RETURNING event_id
            (and the same ids into correlation_queue)
        INSERT INTO dead_letters ...             -- what validation refused
        INSERT INTO adapters ... ON CONFLICT     -- heartbeats
        COMMIT
    The RETURNING list tells which event ids were new (STORED); the rest of
    the batch's rows were already there (DUPLICATE). The temporary staging
    table lets COPY, PostgreSQL's fastest load path, feed an idempotent
    insert. If the fast path fails on the data itself (not the connection),
    the batch is retried row by row under savepoints so that one bad row is
    refused alone and the good rows around it commit. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include <libpq-fe.h>

#include "clock.h"
#include "db.h"
#include "id_index.h"
#include "log.h"
#include "worker.h"
#include "migrate.h"

struct store {
    worker_t *worker;           /* the thread and its pipe */
    const hub_config_t *config; /* settings, read-only */
};

#define EVENT_COLUMNS                                                                      \
    "event_id, agency, adapter_id, case_no, event_type, occurred_at, "                     \
    "accepted_at, received_at, schema_version, keys, attrs, hub_id"

/* Connects, migrates and prepares the session. NULL when unavailable. */
static PGconn *
open_session (const hub_config_t *config)
{
    PGconn *conn = db_connect (config, "onenet-hub store");
    if (!conn)
        return NULL;
    char err[1024];
    if (migrate_apply (conn, err, sizeof err) < 0) {
        log_error ("schema migration failed", "hub=%s error=\"%s\"", config->hub_id, err);
        PQfinish (conn);
        return NULL;
    }
    if (!db_exec (conn,
                  "CREATE TEMP TABLE ingest_stage (LIKE events INCLUDING DEFAULTS) "
                  "ON COMMIT DELETE ROWS",
                  "create staging table")) {
        PQfinish (conn);
        return NULL;
    }
    return conn;
}

int
store_migrate_once (const hub_config_t *config)
{
    PGconn *conn = db_connect (config, "onenet-hub store");
    if (!conn)
        return -1;
    char err[1024];
    int n = migrate_apply (conn, err, sizeof err);
    if (n < 0)
        log_error ("schema migration failed", "error=\"%s\"", err);
    else
        log_info ("schema up to date", "applied=%d version=%d", n,
                  migrate_latest_version ());
    PQfinish (conn);
    return n < 0 ? -1 : 0;
}

/* Result of one step of a transaction. */
typedef enum { STEP_OK, STEP_DATA_ERROR, STEP_CONN_ERROR } step_t;

static step_t
step_of (PGconn *conn, PGresult *res, char **error)
{
    ExecStatusType st = PQresultStatus (res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_IN)
        return STEP_OK;
    if (error && !*error) {
        *error = strdup (PQresultErrorMessage (res));
        /* keep it one line */
        for (char *p = *error; p && *p; p++)
            if (*p == '\n')
                *p = ' ';
    }
    return PQstatus (conn) == CONNECTION_BAD ? STEP_CONN_ERROR : STEP_DATA_ERROR;
}

static step_t
run (PGconn *conn, const char *sql, char **error)
{
    PGresult *res = PQexec (conn, sql);
    step_t s = step_of (conn, res, error);
    PQclear (res);
    return s;
}

/* Runs "COPY ... FROM STDIN" with bytes (whole rows). On a data error the
   SQLSTATE goes into sqlstate (6 bytes) when it is not NULL. */
static step_t
copy_in (PGconn *conn, const char *sql, const char *data, size_t len, char **error,
         char *sqlstate)
{
    PGresult *res = PQexec (conn, sql);
    if (PQresultStatus (res) != PGRES_COPY_IN) {
        step_t s = step_of (conn, res, error);
        PQclear (res);
        return s == STEP_OK ? STEP_DATA_ERROR : s;
    }
    PQclear (res);
    if (PQputCopyData (conn, data, (int) len) != 1 || PQputCopyEnd (conn, NULL) != 1)
        return STEP_CONN_ERROR;
    step_t s = STEP_OK;
    while ((res = PQgetResult (conn)) != NULL) {
        step_t r = step_of (conn, res, error);
        if (r != STEP_OK && s == STEP_OK) {
            s = r;
            const char *state = PQresultErrorField (res, PG_DIAG_SQLSTATE);
            if (sqlstate && state)
                snprintf (sqlstate, 6, "%s", state);
        }
        PQclear (res);
    }
    return s;
}

/* COPYs bytes (whole rows) into ingest_stage. */
static step_t
copy_rows (PGconn *conn, const char *data, size_t len, char **error)
{
    return copy_in (conn, "COPY ingest_stage (" EVENT_COLUMNS ") FROM STDIN", data, len,
                    error, NULL);
}

/* Moves staged rows into events; marks the rows that were new. */
static step_t
insert_staged (PGconn *conn, batch_t *b, id_index_t *index, char **error)
{
    /* new events also enter the correlation queue, in the same statement */
    PGresult *res = PQexec (conn, "WITH ins AS (INSERT INTO events (" EVENT_COLUMNS ") "
                                  "SELECT " EVENT_COLUMNS " FROM ingest_stage "
                                  "ON CONFLICT (event_id) DO NOTHING RETURNING event_id), "
                                  "q AS (INSERT INTO correlation_queue (event_id) "
                                  "SELECT event_id FROM ins) "
                                  "SELECT event_id FROM ins");
    step_t s = step_of (conn, res, error);
    if (s == STEP_OK)
        for (int i = 0; i < PQntuples (res); i++) {
            long row = id_index_find (index, b->row_ids, PQgetvalue (res, i, 0));
            if (row >= 0)
                b->row_stored[row] = true;
        }
    PQclear (res);
    return s;
}

static step_t
insert_dead_letters (PGconn *conn, batch_t *b, const char *hub_id, char **error)
{
    for (size_t i = 0; i < b->n_dls; i++) {
        dead_letter_t *d = &b->dls[i];
        const char *params[9] = {hub_id,
                                 d->sender,
                                 d->agency,
                                 d->event_id,
                                 d->case_no,
                                 d->event_type,
                                 error_code_name (d->code),
                                 d->reason,
                                 (const char *) d->payload};
        int lengths[9] = {0, 0, 0, 0, 0, 0, 0, 0, (int) d->payload_len};
        int formats[9] = {0, 0, 0, 0, 0, 0, 0, 0, 1};
        PGresult *res = PQexecParams (
            conn,
            "INSERT INTO dead_letters (hub_id, sender, agency, event_id, case_no, "
            "event_type, code, reason, payload) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) "
            "ON CONFLICT (event_id, code) WHERE event_id IS NOT NULL DO UPDATE SET "
            "attempts = dead_letters.attempts + 1, last_seen = now(), replayed_at = NULL, "
            "reason = EXCLUDED.reason",
            9, NULL, params, lengths, formats, 0);
        step_t s = step_of (conn, res, error);
        PQclear (res);
        if (s != STEP_OK)
            return s;
    }
    return STEP_OK;
}

static step_t
upsert_heartbeats (PGconn *conn, batch_t *b, const char *hub_id, char **error)
{
    for (size_t i = 0; i < b->n_hbs; i++) {
        heartbeat_row_t *h = &b->hbs[i];
        char depth[24], oldest[40], cursor[24];
        snprintf (depth, sizeof depth, "%llu", (unsigned long long) h->outbox_depth);
        snprintf (cursor, sizeof cursor, "%llu", (unsigned long long) h->task_cursor);
        clock_format_pg (h->oldest_unacked_ms, oldest, sizeof oldest);
        const char *params[6] = {h->adapter_id, h->agency,
                                 depth,         h->oldest_unacked_ms ? oldest : NULL,
                                 cursor,        hub_id};
        PGresult *res = PQexecParams (
            conn,
            "INSERT INTO adapters (adapter_id, agency, last_heartbeat, outbox_depth, "
            "oldest_unacked, task_cursor, hub_id) VALUES ($1, $2, now(), $3, $4, $5, $6) "
            "ON CONFLICT (adapter_id) DO UPDATE SET agency = EXCLUDED.agency, "
            "last_heartbeat = EXCLUDED.last_heartbeat, outbox_depth = "
            "EXCLUDED.outbox_depth, "
            "oldest_unacked = EXCLUDED.oldest_unacked, task_cursor = EXCLUDED.task_cursor, "
            "hub_id = EXCLUDED.hub_id",
            6, NULL, params, NULL, NULL, 0);
        step_t s = step_of (conn, res, error);
        PQclear (res);
        if (s != STEP_OK)
            return s;
    }
    return STEP_OK;
}

/* The direct path, for the usual batch whose ids are all new: the rows go
   straight into events and correlation_queue with COPY, PostgreSQL's
   fastest load, with no lookup first. When an id is already stored (a
   redelivery) or another hub stores the same id meanwhile, the unique index
   refuses the COPY: *conflict is set, the savepoint undone, and the caller
   takes the staged path, which sorts new ids from known ones. */
static step_t
insert_direct (PGconn *conn, batch_t *b, strbuf_t *ids, char **error, bool *conflict)
{
    *conflict = false;
    strbuf_reset (ids);
    for (size_t r = 0; r < b->n_rows; r++) {
        strbuf_append (ids, b->row_ids[r], 36);
        strbuf_putc (ids, '\n');
    }
    char sqlstate[6] = "";
    step_t s = run (conn, "SAVEPOINT onenet_direct", error);
    if (s == STEP_OK)
        s = copy_in (conn, "COPY events (" EVENT_COLUMNS ") FROM STDIN", b->copy.data,
                     b->copy.len, error, sqlstate);
    if (s == STEP_OK)
        s = copy_in (conn, "COPY correlation_queue (event_id) FROM STDIN", ids->data,
                     ids->len, error, sqlstate);
    if (s == STEP_DATA_ERROR && strcmp (sqlstate, "23505") == 0) {
        /* unique_violation: some id is stored already */
        free (*error);
        *error = NULL;
        *conflict = true;
        return run (conn, "ROLLBACK TO SAVEPOINT onenet_direct", error);
    }
    for (size_t r = 0; r < b->n_rows && s == STEP_OK; r++)
        b->row_stored[r] = true;
    return s;
}

/* The fast path: the whole batch in one transaction, directly when every
   id is new, staged with ON CONFLICT when some is not. */
static step_t
commit_fast (PGconn *conn, batch_t *b, id_index_t *index, const char *hub_id, strbuf_t *ids,
             char **error)
{
    step_t s = run (conn, "BEGIN", error);
    if (s == STEP_OK && b->n_rows) {
        bool conflict = false;
        s = insert_direct (conn, b, ids, error, &conflict);
        if (s == STEP_OK && conflict) {
            s = copy_rows (conn, b->copy.data, b->copy.len, error);
            if (s == STEP_OK)
                s = insert_staged (conn, b, index, error);
        }
    }
    if (s == STEP_OK)
        s = insert_dead_letters (conn, b, hub_id, error);
    if (s == STEP_OK)
        s = upsert_heartbeats (conn, b, hub_id, error);
    if (s == STEP_OK)
        s = run (conn, "COMMIT", error);
    else if (s == STEP_DATA_ERROR)
        run (conn, "ROLLBACK", NULL);
    return s;
}

/* The slow path: one savepoint per row, so a row PostgreSQL refuses is
   refused alone (and recorded as a dead letter) while the rest commit. */
static step_t
commit_row_by_row (PGconn *conn, batch_t *b, id_index_t *index, const char *hub_id)
{
    char *error = NULL;
    step_t s = run (conn, "BEGIN", &error);
    for (size_t r = 0; s == STEP_OK && r < b->n_rows; r++) {
        size_t start = r ? b->row_end[r - 1] : 0;
        char *row_error = NULL;
        s = run (conn, "SAVEPOINT onenet_row", &row_error);
        if (s == STEP_OK)
            s = copy_rows (conn, b->copy.data + start, b->row_end[r] - start, &row_error);
        if (s == STEP_OK)
            s = insert_staged (conn, b, index, &row_error);
        if (s == STEP_OK)
            s = run (conn, "DELETE FROM ingest_stage", &row_error);
        if (s == STEP_DATA_ERROR) {
            s = run (conn, "ROLLBACK TO SAVEPOINT onenet_row", &error);
            b->row_stored[r] = false;
            b->row_error[r] = row_error;
            log_warn ("event refused by the database", "event=%s error=\"%s\"",
                      b->row_ids[r], row_error);
            batch_add_dead_letter (b, "", NULL, b->row_ids[r], NULL, NULL,
                                   ERR_INVALID_FIELD, row_error, b->copy.data + start,
                                   b->row_end[r] - start);
        }
        else
            free (row_error);
    }
    if (s == STEP_OK)
        s = insert_dead_letters (conn, b, hub_id, &error);
    if (s == STEP_OK)
        s = upsert_heartbeats (conn, b, hub_id, &error);
    if (s == STEP_OK)
        s = run (conn, "COMMIT", &error);
    if (s == STEP_DATA_ERROR) {
        log_error ("batch could not be stored even row by row", "error=\"%s\"",
                   error ? error : "");
        run (conn, "ROLLBACK", NULL);
    }
    free (error);
    return s;
}

/* For each heartbeat of an adapter that delivers tasks, reads its agency's
   tasks after the cursor it reported and encodes them for ingest to send.
   Read after the commit; a task the adapter already has is skipped there. */
static void
fetch_tasks (PGconn *conn, batch_t *b)
{
    for (size_t i = 0; i < b->n_hbs; i++) {
        heartbeat_row_t *h = &b->hbs[i];
        if (!h->takes_tasks)
            continue;
        char cursor[24];
        snprintf (cursor, sizeof cursor, "%llu", (unsigned long long) h->task_cursor);
        const char *params[2] = {h->agency, cursor};
        PGresult *res = PQexecParams (
            conn,
            "SELECT seq, agency, kind, workflow, step, key_kind, key_value, payload::text, "
            "(extract(epoch FROM ready_at) * 1000)::bigint, "
            "coalesce((extract(epoch FROM due_at) * 1000)::bigint, 0) "
            "FROM tasks WHERE agency = $1 AND seq > $2 ORDER BY seq LIMIT 200",
            2, NULL, params, NULL, NULL, 0);
        int n = PQresultStatus (res) == PGRES_TUPLES_OK ? PQntuples (res) : 0;
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
            }
            h->tasks_msg = codec_tasks_encode (tasks, (size_t) n, &h->tasks_len);
            free (tasks);
        }
        PQclear (res);
    }
}

/* Commits one batch; returns false if the connection was lost. */
static bool
commit_batch (PGconn *conn, batch_t *b, id_index_t *index, const char *hub_id,
              strbuf_t *ids)
{
    int64_t t0 = clock_mono_us ();
    id_index_reset (index, b->n_rows);
    for (size_t r = 0; r < b->n_rows; r++)
        id_index_put (index, b->row_ids, r);
    char *error = NULL;
    step_t s = commit_fast (conn, b, index, hub_id, ids, &error);
    if (s == STEP_DATA_ERROR) {
        log_warn ("batch refused by the database, retrying row by row",
                  "rows=%zu error=\"%s\"", b->n_rows, error ? error : "");
        for (size_t r = 0; r < b->n_rows; r++)
            b->row_stored[r] = false;
        s = commit_row_by_row (conn, b, index, hub_id);
    }
    free (error);
    b->commit_us = clock_mono_us () - t0;
    if (s == STEP_OK) {
        b->outcome = BATCH_COMMITTED;
        fetch_tasks (conn, b);
        return true;
    }
    b->outcome = BATCH_UNAVAILABLE;
    return s != STEP_CONN_ERROR;
}

static void
send_status (void *pipe, char status)
{
    zmq_send (pipe, &status, 1, 0);
}

static void
store_run (void *pipe, void *arg)
{
    store_t *self = arg;
    const hub_config_t *config = self->config;
    PGconn *conn = NULL;
    id_index_t index;
    id_index_init (&index);
    strbuf_t ids; /* scratch for the direct path */
    strbuf_init (&ids);
    int backoff_ms = 100;
    int64_t next_try = 0;
    char announced = 0; /* last status told to ingest */

    while (true) {
        if (!conn && clock_mono_ms () >= next_try) {
            conn = open_session (config);
            if (conn) {
                backoff_ms = 100;
                if (announced != 'U')
                    log_info ("store available", "hub=%s", config->hub_id);
                send_status (pipe, announced = 'U');
            }
            else {
                if (announced != 'D') {
                    log_warn ("store unavailable, acknowledgements stopped",
                              "hub=%s retry_ms=%d", config->hub_id, backoff_ms);
                    send_status (pipe, announced = 'D');
                }
                next_try = clock_mono_ms () + backoff_ms;
                backoff_ms = backoff_ms * 2 > config->db_retry_max_ms
                                 ? config->db_retry_max_ms
                                 : backoff_ms * 2;
            }
        }
        long timeout = -1;
        if (!conn) {
            timeout = (long) (next_try - clock_mono_ms ());
            if (timeout < 0)
                timeout = 0;
        }
        zmq_pollitem_t item = {pipe, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll (&item, 1, timeout);
        if (rc < 0 && zmq_errno () != EINTR)
            break;
        if (rc <= 0)
            continue;
        batch_t *b = NULL;
        int n = zmq_recv (pipe, &b, sizeof b, 0);
        if (n == 0)
            break; /* stop */
        if (n != (int) sizeof b)
            continue;
        if (!conn)
            b->outcome = BATCH_UNAVAILABLE;
        else if (!commit_batch (conn, b, &index, config->hub_id, &ids)) {
            log_warn ("store unavailable: lost the PostgreSQL connection, batch not "
                      "stored, acknowledgements stopped",
                      "hub=%s rows=%zu", config->hub_id, b->n_rows);
            PQfinish (conn);
            conn = NULL;
            next_try = 0;
            if (announced != 'D')
                send_status (pipe, announced = 'D');
        }
        zmq_send (pipe, &b, sizeof b, 0);
    }
    id_index_free (&index);
    strbuf_free (&ids);
    if (conn)
        PQfinish (conn);
}

store_t *
store_start (void *zmq_ctx, const hub_config_t *config, const char *pipe_endpoint)
{
    store_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = config;
    self->worker = worker_start (zmq_ctx, pipe_endpoint, store_run, self);
    if (!self->worker) {
        free (self);
        return NULL;
    }
    return self;
}

void
store_join (store_t **self_p)
{
    if (!*self_p)
        return;
    worker_join (&(*self_p)->worker);
    free (*self_p);
    *self_p = NULL;
}
