/*  adapter: the shared adapter run loop, see adapter.h. */
#include "adapter.h"

#include <dirent.h>
#include <signal.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "clock.h"
#include "log.h"
#include "outbox.h"
#include "record.h"
#include "sender.h"
#include "source_db.h"
#include "strbuf.h"
#include "task_db.h"
#include "task_out.h"

#define CHUNK_LINES    1000 /* records per outbox transaction */
#define STATS_EVERY_MS 10000

/* A record refused before it became an event. */
typedef struct {
    char *where;  /* file:line */
    char *reason; /* why, naming the field */
    char *record; /* the record as read */
    size_t len;   /* bytes in record */
} bad_record_t;

/* Records read but not yet in the outbox. */
typedef struct {
    outbox_item_t *items;  /* accepted records */
    uint8_t **bytes;       /* their encodings (owned) */
    char (*ids)[37];       /* their event ids */
    size_t n;              /* records in items */
    bad_record_t *bad;     /* refused records */
    size_t n_bad, cap_bad; /* count and capacity of bad */
} chunk_t;

/* An event the hub rejected, on its way to the quarantine. */
typedef struct {
    int64_t seq;      /* its outbox seq */
    const char *code; /* the hub's error code (a static name) */
    char *event_id;   /* for messages */
    char *reason;     /* the hub's reason */
} reject_t;

typedef struct {
    const adapter_config_t *config; /* settings */
    adapter_map_fn map;             /* the agency's mapping */
    outbox_t *outbox;               /* durable store */
    sender_t *sender;               /* delivery */
    int64_t cursor;                 /* highest outbox seq handed to the sender */
    chunk_t chunk;                  /* records being accepted */
    strbuf_t stdin_buf;             /* unconsumed bytes from stdin */
    uint64_t stdin_lines;           /* lines consumed from stdin */
    bool input_done;                /* no more input (stdin EOF) */
    bool spool_empty;               /* the last spool scan (or table poll) found nothing */
    source_db_t *source_db;         /* the agency's outbox table, or NULL */
    task_db_t *task_db;             /* the agency's task table, or NULL */
    int64_t input_retry_at;         /* after an outbox failure, wait until then */
    int64_t next_scan;              /* next spool scan, monotonic ms */
    char **stuck;                   /* consumed spool files not yet moved to done/ */
    size_t n_stuck;
    int64_t stuck_retry_at;         /* next attempt at moving them */
    int64_t *to_remove;             /* acknowledged seqs to delete */
    size_t n_remove, cap_remove;
    reject_t *rejects;              /* rejected events not yet quarantined */
    size_t n_rejects, cap_rejects;
    int64_t settle_retry_at;        /* after a failure to settle answers, 0 if none */
    uint64_t accepted, acked, rejected, refused; /* counters */
    uint64_t task_cursor;  /* the last task handed durably to the agency */
    bool unsent;           /* the outbox may hold events past cursor */
    int64_t fetch_retry_at; /* after a failed outbox read, not before this */
    outbox_row_t *rows;    /* a batch read from the outbox (batch_max, allocated once) */
    const uint8_t **bytes; /* their encodings, for the sender */
    size_t *lens;          /* their lengths */
    int64_t *tokens;       /* their outbox seqs */
} adapter_t;

static void
chunk_init (chunk_t *c)
{
    c->items = calloc (CHUNK_LINES, sizeof *c->items);
    c->bytes = calloc (CHUNK_LINES, sizeof *c->bytes);
    c->ids = calloc (CHUNK_LINES, sizeof *c->ids);
    if (!c->items || !c->bytes || !c->ids)
        abort ();
    c->n = 0;
    c->bad = NULL;
    c->n_bad = c->cap_bad = 0;
}

static void
chunk_clear (chunk_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        free (c->bytes[i]);
    c->n = 0;
    for (size_t i = 0; i < c->n_bad; i++) {
        free (c->bad[i].where);
        free (c->bad[i].reason);
        free (c->bad[i].record);
    }
    c->n_bad = 0;
}

static void
chunk_free (chunk_t *c)
{
    chunk_clear (c);
    free (c->items);
    free (c->bytes);
    free (c->ids);
    free (c->bad);
}

/* Maps one line into the chunk (or its refused list). */
static void
add_bad (chunk_t *c, const char *where, const char *reason, const char *record, size_t len)
{
    if (c->n_bad == c->cap_bad) {
        c->cap_bad = c->cap_bad ? 2 * c->cap_bad : 16;
        c->bad = realloc (c->bad, c->cap_bad * sizeof *c->bad);
        if (!c->bad)
            abort ();
    }
    bad_record_t *b = &c->bad[c->n_bad++];
    b->where = strdup (where);
    b->reason = strdup (reason);
    b->record = malloc (len + 1);
    if (!b->where || !b->reason || !b->record)
        abort ();
    memcpy (b->record, record, len);
    b->record[len] = '\0';
    b->len = len;
}

/* Maps one line into the chunk (or its refused list); where names it
   ("file:line", "table onenet_outbox row 17"). Returns false for a blank
   line, which is neither. */
static bool
take_line (adapter_t *self, const char *line, size_t len, const char *where)
{
    while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
        len--;
    size_t start = 0;
    while (start < len && (line[start] == ' ' || line[start] == '\t'))
        start++;
    if (start == len)
        return false; /* blank line */
    chunk_t *c = &self->chunk;
    char err[320];
    size_t blen;
    int64_t now = clock_now_ms ();
    uint8_t *bytes = self->map (line, len, self->config->agency, self->config->adapter_id,
                                now, c->ids[c->n], &blen, err, sizeof err);
    if (bytes && blen > (size_t) self->config->max_message_bytes - 1024) {
        /* it could never travel: refuse it here rather than block the link */
        snprintf (err, sizeof err,
                  "record encodes to %zu bytes, more than a message "
                  "may carry (max-message-bytes %d)",
                  blen, self->config->max_message_bytes);
        free (bytes);
        bytes = NULL;
    }
    if (!bytes) {
        add_bad (c, where, err, line, len);
        return true;
    }
    c->bytes[c->n] = bytes;
    c->items[c->n] = (outbox_item_t){c->ids[c->n], bytes, blen, now};
    c->n++;
    return true;
}

/* Commits the chunk to the outbox (with the source position). Returns false
   when the outbox refused it; the chunk is then kept for a retry. */
static bool
commit_chunk (adapter_t *self, const char *source, int64_t offset)
{
    chunk_t *c = &self->chunk;
    /* refused records first: if the process dies before the records below
       commit, the chunk is read again and each refusal is recorded once */
    char err[256];
    for (size_t i = 0; i < c->n_bad; i++) {
        bad_record_t *b = &c->bad[i];
        if (outbox_quarantine_record (self->outbox, b->where, b->reason, b->record, b->len,
                                      err, sizeof err)
            != 0) {
            /* the chunk is read again: nothing after the refusal is taken
               before the refusal itself is on record */
            log_error ("refused record not quarantined, input paused",
                       "adapter=%s agency=%s outbox=%s at=%s error=%s",
                       log_q (self->config->adapter_id), log_q (self->config->agency),
                       log_q (self->config->outbox), log_q (b->where), log_q (err));
            self->input_retry_at = clock_mono_ms () + 1000;
            return false;
        }
        log_warn ("record refused", "adapter=%s agency=%s at=%s reason=%s",
                  log_q (self->config->adapter_id), log_q (self->config->agency),
                  log_q (b->where), log_q (b->reason));
        self->refused++;
    }
    int added = outbox_put (self->outbox, c->items, c->n, source, offset, err, sizeof err);
    if (added < 0) {
        log_error ("outbox refused records, input paused",
                   "adapter=%s agency=%s outbox=%s records=%zu error=\"%s\"",
                   self->config->adapter_id, self->config->agency, self->config->outbox,
                   c->n, err);
        self->input_retry_at = clock_mono_ms () + 1000;
        return false;
    }
    self->accepted += (uint64_t) added;
    if (added > 0)
        self->unsent = true;
    chunk_clear (c);
    return true;
}

/* Reads what stdin has and accepts its complete lines. */
static void
read_stdin (adapter_t *self)
{
    char buf[65536];
    ssize_t n = read (STDIN_FILENO, buf, sizeof buf);
    if (n > 0)
        strbuf_append (&self->stdin_buf, buf, (size_t) n);
    else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        if (n < 0)
            log_error ("could not read stdin, taking it as ended",
                       "adapter=%s agency=%s lines=%llu error=%s",
                       log_q (self->config->adapter_id), log_q (self->config->agency),
                       (unsigned long long) self->stdin_lines, log_q (strerror (errno)));
        if (self->stdin_buf.len && self->stdin_buf.data[self->stdin_buf.len - 1] != '\n')
            strbuf_putc (&self->stdin_buf, '\n'); /* last line without newline */
        self->input_done = true;
    }
    /* accept complete lines, CHUNK_LINES per transaction */
    size_t consumed = 0;
    while (true) {
        uint64_t first_line = self->stdin_lines;
        size_t pos = consumed, lines = 0;
        while (lines < CHUNK_LINES && pos < self->stdin_buf.len) {
            char *nl = memchr (self->stdin_buf.data + pos, '\n', self->stdin_buf.len - pos);
            if (!nl)
                break;
            size_t end = (size_t) (nl - self->stdin_buf.data) + 1;
            char where[40];
            snprintf (where, sizeof where, "stdin:%llu",
                      (unsigned long long) (first_line + lines + 1));
            take_line (self, self->stdin_buf.data + pos, end - pos, where);
            lines++;
            pos = end;
        }
        if (lines == 0)
            break;
        if (!commit_chunk (self, NULL, 0)) {
            chunk_clear (&self->chunk);
            break; /* those lines stay in stdin_buf for the retry */
        }
        self->stdin_lines += lines;
        consumed = pos;
    }
    if (consumed) {
        memmove (self->stdin_buf.data, self->stdin_buf.data + consumed,
                 self->stdin_buf.len - consumed);
        self->stdin_buf.len -= consumed;
        self->stdin_buf.data[self->stdin_buf.len] = '\0';
    }
}

static int
compare_names (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

/* Moves path into spool/sub/, creating sub/ if needed. Returns false
   (after saying why) when the file stays where it is. */
static bool
move_to (adapter_t *self, const char *name, const char *sub)
{
    char dir[1024], from[1024], to[1100];
    snprintf (dir, sizeof dir, "%s/%s", self->config->spool, sub);
    snprintf (from, sizeof from, "%s/%s", self->config->spool, name);
    snprintf (to, sizeof to, "%s/%s", dir, name);
    if (mkdir (dir, 0755) != 0 && errno != EEXIST) {
        log_error ("could not move spool file", "adapter=%s agency=%s file=%s to=%s error=%s",
                   log_q (self->config->adapter_id), log_q (self->config->agency),
                   log_q (from), log_q (dir), log_q (strerror (errno)));
        return false;
    }
    if (rename (from, to) != 0) {
        log_error ("could not move spool file", "adapter=%s agency=%s file=%s to=%s error=%s",
                   log_q (self->config->adapter_id), log_q (self->config->agency),
                   log_q (from), log_q (dir), log_q (strerror (errno)));
        return false;
    }
    return true;
}

/* True when name is a consumed file that could not be moved to done/. */
static bool
is_stuck (adapter_t *self, const char *name)
{
    for (size_t i = 0; i < self->n_stuck; i++)
        if (strcmp (self->stuck[i], name) == 0)
            return true;
    return false;
}

/* Moves the consumed files that could not be moved before, now and then:
   until then they are skipped, never read again. */
static void
retry_stuck (adapter_t *self)
{
    if (self->n_stuck == 0 || clock_mono_ms () < self->stuck_retry_at)
        return;
    size_t kept = 0;
    for (size_t i = 0; i < self->n_stuck; i++) {
        if (move_to (self, self->stuck[i], "done"))
            free (self->stuck[i]);
        else
            self->stuck[kept++] = self->stuck[i];
    }
    self->n_stuck = kept;
    self->stuck_retry_at = clock_mono_ms () + 5000;
}

/* A spool file could not be read or its place not kept: log it, and take
   no more input for a second (the file is read again from where the
   outbox says it stopped). */
static void
spool_failed (adapter_t *self, const char *what, const char *path, const char *error)
{
    log_error (what, "adapter=%s agency=%s file=%s outbox=%s error=%s",
               log_q (self->config->adapter_id), log_q (self->config->agency), log_q (path),
               log_q (self->config->outbox), log_q (error));
    self->input_retry_at = clock_mono_ms () + 1000;
}

/* Accepts one chunk of one spool file. Returns true when the file is done. */
static bool
read_spool_file (adapter_t *self, const char *name)
{
    char path[1024], err[256];
    snprintf (path, sizeof path, "%s/%s", self->config->spool, name);
    int64_t offset;
    if (outbox_source_offset (self->outbox, name, &offset, err, sizeof err) != 0) {
        /* never taken as 0: that would read the file again from its start */
        spool_failed (self, "could not read how far the spool file was taken, will retry",
                      path, err);
        return false;
    }
    FILE *f = fopen (path, "r");
    if (!f) {
        log_error ("could not read spool file", "adapter=%s agency=%s file=%s error=%s",
                   log_q (self->config->adapter_id), log_q (self->config->agency),
                   log_q (path), log_q (strerror (errno)));
        if (move_to (self, name, "failed"))
            return true;
        self->input_retry_at = clock_mono_ms () + 1000;
        return false;
    }
    /* line numbers for messages: count the lines already consumed */
    uint64_t line_no = 0;
    int ch;
    for (int64_t i = 0; i < offset && (ch = fgetc (f)) != EOF; i++)
        if (ch == '\n')
            line_no++;
    if (ferror (f) || fseeko (f, (off_t) offset, SEEK_SET) != 0) {
        spool_failed (self, "could not read spool file, will retry", path, strerror (errno));
        fclose (f);
        return false;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    size_t lines = 0;
    int64_t pos = offset;
    bool at_end = false;
    while (lines < CHUNK_LINES) {
        len = getline (&line, &cap, f);
        if (len < 0) {
            /* the end, or a read error: only the end finishes the file */
            at_end = !ferror (f);
            break;
        }
        if (line[len - 1] != '\n' && !feof (f))
            break;
        char where[1100];
        snprintf (where, sizeof where, "%s:%llu", path,
                  (unsigned long long) (line_no + lines + 1));
        take_line (self, line, (size_t) len, where);
        lines++;
        pos += len;
    }
    bool read_error = ferror (f) != 0;
    int read_errno = errno;
    free (line);
    fclose (f);
    if (read_error) {
        /* what was read before the error is taken; the rest comes again */
        spool_failed (self, "could not read spool file, will retry", path,
                      strerror (read_errno));
    }
    if (lines && !commit_chunk (self, name, pos)) {
        chunk_clear (&self->chunk);
        return false;
    }
    if (!at_end)
        return false;
    /* forget the position first: a crash before the move re-reads the file,
       and its records come back as duplicates, which the hub absorbs */
    if (outbox_source_done (self->outbox, name, err, sizeof err) != 0) {
        /* still named in the outbox: the file stays, to be finished again */
        spool_failed (self, "could not record that the spool file was taken, will retry",
                      path, err);
        return false;
    }
    log_info ("spool file consumed", "adapter=%s agency=%s file=%s lines=%llu",
              log_q (self->config->adapter_id), log_q (self->config->agency), log_q (path),
              (unsigned long long) (line_no + lines));
    if (!move_to (self, name, "done")) {
        /* consumed and forgotten: it must not be read again while we run */
        self->stuck = realloc (self->stuck, (self->n_stuck + 1) * sizeof *self->stuck);
        if (!self->stuck || !(self->stuck[self->n_stuck] = strdup (name)))
            abort ();
        self->n_stuck++;
        self->stuck_retry_at = clock_mono_ms () + 5000;
    }
    return true;
}

/* Looks at the spool; accepts one chunk of the oldest complete file. */
static void
scan_spool (adapter_t *self)
{
    retry_stuck (self);
    DIR *dir = opendir (self->config->spool);
    if (!dir) {
        log_error ("could not open spool directory", "adapter=%s agency=%s spool=%s error=%s",
                   log_q (self->config->adapter_id), log_q (self->config->agency),
                   log_q (self->config->spool), log_q (strerror (errno)));
        self->next_scan = clock_mono_ms () + 5000;
        return;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir (dir)) != NULL) {
        size_t len = strlen (de->d_name);
        if (de->d_name[0] == '.' || len < 7
            || strcmp (de->d_name + len - 7, ".ndjson") != 0 || is_stuck (self, de->d_name))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = realloc (names, cap * sizeof *names);
            if (!names)
                abort ();
        }
        if (!(names[n++] = strdup (de->d_name)))
            abort ();
    }
    closedir (dir);
    if (n > 1)
        qsort (names, n, sizeof *names, compare_names);
    bool busy = false;
    self->spool_empty = n == 0;
    if (n > 0)
        busy = !read_spool_file (self, names[0]) || n > 1;
    for (size_t i = 0; i < n; i++)
        free (names[i]);
    free (names);
    /* more to read: come back at once; otherwise wait for the next scan */
    self->next_scan = clock_mono_ms () + (busy ? 0 : self->config->spool_scan_ms);
}

/* Claims one batch of the agency's outbox table, accepts it into the outbox
   and marks the rows in the agency table, see source_db.h. Each row is one
   event whose id is derived from the agency, the table and the row id, so a
   row claimed again after a crash is the same event. */
static void
poll_db (adapter_t *self)
{
    const adapter_config_t *config = self->config;
    char err[512];
    int n = source_db_claim (self->source_db, config->source_batch, err, sizeof err);
    if (n < 0) {
        log_error ("could not read the agency's outbox table, will retry",
                   "adapter=%s agency=%s table=%s error=\"%s\"", config->adapter_id,
                   config->agency, source_db_table (self->source_db), err);
        /* at most one attempt (and one message) a second while it fails */
        self->next_scan = clock_mono_ms ()
                          + (config->source_poll_ms > 1000 ? config->source_poll_ms : 1000);
        return;
    }
    self->spool_empty = n == 0;
    if (n == 0) {
        self->next_scan = clock_mono_ms () + config->source_poll_ms;
        return;
    }
    const char *table = source_db_table (self->source_db);
    chunk_t *c = &self->chunk;
    char (*ids)[37] = calloc ((size_t) n, sizeof *ids);
    const char **event_ids = calloc ((size_t) n, sizeof *event_ids);
    char **reasons = calloc ((size_t) n, sizeof *reasons);
    if (!ids || !event_ids || !reasons)
        abort ();
    for (int i = 0; i < n; i++) {
        int64_t row = source_db_row_id (self->source_db, i);
        size_t len;
        const char *record = source_db_row_record (self->source_db, i, &len);
        char where[200], row_text[24];
        snprintf (where, sizeof where, "table %s row %lld", table, (long long) row);
        snprintf (row_text, sizeof row_text, "%lld", (long long) row);
        size_t good = c->n, bad = c->n_bad;
        if (!take_line (self, record, len, where))
            add_bad (c, where, "field \"record\" is empty", record, len);
        if (c->n > good) {
            /* the row's own id replaces the one the mapping derived */
            const char *parts[3] = {config->agency, table, row_text};
            size_t lens[3] = {strlen (config->agency), strlen (table), strlen (row_text)};
            record_event_id (parts, lens, 3, ids[i]);
            size_t blen;
            uint8_t *bytes =
                record_event_with_id (c->bytes[good], c->items[good].len, ids[i], &blen);
            if (!bytes)
                abort (); /* the mapping's own encoding always decodes */
            free (c->bytes[good]);
            c->bytes[good] = bytes;
            memcpy (c->ids[good], ids[i], 37);
            c->items[good] =
                (outbox_item_t){c->ids[good], bytes, blen, c->items[good].accepted_at_ms};
            event_ids[i] = ids[i];
        }
        else if (c->n_bad > bad) {
            reasons[i] = strdup (c->bad[bad].reason);
            if (!reasons[i])
                abort ();
        }
    }
    if (!commit_chunk (self, NULL, 0)) {
        chunk_clear (c);
        source_db_abort (self->source_db); /* the rows stay new for the retry */
    }
    else if (source_db_finish (self->source_db, config->adapter_id, event_ids,
                               (const char *const *) reasons, err, sizeof err)
             != 0)
        log_error ("could not mark rows of the agency's outbox table; they will be "
                   "claimed again and absorbed as duplicates",
                   "adapter=%s agency=%s table=%s rows=%d error=\"%s\"", config->adapter_id,
                   config->agency, table, n, err);
    for (int i = 0; i < n; i++)
        free (reasons[i]);
    free (reasons);
    free (event_ids);
    free (ids);
    /* a full batch: more may wait, come back at once */
    self->next_scan =
        clock_mono_ms () + (n == config->source_batch ? 0 : config->source_poll_ms);
}

/* Moves the events the hub rejected into quarantine. One that fails stays
   listed (and in the outbox, where a restart would send it again and have
   it rejected again) and is tried again later. Returns false while any
   is left. */
static bool
quarantine_rejected (adapter_t *self)
{
    size_t kept = 0;
    for (size_t i = 0; i < self->n_rejects; i++) {
        reject_t *r = &self->rejects[i];
        char err[256];
        if (outbox_quarantine_event (self->outbox, r->seq, r->code, r->reason, err,
                                     sizeof err)
            == 0) {
            free (r->event_id);
            free (r->reason);
            continue;
        }
        log_error ("rejected event not quarantined, will retry",
                   "adapter=%s agency=%s outbox=%s event=%s error=%s",
                   log_q (self->config->adapter_id), log_q (self->config->agency),
                   log_q (self->config->outbox), log_q (r->event_id), log_q (err));
        self->rejects[kept++] = *r;
    }
    self->n_rejects = kept;
    return kept == 0;
}

/* Writes down the hub's answers: acknowledged events leave the outbox,
   rejected ones move to its quarantine. On failure (disk full) they stay
   listed and are tried again a second later; until then a restart would
   only resend duplicates, which the hub absorbs. */
static void
settle_answers (adapter_t *self)
{
    char err[256];
    bool ok = quarantine_rejected (self);
    if (self->n_remove
        && outbox_remove (self->outbox, self->to_remove, self->n_remove, err, sizeof err)
               != 0) {
        log_error ("acknowledged events not removed from the outbox, will retry",
                   "adapter=%s agency=%s outbox=%s count=%zu error=%s",
                   log_q (self->config->adapter_id), log_q (self->config->agency),
                   log_q (self->config->outbox), self->n_remove, log_q (err));
        ok = false;
    }
    else
        self->n_remove = 0;
    self->settle_retry_at = ok ? 0 : clock_mono_ms () + 1000;
}

static void
on_ack (void *user, int64_t seq, const event_ack_t *ack)
{
    adapter_t *self = user;
    if (ack->status == ACK_REJECTED) {
        log_error ("hub rejected event, quarantined",
                   "adapter=%s agency=%s event=%s code=%s reason=%s",
                   log_q (self->config->adapter_id), log_q (self->config->agency),
                   log_q (ack->event_id), error_code_name (ack->code), log_q (ack->reason));
        if (self->n_rejects == self->cap_rejects) {
            self->cap_rejects = self->cap_rejects ? self->cap_rejects * 2 : 16;
            self->rejects = realloc (self->rejects, self->cap_rejects * sizeof *self->rejects);
            if (!self->rejects)
                abort ();
        }
        reject_t *r = &self->rejects[self->n_rejects++];
        r->seq = seq;
        r->code = error_code_name (ack->code);
        r->event_id = strdup (ack->event_id);
        r->reason = strdup (ack->reason);
        if (!r->event_id || !r->reason)
            abort ();
        self->rejected++;
        return;
    }
    if (self->n_remove == self->cap_remove) {
        self->cap_remove = self->cap_remove ? self->cap_remove * 2 : 1024;
        self->to_remove = realloc (self->to_remove, self->cap_remove * sizeof (int64_t));
        if (!self->to_remove)
            abort ();
    }
    self->to_remove[self->n_remove++] = seq;
    self->acked++;
}

/* Source name under which the task cursor lives in the outbox. */
#define TASK_CURSOR_SOURCE "hub-tasks"

/* One task from the hub: written to the out-spool, then the cursor moves
   (durably). Tasks at or below the cursor were delivered already; a task
   past cursor + 1 means one was lost on the way, and the next heartbeat's
   cursor asks for it again. */
static void
on_task (void *user, const task_t *task)
{
    adapter_t *self = user;
    if ((!*self->config->task_spool && !self->task_db) || task->seq <= self->task_cursor
        || task->seq != self->task_cursor + 1)
        return;
    char err[512];
    int written = self->task_db ? task_db_write (self->task_db, task, err, sizeof err) : 1;
    if (written < 0) {
        log_error ("task not delivered to the agency, will retry",
                   "adapter=%s agency=%s task=%llu table=%s error=\"%s\"",
                   self->config->adapter_id, self->config->agency,
                   (unsigned long long) task->seq, self->config->task_table, err);
        return;
    }
    if (written == 0)
        log_info ("task was with the agency already",
                  "adapter=%s agency=%s task=%llu table=%s", self->config->adapter_id,
                  self->config->agency, (unsigned long long) task->seq,
                  self->config->task_table);
    if (*self->config->task_spool
        && task_out_write (self->config->task_spool, task, err, sizeof err) != 0) {
        log_error ("task not delivered to the agency, will retry",
                   "adapter=%s agency=%s "
                   "task=%llu error=\"%s\"",
                   self->config->adapter_id, self->config->agency,
                   (unsigned long long) task->seq, err);
        return;
    }
    if (outbox_put (self->outbox, NULL, 0, TASK_CURSOR_SOURCE, (int64_t) task->seq, err,
                    sizeof err)
        < 0) {
        log_error ("task cursor not saved, the task will come again",
                   "adapter=%s task=%llu "
                   "error=\"%s\"",
                   self->config->adapter_id, (unsigned long long) task->seq, err);
        return;
    }
    self->task_cursor = task->seq;
    log_info ("task delivered to the agency",
              "adapter=%s agency=%s task=%llu kind=%s %s=%s", self->config->adapter_id,
              self->config->agency, (unsigned long long) task->seq, task->kind,
              key_kind_name (task->key_kind), task->key_value);
}

/* Hands unsent outbox events to the sender while the window has room. */
static void
fill_window (adapter_t *self)
{
    size_t max = (size_t) self->config->batch_max;
    if (clock_mono_ms () < self->fetch_retry_at)
        return;
    while (self->unsent && sender_has_room (self->sender)) {
        /* leave room for the batch envelope */
        char err[256];
        int got = outbox_fetch (self->outbox, self->cursor, max,
                                (size_t) self->config->max_message_bytes - 1024, self->rows,
                                err, sizeof err);
        if (got < 0) {
            /* a failed read is no "all sent": the events wait for the retry */
            log_error ("could not read events from the outbox, will retry",
                       "adapter=%s agency=%s outbox=%s after_seq=%lld error=%s",
                       log_q (self->config->adapter_id), log_q (self->config->agency),
                       log_q (self->config->outbox), (long long) self->cursor, log_q (err));
            self->fetch_retry_at = clock_mono_ms () + 1000;
            break;
        }
        size_t n = (size_t) got;
        if (n == 0) {
            self->unsent = false; /* all handed over: no query until new input */
            break;
        }
        for (size_t i = 0; i < n; i++) {
            self->bytes[i] = self->rows[i].bytes;
            self->lens[i] = self->rows[i].len;
            self->tokens[i] = self->rows[i].seq;
        }
        if (sender_send (self->sender, self->bytes, self->lens, self->tokens, n) != 0)
            log_error ("could not encode a batch from the outbox",
                       "adapter=%s agency=%s outbox=%s first_seq=%lld",
                       log_q (self->config->adapter_id), log_q (self->config->agency),
                       log_q (self->config->outbox), (long long) self->rows[0].seq);
        self->cursor = self->rows[n - 1].seq;
        for (size_t i = 0; i < n; i++)
            outbox_row_free (&self->rows[i]);
    }
}

static void
log_stats (adapter_t *self)
{
    log_info ("adapter stats",
              "adapter=%s agency=%s accepted=%llu acknowledged=%llu rejected=%llu "
              "refused=%llu outbox=%llu in_flight=%zu",
              self->config->adapter_id, self->config->agency,
              (unsigned long long) self->accepted, (unsigned long long) self->acked,
              (unsigned long long) self->rejected, (unsigned long long) self->refused,
              (unsigned long long) outbox_depth (self->outbox),
              sender_in_flight (self->sender));
}

int
adapter_run (const adapter_config_t *config, adapter_map_fn map,
             volatile sig_atomic_t *terminated)
{
    adapter_t self_;
    adapter_t *self = &self_;
    memset (self, 0, sizeof *self);
    self->config = config;
    self->map = map;
    char err[512];
    self->outbox = outbox_open (config->outbox, err, sizeof err);
    if (!self->outbox) {
        log_error ("could not open the outbox", "adapter=%s error=\"%s\"",
                   config->adapter_id, err);
        return 1;
    }
    bool from_db = *config->source_db != '\0';
    bool from_stdin = !*config->spool && !from_db;
    if (from_db && *config->spool) {
        log_error ("spool and source-db are two ways in: choose one", "adapter=%s spool=%s",
                   config->adapter_id, config->spool);
        outbox_close (&self->outbox);
        return 2;
    }
    if (from_db) {
        self->source_db = source_db_new (config->source_db, config->source_table,
                                         config->db_create_tables, err, sizeof err);
        if (!self->source_db) {
            log_error ("bad agency database settings", "adapter=%s error=\"%s\"",
                       config->adapter_id, err);
            outbox_close (&self->outbox);
            return 2;
        }
    }
    if (*config->task_db) {
        self->task_db = task_db_new (config->task_db, config->task_table,
                                     config->db_create_tables, err, sizeof err);
        if (!self->task_db) {
            log_error ("bad agency database settings", "adapter=%s error=\"%s\"",
                       config->adapter_id, err);
            source_db_destroy (&self->source_db);
            outbox_close (&self->outbox);
            return 2;
        }
    }
    int64_t task_cursor = 0;
    if ((*config->task_spool || self->task_db)
        && outbox_source_offset (self->outbox, TASK_CURSOR_SOURCE, &task_cursor, err,
                                 sizeof err)
               != 0) {
        /* never taken as 0: the agency would get every task again */
        log_error ("could not read the task cursor from the outbox",
                   "adapter=%s agency=%s outbox=%s error=%s", log_q (config->adapter_id),
                   log_q (config->agency), log_q (config->outbox), log_q (err));
        source_db_destroy (&self->source_db);
        task_db_destroy (&self->task_db);
        outbox_close (&self->outbox);
        return 1;
    }
    self->task_cursor = (uint64_t) task_cursor;
    if (*config->task_spool) {
        if (mkdir (config->task_spool, 0755) != 0 && errno != EEXIST) {
            log_error ("could not create the task out-spool",
                       "adapter=%s task_spool=%s "
                       "error=\"%s\"",
                       config->adapter_id, config->task_spool, strerror (errno));
            source_db_destroy (&self->source_db);
            task_db_destroy (&self->task_db);
            outbox_close (&self->outbox);
            return 1;
        }
    }
    int flags = from_stdin ? fcntl (STDIN_FILENO, F_GETFL) : 0;
    if (flags < 0 || (from_stdin && fcntl (STDIN_FILENO, F_SETFL, flags | O_NONBLOCK) != 0)) {
        /* a blocking read would stop the sender while stdin is quiet */
        log_error ("could not make stdin non-blocking", "adapter=%s agency=%s error=%s",
                   log_q (config->adapter_id), log_q (config->agency),
                   log_q (strerror (errno)));
        source_db_destroy (&self->source_db);
        task_db_destroy (&self->task_db);
        outbox_close (&self->outbox);
        return 1;
    }
    chunk_init (&self->chunk);
    size_t max = (size_t) config->batch_max;
    self->rows = calloc (max, sizeof *self->rows);
    self->bytes = calloc (max, sizeof *self->bytes);
    self->lens = calloc (max, sizeof *self->lens);
    self->tokens = calloc (max, sizeof *self->tokens);
    if (!self->rows || !self->bytes || !self->lens || !self->tokens)
        abort ();
    self->unsent = true; /* a restart resends the backlog from seq 0 */
    strbuf_init (&self->stdin_buf);
    void *ctx = zmq_ctx_new ();
    if (!ctx) {
        log_error ("could not start ZeroMQ", "adapter=%s agency=%s error=%s",
                   log_q (config->adapter_id), log_q (config->agency),
                   log_q (zmq_strerror (errno)));
        abort ();
    }
    sender_options_t opt = {config->hub,
                            config->adapter_id,
                            config->agency,
                            config->window,
                            config->ack_timeout_ms,
                            config->heartbeat_ms,
                            config->retry_max_ms,
                            .hub_public_key = config->hub_public_key,
                            .secret_key_path = config->secret_key};
    self->sender = sender_new (ctx, &opt);
    log_info ("adapter starting",
              "adapter=%s agency=%s hub=%s outbox=%s input=%s backlog=%llu",
              config->adapter_id, config->agency, config->hub, config->outbox,
              from_stdin ? "stdin"
              : from_db  ? config->source_table
                         : config->spool,
              (unsigned long long) outbox_depth (self->outbox));

    int64_t next_stats = clock_mono_ms () + STATS_EVERY_MS;
    int64_t drain_deadline = 0;
    int rc = 0;
    while (true) {
        int64_t now = clock_mono_ms ();
        if (*terminated && !drain_deadline) {
            drain_deadline = now + config->drain_timeout_ms;
            log_info ("stopping: input closed, waiting for acknowledgements",
                      "adapter=%s in_flight=%zu", config->adapter_id,
                      sender_in_flight (self->sender));
        }
        if (drain_deadline
            && (sender_in_flight (self->sender) == 0 || now >= drain_deadline))
            break;
        if (config->once && (from_stdin ? self->input_done : self->spool_empty)
            && outbox_depth (self->outbox) == 0 && sender_in_flight (self->sender) == 0)
            break;
        bool want_input =
            !drain_deadline && !self->input_done && now >= self->input_retry_at
            && outbox_depth (self->outbox) < (uint64_t) config->max_outbox_events;
        if (!from_stdin && want_input && now >= self->next_scan) {
            if (from_db)
                poll_db (self);
            else
                scan_spool (self);
        }
        if (!drain_deadline)
            fill_window (self);

        zmq_pollitem_t items[2] = {{sender_socket (self->sender), 0, ZMQ_POLLIN, 0},
                                   {NULL, STDIN_FILENO, ZMQ_POLLIN, 0}};
        long timeout = sender_next_timeout (self->sender);
        if (!from_stdin && want_input) {
            long t = (long) (self->next_scan - clock_mono_ms ());
            timeout = t < timeout ? (t < 0 ? 0 : t) : timeout;
        }
        if (!want_input && !self->input_done && timeout > 200)
            timeout = 200; /* re-check the pause */
        if ((self->settle_retry_at || self->fetch_retry_at > clock_mono_ms ()
             || self->n_stuck)
            && timeout > 200)
            timeout = 200; /* retries after a failure */
        int n = zmq_poll (items, from_stdin && want_input ? 2 : 1, timeout);
        if (n < 0 && zmq_errno () != EINTR) {
            log_error ("poll failed", "adapter=%s error=\"%s\"", config->adapter_id,
                       zmq_strerror (zmq_errno ()));
            rc = 1;
            break;
        }
        if (n > 0 && (items[0].revents & ZMQ_POLLIN)) {
            sender_receive (self->sender, on_ack, on_task, self);
            settle_answers (self);
        }
        else if (self->settle_retry_at && clock_mono_ms () >= self->settle_retry_at)
            settle_answers (self);
        if (n > 0 && from_stdin && want_input
            && (items[1].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
            read_stdin (self);
        /* the oldest waiting event costs a query: only for a heartbeat */
        int64_t oldest = 0;
        if (sender_heartbeat_due (self->sender)
            && outbox_oldest_ms (self->outbox, &oldest, err, sizeof err) != 0)
            /* the heartbeat goes without it: the hub sees no age this time */
            log_error ("could not read the age of the oldest event in the outbox",
                       "adapter=%s agency=%s outbox=%s error=%s", log_q (config->adapter_id),
                       log_q (config->agency), log_q (config->outbox), log_q (err));
        heartbeat_t hb = {config->adapter_id,
                          config->agency,
                          clock_now_ms (),
                          outbox_depth (self->outbox),
                          oldest,
                          self->task_cursor,
                          *config->task_spool != '\0' || self->task_db};
        sender_tick (self->sender, &hb);
        if (clock_mono_ms () >= next_stats) {
            log_stats (self);
            next_stats = clock_mono_ms () + STATS_EVERY_MS;
        }
    }
    log_stats (self);
    sender_destroy (&self->sender);
    zmq_ctx_term (ctx);
    outbox_close (&self->outbox);
    source_db_destroy (&self->source_db);
    task_db_destroy (&self->task_db);
    chunk_free (&self->chunk);
    free (self->rows);
    free (self->bytes);
    free (self->lens);
    free (self->tokens);
    strbuf_free (&self->stdin_buf);
    free (self->to_remove);
    for (size_t i = 0; i < self->n_rejects; i++) {
        free (self->rejects[i].event_id);
        free (self->rejects[i].reason);
    }
    free (self->rejects);
    for (size_t i = 0; i < self->n_stuck; i++)
        free (self->stuck[i]);
    free (self->stuck);
    return rc;
}

static volatile sig_atomic_t s_terminated = 0;

static void
on_signal (int sig)
{
    (void) sig;
    s_terminated = 1;
}

int
adapter_main (int argc, char **argv, const char *prog, const char *agency,
              const char *description, adapter_map_fn map)
{
    /* an agency program speaks for its agency: add --agency, refuse another */
    char **args = calloc ((size_t) argc + 3, sizeof *args);
    if (!args)
        abort ();
    for (int i = 0; i < argc; i++) {
        args[i] = argv[i];
        if (agency && i > 0
            && ((strcmp (argv[i], "--agency") == 0 && i + 1 < argc
                 && strcmp (argv[i + 1], agency) != 0)
                || (strncmp (argv[i], "--agency=", 9) == 0
                    && strcmp (argv[i] + 9, agency) != 0))) {
            fprintf (stderr, "%s: this adapter speaks for agency \"%s\" only\n", prog,
                     agency);
            free (args);
            return 2;
        }
    }
    int n = argc;
    if (agency) {
        args[n++] = (char *) "--agency";
        args[n++] = (char *) agency;
    }
    adapter_config_t config;
    int rc = adapter_config_load (&config, prog, description, n, args);
    free (args);
    if (rc == 1)
        return 0;
    if (rc != 0)
        return 2;
    log_level_t level = LOG_INFO;
    log_level_parse (config.log_level, &level);
    log_init ("adapter", level);
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGINT, &sa, NULL);
    signal (SIGPIPE, SIG_IGN);
    /* a file size limit (ulimit -f, LimitFSIZE=) then fails the outbox write
       with EFBIG, which is reported and retried, instead of killing us */
    signal (SIGXFSZ, SIG_IGN);
    return adapter_run (&config, map, &s_terminated);
}
