/*  migrate: versioned schema migrations, see migrate.h. */
#include "migrate.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Any constant works; it only has to be the same in every hub. */
#define MIGRATE_LOCK_KEY "7020425001"

static int
exec_ok (PGconn *conn, const char *sql, char *err, size_t errlen, const char *what)
{
    PGresult *res = PQexec (conn, sql);
    ExecStatusType st = PQresultStatus (res);
    int rc = 0;
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        snprintf (err, errlen, "%s: %s", what, PQresultErrorMessage (res));
        rc = -1;
    }
    PQclear (res);
    return rc;
}

int
migrate_latest_version (void)
{
    int v = 0;
    for (const migration_t *m = migrations; m->sql; m++)
        v = m->version;
    return v;
}

/* The newest version recorded in the database, 0 if none, -1 on error. */
static int
database_version (PGconn *conn)
{
    /* two statements: a query naming a missing table fails as it is parsed */
    PGresult *res = PQexec (conn, "SELECT to_regclass('schema_migrations') IS NOT NULL");
    int v = -1;
    if (PQresultStatus (res) == PGRES_TUPLES_OK)
        v = strcmp (PQgetvalue (res, 0, 0), "t") == 0 ? 1 : 0;
    PQclear (res);
    if (v <= 0)
        return v;
    res = PQexec (conn, "SELECT coalesce(max(version), 0) FROM schema_migrations");
    v = PQresultStatus (res) == PGRES_TUPLES_OK ? atoi (PQgetvalue (res, 0, 0)) : -1;
    PQclear (res);
    return v;
}

/* Whether the connected role may apply migrations: it may create in
   schema public and, once the tables exist, owns them (directly or as a
   member of the owning role). Fills who with the role's name. */
static int
may_migrate (PGconn *conn, char *who, size_t wholen)
{
    PGresult *res = PQexec (
        conn, "SELECT current_user, has_schema_privilege('public', 'CREATE') AND "
              "(to_regclass('public.events') IS NULL OR pg_has_role((SELECT relowner "
              "FROM pg_class WHERE oid = to_regclass('public.events')), 'USAGE'))");
    int may = -1;
    if (PQresultStatus (res) == PGRES_TUPLES_OK) {
        snprintf (who, wholen, "%s", PQgetvalue (res, 0, 0));
        may = strcmp (PQgetvalue (res, 0, 1), "t") == 0;
    }
    PQclear (res);
    return may;
}

int
migrate_apply (PGconn *conn, char *err, size_t errlen)
{
    /* up to date: touch nothing, so a hub role without CREATE can run */
    int at = database_version (conn);
    if (at < 0) {
        snprintf (err, errlen, "could not read the schema version: %s",
                  PQerrorMessage (conn));
        return -1;
    }
    if (at >= migrate_latest_version ())
        return 0;
    char who[128] = "";
    int may = may_migrate (conn, who, sizeof who);
    if (may == 0) {
        snprintf (err, errlen,
                  "the database schema is at version %d and this program needs version %d, "
                  "but role \"%s\" may not change the schema (it does not own the onenet "
                  "tables): run `hubctl migrate` or `onenet-hub --migrate-only` as the "
                  "database owner, then start again",
                  at, migrate_latest_version (), who);
        return -1;
    }
    if (exec_ok (conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err, errlen,
                 "could not take the migration lock")
        < 0)
        return -1;
    int applied = 0;
    if (exec_ok (conn,
                 "CREATE TABLE IF NOT EXISTS schema_migrations ("
                 " version integer PRIMARY KEY,"
                 " name text NOT NULL,"
                 " applied_at timestamptz NOT NULL DEFAULT now())",
                 err, errlen, "could not create schema_migrations")
        < 0) {
        applied = -1;
        goto unlock;
    }
    for (const migration_t *m = migrations; m->sql; m++) {
        char version[16];
        snprintf (version, sizeof version, "%d", m->version);
        const char *params[2] = {version, m->name};
        PGresult *res =
            PQexecParams (conn, "SELECT 1 FROM schema_migrations WHERE version = $1", 1,
                          NULL, params, NULL, NULL, 0);
        if (PQresultStatus (res) != PGRES_TUPLES_OK) {
            snprintf (err, errlen, "could not read schema_migrations: %s",
                      PQresultErrorMessage (res));
            PQclear (res);
            applied = -1;
            goto unlock;
        }
        bool done = PQntuples (res) > 0;
        PQclear (res);
        if (done)
            continue;
        char what[128];
        snprintf (what, sizeof what, "migration %s failed", m->name);
        if (exec_ok (conn, "BEGIN", err, errlen, what) < 0
            || exec_ok (conn, m->sql, err, errlen, what) < 0) {
            PQclear (PQexec (conn, "ROLLBACK"));
            applied = -1;
            goto unlock;
        }
        res = PQexecParams (conn,
                            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                            2, NULL, params, NULL, NULL, 0);
        bool recorded = PQresultStatus (res) == PGRES_COMMAND_OK;
        if (!recorded)
            snprintf (err, errlen, "could not record migration %s: %s", m->name,
                      PQresultErrorMessage (res));
        PQclear (res);
        if (!recorded || exec_ok (conn, "COMMIT", err, errlen, what) < 0) {
            PQclear (PQexec (conn, "ROLLBACK"));
            applied = -1;
            goto unlock;
        }
        log_info ("schema migration applied", "version=%d name=%s", m->version,
                  log_q (m->name));
        applied++;
    }
unlock:
    PQclear (PQexec (conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
    return applied;
}
