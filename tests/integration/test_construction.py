"""Construction-project approval (工程建设项目审批, workflows/construction_approval.yaml;
seed items 5, 6, 26, 28) through a real hub, keyed by the investment
project code:

- a filed (备案) project from its filing to the construction permit: the
  power, water, gas and heat companies each get a connection.prepare task
  at the filing, carrying the project's address and applicant and nothing
  else, due at the end of the next working day; every deadline as counted
  by hand on the official calendar; the case completes with no breach;
- a project under 核准 tells the utilities only when its planning permit
  is applied for; its planning permit, issued a working day late, is one
  overdue breach, due at 24:00 of the 20th working day after the
  application (across the National Day holidays of 2020);
- a project code that breaks its structure is refused (INVALID_KEY), the
  reason naming the position and the part, and nothing is correlated;
- the same through the adapters: the approval bureau's NDJSON file read by
  onenet-adapter --agency approval (its bad project code quarantined with
  the hub's reason), the power company's adapter writing the task to its
  out-spool, and its acknowledgement, dropped into its spool, completing
  the step.

Every expected date below is counted by hand from the State Council's 2020
arrangement (data/calendar): 2020-09-27 (Sunday) and 2020-10-10 (Saturday)
are make-up working days, 2020-10-01..08 are off. A deadline of N working
days is due at 24:00 of the Nth working day after the day its clock
starts; 0 is the end of that day.
"""

import datetime
import json
import os
import sqlite3

from conftest import (make_event, project_code, query, scalar, set_attributes, start_adapter,
                      wait_exit, wait_until, write_ndjson)
from test_workflows import send, start_wf_hub, wait_drained

BJ = datetime.timezone(datetime.timedelta(hours=8))
UTILITIES = ("gas", "heat", "power", "water")
ADDRESS = "彭阳县白阳镇兴彭路88号"
APPLICANT = "彭阳县鑫盛建材有限公司"


def bj(y, mo, d, h=0, mi=0):
    return datetime.datetime(y, mo, d, h, mi, tzinfo=BJ)


def ms(t):
    return int(t.timestamp() * 1000)


def event(pb, agency, event_type, code, when, attrs=None, case_no=None):
    """A CaseEvent of AGENCY keyed by the project code CODE only, with
    exactly the attributes ATTRS (bool -> flag, int -> integer, str -> text)."""
    e = make_event(pb, 0, agency=agency, adapter_id=f"{agency}-it",
                   keys=[(pb.PROJECT_CODE, code)], event_type=event_type,
                   occurred_at_ms=ms(when),
                   case_no=case_no or f"PY-{agency.upper()}-{code[-6:]}")
    return set_attributes(e, attrs)


def project_attrs(project_type, **more):
    attrs = {"project_type": project_type, "project_name": "彭阳县白阳镇仓储物流中心",
             "project_address": ADDRESS, "applicant_name": APPLICANT,
             "investment_yuan": 8000000}
    attrs.update(more)
    return attrs


def steps(db, code):
    """step -> (agency, required, ready_at, due_at, completed_at)."""
    return {r[0]: r[1:] for r in query(db, """
        SELECT s.step, s.agency, s.required, s.ready_at, s.due_at, s.completed_at
        FROM workflow_steps s JOIN workflow_instances i ON i.id = s.instance_id
        WHERE i.key_value = %s AND i.workflow = 'construction_approval'""", (code,))}


def instance(db, code):
    rows = query(db, """SELECT workflow, key_kind, state, started_at, ended_at, events
                        FROM workflow_instances WHERE key_value = %s""", (code,))
    assert len(rows) == 1, rows
    return rows[0]


def tasks(db, code):
    return query(db, """SELECT agency, seq, kind, workflow, step, key_kind, payload, ready_at,
                               due_at
                        FROM tasks WHERE key_value = %s ORDER BY agency""", (code,))


def overdue(db, code):
    return query(db, """SELECT b.agency, b.step, b.due_at, b.completed_at
                        FROM breaches b JOIN workflow_instances i ON i.id = b.instance_id
                        WHERE i.key_value = %s AND b.kind = 'overdue'
                          AND b.withdrawn_at IS NULL ORDER BY b.step""", (code,))


def test_filed_project_from_filing_to_construction_permit(pb, db, procs, hub_client):
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    code = project_code(1, kind="03")
    filed = bj(2020, 9, 28, 10, 0)      # Monday
    send(client, [event(pb, "approval", "project.filed", code, filed,
                        project_attrs("filing", project_scale="medium"))])
    wait_drained(db)

    # the filing is the moment item 28 pushes the project to the utilities:
    # one task each, the address and the applicant and nothing else, due
    # at the end of the next working day (Tuesday 09-29)
    due_next_day = bj(2020, 9, 30)
    assert tasks(db, code) == [
        (a, 1, "connection.prepare", "construction_approval", f"{a}_acknowledged",
         "project_code", {"project_address": ADDRESS, "applicant_name": APPLICANT},
         filed, due_next_day) for a in UTILITIES]

    timeline = [
        ("power", "project.acknowledged", bj(2020, 9, 28, 11, 0), {}),
        ("water", "project.acknowledged", bj(2020, 9, 28, 15, 0), {}),
        ("gas", "project.acknowledged", bj(2020, 9, 29, 9, 30), {}),
        ("heat", "project.acknowledged", bj(2020, 9, 29, 11, 0), {}),
        ("approval", "planning_permit.applied", bj(2020, 9, 29, 10, 0), {}),
        ("approval", "planning_permit.issued", bj(2020, 10, 20, 10, 0),
         {"planning_permit_no": "建字第640425202000017号"}),
        ("approval", "drawing_review.submitted", bj(2020, 10, 22, 9, 30), {}),
        ("approval", "drawing_review.passed", bj(2020, 10, 30, 15, 0), {}),
        ("approval", "construction_permit.applied", bj(2020, 11, 4, 9, 0), {}),
        ("approval", "construction_permit.issued", bj(2020, 11, 10, 10, 0), {}),
    ]
    send(client, [event(pb, a, t, code, when, attrs) for a, t, when, attrs in timeline])
    wait_drained(db)

    st = steps(db, code)
    # 立项: a filing is made when it is received; due at the end of that day
    assert st["project_approved"] == ("approval", True, filed, bj(2020, 9, 29), filed)
    # planning permit: 20 working days after Tuesday 09-29 (its application):
    # 09-30, 10-09, 10-10, 10-12..16, 10-19..23, 10-26..30, 11-02, 11-03
    assert st["planning_issued"] == ("approval", True, bj(2020, 9, 29, 10, 0), bj(2020, 11, 4),
                                     bj(2020, 10, 20, 10, 0))
    # drawing review of a medium project: 10 working days after Thursday
    # 10-22: 10-23, 10-26..30, 11-02..05
    assert st["drawing_reviewed"] == ("approval", True, bj(2020, 10, 22, 9, 30),
                                      bj(2020, 11, 6), bj(2020, 10, 30, 15, 0))
    # construction permit: 7 working days after Wednesday 11-04, the
    # complete application: 11-05, 11-06, 11-09..13
    assert st["construction_issued"] == ("approval", True, bj(2020, 11, 4, 9, 0),
                                         bj(2020, 11, 14), bj(2020, 11, 10, 10, 0))
    for a, _, when, _ in timeline[:4]:
        assert st[f"{a}_acknowledged"] == (a, True, filed, due_next_day, when)
    # the applicant's steps have no deadline; a filed project is not told
    # at its planning application
    for s in ("planning_applied", "drawing_submitted", "construction_applied"):
        assert st[s][3] is None and st[s][4] is not None, (s, st[s])
    assert st["notice_at_planning"][1] is False
    assert len(st) == 12

    assert instance(db, code) == ("construction_approval", "project_code", "completed",
                                  filed, bj(2020, 11, 10, 10, 0), 11)
    # every step done in time and before its warning point (3/4 of its
    # time): whatever supervision flagged while the events were on their
    # way is withdrawn
    assert scalar(db, "SELECT count(*) FROM breaches WHERE withdrawn_at IS NULL") == 0
    assert len(tasks(db, code)) == 4


def test_project_under_verification_late_planning_permit(pb, db, procs, hub_client):
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    code = project_code(2, kind="02")
    accepted = bj(2020, 9, 1, 9, 30)     # Tuesday
    first = [
        event(pb, "approval", "project.accepted", code, accepted,
              project_attrs("verification", project_scale="small",
                            drawing_review_required=False)),
        event(pb, "approval", "project.approved", code, bj(2020, 9, 15, 10, 0),
              {"approval_no": "彭审批发〔2020〕88号"}),
    ]
    send(client, first)
    wait_drained(db)
    # not a filing: the utilities hear of it only at the planning application
    assert tasks(db, code) == []
    st = steps(db, code)
    # 核准 within 20 working days of the acceptance: 09-02..04, 09-07..11,
    # 09-14..18, 09-21..25, Sunday 09-27, Monday 09-28
    assert st["project_approved"][3] == bj(2020, 9, 29)
    assert st["notice_at_planning"][1] is True
    # no drawing review for this project
    assert st["drawing_submitted"][1] is False and st["drawing_reviewed"][1] is False

    applied = bj(2020, 9, 16, 9, 30)     # Wednesday
    send(client, [event(pb, "approval", "planning_permit.applied", code, applied)])
    wait_drained(db)
    assert [(t[0], t[4], t[6], t[7], t[8]) for t in tasks(db, code)] == [
        (a, f"{a}_acknowledged", {"project_address": ADDRESS, "applicant_name": APPLICANT},
         applied, bj(2020, 9, 18)) for a in UTILITIES]

    rest = [
        event(pb, "power", "project.acknowledged", code, bj(2020, 9, 16, 10, 0)),
        event(pb, "water", "project.acknowledged", code, bj(2020, 9, 16, 11, 0)),
        event(pb, "gas", "project.acknowledged", code, bj(2020, 9, 17, 9, 0)),
        event(pb, "heat", "project.acknowledged", code, bj(2020, 9, 17, 11, 0)),
        # the planning permit, due at 24:00 of Tuesday 10-20, comes a day late
        event(pb, "approval", "planning_permit.issued", code, bj(2020, 10, 22, 10, 0)),
        event(pb, "approval", "construction_permit.applied", code, bj(2020, 10, 23, 9, 0)),
        event(pb, "approval", "construction_permit.issued", code, bj(2020, 10, 27, 10, 0)),
    ]
    send(client, rest)
    wait_drained(db)

    # 20 working days after Wednesday 09-16: 09-17, 09-18, 09-21..25, Sunday
    # 09-27, 09-28..30, (10-01..08 off), 10-09, Saturday 10-10, 10-12..16,
    # 10-19, 10-20
    due = bj(2020, 10, 21)
    wait_until(lambda: overdue(db, code) != [], timeout=10, what="the late permit's breach")
    assert overdue(db, code) == [("approval", "planning_issued", due, bj(2020, 10, 22, 10, 0))]
    st = steps(db, code)
    assert st["planning_issued"][2:] == (applied, due, bj(2020, 10, 22, 10, 0))
    # the construction permit waits for the planning permit alone (no
    # drawing review): 7 working days after Friday 10-23
    assert st["construction_issued"][2:] == (bj(2020, 10, 23, 9, 0), bj(2020, 11, 4),
                                             bj(2020, 10, 27, 10, 0))
    assert instance(db, code)[2:] == ("completed", accepted, bj(2020, 10, 27, 10, 0), 10)


def test_invalid_project_code_refused_naming_the_position(pb, db, procs, hub_client):
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    when = bj(2020, 9, 28, 10, 0)
    bad = {
        "2020-640425-47-05-000003":
            'project code "2020-640425-47-05-000003": project type "05" (positions 16-17) '
            'is not 01 (approval, 审批), 02 (verification, 核准) or 03 (filing, 备案)',
        "2020-6404Z5-47-03-000004":
            'project code "2020-6404Z5-47-03-000004": character \'Z\' at position 10 is not '
            'a digit (administrative division, positions 6-11)',
        "2020-640425-47-03000005":
            'project code "2020-640425-47-03000005": length 23, expected 24 '
            '(YYYY-AAAAAA-II-TT-NNNNNN)',
        "2014-640425-47-03-000006":
            'project code "2014-640425-47-03-000006": year 2014 (positions 1-4) is not '
            'between 2015 and 2099',
    }
    events = [event(pb, "approval", "project.filed", code, when, project_attrs("filing"))
              for code in bad]
    ack = client.request_batch(events, agency="approval", adapter_id="approval-it")
    got = [(pb.AckStatus.Name(a.status), pb.ErrorCode.Name(a.code), a.reason) for a in ack.acks]
    assert got == [("REJECTED", "INVALID_KEY", reason) for reason in bad.values()]
    # kept as dead letters with the same reasons; nothing stored or started
    assert sorted(query(db, "SELECT event_type, code, reason FROM dead_letters")) == \
        sorted(("project.filed", "INVALID_KEY", reason) for reason in bad.values())
    assert scalar(db, "SELECT count(*) FROM events") == 0
    # the same project with a valid code is taken
    send(client, [event(pb, "approval", "project.filed", project_code(3), when,
                        project_attrs("filing"))], agency="approval", adapter_id="approval-it")
    wait_drained(db)
    assert scalar(db, "SELECT count(*) FROM workflow_instances") == 1


def test_through_the_adapters(db, procs, tmp_path):
    """The approval bureau's records in the generic format through
    onenet-adapter --agency approval (stdin, --once); the power company's
    adapter takes its connection.prepare task into its out-spool and
    delivers the company's acknowledgement from its spool."""
    hub = start_wf_hub(procs, db)
    code, wrong = project_code(4, kind="03"), "2020-640425-47-07-000005"

    def record(event_type, when, attrs=None, key=code, case_no="PYSP-GC-20200928-0001"):
        return {"case_no": case_no, "event_type": event_type,
                "occurred_at": when.isoformat(), "keys": {"project_code": key},
                "attrs": attrs or {}}
    approval = write_ndjson(tmp_path / "approval.ndjson", [
        record("project.filed", bj(2020, 9, 28, 10, 0),
               project_attrs("filing", project_scale="large")),
        record("planning_permit.applied", bj(2020, 9, 29, 10, 0)),
        # a code whose project type does not exist: the hub refuses it
        record("project.filed", bj(2020, 9, 28, 11, 0), project_attrs("filing"), key=wrong,
               case_no="PYSP-GC-20200928-0002"),
    ])
    outbox = str(tmp_path / "approval.outbox")
    wait_exit(start_adapter(procs, hub.port, outbox, agency="approval",
                            adapter_id="approval-it", stdin=str(approval)), timeout=60)
    wait_drained(db)
    assert scalar(db, "SELECT count(*) FROM events WHERE agency = 'approval'") == 2
    conn = sqlite3.connect(f"file:{outbox}?mode=ro", uri=True)
    try:
        quarantined = conn.execute("SELECT code, reason FROM quarantine").fetchall()
    finally:
        conn.close()
    assert quarantined == [("INVALID_KEY", f'project code "{wrong}": project type "07" '
                            '(positions 16-17) is not 01 (approval, 审批), 02 (verification, '
                            '核准) or 03 (filing, 备案)')], quarantined

    # the power company's adapter takes its task (at the filing) ...
    spool, task_spool = tmp_path / "power-spool", tmp_path / "power-tasks"
    spool.mkdir()
    power = start_adapter(procs, hub.port, str(tmp_path / "power.outbox"), agency="power",
                          adapter_id="power-it", spool=str(spool), once=False,
                          extra=("--task-spool", str(task_spool)))
    task_file = task_spool / "power-task-000000000001.ndjson"
    wait_until(task_file.exists, timeout=30, what="the power company's task file")
    task = json.loads(task_file.read_text(encoding="utf-8"))
    assert task == {"agency": "power", "task_seq": 1, "kind": "connection.prepare",
                    "workflow": "construction_approval", "step": "power_acknowledged",
                    "key": {"project_code": code},
                    "payload": {"project_address": ADDRESS, "applicant_name": APPLICANT},
                    # 2020-09-28 10:00 +08, due 24:00 of Tuesday 09-29 +08
                    "ready_at": "2020-09-28T02:00:00.000Z",
                    "due_at": "2020-09-29T16:00:00.000Z"}, task
    assert sorted(os.listdir(task_spool)) == ["power-task-000000000001.ndjson"]

    # ... and delivers the company's answer, which completes the step
    write_ndjson(spool / "ack.ndjson",
                 [{"case_no": "PYGD-XM-20200928-0001", "event_type": "project.acknowledged",
                   "occurred_at": bj(2020, 9, 28, 14, 45).isoformat(),
                   "keys": {"project_code": code}, "attrs": {}}], tmp_rename=True)
    wait_until(lambda: steps(db, code).get("power_acknowledged", (None,) * 5)[4] is not None,
               timeout=30, what="the power company's step done")
    st = steps(db, code)
    assert st["power_acknowledged"] == ("power", True, bj(2020, 9, 28, 10, 0), bj(2020, 9, 30),
                                        bj(2020, 9, 28, 14, 45))
    # the others have not answered: the case is open, nothing of the
    # refused code was correlated
    assert instance(db, code)[2] == "open"
    assert scalar(db, "SELECT count(*) FROM workflow_instances WHERE key_value = %s",
                  (wrong,)) == 0
    assert power.terminate() == 0, power.log()[-3000:]
