#!/usr/bin/env bash
# Fails when any sanitizer log holds a report.  Criterion's exit status does
# not carry sanitizer findings from its worker processes, so the logs decide.
set -euo pipefail
dir=${1:?usage: san-gate.sh LOGDIR}
reports=$(grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$dir"/* 2>/dev/null || true)
if [ -n "$reports" ]; then
	echo "san-gate: sanitizer reports:" >&2
	for f in $reports; do echo "== $f" >&2; head -40 "$f" >&2; done
	exit 1
fi
echo "san-gate: no sanitizer reports in $dir"
