/*  onenet-bench-naive: the naive design, for comparison with the hub.

    Stores event rows the way a straightforward integration would: one
    INSERT and one commit per event (each INSERT its own transaction), from
    several connections in parallel, each on its own thread. The rows come
    from a file in PostgreSQL's COPY text format (the very rows the hub
    stored, as tests/bench/bench_ingest.py exports them), in the column
    order given; row i goes to connection i mod K. Prints one JSON line:
        {"events":..,"connections":..,"seconds":..,"rate":..}
    Exit status: 0 done, 1 a row or the database failed, 2 usage. */
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "clock.h"

enum { MAX_COLUMNS = 32 };

typedef struct {
    char *fields[MAX_COLUMNS]; /* NULL for SQL NULL; points into line */
    char *line;                /* the row, unescaped in place */
    long line_no;              /* in the rows file, for messages */
} row_t;

typedef struct {
    const char *conninfo;
    const char *sql;
    const char *rows_path;
    row_t *rows;
    size_t n_rows, first, step;
    int n_columns;
    bool failed;
} worker_t;

/* Unescapes one field of COPY text format in place; returns NULL for \N. */
static char *
copy_unescape (char *s)
{
    if (strcmp (s, "\\N") == 0)
        return NULL;
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r != '\\' || !r[1]) {
            *w++ = *r;
            continue;
        }
        r++;
        switch (*r) {
        case 'b': *w++ = '\b'; break;
        case 'f': *w++ = '\f'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 't': *w++ = '\t'; break;
        case 'v': *w++ = '\v'; break;
        default: *w++ = *r; break;
        }
    }
    *w = '\0';
    return s;
}

/* Reads the rows file; every row must have N_COLUMNS fields. */
static row_t *
read_rows (const char *path, int n_columns, size_t limit, size_t *n_out)
{
    FILE *f = fopen (path, "r");
    if (!f) {
        perror (path);
        return NULL;
    }
    size_t cap = 1024, n = 0;
    row_t *rows = malloc (cap * sizeof *rows);
    char *line = NULL;
    size_t line_cap = 0;
    ssize_t len;
    long line_no = 0;
    while ((limit == 0 || n < limit) && (len = getline (&line, &line_cap, f)) >= 0) {
        line_no++;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (n == cap)
            rows = realloc (rows, (cap *= 2) * sizeof *rows);
        row_t *row = &rows[n];
        row->line = strdup (line);
        row->line_no = line_no;
        int col = 0;
        char *p = row->line;
        for (;;) {
            char *tab = strchr (p, '\t');
            if (tab)
                *tab = '\0';
            if (col < MAX_COLUMNS)
                row->fields[col] = p;
            col++;
            if (!tab)
                break;
            p = tab + 1;
        }
        if (col != n_columns) {
            fprintf (stderr, "onenet-bench-naive: %s:%ld: %d fields, expected %d\n", path,
                     line_no, col, n_columns);
            free (row->line);
            continue;
        }
        for (int i = 0; i < col; i++)
            row->fields[i] = copy_unescape (row->fields[i]);
        n++;
    }
    free (line);
    fclose (f);
    *n_out = n;
    return rows;
}

static void *
worker_run (void *arg)
{
    worker_t *w = arg;
    PGconn *conn = PQconnectdb (w->conninfo);
    if (PQstatus (conn) != CONNECTION_OK) {
        fprintf (stderr, "onenet-bench-naive: could not connect: %s",
                 PQerrorMessage (conn));
        w->failed = true;
        PQfinish (conn);
        return NULL;
    }
    PGresult *res = PQprepare (conn, "naive_insert", w->sql, w->n_columns, NULL);
    if (PQresultStatus (res) != PGRES_COMMAND_OK) {
        fprintf (stderr, "onenet-bench-naive: could not prepare \"%s\": %s", w->sql,
                 PQerrorMessage (conn));
        w->failed = true;
    }
    PQclear (res);
    for (size_t i = w->first; !w->failed && i < w->n_rows; i += w->step) {
        const row_t *row = &w->rows[i];
        /* autocommit: the INSERT is its own transaction, one commit each */
        res = PQexecPrepared (conn, "naive_insert", w->n_columns,
                              (const char *const *) row->fields, NULL, NULL, 0);
        if (PQresultStatus (res) != PGRES_COMMAND_OK) {
            fprintf (stderr, "onenet-bench-naive: %s:%ld: insert failed: %s", w->rows_path,
                     row->line_no, PQerrorMessage (conn));
            w->failed = true;
        }
        PQclear (res);
    }
    PQfinish (conn);
    return NULL;
}

static void
usage (void)
{
    fprintf (stderr, "usage: onenet-bench-naive --db CONNINFO --rows FILE --table TABLE\n"
                     "       --columns \"a, b, ...\" [--connections K] [--limit N]\n");
}

int
main (int argc, char **argv)
{
    const char *db = NULL, *rows_path = NULL, *table = NULL, *columns = NULL;
    long connections = 8, limit = 0;
    static struct option opts[] = {{"db", required_argument, 0, 'd'},
                                   {"rows", required_argument, 0, 'r'},
                                   {"table", required_argument, 0, 't'},
                                   {"columns", required_argument, 0, 'c'},
                                   {"connections", required_argument, 0, 'k'},
                                   {"limit", required_argument, 0, 'n'},
                                   {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'd': db = optarg; break;
        case 'r': rows_path = optarg; break;
        case 't': table = optarg; break;
        case 'c': columns = optarg; break;
        case 'k': connections = atol (optarg); break;
        case 'n': limit = atol (optarg); break;
        default: usage (); return 2;
        }
    }
    if (!db || !rows_path || !table || !columns || connections <= 0 || connections > 256
        || limit < 0) {
        usage ();
        return 2;
    }
    int n_columns = 1;
    for (const char *p = columns; *p; p++)
        n_columns += *p == ',';
    if (n_columns > MAX_COLUMNS) {
        fprintf (stderr, "onenet-bench-naive: --columns: %d columns, at most %d\n",
                 n_columns, MAX_COLUMNS);
        return 2;
    }
    /* the table and column names are the benchmark's own, not outside input;
       every value goes as a parameter */
    char sql[4096];
    int len = snprintf (sql, sizeof sql, "INSERT INTO %s (%s) VALUES (", table, columns);
    for (int i = 1; i <= n_columns && len < (int) sizeof sql; i++)
        len +=
            snprintf (sql + len, sizeof sql - (size_t) len, "%s$%d", i > 1 ? ", " : "", i);
    if (len + 2 >= (int) sizeof sql) {
        fprintf (stderr, "onenet-bench-naive: --table/--columns too long\n");
        return 2;
    }
    strcat (sql, ")");

    size_t n_rows = 0;
    row_t *rows = read_rows (rows_path, n_columns, (size_t) limit, &n_rows);
    if (!rows || n_rows == 0) {
        fprintf (stderr, "onenet-bench-naive: %s: no rows\n", rows_path);
        return 1;
    }
    pthread_t *threads = calloc ((size_t) connections, sizeof *threads);
    worker_t *workers = calloc ((size_t) connections, sizeof *workers);
    int64_t t0 = clock_mono_us ();
    for (long i = 0; i < connections; i++) {
        workers[i] = (worker_t){.conninfo = db,
                                .sql = sql,
                                .rows_path = rows_path,
                                .rows = rows,
                                .n_rows = n_rows,
                                .first = (size_t) i,
                                .step = (size_t) connections,
                                .n_columns = n_columns};
        pthread_create (&threads[i], NULL, worker_run, &workers[i]);
    }
    bool failed = false;
    for (long i = 0; i < connections; i++) {
        pthread_join (threads[i], NULL);
        failed |= workers[i].failed;
    }
    double seconds = (double) (clock_mono_us () - t0) / 1e6;
    printf ("{\"events\":%zu,\"connections\":%ld,\"seconds\":%.3f,\"rate\":%.0f}\n", n_rows,
            connections, seconds, (double) n_rows / seconds);
    for (size_t i = 0; i < n_rows; i++)
        free (rows[i].line);
    free (rows);
    free (threads);
    free (workers);
    return failed ? 1 : 0;
}
