/*  map: the power company's case records to case events, see map.h. */
#include "map.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beijing_time.h"
#include "codec.h"
#include "record.h"
#include "unknown_field.h"
#include "ident.h"

#define MAX_KEYS  2
#define MAX_ATTRS 3

/* The namespace of derived event ids (UUID v5), the framework's own (see
   adapters/framework/record.c and docs/adapters/generic.md), so that an id
   is a function of the agency and the record whichever adapter made it. */
/* Writes a JSON value as compact text for an error message ("missing" for
   NULL). */
/* Every field of the format (docs/adapters/power.md); others are ignored. */
static const char *const s_fields[] = {"appNo",
                                       "busiType",
                                       "step",
                                       "eventTime",
                                       "voltageLevel",
                                       "capacityKva",
                                       "needExternalWorks",
                                       "needTransformer",
                                       "supplyMode",
                                       "unitNo",
                                       "custName",
                                       "recId"};

static void
s_show (json_t *value, char *buf, size_t size)
{
    if (!value) {
        snprintf (buf, size, "missing");
        return;
    }
    char *text = json_dumps (value, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf (buf, size, "%.60s", text ? text : "?");
    free (text);
}

/* The string member name of obj. Absent or null: returns NULL, and when
   required says the field is missing. Another type, or "" when required:
   says so. Check *err after a NULL. */
static const char *
s_string (json_t *obj, const char *name, bool required, char *err, size_t errlen)
{
    json_t *v = json_object_get (obj, name);
    if (!v || json_is_null (v)) {
        if (required)
            snprintf (err, errlen, "field \"%s\" is missing", name);
        return NULL;
    }
    if (!json_is_string (v) || json_string_length (v) == 0) {
        char shown[64];
        s_show (v, shown, sizeof shown);
        snprintf (err, errlen, "field \"%s\" is %s, expected a non-empty string", name,
                  shown);
        return NULL;
    }
    return json_string_value (v);
}

/* The boolean member name of obj into *flag; false (and a reason) when it
   is absent, null or not a boolean. */
static bool
s_flag (json_t *obj, const char *name, bool *flag, char *err, size_t errlen)
{
    json_t *v = json_object_get (obj, name);
    if (!v || json_is_null (v)) {
        snprintf (err, errlen, "field \"%s\" is missing, expected true or false", name);
        return false;
    }
    if (!json_is_boolean (v)) {
        char shown[64];
        s_show (v, shown, sizeof shown);
        snprintf (err, errlen, "field \"%s\" is %s, expected true or false", name, shown);
        return false;
    }
    *flag = json_is_true (v);
    return true;
}

/* eventTime: Beijing local time without an offset, "YYYY-MM-DDTHH:MM:SS"
   (or a space for the T), optionally with a fraction of a second. */
static const char s_event_time[] =
    "YYYY-MM-DDThh:mm:ss|YYYY-MM-DD hh:mm:ss|YYYY-MM-DDThh:mm:ss.f|YYYY-MM-DD hh:mm:ss.f";

/* Derives connection_class from an accepted new installation (seed item
   18): the voltage level, then what the connection involves. */
static const char *
s_connection_class (json_t *root, bool external_works, char *err, size_t errlen)
{
    const char *level = s_string (root, "voltageLevel", true, err, errlen);
    if (!level)
        return NULL;
    if (strcmp (level, "LV") == 0) {
        bool transformer;
        if (!s_flag (root, "needTransformer", &transformer, err, errlen))
            return NULL;
        if (transformer)
            return "low_voltage_transformer";
        return external_works ? "low_voltage_external" : "low_voltage";
    }
    if (strcmp (level, "HV") == 0) {
        /* An unknown supply mode is refused rather than read as single
           supply: that would give 25 working days where 40 may be due. */
        const char *mode = s_string (root, "supplyMode", false, err, errlen);
        if (*err)
            return NULL;
        if (!mode || strcmp (mode, "SINGLE") == 0)
            return "high_voltage_single";
        if (strcmp (mode, "DUAL") == 0)
            return "high_voltage_dual";
        snprintf (
            err, errlen,
            "field \"supplyMode\" is \"%.40s\", expected \"SINGLE\", \"DUAL\" or null",
            mode);
        return NULL;
    }
    snprintf (err, errlen, "field \"voltageLevel\" is \"%.40s\", expected \"LV\" or \"HV\"",
              level);
    return NULL;
}

/* Adds capacityKva, when present and not null, as the attribute
   capacity_kva (an integer, or a number when it has a fraction). */
static bool
s_capacity (json_t *root, event_attr_t *attrs, size_t *n, char *err, size_t errlen)
{
    json_t *v = json_object_get (root, "capacityKva");
    if (!v || json_is_null (v))
        return true;
    event_attr_t *a = &attrs[*n];
    memset (a, 0, sizeof *a);
    a->name = "capacity_kva";
    if (json_is_integer (v) && json_integer_value (v) >= 0) {
        a->type = ATTR_INTEGER;
        a->integer = json_integer_value (v);
    }
    else if (json_is_real (v) && json_real_value (v) >= 0) {
        a->type = ATTR_NUMBER;
        a->number = json_real_value (v);
    }
    else {
        char shown[64];
        s_show (v, shown, sizeof shown);
        snprintf (
            err, errlen,
            "field \"capacityKva\" is %s, expected a number of kVA, 0 or more, or null",
            shown);
        return false;
    }
    (*n)++;
    return true;
}

bool
power_map (const char *line, size_t line_len, const char *agency, mapped_event_t *out,
           char *err, size_t errlen)
{
    err[0] = '\0';
    json_t *root = record_json_object (line, line_len, err, errlen);
    if (!root)
        return false;
    bool ok = false;
    event_key_t *keys = out->keys;
    event_attr_t *attrs = out->attrs;
    case_event_t e;
    memset (&e, 0, sizeof e);
    //  fields the format does not define are ignored, with one warning per
    //  name and run (adapters/framework/unknown_field.h)
    unknown_field_check (root, s_fields, sizeof s_fields / sizeof s_fields[0], agency);
    const char *app_no = s_string (root, "appNo", true, err, errlen);
    if (!app_no)
        goto done;
    const char *busi = s_string (root, "busiType", true, err, errlen);
    if (!busi)
        goto done;
    const char *step = s_string (root, "step", true, err, errlen);
    if (!step)
        goto done;
    bool install = strcmp (busi, "NEW_INSTALL") == 0;
    bool accept = false;
    if (install) {
        accept = strcmp (step, "ACCEPT") == 0;
        if (!accept && strcmp (step, "COMPLETE") != 0) {
            snprintf (err, errlen,
                      "field \"step\" is \"%.40s\", expected \"ACCEPT\" or \"COMPLETE\" "
                      "for busiType \"NEW_INSTALL\"",
                      step);
            goto done;
        }
        e.event_type = accept ? "connection.accepted" : "connection.completed";
    }
    else if (strcmp (busi, "TRANSFER") == 0) {
        if (strcmp (step, "DONE") != 0) {
            snprintf (err, errlen,
                      "field \"step\" is \"%.40s\", expected \"DONE\" for busiType "
                      "\"TRANSFER\"",
                      step);
            goto done;
        }
        e.event_type = "account.transferred";
    }
    else {
        snprintf (err, errlen,
                  "field \"busiType\" is \"%.40s\", expected \"NEW_INSTALL\" or "
                  "\"TRANSFER\"",
                  busi);
        goto done;
    }
    const char *when = s_string (root, "eventTime", true, err, errlen);
    if (!when)
        goto done;
    if (!beijing_time_parse (when, s_event_time, &e.occurred_at_ms)) {
        snprintf (err, errlen,
                  "field \"eventTime\" is \"%.40s\", expected Beijing local time "
                  "without an offset, like 2020-09-01T09:30:00",
                  when);
        goto done;
    }
    //  Keys: the application number always, the unit number when known.
    keys[e.n_keys++] = (event_key_t){KEY_APPLICATION_NO, app_no};
    const char *unit = s_string (root, "unitNo", false, err, errlen);
    if (*err)
        goto done;
    if (unit) {
        char why[IDENT_ERR_MAX];
        if (!ident_unit_number_valid (unit, why, sizeof why)) {
            snprintf (err, errlen, "field \"unitNo\" is \"%.40s\": %s", unit, why);
            goto done;
        }
        keys[e.n_keys++] = (event_key_t){KEY_UNIT_NUMBER, unit};
    }
    else if (!install) {
        /* property_transfer is keyed by the unit number: an account
           transfer without one could never complete its step. */
        snprintf (err, errlen,
                  "field \"unitNo\" is missing, required for busiType \"TRANSFER\"");
        goto done;
    }
    if (accept) {
        bool external;
        if (!s_flag (root, "needExternalWorks", &external, err, errlen))
            goto done;
        const char *cls = s_connection_class (root, external, err, errlen);
        if (!cls)
            goto done;
        attrs[e.n_attrs++] =
            (event_attr_t){.name = "connection_class", .type = ATTR_TEXT, .text = cls};
        attrs[e.n_attrs++] =
            (event_attr_t){.name = "external_works", .type = ATTR_FLAG, .flag = external};
        if (!s_capacity (root, attrs, &e.n_attrs, err, errlen))
            goto done;
    }
    const char *rec_id = s_string (root, "recId", false, err, errlen);
    if (*err)
        goto done;
    //  the event id: over the agency and recId when the record has one,
    //  else the record's bytes (the framework derives it)
    if (rec_id)
        mapped_event_id_part (out, rec_id, strlen (rec_id));

    e.case_no = app_no;
    out->event = e;
    out->root = root;
    root = NULL;
    ok = true;
done:
    json_decref (root);
    return ok;
}
