/*  fold: the workflows of one correlation key, computed from its events.

    The state of every workflow instance of a key (a unit number, a credit
    code, ...) is a pure function of the set of events that carry the key:
    fold() sorts them by (occurred_at, event_id) and replays them through
    the definitions. That is what makes correlation independent of arrival
    order and of redelivery: any permutation of the same events, with any
    duplicates, folds to the same instances, step times and deadlines. The
    hub refolds a key whenever a new event for it is correlated: from its
    settled point (below) when the new events follow it, so that a key
    with years of history costs what its current case costs.

    Rules, in occurrence order, for each workflow whose key kind is the
    key's:
    - an instance is a case, not a key: it owns the agency case numbers of
      its start event and of the events that completed its steps. An event
      whose (agency, case number) a running instance owns joins that one;
    - a starts_on event starts instance n+1 at its occurred_at when no
      instance is open or suspended, or when every running one was started
      by the same agency under another case number (a resale, a second
      application on the same unit while the first is open); a start event
      of another agency (a second way into the same case) joins the
      latest running instance;
    - any other event relevant to the workflow joins the running instance
      that started last (the one whose window holds the event's time): a
      completes_on event completes its step (the first one counts),
      rejects_on ends or suspends it, reopens_on reopens it, cancels_on
      cancels it;
    - an event that completes a step of the workflow while no instance is
      open waits for the next instance; when that instance starts within
      the workflow's unmatched_ttl after the event occurred, the event joins
      it as if it had come just after the start (agencies' clocks and queues
      differ); otherwise, and for early refusals or withdrawals, it stays
      unmatched. Only event times decide: how long the event has waited
      in the hub (its listing as expired) never does, so every arrival
      order joins the same events. A workflow with between_cases: record
      neither parks nor lists such events: they are stored and join only an
      instance that starts at the same instant (occurred_at ties sort by
      event id), no later one (an enterprise's invoices years after its
      start-up);
    - an instance completes when every required step (those whose when
      holds on the instance's attributes) is done, or the steps listed in
      completes_when; it ends at the latest of their completion times.
    Deadlines: a step's clock starts at the instance start (or its latest
    reopening after a correction), when its
    prerequisites are all done (ready), or when a named step completed; its
    due time is the end of the Nth working day after that (or N working
    minutes of office hours), on the working-day calendar; the warning
    point is warn_at of the way there.

    Settled points. An event only ever joins a running instance, and a
    waiting event only an instance that starts within its window (the TTL,
    or the same instant for a workflow that records between cases). So at
    an instant after which no workflow of the key has a running instance
    nor a waiting event that a later start could still take, everything
    before it is final: no event that occurs later can change it. fold()
    reports every such instant among its events (the instant of an event
    after which the next event is later), with how many runs each workflow
    had started by then; a later fold of only the events after one of them,
    numbering runs on from those counts (options->runs_before), makes
    exactly the instances and unmatched events the whole history would
    make after it. A point stays valid while no event that occurred at or
    before it is added, whatever is added after it: the hub keeps a few
    per key and folds a late event from the latest point before it. */
#ifndef ONENET_FOLD_H
#define ONENET_FOLD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "calendar.h"
#include "workflow_def.h"

/* One event of the key, as the correlator read it. */
typedef struct {
    char event_id[37];      /* lower-case UUID */
    const char *agency;     /* agency code */
    const char *event_type; /* event type */
    const char *case_no;    /* the agency's own case number ("" when unknown) */
    int64_t occurred_at_ms; /* when it happened */
    json_t *attrs;          /* its attributes (a JSON object, borrowed) */
} fold_event_t;

typedef enum {
    INSTANCE_OPEN,
    INSTANCE_SUSPENDED,
    INSTANCE_COMPLETED,
    INSTANCE_REJECTED,
    INSTANCE_CANCELLED
} instance_state_t;

typedef struct {
    const step_def_t *def;   /* the step's definition */
    bool required;           /* its when holds on the instance attributes */
    int64_t ready_at_ms;     /* prerequisites all done (0: not yet, or not required) */
    int64_t due_at_ms;       /* deadline (0: none, or its clock has not started) */
    int64_t warn_at_ms;      /* warning point (0: none) */
    int64_t completed_at_ms; /* occurred_at of the completing event (0: not done) */
    int completed_by;        /* index of that event in the fold's events, -1 */
    const deadline_spec_t *deadline; /* the deadline (alternative) whose when holds on
                                        the instance attributes, or NULL for none */
    bool deadline_unresolved;        /* chosen by an attribute the case lacks */
    bool beyond_calendar;            /* counted past the known calendar (weekends only) */
} fold_step_t;

typedef struct {
    const workflow_def_t *def; /* the workflow, as this instance started under it */
    const workflow_set_t *set; /* the set that holds def */
    int instance_no;           /* 1 for the key's first run of it, 2, ... */
    instance_state_t state;    /* where it stands */
    int64_t started_at_ms;     /* occurred_at of its start event */
    int64_t ended_at_ms;       /* completed, rejected or cancelled at (0: not ended) */
    int64_t suspended_at_ms;   /* suspended at, while suspended (0: not suspended) */
    int64_t clock_at_ms;       /* deadlines counted "from start" start here: the start,
                                   or the latest reopening (a correction restarts the
                                   time limit, 补正后重新计算) */
    int start_event;           /* index of the start event */
    int *events;               /* indexes of its events, in fold order */
    size_t n_events;           /* entries in events */
    json_t *attrs;      /* attributes of its events merged, later ones winning (owned) */
    fold_step_t *steps; /* one per step of the definition, in definition order */
} fold_instance_t;

/* Which definition run instance_no of a workflow follows: the one it
   started under (returned with the set that holds it), or NULL for the
   current one. Changing a definition never rewrites a running instance. */
typedef const workflow_def_t *(*fold_pin_fn) (void *user, const workflow_def_t *current,
                                              int instance_no, const workflow_set_t **set);

/* How many runs of def's workflow the key started by the settled point a
   fold resumes from (the events up to it are not given). */
typedef int (*fold_runs_fn) (void *user, const workflow_def_t *def);

typedef struct {
    int64_t immediate_minutes; /* the budget of an "immediate" deadline */
    office_hours_t hours;      /* office hours for working-minute deadlines */
    fold_pin_fn pin;           /* definition pinning, or NULL: current definitions */
    void *pin_user;            /* passed to pin */
    fold_runs_fn runs_before;  /* resuming from a settled point the events follow:
                                  the runs by then, per workflow (NULL: all given) */
    void *runs_user;           /* passed to runs_before */
} fold_options_t;

typedef struct {
    fold_instance_t *instances; /* every instance of every workflow of the key */
    size_t n_instances;         /* entries in instances */
    int *unmatched;             /* indexes of relevant events no instance took */
    int64_t
        *unmatched_ttl_ms; /* per unmatched event: the longest TTL among its workflows */
    size_t n_unmatched;    /* entries in unmatched */
    size_t n_settled;       /* settled points among the events (see above) */
    int64_t *settled_at_ms; /* their instants, in time order */
    int *settled_runs;      /* per point, per workflow of the set (set order, so
                               point p's run counts start at p x the set's count):
                               runs started by then; 0 for other key kinds */
} fold_result_t;

/* Folds events (any order; sorted in place by occurred_at, event_id) of key
   kind `kind` through the set's workflows. */
void fold (const workflow_set_t *set, key_kind_t kind, fold_event_t *events, size_t n,
           const calendar_t *calendar, const fold_options_t *options,
           fold_result_t *result);

void fold_result_free (fold_result_t *result);

const char *instance_state_name (instance_state_t state);

/* Attribute lookup over a JSON object, for workflow conditions. */
attr_value_t fold_json_lookup (const char *name, void *json_object);

#endif
