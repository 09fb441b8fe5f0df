#!/usr/bin/env bash
# The ingest benchmark (tests/bench/bench_ingest.py, see its --help): hub
# against COPY and against one INSERT and commit per event, latency and
# throughput at offered rates with a plot, hub memory over a million
# events. Builds onenet and starts a private PostgreSQL unless ONENET_DB
# names one (tests/bench/with-db.sh). Prints figures and ratios; it is a
# measurement, not a test, and exits 0 whatever the numbers.
exec "$(dirname "$0")/with-db.sh" bench_ingest.py "$@"
