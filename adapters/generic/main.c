/*  onenet-adapter: the generic adapter. Reads case records in the generic
    NDJSON format (adapters/framework/record.h, docs/adapters/generic.md)
    from stdin or a spool directory and delivers them to the hub. */
#include <signal.h>
#include <string.h>

#include "adapter.h"
#include "log.h"
#include "record.h"

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
    adapter_config_t config;
    int rc = adapter_config_load (
        &config, "onenet-adapter",
        "Delivers an agency's case records (generic NDJSON, one JSON object per line)\n"
        "to the onenet hub, from stdin or from a spool directory.",
        argc, argv);
    if (rc == 1)
        return 0;
    if (rc != 0)
        return 2;
    log_level_t level = LOG_INFO;
    log_level_parse (config.log_level, &level);
    log_init ("adapter", level);
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGINT, &sa, NULL);
    signal (SIGPIPE, SIG_IGN);
    return adapter_run (&config, record_parse_ndjson, &s_terminated);
}
