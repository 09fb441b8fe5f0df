/*  digest: canonical event encoding and hash chain, see digest.h and
    docs/schema.md ("Hash chain") for the byte-level specification. */
#include "digest.h"

#include <ctype.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENCODING_TAG "onenet-event-v1" /* first field of every content encoding */
#define LINK_TAG "onenet-chain-v1"     /* first field of every row digest input */
#define NULL_LENGTH 0xFFFFFFFFu        /* length prefix of an SQL NULL */
#define JSON_MAX_DEPTH 64              /* deeper JSON is refused, not recursed into */

static void
put_u32 (strbuf_t *out, uint32_t v)
{
    char b[4] = {(char) (v >> 24), (char) (v >> 16), (char) (v >> 8), (char) v};
    strbuf_append (out, b, 4);
}

/* A length-prefixed byte string. */
static void
put_bytes (strbuf_t *out, const void *data, size_t len)
{
    put_u32 (out, (uint32_t) len);
    strbuf_append (out, data, len);
}

static void
put_text (strbuf_t *out, const char *s)
{
    if (!s)
        put_u32 (out, NULL_LENGTH);
    else
        put_bytes (out, s, strlen (s));
}

/* put_bytes into a plain buffer with room for it; returns the end. */
static unsigned char *
put_lp (unsigned char *p, const void *data, size_t len)
{
    p[0] = (unsigned char) (len >> 24);
    p[1] = (unsigned char) (len >> 16);
    p[2] = (unsigned char) (len >> 8);
    p[3] = (unsigned char) len;
    memcpy (p + 4, data, len);
    return p + 4 + len;
}

//  ---------------------------------------------------------------- JSON

typedef struct {
    const char *start; /* the whole text, for error offsets */
    const char *p;     /* next byte to read */
    char *err;         /* message buffer */
    size_t errlen;     /* its size */
    const char *what;  /* column name for messages */
} json_t;

static int
json_fail (json_t *j, const char *problem)
{
    snprintf (j->err, j->errlen, "%s: %s at byte %td", j->what, problem, j->p - j->start);
    return -1;
}

static void
json_skip_ws (json_t *j)
{
    while (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')
        j->p++;
}

static int
hex4 (const char *p, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned) (c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned) (c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned) (c - 'A' + 10);
        else
            return -1;
        *v = *v * 16 + d;
    }
    return 0;
}

static void
put_utf8 (strbuf_t *out, unsigned cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char) cp;
        n = 1;
    }
    else if (cp < 0x800) {
        b[0] = (char) (0xC0 | (cp >> 6));
        b[1] = (char) (0x80 | (cp & 0x3F));
        n = 2;
    }
    else if (cp < 0x10000) {
        b[0] = (char) (0xE0 | (cp >> 12));
        b[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char) (0x80 | (cp & 0x3F));
        n = 3;
    }
    else {
        b[0] = (char) (0xF0 | (cp >> 18));
        b[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char) (0x80 | (cp & 0x3F));
        n = 4;
    }
    strbuf_append (out, b, n);
}

/* Decodes a JSON string at j->p (on its opening quote) into out, raw
   UTF-8 without quotes. */
static int
json_string (json_t *j, strbuf_t *out)
{
    j->p++; /* opening quote */
    while (*j->p != '"') {
        unsigned char c = (unsigned char) *j->p;
        if (c == '\0')
            return json_fail (j, "unterminated string");
        if (c < 0x20)
            return json_fail (j, "control character in string");
        if (c != '\\') {
            /* a run of plain characters, copied at once */
            const char *run = j->p;
            while (true) {
                unsigned char u = (unsigned char) *j->p;
                if (u == '"' || u == '\\' || u < 0x20)
                    break;
                if (u < 0x80)
                    j->p++;
                else {
                    size_t n = utf8_char_len ((const unsigned char *) j->p);
                    if (n == 0)
                        return json_fail (j, "invalid UTF-8 in string");
                    j->p += n;
                }
            }
            strbuf_append (out, run, (size_t) (j->p - run));
            continue;
        }
        char e = j->p[1];
        j->p += 2;
        switch (e) {
        case '"': strbuf_putc (out, '"'); break;
        case '\\': strbuf_putc (out, '\\'); break;
        case '/': strbuf_putc (out, '/'); break;
        case 'b': strbuf_putc (out, '\b'); break;
        case 'f': strbuf_putc (out, '\f'); break;
        case 'n': strbuf_putc (out, '\n'); break;
        case 'r': strbuf_putc (out, '\r'); break;
        case 't': strbuf_putc (out, '\t'); break;
        case 'u': {
            unsigned cp;
            if (hex4 (j->p, &cp) < 0)
                return json_fail (j, "bad \\u escape");
            j->p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (j->p[0] != '\\' || j->p[1] != 'u' || hex4 (j->p + 2, &lo) < 0
                    || lo < 0xDC00 || lo > 0xDFFF)
                    return json_fail (j, "unpaired surrogate in \\u escape");
                j->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            else if (cp >= 0xDC00 && cp <= 0xDFFF)
                return json_fail (j, "unpaired surrogate in \\u escape");
            if (cp == 0)
                return json_fail (j, "\\u0000 in string");
            put_utf8 (out, cp);
            break;
        }
        default: j->p -= 2; return json_fail (j, "bad escape in string");
        }
    }
    j->p++; /* closing quote */
    return 0;
}

/* Reads a JSON number at j->p and appends it as PostgreSQL's numeric
   prints it: plain notation (no exponent), no leading zeros, as many
   fractional digits as the literal had after its point minus its
   exponent (never fewer than 0), no sign on zero. 1e+20 ->
   100000000000000000000, 1.50 -> 1.50, 1.5e-3 -> 0.0015, -0.0 -> 0.0. */
static int
json_number (json_t *j, strbuf_t *out)
{
    const char *p = j->p;
    bool negative = false;
    if (*p == '-') {
        negative = true;
        p++;
    }
    const char *int_start = p;
    while (isdigit ((unsigned char) *p))
        p++;
    size_t n_int = (size_t) (p - int_start);
    if (n_int == 0 || (n_int > 1 && *int_start == '0'))
        return json_fail (j, "bad number");
    const char *frac_start = p;
    size_t n_frac = 0;
    if (*p == '.') {
        frac_start = ++p;
        while (isdigit ((unsigned char) *p))
            p++;
        n_frac = (size_t) (p - frac_start);
        if (n_frac == 0)
            return json_fail (j, "bad number");
    }
    long exponent = 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        bool exp_negative = false;
        if (*p == '+' || *p == '-')
            exp_negative = *p++ == '-';
        if (!isdigit ((unsigned char) *p))
            return json_fail (j, "bad number");
        while (isdigit ((unsigned char) *p)) {
            exponent = exponent * 10 + (*p++ - '0');
            if (exponent > 100000)
                return json_fail (j, "number exponent out of range");
        }
        if (exp_negative)
            exponent = -exponent;
    }
    j->p = p;

    /* digits d[0..n) with the decimal point after `point` of them */
    size_t n = n_int + n_frac;
    char *d = malloc (n + 1);
    if (!d)
        abort ();
    memcpy (d, int_start, n_int);
    memcpy (d + n_int, frac_start, n_frac);
    long point = (long) n_int + exponent;
    long scale = (long) n_frac - exponent;
    if (scale < 0)
        scale = 0;
    bool zero = true;
    for (size_t i = 0; i < n; i++)
        if (d[i] != '0')
            zero = false;
    if (negative && !zero)
        strbuf_putc (out, '-');
    /* integer part: digits before the point, leading zeros dropped */
    bool any = false;
    for (long i = 0; i < point; i++) {
        char c = i < (long) n ? d[i] : '0';
        if (c == '0' && !any)
            continue;
        any = true;
        strbuf_putc (out, c);
    }
    if (!any)
        strbuf_putc (out, '0');
    if (scale > 0) {
        strbuf_putc (out, '.');
        for (long i = point; i < point + scale; i++)
            strbuf_putc (out, i >= 0 && i < (long) n ? d[i] : '0');
    }
    free (d);
    return 0;
}

/* One member of an object being encoded: offsets into the object's
   scratch buffer. */
typedef struct {
    size_t name_at, name_len;   /* the decoded name */
    size_t value_at, value_len; /* the value's encoding */
    size_t order;               /* position in the text, for "last wins" */
    const char *name;           /* the name, set once the scratch buffer stops growing */
} member_t;

static int
member_cmp (const void *a, const void *b)
{
    const member_t *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp (x->name, y->name, n);
    if (c)
        return c;
    if (x->name_len != y->name_len)
        return x->name_len < y->name_len ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* In sorted members, whether member i is followed by one of the same name. */
static bool
superseded (const member_t *members, size_t n, size_t i)
{
    return i + 1 < n && members[i].name_len == members[i + 1].name_len
           && memcmp (members[i].name, members[i + 1].name, members[i].name_len) == 0;
}

static int json_value (json_t *j, strbuf_t *out, int depth);

static int
json_object (json_t *j, strbuf_t *out, int depth)
{
    j->p++; /* { */
    strbuf_t scratch;
    strbuf_init (&scratch);
    member_t *members = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    json_skip_ws (j);
    if (*j->p == '}')
        j->p++;
    else
        while (true) {
            json_skip_ws (j);
            if (*j->p != '"') {
                rc = json_fail (j, "expected a member name");
                break;
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 8;
                members = realloc (members, cap * sizeof *members);
                if (!members)
                    abort ();
            }
            member_t *m = &members[n];
            m->order = n;
            m->name_at = scratch.len;
            if ((rc = json_string (j, &scratch)) < 0)
                break;
            m->name_len = scratch.len - m->name_at;
            json_skip_ws (j);
            if (*j->p != ':') {
                rc = json_fail (j, "expected ':'");
                break;
            }
            j->p++;
            m->value_at = scratch.len;
            if ((rc = json_value (j, &scratch, depth + 1)) < 0)
                break;
            m->value_len = scratch.len - m->value_at;
            n++;
            json_skip_ws (j);
            if (*j->p == ',') {
                j->p++;
                continue;
            }
            if (*j->p == '}') {
                j->p++;
                break;
            }
            rc = json_fail (j, "expected ',' or '}'");
            break;
        }
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            members[i].name = scratch.data + members[i].name_at;
        if (n > 1)
            qsort (members, n, sizeof *members, member_cmp);
        /* equal names: the last in the text wins, as in jsonb */
        size_t kept = 0;
        for (size_t i = 0; i < n; i++)
            if (!superseded (members, n, i))
                kept++;
        strbuf_putc (out, 'o');
        put_u32 (out, (uint32_t) kept);
        for (size_t i = 0; i < n; i++) {
            if (superseded (members, n, i))
                continue;
            put_bytes (out, scratch.data + members[i].name_at, members[i].name_len);
            strbuf_append (out, scratch.data + members[i].value_at, members[i].value_len);
        }
    }
    free (members);
    strbuf_free (&scratch);
    return rc;
}

static int
json_array (json_t *j, strbuf_t *out, int depth)
{
    j->p++; /* [ */
    strbuf_t scratch;
    strbuf_init (&scratch);
    uint32_t n = 0;
    int rc = 0;
    json_skip_ws (j);
    if (*j->p == ']')
        j->p++;
    else
        while (true) {
            if ((rc = json_value (j, &scratch, depth + 1)) < 0)
                break;
            n++;
            json_skip_ws (j);
            if (*j->p == ',') {
                j->p++;
                continue;
            }
            if (*j->p == ']') {
                j->p++;
                break;
            }
            rc = json_fail (j, "expected ',' or ']'");
            break;
        }
    if (rc == 0) {
        strbuf_putc (out, 'a');
        put_u32 (out, n);
        strbuf_append (out, scratch.data, scratch.len);
    }
    strbuf_free (&scratch);
    return rc;
}

static int
json_value (json_t *j, strbuf_t *out, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        return json_fail (j, "nested too deeply");
    json_skip_ws (j);
    char c = *j->p;
    if (c == '{')
        return json_object (j, out, depth);
    if (c == '[')
        return json_array (j, out, depth);
    if (c == '"') {
        strbuf_putc (out, 's');
        size_t at = out->len;
        put_u32 (out, 0); /* length, patched below */
        if (json_string (j, out) < 0)
            return -1;
        size_t len = out->len - at - 4;
        out->data[at] = (char) (len >> 24);
        out->data[at + 1] = (char) (len >> 16);
        out->data[at + 2] = (char) (len >> 8);
        out->data[at + 3] = (char) len;
        return 0;
    }
    if (c == '-' || isdigit ((unsigned char) c)) {
        strbuf_putc (out, 'n');
        size_t at = out->len;
        put_u32 (out, 0);
        if (json_number (j, out) < 0)
            return -1;
        size_t len = out->len - at - 4;
        out->data[at] = (char) (len >> 24);
        out->data[at + 1] = (char) (len >> 16);
        out->data[at + 2] = (char) (len >> 8);
        out->data[at + 3] = (char) len;
        return 0;
    }
    static const struct {
        const char *word;
        char tag;
    } literals[] = {{"true", 't'}, {"false", 'f'}, {"null", 'z'}};
    for (size_t i = 0; i < sizeof literals / sizeof literals[0]; i++) {
        size_t len = strlen (literals[i].word);
        if (strncmp (j->p, literals[i].word, len) == 0) {
            j->p += len;
            strbuf_putc (out, literals[i].tag);
            return 0;
        }
    }
    return json_fail (j, "expected a JSON value");
}

static int
encode_json (const char *what, const char *text, strbuf_t *out, char *err, size_t errlen)
{
    if (!text) {
        snprintf (err, errlen, "%s: missing", what);
        return -1;
    }
    json_t j = {text, text, err, errlen, what};
    if (json_value (&j, out, 0) < 0)
        return -1;
    json_skip_ws (&j);
    if (*j.p)
        return json_fail (&j, "trailing characters");
    return 0;
}

//  ---------------------------------------------------------------- times

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t
days_from_civil (int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned) (y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t) doe - 719468;
}

static void
civil_from_days (int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned) (z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t) yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int) (yy + (*m <= 2));
}

/* Reads exactly n digits. */
static bool
digits (const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit ((unsigned char) (*p)[i]))
            return false;
        *v = *v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return true;
}

bool
digest_canonical_time (const char *text, char *out, size_t outlen)
{
    if (!text)
        return false;
    const char *p = text;
    int y, mo, d, h, mi, s;
    if (!digits (&p, 4, &y) || *p++ != '-' || !digits (&p, 2, &mo) || *p++ != '-'
        || !digits (&p, 2, &d) || (*p != ' ' && *p != 'T'))
        return false;
    p++;
    if (!digits (&p, 2, &h) || *p++ != ':' || !digits (&p, 2, &mi) || *p++ != ':'
        || !digits (&p, 2, &s))
        return false;
    long micros = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        while (isdigit ((unsigned char) *p)) {
            if (n == 6)
                return false; /* timestamptz keeps microseconds */
            micros = micros * 10 + (*p++ - '0');
            n++;
        }
        if (n == 0)
            return false;
        for (; n < 6; n++)
            micros *= 10;
    }
    long offset = 0; /* seconds east of UTC */
    if (*p == 'Z')
        p++;
    else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om = 0, os = 0;
        if (!digits (&p, 2, &oh))
            return false;
        if (*p == ':' || isdigit ((unsigned char) *p)) {
            if (*p == ':')
                p++;
            if (!digits (&p, 2, &om))
                return false;
            if (*p == ':') {
                p++;
                if (!digits (&p, 2, &os))
                    return false;
            }
        }
        offset = sign * (oh * 3600L + om * 60L + os);
    }
    else
        return false;
    if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || s > 60)
        return false;
    int64_t secs = days_from_civil (y, (unsigned) mo, (unsigned) d) * 86400 + h * 3600L
                   + mi * 60L + s - offset;
    int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    int64_t rem = secs - days * 86400;
    int yy;
    unsigned mm, dd;
    civil_from_days (days, &yy, &mm, &dd);
    if (yy < 1 || yy > 9999)
        return false;
    int n = snprintf (out, outlen, "%04d-%02u-%02uT%02d:%02d:%02d.%06ldZ", yy, mm, dd,
                      (int) (rem / 3600), (int) (rem / 60 % 60), (int) (rem % 60), micros);
    return n > 0 && (size_t) n < outlen;
}

//  ---------------------------------------------------------------- events

static int
encode_time (strbuf_t *out, const char *what, const char *text, bool nullable, char *err,
             size_t errlen)
{
    if (!text && nullable) {
        put_u32 (out, NULL_LENGTH);
        return 0;
    }
    char canon[40];
    if (!digest_canonical_time (text, canon, sizeof canon)) {
        snprintf (err, errlen, "%s: not a timestamp: \"%.60s\"", what, text ? text : "(null)");
        return -1;
    }
    put_text (out, canon);
    return 0;
}

static int
encode_required (strbuf_t *out, const char *what, const char *text, char *err,
                 size_t errlen)
{
    if (!text) {
        snprintf (err, errlen, "%s: missing", what);
        return -1;
    }
    put_text (out, text);
    return 0;
}

int
digest_encode_event (const digest_event_t *e, strbuf_t *out, char *err, size_t errlen)
{
    put_text (out, ENCODING_TAG);
    /* event_id: lower-case canonical UUID text */
    char id[37];
    const char *s = e->event_id ? e->event_id : "";
    size_t i = 0;
    for (; s[i] && i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit ((unsigned char) s[i]))
            break;
        id[i] = (char) tolower ((unsigned char) s[i]);
    }
    if (i != 36 || s[36]) {
        snprintf (err, errlen, "event_id: not a UUID: \"%.60s\"", s);
        return -1;
    }
    id[36] = '\0';
    put_text (out, id);
    if (encode_required (out, "agency", e->agency, err, errlen) < 0
        || encode_required (out, "adapter_id", e->adapter_id, err, errlen) < 0
        || encode_required (out, "case_no", e->case_no, err, errlen) < 0
        || encode_required (out, "event_type", e->event_type, err, errlen) < 0
        || encode_time (out, "occurred_at", e->occurred_at, false, err, errlen) < 0
        || encode_time (out, "accepted_at", e->accepted_at, true, err, errlen) < 0
        || encode_time (out, "received_at", e->received_at, false, err, errlen) < 0)
        return -1;
    char *end = NULL;
    long version = e->schema_version ? strtol (e->schema_version, &end, 10) : 0;
    if (!e->schema_version || !*e->schema_version || *end || version < -32768
        || version > 32767) {
        snprintf (err, errlen, "schema_version: not a smallint: \"%.20s\"",
                  e->schema_version ? e->schema_version : "(null)");
        return -1;
    }
    char vtext[8];
    snprintf (vtext, sizeof vtext, "%ld", version);
    put_text (out, vtext);
    if (encode_json ("keys", e->keys, out, err, errlen) < 0
        || encode_json ("attrs", e->attrs, out, err, errlen) < 0
        || encode_required (out, "hub_id", e->hub_id, err, errlen) < 0)
        return -1;
    return 0;
}

int
digest_event (const digest_event_t *e, strbuf_t *scratch, uint8_t digest[DIGEST_LEN],
              char *err, size_t errlen)
{
    strbuf_reset (scratch);
    if (digest_encode_event (e, scratch, err, errlen) < 0)
        return -1;
    SHA256 ((const unsigned char *) scratch->data, scratch->len, digest);
    return 0;
}

void
digest_link (const char *chain, int64_t seq, const uint8_t prev[DIGEST_LEN],
             const uint8_t content[DIGEST_LEN], uint8_t out[DIGEST_LEN])
{
    /* on the stack for the usual short chain name: called once per row */
    char seq_text[24];
    snprintf (seq_text, sizeof seq_text, "%lld", (long long) seq);
    size_t need = 5 * 4 + strlen (LINK_TAG) + strlen (chain) + strlen (seq_text)
                  + 2 * DIGEST_LEN;
    unsigned char space[256];
    unsigned char *buf = need <= sizeof space ? space : malloc (need);
    if (!buf)
        abort ();
    unsigned char *p = buf;
    p = put_lp (p, LINK_TAG, strlen (LINK_TAG));
    p = put_lp (p, chain, strlen (chain));
    p = put_lp (p, seq_text, strlen (seq_text));
    p = put_lp (p, prev, DIGEST_LEN);
    p = put_lp (p, content, DIGEST_LEN);
    SHA256 (buf, (size_t) (p - buf), out);
    if (buf != space)
        free (buf);
}

void
digest_hex (const uint8_t digest[DIGEST_LEN], char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < DIGEST_LEN; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[2 * DIGEST_LEN] = '\0';
}

bool
digest_from_hex (const char *hex, uint8_t digest[DIGEST_LEN])
{
    if (!hex)
        return false;
    if (hex[0] == '\\' && hex[1] == 'x')
        hex += 2;
    for (size_t i = 0; i < DIGEST_LEN; i++) {
        unsigned v = 0;
        for (int k = 0; k < 2; k++) {
            char c = hex[2 * i + (size_t) k];
            unsigned d;
            if (c >= '0' && c <= '9')
                d = (unsigned) (c - '0');
            else if (c >= 'a' && c <= 'f')
                d = (unsigned) (c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                d = (unsigned) (c - 'A' + 10);
            else
                return false;
            v = v * 16 + d;
        }
        digest[i] = (uint8_t) v;
    }
    return hex[2 * DIGEST_LEN] == '\0';
}
