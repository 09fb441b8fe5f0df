/*  test_fold.c - unit tests for hub/fold.c

    A standalone program: every failing case is printed with its file and
    line, a summary closes the run, and the exit status is 1 when any case
    failed. It loads the shipped definitions (workflows/) and the shipped
    calendar (data/calendar/cn-workdays.csv) through ONENET_SOURCE_DIR,
    builds events in the test with JSON attributes, and folds them.

    Every instant is written as Beijing local time and converted with
    clock_parse_rfc3339, not with the calendar's own date arithmetic. Each
    expected deadline was counted by hand on the CSV (and cross-checked with
    a separate script); the comments show the count. A deadline "24:00 of
    day X" is written as 00:00 of the day after X.

    The 2020 National Day arrangement, from the CSV: Sunday 09-27 and
    Saturday 10-10 are make-up working days; 10-01 .. 10-08 are off.

    Groups:
    1. order independence (all permutations of 7 events, 2000 random ones
       of 9, ties in occurred_at),
    2. exact instances, steps and deadlines of a transfer with a mortgage,
       and of one without,
    3. early events within and beyond unmatched_ttl,
    4. rejection (suspend), reopening, withdrawal (cancel),
    5. two runs of one workflow for one key,
    6. power connection deadlines chosen by connection_class,
    7. events relevant to no workflow of the key,
    8. an enterprise start-up from its application, and the events about
       the enterprise before and a year after it (recorded, not parked),
    9. a deregistration's immediate tax clearance from the application,
    10. settled points: in generated histories (a unit's years of cases
       of every fate, an enterprise's years of invoices), a fold resumed
       from any settled point makes what the whole history makes after it,
       and so does one from the latest point of any prefix, whose fold
       makes what the whole makes before it,
    and an "immediate" deadline and many instances of one key.
*/

#include "calendar.h"
#include "clock.h"
#include "fold.h"
#include "workflow_def.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNIT_NAME "test_fold"
#include "unit.h"

#define MINUTE_MS (60 * INT64_C (1000))
#define HOUR_MS   (60 * MINUTE_MS)
#define DAY_MS    (24 * HOUR_MS)

static workflow_set_t *s_set;    //  the shipped definitions
static calendar_t *s_cn;         //  the shipped calendar
static fold_options_t s_options; //  60 immediate minutes, default office hours

//  --------------------------------------------------------------------------
//  Events and folds

/*  Attribute objects made by the test, released at the end.  */
static json_t *s_pool[4096];
static size_t s_pool_n;

/*  An event with id number id (a lower-case UUID), at Beijing local time
    local, with attributes from JSON text attrs (NULL: none).  */
static fold_event_t
s_ev (int id, const char *agency, const char *type, const char *local, const char *attrs)
{
    fold_event_t e;
    memset (&e, 0, sizeof e);
    snprintf (e.event_id, sizeof e.event_id, "00000000-0000-4000-8000-%012d", id);
    e.agency = agency;
    e.event_type = type;
    e.occurred_at_ms = s_bj (local);
    json_error_t jerr;
    e.attrs = json_loads (attrs ? attrs : "{}", 0, &jerr);
    if (!e.attrs || s_pool_n == sizeof s_pool / sizeof s_pool[0]) {
        fprintf (stderr, "test_fold: bad attributes in the test: %s\n", attrs);
        exit (2);
    }
    s_pool[s_pool_n++] = e.attrs;
    return e;
}

/*  The id text of event number id, for comparisons.  */
static const char *
s_id (int id)
{
    static char buf[8][37];
    static int next;
    char *b = buf[next++ % 8];
    snprintf (b, 37, "00000000-0000-4000-8000-%012d", id);
    return b;
}

/*  One fold: its own copy of the events (sorted by fold) and the result.  */
typedef struct {
    fold_event_t *ev;
    size_t n;
    fold_result_t r;
} run_t;

static void
s_fold (run_t *run, key_kind_t kind, const fold_event_t *events, size_t n)
{
    run->ev = calloc (n ? n : 1, sizeof *run->ev);
    if (!run->ev)
        abort ();
    if (n)
        memcpy (run->ev, events, n * sizeof *events);
    run->n = n;
    fold (s_set, kind, run->ev, n, s_cn, &s_options, &run->r);
}

static void
s_run_free (run_t *run)
{
    fold_result_free (&run->r);
    free (run->ev);
    run->ev = NULL;
}

/*  The event id at fold index i, "-" for -1.  */
static const char *
s_eid (const run_t *run, int i)
{
    return i >= 0 && (size_t) i < run->n ? run->ev[i].event_id : "-";
}

/*  Number of instances of workflow name in the result.  */
static size_t
s_count (const run_t *run, const char *name)
{
    size_t c = 0;
    for (size_t i = 0; i < run->r.n_instances; i++)
        if (strcmp (run->r.instances[i].def->name, name) == 0)
            c++;
    return c;
}

/*  Instance number no of workflow name, or NULL.  */
static const fold_instance_t *
s_inst (const run_t *run, const char *name, int no)
{
    for (size_t i = 0; i < run->r.n_instances; i++)
        if (strcmp (run->r.instances[i].def->name, name) == 0
            && run->r.instances[i].instance_no == no)
            return &run->r.instances[i];
    return NULL;
}

/*  Step id of an instance; aborts the run when the definition lacks it
    (the test is wrong then, not the fold).  */
static const fold_step_t *
s_step (const fold_instance_t *inst, const char *id)
{
    size_t index;
    if (!inst || !workflow_def_step (inst->def, id, &index)) {
        fprintf (stderr, "test_fold: no step \"%s\"\n", id);
        exit (2);
    }
    return &inst->steps[index];
}

/*  True when the instance holds event number id.  */
static bool
s_has_event (const run_t *run, const fold_instance_t *inst, int id)
{
    for (size_t k = 0; inst && k < inst->n_events; k++)
        if (strcmp (s_eid (run, inst->events[k]), s_id (id)) == 0)
            return true;
    return false;
}

/*  True when event number id is among the unmatched; *ttl gets its TTL.  */
static bool
s_unmatched (const run_t *run, int id, int64_t *ttl)
{
    for (size_t u = 0; u < run->r.n_unmatched; u++)
        if (strcmp (s_eid (run, run->r.unmatched[u]), s_id (id)) == 0) {
            if (ttl)
                *ttl = run->r.unmatched_ttl_ms[u];
            return true;
        }
    return false;
}

/*  True when event number id is in some instance.  */
static bool
s_joined (const run_t *run, int id)
{
    for (size_t i = 0; i < run->r.n_instances; i++)
        if (s_has_event (run, &run->r.instances[i], id))
            return true;
    return false;
}

//  --------------------------------------------------------------------------
//  Canonical form of a result, for order independence

typedef struct {
    char *data;
    size_t len, cap;
} text_t;

static void s_add (text_t *t, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

static void
s_add (text_t *t, const char *format, ...)
{
    va_list ap;
    for (;;) {
        size_t room = t->cap - t->len;
        va_start (ap, format);
        int w = vsnprintf (t->data ? t->data + t->len : NULL, room, format, ap);
        va_end (ap);
        if (w < 0)
            abort ();
        if ((size_t) w < room) {
            t->len += (size_t) w;
            return;
        }
        t->cap = t->cap ? 2 * t->cap + (size_t) w : 1024 + (size_t) w;
        t->data = realloc (t->data, t->cap);
        if (!t->data)
            abort ();
    }
}

static int
s_cmp_strp (const void *a, const void *b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static int
s_cmp_inst (const void *a, const void *b)
{
    const fold_instance_t *x = *(const fold_instance_t *const *) a;
    const fold_instance_t *y = *(const fold_instance_t *const *) b;
    int c = strcmp (x->def->name, y->def->name);
    if (c)
        return c;
    return x->instance_no - y->instance_no;
}

/*  Everything a fold says, by event id (never by fold index), instances in
    (workflow, number) order, unmatched events by id; only the instances
    started, and the unmatched events that occurred, in (lo, hi]. The
    caller frees.  */
static char *
s_canonical_range (const run_t *run, int64_t lo, int64_t hi)
{
    text_t t = {NULL, 0, 0};
    const fold_result_t *r = &run->r;
    const fold_instance_t **order = calloc (r->n_instances + 1, sizeof *order);
    size_t n_order = 0;
    for (size_t i = 0; i < r->n_instances; i++)
        if (r->instances[i].started_at_ms > lo && r->instances[i].started_at_ms <= hi)
            order[n_order++] = &r->instances[i];
    qsort (order, n_order, sizeof *order, s_cmp_inst);
    for (size_t i = 0; i < n_order; i++) {
        const fold_instance_t *inst = order[i];
        char *attrs = json_dumps (inst->attrs, JSON_COMPACT | JSON_SORT_KEYS);
        s_add (&t, "%s#%d %s start=%lld end=%lld by=%s attrs=%s events=", inst->def->name,
               inst->instance_no, instance_state_name (inst->state),
               (long long) inst->started_at_ms, (long long) inst->ended_at_ms,
               s_eid (run, inst->start_event), attrs ? attrs : "?");
        free (attrs);
        for (size_t k = 0; k < inst->n_events; k++)
            s_add (&t, "%s%s", k ? "," : "", s_eid (run, inst->events[k]));
        s_add (&t, "\n");
        for (size_t s = 0; s < inst->def->n_steps; s++) {
            const fold_step_t *st = &inst->steps[s];
            s_add (&t,
                   "  %s req=%d ready=%lld due=%lld warn=%lld done=%lld by=%s unres=%d "
                   "beyond=%d\n",
                   st->def->id, st->required, (long long) st->ready_at_ms,
                   (long long) st->due_at_ms, (long long) st->warn_at_ms,
                   (long long) st->completed_at_ms, s_eid (run, st->completed_by),
                   st->deadline_unresolved, st->beyond_calendar);
        }
    }
    free (order);
    char (*lines)[80] = calloc (r->n_unmatched + 1, sizeof *lines);
    const char **ptrs = calloc (r->n_unmatched + 1, sizeof *ptrs);
    size_t n_un = 0;
    for (size_t u = 0; u < r->n_unmatched; u++) {
        int64_t at = run->ev[r->unmatched[u]].occurred_at_ms;
        if (at <= lo || at > hi)
            continue;
        snprintf (lines[n_un], sizeof lines[n_un], "%s ttl=%lld",
                  s_eid (run, r->unmatched[u]), (long long) r->unmatched_ttl_ms[u]);
        ptrs[n_un] = lines[n_un];
        n_un++;
    }
    qsort (ptrs, n_un, sizeof *ptrs, s_cmp_strp);
    s_add (&t, "unmatched:");
    for (size_t u = 0; u < n_un; u++)
        s_add (&t, " %s", ptrs[u]);
    s_add (&t, "\n");
    free (ptrs);
    free (lines);
    return t.data;
}

static char *
s_canonical (const run_t *run)
{
    return s_canonical_range (run, INT64_MIN, INT64_MAX);
}

/*  Folds events in the given order and returns the canonical form.  */
static char *
s_fold_canonical (key_kind_t kind, const fold_event_t *base, const int *order, size_t n)
{
    fold_event_t *perm = calloc (n, sizeof *perm);
    for (size_t i = 0; i < n; i++)
        perm[i] = base[order[i]];
    run_t run;
    s_fold (&run, kind, perm, n);
    free (perm);
    char *text = s_canonical (&run);
    s_run_free (&run);
    return text;
}

/*  Lexicographic next permutation; false after the last.  */
static bool
s_next_permutation (int *a, size_t n)
{
    if (n < 2)
        return false;
    size_t i = n - 1;
    while (i > 0 && a[i - 1] >= a[i])
        i--;
    if (i == 0)
        return false;
    size_t j = n - 1;
    while (a[j] <= a[i - 1])
        j--;
    int tmp = a[i - 1];
    a[i - 1] = a[j];
    a[j] = tmp;
    for (size_t l = i, r = n - 1; l < r; l++, r--) {
        tmp = a[l];
        a[l] = a[r];
        a[r] = tmp;
    }
    return true;
}

/*  xorshift64*, fixed seed: the same "random" permutations every run.  */
static uint64_t s_rng = UINT64_C (0x9e3779b97f4a7c15);

static uint64_t
s_random (void)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return s_rng * UINT64_C (2685821657736338717);
}

static void
s_shuffle (int *a, size_t n)
{
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t) (s_random () % (i + 1));
        int tmp = a[i];
        a[i] = a[j];
        a[j] = tmp;
    }
}

//  --------------------------------------------------------------------------
//  The property transfer of unit 1 in September 2020, with a mortgage

enum {
    E_ACCEPTED = 1, //  land transfer.accepted, has_mortgage true  Fri 09-25 10:00
    E_ASSESSED,     //  tax deed_tax.assessed                      Fri 09-25 14:00
    E_PAID,    //  tax deed_tax.paid                          Sun 09-27 09:30 (make-up day)
    E_M_FILED, //  bank mortgage.filed                        Sun 09-27 10:00
    E_M_ACCEPTED,   //  land mortgage.accepted                     Mon 09-28 11:00
    E_REGISTERED,   //  land transfer.registered                   Wed 09-30 15:00
    E_M_REGISTERED, //  land mortgage.registered                   Wed 09-30 16:00
    E_POWER,        //  power account.transferred                  Fri 10-09 10:00
    E_WATER, //  water account.transferred                  Sat 10-10 11:00 (make-up day)
    N_CASE = 9
};

/*  The nine events, in id order (index = id - 1); has_mortgage as given.  */
static void
s_case (fold_event_t *ev, bool mortgage)
{
    ev[0] = s_ev (E_ACCEPTED, "land", "transfer.accepted", "2020-09-25 10:00",
                  mortgage ? "{\"has_mortgage\": true, \"price\": 1200000}"
                           : "{\"has_mortgage\": false, \"price\": 1200000}");
    ev[1] = s_ev (E_ASSESSED, "tax", "deed_tax.assessed", "2020-09-25 14:00",
                  "{\"deed_tax\": 36000}");
    ev[2] = s_ev (E_PAID, "tax", "deed_tax.paid", "2020-09-27 09:30", "{\"paid\": 36000}");
    ev[3] = s_ev (E_M_FILED, "bank", "mortgage.filed", "2020-09-27 10:00",
                  "{\"bank_code\": \"ICBC\"}");
    ev[4] = s_ev (E_M_ACCEPTED, "land", "mortgage.accepted", "2020-09-28 11:00", NULL);
    ev[5] = s_ev (E_REGISTERED, "land", "transfer.registered", "2020-09-30 15:00",
                  "{\"certificate_no\": \"2020-0815\"}");
    ev[6] = s_ev (E_M_REGISTERED, "land", "mortgage.registered", "2020-09-30 16:00", NULL);
    ev[7] = s_ev (E_POWER, "power", "account.transferred", "2020-10-09 10:00", NULL);
    ev[8] = s_ev (E_WATER, "water", "account.transferred", "2020-10-10 11:00", NULL);
}

//  --------------------------------------------------------------------------
//  1. Order independence

static void
s_test_order_independence (void)
{
    fold_event_t base[N_CASE];
    s_case (base, true);

    //  All 5040 orders of seven of the events (no mortgage.accepted, no water).
    const int subset[7] = {0, 1, 2, 3, 5, 6, 7};
    int order[N_CASE];
    int perm[7] = {0, 1, 2, 3, 4, 5, 6};
    for (int i = 0; i < 7; i++)
        order[i] = subset[i];
    char *first = s_fold_canonical (KEY_UNIT_NUMBER, base, order, 7);
    CHECK (strstr (first, "property_transfer#1 open") != NULL);
    CHECK (strstr (first, "mortgage_registration#1 completed") != NULL);
    int orders = 1, differing = 0;
    while (s_next_permutation (perm, 7)) {
        for (int i = 0; i < 7; i++)
            order[i] = subset[perm[i]];
        char *text = s_fold_canonical (KEY_UNIT_NUMBER, base, order, 7);
        if (strcmp (text, first) != 0) {
            if (!differing)
                fprintf (stderr, "first differing fold of 7 events:\n%s\nexpected:\n%s\n",
                         text, first);
            differing++;
        }
        free (text);
        orders++;
    }
    CHECK (orders == 5040);
    CHECK (differing == 0);
    free (first);

    //  2000 random orders of all nine.
    for (int i = 0; i < N_CASE; i++)
        order[i] = i;
    first = s_fold_canonical (KEY_UNIT_NUMBER, base, order, N_CASE);
    CHECK (strstr (first, "property_transfer#1 completed") != NULL);
    differing = 0;
    for (int k = 0; k < 2000; k++) {
        s_shuffle (order, N_CASE);
        char *text = s_fold_canonical (KEY_UNIT_NUMBER, base, order, N_CASE);
        if (strcmp (text, first) != 0) {
            if (!differing)
                fprintf (stderr, "first differing fold of 9 events:\n%s\nexpected:\n%s\n",
                         text, first);
            differing++;
        }
        free (text);
    }
    CHECK (differing == 0);
    free (first);

    //  Ties in occurred_at are broken by event id, whatever the order given:
    //  the tax events share an instant, so do the two utilities', and the
    //  mortgage filing shares one with the acceptance.
    fold_event_t tied[N_CASE];
    memcpy (tied, base, sizeof tied);
    tied[2].occurred_at_ms = tied[1].occurred_at_ms;
    tied[3].occurred_at_ms = tied[0].occurred_at_ms;
    tied[8].occurred_at_ms = tied[7].occurred_at_ms;
    for (int i = 0; i < N_CASE; i++)
        order[i] = i;
    first = s_fold_canonical (KEY_UNIT_NUMBER, tied, order, N_CASE);
    differing = 0;
    for (int k = 0; k < 500; k++) {
        s_shuffle (order, N_CASE);
        char *text = s_fold_canonical (KEY_UNIT_NUMBER, tied, order, N_CASE);
        if (strcmp (text, first) != 0)
            differing++;
        free (text);
    }
    CHECK (differing == 0);
    free (first);
}

//  --------------------------------------------------------------------------
//  2. Exact expectations on the case

static void
s_test_transfer_exact (void)
{
    fold_event_t ev[N_CASE];
    s_case (ev, true);
    run_t run;
    s_fold (&run, KEY_UNIT_NUMBER, ev, N_CASE);

    //  The mortgage case makes one instance of each of the two workflows.
    CHECK (run.r.n_instances == 2);
    CHECK (run.r.n_unmatched == 0);
    const fold_instance_t *pt = s_inst (&run, "property_transfer", 1);
    const fold_instance_t *mr = s_inst (&run, "mortgage_registration", 1);
    CHECK (pt != NULL);
    CHECK (mr != NULL);
    if (!pt || !mr) {
        s_run_free (&run);
        return;
    }

    //  property_transfer: every event but mortgage.accepted (not one of its
    //  events); completed at the latest completion, the water transfer.
    CHECK (pt->state == INSTANCE_COMPLETED);
    CHECK_AT (pt->started_at_ms, "2020-09-25 10:00");
    CHECK_AT (pt->ended_at_ms, "2020-10-10 11:00");
    CHECK (strcmp (s_eid (&run, pt->start_event), s_id (E_ACCEPTED)) == 0);
    CHECK (pt->n_events == 8);
    CHECK (!s_has_event (&run, pt, E_M_ACCEPTED));
    CHECK (json_is_true (json_object_get (pt->attrs, "has_mortgage")));
    CHECK (json_integer_value (json_object_get (pt->attrs, "deed_tax")) == 36000);

    const fold_step_t *st = s_step (pt, "accepted");
    CHECK (st->required);
    CHECK_AT (st->ready_at_ms, "2020-09-25 10:00");
    CHECK_AT (st->due_at_ms, NULL);
    CHECK_AT (st->warn_at_ms, NULL);
    CHECK_AT (st->completed_at_ms, "2020-09-25 10:00");
    CHECK (strcmp (s_eid (&run, st->completed_by), s_id (E_ACCEPTED)) == 0);

    st = s_step (pt, "deed_tax_assessed");
    CHECK (st->required);
    CHECK_AT (st->ready_at_ms, "2020-09-25 10:00");
    CHECK_AT (st->completed_at_ms, "2020-09-25 14:00");
    CHECK (strcmp (s_eid (&run, st->completed_by), s_id (E_ASSESSED)) == 0);

    st = s_step (pt, "deed_tax_paid"); //  after deed_tax_assessed
    CHECK (st->required);
    CHECK_AT (st->ready_at_ms, "2020-09-25 14:00");
    CHECK_AT (st->due_at_ms, NULL);
    CHECK_AT (st->completed_at_ms, "2020-09-27 09:30");
    CHECK (strcmp (s_eid (&run, st->completed_by), s_id (E_PAID)) == 0);

    //  registered: 4 working days from the start, Friday 09-25 not counted:
    //  Sun 09-27 (make-up) 1, Mon 09-28 2, Tue 09-29 3, Wed 09-30 4 -> 24:00
    //  of 09-30. Ready when accepted and deed_tax_paid are both done (09-27
    //  09:30). Warning at 0.75 (the default) of the 134 hours: 100 h 30 min.
    st = s_step (pt, "registered");
    CHECK (st->required);
    CHECK_AT (st->ready_at_ms, "2020-09-27 09:30");
    CHECK_AT (st->due_at_ms, "2020-10-01 00:00");
    CHECK_AT (st->warn_at_ms, "2020-09-29 14:30");
    CHECK_AT (st->completed_at_ms, "2020-09-30 15:00");
    CHECK (strcmp (s_eid (&run, st->completed_by), s_id (E_REGISTERED)) == 0);
    CHECK (!st->deadline_unresolved);
    CHECK (!st->beyond_calendar);
    //  the same count straight from the calendar
    CHECK (calendar_add_working_days (s_cn, s_bj ("2020-09-25 10:00"), 4, NULL)
           == s_bj ("2020-10-01 00:00"));

    //  mortgage steps: required, since has_mortgage is true; no deadline here
    st = s_step (pt, "mortgage_filed");
    CHECK (st->required);
    CHECK_AT (st->ready_at_ms, "2020-09-25 10:00");
    CHECK_AT (st->due_at_ms, NULL);
    CHECK_AT (st->completed_at_ms, "2020-09-27 10:00");
    CHECK (strcmp (s_eid (&run, st->completed_by), s_id (E_M_FILED)) == 0);
    st = s_step (pt, "mortgage_registered"); //  after registered and mortgage_filed
    CHECK (st->required);
    CHECK_AT (st->ready_at_ms, "2020-09-30 15:00");
    CHECK_AT (st->due_at_ms, NULL);
    CHECK_AT (st->completed_at_ms, "2020-09-30 16:00");
    CHECK (strcmp (s_eid (&run, st->completed_by), s_id (E_M_REGISTERED)) == 0);

    //  utilities: 1 working day from ready (the registration, Wed 09-30
    //  15:00): 10-01 .. 10-08 off, Fri 10-09 is 1 -> 24:00 of 10-09. Warning
    //  at 0.75 of 225 hours = 168 h 45 min. Water, done on the make-up
    //  Saturday, is late: the fold still records it.
    st = s_step (pt, "power_transferred");
    CHECK (st->required);
    CHECK_AT (st->ready_at_ms, "2020-09-30 15:00");
    CHECK_AT (st->due_at_ms, "2020-10-10 00:00");
    CHECK_AT (st->warn_at_ms, "2020-10-07 15:45");
    CHECK_AT (st->completed_at_ms, "2020-10-09 10:00");
    CHECK (strcmp (s_eid (&run, st->completed_by), s_id (E_POWER)) == 0);
    st = s_step (pt, "water_transferred");
    CHECK (st->required);
    CHECK_AT (st->ready_at_ms, "2020-09-30 15:00");
    CHECK_AT (st->due_at_ms, "2020-10-10 00:00");
    CHECK_AT (st->completed_at_ms, "2020-10-10 11:00");
    CHECK (strcmp (s_eid (&run, st->completed_by), s_id (E_WATER)) == 0);

    //  gas and heat: the property has neither
    st = s_step (pt, "gas_transferred");
    CHECK (!st->required);
    CHECK_AT (st->due_at_ms, NULL);
    CHECK_AT (st->warn_at_ms, NULL);
    CHECK_AT (st->completed_at_ms, NULL);
    CHECK (st->completed_by == -1);
    st = s_step (pt, "heat_transferred");
    CHECK (!st->required);
    CHECK_AT (st->due_at_ms, NULL);
    CHECK_AT (st->completed_at_ms, NULL);

    //  mortgage_registration: started by the bank's filing on the make-up
    //  Sunday; registered due 2 working days from the start: Mon 09-28 1,
    //  Tue 09-29 2 -> 24:00 of 09-29 (the registration, 09-30 16:00, is
    //  late); completes_when [registered] only. Warning: 0.75 of 62 h.
    CHECK (mr->state == INSTANCE_COMPLETED);
    CHECK_AT (mr->started_at_ms, "2020-09-27 10:00");
    CHECK_AT (mr->ended_at_ms, "2020-09-30 16:00");
    CHECK (strcmp (s_eid (&run, mr->start_event), s_id (E_M_FILED)) == 0);
    CHECK (mr->n_events == 3);
    CHECK (s_has_event (&run, mr, E_M_FILED));
    CHECK (s_has_event (&run, mr, E_M_ACCEPTED));
    CHECK (s_has_event (&run, mr, E_M_REGISTERED));
    st = s_step (mr, "filed");
    CHECK_AT (st->completed_at_ms, "2020-09-27 10:00");
    st = s_step (mr, "accepted");
    CHECK_AT (st->completed_at_ms, "2020-09-28 11:00");
    CHECK (strcmp (s_eid (&run, st->completed_by), s_id (E_M_ACCEPTED)) == 0);
    st = s_step (mr, "registered");
    CHECK (st->required);
    CHECK_AT (st->due_at_ms, "2020-09-30 00:00");
    CHECK_AT (st->warn_at_ms, "2020-09-29 08:30");
    CHECK_AT (st->completed_at_ms, "2020-09-30 16:00");
    s_run_free (&run);

    //  Without the water transfer the transfer is still open, with no end.
    s_fold (&run, KEY_UNIT_NUMBER, ev, N_CASE - 1);
    pt = s_inst (&run, "property_transfer", 1);
    CHECK (pt && pt->state == INSTANCE_OPEN);
    CHECK (pt && pt->ended_at_ms == 0);
    if (pt) {
        st = s_step (pt, "water_transferred");
        CHECK_AT (st->due_at_ms, "2020-10-10 00:00"); //  the clock runs
        CHECK_AT (st->completed_at_ms, NULL);
    }
    s_run_free (&run);

    //  With a mortgage but without its registration: still open, since the
    //  mortgage_registered step is required.
    fold_event_t no_mreg[N_CASE - 1];
    for (int i = 0, k = 0; i < N_CASE; i++)
        if (i != E_M_REGISTERED - 1)
            no_mreg[k++] = ev[i];
    s_fold (&run, KEY_UNIT_NUMBER, no_mreg, N_CASE - 1);
    pt = s_inst (&run, "property_transfer", 1);
    CHECK (pt && pt->state == INSTANCE_OPEN);
    mr = s_inst (&run, "mortgage_registration", 1);
    CHECK (mr && mr->state == INSTANCE_OPEN);
    CHECK (mr && mr->ended_at_ms == 0);
    s_run_free (&run);

    //  has_mortgage false, and no bank or mortgage events: one instance,
    //  completed by the water transfer; the mortgage steps are not required,
    //  not ready and not due.
    fold_event_t plain[6];
    s_case (ev, false);
    plain[0] = ev[0];
    plain[1] = ev[1];
    plain[2] = ev[2];
    plain[3] = ev[5];
    plain[4] = ev[7];
    plain[5] = ev[8];
    s_fold (&run, KEY_UNIT_NUMBER, plain, 6);
    CHECK (run.r.n_instances == 1);
    CHECK (s_count (&run, "mortgage_registration") == 0);
    pt = s_inst (&run, "property_transfer", 1);
    CHECK (pt != NULL);
    if (pt) {
        CHECK (pt->state == INSTANCE_COMPLETED);
        CHECK_AT (pt->ended_at_ms, "2020-10-10 11:00");
        CHECK (json_is_false (json_object_get (pt->attrs, "has_mortgage")));
        st = s_step (pt, "registered");
        CHECK_AT (st->due_at_ms, "2020-10-01 00:00");
        const char *absent[] = {"mortgage_filed", "mortgage_registered", "gas_transferred",
                                "heat_transferred"};
        for (size_t a = 0; a < 4; a++) {
            st = s_step (pt, absent[a]);
            CHECK_MSG (!st->required, absent[a]);
            CHECK_MSG (st->due_at_ms == 0, absent[a]);
            CHECK_MSG (st->warn_at_ms == 0, absent[a]);
            CHECK_MSG (st->completed_at_ms == 0, absent[a]);
            //  a step whose when does not hold does not exist for the case
            //  (workflow_def.h: "the step exists only when this holds"), so
            //  it is never ready either
            char shown[48], msg[160];
            s_format_bj (st->ready_at_ms, shown, sizeof shown);
            snprintf (msg, sizeof msg, "%s: ready_at is %s", absent[a], shown);
            CHECK_MSG (st->ready_at_ms == 0, msg);
        }
    }
    s_run_free (&run);

    //  has_mortgage false, without the utilities: the transfer completes
    //  only when power and water have transferred too; the mortgage steps
    //  do not hold it up.
    s_fold (&run, KEY_UNIT_NUMBER, plain, 4);
    pt = s_inst (&run, "property_transfer", 1);
    CHECK (pt && pt->state == INSTANCE_OPEN);
    s_run_free (&run);
    s_fold (&run, KEY_UNIT_NUMBER, plain, 5);
    pt = s_inst (&run, "property_transfer", 1);
    CHECK (pt && pt->state == INSTANCE_OPEN);
    s_run_free (&run);
}

//  --------------------------------------------------------------------------
//  3. Early events

static void
s_test_early_events (void)
{
    run_t run;
    int64_t ttl = 0;
    const int64_t ttl14 = 14 * DAY_MS; //  property_transfer's unmatched_ttl

    //  deed_tax.paid one hour before the acceptance joins the instance.
    fold_event_t ev[3];
    ev[0] = s_ev (101, "land", "transfer.accepted", "2020-11-02 10:00",
                  "{\"has_mortgage\": false}");
    ev[1] = s_ev (102, "tax", "deed_tax.paid", "2020-11-02 09:00", NULL);
    s_fold (&run, KEY_UNIT_NUMBER, ev, 2);
    const fold_instance_t *pt = s_inst (&run, "property_transfer", 1);
    CHECK (run.r.n_instances == 1);
    CHECK (pt != NULL);
    CHECK (run.r.n_unmatched == 0);
    if (pt) {
        CHECK (pt->state == INSTANCE_OPEN);
        CHECK_AT (pt->started_at_ms, "2020-11-02 10:00");
        CHECK (strcmp (s_eid (&run, pt->start_event), s_id (101)) == 0);
        CHECK (pt->n_events == 2);
        CHECK (s_has_event (&run, pt, 102));
        const fold_step_t *st = s_step (pt, "deed_tax_paid");
        CHECK_AT (st->completed_at_ms, "2020-11-02 09:00");
        CHECK (strcmp (s_eid (&run, st->completed_by), s_id (102)) == 0);
        //  registered is after accepted and deed_tax_paid, both done by the
        //  start, so it is ready at the start
        st = s_step (pt, "registered");
        CHECK_AT (st->ready_at_ms, "2020-11-02 10:00");
        //  Mon 11-02: 11-03 1, 11-04 2, 11-05 3, 11-06 4 -> 24:00 of 11-06
        CHECK_AT (st->due_at_ms, "2020-11-07 00:00");
    }
    s_run_free (&run);

    //  Thirty days before, it stays unmatched with the workflow's TTL.
    ev[1] = s_ev (103, "tax", "deed_tax.paid", "2020-10-03 10:00", NULL);
    s_fold (&run, KEY_UNIT_NUMBER, ev, 2);
    pt = s_inst (&run, "property_transfer", 1);
    CHECK (pt != NULL);
    CHECK (run.r.n_unmatched == 1);
    CHECK (s_unmatched (&run, 103, &ttl));
    CHECK (ttl == ttl14);
    if (pt) {
        CHECK (pt->n_events == 1);
        CHECK (!s_has_event (&run, pt, 103));
        CHECK_AT (s_step (pt, "deed_tax_paid")->completed_at_ms, NULL);
    }
    s_run_free (&run);

    //  Alone, with no acceptance at all, it is unmatched too.
    s_fold (&run, KEY_UNIT_NUMBER, &ev[1], 1);
    CHECK (run.r.n_instances == 0);
    CHECK (s_unmatched (&run, 103, &ttl));
    CHECK (ttl == ttl14);
    s_run_free (&run);

    //  Near the TTL: 13 days 23 hours before joins, 14 days 1 hour does not.
    ev[1] = s_ev (104, "tax", "deed_tax.assessed", "2020-10-19 11:00", NULL);
    ev[2] = s_ev (105, "tax", "deed_tax.paid", "2020-10-19 09:00", NULL);
    s_fold (&run, KEY_UNIT_NUMBER, ev, 3);
    pt = s_inst (&run, "property_transfer", 1);
    CHECK (pt && s_has_event (&run, pt, 104));
    CHECK (pt && !s_has_event (&run, pt, 105));
    CHECK (s_unmatched (&run, 105, &ttl));
    CHECK (!s_unmatched (&run, 104, NULL));
    CHECK (run.r.n_unmatched == 1);
    s_run_free (&run);

    //  An early mortgage.registered (land) is relevant to two workflows and
    //  parked with the longer TTL (mortgage_registration 14d, property
    //  transfer 14d: equal here) when nothing starts.
    ev[0] = s_ev (106, "land", "mortgage.registered", "2020-11-02 10:00", NULL);
    s_fold (&run, KEY_UNIT_NUMBER, ev, 1);
    CHECK (run.r.n_instances == 0);
    CHECK (s_unmatched (&run, 106, &ttl));
    CHECK (ttl == ttl14);
    s_run_free (&run);
}

//  --------------------------------------------------------------------------
//  4. Rejection, reopening, cancellation

static void
s_test_reject_reopen_cancel (void)
{
    run_t run;
    fold_event_t ev[10];
    ev[0] = s_ev (201, "land", "transfer.accepted", "2020-11-02 10:00",
                  "{\"has_mortgage\": false}");
    ev[1] = s_ev (202, "tax", "deed_tax.assessed", "2020-11-02 11:00", NULL);
    ev[2] = s_ev (203, "land", "transfer.rejected", "2020-11-03 10:00",
                  "{\"reason\": \"missing contract\"}");
    ev[3] = s_ev (204, "land", "transfer.accepted", "2020-11-10 10:00",
                  "{\"has_mortgage\": false}");
    ev[4] = s_ev (205, "tax", "deed_tax.paid", "2020-11-10 11:00", NULL);
    ev[5] = s_ev (206, "land", "transfer.registered", "2020-11-11 10:00", NULL);
    ev[6] = s_ev (207, "power", "account.transferred", "2020-11-12 10:00", NULL);
    ev[7] = s_ev (208, "water", "account.transferred", "2020-11-12 11:00", NULL);

    //  rejected: suspended, not ended
    s_fold (&run, KEY_UNIT_NUMBER, ev, 3);
    CHECK (run.r.n_instances == 1);
    const fold_instance_t *pt = s_inst (&run, "property_transfer", 1);
    CHECK (pt && pt->state == INSTANCE_SUSPENDED);
    CHECK (pt && pt->ended_at_ms == 0);
    CHECK (pt && s_has_event (&run, pt, 203));
    CHECK (run.r.n_unmatched == 0);
    s_run_free (&run);

    //  accepted again: the same instance reopens (no instance 2)
    s_fold (&run, KEY_UNIT_NUMBER, ev, 4);
    CHECK (run.r.n_instances == 1);
    pt = s_inst (&run, "property_transfer", 1);
    CHECK (pt && pt->state == INSTANCE_OPEN);
    CHECK (pt && pt->ended_at_ms == 0);
    CHECK (pt && s_has_event (&run, pt, 204));
    if (pt) {
        CHECK_AT (pt->started_at_ms, "2020-11-02 10:00");
        CHECK (strcmp (s_eid (&run, pt->start_event), s_id (201)) == 0);
        //  the first acceptance counts for the step
        CHECK (strcmp (s_eid (&run, s_step (pt, "accepted")->completed_by), s_id (201))
               == 0);
    }
    s_run_free (&run);

    //  and completes as usual, at the water transfer
    s_fold (&run, KEY_UNIT_NUMBER, ev, 8);
    CHECK (run.r.n_instances == 1);
    pt = s_inst (&run, "property_transfer", 1);
    CHECK (pt && pt->state == INSTANCE_COMPLETED);
    CHECK (pt && pt->n_events == 8);
    if (pt)
        CHECK_AT (pt->ended_at_ms, "2020-11-12 11:00");
    s_run_free (&run);

    //  withdrawn while open: cancelled at the withdrawal
    fold_event_t wd[4];
    wd[0] = ev[0];
    wd[1] = ev[1];
    wd[2] = s_ev (209, "land", "transfer.withdrawn", "2020-11-04 16:00", NULL);
    wd[3] = s_ev (210, "tax", "deed_tax.paid", "2020-11-05 10:00", NULL);
    s_fold (&run, KEY_UNIT_NUMBER, wd, 3);
    pt = s_inst (&run, "property_transfer", 1);
    CHECK (pt && pt->state == INSTANCE_CANCELLED);
    if (pt) {
        CHECK_AT (pt->ended_at_ms, "2020-11-04 16:00");
        CHECK (s_has_event (&run, pt, 209));
        //  no clock for a step that was not done in a stopped instance
        CHECK_AT (s_step (pt, "registered")->due_at_ms, NULL);
    }
    s_run_free (&run);

    //  an event after the cancellation joins nothing and waits (unmatched)
    s_fold (&run, KEY_UNIT_NUMBER, wd, 4);
    pt = s_inst (&run, "property_transfer", 1);
    CHECK (pt && pt->state == INSTANCE_CANCELLED);
    CHECK (pt && !s_has_event (&run, pt, 210));
    CHECK (s_unmatched (&run, 210, NULL));
    s_run_free (&run);

    //  withdrawn while suspended: cancelled as well
    fold_event_t sw[4];
    sw[0] = ev[0];
    sw[1] = ev[1];
    sw[2] = ev[2];
    sw[3] = s_ev (211, "land", "transfer.withdrawn", "2020-11-20 09:00", NULL);
    s_fold (&run, KEY_UNIT_NUMBER, sw, 4);
    pt = s_inst (&run, "property_transfer", 1);
    CHECK (pt && pt->state == INSTANCE_CANCELLED);
    if (pt)
        CHECK_AT (pt->ended_at_ms, "2020-11-20 09:00");
    s_run_free (&run);

    //  after a cancellation, a new acceptance starts instance 2
    fold_event_t again[4];
    again[0] = ev[0];
    again[1] = wd[2];
    again[2] = s_ev (212, "land", "transfer.accepted", "2020-12-01 10:00", NULL);
    s_fold (&run, KEY_UNIT_NUMBER, again, 3);
    CHECK (s_count (&run, "property_transfer") == 2);
    const fold_instance_t *p2 = s_inst (&run, "property_transfer", 2);
    CHECK (p2 && p2->state == INSTANCE_OPEN);
    CHECK (p2 && strcmp (s_eid (&run, p2->start_event), s_id (212)) == 0);
    CHECK (p2 && p2->n_events == 1);
    s_run_free (&run);
}

//  --------------------------------------------------------------------------
//  5. Two runs of one workflow for one key

static void
s_test_two_runs (void)
{
    fold_event_t ev[N_CASE + 7];
    s_case (ev, true);
    //  a year later: the new owner sells, without a mortgage; the tax
    //  bureau's assessment comes a day before the acceptance
    ev[9] = s_ev (301, "tax", "deed_tax.assessed", "2021-09-23 15:00", NULL);
    ev[10] = s_ev (302, "land", "transfer.accepted", "2021-09-24 10:00",
                   "{\"has_mortgage\": false}");
    ev[11] = s_ev (303, "tax", "deed_tax.paid", "2021-09-24 11:00", NULL);
    ev[12] = s_ev (304, "land", "transfer.registered", "2021-09-27 10:00", NULL);
    ev[13] = s_ev (305, "power", "account.transferred", "2021-09-27 15:00", NULL);
    ev[14] = s_ev (306, "water", "account.transferred", "2021-09-28 09:00", NULL);
    run_t run;
    s_fold (&run, KEY_UNIT_NUMBER, ev, N_CASE + 6);
    CHECK (s_count (&run, "property_transfer") == 2);
    CHECK (s_count (&run, "mortgage_registration") == 1);
    CHECK (run.r.n_unmatched == 0);
    const fold_instance_t *p1 = s_inst (&run, "property_transfer", 1);
    const fold_instance_t *p2 = s_inst (&run, "property_transfer", 2);
    CHECK (p1 && p2);
    if (p1 && p2) {
        CHECK (p1->state == INSTANCE_COMPLETED);
        CHECK_AT (p1->ended_at_ms, "2020-10-10 11:00");
        CHECK (p1->n_events == 8);
        CHECK (p2->state == INSTANCE_COMPLETED);
        CHECK_AT (p2->started_at_ms, "2021-09-24 10:00");
        CHECK_AT (p2->ended_at_ms, "2021-09-28 09:00");
        CHECK (strcmp (s_eid (&run, p2->start_event), s_id (302)) == 0);
        CHECK (p2->n_events == 6);
        for (int id = 301; id <= 306; id++) {
            CHECK (s_has_event (&run, p2, id));
            CHECK (!s_has_event (&run, p1, id));
        }
        for (int id = 1; id <= N_CASE; id++)
            CHECK (!s_has_event (&run, p2, id));
        //  the second run has its own attributes: no mortgage there
        CHECK (json_is_false (json_object_get (p2->attrs, "has_mortgage")));
        CHECK (!s_step (p2, "mortgage_filed")->required);
        CHECK (s_step (p1, "mortgage_filed")->required);
        //  and its own deadlines: Fri 2021-09-24, 4 working days: 09-26
        //  (Sunday, make-up for National Day 2021) 1, 09-27 2, 09-28 3,
        //  09-29 4 -> 24:00 of 09-29
        CHECK_AT (s_step (p2, "registered")->due_at_ms, "2021-09-30 00:00");
        CHECK (strcmp (s_eid (&run, s_step (p2, "deed_tax_assessed")->completed_by),
                       s_id (301))
               == 0);
    }
    s_run_free (&run);
}

//  --------------------------------------------------------------------------
//  6. Power connection: connection_class chooses the days

static void
s_test_power_connection (void)
{
    static const struct {
        const char *klass; //  connection_class, NULL for none
        int days;          //  the seed's days (documentation only)
        const char *due;   //  expected due of connected, NULL when unresolved
        bool permit;       //  permit_issued required
    } cases[] = {
        //  all from Fri 2020-09-25 10:00, the day itself not counted
        {"low_voltage", 2, "2020-09-29 00:00", false},              //  09-27, 09-28
        {"low_voltage_external", 5, "2020-10-10 00:00", true},      //  .., 09-30, 10-09
        {"low_voltage_transformer", 10, "2020-10-16 00:00", false}, //  .. 10-10, 10-12..15
        {"high_voltage_single", 25, "2020-11-06 00:00", false},     //  .. 11-05
        {"high_voltage_dual", 40, "2020-11-27 00:00", false},       //  .. 11-26
        {"medium_voltage", 0, NULL, false},                         //  unlisted, no default
        {NULL, 0, NULL, false},                                     //  missing
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char attrs[128], label[64];
        if (cases[c].klass)
            snprintf (attrs, sizeof attrs, "{\"connection_class\": \"%s\"}",
                      cases[c].klass);
        else
            snprintf (attrs, sizeof attrs, "{\"capacity_kva\": 80}");
        snprintf (label, sizeof label, "class %s",
                  cases[c].klass ? cases[c].klass : "(none)");
        fold_event_t ev =
            s_ev (400 + (int) c, "power", "connection.accepted", "2020-09-25 10:00", attrs);
        run_t run;
        s_fold (&run, KEY_APPLICATION_NO, &ev, 1);
        const fold_instance_t *pc = s_inst (&run, "power_connection", 1);
        CHECK_MSG (run.r.n_instances == 1 && pc, label);
        if (!pc) {
            s_run_free (&run);
            continue;
        }
        CHECK_MSG (pc->state == INSTANCE_OPEN, label);
        const fold_step_t *st = s_step (pc, "connected");
        CHECK_MSG (st->required, label);
        if (cases[c].due) {
            char msg[160], shown[48];
            s_format_bj (st->due_at_ms, shown, sizeof shown);
            snprintf (msg, sizeof msg, "%s: due %s, want %s", label, shown, cases[c].due);
            CHECK_MSG (st->due_at_ms == s_bj (cases[c].due), msg);
            CHECK_MSG (!st->deadline_unresolved, label);
            CHECK_MSG (st->warn_at_ms > s_bj ("2020-09-25 10:00")
                           && st->warn_at_ms < st->due_at_ms,
                       label);
        }
        else {
            CHECK_MSG (st->deadline_unresolved, label);
            CHECK_MSG (st->due_at_ms == 0, label);
            CHECK_MSG (st->warn_at_ms == 0, label);
        }
        const fold_step_t *permit = s_step (pc, "permit_issued");
        CHECK_MSG (permit->required == cases[c].permit, label);
        if (cases[c].permit) {
            //  3 working days from ready (acceptance, the start): 09-27,
            //  09-28, 09-29 -> 24:00 of 09-29
            CHECK_AT (permit->ready_at_ms, "2020-09-25 10:00");
            CHECK_AT (permit->due_at_ms, "2020-09-30 00:00");
        }
        else
            CHECK_MSG (permit->due_at_ms == 0, label);
        s_run_free (&run);
    }

    //  external_works: true on another class makes the permit step exist;
    //  connected is counted from the start regardless of the permit.
    fold_event_t ev[3];
    ev[0] =
        s_ev (420, "power", "connection.accepted", "2020-09-25 10:00",
              "{\"connection_class\": \"high_voltage_single\", \"external_works\": true}");
    ev[1] = s_ev (421, "approval", "permit.issued", "2020-10-12 16:00", NULL);
    ev[2] = s_ev (422, "power", "connection.completed", "2020-11-02 10:00", NULL);
    run_t run;
    s_fold (&run, KEY_APPLICATION_NO, ev, 3);
    const fold_instance_t *pc = s_inst (&run, "power_connection", 1);
    CHECK (pc != NULL);
    if (pc) {
        CHECK (s_step (pc, "permit_issued")->required);
        CHECK_AT (s_step (pc, "permit_issued")->due_at_ms, "2020-09-30 00:00");
        CHECK_AT (s_step (pc, "connected")->ready_at_ms, "2020-10-12 16:00");
        CHECK_AT (s_step (pc, "connected")->due_at_ms, "2020-11-06 00:00");
        CHECK (pc->state == INSTANCE_COMPLETED);
        CHECK_AT (pc->ended_at_ms, "2020-11-02 10:00");
    }
    s_run_free (&run);

    //  connection_class low_voltage with external works in the acceptance
    //  (seed item 18, 有外线工程的不超过5个工作日): the first alternative of
    //  connected's deadline, 5 working days from Fri 2020-09-25 10:00 —
    //  09-27 (make-up Sunday), 09-28, 09-29, 09-30, then the holiday to
    //  10-08, 10-09 -> 24:00 of 10-09; the permit's 3 (09-27, 09-28,
    //  09-29) fall before it. Without external works the class gives 2:
    //  09-27, 09-28 -> 24:00 of 09-28.
    for (int external = 0; external < 2; external++) {
        fold_event_t lv =
            s_ev (430 + external, "power", "connection.accepted", "2020-09-25 10:00",
                  external ? "{\"connection_class\": \"low_voltage\", "
                             "\"external_works\": true}"
                           : "{\"connection_class\": \"low_voltage\", "
                             "\"external_works\": false}");
        run_t lv_run;
        s_fold (&lv_run, KEY_APPLICATION_NO, &lv, 1);
        const fold_instance_t *inst = s_inst (&lv_run, "power_connection", 1);
        CHECK (inst != NULL);
        if (inst) {
            const fold_step_t *connected = s_step (inst, "connected");
            const fold_step_t *permit = s_step (inst, "permit_issued");
            CHECK (permit->required == (external == 1));
            CHECK (!connected->deadline_unresolved);
            CHECK (connected->deadline == &connected->def->deadlines[external ? 0 : 1]);
            if (external) {
                CHECK_AT (permit->due_at_ms, "2020-09-30 00:00");
                CHECK_AT (connected->due_at_ms, "2020-10-10 00:00");
            }
            else {
                CHECK (permit->due_at_ms == 0);
                CHECK_AT (connected->due_at_ms, "2020-09-29 00:00");
            }
        }
        s_run_free (&lv_run);
    }

    //  The power company's events under a unit number are no one's business.
    s_fold (&run, KEY_UNIT_NUMBER, ev, 3);
    CHECK (run.r.n_instances == 0);
    CHECK (run.r.n_unmatched == 0);
    s_run_free (&run);
}

//  --------------------------------------------------------------------------
//  7. Events relevant to no workflow

static void
s_test_irrelevant (void)
{
    fold_event_t ev[6];
    ev[0] = s_ev (501, "land", "transfer.accepted", "2020-11-02 10:00", NULL);
    ev[1] =
        s_ev (502, "land", "parcel.surveyed", "2020-11-02 11:00", NULL); //  unknown type
    ev[2] =
        s_ev (503, "police", "seal.made", "2020-11-02 12:00", NULL); //  credit_code only
    ev[3] = s_ev (504, "circus", "transfer.accepted", "2020-11-02 13:00", NULL); //  agency
    //  relevant: joins (how long it waited in the hub never matters)
    ev[4] = s_ev (505, "tax", "deed_tax.paid", "2020-11-02 14:00", NULL);
    ev[5] = s_ev (506, "tax", "deed_tax.assessed", "2020-11-02 15:00", NULL);
    run_t run;
    s_fold (&run, KEY_UNIT_NUMBER, ev, 6);
    CHECK (run.r.n_instances == 1);
    CHECK (run.r.n_unmatched == 0);
    const fold_instance_t *pt = s_inst (&run, "property_transfer", 1);
    CHECK (pt && pt->n_events == 3);
    for (int id = 502; id <= 504; id++) {
        CHECK (!s_joined (&run, id));
        CHECK (!s_unmatched (&run, id, NULL));
    }
    CHECK (s_joined (&run, 505));
    CHECK (s_joined (&run, 506));
    if (pt)
        CHECK_AT (s_step (pt, "deed_tax_paid")->completed_at_ms, "2020-11-02 14:00");
    s_run_free (&run);

    //  alone, the irrelevant ones make nothing at all, and the payment waits
    s_fold (&run, KEY_UNIT_NUMBER, ev + 1, 4);
    CHECK (run.r.n_instances == 0);
    CHECK (run.r.n_unmatched == 1);
    CHECK (s_unmatched (&run, 505, NULL));
    s_run_free (&run);

    //  and no events at all make nothing either
    s_fold (&run, KEY_UNIT_NUMBER, ev, 0);
    CHECK (run.r.n_instances == 0);
    CHECK (run.r.n_unmatched == 0);
    s_run_free (&run);
}

//  --------------------------------------------------------------------------
//  Immediate deadlines, and many instances of one key

static void
s_test_immediate_and_many (void)
{
    //  seizure accepted Fri 2020-09-25 11:30: the 60 immediate minutes run
    //  11:30-12:00 (30) and 14:30-15:00 (30)
    fold_event_t ev[40];
    ev[0] = s_ev (601, "land", "seizure.accepted", "2020-09-25 11:30", NULL);
    run_t run;
    s_fold (&run, KEY_UNIT_NUMBER, ev, 1);
    const fold_instance_t *ir = s_inst (&run, "instant_registration", 1);
    CHECK (ir != NULL);
    if (ir) {
        CHECK_AT (s_step (ir, "registered")->ready_at_ms, "2020-09-25 11:30");
        CHECK_AT (s_step (ir, "registered")->due_at_ms, "2020-09-25 15:00");
    }
    s_run_free (&run);

    //  twenty seizures and releases of one unit, one a week: twenty
    //  instances numbered 1..20, each with its own two events
    char when[32];
    for (int k = 0; k < 20; k++) {
        int64_t day = calendar_days_from_civil (2021, 3, 1) + 7 * k; //  Mondays
        int y, m, d;
        calendar_civil_from_days (day, &y, &m, &d);
        snprintf (when, sizeof when, "%04d-%02d-%02d 09:00", y, m, d);
        ev[2 * k] = s_ev (700 + 2 * k, "land", "seizure.accepted", when, NULL);
        snprintf (when, sizeof when, "%04d-%02d-%02d 09:30", y, m, d);
        ev[2 * k + 1] = s_ev (701 + 2 * k, "land", "seizure.registered", when, NULL);
    }
    //  folded backwards, to make the order matter if anything did
    fold_event_t rev[40];
    for (int i = 0; i < 40; i++)
        rev[i] = ev[39 - i];
    s_fold (&run, KEY_UNIT_NUMBER, rev, 40);
    CHECK (s_count (&run, "instant_registration") == 20);
    CHECK (run.r.n_unmatched == 0);
    for (int k = 0; k < 20; k++) {
        const fold_instance_t *inst = s_inst (&run, "instant_registration", k + 1);
        CHECK (inst && inst->state == INSTANCE_COMPLETED);
        CHECK (inst && inst->n_events == 2);
        CHECK (inst && s_has_event (&run, inst, 700 + 2 * k)
               && s_has_event (&run, inst, 701 + 2 * k));
    }
    s_run_free (&run);
}

//  --------------------------------------------------------------------------
//  8. Enterprise start-up from its application; events between cases

static void
s_test_startup (void)
{
    fold_event_t ev[10];
    //  an invoice before the application: no part of the case
    ev[0] =
        s_ev (801, "tax", "invoice.issued", "2020-09-18 15:00", "{\"ukey_issued\":true}");
    ev[1] = s_ev (802, "market", "startup.accepted", "2020-09-18 16:00", NULL); //  Friday
    ev[2] = s_ev (803, "market", "licence.issued", "2020-09-21 10:00", NULL);   //  Monday
    ev[3] = s_ev (804, "police", "seal.made", "2020-09-21 11:00", NULL);
    ev[4] = s_ev (805, "bank", "account.opened", "2020-09-21 09:30",
                  "{\"account_kind\":\"basic\"}");
    ev[5] =
        s_ev (806, "tax", "invoice.issued", "2020-09-21 11:30", "{\"ukey_issued\":true}");
    ev[6] = s_ev (807, "social", "registered", "2020-09-21 14:40", NULL);
    ev[7] = s_ev (808, "social", "employment.registered", "2020-09-21 15:00", NULL);
    //  a year later: a replacement UKey with invoices, a general account
    ev[8] =
        s_ev (809, "tax", "invoice.issued", "2021-09-22 10:00", "{\"ukey_issued\":true}");
    ev[9] = s_ev (810, "bank", "account.opened", "2021-10-08 10:00",
                  "{\"account_kind\":\"general\"}");
    run_t run;
    s_fold (&run, KEY_CREDIT_CODE, ev, 10);
    CHECK (s_count (&run, "enterprise_startup") == 1);
    CHECK (run.r.n_unmatched == 0);
    const fold_instance_t *su = s_inst (&run, "enterprise_startup", 1);
    CHECK (su && su->state == INSTANCE_COMPLETED && su->n_events == 7);
    if (su) {
        CHECK_AT (su->started_at_ms, "2020-09-18 16:00");
        CHECK_AT (su->ended_at_ms, "2020-09-21 15:00");
        //  1 working day from Friday 16:00: 24:00 of Monday 21
        CHECK_AT (s_step (su, "licence_issued")->due_at_ms, "2020-09-22 00:00");
        CHECK_AT (s_step (su, "employment_registered")->due_at_ms, "2020-09-22 00:00");
        CHECK_AT (s_step (su, "employment_registered")->completed_at_ms,
                  "2020-09-21 15:00");
        //  the seal: 180 working minutes from the licence at 10:00, 120
        //  to 12:00 and 60 from 14:30
        CHECK_AT (s_step (su, "seal_made")->due_at_ms, "2020-09-21 15:30");
        CHECK_AT (s_step (su, "invoice_issued")->completed_at_ms, "2020-09-21 11:30");
    }
    for (int id = 801; id <= 810; id++)
        CHECK (!s_unmatched (&run, id, NULL));
    CHECK (!s_joined (&run, 801) && !s_joined (&run, 809) && !s_joined (&run, 810));
    s_run_free (&run);

    //  the licence on Tuesday, two working days after the application
    ev[2] = s_ev (803, "market", "licence.issued", "2020-09-22 10:00", NULL);
    ev[3] = s_ev (804, "police", "seal.made", "2020-09-22 11:00", NULL);
    s_fold (&run, KEY_CREDIT_CODE, ev + 1, 7);
    su = s_inst (&run, "enterprise_startup", 1);
    CHECK (su && su->state == INSTANCE_COMPLETED);
    if (su) {
        CHECK_AT (s_step (su, "licence_issued")->due_at_ms, "2020-09-22 00:00");
        CHECK_AT (s_step (su, "licence_issued")->completed_at_ms, "2020-09-22 10:00");
    }
    s_run_free (&run);

    //  an event at the application's very instant joins it, whichever
    //  event id sorts first
    fold_event_t tie[2];
    tie[0] = s_ev (811, "market", "licence.issued", "2020-09-18 16:00", NULL);
    tie[1] = s_ev (812, "market", "startup.accepted", "2020-09-18 16:00", NULL);
    s_fold (&run, KEY_CREDIT_CODE, tie, 2);
    su = s_inst (&run, "enterprise_startup", 1);
    CHECK (su && su->n_events == 2 && run.r.n_unmatched == 0);
    if (su)
        CHECK_AT (s_step (su, "licence_issued")->completed_at_ms, "2020-09-18 16:00");
    s_run_free (&run);

    //  without the application nothing opens and nothing waits
    s_fold (&run, KEY_CREDIT_CODE, ev + 2, 8);
    CHECK (run.r.n_instances == 0);
    CHECK (run.r.n_unmatched == 0);
    s_run_free (&run);

    //  every order of seven of them, the application among them, folds alike
    const int subset[7] = {0, 1, 2, 3, 5, 7, 8};
    int order[10], perm[7] = {0, 1, 2, 3, 4, 5, 6};
    for (int i = 0; i < 7; i++)
        order[i] = subset[i];
    char *first = s_fold_canonical (KEY_CREDIT_CODE, ev, order, 7);
    CHECK (strstr (first, "enterprise_startup#1 open") != NULL);
    int orders = 1, differing = 0;
    while (s_next_permutation (perm, 7)) {
        for (int i = 0; i < 7; i++)
            order[i] = subset[perm[i]];
        char *text = s_fold_canonical (KEY_CREDIT_CODE, ev, order, 7);
        differing += strcmp (text, first) != 0;
        free (text);
        orders++;
    }
    CHECK (orders == 5040);
    CHECK (differing == 0);
    free (first);
}

//  --------------------------------------------------------------------------
//  9. Deregistration: the tax clearance immediate from the application

static void
s_test_deregistration (void)
{
    const char *clean = "{\"tax_inspection\":false,\"tax_arrears\":false,"
                        "\"invoices_outstanding\":false}";
    fold_event_t ev[3];
    ev[0] = s_ev (901, "market", "deregistration.accepted", "2020-09-21 09:00", clean);
    ev[1] = s_ev (902, "tax", "deregistration.cleared", "2020-09-21 10:30", NULL);
    ev[2] =
        s_ev (903, "bank", "account.closed", "2020-09-10 10:00", NULL); //  11 days before
    run_t run;
    s_fold (&run, KEY_CREDIT_CODE, ev, 3);
    const fold_instance_t *dr = s_inst (&run, "enterprise_deregistration", 1);
    CHECK (dr && dr->state == INSTANCE_OPEN && dr->n_events == 3);
    CHECK (run.r.n_unmatched == 0);
    if (dr) {
        //  immediate: the 60 working minutes of the options, from the application
        CHECK_AT (s_step (dr, "tax_cleared")->due_at_ms, "2020-09-21 10:00");
        CHECK (!s_step (dr, "notice_ended")->required);
        CHECK (s_step (dr, "deregistered")->due_at_ms == 0);
    }
    s_run_free (&run);
}

//  --------------------------------------------------------------------------

//  --------------------------------------------------------------------------
//  10. Settled points: a fold resumed from one makes what the whole does

/*  Case numbers of the generated histories (fold_event_t borrows them).  */
static char s_case_no[512][24];
static size_t s_case_no_n;

static const char *
s_case_number (const char *prefix, int n)
{
    if (s_case_no_n == sizeof s_case_no / sizeof s_case_no[0])
        abort ();
    char *b = s_case_no[s_case_no_n++];
    snprintf (b, sizeof s_case_no[0], "%s-%d", prefix, n);
    return b;
}

/*  Event id at time at_ms (the local text is only a placeholder).  */
static fold_event_t
s_ev_at (int id, const char *agency, const char *type, int64_t at_ms, const char *attrs,
         const char *case_no)
{
    fold_event_t e = s_ev (id, agency, type, "2020-01-01 00:00", attrs);
    e.occurred_at_ms = at_ms;
    e.case_no = case_no;
    return e;
}

/*  A settled point of a fold: its result and the point's index.  */
typedef struct {
    const fold_result_t *r;
    size_t point;
} point_t;

/*  Runs started by a settled point (user: a point_t).  */
static int
s_runs_from (void *user, const workflow_def_t *def)
{
    const point_t *p = user;
    size_t n_wf = workflow_set_count (s_set);
    for (size_t w = 0; w < n_wf; w++)
        if (strcmp (workflow_set_get (s_set, w)->name, def->name) == 0)
            return p->r->settled_runs[p->point * n_wf + w];
    return 0;
}

/*  Folds the events of all (sorted) after settled point p, resumed from
    it, and checks it says what all says after it: instances, unmatched
    events, and the settled points after it with their runs.  */
static void
s_check_from (key_kind_t kind, const run_t *all, const point_t *p)
{
    int64_t at = p->r->settled_at_ms[p->point];
    size_t first = 0;
    while (first < all->n && all->ev[first].occurred_at_ms <= at)
        first++;
    if (first == all->n)
        return;
    fold_options_t o = s_options;
    o.runs_before = s_runs_from;
    o.runs_user = (void *) p;
    run_t res;
    res.n = all->n - first;
    res.ev = calloc (res.n, sizeof *res.ev);
    memcpy (res.ev, all->ev + first, res.n * sizeof *res.ev);
    fold (s_set, kind, res.ev, res.n, s_cn, &o, &res.r);
    char *want = s_canonical_range (all, at, INT64_MAX);
    char *got = s_canonical_range (&res, at, INT64_MAX);
    CHECK_MSG (strcmp (want, got) == 0, got);
    free (want);
    free (got);
    size_t n_wf = workflow_set_count (s_set), k = 0;
    while (k < all->r.n_settled && all->r.settled_at_ms[k] <= at)
        k++;
    CHECK (res.r.n_settled == all->r.n_settled - k);
    for (size_t q = 0; q < res.r.n_settled && k + q < all->r.n_settled; q++) {
        CHECK (res.r.settled_at_ms[q] == all->r.settled_at_ms[k + q]);
        CHECK (memcmp (res.r.settled_runs + q * n_wf,
                       all->r.settled_runs + (k + q) * n_wf, n_wf * sizeof (int))
               == 0);
    }
    s_run_free (&res);
}

/*  The settled points of a history, checked two ways. Every point of its
    fold: a fold of the events after it, resumed from it, says what the
    whole says after it. Every prefix (in time order) whose fold has a
    settled point S that the rest of the history follows: the prefix says
    up to S what the whole says, and the rest folded from S says the rest;
    so a point stays true whatever comes after it. Returns the points and
    prefixes checked.  */
static int
s_check_resume (key_kind_t kind, const fold_event_t *history, size_t n)
{
    run_t all;
    s_fold (&all, kind, history, n); //  all.ev: sorted
    int checked = 0;
    for (size_t q = 0; q < all.r.n_settled; q++, checked++)
        s_check_from (kind, &all, &(point_t){&all.r, q});
    for (size_t l = 1; l < n; l++) {
        run_t pre;
        s_fold (&pre, kind, all.ev, l);
        if (!pre.r.n_settled
            || all.ev[l].occurred_at_ms <= pre.r.settled_at_ms[pre.r.n_settled - 1]) {
            s_run_free (&pre);
            continue;
        }
        int64_t at = pre.r.settled_at_ms[pre.r.n_settled - 1];
        char *want = s_canonical_range (&all, INT64_MIN, at);
        char *got = s_canonical_range (&pre, INT64_MIN, at);
        CHECK_MSG (strcmp (want, got) == 0, got);
        free (want);
        free (got);
        s_check_from (kind, &all, &(point_t){&pre.r, pre.r.n_settled - 1});
        s_run_free (&pre);
        checked++;
    }
    s_run_free (&all);
    return checked;
}

/*  A unit's years: cases of every fate, some overlapping, some with an
    early event, stray utility events between cases.  */
static size_t
s_unit_history (fold_event_t *ev, size_t cap, int *next_id)
{
    size_t n = 0;
    int64_t t = s_bj ("2020-03-02 09:00");
    for (int c = 0; c < 14 && n + 12 < cap; c++) {
        static const int64_t gaps[] = {2 * HOUR_MS, DAY_MS, 5 * DAY_MS, 40 * DAY_MS};
        t += gaps[s_random () % 4];
        const char *no = s_case_number ("SL", c);
        bool mortgage = s_random () % 3 == 0;
        int fate = (int) (s_random () % 5); //  0-1 done, 2 withdrawn, 3 refused+reopened, 4 open
        if (s_random () % 4 == 0) //  assessed before the acceptance, within the TTL
            ev[n++] = s_ev_at ((*next_id)++, "tax", "deed_tax.assessed", t - HOUR_MS, NULL,
                               NULL);
        ev[n++] = s_ev_at ((*next_id)++, "land", "transfer.accepted", t,
                           mortgage ? "{\"has_mortgage\": true}" : "{\"has_mortgage\": false}",
                           no);
        ev[n++] = s_ev_at ((*next_id)++, "tax", "deed_tax.paid", t + DAY_MS, NULL, NULL);
        if (fate == 2) {
            ev[n++] = s_ev_at ((*next_id)++, "land", "transfer.withdrawn", t + 2 * DAY_MS,
                               NULL, no);
            continue;
        }
        if (fate == 3) {
            ev[n++] = s_ev_at ((*next_id)++, "land", "transfer.rejected", t + 2 * HOUR_MS,
                               NULL, no);
            ev[n++] = s_ev_at ((*next_id)++, "land", "transfer.accepted", t + 3 * DAY_MS,
                               "{\"corrected\": true}", no);
        }
        if (mortgage)
            ev[n++] = s_ev_at ((*next_id)++, "bank", "mortgage.filed", t + DAY_MS + HOUR_MS,
                               NULL, NULL);
        if (fate == 4)
            continue;
        ev[n++] = s_ev_at ((*next_id)++, "land", "transfer.registered", t + 4 * DAY_MS, NULL,
                           no);
        ev[n++] = s_ev_at ((*next_id)++, "power", "account.transferred", t + 5 * DAY_MS,
                           NULL, NULL);
        ev[n++] = s_ev_at ((*next_id)++, "water", "account.transferred", t + 6 * DAY_MS,
                           NULL, NULL);
        if (s_random () % 5 == 0) //  a stray utility event long after
            ev[n++] = s_ev_at ((*next_id)++, "water", "account.transferred",
                               t + 20 * DAY_MS, NULL, NULL);
    }
    return n;
}

/*  An enterprise's years: a start-up, invoices and accounts for two years
    (recorded between cases), a deregistration.  */
static size_t
s_enterprise_history (fold_event_t *ev, size_t cap, int *next_id)
{
    size_t n = 0;
    int64_t t = s_bj ("2020-09-18 16:00");
    ev[n++] = s_ev_at ((*next_id)++, "market", "startup.accepted", t, NULL,
                       s_case_number ("KB", 1));
    ev[n++] = s_ev_at ((*next_id)++, "market", "licence.issued", t + 18 * HOUR_MS, NULL,
                       NULL);
    ev[n++] = s_ev_at ((*next_id)++, "police", "seal.made", t + 19 * HOUR_MS, NULL, NULL);
    ev[n++] = s_ev_at ((*next_id)++, "bank", "account.opened", t + 17 * HOUR_MS,
                       "{\"account_kind\":\"basic\"}", NULL);
    ev[n++] = s_ev_at ((*next_id)++, "tax", "invoice.issued", t + 20 * HOUR_MS,
                       "{\"ukey_issued\":true}", NULL);
    ev[n++] = s_ev_at ((*next_id)++, "social", "registered", t + 21 * HOUR_MS, NULL, NULL);
    ev[n++] = s_ev_at ((*next_id)++, "social", "employment.registered", t + 22 * HOUR_MS,
                       NULL, NULL);
    for (int k = 0; k < 30 && n + 6 < cap; k++) {
        t += (int64_t) (1 + s_random () % 40) * DAY_MS;
        ev[n++] = s_ev_at ((*next_id)++, "tax", "invoice.issued", t, "{\"ukey_issued\":true}",
                           NULL);
        if (s_random () % 6 == 0)
            ev[n++] = s_ev_at ((*next_id)++, "bank", "account.opened", t + HOUR_MS,
                               "{\"account_kind\":\"general\"}", NULL);
    }
    t += 10 * DAY_MS;
    ev[n++] = s_ev_at ((*next_id)++, "market", "deregistration.accepted", t,
                       "{\"tax_inspection\":false,\"tax_arrears\":false,"
                       "\"invoices_outstanding\":false}",
                       s_case_number ("ZX", 1));
    ev[n++] = s_ev_at ((*next_id)++, "tax", "deregistration.cleared", t + HOUR_MS, NULL, NULL);
    ev[n++] = s_ev_at ((*next_id)++, "tax", "invoice.issued", t + 3 * DAY_MS,
                       "{\"ukey_issued\":true}", NULL);
    return n;
}

static void
s_test_settled_points (void)
{
    fold_event_t ev[160];
    int next_id = 10000;
    int checked = 0;
    for (int h = 0; h < 6; h++) {
        size_t n = s_unit_history (ev, 160, &next_id);
        checked += s_check_resume (KEY_UNIT_NUMBER, ev, n);
    }
    int unit_checked = checked;
    size_t n = s_enterprise_history (ev, 160, &next_id);
    int enterprise_checked = s_check_resume (KEY_CREDIT_CODE, ev, n);
    //  not vacuous: many prefixes of both kinds had a settled point
    CHECK (unit_checked >= 50);
    CHECK (enterprise_checked >= 40);

    //  no settled point while a case runs; none resumed from, none found
    fold_event_t open[2];
    open[0] = s_ev (1001, "land", "transfer.accepted", "2020-09-25 10:00",
                    "{\"has_mortgage\": false}");
    open[1] = s_ev (1002, "tax", "deed_tax.assessed", "2020-09-25 14:00", NULL);
    run_t run;
    s_fold (&run, KEY_UNIT_NUMBER, open, 2);
    CHECK (run.r.n_settled == 0);
    s_run_free (&run);
    //  a completed case settles at its last event; an event at that same
    //  instant could still sort before it, so only a later one follows it
    fold_event_t done[N_CASE];
    s_case (done, true);
    s_fold (&run, KEY_UNIT_NUMBER, done, N_CASE);
    CHECK (run.r.n_settled == 1);
    if (run.r.n_settled)
        CHECK_AT (run.r.settled_at_ms[0], "2020-10-10 11:00");
    s_run_free (&run);
    //  a parked event holds the point until its TTL has passed in event time
    fold_event_t parked[N_CASE + 1];
    s_case (parked, false);
    parked[N_CASE] = s_ev (1003, "water", "account.transferred", "2020-10-12 09:00", NULL);
    s_fold (&run, KEY_UNIT_NUMBER, parked, N_CASE + 1);
    CHECK (run.r.n_settled == 1);
    if (run.r.n_settled)
        CHECK_AT (run.r.settled_at_ms[run.r.n_settled - 1], "2020-10-10 11:00");
    s_run_free (&run);
}

int
main (void)
{
    char err[8 * WORKFLOW_ERR_LINE_MAX] = "";
    s_set = workflow_set_load_dir (UNIT_WORKFLOW_DIR, NULL, 0, err, sizeof err);
    if (!s_set) {
        fprintf (stderr, "test_fold: cannot load %s:\n%s\n", UNIT_WORKFLOW_DIR, err);
        return 1;
    }
    s_cn = calendar_new ();
    char cerr[CALENDAR_ERR_MAX] = "";
    if (calendar_load_csv (s_cn, UNIT_CALENDAR_CSV, cerr, sizeof cerr) != 0) {
        fprintf (stderr, "test_fold: cannot load %s: %s\n", UNIT_CALENDAR_CSV, cerr);
        return 1;
    }
    s_options.immediate_minutes = 60;
    s_options.hours = office_hours_default ();

    s_test_order_independence ();
    s_test_transfer_exact ();
    s_test_early_events ();
    s_test_reject_reopen_cancel ();
    s_test_two_runs ();
    s_test_power_connection ();
    s_test_irrelevant ();
    s_test_immediate_and_many ();
    s_test_startup ();
    s_test_deregistration ();
    s_test_settled_points ();

    for (size_t i = 0; i < s_pool_n; i++)
        json_decref (s_pool[i]);
    calendar_destroy (&s_cn);
    workflow_set_destroy (&s_set);
    return s_summary ();
}
