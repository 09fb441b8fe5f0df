/*  adapter_config: the settings every adapter shares, in one table
    (see common/settings.h). An agency adapter adds nothing here; it only
    supplies its record mapping. */
#ifndef ONENET_ADAPTER_CONFIG_H
#define ONENET_ADAPTER_CONFIG_H

#include <stdbool.h>

typedef struct {
    char agency[33];       /* the agency this adapter speaks for */
    char adapter_id[65];   /* this instance's name (default agency-host) */
    char hub[512];         /* comma-separated hub endpoints */
    char outbox[512];      /* path of the durable outbox (SQLite file) */
    char spool[512];       /* spool directory; "" reads stdin */
    char task_spool[512];  /* out-spool for the hub's tasks; "" takes none */
    char log_level[16];    /* debug, info, warn, error */
    bool once;             /* exit when input is consumed and all acknowledged */
    int batch_max;         /* events per batch */
    int window;            /* batches in flight */
    int ack_timeout_ms;    /* silence before resend / reconnect */
    int heartbeat_ms;      /* how often a heartbeat is sent */
    int retry_max_ms;      /* RETRY backoff ceiling */
    int max_message_bytes; /* batch size limit, as the hub's */
    int spool_scan_ms;     /* how often the spool is looked at */
    int drain_timeout_ms;  /* on SIGTERM, wait this long for acknowledgements */
    int max_outbox_events; /* stop accepting input beyond this backlog */
    char source_db[512];   /* agency database holding the outbox table; "" none */
    char source_table[130]; /* that table ([schema.]name) */
    int source_poll_ms;    /* how often the table is polled when it was empty */
    int source_batch;      /* rows claimed per transaction */
    char task_db[512];     /* agency database that takes the tasks; "" none */
    char task_table[130];  /* that table ([schema.]name) */
    bool db_create_tables; /* create the agency tables when missing */
    int db_timeout_ms;     /* statement_timeout on the agency connections */

    /* CURVE (docs/security.md) */
    char hub_public_key[41]; /* the hub's public key (Z85); "" = plaintext */
    char secret_key[512];    /* this adapter's key pair file */
    bool insecure;           /* plaintext allowed to a hub not on loopback */
} adapter_config_t;

/* Loads defaults, --config file ([adapter] section) and flags for program
   prog. Returns 0 to run, 1 after --help/--version, 2 on error. */
int adapter_config_load (adapter_config_t *config, const char *prog,
                         const char *description, int argc, char **argv);

#endif
