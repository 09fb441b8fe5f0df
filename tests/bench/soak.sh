#!/usr/bin/env bash
# The soak run (tests/bench/soak.py, see its --help): ten minutes or more
# of steady load through real adapters and the hub, memory, descriptors and
# latency per minute, and a verdict line. Builds onenet and starts a private
# PostgreSQL unless ONENET_DB names one (tests/bench/with-db.sh).
# Exit status: 0 flat, 1 growing, 2 the run failed.
exec "$(dirname "$0")/with-db.sh" soak.py "$@"
