/*  hubctl adapters: the agency links as their last heartbeats left them in
    the adapters table: when each adapter was last heard, the events waiting
    in its outbox, and how far it has taken its agency's tasks. */
#include <getopt.h>
#include <stdio.h>

#include "hubctl.h"

/* to_char format of times: Beijing time (the session's time zone, see
   hubctl_connect) to the minute. */
#define MINUTE "'YYYY-MM-DD HH24:MI'"

/* A number of seconds, column secs, for people: "2d 3h", "5h 12m", "4m 10s",
   "12s"; NULL when negative or NULL. Used as
   (SELECT HUMAN FROM (SELECT <seconds> AS secs) x). */
#define HUMAN                                                                              \
    "CASE WHEN secs < 0 THEN NULL "                                                        \
    "WHEN secs >= 86400 THEN (secs / 86400) || 'd ' || (mod(secs, 86400) / 3600) || 'h' "  \
    "WHEN secs >= 3600 THEN (secs / 3600) || 'h ' || (mod(secs, 3600) / 60) || 'm' "       \
    "WHEN secs >= 60 THEN (secs / 60) || 'm ' || mod(secs, 60) || 's' "                    \
    "ELSE secs || 's' END"

/* An adapter heartbeats every second by default: silent for longer than
   this, it is down or cannot reach any hub. */
#define STALE_SECONDS "30"

/* The adapters ($1: only this agency, NULL: all). STALE is the SQL of the
   stale column, over l.silent_s. */
#define ADAPTERS_SQL(stale)                                                                \
    "SELECT a.adapter_id, a.agency, "                                                      \
    "  to_char(a.last_heartbeat, " MINUTE ") AS last_heartbeat, "                          \
    "  (SELECT " HUMAN " FROM (SELECT l.silent_s AS secs) x) AS silent_for, "              \
    "  a.outbox_depth, (SELECT " HUMAN " FROM (SELECT l.waiting_s AS secs) x) "            \
    "  AS oldest_waiting, a.task_cursor, a.hub_id, " stale " AS stale "                    \
    "FROM adapters a CROSS JOIN LATERAL (SELECT "                                          \
    "  floor(extract(epoch FROM now() - a.last_heartbeat))::bigint AS silent_s, "          \
    "  CASE WHEN a.outbox_depth > 0 THEN greatest(0, floor(extract(epoch FROM "            \
    "    now() - a.oldest_unacked)))::bigint END AS waiting_s) l "                         \
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
            "With 'hubctl --json adapters', stale is true or false.\n");
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
    const char *params[1] = {agency};
    /* stale: a boolean for scripts, a marker people see in a table */
    const char *sql = options->json ? ADAPTERS_SQL ("l.silent_s > " STALE_SECONDS)
                                    : ADAPTERS_SQL ("CASE WHEN l.silent_s > " STALE_SECONDS
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
