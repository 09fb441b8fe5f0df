/*  batch: the unit of group commit, see batch.h. */
#include "batch.h"

#include <stdlib.h>
#include <string.h>

static void *
xrealloc (void *p, size_t n)
{
    void *q = realloc (p, n ? n : 1);
    if (!q)
        abort ();
    return q;
}

/* A copy that is valid UTF-8 and at most 1 KiB: dead letters keep what the
   wire said, and the wire may say anything. */
static char *
safe_dup (const char *s)
{
    char buf[1024];
    return str_dup (utf8_safe_copy (buf, sizeof buf, s));
}

batch_t *
batch_new (void)
{
    batch_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    strbuf_init (&self->copy);
    return self;
}

static void
free_items (batch_t *self)
{
    for (size_t i = 0; i < self->n_dls; i++) {
        dead_letter_t *d = &self->dls[i];
        free (d->sender);
        free (d->agency);
        free (d->event_id);
        free (d->case_no);
        free (d->event_type);
        free (d->reason);
        free (d->payload);
    }
    self->n_dls = 0;
    for (size_t i = 0; i < self->n_hbs; i++) {
        heartbeat_row_t *h = &self->hbs[i];
        free (h->adapter_id);
        free (h->agency);
        free (h->codes_json);
        for (size_t k = 0; k < h->n_rejects; k++) {
            free (h->rejects[k].place);
            free (h->rejects[k].code);
            free (h->rejects[k].reason);
            free (h->rejects[k].event_id);
        }
        free (h->rejects);
    }
    self->n_hbs = 0;
    for (size_t i = 0; i < self->n_rows; i++) {
        free (self->row_error[i]);
        self->row_error[i] = NULL;
    }
}

void
batch_destroy (batch_t **self_p)
{
    batch_t *self = *self_p;
    if (!self)
        return;
    free_items (self);
    strbuf_free (&self->copy);
    free (self->row_ids);
    free (self->row_end);
    free (self->row_content);
    free (self->row_stored);
    free (self->row_error);
    free (self->row_code);
    free (self->dls);
    free (self->hbs);
    free (self);
    *self_p = NULL;
}

void
batch_reset (batch_t *self)
{
    free_items (self);
    strbuf_reset (&self->copy);
    self->n_rows = 0;
    self->first_at_us = 0;
    self->outcome = BATCH_COMMITTED;
    self->commit_us = 0;
}

bool
batch_empty (const batch_t *self)
{
    return self->n_rows == 0 && self->n_dls == 0 && self->n_hbs == 0;
}

size_t
batch_begin_row (batch_t *self, const char *event_id_lower)
{
    if (self->n_rows == self->cap_rows) {
        size_t cap = self->cap_rows ? self->cap_rows * 2 : 1024;
        self->row_ids = xrealloc (self->row_ids, cap * sizeof *self->row_ids);
        self->row_end = xrealloc (self->row_end, cap * sizeof *self->row_end);
        self->row_content = xrealloc (self->row_content, cap * sizeof *self->row_content);
        self->row_stored = xrealloc (self->row_stored, cap * sizeof *self->row_stored);
        self->row_error = xrealloc (self->row_error, cap * sizeof *self->row_error);
        self->row_code = xrealloc (self->row_code, cap * sizeof *self->row_code);
        self->cap_rows = cap;
    }
    size_t row = self->n_rows++;
    memcpy (self->row_ids[row], event_id_lower, 36);
    self->row_ids[row][36] = '\0';
    self->row_stored[row] = false;
    self->row_error[row] = NULL;
    self->row_code[row] = ERR_NONE;
    return row;
}

void
batch_end_row (batch_t *self, const uint8_t content[DIGEST_LEN])
{
    self->row_end[self->n_rows - 1] = self->copy.len;
    memcpy (self->row_content[self->n_rows - 1], content, DIGEST_LEN);
}

void
batch_add_dead_letter (batch_t *self, const char *sender, const char *agency,
                       const char *event_id, const char *case_no, const char *event_type,
                       error_code_t code, const char *reason, const void *payload,
                       size_t payload_len)
{
    if (self->n_dls == self->cap_dls) {
        self->cap_dls = self->cap_dls ? self->cap_dls * 2 : 16;
        self->dls = xrealloc (self->dls, self->cap_dls * sizeof *self->dls);
    }
    dead_letter_t *d = &self->dls[self->n_dls++];
    d->sender = safe_dup (sender ? sender : "");
    d->agency = agency && *agency ? safe_dup (agency) : NULL;
    d->event_id = event_id && *event_id ? safe_dup (event_id) : NULL;
    d->case_no = case_no && *case_no ? safe_dup (case_no) : NULL;
    d->event_type = event_type && *event_type ? safe_dup (event_type) : NULL;
    d->code = code;
    d->reason = safe_dup (reason);
    d->payload = NULL;
    d->payload_len = 0;
    if (payload && payload_len) {
        d->payload = xrealloc (NULL, payload_len);
        memcpy (d->payload, payload, payload_len);
        d->payload_len = payload_len;
    }
}

/* Adds sample r to the row unless one with its seq is there; false when
   the row is full. */
static bool
add_reject (heartbeat_row_t *row, const reject_sample_t *r)
{
    size_t at = 0;
    while (at < row->n_rejects && row->rejects[at].seq < r->seq)
        at++;
    if (at < row->n_rejects && row->rejects[at].seq == r->seq)
        return true; /* sent again before the first was answered */
    if (row->n_rejects == BATCH_REJECTS_PER_ADAPTER)
        return false;
    if (!row->rejects)
        row->rejects = xrealloc (NULL, BATCH_REJECTS_PER_ADAPTER * sizeof *row->rejects);
    memmove (&row->rejects[at + 1], &row->rejects[at],
             (row->n_rejects - at) * sizeof *row->rejects);
    row->rejects[at] = (reject_row_t){r->seq,
                                      str_dup (r->place),
                                      str_dup (r->code),
                                      str_dup (r->reason),
                                      r->rejected_at_ms,
                                      r->event_id && *r->event_id ? str_dup (r->event_id)
                                                                  : NULL};
    row->n_rejects++;
    return true;
}

heartbeat_row_t *
batch_add_heartbeat (batch_t *self, const heartbeat_t *hb, const reject_sample_t *samples,
                     size_t n, uint64_t mark, bool owe_reply, const void *peer,
                     size_t peer_len)
{
    heartbeat_row_t *row = NULL;
    for (size_t i = 0; i < self->n_hbs; i++)
        if (strcmp (self->hbs[i].adapter_id, hb->adapter_id) == 0) {
            row = &self->hbs[i];
            free (row->agency);
            break;
        }
    if (!row) {
        if (self->n_hbs == self->cap_hbs) {
            self->cap_hbs = self->cap_hbs ? self->cap_hbs * 2 : 8;
            self->hbs = xrealloc (self->hbs, self->cap_hbs * sizeof *self->hbs);
        }
        row = &self->hbs[self->n_hbs++];
        memset (row, 0, sizeof *row);
        row->adapter_id = str_dup (hb->adapter_id);
    }
    row->agency = str_dup (hb->agency);
    row->outbox_depth = hb->outbox_depth;
    row->oldest_unacked_ms = hb->oldest_unacked_ms;
    row->task_cursor = hb->task_cursor;
    row->takes_tasks = hb->takes_tasks;
    row->peer_len = peer_len < sizeof row->peer ? peer_len : sizeof row->peer;
    memcpy (row->peer, peer, row->peer_len);
    /* the mark covers this heartbeat's samples only when all of them fit */
    bool all = true;
    for (size_t i = 0; i < n; i++)
        all = add_reject (row, &samples[i]) && all;
    if (all && mark > row->rejects_mark)
        row->rejects_mark = mark;
    row->reply_owed = row->reply_owed || owe_reply;
    return row;
}
