# standin.sh — sourced by the test and bench scripts; starts a Node stand-in and learns its port.
#
#   standin_start SCRIPT LOG   runs `node SCRIPT 0` (port 0: the kernel picks a free one) with its
#                              output in LOG, waits up to 20 s for its "listening PORT" line and sets
#                              STANDIN_PID and STANDIN_PORT.  Calls the sourcing script's die() on
#                              failure.
#
# Not for use in a command substitution: the pid must reach the caller's cleanup.

standin_start() {
	local script=$1 log=$2 deadline=$((SECONDS + 20))
	# The log exists before the child starts: the background job opens it only when it gets
	# scheduled, and reading a missing file would end a `set -e -o pipefail` caller.
	: >"$log"
	node "$script" 0 >>"$log" 2>&1 </dev/null &
	STANDIN_PID=$!
	STANDIN_PORT=""
	while ((SECONDS < deadline)); do
		STANDIN_PORT=$(sed -n 's/^listening \([0-9]*\)$/\1/p' "$log" | head -n 1)
		[[ -n $STANDIN_PORT ]] && return 0
		kill -0 "$STANDIN_PID" 2>/dev/null || die "${script##*/} exited: $(cat "$log")"
		sleep 0.1
	done
	die "${script##*/} did not start within 20 s"
}
