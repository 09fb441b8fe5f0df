"""Every limit of the hub (docs/protocol.md "Validation" and "Limits") is
enforced with a clear error: an event just at a limit is STORED, one just
beyond it is REJECTED (or, for a whole message, answered with an Error)
with a reason that names the field, the value and the limit, and the hub
keeps serving."""

import re
import secrets
import subprocess

import pytest

from conftest import (batch_bytes, build_path, event_count, make_event, now_ms, query,
                      scalar, start_hub, unit_number, wait_until)

LIMITS = ["--max-message-bytes", "4096", "--max-batch-events", "5", "--max-keys", "2",
          "--max-attrs", "3", "--max-string", "32", "--max-text", "64",
          "--max-future-s", "600", "--max-past-days", "30"]

# A small vocabulary, so that the list of known types is known exactly.
WORKFLOW = """\
workflow: limits_check
version: 1
title: limits check
key: unit_number
starts_on:
  - {agency: land, event: transfer.accepted}
unmatched_ttl: 1h
steps:
  - id: accepted
    agency: land
    completes_on: [transfer.accepted]
  - id: paid
    agency: tax
    completes_on: [deed_tax.paid]
  - id: registered
    agency: land
    completes_on: [transfer.registered]
    after: [accepted, paid]
rejects_on:
  - {agency: land, event: transfer.rejected}
completes_when: all
"""


@pytest.fixture
def limited(pb, db, procs, hub_client, tmp_path):
    """A hub with small limits and the one workflow above; its client."""
    wf = tmp_path / "wf"
    wf.mkdir()
    (wf / "limits_check.yaml").write_text(WORKFLOW, encoding="utf-8")
    hub = start_hub(procs, db, extra=LIMITS + [
        "--workflows", str(wf), "--extra-event-types", "land:survey.done,tax:invoice.voided"])
    c = hub_client(hub.endpoint)
    c.db = db
    c.hub = hub
    return c


def check(pb, client, event, status, reason=None, code=None, **kwargs):
    """Sends EVENT alone; its ack must have STATUS and, when given, a reason
    matching the regular expression REASON (whole reason)."""
    ack = client.request_batch([event], **kwargs).acks[0]
    assert ack.status == status, ack
    if code is not None:
        assert ack.code == code, ack
    if reason is not None:
        assert re.fullmatch(reason, ack.reason), f"reason {ack.reason!r} !~ {reason!r}"
    return ack


def rejected(pb, client, event, code, reason, **kwargs):
    ack = check(pb, client, event, pb.REJECTED, reason, code, **kwargs)
    assert scalar(client.db, "SELECT reason FROM dead_letters WHERE event_id = %s",
                  (event.event_id,)) == ack.reason
    return ack


def test_message_size(pb, limited):
    """A message over --max-message-bytes is answered with an Error that
    gives its size and the limit; one just under it is served."""
    c = limited
    big = make_event(pb, 1)
    big.attributes.add(name="blob", text="x" * 60)
    events = [big]
    while len(batch_bytes(pb, events + [make_event(pb, 2)])) <= 4096:
        events.append(make_event(pb, 2 + len(events)))
    assert len(batch_bytes(pb, events)) <= 4096 and len(events) > 5
    # under the byte limit and the batch limit
    reply = c.request_batch(events[:5])
    assert [a.status for a in reply.acks] == [pb.STORED] * 5
    over = batch_bytes(pb, events + [make_event(pb, 99)], seq=10)
    assert len(over) > 4096
    err = c.request_error(over)
    assert (err.code, err.batch_seq) == (pb.MESSAGE_TOO_LARGE, 10)
    assert err.reason == f"message of {len(over)} bytes exceeds the limit of 4096 bytes"
    assert scalar(c.db, "SELECT reason FROM dead_letters WHERE code = 'MESSAGE_TOO_LARGE'") \
        == err.reason
    check(pb, c, make_event(pb, 100), pb.STORED)


def test_batch_size(pb, limited):
    """--max-batch-events: 5 events are stored; a batch of 6 is refused
    whole, with one Error naming its batch_seq and one dead letter holding
    its bytes, before any event is looked at (the bad one among them is not
    refused on its own)."""
    c = limited
    ack = c.request_batch([make_event(pb, 10 + i) for i in range(5)])
    assert [a.status for a in ack.acks] == [pb.STORED] * 5
    six = [make_event(pb, 20 + i) for i in range(5)] + [pb.CaseEvent()]
    raw = batch_bytes(pb, six, seq=77, adapter_id="land-07")
    err = c.request_error(raw)
    assert (err.code, err.batch_seq) == (pb.LIMIT_EXCEEDED, 77)
    assert err.reason == ("batch holds 6 events, limit 5: refused whole, none of its "
                          "events was stored; send at most 5 events a batch")
    rows = query(c.db, "SELECT sender, event_id, code, reason, payload FROM dead_letters")
    assert [r[:4] + (bytes(r[4]),) for r in rows] == [
        ("land-07", None, "LIMIT_EXCEEDED", err.reason, raw)]
    assert event_count(c.db)[0] == 5
    check(pb, c, make_event(pb, 30), pb.STORED)


def test_batch_strings(pb, limited):
    """A batch whose adapter_id or agency is over --max-string is refused
    whole, named by the peer (its adapter id cannot be trusted)."""
    c = limited
    err = c.request_error(batch_bytes(pb, [make_event(pb, 40)], seq=78,
                                      adapter_id="a" * 33))
    assert (err.code, err.batch_seq) == (pb.LIMIT_EXCEEDED, 78)
    assert err.reason == "the batch's adapter_id is 33 bytes, limit 32: refused whole"
    err = c.request_error(batch_bytes(pb, [make_event(pb, 41)], seq=79, agency="b" * 40))
    assert (err.code, err.batch_seq) == (pb.LIMIT_EXCEEDED, 79)
    assert err.reason == "the batch's agency is 40 bytes, limit 32: refused whole"
    senders = [r[0] for r in query(c.db, "SELECT sender FROM dead_letters ORDER BY id")]
    assert senders[0].startswith("peer:") and senders[1] == "it-raw"
    assert event_count(c.db)[0] == 0
    check(pb, c, make_event(pb, 42), pb.STORED)


def test_keys_and_attributes(pb, limited):
    """--max-keys and --max-attrs: at the limit stored, one more refused."""
    c = limited
    two = [(pb.UNIT_NUMBER, unit_number(30)), (pb.APPLICATION_NO, "A-30")]
    check(pb, c, make_event(pb, 30, keys=two), pb.STORED)
    three = two + [(pb.REFUND_NO, "R-31")]
    rejected(pb, c, make_event(pb, 31, keys=three), pb.LIMIT_EXCEEDED,
             r"3 correlation keys, limit 2")

    e = make_event(pb, 32)          # make_event adds one attribute, "seq"
    e.attributes.add(name="a", integer=1)
    e.attributes.add(name="b", flag=True)
    check(pb, c, e, pb.STORED)
    e = make_event(pb, 33)
    for name in ("a", "b", "c"):
        e.attributes.add(name=name, integer=1)
    rejected(pb, c, e, pb.LIMIT_EXCEEDED, r"4 attributes, limit 3")


@pytest.mark.parametrize("field", ["case_no", "adapter_id", "event_type", "key",
                                   "attribute name", "text"])
def test_string_lengths(pb, limited, field):
    """--max-string (ids, case numbers, types, key values, attribute names)
    and --max-text (text attributes): at the limit stored, one byte more
    refused naming the field, the length and the limit."""
    c = limited

    def event(n, length):
        e = make_event(pb, n)
        if field == "case_no":
            e.case_no = "C" * length
        elif field == "adapter_id":
            e.adapter_id = "a" * length
        elif field == "event_type":
            # long types are unknown anyway: the length is checked first
            e.event_type = "transfer." + "x" * (length - 9)
        elif field == "key":
            del e.keys[:]
            e.keys.add(kind=pb.APPLICATION_NO, value="P" * length)
        elif field == "attribute name":
            e.attributes.add(name="n" * length, integer=1)
        else:
            e.attributes.add(name="note", text="说" * (length // 3) + "t" * (length % 3))
        return e

    limit = 64 if field == "text" else 32
    if field == "event_type":
        rejected(pb, c, event(40, limit), pb.INVALID_FIELD,
                 r'event_type "transfer\.x{23}" is not known for agency "land"; .*')
    else:
        check(pb, c, event(40, limit), pb.STORED)
    name = {"key": "application_no", "text": 'attribute "note"'}.get(field, field)
    rejected(pb, c, event(41, limit + 1), pb.LIMIT_EXCEEDED,
             re.escape(f"{name} is {limit + 1} bytes, limit {limit}"))


def test_time_window(pb, limited):
    """--max-future-s and --max-past-days, against the hub's clock."""
    c = limited
    check(pb, c, make_event(pb, 50, occurred_at_ms=now_ms() + 300_000), pb.STORED)
    rejected(pb, c, make_event(pb, 51, occurred_at_ms=now_ms() + 3600_000),
             pb.TIME_OUT_OF_RANGE, r"occurred_at is 3[56]\d\d s in the future, limit 600 s")
    check(pb, c, make_event(pb, 52, occurred_at_ms=now_ms() - 29 * 86400_000), pb.STORED)
    rejected(pb, c, make_event(pb, 53, occurred_at_ms=now_ms() - 31 * 86400_000),
             pb.TIME_OUT_OF_RANGE, r"occurred_at is more than 30 days in the past")
    rejected(pb, c, make_event(pb, 54, occurred_at_ms=1), pb.TIME_OUT_OF_RANGE,
             r"occurred_at is more than 30 days in the past")
    # accepted_at, when set, lies in the same window
    rejected(pb, c, make_event(pb, 55, accepted_at_ms=2**63 - 1), pb.TIME_OUT_OF_RANGE,
             r"accepted_at is \d+ s in the future, limit 600 s")
    rejected(pb, c, make_event(pb, 56, accepted_at_ms=-2**63), pb.TIME_OUT_OF_RANGE,
             r"accepted_at is more than 30 days in the past")
    check(pb, c, make_event(pb, 57, accepted_at_ms=0), pb.STORED)
    # a time attribute: the years 1 to 9999
    e = make_event(pb, 58)
    e.attributes.add(name="born_at", time_ms=-62135596800000)
    check(pb, c, e, pb.STORED)
    e = make_event(pb, 59)
    e.attributes.add(name="born_at", time_ms=253402300800000)
    rejected(pb, c, e, pb.TIME_OUT_OF_RANGE,
             r'attribute "born_at" is a time of 253402300800000 ms since 1970, '
             r"outside the years 1 to 9999")


def test_unknown_event_types(pb, limited):
    """The vocabulary of an agency is what the workflows name for it plus
    --extra-event-types; anything else is refused with the known list."""
    c = limited
    for n, event_type in enumerate(["transfer.accepted", "transfer.registered",
                                    "transfer.rejected", "survey.done"]):
        check(pb, c, make_event(pb, 60 + n, event_type=event_type), pb.STORED)
    known_land = "survey.done, transfer.accepted, transfer.registered, transfer.rejected"
    rejected(pb, c, make_event(pb, 65, event_type="transfer.acceptd"), pb.INVALID_FIELD,
             re.escape(f'event_type "transfer.acceptd" is not known for agency "land"; '
                       f"known: {known_land}"))
    # a type of another agency is not land's
    rejected(pb, c, make_event(pb, 66, event_type="deed_tax.paid"), pb.INVALID_FIELD,
             re.escape(f'event_type "deed_tax.paid" is not known for agency "land"; '
                       f"known: {known_land}"))
    tax = dict(agency="tax", adapter_id="tax-it")
    check(pb, c, make_event(pb, 67, event_type="invoice.voided", **tax), pb.STORED,
          agency="tax", adapter_id="tax-it")
    rejected(pb, c, make_event(pb, 68, event_type="transfer.accepted", **tax),
             pb.INVALID_FIELD,
             re.escape('event_type "transfer.accepted" is not known for agency "tax"; '
                       "known: deed_tax.paid, invoice.voided"),
             agency="tax", adapter_id="tax-it")
    # an agency the hub accepts but no workflow names
    rejected(pb, c, make_event(pb, 69, event_type="account.opened", agency="bank",
                               adapter_id="bank-it"),
             pb.INVALID_FIELD,
             re.escape('event_type "account.opened" is not known for agency "bank"; '
                       "known: none"),
             agency="bank", adapter_id="bank-it")
    assert scalar(c.db, "SELECT count(*) FROM dead_letters WHERE code = 'INVALID_FIELD'") == 4


def test_shipped_vocabulary(pb, db, procs, hub_client):
    """With the shipped workflows, every (agency, type) they name is
    accepted and a type of one agency sent by another is refused."""
    hub = start_hub(procs, db)
    c = hub_client(hub.endpoint)
    c.db = db
    check(pb, c, make_event(pb, 70, event_type="transfer.registered"), pb.STORED)
    ack = rejected(pb, c, make_event(pb, 71, event_type="account.transferred"),
                   pb.INVALID_FIELD,
                   r'event_type "account\.transferred" is not known for agency "land"; '
                   r"known: .*\btransfer\.accepted\b.*")
    assert "deed_tax" not in ack.reason


@pytest.mark.parametrize("value, words", [
    ("land", 'extra-event-types entry "land" must be agency:type'),
    ("mars:x.y", 'extra-event-types entry "mars:x.y" must be agency:type with an agency'),
    ("land:Bad Type", 'extra-event-types entry "land:Bad'),
])
def test_bad_extra_event_types(value, words):
    """A malformed --extra-event-types stops the hub at start (status 2)
    with a message naming the entry."""
    r = subprocess.run([build_path("onenet-hub"), "--extra-event-types", value,
                        "--migrate-only", "--db", "host=/nonexistent"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, r
    assert words in r.stderr, r.stderr


LONG_KEY_WORKFLOW = """\
workflow: long_keys
version: 1
title: long keys
key: application_no
starts_on:
  - {agency: land, event: transfer.accepted}
steps:
  - id: accepted
    agency: land
    completes_on: [transfer.accepted]
  - id: registered
    agency: land
    completes_on: [transfer.registered]
    after: [accepted]
completes_when: all
"""


def test_long_keys_correlate_whole(pb, db, procs, hub_client, tmp_path):
    """A correlation key as long as the protocol allows (1 024 bytes) is
    folded whole: two events whose application numbers differ only in the
    last byte make two instances, each with its full key, and the one that
    gets its registration completes. A key one byte longer is refused, even
    with a larger --max-string."""
    wf = tmp_path / "wf"
    wf.mkdir()
    (wf / "long_keys.yaml").write_text(LONG_KEY_WORKFLOW, encoding="utf-8")
    hub = start_hub(procs, db, extra=["--max-string", "3000", "--workflows", str(wf)])
    c = hub_client(hub.endpoint)
    c.db = db
    stem = secrets.token_hex(512)[:1023]       # incompressible, as real numbers are
    a, b = stem + "A", stem + "B"
    for i, (key, etype) in enumerate([(a, "transfer.accepted"), (b, "transfer.accepted"),
                                      (a, "transfer.registered")]):
        check(pb, c, make_event(pb, 40 + i, keys=[(pb.APPLICATION_NO, key)],
                                event_type=etype), pb.STORED)
    rejected(pb, c, make_event(pb, 43, keys=[(pb.APPLICATION_NO, a + "X")]),
             pb.LIMIT_EXCEEDED, r"application_no is 1025 bytes, limit 1024 for a key")
    wait_until(lambda: scalar(db, "SELECT count(*) FROM correlation_backlog") == 0,
               timeout=60, what="an empty correlation queue")
    rows = sorted((len(k), k[-1], state, n) for k, state, n in query(
        db, "SELECT key_value, state, events FROM workflow_instances"))
    assert rows == [(1024, "A", "completed", 2), (1024, "B", "open", 1)], rows
