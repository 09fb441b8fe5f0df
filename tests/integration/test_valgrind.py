"""The hub (with its correlation and supervision threads) and an adapter
run under valgrind's memcheck through a short day of real records: no
invalid access, no use of uninitialised memory, no definite leak.

Skipped in the sanitizer build (ASan and valgrind exclude each other)."""
import os
import shutil
import subprocess

import pytest

from conftest import (HUB_ID, build_path, free_port, scalar, wait_exit, wait_until,
                      make_record, write_ndjson)

pytestmark = pytest.mark.skipif(
    shutil.which("valgrind") is None or "ASAN_OPTIONS" in os.environ,
    reason="valgrind missing, or this is the sanitizer build")

VALGRIND = ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite",
            "--error-exitcode=97", "--track-origins=yes", "--quiet"]


def test_hub_and_adapter_are_valgrind_clean(procs, db, tmp_path):
    port = free_port()
    hub = procs.start(VALGRIND + [f"--log-file={tmp_path}/vg-hub.%p", build_path("onenet-hub"),
                                  "--db", db, "--listen", f"tcp://127.0.0.1:{port}",
                                  "--hub-id", HUB_ID, "--supervise-interval-ms", "200",
                                  "--insecure"],
                      name="hub.valgrind")
    hub.wait_for_log(r'msg="store available"', timeout=120)
    records = [make_record(i) for i in range(300)]
    records.append("{not json")                      # refused at the adapter
    records.append(make_record(900, event_type="transfer.registered"))
    src = write_ndjson(tmp_path / "land.ndjson", records)
    with open(src, "rb") as f:
        adapter = procs.start(VALGRIND + [f"--log-file={tmp_path}/vg-adapter.%p",
                                          build_path("onenet-adapter"), "--agency", "land",
                                          "--adapter-id", "land-vg", "--hub",
                                          f"tcp://127.0.0.1:{port}", "--outbox",
                                          str(tmp_path / "vg.outbox"), "--once"],
                              name="adapter.valgrind", stdin=f)
        wait_exit(adapter, timeout=180)
    wait_until(lambda: scalar(db, "SELECT count(*) FROM correlation_queue") == 0
               and scalar(db, "SELECT count(*) FROM events") == 301,
               timeout=120, what="events stored and correlated under valgrind")
    assert scalar(db, "SELECT count(*) FROM workflow_instances") > 0
    hub.kill()                                       # SIGTERM: drain and stop
    wait_exit(hub, timeout=120)
    for log in tmp_path.glob("vg-*"):
        text = log.read_text()
        assert "ERROR SUMMARY: 0 errors" in text or text.strip() == "", \
            f"{log.name}:\n{text[-4000:]}"
