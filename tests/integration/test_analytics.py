"""The analysts' schema (hub/sql/004_analytics.sql, docs/analytics.md) against
a database filled by a simulated county day.

The day is the first working day of last month (Beijing time), so that
"last month" in the documented queries has data: the county-day generator
(deploy/sample/pengyang_sample.py) writes the agencies' records, one
onenet-adapter per agency delivers them to a hub, which correlates and
supervises them (as in test_county_day). Some events of that day fall weeks
later, possibly after today, so the hub accepts events up to a year ahead.

Then:
- every ```sql block under "## Example queries" in docs/analytics.md runs,
  exactly as written, as an analyst, and the answers to the supervision
  office's questions agree with the hub's own tables;
- the views agree with each other and with direct computations (on-time
  counts with breaches, durations and working days with Python);
- a login role in onenet_analyst, connected over TCP with a password, reads
  every view but gets "permission denied" on every table of public, and
  sees names, citizen id numbers and phone numbers only masked;
- the migration applies in further databases of the cluster (the role
  already exists there), and creates the role when it is missing.
"""

import csv
import datetime
import json
import math
import os
import re
import secrets
import subprocess
import sys

import psycopg2
import psycopg2.errors
import pytest

from conftest import ROOT, ProcGroup, build_path, query, scalar, wait_exit
import test_county_day as cday   # as a module: its test must not be collected here
from test_workflows import start_wf_hub, wait_drained

DOC = ROOT / "docs" / "analytics.md"
MIGRATION = ROOT / "hub" / "sql" / "004_analytics.sql"
CALENDAR = ROOT / "data" / "calendar" / "cn-workdays.csv"
BEIJING = datetime.timezone(datetime.timedelta(hours=8))
# another simulated day for exploring: ONENET_ANALYTICS_SEED=N
CASES, SEED = 120, int(os.environ.get("ONENET_ANALYTICS_SEED") or 11)
# the questions of the supervision office (issue 5) that must have an answer
REQUIRED_EXAMPLES = {"worst-agency-last-month", "transfer-duration", "power-bottleneck",
                     "open-backlog"}
MASKED = re.compile(r"(^|_)(name|id_no|phone|address|account_no)$|^(location)$", re.I)
PUBLIC_NAMES = re.compile(r"^(enterprise|bank)_name$", re.I)


# ---------------------------------------------------------------- helpers

def example_queries():
    """[(name, sql)] of the ```sql blocks of the "## Example queries" section
    of docs/analytics.md; the name is the "-- example: NAME" first line."""
    text = DOC.read_text(encoding="utf-8")
    m = re.search(r"(?ms)^## Example queries\s*$(.*?)(?=^## |\Z)", text)
    assert m, f"{DOC}: no '## Example queries' section"
    blocks = re.findall(r"(?ms)^```sql\n(.*?)^```\s*$", m.group(1))
    out = []
    for sql in blocks:
        first = sql.splitlines()[0]
        name = re.fullmatch(r"-- example: (\S+)", first)
        assert name, f"example block without '-- example: NAME' first line:\n{sql}"
        out.append((name.group(1), sql))
    return out


def example(name):
    for n, sql in example_queries():
        if n == name:
            return sql
    raise AssertionError(f"docs/analytics.md has no example {name!r}")


def special_days():
    with open(CALENDAR, encoding="utf-8") as f:
        return {datetime.date.fromisoformat(r["date"]): r["workday"] == "true"
                for r in csv.DictReader(f)}


def is_workday(day, special):
    return special.get(day, day.weekday() < 5)


def last_month_day():
    """The first working day of last month, Beijing time."""
    today = datetime.datetime.now(BEIJING).date()
    day = (today.replace(day=1) - datetime.timedelta(days=1)).replace(day=1)
    special = special_days()
    while not is_workday(day, special):
        day += datetime.timedelta(days=1)
    return day


def percentile_cont(values, p):
    """PostgreSQL's percentile_cont: linear interpolation."""
    v = sorted(values)
    pos = p * (len(v) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return v[lo] + (v[hi] - v[lo]) * (pos - lo)


def rows_as_dicts(cur):
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def mask(name, value):
    """docs/analytics.md's masking rule, in Python."""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        return value
    text = value if isinstance(value, str) else json.dumps(value)
    kind = MASKED.search(name)
    if not kind or PUBLIC_NAMES.match(name):
        return value
    kind = (kind.group(2) or kind.group(3)).lower()
    if kind == "name":
        return text[:1] + "*" if text else ""
    if kind == "id_no":
        return text[:6] + "********" + text[-4:] if len(text) == 18 else "*" * len(text)
    if kind in ("address", "location"):
        return text[:6] + "****" if len(text) > 6 else "*" * len(text)
    if kind == "account_no":
        return "*" * (len(text) - 4) + text[-4:] if len(text) > 4 else "*" * len(text)
    return text[:3] + "****" + text[-4:] if len(text) >= 11 else "*" * len(text)


# ---------------------------------------------------------------- fixtures

class County:
    """The populated database (.db, a Conninfo) of the simulated day."""

    def __init__(self, pg, db, day):
        self.pg, self.db, self.day = pg, db, day


@pytest.fixture(scope="module")
def county(pg, tmp_path_factory):
    pg.ensure_running()
    db = pg.create_db()
    tmp = tmp_path_factory.mktemp("analytics")
    procs = ProcGroup(tmp / "logs")
    day = last_month_day()
    ok = False
    try:
        records = tmp / "records"
        res = subprocess.run(
            [sys.executable, str(ROOT / "deploy/sample/pengyang_sample.py"),
             "--date", day.isoformat(), "--cases", str(CASES), "--seed", str(SEED),
             "--format", "generic", "--out", str(records)],
            capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        assert "not a working day" not in res.stderr, res.stderr
        hub = start_wf_hub(procs, db, extra=("--max-future-s", "31536000"))
        adapters = [cday.deliver(procs, hub, tmp, records, a, once=True, generic=True)
                    for a in cday.AGENCIES]
        for adapter in adapters:
            wait_exit(adapter, timeout=60)
        wait_drained(db, timeout=60)
        cday.supervised(db)
        assert scalar(db, "SELECT count(*) FROM dead_letters") == 0, \
            query(db, "SELECT agency, case_no, code, reason FROM dead_letters LIMIT 10")
        assert scalar(db, "SELECT count(*) FROM workflow_instances") > CASES // 2
        # a still database from here on: supervision has nothing left to do
        rc = hub.terminate()
        assert rc == 0, f"hub exited {rc}:\n{hub.log()[-4000:]}"
        ok = True
        yield County(pg, db, day)
    finally:
        procs.terminate_all()
        if not ok:
            for proc in procs.procs:
                print(f"----- {proc.name} (exit {proc.returncode})\n{proc.log()[-6000:]}")
        reports = [(p, p.sanitizer_report()) for p in procs.procs]
        reports = [(p, r) for p, r in reports if r]
        pg.ensure_running()
        pg.drop_db(db.dbname)
        if reports:
            pytest.fail("sanitizer report(s):\n" + "\n".join(
                f"----- {p.name}:\n{r}" for p, r in reports), pytrace=False)


class Analyst:
    """A login role in onenet_analyst; .connect() over TCP with its password."""

    def __init__(self, county, name, password):
        self.county, self.name, self.password = county, name, password

    def connect(self):
        conn = psycopg2.connect(host="127.0.0.1", port=self.county.pg.port,
                                dbname=self.county.db.dbname, user=self.name,
                                password=self.password, connect_timeout=10)
        conn.autocommit = True
        return conn

    def query(self, sql, args=None):
        """Rows of SQL as dicts, read as the analyst."""
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return rows_as_dicts(cur)
        finally:
            conn.close()


@pytest.fixture(scope="module")
def analyst(county):
    """A LOGIN role granted onenet_analyst, dropped at the end (roles are
    cluster-wide and outlive the test database)."""
    name = "analyst_it_" + secrets.token_hex(4)
    password = secrets.token_urlsafe(18)
    admin = county.pg.connect()
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE ROLE "{name}" LOGIN PASSWORD %s IN ROLE onenet_analyst',
                        (password,))
        yield Analyst(county, name, password)
    finally:
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE usename = %s", (name,))
            cur.execute(f'DROP ROLE IF EXISTS "{name}"')
        admin.close()


# ---------------------------------------------------------------- the analyst role

def test_analyst_role_is_nologin_and_analyst_connects_over_tcp(county, analyst):
    can_login, = query(county.db, "SELECT rolcanlogin FROM pg_roles "
                                  "WHERE rolname = 'onenet_analyst'")[0]
    assert can_login is False
    row, = analyst.query("""SELECT current_user AS who, inet_server_addr() IS NOT NULL AS tcp,
                                   pg_has_role(current_user, 'onenet_analyst', 'USAGE') AS member""")
    assert row == {"who": analyst.name, "tcp": True, "member": True}
    # scram over TCP: a wrong password is refused
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(host="127.0.0.1", port=county.pg.port, dbname=county.db.dbname,
                         user=analyst.name, password=analyst.password + "x",
                         connect_timeout=10).close()


def analytics_relations(db):
    return [r[0] for r in query(db, """SELECT c.relname FROM pg_class c
                                       JOIN pg_namespace n ON n.oid = c.relnamespace
                                       WHERE n.nspname = 'analytics' ORDER BY 1""")]


def test_analyst_reads_every_view(county, analyst):
    relations = analytics_relations(county.db)
    kinds = {r[0] for r in query(county.db, """SELECT c.relkind FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'analytics'""")}
    assert kinds == {"v"}, f"analytics holds more than views: {kinds}"
    documented = set(re.findall(r"(?m)^### analytics\.(\w+)\s*$",
                                DOC.read_text(encoding="utf-8")))
    assert documented == set(relations), \
        f"views not documented: {set(relations) - documented}; " \
        f"documented, not there: {documented - set(relations)}"
    conn = analyst.connect()
    try:
        with conn.cursor() as cur:
            for rel in relations:
                cur.execute(f"SELECT count(*) FROM analytics.{rel}")
                assert cur.fetchone()[0] >= 0
    finally:
        conn.close()
    # every documented column is there, and every column is documented
    text = DOC.read_text(encoding="utf-8")
    for rel in relations:
        section = re.search(rf"(?ms)^### analytics\.{rel}\s*$(.*?)(?=^#|\Z)", text).group(1)
        names = set(re.findall(r"`(\w+)`", " ".join(
            line.split("|")[1] for line in section.splitlines()
            if line.startswith("| `"))))
        cols = {r[0] for r in query(county.db, """SELECT attname FROM pg_attribute
                WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped""",
                                   (f"analytics.{rel}",))}
        assert cols <= names, f"analytics.{rel}: columns not documented: {cols - names}"


def test_analyst_denied_every_public_table(county, analyst):
    tables = [r[0] for r in query(county.db, "SELECT tablename FROM pg_tables "
                                             "WHERE schemaname = 'public' ORDER BY 1")]
    assert {"events", "workflow_instances", "workflow_steps", "breaches", "tasks",
            "calendar_days"} <= set(tables)
    conn = analyst.connect()
    try:
        with conn.cursor() as cur:
            for table in tables:
                with pytest.raises(psycopg2.errors.InsufficientPrivilege,
                                   match=f"permission denied for table {table}"):
                    cur.execute(f"SELECT * FROM public.{table} LIMIT 1")
            # nor can it write anywhere
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("CREATE TABLE public.mine (x int)")
            with pytest.raises(psycopg2.errors.InsufficientPrivilege):
                cur.execute("CREATE VIEW analytics.mine AS SELECT 1")
            with pytest.raises(psycopg2.Error):
                cur.execute("DELETE FROM analytics.events")
    finally:
        conn.close()


# values that are identifiers, not personal data: UUIDs and hex digests
IDENTIFIER = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
                        r"|(\\x)?[0-9a-f]{64}")


def text_values(value):
    """Every value of a row (a dict), of the JSON inside it and of its
    lists, as text: the strings and numbers an analyst can read."""
    if isinstance(value, dict):
        for v in value.values():
            yield from text_values(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from text_values(v)
    elif value is not None and not isinstance(value, bool):
        yield value.hex() if isinstance(value, (bytes, memoryview)) else str(value)


def test_text_values_sees_every_value_but_identifiers():
    row = {"event_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "n": 13912345678,
           "attrs": {"phone": "139****5678", "ids": ["64042519870312001X"], "ok": True}}
    got = [v for v in text_values(row) if not IDENTIFIER.fullmatch(v)]
    assert got == ["13912345678", "139****5678", "64042519870312001X"]


def test_analyst_sees_personal_data_masked(county, analyst):
    raw = {r[0]: r[1] for r in query(county.db, "SELECT event_id::text, attrs FROM events")}
    seen = {str(r["event_id"]): r["attrs"] for r in analyst.query(
        "SELECT event_id, attrs FROM analytics.events")}
    assert set(seen) == set(raw)
    masked_keys = set()
    ids, phones, names, addresses, accounts = set(), set(), set(), set(), set()
    for eid, attrs in raw.items():
        want = {k: mask(k, v) for k, v in attrs.items()}
        assert seen[eid] == want, f"event {eid}: {seen[eid]} instead of {want}"
        for k, v in attrs.items():
            if MASKED.search(k) and not PUBLIC_NAMES.match(k):
                masked_keys.add(k)
                m = MASKED.search(k)
                kind = (m.group(2) or m.group(3)).lower()
                {"id_no": ids, "phone": phones, "name": names, "address": addresses,
                 "location": addresses, "account_no": accounts}[kind].add(v)
    # the day's personal data is there to be masked
    assert {"buyer_name", "buyer_id_no", "phone", "seller_id_no", "borrower_id_no",
            "address", "location", "account_no"} <= masked_keys, masked_keys
    assert all(len(i) == 18 for i in ids) and len(ids) > 20
    # nothing of it, in any value the analyst reads of events and instances:
    # each value is checked on its own (identifiers such as event UUIDs and
    # digests are not personal data, and their hex digits can look like a
    # phone number)
    for view in ("events", "instances"):
        values = [v for r in analyst.query(f"SELECT * FROM analytics.{view}")
                  for v in text_values(r) if not IDENTIFIER.fullmatch(v)]
        assert values
        found = [v for v in values if re.search(r"(?<![0-9])[0-9]{17}[0-9X](?![0-9])", v)]
        assert not found, f"an 18-character id number in analytics.{view}: {found[:3]}"
        found = [v for v in values if re.search(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])", v)]
        assert not found, f"a full mobile number in analytics.{view}: {found[:3]}"
        leaked = [v for v in values if any(i in v for i in ids | phones)]
        assert not leaked, f"analytics.{view} shows {leaked[:3]}"
        leaked = sorted(v for v in names if len(v) >= 2 and v in values)
        assert not leaked, f"analytics.{view} shows names {leaked[:3]}"
        leaked = sorted(v for v in addresses | accounts if len(v) > 6 and v in values)
        assert not leaked, f"analytics.{view} shows addresses or accounts {leaked[:3]}"
    # the id number keeps its region code and last four
    some = analyst.query("""SELECT attrs->>'buyer_id_no' AS id, attrs->>'phone' AS phone,
                                   attrs->>'buyer_name' AS name
                            FROM analytics.events WHERE event_type = 'transfer.accepted'
                            LIMIT 1""")[0]
    assert re.fullmatch(r"640425\*{8}[0-9]{3}[0-9X]", some["id"]), some
    assert re.fullmatch(r"1[0-9]{2}\*{4}[0-9]{4}", some["phone"]), some
    assert re.fullmatch(r".\*", some["name"]), some
    # instances: merged attributes, masked the same way
    raw_i = dict(query(county.db, "SELECT id, attrs FROM workflow_instances"))
    for r in analyst.query("SELECT id, attrs FROM analytics.instances"):
        assert r["attrs"] == {k: mask(k, v) for k, v in raw_i[r["id"]].items()}


def test_mask_functions(analyst):
    row, = analyst.query("""SELECT analytics.mask_attrs(%s::jsonb) AS m,
                                   analytics.mask_attrs('[1, 2]') AS arr,
                                   analytics.mask_attrs(NULL) AS nul""", (json.dumps({
        "buyer_name": "马建军", "buyer_id_no": "64042519870312001X", "phone": "13912345678",
        "Contact_Phone": "0954-701234", "holder_id_no": "640425870312001", "name": "",
        "legal_rep_name": "王伟", "area_m2": 96, "has_gas": True, "note": None,
        "location": "彭阳县白阳镇兴彭路12号", "id_no": 64042519870312001,
        "enterprise_name": "彭阳县白阳兴盛商贸有限公司", "bank_name": "中国农业银行彭阳县支行",
        "address": "彭阳县", "mail_address": "彭阳县城阳乡杨坪村3组", "account_no": "P123456789",
        "water_account_no": "1234"}, ensure_ascii=False),))
    assert row["m"] == {
        "buyer_name": "马*", "buyer_id_no": "640425********001X", "phone": "139****5678",
        "Contact_Phone": "095****1234", "holder_id_no": "*" * 15,
        "name": "", "legal_rep_name": "王*", "area_m2": 96, "has_gas": True, "note": None,
        "location": "彭阳县白阳镇****", "id_no": "*" * 17,
        "enterprise_name": "彭阳县白阳兴盛商贸有限公司", "bank_name": "中国农业银行彭阳县支行",
        "address": "***", "mail_address": "彭阳县城阳乡****", "account_no": "******6789",
        "water_account_no": "****"}
    assert row["arr"] == [1, 2] and row["nul"] is None
    # the examples of docs/analytics.md's "Functions" section
    row, = analyst.query("""SELECT analytics.mask_attrs('{"buyer_name": "马建军",
        "phone": "13912345678", "area_m2": 96}')::text AS m""")
    assert row["m"] == '{"phone": "139****5678", "area_m2": 96, "buyer_name": "马*"}'


def test_working_days_between(county, analyst):
    w = lambda a, b: analyst.query(  # noqa: E731
        "SELECT analytics.working_days_between(%s, %s) AS n", (a, b))[0]["n"]
    # National Day 2020: 1-8 October off, Saturday 10 October a make-up day
    assert w("2020-09-30 16:00+08", "2020-10-09 09:00+08") == 1
    assert w("2020-10-09 09:00+08", "2020-09-30 16:00+08") == -1
    assert w("2020-10-09 23:00+08", "2020-10-10 08:00+08") == 1
    assert w("2020-10-10 08:00+08", "2020-10-12 08:00+08") == 1      # Sunday off
    assert w("2020-09-30 09:00+08", "2020-09-30 23:59+08") == 0
    # dates are Beijing dates: 17:00 UTC on 30 September is 1 October 01:00
    assert w("2020-09-30 17:00+00", "2020-10-09 09:00+08") == 1
    assert w("2020-09-29 15:59+00", "2020-09-30 10:00+08") == 1      # 29 Sep 23:59 +08
    assert w(None, "2020-09-30 10:00+08") is None
    # a year the calendar does not list: the weekend rule (Fri 2100-01-01 to Mon)
    assert w("2100-01-01 10:00+08", "2100-01-04 10:00+08") == 1
    # every completed instance, against Python with the hub's calendar
    special = {d: wd for d, wd in query(county.db, "SELECT day, workday FROM calendar_days")}
    assert special, "the hub seeded no calendar"
    rows = analyst.query("""SELECT started_at AT TIME ZONE 'Asia/Shanghai' AS s,
                                   ended_at AT TIME ZONE 'Asia/Shanghai' AS e, working_days
                            FROM analytics.instance_durations""")
    assert len(rows) > 50
    for r in rows:
        d1, d2 = r["s"].date(), r["e"].date()
        want = sum(is_workday(d1 + datetime.timedelta(days=n), special)
                   for n in range(1, (d2 - d1).days + 1))
        assert r["working_days"] == want, r


# ---------------------------------------------------------------- the examples

EXAMPLES = example_queries()


def test_examples_are_there():
    names = [n for n, _ in EXAMPLES]
    assert len(names) == len(set(names)), f"example names repeat: {names}"
    assert REQUIRED_EXAMPLES <= set(names), REQUIRED_EXAMPLES - set(names)


@pytest.mark.parametrize("name", [n for n, _ in EXAMPLES])
def test_example_runs_as_analyst(analyst, name):
    rows = analyst.query(example(name))
    if name in REQUIRED_EXAMPLES | {"missed-last-month", "on-time-trend",
                                    "transfer-working-days", "power-bottleneck-by-class",
                                    "oldest-open", "events-per-adapter", "case-events"}:
        assert rows, f"example {name} returned nothing"
    for r in rows:
        for k, v in r.items():
            if k.endswith("rate") and v is not None:
                assert 0 <= v <= 1, f"{name}: {k} = {v}"


def last_month(county):
    return county.day.replace(day=1)


def test_worst_agency_last_month(county, analyst):
    rows = analyst.query(example("worst-agency-last-month"))
    # the direct count: overdue breaches whose deadline fell last month
    direct = dict(query(county.db, """
        SELECT agency, count(*) FROM breaches WHERE kind = 'overdue'
          AND withdrawn_at IS NULL AND date_trunc('month', due_at AT TIME ZONE 'Asia/Shanghai')::date = %s
        GROUP BY agency""", (last_month(county),)))
    assert direct and max(direct.values()) > 0, "no deadline missed last month: too easy"
    top = max(direct.values())
    assert rows[0]["missed"] == top and direct[rows[0]["agency"]] == top, (rows[0], direct)
    for r in rows:
        assert r["missed"] == direct.get(r["agency"], 0), (r, direct)
        assert r["missed"] == r["late"] + r["overdue_open"]
        assert r["on_time"] + r["missed"] <= r["steps_due"]
        assert r["on_time_rate"] is None or 0 <= r["on_time_rate"] <= 1
        if r["on_time"] + r["missed"]:
            assert float(r["on_time_rate"]) == pytest.approx(
                r["on_time"] / (r["on_time"] + r["missed"]), abs=1e-4)
    assert [r["missed"] for r in rows] == sorted((r["missed"] for r in rows), reverse=True)
    # the cases behind it add up
    cases = analyst.query(example("missed-last-month"))
    assert len(cases) == sum(r["missed"] for r in rows)
    per_agency = {}
    for c in cases:
        per_agency[c["agency"]] = per_agency.get(c["agency"], 0) + 1
    assert per_agency == {a: n for a, n in direct.items() if n}


def test_on_time_views_agree_with_breaches(county, analyst):
    """Supervision caught up: missed deadlines are the overdue breaches,
    month by month and agency by agency."""
    missed = {(r["month"], r["agency"]): r["missed"] for r in analyst.query(
        "SELECT month, agency, missed FROM analytics.on_time_by_agency_month")}
    overdue = {(r["month"], r["agency"]): r["overdue"] for r in analyst.query(
        "SELECT month, agency, overdue FROM analytics.breaches_by_agency_month")}
    assert {k: v for k, v in missed.items() if v} == {k: v for k, v in overdue.items() if v}
    # per step: the same steps, counted the same way
    by_step = analyst.query("SELECT * FROM analytics.on_time_by_step")
    direct = dict(((wf, step), n) for wf, step, n in query(county.db, """
        SELECT i.workflow, s.step, count(*) FROM workflow_steps s
        JOIN workflow_instances i ON i.id = s.instance_id WHERE s.required
        GROUP BY 1, 2"""))
    assert {(r["workflow"], r["step"]): r["required_steps"] for r in by_step} == direct
    for r in by_step:
        assert r["on_time"] + r["late"] + r["overdue_open"] + r["not_yet_due"] == r["steps_due"]
        assert r["on_time_rate"] is None or 0 <= r["on_time_rate"] <= 1
        if r["p50_hours_to_complete"] is not None:
            assert 0 <= r["p50_hours_to_complete"] <= r["p90_hours_to_complete"]
    total_overdue = scalar(county.db, "SELECT count(*) FROM breaches WHERE kind = 'overdue' "
                                      "AND withdrawn_at IS NULL")
    assert sum(r["missed"] for r in by_step) == total_overdue


def test_transfer_duration(county, analyst):
    row, = analyst.query(example("transfer-duration"))
    hours = [float(h) for h, in query(county.db, """
        SELECT round(extract(epoch FROM ended_at - started_at) / 3600, 2)
        FROM workflow_instances WHERE workflow = 'property_transfer' AND state = 'completed'""")]
    assert row["completed"] == len(hours) > 5
    assert 0 < row["p50_hours"] <= row["p90_hours"]
    assert float(row["p50_hours"]) == pytest.approx(percentile_cont(hours, 0.5), abs=0.01)
    assert float(row["p90_hours"]) == pytest.approx(percentile_cont(hours, 0.9), abs=0.01)
    assert 0 <= row["p50_working_days"] <= row["p90_working_days"]
    # a transfer with every step on time takes at most its 4 working days for
    # the registration plus 1 for the utilities: the median one did
    assert row["p50_working_days"] <= 5
    dist = analyst.query(example("transfer-working-days"))
    assert sum(r["transfers"] for r in dist) == row["completed"]
    days = [d for r in dist for d in [r["working_days"]] * r["transfers"]]
    assert float(row["p50_working_days"]) == pytest.approx(percentile_cont(days, 0.5), abs=0.01)
    assert float(row["p90_working_days"]) == pytest.approx(percentile_cont(days, 0.9), abs=0.01)


def test_power_bottleneck(county, analyst):
    rows = analyst.query(example("power-bottleneck"))
    steps = {r[0] for r in query(county.db, """SELECT DISTINCT s.step FROM workflow_steps s
        JOIN workflow_instances i ON i.id = s.instance_id
        WHERE i.workflow = 'power_connection' AND s.required""")}
    assert {r["step"] for r in rows} == steps >= {"accepted", "connected"}
    p90 = [r["p90_hours_to_complete"] for r in rows if r["p90_hours_to_complete"] is not None]
    assert p90 == sorted(p90, reverse=True)
    # the connection itself (days of works) is slower than accepting the application
    assert rows[0]["step"] != "accepted"
    for r in rows:
        assert r["p50_hours_to_complete"] is None or \
            r["p50_hours_to_complete"] <= r["p90_hours_to_complete"]
    by_class = analyst.query(example("power-bottleneck-by-class"))
    classes = {r["connection_class"] for r in by_class}
    assert classes and None not in classes and classes <= {
        "low_voltage", "low_voltage_external", "low_voltage_transformer",
        "high_voltage_single", "high_voltage_dual"}
    assert sum(r["completed"] for r in by_class if r["step"] == "connected") == scalar(
        county.db, """SELECT count(*) FROM workflow_steps s JOIN workflow_instances i
                      ON i.id = s.instance_id WHERE i.workflow = 'power_connection'
                      AND s.step = 'connected' AND s.completed_at IS NOT NULL""")


def test_open_backlog(county, analyst):
    rows = analyst.query(example("open-backlog"))
    direct = dict(query(county.db, """SELECT workflow, count(*) FROM workflow_instances
                                      WHERE state IN ('open', 'suspended') GROUP BY 1"""))
    assert direct, "nothing open after the day: the stopped cases should be"
    assert {r["workflow"]: r["open_instances"] for r in rows} == direct
    for r in rows:
        assert r["age_under_1d"] + r["age_1_to_3d"] + r["age_3_to_7d"] + r["age_over_7d"] \
            == r["open_instances"]
        assert r["with_overdue_steps"] <= r["open_instances"]
    # the day was last month: everything open is older than a week
    assert sum(r["age_over_7d"] for r in rows) == sum(direct.values())
    oldest = analyst.query(example("oldest-open"))
    assert len(oldest) == min(20, sum(direct.values()))
    started = [r["started"] for r in oldest]
    assert started == sorted(started)
    assert started[0].replace(tzinfo=BEIJING) == min(
        r["oldest_started_at"] for r in analyst.query(
            "SELECT oldest_started_at FROM analytics.open_backlog"))
    for r in oldest:
        waiting = r["waiting_for"].split(", ") if r["waiting_for"] else []
        assert len(waiting) == r["overdue_steps"], r


def test_events_per_adapter(county, analyst):
    rows = analyst.query(example("events-per-adapter"))
    assert sum(r["events"] for r in rows) == scalar(county.db, "SELECT count(*) FROM events")
    assert {r["adapter_id"] for r in rows} == {f"{a}-cday" for a in cday.AGENCIES}
    case = analyst.query(example("case-events"))
    assert case[0]["event_type"] == "transfer.accepted"
    assert re.fullmatch(r".\*", case[0]["attrs"]["buyer_name"])


# ---------------------------------------------------------------- the migration

def test_migration_applies_in_new_databases(county):
    """The role exists (cluster-wide): other databases migrate all the same,
    two of them at once."""
    pg = county.pg
    dbs = [pg.create_db("t_an_") for _ in range(2)]
    try:
        runs = [subprocess.Popen([build_path("onenet-hub"), "--db", d, "--migrate-only"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for d in dbs]
        for run in runs:
            out, _ = run.communicate(timeout=60)
            assert run.returncode == 0, out
            assert "schema up to date" in out, out
        for d in dbs:
            assert scalar(d, "SELECT count(*) FROM schema_migrations WHERE version = 4") == 1
            assert analytics_relations(d) == analytics_relations(county.db)
            assert query(d, """SELECT has_table_privilege('onenet_analyst', 'analytics.events',
                                                           'SELECT'),
                                      has_table_privilege('onenet_analyst', 'public.events',
                                                           'SELECT'),
                                      has_function_privilege('onenet_analyst',
                                          'analytics.mask_attrs(jsonb)', 'EXECUTE'),
                                      has_function_privilege('public',
                                          'analytics.mask_attrs(jsonb)', 'EXECUTE'),
                                      has_database_privilege('onenet_analyst',
                                          current_database(), 'CONNECT')""")[0] \
                == (True, False, True, False, True)
    finally:
        for d in dbs:
            pg.drop_db(d.dbname)


def test_migration_creates_missing_role_and_reruns(county):
    """In one transaction, rolled back: with onenet_analyst renamed away the
    migration's text creates it again (NOLOGIN, granted the views); on a
    database that has everything it runs again without error."""
    sql = MIGRATION.read_text(encoding="utf-8")
    admin = county.pg.connect(county.db.dbname, autocommit=False)
    try:
        with admin.cursor() as cur:
            cur.execute("SET LOCAL lock_timeout = '10s'")
            cur.execute("ALTER ROLE onenet_analyst RENAME TO onenet_analyst_was")
            cur.execute(sql)
            cur.execute("""SELECT rolcanlogin,
                                  has_table_privilege('onenet_analyst', 'analytics.steps',
                                                      'SELECT'),
                                  has_table_privilege('onenet_analyst', 'public.workflow_steps',
                                                      'SELECT')
                           FROM pg_roles WHERE rolname = 'onenet_analyst'""")
            assert cur.fetchall() == [(False, True, False)]
    finally:
        admin.rollback()
        admin.close()
    assert scalar(county.db, "SELECT count(*) FROM pg_roles "
                             "WHERE rolname = 'onenet_analyst'") == 1


def test_hubctl_as_analyst_says_so(county, analyst):
    """An analyst whose search_path puts analytics first runs hubctl verify:
    hubctl still reads the onenet tables (not the views of the same name),
    is refused by PostgreSQL, and says to connect as an operator, not that
    the schema is missing."""
    admin = county.pg.connect()
    try:
        with admin.cursor() as cur:
            cur.execute(f'ALTER ROLE "{analyst.name}" SET search_path = analytics, public')
    finally:
        admin.close()
    conninfo = (f"host=127.0.0.1 port={county.pg.port} dbname={county.db.dbname} "
                f"user={analyst.name} password={analyst.password}")
    res = subprocess.run([build_path("hubctl"), "--db", conninfo, "verify"],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert res.returncode == 1, res
    assert "permission denied for table" in res.stderr, res.stderr
    assert "connect as an operator" in res.stderr and "hubctl migrate" not in res.stderr
