/*  test_map_land.c - unit tests for adapters/land/map.c

    A standalone program: every failing case is printed with its file and
    line, a summary closes the run, and the exit status is 1 when any case
    failed. A mapped record is checked the way the hub will see it: its
    bytes are wrapped in a batch with codec_batch_encode and read back with
    codec_inbound_decode; the full example must also pass the hub's
    validation with the hub's default settings.
*/

#include "map.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codec.h"
#include "hub_config.h"
#include "ident.h"
#include "validate.h"

#define UNIT_NAME "test_map_land"
#include "unit.h"
#include "map_check.h"

static const int64_t s_accepted = 1598923870000; //  2020-09-01T01:31:10Z

#define UNIT "640425001002GB00123F00010001"

/*  The example record of docs/adapters/land.md.  */
static const char *s_example =
    "{\"业务编号\":\"彭不动产受〔2020〕第000529号\",\"登记类型\":\"转移登记\","
    "\"办理环节\":\"受理\",\"不动产单元号\":\"" UNIT "\","
    "\"发生时间\":\"2020-09-01 09:30:00\",\"是否抵押\":\"是\",\"权利人\":\"马建国\","
    "\"权利人证件号\":\"640425199001011234\",\"面积\":89.5,\"变更类型\":null,"
    "\"是否通燃气\":\"是\",\"是否集中供暖\":\"否\",\"记录号\":\"BDC-EXP-2020-0000001\"}";

/*  The mortgage example of docs/adapters/land.md.  */
static const char *s_example_mortgage =
    "{\"业务编号\":\"彭不动产受〔2020〕第000544号\",\"登记类型\":\"抵押登记\","
    "\"办理环节\":\"受理\",\"不动产单元号\":\"" UNIT "\","
    "\"发生时间\":\"2020-09-02 10:20:00\",\"抵押权人\":\"中国建设银行彭阳支行\","
    "\"被担保债权数额\":350000,\"债务人\":\"马建国\","
    "\"债务人证件号\":\"640425199001011238\",\"记录号\":\"BDC-EXP-2020-0000002\"}";

/*  Maps line for agency "land", adapter "land-1"; returns the bytes.  */
static uint8_t *
s_map (const char *line, char id[37], size_t *len, char *err, size_t errlen)
{
    return map_encode (land_map, line, strlen (line), "land", "land-1", s_accepted, id, len,
                       err, errlen);
}

static codec_inbound_t *
s_decode (const uint8_t *bytes, size_t len, case_event_t *event)
{
    return map_decode (bytes, len, "land-1", "land", event);
}

/*  A minimal record of 登记类型 type at 办理环节 stage, with extra members
    (each starting with a comma) appended.  */
static void
s_record (char *buf, size_t size, const char *type, const char *stage, const char *extra)
{
    snprintf (buf, size,
              "{\"业务编号\":\"彭不动产受〔2020〕第000530号\",\"登记类型\":\"%s\","
              "\"办理环节\":\"%s\",\"不动产单元号\":\"" UNIT "\","
              "\"发生时间\":\"2020-09-01 09:30:00\"%s}",
              type, stage, extra ? extra : "");
}

/*  Checks that line is refused with a reason containing want (and want2
    when not NULL).  */
#define CHECK_BAD(line, want, want2)                                                       \
    s_check_bad ((line), (want), (want2), __FILE__, __LINE__)

static void
s_check_bad (const char *line, const char *want, const char *want2, const char *file, int l)
{
    s_check_refused (s_map, line, want, want2, file, l);
}

/*  The full example: every field, its key and its typed attributes.  */
static void
s_test_example (void)
{
    char id[37] = "";
    size_t len = 0;
    char err[512] = "";
    uint8_t *bytes = s_map (s_example, id, &len, err, sizeof err);
    CHECK_MSG (bytes != NULL, err);
    if (!bytes)
        return;
    case_event_t e;
    codec_inbound_t *in = s_decode (bytes, len, &e);
    CHECK (in != NULL);
    if (!in) {
        free (bytes);
        return;
    }
    CHECK (e.schema_version == ONENET_SCHEMA_VERSION);
    CHECK (STREQ (e.event_id, id));
    //  uuid5 (namespace, "land\n记录号=BDC-EXP-2020-0000001"), as in the doc
    CHECK_MSG (STREQ (id, "51838603-87c8-540c-8e3c-b9b4c51e501d"), id);
    CHECK (STREQ (e.agency, "land"));
    CHECK (STREQ (e.adapter_id, "land-1"));
    CHECK (STREQ (e.case_no, "彭不动产受〔2020〕第000529号"));
    CHECK (STREQ (e.event_type, "transfer.accepted"));
    CHECK_AT (e.occurred_at_ms, "2020-09-01 09:30:00");
    CHECK (e.occurred_at_ms == 1598923800000); //  01:30:00Z
    CHECK (e.accepted_at_ms == s_accepted);
    CHECK (e.n_keys == 1);
    CHECK (e.n_keys == 1 && e.keys[0].kind == KEY_UNIT_NUMBER
           && STREQ (e.keys[0].value, UNIT));

    CHECK (e.n_attrs == 9);
    const event_attr_t *a;
    a = map_attr (&e, "has_mortgage");
    CHECK (a && a->type == ATTR_FLAG && a->flag == true);
    //  the flags property_transfer reads for the gas and heat transfer steps
    a = map_attr (&e, "has_gas");
    CHECK (a && a->type == ATTR_FLAG && a->flag == true);
    a = map_attr (&e, "has_heating");
    CHECK (a && a->type == ATTR_FLAG && a->flag == false);
    a = map_attr (&e, "buyer_name");
    CHECK (a && a->type == ATTR_TEXT && STREQ (a->text, "马建国"));
    a = map_attr (&e, "buyer_id_no");
    CHECK (a && a->type == ATTR_TEXT && STREQ (a->text, "640425199001011234"));
    a = map_attr (&e, "area_m2");
    CHECK (a && a->type == ATTR_NUMBER && a->number == 89.5);
    a = map_attr (&e, "registration_type");
    CHECK (a && a->type == ATTR_TEXT && STREQ (a->text, "转移登记"));
    a = map_attr (&e, "stage");
    CHECK (a && a->type == ATTR_TEXT && STREQ (a->text, "受理"));
    a = map_attr (&e, "record_no");
    CHECK (a && a->type == ATTR_TEXT && STREQ (a->text, "BDC-EXP-2020-0000001"));
    CHECK (map_attr (&e, "change_type") == NULL); //  null: left out
    CHECK (map_attr (&e, "change_kind") == NULL); //  only on change.*

    //  The hub, with its default settings, accepts it.
    hub_config_t config;
    char *argv[] = {"onenet-hub", NULL};
    CHECK (hub_config_load (&config, 1, argv) == 0);
    verdict_t v;
    bool ok = validate_event (&config, &e, "land", 1599004800000, &v);
    s_check (ok, "the hub accepts the mapped event", v.reason, __FILE__, __LINE__);
    codec_inbound_destroy (&in);
    free (bytes);
}

/*  The mortgage example: the bank, the secured amount and the borrower on
    mortgage.accepted, and the hub accepts it.  */
static void
s_test_example_mortgage (void)
{
    char id[37] = "";
    size_t len = 0;
    char err[512] = "";
    uint8_t *bytes = s_map (s_example_mortgage, id, &len, err, sizeof err);
    CHECK_MSG (bytes != NULL, err);
    case_event_t e;
    codec_inbound_t *in = bytes ? s_decode (bytes, len, &e) : NULL;
    CHECK (in != NULL);
    if (!in) {
        free (bytes);
        return;
    }
    CHECK (STREQ (e.event_type, "mortgage.accepted"));
    CHECK (e.n_keys == 1 && e.keys[0].kind == KEY_UNIT_NUMBER);
    CHECK (e.n_attrs == 7);
    const event_attr_t *a;
    a = map_attr (&e, "bank_name");
    CHECK (a && a->type == ATTR_TEXT && STREQ (a->text, "中国建设银行彭阳支行"));
    a = map_attr (&e, "loan_yuan");
    CHECK (a && a->type == ATTR_NUMBER && a->number == 350000.0);
    a = map_attr (&e, "borrower_name");
    CHECK (a && a->type == ATTR_TEXT && STREQ (a->text, "马建国"));
    a = map_attr (&e, "borrower_id_no");
    CHECK (a && a->type == ATTR_TEXT && STREQ (a->text, "640425199001011238"));
    CHECK (map_attr (&e, "buyer_name") == NULL); //  the debtor is not the right holder
    hub_config_t config;
    char *argv[] = {"onenet-hub", NULL};
    CHECK (hub_config_load (&config, 1, argv) == 0);
    verdict_t v;
    bool ok = validate_event (&config, &e, "land", 1599004800000, &v);
    s_check (ok, "the hub accepts the mapped mortgage event", v.reason, __FILE__, __LINE__);
    codec_inbound_destroy (&in);
    free (bytes);
}

/*  Every row of the mapping table: 登记类型 x 办理环节 (with 变更类型 or
    登记原因 where item 31 needs them) -> event type, and the attribute that
    tells apart the kinds item 31 times differently.  */
static void
s_test_mapping (void)
{
    static const struct {
        const char *type;  //  登记类型
        const char *stage; //  办理环节
        const char *extra; //  members appended, NULL: none
        const char *event; //  expected event type
        const char *attr;  //  expected kind attribute, NULL: none
        const char *value; //  its expected value
    } rows[] = {
        {"转移登记", "受理", NULL, "transfer.accepted", NULL, NULL},
        {"转移登记", "登簿", NULL, "transfer.registered", NULL, NULL},
        {"转移登记", "办结", NULL, "transfer.registered", NULL, NULL},
        {"转移登记", "不予登记", NULL, "transfer.rejected", NULL, NULL},
        {"转移登记", "撤回", NULL, "transfer.withdrawn", NULL, NULL},
        {"转移登记", "受理", ",\"登记原因\":\"买卖\"", "transfer.accepted", "transfer_basis",
         "ordinary"},
        {"转移登记", "受理", ",\"登记原因\":\"法院判决\"", "transfer.accepted",
         "transfer_basis", "legal_document"},
        {"转移登记", "受理", ",\"登记原因\":\"仲裁裁决\"", "transfer.accepted",
         "transfer_basis", "legal_document"},
        {"抵押登记", "受理", NULL, "mortgage.accepted", NULL, NULL},
        {"抵押登记", "登簿", NULL, "mortgage.registered", NULL, NULL},
        {"抵押登记", "办结", NULL, "mortgage.registered", NULL, NULL},
        {"抵押登记", "不予登记", NULL, "mortgage.rejected", NULL, NULL},
        {"抵押登记", "撤回", NULL, "mortgage.withdrawn", NULL, NULL},
        {"在建建筑物抵押登记", "受理", NULL, "mortgage.accepted", "mortgage_kind",
         "construction"},
        {"在建建筑物抵押登记", "登簿", NULL, "mortgage.registered", "mortgage_kind",
         "construction"},
        {"查封登记", "受理", NULL, "seizure.accepted", "action", "查封"},
        {"查封登记", "登簿", NULL, "seizure.registered", "action", "查封"},
        //  a release of a seizure (解封): the same events, told apart by action
        {"解封登记", "受理", NULL, "seizure.accepted", "action", "解封"},
        {"解封登记", "办结", NULL, "seizure.registered", "action", "解封"},
        {"异议登记", "受理", NULL, "objection.accepted", NULL, NULL},
        {"异议登记", "办结", NULL, "objection.registered", NULL, NULL},
        {"注销登记", "受理", NULL, "cancellation.accepted", NULL, NULL},
        {"注销登记", "登簿", NULL, "cancellation.registered", NULL, NULL},
        {"变更登记", "受理", NULL, "change.accepted", "change_kind", "unspecified"},
        {"变更登记", "登簿", NULL, "change.registered", "change_kind", "unspecified"},
        {"变更登记", "受理", ",\"变更类型\":\"姓名变更\"", "change.accepted", "change_kind",
         "identity_or_address"},
        {"变更登记", "受理", ",\"变更类型\":\"住址变更\"", "change.accepted", "change_kind",
         "identity_or_address"},
        {"变更登记", "受理", ",\"变更类型\":\"用途变更\"", "change.accepted", "change_kind",
         "other"},
        {"更正登记", "受理", NULL, "change.accepted", "change_kind", "correction"},
        {"更正登记", "办结", NULL, "change.registered", "change_kind", "correction"},
        {"换证", "受理", NULL, "change.accepted", "change_kind", "certificate_replacement"},
        {"换证", "登簿", NULL, "change.registered", "change_kind", "certificate_replacement"},
        {"换证登记", "受理", NULL, "change.accepted", "change_kind", "certificate_replacement"},
        {"补证登记", "办结", NULL, "change.registered", "change_kind",
         "certificate_replacement"},
        {"首次登记", "受理", NULL, "first_registration.accepted", NULL, NULL},
        {"首次登记", "登簿", NULL, "first_registration.registered", NULL, NULL},
        {"首次登记", "撤回", NULL, "first_registration.withdrawn", NULL, NULL},
        {"预告登记", "受理", NULL, "advance_notice.accepted", NULL, NULL},
        {"预告登记", "办结", NULL, "advance_notice.registered", NULL, NULL},
        {"预告登记", "不予登记", NULL, "advance_notice.rejected", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char line[512];
        s_record (line, sizeof line, rows[i].type, rows[i].stage, rows[i].extra);
        char id[37] = "";
        size_t len = 0;
        char err[512] = "";
        char what[256];
        snprintf (what, sizeof what, "%s + %s%s -> %s (%s %s)", rows[i].type, rows[i].stage,
                  rows[i].extra ? rows[i].extra : "", rows[i].event,
                  rows[i].attr ? rows[i].attr : "no kind", rows[i].value ? rows[i].value : "");
        uint8_t *bytes = s_map (line, id, &len, err, sizeof err);
        case_event_t e;
        codec_inbound_t *in = bytes ? s_decode (bytes, len, &e) : NULL;
        bool ok = in && STREQ (e.event_type, rows[i].event);
        if (in) {
            static const char *kinds[] = {"change_kind", "action", "mortgage_kind",
                                          "transfer_basis"};
            for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
                const event_attr_t *a = map_attr (&e, kinds[k]);
                bool want = rows[i].attr && STREQ (rows[i].attr, kinds[k]);
                ok = ok
                     && (want ? a && a->type == ATTR_TEXT && STREQ (a->text, rows[i].value)
                              : a == NULL);
            }
            const event_attr_t *t = map_attr (&e, "registration_type");
            const event_attr_t *s = map_attr (&e, "stage");
            ok = ok && t && STREQ (t->text, rows[i].type) && s
                 && STREQ (s->text, rows[i].stage);
            //  no optional fields given: no optional attributes (the extra
            //  field is kept as written too: change_type, registration_reason)
            ok = ok
                 && e.n_attrs
                        == 2u + (rows[i].attr ? 1u : 0u) + (rows[i].extra ? 1u : 0u);
        }
        s_check (ok, what, bytes ? (in ? e.event_type : "does not decode") : err, __FILE__,
                 __LINE__);
        codec_inbound_destroy (&in);
        free (bytes);
    }
}

/*  Attribute typing of the optional fields.  */
static void
s_test_attributes (void)
{
    static const struct {
        const char *extra; //  members appended to a minimal record
        const char *name;  //  attribute looked at
        attr_type_t type;  //  its expected type
        bool flag;         //  expected flag
        double number;     //  expected number
        const char *text;  //  expected text
    } rows[] = {
        {",\"是否抵押\":\"是\"", "has_mortgage", ATTR_FLAG, true, 0, NULL},
        {",\"是否抵押\":\"否\"", "has_mortgage", ATTR_FLAG, false, 0, NULL},
        {",\"是否通燃气\":\"是\"", "has_gas", ATTR_FLAG, true, 0, NULL},
        {",\"是否通燃气\":\"否\"", "has_gas", ATTR_FLAG, false, 0, NULL},
        {",\"是否集中供暖\":\"是\"", "has_heating", ATTR_FLAG, true, 0, NULL},
        {",\"是否集中供暖\":\"否\"", "has_heating", ATTR_FLAG, false, 0, NULL},
        {",\"抵押权人\":\"中国农业银行彭阳县支行\"", "bank_name", ATTR_TEXT, false, 0,
         "中国农业银行彭阳县支行"},
        {",\"被担保债权数额\":210000.5", "loan_yuan", ATTR_NUMBER, false, 210000.5, NULL},
        {",\"被担保债权数额\":90000", "loan_yuan", ATTR_NUMBER, false, 90000.0, NULL},
        {",\"债务人\":\"杨秀兰\"", "borrower_name", ATTR_TEXT, false, 0, "杨秀兰"},
        {",\"债务人证件号\":\"11010519491231002X\"", "borrower_id_no", ATTR_TEXT, false, 0,
         "11010519491231002X"},
        {",\"面积\":89.5", "area_m2", ATTR_NUMBER, false, 89.5, NULL},
        {",\"面积\":120", "area_m2", ATTR_NUMBER, false, 120.0, NULL}, //  integer too
        {",\"面积\":0", "area_m2", ATTR_NUMBER, false, 0.0, NULL},
        {",\"权利人\":\"马建国\"", "buyer_name", ATTR_TEXT, false, 0, "马建国"},
        {",\"权利人证件号\":\"64042519900101123X\"", "buyer_id_no", ATTR_TEXT, false, 0,
         "64042519900101123X"},
        {",\"变更类型\":\"姓名变更\"", "change_type", ATTR_TEXT, false, 0, "姓名变更"},
        {",\"记录号\":\"R-1\"", "record_no", ATTR_TEXT, false, 0, "R-1"},
        {",\"记录号\":20200901001", "record_no", ATTR_TEXT, false, 0, "20200901001"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char line[512];
        s_record (line, sizeof line, "转移登记", "受理", rows[i].extra);
        char id[37] = "";
        size_t len = 0;
        char err[512] = "";
        uint8_t *bytes = s_map (line, id, &len, err, sizeof err);
        case_event_t e;
        codec_inbound_t *in = bytes ? s_decode (bytes, len, &e) : NULL;
        const event_attr_t *a = in ? map_attr (&e, rows[i].name) : NULL;
        bool ok = a && a->type == rows[i].type;
        if (ok && rows[i].type == ATTR_FLAG)
            ok = a->flag == rows[i].flag;
        if (ok && rows[i].type == ATTR_NUMBER)
            ok = a->number == rows[i].number;
        if (ok && rows[i].type == ATTR_TEXT)
            ok = STREQ (a->text, rows[i].text);
        char what[256];
        snprintf (what, sizeof what, "%s gives attribute %s", rows[i].extra, rows[i].name);
        s_check (ok, what, bytes ? NULL : err, __FILE__, __LINE__);
        codec_inbound_destroy (&in);
        free (bytes);
    }

    //  null and "" in optional fields leave the attribute out.
    char line[512];
    s_record (
        line, sizeof line, "转移登记", "受理",
        ",\"是否抵押\":null,\"权利人\":\"\",\"权利人证件号\":null,\"面积\":null,"
        "\"变更类型\":\"\",\"记录号\":null,\"是否通燃气\":\"\",\"是否集中供暖\":null,"
        "\"抵押权人\":null,\"被担保债权数额\":null,\"债务人\":\"\",\"债务人证件号\":null");
    char id[37] = "";
    size_t len = 0;
    char err[512] = "";
    uint8_t *bytes = s_map (line, id, &len, err, sizeof err);
    case_event_t e;
    codec_inbound_t *in = bytes ? s_decode (bytes, len, &e) : NULL;
    CHECK_MSG (in && e.n_attrs == 2, err);
    codec_inbound_destroy (&in);
    free (bytes);

    //  Members the registry adds that the adapter does not know are ignored.
    s_record (line, sizeof line, "转移登记", "受理", ",\"备注\":\"x\"");
    bytes = s_map (line, id, &len, err, sizeof err);
    in = bytes ? s_decode (bytes, len, &e) : NULL;
    CHECK_MSG (in && e.n_attrs == 2, err);
    codec_inbound_destroy (&in);
    free (bytes);
}

/*  The derived event id.  */
static void
s_test_event_id (void)
{
    char line[512], other[512], same_no[512];
    s_record (line, sizeof line, "转移登记", "受理", NULL);
    s_record (other, sizeof other, "转移登记", "登簿", NULL);
    char id1[37] = "", id2[37] = "", id3[37] = "", id4[37] = "", id5[37] = "";
    size_t len;
    char err[512];

    //  Without 记录号: from the record's bytes, like the generic adapter.
    uint8_t *b1 = s_map (line, id1, &len, err, sizeof err);
    uint8_t *b2 = s_map (line, id2, &len, err, sizeof err);
    uint8_t *b3 = s_map (other, id3, &len, err, sizeof err);
    uint8_t *b4 = map_encode (land_map, line, strlen (line), "tax", "land-2",
                              s_accepted + 5, id4, &len, err, sizeof err);
    CHECK (b1 && b2 && b3 && b4);
    CHECK (ident_uuid_valid (id1));
    CHECK (id1[14] == '5');                   //  a name-based (SHA-1) UUID
    CHECK (strchr ("89ab", id1[19]) != NULL); //  RFC 4122 variant
    CHECK (STREQ (id1, id2));                 //  same record, same id
    CHECK (!STREQ (id1, id3));                //  another record, another id
    CHECK (!STREQ (id1, id4));                //  another agency, another id
    //  Known value: uuid5(6f6e656e-6574-4025-8640-425020200001, "land\n" + line),
    //  the rule record.c follows.
    CHECK_MSG (STREQ (id1, "c939919b-bd6a-5f93-9f88-6dfb76f457b3"), id1);
    //  Only the given bytes count.
    char buffer[600];
    snprintf (buffer, sizeof buffer, "%sGARBAGE", line);
    uint8_t *b5 = map_encode (land_map, buffer, strlen (line), "land", "land-1", s_accepted,
                              id5, &len, err, sizeof err);
    CHECK (b5 && STREQ (id5, id1));
    free (b1);
    free (b2);
    free (b3);
    free (b4);
    free (b5);

    //  With 记录号: from 记录号 alone, whatever else the record says.
    char a[37] = "", b[37] = "", c[37] = "", d[37] = "";
    s_record (line, sizeof line, "转移登记", "受理", ",\"记录号\":\"R-0001\"");
    s_record (same_no, sizeof same_no, "转移登记", "登簿",
              ",\"面积\":90.0,\"记录号\":\"R-0001\"");
    s_record (other, sizeof other, "转移登记", "受理", ",\"记录号\":\"R-0002\"");
    b1 = s_map (line, a, &len, err, sizeof err);
    b2 = s_map (same_no, b, &len, err, sizeof err);
    b3 = s_map (other, c, &len, err, sizeof err);
    b4 = s_map (
        "{\"记录号\":\"R-0001\",\"业务编号\":\"x\",\"登记类型\":\"换证\",\"办理环节\":"
        "\"受理\",\"不动产单元号\":\"" UNIT "\",\"发生时间\":\"2020-09-02 08:00:00\"}",
        d, &len, err, sizeof err);
    CHECK (b1 && b2 && b3 && b4);
    CHECK (ident_uuid_valid (a) && a[14] == '5');
    CHECK (STREQ (a, b));  //  same 记录号, same id
    CHECK (STREQ (a, d));  //  member order and content do not matter
    CHECK (!STREQ (a, c)); //  another 记录号, another id
    s_record (line, sizeof line, "转移登记", "受理", NULL);
    uint8_t *b6 = s_map (line, id1, &len, err, sizeof err);
    CHECK (b6 && !STREQ (a, id1)); //  not the bytes-derived id
    //  An integer 记录号 is the same as its decimal text.
    s_record (line, sizeof line, "转移登记", "受理", ",\"记录号\":42");
    s_record (other, sizeof other, "转移登记", "受理", ",\"记录号\":\"42\"");
    uint8_t *b7 = s_map (line, id2, &len, err, sizeof err);
    uint8_t *b8 = s_map (other, id3, &len, err, sizeof err);
    CHECK (b7 && b8 && STREQ (id2, id3));
    //  Known value: uuid5(6f6e656e-6574-4025-8640-425020200001, "land\n记录号=42")
    //  (as docs/adapters/land.md gives it in Python).
    CHECK_MSG (STREQ (id2, "f3201324-ea60-5980-89bd-dd9e3183163b"), id2);
    free (b1);
    free (b2);
    free (b3);
    free (b4);
    free (b6);
    free (b7);
    free (b8);
}

/*  Every refusal names the field (and the value where there is one).  */
static void
s_test_refusals (void)
{
    char line[512];

    //  Not a JSON object.
    CHECK_BAD ("{", "not JSON", NULL);
    CHECK_BAD ("[]", "JSON object", NULL);
    CHECK_BAD ("{\"业务编号\":\"a\",\"业务编号\":\"b\"}", "not JSON", "业务编号");

    //  Each required field missing, null, empty or not a string.
    static const char *required[] = {"业务编号", "登记类型", "办理环节", "不动产单元号",
                                     "发生时间"};
    static const char *values[] = {"彭不动产受〔2020〕第000530号", "转移登记", "受理", UNIT,
                                   "2020-09-01 09:30:00"};
    for (size_t i = 0; i < 5; i++) {
        for (int how = 0; how < 4; how++) {
            size_t n = (size_t) snprintf (line, sizeof line, "{");
            for (size_t j = 0; j < 5; j++) {
                const char *sep = n > 1 ? "," : "";
                if (j != i)
                    n += (size_t) snprintf (line + n, sizeof line - n, "%s\"%s\":\"%s\"",
                                            sep, required[j], values[j]);
                else if (how == 1)
                    n += (size_t) snprintf (line + n, sizeof line - n, "%s\"%s\":null", sep,
                                            required[j]);
                else if (how == 2)
                    n += (size_t) snprintf (line + n, sizeof line - n, "%s\"%s\":\"\"", sep,
                                            required[j]);
                else if (how == 3)
                    n += (size_t) snprintf (line + n, sizeof line - n, "%s\"%s\":7", sep,
                                            required[j]);
            }
            snprintf (line + n, sizeof line - n, "}");
            static const char *why[] = {"is missing", "is missing", "is empty",
                                        "must be a string"};
            char field[64];
            snprintf (field, sizeof field, "field \"%s\"", required[i]);
            CHECK_BAD (line, field, why[how]);
        }
    }

    //  Unknown 登记类型 and 办理环节, with the value and the known ones.
    s_record (line, sizeof line, "分割登记", "受理", NULL);
    CHECK_BAD (line, "field \"登记类型\" is \"分割登记\"", "转移登记, 抵押登记");
    //  Unknown kinds item 31 times differently: named with the case number.
    s_record (line, sizeof line, "变更登记", "受理", ",\"变更类型\":\"改名\"");
    CHECK_BAD (line, "field \"变更类型\" is \"改名\" in 变更登记 彭不动产受〔2020〕第000530号",
               "not a known kind of change (姓名变更, ");
    s_record (line, sizeof line, "转移登记", "受理", ",\"登记原因\":\"拍卖\"");
    CHECK_BAD (line, "field \"登记原因\" is \"拍卖\" in 转移登记 彭不动产受〔2020〕第000530号",
               "not a known reason for a transfer (法院判决, ");
    s_record (line, sizeof line, "转移登记", "审核中", NULL);
    CHECK_BAD (line, "field \"办理环节\" is \"审核中\"",
               "not a known stage (受理, 登簿, 办结, 不予登记, 撤回)");

    //  Bad unit numbers: the check's own reason after the field.
    static const char *units[] = {
        "640425001002XB00123F00010001", //  position 13: not G, J or Z
        "640425001002GB00123F0001000",  //  27 characters
        "640425001002GB00123W00010001", //  W must have 00000000
        "6404250010O2GB00123F00010001", //  a letter in the zone
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        snprintf (line, sizeof line,
                  "{\"业务编号\":\"b1\",\"登记类型\":\"转移登记\",\"办理环节\":\"受理\","
                  "\"不动产单元号\":\"%s\",\"发生时间\":\"2020-09-01 09:30:00\"}",
                  units[i]);
        char want[128];
        snprintf (want, sizeof want, "field \"不动产单元号\" is \"%s\": ", units[i]);
        CHECK_BAD (line, want, "unit");
    }

    //  Bad times: an offset, a T, no seconds, an impossible date, garbage.
    static const char *times[] = {
        "2020-09-01 09:30:00+08:00", "2020-09-01T09:30:00",
        "2020-09-01 09:30",          "2021-02-29 09:30:00",
        "2020-13-01 09:30:00",       "2020-09-01 24:30:00",
        "2020/09/01 09:30:00",       "昨天",
    };
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        snprintf (line, sizeof line,
                  "{\"业务编号\":\"b1\",\"登记类型\":\"转移登记\",\"办理环节\":\"受理\","
                  "\"不动产单元号\":\"" UNIT "\",\"发生时间\":\"%s\"}",
                  times[i]);
        char want[128];
        snprintf (want, sizeof want, "field \"发生时间\" is \"%s\"", times[i]);
        CHECK_BAD (line, want, "YYYY-MM-DD HH:MM:SS");
    }

    //  Optional fields with a bad value or type.
    s_record (line, sizeof line, "转移登记", "受理", ",\"是否抵押\":\"有\"");
    CHECK_BAD (line, "field \"是否抵押\" is \"有\"", "是 or 否");
    s_record (line, sizeof line, "转移登记", "受理", ",\"是否抵押\":true");
    CHECK_BAD (line, "field \"是否抵押\"", "string");
    s_record (line, sizeof line, "转移登记", "受理", ",\"面积\":\"89.5\"");
    CHECK_BAD (line, "field \"面积\"", "number");
    s_record (line, sizeof line, "转移登记", "受理", ",\"面积\":-1.5");
    CHECK_BAD (line, "field \"面积\" is -1.5", "negative");
    s_record (line, sizeof line, "转移登记", "受理", ",\"权利人\":[\"马建国\"]");
    CHECK_BAD (line, "field \"权利人\"", "string");
    s_record (line, sizeof line, "转移登记", "受理",
              ",\"权利人证件号\":640425199001011234");
    CHECK_BAD (line, "field \"权利人证件号\"", "string");
    s_record (line, sizeof line, "转移登记", "受理", ",\"变更类型\":{}");
    CHECK_BAD (line, "field \"变更类型\"", "string");
    s_record (line, sizeof line, "转移登记", "受理", ",\"是否通燃气\":\"有\"");
    CHECK_BAD (line, "field \"是否通燃气\" is \"有\"", "是 or 否");
    s_record (line, sizeof line, "转移登记", "受理", ",\"是否集中供暖\":false");
    CHECK_BAD (line, "field \"是否集中供暖\"", "string");
    s_record (line, sizeof line, "抵押登记", "受理", ",\"被担保债权数额\":\"350000\"");
    CHECK_BAD (line, "field \"被担保债权数额\"", "number of yuan");
    s_record (line, sizeof line, "抵押登记", "受理", ",\"被担保债权数额\":-1");
    CHECK_BAD (line, "field \"被担保债权数额\" is -1", "negative");
    s_record (line, sizeof line, "抵押登记", "受理", ",\"抵押权人\":7");
    CHECK_BAD (line, "field \"抵押权人\"", "string");
    //  the borrower's citizen id number is checked (length, date, check character)
    s_record (line, sizeof line, "抵押登记", "受理",
              ",\"债务人证件号\":\"640425199001011234\"");
    CHECK_BAD (line, "field \"债务人证件号\" is \"640425199001011234\": citizen id number",
               "expected '8'");
    s_record (line, sizeof line, "抵押登记", "受理",
              ",\"债务人证件号\":\"64042519900101123\"");
    CHECK_BAD (line, "field \"债务人证件号\"", "length 17, expected 18");
    s_record (line, sizeof line, "抵押登记", "受理",
              ",\"债务人证件号\":\"640425199013011235\"");
    CHECK_BAD (line, "field \"债务人证件号\"", "birth date");
    s_record (line, sizeof line, "转移登记", "受理", ",\"记录号\":1.5");
    CHECK_BAD (line, "field \"记录号\"", "string or an integer");

    //  A long value is cut in the reason without breaking a character.
    s_record (line, sizeof line,
              "x转移登记转移登记转移登记转移登记转移登记转移登记转移登记转移登记", "受理",
              NULL);
    char id[37];
    size_t len;
    char err[512] = "";
    uint8_t *bytes = s_map (line, id, &len, err, sizeof err);
    CHECK (!bytes && strstr (err, "field \"登记类型\""));
    json_t *j = json_string (err); //  NULL when err is not valid UTF-8
    CHECK_MSG (j != NULL, err);
    json_decref (j);
    free (bytes);

    //  The error buffer is always a terminated string, even a tiny one.
    char tiny[8];
    memset (tiny, 'x', sizeof tiny);
    bytes = map_encode (land_map, "{}", 2, "land", "land-1", s_accepted, id, &len, tiny,
                        sizeof tiny);
    CHECK (bytes == NULL);
    CHECK (memchr (tiny, '\0', sizeof tiny) != NULL);
    free (bytes);
}

/*  What the adapter sends for fixed records, pinned: the event ids and the
    encoded bytes must stay the same whatever the code that builds them.  */
static void
s_test_pinned (void)
{
    CHECK_PINNED (s_map, s_example, "51838603-87c8-540c-8e3c-b9b4c51e501d", 375,
                  0x5873dd4b4b3b378dULL);
    CHECK_PINNED (s_map, s_example_mortgage, "ca4b6032-8be8-5153-883c-1244ce786493", 380,
                  0x196e23c43fd4d6b9ULL);
    CHECK_PINNED (s_map,
                  "{\"业务编号\":\"彭不动产受〔2020〕第000529号\",\"登记类型\":\"转移登记\","
                  "\"办理环节\":\"登簿\",\"不动产单元号\":\"" UNIT "\","
                  "\"发生时间\":\"2020-09-01 15:00:00\"}",
                  "891911c6-c134-5cff-a0f2-ff03cc85053e", 214, 0x93686f3de3819ae7ULL);
}

/*  Runs every group, prints the summary; exit status 1 on any failure.  */
int
main (void)
{
    s_test_example ();
    s_test_example_mortgage ();
    s_test_mapping ();
    s_test_attributes ();
    s_test_event_id ();
    s_test_refusals ();
    CHECK_UNKNOWN_IGNORED (s_map, s_example);
    s_test_pinned ();
    return s_summary ();
}
