"""hubctl for operators (issue 5): dead letters, replay, unmatched events
and the working-day calendar, each against a real hub and a real
PostgreSQL, with hubctl run as a subprocess: exit status, table contents
and --json checked.

- dead letters produced by a hub that does not accept an agency are listed
  (filters, newest first); replayed to a hub that now accepts it they are
  STORED, replayed again DUPLICATE, never stored twice; an unreadable
  message is reported not replayable; an unreachable hub fails with exit 1;
- a CORRELATION_FAILED dead letter is queued for correlation again and the
  hub correlates the event;
- a deed-tax payment with no transfer is listed as parked, then expired;
- the calendar of October 2020 shows National Day and the make-up Saturday;
  operator overrides are set and removed; bad dates are usage errors.
"""

import datetime
import json
import shutil
import subprocess
import time
import unicodedata

from conftest import (ROOT, SANITIZER_RE, build_path, free_port, make_event, new_id, query,
                      scalar, start_hub, unit_number, wait_until)

BJ = datetime.timezone(datetime.timedelta(hours=8))


# ---------------------------------------------------------------- helpers

class Run:
    """A finished hubctl: .rc, .out, .err, .rows (the table, parsed),
    .json (the parsed output of a --json run)."""

    def __init__(self, argv, res):
        self.argv, self.rc, self.out, self.err = argv, res.returncode, res.stdout, res.stderr

    def __repr__(self):
        return (f"hubctl {' '.join(self.argv[1:])} -> exit {self.rc}\n"
                f"--- stdout\n{self.out}--- stderr\n{self.err}")

    @property
    def rows(self):
        return parse_table(self.out)

    @property
    def json(self):
        return json.loads(self.out)


def hubctl(db, *args, json_out=False, expect=0, env=None, timeout=60):
    """Runs hubctl --db DB [--json] ARGS; checks the exit status is EXPECT
    and that no sanitizer spoke."""
    argv = [build_path("hubctl"), "--db", str(db)]
    if json_out:
        argv.append("--json")
    argv += [str(a) for a in args]
    full_env = None
    if env is not None:
        import os
        full_env = dict(os.environ)
        full_env.update(env)
    res = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         timeout=timeout, env=full_env)
    run = Run(argv, res)
    assert not SANITIZER_RE.search(run.err), f"sanitizer report:\n{run!r}"
    if expect is not None:
        assert run.rc == expect, f"expected exit {expect}:\n{run!r}"
    return run


def width(text):
    """Terminal columns of TEXT (wide East Asian characters count 2)."""
    w = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return w


def cut(line, start, end):
    """The characters of LINE between display columns START and END."""
    out, col = [], 0
    for ch in line:
        w = width(ch)
        if col >= start and (end is None or col < end):
            out.append(ch)
        col += w
    return "".join(out).strip()


def parse_table(text):
    """hubctl's aligned table as a list of dicts (values as printed)."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if i > 0 and line and set(line) <= {"-", " "} and line.startswith("-"):
            header, dashes = lines[i - 1], line
            break
    else:
        raise AssertionError(f"no table in:\n{text}")
    spans, col = [], 0
    for part in dashes.split("  "):
        spans.append((col, col + len(part)))
        col += len(part) + 2
    spans[-1] = (spans[-1][0], None)
    names = [cut(header, s, e) for s, e in spans]
    rows = []
    for line in lines[i + 1:]:
        if line.startswith("(") and line.rstrip().endswith(("row)", "rows)")):
            count = int(line[1:].split()[0])
            assert count == len(rows), f"table says {count} rows, has {len(rows)}"
            break
        rows.append({n: cut(line, s, e) for n, (s, e) in zip(names, spans)})
    else:
        raise AssertionError(f"table without a row count:\n{text}")
    return rows


def wait_drained(db, timeout=30.0):
    wait_until(lambda: scalar(db, "SELECT count(*) FROM correlation_backlog") == 0,
               timeout, interval=0.05, what="an empty correlation queue")


def send(client, events, agency=""):
    """One batch; returns the status names."""
    ack = client.request_batch(events, agency=agency)
    return [client.pb.AckStatus.Name(a.status) for a in ack.acks]


# ---------------------------------------------------------------- dead letters, replay

def test_deadletters_and_replay(pb, db, procs, hub_client, tmp_path):
    """Events of an agency the hub does not accept become dead letters;
    after the hub accepts it, replay stores them, a second replay is
    DUPLICATE and stores nothing twice; an unreadable message is not
    replayable; an unreachable hub is exit 1."""
    # a hub for land and tax only (with the definitions that need no other)
    wf = tmp_path / "workflows"
    wf.mkdir()
    for name in ("instant_registration.yaml", "land_change_registration.yaml"):
        shutil.copy(ROOT / "workflows" / name, wf / name)
    hub = start_hub(procs, db, extra=["--agencies", "land,tax", "--workflows", wf])
    c = hub_client(hub.endpoint)
    power = [make_event(pb, 10 + i, agency="power", adapter_id="power-it",
                        event_type="account.transferred") for i in range(2)]
    good = make_event(pb, 1, event_type="change.accepted")
    assert send(c, [power[0], good, power[1]]) == ["REJECTED", "STORED", "REJECTED"]
    time.sleep(0.05)  # distinct last_seen for the ordering below
    err = c.request_error(b"not protobuf \xff\xfe\x00")
    assert err.code == pb.MALFORMED

    # --- deadletters
    run = hubctl(db, "deadletters")
    rows = run.rows
    assert [r["code"] for r in rows] == ["MALFORMED", "UNKNOWN_AGENCY", "UNKNOWN_AGENCY"], run
    # the reason last, cut at 120 characters in the table (whole in --json)
    assert list(rows[0]) == ["id", "first_seen", "last_seen", "attempts", "sender", "agency",
                             "event_id", "case_no", "event_type", "code", "replayed",
                             "reason"]
    assert all(len(r["reason"]) <= 120 for r in rows)
    assert {r["event_id"] for r in rows[1:]} == {e.event_id for e in power}
    for r in rows[1:]:
        assert r["agency"] == "power" and r["sender"] == "it-raw" and r["attempts"] == "1"
        assert r["replayed"] == "no" and r["event_type"] == "account.transferred"
        assert '"power"' in r["reason"] and r["case_no"].startswith("PY-RAW-")
    assert rows[0]["agency"] == "-" and rows[0]["event_id"] == "-"
    assert rows[0]["sender"].startswith("peer:")
    ids = {r["event_id"]: int(r["id"]) for r in rows[1:]}
    malformed_id = int(rows[0]["id"])

    assert len(hubctl(db, "deadletters", "--code", "UNKNOWN_AGENCY").rows) == 2
    assert len(hubctl(db, "deadletters", "--code", "unknown_agency").rows) == 2
    assert len(hubctl(db, "deadletters", "--agency", "power").rows) == 2
    assert len(hubctl(db, "deadletters", "--agency", "land").rows) == 0
    assert len(hubctl(db, "deadletters", "--limit", "1").rows) == 1
    today = datetime.datetime.now(BJ).date()
    assert len(hubctl(db, "deadletters", "--since", today.isoformat()).rows) == 3
    tomorrow = today + datetime.timedelta(days=1)
    assert len(hubctl(db, "deadletters", "--since", tomorrow.isoformat()).rows) == 0
    js = hubctl(db, "deadletters", "--code", "UNKNOWN_AGENCY", json_out=True).json
    assert (js["total"], js["offset"], js["next_offset"]) == (2, 0, None)
    js = js["rows"]
    assert len(js) == 2 and all(isinstance(o["id"], int) for o in js)
    assert all(o["replayed"] is False and o["replayed_at"] is None for o in js)
    assert {o["event_id"] for o in js} == set(ids)
    bad = hubctl(db, "deadletters", "--since", "2020-02-30", expect=2)
    assert "2020-02-30" in bad.err
    assert "--limit" in hubctl(db, "deadletters", "--limit", "0", expect=2).err
    hubctl(db, "deadletters", "surplus", expect=2)
    assert "Usage" in hubctl(db, "deadletters", "--help").out

    # --- replay to the hub that still refuses the agency: REJECTED again, exit 1
    run = hubctl(db, "replay", "--hub", hub.endpoint, "--code", "UNKNOWN_AGENCY", expect=1)
    assert {r["outcome"] for r in run.rows} == {"REJECTED"}, run
    assert all("UNKNOWN_AGENCY" in r["reason"] for r in run.rows)
    assert "REJECTED" in run.err
    assert query(db, "SELECT attempts, replayed_at FROM dead_letters WHERE code = "
                     "'UNKNOWN_AGENCY'") == [(2, None), (2, None)]

    # --- the hub accepts power now
    hub.terminate()
    hub = start_hub(procs, db)
    before = scalar(db, "SELECT count(*) FROM events")
    run = hubctl(db, "replay", "--hub", hub.endpoint, *ids.values(), malformed_id)
    out = {int(r["id"]): r for r in run.rows}
    assert list(run.rows[0]) == ["id", "event_id", "code", "outcome", "reason"]
    assert {i: out[i]["outcome"] for i in ids.values()} == {i: "STORED" for i in ids.values()}
    assert out[malformed_id]["outcome"] == "NOT_REPLAYABLE"
    assert "not a case event" in out[malformed_id]["reason"]
    assert "2 replayed, 1 not replayable" in run.out
    assert scalar(db, "SELECT count(*) FROM events") == before + 2
    stored = query(db, "SELECT event_id::text, agency, adapter_id FROM events "
                       "WHERE agency = 'power' ORDER BY 1")
    assert stored == sorted((e.event_id, "power", "power-it") for e in power)
    assert scalar(db, "SELECT count(*) FROM dead_letters WHERE replayed_at IS NOT NULL") == 2
    assert scalar(db, "SELECT replayed_at FROM dead_letters WHERE id = %s",
                  (malformed_id,)) is None
    listed = {r["id"]: r["replayed"] for r in hubctl(db, "deadletters").rows}
    assert listed == {str(malformed_id): "no", **{str(i): "yes" for i in ids.values()}}

    # --- again: DUPLICATE, nothing stored twice; --json
    js = hubctl(db, "replay", "--hub", hub.endpoint, *ids.values(), json_out=True).json
    assert sorted((o["id"], o["outcome"]) for o in js) == sorted(
        (i, "DUPLICATE") for i in ids.values())
    assert {o["event_id"] for o in js} == set(ids)
    assert scalar(db, "SELECT count(*) FROM events") == before + 2
    assert scalar(db, "SELECT count(*) FROM events WHERE agency = 'power'") == 2

    # --all: only what is not replayed yet (the unreadable message)
    run = hubctl(db, "replay", "--hub", hub.endpoint, "--all")
    assert [(int(r["id"]), r["outcome"]) for r in run.rows] == [
        (malformed_id, "NOT_REPLAYABLE")]
    run = hubctl(db, "replay", "--hub", hub.endpoint, "--code", "UNKNOWN_AGENCY")
    assert "Nothing to replay" in run.out
    assert hubctl(db, "replay", "--code", "UNKNOWN_AGENCY", json_out=True).json == []

    # --- the hub cannot be reached: exit 1, nothing marked
    dead = f"tcp://127.0.0.1:{free_port()}"
    first = min(ids.values())
    t0 = time.monotonic()
    run = hubctl(db, "replay", "--timeout", "1", first, expect=1, env={"ONENET_HUB": dead})
    assert time.monotonic() - t0 < 15
    assert "did not answer" in run.err and dead in run.err, run
    assert run.rows[0]["outcome"] == "NO_ANSWER"
    # the default timeout is 10 s
    t0 = time.monotonic()
    run = hubctl(db, "replay", "--hub", dead, first, expect=1)
    assert 9 <= time.monotonic() - t0 < 30 and "within 10 s" in run.err, run

    # --- what was asked for is not there; usage
    run = hubctl(db, "replay", "--hub", hub.endpoint, 999999, first, expect=1)
    assert "999999" in run.err and "deadletters" in run.err
    assert scalar(db, "SELECT count(*) FROM events WHERE agency = 'power'") == 2
    hubctl(db, "replay", expect=2)
    hubctl(db, "replay", "--all", first, expect=2)
    hubctl(db, "replay", "--all", "--code", "MALFORMED", expect=2)
    assert "not a dead letter id" in hubctl(db, "replay", "abc", expect=2).err
    assert "Usage" in hubctl(db, "replay", "--help").out
    assert hub.alive()


def test_replay_many(pb, db, procs, hub_client, tmp_path):
    """Hundreds of dead letters are replayed in several batches, each
    answered; replay --all then finds nothing left."""
    wf = tmp_path / "workflows"
    wf.mkdir()
    shutil.copy(ROOT / "workflows" / "instant_registration.yaml", wf)
    hub = start_hub(procs, db, extra=["--agencies", "land,tax", "--workflows", wf])
    c = hub_client(hub.endpoint)
    events = [make_event(pb, 500 + i, agency="gas", adapter_id="gas-it",
                         event_type="account.transferred") for i in range(230)]
    assert set(send(c, events)) == {"REJECTED"}
    hub.terminate()
    hub = start_hub(procs, db)
    run = hubctl(db, "replay", "--hub", hub.endpoint, "--all")
    assert len(run.rows) == 230 and {r["outcome"] for r in run.rows} == {"STORED"}
    assert [int(r["id"]) for r in run.rows] == sorted(int(r["id"]) for r in run.rows)
    assert "230 replayed" in run.out
    assert scalar(db, "SELECT count(*) FROM events WHERE agency = 'gas'") == 230
    assert "Nothing to replay" in hubctl(db, "replay", "--hub", hub.endpoint, "--all").out
    assert hub.log().count('msg="event rejected"') == 0


def test_replay_correlation_failed(pb, db, procs):
    """A stored event the correlator set aside (CORRELATION_FAILED, its
    queue row gone) is queued again by replay, without a hub endpoint, and
    the hub correlates it: the queue drains and the case has its instance."""
    hub = start_hub(procs, db)
    unit, control = unit_number(77001), unit_number(77002)
    event_id = new_id()
    conn = db.connect()
    try:
        with conn.cursor() as cur:
            # stored, and set aside: no queue row, a dead letter instead
            cur.execute("""
                INSERT INTO events (event_id, agency, adapter_id, case_no, event_type,
                    occurred_at, received_at, schema_version, keys, attrs, hub_id)
                VALUES (%s, 'land', 'land-it', 'PY-BDC-77001', 'transfer.accepted',
                    now() - interval '1 hour', now(), 1, %s, %s, 'test-hub')""",
                        (event_id, json.dumps({"unit_number": unit}),
                         json.dumps({"has_mortgage": False})))
            cur.execute("DELETE FROM correlation_queue WHERE event_id = %s", (event_id,))
            cur.execute("""
                INSERT INTO dead_letters (hub_id, sender, agency, event_id, case_no,
                    event_type, code, reason)
                VALUES ('test-hub', 'land-it', 'land', %s, 'PY-BDC-77001',
                    'transfer.accepted', 'CORRELATION_FAILED',
                    'correlation failed: test') RETURNING id""", (event_id,))
            dl_id = cur.fetchone()[0]
            # a control event, stored and queued: once the hub has correlated
            # it, it has had its chance to take the set-aside one too
            cur.execute("""
                INSERT INTO events (event_id, agency, adapter_id, case_no, event_type,
                    occurred_at, received_at, schema_version, keys, attrs, hub_id)
                VALUES (%s, 'land', 'land-it', 'PY-BDC-77002', 'transfer.accepted',
                    now() - interval '1 hour', now(), 1, %s, %s, 'test-hub')""",
                        (new_id(), json.dumps({"unit_number": control}),
                         json.dumps({"has_mortgage": False})))
            cur.execute("INSERT INTO correlation_queue (event_id) SELECT event_id FROM events "
                        "WHERE case_no = 'PY-BDC-77002' ON CONFLICT DO NOTHING")
    finally:
        conn.close()
    wait_until(lambda: scalar(db, "SELECT count(*) FROM workflow_instances WHERE "
                                  "key_value = %s", (control,)) == 1,
               timeout=60, what="the control event correlated")
    assert scalar(db, "SELECT count(*) FROM workflow_instances WHERE key_value = %s",
                  (unit,)) == 0, "the event is not queued, so not correlated"

    run = hubctl(db, "deadletters", "--code", "CORRELATION_FAILED")
    assert [(r["id"], r["event_id"], r["replayed"]) for r in run.rows] == [
        (str(dl_id), event_id, "no")]
    # no hub is contacted for these: an endpoint nobody listens on is fine
    nowhere = {"ONENET_HUB": f"tcp://127.0.0.1:{free_port()}"}
    run = hubctl(db, "replay", "--code", "CORRELATION_FAILED", env=nowhere)
    assert [(r["id"], r["event_id"], r["outcome"]) for r in run.rows] == [
        (str(dl_id), event_id, "REQUEUED")], run
    wait_drained(db)
    inst = query(db, "SELECT workflow, start_event::text, events FROM workflow_instances "
                     "WHERE key_value = %s ORDER BY workflow", (unit,))
    assert ("property_transfer", event_id, 1) in inst, inst
    assert scalar(db, "SELECT count(*) FROM case_keys WHERE event_id = %s", (event_id,)) == 1
    assert scalar(db, "SELECT replayed_at IS NOT NULL FROM dead_letters WHERE id = %s",
                  (dl_id,))
    assert hubctl(db, "deadletters", "--code", "CORRELATION_FAILED").rows[0][
        "replayed"] == "yes"

    # again, by id: harmless, still one instance with one event
    js = hubctl(db, "replay", dl_id, json_out=True, env=nowhere).json
    assert [(o["id"], o["outcome"]) for o in js] == [(dl_id, "REQUEUED")]
    wait_drained(db)
    assert query(db, "SELECT workflow, start_event::text, events FROM workflow_instances "
                     "WHERE key_value = %s ORDER BY workflow", (unit,)) == inst
    assert hub.alive()


# ---------------------------------------------------------------- unmatched

def test_unmatched(pb, db, procs, hub_client):
    """A deed-tax payment with no transfer is listed as parked; once its
    time to live passed supervision marks it expired and it is listed so."""
    hub = start_hub(procs, db, extra=["--supervise-interval-ms", "200"])
    c = hub_client(hub.endpoint)
    unit = unit_number(88001)
    t = int(datetime.datetime(2020, 9, 28, 9, 0, tzinfo=BJ).timestamp() * 1000)
    paid = make_event(pb, 0, agency="tax", adapter_id="tax-it", event_type="deed_tax.paid",
                      keys=[(pb.UNIT_NUMBER, unit)], occurred_at_ms=t, case_no="PY-TAX-1")
    assert send(c, [paid], agency="tax") == ["STORED"]
    wait_drained(db)

    run = hubctl(db, "unmatched")
    assert len(run.rows) == 1, run
    r = run.rows[0]
    assert list(r) == ["event_id", "key_kind", "key", "agency", "event_type", "occurred",
                       "parked", "expires", "expired"]
    assert (r["event_id"], r["key_kind"], r["key"], r["agency"], r["event_type"]) == (
        paid.event_id, "unit_number", unit, "tax", "deed_tax.paid")
    assert r["occurred"] == "2020-09-28 09:00:00" and r["expired"] == "-"
    parked = datetime.datetime.strptime(r["parked"], "%Y-%m-%d %H:%M:%S")
    expires = datetime.datetime.strptime(r["expires"], "%Y-%m-%d %H:%M:%S")
    assert abs((expires - parked).total_seconds() - 14 * 86400) <= 2
    assert len(hubctl(db, "unmatched", "--parked").rows) == 1
    assert len(hubctl(db, "unmatched", "--expired").rows) == 0
    assert len(hubctl(db, "unmatched", "--agency", "land").rows) == 0
    assert len(hubctl(db, "unmatched", "--agency", "tax", "--key", unit).rows) == 1
    js = hubctl(db, "unmatched", json_out=True).json["rows"]
    assert [(o["event_id"], o["key"], o["expired"]) for o in js] == [
        (paid.event_id, unit, None)]
    hubctl(db, "unmatched", "--expired", "--parked", expect=2)
    hubctl(db, "unmatched", "--limit", "x", expect=2)

    # its time to live passes: supervision marks it expired
    query_conn = db.connect()
    try:
        with query_conn.cursor() as cur:
            cur.execute("UPDATE unmatched_events SET expires_at = now() - interval '1 s' "
                        "WHERE event_id = %s", (paid.event_id,))
    finally:
        query_conn.close()
    wait_until(lambda: scalar(db, "SELECT expired_at IS NOT NULL FROM unmatched_events "
                                  "WHERE event_id = %s", (paid.event_id,)),
               timeout=10, what="the parked event expired")
    run = hubctl(db, "unmatched", "--expired")
    assert [r["event_id"] for r in run.rows] == [paid.event_id] and run.rows[0]["expired"] != "-"
    assert hubctl(db, "unmatched", "--parked").rows == []
    assert hubctl(db, "unmatched", "--expired", json_out=True).json["rows"][0]["expired"]
    assert hub.alive()


# ---------------------------------------------------------------- calendar

def month(db, ym, **kw):
    run = hubctl(db, "calendar", ym, **kw)
    return run, {r["date"]: r for r in run.rows}


def test_calendar(db, procs):
    """October 2020 as the hubs count it; operator overrides set and
    removed; official days protected; bad dates are usage errors."""
    start_hub(procs, db)
    wait_until(lambda: scalar(db, "SELECT count(*) FROM calendar_days WHERE "
                                  "day BETWEEN '2020-01-01' AND '2020-12-31'") > 0,
               timeout=30, what="the official calendar seeded")

    run, days = month(db, "2020-10")
    assert len(days) == 31 and list(run.rows[0]) == ["date", "weekday", "working", "why"]
    for d in range(1, 9):   # National Day and Mid-Autumn: 10-01 .. 10-08 off
        day = days[f"2020-10-{d:02d}"]
        assert day["working"] == "no", day
        if day["weekday"] not in ("Sat", "Sun"):
            assert "国庆节" in day["why"] and "official" in day["why"], day
    assert days["2020-10-03"]["weekday"] == "Sat" and days["2020-10-03"]["why"] == "weekend"
    mkup = days["2020-10-10"]
    assert (mkup["weekday"], mkup["working"]) == ("Sat", "yes"), mkup
    assert "国庆节" in mkup["why"] and "official" in mkup["why"] and "make-up" in mkup["why"]
    assert days["2020-10-09"] == {"date": "2020-10-09", "weekday": "Fri", "working": "yes",
                                  "why": "-"}
    assert days["2020-10-11"]["working"] == "no" and days["2020-10-11"]["why"] == "weekend"
    working = sum(d["working"] == "yes" for d in days.values())
    # 22 weekdays, 6 of them off, and the make-up Saturday
    assert working == 17 and "2020-10: 17 working days, 14 days off" in run.out
    js = {o["date"]: o for o in hubctl(db, "calendar", "2020-10", json_out=True).json}
    assert js["2020-10-10"]["working"] is True and js["2020-10-10"]["source"] == "official"
    assert js["2020-10-01"]["working"] is False and js["2020-10-01"]["name"] == "国庆节、中秋节"
    assert js["2020-10-09"]["source"] is None and js["2020-10-09"]["working"] is True

    # an operator's day off, with a note
    run = hubctl(db, "calendar", "set", "2020-10-09", "off", "--name", "防汛停工")
    assert "2020-10-09" in run.out and "day off" in run.out and "within a minute" in run.out
    assert query(db, "SELECT workday, name, source FROM calendar_days "
                     "WHERE day = '2020-10-09'") == [(False, "防汛停工", "operator")]
    _, days = month(db, "2020-10")
    assert days["2020-10-09"]["working"] == "no"
    assert days["2020-10-09"]["why"] == "防汛停工 operator, day off"
    # an operator overrides an official day; unset brings the official one back
    js = hubctl(db, "calendar", "set", "2020-10-01", "work", json_out=True).json
    assert js["working"] is True and js["previous_working"] is False
    assert js["previous_source"] == "official" and js["source"] == "operator"
    _, days = month(db, "2020-10")
    assert days["2020-10-01"]["working"] == "yes" and "operator" in days["2020-10-01"]["why"]
    run = hubctl(db, "calendar", "unset", "2020-10-01")
    assert "official" in run.out
    assert query(db, "SELECT workday, name, source FROM calendar_days "
                     "WHERE day = '2020-10-01'") == [(False, "国庆节、中秋节", "official")]
    # unset the note: the weekend rule again
    run = hubctl(db, "calendar", "unset", "2020-10-09")
    assert "weekend rule" in run.out
    assert scalar(db, "SELECT count(*) FROM calendar_days WHERE day = '2020-10-09'") == 0
    _, days = month(db, "2020-10")
    assert days["2020-10-09"]["working"] == "yes" and days["2020-10-09"]["why"] == "-"
    run = hubctl(db, "calendar", "unset", "2020-10-09", expect=1)
    assert "2020-10-09" in run.err and "no entry" in run.err
    # an official row is only deleted with --force
    run = hubctl(db, "calendar", "unset", "2020-10-02", expect=1)
    assert "official" in run.err and "--force" in run.err and "2020-10-02" in run.err
    assert scalar(db, "SELECT count(*) FROM calendar_days WHERE day = '2020-10-02'") == 1
    js = hubctl(db, "calendar", "unset", "2020-10-02", "--force", json_out=True).json
    assert js["removed"] == "official" and js["working"] is True
    assert scalar(db, "SELECT count(*) FROM calendar_days WHERE day = '2020-10-02'") == 0

    # a year nobody described: the weekend rule, and a warning
    run, days = month(db, "2031-03")
    assert len(days) == 31 and "2031" in run.err
    run = hubctl(db, "calendar", "set", "2031-03-03", "off")
    assert "2031" in run.err
    # this month (Beijing time) by default
    run = hubctl(db, "calendar")
    now = datetime.datetime.now(BJ)
    assert all(d.startswith(now.strftime("%Y-%m-")) for d in (r["date"] for r in run.rows))
    assert len(run.rows) >= 28

    # bad input: exit 2, naming it
    for args in (["set", "2020-02-30", "off"], ["unset", "2020-02-30"], ["2020-13"],
                 ["set", "2020-10-09", "maybe"], ["set", "20201009", "off"],
                 ["set", "2020-10-09"], ["unset", "2020-10-09", "--name", "x"],
                 ["2020-10", "2020-11"]):
        run = hubctl(db, "calendar", *args, expect=2)
        assert "Try 'hubctl calendar --help'" in run.err, run
    assert "2020-02-30" in hubctl(db, "calendar", "set", "2020-02-30", "off", expect=2).err
    assert "Usage" in hubctl(db, "calendar", "--help").out
    assert "Usage" in hubctl(db, "calendar", "set", "--help").out
    assert "Usage" in hubctl(db, "unmatched", "--help").out


def test_no_database(tmp_path):
    """An unreachable database: exit 1 and a hint, for each command."""
    nowhere = f"postgresql://onenet@127.0.0.1:{free_port()}/none?connect_timeout=2"
    for args in (["deadletters"], ["unmatched"], ["calendar", "2020-10"],
                 ["replay", "--all"], ["calendar", "set", "2020-10-09", "off"]):
        run = hubctl(nowhere, *args, expect=1)
        assert "--db" in run.err, run
