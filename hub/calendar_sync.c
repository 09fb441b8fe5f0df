/*  calendar_sync: calendar seeding and loading, see calendar_sync.h. */
#include "calendar_sync.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

int
calendar_sync_seed (PGconn *conn, char *err, size_t errlen)
{
    /* the shipped file is generated and checked by build_calendar.py: plain
       "YYYY-MM-DD,true|false,name" lines, no quoting */
    strbuf_t days, flags, names;
    strbuf_init (&days);
    strbuf_init (&flags);
    strbuf_init (&names);
    strbuf_putc (&days, '{');
    strbuf_putc (&flags, '{');
    strbuf_putc (&names, '{');
    const char *p = calendar_official_csv;
    size_t n = 0;
    while (*p) {
        const char *end = strchr (p, '\n');
        size_t len = end ? (size_t) (end - p) : strlen (p);
        char line[256];
        if (len < sizeof line) {
            memcpy (line, p, len);
            line[len] = '\0';
            char *c1 = strchr (line, ','), *c2 = c1 ? strchr (c1 + 1, ',') : NULL;
            if (c1 && c2 && line[0] >= '0' && line[0] <= '9') {
                *c1 = *c2 = '\0';
                char *cr = strchr (c2 + 1, '\r');
                if (cr)
                    *cr = '\0';
                strbuf_printf (&days, "%s%s", n ? "," : "", line);
                strbuf_printf (&flags, "%s%s", n ? "," : "", c1 + 1);
                strbuf_puts (&names, n ? "," : "");
                strbuf_json_string (&names, c2 + 1); /* array literal quoting */
                n++;
            }
        }
        p += len + (end ? 1 : 0);
    }
    strbuf_putc (&days, '}');
    strbuf_putc (&flags, '}');
    strbuf_putc (&names, '}');
    const char *params[3] = {days.data, flags.data, names.data};
    /* the days, then the years they cover: each shipped year is official */
    PGresult *res = PQexecParams (
        conn,
        "WITH d AS (INSERT INTO calendar_days (day, workday, name, source, "
        "  official_workday, official_name) "
        "  SELECT d, w, n, 'official', w, n FROM unnest($1::date[], $2::boolean[], "
        "  $3::text[]) AS t(d, w, n) ON CONFLICT (day) DO UPDATE SET "
        /* an overridden day learns its official value; nothing else changes */
        "  official_workday = EXCLUDED.official_workday, "
        "  official_name = EXCLUDED.official_name "
        "  WHERE calendar_days.official_workday IS NULL RETURNING (xmax = 0) AS new), "
        "y AS (INSERT INTO calendar_years (year, source, papers) "
        "  SELECT DISTINCT extract(year FROM d)::int, 'official', "
        "    'State Council arrangements, shipped with onenet' "
        "  FROM unnest($1::date[]) AS t(d) ON CONFLICT (year) DO NOTHING) "
        "SELECT count(*) FILTER (WHERE new) FROM d",
        3, NULL, params, NULL, NULL, 0);
    int rc = -1;
    if (PQresultStatus (res) == PGRES_TUPLES_OK)
        rc = atoi (PQgetvalue (res, 0, 0));
    else
        snprintf (err, errlen, "could not seed the working-day calendar: %s",
                  PQresultErrorMessage (res));
    PQclear (res);
    strbuf_free (&days);
    strbuf_free (&flags);
    strbuf_free (&names);
    return rc;
}

calendar_t *
calendar_sync_load (PGconn *conn, int64_t *version, char *err, size_t errlen)
{
    /* one statement, one snapshot: the days, the known years (day NULL)
       and the version they make, consistent with each other */
    PGresult *res = PQexec (
        conn,
        "SELECT extract(year FROM day)::int, extract(month FROM day)::int, "
        "extract(day FROM day)::int, workday FROM calendar_days "
        "UNION ALL SELECT year, NULL, NULL, NULL FROM calendar_years "
        "UNION ALL SELECT coalesce(max(id), 0), NULL, NULL, NULL FROM calendar_changes");
    if (PQresultStatus (res) != PGRES_TUPLES_OK) {
        snprintf (err, errlen, "could not read the working-day calendar: %s",
                  PQresultErrorMessage (res));
        PQclear (res);
        return NULL;
    }
    calendar_t *cal = calendar_new ();
    int n = PQntuples (res);
    for (int i = 0; i < n - 1; i++) { /* the last row is the version */
        int year = atoi (PQgetvalue (res, i, 0));
        if (PQgetisnull (res, i, 1))
            calendar_mark_year_known (cal, year);
        else
            calendar_override_day (cal, year, atoi (PQgetvalue (res, i, 1)),
                                   atoi (PQgetvalue (res, i, 2)),
                                   PQgetvalue (res, i, 3)[0] == 't');
    }
    if (version)
        *version = n >= 1 ? atoll (PQgetvalue (res, n - 1, 0)) : 0;
    PQclear (res);
    return cal;
}

int64_t
calendar_sync_version (PGconn *conn)
{
    PGresult *res = PQexec (conn, "SELECT coalesce(max(id), 0) FROM calendar_changes");
    int64_t v = -1;
    if (PQresultStatus (res) == PGRES_TUPLES_OK && PQntuples (res) == 1)
        v = atoll (PQgetvalue (res, 0, 0));
    PQclear (res);
    return v;
}
