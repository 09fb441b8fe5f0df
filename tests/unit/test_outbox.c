/*  test_outbox.c - unit tests for adapters/framework/outbox.c

    A standalone program: every failing case is printed with its file and
    line, a summary closes the run, and the exit status is 1 when any case
    failed. Each group works on its own SQLite file in a fresh temporary
    directory, removed at the end. The quarantine table is read back with
    SQLite directly, not through the module. A case that may trip a
    sanitizer runs in a child process so the rest of the run still reports.
*/

#include "outbox.h"

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define UNIT_NAME "test_outbox"
#include "unit.h"

/*  The outbox calls with an err buffer the test does not read: a failure
    shows as -1.  */
static char s_err[256];

static int64_t
s_oldest (outbox_t *box)
{
    int64_t v;
    return outbox_oldest_ms (box, &v, s_err, sizeof s_err) == 0 ? v : -1;
}

static int64_t
s_offset (outbox_t *box, const char *source)
{
    int64_t v;
    return outbox_source_offset (box, source, &v, s_err, sizeof s_err) == 0 ? v : -1;
}

static int
s_fetch (outbox_t *box, int64_t after, size_t max_n, size_t max_bytes, outbox_row_t *rows)
{
    return outbox_fetch (box, after, max_n, max_bytes, rows, s_err, sizeof s_err);
}

#define s_remove(box, seqs, n)       outbox_remove ((box), (seqs), (n), s_err, sizeof s_err)
#define s_source_done(box, source)   outbox_source_done ((box), (source), s_err, sizeof s_err)
#define s_quarantined(box)           outbox_quarantined ((box), s_err, sizeof s_err)
#define s_quarantine_event(box, seq, code, reason)                                         \
    outbox_quarantine_event ((box), (seq), (code), (reason), s_err, sizeof s_err)
#define s_quarantine_record(box, where, reason, record, len)                              \
    outbox_quarantine_record ((box), (where), (reason), (record), (len), s_err, sizeof s_err)

static char s_dir[64];   //  temporary directory of this run
static char s_path[128]; //  the outbox file in it

static const char *s_ids[] = {
    "0f8fad5b-d9cb-469f-a165-70867728950e", "7c9e6679-7425-40de-944b-e07fc1f90ae7",
    "00000000-0000-0000-0000-000000000003", "00000000-0000-0000-0000-000000000004",
    "00000000-0000-0000-0000-000000000005",
};

//  Payloads: 100 bytes each, byte value = event number (and some zeros).
static uint8_t s_payload[5][100];

static outbox_item_t
s_item (int i, int64_t accepted_at)
{
    return (outbox_item_t){s_ids[i], s_payload[i], sizeof s_payload[i], accepted_at};
}

/*  Removes the outbox file and its WAL companions.  */
static void
s_remove_files (void)
{
    static const char *const names[] = {"outbox.db", "outbox.db-wal", "outbox.db-shm"};
    s_files_remove (s_dir, names, sizeof names / sizeof *names);
}

/*  Puts, duplicates, fetches, removes, depth, oldest, reopen.  */
static void
s_test_queue (void)
{
    char err[256] = "";
    outbox_t *box = outbox_open (s_path, err, sizeof err);
    CHECK (box != NULL);
    if (!box) {
        fprintf (stderr, "  open: %s\n", err);
        return;
    }
    CHECK (outbox_depth (box) == 0);
    CHECK (s_oldest (box) == 0);
    CHECK (s_quarantined (box) == 0);
    outbox_row_t rows[8];
    CHECK (s_fetch (box, 0, 8, 1 << 20, rows) == 0);

    //  Three, then one new among repeats (within the call and before it).
    outbox_item_t first[3] = {s_item (0, 1000), s_item (1, 2000), s_item (2, 3000)};
    CHECK (outbox_put (box, first, 3, NULL, 0, err, sizeof err) == 3);
    CHECK (outbox_depth (box) == 3);
    CHECK (s_oldest (box) == 1000);
    outbox_item_t second[4] = {s_item (1, 9000), s_item (3, 4000), s_item (3, 4500),
                               s_item (0, 500)};
    CHECK (outbox_put (box, second, 4, NULL, 0, err, sizeof err) == 1);
    CHECK (outbox_depth (box) == 4);
    CHECK (s_oldest (box) == 1000); //  the repeat's 500 was not taken
    CHECK (outbox_put (box, second, 1, NULL, 0, err, sizeof err) == 0);
    CHECK (outbox_put (box, NULL, 0, NULL, 0, err, sizeof err) == 0);
    CHECK (outbox_depth (box) == 4);

    //  Everything, oldest first, bytes intact.
    int n = s_fetch (box, 0, 8, 1 << 20, rows);
    CHECK (n == 4);
    static const int order[4] = {0, 1, 2, 3};
    bool same = n == 4;
    for (int i = 0; i < n && same; i++) {
        if (strcmp (rows[i].event_id, s_ids[order[i]]) != 0 || rows[i].len != 100
            || memcmp (rows[i].bytes, s_payload[order[i]], 100) != 0
            || (i > 0 && rows[i].seq <= rows[i - 1].seq))
            same = false;
    }
    CHECK (same);
    int64_t seqs[4];
    for (int i = 0; i < n; i++) {
        seqs[i] = rows[i].seq;
        outbox_row_free (&rows[i]);
        CHECK (rows[i].bytes == NULL);
    }
    outbox_row_free (&rows[0]); //  twice is harmless

    //  After a seq; at most max_n; stopping before max_bytes.
    n = s_fetch (box, seqs[1], 8, 1 << 20, rows);
    CHECK (n == 2 && rows[0].seq == seqs[2] && rows[1].seq == seqs[3]);
    for (int i = 0; i < n; i++)
        outbox_row_free (&rows[i]);
    outbox_row_t two[2];
    n = s_fetch (box, 0, 2, 1 << 20, two); //  exactly two slots
    CHECK (n == 2 && two[0].seq == seqs[0] && two[1].seq == seqs[1]);
    for (int i = 0; i < n; i++)
        outbox_row_free (&two[i]);
    n = s_fetch (box, 0, 8, 250, rows);
    CHECK (n == 2);
    for (int i = 0; i < n; i++)
        outbox_row_free (&rows[i]);
    n = s_fetch (box, 0, 8, 300, rows);
    CHECK (n == 3);
    for (int i = 0; i < n; i++)
        outbox_row_free (&rows[i]);
    //  A first event larger than max_bytes still goes, or nothing ever would.
    n = s_fetch (box, 0, 8, 10, rows);
    CHECK (n == 1 && rows[0].seq == seqs[0]);
    for (int i = 0; i < n; i++)
        outbox_row_free (&rows[i]);
    CHECK (s_fetch (box, seqs[3], 8, 1 << 20, rows) == 0);
    CHECK (s_fetch (box, 0, 0, 1 << 20, rows) == 0);

    //  Remove the first two: depth and oldest follow.
    CHECK (s_remove (box, seqs, 2) == 0);
    CHECK (outbox_depth (box) == 2);
    CHECK (s_oldest (box) == 3000);
    n = s_fetch (box, 0, 8, 1 << 20, rows);
    CHECK (n == 2 && rows[0].seq == seqs[2]);
    for (int i = 0; i < n; i++)
        outbox_row_free (&rows[i]);
    //  Removing again, or an unknown seq, or nothing, changes nothing.
    CHECK (s_remove (box, seqs, 2) == 0);
    int64_t unknown = 987654;
    CHECK (s_remove (box, &unknown, 1) == 0);
    CHECK (s_remove (box, NULL, 0) == 0);
    CHECK (outbox_depth (box) == 2);

    //  A removed id can be accepted again (the hub absorbs a repeat), and
    //  takes a new, higher seq: seqs are never reused.
    outbox_item_t again[1] = {s_item (0, 6000)};
    CHECK (outbox_put (box, again, 1, NULL, 0, err, sizeof err) == 1);
    CHECK (outbox_depth (box) == 3);
    n = s_fetch (box, seqs[3], 8, 1 << 20, rows);
    CHECK (n == 1 && rows[0].seq > seqs[3] && strcmp (rows[0].event_id, s_ids[0]) == 0);
    int64_t last_seq = n ? rows[0].seq : 0;
    for (int i = 0; i < n; i++)
        outbox_row_free (&rows[i]);
    CHECK (s_remove (box, &last_seq, 1) == 0);
    CHECK (outbox_depth (box) == 2);

    //  Close and reopen: the same depth, oldest and rows.
    outbox_close (&box);
    CHECK (box == NULL);
    outbox_close (&box); //  twice is harmless
    box = outbox_open (s_path, err, sizeof err);
    CHECK (box != NULL);
    if (!box)
        return;
    CHECK (outbox_depth (box) == 2);
    CHECK (s_oldest (box) == 3000);
    n = s_fetch (box, 0, 8, 1 << 20, rows);
    CHECK (n == 2 && rows[0].seq == seqs[2] && rows[1].seq == seqs[3]
           && memcmp (rows[1].bytes, s_payload[3], 100) == 0);
    for (int i = 0; i < n; i++)
        outbox_row_free (&rows[i]);
    //  Seqs still increase after a reopen.
    outbox_item_t later[1] = {s_item (4, 7000)};
    CHECK (outbox_put (box, later, 1, NULL, 0, err, sizeof err) == 1);
    n = s_fetch (box, seqs[3], 8, 1 << 20, rows);
    CHECK (n == 1 && rows[0].seq > last_seq);
    for (int i = 0; i < n; i++)
        outbox_row_free (&rows[i]);

    //  Drain everything: depth and oldest go to zero.
    n = s_fetch (box, 0, 8, 1 << 20, rows);
    int64_t all[8];
    for (int i = 0; i < n; i++) {
        all[i] = rows[i].seq;
        outbox_row_free (&rows[i]);
    }
    CHECK (s_remove (box, all, n) == 0);
    CHECK (outbox_depth (box) == 0);
    CHECK (s_oldest (box) == 0);
    outbox_close (&box);
    box = outbox_open (s_path, err, sizeof err);
    CHECK (box && outbox_depth (box) == 0);
    outbox_close (&box);
    s_remove_files ();
}

/*  Runs sql on the outbox file from a separate connection.  */
static bool
s_exec (const char *sql)
{
    sqlite3 *db;
    if (sqlite3_open (s_path, &db) != SQLITE_OK)
        return false;
    bool ok = sqlite3_exec (db, sql, NULL, NULL, NULL) == SQLITE_OK;
    sqlite3_close (db);
    return ok;
}

/*  A put that fails part-way accepts nothing, and says why.  */
static void
s_test_put_atomic (void)
{
    char err[256] = "";
    outbox_t *box = outbox_open (s_path, err, sizeof err);
    CHECK (box != NULL);
    if (!box)
        return;
    //  The database refuses the second item (a trigger stands in for a
    //  full disk or an I/O error in the middle of the transaction).
    CHECK (s_exec ("CREATE TRIGGER refuse BEFORE INSERT ON outbox "
                   "WHEN NEW.event_id = '7c9e6679-7425-40de-944b-e07fc1f90ae7' "
                   "BEGIN SELECT RAISE (ABORT, 'disk is full (test)'); END"));
    outbox_item_t items[3] = {s_item (0, 1000), s_item (1, 2000), s_item (2, 3000)};
    err[0] = '\0';
    CHECK (outbox_put (box, items, 3, "spool/a.ndjson", 300, err, sizeof err) == -1);
    CHECK (strstr (err, "disk is full (test)") != NULL);
    CHECK (outbox_depth (box) == 0);
    outbox_row_t rows[4];
    CHECK (s_fetch (box, 0, 4, 1 << 20, rows) == 0);
    CHECK (s_offset (box, "spool/a.ndjson") == 0);
    //  And the outbox still works afterwards.
    CHECK (outbox_put (box, items, 1, "spool/a.ndjson", 100, err, sizeof err) == 1);
    CHECK (outbox_depth (box) == 1);
    CHECK (s_offset (box, "spool/a.ndjson") == 100);
    CHECK (s_exec ("DROP TRIGGER refuse"));
    CHECK (outbox_put (box, items, 3, NULL, 0, err, sizeof err) == 2);
    CHECK (outbox_depth (box) == 3);
    outbox_close (&box);
    box = outbox_open (s_path, err, sizeof err);
    CHECK (box && outbox_depth (box) == 3);
    outbox_close (&box);
    s_remove_files ();
}

/*  Source offsets move with the puts and survive a reopen.  */
static void
s_test_sources (void)
{
    char err[256] = "";
    outbox_t *box = outbox_open (s_path, err, sizeof err);
    CHECK (box != NULL);
    if (!box)
        return;
    CHECK (s_offset (box, "spool/a.ndjson") == 0);
    outbox_item_t items[2] = {s_item (0, 1000), s_item (1, 2000)};
    CHECK (outbox_put (box, items, 2, "spool/a.ndjson", 120, err, sizeof err) == 2);
    CHECK (s_offset (box, "spool/a.ndjson") == 120);
    CHECK (s_offset (box, "spool/b.ndjson") == 0);
    //  Only repeats, or nothing at all: the offset still advances.
    CHECK (outbox_put (box, items, 2, "spool/a.ndjson", 240, err, sizeof err) == 0);
    CHECK (s_offset (box, "spool/a.ndjson") == 240);
    CHECK (outbox_put (box, NULL, 0, "spool/a.ndjson", 360, err, sizeof err) == 0);
    CHECK (s_offset (box, "spool/a.ndjson") == 360);
    //  Another source is independent; a NULL source leaves offsets alone.
    outbox_item_t more[1] = {s_item (2, 3000)};
    CHECK (outbox_put (box, more, 1, "spool/彭阳 b.ndjson", 1LL << 40, err, sizeof err)
           == 1);
    CHECK (s_offset (box, "spool/彭阳 b.ndjson") == 1LL << 40);
    CHECK (outbox_put (box, NULL, 0, NULL, 999, err, sizeof err) == 0);
    CHECK (s_offset (box, "spool/a.ndjson") == 360);

    outbox_close (&box);
    box = outbox_open (s_path, err, sizeof err);
    CHECK (box != NULL);
    if (!box)
        return;
    CHECK (s_offset (box, "spool/a.ndjson") == 360);
    CHECK (s_offset (box, "spool/彭阳 b.ndjson") == 1LL << 40);
    CHECK (outbox_depth (box) == 3);

    //  Done forgets it; forgetting an unknown one is fine.
    CHECK (s_source_done (box, "spool/a.ndjson") == 0);
    CHECK (s_offset (box, "spool/a.ndjson") == 0);
    CHECK (s_offset (box, "spool/彭阳 b.ndjson") == 1LL << 40);
    CHECK (s_source_done (box, "spool/never.ndjson") == 0);
    //  The events themselves stay.
    CHECK (outbox_depth (box) == 3);
    outbox_close (&box);
    box = outbox_open (s_path, err, sizeof err);
    CHECK (box && s_offset (box, "spool/a.ndjson") == 0);
    outbox_close (&box);
    s_remove_files ();
}

/*  Reads one quarantine row with SQLite directly. Returns true if found.  */
static bool
s_quarantine_row (int64_t id, char *source, char *event_id, char *code, char *reason,
                  uint8_t *record, int *record_len, bool *event_id_null)
{
    sqlite3 *db;
    if (sqlite3_open_v2 (s_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        return false;
    sqlite3_stmt *st;
    bool found = false;
    if (sqlite3_prepare_v2 (db,
                            "SELECT source, event_id, code, reason, record, at_ms "
                            "FROM quarantine WHERE id = ?1",
                            -1, &st, NULL)
        == SQLITE_OK) {
        sqlite3_bind_int64 (st, 1, id);
        if (sqlite3_step (st) == SQLITE_ROW) {
            found = true;
            snprintf (source, 128, "%s", (const char *) sqlite3_column_text (st, 0));
            *event_id_null = sqlite3_column_type (st, 1) == SQLITE_NULL;
            snprintf (event_id, 40, "%s",
                      *event_id_null ? "" : (const char *) sqlite3_column_text (st, 1));
            snprintf (code, 40, "%s", (const char *) sqlite3_column_text (st, 2));
            snprintf (reason, 256, "%s", (const char *) sqlite3_column_text (st, 3));
            *record_len = sqlite3_column_bytes (st, 4);
            if (*record_len > 0 && *record_len <= 200)
                memcpy (record, sqlite3_column_blob (st, 4), (size_t) *record_len);
            if (sqlite3_column_int64 (st, 5) < 1577836800000) //  before 2020: not a clock
                found = false;
        }
        sqlite3_finalize (st);
    }
    sqlite3_close (db);
    return found;
}

/*  Quarantine: a rejected event moves, a bad record is recorded.  */
static void
s_test_quarantine (void)
{
    char err[256] = "";
    outbox_t *box = outbox_open (s_path, err, sizeof err);
    CHECK (box != NULL);
    if (!box)
        return;
    outbox_item_t items[3] = {s_item (0, 1000), s_item (1, 2000), s_item (2, 3000)};
    CHECK (outbox_put (box, items, 3, NULL, 0, err, sizeof err) == 3);
    outbox_row_t rows[4];
    int n = s_fetch (box, 0, 4, 1 << 20, rows);
    CHECK (n == 3);
    int64_t seqs[3] = {0, 0, 0};
    for (int i = 0; i < n; i++) {
        seqs[i] = rows[i].seq;
        outbox_row_free (&rows[i]);
    }

    CHECK (s_quarantine_event (box, seqs[0], "INVALID_KEY",
                                    "credit code \"9135\": length 4, expected 18")
           == 0);
    CHECK (outbox_depth (box) == 2);
    CHECK (s_quarantined (box) == 1);
    CHECK (s_oldest (box) == 2000);
    n = s_fetch (box, 0, 4, 1 << 20, rows);
    CHECK (n == 2 && rows[0].seq == seqs[1]);
    for (int i = 0; i < n; i++)
        outbox_row_free (&rows[i]);

    char source[128], event_id[40], code[40], reason[256];
    uint8_t record[200];
    int record_len = 0;
    bool id_null = true;
    CHECK (s_quarantine_row (1, source, event_id, code, reason, record, &record_len,
                             &id_null));
    CHECK (strcmp (source, "hub") == 0);
    CHECK (!id_null && strcmp (event_id, s_ids[0]) == 0);
    CHECK (strcmp (code, "INVALID_KEY") == 0);
    CHECK (strcmp (reason, "credit code \"9135\": length 4, expected 18") == 0);
    CHECK (record_len == 100 && memcmp (record, s_payload[0], 100) == 0);

    //  A record refused before it became an event.
    static const char bad[] = "{\"case_no\": 12, \"彭阳\"";
    CHECK (s_quarantine_record (box, "spool/a.ndjson:12", "not JSON: ...", bad,
                                     sizeof bad - 1)
           == 0);
    CHECK (s_quarantined (box) == 2);
    CHECK (outbox_depth (box) == 2);
    CHECK (s_quarantine_row (2, source, event_id, code, reason, record, &record_len,
                             &id_null));
    CHECK (strcmp (source, "spool/a.ndjson:12") == 0);
    CHECK (id_null);
    CHECK (strcmp (code, "BAD_RECORD") == 0);
    CHECK (strcmp (reason, "not JSON: ...") == 0);
    CHECK (record_len == (int) sizeof bad - 1 && memcmp (record, bad, sizeof bad - 1) == 0);

    //  Quarantining an event twice, or one that is not there, moves nothing.
    (void) s_quarantine_event (box, seqs[0], "INVALID_KEY", "again");
    (void) s_quarantine_event (box, 987654, "INVALID_KEY", "nothing");
    CHECK (outbox_depth (box) == 2);
    CHECK (s_quarantined (box) == 2);

    //  Survives a reopen.
    outbox_close (&box);
    box = outbox_open (s_path, err, sizeof err);
    CHECK (box != NULL);
    if (!box)
        return;
    CHECK (s_quarantined (box) == 2);
    CHECK (outbox_depth (box) == 2);
    //  The quarantined id may be accepted again (a corrected resend).
    outbox_item_t retry[1] = {s_item (0, 8000)};
    CHECK (outbox_put (box, retry, 1, NULL, 0, err, sizeof err) == 1);
    CHECK (outbox_depth (box) == 3);
    outbox_close (&box);
    s_remove_files ();
}

/*  The quarantine as heartbeats report it: counts by code kept by the
    triggers (rows added, cleared by an operator, an outbox from before
    the counts recounted at open), rows after a mark, and the mark.  */
static void
s_test_quarantine_report (void)
{
    char err[256] = "";
    outbox_t *box = outbox_open (s_path, err, sizeof err);
    CHECK (box != NULL);
    if (!box)
        return;
    outbox_item_t items[2] = {s_item (0, 1000), s_item (1, 2000)};
    CHECK (outbox_put (box, items, 2, NULL, 0, err, sizeof err) == 2);
    outbox_row_t rows[2];
    int n = s_fetch (box, 0, 2, 1 << 20, rows);
    CHECK (n == 2);
    int64_t seq0 = n > 0 ? rows[0].seq : 0;
    for (int i = 0; i < n; i++)
        outbox_row_free (&rows[i]);
    //  a long path keeps its end; a reason over 512 bytes is cut
    char where[400], reason[700];
    memset (where, 'd', sizeof where);
    memcpy (where + sizeof where - 15, "/in.ndjson:123", 15);
    memset (reason, 'r', sizeof reason - 1);
    reason[sizeof reason - 1] = '\0';
    CHECK (s_quarantine_record (box, where, reason, "x", 1) == 0);
    CHECK (s_quarantine_record (box, "in.ndjson:7", "not JSON: \xff", "{", 1) == 0);
    CHECK (s_quarantine_event (box, seq0, "INVALID_KEY", "unit number \"1\"") == 0);

    outbox_code_count_t counts[4];
    size_t nc = 0;
    uint64_t total = 0;
    CHECK (outbox_quarantine_counts (box, counts, 4, &nc, &total, err, sizeof err) == 0);
    CHECK (total == 3 && nc == 2);
    CHECK (nc == 2 && STREQ (counts[0].code, "BAD_RECORD") && counts[0].count == 2);
    CHECK (nc == 2 && STREQ (counts[1].code, "INVALID_KEY") && counts[1].count == 1);
    //  more codes than room: the total still counts them all
    CHECK (outbox_quarantine_counts (box, counts, 1, &nc, &total, err, sizeof err) == 0);
    CHECK (total == 3 && nc == 1);

    outbox_reject_t r[4];
    CHECK (outbox_quarantine_after (box, 0, r, 4, err, sizeof err) == 3);
    CHECK (r[0].id == 1 && strlen (r[0].place) <= 256);
    CHECK (strncmp (r[0].place, "...", 3) == 0);
    CHECK (strlen (r[0].place) >= 14
           && STREQ (r[0].place + strlen (r[0].place) - 14, "/in.ndjson:123"));
    CHECK (strlen (r[0].reason) == 512 && STREQ (r[0].code, "BAD_RECORD"));
    CHECK (STREQ (r[0].event_id, "") && r[0].at_ms > 0);
    CHECK (STREQ (r[1].place, "in.ndjson:7") && STREQ (r[1].reason, "not JSON: \\xFF"));
    CHECK (STREQ (r[2].place, "event 0f8fad5b-d9cb-469f-a165-70867728950e"));
    CHECK (STREQ (r[2].event_id, s_ids[0]) && STREQ (r[2].code, "INVALID_KEY"));
    CHECK (outbox_quarantine_after (box, 2, r, 4, err, sizeof err) == 1 && r[0].id == 3);
    CHECK (outbox_quarantine_after (box, 3, r, 4, err, sizeof err) == 0);

    //  the mark: 0 at first, never moved back
    int64_t mark = -1;
    CHECK (outbox_reported_mark (box, &mark, err, sizeof err) == 0 && mark == 0);
    CHECK (outbox_set_reported_mark (box, 2, err, sizeof err) == 0);
    CHECK (outbox_set_reported_mark (box, 1, err, sizeof err) == 0);
    CHECK (outbox_reported_mark (box, &mark, err, sizeof err) == 0 && mark == 2);
    outbox_close (&box);

    //  an operator clears a row; an outbox from before the counts (their
    //  table gone) is recounted at open
    sqlite3 *db = NULL;
    CHECK (sqlite3_open (s_path, &db) == SQLITE_OK);
    CHECK (sqlite3_exec (db, "DELETE FROM quarantine WHERE id = 2", NULL, NULL, NULL)
           == SQLITE_OK);
    sqlite3_close (db);
    box = outbox_open (s_path, err, sizeof err);
    CHECK (box != NULL);
    if (!box)
        return;
    CHECK (outbox_quarantine_counts (box, counts, 4, &nc, &total, err, sizeof err) == 0);
    CHECK (total == 2 && nc == 2 && counts[0].count == 1);
    outbox_close (&box);
    CHECK (sqlite3_open (s_path, &db) == SQLITE_OK);
    CHECK (sqlite3_exec (db,
                         "DROP TRIGGER quarantine_counted; DROP TRIGGER quarantine_uncounted; "
                         "DROP TRIGGER quarantine_recounted; DROP TABLE quarantine_counts",
                         NULL, NULL, NULL)
           == SQLITE_OK);
    sqlite3_close (db);
    box = outbox_open (s_path, err, sizeof err);
    CHECK (box != NULL);
    if (!box)
        return;
    CHECK (outbox_quarantine_counts (box, counts, 4, &nc, &total, err, sizeof err) == 0);
    CHECK (total == 2 && nc == 2);
    CHECK (outbox_reported_mark (box, &mark, err, sizeof err) == 0 && mark == 2);
    outbox_close (&box);
    s_remove_files ();
}

/*  Opening what cannot be an outbox.  */
static void
s_test_open_errors (void)
{
    char err[256] = "";
    outbox_t *box = outbox_open ("/nonexistent-onenet-dir/sub/outbox.db", err, sizeof err);
    CHECK (box == NULL);
    CHECK (strstr (err, "/nonexistent-onenet-dir/sub/outbox.db") != NULL);

    //  A file that is not a SQLite database.
    FILE *f = fopen (s_path, "w");
    if (f) {
        for (int i = 0; i < 200; i++)
            fputs ("this is not a database\n", f);
        fclose (f);
    }
    err[0] = '\0';
    box = outbox_open (s_path, err, sizeof err);
    CHECK (box == NULL);
    CHECK (strstr (err, s_path) != NULL);
    outbox_close (&box);
    s_remove_files ();
}

/*  A read or write that fails is an error, never "nothing there": with the
    tables gone from under an open outbox (another connection dropped
    them), a fetch is no empty queue, a source's position is no 0, and the
    writes fail, each with SQLite's reason.  */
static void
s_test_failures_are_errors (void)
{
    char err[256] = "";
    outbox_t *box = outbox_open (s_path, err, sizeof err);
    CHECK_MSG (box != NULL, err);
    if (!box)
        return;
    outbox_item_t items[2] = {s_item (0, 1000), s_item (1, 2000)};
    CHECK (outbox_put (box, items, 2, "spool/a.ndjson", 100, err, sizeof err) == 2);
    sqlite3 *other;
    CHECK (sqlite3_open (s_path, &other) == SQLITE_OK);
    CHECK (sqlite3_exec (other, "DROP TABLE outbox; DROP TABLE sources; DROP TABLE quarantine",
                         NULL, NULL, NULL)
           == SQLITE_OK);
    sqlite3_close (other);
    outbox_row_t rows[4];
    s_err[0] = '\0';
    CHECK (s_fetch (box, 0, 4, 1 << 20, rows) == -1);
    CHECK_MSG (strstr (s_err, "no such table") != NULL, s_err);
    int64_t offset = 12345;
    err[0] = '\0';
    CHECK (outbox_source_offset (box, "spool/a.ndjson", &offset, err, sizeof err) == -1);
    CHECK_MSG (strstr (err, "no such table") != NULL, err);
    CHECK (offset == 12345); //  left alone, not 0
    CHECK (s_source_done (box, "spool/a.ndjson") == -1);
    int64_t seq = 1;
    CHECK (s_remove (box, &seq, 1) == -1);
    CHECK (outbox_depth (box) == 2); //  nothing was removed
    CHECK (s_quarantine_event (box, 1, "INVALID_KEY", "bad") == -1);
    CHECK (s_quarantine_record (box, "spool/a.ndjson:3", "not JSON", "{", 1) == -1);
    CHECK (s_oldest (box) == -1);
    CHECK (s_quarantined (box) == -1);
    //  a transaction that failed is not left open: the next one can begin
    CHECK (outbox_put (box, items, 1, NULL, 0, err, sizeof err) == -1);
    CHECK (outbox_put (box, items, 1, NULL, 0, err, sizeof err) == -1);
    CHECK_MSG (strstr (err, "no such table") != NULL, err);
    outbox_close (&box);
    s_remove_files ();
}

/*  An event with an empty payload (an all-default CaseEvent serializes to
    no bytes) is stored and read back. Runs in a child: reading back a
    zero-length blob must not pass a NULL pointer to memcpy, which UBSan
    aborts on.  */
static void
s_test_empty_payload (void)
{
    fflush (NULL);
    pid_t pid = fork ();
    if (pid == 0) {
        char err[256] = "";
        outbox_t *box = outbox_open (s_path, err, sizeof err);
        if (!box)
            _exit (10);
        static const uint8_t nothing[1] = {0};
        outbox_item_t item = {s_ids[0], nothing, 0, 1000};
        if (outbox_put (box, &item, 1, NULL, 0, err, sizeof err) != 1)
            _exit (11);
        outbox_row_t row;
        if (s_fetch (box, 0, 1, 1 << 20, &row) != 1)
            _exit (12);
        int rc = row.len == 0 && row.bytes != NULL && strcmp (row.event_id, s_ids[0]) == 0
                     ? 0
                     : 13;
        outbox_row_free (&row);
        outbox_close (&box);
        _exit (rc);
    }
    int status = 0;
    waitpid (pid, &status, 0);
    char detail[80];
    snprintf (detail, sizeof detail, "child %s %d",
              WIFEXITED (status) ? "exited with" : "killed by signal",
              WIFEXITED (status) ? WEXITSTATUS (status) : WTERMSIG (status));
    s_check (WIFEXITED (status) && WEXITSTATUS (status) == 0,
             "an empty payload is stored and fetched", detail, __FILE__, __LINE__);
    s_remove_files ();
}

/*  Runs every group, prints the summary; exit status 1 on any failure.  */
int
main (void)
{
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 100; j++)
            s_payload[i][j] = (uint8_t) (j % 10 == 0 ? 0 : i + 1);
    if (!s_tmpdir_new (s_dir, sizeof s_dir, "/tmp/test_outbox.XXXXXX"))
        return 1;
    snprintf (s_path, sizeof s_path, "%s/outbox.db", s_dir);

    s_test_queue ();
    s_test_put_atomic ();
    s_test_sources ();
    s_test_quarantine ();
    s_test_quarantine_report ();
    s_test_open_errors ();
    s_test_failures_are_errors ();
    s_test_empty_payload ();

    s_remove_files ();
    rmdir (s_dir);
    return s_summary ();
}
