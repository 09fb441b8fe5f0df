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

Helpers importable by tests (``from conftest import ...``):
  build_path(name), free_port(), Proc, wait_until(predicate, timeout)

Only the Python standard library, psycopg2 and pyzmq are used.
"""

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


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
