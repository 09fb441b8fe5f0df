/*  adapter: the shared adapter run loop, see adapter.h. */
#include "adapter.h"

#include <dirent.h>
#include <signal.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "agency_worker.h"
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
    agency_worker_t *source_worker; /* owns source_db's connection */
    agency_worker_t *task_worker;   /* owns task_db's connection */
    bool source_full;               /* the claim being finished filled a batch */
    task_t **tq;                    /* tasks past task_cursor, in seq order */
    size_t tq_n, tq_cap;
    int64_t task_retry_at;  /* after a failed delivery, not before this */
    int64_t input_retry_at; /* after an outbox failure, wait until then */
    int64_t next_scan;      /* next spool scan, monotonic ms */
    char **stuck;           /* consumed spool files not yet moved to done/ */
    size_t n_stuck;
    int64_t stuck_retry_at; /* next attempt at moving them */
    int64_t *to_remove;     /* acknowledged seqs to delete */
    size_t n_remove, cap_remove;
    reject_t *rejects; /* rejected events not yet quarantined */
    size_t n_rejects, cap_rejects;
    int64_t settle_retry_at; /* after a failure to settle answers, 0 if none */
    uint64_t accepted, acked, rejected, refused; /* counters */
    uint64_t task_cursor;   /* the last task handed durably to the agency */
    bool unsent;            /* the outbox may hold events past cursor */
    int64_t fetch_retry_at; /* after a failed outbox read, not before this */
    outbox_row_t *rows;     /* a batch read from the outbox (batch_max, allocated once) */
    const uint8_t **bytes;  /* their encodings, for the sender */
    size_t *lens;           /* their lengths */
    int64_t *tokens;        /* their outbox seqs */
    /* the quarantine, as the heartbeats report it */
    int64_t reported;       /* quarantine id up to which a hub confirmed storing it */
    int64_t mark_retry_at;  /* after a failure to save that mark, not before this */
    bool counted;           /* counts read for the last heartbeat */
    uint64_t quarantined;   /* rows in the quarantine then */
    size_t n_codes;         /* codes then */
    outbox_code_count_t codes[QUARANTINE_CODES_MAX];
    quarantine_count_t code_views[QUARANTINE_CODES_MAX];
    size_t n_samples;       /* rows past the mark then, at most REJECT_SAMPLES_MAX */
    outbox_reject_t samples[REJECT_SAMPLES_MAX];
    reject_sample_t sample_views[REJECT_SAMPLES_MAX];
    int64_t once_deadline;  /* --once: when to stop waiting for the report, 0: not yet */
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
   ("file:line", "table onenet_outbox row 17"), and from, when not NULL,
   the n_from parts its event id is derived from instead of the record
   (where it was read: the table and the row). Returns false for a blank
   line, which is neither. */
static bool
take_line (adapter_t *self, const char *line, size_t len, const char *where,
           const char *const *from, size_t n_from)
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
    uint8_t *bytes = mapped_event_encode (self->map, line, len, self->config->agency,
                                          self->config->adapter_id, now, from, n_from,
                                          c->ids[c->n], &blen, err, sizeof err);
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
                   "adapter=%s agency=%s outbox=%s records=%zu error=%s",
                   log_q (self->config->adapter_id), log_q (self->config->agency),
                   log_q (self->config->outbox), c->n, log_q (err));
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
            take_line (self, self->stdin_buf.data + pos, end - pos, where, NULL, 0);
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
        log_error ("could not move spool file",
                   "adapter=%s agency=%s file=%s to=%s error=%s",
                   log_q (self->config->adapter_id), log_q (self->config->agency),
                   log_q (from), log_q (dir), log_q (strerror (errno)));
        return false;
    }
    if (rename (from, to) != 0) {
        log_error ("could not move spool file",
                   "adapter=%s agency=%s file=%s to=%s error=%s",
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
        spool_failed (self, "could not read spool file, will retry", path,
                      strerror (errno));
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
        take_line (self, line, (size_t) len, where, NULL, 0);
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
        log_error ("could not open spool directory",
                   "adapter=%s agency=%s spool=%s error=%s",
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
        if (de->d_name[0] == '.' || len < 7 || strcmp (de->d_name + len - 7, ".ndjson") != 0
            || is_stuck (self, de->d_name))
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

/* ---- the agency's outbox table, through its worker ------------------------ */

typedef enum { SOURCE_CLAIM, SOURCE_FINISH, SOURCE_ABORT } source_op_t;

/* One step of a claim of the agency's outbox table (source_db.h): the
   claim itself, then its finish (or abort) in the same transaction. */
typedef struct {
    agency_job_t base;
    source_db_t *db;        /* the worker's */
    source_op_t op;         /* what to do */
    int max;                /* CLAIM: rows at most */
    int n;                  /* CLAIM: rows claimed, -1 when the claim failed */
    int64_t *row_ids;       /* CLAIM: the rows' ids */
    char **records;         /* and their records (copies, NUL-terminated) */
    size_t *lens;           /* and their lengths */
    const char *adapter_id; /* FINISH: written as the handler */
    char (*event_ids)[37];  /* FINISH: row i's event id, "" when refused */
    char **reasons;         /* FINISH: row i's reason when refused */
    int rc;                 /* FINISH: 0, or -1 with err */
    char err[512];          /* the agency database's reason */
} source_job_t;

static void
source_job_free (source_job_t *job)
{
    if (!job)
        return;
    for (int i = 0; i < job->n; i++) {
        free (job->records[i]);
        free (job->reasons[i]);
    }
    free (job->row_ids);
    free (job->records);
    free (job->lens);
    free (job->event_ids);
    free (job->reasons);
    free (job);
}

/* On the worker thread. */
static void
source_job_run (agency_job_t *base)
{
    source_job_t *job = (source_job_t *) base;
    if (job->op == SOURCE_ABORT) {
        source_db_abort (job->db);
        return;
    }
    if (job->op == SOURCE_FINISH) {
        const char **ids = calloc ((size_t) job->n, sizeof *ids);
        if (!ids)
            abort ();
        for (int i = 0; i < job->n; i++)
            ids[i] = job->event_ids[i][0] ? job->event_ids[i] : NULL;
        job->rc = source_db_finish (job->db, job->adapter_id, ids,
                                    (const char *const *) job->reasons, job->err,
                                    sizeof job->err);
        free (ids);
        return;
    }
    int n = source_db_claim (job->db, job->max, job->err, sizeof job->err);
    job->n = n;
    if (n <= 0)
        return;
    job->row_ids = calloc ((size_t) n, sizeof *job->row_ids);
    job->records = calloc ((size_t) n, sizeof *job->records);
    job->lens = calloc ((size_t) n, sizeof *job->lens);
    job->event_ids = calloc ((size_t) n, sizeof *job->event_ids);
    job->reasons = calloc ((size_t) n, sizeof *job->reasons);
    if (!job->row_ids || !job->records || !job->lens || !job->event_ids || !job->reasons)
        abort ();
    for (int i = 0; i < n; i++) {
        job->row_ids[i] = source_db_row_id (job->db, i);
        const char *record = source_db_row_record (job->db, i, &job->lens[i]);
        job->records[i] = malloc (job->lens[i] + 1);
        if (!job->records[i])
            abort ();
        memcpy (job->records[i], record, job->lens[i]);
        job->records[i][job->lens[i]] = '\0';
    }
}

/* Hands job back to the source worker (after it was taken back). */
static void
source_submit (adapter_t *self, source_job_t *job)
{
    if (agency_worker_submit (self->source_worker, &job->base) != 0)
        abort (); /* the worker was idle: it had just given the job back */
}

/* Asks the worker to claim one batch of the agency's outbox table; the
   rows come back to source_claimed. */
static void
poll_db (adapter_t *self)
{
    source_job_t *job = calloc (1, sizeof *job);
    if (!job)
        abort ();
    job->base.run = source_job_run;
    job->db = self->source_db;
    job->op = SOURCE_CLAIM;
    job->max = self->config->source_batch;
    job->adapter_id = self->config->adapter_id;
    source_submit (self, job);
}

/* A claim came back: its rows are accepted into the outbox, and then the
   worker marks them in the agency table in the claim's own transaction
   (see source_db.h). Each row is one event whose id is derived from the
   agency, the table and the row id, so a row claimed again after a crash
   is the same event. */
static void
source_claimed (adapter_t *self, source_job_t *job, bool stopping)
{
    const adapter_config_t *config = self->config;
    const char *table = source_db_table (self->source_db);
    int n = job->n;
    if (n < 0) {
        log_error ("could not read the agency's outbox table, will retry",
                   "adapter=%s agency=%s table=%s error=%s", log_q (config->adapter_id),
                   log_q (config->agency), log_q (table), log_q (job->err));
        /* at most one attempt (and one message) a second while it fails */
        self->next_scan = clock_mono_ms ()
                          + (config->source_poll_ms > 1000 ? config->source_poll_ms : 1000);
        source_job_free (job);
        return;
    }
    self->spool_empty = n == 0;
    if (n == 0) {
        self->next_scan = clock_mono_ms () + config->source_poll_ms;
        source_job_free (job);
        return;
    }
    if (stopping) {
        /* input is closed: the rows go back, 'new', for the next run */
        job->op = SOURCE_ABORT;
        source_submit (self, job);
        return;
    }
    chunk_t *c = &self->chunk;
    for (int i = 0; i < n; i++) {
        int64_t row = job->row_ids[i];
        const char *record = job->records[i];
        size_t len = job->lens[i];
        char where[200], row_text[24];
        snprintf (where, sizeof where, "table %s row %lld", table, (long long) row);
        snprintf (row_text, sizeof row_text, "%lld", (long long) row);
        size_t good = c->n, bad = c->n_bad;
        /* the row's own id, from the agency, the table and the row, never
           from what the record says */
        const char *from[2] = {table, row_text};
        if (!take_line (self, record, len, where, from, 2))
            add_bad (c, where, "field \"record\" is empty", record, len);
        if (c->n > good)
            memcpy (job->event_ids[i], c->ids[good], 37);
        else if (c->n_bad > bad) {
            job->reasons[i] = strdup (c->bad[bad].reason);
            if (!job->reasons[i])
                abort ();
        }
    }
    if (!commit_chunk (self, NULL, 0)) {
        chunk_clear (c);
        job->op = SOURCE_ABORT; /* the rows stay new for the retry */
    }
    else
        job->op = SOURCE_FINISH;
    self->source_full = n == config->source_batch;
    source_submit (self, job);
}

/* The worker is back from a finish or an abort. */
static void
source_finished (adapter_t *self, source_job_t *job)
{
    const adapter_config_t *config = self->config;
    if (job->op == SOURCE_FINISH && job->rc != 0)
        log_error ("could not mark rows of the agency's outbox table; they will be "
                   "claimed again and absorbed as duplicates",
                   "adapter=%s agency=%s table=%s rows=%d error=%s",
                   log_q (config->adapter_id), log_q (config->agency),
                   log_q (source_db_table (self->source_db)), job->n, log_q (job->err));
    /* a full batch: more may wait, come back at once */
    self->next_scan =
        clock_mono_ms ()
        + (job->op == SOURCE_FINISH && self->source_full ? 0 : config->source_poll_ms);
    source_job_free (job);
}

static void
source_job_back (adapter_t *self, agency_job_t *base, bool stopping)
{
    source_job_t *job = (source_job_t *) base;
    if (job->op == SOURCE_CLAIM)
        source_claimed (self, job, stopping);
    else
        source_finished (self, job);
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
            self->rejects =
                realloc (self->rejects, self->cap_rejects * sizeof *self->rejects);
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

/* ---- the hub's tasks for the agency ------------------------------------------ */

/* Source name under which the task cursor lives in the outbox. */
#define TASK_CURSOR_SOURCE "hub-tasks"
/* Tasks handed to the agency in one go (one transaction, one cursor save). */
#define TASK_BATCH_MAX 200
/* Tasks kept waiting for the agency, at most (the hub sends them again). */
#define TASK_QUEUE_MAX 1000

/* A task copied out of the hub's message, strings and all, in one block. */
static task_t *
task_copy (const task_t *t)
{
    static const size_t offsets[7] = {
        offsetof (task_t, agency),       offsetof (task_t, kind),
        offsetof (task_t, workflow),     offsetof (task_t, step),
        offsetof (task_t, key_value),    offsetof (task_t, payload_json),
        offsetof (task_t, withdrawn_reason)};
    size_t size = sizeof (task_t);
    for (int i = 0; i < 7; i++) {
        const char *from = *(const char *const *) ((const char *) t + offsets[i]);
        size += strlen (from ? from : "") + 1;
    }
    task_t *copy = malloc (size);
    if (!copy)
        abort ();
    *copy = *t;
    char *at = (char *) (copy + 1);
    for (int i = 0; i < 7; i++) {
        const char *from = *(const char *const *) ((const char *) t + offsets[i]);
        size_t len = strlen (from ? from : "");
        memcpy (at, from ? from : "", len + 1);
        *(const char **) ((char *) copy + offsets[i]) = at;
        at += len + 1;
    }
    return copy;
}

/* Writing tasks into the agency's task table, on the task worker. */
typedef struct {
    agency_job_t base;
    task_db_t *db;        /* the worker's */
    const task_t **tasks; /* the first n of the queue (the queue keeps them) */
    size_t n;             /* how many */
    bool *fresh;          /* task i's row is new (not there already) */
    int rc;               /* 0: all are in the table; -1: none was written */
    char err[512];        /* the agency database's reason */
} task_job_t;

static void
task_job_run (agency_job_t *base)
{
    task_job_t *job = (task_job_t *) base;
    job->rc =
        task_db_write (job->db, job->tasks, job->n, job->fresh, job->err, sizeof job->err);
}

static void
task_job_free (task_job_t *job)
{
    if (!job)
        return;
    free (job->tasks);
    free (job->fresh);
    free (job);
}

/* Tasks 0..n of the queue are with the agency (in its table, when there
   is one; fresh says which rows are new): each goes to the task spool,
   when there is one, then the cursor moves past them in one outbox
   transaction and they leave the queue. A failure keeps them queued for a
   retry a second later; the agency's table and the spool take a task
   handed over again without a second row or file. */
static void
tasks_delivered (adapter_t *self, size_t n, const bool *fresh)
{
    const adapter_config_t *config = self->config;
    char err[512];
    size_t done = n;
    for (size_t i = 0; i < n && *config->task_spool; i++)
        if (task_out_write (config->task_spool, self->tq[i], err, sizeof err) != 0) {
            log_error ("task not delivered to the agency, will retry",
                       "adapter=%s agency=%s task=%llu task_spool=%s error=%s",
                       log_q (config->adapter_id), log_q (config->agency),
                       (unsigned long long) self->tq[i]->seq, log_q (config->task_spool),
                       log_q (err));
            done = i;
            break;
        }
    if (done < n)
        self->task_retry_at = clock_mono_ms () + 1000;
    if (done == 0)
        return;
    uint64_t last = self->tq[done - 1]->seq;
    if (outbox_put (self->outbox, NULL, 0, TASK_CURSOR_SOURCE, (int64_t) last, err,
                    sizeof err)
        < 0) {
        log_error ("task cursor not saved, the tasks will come again",
                   "adapter=%s agency=%s outbox=%s first_task=%llu last_task=%llu error=%s",
                   log_q (config->adapter_id), log_q (config->agency),
                   log_q (config->outbox), (unsigned long long) self->tq[0]->seq,
                   (unsigned long long) last, log_q (err));
        self->task_retry_at = clock_mono_ms () + 1000;
        return;
    }
    self->task_cursor = last;
    for (size_t i = 0; i < done; i++) {
        const task_t *t = self->tq[i];
        if (fresh && !fresh[i])
            log_info ("task was with the agency already",
                      "adapter=%s agency=%s task=%llu table=%s", log_q (config->adapter_id),
                      log_q (config->agency), (unsigned long long) t->seq,
                      log_q (config->task_table));
        if (t->withdrawn)
            log_info ("withdrawn task recorded with the agency, not as work",
                      "adapter=%s agency=%s task=%llu kind=%s %s=%s reason=%s",
                      log_q (config->adapter_id), log_q (config->agency),
                      (unsigned long long) t->seq, log_q (t->kind),
                      key_kind_name (t->key_kind), log_q (t->key_value),
                      log_q (t->withdrawn_reason));
        else
            log_info ("task delivered to the agency",
                      "adapter=%s agency=%s task=%llu kind=%s %s=%s",
                      log_q (config->adapter_id), log_q (config->agency),
                      (unsigned long long) t->seq, log_q (t->kind),
                      key_kind_name (t->key_kind), log_q (t->key_value));
        free (self->tq[i]);
    }
    memmove (self->tq, self->tq + done, (self->tq_n - done) * sizeof *self->tq);
    self->tq_n -= done;
}

/* Hands the queued tasks on: to the task worker (the agency's table), or
   straight to the task spool when there is no table. */
static void
deliver_tasks (adapter_t *self)
{
    if (self->tq_n == 0 || clock_mono_ms () < self->task_retry_at)
        return;
    if (!self->task_db) {
        tasks_delivered (self, self->tq_n < TASK_BATCH_MAX ? self->tq_n : TASK_BATCH_MAX,
                         NULL);
        return;
    }
    if (!self->task_worker || agency_worker_busy (self->task_worker))
        return;
    task_job_t *job = calloc (1, sizeof *job);
    if (!job)
        abort ();
    job->base.run = task_job_run;
    job->db = self->task_db;
    job->n = self->tq_n < TASK_BATCH_MAX ? self->tq_n : TASK_BATCH_MAX;
    job->tasks = calloc (job->n, sizeof *job->tasks);
    job->fresh = calloc (job->n, sizeof *job->fresh);
    if (!job->tasks || !job->fresh)
        abort ();
    for (size_t i = 0; i < job->n; i++)
        job->tasks[i] = self->tq[i];
    if (agency_worker_submit (self->task_worker, &job->base) != 0)
        abort (); /* it was idle */
}

/* The task worker is back: the tasks are in the agency's table, or none
   of them is. */
static void
task_job_back (adapter_t *self, agency_job_t *base)
{
    task_job_t *job = (task_job_t *) base;
    if (job->rc != 0) {
        log_error ("tasks not delivered to the agency, will retry",
                   "adapter=%s agency=%s first_task=%llu last_task=%llu table=%s error=%s",
                   log_q (self->config->adapter_id), log_q (self->config->agency),
                   (unsigned long long) job->tasks[0]->seq,
                   (unsigned long long) job->tasks[job->n - 1]->seq,
                   log_q (self->config->task_table), log_q (job->err));
        self->task_retry_at = clock_mono_ms () + 1000;
    }
    else
        tasks_delivered (self, job->n, job->fresh);
    task_job_free (job);
}

/* A TaskBatch from the hub. Tasks at or below the cursor (or already
   queued) were had before; a task past the next one expected means one
   was lost on the way, and the next heartbeat's cursor asks for it again.
   The queue is handed to the agency in order, and the cursor the
   heartbeats carry moves only once tasks are durably with the agency. */
static void
on_tasks (void *user, const task_t *tasks, size_t n)
{
    adapter_t *self = user;
    if (!*self->config->task_spool && !self->task_db)
        return;
    uint64_t last = self->task_cursor + self->tq_n;
    for (size_t i = 0; i < n && self->tq_n < TASK_QUEUE_MAX; i++) {
        if (tasks[i].seq != last + 1)
            continue;
        if (self->tq_n == self->tq_cap) {
            self->tq_cap = self->tq_cap ? self->tq_cap * 2 : 64;
            self->tq = realloc (self->tq, self->tq_cap * sizeof *self->tq);
            if (!self->tq)
                abort ();
        }
        self->tq[self->tq_n++] = task_copy (&tasks[i]);
        last++;
    }
    deliver_tasks (self);
}

/* ---- the quarantine, reported to the hub -------------------------------------- */

/* Reads what the next heartbeat reports of the quarantine: the counts by
   code, and the rows past the mark a hub has confirmed, oldest first. What
   cannot be read is left out this time (and logged); the heartbeat goes. */
static void
read_quarantine (adapter_t *self)
{
    const adapter_config_t *config = self->config;
    char err[256];
    self->counted = outbox_quarantine_counts (self->outbox, self->codes, QUARANTINE_CODES_MAX,
                                              &self->n_codes, &self->quarantined, err,
                                              sizeof err)
                    == 0;
    if (!self->counted)
        log_error ("could not count the quarantine in the outbox",
                   "adapter=%s agency=%s outbox=%s error=%s", log_q (config->adapter_id),
                   log_q (config->agency), log_q (config->outbox), log_q (err));
    for (size_t i = 0; i < self->n_codes; i++)
        self->code_views[i] = (quarantine_count_t){self->codes[i].code, self->codes[i].count};
    int n = outbox_quarantine_after (self->outbox, self->reported, self->samples,
                                     REJECT_SAMPLES_MAX, err, sizeof err);
    if (n < 0)
        log_error ("could not read the quarantine in the outbox",
                   "adapter=%s agency=%s outbox=%s error=%s", log_q (config->adapter_id),
                   log_q (config->agency), log_q (config->outbox), log_q (err));
    self->n_samples = n < 0 ? 0 : (size_t) n;
    for (size_t i = 0; i < self->n_samples; i++) {
        const outbox_reject_t *r = &self->samples[i];
        self->sample_views[i] =
            (reject_sample_t){(uint64_t) r->id, r->place, r->code, r->reason, r->at_ms,
                              r->event_id};
    }
}

/* A hub confirmed storing the quarantine up to a row: the mark moves, in
   the outbox first (a restart then starts from it; a mark not saved only
   has the rows sent again, which the hub absorbs). */
static void
note_reported (adapter_t *self)
{
    int64_t stored = (int64_t) sender_rejects_stored (self->sender);
    if (stored <= self->reported || clock_mono_ms () < self->mark_retry_at)
        return;
    char err[256];
    if (outbox_set_reported_mark (self->outbox, stored, err, sizeof err) != 0) {
        log_error ("quarantine report mark not saved, the rows will be reported again",
                   "adapter=%s agency=%s outbox=%s mark=%lld error=%s",
                   log_q (self->config->adapter_id), log_q (self->config->agency),
                   log_q (self->config->outbox), (long long) stored, log_q (err));
        self->mark_retry_at = clock_mono_ms () + 1000;
        return;
    }
    log_debug ("quarantine reported to the hub", "adapter=%s agency=%s up_to=%lld",
               log_q (self->config->adapter_id), log_q (self->config->agency),
               (long long) stored);
    self->reported = stored;
}

/* --once: true when the quarantine has been reported up to its newest row
   (or the wait for it is over: a hub that does not confirm reports). */
static bool
quarantine_reported (adapter_t *self)
{
    outbox_reject_t row;
    char err[256];
    int n = outbox_quarantine_after (self->outbox, self->reported, &row, 1, err, sizeof err);
    if (n == 0)
        return true;
    int64_t now = clock_mono_ms ();
    if (!self->once_deadline)
        self->once_deadline = now + self->config->drain_timeout_ms;
    if (now < self->once_deadline)
        return false;
    log_warn ("quarantine not all reported to the hub; the rest goes with the next run",
              "adapter=%s agency=%s outbox=%s reported_up_to=%lld",
              log_q (self->config->adapter_id), log_q (self->config->agency),
              log_q (self->config->outbox), (long long) self->reported);
    return true;
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
              log_q (self->config->adapter_id), log_q (self->config->agency),
              (unsigned long long) self->accepted, (unsigned long long) self->acked,
              (unsigned long long) self->rejected, (unsigned long long) self->refused,
              (unsigned long long) outbox_depth (self->outbox),
              sender_in_flight (self->sender));
}

/* Stops an agency worker, giving it until timeout_ms to finish the job in
   hand. Returns false when it is still inside the agency database. */
static bool
stop_worker (adapter_t *self, agency_worker_t **worker, const char *setting, int timeout_ms)
{
    if (!*worker)
        return true;
    agency_job_t *job = NULL;
    bool stopped = agency_worker_stop (worker, timeout_ms, &job);
    if (!stopped) {
        log_warn ("agency database still busy at exit; its transaction is left to "
                  "roll back when the connection closes",
                  "adapter=%s agency=%s setting=%s", log_q (self->config->adapter_id),
                  log_q (self->config->agency), setting);
        return false;
    }
    if (job && worker == &self->task_worker)
        task_job_back (self, job); /* the tasks may be with the agency: keep the cursor */
    else if (job)
        source_job_free ((source_job_t *) job); /* an open claim rolls back below */
    return true;
}

/* Frees what adapter_run holds; the agency tables only when their worker
   has stopped. */
static void
adapter_free (adapter_t *self, bool source_stopped, bool task_stopped)
{
    outbox_close (&self->outbox);
    if (source_stopped)
        source_db_destroy (&self->source_db);
    if (task_stopped)
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
    if (task_stopped) {
        for (size_t i = 0; i < self->tq_n; i++)
            free (self->tq[i]);
        free (self->tq);
    }
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
    chunk_init (&self->chunk);
    strbuf_init (&self->stdin_buf);
    char err[512];
    self->outbox = outbox_open (config->outbox, err, sizeof err);
    if (!self->outbox) {
        log_error ("could not open the outbox", "adapter=%s agency=%s error=%s",
                   log_q (config->adapter_id), log_q (config->agency), log_q (err));
        adapter_free (self, true, true);
        return 1;
    }
    bool from_db = *config->source_db != '\0';
    bool from_stdin = !*config->spool && !from_db;
    if (from_db && *config->spool) {
        log_error ("spool and source-db are two ways in: choose one",
                   "adapter=%s agency=%s spool=%s", log_q (config->adapter_id),
                   log_q (config->agency), log_q (config->spool));
        adapter_free (self, true, true);
        return 2;
    }
    if (from_db) {
        self->source_db = source_db_new (config->source_db, config->source_table,
                                         config->db_create_tables, config->db_timeout_ms,
                                         err, sizeof err);
        if (!self->source_db) {
            log_error ("bad agency database settings", "adapter=%s agency=%s error=%s",
                       log_q (config->adapter_id), log_q (config->agency), log_q (err));
            adapter_free (self, true, true);
            return 2;
        }
    }
    if (*config->task_db) {
        self->task_db =
            task_db_new (config->task_db, config->task_table, config->db_create_tables,
                         config->db_timeout_ms, err, sizeof err);
        if (!self->task_db) {
            log_error ("bad agency database settings", "adapter=%s agency=%s error=%s",
                       log_q (config->adapter_id), log_q (config->agency), log_q (err));
            adapter_free (self, true, true);
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
        adapter_free (self, true, true);
        return 1;
    }
    self->task_cursor = (uint64_t) task_cursor;
    if (outbox_reported_mark (self->outbox, &self->reported, err, sizeof err) != 0) {
        /* from 0: the rows go again, and the hub stores each once */
        log_error ("could not read the quarantine report mark from the outbox",
                   "adapter=%s agency=%s outbox=%s error=%s", log_q (config->adapter_id),
                   log_q (config->agency), log_q (config->outbox), log_q (err));
        self->reported = 0;
    }
    if (*config->task_spool && mkdir (config->task_spool, 0755) != 0 && errno != EEXIST) {
        log_error ("could not create the task out-spool",
                   "adapter=%s agency=%s task_spool=%s error=%s",
                   log_q (config->adapter_id), log_q (config->agency),
                   log_q (config->task_spool), log_q (strerror (errno)));
        adapter_free (self, true, true);
        return 1;
    }
    int flags = from_stdin ? fcntl (STDIN_FILENO, F_GETFL) : 0;
    if (flags < 0
        || (from_stdin && fcntl (STDIN_FILENO, F_SETFL, flags | O_NONBLOCK) != 0)) {
        /* a blocking read would stop the sender while stdin is quiet */
        log_error ("could not make stdin non-blocking", "adapter=%s agency=%s error=%s",
                   log_q (config->adapter_id), log_q (config->agency),
                   log_q (strerror (errno)));
        adapter_free (self, true, true);
        return 1;
    }
    size_t max = (size_t) config->batch_max;
    self->rows = calloc (max, sizeof *self->rows);
    self->bytes = calloc (max, sizeof *self->bytes);
    self->lens = calloc (max, sizeof *self->lens);
    self->tokens = calloc (max, sizeof *self->tokens);
    if (!self->rows || !self->bytes || !self->lens || !self->tokens)
        abort ();
    self->unsent = true; /* a restart resends the backlog from seq 0 */
    void *ctx = zmq_ctx_new ();
    if (!ctx) {
        log_error ("could not start ZeroMQ", "adapter=%s agency=%s error=%s",
                   log_q (config->adapter_id), log_q (config->agency),
                   log_q (zmq_strerror (errno)));
        abort ();
    }
    /* the agency database is worked on by threads of its own, so that the
       hub link never waits on it (agency_worker.h) */
    if ((self->source_db
         && !(self->source_worker = agency_worker_new (ctx, "source-db", err, sizeof err)))
        || (self->task_db
            && !(self->task_worker =
                     agency_worker_new (ctx, "task-db", err, sizeof err)))) {
        log_error ("could not start the agency database worker",
                   "adapter=%s agency=%s error=%s", log_q (config->adapter_id),
                   log_q (config->agency), log_q (err));
        bool source_stopped = stop_worker (self, &self->source_worker, "source-db", 1000);
        bool task_stopped = stop_worker (self, &self->task_worker, "task-db", 1000);
        if (source_stopped && task_stopped)
            zmq_ctx_term (ctx);
        adapter_free (self, source_stopped, task_stopped);
        return 1;
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
              log_q (config->adapter_id), log_q (config->agency), log_q (config->hub),
              log_q (config->outbox),
              log_q (from_stdin ? "stdin"
                     : from_db  ? config->source_table
                                : config->spool),
              (unsigned long long) outbox_depth (self->outbox));

    int64_t next_stats = clock_mono_ms () + STATS_EVERY_MS;
    int64_t drain_deadline = 0;
    int rc = 0;
    while (true) {
        int64_t now = clock_mono_ms ();
        bool source_busy = self->source_worker && agency_worker_busy (self->source_worker);
        bool task_busy = self->task_worker && agency_worker_busy (self->task_worker);
        if (*terminated && !drain_deadline) {
            drain_deadline = now + config->drain_timeout_ms;
            log_info ("stopping: input closed, waiting for acknowledgements",
                      "adapter=%s agency=%s in_flight=%zu", log_q (config->adapter_id),
                      log_q (config->agency), sender_in_flight (self->sender));
        }
        /* a job with the agency database is waited for too: its rows or
           tasks are then settled, not left for a retry */
        if (drain_deadline
            && ((sender_in_flight (self->sender) == 0 && !source_busy && !task_busy)
                || now >= drain_deadline))
            break;
        if (config->once && (from_stdin ? self->input_done : self->spool_empty)
            && !source_busy && outbox_depth (self->outbox) == 0
            && sender_in_flight (self->sender) == 0 && self->n_rejects == 0
            && quarantine_reported (self))
            break;
        bool want_input =
            !drain_deadline && !self->input_done && now >= self->input_retry_at
            && outbox_depth (self->outbox) < (uint64_t) config->max_outbox_events;
        if (!from_stdin && want_input && now >= self->next_scan) {
            if (!from_db)
                scan_spool (self);
            else if (!source_busy) {
                poll_db (self);
                source_busy = true;
            }
        }
        if (!drain_deadline) {
            fill_window (self);
            deliver_tasks (self);
        }

        zmq_pollitem_t items[4];
        int n_items = 0, stdin_item = -1, source_item = -1, task_item = -1;
        items[n_items++] = (zmq_pollitem_t){sender_socket (self->sender), 0, ZMQ_POLLIN, 0};
        if (from_stdin && want_input) {
            stdin_item = n_items;
            items[n_items++] = (zmq_pollitem_t){NULL, STDIN_FILENO, ZMQ_POLLIN, 0};
        }
        if (self->source_worker) {
            source_item = n_items;
            items[n_items++] = (zmq_pollitem_t){agency_worker_socket (self->source_worker),
                                                0, ZMQ_POLLIN, 0};
        }
        if (self->task_worker) {
            task_item = n_items;
            items[n_items++] = (zmq_pollitem_t){agency_worker_socket (self->task_worker), 0,
                                                ZMQ_POLLIN, 0};
        }
        long timeout = sender_next_timeout (self->sender);
        if (!from_stdin && want_input && !source_busy) {
            long t = (long) (self->next_scan - clock_mono_ms ());
            timeout = t < timeout ? (t < 0 ? 0 : t) : timeout;
        }
        if (!want_input && !self->input_done && timeout > 200)
            timeout = 200; /* re-check the pause */
        if ((self->settle_retry_at || self->fetch_retry_at > clock_mono_ms ()
             || self->n_stuck || (self->tq_n && !task_busy))
            && timeout > 200)
            timeout = 200; /* retries after a failure */
        if (drain_deadline && timeout > 100)
            timeout = 100; /* the drain's deadline */
        int n = zmq_poll (items, n_items, timeout);
        if (n < 0 && zmq_errno () != EINTR) {
            log_error ("poll failed", "adapter=%s agency=%s error=%s",
                       log_q (config->adapter_id), log_q (config->agency),
                       log_q (zmq_strerror (zmq_errno ())));
            rc = 1;
            break;
        }
        if (n > 0 && (items[0].revents & ZMQ_POLLIN)) {
            sender_receive (self->sender, on_ack, on_tasks, self);
            settle_answers (self);
            note_reported (self);
        }
        else if (self->mark_retry_at && clock_mono_ms () >= self->mark_retry_at)
            note_reported (self);
        else if (self->settle_retry_at && clock_mono_ms () >= self->settle_retry_at)
            settle_answers (self);
        if (n > 0 && stdin_item >= 0
            && (items[stdin_item].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
            read_stdin (self);
        agency_job_t *job;
        if (n > 0 && source_item >= 0 && (items[source_item].revents & ZMQ_POLLIN)
            && (job = agency_worker_take (self->source_worker)))
            source_job_back (self, job, drain_deadline != 0);
        if (n > 0 && task_item >= 0 && (items[task_item].revents & ZMQ_POLLIN)
            && (job = agency_worker_take (self->task_worker)))
            task_job_back (self, job);
        /* the oldest waiting event and the quarantine cost queries: only
           for a heartbeat */
        int64_t oldest = 0;
        bool due = sender_heartbeat_due (self->sender);
        if (due && outbox_oldest_ms (self->outbox, &oldest, err, sizeof err) != 0)
            /* the heartbeat goes without it: the hub sees no age this time */
            log_error ("could not read the age of the oldest event in the outbox",
                       "adapter=%s agency=%s outbox=%s error=%s",
                       log_q (config->adapter_id), log_q (config->agency),
                       log_q (config->outbox), log_q (err));
        if (due)
            read_quarantine (self);
        heartbeat_t hb = {.adapter_id = config->adapter_id,
                          .agency = config->agency,
                          .sent_at_ms = clock_now_ms (),
                          .outbox_depth = outbox_depth (self->outbox),
                          .oldest_unacked_ms = oldest,
                          .task_cursor = self->task_cursor,
                          .takes_tasks = *config->task_spool != '\0' || self->task_db,
                          .quarantine_counted = due && self->counted,
                          .quarantined = self->quarantined,
                          .n_quarantine_codes = due ? self->n_codes : 0,
                          .quarantine_codes = self->code_views,
                          .n_rejects = due ? self->n_samples : 0,
                          .rejects = self->sample_views};
        sender_tick (self->sender, &hb);
        if (clock_mono_ms () >= next_stats) {
            log_stats (self);
            next_stats = clock_mono_ms () + STATS_EVERY_MS;
        }
    }
    log_stats (self);
    sender_destroy (&self->sender);
    bool source_stopped = stop_worker (self, &self->source_worker, "source-db", 500);
    bool task_stopped = stop_worker (self, &self->task_worker, "task-db", 500);
    /* a worker still inside the agency database keeps its socket open:
       terminating the context would wait for it */
    if (source_stopped && task_stopped)
        zmq_ctx_term (ctx);
    adapter_free (self, source_stopped, task_stopped);
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
