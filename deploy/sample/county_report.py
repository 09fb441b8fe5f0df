#!/usr/bin/env python3
"""What became of a simulated county day, against what the simulator said.

Reads the hub's database, each agency adapter's quarantine (its outbox) and
task out-spool, and the expectations pengyang_sample.py --expect wrote, and
prints: workflows completed and open, steps overdue by agency, tasks
delivered per agency, records rejected at the adapters and why, and a check
line. Exit status 0 when everything matches the expectations, 1 otherwise.

The records rejected are counted from what the adapters reported to the hub
with their heartbeats (the hub's adapter_rejects and adapters tables), and
checked against each adapter's own quarantine: the hub must hold every row
of it, once.

Usage: county_report.py --db CONNINFO --expect FILE --run DIR [--adapter-id FORMAT]
  DIR holds <feed>.outbox for each file the simulator wrote (an agency's, or
  the power or water company's second, generic one) and tasks/<agency>/ for
  each agency (deploy/demo.sh). FORMAT names each feed's adapter
  (default "{feed}-demo", as deploy/demo.sh starts them).
"""

import argparse
import collections
import json
import os
import re
import sqlite3
import sys
import unicodedata

import psycopg2

from pengyang_sample import AGENCIES, BROKEN, UNKNOWN_WORDS

# the fields that carry an agency's event vocabulary (see docs/adapters/*.md)
VOCABULARY = set(UNKNOWN_WORDS) | {"登记类型", "YWZT", "step", "业务", "event_type", "event type"}


def classify(reason):
    """(kind, field) of an adapter's refusal reason: kind one of BROKEN or
    "other", field the record field it names (None when it names none)."""
    if reason.startswith("not JSON"):
        return "unparseable", None
    m = re.search(r'field "([^"]+)"|keys\.(\w+)|^(event type)', reason)
    field = next(g for g in m.groups() if g) if m else None
    if "credit code" in reason:
        return "invalid_credit_code", field
    if "unit number" in reason:
        return "invalid_unit_number", field
    if re.search(r'" is (missing|null|empty)', reason):
        return "missing_field", field
    if field in VOCABULARY:
        return "unknown_vocabulary", field
    return "other", field


def pad(text, width):
    """text left-aligned in width terminal columns (a Chinese character takes two)."""
    wide = sum(unicodedata.east_asian_width(c) in "WF" for c in text)
    return text + " " * max(0, width - len(text) - wide)


def quarantine(outbox):
    """(source, code, reason) rows of an adapter's quarantine; none when the
    adapter never created its outbox."""
    if not os.path.exists(outbox):
        return []
    conn = sqlite3.connect(f"file:{outbox}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute("SELECT source, code, reason FROM quarantine ORDER BY id").fetchall()
    finally:
        conn.close()


def reported(cur, adapter_id):
    """(place, code, reason) of the rows the adapter reported to the hub, in
    its quarantine's order, and the quarantine's size its last heartbeat
    counted (None when none did)."""
    cur.execute("SELECT place, code, reason FROM adapter_rejects WHERE adapter_id = %s "
                "ORDER BY seq", (adapter_id,))
    rows = cur.fetchall()
    cur.execute("SELECT quarantined FROM adapters WHERE adapter_id = %s", (adapter_id,))
    counted = cur.fetchone()
    return rows, counted[0] if counted else None


def holds_once(hub_rows, local):
    """True when the hub's rows (place, code, reason) are the adapter's
    quarantine rows (source, code, reason), each once and in order, as its
    heartbeats report them: the reason cut at 512 bytes, and for an event
    a hub rejected (source "hub") the place naming the event."""
    if len(hub_rows) != len(local):
        return False
    for (place, code, reason), (source, local_code, local_reason) in zip(hub_rows, local):
        cut = local_reason.encode("utf-8")[:512].decode("utf-8", "ignore")
        if (code, reason) != (local_code, cut) or (source != "hub" and place != source):
            return False
    return True


def task_files(directory):
    """The tasks in an adapter's out-spool: a list of (file name, task)."""
    if not os.path.isdir(directory):
        return []
    found = []
    for name in sorted(os.listdir(directory)):
        if name.endswith(".ndjson") and not name.startswith("."):
            with open(os.path.join(directory, name), encoding="utf-8") as f:
                found += [(name, json.loads(line)) for line in f if line.strip()]
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", required=True, help="the hub's database (libpq conninfo)")
    parser.add_argument("--expect", required=True, help="pengyang_sample.py --expect FILE")
    parser.add_argument("--run", required=True,
                        help="directory with <agency>.outbox and tasks/<agency>/")
    parser.add_argument("--adapter-id", default="{feed}-demo",
                        help="each feed's adapter id, {feed} replaced (default %(default)s)")
    args = parser.parse_args()
    with open(args.expect, encoding="utf-8") as f:
        want = json.load(f)
    wrong = []

    def check(what, got, expected):
        if got != expected:
            wrong.append(f"{what}: {got}, expected {expected}")

    with psycopg2.connect(args.db) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM events")
        events = cur.fetchone()[0]
        cur.execute("SELECT workflow, state, count(*) FROM workflow_instances GROUP BY 1, 2")
        workflows = collections.defaultdict(collections.Counter)
        for wf, state, n in cur.fetchall():
            workflows[wf][state] = n
        cur.execute("SELECT agency, count(*), count(completed_at) FROM breaches "
                    "WHERE kind = 'overdue' AND withdrawn_at IS NULL "
                    "GROUP BY 1 ORDER BY 2 DESC, 1")
        overdue = cur.fetchall()
        cur.execute("SELECT agency, count(*) FROM tasks GROUP BY 1")
        issued = dict(cur.fetchall())
        cur.execute("SELECT count(*) FROM dead_letters")
        dead = cur.fetchone()[0]
        feeds = list(want["records"])  # the agencies, and power-generic, water-generic
        at_hub = {feed: reported(cur, args.adapter_id.format(feed=feed)) for feed in feeds}

    print("workflows (一网通办)              completed   open  other   expected")
    for wf in sorted(set(workflows) | set(want["workflows"])):
        got, exp = workflows.get(wf, collections.Counter()), want["workflows"].get(wf, {})
        other = sum(n for s, n in got.items() if s not in ("completed", "open"))
        print(f"  {wf:30} {got['completed']:9} {got['open']:6} {other:6}   "
              f"{exp.get('completed', 0)}/{exp.get('open', 0)}/{exp.get('rejected', 0)}")
        check(f"workflow {wf} completed/open/rejected",
              (got["completed"], got["open"], got["rejected"]),
              (exp.get("completed", 0), exp.get("open", 0), exp.get("rejected", 0)))

    print("steps overdue (督办), by agency    overdue  done late   expected")
    for agency, n, late in overdue:
        print(f"  {agency:30} {n:9} {late:10}   {want['overdue_steps'].get(agency, 0)}")
    check("overdue steps by agency", {a: n for a, n, _ in overdue}, want["overdue_steps"])

    print("tasks delivered to the agencies    issued  delivered   expected")
    for agency in AGENCIES:
        files = task_files(os.path.join(args.run, "tasks", agency))
        expected = want["tasks"].get(agency, 0)
        if not files and not issued.get(agency) and not expected:
            continue
        seqs = [t["task_seq"] for _, t in files]
        example = ""
        if files:
            t = files[0][1]
            example = f"  e.g. {t['kind']} {t['step']} of {json.dumps(t['key'])}"
        print(f"  {agency:30} {issued.get(agency, 0):9} {len(files):10}   "
              f"{expected:>8}{example}")
        if sorted(seqs) != list(range(1, len(seqs) + 1)):
            wrong.append(f"tasks of {agency}: numbers {sorted(seqs)}, expected 1..{len(seqs)} "
                         f"each once")
        check(f"tasks delivered to {agency}", len(files), issued.get(agency, 0))
        check(f"tasks delivered to {agency}", len(files), expected)

    print("records rejected at the adapters (reported to the hub), by kind and field")
    rejected = collections.defaultdict(collections.Counter)
    for agency in feeds:
        groups = collections.OrderedDict()
        rows, counted = at_hub[agency]
        local = quarantine(os.path.join(args.run, agency + ".outbox"))
        if counted != len(local) or not holds_once(rows, local):
            wrong.append(f"the hub holds {len(rows)} rows of the {agency} adapter's "
                         f"quarantine (its heartbeat counted {counted}), which holds "
                         f"{len(local)}")
        for source, code, reason in rows:
            kind, field = classify(reason) if code == "BAD_RECORD" else (code, None)
            rejected[agency][kind] += 1
            groups.setdefault((kind, field), []).append((source, reason))
        for (kind, field), rows in groups.items():
            source, reason = rows[0]
            print(f"  {agency:13} {len(rows):3} {kind:20} {pad(field or '', 12)} e.g. "
                  f"{os.path.basename(source)}: {reason[:110]}")
    for agency in feeds:
        check(f"records rejected at the {agency} adapter, by kind",
              dict(sorted(rejected[agency].items())),
              dict(sorted(want["rejected_by_kind"].get(agency, {}).items())))
    check("events stored", events, want["events"])
    check("dead letters at the hub", dead, 0)

    kinds = collections.Counter()
    for counts in rejected.values():
        kinds.update(counts)
    if wrong:
        print("check: DIFFERS from the simulator's expectations:")
        for line in wrong:
            print("  " + line)
        return 1
    print(f"check: as the simulator expected: {events} events stored, "
          f"{sum(kinds.values())} records rejected at the adapters and reported to the hub "
          f"({', '.join(f'{kinds[k]} {k}' for k in BROKEN if kinds[k])}), "
          f"{sum(sum(c.values()) for c in workflows.values())} workflow instances in their "
          f"expected states, {sum(n for _, n, _ in overdue)} overdue steps, "
          f"{sum(issued.values())} tasks delivered once each")
    return 0


if __name__ == "__main__":
    sys.exit(main())
