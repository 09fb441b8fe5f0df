/*  log: one-line structured logs, see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "strbuf.h"

static const char *s_proc = "onenet"; /* proc= field of every line */
static log_level_t s_min = LOG_INFO;  /* lines below this level are dropped */

static const char *level_names[] = {"debug", "info", "warn", "error"};

void
log_init (const char *proc, log_level_t min_level)
{
    s_proc = proc;
    s_min = min_level;
}

bool
log_level_parse (const char *text, log_level_t *level)
{
    for (int i = 0; i < 4; i++)
        if (strcmp (text, level_names[i]) == 0) {
            *level = (log_level_t) i;
            return true;
        }
    return false;
}

/* Bytes of the UTF-8 character at p[i], 0 when it is not one (or is NUL);
   never reads past len. */
static size_t
s_char_len (const unsigned char *p, size_t i, size_t len)
{
    unsigned char tail[5] = {0};
    if (!p[i])
        return 0;
    if (len - i >= 4)
        return utf8_char_len (p + i);
    memcpy (tail, p + i, len - i);
    return utf8_char_len (tail);
}

const char *
log_qn (const char *value, size_t len)
{
    static _Thread_local char ring[LOG_Q_SLOTS][LOG_Q_MAX * 4 + 8];
    static _Thread_local unsigned next;
    static const char hex[] = "0123456789ABCDEF";
    char *out = ring[next++ % LOG_Q_SLOTS];
    const unsigned char *p = (const unsigned char *) (value ? value : "");
    if (!value)
        len = 0;
    bool bare = len > 0;
    for (size_t i = 0; bare && i < len;) {
        size_t n = s_char_len (p, i, len);
        if (n == 0 || p[i] <= ' ' || p[i] == '"' || p[i] == '='
            || p[i] == '\\' || p[i] == 0x7f)
            bare = false;
        i += n ? n : 1;
    }
    size_t used = 0;
    if (bare && len <= LOG_Q_MAX) {
        memcpy (out, p, len);
        out[len] = '\0';
        return out;
    }
    out[used++] = '"';
    size_t i = 0;
    while (i < len && i < LOG_Q_MAX) {
        size_t n = s_char_len (p, i, len);
        if (n > 0 && i + n > LOG_Q_MAX)
            break; /* a character never cut in half */
        unsigned char c = p[i];
        if (n == 1 && (c == '"' || c == '\\')) {
            out[used++] = '\\';
            out[used++] = (char) c;
        }
        else if (n == 1 && (c == '\t' || c == '\n' || c == '\r')) {
            out[used++] = '\\';
            out[used++] = c == '\t' ? 't' : c == '\n' ? 'n' : 'r';
        }
        else if (n == 0 || c < ' ' || c == 0x7f) {
            out[used++] = '\\';
            out[used++] = 'x';
            out[used++] = hex[c >> 4];
            out[used++] = hex[c & 15];
            n = 1;
        }
        else {
            memcpy (out + used, p + i, n);
            used += n;
        }
        i += n;
    }
    if (i < len) {
        memcpy (out + used, "...", 3);
        used += 3;
    }
    out[used++] = '"';
    out[used] = '\0';
    return out;
}

const char *
log_q (const char *value)
{
    return log_qn (value, value ? strlen (value) : 0);
}

/* msg is always quoted, as every line has always had it */
static const char *
s_msg_q (const char *msg)
{
    const char *q = log_q (msg);
    if (*q == '"')
        return q;
    static _Thread_local char quoted[LOG_Q_MAX + 3];
    snprintf (quoted, sizeof quoted, "\"%s\"", q);
    return quoted;
}

/* Fields that do not fit in a line are dropped whole, never cut inside a
   quoted value, and the line ends in this field instead. */
#define LOG_TRUNCATED " truncated=true"

/* The end of the last whole field in line[start..end), the fields that
   vsnprintf cut short; start - 1 (the space before them) when none is. */
static int
s_whole_fields (const char *line, int start, int end)
{
    int last = start - 1;
    bool quoted = false;
    for (int i = start; i < end; i++) {
        if (quoted && line[i] == '\\')
            i++;
        else if (line[i] == '"')
            quoted = !quoted;
        else if (!quoted && line[i] == ' ')
            last = i;
    }
    return last;
}

void
log_write (log_level_t level, const char *msg, const char *fields, ...)
{
    if (level < s_min)
        return;
    char line[4096];
    struct timeval tv;
    gettimeofday (&tv, NULL);
    struct tm tm;
    gmtime_r (&tv.tv_sec, &tm);
    int n =
        snprintf (line, sizeof line,
                  "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s proc=%s msg=%s",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                  tm.tm_sec, (long) (tv.tv_usec / 1000), level_names[level], s_proc,
                  s_msg_q (msg));
    if (n < 0)
        return;
    if ((size_t) n >= sizeof line - 2)
        n = sizeof line - 2;
    /* room for the fields, keeping LOG_TRUNCATED and the newline */
    int room = (int) (sizeof line - sizeof LOG_TRUNCATED) - n - 1;
    if (fields && *fields && room > 1) {
        line[n++] = ' ';
        va_list args;
        va_start (args, fields);
        int m = vsnprintf (line + n, (size_t) room, fields, args);
        va_end (args);
        if (m >= room) {
            n = s_whole_fields (line, n, n + room - 1);
            memcpy (line + n, LOG_TRUNCATED, sizeof LOG_TRUNCATED - 1);
            n += (int) sizeof LOG_TRUNCATED - 1;
        }
        else if (m > 0)
            n += m;
        else
            n--; /* nothing printed: no trailing space */
    }
    for (int i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    /* one write per line so lines from threads never interleave */
    ssize_t rc = write (STDERR_FILENO, line, (size_t) n);
    (void) rc;
}
