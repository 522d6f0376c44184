# checks.sh — sourced by the install tests (tests/install/test-*.sh) and tests/security/tls.sh:
# the "ok   …" / "FAIL …" lines they print, their counters and their summary. The sourcing script
# sets PROG first.
#
#   log MSG...              "PROG: MSG" on stderr
#   ok MSG... / fail MSG... a passed / failed check (counted in PASSED / FAILED)
#   check WHAT COMMAND...   ok WHAT if COMMAND succeeds, else fail WHAT
#   quiet COMMAND...        COMMAND with its output discarded
#   die MSG...              "PROG: error: MSG", counted as a failure, exit 1 (the EXIT trap runs)
#   checks_summary NAME     "NAME: N passed, N failed"; returns 1 when a check failed

PASSED=0
FAILED=0
log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
ok() {
	PASSED=$((PASSED + 1))
	printf 'ok   %s\n' "$*"
}
fail() {
	FAILED=$((FAILED + 1))
	printf 'FAIL %s\n' "$*"
}
quiet() { "$@" >/dev/null 2>&1; }
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}
die() {
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	FAILED=$((FAILED + 1))
	exit 1
}
checks_summary() {
	echo
	echo "$1: ${PASSED} passed, ${FAILED} failed"
	[[ $FAILED -eq 0 ]]
}
