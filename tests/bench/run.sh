#!/usr/bin/env bash
# The ingest benchmark (tests/bench/bench_ingest.py, see its --help): the
# hub against COPY of what it writes, against one INSERT and commit per
# event, and against a RabbitMQ design (publisher confirms, a consumer
# COPYing into PostgreSQL); latency and throughput at offered rates with a
# plot, hub memory over a million events; then, unless the first argument
# is --no-scale, the scale benchmark (tests/bench/bench_scale.py with its
# defaults: 1 000 against 1 000 000 open workflows the events join, a key
# with 100 000 past events against a fresh one, the overdue sweep), so one
# run prints every figure of BENCHMARKS.md's first sections. Installs the broker design's
# Debian packages (rabbitmq-server, librabbitmq-dev) when they are missing,
# builds onenet and starts a private PostgreSQL unless ONENET_DB names one
# (tests/bench/with-db.sh). Prints figures and ratios; it is a measurement,
# not a test, and exits 0 whatever the numbers.
set -euo pipefail
missing=()
for pkg in rabbitmq-server librabbitmq-dev; do
    dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null | grep -q '^ii' ||
        missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "run.sh: installing ${missing[*]} (the broker design)" >&2
    sudo=()
    [[ $(id -u) -eq 0 ]] || sudo=(sudo)
    "${sudo[@]}" apt-get update -qq
    # the package's own broker service is not wanted: the benchmark runs a
    # private node on its own ports
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
fi
scale=1
if [[ "${1:-}" == "--no-scale" ]]; then
    scale=0
    shift
fi
"$(dirname "$0")/with-db.sh" bench_ingest.py "$@"
if ((scale)); then
    exec "$(dirname "$0")/with-db.sh" bench_scale.py
fi
