/*  map: the banks' common record format to case events, see map.h and
    docs/adapters/bank.md.

    A record is checked whole before anything is built: every field has
    its JSON type (fields the format does not define are ignored, with a
    warning once per name), the txnType is one of six and
    has the fields it needs, and the credit code and unit number are valid
    (GB 32100-2015, GB/T 37346-2019). Each refusal names the field and the
    value the bank sent, so the bank's IT staff can find the record. */
#include "map.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "beijing_time.h"
#include "codec.h"
#include "record.h"
#include "unknown_field.h"
#include "ident.h"

/* The namespace of derived event ids (UUID v5), the framework's own
   (adapters/framework/record.c), so that ids of all adapters come from one
   scheme. */
/* Longest bankCode, branch, txnRef and seq the banks may send (bytes). */
#define MAX_BANK_CODE 16
#define MAX_BRANCH    128
#define MAX_TXN_REF   128
#define MAX_SEQ       64

/* The optional fields, as bits: which a txnType needs, which it carries. */
enum {
    F_ACCT_KIND = 1 << 0,    /* acctKind */
    F_CREDIT_CODE = 1 << 1,  /* creditCode */
    F_UNIT_NO = 1 << 2,      /* unitNo */
    F_REFUND_NO = 1 << 3,    /* refundNo */
    F_LOAN_AMOUNT = 1 << 4,  /* loanAmount */
    F_APPROVED = 1 << 5,     /* approved */
    F_REFUND_AMOUNT = 1 << 6 /* refundAmount */
};
#define N_FLAG_FIELDS 7

/* The keys may come with any txnType (they help correlation); the four
   attribute fields only with the types they describe. */
#define F_KEYS (F_CREDIT_CODE | F_UNIT_NO | F_REFUND_NO)

typedef struct {
    const char *txn_type;   /* the bank's transaction type */
    const char *event_type; /* the case event it becomes */
    unsigned required;      /* F_ fields it cannot go without */
    unsigned allowed;       /* F_ fields it may carry */
} txn_type_t;

static const txn_type_t s_txn_types[] = {
    {"ACCT_OPEN", "account.opened", F_ACCT_KIND | F_CREDIT_CODE, F_KEYS | F_ACCT_KIND},
    {"ACCT_CLOSE", "account.closed", F_CREDIT_CODE, F_KEYS | F_ACCT_KIND},
    {"MORTGAGE_FILE", "mortgage.filed", F_UNIT_NO, F_KEYS | F_LOAN_AMOUNT},
    {"LOAN_APPLY", "loan.applied", F_CREDIT_CODE | F_LOAN_AMOUNT, F_KEYS | F_LOAN_AMOUNT},
    {"LOAN_DECIDE", "loan.decided", F_CREDIT_CODE | F_APPROVED, F_KEYS | F_APPROVED},
    {"REFUND_RECV", "refund.received", F_REFUND_NO, F_KEYS | F_REFUND_AMOUNT},
};
#define N_TXN_TYPES (sizeof s_txn_types / sizeof s_txn_types[0])

/* Every field of the format; any other name is ignored, with a warning
   once per name and run, so a misspelt "unitNO" is seen in the log (and a
   record that needs unitNo is refused for lacking it). */
static const char *const s_fields[] = {
    "bankCode",     "branch",  "txnType",  "txnRef",     "acctKind",
    "creditCode",   "unitNo",  "refundNo", "loanAmount", "approved",
    "refundAmount", "txnTime", "seq"};

/* Names of the F_ bits, in bit order, for the messages. */
static const char *const s_flag_fields[N_FLAG_FIELDS] = {
    "acctKind",   "creditCode", "unitNo",      "refundNo",
    "loanAmount", "approved",   "refundAmount"};

/* Copies s into buf for a message: at most 60 bytes, cut on a UTF-8
   character boundary, with "..." when cut. */
static const char *
s_shown (const char *s, char *buf, size_t size)
{
    size_t n = strlen (s);
    size_t max = size > 4 ? size - 4 : 0;
    if (max > 60)
        max = 60;
    if (n <= max) {
        snprintf (buf, size, "%s", s);
        return buf;
    }
    n = max;
    while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
        n--;
    snprintf (buf, size, "%.*s...", (int) n, s);
    return buf;
}

/* Reads string field name of root: NULL when absent or null. Writes a
   reason into err when it is another type, empty or longer than max. */
static const char *
s_string (json_t *root, const char *name, size_t max, char *err, size_t errlen)
{
    json_t *v = json_object_get (root, name);
    if (!v || json_is_null (v))
        return NULL;
    if (!json_is_string (v)) {
        snprintf (err, errlen, "field \"%s\" must be a string or null, not %s", name,
                  record_json_type_name (v));
        return NULL;
    }
    if (json_string_length (v) == 0) {
        snprintf (err, errlen, "field \"%s\" is \"\" (empty); send null when there is none",
                  name);
        return NULL;
    }
    const char *s = json_string_value (v);
    if (strlen (s) != json_string_length (v)) {
        snprintf (err, errlen, "field \"%s\" holds a NUL character", name);
        return NULL;
    }
    if (json_string_length (v) > max) {
        char shown[80];
        snprintf (err, errlen, "field \"%s\" is \"%s\", longer than %zu bytes", name,
                  s_shown (s, shown, sizeof shown), max);
        return NULL;
    }
    return s;
}

/* True when s is 1..max characters of [A-Z0-9]. */
static bool
s_upper_code (const char *s)
{
    for (const char *p = s; *p; p++)
        if (!(isupper ((unsigned char) *p) || isdigit ((unsigned char) *p)))
            return false;
    return *s != '\0';
}

bool
bank_map (const char *line, size_t line_len, const char *agency, mapped_event_t *out,
          char *err, size_t errlen)
{
    json_t *root = record_json_object (line, line_len, err, errlen);
    if (!root)
        return false;
    bool ok = false;
    char shown[80];
    err[0] = '\0';
    //  fields the format does not define are ignored, with one warning per
    //  name and run (adapters/framework/unknown_field.h)
    unknown_field_check (root, s_fields, sizeof s_fields / sizeof s_fields[0], agency);

    //  The fields every record has
    static const char *const always[] = {"bankCode", "branch", "txnType", "txnRef",
                                         "txnTime"};
    const char *v[5];
    for (size_t i = 0; i < 5; i++) {
        v[i] = s_string (root, always[i],
                         i == 0   ? MAX_BANK_CODE
                         : i == 1 ? MAX_BRANCH
                         : i == 3 ? MAX_TXN_REF
                                  : 32,
                         err, errlen);
        if (*err)
            goto done;
        if (!v[i]) {
            snprintf (err, errlen, "field \"%s\" is missing (or null)", always[i]);
            goto done;
        }
    }
    const char *bank_code = v[0], *branch = v[1], *txn_type = v[2], *txn_ref = v[3],
               *txn_time = v[4];
    if (!s_upper_code (bank_code)) {
        snprintf (err, errlen,
                  "field \"bankCode\" is \"%s\", expected upper-case letters and digits "
                  "like ICBC",
                  s_shown (bank_code, shown, sizeof shown));
        goto done;
    }
    const txn_type_t *t = NULL;
    for (size_t i = 0; i < N_TXN_TYPES && !t; i++)
        if (strcmp (txn_type, s_txn_types[i].txn_type) == 0)
            t = &s_txn_types[i];
    if (!t) {
        snprintf (err, errlen,
                  "field \"txnType\" is \"%s\", expected ACCT_OPEN, ACCT_CLOSE, "
                  "MORTGAGE_FILE, LOAN_APPLY, LOAN_DECIDE or REFUND_RECV",
                  s_shown (txn_type, shown, sizeof shown));
        goto done;
    }
    case_event_t e;
    memset (&e, 0, sizeof e);
    if (!beijing_time_parse (txn_time, "YYYY-MM-DD hh:mm:ss", &e.occurred_at_ms)) {
        snprintf (err, errlen,
                  "field \"txnTime\" is \"%s\", expected Beijing local time without an "
                  "offset, like 2020-09-01 09:31:21",
                  s_shown (txn_time, shown, sizeof shown));
        goto done;
    }

    //  The fields that depend on txnType: present (not null) or not, and
    //  whether this txnType needs or carries them
    unsigned present = 0;
    for (size_t i = 0; i < N_FLAG_FIELDS; i++) {
        json_t *f = json_object_get (root, s_flag_fields[i]);
        if (f && !json_is_null (f))
            present |= 1u << i;
    }
    for (size_t i = 0; i < N_FLAG_FIELDS; i++) {
        unsigned bit = 1u << i;
        if ((t->required & bit) && !(present & bit)) {
            snprintf (err, errlen, "field \"%s\" is missing (or null); txnType %s needs it",
                      s_flag_fields[i], t->txn_type);
            goto done;
        }
        if ((present & bit) && !(t->allowed & bit)) {
            char *text = json_dumps (json_object_get (root, s_flag_fields[i]),
                                     JSON_ENCODE_ANY | JSON_COMPACT);
            snprintf (err, errlen,
                      "field \"%s\" is %s but txnType %s does not carry it; send null",
                      s_flag_fields[i], text ? s_shown (text, shown, sizeof shown) : "set",
                      t->txn_type);
            free (text);
            goto done;
        }
    }

    event_key_t *keys = out->keys;
    event_attr_t *attrs = out->attrs;
    memset (out->attrs, 0, sizeof out->attrs);
    char why[IDENT_ERR_MAX];

    const char *credit_code = s_string (root, "creditCode", 32, err, errlen);
    if (*err)
        goto done;
    if (credit_code) {
        if (!ident_credit_code_valid (credit_code, why, sizeof why)) {
            snprintf (err, errlen, "field \"creditCode\" is \"%s\": %s",
                      s_shown (credit_code, shown, sizeof shown), why);
            goto done;
        }
        keys[e.n_keys++] = (event_key_t){KEY_CREDIT_CODE, credit_code};
    }
    const char *unit_no = s_string (root, "unitNo", 32, err, errlen);
    if (*err)
        goto done;
    if (unit_no) {
        if (!ident_unit_number_valid (unit_no, why, sizeof why)) {
            snprintf (err, errlen, "field \"unitNo\" is \"%s\": %s",
                      s_shown (unit_no, shown, sizeof shown), why);
            goto done;
        }
        keys[e.n_keys++] = (event_key_t){KEY_UNIT_NUMBER, unit_no};
    }
    const char *refund_no = s_string (root, "refundNo", 64, err, errlen);
    if (*err)
        goto done;
    if (refund_no)
        keys[e.n_keys++] = (event_key_t){KEY_REFUND_NO, refund_no};

    attrs[e.n_attrs++] =
        (event_attr_t){.name = "bank_code", .type = ATTR_TEXT, .text = bank_code};
    attrs[e.n_attrs++] =
        (event_attr_t){.name = "branch", .type = ATTR_TEXT, .text = branch};
    const char *acct_kind = s_string (root, "acctKind", 32, err, errlen);
    if (*err)
        goto done;
    if (acct_kind) {
        const char *kind = strcmp (acct_kind, "BASIC") == 0     ? "basic"
                           : strcmp (acct_kind, "GENERAL") == 0 ? "general"
                                                                : NULL;
        if (!kind) {
            snprintf (err, errlen,
                      "field \"acctKind\" is \"%s\", expected BASIC or GENERAL",
                      s_shown (acct_kind, shown, sizeof shown));
            goto done;
        }
        attrs[e.n_attrs++] =
            (event_attr_t){.name = "account_kind", .type = ATTR_TEXT, .text = kind};
    }
    //  amounts in yuan: the loan, and the tax refund received
    static const struct {
        const char *field; /* the bank's field */
        const char *attr;  /* the number attribute */
    } amounts[] = {{"loanAmount", "loan_yuan"}, {"refundAmount", "refund_yuan"}};
    for (size_t i = 0; i < sizeof amounts / sizeof amounts[0]; i++) {
        json_t *amount = json_object_get (root, amounts[i].field);
        if (!amount || json_is_null (amount))
            continue;
        double yuan = json_is_number (amount) ? json_number_value (amount) : -1;
        if (!json_is_number (amount) || !isfinite (yuan) || yuan < 0) {
            char *text = json_dumps (amount, JSON_ENCODE_ANY | JSON_COMPACT);
            snprintf (err, errlen,
                      "field \"%s\" is %s, expected a number of yuan, 0 or more, like "
                      "350000.00",
                      amounts[i].field,
                      text ? s_shown (text, shown, sizeof shown) : "not a number");
            free (text);
            goto done;
        }
        attrs[e.n_attrs++] =
            (event_attr_t){.name = amounts[i].attr, .type = ATTR_NUMBER, .number = yuan};
    }
    json_t *approved = json_object_get (root, "approved");
    if (approved && !json_is_null (approved)) {
        if (!json_is_boolean (approved)) {
            char *text = json_dumps (approved, JSON_ENCODE_ANY | JSON_COMPACT);
            snprintf (err, errlen, "field \"approved\" is %s, expected true or false",
                      text ? s_shown (text, shown, sizeof shown) : "not a boolean");
            free (text);
            goto done;
        }
        attrs[e.n_attrs++] = (event_attr_t){
            .name = "approved", .type = ATTR_FLAG, .flag = json_is_true (approved)};
    }

    //  The event id: the bank's own sequence number when it sends one,
    //  else the record's bytes
    json_t *jseq = json_object_get (root, "seq");
    char seq_text[32];
    const char *seq = NULL;
    if (jseq && json_is_integer (jseq)) {
        if (json_integer_value (jseq) < 0) {
            snprintf (err, errlen, "field \"seq\" is %lld, expected 0 or more",
                      (long long) json_integer_value (jseq));
            goto done;
        }
        snprintf (seq_text, sizeof seq_text, "%lld", (long long) json_integer_value (jseq));
        seq = seq_text;
    }
    else if (jseq && !json_is_null (jseq)) {
        if (!json_is_string (jseq)) {
            snprintf (err, errlen,
                      "field \"seq\" must be a string, a whole number or null, not %s",
                      record_json_type_name (jseq));
            goto done;
        }
        seq = s_string (root, "seq", MAX_SEQ, err, errlen);
        if (*err)
            goto done;
    }
    if (seq) {
        mapped_event_id_part (out, bank_code, strlen (bank_code));
        size_t seq_len = strlen (seq);
        mapped_event_id_part (out, mapped_event_keep (out, seq, seq_len), seq_len);
    }

    e.case_no = txn_ref;
    e.event_type = t->event_type;
    out->event = e;
    out->root = root;
    root = NULL;
    ok = true;
done:
    json_decref (root);
    return ok;
}
