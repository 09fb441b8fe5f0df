/*  wf_store: the workflow state a fold writes, see wf_store.h. */
#include "wf_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "stmt.h"
#include "strbuf.h"

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
enum { K_WORKFLOW, K_KIND, K_VALUE, K_AFTER, K_COUNT };
/* per key; the first three are what parked events are judged by */
enum { Y_KIND, Y_VALUE, Y_AFTER, Y_DEFS, Y_COUNT };
enum { C_KIND, C_VALUE, C_SETTLED, C_RUNS, C_DEFS, C_COUNT };
enum { U_KIND, U_VALUE, U_EVENT, U_AGENCY, U_TYPE, U_OCCURRED, U_TTL, U_COUNT };

struct wf_page {
    strbuf_t inst[I_COUNT]; /* one element per instance */
    strbuf_t step[S_COUNT]; /* one per step; S_INSTANCE holds the instance ordinal */
    strbuf_t ev[E_COUNT];   /* one per (instance, event); E_INSTANCE holds the ordinal */
    strbuf_t runs[K_COUNT]; /* one per (workflow, key) the page folded */
    strbuf_t keys[Y_COUNT]; /* the page's keys: kind, value, read after, definitions */
    strbuf_t settled[C_COUNT]; /* per settled point the page's folds found */
    strbuf_t un[U_COUNT];   /* one per parked event */
    strbuf_t task[T_COUNT]; /* one per step that hands its agency a task */
    size_t n_instances;     /* instances so far */
};

static void
page_init (wf_page_t *p)
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
    for (int i = 0; i < Y_COUNT; i++)
        strbuf_init (&p->keys[i]);
    for (int i = 0; i < C_COUNT; i++)
        strbuf_init (&p->settled[i]);
    for (int i = 0; i < U_COUNT; i++)
        strbuf_init (&p->un[i]);
    for (int i = 0; i < T_COUNT; i++)
        strbuf_init (&p->task[i]);
}

static void
page_free (wf_page_t *p)
{
    for (int i = 0; i < I_COUNT; i++)
        strbuf_free (&p->inst[i]);
    for (int i = 0; i < S_COUNT; i++)
        strbuf_free (&p->step[i]);
    for (int i = 0; i < E_COUNT; i++)
        strbuf_free (&p->ev[i]);
    for (int i = 0; i < K_COUNT; i++)
        strbuf_free (&p->runs[i]);
    for (int i = 0; i < Y_COUNT; i++)
        strbuf_free (&p->keys[i]);
    for (int i = 0; i < C_COUNT; i++)
        strbuf_free (&p->settled[i]);
    for (int i = 0; i < U_COUNT; i++)
        strbuf_free (&p->un[i]);
    for (int i = 0; i < T_COUNT; i++)
        strbuf_free (&p->task[i]);
}

char *
wf_definitions_of_kind (const workflow_set_t *set, key_kind_t kind)
{
    strbuf_t b;
    strbuf_init (&b);
    for (size_t w = 0; w < workflow_set_count (set); w++) {
        const workflow_def_t *def = workflow_set_get (set, w);
        if (def->key == kind)
            strbuf_printf (&b, "%s%s@%s", b.len ? "," : "", def->name, def->digest_hex);
    }
    return b.data ? b.data : str_dup ("");
}

const char *
wf_key_after (const wf_key_t *key, char *buf, size_t size)
{
    return key->resume ? stmt_ts_or_null (key->settled_ms, buf, size) : "-infinity";
}

int
wf_key_runs_before (const wf_key_t *key, const workflow_def_t *def)
{
    if (!key->resume)
        return 0;
    json_t *n = json_object_get (key->runs, def->name);
    return json_is_integer (n) ? (int) json_integer_value (n) : 0;
}

/* Adds one key's fold to the page. */
void
wf_page_add_key (wf_page_t *p, const workflow_set_t *set, const wf_key_t *key,
                 const fold_result_t *r, const fold_event_t *events)
{
    char num[32], t[40], after_buf[40];
    key_kind_t kind = key->kind_id;
    const char *after = wf_key_after (key, after_buf, sizeof after_buf);
    stmt_array_add (&p->keys[Y_KIND], key->kind);
    stmt_array_add (&p->keys[Y_VALUE], key->value);
    stmt_array_add (&p->keys[Y_AFTER], after);
    stmt_array_add (&p->keys[Y_DEFS], key->definitions);
    /* the key's settled points: those after the one the fold resumed from
       (all, for a fold of the whole history) are the fold's */
    size_t n_wf = workflow_set_count (set);
    for (size_t s = 0; s < r->n_settled; s++) {
        json_t *runs = json_object ();
        for (size_t w = 0; w < n_wf; w++) {
            const workflow_def_t *def = workflow_set_get (set, w);
            if (def->key == kind)
                json_object_set_new (runs, def->name,
                                     json_integer (r->settled_runs[s * n_wf + w]));
        }
        char *runs_text = json_dumps (runs, JSON_COMPACT | JSON_SORT_KEYS);
        stmt_array_add (&p->settled[C_KIND], key->kind);
        stmt_array_add (&p->settled[C_VALUE], key->value);
        stmt_array_add (&p->settled[C_SETTLED],
                        stmt_ts_or_null (r->settled_at_ms[s], t, sizeof t));
        stmt_array_add (&p->settled[C_RUNS], runs_text);
        stmt_array_add (&p->settled[C_DEFS], key->definitions);
        free (runs_text);
        json_decref (runs);
    }
    for (size_t i = 0; i < r->n_instances; i++) {
        const fold_instance_t *inst = &r->instances[i];
        size_t ordinal = ++p->n_instances;
        stmt_array_add (&p->inst[I_WORKFLOW], inst->def->name);
        snprintf (num, sizeof num, "%d", inst->def->version);
        stmt_array_add (&p->inst[I_VERSION], num);
        stmt_array_add (&p->inst[I_DIGEST], inst->def->digest_hex);
        stmt_array_add (&p->inst[I_KIND], key->kind);
        stmt_array_add (&p->inst[I_VALUE], key->value);
        snprintf (num, sizeof num, "%d", inst->instance_no);
        stmt_array_add (&p->inst[I_NO], num);
        stmt_array_add (&p->inst[I_STATE], instance_state_name (inst->state));
        stmt_array_add (&p->inst[I_STARTED],
                        stmt_ts_or_null (inst->started_at_ms, t, sizeof t));
        stmt_array_add (&p->inst[I_ENDED],
                        stmt_ts_or_null (inst->ended_at_ms, t, sizeof t));
        stmt_array_add (&p->inst[I_START_EVENT], events[inst->start_event].event_id);
        char *attrs = json_dumps (inst->attrs, JSON_COMPACT | JSON_SORT_KEYS);
        stmt_array_add (&p->inst[I_ATTRS], attrs);
        free (attrs);
        snprintf (num, sizeof num, "%zu", inst->n_events);
        stmt_array_add (&p->inst[I_EVENTS], num);
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
                          log_q (st->deadline->by_attr));
            stmt_array_add (&p->step[S_INSTANCE], num);
            stmt_array_add (&p->step[S_STEP], st->def->id);
            stmt_array_add (&p->step[S_AGENCY], st->def->agency);
            stmt_array_add (&p->step[S_REQUIRED], st->required ? "t" : "f");
            stmt_array_add (&p->step[S_READY],
                            stmt_ts_or_null (st->ready_at_ms, t, sizeof t));
            stmt_array_add (&p->step[S_DUE], stmt_ts_or_null (st->due_at_ms, t, sizeof t));
            stmt_array_add (&p->step[S_WARN],
                            stmt_ts_or_null (st->warn_at_ms, t, sizeof t));
            stmt_array_add (&p->step[S_COMPLETED],
                            stmt_ts_or_null (st->completed_at_ms, t, sizeof t));
            stmt_array_add (&p->step[S_BY], st->completed_by >= 0
                                                ? events[st->completed_by].event_id
                                                : NULL);
            stmt_array_add (&p->step[S_PROVISIONAL],
                            st->beyond_calendar && st->due_at_ms ? "t" : "f");
            if (st->def->task) {
                stmt_array_add (&p->task[T_INSTANCE], num);
                stmt_array_add (&p->task[T_STEP], st->def->id);
                stmt_array_add (&p->task[T_KIND], st->def->task);
                stmt_array_add (&p->task[T_PAYLOAD], st->def->payload_json);
            }
        }
        for (size_t k = 0; k < inst->n_events; k++) {
            stmt_array_add (&p->ev[E_INSTANCE], num);
            stmt_array_add (&p->ev[E_EVENT], events[inst->events[k]].event_id);
        }
    }
    /* the workflows of this key kind the fold covered: their runs that it
       no longer makes are gone (rare: a late event merged two runs) */
    for (size_t w = 0; w < workflow_set_count (set); w++) {
        const workflow_def_t *def = workflow_set_get (set, w);
        if (def->key != kind)
            continue;
        stmt_array_add (&p->runs[K_WORKFLOW], def->name);
        stmt_array_add (&p->runs[K_KIND], key->kind);
        stmt_array_add (&p->runs[K_VALUE], key->value);
        /* the runs started by a settled point the fold resumed from are
           not its to judge */
        stmt_array_add (&p->runs[K_AFTER], after);
    }
    for (size_t u = 0; u < r->n_unmatched; u++) {
        const fold_event_t *e = &events[r->unmatched[u]];
        snprintf (num, sizeof num, "%lld milliseconds", (long long) r->unmatched_ttl_ms[u]);
        stmt_array_add (&p->un[U_KIND], key->kind);
        stmt_array_add (&p->un[U_VALUE], key->value);
        stmt_array_add (&p->un[U_EVENT], e->event_id);
        stmt_array_add (&p->un[U_AGENCY], e->agency);
        stmt_array_add (&p->un[U_TYPE], e->event_type);
        stmt_array_add (&p->un[U_OCCURRED],
                        stmt_ts_or_null (e->occurred_at_ms, t, sizeof t));
        stmt_array_add (&p->un[U_TTL], num);
    }
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
issue_tasks (PGconn *conn, wf_page_t *p, const char *id_list)
{
    if (p->task[T_INSTANCE].len == 0)
        return true;
    const char *tp[T_COUNT + 1] = {
        id_list, stmt_array_end (&p->task[T_INSTANCE]), stmt_array_end (&p->task[T_STEP]),
        stmt_array_end (&p->task[T_KIND]), stmt_array_end (&p->task[T_PAYLOAD])};
    PGresult *res = NULL;
    if (!stmt_params (
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
    if (!stmt_params (
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
            "RETURNING t.agency, t.seq, t.kind, t.workflow, t.key_kind, t.key_value, "
            "t.step, "
            "  t.withdrawn_reason",
            1, tp, "withdraw tasks", &res))
        return false;
    for (int i = 0; i < PQntuples (res); i++) {
        bool withdrawn = !PQgetisnull (res, i, 7);
        log_info (
            withdrawn ? "task withdrawn" : "task reinstated",
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
bool
wf_page_flush (PGconn *conn, wf_page_t *p)
{
    const char *ip[I_COUNT];
    for (int i = 0; i < I_COUNT; i++)
        ip[i] = stmt_array_end (&p->inst[i]);
    /* the stored run each folded instance continues: the row whose start
       event the instance holds (its own start first). A run whose start
       moved earlier (an earlier start event of the same case arrived late)
       keeps its row, its tasks and its breaches; a case that happened
       earlier and arrived late gets a row of its own */
    /* array_end closes a literal: once per array */
    const char *ev_instance = stmt_array_end (&p->ev[E_INSTANCE]);
    const char *ev_event = stmt_array_end (&p->ev[E_EVENT]);
    const char *mp[6] = {ip[I_WORKFLOW],    ip[I_KIND],  ip[I_VALUE],
                         ip[I_START_EVENT], ev_instance, ev_event};
    if (!stmt_params (
            conn,
            "WITH f AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], "
            "  $4::uuid[]) WITH ORDINALITY AS t(wf, k, v, se, ord)), "
            "ev AS (SELECT * FROM unnest($5::int[], $6::uuid[]) AS t(o, e)), "
            /* each instance's events first, so that every pair finds its row
               by the unique (start event, workflow): joined on the key, a
               hot key's runs would meet every row of the key (quadratic) */
            "fe AS MATERIALIZED (SELECT f.ord, f.wf, f.k, f.v, f.se, ev.e FROM f "
            "  JOIN ev ON ev.o = f.ord), "
            "pick AS (SELECT DISTINCT ON (fe.ord) fe.se, w.id FROM fe "
            "  JOIN workflow_instances w ON w.start_event = fe.e AND w.workflow = fe.wf "
            "  ORDER BY fe.ord, (w.start_event = fe.se) DESC, w.id) "
            "UPDATE workflow_instances w SET start_event = pick.se FROM pick "
            "WHERE w.id = pick.id AND w.start_event <> pick.se",
            6, mp, "match runs to their stored rows", NULL))
        return false;
    /* version and digest stay those the instance started under */
    if (!stmt_params (
            conn,
            "INSERT INTO workflow_instances (workflow, version, digest, key_kind, "
            "key_value, instance_no, state, started_at, ended_at, start_event, attrs, "
            "events) SELECT * FROM unnest($1::text[], $2::int[], $3::text[], "
            "$4::text[], $5::text[], $6::int[], $7::text[], $8::timestamptz[], "
            "$9::timestamptz[], $10::uuid[], $11::jsonb[], $12::int[]) "
            /* a row is the run its start event began (an instance is a case,
               its number only says where it stands among its key's runs) */
            "ON CONFLICT (start_event, workflow) DO UPDATE SET "
            "instance_no = EXCLUDED.instance_no, state = EXCLUDED.state, "
            "started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at, "
            "attrs = EXCLUDED.attrs, events = EXCLUDED.events, updated_at = now() "
            /* a refold mostly finds its runs as they were: leave those be */
            "WHERE (workflow_instances.instance_no, workflow_instances.state, "
            "  workflow_instances.started_at, workflow_instances.ended_at, "
            "  workflow_instances.attrs, workflow_instances.events) IS DISTINCT FROM "
            "  (EXCLUDED.instance_no, EXCLUDED.state, EXCLUDED.started_at, "
            "  EXCLUDED.ended_at, EXCLUDED.attrs, EXCLUDED.events)",
            I_COUNT, ip, "upsert workflow instances", NULL))
        return false;
    /* the ids, in page order */
    PGresult *ids = NULL;
    const char *kp[2] = {ip[I_WORKFLOW], ip[I_START_EVENT]};
    if (!stmt_params (
            conn,
            /* by start event and workflow alone: named by its key too, a
               run could be looked for among a hot key's thousands */
            "SELECT w.id FROM unnest($1::text[], $2::uuid[]) WITH ORDINALITY "
            "AS t(wf, se, ord) JOIN workflow_instances w ON w.start_event = t.se "
            "AND w.workflow = t.wf ORDER BY t.ord",
            2, kp, "read instance ids", &ids))
        return false;
    strbuf_t id_array;
    strbuf_init (&id_array);
    for (int i = 0; i < PQntuples (ids); i++)
        stmt_array_add (&id_array, PQgetvalue (ids, i, 0));
    PQclear (ids);
    const char *id_list = stmt_array_end (&id_array);

    const char *sp[S_COUNT + 1];
    sp[0] = id_list;
    for (int i = 0; i < S_COUNT; i++)
        sp[i + 1] = stmt_array_end (&p->step[i]);
    const char *ep[E_COUNT + 1] = {id_list, ev_instance, ev_event};
    const char *rp[5] = {stmt_array_end (&p->runs[K_WORKFLOW]),
                         stmt_array_end (&p->runs[K_KIND]),
                         stmt_array_end (&p->runs[K_VALUE]), id_list,
                         stmt_array_end (&p->runs[K_AFTER])};
    const char *kp_all[Y_COUNT];
    for (int i = 0; i < Y_COUNT; i++)
        kp_all[i] = stmt_array_end (&p->keys[i]);
    const char *up[U_COUNT + Y_DEFS];
    for (int i = 0; i < U_COUNT; i++)
        up[i] = stmt_array_end (&p->un[i]);
    for (int i = 0; i < Y_DEFS; i++)
        up[U_COUNT + i] = kp_all[i];
    const char *cp[C_COUNT];
    for (int i = 0; i < C_COUNT; i++)
        cp[i] = stmt_array_end (&p->settled[i]);
    const char *bp[1] = {id_list};
    bool good =
        stmt_params (
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
        /* a step done after its deadline is a breach, and one done after
           its warning point was warned of, even if no tick saw it open then
           (its events came late, or all at once): what the case says, not
           when the hub heard it; one withdrawn earlier holds again */
        && stmt_params (
            conn,
            "INSERT INTO breaches (instance_id, step, agency, kind, due_at, "
            "completed_at) SELECT s.instance_id, s.step, s.agency, p.kind, s.due_at, "
            "s.completed_at FROM workflow_steps s CROSS JOIN LATERAL (VALUES "
            "  ('overdue', s.due_at), ('warning', s.warn_at)) AS p(kind, at) "
            "WHERE s.instance_id = ANY ($1::bigint[]) AND s.required "
            "AND s.due_at IS NOT NULL AND s.completed_at > p.at "
            "ON CONFLICT (instance_id, step, kind) DO UPDATE SET "
            "completed_at = EXCLUDED.completed_at, due_at = EXCLUDED.due_at, "
            "withdrawn_at = NULL, withdrawn_reason = NULL "
            "WHERE (breaches.completed_at, breaches.due_at, breaches.withdrawn_at) "
            "  IS DISTINCT FROM (EXCLUDED.completed_at, EXCLUDED.due_at, NULL)",
            1, bp, "record late steps", NULL)
        /* breaches follow the folded case: one whose cause is gone (the step
           was in fact done in time, its deadline moved past now with the
           calendar, the case ended before the deadline, the case no longer
           needs the step) is withdrawn, kept as history out of the counts;
           one that stands follows its step's current deadline */
        && stmt_params (
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
            "  WHEN s.completed_at IS NULL AND i.state = 'suspended' "
            "    AND (CASE b.kind WHEN 'overdue' THEN s.due_at ELSE s.warn_at END) IS NULL "
            "    THEN 'the case was suspended for a correction before the deadline' "
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
        && stmt_params (conn,
                        "UPDATE breaches b SET due_at = s.due_at FROM workflow_steps s "
                        "WHERE b.instance_id = ANY ($1::bigint[]) "
                        "AND b.withdrawn_at IS NULL AND s.instance_id = b.instance_id "
                        "AND s.step = b.step AND s.due_at IS NOT NULL "
                        "AND s.due_at <> b.due_at",
                        1, bp, "follow moved deadlines", NULL)
        && stmt_params (
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
        && stmt_params (
            conn,
            /* the rows the fold made are the ids read above (one per made
               run, by the unique key): a hashed id list, not a per-row
               search of the made runs */
            "WITH gone AS (UPDATE workflow_instances w SET state = 'superseded', "
            "  ended_at = NULL, events = 0, updated_at = now() FROM unnest($1::text[], "
            "  $2::text[], $3::text[], $5::timestamptz[]) AS t(wf, k, v, a) "
            "  WHERE w.key_kind = t.k AND w.key_value = t.v AND w.started_at > t.a "
            "  AND w.workflow = t.wf "
            "  AND w.state <> 'superseded' AND w.id <> ALL ($4::bigint[]) "
            "  RETURNING w.id), "
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
            5, rp, "supersede surplus instances", NULL)
        /* parked events an instance took leave the list, expired or not;
           the others stay (an expired one keeps its expired_at) */
        && stmt_params (
            conn,
            "WITH parked AS (SELECT * FROM unnest($1::text[], $2::text[], "
            "  $3::uuid[], $4::text[], $5::text[], $6::timestamptz[], "
            "  $7::interval[]) AS t(k, v, e, a, ty, o, l)), "
            "gone AS (DELETE FROM unmatched_events u USING unnest($8::text[], "
            "  $9::text[], $10::timestamptz[]) AS key(k, v, a) WHERE u.key_kind = key.k "
            "  AND u.key_value = key.v "
            /* a fold that resumed from a settled point judges only what
               occurred after it (in whole milliseconds, as folds see it) */
            "  AND " WF_FOLLOWS ("u.occurred_at", "key.a") " AND NOT EXISTS "
            "  (SELECT 1 FROM parked WHERE parked.e = u.event_id "
            "   AND parked.k = u.key_kind AND parked.v = u.key_value)) "
            "INSERT INTO unmatched_events (event_id, key_kind, key_value, agency, "
            "  event_type, occurred_at, expires_at) "
            "SELECT e, k, v, a, ty, o, now() + l FROM parked "
            "ON CONFLICT (event_id, key_kind, key_value) DO NOTHING",
            U_COUNT + Y_DEFS, up, "park unmatched events", NULL)
        /* the keys' settled points, for the next fold to resume from: the
           fold's replace those after the point it resumed from (a late
           event may have unsettled them) and any judged under other
           definitions; then a key keeps its 8 latest and, further back,
           the earliest of each span of time doubling from the newest (1-2
           minutes before it, 2-4, 4-8, ...): a late event of any age finds
           one before it, about as far back as it is late */
        && stmt_params (conn,
                        "DELETE FROM key_checkpoints x USING unnest($1::text[], $2::text[], "
                        "  $3::timestamptz[], $4::text[]) AS t(k, v, a, d) "
                        "WHERE x.key_kind = t.k AND x.key_value = t.v "
                        "  AND (x.settled_at > t.a OR x.definitions <> t.d)",
                        Y_COUNT, kp_all, "replace settled points", NULL)
        && stmt_params (conn,
                        "INSERT INTO key_checkpoints (key_kind, key_value, settled_at, runs, "
                        "  definitions) SELECT * FROM unnest($1::text[], $2::text[], "
                        "  $3::timestamptz[], $4::jsonb[], $5::text[]) "
                        "ON CONFLICT (key_kind, key_value, settled_at) DO NOTHING",
                        C_COUNT, cp, "record settled points", NULL)
        && stmt_params (
            conn,
            "WITH r AS (SELECT c.key_kind, c.key_value, c.settled_at, "
            "  row_number() OVER (PARTITION BY c.key_kind, c.key_value "
            "    ORDER BY c.settled_at DESC) AS rn, "
            "  max(c.settled_at) OVER (PARTITION BY c.key_kind, c.key_value) AS newest "
            "  FROM key_checkpoints c JOIN unnest($1::text[], $2::text[]) AS t(k, v) "
            "  ON c.key_kind = t.k AND c.key_value = t.v), "
            "b AS (SELECT r.*, row_number() OVER (PARTITION BY key_kind, key_value, "
            "  floor(log(2.0, greatest(extract(epoch FROM newest - settled_at) / 60, 1))) "
            "  ORDER BY settled_at) AS nb FROM r) "
            "DELETE FROM key_checkpoints c USING b WHERE c.key_kind = b.key_kind "
            "AND c.key_value = b.key_value AND c.settled_at = b.settled_at "
            "AND b.rn > 8 AND b.nb > 1",
            2, kp_all, "thin settled points", NULL);
    if (good)
        good = issue_tasks (conn, p, id_list) && withdraw_tasks (conn, id_list);
    strbuf_free (&id_array);
    return good;
}

wf_page_t *
wf_page_new (void)
{
    wf_page_t *p = calloc (1, sizeof *p);
    if (!p)
        abort ();
    page_init (p);
    return p;
}

void
wf_page_destroy (wf_page_t **p_p)
{
    if (!*p_p)
        return;
    page_free (*p_p);
    free (*p_p);
    *p_p = NULL;
}

/* After a calendar change (calendar_changes up to version): queues for
   refolding every instance whose counting windows may cover a changed day
   (started before the last changed day ended, with a deadline after the
   first began), so that open deadlines move and breaches follow within a
   minute, whether or not the case receives another event. Done once per
   change across all hubs: calendar_replanned, locked, holds how far. */
void
wf_replan_after_calendar_change (PGconn *conn, const hub_config_t *config, int64_t version)
{
    char v[24];
    snprintf (v, sizeof v, "%lld", (long long) version);
    if (!stmt_exec (conn, "BEGIN", "begin calendar re-plan"))
        return;
    /* the lock first, on its own: a row locked and updated by one statement
       is not seen by that statement's FOR UPDATE */
    PGresult *res = PQexec (conn, "SELECT last_id FROM calendar_replanned FOR UPDATE");
    bool good = stmt_ok (res, "lock the calendar re-plan") && PQntuples (res) == 1;
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
        good = stmt_ok (res, "re-plan after a calendar change");
    }
    if (good && stmt_exec (conn, "COMMIT", "commit calendar re-plan")) {
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
