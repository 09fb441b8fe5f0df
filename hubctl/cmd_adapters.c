/*  hubctl adapters: the agency links as their last heartbeats left them in
    the adapters table: when each adapter was last heard, the events waiting
    in its outbox, and how far it has taken its agency's tasks. */
#include <getopt.h>
#include <stdio.h>

#include "hubctl.h"

/* An adapter heartbeats every second by default: silent for longer than
   this, it is down or cannot reach any hub. */
#define STALE_SECONDS "30"

/* The adapters ($1: only this agency, NULL: all). TIME formats an instant,
   AGE a duration (in seconds for JSON, whose keys then end in _seconds:
   SILENT and WAITING name the two), STALE is the SQL of the stale column
   over l.silent_s. */
#define ADAPTERS_SQL(TIME, AGE, silent, waiting, stale)                                    \
    "SELECT a.adapter_id, a.agency, "                                                      \
    "  " TIME ("a.last_heartbeat") " AS last_heartbeat, "                                  \
    "  " AGE ("l.silent_s") " AS " silent ", a.outbox_depth, "                             \
    "  " AGE ("l.waiting_s") " AS " waiting ", a.task_cursor, a.hub_id, "                  \
    "  " stale " AS stale "                                                                \
    "FROM adapters a CROSS JOIN LATERAL (SELECT "                                          \
    "  " HUBCTL_SECONDS_SINCE ("a.last_heartbeat") " AS silent_s, "                        \
    "  CASE WHEN a.outbox_depth > 0 THEN greatest(0, "                                     \
    "    " HUBCTL_SECONDS_SINCE ("a.oldest_unacked") ") END AS waiting_s) l "              \
    "WHERE $1::text IS NULL OR a.agency = $1 "                                             \
    "ORDER BY a.agency, a.adapter_id"

static void
usage (void)
{
    printf ("Usage: hubctl adapters [--agency AGENCY]\n\n"
            "The agency adapters, as their last heartbeats reported them:\n"
            "  last_heartbeat  when a hub last heard it (Beijing time)\n"
            "  silent_for      how long ago that was\n"
            "  outbox_depth    events it has accepted that no hub has answered yet\n"
            "  oldest_waiting  how long the oldest of them has been waiting (- when none)\n"
            "  task_cursor     the last of its agency's tasks it has taken\n"
            "  hub_id          the hub that heard it\n"
            "  stale           STALE when silent for more than " STALE_SECONDS " s: the\n"
            "                  adapter is down or cannot reach any hub\n"
            "  --agency        only the adapters of this agency\n"
            "With 'hubctl --json adapters': last_heartbeat ISO 8601, silent_seconds and\n"
            "oldest_waiting_seconds in seconds, stale true or false.\n");
}

int
cmd_adapters (const hubctl_options_t *options, int argc, char **argv)
{
    static struct option opts[] = {{"agency", required_argument, NULL, 'a'},
                                   {"help", no_argument, NULL, 'h'},
                                   {NULL, 0, NULL, 0}};
    const char *agency = NULL;
    int c;
    while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'a': agency = optarg; break;
        case 'h': usage (); return HUBCTL_OK;
        default: fprintf (stderr, "Try 'hubctl adapters --help'.\n"); return HUBCTL_USAGE;
        }
    }
    if (optind < argc)
        return hubctl_usage_error ("adapters", "unexpected argument '%s'", argv[optind]);
    PGconn *conn = hubctl_connect (options);
    if (!conn)
        return HUBCTL_FAILURE;
    if (!hubctl_known (conn, "adapters", "--agency", HUBCTL_KNOWN_AGENCY, agency)) {
        PQfinish (conn);
        return HUBCTL_USAGE;
    }
    const char *params[1] = {agency};
    /* stale: a boolean for scripts, a marker people see in a table */
    const char *sql =
        options->json ? ADAPTERS_SQL (HUBCTL_ISO, HUBCTL_SECONDS_OF, "silent_seconds",
                                      "oldest_waiting_seconds", "l.silent_s > " STALE_SECONDS)
                      : ADAPTERS_SQL (HUBCTL_MINUTE_OF, HUBCTL_HUMAN_OF, "silent_for",
                                      "oldest_waiting",
                                      "CASE WHEN l.silent_s > " STALE_SECONDS
                                      " THEN 'STALE' ELSE '' END");
    PGresult *res = hubctl_query (conn, "list the adapters", sql, 1, params);
    int rc = HUBCTL_FAILURE;
    if (res) {
        hubctl_print (options, res);
        if (PQntuples (res) == 0 && !options->json)
            fprintf (stderr,
                     "No adapter%s%s has sent a heartbeat to a hub on this "
                     "database yet.\n",
                     agency ? " of " : "", agency ? agency : "");
        PQclear (res);
        rc = HUBCTL_OK;
    }
    PQfinish (conn);
    return rc;
}
