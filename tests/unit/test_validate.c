/*  test_validate.c - unit tests for hub/validate.c

    A standalone program: every failing case is printed with its file and
    line, a summary closes the run, and the exit status is 1 when any case
    failed. The configuration is the hub's own defaults (hub_config_load
    with no arguments). Each rule is broken once, on an otherwise valid
    event, and the verdict must carry the right error code and a reason
    naming the field. Every reason must itself be valid UTF-8: it is stored
    in the dead-letter table (text) and sent back in the acknowledgement.
*/

#include "validate.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "hub_config.h"
#include "strbuf.h"

#define UNIT_NAME "test_validate"
#include "unit.h"

static hub_config_t s_config;               //  the hub's defaults
static const int64_t s_now = 1599004800000; //  2020-09-02T00:00:00Z

//  The parts of a valid event, copied into each case and then broken.
static event_key_t s_keys[2];
static event_attr_t s_attrs[6];

static case_event_t
s_valid_event (void)
{
    s_keys[0] = (event_key_t){KEY_CREDIT_CODE, "91350100M000100Y43"};
    s_keys[1] = (event_key_t){KEY_UNIT_NUMBER, "640425001002GB00123F00010001"};
    s_attrs[0] =
        (event_attr_t){.name = "seller", .type = ATTR_TEXT, .text = "宁夏彭阳县某某公司"};
    s_attrs[1] = (event_attr_t){.name = "parcels", .type = ATTR_INTEGER, .integer = 2};
    s_attrs[2] =
        (event_attr_t){.name = "deed_tax_yuan", .type = ATTR_NUMBER, .number = 12000.5};
    s_attrs[3] = (event_attr_t){.name = "has_mortgage", .type = ATTR_FLAG, .flag = true};
    s_attrs[4] = (event_attr_t){
        .name = "registered_at", .type = ATTR_TIME, .time_ms = 1598925600000};
    s_attrs[5] = (event_attr_t){.name = "note", .type = ATTR_TEXT, .text = ""};
    case_event_t e = {
        .schema_version = ONENET_SCHEMA_VERSION,
        .event_id = "0f8fad5b-d9cb-469f-a165-70867728950e",
        .agency = "land",
        .adapter_id = "land-1",
        .case_no = "PY-BDC-2020-001234",
        .event_type = "transfer.accepted",
        .occurred_at_ms = 1598923867000, //  the day before s_now
        .accepted_at_ms = 1598923870000,
        .n_keys = 2,
        .keys = s_keys,
        .n_attrs = 6,
        .attrs = s_attrs,
    };
    return e;
}

/*  Checks that event passes.  */
#define CHECK_PASS(e, batch_agency) s_check_pass (&(e), (batch_agency), __FILE__, __LINE__)

static void
s_check_pass (const case_event_t *e, const char *batch_agency, const char *file, int line)
{
    verdict_t v;
    memset (&v, 'x', sizeof v);
    bool ok = validate_event (&s_config, e, batch_agency, s_now, &v);
    char detail[1200] = "";
    if (!ok)
        snprintf (detail, sizeof detail, "refused: %s: %s", error_code_name (v.code),
                  v.reason);
    s_check (ok && v.code == ERR_NONE && v.reason[0] == '\0', "event passes", detail, file,
             line);
}

/*  Checks that event is refused with code and a reason containing want
    (and, when want2 is not NULL, want2), and that the reason is UTF-8.  */
#define CHECK_FAIL(e, batch_agency, code, want, want2)                                     \
    s_check_fail (&(e), (batch_agency), (code), (want), (want2), #code, __FILE__, __LINE__)

static void
s_check_fail (const case_event_t *e, const char *batch_agency, error_code_t code,
              const char *want, const char *want2, const char *code_text, const char *file,
              int line)
{
    verdict_t v;
    memset (&v, 0, sizeof v);
    bool ok = validate_event (&s_config, e, batch_agency, s_now, &v);
    char what[200];
    snprintf (what, sizeof what, "refused with %s, reason has \"%s\"%s%s%s", code_text,
              want, want2 ? " and \"" : "", want2 ? want2 : "", want2 ? "\"" : "");
    char detail[1200] = "";
    if (ok)
        snprintf (detail, sizeof detail, "accepted");
    else
        snprintf (detail, sizeof detail, "got %s: %s", error_code_name (v.code), v.reason);
    s_check (!ok && v.code == code && strstr (v.reason, want) != NULL
                 && (!want2 || strstr (v.reason, want2) != NULL),
             what, detail, file, line);
    if (!ok) {
        //  Shown with bytes >= 0x80 escaped, so the log itself stays text.
        char shown[4 * sizeof v.reason];
        size_t n = 0;
        for (const unsigned char *p = (const unsigned char *) v.reason; *p; p++)
            n += (size_t) snprintf (shown + n, sizeof shown - n,
                                    *p < 0x80 ? "%c" : "\\x%02X", *p);
        s_check (utf8_valid (v.reason), "the reason is valid UTF-8", shown, file, line);
    }
}

/*  The defaults the tests rely on.  */
static void
s_test_config (void)
{
    char *argv[] = {"onenet-hub", NULL};
    CHECK (hub_config_load (&s_config, 1, argv) == 0);
    CHECK (s_config.max_string == 256);
    CHECK (s_config.max_text == 4096);
    CHECK (s_config.max_keys == 16);
    CHECK (s_config.max_attrs == 64);
    CHECK (s_config.max_future_s == 86400);
    CHECK (s_config.max_past_days == 7300);
    CHECK (hub_config_agency_known (&s_config, "land"));
    CHECK (hub_config_agency_known (&s_config, "tax"));
}

/*  A valid event, and the variants that are still valid.  */
static void
s_test_valid (void)
{
    case_event_t e = s_valid_event ();
    CHECK_PASS (e, "");
    CHECK_PASS (e, "land");

    //  Upper-case UUID, no keys, no attributes, every key kind.
    e.event_id = "0F8FAD5B-D9CB-469F-A165-70867728950E";
    CHECK_PASS (e, "land");
    e = s_valid_event ();
    e.n_keys = 0;
    e.n_attrs = 0;
    CHECK_PASS (e, "land");
    event_key_t all[] = {{KEY_CREDIT_CODE, "91350100M000100Y43"},
                         {KEY_UNIT_NUMBER, "640425001002GB00123F00010001"},
                         {KEY_PROJECT_CODE, "2020-640425-47-01-000123"},
                         {KEY_APPLICATION_NO, "SQ2020090100012"},
                         {KEY_REFUND_NO, "TK-2020-0001"}};
    e.n_keys = 5;
    e.keys = all;
    CHECK_PASS (e, "land");

    //  Exactly at the limits.
    e = s_valid_event ();
    char case_no[257];
    memset (case_no, 'C', 256);
    case_no[256] = '\0';
    e.case_no = case_no;
    CHECK_PASS (e, "land");
    e = s_valid_event ();
    e.occurred_at_ms = s_now + 86400 * 1000LL;
    CHECK_PASS (e, "land");
    e.occurred_at_ms = s_now - 7300 * 86400000LL;
    CHECK_PASS (e, "land");
    e.occurred_at_ms = s_now - 1;
    CHECK_PASS (e, "land");

    //  Chinese in a case number; a text attribute at its size limit.
    e = s_valid_event ();
    e.case_no = "彭阳不动产（2020）第001234号";
    char *text = malloc (4097);
    memset (text, 'a', 4096);
    text[4096] = '\0';
    s_attrs[5].text = text;
    CHECK_PASS (e, "land");
    free (text);

    //  64 attributes are allowed (16 keys cannot be told apart from 17
    //  without repeating a kind, which is its own error).
    e = s_valid_event ();
    event_attr_t many_attrs[64];
    char names[64][8];
    for (int i = 0; i < 64; i++) {
        snprintf (names[i], sizeof names[i], "a%d", i);
        many_attrs[i] =
            (event_attr_t){.name = names[i], .type = ATTR_INTEGER, .integer = i};
    }
    e.n_attrs = 64;
    e.attrs = many_attrs;
    CHECK_PASS (e, "land");
    //  Infinity is refused below; the largest finite numbers are fine.
    many_attrs[0] = (event_attr_t){.name = "big", .type = ATTR_NUMBER, .number = 1.7e308};
    many_attrs[1] = (event_attr_t){.name = "neg_zero", .type = ATTR_NUMBER, .number = -0.0};
    CHECK_PASS (e, "land");
}

/*  Header fields: version, id, agency, adapter, case, type.  */
static void
s_test_header (void)
{
    case_event_t e = s_valid_event ();
    e.schema_version = 2;
    CHECK_FAIL (e, "land", ERR_UNSUPPORTED_VERSION, "schema_version 2", NULL);
    e.schema_version = 0;
    CHECK_FAIL (e, "land", ERR_UNSUPPORTED_VERSION, "schema_version 0", NULL);

    e = s_valid_event ();
    e.event_id = "";
    CHECK_FAIL (e, "land", ERR_MISSING_FIELD, "event_id", NULL);
    e.event_id = "not-a-uuid";
    CHECK_FAIL (e, "land", ERR_INVALID_FIELD, "event_id \"not-a-uuid\"", "not a UUID");
    e.event_id = "0f8fad5b-d9cb-469f-a165-70867728950";
    CHECK_FAIL (e, "land", ERR_INVALID_FIELD, "event_id", NULL);
    e.event_id = "{0f8fad5b-d9cb-469f-a165-70867728950e}";
    CHECK_FAIL (e, "land", ERR_INVALID_FIELD, "event_id", NULL);
    e.event_id = "\xff\xfe-not-utf8";
    CHECK_FAIL (e, "land", ERR_INVALID_FIELD, "event_id", NULL);

    e = s_valid_event ();
    e.agency = "customs";
    CHECK_FAIL (e, "", ERR_UNKNOWN_AGENCY, "agency \"customs\"", "tax, land, power");
    e.agency = "";
    CHECK_FAIL (e, "", ERR_MISSING_FIELD, "agency", NULL);
    e.agency = "LAND";
    CHECK_FAIL (e, "", ERR_UNKNOWN_AGENCY, "\"LAND\"", "land");

    e = s_valid_event ();
    CHECK_FAIL (e, "tax", ERR_AGENCY_MISMATCH, "\"land\"", "\"tax\"");

    e = s_valid_event ();
    e.adapter_id = "";
    CHECK_FAIL (e, "land", ERR_MISSING_FIELD, "adapter_id", NULL);
    e = s_valid_event ();
    e.case_no = "";
    CHECK_FAIL (e, "land", ERR_MISSING_FIELD, "case_no", NULL);
    e = s_valid_event ();
    e.event_type = "";
    CHECK_FAIL (e, "land", ERR_MISSING_FIELD, "event_type", NULL);
    e.event_type = "Transfer.accepted";
    CHECK_FAIL (e, "land", ERR_INVALID_FIELD, "event type", "'T'");
    e.event_type = "transfer-accepted";
    CHECK_FAIL (e, "land", ERR_INVALID_FIELD, "event type", "'-'");
    e.event_type = "转移";
    CHECK_FAIL (e, "land", ERR_INVALID_FIELD, "event type", NULL);

    e = s_valid_event ();
    char case_no[258];
    memset (case_no, 'C', 257);
    case_no[257] = '\0';
    e.case_no = case_no;
    CHECK_FAIL (e, "land", ERR_LIMIT_EXCEEDED, "case_no", "257");
    e = s_valid_event ();
    char adapter[300];
    memset (adapter, 'a', 299);
    adapter[299] = '\0';
    e.adapter_id = adapter;
    CHECK_FAIL (e, "land", ERR_LIMIT_EXCEEDED, "adapter_id", "limit 256");

    //  Invalid UTF-8.
    e = s_valid_event ();
    e.case_no = "PY-\xe5\xbd-2020"; //  a truncated character
    CHECK_FAIL (e, "land", ERR_INVALID_FIELD, "case_no", "UTF-8");
    e.case_no = "PY-\xc0\xaf"; //  overlong '/'
    CHECK_FAIL (e, "land", ERR_INVALID_FIELD, "case_no", "UTF-8");
    e = s_valid_event ();
    e.adapter_id = "land-\xff";
    CHECK_FAIL (e, "land", ERR_INVALID_FIELD, "adapter_id", "UTF-8");
}

/*  occurred_at: present, not too far ahead, not too far behind.  */
static void
s_test_time (void)
{
    case_event_t e = s_valid_event ();
    e.occurred_at_ms = 0;
    CHECK_FAIL (e, "land", ERR_MISSING_FIELD, "occurred_at", NULL);
    e.occurred_at_ms = s_now + 86400 * 1000LL + 1;
    CHECK_FAIL (e, "land", ERR_TIME_OUT_OF_RANGE, "occurred_at", "future");
    e.occurred_at_ms = s_now + 365 * 86400 * 1000LL;
    CHECK_FAIL (e, "land", ERR_TIME_OUT_OF_RANGE, "occurred_at",
                "31536000 s in the future");
    e.occurred_at_ms = INT64_MAX;
    CHECK_FAIL (e, "land", ERR_TIME_OUT_OF_RANGE, "occurred_at", NULL);
    e.occurred_at_ms = s_now - 7300 * 86400000LL - 1;
    CHECK_FAIL (e, "land", ERR_TIME_OUT_OF_RANGE, "occurred_at", "7300 days in the past");
    e.occurred_at_ms = -1;
    CHECK_FAIL (e, "land", ERR_TIME_OUT_OF_RANGE, "occurred_at", "past");
    e.occurred_at_ms = INT64_MIN;
    CHECK_FAIL (e, "land", ERR_TIME_OUT_OF_RANGE, "occurred_at", NULL);

    //  accepted_at: optional, but inside the same window
    e = s_valid_event ();
    e.accepted_at_ms = 0;
    CHECK_PASS (e, "land");
    e.accepted_at_ms = INT64_MAX;
    CHECK_FAIL (e, "land", ERR_TIME_OUT_OF_RANGE, "accepted_at", "in the future, limit 86400 s");
    e.accepted_at_ms = INT64_MIN;
    CHECK_FAIL (e, "land", ERR_TIME_OUT_OF_RANGE, "accepted_at", "7300 days in the past");

    //  a time attribute: any instant of the years 1 to 9999
    e = s_valid_event ();
    event_attr_t at = {.name = "born_at", .type = ATTR_TIME, .time_ms = -62135596800000LL};
    e.attrs = &at;
    e.n_attrs = 1;
    CHECK_PASS (e, "land");
    at.time_ms = 253402300799999LL;
    CHECK_PASS (e, "land");
    at.time_ms = -62135596800001LL;
    CHECK_FAIL (e, "land", ERR_TIME_OUT_OF_RANGE, "attribute \"born_at\"",
                "outside the years 1 to 9999");
    at.time_ms = 253402300800000LL;
    CHECK_FAIL (e, "land", ERR_TIME_OUT_OF_RANGE, "attribute \"born_at\"", NULL);
    at.time_ms = INT64_MIN;
    CHECK_FAIL (e, "land", ERR_TIME_OUT_OF_RANGE, "attribute \"born_at\"", NULL);
}

/*  Correlation keys.  */
static void
s_test_keys (void)
{
    case_event_t e = s_valid_event ();
    event_key_t keys[20];
    for (int i = 0; i < 20; i++)
        keys[i] = (event_key_t){KEY_APPLICATION_NO, "SQ1"};
    e.keys = keys;
    e.n_keys = 17;
    CHECK_FAIL (e, "land", ERR_LIMIT_EXCEEDED, "17 correlation keys", "limit 16");

    e = s_valid_event ();
    keys[0] = (event_key_t){(key_kind_t) 9, "x"};
    e.keys = keys;
    e.n_keys = 1;
    CHECK_FAIL (e, "land", ERR_INVALID_KEY, "correlation key 1", "unknown kind 9");
    keys[0] = (event_key_t){KEY_NONE, "x"};
    CHECK_FAIL (e, "land", ERR_INVALID_KEY, "correlation key 1", "unknown kind 0");
    keys[0] = (event_key_t){KEY_PROJECT_CODE, "2020-640425-47-03-000001"};
    keys[1] = (event_key_t){(key_kind_t) -3, "x"};
    e.n_keys = 2;
    CHECK_FAIL (e, "land", ERR_INVALID_KEY, "correlation key 2", "unknown kind -3");

    keys[0] = (event_key_t){KEY_CREDIT_CODE, "91350100M000100Y43"};
    keys[1] = (event_key_t){KEY_CREDIT_CODE, "91110000600037341L"};
    CHECK_FAIL (e, "land", ERR_INVALID_KEY, "credit_code", "twice");
    keys[0] = (event_key_t){KEY_REFUND_NO, "R1"};
    keys[1] = (event_key_t){KEY_REFUND_NO, "R1"};
    CHECK_FAIL (e, "land", ERR_INVALID_KEY, "refund_no", "twice");

    e.n_keys = 1;
    keys[0] = (event_key_t){KEY_CREDIT_CODE, "91350100M000100Y4A"};
    CHECK_FAIL (e, "land", ERR_INVALID_KEY, "credit code",
                "check character is 'A', expected '3'");
    keys[0] = (event_key_t){KEY_CREDIT_CODE, "9135"};
    CHECK_FAIL (e, "land", ERR_INVALID_KEY, "credit code", "length 4");
    keys[0] = (event_key_t){KEY_UNIT_NUMBER, "640425001002XB00123F00010001"};
    CHECK_FAIL (e, "land", ERR_INVALID_KEY, "unit number", "position 13");
    keys[0] = (event_key_t){KEY_UNIT_NUMBER, "640425001002GB00123W00010001"};
    CHECK_FAIL (e, "land", ERR_INVALID_KEY, "unit number", NULL);
    keys[0] = (event_key_t){KEY_PROJECT_CODE, "2020-640425-47-04-000123"};
    CHECK_FAIL (e, "land", ERR_INVALID_KEY, "project code \"2020-640425-47-04-000123\"",
                "project type \"04\" (positions 16-17)");
    keys[0] = (event_key_t){KEY_PROJECT_CODE, "2020-6404A5-47-01-000123"};
    CHECK_FAIL (e, "land", ERR_INVALID_KEY, "project code",
                "position 10 is not a digit (administrative division, positions 6-11)");
    keys[0] = (event_key_t){KEY_PROJECT_CODE, "P-1"};
    CHECK_FAIL (e, "land", ERR_INVALID_KEY, "project code", "length 3, expected 24");
    keys[0] = (event_key_t){KEY_CREDIT_CODE, ""};
    CHECK_FAIL (e, "land", ERR_MISSING_FIELD, "credit_code", NULL);
    keys[0] = (event_key_t){KEY_APPLICATION_NO, ""};
    CHECK_FAIL (e, "land", ERR_MISSING_FIELD, "application_no", NULL);
    keys[0] = (event_key_t){KEY_PROJECT_CODE, "P-\xe9"};
    CHECK_FAIL (e, "land", ERR_INVALID_FIELD, "project_code", "UTF-8");
    char long_key[300];
    memset (long_key, '7', 299);
    long_key[299] = '\0';
    keys[0] = (event_key_t){KEY_APPLICATION_NO, long_key};
    CHECK_FAIL (e, "land", ERR_LIMIT_EXCEEDED, "application_no", "299 bytes");
}

/*  Attributes.  */
static void
s_test_attrs (void)
{
    case_event_t e = s_valid_event ();
    event_attr_t attrs[70];
    char names[70][8];
    for (int i = 0; i < 70; i++) {
        snprintf (names[i], sizeof names[i], "a%d", i);
        attrs[i] = (event_attr_t){.name = names[i], .type = ATTR_FLAG};
    }
    e.attrs = attrs;
    e.n_attrs = 65;
    CHECK_FAIL (e, "land", ERR_LIMIT_EXCEEDED, "65 attributes", "limit 64");

    e.n_attrs = 3;
    attrs[2].name = "a0";
    CHECK_FAIL (e, "land", ERR_INVALID_FIELD, "attribute \"a0\"", "twice");
    attrs[2].name = "a2";

    attrs[1] = (event_attr_t){.name = "empty_value", .type = ATTR_NONE};
    CHECK_FAIL (e, "land", ERR_MISSING_FIELD, "attribute \"empty_value\"", "no value");
    attrs[1] = (event_attr_t){.name = "odd_type", .type = (attr_type_t) 7};
    CHECK_FAIL (e, "land", ERR_MISSING_FIELD, "attribute \"odd_type\"", NULL);
    attrs[1] = (event_attr_t){.name = "", .type = ATTR_FLAG};
    CHECK_FAIL (e, "land", ERR_MISSING_FIELD, "attribute 2", "no name");
    attrs[1] = (event_attr_t){.name = "\xff", .type = ATTR_FLAG};
    CHECK_FAIL (e, "land", ERR_INVALID_FIELD, "attribute name", "UTF-8");

    attrs[1] = (event_attr_t){.name = "ratio", .type = ATTR_NUMBER, .number = NAN};
    CHECK_FAIL (e, "land", ERR_INVALID_FIELD, "attribute \"ratio\"", "finite");
    attrs[1].number = INFINITY;
    CHECK_FAIL (e, "land", ERR_INVALID_FIELD, "attribute \"ratio\"", "finite");
    attrs[1].number = -INFINITY;
    CHECK_FAIL (e, "land", ERR_INVALID_FIELD, "attribute \"ratio\"", "finite");

    attrs[1] = (event_attr_t){.name = "seller", .type = ATTR_TEXT, .text = "某某\xe5\x85"};
    CHECK_FAIL (e, "land", ERR_INVALID_FIELD, "attribute \"seller\"", "UTF-8");
    attrs[1].text = "\xed\xa0\x80"; //  a surrogate
    CHECK_FAIL (e, "land", ERR_INVALID_FIELD, "attribute \"seller\"", "UTF-8");
    char *text = malloc (4098);
    memset (text, 'a', 4097);
    text[4097] = '\0';
    attrs[1].text = text;
    CHECK_FAIL (e, "land", ERR_LIMIT_EXCEEDED, "attribute \"seller\"", "4097 bytes");
    free (text);
}

/*  The order of the checks: the first problem reported is the first one
    in the protocol's order, so the answer does not depend on luck.  */
static void
s_test_order (void)
{
    case_event_t e = s_valid_event ();
    e.schema_version = 2;
    e.event_id = "";
    e.agency = "customs";
    CHECK_FAIL (e, "land", ERR_UNSUPPORTED_VERSION, "schema_version", NULL);
    e.schema_version = 1;
    CHECK_FAIL (e, "land", ERR_MISSING_FIELD, "event_id", NULL);
    e.event_id = "0f8fad5b-d9cb-469f-a165-70867728950e";
    CHECK_FAIL (e, "land", ERR_UNKNOWN_AGENCY, "customs", NULL);
}

/*  Reasons quote values from the wire; the reason itself must stay valid
    UTF-8 however the value is cut to fit.  */
static void
s_test_reason_utf8 (void)
{
    //  An unknown agency of 66 bytes, valid UTF-8, whose 64th byte falls
    //  inside a Chinese character.
    char agency[80];
    memset (agency, 'x', 63);
    strcpy (agency + 63, "中");
    case_event_t e = s_valid_event ();
    e.agency = agency;
    CHECK_FAIL (e, "", ERR_UNKNOWN_AGENCY, "agency \"xxxx", NULL);

    //  The batch's agency is not checked at all before it is quoted.
    e = s_valid_event ();
    char batch_agency[80];
    memset (batch_agency, 'y', 63);
    strcpy (batch_agency + 63, "中");
    CHECK_FAIL (e, batch_agency, ERR_AGENCY_MISMATCH, "\"land\"", "yyyy");
    CHECK_FAIL (e, "tax\xff", ERR_AGENCY_MISMATCH, "\"land\"", "tax");

    //  A non-UUID event id of Chinese characters cut at 64 bytes.
    e = s_valid_event ();
    e.event_id = "事件事件事件事件事件事件事件事件事件事件事件事件"; //  72 bytes
    CHECK_FAIL (e, "land", ERR_INVALID_FIELD, "event_id", "not a UUID");

    //  A duplicated attribute name near the size limit.
    e = s_valid_event ();
    char name[257];
    size_t n = 0;
    while (n + 3 <= 255) {
        memcpy (name + n, "名", 3);
        n += 3;
    }
    name[n] = '\0';
    event_attr_t attrs[2] = {{.name = name, .type = ATTR_FLAG},
                             {.name = name, .type = ATTR_FLAG}};
    e.attrs = attrs;
    e.n_attrs = 2;
    CHECK_FAIL (e, "land", ERR_INVALID_FIELD, "attribute \"名名", "twice");
    attrs[1] = (event_attr_t){.name = "b", .type = ATTR_NUMBER, .number = NAN};
    attrs[0] = (event_attr_t){.name = name, .type = ATTR_NUMBER, .number = NAN};
    CHECK_FAIL (e, "land", ERR_INVALID_FIELD, "attribute \"名名", "finite");
}

/*  utf8_valid itself.  */
static void
s_test_utf8 (void)
{
    CHECK (utf8_valid (""));
    CHECK (utf8_valid ("plain ASCII \t\n"));
    CHECK (utf8_valid ("\x7f"));
    CHECK (utf8_valid ("é"));                //  2 bytes
    CHECK (utf8_valid ("\xc2\x80"));         //  U+0080, smallest 2-byte
    CHECK (utf8_valid ("\xdf\xbf"));         //  U+07FF
    CHECK (utf8_valid ("宁夏彭阳"));         //  3 bytes
    CHECK (utf8_valid ("\xe0\xa0\x80"));     //  U+0800, smallest 3-byte
    CHECK (utf8_valid ("\xed\x9f\xbf"));     //  U+D7FF, before surrogates
    CHECK (utf8_valid ("\xee\x80\x80"));     //  U+E000, after them
    CHECK (utf8_valid ("\xef\xbf\xbf"));     //  U+FFFF
    CHECK (utf8_valid ("\xf0\x9f\x98\x80")); //  U+1F600, 4 bytes
    CHECK (utf8_valid ("\xf0\x90\x80\x80")); //  U+10000, smallest 4-byte
    CHECK (utf8_valid ("\xf4\x8f\xbf\xbf")); //  U+10FFFF, the last
    CHECK (utf8_valid ("𠀀 𪚥 😀 mixed 中文"));

    //  Overlong encodings.
    CHECK (!utf8_valid ("\xc0\x80")); //  NUL in 2 bytes
    CHECK (!utf8_valid ("\xc0\xaf")); //  '/' in 2 bytes
    CHECK (!utf8_valid ("\xc1\xbf"));
    CHECK (!utf8_valid ("\xe0\x80\xaf"));     //  '/' in 3 bytes
    CHECK (!utf8_valid ("\xe0\x9f\xbf"));     //  U+07FF in 3 bytes
    CHECK (!utf8_valid ("\xf0\x80\x80\xaf")); //  '/' in 4 bytes
    CHECK (!utf8_valid ("\xf0\x8f\xbf\xbf")); //  U+FFFF in 4 bytes

    //  Surrogates, and values past U+10FFFF.
    CHECK (!utf8_valid ("\xed\xa0\x80"));             //  U+D800
    CHECK (!utf8_valid ("\xed\xbf\xbf"));             //  U+DFFF
    CHECK (!utf8_valid ("\xed\xa0\xbd\xed\xb8\x80")); //  a CESU-8 pair
    CHECK (!utf8_valid ("\xf4\x90\x80\x80"));         //  U+110000
    CHECK (!utf8_valid ("\xf7\xbf\xbf\xbf"));
    CHECK (!utf8_valid ("\xf8\x88\x80\x80\x80"));     //  5-byte form
    CHECK (!utf8_valid ("\xfc\x84\x80\x80\x80\x80")); //  6-byte form
    CHECK (!utf8_valid ("\xfe"));
    CHECK (!utf8_valid ("\xff"));

    //  Stray and missing continuation bytes.
    CHECK (!utf8_valid ("\x80"));
    CHECK (!utf8_valid ("a\xbf"
                           "b"));
    CHECK (!utf8_valid ("\xc3")); //  cut at the end
    CHECK (!utf8_valid ("\xe5\xbd"));
    CHECK (!utf8_valid ("\xf0\x9f\x98"));
    CHECK (!utf8_valid ("\xe5"
                           "a"
                           "\xbd"));
    CHECK (!utf8_valid ("\xc3\xa9\xa9")); //  one continuation too many

    //  Every 2-byte and 3-byte sequence agrees with a reference written
    //  from the Unicode table of well-formed byte sequences.
    int disagree = 0;
    for (int a = 0x80; a < 0x100; a++)
        for (int b = 0x00; b < 0x100; b++) {
            if (b == 0)
                continue;
            char s[3] = {(char) a, (char) b, '\0'};
            bool ref = a >= 0xc2 && a <= 0xdf && b >= 0x80 && b <= 0xbf;
            if (utf8_valid (s) != ref)
                disagree++;
        }
    for (int a = 0xe0; a < 0xf0; a++)
        for (int b = 0x80; b < 0xc0; b++)
            for (int c = 0x7f; c < 0xc1; c++) {
                char s[4] = {(char) a, (char) b, (char) c, '\0'};
                int lo = a == 0xe0 ? 0xa0 : 0x80;
                int hi = a == 0xed ? 0x9f : 0xbf;
                bool ref = b >= lo && b <= hi && c >= 0x80 && c <= 0xbf;
                if (utf8_valid (s) != ref)
                    disagree++;
            }
    for (int a = 0xf0; a < 0xf8; a++)
        for (int b = 0x80; b < 0xc0; b++) {
            char s[5] = {(char) a, (char) b, (char) 0x80, (char) 0x80, '\0'};
            int lo = a == 0xf0 ? 0x90 : 0x80;
            int hi = a == 0xf4 ? 0x8f : 0xbf;
            bool ref = a <= 0xf4 && b >= lo && b <= hi;
            if (utf8_valid (s) != ref)
                disagree++;
        }
    CHECK (disagree == 0);
}

/*  Runs every group, prints the summary; exit status 1 on any failure.  */
/*  The event type against the agency's vocabulary: the types the shipped
    workflows name for it, plus extra-event-types.  */
static void
s_test_event_type (void)
{
    char err[4096];
    workflow_set_t *set =
        hub_config_load_workflows (&s_config, UNIT_WORKFLOW_DIR, err, sizeof err);
    CHECK_MSG (set != NULL, err);
    if (!set)
        return;
    verdict_t v;
    case_event_t e = s_valid_event ();
    CHECK (validate_event_type (&s_config, set, &e, &v) && v.code == ERR_NONE);
    e.event_type = "mortgage.registered"; //  a step's completes_on
    CHECK (validate_event_type (&s_config, set, &e, &v));
    e.event_type = "transfer.rejected"; //  a rejects_on
    CHECK (validate_event_type (&s_config, set, &e, &v));

    e.event_type = "deed_tax.paid"; //  tax's, not land's
    CHECK (!validate_event_type (&s_config, set, &e, &v));
    CHECK (v.code == ERR_INVALID_FIELD);
    CHECK_MSG (strstr (v.reason, "event_type \"deed_tax.paid\" is not known for agency "
                                 "\"land\"; known: advance_notice.accepted, "
                                 "advance_notice.registered, advance_notice.rejected, "
                                 "advance_notice.withdrawn, cancellation.accepted")
                   != NULL,
               v.reason);
    CHECK_MSG (strstr (v.reason, "transfer.withdrawn") != NULL, v.reason);
    CHECK (utf8_valid (v.reason));

    e.agency = "tax";
    CHECK (validate_event_type (&s_config, set, &e, &v));
    e.event_type = "invoice.voided";
    CHECK (!validate_event_type (&s_config, set, &e, &v));
    CHECK_MSG (strstr (v.reason, "known: credit_grade.shared, deed_tax.assessed, "
                                 "deed_tax.paid, deregistration.cleared, invoice.issued, "
                                 "refund.approved")
                   != NULL,
               v.reason);

    //  the operator's extras are accepted and listed
    hub_config_t extra = s_config;
    snprintf (extra.extra_event_types, sizeof extra.extra_event_types,
              "land:survey.done, tax:invoice.voided,tax:a.b");
    CHECK (validate_event_type (&extra, set, &e, &v));
    e.event_type = "invoice.lost";
    CHECK (!validate_event_type (&extra, set, &e, &v));
    CHECK_MSG (strstr (v.reason, "known: a.b, credit_grade.shared") != NULL, v.reason);
    CHECK_MSG (strstr (v.reason, "invoice.issued, invoice.voided, refund.approved") != NULL,
               v.reason);
    CHECK_MSG (strstr (v.reason, "survey.done") == NULL, v.reason);
    e.event_type = "invoice.voide"; //  a prefix of an extra is not it
    CHECK (!validate_event_type (&extra, set, &e, &v));

    //  an agency no workflow names
    e.agency = "nosuch";
    e.event_type = "x.y";
    CHECK (!validate_event_type (&s_config, set, &e, &v));
    CHECK_MSG (strstr (v.reason, "known: none") != NULL, v.reason);

    //  without definitions, every well-formed type passes
    CHECK (validate_event_type (&s_config, NULL, &e, &v));
    workflow_set_destroy (&set);
}

int
main (void)
{
    s_test_config ();
    s_test_valid ();
    s_test_header ();
    s_test_time ();
    s_test_keys ();
    s_test_attrs ();
    s_test_order ();
    s_test_reason_utf8 ();
    s_test_utf8 ();
    s_test_event_type ();
    return s_summary ();
}
