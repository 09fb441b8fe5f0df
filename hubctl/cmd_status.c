/*  hubctl status and hubctl metrics: live figures from a running hub (its
    control socket, see hub/control.h), and for status also what the
    database says: agency links, the correlation backlog, refusals. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "hubctl.h"

#define DEFAULT_CONTROL HUBCTL_DEFAULT_CONTROL

/* Parses --control and --timeout; returns -1 after --help, or the index of
   the first argument left over. */
static int
parse (const char *command, int argc, char **argv, const char *default_control,
       const char **control, int *timeout_ms, void (*usage) (void))
{
    static struct option opts[] = {{"control", required_argument, NULL, 'c'},
                                   {"timeout", required_argument, NULL, 't'},
                                   {"help", no_argument, NULL, 'h'},
                                   {NULL, 0, NULL, 0}};
    *control = default_control ? default_control : DEFAULT_CONTROL;
    *timeout_ms = 3000;
    int c;
    while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': *control = optarg; break;
        case 't':
            if (!hubctl_count_arg (optarg))
                return -2;
            *timeout_ms = atoi (optarg) * 1000;
            break;
        case 'h': usage (); return -1;
        default: return -2;
        }
    }
    (void) command;
    return optind;
}

/* The adapters, by agency; TIME formats an instant, SILENT names the
   seconds since each was heard. */
#define ADAPTERS_SQL(TIME, silent)                                                         \
    "SELECT adapter_id, agency, " TIME ("last_heartbeat") " AS last_heartbeat, "           \
    "  " HUBCTL_SECONDS_SINCE ("last_heartbeat") " AS " silent ", outbox_depth, "          \
    "  task_cursor FROM adapters ORDER BY agency, adapter_id"

/* The hub's figures (its control socket's status object) as hubctl --json
   prints them: durations in seconds under names ending in _seconds
   (uptime_s, commit_avg_ms and the histogram's le_ms converted), the rest
   as the hub gave them. Returns a new object. */
static json_t *
hub_json (json_t *hub)
{
    json_t *out = json_object (), *value;
    const char *key;
    json_object_foreach (hub, key, value)
    {
        if (!strcmp (key, "uptime_s"))
            json_object_set (out, "uptime_seconds", value);
        else if (!strcmp (key, "commit_avg_ms"))
            json_object_set_new (out, "commit_avg_seconds",
                                 json_real (json_number_value (value) / 1000.0));
        else if (!strcmp (key, "commit_ms_histogram") && json_is_array (value)) {
            json_t *buckets = json_array (), *b;
            size_t i;
            json_array_foreach (value, i, b)
            {
                json_t *le = json_object_get (b, "le_ms");
                json_array_append_new (
                    buckets,
                    json_pack ("{s:o, s:O}", "le_seconds",
                               json_is_number (le) ? json_real (json_number_value (le) / 1000.0)
                                                   : json_null (),
                               "count", json_object_get (b, "count")));
            }
            json_object_set_new (out, "commit_seconds_histogram", buckets);
        }
        else
            json_object_set (out, key, value);
    }
    return out;
}

static void
status_usage (void)
{
    printf ("Usage: hubctl status [--control ENDPOINT] [--timeout S]\n\n"
            "Is the hub up, and how is it doing? Asks the hub's control socket (its\n"
            "'control' setting; default %s, or $ONENET_HUB_CONTROL) for uptime,\n"
            "events/s, batch commit latency and whether it reaches PostgreSQL; then asks\n"
            "the database for every adapter's last heartbeat and backlog, the correlation\n"
            "backlog and the last day's refusals. Exit status 1 when the hub or the\n"
            "database does not answer.\n",
            DEFAULT_CONTROL);
}

static void
metrics_usage (void)
{
    printf ("Usage: hubctl metrics [--control ENDPOINT] [--timeout S]\n"
            "       (with 'hubctl --json metrics': the counters as one JSON object,\n"
            "       durations in seconds under names ending in _seconds)\n\n"
            "Prints the hub's counters and commit latency histogram in the Prometheus\n"
            "text exposition format, as a scraper (e.g. a textfile collector) takes it.\n");
}

int
cmd_metrics (const hubctl_options_t *options, int argc, char **argv)
{
    const char *control;
    int timeout_ms;
    int at = parse ("metrics", argc, argv, options->control, &control, &timeout_ms,
                    metrics_usage);
    if (at == -1)
        return HUBCTL_OK;
    if (at < 0 || at < argc)
        return hubctl_usage_error ("metrics", "expected only --control and --timeout");
    char err[1024];
    /* with --json, the same counters as the hub's status object */
    char *answer = hubctl_ask_hub (options, control, options->json ? "status" : "metrics",
                                   timeout_ms, err, sizeof err);
    if (!answer) {
        fprintf (stderr,
                 "hubctl metrics: %s; is it running with 'control = %s' (or --control)? "
                 "Give another endpoint with --control.\n",
                 err, control);
        return HUBCTL_FAILURE;
    }
    json_t *figures = options->json ? json_loads (answer, 0, NULL) : NULL;
    if (figures) {
        json_t *out = hub_json (figures);
        json_dumpf (out, stdout, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
        putchar ('\n');
        json_decref (out);
        json_decref (figures);
    }
    else
        fputs (answer, stdout);
    free (answer);
    return HUBCTL_OK;
}

int
cmd_status (const hubctl_options_t *options, int argc, char **argv)
{
    const char *control;
    int timeout_ms;
    int at =
        parse ("status", argc, argv, options->control, &control, &timeout_ms, status_usage);
    if (at == -1)
        return HUBCTL_OK;
    if (at < 0 || at < argc)
        return hubctl_usage_error ("status", "expected only --control and --timeout");
    int rc = HUBCTL_OK;
    char err[1024];
    char *answer = hubctl_ask_hub (options, control, "status", timeout_ms, err, sizeof err);
    json_t *hub = answer ? json_loads (answer, 0, NULL) : NULL;
    free (answer);
    if (!hub)
        rc = HUBCTL_FAILURE;

    json_t *db = json_object ();
    PGconn *conn = hubctl_connect (options);
    PGresult *adapters = NULL, *backlog = NULL;
    if (conn) {
        adapters = hubctl_query (conn, "read the adapters",
                                 options->json ? ADAPTERS_SQL (HUBCTL_ISO, "silent_seconds")
                                               : ADAPTERS_SQL (HUBCTL_SECOND_OF, "silent_s"),
                                 0, NULL);
        backlog = hubctl_query (
            conn, "read the backlog",
            "SELECT (SELECT count(*) FROM correlation_backlog) AS correlation_queue, "
            "(SELECT coalesce(extract(epoch FROM now() - min(enqueued_at))::bigint, 0) "
            " FROM correlation_backlog) AS correlation_lag_seconds, "
            "(SELECT count(*) FROM dead_letters WHERE last_seen > now() - interval '1 "
            "day') "
            " AS refused_last_day, "
            "(SELECT count(*) FROM workflow_steps WHERE required AND completed_at IS NULL "
            " AND due_at < now()) AS overdue_steps, "
            "(SELECT count(*) FROM workflow_instances WHERE state = 'open') AS "
            "open_workflows, "
            /* the official calendar must cover the next 60 days */
            "public.calendar_uncovered_years(60) AS calendar_missing_years, "
            "(SELECT count(*) FROM workflow_steps WHERE provisional AND completed_at IS "
            " NULL) AS provisional_deadlines",
            0, NULL);
    }
    if (!adapters || !backlog)
        rc = HUBCTL_FAILURE;
    if (options->json) {
        json_t *out = json_object ();
        json_object_set_new (out, "hub", hub ? hub_json (hub) : json_null ());
        json_object_set_new (db, "reachable", json_boolean (adapters && backlog));
        if (backlog) {
            json_t *row = hubctl_row_json (backlog, 0);
            json_object_update (db, row);
            json_decref (row);
        }
        if (adapters)
            json_object_set_new (db, "adapters", hubctl_rows_json (adapters));
        json_object_set (out, "database", db);
        json_dumpf (out, stdout, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
        putchar ('\n');
        json_decref (out);
    }
    else {
        if (hub)
            printf ("hub %s: up %lld s, %s, %.1f events/s, %lld events "
                    "(%lld stored, %lld duplicate, %lld rejected, %lld retry), "
                    "%lld batches, commit %.2f ms on average\n",
                    json_string_value (json_object_get (hub, "hub_id")),
                    (long long) json_integer_value (json_object_get (hub, "uptime_s")),
                    json_is_true (json_object_get (hub, "store_available"))
                        ? "database reachable"
                        : "DATABASE UNREACHABLE (acknowledgements stopped)",
                    json_number_value (json_object_get (hub, "events_per_s")),
                    (long long) json_integer_value (json_object_get (hub, "events")),
                    (long long) json_integer_value (json_object_get (hub, "stored")),
                    (long long) json_integer_value (json_object_get (hub, "duplicates")),
                    (long long) json_integer_value (json_object_get (hub, "rejected")),
                    (long long) json_integer_value (json_object_get (hub, "retried")),
                    (long long) json_integer_value (json_object_get (hub, "batches")),
                    json_number_value (json_object_get (hub, "commit_avg_ms")));
        else
            printf ("hub: NOT ANSWERING on %s (is it running, with control = %s?): %s\n",
                    control, control, err);
        if (backlog)
            printf ("database: reachable; %s events waiting for correlation (oldest %s s), "
                    "%s open workflows, %s steps overdue, %s refusals in the last day\n",
                    PQgetvalue (backlog, 0, 0), PQgetvalue (backlog, 0, 1),
                    PQgetvalue (backlog, 0, 4), PQgetvalue (backlog, 0, 3),
                    PQgetvalue (backlog, 0, 2));
        else
            printf ("database: NOT REACHABLE\n");
        if (backlog && !PQgetisnull (backlog, 0, 5))
            printf ("calendar: WARNING: no official arrangement for %s, within the next 60 "
                    "days: %s open deadlines there count weekends only (provisional). Load "
                    "the State Council's notice: hubctl calendar import FILE\n",
                    PQgetvalue (backlog, 0, 5), PQgetvalue (backlog, 0, 6));
        if (adapters) {
            printf ("\nadapters:\n");
            hubctl_print (options, adapters);
        }
    }
    json_decref (db);
    json_decref (hub);
    if (adapters)
        PQclear (adapters);
    if (backlog)
        PQclear (backlog);
    if (conn)
        PQfinish (conn);
    return rc;
}
