/*  outbox: durable local store on SQLite, see outbox.h. */
#include "outbox.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "strbuf.h"

struct outbox {
    sqlite3 *db;              /* the database file */
    sqlite3_stmt *put;        /* INSERT OR IGNORE one event */
    sqlite3_stmt *fetch;      /* events after a seq */
    sqlite3_stmt *remove;     /* DELETE one event */
    sqlite3_stmt *set_source; /* record a source offset */
    uint64_t depth;           /* events in the outbox (kept in step with it) */
};

static const char *schema =
    "CREATE TABLE IF NOT EXISTS outbox ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  event_id TEXT NOT NULL UNIQUE,"
    "  accepted_at_ms INTEGER NOT NULL,"
    "  payload BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS quarantine ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  at_ms INTEGER NOT NULL,"
    "  source TEXT NOT NULL," /* file:line, or 'hub' */
    "  event_id TEXT,"
    "  code TEXT NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  record BLOB);"
    /* a refused record is quarantined once, however often it is re-read */
    "CREATE UNIQUE INDEX IF NOT EXISTS quarantine_once ON quarantine (source, record)"
    "  WHERE event_id IS NULL;"
    "CREATE TABLE IF NOT EXISTS sources ("
    "  name TEXT PRIMARY KEY,"
    "  offset INTEGER NOT NULL);"
    /* the quarantine's rows by code, kept in step by triggers (whoever
       adds or clears rows), so that a heartbeat reads a few rows instead
       of counting the quarantine */
    "CREATE TABLE IF NOT EXISTS quarantine_counts ("
    "  code TEXT PRIMARY KEY,"
    "  n INTEGER NOT NULL);"
    "CREATE TRIGGER IF NOT EXISTS quarantine_counted AFTER INSERT ON quarantine BEGIN"
    "  INSERT OR IGNORE INTO quarantine_counts (code, n) VALUES (NEW.code, 0);"
    "  UPDATE quarantine_counts SET n = n + 1 WHERE code = NEW.code;"
    "END;"
    "CREATE TRIGGER IF NOT EXISTS quarantine_uncounted AFTER DELETE ON quarantine BEGIN"
    "  UPDATE quarantine_counts SET n = n - 1 WHERE code = OLD.code;"
    "END;"
    "CREATE TRIGGER IF NOT EXISTS quarantine_recounted AFTER UPDATE OF code ON quarantine"
    "  BEGIN"
    "  UPDATE quarantine_counts SET n = n - 1 WHERE code = OLD.code;"
    "  INSERT OR IGNORE INTO quarantine_counts (code, n) VALUES (NEW.code, 0);"
    "  UPDATE quarantine_counts SET n = n + 1 WHERE code = NEW.code;"
    "END;"
    /* marks the adapter keeps: how far the hub has confirmed the quarantine */
    "CREATE TABLE IF NOT EXISTS marks ("
    "  name TEXT PRIMARY KEY,"
    "  value INTEGER NOT NULL);";

/* The mark of the quarantine rows a hub has confirmed storing. */
#define REPORTED_MARK "quarantine-reported"

/* Counts the quarantine again when its counts do not add up (an outbox
   from before they were kept): once, at open. */
static const char recount[] =
    "BEGIN IMMEDIATE;"
    "DELETE FROM quarantine_counts"
    "  WHERE (SELECT coalesce(sum(n), 0) FROM quarantine_counts)"
    "     <> (SELECT count(*) FROM quarantine);"
    "INSERT OR IGNORE INTO quarantine_counts (code, n)"
    "  SELECT code, count(*) FROM quarantine GROUP BY code;"
    "COMMIT;";

static bool
prepare (outbox_t *self, sqlite3_stmt **stmt, const char *sql, char *err, size_t errlen)
{
    if (sqlite3_prepare_v2 (self->db, sql, -1, stmt, NULL) != SQLITE_OK) {
        snprintf (err, errlen, "%s", sqlite3_errmsg (self->db));
        return false;
    }
    return true;
}

/* SQLite's reason for the last failure, into err. */
static void
s_error (outbox_t *self, char *err, size_t errlen)
{
    snprintf (err, errlen, "%s", sqlite3_errmsg (self->db));
}

/* Ends a failed transaction. SQLite may have rolled it back already (a
   full disk, an I/O error); a transaction left open would refuse every
   later BEGIN, so it is rolled back whenever one is still open. */
static void
s_rollback (outbox_t *self)
{
    if (!sqlite3_get_autocommit (self->db))
        (void) sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Runs sql (one row, one integer column) into *out. Returns 0, or -1
   with the reason in err. */
static int
s_scalar (outbox_t *self, const char *sql, int64_t *out, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2 (self->db, sql, -1, &st, NULL) != SQLITE_OK) {
        s_error (self, err, errlen);
        return -1;
    }
    int rc = sqlite3_step (st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64 (st, 0);
    else
        s_error (self, err, errlen);
    sqlite3_finalize (st);
    return rc == SQLITE_ROW ? 0 : -1;
}

outbox_t *
outbox_open (const char *path, char *err, size_t errlen)
{
    outbox_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    char *msg = NULL;
    if (sqlite3_open (path, &self->db) != SQLITE_OK) {
        snprintf (err, errlen, "could not open outbox \"%s\": %s", path,
                  sqlite3_errmsg (self->db));
        goto fail;
    }
    sqlite3_busy_timeout (self->db, 5000);
    /* WAL + FULL: every commit is on disk before outbox_put returns */
    if (sqlite3_exec (self->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", NULL,
                      NULL, &msg)
            != SQLITE_OK
        || sqlite3_exec (self->db, schema, NULL, NULL, &msg) != SQLITE_OK
        || sqlite3_exec (self->db, recount, NULL, NULL, &msg) != SQLITE_OK) {
        s_rollback (self);
        snprintf (err, errlen, "could not set up outbox \"%s\": %s", path,
                  msg ? msg : sqlite3_errmsg (self->db));
        sqlite3_free (msg);
        goto fail;
    }
    char perr[256];
    if (!prepare (self, &self->put,
                  "INSERT OR IGNORE INTO outbox (event_id, accepted_at_ms, payload) "
                  "VALUES (?1, ?2, ?3)",
                  perr, sizeof perr)
        || !prepare (self, &self->fetch,
                     "SELECT seq, event_id, payload FROM outbox WHERE seq > ?1 "
                     "ORDER BY seq LIMIT ?2",
                     perr, sizeof perr)
        || !prepare (self, &self->remove, "DELETE FROM outbox WHERE seq = ?1", perr,
                     sizeof perr)
        || !prepare (self, &self->set_source,
                     "INSERT INTO sources (name, offset) VALUES (?1, ?2) "
                     "ON CONFLICT (name) DO UPDATE SET offset = excluded.offset",
                     perr, sizeof perr)) {
        snprintf (err, errlen, "could not prepare outbox \"%s\": %s", path, perr);
        goto fail;
    }
    int64_t depth;
    if (s_scalar (self, "SELECT count(*) FROM outbox", &depth, perr, sizeof perr) != 0) {
        snprintf (err, errlen, "could not count the events in outbox \"%s\": %s", path,
                  perr);
        goto fail;
    }
    self->depth = (uint64_t) depth;
    return self;
fail:
    outbox_close (&self);
    return NULL;
}

void
outbox_close (outbox_t **self_p)
{
    outbox_t *self = *self_p;
    if (!self)
        return;
    sqlite3_finalize (self->put);
    sqlite3_finalize (self->fetch);
    sqlite3_finalize (self->remove);
    sqlite3_finalize (self->set_source);
    sqlite3_close (self->db);
    free (self);
    *self_p = NULL;
}

int
outbox_put (outbox_t *self, const outbox_item_t *items, size_t n, const char *source,
            int64_t offset, char *err, size_t errlen)
{
    int added = 0;
    if (sqlite3_exec (self->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset (self->put);
        sqlite3_bind_text (self->put, 1, items[i].event_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (self->put, 2, items[i].accepted_at_ms);
        sqlite3_bind_blob (self->put, 3, items[i].bytes, (int) items[i].len, SQLITE_STATIC);
        if (sqlite3_step (self->put) != SQLITE_DONE)
            goto rollback;
        added += sqlite3_changes (self->db);
    }
    if (source) {
        sqlite3_reset (self->set_source);
        sqlite3_bind_text (self->set_source, 1, source, -1, SQLITE_STATIC);
        sqlite3_bind_int64 (self->set_source, 2, offset);
        if (sqlite3_step (self->set_source) != SQLITE_DONE)
            goto rollback;
    }
    if (sqlite3_exec (self->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto rollback;
    self->depth += (uint64_t) added;
    return added;
rollback:
    s_error (self, err, errlen);
    s_rollback (self);
    return -1;
fail:
    s_error (self, err, errlen);
    return -1;
}

int
outbox_source_offset (outbox_t *self, const char *source, int64_t *offset, char *err,
                      size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2 (self->db, "SELECT offset FROM sources WHERE name = ?1", -1, &st,
                            NULL)
        != SQLITE_OK) {
        s_error (self, err, errlen);
        return -1;
    }
    sqlite3_bind_text (st, 1, source, -1, SQLITE_STATIC);
    int rc = sqlite3_step (st);
    if (rc == SQLITE_ROW)
        *offset = sqlite3_column_int64 (st, 0);
    else if (rc == SQLITE_DONE)
        *offset = 0; /* never consumed */
    else
        s_error (self, err, errlen);
    sqlite3_finalize (st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int
outbox_source_done (outbox_t *self, const char *source, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2 (self->db, "DELETE FROM sources WHERE name = ?1", -1, &st, NULL)
        != SQLITE_OK) {
        s_error (self, err, errlen);
        return -1;
    }
    sqlite3_bind_text (st, 1, source, -1, SQLITE_STATIC);
    int rc = sqlite3_step (st) == SQLITE_DONE ? 0 : -1;
    if (rc != 0)
        s_error (self, err, errlen);
    sqlite3_finalize (st);
    return rc;
}

int
outbox_fetch (outbox_t *self, int64_t after_seq, size_t max_n, size_t max_bytes,
              outbox_row_t *rows, char *err, size_t errlen)
{
    size_t n = 0, bytes = 0;
    sqlite3_reset (self->fetch);
    sqlite3_bind_int64 (self->fetch, 1, after_seq);
    sqlite3_bind_int64 (self->fetch, 2, (sqlite3_int64) max_n);
    int rc = SQLITE_DONE;
    while (n < max_n && (rc = sqlite3_step (self->fetch)) == SQLITE_ROW) {
        size_t len = (size_t) sqlite3_column_bytes (self->fetch, 2);
        if (n > 0 && bytes + len > max_bytes)
            break;
        outbox_row_t *r = &rows[n++];
        r->seq = sqlite3_column_int64 (self->fetch, 0);
        snprintf (r->event_id, sizeof r->event_id, "%s",
                  (const char *) sqlite3_column_text (self->fetch, 1));
        r->len = len;
        r->bytes = malloc (len ? len : 1);
        if (!r->bytes)
            abort ();
        if (len)
            memcpy (r->bytes, sqlite3_column_blob (self->fetch, 2), len);
        bytes += len;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        /* a read that failed part way is no "nothing more": give it all back */
        s_error (self, err, errlen);
        for (size_t i = 0; i < n; i++)
            outbox_row_free (&rows[i]);
        sqlite3_reset (self->fetch);
        return -1;
    }
    sqlite3_reset (self->fetch);
    return (int) n;
}

void
outbox_row_free (outbox_row_t *row)
{
    free (row->bytes);
    row->bytes = NULL;
}

int
outbox_remove (outbox_t *self, const int64_t *seqs, size_t n, char *err, size_t errlen)
{
    if (n == 0)
        return 0;
    if (sqlite3_exec (self->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        s_error (self, err, errlen);
        return -1;
    }
    uint64_t removed = 0;
    for (size_t i = 0; i < n; i++) {
        sqlite3_reset (self->remove);
        sqlite3_bind_int64 (self->remove, 1, seqs[i]);
        if (sqlite3_step (self->remove) != SQLITE_DONE)
            goto fail;
        removed += (uint64_t) sqlite3_changes (self->db);
    }
    /* the depth moves only with a commit: a full disk fails the commit */
    if (sqlite3_exec (self->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    self->depth -= removed;
    return 0;
fail:
    s_error (self, err, errlen);
    s_rollback (self);
    return -1;
}

int
outbox_quarantine_event (outbox_t *self, int64_t seq, const char *code, const char *reason,
                         char *err, size_t errlen)
{
    if (sqlite3_exec (self->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        s_error (self, err, errlen);
        return -1;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2 (
            self->db,
            "INSERT INTO quarantine (at_ms, source, event_id, code, reason, "
            "record) SELECT ?1, 'hub', event_id, ?2, ?3, payload FROM outbox "
            "WHERE seq = ?4",
            -1, &st, NULL)
        != SQLITE_OK)
        goto fail;
    sqlite3_bind_int64 (st, 1, clock_now_ms ());
    sqlite3_bind_text (st, 2, code, -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 3, reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64 (st, 4, seq);
    int rc = sqlite3_step (st);
    sqlite3_finalize (st);
    if (rc != SQLITE_DONE)
        goto fail;
    sqlite3_reset (self->remove);
    sqlite3_bind_int64 (self->remove, 1, seq);
    if (sqlite3_step (self->remove) != SQLITE_DONE)
        goto fail;
    uint64_t removed = (uint64_t) sqlite3_changes (self->db);
    if (sqlite3_exec (self->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    self->depth -= removed;
    return 0;
fail:
    s_error (self, err, errlen);
    s_rollback (self);
    return -1;
}

int
outbox_quarantine_record (outbox_t *self, const char *where, const char *reason,
                          const char *record, size_t len, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2 (
            self->db,
            "INSERT OR IGNORE INTO quarantine (at_ms, source, code, reason, "
            "record) VALUES (?1, ?2, 'BAD_RECORD', ?3, ?4)",
            -1, &st, NULL)
        != SQLITE_OK) {
        s_error (self, err, errlen);
        return -1;
    }
    sqlite3_bind_int64 (st, 1, clock_now_ms ());
    sqlite3_bind_text (st, 2, where, -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 3, reason, -1, SQLITE_STATIC);
    sqlite3_bind_blob (st, 4, record, (int) len, SQLITE_STATIC);
    int rc = sqlite3_step (st) == SQLITE_DONE ? 0 : -1;
    if (rc != 0)
        s_error (self, err, errlen);
    sqlite3_finalize (st);
    return rc;
}

uint64_t
outbox_depth (outbox_t *self)
{
    return self->depth;
}

int
outbox_oldest_ms (outbox_t *self, int64_t *oldest_ms, char *err, size_t errlen)
{
    *oldest_ms = 0;
    if (!self->depth)
        return 0;
    /* min() of no rows is NULL, read as 0 */
    return s_scalar (self, "SELECT coalesce(min(accepted_at_ms), 0) FROM outbox", oldest_ms,
                     err, errlen);
}

int64_t
outbox_quarantined (outbox_t *self, char *err, size_t errlen)
{
    int64_t n;
    return s_scalar (self, "SELECT count(*) FROM quarantine", &n, err, errlen) == 0 ? n
                                                                                    : -1;
}

/* Copies text into out (size bytes) as valid UTF-8, cut at a character
   when longer. */
static void
s_bounded (char *out, size_t size, const unsigned char *text)
{
    utf8_safe_copy (out, size, text ? (const char *) text : "");
}

/* The same for a place ("<path>:<line>"): a long one keeps its end, the
   file's name and the line, after "...". */
static void
s_tail (char *out, size_t size, const unsigned char *text)
{
    const char *t = text ? (const char *) text : "";
    size_t len = strlen (t);
    char tail[1024];
    if (size > sizeof tail)
        size = sizeof tail;
    if (len < size) {
        s_bounded (out, size, (const unsigned char *) t);
        return;
    }
    const char *from = t + len - (size - 4);
    while ((*(const unsigned char *) from & 0xC0) == 0x80)
        from++; /* not inside a character */
    snprintf (tail, size, "...%s", from);
    s_bounded (out, size, (const unsigned char *) tail);
}

int
outbox_quarantine_counts (outbox_t *self, outbox_code_count_t *counts, size_t max,
                          size_t *n, uint64_t *total, char *err, size_t errlen)
{
    *n = 0;
    *total = 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2 (self->db,
                            "SELECT code, n FROM quarantine_counts WHERE n > 0 ORDER BY code",
                            -1, &st, NULL)
        != SQLITE_OK) {
        s_error (self, err, errlen);
        return -1;
    }
    int rc;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        uint64_t count = (uint64_t) sqlite3_column_int64 (st, 1);
        *total += count;
        if (*n < max) {
            s_bounded (counts[*n].code, sizeof counts[*n].code, sqlite3_column_text (st, 0));
            counts[*n].count = count;
            (*n)++;
        }
    }
    if (rc != SQLITE_DONE) {
        s_error (self, err, errlen);
        *n = 0;
        *total = 0;
    }
    sqlite3_finalize (st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int
outbox_quarantine_after (outbox_t *self, int64_t after_id, outbox_reject_t *rows,
                         size_t max, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2 (self->db,
                            "SELECT id, source, event_id, code, reason, at_ms FROM quarantine "
                            "WHERE id > ?1 ORDER BY id LIMIT ?2",
                            -1, &st, NULL)
        != SQLITE_OK) {
        s_error (self, err, errlen);
        return -1;
    }
    sqlite3_bind_int64 (st, 1, after_id);
    sqlite3_bind_int64 (st, 2, (sqlite3_int64) max);
    int n = 0, rc = SQLITE_DONE;
    while ((size_t) n < max && (rc = sqlite3_step (st)) == SQLITE_ROW) {
        outbox_reject_t *r = &rows[n++];
        r->id = sqlite3_column_int64 (st, 0);
        const unsigned char *event_id = sqlite3_column_text (st, 2);
        s_bounded (r->event_id, sizeof r->event_id, event_id);
        if (event_id) {
            /* an event the hub rejected: where it was read is not kept */
            char place[sizeof r->place];
            snprintf (place, sizeof place, "event %s", r->event_id);
            s_bounded (r->place, sizeof r->place, (const unsigned char *) place);
        }
        else
            s_tail (r->place, sizeof r->place, sqlite3_column_text (st, 1));
        s_bounded (r->code, sizeof r->code, sqlite3_column_text (st, 3));
        s_bounded (r->reason, sizeof r->reason, sqlite3_column_text (st, 4));
        r->at_ms = sqlite3_column_int64 (st, 5);
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        s_error (self, err, errlen);
        n = -1;
    }
    sqlite3_finalize (st);
    return n;
}

int
outbox_reported_mark (outbox_t *self, int64_t *mark, char *err, size_t errlen)
{
    return s_scalar (self,
                     "SELECT coalesce((SELECT value FROM marks WHERE name = '" REPORTED_MARK
                     "'), 0)",
                     mark, err, errlen);
}

int
outbox_set_reported_mark (outbox_t *self, int64_t mark, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2 (self->db,
                            "INSERT INTO marks (name, value) VALUES ('" REPORTED_MARK
                            "', ?1) ON CONFLICT (name) DO UPDATE SET value = "
                            "max(value, excluded.value)",
                            -1, &st, NULL)
        != SQLITE_OK) {
        s_error (self, err, errlen);
        return -1;
    }
    sqlite3_bind_int64 (st, 1, mark);
    int rc = sqlite3_step (st) == SQLITE_DONE ? 0 : -1;
    if (rc != 0)
        s_error (self, err, errlen);
    sqlite3_finalize (st);
    return rc;
}
