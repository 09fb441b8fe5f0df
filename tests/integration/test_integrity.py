"""A record that cannot be quietly rewritten (issue 6): the hash chain of
stored events, `hubctl verify`, and least-privilege database roles.

Events go through a real hub into a real PostgreSQL; then:
- an intact chain verifies (exit 0) and its rows carry seq 1..n;
- an UPDATE of one event's attributes, a DELETE (inside and at the end of
  the chain) and an INSERT done behind the hub's back are each named by
  verify (chain, seq, event id; exit 1) and verify is intact again once
  the row is put back;
- the chain continues without a gap across a hub SIGKILL and restart,
  across redelivered ids (the staged path) and across a batch that
  PostgreSQL refuses one row of (the row-by-row path);
- two hubs write two chains, both intact; two hubs misconfigured with the
  same id do not fork their chain;
- deploy/db-setup.sh creates owner, hub, operator and analyst logins; a
  hub running as the hub login stores and chains events but may not
  UPDATE, DELETE or TRUNCATE them; a hub login facing an old schema says
  to migrate as the owner.
"""

import json
import os
import secrets
import signal
import subprocess
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import psycopg2.sql
import pytest

from conftest import (HUB_ID, ROOT, SANITIZER_RE, HubClient, build_path, make_event,
                      query, scalar, start_hub, wait_until)


# ---------------------------------------------------------------- helpers

def verify(db, *args, expect=0):
    """hubctl --db DB --json verify ARGS: the parsed report, exit checked."""
    argv = [build_path("hubctl"), "--db", str(db), "--json", "verify", *args]
    res = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         timeout=120)
    assert not SANITIZER_RE.search(res.stderr), res.stderr
    assert res.returncode == expect, (f"verify exited {res.returncode}, expected {expect}:\n"
                                      f"{res.stdout}\n{res.stderr}")
    return json.loads(res.stdout)


def verify_text(db, expect=0):
    res = subprocess.run([build_path("hubctl"), "--db", str(db), "verify"],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert res.returncode == expect, f"{res.stdout}\n{res.stderr}"
    return res.stdout


def rich_event(pb, i, **fields):
    """An event with every kind of attribute, spelled so that PostgreSQL's
    jsonb and timestamptz normalise it: numbers in exponent form, escapes,
    Chinese text, a time attribute."""
    e = make_event(pb, i, **fields)
    e.attributes.add(name="zz_area_m2", number=87.5 + i)
    e.attributes.add(name="a_ratio", number=0.1)
    e.attributes.add(name="big", number=1e20)
    e.attributes.add(name="tiny", number=1.5e-7)
    e.attributes.add(name="buyer_name", text="刘静 \"quoted\"\ttab\\N")
    e.attributes.add(name="has_mortgage", flag=i % 2 == 0)
    e.attributes.add(name="signed_at", time_ms=1598922123250 + i)
    return e


def send(pb, hub, events, **kwargs):
    client = HubClient(pb, hub.endpoint)
    try:
        ack = client.request_batch(events, **kwargs)
    finally:
        client.close()
    return [a.status for a in ack.acks]


def send_many(pb, hub, n, start=0, per_batch=25):
    events = [rich_event(pb, start + i) for i in range(n)]
    for k in range(0, n, per_batch):
        statuses = send(pb, hub, events[k:k + per_batch])
        assert set(statuses) == {pb.STORED}, statuses
    return events


def chain_rows(db, chain=HUB_ID):
    return query(db, "SELECT seq, event_id::text FROM events WHERE chain_id = %s "
                     "ORDER BY seq", (chain,))


def assert_gapless(db, chain=HUB_ID, n=None):
    seqs = [r[0] for r in chain_rows(db, chain)]
    assert seqs == list(range(1, len(seqs) + 1)), f"chain {chain} has gaps: {seqs}"
    if n is not None:
        assert len(seqs) == n


def one_finding(report, kind):
    assert report["intact"] is False
    assert report["findings"], report
    first = report["findings"][0]
    assert first["kind"] == kind, report
    return first


def with_user(conninfo, user, password):
    parts = urlsplit(conninfo)
    netloc = f"{user}:{password}@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


# ---------------------------------------------------------------- tests

def test_verify_names_update_delete_and_insert(pg, db, procs, pb):
    hub = start_hub(procs, db)
    send_many(pb, hub, 60)
    assert_gapless(db, n=60)
    report = verify(db)
    assert report["intact"] is True and report["rows"] == 60 and report["unchained"] == 0
    assert [c["chain"] for c in report["chains"]] == [HUB_ID]
    assert report["chains"][0]["last_seq"] == 60
    text = verify_text(db)
    assert "intact: 60 events" in text and "NOT INTACT" not in text, text
    # --limit 0: count only; a bad count is a usage error naming it
    assert verify(db, "--limit", "0")["findings_total"] == 0
    res = subprocess.run([build_path("hubctl"), "--db", str(db), "verify", "--limit", "-1"],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "--limit takes a whole number from 0 to 1000000, not '-1'" in res.stderr, res

    conn = db.connect()
    cur = conn.cursor()
    # an UPDATE of one event's attributes behind the hub's back
    cur.execute("SELECT event_id::text, attrs::text FROM events "
                "WHERE chain_id = %s AND seq = 17", (HUB_ID,))
    victim, attrs = cur.fetchone()
    cur.execute("UPDATE events SET attrs = jsonb_set(attrs, '{zz_area_m2}', '1') "
                "WHERE event_id = %s", (victim,))
    f = one_finding(verify(db, expect=1), "changed")
    assert (f["chain"], f["seq"], f["event_id"]) == (HUB_ID, 17, victim)
    text = verify_text(db, expect=1)
    assert f"changed  chain {HUB_ID} seq 17 event {victim}" in text and "NOT INTACT" in text
    assert "intact:" not in text.replace("NOT INTACT:", "")
    counted = verify(db, "--limit", "0", expect=1)
    assert counted["findings_total"] == 1 and counted["findings"] == []
    # put back (same value, any spelling): intact again
    cur.execute("UPDATE events SET attrs = %s::jsonb WHERE event_id = %s", (attrs, victim))
    verify(db)
    # a sly UPDATE that also rewrites the row's own digests is caught by
    # the link of its successor
    cur.execute("UPDATE events SET case_no = 'FORGED', content_digest = sha256('x'), "
                "row_digest = sha256('y') WHERE event_id = %s", (victim,))
    report = verify(db, expect=1)
    assert report["findings"][0]["seq"] == 17 and report["findings"][0]["kind"] == "changed"

    # a DELETE inside the chain
    cur.execute("DELETE FROM events WHERE event_id = %s", (victim,))
    f = one_finding(verify(db, expect=1), "removed")
    assert (f["chain"], f["seq"]) == (HUB_ID, 17)
    assert "17 to 17" in f["detail"]

    # the last row deleted: the recorded head shows it
    cur.execute("SELECT event_id::text FROM events WHERE chain_id = %s AND seq = 60",
                (HUB_ID,))
    last = cur.fetchone()[0]
    cur.execute("DELETE FROM events WHERE event_id = %s", (last,))
    report = verify(db, expect=1)
    kinds = [(x["kind"], x["seq"]) for x in report["findings"]]
    assert ("removed", 17) in kinds and ("removed", 60) in kinds, kinds

    # an INSERT behind the hub's back, made to look like any other event
    forged = "0f8fad5b-d9cb-469f-a165-70867728950e"
    cur.execute("INSERT INTO events (event_id, agency, adapter_id, case_no, event_type, "
                "occurred_at, received_at, schema_version, keys, attrs, hub_id) "
                "SELECT %s, agency, adapter_id, 'PY-FORGED-1', event_type, occurred_at, "
                "received_at, schema_version, keys, attrs, hub_id FROM events "
                "WHERE chain_id = %s AND seq = 3", (forged, HUB_ID))
    report = verify(db, expect=1)
    assert any(x["kind"] == "inserted" and x["event_id"] == forged
               for x in report["findings"]), report
    assert report["unchained"] == 1 and report["findings_total"] == 3
    conn.close()


def test_inserted_link_and_forged_chain(pg, db, procs, pb):
    """Rows given chain columns by hand: a copied link, and a chain no hub
    recorded."""
    hub = start_hub(procs, db)
    send_many(pb, hub, 10)
    conn = db.connect()
    cur = conn.cursor()
    # seq 11 claiming seq 10's link: its link does not continue seq 10
    cur.execute("INSERT INTO events SELECT gen_random_uuid(), agency, adapter_id, case_no, "
                "event_type, occurred_at, accepted_at, received_at, stored_at, "
                "schema_version, keys, attrs, hub_id, chain_id, 11, prev_digest, "
                "content_digest, row_digest FROM events WHERE chain_id = %s AND seq = 10 "
                "RETURNING event_id::text", (HUB_ID,))
    forged = cur.fetchone()[0]
    report = verify(db, expect=1)
    found = {(x["kind"], x["seq"], x["event_id"]) for x in report["findings"]}
    assert ("changed", 11, forged) in found, report   # its row digest names seq 10
    cur.execute("DELETE FROM events WHERE event_id = %s", (forged,))
    verify(db)
    cur.execute("UPDATE events SET chain_id = 'nobody' WHERE chain_id = %s AND seq = 1",
                (HUB_ID,))
    report = verify(db, expect=1)
    kinds = {(x["kind"], x["chain"]) for x in report["findings"]}
    assert ("removed", HUB_ID) in kinds and ("inserted", "nobody") in kinds, report
    conn.close()


def test_events_stored_before_the_chain(pg, db, procs, pb):
    """Rows from before migration 005 (recorded in events_before_chain) are
    counted apart, not reported; one of them deleted is reported."""
    hub = start_hub(procs, db)
    send_many(pb, hub, 5)
    old = "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
    conn = db.connect()
    cur = conn.cursor()
    cur.execute("INSERT INTO events (event_id, agency, adapter_id, case_no, event_type, "
                "occurred_at, received_at, schema_version, keys, attrs, hub_id) "
                "VALUES (%s, 'land', 'old', 'PY-OLD-1', 'transfer.accepted', now(), now(), "
                "1, '{}', '{}', 'old-hub')", (old,))
    cur.execute("INSERT INTO events_before_chain VALUES (%s)", (old,))
    report = verify(db)
    assert report["before_chain"] == 1 and report["unchained"] == 0
    assert "1 events stored before the hash chain" in verify_text(db)
    cur.execute("DELETE FROM events WHERE event_id = %s", (old,))
    f = one_finding(verify(db, expect=1), "removed")
    assert f["event_id"] == old and "before the hash chain" in f["detail"]
    conn.close()


def test_chain_survives_sigkill_duplicates_and_refused_rows(pg, db, procs, pb):
    hub = start_hub(procs, db)
    first = send_many(pb, hub, 30)
    hub.kill(signal.SIGKILL)
    hub.wait(timeout=10)
    hub = start_hub(procs, db)
    hub.wait_for_log(r"msg=\"hash chain loaded\" chain=test-hub seq=30")
    send_many(pb, hub, 20, start=100)
    assert_gapless(db, n=50)

    # redelivered ids mixed with new ones: only the new take seq numbers
    again = first[:5] + [rich_event(pb, 200 + i) for i in range(5)]
    statuses = send(pb, hub, again)
    assert statuses == [pb.DUPLICATE] * 5 + [pb.STORED] * 5
    assert_gapless(db, n=55)

    # one row PostgreSQL refuses: the batch goes row by row; the refused
    # row takes no sequence number
    conn = db.connect()
    conn.cursor().execute("ALTER TABLE events ADD CONSTRAINT it_no_poison "
                          "CHECK (case_no <> 'POISON')")
    conn.close()
    batch = [rich_event(pb, 300 + i) for i in range(6)]
    batch[2].case_no = "POISON"
    batch[4] = first[7]   # and a duplicate in the same batch
    statuses = send(pb, hub, batch)
    assert statuses[2] != pb.STORED and statuses[4] == pb.DUPLICATE, statuses
    assert [s for k, s in enumerate(statuses) if k not in (2, 4)] == [pb.STORED] * 4
    assert_gapless(db, n=59)
    assert scalar(db, "SELECT count(*) FROM dead_letters WHERE event_id = %s",
                  (batch[2].event_id,)) == 1
    report = verify(db)
    assert report["rows"] == 59 and report["intact"] is True


def test_two_hubs_two_chains(pg, db, procs, pb):
    a = start_hub(procs, db)
    b = start_hub(procs, db, extra=("--hub-id", "hub-b"))
    send_many(pb, a, 25)
    send_many(pb, b, 25, start=50)
    send_many(pb, a, 25, start=100)
    assert_gapless(db, HUB_ID, n=50)
    assert_gapless(db, "hub-b", n=25)
    report = verify(db)
    assert sorted((c["chain"], c["rows"]) for c in report["chains"]) == \
        [("hub-b", 25), (HUB_ID, 50)]


def test_two_hubs_racing_for_the_same_ids(pg, db, procs, pb):
    """The same events sent to two hubs at once: each stored once, by one
    of them; whichever hub loses a race redoes its batch without the ids
    the other stored, and both chains stay gapless."""
    import threading
    a = start_hub(procs, db)
    b = start_hub(procs, db, extra=("--hub-id", "hub-b"))
    events = [rich_event(pb, i) for i in range(400)]
    results = {}

    def feed(name, hub):
        out = []
        for k in range(0, len(events), 50):
            out += send(pb, hub, events[k:k + 50])
        results[name] = out
    threads = [threading.Thread(target=feed, args=(n, h)) for n, h in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert set(results) == {"a", "b"}
    stored = [x == pb.STORED for x in results["a"]], [x == pb.STORED for x in results["b"]]
    assert all(sa != sb for sa, sb in zip(*stored)), "an event stored twice or never"
    assert scalar(db, "SELECT count(*) FROM events") == 400
    assert_gapless(db, HUB_ID, n=sum(stored[0]))
    assert_gapless(db, "hub-b", n=sum(stored[1]))
    verify(db)


def test_same_hub_id_twice_does_not_fork(pg, db, procs, pb):
    a = start_hub(procs, db)
    b = start_hub(procs, db)       # misconfigured: the same hub id
    send_many(pb, a, 10)
    send_many(pb, b, 10, start=50)  # b's head is stale: seq 1 is taken
    b.wait_for_log(r"another writer holds this hub's hash chain")
    send_many(pb, a, 10, start=100)
    # both at once: they take turns on the one chain, every event stored
    import threading
    threads = [threading.Thread(target=send_many, args=(pb, h, 200, start))
               for h, start in ((a, 1000), (b, 2000))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert_gapless(db, n=430)
    verify(db)


# ---------------------------------------------------------------- roles

@pytest.fixture
def roles(pg, tmp_path):
    """deploy/db-setup.sh on the test cluster: a fresh database and fresh
    owner, hub, operator and analyst logins with passwords. Yields a dict
    of conninfos by role kind; drops them all afterwards."""
    tag = secrets.token_hex(4)
    names = {k: f"it_{k}_{tag}" for k in ("owner", "hub", "operator", "analyst")}
    database = f"t_roles_{tag}"
    pwdir = tmp_path / "passwords"
    pwdir.mkdir()
    passwords = {}
    for name in names.values():
        passwords[name] = secrets.token_hex(12)
        (pwdir / name).write_text(passwords[name] + "\n")
        os.chmod(pwdir / name, 0o600)
    admin = urlsplit(pg.conninfo)
    env = dict(os.environ, PGHOST=admin.hostname, PGPORT=str(admin.port),
               PGUSER=admin.username, PGPASSWORD=admin.password)
    env.pop("PGDATABASE", None)
    argv = [str(ROOT / "deploy" / "db-setup.sh"), "--database", database,
            "--owner", names["owner"], "--hub", names["hub"], "--operator",
            names["operator"], "--analyst", names["analyst"], "--passwords", str(pwdir),
            "--hubctl", build_path("hubctl")]
    res = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, f"db-setup.sh failed:\n{res.stdout}\n{res.stderr}"
    # run again: nothing to do, still fine
    res = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, f"db-setup.sh (again) failed:\n{res.stdout}\n{res.stderr}"
    base = pg.conninfo_for(database)
    conninfos = {k: with_user(base, n, passwords[n]) for k, n in names.items()}
    conninfos["database"] = database
    yield conninfos
    pg.drop_db(database)
    conn = pg.connect("postgres")
    for name in names.values():
        conn.cursor().execute(psycopg2.sql.SQL("DROP ROLE IF EXISTS {}").format(
            psycopg2.sql.Identifier(name)))
    conn.close()


def test_hub_role_cannot_rewrite_events(pg, roles, procs, pb):
    hub_db = roles["hub"]
    hub = start_hub(procs, hub_db)
    send_many(pb, hub, 20)
    conn = psycopg2.connect(hub_db)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM events")
    assert cur.fetchone()[0] == 20
    for sql in ("UPDATE events SET case_no = 'X'", "DELETE FROM events",
                "TRUNCATE events", "DROP TABLE events",
                "ALTER TABLE events DROP CONSTRAINT events_chain_seq"):
        with pytest.raises(psycopg2.Error) as err:
            cur.execute(sql)
        assert err.value.pgcode in ("42501", "42P01") or "must be owner" in str(err.value), sql
    conn.close()
    # the owner owns the tables, not the hub
    assert scalar(pg.conninfo_for(roles["database"]),
                  "SELECT tableowner FROM pg_tables WHERE tablename = 'events'") \
        == urlsplit(roles["owner"]).username
    # operators verify; analysts see views only
    assert verify(roles["operator"])["rows"] == 20
    conn = psycopg2.connect(roles["analyst"])
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM analytics.events")
    assert cur.fetchone()[0] == 20
    with pytest.raises(psycopg2.Error) as err:
        cur.execute("SELECT count(*) FROM public.events")
    assert err.value.pgcode == "42501"
    conn.close()


def test_hub_role_facing_old_schema_says_migrate(pg, roles, procs, pb):
    owner = psycopg2.connect(roles["owner"])
    owner.autocommit = True
    owner.cursor().execute("DELETE FROM schema_migrations WHERE version >= 5")
    owner.close()
    hub = start_hub(procs, roles["hub"], wait=False)
    hub.wait_for_log(r"run `hubctl migrate` or `onenet-hub --migrate-only` as the database "
                     r"owner", timeout=30)
    assert "may not change the schema" in hub.log()
