"""A key's long history is folded once (hub/fold.h, settled points).

A unit resold every few weeks: after each completed sale the key's
settled point (key_checkpoints) is the instant of the sale's last event,
with the number of runs started by then, and the next sale's events are
folded from there (the hub's debug log counts the keys it resumed). An
event that occurred before the latest settled point (a withdrawal
delivered months late, an event at the settled instant itself) is folded
from the latest point before it, one older than every point with the
whole history. Whatever the path, the unit's instances, steps,
events, parked events, breaches and settled point are those of a second
unit that received the same events in one batch; the expected settled
points and run counts come from the scenario. An enterprise's year of
invoices after its start-up likewise: each invoice is the credit code's
new settled point."""
import re

from conftest import credit_code, query, unit_number, wait_supervised
from test_enterprise import ev, start_up
from test_workflows import (bj_ms, case_event, copy_event, diff_dumps, dump_key, send,
                            start_wf_hub, wait_drained)

DAY = 86400_000


def sale(pb, unit, k, start_ms, steps=("accepted", "assessed", "paid", "registered",
                                      "power", "water")):
    """Sale K of UNIT from START_MS: [(label, event)], the land case number
    its own."""
    at = {"accepted": 0, "assessed": 3600_000, "paid": 2 * 3600_000,
          "registered": DAY, "power": DAY + 5 * 3600_000, "water": DAY + 6 * 3600_000}
    kinds = {"accepted": ("land", "transfer.accepted"), "assessed": ("tax", "deed_tax.assessed"),
             "paid": ("tax", "deed_tax.paid"), "registered": ("land", "transfer.registered"),
             "power": ("power", "account.transferred"),
             "water": ("water", "account.transferred")}
    out = []
    for label in steps:
        agency, etype = kinds[label]
        e = case_event(pb, agency, etype, unit, start_ms + at[label],
                       {"has_mortgage": False} if label == "accepted" else {})
        if agency == "land":
            e.case_no = f"PY-LAND-{unit[-8:]}-{k}"
        out.append((f"sale{k}.{label}", e))
    return out


def checkpoint(db, unit):
    """The unit's latest settled point and its runs."""
    rows = query(db, "SELECT settled_at, runs FROM key_checkpoints WHERE key_kind = "
                     "'unit_number' AND key_value = %s ORDER BY settled_at DESC LIMIT 1",
                 (unit,))
    return (rows[0][0], rows[0][1]) if rows else (None, None)


def last_resumed(hub):
    """Whether the hub's last correlation page folded its key from a
    settled point (its debug log)."""
    pages = re.findall(r'msg="correlated" .*resumed=(\d+)', hub.log())
    return int(pages[-1]) if pages else None


def as_ms(ts):
    return int(ts.timestamp() * 1000) if ts else None


def test_resold_unit_folds_from_its_settled_point(pb, db, procs, hub_client):
    hub = start_wf_hub(procs, db, extra=("--log-level", "debug"))
    client = hub_client(hub.endpoint)
    hot, batch = unit_number(71001), unit_number(71002)
    first = bj_ms(2020, 3, 2, 9, 0)   # Monday; a sale every 3 weeks
    sales = [sale(pb, hot, k, first + k * 21 * DAY) for k in range(6)]
    sent = []
    for k, events in enumerate(sales):
        send(client, [e for _, e in events])
        wait_drained(db)
        sent += events
        settled, runs = checkpoint(db, hot)
        # the sale's water transfer, a day and six hours after its start
        assert as_ms(settled) == first + k * 21 * DAY + DAY + 6 * 3600_000, (k, settled)
        assert runs["property_transfer"] == k + 1, runs
        assert all(n == 0 for w, n in runs.items() if w != "property_transfer"), runs
    # every sale after the first was folded from the settled point alone
    resumed = [int(m) for m in re.findall(r'msg="correlated" .*resumed=(\d+)', hub.log())]
    assert resumed.count(1) >= 5, resumed

    # a seventh sale, open: the settled point stays at the sixth
    open_sale = sale(pb, hot, 6, first + 6 * 21 * DAY, steps=("accepted", "assessed"))
    send(client, [e for _, e in open_sale])
    wait_drained(db)
    sent += open_sale
    assert as_ms(checkpoint(db, hot)[0]) == first + 5 * 21 * DAY + DAY + 6 * 3600_000
    assert checkpoint(db, hot)[1]["property_transfer"] == 6

    # sale 3 withdrawn 90 minutes after its acceptance (after its deed tax
    # was assessed, before it was paid), delivered months late: before the
    # latest settled point, so the key is folded from the latest one before
    # it, sale 2's end, and the points after it are replaced. Sale 3 is
    # cancelled before its registration; its later events find no running
    # case
    withdrawal = case_event(pb, "land", "transfer.withdrawn", hot,
                            first + 3 * 21 * DAY + 90 * 60_000)
    withdrawal.case_no = f"PY-LAND-{hot[-8:]}-3"
    send(client, [withdrawal])
    wait_drained(db)
    sent.append(("sale3.withdrawn", withdrawal))
    assert last_resumed(hub) == 1
    states = [s for s, in query(db, "SELECT state FROM workflow_instances WHERE key_value = "
                                    "%s AND workflow = 'property_transfer' AND state <> "
                                    "'superseded' ORDER BY instance_no", (hot,))]
    assert states[3] == "cancelled", states
    # an event at the settled instant itself (sale 6's water transfer) may
    # sort before it: folded from the point before, sale 5's end. Its id
    # sorts after the water transfer's: it finds sale 6 completed and waits
    # (parked) for a next case within the TTL, so sale 6's end is no longer
    # settled; sale 5's end is the latest point
    tie = case_event(pb, "power", "account.transferred", hot,
                     first + 5 * 21 * DAY + DAY + 6 * 3600_000,
                     event_id="ffffffff-ffff-4fff-bfff-ffffffffffff")
    send(client, [tie])
    wait_drained(db)
    sent.append(("tie", tie))
    assert last_resumed(hub) == 1
    # a power transfer an hour before the first sale was accepted: older
    # than every settled point (the first sale's end is the first), the
    # whole history is folded. It waits for the first sale and joins it
    # when it starts (within the TTL)
    early = case_event(pb, "power", "account.transferred", hot, first - 3600_000)
    send(client, [early])
    wait_drained(db)
    sent.append(("early", early))
    assert last_resumed(hub) == 0

    # the same events at once on another unit: one outcome
    labels_hot = {e.event_id: label for label, e in sent}
    copies, labels_batch = [], {}
    for label, e in sent:
        c = copy_event(pb, e)
        # another id that sorts as the original among events of one instant
        # (ties are ordered by event id): only its last six digits differ
        c.event_id = f"{e.event_id[:-6]}{int(e.event_id[-6:], 16) ^ 0xa5a5a5:06x}"
        del c.keys[:]
        c.keys.add(kind=pb.UNIT_NUMBER, value=batch)
        if c.case_no.startswith(f"PY-LAND-{hot[-8:]}"):
            c.case_no = c.case_no.replace(hot[-8:], batch[-8:])
        labels_batch[c.event_id] = label
        copies.append(c)
    send(client, copies)
    wait_drained(db)
    wait_supervised(db)   # the open seventh sale is overdue on both units
    a, b = dump_key(db, hot, labels_hot), dump_key(db, batch, labels_batch)
    for d in (a, b):   # the key differs; the outcome must not
        d["instances"] = [i[:3] + i[4:] for i in d["instances"]]
    assert a == b, diff_dumps(b, a)
    assert checkpoint(db, hot) == checkpoint(db, batch)
    settled, runs = checkpoint(db, hot)
    assert as_ms(settled) == first + 4 * 21 * DAY + DAY + 6 * 3600_000, settled
    assert runs["property_transfer"] == 5, runs
    assert "tie" in [u[0] for u in a["unmatched"]], a["unmatched"]
    assert ("property_transfer", 1, "early") in a["instance_events"], a["instance_events"]


def test_enterprise_invoices_fold_from_the_settled_point(pb, db, procs, hub_client):
    """A start-up completed Monday 2020-09-21 15:00, then an invoice every
    week for a year, each delivered on its own: an invoice finds no running
    start-up and is recorded, so each one's instant is the credit code's
    new settled point, and each is folded from the last. The start-up and
    the recorded invoices are those of a second code that got it all at
    once."""
    hub = start_wf_hub(procs, db, extra=("--log-level", "debug"))
    client = hub_client(hub.endpoint)
    code, other = credit_code(83001), credit_code(83002)
    events = start_up(pb, code)
    send(client, events)
    wait_drained(db)
    start = bj_ms(2020, 9, 28, 10, 0)
    for k in range(52):
        t = start + k * 7 * DAY
        invoice = ev(pb, "tax", "invoice.issued", code, (2020, 1, 1, 0, 0),
                     {"ukey_issued": False})
        invoice.occurred_at_ms = t
        send(client, [invoice])
        wait_drained(db)
        events.append(invoice)
        rows = query(db, "SELECT settled_at, runs FROM key_checkpoints WHERE key_kind = "
                         "'credit_code' AND key_value = %s ORDER BY settled_at DESC LIMIT 1",
                     (code,))
        assert rows and as_ms(rows[0][0]) == t, (k, rows)
        assert rows[0][1]["enterprise_startup"] == 1, rows
    resumed = [int(m) for m in re.findall(r'msg="correlated" .*resumed=(\d+)', hub.log())]
    assert resumed.count(1) >= 52, resumed
    # of the 53 points, the 8 latest and the earliest of each doubling span
    # of time further back (a week before the newest is 2^13.3 minutes, a
    # year 2^19): a few, the start-up's end (its last event, the employment
    # registration Monday 15:00) among them
    kept, earliest = query(db, "SELECT count(*), min(settled_at) FROM key_checkpoints "
                               "WHERE key_value = %s", (code,))[0]
    assert 9 <= kept <= 14, kept
    assert as_ms(earliest) == bj_ms(2020, 9, 21, 15, 0), earliest
    copies = []
    for e in events:
        c = copy_event(pb, e)
        c.event_id = f"{e.event_id[:-6]}{int(e.event_id[-6:], 16) ^ 0xa5a5a5:06x}"
        del c.keys[:]
        c.keys.add(kind=pb.CREDIT_CODE, value=other)
        copies.append(c)
    send(client, copies)
    wait_drained(db)
    wait_supervised(db)

    def outcome(key):
        return (query(db, "SELECT workflow, instance_no, state, started_at, ended_at, events "
                          "FROM workflow_instances WHERE key_value = %s ORDER BY 1, 2", (key,)),
                query(db, "SELECT count(*) FROM unmatched_events WHERE key_value = %s", (key,)),
                query(db, "SELECT settled_at, runs FROM key_checkpoints "
                          "WHERE key_value = %s ORDER BY settled_at DESC LIMIT 1", (key,)))
    assert outcome(code) == outcome(other)
    assert outcome(code)[0][0][:3] == ("enterprise_startup", 1, "completed")
