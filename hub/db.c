/*  db: shared PostgreSQL helpers, see db.h.

    The watch over the connections. A PostgreSQL server whose processes are
    frozen (SIGSTOP, a hung disk under the postmaster) still has a live
    kernel: it acknowledges every TCP segment and keepalive, so neither
    keepalives nor tcp_user_timeout ever end a connection to it, and a
    thread blocked in libpq waits for its answer forever. Under Patroni
    that hub would never move to the promoted standby. So every connection
    db_connect makes is watched by one thread: once a connection has
    received nothing for WATCH_SILENT_MS, the server it is connected to is
    pinged (PQpingParams: a fresh connection attempt, bounded by the
    conninfo's connect_timeout). A server that answers is working, however
    long its statement takes (a migration, a lock wait, a commit waiting
    for its synchronous standby), and is left alone. A server that does not
    answer has stopped: the socket of every silent connection to it is shut
    down, the blocked libpq call returns with the connection lost, and the
    thread reconnects as after any other loss, through the conninfo's host
    list to whichever server is now the primary. The watch keeps its own
    duplicate of each socket, so a descriptor it shuts down is never one
    that libpq closed and the process reused. */
#include "db.h"

#include <netinet/in.h>
#include <stddef.h>
#include <libpq-events.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_received (glibc's lacks it) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define WATCH_SILENT_MS 5000 /* a connection silent this long: is its server there? */
#define WATCH_TICK_MS   500
#define WATCH_SLOTS     64 /* a hub has a handful of connections */

typedef struct {
    const PGconn *conn;           /* identity only: never used by the watch */
    int fd;                       /* our duplicate of its socket; -1: slot free */
    const hub_config_t *config;   /* for the ping's conninfo */
    char thread[64];              /* for the log */
    char host[256], hostaddr[64], port[16];
    unsigned long long rx;        /* bytes received when last looked at */
    int64_t heard_ms;             /* when rx last moved (monotonic) */
} watch_t;

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_wake; /* signalled to stop the watch (at exit) */
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static pthread_t s_thread;
static watch_t s_watch[WATCH_SLOTS];
static bool s_running, s_stop;
static int s_start_error; /* pthread_create's, when the watch did not start */

/* Bytes received so far on a TCP socket; false when it is not TCP. */
static bool
bytes_received (int fd, unsigned long long *rx)
{
    struct tcp_info info;
    socklen_t len = sizeof info;
    memset (&info, 0, sizeof info);
    if (getsockopt (fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0
        || len < offsetof (struct tcp_info, tcpi_bytes_received) + sizeof info.tcpi_bytes_received)
        return false;
    *rx = info.tcpi_bytes_received;
    return true;
}

/* Does the server answer a new connection? Only "no response" counts as
   gone: a refusal (too many clients, starting up, shutting down) is an
   answer. */
static bool
server_answers (const watch_t *w)
{
    char name[192];
    snprintf (name, sizeof name, "onenet-hub watch (%s)", w->config->hub_id);
    /* the conninfo first (its connect_timeout wins), then this one server */
    const char *keys[] = {"connect_timeout", "application_name", "dbname", "host", "hostaddr",
                          "port", "target_session_attrs", NULL};
    const char *vals[] = {"5", name, w->config->db, w->host, w->hostaddr, w->port, "any", NULL};
    return PQpingParams (keys, vals, 1) != PQPING_NO_RESPONSE;
}

static void *
watch_run (void *arg)
{
    (void) arg;
    int64_t pinged_ms = 0;
    int first = 0; /* where the search for a silent connection starts: in turn */
    while (true) {
        struct timespec until;
        clock_gettime (CLOCK_MONOTONIC, &until);
        until.tv_nsec += WATCH_TICK_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_mutex_lock (&s_lock);
        while (!s_stop && pthread_cond_timedwait (&s_wake, &s_lock, &until) == 0)
            ;
        if (s_stop) {
            pthread_mutex_unlock (&s_lock);
            return NULL;
        }
        int64_t now = clock_mono_ms ();
        watch_t suspect = {.fd = -1};
        first = (first + 1) % WATCH_SLOTS;
        for (int k = 0; k < WATCH_SLOTS; k++) {
            watch_t *w = &s_watch[(first + k) % WATCH_SLOTS];
            unsigned long long rx;
            if (w->fd < 0 || !bytes_received (w->fd, &rx))
                continue;
            if (rx != w->rx) {
                w->rx = rx;
                w->heard_ms = now;
            }
            else if (now - w->heard_ms >= WATCH_SILENT_MS && suspect.fd < 0)
                suspect = *w;
        }
        pthread_mutex_unlock (&s_lock);
        /* one ping at a time, at most one every WATCH_SILENT_MS */
        if (suspect.fd < 0 || now - pinged_ms < WATCH_SILENT_MS)
            continue;
        pinged_ms = now;
        if (server_answers (&suspect))
            continue;
        now = clock_mono_ms ();
        pthread_mutex_lock (&s_lock);
        for (int i = 0; i < WATCH_SLOTS; i++) {
            watch_t *w = &s_watch[i];
            unsigned long long rx;
            if (w->fd < 0 || strcmp (w->host, suspect.host) != 0
                || strcmp (w->hostaddr, suspect.hostaddr) != 0
                || strcmp (w->port, suspect.port) != 0 || !bytes_received (w->fd, &rx)
                || rx != w->rx || now - w->heard_ms < WATCH_SILENT_MS)
                continue;
            log_warn ("the database server stopped answering; giving up the connection",
                      "hub=%s thread=%s server=%s port=%s silent_ms=%lld",
                      log_q (w->config->hub_id), log_q (w->thread),
                      log_q (*w->hostaddr ? w->hostaddr : w->host), log_q (w->port),
                      (long long) (now - w->heard_ms));
            shutdown (w->fd, SHUT_RDWR);
            w->heard_ms = now; /* once; the thread's own call fails now */
        }
        pthread_mutex_unlock (&s_lock);
    }
    return NULL;
}

/* At exit: the watch ends and is joined (it holds nothing then). */
static void
watch_stop (void)
{
    pthread_mutex_lock (&s_lock);
    s_stop = true;
    pthread_cond_signal (&s_wake);
    pthread_mutex_unlock (&s_lock);
    pthread_join (s_thread, NULL);
}

static void
watch_start (void)
{
    for (int i = 0; i < WATCH_SLOTS; i++)
        s_watch[i].fd = -1;
    pthread_condattr_t attr;
    pthread_condattr_init (&attr);
    pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
    pthread_cond_init (&s_wake, &attr);
    pthread_condattr_destroy (&attr);
    s_start_error = pthread_create (&s_thread, NULL, watch_run, NULL);
    s_running = s_start_error == 0;
    if (s_running)
        atexit (watch_stop);
}

/* libpq calls this when the connection is freed (PQfinish): the slot and
   our duplicate of the socket go with it. */
static int
on_event (PGEventId id, void *event_info, void *arg)
{
    (void) arg;
    if (id != PGEVT_CONNDESTROY)
        return 1;
    const PGconn *conn = ((PGEventConnDestroy *) event_info)->conn;
    pthread_mutex_lock (&s_lock);
    for (int i = 0; i < WATCH_SLOTS; i++)
        if (s_watch[i].fd >= 0 && s_watch[i].conn == conn) {
            close (s_watch[i].fd);
            s_watch[i].fd = -1;
            s_watch[i].conn = NULL;
        }
    pthread_mutex_unlock (&s_lock);
    return 1;
}

/* Puts a connection under the watch (TCP connections only). */
static void
watch (PGconn *conn, const hub_config_t *config, const char *thread)
{
    pthread_once (&s_once, watch_start);
    if (!s_running) {
        pthread_mutex_lock (&s_lock);
        static bool said;
        if (!said)
            log_error ("could not start the database connection watch", "hub=%s error=%s",
                       log_q (config->hub_id), log_q (strerror (s_start_error)));
        said = true;
        pthread_mutex_unlock (&s_lock);
        return;
    }
    unsigned long long rx;
    if (PQsocket (conn) < 0 || !bytes_received (PQsocket (conn), &rx))
        return;
    if (!PQregisterEventProc (conn, on_event, "onenet-watch", NULL))
        return;
    pthread_mutex_lock (&s_lock);
    int i = 0;
    while (i < WATCH_SLOTS && s_watch[i].fd >= 0)
        i++;
    int fd = i < WATCH_SLOTS ? dup (PQsocket (conn)) : -1;
    if (fd >= 0) {
        watch_t *w = &s_watch[i];
        memset (w, 0, sizeof *w);
        w->conn = conn;
        w->fd = fd;
        w->config = config;
        snprintf (w->thread, sizeof w->thread, "%s", thread);
        snprintf (w->host, sizeof w->host, "%s", PQhost (conn) ? PQhost (conn) : "");
        snprintf (w->hostaddr, sizeof w->hostaddr, "%s",
                  PQhostaddr (conn) ? PQhostaddr (conn) : "");
        snprintf (w->port, sizeof w->port, "%s", PQport (conn) ? PQport (conn) : "");
        w->rx = rx;
        w->heard_ms = clock_mono_ms ();
    }
    pthread_mutex_unlock (&s_lock);
}

/* PostgreSQL notices go to the log, one line each, not raw to stderr. */
static void
on_notice (void *arg, const char *message)
{
    const char *thread = arg;
    log_debug ("notice from PostgreSQL", "thread=%s notice=%s", log_q (thread),
               log_q (message));
}

PGconn *
db_connect_why (const hub_config_t *config, const char *application_name, bool quiet,
                char *why, size_t whylen)
{
    /* defaults first: anything in the configured string overrides them.
       tcp_user_timeout ends a connection whose sent data a vanished
       machine never acknowledges; the watch above covers a frozen one */
    const char *keys[] = {"connect_timeout",
                          "application_name",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          "dbname",
                          NULL};
    /* the hub id in the name tells several hubs' backends apart in
       pg_stat_activity (PostgreSQL keeps its first 63 bytes of it) */
    char name[192];
    snprintf (name, sizeof name, "%s (%s)", application_name, config->hub_id);
    const char *vals[] = {"5", name, "10", "3", "3", "10000", config->db, NULL};
    PGconn *conn = PQconnectdbParams (keys, vals, 1);
    if (PQstatus (conn) != CONNECTION_OK) {
        char msg[512];
        snprintf (msg, sizeof msg, "%s", PQerrorMessage (conn));
        if (!quiet)
            log_warn ("could not connect to PostgreSQL", "hub=%s thread=%s error=%s",
                      log_q (config->hub_id), log_q (application_name), log_q (msg));
        if (why && whylen)
            snprintf (why, whylen, "%s", msg);
        PQfinish (conn);
        return NULL;
    }
    PQsetNoticeProcessor (conn, on_notice, (void *) application_name);
    watch (conn, config, application_name);
    return conn;
}

PGconn *
db_connect (const hub_config_t *config, const char *application_name)
{
    return db_connect_why (config, application_name, false, NULL, 0);
}

bool
db_exec (PGconn *conn, const char *sql, const char *what)
{
    PGresult *res = PQexec (conn, sql);
    bool ok =
        PQresultStatus (res) == PGRES_COMMAND_OK || PQresultStatus (res) == PGRES_TUPLES_OK;
    if (!ok)
        log_warn ("statement failed", "what=%s error=%s", log_q (what),
                  log_q (PQresultErrorMessage (res)));
    PQclear (res);
    return ok;
}

char *
db_one_line (char *s)
{
    char *out = s;
    bool space = true; /* drops leading white space */
    for (const char *p = s; *p; p++) {
        if (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') {
            if (!space)
                *out++ = ' ';
            space = true;
        }
        else {
            *out++ = *p;
            space = false;
        }
    }
    if (out > s && out[-1] == ' ')
        out--;
    *out = '\0';
    return s;
}

bool
db_lost (PGconn *conn)
{
    return PQstatus (conn) == CONNECTION_BAD;
}
