"""Enterprise start-up (seed items 1, 2) and deregistration (item 54),
measured from the application, through a real hub and PostgreSQL.

A start-up opens only at the application the one window accepted (market
startup.accepted); every step is due 1 working day after it, the seal 180
working minutes after the licence. The enterprise's invoices and accounts
long after the start-up are recorded and belong to no case. A
deregistration opens at its application; a qualifying taxpayer's tax
clearance is due immediately (the hub's immediate-minutes, 60) from the
application; a simplified deregistration (简易注销) waits for its 20-day
notice and its registration is due 3 working days after the notice ends.

Every due time is counted by hand on data/calendar (2020: Sunday 09-27 a
make-up working day, 10-01..10-08 off)."""
import random
from datetime import datetime, timezone

from conftest import (credit_code, make_event, new_id, query, scalar, set_attributes,
                      start_adapter, start_hub, wait_exit, wait_until, write_ndjson)
from test_workflows import bj_ms, diff_dumps, dump_key, iso, send, start_wf_hub, wait_drained

CLEAN = {"tax_inspection": False, "tax_arrears": False, "invoices_outstanding": False}


def ev(pb, agency, etype, code, t, attrs=None, case_no=None):
    """A CaseEvent of AGENCY keyed by the credit code CODE at Beijing time
    T = (y, m, d, h, mi), with exactly the attributes ATTRS."""
    e = make_event(pb, 0, agency=agency, adapter_id=f"{agency}-it",
                   keys=[(pb.CREDIT_CODE, code)], event_type=etype,
                   occurred_at_ms=bj_ms(*t), case_no=case_no or f"PY-{agency.upper()}-{code}")
    return set_attributes(e, attrs or {})


def deliver(client, db, events):
    for e in events:
        send(client, [e])
    wait_drained(db)


def instances(db, code, workflow):
    return query(db, """SELECT instance_no, state, started_at, ended_at, events
                        FROM workflow_instances WHERE key_value = %s AND workflow = %s
                        ORDER BY instance_no""", (code, workflow))


def steps(db, code, workflow, no=1):
    """step -> (required, ready_at, due_at, completed_at), times as ISO text."""
    rows = query(db, """
        SELECT s.step, s.required, s.ready_at, s.due_at, s.completed_at
        FROM workflow_steps s JOIN workflow_instances i ON i.id = s.instance_id
        WHERE i.key_value = %s AND i.workflow = %s AND i.instance_no = %s""",
                 (code, workflow, no))
    return {r[0]: (r[1], *(None if t is None else iso(round(t.timestamp() * 1000))
                          for t in r[2:])) for r in rows}


def overdue(db, code):
    return query(db, """
        SELECT b.agency, b.step, b.due_at, b.completed_at FROM breaches b
        JOIN workflow_instances i ON i.id = b.instance_id
        WHERE i.key_value = %s AND b.kind = 'overdue' AND b.withdrawn_at IS NULL
        ORDER BY 1, 2""", (code,))


def at(*t):
    return iso(bj_ms(*t))


def start_up(pb, code, licence=(2020, 9, 21, 10, 0), seal=(2020, 9, 21, 11, 0)):
    """The application Friday 2020-09-18 16:00 at the one window; the basic
    account Monday 09:30, the licence (default Monday 10:00) and the seal,
    invoices with the UKey 11:30, insurance 14:40, employment 15:00."""
    return [
        ev(pb, "market", "startup.accepted", code, (2020, 9, 18, 16, 0),
           {"enterprise_name": "彭阳县白阳兴盛商贸有限公司"}, f"PYSJ-KB-{code[-6:]}"),
        ev(pb, "bank", "account.opened", code, (2020, 9, 21, 9, 30),
           {"account_kind": "basic", "bank_name": "中国农业银行彭阳县支行"}),
        ev(pb, "market", "licence.issued", code, licence, case_no=f"PYSJ-DJ-{code[-6:]}"),
        ev(pb, "police", "seal.made", code, seal),
        ev(pb, "tax", "invoice.issued", code, (2020, 9, 21, 11, 30), {"ukey_issued": True}),
        ev(pb, "social", "registered", code, (2020, 9, 21, 14, 40)),
        ev(pb, "social", "employment.registered", code, (2020, 9, 21, 15, 0),
           case_no=f"PYSB-YG-{code[-6:]}"),
    ]


def test_startup_counts_from_the_application(pb, db, procs, hub_client):
    """Application Friday 16:00. 1 working day from it: 24:00 Monday 09-21.
    On time: the licence Monday 10:00. Late: the licence Tuesday 10:00, two
    working days after the application, overdue against 24:00 Monday; its
    seal Tuesday 11:00 is within 180 working minutes of it (due 15:30: 120
    minutes to 12:00, 60 from 14:30). Employment registration is a step.
    A year later the on-time enterprise gets a replacement UKey with
    invoices and opens a general account: stored, no new start-up, no
    part of the old one, not unmatched."""
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    on_time, late = credit_code(81001), credit_code(81002)
    deliver(client, db, start_up(pb, on_time))
    deliver(client, db, start_up(pb, late, licence=(2020, 9, 22, 10, 0),
                                 seal=(2020, 9, 22, 11, 0)))

    for code in (on_time, late):
        rows = instances(db, code, "enterprise_startup")
        assert [(n, st, iso(round(s.timestamp() * 1000)), c) for n, st, s, _, c in rows] == [
            (1, "completed", at(2020, 9, 18, 16, 0), 7)], rows
        st = steps(db, code, "enterprise_startup")
        assert set(st) == {"accepted", "licence_issued", "seal_made", "account_opened",
                           "invoice_issued", "social_registered", "employment_registered"}
        for step in ("licence_issued", "account_opened", "invoice_issued",
                     "social_registered", "employment_registered"):
            assert st[step][2] == at(2020, 9, 22, 0, 0), (code, step, st[step])
        assert st["accepted"][2] is None                     # the application: no deadline
        assert st["employment_registered"][3] == at(2020, 9, 21, 15, 0)
    assert steps(db, on_time, "enterprise_startup")["seal_made"][2] == at(2020, 9, 21, 15, 30)
    assert steps(db, late, "enterprise_startup")["seal_made"][2] == at(2020, 9, 22, 15, 30)

    # supervision: the late licence only
    wait_until(lambda: overdue(db, late), timeout=30, what="the late licence overdue")
    (agency, step, due, done), = overdue(db, late)
    assert (agency, step) == ("market", "licence_issued")
    assert iso(round(due.timestamp() * 1000)) == at(2020, 9, 22, 0, 0)
    assert iso(round(done.timestamp() * 1000)) == at(2020, 9, 22, 10, 0)
    assert overdue(db, on_time) == []

    # a year later: a replacement UKey with invoices, a general account; and
    # a general account closed, which the deregistration definition parks:
    # once that one is listed, the others would have been too
    ukey = ev(pb, "tax", "invoice.issued", on_time, (2021, 9, 22, 10, 0),
              {"ukey_issued": True, "reason": "ukey_replaced"}, "PYSW2021092200001")
    account = ev(pb, "bank", "account.opened", on_time, (2021, 10, 12, 10, 0),
                 {"account_kind": "general"}, "ABC-PY-20211012-000001")
    closed = ev(pb, "bank", "account.closed", on_time, (2021, 10, 13, 10, 0),
                {"account_kind": "general"}, "ABC-PY-20211013-000002")
    deliver(client, db, [ukey, account, closed])
    wait_until(lambda: scalar(db, "SELECT count(*) FROM unmatched_events WHERE event_id = %s",
                              (closed.event_id,)) == 1, what="the account closure parked")
    assert scalar(db, "SELECT count(*) FROM events WHERE event_id IN (%s, %s)",
                  (ukey.event_id, account.event_id)) == 2
    assert query(db, "SELECT event_id::text FROM unmatched_events WHERE key_value = %s",
                 (on_time,)) == [(closed.event_id,)]
    assert scalar(db, "SELECT count(*) FROM instance_events WHERE event_id IN (%s, %s)",
                  (ukey.event_id, account.event_id)) == 0
    assert len(instances(db, on_time, "enterprise_startup")) == 1
    assert steps(db, on_time, "enterprise_startup")["invoice_issued"][3] == \
        at(2020, 9, 21, 11, 30)


def test_startup_every_arrival_order(pb, db, procs, hub_client):
    """One start-up, seven events (the late licence of the test above),
    delivered in order, with the application last, backwards and in three
    random orders, each on its own credit code and each event correlated
    before the next arrives: the same instance, steps, due times, events,
    unmatched list and breaches every time."""
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    rng = random.Random(20200918)
    n = 7
    orders = {"forward": list(range(n)), "application_last": list(range(1, n)) + [0],
              "backwards": list(range(n))[::-1]}
    for k in range(3):
        perm = list(range(n))
        rng.shuffle(perm)
        orders[f"random{k}"] = perm
    dumps = {}
    for i, (name, perm) in enumerate(orders.items()):
        code = credit_code(82001 + i)
        evs = start_up(pb, code, licence=(2020, 9, 22, 10, 0), seal=(2020, 9, 22, 11, 0))
        labels = {e.event_id: k for k, e in enumerate(evs)}
        for k in perm:
            send(client, [evs[k]])
            wait_drained(db)
        wait_until(lambda: overdue(db, code), timeout=30, what=f"{name}: the licence overdue")
        # warnings (预警) included: one stands for a step done after its
        # warning point, whether or not a sweep saw the step open then
        dumps[name] = dump_key(db, code, labels)
    ref = dumps["forward"]
    for name, d in dumps.items():
        assert d == ref, f"order {name} {orders[name]} differs:\n{diff_dumps(ref, d)}"
    (inst,) = ref["instances"]
    assert inst[0] == "enterprise_startup" and inst[5] == "completed" and inst[8] == 0
    assert inst[6] == at(2020, 9, 18, 16, 0) and inst[7] == at(2020, 9, 22, 11, 0)
    assert ref["unmatched"] == []
    assert [(b[2], b[5], b[6]) for b in ref["breaches"] if b[4] == "overdue"] == [
        ("licence_issued", at(2020, 9, 22, 0, 0), at(2020, 9, 22, 10, 0))]
    # the warning point of a step due Tue 00:00 from Fri 16:00 (80 h) is
    # Mon 04:00: every step done on Monday or later was warned of; the seal
    # (due Tue 15:30 from the licence at 10:00, warned at 14:07:30) was
    # made at 11:00
    assert sorted(b[2] for b in ref["breaches"] if b[4] == "warning") == [
        "account_opened", "employment_registered", "invoice_issued", "licence_issued",
        "social_registered"], ref["breaches"]


def dereg(pb, code, t, attrs):
    return ev(pb, "market", "deregistration.accepted", code, t, attrs, f"PYSJ-ZX-{code[-6:]}")


def test_deregistration_from_the_application(pb, db, procs, hub_client):
    """Application Monday 2020-09-21 09:00, a qualifying taxpayer: the tax
    clearance is due at 10:00 (60 working minutes). Cleared at 10:01: overdue.
    Cleared at 09:00, the application's instant: on time. A taxpayer in
    arrears: no deadline, cleared two days later, no breach. Social
    security's closure, the bank and the registration complete the case."""
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    late, same, arrears = credit_code(83001), credit_code(83002), credit_code(83003)
    cleared = {late: (2020, 9, 21, 10, 1), same: (2020, 9, 21, 9, 0),
               arrears: (2020, 9, 23, 10, 0)}
    for code, attrs in ((late, CLEAN), (same, CLEAN), (arrears, {**CLEAN, "tax_arrears": True})):
        deliver(client, db, [
            # the clearance first: delivery order does not matter
            ev(pb, "tax", "deregistration.cleared", code, cleared[code], {"no_arrears": True}),
            dereg(pb, code, (2020, 9, 21, 9, 0), {"simplified": False, **attrs}),
            ev(pb, "social", "insurance.closed", code, (2020, 9, 23, 11, 0)),
            ev(pb, "bank", "account.closed", code, (2020, 9, 23, 14, 40), {"account_kind": "basic"}),
            ev(pb, "market", "deregistered", code, (2020, 9, 24, 10, 0),
               case_no=f"PYSJ-ZX-{code[-6:]}")])
    wait_until(lambda: overdue(db, late), timeout=30, what="the late clearance overdue")
    for code in (late, same, arrears):
        (row,) = instances(db, code, "enterprise_deregistration")
        assert row[1] == "completed" and row[4] == 5, row
        st = steps(db, code, "enterprise_deregistration")
        assert st["insurance_closed"][3] == at(2020, 9, 23, 11, 0)
        assert st["notice_published"][0] is False and st["notice_ended"][0] is False
        assert st["deregistered"][1] == at(*cleared[code]) and st["deregistered"][2] is None
    assert steps(db, late, "enterprise_deregistration")["tax_cleared"][2] == \
        at(2020, 9, 21, 10, 0)
    assert steps(db, same, "enterprise_deregistration")["tax_cleared"][2] == \
        at(2020, 9, 21, 10, 0)
    assert steps(db, arrears, "enterprise_deregistration")["tax_cleared"][2] is None
    (agency, step, due, done), = overdue(db, late)
    assert (agency, step) == ("tax", "tax_cleared")
    assert iso(round(done.timestamp() * 1000)) == at(2020, 9, 21, 10, 1)
    assert overdue(db, same) == [] and overdue(db, arrears) == []


def test_simplified_deregistration_waits_for_its_notice(pb, db, procs, hub_client):
    """简易注销: applied Monday 2020-09-07 09:00, the notice published 10:00
    and ended 20 days later, Sunday 09-27 (a make-up working day) 10:00.
    The registration is due 3 working days after the notice's end: 09-28,
    09-29, 09-30, so 24:00 of 09-30. Case A: deregistered Friday 10-09 (after
    the holiday), overdue. Case B: the registry reports the registration
    on 09-18, before the notice ended: the case stays open until the
    notice's end and completes then. Neither has a tax step."""
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    a, b = credit_code(84001), credit_code(84002)
    for code, registered in ((a, (2020, 10, 9, 10, 0)), (b, (2020, 9, 18, 10, 0))):
        deliver(client, db, [
            dereg(pb, code, (2020, 9, 7, 9, 0), {"simplified": True, **CLEAN}),
            ev(pb, "market", "notice.published", code, (2020, 9, 7, 10, 0), {"notice_days": 20},
               f"PYSJ-ZX-{code[-6:]}"),
            ev(pb, "social", "insurance.closed", code, (2020, 9, 8, 11, 0)),
            ev(pb, "bank", "account.closed", code, (2020, 9, 8, 15, 0))])
        st = steps(db, code, "enterprise_deregistration")
        assert st["tax_cleared"][0] is False
        assert st["deregistered"][1] is None and st["deregistered"][2] is None  # not ready
    deliver(client, db, [ev(pb, "market", "deregistered", b, (2020, 9, 18, 10, 0),
                            case_no=f"PYSJ-ZX-{b[-6:]}")])
    assert instances(db, b, "enterprise_deregistration")[0][1] == "open"
    for code in (a, b):
        deliver(client, db, [ev(pb, "market", "notice.ended", code, (2020, 9, 27, 10, 0),
                                {"objections": 0}, f"PYSJ-ZX-{code[-6:]}")])
        st = steps(db, code, "enterprise_deregistration")
        assert st["deregistered"][1] == at(2020, 9, 27, 10, 0)
        assert st["deregistered"][2] == at(2020, 10, 1, 0, 0)
    (row,) = instances(db, b, "enterprise_deregistration")
    assert row[1] == "completed" and iso(round(row[3].timestamp() * 1000)) == \
        at(2020, 9, 27, 10, 0)
    assert instances(db, a, "enterprise_deregistration")[0][1] == "open"
    deliver(client, db, [ev(pb, "market", "deregistered", a, (2020, 10, 9, 10, 0),
                            case_no=f"PYSJ-ZX-{a[-6:]}")])
    (row,) = instances(db, a, "enterprise_deregistration")
    assert row[1] == "completed" and row[4] == 6
    wait_until(lambda: overdue(db, a), timeout=30, what="the late registration overdue")
    (agency, step, due, done), = overdue(db, a)
    assert (agency, step) == ("market", "deregistered")
    assert iso(round(due.timestamp() * 1000)) == at(2020, 10, 1, 0, 0)
    assert overdue(db, b) == []


def test_startup_and_deregistration_through_the_adapters(db, procs, tmp_path):
    """The same rules through the real adapters. The market regulator has
    no system of its own format: its records go through the generic
    adapter (onenet-adapter --agency market). The tax bureau's clearance
    comes through onenet-adapter-tax in the 金税 export (YWLX ZX, YWZT QJ).

    Start-up: application Friday 2020-09-18 16:00, licence Tuesday 09-22
    10:00. One working day after Friday is Monday 09-21: due 24:00 Monday
    (2020-09-21 16:00 UTC); the licence is a day late, overdue.
    Deregistration: application Monday 09-21 09:00 of a qualifying
    taxpayer (no inspection, arrears or outstanding invoices); the
    clearance is due at 10:00 (60 working minutes of office hours from
    09:00) and comes at 10:01 (FSSJ 20200921100100): overdue."""
    hub = start_hub(procs, db)
    startup_code, dereg_code = credit_code(84001), credit_code(84002)

    def market(case_no, etype, when, code, attrs):
        return {"event_id": new_id(), "case_no": case_no, "event_type": etype,
                "occurred_at": when, "keys": {"credit_code": code}, "attrs": attrs}
    market_path = write_ndjson(tmp_path / "market.ndjson", [
        market("PYSJ-KB-084001", "startup.accepted", "2020-09-18T16:00:00+08:00",
               startup_code, {"enterprise_name": "彭阳县红河川商贸有限公司"}),
        market("PYSJ-DJ-084001", "licence.issued", "2020-09-22T10:00:00+08:00",
               startup_code, {}),
        market("PYSJ-ZX-084002", "deregistration.accepted", "2020-09-21T09:00:00+08:00",
               dereg_code, {"simplified": False, **CLEAN})])
    tax_path = tmp_path / "tax.ndjson"
    tax_path.write_text(
        '{"SWJG_DM":"16404250000","WSH":"PYSW2020092100884","YWLX":"ZX","YWZT":"QJ",'
        f'"NSRSBH":"{dereg_code}","BDCDYH":null,"FSSJ":"20200921100100","JE":null,'
        '"XYDJ":null,"TKH":null,"UKEY":null,"WQS":"Y","JLH":"SW-JL-084002"}\n',
        encoding="utf-8")
    adapters = [
        start_adapter(procs, hub.port, str(tmp_path / "market.outbox"), agency="market",
                      adapter_id="market-generic-it", stdin=market_path),
        start_adapter(procs, hub.port, str(tmp_path / "tax.outbox"), agency="tax",
                      adapter_id="tax-it", stdin=str(tax_path),
                      program="onenet-adapter-tax")]
    for a in adapters:
        wait_exit(a, timeout=60)
    wait_drained(db)
    assert scalar(db, "SELECT count(*) FROM events") == 4

    monday_end = datetime(2020, 9, 21, 16, 0, tzinfo=timezone.utc)
    wait_until(lambda: len(overdue(db, startup_code)) == 1 and len(overdue(db, dereg_code)) == 1,
               timeout=30, what="the late licence and the late clearance overdue")
    (agency, step, due, done), = overdue(db, startup_code)
    assert (agency, step, due) == ("market", "licence_issued", monday_end)
    assert done == datetime(2020, 9, 22, 2, 0, tzinfo=timezone.utc)
    (agency, step, due, done), = overdue(db, dereg_code)
    assert (agency, step) == ("tax", "tax_cleared")
    assert due == datetime(2020, 9, 21, 2, 0, tzinfo=timezone.utc)      # 10:00 +08
    assert done == datetime(2020, 9, 21, 2, 1, tzinfo=timezone.utc)     # 10:01 +08
    # the start-up's other steps wait, each due with the licence
    st = steps(db, startup_code, "enterprise_startup")
    assert st["account_opened"][2] == at(2020, 9, 22, 0, 0) and st["account_opened"][3] is None
