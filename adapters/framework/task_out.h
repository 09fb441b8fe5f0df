/*  task_out: hands the hub's tasks to the agency as files in an out-spool.

    One task, one file: <dir>/<agency>-task-<seq, 12 digits>.ndjson, holding
    one JSON line. The file is written under a temporary name starting with
    ".", fsync'ed and renamed, and the directory fsync'ed, so the agency
    system sees only whole files (it reads *.ndjson that do not start with
    "."). Writing the same task again writes the same name and the same
    bytes: delivery is idempotent by task number, so a redelivery after a
    crash leaves no duplicate at the agency. */
#ifndef ONENET_TASK_OUT_H
#define ONENET_TASK_OUT_H

#include <stddef.h>

#include "codec.h"

/* Writes task t into dir. Returns 0, or -1 with a reason naming the file
   in err (disk full, permissions). */
int task_out_write (const char *dir, const task_t *t, char *err, size_t errlen);

#endif
