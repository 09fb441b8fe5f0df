/*  output: tables and JSON for hubctl, and the shared connection helpers. */
#define _XOPEN_SOURCE 700 /* wcwidth */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <wchar.h>

#include "hubctl.h"

#include "calendar.h"
#include "clock.h"
#include "strbuf.h"

PGconn *
hubctl_connect (const hubctl_options_t *options)
{
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"5", "hubctl", options->db, NULL};
    PGconn *conn = PQconnectdbParams (keys, vals, 1);
    if (PQstatus (conn) != CONNECTION_OK) {
        fprintf (stderr,
                 "hubctl: could not connect to the onenet database: %s"
                 "Give the database with --db CONNINFO (or ONENET_DB, or the PG* "
                 "environment variables).\n",
                 PQerrorMessage (conn));
        PQfinish (conn);
        return NULL;
    }
    /* operators read Beijing time: every timestamptz prints in it; and the
       onenet tables are the ones in public, whatever the role's search_path
       says (an analyst's puts the masked views of analytics first) */
    PGresult *res = PQexec (conn, "SET TIME ZONE 'Asia/Shanghai'; "
                                  "SELECT pg_catalog.set_config('search_path', "
                                  "'public, pg_catalog', false)");
    PQclear (res);
    return conn;
}

PGresult *
hubctl_query (PGconn *conn, const char *what, const char *sql, int n,
              const char *const *params)
{
    PGresult *res = PQexecParams (conn, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus (res);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return res;
    fprintf (stderr, "hubctl: could not %s: %s", what, PQresultErrorMessage (res));
    if (strstr (PQresultErrorMessage (res), "does not exist"))
        fprintf (stderr,
                 "Is this an onenet database? Apply the schema with 'hubctl migrate'.\n");
    else if (strstr (PQresultErrorMessage (res), "permission denied"))
        fprintf (stderr, "hubctl reads the onenet tables: connect as an operator (a role "
                         "granted onenet_operator), not as an analyst, whose role reads the "
                         "analytics views only.\n");
    PQclear (res);
    return NULL;
}

/* Terminal columns a UTF-8 string takes (wide characters count 2). */
static int
display_width (const char *s)
{
    int width = 0;
    mbstate_t state;
    memset (&state, 0, sizeof state);
    const char *p = s;
    size_t left = strlen (s);
    while (left > 0) {
        wchar_t wc;
        size_t n = mbrtowc (&wc, p, left, &state);
        if (n == (size_t) -1 || n == (size_t) -2) {
            width++;
            p++;
            left--;
            memset (&state, 0, sizeof state);
            continue;
        }
        if (n == 0)
            break;
        int w = wcwidth (wc);
        width += w > 0 ? w : (w == 0 ? 0 : 1);
        p += n;
        left -= n;
    }
    return width;
}

static void
print_padded (const char *s, int width, bool last)
{
    fputs (s, stdout);
    if (!last)
        for (int pad = width - display_width (s); pad > 0; pad--)
            putchar (' ');
}

/* One cell as JSON, typed by its column. */
static json_t *
cell_json (PGresult *res, int r, int c)
{
    if (PQgetisnull (res, r, c))
        return json_null ();
    const char *name = PQfname (res, c), *text = PQgetvalue (res, r, c);
    size_t len = strlen (name);
    json_t *value = NULL;
    Oid type = PQftype (res, c);
    if (len > 5 && strcmp (name + len - 5, "_json") == 0)
        value = json_loads (text, JSON_DECODE_ANY, NULL);
    /* int2, int4, int8, numeric, float8: numbers; bool: true/false */
    else if (type == 20 || type == 21 || type == 23 || type == 1700 || type == 701)
        value = json_loads (text, JSON_DECODE_ANY, NULL);
    else if (type == 16)
        value = json_boolean (text[0] == 't');
    return value ? value : json_string (text);
}

json_t *
hubctl_row_json (PGresult *res, int r)
{
    json_t *obj = json_object ();
    for (int c = 0; c < PQnfields (res); c++) {
        const char *name = PQfname (res, c);
        size_t len = strlen (name);
        char key[128];
        bool embedded = len > 5 && strcmp (name + len - 5, "_json") == 0;
        snprintf (key, sizeof key, "%.*s", (int) (embedded ? len - 5 : len), name);
        json_object_set_new (obj, key, cell_json (res, r, c));
    }
    return obj;
}

json_t *
hubctl_rows_json (PGresult *res)
{
    json_t *rows = json_array ();
    for (int r = 0; r < PQntuples (res); r++)
        json_array_append_new (rows, hubctl_row_json (res, r));
    return rows;
}

bool
hubctl_count_arg (const char *text)
{
    char *end;
    long n = strtol (text, &end, 10);
    return *text && !*end && n >= 1 && n <= 1000000;
}

void
hubctl_print (const hubctl_options_t *options, PGresult *res)
{
    int rows = PQntuples (res), cols = PQnfields (res);
    if (options->json) {
        json_t *array = hubctl_rows_json (res);
        json_dumpf (array, stdout, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
        putchar ('\n');
        json_decref (array);
        return;
    }
    const char **header = calloc ((size_t) cols + 1, sizeof *header);
    const char **cells = calloc ((size_t) rows * (size_t) cols + 1, sizeof *cells);
    if (!header || !cells)
        abort ();
    for (int c = 0; c < cols; c++)
        header[c] = PQfname (res, c);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            cells[r * cols + c] = PQgetisnull (res, r, c) ? NULL : PQgetvalue (res, r, c);
    hubctl_print_table (header, cols, cells, rows);
    free (header);
    free (cells);
}

void
hubctl_print_table (const char *const *header, int cols, const char *const *cells, int rows)
{
    int *width = calloc ((size_t) cols + 1, sizeof *width);
    if (!width)
        abort ();
    for (int c = 0; c < cols; c++) {
        width[c] = display_width (header[c]);
        for (int r = 0; r < rows; r++) {
            const char *cell = cells[r * cols + c];
            int w = cell ? display_width (cell) : 1;
            if (w > width[c])
                width[c] = w;
        }
    }
    for (int c = 0; c < cols; c++) {
        print_padded (header[c], width[c], c == cols - 1);
        fputs (c == cols - 1 ? "\n" : "  ", stdout);
    }
    for (int c = 0; c < cols; c++) {
        for (int i = 0; i < width[c]; i++)
            putchar ('-');
        fputs (c == cols - 1 ? "\n" : "  ", stdout);
    }
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            const char *cell = cells[r * cols + c];
            print_padded (cell ? cell : "-", width[c], c == cols - 1);
            fputs (c == cols - 1 ? "\n" : "  ", stdout);
        }
    printf ("(%d row%s)\n", rows, rows == 1 ? "" : "s");
    free (width);
}

int
hubctl_usage_error (const char *command, const char *fmt, ...)
{
    fprintf (stderr, "hubctl %s: ", command);
    va_list args;
    va_start (args, fmt);
    vfprintf (stderr, fmt, args);
    va_end (args);
    fprintf (stderr, "\nTry 'hubctl %s --help'.\n", command);
    return HUBCTL_USAGE;
}

bool
hubctl_wants_help (int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp (argv[i], "--help") || !strcmp (argv[i], "-h"))
            return true;
    return false;
}

bool
hubctl_date_ok (const char *command, const char *option, const char *value)
{
    int y, m, d;
    char tail;
    bool ok = value && strlen (value) == 10 && value[4] == '-' && value[7] == '-';
    for (int i = 0; ok && i < 10; i++)
        if (i != 4 && i != 7 && (value[i] < '0' || value[i] > '9'))
            ok = false;
    ok = ok && sscanf (value, "%4d-%2d-%2d%c", &y, &m, &d, &tail) == 3
         && calendar_date_valid (y, m, d);
    if (!ok)
        hubctl_usage_error (command, "%s takes a date YYYY-MM-DD (Beijing), not '%s'", option,
                            value ? value : "");
    return ok;
}

bool
hubctl_known (PGconn *conn, const char *command, const char *option, hubctl_known_t kind,
              const char *value)
{
    static const char *const sql[] = {
        [HUBCTL_KNOWN_STATE] = "SELECT unnest (ARRAY['open', 'suspended', 'completed', "
                               "'rejected', 'cancelled', 'superseded'])",
        [HUBCTL_KNOWN_WORKFLOW] = "SELECT DISTINCT workflow FROM public.workflow_definitions "
                                  "ORDER BY 1",
        /* the distinct agencies of events by their index, one probe each */
        [HUBCTL_KNOWN_AGENCY] =
            "WITH RECURSIVE a AS (SELECT min (agency) AS agency FROM public.events "
            "  UNION ALL SELECT (SELECT min (agency) FROM public.events e "
            "  WHERE e.agency > a.agency) FROM a WHERE a.agency IS NOT NULL) "
            "SELECT agency FROM a WHERE agency IS NOT NULL "
            "UNION SELECT agency FROM public.adapters "
            "UNION SELECT agency FROM public.agency_task_sequences "
            "UNION SELECT agency FROM public.dead_letters WHERE agency IS NOT NULL "
            /* and every agency a definition the hubs ran with names */
            "UNION SELECT (regexp_matches (body, 'agency:\\s*([a-z][a-z0-9_]*)', 'g'))[1] "
            "FROM public.workflow_definitions ORDER BY 1",
        /* the protocol's codes, the hub's own, and any a dead letter has */
        [HUBCTL_KNOWN_CODE] = "SELECT unnest (ARRAY['MALFORMED', 'UNSUPPORTED_VERSION', "
                              "'MISSING_FIELD', 'INVALID_FIELD', 'UNKNOWN_AGENCY', "
                              "'AGENCY_MISMATCH', 'LIMIT_EXCEEDED', 'INVALID_KEY', "
                              "'TIME_OUT_OF_RANGE', 'MESSAGE_TOO_LARGE', 'CONFLICT', "
                              "'CORRELATION_FAILED']) "
                              "UNION SELECT code FROM public.dead_letters ORDER BY 1"};
    static const char *const what[] = {[HUBCTL_KNOWN_STATE] = "instance states",
                                       [HUBCTL_KNOWN_WORKFLOW] = "workflows",
                                       [HUBCTL_KNOWN_AGENCY] = "agencies",
                                       [HUBCTL_KNOWN_CODE] = "dead-letter codes"};
    if (!value)
        return true;
    PGresult *res = PQexec (conn, sql[kind]);
    if (PQresultStatus (res) != PGRES_TUPLES_OK) {
        PQclear (res);
        return true;
    }
    bool found = false;
    strbuf_t list;
    strbuf_init (&list);
    for (int r = 0; r < PQntuples (res); r++) {
        const char *v = PQgetvalue (res, r, 0);
        found = found || strcmp (v, value) == 0;
        strbuf_printf (&list, "%s%s", r ? ", " : "", v);
    }
    if (!found)
        hubctl_usage_error (command, "%s '%s' is not one of the %s the database knows: %s",
                            option, value, what[kind],
                            PQntuples (res) ? list.data : "(none yet)");
    strbuf_free (&list);
    PQclear (res);
    return found;
}

bool
hubctl_count_ok (const char *command, const char *option, const char *value, int min)
{
    bool ok = value && (hubctl_count_arg (value) || (min == 0 && strcmp (value, "0") == 0));
    if (!ok)
        hubctl_usage_error (command, "%s takes a whole number from %d to 1000000, not '%s'",
                            option, min, value ? value : "");
    return ok;
}

bool
hubctl_page_ok (const char *command, const hubctl_page_t *page)
{
    return hubctl_count_ok (command, "--limit", page->limit, 1)
           && hubctl_count_ok (command, "--offset", page->offset, 0);
}

PGresult *
hubctl_page_snapshot (PGconn *conn)
{
    return hubctl_query (conn, "start a read-only transaction",
                         "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL);
}

PGresult *
hubctl_page_query (PGconn *conn, const char *what, const char *sql, int n,
                   const char *const *params, const char *then_order, hubctl_page_t *page)
{
    /* the count and the page from one snapshot: a row stored between the
       two must not shift the page against its total (a caller that began
       a transaction, for a summary of the same snapshot, ends it) */
    bool own = PQtransactionStatus (conn) == PQTRANS_IDLE;
    PGresult *res = own ? hubctl_page_snapshot (conn) : NULL;
    if (own && !res)
        return NULL;
    PQclear (res);
    strbuf_t q;
    strbuf_init (&q);
    strbuf_printf (&q, "SELECT count(*) FROM (%s) AS matching", sql);
    res = hubctl_query (conn, what, q.data, n, params);
    if (res) {
        page->total = atol (PQgetvalue (res, 0, 0));
        PQclear (res);
        const char **all = calloc ((size_t) n + 2, sizeof *all);
        if (!all)
            abort ();
        memcpy (all, params, (size_t) n * sizeof *all);
        all[n] = page->limit;
        all[n + 1] = page->offset;
        strbuf_reset (&q);
        if (then_order)
            strbuf_printf (&q,
                           "SELECT * FROM (%s LIMIT $%d::int OFFSET $%d::int) AS page "
                           "ORDER BY %s",
                           sql, n + 1, n + 2, then_order);
        else
            strbuf_printf (&q, "%s LIMIT $%d::int OFFSET $%d::int", sql, n + 1, n + 2);
        res = hubctl_query (conn, what, q.data, n + 2, all);
        free (all);
    }
    strbuf_free (&q);
    if (own)
        PQclear (PQexec (conn, "COMMIT"));
    page->rows = res ? PQntuples (res) : 0;
    return res;
}

void
hubctl_print_page (const hubctl_options_t *options, PGresult *res, const hubctl_page_t *page,
                   const char *name, PGresult *summary, const char *title)
{
    long offset = atol (page->offset), next = offset + page->rows;
    bool more = page->rows > 0 && next < page->total;
    if (options->json) {
        json_t *out = json_object ();
        json_object_set_new (out, "total", json_integer (page->total));
        json_object_set_new (out, "offset", json_integer (offset));
        json_object_set_new (out, "limit", json_integer (atol (page->limit)));
        json_object_set_new (out, "next_offset", more ? json_integer (next) : json_null ());
        json_object_set_new (out, "rows", hubctl_rows_json (res));
        if (name && summary)
            json_object_set_new (out, name, hubctl_rows_json (summary));
        json_dumpf (out, stdout, JSON_INDENT (2) | JSON_PRESERVE_ORDER);
        putchar ('\n');
        json_decref (out);
        return;
    }
    hubctl_print (options, res);
    if (page->rows > 0)
        printf ("rows %ld–%ld of %ld", offset + 1, next, page->total);
    else if (page->total > 0)
        printf ("no rows from --offset %ld: %ld in all", offset, page->total);
    if (more)
        printf ("; next: --offset %ld", next);
    if (page->total > 0)
        putchar ('\n'); /* nothing matches: "(0 rows)" says it */
    if (title && summary) {
        printf ("\n%s\n", title);
        hubctl_print (options, summary);
    }
}

json_t *
hubctl_instant_json (const char *text)
{
    int64_t ms;
    if (!text || !*text)
        return json_null ();
    if (!clock_parse_rfc3339 (text, &ms))
        return json_string (text);
    /* Beijing time has had no daylight saving since 1991: +08:00 */
    time_t beijing = (time_t) (ms / 1000 - (ms % 1000 < 0)) + 8 * 3600;
    struct tm tm;
    char iso[40];
    if (!gmtime_r (&beijing, &tm)
        || !strftime (iso, sizeof iso, "%Y-%m-%dT%H:%M:%S+08:00", &tm))
        return json_string (text);
    return json_string (iso);
}
