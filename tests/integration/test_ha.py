"""High availability for real: a three-node Patroni + etcd cluster of
PostgreSQL 15 on this machine (deploy/ha-local.sh, the configuration of
deploy/patroni/), with synchronous_mode and synchronous_mode_strict.

Two hubs share the cluster through a multi-host conninfo with
target_session_attrs=read-write. Two real adapters stream through both
hubs, and a raw client per hub records every acknowledgement with its
time. Mid-stream the primary's postmaster is SIGKILLed (and, in the second
case, the primary's PostgreSQL is frozen with SIGSTOP): Patroni promotes
the synchronous standby, the hubs find it by themselves, and in the end
every acknowledged event is stored exactly once, every record of the
adapters too, correlation went on on the new primary, and hubctl verify
finds the hash chains intact. The time from the fault to the first
acknowledgement after it is printed (docs/ha.md quotes it). A redelivered
event whose first COMMIT was cut off is answered DUPLICATE only once a
standby has it. Every shipped Patroni YAML passes patroni --validate-config.
hubctl hubs is tested here too (on the session's plain cluster).

Patroni, etcd and PostgreSQL come from deploy/install-deps.sh: when they
are missing these tests fail, they never skip. ONENET_HA_RECORDS (records
per adapter, default 4000) makes the stream longer.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest
import yaml

from conftest import (Conninfo, Feeder, ROOT, build_path, free_port, make_event, make_record,
                      outbox_count, query, scalar, start_adapter, start_hub, wait_exit,
                      wait_until, with_dbname)

HA_LOCAL = ROOT / "deploy" / "ha-local.sh"
PATRONI_DIR = ROOT / "deploy" / "patroni"
RECORDS = int(os.environ.get("ONENET_HA_RECORDS", "4000"))
# what docs/ha.md recommends after the host list
CONNINFO_OPTIONS = "&connect_timeout=3"


def run_ha(*args, timeout=400, check=True):
    res = subprocess.run([str(HA_LOCAL), *map(str, args)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         timeout=timeout)
    if check and res.returncode != 0:
        raise AssertionError(f"ha-local.sh {' '.join(map(str, args))} exited "
                             f"{res.returncode}:\n{res.stderr[-6000:]}")
    return res


class HaCluster:
    """The cluster deploy/ha-local.sh runs in DIR."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.conninfo = None

    def start(self):
        out = run_ha("start", self.dir, "--nodes", "3").stdout.strip()
        assert out.startswith("postgresql://"), out
        self.conninfo = Conninfo(out + CONNINFO_OPTIONS)

    def env(self):
        values = {}
        for line in (self.dir / "env").read_text().splitlines():
            k, _, v = line.partition("=")
            values[k] = int(v)
        return values

    def members(self):
        """{name: (role, state, timeline)} from the first Patroni REST API
        that answers; {} when none does."""
        env = self.env()
        for i in range(1, env["NODES"] + 1):
            try:
                url = f"http://127.0.0.{10 + i}:{env[f'API_PORT_{i}']}/cluster"
                with urllib.request.urlopen(url, timeout=3) as r:
                    data = json.load(r)
                return {m["name"]: (m["role"], m["state"], m.get("timeline"))
                        for m in data.get("members", [])}
            except (OSError, ValueError):
                continue
        return {}

    def primary(self):
        return next((n for n, (role, state, _) in self.members().items()
                     if role == "leader" and state == "running"), None)

    def healthy(self):
        """A running primary, and every other node streaming from it on
        its timeline, one of them as its synchronous standby."""
        m = self.members()
        leaders = [t for role, state, t in m.values() if role == "leader" and state == "running"]
        if len(leaders) != 1 or len(m) != self.env()["NODES"]:
            return False
        others = [(role, state, t) for role, state, t in m.values() if role != "leader"]
        return (all(state in ("running", "streaming") and t == leaders[0]
                    for _, state, t in others)
                and any(role == "sync_standby" for role, _, _ in others))

    def wait_healthy(self, timeout=240):
        try:
            wait_until(self.healthy, timeout, interval=0.5, what="a healthy cluster")
        except TimeoutError:
            raise AssertionError(f"cluster not healthy within {timeout} s: "
                                 f"{self.members()}\n{self.patroni_tail()}") from None

    def postgres_pids(self, node):
        """The postmaster of NODE and its children."""
        pid = int((self.dir / node / "data" / "postmaster.pid").read_text().split()[0])
        out = subprocess.run(["pgrep", "-P", str(pid)], stdout=subprocess.PIPE, text=True)
        return [pid] + [int(p) for p in out.stdout.split()]

    def patroni_tail(self, lines=15):
        text = []
        for log in sorted(self.dir.glob("n*/patroni.log")):
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            text.append(f"--- {log.parent.name}/patroni.log\n" + "\n".join(tail))
        return "\n".join(text)

    def create_db(self):
        name = "t_" + os.urandom(6).hex()
        conn = psycopg2.connect(with_dbname(self.conninfo, "postgres"), connect_timeout=10)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}" OWNER onenet')
        finally:
            conn.close()
        return Conninfo(with_dbname(self.conninfo, name))


@pytest.fixture(scope="module")
def ha():
    for tool in ("patroni", "patronictl", "etcd", "etcdctl"):
        assert shutil.which(tool), f"{tool} is missing: deploy/install-deps.sh installs it"
    # under /tmp, so that the postgres OS user (used when running as root)
    # can reach it
    directory = tempfile.mkdtemp(prefix="onenet-it-ha.", dir="/tmp")
    os.chmod(directory, 0o755)
    cluster = HaCluster(directory)
    try:
        cluster.start()
        yield cluster
    finally:
        run_ha("destroy", directory, check=False)
        shutil.rmtree(directory, ignore_errors=True)


# ---------------------------------------------------------------- configuration

def validate(path):
    res = subprocess.run(["patroni", "--validate-config", str(path)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    return res.returncode, res.stdout


def test_every_patroni_yaml_validates(ha, tmp_path):
    """The shipped configurations pass `patroni --validate-config`: the
    template rendered for each node by ha-local.sh (checked on a cluster
    initialised but not started: the validator wants the ports free), and
    the three-machine example pg1.yml with its host names pointed at this
    machine. Both carry the same cluster-wide (dcs) settings, synchronous
    and strict. A configuration lacking the rewind user fails, so the
    validator really looks."""
    local = tempfile.mkdtemp(prefix="onenet-it-ha-init.", dir="/tmp")
    os.chmod(local, 0o755)
    try:
        run_ha("init", local, "--nodes", "3")
        res = run_ha("validate", local)
        assert "every node's configuration validates" in res.stderr, res.stderr
    finally:
        run_ha("destroy", local, check=False)
        shutil.rmtree(local, ignore_errors=True)

    # pg1.yml against the running cluster's etcd, its machines as free
    # loopback addresses
    etcd = f"127.0.0.1:{ha.env()['ETCD_CLIENT_PORT']}"
    text = (PATRONI_DIR / "pg1.yml").read_text()
    text = text.replace("pg1:2379,pg2:2379,pg3:2379", etcd)
    text = text.replace("pg1:8008", f"127.0.0.21:{free_port()}")
    text = text.replace("pg1:5432", f"127.0.0.21:{free_port()}")
    assert "pg1:" not in text and "pg2:" not in text, text
    example = tmp_path / "pg1.yml"
    example.write_text(text)
    rc, out = validate(example)
    assert rc == 0 and not out.strip(), out

    broken = yaml.safe_load(text)
    del broken["postgresql"]["authentication"]["rewind"]
    (tmp_path / "broken.yml").write_text(yaml.safe_dump(broken))
    rc, out = validate(tmp_path / "broken.yml")
    assert rc != 0 and "authentication.rewind" in out, out

    shipped = yaml.safe_load(text)
    dcs = shipped["bootstrap"]["dcs"]
    assert dcs["synchronous_mode"] is True and dcs["synchronous_mode_strict"] is True
    assert dcs["postgresql"]["use_pg_rewind"] is True
    assert "etcd" in shipped and "etcd3" not in shipped
    # the cluster the failover tests run on (patroni.yml.in rendered) is
    # this configuration
    running = yaml.safe_load((ha.dir / "n1" / "patroni.yml").read_text())
    assert running["bootstrap"]["dcs"] == dcs
    assert "etcd" in running and "etcd3" not in running
    settings = query(ha.create_db(), "SELECT name, setting FROM pg_settings WHERE name IN "
                                     "('synchronous_commit', 'synchronous_standby_names')")
    assert dict(settings)["synchronous_commit"] == "on"
    assert dict(settings)["synchronous_standby_names"] not in ("", None), settings


# ---------------------------------------------------------------- the stream

class Prober(threading.Thread):
    """A raw client of one hub: a batch of a few new events every ~50 ms,
    events answered RETRY go again in the next batch, and a batch without
    an answer within 3 s is sent again on a new socket. Records when each
    event was acknowledged (STORED or DUPLICATE) and when each batch was
    sent."""

    def __init__(self, pb, hub_client, endpoint, first, name):
        super().__init__(daemon=True, name=name)
        self.pb, self.hub_client, self.endpoint = pb, hub_client, endpoint
        self.next_i = first
        self.acked = {}         # event id -> (status, monotonic time)
        self.acks = []          # (sent at, answered at, stored or duplicate count)
        self.pending = []
        self.stop_sending = threading.Event()
        self.error = None
        self.batches = 0

    def run(self):
        try:
            client = self.hub_client(self.endpoint)
            deadline = None
            while True:
                if self.stop_sending.is_set():
                    deadline = deadline or time.monotonic() + 300
                    if not self.pending or time.monotonic() > deadline:
                        return
                else:
                    for _ in range(5):
                        self.pending.append(make_event(self.pb, self.next_i,
                                                       adapter_id=self.name))
                        self.next_i += 1
                events = list(self.pending)
                sent = time.monotonic()
                seq = client.send_batch(events, adapter_id=self.name)
                reply = None
                while client.sock.poll(3000):
                    msg = client.recv()
                    if msg.WhichOneof("body") == "ack" and msg.ack.batch_seq == seq:
                        reply = msg.ack
                        break
                now = time.monotonic()
                if reply is None:
                    client = self.hub_client(self.endpoint)   # Lazy Pirate
                    continue
                self.batches += 1
                done = 0
                for a in reply.acks:
                    if a.status in (self.pb.STORED, self.pb.DUPLICATE):
                        self.acked.setdefault(a.event_id, (a.status, now))
                        done += 1
                    elif a.status != self.pb.RETRY:
                        raise AssertionError(f"{self.name}: {a}")
                self.acks.append((sent, now, done))
                self.pending = [e for e in events if e.event_id not in self.acked]
                time.sleep(0.05 if done else 0.2)
        except Exception as e:          # noqa: BLE001 (reported by the test)
            self.error = e

    def first_ack_after(self, t):
        """Time of the first answer with an acknowledgement to a batch
        sent after T."""
        return min((answered for sent, answered, done in self.acks if sent > t and done),
                   default=None)


class Stream:
    """Two hubs on DB, two real adapters sending to both, a Prober at each hub."""

    def __init__(self, pb, db, procs, hub_client, tmp_path):
        self.db = db
        self.hubs = [start_hub(procs, db, timeout=120,
                               extra=("--hub-id", name, "--supervise-interval-ms", "500"))
                     for name in ("ha-hub-a", "ha-hub-b")]
        endpoints = ",".join(h.endpoint for h in self.hubs)
        self.records = []
        self.adapters, self.feeders, self.outboxes = [], [], []
        for k in range(2):
            recs = [make_record(k * 100000 + i, case_no=f"PY-HA-{k}-{i:06d}")
                    for i in range(RECORDS)]
            self.records += recs
            outbox = str(tmp_path / f"land-{k}.outbox")
            adapter = start_adapter(procs, self.hubs[0].port, outbox, adapter_id=f"land-ha-{k}",
                                    stdin="pipe", extra=["--hub", endpoints])
            self.adapters.append(adapter)
            self.outboxes.append(outbox)
            # 50 records every 50 ms per adapter; the second half waits for
            # the fault
            self.feeders.append(Feeder(adapter, recs, chunk=50, pause=0.05,
                                       hold_at=RECORDS // 2))
        self.probers = [Prober(pb, hub_client, h.endpoint, 500000 + 100000 * j,
                               f"probe-{j}") for j, h in enumerate(self.hubs)]

    def start(self):
        for t in self.feeders + self.probers:
            t.start()

    def stored(self):
        try:
            return scalar(self.db, "SELECT count(*) FROM events")
        except psycopg2.Error:
            return None

    def release(self):
        for f in self.feeders:
            f.release()

    def finish(self):
        for f in self.feeders:
            f.finish(timeout=300)
        for a in self.adapters:
            wait_exit(a, timeout=400)
        for p in self.probers:
            p.stop_sending.set()
        for p in self.probers:
            p.join(400)
            assert not p.is_alive(), f"{p.name} still has unacknowledged events"
            assert p.error is None, f"{p.name} failed: {p.error!r}"


def check_everything(ha, stream, t_fault, label):
    """Every acknowledged event and every adapter record is stored once,
    correlation drained on the new primary, the chains are intact. Prints
    and returns the figures."""
    db = stream.db
    acked = {}
    for p in stream.probers:
        acked.update(p.acked)
    rows = dict(query(db, "SELECT event_id::text, count(*) FROM events GROUP BY 1"))
    total = scalar(db, "SELECT count(*) FROM events")
    problems = []
    missing = [e for e in acked if e not in rows]
    if missing:
        problems.append(f"{len(missing)} acknowledged events are not stored: {missing[:5]}")
    recs = {r["event_id"] for r in stream.records}
    lost = recs - rows.keys()
    if lost:
        problems.append(f"{len(lost)} adapter records are not stored: {sorted(lost)[:5]}")
    extra = rows.keys() - recs - acked.keys()
    if extra:
        problems.append(f"{len(extra)} stored events nobody sent: {sorted(extra)[:5]}")
    if total != len(rows) or total != len(recs) + len(acked):
        problems.append(f"{total} rows for {len(rows)} ids, expected "
                        f"{len(recs)} records + {len(acked)} probe events once each")
    dead = scalar(db, "SELECT count(*) FROM dead_letters")
    if dead:
        problems.append(f"{dead} dead letters: {query(db, 'SELECT code, reason FROM dead_letters LIMIT 3')}")
    for outbox in stream.outboxes:
        if outbox_count(outbox):
            problems.append(f"{outbox}: {outbox_count(outbox)} events still in the outbox")
    assert not problems, f"{label}: " + "\n".join(problems)

    # correlation continued on the new primary: the queue drains, and every
    # event, those stored after the fault included, is in its instance
    wait_until(lambda: scalar(db, "SELECT count(*) FROM correlation_backlog") == 0, 180,
               interval=0.2, what="an empty correlation queue")
    uncorrelated = scalar(db, "SELECT count(*) FROM events e WHERE NOT EXISTS "
                              "(SELECT 1 FROM instance_events i WHERE i.event_id = e.event_id)")
    assert uncorrelated == 0, f"{uncorrelated} events in no workflow instance"
    instances = scalar(db, "SELECT count(*) FROM workflow_instances")
    assert instances == total, (instances, total)

    res = subprocess.run([build_path("hubctl"), "--db", db, "verify"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, timeout=300)
    assert res.returncode == 0 and re.search(r"^intact: ", res.stdout, re.M), res.stdout[-3000:]

    # hubctl hubs, through the same multi-host conninfo: both hubs are
    # connected to the new primary
    names = [h.name for h in stream.hubs]
    wait_until(lambda: all(h["connected"] for h in hubctl_hubs(db).values()
                           if h["hub_id"] in ("ha-hub-a", "ha-hub-b"))
               and {"ha-hub-a", "ha-hub-b"} <= hubctl_hubs(db).keys(), 120, interval=0.5,
               what=f"both hubs ({names}) connected in hubctl hubs")

    # the figures
    firsts = [p.first_ack_after(t_fault) for p in stream.probers]
    assert all(firsts), f"a hub acknowledged nothing after the fault: {firsts}"
    after = {p.name: round(f - t_fault, 1) for p, f in zip(stream.probers, firsts)}
    gaps = []
    for p in stream.probers:
        before = max((a for s, a, d in p.acks if a <= t_fault and d), default=None)
        gaps.append(round(p.first_ack_after(t_fault) - before, 1) if before else None)
    committed = query(db, "SELECT hub_id, count(*) FROM events GROUP BY 1 ORDER BY 1")
    figures = {"first_ack_after_fault_s": after, "longest_ack_gap_s": gaps,
               "events": total, "per_hub": dict(committed),
               "acknowledged_probe_events": len(acked)}
    print(f"{label}: {json.dumps(figures, ensure_ascii=False)}")
    return figures


def hub_log_has(hub, pattern):
    return re.search(pattern, hub.log()) is not None


@pytest.mark.timeout(1200)
def test_failover_primary_sigkill(ha, pb, procs, hub_client, tmp_path):
    """The primary's postmaster is SIGKILLed while two adapters and two
    raw clients stream through two hubs: Patroni promotes the synchronous
    standby (primary_start_timeout 0: no restart in place), the hubs answer
    RETRY meanwhile and reconnect by themselves, and nothing acknowledged
    is lost or doubled; the old primary comes back as a standby."""
    ha.wait_healthy()
    db = ha.create_db()
    stream = Stream(pb, db, procs, hub_client, tmp_path)
    stream.start()
    wait_until(lambda: (stream.stored() or 0) >= RECORDS // 2, 120, interval=0.1,
               what="the first half of the stream stored")
    wait_until(lambda: all(p.batches >= 5 for p in stream.probers), 60,
               what="both probers acknowledged")
    old = ha.primary()
    assert old, ha.members()
    pids = ha.postgres_pids(old)
    t_fault = time.monotonic()
    os.kill(pids[0], signal.SIGKILL)
    stream.release()

    wait_until(lambda: ha.primary() not in (None, old), 120, interval=0.2,
               what="a new primary")
    new = ha.primary()
    stream.finish()
    figures = check_everything(ha, stream, t_fault, f"SIGKILL of {old}'s postmaster")
    for hub in stream.hubs:
        assert hub.alive(), hub.log()[-3000:]
        assert hub_log_has(hub, r'msg="store unavailable'), hub.log()[-3000:]
    ha.wait_healthy()
    assert ha.members()[old][0] != "leader" and ha.primary() == new
    assert max(figures["first_ack_after_fault_s"].values()) < 90


@pytest.mark.timeout(1200)
def test_failover_primary_frozen(ha, pb, procs, hub_client, tmp_path):
    """The primary's PostgreSQL (the postmaster and every backend) is
    frozen with SIGSTOP mid-stream. Its kernel still acknowledges every
    packet and keepalive, so only the hubs' own watch ends the connections
    waiting on it (the server no longer answers a new connection); Patroni
    promotes the synchronous standby once the frozen primary's leader key
    expires, and the hubs store there while the old primary is still
    frozen. Continued, the old primary finds its lock taken, steps down and
    is rewound to follow the new one; nothing acknowledged is lost."""
    ha.wait_healthy()
    db = ha.create_db()
    stream = Stream(pb, db, procs, hub_client, tmp_path)
    stream.start()
    wait_until(lambda: (stream.stored() or 0) >= RECORDS // 2, 120, interval=0.1,
               what="the first half of the stream stored")
    wait_until(lambda: all(p.batches >= 5 for p in stream.probers), 60,
               what="both probers acknowledged")
    old = ha.primary()
    assert old, ha.members()
    pids = ha.postgres_pids(old)
    t_fault = time.monotonic()
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        stream.release()
        wait_until(lambda: ha.primary() not in (None, old), 180, interval=0.2,
                   what="a new primary")
        t_promoted = time.monotonic()
        wait_until(lambda: all(p.first_ack_after(t_fault) for p in stream.probers), 180,
                   interval=0.2, what="both hubs acknowledging on the new primary")
        for hub in stream.hubs:
            assert hub_log_has(hub, r'msg="the database server stopped answering'), \
                hub.log()[-3000:]
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass
    stream.finish()
    figures = check_everything(ha, stream, t_fault, f"SIGSTOP of {old}'s PostgreSQL")
    print(f"promoted {t_promoted - t_fault:.1f} s after the freeze")
    ha.wait_healthy()
    assert ha.members()[old][0] != "leader"
    assert max(figures["first_ack_after_fault_s"].values()) < 150



@pytest.mark.timeout(600)
def test_duplicate_waits_for_the_standby(ha, pb, procs, hub_client):
    """An event whose COMMIT was cut off while it waited for the
    synchronous standby is committed on the primary alone. Sent again, it
    is found stored, and its DUPLICATE is answered only once a standby has
    it, like a STORED: the hub's commit waits for the standby (wait event
    SyncRep) until the frozen standbys continue, and then the event is on
    every standby."""
    ha.wait_healthy()
    db = ha.create_db()
    hub = start_hub(procs, db, timeout=120, extra=("--hub-id", "ha-dup"))
    c = hub_client(hub.endpoint)
    assert c.request_batch([make_event(pb, 1)]).acks[0].status == pb.STORED
    leader = ha.primary()
    standbys = [n for n in ha.members() if n != leader]
    frozen = [pid for n in standbys for pid in ha.postgres_pids(n)]

    def waiting_store():
        rows = query(db, "SELECT pid FROM pg_stat_activity WHERE application_name = "
                         "'onenet-hub store (ha-dup)' AND wait_event = 'SyncRep'")
        return rows[0][0] if rows else None

    event = make_event(pb, 2)
    for pid in frozen:
        os.kill(pid, signal.SIGSTOP)
    try:
        seq = c.send_batch([event])
        pid = wait_until(waiting_store, 60, interval=0.1, what="the commit waiting for a standby")
        query(db, "SELECT pg_terminate_backend(%s)", (pid,))
        reply = c.recv(timeout=60)
        assert reply.ack.batch_seq == seq and reply.ack.acks[0].status == pb.RETRY, reply
        # committed here alone, all the same
        assert scalar(db, "SELECT count(*) FROM events WHERE event_id = %s",
                      (event.event_id,)) == 1

        seq = c.send_batch([event])
        wait_until(lambda: waiting_store() not in (None, pid), 60, interval=0.1,
                   what="the duplicate's commit waiting for a standby")
        assert not c.sock.poll(0), "the duplicate was answered before any standby had it"
    finally:
        for p in frozen:
            try:
                os.kill(p, signal.SIGCONT)
            except ProcessLookupError:
                pass
    reply = c.recv(timeout=60)
    assert reply.ack.batch_seq == seq and reply.ack.acks[0].status == pb.DUPLICATE, reply
    # and every standby has it (replayed: synchronous_commit waits for the
    # flush, the replay follows)
    ha.wait_healthy()
    env = ha.env()
    for n in (n for n, (role, _, _) in ha.members().items() if role != "leader"):
        i = int(n[1:])
        on_standby = Conninfo(f"postgresql://onenet:{urlsplit(db).password}@127.0.0.{10 + i}:"
                              f"{env[f'PG_PORT_{i}']}/{db.dbname}")
        def replayed():
            # a standby that has not yet replayed the test database's
            # creation refuses the connection ("does not exist"): not yet
            try:
                return scalar(on_standby, "SELECT count(*) FROM events WHERE event_id = %s",
                              (event.event_id,)) == 1
            except psycopg2.OperationalError:
                return False
        wait_until(replayed, 60, interval=0.2, what=f"the event on standby {n}")

# ---------------------------------------------------------------- hubctl hubs

def hubctl_hubs(db, *args):
    res = subprocess.run([build_path("hubctl"), "--db", db, "--json", "hubs", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return {h["hub_id"]: h for h in json.loads(res.stdout)}


def test_hubctl_hubs(pb, db, procs, hub_client):
    """hubctl hubs lists every hub sharing the database from the database
    alone: connected now (and its threads), what it stored and in the last
    minute, its correlation backlog and the adapters it heard; a killed hub
    shows as not connected, and one silent for more than a day only with
    --all."""
    hub_a = start_hub(procs, db, extra=("--hub-id", "hub-east"))
    hub_b = start_hub(procs, db, extra=("--hub-id", "hub-west"))
    ca, cb = hub_client(hub_a.endpoint), hub_client(hub_b.endpoint)
    for i in range(3):
        assert {a.status for a in ca.request_batch(
            [make_event(pb, i * 10 + k) for k in range(10)]).acks} == {pb.STORED}
    assert {a.status for a in cb.request_batch(
        [make_event(pb, 100 + k) for k in range(7)]).acks} == {pb.STORED}
    ca.heartbeat(adapter_id="land-east")

    def both_up():
        hubs = hubctl_hubs(db)
        return hubs if all(hubs.get(h, {}).get("connected") for h in ("hub-east", "hub-west")) \
            and all(set(hubs[h]["threads"].split(",")) >= {"store", "correlate", "supervise"}
                    for h in ("hub-east", "hub-west")) \
            and hubs["hub-east"]["adapters"] == 1 else None
    hubs = wait_until(both_up, 30, interval=0.2, what="both hubs connected in hubctl hubs")
    east, west = hubs["hub-east"], hubs["hub-west"]
    assert (east["events"], east["events_last_minute"]) == (30, 30), east
    assert (west["events"], west["events_last_minute"]) == (7, 7), west
    assert east["stored_ago_seconds"] <= 60 and east["last_stored"].endswith("+08:00"), east
    assert east["adapters"] == 1 and west["adapters"] == 0
    assert east["heard_ago_seconds"] <= 60 and west["last_heartbeat"] is None
    assert east["connections"] >= 3 and isinstance(east["backlog"], int)

    # the backlog is what waits for correlation: hold it with a lock
    wait_until(lambda: all(h["backlog"] == 0 for h in hubctl_hubs(db).values()), 60,
               interval=0.2, what="everything correlated")
    conn = db.connect(autocommit=False)
    try:
        with conn.cursor() as cur:
            cur.execute("LOCK TABLE workflow_instances IN EXCLUSIVE MODE")
            assert {a.status for a in cb.request_batch(
                [make_event(pb, 200 + k) for k in range(5)]).acks} == {pb.STORED}
            hubs = hubctl_hubs(db)
            assert hubs["hub-west"]["backlog"] == 5, hubs["hub-west"]
            assert hubs["hub-west"]["oldest_queued_seconds"] >= 0
    finally:
        conn.rollback()
        conn.close()
    wait_until(lambda: hubctl_hubs(db)["hub-west"]["backlog"] == 0, 60, interval=0.2,
               what="the backlog correlated")

    # a killed hub: its connections go, its record stays
    hub_b.kill(signal.SIGKILL)
    hubs = wait_until(lambda: (lambda h: h if not h["hub-west"]["connected"] else None)(
        hubctl_hubs(db)), 60, interval=0.2, what="hub-west shown as not connected")
    assert hubs["hub-west"]["events"] == 12 and hubs["hub-east"]["connected"]

    # a hub silent for more than a day is left out without --all
    query(db, "UPDATE chain_heads SET updated_at = now() - interval '2 days' "
              "WHERE chain_id = 'hub-west' RETURNING chain_id")
    assert "hub-west" not in hubctl_hubs(db)
    assert "hub-west" in hubctl_hubs(db, "--all")

    table = subprocess.run([build_path("hubctl"), "--db", db, "hubs"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=60)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["hub_id", "connected", "connections"], lines
    assert re.match(r"hub-east\s+yes\s+\d+\s+correlate,store,supervise\s", lines[2]), lines
    assert "as seen by the primary" in table.stderr, table.stderr
