/*  test_map_water.c - unit tests for adapters/water/map.c

    A standalone program: every failing case is printed with its file and
    line, a summary closes the run, and the exit status is 1 when any case
    failed. A mapped record is checked the way the hub will see it: its
    bytes are wrapped in a batch with codec_batch_encode, read back with
    codec_inbound_decode, and the event must pass the hub's validation with
    the hub's default settings.
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

#define UNIT_NAME "test_map_water"
#include "unit.h"
#include "map_check.h"

static const int64_t s_accepted = 1598923870000; //  2020-09-01T01:31:10Z
static const int64_t s_hub_now = 1599004800000;  //  2020-09-02T00:00:00Z

#define UNIT "640425001002GB00123F00010001"

/*  The doc page's example records, one per mapping.  */
#define ACCEPTED                                                                                               \
    "{\"工单号\":\"PYSW-J-20200901-0655\",\"业务\":\"报装\",\"节点\":\"受理\","                     \
    "\"外线工程\":\"是\",\"特殊场所\":\"否\",\"用水地址\":\"彭阳县白阳镇南门街18号\"," \
    "\"不动产单元号\":\"" UNIT "\",\"户名\":\"马建国\",\"时间\":\"2020/09/01 09:30\","                  \
    "\"流水号\":\"SW202009010001\"}"
#define COMPLETED                                                                          \
    "{\"工单号\":\"PYSW-J-20200901-0655\",\"业务\":\"报装\",\"节点\":\"通水\"," \
    "\"用水地址\":\"彭阳县白阳镇南门街18号\",\"户名\":\"马建国\","      \
    "\"时间\":\"2020/09/01 16:05:42\"}"
#define TRANSFERRED                                                                        \
    "{\"工单号\":\"PYSW-G-20200901-0102\",\"业务\":\"过户\",\"节点\":\"完成\"," \
    "\"不动产单元号\":\"" UNIT "\",\"户名\":\"李秀兰\",\"时间\":\"2020/09/01 11:00\"}"

/*  Maps line as adapter "water-1" into id; returns the bytes.  */
static uint8_t *
s_map (const char *line, char id[37], size_t *len, char *err, size_t errlen)
{
    return map_encode (water_map, line, strlen (line), "water", "water-1", s_accepted, id,
                       len, err, errlen);
}

static codec_inbound_t *
s_decode (const uint8_t *bytes, size_t len, case_event_t *event)
{
    return map_decode (bytes, len, "water-1", "water", event);
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

/*  Maps line, decodes it into *e and checks the hub accepts it; returns the
    decoded message (NULL on failure, after counting a failed case).  */
static codec_inbound_t *
s_mapped (const char *line, case_event_t *e, char id[37], const char *file, int l)
{
    size_t len = 0;
    char err[256] = "";
    uint8_t *bytes = s_map (line, id, &len, err, sizeof err);
    s_check (bytes != NULL, "maps the record", err, file, l);
    if (!bytes)
        return NULL;
    codec_inbound_t *in = s_decode (bytes, len, e);
    free (bytes);
    s_check (in != NULL, "decodes as the hub would", NULL, file, l);
    if (!in)
        return NULL;
    hub_config_t config;
    char *argv[] = {"onenet-hub", NULL};
    verdict_t v = {0};
    bool ok = hub_config_load (&config, 1, argv) == 0
              && validate_event (&config, e, "water", s_hub_now, &v);
    s_check (ok, "the hub accepts the mapped event", v.reason, file, l);
    return in;
}

/*  报装 受理: connection.accepted with both flags, both keys.  */
static void
s_test_accepted (void)
{
    case_event_t e;
    char id[37] = "";
    codec_inbound_t *in = s_mapped (ACCEPTED, &e, id, __FILE__, __LINE__);
    if (!in)
        return;
    CHECK (e.schema_version == ONENET_SCHEMA_VERSION);
    CHECK (STREQ (e.event_id, id));
    CHECK (STREQ (e.agency, "water"));
    CHECK (STREQ (e.adapter_id, "water-1"));
    CHECK (STREQ (e.case_no, "PYSW-J-20200901-0655"));
    CHECK (STREQ (e.event_type, "connection.accepted"));
    CHECK_AT (e.occurred_at_ms, "2020-09-01 09:30:00");
    CHECK (e.accepted_at_ms == s_accepted);
    CHECK (e.n_keys == 2);
    const event_key_t *k = map_key (&e, KEY_APPLICATION_NO);
    CHECK (k && STREQ (k->value, "PYSW-J-20200901-0655"));
    k = map_key (&e, KEY_UNIT_NUMBER);
    CHECK (k && STREQ (k->value, UNIT));
    //  Only the two flags travel: no name, no address.
    CHECK (e.n_attrs == 2);
    const event_attr_t *a = map_attr (&e, "external_works");
    CHECK (a && a->type == ATTR_FLAG && a->flag == true);
    a = map_attr (&e, "special_case");
    CHECK (a && a->type == ATTR_FLAG && a->flag == false);
    codec_inbound_destroy (&in);

    //  否 / 是 the other way round; no unit number (a new plot): one key.
    const char *other = "{\"工单号\":\"PYSW-J-20200902-0007\",\"业务\":\"报装\","
                        "\"节点\":\"受理\",\"外线工程\":\"否\",\"特殊场所\":\"是\","
                        "\"不动产单元号\":\"\",\"时间\":\"2020/09/01 08:00\"}";
    in = s_mapped (other, &e, id, __FILE__, __LINE__);
    if (!in)
        return;
    CHECK (e.n_keys == 1 && e.keys[0].kind == KEY_APPLICATION_NO);
    a = map_attr (&e, "external_works");
    CHECK (a && a->type == ATTR_FLAG && a->flag == false);
    a = map_attr (&e, "special_case");
    CHECK (a && a->type == ATTR_FLAG && a->flag == true);
    codec_inbound_destroy (&in);
}

/*  报装 通水: connection.completed; seconds in 时间.  */
static void
s_test_completed (void)
{
    case_event_t e;
    char id[37] = "";
    codec_inbound_t *in = s_mapped (COMPLETED, &e, id, __FILE__, __LINE__);
    if (!in)
        return;
    CHECK (STREQ (e.event_type, "connection.completed"));
    CHECK (STREQ (e.case_no, "PYSW-J-20200901-0655"));
    CHECK_AT (e.occurred_at_ms, "2020-09-01 16:05:42");
    CHECK (e.n_keys == 1);
    const event_key_t *k = map_key (&e, KEY_APPLICATION_NO);
    CHECK (k && STREQ (k->value, "PYSW-J-20200901-0655"));
    CHECK (e.n_attrs == 0);
    codec_inbound_destroy (&in);

    //  Flags given on 通水 are checked and kept.
    const char *flags = "{\"工单号\":\"A1\",\"业务\":\"报装\",\"节点\":\"通水\","
                        "\"外线工程\":\"是\",\"时间\":\"2020/09/01 10:00\"}";
    in = s_mapped (flags, &e, id, __FILE__, __LINE__);
    if (!in)
        return;
    const event_attr_t *a = map_attr (&e, "external_works");
    CHECK (e.n_attrs == 1 && a && a->type == ATTR_FLAG && a->flag);
    codec_inbound_destroy (&in);
}

/*  过户 完成: account.transferred with the unit number.  */
static void
s_test_transferred (void)
{
    case_event_t e;
    char id[37] = "";
    codec_inbound_t *in = s_mapped (TRANSFERRED, &e, id, __FILE__, __LINE__);
    if (!in)
        return;
    CHECK (STREQ (e.event_type, "account.transferred"));
    CHECK (STREQ (e.case_no, "PYSW-G-20200901-0102"));
    CHECK_AT (e.occurred_at_ms, "2020-09-01 11:00");
    CHECK (e.n_keys == 2);
    const event_key_t *k = map_key (&e, KEY_UNIT_NUMBER);
    CHECK (k && STREQ (k->value, UNIT));
    k = map_key (&e, KEY_APPLICATION_NO);
    CHECK (k && STREQ (k->value, "PYSW-G-20200901-0102"));
    CHECK (e.n_attrs == 0);
    codec_inbound_destroy (&in);
}

/*  Ids: by 流水号 when present, else by the record's bytes.  */
static void
s_test_derived_id (void)
{
    char id1[37] = "", id2[37] = "", id3[37] = "", id4[37] = "", id5[37] = "";
    size_t len;
    char err[256];
    //  Without 流水号: the same bytes give the same id, other bytes another.
    uint8_t *b1 = s_map (COMPLETED, id1, &len, err, sizeof err);
    uint8_t *b2 = s_map (COMPLETED, id2, &len, err, sizeof err);
    uint8_t *b3 = s_map (TRANSFERRED, id3, &len, err, sizeof err);
    CHECK (b1 && b2 && b3);
    CHECK (ident_uuid_valid (id1));
    CHECK (id1[14] == '5');                   //  a name-based (SHA-1) UUID
    CHECK (strchr ("89ab", id1[19]) != NULL); //  RFC 4122 variant
    for (int i = 0; i < 36; i++)
        if (id1[i] >= 'A' && id1[i] <= 'F')
            CHECK (!"derived id is lower case");
    CHECK (STREQ (id1, id2));
    CHECK (!STREQ (id1, id3));
    //  Only the given bytes count.
    char buffer[1024];
    snprintf (buffer, sizeof buffer, "%sGARBAGE", COMPLETED);
    uint8_t *b4 = map_encode (water_map, buffer, strlen (COMPLETED), "water", "water-2",
                              s_accepted + 9, id4, &len, err, sizeof err);
    CHECK (b4 && STREQ (id4, id1));
    //  Another agency name (never the case in production) changes the id.
    uint8_t *b5 = map_encode (water_map, COMPLETED, strlen (COMPLETED), "gas", "water-1",
                              s_accepted, id5, &len, err, sizeof err);
    CHECK (b5 && !STREQ (id5, id1));
    free (b1);
    free (b2);
    free (b3);
    free (b4);
    free (b5);

    //  With 流水号: a re-export with a corrected field keeps the id.
    const char *serial_a = "{\"工单号\":\"A1\",\"业务\":\"报装\",\"节点\":\"受理\","
                           "\"外线工程\":\"否\",\"特殊场所\":\"否\","
                           "\"时间\":\"2020/09/01 09:30\",\"流水号\":\"SW-1\"}";
    const char *serial_b = "{\"流水号\":\"SW-1\",\"工单号\":\"A1\",\"业务\":\"报装\","
                           "\"节点\":\"受理\",\"外线工程\":\"是\",\"特殊场所\":\"否\","
                           "\"时间\":\"2020/09/01 09:31\",\"户名\":\"马建国\"}";
    const char *serial_c = "{\"工单号\":\"A1\",\"业务\":\"报装\",\"节点\":\"受理\","
                           "\"外线工程\":\"否\",\"特殊场所\":\"否\","
                           "\"时间\":\"2020/09/01 09:30\",\"流水号\":\"SW-2\"}";
    //  The same 流水号 on another step is another event.
    const char *serial_d = "{\"工单号\":\"A1\",\"业务\":\"报装\",\"节点\":\"通水\","
                           "\"时间\":\"2020/09/01 09:30\",\"流水号\":\"SW-1\"}";
    //  An empty 流水号 is no 流水号: the id comes from the bytes.
    const char *serial_e = "{\"工单号\":\"A1\",\"业务\":\"报装\",\"节点\":\"通水\","
                           "\"时间\":\"2020/09/01 09:30\",\"流水号\":\"\"}";
    char ia[37] = "", ib[37] = "", ic[37] = "", idd[37] = "", ie[37] = "", ie2[37] = "";
    size_t len_a = 0;
    uint8_t *ba = s_map (serial_a, ia, &len_a, err, sizeof err);
    uint8_t *bb = s_map (serial_b, ib, &len, err, sizeof err);
    uint8_t *bc = s_map (serial_c, ic, &len, err, sizeof err);
    uint8_t *bd = s_map (serial_d, idd, &len, err, sizeof err);
    uint8_t *be = s_map (serial_e, ie, &len, err, sizeof err);
    CHECK (ba && bb && bc && bd && be);
    CHECK (STREQ (ia, ib));
    CHECK (!STREQ (ia, ic));
    CHECK (!STREQ (ia, idd));
    CHECK (ident_uuid_valid (ie) && !STREQ (ie, idd));
    //  ... and a byte-different record with an empty 流水号 gets another id.
    const char *serial_e2 = "{\"工单号\":\"A1\",\"业务\":\"报装\",\"节点\":\"通水\","
                            "\"时间\":\"2020/09/01 09:30\",\"流水号\":\"\" }";
    uint8_t *be2 = s_map (serial_e2, ie2, &len, err, sizeof err);
    CHECK (be2 && !STREQ (ie, ie2));
    //  The id is inside the event.
    case_event_t e;
    codec_inbound_t *in = ba ? s_decode (ba, len_a, &e) : NULL;
    CHECK (in && STREQ (e.event_id, ia));
    codec_inbound_destroy (&in);
    free (ba);
    free (bb);
    free (bc);
    free (bd);
    free (be);
    free (be2);
}

/*  Every refusal names the field and, where there is one, its value.  */
static void
s_test_errors (void)
{
    //  Not a JSON object.
    CHECK_BAD ("{", "not JSON", NULL);
    CHECK_BAD ("", "not JSON", NULL);
    CHECK_BAD ("[1]", "JSON object", NULL);
    CHECK_BAD ("{\"工单号\":\"A1\",\"工单号\":\"A2\",\"业务\":\"报装\",\"节点\":\"通水\","
               "\"时间\":\"2020/09/01 09:30\"}",
               "not JSON", "工单号");

    //  Missing, empty or not a string.
    CHECK_BAD ("{\"业务\":\"报装\",\"节点\":\"通水\",\"时间\":\"2020/09/01 09:30\"}",
               "\"工单号\"", "missing");
    CHECK_BAD ("{\"工单号\":\"\",\"业务\":\"报装\",\"节点\":\"通水\","
               "\"时间\":\"2020/09/01 09:30\"}",
               "\"工单号\"", "empty");
    CHECK_BAD ("{\"工单号\":655,\"业务\":\"报装\",\"节点\":\"通水\","
               "\"时间\":\"2020/09/01 09:30\"}",
               "\"工单号\" is a number", NULL);
    CHECK_BAD ("{\"工单号\":\"A1\",\"节点\":\"通水\",\"时间\":\"2020/09/01 09:30\"}",
               "\"业务\"", "missing");
    CHECK_BAD ("{\"工单号\":\"A1\",\"业务\":\"报装\",\"时间\":\"2020/09/01 09:30\"}",
               "\"节点\"", "missing");
    CHECK_BAD ("{\"工单号\":\"A1\",\"业务\":\"报装\",\"节点\":\"通水\"}", "\"时间\"",
               "missing");
    CHECK_BAD ("{\"工单号\":\"A1\",\"业务\":\"报装\",\"节点\":\"通水\","
               "\"时间\":\"2020/09/01 09:30\",\"流水号\":7}",
               "\"流水号\" is a number", NULL);
    CHECK_BAD ("{\"工单号\":\"A1\",\"业务\":\"报装\",\"节点\":\"通水\","
               "\"时间\":\"2020/09/01 09:30\",\"户名\":null}",
               "\"户名\" is null", NULL);
    CHECK_BAD ("{\"工单号\":\"A1\",\"业务\":\"报装\",\"节点\":\"受理\","
               "\"特殊场所\":\"否\",\"时间\":\"2020/09/01 09:30\"}",
               "\"外线工程\" is missing", "报装 受理 needs");
    CHECK_BAD ("{\"工单号\":\"A1\",\"业务\":\"报装\",\"节点\":\"受理\",\"外线工程\":\"是\","
               "\"特殊场所\":\"\",\"时间\":\"2020/09/01 09:30\"}",
               "\"特殊场所\" is empty", NULL);
    CHECK_BAD ("{\"工单号\":\"A1\",\"业务\":\"报装\",\"节点\":\"受理\",\"外线工程\":true,"
               "\"特殊场所\":\"否\",\"时间\":\"2020/09/01 09:30\"}",
               "\"外线工程\" is a boolean", NULL);

    //  Flags other than 是 / 否.
    CHECK_BAD ("{\"工单号\":\"A1\",\"业务\":\"报装\",\"节点\":\"受理\",\"外线工程\":\"有\","
               "\"特殊场所\":\"否\",\"时间\":\"2020/09/01 09:30\"}",
               "\"外线工程\" is \"有\"", "是 or 否");
    CHECK_BAD ("{\"工单号\":\"A1\",\"业务\":\"报装\",\"节点\":\"受理\",\"外线工程\":\"是\","
               "\"特殊场所\":\"Y\",\"时间\":\"2020/09/01 09:30\"}",
               "\"特殊场所\" is \"Y\"", "是 or 否");

    //  Unknown 业务 or 节点.
    CHECK_BAD ("{\"工单号\":\"A1\",\"业务\":\"维修\",\"节点\":\"受理\","
               "\"时间\":\"2020/09/01 09:30\"}",
               "\"业务\" is \"维修\"", "报装 or 过户");
    CHECK_BAD ("{\"工单号\":\"A1\",\"业务\":\"报装\",\"节点\":\"完成\","
               "\"时间\":\"2020/09/01 09:30\"}",
               "\"节点\" is \"完成\"", "受理 or 通水");
    CHECK_BAD (
        "{\"工单号\":\"A1\",\"业务\":\"过户\",\"节点\":\"受理\",\"不动产单元号\":\"" UNIT
        "\",\"时间\":\"2020/09/01 09:30\"}",
        "\"节点\" is \"受理\"", "完成 for 业务 过户");

    //  Unit numbers.
    CHECK_BAD ("{\"工单号\":\"A1\",\"业务\":\"过户\",\"节点\":\"完成\","
               "\"不动产单元号\":\"640425001002XB00123F00010001\","
               "\"时间\":\"2020/09/01 09:30\"}",
               "\"不动产单元号\" is \"640425001002XB00123F00010001\"", "position 13");
    CHECK_BAD ("{\"工单号\":\"A1\",\"业务\":\"报装\",\"节点\":\"通水\","
               "\"不动产单元号\":\"6404250010\",\"时间\":\"2020/09/01 09:30\"}",
               "\"不动产单元号\" is \"6404250010\"", NULL);
    CHECK_BAD ("{\"工单号\":\"A1\",\"业务\":\"过户\",\"节点\":\"完成\","
               "\"时间\":\"2020/09/01 09:30\"}",
               "\"不动产单元号\" is missing", "过户");
    CHECK_BAD (
        "{\"工单号\":\"A1\",\"业务\":\"过户\",\"节点\":\"完成\",\"不动产单元号\":\"\","
        "\"时间\":\"2020/09/01 09:30\"}",
        "\"不动产单元号\" is empty", NULL);

    //  Times.
    static const char *const bad_times[] = {
        "2020-09-01 09:30",      "2020/9/1 9:30",       "2020/09/01T09:30",
        "2020/09/01 09:30+08",   "2020/09/01",          "2020/09/01 9:30",
        "2021/02/29 09:30",      "2020/13/01 09:30",    "2020/09/01 24:00",
        "2020/09/01 09:60",      "2020/09/01 09:30:61", "2020/09/01 09:30:0",
        "2020/09/01 09:30:00.5",
    };
    for (size_t i = 0; i < sizeof bad_times / sizeof bad_times[0]; i++) {
        char line[256], want[64];
        snprintf (line, sizeof line,
                  "{\"工单号\":\"A1\",\"业务\":\"报装\",\"节点\":\"通水\",\"时间\":\"%s\"}",
                  bad_times[i]);
        snprintf (want, sizeof want, "\"时间\" is \"%s\"", bad_times[i]);
        CHECK_BAD (line, want, "YYYY/MM/DD HH:MM");
    }
    CHECK_BAD (
        "{\"工单号\":\"A1\",\"业务\":\"报装\",\"节点\":\"通水\",\"时间\":1598923800}",
        "\"时间\" is a number", NULL);

    //  The error buffer is always a terminated string, even a tiny one.
    char id[37];
    size_t len;
    char tiny[8];
    memset (tiny, 'x', sizeof tiny);
    const char *bad = "{\"工单号\":\"A1\"}";
    uint8_t *bytes = map_encode (water_map, bad, strlen (bad), "water", "water-1",
                                 s_accepted, id, &len, tiny, 8);
    CHECK (bytes == NULL);
    CHECK (memchr (tiny, '\0', sizeof tiny) != NULL);
    char one[1] = {'x'};
    bytes = map_encode (water_map, bad, strlen (bad), "water", "water-1", s_accepted, id,
                        &len, one, 1);
    CHECK (bytes == NULL && one[0] == '\0');
}

/*  What the adapter sends for fixed records, pinned: the event ids and the
    encoded bytes must stay the same whatever the code that builds them.
    The last is a row of the agency's outbox table (row 17 of
    onenet_outbox), whose id comes from where it was read.  */
static void
s_test_pinned (void)
{
    CHECK_PINNED (s_map, ACCEPTED, "d6ab234d-2158-5c88-9f14-31810952330c", 211,
                  0x71bf4b19976161a8ULL);
    CHECK_PINNED (s_map, COMPLETED, "246b072a-0964-53bd-b180-2c70deedfa34", 140,
                  0x48ce79949003e962ULL);
    CHECK_PINNED (s_map, TRANSFERRED, "592e4d2c-cb0a-5025-a829-c9233919b82b", 173,
                  0x1af13ff4ebc77d0cULL);
    char row_id[37], err[256] = "";
    size_t row_len = 0;
    const char *from[2] = {"onenet_outbox", "17"};
    uint8_t *row =
        mapped_event_encode (water_map, ACCEPTED, strlen (ACCEPTED), "water", "water-1",
                             s_accepted, from, 2, row_id, &row_len, err, sizeof err);
    s_check_pinned_bytes (row, row_len, row_id, "8c2b11fc-fbc9-5303-8d88-8eca85358ba1", 211,
                          0xd87f8a3bdf7c8a03ULL, __FILE__, __LINE__);
    free (row);
}

/*  Runs every group, prints the summary; exit status 1 on any failure.  */
int
main (void)
{
    s_test_accepted ();
    s_test_completed ();
    s_test_transferred ();
    s_test_derived_id ();
    s_test_errors ();
    CHECK_UNKNOWN_IGNORED (s_map, ACCEPTED);
    s_test_pinned ();
    return s_summary ();
}
