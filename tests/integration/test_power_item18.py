"""Seed item 18 through the generic adapter: a low-voltage connection whose
acceptance says it has external works is due 5 working days after it,
after its permit (seed item 20, 3 working days), not 2.

Seed item 18: "低压接入无外线工程的不超过2个工作日，有外线工程的不超过5个工作日，
涉及变压器更换及低压公用线路延伸的不超过10个工作日". Seed item 20: 外线工程
"行政审批时限不超过3个工作日".

The power company's second system sends its records through onenet-adapter
--agency power in the generic format, with connection_class and
external_works as it has them: connection_class low_voltage and
external_works true (the power company's own adapter would say
low_voltage_external). workflows/power_connection.yaml (version 2) tries
the alternatives of the connection's deadline in order.

Every case is accepted on Friday 2020-09-25 at 10:00 Beijing time. On the
official calendar (data/calendar, the State Council's 2020 notice) Sunday
09-27 is a make-up working day and 10-01 to 10-08 are off, so the working
days after 09-25 are 09-27 (Sun), 09-28, 09-29, 09-30, 10-09. A deadline of
N working days is due at 24:00 Beijing time of the Nth of them:
  2 days -> 2020-09-29 00:00 +08 = 2020-09-28 16:00 UTC
  3 days -> 2020-09-30 00:00 +08 = 2020-09-29 16:00 UTC (the permit)
  5 days -> 2020-10-10 00:00 +08 = 2020-10-09 16:00 UTC
"""
from datetime import datetime, timezone

from conftest import new_id, query, scalar, start_adapter, start_hub, wait_exit, write_ndjson
from test_workflows import wait_drained

ACCEPTED = "2020-09-25T10:00:00+08:00"
TWO_DAYS = datetime(2020, 9, 28, 16, 0, tzinfo=timezone.utc)
THREE_DAYS = datetime(2020, 9, 29, 16, 0, tzinfo=timezone.utc)
FIVE_DAYS = datetime(2020, 10, 9, 16, 0, tzinfo=timezone.utc)

# application number, connection_class, external_works,
# (permit_issued required, its due), connected's due
CASES = [
    ("PYGD-2020-0925-0181", "low_voltage", True, (True, THREE_DAYS), FIVE_DAYS),
    ("PYGD-2020-0925-0182", "low_voltage", False, (False, None), TWO_DAYS),
    ("PYGD-2020-0925-0183", "low_voltage_external", True, (True, THREE_DAYS), FIVE_DAYS),
]


def accepted(app_no, cls, external):
    return {"event_id": new_id(), "case_no": app_no, "event_type": "connection.accepted",
            "occurred_at": ACCEPTED, "keys": {"application_no": app_no},
            "attrs": {"connection_class": cls, "external_works": external,
                      "capacity_kva": 30}}


def test_low_voltage_with_external_works_through_the_generic_adapter(db, procs, tmp_path):
    hub = start_hub(procs, db)
    path = write_ndjson(tmp_path / "power.ndjson",
                        [accepted(app, cls, ext) for app, cls, ext, _p, _c in CASES])
    adapter = start_adapter(procs, hub.port, str(tmp_path / "power.outbox"), agency="power",
                            adapter_id="power-generic-it", stdin=path)
    wait_exit(adapter, timeout=60)
    wait_drained(db)

    assert scalar(db, "SELECT count(*) FROM events") == len(CASES)
    for app, cls, ext, (permit_required, permit_due), connected_due in CASES:
        rows = query(db, """
            SELECT i.version, s.step, s.required, s.due_at FROM workflow_steps s
            JOIN workflow_instances i ON i.id = s.instance_id
            WHERE i.workflow = 'power_connection' AND i.key_value = %s
              AND s.step IN ('permit_issued', 'connected') ORDER BY s.step""", (app,))
        assert rows == [(2, "connected", True, connected_due),
                        (2, "permit_issued", permit_required, permit_due)], (cls, ext, rows)
        # the connection is never due before the permit it waits for
        if permit_required:
            assert permit_due < connected_due
