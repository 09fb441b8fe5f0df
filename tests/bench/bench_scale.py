#!/usr/bin/env python3
"""onenet scale benchmark: does the hub slow down as open workflows pile up?

Two databases, measured side by side in one run:
  small: 1 000 open property-transfer instances (one open step each)
  large: 1 000 000 open instances (1 000 000 open steps)
For each: the same load of whole property-transfer cases through the hub
(senders as in bench_ingest.py), reporting ingest (durable, acknowledged)
and correlation rates, and the ratio large / small (target: within 20 %).
Then, in the large database, 1 000 of the million open steps are made due
and the hub's supervision sweep that marks them overdue is timed (target:
well under a second); the time comes from the hub's own "supervision
sweep" log line.

Usage: tests/bench/run.sh is for the ingest benchmark; run this one as
  /usr/bin/python3 tests/bench/bench_scale.py --build build --db CONNINFO
(CONNINFO of an admin database, e.g. from deploy/pg-embedded.sh start DIR).
"""
import argparse
import os
import re
import statistics
import sys
import tempfile
import time

import psycopg2

sys.path.insert(0, os.path.dirname(__file__))
from bench_ingest import Hub, fresh_db, run_senders, wait_correlated, with_db  # noqa: E402


def populate(conninfo, build, workdir, n):
    """N open instances with one open step each, written by SQL (a hub
    first creates the schema)."""
    hub = Hub(build, conninfo, workdir)
    hub.stop()
    conn = psycopg2.connect(conninfo)
    conn.autocommit = True
    t0 = time.monotonic()
    with conn.cursor() as cur:
        cur.execute("""
            INSERT INTO workflow_instances (workflow, version, digest, key_kind, key_value,
                instance_no, state, started_at, start_event, attrs, events)
            SELECT 'property_transfer', 1, 'scale-bench', 'unit_number', 'SCALE' || g, 1,
                   'open', now() - interval '1 day', gen_random_uuid(),
                   '{"has_mortgage": false}', 1
            FROM generate_series(1, %s) g""", (n,))
        cur.execute("""
            INSERT INTO workflow_steps (instance_id, step, agency, required, ready_at,
                due_at, warn_at)
            SELECT id, 'registered', 'land', true, started_at, now() + interval '30 days',
                   now() + interval '20 days'
            FROM workflow_instances WHERE digest = 'scale-bench'""")
        cur.execute("VACUUM ANALYZE workflow_instances")
        cur.execute("VACUUM ANALYZE workflow_steps")
    conn.close()
    return time.monotonic() - t0


def measure(build, conninfo, workdir, senders, events, tag):
    hub = Hub(build, conninfo, workdir)
    try:
        t0 = time.monotonic()
        wall, _ = run_senders(build, hub.endpoint, senders, events, tag)
        wait_correlated(conninfo)
        corr = senders * events / (time.monotonic() - t0)
    finally:
        hub.stop()
    return senders * events / wall, corr


def sweep(build, conninfo, workdir, due):
    """Makes DUE open steps due now and times the hub's sweep of them."""
    conn = psycopg2.connect(conninfo)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("""
            UPDATE workflow_steps SET due_at = now() - interval '1 second',
                   warn_at = now() + interval '1 day'
            WHERE instance_id IN (SELECT id FROM workflow_instances
                                  WHERE digest = 'scale-bench' ORDER BY id LIMIT %s)""",
                    (due,))
        cur.execute("SELECT count(*) FROM workflow_steps WHERE completed_at IS NULL "
                    "AND overdue_at IS NULL AND required")
        open_steps = cur.fetchone()[0]
    conn.close()
    hub = Hub(build, conninfo, workdir, extra=("--supervise-interval-ms", "200"))
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with open(hub.log_path) as f:
                m = re.findall(r'msg="supervision sweep".*overdue=(\d+).*ms=([0-9.]+)', f.read())
            if m:
                return open_steps, int(m[0][0]), float(m[0][1])
            time.sleep(0.1)
    finally:
        hub.stop()
    raise RuntimeError("no supervision sweep seen")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--small", type=int, default=1000)
    ap.add_argument("--large", type=int, default=1000000)
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--events", type=int, default=30000, help="events per sender")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--due", type=int, default=1000)
    args = ap.parse_args()
    workdir = tempfile.mkdtemp(prefix="onenet-scale.")
    admin = psycopg2.connect(args.db)
    admin.autocommit = True
    dbs = {}
    for name, n in (("small", args.small), ("large", args.large)):
        fresh_db(admin, f"onenet_scale_{name}")
        dbs[name] = with_db(args.db, f"onenet_scale_{name}")
        secs = populate(dbs[name], args.build, workdir, n)
        print(f"{name}: {n:,} open instances written in {secs:.1f} s", flush=True)
    rates = {"small": [], "large": []}
    for rnd in range(args.rounds):
        for name in ("small", "large"):          # interleaved, same load each
            ing, corr = measure(args.build, dbs[name], workdir, args.senders, args.events,
                                f"{name}{rnd}")
            rates[name].append((ing, corr))
            print(f"  round {rnd + 1} {name}: ingest {ing:,.0f} ev/s, correlated "
                  f"{corr:,.0f} ev/s", flush=True)
    med = {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v))
           for k, v in rates.items()}
    open_steps, marked, ms = sweep(args.build, dbs["large"], workdir, args.due)
    print()
    print(f"ingest      {args.small:>9,} open: {med['small'][0]:>8,.0f} ev/s   "
          f"{args.large:,} open: {med['large'][0]:>8,.0f} ev/s   ratio "
          f"{med['large'][0] / med['small'][0]:.2f}  (target >= 0.8)")
    print(f"correlation {args.small:>9,} open: {med['small'][1]:>8,.0f} ev/s   "
          f"{args.large:,} open: {med['large'][1]:>8,.0f} ev/s   ratio "
          f"{med['large'][1] / med['small'][1]:.2f}  (target >= 0.8)")
    print(f"overdue sweep: {marked:,} due among {open_steps:,} open steps marked in "
          f"{ms:.1f} ms (target well under 1 s)")
    for name in dbs:
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE onenet_scale_{name} WITH (FORCE)")


if __name__ == "__main__":
    sys.exit(main())
