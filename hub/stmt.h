/*  stmt: how the correlation thread runs its statements.

    One statement at a time on the thread's connection: its failure is
    logged with what it was for, and the last one's message and SQLSTATE
    are kept (per thread) so the caller can tell the data's fault (a class
    22 or 23 SQLSTATE: the same events would fail again, set the one at
    fault aside) from the moment's (a timeout, a lost connection: retry).
    Set-based statements take their rows as PostgreSQL array literals,
    built here. */
#ifndef ONENET_STMT_H
#define ONENET_STMT_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

/* Appends s (NULL: SQL NULL) to an array literal being built in sb. */
void stmt_array_add (strbuf_t *sb, const char *s);
/* Closes the literal ("{}" when empty) and returns it. Once per array. */
const char *stmt_array_end (strbuf_t *sb);
/* ms since the epoch as timestamptz text in buf, or NULL for 0. */
const char *stmt_ts_or_null (int64_t ms, char *buf, size_t len);

/* True when res succeeded; else logs it as the statement for what and
   keeps its message and SQLSTATE. */
bool stmt_ok (PGresult *res, const char *what);
/* Runs sql; true when it succeeded. */
bool stmt_exec (PGconn *conn, const char *sql, const char *what);
/* Runs sql with n text parameters; on success hands the result to *out
   (caller clears) when out is not NULL. */
bool stmt_params (PGconn *conn, const char *sql, int n, const char *const *params,
                  const char *what, PGresult **out);
/* The last failure of this thread ("what: message"), "" if none. */
const char *stmt_last_error (void);
/* Its SQLSTATE, "" when PostgreSQL gave none (the connection failed). */
const char *stmt_last_sqlstate (void);
/* Forgets the last failure (at the start of a transaction). */
void stmt_forget_failure (void);
/* True when the last failure was the data's fault (SQLSTATE class 22 or 23). */
bool stmt_last_failure_is_data_error (void);

#endif
