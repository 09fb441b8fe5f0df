/*  calendar.c - the official working-day calendar, see calendar.h

    Overrides live in one array sorted by day number. The counting
    functions walk days one at a time: deadlines in the workflows are at
    most a few dozen working days, and a walk with a cursor into the
    override array costs one comparison per day, after one binary search
    for the first day. Whether a year is known is looked up only when the
    walk enters a new year.
*/

#include "calendar.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define CALENDAR_PRINTF(f, a) __attribute__ ((format (printf, f, a)))
#else
#define CALENDAR_PRINTF(f, a)
#endif

/*  Day numbers of 0001-01-01 and 9999-12-31, the span the calendar covers.  */
#define DAY_MIN INT64_C (-719162)
#define DAY_MAX INT64_C (2932896)

/*  One overridden local date.  */
typedef struct {
    int32_t day;   //  day number: days since 1970-01-01
    bool workday;  //  true: a working day, false: a day off
    uint32_t load; //  the calendar_load_csv call that set it, 0 if none
    int line;      //  its line in that file, for duplicate reports
} override_t;

struct _calendar_t {
    override_t *days;  //  overrides sorted by day, one per day at most
    size_t days_size;  //  overrides in use
    size_t days_max;   //  overrides allocated
    int *years;        //  known years, sorted ascending, no repeats
    size_t years_size; //  known years in use
    size_t years_max;  //  known years allocated
    uint32_t loads;    //  calendar_load_csv calls so far, tags their rows
};

/*  Grows an array to hold at least want items of size bytes. Aborts when
    memory runs out, as strbuf does.  */
static void *
s_grow (void *array, size_t *max, size_t want, size_t size)
{
    if (want <= *max)
        return array;
    size_t n = *max ? *max : 64;
    while (n < want)
        n *= 2;
    void *grown = realloc (array, n * size);
    if (!grown) {
        fprintf (stderr, "calendar: out of memory growing to %zu entries\n", n);
        abort ();
    }
    *max = n;
    return grown;
}

/*  Writes a formatted message into err when there is room for one.  */
static void s_set_error (char *err, size_t errlen, const char *format, ...)
    CALENDAR_PRINTF (3, 4);

static void
s_set_error (char *err, size_t errlen, const char *format, ...)
{
    if (!err || errlen == 0)
        return;
    va_list args;
    va_start (args, format);
    vsnprintf (err, errlen, format, args);
    va_end (args);
}

//  --------------------------------------------------------------------------
//  Dates

bool
calendar_date_valid (int year, int month, int day)
{
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1 || year > 9999 || month < 1 || month > 12)
        return false;
    if (day < 1 || day > mdays[month - 1])
        return false;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return !(month == 2 && day == 29 && !leap);
}

int64_t
calendar_days_from_civil (int year, int month, int day)
{
    int64_t y = (int64_t) year - (month <= 2);
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400; //  [0, 399]
    int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; //  [0, 146096]
    return era * 146097 + doe - 719468;
}

void
calendar_civil_from_days (int64_t day_number, int *year, int *month, int *day)
{
    int64_t z = day_number + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097; //  [0, 146096]
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100); //  [0, 365]
    int64_t mp = (5 * doy + 2) / 153;                      //  March = 0
    int m = (int) (mp < 10 ? mp + 3 : mp - 9);
    *day = (int) (doy - (153 * mp + 2) / 5 + 1);
    *month = m;
    *year = (int) (yoe + era * 400 + (m <= 2));
}

int
calendar_weekday (int64_t day_number)
{
    //  1970-01-01 was a Thursday (4)
    int64_t r = (day_number + 4) % 7;
    return (int) (r < 0 ? r + 7 : r);
}

/*  Clamps an instant into 0001-01-01 00:00 .. 9999-12-31 24:00 (less 1 ms)
    local time, so that no later arithmetic can overflow.  */
static int64_t
s_clamp_ms (int64_t ms)
{
    int64_t lo = DAY_MIN * CALENDAR_DAY_MS - CALENDAR_UTC_OFFSET_MS;
    int64_t hi = (DAY_MAX + 1) * CALENDAR_DAY_MS - CALENDAR_UTC_OFFSET_MS - 1;
    return ms < lo ? lo : ms > hi ? hi : ms;
}

int64_t
calendar_local_day (int64_t ms)
{
    int64_t local = s_clamp_ms (ms) + CALENDAR_UTC_OFFSET_MS;
    int64_t day = local / CALENDAR_DAY_MS;
    return local % CALENDAR_DAY_MS < 0 ? day - 1 : day;
}

int64_t
calendar_local_midnight_ms (int64_t day_number)
{
    if (day_number < DAY_MIN)
        day_number = DAY_MIN;
    if (day_number > DAY_MAX + 1)
        day_number = DAY_MAX + 1;
    return day_number * CALENDAR_DAY_MS - CALENDAR_UTC_OFFSET_MS;
}

static int
s_year_of (int64_t day_number)
{
    int year, month, day;
    calendar_civil_from_days (day_number, &year, &month, &day);
    return year;
}

//  --------------------------------------------------------------------------
//  Construction and lookup

calendar_t *
calendar_new (void)
{
    calendar_t *self = (calendar_t *) calloc (1, sizeof (calendar_t));
    return self;
}

void
calendar_destroy (calendar_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    calendar_t *self = *self_p;
    free (self->days);
    free (self->years);
    free (self);
    *self_p = NULL;
}

size_t
calendar_size (const calendar_t *self)
{
    assert (self);
    return self->days_size;
}

/*  Index of the first override on or after day (days_size when none).  */
static size_t
s_lower_bound (const calendar_t *self, int64_t day)
{
    size_t lo = 0, hi = self->days_size;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->days[mid].day < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/*  Working day by the override at *cursor when it is for day, else by the
    weekday. *cursor must not point past the first override on or after
    day; it is advanced so that walking days in ascending order costs O(1)
    a day.  */
static bool
s_workday_at (const calendar_t *self, size_t *cursor, int64_t day)
{
    while (*cursor < self->days_size && self->days[*cursor].day < day)
        (*cursor)++;
    if (*cursor < self->days_size && self->days[*cursor].day == day)
        return self->days[*cursor].workday;
    int weekday = calendar_weekday (day);
    return weekday != 0 && weekday != 6;
}

void
calendar_mark_year_known (calendar_t *self, int year)
{
    assert (self);
    if (year < 1 || year > 9999)
        return;
    size_t i = self->years_size;
    while (i > 0 && self->years[i - 1] > year)
        i--; //  years come mostly in order: short walk
    if (i > 0 && self->years[i - 1] == year)
        return;
    self->years =
        (int *) s_grow (self->years, &self->years_max, self->years_size + 1, sizeof (int));
    memmove (self->years + i + 1, self->years + i, (self->years_size - i) * sizeof (int));
    self->years[i] = year;
    self->years_size++;
}

bool
calendar_year_known (const calendar_t *self, int year)
{
    assert (self);
    size_t lo = 0, hi = self->years_size;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (self->years[mid] < year)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < self->years_size && self->years[lo] == year;
}

/*  Stores an override of a valid date. When load is not 0 and the date was
    already set by the same load, changes nothing and returns the earlier
    entry's line; otherwise returns 0.  */
static int
s_put (calendar_t *self, int year, int month, int day, bool workday, uint32_t load,
       int line, bool mark_known)
{
    int64_t number = calendar_days_from_civil (year, month, day);
    size_t i;
    if (self->days_size == 0 || self->days[self->days_size - 1].day < number)
        i = self->days_size; //  ascending input: append
    else
        i = s_lower_bound (self, number);
    if (i < self->days_size && self->days[i].day == number) {
        override_t *found = &self->days[i];
        if (load != 0 && found->load == load)
            return found->line;
    }
    else {
        self->days = (override_t *) s_grow (self->days, &self->days_max,
                                            self->days_size + 1, sizeof (override_t));
        memmove (self->days + i + 1, self->days + i,
                 (self->days_size - i) * sizeof (override_t));
        self->days_size++;
    }
    self->days[i] = (override_t){
        .day = (int32_t) number, .workday = workday, .load = load, .line = line};
    if (mark_known)
        calendar_mark_year_known (self, year);
    return 0;
}

int
calendar_set_day (calendar_t *self, int year, int month, int day, bool workday)
{
    assert (self);
    if (!calendar_date_valid (year, month, day))
        return -1;
    s_put (self, year, month, day, workday, 0, 0, true);
    return 0;
}

int
calendar_override_day (calendar_t *self, int year, int month, int day, bool workday)
{
    assert (self);
    if (!calendar_date_valid (year, month, day))
        return -1;
    s_put (self, year, month, day, workday, 0, 0, false);
    return 0;
}

bool
calendar_is_workday (const calendar_t *self, int year, int month, int day)
{
    assert (self);
    if (!calendar_date_valid (year, month, day))
        return false;
    int64_t number = calendar_days_from_civil (year, month, day);
    size_t cursor = s_lower_bound (self, number);
    return s_workday_at (self, &cursor, number);
}

//  --------------------------------------------------------------------------
//  Loading

/*  Cuts the next comma-separated field off *rest: trims blanks around it
    and one pair of surrounding double quotes. Returns the field, or NULL
    when *rest is NULL (no more fields).  */
static char *
s_next_field (char **rest)
{
    char *field = *rest;
    if (!field)
        return NULL;
    char *comma = strchr (field, ',');
    if (comma) {
        *comma = '\0';
        *rest = comma + 1;
    }
    else
        *rest = NULL;
    while (*field == ' ' || *field == '\t')
        field++;
    size_t len = strlen (field);
    while (len > 0 && (field[len - 1] == ' ' || field[len - 1] == '\t'))
        field[--len] = '\0';
    if (len >= 2 && field[0] == '"' && field[len - 1] == '"') {
        field[len - 1] = '\0';
        field++;
    }
    return field;
}

/*  Parses exactly "YYYY-MM-DD".  */
static bool
s_parse_date (const char *text, int *year, int *month, int *day)
{
    static const char shape[] = "dddd-dd-dd";
    if (strlen (text) != sizeof shape - 1)
        return false;
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        bool digit = text[i] >= '0' && text[i] <= '9';
        if (shape[i] == 'd' ? !digit : text[i] != '-')
            return false;
    }
    *year = atoi (text);
    *month = atoi (text + 5);
    *day = atoi (text + 8);
    return true;
}

/*  Compares text with a lower-case ASCII word, ignoring letter case.  */
static bool
s_word_is (const char *text, const char *word)
{
    for (; *word; text++, word++) {
        char c = *text;
        if (c >= 'A' && c <= 'Z')
            c = (char) (c - 'A' + 'a');
        if (c != *word)
            return false;
    }
    return *text == '\0';
}

/*  Copies up to 40 bytes of a field for quoting in a message, control
    characters shown as '?'.  */
static void
s_quote (const char *text, char *buf, size_t size)
{
    size_t n = 0;
    for (; *text && n + 4 < size && n < 40; text++)
        buf[n++] = (unsigned char) *text < 0x20 || *text == 0x7f ? '?' : *text;
    if (*text && n + 4 < size) {
        memcpy (buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
}

int
calendar_load_csv (calendar_t *self, const char *path, char *err, size_t errlen)
{
    assert (self);
    assert (path);
    FILE *file = fopen (path, "r");
    if (!file) {
        s_set_error (err, errlen, "could not open calendar \"%s\": %s", path,
                     strerror (errno));
        return -1;
    }
    uint32_t load = ++self->loads;
    if (load == 0) //  wrapped: 0 means "not from a file"
        load = self->loads = 1;
    char *line = NULL;
    size_t line_max = 0;
    ssize_t len;
    int line_no = 0;
    int bad = 0;
    char first[CALENDAR_ERR_MAX] = "";
    char quoted[64];

    while ((len = getline (&line, &line_max, file)) != -1) {
        line_no++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        char *text = line;
        if (line_no == 1 && len >= 3 && memcmp (text, "\xEF\xBB\xBF", 3) == 0)
            text += 3; //  byte order mark from a spreadsheet
        if (line_no == 1 && strncmp (text, "date,", 5) == 0)
            continue; //  header
        if (strspn (text, " \t") == strlen (text))
            continue; //  blank line

        char *rest = text;
        char *date = s_next_field (&rest);
        char *workday = s_next_field (&rest);
        char problem[160] = "";
        int year = 0, month = 0, day = 0;
        bool is_workday = false;
        if (!s_parse_date (date, &year, &month, &day)) {
            s_quote (date, quoted, sizeof quoted);
            snprintf (problem, sizeof problem, "bad date \"%s\", expected YYYY-MM-DD",
                      quoted);
        }
        else if (!calendar_date_valid (year, month, day)) {
            s_quote (date, quoted, sizeof quoted);
            snprintf (problem, sizeof problem, "bad date \"%s\": no such day", quoted);
        }
        else if (!workday)
            snprintf (problem, sizeof problem,
                      "workday is missing, expected true or false");
        else if (s_word_is (workday, "true") || s_word_is (workday, "false"))
            is_workday = s_word_is (workday, "true");
        else {
            s_quote (workday, quoted, sizeof quoted);
            snprintf (problem, sizeof problem, "workday is \"%s\", expected true or false",
                      quoted);
        }
        if (!*problem) {
            int earlier = s_put (self, year, month, day, is_workday, load, line_no, true);
            if (earlier)
                snprintf (problem, sizeof problem, "date %s is already given on line %d",
                          date, earlier);
        }
        if (*problem) {
            if (bad++ == 0)
                snprintf (first, sizeof first, "%s:%d: %s", path, line_no, problem);
        }
    }
    int read_error = ferror (file) ? errno : 0;
    free (line);
    fclose (file);
    if (read_error) {
        s_set_error (err, errlen, "could not read calendar \"%s\": %s", path,
                     strerror (read_error));
        return -1;
    }
    if (bad == 1)
        s_set_error (err, errlen, "%s", first);
    else if (bad > 1)
        s_set_error (err, errlen, "%s (and %d more bad lines)", first, bad - 1);
    return bad;
}

//  --------------------------------------------------------------------------
//  Counting

/*  Tracks whether a walk over days has left the known years, looking the
    year up only when the walk enters a new one.  */
typedef struct {
    const calendar_t *calendar; //  whose known years are asked
    int64_t year_end;           //  first day number after the current year
    int year;                   //  the current year, 0 before the first day
    bool beyond;                //  a day in an unknown year was seen
} year_watch_t;

static void
s_watch_day (year_watch_t *watch, int64_t day)
{
    if (watch->year != 0 && day < watch->year_end)
        return;
    watch->year = s_year_of (day);
    watch->year_end = calendar_days_from_civil (watch->year + 1, 1, 1);
    if (!calendar_year_known (watch->calendar, watch->year))
        watch->beyond = true;
}

int64_t
calendar_add_working_days (const calendar_t *self, int64_t start_ms, int n,
                           bool *beyond_known)
{
    assert (self);
    year_watch_t watch = {.calendar = self};
    int64_t day = calendar_local_day (start_ms);
    size_t cursor = s_lower_bound (self, day + 1);
    for (int counted = 0; counted < n;) {
        if (day >= DAY_MAX)
            break; //  runs off the calendar: its end
        day++;
        s_watch_day (&watch, day);
        if (s_workday_at (self, &cursor, day))
            counted++;
    }
    if (beyond_known)
        *beyond_known = watch.beyond;
    return calendar_local_midnight_ms (day + 1);
}

office_hours_t
office_hours_default (void)
{
    return (office_hours_t){
        .morning_start_min = 9 * 60,         //  09:00
        .morning_end_min = 12 * 60,          //  12:00
        .afternoon_start_min = 14 * 60 + 30, //  14:30
        .afternoon_end_min = 17 * 60 + 30    //  17:30
    };
}

bool
office_hours_valid (const office_hours_t *hours, char *err, size_t errlen)
{
    if (!hours) {
        s_set_error (err, errlen, "office hours are missing");
        return false;
    }
    int values[4] = {hours->morning_start_min, hours->morning_end_min,
                     hours->afternoon_start_min, hours->afternoon_end_min};
    static const char *names[4] = {"morning opens", "morning closes", "afternoon opens",
                                   "afternoon closes"};
    for (int i = 0; i < 4; i++) {
        if (values[i] < 0 || values[i] > 24 * 60) {
            s_set_error (err, errlen, "office hours: %s at minute %d, expected 0..1440",
                         names[i], values[i]);
            return false;
        }
        if (i > 0 && values[i] < values[i - 1]) {
            s_set_error (err, errlen,
                         "office hours: %s at %02d:%02d, before the %s at "
                         "%02d:%02d",
                         names[i], values[i] / 60, values[i] % 60, names[i - 1],
                         values[i - 1] / 60, values[i - 1] % 60);
            return false;
        }
    }
    if (values[1] - values[0] + values[3] - values[2] <= 0) {
        s_set_error (err, errlen, "office hours: the hall is never open");
        return false;
    }
    return true;
}

int64_t
calendar_add_working_minutes (const calendar_t *self, const office_hours_t *hours,
                              int64_t start_ms, int minutes, bool *beyond_known)
{
    assert (self);
    office_hours_t fallback = office_hours_default ();
    if (!hours)
        hours = &fallback;
    else if (!office_hours_valid (hours, NULL, 0)) {
        assert (false && "office hours must be office_hours_valid");
        hours = &fallback;
    }
    //  Sessions in ms after local midnight, [start, end)
    int64_t sessions[2][2] = {{hours->morning_start_min * INT64_C (60000),
                               hours->morning_end_min * INT64_C (60000)},
                              {hours->afternoon_start_min * INT64_C (60000),
                               hours->afternoon_end_min * INT64_C (60000)}};
    int64_t budget = minutes > 0 ? minutes * INT64_C (60000) : 0;
    int64_t day = calendar_local_day (start_ms);
    int64_t at = s_clamp_ms (start_ms) + CALENDAR_UTC_OFFSET_MS - day * CALENDAR_DAY_MS;
    size_t cursor = s_lower_bound (self, day);
    year_watch_t watch = {.calendar = self};
    int64_t result = calendar_local_midnight_ms (DAY_MAX + 1);

    for (; day <= DAY_MAX; day++, at = 0) {
        s_watch_day (&watch, day);
        if (!s_workday_at (self, &cursor, day))
            continue;
        bool done = false;
        for (int s = 0; s < 2 && !done; s++) {
            if (at < sessions[s][0])
                at = sessions[s][0];
            if (at >= sessions[s][1])
                continue; //  after this session (or it is empty)
            int64_t open = sessions[s][1] - at;
            if (budget <= open) {
                result = calendar_local_midnight_ms (day) + at + budget;
                done = true;
            }
            else {
                budget -= open;
                at = sessions[s][1];
            }
        }
        if (done)
            break;
    }
    if (beyond_known)
        *beyond_known = watch.beyond;
    return result;
}

int
calendar_working_days_between (const calendar_t *self, int64_t from_ms, int64_t to_ms)
{
    assert (self);
    int64_t from = calendar_local_day (from_ms);
    int64_t to = calendar_local_day (to_ms);
    int sign = 1;
    if (to < from) {
        int64_t swap = from;
        from = to;
        to = swap;
        sign = -1;
    }
    int count = 0;
    size_t cursor = s_lower_bound (self, from + 1);
    for (int64_t day = from + 1; day <= to; day++)
        if (s_workday_at (self, &cursor, day))
            count++;
    return sign * count;
}
