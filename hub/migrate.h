/*  migrate: the versioned schema, applied idempotently.

    The SQL files in hub/sql/NNN_name.sql are embedded into the binary at
    build time (hub/sql/embed.cmake). migrate_apply() brings a database up to
    the newest version under an advisory lock, so several hubs starting at
    once apply each migration exactly once. */
#ifndef ONENET_MIGRATE_H
#define ONENET_MIGRATE_H

#include <libpq-fe.h>
#include <stddef.h>

typedef struct {
    int version;      /* NNN of the file name; 0 ends the table */
    const char *name; /* file name without .sql */
    const char *sql;  /* the whole file */
} migration_t;

/* The embedded migrations, in version order, ended by {0, NULL, NULL}. */
extern const migration_t migrations[];

/* Applies every migration not yet recorded in schema_migrations. Returns the
   number applied (0 when up to date), or -1 with a reason in err. */
int migrate_apply (PGconn *conn, char *err, size_t errlen);

/* The newest version compiled into this binary. */
int migrate_latest_version (void);

#endif
