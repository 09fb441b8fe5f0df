/*  record: generic NDJSON records to case events, see record.h. */
#include "record.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "clock.h"
#include "codec.h"
#include "ident.h"

#define MAX_KEYS  MAPPED_EVENT_KEYS
#define MAX_ATTRS MAPPED_EVENT_ATTRS

/* A fixed namespace for derived event ids (UUID v5). */
static const uuid_t event_namespace = {0x6f, 0x6e, 0x65, 0x6e, 0x65, 0x74, 0x40, 0x25,
                                       0x86, 0x40, 0x42, 0x50, 0x20, 0x20, 0x00, 0x01};

static const char *
string_field (json_t *obj, const char *name, bool required, char *err, size_t errlen)
{
    json_t *v = json_object_get (obj, name);
    if (!v) {
        if (required)
            snprintf (err, errlen, "field \"%s\" is missing", name);
        return NULL;
    }
    if (!json_is_string (v)) {
        snprintf (err, errlen, "field \"%s\" must be a string", name);
        return NULL;
    }
    if (required && json_string_length (v) == 0) {
        snprintf (err, errlen, "field \"%s\" is empty", name);
        return NULL;
    }
    return json_string_value (v);
}

void
record_event_id (const char *const *parts, const size_t *lens, size_t n, char event_id[37])
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += lens[i] + 1;
    char *name = malloc (total ? total : 1);
    if (!name)
        abort ();
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy (name + at, parts[i], lens[i]);
        at += lens[i];
        if (i + 1 < n)
            name[at++] = '\n';
    }
    uuid_t out;
    uuid_generate_sha1 (out, event_namespace, name, at);
    free (name);
    uuid_unparse_lower (out, event_id);
}

const char *
record_json_type_name (const json_t *value)
{
    switch (json_typeof (value)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

json_t *
record_json_object (const char *line, size_t line_len, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb (line, line_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf (err, errlen, "not JSON: %s (column %d)", jerr.text, jerr.column);
        return NULL;
    }
    if (!json_is_object (root)) {
        snprintf (err, errlen, "a record must be a JSON object, not %s",
                  record_json_type_name (root));
        json_decref (root);
        return NULL;
    }
    return root;
}

bool
record_parse_ndjson (const char *line, size_t line_len, const char *agency,
                     mapped_event_t *out, char *err, size_t errlen)
{
    json_t *root = record_json_object (line, line_len, err, errlen);
    if (!root)
        return false;
    bool ok = false;
    event_key_t *keys = out->keys;
    event_attr_t *attrs = out->attrs;
    case_event_t e;
    memset (&e, 0, sizeof e);
    err[0] = '\0';
    const char *rec_agency = string_field (root, "agency", false, err, errlen);
    if (*err)
        goto done;
    if (rec_agency && strcmp (rec_agency, agency) != 0) {
        snprintf (err, errlen,
                  "field \"agency\" is \"%.32s\" but this adapter is for \"%s\"",
                  rec_agency, agency);
        goto done;
    }
    const char *id = string_field (root, "event_id", false, err, errlen);
    e.case_no = string_field (root, "case_no", true, err, errlen);
    if (*err)
        goto done;
    e.event_type = string_field (root, "event_type", true, err, errlen);
    if (*err)
        goto done;
    if (!ident_event_type_valid (e.event_type, err, errlen))
        goto done;
    const char *occurred = string_field (root, "occurred_at", true, err, errlen);
    if (*err)
        goto done;
    if (!clock_parse_rfc3339 (occurred, &e.occurred_at_ms)) {
        snprintf (err, errlen,
                  "field \"occurred_at\" is \"%.40s\", expected RFC 3339 "
                  "with an offset, like 2020-09-01T09:31:07+08:00",
                  occurred);
        goto done;
    }
    json_t *jkeys = json_object_get (root, "keys");
    if (jkeys && !json_is_object (jkeys)) {
        snprintf (err, errlen, "field \"keys\" must be an object");
        goto done;
    }
    const char *name;
    json_t *value;
    json_object_foreach (jkeys, name, value)
    {
        if (e.n_keys == MAX_KEYS) {
            snprintf (err, errlen, "more than %d keys", MAX_KEYS);
            goto done;
        }
        event_key_t *k = &keys[e.n_keys];
        if (!key_kind_parse (name, &k->kind)) {
            snprintf (err, errlen,
                      "keys.%.40s is not a known key kind (credit_code, "
                      "unit_number, project_code, application_no, refund_no)",
                      name);
            goto done;
        }
        if (!json_is_string (value) || json_string_length (value) == 0) {
            snprintf (err, errlen, "keys.%s must be a non-empty string", name);
            goto done;
        }
        k->value = json_string_value (value);
        char why[256];
        if ((k->kind == KEY_CREDIT_CODE
             && !ident_credit_code_valid (k->value, why, sizeof why))
            || (k->kind == KEY_UNIT_NUMBER
                && !ident_unit_number_valid (k->value, why, sizeof why))) {
            snprintf (err, errlen, "keys.%s: %s", name, why);
            goto done;
        }
        e.n_keys++;
    }
    json_t *jattrs = json_object_get (root, "attrs");
    if (jattrs && !json_is_object (jattrs)) {
        snprintf (err, errlen, "field \"attrs\" must be an object");
        goto done;
    }
    json_object_foreach (jattrs, name, value)
    {
        if (e.n_attrs == MAX_ATTRS) {
            snprintf (err, errlen, "more than %d attributes", MAX_ATTRS);
            goto done;
        }
        if (!*name) {
            snprintf (err, errlen, "attrs has an attribute with an empty name");
            goto done;
        }
        event_attr_t *a = &attrs[e.n_attrs];
        memset (a, 0, sizeof *a);
        a->name = name;
        if (json_is_string (value)) {
            a->type = ATTR_TEXT;
            a->text = json_string_value (value);
        }
        else if (json_is_integer (value)) {
            a->type = ATTR_INTEGER;
            a->integer = json_integer_value (value);
        }
        else if (json_is_real (value)) {
            a->type = ATTR_NUMBER;
            a->number = json_real_value (value);
        }
        else if (json_is_boolean (value)) {
            a->type = ATTR_FLAG;
            a->flag = json_is_true (value);
        }
        else if (json_is_object (value) && json_is_string (json_object_get (value, "time"))
                 && clock_parse_rfc3339 (
                     json_string_value (json_object_get (value, "time")), &a->time_ms)) {
            a->type = ATTR_TIME;
        }
        else {
            snprintf (err, errlen,
                      "attrs.%.40s must be a string, number, boolean or "
                      "{\"time\": RFC 3339}",
                      name);
            goto done;
        }
        e.n_attrs++;
    }
    if (id && !ident_uuid_valid (id)) {
        snprintf (err, errlen, "field \"event_id\" is \"%.40s\", not a UUID", id);
        goto done;
    }
    /* without an id of its own: the same agency and the same record bytes
       are the same event (the framework derives it) */
    out->event_id = id;
    e.keys = keys;
    e.attrs = attrs;
    out->event = e;
    out->root = root;
    root = NULL;
    ok = true;
done:
    json_decref (root);
    return ok;
}
