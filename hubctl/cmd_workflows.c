/*  hubctl workflows: list workflow instances, filtered and paged; with
    --vocabulary, the agencies' event types (cmd_workflows_vocabulary.c). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hubctl.h"

static void
usage (void)
{
    printf (
        "Usage: hubctl workflows [--type NAME] [--state STATE] [--agency AGENCY]\n"
        "                        [--overdue] [--key VALUE] [--since DATE] [--until DATE]\n"
        "                        [--limit N] [--offset N]\n\n"
        "       hubctl workflows --vocabulary [--markdown]\n"
        "                        [--control ENDPOINT | --dir DIR]\n\n"
        "Lists workflow instances, newest first.\n"
        "  --type      workflow name, e.g. property_transfer\n"
        "  --state     open, suspended, completed, rejected or cancelled\n"
        "  --agency    only instances with a step of this agency\n"
        "  --overdue   only instances with a step past its deadline, not done\n"
        "  --key       the correlation key value (unit number, credit code, ...)\n"
        "  --since, --until  started on or after / before this date (YYYY-MM-DD, Beijing)\n"
        "  --limit N   rows per page (default 50), --offset N to page on\n\n"
        "With --vocabulary, lists instead every event type each agency may send and\n"
        "what it does in each workflow, as the hub accepts them (see\n"
        "'hubctl workflows --vocabulary --help').\n");
}

int
cmd_workflows (const hubctl_options_t *options, int argc, char **argv)
{
    static struct option opts[] = {{"type", required_argument, NULL, 't'},
                                   {"state", required_argument, NULL, 's'},
                                   {"agency", required_argument, NULL, 'a'},
                                   {"overdue", no_argument, NULL, 'o'},
                                   {"key", required_argument, NULL, 'k'},
                                   {"since", required_argument, NULL, 'S'},
                                   {"until", required_argument, NULL, 'U'},
                                   {"limit", required_argument, NULL, 'l'},
                                   {"offset", required_argument, NULL, 'f'},
                                   {"help", no_argument, NULL, 'h'},
                                   {NULL, 0, NULL, 0}};
    const char *type = NULL, *state = NULL, *agency = NULL, *key = NULL, *since = NULL,
               *until = NULL, *limit = "50", *offset = "0";
    const char *overdue = "false";
    for (int i = 1; i < argc; i++)
        if (strcmp (argv[i], "--vocabulary") == 0)
            return cmd_workflows_vocabulary (options, argc, argv);
    int c;
    while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 't': type = optarg; break;
        case 's': state = optarg; break;
        case 'a': agency = optarg; break;
        case 'o': overdue = "true"; break;
        case 'k': key = optarg; break;
        case 'S': since = optarg; break;
        case 'U': until = optarg; break;
        case 'l': limit = optarg; break;
        case 'f': offset = optarg; break;
        case 'h': usage (); return HUBCTL_OK;
        default: fprintf (stderr, "Try 'hubctl workflows --help'.\n"); return HUBCTL_USAGE;
        }
    }
    if (optind < argc)
        return hubctl_usage_error ("workflows", "unexpected argument '%s'", argv[optind]);
    if (!hubctl_count_ok ("workflows", "--limit", limit, 1)
        || !hubctl_count_ok ("workflows", "--offset", offset, 0))
        return HUBCTL_USAGE;
    if ((since && !hubctl_date_ok ("workflows", "--since", since))
        || (until && !hubctl_date_ok ("workflows", "--until", until)))
        return HUBCTL_USAGE;
    PGconn *conn = hubctl_connect (options);
    if (!conn)
        return HUBCTL_FAILURE;
    if (!hubctl_known (conn, "workflows", "--type", HUBCTL_KNOWN_WORKFLOW, type)
        || !hubctl_known (conn, "workflows", "--state", HUBCTL_KNOWN_STATE, state)
        || !hubctl_known (conn, "workflows", "--agency", HUBCTL_KNOWN_AGENCY, agency)) {
        PQfinish (conn);
        return HUBCTL_USAGE;
    }
    const char *params[9] = {type,  state, agency, overdue, key,
                             since, until, limit,  offset};
    PGresult *res = hubctl_query (
        conn, "list workflow instances",
        "SELECT i.id, i.workflow, i.key_value AS key, i.state, "
        "  to_char(i.started_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS "
        "started, "
        "  to_char(i.ended_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS "
        "ended, "
        "  (SELECT count(*) FROM workflow_steps s WHERE s.instance_id = i.id AND "
        "s.required "
        "    AND s.completed_at IS NULL AND s.due_at < now()) AS overdue_steps, i.events "
        "FROM workflow_instances i "
        "WHERE ($1::text IS NULL OR i.workflow = $1) AND ($2::text IS NULL OR i.state = "
        "$2) "
        "AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM workflow_steps s "
        "  WHERE s.instance_id = i.id AND s.agency = $3 AND s.required)) "
        "AND (NOT $4::boolean OR EXISTS (SELECT 1 FROM workflow_steps s "
        "  WHERE s.instance_id = i.id AND s.required AND s.completed_at IS NULL "
        "  AND s.due_at < now())) "
        "AND ($5::text IS NULL OR i.key_value = $5) "
        "AND ($6::date IS NULL OR i.started_at >= ($6::date::timestamp AT TIME ZONE "
        "  'Asia/Shanghai')) "
        "AND ($7::date IS NULL OR i.started_at < ($7::date::timestamp AT TIME ZONE "
        "  'Asia/Shanghai')) "
        "ORDER BY i.started_at DESC, i.id DESC LIMIT $8::int OFFSET $9::int",
        9, params);
    int rc = HUBCTL_FAILURE;
    if (res) {
        hubctl_print (options, res);
        PQclear (res);
        rc = HUBCTL_OK;
    }
    PQfinish (conn);
    return rc;
}
