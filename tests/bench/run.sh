#!/usr/bin/env bash
# The ingest benchmark: builds onenet, starts a private PostgreSQL (unless
# ONENET_DB names one) and runs tests/bench/bench_ingest.py with the
# arguments given (see its --help). Prints figures and ratios; it is a
# measurement, not a test, and exits 0 whatever the numbers.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 >/dev/null
python=/usr/bin/python3
if [[ -n "${ONENET_DB:-}" ]]; then
    db=$ONENET_DB
else
    pgdir=$(mktemp -d /tmp/onenet-bench-pg.XXXXXX)
    trap 'deploy/pg-embedded.sh destroy "$pgdir" >/dev/null 2>&1 || true' EXIT
    db=$(deploy/pg-embedded.sh start "$pgdir")
fi
"$python" tests/bench/bench_ingest.py --build "$root/build" --db "$db" "$@"
