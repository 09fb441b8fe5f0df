"""Tasks back to agencies (seed item 28): when a property transfer's land
registration completes, the hub issues an account-transfer task to power
and water, numbered per agency without gaps, exactly once, in the same
transaction as the workflow state that caused it."""
import threading

from conftest import query, scalar, unit_number
from test_workflows import pt_case, send, start_wf_hub, wait_drained


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
