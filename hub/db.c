/*  db: shared PostgreSQL helpers, see db.h. */
#include "db.h"

#include <stdio.h>

#include "log.h"

/* PostgreSQL notices go to the log, one line each, not raw to stderr. */
static void
on_notice (void *arg, const char *message)
{
    const char *thread = arg;
    log_debug ("notice from PostgreSQL", "thread=%s notice=%s", log_q (thread),
               log_q (message));
}

PGconn *
db_connect_why (const hub_config_t *config, const char *application_name, bool quiet,
                char *why, size_t whylen)
{
    /* defaults first: anything in the configured string overrides them */
    const char *keys[] = {"connect_timeout",
                          "application_name",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "dbname",
                          NULL};
    /* the hub id in the name tells several hubs' backends apart in
       pg_stat_activity (PostgreSQL keeps its first 63 bytes of it) */
    char name[192];
    snprintf (name, sizeof name, "%s (%s)", application_name, config->hub_id);
    const char *vals[] = {"5", name, "10", "3", "3", config->db, NULL};
    PGconn *conn = PQconnectdbParams (keys, vals, 1);
    if (PQstatus (conn) != CONNECTION_OK) {
        char msg[512];
        snprintf (msg, sizeof msg, "%s", PQerrorMessage (conn));
        if (!quiet)
            log_warn ("could not connect to PostgreSQL", "hub=%s thread=%s error=%s",
                      log_q (config->hub_id), log_q (application_name), log_q (msg));
        if (why && whylen)
            snprintf (why, whylen, "%s", msg);
        PQfinish (conn);
        return NULL;
    }
    PQsetNoticeProcessor (conn, on_notice, (void *) application_name);
    return conn;
}

PGconn *
db_connect (const hub_config_t *config, const char *application_name)
{
    return db_connect_why (config, application_name, false, NULL, 0);
}

bool
db_exec (PGconn *conn, const char *sql, const char *what)
{
    PGresult *res = PQexec (conn, sql);
    bool ok =
        PQresultStatus (res) == PGRES_COMMAND_OK || PQresultStatus (res) == PGRES_TUPLES_OK;
    if (!ok)
        log_warn ("statement failed", "what=%s error=%s", log_q (what),
                  log_q (PQresultErrorMessage (res)));
    PQclear (res);
    return ok;
}

char *
db_one_line (char *s)
{
    char *out = s;
    bool space = true; /* drops leading white space */
    for (const char *p = s; *p; p++) {
        if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') {
            if (!space)
                *out++ = ' ';
            space = true;
        }
        else {
            *out++ = *p;
            space = false;
        }
    }
    if (out > s && out[-1] == ' ')
        out--;
    *out = '\0';
    return s;
}

bool
db_lost (PGconn *conn)
{
    return PQstatus (conn) == CONNECTION_BAD;
}
