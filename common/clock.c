/*  clock: time in milliseconds, see clock.h. */
#include "clock.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t
clock_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
clock_mono_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
clock_mono_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Reads exactly n digits at *p into *out and advances *p. */
static bool
read_digits (const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit ((unsigned char) (*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t
days_from_civil (int y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

bool
clock_parse_rfc3339 (const char *text, int64_t *ms)
{
    const char *p = text;
    int y, mo, d, h, mi, s, frac = 0;
    if (!read_digits (&p, 4, &y) || *p++ != '-' || !read_digits (&p, 2, &mo) || *p++ != '-'
        || !read_digits (&p, 2, &d))
        return false;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return false;
    p++;
    if (!read_digits (&p, 2, &h) || *p++ != ':' || !read_digits (&p, 2, &mi) || *p++ != ':'
        || !read_digits (&p, 2, &s))
        return false;
    if (*p == '.') {
        p++;
        int digits = 0;
        while (isdigit ((unsigned char) *p)) {
            if (digits < 3)
                frac = frac * 10 + (*p - '0');
            digits++;
            p++;
        }
        if (digits == 0)
            return false;
        for (; digits < 3; digits++)
            frac *= 10;
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z')
        p++;
    else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om = 0;
        p++;
        if (!read_digits (&p, 2, &oh))
            return false;
        if (*p == ':') {
            p++;
            if (!read_digits (&p, 2, &om)) /* "+08:" needs its minutes */
                return false;
        }
        else if (*p && !read_digits (&p, 2, &om))
            return false;
        if (oh > 23 || om > 59)
            return false;
        offset_min = sign * (oh * 60 + om);
    }
    else
        return false;
    if (*p != '\0')
        return false;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap)
        || h > 23 || mi > 59 || s > 60)
        return false;
    int64_t secs = days_from_civil (y, mo, d) * 86400 + h * 3600 + mi * 60 + s
                   - (int64_t) offset_min * 60;
    *ms = secs * 1000 + frac;
    return true;
}

static void
split_ms (int64_t ms, struct tm *tm, int *millis)
{
    int64_t secs = ms / 1000;
    int rem = (int) (ms % 1000);
    if (rem < 0) {
        rem += 1000;
        secs--;
    }
    time_t t = (time_t) secs;
    gmtime_r (&t, tm);
    *millis = rem;
}

void
clock_format_utc (int64_t ms, char *buf, size_t len)
{
    struct tm tm;
    int millis;
    split_ms (ms, &tm, &millis);
    snprintf (buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

void
clock_format_pg (int64_t ms, char *buf, size_t len)
{
    struct tm tm;
    int millis;
    split_ms (ms, &tm, &millis);
    snprintf (buf, len, "%04d-%02d-%02d %02d:%02d:%02d.%03d+00", tm.tm_year + 1900,
              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}
