"""Seed item 31 through the land registry's own adapter: every kind of
registration the item names gets the item's time limit, and a record of a
kind the adapter does not know is refused, named, while the records around
it go on.

Seed item 31: "查（解）封登记、异议登记、注销登记即时办结；纯身份信息和地址发生
变化的变更登记、依人民法院和仲裁委员会生效法律文书办理转移登记、补换证登记1个
工作日内办结；抵押权登记2个工作日内办结；首次登记、转移登记、预告登记等一般登记
及在建建筑物抵押登记4个工作日内办结。"

Every case is accepted on Wednesday 2020-09-30 at 09:30 Beijing time, the
last working day before the National Day holiday. On the official
calendar (data/calendar, the State Council's 2020 notice) 10-01 to 10-08
are off and Saturday 10-10 is a make-up working day, so the working days
after 09-30 are 10-09 (Fri), 10-10 (Sat), 10-12 (Mon), 10-13 (Tue). A
deadline of N working days is due at 24:00 Beijing time of the Nth of
them (docs/workflows.md, Deadlines):
  1 day  -> 2020-10-10 00:00 +08 = 2020-10-09 16:00 UTC
  2 days -> 2020-10-11 00:00 +08 = 2020-10-10 16:00 UTC (the make-up Saturday)
  4 days -> 2020-10-14 00:00 +08 = 2020-10-13 16:00 UTC
"Immediate" is the hub's immediate-minutes, 60 working minutes by default:
09:30 + 60 minutes of office hours = 10:30 +08 = 02:30 UTC on 09-30.
"""
import sqlite3
from datetime import datetime, timezone

from conftest import build_path, query, scalar, start_hub, unit_number, wait_exit, write_ndjson
from test_workflows import wait_drained

ACCEPTED = "2020-09-30 09:30:00"
IMMEDIATE = datetime(2020, 9, 30, 2, 30, tzinfo=timezone.utc)
ONE_DAY = datetime(2020, 10, 9, 16, 0, tzinfo=timezone.utc)
TWO_DAYS = datetime(2020, 10, 10, 16, 0, tzinfo=timezone.utc)
FOUR_DAYS = datetime(2020, 10, 13, 16, 0, tzinfo=timezone.utc)

# (登记类型, extra fields of the record, workflow, step, due time)
KINDS = [
    ("查封登记", {}, "instant_registration", "registered", IMMEDIATE),
    ("解封登记", {}, "instant_registration", "registered", IMMEDIATE),
    ("异议登记", {}, "instant_registration", "registered", IMMEDIATE),
    ("注销登记", {}, "instant_registration", "registered", IMMEDIATE),
    # 纯身份信息和地址发生变化的变更登记: 1 day
    ("变更登记", {"变更类型": "姓名变更"}, "land_change_registration", "registered", ONE_DAY),
    ("变更登记", {"变更类型": "住址变更"}, "land_change_registration", "registered", ONE_DAY),
    # any other change is a general registration: 4 days
    ("变更登记", {"变更类型": "用途变更"}, "land_change_registration", "registered", FOUR_DAYS),
    # the record does not say what changed: the general limit
    ("变更登记", {}, "land_change_registration", "registered", FOUR_DAYS),
    # 更正登记 is not named by item 31: a general registration
    ("更正登记", {}, "land_change_registration", "registered", FOUR_DAYS),
    # 补换证登记: 1 day
    ("补证登记", {}, "land_change_registration", "registered", ONE_DAY),
    ("换证", {}, "land_change_registration", "registered", ONE_DAY),
    # 依人民法院和仲裁委员会生效法律文书办理转移登记: 1 day; other transfers 4
    ("转移登记", {"登记原因": "法院判决"}, "property_transfer", "registered", ONE_DAY),
    ("转移登记", {"登记原因": "仲裁裁决"}, "property_transfer", "registered", ONE_DAY),
    ("转移登记", {"登记原因": "买卖"}, "property_transfer", "registered", FOUR_DAYS),
    ("转移登记", {}, "property_transfer", "registered", FOUR_DAYS),
    # 抵押权登记 2 days; 在建建筑物抵押登记 4
    ("抵押登记", {"抵押权人": "中国建设银行彭阳支行"}, "mortgage_registration", "registered",
     TWO_DAYS),
    ("在建建筑物抵押登记", {"抵押权人": "中国农业银行彭阳县支行"}, "mortgage_registration",
     "registered", FOUR_DAYS),
    # 首次登记、预告登记等一般登记: 4 days
    ("首次登记", {}, "general_registration", "registered", FOUR_DAYS),
    ("预告登记", {}, "general_registration", "registered", FOUR_DAYS),
]

CASE = "彭不动产受〔2020〕第0031{:02d}号"


def record(n, kind, extra):
    return {"业务编号": CASE.format(n), "登记类型": kind, "办理环节": "受理",
            "不动产单元号": unit_number(3100 + n), "发生时间": ACCEPTED,
            "记录号": f"BDC-IT31-{n:04d}", **extra}


def run_land_adapter(procs, hub, spool, outbox):
    adapter = procs.start([build_path("onenet-adapter-land"), "--adapter-id", "land-item31",
                           "--hub", hub.endpoint, "--outbox", outbox, "--spool", str(spool),
                           "--spool-scan-ms", "100", "--once", "--ack-timeout-ms", "1000",
                           "--heartbeat-ms", "200"], name="adapter-land-item31")
    wait_exit(adapter, timeout=60)


def quarantined(outbox):
    conn = sqlite3.connect(f"file:{outbox}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute("SELECT source, reason FROM quarantine WHERE code = 'BAD_RECORD' "
                            "ORDER BY id").fetchall()
    finally:
        conn.close()


def test_item31_deadlines_through_the_land_adapter(db, procs, tmp_path):
    hub = start_hub(procs, db)
    spool = tmp_path / "spool"
    spool.mkdir()
    good = [record(n, kind, extra) for n, (kind, extra, *_rest) in enumerate(KINDS)]
    # three records of kinds the format does not know, between good ones
    bad = [record(90, "变更登记", {"变更类型": "改名"}),
           record(91, "转移登记", {"登记原因": "拍卖"}),
           record(92, "分割登记", {})]
    lines = good[:3] + [bad[0]] + good[3:12] + [bad[1]] + good[12:] + [bad[2]]
    write_ndjson(spool / "bdc-20200930.ndjson", lines, tmp_rename=True)
    outbox = str(tmp_path / "land.outbox")
    run_land_adapter(procs, hub, spool, outbox)
    wait_drained(db)

    # every good record arrived, none of the bad
    assert scalar(db, "SELECT count(*) FROM events") == len(KINDS)
    for n, (kind, _extra, workflow, step, due) in enumerate(KINDS):
        rows = query(db, """
            SELECT s.due_at FROM workflow_steps s
            JOIN workflow_instances i ON i.id = s.instance_id
            WHERE i.key_value = %s AND i.workflow = %s AND s.step = %s""",
                     (unit_number(3100 + n), workflow, step))
        assert rows == [(due,)], f"{kind} {_extra}: {workflow}.{step} due {rows}, expected {due}"
    # each kind started exactly the one workflow named above (a mortgage of a
    # building under construction is not also a transfer, a change not a
    # general registration)
    for n, (kind, _extra, workflow, _step, _due) in enumerate(KINDS):
        got = [w for w, in query(db, "SELECT workflow FROM workflow_instances "
                                     "WHERE key_value = %s", (unit_number(3100 + n),))]
        assert got == [workflow], (kind, _extra, got)

    # the refusals name the file and line, the field, the value and the case
    reasons = quarantined(outbox)
    assert len(reasons) == 3, reasons
    where = [s.rsplit("/", 1)[-1] for s, _ in reasons]
    assert where == ["bdc-20200930.ndjson:4", "bdc-20200930.ndjson:14",
                     "bdc-20200930.ndjson:22"], where
    assert reasons[0][1].startswith(
        'field "变更类型" is "改名" in 变更登记 彭不动产受〔2020〕第003190号, '
        "not a known kind of change (姓名变更, "), reasons[0][1]
    assert reasons[1][1].startswith(
        'field "登记原因" is "拍卖" in 转移登记 彭不动产受〔2020〕第003191号, '
        "not a known reason for a transfer (法院判决, "), reasons[1][1]
    assert reasons[2][1].startswith(
        'field "登记类型" is "分割登记", not a known registration type ('), reasons[2][1]
