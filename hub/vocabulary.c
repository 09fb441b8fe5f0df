/*  vocabulary: the agencies' event types as JSON, see vocabulary.h. */
#include "vocabulary.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const char **types; /* distinct event types of one agency (owned strings) */
    size_t n, cap;      /* entries used and allocated */
} type_list_t;

static void
type_list_add (type_list_t *list, const char *type, size_t len)
{
    for (size_t i = 0; i < list->n; i++)
        if (strlen (list->types[i]) == len && memcmp (list->types[i], type, len) == 0)
            return;
    if (list->n == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 32;
        list->types = realloc (list->types, list->cap * sizeof *list->types);
        if (!list->types)
            abort ();
    }
    char *copy = strndup (type, len);
    if (!copy)
        abort ();
    list->types[list->n++] = copy;
}

static void
type_list_add_refs (type_list_t *list, const char *agency, const event_ref_t *refs,
                    size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp (refs[i].agency, agency) == 0)
            type_list_add (list, refs[i].event, strlen (refs[i].event));
}

static int
compare_text (const void *a, const void *b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The entries of extra-event-types ("agency:type", separated by commas
   and spaces, as the hub reads them) that belong to agency; *listed tells
   whether type (NULL: any) is one of them. */
static void
extras_of (const char *extras, const char *agency, type_list_t *list, const char *type,
           bool *listed)
{
    size_t alen = strlen (agency);
    for (const char *p = extras; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t n = strcspn (p, ", ");
        if (n > alen + 1 && memcmp (p, agency, alen) == 0 && p[alen] == ':') {
            const char *t = p + alen + 1;
            size_t tlen = n - alen - 1;
            if (list)
                type_list_add (list, t, tlen);
            if (type && strlen (type) == tlen && memcmp (type, t, tlen) == 0)
                *listed = true;
        }
        p += n;
    }
}

static void
value_text (const attr_value_t *v, strbuf_t *out)
{
    switch (v->kind) {
    case ATTR_VALUE_TEXT: strbuf_json_string (out, v->text); break;
    case ATTR_VALUE_INTEGER: strbuf_printf (out, "%lld", (long long) v->integer); break;
    case ATTR_VALUE_NUMBER: strbuf_put_double (out, v->number); break;
    case ATTR_VALUE_FLAG: strbuf_puts (out, v->flag ? "true" : "false"); break;
    case ATTR_VALUE_MISSING: strbuf_puts (out, "null"); break;
    }
}

static void
condition_part (const condition_t *c, strbuf_t *out)
{
    bool group =
        (c->kind == CONDITION_ALL || c->kind == CONDITION_ANY) && c->n_children > 1;
    if (group)
        strbuf_putc (out, '(');
    vocabulary_condition_text (c, out);
    if (group)
        strbuf_putc (out, ')');
}

void
vocabulary_condition_text (const condition_t *c, strbuf_t *out)
{
    switch (c->kind) {
    case CONDITION_EQUALS:
        strbuf_printf (out, "%s = ", c->attr);
        value_text (&c->values[0], out);
        break;
    case CONDITION_IN:
        strbuf_printf (out, "%s in (", c->attr);
        for (size_t i = 0; i < c->n_values; i++) {
            if (i)
                strbuf_puts (out, ", ");
            value_text (&c->values[i], out);
        }
        strbuf_putc (out, ')');
        break;
    case CONDITION_EXISTS:
        strbuf_printf (out, "%s is %sgiven", c->attr, c->exists ? "" : "not ");
        break;
    case CONDITION_NOT:
        strbuf_puts (out, "not (");
        vocabulary_condition_text (&c->children[0], out);
        strbuf_putc (out, ')');
        break;
    case CONDITION_ALL:
    case CONDITION_ANY:
        if (c->n_children == 0)
            strbuf_puts (out, c->kind == CONDITION_ALL ? "always" : "never");
        for (size_t i = 0; i < c->n_children; i++) {
            if (i)
                strbuf_puts (out, c->kind == CONDITION_ALL ? " and " : " or ");
            condition_part (&c->children[i], out);
        }
        break;
    }
}

/* Appends "name": text (or null) to out. */
static void
json_field (strbuf_t *out, const char *name, const char *text)
{
    strbuf_printf (out, ",\"%s\":", name);
    if (text)
        strbuf_json_string (out, text);
    else
        strbuf_puts (out, "null");
}

static void
use_json (const workflow_match_t *m, strbuf_t *out, strbuf_t *scratch)
{
    strbuf_puts (out, "{\"workflow\":");
    strbuf_json_string (out, m->workflow->name);
    strbuf_printf (out, ",\"version\":%d", m->workflow->version);
    json_field (out, "role", workflow_role_name (m->role));
    json_field (out, "step", m->step ? m->step->id : NULL);
    json_field (out, "title", m->step ? m->step->title : NULL);
    bool reject = m->role == WORKFLOW_ROLE_REJECT;
    json_field (out, "effect", reject ? reject_effect_name (m->ref->effect) : NULL);
    const condition_t *when = m->step ? m->step->when : m->ref ? m->ref->when : NULL;
    strbuf_reset (scratch);
    if (when)
        vocabulary_condition_text (when, scratch);
    json_field (out, "when", when ? scratch->data : NULL);
    strbuf_putc (out, '}');
}

void
vocabulary_json (const hub_config_t *config, const workflow_set_t *set, strbuf_t *out)
{
    const char *agencies[HUB_MAX_AGENCIES];
    for (size_t a = 0; a < config->n_agencies; a++)
        agencies[a] = config->agency_list[a];
    qsort (agencies, config->n_agencies, sizeof *agencies, compare_text);
    strbuf_t scratch;
    strbuf_init (&scratch);
    strbuf_puts (out, "{\"agencies\":[");
    for (size_t a = 0; a < config->n_agencies; a++) {
        const char *agency = agencies[a];
        if (a && strcmp (agency, agencies[a - 1]) == 0)
            continue; /* named twice in the setting */
        type_list_t list = {NULL, 0, 0};
        for (size_t w = 0; set && w < workflow_set_count (set); w++) {
            const workflow_def_t *def = workflow_set_get (set, w);
            type_list_add_refs (&list, agency, def->starts_on, def->n_starts_on);
            for (size_t s = 0; s < def->n_steps; s++)
                if (strcmp (def->steps[s].agency, agency) == 0)
                    for (size_t c = 0; c < def->steps[s].n_completes_on; c++)
                        type_list_add (&list, def->steps[s].completes_on[c],
                                       strlen (def->steps[s].completes_on[c]));
            type_list_add_refs (&list, agency, def->rejects_on, def->n_rejects_on);
            type_list_add_refs (&list, agency, def->reopens_on, def->n_reopens_on);
            type_list_add_refs (&list, agency, def->cancels_on, def->n_cancels_on);
        }
        extras_of (config->extra_event_types, agency, &list, NULL, NULL);
        if (list.n) /* qsort must not be handed NULL, even for nothing */
            qsort (list.types, list.n, sizeof *list.types, compare_text);
        strbuf_puts (out, a ? ",{\"agency\":" : "{\"agency\":");
        strbuf_json_string (out, agency);
        strbuf_puts (out, ",\"event_types\":[");
        for (size_t t = 0; t < list.n; t++) {
            bool extra = false;
            extras_of (config->extra_event_types, agency, NULL, list.types[t], &extra);
            size_t n_uses = 0;
            const workflow_match_t *uses =
                set ? workflow_set_relevant (set, agency, list.types[t], &n_uses) : NULL;
            strbuf_puts (out, t ? ",{\"event_type\":" : "{\"event_type\":");
            strbuf_json_string (out, list.types[t]);
            strbuf_printf (out, ",\"extra\":%s,\"uses\":[", extra ? "true" : "false");
            for (size_t u = 0; u < n_uses; u++) {
                if (u)
                    strbuf_putc (out, ',');
                use_json (&uses[u], out, &scratch);
            }
            strbuf_puts (out, "]}");
            free ((void *) list.types[t]);
        }
        strbuf_puts (out, "]}");
        free (list.types);
    }
    strbuf_puts (out, "]}");
    strbuf_free (&scratch);
}
