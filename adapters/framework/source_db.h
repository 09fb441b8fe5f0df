/*  source_db: the second way in, an outbox table in the agency's own
    PostgreSQL database (docs/adapters/database.md).

    The agency system inserts one row per record: the record in its own
    format (the same JSON a spool line holds) in column record. The adapter
    claims a batch of rows still 'new' with SELECT ... FOR UPDATE SKIP
    LOCKED inside a transaction, maps them, commits the events to its local
    outbox (fsync'ed), and only then marks the rows 'sent' (or 'refused',
    with the reason) and commits. So:
    - several adapter instances polling one table never take the same row:
      a claimed row is locked, and the others skip it;
    - a SIGKILL before the local commit loses nothing: the transaction is
      rolled back and the rows are 'new' again;
    - a SIGKILL between the local commit and the agency commit sends nothing
      twice: the rows come back, and their event ids are derived from the
      agency, the table and the row id, so the outbox or the hub absorbs
      the second copy. */
#ifndef ONENET_SOURCE_DB_H
#define ONENET_SOURCE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct source_db source_db_t;

/* The table's DDL, as docs/adapters/database.md shows it (@T: the
   table, @I: its index). */
extern const char source_db_ddl[];

/* Checks the settings; nothing is opened yet. timeout_ms bounds each
   statement (agency_pg.h). NULL with a reason in err. */
source_db_t *source_db_new (const char *conninfo, const char *table, bool create,
                            int timeout_ms, char *err, size_t errlen);
void source_db_destroy (source_db_t **self_p);

/* The table and database, for messages: "onenet_outbox", "water_crm". */
const char *source_db_table (source_db_t *self);
const char *source_db_dbname (source_db_t *self);

/* Opens a transaction and claims up to max rows with status 'new', oldest
   id first. Returns how many (0: none waiting; the transaction is then
   closed), or -1 with a reason in err. */
int source_db_claim (source_db_t *self, int max, char *err, size_t errlen);
/* Row i of the claim: its id, and its record (valid until finish/abort). */
int64_t source_db_row_id (source_db_t *self, int i);
const char *source_db_row_record (source_db_t *self, int i, size_t *len);

/* Marks the claimed rows and commits: row i is 'sent' as event_ids[i]
   when that is not NULL, else 'refused' with reasons[i]; adapter_id is
   written as the handler. Returns 0, or -1 with a reason in err (then
   nothing is marked: the rows will be claimed again). */
int source_db_finish (source_db_t *self, const char *adapter_id,
                      const char *const *event_ids, const char *const *reasons, char *err,
                      size_t errlen);
/* Gives the claimed rows back (rolls back). */
void source_db_abort (source_db_t *self);

#endif
