/*  test_log.c - unit tests for common/log.c

    log_q must make any value one logfmt field: whatever bytes it holds,
    a logfmt reader written here from the format's rules (key=value pairs
    separated by spaces; a value bare, or in double quotes with \" \\ \t
    \n \r and \xNN escapes) reads back exactly the fields that were
    written, with the value's bytes unchanged. The forged case number from
    the hostile-input run is the first case.
*/

#include "log.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UNIT_NAME "test_log"
#include "unit.h"

typedef struct {
    char key[64];
    char value[8192];
    size_t len;
} field_t;

static int
s_hex (char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/*  Reads a logfmt line into fields; returns how many, -1 when the line is
    not logfmt.  */
static int
s_parse (const char *line, field_t *fields, int max)
{
    int n = 0;
    const char *p = line;
    while (*p && *p != '\n') {
        while (*p == ' ')
            p++;
        if (!*p || *p == '\n')
            break;
        if (n == max)
            return -1;
        field_t *f = &fields[n++];
        size_t k = 0;
        while (*p && *p != '=' && *p != ' ') {
            if (k + 1 < sizeof f->key)
                f->key[k++] = *p;
            p++;
        }
        f->key[k] = '\0';
        if (*p != '=')
            return -1;
        p++;
        f->len = 0;
        if (*p == '"') {
            p++;
            while (*p && *p != '"') {
                char c = *p++;
                if (c == '\\') {
                    char e = *p++;
                    if (e == 'x') {
                        int hi = s_hex (p[0]), lo = hi >= 0 ? s_hex (p[1]) : -1;
                        if (lo < 0)
                            return -1;
                        c = (char) (hi * 16 + lo);
                        p += 2;
                    }
                    else if (e == 't' || e == 'n' || e == 'r')
                        c = e == 't' ? '\t' : e == 'n' ? '\n' : '\r';
                    else if (e == '"' || e == '\\')
                        c = e;
                    else
                        return -1;
                }
                else if ((unsigned char) c < ' ')
                    return -1; /* a raw control byte inside a value */
                f->value[f->len++] = c;
            }
            if (*p != '"')
                return -1;
            p++;
            if (*p && *p != ' ' && *p != '\n')
                return -1;
        }
        else
            while (*p && *p != ' ' && *p != '\n') {
                if (*p == '"' || *p == '=')
                    return -1;
                f->value[f->len++] = *p++;
            }
        f->value[f->len] = '\0';
    }
    return n;
}

/*  Writes one log line with the given value in three fields and reads the
    line back from the captured stderr.  */
static void
s_round_trip (const char *value, size_t len, const char *name)
{
    char path[] = "/tmp/test_log_XXXXXX";
    int fd = mkstemp (path);
    CHECK (fd >= 0);
    fflush (stderr);
    int saved = dup (STDERR_FILENO);
    dup2 (fd, STDERR_FILENO);
    log_warn ("event rejected", "case=%s reason=%s code=NONE", log_qn (value, len),
              log_qn (value, len));
    dup2 (saved, STDERR_FILENO);
    close (saved);
    char line[16384] = "";
    lseek (fd, 0, SEEK_SET);
    ssize_t got = read (fd, line, sizeof line - 1);
    close (fd);
    unlink (path);
    line[got > 0 ? got : 0] = '\0';
    CHECK_MSG (strchr (line, '\n') == line + strlen (line) - 1, name);
    field_t fields[16];
    int n = s_parse (line, fields, 16);
    char detail[600];
    snprintf (detail, sizeof detail, "%s: %.500s", name, line);
    CHECK_MSG (n == 7, detail);
    if (n != 7)
        return;
    CHECK_MSG (STREQ (fields[0].key, "ts") && STREQ (fields[1].key, "level")
                   && STREQ (fields[2].key, "proc") && STREQ (fields[3].key, "msg")
                   && STREQ (fields[4].key, "case") && STREQ (fields[5].key, "reason")
                   && STREQ (fields[6].key, "code"),
               detail);
    CHECK_MSG (STREQ (fields[3].value, "event rejected"), detail);
    CHECK_MSG (STREQ (fields[6].value, "NONE"), detail);
    bool cut = len > LOG_Q_MAX;
    for (int i = 4; i <= 5; i++) {
        if (!cut)
            CHECK_MSG (fields[i].len == len && memcmp (fields[i].value, value, len) == 0,
                       detail);
        else
            CHECK_MSG (fields[i].len <= LOG_Q_MAX + 3
                           && memcmp (fields[i].value + fields[i].len - 3, "...", 3) == 0
                           && memcmp (fields[i].value, value, fields[i].len - 3) == 0,
                       detail);
    }
}

#define ROUND_TRIP(s) s_round_trip ((s), sizeof (s) - 1, #s)

/*  A line whose fields do not fit: the fields that do are written whole,
    the rest are dropped and the line ends in truncated=true, so it still
    reads as logfmt. SHORT fields a=... come before two values of control
    bytes, each near 4 KiB once escaped.  */
static void
s_too_long (int n_short, const char *name)
{
    static char control[LOG_Q_MAX];
    memset (control, 1, sizeof control);
    char path[] = "/tmp/test_log_XXXXXX";
    int fd = mkstemp (path);
    CHECK (fd >= 0);
    fflush (stderr);
    int saved = dup (STDERR_FILENO);
    dup2 (fd, STDERR_FILENO);
    if (n_short)
        log_warn ("event rejected", "a=one b=\"two words\" case=%s reason=%s",
                  log_qn (control, sizeof control), log_qn (control, sizeof control));
    else
        log_warn ("event rejected", "case=%s reason=%s", log_qn (control, sizeof control),
                  log_qn (control, sizeof control));
    dup2 (saved, STDERR_FILENO);
    close (saved);
    static char line[16384];
    lseek (fd, 0, SEEK_SET);
    ssize_t got = read (fd, line, sizeof line - 1);
    close (fd);
    unlink (path);
    line[got > 0 ? got : 0] = '\0';
    CHECK_MSG (got > 0 && got <= 4096 && strchr (line, '\n') == line + got - 1, name);
    static field_t fields[16];
    int n = s_parse (line, fields, 16);
    CHECK_MSG (n == 5 + n_short, name);
    if (n != 5 + n_short)
        return;
    CHECK_MSG (STREQ (fields[3].value, "event rejected"), name);
    if (n_short)
        CHECK_MSG (STREQ (fields[4].key, "a") && STREQ (fields[4].value, "one")
                       && STREQ (fields[5].key, "b")
                       && STREQ (fields[5].value, "two words"),
                   name);
    CHECK_MSG (STREQ (fields[n - 1].key, "truncated")
                   && STREQ (fields[n - 1].value, "true"),
               name);
}

int
main (void)
{
    log_init ("test", LOG_DEBUG);
    /* the forged case number of the hostile-input run */
    ROUND_TRIP ("x\" code=NONE level=info msg=\"FORGED LINE");
    ROUND_TRIP ("HX-2026-0001");
    ROUND_TRIP ("");
    ROUND_TRIP ("a b");
    ROUND_TRIP ("k=v");
    ROUND_TRIP ("back\\slash\\");
    ROUND_TRIP ("two\nlines\r\n\tand a tab");
    ROUND_TRIP ("彭阳县 不动产登记中心");
    ROUND_TRIP ("NUL\0inside");
    ROUND_TRIP ("bad \xff\xfe utf-8 \xe4\xb8");
    ROUND_TRIP ("\x01\x1f\x7f");
    ROUND_TRIP ("ERROR:  duplicate key value violates unique constraint \"events_pkey\"");

    /* bare where a reader needs no quotes, quoted where it does */
    CHECK (STREQ (log_q ("land-01"), "land-01"));
    CHECK (STREQ (log_q (NULL), "\"\""));
    CHECK (STREQ (log_q (""), "\"\""));
    CHECK (STREQ (log_q ("a\"b"), "\"a\\\"b\""));
    CHECK (STREQ (log_q ("\xff"), "\"\\xFF\""));
    CHECK (STREQ (log_q ("房"), "房"));

    /* long values are cut at a character, never inside one */
    static char long_value[3 * LOG_Q_MAX + 1]; /* and its NUL */
    for (size_t i = 0; i + 3 < sizeof long_value; i += 3)
        memcpy (long_value + i, "县", 3);
    s_round_trip (long_value, sizeof long_value - 1, "3 KiB of CJK");
    const char *q = log_q (long_value);
    size_t qlen = strlen (q);
    CHECK (qlen <= LOG_Q_MAX + 5 && memcmp (q + qlen - 4, "...\"", 4) == 0);
    CHECK ((qlen - 5) % 3 == 0);

    /* fields past the line's 4 KiB are dropped whole */
    s_too_long (0, "no field fits");
    s_too_long (2, "two short fields fit");

    /* the ring: LOG_Q_SLOTS values in one call stay distinct */
    const char *slots[LOG_Q_SLOTS];
    char vals[LOG_Q_SLOTS][8];
    for (int i = 0; i < LOG_Q_SLOTS; i++) {
        snprintf (vals[i], sizeof vals[i], "v%d", i);
        slots[i] = log_q (vals[i]);
    }
    for (int i = 0; i < LOG_Q_SLOTS; i++)
        CHECK (STREQ (slots[i], vals[i]));
    return s_summary ();
}
