"""Faults while events flow: the hub or an adapter killed with SIGKILL or
stopped with SIGTERM, PostgreSQL restarted, crashed, stopped, or not yet
up. Every accepted event ends up stored exactly once; nothing acknowledged
is lost."""

import re
import signal
import time

import pytest

from conftest import (Feeder, event_count, free_port, make_event, make_record,
                      outbox_count, query, scalar, start_adapter, start_hub, unit_number,
                      wait_events, wait_exit, wait_until, write_ndjson)

N = 20000


def assert_exactly(db, records):
    """events holds exactly RECORDS (by event id), each once, and no dead letter."""
    assert event_count(db) == (len(records), len(records))
    ids = {r[0] for r in query(db, "SELECT event_id::text FROM events")}
    assert ids == {r["event_id"] for r in records}
    assert scalar(db, "SELECT count(*) FROM dead_letters") == 0


def test_hub_sigkill(db, procs, tmp_path):
    """SIGKILL the hub while an adapter streams: the adapter resends what
    was not acknowledged to the restarted hub; 20000 events, each once."""
    hub = start_hub(procs, db)
    records = [make_record(i) for i in range(N)]
    adapter = start_adapter(procs, hub.port, str(tmp_path / "a.outbox"), stdin="pipe")
    feeder = Feeder(adapter, records, chunk=200, pause=0.005, hold_at=N // 2)
    feeder.start()

    wait_events(db, 3000, at_least=True, timeout=60)
    hub.kill(signal.SIGKILL)
    assert hub.wait(timeout=10) == -signal.SIGKILL
    stored_at_kill = event_count(db)[0]
    assert stored_at_kill < N, "the stream ended before the hub was killed"

    # the rest is accepted into the outbox while no hub listens
    feeder.release()
    wait_until(lambda: feeder.written == N, timeout=60, what="all records written")
    hub2 = start_hub(procs, db, port=hub.port)
    feeder.finish()
    wait_exit(adapter, timeout=120)
    assert outbox_count(tmp_path / "a.outbox") == 0
    assert_exactly(db, records)
    assert hub2.alive()


def spool_files(spool, n_files, per_file, start=0):
    """Writes N_FILES spool files of PER_FILE records (as .tmp, renamed)."""
    records = []
    for f in range(n_files):
        recs = [make_record(start + f * per_file + i) for i in range(per_file)]
        write_ndjson(spool / f"batch-{start + f * per_file:07d}.ndjson", recs,
                     tmp_rename=True)
        records += recs
    return records


def test_adapter_sigkill_spool(db, procs, tmp_path):
    """SIGKILL the adapter while it works through a spool directory; the
    restarted adapter (same outbox, same spool) delivers every record once,
    and moves every file to spool/done/. A file still being written
    (*.tmp) is not touched until it is renamed."""
    hub = start_hub(procs, db)
    spool = tmp_path / "spool"
    spool.mkdir()
    records = spool_files(spool, 20, N // 20)
    late = [make_record(N + i) for i in range(500)]
    partial = spool / "late.ndjson.tmp"
    write_ndjson(partial, late[:100])       # a producer still writing
    outbox = str(tmp_path / "a.outbox")

    a1 = start_adapter(procs, hub.port, outbox, spool=str(spool), once=False)
    wait_until(lambda: event_count(db)[0] >= 1500, timeout=60, interval=0.01,
               what="1500 events")
    a1.kill(signal.SIGKILL)
    assert a1.wait(timeout=10) == -signal.SIGKILL
    done_at_kill = len(list((spool / "done").glob("*.ndjson"))) \
        if (spool / "done").exists() else 0
    assert event_count(db)[0] < N or done_at_kill < 20, \
        "the adapter finished before it was killed"

    a2 = start_adapter(procs, hub.port, outbox, spool=str(spool), once=False)
    wait_events(db, N, timeout=120)
    wait_until(lambda: not list(spool.glob("*.ndjson")), timeout=30,
               what="spool files moved")
    # idle on a spool that holds only the unfinished *.tmp: a complete file
    # dropped beside it is taken by a later scan, which passes the *.tmp by
    marker = [make_record(N + 1000)]
    write_ndjson(spool / "marker.ndjson", marker, tmp_rename=True)
    wait_events(db, N + 1, timeout=30)
    wait_until(lambda: (spool / "done" / "marker.ndjson").exists(), timeout=30,
               what="marker file moved to done/")
    assert a2.alive(), f"the adapter died on an empty spool:\n{a2.log()[-3000:]}"
    assert partial.exists(), "a *.tmp file was consumed"
    write_ndjson(partial, late)             # the producer finishes and renames
    partial.rename(spool / "late.ndjson")
    wait_events(db, N + 1 + len(late), timeout=30)
    wait_until(lambda: outbox_count(outbox) == 0, timeout=30, what="empty outbox")
    wait_until(lambda: not list(spool.glob("*.ndjson")), timeout=30,
               what="spool files moved")
    a2.kill(signal.SIGTERM)
    wait_exit(a2, timeout=30)

    assert_exactly(db, records + marker + late)
    assert sorted(p.name for p in (spool / "done").iterdir()) == \
        sorted([f"batch-{i * (N // 20):07d}.ndjson" for i in range(20)] +
               ["late.ndjson", "marker.ndjson"])
    assert not (spool / "failed").exists()
    assert outbox_count(outbox, "quarantine") == 0


def test_adapter_spool_once(db, procs, tmp_path):
    """--once with --spool: the adapter exits 0 when the spool is empty and
    everything is acknowledged."""
    hub = start_hub(procs, db)
    spool = tmp_path / "spool"
    spool.mkdir()
    records = spool_files(spool, 3, 100)
    adapter = start_adapter(procs, hub.port, str(tmp_path / "a.outbox"), spool=str(spool))
    wait_events(db, len(records), timeout=60)
    wait_exit(adapter, timeout=10)
    assert_exactly(db, records)


def test_adapter_sigkill_hub_down(db, procs, tmp_path):
    """The adapter accepts records while no hub runs and is SIGKILLed with
    them only in its outbox; the hub starts, the adapter restarts on the
    same outbox (no new input) and delivers them all."""
    records = [make_record(i) for i in range(5000)]
    path = write_ndjson(tmp_path / "in.ndjson", records)
    outbox = tmp_path / "a.outbox"
    port = free_port()

    a1 = start_adapter(procs, port, str(outbox), stdin=path)
    wait_until(lambda: outbox.exists() and outbox_count(outbox) == len(records),
               timeout=60, what="all records in the outbox")
    a1.kill(signal.SIGKILL)
    assert a1.wait(timeout=10) == -signal.SIGKILL
    assert event_count(db) == (0, 0) or event_count(db) is None

    hub = start_hub(procs, db, port=port)
    a2 = start_adapter(procs, hub.port, str(outbox))   # stdin: /dev/null
    wait_exit(a2, timeout=120)
    assert outbox_count(outbox) == 0
    assert_exactly(db, records)


@pytest.mark.parametrize("how", ["restart", "crash", "stop-start"])
def test_pg_restart(pg, db, procs, hub_client, tmp_path, how):
    """PostgreSQL restarted, crashed (SIGKILL, then started) or stopped for a
    while, as events flow: the hub keeps running, stops acknowledging,
    reconnects and resumes; the adapter finishes; every event is stored
    exactly once (a commit whose outcome the hub never heard is redelivered
    and absorbed as a duplicate)."""
    hub = start_hub(procs, db, extra=["--db-retry-max-ms", "500"])
    records = [make_record(i) for i in range(N)]
    adapter = start_adapter(procs, hub.port, str(tmp_path / "a.outbox"), stdin="pipe")
    feeder = Feeder(adapter, records, chunk=200, pause=0.005, hold_at=N // 2)
    feeder.start()
    wait_events(db, 3000, at_least=True, timeout=60)

    if how == "restart":
        feeder.release()                # events keep coming during the restart
        pg.restart()
    elif how == "crash":
        feeder.release()
        pg.kill()
        pg.start()
    else:
        pg.stop()
        down_at = time.monotonic()
        feeder.release()                # events arrive while the database is down
        # the hub notices when a commit fails or a reconnect does
        hub.wait_for_log(r"store unavailable|lost the PostgreSQL connection", timeout=30)
        assert hub.alive()
        c = hub_client(hub.endpoint)
        assert c.heartbeat().store_available is False
        # a batch sent now is not stored: RETRY, never STORED
        ack = c.request_batch([make_event(c.pb, 1)])
        assert ack.acks[0].status == c.pb.RETRY
        assert ack.acks[0].code == c.pb.STORE_UNAVAILABLE
        time.sleep(max(0.0, 3.0 - (time.monotonic() - down_at)))   # stay down 3 s
        assert hub.alive()
        pg.start()

    feeder.finish()
    wait_exit(adapter, timeout=180)
    assert hub.alive(), "the hub died with the database"
    log = hub.log()
    assert len(re.findall(r'msg="store available"', log)) >= 2, log[-3000:]
    assert ('lost the PostgreSQL connection' in log or 'store unavailable' in log)
    assert outbox_count(tmp_path / "a.outbox") == 0
    assert_exactly(db, records)
    if how == "stop-start":
        c = hub_client(hub.endpoint)
        assert c.heartbeat().store_available is True


def test_sigterm_drain(pb, db, procs, hub_client):
    """SIGTERM right after a burst of batches: the hub exits 0 within its
    drain timeout, and every event it acknowledged STORED or DUPLICATE is in
    the table (what it did not acknowledge may or may not be)."""
    hub = start_hub(procs, db, extra=["--drain-timeout-ms", "10000"])
    c = hub_client(hub.endpoint)
    # warm up: the hub answers
    warm = make_event(pb, 0)
    assert c.request_batch([warm]).acks[0].status == pb.STORED

    sent = {}
    for b in range(10):
        events = [make_event(pb, b * 500 + i) for i in range(500)]
        if b == 5:
            events[0] = warm            # a redelivery in the burst
        seq = c.send_batch(events)
        sent[seq] = events
    hub.kill(signal.SIGTERM)
    t0 = time.monotonic()

    acked = {}
    while True:
        if c.sock.poll(200):
            reply = c.recv()
            assert reply.WhichOneof("body") == "ack", reply
            assert reply.ack.batch_seq in sent
            for a in reply.ack.acks:
                acked[a.event_id] = a.status
        elif not hub.alive():
            if not c.sock.poll(1000):
                break
        elif time.monotonic() - t0 > 30:
            break
    wait_exit(hub, timeout=15)
    assert time.monotonic() - t0 < 12, "the hub took longer than its drain timeout"
    assert 'msg="draining"' in hub.log()

    stored = {r[0] for r in query(db, "SELECT event_id::text FROM events")}
    settled = {i for i, s in acked.items() if s in (pb.STORED, pb.DUPLICATE)}
    lost = settled - stored
    assert not lost, f"{len(lost)} acknowledged events are not in the table"
    assert all(s in (pb.STORED, pb.DUPLICATE, pb.RETRY) for s in acked.values())
    if warm.event_id in acked:
        assert acked[warm.event_id] == pb.DUPLICATE
    # every stored event is one that was sent
    all_sent = {e.event_id for events in sent.values() for e in events}
    assert stored <= all_sent
    print(f"sent {len(all_sent)}, acknowledged {len(settled)}, stored {len(stored)}")


def test_sigterm_while_store_down(pg, pb, db, procs, hub_client):
    """With PostgreSQL down the hub answers RETRY (never STORED), and SIGTERM
    still stops it cleanly within the drain timeout."""
    hub = start_hub(procs, db, extra=["--drain-timeout-ms", "5000"])
    c = hub_client(hub.endpoint)
    assert c.request_batch([make_event(pb, 0)]).acks[0].status == pb.STORED
    pg.stop()
    try:
        events = [make_event(pb, i) for i in range(1, 200)]
        ack = c.request_batch(events)
        assert {a.status for a in ack.acks} == {pb.RETRY}
        assert {a.code for a in ack.acks} == {pb.STORE_UNAVAILABLE}
        c.send_batch(events)
        hub.kill(signal.SIGTERM)
        t0 = time.monotonic()
        while c.sock.poll(500):
            reply = c.recv()
            assert {a.status for a in reply.ack.acks} <= {pb.RETRY}, reply
        wait_exit(hub, timeout=15)
        assert time.monotonic() - t0 < 8
    finally:
        pg.start()
    assert event_count(db) == (1, 1)


def test_hub_starts_before_db(pg, pb, db, procs, hub_client, tmp_path):
    """The hub starts while PostgreSQL is down: it listens, says the store is
    unavailable, answers RETRY, and stores everything once the database
    comes up (with the schema applied then)."""
    records = [make_record(i) for i in range(1000)]
    path = write_ndjson(tmp_path / "in.ndjson", records)
    pg.stop()
    try:
        hub = start_hub(procs, db, wait=False, extra=["--db-retry-max-ms", "300"])
        hub.wait_for_log(r'msg="store unavailable', timeout=30)
        hub.wait_for_log(r'msg="hub listening"', timeout=30)
        c = hub_client(hub.endpoint)
        assert c.heartbeat().store_available is False
        ack = c.request_batch([make_event(pb, 1)])
        assert (ack.acks[0].status, ack.acks[0].code) == (pb.RETRY, pb.STORE_UNAVAILABLE)
        adapter = start_adapter(procs, hub.port, str(tmp_path / "a.outbox"), stdin=path)
        outbox = tmp_path / "a.outbox"
        wait_until(lambda: outbox.exists() and outbox_count(outbox) == len(records),
                   timeout=60, what="records in the outbox")
        assert adapter.alive() and hub.alive()
    finally:
        pg.start()
    hub.wait_for_log(r'msg="store available"', timeout=30)
    wait_exit(adapter, timeout=60)
    assert c.heartbeat().store_available is True
    assert_exactly(db, records)


def test_adapter_sigterm(db, procs, tmp_path):
    """SIGTERM stops an adapter cleanly (exit 0) mid-stream: what it had
    accepted is either delivered or still in its outbox, and the next run
    delivers the rest, so the stored events are exactly a prefix of the
    input, without gaps or doubles."""
    hub = start_hub(procs, db)
    records = [make_record(i) for i in range(N)]
    outbox = tmp_path / "a.outbox"
    a1 = start_adapter(procs, hub.port, str(outbox), stdin="pipe", once=False)
    feeder = Feeder(a1, records, chunk=200, pause=0.005, hold_at=N // 2)
    feeder.start()
    wait_events(db, 3000, at_least=True, timeout=60)
    a1.kill(signal.SIGTERM)
    wait_exit(a1, timeout=15)
    feeder.release()
    feeder.join(30)
    left = outbox_count(outbox)

    a2 = start_adapter(procs, hub.port, str(outbox))     # stdin: /dev/null
    wait_exit(a2, timeout=60)
    assert outbox_count(outbox) == 0
    stored = {r[0] for r in query(db, "SELECT event_id::text FROM events")}
    k = len(stored)
    assert event_count(db) == (k, k)
    assert 3000 <= k <= N // 2
    assert stored == {r["event_id"] for r in records[:k]}, "a gap in the delivered input"
    print(f"stored {k}, of which {left} after the restart")


def fault_trigger(name, column, on):
    """SQL that makes a table NAME (COLUMN, sqlstate) and a trigger on the
    table ON raising the listed SQLSTATE for a row whose COLUMN is listed:
    a fault injected for one case, not for every row."""
    return f"""
CREATE TABLE {name} ({column} text PRIMARY KEY, sqlstate text NOT NULL);
CREATE FUNCTION {name}_raise() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE s text;
BEGIN
    SELECT f.sqlstate INTO s FROM {name} f WHERE f.{column} = NEW.{column};
    IF s IS NOT NULL THEN
        RAISE EXCEPTION 'injected fault for %', NEW.{column} USING ERRCODE = s;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER {name} BEFORE INSERT OR UPDATE ON {on}
    FOR EACH ROW EXECUTE FUNCTION {name}_raise();
"""


FAULT_TRIGGER = fault_trigger("test_faults", "key_value", "workflow_instances")


def test_correlation_errors_by_class(pb, db, procs, hub_client):
    """The correlator sets an event aside only for a data error (SQLSTATE
    class 22 or 23); any other failure is retried, with backoff, until it
    passes. Faults are injected by a trigger on workflow_instances that
    raises the given SQLSTATE for one unit number."""
    hub = start_hub(procs, db)
    conn = db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(FAULT_TRIGGER)
            # a lock timeout (55P03) for one case: retried, never set aside
            cur.execute("INSERT INTO test_faults VALUES (%s, '55P03')", (unit_number(501),))
    finally:
        conn.close()
    c = hub_client(hub.endpoint)
    events = [make_event(pb, i) for i in (501, 502)]
    ack = c.request_batch(events)
    assert [a.status for a in ack.acks] == [pb.STORED, pb.STORED]

    def retries():
        return len(re.findall(r'msg="correlation failed, will retry".*sqlstate=55P03',
                              hub.log()))
    wait_until(lambda: retries() >= 3, timeout=60, what="three retries of the locked case")
    assert scalar(db, "SELECT count(*) FROM dead_letters") == 0, \
        query(db, "SELECT code, reason FROM dead_letters")
    assert scalar(db, "SELECT count(*) FROM correlation_backlog") == 2
    execute = db.connect()
    try:
        with execute.cursor() as cur:
            cur.execute("DELETE FROM test_faults")
            # a data error (22023, invalid parameter value) for another case
            cur.execute("INSERT INTO test_faults VALUES (%s, '22023')", (unit_number(503),))
    finally:
        execute.close()
    wait_until(lambda: scalar(db, "SELECT count(*) FROM workflow_instances "
                                  "WHERE key_value = ANY(%s)",
                              ([unit_number(501), unit_number(502)],)) == 2,
               timeout=60, what="both cases correlated once the lock is gone")

    bad, good = make_event(pb, 503), make_event(pb, 504)
    ack = c.request_batch([bad, good])
    assert [a.status for a in ack.acks] == [pb.STORED, pb.STORED]
    wait_until(lambda: scalar(db, "SELECT count(*) FROM correlation_backlog") == 0,
               timeout=60, what="an empty correlation queue")
    assert query(db, "SELECT event_id, code FROM dead_letters") == [
        (bad.event_id, "CORRELATION_FAILED")]
    reason = scalar(db, "SELECT reason FROM dead_letters")
    assert "injected fault for " + unit_number(503) in reason, reason
    assert scalar(db, "SELECT count(*) FROM workflow_instances WHERE key_value = %s",
                  (unit_number(504),)) == 1
    assert scalar(db, "SELECT count(*) FROM workflow_instances") == 3


def test_idle_hub_sees_the_database_go(pg, pb, db, procs, hub_client):
    """A hub that takes no events still notices PostgreSQL stopping: within
    seconds its heartbeat replies say the store is unavailable (it asks the
    database itself while idle), and available again once it is back."""
    hub = start_hub(procs, db, extra=["--db-retry-max-ms", "500"])
    c = hub_client(hub.endpoint)
    assert c.heartbeat().store_available is True
    pg.stop()
    try:
        hub.wait_for_log(r'msg="store unavailable: the database stopped answering', timeout=30)
        wait_until(lambda: c.heartbeat().store_available is False, timeout=30,
                   what="the idle hub reporting its store unavailable")
    finally:
        pg.start()
    wait_until(lambda: c.heartbeat().store_available is True, timeout=60,
               what="the store available again")
    assert c.request_batch([make_event(pb, 1)]).acks[0].status == pb.STORED


STORE_FAULT_TRIGGER = fault_trigger("test_store_faults", "case_no", "events")


def test_store_retries_a_deadlock_and_refuses_only_bad_data(pb, db, procs, hub_client):
    """The store refuses an event only when the database refuses its data.
    A deadlock (40P01), as two hubs storing the same redelivered events can
    meet, undoes the batch: its events are answered RETRY, nothing is
    dead-lettered, and once the cause is gone the resent batch is stored.
    A data error (22023) for one event of a batch refuses that event alone;
    the others are stored. Faults are injected by a trigger on events for
    one case number."""
    hub = start_hub(procs, db)
    conn = db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(STORE_FAULT_TRIGGER)
            cur.execute("INSERT INTO test_store_faults VALUES ('PY-DEADLOCK', '40P01')")
            cur.execute("INSERT INTO test_store_faults VALUES ('PY-BAD-DATA', '22023')")
    finally:
        conn.close()
    c = hub_client(hub.endpoint)
    locked = [make_event(pb, 601, case_no="PY-DEADLOCK"), make_event(pb, 602)]
    ack = c.request_batch(locked)
    assert [pb.AckStatus.Name(a.status) for a in ack.acks] == ["RETRY", "RETRY"]
    assert scalar(db, "SELECT count(*) FROM dead_letters") == 0
    assert scalar(db, "SELECT count(*) FROM events") == 0
    hub.wait_for_log(r'msg="batch undone by the database')
    query(db, "DELETE FROM test_store_faults WHERE case_no = 'PY-DEADLOCK' RETURNING 1")
    ack = c.request_batch(locked)
    assert [pb.AckStatus.Name(a.status) for a in ack.acks] == ["STORED", "STORED"]

    bad, good = make_event(pb, 603, case_no="PY-BAD-DATA"), make_event(pb, 604)
    ack = c.request_batch([bad, good])
    assert [pb.AckStatus.Name(a.status) for a in ack.acks] == ["REJECTED", "STORED"]
    assert query(db, "SELECT event_id FROM dead_letters") == [(bad.event_id,)]
