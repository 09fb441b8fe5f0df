/*  supervision_page: the supervision office's live page (督办), served by
    the HTTP endpoint (http.h) at /supervision and /supervision/case.

    Server-rendered HTML (UTF-8, lang zh-CN, no script): the overdue and
    warned steps by agency, worst first, each with the case numbers the
    agencies know the case by, the workflow and the step's Chinese title
    (from the definitions the hub runs); a search box finding a case by
    unit number, credit code, project code or another key, an agency's
    case number or an event id, and the case's timeline; every adapter
    with its last heartbeat.

    Every query reads the views of schema analytics on a session that acts
    as onenet_analyst (the caller's business, see http.c), so names, id
    numbers and phone numbers reach the page masked; every value is
    HTML-escaped. */
#ifndef ONENET_SUPERVISION_PAGE_H
#define ONENET_SUPERVISION_PAGE_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "strbuf.h"
#include "workflow_def.h"

/* Rows listed per section, at most; the heading counts them all. */
#define SUPERVISION_LIST_MAX 300
/* Instances shown for one search, at most. */
#define SUPERVISION_CASES_MAX 20
/* An adapter silent this long is shown as lost (as in onenet_adapters_stale). */
#define SUPERVISION_SILENT_S 300

/* Writes the overview (/supervision) into out. False when a query failed,
   with PostgreSQL's message in err (out is then undefined). */
bool supervision_overview (PGconn *conn, const workflow_set_t *set, const char *hub_id,
                           strbuf_t *out, char *err, size_t errlen);

/* Writes the search for q (/supervision/case?q=) and the timeline of every
   case it finds into out. False when a query failed, as above. */
bool supervision_case (PGconn *conn, const workflow_set_t *set, const char *hub_id,
                       const char *q, strbuf_t *out, char *err, size_t errlen);

/* Writes a page saying the data cannot be shown now, and why. */
void supervision_unavailable (const char *hub_id, const char *why, strbuf_t *out);

/* Appends s with & < > " ' escaped for HTML text and attribute values. */
void html_escape (strbuf_t *out, const char *s);

#endif
