/*  onenet-bench-rabbit: the broker design, for comparison with the hub.

    What a straightforward integration on RabbitMQ would do with the same
    events: K publishers (one connection and thread each) publish every
    event as a persistent message (delivery mode 2) to a durable queue,
    with publisher confirms and at most --window unconfirmed messages in
    flight each. One consumer takes them with a prefetch of --prefetch,
    gathers what has arrived (up to --batch messages), decodes them, COPYs
    them in one transaction into an events-shaped table (the event
    columns; the broker design keeps no hash chain), with --queue-table
    also their ids into a correlation_queue-shaped table, commits, and
    then acknowledges them to
    the broker at once (basic.ack multiple). An event is durable in the
    database at that commit: the latency of each event is from its publish
    to that commit, as the hub's is from the send to the acknowledgement
    that follows its commit.

    The messages carry the same event encodings as onenet-bench-sender's
    batches (whole property-transfer cases with --cases), each in a batch
    envelope of one event so that the consumer decodes them with the hub's
    codec; every message is encoded before the clock starts. The publish
    time (CLOCK_MONOTONIC microseconds) travels in the message's timestamp
    property. The queue is deleted and declared anew at the start:
    classic, or with --quorum a quorum queue.

    With --wait-go it prints "ready" once everything is encoded and
    connected and waits for a line on standard input. Prints one JSON line:
        {"events":..,"seconds":..,"rate":..,"p50_ms":..,"p99_ms":..,
         "max_ms":..,"commits":..,"start_us":..,"end_us":..}
    Exit status: 0 done, 1 the broker or the database failed, 2 usage. */
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <uuid/uuid.h>

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <libpq-fe.h>

#include "clock.h"
#include "codec.h"
#include "event_row.h"
#include "strbuf.h"

typedef struct {
    const char *host, *queue, *conninfo, *table, *queue_table;
    int port;
    long publishers, events, rate, window, prefetch, batch;
    bool quorum, cases;
} opts_t;

/* set when a publisher failed: the consumer stops waiting for its events */
static atomic_bool give_up;

typedef struct {
    const opts_t *o;
    long index;           /* publisher number */
    uint8_t **msgs;       /* pre-encoded messages */
    size_t *lens;         /* their lengths */
    pthread_barrier_t *ready, *go; /* all connected; all start together */
    bool failed;
} publisher_t;

typedef struct {
    const opts_t *o;
    pthread_barrier_t *ready, *go;
    double *lat;      /* publish -> commit, ms, one per event */
    size_t n_lat;
    long commits;
    int64_t end_us;   /* the last commit */
    bool failed;
} consumer_t;

static int
cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

/* A connection to the broker with channel 1 open, or NULL (said why). */
static amqp_connection_state_t
broker_open (const opts_t *o, const char *who)
{
    amqp_connection_state_t conn = amqp_new_connection ();
    amqp_socket_t *sock = amqp_tcp_socket_new (conn);
    if (!sock || amqp_socket_open (sock, o->host, o->port) != AMQP_STATUS_OK) {
        fprintf (stderr, "bench-rabbit: %s: cannot connect to the broker at %s:%d\n", who,
                 o->host, o->port);
        amqp_destroy_connection (conn);
        return NULL;
    }
    amqp_rpc_reply_t r =
        amqp_login (conn, "/", 0, 1 << 20, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest");
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        fprintf (stderr, "bench-rabbit: %s: login to %s:%d refused\n", who, o->host, o->port);
        amqp_destroy_connection (conn);
        return NULL;
    }
    amqp_channel_open (conn, 1);
    if (amqp_get_rpc_reply (conn).reply_type != AMQP_RESPONSE_NORMAL) {
        fprintf (stderr, "bench-rabbit: %s: cannot open a channel\n", who);
        amqp_destroy_connection (conn);
        return NULL;
    }
    return conn;
}

static void
broker_close (amqp_connection_state_t conn)
{
    amqp_channel_close (conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close (conn, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection (conn);
}

static bool
rpc_ok (amqp_connection_state_t conn, const char *what)
{
    amqp_rpc_reply_t r = amqp_get_rpc_reply (conn);
    if (r.reply_type == AMQP_RESPONSE_NORMAL)
        return true;
    if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
        r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_t *m = r.reply.decoded;
        fprintf (stderr, "bench-rabbit: %s: the broker said %u %.*s\n", what, m->reply_code,
                 (int) m->reply_text.len, (const char *) m->reply_text.bytes);
    } else
        fprintf (stderr, "bench-rabbit: %s failed (reply type %d)\n", what, r.reply_type);
    return false;
}

static void *
publish (void *arg)
{
    publisher_t *p = arg;
    const opts_t *o = p->o;
    char who[32];
    snprintf (who, sizeof who, "publisher %ld", p->index);
    amqp_connection_state_t conn = broker_open (o, who);
    if (conn) {
        amqp_confirm_select (conn, 1);
        if (!rpc_ok (conn, "confirm.select")) {
            broker_close (conn);
            conn = NULL;
        }
    }
    p->failed = !conn;
    pthread_barrier_wait (p->ready);
    pthread_barrier_wait (p->go);
    if (!conn) {
        give_up = true;
        return NULL;
    }
    /* confirmed[i]: message with delivery tag i + 1 is confirmed */
    bool *confirmed = calloc ((size_t) o->events, sizeof *confirmed);
    long next = 0, n_confirmed = 0, low = 0;
    int64_t t0 = clock_mono_us ();
    while (n_confirmed < o->events) {
        while (next < o->events && next - n_confirmed < o->window) {
            if (o->rate > 0 && clock_mono_us () < t0 + (int64_t) ((double) next * 1e6 / (double) o->rate))
                break;
            amqp_basic_properties_t props = {
                ._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_TIMESTAMP_FLAG,
                .delivery_mode = 2,
                .timestamp = (uint64_t) clock_mono_us ()};
            amqp_bytes_t body = {p->lens[next], p->msgs[next]};
            if (amqp_basic_publish (conn, 1, amqp_empty_bytes, amqp_cstring_bytes (o->queue),
                                    0, 0, &props, body) != AMQP_STATUS_OK) {
                fprintf (stderr, "bench-rabbit: %s: publish of message %ld failed\n", who,
                         next + 1);
                p->failed = true;
                goto out;
            }
            next++;
        }
        long wait_us = 1000000;
        if (o->rate > 0 && next < o->events && next - n_confirmed < o->window) {
            int64_t due = t0 + (int64_t) ((double) next * 1e6 / (double) o->rate);
            wait_us = (long) (due - clock_mono_us ());
            if (wait_us < 0)
                wait_us = 0;
        }
        struct timeval tv = {wait_us / 1000000, wait_us % 1000000};
        amqp_frame_t frame;
        int rc = amqp_simple_wait_frame_noblock (conn, &frame, &tv);
        if (rc == AMQP_STATUS_TIMEOUT)
            continue;
        if (rc != AMQP_STATUS_OK) {
            fprintf (stderr, "bench-rabbit: %s: connection lost waiting for confirms (%s)\n",
                     who, amqp_error_string2 (rc));
            p->failed = true;
            goto out;
        }
        if (frame.frame_type != AMQP_FRAME_METHOD)
            continue;
        if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) {
            fprintf (stderr, "bench-rabbit: %s: the broker refused a message (nack)\n", who);
            p->failed = true;
            goto out;
        }
        if (frame.payload.method.id != AMQP_BASIC_ACK_METHOD)
            continue;
        amqp_basic_ack_t *ack = frame.payload.method.decoded;
        long tag = (long) ack->delivery_tag;
        for (long t = ack->multiple ? low : tag - 1; t < tag && t < o->events; t++)
            if (!confirmed[t]) {
                confirmed[t] = true;
                n_confirmed++;
            }
        while (low < o->events && confirmed[low])
            low++;
    }
out:
    if (p->failed)
        give_up = true;
    free (confirmed);
    broker_close (conn);
    return NULL;
}

/* Appends the COPY row of the one event of message body (and its id to
   ids); false (said why) when it does not decode. */
static bool
add_row (strbuf_t *rows, strbuf_t *ids, strbuf_t *js, const void *body, size_t len,
         const char *received)
{
    char err[256] = "";
    codec_inbound_t *in = codec_inbound_decode (body, len, err, sizeof err);
    if (!in || codec_inbound_kind (in) != INBOUND_BATCH || codec_inbound_event_count (in) != 1
        || codec_inbound_event_problem (in, 0)) {
        fprintf (stderr, "bench-rabbit: consumer: a message does not hold one event: %s\n",
                 in && codec_inbound_event_count (in) ? codec_inbound_event_problem (in, 0)
                                                      : err);
        codec_inbound_destroy (&in);
        return false;
    }
    case_event_t e;
    codec_inbound_event (in, 0, &e);
    char occurred[40], accepted[40];
    clock_format_pg (e.occurred_at_ms, occurred, sizeof occurred);
    clock_format_pg (e.accepted_at_ms, accepted, sizeof accepted);
    strbuf_copy_field (rows, e.event_id, strlen (e.event_id));
    strbuf_copy_field (ids, e.event_id, strlen (e.event_id));
    strbuf_putc (ids, '\n');
    const char *texts[4] = {e.agency, e.adapter_id, e.case_no, e.event_type};
    for (int i = 0; i < 4; i++) {
        strbuf_putc (rows, '\t');
        strbuf_copy_field (rows, texts[i], strlen (texts[i]));
    }
    strbuf_printf (rows, "\t%s\t%s\t%s\t%u\t", occurred, e.accepted_at_ms ? accepted : "\\N",
                   received, e.schema_version);
    event_row_keys_json (js, &e);
    strbuf_copy_field (rows, js->data, js->len);
    strbuf_putc (rows, '\t');
    event_row_attrs_json (js, &e);
    strbuf_copy_field (rows, js->data, js->len);
    strbuf_puts (rows, "\tbench-rabbit\n");
    codec_inbound_destroy (&in);
    return true;
}

static bool
copy_in (PGconn *db, const char *sql, const strbuf_t *data)
{
    PGresult *res = PQexec (db, sql);
    bool ok = PQresultStatus (res) == PGRES_COPY_IN;
    PQclear (res);
    if (ok)
        ok = PQputCopyData (db, data->data, (int) data->len) == 1 && PQputCopyEnd (db, NULL) == 1;
    res = PQgetResult (db);
    ok = ok && PQresultStatus (res) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf (stderr, "bench-rabbit: consumer: %s: %s", sql, PQerrorMessage (db));
    PQclear (res);
    while ((res = PQgetResult (db)))
        PQclear (res);
    return ok;
}

static bool
exec_ok (PGconn *db, const char *sql)
{
    PGresult *res = PQexec (db, sql);
    bool ok = PQresultStatus (res) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf (stderr, "bench-rabbit: consumer: %s: %s", sql, PQerrorMessage (db));
    PQclear (res);
    return ok;
}

static void *
consume (void *arg)
{
    consumer_t *c = arg;
    const opts_t *o = c->o;
    long total = o->publishers * o->events;
    PGconn *db = PQconnectdb (o->conninfo);
    amqp_connection_state_t conn = NULL;
    if (PQstatus (db) != CONNECTION_OK)
        fprintf (stderr, "bench-rabbit: consumer: cannot connect to the database: %s",
                 PQerrorMessage (db));
    else if ((conn = broker_open (o, "consumer"))) {
        amqp_basic_qos (conn, 1, 0, (uint16_t) o->prefetch, 0);
        if (rpc_ok (conn, "basic.qos")) {
            amqp_basic_consume (conn, 1, amqp_cstring_bytes (o->queue), amqp_empty_bytes, 0, 0,
                                0, amqp_empty_table);
            if (!rpc_ok (conn, "basic.consume")) {
                broker_close (conn);
                conn = NULL;
            }
        }
    }
    c->failed = !conn;
    pthread_barrier_wait (c->ready);
    pthread_barrier_wait (c->go);
    if (!conn) {
        PQfinish (db);
        return NULL;
    }
    char copy_sql[512], queue_sql[512];
    snprintf (copy_sql, sizeof copy_sql,
              "COPY %s (event_id, agency, adapter_id, case_no, event_type, occurred_at, "
              "accepted_at, received_at, schema_version, keys, attrs, hub_id) FROM STDIN",
              o->table);
    snprintf (queue_sql, sizeof queue_sql, "COPY %s (event_id) FROM STDIN",
              o->queue_table ? o->queue_table : "");
    strbuf_t rows, ids, js;
    strbuf_init (&rows);
    strbuf_init (&ids);
    strbuf_init (&js);
    int64_t *sent = calloc ((size_t) o->batch, sizeof *sent);
    while ((long) c->n_lat < total && !c->failed && !give_up) {
        strbuf_reset (&rows);
        strbuf_reset (&ids);
        long n = 0;
        uint64_t last_tag = 0;
        char received[40];
        /* wait for one message, then take what has arrived, up to --batch */
        while (n < o->batch) {
            struct timeval tv = {n ? 0 : 1, 0};
            amqp_envelope_t env;
            amqp_maybe_release_buffers (conn);
            amqp_rpc_reply_t r = amqp_consume_message (conn, &env, &tv, 0);
            if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION
                && r.library_error == AMQP_STATUS_TIMEOUT)
                break;
            if (r.reply_type != AMQP_RESPONSE_NORMAL) {
                fprintf (stderr, "bench-rabbit: consumer: lost the broker after %zu events\n",
                         c->n_lat);
                c->failed = true;
                break;
            }
            if (n == 0)
                clock_format_pg (clock_now_ms (), received, sizeof received);
            sent[n] = (int64_t) env.message.properties.timestamp;
            last_tag = env.delivery_tag;
            bool ok = add_row (&rows, &ids, &js, env.message.body.bytes, env.message.body.len,
                               received);
            amqp_destroy_envelope (&env);
            if (!ok) {
                c->failed = true;
                break;
            }
            n++;
        }
        if (c->failed || n == 0)
            continue;
        if (!exec_ok (db, "BEGIN") || !copy_in (db, copy_sql, &rows)
            || (o->queue_table && !copy_in (db, queue_sql, &ids))
            || !exec_ok (db, "COMMIT")) {
            c->failed = true;
            break;
        }
        int64_t now = clock_mono_us ();
        for (long i = 0; i < n; i++)
            c->lat[c->n_lat++] = (double) (now - sent[i]) / 1000.0;
        c->commits++;
        c->end_us = now;
        if (amqp_basic_ack (conn, 1, last_tag, 1) != AMQP_STATUS_OK) {
            fprintf (stderr, "bench-rabbit: consumer: the ack of %ld messages failed\n", n);
            c->failed = true;
        }
    }
    free (sent);
    strbuf_free (&rows);
    strbuf_free (&ids);
    strbuf_free (&js);
    broker_close (conn);
    PQfinish (db);
    return NULL;
}

/* The messages of publisher p, each one event in a batch envelope. */
static void
encode (const opts_t *o, long p, uint8_t **msgs, size_t *lens)
{
    static const char *const steps[6][2] = {
        {"land", "transfer.accepted"},    {"tax", "deed_tax.assessed"},
        {"tax", "deed_tax.paid"},         {"land", "transfer.registered"},
        {"power", "account.transferred"}, {"water", "account.transferred"}};
    char adapter_id[32];
    snprintf (adapter_id, sizeof adapter_id, "rabbit-%ld", p);
    int64_t now_ms = clock_now_ms ();
    long unit_base = p * o->events;
    for (long made = 0; made < o->events; made++) {
        char id[37], case_no[64], unit[64];
        uuid_t u;
        uuid_generate_random (u);
        uuid_unparse_lower (u, id);
        snprintf (case_no, sizeof case_no, "PY-BDC-%s-%08ld", adapter_id, made);
        long unit_no = unit_base + (o->cases ? made / 6 : made);
        snprintf (unit, sizeof unit, "640425%03ld%03ldGB%05ldF%08ld", (unit_no / 1000) % 1000,
                  unit_no % 1000, unit_no % 100000, unit_no % 100000000);
        event_key_t key = {KEY_UNIT_NUMBER, unit};
        event_attr_t attrs[3] = {
            {.name = "transfer_kind", .type = ATTR_TEXT, .text = "二手房买卖"},
            {.name = "deed_tax_yuan", .type = ATTR_NUMBER, .number = 12345.5},
            {.name = "has_mortgage", .type = ATTR_FLAG, .flag = made % 3 == 0}};
        case_event_t e = {.schema_version = 1,
                          .event_id = id,
                          .agency = o->cases ? steps[made % 6][0] : "land",
                          .adapter_id = adapter_id,
                          .case_no = case_no,
                          .event_type = o->cases ? steps[made % 6][1] : "transfer.accepted",
                          .occurred_at_ms = now_ms - 3600000 + made % 3600000
                                            + (o->cases ? (made % 6) * 60000 : 0),
                          .accepted_at_ms = now_ms,
                          .n_keys = 1,
                          .keys = &key,
                          .n_attrs = 3,
                          .attrs = attrs};
        size_t len;
        uint8_t *ev = codec_event_encode (&e, &len);
        msgs[made] = codec_batch_encode ((uint64_t) made + 1, adapter_id, "",
                                         (const uint8_t *const *) &ev, &len, 1, &lens[made]);
        free (ev);
    }
}

static void
usage (void)
{
    fprintf (stderr,
             "usage: onenet-bench-rabbit --port PORT --db CONNINFO --table T [--queue-table Q]\n"
             "       [--host H] [--queue NAME] [--quorum] [--publishers K] [--events N]\n"
             "       [--rate EV_PER_S] [--window N] [--prefetch N] [--batch N] [--cases]\n"
             "       [--wait-go]\n");
}

int
main (int argc, char **argv)
{
    opts_t o = {.host = "127.0.0.1", .queue = "onenet-bench", .publishers = 4,
                .events = 100000, .window = 4000, .prefetch = 4000, .batch = 2000};
    int wait_go = 0;
    static struct option opts[] = {
        {"host", required_argument, 0, 'H'},       {"port", required_argument, 0, 'P'},
        {"queue", required_argument, 0, 'q'},      {"quorum", no_argument, 0, 'Q'},
        {"db", required_argument, 0, 'd'},         {"table", required_argument, 0, 't'},
        {"queue-table", required_argument, 0, 'T'}, {"publishers", required_argument, 0, 'k'},
        {"events", required_argument, 0, 'n'},     {"rate", required_argument, 0, 'r'},
        {"window", required_argument, 0, 'w'},     {"prefetch", required_argument, 0, 'p'},
        {"batch", required_argument, 0, 'b'},      {"cases", no_argument, 0, 'c'},
        {"wait-go", no_argument, 0, 'g'},          {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'H': o.host = optarg; break;
        case 'P': o.port = atoi (optarg); break;
        case 'q': o.queue = optarg; break;
        case 'Q': o.quorum = true; break;
        case 'd': o.conninfo = optarg; break;
        case 't': o.table = optarg; break;
        case 'T': o.queue_table = optarg; break;
        case 'k': o.publishers = atol (optarg); break;
        case 'n': o.events = atol (optarg); break;
        case 'r': o.rate = atol (optarg); break;
        case 'w': o.window = atol (optarg); break;
        case 'p': o.prefetch = atol (optarg); break;
        case 'b': o.batch = atol (optarg); break;
        case 'c': o.cases = true; break;
        case 'g': wait_go = 1; break;
        default: usage (); return 2;
        }
    }
    if (!o.port || !o.conninfo || !o.table || o.publishers <= 0
        || o.events <= 0 || o.window <= 0 || o.prefetch <= 0 || o.prefetch > 65535
        || o.batch <= 0) {
        usage ();
        return 2;
    }

    /* the queue, anew */
    amqp_connection_state_t admin = broker_open (&o, "setup");
    if (!admin)
        return 1;
    amqp_queue_delete (admin, 1, amqp_cstring_bytes (o.queue), 0, 0);
    if (!rpc_ok (admin, "queue.delete"))
        return 1;
    amqp_table_entry_t kind = {amqp_cstring_bytes ("x-queue-type"),
                               {AMQP_FIELD_KIND_UTF8, {.bytes = amqp_cstring_bytes ("quorum")}}};
    amqp_table_t args = {o.quorum ? 1 : 0, &kind};
    amqp_queue_declare (admin, 1, amqp_cstring_bytes (o.queue), 0, 1, 0, 0, args);
    if (!rpc_ok (admin, o.quorum ? "declaring a quorum queue" : "declaring a durable queue"))
        return 1;

    long total = o.publishers * o.events;
    publisher_t *pubs = calloc ((size_t) o.publishers, sizeof *pubs);
    for (long p = 0; p < o.publishers; p++) {
        pubs[p].msgs = calloc ((size_t) o.events, sizeof *pubs[p].msgs);
        pubs[p].lens = calloc ((size_t) o.events, sizeof *pubs[p].lens);
        encode (&o, p, pubs[p].msgs, pubs[p].lens);
    }
    pthread_barrier_t ready, go;
    pthread_barrier_init (&ready, NULL, (unsigned) o.publishers + 2);
    pthread_barrier_init (&go, NULL, (unsigned) o.publishers + 2);
    consumer_t cons = {.o = &o, .ready = &ready, .go = &go,
                       .lat = calloc ((size_t) total, sizeof (double))};
    /* each thread connects, then meets the others at "ready"; all start
       at "go" */
    pthread_t ct, *pt = calloc ((size_t) o.publishers, sizeof *pt);
    pthread_create (&ct, NULL, consume, &cons);
    for (long p = 0; p < o.publishers; p++) {
        pubs[p] = (publisher_t){&o, p, pubs[p].msgs, pubs[p].lens, &ready, &go, false};
        pthread_create (&pt[p], NULL, publish, &pubs[p]);
    }
    pthread_barrier_wait (&ready); /* everyone connected (or failed) */
    if (wait_go) {
        char line[16];
        printf ("ready\n");
        fflush (stdout);
        if (!fgets (line, sizeof line, stdin))
            fprintf (stderr, "bench-rabbit: standard input closed before the start\n");
    }
    int64_t t0 = clock_mono_us ();
    pthread_barrier_wait (&go);
    bool failed = false;
    for (long p = 0; p < o.publishers; p++) {
        pthread_join (pt[p], NULL);
        failed = failed || pubs[p].failed;
    }
    pthread_join (ct, NULL);
    failed = failed || cons.failed;
    broker_close (admin);
    if (failed || (long) cons.n_lat != total) {
        fprintf (stderr, "bench-rabbit: %zu of %ld events committed\n", cons.n_lat, total);
        return 1;
    }
    double seconds = (double) (cons.end_us - t0) / 1e6;
    qsort (cons.lat, cons.n_lat, sizeof *cons.lat, cmp_double);
    printf ("{\"events\":%ld,\"seconds\":%.3f,\"rate\":%.0f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,"
            "\"max_ms\":%.2f,\"commits\":%ld,\"start_us\":%lld,\"end_us\":%lld}\n",
            total, seconds, (double) total / seconds, cons.lat[cons.n_lat / 2],
            cons.lat[(size_t) ((double) cons.n_lat * 0.99)], cons.lat[cons.n_lat - 1],
            cons.commits, (long long) t0, (long long) cons.end_us);
    return 0;
}
