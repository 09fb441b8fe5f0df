/*  mapped_event: a mapping's event, its id and its encoding, see
    mapped_event.h. */
#include "mapped_event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "strbuf.h"

void
mapped_event_init (mapped_event_t *self)
{
    memset (self, 0, sizeof *self);
    self->event.keys = self->keys;
    self->event.attrs = self->attrs;
}

void
mapped_event_release (mapped_event_t *self)
{
    json_decref (self->root);
    for (size_t i = 0; i < self->n_kept; i++)
        free (self->kept[i]);
    free (self->kept);
    mapped_event_init (self);
}

const char *
mapped_event_keep (mapped_event_t *self, const char *s, size_t len)
{
    char *copy = malloc (len + 1);
    char **kept = realloc (self->kept, (self->n_kept + 1) * sizeof *kept);
    if (!copy || !kept)
        abort ();
    memcpy (copy, s, len);
    copy[len] = '\0';
    self->kept = kept;
    self->kept[self->n_kept++] = copy;
    return copy;
}

void
mapped_event_id_part (mapped_event_t *self, const char *s, size_t len)
{
    if (self->n_id_parts == MAPPED_EVENT_PARTS)
        abort (); /* a mapping's own mistake */
    self->id_parts[self->n_id_parts] = s;
    self->id_lens[self->n_id_parts] = len;
    self->n_id_parts++;
}

/* The event id of m: see mapped_event.h. */
static void
s_event_id (const mapped_event_t *m, const char *agency, const char *line, size_t line_len,
            const char *const *from, size_t n_from, char event_id[37])
{
    const char *parts[1 + MAPPED_EVENT_PARTS];
    size_t lens[1 + MAPPED_EVENT_PARTS], n = 0;
    parts[n] = agency;
    lens[n++] = strlen (agency);
    if (from) {
        /* where the record was read names it, whatever it says */
        for (size_t i = 0; i < n_from && i < MAPPED_EVENT_PARTS; i++) {
            parts[n] = from[i];
            lens[n++] = strlen (from[i]);
        }
    }
    else if (m->event_id) {
        for (int i = 0; i < 36; i++) {
            char c = m->event_id[i];
            event_id[i] = c >= 'A' && c <= 'F' ? (char) (c + 32) : c;
        }
        event_id[36] = '\0';
        return;
    }
    else if (m->n_id_parts) {
        for (size_t i = 0; i < m->n_id_parts; i++) {
            parts[n] = m->id_parts[i];
            lens[n++] = m->id_lens[i];
        }
    }
    else {
        /* the same agency and the same bytes: the same event */
        parts[n] = line;
        lens[n++] = line_len;
    }
    record_event_id (parts, lens, n, event_id);
}

/* Whether every number attribute of the event is one the hub will store
   digit for digit: a decimal of at most 15 significant digits (an amount
   to the fen up to 9 999 999 999 999.99 yuan) reads back as itself; one
   that needs more (a value with more digits than a double holds, or the
   noise of a computed one) would come out changed, so the record is
   refused, naming the attribute, instead of stored with other digits. */
static bool
s_numbers_exact (const mapped_event_t *m, char *err, size_t errlen)
{
    for (size_t i = 0; i < m->event.n_attrs; i++) {
        const event_attr_t *a = &m->attrs[i];
        if (a->type != ATTR_NUMBER || strbuf_double_digits (a->number) <= 15)
            continue;
        snprintf (err, errlen,
                  "field \"%s\": the number %.17g has more than 15 significant digits "
                  "and would not be stored exactly; the agency must send at most 15 "
                  "(amounts to the fen up to 9999999999999.99)",
                  a->name, a->number);
        return false;
    }
    return true;
}

uint8_t *
mapped_event_encode (adapter_map_fn map, const char *line, size_t line_len,
                     const char *agency, const char *adapter_id, int64_t accepted_at_ms,
                     const char *const *from, size_t n_from, char event_id[37], size_t *len,
                     char *err, size_t errlen)
{
    mapped_event_t m;
    mapped_event_init (&m);
    if (errlen)
        err[0] = '\0';
    uint8_t *bytes = NULL;
    if (map (line, line_len, agency, &m, err, errlen) && s_numbers_exact (&m, err, errlen)) {
        s_event_id (&m, agency, line, line_len, from, n_from, event_id);
        case_event_t e = m.event;
        e.schema_version = ONENET_SCHEMA_VERSION;
        e.event_id = event_id;
        e.agency = agency;
        e.adapter_id = adapter_id;
        e.accepted_at_ms = accepted_at_ms;
        e.keys = m.keys;
        e.attrs = m.attrs;
        bytes = codec_event_encode (&e, len);
    }
    mapped_event_release (&m);
    return bytes;
}
