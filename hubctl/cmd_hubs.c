/*  hubctl hubs: every hub sharing the database, as the database knows
    them. A hub id appears in chain_heads (one hash chain per hub, with its
    newest row), in adapters.hub_id (the hub that heard an adapter's last
    heartbeat) and, while the hub runs, in the application_name of its
    connections ("onenet-hub THREAD (HUB_ID)") in pg_stat_activity. Nothing
    here asks the hubs themselves: a hub that cannot reach the database
    shows as not connected. */
#include <getopt.h>
#include <stdio.h>

#include "hubctl.h"

/* A hub silent (no connection, nothing stored, no heartbeat heard) for
   longer than this is left out unless --all: a hub started with the
   default hub id starts a new chain each time. */
#define RECENT "interval '1 day'"

/* TS formats a time column, AGO its age (for JSON in seconds, the column's
   name then ending in SUFFIX); FLAG is the SQL of the connected column over
   c.connections. */
#define HUBS_SQL(TS, AGO, suffix, FLAG)                                                    \
    "WITH act AS ("                                                                        \
    "  SELECT substring(application_name FROM '^onenet-hub ([a-z]+) ') AS thread, "       \
    "    substring(application_name FROM '^onenet-hub [a-z]+ \\((.*?)\\)?$') AS id, "      \
    /* PostgreSQL keeps 63 bytes of a name: a long hub id loses its ')' */                 \
    "    application_name !~ '\\)$' AS cut "                                               \
    "  FROM pg_catalog.pg_stat_activity "                                                  \
    "  WHERE datname = current_database() AND application_name LIKE 'onenet-hub % (%' "   \
    "    AND application_name NOT LIKE 'onenet-hub watch %'), "                           \
    "ids AS (SELECT chain_id AS hub_id FROM chain_heads "                                  \
    "  UNION SELECT hub_id FROM adapters UNION SELECT id FROM act WHERE id <> ''), "       \
    "q AS (SELECT q.hub_id, count(*) AS backlog, min(q.enqueued_at) AS oldest "            \
    "  FROM correlation_backlog q GROUP BY q.hub_id), "                                    \
    "ad AS (SELECT hub_id, count(*) AS adapters, max(last_heartbeat) AS heard "            \
    "  FROM adapters GROUP BY hub_id), "                                                   \
    "hubs AS (SELECT i.hub_id, coalesce(c.connections, 0) AS connections, c.threads, "     \
    "  h.seq AS events, h.updated_at AS stored, "                                          \
    "  coalesce(h.seq - coalesce((SELECT e.seq FROM events e WHERE e.chain_id = i.hub_id " \
    "    AND e.stored_at <= now() - interval '1 minute' ORDER BY e.seq DESC LIMIT 1), 0), " \
    "    0) AS last_minute, "                                                              \
    "  coalesce(q.backlog, 0) AS backlog, q.oldest, coalesce(ad.adapters, 0) AS adapters, " \
    "  ad.heard "                                                                          \
    "  FROM ids i "                                                                        \
    "  LEFT JOIN chain_heads h ON h.chain_id = i.hub_id "                                  \
    "  LEFT JOIN q ON q.hub_id = i.hub_id LEFT JOIN ad ON ad.hub_id = i.hub_id "           \
    "  CROSS JOIN LATERAL (SELECT nullif(count(*), 0) AS connections, "                   \
    "    string_agg(DISTINCT a.thread, ',') AS threads FROM act a "                        \
    "    WHERE a.id = i.hub_id OR (a.cut AND left(i.hub_id, length(a.id)) = a.id)) c "    \
    "  WHERE i.hub_id IS NOT NULL) "                                                       \
    "SELECT hub_id, " FLAG " AS connected, connections, threads, "                         \
    "  " TS ("stored") " AS last_stored, " AGO ("stored") " AS stored_ago" suffix ", "     \
    "  last_minute AS events_last_minute, events, backlog, "                               \
    "  " AGO ("oldest") " AS oldest_queued" suffix ", adapters, "                          \
    "  " TS ("heard") " AS last_heartbeat, " AGO ("heard") " AS heard_ago" suffix " "      \
    "FROM hubs WHERE $1 OR connections > 0 "                                               \
    "  OR greatest(stored, heard) > now() - " RECENT " "                                   \
    "ORDER BY connections > 0 DESC, greatest(stored, heard) DESC NULLS LAST, hub_id"

/* An age in seconds, and for people */
#define SECONDS(col) HUBCTL_SECONDS_SINCE (col)
#define HUMAN(col)   HUBCTL_HUMAN_OF (SECONDS (col))

static void
usage (void)
{
    printf ("Usage: hubctl hubs [--all]\n\n"
            "Every hub sharing this database, from the database itself (no hub is asked):\n"
            "  hub_id              its hub-id setting\n"
            "  connected           yes when it has a connection to this server now\n"
            "  connections,threads its connections and their threads (store, correlate,\n"
            "                      supervise, dispatch)\n"
            "  last_stored         when it last stored events (Beijing time), and how\n"
            "  stored_ago          long ago that was\n"
            "  events_last_minute  events it stored in the last minute\n"
            "  events              events in its hash chain, all told\n"
            "  backlog             events it stored that wait for correlation, and the age\n"
            "  oldest_queued       of the oldest of them (any hub's correlator takes them)\n"
            "  adapters            adapters whose last heartbeat it heard, and when it\n"
            "  last_heartbeat      heard the newest one\n"
            "  --all               also hubs silent for more than a day (a hub started with\n"
            "                      the default hub id makes a new one each time)\n"
            "Connections are those to the server hubctl reached: give hubctl the same\n"
            "multi-host conninfo as the hubs, with target_session_attrs=read-write, so\n"
            "that it asks the primary. With 'hubctl --json hubs' times are ISO 8601 with\n"
            "their offset and the ages seconds (stored_ago_seconds, oldest_queued_seconds,\n"
            "heard_ago_seconds).\n");
}

int
cmd_hubs (const hubctl_options_t *options, int argc, char **argv)
{
    static struct option opts[] = {{"all", no_argument, NULL, 'a'},
                                   {"help", no_argument, NULL, 'h'},
                                   {NULL, 0, NULL, 0}};
    bool all = false;
    int c;
    while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'a': all = true; break;
        case 'h': usage (); return HUBCTL_OK;
        default: fprintf (stderr, "Try 'hubctl hubs --help'.\n"); return HUBCTL_USAGE;
        }
    }
    if (optind < argc)
        return hubctl_usage_error ("hubs", "unexpected argument '%s'", argv[optind]);
    PGconn *conn = hubctl_connect (options);
    if (!conn)
        return HUBCTL_FAILURE;
    const char *params[1] = {all ? "true" : "false"};
    const char *sql =
        options->json ? HUBS_SQL (HUBCTL_ISO, SECONDS, "_seconds", "connections > 0")
                      : HUBS_SQL (HUBCTL_SECOND_OF, HUMAN, "",
                                  "CASE WHEN connections > 0 THEN 'yes' ELSE 'no' END");
    PGresult *res = hubctl_query (conn, "list the hubs", sql, 1, params);
    int rc = HUBCTL_FAILURE;
    if (res) {
        hubctl_print (options, res);
        if (!options->json) {
            if (PQntuples (res) == 0)
                fprintf (stderr, "No hub has stored events, heard an adapter or connected to "
                                 "this database%s.\n",
                         all ? "" : " in the last day");
            PGresult *where = PQexec (conn, "SELECT pg_is_in_recovery(), "
                                            "coalesce(host(inet_server_addr()), 'local'), "
                                            "current_setting('port')");
            if (PQresultStatus (where) == PGRES_TUPLES_OK && PQntuples (where) == 1)
                fprintf (stderr, "(connections as seen by %s %s:%s%s)\n",
                         *PQgetvalue (where, 0, 0) == 't' ? "the standby" : "the primary",
                         PQgetvalue (where, 0, 1), PQgetvalue (where, 0, 2),
                         *PQgetvalue (where, 0, 0) == 't'
                             ? ": the hubs write to the primary, so none is connected here"
                             : "");
            PQclear (where);
        }
        PQclear (res);
        rc = HUBCTL_OK;
    }
    PQfinish (conn);
    return rc;
}
