/*  hubctl tasks: the tasks the hub has issued to agencies (account
    transfers, ...), each delivered or pending, and per agency how far its
    adapters have taken them. A task is delivered once some adapter of its
    agency reports a task cursor at or past its number (adapters take an
    agency's tasks in number order and report their cursor in heartbeats). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "hubctl.h"

/* The tasks, most recent first ($1 agency, NULL: all; $2 only the
   undelivered ones): hubctl_page_query takes a page of them and lists it
   by agency and number (PAGE_ORDER). TIME formats an instant, DELIVERED is
   the SQL of the delivered column over the boolean r.taken. */
#define TASKS_SQL(TIME, delivered)                                                         \
    "SELECT r.agency, r.seq, r.kind, r.workflow, r.key_value AS key, r.step, "             \
    "  " TIME ("r.created_at") " AS created, " delivered " AS delivered, "                 \
    "  " TIME ("r.due_at") " AS due, r.withdrawn_reason AS withdrawn "                     \
    "FROM (SELECT t.*, EXISTS (SELECT 1 FROM public.adapters a "                           \
    "        WHERE a.agency = t.agency AND a.task_cursor >= t.seq) AS taken "              \
    "      FROM public.tasks t WHERE $1::text IS NULL OR t.agency = $1) r "                \
    "WHERE NOT ($2::boolean AND r.taken) "                                                 \
    "ORDER BY r.created_at DESC, r.id DESC"
#define PAGE_ORDER "agency, seq"

static void
usage (void)
{
    printf ("Usage: hubctl tasks [--agency AGENCY] [--pending] [--limit N] [--offset N]\n\n"
            "The tasks the hub issued to agencies, by agency and number:\n"
            "  seq        the agency's own task number (1, 2, 3 ... without gaps)\n"
            "  kind, workflow, key, step  what to do, and for which case and step\n"
            "  created    when it was issued; due: the step's deadline then\n"
            "  delivered  yes once an adapter of the agency has taken it (its\n"
            "             task_cursor, see 'hubctl adapters', is at or past seq)\n"
            "  withdrawn  why, when the case no longer calls for the task (a late\n"
            "             event showed the step done before it was ready, the case\n"
            "             ended first); it keeps its seq and is delivered marked so\n"
            "then per agency: tasks issued, the highest cursor of its adapters, and\n"
            "how many are pending.\n"
            "  --agency   only this agency's tasks\n"
            "  --pending  only the tasks not delivered yet\n"
            "  --limit N  the N most recent tasks (default 50), listed by agency and\n"
            "             number; --offset N skips the N most recent (the footer names\n"
            "             the next page's --offset)\n"
            "Times are Beijing time. With 'hubctl --json tasks': one page as JSON ('man\n"
            "hubctl', LISTS AND JSON), the tasks as \"rows\", then \"by_agency\"; times\n"
            "ISO 8601, delivered true or false.\n");
}

int
cmd_tasks (const hubctl_options_t *options, int argc, char **argv)
{
    static struct option opts[] = {{"agency", required_argument, NULL, 'a'},
                                   {"pending", no_argument, NULL, 'p'},
                                   HUBCTL_PAGE_OPTIONS,
                                   {"help", no_argument, NULL, 'h'},
                                   {NULL, 0, NULL, 0}};
    const char *agency = NULL, *pending = "false";
    hubctl_page_t page = {.limit = "50", .offset = "0"};
    int c;
    while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'a': agency = optarg; break;
        case 'p': pending = "true"; break;
        case 'l': page.limit = optarg; break;
        case 'f': page.offset = optarg; break;
        case 'h': usage (); return HUBCTL_OK;
        default: fprintf (stderr, "Try 'hubctl tasks --help'.\n"); return HUBCTL_USAGE;
        }
    }
    if (optind < argc)
        return hubctl_usage_error ("tasks", "unexpected argument '%s'", argv[optind]);
    if (!hubctl_page_ok ("tasks", &page))
        return HUBCTL_USAGE;
    PGconn *conn = hubctl_connect (options);
    if (!conn)
        return HUBCTL_FAILURE;
    if (!hubctl_known (conn, "tasks", "--agency", HUBCTL_KNOWN_AGENCY, agency)) {
        PQfinish (conn);
        return HUBCTL_USAGE;
    }
    const char *params[2] = {agency, pending};
    /* delivered: a boolean for scripts, yes/no in a table; the page and
       the summary of one snapshot */
    const char *sql =
        options->json ? TASKS_SQL (HUBCTL_ISO, "r.taken")
                      : TASKS_SQL (HUBCTL_MINUTE_OF, "CASE WHEN r.taken THEN 'yes' ELSE 'no' END");
    PQclear (hubctl_page_snapshot (conn));
    PGresult *tasks =
        hubctl_page_query (conn, "list the tasks", sql, 2, params, PAGE_ORDER, &page);
    /* per agency: issued, the furthest cursor of its adapters, pending */
    PGresult *by_agency = NULL;
    if (tasks)
        by_agency =
            hubctl_query (conn, "count the tasks by agency",
                          "SELECT q.agency, q.last_seq AS issued, c.cursor, "
                          "  (SELECT count(*) FROM tasks t WHERE t.agency = q.agency "
                          "     AND t.seq > coalesce(c.cursor, 0)) AS pending, c.adapters "
                          "FROM agency_task_sequences q CROSS JOIN LATERAL "
                          "  (SELECT max(a.task_cursor) AS cursor, count(*) AS adapters "
                          "   FROM adapters a WHERE a.agency = q.agency) c "
                          "WHERE $1::text IS NULL OR q.agency = $1 ORDER BY q.agency",
                          1, params);
    int rc = HUBCTL_FAILURE;
    if (by_agency) {
        hubctl_print_page (options, tasks, &page, "by_agency", by_agency, "By agency:");
        rc = HUBCTL_OK;
    }
    PQclear (tasks);
    PQclear (by_agency);
    PQfinish (conn);
    return rc;
}
