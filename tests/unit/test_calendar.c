/*  test_calendar.c - unit tests for common/calendar.c

    A standalone program: every failing case is printed with its file and
    line, a summary closes the run, and the exit status is 1 when any case
    failed. The calendar is the shipped data/calendar/cn-workdays.csv, found
    through ONENET_SOURCE_DIR. Every expected instant is written as Beijing
    local time and converted with clock_parse_rfc3339 (clock.c), not with
    the calendar's own date arithmetic. Each expectation was counted by hand
    on the State Council notices; the comments show the count.

    Default office hours: 09:00-12:00 and 14:30-17:30. A deadline "24:00 of
    day X" is written as 00:00 of the day after X.
*/

#include "calendar.h"
#include "clock.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define UNIT_NAME "test_calendar"
#include "unit.h"

static calendar_t *s_cn; //  the shipped calendar, 2019-2026

/*  Deadline of n working days from a Beijing start time, with the
    beyond_known flag it reports.  */
static int64_t
s_days (const char *start, int n, bool *beyond)
{
    return calendar_add_working_days (s_cn, s_bj (start), n, beyond);
}

/*  Same for working minutes in the default office hours.  */
static int64_t
s_minutes (const char *start, int minutes, bool *beyond)
{
    office_hours_t hours = office_hours_default ();
    return calendar_add_working_minutes (s_cn, &hours, s_bj (start), minutes, beyond);
}

static int
s_between (const char *from, const char *to)
{
    return calendar_working_days_between (s_cn, s_bj (from), s_bj (to));
}

/*  The shipped file loads cleanly and knows exactly 2019-2026.  */
static void
s_test_load_shipped (void)
{
    char err[CALENDAR_ERR_MAX] = "";
    s_check (calendar_load_csv (s_cn, UNIT_CALENDAR_CSV, err, sizeof err) == 0,
             "load " UNIT_CALENDAR_CSV, err, __FILE__, __LINE__);
    CHECK (calendar_size (s_cn) == 198);
    for (int year = 2019; year <= 2026; year++)
        CHECK (calendar_year_known (s_cn, year));
    //  2018-12-29..31 are in the 2019 notice but left out of the file
    CHECK (!calendar_year_known (s_cn, 2018));
    CHECK (!calendar_year_known (s_cn, 2027));

    //  Working days a year, as announced: 2020 lost two to the COVID-19
    //  extension (Friday 01-31 off, Saturday 02-01 no longer worked); 2025
    //  gained two public holidays (除夕 and 05-02).
    static const int want[8] = {250, 249, 250, 249, 249, 251, 248, 248};
    for (int year = 2019; year <= 2026; year++) {
        int64_t first = calendar_days_from_civil (year, 1, 1);
        int64_t last = calendar_days_from_civil (year, 12, 31);
        int count = 0;
        for (int64_t day = first; day <= last; day++) {
            int y, m, d;
            calendar_civil_from_days (day, &y, &m, &d);
            count += calendar_is_workday (s_cn, y, m, d);
        }
        char what[64];
        char detail[64];
        snprintf (what, sizeof what, "%d has %d working days", year, want[year - 2019]);
        snprintf (detail, sizeof detail, "counted %d", count);
        s_check (count == want[year - 2019], what, detail, __FILE__, __LINE__);
    }
}

/*  Single days on the boundaries of the arrangements.  */
static void
s_test_is_workday (void)
{
    //  Spring Festival 2020, with the COVID-19 extension to 02-02
    CHECK (calendar_is_workday (s_cn, 2020, 1, 19));  //  Sun, make-up day
    CHECK (calendar_is_workday (s_cn, 2020, 1, 23));  //  Thu, last day before
    CHECK (!calendar_is_workday (s_cn, 2020, 1, 24)); //  Fri, 除夕
    CHECK (!calendar_is_workday (s_cn, 2020, 1, 31)); //  Fri, extension
    CHECK (!calendar_is_workday (s_cn, 2020, 2, 1));  //  Sat, make-up cancelled
    CHECK (calendar_is_workday (s_cn, 2020, 2, 3));   //  Mon, back to work
    //  National Day 2020 (with Mid-Autumn): 10-01..08 off
    CHECK (calendar_is_workday (s_cn, 2020, 9, 27));   //  Sun, make-up day
    CHECK (!calendar_is_workday (s_cn, 2020, 10, 8));  //  Thu, last day off
    CHECK (calendar_is_workday (s_cn, 2020, 10, 9));   //  Fri
    CHECK (calendar_is_workday (s_cn, 2020, 10, 10));  //  Sat, make-up day
    CHECK (!calendar_is_workday (s_cn, 2020, 10, 11)); //  Sun
    //  National Day 2024: 10-01..07 off
    CHECK (calendar_is_workday (s_cn, 2024, 9, 29));  //  Sun, make-up day
    CHECK (!calendar_is_workday (s_cn, 2024, 10, 7)); //  Mon
    CHECK (calendar_is_workday (s_cn, 2024, 10, 12)); //  Sat, make-up day
    //  Spring Festival 2024 and the leap days
    CHECK (calendar_is_workday (s_cn, 2024, 2, 4));   //  Sun, make-up day
    CHECK (calendar_is_workday (s_cn, 2024, 2, 9));   //  Fri, 除夕 worked
    CHECK (!calendar_is_workday (s_cn, 2024, 2, 12)); //  Mon
    CHECK (calendar_is_workday (s_cn, 2024, 2, 18));  //  Sun, make-up day
    CHECK (calendar_is_workday (s_cn, 2024, 2, 29));  //  Thu
    CHECK (!calendar_is_workday (s_cn, 2020, 2, 29)); //  Sat
    //  New Year 2026 runs 01-01..03, make-up Sunday 01-04
    CHECK (!calendar_is_workday (s_cn, 2026, 1, 2));
    CHECK (calendar_is_workday (s_cn, 2026, 1, 4));
    //  Beyond the data, the weekend rule: 2027-01-01 is a Friday
    CHECK (calendar_is_workday (s_cn, 2027, 1, 1));
    CHECK (!calendar_is_workday (s_cn, 2027, 1, 2));
    //  Dates that do not exist
    CHECK (!calendar_is_workday (s_cn, 2023, 2, 29));
    CHECK (!calendar_is_workday (s_cn, 2024, 13, 1));
    CHECK (!calendar_is_workday (s_cn, 0, 1, 3));
}

/*  "N working days" over Spring Festival 2020.  */
static void
s_test_spring_festival_2020 (void)
{
    bool beyond = true;
    //  From Thu 01-23: 01-24..02-02 off, so day 1 is Mon 02-03
    CHECK_AT (s_days ("2020-01-23 10:00", 1, &beyond), "2020-02-04 00:00");
    CHECK (!beyond);
    //  02-03 (1), 02-04 (2), 02-05 (3), 02-06 (4)
    CHECK_AT (s_days ("2020-01-23 10:00", 4, NULL), "2020-02-07 00:00");
    //  n = 0: the end of the start day itself
    CHECK_AT (s_days ("2020-01-23 10:00", 0, NULL), "2020-01-24 00:00");
    //  The local day decides, not the UTC one: 00:00 Beijing is 16:00 UTC
    //  on 01-22, yet the clock starts on 01-23
    CHECK_AT (s_days ("2020-01-23 00:00", 1, NULL), "2020-02-04 00:00");
    CHECK_AT (s_days ("2020-01-23 23:59:59.999", 1, NULL), "2020-02-04 00:00");
    //  ... and 23:59 Beijing on 01-22 is still 01-22: day 1 is Thu 01-23
    CHECK_AT (s_days ("2020-01-22 23:59", 1, NULL), "2020-01-24 00:00");
    //  From Sat 01-18: Sun 01-19 is a make-up day (1)
    CHECK_AT (s_days ("2020-01-18 09:00", 1, NULL), "2020-01-20 00:00");
    //  01-19 (1), 01-20 (2), 01-21 (3), 01-22 (4), 01-23 (5)
    CHECK_AT (s_days ("2020-01-18 09:00", 5, NULL), "2020-01-24 00:00");
    //  ... (6) is Mon 02-03
    CHECK_AT (s_days ("2020-01-18 09:00", 6, NULL), "2020-02-04 00:00");
    //  A start on a holiday: from Tue 01-28, day 1 is 02-03
    CHECK_AT (s_days ("2020-01-28 15:00", 1, NULL), "2020-02-04 00:00");
}

/*  National Day 2020 and 2024, each with two make-up days.  */
static void
s_test_national_day (void)
{
    //  2020: from Fri 09-25; Sat 09-26 off; Sun 09-27 make-up (1)
    CHECK_AT (s_days ("2020-09-25 15:00", 1, NULL), "2020-09-28 00:00");
    //  09-28 (2), 09-29 (3), 09-30 (4)
    CHECK_AT (s_days ("2020-09-25 15:00", 4, NULL), "2020-10-01 00:00");
    //  10-01..08 off; Fri 10-09 (5)
    CHECK_AT (s_days ("2020-09-25 15:00", 5, NULL), "2020-10-10 00:00");
    //  Sat 10-10 make-up (6)
    CHECK_AT (s_days ("2020-09-25 15:00", 6, NULL), "2020-10-11 00:00");
    //  Sun 10-11 off; Mon 10-12 (7)
    CHECK_AT (s_days ("2020-09-25 15:00", 7, NULL), "2020-10-13 00:00");
    //  From the last day before: 10-09 (1), 10-10 (2)
    CHECK_AT (s_days ("2020-09-30 16:00", 2, NULL), "2020-10-11 00:00");
    //  From inside the holiday: 10-09 (1)
    CHECK_AT (s_days ("2020-10-01 10:00", 1, NULL), "2020-10-10 00:00");

    //  2024: from Fri 09-27; Sat 09-28 off; Sun 09-29 (1); Mon 09-30 (2)
    CHECK_AT (s_days ("2024-09-27 11:00", 2, NULL), "2024-10-01 00:00");
    //  10-01..07 off; Tue 10-08 (3)
    CHECK_AT (s_days ("2024-09-27 11:00", 3, NULL), "2024-10-09 00:00");
    //  10-09 (4), 10-10 (5), 10-11 (6), Sat 10-12 make-up (7)
    CHECK_AT (s_days ("2024-09-27 11:00", 7, NULL), "2024-10-13 00:00");
    //  Sun 10-13 off; Mon 10-14 (8)
    CHECK_AT (s_days ("2024-09-27 11:00", 8, NULL), "2024-10-15 00:00");
    //  A power connection with a transformer (10 working days) from Mon
    //  09-23: 09-24..27 (4), 09-29 (5), 09-30 (6), 10-08..11 (10)
    CHECK_AT (s_days ("2024-09-23 09:30", 10, NULL), "2024-10-12 00:00");
}

/*  Deadlines across a year end, inside and beyond the data.  */
static void
s_test_year_end (void)
{
    bool beyond = true;
    //  From Thu 2020-12-31: 2021-01-01 (元旦) off, 01-02/03 weekend; Mon 01-04 (1)
    CHECK_AT (s_days ("2020-12-31 10:00", 1, &beyond), "2021-01-05 00:00");
    CHECK (!beyond);
    CHECK_AT (s_days ("2020-12-31 10:00", 0, NULL), "2021-01-01 00:00");
    //  From Wed 2025-12-31: 2026-01-01..03 off; Sun 01-04 make-up (1)
    CHECK_AT (s_days ("2025-12-31 17:00", 1, NULL), "2026-01-05 00:00");
    //  From Wed 2026-12-30: Thu 12-31 (1), in the data
    CHECK_AT (s_days ("2026-12-30 10:00", 1, &beyond), "2027-01-01 00:00");
    CHECK (!beyond);
    //  ... Fri 2027-01-01 (2) by the weekend rule: beyond the data
    CHECK_AT (s_days ("2026-12-30 10:00", 2, &beyond), "2027-01-02 00:00");
    CHECK (beyond);
    //  2018 is not in the file: 12-29 (officially worked) counts as a
    //  Saturday, 12-31 (officially off) as a Monday (1)
    CHECK_AT (s_days ("2018-12-28 10:00", 1, &beyond), "2019-01-01 00:00");
    CHECK (beyond);
}

/*  Leap days, and Spring Festival 2024 next to the 2024 one.  */
static void
s_test_leap_days (void)
{
    //  From Fri 2020-02-28: Sat 02-29, Sun 03-01 off; Mon 03-02 (1)
    CHECK_AT (s_days ("2020-02-28 10:00", 1, NULL), "2020-03-03 00:00");
    CHECK_AT (s_days ("2020-02-28 10:00", 0, NULL), "2020-02-29 00:00");
    //  A clock started on the leap day itself (a Saturday): Mon 03-02 (1)
    CHECK_AT (s_days ("2020-02-29 12:00", 1, NULL), "2020-03-03 00:00");
    //  From Wed 2024-02-28: Thu 02-29 (1), Fri 03-01 (2), Mon 03-04 (3)
    CHECK_AT (s_days ("2024-02-28 10:00", 1, NULL), "2024-03-01 00:00");
    CHECK_AT (s_days ("2024-02-28 10:00", 2, NULL), "2024-03-02 00:00");
    CHECK_AT (s_days ("2024-02-28 10:00", 3, NULL), "2024-03-05 00:00");
    //  A property registration (4 working days) from Mon 2024-02-26:
    //  02-27 (1), 02-28 (2), 02-29 (3), 03-01 (4)
    CHECK_AT (s_days ("2024-02-26 10:00", 4, NULL), "2024-03-02 00:00");
    //  Spring Festival 2024: from Fri 02-02, Sun 02-04 make-up (1)
    CHECK_AT (s_days ("2024-02-02 16:00", 1, NULL), "2024-02-05 00:00");
    //  From Thu 02-08: Fri 02-09 (1); 02-10..17 off; Sun 02-18 make-up (2)
    CHECK_AT (s_days ("2024-02-08 10:00", 1, NULL), "2024-02-10 00:00");
    CHECK_AT (s_days ("2024-02-08 10:00", 2, NULL), "2024-02-19 00:00");
}

/*  A year beyond the data: weekends only and beyond_known, until the year
    is made known or a day is overridden.  */
static void
s_test_beyond_known (void)
{
    bool beyond = false;
    //  From Thu 2027-09-30: Fri 10-01 (1), Mon 10-04 (2), Tue 10-05 (3);
    //  the real National Day 2027 will not be so kind
    CHECK_AT (s_days ("2027-09-30 10:00", 3, &beyond), "2027-10-06 00:00");
    CHECK (beyond);
    //  n = 0 consults no day at all
    CHECK_AT (s_days ("2027-09-30 10:00", 0, &beyond), "2027-10-01 00:00");
    CHECK (!beyond);

    calendar_t *cal = calendar_new ();
    CHECK (cal);
    int64_t start = s_bj ("2026-12-30 10:00"); //  a Wednesday
    //  An empty calendar knows no year at all
    CHECK (calendar_add_working_days (cal, start, 1, &beyond) == s_bj ("2027-01-01 00:00"));
    CHECK (beyond);
    calendar_mark_year_known (cal, 2026);
    calendar_mark_year_known (cal, 2027);
    calendar_mark_year_known (cal, 2027);
    calendar_mark_year_known (cal, 0); //  ignored
    CHECK (calendar_year_known (cal, 2026));
    CHECK (!calendar_year_known (cal, 0));
    CHECK (calendar_size (cal) == 0);
    //  Thu 12-31 (1), Fri 2027-01-01 (2), both known now
    CHECK (calendar_add_working_days (cal, start, 2, &beyond) == s_bj ("2027-01-02 00:00"));
    CHECK (!beyond);
    //  An operator's override: 2027-01-01 off; then Mon 01-04 is (2)
    CHECK (calendar_set_day (cal, 2027, 1, 1, false) == 0);
    CHECK (calendar_add_working_days (cal, start, 2, NULL) == s_bj ("2027-01-05 00:00"));
    //  Overrides replace each other, in any order of dates
    CHECK (calendar_set_day (cal, 2026, 12, 31, false) == 0);
    CHECK (calendar_set_day (cal, 2027, 1, 1, true) == 0);
    CHECK (calendar_set_day (cal, 2028, 1, 1, true) == 0); //  a Saturday
    CHECK (calendar_size (cal) == 3);
    CHECK (calendar_year_known (cal, 2028));
    CHECK (calendar_is_workday (cal, 2028, 1, 1));
    CHECK (!calendar_is_workday (cal, 2026, 12, 31));
    CHECK (calendar_add_working_days (cal, start, 1, NULL) == s_bj ("2027-01-02 00:00"));
    //  Impossible dates are refused and change nothing
    CHECK (calendar_set_day (cal, 2027, 2, 29, false) == -1);
    CHECK (calendar_set_day (cal, 2027, 0, 1, false) == -1);
    CHECK (calendar_set_day (cal, 10000, 1, 1, false) == -1);
    CHECK (calendar_size (cal) == 3);
    calendar_destroy (&cal);
    CHECK (cal == NULL);
    calendar_destroy (&cal); //  idempotent
    calendar_destroy (NULL);
}

/*  Working minutes in office hours 09:00-12:00, 14:30-17:30.  */
static void
s_test_working_minutes (void)
{
    bool beyond = true;
    //  Fri 2024-06-07 before Dragon Boat (Mon 06-10 off): 11:00-12:00 (60),
    //  14:30-16:30 (120)
    CHECK_AT (s_minutes ("2024-06-07 11:00", 180, &beyond), "2024-06-07 16:30");
    CHECK (!beyond);
    //  300: 11:00-12:00 (60), 14:30-17:30 (180); then Tue 06-11 09:00-10:00
    CHECK_AT (s_minutes ("2024-06-07 11:00", 300, NULL), "2024-06-11 10:00");
    //  Fri 2024-09-13 before Mid-Autumn, with a make-up Saturday 09-14:
    //  240 on Friday, then Saturday 09:00-10:00
    CHECK_AT (s_minutes ("2024-09-13 11:00", 300, NULL), "2024-09-14 10:00");
    //  240 + the whole Saturday (360) ends at its closing, not later
    CHECK_AT (s_minutes ("2024-09-13 11:00", 600, NULL), "2024-09-14 17:30");
    //  ... one more minute: 09-15..17 off, Wed 09-18 09:01
    CHECK_AT (s_minutes ("2024-09-13 11:00", 601, NULL), "2024-09-18 09:01");
    //  Started on a make-up Saturday, Sat 2024-10-12 10:00: 10:00-12:00
    //  (120), 14:30-15:30 (60)
    CHECK_AT (s_minutes ("2024-10-12 10:00", 180, NULL), "2024-10-12 15:30");
    //  Started at lunch, Mon 2024-06-03 13:00: counting starts at 14:30
    CHECK_AT (s_minutes ("2024-06-03 13:00", 180, NULL), "2024-06-03 17:30");
    CHECK_AT (s_minutes ("2024-06-03 13:00", 181, NULL), "2024-06-04 09:01");
    //  Started after hours, Fri 2024-06-07 18:00: next opening is Tue 06-11
    CHECK_AT (s_minutes ("2024-06-07 18:00", 180, NULL), "2024-06-11 12:00");
    //  Started before opening
    CHECK_AT (s_minutes ("2024-06-03 07:45", 30, NULL), "2024-06-03 09:30");
    //  Before Spring Festival 2020: Thu 01-23 17:00-17:30 (30), then Mon
    //  02-03 09:00-09:30
    CHECK_AT (s_minutes ("2020-01-23 17:00", 60, NULL), "2020-02-03 09:30");
    //  Milliseconds carry over lunch: 29.5 s before noon, 30.5 s after 14:30
    CHECK_AT (s_minutes ("2024-06-03 11:59:30.500", 1, NULL), "2024-06-03 14:30:30.500");

    //  minutes = 0: the start moved forward to the next office minute
    CHECK_AT (s_minutes ("2024-06-03 10:17:05", 0, NULL), "2024-06-03 10:17:05");
    CHECK_AT (s_minutes ("2024-06-03 09:00", 0, NULL), "2024-06-03 09:00");
    CHECK_AT (s_minutes ("2024-06-03 12:00", 0, NULL), "2024-06-03 14:30");
    CHECK_AT (s_minutes ("2024-06-03 08:00", 0, NULL), "2024-06-03 09:00");
    CHECK_AT (s_minutes ("2024-06-07 17:30", 0, NULL), "2024-06-11 09:00");
    CHECK_AT (s_minutes ("2024-10-01 10:00", 0, NULL), "2024-10-08 09:00");
    CHECK_AT (s_minutes ("2024-06-03 10:00", -5, NULL), "2024-06-03 10:00");
    //  A budget that ends exactly at the morning closing returns 12:00
    CHECK_AT (s_minutes ("2024-06-03 11:00", 60, NULL), "2024-06-03 12:00");

    //  Beyond the data: Fri 2027-01-01 counts as a working day
    CHECK_AT (s_minutes ("2027-01-01 10:00", 60, &beyond), "2027-01-01 11:00");
    CHECK (beyond);
    //  The start day counts as consulted: Thu 2026-12-31 17:00 + 15 minutes
    CHECK_AT (s_minutes ("2026-12-31 17:00", 15, &beyond), "2026-12-31 17:15");
    CHECK (!beyond);

    //  NULL hours are the default ones
    CHECK (calendar_add_working_minutes (s_cn, NULL, s_bj ("2024-06-03 13:00"), 60, NULL)
           == s_bj ("2024-06-03 15:30"));
    //  Summer hours 08:30-12:00, 15:00-18:00
    office_hours_t summer = {8 * 60 + 30, 12 * 60, 15 * 60, 18 * 60};
    CHECK (calendar_add_working_minutes (s_cn, &summer, s_bj ("2024-06-03 11:30"), 60, NULL)
           == s_bj ("2024-06-03 15:30"));
    //  An afternoon-only hall: the morning session is empty
    office_hours_t afternoons = {0, 0, 13 * 60, 17 * 60};
    CHECK (calendar_add_working_minutes (s_cn, &afternoons, s_bj ("2024-06-03 09:00"), 300,
                                         NULL)
           == s_bj ("2024-06-04 14:00"));
}

/*  Office hours: the default and the checks on configured ones.  */
static void
s_test_office_hours (void)
{
    office_hours_t hours = office_hours_default ();
    CHECK (hours.morning_start_min == 540);
    CHECK (hours.morning_end_min == 720);
    CHECK (hours.afternoon_start_min == 870);
    CHECK (hours.afternoon_end_min == 1050);
    char err[CALENDAR_ERR_MAX] = "";
    CHECK (office_hours_valid (&hours, err, sizeof err));
    CHECK (office_hours_valid (&hours, NULL, 0));

    office_hours_t overlap = {540, 720, 660, 1050};
    CHECK (!office_hours_valid (&overlap, err, sizeof err));
    s_check (strcmp (err, "office hours: afternoon opens at 11:00, before the "
                          "morning closes at 12:00")
                 == 0,
             "overlapping sessions refused", err, __FILE__, __LINE__);
    office_hours_t closed = {600, 600, 900, 900};
    CHECK (!office_hours_valid (&closed, err, sizeof err));
    CHECK (strstr (err, "never open"));
    office_hours_t late = {540, 720, 870, 1500};
    CHECK (!office_hours_valid (&late, err, sizeof err));
    CHECK (strstr (err, "afternoon closes at minute 1500"));
    office_hours_t negative = {-1, 720, 870, 1050};
    CHECK (!office_hours_valid (&negative, NULL, 0));
    CHECK (!office_hours_valid (NULL, err, sizeof err));
}

/*  Working days between two instants, and lateness against a deadline.  */
static void
s_test_between (void)
{
    CHECK (s_between ("2020-09-30 10:00", "2020-09-30 17:00") == 0);
    //  10-01..08 off, 10-09 worked
    CHECK (s_between ("2020-09-30 10:00", "2020-10-09 10:00") == 1);
    //  09-27, 09-28, 09-29, 09-30, 10-09, 10-10, 10-12
    CHECK (s_between ("2020-09-25 10:00", "2020-10-12 10:00") == 7);
    CHECK (s_between ("2020-10-12 10:00", "2020-09-25 10:00") == -7);
    //  Earlier on the same day is still the same day
    CHECK (s_between ("2020-10-12 10:00", "2020-10-12 08:00") == 0);
    //  02-09, 02-18 (make-up Sunday), 02-19
    CHECK (s_between ("2024-02-08 10:00", "2024-02-19 10:00") == 3);
    //  Across the leap day: 02-29, 03-01, 03-04
    CHECK (s_between ("2024-02-28 23:59", "2024-03-04 00:00") == 3);

    //  Lateness: 1 working day from Wed 2020-09-30 ends at 24:00 of Fri
    //  10-09; measure from the last instant on time
    int64_t deadline = s_days ("2020-09-30 16:00", 1, NULL);
    CHECK_AT (deadline, "2020-10-10 00:00");
    int64_t on_time = deadline - 1;
    CHECK (calendar_working_days_between (s_cn, on_time, s_bj ("2020-10-09 17:00")) == 0);
    //  Finished on the make-up Saturday: 1 working day late
    CHECK (calendar_working_days_between (s_cn, on_time, s_bj ("2020-10-10 09:00")) == 1);
    CHECK (calendar_working_days_between (s_cn, on_time, s_bj ("2020-10-11 09:00")) == 1);
    CHECK (calendar_working_days_between (s_cn, on_time, s_bj ("2020-10-12 09:00")) == 2);
    //  Measured from the deadline itself, the day after is not counted
    CHECK (calendar_working_days_between (s_cn, deadline, s_bj ("2020-10-10 09:00")) == 0);
}

/*  Loading a hand-made file: bad lines are reported and skipped.  */
static void
s_test_load_errors (void)
{
    char path[] = "/tmp/test_calendar_XXXXXX";
    int fd = mkstemp (path);
    CHECK (fd >= 0);
    if (fd < 0)
        return;
    FILE *file = fdopen (fd, "w");
    fputs ("\xEF\xBB\xBF"
           "date,workday,name\r\n"                          //  1 header after a BOM, CRLF
           "2030-01-01,false,元旦\r\n"                      //  2
           "2030-02-30,false,bad\n"                         //  3 no such day
           "2030/02/01,true,bad\n"                          //  4 bad shape
           "2030-02-02,yes,bad\n"                           //  5 bad workday
           "2030-02-03\n"                                   //  6 workday missing
           "\n"                                             //  7 blank
           "2030-01-01,true,again\n"                        //  8 duplicate of line 2
           " \"2030-02-09\" , TRUE ,quoted, with a comma\n" //  9 good
           "2029-12-30,False\n",                            //  10 good, out of order
           file);
    fclose (file);

    calendar_t *cal = calendar_new ();
    char err[CALENDAR_ERR_MAX] = "";
    int bad = calendar_load_csv (cal, path, err, sizeof err);
    CHECK (bad == 5);
    char want[CALENDAR_ERR_MAX];
    snprintf (want, sizeof want,
              "%s:3: bad date \"2030-02-30\": no such day (and 4 more bad lines)", path);
    s_check (strcmp (err, want) == 0, "first bad line reported", err, __FILE__, __LINE__);
    CHECK (calendar_size (cal) == 3);
    CHECK (!calendar_is_workday (cal, 2030, 1, 1));  //  line 2, not line 8
    CHECK (calendar_is_workday (cal, 2030, 2, 9));   //  a Saturday, made a workday
    CHECK (calendar_is_workday (cal, 2029, 12, 31)); //  Mon, no override
    CHECK (calendar_year_known (cal, 2029));
    CHECK (calendar_year_known (cal, 2030));
    CHECK (!calendar_year_known (cal, 2031));

    //  One bad line: no "more" clause. A second load overrides the first
    //  without a duplicate complaint.
    file = fopen (path, "w");
    fputs ("2030-01-01,true,\n2030-01-05,maybe\n", file);
    fclose (file);
    CHECK (calendar_load_csv (cal, path, err, sizeof err) == 1);
    snprintf (want, sizeof want, "%s:2: workday is \"maybe\", expected true or false",
              path);
    s_check (strcmp (err, want) == 0, "single bad line reported", err, __FILE__, __LINE__);
    CHECK (calendar_is_workday (cal, 2030, 1, 1));
    //  err may be NULL
    CHECK (calendar_load_csv (cal, path, NULL, 0) == 1);

    //  A missing file
    unlink (path);
    CHECK (calendar_load_csv (cal, path, err, sizeof err) == -1);
    snprintf (want, sizeof want, "could not open calendar \"%s\": ", path);
    s_check (strncmp (err, want, strlen (want)) == 0, "missing file reported", err,
             __FILE__, __LINE__);
    calendar_destroy (&cal);
}

/*  Date helpers against clock_parse_rfc3339, and the ends of time.  */
static void
s_test_dates (void)
{
    //  Every day 1900-2100 round-trips, and its midnight is the instant
    //  clock.c computes for 00:00+08:00
    int64_t first = calendar_days_from_civil (1900, 1, 1);
    int64_t last = calendar_days_from_civil (2100, 12, 31);
    int mismatches = 0;
    int weekday = calendar_weekday (first);
    for (int64_t day = first; day <= last; day++) {
        int y, m, d;
        calendar_civil_from_days (day, &y, &m, &d);
        char text[40];
        snprintf (text, sizeof text, "%04d-%02d-%02dT00:00:00+08:00", y, m, d);
        int64_t ms = 0;
        if (!calendar_date_valid (y, m, d) || calendar_days_from_civil (y, m, d) != day
            || !clock_parse_rfc3339 (text, &ms) || calendar_local_midnight_ms (day) != ms
            || calendar_local_day (ms) != day || calendar_local_day (ms - 1) != day - 1
            || calendar_weekday (day) != weekday)
            mismatches++;
        weekday = (weekday + 1) % 7;
    }
    CHECK (mismatches == 0);
    CHECK (calendar_days_from_civil (1970, 1, 1) == 0);
    CHECK (calendar_weekday (0) == 4); //  a Thursday
    CHECK (calendar_weekday (calendar_days_from_civil (2024, 2, 29)) == 4);
    CHECK (calendar_weekday (calendar_days_from_civil (2020, 2, 29)) == 6);
    CHECK (calendar_weekday (-1) == 3);
    CHECK (calendar_date_valid (2000, 2, 29));
    CHECK (!calendar_date_valid (1900, 2, 29));
    CHECK (!calendar_date_valid (2023, 4, 31));
    CHECK (calendar_date_valid (1, 1, 1));
    CHECK (calendar_date_valid (9999, 12, 31));
    CHECK (!calendar_date_valid (0, 12, 31));
    CHECK (!calendar_date_valid (2024, 1, 0));

    //  Extreme inputs are clamped, never overflow (UBSan watches)
    int64_t end = calendar_local_midnight_ms (calendar_days_from_civil (9999, 12, 31) + 1);
    CHECK (calendar_add_working_days (s_cn, INT64_MAX, 5, NULL) == end);
    CHECK (calendar_add_working_days (s_cn, s_bj ("2024-06-03 10:00"), INT_MAX, NULL)
           == end);
    CHECK (calendar_add_working_minutes (s_cn, NULL, INT64_MAX, 10, NULL) == end);
    CHECK (
        calendar_add_working_minutes (s_cn, NULL, s_bj ("9999-12-31 10:00"), INT_MAX, NULL)
        == end);
    CHECK (calendar_add_working_days (s_cn, INT64_MIN, 0, NULL)
           == calendar_local_midnight_ms (calendar_days_from_civil (1, 1, 2)));
    CHECK (calendar_working_days_between (s_cn, INT64_MIN, INT64_MIN) == 0);
    CHECK (calendar_add_working_days (s_cn, s_bj ("2024-06-03 10:00"), -3, NULL)
           == s_bj ("2024-06-04 00:00"));
}

/*  Runs every group, prints the summary; exit status 1 on any failure.  */
int
main (void)
{
    s_cn = calendar_new ();
    if (!s_cn) {
        fprintf (stderr, "test_calendar: out of memory\n");
        return 1;
    }
    s_test_load_shipped ();
    s_test_is_workday ();
    s_test_spring_festival_2020 ();
    s_test_national_day ();
    s_test_year_end ();
    s_test_leap_days ();
    s_test_beyond_known ();
    s_test_working_minutes ();
    s_test_office_hours ();
    s_test_between ();
    s_test_load_errors ();
    s_test_dates ();
    calendar_destroy (&s_cn);
    return s_summary ();
}
