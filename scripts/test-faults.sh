#!/usr/bin/env bash
# test-faults.sh — the fault-injection tests (tests/faults/) against one private stack.
#
#   scripts/test-faults.sh BIN_DIR TEST_BIN [TEST_BIN...]
#
# Sets up, under a new directory in ${TMPDIR:-/tmp}:
#   - the provider stand-in (tests/standins/providers.js) and a signature-checking S3 server
#     (scripts/s3rver.sh), both on 127.0.0.1;
#   - one stack (scripts/stack.sh up, 2 responders, fsync off) whose imggen.local.env points the
#     openai provider at the stand-in and sets the responder-side keys the tests rely on:
#     IMGGEN_MAX_ATTEMPTS=50 (crashes must not exhaust a job), lease 5 s, poll 200 ms;
#   - then stops the stack's own worker: every fault test starts, crashes and stops the worker
#     supervisors it needs itself (tests/faults/faults.h), with per-test overrides.
# Runs each TEST_BIN in order (all of them, even after a failure) with --jobs 1 (the tests of a
# binary share the queue) and the words of $CRITERION_ARGS, from the repository root, with the
# stack's stack.env exported plus IMGGEN_BIN, FAULTS_STANDIN_URL and FAULTS_S3_DIR.
# Always cleans up (trap): worker process groups the tests started (run/faults-pgids), network
# namespaces they made (run/faults-netns), the stack, s3rver and the stand-in.  Success: the
# directory is deleted.  Failure: it is kept (path printed) and the logs' tails are shown.
# Ends with the plain line "N passed, N failed".
# Environment: CRITERION_ARGS, IMGGEN_TEST_TIMEOUT (seconds per binary, default 900),
# IMGGEN_KEEP_STACK=1 (keep the directory even on success), FAULTS_* (passed to the tests).
set -euo pipefail

PROG=test-faults.sh
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK=$REPO/scripts/stack.sh
S3RVER=$REPO/scripts/s3rver.sh
# shellcheck source=scripts/lib/standin.sh
. "$REPO/scripts/lib/standin.sh"
# shellcheck source=scripts/lib/suite.sh
. "$REPO/scripts/lib/suite.sh"

DIR=""
STACK_STARTED=0
STANDIN_PID=""
FAILED=0

# proc_cmdline_has PID WORD: the live process PID's command line contains WORD.
proc_cmdline_has() {
	local pid=$1 word=$2
	[[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
	[[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) == *"$word"* ]]
}

# Kills the worker process groups the tests started and did not stop (a test that timed out or
# crashed).  Only groups whose leader is still an imggen-worker are touched.
kill_test_workers() {
	local f=$DIR/stack/run/faults-pgids pgid
	[[ -f $f ]] || return 0
	while read -r pgid; do
		[[ $pgid =~ ^[0-9]+$ ]] || continue
		if proc_cmdline_has "$pgid" imggen-worker; then
			log "killing the worker process group ${pgid} a test left running"
			kill -KILL -- "-$pgid" 2>/dev/null || true
			kill -CONT -- "-$pgid" 2>/dev/null || true
		fi
	done <"$f"
	: >"$f"
}

# Removes the network namespaces (and their veth pairs) the partition test made, if it could not.
remove_test_netns() {
	local f=$DIR/stack/run/faults-netns ns veth
	[[ -f $f ]] || return 0
	while read -r ns veth; do
		[[ $ns =~ ^imggen-ft-[0-9]+$ ]] || continue
		if [[ -n ${veth:-} ]] && ip link show "$veth" >/dev/null 2>&1; then
			ip link del "$veth" 2>/dev/null || true
		fi
		if ip netns list 2>/dev/null | grep -qw -- "$ns"; then
			log "removing network namespace ${ns} left by a test"
			ip netns del "$ns" 2>/dev/null || true
		fi
	done <"$f"
	: >"$f"
}

show_logs() {
	suite_tails 25 "$DIR"/stack/log/faults-*.log "$DIR"/stack/log/api.log "$DIR"/stack/log/postgres.log \
		"$DIR"/standin.log "$DIR"/s3rver.log
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[[ $rc -ne 0 ]] && FAILED=1
	if [[ -n $DIR ]]; then
		kill_test_workers
		remove_test_netns
		if [[ $STACK_STARTED -eq 1 ]]; then
			"$STACK" down "$DIR/stack" >/dev/null 2>&1 || log "warning: stack.sh down failed"
		fi
		"$S3RVER" stop "$DIR" >/dev/null 2>&1 || true
		if [[ -n $STANDIN_PID ]]; then
			kill -TERM "$STANDIN_PID" 2>/dev/null || true
			wait "$STANDIN_PID" 2>/dev/null || true
		fi
		if [[ $FAILED -eq 0 && ${IMGGEN_KEEP_STACK:-0} != 1 ]]; then
			rm -rf "$DIR"
		else
			[[ $FAILED -ne 0 ]] && show_logs
			log "directory kept for inspection: ${DIR}"
		fi
	fi
	[[ $FAILED -ne 0 && $rc -eq 0 ]] && rc=1
	exit "$rc"
}

# Starts the provider stand-in; sets STANDIN_PID and STANDIN_PORT.
STANDIN_PORT=""
start_standin() {
	standin_start "$REPO/tests/standins/providers.js" "$DIR/standin.log"
}

write_local_env() {
	local port=$1
	{
		echo "IMGGEN_PROVIDER=openai"
		echo "OPENAI_API_KEY=test-openai-key"
		echo "OPENAI_API_BASE_URL=http://127.0.0.1:$port"
		echo "GEMINI_API_KEY=test-gemini-key"
		echo "GOOGLE_API_BASE_URL=http://127.0.0.1:$port"
		echo "IMGGEN_MAX_ATTEMPTS=50"
		echo "IMGGEN_LEASE_SECONDS=5"
		echo "IMGGEN_POLL_INTERVAL_MS=200"
		echo "IMGGEN_RETRY_BASE_MS=200"
		echo "IMGGEN_WORKER_PROCESSES=2"
	} >"$DIR/stack/imggen.local.env"
}

stop_stack_worker() {
	local pidfile=$DIR/stack/run/worker.pid pid deadline
	[[ -s $pidfile ]] || return 0
	pid=$(tr -dc '0-9' <"$pidfile")
	proc_cmdline_has "$pid" imggen-worker || return 0
	kill -TERM "$pid"
	deadline=$((SECONDS + 30))
	while proc_cmdline_has "$pid" imggen-worker; do
		((SECONDS < deadline)) || die "the stack's worker (pid $pid) ignored SIGTERM for 30 s"
		sleep 0.1
	done
	rm -f "$pidfile"
}

main() {
	[[ $# -ge 2 ]] || die "usage: ${PROG} BIN_DIR TEST_BIN [TEST_BIN...]"
	local bin_dir t port
	local -a tests=()
	bin_dir=$(realpath -m -- "$1")
	shift
	[[ -d $bin_dir ]] || die "binary directory ${bin_dir} does not exist (build first: make all)"
	for t in "$@"; do
		[[ -f $t && -x $t ]] || die "test binary ${t} not found or not executable"
		tests+=("$(realpath -- "$t")")
	done
	command -v node >/dev/null || die "node is required for the provider stand-in and s3rver"

	trap cleanup EXIT
	trap suite_on_signal INT TERM
	DIR=$(mktemp -d "$(suite_base_dir)/imggen-ft.XXXXXX")
	chmod 0755 "$DIR"
	mkdir -p "$DIR/stack"
	chmod 0755 "$DIR/stack"

	start_standin
	port=$STANDIN_PORT
	log "provider stand-in on port ${port} (pid ${STANDIN_PID})"
	"$S3RVER" start "$DIR" >&2
	write_local_env "$port"
	log "starting the test stack in ${DIR}/stack"
	STACK_STARTED=1
	"$STACK" up "$DIR/stack" --bin "$bin_dir" --responders 2 --no-fsync >&2 || die "the test stack did not start"
	stop_stack_worker
	mkdir -p "$DIR/stack/run"
	: >"$DIR/stack/run/faults-pgids"
	: >"$DIR/stack/run/faults-netns"

	set -a
	# shellcheck disable=SC1091 # written by stack.sh
	. "$DIR/stack/stack.env"
	set +a
	export IMGGEN_BIN=$bin_dir
	export FAULTS_STANDIN_URL="http://127.0.0.1:${port}"
	export FAULTS_S3_DIR=$DIR
	cd "$REPO"

	local -a crit_args=() passed=() failed=()
	read -r -a crit_args <<<"${CRITERION_ARGS:-}"
	local timeout_s=${IMGGEN_TEST_TIMEOUT:-900} rc start
	for t in "${tests[@]}"; do
		printf '\n%s: ==== %s ====\n' "$PROG" "$t" >&2
		start=$SECONDS
		rc=0
		timeout --kill-after=10 "$timeout_s" "$t" --jobs 1 "${crit_args[@]}" </dev/null &
		TEST_PID=$!
		wait "$TEST_PID" || rc=$?
		TEST_PID=""
		kill_test_workers
		remove_test_netns
		if [[ $rc -eq 0 ]]; then
			passed+=("$t")
			log "PASS ${t##*/} ($((SECONDS - start))s)"
		else
			[[ $rc -eq 124 ]] && log "${t} timed out after ${timeout_s}s"
			failed+=("$t")
			log "FAIL ${t##*/} (exit ${rc}, $((SECONDS - start))s)"
		fi
	done

	printf '\n' >&2
	for t in "${failed[@]}"; do log "  failed: ${t}"; done
	echo "faults: ${#passed[@]} passed, ${#failed[@]} failed"
	if [[ ${#failed[@]} -gt 0 ]]; then
		FAILED=1
		return 1
	fi
}

main "$@"
