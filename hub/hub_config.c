/*  hub_config: the settings table of onenet-hub, see hub_config.h. */
#include "hub_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "curve_key.h"
#include "http.h"
#include "ident.h"
#include "log.h"
#include "settings.h"

#define S(field) SETTING_FIELD (hub_config_t, field)

static const setting_t settings[] = {
    {"listen", SET_STRING, S (listen), "tcp://127.0.0.1:5570", 0, 0,
     "ZeroMQ endpoint adapters connect to"},
    {"control", SET_STRING, S (control), "", 0, 0,
     "endpoint of the control socket hubctl status/metrics ask (default: none)"},
    {"http", SET_STRING, S (http), "", 0, 0,
     "ADDR:PORT of the HTTP endpoint (/metrics, /healthz, /supervision); default: off"},
    {"http-token-file", SET_STRING, S (http_token_file), "", 0, 0,
     "bearer token file of the HTTP endpoint (mode 0600): needed off loopback and for "
     "/supervision"},
    {"db", SET_STRING, S (db), "", 0, 0,
     "PostgreSQL connection string (default: PG* environment)"},
    {"hub-id", SET_STRING, S (hub_id), "", 0, 0, "name of this hub (default: host-pid)"},
    {"log-level", SET_STRING, S (log_level), "info", 0, 0, "debug, info, warn or error"},
    {"agencies", SET_STRING, S (agencies),
     "tax,land,power,water,bank,market,police,social,gas,heat,approval", 0, 0,
     "agency codes accepted, comma-separated"},
    {"batch-max", SET_INT, S (batch_max), "2000", 1, 100000, "events per commit, at most"},
    {"batch-wait-ms", SET_INT, S (batch_wait_ms), "0", 0, 10000,
     "longest an event waits for its batch to fill"},
    {"max-message-bytes", SET_INT, S (max_message_bytes), "1048576", 1024, 67108864,
     "largest message accepted"},
    {"max-batch-events", SET_INT, S (max_batch_events), "5000", 1, 100000,
     "events in one EventBatch, at most"},
    {"max-keys", SET_INT, S (max_keys), "16", 1, 1024, "correlation keys per event"},
    {"max-attrs", SET_INT, S (max_attrs), "64", 0, 4096, "attributes per event"},
    {"max-string", SET_INT, S (max_string), "256", 16, 65536,
     "bytes of an id, case number, type or name"},
    {"max-text", SET_INT, S (max_text), "4096", 16, 1048576, "bytes of a text attribute"},
    {"max-future-s", SET_INT, S (max_future_s), "86400", 0, 31536000,
     "occurred_at may be this far in the future"},
    {"max-past-days", SET_INT, S (max_past_days), "7300", 1, 100000,
     "occurred_at may be this far in the past"},
    {"db-retry-max-ms", SET_INT, S (db_retry_max_ms), "5000", 10, 600000,
     "reconnect backoff ceiling"},
    {"drain-timeout-ms", SET_INT, S (drain_timeout_ms), "10000", 0, 600000,
     "on SIGTERM, wait this long for the last commit"},
    {"supervise-interval-ms", SET_INT, S (supervise_interval_ms), "1000", 10, 60000,
     "how often passed deadlines, warnings and expiries are marked"},
    {"correlate-idle-ms", SET_INT, S (correlate_idle_ms), "50", 1, 60000,
     "how often an empty correlation queue is looked at again"},
    {"immediate-minutes", SET_INT, S (immediate_minutes), "60", 1, 1440,
     "working minutes an \"immediate\" step may take"},
    {"workflows", SET_STRING, S (workflows), ONENET_WORKFLOWS_DIR, 0, 0,
     "directory of workflow definitions (*.yaml)"},
    {"extra-event-types", SET_STRING, S (extra_event_types), "", 0, 0,
     "event types accepted beyond those the workflows name, as agency:type,..."},
    {"office-hours", SET_STRING, S (office_hours_text), "09:00-12:00,14:30-17:30", 0, 0,
     "office hours (Beijing time) that working-minute deadlines count"},
    {"migrate-only", SET_BOOL, S (migrate_only), "false", 0, 0,
     "apply schema migrations and exit"},
    {"secret-key", SET_STRING, S (secret_key), "", 0, 0,
     "the hub's CURVE key pair file (mode 0600; hubctl keys generate)"},
    {"authorised-keys", SET_STRING, S (authorised_keys), "", 0, 0,
     "file of the adapter and operator public keys allowed in (hubctl keys add)"},
    {"insecure", SET_BOOL, S (insecure), "false", 0, 0,
     "no CURVE: plaintext, anyone may connect (only when every endpoint is loopback)"},
};
#define N_SETTINGS (sizeof settings / sizeof *settings)

/* Parses "HH:MM-HH:MM,HH:MM-HH:MM" (24:00 allowed) into office hours. */
static bool
parse_office_hours (hub_config_t *config)
{
    int h[4], m[4];
    char tail;
    char err[256];
    if (sscanf (config->office_hours_text, "%d:%d-%d:%d,%d:%d-%d:%d%c", &h[0], &m[0], &h[1],
                &m[1], &h[2], &m[2], &h[3], &m[3], &tail)
        != 8) {
        fprintf (stderr,
                 "onenet-hub: office-hours must look like "
                 "\"09:00-12:00,14:30-17:30\", not \"%s\"\n",
                 config->office_hours_text);
        return false;
    }
    office_hours_t *o = &config->office_hours;
    o->morning_start_min = h[0] * 60 + m[0];
    o->morning_end_min = h[1] * 60 + m[1];
    o->afternoon_start_min = h[2] * 60 + m[2];
    o->afternoon_end_min = h[3] * 60 + m[3];
    if (!office_hours_valid (o, err, sizeof err)) {
        fprintf (stderr, "onenet-hub: office-hours \"%s\": %s\n", config->office_hours_text,
                 err);
        return false;
    }
    return true;
}

static bool
parse_agencies (hub_config_t *config)
{
    config->n_agencies = 0;
    char copy[sizeof config->agencies];
    strcpy (copy, config->agencies);
    char *save = NULL;
    for (char *tok = strtok_r (copy, ", ", &save); tok;
         tok = strtok_r (NULL, ", ", &save)) {
        if (!ident_agency_code_valid (tok)) {
            fprintf (stderr,
                     "onenet-hub: agency code \"%s\" is not valid "
                     "(1-32 of a-z, 0-9, _)\n",
                     tok);
            return false;
        }
        if (config->n_agencies == HUB_MAX_AGENCIES) {
            fprintf (stderr, "onenet-hub: more than %d agencies configured\n",
                     HUB_MAX_AGENCIES);
            return false;
        }
        strcpy (config->agency_list[config->n_agencies++], tok);
    }
    return true;
}

/* Checks extra-event-types: "agency:type" entries of known agencies. */
static bool
check_extra_event_types (const hub_config_t *config)
{
    char copy[sizeof config->extra_event_types], err[200];
    strcpy (copy, config->extra_event_types);
    char *save = NULL;
    for (char *tok = strtok_r (copy, ", ", &save); tok;
         tok = strtok_r (NULL, ", ", &save)) {
        char *colon = strchr (tok, ':');
        if (colon)
            *colon = '\0';
        if (!colon || !hub_config_agency_known (config, tok)) {
            fprintf (stderr,
                     "onenet-hub: extra-event-types entry \"%s%s%s\" must be "
                     "agency:type with an agency of --agencies\n",
                     tok, colon ? ":" : "", colon ? colon + 1 : "");
            return false;
        }
        if (!ident_event_type_valid (colon + 1, err, sizeof err)) {
            fprintf (stderr, "onenet-hub: extra-event-types entry \"%s:%s\": %s\n", tok,
                     colon + 1, err);
            return false;
        }
    }
    return true;
}

static const settings_spec_t spec = {
    .prog = "onenet-hub",
    .section = "hub",
    .synopsis = "[--config FILE] [--SETTING VALUE ...]",
    .description = "Receives case events from agency adapters over ZeroMQ, stores them in\n"
                   "PostgreSQL and acknowledges each one after its transaction commits.",
    .epilogue =
        "Signals: SIGTERM/SIGINT drain (commit and acknowledge what was read, then\n"
        "exit). Exit status: 0 clean stop, 1 runtime failure, 2 usage or config error.",
    .version = "onenet-hub 0.1.0 (wire schema 1)",
    .table = settings,
    .n = N_SETTINGS,
};

int
hub_config_load (hub_config_t *config, int argc, char **argv)
{
    memset (config, 0, sizeof *config);
    int rc = settings_load (&spec, config, argc, argv);
    if (rc != 0)
        return rc;
    log_level_t level;
    if (!log_level_parse (config->log_level, &level)) {
        fprintf (stderr,
                 "onenet-hub: log-level must be debug, info, warn or error, "
                 "not \"%s\"\n",
                 config->log_level);
        return 2;
    }
    if (!parse_agencies (config) || !parse_office_hours (config)
        || !check_extra_event_types (config))
        return 2;
    if (!*config->hub_id) {
        char host[48] = "hub";
        gethostname (host, sizeof host - 1);
        snprintf (config->hub_id, sizeof config->hub_id, "%s-%d", host, (int) getpid ());
    }
    return 0;
}

bool
hub_config_agency_known (const hub_config_t *config, const char *agency)
{
    for (size_t i = 0; i < config->n_agencies; i++)
        if (strcmp (config->agency_list[i], agency) == 0)
            return true;
    return false;
}

bool
hub_config_security (hub_config_t *config)
{
    if (config->migrate_only)
        return true; /* binds nothing */
    if (*config->http) {
        /* the HTTP endpoint: loopback, or the token required everywhere */
        http_address_t address;
        char err[1024], token[300];
        if (!http_address_parse (config->http, &address, err, sizeof err)) {
            fprintf (stderr, "onenet-hub: %s\n", err);
            return false;
        }
        if (!address.loopback && !*config->http_token_file) {
            fprintf (stderr,
                     "onenet-hub: refusing to serve HTTP on %s without http-token-file: "
                     "only a loopback address (127.0.0.1, [::1], localhost) may serve "
                     "/metrics without a token (docs/security.md)\n",
                     config->http);
            return false;
        }
        if (*config->http_token_file
            && !http_token_read (config->http_token_file, token, sizeof token, err,
                                 sizeof err)) {
            fprintf (stderr, "onenet-hub: refusing to start: %s\n", err);
            return false;
        }
        memset (token, 0, sizeof token);
    }
    if (config->insecure) {
        char http_endpoint[300];
        snprintf (http_endpoint, sizeof http_endpoint, "tcp://%s", config->http);
        const char *endpoints[] = {config->listen, config->control,
                                   *config->http ? http_endpoint : ""};
        for (size_t i = 0; i < 3; i++)
            if (*endpoints[i] && !curve_endpoint_local (endpoints[i])) {
                fprintf (stderr,
                         "onenet-hub: refusing --insecure: %s is not a loopback endpoint; "
                         "plaintext is only allowed on 127.0.0.1, localhost, ::1, ipc "
                         "and inproc (docs/security.md)\n",
                         endpoints[i]);
                return false;
            }
        return true;
    }
    if (!*config->secret_key || !*config->authorised_keys) {
        fprintf (stderr,
                 "onenet-hub: refusing to start without CURVE: set secret-key (the hub's "
                 "key pair file) and authorised-keys (docs/security.md), or --insecure "
                 "for plaintext on loopback only\n");
        return false;
    }
    char err[1024];
    if (curve_keyfile_read (config->secret_key, &config->keypair, err, sizeof err) != 0) {
        fprintf (stderr, "onenet-hub: refusing to start: %s\n", err);
        return false;
    }
    return true;
}

workflow_set_t *
hub_config_load_workflows (const hub_config_t *config, const char *dir, char *problems,
                           size_t len)
{
    const char *agencies[HUB_MAX_AGENCIES];
    for (size_t i = 0; i < config->n_agencies; i++)
        agencies[i] = config->agency_list[i];
    return workflow_set_load_dir (dir ? dir : config->workflows, agencies, config->n_agencies,
                                  problems, len);
}
