/*  hubctl calendar: the working-day calendar deadlines are counted on
    (docs/schema.md, calendar_days). Shows a month; sets or removes an
    operator's override of one day. The hubs reload the table every minute,
    so a change applies without a restart. */
#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "calendar_sync.h"
#include "clock.h"
#include "hubctl.h"

static const char *const weekday_names[7] = {"Sun", "Mon", "Tue", "Wed",
                                             "Thu", "Fri", "Sat"};

static void
usage (void)
{
    printf (
        "Usage: hubctl calendar [YYYY-MM]\n"
        "       hubctl calendar set YYYY-MM-DD work|off [--name TEXT]\n"
        "       hubctl calendar unset YYYY-MM-DD [--force]\n\n"
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
        "                      start; to change such a day use 'set')\n\n"
        "The hubs pick up a change within a minute. Deadlines already computed change\n"
        "when their case next receives an event.\n");
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

/* True when calendar_days lists any day of the year (the hubs then know
   the year); -1 when the query failed. */
static int
year_known (PGconn *conn, int year)
{
    char y[16];
    snprintf (y, sizeof y, "%04d", year);
    const char *params[1] = {y};
    PGresult *res = hubctl_query (
        conn, "read the working-day calendar",
        "SELECT EXISTS (SELECT 1 FROM calendar_days WHERE day >= to_date($1, 'YYYY') "
        "AND day < to_date($1, 'YYYY') + interval '1 year')",
        1, params);
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
              "  to_char(c.changed_at AT TIME ZONE 'Asia/Shanghai', "
              "    'YYYY-MM-DD HH24:MI:SS') AS changed "
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
                 "hubctl calendar: %04d has no days in calendar_days, so only the weekend "
                 "rule applies and the hubs warn when a deadline runs into it. Add the "
                 "official arrangements once they are published (a hub inserts those it "
                 "carries when it starts), or days with 'hubctl calendar set'.\n",
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
        "  (SELECT count(*) FROM calendar_days WHERE day >= date_trunc('year', $1::date) "
        "    AND day < date_trunc('year', $1::date) + interval '1 year') "
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
                "The hubs apply it within a minute; deadlines already computed change when "
                "their case next receives an event.\n",
                date, weekday_of (y, m, d), workday ? "a working day" : "a day off",
                *new_name ? ": " : "", new_name, was);
    }
    if (!year_was_known)
        fprintf (
            stderr,
            "hubctl calendar: note: %04d had no days in calendar_days. The hubs now "
            "treat %04d as known and count its deadlines on the weekend rule plus this "
            "day, without warning: add its official arrangements too.\n",
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
        "SELECT workday, name, source FROM calendar_days WHERE day = $1::date", 1, params);
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
    bool off_workday = false;
    char off_name[256];
    bool restore =
        !official && official_day (date, &off_workday, off_name, sizeof off_name);
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
        printf ("The hubs apply it within a minute.\n");
    if (official)
        fprintf (stderr,
                 "hubctl calendar: note: a hub that carries the official arrangement of %s "
                 "inserts it again when it next starts or reconnects to the database.\n",
                 date);
    return HUBCTL_OK;
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
