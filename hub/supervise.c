/*  supervise: deadlines, warnings and expiry, see supervise.h. */
#include "supervise.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "clock.h"
#include "db.h"
#include "log.h"
#include "worker.h"
#include "migrate.h"

#define CLAIM_LIMIT "1000" /* rows marked per statement; the rest next round */

struct supervise {
    worker_t *worker;           /* the thread and its pipe */
    const hub_config_t *config; /* settings, read-only */
};

/* Marks one kind of passed point (overdue or warning) and records breaches.
   Returns rows marked, or -1 when the statement failed. */
static int
mark (PGconn *conn, const hub_config_t *config, bool overdue)
{
    const char *sql =
        overdue
            ? "WITH due AS (SELECT instance_id, step FROM workflow_steps "
              "  WHERE due_at <= now() AND completed_at IS NULL AND overdue_at IS NULL "
              "    AND due_at IS NOT NULL AND required "
              "  ORDER BY due_at LIMIT " CLAIM_LIMIT " FOR UPDATE SKIP LOCKED), "
              "marked AS (UPDATE workflow_steps s SET overdue_at = now() FROM due "
              "  WHERE s.instance_id = due.instance_id AND s.step = due.step "
              "  RETURNING s.instance_id, s.step, s.agency, s.due_at), "
              "ins AS (INSERT INTO breaches (instance_id, step, agency, kind, due_at) "
              "  SELECT instance_id, step, agency, 'overdue', due_at FROM marked "
              "  ON CONFLICT (instance_id, step, kind) DO UPDATE SET due_at = "
              "  EXCLUDED.due_at, detected_at = now(), completed_at = NULL, "
              "  withdrawn_at = NULL, withdrawn_reason = NULL "
              "  WHERE breaches.withdrawn_at IS NOT NULL RETURNING 1) "
              "SELECT m.agency, m.step, i.workflow, i.key_value, "
              "  to_char(m.due_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'), "
              "  extract(epoch FROM now() - m.due_at)::bigint, (SELECT count(*) FROM ins) "
              "FROM marked m JOIN workflow_instances i ON i.id = m.instance_id"
            : "WITH due AS (SELECT instance_id, step FROM workflow_steps "
              "  WHERE warn_at <= now() AND completed_at IS NULL AND warned_at IS NULL "
              "    AND warn_at IS NOT NULL AND required "
              "  ORDER BY warn_at LIMIT " CLAIM_LIMIT " FOR UPDATE SKIP LOCKED), "
              "marked AS (UPDATE workflow_steps s SET warned_at = now() FROM due "
              "  WHERE s.instance_id = due.instance_id AND s.step = due.step "
              "  RETURNING s.instance_id, s.step, s.agency, s.due_at), "
              "ins AS (INSERT INTO breaches (instance_id, step, agency, kind, due_at) "
              "  SELECT instance_id, step, agency, 'warning', due_at FROM marked "
              "  ON CONFLICT (instance_id, step, kind) DO UPDATE SET due_at = "
              "  EXCLUDED.due_at, detected_at = now(), completed_at = NULL, "
              "  withdrawn_at = NULL, withdrawn_reason = NULL "
              "  WHERE breaches.withdrawn_at IS NOT NULL RETURNING 1) "
              "SELECT m.agency, m.step, i.workflow, i.key_value, "
              "  to_char(m.due_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI'), "
              "  extract(epoch FROM now() - m.due_at)::bigint, (SELECT count(*) FROM ins) "
              "FROM marked m JOIN workflow_instances i ON i.id = m.instance_id";
    PGresult *res = PQexec (conn, sql);
    if (PQresultStatus (res) != PGRES_TUPLES_OK) {
        log_warn ("supervision query failed", "hub=%s error=%s", log_q (config->hub_id),
                  log_q (PQresultErrorMessage (res)));
        PQclear (res);
        return -1;
    }
    int n = PQntuples (res);
    for (int i = 0; i < n; i++) {
        long long secs = atoll (PQgetvalue (res, i, 5));
        char due[80];
        snprintf (due, sizeof due, "%s +08", PQgetvalue (res, i, 4));
        if (overdue)
            log_warn ("step overdue (督办)",
                      "agency=%s step=%s workflow=%s key=%s due=%s late_s=%lld",
                      log_q (PQgetvalue (res, i, 0)), log_q (PQgetvalue (res, i, 1)),
                      log_q (PQgetvalue (res, i, 2)), log_q (PQgetvalue (res, i, 3)),
                      log_q (due), secs);
        else
            log_info ("step past its warning point (预警)",
                      "agency=%s step=%s workflow=%s key=%s due=%s left_s=%lld",
                      log_q (PQgetvalue (res, i, 0)), log_q (PQgetvalue (res, i, 1)),
                      log_q (PQgetvalue (res, i, 2)), log_q (PQgetvalue (res, i, 3)),
                      log_q (due), -secs);
    }
    PQclear (res);
    return n;
}

/* Marks parked events whose TTL passed. Returns rows marked or -1. */
static int
expire_unmatched (PGconn *conn, const hub_config_t *config)
{
    PGresult *res = PQexec (
        conn, "WITH due AS (SELECT event_id, key_kind, key_value FROM unmatched_events "
              "  WHERE expires_at <= now() AND expired_at IS NULL ORDER BY expires_at "
              "  LIMIT " CLAIM_LIMIT " FOR UPDATE SKIP LOCKED) "
              "UPDATE unmatched_events u SET expired_at = now() FROM due "
              "WHERE u.event_id = due.event_id AND u.key_kind = due.key_kind "
              "  AND u.key_value = due.key_value "
              "RETURNING u.agency, u.event_type, u.event_id, u.key_kind, u.key_value");
    if (PQresultStatus (res) != PGRES_TUPLES_OK) {
        log_warn ("expiry query failed", "hub=%s error=%s", log_q (config->hub_id),
                  log_q (PQresultErrorMessage (res)));
        PQclear (res);
        return -1;
    }
    int n = PQntuples (res);
    for (int i = 0; i < n; i++)
        log_warn ("unmatched event expired: no workflow took it in time",
                  "agency=%s event_type=%s event=%s %s=%s", log_q (PQgetvalue (res, i, 0)),
                  log_q (PQgetvalue (res, i, 1)), log_q (PQgetvalue (res, i, 2)),
                  PQgetvalue (res, i, 3), log_q (PQgetvalue (res, i, 4)));
    PQclear (res);
    return n;
}

static void
supervise_run (void *pipe, void *arg)
{
    supervise_t *self = arg;
    const hub_config_t *config = self->config;
    PGconn *conn = NULL;
    long wait_ms = 0;
    while (true) {
        zmq_pollitem_t item = {pipe, 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, wait_ms) > 0) {
            char b;
            if (zmq_recv (pipe, &b, 1, 0) == 0)
                break; /* stop */
        }
        wait_ms = config->supervise_interval_ms;
        if (!conn) {
            char err[512];
            if (!(conn = db_connect (config, "onenet-hub supervise")))
                continue;
            /* the schema first (the store thread may still be applying it) */
            if (migrate_apply (conn, err, sizeof err) < 0) {
                PQfinish (conn);
                conn = NULL;
                continue;
            }
        }
        /* keep marking while whole pages come back (a backlog after downtime) */
        int n;
        do {
            int64_t t0 = clock_mono_us ();
            n = mark (conn, config, true);
            int w = mark (conn, config, false);
            int x = expire_unmatched (conn, config);
            if (n < 0 || w < 0 || x < 0) {
                if (db_lost (conn)) {
                    PQfinish (conn);
                    conn = NULL;
                }
                break;
            }
            if (n + w + x > 0)
                log_info ("supervision sweep",
                          "hub=%s overdue=%d warnings=%d expired=%d ms=%.1f",
                          log_q (config->hub_id), n, w, x,
                          (double) (clock_mono_us () - t0) / 1000.0);
            n = n > w ? n : w;
            n = n > x ? n : x;
        } while (n >= atoi (CLAIM_LIMIT));
    }
    if (conn)
        PQfinish (conn);
}

supervise_t *
supervise_start (void *zmq_ctx, const hub_config_t *config, const char *pipe_endpoint)
{
    supervise_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = config;
    self->worker = worker_start (zmq_ctx, pipe_endpoint, supervise_run, self);
    if (!self->worker) {
        free (self);
        return NULL;
    }
    return self;
}

void
supervise_join (supervise_t **self_p)
{
    if (!*self_p)
        return;
    worker_join (&(*self_p)->worker);
    free (*self_p);
    *self_p = NULL;
}
