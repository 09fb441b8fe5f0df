"""hubctl report: the monthly supervision report (issue 5) as one
self-contained HTML page.

- For the month of a simulated county day (the database of
  test_analytics, filled the same way): the page parses as well-formed
  HTML, has the per-agency bar chart in inline SVG with every agency that
  had steps due that month, and the on-time rates (and on time/total) it
  shows, in the chart, the table and the trend, are those computed directly
  from analytics.steps; the breaches, worst cases, durations and backlog
  add up; nothing refers to a resource elsewhere and there is no script.
- Text from the database is escaped: an agency, workflow, case key and step
  full of markup, in crafted rows, shows as text and never as markup.
- A month without data still gives a page (exit 0) that says so; a bad
  --month is a usage error (exit 2) naming --month; a database that fails
  is exit 1 and leaves no file behind.
- Rendered by Chromium (installed by deploy/install-deps.sh), with the CJK
  font fonts-noto-cjk so that Chinese is drawn, not boxes.
"""

import html.parser
import re
import shutil
import subprocess
from decimal import ROUND_HALF_UP, Decimal

import pytest

from conftest import SANITIZER_RE, build_path, query, scalar
from test_analytics import analyst, county  # noqa: F401  (fixtures: the populated database)

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
MISSED = ("late", "overdue_open")
DUE = ("on_time", "late", "overdue_open")


def hubctl(db, *args, timeout=60):
    r = subprocess.run([build_path("hubctl"), "--db", db, "report", *args],
                       capture_output=True, text=True, timeout=timeout)
    assert not SANITIZER_RE.search(r.stderr), r.stderr
    return r


def pct(on_time, total):
    """The percentage as the page shows it: one decimal, half up."""
    return str((Decimal(100 * on_time) / Decimal(total)).quantize(Decimal("0.1"),
                                                                  rounding=ROUND_HALF_UP))


class Page(html.parser.HTMLParser):
    """A strict reading of the page: every element closed in order (void
    elements and <x/> aside), with what the tests look at collected."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.tags, self.attrs = [], [], set(), []
        self.bars = []            # (attrs of <g class="bar">, its text)
        self.rows = {}            # table id -> [[cell text, ...], ...] (rows of tbody)
        self.trend = {}           # agency -> [cell text, ...]
        self.ids = set()
        self.title = ""
        self.doctype = None
        self._table = self._row = self._cell = self._bar = None
        self._in_tbody = False
        self.feed(text)
        self.close()
        if self.stack:
            self.errors.append(f"not closed: {self.stack}")

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        self._open(tag, attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self._open(tag, attrs)

    def _open(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        self.attrs.append((tag, a))
        if "id" in a:
            if a["id"] in self.ids:
                self.errors.append(f"id {a['id']} twice")
            self.ids.add(a["id"])
        if tag == "table":
            self._table = a.get("id")
            self.rows.setdefault(self._table, [])
        elif tag == "tbody":
            self._in_tbody = True
        elif tag == "tr" and self._in_tbody:
            self._row = []
            self.rows[self._table].append(self._row)
            if self._table == "trend-table" and "data-agency" in a:
                self.trend[a["data-agency"]] = self._row
        elif tag == "td" and self._row is not None:
            self._cell = []
        elif tag == "g" and a.get("class") == "bar":
            self._bar = (a, [])

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> at line {self.getpos()[0]}, open: {self.stack[-3:]}")
            return
        self.stack.pop()
        if tag == "td" and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr":
            self._row = None
        elif tag == "tbody":
            self._in_tbody = False
        elif tag == "table":
            self._table = None
        elif tag == "g" and self._bar:
            self.bars.append((self._bar[0], "".join(self._bar[1])))
            self._bar = None

    def handle_data(self, data):
        if self.stack and self.stack[-1] == "title" and "head" in self.stack:
            self.title += data
        if self._cell is not None:
            self._cell.append(data)
        if self._bar is not None and self.stack[-1] == "text":
            self._bar[1].append(data)


def read_page(path):
    raw = path.read_bytes()
    text = raw.decode("utf-8")          # UTF-8, or this raises
    page = Page(text)
    assert not page.errors, page.errors[:5]
    assert page.doctype and page.doctype.lower() == "doctype html"
    assert ("meta", {"charset": "utf-8"}) in page.attrs
    return text, page


def assert_self_contained(text, page):
    """No script, nothing loaded from elsewhere."""
    assert not {"script", "link", "img", "iframe", "object", "embed", "base", "frame",
                "audio", "video", "source", "image", "use"} & page.tags, page.tags
    for tag, attrs in page.attrs:
        for name, value in attrs.items():
            assert not name.startswith("on"), f"<{tag} {name}>: an event handler"
            if name in ("src", "href", "xlink:href", "action", "data", "srcset", "poster"):
                pytest.fail(f"<{tag} {name}={value!r}>: a reference to a resource")
    assert not re.search(r"""(?i)(src|href)\s*=\s*["']?\s*(https?:)?//""", text)
    assert not re.search(r"(?i)https?://", text), "a URL in the page"
    assert not re.search(r"(?i)@import|url\(|javascript:", text)


# ---------------------------------------------------------------- a populated month

def test_report_for_a_populated_month(county, tmp_path):  # noqa: F811
    month = county.day.replace(day=1)
    ym = month.strftime("%Y-%m")
    out = tmp_path / "out.html"
    r = hubctl(county.db, "--month", ym, "--output", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert str(out) in r.stderr and ym in r.stderr
    text, page = read_page(out)
    assert_self_contained(text, page)
    assert f"一网通办督办月报 {month.year:04d}年{month.month:02d}月" in page.title
    assert "svg" in page.tags and "on-time-chart" in page.ids
    assert "no-data" not in page.ids

    # the on-time rates, directly from analytics.steps
    direct = {a: (on, counted, due) for a, on, counted, due in query(county.db, """
        SELECT agency, count(*) FILTER (WHERE status = 'on_time'),
               count(*) FILTER (WHERE status IN ('on_time', 'late', 'overdue_open')),
               count(*)
        FROM analytics.steps
        WHERE due_month = %s AND status IN ('on_time', 'late', 'overdue_open', 'not_yet_due')
        GROUP BY agency""", (month,))}
    assert len(direct) >= 5, direct
    bars = {a["data-agency"]: (a, label) for a, label in page.bars}
    assert set(bars) == set(direct), "the chart's agencies are not those with steps due"
    assert len(page.bars) == len(direct)
    for agency, (on, counted, _) in direct.items():
        a, label = bars[agency]
        assert (int(a["data-on-time"]), int(a["data-total"])) == (on, counted), agency
        if counted:
            p = pct(on, counted)
            assert a["data-rate"] == p, (agency, a, p)
            assert f"{p}% ({on}/{counted})" in label, (agency, label)
        else:
            assert "data-rate" not in a
        assert agency in label
    # worst first
    rates = [Decimal(a["data-rate"]) for a, _ in page.bars if "data-rate" in a]
    assert rates == sorted(rates)
    assert any(r < 100 for r in rates), "every agency on time: the day is too easy"

    # the table beside the chart, and the report month of the trend
    table = page.rows["on-time-table"]
    assert len(table) == len(direct)
    for row in table:
        agency = re.search(r"\(([^()]*)\)$", row[0]).group(1)
        on, counted, _ = direct[agency]
        assert row[1] == (f"{pct(on, counted)}%" if counted else "—")
        assert (int(row[2]), int(row[5])) == (on, counted)
    assert set(page.trend) == set(direct)
    for agency, cells in page.trend.items():
        on, counted, _ = direct[agency]
        assert len(cells) == 1 + 6 + 1
        assert cells[6] == (f"{pct(on, counted)}%" if counted else "—"), (agency, cells)
    header = [c for c in re.findall(r"<th class=\"n\">(\d{4}-\d{2})</th>", text)]
    assert header[-1] == ym and len(header) == 6
    total = page.rows["trend-table"][-1]
    on_all = sum(v[0] for v in direct.values())
    counted_all = sum(v[1] for v in direct.values())
    assert total[0].startswith("全部") and total[6] == f"{pct(on_all, counted_all)}%"

    # breaches by agency: the overdue breaches of the month
    breaches = dict(query(county.db, """SELECT agency, count(*) FROM analytics.breaches
        WHERE kind = 'overdue' AND due_month = %s GROUP BY agency""", (month,)))
    rows = page.rows["breaches-table"]
    assert rows[-1][0].startswith("合计") and int(rows[-1][1]) == sum(breaches.values()) > 0
    assert len(rows) - 1 == scalar(county.db, """SELECT count(*)
        FROM analytics.breaches_by_agency_month WHERE month = %s""", (month,))

    # the worst cases: the longest overdue or latest steps of the month
    worst = query(county.db, """SELECT key_value, step FROM analytics.steps
        WHERE due_month = %s AND status IN ('late', 'overdue_open')
        ORDER BY coalesce(completed_at, now()) - due_at DESC, instance_id, step
        LIMIT 10""", (month,))
    rows = page.rows["worst-table"]
    assert [(r[2], r[4]) for r in rows] == [tuple(w) for w in worst]
    assert [r[0] for r in rows] == [str(i + 1) for i in range(len(rows))]
    assert all(re.fullmatch(r"(\d+天)?\d+(小时|分|秒)(\d+(小时|分))?", r[7]) for r in rows), rows

    # durations of the cases completed in the month, per workflow
    durations = {w: (n, p50, p90) for w, n, p50, p90 in query(county.db, """
        SELECT workflow, completed, round(p50_hours, 1)::text, round(p90_hours, 1)::text
        FROM analytics.durations_by_month WHERE month = %s""", (month,))}
    rows = page.rows["durations-table"]
    assert len(rows) == len(durations) > 0
    for row in rows:
        wf = re.search(r"([a-z_]+)$", row[0]).group(1)
        assert (int(row[1]), row[2], row[3]) == durations[wf], row

    # the backlog now: what is open, by workflow
    backlog = dict(query(county.db, "SELECT workflow, open_instances FROM analytics.open_backlog"))
    rows = page.rows["backlog-table"]
    assert rows[-1][0].startswith("合计") and int(rows[-1][1]) == sum(backlog.values()) > 0
    assert len(rows) - 1 == len(backlog)


def test_an_analyst_makes_the_same_report(county, analyst, tmp_path):  # noqa: F811
    """The report reads only the analytics views: an analyst's login (no
    right on any table) gets the same page."""
    ym = county.day.strftime("%Y-%m")
    pages = []
    for name, db in (("operator", county.db),
                     ("analyst", f"postgresql://{analyst.name}:{analyst.password}"
                                 f"@127.0.0.1:{county.pg.port}/{county.db.dbname}")):
        out = tmp_path / f"{name}.html"
        r = hubctl(db, "--month", ym, "--output", str(out))
        assert r.returncode == 0, (name, r.stderr)
        # the time of the report aside
        pages.append(re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} 北京时间", "", out.read_text(encoding="utf-8")))
    assert pages[0] == pages[1]


# ---------------------------------------------------------------- escaping and edges

AGENCY = """<script>alert("x&y")</script>'"""
WORKFLOW = """wf<i>&"x\""""
KEY = "K<u>&'1'"
STEP = """st"e<em>'3"""


def test_report_escapes_text_and_handles_edges(db, tmp_path):
    out = tmp_path / "r.html"
    # a database without the schema: exit 1, and no file
    r = hubctl(db, "--month", "2021-03", "--output", str(out))
    assert r.returncode == 1, r.stderr
    assert "hubctl migrate" in r.stderr and not out.exists()
    r = subprocess.run([build_path("hubctl"), "--db", db, "migrate"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr

    # crafted rows: one case of March 2021 whose texts are markup; its
    # agency met 1 deadline of 3, tax 1 of 1
    iid = scalar(db, """INSERT INTO workflow_instances
        (workflow, version, digest, key_kind, key_value, instance_no, state, started_at,
         start_event, events)
        VALUES (%s, 1, 'd', 'unit_number', %s, 1, 'open', '2021-03-01 09:00+08',
                gen_random_uuid(), 3) RETURNING id""", (WORKFLOW, KEY))
    query(db, """INSERT INTO workflow_steps (instance_id, step, agency, required, due_at,
                                             completed_at)
        VALUES (%(i)s, 'a', %(a)s, true, '2021-03-05 17:00+08', '2021-03-04 10:00+08'),
               (%(i)s, 'b', %(a)s, true, '2021-03-05 17:00+08', '2021-03-09 10:00+08'),
               (%(i)s, %(s)s, %(a)s, true, '2021-03-10 17:00+08', NULL),
               (%(i)s, 'c', 'tax', true, '2021-03-10 17:00+08', '2021-03-02 10:00+08')
        RETURNING 1""", {"i": iid, "a": AGENCY, "s": STEP})
    query(db, """INSERT INTO breaches (instance_id, step, agency, kind, due_at)
        VALUES (%s, %s, %s, 'overdue', '2021-03-10 17:00+08') RETURNING 1""",
          (iid, STEP, AGENCY))

    # and a tax refund of January 2021, completed: tax met 1 deadline of 2 then
    jid = scalar(db, """INSERT INTO workflow_instances
        (workflow, version, digest, key_kind, key_value, instance_no, state, started_at,
         ended_at, start_event, events)
        VALUES ('tax_refund', 1, 'd', 'refund_no', 'R1', 1, 'completed',
                '2021-01-11 09:00+08', '2021-01-13 10:00+08', gen_random_uuid(), 2)
        RETURNING id""")
    query(db, """INSERT INTO workflow_steps (instance_id, step, agency, required, due_at,
                                             completed_at)
        VALUES (%(i)s, 'approved', 'tax', true, '2021-01-14 17:00+08', '2021-01-13 10:00+08'),
               (%(i)s, 'x', 'tax', true, '2021-01-12 17:00+08', '2021-01-13 10:00+08')
        RETURNING 1""", {"i": jid})

    r = hubctl(db, "--month", "2021-03", "--output", str(out))
    assert r.returncode == 0, r.stderr
    text, page = read_page(out)
    assert_self_contained(text, page)
    # markup in the data is text: never an element
    assert not {"script", "i", "u", "em"} & page.tags
    assert "<script" not in text.lower() and "<i>" not in text and "<u>" not in text \
        and "<em>" not in text
    assert "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;&#39;" in text
    assert "wf&lt;i&gt;&amp;&quot;x&quot;" in text
    assert "K&lt;u&gt;&amp;&#39;1&#39;" in text
    assert "st&quot;e&lt;em&gt;&#39;3" in text
    bars = {a["data-agency"]: (a, label) for a, label in page.bars}
    assert set(bars) == {AGENCY, "tax"}
    assert bars[AGENCY][0]["data-rate"] == "33.3" and "33.3% (1/3)" in bars[AGENCY][1]
    assert bars["tax"][0]["data-rate"] == "100.0" and "100.0% (1/1)" in bars["tax"][1]
    worst = page.rows["worst-table"]
    assert [(w[2], w[3], w[4]) for w in worst] == [(KEY, AGENCY, STEP), (KEY, AGENCY, "b")]
    assert worst[0][0 + 6] == "未办结 (not done)" and worst[1][6] == "2021-03-09 10:00"
    assert worst[1][7] == "3天17小时"
    assert page.rows["breaches-table"][0][0] == AGENCY
    # the trend: October 2020 to March 2021
    assert page.trend[AGENCY][6] == "33.3%" and page.trend[AGENCY][1:6] == ["—"] * 5
    assert page.trend["tax"][1:7] == ["—", "—", "—", "50.0%", "—", "100.0%"]
    assert page.rows["trend-table"][-1][1:7] == ["—", "—", "—", "50.0%", "—", "50.0%"]
    assert "2020-10 to 2021-03" in text
    # nothing completed in March: the durations say so
    assert "durations-table" not in page.ids and "本月没有办结的案件" in text
    assert page.rows["backlog-table"][0][0].endswith(WORKFLOW)

    # a month without data: a page that says so, on standard output
    r = hubctl(db, "--month", "2019-01")
    assert r.returncode == 0, r.stderr
    assert "standard output" in r.stderr
    nodata = tmp_path / "nodata.html"
    nodata.write_text(r.stdout, encoding="utf-8")
    text, page = read_page(nodata)
    assert_self_contained(text, page)
    assert "no-data" in page.ids and "本月无数据" in text and "No data" in text
    assert not page.bars and "2019年01月" in page.title

    # usage errors name --month; nothing is written
    bad = tmp_path / "bad.html"
    for month in ("2021-13", "2021-00", "2021-3", "21-03", "2021-03-01", "2021/03", "march",
                  "", "1969-12"):
        r = hubctl(db, "--month", month, "--output", str(bad))
        assert r.returncode == 2, (month, r.stderr)
        assert "--month" in r.stderr and repr(month) in r.stderr.replace('"', "'"), r.stderr
        assert "hubctl report --help" in r.stderr
    r = hubctl(db, "--output", str(bad))
    assert r.returncode == 2 and "--month" in r.stderr
    r = hubctl(db, "--month", "2021-03", "extra")
    assert r.returncode == 2 and "extra" in r.stderr
    assert not bad.exists()
    r = hubctl(db, "--help")
    assert r.returncode == 0 and "--month YYYY-MM" in r.stdout and "--output" in r.stdout

    # a database that cannot be reached: exit 1, nothing written
    r = subprocess.run([build_path("hubctl"), "--db", "postgresql://nobody@127.0.0.1:1/none",
                        "report", "--month", "2021-03", "--output", str(bad)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and "could not connect" in r.stderr and not bad.exists()
    # a file that cannot be written: exit 1
    r = hubctl(db, "--month", "2021-03", "--output", str(tmp_path / "no" / "such" / "x.html"))
    assert r.returncode == 1 and "could not write" in r.stderr


def test_report_renders_in_chromium(db, tmp_path):
    """A browser draws the page."""
    browser = next((b for b in ("chromium", "chromium-browser", "google-chrome")
                    if shutil.which(b)), None)
    assert browser, "Chromium is not installed: deploy/install-deps.sh installs it"
    subprocess.run([build_path("hubctl"), "--db", db, "migrate"], check=True,
                   capture_output=True, timeout=60)
    out = tmp_path / "r.html"
    assert hubctl(db, "--month", "2021-03", "--output", str(out)).returncode == 0
    png = tmp_path / "r.png"
    # a profile of its own, and no background connections: this machine's
    # network is closed, and Chromium would otherwise keep trying
    r = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--disable-quic",
                        f"--user-data-dir={tmp_path / 'chromium-profile'}",
                        f"--screenshot={png}", "--window-size=1000,1400", out.as_uri()],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    assert png.exists() and png.stat().st_size > 5000
