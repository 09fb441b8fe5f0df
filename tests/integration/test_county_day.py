"""A simulated Pengyang county day through the real components: the county-day
generator (deploy/sample/pengyang_sample.py) writes one NDJSON file per
agency, the land registry, tax bureau, power and water companies and banks
each in its own record format and the other six agencies in the generic
one, with a few malformed records in each, and, with --expect, what should
become of every record and case. The agency's own adapter program
(onenet-adapter-land, -tax, -power, -water, -bank; onenet-adapter for the
rest) delivers each file from a spool directory to a hub, which correlates
the events into workflow instances, supervises their deadlines and issues
tasks, which the adapters write to their agencies' out-spools. The power
and water companies' acknowledgements of construction projects, which
their own formats have no record for, come in a second file of each in the
generic format, through a second adapter of theirs (onenet-adapter).

The day ends with exactly the counts the generator says it produced:

- every adapter refused exactly the malformed records, each at its file's
  line, of its kind and naming its field, in its quarantine; nothing
  reached the hub's dead letters; every distinct good record is stored
  once (repeated lines are duplicates);
- the workflow instances by workflow and state, and the overdue steps by
  agency, are as expected;
- every task the hub issued is in its agency's out-spool exactly once,
  numbered 1..N per agency, and the tasks are the simulator's, case by
  case, in every delivery order (an account transfer task for each utility
  step once the registration happened, unless the utility did it before;
  a connection.prepare task for each utility once a construction project
  was filed or, for the others, its planning permit applied for, carrying
  the project's address and applicant and nothing else).

And for every generated case:

- the workflow instances it should make exist for its key, and no others,
  each in the expected final state (completed, open, rejected);
- an on-time case has no overdue breach; a case with one late agency has
  exactly one, on that agency's step, with the late completion recorded;
  a case that stopped part-way has an overdue breach on exactly the steps
  whose deadline passed undone (the day is years ago: every running clock
  has run out);
- each instance started and ended when its events say, and holds them;
- every event is in an instance, except the bank account closures that
  belong to no case: those stay parked as unmatched; and the replacement
  tax UKey a year after a start-up, which is stored, in no instance and
  not unmatched (the start-up records the events between its cases).

And every workflow of workflows/*.yaml is exercised; tasks went to the
utilities for the account transfers of property transfers and for the
construction projects, one per step, each for a step that became ready
before it was done.

The adapters deliver at once, or one agency after the other in two orders
(see test_county_day). ONENET_CDAY="DATE,CASES,SEED" simulates another day.
test_simulated_days checks the generator's days over a holiday, its spool
files and that it is deterministic.
"""

import collections
import json
import os
import re
import subprocess
import sys
import time

import pytest

from conftest import (ROOT, outbox_count, query, scalar, start_adapter, wait_supervised,
                      wait_until)
from test_workflows import start_wf_hub, wait_drained

sys.path.insert(0, str(ROOT / "deploy" / "sample"))
from county_report import classify, quarantine, task_files  # noqa: E402
from pengyang_sample import feeds_of  # noqa: E402

# Another day for exploring: ONENET_CDAY="DATE,CASES,SEED" (e.g. "2020-09-25,400,9"),
# DATE a working day.
DATE, CASES, SEED = (os.environ.get("ONENET_CDAY") or "2020-09-01,120,7").split(",")
CASES, SEED, MALFORMED = int(CASES), int(SEED), 5
AGENCIES = ("tax", "land", "power", "water", "bank", "market", "police", "social",
            "gas", "heat", "approval")
OWN_FORMAT = ("tax", "land", "power", "water", "bank")  # onenet-adapter-<agency>
# each file the generator writes and the agency that sends it: the agencies,
# and the power and water companies' acknowledgements of construction
# projects, which their own formats have no record for, in the generic
# format for a second adapter of theirs (onenet-adapter)
FEEDS = feeds_of("own")
ISO = 'YYYY-MM-DD"T"HH24:MI:SS"+08:00"'  # to_char of Beijing time, as the generator writes
# the tasks the definitions issue: (kind, workflow, key kind) -> steps
TASK_STEPS = {
    ("account.transfer", "property_transfer", "unit_number"):
        {"power_transferred", "water_transferred", "gas_transferred", "heat_transferred"},
    ("connection.prepare", "construction_approval", "project_code"):
        {"power_acknowledged", "water_acknowledged", "gas_acknowledged", "heat_acknowledged"},
}


def shipped_workflows():
    names = set()
    for path in (ROOT / "workflows").glob("*.yaml"):
        m = re.search(r"(?m)^workflow:\s*(\S+)", path.read_text(encoding="utf-8"))
        assert m, f"{path}: no workflow name"
        names.add(m.group(1))
    return names


def generate(tmp_path):
    """Runs the generator; returns (records directory, expectations)."""
    out, expect = tmp_path / "records", tmp_path / "expect.json"
    res = subprocess.run(
        [sys.executable, str(ROOT / "deploy/sample/pengyang_sample.py"), "--date", DATE,
         "--cases", str(CASES), "--seed", str(SEED), "--malformed", str(MALFORMED),
         "--out", str(out), "--expect", str(expect)],
        capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    # on a day off the generator counts the day itself as a working day
    assert "not a working day" not in res.stderr, res.stderr
    assert not list(out.glob(".*")), "the generator left a temporary file"
    summary = json.loads(expect.read_text(encoding="utf-8"))
    assert len(summary["cases"]) == CASES
    for agency in AGENCIES:
        lines = (out / f"{agency}.ndjson").read_text(encoding="utf-8").splitlines()
        rec = summary["records"][agency]
        assert len(lines) == rec["lines"] == rec["events"] + rec["repeated"] + \
            rec["malformed"], (agency, rec)
        assert rec["format"] == (agency if agency in OWN_FORMAT else "generic")
        # a few malformed records in every file, several kinds across the day
        assert rec["malformed"] == MALFORMED, (agency, rec)
    for feed, agency in FEEDS.items():
        if feed == agency:
            continue
        lines = (out / f"{feed}.ndjson").read_text(encoding="utf-8").splitlines()
        rec = summary["records"][feed]
        assert (rec["agency"], rec["format"], rec["malformed"], rec["repeated"]) == \
            (agency, "generic", 0, 0), (feed, rec)
        assert len(lines) == rec["events"], (feed, rec)
        # the acknowledgements of construction projects, and in the power
        # company's feed its outlets' low-voltage connections with external
        # works (connection_class low_voltage, external_works true)
        for line in lines:
            r = json.loads(line)
            assert r["event_type"] == "project.acknowledged" or (
                feed == "power-generic"
                and r["event_type"] in ("connection.accepted", "connection.completed")
                and r["attrs"]["connection_class"] == "low_voltage"
                and r["attrs"]["external_works"] is True), (feed, r)
    kinds = {r["kind"] for r in summary["rejected"]}
    assert kinds == {"unparseable", "missing_field", "invalid_credit_code",
                     "invalid_unit_number", "unknown_vocabulary"}, kinds
    return out, summary


def describe(case):
    """One case, readably, for failure messages."""
    evs = "; ".join(f"{e['occurred_at']} {e['agency']} {e['event_type']} ({e['case_no']})"
                    for e in case["events"])
    return (f"case {case['case']} ({case['fate']}, {case['key']['kind']}="
            f"{case['key']['value']}): {evs}")


def supervised(db):
    """Supervision caught up (conftest.wait_supervised)."""
    wait_supervised(db)


def deliver(procs, hub, tmp_path, records, feed, once=False, generic=False):
    """Drops the feed's file into its spool directory and starts its
    adapter: the agency's own program for the five agencies with a format of
    their own (onenet-adapter for all with generic, records written with
    --format generic, and for the <agency>-generic feeds), taking the hub's
    tasks into the agency's out-spool (the agency's own adapter only).
    once: the adapter exits when it has delivered the file."""
    agency = FEEDS.get(feed, feed)
    spool = tmp_path / "spool" / feed
    spool.mkdir(parents=True)
    # the agency system writes under a name the adapter ignores, then renames
    tmp = spool / f".{feed}-{DATE}.ndjson.tmp"
    tmp.write_bytes((records / f"{feed}.ndjson").read_bytes())
    tmp.rename(spool / f"{feed}-{DATE}.ndjson")
    (tmp_path / "tasks").mkdir(exist_ok=True)
    own = feed in OWN_FORMAT and not generic
    return start_adapter(
        procs, hub.port, str(tmp_path / f"{feed}.outbox"), agency=agency,
        adapter_id=f"{feed}-cday", spool=str(spool), once=once,
        extra=("--task-spool", str(tmp_path / "tasks" / agency)) if feed == agency else (),
        program=f"onenet-adapter-{agency}" if own else "onenet-adapter")


def delivered(adapter, tmp_path, feed):
    """Waits until the adapter read its file to the end and the hub
    acknowledged every record it sent."""
    outbox = tmp_path / f"{feed}.outbox"

    def done():
        assert adapter.alive(), f"{feed} adapter exited:\n{adapter.log()[-4000:]}"
        return (not list((tmp_path / "spool" / feed).glob("*.ndjson"))
                and outbox.exists() and outbox_count(outbox) == 0)
    wait_until(done, timeout=60, interval=0.1, what=f"the {feed} records delivered")


@pytest.mark.parametrize("delivery", ["together", "forward", "reverse"])
def test_county_day(db, procs, tmp_path, delivery):
    """together: the thirteen adapters (eleven agencies', and the power and
    water companies' generic ones) deliver at once. forward and reverse:
    one file after the other, each correlated and supervised before the
    next, in the order of FEEDS (the land registry before the utilities)
    or reversed (the utilities, banks and tax bureau before the land
    registry and the market regulator that start most cases: many events
    wait parked for their case). The outcome, tasks included, is the same
    in all three. Either way, many steps are marked overdue before the
    event that did them in time arrives: the marks must go."""
    t0 = time.monotonic()
    records, summary = generate(tmp_path)
    cases = summary["cases"]

    hub = start_wf_hub(procs, db)
    adapters = {}
    if delivery == "together":
        adapters = {f: deliver(procs, hub, tmp_path, records, f) for f in FEEDS}
        for agency, adapter in adapters.items():
            delivered(adapter, tmp_path, agency)
    else:
        for agency in list(FEEDS) if delivery == "forward" else reversed(list(FEEDS)):
            adapters[agency] = deliver(procs, hub, tmp_path, records, agency)
            delivered(adapters[agency], tmp_path, agency)
            wait_drained(db, timeout=60)
            supervised(db)
    t_delivered = time.monotonic()

    # the malformed records refused at the adapters, each at its line, for its reason
    problems = []
    for agency in FEEDS:
        rows = quarantine(str(tmp_path / f"{agency}.outbox"))
        expected = {r["line"]: r for r in summary["rejected"] if r["agency"] == agency}
        got = {}
        for source, code, reason in rows:
            line = int(source.rsplit(":", 1)[1])
            if line in got:
                problems.append(f"{source}: quarantined twice")
            got[line] = (source, code, reason)
        for line in sorted(set(got) | set(expected)):
            if line not in expected:
                problems.append(f"{agency}: a good record refused: {got[line]}")
                continue
            if line not in got:
                problems.append(f"{agency}: line {line} ({expected[line]['kind']}) "
                                f"not refused")
                continue
            source, code, reason = got[line]
            kind, field = expected[line]["kind"], expected[line]["field"]
            if code != "BAD_RECORD" or classify(reason)[0] != kind or (
                    field and field not in reason and field.replace("_", " ") not in reason):
                problems.append(f"{source}: {code} {reason!r}, expected {kind} naming "
                                f"{field}")
        by_kind = collections.Counter(classify(reason)[0] for _, _, reason in rows)
        if by_kind != collections.Counter(summary["rejected_by_kind"].get(agency, {})):
            problems.append(f"{agency}: rejected {dict(by_kind)}, expected "
                            f"{summary['rejected_by_kind'].get(agency)}")
    assert not problems, "\n".join(problems)
    assert scalar(db, "SELECT count(*) FROM dead_letters") == 0, \
        query(db, "SELECT agency, case_no, code, reason FROM dead_letters")
    # every distinct good record stored once (repeated lines are duplicates)
    n_events = sum(len(c["events"]) + len(c["recorded"]) for c in cases)
    assert n_events == summary["events"]
    assert scalar(db, "SELECT count(*) FROM events") == n_events
    by_agency = collections.Counter()
    for r in summary["records"].values():
        by_agency[r["agency"]] += r["events"]
    assert dict(query(db, "SELECT agency, count(*) FROM events GROUP BY 1")) == \
        {a: n for a, n in by_agency.items() if n}

    wait_drained(db, timeout=60)
    supervised(db)
    t_settled = time.monotonic()

    # the day's counts: workflows by state, overdue steps by agency
    by_state = collections.defaultdict(dict)
    for wf, state, n in query(db, "SELECT workflow, state, count(*) FROM workflow_instances "
                                  "GROUP BY 1, 2"):
        by_state[wf][state] = n
    assert {wf: {s: n for s, n in c.items() if n} for wf, c in summary["workflows"].items()} \
        == dict(by_state)
    assert dict(query(db, "SELECT agency, count(*) FROM breaches WHERE kind = 'overdue' "
                          "AND withdrawn_at IS NULL GROUP BY 1")) == summary["overdue_steps"]

    problems, counts = day_problems(db, cases, delivery)
    print(f"{delivery}: {counts}; delivered in {t_delivered - t0:.1f} s, "
          f"settled in {t_settled - t0:.1f} s")
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems[:40])
    tasks = query(db, "SELECT agency, seq, kind, workflow, step, key_kind, key_value FROM tasks")

    # -- every task the hub issued delivered to its agency's out-spool, once
    issued = collections.defaultdict(set)   # agency -> {(seq, step, key value)}
    for t in tasks:
        issued[t[0]].add((t[1], t[4], t[6]))

    def in_spool(agency):
        return task_files(str(tmp_path / "tasks" / agency))
    wait_until(lambda: all(len(in_spool(a)) >= len(issued.get(a, ())) for a in AGENCIES),
               timeout=30, interval=0.1, what="every task in its agency's out-spool")
    for agency in AGENCIES:
        files = in_spool(agency)
        got = [(t["task_seq"], t["step"], next(iter(t["key"].values()))) for _, t in files]
        if sorted(got) != sorted(issued.get(agency, ())) or len(set(got)) != len(got):
            problems.append(f"tasks in {agency}'s out-spool {sorted(got)}, issued "
                            f"{sorted(issued.get(agency, ()))}")
        for name, t in files:
            if name != f"{agency}-task-{t['task_seq']:012d}.ndjson":
                problems.append(f"task {t['task_seq']} of {agency} in file {name}")
            # a construction project's notice: where and whose, nothing else
            if t["kind"] == "connection.prepare" and \
                    sorted(t["payload"]) != ["applicant_name", "project_address"]:
                problems.append(f"task {t['task_seq']} of {agency}: payload {t['payload']}")
        if len(files) != summary["tasks"].get(agency, 0):
            problems.append(f"{delivery}: {len(files)} tasks delivered to {agency}, "
                            f"the simulator expected {summary['tasks'].get(agency, 0)}")
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems[:40])

    for agency, adapter in adapters.items():
        rc = adapter.terminate()
        assert rc == 0, f"{agency} adapter exited {rc}:\n{adapter.log()[-4000:]}"
    rc = hub.terminate()
    assert rc == 0, f"hub exited {rc}:\n{hub.log()[-4000:]}"


def day_problems(db, cases, delivery):
    """Checks the settled database against the generator's expectations,
    case by case (see the module text); returns (problems, a one-line
    summary of counts). Tasks are checked case by case against the
    simulator's, whatever the DELIVERY order (it only names the run)."""
    problems = []
    n_events = sum(len(c["events"]) + len(c["recorded"]) for c in cases)
    # -- the database, by key
    instances = collections.defaultdict(list)   # (kind, value) -> [(id, workflow, no, state)]
    times = {}                                   # id -> (started_at, ended_at, events)
    for iid, wf, kind, value, no, state, started, ended, n in query(db, """
            SELECT id, workflow, key_kind, key_value, instance_no, state,
                   to_char(started_at AT TIME ZONE 'Asia/Shanghai', %(iso)s),
                   to_char(ended_at AT TIME ZONE 'Asia/Shanghai', %(iso)s), events
            FROM workflow_instances""", {"iso": ISO}):
        instances[(kind, value)].append((iid, wf, no, state))
        times[iid] = (started, ended, n)
    breaches = collections.defaultdict(list)     # instance id -> [(kind, agency, step, ...)]
    for iid, kind, agency, step, due, done, s_done, s_warn in query(db, """
            SELECT b.instance_id, b.kind, b.agency, b.step, b.due_at, b.completed_at,
                   s.completed_at, s.warn_at
            FROM breaches b JOIN workflow_steps s
              ON s.instance_id = b.instance_id AND s.step = b.step
            WHERE b.withdrawn_at IS NULL"""):
        breaches[iid].append((kind, agency, step, due, done, s_done, s_warn))
    in_instance = {r[0] for r in query(db, "SELECT DISTINCT event_id::text FROM instance_events")}
    unmatched = collections.defaultdict(list)
    for kind, value, agency, etype, expired in query(db, """
            SELECT key_kind, key_value, agency, event_type, expired_at IS NOT NULL
            FROM unmatched_events"""):
        unmatched[(kind, value)].append((agency, etype, expired))
    event_ids = collections.defaultdict(list)    # (agency, case_no, type, occurred) -> ids
    for eid, agency, case_no, etype, occurred in query(db, """
            SELECT event_id::text, agency, case_no, event_type,
                   to_char(occurred_at AT TIME ZONE 'Asia/Shanghai', %s)
            FROM events""", (ISO,)):
        event_ids[(agency, case_no, etype, occurred)].append(eid)

    seen_workflows = collections.Counter()
    recorded_total = 0
    fates = collections.Counter(c["fate"] for c in cases)
    for case in cases:
        key = (case["key"]["kind"], case["key"]["value"])
        got = instances.get(key, [])
        want = {w["workflow"]: w for w in case["workflows"]}
        seen_workflows.update(list(want))

        def bad_case(what):
            problems.append(f"{what}\n    {describe(case)}")

        got_names = sorted(wf for _, wf, _, _ in got)
        if got_names != sorted(want):
            bad_case(f"instances {sorted((wf, no, st) for _, wf, no, st in got)}, "
                     f"expected {sorted(want)}")
        overdue_total = 0
        for iid, wf, no, state in got:
            w = want.get(wf)
            if w is None:
                continue
            if no != 1:
                bad_case(f"{wf}: instance_no {no}, expected 1")
            if state != w["state"]:
                bad_case(f"{wf}: state {state}, expected {w['state']}")
            want_times = (w["started_at"], w["ended_at"], w["events"])
            if times[iid] != want_times:
                bad_case(f"{wf}: started, ended, events {times[iid]}, expected {want_times}")
            overdue = [b for b in breaches.get(iid, []) if b[0] == "overdue"]
            overdue_total += len(overdue)
            got_pairs = sorted([agency, step] for _, agency, step, *_ in overdue)
            if got_pairs != sorted(w["overdue"]):
                bad_case(f"{wf}: overdue breaches {got_pairs}, expected {sorted(w['overdue'])}"
                         + "".join(f"\n      {agency}/{step} due {due} completed {s_done}"
                                   for _, agency, step, due, _, s_done, _ in overdue))
            late = case["late"]
            for _, agency, step, due, done, s_done, _ in overdue:
                is_late = late is not None and (late["workflow"], late["agency"],
                                                late["step"]) == (wf, agency, step)
                if is_late and (done is None or done != s_done or not done > due):
                    bad_case(f"{wf}: late step {agency}/{step}: breach completed_at {done}, "
                             f"step completed {s_done}, due {due}")
                if case["fate"] == "stuck" and done is not None:
                    bad_case(f"{wf}: {agency}/{step} of a stopped case done late at {done}")
            # a warning stands only for a step not done by its warning point
            for kind, agency, step, due, _, s_done, s_warn in breaches.get(iid, []):
                if kind == "warning" and s_done is not None and s_done <= s_warn:
                    bad_case(f"{wf}: warning on {agency}/{step}, done {s_done} before "
                             f"its warning point {s_warn}")
        if case["fate"] == "on_time" and overdue_total:
            bad_case(f"an on-time case has {overdue_total} overdue breach(es)")
        if case["fate"] == "late" and overdue_total != 1:
            bad_case(f"a case with one late agency has {overdue_total} overdue breaches")

        # every event of the case is in one of its instances, or parked
        for e in case["events"]:
            ids = event_ids.get((e["agency"], e["case_no"], e["event_type"], e["occurred_at"]))
            if not ids:
                bad_case(f"event {e['agency']} {e['event_type']} {e['occurred_at']} not stored")
            elif want and not set(ids) & in_instance:
                bad_case(f"event {e['agency']} {e['event_type']} {e['occurred_at']} "
                         f"in no instance")
        if not want:   # a bank account closure of no case: parked, not expired
            parked = sorted(unmatched.get(key, []))
            expect = sorted((e["agency"], e["event_type"], False) for e in case["events"])
            if parked != expect:
                bad_case(f"unmatched {parked}, expected {expect}")
        # a replacement UKey a year after a start-up: stored, in no
        # instance, not waiting for one (between_cases: record)
        for e in case.get("recorded", []):
            ids = event_ids.get((e["agency"], e["case_no"], e["event_type"], e["occurred_at"]))
            if not ids:
                bad_case(f"recorded event {e['agency']} {e['event_type']} not stored")
            elif set(ids) & in_instance:
                bad_case(f"recorded event {e['agency']} {e['event_type']} {e['occurred_at']} "
                         f"joined an instance")
            elif unmatched.get(key) and want:
                bad_case(f"recorded event {e['agency']} {e['event_type']} is unmatched: "
                         f"{unmatched[key]}")
        recorded_total += len(case.get("recorded", []))

    if not recorded_total:
        problems.append("the generated day has no event recorded outside its case "
                        "(a replacement UKey a year after a start-up)")
    # no instance for any key that no case has
    keys = {(c["key"]["kind"], c["key"]["value"]) for c in cases}
    for key, rows in instances.items():
        if key not in keys:
            problems.append(f"instances for a key of no case: {key}: {rows}")
    missing = shipped_workflows() - set(seen_workflows)
    if missing:
        problems.append(f"the generated day exercises no case of {sorted(missing)}")
    unknown = set(seen_workflows) - shipped_workflows()
    if unknown:
        problems.append(f"expected instances of workflows not shipped: {sorted(unknown)}")

    # -- tasks for the utilities (seed item 28): account transfers, and the
    # construction projects' notices
    tasks = query(db, """
        SELECT t.agency, t.seq, t.kind, t.workflow, t.step, t.key_kind, t.key_value,
               t.ready_at, s.agency, s.required, s.ready_at, i.workflow, i.key_value
        FROM tasks t
        LEFT JOIN workflow_steps s ON s.instance_id = t.instance_id AND s.step = t.step
        LEFT JOIN workflow_instances i ON i.id = t.instance_id""")
    seqs = collections.defaultdict(list)
    for (agency, seq, kind, wf, step, kkind, kvalue, ready, s_agency, required, s_ready,
         i_wf, i_key) in tasks:
        seqs[agency].append(seq)
        where = f"task {agency}#{seq} ({wf}/{step} {kkind}={kvalue})"
        if step not in TASK_STEPS.get((kind, wf, kkind), ()):
            problems.append(f"{where}: kind {kind}")
        if s_agency != agency or not required or s_ready is None or s_ready != ready \
                or i_wf != wf or i_key != kvalue:
            problems.append(f"{where}: no matching ready step (step agency {s_agency}, "
                            f"required {required}, ready {s_ready} vs {ready}, instance "
                            f"{i_wf} {i_key})")
    for agency, got in seqs.items():
        if sorted(got) != list(range(1, len(got) + 1)):
            problems.append(f"tasks of {agency}: seq {sorted(got)}, expected 1..{len(got)}")
        last = scalar(db, "SELECT last_seq FROM agency_task_sequences WHERE agency = %s",
                      (agency,))
        if last != len(got):
            problems.append(f"agency_task_sequences.{agency} = {last}, {len(got)} tasks")
    if query(db, "SELECT instance_id, step FROM tasks GROUP BY 1, 2 HAVING count(*) > 1"):
        problems.append("more than one task for a step")
    # which transfer steps have a task: the simulator's, case by case (the
    # same in every delivery order)
    want_tasks = {(c["key"]["value"], agency, step) for c in cases
                  for agency, step in c.get("tasks", [])}
    got_tasks = {(t[6], t[0], t[4]) for t in tasks}   # (key value, agency, step)
    if got_tasks != want_tasks:
        problems.append(f"{delivery}: tasks for {sorted(got_tasks - want_tasks)[:10]} not "
                        f"expected; none for {sorted(want_tasks - got_tasks)[:10]}")
    n_instances = sum(len(c["workflows"]) for c in cases)
    got_instances = scalar(db, "SELECT count(*) FROM workflow_instances")
    if got_instances != n_instances:
        problems.append(f"{got_instances} instances, expected {n_instances}")
    summary = (f"{len(cases)} cases ({dict(fates)}), {n_events} events, "
               f"{n_instances} instances, {sum(len(v) for v in breaches.values())} breaches, "
               f"{len(tasks)} tasks; workflows {dict(sorted(seen_workflows.items()))}")
    return problems, summary


def test_simulated_days(tmp_path):
    """--days N starts cases on N working days of the county's calendar (here
    across the National Day holidays of 2020, with the Saturday worked
    instead), with each day's date in the case numbers; --spool drops each
    agency's file, complete, into its own spool directory; the same
    arguments give the same files."""
    def run(out):
        res = subprocess.run(
            [sys.executable, str(ROOT / "deploy/sample/pengyang_sample.py"),
             "--date", "2020-09-30", "--days", "3", "--cases", "15", "--seed", "3",
             "--malformed", "1", "--spool", str(out), "--expect", str(out / "expect.json")],
            capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, res.stderr
        return json.loads((out / "expect.json").read_text(encoding="utf-8"))

    want = run(tmp_path / "a")
    assert len(want["cases"]) == 45
    days = sorted({c["events"][0]["occurred_at"][:10] for c in want["cases"]})
    assert days == ["2020-09-30", "2020-10-09", "2020-10-10"], days
    for case in want["cases"]:
        first = case["events"][0]
        if first["agency"] in ("power", "water", "gas", "heat", "market", "police", "social"):
            day = first["occurred_at"][:10]
            assert day[5:7] + day[8:10] in first["case_no"], case
        for e in case["events"]:  # office hours: 09:00-12:00, 14:30-17:30
            hhmm = e["occurred_at"][11:16]
            assert "09:00" <= hhmm < "12:00" or "14:30" <= hhmm < "17:30", e
    again = run(tmp_path / "b")
    assert again == want
    assert sorted(p.name for p in (tmp_path / "a").iterdir() if p.is_dir()) == sorted(FEEDS)
    for feed in FEEDS:
        files = [p.name for p in (tmp_path / "a" / feed).iterdir()]
        assert files == [f"pengyang-{feed}-2020-09-30.ndjson"], files
        text = (tmp_path / "a" / feed / files[0]).read_text(encoding="utf-8")
        assert len(text.splitlines()) == want["records"][feed]["lines"]
        assert text == (tmp_path / "b" / feed / files[0]).read_text(encoding="utf-8")
