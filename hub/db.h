/*  db: what every hub thread needs to talk to PostgreSQL.

    Each hub thread (store, correlate, supervise, dispatch) has its own
    connection; none is shared. Every statement that carries a value from outside is
    parameterised. */
#ifndef ONENET_DB_H
#define ONENET_DB_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "hub_config.h"

/* Connects with the hub's settings; application_name names the thread in
   pg_stat_activity ("onenet-hub store"). Logs why and returns NULL when the
   database cannot be reached. */
PGconn *db_connect (const hub_config_t *config, const char *application_name);

/* The same, writing PostgreSQL's message into why (whylen bytes, may be
   0) when it fails; with quiet, nothing is logged (the caller reports). */
PGconn *db_connect_why (const hub_config_t *config, const char *application_name,
                        bool quiet, char *why, size_t whylen);

/* Runs a statement without parameters. Logs what failed (what names it)
   and returns false on error. */
bool db_exec (PGconn *conn, const char *sql, const char *what);

/* Makes a PostgreSQL message one line: every run of white space (its
   newlines and tabs) becomes one space, none at either end. Returns s. */
char *db_one_line (char *s);

/* True when the connection is gone (as opposed to a statement failing). */
bool db_lost (PGconn *conn);

#endif
