#!/usr/bin/env bash
# test-integration.sh — run integration test binaries against a fresh private stack.
#
#   scripts/test-integration.sh BIN_DIR TEST_BIN [TEST_BIN...]
#
# Brings a stack up in a new directory under ${TMPDIR:-/tmp} (scripts/stack.sh up, with the
# imggen binaries from BIN_DIR, 2 responders, fsync off), exports its stack.env (IMGGEN_URL,
# IMGGEN_CACERT, DATABASE_URL, IMGGEN_CONFIG, IMGGEN_ADMIN, IMGGEN_STACK_DIR, IMGGEN_FS_ROOT) and
# IMGGEN_BIN=BIN_DIR, runs every test binary in order (all of them, even after a failure) with the
# words of $CRITERION_ARGS as extra arguments, and always takes the stack down again.
# The tests run from the repository root (they may call scripts/stack.sh pg-stop/pg-start).
# Success: the stack directory is deleted. Failure: it is kept for inspection (its path is printed)
# together with the tails of its logs.
# Environment: CRITERION_ARGS, IMGGEN_TEST_TIMEOUT (seconds per test binary, default 1200),
# IMGGEN_KEEP_STACK=1 (keep the directory even on success).
# IMGGEN_VALGRIND=LOGDIR (`make valgrind`): stack.sh runs the services under valgrind memcheck (see
# its header), and so do the compiled test binaries that IMGGEN_VALGRIND_TESTS selects ("all", the
# default; "none"; or a list of their names, e.g. "test-api test-security"), Criterion's test
# processes included, each logging to LOGDIR/NAME.PID.log (NAME prefixed with test- if need be).
# Test scripts run as they are; their imggen-admin calls go through the stack's valgrind wrapper.
# The logs are judged by scripts/valgrind-gate.sh, not here.
set -euo pipefail

PROG=test-integration.sh
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK=$REPO/scripts/stack.sh
# shellcheck source=scripts/lib/suite.sh
. "$REPO/scripts/lib/suite.sh"

STACK_DIR=""
STACK_STARTED=0
FAILED=0

show_logs() {
    local f
    for f in postgres api worker nginx-error migrate; do
        suite_tails 40 "$STACK_DIR/log/$f.log"
    done
}

# is_elf FILE: a compiled program (a test binary), not a script.
is_elf() { [[ $(head -c 4 -- "$1" 2>/dev/null | tr -d '\0') == $'\177ELF' ]]; }

# vg_traced NAME: IMGGEN_VALGRIND_TESTS (all, the default; none; or binary names) selects NAME.
vg_traced() {
    local sel=${IMGGEN_VALGRIND_TESTS:-all} w
    case $sel in
    all) return 0 ;;
    none | 0) return 1 ;;
    esac
    for w in $sel; do [[ $w == "$1" ]] && return 0; done
    return 1
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [[ $rc -ne 0 ]] && FAILED=1
    if [[ -n $STACK_DIR ]]; then
        if [[ $STACK_STARTED -eq 1 ]]; then
            "$STACK" down "$STACK_DIR" || log "warning: stack.sh down failed"
        fi
        if [[ $FAILED -eq 0 && ${IMGGEN_KEEP_STACK:-0} != 1 ]]; then
            rm -rf "$STACK_DIR"
        else
            [[ $FAILED -ne 0 ]] && show_logs
            log "stack directory kept for inspection: ${STACK_DIR}"
        fi
    fi
    if [[ $FAILED -ne 0 && $rc -eq 0 ]]; then
        rc=1
    fi
    exit "$rc"
}

main() {
    [[ $# -ge 2 ]] || die "usage: ${PROG} BIN_DIR TEST_BIN [TEST_BIN...]"
    local bin_dir t
    local -a tests=()
    bin_dir=$(realpath -m -- "$1")
    shift
    [[ -d $bin_dir ]] || die "binary directory ${bin_dir} does not exist (build first: make all)"
    for t in "$@"; do
        [[ -f $t && -x $t ]] || die "test binary ${t} not found or not executable"
        tests+=("$(realpath -- "$t")")
    done

    if [[ -n ${IMGGEN_VALGRIND:-} ]]; then
        IMGGEN_VALGRIND=$(realpath -m -- "$IMGGEN_VALGRIND") # stack.sh and the tests see one path
        export IMGGEN_VALGRIND
        mkdir -p "$IMGGEN_VALGRIND"
        command -v valgrind >/dev/null || die "IMGGEN_VALGRIND is set but valgrind is not installed"
    fi

    local base
    base=$(suite_base_dir)
    trap cleanup EXIT
    trap suite_on_signal INT TERM
    STACK_DIR=$(mktemp -d "${base}/imggen-it.XXXXXX")
    chmod 0755 "$STACK_DIR"

    log "starting a test stack in ${STACK_DIR}"
    # JWT bearer tokens are optional; the tests exercise them, so enable them.
    echo "IMGGEN_JWT_SECRET=test-jwt-secret-0123456789abcdef0123456789" \
        >"$STACK_DIR/imggen.local.env"
    # Fake credentials no test stack uses, so the secrets-in-logs test has values to look for.
    cat "$REPO/tests/security/secrets.env" >>"$STACK_DIR/imggen.local.env"
    STACK_STARTED=1
    if ! "$STACK" up "$STACK_DIR" --bin "$bin_dir" --responders 2 --no-fsync; then
        FAILED=1
        die "the test stack did not start"
    fi

    set -a
    # shellcheck disable=SC1091 # written by stack.sh
    . "$STACK_DIR/stack.env"
    set +a
    export IMGGEN_BIN=$bin_dir
    # The tests run from the repository root: some call scripts/stack.sh (pg-stop/pg-start).
    cd "$REPO"

    local -a crit_args=() passed=() failed=() vg=()
    read -r -a crit_args <<<"${CRITERION_ARGS:-}"
    local timeout_s=${IMGGEN_TEST_TIMEOUT:-1200} rc start name
    for t in "${tests[@]}"; do
        printf '\n%s: ==== %s ====\n' "$PROG" "$t" >&2
        start=$SECONDS
        rc=0
        vg=()
        if [[ -n ${IMGGEN_VALGRIND:-} ]] && is_elf "$t" && vg_traced "${t##*/}"; then
            name=${t##*/}
            [[ $name == test-* ]] || name=test-$name
            # Criterion runs each test in a child that re-executes the binary: follow execs, but
            # not into the shells and tools the tests run (popen/system; imggen-admin goes
            # through the stack's own valgrind wrapper).
            vg=(valgrind --leak-check=full "--errors-for-leak-kinds=definite,indirect"
                "--show-leak-kinds=definite,indirect" --num-callers=30 --read-inline-info=no
                --trace-children=yes "--trace-children-skip=/bin/*,/usr/*,*.sh"
                "--suppressions=$REPO/tests/valgrind.supp"
                "--log-file=$IMGGEN_VALGRIND/${name}.%p.log")
            log "under valgrind (logs: ${IMGGEN_VALGRIND}/${name}.PID.log)"
        fi
        # in the background + wait, so that a signal is handled at once (see suite_on_signal)
        timeout --kill-after=10 "$timeout_s" "${vg[@]}" "$t" "${crit_args[@]}" </dev/null &
        TEST_PID=$!
        wait "$TEST_PID" || rc=$?
        TEST_PID=""
        if [[ $rc -eq 0 ]]; then
            passed+=("$t")
            log "PASS ${t} ($((SECONDS - start))s)"
        else
            [[ $rc -eq 124 ]] && log "${t} timed out after ${timeout_s}s"
            failed+=("$t")
            log "FAIL ${t} (exit ${rc}, $((SECONDS - start))s)"
        fi
    done

    printf '\n' >&2
    log "${#passed[@]} passed, ${#failed[@]} failed"
    if [[ ${#failed[@]} -gt 0 ]]; then
        for t in "${failed[@]}"; do log "  failed: ${t}"; done
        FAILED=1
        return 1
    fi
}

main "$@"
