#!/usr/bin/env python3
"""onenet ingest benchmark: the hub against PostgreSQL COPY of the same rows.

Measures, side by side in one run and on one database:
  (a) COPY of event rows into a table shaped like `events` (same columns,
      same indexes) — PostgreSQL's fastest load path, the yardstick;
  (b) events sent by several senders through onenet-hub, durably committed
      and acknowledged (protocol-level senders, no adapter outbox);
  (c) the same through real onenet-adapter processes (NDJSON parse, fsync'ed
      SQLite outbox, send, acknowledgement, outbox delete);
  (d) send-to-acknowledgement latency at a fixed offered rate (5 000/s);
  (e) correlation: how fast the hub's correlator turns the stored events
      into workflow instances, timed from the first send until the queue is
      empty. The senders send whole property-transfer cases (land, tax,
      power and water events sharing a unit number).
Each throughput figure is repeated --rounds times, interleaved, and the
median is reported with the ratio to the median COPY rate. The rows COPY'd
are exactly the rows the hub stored in its first round.

Usage: tests/bench/run.sh [--events N] [--senders K] [--rounds R] ...
(run.sh builds, starts a private PostgreSQL and calls this script).
"""
import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import psycopg2

from benchlib import Hub, fresh_db, mib, proc_memory, with_db

COLUMNS = ("event_id, agency, adapter_id, case_no, event_type, occurred_at, "
           "accepted_at, received_at, schema_version, keys, attrs, hub_id")


def run_senders(build, endpoint, senders, events, tag, rate=0, batch=500, window=8):
    procs = []
    for i in range(senders):
        # whole property-transfer cases (six events of four agencies per unit)
        argv = [os.path.join(build, "onenet-bench-sender"), "--hub", endpoint,
                "--events", str(events), "--adapter-id", f"{tag}-{i}",
                "--batch", str(batch), "--window", str(window), "--cases",
                "--unit-base", str(i * events)]
        if rate:
            argv += ["--rate", str(rate)]
        procs.append(subprocess.Popen(argv, stdout=subprocess.PIPE, text=True))
    t0 = time.monotonic()
    results = [json.loads(p.communicate()[0]) for p in procs]
    wall = time.monotonic() - t0
    for p, r in zip(procs, results):
        if p.returncode != 0 or r["stored"] != events:
            raise RuntimeError(f"sender failed: {r}")
    return wall, results


def wait_correlated(conninfo):
    """Returns once the hub has correlated every stored event."""
    conn = psycopg2.connect(conninfo)
    conn.autocommit = True
    with conn.cursor() as cur:
        while True:
            cur.execute("SELECT count(*) FROM correlation_queue")
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


def copy_rate(conninfo, rows_path, n_rows):
    conn = psycopg2.connect(conninfo)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS copy_target")
        cur.execute("CREATE TABLE copy_target (LIKE events INCLUDING ALL)")
    conn.autocommit = False
    t0 = time.monotonic()
    with conn.cursor() as cur, open(rows_path) as f:
        cur.copy_expert(f"COPY copy_target ({COLUMNS}) FROM STDIN", f)
    conn.commit()
    seconds = time.monotonic() - t0
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM copy_target")
        assert cur.fetchone()[0] == n_rows
        cur.execute("DROP TABLE copy_target")
    conn.commit()
    conn.close()
    return n_rows / seconds


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
    ap.add_argument("--json", help="also write the figures to this file")
    args = ap.parse_args()

    workdir = tempfile.mkdtemp(prefix="onenet-bench.")
    admin = psycopg2.connect(args.db)
    admin.autocommit = True
    total = args.events * args.senders
    hub_rates, copy_rates, adapter_rates, corr_rates = [], [], [], []
    rows_path = os.path.join(workdir, "rows.copy")
    files = ndjson_files(workdir, args.senders, args.adapter_events) \
        if args.adapter_events else []
    print(f"onenet ingest benchmark: {args.senders} senders x {args.events} events, "
          f"{args.rounds} rounds, work dir {workdir}", flush=True)
    for rnd in range(args.rounds):
        fresh_db(admin, "onenet_bench")
        conninfo = with_db(args.db, "onenet_bench")
        hub = Hub(args.build, conninfo, workdir)
        try:
            t0 = time.monotonic()
            wall, _ = run_senders(args.build, hub.endpoint, args.senders, args.events,
                                  f"r{rnd}")
            hub_rates.append(total / wall)
            wait_correlated(conninfo)
            corr_rates.append(total / (time.monotonic() - t0))
            if rnd == 0:
                conn = psycopg2.connect(conninfo)
                with conn.cursor() as cur, open(rows_path, "w") as f:
                    cur.copy_expert(f"COPY (SELECT {COLUMNS} FROM events) TO STDOUT", f)
                conn.close()
            copy_rates.append(copy_rate(conninfo, rows_path, total))
            if files:
                wall = run_adapters(args.build, hub.endpoint, files, workdir, f"a{rnd}")
                adapter_rates.append(len(files) * args.adapter_events / wall)
        finally:
            hub.stop()
        print(f"  round {rnd + 1}: hub {hub_rates[-1]:,.0f} ev/s, correlated "
              f"{corr_rates[-1]:,.0f} ev/s, COPY {copy_rates[-1]:,.0f} rows/s"
              + (f", adapters {adapter_rates[-1]:,.0f} ev/s" if files else ""), flush=True)

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

    med = statistics.median
    figures = {
        "events_per_round": total,
        "copy_rows_per_s": med(copy_rates),
        "hub_events_per_s": med(hub_rates),
        "hub_over_copy": med(hub_rates) / med(copy_rates),
        "correlated_events_per_s": med(corr_rates),
        "adapters_events_per_s": med(adapter_rates) if adapter_rates else None,
        "adapters_over_copy": med(adapter_rates) / med(copy_rates) if adapter_rates else None,
        "latency_offered_per_s": args.latency_rate,
        "latency_p50_ms": lat["p50_ms"],
        "latency_p99_ms": lat["p99_ms"],
        "latency_max_ms": lat["max_ms"],
    }
    print()
    print(f"COPY into events-shaped table    {figures['copy_rows_per_s']:>10,.0f} rows/s (median)")
    print(f"hub, durable + acknowledged      {figures['hub_events_per_s']:>10,.0f} ev/s   "
          f"ratio {figures['hub_over_copy']:.2f}  (target >= 0.5)")
    print(f"correlated into workflows        {figures['correlated_events_per_s']:>10,.0f} ev/s   "
          f"ratio {figures['correlated_events_per_s'] / figures['copy_rows_per_s']:.2f}")
    if adapter_rates:
        print(f"real adapters (outbox) -> hub    {figures['adapters_events_per_s']:>10,.0f} ev/s   "
              f"ratio {figures['adapters_over_copy']:.2f}")
    print(f"latency at {args.latency_rate}/s offered        p50 {lat['p50_ms']:.2f} ms  "
          f"p99 {lat['p99_ms']:.2f} ms  max {lat['max_ms']:.2f} ms  (target p99 <= 10 ms)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)
    fresh_db(admin, "onenet_bench")
    with admin.cursor() as cur:
        cur.execute("DROP DATABASE onenet_bench WITH (FORCE)")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
