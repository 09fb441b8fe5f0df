/*  log: one-line structured logs, see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

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
                  "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s proc=%s msg=\"%s\"",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                  tm.tm_sec, (long) (tv.tv_usec / 1000), level_names[level], s_proc, msg);
    if (n < 0)
        return;
    if ((size_t) n >= sizeof line - 2)
        n = sizeof line - 2;
    if (fields && *fields) {
        line[n++] = ' ';
        va_list args;
        va_start (args, fields);
        int m = vsnprintf (line + n, sizeof line - (size_t) n - 1, fields, args);
        va_end (args);
        if (m > 0)
            n += m < (int) (sizeof line - (size_t) n - 1)
                     ? m
                     : (int) (sizeof line - (size_t) n - 2);
    }
    for (int i = 0; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    /* one write per line so lines from threads never interleave */
    ssize_t rc = write (STDERR_FILENO, line, (size_t) n);
    (void) rc;
}
