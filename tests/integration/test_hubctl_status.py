"""hubctl status and metrics: live figures from a running hub's control
socket, plus what the database says."""
import json
import re
import subprocess

from conftest import build_path, free_port, start_hub, unit_number, wait_until
from test_workflows import pt_case, send, wait_drained


def hubctl(db, *args, json_out=False):
    argv = [build_path("hubctl"), "--db", db] + (["--json"] if json_out else []) + list(args)
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


def test_status_and_metrics_from_a_running_hub(pb, db, procs, hub_client):
    control = f"tcp://127.0.0.1:{free_port()}"
    hub = start_hub(procs, db, extra=("--control", control))
    client = hub_client(hub.endpoint)
    events = [e for _, e in pt_case(pb, unit_number(5301), mortgage=False)]
    send(client, events)
    send(client, events[:2], expect=("DUPLICATE",))
    wait_drained(db)

    r = hubctl(db, "status", "--control", control)
    assert r.returncode == 0, r.stderr
    assert "database reachable" in r.stdout and "hub test-hub: up" in r.stdout
    status = json.loads(hubctl(db, "status", "--control", control, json_out=True).stdout)
    hub_part = status["hub"]
    assert hub_part["hub_id"] == "test-hub" and hub_part["store_available"] is True
    assert hub_part["events"] == len(events) + 2
    assert hub_part["stored"] == len(events) and hub_part["duplicates"] == 2
    assert sum(b["count"] for b in hub_part["commit_seconds_histogram"]) == hub_part["batches"]
    assert hub_part["commit_seconds_histogram"][-1]["le_seconds"] is None
    assert isinstance(hub_part["uptime_seconds"], int) and "uptime_s" not in hub_part
    assert status["database"]["reachable"] is True
    assert status["database"]["correlation_queue"] == 0

    r = hubctl(db, "metrics", "--control", control)
    assert r.returncode == 0, r.stderr
    assert re.search(r'^onenet_events_stored_total\{hub="test-hub"\} %d$' % len(events),
                     r.stdout, re.M)
    assert re.search(r'^onenet_events_duplicate_total\{hub="test-hub"\} 2$', r.stdout, re.M)
    assert re.search(r'^onenet_store_available\{hub="test-hub"\} 1$', r.stdout, re.M)
    buckets = re.findall(r'^onenet_batch_commit_seconds_bucket\{hub="test-hub",le="([^"]+)"\} '
                         r'(\d+)$', r.stdout, re.M)
    counts = [int(c) for _, c in buckets]
    assert buckets[-1][0] == "+Inf" and counts == sorted(counts)   # cumulative
    assert "# TYPE onenet_batch_commit_seconds histogram" in r.stdout
    # the same counters as JSON, after the command as well
    j = json.loads(hubctl(db, "metrics", "--control", control, "--json").stdout)
    assert j["stored"] == len(events) and j["duplicates"] == 2, j

    # the hub gone: status says so and fails, the database part still answers
    hub.kill()
    hub.wait(timeout=30)
    r = hubctl(db, "status", "--control", control, "--timeout", "1")
    assert r.returncode == 1
    assert "NOT ANSWERING" in r.stdout and "database: reachable" in r.stdout
    r = hubctl(db, "metrics", "--control", control, "--timeout", "1")
    assert r.returncode == 1 and "does not answer" in r.stderr


def test_control_socket_that_cannot_open_stops_the_hub(db, procs):
    port = free_port()
    first = start_hub(procs, db, extra=("--control", f"tcp://127.0.0.1:{port}"))
    second = start_hub(procs, db, wait=False, extra=("--control", f"tcp://127.0.0.1:{port}"))
    wait_until(lambda: second.returncode is not None, timeout=30, what="the second hub to exit")
    assert second.returncode == 1
    assert "could not open the control socket" in second.log()
    assert first.alive
