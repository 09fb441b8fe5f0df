"""The test harness itself: the private PostgreSQL cluster and the fixtures."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import psycopg2
import pytest

from conftest import free_port


def test_cluster_runs(pg):
    assert pg.is_running()
    assert pg.conninfo.startswith("postgresql://onenet:")
    with pg.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT current_user, current_database(),"
                    " current_setting('server_version_num')::int,"
                    " current_setting('fsync'),"
                    " current_setting('listen_addresses'),"
                    " current_setting('server_encoding')")
        user, dbname, version, fsync, listen, encoding = cur.fetchone()
    assert (user, dbname) == ("onenet", "onenet")
    assert 150000 <= version < 160000
    assert fsync == "on"
    assert listen == "127.0.0.1"
    assert encoding == "UTF8"


def test_wrong_password_is_refused(pg):
    bad = pg.conninfo.replace(pg.password, "not-the-password")
    with pytest.raises(psycopg2.OperationalError):
        psycopg2.connect(bad, connect_timeout=5)


def test_restart_keeps_data_and_conninfo(pg, db):
    before = pg.conninfo
    with db.connect() as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (x int)")
        cur.execute("INSERT INTO t VALUES (1)")
    pg.restart()
    assert pg.conninfo == before
    assert pg.is_running()
    with db.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT x FROM t")
        assert cur.fetchall() == [(1,)]


def test_kill_then_start_recovers_committed_data(pg, db):
    conn = db.connect()
    with conn.cursor() as cur:
        cur.execute("CREATE TABLE t (x int)")
        cur.execute("INSERT INTO t SELECT generate_series(1, 1000)")
    pg.kill()
    assert not pg.is_running()
    with pytest.raises(psycopg2.Error):
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
    conn.close()
    with pytest.raises(psycopg2.OperationalError):
        db.connect()
    pg.start()
    assert pg.is_running()
    with db.connect() as conn2, conn2.cursor() as cur:
        cur.execute("SELECT count(*) FROM t")
        assert cur.fetchone() == (1000,)


def test_fresh_db_is_isolated(pg, db):
    assert db.dbname.startswith("t_")
    # Earlier tests' databases were dropped: only this one is left.
    with pg.connect() as conn, conn.cursor() as cur:
        cur.execute("SELECT datname FROM pg_database WHERE datname LIKE 't\\_%'")
        assert [r[0] for r in cur.fetchall()] == [db.dbname]
        cur.execute("SELECT pg_get_userbyid(datdba) FROM pg_database"
                    " WHERE datname = %s", (db.dbname,))
        assert cur.fetchone() == ("onenet",)

    other = pg.create_db()
    try:
        with db.connect() as c1, c1.cursor() as cur:
            cur.execute("CREATE TABLE marker (x int)")
        with other.connect() as c2, c2.cursor() as cur:
            cur.execute("SELECT to_regclass('marker')")
            assert cur.fetchone() == (None,)
    finally:
        pg.drop_db(other.dbname)

    # Left open on purpose: the db fixture drops the database WITH (FORCE).
    lingering = db.connect()
    assert lingering.closed == 0


def test_free_port_is_bindable():
    import socket
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_procs_fixture(procs):
    sleeper = procs.start([sys.executable, "-c",
                           "import sys, time; print('ready', flush=True);"
                           " print('to stderr', file=sys.stderr, flush=True);"
                           " time.sleep(60)"], name="sleeper")
    sleeper.wait_for_log(r"ready")
    assert sleeper.alive()
    sleeper.kill(signal.SIGKILL)
    assert sleeper.wait(timeout=10) == -signal.SIGKILL
    assert "ready" in sleeper.stdout()
    assert "to stderr" in sleeper.log()
    # This one is still running at teardown: the fixture terminates it.
    procs.start([sys.executable, "-c", "import time; time.sleep(60)"])


def test_strict_run_fails_a_skip(tmp_path):
    """Under tests/run.sh (ONENET_STRICT_SKIPS=1) a skip is a failure,
    unless the test is marked optional and README.md lists it; outside it,
    a skip stays a skip. Runs this conftest's hook on three little tests in
    a pytest of its own."""
    (tmp_path / "test_skips.py").write_text(
        "import pytest\n"
        "def test_plain():\n    pytest.skip('no tool')\n"
        "@pytest.mark.optional('not listed')\n"
        "def test_unlisted():\n    pytest.skip('no tool')\n"
        "@pytest.mark.optional('listed')\n"
        "def test_outbox_disk_full():\n    pytest.skip('no tmpfs')\n")
    here = str(Path(__file__).resolve().parent)

    def run(strict):
        env = dict(os.environ, PYTHONPATH=here, ONENET_STRICT_SKIPS="1" if strict else "0")
        return subprocess.run([sys.executable, "-m", "pytest", "-p", "conftest", "-rA",
                               "-p", "no:cacheprovider", "-o", "timeout=60",
                               str(tmp_path / "test_skips.py")],
                              cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120)
    r = run(strict=True)
    assert r.returncode == 1, r.stdout
    assert "2 failed, 1 skipped" in r.stdout, r.stdout
    assert "test_plain skipped (no tool) in a strict run, and it is not marked " \
           "optional" in r.stdout, r.stdout
    assert 'README.md does not list it under "Optional tests"' in r.stdout, r.stdout
    r = run(strict=False)
    assert r.returncode == 0 and "3 skipped" in r.stdout, r.stdout
