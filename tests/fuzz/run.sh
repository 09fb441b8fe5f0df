#!/usr/bin/env bash
# tests/fuzz/run.sh: build the libFuzzer harnesses and run them.
#
# Usage: tests/fuzz/run.sh [--seconds N] [--build DIR] [--junit FILE] [TARGET...]
#   --seconds N   how long each target fuzzes (default 60)
#   --build DIR   the fuzz build tree (default build-fuzz/ at the repo root)
#   --junit FILE  also write one JUnit test case per target to FILE
#   TARGET        fuzz_wire, fuzz_map_land, ... (default: every target)
#
# The tree is configured with clang and -DONENET_FUZZ=ON (libFuzzer,
# AddressSanitizer, UndefinedBehaviorSanitizer) and built with --target fuzz.
# Each target first replays its committed inputs, tests/fuzz/corpus/<what>/
# (the seeds; fuzz_workflow also workflows/*.yaml) and
# tests/fuzz/regressions/<what>/ (inputs that once found a bug), then
# fuzzes for N seconds, with tests/fuzz/dict/<what>.dict as its
# dictionary when there is one. New interesting inputs go to
# DIR/fuzz-corpus/<target>/ (kept between runs, never committed); a crash,
# leak, timeout (10 s for one input) or sanitizer report is saved under
# DIR/fuzz-findings/<target>/ and fails the target. Output of each run is
# in DIR/fuzz-logs/<target>.log.
#
# Exit status: 0 when every target ran clean, 1 when one found something
# or the build failed, 2 for bad usage.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
seconds=60
build="$ROOT/build-fuzz"
junit=""
targets=()
usage() { sed -n '4,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while (($# > 0)); do
  case "$1" in
    --seconds) (($# >= 2)) || usage; seconds=$2; shift ;;
    --build) (($# >= 2)) || usage; build=$2; shift ;;
    --junit) (($# >= 2)) || usage; junit=$2; shift ;;
    -h|--help) usage ;;
    -*) printf 'fuzz/run.sh: unknown option: %s\n' "$1" >&2; usage ;;
    *) targets+=("$1") ;;
  esac
  shift
done
[[ "$seconds" =~ ^[0-9]+$ ]] || { printf 'fuzz/run.sh: --seconds wants a number, not "%s"\n' "$seconds" >&2; exit 2; }

mkdir -p "$build"
cmake -S "$ROOT" -B "$build" -DCMAKE_C_COMPILER=clang -DONENET_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=Debug >"$build/fuzz-configure.log" 2>&1 || {
  printf 'fuzz/run.sh: configure failed (log: %s)\n' "$build/fuzz-configure.log" >&2
  exit 1
}
nice cmake --build "$build" -j2 --target fuzz >"$build/fuzz-build.log" 2>&1 || {
  tail -n 30 "$build/fuzz-build.log" >&2
  printf 'fuzz/run.sh: build failed (log: %s)\n' "$build/fuzz-build.log" >&2
  exit 1
}

if ((${#targets[@]} == 0)); then
  for harness in "$build"/tests/fuzz/fuzz_*; do
    [[ -x "$harness" && -f "$harness" ]] && targets+=("$(basename "$harness")")
  done
fi

mkdir -p "$build/fuzz-logs"
results=()   # "target status seconds message"
failed=0
for target in "${targets[@]}"; do
  what=${target#fuzz_}
  exe="$build/tests/fuzz/$target"
  log="$build/fuzz-logs/$target.log"
  work="$build/fuzz-corpus/$target"
  findings="$build/fuzz-findings/$target"
  mkdir -p "$work" "$findings"
  if [[ ! -x "$exe" ]]; then
    results+=("$target fail 0 no such fuzz target")
    failed=$((failed + 1))
    continue
  fi
  dirs=("$work")
  for d in "$ROOT/tests/fuzz/corpus/$what" "$ROOT/tests/fuzz/regressions/$what"; do
    [[ -d "$d" ]] && dirs+=("$d")
  done
  # the shipped workflow definitions seed fuzz_workflow as they are
  if [[ "$target" == fuzz_workflow ]]; then
    dirs+=("$ROOT/workflows")
  fi
  dict=()
  if [[ -f "$ROOT/tests/fuzz/dict/$what.dict" ]]; then
    dict=(-dict="$ROOT/tests/fuzz/dict/$what.dict")
  fi
  printf '==> %s: %d s on %s\n' "$target" "$seconds" "${dirs[*]:1}"
  start=$SECONDS
  rc=0
  nice "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$findings/" "${dict[@]}" \
    "${dirs[@]}" >"$log" 2>&1 || rc=$?
  took=$((SECONDS - start))
  if ((rc == 0)); then
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    printf '    ok: %s runs in %d s\n' "${execs:-?}" "$took"
    results+=("$target ok $took ${execs:-?} runs")
  else
    summary=$(grep -m 1 -E '^fuzz: |^SUMMARY|ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|runtime error' "$log" || true)
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    printf '    FAILED (exit %d): %s\n    input: %s\n    log: %s\n' "$rc" \
      "${summary:-see log}" "${artifact:-none saved}" "$log" >&2
    results+=("$target fail $took exit $rc: ${summary:-see $log} (input: ${artifact:-none})")
    failed=$((failed + 1))
  fi
done

if [[ -n "$junit" ]]; then
  {
    printf '<?xml version="1.0" encoding="UTF-8"?>\n'
    printf '<testsuite name="fuzz" tests="%d" failures="%d">\n' "${#results[@]}" "$failed"
    for r in "${results[@]}"; do
      read -r target status took message <<<"$r"
      message=$(printf '%s' "$message" | sed 's/&/\&amp;/g; s/</\&lt;/g; s/>/\&gt;/g; s/"/\&quot;/g')
      if [[ "$status" == ok ]]; then
        printf '  <testcase classname="fuzz" name="%s" time="%s"/>\n' "$target" "$took"
      else
        printf '  <testcase classname="fuzz" name="%s" time="%s"><failure message="%s"/></testcase>\n' \
          "$target" "$took" "$message"
      fi
    done
    printf '</testsuite>\n'
  } >"$junit"
fi

printf '%d target(s), %d failed\n' "${#results[@]}" "$failed"
((failed == 0))
