/*  agency_pg: a connection to the agency's own PostgreSQL database and the
    one table the adapter uses there (see source_db.h and task_db.h, and
    docs/adapters/database.md).

    The table name comes from the settings, so it is checked before it is
    ever used: one or two parts (schema.table) of [a-z_][a-z0-9_]*, at most
    63 characters each, and quoted with PQescapeIdentifier on top. Values
    always travel as parameters. A lost connection is opened again on the
    next use, at most once a second, so an agency database that restarts
    costs a pause, not the adapter.

    Every connection is opened with connect_timeout 2 (seconds, libpq's
    smallest) and statement_timeout set to the adapter's db-timeout-ms, so
    that a database that does not answer, or a statement that waits on a
    lock an agency program holds, fails in bounded time and is retried
    (keywords of the connection string itself take precedence). The
    connection is used by one thread only: the agency worker that owns it
    (agency_worker.h). */
#ifndef ONENET_AGENCY_PG_H
#define ONENET_AGENCY_PG_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Seconds to wait for a connection (libpq's connect_timeout). */
#define AGENCY_PG_CONNECT_TIMEOUT "2"

typedef struct {
    const char *setting; /* the setting it comes from ("source-db"), for messages */
    char conninfo[512];  /* libpq connection string (may hold a password: never logged) */
    char dbname[128];    /* the database's name from conninfo, for messages */
    char name[130];      /* the table as configured, for messages */
    char table[300];     /* the table, quoted, for SQL text */
    char index[140];     /* the table's last part, for naming its index */
    bool create;         /* create the table when it is missing */
    int timeout_ms;      /* statement_timeout of the connection, 0: the server's */
    const char *ddl;     /* CREATE TABLE IF NOT EXISTS @T ...: @T the table, @I its index */
    PGconn *conn;        /* the connection, NULL when not open */
    int64_t retry_at;    /* after a failed connect, not before this (monotonic ms) */
} agency_pg_t;

/* Checks the table name and fills self; nothing is opened yet. timeout_ms
   is the statement_timeout of the connection. Returns 0, or -1 with a
   reason naming the setting in err. */
int agency_pg_init (agency_pg_t *self, const char *setting, const char *conninfo,
                    const char *table_setting, const char *table, bool create,
                    const char *ddl, int timeout_ms, char *err, size_t errlen);

/* The open connection, opening it (and creating the table, when asked)
   if needed. NULL with a reason in err while the database cannot be
   reached, or during the pause after a failed attempt. */
PGconn *agency_pg_conn (agency_pg_t *self, char *err, size_t errlen);

/* Drops the connection after an error that may have broken it; the next
   agency_pg_conn opens a new one. */
void agency_pg_reset (agency_pg_t *self);

/* The database's name (from the connection string), for messages. */
const char *agency_pg_dbname (agency_pg_t *self);

/* Writes "what: message" from the connection's last error into err, one line. */
void agency_pg_error (agency_pg_t *self, const char *what, char *err, size_t errlen);

void agency_pg_close (agency_pg_t *self);

#endif
