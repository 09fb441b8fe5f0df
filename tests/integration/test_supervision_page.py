"""The supervision page (/supervision) in a real browser: headless Chromium
loads it from a hub holding a scenario built through the hub itself (cases
overdue, warned and on time, adapters live and silent), and the test reads
the DOM it renders: the overdue steps by agency, worst first, with the
agency's case number and the step's Chinese title; a case's timeline found
by its case number or an event id; personal data masked; every value
escaped. Also who may open it, and that it reads as onenet_analyst only."""

import secrets
import shutil
import subprocess
from html.parser import HTMLParser
from urllib.parse import quote

import pytest

from conftest import build_path, make_event, unit_number
from test_http import build_scenario, get, http_hub, token_file
from test_integrity import roles  # noqa: F401 (a fixture)
from test_workflows import send, wait_drained


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    def text(self):
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def find_all(self, tag=None, cls=None, **attrs):
        for c in self.children:
            if isinstance(c, str):
                continue
            if ((tag is None or c.tag == tag)
                    and (cls is None or cls in c.attrs.get("class", "").split())
                    and all(c.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())):
                yield c
            yield from c.find_all(tag, cls, **attrs)

    def find(self, *args, **kwargs):
        return next(self.find_all(*args, **kwargs), None)

    def rows(self):
        """The cells' texts of every body row of the tables under this node."""
        return [[td.text().strip() for td in tr.find_all("td")]
                for tbody in self.find_all("tbody") for tr in tbody.find_all("tr")]


class TreeBuilder(HTMLParser):
    VOID = {"meta", "input", "br", "img", "link", "hr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {}, None)
        self.at = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.at)
        self.at.children.append(node)
        if tag not in self.VOID:
            self.at = node

    def handle_endtag(self, tag):
        n = self.at
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.at = n.parent

    def handle_data(self, data):
        self.at.children.append(data)


def parse(html):
    b = TreeBuilder()
    b.feed(html)
    return b.root


def chromium_dom(url, tmp_path):
    """The DOM Chromium renders for URL (--dump-dom), with a profile of its
    own and no background connections (this machine's network is closed)."""
    browser = next((b for b in ("chromium", "chromium-browser", "google-chrome")
                    if shutil.which(b)), None)
    assert browser, "Chromium is not installed: deploy/install-deps.sh installs it"
    profile = tmp_path / f"chromium-{secrets.token_hex(4)}"
    r = subprocess.run([browser, "--headless=new", "--no-sandbox", "--disable-gpu",
                        "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--disable-quic",
                        f"--user-data-dir={profile}", "--dump-dom", url],
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    assert "<html" in r.stdout, f"no DOM for {url}: {r.stdout[:500]} {r.stderr[-2000:]}"
    return r.stdout


@pytest.fixture
def county(pb, db, procs, hub_client, tmp_path):
    """The scenario of test_http on a hub with a token file."""
    tokens, token = token_file(tmp_path)
    s = build_scenario(pb, db, procs, hub_client, tmp_path,
                       extra=("--http-token-file", str(tokens)))
    s["token"] = token
    s["base"] = f"http://127.0.0.1:{s['hub'].http_port}"
    # a case whose agency case number is markup: it must stay text
    s["markup"] = 'PY-<b>bold</b>&"q"\'<script>x</script>'
    ev = make_event(pb, 7398, agency="land", case_no=s["markup"])
    send(s["client"], [ev])
    wait_drained(db)
    return s


def test_overview_in_chromium(county, tmp_path):
    case1 = county["cases"]["case1"]
    dom = chromium_dom(f"{county['base']}/supervision?token={county['token']}", tmp_path)
    doc = parse(dom)
    assert doc.find("html").attrs.get("lang") == "zh-CN"
    assert doc.find("meta", charset="utf-8") is not None
    assert not list(doc.find_all("script"))
    assert "逾期 4 项，预警 1 项" in doc.find("p", id="totals").text()

    sections = list(doc.find_all("section", cls="agency"))
    order = [sec.attrs["data-agency"] for sec in sections]
    # worst first: power and water were due 2020-09-30, land's registration
    # in October 2020; the agencies with nothing late are not listed
    assert order == ["power", "water", "land"], order
    by_agency = {sec.attrs["data-agency"]: sec for sec in sections}

    land = by_agency["land"]
    assert "不动产登记中心" in land.find("h3").text()
    rows = land.rows()
    assert len(rows) == 1
    status, case_no, workflow, step, due, late, key = rows[0]
    assert status == "逾期"
    assert case_no == case1["accepted"].case_no               # the land registry's own
    assert workflow.startswith("不动产转移登记与水电气暖同步过户")
    assert step.startswith("转移登记")
    assert late.startswith("逾期 ") and "天" in late
    assert unit_number(7301) in key

    water = by_agency["water"].rows()
    assert [r[0] for r in water] == ["逾期", "逾期", "预警"]     # worst first
    assert water[0][3].startswith("供水过户")
    # the water company has no case number of its own yet: the land
    # registry's, named as such
    assert water[0][1] == f"{county['cases']['case2']['accepted'].case_no} （不动产登记中心受理号）"
    assert water[1][3].startswith("水表现场核验") and water[1][2].startswith("水表核验")
    assert water[2][3].startswith("水表现场核验") and water[2][5].startswith("剩余 ")
    assert water[2][1] == f"{county['cases']['case3'].case_no} （不动产登记中心受理号）"

    adapters = {r[1]: r for r in doc.find("h2", id="adapters").parent.find_all("tr",
                                                                            cls="adapter")
                for r in [[td.text().strip() for td in r.find_all("td")]]}
    assert adapters["gas-old"][-1] == "失联" and adapters["gas-old"][4] == "7"
    assert adapters["power-it"][-1] == "正常"

    for raw in ("马建国", "13912345678"):
        assert raw not in dom


def test_case_timeline_in_chromium(county, tmp_path):
    """Found by the land registry's case number: the case's steps with due
    and completion times, its events with their attributes masked."""
    case1 = county["cases"]["case1"]
    q = quote(case1["accepted"].case_no)
    dom = chromium_dom(f"{county['base']}/supervision/case?q={q}&token={county['token']}",
                       tmp_path)
    doc = parse(dom)
    assert doc.find("input", id="q").attrs["value"] == case1["accepted"].case_no
    cases = list(doc.find_all("section", cls="case"))
    assert len(cases) == 1, dom
    case = cases[0]
    assert case.find("h2").text().startswith("不动产转移登记与水电气暖同步过户")
    assert unit_number(7301) in case.find("p").text() and "办理中" in case.find("p").text()
    steps = {r[0].split(" ")[0]: r for r in case.find("table", cls="steps").rows()}
    assert steps["受理"][4].startswith("2020-09-28 09:30")     # done, Beijing time
    assert steps["转移登记"][5].startswith("逾期")
    assert steps["转移登记"][3] != "—"                          # its deadline shown
    assert steps["银行抵押申请"][5] == "不需要"
    assert steps["契税缴纳"][5] == "待前序环节"                  # its assessment not done
    events = case.find("table", cls="events").rows()
    assert len(events) == 1
    when, agency, case_no, etype, attrs, event_id = events[0]
    assert case_no == case1["accepted"].case_no and etype == "transfer.accepted"
    assert event_id == case1["accepted"].event_id
    assert "buyer_name 马*" in attrs and "phone 139****5678" in attrs
    for raw in ("马建国", "13912345678"):
        assert raw not in dom

    # by an event id (upper case too): the warned inspection of case 3
    case3 = county["cases"]["case3"]
    dom = chromium_dom(f"{county['base']}/supervision/case?q={case3.event_id.upper()}"
                       f"&token={county['token']}", tmp_path)
    case = parse(dom).find("section", cls="case")
    assert case.find("h2").text().startswith("水表核验")
    steps = {r[0].split(" ")[0]: r for r in case.find("table", cls="steps").rows()}
    assert steps["水表现场核验"][5] == "预警"

    # nothing found
    doc = parse(chromium_dom(f"{county['base']}/supervision/case?q=PY-NOTHING-1"
                             f"&token={county['token']}", tmp_path))
    assert "未找到" in doc.find("p", id="not-found").text()


def test_values_are_escaped(county, tmp_path):
    """A case number made of markup is shown as text, in the table and in
    the search box; the browser builds no element from it."""
    markup = county["markup"]
    dom = chromium_dom(f"{county['base']}/supervision/case?q={quote(markup)}"
                       f"&token={county['token']}", tmp_path)
    doc = parse(dom)
    assert doc.find("input", id="q").attrs["value"] == markup
    assert markup in doc.find("title").text()
    case = doc.find("section", cls="case")
    assert case is not None, dom
    rows = case.find("table", cls="events").rows()
    assert [r[2] for r in rows] == [markup]
    assert not list(doc.find_all("script"))
    assert all(b.text() != "bold" for b in doc.find_all("b"))


def test_who_may_open_the_page(county, db, procs, pg, tmp_path):
    base_port = county["hub"].http_port
    status, body, _ = get(base_port, "/supervision")
    assert status == 401 and "?token=" in body
    status, _, hdrs = get(base_port, "/supervision/case?q=x%20y&token=" + county["token"])
    assert status == 303 and hdrs["Location"] == "/supervision/case?q=x%20y"
    status, body, hdrs = get(base_port, "/supervision",
                             {"Cookie": f"onenet_token={county['token']}"})
    assert status == 200 and hdrs["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in hdrs["Content-Security-Policy"]
    assert get(base_port, "/supervision", {"Cookie": "onenet_token=not-the-token-0123456"})[0] \
        == 401
    # without a token file the page is off, even on loopback
    plain = http_hub(procs, db)
    status, body, _ = get(plain.http_port, "/supervision")
    assert status == 403 and "http-token-file" in body


def test_page_reads_as_the_analyst_only(pb, pg, db, procs, hub_client, tmp_path):
    """A hub login that may not act as onenet_analyst gets no page (503,
    saying so), not an unmasked one; granted the role, the page works."""
    subprocess.run([build_path("onenet-hub"), "--db", db, "--migrate-only"], check=True,
                   capture_output=True, timeout=60)
    name, password = "hub_page_" + secrets.token_hex(4), secrets.token_urlsafe(18)
    admin = pg.connect()
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE ROLE "{name}" LOGIN PASSWORD %s IN ROLE onenet_hub',
                        (password,))
        login = f"postgresql://{name}:{quote(password, safe='')}@127.0.0.1:{pg.port}/" \
                f"{db.dbname}"
        tokens, token = token_file(tmp_path)
        hub = http_hub(procs, login, extra=("--http-token-file", str(tokens)))
        cookie = {"Cookie": f"onenet_token={token}"}
        status, body, _ = get(hub.http_port, "/supervision", cookie)
        assert status == 503 and "cannot act as onenet_analyst" in body, body
        hub.wait_for_log(r'msg="supervision page: no analyst session"', timeout=10)
        with admin.cursor() as cur:
            cur.execute(f'GRANT onenet_analyst TO "{name}"')
        status, body, _ = get(hub.http_port, "/supervision", cookie)
        assert status == 200 and "逾期 <b>0</b> 项" in body, body
        hub.terminate()
    finally:
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE usename = %s", (name,))
            cur.execute(f'DROP ROLE IF EXISTS "{name}"')
        admin.close()


def test_a_hub_login_of_db_setup_serves_the_page(roles, procs, tmp_path):  # noqa: F811
    """deploy/db-setup.sh makes a hub login a member of onenet_analyst: a
    hub running as it serves the page."""
    tokens, token = token_file(tmp_path)
    hub = http_hub(procs, roles["hub"], extra=("--http-token-file", str(tokens)))
    status, body, _ = get(hub.http_port, "/supervision", {"Cookie": f"onenet_token={token}"})
    assert status == 200 and "逾期 <b>0</b> 项" in body, body
