"""hubctl show, overdue, adapters and tasks (issue 5) against a real hub and
PostgreSQL: the real hubctl binary is run as a subprocess, its exit status
checked, its tables read and its --json parsed.

- show: a property transfer (with a mortgage, so the unit also has a
  mortgage registration) as a timeline, by unit number and by instance id;
  late steps say by how much;
- overdue: cases of 2020 whose unfinished required steps are all long past
  their deadlines, worst first, by agency, as JSON;
- adapters and tasks: a power adapter taking its tasks into a task spool,
  a silent one, and water tasks nobody has taken;
- errors: an unknown key or id exits 1 and says what to do, a bad option
  exits 2, --help exits 0.
"""

import datetime
import json
import re
import unicodedata
import subprocess

from conftest import (SANITIZER_RE, build_path, query, scalar, start_adapter, unit_number,
                      wait_until)
from test_workflows import bj_ms, pt_case, send, start_wf_hub, wait_drained

BJ = datetime.timezone(datetime.timedelta(hours=8))
HUMAN_RE = r"\d+d \d+h"     # how hubctl shows a duration of a day or more


def hubctl(db, *args, expect=0, json_out=False):
    """Runs hubctl --db DB [--json] ARGS; checks the exit status is EXPECT
    and that no sanitizer complained. Returns the CompletedProcess, with
    .data holding the parsed JSON when JSON_OUT."""
    argv = [build_path("hubctl"), "--db", db] + (["--json"] if json_out else []) + list(args)
    res = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         timeout=60)
    shown = f"{' '.join(argv[1:])}: exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    assert res.returncode == expect, shown
    assert not SANITIZER_RE.search(res.stderr), shown
    if json_out:
        res.data = json.loads(res.stdout)
    return res


def bj_minute(dt):
    """A timestamptz from psycopg2 as hubctl prints it: Beijing, to the minute."""
    return None if dt is None else dt.astimezone(BJ).strftime("%Y-%m-%d %H:%M")


def bj_iso(dt):
    """A timestamptz from psycopg2 as hubctl --json prints it: ISO 8601, Beijing."""
    return None if dt is None else dt.astimezone(BJ).replace(microsecond=0).isoformat()


def human(seconds):
    """A duration as hubctl prints it ("2d 3h", "5h 12m", "4m 10s", "12s")."""
    s = int(seconds)
    if s >= 86400:
        return f"{s // 86400}d {s % 86400 // 3600}h"
    if s >= 3600:
        return f"{s // 3600}h {s % 3600 // 60}m"
    if s >= 60:
        return f"{s // 60}m {s % 60}s"
    return f"{s}s"


def tables(text):
    """The tables in hubctl's output, in order: each a list of rows, each a
    dict of column name to the text shown. Columns are found from the
    dashes under the header, in terminal columns: a wide (Chinese)
    character takes two, as hubctl pads it."""
    lines = text.splitlines()
    found = []
    for i, line in enumerate(lines):
        if i == 0 or not re.fullmatch(r"-+(  -+)*", line):
            continue
        starts = [m.start() for m in re.finditer(r"-+", line)]
        ends = starts[1:] + [None]

        def cells(row):
            shown = "".join(c + "\0" if unicodedata.east_asian_width(c) in "WF" else c
                            for c in row)   # one slot per terminal column
            return [shown[a:b].replace("\0", "").strip() for a, b in zip(starts, ends)]
        names = cells(lines[i - 1])
        rows = []
        for row in lines[i + 1:]:
            if re.fullmatch(r"\(\d+ rows?\)", row):
                break
            rows.append(dict(zip(names, cells(row))))
        found.append(rows)
    return found


# ---------------------------------------------------------------- show

def test_show_a_property_transfer_by_unit_and_by_id(pb, db, procs, hub_client):
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    unit = unit_number(5101)
    case = dict(pt_case(pb, unit))             # with a mortgage: two workflows
    # the water company transfers the account twelve days late
    case["water"].occurred_at_ms = bj_ms(2020, 10, 12, 10, 0)
    events = list(case.values())
    send(client, events)
    wait_drained(db)
    instances = query(db, "SELECT id, workflow FROM workflow_instances WHERE key_value = %s "
                          "ORDER BY started_at", (unit,))
    assert [w for _, w in instances] == ["property_transfer", "mortgage_registration"]
    pt_id, mr_id = (i for i, _ in instances)

    # the table: a header per instance, its steps, its events
    out = hubctl(db, "show", unit).stdout
    assert f"property_transfer #1 (id {pt_id})  state completed  started 2020-09-28 09:30" \
        "  ended 2020-10-12 10:00  definition v3  unit_number " + unit in out
    assert f"  definition v3  unit_number {unit}\n不动产转移登记与水电气暖同步过户\n" in out
    assert f"mortgage_registration #1 (id {mr_id})  state completed" in out
    assert out.index("property_transfer #1") < out.index("mortgage_registration #1")
    pt_steps, pt_events, mr_steps, mr_events = tables(out)
    water_due, water_done = query(db, """
        SELECT s.due_at, s.completed_at FROM workflow_steps s
        WHERE s.instance_id = %s AND s.step = 'water_transferred'""", (pt_id,))[0]
    late = human((water_done - water_due).total_seconds())
    assert re.fullmatch(HUMAN_RE, late)
    steps = {r["step"]: r for r in pt_steps}
    assert steps["water_transferred"] == {
        "step": "water_transferred", "title": "供水过户", "agency": "water", "required": "yes",
        "ready": "2020-09-29 10:00", "due": bj_minute(water_due), "done": "2020-10-12 10:00",
        "late_by": late}
    assert steps["power_transferred"]["late_by"] == "-"      # done in time
    assert steps["gas_transferred"]["required"] == "no" and steps["gas_transferred"]["due"] == "-"
    in_order = sorted(events, key=lambda e: e.occurred_at_ms)
    assert [(r["event_id"], r["case_no"], r["event_type"]) for r in pt_events] == \
        [(e.event_id, e.case_no, e.event_type) for e in in_order]
    assert pt_events[0]["occurred"] == "2020-09-28 09:30" and pt_events[0]["agency"] == "land"
    assert {r["step"] for r in mr_steps} == {"filed", "accepted", "registered"}
    assert case["filed"].event_id in [r["event_id"] for r in mr_events]   # in both

    # JSON: one object per instance, steps and events typed
    data = hubctl(db, "show", unit, json_out=True).data
    assert [(d["id"], d["workflow"], d["instance_no"], d["state"]) for d in data] == \
        [(pt_id, "property_transfer", 1, "completed"),
         (mr_id, "mortgage_registration", 1, "completed")]
    pt = data[0]
    assert pt["key"] == unit and pt["key_kind"] == "unit_number" and pt["version"] == 3
    assert pt["title"] == "不动产转移登记与水电气暖同步过户"
    assert pt["started"] == "2020-09-28T09:30:00+08:00"
    assert pt["ended"] == "2020-10-12T10:00:00+08:00"
    steps = {s["step"]: s for s in pt["steps"]}
    assert set(steps) == {r[0] for r in query(
        db, "SELECT step FROM workflow_steps WHERE instance_id = %s", (pt_id,))}
    assert steps["water_transferred"]["late_by_seconds"] == \
        int((water_done - water_due).total_seconds())
    assert steps["water_transferred"]["due"] == bj_iso(water_due)
    assert steps["water_transferred"]["required"] is True
    assert steps["water_transferred"]["title"] == "供水过户"
    assert steps["gas_transferred"]["required"] is False
    assert steps["gas_transferred"]["due"] is None
    assert steps["registered"]["late_by_seconds"] is None
    assert steps["registered"]["agency"] == "land"
    in_order = sorted(events, key=lambda e: e.occurred_at_ms)
    assert [e["event_id"] for e in pt["events"]] == [e.event_id for e in in_order]
    assert pt["events"][0] == {"occurred": "2020-09-28T09:30:00+08:00", "agency": "land",
                               "event_type": "transfer.accepted",
                               "case_no": case["accepted"].case_no,
                               "event_id": case["accepted"].event_id}
    assert case["filed"].event_id in [e["event_id"] for e in data[1]["events"]]

    # by id: that instance alone
    out = hubctl(db, "show", str(mr_id)).stdout
    assert "mortgage_registration #1" in out and "property_transfer #1" not in out
    data = hubctl(db, "show", str(pt_id), json_out=True).data
    assert len(data) == 1 and data[0]["id"] == pt_id and data[0]["key"] == unit

    # by the numbers people know: the land registry's own case number (one
    # number for the unit's transfer and mortgage registrations: both
    # instances), the tax bureau's (the transfer only), an event id in upper
    # case; --json after the command as well as before
    by_land = json.loads(hubctl(db, "show", case["accepted"].case_no, "--json").stdout)
    assert [d["id"] for d in by_land] == [pt_id, mr_id]
    tax = next(e for e in events if e.agency == "tax")
    assert [d["id"] for d in hubctl(db, "show", tax.case_no, json_out=True).data] == [pt_id]
    by_event = json.loads(hubctl(db, "show", case["filed"].event_id.upper(), "--json").stdout)
    assert sorted(d["id"] for d in by_event) == sorted([pt_id, mr_id])
    out = hubctl(db, "show", "彭不动产受〔2020〕第999999号", expect=1)
    assert "no workflow instance with key, case number or event id" in out.stderr


# ---------------------------------------------------------------- overdue

def test_overdue_lists_late_steps_worst_first(pb, db, procs, hub_client):
    """Cases of 2020: every unfinished required step is long overdue."""
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    old, new = unit_number(5201), unit_number(5202)
    # accepted in July and nothing since: the registration is overdue
    old_case = dict(pt_case(pb, old, shift_days=-60, mortgage=False))
    send(client, [old_case["accepted"], old_case["assessed"]])
    # registered in September; power and water never transferred the account
    new_case = dict(pt_case(pb, new, mortgage=False))
    send(client, [new_case[k] for k in ("accepted", "assessed", "paid", "registered")])
    wait_drained(db)
    old_id = scalar(db, "SELECT id FROM workflow_instances WHERE key_value = %s", (old,))
    new_id = scalar(db, "SELECT id FROM workflow_instances WHERE key_value = %s", (new,))
    due = dict(((k, s), d) for k, s, d in query(db, """
        SELECT i.key_value, s.step, s.due_at FROM workflow_steps s
        JOIN workflow_instances i ON i.id = s.instance_id""", ()))

    out = hubctl(db, "overdue").stdout
    listed, summary = tables(out)
    assert [(r["agency"], r["key"], r["step"], r["instance"]) for r in listed] == [
        ("land", old, "registered", str(old_id)),
        ("power", new, "power_transferred", str(new_id)),
        ("water", new, "water_transferred", str(new_id))]
    assert listed[0]["due"] == bj_minute(due[(old, "registered")])
    assert listed[0]["workflow"] == "property_transfer"
    assert all(re.fullmatch(HUMAN_RE, r["overdue_for"]) for r in listed)
    assert "By agency:" in out
    assert [(r["agency"], r["overdue_steps"]) for r in summary] == \
        [("land", "1"), ("power", "1"), ("water", "1")]     # the worst of equals first
    assert summary[0]["worst"] == listed[0]["overdue_for"]

    # JSON: the page of steps and the summary
    data = hubctl(db, "overdue", json_out=True).data
    assert list(data) == ["total", "offset", "limit", "next_offset", "rows", "by_agency"]
    assert (data["total"], data["offset"], data["limit"], data["next_offset"]) == \
        (3, 0, 100, None)
    assert [(s["agency"], s["key"], s["step"], s["instance"], s["workflow"])
            for s in data["rows"]] == [
        ("land", old, "registered", old_id, "property_transfer"),
        ("power", new, "power_transferred", new_id, "property_transfer"),
        ("water", new, "water_transferred", new_id, "property_transfer")]
    assert data["rows"][1]["due"] == bj_iso(due[(new, "power_transferred")])
    assert data["rows"][0]["overdue_seconds"] > 59 * 86400     # accepted 60 days earlier
    by_agency = {a["agency"]: a for a in data["by_agency"]}
    assert {a: v["overdue_steps"] for a, v in by_agency.items()} == \
        {"land": 1, "power": 1, "water": 1}
    assert data["by_agency"][0]["agency"] == "land"
    # one snapshot: the worst of land is its one step, to the second
    assert by_agency["land"]["worst_seconds"] == data["rows"][0]["overdue_seconds"]

    # one agency: its steps only, no summary table
    out = hubctl(db, "overdue", "--agency", "power").stdout
    assert [[r["step"] for r in t] for t in tables(out)] == [["power_transferred"]]
    assert "By agency:" not in out
    data = hubctl(db, "overdue", "--agency", "water", json_out=True).data
    assert [s["step"] for s in data["rows"]] == ["water_transferred"]
    assert [a["agency"] for a in data["by_agency"]] == ["water"]
    # the limit cuts the list, not the counts
    out = hubctl(db, "overdue", "--limit", "1").stdout
    assert "rows 1–1 of 3; next: --offset 1" in out
    data = hubctl(db, "overdue", "--limit", "1", json_out=True).data
    assert [s["key"] for s in data["rows"]] == [old] and data["next_offset"] == 1
    assert sum(a["overdue_steps"] for a in data["by_agency"]) == 3
    data = hubctl(db, "overdue", "--workflow", "power_connection", json_out=True).data
    assert data == {"total": 0, "offset": 0, "limit": 100, "next_offset": None, "rows": [],
                    "by_agency": []}
    # a step done (late) leaves the list
    send(client, [new_case["power"]])
    wait_drained(db)
    data = hubctl(db, "overdue", json_out=True).data
    assert [s["step"] for s in data["rows"]] == ["registered", "water_transferred"]


# ---------------------------------------------------------------- adapters, tasks

def test_adapters_and_tasks_delivered_or_pending(pb, db, procs, hub_client, tmp_path):
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    units = [unit_number(5300 + i) for i in range(3)]
    for unit in units:      # three registrations: three tasks for power, three for water
        case = dict(pt_case(pb, unit, mortgage=False))
        send(client, [case["accepted"], case["assessed"], case["paid"], case["registered"]])
    wait_drained(db)
    spool = tmp_path / "power-tasks"
    start_adapter(procs, hub.port, str(tmp_path / "power.outbox"), agency="power",
                  adapter_id="power-tasks", once=False, extra=("--task-spool", str(spool)))
    wait_until(lambda: scalar(db, "SELECT coalesce(max(task_cursor), 0) FROM adapters "
                                  "WHERE adapter_id = 'power-tasks'") == 3,
               timeout=30, what="the power adapter's task cursor at 3")
    # a water adapter that took the first water task, then fell silent
    query(db, "INSERT INTO adapters (adapter_id, agency, last_heartbeat, outbox_depth, "
              "oldest_unacked, task_cursor, hub_id) VALUES ('water-old', 'water', "
              "now() - interval '2 hours 5 minutes', 7, now() - interval '3 hours', 1, "
              "'old-hub') RETURNING 1")

    # adapters
    (listed,) = tables(hubctl(db, "adapters").stdout)
    assert [r["adapter_id"] for r in listed] == ["power-tasks", "water-old"]
    power, water = listed
    assert (power["agency"], power["outbox_depth"], power["oldest_waiting"],
            power["task_cursor"], power["hub_id"], power["stale"]) == \
        ("power", "0", "-", "3", "test-hub", "")
    assert re.fullmatch(r"\d+s", power["silent_for"]), power   # heard within a minute
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", power["last_heartbeat"])
    assert (water["agency"], water["silent_for"], water["outbox_depth"],
            water["oldest_waiting"], water["task_cursor"], water["hub_id"],
            water["stale"]) == ("water", "2h 5m", "7", "3h 0m", "1", "old-hub", "STALE")
    data = hubctl(db, "adapters", json_out=True).data
    by_id = {a["adapter_id"]: a for a in data}
    assert set(by_id) == {"power-tasks", "water-old"}
    assert by_id["power-tasks"]["stale"] is False and by_id["water-old"]["stale"] is True
    assert by_id["power-tasks"]["task_cursor"] == 3 and by_id["power-tasks"]["outbox_depth"] == 0
    assert by_id["power-tasks"]["oldest_waiting_seconds"] is None
    # inserted 2 h 5 min and 3 h before now, read a moment later
    assert 7500 <= by_id["water-old"]["silent_seconds"] < 7500 + 60
    assert 10800 <= by_id["water-old"]["oldest_waiting_seconds"] < 10800 + 60
    assert by_id["power-tasks"]["hub_id"] == "test-hub"
    data = hubctl(db, "adapters", "--agency", "water", json_out=True).data
    assert [a["adapter_id"] for a in data] == ["water-old"]

    # tasks: power's all taken; water's first taken by the silent adapter
    listed, summary = tables(hubctl(db, "tasks").stdout)
    assert [(r["agency"], r["seq"], r["kind"], r["key"], r["step"], r["delivered"])
            for r in listed] == [
        ("power", "1", "account.transfer", units[0], "power_transferred", "yes"),
        ("power", "2", "account.transfer", units[1], "power_transferred", "yes"),
        ("power", "3", "account.transfer", units[2], "power_transferred", "yes"),
        ("water", "1", "account.transfer", units[0], "water_transferred", "yes"),
        ("water", "2", "account.transfer", units[1], "water_transferred", "no"),
        ("water", "3", "account.transfer", units[2], "water_transferred", "no")]
    assert summary == [
        {"agency": "power", "issued": "3", "cursor": "3", "pending": "0", "adapters": "1"},
        {"agency": "water", "issued": "3", "cursor": "1", "pending": "2", "adapters": "1"}]
    data = hubctl(db, "tasks", json_out=True).data
    assert list(data) == ["total", "offset", "limit", "next_offset", "rows", "by_agency"]
    assert (data["total"], data["next_offset"]) == (6, None)
    assert [(t["agency"], t["seq"], t["delivered"]) for t in data["rows"]] == [
        ("power", 1, True), ("power", 2, True), ("power", 3, True),
        ("water", 1, True), ("water", 2, False), ("water", 3, False)]
    first = data["rows"][0]
    assert first["kind"] == "account.transfer" and first["workflow"] == "property_transfer"
    assert first["key"] == units[0] and first["step"] == "power_transferred"
    assert first["due"] == bj_iso(scalar(
        db, "SELECT due_at FROM tasks WHERE agency = 'power' AND seq = 1"))
    assert data["by_agency"] == [
        {"agency": "power", "issued": 3, "cursor": 3, "pending": 0, "adapters": 1},
        {"agency": "water", "issued": 3, "cursor": 1, "pending": 2, "adapters": 1}]
    # only the pending ones; one agency; the most recent N
    data = hubctl(db, "tasks", "--pending", json_out=True).data
    assert [(t["agency"], t["seq"]) for t in data["rows"]] == [("water", 2), ("water", 3)]
    listed, _ = tables(hubctl(db, "tasks", "--pending").stdout)
    assert [(r["agency"], r["seq"], r["delivered"]) for r in listed] == \
        [("water", "2", "no"), ("water", "3", "no")]
    data = hubctl(db, "tasks", "--agency", "power", "--pending", json_out=True).data
    assert data["rows"] == [] and [a["agency"] for a in data["by_agency"]] == ["power"]
    data = hubctl(db, "tasks", "--agency", "water", "--limit", "2", json_out=True).data
    assert [t["seq"] for t in data["rows"]] == [2, 3]


# ---------------------------------------------------------------- errors, usage

def test_not_found_usage_and_help(pb, db, procs, hub_client):
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    # a deed-tax payment whose transfer the land registry has not reported: parked
    parked = unit_number(5401)
    send(client, [dict(pt_case(pb, parked, mortgage=False))["paid"]])
    wait_drained(db)

    res = hubctl(db, "show", unit_number(5400), expect=1)
    assert res.stdout == ""
    assert f"no workflow instance with key, case number or event id '{unit_number(5400)}'" \
        in res.stderr
    assert "hubctl workflows" in res.stderr
    res = hubctl(db, "show", "987654", expect=1)
    assert "no workflow instance with id, key, case number or event id '987654'" in res.stderr
    res = hubctl(db, "--json", "show", parked, expect=1)
    assert res.stdout == ""
    assert "1 event(s) with this key are parked" in res.stderr
    assert f"hubctl unmatched --key {parked}" in res.stderr
    # by the tax bureau's own case number: stored, but in no instance yet
    paid = dict(pt_case(pb, parked, mortgage=False))["paid"]
    res = hubctl(db, "show", paid.case_no, expect=1)
    assert "1 stored event(s) of tax carry this case number or event id" in res.stderr
    # a database that cannot be reached is a failure, said as such
    res = hubctl("postgresql://onenet@127.0.0.1:1/none", "overdue", expect=1)
    assert "could not connect" in res.stderr and "--db" in res.stderr

    for argv in (["show"], ["show", "a", "b"], ["show", "--bogus", "x"],
                 ["overdue", "--bogus"], ["overdue", "--limit", "0"],
                 ["overdue", "--limit", "ten"], ["overdue", "extra"],
                 ["adapters", "--bogus"], ["adapters", "extra"],
                 ["tasks", "--bogus"], ["tasks", "--limit", "-3"], ["tasks", "--agency"],
                 ["workflows", "--since", "2020-13-01"], ["workflows", "--until", "yesterday"],
                 ["deadletters", "--since", "2021-02-29"]):
        res = hubctl(db, *argv, expect=2)
        assert res.stdout == "" and f"hubctl {argv[0]} --help" in res.stderr, argv
    # a value the database does not know is a usage error that lists the
    # known ones, not an empty list
    for argv, listed in ((["workflows", "--state", "opne"], "open, suspended, completed"),
                         (["workflows", "--type", "property_transfr"], "property_transfer"),
                         (["workflows", "--agency", "lnad"], "land, market"),
                         (["overdue", "--agency", "lnad"], "land"),
                         (["overdue", "--workflow", "x"], "property_transfer"),
                         (["tasks", "--agency", "lnad"], "tax"),
                         (["unmatched", "--agency", "lnad"], "land"),
                         (["adapters", "--agency", "lnad"], "land"),
                         (["deadletters", "--code", "NOPE"], "INVALID_KEY")):
        res = hubctl(db, *argv, expect=2)
        assert res.stdout == "" and f"'{argv[2]}' is not one of the" in res.stderr, argv
        assert listed in res.stderr and f"hubctl {argv[0]} --help" in res.stderr, res.stderr
    assert hubctl(db, "workflows", "--state", "open", "--agency", "tax").returncode == 0
    # one message for a bad count, whichever command
    for command in ("workflows", "overdue", "tasks", "unmatched", "deadletters"):
        res = hubctl(db, command, "--limit", "ten", expect=2)
        assert f"hubctl {command}: --limit takes a whole number from 1 to 1000000, not 'ten'" \
            in res.stderr, res.stderr
    for command in ("show", "overdue", "adapters", "tasks"):
        # help needs no database
        res = hubctl("postgresql://onenet@127.0.0.1:1/none", command, "--help")
        assert res.stdout.startswith(f"Usage: hubctl {command}") and res.stderr == ""
