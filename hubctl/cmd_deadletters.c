/*  hubctl deadletters: the events the hubs refused, with their reasons,
    newest first (docs/schema.md, dead_letters). */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hubctl.h"

/* The dead letters matching $1 code, $2 agency, $3 since and $4 pending
   only, newest refusal first: TIME formats an instant, MORE are the
   columns after the code. */
#define DEADLETTERS_SQL(TIME, more)                                                        \
    "SELECT d.id, " TIME ("d.first_seen") " AS first_seen, "                               \
    "  " TIME ("d.last_seen") " AS last_seen, "                                            \
    "  d.attempts, d.sender, d.agency, d.event_id, d.case_no, d.event_type, d.code, "     \
    more "FROM public.dead_letters d "                                                     \
    "WHERE ($1::text IS NULL OR d.code = $1) "                                             \
    "AND ($2::text IS NULL OR d.agency = $2) "                                             \
    "AND ($3::date IS NULL OR d.last_seen >= ($3::date::timestamp AT TIME ZONE "           \
    "  'Asia/Shanghai')) "                                                                 \
    "AND (NOT $4::boolean OR d.replayed_at IS NULL) "                                      \
    "ORDER BY d.last_seen DESC, d.id DESC"

static void
usage (void)
{
    printf (
        "Usage: hubctl deadletters [--code CODE] [--agency AGENCY] [--since DATE]\n"
        "                          [--pending] [--limit N] [--offset N]\n\n"
        "Lists the events the hubs refused, newest refusal first: when it was first\n"
        "and last refused, how often, who sent it, the event, the machine-readable\n"
        "code (MALFORMED, INVALID_KEY, UNKNOWN_AGENCY, CORRELATION_FAILED, ...), the\n"
        "reason and whether an operator has replayed it ('hubctl replay').\n"
        "  --code CODE    only this code\n"
        "  --agency A     only events that claimed this agency\n"
        "  --since DATE   only refused (last) on or after this date (YYYY-MM-DD, Beijing)\n"
        "  --pending      only those not replayed yet\n"
        HUBCTL_PAGE_HELP ("50")
        "Times are Beijing time. With 'hubctl --json deadletters': one page as JSON\n"
        "('man hubctl', LISTS AND JSON), times ISO 8601, the whole reason, replayed\n"
        "true or false.\n");
}

int
cmd_deadletters (const hubctl_options_t *options, int argc, char **argv)
{
    static struct option opts[] = {{"code", required_argument, NULL, 'c'},
                                   {"agency", required_argument, NULL, 'a'},
                                   {"since", required_argument, NULL, 'S'},
                                   {"pending", no_argument, NULL, 'p'},
                                   HUBCTL_PAGE_OPTIONS,
                                   {"help", no_argument, NULL, 'h'},
                                   {NULL, 0, NULL, 0}};
    const char *agency = NULL, *since = NULL, *pending = "false";
    hubctl_page_t page = {.limit = "50", .offset = "0"};
    char code[64] = "";
    int c;
    while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (strlen (optarg) >= sizeof code)
                return hubctl_usage_error ("deadletters",
                                           "--code '%s' is not a code "
                                           "(MALFORMED, INVALID_KEY, ...)",
                                           optarg);
            /* codes are upper-case names; accept invalid_key as well */
            for (size_t i = 0; optarg[i]; i++)
                code[i] = (char) toupper ((unsigned char) optarg[i]);
            code[strlen (optarg)] = '\0';
            break;
        case 'a': agency = optarg; break;
        case 'S': since = optarg; break;
        case 'p': pending = "true"; break;
        case 'l': page.limit = optarg; break;
        case 'f': page.offset = optarg; break;
        case 'h': usage (); return HUBCTL_OK;
        default:
            fprintf (stderr, "Try 'hubctl deadletters --help'.\n");
            return HUBCTL_USAGE;
        }
    }
    if (optind < argc)
        return hubctl_usage_error ("deadletters", "unexpected argument '%s'", argv[optind]);
    if (since && !hubctl_date_ok ("deadletters", "--since", since))
        return HUBCTL_USAGE;
    if (!hubctl_page_ok ("deadletters", &page))
        return HUBCTL_USAGE;
    PGconn *conn = hubctl_connect (options);
    if (!conn)
        return HUBCTL_FAILURE;
    if (!hubctl_known (conn, "deadletters", "--code", HUBCTL_KNOWN_CODE, *code ? code : NULL)
        || !hubctl_known (conn, "deadletters", "--agency", HUBCTL_KNOWN_AGENCY, agency)) {
        PQfinish (conn);
        return HUBCTL_USAGE;
    }
    const char *params[4] = {*code ? code : NULL, agency, since, pending};
    /* tables say yes/no and cut the reason; scripts get a boolean, the
       times ISO 8601 and the whole reason */
    const char *sql =
        options->json
            ? DEADLETTERS_SQL (
                  HUBCTL_ISO, "  d.reason, d.replayed_at IS NOT NULL AS replayed, "
                              "  " HUBCTL_ISO ("d.replayed_at") " AS replayed_at, d.hub_id, "
                              "  octet_length(d.payload) AS payload_bytes ")
            : DEADLETTERS_SQL (
                  HUBCTL_SECOND_OF,
                  "  CASE WHEN d.replayed_at IS NULL THEN 'no' ELSE 'yes' END AS replayed, "
                  /* last, and cut: one long reason must not pad every row
                     (the whole reason is in --json) */
                  "  CASE WHEN char_length (d.reason) > 120 THEN left (d.reason, 119) || '…' "
                  "  ELSE d.reason END AS reason ");
    PGresult *res =
        hubctl_page_query (conn, "list the dead letters", sql, 4, params, NULL, &page);
    int rc = HUBCTL_FAILURE;
    if (res) {
        hubctl_print_page (options, res, &page, NULL, NULL, NULL);
        PQclear (res);
        rc = HUBCTL_OK;
    }
    PQfinish (conn);
    return rc;
}
