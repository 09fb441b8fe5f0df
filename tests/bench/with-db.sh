#!/usr/bin/env bash
# Runs one benchmark script of tests/bench against a fresh build and a
# PostgreSQL: builds onenet (RelWithDebInfo, in build/), starts a private
# cluster through deploy/pg-embedded.sh unless ONENET_DB names one, and
# calls SCRIPT --build build --db CONNINFO with the remaining arguments.
# The cluster is destroyed on exit. Exit status: the script's.
#
# Usage: tests/bench/with-db.sh SCRIPT.py [ARGS...]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
script=${1:?usage: tests/bench/with-db.sh SCRIPT.py [ARGS...]}
shift
cd "$root"
deploy/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 >/dev/null
if [[ -n "${ONENET_DB:-}" ]]; then
    db=$ONENET_DB
else
    pgdir=$(mktemp -d /tmp/onenet-bench-pg.XXXXXX)
    trap 'deploy/pg-embedded.sh destroy "$pgdir" >/dev/null 2>&1 || true' EXIT
    db=$(deploy/pg-embedded.sh start "$pgdir")
fi
/usr/bin/python3 "tests/bench/$script" --build "$root/build" --db "$db" "$@"
