/*  validate: event validation, see validate.h. */
#include "validate.h"

#include <math.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ident.h"
#include "strbuf.h"

static bool reject (verdict_t *v, error_code_t code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

static bool
reject (verdict_t *v, error_code_t code, const char *fmt, ...)
{
    v->code = code;
    va_list args;
    va_start (args, fmt);
    vsnprintf (v->reason, sizeof v->reason, fmt, args);
    va_end (args);
    return false;
}

/* Checks one required string field: present, not too long, UTF-8. */
static bool
check_string (const hub_config_t *config, verdict_t *v, const char *field,
              const char *value, bool required)
{
    size_t len = strlen (value);
    if (required && len == 0)
        return reject (v, ERR_MISSING_FIELD, "%s is missing", field);
    if (len > (size_t) config->max_string)
        return reject (v, ERR_LIMIT_EXCEEDED, "%s is %zu bytes, limit %d", field, len,
                       config->max_string);
    if (!utf8_valid (value))
        return reject (v, ERR_INVALID_FIELD, "%s is not valid UTF-8", field);
    return true;
}

static void
agency_list_text (const hub_config_t *config, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < config->n_agencies && used + 40 < len; i++)
        used += (size_t) snprintf (buf + used, len - used, "%s%s", i ? ", " : "",
                                   config->agency_list[i]);
}

static bool
check_keys (const hub_config_t *config, const case_event_t *e, verdict_t *v)
{
    if (e->n_keys > (size_t) config->max_keys)
        return reject (v, ERR_LIMIT_EXCEEDED, "%zu correlation keys, limit %d", e->n_keys,
                       config->max_keys);
    for (size_t i = 0; i < e->n_keys; i++) {
        const event_key_t *k = &e->keys[i];
        char err[IDENT_ERR_MAX];
        if (k->kind < KEY_CREDIT_CODE || k->kind > KEY_REFUND_NO)
            return reject (v, ERR_INVALID_KEY, "correlation key %zu has unknown kind %d",
                           i + 1, (int) k->kind);
        const char *name = key_kind_name (k->kind);
        for (size_t j = 0; j < i; j++)
            if (e->keys[j].kind == k->kind)
                return reject (v, ERR_INVALID_KEY, "key %s is given twice", name);
        if (!check_string (config, v, name, k->value, true))
            return false;
        if (strlen (k->value) > VALIDATE_KEY_MAX)
            return reject (v, ERR_LIMIT_EXCEEDED, "%s is %zu bytes, limit %d for a key",
                           name, strlen (k->value), VALIDATE_KEY_MAX);
        if (k->kind == KEY_CREDIT_CODE
            && !ident_credit_code_valid (k->value, err, sizeof err))
            return reject (v, ERR_INVALID_KEY, "%s", err);
        if (k->kind == KEY_UNIT_NUMBER
            && !ident_unit_number_valid (k->value, err, sizeof err))
            return reject (v, ERR_INVALID_KEY, "%s", err);
        if (k->kind == KEY_PROJECT_CODE
            && !ident_project_code_valid (k->value, err, sizeof err))
            return reject (v, ERR_INVALID_KEY, "%s", err);
    }
    return true;
}

/* The instants a timestamp of PostgreSQL and ISO 8601 with four-digit
   years can hold: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z. */
#define TIME_MIN_MS (-62135596800000LL)
#define TIME_MAX_MS 253402300799999LL

/* Checks one instant against the hub clock: at most max-future-s ahead,
   at most max-past-days behind. */
static bool
check_instant (const hub_config_t *config, verdict_t *v, const char *field, int64_t ms,
               int64_t now_ms)
{
    if (ms > now_ms + (int64_t) config->max_future_s * 1000) {
        /* in seconds, so that even INT64_MAX cannot overflow the difference */
        long long ahead = (long long) (ms / 1000 - now_ms / 1000);
        return reject (v, ERR_TIME_OUT_OF_RANGE, "%s is %lld s in the future, limit %d s",
                       field, ahead, config->max_future_s);
    }
    if (ms < now_ms - (int64_t) config->max_past_days * 86400000)
        return reject (v, ERR_TIME_OUT_OF_RANGE, "%s is more than %d days in the past",
                       field, config->max_past_days);
    return true;
}

static bool
check_attrs (const hub_config_t *config, const case_event_t *e, verdict_t *v)
{
    if (e->n_attrs > (size_t) config->max_attrs)
        return reject (v, ERR_LIMIT_EXCEEDED, "%zu attributes, limit %d", e->n_attrs,
                       config->max_attrs);
    for (size_t i = 0; i < e->n_attrs; i++) {
        const event_attr_t *a = &e->attrs[i];
        if (!*a->name)
            return reject (v, ERR_MISSING_FIELD, "attribute %zu has no name", i + 1);
        if (!check_string (config, v, "attribute name", a->name, true))
            return false;
        for (size_t j = 0; j < i; j++)
            if (strcmp (e->attrs[j].name, a->name) == 0)
                return reject (v, ERR_INVALID_FIELD, "attribute \"%s\" is given twice",
                               a->name);
        switch (a->type) {
        case ATTR_TEXT:
            if (strlen (a->text) > (size_t) config->max_text)
                return reject (v, ERR_LIMIT_EXCEEDED,
                               "attribute \"%s\" is %zu bytes, limit %d", a->name,
                               strlen (a->text), config->max_text);
            if (!utf8_valid (a->text))
                return reject (v, ERR_INVALID_FIELD, "attribute \"%s\" is not valid UTF-8",
                               a->name);
            break;
        case ATTR_NUMBER:
            if (!isfinite (a->number))
                return reject (v, ERR_INVALID_FIELD,
                               "attribute \"%s\" is not a finite number", a->name);
            break;
        case ATTR_TIME:
            if (a->time_ms < TIME_MIN_MS || a->time_ms > TIME_MAX_MS)
                return reject (v, ERR_TIME_OUT_OF_RANGE,
                               "attribute \"%s\" is a time of %lld ms since 1970, "
                               "outside the years 1 to 9999",
                               a->name, (long long) a->time_ms);
            break;
        case ATTR_INTEGER:
        case ATTR_FLAG: break;
        default:
            return reject (v, ERR_MISSING_FIELD, "attribute \"%s\" has no value", a->name);
        }
    }
    return true;
}

bool
validate_event (const hub_config_t *config, const case_event_t *e, const char *batch_agency,
                int64_t now_ms, verdict_t *v)
{
    v->code = ERR_NONE;
    v->reason[0] = '\0';
    char quoted[65]; /* a wire value quoted in a reason, UTF-8 safe */
    if (e->schema_version != ONENET_SCHEMA_VERSION)
        return reject (v, ERR_UNSUPPORTED_VERSION,
                       "schema_version %u is not supported (this hub speaks %d)",
                       e->schema_version, ONENET_SCHEMA_VERSION);
    if (!*e->event_id)
        return reject (v, ERR_MISSING_FIELD, "event_id is missing");
    if (!ident_uuid_valid (e->event_id))
        return reject (v, ERR_INVALID_FIELD, "event_id \"%s\" is not a UUID",
                       utf8_safe_copy (quoted, sizeof quoted, e->event_id));
    if (!check_string (config, v, "agency", e->agency, true))
        return false;
    if (!hub_config_agency_known (config, e->agency)) {
        char known[512];
        agency_list_text (config, known, sizeof known);
        return reject (v, ERR_UNKNOWN_AGENCY, "agency \"%s\" is not one of: %s",
                       utf8_safe_copy (quoted, sizeof quoted, e->agency), known);
    }
    if (*batch_agency && strcmp (batch_agency, e->agency) != 0)
        return reject (v, ERR_AGENCY_MISMATCH,
                       "event of agency \"%s\" in a batch sent for agency \"%s\"",
                       e->agency, utf8_safe_copy (quoted, sizeof quoted, batch_agency));
    if (!check_string (config, v, "adapter_id", e->adapter_id, true)
        || !check_string (config, v, "case_no", e->case_no, true)
        || !check_string (config, v, "event_type", e->event_type, true))
        return false;
    char err[200];
    if (!ident_event_type_valid (e->event_type, err, sizeof err))
        return reject (v, ERR_INVALID_FIELD, "%s", err);
    if (e->occurred_at_ms == 0)
        return reject (v, ERR_MISSING_FIELD, "occurred_at is missing");
    if (!check_instant (config, v, "occurred_at", e->occurred_at_ms, now_ms))
        return false;
    /* optional, but written into the row: a time the store cannot hold
       would make the row unreadable */
    if (e->accepted_at_ms
        && !check_instant (config, v, "accepted_at", e->accepted_at_ms, now_ms))
        return false;
    return check_keys (config, e, v) && check_attrs (config, e, v);
}

/* True when list ("agency:type,agency:type", spaces allowed around the
   commas) holds agency:type. */
static bool
extra_type_listed (const char *list, const char *agency, const char *type)
{
    size_t alen = strlen (agency), tlen = strlen (type);
    for (const char *p = list; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t n = strcspn (p, ", ");
        if (n == alen + 1 + tlen && memcmp (p, agency, alen) == 0 && p[alen] == ':'
            && memcmp (p + alen + 1, type, tlen) == 0)
            return true;
        p += n;
    }
    return false;
}

#define MAX_LISTED_TYPES 256 /* distinct types one agency's list may show */

typedef struct {
    const char *agency;                  /* whose vocabulary */
    const char *types[MAX_LISTED_TYPES]; /* its event types, unsorted, distinct */
    size_t n;                            /* entries in types */
} vocabulary_t;

static void
vocabulary_add (vocabulary_t *voc, const char *agency, const char *type, size_t type_len)
{
    if (strcmp (agency, voc->agency) != 0 || voc->n == MAX_LISTED_TYPES)
        return;
    for (size_t i = 0; i < voc->n; i++)
        if (strcspn (voc->types[i], ", ") == type_len
            && memcmp (voc->types[i], type, type_len) == 0)
            return;
    voc->types[voc->n++] = type;
}

static void
vocabulary_add_refs (vocabulary_t *voc, const event_ref_t *refs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        vocabulary_add (voc, refs[i].agency, refs[i].event, strlen (refs[i].event));
}

static int
compare_types (const void *a, const void *b)
{
    const char *x = *(const char *const *) a, *y = *(const char *const *) b;
    size_t xn = strcspn (x, ", "), yn = strcspn (y, ", ");
    int c = memcmp (x, y, xn < yn ? xn : yn);
    return c ? c : (xn > yn) - (xn < yn);
}

/* Writes agency's known event types, sorted, comma-separated, into buf;
   "none" when it has none; cut with "..." when buf is too small. */
static void
vocabulary_text (const hub_config_t *config, const workflow_set_t *set, const char *agency,
                 char *buf, size_t len)
{
    vocabulary_t voc = {.agency = agency};
    for (size_t w = 0; w < workflow_set_count (set); w++) {
        const workflow_def_t *def = workflow_set_get (set, w);
        vocabulary_add_refs (&voc, def->starts_on, def->n_starts_on);
        vocabulary_add_refs (&voc, def->rejects_on, def->n_rejects_on);
        vocabulary_add_refs (&voc, def->reopens_on, def->n_reopens_on);
        vocabulary_add_refs (&voc, def->cancels_on, def->n_cancels_on);
        for (size_t s = 0; s < def->n_steps; s++)
            for (size_t c = 0; c < def->steps[s].n_completes_on; c++)
                vocabulary_add (&voc, def->steps[s].agency, def->steps[s].completes_on[c],
                                strlen (def->steps[s].completes_on[c]));
    }
    /* the operator's extras point into the list: each ends at ',' ' ' or NUL */
    size_t alen = strlen (agency);
    for (const char *p = config->extra_event_types; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        size_t n = strcspn (p, ", ");
        if (n > alen + 1 && memcmp (p, agency, alen) == 0 && p[alen] == ':')
            vocabulary_add (&voc, agency, p + alen + 1, n - alen - 1);
        p += n;
    }
    qsort (voc.types, voc.n, sizeof *voc.types, compare_types);
    size_t used = 0;
    buf[0] = '\0';
    if (voc.n == 0)
        snprintf (buf, len, "none");
    for (size_t i = 0; i < voc.n; i++) {
        int n = (int) strcspn (voc.types[i], ", ");
        if (used + (size_t) n + 6 >= len) {
            snprintf (buf + used, len - used, "%s...", i ? ", " : "");
            break;
        }
        used += (size_t) snprintf (buf + used, len - used, "%s%.*s", i ? ", " : "", n,
                                   voc.types[i]);
    }
}

bool
validate_event_type (const hub_config_t *config, const workflow_set_t *set,
                     const case_event_t *e, verdict_t *v)
{
    v->code = ERR_NONE;
    v->reason[0] = '\0';
    size_t count = 0;
    if (!set)
        return true;
    workflow_set_relevant (set, e->agency, e->event_type, &count);
    if (count > 0
        || extra_type_listed (config->extra_event_types, e->agency, e->event_type))
        return true;
    char known[900], quoted[65];
    vocabulary_text (config, set, e->agency, known, sizeof known);
    return reject (v, ERR_INVALID_FIELD,
                   "event_type \"%s\" is not known for agency \"%s\"; known: %s",
                   utf8_safe_copy (quoted, sizeof quoted, e->event_type), e->agency, known);
}
