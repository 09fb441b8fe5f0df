"""README's "Running the pieces by hand", run as written: every shell block
between <!-- by-hand: begin --> and <!-- by-hand: end --> is executed line
for line, with three changes only: the already built tree stands for
build/ (so the cmake line is left out), a fresh directory for run/, and
free ports for 5570 and 5571. A step that fails fails the test, so the
section cannot drift from what the programs do."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile

import psycopg2
import pytest

from conftest import BUILD, ROOT, free_port, wait_until

README = ROOT / "README.md"


def by_hand_blocks():
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"<!-- by-hand: begin -->\s*```sh\n(.*?)```\s*<!-- by-hand: end -->",
                        text, flags=re.S)
    assert len(blocks) == 2, "README's by-hand section has two marked blocks"
    return blocks


def adapt(block, run, hub_port, control_port):
    lines = [line for line in block.splitlines() if not line.startswith("cmake ")]
    script = "\n".join(lines) + "\n"
    script = re.sub(r"(?<![\w/.-])build/", f"{BUILD}/", script)
    script = re.sub(r"(?<![\w/.-])run/", f"{run}/", script)
    return script.replace("5570", str(hub_port)).replace("5571", str(control_port))


@pytest.fixture
def run_dir():
    # under /tmp and open to others: pg-embedded.sh runs PostgreSQL as the
    # unprivileged postgres user when started as root
    run = tempfile.mkdtemp(prefix="onenet-readme.", dir="/tmp")
    os.chmod(run, 0o755)
    yield run
    pids = os.path.join(run, "pids")
    if os.path.exists(pids):
        for pid in open(pids).read().split():
            try:
                os.kill(int(pid), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass
    subprocess.run([str(ROOT / "deploy" / "pg-embedded.sh"), "destroy", f"{run}/pg"],
                   capture_output=True, timeout=120)
    shutil.rmtree(run, ignore_errors=True)


def bash(script, cwd, timeout=300):
    """Runs script; its output goes to a file, not a pipe, so that the
    daemons it leaves running in the background do not hold the test."""
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as out:
        res = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd,
                             stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                             timeout=timeout)
        out.seek(0)
        text = out.read()
    assert res.returncode == 0, f"exit {res.returncode}\n{script}\n{text}"
    return text


def test_by_hand_section_runs_as_written(run_dir):
    hub_port, control_port = free_port(), free_port()
    start, ask = (adapt(b, run_dir, hub_port, control_port) for b in by_hand_blocks())
    # the first block starts the database, the hub and the land adapter and
    # writes the day's records; what it started is kept for the teardown
    bash(start + f'echo "$db" > {run_dir}/db\njobs -p > {run_dir}/pids\n', cwd=ROOT)
    db = open(f"{run_dir}/db").read().strip()
    assert db.startswith("postgresql://")

    def correlated():
        with psycopg2.connect(db) as conn, conn.cursor() as cur:
            try:
                cur.execute("SELECT count(*) FROM workflow_instances WHERE key_kind = "
                            "'unit_number'")
                instances = cur.fetchone()[0]
                cur.execute("SELECT count(*) FROM correlation_backlog")
                return instances > 0 and cur.fetchone()[0] == 0
            except psycopg2.errors.UndefinedTable:
                return False    # the hub is still applying the schema
    wait_until(correlated, timeout=120, what="the land registry's cases correlated")
    land_log = open(f"{run_dir}/land.log", encoding="utf-8").read()
    assert 'msg="spool file consumed"' in land_log, land_log[-2000:]

    out = bash(f"db={db!r}\n" + ask, cwd=ROOT)
    assert "database reachable" in out and "hub " in out and ": up" in out, out
    assert "intact:" in out and "NOT INTACT" not in out, out
    assert "transfer.accepted" in out, "the vocabulary lists the land registry's types"
    report = open(f"{run_dir}/report-2020-09.html", encoding="utf-8").read()
    assert "督办" in report or "月报" in report
    # show found the newest case by its key: a timeline with steps and events
    assert "Steps:" in out and "Events:" in out, out
    json.loads(bash(f"{BUILD}/hubctl --db {db!r} --json workflows --limit 1", cwd=ROOT))
