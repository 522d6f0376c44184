#!/usr/bin/env bash
# Fails when any valgrind log reports an error or a definite/indirect leak.
# Exit statuses cannot carry the findings of Criterion's forked test
# processes, so the per-process logs decide.
set -euo pipefail
dir=${1:?usage: valgrind-gate.sh LOGDIR}
n=$(find "$dir" -name '*.log' | wc -l)
[ "$n" -gt 0 ] || { echo "valgrind-gate: no logs in $dir" >&2; exit 1; }
bad=$(grep -lE 'ERROR SUMMARY: [1-9]|definitely lost: [1-9]|indirectly lost: [1-9]' "$dir"/*.log || true)
if [ -n "$bad" ]; then
	for f in $bad; do echo "== $f" >&2; grep -A25 -m1 -E 'Invalid|uninitialised|definitely lost in|indirectly lost in' "$f" >&2 || tail -20 "$f" >&2; done
	exit 1
fi
echo "valgrind-gate: $n process logs, no errors, no leaks"
