"""One adapter cannot starve the others: while a client floods the hub with
batches as fast as it can, another adapter's batches are still answered
within a few seconds; and a client that sends but never reads its answers
does not block the hub."""

import time

import zmq

from conftest import (batch_bytes, build_path, make_event, scalar, start_hub, wait_until)

# How long a probe batch may wait for its answer while another client
# floods: generous (the machine may be busy, the tree sanitized), and far
# below the time the flood's backlog takes to drain.
PROMPT_S = 5.0
FLOOD_EVENTS = 400_000


def flood_stored(db):
    return scalar(db, "SELECT count(*) FROM events WHERE adapter_id = 'flood'")


def probe(pb, client, i):
    """One small batch from the well-behaved adapter; returns seconds to its ack."""
    events = [make_event(pb, 1000 * i + k, adapter_id="probe") for k in range(5)]
    t0 = time.monotonic()
    ack = client.request_batch(events, timeout=60, adapter_id="probe")
    took = time.monotonic() - t0
    assert [a.status for a in ack.acks] == [pb.STORED] * 5, ack
    return took


def test_flood_does_not_starve_others(pb, db, procs, hub_client):
    """onenet-bench-sender keeps 256 batches of 1000 events in flight (a
    backlog of many seconds); each of ten probe batches sent meanwhile by
    another client is stored and answered within PROMPT_S, while the flood
    is still going on."""
    hub = start_hub(procs, db)
    flood = procs.start([build_path("onenet-bench-sender"), "--hub", hub.endpoint,
                         "--events", str(FLOOD_EVENTS), "--batch", "1000", "--window", "256",
                         "--adapter-id", "flood", "--agency", "land"], name="flood")
    wait_until(lambda: flood_stored(db) > 0, timeout=60, what="the flood reaching the store")
    c = hub_client(hub.endpoint)
    waits = [probe(pb, c, i) for i in range(10)]
    stored = flood_stored(db)
    # the probes were answered in the middle of the flood, not after it
    assert flood.alive() and stored < FLOOD_EVENTS, (stored, waits)
    assert max(waits) < PROMPT_S, f"probe answers took {waits} s during the flood"
    assert scalar(db, "SELECT count(*) FROM events WHERE adapter_id = 'probe'") == 50
    flood.terminate()
    assert hub.alive()


def test_client_that_never_reads(pb, db, procs, hub_client):
    """A client sends a thousand batches whose answers are long (every event
    rejected, each reason listing the agency's event types) and never reads
    one: the hub keeps reading it (every batch is recorded) and keeps
    answering another adapter promptly."""
    hub = start_hub(procs, db)
    ctx = zmq.Context()
    mute = ctx.socket(zmq.DEALER)
    mute.setsockopt(zmq.LINGER, 0)
    mute.setsockopt(zmq.RCVHWM, 1)
    mute.setsockopt(zmq.RCVBUF, 4096)
    mute.setsockopt(zmq.SNDHWM, 0)
    mute.connect(hub.endpoint)
    try:
        events = [make_event(pb, k, adapter_id="mute", event_type="no_such.type")
                  for k in range(20)]
        data = batch_bytes(pb, events, seq=1, adapter_id="mute")
        sends = 1000
        for _ in range(sends):
            mute.send(data)
        c = hub_client(hub.endpoint)
        waits = [probe(pb, c, i) for i in range(5)]
        # the hub went on reading the mute client: every one of its batches
        # was refused and counted, although none of the answers was read
        wait_until(lambda: scalar(db, "SELECT coalesce(sum(attempts), 0) FROM dead_letters"
                                      " WHERE sender = 'mute'") == 20 * sends,
                   timeout=120, what="the mute client's batches all read")
        waits += [probe(pb, c, 10 + i) for i in range(5)]
        assert max(waits) < PROMPT_S, f"probe answers took {waits} s"
        # the mute client's socket holds at most a handful of answers
        assert mute.poll(0), "no answer reached the mute client at all"
        assert hub.alive()
    finally:
        mute.close()
        ctx.term()


def rss_kib(proc):
    """The process's resident set, KiB (/proc/PID/status VmRSS)."""
    with open(f"/proc/{proc.pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def varint(n):
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def empty_events_batch(seq, n, adapter_id=b"hostile"):
    """AdapterMessage{batch: EventBatch{batch_seq, adapter_id, N empty events}},
    written byte by byte from the wire format (proto/onenet.proto)."""
    inner = (b"\x08" + varint(seq) + b"\x12" + varint(len(adapter_id)) + adapter_id
             + b"\x22\x00" * n)
    return b"\x0a" + varint(len(inner)) + inner


def test_over_limit_batch_costs_nothing(pb, db, procs, hub_client):
    """A 1 MiB frame holding 524 246 empty events (any adapter can send one)
    is refused whole: one Error with LIMIT_EXCEEDED and its batch_seq, one
    dead letter holding its first 4 KiB, no per-event work. Five of them in
    a row do not delay another adapter's one-event batch (answered within
    PROMPT_S each; it took 41-57 s when every event was refused on its
    own), and the hub's resident memory comes back near where it was."""
    hub = start_hub(procs, db)
    probe_client = hub_client(hub.endpoint)
    hostile = hub_client(hub.endpoint)
    for i in range(3):  # warm up: the hub's buffers at their working size
        probe(pb, probe_client, i)
    before = rss_kib(hub)
    frame = empty_events_batch(1, 524_246)
    assert len(frame) <= 1_048_576
    waits = []
    for k in range(5):
        hostile.send(empty_events_batch(100 + k, 524_246))
        ev = make_event(pb, 9000 + k, adapter_id="probe")
        t0 = time.monotonic()
        ack = probe_client.request_batch([ev], timeout=120, adapter_id="probe")
        waits.append(time.monotonic() - t0)
        assert ack.acks[0].status == pb.STORED
        err = hostile.recv(timeout=60).error
        assert (err.code, err.batch_seq) == (pb.LIMIT_EXCEEDED, 100 + k)
        assert err.reason.startswith("batch holds 524246 events, limit 5000: refused whole")
    assert max(waits) < PROMPT_S, f"one-event batches took {waits} s"
    rows = scalar(db, "SELECT count(*) FROM dead_letters WHERE sender = 'hostile'")
    assert rows == 5
    assert scalar(db, "SELECT max(length(payload)) FROM dead_letters"
                      " WHERE sender = 'hostile'") == 4096
    assert scalar(db, "SELECT count(*) FROM dead_letters") == 5
    # memory: freed, not kept (before: 29 MB -> 240 MB after one such frame)
    wait_until(lambda: rss_kib(hub) - before < 48 * 1024, timeout=30,
               what=f"the hub's RSS back within 48 MiB of {before} KiB")
    assert hub.alive()
