/*  http: the hub's HTTP endpoint, see http.h. */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "db.h"
#include "log.h"
#include "strbuf.h"
#include "supervision_page.h"

#define TOKEN_MAX         256
#define TOKEN_MIN         16
#define TOKEN_COOKIE      "onenet_token"
#define TOKEN_CHECK_MS    1000   /* the token file is looked at again at most this often */
#define STATEMENT_TIMEOUT "2000" /* ms a gauge query may take */
#define PAGE_TIMEOUT      "5000" /* ms a query of the supervision page may take */
#define PAGE_SECURITY                                                                      \
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; " \
    "frame-ancestors 'none'"
#define REFUSALS_PER_MIN 20 /* refused requests logged a minute, at most */

struct http {
    const hub_config_t *config; /* settings, read-only */
    const workflow_set_t *set;  /* definitions, read-only */
    store_t *store;             /* asked for its health */
    struct MHD_Daemon *daemon;  /* libmicrohttpd, with its threads */
    atomic_bool started;        /* MHD_start_daemon returned */
    bool loopback;              /* bound to a loopback address */
    char start_error[512];      /* what libmicrohttpd said while starting */

    pthread_mutex_t stats_lock; /* guards stats */
    hub_status_t stats;         /* the ingest thread's figures, as last published */

    pthread_mutex_t db_lock; /* guards the gauge connection and cache */
    PGconn *db;              /* the endpoint's own connection, NULL when closed */
    int64_t db_read_ms;      /* when the gauges were last read (monotonic), 0: never */
    bool db_ok;              /* that read succeeded */
    char db_error[512];      /* why it did not */
    strbuf_t db_gauges;      /* the gauges' text, when db_ok */

    pthread_mutex_t page_lock; /* guards the supervision page's connection */
    PGconn *page_db;           /* acting as onenet_analyst, NULL when closed */

    pthread_mutex_t token_lock; /* guards the token */
    char token[TOKEN_MAX + 1];  /* "" without a token file */
    int64_t token_checked_ms;   /* when the file was last looked at (monotonic) */
    struct stat token_st;       /* the file as it was read */

    pthread_mutex_t log_lock; /* guards the refusal counter */
    int64_t refusals_minute;  /* the minute counted (monotonic ms / 60000) */
    int refusals;             /* refusals logged in it */
};

/* ---------------------------------------------------------------- settings */

bool
http_address_parse (const char *text, http_address_t *out, char *err, size_t errlen)
{
    memset (out, 0, sizeof *out);
    const char *colon = strrchr (text, ':');
    char host[128];
    if (!colon || colon == text || (size_t) (colon - text) >= sizeof host) {
        snprintf (err, errlen,
                  "http \"%s\" must be ADDR:PORT, e.g. 127.0.0.1:9570 or [::1]:9570", text);
        return false;
    }
    memcpy (host, text, (size_t) (colon - text));
    host[colon - text] = '\0';
    char *end = NULL;
    errno = 0;
    long port = strtol (colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || port < 1 || port > 65535) {
        snprintf (err, errlen, "http \"%s\": the port must be a number from 1 to 65535",
                  text);
        return false;
    }
    size_t hl = strlen (host);
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *) &out->addr;
        if (inet_pton (AF_INET6, host + 1, &a6->sin6_addr) != 1) {
            snprintf (err, errlen, "http \"%s\": \"%s\" is not an IPv6 address", text,
                      host + 1);
            return false;
        }
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons ((uint16_t) port);
        out->addr_len = sizeof *a6;
        out->loopback = IN6_IS_ADDR_LOOPBACK (&a6->sin6_addr);
        return true;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *) &out->addr;
    if (strcmp (host, "localhost") == 0)
        snprintf (host, sizeof host, "127.0.0.1");
    if (inet_pton (AF_INET, host, &a4->sin_addr) != 1) {
        snprintf (err, errlen,
                  "http \"%s\": \"%s\" is not an IPv4 address, [IPv6 address] or "
                  "localhost",
                  text, host);
        return false;
    }
    a4->sin_family = AF_INET;
    a4->sin_port = htons ((uint16_t) port);
    out->addr_len = sizeof *a4;
    out->loopback = (ntohl (a4->sin_addr.s_addr) >> 24) == 127;
    return true;
}

/* Reads the token from path; st receives the file's status. */
static bool
token_read (const char *path, char *token, size_t len, struct stat *st, char *err,
            size_t errlen)
{
    int fd = open (path, O_RDONLY | O_NOCTTY);
    if (fd < 0) {
        snprintf (err, errlen, "cannot read the HTTP token file %s: %s", path,
                  strerror (errno));
        return false;
    }
    bool ok = false;
    char buf[TOKEN_MAX + 64];
    ssize_t n = -1;
    if (fstat (fd, st) != 0)
        snprintf (err, errlen, "cannot read the HTTP token file %s: %s", path,
                  strerror (errno));
    else if (!S_ISREG (st->st_mode))
        snprintf (err, errlen, "the HTTP token file %s is not a regular file", path);
    else if (st->st_mode & 077)
        snprintf (err, errlen,
                  "the HTTP token file %s has mode %04o: group or others may read it; make "
                  "it private to its owner (chmod 600 %s)",
                  path, (unsigned) (st->st_mode & 07777), path);
    else if ((n = read (fd, buf, sizeof buf - 1)) < 0)
        snprintf (err, errlen, "cannot read the HTTP token file %s: %s", path,
                  strerror (errno));
    else {
        buf[n] = '\0';
        size_t k = strcspn (buf, "\r\n");
        buf[k] = '\0';
        while (k && (buf[k - 1] == ' ' || buf[k - 1] == '\t'))
            buf[--k] = '\0';
        bool printable = true;
        for (size_t i = 0; i < k; i++)
            if ((unsigned char) buf[i] <= 0x20 || (unsigned char) buf[i] >= 0x7f)
                printable = false;
        if (k < TOKEN_MIN || k > TOKEN_MAX || !printable || k >= len)
            snprintf (err, errlen,
                      "the HTTP token file %s must hold on its first line a token of %d to "
                      "%d printable characters without spaces (e.g. openssl rand -hex 32)",
                      path, TOKEN_MIN, TOKEN_MAX);
        else {
            memcpy (token, buf, k + 1);
            ok = true;
        }
    }
    memset (buf, 0, sizeof buf);
    close (fd);
    return ok;
}

bool
http_token_read (const char *path, char *token, size_t len, char *err, size_t errlen)
{
    struct stat st;
    return token_read (path, token, len, &st, err, errlen);
}

/* ---------------------------------------------------------------- helpers */

/* Compares without stopping at the first difference. */
static bool
token_equal (const char *given, const char *expected)
{
    size_t gl = strlen (given), el = strlen (expected);
    unsigned char diff = gl != el;
    for (size_t i = 0; i < el; i++)
        diff |= (unsigned char) expected[i] ^ (unsigned char) (i < gl ? given[i] : 0);
    return diff == 0;
}

/* The current token ("" when there is no token file): re-read when the
   file changed, the last good one kept when it cannot be read. */
static void
current_token (http_t *self, char *out, size_t len)
{
    pthread_mutex_lock (&self->token_lock);
    const char *path = self->config->http_token_file;
    int64_t now = clock_mono_ms ();
    if (*path && now - self->token_checked_ms >= TOKEN_CHECK_MS) {
        self->token_checked_ms = now;
        struct stat st;
        if (stat (path, &st) == 0
            && (st.st_mtim.tv_sec != self->token_st.st_mtim.tv_sec
                || st.st_mtim.tv_nsec != self->token_st.st_mtim.tv_nsec
                || st.st_ino != self->token_st.st_ino
                || st.st_size != self->token_st.st_size
                || st.st_mode != self->token_st.st_mode)) {
            char token[TOKEN_MAX + 1], err[600];
            struct stat read_st;
            if (token_read (path, token, sizeof token, &read_st, err, sizeof err)) {
                snprintf (self->token, sizeof self->token, "%s", token);
                log_info ("HTTP token reloaded", "hub=%s file=%s",
                          log_q (self->config->hub_id), log_q (path));
            }
            else
                log_warn ("HTTP token file unusable: the previous token stays",
                          "hub=%s file=%s error=%s", log_q (self->config->hub_id),
                          log_q (path), log_q (err));
            self->token_st = st; /* once per change, not every second */
            memset (token, 0, sizeof token);
        }
    }
    snprintf (out, len, "%s", self->token);
    pthread_mutex_unlock (&self->token_lock);
}

/* The peer's address as text. */
static void
peer_name (struct MHD_Connection *c, char *out, size_t len)
{
    snprintf (out, len, "unknown");
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info (c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!info || !info->client_addr)
        return;
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop (AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, out,
                   (socklen_t) len);
    else if (sa->sa_family == AF_INET6)
        inet_ntop (AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr, out,
                   (socklen_t) len);
}

/* Logs a refused request, at most REFUSALS_PER_MIN a minute. */
static void
log_refusal (http_t *self, struct MHD_Connection *c, const char *url, const char *why)
{
    pthread_mutex_lock (&self->log_lock);
    int64_t minute = clock_mono_ms () / 60000;
    if (minute != self->refusals_minute) {
        self->refusals_minute = minute;
        self->refusals = 0;
    }
    bool log = self->refusals++ < REFUSALS_PER_MIN;
    pthread_mutex_unlock (&self->log_lock);
    if (!log)
        return;
    char peer[INET6_ADDRSTRLEN + 1];
    peer_name (c, peer, sizeof peer);
    log_warn ("HTTP request refused", "hub=%s peer=%s path=%s reason=%s",
              log_q (self->config->hub_id), log_q (peer), log_q (url), log_q (why));
}

/* Queues a response of status with body; extra headers in pairs, NULL-ended. */
static enum MHD_Result
reply (struct MHD_Connection *c, unsigned int status, const char *type, const char *body,
       size_t len, ...)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer (len, (void *) body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header (r, "Content-Type", type);
    MHD_add_response_header (r, "Cache-Control", "no-store");
    MHD_add_response_header (r, "X-Content-Type-Options", "nosniff");
    va_list ap;
    va_start (ap, len);
    for (const char *name; (name = va_arg (ap, const char *)) != NULL;)
        MHD_add_response_header (r, name, va_arg (ap, const char *));
    va_end (ap);
    enum MHD_Result rc = MHD_queue_response (c, status, r);
    MHD_destroy_response (r);
    return rc;
}

static enum MHD_Result
reply_text (struct MHD_Connection *c, unsigned int status, const char *text)
{
    return reply (c, status, "text/plain; charset=utf-8", text, strlen (text), NULL);
}

/* ---------------------------------------------------------------- /metrics */

/* The business gauges' query: one row per sample, (family, agency,
   adapter, value, code), counted as hubctl counts them (overdue, tasks). */
static const char GAUGES_SQL[] =
    "SELECT 'overdue', s.agency, NULL, count(*)::text, NULL FROM workflow_steps s "
    "  WHERE s.required AND s.completed_at IS NULL AND s.due_at < now() GROUP BY s.agency "
    "UNION ALL SELECT 'warning', s.agency, NULL, count(*)::text, NULL FROM workflow_steps s "
    "  WHERE s.required AND s.completed_at IS NULL AND s.warn_at <= now() "
    "    AND s.due_at >= now() GROUP BY s.agency "
    "UNION ALL SELECT 'heartbeat', a.agency, a.adapter_id, "
    "  round(extract(epoch FROM now() - a.last_heartbeat), 3)::text, NULL FROM adapters a "
    "UNION ALL SELECT 'outbox', a.agency, a.adapter_id, a.outbox_depth::text, NULL "
    "  FROM adapters a "
    "UNION ALL SELECT 'quarantined', a.agency, a.adapter_id, a.quarantined::text, NULL "
    "  FROM adapters a WHERE a.quarantined IS NOT NULL "
    "UNION ALL SELECT 'quarantined_code', a.agency, a.adapter_id, c.value, c.key "
    "  FROM adapters a CROSS JOIN LATERAL jsonb_each_text(a.quarantined_by_code) c "
    "UNION ALL SELECT 'queue', NULL, NULL, count(*)::text, NULL FROM correlation_backlog "
    "UNION ALL SELECT 'queue_oldest', NULL, NULL, "
    "  coalesce(round(extract(epoch FROM now() - min(enqueued_at)), 3), 0)::text, NULL "
    "  FROM correlation_backlog "
    "UNION ALL SELECT 'dead', NULL, NULL, count(*)::text, NULL FROM dead_letters "
    "UNION ALL SELECT 'dead_24h', NULL, NULL, count(*)::text, NULL FROM dead_letters "
    "  WHERE first_seen >= now() - interval '24 hours' "
    "UNION ALL SELECT 'tasks', t.agency, NULL, "
    "  count(*) FILTER (WHERE t.seq > coalesce(c.cursor, 0))::text, NULL "
    "  FROM tasks t LEFT JOIN (SELECT agency, max(task_cursor) AS cursor FROM adapters "
    "    GROUP BY agency) c ON c.agency = t.agency GROUP BY t.agency "
    "ORDER BY 1, 2, 3, 5";

static void
family (strbuf_t *out, const char *name, const char *help)
{
    strbuf_printf (out, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* One sample; code (a label after adapter) may be NULL. */
static void
sample_code (strbuf_t *out, const char *name, const char *agency, const char *adapter,
             const char *code, const char *value)
{
    strbuf_puts (out, name);
    if (agency) {
        strbuf_puts (out, "{agency=\"");
        control_label_value (out, agency);
        strbuf_putc (out, '"');
        if (adapter) {
            strbuf_puts (out, ",adapter=\"");
            control_label_value (out, adapter);
            strbuf_putc (out, '"');
        }
        if (code) {
            strbuf_puts (out, ",code=\"");
            control_label_value (out, code);
            strbuf_putc (out, '"');
        }
        strbuf_putc (out, '}');
    }
    strbuf_printf (out, " %s\n", value);
}

static void
sample (strbuf_t *out, const char *name, const char *agency, const char *adapter,
        const char *value)
{
    sample_code (out, name, agency, adapter, NULL, value);
}

/* One gauge by agency: every agency the hub accepts (0 when the database
   has none), then any other the database names. */
static void
by_agency (http_t *self, strbuf_t *out, PGresult *res, const char *key, const char *name,
           const char *help)
{
    const hub_config_t *config = self->config;
    family (out, name, help);
    int n = PQntuples (res);
    for (size_t i = 0; i < config->n_agencies; i++) {
        const char *value = "0";
        for (int r = 0; r < n; r++)
            if (!strcmp (PQgetvalue (res, r, 0), key)
                && !strcmp (PQgetvalue (res, r, 1), config->agency_list[i]))
                value = PQgetvalue (res, r, 3);
        sample (out, name, config->agency_list[i], NULL, value);
    }
    for (int r = 0; r < n; r++)
        if (!strcmp (PQgetvalue (res, r, 0), key)
            && !hub_config_agency_known (config, PQgetvalue (res, r, 1)))
            sample (out, name, PQgetvalue (res, r, 1), NULL, PQgetvalue (res, r, 3));
}

/* The value of a family without labels. */
static const char *
single (PGresult *res, const char *key)
{
    for (int r = 0; r < PQntuples (res); r++)
        if (!strcmp (PQgetvalue (res, r, 0), key))
            return PQgetvalue (res, r, 3);
    return "0";
}

/* Writes the gauges of res into out. */
static void
gauges_text (http_t *self, PGresult *res, strbuf_t *out)
{
    strbuf_reset (out);
    by_agency (self, out, res, "overdue", "onenet_steps_overdue",
               "Required steps not done whose deadline has passed (overdue, supervision), "
               "by the agency that must act.");
    by_agency (self, out, res, "warning", "onenet_steps_warning",
               "Required steps not done past their warning point, deadline still ahead.");
    int stale = 0;
    for (int r = 0; r < PQntuples (res); r++)
        if (!strcmp (PQgetvalue (res, r, 0), "heartbeat")
            && atof (PQgetvalue (res, r, 3)) > HTTP_STALE_ADAPTER_S)
            stale++;
    char stale_text[16];
    snprintf (stale_text, sizeof stale_text, "%d", stale);
    family (out, "onenet_adapters_stale",
            "Adapters whose last heartbeat is older than 300 seconds.");
    sample (out, "onenet_adapters_stale", NULL, NULL, stale_text);
    static const struct {
        const char *key, *name, *help;
    } per_adapter[] = {
        {"heartbeat", "onenet_adapter_heartbeat_age_seconds",
         "Seconds since the adapter's last heartbeat was recorded."},
        {"outbox", "onenet_adapter_outbox_depth",
         "Events the adapter had not had answered, at its last heartbeat."},
        {"quarantined", "onenet_adapter_quarantined",
         "Records the adapter refused and events a hub rejected, kept in its quarantine, "
         "at its last heartbeat that counted them."},
        {"quarantined_code", "onenet_adapter_quarantined_by_code",
         "The same by code: BAD_RECORD (refused by the adapter) or the hub's code."},
    };
    for (size_t f = 0; f < sizeof per_adapter / sizeof *per_adapter; f++) {
        family (out, per_adapter[f].name, per_adapter[f].help);
        for (int r = 0; r < PQntuples (res); r++)
            if (!strcmp (PQgetvalue (res, r, 0), per_adapter[f].key))
                sample_code (out, per_adapter[f].name, PQgetvalue (res, r, 1),
                             PQgetvalue (res, r, 2),
                             PQgetisnull (res, r, 4) ? NULL : PQgetvalue (res, r, 4),
                             PQgetvalue (res, r, 3));
    }
    family (out, "onenet_correlation_backlog",
            "Stored events not yet correlated (rows of correlation_backlog).");
    sample (out, "onenet_correlation_backlog", NULL, NULL, single (res, "queue"));
    family (out, "onenet_correlation_backlog_oldest_seconds",
            "Age of the oldest event waiting for correlation; 0 when none waits.");
    sample (out, "onenet_correlation_backlog_oldest_seconds", NULL, NULL,
            single (res, "queue_oldest"));
    family (out, "onenet_dead_letters", "Rows in dead_letters: refusals recorded.");
    sample (out, "onenet_dead_letters", NULL, NULL, single (res, "dead"));
    family (out, "onenet_dead_letters_24h",
            "Dead letters first recorded in the last 24 hours.");
    sample (out, "onenet_dead_letters_24h", NULL, NULL, single (res, "dead_24h"));
    by_agency (self, out, res, "tasks", "onenet_tasks_undelivered",
               "Tasks of the agency past the furthest task cursor of its adapters.");
}

/* Reads the gauges into the cache unless it is fresh; the caller holds
   db_lock. */
static void
refresh_gauges (http_t *self)
{
    int64_t now = clock_mono_ms ();
    if (self->db_read_ms && now - self->db_read_ms < HTTP_DB_REFRESH_MS)
        return;
    self->db_read_ms = now;
    bool was_ok = self->db_ok;
    char why[512] = "";
    if (!self->db) {
        self->db = db_connect_why (self->config, "onenet-hub http", true, why, sizeof why);
        if (self->db) {
            PGresult *set = PQexec (self->db, "SET statement_timeout = " STATEMENT_TIMEOUT
                                              "; SET default_transaction_read_only = on");
            if (PQresultStatus (set) != PGRES_COMMAND_OK) {
                snprintf (why, sizeof why, "%s", PQresultErrorMessage (set));
                PQfinish (self->db);
                self->db = NULL;
            }
            PQclear (set);
        }
    }
    if (self->db) {
        PGresult *res = PQexec (self->db, GAUGES_SQL);
        if (PQresultStatus (res) == PGRES_TUPLES_OK) {
            gauges_text (self, res, &self->db_gauges);
            self->db_ok = true;
        }
        else {
            snprintf (why, sizeof why, "%s", PQresultErrorMessage (res));
            if (db_lost (self->db)) {
                PQfinish (self->db);
                self->db = NULL;
            }
        }
        PQclear (res);
    }
    if (*why) {
        self->db_ok = false;
        strbuf_reset (&self->db_gauges);
        db_one_line (why);
        snprintf (self->db_error, sizeof self->db_error, "%s", why);
    }
    if (was_ok && !self->db_ok)
        log_warn ("HTTP endpoint: database gauges unavailable", "hub=%s error=%s",
                  log_q (self->config->hub_id), log_q (self->db_error));
    else if (!was_ok && self->db_ok && *self->db_error) {
        log_info ("HTTP endpoint: database gauges available again", "hub=%s",
                  log_q (self->config->hub_id));
        self->db_error[0] = '\0';
    }
}

static enum MHD_Result
serve_metrics (http_t *self, struct MHD_Connection *c)
{
    hub_status_t snapshot;
    pthread_mutex_lock (&self->stats_lock);
    snapshot = self->stats;
    pthread_mutex_unlock (&self->stats_lock);
    strbuf_t out;
    strbuf_init (&out);
    control_prometheus (&snapshot, &out);

    store_health_t health;
    store_health (self->store, &health);
    strbuf_t hub;
    strbuf_init (&hub);
    control_label_value (&hub, self->config->hub_id);
    strbuf_printf (
        &out,
        "# HELP onenet_store_round_trip_age_seconds Seconds since the store's last "
        "successful database round trip (commit or probe); -1 before the first.\n"
        "# TYPE onenet_store_round_trip_age_seconds gauge\n"
        "onenet_store_round_trip_age_seconds{hub=\"%s\"} %.3f\n",
        hub.data ? hub.data : "",
        health.last_ok_ms ? (double) (clock_mono_ms () - health.last_ok_ms) / 1000.0
                          : -1.0);
    strbuf_free (&hub);

    pthread_mutex_lock (&self->db_lock);
    refresh_gauges (self);
    strbuf_printf (
        &out,
        "# HELP onenet_db_scrape_ok 1 when the gauges below were read from "
        "PostgreSQL (at most %d s ago); 0 when it could not be read, and they "
        "are left out.\n# TYPE onenet_db_scrape_ok gauge\nonenet_db_scrape_ok %d\n",
        HTTP_DB_REFRESH_MS / 1000, self->db_ok ? 1 : 0);
    if (self->db_ok)
        strbuf_append (&out, self->db_gauges.data, self->db_gauges.len);
    pthread_mutex_unlock (&self->db_lock);

    enum MHD_Result rc = reply (c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                                out.data ? out.data : "", out.len, NULL);
    strbuf_free (&out);
    return rc;
}

/* ---------------------------------------------------------------- /healthz */

static enum MHD_Result
serve_healthz (http_t *self, struct MHD_Connection *c, bool details)
{
    store_health_t h;
    store_health (self->store, &h);
    int64_t age = h.last_ok_ms ? clock_mono_ms () - h.last_ok_ms : -1;
    if (h.connected && age >= 0 && age <= HTTP_HEALTH_MAX_AGE_MS)
        return reply_text (c, MHD_HTTP_OK, "ok\n");
    char text[700];
    const char *why = details && *h.error ? h.error : NULL;
    if (age < 0)
        snprintf (text, sizeof text, "database not reached since the hub started%s%s\n",
                  why ? ": " : "", why ? why : "");
    else if (!h.connected)
        snprintf (text, sizeof text, "database unreachable for %lld s%s%s\n",
                  (long long) (age / 1000), why ? ": " : "", why ? why : "");
    else
        snprintf (text, sizeof text,
                  "no database round trip for %lld s: a commit or probe is taking that "
                  "long\n",
                  (long long) (age / 1000));
    return reply_text (c, MHD_HTTP_SERVICE_UNAVAILABLE, text);
}

/* ---------------------------------------------------------------- /supervision */

/* The page's session: connected as the hub's login, then acting as
   onenet_analyst for good, so that it reads the analytics views and
   nothing else (personal data masked). NULL with the reason in why. */
static PGconn *
page_connect (http_t *self, char *why, size_t whylen)
{
    PGconn *conn =
        db_connect_why (self->config, "onenet-hub supervision page", true, why, whylen);
    if (!conn)
        return NULL;
    PGresult *res = PQexec (conn, "SET ROLE onenet_analyst; "
                                  "SET statement_timeout = " PAGE_TIMEOUT "; "
                                  "SET default_transaction_read_only = on; "
                                  "SET TIME ZONE 'Asia/Shanghai'");
    if (PQresultStatus (res) != PGRES_COMMAND_OK) {
        snprintf (why, whylen, "the page's session cannot act as onenet_analyst: %s",
                  PQresultErrorMessage (res));
        db_one_line (why);
        log_warn ("supervision page: no analyst session", "hub=%s error=%s",
                  log_q (self->config->hub_id), log_q (why));
        PQclear (res);
        PQfinish (conn);
        return NULL;
    }
    PQclear (res);
    return conn;
}

static enum MHD_Result
reply_page (struct MHD_Connection *c, unsigned int status, const strbuf_t *html)
{
    return reply (c, status, "text/html; charset=utf-8", html->data ? html->data : "",
                  html->len, "Content-Security-Policy", PAGE_SECURITY, "Referrer-Policy",
                  "no-referrer", "X-Frame-Options", "DENY", NULL);
}

static enum MHD_Result
serve_supervision (http_t *self, struct MHD_Connection *c, bool case_page)
{
    strbuf_t html;
    strbuf_init (&html);
    char why[600] = "";
    bool ok = false;
    pthread_mutex_lock (&self->page_lock);
    if (!self->page_db)
        self->page_db = page_connect (self, why, sizeof why);
    if (self->page_db) {
        if (case_page)
            ok = supervision_case (
                self->page_db, self->set, self->config->hub_id,
                MHD_lookup_connection_value (c, MHD_GET_ARGUMENT_KIND, "q"), &html, why,
                sizeof why);
        else
            ok = supervision_overview (self->page_db, self->set, self->config->hub_id,
                                       &html, why, sizeof why);
        if (!ok) {
            log_warn ("supervision page: query failed", "hub=%s error=%s",
                      log_q (self->config->hub_id), log_q (why));
            if (db_lost (self->page_db)) {
                PQfinish (self->page_db);
                self->page_db = NULL;
            }
        }
    }
    pthread_mutex_unlock (&self->page_lock);
    if (!ok)
        supervision_unavailable (self->config->hub_id, why, &html);
    enum MHD_Result rc =
        reply_page (c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, &html);
    strbuf_free (&html);
    return rc;
}

/* ---------------------------------------------------------------- requests */

static enum MHD_Result
add_arg (void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void) kind;
    strbuf_t *query = cls;
    if (!strcmp (key, "token"))
        return MHD_YES;
    strbuf_putc (query, query->len ? '&' : '?');
    strbuf_url_encode (query, key);
    if (value) {
        strbuf_putc (query, '=');
        strbuf_url_encode (query, value);
    }
    return MHD_YES;
}

/* A token given as ?token=: set as the cookie, and the same address
   without it asked for again (so it stays out of history and logs). */
static enum MHD_Result
take_token_from_query (struct MHD_Connection *c, const char *url, const char *token)
{
    strbuf_t location, cookie;
    strbuf_init (&location);
    strbuf_init (&cookie);
    strbuf_t query;
    strbuf_init (&query);
    MHD_get_connection_values (c, MHD_GET_ARGUMENT_KIND, add_arg, &query);
    strbuf_puts (&location, url);
    if (query.len)
        strbuf_append (&location, query.data, query.len);
    strbuf_printf (&cookie, TOKEN_COOKIE "=%s; Path=/; HttpOnly; SameSite=Strict", token);
    static const char body[] = "token taken; continue without it in the address\n";
    enum MHD_Result rc =
        reply (c, MHD_HTTP_SEE_OTHER, "text/plain; charset=utf-8", body, sizeof body - 1,
               "Location", location.data, "Set-Cookie", cookie.data, NULL);
    strbuf_free (&location);
    strbuf_free (&cookie);
    strbuf_free (&query);
    return rc;
}

/* How a request proved itself. */
typedef enum { AUTH_NONE, AUTH_WRONG, AUTH_OK, AUTH_QUERY } auth_t;

static auth_t
authenticate (http_t *self, struct MHD_Connection *c)
{
    char token[TOKEN_MAX + 1];
    current_token (self, token, sizeof token);
    if (!*token)
        return AUTH_NONE;
    const char *given = NULL;
    const char *header =
        MHD_lookup_connection_value (c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (header && !strncmp (header, "Bearer ", 7))
        given = header + 7;
    const char *query = MHD_lookup_connection_value (c, MHD_GET_ARGUMENT_KIND, "token");
    const char *cookie = MHD_lookup_connection_value (c, MHD_COOKIE_KIND, TOKEN_COOKIE);
    auth_t rc = AUTH_NONE;
    if (given)
        rc = token_equal (given, token) ? AUTH_OK : AUTH_WRONG;
    else if (query)
        rc = token_equal (query, token) ? AUTH_QUERY : AUTH_WRONG;
    else if (cookie)
        rc = token_equal (cookie, token) ? AUTH_OK : AUTH_WRONG;
    memset (token, 0, sizeof token);
    return rc;
}

static enum MHD_Result
refuse (http_t *self, struct MHD_Connection *c, const char *url, auth_t auth)
{
    const char *why = auth == AUTH_WRONG ? "wrong token" : "no token";
    log_refusal (self, c, url, why);
    char text[300];
    snprintf (text, sizeof text,
              "401 %s: give the token of http-token-file as \"Authorization: Bearer "
              "TOKEN\", or open the address once with ?token=TOKEN (docs/security.md)\n",
              why);
    return reply (c, MHD_HTTP_UNAUTHORIZED, "text/plain; charset=utf-8", text,
                  strlen (text), "WWW-Authenticate", "Bearer realm=\"onenet\"", NULL);
}

static enum MHD_Result
answer (void *cls, struct MHD_Connection *c, const char *url, const char *method,
        const char *version, const char *upload_data, size_t *upload_data_size,
        void **con_cls)
{
    (void) version;
    (void) upload_data;
    (void) upload_data_size;
    (void) con_cls;
    http_t *self = cls;
    if (strcmp (method, MHD_HTTP_METHOD_GET) && strcmp (method, MHD_HTTP_METHOD_HEAD))
        return reply (c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
                      "405 only GET and HEAD\n", strlen ("405 only GET and HEAD\n"),
                      "Allow", "GET, HEAD", NULL);
    bool healthz = !strcmp (url, "/healthz");
    bool metrics = !strcmp (url, "/metrics");
    bool overview = !strcmp (url, "/supervision") || !strcmp (url, "/supervision/");
    bool case_page = !strcmp (url, "/supervision/case");
    if (!healthz && !metrics && !overview && !case_page)
        return reply_text (c, MHD_HTTP_NOT_FOUND,
                           "404 not found: the hub serves /metrics, /healthz and "
                           "/supervision\n");
    auth_t auth = authenticate (self, c);
    if (auth == AUTH_QUERY)
        return take_token_from_query (
            c, url, MHD_lookup_connection_value (c, MHD_GET_ARGUMENT_KIND, "token"));
    if (healthz)
        return serve_healthz (self, c, self->loopback || auth == AUTH_OK);
    if (metrics) {
        if (auth == AUTH_WRONG || (!self->loopback && auth != AUTH_OK))
            return refuse (self, c, url, auth);
        return serve_metrics (self, c);
    }
    /* the supervision page: always the token, on loopback too */
    if (!*self->config->http_token_file)
        return reply_text (c, MHD_HTTP_FORBIDDEN,
                           "403 the supervision page is off: it needs the hub's "
                           "http-token-file setting (docs/security.md)\n");
    if (auth != AUTH_OK)
        return refuse (self, c, url, auth);
    return serve_supervision (self, c, case_page);
}

/* ---------------------------------------------------------------- life */

static void
on_mhd_log (void *cls, const char *fmt, va_list ap)
{
    http_t *self = cls;
    char msg[512];
    vsnprintf (msg, sizeof msg, fmt, ap);
    size_t n = strlen (msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    if (!atomic_load (&self->started)) /* kept for the reason of a failed start */
        snprintf (self->start_error, sizeof self->start_error, "%s", msg);
    log_warn ("HTTP server", "hub=%s error=%s", log_q (self->config->hub_id), log_q (msg));
}

http_t *
http_start (const hub_config_t *config, const workflow_set_t *set, store_t *store,
            char *err, size_t errlen)
{
    http_address_t address;
    if (!http_address_parse (config->http, &address, err, errlen))
        return NULL;
    http_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->config = config;
    self->set = set;
    self->store = store;
    self->loopback = address.loopback;
    pthread_mutex_init (&self->stats_lock, NULL);
    pthread_mutex_init (&self->db_lock, NULL);
    pthread_mutex_init (&self->token_lock, NULL);
    pthread_mutex_init (&self->page_lock, NULL);
    pthread_mutex_init (&self->log_lock, NULL);
    strbuf_init (&self->db_gauges);
    self->stats.hub_id = config->hub_id;
    self->stats.started_ms = clock_now_ms ();
    if (*config->http_token_file) {
        if (!token_read (config->http_token_file, self->token, sizeof self->token,
                         &self->token_st, err, errlen)) {
            http_stop (&self);
            return NULL;
        }
        self->token_checked_ms = clock_mono_ms ();
    }
    unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD
                         | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (address.addr.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    uint16_t port = address.addr.ss_family == AF_INET6
                        ? ntohs (((struct sockaddr_in6 *) &address.addr)->sin6_port)
                        : ntohs (((struct sockaddr_in *) &address.addr)->sin_port);
    self->daemon = MHD_start_daemon (
        flags, port, NULL, NULL, answer, self, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, self,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &address.addr,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 64, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        (unsigned int) 16, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 30,
        MHD_OPTION_END);
    atomic_store (&self->started, true);
    if (!self->daemon) {
        snprintf (err, errlen, "cannot serve HTTP on %s: %s", config->http,
                  *self->start_error ? self->start_error
                                     : "libmicrohttpd refused to start");
        http_stop (&self);
        return NULL;
    }
    return self;
}

void
http_publish (http_t *self, const hub_status_t *status)
{
    if (!self)
        return;
    pthread_mutex_lock (&self->stats_lock);
    self->stats = *status;
    pthread_mutex_unlock (&self->stats_lock);
}

void
http_stop (http_t **self_p)
{
    http_t *self = *self_p;
    if (!self)
        return;
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    if (self->db)
        PQfinish (self->db);
    if (self->page_db)
        PQfinish (self->page_db);
    strbuf_free (&self->db_gauges);
    memset (self->token, 0, sizeof self->token);
    pthread_mutex_destroy (&self->stats_lock);
    pthread_mutex_destroy (&self->db_lock);
    pthread_mutex_destroy (&self->token_lock);
    pthread_mutex_destroy (&self->page_lock);
    pthread_mutex_destroy (&self->log_lock);
    free (self);
    *self_p = NULL;
}
