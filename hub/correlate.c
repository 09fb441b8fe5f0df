/*  correlate: the correlation thread, see correlate.h. */
#include "correlate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "calendar_sync.h"
#include "clock.h"
#include "db.h"
#include "fold.h"
#include "log.h"
#include "worker.h"
#include "migrate.h"
#include "stmt.h"
#include "strbuf.h"
#include "wf_store.h"

#define CLAIM_PAGE        500  /* queue rows per transaction */
#define CALENDAR_CHECK_MS 1000 /* calendar_changes is looked at this often, idle or not */
#define BUSY_YIELD_MS     250  /* how long one "ingest is busy" word holds */

/* A definition some instance started under that is no longer current. */
typedef struct {
    char digest[WORKFLOW_DIGEST_HEX + 1]; /* its digest */
    workflow_set_t *set;                  /* it, loaded from workflow_definitions */
} pinned_set_t;

struct correlate {
    worker_t *worker;           /* the thread and its pipe */
    pinned_set_t *pinned;       /* old definitions loaded so far (thread-owned) */
    size_t n_pinned;            /* entries in pinned */
    const hub_config_t *config; /* settings, read-only */
    const workflow_set_t *set;  /* definitions, read-only */
    char *definitions[KEY_REFUND_NO + 1]; /* per key kind: wf_definitions_of_kind */
    char suspect[40];           /* the event of the last one-event page, "" when none */
};

/* What a page claims, up to $1 events, in the transaction that folds
   them: the rows of correlation_queue (replays, re-plans) when it has
   any; otherwise the next events of one hash chain after its progress
   (correlation_progress, migration 012), which moves past them. Chains
   take turns: the one whose progress moved longest ago first. A chain
   another correlator holds is skipped, as are queue rows it holds. */
#define CLAIM_CTE                                                                          \
    "WITH q AS (SELECT event_id FROM correlation_queue ORDER BY enqueued_at "            \
    "  LIMIT $1 FOR UPDATE SKIP LOCKED), "                                               \
    "qtaken AS (DELETE FROM correlation_queue x USING q WHERE x.event_id = q.event_id "  \
    "  RETURNING x.event_id), "                                                          \
    "c AS (SELECT p.chain_id, p.seq FROM correlation_progress p "                        \
    "  JOIN chain_heads h ON h.chain_id = p.chain_id "                                   \
    "  WHERE h.seq > p.seq AND NOT EXISTS (SELECT 1 FROM q) "                            \
    "  ORDER BY p.updated_at, p.chain_id LIMIT 1 FOR UPDATE OF p SKIP LOCKED), "         \
    "fresh AS (SELECT e.event_id, e.seq FROM c, LATERAL (SELECT event_id, seq "          \
    "  FROM events WHERE chain_id = c.chain_id AND seq > c.seq ORDER BY seq "            \
    "  LIMIT $1) e), "                                                                   \
    "moved AS (UPDATE correlation_progress p SET seq = f.last, updated_at = now() "      \
    "  FROM (SELECT max(seq) AS last FROM fresh) f, c "                                  \
    "  WHERE p.chain_id = c.chain_id AND f.last IS NOT NULL RETURNING p.chain_id), "     \
    "taken AS (SELECT event_id FROM qtaken UNION ALL SELECT event_id FROM fresh) "

/* Writes the outline of one recorded definition (definition_steps): its
   title, seed items and steps with their titles, as the loader read them,
   in one statement; a definition that has its rows keeps them. */
static void
record_outline (PGconn *conn, const workflow_def_t *d)
{
    strbuf_t steps, items;
    strbuf_init (&steps);
    strbuf_init (&items);
    strbuf_putc (&items, '{');
    for (size_t i = 0; i < d->n_seed_items; i++)
        strbuf_printf (&items, "%s%d", i ? "," : "", d->seed_items[i]);
    strbuf_putc (&items, '}');
    strbuf_putc (&steps, '[');
    for (size_t i = 0; i < d->n_steps; i++) {
        const step_def_t *st = &d->steps[i];
        strbuf_printf (&steps, "%s{\"step_no\":%zu,\"step\":", i ? "," : "", i + 1);
        strbuf_json_string (&steps, st->id);
        strbuf_puts (&steps, ",\"step_title\":");
        if (st->title)
            strbuf_json_string (&steps, st->title);
        else
            strbuf_puts (&steps, "null");
        strbuf_puts (&steps, ",\"agency\":");
        strbuf_json_string (&steps, st->agency);
        strbuf_putc (&steps, '}');
    }
    strbuf_putc (&steps, ']');
    char version[16];
    snprintf (version, sizeof version, "%d", d->version);
    const char *params[6] = {d->name, version, d->digest_hex, d->title, items.data,
                             steps.data};
    PGresult *res = PQexecParams (
        conn,
        "INSERT INTO public.definition_steps (workflow, version, digest, workflow_title, "
        "  seed_items, step_no, step, step_title, agency) "
        "SELECT $1, $2::integer, $3, $4, $5::integer[], s.step_no, s.step, s.step_title, "
        "  s.agency FROM jsonb_to_recordset($6::jsonb) AS s(step_no integer, step text, "
        "  step_title text, agency text) "
        "ON CONFLICT DO NOTHING",
        6, NULL, params, NULL, NULL, 0);
    stmt_ok (res, "record a workflow definition's steps");
    PQclear (res);
    strbuf_free (&steps);
    strbuf_free (&items);
}

/* Records the hub's definitions; an instance names the one it started
   under. The body stored is the bytes the hub loaded and digested, not the
   file as it may read now. With each, its outline (record_outline); and
   the outline of any stored definition that has none yet (recorded before
   the outlines were), read back from its stored bytes. */
static void
register_definitions (PGconn *conn, const workflow_set_t *set)
{
    for (size_t i = 0; i < workflow_set_count (set); i++) {
        const workflow_def_t *d = workflow_set_get (set, i);
        char version[16];
        snprintf (version, sizeof version, "%d", d->version);
        const char *params[5] = {d->name, version, d->digest_hex, d->path, d->source};
        PGresult *res =
            PQexecParams (conn,
                          "INSERT INTO workflow_definitions (workflow, version, digest, "
                          "source_file, body) VALUES ($1, $2, $3, $4, $5) "
                          "ON CONFLICT DO NOTHING",
                          5, NULL, params, NULL, NULL, 0);
        stmt_ok (res, "record the workflow definitions");
        PQclear (res);
        record_outline (conn, d);
    }
    PGresult *old = PQexec (
        conn, "SELECT d.workflow, d.version, d.digest, d.body FROM workflow_definitions d "
              "WHERE NOT EXISTS (SELECT 1 FROM public.definition_steps s "
              "  WHERE s.workflow = d.workflow AND s.version = d.version "
              "    AND s.digest = d.digest)");
    int n_old = stmt_ok (old, "find definitions without their steps") ? PQntuples (old) : 0;
    for (int r = 0; r < n_old; r++) {
        char label[200], err[2048];
        snprintf (label, sizeof label, "workflow_definitions[%s]", PQgetvalue (old, r, 2));
        workflow_set_t *stored =
            workflow_set_load_bytes (label, PQgetvalue (old, r, 3),
                                     (size_t) PQgetlength (old, r, 3), NULL, 0, err,
                                     sizeof err);
        const workflow_def_t *d = stored ? workflow_set_get (stored, 0) : NULL;
        if (d && strcmp (d->name, PQgetvalue (old, r, 0)) == 0
            && d->version == atoi (PQgetvalue (old, r, 1))
            && strcmp (d->digest_hex, PQgetvalue (old, r, 2)) == 0)
            record_outline (conn, d);
        else
            log_warn ("a stored definition's steps are not listed: it no longer loads",
                      "workflow=%s version=%s digest=%s problems=%s",
                      log_q (PQgetvalue (old, r, 0)), log_q (PQgetvalue (old, r, 1)),
                      log_q (PQgetvalue (old, r, 2)),
                      log_q (stored ? "its name, version or digest differs" : err));
        workflow_set_destroy (&stored);
    }
    PQclear (old);
}

static uint64_t
key_hash (const char *kind, const char *value)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = kind; *p; p++)
        h = (h ^ (unsigned char) *p) * 1099511628211ULL;
    h = (h ^ ':') * 1099511628211ULL;
    for (const char *p = value; *p; p++)
        h = (h ^ (unsigned char) *p) * 1099511628211ULL;
    return h;
}

static int
compare_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

/* Loads the definition with this digest from workflow_definitions (once;
   kept for the life of the thread). NULL when it is gone or no longer
   loads. */
static workflow_set_t *
pinned_set (correlate_t *self, PGconn *conn, const char *digest)
{
    for (size_t i = 0; i < self->n_pinned; i++)
        if (strcmp (self->pinned[i].digest, digest) == 0)
            return self->pinned[i].set;
    const char *p[1] = {digest};
    PGresult *res = PQexecParams (conn,
                                  "SELECT workflow, body FROM workflow_definitions "
                                  "WHERE digest = $1 LIMIT 1",
                                  1, NULL, p, NULL, NULL, 0);
    workflow_set_t *set = NULL;
    if (PQresultStatus (res) == PGRES_TUPLES_OK && PQntuples (res) == 1) {
        /* from the stored bytes themselves: no file is written */
        char label[160], err[2048];
        snprintf (label, sizeof label, "workflow_definitions[%s]", digest);
        set = workflow_set_load_bytes (label, PQgetvalue (res, 0, 1),
                                       (size_t) PQgetlength (res, 0, 1), NULL, 0, err,
                                       sizeof err);
        if (!set)
            log_warn ("an instance's original definition no longer loads; "
                      "the current one applies",
                      "workflow=%s digest=%s problems=%s", log_q (PQgetvalue (res, 0, 0)),
                      log_q (digest), log_q (err));
    }
    PQclear (res);
    if (set) {
        self->pinned = realloc (self->pinned, (self->n_pinned + 1) * sizeof *self->pinned);
        if (!self->pinned)
            abort ();
        snprintf (self->pinned[self->n_pinned].digest, sizeof self->pinned->digest, "%s",
                  digest);
        self->pinned[self->n_pinned++].set = set;
        log_info ("running instances keep their original definition",
                  "workflow=%s digest=%s", log_q (workflow_set_get (set, 0)->name),
                  log_q (digest));
    }
    return set;
}

/* The instances of one page's keys as stored: who started under what. */
typedef struct {
    correlate_t *self;   /* for the pinned-set cache */
    PGconn *conn;        /* to load old definitions */
    PGresult *rows;      /* read_pins: ..., workflow, instance_no, digest, key ordinal */
    long ordinal;        /* the key being folded: its place in the page's keys, from 1 */
} pin_ctx_t;

/* The stored run instance_no of current's workflow on the key being folded
   (read_pins orders the rows by key and number: a binary search, so a key
   with thousands of runs costs no more than its runs' count times a log). */
static const workflow_def_t *
pin_definition (void *user, const workflow_def_t *current, int instance_no,
                const workflow_set_t **set)
{
    pin_ctx_t *ctx = user;
    int lo = 0, hi = PQntuples (ctx->rows);
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        long o = atol (PQgetvalue (ctx->rows, mid, 5));
        if (o < ctx->ordinal
            || (o == ctx->ordinal && atoi (PQgetvalue (ctx->rows, mid, 3)) < instance_no))
            lo = mid + 1;
        else
            hi = mid;
    }
    for (int i = lo; i < PQntuples (ctx->rows); i++) {
        if (atol (PQgetvalue (ctx->rows, i, 5)) != ctx->ordinal
            || atoi (PQgetvalue (ctx->rows, i, 3)) != instance_no)
            break;
        if (strcmp (PQgetvalue (ctx->rows, i, 2), current->name) != 0)
            continue;
        const char *digest = PQgetvalue (ctx->rows, i, 4);
        if (strcmp (digest, current->digest_hex) == 0)
            return NULL;
        workflow_set_t *old = pinned_set (ctx->self, ctx->conn, digest);
        const workflow_def_t *def = old ? workflow_set_find (old, current->name) : NULL;
        if (def)
            *set = old;
        return def;
    }
    return NULL;
}

/* Which keys of the page fold from a settled point (fold.h): from the
   latest one of the key, computed under the definitions the hub runs,
   that every event of the page for the key follows. The others fold their
   whole history (no such point: a new key, new definitions, an event
   older than every point kept). */
static bool
choose_resumes (PGconn *conn, wf_key_t *keys, size_t n_keys, const char *const kp[2])
{
    strbuf_t bs, ds;
    strbuf_init (&bs);
    strbuf_init (&ds);
    for (size_t i = 0; i < n_keys; i++) {
        char t[40];
        stmt_array_add (&bs, stmt_ts_or_null (keys[i].claimed_ms, t, sizeof t));
        stmt_array_add (&ds, keys[i].definitions);
    }
    const char *p[4] = {kp[0], kp[1], stmt_array_end (&bs), stmt_array_end (&ds)};
    PGresult *res = NULL;
    bool good = stmt_params (
        conn,
        "SELECT (extract(epoch FROM c.settled_at) * 1000)::bigint, c.runs::text "
        "FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[]) "
        "  WITH ORDINALITY AS t(k, v, b, d, o) "
        "LEFT JOIN LATERAL (SELECT x.settled_at, x.runs FROM key_checkpoints x "
        "  WHERE x.key_kind = t.k AND x.key_value = t.v AND x.settled_at < t.b "
        "  AND x.definitions = t.d ORDER BY x.settled_at DESC LIMIT 1) c ON true "
        "ORDER BY t.o",
        4, p, "read settled points", &res);
    strbuf_free (&bs);
    strbuf_free (&ds);
    if (!good)
        return false;
    for (size_t i = 0; i < n_keys && i < (size_t) PQntuples (res); i++) {
        wf_key_t *k = &keys[i];
        if (PQgetisnull (res, (int) i, 0))
            continue;
        k->runs = json_loads (PQgetvalue (res, (int) i, 1), 0, NULL);
        k->resume = json_is_object (k->runs);
        k->settled_ms = atoll (PQgetvalue (res, (int) i, 0));
    }
    PQclear (res);
    return true;
}

/* Reads the stored runs a fold may pin to their definition (pin_definition):
   every run of a key that folds whole; the runs started after a resumed
   key's settled point. A resumed key with such a run under another
   definition than the current one folds whole instead: its settled point
   was judged on the current definitions. */
static bool
read_pins (PGconn *conn, const workflow_set_t *set, wf_key_t *keys, size_t n_keys,
           PGresult **rows)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        /* the runs started after each key's settled point (all of a key
           that folds whole): those a fold may make again */
        strbuf_t ks, vs, as;
        strbuf_init (&ks);
        strbuf_init (&vs);
        strbuf_init (&as);
        for (size_t i = 0; i < n_keys; i++) {
            char t[40];
            stmt_array_add (&ks, keys[i].kind);
            stmt_array_add (&vs, keys[i].value);
            stmt_array_add (&as, wf_key_after (&keys[i], t, sizeof t));
        }
        const char *p[3] = {stmt_array_end (&ks), stmt_array_end (&vs), stmt_array_end (&as)};
        bool good = stmt_params (
            conn,
            "SELECT w.key_kind, w.key_value, w.workflow, w.instance_no, w.digest, t.o "
            "FROM unnest($1::text[], $2::text[], $3::timestamptz[]) WITH ORDINALITY "
            "  AS t(k, v, a, o) "
            "JOIN workflow_instances w ON w.key_kind = t.k AND w.key_value = t.v "
            "  AND w.started_at > t.a ORDER BY t.o, w.instance_no",
            3, p, "read instance definitions", rows);
        strbuf_free (&ks);
        strbuf_free (&vs);
        strbuf_free (&as);
        if (!good)
            return false;
        bool again = false;
        for (int r = 0; r < PQntuples (*rows); r++) {
            wf_key_t *k = &keys[atoll (PQgetvalue (*rows, r, 5)) - 1];
            const workflow_def_t *def = workflow_set_find (set, PQgetvalue (*rows, r, 2));
            if (!k->resume || !def || strcmp (PQgetvalue (*rows, r, 4), def->digest_hex) == 0)
                continue;
            k->resume = false;
            again = true;
        }
        if (!again || attempt == 1)
            return true;
        PQclear (*rows); /* read again: those keys need every run */
        *rows = NULL;
    }
    return true;
}

static int
runs_before (void *user, const workflow_def_t *def)
{
    return wf_key_runs_before (user, def);
}

#define PAGE_STALE_CALENDAR (-2) /* correlate_page: reload the calendar, then retry */

/* Processes one page (CLAIM_CTE) in one transaction. Returns the number
   of events taken (0 when none waits), -1 after a failure, or
   PAGE_STALE_CALENDAR when the calendar changed since calendar_version
   (both rolled back). The check comes after the claim: a re-plan queued
   after a calendar change is never folded on the calendar before it. */
static int
correlate_page (correlate_t *self, PGconn *conn, const workflow_set_t *set,
                const calendar_t *calendar, int64_t calendar_version,
                const fold_options_t *options, int page)
{
    const hub_config_t *config = self->config;
    stmt_forget_failure ();
    self->suspect[0] = '\0';
    if (!stmt_exec (conn, "BEGIN", "begin correlation"))
        return -1;
    char limit[16];
    snprintf (limit, sizeof limit, "%d", page);
    const char *lp[1] = {limit};
    /* the first row counts the page (and names its first event), the
       others are its distinct keys */
    PGresult *claim = PQexecParams (
        conn,
        CLAIM_CTE ", "
        "keyed AS (INSERT INTO case_keys (key_kind, key_value, occurred_at, event_id) "
        "  SELECT k.key, k.value, e.occurred_at, e.event_id FROM events e "
        "  JOIN taken t ON t.event_id = e.event_id, jsonb_each_text(e.keys) k "
        "  ON CONFLICT DO NOTHING) "
        "SELECT NULL, NULL, (SELECT count(*) FROM taken), "
        "  (SELECT min(event_id::text) FROM taken), 0 AS n "
        "UNION ALL SELECT * FROM (SELECT k.key, k.value, "
        "  min((extract(epoch FROM e.occurred_at) * 1000)::bigint), NULL, 1 "
        "  FROM events e JOIN taken t ON t.event_id = e.event_id, "
        "  jsonb_each_text(e.keys) k GROUP BY k.key, k.value) ks "
        "ORDER BY 5, 1, 2",
        1, NULL, lp, NULL, NULL, 0);
    if (!stmt_ok (claim, "claim correlation queue")) {
        PQclear (claim);
        db_exec (conn, "ROLLBACK", "rollback correlation");
        return -1;
    }
    int taken = PQntuples (claim) ? atoi (PQgetvalue (claim, 0, 2)) : 0;
    snprintf (self->suspect, sizeof self->suspect, "%s",
              taken == 1 ? PQgetvalue (claim, 0, 3) : "");
    if (taken) {
        int64_t version = calendar_sync_version (conn);
        if (version != calendar_version) {
            PQclear (claim);
            db_exec (conn, "ROLLBACK", "rollback correlation");
            return version < 0 ? -1 : PAGE_STALE_CALENDAR;
        }
    }
    /* keys that some workflow correlates on */
    size_t n_keys = 0;
    wf_key_t *keys = calloc ((size_t) PQntuples (claim) + 1, sizeof *keys);
    int64_t *hashes = calloc ((size_t) PQntuples (claim) + 1, sizeof *hashes);
    if (!keys || !hashes)
        abort ();
    for (int i = 1; i < PQntuples (claim); i++) { /* row 0 counts the page */
        key_kind_t kind;
        if (!key_kind_parse (PQgetvalue (claim, i, 0), &kind))
            continue;
        bool used = false;
        for (size_t w = 0; w < workflow_set_count (set) && !used; w++)
            used = workflow_set_get (set, w)->key == kind;
        if (!used)
            continue;
        wf_key_t *k = &keys[n_keys];
        k->kind = PQgetvalue (claim, i, 0);
        k->kind_id = kind;
        k->definitions = self->definitions[kind];
        k->value = PQgetvalue (claim, i, 1);
        k->claimed_ms = atoll (PQgetvalue (claim, i, 2));
        hashes[n_keys++] = (int64_t) key_hash (k->kind, k->value);
    }
    bool good = true;
    PGresult *rows = NULL;
    PGresult *pin_rows = NULL; /* read_pins */
    fold_event_t *events = NULL;
    json_t **attrs = NULL;
    size_t n_rows = 0;
    if (n_keys) {
        /* lock the keys in one order everywhere: no deadlock between hubs */
        qsort (hashes, n_keys, sizeof *hashes, compare_i64);
        strbuf_t hs, ks, vs;
        strbuf_init (&hs);
        strbuf_init (&ks);
        strbuf_init (&vs);
        for (size_t i = 0; i < n_keys; i++) {
            char h[24];
            snprintf (h, sizeof h, "%lld", (long long) hashes[i]);
            stmt_array_add (&hs, h);
            stmt_array_add (&ks, keys[i].kind);
            stmt_array_add (&vs, keys[i].value);
        }
        const char *hp[1] = {stmt_array_end (&hs)};
        PGresult *res = PQexecParams (conn,
                                      "SELECT count(pg_advisory_xact_lock(h)) "
                                      "FROM unnest($1::bigint[]) h",
                                      1, NULL, hp, NULL, NULL, 0);
        good = stmt_ok (res, "lock correlation keys");
        PQclear (res);
        const char *kp[2] = {stmt_array_end (&ks), stmt_array_end (&vs)};
        if (good)
            good = choose_resumes (conn, keys, n_keys, kp)
                   && read_pins (conn, set, keys, n_keys, &pin_rows);
        if (good) {
            /* supervision marks parked events expired with SKIP LOCKED:
               holding the keys' waiting rows keeps it from marking (and
               logging) one that this page takes */
            res = PQexecParams (conn,
                                "SELECT 1 FROM unmatched_events u "
                                "JOIN unnest($1::text[], $2::text[]) AS t(k, v) "
                                "ON u.key_kind = t.k AND u.key_value = t.v "
                                "WHERE u.expired_at IS NULL FOR UPDATE OF u",
                                2, NULL, kp, NULL, NULL, 0);
            good = stmt_ok (res, "hold parked events");
            PQclear (res);
        }
        if (good) {
            /* a key whose settled point the page's events all follow:
               only the events after it */
            strbuf_t as;
            strbuf_init (&as);
            for (size_t i = 0; i < n_keys; i++) {
                char t[40];
                stmt_array_add (&as, wf_key_after (&keys[i], t, sizeof t));
            }
            const char *ep[3] = {kp[0], kp[1], stmt_array_end (&as)};
            rows = PQexecParams (
                conn,
                "SELECT t.o, e.event_id, e.agency, e.event_type, "
                "  (extract(epoch FROM e.occurred_at) * 1000)::bigint, e.attrs::text, "
                "  e.case_no "
                "FROM unnest($1::text[], $2::text[], $3::timestamptz[]) WITH ORDINALITY "
                "  AS t(k, v, a, o) "
                "JOIN case_keys ck ON ck.key_kind = t.k AND ck.key_value = t.v "
                "  AND " WF_FOLLOWS ("ck.occurred_at", "t.a") " "
                "JOIN events e ON e.event_id = ck.event_id ORDER BY 1",
                3, NULL, ep, NULL, NULL, 0);
            good = stmt_ok (rows, "read the events of the keys");
            strbuf_free (&as);
        }
        strbuf_free (&hs);
        strbuf_free (&ks);
        strbuf_free (&vs);
    }
    if (good && rows) {
        n_rows = (size_t) PQntuples (rows);
        events = calloc (n_rows + 1, sizeof *events);
        attrs = calloc (n_rows + 1, sizeof *attrs);
        if (!events || !attrs)
            abort ();
        size_t k = 0;
        for (size_t i = 0; i < n_rows; i++) {
            fold_event_t *e = &events[i];
            snprintf (e->event_id, sizeof e->event_id, "%s", PQgetvalue (rows, (int) i, 1));
            e->agency = PQgetvalue (rows, (int) i, 2);
            e->event_type = PQgetvalue (rows, (int) i, 3);
            e->case_no = PQgetvalue (rows, (int) i, 6);
            e->occurred_at_ms = atoll (PQgetvalue (rows, (int) i, 4));
            attrs[i] = json_loads (PQgetvalue (rows, (int) i, 5), 0, NULL);
            if (!attrs[i])
                attrs[i] = json_object ();
            e->attrs = attrs[i];
            /* rows come ordered by the key's place in keys: each key's run */
            k = (size_t) atoll (PQgetvalue (rows, (int) i, 0)) - 1;
            if (k < n_keys) {
                if (!keys[k].count)
                    keys[k].first = i;
                keys[k].count++;
            }
        }
        wf_page_t *out = wf_page_new ();
        /* the definitions the page's existing instances started under */
        pin_ctx_t pins = {self, conn, pin_rows, 0};
        fold_options_t pinned_options = *options;
        pinned_options.pin = pin_definition;
        pinned_options.pin_user = &pins;
        for (size_t i = 0; i < n_keys && good; i++) {
            if (!keys[i].count)
                continue;
            fold_result_t result;
            pins.ordinal = (long) i + 1;
            pinned_options.runs_before = keys[i].resume ? runs_before : NULL;
            pinned_options.runs_user = &keys[i];
            fold (set, keys[i].kind_id, events + keys[i].first, keys[i].count, calendar,
                  &pinned_options, &result);
            wf_page_add_key (out, set, &keys[i], &result, events + keys[i].first);
            fold_result_free (&result);
        }
        if (good)
            good = wf_page_flush (conn, out);
        wf_page_destroy (&out);
    }
    if (pin_rows)
        PQclear (pin_rows);
    size_t n_resumed = 0; /* keys folded from their settled point */
    for (size_t i = 0; i < n_keys; i++) {
        n_resumed += keys[i].resume;
        json_decref (keys[i].runs);
    }
    for (size_t i = 0; attrs && i < n_rows; i++)
        json_decref (attrs[i]);
    free (attrs);
    free (events);
    if (rows)
        PQclear (rows);
    free (keys);
    free (hashes);
    PQclear (claim);
    if (!good || !stmt_exec (conn, "COMMIT", "commit correlation")) {
        db_exec (conn, "ROLLBACK", "rollback correlation");
        log_warn ("correlation page rolled back, will retry", "hub=%s events=%d",
                  log_q (config->hub_id), taken);
        return -1;
    }
    if (taken)
        log_debug ("correlated", "hub=%s events=%d keys=%zu resumed=%zu",
                   log_q (config->hub_id), taken, n_keys, n_resumed);
    return taken;
}

/* Warns when the official calendar does not cover the next 60 days: their
   deadlines would be counted on the weekend rule alone (provisional). */
static void
warn_calendar_coverage (PGconn *conn, const hub_config_t *config)
{
    PGresult *res = PQexec (conn, "SELECT public.calendar_uncovered_years(60)");
    if (PQresultStatus (res) == PGRES_TUPLES_OK && !PQgetisnull (res, 0, 0))
        log_warn ("the working-day calendar does not cover the next 60 days: deadlines "
                  "there count weekends only and are marked provisional; load the "
                  "State Council's arrangement with 'hubctl calendar import FILE'",
                  "hub=%s missing_years=%s", log_q (config->hub_id),
                  log_q (PQgetvalue (res, 0, 0)));
    PQclear (res);
}

/* Takes the event that failed alone (self->suspect) out of correlation:
   out of correlation_queue, or past it in its chain's progress when it is
   the chain's next event, and files it as a dead letter
   (CORRELATION_FAILED) with the error: one event the correlator cannot
   handle must not stop every other. */
static void
set_aside (correlate_t *self, PGconn *conn)
{
    const hub_config_t *config = self->config;
    if (!*self->suspect)
        return;
    char reason[600];
    snprintf (reason, sizeof reason, "correlation failed: %s", stmt_last_error ());
    const char *p[3] = {config->hub_id, reason, self->suspect};
    PGresult *res = PQexecParams (
        conn,
        "WITH gone AS (DELETE FROM correlation_queue WHERE event_id = $3::uuid "
        "  RETURNING event_id), "
        "moved AS (UPDATE correlation_progress p SET seq = e.seq, updated_at = now() "
        "  FROM events e WHERE e.event_id = $3::uuid AND p.chain_id = e.chain_id "
        "    AND p.seq = e.seq - 1 RETURNING e.event_id) "
        "INSERT INTO dead_letters (hub_id, sender, agency, event_id, case_no, event_type, "
        "  code, reason) "
        "SELECT $1, e.adapter_id, e.agency, e.event_id::text, e.case_no, e.event_type, "
        "  'CORRELATION_FAILED', $2 FROM events e WHERE e.event_id = $3::uuid "
        "  AND (EXISTS (SELECT 1 FROM gone) OR EXISTS (SELECT 1 FROM moved)) "
        "ON CONFLICT (event_id, code) WHERE event_id IS NOT NULL DO UPDATE SET "
        "  attempts = dead_letters.attempts + 1, last_seen = now(), replayed_at = NULL "
        "RETURNING event_id, agency, case_no",
        3, NULL, p, NULL, NULL, 0);
    if (stmt_ok (res, "set aside an event") && PQntuples (res))
        log_error ("event set aside: it cannot be correlated",
                   "hub=%s event=%s agency=%s case=%s reason=%s", log_q (config->hub_id),
                   log_q (PQgetvalue (res, 0, 0)), log_q (PQgetvalue (res, 0, 1)),
                   log_q (PQgetvalue (res, 0, 2)), log_q (reason));
    PQclear (res);
    self->suspect[0] = '\0';
}

static void
correlate_run (void *pipe, void *arg)
{
    correlate_t *self = arg;
    const hub_config_t *config = self->config;
    PGconn *conn = NULL;
    calendar_t *calendar = NULL;
    int64_t calendar_version = 0; /* the calendar_changes id it includes */
    bool calendar_stale = false;  /* a page (or a check) saw a newer calendar */
    int64_t calendar_checked = 0; /* when calendar_changes was last looked at */
    fold_options_t options = {config->immediate_minutes, config->office_hours, NULL, NULL,
                              NULL, NULL};
    long wait_ms = 0;
    int page = CLAIM_PAGE;    /* queue rows per transaction; 1 while hunting a failure */
    long backoff_ms = 0;      /* after a transient failure: the wait before the retry */
    int64_t busy_until = 0;   /* ingest said it is saturated: yield until then */
    int64_t last_page_ms = 0; /* when the last page was taken */
    while (true) {
        zmq_pollitem_t item = {pipe, 0, ZMQ_POLLIN, 0};
        bool stop = false;
        if (zmq_poll (&item, 1, wait_ms) > 0) {
            /* read every word waiting, not one per turn: stale "busy" words
               must not keep the thread yielding after the load is gone */
            char b;
            int n;
            while (!stop && (n = zmq_recv (pipe, &b, 1, ZMQ_DONTWAIT)) >= 0) {
                if (n == 0)
                    stop = true;
                else if (b == 'B')
                    busy_until = clock_mono_ms () + BUSY_YIELD_MS;
            }
        }
        if (stop)
            break;
        /* ingest first: while it is saturated, take one page a second and
           catch up when it eases (the lag shows as correlation_backlog's age) */
        int64_t now = clock_mono_ms ();
        if (now < busy_until && now - last_page_ms < 1000) {
            wait_ms = (long) (busy_until - now);
            continue;
        }
        last_page_ms = now;
        wait_ms = 1000; /* after a failure, retry in a second */
        if (!conn) {
            char err[512];
            if (!(conn = db_connect (config, "onenet-hub correlate")))
                continue;
            if (migrate_apply (conn, err, sizeof err) < 0
                || calendar_sync_seed (conn, err, sizeof err) < 0) {
                log_warn ("correlation waits for the schema", "hub=%s error=%s",
                          log_q (config->hub_id), log_q (err));
                PQfinish (conn);
                conn = NULL;
                continue;
            }
            register_definitions (conn, self->set);
            warn_calendar_coverage (conn, config);
            calendar_stale = true; /* it may have changed while we were away */
        }
        /* every change is logged in calendar_changes (by trigger): reloading
           when its newest id moves is all it takes to stay current */
        if (!calendar || calendar_stale) {
            char err[512];
            int64_t version = 0;
            calendar_t *fresh = calendar_sync_load (conn, &version, err, sizeof err);
            if (fresh) {
                if (calendar && version != calendar_version)
                    log_info ("working-day calendar reloaded", "hub=%s version=%lld",
                              log_q (config->hub_id), (long long) version);
                calendar_destroy (&calendar);
                calendar = fresh;
                calendar_version = version;
                calendar_stale = false;
                wf_replan_after_calendar_change (conn, config, version);
            }
            else {
                /* no folding on a calendar known to be stale: again in a second */
                log_warn ("could not load the working-day calendar", "hub=%s error=%s",
                          log_q (config->hub_id), log_q (err));
                if (!calendar || db_lost (conn)) { /* connect again, migrations first */
                    PQfinish (conn);
                    conn = NULL;
                }
                continue;
            }
        }
        /* a change with no event to fold still moves every deadline it
           touches: look for one every second */
        if (clock_mono_ms () - calendar_checked >= CALENDAR_CHECK_MS) {
            calendar_checked = clock_mono_ms ();
            int64_t version = calendar_sync_version (conn);
            if (version >= 0 && version != calendar_version) {
                calendar_stale = true;
                wait_ms = 0;
                continue;
            }
        }
        int n = correlate_page (self, conn, self->set, calendar, calendar_version, &options,
                                page);
        if (n == PAGE_STALE_CALENDAR) {
            calendar_stale = true;
            wait_ms = 0;
            continue;
        }
        bool transient = n < 0 && !stmt_last_failure_is_data_error ();
        if (n < 0 && db_lost (conn)) {
            PQfinish (conn);
            conn = NULL;
        }
        else if (transient) {
            /* not the events' fault: the same page again, later */
            backoff_ms = backoff_ms ? backoff_ms * 2 : 250;
            if (backoff_ms > 30000)
                backoff_ms = 30000;
            log_warn ("correlation failed, will retry", "hub=%s sqlstate=%s retry_ms=%ld",
                      log_q (config->hub_id),
                      log_q (*stmt_last_sqlstate () ? stmt_last_sqlstate () : "none"),
                      backoff_ms);
        }
        else if (n < 0 && page > 1)
            page = 1; /* find the event that fails, one at a time */
        else if (n < 0)
            set_aside (self, conn);
        else {
            page = CLAIM_PAGE;
            backoff_ms = 0;
        }
        /* a full page: go again at once; otherwise look again shortly */
        wait_ms = n == page   ? 0
                  : transient ? backoff_ms
                  : n < 0     ? 1000
                              : config->correlate_idle_ms;
    }
    calendar_destroy (&calendar);
    for (size_t i = 0; i < self->n_pinned; i++)
        workflow_set_destroy (&self->pinned[i].set);
    free (self->pinned);
    if (conn)
        PQfinish (conn);
}

static void
correlate_free_definitions (correlate_t *self)
{
    for (int k = 0; k <= KEY_REFUND_NO; k++)
        free (self->definitions[k]);
}

correlate_t *
correlate_start (void *zmq_ctx, const hub_config_t *config, const workflow_set_t *set,
                 const char *pipe_endpoint)
{
    correlate_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = config;
    self->set = set;
    for (int k = 0; k <= KEY_REFUND_NO; k++)
        self->definitions[k] = wf_definitions_of_kind (set, (key_kind_t) k);
    self->worker = worker_start (zmq_ctx, pipe_endpoint, correlate_run, self);
    if (!self->worker) {
        correlate_free_definitions (self);
        free (self);
        return NULL;
    }
    return self;
}

void
correlate_join (correlate_t **self_p)
{
    if (!*self_p)
        return;
    worker_join (&(*self_p)->worker);
    correlate_free_definitions (*self_p);
    free (*self_p);
    *self_p = NULL;
}
