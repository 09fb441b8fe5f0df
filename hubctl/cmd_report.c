/*  hubctl report: the monthly supervision report (督办月报) for the
    supervision office, as one self-contained HTML page (UTF-8, inline CSS
    and SVG, no script, nothing fetched from elsewhere) that a supervisor
    opens in a browser or prints.

    Everything on the page comes from the views of the analytics schema
    (hub/sql/004_analytics.sql, docs/analytics.md), read in one read-only
    snapshot with the month as a query parameter, so an analyst's role
    (onenet_analyst) can produce the report as well as an operator's. Every
    text from the database is HTML-escaped.

    Percentages are computed from the counts (on time / (on time + late +
    overdue open)), rounded once to one decimal. */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agency_names.h"
#include "hubctl.h"

/* to_char format of times: Beijing time (the session's time zone, see
   hubctl_connect) to the minute. */

/* A number of seconds, column secs, for Chinese readers: "2天3小时",
   "5小时12分", "4分", "12秒"; NULL when negative or NULL. Used as
   (SELECT HUMAN_ZH FROM (SELECT <seconds> AS secs) x). */
#define HUMAN_ZH                                                                           \
    "CASE WHEN secs IS NULL OR secs < 0 THEN NULL "                                        \
    "WHEN secs >= 86400 THEN "                                                             \
    "  (secs / 86400) || '天' || (mod(secs, 86400) / 3600) || '小时' "                  \
    "WHEN secs >= 3600 THEN "                                                              \
    "  (secs / 3600) || '小时' || (mod(secs, 3600) / 60) || '分' "                      \
    "WHEN secs >= 60 THEN (secs / 60) || '分' "                                           \
    "ELSE secs || '秒' END"

/* One decimal percentage (text) of on time out of on time + missed; NULL
   when nothing counted. */
#define PCT(on, missed)                                                                    \
    "round((" on ") * 100.0 / nullif((" on ") + (" missed "), 0), 1)::text"

#define TREND_BEFORE 5 /* months before the report's month in the trend */
#define TREND_MONTHS (TREND_BEFORE + 1)
#define WORST_CASES  10
#define STR_(x)      #x
#define STR(x)       STR_ (x)

/* The workflows by their codes, for people (the agencies: agency_names.h).
   Codes not listed show as they are. */
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

static const char *
lookup (const label_t *labels, size_t n, const char *code)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp (labels[i].code, code) == 0)
            return labels[i].name;
    return NULL;
}

#define AGENCY_NAME(code) agency_name_zh (code)
#define WORKFLOW_NAME(code)                                                                \
    lookup (workflow_names, sizeof workflow_names / sizeof *workflow_names, code)

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

/* "税务局 (tax)", or the code alone when it has no name; escaped. */
static void
agency_label (FILE *out, const char *code)
{
    const char *name = AGENCY_NAME (code);
    if (name)
        fprintf (out, "%s <span class=\"code\">(", name);
    esc (out, code);
    if (name)
        fputs (")</span>", out);
}

static void
workflow_label (FILE *out, const char *code)
{
    const char *name = WORKFLOW_NAME (code);
    if (name)
        fprintf (out, "%s<br>", name);
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
    PGresult *meta, *summary, *agencies, *breaches, *worst, *trend, *durations, *backlog;
} report_t;

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
    fputs ("<div class=\"card\"><div class=\"v\">", out);
    if (pct) {
        esc (out, pct);
        fputs ("%", out);
    }
    else
        fputs ("—", out);
    fputs ("</div><div class=\"k\">按时办结率 (on-time rate)</div></div>", out);
    fprintf (out,
             "<div class=\"card\"><div class=\"v\">%ld</div><div class=\"k\">已到期环节 "
             "(steps due)</div></div>",
             num (s, 0, "on_time") + num (s, 0, "missed"));
    fprintf (out,
             "<div class=\"card\"><div class=\"v\">%ld</div><div class=\"k\">按时 (on "
             "time)</div></div>",
             num (s, 0, "on_time"));
    fprintf (
        out,
        "<div class=\"card\"><div class=\"v\">%ld</div><div class=\"k\">超期 (missed): "
        "超期办结 %ld，超期未办 %ld</div></div>",
        num (s, 0, "missed"), num (s, 0, "late"), num (s, 0, "overdue_open"));
    fprintf (out,
             "<div class=\"card\"><div class=\"v\">%ld</div><div class=\"k\">督办 (overdue "
             "breaches)，预警 %ld</div></div>",
             num (s, 0, "breaches"), num (s, 0, "warnings"));
    fprintf (out,
             "<div class=\"card\"><div class=\"v\">%ld</div><div class=\"k\">本月办结案件 "
             "(completed)</div></div>",
             num (s, 0, "completed"));
    fprintf (
        out,
        "<div class=\"card\"><div class=\"v\">%ld</div><div class=\"k\">当前在办 (open "
        "now)</div></div>",
        num (s, 0, "open_now"));
    fputs ("</div>\n", out);
    if (num (s, 0, "not_yet_due") > 0)
        fprintf (out,
                 "<p class=\"note\">另有 %ld 个本月环节尚未到期，本月数据截至报告生成时。"
                 "<span class=\"en\">(%ld steps of the month are not yet due: the figures "
                 "are as of the time of the report.)</span></p>\n",
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
           "按期限所在月份统计，最差的在前。(On time ÷ steps due and passed, by the month "
           "of the deadline, worst first.)</p>\n",
           out);
    const int label_w = 210, bar_x = 220, bar_w = 440, row_h = 30, top = 8, bar_h = 18;
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
        const char *name = AGENCY_NAME (agency);
        long on_time = num (a, r, "on_time"), counted = num (a, r, "counted");
        int y = top + r * row_h + (row_h - bar_h) / 2;
        double rate = pct ? atof (pct) : 0.0;
        fputs ("<g class=\"bar\" data-agency=\"", out);
        esc (out, agency);
        fputs ("\"", out);
        if (pct) {
            fputs (" data-rate=\"", out);
            esc (out, pct);
            fputs ("\"", out);
        }
        fprintf (out, " data-on-time=\"%ld\" data-total=\"%ld\">", on_time, counted);
        fputs ("<title>", out);
        if (name)
            fprintf (out, "%s ", name);
        fputs ("(", out);
        esc (out, agency);
        fprintf (out,
                 "): 按时 %ld，超期办结 %ld，超期未办 %ld，未到期 %ld (on time, late, "
                 "overdue open, not yet due)</title>",
                 on_time, num (a, r, "late"), num (a, r, "overdue_open"),
                 num (a, r, "not_yet_due"));
        fprintf (out, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", label_w, y + 14);
        if (name)
            fprintf (out, "%s (", name);
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
        fputs ("<tr><td>", out);
        agency_label (out, val (a, r, "agency"));
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
        fputs ("<tr><td>", out);
        agency_label (out, val (b, r, "agency"));
        fputs ("</td>", out);
        for (int c = 0; c < 4; c++) {
            totals[c] += num (b, r, cols[c]);
            td_long (out, num (b, r, cols[c]));
        }
        td (out, val (b, r, "worst"), true);
        fputs ("</tr>\n", out);
    }
    fputs ("<tr class=\"total\"><td>合计 (total)</td>", out);
    for (int c = 0; c < 4; c++)
        td_long (out, totals[c]);
    fputs ("<td></td></tr>\n</tbody></table>\n", out);
    fputs ("<p class=\"note\">最长超期：办结时间（未办结的至报告生成时）减去期限。"
           "(Worst delay: completion, or now for steps not done, minus the deadline.)</p>"
           "</section>\n",
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
             "<p class=\"note\">本月超期环节共 %ld 个，按超期时长列出最严重的 %d 个。"
             "(%ld missed deadlines this month; the %d longest overdue or latest.)</p>\n",
             missed, n, missed, n);
    fputs ("<table id=\"worst-table\"><thead><tr><th class=\"n\">#</th><th>事项 "
           "(workflow)</th><th>案件编号 (key)</th><th>部门 (agency)</th><th>环节 "
           "(step)</th><th>期限 (due)</th><th>办结 (done)</th><th class=\"n\">超期 (late "
           "by)</th></tr></thead><tbody>\n",
           out);
    for (int r = 0; r < n; r++) {
        fprintf (out, "<tr><td class=\"n\">%d</td><td>", r + 1);
        workflow_label (out, val (w, r, "workflow"));
        fputs ("</td>", out);
        td (out, val (w, r, "key_value"), false);
        fputs ("<td>", out);
        agency_label (out, val (w, r, "agency"));
        fputs ("</td>", out);
        td (out, val (w, r, "step"), false);
        td (out, val (w, r, "due"), false);
        if (val (w, r, "done"))
            td (out, val (w, r, "done"), false);
        else
            fputs ("<td class=\"late\">未办结 (not done)</td>", out);
        fputs ("<td class=\"n late\">", out);
        esc (out, val (w, r, "late_by"));
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
    /* rows come per agency (the total last), months ascending */
    for (int r = 0; r < n;) {
        bool total = strcmp (val (t, r, "is_total"), "1") == 0;
        const char *agency = val (t, r, "agency");
        const char *pct[TREND_MONTHS] = {NULL};
        long on[TREND_MONTHS] = {0}, counted[TREND_MONTHS] = {0};
        int first = r;
        for (; r < n && strcmp (val (t, r, "is_total"), val (t, first, "is_total")) == 0
               && (total || strcmp (val (t, r, "agency"), agency) == 0);
             r++)
            for (int i = 0; i < TREND_MONTHS; i++)
                if (strcmp (val (t, r, "month"), rep->months[i]) == 0) {
                    pct[i] = val (t, r, "pct");
                    on[i] = num (t, r, "on_time");
                    counted[i] = num (t, r, "counted");
                }
        if (total)
            fputs ("<tr class=\"total\"><td>全部部门 (all agencies)</td>", out);
        else {
            fputs ("<tr data-agency=\"", out);
            esc (out, agency);
            fputs ("\"><td>", out);
            agency_label (out, agency);
            fputs ("</td>", out);
        }
        for (int i = 0; i < TREND_MONTHS; i++)
            td_pct (out, pct[i], on[i], counted[i]);
        fputs ("<td>", out);
        sparkline (out, pct);
        fputs ("</td></tr>\n", out);
    }
    fputs ("</tbody></table>\n<p class=\"note\">单元格为按时办结率，悬停可见 按时/已到期；"
           "“—”表示该月没有已到期的环节。(Each cell: the on-time rate; hover for on "
           "time/due. “—”: nothing due and passed that month.)</p></section>\n",
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
        workflow_label (out, val (d, r, "workflow"));
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
    fputs ("<section id=\"backlog\"><h2>七、在办积压 <span class=\"en\">(Open backlog by "
           "age, at the time of the report)</span></h2>\n",
           out);
    fputs ("<p class=\"note\">截至 ", out);
    esc (out, val (rep->meta, 0, "generated"));
    fputs (
        " 北京时间 (Beijing time)，按受理至今的自然日计。(Age in calendar days since the "
        "start.)</p>\n",
        out);
    if (n == 0) {
        fputs ("<p class=\"empty\">当前没有在办案件。(Nothing open.)</p></section>\n", out);
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
        workflow_label (out, val (b, r, "workflow"));
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

static void
write_report (FILE *out, const report_t *rep)
{
    bool no_data = PQntuples (rep->agencies) == 0 && PQntuples (rep->breaches) == 0
                   && PQntuples (rep->durations) == 0;
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
        "%d · 生成于 (generated) ",
        month_names[rep->month - 1], rep->year);
    esc (out, val (rep->meta, 0, "generated"));
    fputs (" 北京时间 (Beijing time)</p>\n</header>\n", out);
    section_summary (out, rep, no_data);
    section_on_time (out, rep);
    section_breaches (out, rep);
    section_worst (out, rep);
    section_trend (out, rep);
    section_durations (out, rep);
    section_backlog (out, rep);
    fputs ("<footer>\n<p><b>口径说明 (Definitions)</b></p>\n<ul>\n<li>"
           "环节按期限所在月份（北京时间）统计：10月31日到期、"
           "11月2日办结的环节计入10月的超期。"
           "(Steps count in the Beijing month of their deadline.)</li>\n<li>"
           "按时 (on time)：在期限前办结；超期办结 (late)：期限后办结；"
           "超期未办 (overdue open)：期限已过仍未办结；"
           "未到期的环节和没有期限的环节不计入按时办结率。</li>\n<li>"
           "督办 (breach)：督办系统记录的超期；"
           "预警 (warning)：已过预警点尚未办结。</li>\n<li>"
           "数据来源 (source)：onenet 数据库 analytics 视图 "
           "(views of the analytics schema, docs/analytics.md)。</li>\n"
           "</ul>\n</footer>\n</body>\n</html>\n",
           out);
}

/* ------------------------------------------------------------- the command */

static void
usage (void)
{
    printf (
        "Usage: hubctl report --month YYYY-MM [--output FILE]\n\n"
        "The monthly supervision report (督办月报) as one self-contained HTML\n"
        "page (UTF-8, inline CSS and SVG, no script, nothing loaded from elsewhere) for\n"
        "the supervision office: per-agency on-time rates of the steps due that month as\n"
        "a bar chart, breaches by agency, the %d worst cases, the on-time rate of the\n"
        "month and the %d before it, end-to-end durations (p50/p90) of the cases\n"
        "completed that month, and the open backlog by age at the time of the report.\n"
        "  --month YYYY-MM  the month to report on (months of Beijing time)\n"
        "  --output FILE    write the page to FILE (default: standard output)\n"
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
    const char *params[1] = {first_day};
    PGresult *begin =
        hubctl_query (conn, "start a read-only snapshot",
                      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL);
    if (!begin)
        return false;
    PQclear (begin);
    rep->meta = hubctl_query (conn, "read the time",
                              "SELECT to_char(now(), " HUBCTL_MINUTE ") AS generated, "
                              "to_char($1::date, 'YYYY-MM') AS month",
                              1, params);
    if (!rep->meta)
        return false;
    rep->summary = hubctl_query (
        conn, "summarise the month",
        "SELECT coalesce(sum(on_time), 0) AS on_time, coalesce(sum(missed), 0) AS missed, "
        "  coalesce(sum(late), 0) AS late, coalesce(sum(overdue_open), 0) AS overdue_open, "
        "  coalesce(sum(not_yet_due), 0) AS not_yet_due, "
        "  " PCT (
            "sum(on_time)",
            "sum(missed)") " AS pct, "
                           "  (SELECT coalesce(sum(overdue), 0) FROM "
                           "analytics.breaches_by_agency_month "
                           "   WHERE month = $1::date) AS breaches, "
                           "  (SELECT coalesce(sum(warnings), 0) FROM "
                           "analytics.breaches_by_agency_month "
                           "   WHERE month = $1::date) AS warnings, "
                           "  (SELECT coalesce(sum(completed), 0) FROM "
                           "analytics.durations_by_month "
                           "   WHERE month = $1::date) AS completed, "
                           "  (SELECT count(*) FROM analytics.open_instances) AS open_now "
                           "FROM analytics.on_time_by_agency_month WHERE month = $1::date",
        1, params);
    if (!rep->summary)
        return false;
    rep->agencies = hubctl_query (
        conn, "read the on-time rates by agency",
        "SELECT agency, on_time, late, overdue_open, missed, not_yet_due, "
        "  on_time + missed AS counted, " PCT (
            "on_time",
            "missed") " AS pct "
                      "FROM analytics.on_time_by_agency_month WHERE month = $1::date "
                      "ORDER BY on_time::numeric / nullif(on_time + missed, 0) NULLS LAST, "
                      "missed DESC, "
                      "  agency",
        1, params);
    if (!rep->agencies)
        return false;
    rep->breaches = hubctl_query (
        conn, "read the breaches by agency",
        "SELECT agency, overdue, overdue_done_late, overdue_not_done, warnings, "
        "  (SELECT " HUMAN_ZH " FROM "
        "    (SELECT floor(extract(epoch FROM worst_delay))::bigint AS secs) x) AS worst "
        "FROM analytics.breaches_by_agency_month WHERE month = $1::date "
        "ORDER BY overdue DESC, worst_delay DESC NULLS LAST, warnings DESC, agency",
        1, params);
    if (!rep->breaches)
        return false;
    rep->worst = hubctl_query (
        conn, "read the worst cases",
        "SELECT workflow, key_value, agency, step, status, to_char(due_at, " HUBCTL_MINUTE
        ") AS due, to_char(completed_at, " HUBCTL_MINUTE ") AS done, "
        "  (SELECT " HUMAN_ZH " FROM (SELECT floor(extract(epoch FROM "
        "    coalesce(completed_at, now()) - due_at))::bigint AS secs) x) AS late_by "
        "FROM analytics.steps "
        "WHERE due_month = $1::date AND status IN ('late', 'overdue_open') "
        "ORDER BY coalesce(completed_at, now()) - due_at DESC, instance_id, step "
        "LIMIT " STR (WORST_CASES),
        1, params);
    if (!rep->worst)
        return false;
    rep->trend = hubctl_query (
        conn, "read the on-time trend",
        "SELECT to_char(month, 'YYYY-MM') AS month, agency, grouping(agency) AS is_total, "
        "  sum(on_time) AS on_time, sum(on_time) + sum(missed) AS counted, "
        "  " PCT (
            "sum(on_time)",
            "sum(missed)") " AS pct "
                           "FROM analytics.on_time_by_agency_month "
                           "WHERE month BETWEEN ($1::date - interval '" STR (
                               TREND_BEFORE) " months')::date "
                                             "  AND $1::date "
                                             "GROUP BY GROUPING SETS ((month, agency), "
                                             "(month)) "
                                             "ORDER BY grouping(agency), agency, month",
        1, params);
    if (!rep->trend)
        return false;
    rep->durations =
        hubctl_query (conn, "read the durations",
                      "SELECT workflow, completed, round(p50_hours, 1)::text AS p50_hours, "
                      "  round(p90_hours, 1)::text AS p90_hours, "
                      "  round(p50_working_days, 1)::text AS p50_working_days, "
                      "  round(p90_working_days, 1)::text AS p90_working_days, "
                      "  round(max_hours, 1)::text AS max_hours "
                      "FROM analytics.durations_by_month WHERE month = $1::date "
                      "ORDER BY completed DESC, workflow",
                      1, params);
    if (!rep->durations)
        return false;
    rep->backlog = hubctl_query (
        conn, "read the open backlog",
        "SELECT workflow, open_instances, suspended, age_under_1d, age_1_to_3d, "
        "age_3_to_7d, "
        "  age_over_7d, with_overdue_steps, to_char(oldest_started_at, " HUBCTL_MINUTE
        ") AS oldest "
        "FROM analytics.open_backlog ORDER BY open_instances DESC, workflow",
        0, NULL);
    return rep->backlog != NULL;
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
            write_report (out, &rep);
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
    PGresult *all[] = {rep.meta,  rep.summary, rep.agencies,  rep.breaches,
                       rep.worst, rep.trend,   rep.durations, rep.backlog};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        PQclear (all[i]);
    PQfinish (conn);
    return rc;
}
