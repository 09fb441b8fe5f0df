/*  onenet-hub: the onenet ingest hub daemon.

    Usage and settings: onenet-hub --help (the table is in hub_config.c). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "hub_config.h"
#include "ingest.h"
#include "log.h"
#include "store.h"

static volatile sig_atomic_t s_terminated = 0;

static void
on_signal (int sig)
{
    (void) sig;
    s_terminated = 1;
}

int
main (int argc, char **argv)
{
    hub_config_t config;
    int rc = hub_config_load (&config, argc, argv);
    if (rc == 1)
        return 0;
    if (rc != 0)
        return 2;
    log_level_t level = LOG_INFO;
    log_level_parse (config.log_level, &level);
    log_init ("hub", level);

    if (config.migrate_only)
        return store_migrate_once (&config) == 0 ? 0 : 1;

    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGINT, &sa, NULL);
    signal (SIGPIPE, SIG_IGN);

    log_info ("hub starting", "hub=%s listen=%s batch_max=%d batch_wait_ms=%d",
              config.hub_id, config.listen, config.batch_max, config.batch_wait_ms);
    rc = ingest_run (&config, &s_terminated);
    log_info ("hub stopped", "hub=%s clean=%s", config.hub_id, rc == 0 ? "yes" : "no");
    return rc == 0 ? 0 : 1;
}
