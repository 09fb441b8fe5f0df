/*  hubctl show: one case as a timeline. For every workflow instance of a
    correlation key (or the one instance asked for by its id): a header
    line, the steps with their deadlines and how late they were, and the
    events behind the instance in the order they happened. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "hubctl.h"

static void
usage (void)
{
    printf (
        "Usage: hubctl show KEY-or-ID\n\n"
        "Shows one case as a timeline. KEY-or-ID is a workflow instance id (digits,\n"
        "as listed by 'hubctl workflows'), a correlation key value (a unit number,\n"
        "a credit code, an application number ...), any agency's own case number\n"
        "(a land registry acceptance number, a tax document number ...) or an event\n"
        "id. For each instance it finds:\n"
        "  a header   workflow, instance number, state, started, ended, definition,\n"
        "             and the workflow's title from its definition on a line below\n"
        "  its steps  title, agency, required, ready, due, done, and 'late by': done - due\n"
        "             when done after its deadline, now - due when not done and past it\n"
        "  its events when they happened, agency, type, case number, event id\n"
        "Times are Beijing time. With 'hubctl --json show', one object per instance,\n"
        "with its \"title\" and \"steps\" and \"events\" arrays; times ISO 8601,\n"
        "late_by_seconds in seconds; a title is null when the definition has none.\n");
}

/* True for the text form of a UUID (an event id), in either case. */
static bool
looks_like_uuid (const char *s)
{
    if (strlen (s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit ((unsigned char) s[i]))
            return false;
    }
    return true;
}

/* Explains on stderr that no instance has ARG as id or key, and what the
   key may have instead (parked events waiting for their workflow). */
static void
explain_not_found (PGconn *conn, const char *arg, bool digits)
{
    fprintf (stderr,
             "hubctl show: no workflow instance with %s '%s'; list them with "
             "'hubctl workflows' (filter with --key, --type, --since).\n",
             digits ? "id, key, case number or event id" : "key, case number or event id",
             arg);
    const char *params[1] = {arg};
    PGresult *res = hubctl_query (
        conn, "look for parked events",
        "SELECT count(*) FROM public.unmatched_events WHERE key_value = $1", 1, params);
    if (res && strcmp (PQgetvalue (res, 0, 0), "0") != 0)
        fprintf (stderr,
                 "%s event(s) with this key are parked, waiting for their workflow to "
                 "start: see 'hubctl unmatched --key %s'.\n",
                 PQgetvalue (res, 0, 0), arg);
    PQclear (res);
    const char *ev_params[2] = {arg, looks_like_uuid (arg) ? arg : NULL};
    res = hubctl_query (conn, "look for events with this case number or id",
                        "SELECT count(*), string_agg(DISTINCT agency, ', ') "
                        "FROM public.events WHERE case_no = $1 OR event_id = $2::uuid",
                        2, ev_params);
    if (res && strcmp (PQgetvalue (res, 0, 0), "0") != 0)
        fprintf (stderr,
                 "%s stored event(s) of %s carry this case number or event id, but no "
                 "workflow instance holds them (yet): their workflow has not started, or "
                 "they are not part of one; see 'hubctl unmatched'.\n",
                 PQgetvalue (res, 0, 0), PQgetvalue (res, 0, 1));
    PQclear (res);
}

/* The steps of instance ID with their deadlines and how late they were:
   done - due when done after it, now - due when not done and past it.
   TIME formats an instant, LATE the lateness (a duration, named LATE_BY);
   REQUIRED is the SQL of the required column, DUE_NOTE what follows the
   due time (a deadline counted past the official calendar is provisional). */
#define STEPS_SQL(TIME, LATE, late_by, required, due_note, extra)                          \
    "SELECT s.step, t.step_title AS title, s.agency, " required " AS required, "           \
    "  " TIME ("s.ready_at") " AS ready, " TIME ("s.due_at") due_note " AS due, "          \
    "  " TIME ("s.completed_at") " AS done, "                                              \
    "  " LATE ("CASE WHEN coalesce(s.completed_at, now()) > s.due_at THEN floor(extract("  \
                "epoch FROM coalesce(s.completed_at, now()) - s.due_at))::bigint END")     \
    "  AS " late_by extra " "                                                              \
    "FROM workflow_steps s JOIN workflow_instances i ON i.id = s.instance_id "            \
    "LEFT JOIN public.definition_steps t ON t.workflow = i.workflow "                      \
    "  AND t.version = i.version AND t.digest = i.digest AND t.step = s.step "             \
    "WHERE s.instance_id = $1::bigint "                                                    \
    "ORDER BY s.ready_at NULLS LAST, s.due_at NULLS LAST, s.step"

/* The steps of instance ID: required is a boolean in JSON, yes/no in tables;
   times ISO 8601 and the lateness in seconds in JSON. */
static PGresult *
query_steps (PGconn *conn, const char *id, bool json)
{
    const char *params[1] = {id};
    const char *sql =
        json ? STEPS_SQL (HUBCTL_ISO, HUBCTL_SECONDS_OF, "late_by_seconds", "s.required", "",
                          ", s.provisional AS due_provisional")
             : STEPS_SQL (HUBCTL_MINUTE_OF, HUBCTL_HUMAN_OF, "late_by",
                          "CASE WHEN s.required THEN 'yes' ELSE 'no' END",
                          " || CASE WHEN s.provisional THEN ' (provisional)' ELSE '' END",
                          "");
    return hubctl_query (conn, "read the steps of the instance", sql, 1, params);
}

/* The events of instance ID, in the order they happened; TIME formats an
   instant. */
#define EVENTS_SQL(TIME)                                                                   \
    "SELECT " TIME ("e.occurred_at") " AS occurred, e.agency, "                            \
    "  e.event_type, e.case_no, e.event_id "                                               \
    "FROM instance_events ie JOIN events e ON e.event_id = ie.event_id "                   \
    "WHERE ie.instance_id = $1::bigint "                                                   \
    "ORDER BY e.occurred_at, e.event_id"

static PGresult *
query_events (PGconn *conn, const char *id, bool json)
{
    const char *params[1] = {id};
    return hubctl_query (conn, "read the events of the instance",
                         json ? EVENTS_SQL (HUBCTL_ISO) : EVENTS_SQL (HUBCTL_MINUTE_OF), 1,
                         params);
}

/* The instances of a key ($2), an instance id ($1) or the case number or
   event id of one of their events ($2, $3); TIME formats an instant. */
#define INSTANCES_SQL(TIME)                                                                \
    "SELECT i.id, i.workflow, i.instance_no, i.key_kind, i.key_value AS key, i.state, "    \
    "  " TIME ("i.started_at") " AS started, " TIME ("i.ended_at") " AS ended, "           \
    "  i.version, i.digest, i.events AS event_count, "                                     \
    "  (SELECT t.workflow_title FROM public.definition_steps t WHERE t.workflow = "        \
    "   i.workflow AND t.version = i.version AND t.digest = i.digest LIMIT 1) AS title "   \
    "FROM public.workflow_instances i WHERE i.id = $1::bigint OR i.key_value = $2 "        \
    "  OR i.id IN (SELECT ie.instance_id FROM public.instance_events ie "                  \
    "    JOIN public.events e ON e.event_id = ie.event_id "                                \
    "    WHERE e.case_no = $2 OR e.event_id = $3::uuid) "                                  \
    "ORDER BY i.started_at, i.workflow, i.instance_no, i.id"

/* The value of column NAME in row R, "-" when NULL. */
static const char *
field (PGresult *res, int r, const char *name)
{
    int c = PQfnumber (res, name);
    return PQgetisnull (res, r, c) ? "-" : PQgetvalue (res, r, c);
}

/* Prints instance row R of INSTANCES, its steps and its events: as a
   header and two tables, or (json) appended to the array OUT. Returns
   false when a query failed. */
static bool
show_instance (const hubctl_options_t *options, PGconn *conn, PGresult *instances, int r,
               json_t *out)
{
    const char *id = PQgetvalue (instances, r, 0);
    PGresult *steps = query_steps (conn, id, options->json);
    PGresult *events = steps ? query_events (conn, id, options->json) : NULL;
    if (!steps || !events) {
        PQclear (steps);
        return false;
    }
    if (options->json) {
        json_t *obj = hubctl_row_json (instances, r);
        json_object_set_new (obj, "steps", hubctl_rows_json (steps));
        json_object_set_new (obj, "events", hubctl_rows_json (events));
        json_array_append_new (out, obj);
    }
    else {
        printf ("%s #%s (id %s)  state %s  started %s  ended %s  definition v%s  %s %s\n",
                field (instances, r, "workflow"), field (instances, r, "instance_no"), id,
                field (instances, r, "state"), field (instances, r, "started"),
                field (instances, r, "ended"), field (instances, r, "version"),
                field (instances, r, "key_kind"), field (instances, r, "key"));
        if (!PQgetisnull (instances, r, PQfnumber (instances, "title")))
            printf ("%s\n", field (instances, r, "title"));
        printf ("\nSteps:\n");
        hubctl_print (options, steps);
        printf ("\nEvents:\n");
        hubctl_print (options, events);
    }
    PQclear (steps);
    PQclear (events);
    return true;
}

int
cmd_show (const hubctl_options_t *options, int argc, char **argv)
{
    static struct option opts[] = {{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage (); return HUBCTL_OK;
        default: fprintf (stderr, "Try 'hubctl show --help'.\n"); return HUBCTL_USAGE;
        }
    }
    if (optind >= argc)
        return hubctl_usage_error ("show",
                                   "which case? Give a key value or an instance id");
    if (optind + 1 < argc)
        return hubctl_usage_error ("show", "unexpected argument '%s'", argv[optind + 1]);
    const char *arg = argv[optind];

    /* Digits may be an instance id, or a key that happens to be all digits
       (an application number): look for both. Too long for a bigint: a key. */
    size_t len = strlen (arg);
    bool digits = len > 0 && len <= 18 && strspn (arg, "0123456789") == len;
    PGconn *conn = hubctl_connect (options);
    if (!conn)
        return HUBCTL_FAILURE;
    const char *params[3] = {digits ? arg : NULL, arg, looks_like_uuid (arg) ? arg : NULL};
    PGresult *instances =
        hubctl_query (conn, "read the workflow instances",
                      options->json ? INSTANCES_SQL (HUBCTL_ISO) : INSTANCES_SQL (HUBCTL_MINUTE_OF),
                      3, params);
    int rc = HUBCTL_FAILURE;
    if (instances && PQntuples (instances) == 0)
        explain_not_found (conn, arg, digits);
    else if (instances) {
        json_t *out = options->json ? json_array () : NULL;
        rc = HUBCTL_OK;
        for (int r = 0; r < PQntuples (instances) && rc == HUBCTL_OK; r++) {
            if (r > 0 && !options->json)
                printf ("\n\n");
            if (!show_instance (options, conn, instances, r, out))
                rc = HUBCTL_FAILURE;
        }
        if (out && rc == HUBCTL_OK) {
            json_dumpf (out, stdout, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
            putchar ('\n');
        }
        json_decref (out);
    }
    PQclear (instances);
    PQfinish (conn);
    return rc;
}
