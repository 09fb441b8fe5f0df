/*  test_beijing_time.c - unit tests for adapters/framework/beijing_time.c

    A standalone program: every failing case is printed with its file and
    line, a summary closes the run, and the exit status is 1 when any case
    failed. Instants are checked against values computed independently
    (Python's datetime with a UTC+8 zone), for every shape the five agency
    mappings accept, and the refusals cover wrong shapes, missing and extra
    characters and dates that do not exist.
*/

#include "beijing_time.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define UNIT_NAME "test_beijing_time"
#include "unit.h"

#define LAND  "YYYY-MM-DD hh:mm:ss"
#define TAX   "YYYYMMDDhhmmss"
#define WATER "YYYY/MM/DD hh:mm|YYYY/MM/DD hh:mm:ss"
#define POWER                                                                              \
    "YYYY-MM-DDThh:mm:ss|YYYY-MM-DD hh:mm:ss|YYYY-MM-DDThh:mm:ss.f|YYYY-MM-DD hh:mm:ss.f"

#define CHECK_PARSE(text, patterns, want)                                                  \
    s_check_parse ((text), (patterns), (want), __FILE__, __LINE__)
#define CHECK_REJECT(text, patterns) s_check_reject ((text), (patterns), __FILE__, __LINE__)

static void
s_check_parse (const char *text, const char *patterns, int64_t want, const char *file,
               int line)
{
    int64_t got = -1;
    bool ok = beijing_time_parse (text, patterns, &got);
    char what[200], detail[80] = "";
    snprintf (what, sizeof what, "beijing_time_parse (\"%s\", \"%s\") == %lld", text,
              patterns, (long long) want);
    if (!ok)
        snprintf (detail, sizeof detail, "refused");
    else if (got != want)
        snprintf (detail, sizeof detail, "got %lld", (long long) got);
    s_check (ok && got == want, what, detail, file, line);
}

static void
s_check_reject (const char *text, const char *patterns, const char *file, int line)
{
    int64_t got = 0;
    char what[200];
    snprintf (what, sizeof what, "beijing_time_parse (\"%s\", \"%s\") refuses", text,
              patterns);
    s_check (!beijing_time_parse (text, patterns, &got), what, NULL, file, line);
}

int
main (void)
{
    //  2020-09-01 09:31:07 +08:00 = 2020-09-01T01:31:07Z
    CHECK_PARSE ("2020-09-01 09:31:07", LAND, 1598923867000);
    CHECK_PARSE ("20200901093107", TAX, 1598923867000);
    CHECK_PARSE ("2020/09/01 09:31:07", WATER, 1598923867000);
    CHECK_PARSE ("2020/09/01 09:31", WATER, 1598923860000);
    CHECK_PARSE ("2020-09-01T09:31:07", POWER, 1598923867000);
    CHECK_PARSE ("2020-09-01 09:31:07", POWER, 1598923867000);
    CHECK_PARSE ("2020-09-01T09:31:07.250", POWER, 1598923867250);
    CHECK_PARSE ("2020-09-01T09:31:07.5", POWER, 1598923867500);
    //  the day before in UTC: 2020-01-01 07:59:59 +08:00 = 2019-12-31T23:59:59Z
    CHECK_PARSE ("2020-01-01 07:59:59", LAND, 1577836799000);
    //  a leap day exists in 2020, not in 2021
    CHECK_PARSE ("20200229120000", TAX, 1582948800000);
    CHECK_REJECT ("20210229120000", TAX);
    CHECK_REJECT ("2020-09-01 24:00:00", LAND);
    CHECK_REJECT ("2020-13-01 09:31:07", LAND);
    CHECK_REJECT ("2020-09-31 09:31:07", LAND);
    CHECK_REJECT ("2020-09-01 09:60:00", LAND);

    //  shapes: each pattern is exact
    CHECK_REJECT ("2020-09-01T09:31:07", LAND);
    CHECK_REJECT ("2020-09-01 09:31", LAND);
    CHECK_REJECT ("2020-09-01 09:31:07 ", LAND);
    CHECK_REJECT (" 2020-09-01 09:31:07", LAND);
    CHECK_REJECT ("2020-09-01 09:31:07+08:00", LAND);
    CHECK_REJECT ("2020-9-01 09:31:07", LAND);
    CHECK_REJECT ("2020-09-0a 09:31:07", LAND);
    CHECK_REJECT ("", LAND);
    CHECK_REJECT ("2020090109310", TAX);
    CHECK_REJECT ("202009010931070", TAX);
    CHECK_REJECT ("2020-09-01 09:31:07", TAX);
    CHECK_REJECT ("2020/09/01 09:31:0", WATER);
    CHECK_REJECT ("2020/09/01 9:31", WATER);
    CHECK_REJECT ("2020-09-01T09:31:07.", POWER);
    CHECK_REJECT ("2020-09-01T09:31:07.1234567890", POWER);
    CHECK_REJECT ("2020-09-01X09:31:07", POWER);

    //  a pattern without seconds gives :00; the first fitting pattern wins
    int64_t ms = 0;
    CHECK (beijing_time_parse ("2020/09/01 09:31", "YYYY/MM/DD hh:mm", &ms)
           && ms == 1598923860000);
    return s_summary ();
}
