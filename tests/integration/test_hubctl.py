"""hubctl: the tool itself, `migrate` and `workflows`, against a real hub
and PostgreSQL (the other commands have their own test files)."""
import json
import subprocess

from conftest import build_path, scalar, unit_number
from test_workflows import pt_case, send, start_wf_hub, wait_drained


def hubctl(db, *args, json_out=False):
    argv = [build_path("hubctl"), "--db", db] + (["--json"] if json_out else []) + list(args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_usage_and_help(db):
    r = subprocess.run([build_path("hubctl"), "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "workflows" in r.stdout and "overdue" in r.stdout
    r = subprocess.run([build_path("hubctl")], capture_output=True, text=True)
    assert r.returncode == 2 and "Try 'hubctl --help'" in r.stderr
    r = hubctl(db, "no-such-command")
    assert r.returncode == 2 and "is not a command" in r.stderr
    r = hubctl(db, "workflows", "--bogus")
    assert r.returncode == 2 and "hubctl workflows --help" in r.stderr
    r = hubctl(db, "workflows", "--help")
    assert r.returncode == 0 and "--overdue" in r.stdout


def test_unreachable_database_says_what_to_do():
    r = subprocess.run([build_path("hubctl"), "--db", "postgresql://nobody@127.0.0.1:1/none",
                        "workflows"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "could not connect to the onenet database" in r.stderr and "--db" in r.stderr


def test_migrate_is_idempotent(db):
    r = hubctl(db, "migrate")
    assert r.returncode == 0, r.stderr
    version = scalar(db, "SELECT max(version) FROM schema_migrations")
    assert f"schema at version {version}" in r.stdout
    r = hubctl(db, "migrate", json_out=True)
    assert r.returncode == 0 and json.loads(r.stdout) == {"applied": 0, "version": version}


def test_workflows_filters_and_json(pb, db, procs, hub_client):
    hub = start_wf_hub(procs, db)
    client = hub_client(hub.endpoint)
    done, stuck = unit_number(6101), unit_number(6102)
    send(client, [e for _, e in pt_case(pb, done, mortgage=False)])
    case = dict(pt_case(pb, stuck, mortgage=False))
    send(client, [case["accepted"], case["assessed"]])
    wait_drained(db)

    r = hubctl(db, "workflows", "--type", "property_transfer")
    assert r.returncode == 0, r.stderr
    assert done in r.stdout and stuck in r.stdout and "(2 rows)" in r.stdout

    rows = json.loads(hubctl(db, "workflows", "--state", "completed",
                             json_out=True).stdout)["rows"]
    assert [r["key"] for r in rows] == [done]
    assert rows[0]["workflow"] == "property_transfer" and rows[0]["overdue_steps"] == 0

    rows = json.loads(hubctl(db, "workflows", "--overdue", json_out=True).stdout)["rows"]
    assert {r["key"] for r in rows} == {stuck}     # 2020: its registration is long overdue
    rows = json.loads(hubctl(db, "workflows", "--key", done, json_out=True).stdout)["rows"]
    assert len(rows) == 1 and rows[0]["state"] == "completed"
    rows = json.loads(hubctl(db, "workflows", "--agency", "land", "--since", "2020-09-28",
                             "--until", "2020-09-29", json_out=True).stdout)["rows"]
    assert {r["key"] for r in rows} == {done, stuck}
    page = json.loads(hubctl(db, "workflows", "--limit", "1", "--offset", "1",
                             json_out=True).stdout)
    assert len(page["rows"]) == 1 and (page["total"], page["next_offset"]) == (2, None)


def test_config_file_gives_the_database_and_flags_win(db, tmp_path):
    conf = tmp_path / "onenet.conf"
    conf.write_text(f"[hub]\nlisten = tcp://127.0.0.1:5570\n\n[hubctl]\ndb = {db}\n"
                    "control = tcp://127.0.0.1:1\n")
    r = subprocess.run([build_path("hubctl"), "--config", str(conf), "migrate"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "schema at version" in r.stdout, r.stderr
    # the control endpoint from the file is the one status asks
    r = subprocess.run([build_path("hubctl"), "--config", str(conf), "status", "--timeout", "1"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "tcp://127.0.0.1:1" in r.stdout
    # --db wins over the file
    r = subprocess.run([build_path("hubctl"), "--config", str(conf), "--db",
                        "postgresql://nobody@127.0.0.1:1/none", "workflows"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "could not connect" in r.stderr
    bad = tmp_path / "bad.conf"
    bad.write_text("[hubctl]\ndatabase = x\n")
    r = subprocess.run([build_path("hubctl"), "--config", str(bad), "workflows"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and f'{bad}: unknown setting "database"' in r.stderr
