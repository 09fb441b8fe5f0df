/*  hubctl: the operators' command-line tool. Shared pieces of the
    subcommands: the global options, the database connection, and output
    as an aligned table for people or JSON for scripts.

    Conventions (like git and systemctl): `hubctl [--db CONNINFO] [--json]
    COMMAND [ARGS]`, `--help` on every command, exit status 0 (done),
    1 (failure: database unreachable, nothing found), 2 (usage). Errors say
    what to do next. */
#ifndef ONENET_HUBCTL_H
#define ONENET_HUBCTL_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#define HUBCTL_OK      0
#define HUBCTL_FAILURE 1
#define HUBCTL_USAGE   2

/* The control socket asked when neither --control, the config file nor
   $ONENET_HUB_CONTROL names one. */
#define HUBCTL_DEFAULT_CONTROL "tcp://127.0.0.1:5571"

typedef struct {
    const char *db;         /* libpq connection string ("" = PG* environment) */
    const char *control;    /* the hub's control socket endpoint, or NULL for the default */
    const char *hub;        /* the hub's ingest endpoint (for replay), or NULL */
    bool json;              /* print JSON instead of tables */
    const char *secret_key; /* the operator's CURVE key pair file, or NULL */
    const char *hub_public_key;  /* the hub's CURVE public key (Z85), or NULL */
    const char *authorised_keys; /* the hub's authorised-keys file (hubctl keys), or NULL */
} hubctl_options_t;

/* One subcommand: argv[0] is its name; returns the exit status. */
typedef int (*hubctl_command_fn) (const hubctl_options_t *options, int argc, char **argv);

typedef struct {
    const char *name;      /* as typed: "workflows" */
    hubctl_command_fn run; /* what it does */
    const char *summary;   /* one line for `hubctl --help` */
} hubctl_command_t;

/* Connects to the database of options, with the session's times in
   Beijing time (Asia/Shanghai), or prints why not (with what to try) and
   returns NULL. */
PGconn *hubctl_connect (const hubctl_options_t *options);

/* Runs a parameterised query; prints the error naming what (and returns
   NULL) when it fails. */
PGresult *hubctl_query (PGconn *conn, const char *what, const char *sql, int n,
                        const char *const *params);

/* Prints a query result: an aligned table with a header (columns sized by
   display width, so Chinese text lines up) or, with json, an array of
   objects. Columns whose name ends in "_json" are embedded as JSON. NULL
   prints as "-" in tables and null in JSON. */
void hubctl_print (const hubctl_options_t *options, PGresult *res);

/* Prints the aligned table hubctl_print prints, of cols columns named by
   header and rows rows of cells (row-major; a NULL cell prints as "-"). */
void hubctl_print_table (const char *const *header, int cols, const char *const *cells,
                         int rows);

/* Row r of a query result as a JSON object, and the whole result as an
   array of them: numbers, booleans and null typed, columns whose name ends
   in "_json" embedded as JSON (under the name without "_json"). */
json_t *hubctl_row_json (PGresult *res, int r);
json_t *hubctl_rows_json (PGresult *res);

/* An instant given as RFC 3339 text ("2026-12-01T09:00:00Z", as the
   authorised-keys file holds them) as JSON the way HUBCTL_ISO prints
   instants from the database: Beijing time, "2026-12-01T17:00:00+08:00".
   NULL or "" is null; text that is no such instant stays as it is. */
json_t *hubctl_instant_json (const char *text);

/* True when text is a whole number from 1 to 1 000 000 (a --limit). */
bool hubctl_count_arg (const char *text);

/* True when value is a count for option (from min, 0 or 1, to 1 000 000);
   else prints the one message every command gives for a bad count and the
   caller returns HUBCTL_USAGE. */
bool hubctl_count_ok (const char *command, const char *option, const char *value, int min);

/* A page of a list: every paged command takes --limit N and --offset N,
   reports how many rows match in all and where the next page starts. */
typedef struct {
    const char *limit;  /* --limit as given: rows per page, 1 to 1 000 000 */
    const char *offset; /* --offset as given: matching rows skipped, 0 to 1 000 000 */
    long total;         /* the rows matching the filter, all pages (hubctl_page_query) */
    int rows;           /* the rows on this page */
} hubctl_page_t;

/* The getopt_long entries of --limit ('l') and --offset ('f'), and their
   lines of a command's --help (DEFAULT: the default --limit, a literal). */
#define HUBCTL_PAGE_OPTIONS                                                                \
    {"limit", required_argument, NULL, 'l'}, {"offset", required_argument, NULL, 'f'}
#define HUBCTL_PAGE_HELP(default)                                                          \
    "  --limit N      at most N rows (default " default ")\n"                              \
    "  --offset N     skip the first N rows (default 0); the footer names the\n"           \
    "                 --offset of the next page\n"

/* True when page's --limit and --offset are counts; else prints the one
   message every command gives for a bad count and the caller returns
   HUBCTL_USAGE. */
bool hubctl_page_ok (const char *command, const hubctl_page_t *page);

/* Runs one page of a list. sql gives every matching row in order with
   params $1..$n; the page is sql's rows from page->offset, at most
   page->limit of them, reordered by then_order (SQL over the page's
   columns) unless NULL. page->total is set from a count over the same sql,
   in the same snapshot, so it holds when the page is past the end (zero
   rows): a transaction of its own, or the caller's when one is open.
   Returns NULL after printing the error (naming what). */
PGresult *hubctl_page_query (PGconn *conn, const char *what, const char *sql, int n,
                             const char *const *params, const char *then_order,
                             hubctl_page_t *page);

/* Begins the read-only snapshot a command reads a page and its summaries
   in (hubctl_page_query then leaves it open). Returns the result to clear,
   or NULL after printing the error. */
PGresult *hubctl_page_snapshot (PGconn *conn);

/* Prints a page: the table and a footer ("rows 51–100 of 234; next:
   --offset 100"), or with json one object {"total", "offset", "limit",
   "next_offset" (null on the last page), "rows": [...]}. A summary of
   all pages (NULL for none) follows: in JSON as an array under name, in
   a table under title (NULL: not in the table). */
void hubctl_print_page (const hubctl_options_t *options, PGresult *res,
                        const hubctl_page_t *page, const char *name, PGresult *summary,
                        const char *title);

/* Prints a usage error for command (with "Try 'hubctl COMMAND --help'")
   and returns HUBCTL_USAGE. */
int hubctl_usage_error (const char *command, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

/* True when value (of option, e.g. "--since") is a date YYYY-MM-DD that
   exists; else prints a usage error for command and the caller returns
   HUBCTL_USAGE. Checked here, so PostgreSQL's datestyle never answers. */
bool hubctl_date_ok (const char *command, const char *option, const char *value);

/* The kinds of value an option may be checked against, with the database's
   known values listed when one is not. */
typedef enum {
    HUBCTL_KNOWN_STATE,    /* an instance state: open, suspended, ... */
    HUBCTL_KNOWN_WORKFLOW, /* a workflow some hub ran with */
    HUBCTL_KNOWN_AGENCY,   /* of an event, adapter, task, dead letter, definition */
    HUBCTL_KNOWN_CODE      /* a dead letter's code */
} hubctl_known_t;

/* True when value is known to the database as kind; else prints a usage
   error for command naming option and listing the known values, and the
   caller returns HUBCTL_USAGE. A NULL value (option not given) is fine;
   so is one the database cannot be asked about (the query's own error
   follows). */
bool hubctl_known (PGconn *conn, const char *command, const char *option,
                   hubctl_known_t kind, const char *value);

/* True when argv holds -h or --help. */
bool hubctl_wants_help (int argc, char **argv);

/* Makes socket (about to connect to endpoint) a CURVE client with the
   operator's key when options has one; without, allows plaintext to a
   loopback endpoint only. Returns 0, or -1 with err. */
int hubctl_secure_socket (const hubctl_options_t *options, void *socket,
                          const char *endpoint, char *err, size_t errlen);

/* Sends request to the hub's control socket at endpoint and returns its
   one-frame answer (malloc'd, NUL-ended), or NULL with err when it cannot
   be asked or does not answer within timeout_ms. */
char *hubctl_ask_hub (const hubctl_options_t *options, const char *endpoint,
                      const char *request, int timeout_ms, char *err, size_t errlen);

/* SQL pieces the commands share. HUBCTL_MINUTE: the to_char format of
   times, Beijing time (the session's time zone, see hubctl_connect) to the
   minute; HUBCTL_MINUTE_OF(t) and HUBCTL_SECOND_OF(t): instant t so, in
   tables (SQL serving tables and JSON takes one of them or HUBCTL_ISO as
   a parameter). HUBCTL_HUMAN: a number of seconds, column secs, for
   people ("2d 3h", "5h 12m", "4m 10s", "12s"; NULL when negative or
   NULL), used as (SELECT HUBCTL_HUMAN FROM (SELECT <seconds> AS secs) x). */
#define HUBCTL_MINUTE       "'YYYY-MM-DD HH24:MI'"
#define HUBCTL_MINUTE_OF(t) "to_char(" t ", " HUBCTL_MINUTE ")"
#define HUBCTL_SECOND_OF(t) "to_char(" t ", 'YYYY-MM-DD HH24:MI:SS')"
#define HUBCTL_HUMAN                                                                       \
    "CASE WHEN secs < 0 THEN NULL "                                                        \
    "WHEN secs >= 86400 THEN (secs / 86400) || 'd ' || (mod(secs, 86400) / 3600) || 'h' "  \
    "WHEN secs >= 3600 THEN (secs / 3600) || 'h ' || (mod(secs, 3600) / 60) || 'm' "       \
    "WHEN secs >= 60 THEN (secs / 60) || 'm ' || mod(secs, 60) || 's' "                    \
    "ELSE secs || 's' END"

/* The SQL of an instant t (a timestamptz) for JSON: ISO 8601 with its
   offset, Beijing time to the second ("2020-09-02T17:30:00+08:00"); NULL
   stays NULL. Every time hubctl --json prints comes from here. */
#define HUBCTL_ISO(t)                                                                      \
    "to_char((" t ") AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+08:00\"')"

/* The SQL of the whole seconds from instant t to now (a bigint; negative
   when t is ahead): ages, lags and delays in JSON, under a key ending in
   _seconds. */
#define HUBCTL_SECONDS_SINCE(t) "floor(extract(epoch FROM now() - (" t ")))::bigint"

/* A duration secs (SQL of a bigint of seconds) in tables, "2d 3h", and in
   JSON, the number: SQL serving both takes one of them as a parameter. */
#define HUBCTL_HUMAN_OF(secs)   "(SELECT " HUBCTL_HUMAN " FROM (SELECT " secs " AS secs) x)"
#define HUBCTL_SECONDS_OF(secs) secs

/* The subcommands, each in its own cmd_*.c file. */
int cmd_status (const hubctl_options_t *options, int argc, char **argv);
int cmd_metrics (const hubctl_options_t *options, int argc, char **argv);
int cmd_workflows (const hubctl_options_t *options, int argc, char **argv);
/* hubctl workflows --vocabulary (cmd_workflows hands it over) */
int cmd_workflows_vocabulary (const hubctl_options_t *options, int argc, char **argv);
int cmd_show (const hubctl_options_t *options, int argc, char **argv);
int cmd_overdue (const hubctl_options_t *options, int argc, char **argv);
int cmd_deadletters (const hubctl_options_t *options, int argc, char **argv);
int cmd_rejects (const hubctl_options_t *options, int argc, char **argv);
int cmd_replay (const hubctl_options_t *options, int argc, char **argv);
int cmd_unmatched (const hubctl_options_t *options, int argc, char **argv);
int cmd_tasks (const hubctl_options_t *options, int argc, char **argv);
int cmd_calendar (const hubctl_options_t *options, int argc, char **argv);
int cmd_migrate (const hubctl_options_t *options, int argc, char **argv);
int cmd_adapters (const hubctl_options_t *options, int argc, char **argv);
int cmd_hubs (const hubctl_options_t *options, int argc, char **argv);
int cmd_report (const hubctl_options_t *options, int argc, char **argv);
int cmd_keys (const hubctl_options_t *options, int argc, char **argv);
int cmd_verify (const hubctl_options_t *options, int argc, char **argv);

#endif
