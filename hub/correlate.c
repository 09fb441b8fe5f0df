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
#include "strbuf.h"

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
};

/* One key being folded, and the events read for it. The strings belong
   to the page's claim result: a key of any length the hub accepted (up to
   max-string bytes) is folded whole, never cut short. */
typedef struct {
    const char *kind;    /* key kind name */
    const char *value;   /* key value */
    size_t first, count; /* its events in the page's event array */
} key_slot_t;

/* Appends s to a PostgreSQL array literal being built in sb. */
static void
array_add (strbuf_t *sb, const char *s)
{
    strbuf_putc (sb, sb->len > 1 ? ',' : '{');
    if (!s) {
        strbuf_puts (sb, "NULL");
        return;
    }
    strbuf_putc (sb, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            strbuf_putc (sb, '\\');
        strbuf_putc (sb, *p);
    }
    strbuf_putc (sb, '"');
}

static const char *
array_end (strbuf_t *sb)
{
    if (sb->len == 0)
        strbuf_putc (sb, '{');
    strbuf_putc (sb, '}');
    return sb->data;
}

/* ms since the epoch as timestamptz text, or NULL for 0. */
static const char *
ts_or_null (int64_t ms, char *buf, size_t len)
{
    if (!ms)
        return NULL;
    clock_format_pg (ms, buf, len);
    return buf;
}

/* The last statement failure of this thread, for the dead letter of an
   event that cannot be correlated, and its SQLSTATE ("" when PostgreSQL
   gave none: the connection failed), which decides between setting the
   event aside and retrying. */
static _Thread_local char s_last_error[512];
static _Thread_local char s_last_sqlstate[6];

static bool
ok (PGresult *res, const char *what)
{
    ExecStatusType st = PQresultStatus (res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return true;
    const char *state = PQresultErrorField (res, PG_DIAG_SQLSTATE);
    snprintf (s_last_sqlstate, sizeof s_last_sqlstate, "%s", state ? state : "");
    snprintf (s_last_error, sizeof s_last_error, "%s: %s", what,
              PQresultErrorMessage (res));
    for (char *p = s_last_error; *p; p++)
        if (*p == '\n')
            *p = ' ';
    log_warn ("correlation statement failed", "what=%s sqlstate=%s error=%s", log_q (what),
              log_q (s_last_sqlstate[0] ? s_last_sqlstate : "none"),
              log_q (PQresultErrorMessage (res)));
    return false;
}

/* True when the last failure was the data's fault (SQLSTATE class 22, data
   exception, or 23, integrity constraint violation): the same events would
   fail again, so the one at fault is set aside. Anything else (a lock or
   statement timeout, a serialization failure, a deadlock, a server
   shutting down, too many connections) is the moment's fault: retried. */
static bool
last_failure_is_data_error (void)
{
    return strncmp (s_last_sqlstate, "22", 2) == 0
           || strncmp (s_last_sqlstate, "23", 2) == 0;
}

static bool
exec_ok (PGconn *conn, const char *sql, const char *what)
{
    PGresult *res = PQexec (conn, sql);
    bool good = ok (res, what);
    PQclear (res);
    return good;
}

/* Records the hub's definitions; an instance names the one it started
   under. The body stored is the bytes the hub loaded and digested, not the
   file as it may read now. */
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
        ok (res, "record the workflow definitions");
        PQclear (res);
    }
}

/* What one page's folds write, gathered as PostgreSQL array literals so
   that the whole page goes out in a handful of set-based statements
   instead of several per case. */
enum {
    I_WORKFLOW,
    I_VERSION,
    I_DIGEST,
    I_KIND,
    I_VALUE,
    I_NO,
    I_STATE,
    I_STARTED,
    I_ENDED,
    I_START_EVENT,
    I_ATTRS,
    I_EVENTS,
    I_COUNT
};
enum {
    S_INSTANCE,
    S_STEP,
    S_AGENCY,
    S_REQUIRED,
    S_READY,
    S_DUE,
    S_WARN,
    S_COMPLETED,
    S_BY,
    S_PROVISIONAL,
    S_COUNT
};
enum { E_INSTANCE, E_EVENT, E_COUNT };
enum { T_INSTANCE, T_STEP, T_KIND, T_PAYLOAD, T_COUNT };
enum { K_WORKFLOW, K_KIND, K_VALUE, K_COUNT };
enum { U_KIND, U_VALUE, U_EVENT, U_AGENCY, U_TYPE, U_OCCURRED, U_TTL, U_COUNT };

typedef struct {
    strbuf_t inst[I_COUNT]; /* one element per instance */
    strbuf_t step[S_COUNT]; /* one per step; S_INSTANCE holds the instance ordinal */
    strbuf_t ev[E_COUNT];   /* one per (instance, event); E_INSTANCE holds the ordinal */
    strbuf_t runs[K_COUNT]; /* one per (workflow, key) the page folded */
    strbuf_t keys[2];       /* the page's keys (kind, value) */
    strbuf_t un[U_COUNT];   /* one per parked event */
    strbuf_t task[T_COUNT]; /* one per step that hands its agency a task */
    size_t n_instances;     /* instances so far */
} page_t;

static void
page_init (page_t *p)
{
    memset (p, 0, sizeof *p);
    for (int i = 0; i < I_COUNT; i++)
        strbuf_init (&p->inst[i]);
    for (int i = 0; i < S_COUNT; i++)
        strbuf_init (&p->step[i]);
    for (int i = 0; i < E_COUNT; i++)
        strbuf_init (&p->ev[i]);
    for (int i = 0; i < K_COUNT; i++)
        strbuf_init (&p->runs[i]);
    for (int i = 0; i < 2; i++)
        strbuf_init (&p->keys[i]);
    for (int i = 0; i < U_COUNT; i++)
        strbuf_init (&p->un[i]);
    for (int i = 0; i < T_COUNT; i++)
        strbuf_init (&p->task[i]);
}

static void
page_free (page_t *p)
{
    for (int i = 0; i < I_COUNT; i++)
        strbuf_free (&p->inst[i]);
    for (int i = 0; i < S_COUNT; i++)
        strbuf_free (&p->step[i]);
    for (int i = 0; i < E_COUNT; i++)
        strbuf_free (&p->ev[i]);
    for (int i = 0; i < K_COUNT; i++)
        strbuf_free (&p->runs[i]);
    for (int i = 0; i < 2; i++)
        strbuf_free (&p->keys[i]);
    for (int i = 0; i < U_COUNT; i++)
        strbuf_free (&p->un[i]);
    for (int i = 0; i < T_COUNT; i++)
        strbuf_free (&p->task[i]);
}

/* Adds one key's fold to the page. */
static void
page_add_key (page_t *p, const workflow_set_t *set, const key_slot_t *key, key_kind_t kind,
              const fold_result_t *r, const fold_event_t *events)
{
    char num[32], t[40];
    array_add (&p->keys[0], key->kind);
    array_add (&p->keys[1], key->value);
    for (size_t i = 0; i < r->n_instances; i++) {
        const fold_instance_t *inst = &r->instances[i];
        size_t ordinal = ++p->n_instances;
        array_add (&p->inst[I_WORKFLOW], inst->def->name);
        snprintf (num, sizeof num, "%d", inst->def->version);
        array_add (&p->inst[I_VERSION], num);
        array_add (&p->inst[I_DIGEST], inst->def->digest_hex);
        array_add (&p->inst[I_KIND], key->kind);
        array_add (&p->inst[I_VALUE], key->value);
        snprintf (num, sizeof num, "%d", inst->instance_no);
        array_add (&p->inst[I_NO], num);
        array_add (&p->inst[I_STATE], instance_state_name (inst->state));
        array_add (&p->inst[I_STARTED], ts_or_null (inst->started_at_ms, t, sizeof t));
        array_add (&p->inst[I_ENDED], ts_or_null (inst->ended_at_ms, t, sizeof t));
        array_add (&p->inst[I_START_EVENT], events[inst->start_event].event_id);
        char *attrs = json_dumps (inst->attrs, JSON_COMPACT | JSON_SORT_KEYS);
        array_add (&p->inst[I_ATTRS], attrs);
        free (attrs);
        snprintf (num, sizeof num, "%zu", inst->n_events);
        array_add (&p->inst[I_EVENTS], num);
        snprintf (num, sizeof num, "%zu", ordinal);
        for (size_t s = 0; s < inst->def->n_steps; s++) {
            const fold_step_t *st = &inst->steps[s];
            if (st->beyond_calendar)
                log_warn ("deadline counted past the known calendar, weekends only",
                          "workflow=%s %s=%s step=%s agency=%s", log_q (inst->def->name),
                          key->kind, log_q (key->value), log_q (st->def->id),
                          log_q (st->def->agency));
            if (st->deadline_unresolved && st->required)
                log_warn ("deadline cannot be chosen: the case lacks the attribute it "
                          "depends on",
                          "workflow=%s %s=%s step=%s attribute=%s", log_q (inst->def->name),
                          key->kind, log_q (key->value), log_q (st->def->id),
                          log_q (st->def->deadline.by_attr));
            array_add (&p->step[S_INSTANCE], num);
            array_add (&p->step[S_STEP], st->def->id);
            array_add (&p->step[S_AGENCY], st->def->agency);
            array_add (&p->step[S_REQUIRED], st->required ? "t" : "f");
            array_add (&p->step[S_READY], ts_or_null (st->ready_at_ms, t, sizeof t));
            array_add (&p->step[S_DUE], ts_or_null (st->due_at_ms, t, sizeof t));
            array_add (&p->step[S_WARN], ts_or_null (st->warn_at_ms, t, sizeof t));
            array_add (&p->step[S_COMPLETED],
                       ts_or_null (st->completed_at_ms, t, sizeof t));
            array_add (&p->step[S_BY],
                       st->completed_by >= 0 ? events[st->completed_by].event_id : NULL);
            array_add (&p->step[S_PROVISIONAL],
                       st->beyond_calendar && st->due_at_ms ? "t" : "f");
            if (st->def->task) {
                array_add (&p->task[T_INSTANCE], num);
                array_add (&p->task[T_STEP], st->def->id);
                array_add (&p->task[T_KIND], st->def->task);
                array_add (&p->task[T_PAYLOAD], st->def->payload_json);
            }
        }
        for (size_t k = 0; k < inst->n_events; k++) {
            array_add (&p->ev[E_INSTANCE], num);
            array_add (&p->ev[E_EVENT], events[inst->events[k]].event_id);
        }
    }
    /* the workflows of this key kind the fold covered: their runs that it
       no longer makes are gone (rare: a late event merged two runs) */
    for (size_t w = 0; w < workflow_set_count (set); w++) {
        const workflow_def_t *def = workflow_set_get (set, w);
        if (def->key != kind)
            continue;
        array_add (&p->runs[K_WORKFLOW], def->name);
        array_add (&p->runs[K_KIND], key->kind);
        array_add (&p->runs[K_VALUE], key->value);
    }
    for (size_t u = 0; u < r->n_unmatched; u++) {
        const fold_event_t *e = &events[r->unmatched[u]];
        snprintf (num, sizeof num, "%lld milliseconds", (long long) r->unmatched_ttl_ms[u]);
        array_add (&p->un[U_KIND], key->kind);
        array_add (&p->un[U_VALUE], key->value);
        array_add (&p->un[U_EVENT], e->event_id);
        array_add (&p->un[U_AGENCY], e->agency);
        array_add (&p->un[U_TYPE], e->event_type);
        array_add (&p->un[U_OCCURRED], ts_or_null (e->occurred_at_ms, t, sizeof t));
        array_add (&p->un[U_TTL], num);
    }
}

static bool
run_params (PGconn *conn, const char *sql, int n, const char *const *params,
            const char *what, PGresult **out)
{
    PGresult *res = PQexecParams (conn, sql, n, NULL, params, NULL, NULL, 0);
    bool good = ok (res, what);
    if (out && good)
        *out = res;
    else
        PQclear (res);
    return good;
}

/* Issues the tasks that steps now ready call for: one per (instance,
   step), numbered per agency without gaps (the agency's sequence row is
   locked until commit, in agency order, so concurrent hubs neither skip
   nor reuse a number and never deadlock). Same transaction as the state
   that caused them.

   Which steps get one is decided on the folded state, in occurrence
   order, not on what has arrived so far: a step gets its task when it
   became ready before its agency did it (not done, or done later) and
   before the instance ended. So every arrival order of the same events
   issues the same tasks, as if the events had come in the order they
   happened: a utility whose own event is delivered before the
   registration still gets the task the registration gave it. */
static bool
issue_tasks (PGconn *conn, page_t *p, const char *id_list)
{
    if (p->task[T_INSTANCE].len == 0)
        return true;
    const char *tp[T_COUNT + 1] = {
        id_list, array_end (&p->task[T_INSTANCE]), array_end (&p->task[T_STEP]),
        array_end (&p->task[T_KIND]), array_end (&p->task[T_PAYLOAD])};
    PGresult *res = NULL;
    if (!run_params (
            conn,
            "WITH want AS (SELECT ($1::bigint[])[o] AS instance_id, st, kind, fields "
            "  FROM unnest($2::int[], $3::text[], $4::text[], $5::jsonb[]) "
            "  AS t(o, st, kind, fields)), "
            /* the task carries the attributes its definition names, no more */
            "need AS (SELECT s.instance_id, s.step, s.agency, s.ready_at, s.due_at, "
            "  i.workflow, i.key_kind, i.key_value, w.kind, "
            "  (SELECT coalesce(jsonb_object_agg(f, i.attrs -> f), '{}') "
            "   FROM jsonb_array_elements_text(w.fields) AS f WHERE i.attrs ? f) AS attrs "
            "  FROM want w JOIN workflow_steps s ON s.instance_id = w.instance_id "
            "  AND s.step = w.st JOIN workflow_instances i ON i.id = s.instance_id "
            "  WHERE s.required AND s.ready_at IS NOT NULL "
            "  AND (s.completed_at IS NULL OR s.completed_at > s.ready_at) "
            "  AND (i.ended_at IS NULL OR i.ended_at > s.ready_at) "
            "  AND NOT EXISTS (SELECT 1 FROM tasks x "
            "    WHERE x.instance_id = s.instance_id AND x.step = s.step)), "
            "numbered AS (SELECT need.*, row_number () OVER (PARTITION BY agency "
            "  ORDER BY ready_at, instance_id, step) AS n FROM need), "
            "counts AS (SELECT agency, count(*) AS c FROM need GROUP BY agency), "
            "bumped AS (INSERT INTO agency_task_sequences AS a (agency, last_seq) "
            "  SELECT agency, c FROM counts ORDER BY agency "
            "  ON CONFLICT (agency) DO UPDATE SET last_seq = a.last_seq + "
            "EXCLUDED.last_seq "
            "  RETURNING agency, last_seq) "
            "INSERT INTO tasks (agency, seq, kind, instance_id, step, workflow, key_kind, "
            "  key_value, payload, ready_at, due_at) "
            "SELECT n.agency, b.last_seq - c.c + n.n, n.kind, n.instance_id, n.step, "
            "  n.workflow, n.key_kind, n.key_value, n.attrs, n.ready_at, n.due_at "
            "FROM numbered n JOIN bumped b ON b.agency = n.agency "
            "JOIN counts c ON c.agency = n.agency "
            "RETURNING agency, seq, kind, workflow, key_kind, key_value, step",
            T_COUNT + 1, tp, "issue tasks", &res))
        return false;
    for (int i = 0; i < PQntuples (res); i++)
        log_info ("task issued", "agency=%s seq=%s kind=%s workflow=%s %s=%s step=%s",
                  log_q (PQgetvalue (res, i, 0)), log_q (PQgetvalue (res, i, 1)),
                  log_q (PQgetvalue (res, i, 2)), log_q (PQgetvalue (res, i, 3)),
                  PQgetvalue (res, i, 4), log_q (PQgetvalue (res, i, 5)),
                  log_q (PQgetvalue (res, i, 6)));
    PQclear (res);
    return true;
}

/* Withdraws the tasks of the page's instances that the folded case no
   longer calls for, and reinstates those it calls for again: a task
   stands while its step is required, ready, not done by its agency by the
   time it became ready, and the run neither ended before that nor was
   superseded; the same rule issue_tasks issues by. So the tasks that stand
   are the same in every arrival order; a withdrawn one keeps its row and
   its seq, with when and why. */
static bool
withdraw_tasks (PGconn *conn, const char *id_list)
{
    const char *tp[1] = {id_list};
    PGresult *res = NULL;
    if (!run_params (
            conn,
            "WITH judged AS (SELECT t.id, CASE "
            "    WHEN s.instance_id IS NULL OR NOT s.required "
            "      THEN 'the step is no longer required' "
            "    WHEN i.state = 'superseded' "
            "      THEN 'its run was merged into another by a refold' "
            "    WHEN s.ready_at IS NULL THEN 'the step is no longer ready' "
            "    WHEN s.completed_at <= s.ready_at "
            "      THEN 'the agency had done the step before it was ready' "
            "    WHEN i.ended_at <= s.ready_at "
            "      THEN 'the case ended before the step was ready' END AS why "
            "  FROM public.tasks t "
            "  JOIN public.workflow_instances i ON i.id = t.instance_id "
            "  LEFT JOIN public.workflow_steps s ON s.instance_id = t.instance_id "
            "    AND s.step = t.step "
            "  WHERE t.instance_id = ANY ($1::bigint[])) "
            "UPDATE public.tasks t SET "
            "  withdrawn_at = CASE WHEN j.why IS NULL THEN NULL ELSE now() END, "
            "  withdrawn_reason = j.why "
            "FROM judged j WHERE t.id = j.id "
            "  AND (j.why IS NULL) <> (t.withdrawn_at IS NULL) "
            "RETURNING t.agency, t.seq, t.kind, t.workflow, t.key_kind, t.key_value, t.step, "
            "  t.withdrawn_reason",
            1, tp, "withdraw tasks", &res))
        return false;
    for (int i = 0; i < PQntuples (res); i++) {
        bool withdrawn = !PQgetisnull (res, i, 7);
        log_info (withdrawn ? "task withdrawn" : "task reinstated",
                  "agency=%s seq=%s kind=%s workflow=%s %s=%s step=%s reason=%s",
                  log_q (PQgetvalue (res, i, 0)), log_q (PQgetvalue (res, i, 1)),
                  log_q (PQgetvalue (res, i, 2)), log_q (PQgetvalue (res, i, 3)),
                  PQgetvalue (res, i, 4), log_q (PQgetvalue (res, i, 5)),
                  log_q (PQgetvalue (res, i, 6)),
                  log_q (withdrawn ? PQgetvalue (res, i, 7) : "the case calls for it again"));
    }
    PQclear (res);
    return true;
}

/* Writes the page: instances, their steps and events, breaches made or
   disproved by the new due times, surplus runs, parked events. */
static bool
page_flush (PGconn *conn, page_t *p)
{
    const char *ip[I_COUNT];
    for (int i = 0; i < I_COUNT; i++)
        ip[i] = array_end (&p->inst[i]);
    /* the stored run each folded instance continues: the row whose start
       event the instance holds (its own start first). A run whose start
       moved earlier (an earlier start event of the same case arrived late)
       keeps its row, its tasks and its breaches; a case that happened
       earlier and arrived late gets a row of its own */
    /* array_end closes a literal: once per array */
    const char *ev_instance = array_end (&p->ev[E_INSTANCE]);
    const char *ev_event = array_end (&p->ev[E_EVENT]);
    const char *mp[6] = {ip[I_WORKFLOW],    ip[I_KIND],  ip[I_VALUE],
                         ip[I_START_EVENT], ev_instance, ev_event};
    if (!run_params (
            conn,
            "WITH f AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], "
            "  $4::uuid[]) WITH ORDINALITY AS t(wf, k, v, se, ord)), "
            "ev AS (SELECT * FROM unnest($5::int[], $6::uuid[]) AS t(o, e)), "
            "pick AS (SELECT DISTINCT ON (f.ord) f.se, w.id FROM f "
            "  JOIN ev ON ev.o = f.ord JOIN workflow_instances w ON w.workflow = f.wf "
            "  AND w.key_kind = f.k AND w.key_value = f.v AND w.start_event = ev.e "
            "  ORDER BY f.ord, (w.start_event = f.se) DESC, w.id) "
            "UPDATE workflow_instances w SET start_event = pick.se FROM pick "
            "WHERE w.id = pick.id AND w.start_event <> pick.se",
            6, mp, "match runs to their stored rows", NULL))
        return false;
    /* version and digest stay those the instance started under */
    if (!run_params (
            conn,
            "INSERT INTO workflow_instances (workflow, version, digest, key_kind, "
            "key_value, instance_no, state, started_at, ended_at, start_event, attrs, "
            "events) SELECT * FROM unnest($1::text[], $2::int[], $3::text[], "
            "$4::text[], $5::text[], $6::int[], $7::text[], $8::timestamptz[], "
            "$9::timestamptz[], $10::uuid[], $11::jsonb[], $12::int[]) "
            /* a row is the run its start event began (an instance is a case,
               its number only says where it stands among its key's runs) */
            "ON CONFLICT (workflow, key_kind, key_value, start_event) DO UPDATE SET "
            "instance_no = EXCLUDED.instance_no, state = EXCLUDED.state, "
            "started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at, "
            "attrs = EXCLUDED.attrs, events = EXCLUDED.events, updated_at = now()",
            I_COUNT, ip, "upsert workflow instances", NULL))
        return false;
    /* the ids, in page order */
    PGresult *ids = NULL;
    const char *kp[4] = {ip[I_WORKFLOW], ip[I_KIND], ip[I_VALUE], ip[I_START_EVENT]};
    if (!run_params (
            conn,
            "SELECT w.id FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[]) "
            "WITH ORDINALITY AS t(wf, k, v, se, ord) JOIN workflow_instances w "
            "ON w.workflow = t.wf AND w.key_kind = t.k AND w.key_value = t.v "
            "AND w.start_event = t.se ORDER BY t.ord",
            4, kp, "read instance ids", &ids))
        return false;
    strbuf_t id_array;
    strbuf_init (&id_array);
    for (int i = 0; i < PQntuples (ids); i++)
        array_add (&id_array, PQgetvalue (ids, i, 0));
    PQclear (ids);
    const char *id_list = array_end (&id_array);

    const char *sp[S_COUNT + 1];
    sp[0] = id_list;
    for (int i = 0; i < S_COUNT; i++)
        sp[i + 1] = array_end (&p->step[i]);
    const char *ep[E_COUNT + 1] = {id_list, ev_instance, ev_event};
    const char *rp[7] = {array_end (&p->runs[K_WORKFLOW]),
                         array_end (&p->runs[K_KIND]),
                         array_end (&p->runs[K_VALUE]),
                         ip[I_WORKFLOW],
                         ip[I_KIND],
                         ip[I_VALUE],
                         ip[I_START_EVENT]};
    const char *up[U_COUNT + 2];
    for (int i = 0; i < U_COUNT; i++)
        up[i] = array_end (&p->un[i]);
    up[U_COUNT] = array_end (&p->keys[0]);
    up[U_COUNT + 1] = array_end (&p->keys[1]);
    const char *bp[1] = {id_list};
    bool good =
        run_params (
            conn,
            "INSERT INTO workflow_steps (instance_id, step, agency, required, ready_at, "
            "due_at, warn_at, completed_at, completed_by, provisional) "
            "SELECT ($1::bigint[])[o], s, a, r, re, du, wa, co, by, pr "
            "FROM unnest($2::int[], $3::text[], $4::text[], $5::boolean[], "
            "$6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], "
            "$10::uuid[], $11::boolean[]) AS t(o, s, a, r, re, du, wa, co, by, pr) "
            "ON CONFLICT (instance_id, step) DO UPDATE SET agency = EXCLUDED.agency, "
            "required = EXCLUDED.required, ready_at = EXCLUDED.ready_at, "
            "completed_at = EXCLUDED.completed_at, completed_by = EXCLUDED.completed_by, "
            "provisional = EXCLUDED.provisional, "
            /* a mark stands while its deadline stands and the step was not
                 in fact done in time (its event may be correlated late) */
            "overdue_at = CASE WHEN EXCLUDED.due_at IS DISTINCT FROM workflow_steps.due_at "
            "  OR EXCLUDED.completed_at <= EXCLUDED.due_at "
            "  THEN NULL ELSE workflow_steps.overdue_at END, "
            "warned_at = CASE WHEN EXCLUDED.warn_at IS DISTINCT FROM "
            "workflow_steps.warn_at "
            "  OR EXCLUDED.completed_at <= EXCLUDED.warn_at "
            "  THEN NULL ELSE workflow_steps.warned_at END, "
            "due_at = EXCLUDED.due_at, warn_at = EXCLUDED.warn_at "
            /* a refold mostly finds the steps as they were: leave those rows be */
            "WHERE (workflow_steps.agency, workflow_steps.required, "
            "workflow_steps.ready_at, "
            "  workflow_steps.due_at, workflow_steps.warn_at, workflow_steps.completed_at, "
            "  workflow_steps.completed_by, workflow_steps.provisional) IS DISTINCT FROM "
            "  (EXCLUDED.agency, EXCLUDED.required, EXCLUDED.ready_at, EXCLUDED.due_at, "
            "  EXCLUDED.warn_at, EXCLUDED.completed_at, EXCLUDED.completed_by, "
            "  EXCLUDED.provisional)",
            S_COUNT + 1, sp, "upsert workflow steps", NULL)
        /* a step done after its deadline is a breach even if no tick saw it
           late; one withdrawn earlier holds again */
        && run_params (
            conn,
            "INSERT INTO breaches (instance_id, step, agency, kind, due_at, "
            "completed_at) SELECT instance_id, step, agency, 'overdue', due_at, "
            "completed_at FROM workflow_steps WHERE instance_id = ANY ($1::bigint[]) "
            "AND required AND completed_at > due_at "
            "ON CONFLICT (instance_id, step, kind) DO UPDATE SET "
            "completed_at = EXCLUDED.completed_at, due_at = EXCLUDED.due_at, "
            "withdrawn_at = NULL, withdrawn_reason = NULL",
            1, bp, "record late steps", NULL)
        /* breaches follow the folded case: one whose cause is gone (the step
           was in fact done in time, its deadline moved past now with the
           calendar, the case ended before the deadline, the case no longer
           needs the step) is withdrawn, kept as history out of the counts;
           one that stands follows its step's current deadline */
        && run_params (
            conn,
            "WITH why AS (SELECT b.id, CASE "
            "  WHEN NOT s.required THEN 'the case no longer needs the step' "
            "  WHEN b.kind = 'overdue' AND s.completed_at <= s.due_at "
            "    THEN 'done in time' "
            "  WHEN b.kind = 'warning' AND s.completed_at <= s.warn_at "
            "    THEN 'done before the warning point' "
            "  WHEN s.completed_at IS NULL AND i.ended_at IS NOT NULL "
            "    AND (CASE b.kind WHEN 'overdue' THEN s.due_at ELSE s.warn_at END) IS NULL "
            "    THEN 'the case ended (' || i.state || ') before the deadline' "
            "  WHEN s.completed_at IS NULL "
            "    AND (CASE b.kind WHEN 'overdue' THEN s.due_at ELSE s.warn_at END) > now() "
            "    THEN 'the deadline moved to ' || to_char(s.due_at AT TIME ZONE "
            "      'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') || ' +08' "
            "  END AS reason "
            "  FROM breaches b JOIN workflow_steps s ON s.instance_id = b.instance_id "
            "  AND s.step = b.step JOIN workflow_instances i ON i.id = b.instance_id "
            "  WHERE b.instance_id = ANY ($1::bigint[]) AND b.withdrawn_at IS NULL) "
            "UPDATE breaches b SET withdrawn_at = now(), withdrawn_reason = why.reason "
            "FROM why WHERE b.id = why.id AND why.reason IS NOT NULL",
            1, bp, "withdraw disproved breaches", NULL)
        && run_params (conn,
                       "UPDATE breaches b SET due_at = s.due_at FROM workflow_steps s "
                       "WHERE b.instance_id = ANY ($1::bigint[]) AND b.kind = 'overdue' "
                       "AND b.withdrawn_at IS NULL AND s.instance_id = b.instance_id "
                       "AND s.step = b.step AND s.due_at IS NOT NULL "
                       "AND s.due_at <> b.due_at",
                       1, bp, "follow moved deadlines", NULL)
        && run_params (
            conn,
            "WITH n AS (SELECT ($1::bigint[])[o] AS i, e FROM "
            "  unnest($2::int[], $3::uuid[]) AS t(o, e)), "
            "gone AS (DELETE FROM instance_events ie "
            "  WHERE ie.instance_id = ANY ($1::bigint[]) AND NOT EXISTS "
            "  (SELECT 1 FROM n WHERE n.i = ie.instance_id AND n.e = ie.event_id)) "
            "INSERT INTO instance_events (instance_id, event_id) "
            "SELECT i, e FROM n ON CONFLICT DO NOTHING",
            E_COUNT + 1, ep, "record instance events", NULL)
        /* runs the fold no longer makes (a late event merged two runs)
           are kept as superseded, never deleted: their tasks stay issued
           (the agency's sequence keeps no hole), their clocks stop, their
           breaches are withdrawn; a later fold that starts the run again
           takes the row back */
        && run_params (
            conn,
            "WITH made AS (SELECT * FROM unnest($4::text[], $5::text[], $6::text[], "
            "  $7::uuid[]) AS f(wf, k, v, se)), "
            "gone AS (UPDATE workflow_instances w SET state = 'superseded', "
            "  ended_at = NULL, events = 0, updated_at = now() FROM unnest($1::text[], "
            "  $2::text[], $3::text[]) AS t(wf, k, v) "
            "  WHERE w.workflow = t.wf AND w.key_kind = t.k AND w.key_value = t.v "
            "  AND w.state <> 'superseded' AND NOT EXISTS (SELECT 1 FROM made "
            "    WHERE made.wf = w.workflow AND made.k = w.key_kind AND made.v = "
            "w.key_value "
            "    AND made.se = w.start_event) RETURNING w.id), "
            "steps AS (UPDATE workflow_steps s SET due_at = NULL, warn_at = NULL, "
            "  overdue_at = NULL, warned_at = NULL FROM gone WHERE s.instance_id = gone.id "
            "  RETURNING 1), "
            "evs AS (DELETE FROM instance_events ie USING gone "
            "  WHERE ie.instance_id = gone.id RETURNING 1), "
            /* its tasks keep their seq, withdrawn: the run that took its
               events issues what the case still calls for */
            "tks AS (UPDATE tasks t SET withdrawn_at = now(), withdrawn_reason = "
            "  'its run was merged into an earlier one when its case was read again' "
            "  FROM gone WHERE t.instance_id = gone.id AND t.withdrawn_at IS NULL "
            "  RETURNING 1) "
            "UPDATE breaches b SET withdrawn_at = now(), withdrawn_reason = "
            "  'the run was merged into an earlier one when its case was read again' "
            "FROM gone WHERE b.instance_id = gone.id AND b.withdrawn_at IS NULL",
            7, rp, "supersede surplus instances", NULL)
        /* parked events an instance took leave the list, expired or not;
           the others stay (an expired one keeps its expired_at) */
        && run_params (
            conn,
            "WITH parked AS (SELECT * FROM unnest($1::text[], $2::text[], "
            "  $3::uuid[], $4::text[], $5::text[], $6::timestamptz[], "
            "  $7::interval[]) AS t(k, v, e, a, ty, o, l)), "
            "gone AS (DELETE FROM unmatched_events u USING unnest($8::text[], "
            "  $9::text[]) AS key(k, v) WHERE u.key_kind = key.k "
            "  AND u.key_value = key.v AND NOT EXISTS "
            "  (SELECT 1 FROM parked WHERE parked.e = u.event_id "
            "   AND parked.k = u.key_kind AND parked.v = u.key_value)) "
            "INSERT INTO unmatched_events (event_id, key_kind, key_value, agency, "
            "  event_type, occurred_at, expires_at) "
            "SELECT e, k, v, a, ty, o, now() + l FROM parked "
            "ON CONFLICT (event_id, key_kind, key_value) DO NOTHING",
            U_COUNT + 2, up, "park unmatched events", NULL);
    if (good)
        good = issue_tasks (conn, p, id_list) && withdraw_tasks (conn, id_list);
    strbuf_free (&id_array);
    return good;
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
    correlate_t *self;     /* for the pinned-set cache */
    PGconn *conn;          /* to load old definitions */
    PGresult *rows;        /* key_kind, key_value, workflow, instance_no, digest */
    const key_slot_t *key; /* the key being folded */
} pin_ctx_t;

static const workflow_def_t *
pin_definition (void *user, const workflow_def_t *current, int instance_no,
                const workflow_set_t **set)
{
    pin_ctx_t *ctx = user;
    for (int i = 0; i < PQntuples (ctx->rows); i++) {
        if (atoi (PQgetvalue (ctx->rows, i, 3)) != instance_no
            || strcmp (PQgetvalue (ctx->rows, i, 2), current->name) != 0
            || strcmp (PQgetvalue (ctx->rows, i, 0), ctx->key->kind) != 0
            || strcmp (PQgetvalue (ctx->rows, i, 1), ctx->key->value) != 0)
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

#define PAGE_STALE_CALENDAR (-2) /* correlate_page: reload the calendar, then retry */

/* Processes one page of the queue in one transaction. Returns the number
   of queue rows taken (0 when empty), -1 after a failure, or
   PAGE_STALE_CALENDAR when the calendar changed since calendar_version
   (both rolled back). The check comes after the claim: a re-plan queued
   after a calendar change is never folded on the calendar before it. */
static int
correlate_page (correlate_t *self, PGconn *conn, const workflow_set_t *set,
                const calendar_t *calendar, int64_t calendar_version,
                const fold_options_t *options, int page)
{
    const hub_config_t *config = self->config;
    s_last_sqlstate[0] = '\0';
    if (!exec_ok (conn, "BEGIN", "begin correlation"))
        return -1;
    char limit[16];
    snprintf (limit, sizeof limit, "%d", page);
    const char *lp[1] = {limit};
    PGresult *claim = PQexecParams (
        conn,
        "WITH page AS (SELECT event_id FROM correlation_queue ORDER BY enqueued_at "
        "  LIMIT $1 FOR UPDATE SKIP LOCKED), "
        "taken AS (DELETE FROM correlation_queue q USING page "
        "  WHERE q.event_id = page.event_id RETURNING q.event_id), "
        "keyed AS (INSERT INTO case_keys (key_kind, key_value, event_id) "
        "  SELECT k.key, k.value, e.event_id FROM events e "
        "  JOIN taken t ON t.event_id = e.event_id, jsonb_each_text(e.keys) k "
        "  ON CONFLICT DO NOTHING) "
        "SELECT DISTINCT k.key, k.value, (SELECT count(*) FROM taken) FROM events e "
        "JOIN taken t ON t.event_id = e.event_id, jsonb_each_text(e.keys) k ORDER BY 1, 2",
        1, NULL, lp, NULL, NULL, 0);
    if (!ok (claim, "claim correlation queue")) {
        PQclear (claim);
        db_exec (conn, "ROLLBACK", "rollback correlation");
        return -1;
    }
    int taken = PQntuples (claim) ? atoi (PQgetvalue (claim, 0, 2)) : 0;
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
    key_slot_t *keys = calloc ((size_t) PQntuples (claim) + 1, sizeof *keys);
    int64_t *hashes = calloc ((size_t) PQntuples (claim) + 1, sizeof *hashes);
    if (!keys || !hashes)
        abort ();
    for (int i = 0; i < PQntuples (claim); i++) {
        key_kind_t kind;
        if (!key_kind_parse (PQgetvalue (claim, i, 0), &kind))
            continue;
        bool used = false;
        for (size_t w = 0; w < workflow_set_count (set) && !used; w++)
            used = workflow_set_get (set, w)->key == kind;
        if (!used)
            continue;
        key_slot_t *k = &keys[n_keys];
        k->kind = PQgetvalue (claim, i, 0);
        k->value = PQgetvalue (claim, i, 1);
        hashes[n_keys++] = (int64_t) key_hash (k->kind, k->value);
    }
    bool good = true;
    PGresult *rows = NULL;
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
            array_add (&hs, h);
            array_add (&ks, keys[i].kind);
            array_add (&vs, keys[i].value);
        }
        const char *hp[1] = {array_end (&hs)};
        PGresult *res = PQexecParams (conn,
                                      "SELECT count(pg_advisory_xact_lock(h)) "
                                      "FROM unnest($1::bigint[]) h",
                                      1, NULL, hp, NULL, NULL, 0);
        good = ok (res, "lock correlation keys");
        PQclear (res);
        const char *kp[2] = {array_end (&ks), array_end (&vs)};
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
            good = ok (res, "hold parked events");
            PQclear (res);
        }
        if (good) {
            rows = PQexecParams (
                conn,
                "SELECT t.k, t.v, e.event_id, e.agency, e.event_type, "
                "  (extract(epoch FROM e.occurred_at) * 1000)::bigint, e.attrs::text, "
                "  e.case_no "
                "FROM unnest($1::text[], $2::text[]) AS t(k, v) "
                "JOIN case_keys ck ON ck.key_kind = t.k AND ck.key_value = t.v "
                "JOIN events e ON e.event_id = ck.event_id ORDER BY 1, 2",
                2, NULL, kp, NULL, NULL, 0);
            good = ok (rows, "read the events of the keys");
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
            snprintf (e->event_id, sizeof e->event_id, "%s", PQgetvalue (rows, (int) i, 2));
            e->agency = PQgetvalue (rows, (int) i, 3);
            e->event_type = PQgetvalue (rows, (int) i, 4);
            e->case_no = PQgetvalue (rows, (int) i, 7);
            e->occurred_at_ms = atoll (PQgetvalue (rows, (int) i, 5));
            attrs[i] = json_loads (PQgetvalue (rows, (int) i, 6), 0, NULL);
            if (!attrs[i])
                attrs[i] = json_object ();
            e->attrs = attrs[i];
            /* rows come ordered by key: find each key's run */
            while (k < n_keys
                   && (strcmp (keys[k].kind, PQgetvalue (rows, (int) i, 0)) != 0
                       || strcmp (keys[k].value, PQgetvalue (rows, (int) i, 1)) != 0))
                k++;
            if (k < n_keys) {
                if (!keys[k].count)
                    keys[k].first = i;
                keys[k].count++;
            }
        }
        page_t out;
        page_init (&out);
        /* the definitions the page's existing instances started under */
        strbuf_t ks, vs;
        strbuf_init (&ks);
        strbuf_init (&vs);
        for (size_t i = 0; i < n_keys; i++) {
            array_add (&ks, keys[i].kind);
            array_add (&vs, keys[i].value);
        }
        const char *kp[2] = {array_end (&ks), array_end (&vs)};
        pin_ctx_t pins = {self, conn, NULL, NULL};
        good = run_params (conn,
                           "SELECT key_kind, key_value, workflow, instance_no, digest "
                           "FROM workflow_instances WHERE (key_kind, key_value) IN "
                           "(SELECT * FROM unnest($1::text[], $2::text[]))",
                           2, kp, "read instance definitions", &pins.rows);
        strbuf_free (&ks);
        strbuf_free (&vs);
        fold_options_t pinned_options = *options;
        pinned_options.pin = pin_definition;
        pinned_options.pin_user = &pins;
        for (size_t i = 0; i < n_keys && good; i++) {
            if (!keys[i].count)
                continue;
            key_kind_t kind;
            key_kind_parse (keys[i].kind, &kind);
            fold_result_t result;
            pins.key = &keys[i];
            fold (set, kind, events + keys[i].first, keys[i].count, calendar,
                  &pinned_options, &result);
            page_add_key (&out, set, &keys[i], kind, &result, events + keys[i].first);
            fold_result_free (&result);
        }
        if (good)
            good = page_flush (conn, &out);
        if (pins.rows)
            PQclear (pins.rows);
        page_free (&out);
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
    if (!good || !exec_ok (conn, "COMMIT", "commit correlation")) {
        db_exec (conn, "ROLLBACK", "rollback correlation");
        log_warn ("correlation page rolled back, will retry", "hub=%s events=%d",
                  log_q (config->hub_id), taken);
        return -1;
    }
    if (taken)
        log_debug ("correlated", "hub=%s events=%d keys=%zu", log_q (config->hub_id), taken,
                   n_keys);
    return taken;
}

/* After a calendar change (calendar_changes up to version): queues for
   refolding every instance whose counting windows may cover a changed day
   (started before the last changed day ended, with a deadline after the
   first began), so that open deadlines move and breaches follow within a
   minute, whether or not the case receives another event. Done once per
   change across all hubs: calendar_replanned, locked, holds how far. */
static void
replan_after_calendar_change (PGconn *conn, const hub_config_t *config, int64_t version)
{
    char v[24];
    snprintf (v, sizeof v, "%lld", (long long) version);
    if (!exec_ok (conn, "BEGIN", "begin calendar re-plan"))
        return;
    /* the lock first, on its own: a row locked and updated by one statement
       is not seen by that statement's FOR UPDATE */
    PGresult *res = PQexec (conn, "SELECT last_id FROM calendar_replanned FOR UPDATE");
    bool good = ok (res, "lock the calendar re-plan") && PQntuples (res) == 1;
    char last[24] = "0";
    if (good)
        snprintf (last, sizeof last, "%s", PQgetvalue (res, 0, 0));
    PQclear (res);
    res = NULL;
    if (good && atoll (last) < version) {
        const char *p[2] = {last, v};
        res = PQexecParams (
            conn,
            "WITH ch AS (SELECT min(first_day) AS f, max(last_day) AS l "
            "  FROM calendar_changes WHERE id > $1::bigint AND id <= $2::bigint), "
            "q AS (INSERT INTO correlation_queue (event_id) "
            "  SELECT DISTINCT i.start_event FROM workflow_instances i, ch "
            "  WHERE ch.f IS NOT NULL "
            "  AND i.started_at < ((ch.l + 1)::timestamp AT TIME ZONE 'Asia/Shanghai') "
            "  AND EXISTS (SELECT 1 FROM workflow_steps s WHERE s.instance_id = i.id "
            "    AND s.due_at > (ch.f::timestamp AT TIME ZONE 'Asia/Shanghai')) "
            "  ON CONFLICT DO NOTHING RETURNING 1), "
            "done AS (UPDATE calendar_replanned SET last_id = $2::bigint, "
            "  replanned_at = now() RETURNING 1) "
            "SELECT (SELECT count(*) FROM q), (SELECT f::text FROM ch), "
            "  (SELECT l::text FROM ch), (SELECT count(*) FROM done)",
            2, NULL, p, NULL, NULL, 0);
        good = ok (res, "re-plan after a calendar change");
    }
    if (good && exec_ok (conn, "COMMIT", "commit calendar re-plan")) {
        if (res && !PQgetisnull (res, 0, 1))
            log_info ("calendar changed: deadlines re-planned",
                      "hub=%s first_day=%s last_day=%s instances=%s",
                      log_q (config->hub_id), log_q (PQgetvalue (res, 0, 1)),
                      log_q (PQgetvalue (res, 0, 2)), log_q (PQgetvalue (res, 0, 0)));
    }
    else
        db_exec (conn, "ROLLBACK", "rollback calendar re-plan");
    PQclear (res);
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

/* Takes the oldest queued event out of correlation and files it as a dead
   letter (CORRELATION_FAILED) with the error: one event the correlator
   cannot handle must not stop every other. */
static void
set_aside_head (PGconn *conn, const hub_config_t *config)
{
    char reason[600];
    snprintf (reason, sizeof reason, "correlation failed: %s", s_last_error);
    const char *p[2] = {config->hub_id, reason};
    PGresult *res = PQexecParams (
        conn,
        "WITH head AS (SELECT event_id FROM correlation_queue ORDER BY enqueued_at "
        "  LIMIT 1 FOR UPDATE SKIP LOCKED), "
        "gone AS (DELETE FROM correlation_queue q USING head "
        "  WHERE q.event_id = head.event_id RETURNING q.event_id) "
        "INSERT INTO dead_letters (hub_id, sender, agency, event_id, case_no, event_type, "
        "  code, reason) "
        "SELECT $1, e.adapter_id, e.agency, e.event_id::text, e.case_no, e.event_type, "
        "  'CORRELATION_FAILED', $2 FROM gone JOIN events e ON e.event_id = gone.event_id "
        "ON CONFLICT (event_id, code) WHERE event_id IS NOT NULL DO UPDATE SET "
        "  attempts = dead_letters.attempts + 1, last_seen = now(), replayed_at = NULL "
        "RETURNING event_id, agency, case_no",
        2, NULL, p, NULL, NULL, 0);
    if (ok (res, "set aside an event") && PQntuples (res))
        log_error ("event set aside: it cannot be correlated",
                   "hub=%s event=%s agency=%s case=%s reason=%s", log_q (config->hub_id),
                   log_q (PQgetvalue (res, 0, 0)), log_q (PQgetvalue (res, 0, 1)),
                   log_q (PQgetvalue (res, 0, 2)), log_q (reason));
    PQclear (res);
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
    fold_options_t options = {config->immediate_minutes, config->office_hours, NULL, NULL};
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
           catch up when it eases (the lag shows as correlation_queue's age) */
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
                replan_after_calendar_change (conn, config, version);
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
        bool transient = n < 0 && !last_failure_is_data_error ();
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
                      log_q (s_last_sqlstate[0] ? s_last_sqlstate : "none"), backoff_ms);
        }
        else if (n < 0 && page > 1)
            page = 1; /* find the event that fails, one at a time */
        else if (n < 0)
            set_aside_head (conn, config);
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

correlate_t *
correlate_start (void *zmq_ctx, const hub_config_t *config, const workflow_set_t *set,
                 const char *pipe_endpoint)
{
    correlate_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = config;
    self->set = set;
    self->worker = worker_start (zmq_ctx, pipe_endpoint, correlate_run, self);
    if (!self->worker) {
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
    free (*self_p);
    *self_p = NULL;
}
