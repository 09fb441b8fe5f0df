/*  hub_config: every setting of onenet-hub in one table.

    Like pgbouncer, the settings are declared once (name, type, default,
    help); the config file (INI, section [hub]) sets them and command-line
    flags override the file. `onenet-hub --help` prints the table. */
#ifndef ONENET_HUB_CONFIG_H
#define ONENET_HUB_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "calendar.h"
#include "curve_key.h"
#include "workflow_def.h"

#define HUB_MAX_AGENCIES 64

typedef struct {
    char listen[256];           /* ZeroMQ endpoint the ingest ROUTER binds */
    char db[1024];              /* libpq connection string; "" = PG* environment */
    char control[256];          /* ZeroMQ endpoint of the control socket ("" = none) */
    char http[256];             /* ADDR:PORT of the HTTP endpoint ("" = none) */
    char http_token_file[512];  /* the HTTP endpoint's bearer token file ("" = none) */
    char hub_id[64];            /* this hub's name in logs and rows */
    char log_level[16];         /* debug, info, warn, error */
    char agencies[1024];        /* comma-separated agency codes the hub accepts */
    int batch_max;              /* events per commit, at most */
    int batch_wait_ms;          /* longest an event waits for its batch to fill */
    int max_message_bytes;      /* largest frame accepted; larger is refused */
    int max_batch_events;       /* events in one EventBatch, at most */
    int max_keys;               /* correlation keys per event, at most */
    int max_attrs;              /* attributes per event, at most */
    int max_string;             /* bytes of an id, code or name, at most */
    int max_text;               /* bytes of a text attribute, at most */
    int max_future_s;           /* occurred_at may be this far ahead of the hub clock */
    int max_past_days;          /* occurred_at may be this far behind */
    int db_retry_max_ms;        /* reconnect backoff ceiling */
    int drain_timeout_ms;       /* on SIGTERM, how long to wait for the last commit */
    int supervise_interval_ms;  /* how often deadlines and expiries are checked */
    int correlate_idle_ms;      /* correlation queue poll interval when it was empty */
    int immediate_minutes;      /* the working-minute budget of an "immediate" deadline */
    char workflows[512];        /* directory of workflow definitions (*.yaml) */
    char extra_event_types[1024]; /* "agency:type,...": accepted beyond the workflows' */
    char office_hours_text[64]; /* "09:00-12:00,14:30-17:30": the hall's two sessions */
    bool migrate_only;          /* apply migrations and exit */
    char secret_key[512];       /* the hub's CURVE key pair file */
    char authorised_keys[512];  /* the authorised-keys file (authorised_keys.h) */
    bool insecure;              /* plaintext, no authentication (loopback only) */
    /* derived */
    size_t n_agencies;                      /* entries in agency_list */
    char agency_list[HUB_MAX_AGENCIES][33]; /* agencies parsed from agencies */
    office_hours_t office_hours;            /* parsed from office_hours_text */
    curve_keypair_t keypair;                /* read from secret_key (CURVE only) */
} hub_config_t;

/* Fills config from defaults, then the file named by --config (if any),
   then flags. Returns 0 to run, 1 when --help/--version was printed, 2 on a
   usage or config error (already reported on stderr). */
int hub_config_load (hub_config_t *config, int argc, char **argv);

/* The workflow definitions in dir (NULL: the workflows setting), loaded
   as the hub loads them: every agency code checked against the agencies
   setting. NULL with every problem written into problems. */
workflow_set_t *hub_config_load_workflows (const hub_config_t *config, const char *dir,
                                           char *problems, size_t len);

/* Checks the security settings and reads the hub's key pair: CURVE
   (secret-key and authorised-keys set, the key file private to its owner)
   unless insecure, and then every endpoint must be loopback. False after
   reporting the problem on stderr (the hub then exits with status 2). */
bool hub_config_security (hub_config_t *config);

/* True when agency is in the accepted list. */
bool hub_config_agency_known (const hub_config_t *config, const char *agency);

#endif
