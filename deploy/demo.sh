#!/usr/bin/env bash
# deploy/demo.sh: the main job. A simulated Pengyang county day through the
# agency adapters and the hub, stored in PostgreSQL, then a summary.
#
# Usage: deploy/demo.sh [--db CONNINFO] [--date YYYY-MM-DD] [--days N] [--cases N]
#                       [--seed N] [--malformed K] [--keep]
#   --db        use this PostgreSQL database (libpq URI or key=value string,
#               empty for the check line to hold) instead of the embedded
#               private cluster in run/pg (whose database onenet_demo is
#               created afresh on every run)
#   --date      the first county day to simulate (default 2020-09-01)
#   --days      working days on which cases start (default 1)
#   --cases     cases starting on each day, across all workflows (default 400)
#   --malformed broken records in each agency's file (default 3)
#   --keep      leave the embedded PostgreSQL running afterwards
#
# Installs missing Debian packages, builds onenet, starts PostgreSQL (unless
# --db) and onenet-hub. The simulator drops each agency's records, in the
# agency's own format, into its spool directory (written under a temporary
# name, then renamed); onenet-adapter-land, -tax, -power, -water and -bank
# read their agencies' formats, onenet-adapter the generic format of the
# market regulator, police, social insurance, gas, heating and approval
# bureau, and of the power and water companies' acknowledgements of
# construction projects, which their own formats have no record for (a
# second adapter each, power-generic and water-generic, taking no tasks;
# power-generic also carries the low-voltage connections with external
# works that the power company's county outlets report).
# Each agency's adapter hands the hub's tasks to its agency through an
# out-spool. The utilities (power, water, gas, heat) deliver last, as
# answers to the account transfer tasks the registrations made and to the
# construction projects' notices. When every
# record is answered and every task delivered, it
# prints what happened: events stored, workflows completed and open, steps
# overdue by agency, tasks delivered per agency, records rejected and why,
# and a check line against what the simulator says it produced. Everything
# it starts it stops again. Exit status 0 when the day went as the simulator
# expected, 1 otherwise.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

db="" date=2020-09-01 days=1 cases=400 seed=640425 malformed=3 keep=0
while (($# > 0)); do
  case "$1" in
    --db) db=$2; shift ;;
    --date) date=$2; shift ;;
    --days) days=$2; shift ;;
    --cases) cases=$2; shift ;;
    --seed) seed=$2; shift ;;
    --malformed) malformed=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '5,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) printf 'demo.sh: unknown option: %s\nTry "deploy/demo.sh --help".\n' "$1" >&2; exit 2 ;;
  esac
  shift
done

say() { printf '\033[1m== %s\033[0m\n' "$*"; }

say "installing missing packages"
deploy/install-deps.sh
say "building"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 >/dev/null

run=$ROOT/run
mkdir -p "$run"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [[ -z "$db" && $keep == 0 ]]; then
    deploy/pg-embedded.sh stop "$run/pg" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

if [[ -z "$db" ]]; then
  say "starting the embedded PostgreSQL in run/pg (database onenet_demo, fresh each run)"
  admin=$(deploy/pg-embedded.sh start "$run/pg")
  psql "$admin" -X -q -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS onenet_demo WITH (FORCE)" -c "CREATE DATABASE onenet_demo"
  conninfo=${admin%/*}/onenet_demo
else
  conninfo=$db
fi
PSQL=(psql "$conninfo" -X -q -v ON_ERROR_STOP=1)

day=$run/day-$date
rm -rf "$day"
mkdir -p "$day/logs"
say "simulating $cases cases a day of Pengyang county (640425) from $date, $days day(s)"
/usr/bin/python3 deploy/sample/pengyang_sample.py --date "$date" --days "$days" \
  --cases "$cases" --seed "$seed" --malformed "$malformed" --spool "$day/spool" \
  --expect "$day/expect.json"

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
endpoint=tcp://127.0.0.1:$port
# an adapter per agency, and a second, generic one for the power and water
# companies (feed <agency>-generic)
agencies=(tax land bank market police social approval power water gas heat
          power-generic water-generic)
# CURVE keys (docs/security.md): one pair for the hub, one per adapter, and
# the hub's authorised-keys file saying which agency each adapter speaks for
keys=$day/keys
mkdir -p "$keys"
chmod 700 "$keys"
auth=$keys/authorised-keys
hub_public=$(build/hubctl keys generate "$keys/hub.key")
for a in "${agencies[@]}"; do
  public=$(build/hubctl keys generate "$keys/$a-demo.key")
  build/hubctl keys add --file "$auth" --role adapter --agency "${a%-generic}" --adapter "$a-demo" \
    --key "$public" >/dev/null
done
say "starting onenet-hub on $endpoint (CURVE; $((${#agencies[@]})) adapter keys authorised)"
build/onenet-hub --db "$conninfo" --listen "$endpoint" --hub-id demo-hub \
  --secret-key "$keys/hub.key" --authorised-keys "$auth" \
  >"$day/logs/hub.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  grep -q "store available" "$day/logs/hub.log" && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$day/logs/hub.log"; exit 1; }
  sleep 0.1
done
started=$("${PSQL[@]}" -At -c "SELECT now()")

first=(tax land bank market police social approval)
utilities=(power water gas heat power-generic water-generic)
adapter_pids=()
mkdir -p "$day/tasks"
start_adapter() {
  local a=$1 program tasks=()
  if [[ $a == *-generic ]]; then
    program=(build/onenet-adapter --agency "${a%-generic}")   # no tasks: the agency's own takes them
  elif [[ -x build/onenet-adapter-$a ]]; then
    program=(build/onenet-adapter-"$a")   # the agency's own record format
    tasks=(--task-spool "$day/tasks/$a")
  else
    program=(build/onenet-adapter --agency "$a")   # the generic format
    tasks=(--task-spool "$day/tasks/$a")
  fi
  "${program[@]}" --adapter-id "$a-demo" --hub "$endpoint" \
    --hub-public-key "$hub_public" --secret-key "$keys/$a-demo.key" \
    --outbox "$day/$a.outbox" --spool "$day/spool/$a" "${tasks[@]}" \
    --heartbeat-ms 500 >"$day/logs/adapter-$a.log" 2>&1 &
  adapter_pids+=($!)
  pids+=($!)
}
# 0 while a spool file of the agencies given is unread or an outbox not empty
waiting() {
  /usr/bin/python3 - "$day" "$date" "$@" <<'PY'
import os, sqlite3, sys
day, date, agencies = sys.argv[1], sys.argv[2], sys.argv[3:]
for a in agencies:
    if os.path.exists(f"{day}/spool/{a}/pengyang-{a}-{date}.ndjson"):
        sys.exit(0)
    try:
        db = sqlite3.connect(f"file:{day}/{a}.outbox?mode=ro", uri=True, timeout=5)
        if db.execute("select count(*) from outbox").fetchone()[0] > 0:
            sys.exit(0)
    except sqlite3.Error:
        sys.exit(0)
sys.exit(1)
PY
}
# waits until the agencies given delivered every record and the hub
# correlated every stored event into its workflows
delivered() {
  for _ in $(seq 600); do
    waiting "$@" || break
    for i in "${!adapter_pids[@]}"; do
      kill -0 "${adapter_pids[$i]}" 2>/dev/null && continue
      echo "demo: the ${agencies[$i]} adapter stopped:" >&2
      tail -n 5 "$day/logs/adapter-${agencies[$i]}.log" >&2
      exit 1
    done
    sleep 0.2
  done
  waiting "$@" && { echo "demo: records still unacknowledged after 120 s; see $day/logs" >&2; exit 1; }
  for _ in $(seq 300); do
    [[ $("${PSQL[@]}" -At -c "SELECT count(*) FROM correlation_backlog") == 0 ]] && return 0
    sleep 0.2
  done
}
say "${#first[@]} agency adapters deliver their spool files (${first[*]})"
for a in "${first[@]}"; do start_adapter "$a"; done
delivered "${first[@]}"
say "the utilities' adapters take their tasks and deliver their records (${utilities[*]})"
for a in "${utilities[@]}"; do start_adapter "$a"; done
delivered "${utilities[@]}"
# and every task the hub issued is in its agency's out-spool
for _ in $(seq 150); do
  pending=0
  while IFS='|' read -r a n; do
    [[ -z $a ]] && continue
    got=$(find "$day/tasks/$a" -name '*.ndjson' ! -name '.*' 2>/dev/null | wc -l)
    ((got < n)) && pending=1
  done < <("${PSQL[@]}" -At -c "SELECT agency, count(*) FROM tasks GROUP BY 1")
  ((pending == 0)) && break
  sleep 0.2
done
sleep 1.5 # a supervision tick, and a heartbeat from each adapter with its (empty) backlog
# and each adapter's quarantine reported to the hub (5 rows a heartbeat):
# the hub holds as many rows of it, and its last heartbeat counted them all
reported() {
  /usr/bin/python3 - "$day" "$conninfo" "${agencies[@]}" <<'PY'
import sqlite3, sys
import psycopg2
day, conninfo, feeds = sys.argv[1], sys.argv[2], sys.argv[3:]
with psycopg2.connect(conninfo) as conn, conn.cursor() as cur:
    for a in feeds:
        db = sqlite3.connect(f"file:{day}/{a}.outbox?mode=ro", uri=True, timeout=5)
        local = db.execute("select count(*) from quarantine").fetchone()[0]
        db.close()
        cur.execute("SELECT (SELECT count(*) FROM adapter_rejects WHERE adapter_id = %s), "
                    "(SELECT quarantined FROM adapters WHERE adapter_id = %s)",
                    (f"{a}-demo", f"{a}-demo"))
        if cur.fetchone() != (local, local):
            sys.exit(1)
PY
}
for _ in $(seq 150); do reported && break; sleep 0.2; done
for pid in "${adapter_pids[@]}"; do kill -TERM "$pid"; wait "$pid" || true; done

say "what the hub stored (events since $started)"
"${PSQL[@]}" -P footer=off <<SQL
\pset title 'events stored, by agency and event type'
SELECT agency, event_type, count(*) AS events,
       min(occurred_at AT TIME ZONE 'Asia/Shanghai')::timestamp(0) AS first,
       max(occurred_at AT TIME ZONE 'Asia/Shanghai')::timestamp(0) AS last
FROM events WHERE stored_at >= '$started' GROUP BY 1, 2 ORDER BY 1, 2;
\pset title 'a property transfer across agencies, by real-estate unit number'
WITH one AS (SELECT keys->>'unit_number' AS unit FROM events
             WHERE stored_at >= '$started' AND event_type = 'transfer.registered'
             ORDER BY occurred_at LIMIT 1)
SELECT (e.occurred_at AT TIME ZONE 'Asia/Shanghai')::timestamp(0) AS occurred,
       e.agency, e.event_type, e.case_no
FROM events e, one WHERE e.keys->>'unit_number' = one.unit ORDER BY e.occurred_at;
\pset title 'events that no workflow took (parked)'
SELECT agency, event_type, count(*) AS events, count(expired_at) AS expired
FROM unmatched_events GROUP BY 1, 2 ORDER BY 1, 2;
\pset title 'adapters (last heartbeat)'
SELECT adapter_id, agency, outbox_depth, last_heartbeat::timestamp(0) AS last_heartbeat
FROM adapters ORDER BY 1;
\pset title 'refused at the adapters (their quarantines, as reported to the hub)'
SELECT a.agency, a.adapter_id, a.quarantined, a.quarantined_by_code::text AS by_code,
       (SELECT count(*) FROM adapter_rejects r WHERE r.adapter_id = a.adapter_id) AS reported
FROM adapters a WHERE a.quarantined > 0 ORDER BY 1, 2;
\pset title 'refused by the hub (dead letters)'
SELECT code, count(*) AS events, min(reason) AS example FROM dead_letters
WHERE last_seen >= '$started' GROUP BY 1 ORDER BY 2 DESC;
SQL

lines=$(cat "$day"/spool/*/done/*.ndjson 2>/dev/null | wc -l)
kill -TERM "${pids[0]}"; wait "${pids[0]}" || true
dups=$(grep -o 'msg="ingest stats".*' "$day/logs/hub.log" | tail -1 | grep -o 'duplicates=[0-9]*' | cut -d= -f2)
say "what happened: $lines agency records in, ${dups:-0} of them already stored (absorbed as duplicates)"
status=0
/usr/bin/python3 deploy/sample/county_report.py --db "$conninfo" --expect "$day/expect.json" \
  --run "$day" || status=1
say "done; records, quarantines, tasks and logs in ${day#$ROOT/}"
exit $status
