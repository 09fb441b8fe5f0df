/*  calendar_sync: the working-day calendar between the binary, PostgreSQL
    and the hub's memory.

    The hub carries the official arrangements (data/calendar/cn-workdays.csv,
    embedded at build time). calendar_sync_seed() adds the official days the
    database lacks, never overwriting a row (so an operator's override or an
    added year survives every hub start). calendar_sync_load() reads the
    whole table into a calendar_t: a few hundred rows, read at start and
    again every minute so operators' changes apply without a restart. */
#ifndef ONENET_CALENDAR_SYNC_H
#define ONENET_CALENDAR_SYNC_H

#include <libpq-fe.h>
#include <stddef.h>

#include "calendar.h"

/* The embedded official calendar, CSV text (date,workday,name). */
extern const char calendar_official_csv[];

/* Inserts the official days missing from calendar_days. Returns the number
   inserted, or -1 with a reason in err. */
int calendar_sync_seed (PGconn *conn, char *err, size_t errlen);

/* Reads calendar_days into a new calendar. NULL with a reason in err. */
calendar_t *calendar_sync_load (PGconn *conn, char *err, size_t errlen);

#endif
