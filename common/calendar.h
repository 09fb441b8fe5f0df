/*  calendar.h - the official working-day calendar, and deadlines on it

    Deadlines in the one-network workflows are counted in working days
    (工作日) on the Chinese official calendar: Monday to Friday work,
    Saturday and Sunday off, except for the State Council's arrangements,
    which give public holidays off and move some weekend days to work
    (make-up working days, 调休). A calendar_t holds those exceptions as
    overrides, one per local date, plus the set of years it knows. Outside
    a known year only the weekend rule applies, and the functions that
    count say so through *beyond_known so that the caller can warn.

    Time model: every instant is int64 milliseconds since the Unix epoch,
    UTC, as in clock.h. Local time is Asia/Shanghai (Beijing time), a fixed
    UTC+8: China has observed no daylight saving time since 1991, and the
    calendar is never asked about earlier dates in practice, so no time
    zone database (and no TZ, localtime or timegm) is involved. A "day
    number" is a local date counted in days since 1970-01-01.

    Dates run from 0001-01-01 to 9999-12-31; instants outside that span
    are clamped into it, and a count that runs past its end returns the
    end (9999-12-31 24:00 local time).

    Cost: n overrides are kept in one array sorted by day number, so a
    lookup is O(log n) and a count over d consecutive days is O(d + log n).
    Known years are a small sorted array of their own.

    Threads: the const functions only read and may run concurrently on one
    calendar; the others modify it and need the caller to serialise them
    against everything else. Allocation failure aborts, as in strbuf.

    Files: data/calendar/cn-workdays.csv holds the 2019-2026 arrangements,
    built by deploy/calendar/build_calendar.py (see data/calendar/README.md).
*/

#ifndef ONENET_CALENDAR_H_INCLUDED
#define ONENET_CALENDAR_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/*  Beijing time is UTC+8 all year round.  */
#define CALENDAR_UTC_OFFSET_MS (8 * 3600 * INT64_C (1000))
#define CALENDAR_DAY_MS        (86400 * INT64_C (1000))

/*  A buffer this large holds any message the calendar writes.  */
#define CALENDAR_ERR_MAX 512

typedef struct _calendar_t calendar_t;

/*  A county service hall's opening hours on a working day, for deadlines
    counted in working hours ("0.5 day", "immediate"). Each value is in
    minutes after local midnight; a session is [start, end). A session may
    be empty (start == end) for a hall that opens only once a day.  */
typedef struct {
    int morning_start_min;   //  morning opening, e.g. 540 for 09:00
    int morning_end_min;     //  morning closing, e.g. 720 for 12:00
    int afternoon_start_min; //  afternoon opening, e.g. 870 for 14:30
    int afternoon_end_min;   //  afternoon closing, e.g. 1050 for 17:30
} office_hours_t;

/*  Creates an empty calendar: no overrides, no known years, so every day
    follows the weekend rule.  */
calendar_t *calendar_new (void);

/*  Destroys the calendar and sets *self_p to NULL. Does nothing when
    self_p or *self_p is NULL.  */
void calendar_destroy (calendar_t **self_p);

/*  Loads overrides from a CSV file of lines "date,workday,name", e.g.
    "2024-10-01,false,国庆节": date is YYYY-MM-DD (local), workday is true
    or false in any letter case, the name (optional) is ignored. A first
    line starting with "date," is a header and skipped; so are blank lines
    and a UTF-8 byte order mark; a field in double quotes is unquoted. Each
    good line is applied as by calendar_set_day, so it replaces an earlier
    override of its date and marks its year known. Bad lines (a bad or
    impossible date, a workday that is not true or false, a date given
    twice in the file) are skipped and counted; loading goes on with the
    rest. Returns the number of bad lines (0 when the file is clean), and
    when there are any writes the first into err as 'path:line: what is
    wrong', adding how many more there were. Returns -1 when the file
    cannot be opened or read ('could not open calendar "path": reason');
    lines read before a read error stay applied. err may be NULL. Cost:
    O(lines) when the file is sorted by date, as the shipped one is.  */
int calendar_load_csv (calendar_t *self, const char *path, char *err, size_t errlen);

/*  Overrides one local date: workday true makes it a working day, false a
    day off, whatever its weekday. Also marks the year known. Returns 0, or
    -1 (changing nothing) when the date does not exist. O(n) worst case for
    the array insert, O(1) when dates come in ascending order.  */
int calendar_set_day (calendar_t *self, int year, int month, int day, bool workday);

/*  Overrides one local date as calendar_set_day does, without marking its
    year known: one day an operator changed says nothing about the rest of
    that year's arrangement. Returns 0, or -1 when the date does not exist.  */
int calendar_override_day (calendar_t *self, int year, int month, int day, bool workday);

/*  Marks a year as known without overriding a day: its days then follow
    the weekend rule without a beyond_known warning. Years outside
    1..9999 are ignored.  */
void calendar_mark_year_known (calendar_t *self, int year);

/*  True when the year has an override or was marked known.  */
bool calendar_year_known (const calendar_t *self, int year);

/*  Number of overrides held.  */
size_t calendar_size (const calendar_t *self);

/*  True when the local date is a working day: its override when there is
    one, otherwise Monday to Friday. False for a date that does not exist.
    O(log n).  */
bool calendar_is_workday (const calendar_t *self, int year, int month, int day);

/*  The deadline of "within n working days" for a clock that starts at
    start_ms: the end of the n-th working day after the local day of
    start_ms, that day itself not counted, i.e. 24:00 local time of that
    working day (= 00:00 of the next day), as ms UTC. n = 0 gives the end
    of the start day; n < 0 counts as 0. A start on a day off counts the
    same way: from a Saturday, 1 working day ends on Monday night.
    *beyond_known (when not NULL) is always written: true when any day
    counted over lies in a year the calendar does not know, where the
    weekend rule was used. O(d + log n) for d days spanned.  */
int64_t calendar_add_working_days (const calendar_t *self, int64_t start_ms, int n,
                                   bool *beyond_known);

/*  The instant at which a budget of working minutes, counted from
    start_ms, is used up, counting only minutes inside office hours on
    working days. A start outside office hours (lunch, evening, a day off)
    starts counting at the next opening; a budget that runs out exactly at
    a closing returns the closing time. minutes = 0 returns start_ms moved
    forward to the next office minute (unchanged when it is inside office
    hours); minutes < 0 counts as 0. hours NULL means the default hours;
    hours that are not office_hours_valid are a programmer error
    (asserted; the default is used when assertions are off). *beyond_known
    as for calendar_add_working_days: true when any day examined, the
    start day included, lies in an unknown year. O(d + log n) for d days
    spanned.  */
int64_t calendar_add_working_minutes (const calendar_t *self, const office_hours_t *hours,
                                      int64_t start_ms, int minutes, bool *beyond_known);

/*  Number of working days after from_ms's local day, up to and including
    to_ms's local day; the negative of calendar_working_days_between (to,
    from) when to's day is before from's; 0 on the same day. A deadline
    from calendar_add_working_days is 00:00 of the day after its last
    working day, so to ask how many working days late a step finished,
    pass deadline - 1 as from_ms (the last instant still on time): a finish
    on the next working day is then 1 late. Years are not checked against
    the known set. O(d + log n) for d days spanned.  */
int calendar_working_days_between (const calendar_t *self, int64_t from_ms, int64_t to_ms);

/*  The county service hall's hours: 09:00-12:00 and 14:30-17:30, six office
    hours a day.  */
office_hours_t office_hours_default (void);

/*  True when 0 <= morning start <= morning end <= afternoon start <=
    afternoon end <= 1440 and the hall is open at least one minute a day.
    On false writes the reason into err (may be NULL), e.g. 'office hours:
    afternoon opens at 11:00, before the morning closes at 12:00'.  */
bool office_hours_valid (const office_hours_t *hours, char *err, size_t errlen);

/*  Date helpers on the proleptic Gregorian calendar (Howard Hinnant's
    days_from_civil and civil_from_days), with no dependence on the C
    library's time functions.  */

/*  True when year-month-day exists and year is in 1..9999.  */
bool calendar_date_valid (int year, int month, int day);

/*  Day number of a date: days since 1970-01-01. The date is not checked.  */
int64_t calendar_days_from_civil (int year, int month, int day);

/*  The date of a day number.  */
void calendar_civil_from_days (int64_t day_number, int *year, int *month, int *day);

/*  Day of the week of a day number: 0 Sunday, 1 Monday .. 6 Saturday.  */
int calendar_weekday (int64_t day_number);

/*  Local (Beijing) day number of an instant.  */
int64_t calendar_local_day (int64_t ms);

/*  The instant of local midnight (00:00 Beijing time) that starts a day.  */
int64_t calendar_local_midnight_ms (int64_t day_number);

#ifdef __cplusplus
}
#endif

#endif
