/*  hubctl calendar: the working-day calendar deadlines are counted on
    (docs/schema.md, calendar_days). Shows a month; sets or removes an
    operator's override of one day. The hubs reload the table every minute,
    so a change applies without a restart. */
#include <ctype.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "calendar_sync.h"
#include "clock.h"
#include "hubctl.h"
#include "strbuf.h"

static const char *const weekday_names[7] = {"Sun", "Mon", "Tue", "Wed",
                                             "Thu", "Fri", "Sat"};

static void
usage (void)
{
    printf (
        "Usage: hubctl calendar [YYYY-MM]\n"
        "       hubctl calendar set YYYY-MM-DD work|off [--name TEXT]\n"
        "       hubctl calendar unset YYYY-MM-DD [--force]\n"
        "       hubctl calendar import FILE\n\n"
        "Deadlines are counted in working days: Monday to Friday, except the days listed\n"
        "in calendar_days (public holidays off, make-up weekend days worked, and\n"
        "operators' overrides).\n\n"
        "  calendar [YYYY-MM]  lists the days of a month (default: this month, Beijing\n"
        "                      time): date, weekday, working (yes/no) and why (weekend,\n"
        "                      or the name and source of the listed day: official or\n"
        "                      operator)\n"
        "  set DATE work|off   makes DATE a working day or a day off, whatever the rule\n"
        "                      (source 'operator'); --name TEXT says why (e.g. 防汛停工)\n"
        "  unset DATE          removes an operator's override of DATE: the official\n"
        "                      arrangement this hubctl carries applies again, or else the\n"
        "                      weekend rule. An official day is only removed with --force\n"
        "                      (hubs put back the official days they carry when they\n"
        "                      start; to change such a day use 'set')\n"
        "  import FILE         loads a year's official arrangement (the State Council's\n"
        "                      节假日安排) from a JSON file as holiday-cn publishes it:\n"
        "                      {\"year\": 2027, \"papers\": [URL], \"days\": [{\"name\":\n"
        "                      \"元旦\", \"date\": \"2027-01-01\", \"isOffDay\": true}, "
        "...]}.\n"
        "                      The year becomes known; operators' overrides stay. A file\n"
        "                      with any bad entry changes nothing; every problem is "
        "named\n\n"
        "Within a minute of any change the hubs re-plan every deadline whose counting\n"
        "window covers a changed day, whether or not its case receives another event,\n"
        "and withdraw the breaches (督办) that no longer hold (kept, marked withdrawn).\n"
        "A deadline counted into a year with no official arrangement uses the weekend\n"
        "rule only and is marked provisional.\n");
}

/* Parses YYYY-MM-DD (exactly) into a date that exists. */
static bool
parse_date (const char *text, int *y, int *m, int *d)
{
    if (strlen (text) != 10 || text[4] != '-' || text[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit ((unsigned char) text[i]))
            return false;
    *y = atoi (text);
    *m = atoi (text + 5);
    *d = atoi (text + 8);
    return calendar_date_valid (*y, *m, *d);
}

/* Parses YYYY-MM (exactly). */
static bool
parse_month (const char *text, int *y, int *m)
{
    if (strlen (text) != 7 || text[4] != '-')
        return false;
    for (int i = 0; i < 7; i++)
        if (i != 4 && !isdigit ((unsigned char) text[i]))
            return false;
    *y = atoi (text);
    *m = atoi (text + 5);
    return calendar_date_valid (*y, *m, 1);
}

/* The official arrangement this binary carries for a date ("YYYY-MM-DD"):
   true with workday and name filled when there is one. */
static bool
official_day (const char *date, bool *workday, char *name, size_t namelen)
{
    const char *p = calendar_official_csv;
    size_t dlen = strlen (date);
    while (*p) {
        const char *end = strchr (p, '\n');
        size_t len = end ? (size_t) (end - p) : strlen (p);
        if (len > dlen + 1 && strncmp (p, date, dlen) == 0 && p[dlen] == ',') {
            const char *flag = p + dlen + 1;
            const char *comma = memchr (flag, ',', len - dlen - 1);
            *workday = strncmp (flag, "true", 4) == 0;
            name[0] = '\0';
            if (comma) {
                size_t n = (size_t) (p + len - comma - 1);
                while (n > 0 && (comma[n] == '\r' || comma[n] == '\n'))
                    n--;
                if (n >= namelen)
                    n = namelen - 1;
                memcpy (name, comma + 1, n);
                name[n] = '\0';
            }
            return true;
        }
        p += len + (end ? 1 : 0);
    }
    return false;
}

static const char *
weekday_of (int y, int m, int d)
{
    return weekday_names[calendar_weekday (calendar_days_from_civil (y, m, d))];
}

static bool
weekend (int y, int m, int d)
{
    int wd = calendar_weekday (calendar_days_from_civil (y, m, d));
    return wd == 0 || wd == 6;
}

/* True when calendar_years holds the year's official arrangement (the
   hubs then know the year); -1 when the query failed. */
static int
year_known (PGconn *conn, int year)
{
    char y[16];
    snprintf (y, sizeof y, "%d", year);
    const char *params[1] = {y};
    PGresult *res = hubctl_query (
        conn, "read the working-day calendar",
        "SELECT EXISTS (SELECT 1 FROM public.calendar_years WHERE year = $1::int)", 1,
        params);
    if (!res)
        return -1;
    int known = PQgetvalue (res, 0, 0)[0] == 't';
    PQclear (res);
    return known;
}

static int
show_month (const hubctl_options_t *options, int year, int month)
{
    PGconn *conn = hubctl_connect (options);
    if (!conn)
        return HUBCTL_FAILURE;
    char first[16];
    snprintf (first, sizeof first, "%04d-%02d-01", year, month);
    const char *params[1] = {first};
    const char *sql =
        options->json
            ? "SELECT to_char(g.d, 'YYYY-MM-DD') AS date, to_char(g.d, 'Dy') AS weekday, "
              "  coalesce(c.workday, extract(isodow FROM g.d) < 6) AS working, "
              "  CASE WHEN c.day IS NOT NULL THEN concat_ws(' ', nullif(c.name, ''), "
              "    c.source) WHEN extract(isodow FROM g.d) >= 6 THEN 'weekend' END AS why, "
              "  c.name, c.source, "
              "  " HUBCTL_ISO ("c.changed_at") " AS changed "
              "FROM generate_series($1::date, $1::date + interval '1 month' - interval "
              "  '1 day', interval '1 day') AS g(d) "
              "LEFT JOIN calendar_days c ON c.day = g.d::date ORDER BY g.d"
            : "SELECT to_char(g.d, 'YYYY-MM-DD') AS date, to_char(g.d, 'Dy') AS weekday, "
              "  CASE WHEN coalesce(c.workday, extract(isodow FROM g.d) < 6) THEN 'yes' "
              "    ELSE 'no' END AS working, "
              "  CASE WHEN c.day IS NOT NULL THEN concat_ws(' ', nullif(c.name, ''), "
              "    c.source) || CASE WHEN c.workday AND extract(isodow FROM g.d) >= 6 "
              "    THEN ', make-up working day' WHEN NOT c.workday AND "
              "    extract(isodow FROM g.d) < 6 THEN ', day off' ELSE '' END "
              "    WHEN extract(isodow FROM g.d) >= 6 THEN 'weekend' END AS why "
              "FROM generate_series($1::date, $1::date + interval '1 month' - interval "
              "  '1 day', interval '1 day') AS g(d) "
              "LEFT JOIN calendar_days c ON c.day = g.d::date ORDER BY g.d";
    PGresult *res = hubctl_query (conn, "read the working-day calendar", sql, 1, params);
    int known = res ? year_known (conn, year) : -1;
    PQfinish (conn);
    if (!res || known < 0) {
        PQclear (res);
        return HUBCTL_FAILURE;
    }
    hubctl_print (options, res);
    if (!options->json) {
        int working = 0;
        for (int r = 0; r < PQntuples (res); r++)
            working += strcmp (PQgetvalue (res, r, 2), "yes") == 0;
        printf ("%04d-%02d: %d working days, %d days off\n", year, month, working,
                PQntuples (res) - working);
    }
    PQclear (res);
    if (!known)
        fprintf (stderr,
                 "hubctl calendar: %04d has no official arrangement in the calendar, so "
                 "only the weekend rule (and operators' overrides) applies and deadlines "
                 "counted into it are marked provisional. Load the State Council's "
                 "arrangement once it is published: 'hubctl calendar import FILE'.\n",
                 year);
    return HUBCTL_OK;
}

static int
set_day (const hubctl_options_t *options, const char *date, int y, int m, int d,
         bool workday, const char *name)
{
    PGconn *conn = hubctl_connect (options);
    if (!conn)
        return HUBCTL_FAILURE;
    const char *params[3] = {date, workday ? "true" : "false", name};
    /* the CTEs see the table as it was: old is the row replaced, year_days
       what the year held before */
    PGresult *res = hubctl_query (
        conn, "set the day in calendar_days",
        "WITH old AS (SELECT workday, name, source FROM calendar_days "
        "  WHERE day = $1::date), "
        "up AS (INSERT INTO calendar_days (day, workday, name, source) "
        "  VALUES ($1::date, $2::boolean, coalesce($3, ''), 'operator') "
        "  ON CONFLICT (day) DO UPDATE SET workday = EXCLUDED.workday, "
        "    name = EXCLUDED.name, source = 'operator', "
        "    changed_at = now() "
        "  RETURNING day, workday, name, source) "
        "SELECT to_char(up.day, 'YYYY-MM-DD'), up.workday, up.name, up.source, "
        "  old.workday, old.name, old.source, "
        "  (SELECT count(*) FROM public.calendar_years "
        "    WHERE year = extract(year FROM $1::date)) "
        "FROM up LEFT JOIN old ON true",
        3, params);
    PQfinish (conn);
    if (!res)
        return HUBCTL_FAILURE;
    bool had_row = !PQgetisnull (res, 0, 4);
    bool was_working = had_row ? PQgetvalue (res, 0, 4)[0] == 't' : !weekend (y, m, d);
    bool year_was_known = atol (PQgetvalue (res, 0, 7)) > 0;
    const char *new_name = PQgetvalue (res, 0, 2);
    if (options->json) {
        json_t *obj = json_pack (
            "{s:s, s:s, s:b, s:s, s:s, s:b, s:o, s:o}", "date", date, "weekday",
            weekday_of (y, m, d), "working", workday, "name", new_name, "source",
            "operator", "previous_working", was_working, "previous_source",
            had_row ? json_string (PQgetvalue (res, 0, 6)) : json_string ("weekend rule"),
            "previous_name", had_row ? json_string (PQgetvalue (res, 0, 5)) : json_null ());
        json_dumpf (obj, stdout, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
        putchar ('\n');
        json_decref (obj);
    }
    else {
        char was[512];
        if (had_row)
            snprintf (was, sizeof was, "%s (%s%s%s)",
                      was_working ? "a working day" : "a day off", PQgetvalue (res, 0, 6),
                      *PQgetvalue (res, 0, 5) ? ": " : "", PQgetvalue (res, 0, 5));
        else
            snprintf (was, sizeof was, "%s (weekend rule)",
                      was_working ? "a working day" : "a day off");
        printf ("%s (%s) is now %s%s%s (operator override); it was %s.\n"
                "The hubs apply it within a minute: every deadline it moves is re-planned, "
                "and breaches that no longer hold are withdrawn.\n",
                date, weekday_of (y, m, d), workday ? "a working day" : "a day off",
                *new_name ? ": " : "", new_name, was);
    }
    if (!year_was_known)
        fprintf (stderr,
                 "hubctl calendar: note: %04d has no official arrangement in the calendar: "
                 "its deadlines count on the weekend rule plus overrides such as this one, "
                 "and stay provisional until 'hubctl calendar import FILE' loads the State "
                 "Council's arrangement for %04d.\n",
                 y, y);
    PQclear (res);
    return HUBCTL_OK;
}

static int
unset_day (const hubctl_options_t *options, const char *date, int y, int m, int d,
           bool force)
{
    PGconn *conn = hubctl_connect (options);
    if (!conn)
        return HUBCTL_FAILURE;
    const char *params[3] = {date, NULL, NULL};
    PGresult *res = hubctl_query (
        conn, "read the day from calendar_days",
        "SELECT workday, name, source, official_workday, official_name FROM calendar_days "
        "WHERE day = $1::date",
        1, params);
    if (!res) {
        PQfinish (conn);
        return HUBCTL_FAILURE;
    }
    const char *rule = weekend (y, m, d) ? "a day off" : "a working day";
    if (PQntuples (res) == 0) {
        fprintf (stderr,
                 "hubctl calendar: %s (%s) has no entry in calendar_days to remove: it "
                 "follows the weekend rule (%s). To override it use 'hubctl calendar set "
                 "%s work|off'.\n",
                 date, weekday_of (y, m, d), rule, date);
        PQclear (res);
        PQfinish (conn);
        return HUBCTL_FAILURE;
    }
    bool official = strcmp (PQgetvalue (res, 0, 2), "official") == 0;
    char old_name[256];
    snprintf (old_name, sizeof old_name, "%s", PQgetvalue (res, 0, 1));
    bool old_working = PQgetvalue (res, 0, 0)[0] == 't';
    /* the official value the database keeps for the day (shipped or
       imported), or else the one this hubctl carries */
    bool off_workday = false, restore = false;
    char off_name[256] = "";
    if (!official && !PQgetisnull (res, 0, 3)) {
        restore = true;
        off_workday = PQgetvalue (res, 0, 3)[0] == 't';
        snprintf (off_name, sizeof off_name, "%s", PQgetvalue (res, 0, 4));
    }
    else if (!official)
        restore = official_day (date, &off_workday, off_name, sizeof off_name);
    PQclear (res);
    if (official && !force) {
        fprintf (
            stderr,
            "hubctl calendar: %s is an official arrangement (%s%s%s), not an operator "
            "override, so it was not removed. To make it a working day or a day off use "
            "'hubctl calendar set %s work|off'; to delete the official row anyway add "
            "--force (hubs put back the official days they carry when they start).\n",
            date, old_working ? "working day" : "day off", *old_name ? ", " : "", old_name,
            date);
        PQfinish (conn);
        return HUBCTL_FAILURE;
    }
    if (restore) {
        params[1] = off_workday ? "true" : "false";
        params[2] = off_name;
        res = hubctl_query (conn, "restore the official day in calendar_days",
                            "UPDATE calendar_days SET workday = $2::boolean, name = $3, "
                            "  source = 'official', changed_at = now() "
                            "WHERE day = $1::date AND source = 'operator'",
                            3, params);
    }
    else {
        params[1] = official ? "official" : "operator";
        res = hubctl_query (
            conn, "delete the day from calendar_days",
            "DELETE FROM calendar_days WHERE day = $1::date AND source = $2", 2, params);
    }
    PQfinish (conn);
    if (!res)
        return HUBCTL_FAILURE;
    bool changed = atoi (PQcmdTuples (res)) == 1;
    PQclear (res);
    if (!changed) {
        fprintf (stderr,
                 "hubctl calendar: %s changed while this ran (another operator or a hub); "
                 "look at it with 'hubctl calendar %.7s' and try again.\n",
                 date, date);
        return HUBCTL_FAILURE;
    }
    bool now_working = restore ? off_workday : !weekend (y, m, d);
    if (options->json) {
        json_t *obj =
            json_pack ("{s:s, s:s, s:s, s:b, s:s, s:o}", "date", date, "weekday",
                       weekday_of (y, m, d), "removed", official ? "official" : "operator",
                       "working", now_working, "now", restore ? "official" : "weekend rule",
                       "name", restore ? json_string (off_name) : json_null ());
        json_dumpf (obj, stdout, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
        putchar ('\n');
        json_decref (obj);
    }
    else if (restore)
        printf (
            "Removed the operator override of %s (%s); the official arrangement applies "
            "again: %s (%s).\n",
            date, weekday_of (y, m, d), now_working ? "a working day" : "a day off",
            off_name);
    else
        printf ("Removed the %s of %s (%s); it follows the weekend rule again: %s.\n",
                official ? "official arrangement" : "operator override", date,
                weekday_of (y, m, d), rule);
    if (!options->json)
        printf ("The hubs apply it within a minute: every deadline it moves is "
                "re-planned.\n");
    if (official)
        fprintf (stderr,
                 "hubctl calendar: note: a hub that carries the official arrangement of %s "
                 "inserts it again when it next starts or reconnects to the database.\n",
                 date);
    return HUBCTL_OK;
}

/* One problem of an import file, appended to problems (at most a few
   dozen are listed; the count says how many there were). */
static void
import_problem (strbuf_t *problems, int *n, const char *file, const char *fmt, ...)
{
    if (++*n > 40)
        return;
    va_list ap;
    va_start (ap, fmt);
    char what[512];
    vsnprintf (what, sizeof what, fmt, ap);
    va_end (ap);
    strbuf_printf (problems, "hubctl calendar: %s: %s\n", file, what);
}

/* hubctl calendar import FILE: a year's official arrangement, as holiday-cn
   publishes it, checked whole before anything is written, then written in
   one transaction (days as 'official', except days an operator overrode;
   the year into calendar_years). The hubs re-plan from calendar_changes. */
static int
import_notice (const hubctl_options_t *options, const char *file)
{
    json_error_t jerr;
    json_t *root = json_load_file (file, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        fprintf (stderr, "hubctl calendar: %s: line %d, column %d: %s\n", file, jerr.line,
                 jerr.column, jerr.text);
        return HUBCTL_FAILURE;
    }
    strbuf_t problems, days, flags, names, papers;
    strbuf_init (&problems);
    strbuf_init (&days);
    strbuf_init (&flags);
    strbuf_init (&names);
    strbuf_init (&papers);
    int n_problems = 0, n_off = 0, n_work = 0, n_elsewhere = 0;
    json_t *year_j = json_object_get (root, "year"), *list = json_object_get (root, "days");
    json_int_t year = 0;
    if (!json_is_object (root))
        import_problem (&problems, &n_problems, file, "not a JSON object");
    else if (!json_is_integer (year_j) || (year = json_integer_value (year_j)) < 1
             || year > 9999)
        import_problem (&problems, &n_problems, file,
                        "\"year\" must be a whole number from 1 to 9999");
    if (json_is_object (root) && !json_is_array (list))
        import_problem (&problems, &n_problems, file,
                        "\"days\" must be an array of {\"name\", \"date\", \"isOffDay\"}");
    json_t *paper_list = json_is_object (root) ? json_object_get (root, "papers") : NULL;
    size_t i;
    json_t *item;
    if (paper_list && json_is_array (paper_list))
        json_array_foreach (paper_list, i, item) if (json_is_string (item)) strbuf_printf (
            &papers, "%s%s", papers.len ? " " : "", json_string_value (item));
    strbuf_putc (&days, '{');
    strbuf_putc (&flags, '{');
    strbuf_putc (&names, '{');
    size_t kept = 0;
    if (json_is_array (list))
        json_array_foreach (list, i, item)
        {
            json_t *date = json_object_get (item, "date"),
                   *off = json_object_get (item, "isOffDay"),
                   *name = json_object_get (item, "name");
            int y, m, d;
            if (!json_is_object (item)) {
                import_problem (&problems, &n_problems, file, "days[%zu] is not an object",
                                i);
                continue;
            }
            if (!json_is_string (date)
                || !parse_date (json_string_value (date), &y, &m, &d)) {
                import_problem (&problems, &n_problems, file,
                                "days[%zu].date is not a date (YYYY-MM-DD)", i);
                continue;
            }
            if (!json_is_boolean (off)) {
                import_problem (&problems, &n_problems, file,
                                "days[%zu].isOffDay (%s) must be true or false", i,
                                json_string_value (date));
                continue;
            }
            if (name && !json_is_string (name)) {
                import_problem (&problems, &n_problems, file,
                                "days[%zu].name (%s) must be text", i,
                                json_string_value (date));
                continue;
            }
            if (y != year) {
                n_elsewhere++; /* e.g. New Year make-up days in the December before */
                continue;
            }
            for (size_t j = 0; j < i; j++) {
                json_t *other = json_object_get (json_array_get (list, j), "date");
                if (json_is_string (other)
                    && strcmp (json_string_value (other), json_string_value (date)) == 0) {
                    import_problem (&problems, &n_problems, file,
                                    "days[%zu].date %s is also days[%zu].date", i,
                                    json_string_value (date), j);
                    break;
                }
            }
            strbuf_printf (&days, "%s%s", kept ? "," : "", json_string_value (date));
            strbuf_printf (&flags, "%s%s", kept ? "," : "", json_is_true (off) ? "f" : "t");
            strbuf_puts (&names, kept ? "," : "");
            strbuf_json_string (&names, name ? json_string_value (name) : "");
            kept++;
            if (json_is_true (off))
                n_off++;
            else
                n_work++;
        }
    strbuf_putc (&days, '}');
    strbuf_putc (&flags, '}');
    strbuf_putc (&names, '}');
    if (!n_problems && kept == 0)
        import_problem (&problems, &n_problems, file, "no day of %lld in \"days\"",
                        (long long) year);
    int rc = HUBCTL_FAILURE;
    if (n_problems) {
        fputs (problems.data, stderr);
        if (n_problems > 40)
            fprintf (stderr, "hubctl calendar: %s: %d more problems\n", file,
                     n_problems - 40);
        fprintf (stderr, "hubctl calendar: %s: nothing imported\n", file);
        goto done;
    }
    PGconn *conn = hubctl_connect (options);
    if (!conn)
        goto done;
    char y[16];
    snprintf (y, sizeof y, "%lld", (long long) year);
    const char *params[5] = {days.data, flags.data, names.data, y,
                             papers.len ? papers.data : ""};
    PGresult *res = hubctl_query (
        conn, "import the official arrangement",
        "WITH n AS (SELECT * FROM unnest($1::date[], $2::boolean[], $3::text[]) "
        "  AS t(day, workday, name)), "
        "kept AS (SELECT c.day FROM public.calendar_days c JOIN n USING (day) "
        "  WHERE c.source = 'operator'), "
        /* an operator's override stays; the official value is kept beside
           it, so that 'unset' restores it */
        "up AS (INSERT INTO public.calendar_days (day, workday, name, source, "
        "    official_workday, official_name) "
        "  SELECT day, workday, name, 'official', workday, name FROM n "
        "  ON CONFLICT (day) DO UPDATE SET "
        "    workday = CASE WHEN calendar_days.source = 'operator' "
        "      THEN calendar_days.workday ELSE EXCLUDED.workday END, "
        "    name = CASE WHEN calendar_days.source = 'operator' "
        "      THEN calendar_days.name ELSE EXCLUDED.name END, "
        "    official_workday = EXCLUDED.official_workday, "
        "    official_name = EXCLUDED.official_name, changed_at = now() "
        "  RETURNING 1), "
        "yr AS (INSERT INTO public.calendar_years (year, source, papers) "
        "  VALUES ($4::int, 'import', $5) ON CONFLICT (year) DO UPDATE SET "
        "  source = 'import', papers = EXCLUDED.papers, loaded_at = now() RETURNING 1) "
        "SELECT (SELECT count(*) FROM up), (SELECT string_agg(day::text, ', ' ORDER BY "
        "day) "
        "  FROM kept), (SELECT count(*) FROM yr)",
        5, params);
    PQfinish (conn);
    if (!res)
        goto done;
    const char *overridden = PQgetisnull (res, 0, 1) ? NULL : PQgetvalue (res, 0, 1);
    if (options->json) {
        json_t *obj = json_pack ("{s:I, s:i, s:i, s:i, s:o, s:s}", "year", year, "days_off",
                                 n_off, "make_up_working_days", n_work, "outside_the_year",
                                 n_elsewhere, "operator_overrides_kept",
                                 overridden ? json_string (overridden) : json_null (),
                                 "papers", papers.len ? papers.data : "");
        json_dumpf (obj, stdout, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
        putchar ('\n');
        json_decref (obj);
    }
    else {
        printf (
            "Imported the official arrangement of %lld from %s: %d days off, %d make-up "
            "working days%s.\n",
            (long long) year, file, n_off, n_work,
            n_elsewhere ? " (days of other years in the file skipped)" : "");
        if (overridden)
            printf ("Operators' overrides kept for: %s ('hubctl calendar unset DATE' lets "
                    "the official day apply).\n",
                    overridden);
        printf (
            "%lld is now a known year. The hubs re-plan the deadlines it moves within a "
            "minute, and deadlines counted into it are no longer provisional.\n",
            (long long) year);
    }
    PQclear (res);
    rc = HUBCTL_OK;
done:
    json_decref (root);
    strbuf_free (&problems);
    strbuf_free (&days);
    strbuf_free (&flags);
    strbuf_free (&names);
    strbuf_free (&papers);
    return rc;
}

int
cmd_calendar (const hubctl_options_t *options, int argc, char **argv)
{
    static struct option opts[] = {{"name", required_argument, NULL, 'n'},
                                   {"force", no_argument, NULL, 'f'},
                                   {"help", no_argument, NULL, 'h'},
                                   {NULL, 0, NULL, 0}};
    const char *name = NULL;
    bool force = false;
    int c;
    while ((c = getopt_long (argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'n': name = optarg; break;
        case 'f': force = true; break;
        case 'h': usage (); return HUBCTL_OK;
        default: fprintf (stderr, "Try 'hubctl calendar --help'.\n"); return HUBCTL_USAGE;
        }
    }
    int npos = argc - optind;
    char **pos = argv + optind;
    const char *action = npos > 0 ? pos[0] : NULL;
    if (action && strcmp (action, "set") == 0) {
        if (force)
            return hubctl_usage_error ("calendar", "--force goes with 'unset', not 'set'");
        if (npos != 3)
            return hubctl_usage_error ("calendar",
                                       "'set' takes a date and work or off: "
                                       "hubctl calendar set YYYY-MM-DD work|off");
        int y, m, d;
        if (!parse_date (pos[1], &y, &m, &d))
            return hubctl_usage_error ("calendar", "'%s' is not a date (YYYY-MM-DD)",
                                       pos[1]);
        bool workday;
        if (strcmp (pos[2], "work") == 0)
            workday = true;
        else if (strcmp (pos[2], "off") == 0)
            workday = false;
        else
            return hubctl_usage_error ("calendar", "'%s': say 'work' or 'off'", pos[2]);
        if (name && strlen (name) > 200)
            return hubctl_usage_error ("calendar",
                                       "--name is too long (200 bytes at most)");
        return set_day (options, pos[1], y, m, d, workday, name);
    }
    if (action && strcmp (action, "unset") == 0) {
        if (name)
            return hubctl_usage_error ("calendar", "--name goes with 'set', not 'unset'");
        if (npos != 2)
            return hubctl_usage_error ("calendar", "'unset' takes one date: "
                                                   "hubctl calendar unset YYYY-MM-DD");
        int y, m, d;
        if (!parse_date (pos[1], &y, &m, &d))
            return hubctl_usage_error ("calendar", "'%s' is not a date (YYYY-MM-DD)",
                                       pos[1]);
        return unset_day (options, pos[1], y, m, d, force);
    }
    if (action && strcmp (action, "import") == 0) {
        if (name || force)
            return hubctl_usage_error ("calendar", "--name and --force go with 'set' and "
                                                   "'unset', not 'import'");
        if (npos != 2)
            return hubctl_usage_error ("calendar", "'import' takes one file: "
                                                   "hubctl calendar import FILE");
        return import_notice (options, pos[1]);
    }
    if (name || force)
        return hubctl_usage_error ("calendar", "--name and --force go with 'set' and "
                                               "'unset'");
    if (npos > 1)
        return hubctl_usage_error ("calendar", "unexpected argument '%s'", pos[1]);
    int year, month;
    if (action) {
        if (!parse_month (action, &year, &month))
            return hubctl_usage_error ("calendar",
                                       "'%s' is not a month (YYYY-MM), nor "
                                       "'set' or 'unset'",
                                       action);
    }
    else {
        int day;
        calendar_civil_from_days (calendar_local_day (clock_now_ms ()), &year, &month,
                                  &day);
    }
    return show_month (options, year, month);
}
