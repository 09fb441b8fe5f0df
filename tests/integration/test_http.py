"""The hub's HTTP endpoint (--http): /metrics in the Prometheus text format,
checked by promtool, with counters that move and business gauges that
match a scenario counted by hand; /healthz following the database of an
idle hub; who may ask what (docs/security.md)."""

import datetime
import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import (bad_credit_code, build_path, free_port, make_event, now_ms, query,
                      start_hub, unit_number, wait_exit, wait_until)
from test_workflows import BJ, case_event, copy_workflows, pt_case, send, wait_drained

# A workflow of the tests, beside the shipped ones: a land request that the
# water company must inspect within 60 working minutes, warned at 10 %.
HTTP_CHECK = """\
workflow: http_check
version: 1
title: 水表核验
key: unit_number
starts_on:
  - {agency: land, event: check.requested}
unmatched_ttl: 1h
warn_at: 0.1
steps:
  - id: requested
    title: 核验申请
    agency: land
    completes_on: [check.requested]
  - id: inspected
    title: 水表现场核验
    agency: water
    completes_on: [meter.inspected]
    after: [requested]
    deadline: {working_minutes: 60, from: start}
completes_when: all
"""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def get(port, path, headers=None, host="127.0.0.1", timeout=15):
    """(status, body text, headers) of GET http://HOST:PORT/PATH; redirects
    are not followed."""
    req = urllib.request.Request(f"http://{host}:{port}{path}", headers=headers or {})
    try:
        with _OPENER.open(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8"), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8"), e.headers


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')


def unescape_label(v):
    return re.sub(r'\\(.)', lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v)


def parse_metrics(text):
    """{(name, ((label, value), ...)): float} of the exposition TEXT."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = tuple(sorted((k, unescape_label(v))
                              for k, v in _LABEL.findall(m.group(2) or "")))
        out[(m.group(1), labels)] = float(m.group(3))
    return out


def promtool(text):
    """promtool check metrics on TEXT; asserts it finds nothing."""
    tool = shutil.which("promtool")
    assert tool, "promtool is not installed: deploy/install-deps.sh installs it (prometheus)"
    r = subprocess.run([tool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), \
        f"promtool check metrics: exit {r.returncode}\n{r.stdout}{r.stderr}"


def scrape(port, headers=None):
    status, body, hdrs = get(port, "/metrics", headers)
    assert status == 200, body
    assert hdrs["Content-Type"].startswith("text/plain; version=0.0.4")
    return body, parse_metrics(body)


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))))


def http_hub(procs, db, extra=(), **kwargs):
    port = free_port()
    hub = start_hub(procs, db, extra=("--http", f"127.0.0.1:{port}", *extra), **kwargs)
    hub.http_port = port
    return hub


def test_metrics_counters_move_and_pass_promtool(pb, db, procs, hub_client):
    """Scraped while events come: the counters of `hubctl metrics`, with the
    hub id as a label (quotes, a backslash), valid for promtool."""
    hub_id = 'county "1" \\ pengyang'
    hub = http_hub(procs, db, extra=("--hub-id", hub_id))
    text, before = scrape(hub.http_port)
    promtool(text)
    assert value(before, "onenet_events_stored_total", hub=hub_id) == 0
    assert value(before, "onenet_store_available", hub=hub_id) == 1
    assert value(before, "onenet_db_scrape_ok") == 1

    client = hub_client(hub.endpoint)
    events = [e for _, e in pt_case(pb, unit_number(7101), mortgage=False)]
    send(client, events)
    send(client, events[:2], expect=("DUPLICATE",))
    wait_drained(db)

    def moved():
        text, s = scrape(hub.http_port)
        return (text, s) if value(s, "onenet_events_stored_total", hub=hub_id) == len(events) \
            else None
    text, after = wait_until(moved, timeout=15, what="the stored counter to move")
    promtool(text)
    assert value(after, "onenet_events_received_total", hub=hub_id) == len(events) + 2
    assert value(after, "onenet_events_duplicate_total", hub=hub_id) == 2
    assert value(after, "onenet_events_rejected_total", hub=hub_id) == 0
    batches = value(after, "onenet_batch_commit_seconds_count", hub=hub_id)
    assert batches >= 2
    assert value(after, "onenet_batch_commit_seconds_bucket", hub=hub_id, le="+Inf") == batches
    assert 0 <= value(after, "onenet_store_round_trip_age_seconds", hub=hub_id) < 6
    # one sample per series, every family announced once
    types = re.findall(r"^# TYPE (\S+) ", text, re.M)
    assert len(types) == len(set(types))


def test_gauges_match_a_scenario_counted_by_hand(pb, db, procs, hub_client, tmp_path):
    """Overdue and warned steps by agency, stale adapters, the correlation
    backlog, dead letters and undelivered tasks, from PostgreSQL, against
    a scenario whose numbers are counted by hand below (and the overdue
    ones against `hubctl overdue`)."""
    scenario = build_scenario(pb, db, procs, hub_client, tmp_path)
    hub = scenario["hub"]
    expect = {
        # case 1: the registration (land, 4 working days) long overdue;
        # case 2: power and water transfers (1 working day after the 2020
        # registration) overdue; case 4: the water inspection 2 h after
        # its 60-minute start
        "onenet_steps_overdue": {"land": 1, "power": 1, "water": 2, "tax": 0, "bank": 0,
                                 "gas": 0},
        # case 3: 10 minutes into its 60, past the 6-minute warning point
        "onenet_steps_warning": {"water": 1, "land": 0, "power": 0},
        # case 2's registration issued one account transfer to power and one
        # to water; power's adapter reported cursor 1, nobody took water's
        "onenet_tasks_undelivered": {"power": 0, "water": 1, "land": 0},
    }

    def gauges():
        text, s = scrape(hub.http_port)
        if value(s, "onenet_db_scrape_ok") != 1:
            return None
        got = {name: {a: value(s, name, agency=a) for a in want}
               for name, want in expect.items()}
        return (text, s) if got == expect else None
    try:
        text, s = wait_until(gauges, timeout=30, interval=0.5,
                             what="the gauges to match the scenario")
    except TimeoutError:
        raise AssertionError(f"gauges: {scrape(hub.http_port)[0]}") from None
    promtool(text)
    # every agency the hub accepts has its series, at 0 when nothing is due
    for a in ("tax", "land", "power", "water", "bank", "market", "police", "social", "gas",
              "heat", "approval"):
        assert value(s, "onenet_steps_overdue", agency=a) is not None
    # one adapter silent for 10 minutes (gas-old); the two that just sent
    # heartbeats are not stale
    assert value(s, "onenet_adapters_stale") == 1
    assert value(s, "onenet_adapter_heartbeat_age_seconds", agency="gas",
                 adapter="gas-old") >= 600
    assert value(s, "onenet_adapter_heartbeat_age_seconds", agency="power",
                 adapter="power-it") < 120
    assert value(s, "onenet_adapter_outbox_depth", agency="gas", adapter="gas-old") == 7
    assert value(s, "onenet_adapter_outbox_depth", agency="power", adapter="power-it") == 3
    # everything correlated
    assert value(s, "onenet_correlation_backlog") == 0
    assert value(s, "onenet_correlation_backlog_oldest_seconds") == 0
    # the refused event (a bad credit code) today, one refusal from three days ago
    assert value(s, "onenet_dead_letters") == 2
    assert value(s, "onenet_dead_letters_24h") == 1

    # the overdue counts are the ones the supervision list gives
    r = subprocess.run([build_path("hubctl"), "--db", db, "--json", "overdue"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    by_agency = {row["agency"]: int(row["overdue_steps"])
                 for row in json.loads(r.stdout)["by_agency"]}
    assert by_agency == {a: n for a, n in expect["onenet_steps_overdue"].items() if n}

    # a backlog: events stored while correlation cannot take them (a
    # transaction of the test holds workflow_instances)
    conn = db.connect(autocommit=False)
    try:
        with conn.cursor() as cur:
            cur.execute("LOCK TABLE workflow_instances IN ACCESS EXCLUSIVE MODE")
            send(scenario["client"], [make_event(pb, 7201), make_event(pb, 7202)])

            def backlog():
                _, s = scrape(hub.http_port)
                return s if value(s, "onenet_correlation_backlog") == 2 else None
            s = wait_until(backlog, timeout=30, interval=0.5, what="a backlog of 2")
            assert value(s, "onenet_correlation_backlog_oldest_seconds") >= 0
    finally:
        conn.rollback()
        conn.close()
    wait_drained(db)
    wait_until(lambda: value(scrape(hub.http_port)[1], "onenet_correlation_backlog") == 0,
               timeout=30, interval=0.5, what="the backlog drained")


def build_scenario(pb, db, procs, hub_client, tmp_path, extra=()):
    """A hub (with --http, and EXTRA) holding four cases and some adapters,
    dead letters and tasks; see test_gauges_match_a_scenario_counted_by_hand."""
    subprocess.run([build_path("onenet-hub"), "--db", db, "--migrate-only"],
                   check=True, timeout=60, capture_output=True)
    today = datetime.datetime.now(BJ).date()
    for delta in (-1, 0, 1):   # working minutes need working days around now
        query(db, """INSERT INTO calendar_days (day, workday, name, source)
                     VALUES (%s, true, 'integration test', 'operator')
                     ON CONFLICT (day) DO UPDATE SET workday = true, source = 'operator'
                     RETURNING day""", (today + datetime.timedelta(days=delta),))
    wf = copy_workflows(tmp_path)
    (wf / "http_check.yaml").write_text(HTTP_CHECK, encoding="utf-8")
    hub = http_hub(procs, db, extra=("--workflows", str(wf), "--supervise-interval-ms", "200",
                                     "--office-hours", "00:00-12:00,12:00-24:00", *extra))
    client = hub_client(hub.endpoint)
    stored = 0
    # case 1: a 2020 transfer accepted, nothing since
    case1 = dict(pt_case(pb, unit_number(7301), mortgage=False))
    send(client, [case1["accepted"]])
    # case 2: registered in 2020, neither utility transferred the account
    case2 = dict(pt_case(pb, unit_number(7302), mortgage=False, complete=False))
    del case2["power"]
    send(client, list(case2.values()))
    # case 3: a check requested 10 minutes ago; case 4: two hours ago
    case3 = case_event(pb, "land", "check.requested", unit_number(7303),
                       now_ms() - 10 * 60_000)
    case4 = case_event(pb, "land", "check.requested", unit_number(7304),
                       now_ms() - 120 * 60_000)
    send(client, [case3, case4])
    stored = 1 + len(case2) + 2
    # one event refused: its credit code fails its check
    bad = make_event(pb, 7305, keys=[(pb.CREDIT_CODE, bad_credit_code(7305))])
    send(client, [bad], expect=("REJECTED",))
    wait_drained(db)
    # power's adapter has taken task 1; an adapter of the gas company went
    # silent ten minutes ago
    hb = pb.AdapterMessage()
    hb.heartbeat.adapter_id = "power-it"
    hb.heartbeat.agency = "power"
    hb.heartbeat.sent_at_ms = now_ms()
    hb.heartbeat.outbox_depth = 3
    hb.heartbeat.task_cursor = 1
    client.send(hb)
    assert client.recv().WhichOneof("body") == "heartbeat"
    client.heartbeat(adapter_id="land-it", agency="land")
    query(db, """INSERT INTO adapters (adapter_id, agency, last_heartbeat, outbox_depth,
                                       task_cursor, hub_id)
                 VALUES ('gas-old', 'gas', now() - interval '10 minutes', 7, 0, 'hub-gone')
                 RETURNING 1""")
    query(db, """INSERT INTO dead_letters (first_seen, last_seen, hub_id, sender, agency,
                                           code, reason)
                 VALUES (now() - interval '3 days', now() - interval '3 days', 'hub-gone',
                         'tax-it', 'tax', 'MALFORMED', 'an old refusal') RETURNING 1""")
    wait_until(lambda: query(db, "SELECT task_cursor FROM adapters "
                                 "WHERE adapter_id = 'power-it'") == [(1,)],
               timeout=15, what="power's heartbeat stored")
    assert query(db, "SELECT agency, seq FROM tasks ORDER BY agency") == \
        [("power", 1), ("water", 1)]
    return {"hub": hub, "client": client, "stored": stored,
            "cases": {"case1": case1, "case2": case2, "case3": case3, "case4": case4}}


def test_healthz_follows_the_database_of_an_idle_hub(pg, db, procs):
    """/healthz is 200 while the store reaches PostgreSQL; stopping it turns
    it 503 within seconds, on a hub that takes no events, with the reason
    on one line; the database gauges are left out meanwhile; 200 again
    once PostgreSQL is back."""
    hub = http_hub(procs, db, extra=("--db-retry-max-ms", "500"))
    status, body, _ = get(hub.http_port, "/healthz")
    assert (status, body) == (200, "ok\n")
    pg.stop()
    try:
        def down():
            status, body, _ = get(hub.http_port, "/healthz")
            return (status, body) if status == 503 else None
        status, body = wait_until(down, timeout=15, interval=0.2,
                                  what="/healthz to turn 503")
        assert re.fullmatch(r"database unreachable for \d+ s: \S.*\n", body), body
        assert body.count("\n") == 1
        _, s = wait_until(lambda: (lambda r: r if value(r[1], "onenet_db_scrape_ok") == 0
                                   else None)(scrape(hub.http_port)),
                          timeout=15, interval=0.5, what="onenet_db_scrape_ok 0")
        assert not any(name == "onenet_steps_overdue" for name, _ in s)
        assert value(s, "onenet_store_available", hub="test-hub") == 0
        assert value(s, "onenet_events_stored_total", hub="test-hub") == 0
    finally:
        pg.start()
    wait_until(lambda: get(hub.http_port, "/healthz")[0] == 200, timeout=60, interval=0.2,
               what="/healthz 200 again")
    wait_until(lambda: value(scrape(hub.http_port)[1], "onenet_db_scrape_ok") == 1,
               timeout=30, interval=0.5, what="the gauges back")


def token_file(tmp_path, token="s3cret-token-0123456789abcdef", mode=0o600):
    p = tmp_path / "http.token"
    p.write_text(token + "\n")
    os.chmod(p, mode)
    return p, token


def test_address_and_token_rules(db, procs, tmp_path):
    """Loopback without a token; any other address only with a private
    token file, and then /metrics needs the token while /healthz answers
    without PostgreSQL's message; a bad address and a port in use are
    reported."""
    hub = build_path("onenet-hub")

    def refused(*args):
        r = subprocess.run([hub, "--db", db, "--insecure", *args], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 2, r
        return r.stderr
    assert "without http-token-file" in refused("--http", f"0.0.0.0:{free_port()}")
    assert "must be ADDR:PORT" in refused("--http", "9570")
    assert "port must be a number" in refused("--http", "127.0.0.1:99999")
    assert "is not an IPv4 address" in refused("--http", "example.org:9570")
    loose, _ = token_file(tmp_path, mode=0o644)
    assert "mode 0644" in refused("--http", f"127.0.0.1:{free_port()}", "--http-token-file",
                                  str(loose))
    short = tmp_path / "short.token"
    short.write_text("abc\n")
    os.chmod(short, 0o600)
    assert "16 to 256" in refused("--http", f"127.0.0.1:{free_port()}", "--http-token-file",
                                  str(short))
    # --insecure keeps every endpoint on loopback, the HTTP one too
    good, token = token_file(tmp_path)
    assert "refusing --insecure" in refused("--http", f"0.0.0.0:{free_port()}",
                                            "--http-token-file", str(good))

    # on loopback: open; a wrong token is still refused
    first = http_hub(procs, db)
    assert get(first.http_port, "/metrics")[0] == 200
    assert get(first.http_port, "/nothing")[0] == 404
    req = urllib.request.Request(f"http://127.0.0.1:{first.http_port}/metrics", data=b"x")
    with pytest.raises(urllib.error.HTTPError) as e:
        _OPENER.open(req, timeout=15)
    assert e.value.code == 405

    # a port in use stops the hub, naming the address
    second = start_hub(procs, db, wait=False, extra=("--http", f"127.0.0.1:{first.http_port}"))
    wait_exit(second, 60, expect=1)
    rec = [r for r in second.log_records() if r["msg"] == "could not open the HTTP endpoint"]
    assert rec and rec[0]["address"] == f"127.0.0.1:{first.http_port}", second.log()
    first.terminate()

    # bound to every address (not loopback): the token is needed
    port = free_port()
    keys = tmp_path / "keys"
    keys.mkdir()
    subprocess.run([build_path("hubctl"), "keys", "generate", str(keys / "hub.key")],
                   check=True, capture_output=True, timeout=60)
    (keys / "authorised").write_text("")
    remote = start_hub(procs, db, curve=(keys / "hub.key", keys / "authorised"),
                       extra=("--http", f"0.0.0.0:{port}", "--http-token-file", str(good)))
    status, body, hdrs = get(port, "/metrics")
    assert status == 401 and "no token" in body and hdrs["WWW-Authenticate"].startswith("Bearer")
    assert get(port, "/metrics", {"Authorization": "Bearer wrong-token-0123456789"})[0] == 401
    text, _ = scrape(port, {"Authorization": f"Bearer {token}"})
    promtool(text)
    status, body, _ = get(port, "/metrics", {"Cookie": f"onenet_token={token}"})
    assert status == 200
    # ?token= becomes the cookie, and the address is asked again without it
    status, body, hdrs = get(port, f"/metrics?token={token}&x=%C3%A9%20y")
    assert status == 303
    assert hdrs["Location"] == "/metrics?x=%C3%A9%20y"
    assert hdrs["Set-Cookie"].startswith(f"onenet_token={token};")
    assert "HttpOnly" in hdrs["Set-Cookie"] and "SameSite=Strict" in hdrs["Set-Cookie"]
    # /healthz answers anyone, without details
    assert get(port, "/healthz")[:2] == (200, "ok\n")
    refusals = [r for r in remote.log_records() if r["msg"] == "HTTP request refused"]
    assert refusals and refusals[0]["path"] == "/metrics" and refusals[0]["peer"] == "127.0.0.1"
    assert token not in remote.log()
