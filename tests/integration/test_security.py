"""CURVE authentication and authorisation: the hub's sockets admit only the
keys in its authorised-keys file, an adapter key speaks only for its own
agency and adapter, operators' rights are read-only or read-write, keys
rotate without a restart, and plaintext is for loopback only
(docs/security.md)."""
import os
import re
import subprocess

import pytest
import zmq

from conftest import (build_path, free_port, make_event, make_record, query, start_adapter,
                      start_hub, wait_exit, wait_until, write_ndjson)


def hubctl(*args, timeout=60):
    return subprocess.run([build_path("hubctl"), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout)


def run(argv, timeout=30):
    return subprocess.run([str(a) for a in argv], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)


def read_pair(path):
    """(public, secret) Z85 strings of a key pair file."""
    entries = dict(re.findall(r"^(public-key|secret-key) = (\S+)$", path.read_text(), re.M))
    return entries["public-key"], entries["secret-key"]


class Keys:
    """A hub key pair and an authorised-keys file, made with hubctl keys."""

    def __init__(self, directory):
        self.dir = directory
        self.auth = directory / "authorised_keys"
        self.hub_file = directory / "hub.key"
        self.hub_public = self.generate("hub.key")

    def generate(self, name):
        r = hubctl("keys", "generate", self.dir / name)
        assert r.returncode == 0, r.stderr
        public = r.stdout.strip()
        assert len(public) == 40
        return public

    def add(self, public, role, **attrs):
        argv = ["keys", "add", "--file", self.auth, "--role", role]
        for name, value in attrs.items():
            argv += [f"--{name}", value]
        r = hubctl(*argv, "--key", public)      # a Z85 key may start with '-'
        assert r.returncode == 0, r.stderr
        return public

    def adapter(self, name, agency, adapter):
        """A new adapter key pair file NAME, authorised; returns its
        client triple for HubClient."""
        public = self.add(self.generate(name), "adapter", agency=agency, adapter=adapter)
        return (self.hub_public, public, read_pair(self.dir / name)[1])

    @property
    def curve(self):
        return (self.hub_file, self.auth)


@pytest.fixture
def keys(tmp_path):
    d = tmp_path / "keys"
    d.mkdir()
    return Keys(d)


def test_unknown_key_refused_and_logged(pb, db, procs, hub_client, keys):
    keys.adapter("land.key", "land", "land-01")
    hub = start_hub(procs, db, curve=keys.curve)
    assert "CURVE on" in hub.log() and keys.hub_public in hub.log()

    public, secret = (k.decode() for k in zmq.curve_keypair())
    stranger = hub_client(hub.endpoint, curve=(keys.hub_public, public, secret))
    stranger.send_batch([make_event(pb, 1)], adapter_id="land-01", agency="land")
    with pytest.raises(TimeoutError):
        stranger.recv(timeout=2)
    line = hub.wait_for_record(lambda r: r["msg"] == "connection refused",
                               what="the refusal")
    assert line["key"] == public and line["reason"] == "unknown key", line
    assert line["peer"].startswith("127.0.0.1") and line["socket"] == "ingest", line

    # plaintext against a CURVE hub: no answer either, and a line that says
    # why, naming the peer (libzmq drops it before any key is seen)
    def handshakes():
        return [r for r in hub.log_records()
                if r.get("msg") == "connection refused at handshake"]
    before = len(handshakes())
    plain = hub_client(hub.endpoint)
    plain.send_batch([make_event(pb, 2)], adapter_id="land-01", agency="land")
    with pytest.raises(TimeoutError):
        plain.recv(timeout=2)
    assert query(db, "SELECT count(*) FROM events") == [(0,)]
    wait_until(lambda: len(handshakes()) > before, timeout=30,
               what="the plaintext connection's handshake line")
    line = handshakes()[before]
    # both ends see the mismatch; whichever closes first decides whether
    # the hub reads it as such or as the connection breaking off
    assert line["reason"].startswith(("security mechanism mismatch: a plaintext client",
                                      "the connection broke off during the handshake")), line
    # the peer's address is read when the connection is accepted; one that
    # is gone before the watcher reads it is said so (docs/security.md)
    assert re.fullmatch(r"127\.0\.0\.1:\d+|unknown \(closed before it was read\)",
                        line["peer"]), line
    assert line["socket"] == "ingest" and line["level"] == "warn"

    # a client that holds a wrong server key
    wrong_server = zmq.curve_keypair()[0].decode()
    misled = hub_client(hub.endpoint, curve=(wrong_server, public, secret))
    misled.send_batch([make_event(pb, 3)], adapter_id="land-01", agency="land")
    with pytest.raises(TimeoutError):
        misled.recv(timeout=2)
    line = hub.wait_for_log(r'msg="connection refused at handshake".*'
                            r'reason="CURVE handshake failed.*').group(0)
    assert "wrong server public key" in line
    assert re.search(r'peer=(127\.0\.0\.1:\d+|"unknown \(closed before it was read\)") ',
                     line), line


def test_adapter_key_speaks_only_for_its_agency(pb, db, procs, hub_client, keys):
    tax = keys.adapter("tax.key", "tax", "tax-01")
    hub = start_hub(procs, db, curve=keys.curve)
    c = hub_client(hub.endpoint, curve=tax)

    # the key's own agency and adapter: stored
    own = make_event(pb, 1, agency="tax", adapter_id="tax-01")
    ack = c.request_batch([own], adapter_id="tax-01", agency="tax")
    assert ack.acks[0].status == pb.STORED, ack
    assert query(db, "SELECT agency, adapter_id FROM events WHERE event_id = %s",
                 (own.event_id,)) == [("tax", "tax-01")]

    # a tax key filing a land-registry event (batch sent "for" land)
    forged = make_event(pb, 2, agency="land", adapter_id="tax-01")
    ack = c.request_batch([forged], adapter_id="tax-01", agency="land")
    assert ack.acks[0].status == pb.REJECTED
    assert ack.acks[0].code == pb.AGENCY_MISMATCH
    assert '"tax"' in ack.acks[0].reason and '"land"' in ack.acks[0].reason

    # the same with an empty batch agency: the event's own agency is checked
    forged2 = make_event(pb, 3, agency="land", adapter_id="tax-01")
    ack = c.request_batch([forged2], adapter_id="tax-01", agency="")
    assert ack.acks[0].status == pb.REJECTED and ack.acks[0].code == pb.AGENCY_MISMATCH
    assert "may not send an event of agency \"land\"" in ack.acks[0].reason

    # the right agency but posing as another adapter
    posing = make_event(pb, 4, agency="tax", adapter_id="tax-02")
    ack = c.request_batch([posing], adapter_id="tax-02", agency="tax")
    assert ack.acks[0].status == pb.REJECTED and ack.acks[0].code == pb.AGENCY_MISMATCH
    assert 'adapter "tax-01"' in ack.acks[0].reason and '"tax-02"' in ack.acks[0].reason

    # the right batch, but an event recorded as coming from another adapter
    relabelled = make_event(pb, 5, agency="tax", adapter_id="land-01")
    ack = c.request_batch([relabelled], adapter_id="tax-01", agency="tax")
    assert ack.acks[0].status == pb.REJECTED and ack.acks[0].code == pb.AGENCY_MISMATCH
    assert ack.acks[0].reason == ('the key of adapter "tax-01" may not send an event '
                                  'recorded as coming from adapter "land-01"'), ack

    rows = query(db, "SELECT event_id, code, reason FROM dead_letters ORDER BY event_id")
    by_id = {r[0]: r for r in rows}
    for e in (forged, forged2, posing, relabelled):
        assert by_id[e.event_id][1] == "AGENCY_MISMATCH", rows
    assert "tax" in by_id[forged.event_id][2] and "land" in by_id[forged.event_id][2]
    assert query(db, "SELECT count(*) FROM events") == [(1,)]

    # a heartbeat (which fetches an agency's tasks) as another agency's adapter
    msg = pb.AdapterMessage()
    msg.heartbeat.adapter_id = "land-01"
    msg.heartbeat.agency = "land"
    c.send(msg)
    reply = c.recv()
    assert reply.WhichOneof("body") == "error" and reply.error.code == pb.AGENCY_MISMATCH
    assert c.heartbeat(adapter_id="tax-01", agency="tax").hub_id

    # a read-write operator's replay of everything does not launder them
    keys.add(keys.generate("bob.key"), "read-write", name="bob")
    r = hubctl("--db", db, "--secret-key", keys.dir / "bob.key", "--hub-public-key",
               keys.hub_public, "replay", "--hub", hub.endpoint, "--timeout", "3", "--all")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 replayed, 4 not replayable" in r.stdout, r.stdout
    assert "only that agency's own adapter may send it again" in r.stdout, r.stdout
    assert query(db, "SELECT count(*) FROM events") == [(1,)]


def test_real_adapter_end_to_end_with_curve(db, procs, keys, tmp_path):
    keys.adapter("land.key", "land", "land-01")
    hub = start_hub(procs, db, curve=keys.curve)
    src = write_ndjson(tmp_path / "land.ndjson", [make_record(i) for i in range(50)])
    adapter = start_adapter(procs, hub.port, str(tmp_path / "land.outbox"), agency="land",
                            adapter_id="land-01", stdin=src,
                            extra=("--hub-public-key", keys.hub_public,
                                   "--secret-key", keys.dir / "land.key"))
    wait_exit(adapter, 60)
    assert query(db, "SELECT count(*), min(adapter_id) FROM events") == [(50, "land-01")]
    assert 'identity="adapter land land-01"' in hub.log()

    # the same adapter with the wrong hub key never gets an answer
    wrong = keys.generate("other-hub.key")
    src2 = write_ndjson(tmp_path / "land2.ndjson", [make_record(100)])
    stuck = start_adapter(procs, hub.port, str(tmp_path / "land2.outbox"), agency="land",
                          adapter_id="land-01", stdin=src2,
                          extra=("--hub-public-key", wrong,
                                 "--secret-key", keys.dir / "land.key"))
    with pytest.raises(subprocess.TimeoutExpired):
        stuck.wait(timeout=3)
    assert query(db, "SELECT count(*) FROM events") == [(50,)]


def test_secret_key_readable_by_others_refused(db, procs, keys, tmp_path):
    os.chmod(keys.hub_file, 0o644)
    r = run([build_path("onenet-hub"), "--db", db, "--listen",
             f"tcp://127.0.0.1:{free_port()}", "--secret-key", keys.hub_file,
             "--authorised-keys", keys.auth])
    assert r.returncode == 2
    assert str(keys.hub_file) in r.stderr and "0644" in r.stderr, r.stderr

    keys.adapter("bank.key", "bank", "bank-01")
    os.chmod(keys.dir / "bank.key", 0o640)
    r = run([build_path("onenet-adapter"), "--agency", "bank", "--adapter-id", "bank-01",
             "--hub-public-key", keys.hub_public, "--secret-key", keys.dir / "bank.key",
             "--outbox", tmp_path / "bank.outbox"])
    assert r.returncode == 2
    assert str(keys.dir / "bank.key") in r.stderr and "0640" in r.stderr, r.stderr


def test_rotation_without_restart(pb, db, procs, hub_client, keys):
    old = keys.adapter("water-old.key", "water", "water-01")
    hub = start_hub(procs, db, curve=keys.curve)
    ack = hub_client(hub.endpoint, curve=old).request_batch(
        [make_event(pb, 1, agency="water", adapter_id="water-01")],
        adapter_id="water-01", agency="water")
    assert ack.acks[0].status == pb.STORED

    # step 1: the new key joins; both are valid
    new = keys.adapter("water-new.key", "water", "water-01")
    hub.wait_for_log(r'msg="authorised keys loaded".*why=file-changed keys=2 valid=2')
    for i, k in ((2, new), (3, old)):
        ack = hub_client(hub.endpoint, curve=k).request_batch(
            [make_event(pb, i, agency="water", adapter_id="water-01")],
            adapter_id="water-01", agency="water")
        assert ack.acks[0].status == pb.STORED

    # step 2: the old key is retired; the new one goes on working
    r = hubctl("keys", "retire", "--file", keys.auth, "--key", old[1])
    assert r.returncode == 0, r.stderr
    hub.wait_for_log(r'msg="authorised keys loaded".*keys=2 valid=1')
    late = hub_client(hub.endpoint, curve=old)
    late.send_batch([make_event(pb, 4, agency="water", adapter_id="water-01")],
                    adapter_id="water-01", agency="water")
    with pytest.raises(TimeoutError):
        late.recv(timeout=2)
    line = hub.wait_for_record(lambda r: r["msg"] == "connection refused"
                               and r["reason"] == "key retired", what="the refusal")
    assert line["key"] == old[1], line
    ack = hub_client(hub.endpoint, curve=new).request_batch(
        [make_event(pb, 5, agency="water", adapter_id="water-01")],
        adapter_id="water-01", agency="water")
    assert ack.acks[0].status == pb.STORED
    assert query(db, "SELECT count(*) FROM events") == [(4,)]

    listed = hubctl("--json", "keys", "list", "--file", keys.auth)
    assert listed.returncode == 0, listed.stderr
    assert '"retired": null' in listed.stdout and old[1] in listed.stdout
    assert hub.alive()


def test_plaintext_needs_insecure_and_loopback(db, tmp_path):
    hub = build_path("onenet-hub")
    r = run([hub, "--db", db, "--listen", f"tcp://127.0.0.1:{free_port()}"])
    assert r.returncode == 2 and "secret-key" in r.stderr and "--insecure" in r.stderr

    for flag, endpoint in (("--listen", f"tcp://0.0.0.0:{free_port()}"),
                           ("--control", f"tcp://*:{free_port()}"),
                           ("--listen", f"tcp://10.1.2.3:{free_port()}")):
        r = run([hub, "--db", db, flag, endpoint, "--insecure"])
        assert r.returncode == 2, r.stderr
        assert endpoint in r.stderr and "loopback" in r.stderr, r.stderr

    r = run([build_path("onenet-adapter"), "--agency", "land",
             "--hub", "tcp://10.1.2.3:5570", "--outbox", tmp_path / "o.outbox"])
    assert r.returncode == 2 and "tcp://10.1.2.3:5570" in r.stderr, r.stderr


def test_insecure_hub_warns_loudly(db, procs):
    hub = start_hub(procs, db)
    assert len(re.findall(r'level=warn .*msg="INSECURE', hub.log())) >= 1
    assert "security=NONE" in hub.log()


def test_operator_rights_on_the_control_socket(db, procs, keys):
    control = f"tcp://127.0.0.1:{free_port()}"
    ro = keys.add(keys.generate("alice.key"), "read-only", name="alice")
    keys.add(keys.generate("bob.key"), "read-write", name="bob")
    keys.adapter("tax.key", "tax", "tax-01")
    hub = start_hub(procs, db, curve=keys.curve, extra=("--control", control))

    def ctl(key_file, *args):
        return hubctl("--secret-key", keys.dir / key_file, "--hub-public-key", keys.hub_public,
                      *args, "--control", control, "--timeout", "2")

    r = ctl("alice.key", "metrics")
    assert r.returncode == 0, r.stderr
    assert 'onenet_store_available{hub="test-hub"} 1' in r.stdout
    r = ctl("alice.key", "keys", "reload")
    assert r.returncode == 1
    assert "read-write" in r.stderr and "alice" in r.stderr and "read-only" in r.stderr

    r = ctl("bob.key", "keys", "reload")
    assert r.returncode == 0, r.stderr
    assert "3 keys, 3 valid" in r.stdout
    hub.wait_for_record(lambda r: r["msg"] == "authorised keys loaded"
                        and r["why"] == "reload-keys(operator=bob)", what="the reload")
    r = ctl("bob.key", "metrics")
    assert r.returncode == 0, r.stderr

    # an adapter key is no operator; no key at all is plaintext, refused
    r = ctl("tax.key", "metrics")
    assert r.returncode == 1 and "does not answer" in r.stderr
    assert re.search(r'msg="connection refused" socket=control .*reason="an adapter key',
                     hub.log())
    r = hubctl("metrics", "--control", control, "--timeout", "2")
    assert r.returncode == 1

    # a retired operator key is refused too
    r = hubctl("keys", "retire", "--file", keys.auth, "--key", ro)
    assert r.returncode == 0, r.stderr
    hub.wait_for_log(r'msg="authorised keys loaded".*why=file-changed keys=3 valid=2')
    r = ctl("alice.key", "metrics")
    assert r.returncode == 1


def test_keys_commands(keys):
    # generate: 0600, never over an existing file, public key printed
    assert (os.stat(keys.hub_file).st_mode & 0o777) == 0o600
    r = hubctl("keys", "generate", keys.hub_file)
    assert r.returncode == 1 and "exists" in r.stderr
    r = hubctl("keys", "public", keys.hub_file)
    assert r.returncode == 0 and r.stdout.strip() == keys.hub_public

    r = hubctl("keys", "add", "--file", keys.auth, "--role", "adapter", "--agency", "tax",
               "--key", keys.hub_public)
    assert r.returncode == 2 and "--adapter" in r.stderr
    r = hubctl("keys", "add", "--file", keys.auth, "--role", "admin", "--name", "x",
               "--key", keys.hub_public)
    assert r.returncode == 2 and "read-only" in r.stderr
    r = hubctl("keys", "add", "--file", keys.auth, "--role", "read-only", "--name", "x",
               "not-a-key")
    assert r.returncode == 2 and "not-a-key" in r.stderr
    keys.add(keys.hub_public, "read-only", name="carol")
    r = hubctl("keys", "add", "--file", keys.auth, "--role", "read-write", "--name", "dave",
               "--key", keys.hub_public)
    assert r.returncode == 1 and "already holds" in r.stderr
    r = hubctl("keys", "retire", "--file", keys.auth, "--", keys.hub_public)
    assert r.returncode == 0, r.stderr
    r = hubctl("keys", "retire", "--file", keys.auth, "--key", keys.hub_public)
    assert r.returncode == 1 and "already retired" in r.stderr
    r = hubctl("keys", "list", "--file", keys.auth)
    assert r.returncode == 0 and "carol" in r.stdout and "(1 keys, 0 valid)" in r.stdout


def test_concurrent_key_edits_lose_nothing(keys):
    """Operators adding keys at the same moment: every hubctl keys add keeps
    its line (edits of the authorised-keys file are serialised)."""
    publics = [keys.generate(f"op{i}.key") for i in range(24)]
    procs = [subprocess.Popen([build_path("hubctl"), "keys", "add", "--file", str(keys.auth),
                               "--role", "read-only", "--name", f"op{i}", "--key", public],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i, public in enumerate(publics)]
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    text = keys.auth.read_text()
    missing = [i for i, public in enumerate(publics) if public not in text]
    assert not missing, f"lost the keys of operators {missing}:\n{text}"
    r = hubctl("keys", "list", "--file", keys.auth)
    assert r.returncode == 0 and "(24 keys, 24 valid)" in r.stdout, r.stdout + r.stderr


def test_replay_needs_a_read_write_operator_key(pb, db, procs, hub_client, keys):
    """hubctl replay speaks CURVE with the operator's key: a read-write key
    may hand dead letters back to the ingest socket, a read-only one cannot
    connect there."""
    gas = keys.adapter("customs.key", "customs", "customs-01")
    keys.add(keys.generate("alice.key"), "read-only", name="alice")
    keys.add(keys.generate("bob.key"), "read-write", name="bob")
    hub = start_hub(procs, db, curve=keys.curve)
    event = make_event(pb, 7, agency="customs", adapter_id="customs-01")
    ack = hub_client(hub.endpoint, curve=gas).request_batch([event], adapter_id="customs-01",
                                                            agency="customs")
    assert ack.acks[0].code == pb.UNKNOWN_AGENCY
    hub.terminate()
    agencies = "tax,land,power,water,bank,market,police,social,gas,heat,approval,customs"
    hub = start_hub(procs, db, port=hub.port, curve=keys.curve,     # now customs is known
                    extra=("--agencies", agencies,
                           "--extra-event-types", "customs:transfer.accepted"))

    def replay(key_file):
        return hubctl("--db", db, "--secret-key", keys.dir / key_file, "--hub-public-key",
                      keys.hub_public, "replay", "--hub", hub.endpoint, "--timeout", "3",
                      "--code", "UNKNOWN_AGENCY")
    r = replay("alice.key")
    assert r.returncode == 1, r.stdout + r.stderr
    assert re.search(r'msg="connection refused" socket=ingest .*reason="a read-only operator',
                     hub.log())
    r = hubctl("--db", db, "replay", "--hub", hub.endpoint, "--timeout", "2", "--code",
               "UNKNOWN_AGENCY")                                    # plaintext: no answer
    assert r.returncode == 1 and "did not answer" in r.stdout + r.stderr, r.stdout + r.stderr
    assert query(db, "SELECT count(*) FROM events") == [(0,)]
    r = replay("bob.key")
    assert r.returncode == 0, r.stdout + r.stderr
    assert query(db, "SELECT agency FROM events WHERE event_id = %s",
                 (event.event_id,)) == [("customs",)]
