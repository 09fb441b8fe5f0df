/*  onenet-bench-sender: a load generator that speaks the adapter protocol.

    Sends N synthetic case events (valid ids, keys and attributes) to a hub
    (with --cases, whole property transfers: six events of land, tax, power
    and water sharing a unit number, as a county produces them; with
    --skip-start the five after transfer.accepted, for cases already open;
    unit numbers go from --unit-base in steps of --unit-stride, 0 keeping
    every case on one unit; with --case-spacing-ms the cases follow each
    other from --time-base-ms, each under its own case number, as the sales
    of one unit do, where by default they overlap)
    over a DEALER socket, in batches, with a window of batches in flight,
    optionally paced at a fixed rate, and measures for every event the time
    from its batch's send to its acknowledgement. It has no outbox: it
    measures the hub, not the adapter's disk. Every batch is encoded before
    the clock starts. With --wait-go it then prints "ready" and waits for a
    line on standard input, so that several senders start together once all
    of them have encoded. Prints one JSON line:
        {"events":..,"seconds":..,"rate":..,"p50_ms":..,"p99_ms":..,
         "max_ms":..,"stored":..,"duplicate":..,"rejected":..,"retry":..,
         "start_us":..,"end_us":..}
    start_us and end_us are CLOCK_MONOTONIC microseconds of the first send
    and the last acknowledgement, comparable between processes.
    Used by tests/bench/bench_ingest.py. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>
#include <zmq.h>

#include "clock.h"
#include "codec.h"
#include "ident.h"

typedef struct {
    uint64_t seq;    /* batch_seq */
    int64_t sent_us; /* monotonic send time */
    size_t n;        /* events */
    bool used;       /* slot in use */
} slot_t;

static int
cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static void
usage (void)
{
    fprintf (stderr,
             "usage: onenet-bench-sender --hub ENDPOINT [--events N] [--rate EV_PER_S]\n"
             "       [--batch N] [--window N] [--agency A] [--adapter-id ID] [--cases]\n"
             "       [--unit-base N] [--unit-stride S] [--skip-start]\n"
             "       [--no-mortgage] [--case-spacing-ms MS --time-base-ms MS] [--wait-go]\n");
}

int
main (int argc, char **argv)
{
    const char *hub = NULL, *agency = "land", *adapter_id = "bench";
    long events = 100000, rate = 0, batch = 500, window = 8;
    int cases = 0;      /* --cases: events form property-transfer cases */
    long unit_base = 0; /* --unit-base: first unit number, so senders do not share cases */
    int wait_go = 0;    /* --wait-go: "ready", then wait for a line on stdin */
    long unit_stride = 1; /* --unit-stride: unit numbers base, base + S, ... (0: one unit) */
    int no_mortgage = 0;  /* --no-mortgage: has_mortgage false throughout */
    int skip_start = 0;   /* --skip-start: cases without transfer.accepted, which joins
                             instances that are already open */
    long spacing_ms = 0;  /* --case-spacing-ms: case k starts at the base + k x this */
    long long base_ms = 0; /* --time-base-ms: when the first case starts */
    static struct option opts[] = {
        {"hub", required_argument, 0, 'h'},        {"events", required_argument, 0, 'n'},
        {"rate", required_argument, 0, 'r'},       {"batch", required_argument, 0, 'b'},
        {"window", required_argument, 0, 'w'},     {"agency", required_argument, 0, 'a'},
        {"adapter-id", required_argument, 0, 'i'}, {"cases", no_argument, 0, 'c'},
        {"unit-base", required_argument, 0, 'u'},  {"wait-go", no_argument, 0, 'g'},
        {"unit-stride", required_argument, 0, 's'}, {"skip-start", no_argument, 0, 'k'},
        {"no-mortgage", no_argument, 0, 'm'},      {"case-spacing-ms", required_argument, 0, 'p'},
        {"time-base-ms", required_argument, 0, 't'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'h': hub = optarg; break;
        case 'n': events = atol (optarg); break;
        case 'r': rate = atol (optarg); break;
        case 'b': batch = atol (optarg); break;
        case 'w': window = atol (optarg); break;
        case 'a': agency = optarg; break;
        case 'i': adapter_id = optarg; break;
        case 'c': cases = 1; break;
        case 'u': unit_base = atol (optarg); break;
        case 'g': wait_go = 1; break;
        case 's': unit_stride = atol (optarg); break;
        case 'k': skip_start = 1; break;
        case 'm': no_mortgage = 1; break;
        case 'p': spacing_ms = atol (optarg); break;
        case 't': base_ms = atoll (optarg); break;
        default: usage (); return 2;
        }
    }
    if (!hub || events <= 0 || batch <= 0 || window <= 0 || unit_stride < 0
        || spacing_ms < 0 || (spacing_ms && (!cases || !base_ms))) {
        usage ();
        return 2;
    }

    /* pre-encode every batch so generation does not count */
    size_t n_batches = (size_t) ((events + batch - 1) / batch);
    uint8_t **msgs = calloc (n_batches, sizeof *msgs);
    size_t *msg_lens = calloc (n_batches, sizeof *msg_lens);
    size_t *msg_counts = calloc (n_batches, sizeof *msg_counts);
    uint8_t **ev = calloc ((size_t) batch, sizeof *ev);
    size_t *ev_lens = calloc ((size_t) batch, sizeof *ev_lens);
    int64_t now_ms = clock_now_ms ();
    long made = 0;
    for (size_t b = 0; b < n_batches; b++) {
        size_t n = 0;
        for (; n < (size_t) batch && made < events; n++, made++) {
            char id[37], case_no[64], unit[64];
            uuid_t u;
            uuid_generate_random (u);
            uuid_unparse_lower (u, id);
            long per_case = skip_start ? 5 : 6, step = made % per_case + (skip_start ? 1 : 0);
            if (spacing_ms) /* the land registry's case number, one per case */
                snprintf (case_no, sizeof case_no, "PY-BDC-%s-C%08ld", adapter_id,
                          made / per_case);
            else
                snprintf (case_no, sizeof case_no, "PY-BDC-%s-%08ld", adapter_id, made);
            /* a case: land accepts, tax assesses and collects, land registers,
               power and water transfer the accounts */
            static const char *const steps[6][2] = {
                {"land", "transfer.accepted"},    {"tax", "deed_tax.assessed"},
                {"tax", "deed_tax.paid"},         {"land", "transfer.registered"},
                {"power", "account.transferred"}, {"water", "account.transferred"}};
            long unit_no = unit_base + (cases ? made / per_case : made) * unit_stride;
            const char *ev_agency = cases ? steps[step][0] : agency;
            const char *ev_type = cases ? steps[step][1] : "transfer.accepted";
            snprintf (unit, sizeof unit, "640425%03ld%03ldGB%05ldF%08ld",
                      (unit_no / 1000) % 1000, unit_no % 1000, unit_no % 100000,
                      unit_no % 100000000);
            event_key_t key = {KEY_UNIT_NUMBER, unit};
            event_attr_t attrs[3] = {
                {.name = "transfer_kind", .type = ATTR_TEXT, .text = "二手房买卖"},
                {.name = "deed_tax_yuan", .type = ATTR_NUMBER, .number = 12345.5},
                {.name = "has_mortgage", .type = ATTR_FLAG, .flag = !no_mortgage && made % 3 == 0}};
            case_event_t e = {.schema_version = 1,
                              .event_id = id,
                              .agency = ev_agency,
                              .adapter_id = adapter_id,
                              .case_no = case_no,
                              .event_type = ev_type,
                              .occurred_at_ms =
                                  spacing_ms ? base_ms + (made / per_case) * spacing_ms
                                                   + step * 10000
                                             : now_ms - 3600000 + made % 3600000
                                                   + (cases ? step * 60000 : 0),
                              .accepted_at_ms = now_ms,
                              .n_keys = 1,
                              .keys = &key,
                              .n_attrs = 3,
                              .attrs = attrs};
            ev[n] = codec_event_encode (&e, &ev_lens[n]);
        }
        msgs[b] =
            codec_batch_encode (b + 1, adapter_id, cases ? "" : agency,
                                (const uint8_t *const *) ev, ev_lens, n, &msg_lens[b]);
        msg_counts[b] = n;
        for (size_t i = 0; i < n; i++)
            free (ev[i]);
    }

    void *ctx = zmq_ctx_new ();
    void *sock = zmq_socket (ctx, ZMQ_DEALER);
    int zero = 0, hwm = 0;
    zmq_setsockopt (sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt (sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt (sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_connect (sock, hub) != 0) {
        fprintf (stderr, "bench: could not connect to %s\n", hub);
        return 1;
    }
    slot_t *slots = calloc ((size_t) window, sizeof *slots);
    double *lat = calloc ((size_t) events, sizeof *lat);
    size_t n_lat = 0, next = 0, open = 0;
    uint64_t count[5] = {0};
    if (wait_go) {
        char line[16];
        printf ("ready\n");
        fflush (stdout);
        if (!fgets (line, sizeof line, stdin)) {
            fprintf (stderr, "bench: standard input closed before the start\n");
            return 1;
        }
    }
    int64_t t0 = clock_mono_us ();
    while (n_lat < (size_t) events) {
        /* send while the window and the pace allow */
        while (next < n_batches && open < (size_t) window) {
            if (rate > 0) {
                int64_t due = t0 + (int64_t) ((double) next * batch * 1e6 / (double) rate);
                if (clock_mono_us () < due)
                    break;
            }
            size_t s = 0;
            while (slots[s].used)
                s++;
            slots[s] = (slot_t){next + 1, clock_mono_us (), msg_counts[next], true};
            zmq_send (sock, msgs[next], msg_lens[next], 0);
            next++;
            open++;
        }
        long timeout = 1000;
        if (rate > 0 && next < n_batches && open < (size_t) window) {
            int64_t due = t0 + (int64_t) ((double) next * batch * 1e6 / (double) rate);
            int64_t wait = due - clock_mono_us ();
            timeout = wait > 0 ? (long) ((wait + 999) / 1000) : 0; /* never spin */
        }
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, timeout) <= 0)
            continue;
        zmq_msg_t m;
        zmq_msg_init (&m);
        while (zmq_msg_recv (&m, sock, ZMQ_DONTWAIT) >= 0) {
            int64_t now = clock_mono_us ();
            codec_outbound_t *out =
                codec_outbound_decode (zmq_msg_data (&m), zmq_msg_size (&m));
            if (out && codec_outbound_kind (out) == OUTBOUND_ACK) {
                uint64_t seq = codec_outbound_batch_seq (out);
                for (long s = 0; s < window; s++)
                    if (slots[s].used && slots[s].seq == seq) {
                        for (size_t i = 0; i < codec_outbound_ack_count (out); i++) {
                            event_ack_t a;
                            codec_outbound_ack (out, i, &a);
                            count[a.status <= 4 ? a.status : 0]++;
                            if (n_lat < (size_t) events)
                                lat[n_lat++] = (double) (now - slots[s].sent_us) / 1000.0;
                        }
                        slots[s].used = false;
                        open--;
                    }
            }
            codec_outbound_destroy (&out);
        }
        zmq_msg_close (&m);
    }
    int64_t t1 = clock_mono_us ();
    double seconds = (double) (t1 - t0) / 1e6;
    qsort (lat, n_lat, sizeof *lat, cmp_double);
    printf (
        "{\"events\":%ld,\"seconds\":%.3f,\"rate\":%.0f,\"p50_ms\":%.2f,\"p99_ms\":%.2f,"
        "\"max_ms\":%.2f,\"stored\":%llu,\"duplicate\":%llu,\"rejected\":%llu,"
        "\"retry\":%llu,\"start_us\":%lld,\"end_us\":%lld}\n",
        events, seconds, (double) events / seconds, lat[n_lat / 2],
        lat[(size_t) ((double) n_lat * 0.99)], lat[n_lat - 1],
        (unsigned long long) count[1], (unsigned long long) count[2],
        (unsigned long long) count[3], (unsigned long long) count[4], (long long) t0,
        (long long) t1);
    for (size_t b = 0; b < n_batches; b++)
        free (msgs[b]);
    free (msgs);
    free (msg_lens);
    free (msg_counts);
    free (ev);
    free (ev_lens);
    free (slots);
    free (lat);
    zmq_close (sock);
    zmq_ctx_term (ctx);
    return count[3] || count[4] ? 1 : 0;
}
