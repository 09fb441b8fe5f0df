"""Command line, config file, schema migration at start, log format."""

import re
import subprocess

from conftest import HUB_ID, build_path, free_port, make_event, parse_logfmt, query, start_hub

TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def structured(line):
    """True when LINE is a log line: logfmt that begins ts= level= proc=
    msg=, with msg= in quotes."""
    try:
        fields = parse_logfmt(line)
    except ValueError:
        return False
    return (list(fields)[:4] == ["ts", "level", "proc", "msg"]
            and TS.fullmatch(fields["ts"]) is not None
            and fields["level"] in ("debug", "info", "warn", "error")
            and re.fullmatch(r"\w+", fields["proc"]) is not None
            and line.split(" ")[3].startswith('msg="'))


def run(argv, timeout=30):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)


def test_help_and_usage_errors():
    hub = build_path("onenet-hub")
    res = run([hub, "--help"])
    assert res.returncode == 0, res.stderr
    for setting in ("--listen", "--db", "--hub-id", "--batch-max", "--batch-wait-ms",
                    "--max-message-bytes", "--drain-timeout-ms", "--config"):
        assert setting in res.stdout, f"--help does not list {setting}"

    res = run([hub, "--no-such-flag"])
    assert res.returncode == 2
    assert "Try" in res.stderr and "--help" in res.stderr

    res = run([hub, "--batch-max", "not-a-number"])
    assert res.returncode == 2 and "batch-max" in res.stderr

    res = run([hub, "stray-argument"])
    assert res.returncode == 2 and "stray-argument" in res.stderr

    adapter = build_path("onenet-adapter")
    res = run([adapter, "--help"])
    assert res.returncode == 0 and "--agency" in res.stdout and "--spool" in res.stdout
    res = run([adapter])
    assert res.returncode == 2 and "agency" in res.stderr
    res = run([adapter, "--agency", "land", "--bogus"])
    assert res.returncode == 2 and "Try" in res.stderr


def test_config_file_errors(tmp_path):
    hub = build_path("onenet-hub")
    bad = tmp_path / "bad.conf"
    bad.write_text("[hub]\nlisten = tcp://127.0.0.1:5999\nthis line is not a setting\n")
    res = run([hub, "--config", str(bad)])
    assert res.returncode == 2
    assert f"{bad}:3" in res.stderr, res.stderr

    unknown = tmp_path / "unknown.conf"
    unknown.write_text("[hub]\nlisten = tcp://127.0.0.1:5999\nno_such_setting = 1\n")
    res = run([hub, "--config", str(unknown)])
    assert res.returncode == 2
    assert str(unknown) in res.stderr and "no_such_setting" in res.stderr

    out_of_range = tmp_path / "range.conf"
    out_of_range.write_text("[hub]\nbatch-max = 0\n")
    res = run([hub, "--config", str(out_of_range)])
    assert res.returncode == 2 and "batch-max" in res.stderr

    res = run([hub, "--config", str(tmp_path / "missing.conf")])
    assert res.returncode == 2 and "missing.conf" in res.stderr


def test_config_file_and_flags(pb, db, procs, hub_client, tmp_path):
    """Values come from the file; flags override them."""
    port_file, port_flag = free_port(), free_port()
    conf = tmp_path / "hub.conf"
    conf.write_text(
        "# onenet settings\n"
        "[adapter]\n"
        "agency = land\n"                      # another program's section: ignored
        "[hub]\n"
        f"listen = tcp://127.0.0.1:{port_file}\n"
        f"db = {db}\n"
        "hub_id = file-hub\n"                  # '_' spelling accepted in files
        "batch-max = 100\n"
        "insecure = true\n")

    hub = procs.start([build_path("onenet-hub"), "--config", str(conf)], name="hub-file")
    hub.wait_for_log(r'msg="store available"', timeout=60)
    assert f"127.0.0.1:{port_file}" in hub.wait_for_log(r'msg="hub listening".*').group(0)
    assert "batch_max=100" in hub.log()
    reply = hub_client(f"tcp://127.0.0.1:{port_file}").heartbeat()
    assert reply.hub_id == "file-hub"
    hub.terminate()
    assert hub.returncode == 0

    hub2 = procs.start([build_path("onenet-hub"), "--config", str(conf),
                        "--listen", f"tcp://127.0.0.1:{port_flag}", "--hub-id", "flag-hub"],
                       name="hub-flags")
    hub2.wait_for_log(r'msg="store available"', timeout=60)
    assert f"127.0.0.1:{port_flag}" in hub2.wait_for_log(r'msg="hub listening".*').group(0)
    c = hub_client(f"tcp://127.0.0.1:{port_flag}")
    assert c.heartbeat().hub_id == "flag-hub"
    ack = c.request_batch([make_event(pb, 1)])
    assert ack.acks[0].status == pb.STORED
    assert query(db, "SELECT hub_id FROM events") == [("flag-hub",)]
    assert "batch_max=100" in hub2.log()      # still from the file


def test_migrations_idempotent_and_logs_structured(pb, db, procs, hub_client):
    """A second hub start on a migrated database applies nothing and keeps
    the data; every line either hub writes is one structured log line."""
    hub = start_hub(procs, db)
    c = hub_client(hub.endpoint)
    assert c.request_batch([make_event(pb, 1)]).acks[0].status == pb.STORED
    tables = query(db, "SELECT table_name FROM information_schema.tables"
                       " WHERE table_schema = 'public' ORDER BY 1")
    assert {"events", "dead_letters", "adapters"} <= {t[0] for t in tables}
    hub.terminate()
    assert hub.returncode == 0

    res = run([build_path("onenet-hub"), "--db", db, "--migrate-only"])
    assert res.returncode == 0, res.stderr

    hub2 = start_hub(procs, db, port=hub.port)
    c2 = hub_client(hub2.endpoint)
    assert c2.heartbeat().hub_id == HUB_ID
    assert query(db, "SELECT table_name FROM information_schema.tables"
                     " WHERE table_schema = 'public' ORDER BY 1") == tables
    assert query(db, "SELECT count(*) FROM events") == [(1,)]
    hub2.terminate()
    assert hub2.returncode == 0

    for proc, text in ((hub, hub.log()), (hub2, hub2.log()),
                       ("migrate-only", res.stdout + res.stderr)):
        bad = [ln for ln in text.splitlines() if not structured(ln)]
        assert not bad, f"{proc}: lines that are not structured log lines: {bad}"


def test_protocol_doc_gives_the_hubs_defaults():
    """Every hub setting that docs/protocol.md tabulates (limits and the
    other settings that shape the exchange) has there the default the hub
    itself reports in --help: an adapter written from the document alone
    must not be surprised."""
    from conftest import ROOT
    helptext = run([build_path("onenet-hub"), "--help"]).stdout
    hub = dict(re.findall(r"^  --([a-z-]+) V .*\[([^\]]*)\]$", helptext, re.M))
    doc = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z-]+)` \| ([^|]+?) \|", doc, re.M)
    checked = 0
    for name, default in rows:
        if name not in hub:
            continue
        written = re.sub(r"(?<=\d) (?=\d{3})", "", default.strip().strip("`"))
        written = written.split(" ")[0]                  # "1 048 576 (1 MiB)" -> number
        assert written == hub[name], f"protocol.md gives {name} = {default!r}, " \
                                     f"the hub {hub[name]!r}"
        checked += 1
    assert checked >= 10, f"only {checked} settings found in protocol.md's tables"
