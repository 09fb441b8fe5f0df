#!/usr/bin/env python3
"""onenet ingest benchmark: the hub against PostgreSQL COPY of what it writes.

Measures, side by side in one run and on one database, in rounds that run
the designs in an order rotated per round (a warm-up round first, not
counted):
  (a) the yardstick: COPY of every column the hub writes per event (the
      hash chain's included) into a table shaped like `events`, one
      transaction per --copy-chunk rows (the hub's batch_max), as the hub
      commits (the hub writes nothing else per event: correlation follows
      the hash chain, docs/schema.md);
  (b) events sent by several senders through onenet-hub, durably committed
      and acknowledged (protocol-level senders, no adapter outbox); the
      senders encode everything first and start together, and the time is
      from the first send to the last acknowledgement;
  (c) the same hub then takes NDJSON records from real onenet-adapter
      processes (parse, fsync'ed SQLite outbox, send, acknowledgement);
  (d) correlation: how fast the hub's correlator turns the stored events
      into workflow instances, timed from the first send until the backlog is
      empty (whole property-transfer cases: land, tax, power and water
      events sharing a unit number);
  (e) the naive design: the same rows stored with one INSERT and one commit
      per event over 8 connections (onenet-bench-naive, C and libpq);
  (f) the broker design, with a classic and a quorum queue: the same events
      published with confirms to RabbitMQ, one consumer COPYing batches into
      PostgreSQL, committing, then acknowledging (onenet-bench-rabbit), on
      a private node;
and for each design the CPU seconds per 100 000 events (its clients, the
hub or the broker, and all of PostgreSQL). Then send-to-durable latency at a
fixed offered rate (5 000/s) for the hub and the broker designs,
throughput and p50/p99 latency against offered load (one paced sender per
rate) drawn into an SVG, and the hub's memory over a million events.
Every rate is the median of the counted rounds; the rows COPY'd and
INSERTed one by one are exactly the rows the hub stored in the warm-up
round.

Usage: tests/bench/run.sh [--events N] [--senders K] [--rounds R] ...
(run.sh installs the broker, builds, starts a private PostgreSQL and calls
this script).
"""
import argparse
import io
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import tempfile
import time
import uuid

import psycopg2

from benchlib import (Hub, RabbitBroker, children_cpu, fresh_db, load_average, mib, postmaster_pid,
                      proc_cpu, proc_memory, tree_cpu, with_db)

COLUMNS = ("event_id, agency, adapter_id, case_no, event_type, occurred_at, "
           "accepted_at, received_at, schema_version, keys, attrs, hub_id")
# what the hub writes into events per event (hub/store.c): the columns
# above and the hash chain's; stored_at is the column default, now()
CHAIN_COLUMNS = "chain_id, seq, prev_digest, content_digest, row_digest"
ALL_COLUMNS = f"{COLUMNS}, {CHAIN_COLUMNS}"


def run_senders(build, endpoint, senders, events, tag, rate=0, batch=500, window=8,
                unit_bases=None, extra=()):
    """K senders of EVENTS each. Each encodes all its batches first, then
    says "ready"; once all are ready they are started together, and the
    time is from the first send of any to the last acknowledgement of any
    (the senders' own CLOCK_MONOTONIC times). Sender i's cases start at
    unit number UNIT_BASES[i] (default i * EVENTS); EXTRA are more sender
    options. Returns (seconds, results)."""
    procs = []
    try:
        for i in range(senders):
            # whole property-transfer cases (six events of four agencies per unit)
            argv = [os.path.join(build, "onenet-bench-sender"), "--hub", endpoint,
                    "--events", str(events), "--adapter-id", f"{tag}-{i}",
                    "--batch", str(batch), "--window", str(window), "--cases",
                    "--unit-base", str(unit_bases[i] if unit_bases else i * events),
                    "--wait-go", *extra]
            if rate:
                argv += ["--rate", str(rate)]
            procs.append(subprocess.Popen(argv, stdin=subprocess.PIPE,
                                          stdout=subprocess.PIPE, text=True))
        for p in procs:
            line = p.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"sender {p.args[6]} did not get ready: {line!r}")
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.close()
        results = [json.loads(p.stdout.read()) for p in procs]
        for p in procs:
            p.wait()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for p, r in zip(procs, results):
        if p.returncode != 0 or r["stored"] != events:
            raise RuntimeError(f"sender {p.args[6]} failed: {r}")
    wall = (max(r["end_us"] for r in results) - min(r["start_us"] for r in results)) / 1e6
    return wall, results


def wait_correlated(conninfo):
    """Returns once the hub has correlated every stored event."""
    conn = psycopg2.connect(conninfo)
    conn.autocommit = True
    with conn.cursor() as cur:
        while True:
            cur.execute("SELECT count(*) FROM correlation_backlog")
            if cur.fetchone()[0] == 0:
                break
            time.sleep(0.05)
    conn.close()


def ndjson_files(workdir, senders, events):
    """One NDJSON file per adapter, records of the generic format."""
    paths = []
    rnd = random.Random(7)
    for i in range(senders):
        path = os.path.join(workdir, f"adapter-{i}.ndjson")
        with open(path, "w") as f:
            for n in range(events):
                unit = f"640425{n // 1000 % 1000:03d}{n % 1000:03d}GB{n % 100000:05d}F{n:08d}"
                rec = {"event_id": str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
                       "case_no": f"PY-BDC-{i}-{n:08d}",
                       "event_type": "transfer.accepted",
                       "occurred_at": "2026-11-28T09:30:00+08:00",
                       "keys": {"unit_number": unit},
                       "attrs": {"transfer_kind": "二手房买卖", "deed_tax_yuan": 12345.5,
                                 "has_mortgage": n % 3 == 0}}
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        paths.append(path)
    return paths


def run_adapters(build, endpoint, files, workdir, tag):
    procs = []
    for i, path in enumerate(files):
        outbox = os.path.join(workdir, f"{tag}-{i}.outbox")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(outbox + suffix):
                os.unlink(outbox + suffix)
        log = open(os.path.join(workdir, f"{tag}-{i}.log"), "w")
        procs.append(subprocess.Popen(
            [os.path.join(build, "onenet-adapter"), "--agency", "land", "--adapter-id",
             f"{tag}-{i}", "--hub", endpoint, "--outbox", outbox, "--once",
             "--batch-max", "1000"],
            stdin=open(path), stdout=log, stderr=subprocess.STDOUT))
    t0 = time.monotonic()
    for p in procs:
        if p.wait(timeout=3600) != 0:
            raise RuntimeError(f"adapter failed, see {workdir}")
    return time.monotonic() - t0


def scratch_table(conninfo, name, like="events"):
    """An empty table shaped like LIKE (same columns, defaults, constraints
    and indexes)."""
    conn = psycopg2.connect(conninfo)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {name}")
        cur.execute(f"CREATE TABLE {name} (LIKE {like} INCLUDING ALL)")
    return conn


def drop_checked(conn, name, n_rows):
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {name}")
        stored = cur.fetchone()[0]
        cur.execute(f"DROP TABLE {name}")
    conn.close()
    if stored != n_rows:
        raise RuntimeError(f"{name}: {stored} rows stored, {n_rows} expected")


def copy_chunks(rows_path, chunk):
    """The exported rows in chunks of CHUNK rows, as bytes."""
    with open(rows_path, "rb") as f:
        lines = f.readlines()
    chunks = [b"".join(lines[i:i + chunk]) for i in range(0, len(lines), chunk)]
    return chunks, len(lines)


def copy_rate(conninfo, chunks, n_rows, pm_pid):
    """The yardstick: what the hub writes per event, with PostgreSQL's
    fastest load path. Each chunk (the hub's batch_max rows) is one
    transaction of COPY into an events-shaped table (every column the hub
    writes, the chain's included), as the hub commits a batch. Returns
    (rows/s, CPU seconds of this client and of PostgreSQL)."""
    conn = scratch_table(conninfo, "copy_target")
    conn.autocommit = False
    cpu0, pg0 = time.thread_time(), tree_cpu(pm_pid)
    t0 = time.monotonic()
    with conn.cursor() as cur:
        for rows in chunks:
            cur.copy_expert(f"COPY copy_target ({ALL_COLUMNS}) FROM STDIN", io.BytesIO(rows),
                            size=1 << 20)
            conn.commit()
    seconds = time.monotonic() - t0
    cpu = time.thread_time() - cpu0 + tree_cpu(pm_pid) - pg0
    drop_checked(conn, "copy_target", n_rows)
    return n_rows / seconds, cpu


def rabbit_run(build, conninfo, broker, quorum, publishers, events, pm_pid, rate=0):
    """The broker design (onenet-bench-rabbit): PUBLISHERS x EVENTS events
    published with confirms to a durable (or quorum) queue of BROKER, one
    consumer COPYing them into an events-shaped table (what the hub writes
    per event, but the chain). Returns (its JSON result, CPU seconds of it,
    the broker and PostgreSQL)."""
    conn = scratch_table(conninfo, "rabbit_target")
    argv = [os.path.join(build, "onenet-bench-rabbit"), "--port", str(broker.port),
            "--db", conninfo, "--table", "rabbit_target",
            "--publishers", str(publishers), "--events", str(events), "--cases"]
    if quorum:
        argv.append("--quorum")
    if rate:
        argv += ["--rate", str(rate)]
    c0, b0, p0 = children_cpu(), tree_cpu(broker.pid), tree_cpu(pm_pid)
    res = subprocess.run(argv, stdout=subprocess.PIPE, text=True, timeout=3600)
    used = children_cpu() - c0 + tree_cpu(broker.pid) - b0 + tree_cpu(pm_pid) - p0
    if res.returncode != 0:
        raise RuntimeError(f"onenet-bench-rabbit failed ({res.returncode}), see its messages")
    out = json.loads(res.stdout)
    drop_checked(conn, "rabbit_target", publishers * events)
    return out, used


def naive_rate(build, conninfo, rows_path, n_rows, connections, pm_pid):
    """One INSERT and one commit per event over CONNECTIONS connections.
    Returns (events/s, CPU seconds of the client and of PostgreSQL)."""
    conn = scratch_table(conninfo, "naive_target")
    cpu0, pg0 = children_cpu(), tree_cpu(pm_pid)
    out = subprocess.run(
        [os.path.join(build, "onenet-bench-naive"), "--db", conninfo, "--rows", rows_path,
         "--table", "naive_target", "--columns", ALL_COLUMNS, "--connections",
         str(connections), "--limit", str(n_rows)],
        stdout=subprocess.PIPE, text=True, check=True).stdout
    cpu = children_cpu() - cpu0 + tree_cpu(pm_pid) - pg0
    res = json.loads(out)
    drop_checked(conn, "naive_target", res["events"])
    return res["rate"], cpu


class MemoryWatch:
    """Samples a process's VmRSS every 100 ms on a thread; .peak in KiB."""

    def __init__(self, pid):
        self.pid, self.peak = pid, 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done.wait(0.1):
            try:
                self.peak = max(self.peak, proc_memory(self.pid)[0])
            except OSError:
                return

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.peak


def load_sweep(args, admin, workdir):
    """Throughput and latency at each offered rate, one paced sender."""
    fresh_db(admin, "onenet_bench")
    hub = Hub(args.build, with_db(args.db, "onenet_bench"), workdir)
    points = []
    try:
        for rate in args.sweep_rates:
            # a batch per millisecond at most, as an adapter under that load sends
            batch = max(5, rate // 1000)
            _, res = run_senders(args.build, hub.endpoint, 1, rate * args.sweep_seconds,
                                 f"sweep{rate}", rate=rate, batch=batch, window=256)
            r = res[0]
            points.append({"offered": rate, "achieved": r["rate"], "p50_ms": r["p50_ms"],
                           "p99_ms": r["p99_ms"], "max_ms": r["max_ms"]})
            print(f"  offered {rate:>6,}/s: achieved {r['rate']:>8,.0f}/s  "
                  f"p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms", flush=True)
    finally:
        hub.stop()
    return points


def plot_sweep(points, path, figures):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    offered = [p["offered"] for p in points]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    ax1.plot(offered, [p["achieved"] for p in points], "o-", label="hub, acknowledged")
    ax1.plot(offered, offered, ":", color="grey", label="offered")
    ax1.axhline(figures["hub_events_per_s"], color="C2", ls="--",
                label=f"hub, 4 senders unpaced ({figures['hub_events_per_s']:,.0f}/s)")
    ax1.axhline(figures["copy_rows_per_s"], color="C3", ls="--",
                label=f"PostgreSQL COPY ({figures['copy_rows_per_s']:,.0f}/s)")
    ax1.axhline(figures["naive_events_per_s"], color="C4", ls="--",
                label=f"naive INSERT+commit ({figures['naive_events_per_s']:,.0f}/s)")
    ax1.set_xscale("log")
    ax1.set_yscale("log")
    ax1.set_xlabel("offered load (events/s, one paced sender)")
    ax1.set_ylabel("events/s")
    ax1.set_title("throughput")
    ax1.legend(fontsize=7)
    ax2.plot(offered, [p["p50_ms"] for p in points], "o-", label="p50")
    ax2.plot(offered, [p["p99_ms"] for p in points], "s-", label="p99")
    ax2.axhline(10, color="grey", ls=":", label="p99 target 10 ms")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("offered load (events/s)")
    ax2.set_ylabel("send to acknowledgement (ms)")
    ax2.set_title("latency")
    ax2.legend(fontsize=7)
    fig.suptitle("onenet hub: durable ingest against offered load")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def memory_run(args, admin, workdir):
    """VmRSS and VmHWM of one hub process after every quarter of
    --memory-events events, the last figure once correlation caught up."""
    fresh_db(admin, "onenet_bench")
    conninfo = with_db(args.db, "onenet_bench")
    hub = Hub(args.build, conninfo, workdir)
    marks = []
    try:
        marks.append((0, *proc_memory(hub.pid)))
        per_sender = args.memory_events // 4 // args.senders
        for wave in range(4):
            run_senders(args.build, hub.endpoint, args.senders, per_sender, f"mem{wave}")
            marks.append(((wave + 1) * per_sender * args.senders, *proc_memory(hub.pid)))
            rss, hwm = marks[-1][1:]
            print(f"  after {marks[-1][0]:>9,} events: VmRSS {mib(rss):.1f} MiB  "
                  f"VmHWM {mib(hwm):.1f} MiB", flush=True)
        wait_correlated(conninfo)
        rss, hwm = proc_memory(hub.pid)
        print(f"  all correlated:         VmRSS {mib(rss):.1f} MiB  VmHWM {mib(hwm):.1f} MiB",
              flush=True)
    finally:
        hub.stop()
    return marks, (rss, hwm)


DESIGNS = ("hub", "copy", "naive", "rabbit", "rabbit_quorum")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--db", required=True, help="conninfo URI of an admin database")
    ap.add_argument("--events", type=int, default=100000, help="events per sender")
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--adapter-events", type=int, default=50000,
                    help="events per real adapter (0 skips that part)")
    ap.add_argument("--latency-rate", type=int, default=5000)
    ap.add_argument("--latency-seconds", type=int, default=20)
    ap.add_argument("--naive-events", type=int, default=40000,
                    help="rows of the hub's first round stored one INSERT+commit each")
    ap.add_argument("--naive-connections", type=int, default=8)
    ap.add_argument("--sweep-rates", default="1000,2000,5000,10000,20000,40000",
                    help="offered rates (events/s) for the load sweep; empty skips it")
    ap.add_argument("--sweep-seconds", type=int, default=8)
    ap.add_argument("--plot", help="SVG of the load sweep (default: BUILD/bench-load.svg)")
    ap.add_argument("--memory-events", type=int, default=1000000,
                    help="events through one hub for the memory figures (0 skips)")
    ap.add_argument("--copy-chunk", type=int, default=2000,
                    help="rows per COPY transaction (the hub's default batch_max)")
    ap.add_argument("--rabbit-queues", default="classic,quorum",
                    help="queue kinds of the RabbitMQ design (classic, quorum); empty "
                         "leaves it out")
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()
    # SIGTERM (and SIGINT, which background jobs ignore) unwind through the
    # finally blocks that stop the hubs, the broker and the databases
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args.sweep_rates = [int(r) for r in args.sweep_rates.split(",") if r.strip()]
    args.rabbit_queues = [q.strip() for q in args.rabbit_queues.split(",") if q.strip()]
    for q in args.rabbit_queues:
        if q not in ("classic", "quorum"):
            ap.error(f"--rabbit-queues: unknown queue kind {q!r} (classic, quorum)")

    workdir = tempfile.mkdtemp(prefix="onenet-bench.")
    admin = psycopg2.connect(args.db)
    admin.autocommit = True
    pm_pid = postmaster_pid(admin)
    total = args.events * args.senders
    # per design: rates and CPU seconds of the counted rounds
    rates = {d: [] for d in DESIGNS}
    cpu = {d: [] for d in DESIGNS}
    adapter_rates, corr_rates, hub_peaks, ratios = [], [], [], []
    rows_path = os.path.join(workdir, "rows.copy")
    files = ndjson_files(workdir, args.senders, args.adapter_events) \
        if args.adapter_events else []
    conninfo = with_db(args.db, "onenet_bench")
    chunks = None
    load_before = load_average()
    print(f"onenet ingest benchmark: {args.senders} senders x {args.events} events, "
          f"1 warm-up round + {args.rounds} rounds, work dir {workdir}; "
          f"load average {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}",
          flush=True)

    def run_hub(counted, rnd):
        hub = Hub(args.build, conninfo, workdir)
        watch = MemoryWatch(hub.pid)
        try:
            c0, h0, p0 = children_cpu(), proc_cpu(hub.pid), tree_cpu(pm_pid)
            t0 = time.monotonic()
            wall, _ = run_senders(args.build, hub.endpoint, args.senders, args.events,
                                  f"r{rnd}")
            used = children_cpu() - c0 + proc_cpu(hub.pid) - h0 + tree_cpu(pm_pid) - p0
            nonlocal chunks
            if chunks is None:
                # the rows the senders' events became, which the other
                # designs then write (before the adapters add theirs)
                conn = psycopg2.connect(conninfo)
                with conn.cursor() as cur, open(rows_path, "w") as f:
                    cur.copy_expert(f"COPY (SELECT {ALL_COLUMNS} FROM events "
                                    "ORDER BY seq) TO STDOUT", f)
                conn.close()
                chunks, n = copy_chunks(rows_path, args.copy_chunk)
                if n != total:
                    raise RuntimeError(f"hub stored {n} rows, {total} sent")
            wait_correlated(conninfo)
            corr = total / (time.monotonic() - t0)
            if files:
                wall_a = run_adapters(args.build, hub.endpoint, files, workdir, f"a{rnd}")
        finally:
            peak = watch.stop()
            hub.stop()
        if counted:
            rates["hub"].append(total / wall)
            cpu["hub"].append(used)
            corr_rates.append(corr)
            hub_peaks.append(peak)
            if files:
                adapter_rates.append(len(files) * args.adapter_events / wall_a)
        return f"hub {total / wall:,.0f} ev/s (correlated {corr:,.0f} ev/s" + \
            (f", adapters {len(files) * args.adapter_events / wall_a:,.0f} ev/s)" if files
             else ")")

    def run_copy(counted, rnd):
        rate, used = copy_rate(conninfo, chunks, total, pm_pid)
        if counted:
            rates["copy"].append(rate)
            cpu["copy"].append(used)
        return f"COPY {rate:,.0f} rows/s"

    def run_naive(counted, rnd):
        rate, used = naive_rate(args.build, conninfo, rows_path,
                                min(args.naive_events, total), args.naive_connections, pm_pid)
        if counted:
            rates["naive"].append(rate)
            cpu["naive"].append(used * total / min(args.naive_events, total))
        return f"naive {rate:,.0f} ev/s"

    def rabbit_runner(design, quorum):
        def run(counted, rnd):
            out, used = rabbit_run(args.build, conninfo, broker, quorum, args.senders,
                                   args.events, pm_pid)
            if counted:
                rates[design].append(out["rate"])
                cpu[design].append(used)
            return f"{design} {out['rate']:,.0f} ev/s"
        return run

    runners = {"hub": run_hub, "copy": run_copy, "naive": run_naive,
               "rabbit": rabbit_runner("rabbit", False),
               "rabbit_quorum": rabbit_runner("rabbit_quorum", True)}
    order = ["hub", "copy", "naive"]
    broker = None
    if args.rabbit_queues:
        if not os.path.exists(os.path.join(args.build, "onenet-bench-rabbit")):
            raise SystemExit("onenet-bench-rabbit was not built (librabbitmq-dev missing?); "
                             "--rabbit-queues '' leaves the broker design out")
        broker = RabbitBroker()
        print(f"RabbitMQ node {broker.node} on 127.0.0.1:{broker.port}", flush=True)
        order += ["rabbit" if q == "classic" else "rabbit_quorum" for q in args.rabbit_queues]
    peer_lat = {}
    try:
        for rnd in range(args.rounds + 1):
            counted = rnd > 0            # round 0 warms up and is not counted
            fresh_db(admin, "onenet_bench")
            Hub(args.build, conninfo, workdir).stop()    # the schema, for LIKE events
            # round r starts with design r mod n; the warm-up with the hub,
            # whose stored rows the others then write
            turn = order[(rnd - 1) % len(order):] + order[:(rnd - 1) % len(order)] \
                if counted else order
            said = []
            for design in turn:
                said.append(runners[design](counted, rnd))
            if counted:
                ratios.append(rates["hub"][-1] / rates["copy"][-1])
            print(f"  {'round ' + str(rnd) if counted else 'warm-up'}: " + ", ".join(said)
                  + (f"; hub / COPY {ratios[-1]:.2f}" if counted else ""), flush=True)
        # the broker design's latency at the same offered rate as the hub's
        if broker:
            fresh_db(admin, "onenet_bench")
            Hub(args.build, conninfo, workdir).stop()
            for design in order[3:]:
                peer_lat[design], _ = rabbit_run(
                    args.build, conninfo, broker, design == "rabbit_quorum", 1,
                    args.latency_rate * args.latency_seconds, pm_pid, rate=args.latency_rate)
    finally:
        if broker:
            broker.stop()

    # latency at a fixed offered rate, on a fresh database
    fresh_db(admin, "onenet_bench")
    hub = Hub(args.build, with_db(args.db, "onenet_bench"), workdir)
    try:
        n = args.latency_rate * args.latency_seconds
        _, res = run_senders(args.build, hub.endpoint, 1, n, "lat",
                             rate=args.latency_rate, batch=5, window=256)
    finally:
        hub.stop()
    lat = res[0]

    points = []
    if args.sweep_rates:
        print("load sweep (one paced sender per offered rate):", flush=True)
        points = load_sweep(args, admin, workdir)
    marks, settled = [], None
    if args.memory_events:
        print(f"hub memory over {args.memory_events:,} events (one hub process):", flush=True)
        marks, settled = memory_run(args, admin, workdir)

    med = statistics.median
    copy_med = med(rates["copy"])
    load_after = load_average()
    figures = {
        "events_per_round": total,
        "rounds": args.rounds,
        "copy_chunk_rows": args.copy_chunk,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "designs": {d: {"per_s": med(rates[d]), "rounds_per_s": rates[d],
                        "over_copy": med(rates[d]) / copy_med,
                        "cpu_s_per_100k": med(cpu[d]) / total * 100000,
                        "rounds_cpu_s": cpu[d]} for d in DESIGNS if rates[d]},
        "hub_over_copy_rounds": ratios,
        "hub_over_copy_median_of_rounds": med(ratios),
        "copy_rows_per_s": copy_med,
        "hub_events_per_s": med(rates["hub"]),
        "hub_over_copy": med(rates["hub"]) / copy_med,
        "correlated_events_per_s": med(corr_rates),
        "adapters_events_per_s": med(adapter_rates) if adapter_rates else None,
        "adapters_over_copy": med(adapter_rates) / copy_med if adapter_rates else None,
        "latency_offered_per_s": args.latency_rate,
        "latency_p50_ms": lat["p50_ms"],
        "latency_p99_ms": lat["p99_ms"],
        "latency_max_ms": lat["max_ms"],
        "naive_events_per_s": med(rates["naive"]),
        "naive_connections": args.naive_connections,
        "hub_over_naive": med(rates["hub"]) / med(rates["naive"]),
        "hub_peak_rss_kib_under_load": max(hub_peaks),
        "peer_latency": {d: {k: v[k] for k in ("p50_ms", "p99_ms", "max_ms", "rate")}
                         for d, v in peer_lat.items()},
        "load_sweep": points,
        "memory_marks": [{"events": m[0], "rss_kib": m[1], "hwm_kib": m[2]} for m in marks],
        "memory_settled": {"rss_kib": settled[0], "hwm_kib": settled[1]} if settled else None,
    }
    names = {"copy": "COPY, every column the hub writes",
             "hub": "hub, durable + acknowledged",
             "naive": f"naive: INSERT+commit, {args.naive_connections} conns",
             "rabbit": "RabbitMQ classic queue -> COPY",
             "rabbit_quorum": "RabbitMQ quorum queue -> COPY"}
    print()
    print(f"{'design':<38} {'median/s':>10} {'/ COPY':>7} {'CPU s per 100k':>15}   rounds")
    for d, f in figures["designs"].items():
        print(f"{names[d]:<38} {f['per_s']:>10,.0f} {f['over_copy']:>7.2f} "
              f"{f['cpu_s_per_100k']:>15.2f}   " + ", ".join(f"{r:,.0f}" for r in rates[d]))
    print(f"hub / COPY per round: {', '.join(f'{r:.2f}' for r in ratios)}; median "
          f"{med(ratios):.2f}  (target >= 0.7)")
    print(f"hub / naive {figures['hub_over_naive']:.1f}x"
          + "".join(f"; hub / {d} {med(rates['hub']) / med(rates[d]):.2f}x"
                    for d in ("rabbit", "rabbit_quorum") if rates[d]))
    print(f"correlated into workflows        {figures['correlated_events_per_s']:>10,.0f} ev/s   "
          f"ratio {figures['correlated_events_per_s'] / copy_med:.2f}")
    if adapter_rates:
        print(f"real adapters (outbox) -> hub    {figures['adapters_events_per_s']:>10,.0f} ev/s   "
              f"ratio {figures['adapters_over_copy']:.2f}")
    print(f"hub latency at {args.latency_rate}/s offered    p50 {lat['p50_ms']:.2f} ms  "
          f"p99 {lat['p99_ms']:.2f} ms  max {lat['max_ms']:.2f} ms  (target p99 <= 10 ms)")
    for d, v in peer_lat.items():
        print(f"{d} latency at {args.latency_rate}/s offered (publish -> commit)  p50 "
              f"{v['p50_ms']:.2f} ms  p99 {v['p99_ms']:.2f} ms  max {v['max_ms']:.2f} ms")
    print(f"hub peak RSS under load          {mib(max(hub_peaks)):>10.1f} MiB  "
          f"(rounds: {', '.join(f'{mib(p):.1f}' for p in hub_peaks)})")
    print(f"load average: before {' '.join(f'{x:.2f}' for x in load_before)}, after "
          f"{' '.join(f'{x:.2f}' for x in load_after)} (1, 5, 15 min; {os.cpu_count()} cores)")
    if marks:
        print(f"hub RSS after {marks[-1][0]:,} events     {mib(marks[-1][1]):>10.1f} MiB  "
              f"(after {marks[1][0]:,}: {mib(marks[1][1]):.1f} MiB; correlated: "
              f"{mib(settled[0]):.1f} MiB; VmHWM {mib(settled[1]):.1f} MiB)")
    if points:
        plot = args.plot or os.path.join(args.build, "bench-load.svg")
        plot_sweep(points, plot, figures)
        print(f"plot of throughput and latency against offered load: {plot}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    fresh_db(admin, "onenet_bench")
    with admin.cursor() as cur:
        cur.execute("DROP DATABASE onenet_bench WITH (FORCE)")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
