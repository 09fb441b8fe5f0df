"""Bad input gets a clear answer, is recorded in dead_letters, and never
stops the hub from serving the next good event (or the good events of the
same batch)."""

from conftest import (bad_credit_code, batch_bytes, credit_code, event_count, make_event,
                      now_ms, query, scalar, start_hub)

MAX_MESSAGE = 65536


def assert_serving(pb, client, n=2):
    """A fresh batch of N good events is STORED."""
    events = [make_event(pb, 900 + i) for i in range(n)]
    before = event_count(client.db)[0]
    ack = client.request_batch(events)
    assert [a.status for a in ack.acks] == [pb.STORED] * n, ack
    assert event_count(client.db)[0] == before + n


def unreadable_rows(db):
    return query(db, "SELECT code, reason, payload, sender, event_id, attempts"
                     " FROM dead_letters WHERE event_id IS NULL AND agency IS NULL"
                     " ORDER BY id")


def test_unreadable_messages(pb, db, procs, hub_client):
    """Malformed, truncated, multi-frame and oversized messages."""
    hub = start_hub(procs, db, extra=["--max-message-bytes", str(MAX_MESSAGE)])
    c = hub_client(hub.endpoint)
    c.db = db
    assert_serving(pb, c)

    # 1. bytes that are not a protobuf message
    garbage = b"this is not protobuf \xff\xfe\x00\x01"
    err = c.request_error(garbage)
    assert err.code == pb.MALFORMED and err.reason
    rows = unreadable_rows(db)
    assert len(rows) == 1
    code, reason, payload, sender, _, attempts = rows[0]
    assert code == "MALFORMED" and reason == err.reason
    assert bytes(payload) == garbage and sender and attempts == 1
    assert_serving(pb, c)

    # 2. a valid batch cut short
    good = batch_bytes(pb, [make_event(pb, i) for i in range(3)], seq=77)
    truncated = good[:len(good) // 2]
    err = c.request_error(truncated)
    assert err.code == pb.MALFORMED and err.reason
    rows = unreadable_rows(db)
    assert len(rows) == 2 and rows[1][0] == "MALFORMED"
    assert bytes(rows[1][2]) == truncated
    assert_serving(pb, c)

    # 3. two frames (each a valid batch): the message is refused as a whole
    two = [batch_bytes(pb, [make_event(pb, 10)], seq=78),
           batch_bytes(pb, [make_event(pb, 11)], seq=79)]
    before = event_count(db)[0]
    c.sock.send_multipart(two)
    reply = c.recv()
    assert reply.WhichOneof("body") == "error", reply
    assert reply.error.code == pb.MALFORMED and "frame" in reply.error.reason
    assert event_count(db)[0] == before
    rows = unreadable_rows(db)
    assert len(rows) == 3 and rows[2][0] == "MALFORMED"
    assert_serving(pb, c)

    # 4. over --max-message-bytes (but under the socket's hard limit)
    big = b"x" * 100_000
    err = c.request_error(big)
    assert err.code == pb.MESSAGE_TOO_LARGE
    assert "100000" in err.reason and str(MAX_MESSAGE) in err.reason
    rows = unreadable_rows(db)
    assert len(rows) == 4 and rows[3][0] == "MESSAGE_TOO_LARGE"
    assert 0 < len(bytes(rows[3][2])) <= 100_000
    assert_serving(pb, c)

    # 5. an empty frame
    err = c.request_error(b"")
    assert err.code == pb.MALFORMED
    assert_serving(pb, c)

    # 6. far beyond any limit: refused at the socket; the hub keeps serving
    c.send(b"y" * (MAX_MESSAGE * 8))
    other = hub_client(hub.endpoint)
    other.db = db
    assert_serving(pb, other)
    assert hub.alive()
    assert scalar(db, "SELECT count(*) FROM dead_letters WHERE event_id IS NOT NULL") == 0


def bad_events(pb):
    """(label, event, expected code, words the reason must contain)."""
    unknown = make_event(pb, 101, agency="mars")
    missing_id = make_event(pb, 102, event_id="")
    bad_key = make_event(pb, 103, keys=[(pb.CREDIT_CODE, bad_credit_code(5))])
    future = make_event(pb, 104, occurred_at_ms=now_ms() + 10 * 86400_000)
    version = make_event(pb, 105, schema_version=2)
    not_uuid = make_event(pb, 106, event_id="not-a-uuid-at-all")
    no_case = make_event(pb, 107, case_no="")
    bad_type = make_event(pb, 108, event_type="Transfer Accepted")
    mismatch = make_event(pb, 109, agency="tax")
    return [
        ("unknown agency", unknown, pb.UNKNOWN_AGENCY, ["mars"]),
        ("missing event id", missing_id, pb.MISSING_FIELD, ["event_id"]),
        ("invalid credit code", bad_key, pb.INVALID_KEY, [bad_credit_code(5)]),
        ("occurred_at in the future", future, pb.TIME_OUT_OF_RANGE, ["future"]),
        ("schema version 2", version, pb.UNSUPPORTED_VERSION, ["schema_version", "2"]),
        ("event id not a UUID", not_uuid, pb.INVALID_FIELD, ["not-a-uuid-at-all"]),
        ("missing case_no", no_case, pb.MISSING_FIELD, ["case_no"]),
        ("bad event type", bad_type, pb.INVALID_FIELD, ["event type"]),
        ("agency of another adapter", mismatch, pb.AGENCY_MISMATCH, ["tax", "land"]),
    ]


def test_bad_events_in_a_batch(pb, db, procs, hub_client):
    """Good and bad events mixed in one batch: each bad one is REJECTED with
    its code and a reason and kept in dead_letters with its payload; the
    good ones around it are STORED. Sent again: the good ones are DUPLICATE,
    the bad ones REJECTED again, counted as attempts, not new rows."""
    hub = start_hub(procs, db)
    c = hub_client(hub.endpoint)
    c.db = db
    bad = bad_events(pb)
    good = [make_event(pb, 200 + i,
                       keys=[(pb.CREDIT_CODE, credit_code(200 + i))]) for i in range(len(bad) + 1)]
    batch, expect = [], []
    for i, g in enumerate(good):
        batch.append(g)
        expect.append((pb.STORED, pb.ERROR_NONE, None))
        if i < len(bad):
            label, e, code, words = bad[i]
            batch.append(e)
            expect.append((pb.REJECTED, code, (label, words)))

    ack = c.request_batch(batch)
    for sent, a, (status, code, what) in zip(batch, ack.acks, expect):
        label = what[0] if what else "good event"
        assert a.event_id == sent.event_id, label
        assert (a.status, a.code) == (status, code), f"{label}: {a}"
        if what:
            for word in what[1]:
                assert word in a.reason, f"{label}: reason {a.reason!r} lacks {word!r}"
    assert event_count(db) == (len(good), len(good))
    stored = {r[0] for r in query(db, "SELECT event_id::text FROM events")}
    assert stored == {g.event_id for g in good}

    # every rejected event is a dead letter with code, reason and payload
    rows = query(db, "SELECT event_id, code, reason, payload, agency, case_no, sender,"
                     " attempts FROM dead_letters ORDER BY id")
    assert len(rows) == len(bad), rows
    reasons = {a.event_id: a.reason for a in ack.acks if a.status == pb.REJECTED}
    # found by event id, or by case number when the id is missing
    by_key = {r[0] or r[5]: r for r in rows}
    for label, e, code, _ in bad:
        row = by_key.get(e.event_id or e.case_no)
        assert row is not None, f"{label}: no dead letter"
        event_id, code_name, reason, payload, agency, _, sender, attempts = row
        assert code_name == pb.ErrorCode.Name(code), label
        assert reason and reason == reasons[e.event_id], label
        assert event_id == (e.event_id or None), label
        assert agency == e.agency and sender == "it-raw" and attempts == 1, label
        assert row[5] == (e.case_no or None), label
        assert pb.CaseEvent.FromString(bytes(payload)) == e, f"{label}: payload differs"

    # the same batch again
    ack = c.request_batch(batch)
    assert [a.status for a in ack.acks] == [
        pb.DUPLICATE if s == pb.STORED else s for s, _, _ in expect]
    assert [a.code for a in ack.acks] == [code for _, code, _ in expect]
    assert event_count(db) == (len(good), len(good))
    with_id = query(db, "SELECT event_id, code, attempts FROM dead_letters"
                        " WHERE event_id IS NOT NULL ORDER BY event_id")
    assert len(with_id) == len([b for b in bad if b[1].event_id])
    assert all(attempts == 2 for _, _, attempts in with_id), with_id
    assert_serving(pb, c)


def test_each_bad_event_alone(pb, db, procs, hub_client):
    """Each kind of bad event alone in its batch, then a good batch; and a
    batch with more events than --max-batch-events."""
    hub = start_hub(procs, db, extra=["--max-batch-events", "5"])
    c = hub_client(hub.endpoint)
    c.db = db
    for label, e, code, words in bad_events(pb):
        ack = c.request_batch([e])
        assert (ack.acks[0].status, ack.acks[0].code) == (pb.REJECTED, code), label
        assert scalar(db, "SELECT count(*) FROM dead_letters WHERE code = %s AND"
                          " (event_id = %s OR case_no = %s)",
                      (pb.ErrorCode.Name(code), e.event_id, e.case_no)) == 1, label
        assert_serving(pb, c, n=1)
    assert event_count(db)[0] == len(bad_events(pb))

    too_many = [make_event(pb, 300 + i) for i in range(6)]
    err = c.request_error(batch_bytes(pb, too_many, seq=4242))
    assert (err.code, err.batch_seq) == (pb.LIMIT_EXCEEDED, 4242)
    assert "limit 5" in err.reason
    # one dead letter for the whole batch, none per event
    assert scalar(db, "SELECT count(*) FROM dead_letters WHERE code = 'LIMIT_EXCEEDED'") == 1
    assert_serving(pb, c, n=5)


def test_adapter_quarantine(db, procs, tmp_path):
    """Records the adapter cannot map, and events the hub rejects, are kept
    in the adapter's quarantine (and the hub's dead letters), never resent
    forever; the good records around them are stored and the adapter
    finishes."""
    import sqlite3

    from conftest import (bad_credit_code, make_record, outbox_count, start_adapter,
                          wait_exit, write_ndjson)
    hub = start_hub(procs, db)
    good = [make_record(i) for i in range(50)]
    future = make_record(100, occurred_at="2999-01-01T00:00:00Z")
    ancient = make_record(101, occurred_at="1950-01-01T00:00:00+08:00")
    huge = make_record(102, attrs={"note": "长" * 3000})          # 9000 bytes
    lines = good[:20] + [
        '{"case_no": "PY-1", "event_type": "x.y", ',                     # not JSON
        make_record(103, keys={"credit_code": bad_credit_code(3)}),      # refused locally
        future, ancient, huge,
    ] + good[20:]
    path = write_ndjson(tmp_path / "in.ndjson", lines)
    outbox = tmp_path / "a.outbox"
    adapter = start_adapter(procs, hub.port, str(outbox), stdin=path)
    wait_exit(adapter, timeout=60)

    assert event_count(db) == (len(good), len(good))
    dead = dict(query(db, "SELECT event_id, code FROM dead_letters"))
    assert dead == {future["event_id"]: "TIME_OUT_OF_RANGE",
                    ancient["event_id"]: "TIME_OUT_OF_RANGE",
                    huge["event_id"]: "LIMIT_EXCEEDED"}
    assert outbox_count(outbox) == 0
    conn = sqlite3.connect(f"file:{outbox}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT event_id, code, reason FROM quarantine").fetchall()
    finally:
        conn.close()
    assert sorted(code for _, code, _ in rows) == [
        "BAD_RECORD", "BAD_RECORD", "LIMIT_EXCEEDED", "TIME_OUT_OF_RANGE",
        "TIME_OUT_OF_RANGE"]
    assert all(reason for _, _, reason in rows)
    assert {i for i, code, _ in rows if code != "BAD_RECORD"} == set(dead)


def test_event_id_not_utf8_answered_parseably(pb, db, procs, hub_client):
    """An event_id whose bytes are not UTF-8 (sent as raw protobuf: this
    Python's protobuf will not write one) is refused, and its ack echoes the
    id with each such byte written as \\xNN (upper-case hex), so that a
    protobuf parser that checks UTF-8 (this one does) can read the whole
    BatchAck and settle the batch's other events."""
    hub = start_hub(procs, db)
    client = hub_client(hub.endpoint)
    placeholder = "0" * 36
    bad = make_event(pb, 950, event_id=placeholder)
    good = make_event(pb, 951)
    raw = batch_bytes(pb, [bad, good], seq=77)
    assert raw.count(placeholder.encode()) == 1
    raw = raw.replace(placeholder.encode(), b"\xff\xfe" + b"1" * 34)
    client.send(raw)
    reply = client.recv()          # raises if the BatchAck is not valid protobuf
    assert reply.WhichOneof("body") == "ack" and reply.ack.batch_seq == 77
    first, second = reply.ack.acks
    assert first.event_id == "\\xFF\\xFE" + "1" * 34, first
    assert first.status == pb.REJECTED and "event_id" in first.reason, first
    assert (second.event_id, second.status) == (good.event_id, pb.STORED), second


def test_nul_bytes_refused_not_cut(pb, db, procs, hub_client):
    """A NUL byte inside any string field would be cut off by a C string:
    each such event is REJECTED (INVALID_FIELD) with the field and the byte
    named, nothing of it is stored, and the good event beside it is."""
    hub = start_hub(procs, db)
    client = hub_client(hub.endpoint)
    client.db = db
    cases = []

    def case(field, **kw):
        e = make_event(pb, 960 + len(cases), **kw)
        cases.append((field, e))
        return e
    case("case_no holds a NUL byte (byte 7 of 11)", case_no="HX-NUL\0tail")
    case("event_type holds a NUL byte", event_type="transfer.accepted\0x")
    case("agency holds a NUL byte (byte 5 of 8)", agency="land\0tax")
    case("adapter_id holds a NUL byte", adapter_id="it-raw\0land-01")
    case("keys[0].value holds a NUL byte (byte 19 of 23)",
         keys=[(pb.CREDIT_CODE, credit_code(5) + "\0junk")])
    e = case("attributes[1].text holds a NUL byte")
    e.attributes.add(name="note", text="before\0after")
    good = make_event(pb, 999)
    ack = client.request_batch([e for _, e in cases] + [good], agency="")
    for (field, e), a in zip(cases, ack.acks):
        assert (a.status, a.code) == (pb.REJECTED, pb.INVALID_FIELD), (field, a)
        assert field in a.reason, (field, a.reason)
    assert ack.acks[-1].status == pb.STORED
    assert [r[0] for r in query(db, "SELECT event_id::text FROM events")] == [good.event_id]
    assert scalar(db, "SELECT count(*) FROM dead_letters WHERE code = 'INVALID_FIELD'") \
        == len(cases)
    # a NUL in the batch's own agency refuses every event of the batch
    again = make_event(pb, 998)
    ack = client.request_batch([again], agency="land\0tax")
    assert ack.acks[0].status == pb.REJECTED
    assert ack.acks[0].reason == "the batch's agency holds a NUL byte (byte 5 of 8)", ack
