/*  map: the water company's export records to case events, see map.h. */
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

/* The namespace of derived event ids (UUID v5), the same as the generic
   adapter's (adapters/framework/record.c): ids are per agency anyway. */
/* One (业务, 节点) pair of the export and the event it becomes. */
typedef struct {
    const char *business; /* 业务: 报装 or 过户 */
    const char *node;     /* 节点: the step within it */
    const char *event;    /* onenet event type */
    bool needs_flags;     /* 外线工程 and 特殊场所 are required */
    bool needs_unit;      /* 不动产单元号 is required */
} water_step_t;

/* Every field of the format (docs/adapters/water.md); others are ignored. */
static const char *const s_fields[] = {"工单号",   "业务",     "节点",         "时间",
                                       "外线工程", "特殊场所", "不动产单元号", "流水号",
                                       "用水地址", "户名"};

static const water_step_t s_steps[] = {
    {"报装", "受理", "connection.accepted", true, false},
    {"报装", "通水", "connection.completed", false, false},
    /* an account transfer is matched to the property transfer by the unit
       number alone: without it the event could never complete a step */
    {"过户", "完成", "account.transferred", false, true},
};
#define N_STEPS (sizeof s_steps / sizeof s_steps[0])

/* Field name of root as a string. Returns NULL when it is absent or "" (err
   untouched), or when it is no string (err set: test *err). With required,
   absent and "" are refused too. The export writes empty columns as "". */
static const char *
s_string (json_t *root, const char *name, bool required, const char *why, char *err,
          size_t errlen)
{
    json_t *v = json_object_get (root, name);
    if (v && !json_is_string (v)) {
        snprintf (err, errlen, "field \"%s\" is %s, expected a string", name,
                  record_json_type_name (v));
        return NULL;
    }
    if (!v || json_string_length (v) == 0) {
        if (required)
            snprintf (err, errlen, "field \"%s\" is %s%s", name, v ? "empty" : "missing",
                      why ? why : "");
        return NULL;
    }
    return json_string_value (v);
}

/* 是 / 否 to a flag. Returns false, with err set, for anything else. */
static bool
s_yes_no (const char *name, const char *text, bool *flag, char *err, size_t errlen)
{
    if (strcmp (text, "是") == 0)
        *flag = true;
    else if (strcmp (text, "否") == 0)
        *flag = false;
    else {
        snprintf (err, errlen, "field \"%s\" is \"%.40s\", expected 是 or 否", name, text);
        return false;
    }
    return true;
}

/* water_map with an error buffer of its own size, so that "*err set" is a
   reliable test however small the caller's buffer is. */
static bool
s_map (const char *line, size_t line_len, const char *agency, mapped_event_t *out,
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
    memset (out->attrs, 0, sizeof out->attrs);
    //  fields the format does not define are ignored, with one warning per
    //  name and run (adapters/framework/unknown_field.h)
    unknown_field_check (root, s_fields, sizeof s_fields / sizeof s_fields[0], agency);
    //  Every field the export defines is read (and type-checked) up front,
    //  so a refusal names the first bad field whatever the record's kind.
    const char *order_no = s_string (root, "工单号", true, NULL, err, errlen);
    if (*err)
        goto done;
    const char *business = s_string (root, "业务", true, NULL, err, errlen);
    if (*err)
        goto done;
    const char *node = s_string (root, "节点", true, NULL, err, errlen);
    if (*err)
        goto done;
    const char *time = s_string (root, "时间", true, NULL, err, errlen);
    if (*err)
        goto done;
    const char *outer = s_string (root, "外线工程", false, NULL, err, errlen);
    if (*err)
        goto done;
    const char *special = s_string (root, "特殊场所", false, NULL, err, errlen);
    if (*err)
        goto done;
    const char *unit = s_string (root, "不动产单元号", false, NULL, err, errlen);
    if (*err)
        goto done;
    const char *serial = s_string (root, "流水号", false, NULL, err, errlen);
    if (*err)
        goto done;
    //  Read but not forwarded: the hub needs neither, and a name and an
    //  address are personal data that should not travel without a reason.
    s_string (root, "用水地址", false, NULL, err, errlen);
    if (*err)
        goto done;
    s_string (root, "户名", false, NULL, err, errlen);
    if (*err)
        goto done;

    //  业务 and 节点 choose the event.
    const water_step_t *step = NULL;
    bool business_known = false;
    for (size_t i = 0; i < N_STEPS; i++) {
        if (strcmp (s_steps[i].business, business) != 0)
            continue;
        business_known = true;
        if (strcmp (s_steps[i].node, node) == 0)
            step = &s_steps[i];
    }
    if (!business_known) {
        snprintf (err, errlen, "field \"业务\" is \"%.40s\", expected 报装 or 过户",
                  business);
        goto done;
    }
    if (!step) {
        snprintf (err, errlen, "field \"节点\" is \"%.40s\", expected %s for 业务 %s", node,
                  strcmp (business, "报装") == 0 ? "受理 or 通水" : "完成", business);
        goto done;
    }
    if (!beijing_time_parse (time, "YYYY/MM/DD hh:mm|YYYY/MM/DD hh:mm:ss",
                             &e.occurred_at_ms)) {
        snprintf (err, errlen,
                  "field \"时间\" is \"%.40s\", expected Beijing time YYYY/MM/DD HH:MM "
                  "(seconds optional), like 2020/09/01 09:30",
                  time);
        goto done;
    }

    //  Keys: the work order number always, the unit number when given.
    keys[e.n_keys++] = (event_key_t){KEY_APPLICATION_NO, order_no};
    if (unit) {
        char why[IDENT_ERR_MAX];
        if (!ident_unit_number_valid (unit, why, sizeof why)) {
            snprintf (err, errlen, "field \"不动产单元号\" is \"%.40s\": %s", unit, why);
            goto done;
        }
        keys[e.n_keys++] = (event_key_t){KEY_UNIT_NUMBER, unit};
    }
    else if (step->needs_unit) {
        snprintf (err, errlen,
                  "field \"不动产单元号\" is %s: 过户 needs it to match the property "
                  "transfer",
                  json_object_get (root, "不动产单元号") ? "empty" : "missing");
        goto done;
    }

    //  Attributes: the two flags that choose the connection's deadline.
    //  Required where they decide it (受理); kept wherever they are given.
    const char *flag_names[2] = {"外线工程", "特殊场所"};
    const char *flag_values[2] = {outer, special};
    const char *attr_names[2] = {"external_works", "special_case"};
    for (int i = 0; i < 2; i++) {
        if (!flag_values[i]) {
            if (step->needs_flags) {
                snprintf (err, errlen, "field \"%s\" is %s: %s %s needs 是 or 否",
                          flag_names[i],
                          json_object_get (root, flag_names[i]) ? "empty" : "missing",
                          business, node);
                goto done;
            }
            continue;
        }
        event_attr_t *a = &attrs[e.n_attrs];
        a->name = attr_names[i];
        a->type = ATTR_FLAG;
        if (!s_yes_no (flag_names[i], flag_values[i], &a->flag, err, errlen))
            goto done;
        e.n_attrs++;
    }

    //  The id: by 流水号 (with the event type, in case the export numbers
    //  an application rather than each of its steps), else by the bytes.
    //  (the parts are joined by line feeds: agency, serial, event type)
    if (serial) {
        mapped_event_id_part (out, serial, strlen (serial));
        mapped_event_id_part (out, step->event, strlen (step->event));
    }

    e.case_no = order_no;
    e.event_type = step->event;
    out->event = e;
    out->root = root;
    root = NULL;
    ok = true;
done:
    json_decref (root);
    return ok;
}

bool
water_map (const char *line, size_t line_len, const char *agency, mapped_event_t *out,
           char *err, size_t errlen)
{
    char why[512];
    bool ok = s_map (line, line_len, agency, out, why, sizeof why);
    if (err && errlen)
        snprintf (err, errlen, "%s", ok ? "" : why);
    return ok;
}
