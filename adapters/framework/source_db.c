/*  source_db: the agency's outbox table, see source_db.h. */
#include "source_db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agency_pg.h"
#include "strbuf.h"

const char source_db_ddl[] =
    "CREATE TABLE IF NOT EXISTS @T ("
    "  id          bigserial PRIMARY KEY,"
    "  record      text NOT NULL,"
    "  created_at  timestamptz NOT NULL DEFAULT now(),"
    "  status      text NOT NULL DEFAULT 'new'"
    "              CHECK (status IN ('new', 'sent', 'refused')),"
    "  handled_at  timestamptz,"
    "  handled_by  text,"
    "  event_id    uuid,"
    "  reason      text);"
    "CREATE INDEX IF NOT EXISTS @I ON @T (id) WHERE status = 'new'";

struct source_db {
    agency_pg_t pg;  /* connection and table */
    PGresult *claim; /* the claimed rows, while a claim is open */
    bool in_tx;      /* a transaction is open */
};

source_db_t *
source_db_new (const char *conninfo, const char *table, bool create, int timeout_ms,
               char *err, size_t errlen)
{
    source_db_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    if (agency_pg_init (&self->pg, "source-db", conninfo, "source-table", table, create,
                        source_db_ddl, timeout_ms, err, errlen)
        != 0) {
        free (self);
        return NULL;
    }
    return self;
}

void
source_db_destroy (source_db_t **self_p)
{
    source_db_t *self = *self_p;
    if (!self)
        return;
    source_db_abort (self);
    agency_pg_close (&self->pg);
    free (self);
    *self_p = NULL;
}

const char *
source_db_table (source_db_t *self)
{
    return self->pg.name;
}

const char *
source_db_dbname (source_db_t *self)
{
    return agency_pg_dbname (&self->pg);
}

/* Runs sql (no parameters) expecting no rows. */
static int
s_exec (source_db_t *self, const char *sql, const char *what, char *err, size_t errlen)
{
    PGresult *r = PQexec (self->pg.conn, sql);
    bool ok = PQresultStatus (r) == PGRES_COMMAND_OK;
    PQclear (r);
    if (!ok) {
        agency_pg_error (&self->pg, what, err, errlen);
        return -1;
    }
    return 0;
}

/* After an error: roll back whatever is open, and drop a broken link. */
static void
s_fail (source_db_t *self)
{
    source_db_abort (self);
    if (self->pg.conn && PQstatus (self->pg.conn) != CONNECTION_OK)
        agency_pg_reset (&self->pg);
}

int
source_db_claim (source_db_t *self, int max, char *err, size_t errlen)
{
    source_db_abort (self);
    if (!agency_pg_conn (&self->pg, err, errlen))
        return -1;
    char what[400];
    snprintf (what, sizeof what,
              "could not claim rows of table %s in agency database \"%s\"", self->pg.name,
              agency_pg_dbname (&self->pg));
    if (s_exec (self, "BEGIN", what, err, errlen) != 0) {
        s_fail (self);
        return -1;
    }
    self->in_tx = true;
    char sql[512], limit[16];
    snprintf (sql, sizeof sql,
              "SELECT id, record FROM %s WHERE status = 'new' ORDER BY id LIMIT $1 "
              "FOR UPDATE SKIP LOCKED",
              self->pg.table);
    snprintf (limit, sizeof limit, "%d", max);
    const char *params[1] = {limit};
    self->claim = PQexecParams (self->pg.conn, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus (self->claim) != PGRES_TUPLES_OK) {
        agency_pg_error (&self->pg, what, err, errlen);
        s_fail (self);
        return -1;
    }
    int n = PQntuples (self->claim);
    if (n == 0)
        source_db_abort (self); /* nothing to hold */
    return n;
}

int64_t
source_db_row_id (source_db_t *self, int i)
{
    return strtoll (PQgetvalue (self->claim, i, 0), NULL, 10);
}

const char *
source_db_row_record (source_db_t *self, int i, size_t *len)
{
    *len = (size_t) PQgetlength (self->claim, i, 1);
    return PQgetvalue (self->claim, i, 1);
}

int
source_db_finish (source_db_t *self, const char *adapter_id, const char *const *event_ids,
                  const char *const *reasons, char *err, size_t errlen)
{
    if (!self->claim)
        return 0;
    int n = PQntuples (self->claim);
    char what[400];
    snprintf (what, sizeof what,
              "could not mark rows of table %s in agency database \"%s\"", self->pg.name,
              agency_pg_dbname (&self->pg));
    //  the sent rows in one statement: ids and event ids as two arrays
    strbuf_t ids, eids;
    strbuf_init (&ids);
    strbuf_init (&eids);
    strbuf_putc (&ids, '{');
    strbuf_putc (&eids, '{');
    int sent = 0;
    for (int i = 0; i < n; i++) {
        if (!event_ids[i])
            continue;
        if (sent++) {
            strbuf_putc (&ids, ',');
            strbuf_putc (&eids, ',');
        }
        strbuf_append (&ids, PQgetvalue (self->claim, i, 0),
                       (size_t) PQgetlength (self->claim, i, 0));
        strbuf_append (&eids, event_ids[i], strlen (event_ids[i]));
    }
    strbuf_putc (&ids, '}');
    strbuf_putc (&eids, '}');
    char sql[640];
    int rc = 0;
    if (sent) {
        snprintf (
            sql, sizeof sql,
            "UPDATE %s AS t SET status = 'sent', handled_at = now(), handled_by = $1, "
            "event_id = u.event_id, reason = NULL "
            "FROM unnest($2::bigint[], $3::uuid[]) AS u (id, event_id) "
            "WHERE t.id = u.id AND t.status = 'new'",
            self->pg.table);
        const char *params[3] = {adapter_id, ids.data, eids.data};
        PGresult *r = PQexecParams (self->pg.conn, sql, 3, NULL, params, NULL, NULL, 0);
        if (PQresultStatus (r) != PGRES_COMMAND_OK) {
            agency_pg_error (&self->pg, what, err, errlen);
            rc = -1;
        }
        PQclear (r);
    }
    strbuf_free (&ids);
    strbuf_free (&eids);
    //  refusals are rare: one statement each
    snprintf (sql, sizeof sql,
              "UPDATE %s SET status = 'refused', handled_at = now(), handled_by = $1, "
              "reason = $3 WHERE id = $2 AND status = 'new'",
              self->pg.table);
    for (int i = 0; rc == 0 && i < n; i++) {
        if (event_ids[i])
            continue;
        const char *params[3] = {adapter_id, PQgetvalue (self->claim, i, 0), reasons[i]};
        PGresult *r = PQexecParams (self->pg.conn, sql, 3, NULL, params, NULL, NULL, 0);
        if (PQresultStatus (r) != PGRES_COMMAND_OK) {
            agency_pg_error (&self->pg, what, err, errlen);
            rc = -1;
        }
        PQclear (r);
    }
    if (rc == 0 && s_exec (self, "COMMIT", what, err, errlen) != 0)
        rc = -1;
    if (rc == 0) {
        self->in_tx = false;
        PQclear (self->claim);
        self->claim = NULL;
    }
    else
        s_fail (self);
    return rc;
}

void
source_db_abort (source_db_t *self)
{
    if (self->claim)
        PQclear (self->claim);
    self->claim = NULL;
    if (self->in_tx && self->pg.conn && PQstatus (self->pg.conn) == CONNECTION_OK) {
        PGresult *r = PQexec (self->pg.conn, "ROLLBACK");
        /* a rollback that fails leaves the claim open: closing the
           connection gives the rows back instead */
        if (PQresultStatus (r) != PGRES_COMMAND_OK)
            agency_pg_reset (&self->pg);
        PQclear (r);
    }
    self->in_tx = false;
}
