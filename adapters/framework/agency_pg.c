/*  agency_pg: the agency database connection, see agency_pg.h. */
#include "agency_pg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

#define RECONNECT_MS 1000

/* True for [a-z_][a-z0-9_]{0,62} in s[0..n). */
static bool
s_ident_ok (const char *s, size_t n)
{
    if (n == 0 || n > 63 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

int
agency_pg_init (agency_pg_t *self, const char *setting, const char *conninfo,
                const char *table_setting, const char *table, bool create, const char *ddl,
                int timeout_ms, char *err, size_t errlen)
{
    memset (self, 0, sizeof *self);
    self->setting = setting;
    const char *dot = strchr (table, '.');
    bool ok = dot ? s_ident_ok (table, (size_t) (dot - table))
                        && s_ident_ok (dot + 1, strlen (dot + 1))
                  : s_ident_ok (table, strlen (table));
    if (!ok) {
        snprintf (err, errlen,
                  "%s \"%.80s\" is not a table name: one or two parts (schema.table) of "
                  "a-z, 0-9 and _, not starting with a digit, at most 63 characters each",
                  table_setting, table);
        return -1;
    }
    snprintf (self->conninfo, sizeof self->conninfo, "%s", conninfo);
    snprintf (self->name, sizeof self->name, "%s", table);
    snprintf (self->index, sizeof self->index, "%s", dot ? dot + 1 : table);
    /* the database's name, without opening anything */
    snprintf (self->dbname, sizeof self->dbname, "?");
    PQconninfoOption *opts = PQconninfoParse (conninfo, NULL);
    if (!opts) {
        snprintf (err, errlen, "%s is not a valid PostgreSQL connection string", setting);
        return -1;
    }
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (strcmp (o->keyword, "dbname") == 0 && o->val)
            snprintf (self->dbname, sizeof self->dbname, "%s", o->val);
    PQconninfoFree (opts);
    self->create = create;
    self->ddl = ddl;
    self->timeout_ms = timeout_ms;
    return 0;
}

void
agency_pg_error (agency_pg_t *self, const char *what, char *err, size_t errlen)
{
    snprintf (err, errlen, "%s: %s", what,
              self->conn ? PQerrorMessage (self->conn) : "not connected");
    /* libpq's messages end in a newline and may span lines */
    size_t n = 0;
    for (const char *p = err; *p; p++) {
        char c = *p == '\n' || *p == '\t' ? ' ' : *p;
        if (c != ' ' || (n > 0 && err[n - 1] != ' '))
            err[n++] = c;
    }
    err[n] = '\0';
    while (n && err[n - 1] == ' ')
        err[--n] = '\0';
}

/* Writes ddl into sql with @T replaced by the quoted table and @I by the
   quoted index name. */
static void
s_fill (char *sql, size_t size, const char *ddl, const char *table, const char *index)
{
    size_t n = 0;
    for (const char *p = ddl; *p && n + 1 < size; p++) {
        const char *with = NULL;
        if (p[0] == '@' && (p[1] == 'T' || p[1] == 'I'))
            with = p[1] == 'T' ? table : index;
        if (!with) {
            sql[n++] = *p;
            continue;
        }
        n += (size_t) snprintf (sql + n, size - n, "%s", with);
        if (n >= size)
            n = size - 1;
        p++;
    }
    sql[n] = '\0';
}

/* Quotes the configured name into self->table with the server's rules. */
static int
s_quote (agency_pg_t *self)
{
    char part[130];
    const char *dot = strchr (self->name, '.');
    self->table[0] = '\0';
    for (int i = 0; i < (dot ? 2 : 1); i++) {
        if (dot && i == 0)
            snprintf (part, sizeof part, "%.*s", (int) (dot - self->name), self->name);
        else
            snprintf (part, sizeof part, "%s", dot ? dot + 1 : self->name);
        char *q = PQescapeIdentifier (self->conn, part, strlen (part));
        if (!q)
            return -1;
        size_t used = strlen (self->table);
        snprintf (self->table + used, sizeof self->table - used, "%s%s", i ? "." : "", q);
        PQfreemem (q);
    }
    return 0;
}

PGconn *
agency_pg_conn (agency_pg_t *self, char *err, size_t errlen)
{
    if (self->conn && PQstatus (self->conn) == CONNECTION_OK)
        return self->conn;
    if (clock_mono_ms () < self->retry_at) {
        snprintf (err, errlen, "waiting before connecting again to database \"%s\"",
                  agency_pg_dbname (self));
        return NULL;
    }
    agency_pg_reset (self);
    /* a host that does not answer, or a statement stuck behind an agency
       program's lock, must not hold this connection's worker for minutes:
       2 s to connect and db-timeout-ms a statement, unless the connection
       string says otherwise (its own keywords, expanded from dbname,
       override the ones before it) */
    char options[64];
    snprintf (options, sizeof options, "-c statement_timeout=%d", self->timeout_ms);
    const char *const keys[] = {"connect_timeout", "options", "dbname", NULL};
    const char *const values[] = {AGENCY_PG_CONNECT_TIMEOUT, options, self->conninfo, NULL};
    self->conn = PQconnectdbParams (keys, values, 1);
    char what[400];
    snprintf (what, sizeof what, "could not connect to agency database \"%s\" (%s)",
              agency_pg_dbname (self), self->setting);
    if (PQstatus (self->conn) != CONNECTION_OK) {
        agency_pg_error (self, what, err, errlen);
        goto fail;
    }
    if (s_quote (self) != 0) {
        agency_pg_error (self, what, err, errlen);
        goto fail;
    }
    if (self->create) {
        char index[160], sql[4096];
        char *qi;
        snprintf (index, sizeof index, "%s_open", self->index);
        qi = PQescapeIdentifier (self->conn, index, strlen (index));
        if (!qi) {
            agency_pg_error (self, what, err, errlen);
            goto fail;
        }
        s_fill (sql, sizeof sql, self->ddl, self->table, qi);
        PQfreemem (qi);
        PGresult *r = PQexec (self->conn, sql);
        bool ok = PQresultStatus (r) == PGRES_COMMAND_OK;
        PQclear (r);
        if (!ok) {
            snprintf (what, sizeof what,
                      "could not create table %s in agency database \"%s\"", self->name,
                      agency_pg_dbname (self));
            agency_pg_error (self, what, err, errlen);
            goto fail;
        }
    }
    return self->conn;
fail:
    agency_pg_reset (self);
    self->retry_at = clock_mono_ms () + RECONNECT_MS;
    return NULL;
}

void
agency_pg_reset (agency_pg_t *self)
{
    if (self->conn)
        PQfinish (self->conn);
    self->conn = NULL;
}

const char *
agency_pg_dbname (agency_pg_t *self)
{
    return self->dbname;
}

void
agency_pg_close (agency_pg_t *self)
{
    agency_pg_reset (self);
}
