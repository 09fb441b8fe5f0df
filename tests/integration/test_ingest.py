"""Events sent by adapters are stored exactly once and acknowledged;
redelivered ids are absorbed; heartbeats are answered and recorded."""

import datetime
import json
import subprocess
import sys
from collections import Counter

from conftest import (HUB_ID, ROOT, Feeder, build_path, credit_code, free_port, event_count, make_event,
                      make_record, now_ms, outbox_count, query, scalar, start_adapter,
                      start_hub, unit_number, wait_exit, wait_until,
                      write_ndjson)

SAMPLE_AGENCIES = ("tax", "land", "power", "water", "bank")


def utc(text):
    """An RFC 3339 text as an aware datetime."""
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


TIME_ATTRS = ("registered_at", "signed_at")   # checked on their own below


def canonical(agency, case_no, event_type, occurred_at, keys, attrs):
    # JSON has one number type: 14316.0 may come back as 14316
    attrs = {k: int(v) if isinstance(v, float) and v.is_integer() else v
             for k, v in attrs.items() if k not in TIME_ATTRS}
    return (agency, case_no, event_type, occurred_at.timestamp(),
            json.dumps(keys, sort_keys=True, ensure_ascii=False),
            json.dumps(attrs, sort_keys=True, ensure_ascii=False))


def special_records():
    """Records whose every column is checked in detail."""
    return [
        {"event_id": "3f0c6a2e-8d9b-4c1e-9a57-0b1d2c3e4f50",
         "case_no": "彭不动产受〔2020〕第000726号",
         "event_type": "transfer.accepted",
         "occurred_at": "2020-09-01T09:31:07+08:00",
         "keys": {"unit_number": "640425001002GB00123F00010001",
                  "credit_code": credit_code(12345)},
         "attrs": {"has_mortgage": True,
                   "is_first_home": False,
                   "deed_tax_yuan": 12000.5,
                   "area_m2": 0.1,
                   "price_yuan": 389951,
                   "big": 2 ** 62 + 1,
                   "negative": -7,
                   "buyer_name": "刘静",
                   "location": "彭阳县白阳镇兴彭路4号 🏠",
                   "awkward": "tab\there, newline\nthere, back\\slash, \"quoted\", \\N",
                   "registered_at": {"time": "2020-09-01T10:00:00+08:00"},
                   "signed_at": {"time": "2020-09-01T01:02:03.250Z"}}},
        {"event_id": "9B2E4C1A-7D3F-4E5A-8B6C-1D2E3F4A5B6C",   # upper case on the wire
         "case_no": "PY-BDC-2020-SPECIAL-2",
         "event_type": "mortgage.registered",
         "occurred_at": "2020-09-02T16:45:00.500-02:30",
         "keys": {"unit_number": unit_number(777)},
         "attrs": {}},
    ]


def test_ingest_basic(pb, db, procs, tmp_path):
    """2000 synthetic records plus a day of Pengyang sample records, from six
    adapters at once: every record is stored once, with its exact content,
    and every adapter's outbox is empty when it exits."""
    hub = start_hub(procs, db)

    sample_dir = tmp_path / "sample"
    subprocess.run([sys.executable, str(ROOT / "deploy/sample/pengyang_sample.py"),
                    "--date", "2020-09-01", "--cases", "200", "--format", "generic",
                    "--out", str(sample_dir)],
                   check=True, timeout=120)

    synthetic = [make_record(i) for i in range(2000)] + special_records()
    write_ndjson(tmp_path / "synthetic.ndjson", synthetic)

    adapters = [start_adapter(procs, hub.port, str(tmp_path / "synthetic.outbox"),
                              agency="land", adapter_id="land-synthetic",
                              stdin=tmp_path / "synthetic.ndjson")]
    outboxes = [tmp_path / "synthetic.outbox"]
    expected = Counter()
    for agency in SAMPLE_AGENCIES:
        path = sample_dir / f"{agency}.ndjson"
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
        assert lines, f"the sample generator wrote no {agency} records"
        for ln in set(lines):
            r = json.loads(ln)
            expected[canonical(agency, r["case_no"], r["event_type"], utc(r["occurred_at"]),
                               r.get("keys", {}), r.get("attrs", {}))] += 1
        outbox = tmp_path / f"{agency}.outbox"
        outboxes.append(outbox)
        adapters.append(start_adapter(procs, hub.port, str(outbox), agency=agency,
                                      adapter_id=f"{agency}-sample", stdin=path))
    for r in synthetic:
        expected[canonical("land", r["case_no"], r["event_type"], utc(r["occurred_at"]),
                           r["keys"], r["attrs"])] += 1

    for a in adapters:
        wait_exit(a, timeout=120)
    for outbox in outboxes:
        assert outbox_count(outbox) == 0, f"{outbox}: events left unacknowledged"
        assert outbox_count(outbox, "quarantine") == 0, f"{outbox}: records quarantined"

    total = sum(expected.values())
    assert event_count(db) == (total, total)
    rows = query(db, "SELECT agency, case_no, event_type, occurred_at, keys, attrs"
                     " FROM events")
    got = Counter(canonical(*row) for row in rows)
    assert got == expected

    # explicit event ids are kept, in canonical lower case
    ids = {r[0] for r in query(db, "SELECT event_id::text FROM events"
                                   " WHERE adapter_id = 'land-synthetic'")}
    assert ids == {r["event_id"].lower() for r in synthetic}

    # every column of the special records
    first, second = special_records()
    row = query(db, "SELECT agency, adapter_id, case_no, event_type, occurred_at,"
                    " accepted_at, received_at, stored_at, schema_version, keys, attrs,"
                    " hub_id FROM events WHERE event_id = %s", (first["event_id"],))
    assert len(row) == 1
    (agency, adapter_id, case_no, event_type, occurred_at, accepted_at, received_at,
     stored_at, schema_version, keys, attrs, hub_id) = row[0]
    assert (agency, adapter_id, case_no, event_type) == (
        "land", "land-synthetic", first["case_no"], "transfer.accepted")
    assert occurred_at == datetime.datetime(2020, 9, 1, 1, 31, 7,
                                            tzinfo=datetime.timezone.utc)
    assert schema_version == 1 and hub_id == HUB_ID
    assert accepted_at is not None and received_at is not None
    assert accepted_at <= received_at + datetime.timedelta(milliseconds=1)
    assert received_at <= stored_at + datetime.timedelta(milliseconds=1)
    assert keys == first["keys"]
    times = {name: attrs.pop(name) for name in TIME_ATTRS}
    plain = {k: v for k, v in first["attrs"].items() if k not in times}
    assert attrs == plain
    assert isinstance(attrs["price_yuan"], int) and attrs["big"] == 2 ** 62 + 1
    assert attrs["has_mortgage"] is True and attrs["is_first_home"] is False
    assert isinstance(attrs["deed_tax_yuan"], float)
    assert utc(times["registered_at"]) == utc("2020-09-01T02:00:00Z")
    assert utc(times["signed_at"]) == utc("2020-09-01T01:02:03.250Z")

    row = query(db, "SELECT event_id::text, case_no, event_type, occurred_at, keys, attrs"
                    " FROM events WHERE case_no = %s", (second["case_no"],))
    assert row == [(second["event_id"].lower(), second["case_no"], "mortgage.registered",
                    utc("2020-09-02T19:15:00.500Z"), second["keys"], {})]
    assert scalar(db, "SELECT count(*) FROM dead_letters") == 0


def test_duplicates_raw(pb, db, procs, hub_client):
    """The same id twice in one batch, the batch again, the id in upper
    case (a duplicate), and the id with other content (a conflict): one
    row, unchanged."""
    hub = start_hub(procs, db)
    c = hub_client(hub.endpoint)
    S, D = pb.STORED, pb.DUPLICATE

    e1 = make_event(pb, 1)
    ack = c.request_batch([e1, e1])
    assert [a.status for a in ack.acks] == [S, D]
    assert [a.event_id for a in ack.acks] == [e1.event_id, e1.event_id]
    assert event_count(db) == (1, 1)
    before = query(db, "SELECT * FROM events")

    ack = c.request_batch([e1, e1])
    assert [a.status for a in ack.acks] == [D, D]

    upper = pb.CaseEvent()
    upper.CopyFrom(e1)
    upper.event_id = e1.event_id.upper()
    other = pb.CaseEvent()
    other.CopyFrom(e1)
    other.case_no = "PY-RAW-CHANGED"
    other.attributes[0].integer = 999
    ack = c.request_batch([upper, other])
    assert [(a.status, a.code) for a in ack.acks] == [(D, pb.ERROR_NONE),
                                                      (pb.REJECTED, pb.CONFLICT)]
    assert query(db, "SELECT * FROM events") == before, "a duplicate changed the row"

    # a new id, first in upper case and then in lower case, in one batch
    e2 = make_event(pb, 2)
    e2_upper = pb.CaseEvent()
    e2_upper.CopyFrom(e2)
    e2_upper.event_id = e2.event_id.upper()
    ack = c.request_batch([e2_upper, e2, make_event(pb, 3)])
    assert [a.status for a in ack.acks] == [S, D, S]
    assert ack.acks[0].event_id == e2_upper.event_id   # answered as sent
    assert event_count(db) == (3, 3)
    assert scalar(db, "SELECT count(*) FROM events WHERE event_id = %s",
                  (e2.event_id,)) == 1

    # two batches with the same id, in flight at once
    e4 = make_event(pb, 4)
    s1 = c.send_batch([e4])
    s2 = c.send_batch([e4])
    statuses = {}
    for _ in range(2):
        reply = c.recv()
        statuses[reply.ack.batch_seq] = reply.ack.acks[0].status
    assert sorted(statuses) == sorted([s1, s2])
    assert sorted(statuses.values()) == [S, D]
    assert event_count(db) == (4, 4)
    # only the conflicting copy of e1 was refused
    assert query(db, "SELECT event_id, code FROM dead_letters") == [(e1.event_id, "CONFLICT")]


def test_duplicates_adapter(pb, db, procs, tmp_path):
    """Feeding the same NDJSON file twice (ids given and derived) adds no
    row and changes none."""
    hub = start_hub(procs, db)
    records = [make_record(i) for i in range(250)] + \
              [make_record(i, event_id=None) for i in range(250, 500)]
    path = write_ndjson(tmp_path / "in.ndjson", records)

    a1 = start_adapter(procs, hub.port, str(tmp_path / "first.outbox"), stdin=path)
    wait_exit(a1, timeout=120)
    assert event_count(db) == (500, 500)
    before = query(db, "SELECT * FROM events ORDER BY event_id")

    # a fresh outbox (a reinstalled adapter), and the same outbox again
    a2 = start_adapter(procs, hub.port, str(tmp_path / "second.outbox"), stdin=path,
                       adapter_id="land-it-2")
    wait_exit(a2, timeout=120)
    a3 = start_adapter(procs, hub.port, str(tmp_path / "first.outbox"), stdin=path)
    wait_exit(a3, timeout=120)
    assert query(db, "SELECT * FROM events ORDER BY event_id") == before
    for name in ("first.outbox", "second.outbox"):
        assert outbox_count(tmp_path / name) == 0
        assert outbox_count(tmp_path / name, "quarantine") == 0
    assert scalar(db, "SELECT count(*) FROM dead_letters") == 0


def test_heartbeat(pb, db, procs, hub_client, tmp_path):
    """A heartbeat is answered at once with the hub's id and store state;
    adapters' heartbeats land in the adapters table."""
    hub = start_hub(procs, db)
    c = hub_client(hub.endpoint)
    t0 = now_ms()
    reply = c.heartbeat(adapter_id="raw-hb", agency="water")
    assert reply.hub_id == HUB_ID
    assert reply.store_available is True
    assert abs(reply.hub_time_ms - t0) < 60_000
    wait_until(lambda: query(db, "SELECT agency, hub_id FROM adapters"
                                 " WHERE adapter_id = 'raw-hb'") == [("water", HUB_ID)],
               timeout=15, what="raw heartbeat row")

    adapter = start_adapter(procs, hub.port, str(tmp_path / "hb.outbox"), agency="power",
                            adapter_id="power-hb", stdin="pipe")

    def row():
        rows = query(db, "SELECT agency, outbox_depth, hub_id, last_heartbeat FROM adapters"
                         " WHERE adapter_id = 'power-hb'")
        return rows[0] if rows else None
    first = wait_until(row, timeout=15, what="adapter heartbeat row")
    assert first[:3] == ("power", 0, HUB_ID)
    # heartbeats keep coming while the adapter idles
    wait_until(lambda: row()[3] > first[3], timeout=15, what="a later heartbeat")

    feeder = Feeder(adapter, [make_record(i, event_type="account.transferred")
                              for i in range(10)])
    feeder.start()
    feeder.finish()
    wait_exit(adapter, timeout=60)
    assert event_count(db) == (10, 10)


def test_amounts_stored_digit_for_digit(pb, db, procs, hub_client, tmp_path):
    """Amounts and areas come out of analytics.events as the agency wrote
    them: 2718.44 yuan, 84.7 m², not 2718.4400000000001 and
    84.700000000000003; through the raw protocol and through the generic
    adapter reading the agency's JSON text."""
    hub = start_hub(procs, db)
    client = hub_client(hub.endpoint)
    e = make_event(pb, 70)
    for name, value in (("deed_tax_yuan", 2718.44), ("area_m2", 84.7),
                        ("price_yuan", 123456789012.34)):
        e.attributes.add(name=name, number=value)
    assert client.request_batch([e]).acks[0].status == pb.STORED
    record = make_record(71, attrs={"deed_tax_yuan": 2718.44, "area_m2": 84.7,
                                    "loan_yuan": 300000.05})
    write_ndjson(tmp_path / "in.ndjson", [record])
    adapter = start_adapter(procs, hub.port, str(tmp_path / "a.outbox"),
                            stdin=str(tmp_path / "in.ndjson"))
    wait_exit(adapter, timeout=60)
    rows = dict(query(db, "SELECT event_id::text, attrs::text FROM analytics.events"))
    assert '"area_m2": 84.7' in rows[e.event_id] and \
        '"deed_tax_yuan": 2718.44' in rows[e.event_id] and \
        '"price_yuan": 123456789012.34' in rows[e.event_id], rows[e.event_id]
    assert '"area_m2": 84.7' in rows[record["event_id"]] and \
        '"deed_tax_yuan": 2718.44' in rows[record["event_id"]] and \
        '"loan_yuan": 300000.05' in rows[record["event_id"]], rows[record["event_id"]]
    # and as exact numerics, one per row, for sums that must balance
    from decimal import Decimal
    numbers = query(db, "SELECT event_id::text, name, value FROM analytics.event_numbers"
                        " WHERE name LIKE '%%yuan' OR name LIKE '%%m2' ORDER BY 1, 2")
    assert sorted(numbers) == sorted([
        (e.event_id, "area_m2", Decimal("84.7")),
        (e.event_id, "deed_tax_yuan", Decimal("2718.44")),
        (e.event_id, "price_yuan", Decimal("123456789012.34")),
        (record["event_id"], "area_m2", Decimal("84.7")),
        (record["event_id"], "deed_tax_yuan", Decimal("2718.44")),
        (record["event_id"], "loan_yuan", Decimal("300000.05"))]), numbers
    assert scalar(db, "SELECT sum(value) FROM analytics.event_numbers"
                      " WHERE name = 'deed_tax_yuan'") == Decimal("5436.88")


def test_event_id_reused_for_other_content_is_a_conflict(pb, db, procs, hub_client):
    """A redelivery with the same content is a DUPLICATE; the same id with
    other content (a changed case number; a bank event reusing a tax
    event's id) is REJECTED with CONFLICT and kept as a dead letter naming
    both digests, and the stored event is left as it was."""
    import copy
    hub = start_hub(procs, db)
    client = hub_client(hub.endpoint)
    e = make_event(pb, 80, agency="tax", adapter_id="tax-it")
    assert client.request_batch([e], agency="tax").acks[0].status == pb.STORED
    assert client.request_batch([copy.deepcopy(e)], agency="tax").acks[0].status == \
        pb.DUPLICATE
    changed = copy.deepcopy(e)
    changed.case_no = "PY-RAW-CHANGED"
    bank = make_event(pb, 81, agency="bank", adapter_id="bank-it", event_id=e.event_id)
    for other, agency, differs in ((changed, "tax", "case_no"),
                                   (bank, "bank", "agency, case_no, event_type")):
        a = client.request_batch([other], agency=agency).acks[0]
        assert (a.status, a.code) == (pb.REJECTED, pb.CONFLICT), a
        assert a.reason.startswith(f"event id {e.event_id} is already stored with other "
                                   f"content (it differs in {differs}"), a
    assert query(db, "SELECT agency, case_no FROM events WHERE event_id = %s",
                 (e.event_id,)) == [("tax", e.case_no)]
    stored = scalar(db, "SELECT encode(content_digest, 'hex') FROM events")
    code, reason, attempts = query(db, "SELECT code, reason, attempts FROM dead_letters")[0]
    assert (code, attempts) == ("CONFLICT", 2)
    assert f"content digest {stored[:16]})" in reason, (reason, stored)


def test_event_id_twice_in_one_batch(pb, db, procs, hub_client):
    """The same id twice in one batch: the same content (keys and attributes
    in another order) is a DUPLICATE of the first; other content (another
    case number, another attribute value) is REJECTED with CONFLICT,
    counted, and kept as a dead letter; only the first is stored."""
    import copy
    control = f"tcp://127.0.0.1:{free_port()}"
    hub = start_hub(procs, db, extra=("--control", control))
    client = hub_client(hub.endpoint)
    e = make_event(pb, 90, agency="tax", adapter_id="tax-it")
    e.attributes.add(name="deed_tax_yuan", number=2718.44)
    e.attributes.add(name="note", text="first")
    same = copy.deepcopy(e)
    same.attributes.reverse()
    other_case = copy.deepcopy(e)
    other_case.case_no = "PY-RAW-OTHER"
    other_value = copy.deepcopy(e)
    other_value.attributes[0].number = 2718.45
    acks = client.request_batch([e, same, other_case, other_value], agency="tax").acks
    assert [(a.status, a.code) for a in acks] == [
        (pb.STORED, pb.ERROR_NONE), (pb.DUPLICATE, pb.ERROR_NONE),
        (pb.REJECTED, pb.CONFLICT), (pb.REJECTED, pb.CONFLICT)]
    assert acks[2].reason == (f"event id {e.event_id} came twice at once with other content"
                              " (it differs in case_no): the first stands, this one is"
                              " refused")
    assert "(it differs in attributes)" in acks[3].reason
    assert query(db, "SELECT case_no FROM events") == [(e.case_no,)]
    # one dead letter per (id, code), the latest refused, counting both
    assert query(db, "SELECT code, event_id, case_no, attempts FROM dead_letters") == [
        ("CONFLICT", e.event_id, e.case_no, 2)]
    r = subprocess.run([build_path("hubctl"), "--db", db, "--json", "status", "--control",
                        control], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["hub"]["conflicts"] == 2, r.stdout
