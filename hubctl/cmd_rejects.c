/*  hubctl rejects: what the agencies' adapters refused, seen from the
    centre. Each adapter keeps the records it could not map and the events
    a hub rejected in its own quarantine, and reports them with its
    heartbeats (docs/protocol.md, Heartbeat): per adapter the counts of its
    last heartbeat (adapters), and every quarantined row once
    (adapter_rejects, docs/schema.md). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "hubctl.h"

static void
usage (void)
{
    printf (
        "Usage: hubctl rejects [--agency AGENCY] [--adapter ID] [--since DATE]\n"
        "                      [--limit N] [--offset N]\n\n"
        "What the agencies' adapters refused and keep in their quarantines, as their\n"
        "heartbeats reported it: records an adapter could not map (not JSON, a field\n"
        "missing or failing its check: code BAD_RECORD) and events a hub rejected (the\n"
        "hub's code: INVALID_KEY, TIME_OUT_OF_RANGE, ...). None of them reached the\n"
        "events; 'hubctl deadletters' lists what the hubs themselves refused.\n"
        "First, per adapter, the totals of its last heartbeat:\n"
        "  quarantined     rows in its quarantine (- when it never reported one)\n"
        "  refused         of them records it refused (BAD_RECORD)\n"
        "  rejected        of them events a hub rejected\n"
        "  by_code         the same by code\n"
        "  reported        rows the hubs hold in adapter_rejects (one per row reported)\n"
        "Then the rows, newest first: when the adapter quarantined it, the adapter,\n"
        "where (file:line, table row, or the event), the code and the reason.\n"
        "  --agency A     only the adapters of this agency\n"
        "  --adapter ID   only this adapter\n"
        "  --since DATE   only rows quarantined on or after this date (YYYY-MM-DD,\n"
        "                 Beijing)\n"
        HUBCTL_PAGE_HELP ("50")
        "With 'hubctl --json rejects': one page as JSON ('man hubctl', LISTS AND\n"
        "JSON), the rows as \"rows\", then the totals as \"adapters\"; times ISO 8601.\n"
        "Times are Beijing time.\n");
}

/* Per adapter ($1 agency, $2 adapter: NULL for all); TIME formats an
   instant, BY_CODE is the SQL of the by_code column over
   a.quarantined_by_code. */
#define TOTALS_SQL(TIME, by_code)                                                          \
    "SELECT a.adapter_id, a.agency, a.quarantined, a.quarantined_refused AS refused, "     \
    "  a.quarantined_rejected AS rejected, " by_code ", "                                  \
    "  (SELECT count(*) FROM adapter_rejects r WHERE r.adapter_id = a.adapter_id) "        \
    "  AS reported, " TIME ("a.last_heartbeat") " AS last_heartbeat "                      \
    "FROM adapters a "                                                                     \
    "WHERE ($1::text IS NULL OR a.agency = $1) AND ($2::text IS NULL OR a.adapter_id = $2) " \
    "ORDER BY a.quarantined DESC NULLS LAST, a.agency, a.adapter_id"

/* The rows ($1 agency, $2 adapter, $3 since), newest first; TIME formats
   an instant, MORE: columns after the reason. */
#define ROWS_SQL(TIME, more)                                                               \
    "SELECT " TIME ("r.rejected_at") " AS rejected_at, r.agency, "                         \
    "  r.adapter_id, r.place, r.code, r.reason" more " "                                   \
    "FROM adapter_rejects r "                                                              \
    "WHERE ($1::text IS NULL OR r.agency = $1) AND ($2::text IS NULL OR r.adapter_id = $2) " \
    "AND ($3::date IS NULL OR r.rejected_at >= ($3::date::timestamp AT TIME ZONE "         \
    "  'Asia/Shanghai')) "                                                                 \
    "ORDER BY r.rejected_at DESC, r.id DESC"

int
cmd_rejects (const hubctl_options_t *options, int argc, char **argv)
{
    static struct option opts[] = {{"agency", required_argument, NULL, 'a'},
                                   {"adapter", required_argument, NULL, 'A'},
                                   {"since", required_argument, NULL, 'S'},
                                   HUBCTL_PAGE_OPTIONS,
                                   {"help", no_argument, NULL, 'h'},
                                   {NULL, 0, NULL, 0}};
    const char *agency = NULL, *adapter = NULL, *since = NULL;
    hubctl_page_t page = {.limit = "50", .offset = "0"};
    int c;
    while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'a': agency = optarg; break;
        case 'A': adapter = optarg; break;
        case 'S': since = optarg; break;
        case 'l': page.limit = optarg; break;
        case 'f': page.offset = optarg; break;
        case 'h': usage (); return HUBCTL_OK;
        default: fprintf (stderr, "Try 'hubctl rejects --help'.\n"); return HUBCTL_USAGE;
        }
    }
    if (optind < argc)
        return hubctl_usage_error ("rejects", "unexpected argument '%s'", argv[optind]);
    if ((since && !hubctl_date_ok ("rejects", "--since", since))
        || !hubctl_page_ok ("rejects", &page))
        return HUBCTL_USAGE;
    PGconn *conn = hubctl_connect (options);
    if (!conn)
        return HUBCTL_FAILURE;
    const char *params[3] = {agency, adapter, since};
    /* people read the codes on one line; scripts get the object, and the
       times ISO 8601; the totals and the page of one snapshot */
    PQclear (hubctl_page_snapshot (conn));
    PGresult *totals = hubctl_query (
        conn, "read the adapters' quarantine counts",
        options->json ? TOTALS_SQL (HUBCTL_ISO, "a.quarantined_by_code AS by_code_json")
                      : TOTALS_SQL (HUBCTL_MINUTE_OF,
                                    "(SELECT string_agg(k.key || ' ' || k.value, ', ' "
                                    "ORDER BY k.key) FROM jsonb_each_text("
                                    "a.quarantined_by_code) k) AS by_code"),
        2, params);
    PGresult *rows =
        totals ? hubctl_page_query (
                     conn, "list the rejects",
                     options->json
                         ? ROWS_SQL (HUBCTL_ISO, ", r.event_id, r.seq, " HUBCTL_ISO (
                                                     "r.reported_at") " AS reported_at, r.hub_id")
                         : ROWS_SQL (HUBCTL_SECOND_OF, ""),
                     3, params, NULL, &page)
               : NULL;
    int rc = HUBCTL_FAILURE;
    if (rows && options->json) {
        hubctl_print_page (options, rows, &page, "adapters", totals, NULL);
        rc = HUBCTL_OK;
    }
    else if (rows) {
        printf ("Quarantined at the adapters (their last heartbeats):\n");
        hubctl_print (options, totals);
        printf ("\nRecords and events refused at the adapters, newest first:\n");
        hubctl_print_page (options, rows, &page, NULL, NULL, NULL);
        if (PQntuples (totals) == 0)
            fprintf (stderr,
                     "No adapter%s has sent a heartbeat to a hub on this database yet.\n",
                     agency || adapter ? " of that agency or id" : "");
        rc = HUBCTL_OK;
    }
    PQclear (totals);
    PQclear (rows);
    PQfinish (conn);
    return rc;
}
