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

/* The overdue steps, worst first. TIME formats an instant, LATE a duration
   (named NAME). */
#define STEPS_SQL(TIME, LATE, name)                                                        \
    "SELECT s.agency, i.workflow, i.key_value AS key, s.step, "                            \
    "  " TIME ("s.due_at") " AS due, "                                                     \
    "  " LATE (HUBCTL_SECONDS_SINCE ("s.due_at")) " AS " name ", i.id AS instance "        \
    "FROM " OVERDUE_STEPS "ORDER BY s.due_at, i.id, s.step"

/* Per agency: its overdue steps and (WORST, a duration named NAME) its
   worst. */
#define BY_AGENCY_SQL(WORST, name)                                                         \
    "SELECT agency, overdue_steps, " WORST ("worst_s") " AS " name " "                     \
    "FROM (SELECT s.agency, count(*) AS overdue_steps, "                                   \
    "  " HUBCTL_SECONDS_SINCE ("min(s.due_at)") " AS worst_s "                             \
    "  FROM " OVERDUE_STEPS "GROUP BY s.agency) g "                                        \
    "ORDER BY overdue_steps DESC, worst_s DESC, agency"

static void
usage (void)
{
    printf (
        "Usage: hubctl overdue [--agency AGENCY] [--workflow NAME] [--limit N]\n"
        "                      [--offset N]\n\n"
        "The supervision list (督办): required steps not done and past their deadline,\n"
        "worst (longest overdue) first, with the instance id for 'hubctl show'; then,\n"
        "unless --agency, how many overdue steps each agency has and its worst.\n"
        "  --agency    only the steps of this agency (land, tax, power, ...)\n"
        "  --workflow  only this workflow, e.g. property_transfer\n"
        HUBCTL_PAGE_HELP ("100")
        "The summary by agency counts every overdue step, not only the page's.\n"
        "Times are Beijing time. With 'hubctl --json overdue': one page as JSON ('man\n"
        "hubctl', LISTS AND JSON), the steps as \"rows\", then \"by_agency\"; times\n"
        "ISO 8601, overdue_seconds and worst_seconds in seconds.\n");
}

int
cmd_overdue (const hubctl_options_t *options, int argc, char **argv)
{
    static struct option opts[] = {{"agency", required_argument, NULL, 'a'},
                                   {"workflow", required_argument, NULL, 'w'},
                                   HUBCTL_PAGE_OPTIONS,
                                   {"help", no_argument, NULL, 'h'},
                                   {NULL, 0, NULL, 0}};
    const char *agency = NULL, *workflow = NULL;
    hubctl_page_t page = {.limit = "100", .offset = "0"};
    int c;
    while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'a': agency = optarg; break;
        case 'w': workflow = optarg; break;
        case 'l': page.limit = optarg; break;
        case 'f': page.offset = optarg; break;
        case 'h': usage (); return HUBCTL_OK;
        default: fprintf (stderr, "Try 'hubctl overdue --help'.\n"); return HUBCTL_USAGE;
        }
    }
    if (optind < argc)
        return hubctl_usage_error ("overdue", "unexpected argument '%s'", argv[optind]);
    if (!hubctl_page_ok ("overdue", &page))
        return HUBCTL_USAGE;
    PGconn *conn = hubctl_connect (options);
    if (!conn)
        return HUBCTL_FAILURE;
    if (!hubctl_known (conn, "overdue", "--agency", HUBCTL_KNOWN_AGENCY, agency)
        || !hubctl_known (conn, "overdue", "--workflow", HUBCTL_KNOWN_WORKFLOW, workflow)) {
        PQfinish (conn);
        return HUBCTL_USAGE;
    }
    const char *params[2] = {agency, workflow};
    /* the page and the summary of one snapshot (one now()); people read
       times to the minute and "2d 3h", scripts ISO 8601 and seconds */
    PQclear (hubctl_page_snapshot (conn));
    PGresult *steps = hubctl_page_query (
        conn, "list the overdue steps",
        options->json ? STEPS_SQL (HUBCTL_ISO, HUBCTL_SECONDS_OF, "overdue_seconds")
                      : STEPS_SQL (HUBCTL_MINUTE_OF, HUBCTL_HUMAN_OF, "overdue_for"),
        2, params, NULL, &page);
    /* the summary counts every overdue step, not only the page's */
    PGresult *by_agency = NULL;
    if (steps)
        by_agency = hubctl_query (
            conn, "count the overdue steps by agency",
            options->json ? BY_AGENCY_SQL (HUBCTL_SECONDS_OF, "worst_seconds")
                          : BY_AGENCY_SQL (HUBCTL_HUMAN_OF, "worst"),
            2, params);
    int rc = HUBCTL_FAILURE;
    if (by_agency) {
        /* for one agency the table's footer is its summary */
        hubctl_print_page (options, steps, &page, "by_agency", by_agency,
                           agency ? NULL : "By agency:");
        rc = HUBCTL_OK;
    }
    PQclear (steps);
    PQclear (by_agency);
    PQfinish (conn);
    return rc;
}
