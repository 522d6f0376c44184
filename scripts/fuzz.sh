#!/usr/bin/env bash
# fuzz.sh — run the libFuzzer harnesses that `make fuzz-build` (mk/fuzz.mk) puts in DIR.
#
#   scripts/fuzz.sh run DIR SECONDS [HARNESS...]   fuzz each harness for SECONDS, one at a time
#   scripts/fuzz.sh regress DIR [HARNESS...]       replay every file of tests/fuzz/regressions/<h>/
#
# HARNESS is a name without the fuzz_ prefix (router, json_body, ...); default: all in DIR.
# run: the corpus is DIR/corpus/<h>/ (grows from run to run, never written into the repository)
# plus the seeds tests/fuzz/corpus/<h>/ and the regression inputs, with the dictionary
# tests/fuzz/dict/<h>.dict when there is one and -max_len from the table below. A crash, sanitizer
# report, leak, timeout (10 s per input) or broken invariant stops that harness, leaves the input in
# DIR/artifacts/<h>/ and makes the run fail; the other harnesses still run. The last lines are a
# table: runs, exec/s, cov (edges), ft (features), corpus size per harness.
# Environment: FUZZ_NICE (niceness, default 10), FUZZ_ARGS (extra libFuzzer flags).
set -euo pipefail

PROG=fuzz.sh
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

# Longest input per harness: the limit of what reaches the parser in production, or enough to
# reach every branch where that limit is large (provider answers may be megabytes, but nothing in
# their parsers depends on size beyond a few KiB).
max_len() {
    case $1 in
    json_body) echo 16384 ;;   # BUF_MAX_REQUEST_BODY
    router) echo 20480 ;;      # body limit + the header fields
    auth) echo 4200 ;;         # API_HEADER_MAX and a little more
    provider) echo 32768 ;;
    base64) echo 8192 ;;
    png_probe) echo 4096 ;;
    s3_error) echo 8192 ;;
    config) echo 16384 ;;
    sigv4) echo 4096 ;;
    retry_after) echo 128 ;;
    *) echo 4096 ;;
    esac
}

harnesses() {
    local dir=$1 f
    shift
    if [[ $# -gt 0 ]]; then
        printf '%s\n' "$@"
        return
    fi
    for f in "$dir"/fuzz_*; do
        [[ -x $f ]] && printf '%s\n' "${f##*/fuzz_}"
    done
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

cmd_regress() {
    local dir=$1 h bin n failed=0 total=0
    shift
    while read -r h; do
        bin=$dir/fuzz_$h
        [[ -x $bin ]] || die "no harness ${bin} (make fuzz-build)"
        local -a files=()
        if [[ -d $REPO/tests/fuzz/regressions/$h ]]; then
            mapfile -t files < <(find "$REPO/tests/fuzz/regressions/$h" -type f | sort)
        fi
        n=${#files[@]}
        [[ $n -gt 0 ]] || continue
        total=$((total + n))
        if "$bin" -runs=1 "${files[@]}" >"$dir/regress-$h.log" 2>&1; then
            log "regressions ${h}: ${n} input(s) pass"
        else
            log "regressions ${h}: FAILED (log: ${dir}/regress-${h}.log)"
            tail -n 40 "$dir/regress-$h.log" >&2
            failed=$((failed + 1))
        fi
    done < <(harnesses "$dir" "$@")
    log "regression inputs replayed: ${total}; harnesses failing: ${failed}"
    [[ $failed -eq 0 ]]
}

cmd_run() {
    local dir=$1 secs=$2 h bin rc logf cov ft runs eps corp
    shift 2
    [[ $secs =~ ^[0-9]+$ ]] || die "SECONDS must be a number"
    local -a rows=() failed=()
    while read -r h; do
        bin=$dir/fuzz_$h
        [[ -x $bin ]] || die "no harness ${bin} (make fuzz-build)"
        mkdir -p "$dir/corpus/$h" "$dir/artifacts/$h"
        local -a args=(-max_total_time="$secs" -max_len="$(max_len "$h")" -timeout=10
            -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/artifacts/$h/")
        [[ -f $REPO/tests/fuzz/dict/$h.dict ]] && args+=(-dict="$REPO/tests/fuzz/dict/$h.dict")
        local -a dirs=("$dir/corpus/$h")
        [[ -d $REPO/tests/fuzz/corpus/$h ]] && dirs+=("$REPO/tests/fuzz/corpus/$h")
        [[ -d $REPO/tests/fuzz/regressions/$h ]] && dirs+=("$REPO/tests/fuzz/regressions/$h")
        local -a extra=()
        read -r -a extra <<<"${FUZZ_ARGS:-}"
        logf=$dir/fuzz-$h.log
        log "fuzzing ${h} for ${secs}s (log: ${logf})"
        rc=0
        nice -n "${FUZZ_NICE:-10}" "$bin" "${args[@]}" "${extra[@]}" "${dirs[@]}" >"$logf" 2>&1 || rc=$?
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$logf" | tail -n 1)
        eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$logf" | tail -n 1)
        cov=$(grep -o 'cov: [0-9]*' "$logf" | tail -n 1 | cut -d' ' -f2)
        ft=$(grep -o 'ft: [0-9]*' "$logf" | tail -n 1 | cut -d' ' -f2)
        corp=$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "$logf" | tail -n 1 | cut -d' ' -f2)
        rows+=("$(printf '%-12s %12s %8s %6s %6s %10s %s' "$h" "${runs:-?}" "${eps:-?}" "${cov:-?}" \
            "${ft:-?}" "${corp:-?}" "$([[ $rc -eq 0 ]] && echo ok || echo FAILED)")")
        if [[ $rc -ne 0 ]]; then
            failed+=("$h")
            log "${h}: FAILED (exit ${rc}); the input is in ${dir}/artifacts/${h}/"
            grep -m1 -E 'ERROR: |runtime error|fuzz invariant' "$logf" >&2 || tail -n 20 "$logf" >&2
        fi
    done < <(harnesses "$dir" "$@")
    printf '%-12s %12s %8s %6s %6s %10s %s\n' harness runs exec/s cov ft corpus result
    printf '%s\n' "${rows[@]}"
    if [[ ${#failed[@]} -gt 0 ]]; then
        log "failed: ${failed[*]}"
        return 1
    fi
}

main() {
    [[ $# -ge 2 ]] || die "usage: ${PROG} run DIR SECONDS [HARNESS...] | regress DIR [HARNESS...]"
    local cmd=$1
    shift
    case $cmd in
    run)
        [[ $# -ge 2 ]] || die "usage: ${PROG} run DIR SECONDS [HARNESS...]"
        cmd_run "$@"
        ;;
    regress) cmd_regress "$@" ;;
    *) die "unknown command ${cmd}" ;;
    esac
}

main "$@"
