/*  fold: a key's workflows from its events, see fold.h. */
#include "fold.h"

#include <stdlib.h>
#include <string.h>

static void *
xcalloc (size_t n, size_t size)
{
    void *p = calloc (n ? n : 1, size);
    if (!p)
        abort ();
    return p;
}

static void *
xrealloc (void *p, size_t size)
{
    void *q = realloc (p, size ? size : 1);
    if (!q)
        abort ();
    return q;
}

const char *
instance_state_name (instance_state_t state)
{
    static const char *names[] = {"open", "suspended", "completed", "rejected",
                                  "cancelled"};
    return (unsigned) state < 5 ? names[state] : "unknown";
}

attr_value_t
fold_json_lookup (const char *name, void *json_object)
{
    attr_value_t v;
    memset (&v, 0, sizeof v);
    json_t *j = json_object_get ((json_t *) json_object, name);
    if (!j || json_is_null (j))
        v.kind = ATTR_VALUE_MISSING;
    else if (json_is_string (j)) {
        v.kind = ATTR_VALUE_TEXT;
        v.text = json_string_value (j);
    }
    else if (json_is_integer (j)) {
        v.kind = ATTR_VALUE_INTEGER;
        v.integer = json_integer_value (j);
    }
    else if (json_is_real (j)) {
        v.kind = ATTR_VALUE_NUMBER;
        v.number = json_real_value (j);
    }
    else if (json_is_boolean (j)) {
        v.kind = ATTR_VALUE_FLAG;
        v.flag = json_is_true (j);
    }
    else
        v.kind = ATTR_VALUE_MISSING;
    return v;
}

static int
compare_events (const void *a, const void *b)
{
    const fold_event_t *x = a, *y = b;
    if (x->occurred_at_ms != y->occurred_at_ms)
        return x->occurred_at_ms < y->occurred_at_ms ? -1 : 1;
    return strcmp (x->event_id, y->event_id);
}

/* Working state of one fold. */
typedef struct {
    const workflow_set_t *set;     /* the definitions */
    fold_event_t *events;          /* sorted events */
    size_t n;                      /* their count */
    const calendar_t *calendar;    /* working days */
    const fold_options_t *options; /* immediate budget, office hours */
    fold_result_t *result;         /* being built */
    size_t cap_instances;          /* capacity of result->instances */
    bool *relevant;                /* per event: some workflow of the key cares */
    bool *joined;                  /* per event: some instance took it */
    int64_t *ttl;                  /* per event: longest TTL among its workflows */
    int *quiet;                    /* per event: workflows settled just after it */
} fold_ctx_t;

static fold_instance_t *
new_instance (fold_ctx_t *ctx, const workflow_def_t *def, int start, int number)
{
    const workflow_set_t *set = ctx->set;
    if (ctx->options->pin) {
        const workflow_set_t *pinned_set = NULL;
        const workflow_def_t *pinned =
            ctx->options->pin (ctx->options->pin_user, def, number, &pinned_set);
        if (pinned && pinned_set) {
            def = pinned;
            set = pinned_set;
        }
    }
    fold_result_t *r = ctx->result;
    if (r->n_instances == ctx->cap_instances) {
        ctx->cap_instances = ctx->cap_instances ? 2 * ctx->cap_instances : 8;
        r->instances = xrealloc (r->instances, ctx->cap_instances * sizeof *r->instances);
    }
    fold_instance_t *inst = &r->instances[r->n_instances++];
    memset (inst, 0, sizeof *inst);
    inst->def = def;
    inst->set = set;
    inst->instance_no = number;
    inst->state = INSTANCE_OPEN;
    inst->started_at_ms = ctx->events[start].occurred_at_ms;
    inst->clock_at_ms = inst->started_at_ms;
    inst->start_event = start;
    inst->events = xcalloc (ctx->n, sizeof *inst->events);
    inst->attrs = json_object ();
    inst->steps = xcalloc (def->n_steps, sizeof *inst->steps);
    for (size_t s = 0; s < def->n_steps; s++) {
        inst->steps[s].def = &def->steps[s];
        inst->steps[s].completed_by = -1;
    }
    return inst;
}

static bool
step_required (const fold_instance_t *inst, size_t s)
{
    return workflow_cond_eval (inst->def->steps[s].when, fold_json_lookup, inst->attrs);
}

/* Completes the instance when what completes_when asks for is done. */
static void
check_complete (fold_instance_t *inst)
{
    const workflow_def_t *def = inst->def;
    int64_t last = 0;
    size_t n = def->completes_all ? def->n_steps : def->n_completes_when;
    for (size_t k = 0; k < n; k++) {
        size_t s = def->completes_all ? k : def->completes_when[k];
        if (!step_required (inst, s))
            continue;
        if (!inst->steps[s].completed_at_ms)
            return;
        if (inst->steps[s].completed_at_ms > last)
            last = inst->steps[s].completed_at_ms;
    }
    inst->state = INSTANCE_COMPLETED;
    inst->ended_at_ms = last > inst->started_at_ms ? last : inst->started_at_ms;
}

/* Applies event i to the instance: joins it, and does what its roles say. */
static void
apply (fold_ctx_t *ctx, fold_instance_t *inst, int i)
{
    fold_event_t *e = &ctx->events[i];
    inst->events[inst->n_events++] = i;
    ctx->joined[i] = true;
    json_object_update (inst->attrs, e->attrs);
    size_t count;
    const workflow_match_t *m =
        workflow_set_relevant (inst->set, e->agency, e->event_type, &count);
    for (size_t k = 0; k < count; k++) {
        if (m[k].workflow != inst->def)
            continue;
        bool holds =
            !m[k].ref || workflow_cond_eval (m[k].ref->when, fold_json_lookup, e->attrs);
        bool live = inst->state == INSTANCE_OPEN || inst->state == INSTANCE_SUSPENDED;
        switch (m[k].role) {
        case WORKFLOW_ROLE_STEP:
            if (!inst->steps[m[k].step_index].completed_at_ms) {
                inst->steps[m[k].step_index].completed_at_ms = e->occurred_at_ms;
                inst->steps[m[k].step_index].completed_by = i;
            }
            break;
        case WORKFLOW_ROLE_REJECT:
            if (holds && live) {
                if (m[k].ref->effect == REJECT_SUSPEND) {
                    if (inst->state == INSTANCE_OPEN)
                        inst->suspended_at_ms = e->occurred_at_ms;
                    inst->state = INSTANCE_SUSPENDED;
                } else {
                    inst->state = INSTANCE_REJECTED;
                    inst->ended_at_ms = e->occurred_at_ms;
                }
            }
            break;
        case WORKFLOW_ROLE_REOPEN:
            if (holds && inst->state == INSTANCE_SUSPENDED) {
                inst->state = INSTANCE_OPEN;
                inst->suspended_at_ms = 0;
                inst->clock_at_ms = e->occurred_at_ms;
            }
            break;
        case WORKFLOW_ROLE_CANCEL:
            if (holds && live) {
                inst->state = INSTANCE_CANCELLED;
                inst->ended_at_ms = e->occurred_at_ms;
            }
            break;
        case WORKFLOW_ROLE_START: break;
        }
    }
    if (inst->state == INSTANCE_OPEN)
        check_complete (inst);
}

/* True when every role event i plays in def is completing a step: only
   such events may join an instance that starts after them (a refusal or a
   withdrawal before the case exists means nothing to it). */
static bool
only_steps (fold_ctx_t *ctx, const workflow_set_t *set, int i, const workflow_def_t *def)
{
    size_t count;
    const workflow_match_t *m = workflow_set_relevant (set, ctx->events[i].agency,
                                                       ctx->events[i].event_type, &count);
    for (size_t k = 0; k < count; k++)
        if (m[k].workflow == def && m[k].role != WORKFLOW_ROLE_STEP)
            return false;
    return true;
}

/* True when some match of event i concerns def. */
static bool
concerns (fold_ctx_t *ctx, const workflow_set_t *set, int i, const workflow_def_t *def)
{
    size_t count;
    const workflow_match_t *m = workflow_set_relevant (set, ctx->events[i].agency,
                                                       ctx->events[i].event_type, &count);
    for (size_t k = 0; k < count; k++)
        if (m[k].workflow == def)
            return true;
    return false;
}

/* True when events a and b are the same agency's same case (both carry a
   case number). */
static bool
same_case (const fold_event_t *a, const fold_event_t *b)
{
    return a->case_no && b->case_no && a->case_no[0] && strcmp (a->agency, b->agency) == 0
           && strcmp (a->case_no, b->case_no) == 0;
}

/* True when the instance owns event i's agency case number: that of its
   start event, or of an event that completed one of its steps. Cost: one
   comparison per step, whatever the key's history. */
static bool
owns (const fold_ctx_t *ctx, const fold_instance_t *inst, int i)
{
    const fold_event_t *e = &ctx->events[i];
    if (same_case (&ctx->events[inst->start_event], e))
        return true;
    for (size_t s = 0; s < inst->def->n_steps; s++)
        if (inst->steps[s].completed_by >= 0
            && same_case (&ctx->events[inst->steps[s].completed_by], e))
            return true;
    return false;
}

static bool
running (const fold_instance_t *inst)
{
    return inst->state == INSTANCE_OPEN || inst->state == INSTANCE_SUSPENDED;
}

/* True when nothing before the instant of event i can change after it
   (fold.h, settled points): def has no running instance, and no waiting
   event a start after that instant could take. Waiting events are in
   time order, so the last one decides. */
static bool
settled (const fold_ctx_t *ctx, const workflow_def_t *def, size_t i, const int *waiting,
         size_t n_waiting, size_t n_live)
{
    if (n_live)
        return false;
    if (!n_waiting)
        return true;
    int64_t window = def->record_between_cases ? 0 : def->unmatched_ttl_ms;
    return ctx->events[i].occurred_at_ms - ctx->events[waiting[n_waiting - 1]].occurred_at_ms
           >= window;
}

static void
fold_workflow (fold_ctx_t *ctx, const workflow_def_t *def)
{
    /* instances so far: those started before the settled point resumed from */
    int number = ctx->options->runs_before
                     ? ctx->options->runs_before (ctx->options->runs_user, def)
                     : 0;
    int *waiting = xcalloc (ctx->n, sizeof *waiting);
    size_t n_waiting = 0;
    /* the running (open or suspended) instances, by index in
       result->instances, oldest first: an event looks at these only, so its
       cost does not grow with the key's finished runs */
    size_t *live = xcalloc (ctx->n, sizeof *live);
    size_t n_live = 0;
    for (size_t i = 0; i <= ctx->n; i++) {
        /* the state just after the previous event */
        if (i && settled (ctx, def, i - 1, waiting, n_waiting, n_live))
            ctx->quiet[i - 1]++;
        if (i == ctx->n)
            break;
        const fold_event_t *e = &ctx->events[i];
        fold_instance_t *all = ctx->result->instances;
        /* the running instance that owns the event's case number, else the
           latest one the event concerns (each following its own
           definition); and whether some running one was started by another
           agency (then a start event of this one is a second way into that
           case, not a case of its own) */
        long owner = -1, latest = -1;
        bool other_agency = false;
        for (size_t k = n_live; k-- > 0 && owner < 0;) {
            fold_instance_t *inst = &all[live[k]];
            if (strcmp (ctx->events[inst->start_event].agency, e->agency) != 0)
                other_agency = true;
            if (!concerns (ctx, inst->set, (int) i, inst->def))
                continue;
            if (owns (ctx, inst, (int) i))
                owner = (long) k;
            else if (latest < 0)
                latest = (long) k;
        }
        bool relevant = concerns (ctx, ctx->set, (int) i, def);
        bool starts = relevant
                      && workflow_event_starts (def, e->agency, e->event_type,
                                                fold_json_lookup, e->attrs);
        /* a start event of the agency that started every running instance,
           under another case number, starts a case of its own */
        bool new_case =
            owner < 0 && starts && n_live && !other_agency && e->case_no && e->case_no[0];
        long target = owner >= 0 ? owner : new_case ? -1 : latest;
        if (target >= 0) {
            ctx->relevant[i] = true;
            apply (ctx, &all[live[target]], (int) i);
            if (!running (&all[live[target]])) {
                memmove (live + target, live + target + 1,
                         (n_live - (size_t) target - 1) * sizeof *live);
                n_live--;
            }
            continue;
        }
        if (!relevant)
            continue;
        /* a definition that records events between its cases: one that
           finds no running instance and starts none is only stored (the
           enterprise's invoices years after its start-up), never listed;
           it joins only a start at the very same instant */
        bool record = def->record_between_cases && !(starts && (!n_live || new_case));
        if (!record) {
            ctx->relevant[i] = true;
            if (def->unmatched_ttl_ms > ctx->ttl[i])
                ctx->ttl[i] = def->unmatched_ttl_ms;
        }
        if (n_live && !new_case)
            continue; /* its definition has no use for it: left unmatched */
        if (starts) {
            fold_instance_t *inst = new_instance (ctx, def, (int) i, ++number);
            apply (ctx, inst, (int) i);
            /* early events join when they came within the TTL before the start */
            int64_t window =
                inst->def->record_between_cases ? 0 : inst->def->unmatched_ttl_ms;
            for (size_t w = 0; w < n_waiting; w++)
                if (inst->started_at_ms - ctx->events[waiting[w]].occurred_at_ms <= window
                    && concerns (ctx, inst->set, waiting[w], inst->def)
                    && only_steps (ctx, inst->set, waiting[w], inst->def))
                    apply (ctx, inst, waiting[w]);
            n_waiting = 0;
            if (running (inst))
                live[n_live++] = ctx->result->n_instances - 1;
            continue;
        }
        waiting[n_waiting++] = (int) i;
    }
    free (live);
    free (waiting);
}

/* Readiness, requirement and deadlines of every step, on final attributes. */
static void
settle (fold_ctx_t *ctx, fold_instance_t *inst)
{
    const workflow_def_t *def = inst->def;
    bool running = inst->state == INSTANCE_OPEN;
    for (size_t s = 0; s < def->n_steps; s++) {
        fold_step_t *st = &inst->steps[s];
        st->required = step_required (inst, s);
        int64_t ready = inst->clock_at_ms;
        for (size_t a = 0; a < def->steps[s].n_after && ready; a++) {
            size_t p = def->steps[s].after_index[a];
            if (!step_required (inst, p))
                continue; /* a step this case does not need holds nothing up */
            if (!inst->steps[p].completed_at_ms)
                ready = 0;
            else if (inst->steps[p].completed_at_ms > ready)
                ready = inst->steps[p].completed_at_ms;
        }
        st->ready_at_ms =
            st->required ? ready : 0; /* a step the case lacks is never ready */
        int amount = 0;
        const deadline_spec_t *d = NULL; /* the alternative whose when holds */
        deadline_resolution_t res = workflow_deadline_choose (
            &def->steps[s], fold_json_lookup, inst->attrs, &amount, &d);
        st->deadline = d;
        st->deadline_unresolved = res == DEADLINE_UNRESOLVED;
        if (res != DEADLINE_RESOLVED || !st->required)
            continue;
        int64_t base = d->from == DEADLINE_FROM_START ? inst->clock_at_ms
                       : d->from == DEADLINE_FROM_READY
                           ? ready
                           : inst->steps[d->from_step_index].completed_at_ms;
        if (!base)
            continue;
        /* a step not done in an instance that stopped running: a completed
           case runs no clock for it; a case withdrawn, refused or suspended
           for a correction keeps a deadline that passed while it ran (the
           agency was late before the case stopped), and loses one that had
           not, whenever the stopping event reached the hub */
        int64_t stopped_at = inst->state == INSTANCE_CANCELLED
                                     || inst->state == INSTANCE_REJECTED
                                 ? inst->ended_at_ms
                             : inst->state == INSTANCE_SUSPENDED ? inst->suspended_at_ms
                                                                 : 0;
        bool stopped = !running && !st->completed_at_ms;
        if (stopped && !stopped_at)
            continue;
        bool beyond = false;
        if (d->unit == DEADLINE_WORKING_DAYS)
            st->due_at_ms =
                calendar_add_working_days (ctx->calendar, base, amount, &beyond);
        else
            st->due_at_ms = calendar_add_working_minutes (
                ctx->calendar, &ctx->options->hours, base,
                d->unit == DEADLINE_IMMEDIATE ? (int) ctx->options->immediate_minutes
                                              : amount,
                &beyond);
        st->beyond_calendar = beyond;
        st->warn_at_ms = base + (int64_t) ((double) (st->due_at_ms - base) * def->warn_at);
        /* the warning goes with its deadline: a case withdrawn before the
           deadline carries neither, whenever its warning point fell */
        if (stopped && st->due_at_ms >= stopped_at) {
            st->due_at_ms = 0;
            st->warn_at_ms = 0;
            st->beyond_calendar = false;
        }
    }
}

void
fold (const workflow_set_t *set, key_kind_t kind, fold_event_t *events, size_t n,
      const calendar_t *calendar, const fold_options_t *options, fold_result_t *result)
{
    memset (result, 0, sizeof *result);
    if (n > 1)
        qsort (events, n, sizeof *events, compare_events);
    fold_ctx_t ctx = {set,
                      events,
                      n,
                      calendar,
                      options,
                      result,
                      0,
                      xcalloc (n, sizeof (bool)),
                      xcalloc (n, sizeof (bool)),
                      xcalloc (n, sizeof (int64_t)),
                      xcalloc (n, sizeof (int))};
    int workflows = 0; /* of this key kind */
    for (size_t w = 0; w < workflow_set_count (set); w++) {
        const workflow_def_t *def = workflow_set_get (set, w);
        if (def->key == kind) {
            fold_workflow (&ctx, def);
            workflows++;
        }
    }
    for (size_t i = 0; i < result->n_instances; i++)
        settle (&ctx, &result->instances[i]);
    /* the settled points: every workflow settled just after an event, and
       the next event later (one at the same instant sorts either side of
       it); the runs each workflow started by then, counted in one pass
       (each workflow's instances are in the order they started) */
    size_t n_wf = workflow_set_count (set);
    int *runs = xcalloc (n_wf, sizeof (int));
    for (size_t w = 0; w < n_wf; w++)
        if (workflow_set_get (set, w)->key == kind && options->runs_before)
            runs[w] = options->runs_before (options->runs_user, workflow_set_get (set, w));
    size_t *next = xcalloc (n_wf, sizeof (size_t)); /* per workflow: instances counted */
    result->settled_at_ms = xcalloc (n, sizeof (int64_t));
    result->settled_runs = xcalloc (n * n_wf, sizeof (int));
    for (size_t i = 0; i < n; i++) {
        if (ctx.quiet[i] != workflows
            || (i + 1 < n && events[i + 1].occurred_at_ms == events[i].occurred_at_ms))
            continue;
        for (size_t w = 0; w < n_wf; w++) {
            const workflow_def_t *def = workflow_set_get (set, w);
            if (def->key != kind)
                continue;
            for (; next[w] < result->n_instances; next[w]++) {
                const fold_instance_t *inst = &result->instances[next[w]];
                if (strcmp (inst->def->name, def->name) != 0)
                    continue;
                if ((size_t) inst->start_event > i)
                    break;
                runs[w]++;
            }
        }
        result->settled_at_ms[result->n_settled] = events[i].occurred_at_ms;
        memcpy (result->settled_runs + result->n_settled * n_wf, runs, n_wf * sizeof (int));
        result->n_settled++;
    }
    free (runs);
    free (next);
    result->unmatched = xcalloc (n, sizeof *result->unmatched);
    result->unmatched_ttl_ms = xcalloc (n, sizeof *result->unmatched_ttl_ms);
    for (size_t i = 0; i < n; i++)
        if (ctx.relevant[i] && !ctx.joined[i]) {
            result->unmatched_ttl_ms[result->n_unmatched] = ctx.ttl[i];
            result->unmatched[result->n_unmatched++] = (int) i;
        }
    free (ctx.relevant);
    free (ctx.joined);
    free (ctx.ttl);
    free (ctx.quiet);
}

void
fold_result_free (fold_result_t *result)
{
    for (size_t i = 0; i < result->n_instances; i++) {
        free (result->instances[i].events);
        free (result->instances[i].steps);
        json_decref (result->instances[i].attrs);
    }
    free (result->instances);
    free (result->unmatched);
    free (result->unmatched_ttl_ms);
    free (result->settled_at_ms);
    free (result->settled_runs);
    memset (result, 0, sizeof *result);
}
