"""An instance is a case, not a key (docs/workflows.md, "Case identity").

The land registry numbers each application (受理号, the event's case_no).
A flat sold again while the first sale's case is still open, or a second
application on the same unit while the first runs, is a case of its own:
its events, attributes, tasks and deadlines never mix with the first's, and
a withdrawal ends only the application it names. Every expectation is
counted by hand from the events below."""
import datetime

from conftest import query, unit_number, wait_until
from test_workflows import bj_ms, case_event, send, start_wf_hub, wait_drained

BJ = datetime.timezone(datetime.timedelta(hours=8))


def ev(pb, agency, etype, unit, t, case_no, attrs=None):
    e = case_event(pb, agency, etype, unit, bj_ms(*t), attrs)
    e.case_no = case_no
    return e


def transfers(db, unit):
    return query(db, """
        SELECT instance_no, state, attrs->>'buyer_name', attrs->>'has_gas', events,
               (SELECT array_agg(s.step ORDER BY s.step) FROM workflow_steps s
                WHERE s.instance_id = i.id AND s.required AND s.completed_at IS NULL)
        FROM workflow_instances i
        WHERE key_value = %s AND workflow = 'property_transfer' ORDER BY instance_no""",
                 (unit,))


def test_resale_while_the_first_sale_is_open(pb, db, procs, hub_client):
    """Sale 1 (2020, 受理号 …0001): water never reports its transfer, so the
    case stays open. Sale 2 a year later (受理号 …0002, a flat with gas now):
    a second instance, with its own buyer and gas step and the gas task;
    sale 1 keeps its buyer, has no gas step and keeps its one open step.
    Delivered forwards on one unit and backwards on another: one outcome."""
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    results = {}
    for k, backwards in enumerate((False, True)):
        unit = unit_number(62001 + k)
        sale1 = [
            ev(pb, "land", "transfer.accepted", unit, (2020, 9, 28, 9, 30), "彭不动产受0001",
               {"has_mortgage": False, "has_gas": False, "buyer_name": "马建国"}),
            ev(pb, "tax", "deed_tax.assessed", unit, (2020, 9, 28, 10, 15), "契税0001"),
            ev(pb, "tax", "deed_tax.paid", unit, (2020, 9, 28, 11, 0), "契税0001"),
            ev(pb, "land", "transfer.registered", unit, (2020, 9, 29, 10, 0), "彭不动产受0001"),
            ev(pb, "power", "account.transferred", unit, (2020, 9, 29, 15, 0), "电0001")]
        sale2 = [
            ev(pb, "land", "transfer.accepted", unit, (2021, 9, 27, 9, 30), "彭不动产受0002",
               {"has_mortgage": False, "has_gas": True, "buyer_name": "李秀英"}),
            ev(pb, "tax", "deed_tax.assessed", unit, (2021, 9, 27, 10, 15), "契税0002"),
            ev(pb, "tax", "deed_tax.paid", unit, (2021, 9, 27, 11, 0), "契税0002"),
            ev(pb, "land", "transfer.registered", unit, (2021, 9, 28, 10, 0), "彭不动产受0002"),
            ev(pb, "power", "account.transferred", unit, (2021, 9, 28, 15, 0), "电0002"),
            ev(pb, "water", "account.transferred", unit, (2021, 9, 28, 16, 0), "水0002"),
            ev(pb, "gas", "account.transferred", unit, (2021, 9, 29, 9, 0), "气0002")]
        events = sale1 + sale2
        for e in (events[::-1] if backwards else events):
            send(client, [e])
            wait_drained(db)
        def breaches():
            return query(db, """
                SELECT i.instance_no, b.agency FROM breaches b
                JOIN workflow_instances i ON i.id = b.instance_id
                WHERE i.key_value = %s AND b.withdrawn_at IS NULL AND b.kind = 'overdue'
                ORDER BY 1, 2""", (unit,))
        # supervision marks sale 1's water step at its next tick
        wait_until(lambda: (1, "water") in breaches(), timeout=30,
                   what="sale 1's water transfer overdue")
        results[backwards] = (transfers(db, unit), query(db, """
            SELECT t.agency, i.instance_no FROM tasks t
            JOIN workflow_instances i ON i.id = t.instance_id
            WHERE t.key_value = %s ORDER BY 1, 2""", (unit,)), breaches())
    assert results[False] == results[True], results
    instances, tasks, breaches = results[False]
    assert instances == [(1, "open", "马建国", "false", 5, ["water_transferred"]),
                         (2, "completed", "李秀英", "true", 7, None)], instances
    # sale 1's registration gave power and water their tasks; sale 2's gave
    # power, water and gas theirs
    assert tasks == [("gas", 2), ("power", 1), ("power", 2), ("water", 1), ("water", 2)]
    # the one late agency: water, in 2020; no gas breach reaches back to 2020
    assert breaches == [(1, "water")], breaches


def test_concurrent_applications_one_withdrawn(pb, db, procs, hub_client):
    """Two applications on one unit the same morning (受理号 A and B). A's
    deed tax is paid and A is registered; B is withdrawn. B's instance is
    cancelled, A's registration stands and its instance runs on (the
    utilities still to act)."""
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    unit = unit_number(62010)
    events = [
        ev(pb, "land", "transfer.accepted", unit, (2020, 11, 2, 9, 0), "受理A",
           {"has_mortgage": False, "buyer_name": "王伟"}),
        ev(pb, "tax", "deed_tax.assessed", unit, (2020, 11, 2, 9, 30), "契税A"),
        ev(pb, "tax", "deed_tax.paid", unit, (2020, 11, 2, 10, 0), "契税A"),
        ev(pb, "land", "transfer.accepted", unit, (2020, 11, 2, 10, 30), "受理B",
           {"has_mortgage": False, "buyer_name": "张敏"}),
        ev(pb, "land", "transfer.registered", unit, (2020, 11, 2, 11, 0), "受理A"),
        ev(pb, "land", "transfer.withdrawn", unit, (2020, 11, 2, 11, 30), "受理B")]
    send(client, events)
    wait_drained(db)
    got = transfers(db, unit)
    assert got == [(1, "open", "王伟", None, 4, ["power_transferred", "water_transferred"]),
                   (2, "cancelled", "张敏", None, 2,
                    ["deed_tax_assessed", "deed_tax_paid", "power_transferred", "registered",
                     "water_transferred"])], got
    assert query(db, """SELECT s.completed_at FROM workflow_steps s
                        JOIN workflow_instances i ON i.id = s.instance_id
                        WHERE i.key_value = %s AND i.instance_no = 1
                          AND i.workflow = 'property_transfer'
                          AND s.step = 'registered'""", (unit,)) == \
        [(datetime.datetime(2020, 11, 2, 11, 0, tzinfo=BJ),)]
