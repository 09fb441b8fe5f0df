/*  test_map_tax.c - unit tests for adapters/tax/map.c

    A standalone program: every failing case is printed with its file and
    line, a summary closes the run, and the exit status is 1 when any case
    failed. Each of the bureau's businesses (YWLX + YWZT) is mapped from a
    record and checked the way the hub will see it: the bytes are wrapped in
    a batch, decoded with codec_inbound_decode, and must pass the hub's
    validation with its default settings. Then the derived ids, and every
    reason a record is refused.
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

#define UNIT_NAME "test_map_tax"
#include "unit.h"
#include "map_check.h"

static const int64_t s_accepted = 1598923870000; //  2020-09-01T01:31:10Z
static const int64_t s_hub_now = 1599004800000;  //  2020-09-02T00:00:00Z

#define CREDIT "91640425MA76H1234U"
#define UNIT   "640425001002GB00123F00010001"

/*  Maps line for agency "tax", adapter "tax-1"; returns the bytes.  */
static uint8_t *
s_map (const char *line, char id[37], size_t *len, char *err, size_t errlen)
{
    return map_encode (tax_map, line, strlen (line), "tax", "tax-1", s_accepted, id, len,
                       err, errlen);
}

static codec_inbound_t *
s_decode (const uint8_t *bytes, size_t len, case_event_t *event)
{
    return map_decode (bytes, len, "tax-1", "tax", event);
}

/*  One mapped record: its bytes, decoded event and id.  */
typedef struct {
    uint8_t *bytes;      //  the serialized CaseEvent
    codec_inbound_t *in; //  owns what event points into
    case_event_t event;  //  the event as the hub sees it
    char id[37];         //  the event id tax_map wrote
} mapped_t;

/*  Maps and decodes line into m; returns false (after counting a failed
    case) when it was refused or does not decode.  */
static bool
s_mapped (const char *line, mapped_t *m, const char *file, int l)
{
    memset (m, 0, sizeof *m);
    size_t len = 0;
    char err[256] = "";
    m->bytes = s_map (line, m->id, &len, err, sizeof err);
    s_check (m->bytes != NULL, "maps the record", err, file, l);
    if (!m->bytes)
        return false;
    m->in = s_decode (m->bytes, len, &m->event);
    s_check (m->in != NULL, "the event decodes", NULL, file, l);
    return m->in != NULL;
}

static void
s_mapped_free (mapped_t *m)
{
    codec_inbound_destroy (&m->in);
    free (m->bytes);
    m->bytes = NULL;
}

static hub_config_t s_hub; //  the hub's default settings

/*  Checks the common parts of a mapped event and that the hub accepts it.  */
static void
s_check_common (const mapped_t *m, const char *event_type, const char *file, int l)
{
    const case_event_t *e = &m->event;
    char what[128];
    snprintf (what, sizeof what, "event type is %s", event_type);
    s_check (STREQ (e->event_type, event_type), what, e->event_type, file, l);
    s_check (e->schema_version == ONENET_SCHEMA_VERSION, "schema version", NULL, file, l);
    s_check (STREQ (e->event_id, m->id), "event id as written", NULL, file, l);
    s_check (ident_uuid_valid (e->event_id), "event id is a UUID", NULL, file, l);
    s_check (STREQ (e->agency, "tax") && STREQ (e->adapter_id, "tax-1"), "agency, adapter",
             NULL, file, l);
    s_check (STREQ (e->case_no, "PYSW2020090100123"), "case_no is WSH", e->case_no, file,
             l);
    s_check (e->accepted_at_ms == s_accepted, "accepted_at", NULL, file, l);
    verdict_t v;
    bool ok = validate_event (&s_hub, e, "tax", s_hub_now, &v);
    s_check (ok, "the hub accepts the event", v.reason, file, l);
}

#define MAPPED(line, m)       s_mapped ((line), (m), __FILE__, __LINE__)
#define CHECK_COMMON(m, type) s_check_common ((m), (type), __FILE__, __LINE__)

/*  QS: deed tax assessed and paid, keyed by the unit number.  */
static void
s_test_deed_tax (void)
{
    mapped_t m;
    //  The bureau's own example, in full, with nulls for unused fields.
    const char *full = "{\"SWJG_DM\":\"16404250000\",\"WSH\":\"PYSW2020090100123\","
                       "\"YWLX\":\"QS\",\"YWZT\":\"HD\",\"NSRSBH\":\"" CREDIT "\","
                       "\"BDCDYH\":\"" UNIT "\",\"FSSJ\":\"20200901093000\","
                       "\"JE\":12000.50,\"XYDJ\":null,\"TKH\":null,\"UKEY\":null,"
                       "\"WQS\":null,\"JLH\":\"SW-JL-000123\"}";
    if (MAPPED (full, &m)) {
        const case_event_t *e = &m.event;
        CHECK_COMMON (&m, "deed_tax.assessed");
        CHECK_AT (e->occurred_at_ms, "2020-09-01 09:30:00");
        CHECK (e->n_keys == 2);
        const event_key_t *k = map_key (e, KEY_UNIT_NUMBER);
        CHECK (k && STREQ (k->value, UNIT));
        k = map_key (e, KEY_CREDIT_CODE);
        CHECK (k && STREQ (k->value, CREDIT));
        CHECK (e->n_attrs == 2);
        const event_attr_t *a = map_attr (e, "deed_tax_yuan");
        CHECK (a && a->type == ATTR_NUMBER && a->number == 12000.5);
        a = map_attr (e, "tax_office");
        CHECK (a && a->type == ATTR_TEXT && STREQ (a->text, "16404250000"));
    }
    s_mapped_free (&m);

    //  A whole amount is still a number (one type per attribute).
    const char *whole = "{\"WSH\":\"PYSW2020090100123\",\"YWLX\":\"QS\",\"YWZT\":\"HD\","
                        "\"BDCDYH\":\"" UNIT "\",\"FSSJ\":\"20200831235959\",\"JE\":12000}";
    if (MAPPED (whole, &m)) {
        CHECK_COMMON (&m, "deed_tax.assessed");
        CHECK_AT (m.event.occurred_at_ms, "2020-08-31 23:59:59");
        CHECK (m.event.n_keys == 1);
        const event_attr_t *a = map_attr (&m.event, "deed_tax_yuan");
        CHECK (a && a->type == ATTR_NUMBER && a->number == 12000.0);
        CHECK (m.event.n_attrs == 1);
    }
    s_mapped_free (&m);

    //  Paid: JE optional; "" counts as absent.
    const char *paid = "{\"WSH\":\"PYSW2020090100123\",\"YWLX\":\"QS\",\"YWZT\":\"JS\","
                       "\"BDCDYH\":\"" UNIT "\",\"FSSJ\":\"20200901093000\","
                       "\"NSRSBH\":\"\",\"SWJG_DM\":\"\"}";
    if (MAPPED (paid, &m)) {
        CHECK_COMMON (&m, "deed_tax.paid");
        CHECK (m.event.n_keys == 1);
        CHECK (map_key (&m.event, KEY_UNIT_NUMBER) != NULL);
        CHECK (m.event.n_attrs == 0);
    }
    s_mapped_free (&m);
    const char *paid_je = "{\"WSH\":\"PYSW2020090100123\",\"YWLX\":\"QS\",\"YWZT\":\"JS\","
                          "\"BDCDYH\":\"" UNIT "\",\"FSSJ\":\"20200901093000\",\"JE\":0}";
    if (MAPPED (paid_je, &m)) {
        const event_attr_t *a = map_attr (&m.event, "deed_tax_yuan");
        CHECK (a && a->type == ATTR_NUMBER && a->number == 0.0);
    }
    s_mapped_free (&m);
}

/*  FP, ZX, XY: keyed by the credit code, with their flag or grade.  */
static void
s_test_credit_code_events (void)
{
    mapped_t m;
    static const struct {
        const char *ywlx, *ywzt, *field, *value; //  the record
        const char *event_type, *attr;           //  the event
        attr_type_t type;                        //  the attribute's type
        bool flag;                               //  ATTR_FLAG's value
    } rows[] = {
        {"FP", "KJ", "UKEY", "Y", "invoice.issued", "ukey_issued", ATTR_FLAG, true},
        {"FP", "KJ", "UKEY", "N", "invoice.issued", "ukey_issued", ATTR_FLAG, false},
        {"ZX", "QJ", "WQS", "Y", "deregistration.cleared", "no_arrears", ATTR_FLAG, true},
        {"ZX", "QJ", "WQS", "N", "deregistration.cleared", "no_arrears", ATTR_FLAG, false},
        {"XY", "GX", "XYDJ", "A", "credit_grade.shared", "grade", ATTR_TEXT, false},
        {"XY", "GX", "XYDJ", "B", "credit_grade.shared", "grade", ATTR_TEXT, false},
        {"XY", "GX", "XYDJ", "M", "credit_grade.shared", "grade", ATTR_TEXT, false},
        {"XY", "GX", "XYDJ", "C", "credit_grade.shared", "grade", ATTR_TEXT, false},
        {"XY", "GX", "XYDJ", "D", "credit_grade.shared", "grade", ATTR_TEXT, false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char line[512];
        snprintf (line, sizeof line,
                  "{\"WSH\":\"PYSW2020090100123\",\"YWLX\":\"%s\",\"YWZT\":\"%s\","
                  "\"NSRSBH\":\"" CREDIT "\",\"FSSJ\":\"20200901093000\",\"%s\":\"%s\","
                  "\"JE\":null,\"JLH\":\"row-%zu\"}",
                  rows[i].ywlx, rows[i].ywzt, rows[i].field, rows[i].value, i);
        if (MAPPED (line, &m)) {
            const case_event_t *e = &m.event;
            CHECK_COMMON (&m, rows[i].event_type);
            CHECK (e->n_keys == 1);
            const event_key_t *k = map_key (e, KEY_CREDIT_CODE);
            CHECK (k && STREQ (k->value, CREDIT));
            CHECK (e->n_attrs == 1);
            const event_attr_t *a = map_attr (e, rows[i].attr);
            CHECK_MSG (a && a->type == rows[i].type, line);
            if (a && rows[i].type == ATTR_FLAG)
                CHECK_MSG (a->flag == rows[i].flag, line);
            if (a && rows[i].type == ATTR_TEXT)
                CHECK_MSG (STREQ (a->text, rows[i].value), line);
        }
        s_mapped_free (&m);
    }
}

/*  TK: refund approved, keyed by the refund number.  */
static void
s_test_refund (void)
{
    mapped_t m;
    const char *line = "{\"WSH\":\"PYSW2020090100123\",\"YWLX\":\"TK\",\"YWZT\":\"SP\","
                       "\"NSRSBH\":\"" CREDIT "\",\"TKH\":\"TK-2020-0001\","
                       "\"FSSJ\":\"20200229160000\",\"JE\":3520.75}";
    if (MAPPED (line, &m)) {
        const case_event_t *e = &m.event;
        CHECK_COMMON (&m, "refund.approved");
        CHECK_AT (e->occurred_at_ms, "2020-02-29 16:00:00");
        CHECK (e->n_keys == 2);
        const event_key_t *k = map_key (e, KEY_REFUND_NO);
        CHECK (k && STREQ (k->value, "TK-2020-0001"));
        CHECK (map_key (e, KEY_CREDIT_CODE) != NULL);
        CHECK (e->n_attrs == 1);
        //  refund_yuan, as the generic format and the bank's refund.received name it
        const event_attr_t *a = map_attr (e, "refund_yuan");
        CHECK (a && a->type == ATTR_NUMBER && a->number == 3520.75);
        CHECK (map_attr (e, "amount_yuan") == NULL);
    }
    s_mapped_free (&m);
}

/*  Ids: from JLH when given (whatever the formatting), else from the
    bytes; the values are those of docs/adapters/tax.md's Python line.  */
static void
s_test_derived_ids (void)
{
    char id1[37] = "", id2[37] = "";
    size_t len;
    char err[256];
    const char *a = "{\"WSH\":\"PYSW2020090100123\",\"YWLX\":\"QS\",\"YWZT\":\"JS\","
                    "\"BDCDYH\":\"" UNIT "\",\"FSSJ\":\"20200901093000\","
                    "\"JLH\":\"SW-JL-000123\"}";
    const char *b = "{ \"JLH\": \"SW-JL-000123\", \"FSSJ\": \"20200901093000\","
                    " \"BDCDYH\": \"" UNIT "\", \"YWZT\": \"JS\", \"YWLX\": \"QS\","
                    " \"WSH\": \"PYSW2020090100123\" }";
    uint8_t *x = s_map (a, id1, &len, err, sizeof err);
    uint8_t *y = s_map (b, id2, &len, err, sizeof err);
    CHECK (x && y);
    CHECK (STREQ (id1, "0afe0001-9a3d-5648-aa83-d22aac2c0397"));
    CHECK (STREQ (id1, id2));
    free (x);
    free (y);

    //  Without JLH: the agency and the bytes.
    const char *c = "{\"WSH\":\"PYSW2020090100123\",\"YWLX\":\"QS\",\"YWZT\":\"JS\","
                    "\"BDCDYH\":\"" UNIT "\",\"FSSJ\":\"20200901093000\"}";
    const char *d = "{\"WSH\":\"PYSW2020090100123\",\"YWLX\":\"QS\",\"YWZT\":\"JS\","
                    "\"BDCDYH\":\"" UNIT "\",\"FSSJ\":\"20200901093001\"}";
    x = s_map (c, id1, &len, err, sizeof err);
    y = s_map (c, id2, &len, err, sizeof err);
    CHECK (x && y);
    CHECK (STREQ (id1, "004fae23-9be3-5ebf-bcfc-a5a91bab26b4"));
    CHECK (STREQ (id1, id2));
    free (y);
    y = s_map (d, id2, &len, err, sizeof err);
    CHECK (y && !STREQ (id1, id2));
    free (x);
    free (y);

    //  JLH null or "" is absent: the id comes from the bytes.
    const char *e = "{\"WSH\":\"PYSW2020090100123\",\"YWLX\":\"QS\",\"YWZT\":\"JS\","
                    "\"BDCDYH\":\"" UNIT "\",\"FSSJ\":\"20200901093000\",\"JLH\":null}";
    x = s_map (e, id1, &len, err, sizeof err);
    CHECK (x && !STREQ (id1, "0afe0001-9a3d-5648-aa83-d22aac2c0397"));
    free (x);
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

/*  A deed-tax record with one field replaced: "%s" is where it goes.  */
#define QS(rest)                                                                           \
    "{\"WSH\":\"PYSW2020090100123\",\"YWLX\":\"QS\",\"YWZT\":\"HD\","                      \
    "\"BDCDYH\":\"" UNIT "\",\"FSSJ\":\"20200901093000\",\"JE\":1.5" rest "}"

static void
s_test_refusals (void)
{
    //  Not a record at all.
    CHECK_BAD ("{\"WSH\":", "not JSON", NULL);
    CHECK_BAD ("[1,2]", "must be a JSON object", NULL);
    CHECK_BAD (QS (",\"JE\":2"), "not JSON", "duplicate");

    //  Missing, null, empty or mistyped required fields.
    CHECK_BAD ("{\"YWLX\":\"QS\",\"YWZT\":\"HD\",\"BDCDYH\":\"" UNIT "\","
               "\"FSSJ\":\"20200901093000\",\"JE\":1.5}",
               "field \"WSH\" is missing", NULL);
    CHECK_BAD ("{\"WSH\":null,\"YWLX\":\"QS\",\"YWZT\":\"HD\"}", "field \"WSH\" is null",
               NULL);
    CHECK_BAD ("{\"WSH\":\"\",\"YWLX\":\"QS\",\"YWZT\":\"HD\"}", "field \"WSH\" is empty",
               NULL);
    CHECK_BAD ("{\"WSH\":123,\"YWLX\":\"QS\",\"YWZT\":\"HD\"}",
               "field \"WSH\" is 123, expected a string", NULL);
    CHECK_BAD ("{\"WSH\":\"w\",\"YWZT\":\"HD\"}", "field \"YWLX\" is missing", NULL);
    CHECK_BAD ("{\"WSH\":\"w\",\"YWLX\":\"QS\"}", "field \"YWZT\" is missing", NULL);
    CHECK_BAD ("{\"WSH\":\"w\",\"YWLX\":\"QS\",\"YWZT\":\"HD\",\"BDCDYH\":\"" UNIT "\","
               "\"JE\":1.5}",
               "field \"FSSJ\" is missing", NULL);

    //  Unknown business type, unknown pair.
    CHECK_BAD ("{\"WSH\":\"w\",\"YWLX\":\"GS\",\"YWZT\":\"HD\"}",
               "field \"YWLX\" is \"GS\", not a known business type", NULL);
    CHECK_BAD ("{\"WSH\":\"w\",\"YWLX\":\"qs\",\"YWZT\":\"HD\"}",
               "field \"YWLX\" is \"qs\"", NULL);
    CHECK_BAD ("{\"WSH\":\"w\",\"YWLX\":\"QS\",\"YWZT\":\"KJ\"}",
               "field \"YWZT\" is \"KJ\", not a known state for YWLX \"QS\"",
               "(expected HD, JS)");
    CHECK_BAD ("{\"WSH\":\"w\",\"YWLX\":\"TK\",\"YWZT\":\"ZZ\"}",
               "field \"YWZT\" is \"ZZ\"", "(expected SP)");

    //  FSSJ: not 14 digits, not a real time, not local Beijing text.
    static const char *bad_times[] = {
        "2020-09-01 09:30:00", "202009010930",    "2020090109300a", "20200230093000",
        "20210229093000",      "20200901243000",  "20200901096000", "20201301093000",
        "20200901093000Z",     " 20200901093000",
    };
    for (size_t i = 0; i < sizeof bad_times / sizeof bad_times[0]; i++) {
        char line[512];
        snprintf (line, sizeof line,
                  "{\"WSH\":\"w\",\"YWLX\":\"QS\",\"YWZT\":\"HD\",\"BDCDYH\":\"" UNIT "\","
                  "\"FSSJ\":\"%s\",\"JE\":1.5}",
                  bad_times[i]);
        char want[64];
        snprintf (want, sizeof want, "field \"FSSJ\" is \"%s\"", bad_times[i]);
        CHECK_BAD (line, want, "expected Beijing time YYYYMMDDHHMMSS");
    }
    CHECK_BAD ("{\"WSH\":\"w\",\"YWLX\":\"QS\",\"YWZT\":\"HD\",\"FSSJ\":20200901093000}",
               "field \"FSSJ\" is 20200901093000, expected a string", NULL);

    //  Credit code and unit number checked by their standards, when present.
    CHECK_BAD (QS (",\"NSRSBH\":\"91640425MA76H1234A\""), "field \"NSRSBH\"",
               "\"91640425MA76H1234A\": check character is 'A', expected 'U'");
    CHECK_BAD (QS (",\"NSRSBH\":\"91640425ma76h1234u\""), "field \"NSRSBH\"", "lower case");
    CHECK_BAD (QS (",\"NSRSBH\":\"640425199001011234\""), "field \"NSRSBH\"",
               "640425199001011234");
    CHECK_BAD ("{\"WSH\":\"w\",\"YWLX\":\"QS\",\"YWZT\":\"HD\","
               "\"BDCDYH\":\"640425001002GB00123F0001000\",\"FSSJ\":\"20200901093000\","
               "\"JE\":1.5}",
               "field \"BDCDYH\"", "640425001002GB00123F0001000");
    CHECK_BAD ("{\"WSH\":\"w\",\"YWLX\":\"FP\",\"YWZT\":\"KJ\",\"NSRSBH\":\"" CREDIT "\","
               "\"BDCDYH\":\"640425001002GK00123F00010001\",\"FSSJ\":\"20200901093000\","
               "\"UKEY\":\"Y\"}",
               "field \"BDCDYH\"", "640425001002GK00123F00010001");

    //  The key each business needs.
    CHECK_BAD ("{\"WSH\":\"w\",\"YWLX\":\"QS\",\"YWZT\":\"JS\","
               "\"FSSJ\":\"20200901093000\"}",
               "field \"BDCDYH\" is missing, required for deed_tax.paid", NULL);
    CHECK_BAD ("{\"WSH\":\"w\",\"YWLX\":\"FP\",\"YWZT\":\"KJ\",\"NSRSBH\":null,"
               "\"FSSJ\":\"20200901093000\",\"UKEY\":\"Y\"}",
               "field \"NSRSBH\" is null, required for invoice.issued", NULL);
    CHECK_BAD ("{\"WSH\":\"w\",\"YWLX\":\"TK\",\"YWZT\":\"SP\",\"NSRSBH\":\"" CREDIT "\","
               "\"FSSJ\":\"20200901093000\",\"JE\":1.5}",
               "field \"TKH\" is missing, required for refund.approved", NULL);

    //  The attribute each business needs, and its values.
    CHECK_BAD ("{\"WSH\":\"w\",\"YWLX\":\"QS\",\"YWZT\":\"HD\",\"BDCDYH\":\"" UNIT "\","
               "\"FSSJ\":\"20200901093000\"}",
               "field \"JE\" is missing, required for deed_tax.assessed", NULL);
    CHECK_BAD ("{\"WSH\":\"w\",\"YWLX\":\"TK\",\"YWZT\":\"SP\",\"TKH\":\"T1\","
               "\"FSSJ\":\"20200901093000\",\"JE\":null}",
               "field \"JE\" is null, required for refund.approved", NULL);
    CHECK_BAD ("{\"WSH\":\"w\",\"YWLX\":\"QS\",\"YWZT\":\"HD\",\"BDCDYH\":\"" UNIT "\","
               "\"FSSJ\":\"20200901093000\",\"JE\":\"12000.50\"}",
               "field \"JE\" is \"12000.50\", expected a JSON number", NULL);
    CHECK_BAD ("{\"WSH\":\"w\",\"YWLX\":\"QS\",\"YWZT\":\"HD\",\"BDCDYH\":\"" UNIT "\","
               "\"FSSJ\":\"20200901093000\",\"JE\":-0.5}",
               "field \"JE\" is -0.5, expected an amount of 0 or more", NULL);
    static const struct {
        const char *ywlx, *ywzt, *field, *value, *want; //  record and reason
    } bad_values[] = {
        {"FP", "KJ", "UKEY", "\"是\"", "field \"UKEY\" is \"是\", expected \"Y\" or \"N\""},
        {"FP", "KJ", "UKEY", "\"y\"", "field \"UKEY\" is \"y\", expected \"Y\" or \"N\""},
        {"FP", "KJ", "UKEY", "true", "field \"UKEY\" is true, expected a string"},
        {"FP", "KJ", "UKEY", "null", "field \"UKEY\" is null, required for invoice.issued"},
        {"ZX", "QJ", "WQS", "\"YES\"", "field \"WQS\" is \"YES\", expected \"Y\" or \"N\""},
        {"ZX", "QJ", "WQS", "\"\"", "field \"WQS\" is empty, required for deregistration"},
        {"XY", "GX", "XYDJ", "\"E\"", "field \"XYDJ\" is \"E\", expected a credit grade"},
        {"XY", "GX", "XYDJ", "\"AA\"", "field \"XYDJ\" is \"AA\", expected a credit grade"},
        {"XY", "GX", "XYDJ", "\"a\"", "field \"XYDJ\" is \"a\", expected a credit grade"},
        {"XY", "GX", "XYDJ", "null", "field \"XYDJ\" is null, required for credit_grade"},
    };
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        char line[512];
        snprintf (line, sizeof line,
                  "{\"WSH\":\"w\",\"YWLX\":\"%s\",\"YWZT\":\"%s\",\"NSRSBH\":\"" CREDIT
                  "\","
                  "\"FSSJ\":\"20200901093000\",\"%s\":%s}",
                  bad_values[i].ywlx, bad_values[i].ywzt, bad_values[i].field,
                  bad_values[i].value);
        CHECK_BAD (line, bad_values[i].want, NULL);
    }

    //  Optional fields, when given, must be strings too.
    CHECK_BAD (QS (",\"SWJG_DM\":16404250000"), "field \"SWJG_DM\" is 16404250000", NULL);
    CHECK_BAD (QS (",\"JLH\":123"), "field \"JLH\" is 123, expected a string", NULL);
    CHECK_BAD (QS (",\"TKH\":[1]"), "field \"TKH\" is [1], expected a string", NULL);

    //  A reason never overruns a small buffer.
    char id[37];
    size_t len;
    char tiny[8];
    memset (tiny, 'x', sizeof tiny);
    const char *bad = "{\"WSH\":\"w\"}";
    uint8_t *bytes = map_encode (tax_map, bad, strlen (bad), "tax", "tax-1", s_accepted, id,
                                 &len, tiny, sizeof tiny);
    CHECK (bytes == NULL);
    CHECK (memchr (tiny, '\0', sizeof tiny) != NULL);
    free (bytes);
}

/*  What the adapter sends for fixed records, pinned: the event ids and the
    encoded bytes must stay the same whatever the code that builds them.  */
static void
s_test_pinned (void)
{
    CHECK_PINNED (s_map,
                  "{\"SWJG_DM\":\"16404250000\",\"WSH\":\"PYSW2020090100123\","
                  "\"YWLX\":\"QS\",\"YWZT\":\"JS\",\"NSRSBH\":\"" CREDIT "\","
                  "\"BDCDYH\":\"" UNIT "\",\"FSSJ\":\"20200901093000\",\"JE\":12000.50,"
                  "\"XYDJ\":null,\"TKH\":null,\"UKEY\":null,\"WQS\":null,"
                  "\"JLH\":\"SW-JL-000123\"}",
                  "0afe0001-9a3d-5648-aa83-d22aac2c0397", 211, 0xafe3b59525a2aaaaULL);
    CHECK_PINNED (s_map, QS (""), "9beafc09-ce9d-5e0c-af64-1e8975090a1f", 164,
                  0x1d5625f66b855ffeULL);
}

/*  Runs every group, prints the summary; exit status 1 on any failure.  */
int
main (void)
{
    char *argv[] = {"onenet-hub", NULL};
    if (hub_config_load (&s_hub, 1, argv) != 0) {
        fprintf (stderr, "%s: the hub's default settings do not load\n", UNIT_NAME);
        return 2;
    }
    CHECK (ident_credit_code_valid (CREDIT, NULL, 0));
    CHECK (ident_unit_number_valid (UNIT, NULL, 0));
    s_test_deed_tax ();
    s_test_credit_code_events ();
    s_test_refund ();
    s_test_derived_ids ();
    s_test_refusals ();
    CHECK_UNKNOWN_IGNORED (
        s_map,
        "{\"WSH\":\"PYSW2020092804242\",\"YWLX\":\"QS\",\"YWZT\":\"JS\",\"BDCDYH\":\"" UNIT
        "\",\"FSSJ\":\"20200928110000\",\"JE\":11670.0}");
    s_test_pinned ();
    return s_summary ();
}
