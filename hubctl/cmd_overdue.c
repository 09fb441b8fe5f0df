/*  hubctl overdue: the supervision list (督办). Required steps not done and
    past their deadline, worst (longest overdue) first, then how many each
    agency has and its worst. Read from workflow_steps, so a step shows up
    the moment its deadline passes, before supervision records the breach. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "hubctl.h"

/* The overdue steps: required, not done, deadline passed; $1 agency and
   $2 workflow (NULL: all). */
#define OVERDUE_STEPS                                                                      \
    "workflow_steps s JOIN workflow_instances i ON i.id = s.instance_id "                  \
    "WHERE s.required AND s.completed_at IS NULL AND s.due_at < now() "                    \
    "  AND ($1::text IS NULL OR s.agency = $1) AND ($2::text IS NULL OR i.workflow = $2) "

static void
usage (void)
{
    printf (
        "Usage: hubctl overdue [--agency AGENCY] [--workflow NAME] [--limit N]\n\n"
        "The supervision list (督办): required steps not done and past their deadline,\n"
        "worst (longest overdue) first, with the instance id for 'hubctl show'; then,\n"
        "unless --agency, how many overdue steps each agency has and its worst.\n"
        "  --agency    only the steps of this agency (land, tax, power, ...)\n"
        "  --workflow  only this workflow, e.g. property_transfer\n"
        "  --limit N   list the N worst steps (default 100); the summary counts all\n"
        "Times are Beijing time. With 'hubctl --json overdue':\n"
        "{\"steps\": [...], \"by_agency\": [...]}.\n");
}

int
cmd_overdue (const hubctl_options_t *options, int argc, char **argv)
{
    static struct option opts[] = {{"agency", required_argument, NULL, 'a'},
                                   {"workflow", required_argument, NULL, 'w'},
                                   {"limit", required_argument, NULL, 'l'},
                                   {"help", no_argument, NULL, 'h'},
                                   {NULL, 0, NULL, 0}};
    const char *agency = NULL, *workflow = NULL, *limit = "100";
    int c;
    while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'a': agency = optarg; break;
        case 'w': workflow = optarg; break;
        case 'l': limit = optarg; break;
        case 'h': usage (); return HUBCTL_OK;
        default: fprintf (stderr, "Try 'hubctl overdue --help'.\n"); return HUBCTL_USAGE;
        }
    }
    if (optind < argc)
        return hubctl_usage_error ("overdue", "unexpected argument '%s'", argv[optind]);
    if (!hubctl_count_ok ("overdue", "--limit", limit, 1))
        return HUBCTL_USAGE;
    PGconn *conn = hubctl_connect (options);
    if (!conn)
        return HUBCTL_FAILURE;
    if (!hubctl_known (conn, "overdue", "--agency", HUBCTL_KNOWN_AGENCY, agency)
        || !hubctl_known (conn, "overdue", "--workflow", HUBCTL_KNOWN_WORKFLOW, workflow)) {
        PQfinish (conn);
        return HUBCTL_USAGE;
    }
    const char *params[3] = {agency, workflow, limit};
    PGresult *steps = hubctl_query (
        conn, "list the overdue steps",
        "SELECT s.agency, i.workflow, i.key_value AS key, s.step, "
        "  to_char(s.due_at, " HUBCTL_MINUTE ") AS due, (SELECT " HUBCTL_HUMAN " FROM "
        "    (SELECT floor(extract(epoch FROM now() - s.due_at))::bigint AS secs) x) "
        "  AS overdue_for, i.id AS instance "
        "FROM " OVERDUE_STEPS "ORDER BY s.due_at, i.id, s.step LIMIT $3::int",
        3, params);
    /* the summary counts every overdue step, not only the ones listed */
    PGresult *by_agency = NULL;
    if (steps)
        by_agency = hubctl_query (
            conn, "count the overdue steps by agency",
            "SELECT agency, overdue_steps, "
            "  (SELECT " HUBCTL_HUMAN " FROM (SELECT worst_s AS secs) x) AS worst "
            "FROM (SELECT s.agency, count(*) AS overdue_steps, "
            "  floor(extract(epoch FROM now() - min(s.due_at)))::bigint AS worst_s "
            "  FROM " OVERDUE_STEPS "GROUP BY s.agency) g "
            "ORDER BY overdue_steps DESC, worst_s DESC, agency",
            2, params);
    int rc = HUBCTL_FAILURE;
    if (by_agency && options->json) {
        json_t *out = json_object ();
        json_object_set_new (out, "steps", hubctl_rows_json (steps));
        json_object_set_new (out, "by_agency", hubctl_rows_json (by_agency));
        json_dumpf (out, stdout, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
        putchar ('\n');
        json_decref (out);
        rc = HUBCTL_OK;
    }
    else if (by_agency) {
        hubctl_print (options, steps);
        long total = 0;
        for (int r = 0; r < PQntuples (by_agency); r++)
            total += atol (PQgetvalue (by_agency, r, 1));
        if (total > PQntuples (steps))
            printf ("The %d worst of %ld overdue steps; --limit N to list more.\n",
                    PQntuples (steps), total);
        if (!agency) {
            printf ("\nBy agency:\n");
            hubctl_print (options, by_agency);
        }
        rc = HUBCTL_OK;
    }
    PQclear (steps);
    PQclear (by_agency);
    PQfinish (conn);
    return rc;
}
