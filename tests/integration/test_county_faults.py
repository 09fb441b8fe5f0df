"""A simulated Pengyang county streaming through one adapter per agency
while everything that can fail, fails (DESIGN.md, "Nothing is lost",
"Nothing is applied twice").

test_county_under_faults: the county-day generator's records are dropped
into each agency's spool directory a slice at a time over the stream
(STREAM_S seconds), and meanwhile, in turn:

  - the hub is killed with SIGKILL and restarted on its port;
  - PostgreSQL is restarted;
  - each adapter is killed with SIGKILL and restarted (same outbox, spool);
  - the hub is stopped (SIGSTOP) for longer than the adapters' ack
    timeout, then continued (SIGCONT).

The round of faults repeats while the stream lasts. Afterwards every event
is stored exactly once, every workflow is in the state the generator's
expectations say (the checks of test_county_day, day_problems), every task
was delivered to its agency's task spool exactly once, and the counts are
printed.

test_outbox_disk_full: an adapter whose outbox lives on a small tmpfs that
is filled up refuses new records loudly (an error naming the outbox file
and the disk), leaves them in its spool, keeps the events already accepted
intact and delivers them, and takes the rest once space returns.
test_outbox_file_size_limit: the same under a file size limit
(RLIMIT_FSIZE) instead of a full disk, which needs no mount.

Longer: ONENET_COUNTY_FAULTS="CASES,SECONDS" (default "1000,30"), e.g.
ONENET_COUNTY_FAULTS=6000,300 streams six thousand cases over five minutes,
with a round of faults after another for all of it.
"""

import collections
import errno
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import (ROOT, build_path, event_count, free_port, outbox_count, query, scalar,
                      wait_until)
from test_county_day import FEEDS, OWN_FORMAT, day_problems, supervised
from test_workflows import start_wf_hub, wait_drained

CASES, STREAM_S = (int(x) for x in
                   (os.environ.get("ONENET_COUNTY_FAULTS") or "1000,30").split(","))
DATE, SEED, MALFORMED = "2020-09-01", 11, 1  # MALFORMED: per agency
ACK_TIMEOUT_MS = 1000


# ---------------------------------------------------------------- the county feed

def county_feed(out_dir, cases=CASES, date=DATE, seed=SEED, malformed=MALFORMED):
    """What the county sends and through which programs: runs the county-day
    generator into OUT_DIR; returns (records by feed as lists of lines, the
    expectations, the adapter program per feed). A feed is an agency, or
    the power or water company's second, generic file (FEEDS). The one
    place to change when an agency gets its own record format and
    program."""
    records, expect = out_dir / "records", out_dir / "expect.json"
    res = subprocess.run(
        [sys.executable, str(ROOT / "deploy/sample/pengyang_sample.py"), "--date", date,
         "--cases", str(cases), "--seed", str(seed), "--malformed", str(malformed),
         "--out", str(records), "--expect", str(expect)],
        capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    lines = {f: (records / f"{f}.ndjson").read_text(encoding="utf-8").splitlines(True)
             for f in FEEDS}
    programs = {f: build_path(f"onenet-adapter-{f}") if f in OWN_FORMAT
                else build_path("onenet-adapter") for f in FEEDS}
    return lines, json.loads(expect.read_text(encoding="utf-8")), programs


class Link:
    """One feed's adapter: a spool it reads, an outbox, a task spool (the
    agency's own adapter only: an <agency>-generic feed's takes no tasks),
    and the processes that ran it (a restart adds one)."""

    def __init__(self, procs, tmp_path, feed, program, hubs, outbox=None):
        self.procs, self.feed, self.program, self.hubs = procs, feed, program, hubs
        self.agency = FEEDS.get(feed, feed)
        self.spool = tmp_path / "spool" / feed
        self.tasks = tmp_path / "tasks" / feed
        self.outbox = str(outbox or tmp_path / f"{feed}.outbox")
        self.spool.mkdir(parents=True)
        self.tasks.parent.mkdir(exist_ok=True)
        self.runs = []

    def start(self):
        argv = [self.program, "--agency", self.agency, "--adapter-id", f"{self.feed}-faults",
                "--hub", ",".join(self.hubs), "--outbox", self.outbox,
                "--spool", str(self.spool), "--spool-scan-ms", "100",
                "--ack-timeout-ms", str(ACK_TIMEOUT_MS), "--heartbeat-ms", "200",
                "--retry-max-ms", "1000"]
        if self.feed == self.agency:
            argv += ["--task-spool", str(self.tasks)]
        self.runs.append(self.procs.start(argv, name=f"adapter-{self.feed}.{len(self.runs)}"))
        return self.runs[-1]

    @property
    def proc(self):
        return self.runs[-1]

    def drop(self, name, lines):
        """The agency system writes a file under a name the adapter ignores,
        then renames it into the spool."""
        tmp = self.spool / f"{name}.ndjson.tmp"
        tmp.write_text("".join(lines), encoding="utf-8")
        tmp.rename(self.spool / f"{name}.ndjson")

    def idle(self):
        """Every spool file consumed and every event acknowledged."""
        assert self.proc.alive(), f"adapter {self.feed} exited:\n{self.proc.log()[-3000:]}"
        return (not list(self.spool.glob("*.ndjson")) and os.path.exists(self.outbox)
                and outbox_count(self.outbox) == 0)

    def log(self):
        return "".join(p.log() for p in self.runs)


class Stream(threading.Thread):
    """Drops each feed's records into its spool in SLICES slices, evenly
    over SECONDS. With hold_at=K, slice K and the rest wait for release():
    a test can be sure the stream is not over when it injects a fault."""

    def __init__(self, links, lines, seconds, slices, hold_at=None):
        super().__init__(daemon=True)
        self.links, self.lines, self.seconds, self.slices = links, lines, seconds, slices
        self.hold_at = hold_at
        self._gate = threading.Event()
        self.dropped = 0
        self.error = None

    def release(self):
        self._gate.set()

    def run(self):
        try:
            t0 = time.monotonic()
            for i in range(self.slices):
                if i == self.hold_at:
                    self._gate.wait()
                    t0 = time.monotonic() - self.seconds * i / self.slices
                for feed, link in self.links.items():
                    lines = self.lines[feed]
                    part = lines[len(lines) * i // self.slices:
                                 len(lines) * (i + 1) // self.slices]
                    if part:
                        link.drop(f"{feed}-{i:05d}", part)
                self.dropped = i + 1
                time.sleep(max(0.0, t0 + self.seconds * (i + 1) / self.slices
                               - time.monotonic()))
        except Exception as e:    # reported by the test
            self.error = e


# ---------------------------------------------------------------- checks

def stored(db):
    c = event_count(db)
    return c[0] if c else 0


def task_deliveries(link):
    """Task seq -> how many times the adapter processes of LINK wrote it to
    the agency's task spool (their logs)."""
    return collections.Counter(
        int(m) for m in re.findall(r'msg="task delivered to the agency".*? task=(\d+)',
                                   link.log()))


def check_tasks(db, links):
    """Every task in the database was written to its agency's task spool,
    exactly once, as the file for its seq; returns problems and the count."""
    problems, total = [], 0
    by_agency = collections.defaultdict(set)
    for agency, seq in query(db, "SELECT agency, seq FROM tasks"):
        by_agency[agency].add(seq)
    for agency, link in links.items():
        want = by_agency.get(agency, set())
        total += len(want)
        files = {int(re.search(r"-task-(\d+)\.ndjson$", p.name).group(1))
                 for p in link.tasks.glob("*-task-*.ndjson")} if link.tasks.exists() else set()
        if files != want:
            problems.append(f"task spool of {agency}: files for {sorted(files - want)} of no "
                            f"task, none for {sorted(want - files)}")
        twice = {seq: n for seq, n in task_deliveries(link).items() if n != 1}
        if twice:
            problems.append(f"tasks of {agency} delivered more than once: {twice}")
    return problems, total


def all_tasks_written(db, links):
    """Every task of the database has its file in its agency's task spool."""
    for agency, n in query(db, "SELECT agency, count(*) FROM tasks GROUP BY agency"):
        link = links.get(agency)
        if link is None or len(list(link.tasks.glob("*-task-*.ndjson"))) < n:
            return False
    return True


# ---------------------------------------------------------------- faults

def fault_hub_sigkill(ctx):
    hub = ctx["hub"]
    hub.kill(signal.SIGKILL)
    assert hub.wait(timeout=10) == -signal.SIGKILL
    ctx["hub"] = start_wf_hub(ctx["procs"], ctx["db"], port=hub.port)


def fault_pg_restart(ctx):
    ctx["pg"].restart()


def fault_adapters_sigkill(ctx):
    for link in ctx["links"].values():
        link.proc.kill(signal.SIGKILL)
        assert link.proc.wait(timeout=10) == -signal.SIGKILL
        link.start()
        time.sleep(0.2)


def fault_hub_sigstop(ctx):
    hub = ctx["hub"]
    hub.kill(signal.SIGSTOP)
    try:
        time.sleep(2.5 * ACK_TIMEOUT_MS / 1000)
    finally:
        hub.kill(signal.SIGCONT)


FAULTS = [("hub SIGKILL + restart", fault_hub_sigkill),
          ("PostgreSQL restart", fault_pg_restart),
          ("each adapter SIGKILL + restart", fault_adapters_sigkill),
          (f"hub SIGSTOP {2.5 * ACK_TIMEOUT_MS / 1000:.1f} s + SIGCONT", fault_hub_sigstop)]


def test_county_under_faults(pg, db, procs, tmp_path):
    """The county streams through all agencies' adapters while the hub is
    killed and stopped, PostgreSQL restarts and every adapter is killed:
    every event once, every workflow as expected, every task once."""
    lines, expect, programs = county_feed(tmp_path)
    cases, n_malformed = expect["cases"], len(expect["rejected"])
    hub = start_wf_hub(procs, db)
    links = {f: Link(procs, tmp_path, f, programs[f], [hub.endpoint]) for f in FEEDS}
    for link in links.values():
        link.start()
    n_events = sum(len(c["events"]) + len(c["recorded"]) for c in cases)
    stream = Stream(links, lines, STREAM_S, slices=max(10, STREAM_S * 2))
    t0 = time.monotonic()
    stream.start()

    ctx = {"pg": pg, "db": db, "procs": procs, "hub": hub, "links": links}
    log = []
    rounds = 0
    while rounds == 0 or stream.is_alive():
        rounds += 1
        for name, fault in FAULTS:
            # let events flow between faults, so each one hits a live stream
            before = stored(db)
            wait_until(lambda: stored(db) > before or not stream.is_alive(), timeout=60,
                       interval=0.1, what=f"events to flow before: {name}")
            t = time.monotonic()
            fault(ctx)
            log.append(f"round {rounds} +{t - t0:5.1f} s {name}: {before} events stored "
                       f"before, took {time.monotonic() - t:.1f} s")
    stream.join(STREAM_S + 60)
    assert stream.error is None, f"dropping records failed: {stream.error!r}"
    faults_done = time.monotonic()
    assert stream.dropped == stream.slices

    wait_until(lambda: all(link.idle() for link in links.values()), timeout=180, interval=0.2,
               what="every spool consumed and every outbox empty")
    t_delivered = time.monotonic()
    wait_drained(db, timeout=120)
    supervised(db)
    wait_until(lambda: all_tasks_written(db, links), timeout=60, interval=0.2,
               what="every task written to its agency's task spool")

    rows, distinct = event_count(db)
    problems, summary = day_problems(db, cases, "together")
    if (rows, distinct) != (n_events, n_events):
        problems.insert(0, f"events: {rows} rows, {distinct} distinct ids, "
                           f"expected {n_events} once each")
    task_problems, n_tasks = check_tasks(db, links)
    problems += task_problems
    dead = scalar(db, "SELECT count(*) FROM dead_letters")
    if dead:
        problems.append(f"{dead} dead letters: "
                        f"{query(db, 'SELECT agency, code, reason FROM dead_letters LIMIT 5')}")
    refused = sum(outbox_count(link.outbox, "quarantine") for link in links.values())
    if refused != n_malformed:
        problems.append(f"{refused} records refused by the adapters, expected the "
                        f"{n_malformed} malformed")
    restarts = sum(len(link.runs) - 1 for link in links.values())
    # the faults were felt: adapters waited past their ack timeout and resent
    resends = sum(len(re.findall(r'msg="(no answer from hub, reconnecting and resending|'
                                 r'batch not acknowledged, resending)"', link.log()))
                  for link in links.values())
    if resends == 0:
        problems.append("no adapter ever resent a batch: the faults did not reach them")
    print("\n".join(log))
    print(f"under faults ({rounds} round(s) in {faults_done - t0:.1f} s, {restarts} adapter "
          f"restarts, {resends} resends): {summary}; {rows} events stored ({distinct} distinct), "
          f"{n_tasks} tasks delivered once each, {refused} records refused; all delivered "
          f"after {t_delivered - t0:.1f} s")
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems[:40])
    for link in links.values():
        assert link.proc.alive(), f"adapter {link.feed} died:\n{link.proc.log()[-3000:]}"
    assert ctx["hub"].terminate() == 0, ctx["hub"].log()[-3000:]


# ---------------------------------------------------------------- disk full

def fill(path):
    """Writes PATH until the file system is full; returns the bytes written."""
    written = 0
    with open(path, "wb", buffering=0) as f:
        block = b"\0" * 65536
        while True:
            try:
                n = f.write(block)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                if len(block) == 1:
                    return written
                block = block[:len(block) // 16]    # fill the last bytes too
                continue
            written += n


def integrity(outbox):
    """PRAGMA integrity_check of an outbox (read-only) and its event count."""
    conn = sqlite3.connect(f"file:{outbox}?mode=ro", uri=True, timeout=10)
    try:
        return (conn.execute("PRAGMA integrity_check").fetchone()[0],
                conn.execute("SELECT count(*) FROM outbox").fetchone()[0])
    finally:
        conn.close()


def refused_again(link, times=2):
    """Waits until LINK's adapter has refused records TIMES more times
    after the refusals logged so far (it retries each second): proof that
    it keeps refusing and keeps running, whatever the machine's load."""
    def refusals():
        return len(re.findall(r'msg="outbox refused records', link.log()))
    want = refusals() + times
    wait_until(lambda: refusals() >= want, timeout=60, interval=0.1,
               what=f"{times} more refusals by the {link.agency} adapter")


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs (needs CAP_SYS_ADMIN: root in the test container;
    test_outbox_file_size_limit covers the same refusal without it)."""
    mnt = tmp_path / "small-disk"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "onenet-test",
                          str(mnt)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.optional("mounting a tmpfs needs CAP_SYS_ADMIN")
def test_outbox_disk_full(db, procs, tmp_path, small_disk):
    """The land adapter's outbox disk fills up while events wait in it for a
    hub that is down: new records are refused loudly and stay in the spool,
    the waiting events are intact and delivered when the hub returns, and
    the refused records are taken and delivered once space returns."""
    lines, _, programs = county_feed(tmp_path, cases=2000, malformed=0)
    land = lines["land"]
    port = free_port()
    hub = start_wf_hub(procs, db, port=port)
    link = Link(procs, tmp_path, "land", programs["land"], [hub.endpoint],
                outbox=small_disk / "land.outbox")
    link.start()

    # a first part goes through; then the hub stops and a second part waits
    first, second, rest = land[:200], land[200:500], land[500:]
    link.drop("land-1", first)
    wait_until(link.idle, timeout=60, what="the first part acknowledged")
    assert hub.terminate() == 0
    link.drop("land-2", second)
    wait_until(lambda: not list(link.spool.glob("*.ndjson")), timeout=30,
               what="the second part accepted")
    waiting = outbox_count(link.outbox)
    assert waiting == len(set(second)), f"{waiting} events wait, expected {len(set(second))}"
    before = len(set(first) | set(second))

    # the disk fills up; the rest (more than the whole disk holds) comes in
    filler = fill(small_disk / "filler")
    link.drop("land-3", rest)
    m = link.proc.wait_for_log(
        r'level=error proc=adapter msg="outbox refused records, input paused".*', 30)
    assert link.outbox in m.group(0) and re.search(r"full|No space", m.group(0)), m.group(0)
    refused_again(link)                  # it keeps refusing, and keeps running
    assert link.proc.alive()
    assert (link.spool / "land-3.ndjson").exists(), "the refused file left the spool"
    assert integrity(link.outbox)[0] == "ok"

    # the hub returns while the disk is still full: the waiting events go
    hub = start_wf_hub(procs, db, port=port)
    wait_until(lambda: stored(db) == before, timeout=60, interval=0.1,
               what="the waiting events delivered")
    ok, _ = integrity(link.outbox)
    assert ok == "ok"
    assert (link.spool / "land-3.ndjson").exists()

    # space returns: the rest is taken, delivered, and the outbox empties
    os.unlink(small_disk / "filler")
    wait_until(link.idle, timeout=120, interval=0.2, what="the rest delivered")
    distinct = len(set(land))
    assert event_count(db) == (distinct, distinct)
    assert integrity(link.outbox) == ("ok", 0)
    refusals = len(re.findall(r'msg="outbox refused records', link.log()))
    print(f"disk full: {filler} bytes of filler; {waiting} waiting events kept and "
          f"delivered; {refusals} refusals logged; {distinct} events stored once each")
    assert link.proc.alive()
    assert hub.terminate() == 0


def test_outbox_file_size_limit(db, procs, tmp_path):
    """The same without a small disk: a file size limit (RLIMIT_FSIZE, set
    with prlimit on the running adapter, as `LimitFSIZE=` or `ulimit -f`
    would) stops the outbox from growing. The adapter is not killed by
    SIGXFSZ: it refuses the records, naming the outbox and the reason, and
    takes them once the limit is lifted."""
    lines, _, programs = county_feed(tmp_path, cases=1000, malformed=0)
    land = lines["land"]
    hub = start_wf_hub(procs, db)
    link = Link(procs, tmp_path, "land", programs["land"], [hub.endpoint])
    link.start()
    link.drop("land-1", land[:50])
    wait_until(link.idle, timeout=60, what="the first records acknowledged")
    # the outbox's files may not grow past 64 KiB (its log file may: it is
    # written by this process, not the adapter, at another offset)
    subprocess.run(["prlimit", "--pid", str(link.proc.pid), "--fsize=65536:unlimited"],
                   check=True)
    link.drop("land-2", land[50:])
    m = link.proc.wait_for_log(
        r'level=error proc=adapter msg="outbox refused records, input paused".*', 30)
    assert link.outbox in m.group(0) and re.search(r"I/O error|File too large", m.group(0)), \
        m.group(0)
    refused_again(link)
    assert link.proc.alive() and (link.spool / "land-2.ndjson").exists()
    subprocess.run(["prlimit", "--pid", str(link.proc.pid), "--fsize=unlimited"], check=True)
    wait_until(link.idle, timeout=60, interval=0.2, what="the rest delivered")
    distinct = len(set(land))
    assert event_count(db) == (distinct, distinct)
    assert integrity(link.outbox) == ("ok", 0)
    print(f"file size limit: refused with {m.group(0).split('error=')[-1]}, "
          f"{distinct} events stored once each after the limit was lifted")
