/*  map: the land registry's own records to case events, see map.h.

    The registry names its fields in Chinese; the event gets ASCII attribute
    names. Every refusal names the registry's field and, where there is one,
    the value it held, so the registry's IT staff can find the record. */
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
#include "strbuf.h"
#include "ident.h"

#define MAX_ATTRS 24

/* The namespace of derived event ids: the same one the generic adapter
   uses (adapters/framework/record.c), 6f6e656e-6574-4025-8640-425020200001. */
/* 登记类型: registration type -> event type prefix, and the attribute that
   tells apart the kinds seed item 31 gives different time limits. */
typedef struct {
    const char *name;   /* the registry's 登记类型 */
    const char *prefix; /* event type before the dot */
    const char *attr;   /* attribute set by the type alone (change_kind, action,
                           mortgage_kind), NULL when none */
    const char *value;  /* its value */
} land_type_t;

/* Every field of the format (docs/adapters/land.md); others are ignored. */
static const char *const s_fields[] = {
    "业务编号", "登记类型",    "办理环节",     "不动产单元号", "发生时间",
    "是否抵押", "是否通燃气",  "是否集中供暖", "权利人",       "权利人证件号",
    "变更类型", "记录号",      "面积",         "抵押权人",     "被担保债权数额",
    "债务人",   "债务人证件号", "登记原因"};

/* Seed item 31 (docs/adapters/land.md has the whole table): 查（解）封,
   异议, 注销 at once; 纯身份信息和地址 changes, transfers on a court's or an
   arbitration commission's legal document, 补换证 in 1 working day; 抵押权
   in 2; 首次, 转移, 预告 and the other general registrations and 在建建筑物
   抵押 in 4. A 变更登记's change_kind comes from 变更类型 (s_change_kinds),
   a 转移登记's transfer_basis from 登记原因 (s_transfer_reasons). */
static const land_type_t s_types[] = {
    {"转移登记", "transfer", NULL, NULL},
    {"抵押登记", "mortgage", NULL, NULL},
    {"在建建筑物抵押登记", "mortgage", "mortgage_kind", "construction"},
    {"查封登记", "seizure", "action", "查封"},
    {"解封登记", "seizure", "action", "解封"}, //  a release: the same seizure.* events
    {"异议登记", "objection", NULL, NULL},
    {"注销登记", "cancellation", NULL, NULL},
    {"变更登记", "change", NULL, NULL},
    {"更正登记", "change", "change_kind", "correction"},
    {"换证", "change", "change_kind", "certificate_replacement"},
    {"换证登记", "change", "change_kind", "certificate_replacement"},
    {"补证登记", "change", "change_kind", "certificate_replacement"},
    {"首次登记", "first_registration", NULL, NULL},
    {"预告登记", "advance_notice", NULL, NULL},
};
#define TYPE_LIST                                                                          \
    "转移登记, 抵押登记, 在建建筑物抵押登记, 查封登记, 解封登记, 异议登记, "  \
    "注销登记, 变更登记, 更正登记, 换证, 换证登记, 补证登记, 首次登记, 预告登记"

/* A name of the registry's and the attribute value it gives. */
typedef struct {
    const char *name;  /* the registry's 变更类型 or 登记原因 */
    const char *value; /* change_kind or transfer_basis */
} land_kind_t;

/* 变更类型 of a 变更登记: what changed. Item 31's 1 working day is for a
   change of the holder's identity or address only ("纯身份信息和地址发生
   变化的变更登记"); any other change is a general registration (4 days).
   Without 变更类型 the record does not say which: change_kind unspecified. */
static const land_kind_t s_change_kinds[] = {
    {"姓名变更", "identity_or_address"},     {"名称变更", "identity_or_address"},
    {"证件种类变更", "identity_or_address"}, {"证件号码变更", "identity_or_address"},
    {"住址变更", "identity_or_address"},     {"坐落变更", "identity_or_address"},
    {"面积变更", "other"},                   {"用途变更", "other"},
    {"权利期限变更", "other"},               {"界址变更", "other"},
    {"共有方式变更", "other"},               {"其他变更", "other"},
};
#define CHANGE_LIST                                                                        \
    "姓名变更, 名称变更, 证件种类变更, 证件号码变更, 住址变更, 坐落变更, "     \
    "面积变更, 用途变更, 权利期限变更, 界址变更, 共有方式变更, 其他变更"

/* 登记原因 of a 转移登记: a transfer on a court's or an arbitration
   commission's effective legal document ("依人民法院和仲裁委员会生效法律文书
   办理转移登记") has 1 working day; any other transfer 4. Without 登记原因:
   an ordinary transfer, as before the field existed. */
static const land_kind_t s_transfer_reasons[] = {
    {"法院判决", "legal_document"}, {"法院裁定", "legal_document"},
    {"法院调解", "legal_document"}, {"仲裁裁决", "legal_document"},
    {"仲裁调解", "legal_document"}, {"买卖", "ordinary"},
    {"赠与", "ordinary"},           {"继承", "ordinary"},
    {"受遗赠", "ordinary"},         {"互换", "ordinary"},
    {"分割", "ordinary"},           {"合并", "ordinary"},
    {"作价出资", "ordinary"},       {"其他", "ordinary"},
};
#define REASON_LIST                                                                        \
    "法院判决, 法院裁定, 法院调解, 仲裁裁决, 仲裁调解, 买卖, 赠与, 继承, "     \
    "受遗赠, 互换, 分割, 合并, 作价出资, 其他"

/* The value of name in kinds (n entries), NULL when it is not there. */
static const char *
s_kind (const land_kind_t *kinds, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp (kinds[i].name, name) == 0)
            return kinds[i].value;
    return NULL;
}

/* 办理环节: stage -> event type suffix. */
typedef struct {
    const char *name;   /* the registry's 办理环节 */
    const char *suffix; /* event type after the dot */
} land_stage_t;

static const land_stage_t s_stages[] = {
    {"受理", "accepted"},     {"登簿", "registered"}, {"办结", "registered"},
    {"不予登记", "rejected"}, {"撤回", "withdrawn"},
};
#define STAGE_LIST "受理, 登簿, 办结, 不予登记, 撤回"

/* Copies at most size - 1 bytes of s into buf, never cutting a UTF-8
   character in two, so a reason stays valid UTF-8. */
static const char *
s_clip (const char *s, char *buf, size_t size)
{
    size_t n = strlen (s);
    if (n >= size) {
        n = size - 1;
        while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy (buf, s, n);
    buf[n] = '\0';
    return buf;
}

/* The string member name of root into *out. Absent, null or (when not
   required) "" leave *out NULL; a required one that is absent or empty,
   or any member that is not a string, is an error. Returns false on error,
   with the reason in err. */
static bool
s_text (json_t *root, const char *name, bool required, const char **out, char *err,
        size_t errlen)
{
    *out = NULL;
    json_t *v = json_object_get (root, name);
    if (!v || json_is_null (v)) {
        if (required) {
            snprintf (err, errlen, "field \"%s\" is missing", name);
            return false;
        }
        return true;
    }
    if (!json_is_string (v)) {
        snprintf (err, errlen, "field \"%s\" must be a string", name);
        return false;
    }
    if (json_string_length (v) == 0) {
        if (required) {
            snprintf (err, errlen, "field \"%s\" is empty", name);
            return false;
        }
        return true;
    }
    *out = json_string_value (v);
    return true;
}

/* The 是/否 field name of root into *flag. Absent, null or "" leave *given
   false; a string other than 是 or 否, or another JSON type, is an error.
   Returns false on error, with the reason in err. */
static bool
s_yes_no (json_t *root, const char *name, bool *given, bool *flag, char *err, size_t errlen)
{
    *given = false;
    const char *text;
    if (!s_text (root, name, false, &text, err, errlen))
        return false;
    if (!text)
        return true;
    *flag = strcmp (text, "是") == 0;
    if (!*flag && strcmp (text, "否") != 0) {
        char clip[64];
        snprintf (err, errlen, "field \"%s\" is \"%s\", expected 是 or 否", name,
                  s_clip (text, clip, sizeof clip));
        return false;
    }
    *given = true;
    return true;
}

/* The number field name of root, not negative, into *value: what (e.g.
   "square metres") names its unit in the reason. Absent or null leave
   *given false. Returns false on error, with the reason in err. */
static bool
s_quantity (json_t *root, const char *name, const char *what, bool *given, double *value,
            char *err, size_t errlen)
{
    *given = false;
    json_t *v = json_object_get (root, name);
    if (!v || json_is_null (v))
        return true;
    if (!json_is_number (v)) {
        snprintf (err, errlen, "field \"%s\" must be a number of %s", name, what);
        return false;
    }
    *value = json_number_value (v);
    if (*value < 0) {
        snprintf (err, errlen, "field \"%s\" is %g, must not be negative", name, *value);
        return false;
    }
    *given = true;
    return true;
}

bool
land_map (const char *line, size_t line_len, const char *agency, mapped_event_t *out,
          char *err, size_t errlen)
{
    err[0] = '\0';
    json_t *root = record_json_object (line, line_len, err, errlen);
    if (!root)
        return false;
    bool ok = false;
    char clip[64];
    char event_type[IDENT_EVENT_TYPE_MAX + 1];
    char record_no_buf[32];
    event_attr_t *attrs = out->attrs;
    size_t n_attrs = 0;
    case_event_t e;
    memset (&e, 0, sizeof e);
    //  fields the format does not define are ignored, with one warning per
    //  name and run (adapters/framework/unknown_field.h)
    unknown_field_check (root, s_fields, sizeof s_fields / sizeof s_fields[0], agency);

    //  Required fields
    const char *case_no, *type_name, *stage_name, *unit, *occurred;
    if (!s_text (root, "业务编号", true, &case_no, err, errlen)
        || !s_text (root, "登记类型", true, &type_name, err, errlen)
        || !s_text (root, "办理环节", true, &stage_name, err, errlen)
        || !s_text (root, "不动产单元号", true, &unit, err, errlen)
        || !s_text (root, "发生时间", true, &occurred, err, errlen))
        goto done;

    const land_type_t *type = NULL;
    for (size_t i = 0; i < sizeof s_types / sizeof s_types[0]; i++)
        if (strcmp (type_name, s_types[i].name) == 0)
            type = &s_types[i];
    if (!type) {
        snprintf (err, errlen,
                  "field \"登记类型\" is \"%s\", not a known registration type (" TYPE_LIST
                  ")",
                  s_clip (type_name, clip, sizeof clip));
        goto done;
    }
    const land_stage_t *stage = NULL;
    for (size_t i = 0; i < sizeof s_stages / sizeof s_stages[0]; i++)
        if (strcmp (stage_name, s_stages[i].name) == 0)
            stage = &s_stages[i];
    if (!stage) {
        snprintf (err, errlen,
                  "field \"办理环节\" is \"%s\", not a known stage (" STAGE_LIST ")",
                  s_clip (stage_name, clip, sizeof clip));
        goto done;
    }
    snprintf (event_type, sizeof event_type, "%s.%s", type->prefix, stage->suffix);

    char why[IDENT_ERR_MAX];
    if (!ident_unit_number_valid (unit, why, sizeof why)) {
        snprintf (err, errlen, "field \"不动产单元号\" is \"%s\": %s",
                  s_clip (unit, clip, sizeof clip), why);
        goto done;
    }
    if (!beijing_time_parse (occurred, "YYYY-MM-DD hh:mm:ss", &e.occurred_at_ms)) {
        snprintf (err, errlen,
                  "field \"发生时间\" is \"%s\", expected a Beijing local time "
                  "\"YYYY-MM-DD HH:MM:SS\" like 2020-09-01 09:30:00",
                  s_clip (occurred, clip, sizeof clip));
        goto done;
    }

    //  Optional fields
    const char *owner, *owner_id, *change_type, *reason, *record_no, *mortgagee, *debtor,
        *debtor_id;
    if (!s_text (root, "权利人", false, &owner, err, errlen)
        || !s_text (root, "权利人证件号", false, &owner_id, err, errlen)
        || !s_text (root, "变更类型", false, &change_type, err, errlen)
        || !s_text (root, "登记原因", false, &reason, err, errlen))
        goto done;
    //  The kind item 31 times differently: by the type alone, or for a
    //  change by 变更类型 and for a transfer by 登记原因. An unknown kind is
    //  refused: a guess would give the case another deadline.
    const char *kind_attr = type->attr, *kind_value = type->value;
    char case_clip[96];
    if (strcmp (type_name, "变更登记") == 0) {
        kind_attr = "change_kind";
        kind_value = "unspecified";
        if (change_type
            && !(kind_value = s_kind (s_change_kinds,
                                      sizeof s_change_kinds / sizeof s_change_kinds[0],
                                      change_type))) {
            snprintf (err, errlen,
                      "field \"变更类型\" is \"%s\" in 变更登记 %s, not a known kind of "
                      "change (" CHANGE_LIST ")",
                      s_clip (change_type, clip, sizeof clip),
                      s_clip (case_no, case_clip, sizeof case_clip));
            goto done;
        }
    }
    else if (strcmp (type_name, "转移登记") == 0 && reason) {
        kind_attr = "transfer_basis";
        kind_value = s_kind (s_transfer_reasons,
                             sizeof s_transfer_reasons / sizeof s_transfer_reasons[0], reason);
        if (!kind_value) {
            snprintf (err, errlen,
                      "field \"登记原因\" is \"%s\" in 转移登记 %s, not a known reason for "
                      "a transfer (" REASON_LIST ")",
                      s_clip (reason, clip, sizeof clip),
                      s_clip (case_no, case_clip, sizeof case_clip));
            goto done;
        }
    }
    json_t *jrec = json_object_get (root, "记录号");
    if (json_is_integer (jrec)) {
        snprintf (record_no_buf, sizeof record_no_buf, "%lld",
                  (long long) json_integer_value (jrec));
        record_no = mapped_event_keep (out, record_no_buf, strlen (record_no_buf));
    }
    else if (jrec && !json_is_null (jrec) && !json_is_string (jrec)) {
        snprintf (err, errlen, "field \"记录号\" must be a string or an integer");
        goto done;
    }
    else if (!s_text (root, "记录号", false, &record_no, err, errlen))
        goto done;
    //  是/否 flags: the mortgage, and the utilities the flat is supplied by
    //  (property_transfer gives gas and heat their account transfer task)
    static const struct {
        const char *field; /* the registry's 是/否 field */
        const char *attr;  /* the flag attribute */
    } flags[] = {{"是否抵押", "has_mortgage"},
                 {"是否通燃气", "has_gas"},
                 {"是否集中供暖", "has_heating"}};
    bool flag_given[3], flag_value[3];
    for (size_t i = 0; i < 3; i++)
        if (!s_yes_no (root, flags[i].field, &flag_given[i], &flag_value[i], err, errlen))
            goto done;
    bool area_given, loan_given;
    double area, loan;
    if (!s_quantity (root, "面积", "square metres", &area_given, &area, err, errlen))
        goto done;
    //  the mortgage: mortgagee (the bank), secured amount, debtor
    if (!s_text (root, "抵押权人", false, &mortgagee, err, errlen)
        || !s_quantity (root, "被担保债权数额", "yuan", &loan_given, &loan, err, errlen)
        || !s_text (root, "债务人", false, &debtor, err, errlen)
        || !s_text (root, "债务人证件号", false, &debtor_id, err, errlen))
        goto done;
    if (debtor_id && !ident_citizen_id_valid (debtor_id, why, sizeof why)) {
        snprintf (err, errlen, "field \"债务人证件号\" is \"%s\": %s",
                  s_clip (debtor_id, clip, sizeof clip), why);
        goto done;
    }

    //  Attributes
    attrs[n_attrs++] =
        (event_attr_t){.name = "registration_type", .type = ATTR_TEXT, .text = type_name};
    attrs[n_attrs++] =
        (event_attr_t){.name = "stage", .type = ATTR_TEXT, .text = stage_name};
    if (kind_attr)
        attrs[n_attrs++] =
            (event_attr_t){.name = kind_attr, .type = ATTR_TEXT, .text = kind_value};
    for (size_t i = 0; i < 3; i++)
        if (flag_given[i])
            attrs[n_attrs++] = (event_attr_t){
                .name = flags[i].attr, .type = ATTR_FLAG, .flag = flag_value[i]};
    if (owner)
        attrs[n_attrs++] =
            (event_attr_t){.name = "buyer_name", .type = ATTR_TEXT, .text = owner};
    if (owner_id)
        attrs[n_attrs++] =
            (event_attr_t){.name = "buyer_id_no", .type = ATTR_TEXT, .text = owner_id};
    if (area_given)
        attrs[n_attrs++] =
            (event_attr_t){.name = "area_m2", .type = ATTR_NUMBER, .number = area};
    if (change_type)
        attrs[n_attrs++] =
            (event_attr_t){.name = "change_type", .type = ATTR_TEXT, .text = change_type};
    if (reason)
        attrs[n_attrs++] = (event_attr_t){
            .name = "registration_reason", .type = ATTR_TEXT, .text = reason};
    if (mortgagee)
        attrs[n_attrs++] =
            (event_attr_t){.name = "bank_name", .type = ATTR_TEXT, .text = mortgagee};
    if (loan_given)
        attrs[n_attrs++] =
            (event_attr_t){.name = "loan_yuan", .type = ATTR_NUMBER, .number = loan};
    if (debtor)
        attrs[n_attrs++] =
            (event_attr_t){.name = "borrower_name", .type = ATTR_TEXT, .text = debtor};
    if (debtor_id)
        attrs[n_attrs++] =
            (event_attr_t){.name = "borrower_id_no", .type = ATTR_TEXT, .text = debtor_id};
    if (record_no)
        attrs[n_attrs++] =
            (event_attr_t){.name = "record_no", .type = ATTR_TEXT, .text = record_no};

    //  The event id: a function of 记录号 when the registry gives one, else
    //  of the record's bytes, so a record fed twice is the same event.
    if (record_no) {
        strbuf_t numbered;
        strbuf_init (&numbered);
        strbuf_printf (&numbered, "记录号=%s", record_no);
        mapped_event_id_part (out, mapped_event_keep (out, numbered.data, numbered.len),
                              numbered.len);
        strbuf_free (&numbered);
    }

    out->keys[0].kind = KEY_UNIT_NUMBER;
    out->keys[0].value = unit;
    e.case_no = case_no;
    e.event_type = mapped_event_keep (out, event_type, strlen (event_type));
    e.n_keys = 1;
    e.n_attrs = n_attrs;
    out->event = e;
    out->root = root;
    root = NULL;
    ok = true;
done:
    json_decref (root);
    return ok;
}
