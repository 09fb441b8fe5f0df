"""hubctl's lists page alike and its JSON speaks one language, against a
real hub and PostgreSQL: the real hubctl binary is run as a subprocess.

- pages: workflows, overdue, deadletters, rejects, tasks and unmatched
  each take --limit and --offset; a page in the middle gives the total and
  the next offset, the last page no next one, walking next_offset from 0
  gives every row once (as many as the scenario made, counted by hand),
  an offset past the end still the total and no rows; the table's footer
  says the same;
- JSON: every command's --json (before or after the command) gives every
  instant as ISO 8601 with an offset and every duration as a number of
  seconds under a key ending in _seconds.
"""

import datetime
import json
import re
import subprocess

from conftest import (bad_credit_code, build_path, free_port, make_event, now_ms, query,
                      scalar, unit_number, wait_until)
from test_hubctl_cases import hubctl
from test_workflows import pt_case, send, start_wf_hub, wait_drained

BJ = datetime.timezone(datetime.timedelta(hours=8))

# The scenario, counted by hand (see build): what each list holds in all.
OPEN_CASES = 4        # accepted and assessed: the registration overdue
REGISTERED_CASES = 3  # registered: power and water overdue, a task for each
EXPECTED = {
    "workflows": OPEN_CASES + REGISTERED_CASES,          # one instance a case
    "overdue": OPEN_CASES * 1 + REGISTERED_CASES * 2,    # registered / power, water
    "tasks": REGISTERED_CASES * 2,                       # power and water
    "deadletters": 5,                                    # five bad credit codes
    "unmatched": 5,                                      # five payments, no transfer
    "rejects": 8,                                        # two heartbeats: 5 and 3
}

# How a row of each list is told apart from the others.
IDENTITY = {
    "workflows": lambda r: r["id"],
    "overdue": lambda r: (r["instance"], r["step"]),
    "tasks": lambda r: (r["agency"], r["seq"]),
    "deadletters": lambda r: r["id"],
    "unmatched": lambda r: (r["event_id"], r["key_kind"]),
    "rejects": lambda r: (r["adapter_id"], r["seq"]),
}


def build(pb, db, procs, hub_client, extra=()):
    """The scenario of EXPECTED, through a real hub; returns the hub."""
    hub = start_wf_hub(procs, db, extra=extra)
    client = hub_client(hub.endpoint)
    for i in range(OPEN_CASES):
        case = dict(pt_case(pb, unit_number(7100 + i), mortgage=False))
        send(client, [case["accepted"], case["assessed"]])
    for i in range(REGISTERED_CASES):
        case = dict(pt_case(pb, unit_number(7200 + i), mortgage=False))
        send(client, [case[k] for k in ("accepted", "assessed", "paid", "registered")])
    # deed-tax payments for units no transfer names: parked
    t = int(datetime.datetime(2020, 9, 28, 9, 0, tzinfo=BJ).timestamp() * 1000)
    send(client, [make_event(pb, i, agency="tax", adapter_id="tax-it",
                             event_type="deed_tax.paid", occurred_at_ms=t + i * 60_000,
                             keys=[(pb.UNIT_NUMBER, unit_number(7300 + i))],
                             case_no=f"PY-TAX-73{i:02d}") for i in range(5)],
         agency="tax", adapter_id="tax-it")
    # events whose credit code fails its check: refused, dead letters
    send(client, [make_event(pb, 7400 + i, agency="market", adapter_id="market-it",
                             event_type="enterprise.registered",
                             keys=[(pb.CREDIT_CODE, bad_credit_code(7400 + i))])
                  for i in range(5)],
         expect=("REJECTED",), agency="market", adapter_id="market-it")
    # an adapter's quarantine, reported with two heartbeats (5 rows at most
    # a heartbeat)
    at = now_ms() - 600_000
    for seqs in (range(1, 6), range(6, 9)):
        msg = pb.AdapterMessage()
        hb = msg.heartbeat
        hb.adapter_id, hb.agency, hb.sent_at_ms = "land-pages", "land", now_ms()
        for seq in seqs:
            hb.rejects.add(seq=seq, place=f"land.ndjson:{seq}", code="BAD_RECORD",
                           reason='field "case_no" is missing', rejected_at_ms=at + seq * 1000)
        client.send(msg.SerializeToString())
        assert client.recv().heartbeat.rejects_stored_up_to == seqs[-1]
    wait_drained(db)
    wait_until(lambda: scalar(db, "SELECT count(*) FROM tasks") == EXPECTED["tasks"],
               timeout=30, what="the registrations' tasks")
    return hub


def page(db, command, limit, offset):
    return hubctl(db, command, "--limit", str(limit), "--offset", str(offset),
                  json_out=True).data


def test_every_list_pages_with_its_total_and_next_offset(pb, db, procs, hub_client):
    build(pb, db, procs, hub_client)
    for command, total in EXPECTED.items():
        ident = IDENTITY[command]
        # a page in the middle: rows 3-4
        middle = page(db, command, 2, 2)
        assert (middle["total"], middle["offset"], middle["limit"], middle["next_offset"]) \
            == (total, 2, 2, 4), (command, middle)
        assert len(middle["rows"]) == 2, (command, middle)
        assert list(middle)[:5] == ["total", "offset", "limit", "next_offset", "rows"]

        # walking next_offset from 0: every row once, then no next page
        seen, offset, pages = [], 0, 0
        while offset is not None:
            p = page(db, command, 2, offset)
            assert p["total"] == total and p["offset"] == offset, (command, p)
            assert 1 <= len(p["rows"]) <= 2, (command, p)
            seen += [ident(r) for r in p["rows"]]
            last, offset, pages = p, p["next_offset"], pages + 1
        assert len(seen) == total and len(set(seen)) == total, (command, seen)
        assert pages == (total + 1) // 2, command
        assert last["offset"] + len(last["rows"]) == total and last["next_offset"] is None
        # the pages, one after the other, are the list on one page
        whole = page(db, command, 1000, 0)
        assert whole["next_offset"] is None and len(whole["rows"]) == total, command
        if command == "tasks":      # each page listed by agency and number
            assert sorted(seen) == sorted(ident(r) for r in whole["rows"])
        else:
            assert seen == [ident(r) for r in whole["rows"]], command

        # past the end: the total, no rows
        beyond = page(db, command, 2, total + 10)
        assert (beyond["total"], beyond["rows"], beyond["next_offset"]) == \
            (total, [], None), (command, beyond)

        # the table says the same
        out = hubctl(db, command, "--limit", "2", "--offset", "2").stdout
        assert f"rows 3–4 of {total}; next: --offset 4\n" in out, (command, out)
        last_offset = total - 1 if total % 2 else total - 2
        out = hubctl(db, command, "--limit", "2", "--offset", str(last_offset)).stdout
        assert re.search(rf"^rows {last_offset + 1}–{total} of {total}$", out, re.M), out
        assert "next:" not in out
        out = hubctl(db, command, "--offset", str(total + 10)).stdout
        assert f"(0 rows)\nno rows from --offset {total + 10}: {total} in all\n" in out, out

        # one message for a bad count, whichever the command and option
        for option, value, low in (("--limit", "0", 1), ("--offset", "-1", 0),
                                   ("--offset", "x", 0)):
            err = hubctl(db, command, option, value, expect=2).stderr
            assert f"hubctl {command}: {option} takes a whole number from {low} to " \
                f"1000000, not '{value}'" in err, err

    # a filter gives the total of what it matches: land's overdue steps
    land = page(db, "overdue", 1, 0)
    assert land["total"] == EXPECTED["overdue"]
    land = hubctl(db, "overdue", "--agency", "land", "--limit", "1", json_out=True).data
    assert (land["total"], land["next_offset"]) == (OPEN_CASES, 1)
    assert [a["overdue_steps"] for a in land["by_agency"]] == [OPEN_CASES]


# ---------------------------------------------------------------- JSON

INSTANT_RE = re.compile(r"^\d{4}-\d\d-\d\d[T ]\d\d:\d\d")
# what a duration looks like when it is not a number: "2d 3h", "5m 2s",
# PostgreSQL's "1 day 02:00:00" or "00:05:00"
DURATION_TEXT_RE = re.compile(r"^(\d+[dhms]( \d+[hms])?|\d+ days?.*|-?\d+:\d\d:\d\d(\.\d+)?)$")


def walk(value, path=""):
    """Every (path, key, value) in a JSON document."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield f"{path}.{k}", k, v
            yield from walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield f"{path}[{i}]", None, v
            yield from walk(v, f"{path}[{i}]")


def check_json(name, data):
    """Asserts the rules on every value of DATA; returns the keys of the
    instants and of the durations found (to check the test saw them)."""
    instants, durations = set(), set()
    for path, key, v in walk(data):
        if isinstance(v, str) and INSTANT_RE.match(v):
            assert "T" in v, f"{name}{path}: {v!r} is not ISO 8601"
            t = datetime.datetime.fromisoformat(v)
            assert t.tzinfo is not None, f"{name}{path}: {v!r} has no offset"
            instants.add(key)
        if isinstance(v, str):
            assert not DURATION_TEXT_RE.match(v), f"{name}{path}: {v!r} is a duration as text"
        if key is not None and key.endswith("_seconds"):
            assert v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)), \
                f"{name}{path}: {v!r} is not a number of seconds"
            durations.add(key)
        if key is not None:
            assert not re.search(r"(?<!_per)_(s|ms)$|_(ago|for)$", key), \
                f"{name}{path}: a duration is named {key}, not ..._seconds"
    return instants, durations


def test_every_command_prints_iso_instants_and_seconds(pb, db, procs, hub_client, tmp_path):
    control = f"tcp://127.0.0.1:{free_port()}"
    build(pb, db, procs, hub_client, extra=("--control", control))
    # an adapter heard two hours ago, with a backlog: ages to show
    query(db, "INSERT INTO adapters (adapter_id, agency, last_heartbeat, outbox_depth, "
              "oldest_unacked, task_cursor, hub_id) VALUES ('water-old', 'water', "
              "now() - interval '2 hours', 7, now() - interval '3 hours', 1, "
              "'test-hub') RETURNING 1")
    hubctl(db, "calendar", "set", "2020-10-09", "work", "--name", "调休")
    unit = unit_number(7200)
    # the keys file the hub would read: one operator key, one retired
    keys = tmp_path / "authorised_keys"
    pair = tmp_path / "op.key"
    public = subprocess.run([build_path("hubctl"), "keys", "generate", str(pair)],
                            capture_output=True, text=True, check=True).stdout.split()[-1]
    subprocess.run([build_path("hubctl"), "keys", "add", "--file", str(keys), "--role",
                    "read-only", "--name", "alice", "--key", public], check=True,
                   capture_output=True)
    subprocess.run([build_path("hubctl"), "keys", "retire", "--file", str(keys), "--key",
                    public], check=True, capture_output=True)

    # command: (arguments, the instants and the durations it must show)
    commands = {
        "status": (["--control", control], {"last_heartbeat"},
                   {"uptime_seconds", "commit_avg_seconds", "correlation_lag_seconds",
                    "silent_seconds"}),
        "metrics": (["--control", control], set(), {"uptime_seconds", "commit_avg_seconds"}),
        "workflows": ([], {"started"}, set()),
        "vocabulary": (["--vocabulary", "--control", control], set(), set()),
        "show": ([unit], {"started", "ready", "due", "done", "occurred"},
                 {"late_by_seconds"}),
        "overdue": ([], {"due"}, {"overdue_seconds", "worst_seconds"}),
        "deadletters": ([], {"first_seen", "last_seen"}, set()),
        "rejects": ([], {"rejected_at", "reported_at", "last_heartbeat"}, set()),
        "unmatched": ([], {"occurred", "parked", "expires"}, set()),
        "tasks": ([], {"created", "due"}, set()),
        "adapters": ([], {"last_heartbeat"}, {"silent_seconds", "oldest_waiting_seconds"}),
        "hubs": ([], {"last_stored", "last_heartbeat"},
                 {"stored_ago_seconds", "oldest_queued_seconds", "heard_ago_seconds"}),
        "calendar": (["2020-10"], {"changed"}, set()),
        "keys": (["list", "--file", str(keys)], {"added", "retired"}, set()),
        "verify": ([], set(), set()),
        "report": (["--month", "2020-09"], {"generated_at", "as_of"}, set()),
        "migrate": ([], set(), set()),
    }
    for name, (args, want_instants, want_durations) in commands.items():
        command = "workflows" if name == "vocabulary" else name
        before = hubctl(db, command, *args, json_out=True).data
        after = json.loads(hubctl(db, command, *args, "--json").stdout)
        assert type(before) is type(after), name
        if isinstance(before, dict):
            assert list(before) == list(after), name
        instants, durations = check_json(name, before)
        check_json(name, after)
        assert want_instants <= instants, (name, want_instants - instants)
        assert want_durations <= durations, (name, want_durations - durations)

    # the values are the database's, in Beijing time: the first instance's start
    data = hubctl(db, "show", unit, json_out=True).data
    started = scalar(db, "SELECT started_at FROM workflow_instances WHERE key_value = %s",
                     (unit,))
    assert datetime.datetime.fromisoformat(data[0]["started"]) == started
    assert data[0]["started"].endswith("+08:00")
    # the adapter heard two hours ago (read a moment later)
    old = next(a for a in hubctl(db, "adapters", json_out=True).data
               if a["adapter_id"] == "water-old")
    assert 7200 <= old["silent_seconds"] < 7200 + 60
    assert 10800 <= old["oldest_waiting_seconds"] < 10800 + 60
