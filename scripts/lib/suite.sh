# suite.sh — sourced by the scripts that run test binaries against a private stack
# (scripts/test-integration.sh, scripts/test-faults.sh, scripts/test-providers.sh). The sourcing
# script sets PROG first.
#
#   log MSG... / die MSG...    "PROG: MSG" on stderr; die exits 1 (the EXIT trap cleans up)
#   suite_base_dir             prints where to make the run's directory: $TMPDIR if the postgres
#                              user can reach it (the cluster is owned by postgres when we are root,
#                              since initdb refuses root) and it is short enough for unix socket
#                              paths, else /tmp
#   suite_on_signal            for `trap suite_on_signal INT TERM`: timeout(1) runs each test in
#                              its own process group, out of reach of the terminal's ^C, so the
#                              signal is passed on to TEST_PID (timeout forwards it), then exit 130
#   suite_tails N FILE...      the last N lines of each non-empty FILE, on stderr

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
	printf '%s: error: %s\n' "$PROG" "$*" >&2
	exit 1
}

suite_base_dir() {
	local base=${TMPDIR:-/tmp}
	base=${base%/}
	[[ -n $base ]] || base=/tmp
	if [[ ! -d $base || ! -w $base ]]; then
		log "TMPDIR=${base} is not a writable directory; using /tmp"
		base=/tmp
	elif [[ $(id -u) -eq 0 ]] && ! runuser -u postgres -- test -x "$base" 2>/dev/null; then
		log "the postgres user cannot reach TMPDIR=${base}; using /tmp"
		base=/tmp
	elif ((${#base} > 60)); then
		log "TMPDIR=${base} is too long for unix socket paths; using /tmp"
		base=/tmp
	fi
	printf '%s\n' "$base"
}

TEST_PID=""
suite_on_signal() {
	log "interrupted"
	if [[ -n $TEST_PID ]]; then
		kill -TERM "$TEST_PID" 2>/dev/null || true
		wait "$TEST_PID" 2>/dev/null || true
	fi
	exit 130
}

suite_tails() {
	local n=$1 f
	shift
	for f in "$@"; do
		[[ -s $f ]] || continue
		printf '%s: ---- last %s lines of %s ----\n' "$PROG" "$n" "$f" >&2
		tail -n "$n" "$f" >&2
	done
}
