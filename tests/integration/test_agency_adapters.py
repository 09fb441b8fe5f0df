"""The agency adapters: each reads its agency's own record format (field
names, case numbers, vocabulary) from a spool directory, refuses a bad
record with the field named, and delivers the rest to the hub as the case
events the workflows expect."""
import json
import re

import pytest

from conftest import (build_path, credit_code, outbox_count, query, scalar, start_hub,
                      unit_number, wait_exit, write_ndjson)
from test_workflows import wait_drained

UNIT = unit_number(4242)
CREDIT = credit_code(4242)

# agency -> (good records, expected (event_type, key kind, key value) per good record,
#            a bad record and a fragment of the reason it must get)
CASES = {
    "land": (
        [{"业务编号": "彭不动产受〔2020〕第004242号", "登记类型": "转移登记", "办理环节": "受理",
          "不动产单元号": UNIT, "发生时间": "2020-09-28 09:30:00", "是否抵押": "否",
          "权利人": "马建国", "权利人证件号": "640425199001011234", "面积": 89.5},
         {"业务编号": "彭不动产受〔2020〕第004242号", "登记类型": "转移登记", "办理环节": "登簿",
          "不动产单元号": UNIT, "发生时间": "2020-09-29 10:00:00"}],
        [("transfer.accepted", "unit_number", UNIT), ("transfer.registered", "unit_number", UNIT)],
        {"业务编号": "X", "登记类型": "转移登记", "办理环节": "审核中", "不动产单元号": UNIT,
         "发生时间": "2020-09-28 09:30:00"},
        "办理环节"),
    "tax": (
        [{"WSH": "PYSW2020092804242", "YWLX": "QS", "YWZT": "HD", "BDCDYH": UNIT,
          "FSSJ": "20200928101500", "JE": 11670.0},
         {"WSH": "PYSW2020092804242", "YWLX": "QS", "YWZT": "JS", "BDCDYH": UNIT,
          "FSSJ": "20200928110000", "JE": 11670.0}],
        [("deed_tax.assessed", "unit_number", UNIT), ("deed_tax.paid", "unit_number", UNIT)],
        {"WSH": "Y", "YWLX": "FP", "YWZT": "KJ", "NSRSBH": CREDIT[:-1] + ("0" if CREDIT[-1] != "0"
                                                                          else "1"),
         "FSSJ": "20200928110000", "UKEY": "Y"},
        "NSRSBH"),
    "power": (
        [{"appNo": "PYGD-2020-4242", "busiType": "TRANSFER", "step": "DONE", "unitNo": UNIT,
          "eventTime": "2020-09-29T15:00:00"},
         {"appNo": "PYGD-2020-4243", "busiType": "NEW_INSTALL", "step": "ACCEPT",
          "voltageLevel": "LV", "needExternalWorks": True, "needTransformer": False,
          "capacityKva": 30, "eventTime": "2020-09-28T09:30:00"}],
        [("account.transferred", "unit_number", UNIT),
         ("connection.accepted", "application_no", "PYGD-2020-4243")],
        {"appNo": "PYGD-2020-9", "busiType": "NEW_INSTALL", "step": "ACCEPT", "voltageLevel": "LV",
         "unitNo": UNIT[:-1] + "X", "eventTime": "2020-09-28T09:30:00"},
        "unitNo"),
    "water": (
        [{"工单号": "PYSW-G-20200929-4242", "业务": "过户", "节点": "完成", "不动产单元号": UNIT,
          "时间": "2020/09/29 16:00"},
         {"工单号": "PYSW-J-20200928-4243", "业务": "报装", "节点": "受理", "外线工程": "否",
          "特殊场所": "否", "时间": "2020/09/28 09:30"}],
        [("account.transferred", "unit_number", UNIT),
         ("connection.accepted", "application_no", "PYSW-J-20200928-4243")],
        {"工单号": "PYSW-J-9", "业务": "报装", "节点": "受理", "时间": "2020-13-45"},
        "时间"),
    "bank": (
        [{"bankCode": "ICBC", "branch": "彭阳支行", "txnType": "ACCT_OPEN",
          "txnRef": "ICBC-PY-20200928-4242", "acctKind": "BASIC", "creditCode": CREDIT,
          "txnTime": "2020-09-28 09:31:21"},
         {"bankCode": "ICBC", "branch": "彭阳支行", "txnType": "MORTGAGE_FILE",
          "txnRef": "ICBC-PY-20200928-4243", "unitNo": UNIT, "loanAmount": 200000,
          "txnTime": "2020-09-28 15:00:00"}],
        [("account.opened", "credit_code", CREDIT), ("mortgage.filed", "unit_number", UNIT)],
        {"bankCode": "ICBC", "branch": "彭阳支行", "txnType": "MORTGAGE_FILE",
         "txnRef": "ICBC-PY-9", "txnTime": "2020-09-28 15:00:00"},
        "unitNo"),
}


@pytest.mark.parametrize("agency", sorted(CASES))
def test_agency_adapter_maps_its_own_records(agency, db, procs, tmp_path):
    good, expected, bad, field = CASES[agency]
    hub = start_hub(procs, db)
    spool = tmp_path / "spool"
    spool.mkdir()
    write_ndjson(spool / f"{agency}-20200928.ndjson", good[:1] + [bad] + good[1:],
                 tmp_rename=True)
    outbox = str(tmp_path / f"{agency}.outbox")
    adapter = procs.start([build_path(f"onenet-adapter-{agency}"), "--adapter-id",
                           f"{agency}-own", "--hub", hub.endpoint, "--outbox", outbox,
                           "--spool", str(spool), "--spool-scan-ms", "100", "--once",
                           "--ack-timeout-ms", "1000", "--heartbeat-ms", "200"],
                          name=f"adapter-{agency}")
    wait_exit(adapter, timeout=60)
    rows = query(db, "SELECT event_type, keys, agency FROM events ORDER BY occurred_at")
    got = sorted((t, k, v) for t, keys, a in rows for k, v in keys.items()
                 if (t, k, v) in expected)
    assert got == sorted(expected), rows
    assert all(a == agency for _, _, a in rows)
    assert scalar(db, "SELECT count(*) FROM events") == len(good)
    assert outbox_count(outbox) == 0
    reasons = [r for r, in query_outbox(outbox)]
    assert len(reasons) == 1 and field in reasons[0], reasons
    # the same file again: nothing new (derived ids are stable)
    write_ndjson(spool / f"{agency}-again.ndjson", good, tmp_rename=True)
    again = procs.start([build_path(f"onenet-adapter-{agency}"), "--adapter-id", f"{agency}-own",
                         "--hub", hub.endpoint, "--outbox", outbox, "--spool", str(spool),
                         "--spool-scan-ms", "100", "--once"], name=f"adapter-{agency}-again")
    wait_exit(again, timeout=60)
    assert scalar(db, "SELECT count(*) FROM events") == len(good)
    wait_drained(db)


def test_agency_adapter_refuses_another_agency(tmp_path):
    import subprocess
    r = subprocess.run([build_path("onenet-adapter-land"), "--agency", "tax"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "land" in r.stderr


def query_outbox(path):
    import sqlite3
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute("SELECT reason FROM quarantine WHERE code = 'BAD_RECORD'").fetchall()
    finally:
        conn.close()


def test_agency_records_documented():
    """Every agency adapter has its format page."""
    import os
    root = os.environ.get("ONENET_ROOT", ".")
    for agency in CASES:
        page = os.path.join(root, "docs", "adapters", f"{agency}.md")
        assert os.path.exists(page), page


@pytest.mark.parametrize("agency", sorted(CASES))
def test_unknown_fields_ignored_and_reported_once(agency, db, procs, tmp_path):
    """One rule for all five: a field the agency's format does not define
    is ignored, and the log names the agency and the field once per run."""
    good, expected, _, _ = CASES[agency]
    hub = start_hub(procs, db)
    spool = tmp_path / "spool"
    spool.mkdir()
    records = [{**r, "备注": "加急", "operatorID": i} for i, r in enumerate(good)]
    write_ndjson(spool / f"{agency}-extra.ndjson", records, tmp_rename=True)
    adapter = procs.start([build_path(f"onenet-adapter-{agency}"), "--adapter-id",
                           f"{agency}-extra", "--hub", hub.endpoint, "--outbox",
                           str(tmp_path / f"{agency}.outbox"), "--spool", str(spool),
                           "--spool-scan-ms", "100", "--once", "--ack-timeout-ms", "1000",
                           "--heartbeat-ms", "200"], name=f"adapter-{agency}-extra")
    wait_exit(adapter, timeout=60)
    assert scalar(db, "SELECT count(*) FROM events") == len(good)
    attrs = [a for a, in query(db, "SELECT attrs FROM events")]
    assert not any("备注" in json.dumps(a, ensure_ascii=False) for a in attrs), attrs
    warnings = [line for line in adapter.log().splitlines() if "unknown field" in line]
    for field in ("备注", "operatorID"):
        mine = [w for w in warnings if re.search(rf"field={field}( |$)", w)]
        assert len(mine) == 1 and f"agency={agency}" in mine[0], warnings
