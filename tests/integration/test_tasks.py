"""Tasks back to agencies (seed item 28): when a property transfer's land
registration completes, the hub issues an account-transfer task to power
and water, numbered per agency without gaps, exactly once, in the same
transaction as the workflow state that caused it."""
import datetime
import threading

from conftest import query, scalar, unit_number, wait_until
from test_workflows import bj_ms, case_event, pt_case, send, start_wf_hub, wait_drained

BJ = datetime.timezone(datetime.timedelta(hours=8))


def tasks(db):
    return query(db, "SELECT agency, seq, kind, key_value, step, workflow FROM tasks "
                     "ORDER BY agency, seq")


def test_tasks_issued_once_when_the_registration_completes(pb, db, procs, hub_client):
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    unit = unit_number(7001)
    case = dict(pt_case(pb, unit, mortgage=False))
    # before the registration: nothing for the utilities to do yet
    send(client, [case["accepted"], case["assessed"], case["paid"]])
    wait_drained(db)
    assert tasks(db) == []
    # the registration makes the power and water steps ready: one task each
    send(client, [case["registered"]])
    wait_drained(db)
    assert tasks(db) == [("power", 1, "account.transfer", unit, "power_transferred",
                          "property_transfer"),
                         ("water", 1, "account.transfer", unit, "water_transferred",
                          "property_transfer")]
    payload = scalar(db, "SELECT payload FROM tasks WHERE agency = 'power'")
    # only the attributes the definition names for the utilities: not the
    # price, the area or whether there is a mortgage
    assert payload == {"buyer_name": "马建国", "phone": "13912345678"}
    # redelivery and refolds issue nothing more
    send(client, [case["registered"], case["accepted"]], expect=("DUPLICATE",))
    send(client, [case["power"]])
    wait_drained(db)
    assert len(tasks(db)) == 2
    # the task is recorded with the state that caused it: the step is ready
    assert scalar(db, "SELECT count(*) FROM tasks t JOIN workflow_steps s "
                      "ON s.instance_id = t.instance_id AND s.step = t.step "
                      "WHERE s.ready_at = t.ready_at") == 2


def test_tasks_the_same_in_every_arrival_order(pb, db, procs, hub_client):
    """Tasks follow the case as it happened, not the order its events
    arrive: the same transfer delivered forwards, backwards, utilities
    first or registration last (each event correlated before the next)
    gives power and water the same task, ready when the registration was
    made (2020-09-29 10:00) and due at the end of the next working day
    (Wednesday 30 September), numbered without gaps per agency."""
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    names = ["accepted", "assessed", "paid", "registered", "power", "water"]
    orders = {"forward": names, "reverse": names[::-1],
              "utilities first": names[4:] + names[:4],
              "registration last": ["power", "accepted", "water", "paid", "assessed",
                                    "registered"]}
    ready = datetime.datetime(2020, 9, 29, 10, 0, tzinfo=BJ)
    due = datetime.datetime(2020, 10, 1, 0, 0, tzinfo=BJ)
    for k, (label, order) in enumerate(orders.items()):
        unit = unit_number(7100 + k)
        case = dict(pt_case(pb, unit, mortgage=False))
        for name in order:
            send(client, [case[name]])
            wait_drained(db)
        got = query(db, "SELECT agency, seq, kind, step, ready_at, due_at FROM tasks "
                        "WHERE key_value = %s ORDER BY agency", (unit,))
        assert got == [(a, k + 1, "account.transfer", f"{a}_transferred", ready, due)
                       for a in ("power", "water")], f"{label}: {got}"


def test_task_sequences_have_no_gap_with_two_hubs(pb, db, procs, hub_client):
    hubs = [start_wf_hub(procs, db), start_wf_hub(procs, db)]
    n_cases = 40
    cases = [dict(pt_case(pb, unit_number(8000 + i), mortgage=False)) for i in range(n_cases)]
    first = hub_client(hubs[0].endpoint)
    for c in cases:
        send(first, [c["accepted"], c["assessed"], c["paid"]])
    wait_drained(db)

    def register(hub, part):
        client = hub_client(hub.endpoint)
        for c in part:
            send(client, [c["registered"]])

    threads = [threading.Thread(target=register, args=(hubs[i], cases[i::2]))
               for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wait_drained(db, timeout=60)
    for agency in ("power", "water"):
        seqs = [r[0] for r in query(db, "SELECT seq FROM tasks WHERE agency = %s "
                                        "ORDER BY seq", (agency,))]
        assert seqs == list(range(1, n_cases + 1)), f"{agency}: {seqs}"
        assert scalar(db, "SELECT last_seq FROM agency_task_sequences WHERE agency = %s",
                      (agency,)) == n_cases
    assert scalar(db, "SELECT count(DISTINCT (instance_id, step)) FROM tasks") == 2 * n_cases


def test_adapter_delivers_tasks_to_its_out_spool(pb, db, procs, hub_client, tmp_path):
    """The power adapter takes its agency's tasks into its out-spool, one
    file per task, and resumes from its durable cursor after SIGKILL:
    no gap, no duplicate at the agency."""
    import json
    import signal

    from conftest import start_adapter, wait_until

    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    spool = tmp_path / "power-tasks"
    outbox = str(tmp_path / "power.outbox")

    def register(first, count):
        for i in range(first, first + count):
            case = dict(pt_case(pb, unit_number(9000 + i), mortgage=False))
            send(client, [case["accepted"], case["assessed"], case["paid"], case["registered"]])
        wait_drained(db)

    def files():
        return sorted(p.name for p in spool.glob("*.ndjson"))

    register(0, 3)
    adapter = start_adapter(procs, hub.port, outbox, agency="power", adapter_id="power-tasks",
                            once=False, extra=("--task-spool", str(spool)))
    wait_until(lambda: len(files()) == 3, timeout=30, what="three task files")
    first = json.loads((spool / "power-task-000000000001.ndjson").read_text())
    assert first["task_seq"] == 1 and first["kind"] == "account.transfer"
    assert first["step"] == "power_transferred" and first["workflow"] == "property_transfer"
    assert first["key"] == {"unit_number": unit_number(9000)}
    assert first["payload"] == {"buyer_name": "马建国", "phone": "13912345678"}
    before = {name: (spool / name).read_bytes() for name in files()}

    adapter.kill(signal.SIGKILL)
    adapter.wait(timeout=10)
    register(3, 2)
    start_adapter(procs, hub.port, outbox, agency="power", adapter_id="power-tasks",
                  once=False, extra=("--task-spool", str(spool)))
    wait_until(lambda: len(files()) == 5, timeout=30, what="five task files")
    assert files() == [f"power-task-{seq:012d}.ndjson" for seq in range(1, 6)]
    for name, data in before.items():
        assert (spool / name).read_bytes() == data, f"{name} changed on redelivery"
    assert not [p for p in spool.iterdir() if p.name.startswith(".")], "temporary files left"
    # the adapter's heartbeat reports where it is
    wait_until(lambda: scalar(db, "SELECT task_cursor FROM adapters "
                                  "WHERE adapter_id = 'power-tasks'") == 5,
               timeout=15, what="the adapter's task cursor at 5")


def test_task_survives_a_refold_that_retires_its_instance(pb, db, procs, hub_client,
                                                          tmp_path):
    """A flat sold in 2020 (power's task 1) and again in 2021 (task 2,
    issued while the power adapter is down), both files under the same
    acceptance number (a registry that numbers a flat's file, not each
    application). A correction then arrives for the 2020 sale, dated inside
    it, saying the flat has gas: the 2020 transfer is not complete without
    the gas transfer, so the 2021 acceptance, same number, folds into it and
    the 2021 run is retired (superseded). Its task stays issued: the
    adapter, started again, receives task 2 and then task 3 of another
    flat, with no gap to stall on."""
    import json
    import signal

    from conftest import start_adapter, wait_until

    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    spool = tmp_path / "power-tasks"
    outbox = str(tmp_path / "power.outbox")

    def files():
        return sorted(p.name for p in spool.glob("*.ndjson"))

    def power_adapter():
        return start_adapter(procs, hub.port, outbox, agency="power",
                             adapter_id="power-tasks", once=False,
                             extra=("--task-spool", str(spool)))
    unit, other = unit_number(9300), unit_number(9301)
    sale = dict(pt_case(pb, unit, mortgage=False))
    send(client, [sale[k] for k in ("accepted", "assessed", "paid", "registered", "power",
                                    "water")])
    wait_drained(db)
    adapter = power_adapter()
    wait_until(lambda: files() == ["power-task-000000000001.ndjson"], timeout=30,
               what="task 1 delivered")
    adapter.kill(signal.SIGKILL)
    adapter.wait(timeout=10)

    resale = dict(pt_case(pb, unit, shift_days=365, mortgage=False))
    send(client, [resale[k] for k in ("accepted", "assessed", "paid", "registered")])
    wait_drained(db)
    assert query(db, "SELECT instance_no, state FROM workflow_instances WHERE key_value = %s "
                     "AND workflow = 'property_transfer' ORDER BY 1", (unit,)) == \
        [(1, "completed"), (2, "open")]
    assert [r[0] for r in query(db, "SELECT seq FROM tasks WHERE agency = 'power' "
                                    "ORDER BY seq")] == [1, 2]

    correction = case_event(pb, "land", "transfer.accepted", unit,
                            bj_ms(2020, 9, 28, 10, 0), {"has_gas": True})
    send(client, [correction])
    wait_drained(db)
    assert query(db, "SELECT instance_no, state FROM workflow_instances WHERE key_value = %s "
                     "AND workflow = 'property_transfer' ORDER BY 1", (unit,)) == \
        [(1, "open"), (2, "superseded")]
    assert [r[0] for r in query(db, "SELECT seq FROM tasks WHERE agency = 'power' "
                                    "ORDER BY seq")] == [1, 2], "task 2 kept"

    third = dict(pt_case(pb, other, mortgage=False))
    send(client, [third[k] for k in ("accepted", "assessed", "paid", "registered")])
    wait_drained(db)
    adapter = power_adapter()
    wait_until(lambda: len(files()) == 3, timeout=30, what="tasks 2 and 3 delivered")
    assert files() == [f"power-task-{seq:012d}.ndjson" for seq in (1, 2, 3)]
    got = [json.loads((spool / name).read_text())["key"]["unit_number"] for name in files()]
    assert got == [unit, unit, other]
    assert adapter.alive()


def test_every_arrival_order_gives_one_outcome_tasks_included(pb, db, procs, hub_client):
    """One property transfer with a mortgage and two utilities (eight
    events) delivered in 25 orders, each on its own unit number, each
    event correlated before the next: forwards, reversed, utilities first,
    acceptance last, registration first, the bank first, every event
    twice, each event repeated at once, the deed-tax payment arriving after
    everything else (days late, when supervision had long marked the
    registration overdue), and 16 random orders. Every order ends with the
    same instances, steps, due times, instance events, breaches and tasks
    (kind, step, ready, due and payload); the tasks are the hand-computed
    ones."""
    import random

    from test_workflows import copy_event, dump_key

    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    labels = [label for label, _ in pt_case(pb, unit_number(0))]
    at = {label: i for i, label in enumerate(labels)}
    n = len(labels)
    fwd = list(range(n))
    first = lambda *names: [at[x] for x in names] + [i for i in fwd   # noqa: E731
                                                      if labels[i] not in names]
    orders = {
        "forward": fwd,
        "reversed": fwd[::-1],
        "utilities first": first("power", "water"),
        "acceptance last": [i for i in fwd if labels[i] != "accepted"] + [at["accepted"]],
        "registration first": first("registered"),
        "bank first": first("filed"),
        "payment days late": [i for i in fwd if labels[i] != "paid"] + [at["paid"]],
        "each repeated at once": [i for i in fwd for _ in (0, 1)],
    }
    rng = random.Random(20201001)
    twice = fwd * 2
    rng.shuffle(twice)
    orders["every event twice"] = twice
    while len(orders) < 25:
        perm = fwd[:]
        rng.shuffle(perm)
        if perm not in orders.values():
            orders[f"random{len(orders)}"] = perm
    assert len(orders) == 25

    cases = {}
    for k, name in enumerate(orders):
        unit = unit_number(9400 + k)
        evs = pt_case(pb, unit)
        cases[name] = (unit, evs, {e.event_id: label for label, e in evs})
    seen = {name: set() for name in orders}
    for r in range(max(len(p) for p in orders.values())):
        for name, perm in orders.items():
            if r >= len(perm):
                continue
            e = cases[name][1][perm[r]][1]
            expect = "DUPLICATE" if e.event_id in seen[name] else "STORED"
            seen[name].add(e.event_id)
            send(client, [copy_event(pb, e)], expect=(expect,))
        wait_drained(db)

    def outcome(unit, labels):
        d = dump_key(db, unit, labels)
        d["tasks"] = sorted(query(db, """
            SELECT agency, kind, workflow, step, ready_at, due_at, payload::text FROM tasks
            WHERE key_value = %s""", (unit,)))
        return d
    results = {name: outcome(unit, labels) for name, (unit, _, labels) in cases.items()}
    ref = results["forward"]
    for name, got in results.items():
        differs = [part for part in ref if got[part] != ref[part]]
        assert not differs, f"order {name} {orders[name]} differs from forward in {differs}:" \
                            + "".join(f"\n  {p}: {got[p]}\n  vs {ref[p]}" for p in differs)
    ready = datetime.datetime(2020, 9, 29, 10, 0, tzinfo=BJ)
    due = datetime.datetime(2020, 10, 1, 0, 0, tzinfo=BJ)   # the end of Wed 30 Sep
    payload = '{"phone": "13912345678", "buyer_name": "马建国"}'
    assert ref["tasks"] == [
        ("power", "account.transfer", "property_transfer", "power_transferred", ready, due,
         payload),
        ("water", "account.transfer", "property_transfer", "water_transferred", ready, due,
         payload)]
    # numbered 1..25 per utility, one task per case
    for agency in ("power", "water"):
        assert [r[0] for r in query(db, "SELECT seq FROM tasks WHERE agency = %s "
                                        "ORDER BY seq", (agency,))] == list(range(1, 26))


def test_task_withdrawn_when_a_late_event_shows_the_step_done_before_it_was_ready(
        pb, db, procs, hub_client):
    """The power company transferred the account at 09:00, an hour before the
    land registration (10:00), but its event arrives after the
    registration's. On the registration the hub issues power a task (the
    step is ready and not done, as far as it knows); the late event shows
    the step was done before it was ready, which in occurrence order calls
    for no task: the task is withdrawn, keeping its seq, with the reason,
    and delivered marked withdrawn. The tasks that stand are the same as
    for the same events delivered in the order they happened (water's
    only)."""
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)

    def standing(unit):
        return query(db, "SELECT agency, kind, step, ready_at FROM tasks "
                         "WHERE key_value = %s AND withdrawn_at IS NULL ORDER BY agency",
                     (unit,))

    early_power = {}
    for n, unit in ((1, unit_number(7101)), (2, unit_number(7102))):
        case = dict(pt_case(pb, unit, mortgage=False))
        case["power"] = case_event(pb, "power", "account.transferred", unit,
                                   bj_ms(2020, 9, 29, 9, 0), {})
        early_power[unit] = case
    # unit 1: in the order things happened; unit 2: power's event last
    a, b = early_power.values()
    send(client, [a[k] for k in ("accepted", "assessed", "paid", "power", "registered",
                                 "water")])
    send(client, [b[k] for k in ("accepted", "assessed", "paid", "registered")])
    wait_drained(db)
    assert [r[0] for r in standing(b["accepted"].keys[0].value)] == ["power", "water"]
    send(client, [b["power"], b["water"]])
    wait_drained(db)
    ua, ub = (c["accepted"].keys[0].value for c in (a, b))
    assert [r[0] for r in standing(ua)] == ["water"]
    assert [r[:3] for r in standing(ub)] == [r[:3] for r in standing(ua)]
    assert [r[3] for r in standing(ub)] == [r[3] for r in standing(ua)]
    withdrawn = query(db, "SELECT agency, seq, withdrawn_reason FROM tasks "
                          "WHERE withdrawn_at IS NOT NULL")
    assert withdrawn == [("power", 1, "the agency had done the step before it was ready")]
    # the power stream stays gap-free: seq 1 stays, withdrawn, and is delivered so
    assert [r[0] for r in query(db, "SELECT seq FROM tasks WHERE agency = 'power'")] == [1]
    hub.wait_for_log(r'msg="task withdrawn".*agency=power seq=1 ')
    c = hub_client(hub.endpoint)
    msg = c.pb.AdapterMessage()
    msg.heartbeat.adapter_id = "power-it"
    msg.heartbeat.agency = "power"
    msg.heartbeat.takes_tasks = True
    c.send(msg)
    got = []
    while not got:
        reply = c.recv(timeout=15)
        if reply.WhichOneof("body") == "tasks":
            got = list(reply.tasks.tasks)
    assert [(t.seq, t.withdrawn, t.withdrawn_reason) for t in got] == [
        (1, True, "the agency had done the step before it was ready")]
    # and operators see it so
    import json
    import subprocess

    from conftest import build_path
    r = subprocess.run([build_path("hubctl"), "--db", db, "--json", "tasks", "--agency",
                        "power"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)["rows"]
    assert [(t["seq"], t["withdrawn"]) for t in listed] == [
        (1, "the agency had done the step before it was ready")]


def test_withdrawn_task_reaches_the_agency_as_a_record_not_as_work(pb, db, procs, hub_client,
                                                                     tmp_path):
    """The power adapter takes a withdrawn task (the power company had done
    the step before it was ready) into its out-spool marked withdrawn, with
    the reason, and moves its cursor past it; the next task follows."""
    import json

    from conftest import start_adapter, wait_until

    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    unit, other = unit_number(7201), unit_number(7202)
    case = dict(pt_case(pb, unit, mortgage=False))
    early = case_event(pb, "power", "account.transferred", unit, bj_ms(2020, 9, 29, 9, 0), {})
    send(client, [case[k] for k in ("accepted", "assessed", "paid", "registered")])
    wait_drained(db)
    send(client, [early])
    wait_drained(db)
    second = dict(pt_case(pb, other, mortgage=False))
    send(client, [second[k] for k in ("accepted", "assessed", "paid", "registered")])
    wait_drained(db)
    spool = tmp_path / "power-tasks"
    start_adapter(procs, hub.port, str(tmp_path / "power.outbox"), agency="power",
                  adapter_id="power-wd", once=False, extra=("--task-spool", str(spool)))
    wait_until(lambda: query(db, "SELECT task_cursor FROM adapters "
                                 "WHERE adapter_id = 'power-wd'") == [(2,)],
               timeout=30, what="the power adapter's cursor past both tasks")
    first, nxt = (json.loads((spool / f"power-task-{n:012d}.ndjson").read_text())
                  for n in (1, 2))
    assert first["withdrawn"] is True and first["key"] == {"unit_number": unit}
    assert first["withdrawn_reason"] == "the agency had done the step before it was ready"
    assert "withdrawn" not in nxt and nxt["key"] == {"unit_number": other}


def test_a_task_read_that_waits_holds_up_no_acknowledgement(pb, db, procs, hub_client):
    """Tasks are read off the commit path. While another session holds the
    tasks table (a long report, a VACUUM FULL), an adapter's heartbeat
    asking for its tasks makes that read wait; meanwhile another adapter's
    events are still stored and acknowledged at once, and the waiting
    adapter gets its task as soon as the table is free."""
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    case = dict(pt_case(pb, unit_number(7201), mortgage=False))
    send(client, [case[k] for k in ("accepted", "assessed", "paid", "registered")])
    wait_drained(db)
    assert query(db, "SELECT seq, step FROM tasks WHERE agency = 'power'") == [
        (1, "power_transferred")]

    locker = db.connect(autocommit=False)
    try:
        with locker.cursor() as cur:
            cur.execute("LOCK TABLE public.tasks IN ACCESS EXCLUSIVE MODE")
        power = hub_client(hub.endpoint)
        msg = pb.AdapterMessage()
        msg.heartbeat.adapter_id = "power-it"
        msg.heartbeat.agency = "power"
        msg.heartbeat.takes_tasks = True
        power.send(msg)
        assert power.recv(timeout=15).WhichOneof("body") == "heartbeat"
        # the hub's read of power's tasks now waits for the lock
        wait_until(lambda: scalar(
            db, "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                "WHERE c.relname = 'tasks' AND NOT l.granted") >= 1,
            timeout=15, what="the hub's task read waiting for the lock")
        other = hub_client(hub.endpoint)
        event = case_event(pb, "land", "seizure.accepted", unit_number(7202),
                           bj_ms(2020, 9, 30, 9, 0))
        ack = other.request_batch([event], timeout=5)
        assert pb.AckStatus.Name(ack.acks[0].status) == "STORED"
    finally:
        locker.rollback()
        locker.close()
    got = []
    while not got:
        reply = power.recv(timeout=15)
        if reply.WhichOneof("body") == "tasks":
            got = list(reply.tasks.tasks)
    assert [(t.seq, t.step) for t in got] == [(1, "power_transferred")]
