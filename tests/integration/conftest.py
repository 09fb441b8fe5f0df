"""Fixtures and helpers for the onenet integration tests.

Environment (set by tests/run.sh):
  ONENET_ROOT   repository root (default: two levels above this file)
  ONENET_BUILD  build tree holding the binaries (default: $ONENET_ROOT/build)

Fixtures:
  pg     session-scoped private PostgreSQL 15 cluster (deploy/pg-embedded.sh)
         with .conninfo, .start(), .stop(), .restart(), .kill(), .connect()
  db     function-scoped fresh database t_<random>, owned by onenet; the
         value is its conninfo (a str with .dbname and .connect())
  procs  function-scoped ProcGroup: procs.start(argv, ...) -> Proc; every
         process still running at teardown is terminated, and a sanitizer
         report in any process's output fails the test

  pb     session-scoped: proto/onenet.proto compiled by protoc and imported
         (onenet_pb2: AdapterMessage, CaseEvent, HubMessage, ...)
  hub_client  hub_client(endpoint) -> HubClient, a raw DEALER socket that
         sends one frame per message (closed at teardown)

Helpers importable by tests (``from conftest import ...``):
  build_path(name), free_port(), Proc, wait_until(predicate, timeout)
  parse_logfmt(line) -> dict, parse_log(text) -> [dict] (the programs' log
      lines read back; Proc.log_records() and Proc.wait_for_record(pred)
      read a process's output that way)
  start_hub(procs, db, port=None, extra=()) -> Proc (waits for "store
      available"; has .port, .endpoint), start_adapter(procs, port, outbox,
      agency=, adapter_id=, stdin=path|"pipe"|None, spool=, once=True),
      wait_exit(proc, timeout, expect=0), Feeder (paced writes to a stdin pipe)
  credit_code(n), bad_credit_code(n), unit_number(n), new_id(), now_ms()
  make_record(i, event_id=True, **fields) (generic NDJSON record),
      write_ndjson(path, records, tmp_rename=False),
      make_event(pb, i, agency=, **fields) (CaseEvent), batch_bytes(...)
  query(db, sql), scalar(db, sql), event_count(db) -> (rows, distinct ids),
      wait_events(db, n), outbox_count(path, table="outbox")

Only the Python standard library, psycopg2, pyzmq and python3-protobuf
(for the generated onenet_pb2) are used; protoc comes from protobuf-compiler.
"""

import importlib.util
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
import zmq

ROOT = Path(os.environ.get("ONENET_ROOT") or Path(__file__).resolve().parents[2])
BUILD = Path(os.environ.get("ONENET_BUILD") or ROOT / "build")
PG_EMBEDDED = ROOT / "deploy" / "pg-embedded.sh"

# Text that sanitizers print when they find a bug.
SANITIZER_RE = re.compile(
    r"ERROR: (AddressSanitizer|LeakSanitizer|ThreadSanitizer)"
    r"|runtime error: |SUMMARY: UndefinedBehaviorSanitizer"
)


# ---------------------------------------------------------------- helpers

def build_path(name):
    """Absolute path of NAME inside the build tree ($ONENET_BUILD/NAME)."""
    return str(BUILD / name)


def free_port():
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=10.0, interval=0.05, what="condition"):
    """Poll PREDICATE until it returns a true value; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not reached within {timeout} s")
        time.sleep(interval)


def wait_supervised(db, timeout=30.0):
    """Supervision caught up: every required step not done whose deadline
    or warning point has passed is marked (overdue and warned of)."""
    wait_until(lambda: scalar(db, """SELECT count(*) FROM workflow_steps
                                     WHERE required AND completed_at IS NULL
                                       AND ((due_at < now() AND overdue_at IS NULL)
                                         OR (warn_at < now() AND warned_at IS NULL))""")
               == 0, timeout=timeout, interval=0.1,
               what="supervision to mark every passed deadline and warning point")


_LOGFMT_ESCAPES = {ord('"'): b'"', ord("\\"): b"\\", ord("t"): b"\t", ord("n"): b"\n",
                   ord("r"): b"\r"}


def parse_logfmt(line):
    """The fields of one logfmt line (str or bytes, without its newline) as
    a dict in line order, read by the rules the programs write: key=value
    pairs separated by spaces; a value bare (no space, '"', '=' or control
    byte), or in double quotes with \\" \\\\ \\t \\n \\r and \\xNN escapes.
    A value's bytes are decoded as UTF-8, a byte that is not UTF-8 kept as
    a surrogate (errors="surrogateescape"), so that value.encode("utf-8",
    "surrogateescape") gives back exactly the bytes logged. Raises
    ValueError on anything else, a key given twice included (a line made
    to carry a second msg= or level= is not one line's fields)."""
    if isinstance(line, str):
        line = line.encode("utf-8", "surrogateescape")
    fields, i, n = {}, 0, len(line)

    def fail(why):
        raise ValueError(f"not logfmt ({why} at byte {i}): {line!r}")
    while i < n:
        if line[i] == 0x20:
            i += 1
            continue
        start = i
        while i < n and line[i] not in b' ="' and line[i] >= 0x20:
            i += 1
        key = line[start:i].decode("utf-8", "surrogateescape")
        if not key or i == n or line[i] != ord("="):
            fail("expected key=")
        i += 1
        value = bytearray()
        if i < n and line[i] == ord('"'):
            i += 1
            while True:
                if i == n:
                    fail("unterminated quoted value")
                c = line[i]
                if c == ord('"'):
                    i += 1
                    break
                if c == ord("\\"):
                    e = line[i + 1] if i + 1 < n else None
                    if e in _LOGFMT_ESCAPES:
                        value += _LOGFMT_ESCAPES[e]
                        i += 2
                    elif e == ord("x") and re.fullmatch(rb"[0-9A-Fa-f]{2}", line[i + 2:i + 4]):
                        value.append(int(line[i + 2:i + 4], 16))
                        i += 4
                    else:
                        fail("bad escape")
                elif c < 0x20 or c == 0x7F:
                    fail("raw control byte in a quoted value")
                else:
                    value.append(c)
                    i += 1
            if i < n and line[i] != 0x20:
                fail("text after a closing quote")
        else:
            while i < n and line[i] != 0x20:
                if line[i] in b'"=' or line[i] < 0x20 or line[i] == 0x7F:
                    fail("'\"', '=' or a control byte in a bare value")
                value.append(line[i])
                i += 1
        if key in fields:
            fail(f"key {key} given twice")
        fields[key] = value.decode("utf-8", "surrogateescape")
    return fields


def parse_log(text):
    """Every line of TEXT (str or bytes) through parse_logfmt: a list of
    dicts. Raises ValueError naming the first line that is not logfmt."""
    if isinstance(text, str):
        text = text.encode("utf-8", "surrogateescape")
    return [parse_logfmt(line) for line in text.split(b"\n") if line]


def with_dbname(conninfo, dbname):
    """The libpq URI CONNINFO with its database replaced by DBNAME."""
    parts = urlsplit(conninfo)
    return urlunsplit(parts._replace(path="/" + dbname))


class Conninfo(str):
    """A libpq URI (a plain str) that also knows its database name."""

    @property
    def dbname(self):
        return urlsplit(self).path.lstrip("/")

    def connect(self, autocommit=True, **kwargs):
        kwargs.setdefault("connect_timeout", 10)
        conn = psycopg2.connect(str(self), **kwargs)
        conn.autocommit = autocommit
        return conn


# ---------------------------------------------------------------- PostgreSQL

class PgCluster:
    """A private cluster managed by deploy/pg-embedded.sh in DIRECTORY."""

    def __init__(self, directory):
        self.dir = str(directory)
        self.conninfo = None

    def _run(self, command, check=True):
        res = subprocess.run(
            [str(PG_EMBEDDED), command, self.dir],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, timeout=300,
        )
        if check and res.returncode != 0:
            raise RuntimeError(
                f"pg-embedded.sh {command} {self.dir} failed "
                f"(exit {res.returncode}):\n{res.stderr}")
        return res

    def start(self):
        out = self._run("start").stdout.strip()
        if not out.startswith("postgresql://"):
            raise RuntimeError(f"pg-embedded.sh start printed {out!r}")
        self.conninfo = Conninfo(out)
        return self.conninfo

    def stop(self):
        self._run("stop")

    def restart(self):
        self.stop()
        return self.start()

    def kill(self):
        """SIGKILL the postmaster and its children (a crash)."""
        self._run("kill")

    def is_running(self):
        return self._run("status", check=False).returncode == 0

    def ensure_running(self):
        if not self.is_running():
            self.start()

    def destroy(self):
        self._run("destroy", check=False)

    @property
    def port(self):
        return urlsplit(self.conninfo).port

    @property
    def password(self):
        return urlsplit(self.conninfo).password

    @property
    def log_path(self):
        return os.path.join(self.dir, "postgresql.log")

    def log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def conninfo_for(self, dbname):
        return Conninfo(with_dbname(self.conninfo, dbname))

    def connect(self, dbname=None, autocommit=True, **kwargs):
        """A psycopg2 connection (autocommit by default) to DBNAME
        (default: the onenet database)."""
        ci = self.conninfo_for(dbname) if dbname else self.conninfo
        return ci.connect(autocommit=autocommit, **kwargs)

    def create_db(self, prefix="t_"):
        name = prefix + secrets.token_hex(6)
        conn = self.connect("postgres")
        try:
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}" OWNER onenet')
        finally:
            conn.close()
        return self.conninfo_for(name)

    def drop_db(self, name):
        conn = self.connect("postgres")
        try:
            with conn.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            conn.close()


@pytest.fixture(scope="session")
def pg():
    """A private PostgreSQL 15 cluster for the whole session."""
    if not PG_EMBEDDED.exists():
        pytest.fail(f"{PG_EMBEDDED} not found (ONENET_ROOT={ROOT})")
    # Under /tmp so that the postgres OS user (used when running as root)
    # can reach it; pg-embedded.sh falls back to /tmp/onenet-pg.* anyway.
    directory = tempfile.mkdtemp(prefix="onenet-it-pg.", dir="/tmp")
    os.chmod(directory, 0o755)
    cluster = PgCluster(directory)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def db(pg):
    """A fresh database t_<random> owned by onenet; yields its conninfo."""
    pg.ensure_running()
    conninfo = pg.create_db()
    try:
        yield conninfo
    finally:
        # A test may have stopped or killed the cluster: bring it back.
        pg.ensure_running()
        pg.drop_db(conninfo.dbname)


# ---------------------------------------------------------------- processes

class Proc:
    """A process under test; stdout and stderr go to files in LOG_DIR."""

    _serial = 0

    def __init__(self, argv, log_dir, name=None, env=None, cwd=None,
                 stdin=subprocess.DEVNULL):
        argv = [str(a) for a in argv]
        if not os.path.exists(argv[0]) and shutil.which(argv[0]) is None:
            raise FileNotFoundError(
                f"{argv[0]}: not found (is ONENET_BUILD={BUILD} built?)")
        Proc._serial += 1
        self.name = name or f"{os.path.basename(argv[0])}.{Proc._serial}"
        self.argv = argv
        log_dir = Path(log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        self.stdout_path = log_dir / f"{self.name}.stdout"
        self.stderr_path = log_dir / f"{self.name}.stderr"
        full_env = dict(os.environ)
        if env:
            full_env.update({k: str(v) for k, v in env.items()})
        with open(self.stdout_path, "wb") as out, \
                open(self.stderr_path, "wb") as err:
            # Own process group, so that a stray terminal signal does not
            # hit it, and kill() reaches only this process.
            self.popen = subprocess.Popen(
                argv, stdin=stdin, stdout=out, stderr=err, env=full_env,
                cwd=cwd, start_new_session=True)
        self.pid = self.popen.pid

    def __repr__(self):
        return (f"<Proc {getattr(self, 'name', '?')} pid={getattr(self, 'pid', None)}"
                f" rc={self.returncode if hasattr(self, 'popen') else None}>")

    @property
    def returncode(self):
        return self.popen.poll()

    def alive(self):
        return self.popen.poll() is None

    def kill(self, sig=signal.SIGTERM):
        """Send SIG (default SIGTERM) if the process is still running."""
        if self.popen.poll() is None:
            try:
                self.popen.send_signal(sig)
            except ProcessLookupError:
                pass

    def wait(self, timeout=10.0):
        """Wait for the process to exit; return its exit status
        (negative: killed by that signal). Raises subprocess.TimeoutExpired."""
        return self.popen.wait(timeout=timeout)

    def terminate(self, timeout=10.0):
        """SIGTERM, then SIGKILL after TIMEOUT; return the exit status."""
        if self.popen.poll() is None:
            self.kill(signal.SIGTERM)
            try:
                return self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill(signal.SIGKILL)
        return self.popen.wait(timeout=30)

    @staticmethod
    def _read(path):
        try:
            return Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def stdout(self):
        return self._read(self.stdout_path)

    def stderr(self):
        return self._read(self.stderr_path)

    def log(self):
        """Everything the process wrote so far: stdout, then stderr."""
        return self.stdout() + self.stderr()

    def log_records(self):
        """The output so far (stdout, then stderr) read as logfmt lines:
        a list of dicts (parse_log). Raises ValueError on a line that is
        not logfmt; a line still being written is left for the next call."""
        try:
            data = Path(self.stdout_path).read_bytes() + Path(self.stderr_path).read_bytes()
        except OSError:
            data = b""
        return parse_log(data[:data.rfind(b"\n") + 1])

    def wait_for_record(self, predicate, timeout=10.0, what="a log line"):
        """Waits until a log line (a dict, see log_records) satisfies
        PREDICATE; returns the first that does. Fails early if the process
        exits first."""
        def found():
            exited = self.popen.poll() is not None
            hit = next((r for r in self.log_records() if predicate(r)), None)
            if hit is None and exited:
                raise AssertionError(f"{self.name} exited ({self.popen.returncode}) "
                                     f"before logging {what}:\n{self.log()[-4000:]}")
            return hit
        return wait_until(found, timeout, what=f"{what} in {self.name}")

    def wait_for_log(self, pattern, timeout=10.0):
        """Wait until PATTERN (a regex) appears in the output; return the
        match. Fails early if the process exits first."""
        rx = re.compile(pattern)

        def found():
            m = rx.search(self.log())
            if m is None and self.popen.poll() is not None:
                m = rx.search(self.log())
                if m is None:
                    raise AssertionError(
                        f"{self.name} exited ({self.popen.returncode}) "
                        f"before printing /{pattern}/:\n{self.log()[-4000:]}")
            return m
        return wait_until(found, timeout, what=f"/{pattern}/ in {self.name}")

    def sanitizer_report(self):
        """The sanitizer error in the output, or None."""
        text = self.log()
        m = SANITIZER_RE.search(text)
        return text[max(0, m.start() - 200):m.start() + 4000] if m else None


class ProcGroup:
    """Starts processes for one test and cleans them all up."""

    def __init__(self, log_dir):
        self.log_dir = Path(log_dir)
        self.procs = []

    def start(self, argv, name=None, env=None, cwd=None, **kwargs):
        proc = Proc(argv, self.log_dir, name=name, env=env, cwd=cwd, **kwargs)
        self.procs.append(proc)
        return proc

    __call__ = start

    def terminate_all(self):
        for proc in self.procs:
            proc.kill(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.terminate(timeout=10.0)
            except subprocess.TimeoutExpired:
                pass


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "optional(reason): the test may skip on a machine that lacks what it "
                   "needs; it must be listed with its reason under README.md's "
                   "\"Optional tests\"")


def readme_optional_tests():
    """The test names listed (in backquotes) under README.md's "Optional
    tests" heading: the only tests that may skip in a strict run."""
    try:
        text = (ROOT / "README.md").read_text(encoding="utf-8")
    except OSError:
        return set()
    m = re.search(r"^#+ Optional tests\n(.*?)(?=^#)", text, re.M | re.S)
    return set(re.findall(r"^\| `(test_\w+)` \|", m.group(1), re.M)) if m else set()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
    # tests/run.sh sets ONENET_STRICT_SKIPS: there a skip hides missing
    # coverage and fails, unless the test is marked optional and the README
    # says why it may skip
    if rep.skipped and not hasattr(rep, "wasxfail") and \
            os.environ.get("ONENET_STRICT_SKIPS") == "1":
        reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
        reason = reason.removeprefix("Skipped: ")
        name = getattr(item, "originalname", None) or item.name
        if item.get_closest_marker("optional") is None:
            why = "it is not marked optional"
        elif name not in readme_optional_tests():
            why = "README.md does not list it under \"Optional tests\""
        else:
            return
        rep.outcome = "failed"
        rep.longrepr = (f"{item.nodeid} skipped ({reason}) in a strict run, and {why}: "
                        f"install what it needs (deploy/install-deps.sh) or document "
                        f"why it may skip")


@pytest.fixture
def procs(request, tmp_path):
    """Start processes with procs.start(argv, name=..., env=...)."""
    group = ProcGroup(tmp_path / "logs")
    try:
        yield group
    finally:
        group.terminate_all()
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            for proc in group.procs:
                print(f"----- {proc.name} (exit {proc.returncode}): "
                      f"{' '.join(proc.argv)}")
                print(proc.log()[-8000:])
        reports = [(p, p.sanitizer_report()) for p in group.procs]
        reports = [(p, r) for p, r in reports if r]
        if reports:
            text = "\n".join(f"----- {p.name}:\n{r}" for p, r in reports)
            print(text, file=sys.stderr)
            pytest.fail(f"sanitizer report(s) from {len(reports)} process(es):"
                        f"\n{text}", pytrace=False)


# ---------------------------------------------------------------- onenet helpers
#
# Wire protocol (proto/onenet.proto compiled with protoc at session start),
# valid identifiers and events, starting hubs and adapters, raw DEALER
# clients, and database/outbox queries.

HUB_ID = "test-hub"
_names = itertools.count(1)
_pb_module = None


def _compile_proto(out_dir):
    """protoc --python_out=OUT_DIR proto/onenet.proto; returns the module."""
    global _pb_module
    if _pb_module is None:
        protoc = shutil.which("protoc") or "/usr/bin/protoc"
        subprocess.run([protoc, f"--python_out={out_dir}",
                        f"--proto_path={ROOT / 'proto'}", "onenet.proto"],
                       check=True, timeout=60)
        spec = importlib.util.spec_from_file_location(
            "onenet_pb2", os.path.join(out_dir, "onenet_pb2.py"))
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["onenet_pb2"] = module
        _pb_module = module
    return _pb_module


@pytest.fixture(scope="session")
def pb(tmp_path_factory):
    """The generated onenet_pb2 module (AdapterMessage, CaseEvent, ...)."""
    return _compile_proto(str(tmp_path_factory.mktemp("proto")))


# -- identifiers

CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def credit_check_char(body17):
    """GB 32100-2015 check character of the first 17 characters."""
    total = sum(CREDIT_ALPHABET.index(c) * pow(3, i, 31)
                for i, c in enumerate(body17[:17]))
    check = 31 - total % 31
    return CREDIT_ALPHABET[0 if check == 31 else check]


def credit_code(n=0):
    """A valid unified social credit code of a Pengyang (640425) enterprise,
    different for every N."""
    tail = ""
    for _ in range(9):
        n, r = divmod(n, 31)
        tail = CREDIT_ALPHABET[r] + tail
    body = "91640425" + tail
    return body + credit_check_char(body)


def bad_credit_code(n=0):
    """A credit code whose check character is wrong."""
    good = credit_code(n)
    wrong = CREDIT_ALPHABET[(CREDIT_ALPHABET.index(good[-1]) + 1) % 31]
    return good[:-1] + wrong


def unit_number(n=0):
    """A valid GB/T 37346-2019 real-estate unit number, different for every N."""
    return "640425001002GB%05dF%08d" % (n % 100000, 10001 + n // 100000)


def project_code(n=0, kind="03", year=2020):
    """A valid investment project code (2016 structure) of a Pengyang
    (640425) project in industry 47, different for every N below a
    million: YYYY-640425-47-TT-NNNNNN, KIND the project type TT (01 审批,
    02 核准, 03 备案)."""
    return "%04d-640425-47-%s-%06d" % (year, kind, n % 1000000)


def new_id():
    return str(uuid.uuid4())


def now_ms():
    return int(time.time() * 1000)


# -- events

def make_record(i=0, event_id=True, **fields):
    """A generic-NDJSON land record (dict). EVENT_ID: True for a fresh
    UUID v4, a string to use it, None to leave it out (the adapter then
    derives one from the record's bytes)."""
    rec = {}
    if event_id is True:
        rec["event_id"] = new_id()
    elif event_id:
        rec["event_id"] = event_id
    rec.update({
        "case_no": "PY-BDC-2020-%06d" % i,
        "event_type": "transfer.accepted",
        "occurred_at": "2020-09-01T09:%02d:%02d+08:00" % (i // 60 % 60, i % 60),
        "keys": {"unit_number": unit_number(i)},
        "attrs": {"seq": i, "area_m2": 80.5 + i % 7, "has_mortgage": i % 2 == 0,
                  "location": "彭阳县白阳镇兴彭路%d号" % (i % 300 + 1)},
    })
    rec.update(fields)
    return rec


def write_ndjson(path, records, tmp_rename=False):
    """Writes records (dicts or str lines) one per line; with TMP_RENAME
    writes PATH.tmp and renames it (how producers feed a spool)."""
    path = Path(path)
    target = path.with_name(path.name + ".tmp") if tmp_rename else path
    with open(target, "w", encoding="utf-8") as f:
        for r in records:
            f.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")
    if tmp_rename:
        os.rename(target, path)
    return path


# an event type each agency may send (the hub refuses types no workflow
# definition names for that agency)
TYPICAL_EVENT_TYPE = {"land": "transfer.accepted", "tax": "deed_tax.paid",
                      "water": "connection.accepted", "power": "connection.accepted",
                      "bank": "loan.applied"}


def set_attributes(event, attrs):
    """Replaces EVENT's attributes with ATTRS (name -> value), each typed by
    its Python type: bool a flag, int an integer, float a number, anything
    else text."""
    del event.attributes[:]
    for name, value in (attrs or {}).items():
        if isinstance(value, bool):
            event.attributes.add(name=name, flag=value)
        elif isinstance(value, int):
            event.attributes.add(name=name, integer=value)
        elif isinstance(value, float):
            event.attributes.add(name=name, number=value)
        else:
            event.attributes.add(name=name, text=str(value))
    return event


def make_event(pb, i=0, agency="land", adapter_id="it-raw", **fields):
    """A valid CaseEvent; FIELDS override (keys: list of (KeyKind, value))."""
    keys = fields.pop("keys", [(pb.UNIT_NUMBER, unit_number(i))])
    e = pb.CaseEvent(
        schema_version=1, event_id=new_id(), agency=agency, adapter_id=adapter_id,
        case_no="PY-RAW-%06d" % i, event_type=TYPICAL_EVENT_TYPE.get(agency, "transfer.accepted"),
        occurred_at_ms=now_ms() - 3600_000, accepted_at_ms=now_ms())
    for kind, value in keys:
        e.keys.add(kind=kind, value=value)
    e.attributes.add(name="seq", integer=i)
    for name, value in fields.items():
        setattr(e, name, value)
    return e


def batch_bytes(pb, events, seq=1, adapter_id="it-raw", agency="land"):
    """One serialized AdapterMessage holding an EventBatch."""
    msg = pb.AdapterMessage()
    msg.batch.batch_seq = seq
    msg.batch.adapter_id = adapter_id
    msg.batch.agency = agency
    msg.batch.events.extend(events)
    return msg.SerializeToString()


class HubClient:
    """A raw ZeroMQ DEALER talking to a hub: one frame per message."""

    _seq = itertools.count(1)

    def __init__(self, pb, endpoint, curve=None):
        """CURVE: (hub public key, client public key, client secret key),
        Z85 bytes or str, for a hub that runs with CURVE."""
        self.pb = pb
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if curve:
            server, public, secret = (k.encode() if isinstance(k, str) else k for k in curve)
            self.sock.curve_serverkey = server
            self.sock.curve_publickey = public
            self.sock.curve_secretkey = secret
        self.sock.connect(endpoint)

    def send(self, data):
        """Sends bytes or a protobuf message as one frame."""
        if not isinstance(data, (bytes, bytearray)):
            data = data.SerializeToString()
        self.sock.send(data)

    def recv(self, timeout=15.0):
        """The next HubMessage; TimeoutError when none comes in TIMEOUT s."""
        if not self.sock.poll(int(timeout * 1000)):
            raise TimeoutError(f"no answer from the hub within {timeout} s")
        frames = self.sock.recv_multipart()
        assert len(frames) == 1, f"hub answered with {len(frames)} frames"
        return self.pb.HubMessage.FromString(frames[0])

    def send_batch(self, events, seq=None, adapter_id="it-raw", agency="land"):
        seq = next(self._seq) if seq is None else seq
        self.send(batch_bytes(self.pb, events, seq, adapter_id, agency))
        return seq

    def request_batch(self, events, timeout=15.0, **kwargs):
        """Sends one EventBatch; returns its BatchAck (checked: seq, count)."""
        seq = self.send_batch(events, **kwargs)
        reply = self.recv(timeout)
        assert reply.WhichOneof("body") == "ack", f"expected a BatchAck, got {reply}"
        assert reply.ack.batch_seq == seq
        assert len(reply.ack.acks) == len(events)
        return reply.ack

    def request_error(self, data, timeout=15.0):
        """Sends raw bytes; returns the hub's Error answer."""
        self.send(data)
        reply = self.recv(timeout)
        assert reply.WhichOneof("body") == "error", f"expected an Error, got {reply}"
        return reply.error

    def heartbeat(self, adapter_id="it-raw", agency="land", timeout=15.0):
        msg = self.pb.AdapterMessage()
        msg.heartbeat.adapter_id = adapter_id
        msg.heartbeat.agency = agency
        msg.heartbeat.sent_at_ms = now_ms()
        self.send(msg)
        reply = self.recv(timeout)
        assert reply.WhichOneof("body") == "heartbeat", f"expected a reply, got {reply}"
        return reply.heartbeat

    def close(self):
        self.sock.close(0)
        self.ctx.term()


@pytest.fixture
def hub_client(pb):
    """hub_client(endpoint, curve=None) -> HubClient, closed at teardown."""
    clients = []

    def connect(endpoint, curve=None):
        c = HubClient(pb, endpoint, curve)
        clients.append(c)
        return c
    yield connect
    for c in clients:
        c.close()


# -- processes

def start_hub(procs, db, port=None, extra=(), wait=True, timeout=60.0, curve=None):
    """onenet-hub on tcp://127.0.0.1:PORT (a free one by default) against
    the database DB; waits for "store available" unless WAIT is false.
    Plaintext (--insecure, loopback) unless CURVE is given: then a
    (secret_key_file, authorised_keys_file) pair for --secret-key and
    --authorised-keys. The Proc gets .port and .endpoint."""
    port = port or free_port()
    endpoint = f"tcp://127.0.0.1:{port}"
    security = (["--secret-key", str(curve[0]), "--authorised-keys", str(curve[1])]
                if curve else ["--insecure"])
    proc = procs.start([build_path("onenet-hub"), "--db", db, "--listen", endpoint,
                        "--hub-id", HUB_ID, *security, *extra], name=f"hub.{next(_names)}")
    proc.port, proc.endpoint = port, endpoint
    if wait:
        proc.wait_for_log(r"msg=\"store available\"", timeout=timeout)
    return proc


def start_adapter(procs, port, outbox, agency="land", adapter_id=None, stdin=None,
                  spool=None, once=True, extra=(), program="onenet-adapter"):
    """PROGRAM (onenet-adapter, or an agency's own onenet-adapter-AGENCY) for
    AGENCY sending to tcp://127.0.0.1:PORT. STDIN: a path to feed, "pipe"
    (write to proc.popen.stdin), or None (/dev/null). Short ack timeout and
    heartbeat, so that recovery tests run fast."""
    adapter_id = adapter_id or f"{agency}-it"
    argv = [build_path(program), "--agency", agency, "--adapter-id", adapter_id,
            "--hub", f"tcp://127.0.0.1:{port}", "--outbox", outbox,
            "--ack-timeout-ms", "1000", "--heartbeat-ms", "200", "--retry-max-ms", "1000"]
    if spool:
        argv += ["--spool", spool, "--spool-scan-ms", "100"]
    if once:
        argv.append("--once")
    argv += list(extra)
    name = f"adapter-{adapter_id}.{next(_names)}"
    if stdin == "pipe":
        return procs.start(argv, name=name, stdin=subprocess.PIPE)
    if stdin is None:
        return procs.start(argv, name=name)
    with open(stdin, "rb") as f:
        return procs.start(argv, name=name, stdin=f)


def wait_exit(proc, timeout, expect=0):
    """Waits for PROC to exit and checks its status."""
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"{proc.name} still running after {timeout} s:\n"
                             f"{proc.log()[-4000:]}") from None
    assert rc == expect, f"{proc.name} exited {rc}, expected {expect}:\n{proc.log()[-4000:]}"
    return rc


# -- queries

def query(db, sql, args=None):
    """All rows of SQL in DB (a new connection each call)."""
    conn = db.connect()
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


def scalar(db, sql, args=None):
    return query(db, sql, args)[0][0]


def event_count(db):
    """(rows, distinct event ids) of events, or None while the database is
    unreachable."""
    try:
        return tuple(query(db, "SELECT count(*), count(DISTINCT event_id) FROM events")[0])
    except psycopg2.Error:
        return None


def wait_events(db, n, timeout=120.0, at_least=False):
    """Waits until events holds N rows (or at least N)."""
    def ok():
        c = event_count(db)
        return c is not None and (c[0] >= n if at_least else c[0] == n)
    try:
        return wait_until(ok, timeout, interval=0.1, what=f"{n} events")
    except TimeoutError:
        raise AssertionError(f"events: {event_count(db)}, waited for {n}") from None


def outbox_count(path, table="outbox"):
    """Rows in TABLE of an adapter's outbox file (read-only); 0 while the
    adapter has created the file but not yet its tables."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError as e:
        if "no such table" in str(e):
            return 0
        raise
    finally:
        conn.close()


class Feeder(threading.Thread):
    """Writes RECORDS into PROC's stdin (a pipe), CHUNK lines every PAUSE
    seconds, and closes it at the end. With HOLD_AT it stops before that
    record until release() is called. .written counts records written."""

    def __init__(self, proc, records, chunk=200, pause=0.01, hold_at=None):
        super().__init__(daemon=True)
        self.proc, self.chunk, self.pause, self.hold_at = proc, chunk, pause, hold_at
        self.lines = [(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False))
                      + "\n" for r in records]
        self.written = 0
        self.error = None
        self._gate = threading.Event()
        if hold_at is None:
            self._gate.set()

    def release(self):
        self._gate.set()

    def run(self):
        pipe = self.proc.popen.stdin
        try:
            while self.written < len(self.lines):
                end = min(self.written + self.chunk, len(self.lines))
                if self.hold_at is not None and self.written < self.hold_at:
                    end = min(end, self.hold_at)
                elif self.hold_at is not None:
                    self._gate.wait()
                pipe.write("".join(self.lines[self.written:end]).encode())
                pipe.flush()
                self.written = end
                time.sleep(self.pause)
        except (BrokenPipeError, ValueError, OSError) as e:
            self.error = e
        finally:
            try:
                pipe.close()
            except OSError:
                pass

    def finish(self, timeout=120.0):
        """Releases the gate and waits until everything was written."""
        self.release()
        self.join(timeout)
        assert not self.is_alive(), f"feeder stuck at {self.written}/{len(self.lines)}"
        assert self.error is None, f"feeder failed at {self.written}: {self.error!r}"
