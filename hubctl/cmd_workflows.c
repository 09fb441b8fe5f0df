/*  hubctl workflows: list workflow instances, filtered and paged; with
    --vocabulary, the agencies' event types (cmd_workflows_vocabulary.c). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hubctl.h"

/* Every instance matching $1 type, $2 state, $3 agency, $4 overdue only, $5
   key, $6 since, $7 until, newest first; TIME formats an instant. */
#define WORKFLOWS_SQL(TIME)                                                                \
    "SELECT i.id, i.workflow, i.key_value AS key, i.state, "                               \
    "  " TIME ("i.started_at") " AS started, "                                             \
    "  " TIME ("i.ended_at") " AS ended, "                                                 \
    "  (SELECT count(*) FROM workflow_steps s WHERE s.instance_id = i.id "                 \
    "    AND s.required AND s.completed_at IS NULL AND s.due_at < now()) "                 \
    "  AS overdue_steps, i.events "                                                        \
    "FROM workflow_instances i "                                                           \
    "WHERE ($1::text IS NULL OR i.workflow = $1) AND ($2::text IS NULL OR i.state = $2) " \
    "AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM workflow_steps s "                     \
    "  WHERE s.instance_id = i.id AND s.agency = $3 AND s.required)) "                     \
    "AND (NOT $4::boolean OR EXISTS (SELECT 1 FROM workflow_steps s "                      \
    "  WHERE s.instance_id = i.id AND s.required AND s.completed_at IS NULL "              \
    "  AND s.due_at < now())) "                                                            \
    "AND ($5::text IS NULL OR i.key_value = $5) "                                          \
    "AND ($6::date IS NULL OR i.started_at >= ($6::date::timestamp AT TIME ZONE "          \
    "  'Asia/Shanghai')) "                                                                 \
    "AND ($7::date IS NULL OR i.started_at < ($7::date::timestamp AT TIME ZONE "           \
    "  'Asia/Shanghai')) "                                                                 \
    "ORDER BY i.started_at DESC, i.id DESC"

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
        HUBCTL_PAGE_HELP ("50")
        "\nWith --vocabulary, lists instead every event type each agency may send and\n"
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
                                   HUBCTL_PAGE_OPTIONS,
                                   {"help", no_argument, NULL, 'h'},
                                   {NULL, 0, NULL, 0}};
    const char *type = NULL, *state = NULL, *agency = NULL, *key = NULL, *since = NULL,
               *until = NULL;
    hubctl_page_t page = {.limit = "50", .offset = "0"};
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
        case 'l': page.limit = optarg; break;
        case 'f': page.offset = optarg; break;
        case 'h': usage (); return HUBCTL_OK;
        default: fprintf (stderr, "Try 'hubctl workflows --help'.\n"); return HUBCTL_USAGE;
        }
    }
    if (optind < argc)
        return hubctl_usage_error ("workflows", "unexpected argument '%s'", argv[optind]);
    if (!hubctl_page_ok ("workflows", &page))
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
    const char *params[7] = {type, state, agency, overdue, key, since, until};
    /* times to the minute for people, ISO 8601 for scripts */
    const char *sql =
        options->json ? WORKFLOWS_SQL (HUBCTL_ISO) : WORKFLOWS_SQL (HUBCTL_MINUTE_OF);
    PGresult *res =
        hubctl_page_query (conn, "list workflow instances", sql, 7, params, NULL, &page);
    int rc = HUBCTL_FAILURE;
    if (res) {
        hubctl_print_page (options, res, &page, NULL, NULL, NULL);
        PQclear (res);
        rc = HUBCTL_OK;
    }
    PQfinish (conn);
    return rc;
}
