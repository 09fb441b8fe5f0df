/*  hubctl verify: walks every hash chain of stored events and recomputes
    their digests from the stored columns (common/digest.c, the code the hub
    wrote them with; docs/schema.md, "Hash chain", for the bytes).

    One pass over events in (chain_id, seq) order through a cursor, in one
    read-only repeatable-read transaction (a consistent snapshot while hubs
    keep writing), pages of PAGE_ROWS rows: memory stays flat on any table
    size and the walk uses the unique (chain_id, seq) index. Then the ends
    of the chains against chain_heads, and the rows without a chain.

    Findings, each naming chain, seq and event id:
      changed   a row's columns no longer give its content digest, or its
                chain columns no longer give its row digest (an UPDATE)
      removed   a sequence number missing in a chain or at its end (a DELETE)
      inserted  a row with no chain link, a link that does not continue its
                predecessor, rows past the recorded head, or a chain no hub
                recorded (an INSERT behind the hub's back)
    Rows stored before migration 005 (listed in events_before_chain) have
    no link and are counted apart; one of them deleted is "removed". */
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "digest.h"
#include "hubctl.h"

#define PAGE_ROWS 2000    /* rows per FETCH (as in FETCH_PAGE) */
#define FETCH_PAGE "FETCH FORWARD 2000 FROM verify_rows"
#define DEFAULT_LIMIT 20  /* findings printed unless --limit says otherwise */

typedef struct {
    char *chain;             /* chain id */
    int64_t rows;            /* chained rows seen */
    int64_t last_seq;        /* seq of the last row seen, 0 before the first */
    char last_event[37];     /* its event id */
    uint8_t last[DIGEST_LEN]; /* its stored row digest */
} walk_t;

typedef struct {
    const hubctl_options_t *options; /* --json */
    long limit;                      /* findings to print at most */
    long n_findings;                 /* findings in all */
    json_t *findings;                /* JSON array of the printed ones */
    json_t *chains;                  /* JSON array of chain summaries */
    strbuf_t scratch;                /* digest scratch */
} verify_t;

static void
finding (verify_t *v, const char *kind, const char *chain, int64_t seq, const char *event_id,
         const char *fmt, ...) __attribute__ ((format (printf, 6, 7)));

static void
finding (verify_t *v, const char *kind, const char *chain, int64_t seq, const char *event_id,
         const char *fmt, ...)
{
    v->n_findings++;
    if (v->n_findings > v->limit)
        return;
    char detail[1024];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (detail, sizeof detail, fmt, ap);
    va_end (ap);
    if (v->options->json) {
        json_t *f = json_pack ("{s:s, s:s?, s:s?, s:s}", "kind", kind, "chain", chain,
                               "event_id", event_id, "detail", detail);
        json_object_set_new (f, "seq", seq > 0 ? json_integer (seq) : json_null ());
        json_array_append_new (v->findings, f);
    }
    else {
        printf ("%-8s", kind);
        if (chain)
            printf (" chain %s", chain);
        if (seq > 0)
            printf (" seq %" PRId64, seq);
        if (event_id)
            printf (" event %s", event_id);
        printf (": %s\n", detail);
    }
}

static void
chain_done (verify_t *v, walk_t *w, PGconn *conn)
{
    if (!w->chain)
        return;
    const char *params[1] = {w->chain};
    PGresult *res = hubctl_query (conn, "read the head of the chain",
                                  "SELECT seq, encode(row_digest, 'hex') FROM chain_heads "
                                  "WHERE chain_id = $1",
                                  1, params);
    int64_t head_seq = -1;
    if (res && PQntuples (res) == 1) {
        head_seq = strtoll (PQgetvalue (res, 0, 0), NULL, 10);
        uint8_t head[DIGEST_LEN];
        if (head_seq > w->last_seq)
            finding (v, "removed", w->chain, w->last_seq + 1, NULL,
                     "rows %" PRId64 " to %" PRId64
                     " at the end of the chain are missing (the recorded head is %" PRId64
                     ", the last row is %" PRId64 ", event %s)",
                     w->last_seq + 1, head_seq, head_seq, w->last_seq, w->last_event);
        else if (head_seq < w->last_seq)
            finding (v, "inserted", w->chain, head_seq + 1, NULL,
                     "rows %" PRId64 " to %" PRId64
                     " are past the head the hub recorded (%" PRId64 ")",
                     head_seq + 1, w->last_seq, head_seq);
        else if (!digest_from_hex (PQgetvalue (res, 0, 1), head)
                 || memcmp (head, w->last, DIGEST_LEN) != 0)
            finding (v, "changed", w->chain, w->last_seq, w->last_event,
                     "the last row's row digest differs from the head the hub recorded");
    }
    else if (res)
        finding (v, "inserted", w->chain, 0, NULL,
                 "no hub recorded this chain in chain_heads (%" PRId64 " rows)", w->rows);
    PQclear (res);
    char hex[2 * DIGEST_LEN + 1];
    digest_hex (w->last, hex);
    if (v->options->json)
        json_array_append_new (v->chains,
                               json_pack ("{s:s, s:I, s:I, s:s}", "chain", w->chain, "rows",
                                          (json_int_t) w->rows, "last_seq",
                                          (json_int_t) w->last_seq, "head_digest", hex));
    else
        printf ("chain %s: %" PRId64 " rows, seq 1 to %" PRId64 ", head %s\n", w->chain,
                w->rows, w->last_seq, hex);
    free (w->chain);
    memset (w, 0, sizeof *w);
}

/* Checks one chained row (columns as in the cursor's SELECT). */
static void
check_row (verify_t *v, walk_t *w, PGconn *conn, PGresult *res, int r)
{
    const char *chain = PQgetvalue (res, r, 0);
    int64_t seq = strtoll (PQgetvalue (res, r, 1), NULL, 10);
    const char *event_id = PQgetvalue (res, r, 2);
    if (!w->chain || strcmp (w->chain, chain) != 0) {
        chain_done (v, w, conn);
        w->chain = strdup (chain);
        if (!w->chain)
            abort ();
    }
    w->rows++;
    bool in_step = seq == w->last_seq + 1;
    if (!in_step)
        finding (v, "removed", chain, w->last_seq + 1, NULL,
                 "rows %" PRId64 " to %" PRId64 " are missing (between %s and event %s)",
                 w->last_seq + 1, seq - 1, w->last_seq ? w->last_event : "the start", event_id);

    const char *col[12];
    for (int c = 0; c < 12; c++)
        col[c] = PQgetisnull (res, r, 2 + c) ? NULL : PQgetvalue (res, r, 2 + c);
    digest_event_t e = {col[0], col[1], col[2], col[3], col[4],  col[5],
                        col[6], col[7], col[8], col[9], col[10], col[11]};
    uint8_t prev[DIGEST_LEN], content[DIGEST_LEN], stored_content[DIGEST_LEN],
        row[DIGEST_LEN], link[DIGEST_LEN];
    char err[512];
    bool readable = digest_from_hex (PQgetvalue (res, r, 14), prev)
                    && digest_from_hex (PQgetvalue (res, r, 15), stored_content)
                    && digest_from_hex (PQgetvalue (res, r, 16), row);
    if (!readable)
        finding (v, "changed", chain, seq, event_id, "its digests are not 32 bytes each");
    else if (digest_event (&e, &v->scratch, content, err, sizeof err) < 0)
        finding (v, "changed", chain, seq, event_id, "its columns cannot be digested: %s",
                 err);
    else if (memcmp (content, stored_content, DIGEST_LEN) != 0)
        finding (v, "changed", chain, seq, event_id,
                 "its columns no longer give its content digest (the row was updated)");
    else {
        digest_link (chain, seq, prev, content, link);
        if (memcmp (link, row, DIGEST_LEN) != 0)
            finding (v, "changed", chain, seq, event_id,
                     "its chain columns no longer give its row digest");
        else if (in_step && memcmp (prev, w->last, DIGEST_LEN) != 0) {
            if (w->last_seq)
                finding (v, "inserted", chain, seq, event_id,
                         "its link does not continue seq %" PRId64
                         " (event %s): one of the two was written behind the hub's back",
                         w->last_seq, w->last_event);
            else
                finding (v, "inserted", chain, seq, event_id,
                         "the first row of the chain does not start from zero");
        }
    }
    w->last_seq = seq;
    snprintf (w->last_event, sizeof w->last_event, "%s", event_id);
    if (readable)
        memcpy (w->last, row, DIGEST_LEN);
}

/* Rows without a chain link (other than those stored before the chain
   existed), rows of that time deleted since, and chains recorded with no
   rows left. */
static bool
check_unchained (verify_t *v, PGconn *conn, int64_t *unchained, int64_t *before)
{
    PGresult *res = hubctl_query (
        conn, "count the events without a chain link",
        "SELECT count(*) FILTER (WHERE b.event_id IS NULL), "
        "  count(*) FILTER (WHERE b.event_id IS NOT NULL), "
        "  (SELECT count(*) FROM events_before_chain) "
        "FROM events e LEFT JOIN events_before_chain b ON b.event_id = e.event_id "
        "WHERE e.chain_id IS NULL",
        0, NULL);
    if (!res)
        return false;
    *unchained = strtoll (PQgetvalue (res, 0, 0), NULL, 10);
    *before = strtoll (PQgetvalue (res, 0, 1), NULL, 10);
    int64_t recorded = strtoll (PQgetvalue (res, 0, 2), NULL, 10);
    PQclear (res);
    char limit[24];
    snprintf (limit, sizeof limit, "%ld", v->limit + 1);
    const char *params[1] = {limit};
    res = hubctl_query (conn, "list the events without a chain link",
                        "SELECT e.event_id::text, e.agency, e.case_no, e.stored_at::text "
                        "FROM events e WHERE e.chain_id IS NULL AND NOT EXISTS "
                        "(SELECT 1 FROM events_before_chain b WHERE b.event_id = e.event_id) "
                        "ORDER BY e.stored_at, e.event_id LIMIT $1",
                        1, params);
    if (!res)
        return false;
    for (int r = 0; r < PQntuples (res); r++)
        finding (v, "inserted", NULL, 0, PQgetvalue (res, r, 0),
                 "no chain link (agency %s, case %s, stored %s)", PQgetvalue (res, r, 1),
                 PQgetvalue (res, r, 2), PQgetvalue (res, r, 3));
    /* the listing is bounded; the count is not */
    if (*unchained > PQntuples (res))
        v->n_findings += *unchained - PQntuples (res);
    PQclear (res);
    if (recorded > *before) {
        res = hubctl_query (conn, "list the events stored before the chain that are gone",
                            "SELECT b.event_id::text FROM events_before_chain b "
                            "WHERE NOT EXISTS (SELECT 1 FROM events e "
                            "  WHERE e.event_id = b.event_id AND e.chain_id IS NULL) "
                            "ORDER BY 1 LIMIT $1",
                            1, params);
        if (!res)
            return false;
        for (int r = 0; r < PQntuples (res); r++)
            finding (v, "removed", NULL, 0, PQgetvalue (res, r, 0),
                     "stored before the hash chain existed (migration 005), now missing");
        if (recorded - *before > PQntuples (res))
            v->n_findings += recorded - *before - PQntuples (res);
        PQclear (res);
    }
    res = hubctl_query (conn, "list chains without rows",
                        "SELECT h.chain_id, h.seq FROM chain_heads h WHERE NOT EXISTS "
                        "(SELECT 1 FROM events e WHERE e.chain_id = h.chain_id) "
                        "ORDER BY h.chain_id",
                        0, NULL);
    if (!res)
        return false;
    for (int r = 0; r < PQntuples (res); r++)
        finding (v, "removed", PQgetvalue (res, r, 0), 1, NULL,
                 "every row of the chain is missing (its recorded head is seq %s)",
                 PQgetvalue (res, r, 1));
    PQclear (res);
    return true;
}

int
cmd_verify (const hubctl_options_t *options, int argc, char **argv)
{
    if (hubctl_wants_help (argc, argv)) {
        printf ("Usage: hubctl verify [--limit N]\n\n"
                "Walks the hash chain of every hub's stored events, recomputes each row's\n"
                "digests from its columns and reports what was changed (an UPDATE),\n"
                "removed (a DELETE) or inserted behind the hubs' backs, naming chain, seq\n"
                "and event id; the first finding comes first. Prints every chain's length\n"
                "and head digest, which an auditor may note down to compare next time.\n\n"
                "  --limit N  print at most N findings, 0 for none (default %d; all are counted)\n\n"
                "Exit status: 0 every chain intact, 1 a finding (or the database could\n"
                "not be read), 2 usage error.\n",
                DEFAULT_LIMIT);
        return HUBCTL_OK;
    }
    verify_t v = {options, DEFAULT_LIMIT, 0, json_array (), json_array (), {0}};
    strbuf_init (&v.scratch);
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--limit") == 0 && i + 1 < argc
            && (strcmp (argv[i + 1], "0") == 0 || hubctl_count_arg (argv[i + 1])))
            v.limit = strtol (argv[++i], NULL, 10); /* 0: count only */
        else {
            json_decref (v.findings);
            json_decref (v.chains);
            strbuf_free (&v.scratch);
            if (strcmp (argv[i], "--limit") == 0) {
                /* the valid counts were taken above: this one is not */
                hubctl_count_ok ("verify", "--limit", i + 1 < argc ? argv[i + 1] : "", 0);
                return HUBCTL_USAGE;
            }
            return hubctl_usage_error ("verify", "unexpected argument '%s'", argv[i]);
        }
    }
    PGconn *conn = hubctl_connect (options);
    if (!conn) {
        json_decref (v.findings);
        json_decref (v.chains);
        return HUBCTL_FAILURE;
    }
    /* times print in ISO style, which digest_canonical_time reads */
    PGresult *res = hubctl_query (conn, "set the date style", "SET DateStyle = 'ISO'", 0, NULL);
    bool ok = res != NULL;
    PQclear (res);
    if (ok) {
        res = hubctl_query (conn, "start a read-only snapshot",
                            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL);
        ok = res != NULL;
        PQclear (res);
    }
    if (ok) {
        res = hubctl_query (
            conn, "open a cursor over the chained events",
            "DECLARE verify_rows NO SCROLL CURSOR FOR "
            "SELECT chain_id, seq, event_id::text, agency, adapter_id, case_no, event_type, "
            "occurred_at::text, accepted_at::text, received_at::text, schema_version::text, "
            "keys::text, attrs::text, hub_id, encode(prev_digest, 'hex'), "
            "encode(content_digest, 'hex'), encode(row_digest, 'hex') "
            "FROM events WHERE chain_id IS NOT NULL ORDER BY chain_id, seq",
            0, NULL);
        ok = res != NULL;
        PQclear (res);
    }
    walk_t w = {0};
    int64_t rows = 0, unchained = 0, before = 0;
    while (ok) {
        res = hubctl_query (conn, "read the chained events",
                            FETCH_PAGE, 0, NULL);
        if (!res) {
            ok = false;
            break;
        }
        int n = PQntuples (res);
        for (int r = 0; r < n; r++)
            check_row (&v, &w, conn, res, r);
        rows += n;
        PQclear (res);
        if (n < PAGE_ROWS)
            break;
    }
    if (ok)
        chain_done (&v, &w, conn);
    free (w.chain);
    if (ok)
        ok = check_unchained (&v, conn, &unchained, &before);
    PQclear (PQexec (conn, "COMMIT"));
    PQfinish (conn);
    strbuf_free (&v.scratch);
    if (!ok) {
        json_decref (v.findings);
        json_decref (v.chains);
        return HUBCTL_FAILURE;
    }
    bool intact = v.n_findings == 0;
    if (options->json) {
        json_t *out = json_pack ("{s:b, s:I, s:I, s:I, s:I, s:o, s:o}", "intact", intact,
                                 "rows", (json_int_t) rows, "unchained",
                                 (json_int_t) unchained, "before_chain",
                                 (json_int_t) before, "findings_total",
                                 (json_int_t) v.n_findings, "chains", v.chains,
                                 "findings", v.findings);
        json_dumpf (out, stdout, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
        printf ("\n");
        json_decref (out);
    }
    else {
        json_decref (v.findings);
        json_decref (v.chains);
        if (intact)
            printf ("intact: %" PRId64 " events in their chains, none changed, removed or "
                    "inserted out of band\n",
                    rows);
        if (before)
            printf ("(%" PRId64 " events stored before the hash chain existed are not "
                    "covered)\n",
                    before);
        if (!intact) {
            if (v.n_findings > v.limit)
                printf ("... and %ld more\n", v.n_findings - v.limit);
            printf ("NOT INTACT: %ld finding%s in %" PRId64 " chained events and %" PRId64
                    " without a chain link\n",
                    v.n_findings, v.n_findings == 1 ? "" : "s", rows, unchained);
        }
    }
    return intact ? HUBCTL_OK : HUBCTL_FAILURE;
}
