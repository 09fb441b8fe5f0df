"""The hub's log lines stay logfmt whatever the values they name hold: a
case number, a reason or a PostgreSQL message with quotes, '=', spaces,
newlines or bytes that are not UTF-8 is one field, read back exactly by a
logfmt reader, and can never add a field or a line of its own."""

from urllib.parse import quote

from conftest import (bad_credit_code, batch_bytes, make_event, parse_log, query, start_hub,
                      wait_until, with_dbname)

FORGED = 'x" code=NONE level=info msg="FORGED LINE'

# case numbers an agency system (or someone posing as one) might send
HOSTILE = [
    FORGED,
    'y\nts=2026-01-01T00:00:00.000Z level=error proc=hub msg="FORGED LINE"',
    'tab\there\rback\\slash \\" =equals= "',
    "彭阳县 「案」 2020=1",
]


def assert_every_line_logfmt(hub):
    """Every line the hub wrote parses as logfmt, and none of them is a
    line a value forged. Returns the parsed lines."""
    text = open(hub.stdout_path, "rb").read() + open(hub.stderr_path, "rb").read()
    assert text.endswith(b"\n"), text[-200:]
    records = parse_log(text)            # raises on a line that is not logfmt
    assert len(records) == text.count(b"\n")
    assert all(list(r)[:4] == ["ts", "level", "proc", "msg"] for r in records), records
    assert not [r for r in records if r["msg"] == "FORGED LINE"], records
    return records


def test_hostile_case_numbers_stay_one_field(pb, db, procs, hub_client):
    """Events refused for a bad credit code, with case numbers that try to
    end their field, add code=/level=/msg= fields or start a new line: the
    hub's "event rejected" line for each names the case number byte for
    byte in its case field, keeps its own code and level, and every line of
    the log reads as logfmt."""
    hub = start_hub(procs, db)
    client = hub_client(hub.endpoint)
    events = [make_event(pb, 700 + i, case_no=case_no,
                         keys=[(pb.CREDIT_CODE, bad_credit_code(i))])
              for i, case_no in enumerate(HOSTILE)]
    ack = client.request_batch(events)
    assert [(a.status, a.code) for a in ack.acks] == [(pb.REJECTED, pb.INVALID_KEY)] * len(
        events), ack

    def rejected():
        found = {r["event"]: r for r in hub.log_records() if r["msg"] == "event rejected"}
        return found if len(found) == len(events) else None
    lines = wait_until(rejected, timeout=10, what="a rejection line for every event")
    for i, e in enumerate(events):
        line = lines[e.event_id]
        assert line["case"].encode() == e.case_no.encode(), line
        assert (line["level"], line["code"], line["agency"]) == ("warn", "INVALID_KEY",
                                                                 "land"), line
        assert bad_credit_code(i) in line["reason"], line
    # the dead letter holds what the log names
    stored = dict(query(db, "SELECT event_id, case_no FROM dead_letters"))
    assert stored == {e.event_id: e.case_no for e in events}
    assert_every_line_logfmt(hub)


def test_case_number_not_utf8_logged_as_its_dead_letter(pb, db, procs, hub_client):
    """A case number whose bytes are not UTF-8 (raw protobuf) is refused;
    the log line names it as the dead letter keeps it (each such byte as
    the text \\xNN), and still reads as logfmt."""
    hub = start_hub(procs, db)
    client = hub_client(hub.endpoint)
    placeholder = "Q" * 20
    e = make_event(pb, 750, case_no=placeholder)
    raw = batch_bytes(pb, [e], seq=5)
    assert raw.count(placeholder.encode()) == 1
    client.send(raw.replace(placeholder.encode(), b'\xff"\xfe=' + b"Q" * 16))
    reply = client.recv()
    assert reply.WhichOneof("body") == "ack", reply
    assert (reply.ack.acks[0].status, reply.ack.acks[0].code) == (pb.REJECTED,
                                                                 pb.INVALID_FIELD)
    line = hub.wait_for_record(lambda r: r["msg"] == "event rejected",
                               what="the rejection line")
    assert line["case"] == '\\xFF"\\xFE=' + "Q" * 16, line
    assert line["case"] == query(db, "SELECT case_no FROM dead_letters")[0][0]
    assert "case_no" in line["reason"] and line["code"] == "INVALID_FIELD", line
    assert_every_line_logfmt(hub)


def test_postgresql_message_with_quotes_stays_one_field(db, procs):
    """PostgreSQL's own message, naming a database whose name holds a
    quote, a space and '=' (and ending in a newline), is one error field
    read back whole."""
    name = 'no"such db=x'
    hub = start_hub(procs, with_dbname(db, quote(name, safe="")), wait=False)
    line = hub.wait_for_record(lambda r: r["msg"] == "could not connect to PostgreSQL",
                               timeout=30, what="the connection failure")
    assert f'database "{name}" does not exist' in line["error"], line
    assert line["hub"] == "test-hub" and line["level"] == "warn", line
    assert hub.alive()
    assert_every_line_logfmt(hub)


def test_overlong_line_keeps_whole_fields(pb, db, procs, hub_client):
    """A rejection whose values, escaped, pass a line's 4 KiB (an adapter id
    of 800 control bytes, a case number of 256): the line keeps the fields
    that fit whole (the adapter id) and ends in truncated=true instead of
    the case number cut inside its quotes; it still reads as logfmt. (An
    adapter id that long needs a larger --max-string: beyond it the batch
    is refused whole.)"""
    hub = start_hub(procs, db, extra=["--max-string", "1024"])
    client = hub_client(hub.endpoint)
    e = make_event(pb, 760, adapter_id="\x01" * 800, case_no="\x02" * 256,
                   keys=[(pb.CREDIT_CODE, bad_credit_code(7))])
    ack = client.request_batch([e], adapter_id="\x01" * 800)
    assert ack.acks[0].status == pb.REJECTED, ack
    line = hub.wait_for_record(lambda r: r["msg"] == "event rejected",
                               what="the rejection line")
    assert line["adapter"] == "\x01" * 800 and "case" not in line, line
    assert list(line)[-1] == "truncated" and line["truncated"] == "true", line
    assert_every_line_logfmt(hub)
