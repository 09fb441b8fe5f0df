/*  supervision_page: the supervision office's live page, see
    supervision_page.h. */
#include "supervision_page.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agency_names.h"
#include "db.h"

/* Times are shown in the session's time zone, Asia/Shanghai (http.c). */
#define MINUTE  "'YYYY-MM-DD HH24:MI'"
#define STR_(x) #x
#define STR(x)  STR_ (x)

static const char CSS[] =
    "body{font-family:\"Noto Sans CJK SC\",\"Source Han Sans SC\",\"PingFang SC\","
    "\"Microsoft YaHei\",\"WenQuanYi Micro Hei\",sans-serif;color:#222;margin:0 auto;"
    "max-width:1200px;padding:16px 24px;line-height:1.5;background:#fff}"
    "header{border-bottom:3px solid #b71c1c;padding-bottom:10px;margin-bottom:8px}"
    "h1{font-size:24px;margin:0}h1 a{color:inherit;text-decoration:none}"
    "h2{font-size:19px;margin:26px 0 8px;border-left:5px solid #b71c1c;padding-left:8px}"
    "h3{font-size:16px;margin:18px 0 6px}"
    ".sub,.note{color:#555;font-size:13px;margin:4px 0}"
    ".code{color:#777;font-size:12px;font-family:monospace}"
    "form{margin:10px 0 0}input{font-size:15px;padding:4px 6px}button{font-size:15px}"
    "table{border-collapse:collapse;width:100%;font-size:14px;margin:4px 0 10px}"
    "th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}"
    "th{background:#f4f4f4;font-weight:600}"
    ".overdue{color:#fff;background:#b71c1c;border-radius:3px;padding:0 5px;"
    "white-space:nowrap}"
    ".warning{color:#222;background:#ffca28;border-radius:3px;padding:0 5px;"
    "white-space:nowrap}"
    ".ok{color:#1b5e20}.lost{color:#b71c1c;font-weight:600}.dim{color:#999}"
    "tr.hit td{background:#fff8e1}"
    ".attr{display:inline-block;margin-right:10px}.attr b{font-weight:600;color:#555}"
    ".caseno{font-family:monospace;font-size:13px}"
    "footer{color:#777;font-size:12px;border-top:1px solid #ddd;margin-top:24px;"
    "padding-top:6px}";

void
html_escape (strbuf_t *out, const char *s)
{
    for (const char *p = s ? s : ""; *p; p++)
        switch (*p) {
        case '&': strbuf_puts (out, "&amp;"); break;
        case '<': strbuf_puts (out, "&lt;"); break;
        case '>': strbuf_puts (out, "&gt;"); break;
        case '"': strbuf_puts (out, "&quot;"); break;
        case '\'': strbuf_puts (out, "&#39;"); break;
        default: strbuf_putc (out, *p);
        }
}

/* A query as the analyst; NULL with the message in err when it failed. */
static PGresult *
run (PGconn *conn, const char *sql, int n, const char *const *params, char *err,
     size_t errlen)
{
    PGresult *res = PQexecParams (conn, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus (res) == PGRES_TUPLES_OK)
        return res;
    snprintf (err, errlen, "%s", PQresultErrorMessage (res));
    db_one_line (err);
    PQclear (res);
    return NULL;
}

static const char *
val (PGresult *res, int r, int c)
{
    return PQgetisnull (res, r, c) ? NULL : PQgetvalue (res, r, c);
}

/* ---------------------------------------------------------------- labels */

static void
agency_label (strbuf_t *out, const char *code)
{
    const char *name = agency_name_zh (code);
    if (name) {
        strbuf_puts (out, name);
        strbuf_puts (out, " <span class=\"code\">");
        html_escape (out, code);
        strbuf_puts (out, "</span>");
    }
    else
        html_escape (out, code);
}

static void
workflow_label (strbuf_t *out, const workflow_set_t *set, const char *name)
{
    const workflow_def_t *w = workflow_set_find (set, name);
    if (w && w->title) {
        html_escape (out, w->title);
        strbuf_puts (out, " <span class=\"code\">");
        html_escape (out, name);
        strbuf_puts (out, "</span>");
    }
    else
        html_escape (out, name);
}

static void
step_label (strbuf_t *out, const workflow_set_t *set, const char *workflow, const char *id)
{
    const workflow_def_t *w = workflow_set_find (set, workflow);
    const step_def_t *s = w ? workflow_def_step (w, id, NULL) : NULL;
    if (s && s->title) {
        html_escape (out, s->title);
        strbuf_puts (out, " <span class=\"code\">");
        html_escape (out, id);
        strbuf_puts (out, "</span>");
    }
    else
        html_escape (out, id);
}

static const char *
key_kind_label (const char *kind)
{
    static const char *const labels[][2] = {{"unit_number", "不动产单元号"},
                                            {"credit_code", "统一社会信用代码"},
                                            {"project_code", "项目代码"},
                                            {"application_no", "申请编号"},
                                            {"refund_no", "退库编号"}};
    for (size_t i = 0; kind && i < sizeof labels / sizeof *labels; i++)
        if (!strcmp (labels[i][0], kind))
            return labels[i][1];
    return kind ? kind : "";
}

static const char *
state_label (const char *state)
{
    static const char *const labels[][2] = {
        {"open", "办理中"},      {"suspended", "暂停（待补正）"},
        {"completed", "已办结"}, {"rejected", "不予办理"},
        {"cancelled", "已撤回"}, {"superseded", "已合并"}};
    for (size_t i = 0; state && i < sizeof labels / sizeof *labels; i++)
        if (!strcmp (labels[i][0], state))
            return labels[i][1];
    return state ? state : "";
}

/* "3天4小时", "5小时12分", "12分", "不足1分" for a number of seconds. */
static void
duration (strbuf_t *out, long long secs)
{
    if (secs < 0)
        secs = -secs;
    long long d = secs / 86400, h = secs % 86400 / 3600, m = secs % 3600 / 60;
    if (d)
        strbuf_printf (out, "%lld天%lld小时", d, h);
    else if (h)
        strbuf_printf (out, "%lld小时%lld分", h, m);
    else if (m)
        strbuf_printf (out, "%lld分", m);
    else
        strbuf_puts (out, "不足1分");
}

/* A link to the case page of a key, case number or id. */
static void
case_link (strbuf_t *out, const char *q, const char *text)
{
    strbuf_puts (out, "<a href=\"/supervision/case?q=");
    strbuf_t arg;
    strbuf_init (&arg);
    strbuf_url_encode (&arg, q);
    html_escape (out, arg.data ? arg.data : "");
    strbuf_free (&arg);
    strbuf_puts (out, "\">");
    html_escape (out, text);
    strbuf_puts (out, "</a>");
}

/* ---------------------------------------------------------------- frame */

static void
page_begin (strbuf_t *out, const char *title, const char *hub_id, const char *now,
            const char *q)
{
    strbuf_puts (out, "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
                      "<meta name=\"viewport\" content=\"width=device-width\">"
                      "<meta name=\"robots\" content=\"noindex\"><title>");
    html_escape (out, title);
    strbuf_puts (out, " · 一网通办督办</title><style>");
    strbuf_puts (out, CSS);
    strbuf_puts (out,
                 "</style></head>\n<body><header><h1><a href=\"/supervision\">"
                 "一网通办 · 督办</a></h1><p class=\"sub\">枢纽 <span class=\"code\">");
    html_escape (out, hub_id);
    strbuf_puts (out, "</span>");
    if (now) {
        strbuf_puts (out, " · 北京时间 <span id=\"now\">");
        html_escape (out, now);
        strbuf_puts (out, "</span>");
    }
    strbuf_puts (out,
                 " · 个人信息已脱敏</p>"
                 "<form method=\"get\" action=\"/supervision/case\" role=\"search\">"
                 "<label for=\"q\">查询案件</label> <input id=\"q\" name=\"q\" size=\"44\" "
                 "maxlength=\"256\" value=\"");
    html_escape (out, q ? q : "");
    strbuf_puts (out,
                 "\" placeholder=\"不动产单元号、信用代码、项目代码、部门案号或事件 "
                 "ID\"> <button type=\"submit\">查询</button></form></header>\n<main>");
}

static void
page_end (strbuf_t *out)
{
    strbuf_puts (out, "</main>\n<footer>数据读自 analytics 视图（onenet_analyst 角色，"
                      "姓名、身份证号、电话已脱敏）；逾期与预警口径同 hubctl overdue 与 "
                      "/metrics。</footer></body></html>\n");
}

void
supervision_unavailable (const char *hub_id, const char *why, strbuf_t *out)
{
    strbuf_reset (out);
    page_begin (out, "暂不可用", hub_id, NULL, NULL);
    strbuf_puts (out, "<h2>暂时无法读取数据</h2><p id=\"unavailable\">");
    html_escape (out, why);
    strbuf_puts (out, "</p><p class=\"note\">数据库恢复后刷新本页即可。</p>");
    page_end (out);
}

/* ---------------------------------------------------------------- overview */

static const char OPEN_STEPS_SQL[] =
    "SELECT agency, status, workflow, step, key_kind, key_value, instance_no::text, "
    "  to_char(due_at, " MINUTE "), floor(extract(epoch FROM now() - due_at))::bigint, "
    "  case_no, start_agency, start_case_no, "
    "  count(*) FILTER (WHERE status = 'overdue') OVER (PARTITION BY agency), "
    "  count(*) FILTER (WHERE status = 'warning') OVER (PARTITION BY agency), "
    "  floor(extract(epoch FROM worst))::bigint, "
    "  count(*) FILTER (WHERE status = 'overdue') OVER (), "
    "  count(*) FILTER (WHERE status = 'warning') OVER () "
    "FROM (SELECT o.*, max(CASE WHEN o.status = 'overdue' THEN now() - o.due_at END) "
    "        OVER (PARTITION BY o.agency) AS worst "
    "      FROM analytics.open_steps o WHERE o.status IN ('overdue', 'warning')) x "
    "ORDER BY worst DESC NULLS LAST, agency, status, due_at, instance_id, step "
    "LIMIT " STR (SUPERVISION_LIST_MAX);

static const char ADAPTERS_SQL[] =
    "SELECT agency, adapter_id, to_char(last_heartbeat, 'YYYY-MM-DD HH24:MI:SS'), "
    "  floor(extract(epoch FROM now() - last_heartbeat))::bigint, outbox_depth::text, "
    "  to_char(oldest_unacked, 'YYYY-MM-DD HH24:MI:SS'), hub_id "
    "FROM analytics.adapters ORDER BY agency, adapter_id";

/* The overdue and warned steps, grouped by agency (rows come worst agency
   first, its steps worst first). */
static void
open_steps_html (strbuf_t *out, const workflow_set_t *set, PGresult *res)
{
    int n = PQntuples (res);
    long long overdue = n ? atoll (PQgetvalue (res, 0, 15)) : 0;
    long long warning = n ? atoll (PQgetvalue (res, 0, 16)) : 0;
    strbuf_printf (out,
                   "<h2 id=\"open-steps\">逾期与预警</h2><p id=\"totals\">逾期 "
                   "<b>%lld</b> 项，预警 <b>%lld</b> 项</p>",
                   overdue, warning);
    if (!n) {
        strbuf_puts (out, "<p class=\"ok\">当前没有逾期或预警的环节。</p>");
        return;
    }
    if (overdue + warning > n)
        strbuf_printf (out, "<p class=\"note\">只列出最紧迫的 %d 项。</p>", n);
    const char *agency = NULL;
    for (int r = 0; r < n; r++) {
        if (!agency || strcmp (agency, PQgetvalue (res, r, 0))) {
            if (agency)
                strbuf_puts (out, "</tbody></table></section>");
            agency = PQgetvalue (res, r, 0);
            strbuf_puts (out, "<section class=\"agency\" data-agency=\"");
            html_escape (out, agency);
            strbuf_puts (out, "\"><h3>");
            agency_label (out, agency);
            strbuf_printf (out, " — 逾期 %s 项，预警 %s 项", PQgetvalue (res, r, 12),
                           PQgetvalue (res, r, 13));
            if (val (res, r, 14)) {
                strbuf_puts (out, "，最长逾期 ");
                duration (out, atoll (PQgetvalue (res, r, 14)));
            }
            strbuf_puts (out,
                         "</h3><table><thead><tr><th>状态</th><th>部门案号</th>"
                         "<th>事项</th><th>环节</th><th>办理时限</th><th>逾期/剩余</th>"
                         "<th>案件</th></tr></thead><tbody>");
        }
        bool is_overdue = !strcmp (PQgetvalue (res, r, 1), "overdue");
        strbuf_printf (out, "<tr class=\"step %s\"><td><span class=\"%s\">%s</span></td>",
                       is_overdue ? "is-overdue" : "is-warning",
                       is_overdue ? "overdue" : "warning", is_overdue ? "逾期" : "预警");
        /* the step's agency's own case number; else the one the case began with */
        strbuf_puts (out, "<td class=\"caseno\">");
        if (val (res, r, 9))
            html_escape (out, PQgetvalue (res, r, 9));
        else if (val (res, r, 11)) {
            html_escape (out, PQgetvalue (res, r, 11));
            strbuf_puts (out, " <span class=\"note\">（");
            const char *name = agency_name_zh (PQgetvalue (res, r, 10));
            html_escape (out, name ? name : PQgetvalue (res, r, 10));
            strbuf_puts (out, "受理号）</span>");
        }
        strbuf_puts (out, "</td><td>");
        workflow_label (out, set, PQgetvalue (res, r, 2));
        strbuf_puts (out, "</td><td class=\"title\">");
        step_label (out, set, PQgetvalue (res, r, 2), PQgetvalue (res, r, 3));
        strbuf_puts (out, "</td><td>");
        html_escape (out, PQgetvalue (res, r, 7));
        strbuf_puts (out, "</td><td>");
        long long late = atoll (PQgetvalue (res, r, 8));
        strbuf_puts (out, late >= 0 ? "逾期 " : "剩余 ");
        duration (out, late);
        strbuf_puts (out, "</td><td>");
        html_escape (out, key_kind_label (PQgetvalue (res, r, 4)));
        strbuf_puts (out, " ");
        case_link (out, PQgetvalue (res, r, 5), PQgetvalue (res, r, 5));
        if (strcmp (PQgetvalue (res, r, 6), "1"))
            strbuf_printf (out, " #%s", PQgetvalue (res, r, 6));
        strbuf_puts (out, "</td></tr>");
    }
    strbuf_puts (out, "</tbody></table></section>");
}

static void
adapters_html (strbuf_t *out, PGresult *res)
{
    strbuf_puts (out, "<h2 id=\"adapters\">部门适配器</h2>");
    int n = PQntuples (res);
    if (!n) {
        strbuf_puts (out, "<p class=\"note\">还没有适配器发来心跳。</p>");
        return;
    }
    strbuf_puts (out, "<table><thead><tr><th>部门</th><th>适配器</th><th>最近心跳</th>"
                      "<th>静默</th><th>待确认事件</th><th>最早未确认</th><th>经由枢纽</th>"
                      "<th>状态</th></tr></thead><tbody>");
    for (int r = 0; r < n; r++) {
        long long silent = atoll (PQgetvalue (res, r, 3));
        bool lost = silent > SUPERVISION_SILENT_S;
        strbuf_puts (out, "<tr class=\"adapter\"><td>");
        agency_label (out, PQgetvalue (res, r, 0));
        strbuf_puts (out, "</td><td class=\"caseno\">");
        html_escape (out, PQgetvalue (res, r, 1));
        strbuf_puts (out, "</td><td>");
        html_escape (out, PQgetvalue (res, r, 2));
        strbuf_puts (out, "</td><td>");
        duration (out, silent);
        strbuf_puts (out, "</td><td>");
        html_escape (out, PQgetvalue (res, r, 4));
        strbuf_puts (out, "</td><td>");
        html_escape (out, val (res, r, 5) ? PQgetvalue (res, r, 5) : "—");
        strbuf_puts (out, "</td><td class=\"code\">");
        html_escape (out, PQgetvalue (res, r, 6));
        strbuf_printf (out, "</td><td class=\"%s\">%s</td></tr>", lost ? "lost" : "ok",
                       lost ? "失联" : "正常");
    }
    strbuf_puts (out, "</tbody></table><p class=\"note\">静默超过 5 分钟视为失联。</p>");
}

bool
supervision_overview (PGconn *conn, const workflow_set_t *set, const char *hub_id,
                      strbuf_t *out, char *err, size_t errlen)
{
    PGresult *now =
        run (conn, "SELECT to_char(now(), 'YYYY-MM-DD HH24:MI:SS')", 0, NULL, err, errlen);
    PGresult *steps = now ? run (conn, OPEN_STEPS_SQL, 0, NULL, err, errlen) : NULL;
    PGresult *adapters = steps ? run (conn, ADAPTERS_SQL, 0, NULL, err, errlen) : NULL;
    if (adapters) {
        strbuf_reset (out);
        page_begin (out, "总览", hub_id, PQgetvalue (now, 0, 0), NULL);
        open_steps_html (out, set, steps);
        adapters_html (out, adapters);
        page_end (out);
    }
    PQclear (now);
    PQclear (steps);
    PQclear (adapters);
    return adapters != NULL;
}

/* ---------------------------------------------------------------- case */

/* What a search matches, on events: $1 the text, $2 the text as an event
   id (NULL when it is not a UUID). */
#define EVENT_MATCHES                                                                      \
    "(e.case_no = $1 OR e.event_id = $2::uuid "                                            \
    " OR EXISTS (SELECT 1 FROM jsonb_each_text(e.keys) k WHERE k.value = $1))"

static const char FIND_SQL[] =
    "SELECT id::text FROM ("
    "  SELECT i.id FROM analytics.instances i WHERE (i.key_kind, i.key_value) IN "
    "    (('unit_number', $1), ('credit_code', $1), ('project_code', $1), "
    "     ('application_no', $1), ('refund_no', $1)) "
    "  UNION SELECT ie.instance_id FROM analytics.events e "
    "    JOIN analytics.instance_events ie ON ie.event_id = e.event_id "
    "    WHERE " EVENT_MATCHES ") f "
    "ORDER BY id DESC LIMIT " STR (SUPERVISION_CASES_MAX);

static const char LOOSE_SQL[] =
    "SELECT e.event_id::text, e.agency, e.case_no, e.event_type, "
    "  to_char(e.occurred_at, " MINUTE "), e.attrs::text, e.keys::text "
    "FROM analytics.events e WHERE " EVENT_MATCHES
    " AND NOT EXISTS (SELECT 1 FROM analytics.instance_events ie "
    "  WHERE ie.event_id = e.event_id) "
    "ORDER BY e.occurred_at, e.event_id LIMIT 50";

static const char INSTANCES_SQL[] =
    "SELECT id::text, workflow, key_kind, key_value, instance_no::text, state, "
    "  to_char(started_at, " MINUTE "), to_char(ended_at, " MINUTE ") "
    "FROM analytics.instances WHERE id = ANY ($1::bigint[]) "
    "ORDER BY key_value, workflow, instance_no";

static const char STEPS_SQL[] =
    "SELECT s.instance_id::text, s.step, s.agency, s.required::text, "
    "  to_char(s.ready_at, " MINUTE "), to_char(s.due_at, " MINUTE "), "
    "  to_char(s.completed_at, " MINUTE "), s.status, o.status, "
    "  floor(extract(epoch FROM coalesce(s.completed_at, now()) - s.due_at))::bigint "
    "FROM analytics.steps s LEFT JOIN analytics.open_steps o "
    "  ON o.instance_id = s.instance_id AND o.step = s.step "
    "WHERE s.instance_id = ANY ($1::bigint[]) "
    "ORDER BY s.instance_id, s.completed_at NULLS LAST, s.due_at NULLS LAST, "
    "  s.ready_at NULLS LAST, s.step";

static const char EVENTS_SQL[] =
    "SELECT ie.instance_id::text, e.event_id::text, e.agency, e.case_no, e.event_type, "
    "  to_char(e.occurred_at, " MINUTE "), e.attrs::text "
    "FROM analytics.instance_events ie JOIN analytics.events e ON e.event_id = ie.event_id "
    "WHERE ie.instance_id = ANY ($1::bigint[]) "
    "ORDER BY ie.instance_id, e.occurred_at, e.event_id";

/* The attributes (masked JSON) as name-value pairs. */
static void
attrs_html (strbuf_t *out, const char *json)
{
    json_t *obj = json ? json_loads (json, 0, NULL) : NULL;
    if (!json_is_object (obj)) {
        html_escape (out, json);
        json_decref (obj);
        return;
    }
    const char *name;
    json_t *v;
    json_object_foreach (obj, name, v)
    {
        strbuf_puts (out, "<span class=\"attr\"><b>");
        html_escape (out, name);
        strbuf_puts (out, "</b> ");
        if (json_is_string (v))
            html_escape (out, json_string_value (v));
        else {
            char *text = json_dumps (v, JSON_ENCODE_ANY);
            html_escape (out, text);
            free (text);
        }
        strbuf_puts (out, "</span>");
    }
    json_decref (obj);
}

static const char *
step_status_label (const char *status, const char *open_status, const char **cls)
{
    *cls = "";
    if (open_status && !strcmp (open_status, "warning")) {
        *cls = "warning";
        return "预警";
    }
    static const char *const labels[][3] = {
        {"on_time", "按时办结", "ok"},       {"late", "超期办结", "lost"},
        {"overdue_open", "逾期", "overdue"}, {"not_yet_due", "办理中", ""},
        {"no_deadline", "无时限", ""},       {"not_required", "不需要", "dim"}};
    for (size_t i = 0; i < sizeof labels / sizeof *labels; i++)
        if (!strcmp (labels[i][0], status)) {
            *cls = labels[i][2];
            return labels[i][1];
        }
    return status;
}

static void
instance_html (strbuf_t *out, const workflow_set_t *set, const char *q, PGresult *inst,
               int i, PGresult *steps, PGresult *events)
{
    const char *id = PQgetvalue (inst, i, 0), *workflow = PQgetvalue (inst, i, 1);
    strbuf_puts (out, "<section class=\"case\" data-instance=\"");
    html_escape (out, id);
    strbuf_puts (out, "\"><h2>");
    workflow_label (out, set, workflow);
    if (strcmp (PQgetvalue (inst, i, 4), "1"))
        strbuf_printf (out, " 第 %s 次", PQgetvalue (inst, i, 4));
    strbuf_puts (out, "</h2><p>");
    html_escape (out, key_kind_label (PQgetvalue (inst, i, 2)));
    strbuf_puts (out, " <span class=\"caseno\">");
    html_escape (out, PQgetvalue (inst, i, 3));
    strbuf_puts (out, "</span> · ");
    html_escape (out, state_label (PQgetvalue (inst, i, 5)));
    strbuf_puts (out, " · 开始 ");
    html_escape (out, PQgetvalue (inst, i, 6));
    if (val (inst, i, 7)) {
        strbuf_puts (out, " · 结束 ");
        html_escape (out, PQgetvalue (inst, i, 7));
    }
    strbuf_puts (out,
                 "</p><h3>环节</h3><table class=\"steps\"><thead><tr><th>环节</th>"
                 "<th>部门</th><th>就绪</th><th>办理时限</th><th>完成</th><th>状态</th>"
                 "</tr></thead><tbody>");
    for (int r = 0; r < PQntuples (steps); r++) {
        if (strcmp (PQgetvalue (steps, r, 0), id))
            continue;
        const char *cls;
        const char *label =
            step_status_label (PQgetvalue (steps, r, 7), val (steps, r, 8), &cls);
        if (!strcmp (PQgetvalue (steps, r, 7), "no_deadline") && !val (steps, r, 4)
            && !val (steps, r, 6)) {
            label = "待前序环节"; /* not ready: its clock may not have started */
            cls = "dim";
        }
        strbuf_puts (out, "<tr><td class=\"title\">");
        step_label (out, set, workflow, PQgetvalue (steps, r, 1));
        strbuf_puts (out, "</td><td>");
        agency_label (out, PQgetvalue (steps, r, 2));
        for (int c = 4; c <= 6; c++) {
            strbuf_puts (out, "</td><td>");
            html_escape (out, val (steps, r, c) ? PQgetvalue (steps, r, c) : "—");
        }
        strbuf_printf (out, "</td><td><span class=\"%s\">%s</span>", cls, label);
        const char *status = PQgetvalue (steps, r, 7);
        if (val (steps, r, 9)
            && (!strcmp (status, "late") || !strcmp (status, "overdue_open"))) {
            strbuf_puts (out, " 逾期 ");
            duration (out, atoll (PQgetvalue (steps, r, 9)));
        }
        strbuf_puts (out, "</td></tr>");
    }
    strbuf_puts (out, "</tbody></table><h3>事件</h3><table class=\"events\"><thead><tr>"
                      "<th>发生时间</th><th>部门</th><th>部门案号</th><th>事件</th>"
                      "<th>属性（已脱敏）</th><th>事件 ID</th></tr></thead><tbody>");
    for (int r = 0; r < PQntuples (events); r++) {
        if (strcmp (PQgetvalue (events, r, 0), id))
            continue;
        bool hit = !strcmp (PQgetvalue (events, r, 3), q)
                   || !strcasecmp (PQgetvalue (events, r, 1), q);
        strbuf_printf (out, "<tr class=\"event%s\"><td>", hit ? " hit" : "");
        html_escape (out, PQgetvalue (events, r, 5));
        strbuf_puts (out, "</td><td>");
        agency_label (out, PQgetvalue (events, r, 2));
        strbuf_puts (out, "</td><td class=\"caseno\">");
        html_escape (out, PQgetvalue (events, r, 3));
        strbuf_puts (out, "</td><td class=\"code\">");
        html_escape (out, PQgetvalue (events, r, 4));
        strbuf_puts (out, "</td><td>");
        attrs_html (out, val (events, r, 6));
        strbuf_puts (out, "</td><td class=\"code\">");
        html_escape (out, PQgetvalue (events, r, 1));
        strbuf_puts (out, "</td></tr>");
    }
    strbuf_puts (out, "</tbody></table></section>");
}

static void
loose_html (strbuf_t *out, PGresult *loose)
{
    strbuf_puts (out, "<section class=\"loose\"><h2>未归入任何事项的事件</h2>"
                      "<table><thead><tr><th>发生时间</th><th>部门</th><th>部门案号</th>"
                      "<th>事件</th><th>关联号</th><th>属性（已脱敏）</th><th>事件 ID</th>"
                      "</tr></thead><tbody>");
    for (int r = 0; r < PQntuples (loose); r++) {
        strbuf_puts (out, "<tr class=\"event\"><td>");
        html_escape (out, PQgetvalue (loose, r, 4));
        strbuf_puts (out, "</td><td>");
        agency_label (out, PQgetvalue (loose, r, 1));
        strbuf_puts (out, "</td><td class=\"caseno\">");
        html_escape (out, PQgetvalue (loose, r, 2));
        strbuf_puts (out, "</td><td class=\"code\">");
        html_escape (out, PQgetvalue (loose, r, 3));
        strbuf_puts (out, "</td><td>");
        attrs_html (out, val (loose, r, 6));
        strbuf_puts (out, "</td><td>");
        attrs_html (out, val (loose, r, 5));
        strbuf_puts (out, "</td><td class=\"code\">");
        html_escape (out, PQgetvalue (loose, r, 0));
        strbuf_puts (out, "</td></tr>");
    }
    strbuf_puts (out, "</tbody></table></section>");
}

/* True when s is a UUID in text form. */
static bool
is_uuid (const char *s)
{
    if (strlen (s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr ("0123456789abcdefABCDEF", s[i]))
            return false;
    }
    return true;
}

bool
supervision_case (PGconn *conn, const workflow_set_t *set, const char *hub_id,
                  const char *q_in, strbuf_t *out, char *err, size_t errlen)
{
    /* the text searched, without the white space around it */
    char q[300];
    const char *start = q_in ? q_in : "";
    while (*start == ' ' || *start == '\t' || *start == '+')
        start++;
    snprintf (q, sizeof q, "%s", start);
    size_t len = strlen (q);
    while (len && (q[len - 1] == ' ' || q[len - 1] == '\t' || q[len - 1] == '+'))
        q[--len] = '\0';
    bool too_long = q_in && strlen (start) > 256;

    PGresult *now =
        run (conn, "SELECT to_char(now(), 'YYYY-MM-DD HH24:MI:SS')", 0, NULL, err, errlen);
    if (!now)
        return false;
    strbuf_reset (out);
    if (!*q || too_long) {
        page_begin (out, "查询", hub_id, PQgetvalue (now, 0, 0), too_long ? "" : q);
        strbuf_puts (out, too_long
                              ? "<p id=\"not-found\">查询内容过长（至多 256 字节）。</p>"
                              : "<p class=\"note\">输入不动产单元号、统一社会信用代码、"
                                "项目代码、申请编号、部门案号或事件 ID。</p>");
        page_end (out);
        PQclear (now);
        return true;
    }
    const char *params[2] = {q, is_uuid (q) ? q : NULL};
    PGresult *found = run (conn, FIND_SQL, 2, params, err, errlen);
    PGresult *loose = found ? run (conn, LOOSE_SQL, 2, params, err, errlen) : NULL;
    PGresult *inst = NULL, *steps = NULL, *events = NULL;
    bool ok = loose != NULL;
    if (ok && PQntuples (found)) {
        strbuf_t ids;
        strbuf_init (&ids);
        strbuf_putc (&ids, '{');
        for (int r = 0; r < PQntuples (found); r++)
            strbuf_printf (&ids, "%s%s", r ? "," : "", PQgetvalue (found, r, 0));
        strbuf_putc (&ids, '}');
        const char *id_param[1] = {ids.data};
        inst = run (conn, INSTANCES_SQL, 1, id_param, err, errlen);
        steps = inst ? run (conn, STEPS_SQL, 1, id_param, err, errlen) : NULL;
        events = steps ? run (conn, EVENTS_SQL, 1, id_param, err, errlen) : NULL;
        ok = events != NULL;
        strbuf_free (&ids);
    }
    if (ok) {
        page_begin (out, q, hub_id, PQgetvalue (now, 0, 0), q);
        int n = inst ? PQntuples (inst) : 0;
        if (!n && !PQntuples (loose)) {
            strbuf_puts (out, "<p id=\"not-found\">未找到与 <b>");
            html_escape (out, q);
            strbuf_puts (out, "</b> 相关的案件或事件。</p>");
        }
        else
            strbuf_printf (
                out, "<p id=\"found\">找到 %d 个事项%s，%d 个未归入事项的事件。</p>", n,
                n == SUPERVISION_CASES_MAX ? "（只列出最近的）" : "", PQntuples (loose));
        for (int i = 0; i < n; i++)
            instance_html (out, set, q, inst, i, steps, events);
        if (PQntuples (loose))
            loose_html (out, loose);
        page_end (out);
    }
    PQclear (now);
    PQclear (found);
    PQclear (loose);
    PQclear (inst);
    PQclear (steps);
    PQclear (events);
    return ok;
}
