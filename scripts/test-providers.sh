#!/usr/bin/env bash
# test-providers.sh — the HTTP providers and s3 storage, end to end.
#
#   scripts/test-providers.sh BIN_DIR S3_TEST_BIN PROVIDERS_TEST_BIN
#
# Starts a signature-checking S3 server (scripts/s3rver.sh) and runs S3_TEST_BIN against it; starts
# the provider stand-in (tests/standins/providers.js); then, for each of imagen, gemini and
# openai, configures one private stack (scripts/stack.sh) with that provider and s3 storage and runs
# PROVIDERS_TEST_BIN with IMGGEN_TEST_PROVIDER set.  Everything is torn down on exit; on failure the
# directory is kept and the logs' tails are printed.
set -euo pipefail

PROG=test-providers.sh
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK=$REPO/scripts/stack.sh
S3RVER=$REPO/scripts/s3rver.sh
# shellcheck source=scripts/lib/standin.sh
. "$REPO/scripts/lib/standin.sh"
# shellcheck source=scripts/lib/suite.sh
. "$REPO/scripts/lib/suite.sh"

DIR=""
HOOK_PORT=""
FAILED=0
BIN_DIR=""
PROV_TEST=""
PORT=""

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	[[ $rc -ne 0 ]] && FAILED=1
	if [[ -n $DIR ]]; then
		"$STACK" down "$DIR/stack" >/dev/null 2>&1 || log "warning: stack.sh down failed"
		"$S3RVER" stop "$DIR" >/dev/null 2>&1 || true
		if [[ -f $DIR/node.pids ]]; then
			while read -r pid; do
				kill -TERM "$pid" 2>/dev/null || true
			done <"$DIR/node.pids"
		fi
		if [[ $FAILED -eq 0 && ${IMGGEN_KEEP_STACK:-0} != 1 ]]; then
			rm -rf "$DIR"
		else
			suite_tails 30 "$DIR"/stack/log/worker.log "$DIR"/stack/log/api.log "$DIR"/providers.log \
				"$DIR"/webhooks.log "$DIR"/s3rver.log
			log "directory kept for inspection: $DIR"
		fi
	fi
	[[ $FAILED -ne 0 && $rc -eq 0 ]] && rc=1
	exit "$rc"
}

# start_node NAME: runs tests/standins/NAME.js and prints its port.  Run in a command
# substitution, so the pid goes to node.pids for cleanup().
start_node() {
	standin_start "$REPO/tests/standins/$1.js" "$DIR/$1.log"
	echo "$STANDIN_PID" >>"$DIR/node.pids"
	printf '%s\n' "$STANDIN_PORT"
}

write_local_env() {
	local provider=$1 port=$2 s3_secret=${3:-}
	{
		echo "IMGGEN_PROVIDER=$provider"
		echo "GEMINI_API_KEY=test-gemini-key"
		echo "OPENAI_API_KEY=test-openai-key"
		echo "GOOGLE_API_BASE_URL=http://127.0.0.1:$port"
		echo "OPENAI_API_BASE_URL=http://127.0.0.1:$port"
		echo "IMGGEN_STORAGE=s3"
		grep -E '^(S3_ENDPOINT|S3_BUCKET|S3_ACCESS_KEY_ID|S3_SECRET_ACCESS_KEY|S3_REGION|S3_FORCE_PATH_STYLE|PUBLIC_BASE_URL)=' "$DIR/s3.env"
		# Small limits so that retries, timeouts and exhaustion happen within the test's time.
		echo "IMGGEN_MAX_ATTEMPTS=3"
		echo "IMGGEN_RETRY_BASE_MS=200"
		echo "IMGGEN_PROVIDER_TIMEOUT=5"
		echo "IMGGEN_STORAGE_TIMEOUT=5"
		echo "IMGGEN_POLL_INTERVAL_MS=500"
		# Later lines win: a wrong secret for the storage-refusal run.
		[[ -z $s3_secret ]] || echo "S3_SECRET_ACCESS_KEY=$s3_secret"
		# Webhooks to the loopback receiver (plain http: insecure allowed).
		echo "IMGGEN_WEBHOOK_KEY=test-webhook-master-key-0123456789abcdef"
		echo "IMGGEN_WEBHOOK_ALLOW_INSECURE=1"
	} >"$DIR/stack/imggen.local.env"
}

# run_scenario PROVIDER FILTER [S3_SECRET]: (re)configure the stack, run the matching tests.
run_scenario() {
	local provider=$1 filter=$2 secret=${3:-} rc=0
	write_local_env "$provider" "$PORT" "$secret"
	"$STACK" up "$DIR/stack" --bin "$BIN_DIR" --responders 2 --no-fsync >&2 ||
		die "the $provider stack did not start"
	log "==== $PROV_TEST ($provider, $filter) ===="
	(set -a && . "$DIR/stack/stack.env" && set +a && cd "$REPO" &&
		IMGGEN_TEST_PROVIDER=$provider S3_PUBLIC_BASE_URL=$(sed -n 's/^PUBLIC_BASE_URL=//p' "$DIR/s3.env") \
		timeout 900 "$PROV_TEST" --filter "$filter" </dev/null) || rc=$?
	if [[ $rc -eq 0 ]]; then
		log "PASS $provider $filter"
	else
		log "FAIL $provider $filter (exit $rc)"
		FAILED=1
	fi
}

main() {
	[[ $# -eq 3 ]] || die "usage: $PROG BIN_DIR S3_TEST_BIN PROVIDERS_TEST_BIN"
	local s3_test
	BIN_DIR=$(realpath -- "$1")
	s3_test=$(realpath -- "$2")
	PROV_TEST=$(realpath -- "$3")
	command -v node >/dev/null || die "node is required for the S3 and provider stand-ins"

	trap cleanup EXIT
	trap 'exit 130' INT TERM
	DIR=$(mktemp -d "$(suite_base_dir)/imggen-pt.XXXXXX")
	chmod 0755 "$DIR"
	mkdir -p "$DIR/stack"
	chmod 0755 "$DIR/stack"

	log "starting the S3 test server"
	"$S3RVER" start "$DIR" >&2
	log "==== $s3_test ===="
	(set -a && . "$DIR/s3.env" && set +a && cd "$REPO" && timeout 600 "$s3_test") || FAILED=1

	HOOK_PORT=$(start_node webhooks)
	export IMGGEN_WEBHOOK_RECEIVER="http://127.0.0.1:$HOOK_PORT"
	log "webhook receiver on port $HOOK_PORT"
	PORT=$(start_node providers)
	log "provider stand-in on port $PORT"
	export IMGGEN_STANDIN_URL="http://127.0.0.1:$PORT"
	run_scenario imagen "providers/*"
	run_scenario gemini "providers/*"
	run_scenario openai "providers/*"
	run_scenario openai "storage_refused/*" wrong-secret
	run_scenario openai "webhooks/*"
	[[ $FAILED -eq 0 ]] || return 1
}

main "$@"
