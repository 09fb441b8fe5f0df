/*  event_row: the events table's row in COPY text, see event_row.h. */
#include "event_row.h"

#include <string.h>

#include "clock.h"

void
event_row_keys_json (strbuf_t *js, const case_event_t *e)
{
    strbuf_reset (js);
    strbuf_putc (js, '{');
    for (size_t k = 0; k < e->n_keys; k++) {
        if (k)
            strbuf_putc (js, ',');
        strbuf_json_string (js, key_kind_name (e->keys[k].kind));
        strbuf_putc (js, ':');
        strbuf_json_string (js, e->keys[k].value);
    }
    strbuf_putc (js, '}');
}

void
event_row_attr_value_json (strbuf_t *js, const event_attr_t *at)
{
    char ts[40];
    switch (at->type) {
    case ATTR_TEXT: strbuf_json_string (js, at->text); break;
    case ATTR_INTEGER: strbuf_printf (js, "%lld", (long long) at->integer); break;
    case ATTR_NUMBER: strbuf_put_double (js, at->number); break;
    case ATTR_FLAG: strbuf_puts (js, at->flag ? "true" : "false"); break;
    case ATTR_TIME:
        clock_format_utc (at->time_ms, ts, sizeof ts);
        strbuf_json_string (js, ts);
        break;
    default: strbuf_puts (js, "null");
    }
}

void
event_row_attrs_json (strbuf_t *js, const case_event_t *e)
{
    strbuf_reset (js);
    strbuf_putc (js, '{');
    for (size_t a = 0; a < e->n_attrs; a++) {
        if (a)
            strbuf_putc (js, ',');
        strbuf_json_string (js, e->attrs[a].name);
        strbuf_putc (js, ':');
        event_row_attr_value_json (js, &e->attrs[a]);
    }
    strbuf_putc (js, '}');
}

static void
field (strbuf_t *sb, const char *s, char sep)
{
    if (s)
        strbuf_copy_field (sb, s, strlen (s));
    else
        strbuf_puts (sb, "\\N");
    strbuf_putc (sb, sep);
}

void
event_row_append (strbuf_t *sb, const digest_event_t *e)
{
    const char *in_order[EVENT_ROW_FIELDS] = {
        [EVENT_ROW_EVENT_ID] = e->event_id,
        [EVENT_ROW_AGENCY] = e->agency,
        [EVENT_ROW_ADAPTER_ID] = e->adapter_id,
        [EVENT_ROW_CASE_NO] = e->case_no,
        [EVENT_ROW_EVENT_TYPE] = e->event_type,
        [EVENT_ROW_OCCURRED_AT] = e->occurred_at,
        [EVENT_ROW_ACCEPTED_AT] = e->accepted_at,
        [EVENT_ROW_RECEIVED_AT] = e->received_at,
        [EVENT_ROW_SCHEMA_VERSION] = e->schema_version,
        [EVENT_ROW_KEYS] = e->keys,
        [EVENT_ROW_ATTRS] = e->attrs,
        [EVENT_ROW_HUB_ID] = e->hub_id,
    };
    for (int i = 0; i < EVENT_ROW_FIELDS; i++)
        field (sb, in_order[i], i + 1 < EVENT_ROW_FIELDS ? '\t' : '\n');
}

void
event_row_field (const char *row, const char *end, event_row_field_t i, strbuf_t *out)
{
    for (int skip = (int) i; skip > 0 && row < end; row++)
        if (*row == '\t')
            skip--;
    for (; row < end && *row != '\t' && *row != '\n'; row++) {
        if (*row == '\\' && row + 1 < end) {
            row++;
            strbuf_putc (out, *row == 't'   ? '\t'
                              : *row == 'n' ? '\n'
                              : *row == 'r' ? '\r'
                                            : *row);
        }
        else
            strbuf_putc (out, *row);
    }
}
