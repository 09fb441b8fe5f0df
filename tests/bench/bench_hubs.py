#!/usr/bin/env python3
"""onenet several-hubs benchmark: how throughput grows from one hub to two.

One PostgreSQL, measured in one run with the same load, rounds interleaved
(1 hub, 2 hubs, 1 hub, 2 hubs, ...), each on a fresh database:
  senders:  protocol-level senders (onenet-bench-sender, whole
            property-transfer cases as in bench_ingest.py); with two hubs,
            sender i sends to hub i mod 2. Reports the durable,
            acknowledged rate and the rate until every event is correlated.
  adapters: (unless --adapter-events 0) real onenet-adapter processes, each
            with the whole hub list (--hub A,B) and its fsync'ed outbox.
Prints the median events/s for one and two hubs and the ratio, and the CPU
seconds the hubs and PostgreSQL used, which tell where the time went: on a
machine with few cores the hubs, the senders and PostgreSQL compete for
them, and a second hub adds throughput only as far as a core is idle.

Usage (CONNINFO of an admin database, e.g. from deploy/pg-embedded.sh start DIR):
  /usr/bin/python3 tests/bench/bench_hubs.py --build build --db CONNINFO
      [--senders 4] [--events 30000] [--rounds 3] [--adapter-events 20000]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import psycopg2

sys.path.insert(0, os.path.dirname(__file__))
from bench_ingest import (Hub, fresh_db, ndjson_files, run_adapters,  # noqa: E402
                          run_senders, wait_correlated, with_db)

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User + system CPU seconds of process PID and its reaped children."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / TICKS


def postgres_cpu(conninfo):
    """CPU seconds of the postmaster (its children's, once they exit)."""
    try:
        conn = psycopg2.connect(conninfo)
        with conn.cursor() as cur:
            cur.execute("SELECT current_setting('data_directory')")
            data_dir = cur.fetchone()[0]
        conn.close()
        with open(os.path.join(data_dir, "postmaster.pid")) as f:
            return cpu_seconds(int(f.readline()))
    except (psycopg2.Error, OSError, ValueError):
        return None    # not visible to this role or user: left out


def start_hubs(args, conninfo, workdir, k):
    return [Hub(args.build, conninfo, workdir, extra=("--hub-id", f"bench-hub-{i}"))
            for i in range(k)]


def senders_round(args, conninfo, workdir, k, tag):
    """Senders through K hubs: (stored ev/s, correlated ev/s, hub CPU s,
    PostgreSQL CPU s or None). PostgreSQL's backends are counted once the
    hubs have stopped and their connections ended."""
    pg0 = postgres_cpu(conninfo)
    hubs = start_hubs(args, conninfo, workdir, k)
    try:
        total = args.senders * args.events
        t0 = time.monotonic()
        procs = []
        # sender i to hub i mod k: each hub gets its share of the senders
        for i in range(args.senders):
            procs.append(subprocess.Popen(
                [os.path.join(args.build, "onenet-bench-sender"), "--hub",
                 hubs[i % k].endpoint, "--events", str(args.events), "--adapter-id",
                 f"{tag}-{i}", "--batch", "500", "--window", "8", "--cases",
                 "--unit-base", str(i * args.events)], stdout=subprocess.PIPE, text=True))
        for p in procs:
            out = p.communicate()[0]
            if p.returncode != 0:
                raise RuntimeError(f"sender failed: {out}")
        stored = total / (time.monotonic() - t0)
        wait_correlated(conninfo)
        correlated = total / (time.monotonic() - t0)
        hub_cpu = sum(cpu_seconds(h.proc.pid) for h in hubs)
    finally:
        for h in hubs:
            h.stop()
    pg1 = postgres_cpu(conninfo)
    pg_cpu = pg1 - pg0 if pg0 is not None and pg1 is not None else None
    return stored, correlated, hub_cpu, pg_cpu


def adapters_round(args, conninfo, workdir, k, tag):
    """Real adapters, each with the list of K hubs: ev/s."""
    hubs = start_hubs(args, conninfo, workdir, k)
    try:
        files = ndjson_files(workdir, args.adapters, args.adapter_events)
        wall = run_adapters(args.build, ",".join(h.endpoint for h in hubs), files, workdir,
                            f"a{tag}")
        return len(files) * args.adapter_events / wall
    finally:
        for h in hubs:
            h.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--db", required=True, help="conninfo URI of an admin database")
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--events", type=int, default=30000, help="events per sender")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--adapters", type=int, default=2, help="real adapters per round")
    ap.add_argument("--adapter-events", type=int, default=20000,
                    help="events per real adapter (0 skips that part)")
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="onenet-bench-hubs.")
    admin = psycopg2.connect(args.db)
    admin.autocommit = True
    print(f"onenet several-hubs benchmark: {args.senders} senders x {args.events} events, "
          f"{args.rounds} rounds, {os.cpu_count()} cores, work dir {workdir}", flush=True)
    results = {1: [], 2: []}
    for rnd in range(args.rounds):
        for k in (1, 2):
            fresh_db(admin, "onenet_bench_hubs")
            conninfo = with_db(args.db, "onenet_bench_hubs")
            stored, correlated, hub_cpu, pg_cpu = senders_round(
                args, conninfo, workdir, k, f"r{rnd}h{k}")
            adapters = (adapters_round(args, conninfo, workdir, k, f"r{rnd}h{k}")
                        if args.adapter_events else None)
            results[k].append((stored, correlated, adapters))
            print(f"  round {rnd + 1}, {k} hub(s): stored {stored:,.0f} ev/s, correlated "
                  f"{correlated:,.0f} ev/s"
                  + (f", adapters {adapters:,.0f} ev/s" if adapters else "")
                  + f"; senders' part: hub CPU {hub_cpu:.1f} s"
                  + (f", PostgreSQL CPU {pg_cpu:.1f} s" if pg_cpu is not None else ""),
                  flush=True)
    med = {k: [statistics.median(r[i] for r in v) if v[0][i] is not None else None
               for i in range(3)] for k, v in results.items()}
    print()
    for i, what in enumerate(("stored (durable, acknowledged)", "correlated",
                              "through real adapters")):
        if med[1][i] is None:
            continue
        print(f"{what:<32} 1 hub {med[1][i]:>9,.0f} ev/s   2 hubs {med[2][i]:>9,.0f} ev/s"
              f"   ratio {med[2][i] / med[1][i]:.2f}")


if __name__ == "__main__":
    main()
