/*  wf_store: the workflow state a fold writes, and nothing else does.

    The correlation thread folds the events of a page of keys (fold.h) and
    hands each key's result to a page here; wf_page_flush then writes the
    whole page in a handful of set-based statements, in the caller's
    transaction: the instances (a run matched to its row by its start
    event; surplus runs kept as superseded), the key's settled point (a
    fold that resumed from one writes only what follows it), their steps
    with due and
    warning times, their events, the breaches the new due times disprove
    (withdrawn, kept as history), the parked events, and the tasks the
    folded case calls for (issued once per step, numbered per agency
    without gaps; withdrawn when it no longer calls for them).

    wf_replan_after_calendar_change queues for refolding every instance a
    calendar change may move.

    Every statement runs through stmt.h: a failure is logged and leaves
    the transaction for the caller to roll back. */
#ifndef ONENET_WF_STORE_H
#define ONENET_WF_STORE_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "fold.h"
#include "hub_config.h"
#include "workflow_def.h"

/* One key being folded, and the events read for it. The strings belong
   to the page's claim result: a key of any length the hub accepted (up to
   max-string bytes) is folded whole, never cut short. */
typedef struct {
    const char *kind;        /* key kind name */
    key_kind_t kind_id;      /* the same, parsed */
    const char *value;       /* key value */
    const char *definitions; /* wf_definitions_of_kind for its kind (borrowed) */
    size_t first, count;     /* its events in the page's event array */
    int64_t claimed_ms;      /* the earliest occurred_at among the page's events of it */
    bool resume;             /* only the events after its settled point were read */
    int64_t settled_ms;      /* with resume: the settled point (fold.h) */
    json_t *runs;            /* with resume: runs started by then, per workflow (owned) */
} wf_key_t;

/* SQL: "the time COL follows the instant POINT" as folds see times, in
   whole milliseconds (a timestamp that rounds to POINT does not). */
#define WF_FOLLOWS(col, point) col " >= " point " + interval '500 microseconds'"

/* The instant a key's events were read after, as a timestamptz literal in
   buf: its settled point, or -infinity for a fold of its whole history. */
const char *wf_key_after (const wf_key_t *key, char *buf, size_t size);

/* The definitions the settled points of keys of this kind were computed
   under ("workflow@digest,..."; the caller frees): a settled point holds
   only while they stay the same. */
char *wf_definitions_of_kind (const workflow_set_t *set, key_kind_t kind);

/* With key->resume: the runs of def's workflow by the settled point. */
int wf_key_runs_before (const wf_key_t *key, const workflow_def_t *def);

typedef struct wf_page wf_page_t;

wf_page_t *wf_page_new (void);
void wf_page_destroy (wf_page_t **p_p);

/* Adds one key's fold (its result r over its events) to the page. */
void wf_page_add_key (wf_page_t *p, const workflow_set_t *set, const wf_key_t *key,
                      const fold_result_t *r, const fold_event_t *events);

/* Writes the page. False when a statement failed (see stmt.h). */
bool wf_page_flush (PGconn *conn, wf_page_t *p);

/* After a calendar change (calendar_changes up to version): queues for
   refolding every instance whose counting windows may cover a changed day.
   Its own transaction; done once per change across all hubs. */
void wf_replan_after_calendar_change (PGconn *conn, const hub_config_t *config,
                                      int64_t version);

#endif
