/*  hubctl unmatched: events some workflow cares about but no instance took
    (docs/schema.md, unmatched_events): parked until an instance starts for
    their key, listed as expired once they have waited longer than their
    time to live. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "hubctl.h"

/* The unmatched events ($1 'expired' or 'parked', NULL: both; $2 agency;
   $3 key), most recently parked first; TIME formats an instant. */
#define UNMATCHED_SQL(TIME)                                                                \
    "SELECT u.event_id, u.key_kind, u.key_value AS key, u.agency, u.event_type, "          \
    "  " TIME ("u.occurred_at") " AS occurred, " TIME ("u.parked_at") " AS parked, "       \
    "  " TIME ("u.expires_at") " AS expires, " TIME ("u.expired_at") " AS expired "        \
    "FROM unmatched_events u "                                                             \
    "WHERE ($1::text IS NULL OR ($1 = 'expired') = (u.expired_at IS NOT NULL)) "           \
    "AND ($2::text IS NULL OR u.agency = $2) "                                             \
    "AND ($3::text IS NULL OR u.key_value = $3) "                                          \
    "ORDER BY u.parked_at DESC, u.event_id, u.key_kind"

static void
usage (void)
{
    printf (
        "Usage: hubctl unmatched [--expired | --parked] [--agency AGENCY] [--key VALUE]\n"
        "                        [--limit N] [--offset N]\n\n"
        "Lists events that a workflow cares about but that no workflow instance has\n"
        "taken, most recently parked first. An event joins the instance for its key\n"
        "whose start occurred within the workflow's time to live of the event, whenever\n"
        "that start arrives. Expired means it has waited here longer than that: worth\n"
        "a look at the case ('hubctl workflows --key'), but a start delivered later\n"
        "still takes it if the two occurred close enough together.\n"
        "  --parked     only those that have waited less than their time to live\n"
        "  --expired    only those that have waited longer\n"
        "  --agency A   only events of this agency\n"
        "  --key VALUE  only events parked under this key value (unit number, ...)\n"
        HUBCTL_PAGE_HELP ("50")
        "Times are Beijing time; expired is '-' while the event is still parked. With\n"
        "'hubctl --json unmatched': one page as JSON ('man hubctl', LISTS AND JSON),\n"
        "times ISO 8601, expired null while parked.\n");
}

int
cmd_unmatched (const hubctl_options_t *options, int argc, char **argv)
{
    static struct option opts[] = {{"expired", no_argument, NULL, 'e'},
                                   {"parked", no_argument, NULL, 'p'},
                                   {"agency", required_argument, NULL, 'a'},
                                   {"key", required_argument, NULL, 'k'},
                                   HUBCTL_PAGE_OPTIONS,
                                   {"help", no_argument, NULL, 'h'},
                                   {NULL, 0, NULL, 0}};
    const char *agency = NULL, *key = NULL, *state = NULL;
    hubctl_page_t page = {.limit = "50", .offset = "0"};
    bool expired = false, parked = false;
    int c;
    while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'e': expired = true; break;
        case 'p': parked = true; break;
        case 'a': agency = optarg; break;
        case 'k': key = optarg; break;
        case 'l': page.limit = optarg; break;
        case 'f': page.offset = optarg; break;
        case 'h': usage (); return HUBCTL_OK;
        default: fprintf (stderr, "Try 'hubctl unmatched --help'.\n"); return HUBCTL_USAGE;
        }
    }
    if (optind < argc)
        return hubctl_usage_error ("unmatched", "unexpected argument '%s'", argv[optind]);
    if (expired && parked)
        return hubctl_usage_error ("unmatched", "give --expired or --parked, not both "
                                                "(neither lists all)");
    if (!hubctl_page_ok ("unmatched", &page))
        return HUBCTL_USAGE;
    if (expired)
        state = "expired";
    else if (parked)
        state = "parked";
    PGconn *conn = hubctl_connect (options);
    if (!conn)
        return HUBCTL_FAILURE;
    if (!hubctl_known (conn, "unmatched", "--agency", HUBCTL_KNOWN_AGENCY, agency)) {
        PQfinish (conn);
        return HUBCTL_USAGE;
    }
    const char *params[3] = {state, agency, key};
    /* times to the second for people, ISO 8601 for scripts */
    const char *sql =
        options->json ? UNMATCHED_SQL (HUBCTL_ISO) : UNMATCHED_SQL (HUBCTL_SECOND_OF);
    PGresult *res =
        hubctl_page_query (conn, "list the unmatched events", sql, 3, params, NULL, &page);
    int rc = HUBCTL_FAILURE;
    if (res) {
        hubctl_print_page (options, res, &page, NULL, NULL, NULL);
        PQclear (res);
        rc = HUBCTL_OK;
    }
    PQfinish (conn);
    return rc;
}
