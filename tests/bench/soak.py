#!/usr/bin/env python3
"""onenet soak: a steady load through real adapters and the hub for a long
while, watching memory, file descriptors and latency.

Four real onenet-adapter processes (land, tax, power, water), each reading
its own spool directory, deliver whole property-transfer cases to one
onenet-hub on a fresh PostgreSQL database, with correlation running. Every
second the script drops one NDJSON file per adapter into its spool, so the
offered load is steady (--rate events/s in all). Each minute it prints, for
the hub and every adapter, the resident set (VmRSS), its high-water mark
(VmHWM) and the number of open file descriptors, and the latency of the
events stored in that minute: from the adapter taking the record into its
outbox (accepted_at) to the start of the hub transaction that stored it
(stored_at), p50/p99/max, and split at the hub's receipt (received_at)
into the adapter's part and the hub's.

At the end it stops feeding, waits until every event is stored and
correlated, counts them, and prints a verdict line:
  verdict: flat     memory, descriptors and latency stayed put
  verdict: growing  one of them grew (the line says which)
Memory is compared between the end of the first minute (allocators and
caches warmed up) and the end of the run; "grew" means more than 10 % and
more than 4 MiB. Descriptors must end where they were after the first
minute. Latency: the median p99 of the last three minutes may be at most
twice that of the first three plus 5 ms (one noisy minute is not a trend).

Usage: tests/bench/soak.sh [--minutes 10] [--rate 1200]
(soak.sh builds, starts a private PostgreSQL and calls this script).
Exit status: 0 flat, 1 growing or events missing, 2 the run failed.
"""
import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

import psycopg2

from benchlib import Hub, fresh_db, mib, proc_fds, proc_memory, with_db

BEIJING = datetime.timezone(datetime.timedelta(hours=8))
AGENCIES = ("land", "tax", "power", "water")
# a property transfer as the county produces it: (agency, event type)
CASE_STEPS = (("land", "transfer.accepted"), ("tax", "deed_tax.assessed"),
              ("tax", "deed_tax.paid"), ("land", "transfer.registered"),
              ("power", "account.transferred"), ("water", "account.transferred"))


def unit_number(n):
    return "640425%03d%03dGB%05dF%08d" % (n // 1000 % 1000, n % 1000, n % 100000,
                                         n % 100000000)


class Adapter:
    def __init__(self, build, agency, endpoint, workdir):
        self.agency = agency
        self.spool = os.path.join(workdir, f"spool-{agency}")
        os.makedirs(self.spool)
        self.log_path = os.path.join(workdir, f"adapter-{agency}.log")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [os.path.join(build, "onenet-adapter"), "--agency", agency,
             "--adapter-id", f"soak-{agency}", "--hub", endpoint,
             "--outbox", os.path.join(workdir, f"{agency}.outbox"),
             "--spool", self.spool, "--spool-scan-ms", "200"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.files = 0

    def drop(self, lines):
        """One spool file, written under a temporary name and renamed."""
        self.files += 1
        name = os.path.join(self.spool, f"soak-{self.files:06d}.ndjson")
        with open(name + ".tmp", "w", encoding="utf-8") as f:
            f.write("".join(lines))
        os.rename(name + ".tmp", name)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)
        self.log.close()


def case_lines(first_case, n_cases):
    """NDJSON lines per agency for N_CASES whole property transfers."""
    out = {a: [] for a in AGENCIES}
    now = datetime.datetime.now(BEIJING).replace(microsecond=0)
    for c in range(first_case, first_case + n_cases):
        unit = unit_number(c)
        for step, (agency, event_type) in enumerate(CASE_STEPS):
            rec = {"event_id": str(uuid.uuid4()),
                   "case_no": f"SOAK-{agency}-{c:08d}",
                   "event_type": event_type,
                   "occurred_at": (now - datetime.timedelta(minutes=6 - step)).isoformat(),
                   "keys": {"unit_number": unit},
                   "attrs": {"deed_tax_yuan": 12345.5, "has_mortgage": c % 3 == 0}}
            out[agency].append(json.dumps(rec, ensure_ascii=False) + "\n")
    return out


def sample(name, pid):
    rss, hwm = proc_memory(pid)
    return {"name": name, "rss": rss, "hwm": hwm, "fds": proc_fds(pid)}


def latency(cur, since, until):
    """Percentiles (ms) of the events stored in [SINCE, UNTIL): accept-to-store
    in all, and its two parts: accept-to-receive (the adapter's outbox,
    its send window and the network) and receive-to-store (the hub's batch
    queue up to the start of the storing transaction)."""
    parts = {"all": "stored_at - accepted_at", "adapter": "received_at - accepted_at",
             "hub": "stored_at - received_at"}
    cols = ", ".join(
        f"percentile_cont({q}) WITHIN GROUP (ORDER BY extract(epoch FROM {expr}))"
        for expr in parts.values() for q in (0.5, 0.99))
    cur.execute(f"SELECT count(*), max(extract(epoch FROM stored_at - accepted_at)), {cols}"
                " FROM events WHERE stored_at >= %s AND stored_at < %s"
                " AND accepted_at IS NOT NULL", (since, until))
    row = cur.fetchone()
    ms = (lambda v: 1000.0 * float(v) if v is not None else float("nan"))
    out = {"events": row[0], "max_ms": ms(row[1])}
    for i, name in enumerate(parts):
        out["p50_ms" if name == "all" else f"{name}_p50_ms"] = ms(row[2 + 2 * i])
        out["p99_ms" if name == "all" else f"{name}_p99_ms"] = ms(row[3 + 2 * i])
    return out


def print_samples(label, samples):
    print(f"  {label}: " + "  ".join(
        f"{s['name']} rss {mib(s['rss']):.1f} MiB hwm {mib(s['hwm']):.1f} MiB fds {s['fds']}"
        for s in samples), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--db", required=True, help="conninfo URI of an admin database")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--rate", type=int, default=1200,
                    help="events per second offered, in all (a multiple of 6: whole cases)")
    ap.add_argument("--json", help="also write the per-minute figures to this file")
    args = ap.parse_args()

    cases_per_s = max(1, args.rate // len(CASE_STEPS))
    rate = cases_per_s * len(CASE_STEPS)
    workdir = tempfile.mkdtemp(prefix="onenet-soak.")
    admin = psycopg2.connect(args.db)
    admin.autocommit = True
    fresh_db(admin, "onenet_soak")
    conninfo = with_db(args.db, "onenet_soak")
    print(f"onenet soak: {rate} events/s ({cases_per_s} property transfers/s) through "
          f"{len(AGENCIES)} adapters for {args.minutes:g} minutes, work dir {workdir}",
          flush=True)

    hub = Hub(args.build, conninfo, workdir, hub_id="soak-hub")
    adapters = [Adapter(args.build, a, hub.endpoint, workdir) for a in AGENCIES]
    procs = [("hub", hub.pid)] + [(f"adapter-{a.agency}", a.proc.pid) for a in adapters]
    conn = psycopg2.connect(conninfo)
    conn.autocommit = True
    cur = conn.cursor()
    minutes = []
    start = [sample(n, p) for n, p in procs]
    print_samples("start", start)
    status = 0
    try:
        t0 = time.monotonic()
        ticks = int(args.minutes * 60)
        next_minute = t0 + 60
        minute_from = datetime.datetime.now(datetime.timezone.utc)
        fed = 0
        for tick in range(ticks):
            for a in adapters:
                if a.proc.poll() is not None:
                    raise RuntimeError(f"adapter {a.agency} exited, see {a.log_path}")
            if hub.proc.poll() is not None:
                raise RuntimeError(f"hub exited, see {hub.log_path}")
            lines = case_lines(tick * cases_per_s, cases_per_s)
            for a in adapters:
                a.drop(lines[a.agency])
            fed += rate
            sleep = t0 + tick + 1 - time.monotonic()
            if sleep > 0:
                time.sleep(sleep)
            if time.monotonic() >= next_minute:
                minute_to = datetime.datetime.now(datetime.timezone.utc)
                lat = latency(cur, minute_from, minute_to)
                cur.execute("SELECT count(*) FROM correlation_backlog")
                backlog = cur.fetchone()[0]
                snap = [sample(n, p) for n, p in procs]
                minutes.append({"minute": len(minutes) + 1, "latency": lat,
                                "correlation_backlog": backlog, "processes": snap})
                print(f"minute {len(minutes):2d}: stored {lat['events']:,} "
                      f"({lat['events'] / 60:,.0f}/s)  accept-to-store p50 {lat['p50_ms']:.1f} ms "
                      f"p99 {lat['p99_ms']:.1f} ms max {lat['max_ms']:.1f} ms "
                      f"(adapter p50/p99 {lat['adapter_p50_ms']:.1f}/{lat['adapter_p99_ms']:.1f}, "
                      f"hub {lat['hub_p50_ms']:.1f}/{lat['hub_p99_ms']:.1f})  "
                      f"correlation backlog {backlog}", flush=True)
                print_samples("          ", snap)
                minute_from = minute_to
                next_minute += 60
        feed_seconds = time.monotonic() - t0

        # drain: every event stored and correlated
        deadline = time.monotonic() + 600
        while True:
            cur.execute("SELECT count(*), count(DISTINCT event_id) FROM events")
            rows, distinct = cur.fetchone()
            cur.execute("SELECT count(*) FROM correlation_backlog")
            backlog = cur.fetchone()[0]
            if (rows >= fed and backlog == 0) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        cur.execute("SELECT count(*) FROM workflow_instances")
        instances = cur.fetchone()[0]
        final = [sample(n, p) for n, p in procs]
        print_samples("end", final)
        print(f"fed {fed:,} events in {feed_seconds:.0f} s ({fed / feed_seconds:,.0f}/s); "
              f"stored {rows:,} rows, {distinct:,} distinct ids; "
              f"{instances:,} workflow instances; correlation backlog {backlog}")

        # verdict
        problems = []
        if rows != fed or distinct != fed:
            problems.append(f"stored {rows} rows / {distinct} ids of {fed} fed")
        if len(minutes) >= 2:
            base = {s["name"]: s for s in minutes[0]["processes"]}
            for s in final:
                b = base[s["name"]]
                grew = s["rss"] - b["rss"]
                if grew > 4096 and grew > 0.10 * b["rss"]:
                    problems.append(f"{s['name']} RSS {mib(b['rss']):.1f} -> "
                                    f"{mib(s['rss']):.1f} MiB")
                if s["fds"] > b["fds"]:
                    problems.append(f"{s['name']} fds {b['fds']} -> {s['fds']}")
            p99s = [m["latency"]["p99_ms"] for m in minutes]
            first, last = statistics.median(p99s[:3]), statistics.median(p99s[-3:])
            if last > 2 * first + 5:
                problems.append(f"p99 {first:.1f} -> {last:.1f} ms")
        else:
            problems.append("fewer than two minutes: nothing to compare")
        if problems:
            print("verdict: growing (" + "; ".join(problems) + ")")
            status = 1
        else:
            print("verdict: flat (memory, descriptors and latency from minute 1 to the end)")
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"rate": rate, "fed": fed, "stored": rows, "start": start,
                           "minutes": minutes, "end": final, "problems": problems}, f,
                          indent=2)
    finally:
        cur.close()
        conn.close()
        for a in adapters:
            a.stop()
        hub.stop()
    fresh_db(admin, "onenet_soak")
    with admin.cursor() as c:
        c.execute("DROP DATABASE onenet_soak WITH (FORCE)")
    admin.close()
    shutil.rmtree(workdir, ignore_errors=True)
    return status


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as e:
        print(f"soak: {e}", file=sys.stderr)
        sys.exit(2)
