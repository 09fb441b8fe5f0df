/*  hubctl report: the monthly supervision report (督办月报) for the
    supervision office, as one self-contained HTML page (UTF-8, inline CSS
    and SVG, no script, nothing fetched from elsewhere) that a supervisor
    opens in a browser or prints, or with --json the same figures for
    programs.

    Everything comes from the views of the analytics schema
    (hub/sql/004_analytics.sql .. 008, docs/analytics.md), read in one
    read-only snapshot, so an analyst's role (onenet_analyst) can produce
    the report as well as an operator's. Every text from the database is
    HTML-escaped.

    A month-end snapshot. Every figure is as of the end of the report's
    month, Beijing time (24:00 of its last day), called "the month end"
    below; for a month not yet over, as of the time of the report. What
    happened after the month end changes nothing on the page: a step done
    in October is still open in September's report, a case started in
    October is not in it. Only facts about the month that reached the hub
    later (an event that happened in September but was delivered in
    October) correct it. So September's page, made again at any later
    time, is the same byte for byte but for the line "generated at".

    An instant at exactly 00:00 is the end (24:00) of the day before: a
    deadline at 2020-10-01 00:00 is "2020-09-30 24:00" and belongs to
    September, and "by the month end" includes the month end itself. The
    month is the half-open range (00:00 of its first day, 24:00 of its last
    day].

    The figures and their rules:
    - Steps due in the month: the required steps whose deadline falls in
      the month, of cases that started by the month end and were not merged
      into another run (superseded). Each is exactly one of on time (done
      by its deadline), late (done after its deadline, by the month end),
      overdue open (not done by the month end: its completion is NULL or
      after the month end) or, for a month not yet over, not yet due.
      These give the on-time rate (on time / (on time + late + overdue
      open), rounded once to one decimal), the steps due, on time and
      missed, the per-agency chart and table, and the worst cases.
    - Worst cases: the ten missed steps of the month with the longest
      delay: completion minus deadline, or month end minus deadline for a
      step still open then. Step titles come from the definition the case
      ran under (analytics.workflow_definitions); the agency's own case
      number is that of the event that completed the step by the month
      end, else of the step's agency's first event by then, else of the
      case's first event.
    - Banks by name: a bank step belongs to the bank named by the event
      that completed it by the month end, else by the case's first bank
      event by then, else by the first event of the case by then that names
      a bank (bank_name, or the bank adapter's bank_code and branch);
      "银行（未注明）" when no event by the month end names one.
    - Breaches (督办) of the month: the overdue breaches and warnings whose
      deadline falls in the month and that stand (analytics.breaches: a
      breach withdrawn because later facts disproved it counts nowhere,
      whenever it was withdrawn). Done late: the step was done by the month
      end; not done: it was not. Worst delay as for the worst cases.
    - Trend: the on-time rate of each of the six months as of that month's
      own end (the same as that month's report).
    - Completed cases and durations: the cases completed within the month
      (by the month end), from their start to their completion.
    - Backlog: the cases running at the month end (started by then and not
      completed, refused or withdrawn by then), their age at the month end,
      suspended at the month end (the last of their refusal-for-correction
      and reopening events by then was a refusal), and with a step overdue
      at the month end.
    - Records refused at the agencies: the rows the agencies' adapters
      quarantined within the month (by when the adapter quarantined them)
      and reported to a hub by the time of the report, by agency and code:
      BAD_RECORD for a record the adapter could not map, else the code of
      the hub that rejected the event (analytics.adapter_rejects: the
      field a reason names, never the reason, which may quote a value).
    What the hub does not keep history of is read as it stands now: whether
    a step is required, and its deadline (a calendar change re-plans it, a
    case suspended later loses the deadlines of its open steps). */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agency_names.h"
#include "hubctl.h"
#include "workflow_def.h"

#define TREND_BEFORE 5 /* months before the report's month in the trend */
#define TREND_MONTHS (TREND_BEFORE + 1)
#define WORST_CASES  10
#define STR_(x)      #x
#define STR(x)       STR_ (x)

/* ------------------------------------------------------------- SQL pieces */

/* One decimal percentage (text) of on time out of on time + missed; NULL
   when nothing counted. */
#define PCT(on, missed)                                                                    \
    "round((" on ") * 100.0 / nullif((" on ") + (" missed "), 0), 1)::text"

/* A deadline (or any instant) to the minute, Beijing time, an instant at
   exactly 00:00 as 24:00 of the day before. */
#define DUE24(t)                                                                           \
    "CASE WHEN ((" t ") AT TIME ZONE 'Asia/Shanghai')::time = time '00:00' "               \
    "THEN to_char(((" t ") AT TIME ZONE 'Asia/Shanghai') - interval '1 day', "             \
    "'YYYY-MM-DD') || ' 24:00' "                                                           \
    "ELSE to_char((" t ") AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') END"

/* An instant to the minute, Beijing time. */
#define MINUTE(t) "to_char((" t ") AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI')"

/* The bank an event names, given as e with bank code names bc joined:
   bank_name, else the bank adapter's bank_code (by name when known) and
   branch. */
#define BANK_OF_EVENT                                                                      \
    "coalesce(nullif(e.attrs ->> 'bank_name', ''), "                                       \
    "coalesce(bc.name, (e.attrs ->> 'bank_code') || ' ') || coalesce(e.attrs ->> "         \
    "'branch', ''))"
#define NAMES_BANK                                                                         \
    "(coalesce(e.attrs ->> 'bank_name', '') <> '' "                                        \
    " OR (e.agency = 'bank' AND coalesce(e.attrs ->> 'bank_code', '') <> ''))"

/* A lateral join giving bk.bank, the bank of a bank step (when cond
   holds) as of asof: named by the event done_by, else by the case's first
   bank event, else by its first event that names a bank. */
#define BANK_JOIN(inst, done_by, asof, cond)                                               \
    "LEFT JOIN LATERAL (SELECT " BANK_OF_EVENT " AS bank "                                 \
    "  FROM analytics.instance_events ie "                                                 \
    "  JOIN analytics.events e ON e.event_id = ie.event_id "                               \
    "  LEFT JOIN bc ON bc.code = e.attrs ->> 'bank_code' "                                 \
    "  WHERE " cond " AND ie.instance_id = " inst " AND e.occurred_at <= " asof            \
    "    AND " NAMES_BANK " "                                                              \
    "  ORDER BY e.event_id IS NOT DISTINCT FROM " done_by                                  \
    " DESC, e.agency = 'bank' DESC, "                                                      \
    "    e.occurred_at, e.event_id LIMIT 1) bk ON true "

// clang-format off
/* The common table expressions of every query. $1: the first day of the
   report's month; $2: the refusals and reopenings of the definitions, as
   a JSON array of {workflow, digest, agency, event_type, role}.
   mo: the trend's months, each with its range and its as-of time (its end,
   or now for a month not over); rm: the report's month;
   bc: bank codes by name; st: the steps due in the trend's months with
   their status as of their month's end, stb: with their bank;
   br: the standing breaches of the report's month; du: the cases
   completed in it; ro: the roles; op: the cases running at its end. */
#define CTES                                                                               \
    "WITH mo AS (SELECT g::date AS month, "                                                \
    "  g AT TIME ZONE 'Asia/Shanghai' AS m_start, "                                        \
    "  (g + interval '1 month') AT TIME ZONE 'Asia/Shanghai' AS m_end, "                   \
    "  least(now(), (g + interval '1 month') AT TIME ZONE 'Asia/Shanghai') AS asof "       \
    "  FROM generate_series($1::date - interval '" STR (                                    \
        TREND_BEFORE) " months', $1::date::timestamp, interval '1 month') AS g), "         \
    "rm AS (SELECT * FROM mo WHERE month = $1::date), "                                    \
    "bc (code, name) AS (VALUES ('ICBC', '中国工商银行'), ('ABC', '中国农业银行'), "       \
    "  ('BOC', '中国银行'), ('CCB', '中国建设银行'), ('BOCOM', '交通银行'), "              \
    "  ('PSBC', '中国邮政储蓄银行'), ('HHRCB', '宁夏黄河农村商业银行')), "                 \
    "st AS (SELECT mo.month, mo.asof, s.instance_id, s.workflow, s.key_value, s.step, "    \
    "  s.agency, s.due_at, i.digest, i.start_event, "                                      \
    "  CASE WHEN s.completed_at <= mo.asof THEN s.completed_at END AS done_at, "           \
    "  CASE WHEN s.completed_at <= mo.asof THEN s.completed_by END AS done_by, "           \
    "  CASE WHEN s.completed_at <= mo.asof AND s.completed_at <= s.due_at THEN 'on_time' " \
    "       WHEN s.completed_at <= mo.asof THEN 'late' "                                   \
    "       WHEN s.due_at <= mo.asof THEN 'overdue_open' "                                 \
    "       ELSE 'not_yet_due' END AS status "                                             \
    "  FROM mo JOIN analytics.steps s ON s.due_at > mo.m_start AND s.due_at <= mo.m_end "  \
    "  JOIN analytics.instances i ON i.id = s.instance_id "                                \
    "  WHERE s.required AND i.state <> 'superseded' AND i.started_at <= mo.asof), "        \
    "stb AS (SELECT st.*, bk.bank FROM st " BANK_JOIN (                                    \
        "st.instance_id", "st.done_by", "st.asof", "st.agency = 'bank'") "), "             \
    "br AS (SELECT b.instance_id, b.step, b.agency, b.kind, b.due_at, rm.asof, bk.bank, "  \
    "  CASE WHEN b.completed_at <= rm.asof THEN b.completed_at END AS done_at "            \
    "  FROM rm JOIN analytics.breaches b ON b.due_at > rm.m_start AND b.due_at <= rm.m_end " \
    "  LEFT JOIN analytics.steps s ON s.instance_id = b.instance_id AND s.step = b.step "   \
    "  " BANK_JOIN ("b.instance_id",                                                       \
                    "CASE WHEN s.completed_at <= rm.asof THEN s.completed_by END",         \
                    "rm.asof", "b.agency = 'bank'") "), "                                  \
    "du AS (SELECT d.workflow, extract(epoch FROM d.ended_at - d.started_at)::float8 "     \
    "  AS secs, d.working_days "                                                           \
    "  FROM rm JOIN analytics.instance_durations d "                                       \
    "  ON d.ended_at > rm.m_start AND d.ended_at <= rm.asof), "                            \
    "ro AS (SELECT * FROM jsonb_to_recordset($2::jsonb) "                                  \
    "  AS r (workflow text, digest text, agency text, event_type text, role text)), "      \
    "op AS (SELECT i.id, i.workflow, i.started_at, rm.asof - i.started_at AS age, "        \
    "  coalesce((SELECT ro.role FROM analytics.instance_events ie "                        \
    "    JOIN analytics.events e ON e.event_id = ie.event_id "                             \
    "    JOIN ro ON ro.workflow = i.workflow AND ro.digest = i.digest "                    \
    "      AND ro.agency = e.agency AND ro.event_type = e.event_type "                     \
    "    WHERE ie.instance_id = i.id AND e.occurred_at <= rm.asof "                        \
    "    ORDER BY e.occurred_at DESC, e.event_id DESC LIMIT 1) = 'suspend', false) "       \
    "    AS suspended, "                                                                   \
    "  EXISTS (SELECT 1 FROM analytics.steps s WHERE s.instance_id = i.id AND s.required " \
    "    AND s.due_at <= rm.asof AND NOT coalesce(s.completed_at <= rm.asof, false)) "     \
    "    AS overdue "                                                                      \
    "  FROM rm JOIN analytics.instances i ON i.started_at <= rm.asof "                     \
    "  WHERE i.state <> 'superseded' AND (i.ended_at IS NULL OR i.ended_at > rm.asof)) "

/* Counts of steps by status, over the rows of a group. */
#define STATUS_COUNTS                                                                      \
    "count(*) FILTER (WHERE status = 'on_time') AS on_time, "                              \
    "count(*) FILTER (WHERE status = 'late') AS late, "                                    \
    "count(*) FILTER (WHERE status = 'overdue_open') AS overdue_open, "                    \
    "count(*) FILTER (WHERE status = 'not_yet_due') AS not_yet_due "

static const char SQL_SUMMARY[] =
    CTES
    "SELECT on_time, late, overdue_open, late + overdue_open AS missed, not_yet_due, "
    "  on_time + late + overdue_open AS counted, "
    "  " PCT ("on_time", "late + overdue_open") " AS pct, "
    "  (SELECT count(*) FROM br WHERE kind = 'overdue') AS breaches, "
    "  (SELECT count(*) FROM br WHERE kind = 'warning') AS warnings, "
    "  (SELECT count(*) FROM du) AS completed, "
    "  (SELECT count(*) FROM op) AS open_at_end, "
    "  (SELECT " DUE24 ("asof") " FROM rm) AS as_of, "
    "  (SELECT " HUBCTL_ISO ("asof") " FROM rm) AS as_of_iso, "
    "  (SELECT asof = m_end FROM rm) AS month_over, "
    "  " MINUTE ("now()") " AS generated, " HUBCTL_ISO ("now()") " AS generated_iso "
    "FROM (SELECT " STATUS_COUNTS " FROM st WHERE month = $1::date) s";

/* Per agency (and bank) of the report's month, worst on-time rate first. */
static const char SQL_AGENCIES[] =
    CTES
    "SELECT agency, bank, on_time, late, overdue_open, late + overdue_open AS missed, "
    "  not_yet_due, on_time + late + overdue_open AS counted, "
    "  " PCT ("on_time", "late + overdue_open") " AS pct "
    "FROM (SELECT agency, bank, " STATUS_COUNTS " FROM stb WHERE month = $1::date "
    "  GROUP BY agency, bank) a "
    "ORDER BY on_time::numeric / nullif(on_time + late + overdue_open, 0) NULLS LAST, "
    "  late + overdue_open DESC, agency, bank NULLS FIRST";

static const char SQL_BREACHES[] =
    CTES
    "SELECT agency, bank, count(*) FILTER (WHERE kind = 'overdue') AS overdue, "
    "  count(*) FILTER (WHERE kind = 'overdue' AND done_at IS NOT NULL) "
    "    AS overdue_done_late, "
    "  count(*) FILTER (WHERE kind = 'overdue' AND done_at IS NULL) AS overdue_not_done, "
    "  count(*) FILTER (WHERE kind = 'warning') AS warnings, "
    "  max(floor(extract(epoch FROM coalesce(done_at, asof) - due_at))::bigint) "
    "    FILTER (WHERE kind = 'overdue') AS worst_secs "
    "FROM br GROUP BY agency, bank "
    "ORDER BY overdue DESC, worst_secs DESC NULLS LAST, warnings DESC, agency, "
    "  bank NULLS FIRST";

/* The missed steps of the month with the longest delay, with the agency's
   own case number: of the completing event, else of the step's agency's
   first event, else of the case's first event (all by the month end). */
static const char SQL_WORST[] =
    CTES
    "SELECT w.workflow, w.digest, w.key_value, w.agency, w.bank, w.step, w.status, "
    "  " DUE24 ("w.due_at") " AS due, " HUBCTL_ISO ("w.due_at") " AS due_iso, "
    "  " MINUTE ("w.done_at") " AS done, " HUBCTL_ISO ("w.done_at") " AS done_iso, "
    "  floor(extract(epoch FROM coalesce(w.done_at, w.asof) - w.due_at))::bigint "
    "    AS late_secs, "
    "  cn.case_no, cn.agency AS case_no_agency "
    "FROM stb w LEFT JOIN LATERAL (SELECT e.case_no, e.agency "
    "  FROM analytics.instance_events ie "
    "  JOIN analytics.events e ON e.event_id = ie.event_id "
    "  WHERE ie.instance_id = w.instance_id AND e.occurred_at <= w.asof "
    "    AND coalesce(e.case_no, '') <> '' "
    "  ORDER BY e.event_id IS NOT DISTINCT FROM w.done_by DESC, e.agency = w.agency DESC, "
    "    e.event_id = w.start_event DESC, e.occurred_at, e.event_id LIMIT 1) cn ON true "
    "WHERE w.month = $1::date AND w.status IN ('late', 'overdue_open') "
    "ORDER BY coalesce(w.done_at, w.asof) - w.due_at DESC, w.instance_id, w.step "
    "LIMIT " STR (WORST_CASES);

/* Per agency (and bank) and month, then per month for all, the agencies'
   rows in order, months ascending, the total last. */
static const char SQL_TREND[] =
    CTES
    "SELECT to_char(month, 'YYYY-MM') AS month, agency, bank, "
    "  grouping(agency) AS is_total, "
    "  count(*) FILTER (WHERE status = 'on_time') AS on_time, "
    "  count(*) FILTER (WHERE status IN ('on_time', 'late', 'overdue_open')) AS counted, "
    "  " PCT ("count(*) FILTER (WHERE status = 'on_time')",
              "count(*) FILTER (WHERE status IN ('late', 'overdue_open'))") " AS pct "
    "FROM stb GROUP BY GROUPING SETS ((month, agency, bank), (month)) "
    "ORDER BY grouping(agency), agency, bank NULLS FIRST, month";

static const char SQL_DURATIONS[] =
    CTES
    "SELECT workflow, count(*) AS completed, "
    "  percentile_cont(0.5) WITHIN GROUP (ORDER BY secs) AS p50_secs, "
    "  percentile_cont(0.9) WITHIN GROUP (ORDER BY secs) AS p90_secs, "
    "  percentile_cont(0.5) WITHIN GROUP (ORDER BY working_days) AS p50_wd, "
    "  percentile_cont(0.9) WITHIN GROUP (ORDER BY working_days) AS p90_wd, "
    "  max(secs) AS max_secs, "
    "  round((percentile_cont(0.5) WITHIN GROUP (ORDER BY secs) / 3600)::numeric, 1)::text "
    "    AS p50_hours, "
    "  round((percentile_cont(0.9) WITHIN GROUP (ORDER BY secs) / 3600)::numeric, 1)::text "
    "    AS p90_hours, "
    "  round(percentile_cont(0.5) WITHIN GROUP (ORDER BY working_days)::numeric, 1)::text "
    "    AS p50_working_days, "
    "  round(percentile_cont(0.9) WITHIN GROUP (ORDER BY working_days)::numeric, 1)::text "
    "    AS p90_working_days, "
    "  round((max(secs) / 3600)::numeric, 1)::text AS max_hours "
    "FROM du GROUP BY workflow ORDER BY completed DESC, workflow";

static const char SQL_BACKLOG[] =
    CTES
    "SELECT workflow, count(*) AS open_instances, "
    "  count(*) FILTER (WHERE suspended) AS suspended, "
    "  count(*) FILTER (WHERE age < interval '1 day') AS age_under_1d, "
    "  count(*) FILTER (WHERE age >= interval '1 day' AND age < interval '3 days') "
    "    AS age_1_to_3d, "
    "  count(*) FILTER (WHERE age >= interval '3 days' AND age < interval '7 days') "
    "    AS age_3_to_7d, "
    "  count(*) FILTER (WHERE age >= interval '7 days') AS age_over_7d, "
    "  count(*) FILTER (WHERE overdue) AS with_overdue_steps, "
    "  " MINUTE ("min(started_at)") " AS oldest, " HUBCTL_ISO ("min(started_at)") " AS oldest_iso "
    "FROM op GROUP BY workflow ORDER BY open_instances DESC, workflow";

/* Records refused at the agencies in the month ($1: its first day), by
   agency and code, the fields their reasons name. */
static const char SQL_REFUSED[] =
    "SELECT agency, code, min(kind) AS kind, count(*) AS records, "
    "  count(DISTINCT adapter_id) AS adapters, "
    "  string_agg(DISTINCT field, ', ' ORDER BY field) AS fields "
    "FROM analytics.adapter_rejects "
    "WHERE rejected_at > ($1::date::timestamp AT TIME ZONE 'Asia/Shanghai') "
    "  AND rejected_at <= (($1::date + interval '1 month')::timestamp "
    "    AT TIME ZONE 'Asia/Shanghai') "
    "GROUP BY agency, code ORDER BY agency, count(*) DESC, code";

static const char SQL_DEFINITIONS[] =
    "SELECT workflow, version, digest, body FROM analytics.workflow_definitions "
    "ORDER BY first_loaded DESC, workflow, version DESC, digest";
// clang-format on

/* ------------------------------------------------------------- labels */

/* The agencies and workflows by their codes, for people. Codes not listed
   show as they are; a workflow's title in its definition comes first. */
typedef struct {
    const char *code, *name;
} label_t;

static const label_t workflow_names[] = {
    {"property_transfer", "不动产转移登记与水电气暖同步过户"},
    {"mortgage_registration", "抵押权登记"},
    {"power_connection", "电力报装接电"},
    {"water_connection", "用水报装"},
    {"gas_connection", "用气报装"},
    {"heating_connection", "供暖报装"},
    {"enterprise_startup", "企业开办一网一窗通办"},
    {"enterprise_deregistration", "企业注销一网服务"},
    {"bank_tax_credit_loan", "银税互动信用贷款"},
    {"instant_registration", "查（解）封、异议、注销登记即时办结"},
    {"land_change_registration", "变更、依法律文书转移、补换证登记"},
    {"tax_refund", "多缴税费电子化退库"},
};

static const char *const month_names[12] = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};

/* A bank step whose bank no event by the month end names. */
#define BANK_UNNAMED "未注明"

static const char *
lookup (const label_t *labels, size_t n, const char *code)
{
    for (size_t i = 0; code && i < n; i++)
        if (strcmp (labels[i].code, code) == 0)
            return labels[i].name;
    return NULL;
}

#define AGENCY_NAME(code) agency_name_zh (code)

/* ------------------------------------------------------------- definitions */

/* The definitions the hubs ran with (analytics.workflow_definitions), read
   with the hub's own loader, newest first: the titles of workflows and
   steps, and the events that suspend and reopen a case. */
typedef struct {
    const char *workflow, *digest; /* in the result they were read from */
    workflow_set_t *set;           /* NULL when the body could not be read */
} definition_t;

typedef struct {
    definition_t *items;
    size_t n;
} definitions_t;

static const workflow_def_t *
definition (const definitions_t *defs, size_t i)
{
    return defs->items[i].set
               ? workflow_set_find (defs->items[i].set, defs->items[i].workflow)
               : NULL;
}

/* The title of workflow: of its newest definition that has one, else from
   the list above; NULL when neither has. */
static const char *
workflow_title (const definitions_t *defs, const char *workflow)
{
    for (size_t i = 0; workflow && i < defs->n; i++) {
        const workflow_def_t *def = definition (defs, i);
        if (def && def->title && strcmp (defs->items[i].workflow, workflow) == 0)
            return def->title;
    }
    return lookup (workflow_names, sizeof workflow_names / sizeof *workflow_names,
                   workflow);
}

/* The title of step in the definition (workflow, digest) a case ran under,
   else in the newest definition of workflow that has the step; NULL when
   none gives it one. */
static const char *
step_title (const definitions_t *defs, const char *workflow, const char *digest,
            const char *step)
{
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; workflow && step && i < defs->n; i++) {
            const workflow_def_t *def = definition (defs, i);
            if (!def || strcmp (defs->items[i].workflow, workflow) != 0
                || (pass == 0 && (!digest || strcmp (defs->items[i].digest, digest) != 0)))
                continue;
            for (size_t s = 0; s < def->n_steps; s++)
                if (strcmp (def->steps[s].id, step) == 0 && def->steps[s].title)
                    return def->steps[s].title;
        }
    return NULL;
}

/* Reads every definition of res; one that the loader refuses is named on
   standard error and gives no title. */
static void
definitions_load (definitions_t *defs, PGresult *res)
{
    int n = PQntuples (res);
    defs->items = calloc ((size_t) n + 1, sizeof *defs->items);
    if (!defs->items) {
        fprintf (stderr, "hubctl report: out of memory\n");
        exit (HUBCTL_FAILURE);
    }
    for (int r = 0; r < n; r++) {
        definition_t *d = &defs->items[defs->n++];
        d->workflow = PQgetvalue (res, r, 0);
        d->digest = PQgetvalue (res, r, 2);
        char label[256], err[1024];
        snprintf (label, sizeof label, "workflow_definitions[%s %s v%s]", d->workflow,
                  d->digest, PQgetvalue (res, r, 1));
        d->set = workflow_set_load_bytes (label, PQgetvalue (res, r, 3),
                                          (size_t) PQgetlength (res, r, 3), NULL, 0, err,
                                          sizeof err);
        if (!d->set)
            fprintf (stderr,
                     "hubctl report: could not read the definition %s (its steps show by "
                     "their ids): %s\n",
                     label, err);
    }
}

static void
definitions_free (definitions_t *defs)
{
    for (size_t i = 0; i < defs->n; i++)
        workflow_set_destroy (&defs->items[i].set);
    free (defs->items);
    memset (defs, 0, sizeof *defs);
}

static void
add_role (json_t *roles, const definition_t *d, const event_ref_t *ref, const char *role)
{
    json_t *o = json_object ();
    json_object_set_new (o, "workflow", json_string (d->workflow));
    json_object_set_new (o, "digest", json_string (d->digest));
    json_object_set_new (o, "agency", json_string (ref->agency));
    json_object_set_new (o, "event_type", json_string (ref->event));
    json_object_set_new (o, "role", json_string (role));
    json_array_append_new (roles, o);
}

/* The events that suspend a case (rejects_on with effect suspend) and
   that reopen it, per definition, as JSON for the backlog's query ($2).
   An entry with a when condition is left out: the views hold the events'
   attributes masked, and no shipped definition conditions these. */
static char *
definitions_roles (const definitions_t *defs)
{
    json_t *roles = json_array ();
    for (size_t i = 0; i < defs->n; i++) {
        const workflow_def_t *def = definition (defs, i);
        if (!def)
            continue;
        for (size_t k = 0; k < def->n_rejects_on; k++)
            if (def->rejects_on[k].effect == REJECT_SUSPEND && !def->rejects_on[k].when)
                add_role (roles, &defs->items[i], &def->rejects_on[k], "suspend");
        for (size_t k = 0; k < def->n_reopens_on; k++)
            if (!def->reopens_on[k].when)
                add_role (roles, &defs->items[i], &def->reopens_on[k], "reopen");
    }
    char *text = json_dumps (roles, JSON_COMPACT);
    json_decref (roles);
    return text;
}

static const char CSS[] =
    "body{font-family:\"Noto Sans CJK SC\",\"Source Han Sans SC\",\"PingFang SC\","
    "\"Microsoft YaHei\",\"WenQuanYi Micro Hei\",sans-serif;color:#222;margin:0 auto;"
    "max-width:1000px;padding:24px;line-height:1.5;background:#fff}"
    "h1{font-size:26px;margin:0 0 4px;border-bottom:3px solid #b71c1c;padding-bottom:8px}"
    "h2{font-size:19px;margin:32px 0 10px;border-left:5px solid #b71c1c;padding-left:8px}"
    ".en{color:#666;font-weight:normal;font-size:.85em}"
    ".sub{color:#555;margin:6px 0 0;font-size:14px}"
    ".note{color:#555;font-size:13px;margin:6px 0}"
    ".nodata{background:#fff8e1;border:1px solid #f9a825;padding:12px 16px;margin:16px 0;"
    "font-size:16px}"
    ".empty{color:#777;font-style:italic}"
    ".cards{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0}"
    ".card{border:1px solid #ddd;border-radius:6px;padding:10px 14px;min-width:130px}"
    ".card .v{font-size:24px;font-weight:bold}"
    ".card .k{font-size:13px;color:#555}"
    "table{border-collapse:collapse;width:100%;margin:8px 0;font-size:14px}"
    "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
    "th{background:#f3f3f3;font-weight:600}"
    "td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}"
    "tr.total td{font-weight:bold;background:#fafafa}"
    ".code{color:#777;font-size:12px;font-family:monospace}"
    ".good{background:#e8f5e9}.fair{background:#fff8e1}.poor{background:#ffebee}"
    ".late{color:#b71c1c;font-weight:600}"
    "#worst-table{font-size:13px}#worst-table td{overflow-wrap:anywhere}"
    "#worst-table td.n{white-space:nowrap}"
    ".legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;"
    "vertical-align:middle}"
    "svg{display:block;max-width:100%;height:auto}"
    "svg text{font-size:13px;fill:#222}svg text.axis{fill:#777}"
    "footer{margin-top:36px;border-top:1px solid #ccc;padding-top:8px;font-size:13px;"
    "color:#555}"
    "@media print{body{padding:0}h2{break-after:avoid}table,svg{break-inside:avoid}}";

/* The colour band of a percentage: ≥95 good, ≥80 fair, else poor. */
static const char *
band (double pct)
{
    return pct >= 95.0 ? "good" : pct >= 80.0 ? "fair" : "poor";
}

static const char *
band_colour (double pct)
{
    return pct >= 95.0 ? "#2e7d32" : pct >= 80.0 ? "#f9a825" : "#c62828";
}

/* Writes text HTML-escaped (&, <, >, " and '), safe in elements and in
   quoted attributes; at most max_chars characters (UTF-8), then "…"
   (0: all). */
static void
esc_n (FILE *out, const char *text, size_t max_chars)
{
    size_t chars = 0;
    for (const char *p = text ? text : ""; *p; p++) {
        if (((unsigned char) *p & 0xC0) != 0x80 && max_chars && chars++ == max_chars) {
            fputs ("…", out);
            return;
        }
        switch (*p) {
        case '&': fputs ("&amp;", out); break;
        case '<': fputs ("&lt;", out); break;
        case '>': fputs ("&gt;", out); break;
        case '"': fputs ("&quot;", out); break;
        case '\'': fputs ("&#39;", out); break;
        default: fputc (*p, out);
        }
    }
}

static void
esc (FILE *out, const char *text)
{
    esc_n (out, text, 0);
}

/* Cell of row r, column name of res; NULL when SQL NULL. */
static const char *
val (PGresult *res, int r, const char *name)
{
    int c = PQfnumber (res, name);
    if (c < 0 || PQgetisnull (res, r, c))
        return NULL;
    return PQgetvalue (res, r, c);
}

static long
num (PGresult *res, int r, const char *name)
{
    const char *v = val (res, r, name);
    return v ? atol (v) : 0;
}

static bool
same (const char *a, const char *b)
{
    return a == b || (a && b && strcmp (a, b) == 0);
}

/* A number of seconds for Chinese readers: "2天3小时", "5小时12分", "4分",
   "12秒"; "" when negative. */
static const char *
human_zh (long long secs, char *buf, size_t size)
{
    if (secs < 0)
        snprintf (buf, size, "%s", "");
    else if (secs >= 86400)
        snprintf (buf, size, "%lld天%lld小时", secs / 86400, secs % 86400 / 3600);
    else if (secs >= 3600)
        snprintf (buf, size, "%lld小时%lld分", secs / 3600, secs % 3600 / 60);
    else if (secs >= 60)
        snprintf (buf, size, "%lld分", secs / 60);
    else
        snprintf (buf, size, "%lld秒", secs);
    return buf;
}

/* Whether a row's agency is the banks', which the report splits by bank. */
static bool
is_bank (const char *agency)
{
    return agency && strcmp (agency, "bank") == 0;
}

/* "税务局 (tax)", "银行（中国农业银行彭阳县支行） (bank)", or the code alone when
   it has no name; escaped. */
static void
agency_label (FILE *out, const char *code, const char *bank)
{
    const char *name = AGENCY_NAME (code);
    if (name)
        fputs (name, out);
    if (is_bank (code)) {
        fputs ("（", out);
        esc (out, bank ? bank : BANK_UNNAMED);
        fputs ("）", out);
    }
    if (name)
        fputs (" <span class=\"code\">(", out);
    esc (out, code);
    if (name)
        fputs (")</span>", out);
}

/* data-agency (and data-bank for a named bank) attributes of a row. */
static void
agency_attrs (FILE *out, const char *agency, const char *bank)
{
    fputs (" data-agency=\"", out);
    esc (out, agency);
    fputs ("\"", out);
    if (is_bank (agency) && bank) {
        fputs (" data-bank=\"", out);
        esc (out, bank);
        fputs ("\"", out);
    }
}

static void
workflow_label (FILE *out, const definitions_t *defs, const char *code)
{
    const char *name = workflow_title (defs, code);
    if (name) {
        esc (out, name);
        fputs ("<br>", out);
    }
    fputs ("<span class=\"code\">", out);
    esc (out, code);
    fputs ("</span>", out);
}

/* A table cell: a number (right-aligned) or text, "—" when NULL. */
static void
td (FILE *out, const char *text, bool number)
{
    fputs (number ? "<td class=\"n\">" : "<td>", out);
    if (text)
        esc (out, text);
    else
        fputs ("—", out);
    fputs ("</td>", out);
}

static void
td_long (FILE *out, long n)
{
    fprintf (out, "<td class=\"n\">%ld</td>", n);
}

/* A percentage cell, coloured by band; "—" when NULL. */
static void
td_pct (FILE *out, const char *pct, long on_time, long counted)
{
    if (!pct) {
        fputs ("<td class=\"n\">—</td>", out);
        return;
    }
    fprintf (out, "<td class=\"n %s\" title=\"%ld/%ld\">", band (atof (pct)), on_time,
             counted);
    esc (out, pct);
    fputs ("%</td>", out);
}

/* ------------------------------------------------------------- the sections */

typedef struct {
    int year, month;               /* the report's month */
    char months[TREND_MONTHS][16]; /* "YYYY-MM", oldest first, the month last */
    definitions_t defs;
    PGresult *defs_res, *summary, *agencies, *breaches, *worst, *trend, *durations,
        *backlog, *refused;
} report_t;

static bool
month_over (const report_t *rep)
{
    return same (val (rep->summary, 0, "month_over"), "t");
}

static void
section_summary (FILE *out, const report_t *rep, bool no_data)
{
    PGresult *s = rep->summary;
    const char *pct = val (s, 0, "pct");
    fputs (
        "<section id=\"summary\"><h2>一、概况 <span class=\"en\">(Summary)</span></h2>\n",
        out);
    if (no_data)
        fprintf (out,
                 "<p class=\"nodata\" "
                 "id=\"no-data\">本月无数据：%04d年%02d月没有到期的办理环节、"
                 "督办记录或办结的案件。<br><span class=\"en\">(No data: nothing fell due, "
                 "was supervised or was completed in %s %d.)</span></p>\n",
                 rep->year, rep->month, month_names[rep->month - 1], rep->year);
    fputs ("<div class=\"cards\">", out);
    fputs ("<div class=\"card\" id=\"card-rate\"><div class=\"v\">", out);
    if (pct) {
        esc (out, pct);
        fputs ("%", out);
    }
    else
        fputs ("—", out);
    fputs ("</div><div class=\"k\">按时办结率 (on-time rate)</div></div>", out);
    fprintf (out,
             "<div class=\"card\" id=\"card-due\"><div class=\"v\">%ld</div><div "
             "class=\"k\">已到期环节 (steps due)</div></div>",
             num (s, 0, "counted"));
    fprintf (out,
             "<div class=\"card\" id=\"card-on-time\"><div class=\"v\">%ld</div><div "
             "class=\"k\">按时 (on time)</div></div>",
             num (s, 0, "on_time"));
    fprintf (out,
             "<div class=\"card\" id=\"card-missed\"><div class=\"v\">%ld</div><div "
             "class=\"k\">超期 (missed): 超期办结 %ld，超期未办 %ld</div></div>",
             num (s, 0, "missed"), num (s, 0, "late"), num (s, 0, "overdue_open"));
    fprintf (out,
             "<div class=\"card\" id=\"card-breaches\"><div class=\"v\">%ld</div><div "
             "class=\"k\">督办 (overdue breaches)，预警 %ld</div></div>",
             num (s, 0, "breaches"), num (s, 0, "warnings"));
    fprintf (out,
             "<div class=\"card\" id=\"card-completed\"><div class=\"v\">%ld</div><div "
             "class=\"k\">本月办结案件 (completed)</div></div>",
             num (s, 0, "completed"));
    fprintf (out,
             "<div class=\"card\" id=\"card-open\"><div class=\"v\">%ld</div><div "
             "class=\"k\">%s</div></div>",
             num (s, 0, "open_at_end"),
             month_over (rep) ? "月末在办 (open at the month end)" : "当前在办 (open now)");
    fputs ("</div>\n", out);
    if (!month_over (rep))
        fprintf (
            out,
            "<p class=\"note\" id=\"month-not-over\">本月尚未结束，数据截至报告生成时；"
            "另有 %ld 个本月环节尚未到期。<span class=\"en\">(The month is not over: "
            "the figures are as of the time of the report; %ld steps of the month are "
            "not yet due.)</span></p>\n",
            num (s, 0, "not_yet_due"), num (s, 0, "not_yet_due"));
    fputs ("</section>\n", out);
}

/* The per-agency on-time rates as a horizontal bar chart, then as a table. */
static void
section_on_time (FILE *out, const report_t *rep)
{
    PGresult *a = rep->agencies;
    int n = PQntuples (a);
    fputs (
        "<section id=\"on-time\"><h2>二、各部门按时办结率 <span class=\"en\">(On-time rate "
        "by agency)</span></h2>\n",
        out);
    if (n == 0) {
        fputs ("<p class=\"empty\">本月没有到期的办理环节。(No step fell due this "
               "month.)</p></section>\n",
               out);
        return;
    }
    fputs ("<p class=\"note\">按时办结率 = 按时办结 ÷ (按时办结 + 超期办结 + 超期未办)，"
           "按期限所在月份统计，截至月末，银行按行分列，最差的在前。(On time ÷ steps due "
           "and passed, by the month of the deadline, as of the month end, banks one by "
           "one, worst first.)</p>\n",
           out);
    const int label_w = 300, bar_x = 310, bar_w = 400, row_h = 30, top = 8, bar_h = 18;
    const int width = 880, height = top + n * row_h + 26;
    fprintf (out,
             "<svg id=\"on-time-chart\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
             "role=\"img\" aria-label=\"各部门按时办结率 (on-time rate by agency)\">\n",
             width, height, width, height);
    /* gridlines at 0, 25, 50, 75, 100 % */
    for (int g = 0; g <= 4; g++) {
        int x = bar_x + bar_w * g / 4, y2 = top + n * row_h;
        fprintf (
            out,
            "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>"
            "<text class=\"axis\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">%d%%</text>\n",
            x, top - 4, x, y2, x, y2 + 16, g * 25);
    }
    for (int r = 0; r < n; r++) {
        const char *agency = val (a, r, "agency"), *pct = val (a, r, "pct");
        const char *bank = val (a, r, "bank");
        const char *name = AGENCY_NAME (agency);
        long on_time = num (a, r, "on_time"), counted = num (a, r, "counted");
        int y = top + r * row_h + (row_h - bar_h) / 2;
        double rate = pct ? atof (pct) : 0.0;
        fputs ("<g class=\"bar\"", out);
        agency_attrs (out, agency, bank);
        if (pct) {
            fputs (" data-rate=\"", out);
            esc (out, pct);
            fputs ("\"", out);
        }
        fprintf (out, " data-on-time=\"%ld\" data-total=\"%ld\">", on_time, counted);
        fputs ("<title>", out);
        if (name)
            fprintf (out, "%s", name);
        if (is_bank (agency)) {
            fputs ("（", out);
            esc (out, bank ? bank : BANK_UNNAMED);
            fputs ("）", out);
        }
        fputs (" (", out);
        esc (out, agency);
        fprintf (out,
                 "): 按时 %ld，超期办结 %ld，超期未办 %ld，未到期 %ld (on time, late, "
                 "overdue open, not yet due)</title>",
                 on_time, num (a, r, "late"), num (a, r, "overdue_open"),
                 num (a, r, "not_yet_due"));
        fprintf (out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", label_w, y + 14);
        if (name)
            fprintf (out, "%s", name);
        if (is_bank (agency)) {
            fputs ("（", out);
            esc_n (out, bank ? bank : BANK_UNNAMED, 15);
            fputs ("）", out);
        }
        if (name)
            fputs (" (", out);
        esc_n (out, agency, name ? 12 : 28);
        if (name)
            fputs (")", out);
        fputs ("</text>", out);
        fprintf (out,
                 "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#f0f0f0\"/>",
                 bar_x, y, bar_w, bar_h);
        if (pct)
            fprintf (out,
                     "<rect class=\"fill\" x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" "
                     "fill=\"%s\"/>",
                     bar_x, y, bar_w * rate / 100.0, bar_h, band_colour (rate));
        fprintf (out, "<text class=\"value\" x=\"%d\" y=\"%d\">", bar_x + bar_w + 8,
                 y + 14);
        if (pct) {
            esc (out, pct);
            fprintf (out, "%% (%ld/%ld)", on_time, counted);
        }
        else
            fprintf (out, "— (未到期 %ld, not yet due)", num (a, r, "not_yet_due"));
        fputs ("</text></g>\n", out);
    }
    fputs ("</svg>\n", out);
    fputs ("<p class=\"legend note\">"
           "<span style=\"background:#2e7d32\"></span>≥95%"
           "<span style=\"background:#f9a825\"></span>80%–95%"
           "<span style=\"background:#c62828\"></span>&lt;80%</p>\n",
           out);
    fputs (
        "<table id=\"on-time-table\"><thead><tr><th>部门 (agency)</th>"
        "<th class=\"n\">按时办结率 (rate)</th><th class=\"n\">按时 (on time)</th>"
        "<th class=\"n\">超期办结 (late)</th><th class=\"n\">超期未办 (overdue open)</th>"
        "<th class=\"n\">已到期 (due)</th><th class=\"n\">未到期 (not yet due)</th>"
        "</tr></thead><tbody>\n",
        out);
    for (int r = 0; r < n; r++) {
        fputs ("<tr", out);
        agency_attrs (out, val (a, r, "agency"), val (a, r, "bank"));
        fputs ("><td>", out);
        agency_label (out, val (a, r, "agency"), val (a, r, "bank"));
        fputs ("</td>", out);
        td_pct (out, val (a, r, "pct"), num (a, r, "on_time"), num (a, r, "counted"));
        td_long (out, num (a, r, "on_time"));
        td_long (out, num (a, r, "late"));
        td_long (out, num (a, r, "overdue_open"));
        td_long (out, num (a, r, "counted"));
        td_long (out, num (a, r, "not_yet_due"));
        fputs ("</tr>\n", out);
    }
    fputs ("</tbody></table></section>\n", out);
}

static void
section_breaches (FILE *out, const report_t *rep)
{
    PGresult *b = rep->breaches;
    int n = PQntuples (b);
    fputs (
        "<section id=\"breaches\"><h2>三、各部门督办情况 <span class=\"en\">(Breaches by "
        "agency)</span></h2>\n",
        out);
    if (n == 0) {
        fputs (
            "<p class=\"empty\">本月没有督办记录。(No breach this month.)</p></section>\n",
            out);
        return;
    }
    fputs (
        "<table id=\"breaches-table\"><thead><tr><th>部门 (agency)</th>"
        "<th class=\"n\">督办（超期）(overdue)</th><th class=\"n\">已超期办结 (done "
        "late)</th><th class=\"n\">仍未办结 (not done)</th><th class=\"n\">预警 "
        "(warnings)</th><th class=\"n\">最长超期 (worst delay)</th></tr></thead><tbody>\n",
        out);
    long totals[4] = {0, 0, 0, 0};
    const char *cols[4] = {"overdue", "overdue_done_late", "overdue_not_done", "warnings"};
    for (int r = 0; r < n; r++) {
        fputs ("<tr", out);
        agency_attrs (out, val (b, r, "agency"), val (b, r, "bank"));
        fputs ("><td>", out);
        agency_label (out, val (b, r, "agency"), val (b, r, "bank"));
        fputs ("</td>", out);
        for (int c = 0; c < 4; c++) {
            totals[c] += num (b, r, cols[c]);
            td_long (out, num (b, r, cols[c]));
        }
        char human[64];
        const char *worst = val (b, r, "worst_secs");
        td (out, worst ? human_zh (atoll (worst), human, sizeof human) : NULL, true);
        fputs ("</tr>\n", out);
    }
    fputs ("<tr class=\"total\"><td>合计 (total)</td>", out);
    for (int c = 0; c < 4; c++)
        td_long (out, totals[c]);
    fputs ("<td></td></tr>\n</tbody></table>\n", out);
    fputs ("<p class=\"note\">督办：期限在本月、未被撤销的督办记录；已超期办结、仍未办结"
           "均截至月末。最长超期：办结时间（月末仍未办结的至月末）减去期限。"
           "(Breaches whose deadline fell this month and that stand; done or not as of "
           "the month end. Worst delay: completion, or the month end for steps not done "
           "by then, minus the deadline.)</p></section>\n",
           out);
}

static void
section_worst (FILE *out, const report_t *rep)
{
    PGresult *w = rep->worst;
    int n = PQntuples (w);
    long missed = num (rep->summary, 0, "missed");
    fprintf (
        out,
        "<section id=\"worst\"><h2>四、超期最严重的案件 <span class=\"en\">(Worst cases, "
        "top %d)</span></h2>\n",
        WORST_CASES);
    if (n == 0) {
        fputs ("<p class=\"empty\">本月没有超期的环节。(No deadline was missed this "
               "month.)</p></section>\n",
               out);
        return;
    }
    fprintf (out,
             "<p class=\"note\">本月超期环节共 %ld 个，按超期时长列出最严重的 %d 个；"
             "期限“24:00”为当日结束。(%ld missed deadlines this month; the %d longest "
             "overdue or latest. A deadline at 24:00 is the end of that day.)</p>\n",
             missed, n, missed, n);
    fputs ("<table id=\"worst-table\"><thead><tr><th class=\"n\">#</th><th>事项 "
           "(workflow)</th><th>案件编号 (key)</th><th>部门案号 (agency case no.)</th>"
           "<th>部门 (agency)</th><th>环节 (step)</th><th>期限 (due)</th><th>办结 "
           "(done)</th><th class=\"n\">超期 (late by)</th></tr></thead><tbody>\n",
           out);
    for (int r = 0; r < n; r++) {
        const char *agency = val (w, r, "agency"), *step = val (w, r, "step");
        const char *title =
            step_title (&rep->defs, val (w, r, "workflow"), val (w, r, "digest"), step);
        fprintf (out, "<tr><td class=\"n\">%d</td><td>", r + 1);
        workflow_label (out, &rep->defs, val (w, r, "workflow"));
        fputs ("</td>", out);
        td (out, val (w, r, "key_value"), false);
        fputs ("<td>", out);
        const char *case_no = val (w, r, "case_no"),
                   *case_agency = val (w, r, "case_no_agency");
        if (case_no) {
            esc (out, case_no);
            if (!same (case_agency, agency)) {
                fputs (" <span class=\"code\">(", out);
                esc (out, case_agency);
                fputs (")</span>", out);
            }
        }
        else
            fputs ("—", out);
        fputs ("</td><td>", out);
        agency_label (out, agency, val (w, r, "bank"));
        fputs ("</td><td>", out);
        if (title) {
            esc (out, title);
            fputs ("<br><span class=\"code\">", out);
            esc (out, step);
            fputs ("</span>", out);
        }
        else
            esc (out, step);
        fputs ("</td>", out);
        td (out, val (w, r, "due"), false);
        if (val (w, r, "done"))
            td (out, val (w, r, "done"), false);
        else
            fputs ("<td class=\"late\">未办结 (not done)</td>", out);
        char human[64];
        fputs ("<td class=\"n late\">", out);
        esc (out, human_zh (atoll (val (w, r, "late_secs")), human, sizeof human));
        fputs ("</td></tr>\n", out);
    }
    fputs ("</tbody></table></section>\n", out);
}

/* A small line of the rates of one row of the trend (NULL: no point). */
static void
sparkline (FILE *out, const char *const pct[TREND_MONTHS])
{
    const int w = 96, h = 26;
    fprintf (out, "<svg class=\"spark\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\">",
             w, h, w, h);
    fprintf (out, "<line x1=\"4\" y1=\"3\" x2=\"%d\" y2=\"3\" stroke=\"#eee\"/>", w - 4);
    fputs ("<polyline fill=\"none\" stroke=\"#1565c0\" stroke-width=\"1.5\" points=\"",
           out);
    for (int i = 0; i < TREND_MONTHS; i++)
        if (pct[i])
            fprintf (out, "%.1f,%.1f ", 6 + i * 16.8, 3 + (100.0 - atof (pct[i])) * 0.2);
    fputs ("\"/>", out);
    for (int i = 0; i < TREND_MONTHS; i++)
        if (pct[i])
            fprintf (out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2\" fill=\"#1565c0\"/>",
                     6 + i * 16.8, 3 + (100.0 - atof (pct[i])) * 0.2);
    fputs ("</svg>", out);
}

/* One row of the trend (an agency, a bank, or the total): rows first ..
   the returned index (exclusive) of res, with each month's figures. */
typedef struct {
    bool total;
    const char *agency, *bank;
    const char *pct[TREND_MONTHS];
    long on[TREND_MONTHS], counted[TREND_MONTHS];
} trend_row_t;

static int
trend_row (const report_t *rep, int first, trend_row_t *row)
{
    PGresult *t = rep->trend;
    int n = PQntuples (t);
    memset (row, 0, sizeof *row);
    row->total = same (val (t, first, "is_total"), "1");
    row->agency = val (t, first, "agency");
    row->bank = val (t, first, "bank");
    int r = first;
    for (; r < n && same (val (t, r, "is_total"), val (t, first, "is_total"))
           && (row->total
               || (same (val (t, r, "agency"), row->agency)
                   && same (val (t, r, "bank"), row->bank)));
         r++)
        for (int i = 0; i < TREND_MONTHS; i++)
            if (same (val (t, r, "month"), rep->months[i])) {
                row->pct[i] = val (t, r, "pct");
                row->on[i] = num (t, r, "on_time");
                row->counted[i] = num (t, r, "counted");
            }
    return r;
}

static void
section_trend (FILE *out, const report_t *rep)
{
    PGresult *t = rep->trend;
    int n = PQntuples (t);
    fprintf (
        out,
        "<section id=\"trend\"><h2>五、近六个月按时办结率趋势 <span class=\"en\">(On-time "
        "rate, %s to %s)</span></h2>\n",
        rep->months[0], rep->months[TREND_MONTHS - 1]);
    if (n == 0) {
        fputs (
            "<p class=\"empty\">近六个月没有到期的办理环节。(No step fell due in these six "
            "months.)</p></section>\n",
            out);
        return;
    }
    fputs ("<table id=\"trend-table\"><thead><tr><th>部门 (agency)</th>", out);
    for (int i = 0; i < TREND_MONTHS; i++)
        fprintf (out, "<th class=\"n\">%s</th>", rep->months[i]);
    fputs ("<th>走势 (trend)</th></tr></thead><tbody>\n", out);
    for (int r = 0; r < n;) {
        trend_row_t row;
        r = trend_row (rep, r, &row);
        if (row.total)
            fputs ("<tr class=\"total\"><td>全部部门 (all agencies)</td>", out);
        else {
            fputs ("<tr", out);
            agency_attrs (out, row.agency, row.bank);
            fputs ("><td>", out);
            agency_label (out, row.agency, row.bank);
            fputs ("</td>", out);
        }
        for (int i = 0; i < TREND_MONTHS; i++)
            td_pct (out, row.pct[i], row.on[i], row.counted[i]);
        fputs ("<td>", out);
        sparkline (out, row.pct);
        fputs ("</td></tr>\n", out);
    }
    fputs (
        "</tbody></table>\n<p class=\"note\">单元格为各月截至其月末的按时办结率，悬停可见 "
        "按时/已到期；“—”表示该月没有已到期的环节。(Each cell: the month's on-time rate "
        "as of its end; hover for on time/due. “—”: nothing due and passed that "
        "month.)</p></section>\n",
        out);
}

static void
section_durations (FILE *out, const report_t *rep)
{
    PGresult *d = rep->durations;
    int n = PQntuples (d);
    fputs ("<section id=\"durations\"><h2>六、办理时长 <span class=\"en\">(End-to-end "
           "durations by workflow, cases completed this month)</span></h2>\n",
           out);
    if (n == 0) {
        fputs ("<p class=\"empty\">本月没有办结的案件。(No case was completed this "
               "month.)</p></section>\n",
               out);
        return;
    }
    fputs ("<table id=\"durations-table\"><thead><tr><th>事项 (workflow)</th>"
           "<th class=\"n\">办结数 (completed)</th><th class=\"n\">中位数 p50 (小时 "
           "hours)</th><th class=\"n\">p90 (小时 hours)</th><th class=\"n\">中位数 p50 "
           "(工作日 working days)</th><th class=\"n\">p90 (工作日 working days)</th>"
           "<th class=\"n\">最长 (max hours)</th></tr></thead><tbody>\n",
           out);
    for (int r = 0; r < n; r++) {
        fputs ("<tr><td>", out);
        workflow_label (out, &rep->defs, val (d, r, "workflow"));
        fputs ("</td>", out);
        td (out, val (d, r, "completed"), true);
        td (out, val (d, r, "p50_hours"), true);
        td (out, val (d, r, "p90_hours"), true);
        td (out, val (d, r, "p50_working_days"), true);
        td (out, val (d, r, "p90_working_days"), true);
        td (out, val (d, r, "max_hours"), true);
        fputs ("</tr>\n", out);
    }
    fputs ("</tbody></table>\n<p "
           "class=\"note\">从受理（首个事件）到办结；工作日按办事日历计算。"
           "(From the start event to completion; working days as the hub counts "
           "deadlines.)</p></section>\n",
           out);
}

static void
section_backlog (FILE *out, const report_t *rep)
{
    PGresult *b = rep->backlog;
    int n = PQntuples (b);
    fprintf (out,
             "<section id=\"backlog\"><h2>七、在办积压 <span class=\"en\">(Open backlog by "
             "age, %s)</span></h2>\n",
             month_over (rep) ? "at the month end" : "now");
    fputs ("<p class=\"note\">截至 ", out);
    esc (out, val (rep->summary, 0, "as_of"));
    fputs (" 北京时间 (Beijing time)，按受理至此的自然日计；中止指此时因不予登记等待补正。"
           "(Age in calendar days since the start; suspended: refused, waiting for a "
           "correction, at that time.)</p>\n",
           out);
    if (n == 0) {
        fputs ("<p class=\"empty\">没有在办案件。(Nothing open.)</p></section>\n", out);
        return;
    }
    static const char *const cols[] = {"open_instances",    "suspended",   "age_under_1d",
                                       "age_1_to_3d",       "age_3_to_7d", "age_over_7d",
                                       "with_overdue_steps"};
    enum { NCOLS = sizeof cols / sizeof *cols };
    long totals[NCOLS] = {0};
    fputs ("<table id=\"backlog-table\"><thead><tr><th>事项 (workflow)</th>"
           "<th class=\"n\">在办 (open)</th><th class=\"n\">其中中止 (suspended)</th>"
           "<th class=\"n\">&lt;1天 (&lt;1d)</th><th class=\"n\">1–3天 (1–3d)</th>"
           "<th class=\"n\">3–7天 (3–7d)</th><th class=\"n\">&gt;7天 (&gt;7d)</th>"
           "<th class=\"n\">有超期环节 (with overdue steps)</th><th>最早受理 (oldest "
           "start)</th></tr></thead><tbody>\n",
           out);
    for (int r = 0; r < n; r++) {
        fputs ("<tr><td>", out);
        workflow_label (out, &rep->defs, val (b, r, "workflow"));
        fputs ("</td>", out);
        for (int c = 0; c < NCOLS; c++) {
            totals[c] += num (b, r, cols[c]);
            td_long (out, num (b, r, cols[c]));
        }
        td (out, val (b, r, "oldest"), false);
        fputs ("</tr>\n", out);
    }
    fputs ("<tr class=\"total\"><td>合计 (total)</td>", out);
    for (int c = 0; c < NCOLS; c++)
        td_long (out, totals[c]);
    fputs ("<td></td></tr>\n</tbody></table></section>\n", out);
}

/* BAD_RECORD: the adapter could not map the record; any other code is
   the hub's, which rejected the event. */
static const char *
refusal_meaning (const char *code)
{
    return same (code, "BAD_RECORD")
               ? "适配器拒收：记录无法读取或字段不合格 (refused by the adapter: unreadable, "
                 "or a field missing or failing its check)"
               : "中心拒收 (rejected by the hub)";
}

static void
section_refused (FILE *out, const report_t *rep)
{
    PGresult *f = rep->refused;
    int n = PQntuples (f);
    fputs ("<section id=\"refused\"><h2>八、各部门拒收记录 <span class=\"en\">(Records "
           "refused at the agencies)</span></h2>\n",
           out);
    if (n == 0) {
        fputs ("<p class=\"empty\">本月各部门没有拒收记录。(No record was refused at the "
               "agencies this month.)</p></section>\n",
               out);
        return;
    }
    fputs ("<table id=\"refused-table\"><thead><tr><th>部门 (agency)</th>"
           "<th>原因代码 (code)</th><th>说明 (meaning)</th><th class=\"n\">条数 "
           "(records)</th><th>涉及字段 (fields)</th></tr></thead><tbody>\n",
           out);
    long total = 0;
    for (int r = 0; r < n; r++) {
        fputs ("<tr", out);
        agency_attrs (out, val (f, r, "agency"), NULL);
        fputs (" data-code=\"", out);
        esc (out, val (f, r, "code"));
        fputs ("\"><td>", out);
        /* by agency only: an adapter's refusal names no bank */
        const char *agency = val (f, r, "agency"), *name = AGENCY_NAME (agency);
        if (name)
            fprintf (out, "%s <span class=\"code\">(", name);
        esc (out, agency);
        fputs (name ? ")</span></td>" : "</td>", out);
        td (out, val (f, r, "code"), false);
        td (out, refusal_meaning (val (f, r, "code")), false);
        total += num (f, r, "records");
        td_long (out, num (f, r, "records"));
        td (out, val (f, r, "fields"), false);
        fputs ("</tr>\n", out);
    }
    fprintf (out,
             "<tr class=\"total\"><td>合计 (total)</td><td></td><td></td>"
             "<td class=\"n\">%ld</td><td></td></tr>\n</tbody></table>\n",
             total);
    fputs ("<p class=\"note\">各部门适配器未能转换而隔离、或被中心拒收的记录，"
           "按适配器隔离的时间计入月份，以随心跳上报中心者为准；记录内容不离开部门。"
           "(Records the agencies' adapters could not map, or whose events the hub "
           "rejected, in the month they were set aside, as the adapters reported them "
           "to the hub; the records themselves stay at the agencies.)</p></section>\n",
           out);
}

static bool
no_data (const report_t *rep)
{
    return PQntuples (rep->agencies) == 0 && PQntuples (rep->breaches) == 0
           && PQntuples (rep->durations) == 0;
}

static void
write_html (FILE *out, const report_t *rep)
{
    fprintf (out,
             "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n"
             "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
             "<meta name=\"generator\" content=\"hubctl report\">\n"
             "<title>一网通办督办月报 %04d年%02d月</title>\n<style>%s</style>\n</head>\n"
             "<body>\n<header>\n<h1>一网通办督办月报 %04d年%02d月</h1>\n",
             rep->year, rep->month, CSS, rep->year, rep->month);
    fprintf (
        out,
        "<p class=\"sub\">督办室 (Supervision office) · Monthly supervision report, %s "
        "%d · 数据截至 (as of) <span id=\"as-of\">",
        month_names[rep->month - 1], rep->year);
    esc (out, val (rep->summary, 0, "as_of"));
    fputs ("</span> 北京时间 (Beijing time)</p>\n", out);
    /* the one line that differs when the report is made again */
    fputs ("<p class=\"sub\" id=\"generated\">生成于 (generated) ", out);
    esc (out, val (rep->summary, 0, "generated"));
    fputs (" 北京时间 (Beijing time)</p>\n</header>\n", out);
    section_summary (out, rep, no_data (rep));
    section_on_time (out, rep);
    section_breaches (out, rep);
    section_worst (out, rep);
    section_trend (out, rep);
    section_durations (out, rep);
    section_backlog (out, rep);
    section_refused (out, rep);
    fputs ("<footer>\n<p><b>口径说明 (Definitions)</b></p>\n<ul>\n<li>"
           "月末快照 (month-end snapshot)：全部数字截至本月末（北京时间最后一日24:00），"
           "月末以后办结的环节仍按未办结计，月末以后受理的案件不计入；"
           "本月尚未结束时截至报告生成时。"
           "(Every figure is as of the end of the month; what happened later changes "
           "nothing.)</li>\n<li>"
           "环节按期限所在月份（北京时间）统计，期限为某日24:00（即次日00:00）的属于该日："
           "10月31日24:00到期、11月2日办结的环节计入10月的超期。"
           "(Steps count in the Beijing month of their deadline; a deadline at 24:00 "
           "belongs to that day.)</li>\n<li>"
           "按时 (on time)：在期限前办结；超期办结 (late)：期限后、月末前办结；"
           "超期未办 (overdue open)：期限已过，月末仍未办结；"
           "未到期的环节和没有期限的环节不计入按时办结率。</li>\n<li>"
           "督办 (breach)：督办系统记录、未被撤销的超期；"
           "预警 (warning)：已过预警点尚未办结。</li>\n<li>"
           "银行按行分列：以月末前办结该环节的事件或本案银行事件所载银行名称为准，"
           "无则为“未注明”。(Banks one by one, as named by the case's events up to the "
           "month end.)</li>\n<li>"
           "环节名称取自案件所依据的流程定义；部门案号为该环节所属部门的案号，"
           "无则为受理事件的案号。(Step titles from the case's definition; the agency's "
           "own case number of the step's agency, else of the first event.)</li>\n<li>"
           "拒收记录 (refused records)：各部门适配器隔离区中的记录，按隔离时间计入月份；"
           "BAD_RECORD 为适配器无法转换的记录，其余代码为中心拒收的事件。"
           "(Records set aside at the agencies, in the month they were set aside; "
           "BAD_RECORD: the adapter could not map the record; any other code: the hub "
           "rejected the event.)</li>\n<li>"
           "数据来源 (source)：onenet 数据库 analytics 视图 "
           "(views of the analytics schema, docs/analytics.md)。</li>\n"
           "</ul>\n</footer>\n</body>\n</html>\n",
           out);
}

/* ------------------------------------------------------------- JSON */

static json_t *
j_text (PGresult *res, int r, const char *name)
{
    const char *v = val (res, r, name);
    return v ? json_string (v) : json_null ();
}

static json_t *
j_int (PGresult *res, int r, const char *name)
{
    const char *v = val (res, r, name);
    return v ? json_integer (atoll (v)) : json_null ();
}

static json_t *
j_real (PGresult *res, int r, const char *name)
{
    const char *v = val (res, r, name);
    return v ? json_real (strtod (v, NULL)) : json_null ();
}

static void
set (json_t *o, const char *key, json_t *value)
{
    json_object_set_new (o, key, value);
}

/* The agency's fields of a row: code, name and, for the banks, the bank
   (null when no event named it). */
static void
j_agency (json_t *o, const char *agency, const char *bank)
{
    set (o, "agency", agency ? json_string (agency) : json_null ());
    const char *name = AGENCY_NAME (agency);
    set (o, "agency_name", name ? json_string (name) : json_null ());
    set (o, "bank", is_bank (agency) && bank ? json_string (bank) : json_null ());
}

static json_t *
json_report (const report_t *rep)
{
    PGresult *s = rep->summary;
    json_t *root = json_object ();
    char month[16];
    snprintf (month, sizeof month, "%04d-%02d", rep->year, rep->month);
    set (root, "month", json_string (month));
    set (root, "as_of", j_text (s, 0, "as_of_iso"));
    set (root, "month_over", json_boolean (month_over (rep)));
    set (root, "generated_at", j_text (s, 0, "generated_iso"));
    set (root, "no_data", json_boolean (no_data (rep)));

    json_t *sum = json_object ();
    set (sum, "on_time_rate", j_real (s, 0, "pct"));
    set (sum, "due", j_int (s, 0, "counted"));
    set (sum, "on_time", j_int (s, 0, "on_time"));
    set (sum, "missed", j_int (s, 0, "missed"));
    set (sum, "late", j_int (s, 0, "late"));
    set (sum, "overdue_open", j_int (s, 0, "overdue_open"));
    set (sum, "not_yet_due", j_int (s, 0, "not_yet_due"));
    set (sum, "breaches", j_int (s, 0, "breaches"));
    set (sum, "warnings", j_int (s, 0, "warnings"));
    set (sum, "completed", j_int (s, 0, "completed"));
    set (sum, "open_at_end", j_int (s, 0, "open_at_end"));
    set (root, "summary", sum);

    json_t *agencies = json_array ();
    PGresult *a = rep->agencies;
    for (int r = 0; r < PQntuples (a); r++) {
        json_t *o = json_object ();
        j_agency (o, val (a, r, "agency"), val (a, r, "bank"));
        set (o, "on_time_rate", j_real (a, r, "pct"));
        set (o, "due", j_int (a, r, "counted"));
        set (o, "on_time", j_int (a, r, "on_time"));
        set (o, "late", j_int (a, r, "late"));
        set (o, "overdue_open", j_int (a, r, "overdue_open"));
        set (o, "not_yet_due", j_int (a, r, "not_yet_due"));
        json_array_append_new (agencies, o);
    }
    set (root, "on_time_by_agency", agencies);

    json_t *breaches = json_array ();
    PGresult *b = rep->breaches;
    for (int r = 0; r < PQntuples (b); r++) {
        json_t *o = json_object ();
        j_agency (o, val (b, r, "agency"), val (b, r, "bank"));
        set (o, "overdue", j_int (b, r, "overdue"));
        set (o, "overdue_done_late", j_int (b, r, "overdue_done_late"));
        set (o, "overdue_not_done", j_int (b, r, "overdue_not_done"));
        set (o, "warnings", j_int (b, r, "warnings"));
        set (o, "worst_delay_seconds", j_int (b, r, "worst_secs"));
        json_array_append_new (breaches, o);
    }
    set (root, "breaches_by_agency", breaches);

    json_t *worst = json_array ();
    PGresult *w = rep->worst;
    for (int r = 0; r < PQntuples (w); r++) {
        json_t *o = json_object ();
        const char *wf = val (w, r, "workflow"), *title = workflow_title (&rep->defs, wf);
        const char *step = val (w, r, "step");
        const char *st = step_title (&rep->defs, wf, val (w, r, "digest"), step);
        set (o, "rank", json_integer (r + 1));
        set (o, "workflow", j_text (w, r, "workflow"));
        set (o, "workflow_title", title ? json_string (title) : json_null ());
        set (o, "key_value", j_text (w, r, "key_value"));
        set (o, "case_no", j_text (w, r, "case_no"));
        set (o, "case_no_agency", j_text (w, r, "case_no_agency"));
        j_agency (o, val (w, r, "agency"), val (w, r, "bank"));
        set (o, "step", j_text (w, r, "step"));
        set (o, "step_title", st ? json_string (st) : json_null ());
        set (o, "status", j_text (w, r, "status"));
        set (o, "due_at", j_text (w, r, "due_iso"));
        set (o, "completed_at", j_text (w, r, "done_iso"));
        set (o, "late_by_seconds", j_int (w, r, "late_secs"));
        json_array_append_new (worst, o);
    }
    set (root, "worst_cases", worst);

    json_t *trend = json_object (), *months = json_array (), *rows = json_array ();
    for (int i = 0; i < TREND_MONTHS; i++)
        json_array_append_new (months, json_string (rep->months[i]));
    set (trend, "months", months);
    set (trend, "total", json_null ());
    for (int r = 0; r < PQntuples (rep->trend);) {
        trend_row_t row;
        r = trend_row (rep, r, &row);
        json_t *o = json_object (), *cells = json_array ();
        if (!row.total)
            j_agency (o, row.agency, row.bank);
        for (int i = 0; i < TREND_MONTHS; i++) {
            json_t *c = json_object ();
            set (c, "month", json_string (rep->months[i]));
            set (c, "on_time", json_integer (row.on[i]));
            set (c, "due", json_integer (row.counted[i]));
            set (c, "on_time_rate",
                 row.pct[i] ? json_real (strtod (row.pct[i], NULL)) : json_null ());
            json_array_append_new (cells, c);
        }
        set (o, "months", cells);
        if (row.total)
            set (trend, "total", o);
        else
            json_array_append_new (rows, o);
    }
    set (trend, "agencies", rows);
    set (root, "trend", trend);

    json_t *durations = json_array ();
    PGresult *d = rep->durations;
    for (int r = 0; r < PQntuples (d); r++) {
        json_t *o = json_object ();
        const char *title = workflow_title (&rep->defs, val (d, r, "workflow"));
        set (o, "workflow", j_text (d, r, "workflow"));
        set (o, "workflow_title", title ? json_string (title) : json_null ());
        set (o, "completed", j_int (d, r, "completed"));
        set (o, "p50_seconds", j_real (d, r, "p50_secs"));
        set (o, "p90_seconds", j_real (d, r, "p90_secs"));
        set (o, "p50_working_days", j_real (d, r, "p50_wd"));
        set (o, "p90_working_days", j_real (d, r, "p90_wd"));
        set (o, "max_seconds", j_real (d, r, "max_secs"));
        json_array_append_new (durations, o);
    }
    set (root, "durations", durations);

    json_t *backlog = json_array ();
    PGresult *k = rep->backlog;
    static const char *const cols[] = {"open_instances",    "suspended",   "age_under_1d",
                                       "age_1_to_3d",       "age_3_to_7d", "age_over_7d",
                                       "with_overdue_steps"};
    for (int r = 0; r < PQntuples (k); r++) {
        json_t *o = json_object ();
        const char *title = workflow_title (&rep->defs, val (k, r, "workflow"));
        set (o, "workflow", j_text (k, r, "workflow"));
        set (o, "workflow_title", title ? json_string (title) : json_null ());
        for (size_t c = 0; c < sizeof cols / sizeof *cols; c++)
            set (o, cols[c], j_int (k, r, cols[c]));
        set (o, "oldest_started_at", j_text (k, r, "oldest_iso"));
        json_array_append_new (backlog, o);
    }
    set (root, "backlog", backlog);

    json_t *refused = json_array ();
    PGresult *f = rep->refused;
    for (int r = 0; r < PQntuples (f); r++) {
        json_t *o = json_object (), *fields = json_array ();
        const char *agency = val (f, r, "agency"), *name = AGENCY_NAME (agency);
        set (o, "agency", json_string (agency));
        set (o, "agency_name", name ? json_string (name) : json_null ());
        set (o, "code", j_text (f, r, "code"));
        set (o, "kind", j_text (f, r, "kind"));
        set (o, "records", j_int (f, r, "records"));
        set (o, "adapters", j_int (f, r, "adapters"));
        const char *list = val (f, r, "fields");
        for (const char *p = list; p && *p;) {
            const char *comma = strstr (p, ", ");
            size_t len = comma ? (size_t) (comma - p) : strlen (p);
            json_array_append_new (fields, json_stringn (p, len));
            p = comma ? comma + 2 : p + len;
        }
        set (o, "fields", fields);
        json_array_append_new (refused, o);
    }
    set (root, "refused_at_agencies", refused);
    return root;
}

static void
write_json (FILE *out, const report_t *rep)
{
    json_t *root = json_report (rep);
    json_dumpf (root, out,
                JSON_INDENT (2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION (15));
    fputc ('\n', out);
    json_decref (root);
}

/* ------------------------------------------------------------- the command */

static void
usage (void)
{
    printf (
        "Usage: hubctl report --month YYYY-MM [--output FILE] [--json]\n\n"
        "The monthly supervision report (督办月报) as one self-contained HTML\n"
        "page (UTF-8, inline CSS and SVG, no script, nothing loaded from elsewhere) for\n"
        "the supervision office: per-agency (and per-bank) on-time rates of the steps due\n"
        "that month as a bar chart, breaches by agency, the %d worst cases (with step\n"
        "titles and the agencies' own case numbers), the on-time rate of the month and\n"
        "the %d before it, end-to-end durations (p50/p90) of the cases completed that\n"
        "month, the open backlog by age, and the records the agencies' adapters\n"
        "refused that month, by agency and code.\n"
        "Every figure is a snapshot as of the end of the month (24:00 of its last day,\n"
        "Beijing time): made again later, the page is the same but for its 'generated'\n"
        "line. For a month not over yet, as of now. Deadlines at 00:00 show as 24:00 of\n"
        "the day before.\n"
        "  --month YYYY-MM  the month to report on (months of Beijing time)\n"
        "  --output FILE    write to FILE (default: standard output)\n"
        "  --json           the same figures as JSON (times ISO 8601 with offset,\n"
        "                   durations in seconds) instead of the page\n"
        "Read from the views of the analytics schema: an analyst's role suffices.\n"
        "Exit status: 0 written (also for a month without data), 1 the database\n"
        "failed or FILE could not be written, 2 usage.\n",
        WORST_CASES, TREND_BEFORE);
}

/* Parses YYYY-MM (exactly, month 01-12, year 1970-9999). */
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
    return *y >= 1970 && *m >= 1 && *m <= 12;
}

/* Runs the report's queries in one read-only snapshot; false (after
   printing why) when one fails. */
static bool
run_queries (PGconn *conn, report_t *rep)
{
    char first_day[16];
    snprintf (first_day, sizeof first_day, "%04d-%02d-01", rep->year, rep->month);
    PGresult *begin =
        hubctl_query (conn, "start a read-only snapshot",
                      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL);
    if (!begin)
        return false;
    PQclear (begin);
    rep->defs_res =
        hubctl_query (conn, "read the workflow definitions", SQL_DEFINITIONS, 0, NULL);
    if (!rep->defs_res)
        return false;
    definitions_load (&rep->defs, rep->defs_res);
    char *roles = definitions_roles (&rep->defs);
    const char *params[2] = {first_day, roles};
    struct {
        PGresult **res;
        const char *what, *sql;
    } queries[] = {
        {&rep->summary, "summarise the month", SQL_SUMMARY},
        {&rep->agencies, "read the on-time rates by agency", SQL_AGENCIES},
        {&rep->breaches, "read the breaches by agency", SQL_BREACHES},
        {&rep->worst, "read the worst cases", SQL_WORST},
        {&rep->trend, "read the on-time trend", SQL_TREND},
        {&rep->durations, "read the durations", SQL_DURATIONS},
        {&rep->backlog, "read the open backlog", SQL_BACKLOG},
    };
    bool ok = true;
    for (size_t i = 0; ok && i < sizeof queries / sizeof *queries; i++)
        ok = (*queries[i].res =
                  hubctl_query (conn, queries[i].what, queries[i].sql, 2, params))
             != NULL;
    ok = ok
         && (rep->refused = hubctl_query (conn, "read the records refused at the agencies",
                                          SQL_REFUSED, 1, params))
                != NULL;
    free (roles);
    return ok;
}

int
cmd_report (const hubctl_options_t *options, int argc, char **argv)
{
    static struct option opts[] = {{"month", required_argument, NULL, 'm'},
                                   {"output", required_argument, NULL, 'o'},
                                   {"help", no_argument, NULL, 'h'},
                                   {NULL, 0, NULL, 0}};
    const char *month = NULL, *output = NULL;
    int c;
    while ((c = getopt_long (argc, argv, "hm:o:", opts, NULL)) != -1) {
        switch (c) {
        case 'm': month = optarg; break;
        case 'o': output = optarg; break;
        case 'h': usage (); return HUBCTL_OK;
        default: fprintf (stderr, "Try 'hubctl report --help'.\n"); return HUBCTL_USAGE;
        }
    }
    if (optind < argc)
        return hubctl_usage_error ("report", "unexpected argument '%s'", argv[optind]);
    report_t rep;
    memset (&rep, 0, sizeof rep);
    if (!month)
        return hubctl_usage_error ("report", "which month? Give --month YYYY-MM");
    if (!parse_month (month, &rep.year, &rep.month))
        return hubctl_usage_error ("report",
                                   "--month must be a month as YYYY-MM (e.g. 2026-10), "
                                   "not '%s'",
                                   month);
    if (output && !*output)
        return hubctl_usage_error ("report", "--output needs a file name");
    for (int i = 0; i < TREND_MONTHS; i++) {
        int k = rep.year * 12 + (rep.month - 1) - (TREND_BEFORE - i);
        snprintf (rep.months[i], sizeof rep.months[i], "%04d-%02d", (k / 12) % 10000,
                  k % 12 + 1);
    }
    PGconn *conn = hubctl_connect (options);
    if (!conn)
        return HUBCTL_FAILURE;
    int rc = HUBCTL_FAILURE;
    if (run_queries (conn, &rep)) {
        /* the file is only created once everything is read */
        FILE *out = output ? fopen (output, "w") : stdout;
        if (!out)
            fprintf (stderr, "hubctl report: could not write %s: %s\n", output,
                     strerror (errno));
        else {
            if (options->json)
                write_json (out, &rep);
            else
                write_html (out, &rep);
            bool ok = !ferror (out);
            ok = (output ? fclose (out) == 0 : fflush (out) == 0) && ok;
            if (!ok)
                fprintf (stderr, "hubctl report: could not write %s: %s\n",
                         output ? output : "standard output", strerror (errno));
            else {
                fprintf (stderr, "hubctl report: the report for %04d-%02d written to %s\n",
                         rep.year, rep.month, output ? output : "standard output");
                rc = HUBCTL_OK;
            }
        }
    }
    PGresult *all[] = {rep.summary, rep.agencies,  rep.breaches, rep.worst,
                       rep.trend,   rep.durations, rep.backlog,  rep.refused};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        PQclear (all[i]);
    definitions_free (&rep.defs);
    PQclear (rep.defs_res);
    PQfinish (conn);
    return rc;
}
