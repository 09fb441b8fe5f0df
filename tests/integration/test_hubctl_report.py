"""hubctl report: the monthly supervision report as one self-contained HTML
page, or its figures as JSON, as a snapshot at the end of the month.

- A small September 2020 built here through a real hub (property transfers
  and enterprise start-ups, every deadline counted by hand on the calendar
  in the comments): the page shows the hand-counted figures, step titles in
  Chinese from the definitions, deadlines at 00:00 as 24:00 of the day
  before, the agencies' own case numbers and the banks by name. Then
  October arrives (events that complete September's open steps, reopen a
  suspended case, name the bank of an open step, and cases that start in
  October): September made again is the same page byte for byte but for
  its "generated" line, and the same JSON but for generated_at. The JSON
  holds the page's figures (times ISO 8601 with offset, durations in
  seconds).
- For the month of a simulated county day (the database of
  test_analytics, filled the same way): the page parses as well-formed
  HTML, has the per-agency (per-bank) bar chart in inline SVG, and the
  on-time rates, breaches, worst cases, durations and backlog equal those
  computed directly from the hub's tables as of the month end; nothing
  refers to a resource elsewhere and there is no script; an analyst's login
  gets the same page.
- Text from the database is escaped: an agency, workflow, case key and step
  full of markup, in crafted rows, shows as text and never as markup.
- A month without data still gives a page (exit 0) that says so; a bad
  --month is a usage error (exit 2) naming --month; a database that fails
  is exit 1 and leaves no file behind.
- Rendered by Chromium (installed by deploy/install-deps.sh), with the CJK
  font fonts-noto-cjk so that Chinese is drawn, not boxes.
"""

import datetime
import html.parser
import json
import math
import re
import shutil
import subprocess
from decimal import ROUND_HALF_UP, Decimal

import pytest

from conftest import (ROOT, SANITIZER_RE, HubClient, ProcGroup, build_path, credit_code,
                      make_event, query, scalar, unit_number, wait_supervised, wait_until)
from test_analytics import analyst, county  # noqa: F401  (fixtures: the populated database)
from test_analytics import percentile_cont
from test_workflows import bj_ms, send, start_wf_hub, wait_drained

BJ = datetime.timezone(datetime.timedelta(hours=8))
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
        self.row_attrs = {}       # table id -> [attrs of each <tr> of tbody, ...]
        self.texts = {}           # element id -> its text (every element with an id)
        self.trend = {}           # agency -> [cell text, ...]
        self.ids = set()
        self.title = ""
        self.doctype = None
        self._table = self._row = self._cell = self._bar = None
        self._in_tbody = False
        self._ids = []            # [(tag, id, depth, [text])] of open elements with an id
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
            if dict(attrs).get("id"):
                self._ids.append((tag, dict(attrs)["id"], len(self.stack), []))

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
            self.row_attrs.setdefault(self._table, [])
        elif tag == "tbody":
            self._in_tbody = True
        elif tag == "tr" and self._in_tbody:
            self._row = []
            self.rows[self._table].append(self._row)
            self.row_attrs[self._table].append(a)
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
        if self._ids and self._ids[-1][2] == len(self.stack):
            _, ident, _, parts = self._ids.pop()
            self.texts[ident] = "".join(parts).strip()
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
        for _, _, _, parts in self._ids:
            parts.append(data)
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


GENERATED = re.compile(r'<p class="sub" id="generated">[^\n]*</p>\n')


def without_generated(text):
    """The page less its one line that differs from one making to the next."""
    assert len(GENERATED.findall(text)) == 1, "no single 'generated' line"
    return GENERATED.sub("", text)


def report(db, month, tmp_path, name, *extra):
    """(page text, Page, JSON figures) of MONTH, made as DB's role."""
    html_path, json_path = tmp_path / f"{name}.html", tmp_path / f"{name}.json"
    r = hubctl(db, "--month", month, "--output", str(html_path), *extra)
    assert r.returncode == 0, r.stderr
    r = hubctl(db, "--month", month, "--output", str(json_path), "--json", *extra)
    assert r.returncode == 0, r.stderr
    text, page = read_page(html_path)
    assert_self_contained(text, page)
    return text, page, json.loads(json_path.read_text(encoding="utf-8"))


def human(secs):
    """Seconds as the page shows them: 2天10小时, 5小时12分, 4分, 12秒."""
    if secs >= 86400:
        return f"{secs // 86400}天{secs % 86400 // 3600}小时"
    if secs >= 3600:
        return f"{secs // 3600}小时{secs % 3600 // 60}分"
    if secs >= 60:
        return f"{secs // 60}分"
    return f"{secs}秒"


def shown_due(iso):
    """An ISO 8601 time as the page shows a deadline: 00:00 as 24:00 of the
    day before."""
    t = datetime.datetime.fromisoformat(iso).astimezone(BJ)
    if (t.hour, t.minute, t.second) == (0, 0, 0):
        return (t - datetime.timedelta(days=1)).strftime("%Y-%m-%d") + " 24:00"
    return t.strftime("%Y-%m-%d %H:%M")


def half_up(value, places="0.1"):
    return str(Decimal(repr(value)).quantize(Decimal(places), rounding=ROUND_HALF_UP))


def agency_key(attrs):
    return attrs["data-agency"], attrs.get("data-bank")


# ---------------------------------------------------------------- a month built by hand

ABC, ICBC, CCB = "中国农业银行彭阳县支行", "中国工商银行彭阳支行", "中国建设银行彭阳支行"
A, B, C, S, D = (unit_number(71001 + i) for i in range(5))
E1, E2, E3, E4 = (credit_code(72001 + i) for i in range(4))


def event(pb, agency, etype, key, t, attrs=None, case_no=None):
    """A CaseEvent of AGENCY at Beijing time T (y, m, d, h, mi) keyed by a
    unit number or a credit code, with exactly the attributes ATTRS."""
    kind = pb.UNIT_NUMBER if len(key) == 28 else pb.CREDIT_CODE
    e = make_event(pb, 0, agency=agency, adapter_id=f"{agency}-it", keys=[(kind, key)],
                   event_type=etype, occurred_at_ms=bj_ms(*t),
                   case_no=case_no or f"PY-{agency.upper()}-{key}")
    del e.attributes[:]
    for name, value in (attrs or {}).items():
        if isinstance(value, bool):
            e.attributes.add(name=name, flag=value)
        else:
            e.attributes.add(name=name, text=str(value))
    return e


def transfer(pb, unit, accepted, registered=None, power=None, water=None):
    """A property transfer without mortgage, gas or heating: accepted (deed
    tax assessed and paid the same day), registered, power and water moved."""
    y, m, d, h, mi = accepted
    out = [event(pb, "land", "transfer.accepted", unit, accepted, {"has_mortgage": False}),
           event(pb, "tax", "deed_tax.assessed", unit, (y, m, d, h + 1, mi)),
           event(pb, "tax", "deed_tax.paid", unit, (y, m, d, h + 2, mi))]
    for t, agency, etype in ((registered, "land", "transfer.registered"),
                             (power, "power", "account.transferred"),
                             (water, "water", "account.transferred")):
        if t:
            out.append(event(pb, agency, etype, unit, t))
    return out


def start_up(pb, code, licence, seal, invoice, social, bank=None):
    """An enterprise start-up: the application accepted at the one window
    (the start) and the licence at the same minute, the seal, the first
    invoice, social insurance and employment registration (at the same
    time) and, with BANK = (time, bank name, case no), the basic account."""
    out = [event(pb, "market", "startup.accepted", code, licence),
           event(pb, "market", "licence.issued", code, licence),
           event(pb, "police", "seal.made", code, seal),
           event(pb, "tax", "invoice.issued", code, invoice),
           event(pb, "social", "registered", code, social),
           event(pb, "social", "employment.registered", code, social)]
    if bank:
        out.append(account(pb, code, *bank))
    return out


def account(pb, code, t, bank, case_no):
    """The basic account opened at BANK: a name (attribute bank_name), or a
    (bankCode, branch) pair as the banks' own record format gives it."""
    attrs = ({"bank_code": bank[0], "branch": bank[1]} if isinstance(bank, tuple)
             else {"bank_name": bank})
    return event(pb, "bank", "account.opened", code, t, {**attrs, "account_kind": "basic"},
                 case_no)


def september_events(pb):
    """September 2020 (Sunday 27 a make-up working day; 1 to 8 October
    off). A transfer is registered within 4 working days of acceptance,
    its utilities move within 1 working day of the registration; a
    start-up's steps are due 1 working day after the application (accepted
    the minute its licence is issued), the seal 180 office minutes after the
    licence."""
    return [
        # A: accepted Mon 7; registered Thu 10 (due 24:00 Fri 11: 8, 9, 10,
        # 11) on time; power Fri 11 15:00 (due 24:00 Fri 11) on time; water
        # Mon 14 11:00, 2 days 11 hours late. Completed Mon 14 11:00: 170 h,
        # 5 working days (8, 9, 10, 11, 14).
        *transfer(pb, A, (2020, 9, 7, 9, 0), registered=(2020, 9, 10, 10, 0),
                  power=(2020, 9, 11, 15, 0), water=(2020, 9, 14, 11, 0)),
        # B: accepted Mon 14, registered Mon 21 10:00 (due 24:00 Fri 18: 15,
        # 16, 17, 18) 2 days 10 hours late; power Tue 22 16:00 (due 24:00 Tue
        # 22) on time; water not done in September (done in October): 8
        # days overdue at the month end (due 24:00 Tue 22).
        *transfer(pb, B, (2020, 9, 14, 9, 0), registered=(2020, 9, 21, 10, 0),
                  power=(2020, 9, 22, 16, 0)),
        # C: accepted Fri 25: registration due 24:00 Wed 30 (Sun 27, Mon 28,
        # Tue 29, Wed 30), the month's very end; not done by then.
        *transfer(pb, C, (2020, 9, 25, 9, 0)),
        # S: accepted Mon 28, refused Tue 29 (suspended for a correction,
        # no clock runs); accepted again in October.
        event(pb, "land", "transfer.accepted", S, (2020, 9, 28, 9, 0),
              {"has_mortgage": False}),
        event(pb, "land", "transfer.rejected", S, (2020, 9, 29, 10, 0)),
        # E1: licence Tue 8 09:00, seal 10:00 (due 12:00), the rest Wed 9 (due
        # 24:00 Wed 9): all on time; the account at 中国农业银行彭阳县支行.
        # Completed Wed 9 11:00: 26 h, 1 working day.
        *start_up(pb, E1, (2020, 9, 8, 9, 0), (2020, 9, 8, 10, 0), (2020, 9, 9, 10, 0),
                  (2020, 9, 9, 10, 0), ((2020, 9, 9, 11, 0), ABC, "ABC-PY-20200909-000001")),
        # E2: licence Tue 15; the account at 中国工商银行彭阳支行 (named by the
        # bank's code and branch, as the bank adapter maps its records) Thu
        # 17 10:00, 10 hours late (due 24:00 Wed 16); the rest on time.
        # Completed Thu 17 10:00: 49 h, 2 working days.
        *start_up(pb, E2, (2020, 9, 15, 9, 0), (2020, 9, 15, 10, 0), (2020, 9, 16, 10, 0),
                  (2020, 9, 16, 10, 0),
                  ((2020, 9, 17, 10, 0), ("ICBC", "彭阳支行"), "ICBC-PY-20200917-000002")),
        # E3: licence Tue 22; no account in September (due 24:00 Wed 23): 7
        # days overdue at the month end, and no event names its bank by then.
        *start_up(pb, E3, (2020, 9, 22, 9, 0), (2020, 9, 22, 10, 0), (2020, 9, 23, 10, 0),
                  (2020, 9, 23, 10, 0)),
    ]


def october_events(pb):
    """What happened after September: nothing of it may change September."""
    return [
        event(pb, "water", "account.transferred", B, (2020, 10, 9, 10, 0)),   # B complete
        event(pb, "land", "transfer.registered", C, (2020, 10, 9, 10, 0)),    # C late
        event(pb, "land", "transfer.accepted", S, (2020, 10, 9, 9, 0),        # S reopened
              {"has_mortgage": False}),
        account(pb, E3, (2020, 10, 12, 10, 0), ABC, "ABC-PY-20201012-000003"),
        *transfer(pb, D, (2020, 10, 12, 9, 0)),                               # new cases
        *start_up(pb, E4, (2020, 10, 12, 9, 0), (2020, 10, 12, 10, 0), (2020, 10, 12, 10, 0),
                  (2020, 10, 12, 10, 0), ((2020, 10, 12, 11, 0), CCB, "CCB-PY-20201012-000004")),
    ]


def caught_up(db):
    """Every event correlated, and supervision caught up."""
    wait_drained(db, timeout=60)
    wait_supervised(db, timeout=60)


class Built:
    """The database of the hand-built month, and September's report made
    before (.first) and after (.again) October arrived: (text, Page, JSON)."""


@pytest.fixture(scope="module")
def built(pg, pb, tmp_path_factory):
    pg.ensure_running()
    db = pg.create_db()
    tmp = tmp_path_factory.mktemp("report")
    procs = ProcGroup(tmp / "logs")
    client = None
    try:
        hub = start_wf_hub(procs, db)
        client = HubClient(pb, hub.endpoint)
        for e in september_events(pb):
            send(client, [e])
        caught_up(db)
        b = Built()
        b.db = db
        b.first = report(db, "2020-09", tmp, "first")
        for e in october_events(pb):
            send(client, [e])
        caught_up(db)
        # October did change the cases: B done, S open again, E3's bank known
        assert scalar(db, """SELECT state FROM workflow_instances
                             WHERE key_value = %s""", (B,)) == "completed"
        assert scalar(db, """SELECT state FROM workflow_instances
                             WHERE key_value = %s""", (S,)) == "open"
        assert scalar(db, """SELECT count(*) FROM workflow_instances
                             WHERE key_value IN (%s, %s)""", (D, E4)) == 2
        b.again = report(db, "2020-09", tmp, "again")
        b.october = report(db, "2020-10", tmp, "october")
        b.tmp = tmp
        rc = hub.terminate()
        assert rc == 0, f"hub exited {rc}:\n{hub.log()[-4000:]}"
        yield b
    finally:
        if client:
            client.close()
        procs.terminate_all()
        reports = [(p, p.sanitizer_report()) for p in procs.procs]
        reports = [(p, r) for p, r in reports if r]
        pg.ensure_running()
        pg.drop_db(db.dbname)
        if reports:
            pytest.fail("sanitizer report(s):\n" + "\n".join(
                f"----- {p.name}:\n{r}" for p, r in reports), pytrace=False)


def test_september_is_a_month_end_snapshot(built):
    """Made again after October arrived, September is the same page but for
    its 'generated' line, and the same JSON but for generated_at."""
    (text1, _, json1), (text2, _, json2) = built.first, built.again
    assert without_generated(text1) == without_generated(text2)
    json1, json2 = dict(json1), dict(json2)
    del json1["generated_at"], json2["generated_at"]
    assert json1 == json2
    # while October's own report sees October: C's utilities and D
    # overdue, E4's bank
    october = built.october[2]
    assert {C, D} <= {w["key_value"] for w in october["worst_cases"]}
    assert ("bank", CCB) in {(o["agency"], o["bank"]) for o in october["on_time_by_agency"]}


def test_september_figures_counted_by_hand(built):
    text, page, _ = built.again
    db = built.db
    assert page.texts["as-of"] == "2020-09-30 24:00"
    assert "month-not-over" not in page.ids and "no-data" not in page.ids
    # 25 steps due: 19 on time; late: A's water, B's registration, E2's
    # account; overdue open: B's water, C's registration, E3's account.
    # The 25: A, B, C 3 each (registration, power, water: 9) and E1, E2,
    # E3 6 each (licence, seal, account, invoices, insurance, employment
    # registration: 18) less C's power and water, not due before its
    # registration (2); the applications have no deadline.
    cards = {k: page.texts[f"card-{k}"] for k in
             ("rate", "due", "on-time", "missed", "breaches", "completed", "open")}
    assert cards["rate"].startswith("76.0%"), cards                # 19 / 25
    assert cards["due"].startswith("25") and cards["on-time"].startswith("19")
    assert cards["missed"].startswith("6") and "超期办结 3，超期未办 3" in cards["missed"]
    # the overdue breaches are the missed steps; warnings are whatever
    # supervision recorded before the completing events were folded
    warnings = scalar(db, """SELECT count(*) FROM breaches WHERE kind = 'warning'
        AND withdrawn_at IS NULL AND due_at > '2020-09-01 00:00+08'
        AND due_at <= '2020-10-01 00:00+08'""")
    assert cards["breaches"].startswith("6") and f"预警 {warnings}" in cards["breaches"]
    assert cards["completed"].startswith("3")                      # A, E1, E2
    assert cards["open"].startswith("4") and "月末在办" in cards["open"]  # B, C, S, E3

    # per agency, the banks one by one: (rate, on time, late, open, due)
    expect = {
        ("land", None): ("33.3%", 1, 1, 1, 3), ("power", None): ("100.0%", 2, 0, 0, 2),
        ("water", None): ("0.0%", 0, 1, 1, 2), ("market", None): ("100.0%", 3, 0, 0, 3),
        ("police", None): ("100.0%", 3, 0, 0, 3), ("tax", None): ("100.0%", 3, 0, 0, 3),
        ("social", None): ("100.0%", 6, 0, 0, 6), ("bank", ABC): ("100.0%", 1, 0, 0, 1),
        ("bank", ICBC): ("0.0%", 0, 1, 0, 1), ("bank", None): ("0.0%", 0, 0, 1, 1)}
    rows = page.rows["on-time-table"]
    got = {agency_key(a): (r[1], int(r[2]), int(r[3]), int(r[4]), int(r[5]))
           for a, r in zip(page.row_attrs["on-time-table"], rows)}
    assert got == expect
    labels = {agency_key(a): r[0] for a, r in zip(page.row_attrs["on-time-table"], rows)}
    assert labels[("bank", ABC)] == f"银行（{ABC}） (bank)"
    assert labels[("bank", ICBC)] == f"银行（{ICBC}） (bank)"
    assert labels[("bank", None)] == "银行（未注明） (bank)"
    assert labels[("land", None)] == "不动产登记中心 (land)"
    assert [agency_key(a) for a in page.row_attrs["on-time-table"]][:4] == [
        ("water", None), ("bank", None), ("bank", ICBC), ("land", None)]
    bars = {agency_key(a): (a, label) for a, label in page.bars}
    assert set(bars) == set(expect)
    assert bars[("bank", ICBC)][0]["data-rate"] == "0.0"
    assert f"（{ICBC}）" in bars[("bank", ICBC)][1] and CCB not in text

    # breaches: (overdue, done late, not done, worst delay)
    breaches = {agency_key(a): (int(r[1]), int(r[2]), int(r[3]), r[5])
                for a, r in zip(page.row_attrs["breaches-table"], page.rows["breaches-table"])
                if "data-agency" in a}
    assert {k: v for k, v in breaches.items() if v[0]} == {
        ("land", None): (2, 1, 1, "2天10小时"), ("water", None): (2, 1, 1, "8天0小时"),
        ("bank", ICBC): (1, 1, 0, "10小时0分"), ("bank", None): (1, 0, 1, "7天0小时")}
    assert page.rows["breaches-table"][-1][1:4] == ["6", "3", "3"]

    # the worst cases, longest delay first: (workflow, key, agency case no,
    # agency, step, due, done, late by)
    land_no, water_no = f"PY-LAND-{A}", f"PY-WATER-{A}"
    assert [r[1:] for r in page.rows["worst-table"]] == [
        ["不动产转移登记与水电气暖同步过户property_transfer", B, f"PY-LAND-{B} (land)",
         "供水公司 (water)", "供水过户water_transferred", "2020-09-22 24:00",
         "未办结 (not done)", "8天0小时"],
        ["企业开办一网一窗通办enterprise_startup", E3, f"PY-MARKET-{E3} (market)",
         "银行（未注明） (bank)", "银行开户account_opened", "2020-09-23 24:00",
         "未办结 (not done)", "7天0小时"],
        ["不动产转移登记与水电气暖同步过户property_transfer", A, water_no,
         "供水公司 (water)", "供水过户water_transferred", "2020-09-11 24:00",
         "2020-09-14 11:00", "2天11小时"],
        ["不动产转移登记与水电气暖同步过户property_transfer", B, f"PY-LAND-{B}",
         "不动产登记中心 (land)", "转移登记registered", "2020-09-18 24:00",
         "2020-09-21 10:00", "2天10小时"],
        ["企业开办一网一窗通办enterprise_startup", E2, "ICBC-PY-20200917-000002",
         f"银行（{ICBC}） (bank)", "银行开户account_opened", "2020-09-16 24:00",
         "2020-09-17 10:00", "10小时0分"],
        ["不动产转移登记与水电气暖同步过户property_transfer", C, f"PY-LAND-{C}",
         "不动产登记中心 (land)", "转移登记registered", "2020-09-30 24:00",
         "未办结 (not done)", "0秒"]]
    assert land_no not in text      # A's registration was on time
    assert " 00:00" not in "".join(r[6] for r in page.rows["worst-table"])

    # the trend: September only, as in the table
    for key, (rate, *_rest) in expect.items():
        row = next(r for a, r in zip(page.row_attrs["trend-table"], page.rows["trend-table"])
                   if "data-agency" in a and agency_key(a) == key)
        assert row[1:7] == ["—"] * 5 + [rate], (key, row)
    assert page.rows["trend-table"][-1][1:7] == ["—"] * 5 + ["76.0%"]

    # durations: start-ups 26 h and 49 h (1 and 2 working days); A 170 h
    assert page.rows["durations-table"] == [
        ["企业开办一网一窗通办enterprise_startup", "2", "37.5", "46.7", "1.5", "1.9", "49.0"],
        ["不动产转移登记与水电气暖同步过户property_transfer", "1", "170.0", "170.0", "5.0",
         "5.0", "170.0"]]

    # the backlog at 24:00 of 30 September: B (16 days old, overdue), C (5
    # days, overdue), S (2 days, suspended); E3 (8 days, overdue)
    assert page.rows["backlog-table"] == [
        ["不动产转移登记与水电气暖同步过户property_transfer", "3", "1", "0", "1", "1", "1", "2",
         "2020-09-14 09:00"],
        ["企业开办一网一窗通办enterprise_startup", "1", "0", "0", "0", "0", "1", "1",
         "2020-09-22 09:00"],
        ["合计 (total)", "4", "1", "0", "1", "1", "2", "3", ""]]


def test_json_holds_the_figures_of_the_page(built):
    text, page, j = built.again
    assert j["month"] == "2020-09" and j["month_over"] is True
    assert j["as_of"] == "2020-10-01T00:00:00+08:00" and shown_due(j["as_of"]) == page.texts["as-of"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", j["generated_at"])
    assert j["generated_at"][:16].replace("T", " ") in page.texts["generated"]
    s = j["summary"]
    assert page.texts["card-rate"].startswith(f"{s['on_time_rate']}%")
    assert page.texts["card-due"].startswith(str(s["due"]))
    assert page.texts["card-on-time"].startswith(str(s["on_time"]))
    assert page.texts["card-missed"].startswith(str(s["missed"]))
    assert f"超期办结 {s['late']}，超期未办 {s['overdue_open']}" in page.texts["card-missed"]
    assert page.texts["card-breaches"].startswith(str(s["breaches"]))
    assert f"预警 {s['warnings']}" in page.texts["card-breaches"]
    assert page.texts["card-completed"].startswith(str(s["completed"]))
    assert page.texts["card-open"].startswith(str(s["open_at_end"]))
    assert (s["due"], s["on_time"], s["missed"]) == (25, 19, 6)

    rows = list(zip(page.row_attrs["on-time-table"], page.rows["on-time-table"]))
    assert len(rows) == len(j["on_time_by_agency"])
    for (a, r), o in zip(rows, j["on_time_by_agency"]):
        assert agency_key(a) == (o["agency"], o["bank"])
        assert r[1] == (f"{o['on_time_rate']}%" if o["on_time_rate"] is not None else "—")
        assert [int(x) for x in r[2:7]] == [o["on_time"], o["late"], o["overdue_open"],
                                           o["due"], o["not_yet_due"]]
    rows = list(zip(page.row_attrs["breaches-table"], page.rows["breaches-table"]))[:-1]
    assert len(rows) == len(j["breaches_by_agency"])
    for (a, r), o in zip(rows, j["breaches_by_agency"]):
        assert agency_key(a) == (o["agency"], o["bank"])
        assert [int(x) for x in r[1:5]] == [o["overdue"], o["overdue_done_late"],
                                           o["overdue_not_done"], o["warnings"]]
        assert r[5] == (human(o["worst_delay_seconds"])
                        if o["worst_delay_seconds"] is not None else "—")
    rows = page.rows["worst-table"]
    assert len(rows) == len(j["worst_cases"]) == 6
    for r, o in zip(rows, j["worst_cases"]):
        assert r[0] == str(o["rank"]) and r[1] == o["workflow_title"] + o["workflow"]
        assert r[2] == o["key_value"]
        assert r[3] == o["case_no"] + ("" if o["case_no_agency"] == o["agency"]
                                       else f" ({o['case_no_agency']})")
        assert r[5] == o["step_title"] + o["step"]
        assert r[6] == shown_due(o["due_at"])
        assert r[7] == (shown_due(o["completed_at"]) if o["completed_at"]
                        else "未办结 (not done)")
        assert r[8] == human(o["late_by_seconds"])
    assert j["worst_cases"][0]["due_at"] == "2020-09-23T00:00:00+08:00"
    assert j["worst_cases"][0]["late_by_seconds"] == 8 * 86400
    assert j["worst_cases"][1]["bank"] is None and j["worst_cases"][4]["bank"] == ICBC

    assert j["trend"]["months"] == ["2020-04", "2020-05", "2020-06", "2020-07", "2020-08",
                                    "2020-09"]
    trend = list(zip(page.row_attrs["trend-table"], page.rows["trend-table"]))
    for (a, r), o in zip(trend, j["trend"]["agencies"] + [j["trend"]["total"]]):
        if o is not j["trend"]["total"]:
            assert agency_key(a) == (o["agency"], o["bank"])
        assert r[1:7] == [f"{m['on_time_rate']}%" if m["on_time_rate"] is not None else "—"
                          for m in o["months"]]
    assert len(trend) == len(j["trend"]["agencies"]) + 1

    assert len(page.rows["durations-table"]) == len(j["durations"])
    for r, o in zip(page.rows["durations-table"], j["durations"]):
        assert r[0] == o["workflow_title"] + o["workflow"]
        assert r[1:] == [str(o["completed"]), half_up(o["p50_seconds"] / 3600),
                         half_up(o["p90_seconds"] / 3600), half_up(o["p50_working_days"]),
                         half_up(o["p90_working_days"]), half_up(o["max_seconds"] / 3600)]
    assert j["durations"][1]["p50_seconds"] == 170 * 3600

    assert len(page.rows["backlog-table"]) == len(j["backlog"]) + 1
    for r, o in zip(page.rows["backlog-table"], j["backlog"]):
        assert r[0] == o["workflow_title"] + o["workflow"]
        assert r[1:8] == [str(o[k]) for k in ("open_instances", "suspended", "age_under_1d",
                                              "age_1_to_3d", "age_3_to_7d", "age_over_7d",
                                              "with_overdue_steps")]
        assert r[8] == shown_due(o["oldest_started_at"])


def test_the_month_not_over_says_so(built):
    """A month still running is as of now, and says so."""
    month = datetime.datetime.now(BJ).strftime("%Y-%m")
    text, page, j = report(built.db, month, built.tmp, "now")
    assert j["month_over"] is False and "month-not-over" in page.ids
    assert "当前在办" in page.texts["card-open"]
    shown = datetime.datetime.strptime(page.texts["as-of"], "%Y-%m-%d %H:%M")
    as_of = datetime.datetime.fromisoformat(j["as_of"]).replace(tzinfo=None)
    assert abs(as_of - shown) < datetime.timedelta(minutes=5)


# ---------------------------------------------------------------- a populated month

def step_titles():
    """{(workflow, step): title} as the shipped definition files write them."""
    titles = {}
    for path in (ROOT / "workflows").glob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        wf = re.search(r"(?m)^workflow:\s*(\S+)", text).group(1)
        for step, title in re.findall(r"(?m)^\s*- id: (\w+)\n\s*title: (\S+)", text):
            titles[(wf, step)] = title
    return titles


def test_report_for_a_populated_month(county, tmp_path):  # noqa: F811
    month = county.day.replace(day=1)
    ym = month.strftime("%Y-%m")
    start = datetime.datetime(month.year, month.month, 1, tzinfo=BJ)
    end = (start + datetime.timedelta(days=32)).replace(day=1)
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
    assert page.texts["as-of"] == (end - datetime.timedelta(days=1)).strftime("%Y-%m-%d 24:00")

    # the month's steps as of its end, directly from the hub's tables: due
    # after 00:00 of the 1st and by 24:00 of the last day, done by then or not
    steps = query(county.db, """
        SELECT s.agency, s.due_at, s.completed_at, i.key_value, s.step, s.instance_id,
               i.workflow
        FROM workflow_steps s JOIN workflow_instances i ON i.id = s.instance_id
        WHERE s.required AND s.due_at > %s AND s.due_at <= %s
          AND i.state <> 'superseded' AND i.started_at <= %s""", (start, end, end))

    def status(due, done):
        if done is not None and done <= end:
            return "on_time" if done <= due else "late"
        return "overdue_open"
    direct = {}
    for agency, due, done, *_ in steps:
        on, counted = direct.get(agency, (0, 0))
        direct[agency] = (on + (status(due, done) == "on_time"), counted + 1)
    assert len(direct) >= 5, direct
    # on-time by agency, the banks one by one: their sum per agency
    shown = {}
    for a, label in page.bars:
        on, counted = shown.get(a["data-agency"], (0, 0))
        shown[a["data-agency"]] = (on + int(a["data-on-time"]), counted + int(a["data-total"]))
        p = pct(int(a["data-on-time"]), int(a["data-total"]))
        assert a["data-rate"] == p and f"{p}% ({a['data-on-time']}/{a['data-total']})" in label
        assert a["data-agency"] in label
    assert shown == direct
    banks = {a.get("data-bank") for a, _ in page.bars if a["data-agency"] == "bank"}
    named = {n for n, in query(county.db, """SELECT DISTINCT attrs ->> 'bank_name' FROM events
                                            WHERE agency = 'bank'""")}
    assert len(banks - {None}) >= 2 and banks - {None} <= named, (banks, named)
    # worst first
    rates = [Decimal(a["data-rate"]) for a, _ in page.bars if "data-rate" in a]
    assert rates == sorted(rates)
    assert any(r < 100 for r in rates), "every agency on time: the day is too easy"

    # the table beside the chart, and the report month of the trend
    table = page.rows["on-time-table"]
    assert len(table) == len(page.bars)
    for a, row in zip(page.row_attrs["on-time-table"], table):
        bar = next(b for b, _ in page.bars if agency_key(b) == agency_key(a))
        assert row[1] == f"{bar['data-rate']}%"
        assert (row[2], row[5]) == (bar["data-on-time"], bar["data-total"])
    trend = {agency_key(a): row for a, row in zip(page.row_attrs["trend-table"],
                                                  page.rows["trend-table"]) if "data-agency" in a}
    assert set(trend) == {agency_key(a) for a, _ in page.bars}
    header = [c for c in re.findall(r"<th class=\"n\">(\d{4}-\d{2})</th>", text)]
    assert header[-1] == ym and len(header) == 6
    total = page.rows["trend-table"][-1]
    on_all = sum(v[0] for v in direct.values())
    counted_all = sum(v[1] for v in direct.values())
    assert total[0].startswith("全部") and total[6] == f"{pct(on_all, counted_all)}%"
    assert page.texts["card-rate"].startswith(f"{pct(on_all, counted_all)}%")

    # breaches by agency: the standing overdue breaches of the month's deadlines
    breaches = scalar(county.db, """SELECT count(*) FROM breaches WHERE kind = 'overdue'
        AND withdrawn_at IS NULL AND due_at > %s AND due_at <= %s""", (start, end))
    rows = page.rows["breaches-table"]
    assert rows[-1][0].startswith("合计") and int(rows[-1][1]) == breaches > 0

    # the worst cases: the longest overdue or latest steps of the month,
    # with the step's title in the definition
    missed = [(min(done, end) if done and done <= end else end) - due
              for _, due, done, *_ in steps if status(due, done) != "on_time"]
    worst = sorted(((-((done if done and done <= end else end) - due), iid, step, key, wf)
                    for _, due, done, key, step, iid, wf in steps
                    if status(due, done) != "on_time"))[:10]
    assert len(missed) > 0
    rows = page.rows["worst-table"]
    titles = step_titles()
    assert [(r[2], re.search(r"([a-z_]+)$", r[5]).group(1)) for r in rows] == \
        [(key, step) for _, _, step, key, _ in worst]
    for r, (_, _, step, _, wf) in zip(rows, worst):
        assert r[5] == titles[(wf, step)] + step, r
        assert r[3] != "—", r          # an agency's case number
    assert [r[0] for r in rows] == [str(i + 1) for i in range(len(rows))]
    assert all(re.fullmatch(r"(\d+天)?\d+(小时|分|秒)(\d+(小时|分))?", r[8]) for r in rows), rows

    # durations of the cases completed in the month, per workflow
    done = {}
    for wf, secs in query(county.db, """SELECT workflow,
            extract(epoch FROM ended_at - started_at)::float8 FROM workflow_instances
            WHERE state = 'completed' AND ended_at > %s AND ended_at <= %s""", (start, end)):
        done.setdefault(wf, []).append(secs)
    rows = page.rows["durations-table"]
    assert len(rows) == len(done) > 0
    for row in rows:
        wf = re.search(r"([a-z_]+)$", row[0]).group(1)
        secs = done[wf]
        assert (int(row[1]), row[2], row[3]) == (
            len(secs), half_up(percentile_cont(secs, 0.5) / 3600),
            half_up(percentile_cont(secs, 0.9) / 3600)), row

    # the backlog at the month end: started by then, not ended by then
    backlog = scalar(county.db, """SELECT count(*) FROM workflow_instances
        WHERE state <> 'superseded' AND started_at <= %s
          AND (ended_at IS NULL OR ended_at > %s)""", (end, end))
    rows = page.rows["backlog-table"]
    assert rows[-1][0].startswith("合计") and int(rows[-1][1]) == backlog > 0
    assert page.texts["card-open"].startswith(str(backlog))


def test_an_analyst_makes_the_same_report(county, analyst, tmp_path):  # noqa: F811
    """The report reads only the analytics views: an analyst's login (no
    right on any table) gets the same page and the same figures."""
    ym = county.day.strftime("%Y-%m")
    pages = []
    for name, db in (("operator", county.db),
                     ("analyst", f"postgresql://{analyst.name}:{analyst.password}"
                                 f"@127.0.0.1:{county.pg.port}/{county.db.dbname}")):
        text, _, figures = report(db, ym, tmp_path, name)
        del figures["generated_at"]
        pages.append((without_generated(text), figures))
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
    # b's breach stands (done late); a's and c's were withdrawn, before and
    # after the month end: disproved, they count nowhere
    query(db, """INSERT INTO breaches (instance_id, step, agency, kind, due_at, completed_at,
                                       withdrawn_at, withdrawn_reason)
        VALUES (%(i)s, 'b', %(a)s, 'overdue', '2021-03-05 17:00+08', '2021-03-09 10:00+08',
                NULL, NULL),
               (%(i)s, 'a', %(a)s, 'overdue', '2021-03-05 17:00+08', NULL,
                '2021-03-06 10:00+08', 'done in time'),
               (%(i)s, 'c', 'tax', 'overdue', '2021-03-10 17:00+08', NULL,
                '2021-04-06 10:00+08', 'done in time')
        RETURNING 1""", {"i": iid, "a": AGENCY})

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
    assert [(w[2], w[4], w[5]) for w in worst] == [(KEY, AGENCY, STEP), (KEY, AGENCY, "b")]
    assert worst[0][7] == "未办结 (not done)" and worst[1][7] == "2021-03-09 10:00"
    # STEP open at the month end: 21 days 7 hours after its deadline
    assert worst[0][8] == "21天7小时" and worst[1][8] == "3天17小时"
    assert worst[0][6] == "2021-03-10 17:00" and worst[0][3] == "—"   # no event, no case no.
    assert page.rows["breaches-table"][0][0] == AGENCY
    assert page.rows["breaches-table"][0][1:6] == ["2", "1", "1", "0", "21天7小时"]
    assert len(page.rows["breaches-table"]) == 2      # the agency and the total
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
