"""Several hubs against one PostgreSQL (DESIGN.md, "Scale"; protocol.md 2.1).

Two hub processes share one database; every agency's adapter connects to
both (--hub A,B). The simulated county streams through them: batches go to
either hub, so the events of one case reach different hubs, and correlation
must still make exactly the instances, steps and tasks the generator
expects. Midway one hub is stopped (SIGSTOP) for longer than the adapters'
ack timeout and continued; later it is killed with SIGKILL and not
restarted: the other hub carries the rest, nothing is lost and nothing is
stored, correlated or delivered twice.
"""

import json
import re
import signal
import subprocess
import time

from conftest import (build_path, event_count, free_port, make_record, new_id, query, scalar,
                      start_adapter, start_hub, unit_number, wait_exit, wait_until,
                      write_ndjson)
from test_county_day import FEEDS, ISO, day_problems, supervised
from test_county_faults import (ACK_TIMEOUT_MS, Link, Stream, all_tasks_written,
                                check_tasks, county_feed, stored)
from test_workflows import wait_drained

CASES, STREAM_S = 1000, 20


def start_hubs(procs, db, names):
    """One hub per name (its --hub-id), all on DB, quick supervision."""
    return [start_hub(procs, db, extra=("--hub-id", name, "--supervise-interval-ms", "200"))
            for name in names]


def backends(db, hub_id, thread="%"):
    """(pid, state, wait_event) of the PostgreSQL backends of HUB_ID's
    threads (application_name "onenet-hub THREAD (HUB_ID)", THREAD a LIKE
    pattern)."""
    return query(db, "SELECT pid, state, wait_event FROM pg_stat_activity "
                     "WHERE datname = current_database() AND application_name LIKE %s",
                 (f"onenet-hub {thread} ({hub_id})",))


def waiting_for_client(db, hub_id, thread="%"):
    """True when every backend of HUB_ID's THREAD waits for its client
    (wait_event ClientRead): with the hub stopped, none of them can commit
    anything more."""
    return all(wait == "ClientRead" for _, _, wait in backends(db, hub_id, thread))


def per_hub(db):
    """Events stored by each hub (events.hub_id)."""
    return dict(query(db, "SELECT hub_id, count(*) FROM events GROUP BY hub_id"))


def cases_across_hubs(db, cases):
    """How many cases had their events stored by more than one hub."""
    hub_of = {}
    for agency, case_no, etype, occurred, hub in query(db, """
            SELECT agency, case_no, event_type,
                   to_char(occurred_at AT TIME ZONE 'Asia/Shanghai', %s), hub_id
            FROM events""", (ISO,)):
        hub_of[(agency, case_no, etype, occurred)] = hub
    return sum(1 for c in cases
               if len({hub_of.get((e["agency"], e["case_no"], e["event_type"],
                                   e["occurred_at"])) for e in c["events"]}) > 1)


def test_two_hubs_one_database(db, procs, tmp_path):
    """The county through two hubs, one of them stopped and then killed
    mid-stream: every event once, shared by both hubs, cases split across
    them correlated as expected, every task once."""
    lines, expect, programs = county_feed(tmp_path, cases=CASES)
    cases = expect["cases"]
    hub_a, hub_b = start_hubs(procs, db, ["hub-a", "hub-b"])
    links = {f: Link(procs, tmp_path, f, programs[f], [hub_a.endpoint, hub_b.endpoint])
             for f in FEEDS}
    for link in links.values():
        link.start()
    n_events = sum(len(c["events"]) + len(c["recorded"]) for c in cases)
    # the last quarter waits until hub A is killed: the kill is mid-stream
    stream = Stream(links, lines, STREAM_S, slices=STREAM_S * 2, hold_at=STREAM_S * 3 // 2)
    t0 = time.monotonic()
    stream.start()

    # both hubs take events while both run
    wait_until(lambda: len(per_hub(db)) == 2 and min(per_hub(db).values()) >= 100,
               timeout=60, interval=0.1, what="both hubs storing events")

    # hub A hangs for longer than the ack timeout: its batches go to B
    hub_a.kill(signal.SIGSTOP)
    # a commit A sent just before may still finish: count once A's store
    # connection waits for A (it can commit nothing more)
    wait_until(lambda: waiting_for_client(db, "hub-a", "store"), timeout=60, interval=0.05,
               what="hub A's store connection waiting for the stopped hub")
    stopped = per_hub(db)
    try:
        wait_until(lambda: per_hub(db).get("hub-b", 0) > stopped.get("hub-b", 0),
                   timeout=120, interval=0.1, what="hub B storing while hub A is stopped")
        during = per_hub(db)
    finally:
        hub_a.kill(signal.SIGCONT)
    assert during.get("hub-a") == stopped.get("hub-a"), (stopped, during)

    # then A dies for good, mid-stream: B carries the rest
    wait_until(lambda: stored(db) >= n_events // 2, timeout=60, interval=0.1,
               what="half the county stored")
    hub_a.kill(signal.SIGKILL)
    assert hub_a.wait(timeout=10) == -signal.SIGKILL
    # likewise after the kill: a COMMIT already sent finishes, then the
    # backend sees its client gone and exits
    wait_until(lambda: not backends(db, "hub-a"), timeout=60, interval=0.05,
               what="hub A's connections closed")
    at_kill = per_hub(db)
    assert at_kill["hub-a"] > 0 and stored(db) < n_events, \
        f"the stream ended before hub A was killed: {at_kill}"
    stream.release()

    stream.join(STREAM_S + 60)
    assert stream.error is None, f"dropping records failed: {stream.error!r}"
    wait_until(lambda: all(link.idle() for link in links.values()), timeout=180, interval=0.2,
               what="every spool consumed and every outbox empty")
    t_delivered = time.monotonic()
    wait_drained(db, timeout=120)
    supervised(db)
    wait_until(lambda: all_tasks_written(db, links), timeout=60, interval=0.2,
               what="every task written to its agency's task spool")

    final = per_hub(db)
    rows, distinct = event_count(db)
    problems, summary = day_problems(db, cases, "together")
    if (rows, distinct) != (n_events, n_events):
        problems.insert(0, f"events: {rows} rows, {distinct} distinct ids, "
                           f"expected {n_events} once each")
    if final.get("hub-a") != at_kill["hub-a"]:
        problems.append(f"hub A stored events after it was killed: {at_kill} -> {final}")
    if final.get("hub-b", 0) <= at_kill.get("hub-b", 0):
        problems.append(f"hub B stored nothing after hub A was killed: {at_kill} -> {final}")
    split = cases_across_hubs(db, cases)
    if split == 0:
        problems.append("no case had events stored by both hubs")
    dupes = query(db, """SELECT workflow, key_value, count(*) FROM workflow_instances
                         GROUP BY 1, 2 HAVING count(*) > 1""")
    if dupes:
        problems.append(f"more than one instance of a workflow for a key: {dupes[:5]}")
    task_problems, n_tasks = check_tasks(db, links)
    problems += task_problems
    dead = scalar(db, "SELECT count(*) FROM dead_letters")
    if dead:
        problems.append(f"{dead} dead letters")
    resent = sum(len([1 for line in link.log().splitlines()
                      if "batch not acknowledged, resending" in line
                      or "reconnecting and resending" in line]) for link in links.values())
    print(f"two hubs: {summary}; events per hub {final} (at the kill {at_kill}); "
          f"{split} cases split across both hubs; {n_tasks} tasks delivered once each; "
          f"{resent} resends by the adapters; all delivered after "
          f"{t_delivered - t0:.1f} s")
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems[:40])
    assert hub_b.terminate() == 0, hub_b.log()[-3000:]


def test_hung_hub_left_out(db, procs, tmp_path):
    """One of two hubs hangs (SIGSTOP) for several ack timeouts while an
    adapter streams: once the hung hub misses its pings the adapter stops
    sending to it, so only the batches of the first moments are resent, and
    everything is stored by the other hub while the first is still hung.
    Continued, the hub takes batches again."""
    lines, _, programs = county_feed(tmp_path, cases=3000, malformed=0)
    land = lines["land"]
    hub_a, hub_b = start_hubs(procs, db, ["hub-a", "hub-b"])
    link = Link(procs, tmp_path, "land", programs["land"], [hub_a.endpoint, hub_b.endpoint])
    link.start()
    link.drop("land-0000", land[:100])
    wait_until(lambda: len(per_hub(db)) == 2 or link.idle(), timeout=30,
               what="the first records stored")

    hub_a.kill(signal.SIGSTOP)
    stall_s = 8 * ACK_TIMEOUT_MS / 1000
    t0 = time.monotonic()
    try:
        # a small file every 0.1 s, one batch each
        part = land[100:2100]
        for i in range(0, len(part), 40):
            link.drop(f"land-{1 + i // 40:04d}", part[i:i + 40])
            time.sleep(0.1)
        want = len(set(land[:2100]))
        wait_until(lambda: stored(db) == want, timeout=max(1.0, stall_s - (time.monotonic() - t0)),
                   interval=0.1, what="every record stored while hub A is hung")
        hung = per_hub(db)
    finally:
        hub_a.kill(signal.SIGCONT)
    resends = len([1 for ln in link.log().splitlines()
                   if "batch not acknowledged, resending" in ln])
    print(f"hung hub: {len(part) // 40} batches over {len(part) // 40 * 0.1:.0f} s while hub A "
          f"was stopped; {resends} resends; events per hub {hung}")
    assert resends <= 15, f"{resends} batches resent: the hung hub kept getting batches"

    # continued, hub A takes its share again
    before = hung.get("hub-a", 0)
    rest = land[2100:]
    for i in range(0, len(rest), 40):
        link.drop(f"land-{1000 + i // 40:04d}", rest[i:i + 40])
        time.sleep(0.05)
    wait_until(link.idle, timeout=60, interval=0.2, what="the rest delivered")
    assert per_hub(db).get("hub-a", 0) > before, f"hub A took nothing after SIGCONT: {per_hub(db)}"
    distinct = len(set(land))
    assert event_count(db) == (distinct, distinct)


def test_hub_list(db, procs, tmp_path):
    """--hub takes one endpoint or several ("A, B"): with the first hub of
    the list down from the start, everything goes through the second. A
    malformed list is refused at start, naming the entry."""
    hub = start_hub(procs, db)
    records = [make_record(i) for i in range(2000)]
    path = write_ndjson(tmp_path / "in.ndjson", records)
    down = f"tcp://127.0.0.1:{free_port()}"
    adapter = start_adapter(procs, hub.port, str(tmp_path / "a.outbox"), stdin=str(path),
                            extra=["--hub", f"{down}, {hub.endpoint}"])
    wait_exit(adapter, timeout=60)
    assert event_count(db) == (len(records), len(records))
    assert f'hub="{down}, {hub.endpoint}"' in adapter.log()

    for bad, entry in [(f"{hub.endpoint},,{down}", 'endpoint 2 of "[^"]*" is ""'),
                       (f"{hub.endpoint},127.0.0.1:5570",
                        'endpoint 2 of "[^"]*" is "127.0.0.1:5570"'),
                       (f"{hub.endpoint} {down}", 'endpoint 1 of')]:
        p = procs.start([build_path("onenet-adapter"), "--agency", "land", "--hub", bad,
                         "--outbox", str(tmp_path / "b.outbox")], name="adapter-bad-hub")
        wait_exit(p, timeout=10, expect=2)
        assert re.search(entry, p.stderr()), p.stderr()


def test_a_gone_hubs_stored_events_are_correlated_by_another(db, procs):
    """Correlation follows each hub's hash chain (docs/schema.md,
    "correlation_progress"). A hub that stored events and died before it
    correlated them leaves them after its chain's progress; no hub ever
    runs again with its id, and another hub correlates them all the same:
    a chain belongs to no correlator. Here the gone hub's three events of
    one property transfer are written as it would have (chain 'gone-hub',
    numbers 1 to 3, its head), and a hub with another id starts."""
    subprocess.run([build_path("onenet-hub"), "--db", db, "--migrate-only"], check=True,
                   timeout=60, capture_output=True)
    unit = unit_number(93001)
    zero = "decode(repeat('00', 32), 'hex')"
    for seq, (agency, etype, case_no, attrs) in enumerate((
            ("land", "transfer.accepted", "PY-BDC-93001", {"has_mortgage": False}),
            ("tax", "deed_tax.assessed", "PY-TAX-93001", {}),
            ("tax", "deed_tax.paid", "PY-TAX-93001", {})), 1):
        query(db, f"""INSERT INTO events (event_id, agency, adapter_id, case_no, event_type,
                          occurred_at, received_at, schema_version, keys, attrs, hub_id,
                          chain_id, seq, prev_digest, content_digest, row_digest)
                      VALUES (%s, %s, 'gone-adapter', %s, %s,
                          timestamptz '2020-09-28 09:00+08' + %s * interval '1 hour',
                          now(), 1, %s, %s, 'gone-hub', 'gone-hub', %s,
                          {zero}, {zero}, {zero}) RETURNING 1""",
              (new_id(), agency, case_no, etype, seq, json.dumps({"unit_number": unit}),
               json.dumps(attrs), seq))
    query(db, f"""INSERT INTO chain_heads (chain_id, seq, row_digest)
                  VALUES ('gone-hub', 3, {zero}) RETURNING 1""")
    # the new chain got its progress at 0 with its head: all three wait
    assert query(db, "SELECT seq FROM correlation_progress WHERE chain_id = 'gone-hub'") \
        == [(0,)]
    assert scalar(db, "SELECT count(*) FROM correlation_backlog WHERE hub_id = 'gone-hub'") \
        == 3
    start_hub(procs, db, extra=("--hub-id", "other-hub"))
    wait_until(lambda: scalar(db, "SELECT count(*) FROM correlation_backlog") == 0,
               timeout=60, what="the gone hub's events correlated by the other hub")
    assert query(db, "SELECT seq FROM correlation_progress WHERE chain_id = 'gone-hub'") \
        == [(3,)]
    assert query(db, """SELECT workflow, state, events FROM workflow_instances
                        WHERE key_value = %s""", (unit,)) == [("property_transfer", "open", 3)]
    steps = dict(query(db, """SELECT s.step, s.completed_at IS NOT NULL
                              FROM workflow_steps s JOIN workflow_instances i
                              ON i.id = s.instance_id WHERE i.key_value = %s""", (unit,)))
    assert steps["accepted"] and steps["deed_tax_paid"] and not steps["registered"]
