/*  http: the hub's HTTP endpoint (libmicrohttpd), for monitoring and the
    supervision office.

    Off unless the `http` setting names ADDR:PORT. Served by libmicrohttpd's
    own threads (one per connection), so a slow client or a slow database
    query never holds up ingest:

        GET /metrics   the hub's counters (the figures of `hubctl metrics`,
                       from a snapshot the ingest thread publishes) and
                       business gauges read from PostgreSQL over a
                       connection of the endpoint's own, cached for
                       HTTP_DB_REFRESH_MS; Prometheus text format 0.0.4
        GET /healthz   200 "ok" when the store thread's last database round
                       trip is recent, else 503 and the reason on one line
        GET /supervision, /supervision/case?q=
                       the supervision page (supervision_page.h), read over
                       a session of its own acting as onenet_analyst

    Who may ask (docs/security.md): bound to a loopback address, /metrics
    and /healthz are open; bound to any other address, the token file
    (`http-token-file`) is required at start and /metrics needs the token
    (/healthz stays open, without PostgreSQL's message). The supervision
    page needs the token wherever it is bound, and is off (403) without a
    token file. The
    token comes as "Authorization: Bearer TOKEN", as the cookie
    onenet_token, or once as ?token= (answered with that cookie and a
    redirect to the same address without it). */
#ifndef ONENET_HTTP_H
#define ONENET_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "control.h"
#include "hub_config.h"
#include "store.h"
#include "workflow_def.h"

/* The business gauges are read from PostgreSQL at most this often. */
#define HTTP_DB_REFRESH_MS 5000
/* /healthz: the store's last round trip may be this old (it probes every 2 s). */
#define HTTP_HEALTH_MAX_AGE_MS 6000
/* An adapter silent this long counts in onenet_adapters_stale. */
#define HTTP_STALE_ADAPTER_S 300

typedef struct http http_t;

/* A parsed `http` setting. */
typedef struct {
    struct sockaddr_storage addr; /* where to bind */
    socklen_t addr_len;           /* bytes of addr in use */
    bool loopback;                /* 127.0.0.0/8 or ::1 */
} http_address_t;

/* Parses "ADDR:PORT": an IPv4 address, [IPv6] or localhost, and a port
   from 1 to 65535. False with the reason in err on anything else. */
bool http_address_parse (const char *text, http_address_t *out, char *err, size_t errlen);

/* Reads the token file: its first line, which must hold 16 to 256
   printable characters without spaces, from a regular file that group and
   others may not read. False with the reason in err. */
bool http_token_read (const char *path, char *token, size_t len, char *err, size_t errlen);

/* Starts serving on config->http. store is asked for /healthz, set holds
   the workflow definitions. NULL with the reason in err. */
http_t *http_start (const hub_config_t *config, const workflow_set_t *set, store_t *store,
                    char *err, size_t errlen);

/* Hands the endpoint the ingest thread's current figures (copied). */
void http_publish (http_t *self, const hub_status_t *status);

/* Stops serving (waits for requests in progress) and frees everything;
   sets *self_p to NULL. */
void http_stop (http_t **self_p);

#endif
