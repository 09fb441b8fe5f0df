/*  test_record.c - unit tests for adapters/framework/record.c

    A standalone program: every failing case is printed with its file and
    line, a summary closes the run, and the exit status is 1 when any case
    failed. A parsed record is checked the way the hub will see it: its
    bytes are wrapped in a batch with codec_batch_encode, read back with
    codec_inbound_decode, and the event must pass the hub's validation
    with the hub's default settings.
*/

#include "record.h"
#include "strbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "hub_config.h"
#include "ident.h"
#include "validate.h"

#define UNIT_NAME "test_record"
#include "unit.h"
#include "map_check.h"

static const int64_t s_accepted = 1598923870000; //  2020-09-01T01:31:10Z

/*  Parses line for agency "land", adapter "land-1"; returns the bytes.  */
static uint8_t *
s_parse (const char *line, const char *agency, char id[37], size_t *len, char *err,
         size_t errlen)
{
    return map_encode (record_parse_ndjson, line, strlen (line), agency, "land-1",
                       s_accepted, id, len, err, errlen);
}

/*  Checks that line is refused with a reason containing want (and want2
    when not NULL).  */
#define CHECK_BAD(line, want, want2)                                                       \
    s_check_bad ((line), (want), (want2), __FILE__, __LINE__)

static uint8_t *
s_parse_land (const char *line, char id[37], size_t *len, char *err, size_t errlen)
{
    return s_parse (line, "land", id, len, err, errlen);
}

static void
s_check_bad (const char *line, const char *want, const char *want2, const char *file, int l)
{
    s_check_refused (s_parse_land, line, want, want2, file, l);
}

static codec_inbound_t *
s_decode (const uint8_t *bytes, size_t len, case_event_t *event)
{
    return map_decode (bytes, len, "land-1", "land", event);
}

/*  A full record: every field, every key kind, every attribute type.  */
static void
s_test_full_record (void)
{
    const char *line =
        "{\"event_id\": \"7C9E6679-7425-40DE-944B-E07FC1F90AE7\","
        " \"agency\": \"land\","
        " \"case_no\": \"PY-BDC-2020-001234（彭阳）\","
        " \"event_type\": \"transfer.accepted\","
        " \"occurred_at\": \"2020-09-01T09:31:07.250+08:00\","
        " \"keys\": {\"unit_number\": \"640425001002GB00123F00010001\","
        "          \"credit_code\": \"91350100M000100Y43\","
        "          \"project_code\": \"2020-640425-47-01-000123\","
        "          \"application_no\": \"SQ2020090100012\","
        "          \"refund_no\": \"TK-2020-0001\"},"
        " \"attrs\": {\"has_mortgage\": true, \"is_gift\": false,"
        "           \"deed_tax_yuan\": 12000.5, \"whole_real\": 12.0,"
        "           \"parcels\": 3, \"neg\": -7, \"big\": 9007199254740993,"
        "           \"seller\": \"宁夏彭阳县某某公司 \\\"甲\\\"\\n\","
        "           \"registered_at\": {\"time\": \"2020-09-01T10:00:00+08:00\"}}}";
    char id[37] = "";
    size_t len = 0;
    char err[256] = "";
    uint8_t *bytes = s_parse (line, "land", id, &len, err, sizeof err);
    CHECK (bytes != NULL);
    if (!bytes) {
        fprintf (stderr, "  parse: %s\n", err);
        return;
    }
    //  The explicit id, lower-cased.
    CHECK (STREQ (id, "7c9e6679-7425-40de-944b-e07fc1f90ae7"));

    case_event_t e;
    codec_inbound_t *in = s_decode (bytes, len, &e);
    CHECK (in != NULL);
    if (!in) {
        free (bytes);
        return;
    }
    CHECK (e.schema_version == ONENET_SCHEMA_VERSION);
    CHECK (STREQ (e.event_id, "7c9e6679-7425-40de-944b-e07fc1f90ae7"));
    CHECK (STREQ (e.agency, "land"));
    CHECK (STREQ (e.adapter_id, "land-1"));
    CHECK (STREQ (e.case_no, "PY-BDC-2020-001234（彭阳）"));
    CHECK (STREQ (e.event_type, "transfer.accepted"));
    CHECK (e.occurred_at_ms == 1598923867250);
    CHECK (e.accepted_at_ms == s_accepted);

    CHECK (e.n_keys == 5);
    const event_key_t *k;
    k = map_key (&e, KEY_UNIT_NUMBER);
    CHECK (k && STREQ (k->value, "640425001002GB00123F00010001"));
    k = map_key (&e, KEY_CREDIT_CODE);
    CHECK (k && STREQ (k->value, "91350100M000100Y43"));
    k = map_key (&e, KEY_PROJECT_CODE);
    CHECK (k && STREQ (k->value, "2020-640425-47-01-000123"));
    k = map_key (&e, KEY_APPLICATION_NO);
    CHECK (k && STREQ (k->value, "SQ2020090100012"));
    k = map_key (&e, KEY_REFUND_NO);
    CHECK (k && STREQ (k->value, "TK-2020-0001"));

    CHECK (e.n_attrs == 9);
    const event_attr_t *a;
    a = map_attr (&e, "has_mortgage");
    CHECK (a && a->type == ATTR_FLAG && a->flag == true);
    a = map_attr (&e, "is_gift");
    CHECK (a && a->type == ATTR_FLAG && a->flag == false);
    a = map_attr (&e, "deed_tax_yuan");
    CHECK (a && a->type == ATTR_NUMBER && a->number == 12000.5);
    a = map_attr (&e, "whole_real");
    CHECK (a && a->type == ATTR_NUMBER && a->number == 12.0);
    a = map_attr (&e, "parcels");
    CHECK (a && a->type == ATTR_INTEGER && a->integer == 3);
    a = map_attr (&e, "neg");
    CHECK (a && a->type == ATTR_INTEGER && a->integer == -7);
    a = map_attr (&e, "big");
    CHECK (a && a->type == ATTR_INTEGER && a->integer == 9007199254740993LL);
    a = map_attr (&e, "seller");
    CHECK (a && a->type == ATTR_TEXT && STREQ (a->text, "宁夏彭阳县某某公司 \"甲\"\n"));
    a = map_attr (&e, "registered_at");
    CHECK (a && a->type == ATTR_TIME && a->time_ms == 1598925600000);

    //  The hub, with its default settings, accepts it.
    hub_config_t config;
    char *argv[] = {"onenet-hub", NULL};
    CHECK (hub_config_load (&config, 1, argv) == 0);
    verdict_t v;
    bool ok = validate_event (&config, &e, "land", 1599004800000, &v);
    s_check (ok, "the hub accepts the parsed event", v.reason, __FILE__, __LINE__);

    codec_inbound_destroy (&in);
    free (bytes);

    //  The smallest record: no id, agency, keys or attributes.
    const char *small = "{\"case_no\":\"c1\",\"event_type\":\"t\","
                        "\"occurred_at\":\"2020-09-01T01:31:07Z\"}";
    bytes = s_parse (small, "land", id, &len, err, sizeof err);
    CHECK (bytes != NULL);
    in = bytes ? s_decode (bytes, len, &e) : NULL;
    CHECK (in != NULL);
    if (in) {
        CHECK (STREQ (e.event_id, id) && STREQ (e.agency, "land"));
        CHECK (e.n_keys == 0 && e.n_attrs == 0);
        CHECK (e.occurred_at_ms == 1598923867000);
        CHECK (validate_event (&config, &e, "land", 1599004800000, &v));
    }
    codec_inbound_destroy (&in);
    free (bytes);

    //  Explicit empty "keys" and "attrs" objects are fine.
    bytes = s_parse ("{\"case_no\":\"c1\",\"event_type\":\"t\",\"keys\":{},\"attrs\":{},"
                     "\"occurred_at\":\"2020-09-01T01:31:07Z\"}",
                     "land", id, &len, err, sizeof err);
    CHECK (bytes != NULL);
    free (bytes);
}

/*  Ids derived from the record when it has none.  */
static void
s_test_derived_id (void)
{
    const char *line = "{\"case_no\":\"PY-1\",\"event_type\":\"transfer.accepted\","
                       "\"occurred_at\":\"2020-09-01T09:31:07+08:00\"}";
    const char *other = "{\"case_no\":\"PY-2\",\"event_type\":\"transfer.accepted\","
                        "\"occurred_at\":\"2020-09-01T09:31:07+08:00\"}";
    char id1[37] = "", id2[37] = "", id3[37] = "", id4[37] = "";
    size_t len;
    char err[256];
    uint8_t *b1 = s_parse (line, "land", id1, &len, err, sizeof err);
    uint8_t *b2 = s_parse (line, "land", id2, &len, err, sizeof err);
    uint8_t *b3 = s_parse (other, "land", id3, &len, err, sizeof err);
    uint8_t *b4 = s_parse (line, "tax", id4, &len, err, sizeof err);
    CHECK (b1 && b2 && b3 && b4);
    CHECK (ident_uuid_valid (id1));
    CHECK (id1[14] == '5');                   //  a name-based (SHA-1) UUID
    CHECK (strchr ("89ab", id1[19]) != NULL); //  RFC 4122 variant
    for (int i = 0; i < 36; i++)
        if (id1[i] >= 'A' && id1[i] <= 'F')
            CHECK (!"derived id is lower case");
    CHECK (STREQ (id1, id2));  //  same line, same id
    CHECK (!STREQ (id1, id3)); //  different line, different id
    CHECK (!STREQ (id1, id4)); //  different agency, different id
    CHECK (!STREQ (id3, id4));

    //  The id is inside the event.
    case_event_t e;
    codec_inbound_t *in = b1 ? s_decode (b1, len, &e) : NULL;
    if (in) {
        CHECK (STREQ (e.event_id, id1));
        codec_inbound_destroy (&in);
    }
    //  Only the given bytes count: the same line inside a longer buffer.
    char buffer[512];
    snprintf (buffer, sizeof buffer, "%sGARBAGE", line);
    char id5[37] = "";
    uint8_t *b5 = map_encode (record_parse_ndjson, buffer, strlen (line), "land", "land-1",
                              s_accepted, id5, &len, err, sizeof err);
    CHECK (b5 != NULL && STREQ (id5, id1));
    //  A different adapter or acceptance time does not change the id.
    char id6[37] = "";
    uint8_t *b6 = map_encode (record_parse_ndjson, line, strlen (line), "land", "land-2",
                              s_accepted + 5, id6, &len, err, sizeof err);
    CHECK (b6 != NULL && STREQ (id6, id1));
    free (b1);
    free (b2);
    free (b3);
    free (b4);
    free (b5);
    free (b6);
}

/*  Refusals name the field.  */
static void
s_test_errors (void)
{
    //  Not a JSON object.
    CHECK_BAD ("{", "not JSON", NULL);
    CHECK_BAD ("", "not JSON", NULL);
    CHECK_BAD ("case_no=1", "not JSON", NULL);
    CHECK_BAD ("{\"case_no\":\"c1\"} trailing", "not JSON", NULL);
    CHECK_BAD ("[1, 2]", "JSON object", NULL);
    CHECK_BAD ("[{\"case_no\":\"c1\"}]", "JSON object", NULL);
    CHECK_BAD ("{\"case_no\":\"c1\",\"case_no\":\"c2\",\"event_type\":\"t\","
               "\"occurred_at\":\"2020-09-01T01:31:07Z\"}",
               "not JSON", "case_no");

    //  Required fields.
    CHECK_BAD ("{\"event_type\":\"t\",\"occurred_at\":\"2020-09-01T01:31:07Z\"}",
               "\"case_no\"", "missing");
    CHECK_BAD (
        "{\"case_no\":\"\",\"event_type\":\"t\",\"occurred_at\":\"2020-09-01T01:31:07Z\"}",
        "\"case_no\"", "empty");
    CHECK_BAD (
        "{\"case_no\":12,\"event_type\":\"t\",\"occurred_at\":\"2020-09-01T01:31:07Z\"}",
        "\"case_no\"", "string");
    CHECK_BAD ("{\"case_no\":\"c1\",\"occurred_at\":\"2020-09-01T01:31:07Z\"}",
               "\"event_type\"", "missing");
    CHECK_BAD (
        "{\"case_no\":\"c1\",\"event_type\":\"\",\"occurred_at\":\"2020-09-01T01:31:07Z\"}",
        "\"event_type\"", "empty");
    CHECK_BAD ("{\"case_no\":\"c1\",\"event_type\":\"Transfer\","
               "\"occurred_at\":\"2020-09-01T01:31:07Z\"}",
               "event type", "'T'");
    CHECK_BAD ("{\"case_no\":\"c1\",\"event_type\":\"t\"}", "\"occurred_at\"", "missing");
    CHECK_BAD (
        "{\"case_no\":\"c1\",\"event_type\":\"t\",\"occurred_at\":\"2020-09-01 09:31:07\"}",
        "\"occurred_at\"", "2020-09-01 09:31:07");
    CHECK_BAD ("{\"case_no\":\"c1\",\"event_type\":\"t\",\"occurred_at\":\"2021-02-29T00:"
               "00:00Z\"}",
               "\"occurred_at\"", NULL);
    CHECK_BAD ("{\"case_no\":\"c1\",\"event_type\":\"t\",\"occurred_at\":1598923867000}",
               "\"occurred_at\"", "string");

    //  The event id.
    CHECK_BAD ("{\"event_id\":\"not-a-uuid\",\"case_no\":\"c1\",\"event_type\":\"t\","
               "\"occurred_at\":\"2020-09-01T01:31:07Z\"}",
               "\"event_id\"", "not a UUID");
    CHECK_BAD ("{\"event_id\":\"\",\"case_no\":\"c1\",\"event_type\":\"t\","
               "\"occurred_at\":\"2020-09-01T01:31:07Z\"}",
               "\"event_id\"", NULL);
    CHECK_BAD ("{\"event_id\":42,\"case_no\":\"c1\",\"event_type\":\"t\","
               "\"occurred_at\":\"2020-09-01T01:31:07Z\"}",
               "\"event_id\"", "string");

    //  An attribute needs a name (the hub refuses one without).
    CHECK_BAD ("{\"case_no\":\"c1\",\"event_type\":\"t\","
               "\"occurred_at\":\"2020-09-01T01:31:07Z\",\"attrs\":{\"\":1}}",
               "attrs", "empty name");

    //  The agency.
    CHECK_BAD ("{\"agency\":\"tax\",\"case_no\":\"c1\",\"event_type\":\"t\","
               "\"occurred_at\":\"2020-09-01T01:31:07Z\"}",
               "\"agency\"", "\"tax\"");
    CHECK_BAD ("{\"agency\":7,\"case_no\":\"c1\",\"event_type\":\"t\","
               "\"occurred_at\":\"2020-09-01T01:31:07Z\"}",
               "\"agency\"", NULL);

    //  Keys.
    CHECK_BAD (
        "{\"case_no\":\"c1\",\"event_type\":\"t\",\"occurred_at\":\"2020-09-01T01:31:07Z\","
        "\"keys\":{\"passport\":\"E1\"}}",
        "keys.passport", "not a known key kind");
    CHECK_BAD (
        "{\"case_no\":\"c1\",\"event_type\":\"t\",\"occurred_at\":\"2020-09-01T01:31:07Z\","
        "\"keys\":{\"credit_code\":\"91350100M000100Y4A\"}}",
        "keys.credit_code", "check character is 'A', expected '3'");
    CHECK_BAD (
        "{\"case_no\":\"c1\",\"event_type\":\"t\",\"occurred_at\":\"2020-09-01T01:31:07Z\","
        "\"keys\":{\"unit_number\":\"640425001002XB00123F00010001\"}}",
        "keys.unit_number", "position 13");
    CHECK_BAD (
        "{\"case_no\":\"c1\",\"event_type\":\"t\",\"occurred_at\":\"2020-09-01T01:31:07Z\","
        "\"keys\":{\"refund_no\":\"\"}}",
        "keys.refund_no", NULL);
    CHECK_BAD (
        "{\"case_no\":\"c1\",\"event_type\":\"t\",\"occurred_at\":\"2020-09-01T01:31:07Z\","
        "\"keys\":{\"refund_no\":5}}",
        "keys.refund_no", NULL);
    CHECK_BAD (
        "{\"case_no\":\"c1\",\"event_type\":\"t\",\"occurred_at\":\"2020-09-01T01:31:07Z\","
        "\"keys\":[\"91350100M000100Y43\"]}",
        "\"keys\"", "object");

    //  Attributes.
    CHECK_BAD (
        "{\"case_no\":\"c1\",\"event_type\":\"t\",\"occurred_at\":\"2020-09-01T01:31:07Z\","
        "\"attrs\":{\"owners\":[\"a\",\"b\"]}}",
        "attrs.owners", NULL);
    CHECK_BAD (
        "{\"case_no\":\"c1\",\"event_type\":\"t\",\"occurred_at\":\"2020-09-01T01:31:07Z\","
        "\"attrs\":{\"nothing\":null}}",
        "attrs.nothing", NULL);
    CHECK_BAD (
        "{\"case_no\":\"c1\",\"event_type\":\"t\",\"occurred_at\":\"2020-09-01T01:31:07Z\","
        "\"attrs\":{\"at\":{\"time\":\"yesterday\"}}}",
        "attrs.at", NULL);
    CHECK_BAD (
        "{\"case_no\":\"c1\",\"event_type\":\"t\",\"occurred_at\":\"2020-09-01T01:31:07Z\","
        "\"attrs\":{\"at\":{\"when\":\"2020-09-01T01:31:07Z\"}}}",
        "attrs.at", NULL);
    CHECK_BAD (
        "{\"case_no\":\"c1\",\"event_type\":\"t\",\"occurred_at\":\"2020-09-01T01:31:07Z\","
        "\"attrs\":\"x\"}",
        "\"attrs\"", "object");

    //  The error buffer is always a terminated string, even a tiny one.
    char id[37];
    size_t len;
    char tiny[8];
    memset (tiny, 'x', sizeof tiny);
    const char *bad = "{\"case_no\":\"c1\",\"event_type\":\"t\"}";
    uint8_t *bytes = map_encode (record_parse_ndjson, bad, strlen (bad), "land", "land-1",
                                 s_accepted, id, &len, tiny, sizeof tiny);
    CHECK (bytes == NULL);
    CHECK (memchr (tiny, '\0', sizeof tiny) != NULL);
    free (bytes);
}

/*  A row of the agency's outbox table: the event's id comes from where it
    was read (the agency, the table, the row), whatever the record says,
    even its own event_id; every other field is the record's.  */
static void
s_test_row_id (void)
{
    const char *line =
        "{\"event_id\":\"0b0e3f4c-7a51-4d2e-9c1a-3e5f6a7b8c9d\","
        "\"case_no\":\"PY-BDC-2020-001234\",\"event_type\":\"transfer.accepted\","
        "\"occurred_at\":\"2020-09-01T09:31:07+08:00\","
        "\"keys\":{\"unit_number\":\"640425001002GB00123F00010001\"},"
        "\"attrs\":{\"has_mortgage\":true,\"price_yuan\":389000}}";
    char id[37], row_id[37], want[37], err[256] = "";
    size_t len = 0, row_len = 0;
    uint8_t *bytes = s_parse (line, "land", id, &len, err, sizeof err);
    const char *from[2] = {"onenet_outbox", "17"};
    uint8_t *row =
        mapped_event_encode (record_parse_ndjson, line, strlen (line), "land", "land-1",
                             s_accepted, from, 2, row_id, &row_len, err, sizeof err);
    CHECK_MSG (bytes && row, err);
    const char *parts[3] = {"land", "onenet_outbox", "17"};
    size_t lens[3] = {4, 13, 2};
    record_event_id (parts, lens, 3, want);
    CHECK (STREQ (id, "0b0e3f4c-7a51-4d2e-9c1a-3e5f6a7b8c9d"));
    CHECK (STREQ (row_id, want));
    case_event_t a, b;
    codec_inbound_t *in_a = bytes ? s_decode (bytes, len, &a) : NULL;
    codec_inbound_t *in_b = row ? s_decode (row, row_len, &b) : NULL;
    CHECK (in_a && in_b);
    if (in_a && in_b) {
        CHECK (STREQ (a.event_id, id) && STREQ (b.event_id, want));
        CHECK (STREQ (a.case_no, b.case_no) && STREQ (a.event_type, b.event_type));
        CHECK (STREQ (a.agency, b.agency) && STREQ (a.adapter_id, b.adapter_id));
        CHECK (a.occurred_at_ms == b.occurred_at_ms
               && a.accepted_at_ms == b.accepted_at_ms);
        CHECK (a.n_keys == b.n_keys && a.n_attrs == b.n_attrs);
        const event_attr_t *price = map_attr (&b, "price_yuan");
        CHECK (price && price->type == ATTR_INTEGER && price->integer == 389000);
        CHECK (row_len == len);
    }
    codec_inbound_destroy (&in_a);
    codec_inbound_destroy (&in_b);
    free (bytes);
    free (row);
}

/*  A number the hub could not store digit for digit (more than 15
    significant digits) refuses the record, naming the field; the largest
    amount to the fen that fits (15 digits) goes through unchanged.  */
static void
s_test_numbers_exact (void)
{
    static const char *const fmt =
        "{\"case_no\":\"c1\",\"event_type\":\"deed_tax.paid\","
        "\"occurred_at\":\"2020-09-01T09:31:07+08:00\",\"attrs\":{\"deed_tax_yuan\":%s}}";
    char line[300], id[37], err[400] = "";
    size_t len = 0;
    snprintf (line, sizeof line, fmt, "12345678901234567.89");
    uint8_t *bytes =
        mapped_event_encode (record_parse_ndjson, line, strlen (line), "tax", "tax-1",
                             s_accepted, NULL, 0, id, &len, err, sizeof err);
    CHECK (!bytes);
    CHECK_MSG (strstr (err, "field \"deed_tax_yuan\"")
                   && strstr (err, "more than 15 significant digits"),
               err);
    free (bytes);
    snprintf (line, sizeof line, fmt, "9999999999999.99");
    bytes = mapped_event_encode (record_parse_ndjson, line, strlen (line), "tax", "tax-1",
                                 s_accepted, NULL, 0, id, &len, err, sizeof err);
    CHECK_MSG (bytes, err);
    case_event_t e;
    codec_inbound_t *in = bytes ? s_decode (bytes, len, &e) : NULL;
    const event_attr_t *tax = in ? map_attr (&e, "deed_tax_yuan") : NULL;
    CHECK (tax && tax->type == ATTR_NUMBER);
    if (tax) {
        strbuf_t sb;
        strbuf_init (&sb);
        strbuf_put_double (&sb, tax->number);
        CHECK_MSG (STREQ (sb.data, "9999999999999.99"), sb.data);
        strbuf_free (&sb);
    }
    codec_inbound_destroy (&in);
    free (bytes);
}

/*  What the adapter sends for fixed records, pinned: the event ids and the
    encoded bytes must stay the same whatever the code that builds them.  */
static void
s_test_pinned (void)
{
    const char *full =
        "{\"case_no\":\"PY-BDC-2020-001234\",\"event_type\":\"transfer.accepted\","
        "\"occurred_at\":\"2020-09-01T09:31:07+08:00\","
        "\"keys\":{\"unit_number\":\"640425001002GB00123F00010001\","
        "\"credit_code\":\"91640425MA76H1234U\"},"
        "\"attrs\":{\"has_mortgage\":true,\"price_yuan\":389000,\"area_m2\":84.7,"
        "\"buyer\":\"马建国\","
        "\"registered_at\":{\"time\":\"2020-09-01T10:00:00+08:00\"}}}";
    CHECK_PINNED (s_parse_land, full, "c0f9cc71-e6c5-5bd6-8f4c-3fa3b197733d", 265,
                  0xfdb83a210dc9389eULL);
    const char *with_id =
        "{\"event_id\":\"0B0E3F4C-7A51-4D2E-9C1A-3E5F6A7B8C9D\",\"agency\":\"land\","
        "\"case_no\":\"PY-1\",\"event_type\":\"transfer.accepted\","
        "\"occurred_at\":\"2020-09-01T09:31:07+08:00\"}";
    CHECK_PINNED (s_parse_land, with_id, "0b0e3f4c-7a51-4d2e-9c1a-3e5f6a7b8c9d", 93,
                  0x844c07e4ebfa431dULL);
}

/*  Runs every group, prints the summary; exit status 1 on any failure.  */
int
main (void)
{
    s_test_full_record ();
    s_test_derived_id ();
    s_test_errors ();
    s_test_row_id ();
    s_test_numbers_exact ();
    s_test_pinned ();
    return s_summary ();
}
