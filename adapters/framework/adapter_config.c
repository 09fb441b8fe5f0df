/*  adapter_config: the adapters' settings table, see adapter_config.h. */
#include "adapter_config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "curve_key.h"
#include "ident.h"
#include "log.h"
#include "settings.h"

#define S(field) SETTING_FIELD (adapter_config_t, field)

static const setting_t settings[] = {
    {"agency", SET_STRING, S (agency), "", 0, 0, "agency code this adapter speaks for"},
    {"adapter-id", SET_STRING, S (adapter_id), "", 0, 0,
     "name of this adapter instance (default: AGENCY-host)"},
    {"hub", SET_STRING, S (hub), "tcp://127.0.0.1:5570", 0, 0,
     "hub endpoint, or several separated by commas (batches go to any live one)"},
    {"hub-public-key", SET_STRING, S (hub_public_key), "", 0, 0,
     "the hub's CURVE public key (Z85); with secret-key, the link is encrypted"},
    {"secret-key", SET_STRING, S (secret_key), "", 0, 0,
     "this adapter's CURVE key pair file (mode 0600; hubctl keys generate)"},
    {"insecure", SET_BOOL, S (insecure), "false", 0, 0,
     "allow plaintext to a hub that is not on loopback"},
    {"outbox", SET_STRING, S (outbox), "", 0, 0,
     "durable outbox file (default: ADAPTER-ID.outbox)"},
    {"spool", SET_STRING, S (spool), "", 0, 0,
     "spool directory of *.ndjson files (default: read stdin)"},
    {"task-spool", SET_STRING, S (task_spool), "", 0, 0,
     "directory where the hub's tasks for this agency are written (default: take none)"},
    {"log-level", SET_STRING, S (log_level), "info", 0, 0, "debug, info, warn or error"},
    {"once", SET_BOOL, S (once), "false", 0, 0,
     "exit once the input (stdin, or every spool file) is consumed, every event "
     "acknowledged and the quarantine reported"},
    {"batch-max", SET_INT, S (batch_max), "500", 1, 5000, "events per batch"},
    {"window", SET_INT, S (window), "8", 1, 256, "batches in flight"},
    {"ack-timeout-ms", SET_INT, S (ack_timeout_ms), "5000", 50, 600000,
     "wait this long for an acknowledgement before resending"},
    {"heartbeat-ms", SET_INT, S (heartbeat_ms), "1000", 50, 600000,
     "send a heartbeat (liveness and backlog) this often"},
    {"retry-max-ms", SET_INT, S (retry_max_ms), "5000", 10, 600000,
     "backoff ceiling when the hub answers RETRY"},
    {"max-message-bytes", SET_INT, S (max_message_bytes), "1048576", 1024, 67108864,
     "largest batch message (keep equal to the hub's)"},
    {"spool-scan-ms", SET_INT, S (spool_scan_ms), "500", 10, 600000,
     "how often the spool directory is scanned"},
    {"drain-timeout-ms", SET_INT, S (drain_timeout_ms), "5000", 0, 600000,
     "on SIGTERM, wait this long for outstanding acknowledgements"},
    {"max-outbox-events", SET_INT, S (max_outbox_events), "10000000", 1, 2000000000,
     "stop taking input while this many events await acknowledgement"},
    {"source-db", SET_STRING, S (source_db), "", 0, 0,
     "PostgreSQL connection string of the agency database whose outbox table is "
     "polled (instead of stdin or a spool)"},
    {"source-table", SET_STRING, S (source_table), "onenet_outbox", 0, 0,
     "the agency's outbox table in source-db ([schema.]name)"},
    {"source-poll-ms", SET_INT, S (source_poll_ms), "1000", 10, 600000,
     "how often the outbox table is polled while it has no new rows"},
    {"source-batch", SET_INT, S (source_batch), "500", 1, 1000,
     "outbox table rows claimed per transaction"},
    {"task-db", SET_STRING, S (task_db), "", 0, 0,
     "PostgreSQL connection string of the agency database where the hub's tasks are "
     "written (default: none)"},
    {"task-table", SET_STRING, S (task_table), "onenet_task", 0, 0,
     "the agency's task table in task-db ([schema.]name)"},
    {"db-create-tables", SET_BOOL, S (db_create_tables), "false", 0, 0,
     "create source-table and task-table (and their index) when they are missing"},
    {"db-timeout-ms", SET_INT, S (db_timeout_ms), "10000", 100, 3600000,
     "longest a statement in source-db or task-db may run (statement_timeout) before "
     "it is given up and retried"},
};

/* The hub setting is one endpoint or several, separated by commas (and
   optional spaces): each must read transport://address. */
static int
hub_list_check (const char *hubs, const char *prog)
{
    size_t n = 0;
    const char *p = hubs;
    while (true) {
        while (*p == ' ')
            p++;
        size_t len = strcspn (p, ",");
        while (len && p[len - 1] == ' ')
            len--;
        n++;
        const char *sep = memchr (p, ':', len);
        if (len == 0 || !sep || (size_t) (sep - p) + 3 >= len || sep[1] != '/'
            || sep[2] != '/' || memchr (p, ' ', len)) {
            fprintf (stderr,
                     "%s: hub endpoint %zu of \"%s\" is \"%.*s\", expected "
                     "transport://address (e.g. tcp://10.12.0.5:5570)\n",
                     prog, n, hubs, (int) len, p);
            return -1;
        }
        p += strcspn (p, ",");
        if (!*p)
            return 0;
        p++;
    }
}

int
adapter_config_load (adapter_config_t *config, const char *prog, const char *description,
                     int argc, char **argv)
{
    char version[96];
    snprintf (version, sizeof version, "%s 0.1.0 (wire schema 1)", prog);
    settings_spec_t spec = {
        .prog = prog,
        .section = "adapter",
        .synopsis = "--agency AGENCY [--spool DIR] [--SETTING VALUE ...]",
        .description = description,
        .epilogue =
            "Records are accepted into the outbox (fsync'ed) before they are sent, and\n"
            "leave it only when the hub acknowledges them. Signals: SIGTERM/SIGINT stop\n"
            "reading input and wait for outstanding acknowledgements. Exit status: 0 "
            "done,\n"
            "1 runtime failure, 2 usage or config error.",
        .version = version,
        .table = settings,
        .n = sizeof settings / sizeof *settings,
    };
    memset (config, 0, sizeof *config);
    int rc = settings_load (&spec, config, argc, argv);
    if (rc != 0)
        return rc;
    if (!*config->agency) {
        fprintf (stderr, "%s: --agency is required\nTry \"%s --help\".\n", prog, prog);
        return 2;
    }
    if (!ident_agency_code_valid (config->agency)) {
        fprintf (stderr, "%s: agency code \"%s\" is not valid (1-32 of a-z, 0-9, _)\n",
                 prog, config->agency);
        return 2;
    }
    if (hub_list_check (config->hub, prog) != 0)
        return 2;
    log_level_t level;
    if (!log_level_parse (config->log_level, &level)) {
        fprintf (stderr, "%s: log-level must be debug, info, warn or error, not \"%s\"\n",
                 prog, config->log_level);
        return 2;
    }
    if (!*config->adapter_id) {
        char host[32] = "local";
        gethostname (host, sizeof host - 1);
        snprintf (config->adapter_id, sizeof config->adapter_id, "%s-%s", config->agency,
                  host);
    }
    /* CURVE: both keys, the secret one private; plaintext only on loopback */
    char err[1024];
    curve_keypair_t pair;
    if (curve_client_check (config->hub, config->hub_public_key, config->secret_key,
                            config->insecure, err, sizeof err)
            != 0
        || (*config->secret_key
            && curve_keyfile_read (config->secret_key, &pair, err, sizeof err) != 0)) {
        fprintf (stderr, "%s: %s\n", prog, err);
        return 2;
    }
    memset (&pair, 0, sizeof pair); /* only the check was wanted here */
    if (!*config->outbox)
        snprintf (config->outbox, sizeof config->outbox, "%s.outbox", config->adapter_id);
    return 0;
}
