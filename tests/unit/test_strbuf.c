/*  test_strbuf.c - unit tests for common/strbuf.c

    A standalone program: every failing case is printed with its file and
    line, a summary closes the run, and the exit status is 1 when any case
    failed. JSON escaping is checked independently by reading the output
    back with jansson; COPY escaping by an unescaper written here to the
    rules of PostgreSQL's COPY text format.
*/

#include "strbuf.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNIT_NAME "test_strbuf"
#include "unit.h"

/*  Checks that the buffer holds exactly the C string want.  */
#define CHECK_BUF(sb, want)                                                                \
    s_check_buf ((sb), (want), sizeof (want) - 1, #sb " holds " #want, __FILE__, __LINE__)

static void
s_check_buf (const strbuf_t *sb, const char *want, size_t want_len, const char *what,
             const char *file, int line)
{
    bool ok = sb->data && sb->len == want_len && memcmp (sb->data, want, want_len) == 0
              && sb->data[sb->len] == '\0' && sb->cap > sb->len;
    char detail[512] = "";
    if (!ok)
        snprintf (detail, sizeof detail, "got %zu bytes \"%.400s\"", sb->len,
                  sb->data ? sb->data : "(null)");
    s_check (ok, what, detail, file, line);
}

/*  Growth: appends of every size, reserve, reset, free.  */
static void
s_test_growth (void)
{
    strbuf_t sb;
    strbuf_init (&sb);
    CHECK (sb.data == NULL && sb.len == 0 && sb.cap == 0);

    //  One byte at a time, past many doublings.
    for (int i = 0; i < 100000; i++)
        strbuf_putc (&sb, (char) ('a' + i % 26));
    CHECK (sb.len == 100000);
    CHECK (sb.cap > sb.len);
    CHECK (sb.data[sb.len] == '\0');
    bool same = true;
    for (int i = 0; i < 100000; i++)
        if (sb.data[i] != (char) ('a' + i % 26))
            same = false;
    CHECK (same);

    //  Reset keeps the memory.
    size_t cap = sb.cap;
    char *data = sb.data;
    strbuf_reset (&sb);
    CHECK (sb.len == 0 && sb.cap == cap && sb.data == data && sb.data[0] == '\0');
    strbuf_puts (&sb, "again");
    CHECK_BUF (&sb, "again");
    strbuf_free (&sb);
    CHECK (sb.data == NULL && sb.len == 0 && sb.cap == 0);
    strbuf_free (&sb);  //  twice is harmless
    strbuf_reset (&sb); //  and so is resetting an empty one

    //  One large append, then appends of growing sizes.
    char *big = malloc (70000);
    for (int i = 0; i < 70000; i++)
        big[i] = (char) (i % 251);
    strbuf_append (&sb, big, 70000);
    CHECK (sb.len == 70000 && memcmp (sb.data, big, 70000) == 0 && sb.data[70000] == '\0');
    strbuf_reset (&sb);
    size_t total = 0;
    for (size_t n = 0; n < 600; n++) {
        strbuf_append (&sb, big, n);
        total += n;
    }
    CHECK (sb.len == total);
    CHECK (memcmp (sb.data + total - 599, big, 599) == 0);
    strbuf_free (&sb);
    free (big);

    //  Reserve: afterwards the appends fit without moving the data.
    strbuf_reserve (&sb, 5000);
    CHECK (sb.cap >= 5001);
    data = sb.data;
    for (int i = 0; i < 5000; i++)
        strbuf_putc (&sb, 'x');
    CHECK (sb.data == data && sb.len == 5000);
    strbuf_reserve (&sb, 0);
    CHECK (sb.data == data);
    strbuf_free (&sb);

    //  Embedded NUL bytes are data like any other.
    strbuf_append (&sb, "a\0b", 3);
    CHECK (sb.len == 3 && memcmp (sb.data, "a\0b", 4) == 0);
    strbuf_append (&sb, "", 0);
    CHECK (sb.len == 3);
    strbuf_free (&sb);
}

/*  printf appends, grows, and adds nothing for an empty result.  */
static void
s_test_printf (void)
{
    strbuf_t sb;
    strbuf_init (&sb);
    strbuf_printf (&sb, "%s=%d", "batch", 42);
    CHECK_BUF (&sb, "batch=42");
    strbuf_printf (&sb, " %.3f %lld %zu", 1.5, -9000000000000LL, (size_t) 7);
    CHECK_BUF (&sb, "batch=42 1.500 -9000000000000 7");
    strbuf_printf (&sb, "%s", "");
    CHECK_BUF (&sb, "batch=42 1.500 -9000000000000 7");
    strbuf_printf (&sb, "%s", "案件");
    CHECK_BUF (&sb, "batch=42 1.500 -9000000000000 7案件");

    //  Much longer than the first allocation.
    strbuf_reset (&sb);
    strbuf_puts (&sb, "<");
    strbuf_printf (&sb, "%0*d", 3000, 7);
    strbuf_puts (&sb, ">");
    CHECK (sb.len == 3002);
    CHECK (sb.data[0] == '<' && sb.data[1] == '0' && sb.data[3000] == '7'
           && sb.data[3001] == '>' && sb.data[3002] == '\0');

    //  Many appends after a reset.
    strbuf_reset (&sb);
    for (int i = 0; i < 1000; i++)
        strbuf_printf (&sb, "%d,", i);
    char expect[8000];
    size_t used = 0;
    for (int i = 0; i < 1000; i++)
        used += (size_t) snprintf (expect + used, sizeof expect - used, "%d,", i);
    CHECK (sb.len == used && strcmp (sb.data, expect) == 0);
    strbuf_free (&sb);
}

/*  Reads a JSON string literal back with jansson; true if it equals want.  */
static bool
s_json_reads_back (const strbuf_t *sb, const char *want)
{
    json_error_t jerr;
    json_t *v = json_loadb (sb->data, sb->len, JSON_DECODE_ANY, &jerr);
    bool ok = v && json_is_string (v) && strcmp (json_string_value (v), want) == 0;
    json_decref (v);
    return ok;
}

/*  JSON string literals: quotes, backslash, controls, UTF-8 untouched.  */
static void
s_test_json_string (void)
{
    strbuf_t sb;
    strbuf_init (&sb);
    strbuf_json_string (&sb, "");
    CHECK_BUF (&sb, "\"\"");
    strbuf_reset (&sb);
    strbuf_json_string (&sb, "plain");
    CHECK_BUF (&sb, "\"plain\"");
    strbuf_reset (&sb);
    strbuf_json_string (&sb, "say \"hi\"");
    CHECK_BUF (&sb, "\"say \\\"hi\\\"\"");
    strbuf_reset (&sb);
    strbuf_json_string (&sb, "C:\\dir\\");
    CHECK_BUF (&sb, "\"C:\\\\dir\\\\\"");
    strbuf_reset (&sb);
    strbuf_json_string (&sb, "a\x01"
                             "b");
    CHECK_BUF (&sb, "\"a\\u0001b\"");
    strbuf_reset (&sb);
    strbuf_json_string (&sb, "\t\n\r\x1f");
    CHECK (s_json_reads_back (&sb, "\t\n\r\x1f"));
    CHECK (strstr (sb.data, "\x1f") == NULL && strchr (sb.data, '\n') == NULL);
    strbuf_reset (&sb);
    strbuf_json_string (&sb, "/ and \x7f stay");
    CHECK_BUF (&sb, "\"/ and \x7f stay\"");

    //  Chinese text passes through byte for byte.
    strbuf_reset (&sb);
    strbuf_json_string (&sb, "宁夏彭阳县 不动产登记 \"转移\"");
    CHECK_BUF (&sb, "\"宁夏彭阳县 不动产登记 \\\"转移\\\"\"");
    CHECK (s_json_reads_back (&sb, "宁夏彭阳县 不动产登记 \"转移\""));
    strbuf_reset (&sb);
    strbuf_json_string (&sb, "\xf0\x9f\x98\x80"); //  a 4-byte character
    CHECK_BUF (&sb, "\"\xf0\x9f\x98\x80\"");

    //  Appends after what is already there.
    strbuf_reset (&sb);
    strbuf_puts (&sb, "{\"k\":");
    strbuf_json_string (&sb, "v");
    strbuf_putc (&sb, '}');
    CHECK_BUF (&sb, "{\"k\":\"v\"}");

    //  Every single ASCII character reads back as itself, and nothing
    //  below 0x20 is ever written raw.
    int bad = 0;
    for (int c = 1; c < 128; c++) {
        char s[4] = {'x', (char) c, 'y', '\0'};
        strbuf_reset (&sb);
        strbuf_json_string (&sb, s);
        if (!s_json_reads_back (&sb, s))
            bad++;
        for (size_t i = 0; i < sb.len; i++)
            if ((unsigned char) sb.data[i] < 0x20)
                bad++;
    }
    CHECK (bad == 0);

    //  A long string of escapes grows the buffer correctly.
    char *many = malloc (20001);
    for (int i = 0; i < 20000; i++)
        many[i] = "\"\\\x02"[i % 3];
    many[20000] = '\0';
    strbuf_reset (&sb);
    strbuf_json_string (&sb, many);
    CHECK (s_json_reads_back (&sb, many));
    free (many);
    strbuf_free (&sb);
}

/*  Undoes COPY text escaping (the backslash sequences strbuf writes).  */
static size_t
s_copy_unescape (const char *s, size_t len, char *out)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\\') {
            out[n++] = s[i];
            continue;
        }
        i++;
        switch (s[i]) {
        case 't': out[n++] = '\t'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        default: out[n++] = s[i];
        }
    }
    return n;
}

/*  COPY text fields: tab, newline, CR and backslash escaped, nothing else.  */
static void
s_test_copy_field (void)
{
    strbuf_t sb;
    strbuf_init (&sb);
    strbuf_copy_field (&sb, "", 0);
    CHECK (sb.len == 0);
    strbuf_copy_field (&sb, "plain", 5);
    CHECK_BUF (&sb, "plain");
    strbuf_reset (&sb);
    strbuf_copy_field (&sb, "a\tb", 3);
    CHECK_BUF (&sb, "a\\tb");
    strbuf_reset (&sb);
    strbuf_copy_field (&sb, "line1\nline2", 11);
    CHECK_BUF (&sb, "line1\\nline2");
    strbuf_reset (&sb);
    strbuf_copy_field (&sb, "crlf\r\n", 6);
    CHECK_BUF (&sb, "crlf\\r\\n");
    strbuf_reset (&sb);
    strbuf_copy_field (&sb, "C:\\dir", 6);
    CHECK_BUF (&sb, "C:\\\\dir");
    strbuf_reset (&sb);
    //  "\N" would be NULL in COPY if the backslash were not doubled.
    strbuf_copy_field (&sb, "\\N", 2);
    CHECK_BUF (&sb, "\\\\N");
    strbuf_reset (&sb);
    strbuf_copy_field (&sb, "宁夏\t彭阳", 13);
    CHECK_BUF (&sb, "宁夏\\t彭阳");
    strbuf_reset (&sb);
    strbuf_copy_field (&sb, "{\"a\": \"x\"}", 10);
    CHECK_BUF (&sb, "{\"a\": \"x\"}");

    //  len bounds the field; the rest of s is not read.
    strbuf_reset (&sb);
    strbuf_copy_field (&sb, "abc\tdef", 4);
    CHECK_BUF (&sb, "abc\\t");

    //  Fields follow what is already in the buffer, as in a COPY row.
    strbuf_reset (&sb);
    strbuf_copy_field (&sb, "a\tb", 3);
    strbuf_putc (&sb, '\t');
    strbuf_copy_field (&sb, "c\\d", 3);
    strbuf_putc (&sb, '\n');
    CHECK_BUF (&sb, "a\\tb\tc\\\\d\n");

    //  Worst case (every byte escaped) well past the first allocation, and
    //  every byte value reads back through the unescaper.
    strbuf_reset (&sb);
    char *worst = malloc (30000);
    for (int i = 0; i < 30000; i++)
        worst[i] = "\\\t\n\r"[i % 4];
    strbuf_copy_field (&sb, worst, 30000);
    CHECK (sb.len == 60000 && sb.data[60000] == '\0');
    char *back = malloc (60000);
    CHECK (s_copy_unescape (sb.data, sb.len, back) == 30000
           && memcmp (back, worst, 30000) == 0);
    bool raw = false;
    for (size_t i = 0; i < sb.len; i++)
        if (sb.data[i] == '\t' || sb.data[i] == '\n' || sb.data[i] == '\r')
            raw = true;
    CHECK (!raw);

    char all[255];
    for (int i = 0; i < 255; i++)
        all[i] = (char) (i + 1);
    strbuf_reset (&sb);
    strbuf_copy_field (&sb, all, sizeof all);
    CHECK (s_copy_unescape (sb.data, sb.len, back) == sizeof all
           && memcmp (back, all, sizeof all) == 0);
    free (worst);
    free (back);
    strbuf_free (&sb);
}

/*  bytea as COPY text: a doubled backslash, x, lower-case hex.  */
static void
s_test_copy_bytea (void)
{
    strbuf_t sb;
    strbuf_init (&sb);
    strbuf_copy_bytea (&sb, (const uint8_t *) "", 0);
    CHECK_BUF (&sb, "\\\\x");
    strbuf_reset (&sb);
    static const uint8_t bytes[] = {0x00, 0xff, 0x10, 0x0a, 0x5c, 0xab};
    strbuf_copy_bytea (&sb, bytes, sizeof bytes);
    CHECK_BUF (&sb, "\\\\x00ff100a5cab");
    strbuf_reset (&sb);
    strbuf_puts (&sb, "id\t");
    strbuf_copy_bytea (&sb, bytes, 2);
    strbuf_putc (&sb, '\n');
    CHECK_BUF (&sb, "id\t\\\\x00ff\n");

    //  Large payloads grow the buffer; every byte value in order.
    strbuf_reset (&sb);
    uint8_t *payload = malloc (100000);
    for (int i = 0; i < 100000; i++)
        payload[i] = (uint8_t) i;
    strbuf_copy_bytea (&sb, payload, 100000);
    CHECK (sb.len == 3 + 200000 && sb.data[sb.len] == '\0');
    bool ok = true;
    for (int i = 0; i < 100000 && ok; i++) {
        unsigned v;
        char hex[3] = {sb.data[3 + 2 * i], sb.data[4 + 2 * i], '\0'};
        if (sscanf (hex, "%2x", &v) != 1 || v != payload[i]
            || (hex[0] >= 'A' && hex[0] <= 'F') || (hex[1] >= 'A' && hex[1] <= 'F'))
            ok = false;
    }
    CHECK (ok);
    free (payload);
    strbuf_free (&sb);
}

/*  Numbers are written as the shortest decimal that reads back the same:
    what an agency wrote (2718.44, 84.7) comes out digit for digit.  */
static void
s_test_put_double (void)
{
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {2718.44, "2718.44"},
        {84.7, "84.7"},
        {0.1, "0.1"},
        {96.5, "96.5"},
        {-0.5, "-0.5"},
        {1e20, "1e+20"},
        {123456789012.34, "123456789012.34"},
        {0.1 + 0.2, "0.30000000000000004"}, //  a computed value keeps its digits
        {1.0 / 3.0, "0.3333333333333333"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        strbuf_t sb;
        strbuf_init (&sb);
        strbuf_put_double (&sb, cases[i].v);
        CHECK_MSG (strcmp (sb.data, cases[i].want) == 0, sb.data);
        CHECK (strtod (sb.data, NULL) == cases[i].v);
        strbuf_free (&sb);
    }
    CHECK (strbuf_double_digits (2718.44) == 15);
    CHECK (strbuf_double_digits (9999999999999.99) == 15);
    CHECK (strbuf_double_digits (0.1 + 0.2) == 17);
    CHECK (strbuf_double_digits (12345678901234567.89) > 15);
}

/*  Query-string encoding: every byte but the unreserved ones as %XX.  */
static void
s_test_url_encode (void)
{
    strbuf_t sb;
    strbuf_init (&sb);
    strbuf_url_encode (&sb, "彭阳 a&b=c/~x_y.z-1");
    CHECK_BUF (&sb, "%E5%BD%AD%E9%98%B3%20a%26b%3Dc%2F~x_y.z-1");
    strbuf_free (&sb);
}

/*  Runs every group, prints the summary; exit status 1 on any failure.  */
int
main (void)
{
    s_test_growth ();
    s_test_printf ();
    s_test_json_string ();
    s_test_copy_field ();
    s_test_copy_bytea ();
    s_test_put_double ();
    s_test_url_encode ();
    return s_summary ();
}
