"""Tasks back to agencies (seed item 28): when a property transfer's land
registration completes, the hub issues an account-transfer task to power
and water, numbered per agency without gaps, exactly once, in the same
transaction as the workflow state that caused it."""
import datetime
import threading

from conftest import query, scalar, unit_number
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
    assert payload["has_mortgage"] is False
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
    assert first["payload"]["has_mortgage"] is False
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
