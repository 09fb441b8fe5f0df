#!/usr/bin/env bash
# tests/run.sh: build onenet and run every test. This is THE test command.
#
# Usage: tests/run.sh [--quick | --asan-only] [--no-fuzz] [--repeat N] [--busy]
#   (default)    two trees: build/ (RelWithDebInfo) and build-asan/
#                (Debug, -DONENET_SANITIZE=ON: AddressSanitizer + UBSan)
#   --quick      only build/
#   --asan-only  only build-asan/
#   --no-fuzz    skip the fuzz stage
#   --repeat N   run each tree's unit and integration tests N times
#   --busy       keep every core busy with a CPU hog while the tests run
#
# For each tree: configure, build (cmake --build -j2), the C unit tests
# (ctest --output-on-failure) and the integration suite
# (python3 -m pytest -v tests/integration, with ONENET_BUILD=<tree> and
# ONENET_ROOT=<repo root>, ONENET_STRICT_SKIPS=1: a skipped test fails
# unless it is marked optional and README.md lists it under "Optional
# tests"). Each test has its own time limit (pytest-timeout, 900 s unless
# the test sets another), so a hung test names itself and the run goes on.
# The integration tests start private PostgreSQL
# clusters through deploy/pg-embedded.sh (as the "postgres" user when run
# as root). Then the fuzz stage: tests/fuzz/run.sh builds the libFuzzer
# harnesses in build-fuzz/ (clang) and runs each one on its seed corpus and
# its regression inputs for ONENET_FUZZ_SECONDS (default 12) seconds; each
# target counts as one test.
#
# The last line of output is "N passed, N failed": test cases from ctest
# and pytest, plus one failure for each stage that could not run (deps,
# configure, build, a test runner that crashed or found no tests).
# Exit status: 0 when nothing failed, 1 otherwise, 2 for bad usage.
#
# --busy starts one busy loop per core (nproc) at normal priority when a
# tree's tests start and stops them when they end: the suite must pass on a
# loaded machine (tests wait for conditions with deadlines, never for a
# fixed time). With --repeat N every run is counted separately.
#
# Environment: ONENET_PYTEST_TIMEOUT (seconds for one pytest run, default
# 7200), ONENET_TEST_TIMEOUT (seconds for one test case that does not set
# its own, default 900), ONENET_PYTEST_ARGS (extra pytest arguments, e.g. "-k outbox -x"),
# ONENET_PYTHON (interpreter for pytest; default: /usr/bin/python3 when it
# has pytest, psycopg2 and zmq).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$ROOT"

usage() {
  sed -n '4,11p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

trees=(build build-asan)
fuzz=1
repeat=1
busy=0
while (($# > 0)); do
  case "$1" in
    --no-fuzz) fuzz=0 ;;
    --repeat)
      [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] ||
        { printf 'run.sh: --repeat needs a positive count\n' >&2; usage; }
      repeat=$2
      shift ;;
    --busy) busy=1 ;;
    --quick) trees=(build) ;;
    --asan-only) trees=(build-asan) ;;
    -h|--help) usage ;;
    *) printf 'run.sh: unknown option: %s\n' "$1" >&2; usage ;;
  esac
  shift
done

# The Python that has the Debian test modules (pytest, psycopg2, zmq):
# /usr/bin/python3, even when another python3 (pyenv, venv) comes first in
# PATH. Override with ONENET_PYTHON.
PYTHON=${ONENET_PYTHON:-}
if [[ -z "$PYTHON" ]]; then
  for candidate in /usr/bin/python3 python3; do
    if "$candidate" -c 'import pytest, pytest_timeout, psycopg2, zmq' >/dev/null 2>&1; then
      PYTHON=$candidate
      break
    fi
  done
  PYTHON=${PYTHON:-/usr/bin/python3}
fi

PASSED=0
FAILED=0
SKIPPED=0
REPORT=()   # one line per stage, printed in the summary

banner() { printf '\n==> %s\n' "$*"; }
note() { REPORT+=("$(printf '%-6s %s' "$1" "$2")"); }
stage_failed() { # NAME REASON
  FAILED=$((FAILED + 1))
  note FAIL "$1: $2"
  printf 'run.sh: FAILED: %s: %s\n' "$1" "$2" >&2
}

summary() {
  banner "summary"
  local line
  for line in "${REPORT[@]}"; do printf '  %s\n' "$line"; done
  if ((SKIPPED > 0)); then printf '  (%d test(s) skipped)\n' "$SKIPPED"; fi
  printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
}

# Run a command, showing its output and keeping a copy in LOG.
run_logged() { # LOG COMMAND...
  local log=$1 rc
  shift
  set +e
  "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  return "$rc"
}

# Count the test cases of a JUnit XML file (ctest --output-junit or
# pytest --junitxml). Prints "PASSED FAILED SKIPPED"; fails when the file
# is missing or unreadable.
junit_counts() { # FILE
  [[ -s "$1" ]] || return 1
  "$PYTHON" - "$1" <<'EOF'
import sys
import xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    sys.exit(1)
passed = failed = skipped = 0
for case in root.iter("testcase"):
    tags = {child.tag for child in case}
    status = case.get("status", "")
    if "failure" in tags or "error" in tags or status in ("fail", "notrun"):
        failed += 1
    elif "skipped" in tags or status == "disabled":
        skipped += 1
    else:
        passed += 1
print(passed, failed, skipped)
EOF
}

# Add a runner's results to the totals. RC is the runner's exit status.
account() { # NAME RC JUNIT_FILE
  local name=$1 rc=$2 junit=$3 counts p f s
  if ! counts=$(junit_counts "$junit"); then
    stage_failed "$name" "exit status $rc, no readable results ($junit)"
    return
  fi
  read -r p f s <<<"$counts"
  PASSED=$((PASSED + p))
  FAILED=$((FAILED + f))
  SKIPPED=$((SKIPPED + s))
  if ((rc != 0 && f == 0)); then
    stage_failed "$name" "exit status $rc although no test case failed"
  elif ((f > 0)); then
    note FAIL "$name: $p passed, $f failed, $s skipped"
  else
    note ok "$name: $p passed, $s skipped"
  fi
}

# --busy: one busy loop per core, at normal priority, until stop_hogs.
HOGS=()
start_hogs() {
  ((busy)) || return 0
  local n i
  n=$(nproc 2>/dev/null || echo 2)
  for ((i = 0; i < n; i++)); do
    bash -c 'while :; do :; done' &
    HOGS+=($!)
  done
  printf 'run.sh: %d CPU hog(s) running (pids %s)\n' "$n" "${HOGS[*]}"
}
stop_hogs() {
  ((${#HOGS[@]} > 0)) || return 0
  kill "${HOGS[@]}" 2>/dev/null || true
  wait "${HOGS[@]}" 2>/dev/null || true
  HOGS=()
}
trap stop_hogs EXIT

# One run of a tree's unit tests and integration suite; RUN names it when
# --repeat asks for more than one.
test_tree() { # TREE LOGS RUN
  local tree=$1 logs=$2 run=$3 build="$ROOT/$1" rc label=$1
  local -a san_env=()
  if [[ "$tree" == build-asan ]]; then
    san_env=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
             UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)
  fi
  if ((repeat > 1)); then
    label="$tree (run $run/$repeat)"
  fi
  mkdir -p "$logs"

  banner "$label: unit tests (ctest)"
  rc=0
  run_logged "$logs/ctest.log" env "${san_env[@]}" \
    ctest --test-dir "$build" --output-on-failure \
    --output-junit "$logs/ctest-junit.xml" || rc=$?
  if grep -q 'No tests were found' "$logs/ctest.log"; then
    note warn "$label ctest: no unit tests registered (tests/unit/test_*.c)"
  else
    account "$label ctest" "$rc" "$logs/ctest-junit.xml"
  fi

  banner "$label: integration tests (pytest)"
  local -a extra=()
  if [[ -n "${ONENET_PYTEST_ARGS:-}" ]]; then
    read -r -a extra <<<"$ONENET_PYTEST_ARGS"
  fi
  rc=0
  run_logged "$logs/pytest.log" env "${san_env[@]}" \
    ONENET_BUILD="$build" ONENET_ROOT="$ROOT" PYTHONDONTWRITEBYTECODE=1 \
    ONENET_STRICT_SKIPS=1 \
    timeout -k 30 "${ONENET_PYTEST_TIMEOUT:-7200}" \
    "$PYTHON" -m pytest -v -p no:cacheprovider -rfEs \
    -o "timeout=${ONENET_TEST_TIMEOUT:-900}" \
    --junitxml="$logs/pytest-junit.xml" "${extra[@]}" tests/integration || rc=$?
  case "$rc" in
    5) stage_failed "$label pytest" "no integration tests were collected from tests/integration" ;;
    124) stage_failed "$label pytest" "timed out after ${ONENET_PYTEST_TIMEOUT:-7200} s" ;;
    *) account "$label pytest" "$rc" "$logs/pytest-junit.xml" ;;
  esac
}

run_tree() { # TREE
  local tree=$1 build="$ROOT/$1" logs rc run
  local -a cmake_args=()
  if [[ "$tree" == build-asan ]]; then
    cmake_args=(-DONENET_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
  else
    cmake_args=(-DONENET_SANITIZE=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo)
  fi
  mkdir -p "$build"
  logs="$build/test-logs"
  rm -rf "$logs"
  mkdir -p "$logs"

  banner "$tree: configure"
  rc=0
  run_logged "$logs/configure.log" cmake -S "$ROOT" -B "$build" "${cmake_args[@]}" || rc=$?
  if ((rc != 0)); then
    stage_failed "$tree configure" "cmake exit status $rc (log: $logs/configure.log)"
    return
  fi

  banner "$tree: build"
  rc=0
  run_logged "$logs/build.log" cmake --build "$build" -j2 || rc=$?
  if ((rc != 0)); then
    stage_failed "$tree build" "exit status $rc (log: $logs/build.log)"
    return
  fi

  start_hogs
  for ((run = 1; run <= repeat; run++)); do
    if ((repeat > 1)); then
      test_tree "$tree" "$logs/run-$run" "$run"
    else
      test_tree "$tree" "$logs" 1
    fi
  done
  stop_hogs
}

banner "dependencies"
rc=0
"$ROOT/deploy/install-deps.sh" || rc=$?
if ((rc != 0)); then
  stage_failed "install-deps" "deploy/install-deps.sh exit status $rc"
  summary
  exit 1
fi

for tree in "${trees[@]}"; do
  run_tree "$tree"
done

# The fuzz harnesses: each target replays its committed inputs, then
# fuzzes briefly; a finding fails that target.
run_fuzz() {
  local build="$ROOT/build-fuzz" logs rc
  logs="$build/test-logs"
  rm -rf "$logs"
  mkdir -p "$logs"
  banner "build-fuzz: fuzz targets (${ONENET_FUZZ_SECONDS:-12} s each)"
  rc=0
  run_logged "$logs/fuzz.log" "$ROOT/tests/fuzz/run.sh" --build "$build" \
    --seconds "${ONENET_FUZZ_SECONDS:-12}" --junit "$logs/fuzz-junit.xml" || rc=$?
  account "build-fuzz fuzz" "$rc" "$logs/fuzz-junit.xml"
}
if ((fuzz)); then
  run_fuzz
fi

summary
if ((FAILED > 0)); then
  exit 1
fi
