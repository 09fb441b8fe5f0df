/*  test_clock.c - unit tests for common/clock.c

    A standalone program: every failing case is printed with its file and
    line, a summary closes the run, and the exit status is 1 when any case
    failed. RFC 3339 parsing is checked against instants computed
    independently (Python's datetime), and formatting is checked by round
    trips over many generated instants, before and after 1970, and against
    the C library's timegm().
*/

#include "clock.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define UNIT_NAME "test_clock"
#include "unit.h"

/*  Checks that text parses to want ms.  */
#define CHECK_PARSE(text, want) s_check_parse ((text), (want), __FILE__, __LINE__)

/*  Checks that text is refused.  */
#define CHECK_REJECT(text) s_check_reject ((text), __FILE__, __LINE__)

static void
s_check_parse (const char *text, int64_t want, const char *file, int line)
{
    int64_t got = -123456789;
    bool ok = clock_parse_rfc3339 (text, &got);
    char what[160];
    char detail[120] = "";
    snprintf (what, sizeof what, "clock_parse_rfc3339 (\"%s\") == %lld", text,
              (long long) want);
    if (!ok)
        snprintf (detail, sizeof detail, "refused");
    else if (got != want)
        snprintf (detail, sizeof detail, "got %lld", (long long) got);
    s_check (ok && got == want, what, detail, file, line);
}

static void
s_check_reject (const char *text, const char *file, int line)
{
    int64_t got = 0;
    bool ok = clock_parse_rfc3339 (text, &got);
    char what[160];
    char detail[80] = "";
    snprintf (what, sizeof what, "clock_parse_rfc3339 refuses \"%s\"", text);
    if (ok)
        snprintf (detail, sizeof detail, "accepted as %lld", (long long) got);
    s_check (!ok, what, detail, file, line);
}

/*  Offsets: Z, colon and compact forms, negative half-hour offsets.  */
static void
s_test_offsets (void)
{
    //  2020-09-01T01:31:07Z in every spelling.
    CHECK_PARSE ("2020-09-01T01:31:07Z", 1598923867000);
    CHECK_PARSE ("2020-09-01T01:31:07z", 1598923867000);
    CHECK_PARSE ("2020-09-01t01:31:07Z", 1598923867000);
    CHECK_PARSE ("2020-09-01T09:31:07+08:00", 1598923867000);
    CHECK_PARSE ("2020-09-01T09:31:07+0800", 1598923867000);
    CHECK_PARSE ("2020-09-01 09:31:07+08", 1598923867000);
    CHECK_PARSE ("2020-09-01T01:31:07+00:00", 1598923867000);
    CHECK_PARSE ("2020-09-01T01:31:07-00:00", 1598923867000);
    CHECK_PARSE ("2020-08-31T20:01:07-05:30", 1598923867000);
    CHECK_PARSE ("2020-08-31T20:01:07-0530", 1598923867000);
    CHECK_PARSE ("2020-09-01T09:31:07-05:30", 1598972467000);
    CHECK_PARSE ("2020-09-02T01:30:07+23:59", 1598923867000);

    //  Missing or malformed offsets.
    CHECK_REJECT ("2020-09-01T09:31:07");
    CHECK_REJECT ("2020-09-01T09:31:07.250");
    CHECK_REJECT ("2020-09-01T09:31:07+8:00");
    CHECK_REJECT ("2020-09-01T09:31:07+08:0");
    CHECK_REJECT ("2020-09-01T09:31:07+080");
    CHECK_REJECT ("2020-09-01T09:31:07+08:00:00");
    CHECK_REJECT ("2020-09-01T09:31:07+24:00");
    CHECK_REJECT ("2020-09-01T09:31:07+08:60");
    CHECK_REJECT ("2020-09-01T09:31:07 +08:00");
    CHECK_REJECT ("2020-09-01T09:31:07UTC");
    CHECK_REJECT ("2020-09-01T09:31:07+");
    //  A dangling colon is not an offset of "+08:00".
    CHECK_REJECT ("2020-09-01T09:31:07+08:");
}

/*  Fractions of a second: kept to the millisecond, extra digits dropped.  */
static void
s_test_fractions (void)
{
    CHECK_PARSE ("2020-09-01T09:31:07.5+08:00", 1598923867500);
    CHECK_PARSE ("2020-09-01T09:31:07.25+08:00", 1598923867250);
    CHECK_PARSE ("2020-09-01T09:31:07.123+08:00", 1598923867123);
    CHECK_PARSE ("2020-09-01T09:31:07.123456+08:00", 1598923867123);
    CHECK_PARSE ("2020-09-01T09:31:07.999999999Z", 1598952667999);
    CHECK_PARSE ("2020-09-01T09:31:07.000Z", 1598952667000);
    CHECK_PARSE ("2020-09-01T09:31:07.250Z", 1598952667250);
    CHECK_PARSE ("2020-09-01T09:31:07.250+00:00", 1598952667250);
    CHECK_REJECT ("2020-09-01T09:31:07.Z");
    CHECK_REJECT ("2020-09-01T09:31:07.+08:00");
    CHECK_REJECT ("2020-09-01T09:31:07,5Z");
    CHECK_REJECT ("2020-09-01T09:31:07.5.5Z");
}

/*  Calendar: leap days, year and month ends, field ranges.  */
static void
s_test_calendar (void)
{
    CHECK_PARSE ("2020-02-29T12:00:00Z", 1582977600000);
    CHECK_PARSE ("2000-02-29T00:00:00Z", 951782400000);
    CHECK_REJECT ("2021-02-29T12:00:00Z");
    CHECK_REJECT ("1900-02-29T12:00:00Z"); //  divisible by 100, not by 400
    CHECK_REJECT ("2020-02-30T12:00:00Z");
    CHECK_REJECT ("2020-04-31T12:00:00Z");
    CHECK_REJECT ("2020-06-31T12:00:00Z");
    CHECK_REJECT ("2020-09-31T12:00:00Z");
    CHECK_REJECT ("2020-11-31T12:00:00Z");
    CHECK_PARSE ("2020-12-31T00:00:00Z", 1609372800000);

    //  New Year's Eve in Beijing is still 2020 in UTC, and one second
    //  later is 2021 in both.
    CHECK_PARSE ("2020-12-31T23:59:59+08:00", 1609430399000);
    CHECK_PARSE ("2021-01-01T07:59:59+08:00", 1609459199000);
    CHECK_PARSE ("2021-01-01T08:00:00+08:00", 1609459200000);
    CHECK_PARSE ("2021-01-01T00:00:00Z", 1609459200000);
    //  And a time west of Greenwich crosses forward.
    CHECK_PARSE ("2020-12-31T20:00:00-05:00", 1609462800000);

    //  Epoch and before.
    CHECK_PARSE ("1970-01-01T00:00:00Z", 0);
    CHECK_PARSE ("1970-01-01T08:00:00+08:00", 0);
    CHECK_PARSE ("1969-12-31T23:59:59.500Z", -500);
    CHECK_PARSE ("1969-12-31T23:59:59.999Z", -1);
    CHECK_PARSE ("1900-01-01T00:00:00Z", -2208988800000);
    CHECK_PARSE ("0001-01-01T00:00:00Z", -62135596800000);
    CHECK_PARSE ("2038-01-19T03:14:08Z", 2147483648000);
    CHECK_PARSE ("9999-12-31T23:59:59.999Z", 253402300799999);

    //  Field ranges.
    CHECK_REJECT ("2020-13-01T00:00:00Z");
    CHECK_REJECT ("2020-00-01T00:00:00Z");
    CHECK_REJECT ("2020-01-00T00:00:00Z");
    CHECK_REJECT ("2020-01-32T00:00:00Z");
    CHECK_REJECT ("2020-09-01T24:00:00Z");
    CHECK_REJECT ("2020-09-01T23:60:00Z");
    CHECK_REJECT ("2020-09-01T23:59:61Z");
}

/*  Garbage, truncation, trailing characters.  */
static void
s_test_garbage (void)
{
    CHECK_REJECT ("");
    CHECK_REJECT ("garbage");
    CHECK_REJECT ("2020");
    CHECK_REJECT ("2020-09");
    CHECK_REJECT ("2020-09-01");
    CHECK_REJECT ("2020-09-01T");
    CHECK_REJECT ("2020-09-01T09");
    CHECK_REJECT ("2020-09-01T09:31");
    CHECK_REJECT ("2020-09-01T09:31Z");
    CHECK_REJECT ("2020-09-01T09:31:07+08:00x");
    CHECK_REJECT ("2020-09-01T09:31:07Z ");
    CHECK_REJECT ("2020-09-01T09:31:07ZZ");
    CHECK_REJECT ("2020-09-01T09:31:07+08:00\n");
    CHECK_REJECT (" 2020-09-01T09:31:07Z");
    CHECK_REJECT ("2020-9-01T09:31:07Z");
    CHECK_REJECT ("2020-09-1T09:31:07Z");
    CHECK_REJECT ("2020/09/01T09:31:07Z");
    CHECK_REJECT ("2020-09-01X09:31:07Z");
    CHECK_REJECT ("2020-09-01T09-31-07Z");
    CHECK_REJECT ("20200901T093107Z");
    CHECK_REJECT ("2020-09-01T9:31:07Z");
    CHECK_REJECT ("+2020-09-01T09:31:07Z");
    CHECK_REJECT ("2020-09-01T09:31:07\xef\xbc\x8b"
                  "08:00"); //  full-width plus

    //  Every prefix of a valid text is refused (and none reads past it).
    const char *full = "2020-09-01T09:31:07.250+08:00";
    char prefix[64];
    int accepted = 0;
    for (size_t n = 0; n < strlen (full); n++) {
        memcpy (prefix, full, n);
        prefix[n] = '\0';
        int64_t ms;
        //  "...07.250+08" is a valid text itself; "...+08:" (a dangling
        //  colon) is counted in s_test_offsets.
        if (clock_parse_rfc3339 (prefix, &ms)
            && strcmp (prefix, "2020-09-01T09:31:07.250+08") != 0
            && strcmp (prefix, "2020-09-01T09:31:07.250+08:") != 0)
            accepted++;
    }
    CHECK (accepted == 0);
}

/*  Formatting: fixed texts, negative instants, round trips.  */
static void
s_test_format (void)
{
    char buf[64];
    clock_format_utc (1598923867000, buf, sizeof buf);
    CHECK (strcmp (buf, "2020-09-01T01:31:07.000Z") == 0);
    clock_format_utc (1598952667250, buf, sizeof buf);
    CHECK (strcmp (buf, "2020-09-01T09:31:07.250Z") == 0);
    clock_format_utc (0, buf, sizeof buf);
    CHECK (strcmp (buf, "1970-01-01T00:00:00.000Z") == 0);
    clock_format_utc (-1, buf, sizeof buf);
    CHECK (strcmp (buf, "1969-12-31T23:59:59.999Z") == 0);
    clock_format_utc (-500, buf, sizeof buf);
    CHECK (strcmp (buf, "1969-12-31T23:59:59.500Z") == 0);
    clock_format_utc (-1000, buf, sizeof buf);
    CHECK (strcmp (buf, "1969-12-31T23:59:59.000Z") == 0);
    clock_format_utc (-1001, buf, sizeof buf);
    CHECK (strcmp (buf, "1969-12-31T23:59:58.999Z") == 0);
    clock_format_utc (-2208988800000, buf, sizeof buf);
    CHECK (strcmp (buf, "1900-01-01T00:00:00.000Z") == 0);
    clock_format_utc (1582977600000, buf, sizeof buf);
    CHECK (strcmp (buf, "2020-02-29T12:00:00.000Z") == 0);
    clock_format_utc (1609430399000, buf, sizeof buf);
    CHECK (strcmp (buf, "2020-12-31T15:59:59.000Z") == 0);

    clock_format_pg (1598923867000, buf, sizeof buf);
    CHECK (strcmp (buf, "2020-09-01 01:31:07.000+00") == 0);
    clock_format_pg (-1, buf, sizeof buf);
    CHECK (strcmp (buf, "1969-12-31 23:59:59.999+00") == 0);
    clock_format_pg (253402300799999, buf, sizeof buf);
    CHECK (strcmp (buf, "9999-12-31 23:59:59.999+00") == 0);

    //  A short buffer is truncated, not overrun.
    char small[11];
    memset (small, 'x', sizeof small);
    clock_format_utc (1598923867000, small, sizeof small);
    CHECK (strcmp (small, "2020-09-01") == 0);

    //  Round trips through both forms over generated instants from year 1
    //  to 9999, and agreement with timegm() on the calendar fields.
    uint64_t state = 20200901;
    int bad_utc = 0, bad_pg = 0, bad_timegm = 0;
    const int64_t lo = -62135596800000;
    const int64_t span = 253402300799999 - lo;
    for (int n = 0; n < 50000; n++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        int64_t ms = lo + (int64_t) ((state >> 11) % (uint64_t) span);
        if (n < 2000)
            ms = (int64_t) ((state >> 11) % 4000000) - 2000000; //  around the epoch
        int64_t back;
        clock_format_utc (ms, buf, sizeof buf);
        if (!clock_parse_rfc3339 (buf, &back) || back != ms) {
            if (bad_utc++ < 3)
                fprintf (stderr, "  utc round trip: %lld -> %s\n", (long long) ms, buf);
        }
        clock_format_pg (ms, buf, sizeof buf);
        if (!clock_parse_rfc3339 (buf, &back) || back != ms) {
            if (bad_pg++ < 3)
                fprintf (stderr, "  pg round trip: %lld -> %s\n", (long long) ms, buf);
        }
        struct tm tm;
        memset (&tm, 0, sizeof tm);
        int millis;
        if (sscanf (buf, "%d-%d-%d %d:%d:%d.%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis)
            != 7)
            bad_timegm++;
        else {
            tm.tm_year -= 1900;
            tm.tm_mon -= 1;
            int64_t ref = (int64_t) timegm (&tm) * 1000 + millis;
            if (ref != ms)
                bad_timegm++;
        }
    }
    CHECK (bad_utc == 0);
    CHECK (bad_pg == 0);
    CHECK (bad_timegm == 0);

    //  Offsets other than UTC give the same instant as the UTC text.
    int bad_offset = 0;
    for (int n = 0; n < 5000; n++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        int64_t ms = (int64_t) ((state >> 11) % 4102444800000ull); //  1970..2100
        time_t local = (time_t) (ms / 1000 + 8 * 3600);
        struct tm tm;
        gmtime_r (&local, &tm);
        char text[64];
        snprintf (text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+08:00",
                  tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                  tm.tm_sec, (int) (ms % 1000));
        int64_t back;
        if (!clock_parse_rfc3339 (text, &back) || back != ms)
            bad_offset++;
    }
    CHECK (bad_offset == 0);
}

/*  The clocks move forward and agree in scale.  */
static void
s_test_now (void)
{
    int64_t wall = clock_now_ms ();
    CHECK (wall > 1577836800000); //  after 2020-01-01
    int64_t m1 = clock_mono_ms ();
    int64_t u1 = clock_mono_us ();
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep (&pause, NULL);
    int64_t m2 = clock_mono_ms ();
    int64_t u2 = clock_mono_us ();
    CHECK (m2 - m1 >= 19);
    CHECK (u2 - u1 >= 19000);
    CHECK (u2 / 1000 - m2 <= 1 && m2 - u2 / 1000 <= 1);
}

/*  Runs every group, prints the summary; exit status 1 on any failure.  */
int
main (void)
{
    s_test_offsets ();
    s_test_fractions ();
    s_test_calendar ();
    s_test_garbage ();
    s_test_format ();
    s_test_now ();
    return s_summary ();
}
