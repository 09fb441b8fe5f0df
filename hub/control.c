/*  control: live figures for hubctl status and metrics, and the agencies'
    vocabulary for hubctl workflows --vocabulary; see control.h. */
#include "control.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"

const double control_bucket_ms[CONTROL_BUCKETS] = {1,   2,   5,   10,   20,   50,
                                                   100, 200, 500, 1000, 5000, 1e300};

void
control_count_commit (hub_status_t *status, int64_t us)
{
    int b = 0;
    while (b < CONTROL_BUCKETS - 1 && (double) us / 1000.0 > control_bucket_ms[b])
        b++;
    status->commit_hist[b]++;
}

static void
status_json (const hub_status_t *s, strbuf_t *out)
{
    strbuf_puts (out, "{\"hub_id\":");
    strbuf_json_string (out, s->hub_id);
    strbuf_printf (out,
                   ",\"uptime_s\":%lld,\"store_available\":%s,\"events\":%llu,"
                   "\"stored\":%llu,\"duplicates\":%llu,\"rejected\":%llu,"
                   "\"conflicts\":%llu,\"retried\":%llu,"
                   "\"unreadable\":%llu,\"batches_refused\":%llu,\"batches\":%llu,\"events_per_s\":%.1f,"
                   "\"commit_avg_ms\":%.2f,\"pending_events\":%zu,\"committing\":%s,"
                   "\"commit_ms_histogram\":[",
                   (long long) ((clock_now_ms () - s->started_ms) / 1000),
                   s->store_up ? "true" : "false", (unsigned long long) s->events,
                   (unsigned long long) s->stored, (unsigned long long) s->duplicates,
                   (unsigned long long) s->rejected, (unsigned long long) s->conflicts,
                   (unsigned long long) s->retried, (unsigned long long) s->unreadable,
                   (unsigned long long) s->batches_refused, (unsigned long long) s->batches,
                   s->events_per_s,
                   s->batches ? (double) s->commit_us / 1000.0 / (double) s->batches : 0.0,
                   s->pending_rows, s->committing ? "true" : "false");
    for (int b = 0; b < CONTROL_BUCKETS; b++) {
        if (b < CONTROL_BUCKETS - 1)
            strbuf_printf (out, "%s{\"le_ms\":%g,\"count\":%llu}", b ? "," : "",
                           control_bucket_ms[b], (unsigned long long) s->commit_hist[b]);
        else
            strbuf_printf (out, ",{\"le_ms\":null,\"count\":%llu}",
                           (unsigned long long) s->commit_hist[b]);
    }
    strbuf_puts (out, "]}");
}

void
control_label_value (strbuf_t *out, const char *value)
{
    for (const char *p = value ? value : ""; *p; p++) {
        if (*p == '\\')
            strbuf_puts (out, "\\\\");
        else if (*p == '"')
            strbuf_puts (out, "\\\"");
        else if (*p == '\n')
            strbuf_puts (out, "\\n");
        else
            strbuf_putc (out, *p);
    }
}

static void
counter (strbuf_t *out, const char *name, const char *help, const char *hub,
         unsigned long long value)
{
    strbuf_printf (out, "# HELP %s %s\n# TYPE %s counter\n%s{hub=\"%s\"} %llu\n", name,
                   help, name, name, hub, value);
}

void
control_prometheus (const hub_status_t *s, strbuf_t *out)
{
    strbuf_t hub; /* the hub id as a label value */
    strbuf_init (&hub);
    control_label_value (&hub, s->hub_id);
    const char *h = hub.data ? hub.data : "";
    counter (out, "onenet_events_received_total", "Events read from adapters.", h,
             s->events);
    counter (out, "onenet_events_stored_total", "Events acknowledged STORED.", h,
             s->stored);
    counter (out, "onenet_events_duplicate_total", "Events acknowledged DUPLICATE.", h,
             s->duplicates);
    counter (out, "onenet_events_rejected_total", "Events acknowledged REJECTED.", h,
             s->rejected);
    counter (out, "onenet_events_conflict_total",
             "Events REJECTED as CONFLICT: their id was stored with other content.", h,
             s->conflicts);
    counter (out, "onenet_events_retry_total", "Events answered RETRY.", h, s->retried);
    counter (out, "onenet_messages_unreadable_total",
             "Messages that were not AdapterMessages.", h, s->unreadable);
    counter (out, "onenet_batches_refused_total",
             "EventBatches refused whole (LIMIT_EXCEEDED) before any event was read.", h,
             s->batches_refused);
    strbuf_printf (
        out,
        "# HELP onenet_store_available 1 when PostgreSQL is reachable.\n"
        "# TYPE onenet_store_available gauge\nonenet_store_available{hub=\"%s\"} "
        "%d\n",
        h, s->store_up ? 1 : 0);
    strbuf_printf (out,
                   "# HELP onenet_uptime_seconds Seconds since the hub started.\n"
                   "# TYPE onenet_uptime_seconds gauge\nonenet_uptime_seconds{hub=\"%s\"} "
                   "%lld\n",
                   h, (long long) ((clock_now_ms () - s->started_ms) / 1000));
    strbuf_printf (out, "# HELP onenet_batch_commit_seconds Time to commit one batch.\n"
                        "# TYPE onenet_batch_commit_seconds histogram\n");
    unsigned long long cumulative = 0;
    for (int b = 0; b < CONTROL_BUCKETS; b++) {
        cumulative += s->commit_hist[b];
        if (b < CONTROL_BUCKETS - 1)
            strbuf_printf (
                out, "onenet_batch_commit_seconds_bucket{hub=\"%s\",le=\"%g\"} %llu\n", h,
                control_bucket_ms[b] / 1000.0, cumulative);
        else
            strbuf_printf (
                out, "onenet_batch_commit_seconds_bucket{hub=\"%s\",le=\"+Inf\"} %llu\n", h,
                cumulative);
    }
    strbuf_printf (out, "onenet_batch_commit_seconds_sum{hub=\"%s\"} %.6f\n", h,
                   (double) s->commit_us / 1e6);
    strbuf_printf (out, "onenet_batch_commit_seconds_count{hub=\"%s\"} %llu\n", h,
                   (unsigned long long) s->batches);
    strbuf_free (&hub);
}

/* The requests that change something, and need a read-write key. */
static const char *const write_requests[] = {"reload-keys"};

control_action_t
control_answer (const hub_status_t *status, const char *request, size_t len,
                control_rights_t rights, const char *who, strbuf_t *reply)
{
    strbuf_reset (reply);
    bool is_write = false;
    for (size_t i = 0; i < sizeof write_requests / sizeof *write_requests; i++)
        if (len == strlen (write_requests[i]) && !memcmp (request, write_requests[i], len))
            is_write = true;
    if (rights == CONTROL_NONE || (is_write && rights != CONTROL_READ_WRITE)) {
        strbuf_t msg;
        strbuf_init (&msg);
        if (rights == CONTROL_NONE)
            strbuf_printf (&msg, "refused: the connection carries no operator key");
        else
            strbuf_printf (&msg,
                           "refused: \"%s\" needs a read-write operator key; the key of "
                           "\"%s\" is read-only",
                           write_requests[0], who);
        strbuf_puts (reply, "{\"error\":");
        strbuf_json_string (reply, msg.data);
        strbuf_puts (reply, "}");
        strbuf_free (&msg);
        return CONTROL_ANSWERED;
    }
    if (is_write)
        return CONTROL_DO_RELOAD_KEYS;
    if (len == 6 && memcmp (request, "status", 6) == 0)
        status_json (status, reply);
    else if (len == 7 && memcmp (request, "metrics", 7) == 0)
        control_prometheus (status, reply);
    else if (len == 10 && memcmp (request, "vocabulary", 10) == 0)
        strbuf_puts (reply, status->vocabulary ? status->vocabulary
                                               : "{\"error\":\"no vocabulary\"}");
    else
        strbuf_puts (reply, "{\"error\":\"unknown request: ask \\\"status\\\", "
                            "\\\"metrics\\\", \\\"vocabulary\\\" or "
                            "\\\"reload-keys\\\"\"}");
    return CONTROL_ANSWERED;
}
