/*  task_db: tasks as rows in the agency's database, see task_db.h. */
#include "task_db.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agency_pg.h"
#include "clock.h"

const char task_db_ddl[] =
    "CREATE TABLE IF NOT EXISTS @T ("
    "  task_seq     bigint PRIMARY KEY,"
    "  agency       text NOT NULL,"
    "  kind         text NOT NULL,"
    "  workflow     text NOT NULL,"
    "  step         text NOT NULL,"
    "  key_kind     text NOT NULL,"
    "  key_value    text NOT NULL,"
    "  payload      jsonb NOT NULL,"
    "  ready_at     timestamptz NOT NULL,"
    "  due_at       timestamptz,"
    "  delivered_at timestamptz NOT NULL DEFAULT now(),"
    "  status       text NOT NULL DEFAULT 'new',"
    "  done_at      timestamptz,"
    "  note         text);"
    "CREATE INDEX IF NOT EXISTS @I ON @T (task_seq) WHERE status = 'new'";

struct task_db {
    agency_pg_t pg; /* connection and table */
};

task_db_t *
task_db_new (const char *conninfo, const char *table, bool create, int timeout_ms,
             char *err, size_t errlen)
{
    task_db_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    if (agency_pg_init (&self->pg, "task-db", conninfo, "task-table", table, create,
                        task_db_ddl, timeout_ms, err, errlen)
        != 0) {
        free (self);
        return NULL;
    }
    return self;
}

void
task_db_destroy (task_db_t **self_p)
{
    task_db_t *self = *self_p;
    if (!self)
        return;
    agency_pg_close (&self->pg);
    free (self);
    *self_p = NULL;
}

const char *
task_db_table (task_db_t *self)
{
    return self->pg.name;
}

const char *
task_db_dbname (task_db_t *self)
{
    return agency_pg_dbname (&self->pg);
}

/* Runs sql (no parameters, no rows); the reason in err on failure. */
static int
s_exec (task_db_t *self, const char *sql, const char *what, char *err, size_t errlen)
{
    PGresult *r = PQexec (self->pg.conn, sql);
    bool ok = PQresultStatus (r) == PGRES_COMMAND_OK;
    PQclear (r);
    if (!ok)
        agency_pg_error (&self->pg, what, err, errlen);
    return ok ? 0 : -1;
}

/* Inserts task t; 1 for a new row, 0 for one that was there, -1. */
static int
s_insert (task_db_t *self, const task_t *t, char *err, size_t errlen)
{
    //  the payload as the hub sent it, re-serialized so that the column
    //  always holds valid JSON
    json_t *payload = json_loads (t->payload_json, 0, NULL);
    char *payload_text =
        json_dumps (payload && json_is_object (payload) ? payload : json_object (),
                    JSON_COMPACT | JSON_SORT_KEYS);
    json_decref (payload);
    if (!payload_text)
        abort ();
    char seq[24], ready[40], due[40];
    snprintf (seq, sizeof seq, "%llu", (unsigned long long) t->seq);
    clock_format_pg (t->ready_at_ms, ready, sizeof ready);
    clock_format_pg (t->due_at_ms, due, sizeof due);
    /* a task the case no longer calls for arrives as a record, not as
       work: status 'withdrawn', the hub's reason in note */
    const char *params[12] = {seq,
                              t->agency,
                              t->kind,
                              t->workflow,
                              t->step,
                              key_kind_name (t->key_kind),
                              t->key_value,
                              payload_text,
                              ready,
                              t->due_at_ms ? due : NULL,
                              t->withdrawn ? "withdrawn" : "new",
                              t->withdrawn ? t->withdrawn_reason : NULL};
    char sql[768];
    snprintf (
        sql, sizeof sql,
        "INSERT INTO %s (task_seq, agency, kind, workflow, step, key_kind, key_value, "
        "payload, ready_at, due_at, status, note) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12) "
        "ON CONFLICT (task_seq) DO NOTHING",
        self->pg.table);
    PGresult *r = PQexecParams (self->pg.conn, sql, 12, NULL, params, NULL, NULL, 0);
    free (payload_text);
    int rc;
    if (PQresultStatus (r) == PGRES_COMMAND_OK)
        rc = strcmp (PQcmdTuples (r), "1") == 0 ? 1 : 0;
    else {
        char what[400];
        snprintf (what, sizeof what,
                  "could not write task %llu into table %s of agency database \"%s\"",
                  (unsigned long long) t->seq, self->pg.name, agency_pg_dbname (&self->pg));
        agency_pg_error (&self->pg, what, err, errlen);
        rc = -1;
    }
    PQclear (r);
    return rc;
}

int
task_db_write (task_db_t *self, const task_t *const *tasks, size_t n, bool *fresh,
               char *err, size_t errlen)
{
    if (n == 0)
        return 0;
    if (!agency_pg_conn (&self->pg, err, errlen))
        return -1;
    char what[400];
    snprintf (what, sizeof what,
              "could not write tasks %llu to %llu into table %s of agency database \"%s\"",
              (unsigned long long) tasks[0]->seq, (unsigned long long) tasks[n - 1]->seq,
              self->pg.name, agency_pg_dbname (&self->pg));
    if (s_exec (self, "BEGIN", what, err, errlen) != 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        int rc = s_insert (self, tasks[i], err, errlen);
        if (rc < 0)
            goto fail;
        fresh[i] = rc == 1;
    }
    if (s_exec (self, "COMMIT", what, err, errlen) != 0)
        goto fail;
    return 0;
fail:
    /* nothing of the batch stays: a rollback, or a connection dropped
       (which rolls back) when even that fails */
    if (PQstatus (self->pg.conn) == CONNECTION_OK
        && PQtransactionStatus (self->pg.conn) != PQTRANS_IDLE) {
        PGresult *r = PQexec (self->pg.conn, "ROLLBACK");
        if (PQresultStatus (r) != PGRES_COMMAND_OK)
            agency_pg_reset (&self->pg);
        PQclear (r);
    }
    if (self->pg.conn && PQstatus (self->pg.conn) != CONNECTION_OK)
        agency_pg_reset (&self->pg);
    return -1;
}
