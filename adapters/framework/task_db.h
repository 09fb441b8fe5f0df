/*  task_db: hands the hub's tasks to the agency as rows of a table in its
    own PostgreSQL database (docs/adapters/database.md).

    One task, one row, keyed by the task's number: INSERT ... ON CONFLICT
    (task_seq) DO NOTHING, committed before the adapter's task cursor moves.
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

/* Checks the settings; nothing is opened yet. NULL with a reason in err. */
task_db_t *task_db_new (const char *conninfo, const char *table, bool create, char *err,
                        size_t errlen);
void task_db_destroy (task_db_t **self_p);

/* Writes task t as a row. Returns 1 when the row is new, 0 when it was
   there already, or -1 with a reason naming the table and task in err. */
int task_db_write (task_db_t *self, const task_t *t, char *err, size_t errlen);

#endif
