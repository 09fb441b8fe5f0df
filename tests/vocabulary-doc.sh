#!/usr/bin/env bash
# tests/vocabulary-doc.sh: the per-agency event vocabulary in
# docs/vocabulary.md, regenerated from the definitions in workflows/ by
# `hubctl workflows --vocabulary --markdown --dir workflows`.
#
# Usage: tests/vocabulary-doc.sh [--check]
#   (default)  rewrite the generated part of docs/vocabulary.md (between
#              its BEGIN and END markers)
#   --check    change nothing; exit 1 and show the difference when the
#              document is not what the definitions give
#
# hubctl is taken from $ONENET_BUILD (default: build/ at the repository
# root). Exit status: 0 up to date (or rewritten), 1 out of date or failed,
# 2 usage.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
BUILD=${ONENET_BUILD:-$ROOT/build}
DOC=$ROOT/docs/vocabulary.md
BEGIN='<!-- BEGIN generated vocabulary'
END='<!-- END generated vocabulary -->'

check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) sed -n '6,11p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
if [[ ! -x $BUILD/hubctl ]]; then
  echo "vocabulary-doc: no hubctl in $BUILD; build first, or set ONENET_BUILD" >&2
  exit 1
fi
if [[ $(grep -c -F -- "$BEGIN" "$DOC") != 1 || $(grep -c -F -x -- "$END" "$DOC") != 1 ]]; then
  echo "vocabulary-doc: $DOC must hold one BEGIN and one END marker line" >&2
  exit 1
fi

table=$(mktemp)
new=$(mktemp)
trap 'rm -f "$table" "$new"' EXIT
"$BUILD/hubctl" workflows --vocabulary --markdown --dir "$ROOT/workflows" >"$table"
# the lines up to BEGIN, a blank line, the table, a blank line, END and after
awk -v table="$table" -v begin="$BEGIN" -v end="$END" '
  index($0, begin) == 1 { print; print ""; while ((getline line < table) > 0) print line;
                          print ""; skip = 1; next }
  $0 == end { skip = 0 }
  !skip { print }' "$DOC" >"$new"

if cmp -s "$DOC" "$new"; then
  exit 0
fi
if ((check)); then
  echo "vocabulary-doc: docs/vocabulary.md is not what workflows/ gives; run tests/vocabulary-doc.sh" >&2
  diff -u "$DOC" "$new" | sed 's/^/  /' >&2 || true
  exit 1
fi
cat "$new" >"$DOC"
echo "vocabulary-doc: docs/vocabulary.md rewritten"
