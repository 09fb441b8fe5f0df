/*  test_map_power.c - unit tests for adapters/power/map.c

    A standalone program: every failing case is printed with its file and
    line, a summary closes the run, and the exit status is 1 when any case
    failed. Each mapped record is checked the way the hub will see it: its
    bytes are wrapped in a batch, decoded with codec_inbound_decode, and
    the event must pass the hub's validation with its default settings.
*/

#include "map.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "hub_config.h"
#include "ident.h"
#include "validate.h"

#define UNIT_NAME "test_map_power"
#include "unit.h"
#include "map_check.h"

static const int64_t s_accepted = 1598923870000; //  2020-09-01T01:31:10Z
static const int64_t s_hub_now = 1599264000000;  //  2020-09-05T00:00:00Z
static const char *s_unit = "640425001002GB00123F00010001";

/*  The documented example record, with the parts that vary between cases
    filled in.  */
static void
s_accept_line (char *buf, size_t size, const char *level, bool external, bool transformer,
               const char *supply)
{
    snprintf (
        buf, size,
        "{\"appNo\":\"PYGD-2020-0346\",\"busiType\":\"NEW_INSTALL\",\"step\":\"ACCEPT\","
        "\"voltageLevel\":\"%s\",\"capacityKva\":30,\"needExternalWorks\":%s,"
        "\"needTransformer\":%s,\"supplyMode\":%s,"
        "\"unitNo\":\"640425001002GB00123F00010001\",\"custName\":\"马建国\","
        "\"eventTime\":\"2020-09-01T09:30:00\"}",
        level, external ? "true" : "false", transformer ? "true" : "false", supply);
}

/*  Maps line for agency "power", adapter "power-1".  */
static uint8_t *
s_map (const char *line, char id[37], size_t *len, char *err, size_t errlen)
{
    return map_encode (power_map, line, strlen (line), "power", "power-1", s_accepted, id,
                       len, err, errlen);
}

/*  A mapped event as the hub decodes it; destroy in when done.  */
typedef struct {
    codec_inbound_t *in; //  the decoded batch, owns the event
    case_event_t e;      //  the view of its one event
    char id[37];         //  the id the mapping reported
} mapped_t;

/*  Maps line and decodes the result into m; false (after a failed case
    naming the reason) when the line was refused or did not decode.  */
static bool
s_mapped (const char *line, mapped_t *m, const char *file, int l)
{
    memset (m, 0, sizeof *m);
    size_t len = 0;
    char err[256] = "";
    uint8_t *bytes = s_map (line, m->id, &len, err, sizeof err);
    s_check (bytes != NULL, "maps the record", err, file, l);
    if (!bytes)
        return false;
    const uint8_t *events[1] = {bytes};
    size_t lens[1] = {len};
    size_t msg_len;
    uint8_t *msg = codec_batch_encode (1, "power-1", "power", events, lens, 1, &msg_len);
    free (bytes);
    if (msg)
        m->in = codec_inbound_decode (msg, msg_len, err, sizeof err);
    free (msg);
    s_check (m->in && codec_inbound_event_count (m->in) == 1, "decodes", err, file, l);
    if (!m->in)
        return false;
    codec_inbound_event (m->in, 0, &m->e);

    hub_config_t config;
    char *argv[] = {"onenet-hub", NULL};
    verdict_t v;
    memset (&v, 0, sizeof v);
    bool ok = hub_config_load (&config, 1, argv) == 0
              && validate_event (&config, &m->e, "power", s_hub_now, &v);
    s_check (ok, "the hub accepts the mapped event", v.reason, file, l);
    return true;
}
#define MAPPED(line, m) s_mapped ((line), (m), __FILE__, __LINE__)

/*  Checks that line is refused with a reason containing want and want2
    (when not NULL): the field's name and its value.  */
#define CHECK_BAD(line, want, want2)                                                       \
    s_check_bad ((line), (want), (want2), __FILE__, __LINE__)

static void
s_check_bad (const char *line, const char *want, const char *want2, const char *file, int l)
{
    s_check_refused (s_map, line, want, want2, file, l);
}

/*  The example record: connection.accepted with every key and attribute.  */
static void
s_test_accepted (void)
{
    char line[1024];
    s_accept_line (line, sizeof line, "LV", false, false, "null");
    mapped_t m;
    if (!MAPPED (line, &m))
        return;
    CHECK (STREQ (m.e.event_id, m.id));
    CHECK (STREQ (m.e.agency, "power"));
    CHECK (STREQ (m.e.adapter_id, "power-1"));
    CHECK (STREQ (m.e.case_no, "PYGD-2020-0346"));
    CHECK (STREQ (m.e.event_type, "connection.accepted"));
    CHECK_AT (m.e.occurred_at_ms, "2020-09-01 09:30");
    CHECK (m.e.accepted_at_ms == s_accepted);
    CHECK (m.e.n_keys == 2);
    const event_key_t *k = map_key (&m.e, KEY_APPLICATION_NO);
    CHECK (k && STREQ (k->value, "PYGD-2020-0346"));
    k = map_key (&m.e, KEY_UNIT_NUMBER);
    CHECK (k && STREQ (k->value, s_unit));
    CHECK (m.e.n_attrs == 3);
    const event_attr_t *a = map_attr (&m.e, "connection_class");
    CHECK (a && a->type == ATTR_TEXT && STREQ (a->text, "low_voltage"));
    a = map_attr (&m.e, "external_works");
    CHECK (a && a->type == ATTR_FLAG && !a->flag);
    a = map_attr (&m.e, "capacity_kva");
    CHECK (a && a->type == ATTR_INTEGER && a->integer == 30);
    codec_inbound_destroy (&m.in);

    //  Without a unit number, capacity null, a space and a fraction in the
    //  time: only the application number, no capacity.
    const char *small =
        "{\"appNo\":\"PYGD-2020-0347\",\"busiType\":\"NEW_INSTALL\",\"step\":\"ACCEPT\","
        "\"voltageLevel\":\"HV\",\"capacityKva\":null,\"needExternalWorks\":true,"
        "\"eventTime\":\"2020-09-01 16:05:30.250\"}";
    if (!MAPPED (small, &m))
        return;
    CHECK (m.e.n_keys == 1 && map_key (&m.e, KEY_APPLICATION_NO));
    CHECK (m.e.n_attrs == 2 && !map_attr (&m.e, "capacity_kva"));
    CHECK (m.e.occurred_at_ms == s_bj ("2020-09-01 16:05:30.250"));
    a = map_attr (&m.e, "connection_class");
    CHECK (a && STREQ (a->text, "high_voltage_single"));
    a = map_attr (&m.e, "external_works");
    CHECK (a && a->type == ATTR_FLAG && a->flag);
    codec_inbound_destroy (&m.in);

    //  A capacity with a fraction is a number.
    const char *frac =
        "{\"appNo\":\"PYGD-2020-0348\",\"busiType\":\"NEW_INSTALL\",\"step\":\"ACCEPT\","
        "\"voltageLevel\":\"LV\",\"capacityKva\":12.5,\"needExternalWorks\":false,"
        "\"needTransformer\":false,\"eventTime\":\"2020-09-01T09:30:00\"}";
    if (!MAPPED (frac, &m))
        return;
    a = map_attr (&m.e, "capacity_kva");
    CHECK (a && a->type == ATTR_NUMBER && a->number == 12.5);
    codec_inbound_destroy (&m.in);
}

/*  Every connection class and the record that selects it.  */
static void
s_test_classes (void)
{
    struct {
        const char *level;  //  voltageLevel
        bool external;      //  needExternalWorks
        bool transformer;   //  needTransformer
        const char *supply; //  supplyMode, JSON text
        const char *want;   //  connection_class
    } cases[] = {
        {"LV", false, false, "null", "low_voltage"},
        {"LV", true, false, "null", "low_voltage_external"},
        {"LV", false, true, "null", "low_voltage_transformer"},
        {"LV", true, true, "null", "low_voltage_transformer"},
        {"LV", false, false, "\"DUAL\"", "low_voltage"}, //  supply mode is for HV
        {"HV", false, false, "null", "high_voltage_single"},
        {"HV", false, false, "\"SINGLE\"", "high_voltage_single"},
        {"HV", true, true, "\"SINGLE\"", "high_voltage_single"},
        {"HV", false, false, "\"DUAL\"", "high_voltage_dual"},
        {"HV", true, false, "\"DUAL\"", "high_voltage_dual"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[1024];
        s_accept_line (line, sizeof line, cases[i].level, cases[i].external,
                       cases[i].transformer, cases[i].supply);
        mapped_t m;
        if (!MAPPED (line, &m))
            continue;
        const event_attr_t *a = map_attr (&m.e, "connection_class");
        CHECK_MSG (a && a->type == ATTR_TEXT && STREQ (a->text, cases[i].want), line);
        a = map_attr (&m.e, "external_works");
        CHECK_MSG (a && a->flag == cases[i].external, line);
        codec_inbound_destroy (&m.in);
    }
}

/*  connection.completed and account.transferred.  */
static void
s_test_completed_and_transferred (void)
{
    const char *done =
        "{\"appNo\":\"PYGD-2020-0346\",\"busiType\":\"NEW_INSTALL\",\"step\":\"COMPLETE\","
        "\"eventTime\":\"2020-09-02T15:00:00\",\"recId\":\"R-1\"}";
    mapped_t m;
    if (MAPPED (done, &m)) {
        CHECK (STREQ (m.e.event_type, "connection.completed"));
        CHECK (STREQ (m.e.case_no, "PYGD-2020-0346"));
        CHECK_AT (m.e.occurred_at_ms, "2020-09-02 15:00");
        CHECK (m.e.n_keys == 1);
        CHECK (m.e.n_attrs == 0); //  class fields belong to the acceptance
        codec_inbound_destroy (&m.in);
    }
    const char *transfer =
        "{\"appNo\":\"PYGH-2020-0112\",\"busiType\":\"TRANSFER\",\"step\":\"DONE\","
        "\"unitNo\":\"640425001002GB00123F00010001\",\"custName\":\"马建国\","
        "\"eventTime\":\"2020-09-03T10:15:00\"}";
    if (MAPPED (transfer, &m)) {
        CHECK (STREQ (m.e.event_type, "account.transferred"));
        CHECK (STREQ (m.e.case_no, "PYGH-2020-0112"));
        CHECK_AT (m.e.occurred_at_ms, "2020-09-03 10:15");
        const event_key_t *k = map_key (&m.e, KEY_UNIT_NUMBER);
        CHECK (k && STREQ (k->value, s_unit));
        k = map_key (&m.e, KEY_APPLICATION_NO);
        CHECK (k && STREQ (k->value, "PYGH-2020-0112"));
        CHECK (m.e.n_attrs == 0);
        codec_inbound_destroy (&m.in);
    }
}

/*  Event ids: from recId when present, else from the record's bytes.  */
static void
s_test_ids (void)
{
    const char *a = "{\"appNo\":\"A1\",\"busiType\":\"NEW_INSTALL\",\"step\":\"COMPLETE\","
                    "\"eventTime\":\"2020-09-02T15:00:00\"}";
    const char *a_spaced = "{\"appNo\": \"A1\",\"busiType\":\"NEW_INSTALL\",\"step\":"
                           "\"COMPLETE\",\"eventTime\":\"2020-09-02T15:00:00\"}";
    const char *r1 = "{\"appNo\":\"A1\",\"busiType\":\"NEW_INSTALL\",\"step\":\"COMPLETE\","
                     "\"eventTime\":\"2020-09-02T15:00:00\",\"recId\":\"R-77\"}";
    const char *r1_other = "{\"recId\":\"R-77\",\"appNo\":\"A1\",\"busiType\":"
                           "\"NEW_INSTALL\",\"step\":\"COMPLETE\","
                           "\"eventTime\":\"2020-09-02T15:00:01\"}";
    const char *r2 = "{\"appNo\":\"A1\",\"busiType\":\"NEW_INSTALL\",\"step\":\"COMPLETE\","
                     "\"eventTime\":\"2020-09-02T15:00:00\",\"recId\":\"R-78\"}";
    char ia[37] = "", ia2[37] = "", isp[37] = "", i1[37] = "", i1o[37] = "", i2[37] = "";
    size_t len;
    char err[256];
    uint8_t *b[6];
    b[0] = s_map (a, ia, &len, err, sizeof err);
    b[1] = s_map (a, ia2, &len, err, sizeof err);
    b[2] = s_map (a_spaced, isp, &len, err, sizeof err);
    b[3] = s_map (r1, i1, &len, err, sizeof err);
    b[4] = s_map (r1_other, i1o, &len, err, sizeof err);
    b[5] = s_map (r2, i2, &len, err, sizeof err);
    for (int i = 0; i < 6; i++) {
        CHECK (b[i] != NULL);
        free (b[i]);
    }
    CHECK (ident_uuid_valid (ia) && ident_uuid_valid (i1));
    CHECK (ia[14] == '5' && i1[14] == '5'); //  name-based (SHA-1) UUIDs
    CHECK (strchr ("89ab", ia[19]) != NULL);
    CHECK (STREQ (ia, ia2));  //  same bytes, same id
    CHECK (!STREQ (ia, isp)); //  different bytes, different id
    CHECK (STREQ (i1, i1o));  //  same recId, same id whatever the bytes
    CHECK (!STREQ (i1, i2));  //  different recId, different id
    CHECK (!STREQ (ia, i1));

    //  The documented formulas: uuid5(ns, "power\n" + recId) and
    //  uuid5(ns, "power\n" + line), computed with Python's uuid module.
    CHECK_MSG (STREQ (i1, "aea552f8-0800-5c39-93fb-876c25125450"), i1);
    CHECK_MSG (STREQ (ia, "9b655f3c-1b0a-5f18-890f-771b0c5ecb16"), ia);

    //  Only line_len bytes count.
    char buffer[512];
    snprintf (buffer, sizeof buffer, "%sGARBAGE", a);
    char ib[37] = "";
    uint8_t *bb = map_encode (power_map, buffer, strlen (a), "power", "power-2",
                              s_accepted + 5, ib, &len, err, sizeof err);
    CHECK (bb != NULL && STREQ (ib, ia));
    free (bb);
}

/*  Every refusal names the field and its value.  */
static void
s_test_refusals (void)
{
    CHECK_BAD ("{\"appNo\":", "not JSON", NULL);
    CHECK_BAD ("[1,2]", "JSON object", NULL);
    CHECK_BAD ("{\"appNo\":\"A\",\"appNo\":\"B\"}", "not JSON", "duplicate");
    CHECK_BAD ("{\"busiType\":\"TRANSFER\",\"step\":\"DONE\"}", "\"appNo\" is missing",
               NULL);
    CHECK_BAD ("{\"appNo\":null,\"busiType\":\"TRANSFER\"}", "\"appNo\" is missing", NULL);
    CHECK_BAD ("{\"appNo\":346}", "\"appNo\" is 346", "non-empty string");
    CHECK_BAD ("{\"appNo\":\"\"}", "\"appNo\" is \"\"", NULL);
    CHECK_BAD ("{\"appNo\":\"A\",\"step\":\"DONE\"}", "\"busiType\" is missing", NULL);
    CHECK_BAD ("{\"appNo\":\"A\",\"busiType\":\"CANCEL\",\"step\":\"DONE\"}",
               "\"busiType\" is \"CANCEL\"", "NEW_INSTALL");
    CHECK_BAD ("{\"appNo\":\"A\",\"busiType\":\"TRANSFER\"}", "\"step\" is missing", NULL);
    CHECK_BAD ("{\"appNo\":\"A\",\"busiType\":\"TRANSFER\",\"step\":\"ACCEPT\"}",
               "\"step\" is \"ACCEPT\"", "\"DONE\" for busiType \"TRANSFER\"");
    CHECK_BAD ("{\"appNo\":\"A\",\"busiType\":\"NEW_INSTALL\",\"step\":\"DONE\"}",
               "\"step\" is \"DONE\"", "for busiType \"NEW_INSTALL\"");
    CHECK_BAD ("{\"appNo\":\"A\",\"busiType\":\"NEW_INSTALL\",\"step\":\"COMPLETE\"}",
               "\"eventTime\" is missing", NULL);
    CHECK_BAD ("{\"appNo\":\"A\",\"busiType\":\"NEW_INSTALL\",\"step\":\"COMPLETE\","
               "\"eventTime\":\"2020-09-01T09:30:00+08:00\"}",
               "\"eventTime\" is \"2020-09-01T09:30:00+08:00\"", "without an offset");
    CHECK_BAD ("{\"appNo\":\"A\",\"busiType\":\"NEW_INSTALL\",\"step\":\"COMPLETE\","
               "\"eventTime\":\"2020/09/01 09:30\"}",
               "\"eventTime\" is \"2020/09/01 09:30\"", NULL);
    CHECK_BAD ("{\"appNo\":\"A\",\"busiType\":\"NEW_INSTALL\",\"step\":\"COMPLETE\","
               "\"eventTime\":\"2020-13-01T09:30:00\"}",
               "\"eventTime\" is \"2020-13-01T09:30:00\"", NULL);
    CHECK_BAD ("{\"appNo\":\"A\",\"busiType\":\"NEW_INSTALL\",\"step\":\"COMPLETE\","
               "\"eventTime\":20200901}",
               "\"eventTime\" is 20200901", NULL);
    CHECK_BAD ("{\"appNo\":\"A\",\"busiType\":\"NEW_INSTALL\",\"step\":\"COMPLETE\","
               "\"eventTime\":\"2020-09-01T09:30:00\","
               "\"unitNo\":\"640425001002GB00123F0001000\"}",
               "\"unitNo\" is \"640425001002GB00123F0001000\"", "unit");
    CHECK_BAD ("{\"appNo\":\"A\",\"busiType\":\"NEW_INSTALL\",\"step\":\"COMPLETE\","
               "\"eventTime\":\"2020-09-01T09:30:00\","
               "\"unitNo\":\"640425001002GB00123K00010001\"}",
               "\"unitNo\" is \"640425001002GB00123K00010001\"", NULL);
    CHECK_BAD ("{\"appNo\":\"A\",\"busiType\":\"NEW_INSTALL\",\"step\":\"COMPLETE\","
               "\"eventTime\":\"2020-09-01T09:30:00\",\"unitNo\":\"\"}",
               "\"unitNo\" is \"\"", NULL);
    CHECK_BAD ("{\"appNo\":\"A\",\"busiType\":\"TRANSFER\",\"step\":\"DONE\","
               "\"eventTime\":\"2020-09-01T09:30:00\"}",
               "\"unitNo\" is missing", "TRANSFER");
    CHECK_BAD ("{\"appNo\":\"A\",\"busiType\":\"NEW_INSTALL\",\"step\":\"COMPLETE\","
               "\"eventTime\":\"2020-09-01T09:30:00\",\"recId\":17}",
               "\"recId\" is 17", NULL);

    //  The acceptance's own fields.
    const char *head = "{\"appNo\":\"A\",\"busiType\":\"NEW_INSTALL\",\"step\":\"ACCEPT\","
                       "\"eventTime\":\"2020-09-01T09:30:00\",";
    char line[512];
    snprintf (line, sizeof line, "%s\"voltageLevel\":\"LV\",\"needTransformer\":false}",
              head);
    CHECK_BAD (line, "\"needExternalWorks\" is missing", NULL);
    snprintf (line, sizeof line,
              "%s\"voltageLevel\":\"LV\",\"needExternalWorks\":\"N\","
              "\"needTransformer\":false}",
              head);
    CHECK_BAD (line, "\"needExternalWorks\" is \"N\"", "true or false");
    snprintf (line, sizeof line, "%s\"needExternalWorks\":false}", head);
    CHECK_BAD (line, "\"voltageLevel\" is missing", NULL);
    snprintf (line, sizeof line, "%s\"voltageLevel\":\"MV\",\"needExternalWorks\":false}",
              head);
    CHECK_BAD (line, "\"voltageLevel\" is \"MV\"", "\"LV\" or \"HV\"");
    snprintf (line, sizeof line, "%s\"voltageLevel\":\"LV\",\"needExternalWorks\":false}",
              head);
    CHECK_BAD (line, "\"needTransformer\" is missing", NULL);
    snprintf (line, sizeof line,
              "%s\"voltageLevel\":\"LV\",\"needExternalWorks\":false,"
              "\"needTransformer\":0}",
              head);
    CHECK_BAD (line, "\"needTransformer\" is 0", NULL);
    snprintf (line, sizeof line,
              "%s\"voltageLevel\":\"HV\",\"needExternalWorks\":false,"
              "\"supplyMode\":\"DOUBLE\"}",
              head);
    CHECK_BAD (line, "\"supplyMode\" is \"DOUBLE\"", "\"DUAL\"");
    snprintf (line, sizeof line,
              "%s\"voltageLevel\":\"HV\",\"needExternalWorks\":false,\"supplyMode\":2}",
              head);
    CHECK_BAD (line, "\"supplyMode\" is 2", NULL);
    snprintf (line, sizeof line,
              "%s\"voltageLevel\":\"HV\",\"needExternalWorks\":false,"
              "\"capacityKva\":\"30kVA\"}",
              head);
    CHECK_BAD (line, "\"capacityKva\" is \"30kVA\"", NULL);
    snprintf (line, sizeof line,
              "%s\"voltageLevel\":\"HV\",\"needExternalWorks\":false,\"capacityKva\":-5}",
              head);
    CHECK_BAD (line, "\"capacityKva\" is -5", NULL);
}

/*  What the adapter sends for fixed records, pinned: the event ids and the
    encoded bytes must stay the same whatever the code that builds them.  */
static void
s_test_pinned (void)
{
    char line[1024];
    s_accept_line (line, sizeof line, "LV", false, false, "null");
    CHECK_PINNED (s_map, line, "fd3eaf76-b68b-5c19-943e-46f91870bfd3", 232,
                  0x2d0849aac0d3ba1dULL);
    s_accept_line (line, sizeof line, "HV", true, false, "\"DUAL\"");
    CHECK_PINNED (s_map, line, "7356b913-7ad8-5cd5-83c8-be3735e84889", 238,
                  0xd16c98192b6f2c42ULL);
}

int
main (void)
{
    s_test_accepted ();
    s_test_classes ();
    s_test_completed_and_transferred ();
    s_test_ids ();
    s_test_refusals ();
    CHECK_UNKNOWN_IGNORED (s_map,
                           "{\"appNo\":\"PYGD-2020-4242\",\"busiType\":\"TRANSFER\","
                           "\"step\":\"DONE\",\"unitNo\":\"640425001002GB00123F00010001\","
                           "\"eventTime\":\"2020-09-29T15:00:00\"}");
    s_test_pinned ();
    return s_summary ();
}
