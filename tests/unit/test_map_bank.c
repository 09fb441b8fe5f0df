/*  test_map_bank.c - unit tests for adapters/bank/map.c

    Each txnType of the banks' common record format is mapped and checked
    the way the hub will see it: the bytes are wrapped in a batch, decoded
    with codec_inbound_decode and must pass the hub's validation with its
    default settings. Then the derived event ids, then every refusal, each
    of which must name the field and the value the bank sent.
*/

#include "map.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "codec.h"
#include "hub_config.h"
#include "ident.h"
#include "validate.h"

#define UNIT_NAME "test_map_bank"
#include "unit.h"
#include "map_check.h"

static const int64_t s_accepted = 1598923870000; //  2020-09-01T01:31:10Z
static const int64_t s_hub_now = 1599004800000;  //  2020-09-02T00:00:00Z

/*  A valid credit code (made in main) and a valid unit number.  */
static char s_credit[19];
static const char *s_unit = "640425001002GB00123F00010001";

static hub_config_t s_config; //  the hub's default settings

/*  The example record of docs/adapters/bank.md with a valid credit code,
    changed by patch (a JSON object whose members replace the record's)
    and without the fields named in drop (space-separated). Returns the
    line, malloc'd.  */
static char *
s_record (const char *patch, const char *drop)
{
    json_t *rec = json_pack (
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:n, s:n, s:n, s:s, s:s}", "bankCode", "ICBC",
        "branch", "彭阳支行", "txnType", "ACCT_OPEN", "txnRef", "ICBC-PY-20200901-000924",
        "acctKind", "BASIC", "creditCode", s_credit, "unitNo", "refundNo", "loanAmount",
        "approved", "txnTime", "2020-09-01 09:31:21", "seq", "000924");
    if (patch) {
        json_error_t jerr;
        json_t *p = json_loads (patch, 0, &jerr);
        if (!p) {
            fprintf (stderr, "%s: bad patch in the test: %s\n", UNIT_NAME, patch);
            exit (2);
        }
        json_object_update (rec, p);
        json_decref (p);
    }
    if (drop) {
        char names[256];
        snprintf (names, sizeof names, "%s", drop);
        for (char *n = strtok (names, " "); n; n = strtok (NULL, " "))
            json_object_del (rec, n);
    }
    char *line = json_dumps (rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref (rec);
    return line;
}

static uint8_t *
s_map (const char *line, char id[37], size_t *len, char *err, size_t errlen)
{
    return map_encode (bank_map, line, strlen (line), "bank", "bank-1", s_accepted, id, len,
                       err, errlen);
}

static codec_inbound_t *
s_decode (const uint8_t *bytes, size_t len, case_event_t *event)
{
    return map_decode (bytes, len, "bank-1", "bank", event);
}

/*  Maps the example record changed by patch/drop; on success decodes it
    into e, checks the hub accepts it and returns the decoded message
    (caller destroys); on failure counts a failed case.  */
#define MAP_OK(patch, drop, e) s_map_ok ((patch), (drop), (e), __FILE__, __LINE__)

static codec_inbound_t *
s_map_ok (const char *patch, const char *drop, case_event_t *e, const char *file, int l)
{
    char *line = s_record (patch, drop);
    char id[37] = "";
    size_t len = 0;
    char err[320] = "";
    uint8_t *bytes = s_map (line, id, &len, err, sizeof err);
    char what[600];
    snprintf (what, sizeof what, "maps %.500s", line);
    s_check (bytes != NULL, what, err, file, l);
    codec_inbound_t *in = bytes ? s_decode (bytes, len, e) : NULL;
    if (bytes) {
        s_check (in != NULL, "the event decodes", NULL, file, l);
        if (in) {
            verdict_t v;
            s_check (validate_event (&s_config, e, "bank", s_hub_now, &v),
                     "the hub accepts the event", v.reason, file, l);
            s_check (STREQ (e->event_id, id), "the event carries the id", NULL, file, l);
            s_check (STREQ (e->agency, "bank") && STREQ (e->adapter_id, "bank-1")
                         && e->accepted_at_ms == s_accepted,
                     "agency, adapter and acceptance time", NULL, file, l);
        }
    }
    free (bytes);
    free (line);
    return in;
}

/*  Checks that the example record changed by patch/drop is refused with a
    reason containing want and want2 (when not NULL).  */
#define CHECK_BAD(patch, want, want2)                                                      \
    s_check_bad ((patch), NULL, (want), (want2), __FILE__, __LINE__)
#define CHECK_BAD_DROP(patch, drop, want, want2)                                           \
    s_check_bad ((patch), (drop), (want), (want2), __FILE__, __LINE__)

static void
s_check_bad (const char *patch, const char *drop, const char *want, const char *want2,
             const char *file, int l)
{
    char *line = s_record (patch, drop);
    s_check_refused (s_map, line, want, want2, file, l);
    free (line);
}

/*  ACCT_OPEN and ACCT_CLOSE: account.opened / account.closed, keyed by the
    credit code, with the account kind.  */
static void
s_test_accounts (void)
{
    case_event_t e;
    codec_inbound_t *in = MAP_OK (NULL, NULL, &e);
    if (in) {
        CHECK (STREQ (e.event_type, "account.opened"));
        CHECK (STREQ (e.case_no, "ICBC-PY-20200901-000924"));
        CHECK_AT (e.occurred_at_ms, "2020-09-01 09:31:21");
        CHECK (e.schema_version == ONENET_SCHEMA_VERSION);
        CHECK (e.n_keys == 1);
        const event_key_t *k = map_key (&e, KEY_CREDIT_CODE);
        CHECK (k && STREQ (k->value, s_credit));
        CHECK (e.n_attrs == 3);
        const event_attr_t *a = map_attr (&e, "account_kind");
        CHECK (a && a->type == ATTR_TEXT && STREQ (a->text, "basic"));
        a = map_attr (&e, "bank_code");
        CHECK (a && a->type == ATTR_TEXT && STREQ (a->text, "ICBC"));
        a = map_attr (&e, "branch");
        CHECK (a && a->type == ATTR_TEXT && STREQ (a->text, "彭阳支行"));
        codec_inbound_destroy (&in);
    }
    in = MAP_OK ("{\"acctKind\":\"GENERAL\"}", NULL, &e);
    if (in) {
        const event_attr_t *a = map_attr (&e, "account_kind");
        CHECK (a && STREQ (a->text, "general"));
        codec_inbound_destroy (&in);
    }
    in = MAP_OK ("{\"txnType\":\"ACCT_CLOSE\",\"acctKind\":\"GENERAL\"}", NULL, &e);
    if (in) {
        CHECK (STREQ (e.event_type, "account.closed"));
        const event_attr_t *a = map_attr (&e, "account_kind");
        CHECK (a && STREQ (a->text, "general"));
        CHECK (map_key (&e, KEY_CREDIT_CODE) != NULL);
        codec_inbound_destroy (&in);
    }
    //  A closure may leave out the account kind; absent and null are alike.
    in = MAP_OK ("{\"txnType\":\"ACCT_CLOSE\",\"acctKind\":null}", NULL, &e);
    if (in) {
        CHECK (map_attr (&e, "account_kind") == NULL && e.n_attrs == 2);
        codec_inbound_destroy (&in);
    }
    in = MAP_OK ("{\"txnType\":\"ACCT_CLOSE\"}",
                 "acctKind unitNo refundNo loanAmount "
                 "approved seq",
                 &e);
    if (in) {
        CHECK (STREQ (e.event_type, "account.closed") && e.n_attrs == 2);
        codec_inbound_destroy (&in);
    }
}

/*  MORTGAGE_FILE: mortgage.filed, keyed by the unit number, with the
    amount.  */
static void
s_test_mortgage (void)
{
    char patch[256];
    snprintf (patch, sizeof patch,
              "{\"txnType\":\"MORTGAGE_FILE\",\"unitNo\":\"%s\",\"acctKind\":null,"
              "\"creditCode\":null,\"loanAmount\":350000.5}",
              s_unit);
    case_event_t e;
    codec_inbound_t *in = MAP_OK (patch, NULL, &e);
    if (in) {
        CHECK (STREQ (e.event_type, "mortgage.filed"));
        CHECK (e.n_keys == 1);
        const event_key_t *k = map_key (&e, KEY_UNIT_NUMBER);
        CHECK (k && STREQ (k->value, s_unit));
        const event_attr_t *a = map_attr (&e, "loan_yuan");
        CHECK (a && a->type == ATTR_NUMBER && a->number == 350000.5);
        CHECK (map_attr (&e, "bank_code") && map_attr (&e, "branch"));
        codec_inbound_destroy (&in);
    }
    //  A whole amount is still a number, not an integer: one type per attr.
    snprintf (patch, sizeof patch,
              "{\"txnType\":\"MORTGAGE_FILE\",\"unitNo\":\"%s\",\"acctKind\":null,"
              "\"loanAmount\":420000}",
              s_unit);
    in = MAP_OK (patch, NULL, &e);
    if (in) {
        const event_attr_t *a = map_attr (&e, "loan_yuan");
        CHECK (a && a->type == ATTR_NUMBER && a->number == 420000.0);
        //  the mortgagor's credit code travels as a second key
        const event_key_t *k = map_key (&e, KEY_CREDIT_CODE);
        CHECK (e.n_keys == 2 && k && STREQ (k->value, s_credit));
        codec_inbound_destroy (&in);
    }
    //  The amount is optional for a filing.
    snprintf (patch, sizeof patch,
              "{\"txnType\":\"MORTGAGE_FILE\",\"unitNo\":\"%s\",\"acctKind\":null}",
              s_unit);
    in = MAP_OK (patch, NULL, &e);
    if (in) {
        CHECK (map_attr (&e, "loan_yuan") == NULL);
        codec_inbound_destroy (&in);
    }
}

/*  LOAN_APPLY and LOAN_DECIDE: loan.applied with the amount, loan.decided
    with the decision as a flag.  */
static void
s_test_loans (void)
{
    case_event_t e;
    codec_inbound_t *in = MAP_OK (
        "{\"txnType\":\"LOAN_APPLY\",\"acctKind\":null,\"loanAmount\":500000}", NULL, &e);
    if (in) {
        CHECK (STREQ (e.event_type, "loan.applied"));
        const event_key_t *k = map_key (&e, KEY_CREDIT_CODE);
        CHECK (e.n_keys == 1 && k && STREQ (k->value, s_credit));
        const event_attr_t *a = map_attr (&e, "loan_yuan");
        CHECK (a && a->type == ATTR_NUMBER && a->number == 500000.0);
        CHECK (e.n_attrs == 3);
        codec_inbound_destroy (&in);
    }
    in = MAP_OK ("{\"txnType\":\"LOAN_DECIDE\",\"acctKind\":null,\"approved\":true}", NULL,
                 &e);
    if (in) {
        CHECK (STREQ (e.event_type, "loan.decided"));
        const event_attr_t *a = map_attr (&e, "approved");
        CHECK (a && a->type == ATTR_FLAG && a->flag == true);
        CHECK (map_key (&e, KEY_CREDIT_CODE) != NULL);
        codec_inbound_destroy (&in);
    }
    in = MAP_OK ("{\"txnType\":\"LOAN_DECIDE\",\"acctKind\":null,\"approved\":false}", NULL,
                 &e);
    if (in) {
        const event_attr_t *a = map_attr (&e, "approved");
        CHECK (a && a->type == ATTR_FLAG && a->flag == false);
        codec_inbound_destroy (&in);
    }
}

/*  REFUND_RECV: refund.received, keyed by the refund number.  */
static void
s_test_refund (void)
{
    case_event_t e;
    codec_inbound_t *in = MAP_OK ("{\"txnType\":\"REFUND_RECV\",\"acctKind\":null,"
                                  "\"refundNo\":\"TK-2020-0001\",\"creditCode\":null}",
                                  NULL, &e);
    if (in) {
        CHECK (STREQ (e.event_type, "refund.received"));
        const event_key_t *k = map_key (&e, KEY_REFUND_NO);
        CHECK (e.n_keys == 1 && k && STREQ (k->value, "TK-2020-0001"));
        CHECK (e.n_attrs == 2);
        codec_inbound_destroy (&in);
    }
    //  With the taxpayer's credit code too: both keys.
    in = MAP_OK ("{\"txnType\":\"REFUND_RECV\",\"acctKind\":null,"
                 "\"refundNo\":\"TK-2020-0001\"}",
                 NULL, &e);
    if (in) {
        CHECK (e.n_keys == 2 && map_key (&e, KEY_CREDIT_CODE)
               && map_key (&e, KEY_REFUND_NO));
        CHECK (map_attr (&e, "refund_yuan") == NULL); //  no refundAmount: no amount
        codec_inbound_destroy (&in);
    }
    //  The amount received: refund_yuan, as the tax bureau's refund.approved
    //  names it, a number whether written with a fraction or not.
    static const struct {
        const char *amount;
        double yuan;
    } amounts[] = {{"3520.75", 3520.75}, {"3520", 3520.0}, {"0", 0.0}};
    for (size_t i = 0; i < sizeof amounts / sizeof amounts[0]; i++) {
        char patch[160];
        snprintf (patch, sizeof patch,
                  "{\"txnType\":\"REFUND_RECV\",\"acctKind\":null,"
                  "\"refundNo\":\"TK-2020-0001\",\"refundAmount\":%s}",
                  amounts[i].amount);
        in = MAP_OK (patch, NULL, &e);
        if (in) {
            const event_attr_t *a = map_attr (&e, "refund_yuan");
            CHECK_MSG (a && a->type == ATTR_NUMBER && a->number == amounts[i].yuan,
                       amounts[i].amount);
            CHECK (e.n_attrs == 3);
            codec_inbound_destroy (&in);
        }
    }
}

/*  The UUID v5 the map should derive from these newline-joined parts.  */
static void
s_expected_id (const char *name, size_t len, char out[37])
{
    static const uuid_t ns = {0x6f, 0x6e, 0x65, 0x6e, 0x65, 0x74, 0x40, 0x25,
                              0x86, 0x40, 0x42, 0x50, 0x20, 0x20, 0x00, 0x01};
    uuid_t u;
    uuid_generate_sha1 (u, ns, name, len);
    uuid_unparse_lower (u, out);
}

/*  Ids: from bank, bankCode and seq when seq is there, else from the
    record's bytes.  */
static void
s_test_derived_id (void)
{
    char id1[37] = "", id2[37] = "", id3[37] = "", id4[37] = "", want[37] = "";
    size_t len;
    char err[320];

    //  seq: bank, bankCode and seq, whatever else the record says
    char *a = s_record (NULL, NULL);
    char *b =
        s_record ("{\"branch\":\"城关分理处\",\"txnTime\":\"2020-09-01 10:00:00\"}", NULL);
    char *c = s_record ("{\"seq\":\"000925\"}", NULL);
    char *d = s_record ("{\"bankCode\":\"CCB\"}", NULL);
    uint8_t *ba = s_map (a, id1, &len, err, sizeof err);
    uint8_t *bb = s_map (b, id2, &len, err, sizeof err);
    uint8_t *bc = s_map (c, id3, &len, err, sizeof err);
    uint8_t *bd = s_map (d, id4, &len, err, sizeof err);
    CHECK (ba && bb && bc && bd);
    CHECK (ident_uuid_valid (id1) && id1[14] == '5' && strchr ("89ab", id1[19]));
    s_expected_id ("bank\nICBC\n000924", strlen ("bank\nICBC\n000924"), want);
    CHECK_MSG (STREQ (id1, want), id1);
    CHECK (STREQ (id1, id2));  //  same seq, same event
    CHECK (!STREQ (id1, id3)); //  another seq
    CHECK (!STREQ (id1, id4)); //  another bank, same seq
    free (ba), free (bb), free (bc), free (bd);
    free (a), free (b), free (c), free (d);

    //  A whole-number seq is its decimal text.
    a = s_record ("{\"seq\":924}", NULL);
    ba = s_map (a, id1, &len, err, sizeof err);
    s_expected_id ("bank\nICBC\n924", strlen ("bank\nICBC\n924"), want);
    CHECK (ba && STREQ (id1, want));
    free (ba), free (a);

    //  No seq (absent or null): the record's bytes, after "bank\n", as the
    //  generic adapter does.
    a = s_record (NULL, "seq");
    b = s_record ("{\"seq\":null}", NULL);
    c = s_record ("{\"txnTime\":\"2020-09-01 09:31:22\"}", "seq");
    ba = s_map (a, id1, &len, err, sizeof err);
    bb = s_map (b, id2, &len, err, sizeof err);
    bc = s_map (c, id3, &len, err, sizeof err);
    CHECK (ba && bb && bc);
    char name[1024];
    snprintf (name, sizeof name, "bank\n%s", a);
    s_expected_id (name, strlen (name), want);
    CHECK (STREQ (id1, want));
    CHECK (!STREQ (id1, id2)); //  other bytes
    CHECK (!STREQ (id1, id3));
    //  the same bytes again: the same id
    uint8_t *again = s_map (a, id4, &len, err, sizeof err);
    CHECK (again && STREQ (id4, id1));
    //  only the given bytes count
    char buffer[1100];
    snprintf (buffer, sizeof buffer, "%sGARBAGE", a);
    uint8_t *longer = map_encode (bank_map, buffer, strlen (a), "bank", "bank-2",
                                  s_accepted + 5, id4, &len, err, sizeof err);
    CHECK (longer && STREQ (id4, id1));
    free (ba), free (bb), free (bc), free (again), free (longer);
    free (a), free (b), free (c);
}

/*  Every refusal names the field and what the bank sent.  */
static void
s_test_refusals (void)
{
    //  Not a record at all.
    CHECK_REFUSED (s_map, "{", "not JSON", NULL);
    CHECK_REFUSED (s_map, "", "not JSON", NULL);
    CHECK_REFUSED (s_map, "[1]", "JSON object", "an array");
    CHECK_REFUSED (s_map, "{\"txnRef\":\"a\",\"txnRef\":\"b\"}", "not JSON", "txnRef");
    //  A field the format does not define is ignored (the log names it once,
    //  see test_unknown_field); a required field misspelt is still refused.
    case_event_t e;
    codec_inbound_t *in = MAP_OK ("{\"unitNO\":\"x\",\"备注\":\"加急\"}", NULL, &e);
    CHECK (in != NULL && e.n_keys == 1);
    codec_inbound_destroy (&in);
    CHECK_BAD_DROP ("{\"txnREF\":\"ICBC-PY-20200901-000924\"}", "txnRef", "\"txnRef\"",
                    "missing");

    //  The fields every record has.
    const char *always[] = {"bankCode", "branch", "txnType", "txnRef", "txnTime"};
    for (size_t i = 0; i < 5; i++) {
        char quoted[32], patch[64];
        snprintf (quoted, sizeof quoted, "\"%s\"", always[i]);
        CHECK_BAD_DROP (NULL, always[i], quoted, "missing");
        snprintf (patch, sizeof patch, "{\"%s\":null}", always[i]);
        CHECK_BAD (patch, quoted, "missing");
        snprintf (patch, sizeof patch, "{\"%s\":\"\"}", always[i]);
        CHECK_BAD (patch, quoted, "empty");
        snprintf (patch, sizeof patch, "{\"%s\":12}", always[i]);
        CHECK_BAD (patch, quoted, "not a number");
    }
    CHECK_BAD ("{\"bankCode\":\"icbc\"}", "\"bankCode\" is \"icbc\"", "upper-case");
    CHECK_BAD ("{\"bankCode\":\"ICBCICBCICBCICBC1\"}", "\"bankCode\"", "longer than 16");
    CHECK_BAD ("{\"txnType\":\"ACCT_FREEZE\"}", "\"txnType\" is \"ACCT_FREEZE\"",
               "ACCT_OPEN");
    CHECK_BAD ("{\"txnType\":\"acct_open\"}", "\"txnType\" is \"acct_open\"", NULL);
    CHECK_BAD ("{\"txnTime\":\"2020-09-01T09:31:21+08:00\"}",
               "\"txnTime\" is \"2020-09-01T09:31:21+08:00\"", "Beijing local time");
    CHECK_BAD ("{\"txnTime\":\"2020-09-01 09:31\"}", "\"txnTime\" is \"2020-09-01 09:31\"",
               NULL);
    CHECK_BAD ("{\"txnTime\":\"2020-02-30 09:31:21\"}", "\"txnTime\" is \"2020-02-30",
               NULL);
    CHECK_BAD ("{\"txnTime\":\"2020-09-01 24:00:00\"}", "\"txnTime\"", NULL);

    //  What each txnType needs.
    CHECK_BAD ("{\"acctKind\":null}", "\"acctKind\" is missing", "ACCT_OPEN");
    CHECK_BAD ("{\"creditCode\":null}", "\"creditCode\" is missing", "ACCT_OPEN");
    CHECK_BAD_DROP ("{\"txnType\":\"ACCT_CLOSE\"}", "creditCode",
                    "\"creditCode\" is missing", "ACCT_CLOSE");
    CHECK_BAD ("{\"txnType\":\"MORTGAGE_FILE\",\"acctKind\":null}", "\"unitNo\" is missing",
               "MORTGAGE_FILE");
    CHECK_BAD ("{\"txnType\":\"LOAN_APPLY\",\"acctKind\":null}",
               "\"loanAmount\" is missing", "LOAN_APPLY");
    CHECK_BAD_DROP ("{\"txnType\":\"LOAN_APPLY\",\"acctKind\":null,\"loanAmount\":1}",
                    "creditCode", "\"creditCode\" is missing", "LOAN_APPLY");
    CHECK_BAD ("{\"txnType\":\"LOAN_DECIDE\",\"acctKind\":null}", "\"approved\" is missing",
               "LOAN_DECIDE");
    CHECK_BAD_DROP ("{\"txnType\":\"LOAN_DECIDE\",\"acctKind\":null,\"approved\":true}",
                    "creditCode", "\"creditCode\" is missing", "LOAN_DECIDE");
    CHECK_BAD ("{\"txnType\":\"REFUND_RECV\",\"acctKind\":null}", "\"refundNo\" is missing",
               "REFUND_RECV");

    //  What a txnType does not carry.
    CHECK_BAD ("{\"txnType\":\"LOAN_APPLY\",\"loanAmount\":1}", "\"acctKind\" is \"BASIC\"",
               "LOAN_APPLY does not carry");
    CHECK_BAD ("{\"approved\":true}", "\"approved\" is true", "ACCT_OPEN does not carry");
    CHECK_BAD ("{\"loanAmount\":100}", "\"loanAmount\" is 100", "ACCT_OPEN does not carry");
    CHECK_BAD ("{\"txnType\":\"REFUND_RECV\",\"acctKind\":null,\"refundNo\":\"T1\","
               "\"loanAmount\":5.5}",
               "\"loanAmount\" is 5.5", "REFUND_RECV does not carry");
    CHECK_BAD ("{\"txnType\":\"LOAN_APPLY\",\"acctKind\":null,\"loanAmount\":1,"
               "\"refundAmount\":5.5}",
               "\"refundAmount\" is 5.5", "LOAN_APPLY does not carry");
    CHECK_BAD ("{\"txnType\":\"REFUND_RECV\",\"acctKind\":null,\"refundNo\":\"T1\","
               "\"refundAmount\":\"3520.75\"}",
               "field \"refundAmount\" is \"3520.75\"", "expected a number of yuan");
    CHECK_BAD ("{\"txnType\":\"REFUND_RECV\",\"acctKind\":null,\"refundNo\":\"T1\","
               "\"refundAmount\":-1}",
               "field \"refundAmount\" is -1", "0 or more");

    //  Keys: the credit code and the unit number are checked here.
    char patch[256];
    char bad[19];
    snprintf (bad, sizeof bad, "%s", s_credit);
    bad[17] = bad[17] == '0' ? '1' : '0';
    snprintf (patch, sizeof patch, "{\"creditCode\":\"%s\"}", bad);
    char want[64];
    snprintf (want, sizeof want, "\"creditCode\" is \"%s\"", bad);
    CHECK_BAD (patch, want, "check character");
    CHECK_BAD ("{\"creditCode\":\"91640425ma76h1234u\"}",
               "\"creditCode\" is \"91640425ma76h1234u\"", NULL);
    CHECK_BAD ("{\"creditCode\":\"9164\"}", "\"creditCode\" is \"9164\"", NULL);
    CHECK_BAD ("{\"creditCode\":9164}", "\"creditCode\"", "not a number");
    CHECK_BAD ("{\"creditCode\":\"\"}", "\"creditCode\"", "empty");
    CHECK_BAD ("{\"txnType\":\"MORTGAGE_FILE\",\"acctKind\":null,"
               "\"unitNo\":\"640425001002GB00123F0001000\"}",
               "\"unitNo\" is \"640425001002GB00123F0001000\"", NULL);
    CHECK_BAD ("{\"txnType\":\"MORTGAGE_FILE\",\"acctKind\":null,"
               "\"unitNo\":\"640425001002GB00123X00010001\"}",
               "\"unitNo\" is \"640425001002GB00123X00010001\"", NULL);
    //  a unit number on another txnType is still checked
    CHECK_BAD ("{\"unitNo\":\"64042500100\"}", "\"unitNo\" is \"64042500100\"", NULL);
    CHECK_BAD ("{\"txnType\":\"REFUND_RECV\",\"acctKind\":null,\"refundNo\":7}",
               "\"refundNo\"", "not a number");
    CHECK_BAD ("{\"txnType\":\"REFUND_RECV\",\"acctKind\":null,\"refundNo\":\"\"}",
               "\"refundNo\"", "empty");

    //  Typed values.
    CHECK_BAD ("{\"acctKind\":\"SPECIAL\"}", "\"acctKind\" is \"SPECIAL\"",
               "BASIC or GENERAL");
    CHECK_BAD ("{\"acctKind\":\"basic\"}", "\"acctKind\" is \"basic\"", NULL);
    CHECK_BAD ("{\"acctKind\":1}", "\"acctKind\"", "not a number");
    CHECK_BAD ("{\"txnType\":\"LOAN_APPLY\",\"acctKind\":null,\"loanAmount\":\"500000\"}",
               "\"loanAmount\" is \"500000\"", "number of yuan");
    CHECK_BAD ("{\"txnType\":\"LOAN_APPLY\",\"acctKind\":null,\"loanAmount\":-1}",
               "\"loanAmount\" is -1", "0 or more");
    CHECK_BAD ("{\"txnType\":\"LOAN_DECIDE\",\"acctKind\":null,\"approved\":\"true\"}",
               "\"approved\" is \"true\"", "true or false");
    CHECK_BAD ("{\"txnType\":\"LOAN_DECIDE\",\"acctKind\":null,\"approved\":1}",
               "\"approved\" is 1", "true or false");
    CHECK_BAD ("{\"seq\":\"\"}", "\"seq\"", "empty");
    CHECK_BAD ("{\"seq\":-3}", "\"seq\" is -3", "0 or more");
    CHECK_BAD ("{\"seq\":1.5}", "\"seq\"", "not a number");
    CHECK_BAD ("{\"seq\":[1]}", "\"seq\"", "not an array");

    //  Long values are cut in the message, on a character boundary.
    char longref[400] = "{\"txnRef\":\"";
    for (int i = 0; i < 60; i++)
        strcat (longref, "号");
    strcat (longref, "\"}");
    CHECK_BAD (longref, "\"txnRef\" is \"号号", "longer than 128");
}

/*  What the adapter sends for fixed records, pinned: the event ids and the
    encoded bytes must stay the same whatever the code that builds them.  */
static void
s_test_pinned (void)
{
    char *line = s_record (NULL, NULL);
    CHECK_PINNED (s_map, line, "e6e0eb1d-6cbf-53e9-8c36-48f639fa5f11", 199,
                  0xb2c18feb02ef80feULL);
    free (line);
    line = s_record ("{\"txnType\":\"LOAN_DECIDE\",\"acctKind\":null,\"approved\":true}",
                     "seq");
    CHECK_PINNED (s_map, line, "05ee0283-bad8-591b-bfc6-e1b854619d10", 188,
                  0xbdd5a0702e099eb0ULL);
    free (line);
}

int
main (void)
{
    ident_credit_code_make ("91640425MA76H1234", s_credit);
    CHECK (ident_credit_code_valid (s_credit, NULL, 0));
    CHECK (ident_unit_number_valid (s_unit, NULL, 0));
    char *argv[] = {"onenet-hub", NULL};
    if (hub_config_load (&s_config, 1, argv) != 0) {
        fprintf (stderr, "%s: the hub's default settings do not load\n", UNIT_NAME);
        return 2;
    }
    s_test_accounts ();
    s_test_mortgage ();
    s_test_loans ();
    s_test_refund ();
    s_test_derived_id ();
    s_test_refusals ();
    s_test_pinned ();
    return s_summary ();
}
