#!/usr/bin/env bash
# run.sh — imggen's benchmark suite (`make bench`; issue "Speed you can prove").
#
#   tests/bench/run.sh BUILD_DIR        BUILD_DIR holds imggen-api/-worker/-admin, bench-render, bench-api
#
# Brings up its own private stack (scripts/stack.sh; PostgreSQL with fsync and synchronous_commit ON,
# production-like), the provider stand-in (tests/standins/providers.js, provider "openai") and runs,
# each for BENCH_DURATION seconds after BENCH_WARMUP seconds of warm-up:
#   ceiling    pgbench on the stack's own cluster: one-row INSERT at 8 and 32 clients, -S at 8
#   get        GET /api/generate/queue/:id (finished, 4 images) through nginx with wrk, HTTPS (what
#              stack.sh serves) and plain HTTP (a second nginx of ours on the same responders: the
#              difference is the TLS cost), at 32 and 256 connections; the GET's one SQL statement
#              alone with pgbench (extended protocol, planned every time, and prepared, as the responders run it)
#   post       POST /api/generate/text-to-image with wrk at 32 connections, from 32 users and from
#              one user; then every 2xx is checked to have its generation row and its job
#   callgrind  instructions per GET and per POST in the responder (tests/bench/bench_api.c)
#   drain      BENCH_DRAIN_JOBS (20,000) queued jobs, instant stand-in, fs storage: jobs/s over the first
#              BENCH_DRAIN_SECONDS (warm-up + duration; BENCH_FULL: until the queue is empty)
#   latency    enqueue→claim latency at 10 jobs/s with LISTEN/NOTIFY
#   inflight   BENCH_INFLIGHT_JOBS (1,000) generations against a 5 s stand-in: completions/s, peak in
#              flight, peak RSS of all worker processes, PostgreSQL connections
#   growth     claim latency (the worker's claim statement, pgbench, rolled back) and drain rate (worker,
#              BENCH_DURATION s) with 1,000 vs BENCH_GROWTH_JOBS (100,000; 1,000,000 with BENCH_FULL=1)
#              queued; jobs table + index size once they are gone (row DELETEs) and VACUUM has run
#   render     local renderer images/s (bench-render)
#   memory     responder RSS before/after >= BENCH_MEMORY_REQUESTS requests through nginx (20,000; with
#              BENCH_FULL 100,000 per responder); an idle worker child
# and prints one table (figure, ceiling from the same run, ratio, target) plus build/bench/results.json.
#
# Environment: BENCH_FULL=1 (longer runs, the million), BENCH_ONLY="get post ..." (phases to run;
# default all), BENCH_DURATION (default 10, FULL 20), BENCH_WARMUP (3, FULL 5), BENCH_RESPONDERS
# (default 8), BENCH_DRAIN_CONCURRENCY (slots per worker child while draining, default 16), BENCH_KEEP=1 (keep the stack directory), BENCH_OUT (default build/bench).
# The machine is shared and noisy: compare ratios and callgrind counts, not absolute figures.
set -euo pipefail

PROG=bench
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lib/standin.sh
. "$REPO/scripts/lib/standin.sh"
# shellcheck source=scripts/lib/ports.sh
. "$REPO/scripts/lib/ports.sh"
BENCH_DIR=$REPO/tests/bench
STACK_SH=$REPO/scripts/stack.sh

FULL=${BENCH_FULL:-0}
[[ $FULL == 1 ]] || FULL=0
if [[ $FULL == 1 ]]; then
    DURATION=${BENCH_DURATION:-20}
    WARMUP=${BENCH_WARMUP:-5}
    GROWTH_JOBS=${BENCH_GROWTH_JOBS:-1000000}
else
    DURATION=${BENCH_DURATION:-10}
    WARMUP=${BENCH_WARMUP:-3}
    GROWTH_JOBS=${BENCH_GROWTH_JOBS:-100000}
fi
DRAIN_JOBS=${BENCH_DRAIN_JOBS:-20000}
INFLIGHT_JOBS=${BENCH_INFLIGHT_JOBS:-1000}
RESPONDERS=${BENCH_RESPONDERS:-8}
# jobs in flight per worker child in the drain phase (the default configuration's 16)
DRAIN_CONCURRENCY=${BENCH_DRAIN_CONCURRENCY:-16}
# requests through nginx between the responders' RSS baseline and the final reading: by default what
# the GET and POST phases send (about 30,000 here); with BENCH_FULL 100,000 per responder
if [[ $FULL == 1 ]]; then
    MEMORY_REQUESTS=${BENCH_MEMORY_REQUESTS:-$((100000 * RESPONDERS))}
else
    MEMORY_REQUESTS=${BENCH_MEMORY_REQUESTS:-20000}
fi
# the drain is measured over this many seconds (the rest of the queue is then deleted); with
# BENCH_FULL until the queue is empty
DRAIN_SECONDS=${BENCH_DRAIN_SECONDS:-$((FULL == 1 ? 900 : WARMUP + DURATION))}
ONLY=${BENCH_ONLY:-}
OUT=${BENCH_OUT:-$REPO/build/bench}
BENCH_USERS=32
PGBENCH=${PGBENCH:-}

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

# ---------------------------------------------------------------------------------------------------
# state torn down by the trap

DIR=""          # scratch directory: the stack, logs of our processes
STACK=""        # $DIR/stack
STANDIN_PID=""
WORKER_PID=""   # a worker we started (not the stack's)
HTTP_NGINX_PID=""
FAILED=0

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ $rc -ne 0 ]] && FAILED=1
    worker_stop || true
    if [[ -n $HTTP_NGINX_PID ]]; then
        kill -TERM "$HTTP_NGINX_PID" 2>/dev/null || true
    fi
    if [[ -n $STACK && -d $STACK ]]; then
        "$STACK_SH" down "$STACK" >/dev/null 2>&1 || log "warning: stack.sh down failed"
    fi
    if [[ -n $STANDIN_PID ]]; then
        kill -TERM "$STANDIN_PID" 2>/dev/null || true
    fi
    if [[ -n $DIR ]]; then
        if [[ -d $DIR/stack/log ]]; then
            mkdir -p "$OUT/logs"
            cp "$DIR"/stack/log/*.log "$DIR"/*.log "$OUT/logs/" 2>/dev/null || true
        fi
        if [[ $FAILED -eq 0 && ${BENCH_KEEP:-0} != 1 ]]; then
            rm -rf "$DIR"
        else
            log "directory kept for inspection: $DIR (logs also in $OUT/logs)"
        fi
    fi
    exit "$rc"
}

want() { [[ -z $ONLY || " $ONLY " == *" $1 "* ]]; }

now_ms() { date +%s%3N; }

# ---------------------------------------------------------------------------------------------------
# results: one TSV line per figure; report() turns them into the table and results.json
#   key  label  value  unit  ceiling_key  target_on(value|ratio|-)  target_op(>=|<=|-)  target  note

record() {
    local key=$1 label=$2 value=$3 unit=$4 ceiling=${5:--} on=${6:--} op=${7:--} target=${8:--} note=${9:-}
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$key" "$label" "$value" "$unit" "$ceiling" "$on" \
        "$op" "$target" "$note" >>"$OUT/results.tsv"
    log "  ${label}: ${value} ${unit}"
}

# extra KEY VALUE: a figure for results.json only (evidence: CPU split, WAL syncs, ...)
extra() { printf '%s\t%s\n' "$1" "$2" >>"$OUT/extras.tsv"; }

report() {
    local tsv=$OUT/results.tsv
    [[ -s $tsv ]] || return 0
    awk -F'\t' -v json="$OUT/results.json" -v extras="$OUT/extras.tsv" -v full="$FULL" \
        -v duration="$DURATION" -v warmup="$WARMUP" -v host="$(uname -n)" -v cores="$(nproc)" \
        -v when="$(date -u +%Y-%m-%dT%H:%M:%SZ)" -v rev="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)" '
    function jstr(s) { gsub(/\\/, "\\\\", s); gsub(/"/, "\\\"", s); return "\"" s "\"" }
    function num(s) { return (s ~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/) ? s : "null" }
    { n++; key[n] = $1; label[n] = $2; val[n] = $3; unit[n] = $4; ceil[n] = $5; on[n] = $6; op[n] = $7
      tgt[n] = $8; note[n] = $9; byk[$1] = $3 }
    END {
        printf "\n%-46s %14s %-8s %14s %8s  %-14s %s\n", "figure", "value", "unit", "ceiling", "ratio", "target", "met"
        for (i = 1; i <= n; i++) {
            c = (ceil[i] != "-" && (ceil[i] in byk)) ? byk[ceil[i]] : ""
            r = (c != "" && c + 0 > 0 && val[i] ~ /^[0-9.]+$/) ? val[i] / c : ""
            met = "-"
            if (op[i] != "-") {
                x = (on[i] == "ratio") ? r : val[i]
                if (x == "" || x !~ /^-?[0-9.]+(e[-+]?[0-9]+)?$/) met = "n/a"
                else if (op[i] == ">=") met = (x + 0 >= tgt[i] + 0) ? "yes" : "NO"
                else met = (x + 0 <= tgt[i] + 0) ? "yes" : "NO"
            }
            ratio[i] = r; cv[i] = c; mt[i] = met
            printf "%-46s %14s %-8s %14s %8s  %-14s %s\n", label[i], val[i], unit[i],
                (c == "" ? "-" : c), (r == "" ? "-" : sprintf("%.3f", r)),
                (op[i] == "-" ? "-" : ((on[i] == "ratio" ? "ratio " : "") op[i] " " tgt[i])), met
        }
        printf "{\n  \"run\": {\"when\": %s, \"host\": %s, \"cores\": %s, \"revision\": %s, \"full\": %s, \"duration_s\": %s, \"warmup_s\": %s},\n",
            jstr(when), jstr(host), cores, jstr(rev), (full == 1 ? "true" : "false"), duration, warmup > json
        printf "  \"results\": [\n" > json
        for (i = 1; i <= n; i++) {
            printf "    {\"key\": %s, \"label\": %s, \"value\": %s, \"unit\": %s, \"ceiling_key\": %s, \"ceiling\": %s, \"ratio\": %s, \"target\": %s, \"met\": %s, \"note\": %s}%s\n",
                jstr(key[i]), jstr(label[i]), num(val[i]), jstr(unit[i]),
                (ceil[i] == "-" ? "null" : jstr(ceil[i])), (cv[i] == "" ? "null" : num(cv[i])),
                (ratio[i] == "" ? "null" : sprintf("%.4f", ratio[i])),
                (op[i] == "-" ? "null" : jstr((on[i] == "ratio" ? "ratio " : "") op[i] " " tgt[i])),
                (mt[i] == "yes" ? "true" : (mt[i] == "NO" ? "false" : "null")), jstr(note[i]),
                (i < n ? "," : "") > json
        }
        printf "  ],\n  \"extras\": {\n" > json
        m = 0
        while ((getline line < extras) > 0) { split(line, kv, "\t"); m++; ek[m] = kv[1]; ev[m] = kv[2] }
        for (i = 1; i <= m; i++)
            printf "    %s: %s%s\n", jstr(ek[i]), (num(ev[i]) == "null" ? jstr(ev[i]) : ev[i]), (i < m ? "," : "") > json
        printf "  }\n}\n" > json
    }' "$tsv"
    log "results: $OUT/results.json"
}

# ---------------------------------------------------------------------------------------------------
# database helpers

# sql [psql options...] : runs stdin (or -c) against the imggen database, unaligned, tuples only.
sql() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$DATABASE_URL" "$@"; }
sqlc() { sql -c "$1"; }

# pgbench against the stack's cluster (as the cluster owner when root: trust auth on the socket).
pgb() {
    local db=$1
    shift
    "$PGBENCH" -h "$PG_SOCK" -p 5432 -U "$PG_USER" "$@" "$db"
}

# pgbench_tps LOGFILE: the "tps = N (without initial connection time)" figure.
pgbench_tps() { sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$1" | tail -n 1; }
pgbench_lat() { sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$1" | tail -n 1; }

# c_sql FILE FUNCTION: the SQL string literal of `static const char sql[]` in FUNCTION, as one line,
# so that the statements pgbench runs are the service's own (no copy to drift).
c_sql() {
    # String macros (#define NAME "..." \ ...) of doc_sql.h, store.h and the file are spliced in where a
    # statement names them, as the C preprocessor does.
    awk -v fn="$2" '
        function strings(line, out, s) {
            out = ""
            while (match(line, /"([^"\\]|\\.)*"|[A-Z][A-Z0-9_]+/)) {
                s = substr(line, RSTART, RLENGTH)
                line = substr(line, RSTART + RLENGTH)
                if (s ~ /^"/) { s = substr(s, 2, length(s) - 2); gsub(/\\"/, "\"", s); out = out s }
                else if (s in macro) out = out macro[s]
            }
            return out
        }
        /^#define [A-Z][A-Z0-9_]+[[:space:]]*\\$/ { name = $2; macro[name] = ""; next }
        name != "" {
            macro[name] = macro[name] strings($0)
            if ($0 !~ /\\$/) name = ""
            next
        }
        $0 ~ "^" fn "\\(" { infn = 1; next }
        infn && /static const char sql\[\] =/ { insql = 1; next }
        insql {
            out = out strings($0)
            if ($0 ~ /";[[:space:]]*$/) { print out; exit }
        }' "$(dirname "$1")/doc_sql.h" "$(dirname "$1")/store.h" "$1"
}

# ---------------------------------------------------------------------------------------------------
# processes

# proc_table: "pid ppid cpu_ticks" of every process, from /proc in one pass (no procps needed; cat
# skips a process that exits meanwhile). cpu_ticks = utime + stime.
proc_table() {
    { cat /proc/[0-9]*/stat 2>/dev/null || true; } |
        awk '{ r = $0; sub(/^.*\) /, "", r); split(r, f, " "); print $1, f[2], f[12] + f[13] }'
}

# children_of PID: direct children.
children_of() { proc_table | awk -v pp="$1" '$2 == pp { print $1 }'; }

rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null || true; }

# rss_sum_kb PID...: summed VmRSS.
rss_sum_kb() {
    local p s=0 r
    for p in "$@"; do
        r=$(rss_kb "$p")
        s=$((s + ${r:-0}))
    done
    echo "$s"
}

postmaster_pid() { head -n 1 "$STACK/pg/data/postmaster.pid"; }
responder_pids() { children_of "$(tr -dc '0-9' <"$STACK/run/api.pid")"; }
worker_pids() {
    [[ -n $WORKER_PID ]] || return 0
    echo "$WORKER_PID"
    children_of "$WORKER_PID"
}

# CPU split of the stack's parts over one measurement: cpu_mark before, cpu_report NAME after.
# PostgreSQL = postmaster + its live children (backends of short connections that already exited,
# e.g. pgbench's, are not counted; the service's connections are persistent).
# cpu_groups: "group ticks" for each part of the stack, from one /proc snapshot; a group is its root
# processes and their direct children, and its first line is the snapshot's time in ms.
declare -A CPU_MARK=()
cpu_groups() {
    local table
    echo "_t $(now_ms)"
    table=$(proc_table)
    awk -v pg="$(postmaster_pid)" -v ngx="$(tr -dc '0-9' <"$STACK/run/nginx.pid") ${HTTP_NGINX_PID:-}" \
        -v resp="$(tr -dc '0-9' <"$STACK/run/api.pid")" -v wrk="${WORKER_PID:-}" -v sti="${STANDIN_PID:-}" '
        function in_group(roots, p, pp) { return roots != "" && (index(" " roots " ", " " p " ") || index(" " roots " ", " " pp " ")) }
        { if (in_group(pg, $1, $2)) t["postgres"] += $3
          if (in_group(ngx, $1, $2)) t["nginx"] += $3
          if (in_group(resp, $1, $2)) t["responders"] += $3
          if (in_group(wrk, $1, $2)) t["worker"] += $3
          if (in_group(sti, $1, $2)) t["standin"] += $3 }
        END { printf "postgres %d\nnginx %d\nresponders %d\nworker %d\nstandin %d\n",
                  t["postgres"], t["nginx"], t["responders"], t["worker"], t["standin"] }' <<<"$table"
}
cpu_mark() {
    local g t
    CPU_MARK=()
    while read -r g t; do CPU_MARK[$g]=$t; done < <(cpu_groups)
}
cpu_report() {
    local name=$1 g t hz wall=1 line=""
    hz=$(getconf CLK_TCK)
    while read -r g t; do
        if [[ $g == _t ]]; then
            wall=$((t - CPU_MARK[_t]))
            ((wall > 0)) || wall=1
            continue
        fi
        # percent of one core over the interval
        local pct=$(((t - ${CPU_MARK[$g]:-0}) * 1000 * 100 / hz / wall))
        line+="${g}=${pct}% "
        extra "cpu.${name}.${g}_pct_of_core" "$pct"
    done < <(cpu_groups)
    log "  CPU (% of one core) during ${name}: ${line}(wrk and other tenants of the machine not shown)"
}

# wal_mark / wal_report NAME COUNT: WAL flushes (fsyncs) per committed unit (group commit evidence).
WAL_MARK=""
wal_mark() { WAL_MARK=$(sqlc "SELECT wal_sync || ' ' || wal_records FROM pg_stat_wal"); }
wal_report() {
    local name=$1 count=$2 now s0 s1
    now=$(sqlc "SELECT wal_sync || ' ' || wal_records FROM pg_stat_wal")
    read -r s0 _ <<<"$WAL_MARK"
    read -r s1 _ <<<"$now"
    ((count > 0)) || return 0
    extra "wal.${name}.syncs" "$((s1 - s0))"
    extra "wal.${name}.syncs_per_unit" "$(awk -v a=$((s1 - s0)) -v b="$count" 'BEGIN { printf "%.3f", a / b }')"
    log "  WAL: $((s1 - s0)) fsyncs for ${count} (per unit: $(awk -v a=$((s1 - s0)) -v b="$count" 'BEGIN { printf "%.3f", a / b }'))"
}

# worker_start NAME [KEY=VALUE...]: our own imggen-worker with the stack's configuration, the
# given keys overriding it (the environment wins over IMGGEN_CONFIG's file).
worker_start() {
    local name=$1 k
    shift
    local -a clean=(env)
    while IFS= read -r k; do clean+=(-u "$k"); done < <(sed -n 's/=.*//p' "$STACK/imggen.env")
    "${clean[@]}" IMGGEN_CONFIG="$STACK/imggen.env" IMGGEN_SHUTDOWN_GRACE_SECONDS=5 "$@" \
        "$BIN/imggen-worker" </dev/null >>"$DIR/worker-$name.log" 2>&1 &
    WORKER_PID=$!
    # ready when every child has said so
    local n want deadline=$((SECONDS + 20))
    want=$(printf '%s\n' "$@" | sed -n 's/^IMGGEN_WORKER_PROCESSES=//p')
    want=${want:-$(sed -n 's/^IMGGEN_WORKER_PROCESSES=//p' "$STACK/imggen.env")}
    while :; do
        n=$(grep -c 'worker child .* ready' "$DIR/worker-$name.log" 2>/dev/null || true)
        ((n >= want)) && break
        kill -0 "$WORKER_PID" 2>/dev/null || die "the worker ($name) exited: $(tail -n 5 "$DIR/worker-$name.log")"
        ((SECONDS < deadline)) || die "the worker ($name) did not get ready"
        sleep 0.1
    done
}

worker_stop() {
    [[ -n $WORKER_PID ]] || return 0
    local i
    kill -TERM "$WORKER_PID" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        kill -0 "$WORKER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$WORKER_PID" 2>/dev/null; then
        log "warning: worker $WORKER_PID did not stop; SIGKILL"
        local -a kids
        mapfile -t kids < <(children_of "$WORKER_PID")
        kill -KILL "$WORKER_PID" "${kids[@]}" 2>/dev/null || true
    fi
    wait "$WORKER_PID" 2>/dev/null || true
    WORKER_PID=""
}

# The stack's own worker (started by stack.sh) is stopped once the sample generation is done:
# every phase runs the worker it needs itself, configured for it.
stack_worker_stop() {
    local pid i
    pid=$(tr -dc '0-9' <"$STACK/run/worker.pid" 2>/dev/null) || return 0
    [[ -n $pid ]] || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 300; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    die "the stack's worker (pid $pid) did not stop"
}

# wait_until SECONDS COMMAND...: poll every 0.2 s.
wait_until() {
    local deadline=$(($(now_ms) + $1 * 1000))
    shift
    until "$@"; do
        (($(now_ms) < deadline)) || return 1
        sleep 0.2
    done
}

# ---------------------------------------------------------------------------------------------------
# set-up

start_standin() {
    standin_start "$REPO/tests/standins/providers.js" "$DIR/providers.log"
}

setup_stack() {
    DIR=$(mktemp -d "${TMPDIR:-/tmp}/imggen-bench.XXXXXX")
    chmod 0755 "$DIR"
    STACK=$DIR/stack
    mkdir -p "$STACK"
    chmod 0755 "$STACK"
    start_standin
    log "provider stand-in on port $STANDIN_PORT"
    # The instant provider: the stand-in as OpenAI (one call per generation; the same prompt gives
    # the same small PNG, cached by the stand-in). Everything else stays at its production default.
    {
        echo "IMGGEN_PROVIDER=openai"
        echo "OPENAI_API_KEY=test-openai-key"
        echo "OPENAI_API_BASE_URL=http://127.0.0.1:$STANDIN_PORT"
        echo "IMGGEN_WORKER_PROCESSES=2"
        echo "IMGGEN_LOG_LEVEL=info"
    } >"$STACK/imggen.local.env"
    log "bringing up the stack in $STACK ($RESPONDERS responders; fsync and synchronous_commit on)"
    "$STACK_SH" up "$STACK" --bin "$BIN" --responders "$RESPONDERS" >"$DIR/stack-up.log" 2>&1 ||
        {
            cat "$DIR/stack-up.log" >&2
            die "the stack did not come up"
        }
    set -a
    # shellcheck disable=SC1091
    . "$STACK/stack.env"
    set +a
    PG_SOCK=$STACK/pg/run
    if [[ $(id -u) -eq 0 ]]; then PG_USER=postgres; else PG_USER=$(id -un); fi
    local fsync sc
    fsync=$(sqlc "SHOW fsync")
    sc=$(sqlc "SHOW synchronous_commit")
    [[ $fsync == on && $sc == on ]] || die "the bench stack must run with fsync and synchronous_commit on (fsync=$fsync synchronous_commit=$sc)"
    extra "pg.version" "$(sqlc "SHOW server_version")"
    extra "pg.shared_buffers" "$(sqlc "SHOW shared_buffers")"
    extra "pg.wal_sync_method" "$(sqlc "SHOW wal_sync_method")"
    extra "stack.responders" "$RESPONDERS"
}

# BENCH_USERS users with tokens igt_benchtoken<33 digits>, limits raised so that no POST is a 429;
# user 0 is the one of the single-user figures and of the sample generation.
setup_users() {
    sql <<SQL
INSERT INTO users (email, max_pending, daily_image_quota)
  SELECT 'bench-' || lpad(i::text, 3, '0') || '@bench.invalid', 1000000000, 2000000000
  FROM generate_series(0, $((BENCH_USERS - 1))) i;
INSERT INTO api_tokens (user_id, token_hash, name)
  SELECT u.id, sha256(convert_to('igt_benchtoken' || lpad(substr(u.email, 7, 3), 33, '0'), 'UTF8')), 'bench'
  FROM users u WHERE u.email LIKE 'bench-%@bench.invalid';
SQL
    local i
    TOKENS=()
    for ((i = 0; i < BENCH_USERS; i++)); do
        TOKENS+=("igt_benchtoken$(printf '%033d' "$i")")
    done
    TOKEN0=${TOKENS[0]}
    TOKENS_CSV=$(
        IFS=,
        echo "${TOKENS[*]}"
    )
    USER0=$(sqlc "SELECT id FROM users WHERE email = 'bench-000@bench.invalid'")
    TOKEN0_HASH=$(printf '%s' "$TOKEN0" | sha256sum | cut -d' ' -f1)
}

api() { curl -sS --max-time 10 --cacert "$IMGGEN_CACERT" -H "Authorization: Bearer $TOKEN0" "$@"; }

# The finished generation with 4 images that the GET phase polls, made by the real pipeline
# (responder → stack worker → stand-in → fs), and one queued by the API whose metadata the bulk
# enqueues copy, so that SQL-made jobs are exactly what the API makes.
setup_samples() {
    local out status i
    out=$(api -H 'Content-Type: application/json' \
        -d '{"prompt":"bench sample","numberOfImages":4,"aspectRatio":"1:1"}' \
        "$IMGGEN_URL/api/generate/text-to-image")
    GEN4=$(sed -n 's/.*"generationId":"\([0-9a-f-]*\)".*/\1/p' <<<"$out")
    [[ $GEN4 =~ ^[0-9a-f-]{36}$ ]] || die "POST failed: $out"
    for ((i = 0; i < 300; i++)); do
        status=$(sqlc "SELECT status FROM image_generations WHERE id = '$GEN4'")
        [[ $status == completed ]] && break
        [[ $status == failed ]] && die "the sample generation failed: $(api "$IMGGEN_URL/api/generate/queue/$GEN4")"
        sleep 0.1
    done
    [[ $status == completed ]] || die "the sample generation did not complete within 30 s"
    local images
    images=$(api "$IMGGEN_URL/api/generate/queue/$GEN4" | grep -o '"imageId"' | wc -l)
    [[ $images == 4 ]] || die "the sample generation has $images images, not 4"
    GET_BYTES=$(api "$IMGGEN_URL/api/generate/queue/$GEN4" | wc -c)
    extra "get.body_bytes" "$GET_BYTES"
    out=$(api -H 'Content-Type: application/json' \
        -d '{"prompt":"bench metadata","numberOfImages":1,"aspectRatio":"1:1"}' \
        "$IMGGEN_URL/api/generate/text-to-image")
    local gen1
    gen1=$(sed -n 's/.*"generationId":"\([0-9a-f-]*\)".*/\1/p' <<<"$out")
    [[ $gen1 =~ ^[0-9a-f-]{36}$ ]] || die "POST failed: $out"
    META1=$(sqlc "SELECT metadata::text FROM image_generations WHERE id = '$gen1'")
    [[ $META1 == \{* ]] || die "no metadata for $gen1"
    stack_worker_stop
    # leave nothing queued behind
    sqlc "DELETE FROM image_generations WHERE prompt = 'bench metadata'" >/dev/null
    sqlc "UPDATE users SET pending = 0 WHERE email LIKE 'bench-%@bench.invalid'" >/dev/null
}

# enqueue_bulk N PROMPT USERS: N generations with their jobs in one statement, spread round-robin
# over the first USERS bench users, pending counters taken as the API does, one NOTIFY.
enqueue_bulk() {
    local n=$1 prompt=$2 users=$3
    sql -v n="$n" -v prompt="$prompt" -v meta="$META1" -v users="$users" <<'SQL' >/dev/null
WITH u AS (SELECT array_agg(id ORDER BY email) AS a FROM users WHERE email LIKE 'bench-%@bench.invalid'),
g AS (INSERT INTO image_generations (user_id, prompt, metadata)
      SELECT u.a[1 + (i % :users)], :'prompt', :'meta'::jsonb FROM u, generate_series(0, :n - 1) i
      ORDER BY i RETURNING id, user_id),
j AS (INSERT INTO jobs (kind, generation_id, max_attempts) SELECT 'generate', id, 5 FROM g),
p AS (UPDATE users SET pending = pending + c.n FROM (SELECT user_id, count(*) AS n FROM g GROUP BY user_id) c
      WHERE users.id = c.user_id)
SELECT count(*), pg_notify('imggen_jobs', '') FROM g;
SQL
}

# Forget the generations of earlier phases (the jobs go with them) and give the space back.
reset_queue() {
    sqlc "DELETE FROM image_generations WHERE prompt LIKE 'bench %' AND id <> '$GEN4'" >/dev/null
    sqlc "UPDATE users SET pending = 0 WHERE email LIKE 'bench-%@bench.invalid'" >/dev/null
    sqlc "VACUUM ANALYZE jobs" >/dev/null
    sqlc "VACUUM ANALYZE image_generations" >/dev/null
    sqlc "VACUUM ANALYZE uploads" >/dev/null
    # the images of earlier phases (the sample's stay)
    if [[ -d $IMGGEN_FS_ROOT/generations ]]; then
        find "$IMGGEN_FS_ROOT/generations" -mindepth 2 -maxdepth 2 -type d ! -name "$GEN4" -exec rm -rf {} + 2>/dev/null || true
    fi
}

# ---------------------------------------------------------------------------------------------------
# 1. ceiling

phase_ceiling() {
    log "== ceiling: pgbench on the stack's cluster (fsync, synchronous_commit on)"
    sqlc "DROP DATABASE IF EXISTS bench" >/dev/null
    sqlc "CREATE DATABASE bench" >/dev/null
    pgb bench -i -q -s 1 >"$DIR/pgbench-init.log" 2>&1 || die "pgbench -i failed: $(tail -n 5 "$DIR/pgbench-init.log")"
    psql -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -U "$PG_USER" -d bench -c \
        "CREATE TABLE bench_insert (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now())" >/dev/null
    local c tps
    # one client: the latency of one durable commit (what every enqueue and every job completion
    # waits for), the ceiling of the enqueue→claim latency
    pgb bench -n -f "$BENCH_DIR/pg-insert.sql" -c 1 -T "$WARMUP" >/dev/null 2>&1 || true
    pgb bench -n -f "$BENCH_DIR/pg-insert.sql" -c 1 -T "$DURATION" >"$DIR/pgbench-insert-1.log" 2>&1 ||
        die "pgbench failed: $(tail -n 5 "$DIR/pgbench-insert-1.log")"
    record "pg_insert_c1" "pgbench one-row INSERT, 1 client" "$(pgbench_tps "$DIR/pgbench-insert-1.log")" "tps"
    record "pg_commit_ms" "pgbench one-row INSERT latency, 1 client" "$(pgbench_lat "$DIR/pgbench-insert-1.log")" "ms"
    for c in 8 32; do
        pgb bench -n -f "$BENCH_DIR/pg-insert.sql" -c "$c" -j 2 -T "$WARMUP" >/dev/null 2>&1 || true
        pgb bench -n -f "$BENCH_DIR/pg-insert.sql" -c "$c" -j 2 -T "$DURATION" >"$DIR/pgbench-insert-$c.log" 2>&1 ||
            die "pgbench failed: $(tail -n 5 "$DIR/pgbench-insert-$c.log")"
        tps=$(pgbench_tps "$DIR/pgbench-insert-$c.log")
        record "pg_insert_c$c" "pgbench one-row INSERT, $c clients" "$tps" "tps"
        extra "pg_insert_c$c.latency_ms" "$(pgbench_lat "$DIR/pgbench-insert-$c.log")"
    done
    pgb bench -n -S -c 8 -j 2 -T "$WARMUP" >/dev/null 2>&1 || true
    pgb bench -n -S -c 8 -j 2 -T "$DURATION" >"$DIR/pgbench-select-8.log" 2>&1 ||
        die "pgbench -S failed: $(tail -n 5 "$DIR/pgbench-select-8.log")"
    record "pg_select_c8" "pgbench -S (select-only), 8 clients" "$(pgbench_tps "$DIR/pgbench-select-8.log")" "tps"
}

# ---------------------------------------------------------------------------------------------------
# 2. GET

# A second nginx on the same responders, plain HTTP on loopback, with the production snippets:
# HTTPS (stack.sh) minus HTTP = the TLS cost.
start_http_nginx() {
    local conf=$DIR/nginx-http.conf
    HTTP_PORT=$(free_port) || die "no free TCP port for the plain-HTTP nginx"
    mkdir -p "$DIR/nginx-http"
    sed -e "s|@DIR@|$DIR|g" -e "s|@PORT@|$HTTP_PORT|g" -e "s|@API_SOCK@|$STACK/run/api.sock|g" \
        -e "s|@SNIPPETS_DIR@|$REPO/nginx/snippets|g" -e "s|@USER_DIRECTIVE@|$(if [[ $(id -u) -eq 0 ]]; then echo 'user root;'; fi)|g" \
        "$BENCH_DIR/nginx-http.conf.in" >"$conf"
    nginx -c "$conf" </dev/null >"$DIR/nginx-http-start.log" 2>&1 || die "plain-HTTP nginx: $(cat "$DIR/nginx-http-start.log")"
    wait_until 10 test -s "$DIR/nginx-http.pid" || die "plain-HTTP nginx did not start"
    HTTP_NGINX_PID=$(tr -dc '0-9' <"$DIR/nginx-http.pid")
    local code
    code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN0" \
        "http://127.0.0.1:$HTTP_PORT/api/generate/queue/$GEN4")
    [[ $code == 200 ]] || die "plain-HTTP GET answered $code"
}

# run_wrk NAME LUA URL CONNS SECONDS [env...]: one wrk run; sets W_RPS W_P50 W_P99 W_REQ W_NON2XX W_ERR.
run_wrk() {
    local name=$1 lua=$2 url=$3 conns=$4 secs=$5
    shift 5
    local logf=$DIR/wrk-$name.log line dur
    env BENCH_LUA_DIR="$BENCH_DIR" "$@" wrk -t2 -c"$conns" -d"${secs}s" --timeout 10s -s "$BENCH_DIR/$lua" "$url" \
        >"$logf" 2>&1 || die "wrk $name failed: $(tail -n 5 "$logf")"
    line=$(grep '^BENCH ' "$logf" | tail -n 1)
    [[ -n $line ]] || die "wrk $name printed no summary: $(tail -n 5 "$logf")"
    W_REQ=$(sed 's/.* requests=\([0-9]*\).*/\1/' <<<"$line")
    dur=$(sed 's/.* duration_us=\([0-9]*\).*/\1/' <<<"$line")
    W_NON2XX=$(sed 's/.* non2xx=\([0-9]*\).*/\1/' <<<"$line")
    W_ERR=$(sed 's/.* errors=\([0-9]*\).*/\1/' <<<"$line")
    W_P50=$(sed 's/.* p50_us=\([0-9]*\).*/\1/' <<<"$line" | awk '{ printf "%.2f", $1 / 1000 }')
    W_P99=$(sed 's/.* p99_us=\([0-9]*\).*/\1/' <<<"$line" | awk '{ printf "%.2f", $1 / 1000 }')
    W_RPS=$(awk -v r="$W_REQ" -v d="$dur" 'BEGIN { printf "%.1f", r * 1e6 / d }')
    W_STATUS=$(sed -n 's/^BENCH_STATUS //p' "$logf" | tail -n 1)
}

responder_rss_mark() {
    local p
    RESP_PIDS=$(responder_pids | sort | tr '\n' ' ')
    declare -gA RESP_RSS0=()
    for p in $RESP_PIDS; do RESP_RSS0[$p]=$(rss_kb "$p"); done
    RESP_LOG_LINES0=$(wc -l <"$STACK/log/nginx-access.log")
    [[ -n $HTTP_NGINX_PID ]] && RESP_LOG_LINES0=$((RESP_LOG_LINES0 + $(wc -l <"$DIR/nginx-http-access.log")))
    log "  responder RSS baseline (KB): $(for p in $RESP_PIDS; do printf '%s ' "${RESP_RSS0[$p]}"; done)"
}

phase_get() {
    log "== GET /api/generate/queue/:id (finished, 4 images, ${GET_BYTES} bytes) with wrk"
    start_http_nginx
    local https=$IMGGEN_URL/api/generate/queue/$GEN4 http=http://127.0.0.1:$HTTP_PORT/api/generate/queue/$GEN4
    local scheme url c
    # warm-up (and the memory phase's baseline after it: libraries, caches and the connection are set)
    run_wrk get-warm get.lua "$https" 32 "$WARMUP" BENCH_TOKEN="$TOKEN0" BENCH_GEN="$GEN4"
    run_wrk get-warm-http get.lua "$http" 32 "$WARMUP" BENCH_TOKEN="$TOKEN0" BENCH_GEN="$GEN4"
    if [[ -z ${RESP_PIDS:-} ]]; then responder_rss_mark; fi
    for scheme in https http; do
        if [[ $scheme == https ]]; then url=$https; else url=$http; fi
        for c in 32 256; do
            if [[ $scheme == https && $c == 32 ]]; then cpu_mark; fi
            run_wrk "get-$scheme-$c" get.lua "$url" "$c" "$DURATION" BENCH_TOKEN="$TOKEN0" BENCH_GEN="$GEN4"
            if [[ $scheme == https && $c == 32 ]]; then cpu_report get_https_32; fi
            if ((W_NON2XX != 0 || W_ERR != 0)); then log "  warning: $W_NON2XX non-2xx answers, $W_ERR socket errors"; fi
            if [[ $scheme == https && $c == 32 ]]; then
                record "get_${scheme}_c${c}_rps" "GET ${scheme^^} ${c} conns" "$W_RPS" "req/s" pg_select_c8 ratio ">=" 0.15
                record "get_${scheme}_c${c}_p99" "GET ${scheme^^} ${c} conns p99" "$W_P99" "ms" - value "<=" 10
            else
                record "get_${scheme}_c${c}_rps" "GET ${scheme^^} ${c} conns" "$W_RPS" "req/s" pg_select_c8
                record "get_${scheme}_c${c}_p99" "GET ${scheme^^} ${c} conns p99" "$W_P99" "ms"
            fi
            record "get_${scheme}_c${c}_p50" "GET ${scheme^^} ${c} conns p50" "$W_P50" "ms"
            extra "get_${scheme}_c${c}.non2xx" "$W_NON2XX"
            extra "get_${scheme}_c${c}.socket_errors" "$W_ERR"
        done
    done
    # The GET's own SQL (store_generation_json_by_token: authentication and document in one
    # statement, extracted from store.c), without nginx, FastCGI or the responder: PQexecParams'
    # protocol (extended, unnamed statements: parsed and planned every time) vs prepared once per
    # connection, which is what the responders do.
    local get doc
    get=$(c_sql "$REPO/fcgi-app/lib/store.c" store_generation_json_by_token)
    doc=$(c_sql "$REPO/fcgi-app/lib/store.c" store_generation_json)
    [[ -n $get && -n $doc ]] || die "could not extract the GET's SQL from store.c"
    printf '%s;\n' "$(sed -e 's/\$1/:hash/g' -e 's/\$2/:gen/g' <<<"$get")" >"$DIR/pg-get.sql"
    local mode
    for mode in extended prepared; do
        pgb imggen -n -M "$mode" -f "$DIR/pg-get.sql" -D hash="$TOKEN0_HASH" -D gen="$GEN4" \
            -c 8 -j 2 -T "$WARMUP" >/dev/null 2>&1 || true
        pgb imggen -n -M "$mode" -f "$DIR/pg-get.sql" -D hash="$TOKEN0_HASH" -D gen="$GEN4" \
            -c 8 -j 2 -T "$DURATION" >"$DIR/pgbench-get-$mode.log" 2>&1 ||
            die "pgbench (GET SQL) failed: $(tail -n 5 "$DIR/pgbench-get-$mode.log")"
        record "get_sql_$mode" "GET's statement alone, pgbench -M $mode, 8 cl" \
            "$(pgbench_tps "$DIR/pgbench-get-$mode.log")" "tps" pg_select_c8
    done
    # where the planning goes
    local q="'" docq
    docq=${doc//\$1/:${q}gen${q}}
    docq=${docq//\$2/:${q}uid${q}}
    sql -v gen="$GEN4" -v uid="$USER0" <<<"EXPLAIN (ANALYZE, BUFFERS) $docq;" >"$DIR/explain-get.txt" || true
    extra "get_sql.explain_planning_ms" "$(sed -n 's/.*Planning Time: \([0-9.]*\) ms.*/\1/p' "$DIR/explain-get.txt" | head -n 1)"
    extra "get_sql.explain_execution_ms" "$(sed -n 's/.*Execution Time: \([0-9.]*\) ms.*/\1/p' "$DIR/explain-get.txt" | head -n 1)"
    cp "$DIR/explain-get.txt" "$OUT/explain-get.txt"
}

# ---------------------------------------------------------------------------------------------------
# 3. POST

phase_post() {
    log "== POST /api/generate/text-to-image with wrk, 32 connections (worker stopped: nothing competes)"
    local url=$IMGGEN_URL/api/generate/text-to-image variant tokens prompt accepted rows jobs codes
    for variant in users32 user1; do
        if [[ $variant == users32 ]]; then tokens=$TOKENS_CSV; else tokens=$TOKEN0; fi
        prompt="bench post $variant"
        run_wrk "post-$variant-warm" post.lua "$url" 32 "$WARMUP" BENCH_TOKENS="$tokens" BENCH_PROMPT="bench warm"
        wal_mark
        if [[ $variant == users32 ]]; then cpu_mark; fi
        run_wrk "post-$variant" post.lua "$url" 32 "$DURATION" BENCH_TOKENS="$tokens" BENCH_PROMPT="$prompt"
        if [[ $variant == users32 ]]; then cpu_report post_users32; fi
        accepted=$(tr ' ' '\n' <<<"$W_STATUS" | awk -F= '$1 ~ /^2/ { s += $2 } END { print s + 0 }')
        codes=$W_STATUS
        wal_report "post_$variant" "$accepted"
        if [[ $variant == users32 ]]; then
            record "post_users32_rps" "POST 32 conns, 32 users" "$W_RPS" "req/s" pg_insert_c8 ratio ">=" 0.30
        else
            record "post_user1_rps" "POST 32 conns, 1 user" "$W_RPS" "req/s" pg_insert_c8
        fi
        record "post_${variant}_p50" "POST 32 conns, ${variant/users32/32 users} p50" "$W_P50" "ms"
        record "post_${variant}_p99" "POST 32 conns, ${variant/users32/32 users} p99" "$W_P99" "ms"
        # wrk counts the requests it completed; requests cut at the end are not in its count but may
        # have committed, so rows >= accepted (and never fewer)
        read -r rows jobs < <(sqlc "SELECT count(*), count(j.id) FROM image_generations g LEFT JOIN jobs j ON j.generation_id = g.id WHERE g.prompt = '$prompt'" | tr '|' ' ')
        record "post_${variant}_accepted" "POST ${variant/users32/32 users}: 2xx answers" "$accepted" "count" - - - - "statuses: $codes"
        record "post_${variant}_rows" "POST ${variant/users32/32 users}: generation rows" "$rows" "count" "post_${variant}_accepted" ratio ">=" 1
        record "post_${variant}_jobs" "POST ${variant/users32/32 users}: job rows" "$jobs" "count" "post_${variant}_rows" ratio ">=" 1
        extra "post_${variant}.statuses" "$codes"
        extra "post_${variant}.socket_errors" "$W_ERR"
    done
    # The enqueue statement alone (store_create_generation's, extracted from store.c; no auth, no
    # idempotency key), as PQexecParams sends it: at 8 clients from 32 users and from one user (the
    # user's row lock), and at 1 client (its latency: transaction start to commit).
    local enq users hash
    enq=$(c_sql "$REPO/fcgi-app/lib/store.c" store_create_generation)
    [[ -n $enq ]] || die "could not extract the enqueue statement from store.c"
    hash=$(printf 'bench' | sha256sum | cut -d' ' -f1)
    for users in 32 1; do
        {
            echo "\\set u random(0, $((users - 1)))"
            echo "SELECT id AS uid FROM users WHERE email = 'bench-' || lpad(:u::text, 3, '0') || '@bench.invalid' \\gset"
            printf '%s;\n' "$(sed -e 's/\$1/:uid/g' -e 's/\$2/:prompt/g' -e 's/\$3/:meta/g' -e 's/\$4/:att/g' \
                -e 's/\$5/:nimg/g' -e 's/\$6/NULL/g' -e 's/\$7/:hash/g' <<<"$enq")"
        } >"$DIR/pg-enqueue-$users.sql"
    done
    local -a vars=(-D prompt="bench pgbench post" -D meta="$META1" -D att=5 -D nimg=1 -D hash="$hash")
    local c
    for users in 32 1; do
        for c in 8 1; do
            if [[ $users == 1 && $c == 1 ]]; then continue; fi
            pgb imggen -n -M prepared -f "$DIR/pg-enqueue-$users.sql" "${vars[@]}" -c "$c" -j 1 -T "$WARMUP" >/dev/null 2>&1 || true
            pgb imggen -n -M prepared -f "$DIR/pg-enqueue-$users.sql" "${vars[@]}" -c "$c" -j 1 -T "$DURATION" \
                >"$DIR/pgbench-enqueue-$users-$c.log" 2>&1 || die "pgbench (enqueue) failed: $(tail -n 5 "$DIR/pgbench-enqueue-$users-$c.log")"
            if [[ $c == 8 ]]; then
                record "post_sql_u${users}_c8" "POST's enqueue statement alone, $users user(s), 8 cl" \
                    "$(pgbench_tps "$DIR/pgbench-enqueue-$users-$c.log")" "tps" pg_insert_c8
            else
                record "post_sql_c1_ms" "POST's enqueue statement alone, latency, 1 cl" \
                    "$(pgbench_lat "$DIR/pgbench-enqueue-$users-$c.log")" "ms" pg_commit_ms
            fi
        done
    done
    reset_queue
}

# ---------------------------------------------------------------------------------------------------
# callgrind

phase_callgrind() {
    log "== callgrind: instructions per request in the responder (api_dispatch in process)"
    command -v valgrind >/dev/null || {
        log "  valgrind not installed; skipped"
        return 0
    }
    local kind n ir1 ir2 per
    local n1=${BENCH_CALLGRIND_N1:-20} n2=${BENCH_CALLGRIND_N2:-220}
    for kind in get post; do
        for n in "$n1" "$n2"; do
            env IMGGEN_CONFIG="$STACK/imggen.env" BENCH_TOKEN="$TOKEN0" BENCH_GEN="$GEN4" \
                valgrind --tool=callgrind --callgrind-out-file="$DIR/callgrind.$kind.$n" \
                "$BIN/bench-api" "$kind" "$n" >"$DIR/callgrind-$kind-$n.log" 2>&1 ||
                die "bench-api $kind $n under callgrind failed: $(tail -n 5 "$DIR/callgrind-$kind-$n.log")"
        done
        ir1=$(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$DIR/callgrind.$kind.$n1")
        ir2=$(sed -n 's/^summary: \([0-9]*\).*/\1/p' "$DIR/callgrind.$kind.$n2")
        per=$(((ir2 - ir1) / (n2 - n1)))
        record "callgrind_${kind}_ir" "callgrind Ir per ${kind^^} (responder only)" "$per" "Ir"
        callgrind_annotate --inclusive=yes "$DIR/callgrind.$kind.$n2" 2>/dev/null | head -n 60 >"$OUT/callgrind-$kind.txt" || true
        cp "$DIR/callgrind.$kind.$n2" "$OUT/callgrind.out.$kind" 2>/dev/null || true
    done
    reset_queue
}

# ---------------------------------------------------------------------------------------------------
# 4. drain and enqueue→claim latency

queue_left() { sqlc "SELECT count(*) FROM jobs WHERE state <> 'dead'"; }
queue_empty() { [[ $(queue_left) == 0 ]]; }
queued_at_most() { (($(sqlc "SELECT count(*) FROM jobs WHERE state = 'queued'") <= $1)); }

# drain_stats PROMPT: "completed failed seconds rate" from first claim to last completion.
drain_stats() {
    sqlc "SELECT count(*) FILTER (WHERE status = 'completed'), count(*) FILTER (WHERE status = 'failed'),
            round(extract(epoch FROM max(completed_at) - min(started_at))::numeric, 3),
            round((count(*) FILTER (WHERE status = 'completed') /
                   nullif(extract(epoch FROM max(completed_at) - min(started_at)), 0))::numeric, 1)
          FROM image_generations WHERE prompt = '$1'" | tr '|' ' '
}

phase_drain() {
    log "== drain: $DRAIN_JOBS queued jobs, instant stand-in (openai), fs storage, worker 2 children x 16"
    reset_queue
    enqueue_bulk "$DRAIN_JOBS" "bench drain" "$BENCH_USERS"
    sqlc "VACUUM ANALYZE jobs" >/dev/null
    local size0 ndone failed secs rate
    size0=$(sqlc "SELECT pg_total_relation_size('jobs')")
    wal_mark
    worker_start drain IMGGEN_WORKER_PROCESSES=2 IMGGEN_WORKER_CONCURRENCY="$DRAIN_CONCURRENCY"
    cpu_mark
    if ! wait_until "$DRAIN_SECONDS" queue_empty; then
        log "  $(queue_left) jobs left after ${DRAIN_SECONDS} s; stopping there (BENCH_FULL=1 drains them all)"
    fi
    cpu_report drain
    worker_stop
    read -r ndone failed secs rate < <(drain_stats "bench drain")
    wal_report drain "$ndone"
    record "drain_rate" "drain, instant provider (first claim→last done)" "$rate" "jobs/s" pg_insert_c8 value ">=" 20000 \
        "$ndone completed, $failed failed in $secs s; 38,000 = best PG queue with batching"
    record "drain_completed" "drain: completed of $DRAIN_JOBS queued" "$ndone" "count" - - - - "in at most ${DRAIN_SECONDS} s"
    extra "drain.failed" "$failed"
    extra "drain.jobs_size_before_bytes" "$size0"
    # what the worker did not take is deleted row by row, as the worker's completions do
    sqlc "DELETE FROM jobs WHERE generation_id IN (SELECT id FROM image_generations WHERE prompt = 'bench drain')" >/dev/null
    sqlc "VACUUM jobs" >/dev/null
    record "drain_jobs_size_kb" "jobs table+indexes, $DRAIN_JOBS gone, VACUUM" \
        "$(($(sqlc "SELECT pg_total_relation_size('jobs')") / 1024))" "KB" - value "<=" 10240
    reset_queue
}

phase_latency() {
    local secs=$((DURATION + WARMUP)) n i
    n=$((secs * 10))
    log "== enqueue→claim latency: $n jobs at 10/s (API-shaped enqueue, then NOTIFY), idle worker"
    reset_queue
    worker_start latency IMGGEN_WORKER_PROCESSES=2 IMGGEN_WORKER_CONCURRENCY=16
    local one
    one="WITH u AS (SELECT id FROM users WHERE email = 'bench-001@bench.invalid'),
      g AS (INSERT INTO image_generations (user_id, prompt, metadata)
            SELECT u.id, 'bench latency', :'meta'::jsonb FROM u RETURNING id),
      j AS (INSERT INTO jobs (kind, generation_id, max_attempts) SELECT 'generate', id, 5 FROM g)
      SELECT count(*) FROM g;"
    # As the API does: the enqueue commits (autocommit), then the NOTIFY is its own statement.  In
    # between the session reads clock_timestamp(), one round trip after the commit returned: an
    # upper bound of the commit time, so started_at - it is a lower bound of the notification→claim
    # part (the rest of enqueue→claim is the commit itself).
    for ((i = 0; i < n; i++)); do
        printf '%s\nSELECT clock_timestamp(), 1;\nSELECT pg_notify('"'"'imggen_jobs'"'"', '"'"''"'"');\nSELECT pg_sleep(0.1);\n' "$one"
    done | sql -v meta="$META1" | sed -n 's/^\([0-9][0-9-]* [0-9:.+]*\)|.*/\1/p' >"$DIR/latency-commits.txt"
    wait_until 30 queue_empty || log "  warning: latency jobs still queued"
    worker_stop
    local p50 p99 mx cnt
    # the first WARMUP seconds are the warm-up
    read -r cnt p50 p99 mx < <(sqlc "WITH l AS (SELECT extract(epoch FROM started_at - created_at) * 1000 AS ms,
            row_number() OVER (ORDER BY created_at) AS k FROM image_generations WHERE prompt = 'bench latency')
          SELECT count(*), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
                 round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2), round(max(ms)::numeric, 2)
          FROM l WHERE k > $((WARMUP * 10))" | tr '|' ' ')
    record "claim_latency_p50" "enqueue→claim p50 at 10 jobs/s (NOTIFY)" "$p50" "ms" pg_commit_ms value "<=" 1 \
        "$cnt jobs; from jobs.created_at (enqueue txn start, before its commit) to started_at (claim txn start)"
    record "claim_latency_p99" "enqueue→claim p99 at 10 jobs/s (NOTIFY)" "$p99" "ms" pg_commit_ms value "<=" 5
    extra "claim_latency.max_ms" "$mx"
    # the same jobs measured from their commit (see above)
    local values
    values=$(awk '{ printf "%s(%d, %c%s%c::timestamptz)", (NR > 1 ? "," : ""), NR, 39, $0, 39 }' "$DIR/latency-commits.txt")
    if [[ -n $values ]]; then
        read -r cnt p50 p99 mx < <(sqlc "WITH c(k, ts) AS (VALUES $values),
              l AS (SELECT started_at, row_number() OVER (ORDER BY created_at) AS k
                    FROM image_generations WHERE prompt = 'bench latency'),
              d AS (SELECT extract(epoch FROM l.started_at - c.ts) * 1000 AS ms FROM l JOIN c USING (k)
                    WHERE k > $((WARMUP * 10)))
              SELECT count(*), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
                     round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2), round(max(ms)::numeric, 2) FROM d" | tr '|' ' ')
        record "notify_claim_p50" "commit→claim p50 (NOTIFY path alone)" "$p50" "ms" - - - - \
            "lower bound: commit time taken one round trip after COMMIT returned"
        record "notify_claim_p99" "commit→claim p99 (NOTIFY path alone)" "$p99" "ms"
    fi
    reset_queue
}

# ---------------------------------------------------------------------------------------------------
# 5. in flight

phase_inflight() {
    local per=$(((INFLIGHT_JOBS + 1) / 2))
    log "== in flight: $INFLIGHT_JOBS generations at once, stand-in answers after 5 s; worker 2 children x $per"
    reset_queue
    worker_start inflight IMGGEN_WORKER_PROCESSES=2 IMGGEN_WORKER_CONCURRENCY="$per"
    local samples=$DIR/inflight-samples.tsv t0
    : >"$samples"
    t0=$(now_ms)
    enqueue_bulk "$INFLIGHT_JOBS" "bench inflight [[slow:5000]]" "$BENCH_USERS"
    local deadline=$((SECONDS + 120)) running left conns total rss
    local -a wpids
    while ((SECONDS < deadline)); do
        read -r running left conns total < <(sqlc "SELECT (SELECT count(*) FROM jobs WHERE state = 'running'),
                (SELECT count(*) FROM jobs WHERE state <> 'dead'),
                (SELECT count(*) FROM pg_stat_activity WHERE application_name = 'imggen-worker'),
                (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')" | tr '|' ' ')
        mapfile -t wpids < <(worker_pids)
        rss=$(rss_sum_kb "${wpids[@]}")
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(($(now_ms) - t0))" "$running" "$left" "$conns" "$total" "$rss" >>"$samples"
        [[ $left == 0 ]] && break
        sleep 0.2
    done
    worker_stop
    local ndone failed secs rate peak peak_rss peak_conns
    read -r ndone failed secs rate < <(drain_stats "bench inflight [[slow:5000]]")
    peak=$(awk -F'\t' '$2 > m { m = $2 } END { print m + 0 }' "$samples")
    peak_rss=$(awk -F'\t' '$6 > m { m = $6 } END { printf "%.1f", m / 1024 }' "$samples")
    peak_conns=$(awk -F'\t' '$4 > m { m = $4 } END { print m + 0 }' "$samples")
    record "inflight_ideal" "in flight: ideal rate ($INFLIGHT_JOBS in flight / 5 s)" "$((INFLIGHT_JOBS / 5))" "jobs/s"
    record "inflight_rate" "in flight: completions/s (5 s provider)" "$rate" "jobs/s" inflight_ideal value ">=" 180 \
        "$ndone of $INFLIGHT_JOBS completed, $failed failed, first claim→last done $secs s (ideal: $INFLIGHT_JOBS/5 s)"
    record "inflight_peak" "in flight: peak running jobs" "$peak" "jobs" - value ">=" "$INFLIGHT_JOBS"
    record "inflight_rss_mb" "in flight: peak RSS, all worker processes" "$peak_rss" "MB" - value "<=" 256
    record "inflight_pg_conns" "in flight: PostgreSQL connections (worker)" "$peak_conns" "conns" - value "<=" 8
    cp "$samples" "$OUT/inflight-samples.tsv"
    reset_queue
}

# ---------------------------------------------------------------------------------------------------
# 6. growth

phase_growth() {
    log "== growth: claim latency and drain rate with 1,000 vs $GROWTH_JOBS queued"
    reset_queue
    local claim n depth tag lat ndone failed secs rate drain_n
    claim=$(c_sql "$REPO/fcgi-app/lib/queue.c" queue_claim)
    [[ -n $claim ]] || die "could not extract the claim statement from queue.c"
    # the worker's statement with LIMIT 16 (a child's free slots), rolled back: the queue is unchanged
    {
        echo "BEGIN;"
        printf '%s;\n' "$(sed -e "s/\\\$1/'bench-claim'/g" -e 's/\$2::int/60/g' -e 's/\$3::int/16/g' <<<"$claim")"
        echo "ROLLBACK;"
    } >"$DIR/pg-claim.sql"
    for depth in 1000 "$GROWTH_JOBS"; do
        tag="bench growth $depth"
        log "  enqueueing $depth"
        enqueue_bulk "$depth" "$tag" "$BENCH_USERS"
        sqlc "VACUUM ANALYZE jobs" >/dev/null
        sqlc "ANALYZE image_generations" >/dev/null
        pgb imggen -n -M extended -f "$DIR/pg-claim.sql" -c 1 -T "$WARMUP" >/dev/null 2>&1 || true
        sqlc "VACUUM ANALYZE jobs" >/dev/null
        sql >"$DIR/explain-claim-$depth.txt" <<<"BEGIN; EXPLAIN (ANALYZE, BUFFERS) $(sed -n 2p "$DIR/pg-claim.sql") ROLLBACK;" || true
        extra "growth.claim_explain_$depth.planning_ms" "$(sed -n 's/.*Planning Time: \([0-9.]*\) ms.*/\1/p' "$DIR/explain-claim-$depth.txt")"
        extra "growth.claim_explain_$depth.execution_ms" "$(sed -n 's/.*Execution Time: \([0-9.]*\) ms.*/\1/p' "$DIR/explain-claim-$depth.txt")"
        extra "growth.claim_explain_$depth.pending_trigger_ms" "$(sed -n 's/.*Trigger image_generations_pending.*time=\([0-9.]*\).*/\1/p' "$DIR/explain-claim-$depth.txt")"
        cp "$DIR/explain-claim-$depth.txt" "$OUT/" 2>/dev/null || true
        pgb imggen -n -M extended -f "$DIR/pg-claim.sql" -c 1 -T "$DURATION" >"$DIR/pgbench-claim-$depth.log" 2>&1 ||
            die "pgbench claim failed: $(tail -n 5 "$DIR/pgbench-claim-$depth.log")"
        lat=$(pgbench_lat "$DIR/pgbench-claim-$depth.log")
        if [[ $depth == 1000 ]]; then
            record "claim_ms_1k" "claim of 16 (BEGIN..ROLLBACK), 1,000 queued" "$lat" "ms"
        else
            record "claim_ms_big" "claim of 16 (BEGIN..ROLLBACK), $depth queued" "$lat" "ms" claim_ms_1k ratio "<=" 1.5
        fi
        # drain rate: the worker runs for DURATION seconds (or until 1,000 are done)
        drain_n=$((depth < 1000 ? depth : 1000))
        worker_start "growth-$depth" IMGGEN_WORKER_PROCESSES=2 IMGGEN_WORKER_CONCURRENCY=16
        wait_until "$DURATION" queued_at_most $((depth - drain_n)) || true
        # in-flight ones finish within the grace period
        worker_stop
        read -r ndone failed secs rate < <(drain_stats "$tag")
        if [[ $depth == 1000 ]]; then
            record "growth_drain_1k" "drain rate, 1,000 queued" "$rate" "jobs/s"
        else
            record "growth_drain_big" "drain rate, $depth queued" "$rate" "jobs/s" growth_drain_1k ratio ">=" 0.67
        fi
        # the rest is removed as the worker would (row DELETEs), then VACUUM as autovacuum would
        sqlc "DELETE FROM image_generations WHERE prompt = '$tag'" >/dev/null
        sqlc "UPDATE users SET pending = 0 WHERE email LIKE 'bench-%@bench.invalid'" >/dev/null
    done
    sqlc "VACUUM jobs" >/dev/null
    local total heap idx
    read -r total heap idx < <(sqlc "SELECT pg_total_relation_size('jobs'), pg_relation_size('jobs'), pg_indexes_size('jobs')" | tr '|' ' ')
    record "growth_jobs_size_kb" "jobs table+indexes after $GROWTH_JOBS, VACUUM" "$((total / 1024))" "KB" - value "<=" 10240 \
        "heap $((heap / 1024)) KB, indexes $((idx / 1024)) KB"
    extra "growth.jobs_heap_kb" "$((heap / 1024))"
    extra "growth.jobs_indexes_kb" "$((idx / 1024))"
    sqlc "SELECT indexrelid::regclass || ' ' || pg_relation_size(indexrelid) / 1024 FROM pg_index WHERE indrelid = 'jobs'::regclass" \
        >"$OUT/growth-index-sizes.txt" || true
    # VACUUM never returns a drained burst's index pages; the cron maintenance rebuilds them.
    env IMGGEN_CONFIG="$STACK/imggen.env" "$BIN/imggen-admin" maintenance >"$DIR/growth-maintenance.log" 2>&1 ||
        die "imggen-admin maintenance failed: $(tail -n 5 "$DIR/growth-maintenance.log")"
    read -r total heap idx < <(sqlc "SELECT pg_total_relation_size('jobs'), pg_relation_size('jobs'), pg_indexes_size('jobs')" | tr '|' ' ')
    record "growth_jobs_size_maint_kb" "jobs table+indexes after $GROWTH_JOBS, imggen-admin maintenance" \
        "$((total / 1024))" "KB" - value "<=" 10240 "heap $((heap / 1024)) KB, indexes $((idx / 1024)) KB"
    reset_queue
}

# ---------------------------------------------------------------------------------------------------
# 7. renderer

phase_render() {
    local secs=$((DURATION / 2)) size line note
    ((secs >= 3)) || secs=3
    log "== local renderer: images/s on one thread (render_image, PNG encoding included)"
    for size in 1024x1024 1280x720 1344x768; do
        line=$("$BIN/bench-render" "$size" "$secs") || die "bench-render $size failed"
        case $size in
        1280x720) note="the local provider's 16:9 size" ;;
        1344x768) note="not a local size (Gemini's 16:9); render_image called directly" ;;
        *) note="the local provider's 1:1 size" ;;
        esac
        record "render_${size}" "local renderer ${size} (1 thread)" \
            "$(sed 's/.* per_s=\([0-9.]*\).*/\1/' <<<"$line")" "img/s" - - - - "$note"
        extra "render_${size}.png_bytes" "$(sed 's/.* png_bytes=\([0-9]*\).*/\1/' <<<"$line")"
    done
}

# ---------------------------------------------------------------------------------------------------
# 8. memory

served_since_mark() {
    local n
    n=$(wc -l <"$STACK/log/nginx-access.log")
    [[ -n $HTTP_NGINX_PID ]] && n=$((n + $(wc -l <"$DIR/nginx-http-access.log")))
    echo $((n - RESP_LOG_LINES0))
}

phase_memory() {
    log "== memory: responder RSS before/after >= $MEMORY_REQUESTS requests; an idle worker child"
    local https=$IMGGEN_URL/api/generate/queue/$GEN4
    if [[ -z ${RESP_PIDS:-} ]]; then
        run_wrk mem-warm get.lua "$https" 32 "$WARMUP" BENCH_TOKEN="$TOKEN0" BENCH_GEN="$GEN4"
        responder_rss_mark
    fi
    local rounds=0
    while (($(served_since_mark) < MEMORY_REQUESTS && rounds < 200)); do
        run_wrk "mem-$rounds" get.lua "$https" 32 "$DURATION" BENCH_TOKEN="$TOKEN0" BENCH_GEN="$GEN4"
        rounds=$((rounds + 1))
    done
    local served p now growth=0 maxg=0 pids_now before=0 after=0 nresp=0
    served=$(served_since_mark)
    pids_now=$(responder_pids | sort | tr '\n' ' ')
    [[ $pids_now == "$RESP_PIDS" ]] || log "  warning: responders were restarted meanwhile ($RESP_PIDS -> $pids_now)"
    for p in $RESP_PIDS; do
        now=$(rss_kb "$p")
        [[ -n $now ]] || continue
        growth=$((now - RESP_RSS0[$p]))
        if ((growth > maxg)); then maxg=$growth; fi
        before=$((before + RESP_RSS0[$p]))
        after=$((after + now))
        nresp=$((nresp + 1))
        log "  responder $p: ${RESP_RSS0[$p]} KB -> $now KB"
    done
    ((nresp > 0)) || die "no responder to measure"
    record "responder_rss_kb" "responder RSS after the run (mean of $nresp)" "$((after / nresp))" "KB" - - - - \
        "$served requests through nginx since the baseline, over $nresp responders"
    # RSS moves in pages and malloc keeps freed memory: 64 KB over N requests still catches a leak
    # of a few bytes per request
    record "responder_rss_growth_kb" "responder RSS growth (largest of $nresp)" "$maxg" "KB" - value "<=" 64 \
        "baseline $((before / nresp)) KB mean; $served requests"
    extra "memory.requests_since_baseline" "$served"
    extra "memory.requests_per_responder" "$((served / nresp))"
    # idle worker: default concurrency
    reset_queue
    worker_start idle IMGGEN_WORKER_PROCESSES=2
    sleep 3
    local kids k m=0 r
    kids=$(children_of "$WORKER_PID")
    for k in $kids; do
        r=$(rss_kb "$k")
        if ((${r:-0} > m)); then m=$r; fi
    done
    record "worker_child_idle_rss_kb" "idle worker child RSS (largest)" "$m" "KB"
    extra "memory.worker_supervisor_rss_kb" "$(rss_kb "$WORKER_PID")"
    worker_stop
}

# ---------------------------------------------------------------------------------------------------

main() {
    [[ $# -eq 1 ]] || die "usage: run.sh BUILD_DIR"
    BIN=$(realpath -- "$1")
    local b
    for b in imggen-api imggen-worker imggen-admin bench-render bench-api; do
        [[ -x $BIN/$b ]] || die "$BIN/$b missing (make bench-build)"
    done
    for b in wrk node psql nginx curl ss; do
        command -v "$b" >/dev/null || die "$b is required (bash scripts/deps.sh; wrk: apt-get install wrk)"
    done
    if [[ -z $PGBENCH ]]; then
        local d
        for d in /usr/lib/postgresql/*/bin; do [[ -x $d/pgbench ]] && PGBENCH=$d/pgbench; done
        [[ -n $PGBENCH ]] || PGBENCH=$(command -v pgbench || true)
    fi
    [[ -x $PGBENCH ]] || die "pgbench not found (postgresql-contrib / postgresql)"

    trap cleanup EXIT
    trap 'exit 130' INT TERM
    mkdir -p "$OUT"
    rm -f "$OUT/results.tsv" "$OUT/extras.tsv" "$OUT/results.json"
    : >"$OUT/extras.tsv"
    local t0=$SECONDS
    log "duration ${DURATION}s after ${WARMUP}s warm-up per measurement; BENCH_FULL=$FULL; output $OUT"
    setup_stack
    setup_users
    setup_samples
    want ceiling && phase_ceiling
    want get && phase_get
    want post && phase_post
    want callgrind && phase_callgrind
    want drain && phase_drain
    want latency && phase_latency
    want inflight && phase_inflight
    want growth && phase_growth
    want render && phase_render
    want memory && phase_memory
    extra "run.seconds" "$((SECONDS - t0))"
    report
    log "done in $((SECONDS - t0)) s"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
