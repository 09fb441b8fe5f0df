/*  task_db: hands the hub's tasks to the agency as rows of a table in its
    own PostgreSQL database (docs/adapters/database.md).

    One task, one row, keyed by the task's number: INSERT ... ON CONFLICT
    (task_seq) DO NOTHING, the tasks of one batch from the hub in one
    transaction, committed before the adapter's task cursor moves.
    A task handed over again after a crash finds its row and adds nothing,
    so the agency sees every task once, without a gap. The columns past the
    task's own (status, done_at, note) are the agency's to use. */
#ifndef ONENET_TASK_DB_H
#define ONENET_TASK_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "codec.h"

typedef struct task_db task_db_t;

/* The table's DDL, as docs/adapters/database.md shows it (@T: the table,
   @I: its index). */
extern const char task_db_ddl[];

/* Checks the settings; nothing is opened yet. timeout_ms bounds each
   statement (agency_pg.h). NULL with a reason in err. */
task_db_t *task_db_new (const char *conninfo, const char *table, bool create,
                        int timeout_ms, char *err, size_t errlen);
void task_db_destroy (task_db_t **self_p);

/* The table and database, for messages: "onenet_task", "water_crm". */
const char *task_db_table (task_db_t *self);
const char *task_db_dbname (task_db_t *self);

/* Writes tasks[0..n) as rows in one transaction: all of them are in the
   table when it returns 0 (fresh[i] true for a row that is new, false for
   one that was there already), none of them was written when it returns
   -1 with a reason naming the table and the task in err. */
int task_db_write (task_db_t *self, const task_t *const *tasks, size_t n, bool *fresh,
                   char *err, size_t errlen);

#endif
