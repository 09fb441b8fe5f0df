/*  calendar_sync: the working-day calendar between the binary, PostgreSQL
    and the hub's memory.

    The hub carries the official arrangements (data/calendar/cn-workdays.csv,
    embedded at build time). calendar_sync_seed() adds the official days the
    database lacks, and the years they cover to calendar_years, never
    overwriting a row (so an operator's override or an imported year
    survives every hub start). calendar_sync_load() reads the whole table
    into a calendar_t: a few hundred rows, read at start and again whenever
    calendar_changes shows a change (a trigger logs every one), so
    operators' changes apply at once. */
#ifndef ONENET_CALENDAR_SYNC_H
#define ONENET_CALENDAR_SYNC_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#include "calendar.h"

/* The embedded official calendar, CSV text (date,workday,name). */
extern const char calendar_official_csv[];

/* Inserts the official days missing from calendar_days. Returns the number
   inserted, or -1 with a reason in err. */
int calendar_sync_seed (PGconn *conn, char *err, size_t errlen);

/* Reads calendar_days and calendar_years into a new calendar: the days
   as overrides, the years whose official arrangement is held as known
   (an operator's override of one day does not make its year known). With
   version, also the newest calendar_changes id the calendar includes.
   NULL with a reason in err. */
calendar_t *calendar_sync_load (PGconn *conn, int64_t *version, char *err, size_t errlen);

/* The newest calendar_changes id (0: no change yet), or -1 when the query
   failed. A calendar loaded at a lower version is stale. */
int64_t calendar_sync_version (PGconn *conn);

#endif
