/*  hubctl migrate: apply the schema migrations hubctl carries (the same
    embedded files as onenet-hub, applied the same way, under the same
    advisory lock). */
#include <stdio.h>

#include "hubctl.h"
#include "migrate.h"

int
cmd_migrate (const hubctl_options_t *options, int argc, char **argv)
{
    if (hubctl_wants_help (argc, argv)) {
        printf ("Usage: hubctl migrate\n\n"
                "Applies every schema migration the database lacks (hub/sql/NNN_*.sql,\n"
                "carried in this binary) and prints the version it is at. Safe to run\n"
                "again and while hubs run.\n");
        return HUBCTL_OK;
    }
    if (argc > 1)
        return hubctl_usage_error ("migrate", "unexpected argument '%s'", argv[1]);
    PGconn *conn = hubctl_connect (options);
    if (!conn)
        return HUBCTL_FAILURE;
    char err[1024];
    int applied = migrate_apply (conn, err, sizeof err);
    PQfinish (conn);
    if (applied < 0) {
        fprintf (stderr, "hubctl migrate: %s\n", err);
        return HUBCTL_FAILURE;
    }
    if (options->json)
        printf ("{\"applied\": %d, \"version\": %d}\n", applied, migrate_latest_version ());
    else
        printf ("schema at version %d (%d migration%s applied now)\n",
                migrate_latest_version (), applied, applied == 1 ? "" : "s");
    return HUBCTL_OK;
}
