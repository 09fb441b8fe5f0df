/*  hubctl replay: hands dead letters back after the cause was fixed.

    Two kinds of dead letter:
    - CORRELATION_FAILED: the event is stored; the correlator set it aside.
      Its id goes back into correlation_queue (a no-op when it is there
      already) and the hubs correlate it again.
    - any other code whose payload is a CaseEvent: the event goes to a hub
      again as an EventBatch over a DEALER socket, exactly as an adapter
      sends it (docs/protocol.md), with the batch agency empty so that the
      hub checks each event's own agency. The hub answers per event:
      STORED, DUPLICATE (it was stored before: replaying twice is
      harmless), REJECTED (still invalid, with the reason) or RETRY.
    Unreadable messages (MALFORMED, MESSAGE_TOO_LARGE), events without an
    event id and events refused because their sender may not speak for
    their agency (AGENCY_MISMATCH: replaying them with an operator's key
    would launder them) are not replayable: they are listed and skipped.

    replayed_at is set for the dead letters re-queued, STORED or DUPLICATE. */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "clock.h"
#include "codec.h"
#include "hubctl.h"
#include "strbuf.h"
#include "ident.h"

#define DEFAULT_HUB       "tcp://127.0.0.1:5570"
#define ADAPTER_ID        "hubctl-replay"
#define PAGE_ROWS         "500" /* dead letters read per query */
#define BATCH_EVENTS      100   /* events per EventBatch, at most */
#define BATCH_BYTES       60000 /* bytes of events per EventBatch (one larger goes alone) */
#define DEFAULT_TIMEOUT_S 10

static void
usage (void)
{
    printf (
        "Usage: hubctl replay [--hub ENDPOINT] [--timeout SECONDS] (ID ... | --code CODE | "
        "--all)\n\n"
        "Replays dead letters after the cause was fixed (a hub's agency list, a limit,\n"
        "a workflow definition, ...). Safe to repeat: the hub stores an event id once.\n"
        "  ID ...         these dead letters (the id column of 'hubctl deadletters'),\n"
        "                 replayed before or not\n"
        "  --code CODE    every dead letter with this code not replayed yet\n"
        "  --all          every dead letter not replayed yet\n"
        "  --hub ENDPOINT the hub to send events to (default: $ONENET_HUB, "
        "else " DEFAULT_HUB ")\n"
        "  --timeout S    how long to wait for the hub's answer to a batch (default 10)\n\n"
        "CORRELATION_FAILED dead letters are stored events: they are queued for\n"
        "correlation again (REQUEUED), no hub needed. Any other dead letter is sent to\n"
        "the hub as the adapter sent it, and the hub's answer is shown: STORED,\n"
        "DUPLICATE (stored before), REJECTED (still invalid: fix it at the source) or\n"
        "RETRY (the hub cannot reach its database now). Unreadable messages\n"
        "(MALFORMED, MESSAGE_TOO_LARGE) and events without an id are NOT_REPLAYABLE.\n"
        "replayed_at is set for those REQUEUED, STORED or DUPLICATE.\n\n"
        "Exit status: 0 when every one selected was replayed or is not replayable; 1\n"
        "when the hub could not be reached, refused some again or asked to retry (run\n"
        "the same command again later), or an ID does not exist; 2 usage.\n");
}

/* --- the results table --------------------------------------------------- */

typedef struct {
    long long id;   /* the dead letter */
    char *event_id; /* NULL when it has none */
    char *code;     /* its code */
    char *
        outcome; /* REQUEUED, STORED, DUPLICATE, REJECTED, RETRY, NOT_REPLAYABLE, NO_ANSWER */
    char *reason; /* the hub's reason, or ours */
} result_t;

typedef struct {
    result_t *rows;
    size_t n, cap;
    int replayed;       /* REQUEUED, STORED, DUPLICATE */
    int not_replayable; /* NOT_REPLAYABLE */
    int refused;        /* REJECTED */
    int retry;          /* RETRY */
    int unanswered;     /* NO_ANSWER */
} results_t;

static void
results_add (results_t *r, const char *id, const char *event_id, const char *code,
             const char *outcome, const char *reason)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 64;
        r->rows = realloc (r->rows, r->cap * sizeof *r->rows);
        if (!r->rows)
            abort ();
    }
    r->rows[r->n++] =
        (result_t){atoll (id), str_dup (event_id), str_dup (code), str_dup (outcome),
                   str_dup (reason)};
    if (!strcmp (outcome, "STORED") || !strcmp (outcome, "DUPLICATE")
        || !strcmp (outcome, "REQUEUED"))
        r->replayed++;
    else if (!strcmp (outcome, "NOT_REPLAYABLE"))
        r->not_replayable++;
    else if (!strcmp (outcome, "REJECTED"))
        r->refused++;
    else if (!strcmp (outcome, "RETRY"))
        r->retry++;
    else
        r->unanswered++;
}

static int
by_id (const void *a, const void *b)
{
    long long x = ((const result_t *) a)->id, y = ((const result_t *) b)->id;
    return (x > y) - (x < y);
}

/* Prints the results in dead letter order, as a table or JSON. */
static bool
results_print (const hubctl_options_t *options, PGconn *conn, results_t *r)
{
    if (r->n > 1)
        qsort (r->rows, r->n, sizeof *r->rows, by_id);
    PGresult *table = PQmakeEmptyPGresult (conn, PGRES_TUPLES_OK);
    PGresAttDesc cols[5] = {
        {"id", 0, 0, 0, 20, 8, -1},      {"event_id", 0, 0, 0, 25, -1, -1},
        {"code", 0, 0, 0, 25, -1, -1},   {"outcome", 0, 0, 0, 25, -1, -1},
        {"reason", 0, 0, 0, 25, -1, -1},
    };
    if (!table || !PQsetResultAttrs (table, 5, cols)) {
        PQclear (table);
        fprintf (stderr, "hubctl replay: out of memory\n");
        return false;
    }
    for (size_t i = 0; i < r->n; i++) {
        char id[32];
        snprintf (id, sizeof id, "%lld", r->rows[i].id);
        const char *values[5] = {id, r->rows[i].event_id, r->rows[i].code,
                                 r->rows[i].outcome, r->rows[i].reason};
        for (int c = 0; c < 5; c++)
            if (!PQsetvalue (table, (int) i, c, (char *) (values[c] ? values[c] : ""),
                             values[c] ? (int) strlen (values[c]) : -1))
                abort ();
    }
    hubctl_print (options, table);
    PQclear (table);
    return true;
}

static void
results_free (results_t *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free (r->rows[i].event_id);
        free (r->rows[i].code);
        free (r->rows[i].outcome);
        free (r->rows[i].reason);
    }
    free (r->rows);
}

/* --- talking to the hub -------------------------------------------------- */

typedef struct {
    const char *endpoint;
    int timeout_ms;
    void *ctx;
    void *sock;
    uint64_t next_seq;
    bool failed;       /* the hub did not answer (or could not read a batch) */
    char problem[512]; /* what went wrong, for the operator */
    const hubctl_options_t *options; /* the operator's CURVE key, if any */
} hub_link_t;

/* One dead letter waiting in the batch being built. */
typedef struct {
    const char *id, *event_id, *code; /* into the page's PGresult */
    unsigned char *payload;           /* PQunescapeBytea'd */
    size_t len;
} pending_t;

static bool
link_open (hub_link_t *link)
{
    if (link->sock)
        return true;
    link->ctx = zmq_ctx_new ();
    link->sock = link->ctx ? zmq_socket (link->ctx, ZMQ_DEALER) : NULL;
    if (!link->sock)
        abort ();
    int zero = 0;
    zmq_setsockopt (link->sock, ZMQ_LINGER, &zero, sizeof zero);
    char err[1024];
    if (hubctl_secure_socket (link->options, link->sock, link->endpoint, err, sizeof err)
        != 0) {
        snprintf (link->problem, sizeof link->problem,
                  "cannot talk to the hub at '%s': %.400s", link->endpoint, err);
        link->failed = true;
        return false;
    }
    if (zmq_connect (link->sock, link->endpoint) != 0) {
        snprintf (link->problem, sizeof link->problem,
                  "cannot connect to the hub at '%s': %s. Give a ZeroMQ endpoint such as "
                  "tcp://10.12.0.5:5570 with --hub (or ONENET_HUB).",
                  link->endpoint, zmq_strerror (errno));
        link->failed = true;
        return false;
    }
    link->next_seq = (uint64_t) clock_now_ms () * 1000;
    return true;
}

static void
link_close (hub_link_t *link)
{
    if (link->sock)
        zmq_close (link->sock);
    if (link->ctx)
        zmq_ctx_term (link->ctx);
    link->sock = link->ctx = NULL;
}

static const char *
status_name (ack_status_t status)
{
    switch (status) {
    case ACK_STORED: return "STORED";
    case ACK_DUPLICATE: return "DUPLICATE";
    case ACK_REJECTED: return "REJECTED";
    default: return "RETRY"; /* RETRY, and any status this hubctl does not know */
    }
}

/* Sends the pending events as one EventBatch and records the hub's answer
   per event; marks the STORED and DUPLICATE ones replayed. Returns false
   when the database could not be updated. */
static bool
flush (PGconn *conn, hub_link_t *link, pending_t *batch, size_t n, results_t *results)
{
    if (n == 0)
        return true;
    bool ok = true;
    if (link->failed || !link_open (link)) {
        for (size_t i = 0; i < n; i++)
            results_add (results, batch[i].id, batch[i].event_id, batch[i].code,
                         "NO_ANSWER", "not sent: the hub could not be reached");
        goto done;
    }
    const uint8_t **events = calloc (n, sizeof *events);
    size_t *lens = calloc (n, sizeof *lens);
    if (!events || !lens)
        abort ();
    for (size_t i = 0; i < n; i++) {
        events[i] = batch[i].payload;
        lens[i] = batch[i].len;
    }
    uint64_t seq = link->next_seq++;
    size_t len;
    uint8_t *msg = codec_batch_encode (seq, ADAPTER_ID, "", events, lens, n, &len);
    free (events);
    free (lens);
    if (!msg) /* each payload was checked alone before */
        abort ();
    codec_outbound_t *answer = NULL;
    if (zmq_send (link->sock, msg, len, ZMQ_DONTWAIT) < 0)
        snprintf (link->problem, sizeof link->problem,
                  "could not send to the hub at %s: %s", link->endpoint,
                  zmq_strerror (errno));
    else {
        int64_t deadline = clock_mono_ms () + link->timeout_ms;
        while (!answer) {
            int64_t left = deadline - clock_mono_ms ();
            if (left <= 0) {
                snprintf (link->problem, sizeof link->problem,
                          "the hub at %s did not answer within %d s. Is it running, and "
                          "is that its endpoint? (give it with --hub or ONENET_HUB)",
                          link->endpoint, link->timeout_ms / 1000);
                break;
            }
            zmq_pollitem_t item = {link->sock, 0, ZMQ_POLLIN, 0};
            int rc = zmq_poll (&item, 1, (long) left);
            if (rc < 0 && errno != EINTR) {
                snprintf (link->problem, sizeof link->problem,
                          "could not wait for the hub at %s: %s", link->endpoint,
                          zmq_strerror (errno));
                break;
            }
            if (rc <= 0)
                continue;
            zmq_msg_t frame;
            zmq_msg_init (&frame);
            if (zmq_msg_recv (&frame, link->sock, 0) < 0) {
                zmq_msg_close (&frame);
                continue;
            }
            codec_outbound_t *out =
                codec_outbound_decode (zmq_msg_data (&frame), zmq_msg_size (&frame));
            zmq_msg_close (&frame);
            if (!out)
                continue;
            if (codec_outbound_kind (out) == OUTBOUND_ACK
                && codec_outbound_batch_seq (out) == seq
                && codec_outbound_ack_count (out) == n)
                answer = out;
            else if (codec_outbound_kind (out) == OUTBOUND_ERROR
                     && (codec_outbound_batch_seq (out) == 0
                         || codec_outbound_batch_seq (out) == seq)) {
                const char *reason;
                error_code_t code = codec_outbound_error (out, &reason);
                snprintf (link->problem, sizeof link->problem,
                          "the hub at %s could not read the replayed batch: %s: %s",
                          link->endpoint, error_code_name (code), reason);
                codec_outbound_destroy (&out);
                break;
            }
            else
                codec_outbound_destroy (&out); /* not ours: ignore */
        }
    }
    free (msg);
    if (!answer) {
        link->failed = true;
        for (size_t i = 0; i < n; i++)
            results_add (results, batch[i].id, batch[i].event_id, batch[i].code,
                         "NO_ANSWER", "the hub did not answer");
        goto done;
    }
    /* acks[i] answers events[i] */
    char *ids = malloc (n * 24 + 3);
    if (!ids)
        abort ();
    size_t used = 0;
    ids[used++] = '{';
    for (size_t i = 0; i < n; i++) {
        event_ack_t ack;
        codec_outbound_ack (answer, i, &ack);
        const char *outcome = status_name (ack.status);
        char reason[1024] = "";
        if (ack.status == ACK_STORED)
            snprintf (reason, sizeof reason, "stored now");
        else if (ack.status == ACK_DUPLICATE)
            snprintf (reason, sizeof reason, "stored before");
        else
            snprintf (reason, sizeof reason, "%s: %s", error_code_name (ack.code),
                      ack.reason);
        results_add (results, batch[i].id, batch[i].event_id, batch[i].code, outcome,
                     reason);
        if (ack.status == ACK_STORED || ack.status == ACK_DUPLICATE)
            used += (size_t) sprintf (ids + used, "%s%s", used > 1 ? "," : "", batch[i].id);
    }
    ids[used++] = '}';
    ids[used] = '\0';
    codec_outbound_destroy (&answer);
    if (used > 2) {
        const char *params[1] = {ids};
        PGresult *res = hubctl_query (conn, "mark the dead letters replayed",
                                      "UPDATE dead_letters SET replayed_at = now() "
                                      "WHERE id = ANY($1::bigint[])",
                                      1, params);
        ok = res != NULL;
        PQclear (res);
    }
    free (ids);
done:
    for (size_t i = 0; i < n; i++)
        PQfreemem (batch[i].payload);
    return ok;
}

/* --- the dead letters ---------------------------------------------------- */

/* Queues a stored event for correlation again. False when the database
   failed. */
static bool
requeue (PGconn *conn, const char *id, const char *event_id, const char *code,
         results_t *results)
{
    if (!event_id || !ident_uuid_valid (event_id)) {
        results_add (results, id, event_id, code, "NOT_REPLAYABLE",
                     "no stored event id to correlate");
        return true;
    }
    const char *params[2] = {id, event_id};
    PGresult *res = hubctl_query (
        conn, "queue the event for correlation again",
        "WITH ev AS (SELECT event_id FROM events WHERE event_id = $2::uuid), "
        "q AS (INSERT INTO correlation_queue (event_id) SELECT event_id FROM ev "
        "  ON CONFLICT DO NOTHING RETURNING event_id), "
        "d AS (UPDATE dead_letters SET replayed_at = now() "
        "  WHERE id = $1::bigint AND EXISTS (SELECT 1 FROM ev) RETURNING id) "
        "SELECT (SELECT count(*) FROM ev), (SELECT count(*) FROM q), "
        "  (SELECT count(*) FROM d)",
        2, params);
    if (!res)
        return false;
    if (atoi (PQgetvalue (res, 0, 0)) == 0)
        results_add (results, id, event_id, code, "NOT_REPLAYABLE",
                     "the event is not in the events table: nothing to correlate");
    else
        results_add (results, id, event_id, code, "REQUEUED",
                     atoi (PQgetvalue (res, 0, 1)) ? "queued for correlation again"
                                                   : "already queued for correlation");
    PQclear (res);
    return true;
}

/* Why a dead letter cannot be sent again, or NULL when it can (payload then
   holds the CaseEvent, to be freed with PQfreemem). */
static const char *
not_replayable (PGresult *page, int r, unsigned char **payload, size_t *len)
{
    const char *code = PQgetvalue (page, r, 2);
    *payload = NULL;
    if (!strcmp (code, "MALFORMED") || !strcmp (code, "MESSAGE_TOO_LARGE"))
        return "an unreadable message, not a case event: the sender must fix it and "
               "send it again";
    if (!strcmp (code, "AGENCY_MISMATCH"))
        return "its sender was not entitled to speak for the event's agency: only that "
               "agency's own adapter may send it again";
    if (PQgetisnull (page, r, 1))
        return "the event has no event_id: the sender must give it one and send it "
               "again";
    if (PQgetisnull (page, r, 3))
        return "no payload was kept";
    *payload = PQunescapeBytea ((const unsigned char *) PQgetvalue (page, r, 3), len);
    if (!*payload)
        abort ();
    const uint8_t *one[1] = {*payload};
    size_t one_len[1] = {*len};
    size_t n;
    uint8_t *check =
        *len ? codec_batch_encode (0, ADAPTER_ID, "", one, one_len, 1, &n) : NULL;
    if (!check) {
        PQfreemem (*payload);
        *payload = NULL;
        return "the payload is not a case event";
    }
    free (check);
    return NULL;
}

int
cmd_replay (const hubctl_options_t *options, int argc, char **argv)
{
    static struct option opts[] = {
        {"hub", required_argument, NULL, 'H'}, {"code", required_argument, NULL, 'c'},
        {"all", no_argument, NULL, 'a'},       {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0}};
    const char *hub = options->hub; /* --config [hubctl] hub, or $ONENET_HUB */
    const char *code = NULL;
    bool all = false;
    int timeout_s = DEFAULT_TIMEOUT_S;
    int c;
    while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'H': hub = optarg; break;
        case 'c': code = optarg; break;
        case 'a': all = true; break;
        case 't': {
            char *end;
            long t = strtol (optarg, &end, 10);
            if (!*optarg || *end || t < 1 || t > 3600)
                return hubctl_usage_error ("replay",
                                           "--timeout '%s' is not a number of "
                                           "seconds (1 to 3600)",
                                           optarg);
            timeout_s = (int) t;
            break;
        }
        case 'h': usage (); return HUBCTL_OK;
        default: fprintf (stderr, "Try 'hubctl replay --help'.\n"); return HUBCTL_USAGE;
        }
    }
    if (!hub || !*hub)
        hub = DEFAULT_HUB;
    int n_ids = argc - optind;
    if ((n_ids > 0) + (code != NULL) + all != 1)
        return hubctl_usage_error ("replay", "say which dead letters: their ids, --code "
                                             "CODE or --all (one of the three)");
    /* the ids as a PostgreSQL array literal */
    char *ids = NULL;
    if (n_ids > 0) {
        ids = malloc ((size_t) n_ids * 24 + 3);
        if (!ids)
            abort ();
        size_t used = 0;
        ids[used++] = '{';
        for (int i = optind; i < argc; i++) {
            char *end;
            errno = 0;
            long long v = strtoll (argv[i], &end, 10);
            if (!*argv[i] || *end || v <= 0 || errno) {
                free (ids);
                return hubctl_usage_error ("replay",
                                           "'%s' is not a dead letter id (a "
                                           "positive number from 'hubctl "
                                           "deadletters')",
                                           argv[i]);
            }
            used += (size_t) sprintf (ids + used, "%s%lld", i > optind ? "," : "", v);
        }
        ids[used++] = '}';
        ids[used] = '\0';
    }
    char code_upper[64] = "";
    if (code) {
        if (strlen (code) >= sizeof code_upper) {
            free (ids);
            return hubctl_usage_error ("replay", "--code '%s' is not a code", code);
        }
        for (size_t i = 0; code[i]; i++)
            code_upper[i] =
                (char) (code[i] >= 'a' && code[i] <= 'z' ? code[i] - 32 : code[i]);
        code_upper[strlen (code)] = '\0';
    }

    PGconn *conn = hubctl_connect (options);
    if (!conn) {
        free (ids);
        return HUBCTL_FAILURE;
    }
    int rc = HUBCTL_FAILURE;
    results_t results;
    memset (&results, 0, sizeof results);
    hub_link_t link = {hub, timeout_s * 1000, NULL, NULL, 0, false, "", options};
    pending_t *batch = calloc (BATCH_EVENTS, sizeof *batch);
    if (!batch)
        abort ();

    /* every id asked for must exist */
    char last[32] = "0", max_id[32] = "9223372036854775807";
    if (ids) {
        const char *params[1] = {ids};
        PGresult *res = hubctl_query (
            conn, "look up the dead letters",
            "SELECT string_agg(x::text, ', ' ORDER BY x) FROM unnest($1::bigint[]) AS x "
            "WHERE NOT EXISTS (SELECT 1 FROM dead_letters d WHERE d.id = x)",
            1, params);
        if (!res)
            goto out;
        if (!PQgetisnull (res, 0, 0)) {
            fprintf (stderr,
                     "hubctl replay: no dead letter with id %s; nothing was replayed. List "
                     "them with 'hubctl deadletters'.\n",
                     PQgetvalue (res, 0, 0));
            PQclear (res);
            goto out;
        }
        PQclear (res);
    }
    else {
        /* dead letters the replay itself adds are not replayed in this run */
        PGresult *res =
            hubctl_query (conn, "look up the dead letters",
                          "SELECT coalesce(max(id), 0) FROM dead_letters", 0, NULL);
        if (!res)
            goto out;
        snprintf (max_id, sizeof max_id, "%s", PQgetvalue (res, 0, 0));
        PQclear (res);
    }

    bool db_ok = true;
    while (db_ok) {
        const char *params[4] = {ids, *code_upper ? code_upper : NULL, last, max_id};
        PGresult *page =
            hubctl_query (conn, "read the dead letters",
                          "SELECT id, event_id, code, payload FROM dead_letters "
                          "WHERE ($1::bigint[] IS NULL OR id = ANY($1::bigint[])) "
                          "AND ($1::bigint[] IS NOT NULL OR replayed_at IS NULL) "
                          "AND ($2::text IS NULL OR code = $2) "
                          "AND id > $3::bigint AND id <= $4::bigint "
                          "ORDER BY id LIMIT " PAGE_ROWS,
                          4, params);
        if (!page) {
            db_ok = false;
            break;
        }
        int rows = PQntuples (page);
        size_t n = 0, bytes = 0;
        for (int r = 0; r < rows && db_ok; r++) {
            const char *id = PQgetvalue (page, r, 0);
            const char *event_id =
                PQgetisnull (page, r, 1) ? NULL : PQgetvalue (page, r, 1);
            const char *dl_code = PQgetvalue (page, r, 2);
            if (!strcmp (dl_code, "CORRELATION_FAILED")) {
                db_ok = requeue (conn, id, event_id, dl_code, &results);
                continue;
            }
            unsigned char *payload;
            size_t len;
            const char *why = not_replayable (page, r, &payload, &len);
            if (why) {
                results_add (&results, id, event_id, dl_code, "NOT_REPLAYABLE", why);
                continue;
            }
            if (n > 0 && (n == BATCH_EVENTS || bytes + len > BATCH_BYTES)) {
                db_ok = flush (conn, &link, batch, n, &results);
                n = bytes = 0;
            }
            batch[n++] = (pending_t){id, event_id, dl_code, payload, len};
            bytes += len;
        }
        if (db_ok)
            db_ok = flush (conn, &link, batch, n, &results);
        else
            for (size_t i = 0; i < n; i++)
                PQfreemem (batch[i].payload);
        if (rows > 0)
            snprintf (last, sizeof last, "%s", PQgetvalue (page, rows - 1, 0));
        PQclear (page);
        if (rows < atoi (PAGE_ROWS))
            break;
    }
    if (!db_ok)
        goto out;

    if (results.n == 0 && !options->json) {
        printf ("Nothing to replay: no dead letter%s%s is waiting to be replayed (list "
                "them with 'hubctl deadletters').\n",
                code ? " with code " : "", code ? code_upper : "");
        rc = HUBCTL_OK;
        goto out;
    }
    if (!results_print (options, conn, &results))
        goto out;
    if (!options->json)
        printf ("%d replayed, %d not replayable, %d refused again, %d to retry, %d not "
                "answered\n",
                results.replayed, results.not_replayable, results.refused, results.retry,
                results.unanswered);
    if (link.failed)
        fprintf (stderr,
                 "hubctl replay: %s Nothing was marked replayed that the hub did not "
                 "store; run the same replay again once the hub answers.\n",
                 link.problem);
    if (results.refused)
        fprintf (stderr,
                 "hubctl replay: the hub refused %d event%s again (REJECTED): the reason "
                 "says what is still wrong; fix it at the source ('hubctl deadletters').\n",
                 results.refused, results.refused == 1 ? "" : "s");
    if (results.retry)
        fprintf (stderr,
                 "hubctl replay: the hub could not store %d event%s now (RETRY); run the "
                 "same replay again later.\n",
                 results.retry, results.retry == 1 ? "" : "s");
    rc = results.refused || results.retry || results.unanswered || link.failed
             ? HUBCTL_FAILURE
             : HUBCTL_OK;
out:
    link_close (&link);
    free (batch);
    free (ids);
    results_free (&results);
    PQfinish (conn);
    return rc;
}
