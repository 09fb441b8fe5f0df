/*  onenet-hub: the onenet ingest hub daemon.

    Usage and settings: onenet-hub --help (the table is in hub_config.c). */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "hub_config.h"
#include "hub.h"
#include "log.h"
#include "store.h"
#include "workflow_def.h"

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
    if (rc != 0 || !hub_config_security (&config))
        return 2;
    log_level_t level = LOG_INFO;
    log_level_parse (config.log_level, &level);
    log_init ("hub", level);

    if (config.migrate_only)
        return store_migrate_once (&config) == 0 ? 0 : 1;

    /* every definition must be valid before the hub serves anything */
    static char problems[65536];
    workflow_set_t *set = hub_config_load_workflows (&config, NULL, problems, sizeof problems);
    if (!set) {
        fprintf (stderr, "onenet-hub: refusing to start: bad workflow definitions\n%s\n",
                 problems);
        return 2;
    }
    log_info ("workflow definitions loaded", "dir=%s workflows=%zu",
              log_q (config.workflows), workflow_set_count (set));

    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGINT, &sa, NULL);
    signal (SIGPIPE, SIG_IGN);

    log_info ("hub starting", "hub=%s listen=%s batch_max=%d batch_wait_ms=%d security=%s",
              log_q (config.hub_id), log_q (config.listen), config.batch_max,
              config.batch_wait_ms, config.insecure ? "NONE" : "curve");
    if (config.insecure)
        for (int i = 0; i < 3; i++) /* three lines, so that nobody misses it */
            log_warn ("INSECURE: --insecure is set: CURVE is off, traffic is plaintext and "
                      "any local process may send events for any agency and use the "
                      "control socket; for development on loopback only",
                      "hub=%s listen=%s control=%s", log_q (config.hub_id),
                      log_q (config.listen),
                      log_q (*config.control ? config.control : "none"));
    else
        log_info ("CURVE on", "hub=%s public_key=%s secret_key_file=%s authorised_keys=%s",
                  log_q (config.hub_id), log_q (config.keypair.public_key),
                  log_q (config.secret_key), log_q (config.authorised_keys));
    rc = hub_run (&config, set, &s_terminated);
    log_info ("hub stopped", "hub=%s clean=%s", log_q (config.hub_id),
              rc == 0 ? "yes" : "no");
    workflow_set_destroy (&set);
    return rc == 0 ? 0 : 1;
}
