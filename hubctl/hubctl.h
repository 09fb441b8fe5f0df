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

/* True when text is a whole number from 1 to 1 000 000 (a --limit). */
bool hubctl_count_arg (const char *text);

/* True when value is a count for option (from min, 0 or 1, to 1 000 000);
   else prints the one message every command gives for a bad count and the
   caller returns HUBCTL_USAGE. */
bool hubctl_count_ok (const char *command, const char *option, const char *value, int min);

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
   minute. HUBCTL_HUMAN: a number of seconds, column secs, for people ("2d
   3h", "5h 12m", "4m 10s", "12s"; NULL when negative or NULL), used as
   (SELECT HUBCTL_HUMAN FROM (SELECT <seconds> AS secs) x). */
#define HUBCTL_MINUTE "'YYYY-MM-DD HH24:MI'"
#define HUBCTL_HUMAN                                                                       \
    "CASE WHEN secs < 0 THEN NULL "                                                        \
    "WHEN secs >= 86400 THEN (secs / 86400) || 'd ' || (mod(secs, 86400) / 3600) || 'h' "  \
    "WHEN secs >= 3600 THEN (secs / 3600) || 'h ' || (mod(secs, 3600) / 60) || 'm' "       \
    "WHEN secs >= 60 THEN (secs / 60) || 'm ' || mod(secs, 60) || 's' "                    \
    "ELSE secs || 's' END"

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
