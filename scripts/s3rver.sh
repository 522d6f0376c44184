#!/usr/bin/env bash
# A local, signature-checking S3 server (@20minutes/s3rver, pinned in
# tests/standins/package.json) for the s3 storage tests.
#
#   scripts/s3rver.sh start DIR [PORT]   start on 127.0.0.1:PORT (default: a
#                                        free port), data in DIR/s3, bucket
#                                        imggen-test; writes DIR/s3.env
#   scripts/s3rver.sh stop DIR           stop it (also when paused)
#   scripts/s3rver.sh pause DIR          SIGSTOP: connections hang (outages)
#   scripts/s3rver.sh resume DIR         SIGCONT
#
# s3rver accepts one hard-coded account, access key S3RVER / secret S3RVER
# (lib/models/account.js), and answers 403 SignatureDoesNotMatch to any
# other signature.  Use it path-style (S3_FORCE_PATH_STYLE=1): it signs
# virtual-hosted requests with "/bucket/key" instead of the request path,
# so it refuses correctly signed ones.  Objects can be read back without
# a signature at http://127.0.0.1:PORT/imggen-test/KEY (PUBLIC_BASE_URL).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
standins=$root/tests/standins
bucket=imggen-test
ready_seconds=30
stop_seconds=10

die() { echo "s3rver.sh: $*" >&2; exit 1; }
usage() { die "usage: $0 start DIR [PORT] | stop DIR | pause DIR | resume DIR"; }

# The pid in DIR/s3rver.pid if that process is still our s3rver, else "".
# The command line is checked so a recycled pid is never signalled.
running_pid() {
	local pid
	[ -f "$1/s3rver.pid" ] || return 0
	pid=$(cat "$1/s3rver.pid")
	case $pid in ''|*[!0-9]*) return 0 ;; esac
	if kill -0 "$pid" 2>/dev/null &&
	    ps -o args= -p "$pid" 2>/dev/null | grep -q 'imggen-s3rver'; then
		echo "$pid"
	fi
}

# Runs inside node with argv: data dir, port, bucket, port file.  The port
# file appears (atomically) only once the bucket exists and the server
# listens, so it doubles as the readiness signal.
launcher='/* imggen-s3rver (scripts/s3rver.sh) */
const fs = require("node:fs");
const S3rver = require("@20minutes/s3rver");
const [dir, port, bucket, portFile] = process.argv.slice(1);
new S3rver({
	directory: dir, address: "127.0.0.1", port: Number(port),
	silent: false,
	configureBuckets: [{ name: bucket, configs: [] }],
}).run().then((a) => {
	fs.writeFileSync(portFile + ".tmp", String(a.port));
	fs.renameSync(portFile + ".tmp", portFile);
	console.log("s3rver listening on 127.0.0.1:" + a.port);
}).catch((e) => { console.error("s3rver: " + e.message); process.exit(1); });'

start() {
	local dir=$1 port=${2:-0} pid deadline code
	case $port in ''|*[!0-9]*) die "PORT must be a number, got '$port'" ;; esac
	command -v node >/dev/null || die "node is not installed (Node 20+ needed)"
	command -v curl >/dev/null || die "curl is not installed"
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	pid=$(running_pid "$dir")
	[ -z "$pid" ] || die "already running in $dir (pid $pid); stop it first"
	if [ ! -d "$standins/node_modules/@20minutes/s3rver" ] || [ ! -d "$standins/node_modules/@smithy/signature-v4" ]; then
		echo "s3rver.sh: installing tests/standins dependencies (npm ci)" >&2
		(cd "$standins" && npm ci --no-audit --no-fund --loglevel=error \
		    >/dev/null) || die "npm ci failed in $standins"
	fi
	rm -f "$dir/s3.port" "$dir/s3.env" "$dir/s3rver.pid"
	mkdir -p "$dir/s3"
	(cd "$standins" && exec node -e "$launcher" "$dir/s3" "$port" \
	    "$bucket" "$dir/s3.port") >"$dir/s3rver.log" 2>&1 </dev/null &
	pid=$!
	echo "$pid" >"$dir/s3rver.pid"

	deadline=$((SECONDS + ready_seconds))
	while :; do
		if ! kill -0 "$pid" 2>/dev/null; then
			rm -f "$dir/s3rver.pid"
			tail -n 20 "$dir/s3rver.log" >&2 || true
			die "s3rver exited during start-up (log: $dir/s3rver.log)"
		fi
		if [ -s "$dir/s3.port" ]; then
			port=$(cat "$dir/s3.port")
			# Unsigned, so 403 AccessDenied is the expected answer;
			# any HTTP status means it serves requests.
			code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 \
			    "http://127.0.0.1:$port/$bucket" || true)
			case $code in 200|403) break ;; esac
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			kill "$pid" 2>/dev/null || true
			rm -f "$dir/s3rver.pid"
			die "s3rver not ready within ${ready_seconds}s (log: $dir/s3rver.log)"
		fi
		sleep 0.1
	done

	cat >"$dir/s3.env" <<-EOF
	S3_ENDPOINT=http://127.0.0.1:$port
	S3_BUCKET=$bucket
	S3_ACCESS_KEY_ID=S3RVER
	S3_SECRET_ACCESS_KEY=S3RVER
	S3_REGION=us-east-1
	S3_FORCE_PATH_STYLE=1
	PUBLIC_BASE_URL=http://127.0.0.1:$port/$bucket
	S3RVER_PID=$pid
	EOF
	echo "s3rver.sh: s3rver (pid $pid) on http://127.0.0.1:$port, bucket $bucket; settings in $dir/s3.env"
}

stop() {
	local dir=$1 pid deadline
	pid=$(running_pid "$dir")
	if [ -z "$pid" ]; then
		rm -f "$dir/s3rver.pid"
		echo "s3rver.sh: not running in $dir" >&2
		return 0
	fi
	# A stopped process only acts on SIGTERM once continued.
	kill -TERM "$pid" 2>/dev/null || true
	kill -CONT "$pid" 2>/dev/null || true
	deadline=$((SECONDS + stop_seconds))
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "s3rver.sh: pid $pid ignored SIGTERM; killing" >&2
			kill -KILL "$pid" 2>/dev/null || true
			break
		fi
		sleep 0.1
	done
	rm -f "$dir/s3rver.pid" "$dir/s3.port"
	echo "s3rver.sh: stopped (pid $pid)"
}

signal() {
	local dir=$1 sig=$2 what=$3 pid
	pid=$(running_pid "$dir")
	[ -n "$pid" ] || die "not running in $dir"
	kill "-$sig" "$pid"
	echo "s3rver.sh: $what (pid $pid)"
}

[ $# -ge 2 ] || usage
cmd=$1 dir=$2
shift 2
case $cmd in
start)	[ $# -le 1 ] || usage; start "$dir" "$@" ;;
stop)	[ $# -eq 0 ] || usage; stop "$dir" ;;
pause)	[ $# -eq 0 ] || usage; signal "$dir" STOP paused ;;
resume)	[ $# -eq 0 ] || usage; signal "$dir" CONT resumed ;;
*)	usage ;;
esac
