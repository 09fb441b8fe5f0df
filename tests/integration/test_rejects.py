"""What the adapters refuse is seen at the centre: each adapter reports its
quarantine with its heartbeats (counts by code, and every quarantined row
once, at most 5 a heartbeat), the hub keeps it in adapters and
adapter_rejects, and operators read it with `hubctl rejects`, /metrics and
the monthly report.

- an adapter fed 14 records, 6 of them refused by it (counted by hand
  below) and 1 whose event type the hub does not know (REJECTED with
  INVALID_FIELD): after its heartbeats the hub holds its counts and each of
  the 7 rows exactly once, with the place, code and reason of the adapter's
  quarantine, even when the adapter is SIGKILLed half way and restarted
  with its report mark lost (every row sent again: none doubled, none
  lost); `hubctl rejects` lists them (filters, --json), /metrics shows
  onenet_adapter_quarantined and its codes, and the monthly report counts
  them by agency and code, made by an analyst's login as well;
- with --once the adapter exits only once its quarantine is reported;
- a hub checks each sample of a heartbeat on its own: a bad one (a code
  that is not a code, a reason over 512 bytes, bytes that are not UTF-8) is
  logged and left out, the heartbeat and the good samples are stored, at
  most 5 samples a heartbeat are taken, the lowest first, and the reply
  confirms exactly what was looked at.
"""

import datetime
import json
import secrets
import signal
import sqlite3
import subprocess

import psycopg2

from conftest import (SANITIZER_RE, bad_credit_code, build_path, make_record, now_ms, query,
                      scalar, start_adapter, start_hub, wait_events, wait_exit, wait_until,
                      write_ndjson)
from test_http import http_hub, promtool, scrape, value

BJ = datetime.timezone(datetime.timedelta(hours=8))


def hubctl(db, *args, timeout=60):
    r = subprocess.run([build_path("hubctl"), "--db", db, *args], capture_output=True,
                       text=True, timeout=timeout)
    assert not SANITIZER_RE.search(r.stderr), r.stderr
    return r


def quarantine(outbox):
    """(id, place, code, reason) of each row of an adapter's quarantine, the
    place as a heartbeat reports it."""
    conn = sqlite3.connect(f"file:{outbox}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute("SELECT id, source, event_id, code, reason FROM quarantine "
                            "ORDER BY id").fetchall()
    finally:
        conn.close()
    return [(i, f"event {e}" if e else s, c, r) for i, s, e, c, r in rows]


def reported_mark(outbox):
    conn = sqlite3.connect(f"file:{outbox}?mode=ro", uri=True, timeout=10)
    try:
        row = conn.execute("SELECT value FROM marks WHERE name = 'quarantine-reported'"
                           ).fetchone()
        return row[0] if row else 0
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def cut(reason, limit=512):
    """REASON as a sample carries it: at most LIMIT bytes, cut at a character."""
    data = reason.encode("utf-8")[:limit]
    return data.decode("utf-8", "ignore")


def county_lines():
    """14 records of the land registry: 7 good, 6 the adapter refuses, 1
    whose event type the hub does not know."""
    good = [make_record(i) for i in range(7)]
    no_case = make_record(102)
    del no_case["case_no"]
    no_time = make_record(103)
    del no_time["occurred_at"]
    lines = [
        good[0],
        '{"case_no": "PY-BDC-2020-000100", "event_type": ',        # 2: cut off, not JSON
        good[1],
        "登记簿第3页",                                               # 4: not JSON
        no_case,                                                     # 5: case_no missing
        good[2],
        no_time,                                                     # 7: occurred_at missing
        make_record(104, keys={"credit_code": bad_credit_code(4)}),  # 8: check character
        good[3],
        make_record(105, case_no=""),                                # 10: case_no empty
        good[4],
        make_record(106, event_type="transfer.unheard_of"),          # 12: the hub refuses it
        good[5],
        good[6],
    ]
    return lines, lines[11]["event_id"]


def test_rejects_reach_the_hub_once_across_a_restart(pg, db, procs, tmp_path):
    hub = http_hub(procs, db)
    spool = tmp_path / "spool"
    spool.mkdir()
    lines, unknown_id = county_lines()
    write_ndjson(spool / "pengyang-land-2020-09-01.ndjson", lines, tmp_rename=True)
    outbox = tmp_path / "land.outbox"

    def held():
        return scalar(db, "SELECT count(*) FROM adapter_rejects")

    adapter = start_adapter(procs, hub.port, str(outbox), spool=str(spool), once=False)
    wait_until(lambda: held() >= 1, timeout=60, what="a first sample at the hub")
    # killed half way (or after the last heartbeat: the restart below
    # resends every row either way), its report mark then lost
    adapter.kill(signal.SIGKILL)
    adapter.wait(timeout=10)
    first = held()
    conn = sqlite3.connect(str(outbox), timeout=10)
    with conn:
        conn.execute("DELETE FROM marks")
    conn.close()

    adapter = start_adapter(procs, hub.port, str(outbox), spool=str(spool), once=False)
    wait_events(db, 7)
    rows = wait_until(lambda: len(quarantine(outbox)) == 7 and quarantine(outbox),
                      timeout=60, what="7 rows in the adapter's quarantine")
    wait_until(lambda: reported_mark(outbox) == rows[-1][0], timeout=60,
               what="the whole quarantine confirmed by the hub")
    assert 1 <= first <= 7

    # the quarantine as counted by hand: lines 2, 4, 5, 7, 8, 10 refused by
    # the adapter, line 12 rejected by the hub
    assert [(p.rsplit(":", 1)[-1] if c == "BAD_RECORD" else p, c) for _, p, c, _ in rows] == [
        ("2", "BAD_RECORD"), ("4", "BAD_RECORD"), ("5", "BAD_RECORD"), ("7", "BAD_RECORD"),
        ("8", "BAD_RECORD"), ("10", "BAD_RECORD"), (f"event {unknown_id}", "INVALID_FIELD")]

    # each row exactly once, as the adapter keeps it
    stored = query(db, "SELECT seq, place, code, reason, event_id, agency, hub_id, "
                       "rejected_at <= reported_at FROM adapter_rejects "
                       "WHERE adapter_id = 'land-it' ORDER BY seq")
    assert [(s, p, c, r) for s, p, c, r, *_ in stored] == \
        [(i, p, c, cut(r)) for i, p, c, r in rows]
    assert [e for *_, e, _, _, _ in stored] == [None] * 6 + [unknown_id]
    assert {(a, h, ok) for *_, a, h, ok in stored} == {("land", "test-hub", True)}
    assert scalar(db, "SELECT count(*) FROM adapter_rejects") == 7
    assert "not JSON" in stored[0][3] and 'field "case_no" is missing' in stored[2][3]
    assert "credit code" in stored[4][3]
    assert stored[6][3].startswith('event_type "transfer.unheard_of" is not known')

    # the counts of the last heartbeat
    wait_until(lambda: query(db, "SELECT quarantined FROM adapters")[0][0] == 7, timeout=30,
               what="the counts at the hub")
    row, = query(db, "SELECT quarantined, quarantined_refused, quarantined_rejected, "
                     "quarantined_by_code FROM adapters WHERE adapter_id = 'land-it'")
    assert row == (7, 6, 1, {"BAD_RECORD": 6, "INVALID_FIELD": 1})

    # hubctl rejects: the totals, then the rows newest first
    r = hubctl(db, "rejects")
    assert r.returncode == 0, r.stderr
    totals, _, listing = r.stdout.partition("Records and events refused at the adapters")
    assert "land-it" in totals and "BAD_RECORD 6, INVALID_FIELD 1" in totals
    for _, place, code, _ in rows:
        assert place in listing, place
    assert "(7 rows)" in listing
    r = hubctl(db, "--json", "rejects")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["adapters"] == [{
        "adapter_id": "land-it", "agency": "land", "quarantined": 7, "refused": 6,
        "rejected": 1, "by_code": {"BAD_RECORD": 6, "INVALID_FIELD": 1}, "reported": 7,
        "last_heartbeat": out["adapters"][0]["last_heartbeat"]}]
    got = out["rows"]
    assert (out["total"], out["next_offset"]) == (7, None)
    assert sorted(x["seq"] for x in got) == [i for i, *_ in rows]
    assert [x["seq"] for x in got] == sorted((x["seq"] for x in got), reverse=True)
    assert {x["place"]: (x["code"], x["reason"], x["event_id"]) for x in got} == {
        p: (c, cut(reason), unknown_id if c != "BAD_RECORD" else None)
        for _, p, c, reason in rows}
    assert all(x["hub_id"] == "test-hub" for x in got)
    r = hubctl(db, "--json", "rejects", "--limit", "2", "--agency", "land")
    assert [x["seq"] for x in json.loads(r.stdout)["rows"]] == [rows[-1][0], rows[-2][0]]
    r = hubctl(db, "--json", "rejects", "--agency", "water")
    assert json.loads(r.stdout) == {"total": 0, "offset": 0, "limit": 50, "next_offset": None,
                                    "rows": [], "adapters": []}
    r = hubctl(db, "--json", "rejects", "--adapter", "land-it", "--since",
               (datetime.datetime.now(BJ) + datetime.timedelta(days=1)).strftime("%Y-%m-%d"))
    assert len(json.loads(r.stdout)["adapters"]) == 1
    assert json.loads(r.stdout)["rows"] == []
    for bad in (["--since", "2020-02-30"], ["--limit", "0"], ["extra"]):
        r = hubctl(db, "rejects", *bad)
        assert r.returncode == 2 and "hubctl rejects --help" in r.stderr, (bad, r.stderr)
    r = hubctl(db, "--help")
    assert "rejects" in r.stdout

    # /metrics
    def gauges():
        _, s = scrape(hub.http_port)
        return (value(s, "onenet_adapter_quarantined", agency="land", adapter="land-it"),
                value(s, "onenet_adapter_quarantined_by_code", agency="land",
                      adapter="land-it", code="BAD_RECORD"),
                value(s, "onenet_adapter_quarantined_by_code", agency="land",
                      adapter="land-it", code="INVALID_FIELD"))
    wait_until(lambda: gauges() == (7, 6, 1), timeout=30, what="the quarantine gauges")
    promtool(scrape(hub.http_port)[0])

    # the monthly report, as an operator and as an analyst: by agency and code
    month = query(db, "SELECT to_char(min(rejected_at) AT TIME ZONE 'Asia/Shanghai', "
                      "'YYYY-MM') FROM adapter_rejects")[0][0]
    assert month == query(db, "SELECT to_char(max(rejected_at) AT TIME ZONE "
                              "'Asia/Shanghai', 'YYYY-MM') FROM adapter_rejects")[0][0]
    name, password = "analyst_rj_" + secrets.token_hex(4), secrets.token_urlsafe(18)
    admin = pg.connect()
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE ROLE "{name}" LOGIN PASSWORD %s IN ROLE onenet_analyst',
                        (password,))
        figures = []
        for who, conninfo in (("operator", db),
                              ("analyst", f"postgresql://{name}:{password}@127.0.0.1:"
                                          f"{pg.port}/{db.dbname}")):
            r = hubctl(conninfo, "--json", "report", "--month", month)
            assert r.returncode == 0, (who, r.stderr)
            figures.append(json.loads(r.stdout)["refused_at_agencies"])
            page = tmp_path / f"{who}.html"
            r = hubctl(conninfo, "report", "--month", month, "--output", str(page))
            assert r.returncode == 0, (who, r.stderr)
            text = page.read_text(encoding="utf-8")
            assert 'id="refused-table"' in text
            assert 'data-agency="land" data-code="BAD_RECORD"' in text
            # the analyst's page holds no reason: no value a record held
            assert "unheard_of" not in text and "PY-BDC-2020-000100" not in text
        with analyst_conn(pg, name, password, db.dbname) as conn, conn.cursor() as cur:
            try:
                cur.execute("SELECT reason FROM public.adapter_rejects")
                raise AssertionError("an analyst read the reasons")
            except psycopg2.errors.InsufficientPrivilege:
                pass
    finally:
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE usename = %s", (name,))
            cur.execute(f'DROP ROLE IF EXISTS "{name}"')
        admin.close()
    assert figures[0] == figures[1]
    assert [(f["agency"], f["code"], f["kind"], f["records"], f["adapters"])
            for f in figures[0]] == [("land", "BAD_RECORD", "refused", 6, 1),
                                     ("land", "INVALID_FIELD", "rejected", 1, 1)]
    assert figures[0][0]["fields"] == ["case_no", "keys.credit_code", "occurred_at"]
    assert figures[0][1]["fields"] == ["event_type"]


class analyst_conn:
    def __init__(self, pg, name, password, dbname):
        self.conn = psycopg2.connect(host="127.0.0.1", port=pg.port, dbname=dbname, user=name,
                                     password=password, connect_timeout=10)
        self.conn.autocommit = True

    def __enter__(self):
        return self.conn

    def __exit__(self, *exc):
        self.conn.close()


def test_once_exits_after_the_quarantine_is_reported(db, procs, tmp_path):
    hub = start_hub(procs, db)
    lines, unknown_id = county_lines()
    path = write_ndjson(tmp_path / "in.ndjson", lines)
    outbox = tmp_path / "land.outbox"
    adapter = start_adapter(procs, hub.port, str(outbox), stdin=path)
    wait_exit(adapter, timeout=60)
    # no wait: --once waited for the hub's confirmation
    assert scalar(db, "SELECT count(*) FROM adapter_rejects") == 7
    assert reported_mark(outbox) == quarantine(outbox)[-1][0]
    assert scalar(db, "SELECT event_id FROM adapter_rejects WHERE code = 'INVALID_FIELD'") \
        == unknown_id


def test_heartbeat_samples_checked_one_by_one(pb, db, procs, hub_client):
    hub = start_hub(procs, db)
    c = hub_client(hub.endpoint)
    at = now_ms() - 60_000

    def heartbeat(samples, counts=None):
        msg = pb.AdapterMessage()
        hb = msg.heartbeat
        hb.adapter_id, hb.agency, hb.sent_at_ms = "raw-1", "land", now_ms()
        if counts is not None:
            hb.quarantine_counted = True
            hb.quarantined = sum(n for _, n in counts)
            for code, n in counts:
                hb.quarantined_by_code.add(code=code, count=n)
        for seq, fields in samples:
            s = hb.rejects.add(seq=seq, place=f"in.ndjson:{seq}", code="BAD_RECORD",
                               reason=f"field \"case_no\" is missing (line {seq})",
                               rejected_at_ms=at + seq)
            for k, v in fields.items():
                setattr(s, k, v)
        return msg.SerializeToString()

    def send(data):
        c.send(data)
        reply = c.recv()
        assert reply.WhichOneof("body") == "heartbeat", reply
        return reply.heartbeat

    # 7 samples out of order: 1 and 2 break a rule, 3 to 5 are stored, 6
    # and 7 wait for the next heartbeat (5 a heartbeat, the lowest first)
    samples = [(6, {}), (2, {"reason": "长" * 171}), (4, {}), (1, {"code": "bad code"}),
               (7, {}), (3, {"event_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
                             "place": "event 0f8fad5b-d9cb-469f-a165-70867728950e",
                             "code": "TIME_OUT_OF_RANGE"}), (5, {})]
    reply = send(heartbeat(samples, [("BAD_RECORD", 6), ("TIME_OUT_OF_RANGE", 1),
                                     ("not a code", 2)]))
    assert reply.rejects_stored_up_to == 5 and reply.store_available
    assert query(db, "SELECT seq, code, event_id FROM adapter_rejects ORDER BY seq") == [
        (3, "TIME_OUT_OF_RANGE", "0f8fad5b-d9cb-469f-a165-70867728950e"),
        (4, "BAD_RECORD", None), (5, "BAD_RECORD", None)]
    assert query(db, "SELECT quarantined, quarantined_refused, quarantined_rejected, "
                     "quarantined_by_code FROM adapters") == [
        (9, 6, 1, {"BAD_RECORD": 6, "TIME_OUT_OF_RANGE": 1})]
    records = hub.log_records()
    refused = [r for r in records if r.get("msg") == "adapter's quarantine sample not stored"]
    assert [(r["adapter"], r["seq"]) for r in refused] == [("raw-1", "1"), ("raw-1", "2")]
    assert "rejects[" in refused[0]["reason"] and "is not a code" in refused[0]["reason"]
    assert "is 513 bytes" in refused[1]["reason"]
    assert any(r.get("msg") == "adapter's quarantine count not stored"
               and r["code"] == "not a code" for r in records)

    # sent again with the rest (a confirmation lost): 3 to 5 not doubled;
    # no counts this time: the stored ones stay
    reply = send(heartbeat([(s, f) for s, f in samples if s >= 3]))
    assert reply.rejects_stored_up_to == 7
    assert [s for s, in query(db, "SELECT seq FROM adapter_rejects ORDER BY seq")] == \
        [3, 4, 5, 6, 7]
    assert query(db, "SELECT quarantined FROM adapters") == [(9,)]

    # a reason that is not UTF-8: left out, the heartbeat stored, confirmed
    raw = heartbeat([(8, {"reason": "R" * 20})], [("BAD_RECORD", 8)])
    raw = raw.replace(b"R" * 20, b"\xff\xfe" + b"R" * 18)
    reply = send(raw)
    assert reply.rejects_stored_up_to == 8
    assert scalar(db, "SELECT count(*) FROM adapter_rejects") == 5
    assert query(db, "SELECT quarantined, quarantined_by_code FROM adapters") == [
        (8, {"BAD_RECORD": 8})]
    assert any(r.get("msg") == "adapter's quarantine sample not stored"
               and r["seq"] == "8" and "not valid UTF-8" in r["reason"]
               for r in hub.log_records())

    # a heartbeat without samples is answered at once, confirming nothing
    assert c.heartbeat(adapter_id="raw-1").rejects_stored_up_to == 0
