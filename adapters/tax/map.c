/*  map: the tax bureau's case records to case events, see map.h. */
#include "map.h"

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beijing_time.h"
#include "codec.h"
#include "record.h"
#include "unknown_field.h"
#include "ident.h"

#define MAX_KEYS  3
#define MAX_ATTRS 2

/* The namespace of derived event ids, the same as the generic adapter's
   (adapters/framework/record.c), so that one rule derives every id. */
/* How a field's value becomes an attribute. */
typedef enum {
    VALUE_AMOUNT, /* JE: a JSON number, not negative, in yuan -> number */
    VALUE_YES_NO, /* "Y" / "N" -> flag */
    VALUE_GRADE   /* A, B, M, C or D -> text */
} value_kind_t;

/* One business the bureau reports: a (YWLX, YWZT) pair and its event. */
typedef struct {
    const char *ywlx;       /* 业务类型, business type */
    const char *ywzt;       /* 业务状态, business state */
    const char *event_type; /* the case event it becomes */
    const char *key_field;  /* the field that must carry the event's key */
    const char *attr_field; /* the field the attribute comes from */
    const char *attr_name;  /* the attribute's name in the event */
    value_kind_t attr_kind; /* how the value is read */
    bool attr_required;     /* refuse the record without attr_field */
} business_t;

/* Every field of the format (docs/adapters/tax.md); others are ignored. */
static const char *const s_fields[] = {"WSH",    "YWLX",    "YWZT", "FSSJ", "NSRSBH",
                                       "BDCDYH", "TKH",     "JE",   "UKEY", "WQS",
                                       "XYDJ",   "SWJG_DM", "JLH"};

static const business_t s_businesses[] = {
    {"QS", "HD", "deed_tax.assessed", "BDCDYH", "JE", "deed_tax_yuan", VALUE_AMOUNT, true},
    {"QS", "JS", "deed_tax.paid", "BDCDYH", "JE", "deed_tax_yuan", VALUE_AMOUNT, false},
    {"FP", "KJ", "invoice.issued", "NSRSBH", "UKEY", "ukey_issued", VALUE_YES_NO, true},
    {"ZX", "QJ", "deregistration.cleared", "NSRSBH", "WQS", "no_arrears", VALUE_YES_NO,
     true},
    {"XY", "GX", "credit_grade.shared", "NSRSBH", "XYDJ", "grade", VALUE_GRADE, true},
    {"TK", "SP", "refund.approved", "TKH", "JE", "refund_yuan", VALUE_AMOUNT, true},
};

#define N_BUSINESSES (sizeof s_businesses / sizeof s_businesses[0])

/* Writes a JSON value as it appeared (compact, at most 40 bytes) into buf,
   for a reason that must show the offending value. */
static const char *
s_shown (const json_t *value, char *buf, size_t size)
{
    char *text = json_dumps (value, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf (buf, size, "%.40s", text ? text : "?");
    free (text);
    return buf;
}

/* Reads the string field name of obj into *out. A member that is absent,
   null or "" leaves *out NULL; with required, that refuses the record
   (event_type, when not NULL, says which event needs it). Returns false,
   with the reason in err, when the record must be refused. */
static bool
s_string (json_t *obj, const char *name, bool required, const char *event_type,
          const char **out, char *err, size_t errlen)
{
    *out = NULL;
    json_t *v = json_object_get (obj, name);
    if (v && !json_is_null (v) && !json_is_string (v)) {
        char shown[48];
        snprintf (err, errlen, "field \"%s\" is %s, expected a string", name,
                  s_shown (v, shown, sizeof shown));
        return false;
    }
    if (v && json_is_string (v) && json_string_length (v) > 0)
        *out = json_string_value (v);
    if (!*out && required) {
        snprintf (err, errlen, "field \"%s\" is %s%s%s", name,
                  !v                 ? "missing"
                  : json_is_null (v) ? "null"
                                     : "empty",
                  event_type ? ", required for " : "", event_type ? event_type : "");
        return false;
    }
    return true;
}

/* Fills attr from the field of business b; *present false when the
   optional field is absent. Returns false with the reason in err. */
static bool
s_attr (json_t *root, const business_t *b, event_attr_t *attr, bool *present, char *err,
        size_t errlen)
{
    *present = false;
    memset (attr, 0, sizeof *attr);
    attr->name = b->attr_name;
    json_t *v = json_object_get (root, b->attr_field);
    char shown[48];
    if (b->attr_kind == VALUE_AMOUNT) {
        if (!v || json_is_null (v)) {
            if (b->attr_required) {
                snprintf (err, errlen, "field \"%s\" is %s, required for %s", b->attr_field,
                          v ? "null" : "missing", b->event_type);
                return false;
            }
            return true;
        }
        if (!json_is_number (v)) {
            snprintf (err, errlen, "field \"%s\" is %s, expected a JSON number of yuan",
                      b->attr_field, s_shown (v, shown, sizeof shown));
            return false;
        }
        double yuan = json_number_value (v);
        if (!isfinite (yuan) || yuan < 0) {
            snprintf (err, errlen, "field \"%s\" is %s, expected an amount of 0 or more",
                      b->attr_field, s_shown (v, shown, sizeof shown));
            return false;
        }
        //  always a number, so that 12000 and 12000.50 are one type
        attr->type = ATTR_NUMBER;
        attr->number = yuan;
        *present = true;
        return true;
    }
    const char *text;
    if (!s_string (root, b->attr_field, b->attr_required, b->event_type, &text, err,
                   errlen))
        return false;
    if (!text)
        return true;
    if (b->attr_kind == VALUE_YES_NO) {
        if (strcmp (text, "Y") != 0 && strcmp (text, "N") != 0) {
            snprintf (err, errlen, "field \"%s\" is \"%.40s\", expected \"Y\" or \"N\"",
                      b->attr_field, text);
            return false;
        }
        attr->type = ATTR_FLAG;
        attr->flag = text[0] == 'Y';
    }
    else {
        if (strlen (text) != 1 || !strchr ("ABMCD", text[0])) {
            snprintf (err, errlen,
                      "field \"%s\" is \"%.40s\", expected a credit grade A, B, M, C or D",
                      b->attr_field, text);
            return false;
        }
        attr->type = ATTR_TEXT;
        attr->text = text;
    }
    *present = true;
    return true;
}

/* Finds the business of a (YWLX, YWZT) pair; NULL with the reason in err. */
static const business_t *
s_business (const char *ywlx, const char *ywzt, char *err, size_t errlen)
{
    bool type_known = false;
    char states[64] = "";
    for (size_t i = 0; i < N_BUSINESSES; i++) {
        const business_t *b = &s_businesses[i];
        if (strcmp (b->ywlx, ywlx) != 0)
            continue;
        if (strcmp (b->ywzt, ywzt) == 0)
            return b;
        size_t used = strlen (states);
        snprintf (states + used, sizeof states - used, "%s%s", type_known ? ", " : "",
                  b->ywzt);
        type_known = true;
    }
    if (!type_known)
        snprintf (err, errlen,
                  "field \"YWLX\" is \"%.40s\", not a known business type "
                  "(QS, FP, ZX, XY, TK)",
                  ywlx);
    else
        snprintf (err, errlen,
                  "field \"YWZT\" is \"%.40s\", not a known state for YWLX \"%s\" "
                  "(expected %s)",
                  ywzt, ywlx, states);
    return NULL;
}

bool
tax_map (const char *line, size_t line_len, const char *agency, mapped_event_t *out,
         char *err, size_t errlen)
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
    //  fields the format does not define are ignored, with one warning per
    //  name and run (adapters/framework/unknown_field.h)
    unknown_field_check (root, s_fields, sizeof s_fields / sizeof s_fields[0], agency);
    const char *ywlx, *ywzt, *fssj;
    if (!s_string (root, "WSH", true, NULL, &e.case_no, err, errlen)
        || !s_string (root, "YWLX", true, NULL, &ywlx, err, errlen)
        || !s_string (root, "YWZT", true, NULL, &ywzt, err, errlen))
        goto done;
    const business_t *b = s_business (ywlx, ywzt, err, errlen);
    if (!b)
        goto done;
    e.event_type = b->event_type;
    if (!s_string (root, "FSSJ", true, NULL, &fssj, err, errlen))
        goto done;
    if (!beijing_time_parse (fssj, "YYYYMMDDhhmmss", &e.occurred_at_ms)) {
        snprintf (err, errlen,
                  "field \"FSSJ\" is \"%.40s\", expected Beijing time YYYYMMDDHHMMSS, "
                  "like 20200901093000",
                  fssj);
        goto done;
    }

    //  Keys: each checked when present; the business's own key is required.
    static const struct {
        const char *field; /* the bureau's field */
        key_kind_t kind;   /* the key it becomes */
    } key_fields[MAX_KEYS] = {
        {"NSRSBH", KEY_CREDIT_CODE},
        {"BDCDYH", KEY_UNIT_NUMBER},
        {"TKH", KEY_REFUND_NO},
    };
    for (size_t i = 0; i < MAX_KEYS; i++) {
        const char *value;
        bool required = strcmp (key_fields[i].field, b->key_field) == 0;
        if (!s_string (root, key_fields[i].field, required, b->event_type, &value, err,
                       errlen))
            goto done;
        if (!value)
            continue;
        char why[IDENT_ERR_MAX];
        if ((key_fields[i].kind == KEY_CREDIT_CODE
             && !ident_credit_code_valid (value, why, sizeof why))
            || (key_fields[i].kind == KEY_UNIT_NUMBER
                && !ident_unit_number_valid (value, why, sizeof why))) {
            snprintf (err, errlen, "field \"%s\": %s", key_fields[i].field, why);
            goto done;
        }
        keys[e.n_keys].kind = key_fields[i].kind;
        keys[e.n_keys].value = value;
        e.n_keys++;
    }

    //  Attributes: the business's own, and the tax office when given.
    bool present;
    if (!s_attr (root, b, &attrs[e.n_attrs], &present, err, errlen))
        goto done;
    if (present)
        e.n_attrs++;
    const char *office;
    if (!s_string (root, "SWJG_DM", false, NULL, &office, err, errlen))
        goto done;
    if (office) {
        memset (&attrs[e.n_attrs], 0, sizeof attrs[e.n_attrs]);
        attrs[e.n_attrs].name = "tax_office";
        attrs[e.n_attrs].type = ATTR_TEXT;
        attrs[e.n_attrs].text = office;
        e.n_attrs++;
    }

    //  The id: the bureau's record id when given, so that a record exported
    //  again with other formatting is the same event; else the bytes.
    const char *jlh;
    if (!s_string (root, "JLH", false, NULL, &jlh, err, errlen))
        goto done;
    if (jlh)
        mapped_event_id_part (out, jlh, strlen (jlh));

    out->event = e;
    out->root = root;
    root = NULL;
    ok = true;
done:
    json_decref (root);
    return ok;
}
