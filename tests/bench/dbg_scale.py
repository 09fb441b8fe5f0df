#!/usr/bin/env python3
"""onenet scale benchmark: does correlation slow down as open workflows and a key's history pile up?

Two databases, measured side by side in one run, in interleaved rounds
(round 0 warms up and is not counted):
  small: --small (1 000) open property-transfer instances;
  large: --large (1 000 000) open instances.
Every instance is one a hub really made: a hub correlates one
transfer.accepted event for a template unit, and SQL copies that event, its
case_keys row, its instance, its steps and its instance_events row once per
unit number (real-format unit numbers, 640425... as the senders make them),
so the database holds what the hub would have written had each case's
first event come through it. The load of each round joins open instances:
--join (1 000) units each get the five events after transfer.accepted
(deed tax assessed and paid, registration, power and water), which complete
the instances' steps. In the small database the round's units are 1 000
instances seeded for it (the previous round's are completed by then, so
1 000 are open at the start of each round); in the large one they are
spread over the million (unit numbers r, r + 1 000, r + 2 000, ...).
Reported: ingest (durable, acknowledged) and correlation (first send until
the correlation queue is empty) in events/s, and large / small (target:
within 20 %).

The hot key: in a third database one unit number gets --hot-history
(100 000) past events written by SQL (whole property transfers, six events
each, an hour apart); the warm-up round's correlation folds them into their
instances. Each round then sends --hot-cases (100) new whole cases on that
unit, and as many on a fresh unit with no history; reported: correlation
rate of each and hot / fresh (target: near 1, per-event cost independent of
a key's history).

Then, in the large database, --due of the open steps are made due and the
hub's supervision sweep that marks them overdue is timed from its own
"supervision sweep" log line (target: well under a second).

Usage (CONNINFO of an admin database, e.g. from deploy/pg-embedded.sh):
  /usr/bin/python3 tests/bench/bench_scale.py --build build --db CONNINFO
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import sys
import tempfile
import time

import psycopg2

sys.path.insert(0, os.path.dirname(__file__))
from bench_ingest import Hub, fresh_db, run_senders, wait_correlated, with_db  # noqa: E402
from benchlib import load_average  # noqa: E402

# the unit number of integer g, as onenet-bench-sender writes it (% doubled:
# the text goes into queries with parameters)
UNIT = ("'640425' || lpad(((g / 1000) %% 1000)::text, 3, '0') || lpad((g %% 1000)::text, 3, "
        "'0') || 'GB' || lpad((g %% 100000)::text, 5, '0') || 'F' || "
        "lpad((g %% 100000000)::text, 8, '0')")
TEMPLATE_UNIT = 90000000       # the template case's unit
HOT_UNIT = 91000000            # the hot key
FRESH_UNIT = 92000000          # fresh keys: FRESH_UNIT + round
SMALL_ROUND_BASE = 10000000    # small: round r's units from SMALL_ROUND_BASE + r * join
STEPS = (("land", "transfer.accepted"), ("tax", "deed_tax.assessed"), ("tax", "deed_tax.paid"),
         ("land", "transfer.registered"), ("power", "account.transferred"),
         ("water", "account.transferred"))


def unit(g):
    return (f"640425{g // 1000 % 1000:03d}{g % 1000:03d}GB{g % 100000:05d}"
            f"F{g % 100000000:08d}")


def columns(cur, table):
    cur.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = "
                "'public' AND table_name = %s ORDER BY ordinal_position", (table,))
    return [r[0] for r in cur.fetchall()]


def copy_select(cur, table, mapping, skip=()):
    """Column list and select list copying a template row of TABLE (alias
    t), with the columns in MAPPING replaced by expressions."""
    cols = [c for c in columns(cur, table) if c not in skip]
    return ", ".join(cols), ", ".join(mapping.get(c, f"t.{c}") for c in cols)


def make_template(build, conninfo, workdir):
    """The template case: one transfer.accepted through a hub, correlated."""
    hub = Hub(build, conninfo, workdir, extra=("--log-level", "debug"))
    try:
        run_senders(build, hub.endpoint, 1, 1, "template", unit_bases=[TEMPLATE_UNIT],
                    extra=("--no-mortgage",))
        wait_correlated(conninfo)
    finally:
        hub.stop()


def seed_open(conninfo, lo, hi, stride=1):
    """Open instances for units lo, lo + stride, ... < hi, copies of the
    template's event, keys, instance, steps and instance_events."""
    conn = psycopg2.connect(conninfo)
    conn.autocommit = False
    t0 = time.monotonic()
    with conn.cursor() as cur:
        cur.execute("SET synchronous_commit = off")
        cur.execute("SET maintenance_work_mem = '256MB'")
        cur.execute("SELECT e.event_id, w.id FROM events e JOIN workflow_instances w "
                    "ON w.start_event = e.event_id WHERE e.keys->>'unit_number' = %s",
                    (unit(TEMPLATE_UNIT),))
        tmpl_event, tmpl_inst = cur.fetchone()
        cur.execute("SELECT count(*) FROM workflow_steps WHERE instance_id = %s", (tmpl_inst,))
        n_steps = cur.fetchone()[0]
        cur.execute(f"CREATE TEMP TABLE seed ON COMMIT DROP AS SELECT g, gen_random_uuid() "
                    f"AS eid, {UNIT} AS unit FROM generate_series(%s, %s, %s) g",
                    (lo, hi - 1, stride))
        cols, sel = copy_select(cur, "events", {
            "event_id": "s.eid", "case_no": "'PY-SEED-' || s.g",
            "keys": "jsonb_build_object('unit_number', s.unit)", "chain_id": "NULL",
            "seq": "NULL", "prev_digest": "NULL", "content_digest": "NULL",
            "row_digest": "NULL"})
        cur.execute(f"INSERT INTO events ({cols}) SELECT {sel} FROM seed s, events t "
                    "WHERE t.event_id = %s", (tmpl_event,))
        cur.execute("INSERT INTO case_keys (key_kind, key_value, occurred_at, event_id) "
                    "SELECT 'unit_number', s.unit, e.occurred_at, s.eid FROM seed s "
                    "JOIN events e ON e.event_id = s.eid")
        cols, sel = copy_select(cur, "workflow_instances",
                                {"key_value": "s.unit", "start_event": "s.eid"}, skip=("id",))
        cur.execute(f"INSERT INTO workflow_instances ({cols}) SELECT {sel} FROM seed s, "
                    "workflow_instances t WHERE t.id = %s", (tmpl_inst,))
        cur.execute("CREATE TEMP TABLE seed_ids ON COMMIT DROP AS SELECT w.id, s.eid "
                    "FROM seed s JOIN workflow_instances w ON w.start_event = s.eid")
        cols, sel = copy_select(cur, "workflow_steps", {
            "instance_id": "s.id",
            "completed_by": f"CASE WHEN t.completed_by = '{tmpl_event}' THEN s.eid "
                            "ELSE t.completed_by END"})
        cur.execute(f"INSERT INTO workflow_steps ({cols}) SELECT {sel} FROM seed_ids s, "
                    "workflow_steps t WHERE t.instance_id = %s", (tmpl_inst,))
        cur.execute("INSERT INTO instance_events (instance_id, event_id) "
                    "SELECT id, eid FROM seed_ids")
        cur.execute("SELECT count(*) FROM seed_ids")
        n = cur.fetchone()[0]
    conn.commit()
    conn.autocommit = True
    with conn.cursor() as cur:
        for table in ("events", "case_keys", "workflow_instances", "workflow_steps",
                      "instance_events"):
            cur.execute(f"ANALYZE {table}")
    conn.close()
    return n, n_steps, time.monotonic() - t0


def seed_hot(conninfo, history):
    """HISTORY past events on the hot unit: whole property transfers, six
    events each, an hour apart, ending a day ago; stored and keyed as the
    hub stores and keys them. No instance is written: the first
    correlation on the key folds them into their instances."""
    cases = history // len(STEPS)
    conn = psycopg2.connect(conninfo)
    with conn.cursor() as cur:
        agencies = "ARRAY[" + ", ".join(f"'{a}'" for a, _ in STEPS) + "]"
        types = "ARRAY[" + ", ".join(f"'{t}'" for _, t in STEPS) + "]"
        cur.execute(
            f"INSERT INTO events (event_id, agency, adapter_id, case_no, event_type, "
            f"occurred_at, accepted_at, received_at, schema_version, keys, attrs, hub_id) "
            f"SELECT gen_random_uuid(), ({agencies})[s + 1], 'seed-hot', "
            f"'PY-HOT-' || c || '-' || s, ({types})[s + 1], "
            f"now() - interval '1 day' - (%s - c) * interval '1 hour' + s * interval '1 minute', "
            f"now() - interval '1 day', now() - interval '1 day', 1, "
            f"jsonb_build_object('unit_number', %s::text), "
            f"'{{\"transfer_kind\": \"二手房买卖\", \"deed_tax_yuan\": 12345.5, "
            f"\"has_mortgage\": false}}', 'seed' "
            f"FROM generate_series(0, %s - 1) c, generate_series(0, 5) s",
            (cases, unit(HOT_UNIT), cases))
        cur.execute("INSERT INTO case_keys (key_kind, key_value, occurred_at, event_id) "
                    "SELECT 'unit_number', keys->>'unit_number', occurred_at, event_id "
                    "FROM events WHERE adapter_id = 'seed-hot'")
    conn.commit()
    conn.close()
    return cases * len(STEPS)


def measure(build, conninfo, workdir, senders, events, tag, unit_bases, extra):
    """One load through a fresh hub process: (ingest events/s, correlation
    events/s from the first send until the queue is empty)."""
    hub = Hub(build, conninfo, workdir, extra=("--log-level", "debug"))
    try:
        go = time.monotonic()
        wall, res = run_senders(build, hub.endpoint, senders, events, tag,
                                unit_bases=unit_bases, extra=extra)
        wait_correlated(conninfo)
        corr = senders * events / (time.monotonic() - go)
    finally:
        hub.stop()
    return senders * events / wall, corr


def joined(conninfo, units):
    """(instances of UNITS, of them with instance_no 1 and 6 events, open
    instances in the database)."""
    conn = psycopg2.connect(conninfo)
    with conn.cursor() as cur:
        cur.execute("SELECT count(*), count(*) FILTER (WHERE instance_no = 1 AND events = 6) "
                    "FROM workflow_instances WHERE workflow = 'property_transfer' AND "
                    "key_kind = 'unit_number' AND key_value = ANY(%s)", (units,))
        n, good = cur.fetchone()
        cur.execute("SELECT count(*) FROM workflow_instances WHERE state = 'open'")
        open_ = cur.fetchone()[0]
    conn.close()
    return n, good, open_


def open_count(conninfo):
    return joined(conninfo, [])[2]


def sweep(build, conninfo, workdir, due):
    """Makes DUE open steps due now and times the hub's sweep of them."""
    conn = psycopg2.connect(conninfo)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("""
            UPDATE workflow_steps SET due_at = now() - interval '1 second',
                   warn_at = now() + interval '1 day'
            WHERE step = 'registered' AND completed_at IS NULL AND instance_id IN
                  (SELECT id FROM workflow_instances WHERE state = 'open'
                   ORDER BY id LIMIT %s)""", (due,))
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
    ap.add_argument("--join", type=int, default=1000,
                    help="open instances each round's load joins (5 events each)")
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=4, help="counted rounds (plus a warm-up)")
    ap.add_argument("--hot-history", type=int, default=100000,
                    help="past events on the hot key")
    ap.add_argument("--hot-cases", type=int, default=100,
                    help="new whole cases (6 events) on the hot key and on a fresh key per round")
    ap.add_argument("--due", type=int, default=1000)
    args = ap.parse_args()
    # SIGTERM (and SIGINT, which background jobs ignore) unwind through the
    # finally blocks that stop the hubs, the broker and the databases
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.join % args.senders or args.join > args.small or args.large < args.join * (
            args.rounds + 1):
        ap.error("--join must be a multiple of --senders, at most --small, and --large at "
                 "least --join x (rounds + 1)")
    workdir = tempfile.mkdtemp(prefix="onenet-scale.")
    admin = psycopg2.connect(args.db)
    admin.autocommit = True
    la = load_average()
    print(f"onenet scale benchmark; load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}",
          flush=True)
    dbs = {}
    try:
        for name, n in (("small", args.small), ("large", args.large)):
            fresh_db(admin, f"onenet_scale_{name}")
            dbs[name] = with_db(args.db, f"onenet_scale_{name}")
            make_template(args.build, dbs[name], workdir)
            if name == "large":
                made, n_steps, secs = seed_open(dbs[name], 0, n)
            else:
                # the warm-up round's units; each round then seeds its own
                made, n_steps, secs = seed_open(dbs[name], SMALL_ROUND_BASE,
                                                SMALL_ROUND_BASE + args.join)
                if n > args.join:       # the rest of the small population
                    seed_open(dbs[name], 0, n - args.join)
            print(f"{name}: {open_count(dbs[name]):,} open instances ({n_steps} steps each) "
                  f"written in {secs:.1f} s", flush=True)
        # the hot and fresh keys in a database of their own: their cases
        # leave no open instances in the small one
        fresh_db(admin, "onenet_scale_hot")
        dbs["hot"] = with_db(args.db, "onenet_scale_hot")
        Hub(args.build, dbs["hot"], workdir).stop()       # the schema
        t0 = time.monotonic()
        hot = seed_hot(dbs["hot"], args.hot_history)
        print(f"hot key {unit(HOT_UNIT)}: {hot:,} past events written in "
              f"{time.monotonic() - t0:.1f} s", flush=True)

        per_sender = args.join // args.senders
        # the hot and fresh keys' cases are sales of one unit, one after the
        # other a minute apart (each done within 50 s), every round's after
        # the last round's and after the hot key's history, all in the past
        first_sale = int(time.time() * 1000) - 23 * 3600_000

        def resales(rnd):
            return ("--time-base-ms", str(first_sale + rnd * (args.hot_cases + 10) * 60_000),
                    "--case-spacing-ms", "60000")
        rates = {k: [] for k in ("small", "large", "hot", "fresh")}
        for rnd in range(args.rounds + 1):
            counted = rnd > 0
            if rnd > 0:
                # the small database's population for this round (the last
                # round's are completed now)
                seed_open(dbs["small"], SMALL_ROUND_BASE + rnd * args.join,
                          SMALL_ROUND_BASE + (rnd + 1) * args.join)
            loads = {
                # (database, senders, events per sender, unit bases, sender options)
                "small": (dbs["small"], args.senders, per_sender * 5,
                          [SMALL_ROUND_BASE + rnd * args.join + i * per_sender
                           for i in range(args.senders)],
                          ("--skip-start", "--no-mortgage")),
                "large": (dbs["large"], args.senders, per_sender * 5,
                          [rnd + i * per_sender * (args.large // args.join)
                           for i in range(args.senders)],
                          ("--skip-start", "--no-mortgage", "--unit-stride",
                           str(args.large // args.join))),
                "hot": (dbs["hot"], 1, args.hot_cases * 6, [HOT_UNIT],
                        ("--unit-stride", "0", "--no-mortgage") + resales(rnd)),
                "fresh": (dbs["hot"], 1, args.hot_cases * 6, [FRESH_UNIT + rnd],
                          ("--unit-stride", "0", "--no-mortgage") + resales(rnd)),
            }
            order = list(loads)
            order = order[rnd % 4:] + order[:rnd % 4]
            said = []
            for name in order:
                db, k, ev, bases, extra = loads[name]
                opened = open_count(db) if name in ("small", "large") else None
                ing, corr = measure(args.build, db, workdir, k, ev, f"{name}{rnd}", bases,
                                    extra)
                if name in ("small", "large"):
                    stride = args.large // args.join if name == "large" else 1
                    units = [unit(b + j * stride) for b in bases for j in range(per_sender)]
                    n, good, _ = joined(db, units)
                    if n != args.join or good != args.join:
                        raise RuntimeError(
                            f"{name} round {rnd}: the load's {args.join} units have {n} "
                            f"instances, {good} of them the first with 6 events: the events "
                            "did not join the open instances")
                if counted:
                    rates[name].append((ing, corr))
                said.append(f"{name} " + (f"({opened:,} open) " if opened is not None else "")
                            + f"ingest {ing:,.0f} correlated {corr:,.0f} ev/s")
            print(f"  {'round ' + str(rnd) if counted else 'warm-up'}: " + "; ".join(said),
                  flush=True)
        med = {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v))
               for k, v in rates.items()}
        open_steps, marked, ms = sweep(args.build, dbs["large"], workdir, args.due)
        la = load_average()
        print()
        print(f"load of a round: {args.join:,} open instances joined, 5 events each "
              f"({args.join * 5:,} events)")
        print(f"ingest      {args.small:>9,} open: {med['small'][0]:>8,.0f} ev/s   "
              f"{args.large:,} open: {med['large'][0]:>8,.0f} ev/s   ratio "
              f"{med['large'][0] / med['small'][0]:.2f}  (target >= 0.8)")
        print(f"correlation {args.small:>9,} open: {med['small'][1]:>8,.0f} ev/s   "
              f"{args.large:,} open: {med['large'][1]:>8,.0f} ev/s   ratio "
              f"{med['large'][1] / med['small'][1]:.2f}  (target >= 0.8)")
        print(f"correlation, {args.hot_cases * 6} new events on one key: hot key "
              f"({args.hot_history:,} past events) {med['hot'][1]:,.0f} ev/s, fresh key "
              f"{med['fresh'][1]:,.0f} ev/s, ratio {med['hot'][1] / med['fresh'][1]:.3f}  "
              f"(rounds hot: {', '.join(f'{r[1]:,.0f}' for r in rates['hot'])}; fresh: "
              f"{', '.join(f'{r[1]:,.0f}' for r in rates['fresh'])})")
        print(f"overdue sweep: {marked:,} due among {open_steps:,} open steps marked in "
              f"{ms:.1f} ms (target well under 1 s)")
        print(f"load average at the end: {la[0]:.2f} {la[1]:.2f} {la[2]:.2f} "
              f"({os.cpu_count()} cores)")
    finally:
        for name in dbs:
            with admin.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS onenet_scale_{name} WITH (FORCE)")
        pass


if __name__ == "__main__":
    sys.exit(main())
