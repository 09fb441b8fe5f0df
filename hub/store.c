/*  store: batched, idempotent, hash-chained PostgreSQL writes, see store.h.

    Each batch is one transaction. Usually:
        COPY events FROM STDIN                   -- the batch's accepted events
        INSERT INTO chain_heads ... ON CONFLICT  -- the chain's new head
        INSERT INTO dead_letters ...             -- what validation refused
        INSERT INTO adapters ... ON CONFLICT     -- heartbeats
        COMMIT
    Nothing is queued for correlation: the correlator takes each chain's
    events after the last one it correlated (correlate.c).
    Every row COPYed joins this hub's hash chain (docs/schema.md, "Hash
    chain"): the ingest thread digested each row's content when it built
    the row (batch.h), so the store only links it to its predecessor and
    appends chain_id, seq, prev_digest, content_digest and row_digest.
    Sequence numbers must have no gaps, so only rows that are really
    inserted may take one. When some id is already stored (a redelivery, or
    another hub racing for the same id: the COPY hits the unique index),
    the batch goes back to its savepoint, the ids already stored are looked
    up, and only the new rows are chained and COPYed again; should another
    hub store one of them in between, the same happens once more. The
    lookup tells which event ids were new (STORED); the rest were already
    there (DUPLICATE).

    If the fast path fails on the data itself (not the connection), the
    batch is retried row by row under savepoints so that one bad row is
    refused alone and the good rows around it commit; a refused row takes
    no sequence number.

    The chain head (seq and row digest of the newest row) lives in memory
    and advances only when a transaction commits; it is loaded from
    chain_heads whenever the session opens. Each transaction that stores
    events holds the chain's advisory lock. A second hub running with the
    same hub id collides on the unique (chain_id, seq) constraint: that is
    logged as an error naming the chain, and from then on the hub re-reads
    the head under the lock in every transaction, so the two take turns on
    one chain instead of forking it. */
#include "store.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include <libpq-fe.h>

#include "clock.h"
#include "db.h"
#include "digest.h"
#include "event_row.h"
#include "id_index.h"
#include "log.h"
#include "worker.h"
#include "migrate.h"

struct store {
    worker_t *worker;           /* the thread and its pipe */
    const hub_config_t *config; /* settings, read-only */
    pthread_mutex_t lock;       /* guards health, which other threads read */
    store_health_t health;      /* as store_health reports it */
};

/* The database answered a round trip (a commit, a probe, a new session). */
static void
health_ok (store_t *self)
{
    pthread_mutex_lock (&self->lock);
    self->health.connected = true;
    self->health.last_ok_ms = clock_mono_ms ();
    self->health.error[0] = '\0';
    pthread_mutex_unlock (&self->lock);
}

/* The session is gone, or could not be opened: why, on one line. */
static void
health_down (store_t *self, const char *why)
{
    pthread_mutex_lock (&self->lock);
    self->health.connected = false;
    snprintf (self->health.error, sizeof self->health.error, "%s",
              why && *why ? why : "no answer");
    db_one_line (self->health.error);
    pthread_mutex_unlock (&self->lock);
}

void
store_health (store_t *self, store_health_t *out)
{
    pthread_mutex_lock (&self->lock);
    *out = self->health;
    pthread_mutex_unlock (&self->lock);
}

#define CHAIN_COLUMNS "chain_id, seq, prev_digest, content_digest, row_digest"
#define LOOKUP_TRIES  5 /* lookups of stored ids per batch before giving up */
#define COPY_PIECE    (1u << 20) /* bytes handed to PQputCopyData at a time */
#define PROBE_MS      2000      /* an idle store asks the database this often */
/* first key of the chain writers' advisory locks (the second: the chain
   id hashed); migrations lock a single bigint key, another key space */
#define CHAIN_LOCK_CLASS "7020425"

/* This hub's hash chain: its head as committed, and as the open
   transaction would leave it. */
typedef struct {
    const char *chain_id;          /* the chain: the hub id */
    int64_t seq;                   /* seq of the newest committed row, 0 if none */
    uint8_t head[DIGEST_LEN];      /* its row digest, zeros if none */
    bool shared;                   /* another writer was seen: re-read the head each time */
    int64_t warned_ms;             /* when that was last logged */
    int64_t next_seq;              /* the same after the open transaction */
    uint8_t next_head[DIGEST_LEN]; /* ... */
    strbuf_t rows;                 /* scratch: chained COPY rows */
} chain_t;

/* Why a step failed; STEP_CHAIN_CONFLICT: another writer of this chain. */
/* How a statement ended. STEP_TRANSIENT: the database undid the
   transaction for reasons of its own (a deadlock, a serialization
   failure, a lock or statement timeout): nothing is wrong with the
   events, the batch is answered RETRY and comes again. */
typedef enum {
    STEP_OK,
    STEP_DATA_ERROR,
    STEP_CONN_ERROR,
    STEP_CHAIN_CONFLICT,
    STEP_TRANSIENT
} step_t;

/* Loads the committed head of the chain: the head recorded in
   chain_heads, or the newest row of the chain in events when that is
   further on (rows written past the recorded head by another writer, or
   out of band: continuing after them keeps the hub running, and verify
   names them). */
static bool
load_head (PGconn *conn, chain_t *chain, bool quiet)
{
    const char *params[1] = {chain->chain_id};
    PGresult *res = PQexecParams (
        conn,
        "SELECT h.seq, encode(h.row_digest, 'hex'), e.seq, encode(e.row_digest, 'hex') "
        "FROM (SELECT 1) AS one "
        "LEFT JOIN chain_heads h ON h.chain_id = $1 "
        "LEFT JOIN LATERAL (SELECT seq, row_digest FROM events WHERE chain_id = $1 "
        "  ORDER BY seq DESC LIMIT 1) e ON true",
        1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus (res) != PGRES_TUPLES_OK) {
        log_error ("could not read the head of the hash chain", "chain=%s error=%s",
                   log_q (chain->chain_id), log_q (PQresultErrorMessage (res)));
        PQclear (res);
        return false;
    }
    int64_t recorded =
        PQgetisnull (res, 0, 0) ? 0 : strtoll (PQgetvalue (res, 0, 0), NULL, 10);
    int64_t newest =
        PQgetisnull (res, 0, 2) ? 0 : strtoll (PQgetvalue (res, 0, 2), NULL, 10);
    int col = newest > recorded ? 2 : 0;
    if (newest != recorded && !quiet)
        log_error ("hash chain head and stored rows disagree; run hubctl verify",
                   "chain=%s recorded_head_seq=%" PRId64 " newest_row_seq=%" PRId64,
                   log_q (chain->chain_id), recorded, newest);
    chain->seq = col == 2 ? newest : recorded;
    memset (chain->head, 0, DIGEST_LEN);
    if (chain->seq > 0 && !digest_from_hex (PQgetvalue (res, 0, col + 1), chain->head)) {
        log_error ("the head of the hash chain is damaged", "chain=%s seq=%" PRId64,
                   log_q (chain->chain_id), chain->seq);
        PQclear (res);
        return false;
    }
    PQclear (res);
    chain->next_seq = chain->seq;
    memcpy (chain->next_head, chain->head, DIGEST_LEN);
    if (!quiet)
        log_info ("hash chain loaded", "chain=%s seq=%" PRId64, log_q (chain->chain_id),
                  chain->seq);
    return true;
}

/* Connects, checks the schema (migrating it when this role may) and loads
   the chain head. NULL when unavailable. */
static PGconn *
open_session (const hub_config_t *config, chain_t *chain, char *why, size_t whylen)
{
    PGconn *conn = db_connect_why (config, "onenet-hub store", false, why, whylen);
    if (!conn)
        return NULL;
    char err[1024];
    if (migrate_apply (conn, err, sizeof err) < 0) {
        log_error ("database schema not usable", "hub=%s error=%s", log_q (config->hub_id),
                   log_q (err));
        snprintf (why, whylen, "database schema not usable: %.400s", err);
        PQfinish (conn);
        return NULL;
    }
    if (!load_head (conn, chain, false)) {
        snprintf (why, whylen, "could not read the head of the hash chain %s",
                  chain->chain_id);
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
        log_error ("schema migration failed", "error=%s", log_q (err));
    else
        log_info ("schema up to date", "applied=%d version=%d", n,
                  migrate_latest_version ());
    PQfinish (conn);
    return n < 0 ? -1 : 0;
}

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
    if (PQstatus (conn) == CONNECTION_BAD)
        return STEP_CONN_ERROR;
    const char *state = PQresultErrorField (res, PG_DIAG_SQLSTATE);
    const char *constraint = PQresultErrorField (res, PG_DIAG_CONSTRAINT_NAME);
    if (state && strcmp (state, "23505") == 0 && constraint
        && strcmp (constraint, "events_chain_seq") == 0)
        return STEP_CHAIN_CONFLICT;
    if (state
        && (strncmp (state, "40", 2) == 0 || strcmp (state, "55P03") == 0
            || strcmp (state, "57014") == 0))
        return STEP_TRANSIENT;
    return STEP_DATA_ERROR;
}

typedef struct {
    const char *id;
    size_t row;
} row_ref_t;

static int
by_event_id (const void *a, const void *b)
{
    return strcmp (((const row_ref_t *) a)->id, ((const row_ref_t *) b)->id);
}

/* The batch's rows in event id order (malloc'd). Every transaction of
   every hub inserts its ids in this one order: two hubs storing the same
   redelivered events wait for each other on the unique index at most in
   one direction, never in a cycle (a deadlock). */
static size_t *
rows_by_id (const batch_t *b)
{
    row_ref_t *refs = calloc (b->n_rows + 1, sizeof *refs);
    size_t *order = calloc (b->n_rows + 1, sizeof *order);
    if (!refs || !order)
        abort ();
    for (size_t r = 0; r < b->n_rows; r++)
        refs[r] = (row_ref_t){b->row_ids[r], r};
    qsort (refs, b->n_rows, sizeof *refs, by_event_id);
    for (size_t r = 0; r < b->n_rows; r++)
        order[r] = refs[r].row;
    free (refs);
    return order;
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
    /* in pieces: PQputCopyData takes an int, a transaction's rows may not fit */
    for (size_t at = 0; at < len;) {
        size_t piece = len - at < COPY_PIECE ? len - at : COPY_PIECE;
        if (PQputCopyData (conn, data + at, (int) piece) != 1)
            return STEP_CONN_ERROR;
        at += piece;
    }
    if (PQputCopyEnd (conn, NULL) != 1)
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

/* Appends row r of the batch to chain->rows with its chain columns, as the
   row after the tentative head. */
static void
chain_row (chain_t *chain, const batch_t *b, size_t r)
{
    size_t start = r ? b->row_end[r - 1] : 0;
    size_t len = b->row_end[r] - start - 1; /* without the newline */
    const uint8_t *content = b->row_content[r];
    uint8_t link[DIGEST_LEN];
    int64_t seq = chain->next_seq + 1;
    digest_link (chain->chain_id, seq, chain->next_head, content, link);
    strbuf_append (&chain->rows, b->copy.data + start, len);
    strbuf_putc (&chain->rows, '\t');
    strbuf_copy_field (&chain->rows, chain->chain_id, strlen (chain->chain_id));
    strbuf_printf (&chain->rows, "\t%" PRId64 "\t", seq);
    strbuf_copy_bytea (&chain->rows, chain->next_head, DIGEST_LEN);
    strbuf_putc (&chain->rows, '\t');
    strbuf_copy_bytea (&chain->rows, content, DIGEST_LEN);
    strbuf_putc (&chain->rows, '\t');
    strbuf_copy_bytea (&chain->rows, link, DIGEST_LEN);
    strbuf_putc (&chain->rows, '\n');
    chain->next_seq = seq;
    memcpy (chain->next_head, link, DIGEST_LEN);
}

/* Forgets what the open transaction did to the chain. */
static void
chain_rewind (chain_t *chain)
{
    chain->next_seq = chain->seq;
    memcpy (chain->next_head, chain->head, DIGEST_LEN);
}

/* COPYs the chained rows; the caller holds a savepoint. Nothing is
   queued for correlation: the correlator takes a chain's events after its
   progress (migration 012). */
static step_t
copy_chained (PGconn *conn, chain_t *chain, char **error, char *sqlstate)
{
    return copy_in (conn, "COPY events (" EVENT_ROW_COLUMNS ", " CHAIN_COLUMNS ") FROM STDIN",
                    chain->rows.data, chain->rows.len, error, sqlstate);
}

/* Records the tentative head in chain_heads (same transaction). */
static step_t
save_head (PGconn *conn, chain_t *chain, char **error)
{
    if (chain->next_seq == chain->seq)
        return STEP_OK;
    char seq[24], hex[2 * DIGEST_LEN + 1];
    snprintf (seq, sizeof seq, "%" PRId64, chain->next_seq);
    digest_hex (chain->next_head, hex);
    const char *params[3] = {chain->chain_id, seq, hex};
    PGresult *res = PQexecParams (
        conn,
        "INSERT INTO chain_heads (chain_id, seq, row_digest) "
        "VALUES ($1, $2, decode($3, 'hex')) ON CONFLICT (chain_id) DO UPDATE SET "
        "seq = EXCLUDED.seq, row_digest = EXCLUDED.row_digest, updated_at = now()",
        3, NULL, params, NULL, NULL, 0);
    step_t s = step_of (conn, res, error);
    PQclear (res);
    return s;
}

/* Marks in b->row_stored the rows whose ids are not stored yet (rows
   already marked false stay so). */
static step_t
find_new_rows (PGconn *conn, batch_t *b, id_index_t *index, strbuf_t *scratch, char **error)
{
    strbuf_reset (scratch);
    strbuf_putc (scratch, '{');
    for (size_t r = 0; r < b->n_rows; r++) {
        if (r)
            strbuf_putc (scratch, ',');
        strbuf_append (scratch, b->row_ids[r], 36);
    }
    strbuf_putc (scratch, '}');
    const char *params[1] = {scratch->data};
    PGresult *res = PQexecParams (
        conn, "SELECT event_id::text FROM events WHERE event_id = ANY ($1::uuid[])", 1,
        NULL, params, NULL, NULL, 0);
    step_t s = step_of (conn, res, error);
    if (s == STEP_OK)
        for (int i = 0; i < PQntuples (res); i++) {
            long row = id_index_find (index, b->row_ids, PQgetvalue (res, i, 0));
            if (row >= 0)
                b->row_stored[row] = false;
        }
    PQclear (res);
    return s;
}

/* The rows that were not stored because their id was (redeliveries) are
   compared with what is stored, on what the agency said: agency, case
   number, event type, occurred_at, schema version, keys and attributes
   (not the adapter instance, its acceptance time or the hub's receipt: a
   redelivery may come through another instance or hub). The same is a
   plain DUPLICATE; anything else is a CONFLICT, refused and recorded as a
   dead letter naming the fields that differ, in this transaction: an id
   reused for other content would otherwise be acknowledged and its content
   lost without a trace. */
static step_t
find_conflicts (PGconn *conn, batch_t *b, strbuf_t *scratch, char **error)
{
    /* what the agency said, by the names the statement below reads */
    static const char *const names[EVENT_ROW_FIELDS] = {
        [EVENT_ROW_EVENT_ID] = "id",
        [EVENT_ROW_AGENCY] = "agency",
        [EVENT_ROW_CASE_NO] = "case_no",
        [EVENT_ROW_EVENT_TYPE] = "event_type",
        [EVENT_ROW_OCCURRED_AT] = "occurred_at",
        [EVENT_ROW_SCHEMA_VERSION] = "schema_version",
        [EVENT_ROW_KEYS] = "keys",
        [EVENT_ROW_ATTRS] = "attrs"};
    strbuf_reset (scratch);
    strbuf_putc (scratch, '[');
    size_t n = 0;
    strbuf_t field;
    strbuf_init (&field);
    for (size_t r = 0; r < b->n_rows; r++) {
        if (b->row_stored[r] || b->row_error[r])
            continue;
        const char *row = b->copy.data + (r ? b->row_end[r - 1] : 0);
        const char *end = b->copy.data + b->row_end[r];
        strbuf_puts (scratch, n++ ? ",{" : "{");
        for (int f = 0, k = 0; f < EVENT_ROW_FIELDS; f++) {
            if (!names[f])
                continue;
            strbuf_reset (&field);
            event_row_field (row, end, (event_row_field_t) f, &field);
            strbuf_puts (scratch, k++ ? "," : "");
            strbuf_json_string (scratch, names[f]);
            strbuf_putc (scratch, ':');
            if (f == EVENT_ROW_KEYS || f == EVENT_ROW_ATTRS)
                strbuf_append (scratch, field.data, field.len); /* JSON already */
            else
                strbuf_json_string (scratch, field.data ? field.data : "");
        }
        strbuf_putc (scratch, '}');
    }
    strbuf_putc (scratch, ']');
    strbuf_free (&field);
    if (n == 0)
        return STEP_OK;
    const char *params[1] = {scratch->data};
    PGresult *res = PQexecParams (
        conn,
        "SELECT n.id::text, concat_ws(', ', "
        "  CASE WHEN e.agency <> n.agency THEN 'agency' END, "
        "  CASE WHEN e.case_no <> n.case_no THEN 'case_no' END, "
        "  CASE WHEN e.event_type <> n.event_type THEN 'event_type' END, "
        "  CASE WHEN e.occurred_at <> n.occurred_at THEN 'occurred_at' END, "
        "  CASE WHEN e.schema_version <> n.schema_version THEN 'schema_version' END, "
        "  CASE WHEN e.keys <> n.keys THEN 'keys' END, "
        "  CASE WHEN e.attrs <> n.attrs THEN 'attributes' END), "
        "  e.agency, e.adapter_id, e.case_no, e.event_type, "
        "  coalesce(encode(e.content_digest, 'hex'), 'none') "
        "FROM jsonb_to_recordset($1::jsonb) AS n(id uuid, agency text, case_no text, "
        "  event_type text, occurred_at timestamptz, schema_version integer, keys jsonb, "
        "  attrs jsonb) "
        "JOIN events e ON e.event_id = n.id",
        1, NULL, params, NULL, NULL, 0);
    step_t s = step_of (conn, res, error);
    for (int i = 0; s == STEP_OK && i < PQntuples (res); i++) {
        const char *differs = PQgetvalue (res, i, 1);
        if (!*differs)
            continue; /* the same: a plain duplicate */
        for (size_t r = 0; r < b->n_rows; r++) {
            if (b->row_stored[r] || b->row_error[r]
                || strcmp (b->row_ids[r], PQgetvalue (res, i, 0)) != 0)
                continue;
            char reason[600];
            snprintf (reason, sizeof reason,
                      "event id %s is already stored with other content (it differs in %s; "
                      "stored: agency %s, adapter %s, case %s, type %s, content digest "
                      "%.16s): the stored event stands, this one is refused",
                      b->row_ids[r], differs, PQgetvalue (res, i, 2),
                      PQgetvalue (res, i, 3), PQgetvalue (res, i, 4),
                      PQgetvalue (res, i, 5), PQgetvalue (res, i, 6));
            b->row_error[r] = strdup (reason);
            b->row_code[r] = ERR_CONFLICT;
            size_t start = r ? b->row_end[r - 1] : 0;
            batch_add_dead_letter (b, "", NULL, b->row_ids[r], NULL, NULL, ERR_CONFLICT,
                                   reason, b->copy.data + start, b->row_end[r] - start);
            log_warn ("event id reused for other content: refused (CONFLICT)",
                      "event=%s differs=%s", log_q (b->row_ids[r]), log_q (differs));
            break;
        }
    }
    PQclear (res);
    return s;
}

/* Every dead letter of the batch in one statement, however many there
   are: a batch of refused events costs one round trip, not one per event.
   Letters with the same event id and code (the same bad event sent twice
   in one transaction) become one row counting both attempts, as a
   redelivery in a later transaction does. */
static step_t
insert_dead_letters (PGconn *conn, batch_t *b, const char *hub_id, strbuf_t *js,
                     char **error)
{
    if (b->n_dls == 0)
        return STEP_OK;
    static const char hex[] = "0123456789abcdef";
    strbuf_reset (js);
    strbuf_putc (js, '[');
    for (size_t i = 0; i < b->n_dls; i++) {
        dead_letter_t *d = &b->dls[i];
        const char *names[6] = {"sender", "agency", "event_id", "case_no", "event_type",
                                "reason"};
        const char *values[6] = {d->sender,  d->agency,     d->event_id,
                                 d->case_no, d->event_type, d->reason};
        strbuf_printf (js, "%s{\"ord\":%zu,\"code\":\"%s\"", i ? "," : "", i,
                       error_code_name (d->code));
        for (int f = 0; f < 6; f++) {
            if (!values[f])
                continue;
            strbuf_printf (js, ",\"%s\":", names[f]);
            strbuf_json_string (js, values[f]);
        }
        if (d->payload) {
            strbuf_puts (js, ",\"payload\":\"");
            strbuf_reserve (js, d->payload_len * 2 + 2);
            for (size_t k = 0; k < d->payload_len; k++) {
                js->data[js->len++] = hex[d->payload[k] >> 4];
                js->data[js->len++] = hex[d->payload[k] & 15];
            }
            js->data[js->len] = '\0';
            strbuf_putc (js, '"');
        }
        strbuf_putc (js, '}');
    }
    strbuf_putc (js, ']');
    const char *params[2] = {js->data, hub_id};
    PGresult *res = PQexecParams (
        conn,
        "INSERT INTO dead_letters (hub_id, sender, agency, event_id, case_no, event_type, "
        "  code, reason, payload, attempts) "
        "SELECT $2, sender, agency, event_id, case_no, event_type, code, reason, "
        "  decode(payload, 'hex'), n "
        "FROM (SELECT d.*, count(*) OVER w AS n, "
        "        row_number() OVER (w ORDER BY ord DESC) AS last "
        "      FROM jsonb_to_recordset($1::jsonb) AS d(ord bigint, sender text, "
        "        agency text, event_id text, case_no text, event_type text, code text, "
        "        reason text, payload text) "
        "      WINDOW w AS (PARTITION BY event_id, code)) x "
        "WHERE event_id IS NULL OR last = 1 "
        "ORDER BY ord "
        "ON CONFLICT (event_id, code) WHERE event_id IS NOT NULL DO UPDATE SET "
        "attempts = dead_letters.attempts + EXCLUDED.attempts, last_seen = now(), "
        "replayed_at = NULL, reason = EXCLUDED.reason",
        2, NULL, params, NULL, NULL, 0);
    step_t s = step_of (conn, res, error);
    PQclear (res);
    return s;
}

/* The quarantine samples of one adapter's heartbeats, each stored once
   (a sample sent again finds its row). Under a savepoint: should the
   database refuse them, the heartbeat still commits, and the reply tells
   the adapter that nothing was stored, so it sends them again. */
static step_t
insert_rejects (PGconn *conn, heartbeat_row_t *h, const char *hub_id, char **failure)
{
    strbuf_t js;
    strbuf_init (&js);
    strbuf_putc (&js, '[');
    for (size_t i = 0; i < h->n_rejects; i++) {
        const reject_row_t *r = &h->rejects[i];
        strbuf_printf (&js, "%s{\"seq\":%llu,\"at\":%lld,\"place\":", i ? "," : "",
                       (unsigned long long) r->seq, (long long) r->rejected_at_ms);
        strbuf_json_string (&js, r->place);
        strbuf_puts (&js, ",\"code\":");
        strbuf_json_string (&js, r->code);
        strbuf_puts (&js, ",\"reason\":");
        strbuf_json_string (&js, r->reason);
        if (r->event_id) {
            strbuf_puts (&js, ",\"event_id\":");
            strbuf_json_string (&js, r->event_id);
        }
        strbuf_putc (&js, '}');
    }
    strbuf_putc (&js, ']');
    char *error = NULL;
    step_t s = run (conn, "SAVEPOINT onenet_rejects", &error);
    if (s == STEP_OK) {
        const char *params[4] = {h->adapter_id, h->agency, hub_id, js.data};
        PGresult *res = PQexecParams (
            conn,
            "INSERT INTO adapter_rejects (adapter_id, agency, seq, place, code, reason, "
            "  event_id, rejected_at, hub_id) "
            "SELECT $1, $2, r.seq, r.place, r.code, r.reason, r.event_id, "
            "  timestamptz 'epoch' + r.at * interval '1 millisecond', $3 "
            "FROM jsonb_to_recordset($4::jsonb) AS r(seq bigint, at bigint, place text, "
            "  code text, reason text, event_id text) "
            "ON CONFLICT (adapter_id, place, code, rejected_at) DO NOTHING",
            4, NULL, params, NULL, NULL, 0);
        s = step_of (conn, res, &error);
        PQclear (res);
        if (s == STEP_OK)
            s = run (conn, "RELEASE SAVEPOINT onenet_rejects", &error);
        else if (s == STEP_DATA_ERROR) {
            log_error ("adapter's quarantine samples not stored; it will send them again",
                       "adapter=%s agency=%s samples=%zu error=%s", log_q (h->adapter_id),
                       log_q (h->agency), h->n_rejects, log_q (error));
            h->rejects_failed = true;
            free (error);
            error = NULL;
            s = run (conn, "ROLLBACK TO SAVEPOINT onenet_rejects", &error);
        }
    }
    if (s != STEP_OK && failure && !*failure) {
        *failure = error;
        error = NULL;
    }
    free (error);
    strbuf_free (&js);
    return s;
}

static step_t
upsert_heartbeats (PGconn *conn, batch_t *b, const char *hub_id, char **error)
{
    for (size_t i = 0; i < b->n_hbs; i++) {
        heartbeat_row_t *h = &b->hbs[i];
        char depth[24], oldest[40], cursor[24], total[24], refused[24], rejected[24];
        snprintf (depth, sizeof depth, "%llu", (unsigned long long) h->outbox_depth);
        snprintf (cursor, sizeof cursor, "%llu", (unsigned long long) h->task_cursor);
        snprintf (total, sizeof total, "%llu", (unsigned long long) h->quarantined);
        snprintf (refused, sizeof refused, "%llu", (unsigned long long) h->refused);
        snprintf (rejected, sizeof rejected, "%llu", (unsigned long long) h->rejected);
        clock_format_pg (h->oldest_unacked_ms, oldest, sizeof oldest);
        /* counts not known this time: the ones stored stay */
        const char *params[10] = {h->adapter_id,
                                  h->agency,
                                  depth,
                                  h->oldest_unacked_ms ? oldest : NULL,
                                  cursor,
                                  hub_id,
                                  h->counted ? total : NULL,
                                  h->counted ? refused : NULL,
                                  h->counted ? rejected : NULL,
                                  h->counted ? h->codes_json : NULL};
        PGresult *res = PQexecParams (
            conn,
            "INSERT INTO adapters (adapter_id, agency, last_heartbeat, outbox_depth, "
            "oldest_unacked, task_cursor, hub_id, quarantined, quarantined_refused, "
            "quarantined_rejected, quarantined_by_code) "
            "VALUES ($1, $2, now(), $3, $4, $5, $6, $7, $8, $9, $10::jsonb) "
            "ON CONFLICT (adapter_id) DO UPDATE SET agency = EXCLUDED.agency, "
            "last_heartbeat = EXCLUDED.last_heartbeat, outbox_depth = "
            "EXCLUDED.outbox_depth, "
            "oldest_unacked = EXCLUDED.oldest_unacked, task_cursor = EXCLUDED.task_cursor, "
            "hub_id = EXCLUDED.hub_id, "
            "quarantined = coalesce(EXCLUDED.quarantined, adapters.quarantined), "
            "quarantined_refused = coalesce(EXCLUDED.quarantined_refused, "
            "  adapters.quarantined_refused), "
            "quarantined_rejected = coalesce(EXCLUDED.quarantined_rejected, "
            "  adapters.quarantined_rejected), "
            "quarantined_by_code = coalesce(EXCLUDED.quarantined_by_code, "
            "  adapters.quarantined_by_code)",
            10, NULL, params, NULL, NULL, 0);
        step_t s = step_of (conn, res, error);
        PQclear (res);
        h->rejects_failed = false;
        if (s == STEP_OK && h->n_rejects)
            s = insert_rejects (conn, h, hub_id, error);
        if (s != STEP_OK)
            return s;
    }
    return STEP_OK;
}

/* Chains and COPYs the rows of b marked in row_stored. */
static step_t
insert_marked (PGconn *conn, batch_t *b, chain_t *chain, char **error, char *sqlstate)
{
    strbuf_reset (&chain->rows);
    size_t *order = rows_by_id (b);
    for (size_t k = 0; k < b->n_rows; k++)
        if (b->row_stored[order[k]])
            chain_row (chain, b, order[k]);
    free (order);
    if (chain->rows.len == 0)
        return STEP_OK;
    return copy_chained (conn, chain, error, sqlstate);
}

/* The rows of the batch into events: directly with COPY when every id is
   new, PostgreSQL's fastest load, with no lookup first. When an id is
   already stored (a redelivery) or another hub stores the same id
   meanwhile, the unique index refuses the COPY: the savepoint is undone,
   the stored ids are looked up, and only the new rows are chained and
   COPYed; repeated should another hub store one of them in between. */
static step_t
insert_rows (PGconn *conn, batch_t *b, id_index_t *index, chain_t *chain, char **error)
{
    for (size_t r = 0; r < b->n_rows; r++)
        b->row_stored[r] = true;
    step_t s = run (conn, "SAVEPOINT onenet_rows", error);
    for (int attempt = 0; s == STEP_OK; attempt++) {
        char sqlstate[6] = "";
        s = insert_marked (conn, b, chain, error, sqlstate);
        if (s != STEP_DATA_ERROR || strcmp (sqlstate, "23505") != 0)
            break;
        /* unique_violation on an event id: some are stored already */
        free (*error);
        *error = NULL;
        chain_rewind (chain);
        s = run (conn, "ROLLBACK TO SAVEPOINT onenet_rows", error);
        if (s == STEP_OK && attempt == LOOKUP_TRIES) {
            *error = strdup ("event ids kept colliding with events stored concurrently");
            s = STEP_DATA_ERROR;
        }
        if (s == STEP_OK)
            s = find_new_rows (conn, b, index, &chain->rows, error);
    }
    if (s != STEP_OK)
        for (size_t r = 0; r < b->n_rows; r++)
            b->row_stored[r] = false;
    return s;
}

/* Opens the batch's transaction. When it stores events it takes the
   chain's transaction-scoped advisory lock, which orders the writers of one
   chain: there is one unless two hubs run with the same hub id. Once
   another writer has been seen, the head is read again under the lock in
   every transaction, so the two take turns instead of colliding. */
static step_t
begin_batch (PGconn *conn, const batch_t *b, chain_t *chain, char **error)
{
    step_t s = run (conn, "BEGIN", error);
    if (s != STEP_OK || !b->n_rows)
        return s;
    const char *params[1] = {chain->chain_id};
    PGresult *res = PQexecParams (
        conn, "SELECT pg_advisory_xact_lock(" CHAIN_LOCK_CLASS ", hashtext($1))", 1, NULL,
        params, NULL, NULL, 0);
    s = step_of (conn, res, error);
    PQclear (res);
    if (s != STEP_OK || !chain->shared)
        return s;
    int64_t seq = chain->seq;
    if (!load_head (conn, chain, true))
        return db_lost (conn) ? STEP_CONN_ERROR : STEP_DATA_ERROR;
    int64_t now = clock_mono_ms ();
    if (chain->seq != seq && now - chain->warned_ms >= 60000) {
        chain->warned_ms = now;
        log_error ("another writer advances this hub's hash chain (two hubs with one hub "
                   "id?); taking turns with it",
                   "chain=%s seq=%" PRId64 " was=%" PRId64, log_q (chain->chain_id),
                   chain->seq, seq);
    }
    return STEP_OK;
}

/* An event answered DUPLICATE must be as safe as one answered STORED. The
   row found may have been committed by a transaction whose COMMIT never
   returned: its connection was lost while the commit waited for the
   synchronous standby, so it is committed on this server alone (and a
   failover now would take it away). A transaction that writes no WAL does
   not wait for the standby at its commit; one that does waits until the
   standby has everything up to its own commit record, the earlier commit
   included. The fast path's COPY happens to write WAL before the unique
   index refuses a stored id, but the row-by-row path looks ids up first
   and writes nothing for a duplicate. So a batch with a duplicate always
   writes a (transactional) logical decoding message, a WAL record that
   changes no table, and its COMMIT returns only once the standby has the
   duplicates too. */
static step_t
settle_duplicates (PGconn *conn, const batch_t *b, char **error)
{
    bool any = false;
    for (size_t r = 0; r < b->n_rows && !any; r++)
        any = !b->row_stored[r] && !b->row_error[r];
    if (!any)
        return STEP_OK;
    return run (conn, "SELECT pg_catalog.pg_logical_emit_message(true, 'onenet', 'duplicate')",
                error);
}

/* The fast path: the whole batch in one transaction. */
static step_t
commit_fast (PGconn *conn, batch_t *b, id_index_t *index, chain_t *chain,
             const char *hub_id, char **error)
{
    step_t s = begin_batch (conn, b, chain, error);
    if (s == STEP_OK && b->n_rows)
        s = insert_rows (conn, b, index, chain, error);
    if (s == STEP_OK)
        s = find_conflicts (conn, b, &chain->rows, error);
    if (s == STEP_OK)
        s = save_head (conn, chain, error);
    if (s == STEP_OK)
        s = insert_dead_letters (conn, b, hub_id, &chain->rows, error);
    if (s == STEP_OK)
        s = upsert_heartbeats (conn, b, hub_id, error);
    if (s == STEP_OK)
        s = settle_duplicates (conn, b, error);
    if (s == STEP_OK)
        s = run (conn, "COMMIT", error);
    else if (s != STEP_CONN_ERROR)
        run (conn, "ROLLBACK", NULL);
    return s;
}

/* Stores row r alone under the open savepoint: looked up first (a stored
   id is a duplicate and takes no sequence number), then chained and
   COPYed. *duplicate is set when the COPY found the id stored after all. */
static step_t
insert_one (PGconn *conn, batch_t *b, size_t r, chain_t *chain, char **error,
            bool *duplicate)
{
    const char *params[1] = {b->row_ids[r]};
    PGresult *res = PQexecParams (conn, "SELECT 1 FROM events WHERE event_id = $1::uuid", 1,
                                  NULL, params, NULL, NULL, 0);
    step_t s = step_of (conn, res, error);
    bool stored = s == STEP_OK && PQntuples (res) > 0;
    PQclear (res);
    if (s != STEP_OK || stored)
        return s;
    for (size_t i = 0; i < b->n_rows; i++)
        b->row_stored[i] = i == r;
    char sqlstate[6] = "";
    s = insert_marked (conn, b, chain, error, sqlstate);
    if (s != STEP_OK)
        b->row_stored[r] = false;
    if (s == STEP_DATA_ERROR && strcmp (sqlstate, "23505") == 0)
        *duplicate = true; /* another hub stored it since the lookup */
    return s;
}

/* The slow path: one savepoint per row, so a row PostgreSQL refuses is
   refused alone and recorded as a dead letter, taking no sequence number,
   while the rest commit. */
static step_t
commit_row_by_row (PGconn *conn, batch_t *b, chain_t *chain, const char *hub_id)
{
    char *error = NULL;
    bool *stored = calloc (b->n_rows ? b->n_rows : 1, sizeof *stored);
    if (!stored)
        abort ();
    step_t s = begin_batch (conn, b, chain, &error);
    size_t *order = rows_by_id (b);
    for (size_t k = 0; s == STEP_OK && k < b->n_rows; k++) {
        size_t r = order[k];
        size_t start = r ? b->row_end[r - 1] : 0;
        char *row_error = NULL;
        int64_t seq = chain->next_seq;
        uint8_t head[DIGEST_LEN];
        memcpy (head, chain->next_head, DIGEST_LEN);
        bool duplicate = false;
        s = run (conn, "SAVEPOINT onenet_row", &row_error);
        if (s == STEP_OK)
            s = insert_one (conn, b, r, chain, &row_error, &duplicate);
        stored[r] = s == STEP_OK && b->row_stored[r];
        if (s == STEP_DATA_ERROR && duplicate) {
            chain->next_seq = seq;
            memcpy (chain->next_head, head, DIGEST_LEN);
            s = run (conn, "ROLLBACK TO SAVEPOINT onenet_row", &error);
            free (row_error);
        }
        else if (s == STEP_DATA_ERROR) {
            chain->next_seq = seq;
            memcpy (chain->next_head, head, DIGEST_LEN);
            s = run (conn, "ROLLBACK TO SAVEPOINT onenet_row", &error);
            b->row_error[r] = row_error;
            b->row_code[r] = ERR_INVALID_FIELD;
            log_warn ("event refused by the database", "event=%s error=%s",
                      log_q (b->row_ids[r]), log_q (row_error));
            batch_add_dead_letter (b, "", NULL, b->row_ids[r], NULL, NULL,
                                   ERR_INVALID_FIELD, row_error, b->copy.data + start,
                                   b->row_end[r] - start);
        }
        else
            free (row_error);
    }
    free (order);
    memcpy (b->row_stored, stored, b->n_rows * sizeof *stored);
    free (stored);
    if (s == STEP_OK)
        s = find_conflicts (conn, b, &chain->rows, &error);
    if (s == STEP_OK)
        s = save_head (conn, chain, &error);
    if (s == STEP_OK)
        s = insert_dead_letters (conn, b, hub_id, &chain->rows, &error);
    if (s == STEP_OK)
        s = upsert_heartbeats (conn, b, hub_id, &error);
    if (s == STEP_OK)
        s = settle_duplicates (conn, b, &error);
    if (s == STEP_OK)
        s = run (conn, "COMMIT", &error);
    if (s == STEP_DATA_ERROR)
        log_error ("batch could not be stored even row by row", "error=%s", log_q (error));
    if (s == STEP_DATA_ERROR || s == STEP_CHAIN_CONFLICT || s == STEP_TRANSIENT)
        run (conn, "ROLLBACK", NULL);
    if (s == STEP_CHAIN_CONFLICT)
        log_error ("another writer holds this hub's hash chain (two hubs with one hub id?)",
                   "chain=%s error=%s", log_q (chain->chain_id), log_q (error));
    free (error);
    return s;
}

/* Commits one batch; returns false if the connection was lost. */
static bool
commit_batch (PGconn *conn, batch_t *b, id_index_t *index, chain_t *chain,
              const char *hub_id)
{
    int64_t t0 = clock_mono_us ();
    id_index_reset (index, b->n_rows);
    for (size_t r = 0; r < b->n_rows; r++)
        id_index_put (index, b->row_ids, r);
    step_t s = STEP_CHAIN_CONFLICT;
    for (int attempt = 0; s == STEP_CHAIN_CONFLICT && attempt < 3; attempt++) {
        char *error = NULL;
        s = commit_fast (conn, b, index, chain, hub_id, &error);
        if (s == STEP_DATA_ERROR) {
            log_warn ("batch refused by the database, retrying row by row",
                      "rows=%zu error=%s", b->n_rows, log_q (error));
            chain_rewind (chain);
            for (size_t r = 0; r < b->n_rows; r++)
                b->row_stored[r] = false;
            s = commit_row_by_row (conn, b, chain, hub_id);
        }
        else if (s == STEP_CHAIN_CONFLICT)
            log_error ("another writer holds this hub's hash chain (two hubs with one hub "
                       "id?); reloading its head",
                       "chain=%s seq=%" PRId64 " error=%s", log_q (chain->chain_id),
                       chain->next_seq, log_q (error));
        if (s == STEP_TRANSIENT)
            log_warn ("batch undone by the database (a deadlock or a timeout), its events "
                      "are answered RETRY and come again",
                      "rows=%zu error=%s", b->n_rows, log_q (error));
        free (error);
        if (s == STEP_CHAIN_CONFLICT) {
            chain->shared = true; /* from now on read the head under the lock */
            chain_rewind (chain);
        }
    }
    b->commit_us = clock_mono_us () - t0;
    if (s == STEP_OK) {
        chain->seq = chain->next_seq;
        memcpy (chain->head, chain->next_head, DIGEST_LEN);
        b->outcome = BATCH_COMMITTED;
        return true;
    }
    chain_rewind (chain);
    for (size_t r = 0; r < b->n_rows; r++)
        b->row_stored[r] = false;
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
    chain_t chain = {.chain_id = config->hub_id};
    strbuf_init (&chain.rows);
    int backoff_ms = 100;
    int64_t next_try = 0;
    char announced = 0;   /* last status told to ingest */
    int64_t last_ok = 0;  /* when the database last answered (monotonic ms) */

    while (true) {
        if (!conn && clock_mono_ms () >= next_try) {
            char why[512] = "";
            conn = open_session (config, &chain, why, sizeof why);
            if (conn) {
                backoff_ms = 100;
                last_ok = clock_mono_ms ();
                health_ok (self);
                if (announced != 'U')
                    log_info ("store available", "hub=%s", log_q (config->hub_id));
                send_status (pipe, announced = 'U');
            }
            else {
                health_down (self, why);
                if (announced != 'D') {
                    log_warn ("store unavailable, acknowledgements stopped",
                              "hub=%s retry_ms=%d", log_q (config->hub_id), backoff_ms);
                    send_status (pipe, announced = 'D');
                }
                next_try = clock_mono_ms () + backoff_ms;
                backoff_ms = backoff_ms * 2 > config->db_retry_max_ms
                                 ? config->db_retry_max_ms
                                 : backoff_ms * 2;
            }
        }
        /* idle, the database is asked every PROBE_MS whether it still
           answers: a hub that takes no events must not report a store
           that went away as available */
        int64_t wake = conn ? last_ok + PROBE_MS : next_try;
        long timeout = (long) (wake - clock_mono_ms ());
        if (timeout < 0)
            timeout = 0;
        zmq_pollitem_t item = {pipe, 0, ZMQ_POLLIN, 0};
        int rc = zmq_poll (&item, 1, timeout);
        if (rc < 0 && zmq_errno () != EINTR)
            break;
        if (rc == 0 && conn && clock_mono_ms () >= last_ok + PROBE_MS) {
            char *error = NULL;
            if (run (conn, "SELECT 1", &error) == STEP_OK) {
                last_ok = clock_mono_ms ();
                health_ok (self);
            }
            else {
                health_down (self, error);
                log_warn ("store unavailable: the database stopped answering, "
                          "acknowledgements stopped",
                          "hub=%s error=%s", log_q (config->hub_id), log_q (error));
                PQfinish (conn);
                conn = NULL;
                next_try = 0;
                if (announced != 'D')
                    send_status (pipe, announced = 'D');
            }
            free (error);
        }
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
        else if (commit_batch (conn, b, &index, &chain, config->hub_id)) {
            last_ok = clock_mono_ms ();
            health_ok (self);
        }
        else {
            health_down (self, PQerrorMessage (conn));
            log_warn ("store unavailable: lost the PostgreSQL connection, batch not "
                      "stored, acknowledgements stopped",
                      "hub=%s rows=%zu", log_q (config->hub_id), b->n_rows);
            PQfinish (conn);
            conn = NULL;
            next_try = 0;
            if (announced != 'D')
                send_status (pipe, announced = 'D');
        }
        zmq_send (pipe, &b, sizeof b, 0);
    }
    id_index_free (&index);
    strbuf_free (&chain.rows);
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
    pthread_mutex_init (&self->lock, NULL);
    snprintf (self->health.error, sizeof self->health.error, "not connected yet");
    self->worker = worker_start (zmq_ctx, pipe_endpoint, store_run, self);
    if (!self->worker) {
        pthread_mutex_destroy (&self->lock);
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
    pthread_mutex_destroy (&(*self_p)->lock);
    free (*self_p);
    *self_p = NULL;
}
