/*  stmt: running the hub's workflow statements, see stmt.h. */
#include "stmt.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "log.h"

/* Appends s to a PostgreSQL array literal being built in sb. */
void
stmt_array_add (strbuf_t *sb, const char *s)
{
    strbuf_putc (sb, sb->len > 1 ? ',' : '{');
    if (!s) {
        strbuf_puts (sb, "NULL");
        return;
    }
    strbuf_putc (sb, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            strbuf_putc (sb, '\\');
        strbuf_putc (sb, *p);
    }
    strbuf_putc (sb, '"');
}

const char *
stmt_array_end (strbuf_t *sb)
{
    if (sb->len == 0)
        strbuf_putc (sb, '{');
    strbuf_putc (sb, '}');
    return sb->data;
}

/* ms since the epoch as timestamptz text, or NULL for 0. */
const char *
stmt_ts_or_null (int64_t ms, char *buf, size_t len)
{
    if (!ms)
        return NULL;
    clock_format_pg (ms, buf, len);
    return buf;
}

/* The last statement failure of this thread, for the dead letter of an
   event that cannot be correlated, and its SQLSTATE ("" when PostgreSQL
   gave none: the connection failed), which decides between setting the
   event aside and retrying. */
static _Thread_local char s_last_error[512];
static _Thread_local char s_last_sqlstate[6];

const char *
stmt_last_error (void)
{
    return s_last_error;
}

const char *
stmt_last_sqlstate (void)
{
    return s_last_sqlstate;
}

void
stmt_forget_failure (void)
{
    s_last_error[0] = '\0';
    s_last_sqlstate[0] = '\0';
}

bool
stmt_ok (PGresult *res, const char *what)
{
    ExecStatusType st = PQresultStatus (res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return true;
    const char *state = PQresultErrorField (res, PG_DIAG_SQLSTATE);
    snprintf (s_last_sqlstate, sizeof s_last_sqlstate, "%s", state ? state : "");
    snprintf (s_last_error, sizeof s_last_error, "%s: %s", what,
              PQresultErrorMessage (res));
    for (char *p = s_last_error; *p; p++)
        if (*p == '\n')
            *p = ' ';
    log_warn ("workflow statement failed", "what=%s sqlstate=%s error=%s", log_q (what),
              log_q (s_last_sqlstate[0] ? s_last_sqlstate : "none"),
              log_q (PQresultErrorMessage (res)));
    return false;
}

/* True when the last failure was the data's fault (SQLSTATE class 22, data
   exception, or 23, integrity constraint violation): the same events would
   fail again, so the one at fault is set aside. Anything else (a lock or
   statement timeout, a serialization failure, a deadlock, a server
   shutting down, too many connections) is the moment's fault: retried. */
bool
stmt_last_failure_is_data_error (void)
{
    return strncmp (s_last_sqlstate, "22", 2) == 0
           || strncmp (s_last_sqlstate, "23", 2) == 0;
}

bool
stmt_exec (PGconn *conn, const char *sql, const char *what)
{
    PGresult *res = PQexec (conn, sql);
    bool good = stmt_ok (res, what);
    PQclear (res);
    return good;
}

bool
stmt_params (PGconn *conn, const char *sql, int n, const char *const *params,
             const char *what, PGresult **out)
{
    PGresult *res = PQexecParams (conn, sql, n, NULL, params, NULL, NULL, 0);
    bool good = stmt_ok (res, what);
    if (out && good)
        *out = res;
    else
        PQclear (res);
    return good;
}
