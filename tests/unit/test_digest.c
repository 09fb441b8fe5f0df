/*  test_digest: the canonical event encoding and the hash chain link
    (common/digest.c): stable across key order, whitespace, escapes, number
    and time spellings that PostgreSQL stores as the same value; different
    for any change of content. */
#define UNIT_NAME "test_digest"
#include "unit.h"

#include "digest.h"

static digest_event_t
s_event (void)
{
    digest_event_t e = {
        .event_id = "0f8fad5b-d9cb-469f-a165-70867728950e",
        .agency = "land",
        .adapter_id = "land-1",
        .case_no = "LR-2026-0001",
        .event_type = "transfer_registered",
        .occurred_at = "2026-03-01 08:00:00.123+00",
        .accepted_at = NULL,
        .received_at = "2026-03-01 08:00:01+00",
        .schema_version = "1",
        .keys = "{\"unit_number\":\"U-1\",\"credit_code\":\"91350100M000100Y43\"}",
        .attrs = "{\"area\":87.5,\"buyer_name\":\"马建军\",\"price\":1250000,\"new\":true}",
        .hub_id = "hub-a",
    };
    return e;
}

static void
s_digest (const digest_event_t *e, uint8_t out[DIGEST_LEN])
{
    strbuf_t scratch;
    strbuf_init (&scratch);
    char err[256] = "";
    int rc = digest_event (e, &scratch, out, err, sizeof err);
    CHECK_MSG (rc == 0, err);
    strbuf_free (&scratch);
}

static bool
s_same (const digest_event_t *a, const digest_event_t *b)
{
    uint8_t x[DIGEST_LEN], y[DIGEST_LEN];
    s_digest (a, x);
    s_digest (b, y);
    return memcmp (x, y, DIGEST_LEN) == 0;
}

static void
s_test_stable_spellings (void)
{
    digest_event_t a = s_event (), b = s_event ();
    /* member order, whitespace, escapes and upper-case ids are spelling only */
    b.event_id = "0F8FAD5B-D9CB-469F-A165-70867728950E";
    b.keys =
        " { \"credit_code\" : \"91350100M000100Y43\",\n\"unit_number\":\"\\u0055-1\" } ";
    b.attrs =
        "{\"new\":true,\"price\":1.25e6,\"buyer_name\":\"\\u9a6c建军\",\"area\":875e-1}";
    b.occurred_at = "2026-03-01T16:00:00.123000+08:00";
    b.received_at = "2026-03-01T08:00:01Z";
    b.schema_version = "01";
    CHECK (s_same (&a, &b));
    /* a repeated name: the last one counts, as in jsonb */
    b = s_event ();
    b.attrs = "{\"area\":1,\"buyer_name\":\"马建军\",\"price\":1250000,\"new\":true,"
              "\"area\":87.5}";
    CHECK (s_same (&a, &b));
}

static void
s_test_changes_differ (void)
{
    digest_event_t a = s_event (), b;
    b = s_event ();
    b.case_no = "LR-2026-0002";
    CHECK (!s_same (&a, &b));
    b = s_event ();
    b.attrs = "{\"area\":87.50,\"buyer_name\":\"马建军\",\"price\":1250000,\"new\":true}";
    CHECK (!s_same (&a, &b)); /* numeric keeps the scale: 87.50 is stored as written */
    b = s_event ();
    b.attrs =
        "{\"area\":\"87.5\",\"buyer_name\":\"马建军\",\"price\":1250000,\"new\":true}";
    CHECK (!s_same (&a, &b)); /* a string is not a number */
    b = s_event ();
    b.accepted_at = "2026-03-01 08:00:00.123+00";
    CHECK (!s_same (&a, &b)); /* NULL differs from any time */
    b = s_event ();
    b.occurred_at = "2026-03-01 08:00:00.124+00";
    CHECK (!s_same (&a, &b));
    b = s_event ();
    b.agency = "lan";
    b.adapter_id = "dland-1";
    CHECK (!s_same (&a, &b)); /* length prefixes: moving a byte between fields shows */
    b = s_event ();
    b.hub_id = "hub-b";
    CHECK (!s_same (&a, &b));
}

static void
s_test_encoding_bytes (void)
{
    /* the first field is the length-prefixed version tag */
    digest_event_t e = s_event ();
    strbuf_t out;
    strbuf_init (&out);
    char err[256] = "";
    CHECK (digest_encode_event (&e, &out, err, sizeof err) == 0);
    CHECK (out.len > 19 && memcmp (out.data, "\0\0\0\x0fonenet-event-v1", 19) == 0);
    /* an object: 'o', member count, then members sorted by name */
    strbuf_reset (&out);
    e.keys = "{\"b\":\"2\",\"a\":\"1\"}";
    CHECK (digest_encode_event (&e, &out, err, sizeof err) == 0);
    static const char keys[] = "o\0\0\0\x02"
                               "\0\0\0\x01"
                               "as\0\0\0\x01"
                               "1"
                               "\0\0\0\x01"
                               "bs\0\0\0\x01"
                               "2";
    bool found = false;
    for (size_t i = 0; i + sizeof keys - 1 <= out.len && !found; i++)
        found = memcmp (out.data + i, keys, sizeof keys - 1) == 0;
    CHECK (found);
    strbuf_free (&out);
}

static void
s_test_numbers (void)
{
    /* numbers are encoded as PostgreSQL's numeric prints them */
    struct {
        const char *in, *out;
    } cases[] = {
        {"1e+20", "100000000000000000000"},
        {"1.5e-07", "0.00000015"},
        {"-0.0", "0.0"},
        {"-0", "0"},
        {"1.50", "1.50"},
        {"1.50e1", "15.0"},
        {"0.10000000000000001", "0.10000000000000001"},
        {"-12.5E+1", "-125"},
        {"123", "123"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char a[64], b[64];
        snprintf (a, sizeof a, "{\"x\":%s}", cases[i].in);
        snprintf (b, sizeof b, "{\"x\":%s}", cases[i].out);
        digest_event_t x = s_event (), y = s_event ();
        x.attrs = a;
        y.attrs = b;
        CHECK_MSG (s_same (&x, &y), cases[i].in);
    }
}

static void
s_test_times (void)
{
    char out[40];
    CHECK (digest_canonical_time ("2026-03-01 08:00:00.123+00", out, sizeof out));
    CHECK (STREQ (out, "2026-03-01T08:00:00.123000Z"));
    CHECK (digest_canonical_time ("2026-01-01 05:30:00-05:30", out, sizeof out));
    CHECK (STREQ (out, "2026-01-01T11:00:00.000000Z"));
    CHECK (digest_canonical_time ("2026-01-01 01:00:00+08", out, sizeof out));
    CHECK (STREQ (out, "2025-12-31T17:00:00.000000Z"));
    CHECK (digest_canonical_time ("2024-02-29T23:59:59.999999Z", out, sizeof out));
    CHECK (STREQ (out, "2024-02-29T23:59:59.999999Z"));
    CHECK (!digest_canonical_time ("2026-03-01 08:00:00", out, sizeof out)); /* no zone */
    CHECK (!digest_canonical_time ("2026-03-01 08:00:00.1234567+00", out, sizeof out));
    CHECK (!digest_canonical_time ("yesterday", out, sizeof out));
}

static void
s_test_errors_name_the_column (void)
{
    uint8_t d[DIGEST_LEN];
    strbuf_t scratch;
    strbuf_init (&scratch);
    char err[256] = "";
    digest_event_t e = s_event ();
    e.attrs = "{\"a\":1,}";
    CHECK (digest_event (&e, &scratch, d, err, sizeof err) < 0);
    CHECK_MSG (strncmp (err, "attrs: ", 7) == 0 && strstr (err, "byte 7"), err);
    e = s_event ();
    e.keys = "{\"a\":\"\\ud800\"}";
    CHECK (digest_event (&e, &scratch, d, err, sizeof err) < 0);
    CHECK_MSG (strncmp (err, "keys: ", 6) == 0, err);
    e = s_event ();
    e.occurred_at = "soon";
    CHECK (digest_event (&e, &scratch, d, err, sizeof err) < 0);
    CHECK_MSG (strstr (err, "occurred_at") && strstr (err, "soon"), err);
    e = s_event ();
    e.event_id = "not-a-uuid";
    CHECK (digest_event (&e, &scratch, d, err, sizeof err) < 0);
    CHECK_MSG (strstr (err, "event_id"), err);
    strbuf_free (&scratch);
}

static void
s_test_link (void)
{
    uint8_t zero[DIGEST_LEN] = {0}, content[DIGEST_LEN], a[DIGEST_LEN], b[DIGEST_LEN];
    digest_event_t e = s_event ();
    s_digest (&e, content);
    digest_link ("hub-a", 1, zero, content, a);
    digest_link ("hub-a", 2, zero, content, b);
    CHECK (memcmp (a, b, DIGEST_LEN) != 0);
    digest_link ("hub-b", 1, zero, content, b);
    CHECK (memcmp (a, b, DIGEST_LEN) != 0);
    digest_link ("hub-a", 1, content, content, b);
    CHECK (memcmp (a, b, DIGEST_LEN) != 0);
    char hex[2 * DIGEST_LEN + 1];
    digest_hex (a, hex);
    CHECK (digest_from_hex (hex, b) && memcmp (a, b, DIGEST_LEN) == 0);
    char bytea[2 * DIGEST_LEN + 3] = "\\x";
    strcat (bytea, hex);
    CHECK (digest_from_hex (bytea, b) && memcmp (a, b, DIGEST_LEN) == 0);
    CHECK (!digest_from_hex ("abc", b));
    /* pinned against an independent computation of the specification in
       docs/schema.md: sha256(lp("onenet-chain-v1") lp("c") lp("1")
       lp(32 zero bytes) lp(32 zero bytes)), lp = 4-byte big-endian length */
    digest_link ("c", 1, zero, zero, a);
    digest_hex (a, hex);
    CHECK (STREQ (hex, "a95eb82316c76733b338399eb526fd5d580daadbfbda220ec072966e2aa46907"));
}

/*  A pinned vector: an event with every kind of JSON value, an escaped
    name, numbers PostgreSQL re-spells and a NULL accepted_at, given in
    non-canonical spellings (upper-case id, a Beijing-time timestamp, member
    order, \u escapes, exponents). The expected digests were computed by an
    encoder written from docs/schema.md alone (Python, hashlib), not by this
    code: a change to the canonical encoding, which would break every stored
    chain, fails here.  */
static void
s_test_pinned_vector (void)
{
    digest_event_t e = {
        .event_id = "0F8FAD5B-D9CB-469F-A165-70867728950E",
        .agency = "land",
        .adapter_id = "land-01",
        .case_no = "彭不动产受〔2020〕第000585号",
        .event_type = "transfer.accepted",
        .occurred_at = "2020-09-01 09:31:07.25+08",
        .accepted_at = NULL,
        .received_at = "2020-09-01T01:31:08.000001Z",
        .schema_version = "1",
        .keys = "{\"unit_number\": \"640425001002GB00123F00010001\", "
                "\"credit_code\": \"91640425MA76H1234U\"}",
        .attrs = "{\"zero\": -0.0, \"big\": 1e+20, \"tiny\": 1.5e-07, \"area_m2\": 96.50, "
                 "\"deed_tax_yuan\": 12000.5, \"quote\": \"a\\\"b\\\\c\\n\", "
                 "\"buyer_name\": \"\\u9a6c建军\", \"has_mortgage\": true, \"note\": null, "
                 "\"list\": [1, \"two\", false, {\"z\": null, \"a\": []}], \"empty\": {}}",
        .hub_id = "hub-a",
    };
    strbuf_t out;
    strbuf_init (&out);
    char err[256] = "";
    CHECK_MSG (digest_encode_event (&e, &out, err, sizeof err) == 0, err);
    CHECK_MSG (out.len == 575, "canonical encoding length");
    strbuf_free (&out);
    uint8_t content[DIGEST_LEN], prev[DIGEST_LEN], row[DIGEST_LEN];
    char hex[2 * DIGEST_LEN + 1];
    s_digest (&e, content);
    digest_hex (content, hex);
    CHECK_MSG (
        STREQ (hex, "ba1ebc61ad46baece9b6cda2d05bbaaf34c2c1ec35efde0f5c54c70f5fbca49d"),
        hex);
    for (int i = 0; i < DIGEST_LEN; i++)
        prev[i] = (uint8_t) i;
    digest_link ("hub-a", 2, prev, content, row);
    digest_hex (row, hex);
    CHECK_MSG (
        STREQ (hex, "2aee1963b2a5838e49ed30d4ad24d3432c39526c8f47736d8722b4a7eac5c047"),
        hex);
}

int
main (void)
{
    s_test_stable_spellings ();
    s_test_changes_differ ();
    s_test_encoding_bytes ();
    s_test_numbers ();
    s_test_times ();
    s_test_errors_name_the_column ();
    s_test_link ();
    s_test_pinned_vector ();
    return s_summary ();
}
