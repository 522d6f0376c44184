#!/usr/bin/env bash
# soak.sh — the long fault run behind `make soak` (not part of make test, not for CI).
#
#   scripts/soak.sh BIN_DIR SOAK_TEST_BIN
#
# Runs SOAK_TEST_BIN (tests/faults/test_soak.c) through scripts/test-faults.sh, i.e. against one
# private stack with the provider stand-in, and prints its summary: generations accepted, lost /
# duplicated / orphaned counts (all must be 0) and the time to recover from each fault.
# Environment (defaults): SOAK_GENERATIONS (2000), SOAK_MINUTES (10, the length of the chaos
# phase; the drain comes after it), SOAK_KILL_EVERY_MS (3000), IMGGEN_KEEP_STACK=1 to keep the
# directory with every worker's log.  The issue's full soak is SOAK_GENERATIONS=10000.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ $# -eq 2 ]] || { echo "usage: soak.sh BIN_DIR SOAK_TEST_BIN" >&2; exit 2; }

export SOAK_GENERATIONS=${SOAK_GENERATIONS:-2000}
export SOAK_MINUTES=${SOAK_MINUTES:-10}
export SOAK_KILL_EVERY_MS=${SOAK_KILL_EVERY_MS:-3000}
# The chaos phase, then up to 15 minutes of drain, then the checks.
export IMGGEN_TEST_TIMEOUT=$((SOAK_MINUTES * 60 + 1500))
echo "soak.sh: ${SOAK_GENERATIONS} generations, ${SOAK_MINUTES} min of chaos, a kill every ~${SOAK_KILL_EVERY_MS} ms" >&2
exec bash "$REPO/scripts/test-faults.sh" "$1" "$2"
