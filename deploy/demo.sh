#!/usr/bin/env bash
# deploy/demo.sh: the main job. A simulated Pengyang county day through the
# agency adapters and the hub, stored in PostgreSQL, then a summary.
#
# Usage: deploy/demo.sh [--db CONNINFO] [--date YYYY-MM-DD] [--cases N]
#                       [--seed N] [--malformed K] [--keep]
#   --db        use this PostgreSQL database (libpq URI or key=value string)
#               instead of the embedded private cluster in run/pg (whose
#               database onenet_demo is created afresh on every run)
#   --date      the county day to simulate (default 2020-09-01)
#   --cases     cases across all workflows (default 400)
#   --malformed broken agency records mixed in (default 6)
#   --keep      leave the embedded PostgreSQL running afterwards
#
# Installs missing Debian packages, builds onenet, starts PostgreSQL (unless
# --db), onenet-hub and one onenet-adapter per agency file the simulator
# wrote (tax, land, power, water, bank, market, police, social, gas, heat,
# approval) reading NDJSON spool directories, waits until every record is
# acknowledged, and prints what was stored and what was refused and why.
# Everything it starts it stops again. Exit status 0 when the day went
# through, 1 otherwise.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

db="" date=2020-09-01 cases=400 seed=640425 malformed=6 keep=0
while (($# > 0)); do
  case "$1" in
    --db) db=$2; shift ;;
    --date) date=$2; shift ;;
    --cases) cases=$2; shift ;;
    --seed) seed=$2; shift ;;
    --malformed) malformed=$2; shift ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '4,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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
mkdir -p "$day/records" "$day/logs"
say "simulating $cases cases of Pengyang county (640425) on $date"
/usr/bin/python3 deploy/sample/pengyang_sample.py --date "$date" --cases "$cases" \
  --seed "$seed" --malformed "$malformed" --out "$day/records"

port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
endpoint=tcp://127.0.0.1:$port
say "starting onenet-hub on $endpoint"
build/onenet-hub --db "$conninfo" --listen "$endpoint" --hub-id demo-hub --insecure \
  >"$day/logs/hub.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  grep -q "store available" "$day/logs/hub.log" && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$day/logs/hub.log"; exit 1; }
  sleep 0.1
done
started=$("${PSQL[@]}" -At -c "SELECT now()")

agencies=()
for f in "$day"/records/*.ndjson; do agencies+=("$(basename "$f" .ndjson)"); done
say "${#agencies[@]} agency adapters deliver their spool files (${agencies[*]})"
adapter_pids=()
for a in "${agencies[@]}"; do
  spool=$day/spool/$a
  mkdir -p "$spool" "$day/tasks"
  # the agency system writes under a temporary name and renames when complete
  cp "$day/records/$a.ndjson" "$spool/.$a-$date.ndjson.tmp"
  mv "$spool/.$a-$date.ndjson.tmp" "$spool/$a-$date.ndjson"
  build/onenet-adapter --agency "$a" --adapter-id "$a-demo" --hub "$endpoint" \
    --outbox "$day/$a.outbox" --spool "$spool" --task-spool "$day/tasks/$a" --heartbeat-ms 500 \
    >"$day/logs/adapter-$a.log" 2>&1 &
  adapter_pids+=($!)
  pids+=($!)
done

# done when every spool file is consumed and every outbox is empty
for _ in $(seq 600); do
  pending=0
  for a in "${agencies[@]}"; do
    [[ -e $day/spool/$a/$a-$date.ndjson ]] && pending=1
    n=$(/usr/bin/python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from outbox").fetchone()[0])' "$day/$a.outbox" 2>/dev/null || echo 1)
    ((n > 0)) && pending=1
  done
  ((pending == 0)) && break
  sleep 0.2
done
((pending == 0)) || { echo "demo: records still unacknowledged after 120 s; see $day/logs" >&2; exit 1; }
# then until the hub has correlated every stored event into its workflows
for _ in $(seq 300); do
  [[ $("${PSQL[@]}" -At -c "SELECT count(*) FROM correlation_queue") == 0 ]] && break
  sleep 0.2
done
sleep 1.5 # a supervision tick, and a heartbeat from each adapter with its (empty) backlog
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
\pset title 'one-network workflows (一网通办), by state'
SELECT workflow, count(*) FILTER (WHERE state = 'completed') AS completed,
       count(*) FILTER (WHERE state = 'open') AS open,
       count(*) FILTER (WHERE state NOT IN ('completed', 'open')) AS other,
       round(avg(extract(epoch FROM ended_at - started_at) / 3600)
             FILTER (WHERE state = 'completed'), 1) AS avg_hours
FROM workflow_instances GROUP BY 1 ORDER BY 1;
\pset title 'supervision (督办): steps past their deadline, by agency'
SELECT b.agency, count(*) AS overdue_steps,
       count(*) FILTER (WHERE b.completed_at IS NOT NULL) AS done_late,
       string_agg(DISTINCT i.workflow || '/' || b.step, ', ') AS steps
FROM breaches b JOIN workflow_instances i ON i.id = b.instance_id
WHERE b.kind = 'overdue' GROUP BY 1 ORDER BY 2 DESC;
\pset title 'events that no workflow took (parked)'
SELECT agency, event_type, count(*) AS events, count(expired_at) AS expired
FROM unmatched_events GROUP BY 1, 2 ORDER BY 1, 2;
\pset title 'adapters (last heartbeat)'
SELECT adapter_id, agency, outbox_depth, last_heartbeat::timestamp(0) AS last_heartbeat
FROM adapters ORDER BY 1;
\pset title 'refused by the hub (dead letters)'
SELECT code, count(*) AS events, min(reason) AS example FROM dead_letters
WHERE last_seen >= '$started' GROUP BY 1 ORDER BY 2 DESC;
SQL

say "tasks handed back to the agencies (files in their out-spool, e.g. power: transfer the account)"
shopt -s nullglob
for dir in "$day"/tasks/*/; do
  n=$(find "$dir" -name '*.ndjson' | wc -l)
  ((n > 0)) && printf '  %-8s %4d task files, e.g. %s\n' "$(basename "$dir")" "$n" \
    "$(head -c 160 "$(find "$dir" -name '*.ndjson' | sort | head -1)")…"
done
say "refused at the agencies' adapters (quarantine), with file:line"
for a in "${agencies[@]}"; do
  /usr/bin/python3 - "$day/$a.outbox" "$a" <<'PY'
import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for source, code, reason in db.execute("select source, code, reason from quarantine order by id"):
    print(f"  {sys.argv[2]:6} {os.path.basename(source):28} {reason}")
PY
done
total=$("${PSQL[@]}" -At -c "SELECT count(*) FROM events WHERE stored_at >= '$started'")
lines=$(cat "$day"/records/*.ndjson | wc -l)
kill -TERM "${pids[0]}"; wait "${pids[0]}" || true
dups=$(grep -o 'msg="ingest stats".*' "$day/logs/hub.log" | tail -1 | grep -o 'duplicates=[0-9]*' | cut -d= -f2)
say "done: $lines agency records in, $total events stored now, ${dups:-0} already stored before (absorbed as duplicates); logs in ${day#$ROOT/}/logs"
