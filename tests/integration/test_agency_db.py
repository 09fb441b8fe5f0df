"""The agency-database way in and out (docs/adapters/database.md): an
adapter polls an outbox table in the agency's own PostgreSQL database and
writes the hub's tasks into a task table there. The agency database is a
separate database in the test cluster; the tables are created from the
DDL the documentation shows (or by --db-create-tables)."""
import json
import os
import re
import signal
import threading
import time

import pytest

from conftest import (build_path, outbox_count, query, scalar, start_hub, unit_number,
                      wait_until, write_ndjson)
from test_workflows import pt_case, send, start_wf_hub, wait_drained

ROOT = os.environ.get("ONENET_ROOT", ".")

# every change of a row's status, so that "marked sent exactly once" is
# checked by the agency database itself
AUDIT = """
CREATE TABLE status_audit (row_id bigint NOT NULL, status text NOT NULL,
                           handled_by text);
CREATE FUNCTION audit_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status THEN
    INSERT INTO status_audit VALUES (NEW.id, NEW.status, NEW.handled_by);
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER onenet_outbox_audit AFTER UPDATE ON onenet_outbox
  FOR EACH ROW EXECUTE FUNCTION audit_status();
"""


def documented_ddl():
    """The CREATE statements of docs/adapters/database.md, as an agency's
    DBA would copy them."""
    text = open(os.path.join(ROOT, "docs", "adapters", "database.md"), encoding="utf-8").read()
    blocks = re.findall(r"```sql\n(.*?)```", text, re.S)
    assert len(blocks) >= 2, "database.md shows the outbox and task table DDL"
    return blocks


@pytest.fixture
def agency_db(pg):
    """A separate database in the same cluster: the agency's own."""
    conninfo = pg.create_db(prefix="agency_")
    try:
        yield conninfo
    finally:
        pg.ensure_running()
        pg.drop_db(conninfo.dbname)


def execute(conninfo, sql, args=None):
    conn = conninfo.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
    finally:
        conn.close()


def water_record(i, unit=None):
    """One record of the water company's export (docs/adapters/water.md)."""
    if unit:
        return {"工单号": f"PYSW-G-20200929-{i:04d}", "业务": "过户", "节点": "完成",
                "不动产单元号": unit, "时间": "2020/09/29 16:00"}
    return {"工单号": f"PYSW-J-20200928-{i:05d}", "业务": "报装", "节点": "受理",
            "外线工程": "否", "特殊场所": "否", "时间": "2020/09/28 09:30"}


def insert_records(conninfo, records):
    conn = conninfo.connect()
    try:
        with conn.cursor() as cur:
            for r in records:
                text = r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)
                cur.execute("INSERT INTO onenet_outbox (record) VALUES (%s)", (text,))
    finally:
        conn.close()


def start_db_adapter(procs, hub, agency_db, tmp_path, name, extra=(), once=False):
    argv = [build_path("onenet-adapter-water"), "--adapter-id", name,
            "--hub", hub.endpoint, "--outbox", str(tmp_path / f"{name}.outbox"),
            "--source-db", agency_db, "--source-poll-ms", "50", "--source-batch", "25",
            "--ack-timeout-ms", "1000", "--heartbeat-ms", "200", "--retry-max-ms", "1000",
            *extra]
    if once:
        argv.append("--once")
    return procs.start(argv, name=f"adapter-{name}")


def check_exactly_once(db, agency_db, n):
    """Every row of the agency table is one event at the hub, sent once."""
    rows = query(agency_db, "SELECT id, status, event_id::text FROM onenet_outbox ORDER BY id")
    assert len(rows) == n and all(s == "sent" for _, s, _ in rows), \
        [r for r in rows if r[1] != "sent"][:5]
    table_ids = {e for _, _, e in rows}
    assert len(table_ids) == n
    events = query(db, "SELECT event_id::text FROM events")
    assert len(events) == n and {e for e, in events} == table_ids
    sent = query(agency_db, "SELECT row_id, count(*) FROM status_audit "
                            "WHERE status = 'sent' GROUP BY row_id")
    assert len(sent) == n and all(c == 1 for _, c in sent), \
        [r for r in sent if r[1] != 1][:5]


def test_two_instances_share_one_table_exactly_once(db, agency_db, procs, tmp_path):
    for ddl in documented_ddl():
        execute(agency_db, ddl)
    execute(agency_db, AUDIT)
    hub = start_hub(procs, db)
    adapters = [start_db_adapter(procs, hub, agency_db, tmp_path, f"water-db-{i}")
                for i in (1, 2)]
    for a in adapters:
        a.wait_for_log(r"adapter starting", timeout=20)
    n = 600

    def feed():
        for first in range(0, n, 20):
            insert_records(agency_db, [water_record(i) for i in range(first, first + 20)])
            time.sleep(0.02)

    feeder = threading.Thread(target=feed)
    feeder.start()
    feeder.join()
    wait_until(lambda: scalar(agency_db, "SELECT count(*) FROM onenet_outbox "
                                         "WHERE status = 'new'") == 0,
               timeout=60, what="every row taken")
    wait_until(lambda: scalar(db, "SELECT count(*) FROM events") >= n, timeout=60,
               what=f"{n} events")
    check_exactly_once(db, agency_db, n)
    # both instances took rows: they really shared the table
    by = dict(query(agency_db, "SELECT handled_by, count(*) FROM onenet_outbox GROUP BY 1"))
    assert set(by) == {"water-db-1", "water-db-2"}, by
    # and each drained its local outbox: every event acknowledged
    for i in (1, 2):
        wait_until(lambda i=i: outbox_count(str(tmp_path / f"water-db-{i}.outbox")) == 0,
                   timeout=30, what=f"water-db-{i}'s outbox empty")


def test_sigkill_mid_stream_and_restart_exactly_once(db, agency_db, procs, tmp_path):
    execute(agency_db, documented_ddl()[0])
    execute(agency_db, AUDIT)
    hub = start_hub(procs, db)
    n = 3000
    insert_records(agency_db, [water_record(i) for i in range(n)])
    victim = start_db_adapter(procs, hub, agency_db, tmp_path, "water-kill")
    other = start_db_adapter(procs, hub, agency_db, tmp_path, "water-stay")
    wait_until(lambda: scalar(agency_db, "SELECT count(*) FROM onenet_outbox "
                                         "WHERE handled_by = 'water-kill'") >= 300,
               timeout=60, interval=0.005, what="the first instance under way")
    victim.kill(signal.SIGKILL)
    victim.wait(timeout=10)
    assert scalar(agency_db, "SELECT count(*) FROM onenet_outbox WHERE status = 'new'") > 0, \
        "the kill came after the last row: nothing left mid-stream"
    start_db_adapter(procs, hub, agency_db, tmp_path, "water-kill")
    wait_until(lambda: scalar(agency_db, "SELECT count(*) FROM onenet_outbox "
                                         "WHERE status = 'new'") == 0,
               timeout=90, what="every row taken")
    wait_until(lambda: scalar(db, "SELECT count(*) FROM events") >= n, timeout=90,
               what=f"{n} events")
    check_exactly_once(db, agency_db, n)
    # the restarted instance's outbox drains: nothing is left unacknowledged
    wait_until(lambda: outbox_count(str(tmp_path / "water-kill.outbox")) == 0, timeout=30,
               what="the restarted outbox empty")
    assert other.alive


def test_bad_rows_refused_and_quarantined_good_rows_delivered(db, agency_db, procs, tmp_path):
    hub = start_hub(procs, db)
    records = [water_record(1),
               {**water_record(2), "时间": "2020-13-45"},
               water_record(3),
               '{"工单号": "PYSW-J-9", "业务": ',
               water_record(4),
               "   ",
               {**water_record(5), "外线工程": "也许"},
               water_record(6)]
    # a first run creates the table and, with --once, finds nothing to do
    first = start_db_adapter(procs, hub, agency_db, tmp_path, "water-bad",
                             extra=("--db-create-tables",), once=True)
    assert first.wait(timeout=30) == 0, first.log()
    assert scalar(agency_db, "SELECT to_regclass('onenet_outbox') IS NOT NULL")
    insert_records(agency_db, records)
    adapter = start_db_adapter(procs, hub, agency_db, tmp_path, "water-bad", once=True)
    assert adapter.wait(timeout=60) == 0, adapter.log()
    assert scalar(agency_db, "SELECT count(*) FROM onenet_outbox WHERE status = 'new'") == 0
    rows = query(agency_db, "SELECT id, status, reason FROM onenet_outbox ORDER BY id")
    assert [s for _, s, _ in rows] == ["sent", "refused", "sent", "refused", "sent",
                                       "refused", "refused", "sent"]
    reasons = {i: r for i, s, r in rows if s == "refused"}
    ids = [i for i, _, _ in rows]
    assert "时间" in reasons[ids[1]] and "2020-13-45" in reasons[ids[1]]
    assert "not JSON" in reasons[ids[3]]
    assert "record" in reasons[ids[5]] and "empty" in reasons[ids[5]]
    assert "外线工程" in reasons[ids[6]]
    assert all(r is None for i, s, r in rows if s == "sent")
    wait_until(lambda: scalar(db, "SELECT count(*) FROM events") == 4, timeout=30,
               what="the four good rows at the hub")
    cases = sorted(c for c, in query(db, "SELECT case_no FROM events"))
    assert cases == [water_record(i)["工单号"] for i in (1, 3, 4, 6)]
    # the quarantine names the table and the row; the reason names the field
    import sqlite3
    conn = sqlite3.connect(f"file:{tmp_path / 'water-bad.outbox'}?mode=ro", uri=True)
    try:
        q = dict(conn.execute("SELECT source, reason FROM quarantine").fetchall())
    finally:
        conn.close()
    assert q[f"table onenet_outbox row {ids[1]}"] == reasons[ids[1]]
    assert "外线工程" in q[f"table onenet_outbox row {ids[6]}"]
    assert len(q) == 4


def test_tasks_into_the_agency_table_exactly_once_and_the_answer_completes(
        pb, db, agency_db, procs, hub_client, tmp_path):
    for ddl in documented_ddl():
        execute(agency_db, ddl)
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    units = [unit_number(6100 + i) for i in range(5)]

    def register(part):
        for unit in part:
            case = dict(pt_case(pb, unit, mortgage=False))
            send(client, [case["accepted"], case["assessed"], case["paid"],
                          case["registered"], case["power"]])
        wait_drained(db)

    def task_rows():
        return query(agency_db, "SELECT task_seq, kind, step, key_kind, key_value, "
                                "payload FROM onenet_task ORDER BY task_seq")

    register(units[:3])
    extra = ("--task-db", agency_db)
    adapter = start_db_adapter(procs, hub, agency_db, tmp_path, "water-tasks", extra=extra)
    wait_until(lambda: len(task_rows()) == 3, timeout=30, what="three task rows")
    first = task_rows()[0]
    assert first[:5] == (1, "account.transfer", "water_transferred", "unit_number", units[0])
    assert first[5] == {"buyer_name": "马建国", "phone": "13912345678"}

    adapter.kill(signal.SIGKILL)
    adapter.wait(timeout=10)
    register(units[3:])
    # the cursor was durable: a restart takes up after task 3, and a task
    # handed over again finds its row
    start_db_adapter(procs, hub, agency_db, tmp_path, "water-tasks", extra=extra)
    wait_until(lambda: len(task_rows()) == 5, timeout=30, what="five task rows")
    rows = task_rows()
    assert [r[0] for r in rows] == [1, 2, 3, 4, 5]
    assert [r[4] for r in rows] == units
    wait_until(lambda: scalar(db, "SELECT task_cursor FROM adapters "
                                  "WHERE adapter_id = 'water-tasks'") == 5,
               timeout=15, what="the adapter's task cursor at 5")

    # the agency does the work and answers through its outbox table
    seq, _, _, _, unit, _ = rows[1]
    insert_records(agency_db, [water_record(seq, unit=unit)])
    execute(agency_db, "UPDATE onenet_task SET status = 'done', done_at = now() "
                       "WHERE task_seq = %s", (seq,))

    def water_step():
        return query(db, "SELECT s.completed_at IS NOT NULL, i.state FROM workflow_steps s "
                         "JOIN workflow_instances i ON i.id = s.instance_id "
                         "WHERE s.step = 'water_transferred' AND i.key_value = %s", (unit,))
    wait_until(lambda: water_step() and water_step()[0][0], timeout=30,
               what="the water step completed by the agency's answer")
    assert water_step()[0][1] == "completed"
    assert scalar(agency_db, "SELECT status FROM onenet_outbox") == "sent"


def test_a_row_claimed_again_is_the_same_event(db, agency_db, procs, tmp_path):
    """The window a SIGKILL can hit between the adapter's local commit and
    the agency commit, made certain: rows already delivered are set back to
    'new' (as a rollback leaves them), and a second instance with a fresh
    outbox takes them again. They come back as the same events, which the
    hub absorbs: no second event."""
    hub = start_hub(procs, db)
    execute(agency_db, documented_ddl()[0])
    insert_records(agency_db, [water_record(i) for i in range(10)])
    first = start_db_adapter(procs, hub, agency_db, tmp_path, "water-a", once=True)
    assert first.wait(timeout=60) == 0, first.log()
    before = dict(query(agency_db, "SELECT id, event_id::text FROM onenet_outbox"))
    assert scalar(db, "SELECT count(*) FROM events") == 10
    execute(agency_db, "UPDATE onenet_outbox SET status = 'new', event_id = NULL, "
                       "handled_by = NULL WHERE id % 2 = 0")
    second = start_db_adapter(procs, hub, agency_db, tmp_path, "water-b", once=True)
    assert second.wait(timeout=60) == 0, second.log()
    after = dict(query(agency_db, "SELECT id, event_id::text FROM onenet_outbox"))
    assert after == before
    assert scalar(db, "SELECT count(*) FROM events") == 10
    assert scalar(agency_db, "SELECT count(*) FROM onenet_outbox "
                             "WHERE handled_by = 'water-b'") == 5


def test_a_table_name_that_is_no_identifier_is_refused(agency_db, tmp_path):
    import subprocess
    for bad in ("onenet_outbox; DROP TABLE x", "Outbox", "a.b.c", "1table", ""):
        r = subprocess.run([build_path("onenet-adapter-water"), "--outbox",
                            str(tmp_path / "w.outbox"), "--source-db", agency_db,
                            "--source-table", bad, "--once"],
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, (bad, r.stderr)
        assert "source-table" in r.stderr and "not a table name" in r.stderr, r.stderr
    assert scalar(agency_db, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == 0


def test_agency_database_away_and_back(pg, db, agency_db, procs, tmp_path):
    """The agency database refuses connections for a while: the adapter
    says so (naming the table and database), keeps running, and takes up
    the rows once it is back."""
    hub = start_hub(procs, db)
    execute(agency_db, documented_ddl()[0])
    insert_records(agency_db, [water_record(i) for i in range(5)])
    adapter = start_db_adapter(procs, hub, agency_db, tmp_path, "water-away")
    wait_until(lambda: scalar(db, "SELECT count(*) FROM events") == 5, timeout=30,
               what="the first five events")
    admin = pg.connect("postgres")
    try:
        with admin.cursor() as cur:
            cur.execute(f'ALTER DATABASE "{agency_db.dbname}" ALLOW_CONNECTIONS false')
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = %s", (agency_db.dbname,))
        adapter.wait_for_log(r"could not read the agency's outbox table.*table=onenet_outbox"
                             rf".*{agency_db.dbname}", timeout=20)
        assert adapter.alive
    finally:
        with admin.cursor() as cur:
            cur.execute(f'ALTER DATABASE "{agency_db.dbname}" ALLOW_CONNECTIONS true')
        admin.close()
    insert_records(agency_db, [water_record(i) for i in range(5, 10)])
    wait_until(lambda: scalar(db, "SELECT count(*) FROM events") == 10, timeout=30,
               what="the five rows written after the database came back")
    assert scalar(agency_db, "SELECT count(*) FROM onenet_outbox WHERE status = 'sent'") == 10


# --------------------------------------------------------------- a hung agency database
#
# An agency program holds a lock on one of the adapter's tables (a night
# batch job, a DBA's ALTER TABLE): the adapter's statements on that table
# wait. That work is done by the agency database's own threads, so the hub
# link must go on meanwhile: events acknowledged, heartbeats answered, no
# acknowledgement missed (no reconnect and resend), and once the lock goes
# every task and every row arrives exactly once.

RECONNECT = "reconnecting and resending"


def lock_table(conninfo, table):
    """A transaction of the agency's own holding TABLE locked ACCESS
    EXCLUSIVE until it is rolled back: the connection."""
    conn = conninfo.connect(autocommit=False)
    with conn.cursor() as cur:
        cur.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    return conn


def waiting_on(conninfo, table):
    """Sessions waiting for a lock on TABLE (the adapter's, stuck)."""
    return scalar(conninfo, "SELECT count(*) FROM pg_locks l JOIN pg_class c "
                            "ON c.oid = l.relation WHERE NOT l.granted AND c.relname = %s",
                  (table,))


def delivered_lines(proc):
    """How often the adapter said each task was delivered: {seq: count}."""
    counts = {}
    for seq in re.findall(r'msg="task delivered to the agency" .*? task=(\d+) ', proc.log()):
        counts[int(seq)] = counts.get(int(seq), 0) + 1
    return counts


def register_cases(pb, client, db, units):
    for unit in units:
        case = dict(pt_case(pb, unit, mortgage=False))
        send(client, [case["accepted"], case["assessed"], case["paid"],
                      case["registered"], case["power"]])
    wait_drained(db)


def hub_tasks(db):
    """The water tasks the hub issued, in order: [seq]."""
    return [s for s, in query(db, "SELECT seq FROM tasks WHERE agency = 'water' ORDER BY seq")]


def agency_tasks(conninfo):
    return [s for s, in query(conninfo, "SELECT task_seq FROM onenet_task ORDER BY task_seq")]


def test_a_locked_task_table_holds_up_neither_the_spool_nor_the_hub_link(
        pb, db, agency_db, procs, hub_client, tmp_path):
    for ddl in documented_ddl():
        execute(agency_db, ddl)
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    units = [unit_number(6200 + i) for i in range(5)]
    register_cases(pb, client, db, units[:2])
    spool = tmp_path / "spool"
    spool.mkdir()
    adapter = procs.start(
        [build_path("onenet-adapter-water"), "--adapter-id", "water-hang",
         "--hub", hub.endpoint, "--outbox", str(tmp_path / "water-hang.outbox"),
         "--spool", str(spool), "--spool-scan-ms", "50", "--task-db", agency_db,
         "--db-timeout-ms", "2000", "--ack-timeout-ms", "1000", "--heartbeat-ms", "200",
         "--retry-max-ms", "1000"], name="adapter-water-hang")
    wait_until(lambda: agency_tasks(agency_db) == hub_tasks(db) == [1, 2], timeout=30,
               what="tasks 1 and 2 in the agency's table")

    lock = lock_table(agency_db, "onenet_task")
    try:
        register_cases(pb, client, db, units[2:])
        wait_until(lambda: waiting_on(agency_db, "onenet_task") > 0, timeout=30,
                   what="the adapter's task write waiting on the agency's lock")
        # events from the spool go on to the hub and are acknowledged
        n = 300
        write_ndjson(spool / "a.ndjson", [water_record(i) for i in range(n)],
                     tmp_rename=True)
        wait_until(lambda: scalar(db, "SELECT count(*) FROM events "
                                      "WHERE adapter_id = 'water-hang'") == n,
                   timeout=30, what=f"{n} spool events at the hub during the hang")
        wait_until(lambda: outbox_count(str(tmp_path / "water-hang.outbox")) == 0,
                   timeout=30, what="every spool event acknowledged during the hang")
        # the write gave up after db-timeout-ms (two acknowledgement
        # timeouts) and waits again: the hang outlasted the ack timeout
        adapter.wait_for_log(r"tasks not delivered to the agency, will retry.*"
                             r"first_task=3 .*table=onenet_task.*statement timeout",
                             timeout=30)
        wait_until(lambda: waiting_on(agency_db, "onenet_task") > 0, timeout=30,
                   what="the retry waiting on the lock again")
        with lock.cursor() as cur:
            cur.execute("SELECT count(*) FROM onenet_task")
            assert cur.fetchone()[0] == 2, "no task got past the lock"
        assert scalar(db, "SELECT task_cursor FROM adapters "
                          "WHERE adapter_id = 'water-hang'") == 2
        assert RECONNECT not in adapter.log(), adapter.log()[-3000:]
        assert adapter.alive()
    finally:
        lock.rollback()
        lock.close()

    # the lock is gone: every task arrives, once, and the cursor follows
    expected = hub_tasks(db)
    assert expected[:5] == [1, 2, 3, 4, 5], expected
    wait_until(lambda: agency_tasks(agency_db) == expected, timeout=30,
               what=f"tasks {expected} in the agency's table")
    wait_until(lambda: scalar(db, "SELECT task_cursor FROM adapters "
                                  "WHERE adapter_id = 'water-hang'") == expected[-1],
               timeout=15, what="the adapter's task cursor at the last task")
    assert delivered_lines(adapter) == {s: 1 for s in expected}
    rows = query(agency_db, "SELECT key_value FROM onenet_task WHERE task_seq <= 5 "
                            "ORDER BY task_seq")
    assert [r for r, in rows] == units
    assert tuple(query(db, "SELECT count(*), count(DISTINCT event_id) FROM events "
                           "WHERE adapter_id = 'water-hang'")[0]) == (300, 300)
    assert RECONNECT not in adapter.log(), adapter.log()[-3000:]


def test_a_locked_outbox_table_holds_up_neither_the_tasks_nor_the_hub_link(
        pb, db, agency_db, procs, hub_client, tmp_path):
    for ddl in documented_ddl():
        execute(agency_db, ddl)
    execute(agency_db, AUDIT)
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    n = 120
    insert_records(agency_db, [water_record(i) for i in range(n)])
    lock = lock_table(agency_db, "onenet_outbox")
    try:
        adapter = start_db_adapter(procs, hub, agency_db, tmp_path, "water-stuck",
                                   extra=("--task-db", agency_db, "--db-timeout-ms", "2000"))
        wait_until(lambda: waiting_on(agency_db, "onenet_outbox") > 0, timeout=30,
                   what="the adapter's claim waiting on the agency's lock")
        # tasks go into the other table meanwhile: another connection, another thread
        units = [unit_number(6300 + i) for i in range(3)]
        register_cases(pb, client, db, units)
        wait_until(lambda: agency_tasks(agency_db) == hub_tasks(db) == [1, 2, 3],
                   timeout=30, what="the tasks in the agency's table during the hang")
        wait_until(lambda: scalar(db, "SELECT task_cursor FROM adapters "
                                      "WHERE adapter_id = 'water-stuck'") == 3,
                   timeout=15, what="the adapter's task cursor at 3 during the hang")
        adapter.wait_for_log(r"could not read the agency's outbox table, will retry.*"
                             r"table=onenet_outbox.*statement timeout", timeout=30)
        assert scalar(db, "SELECT count(*) FROM events WHERE adapter_id = 'water-stuck'") == 0
        assert RECONNECT not in adapter.log(), adapter.log()[-3000:]
    finally:
        lock.rollback()
        lock.close()

    wait_until(lambda: scalar(agency_db, "SELECT count(*) FROM onenet_outbox "
                                         "WHERE status = 'new'") == 0,
               timeout=60, what="every row taken after the hang")
    rows = query(agency_db, "SELECT status, event_id::text FROM onenet_outbox")
    assert all(s == "sent" for s, _ in rows)
    ids = {e for _, e in rows}
    wait_until(lambda: scalar(db, "SELECT count(*) FROM events "
                                  "WHERE adapter_id = 'water-stuck'") == n,
               timeout=30, what=f"{n} events")
    assert {e for e, in query(db, "SELECT event_id::text FROM events "
                                  "WHERE adapter_id = 'water-stuck'")} == ids
    sent = query(agency_db, "SELECT row_id, count(*) FROM status_audit "
                            "WHERE status = 'sent' GROUP BY row_id")
    assert len(sent) == n and all(c == 1 for _, c in sent)
    assert delivered_lines(adapter) == {1: 1, 2: 1, 3: 1}
    assert RECONNECT not in adapter.log(), adapter.log()[-3000:]
