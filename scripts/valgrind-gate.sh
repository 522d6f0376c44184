#!/usr/bin/env bash
# valgrind-gate.sh LOGDIR — fails when the valgrind memcheck logs in LOGDIR show a problem.
#
# Exit statuses cannot carry the findings of forked processes (Criterion's test processes, the
# worker's children, the responders under multiwatch), so every process writes its own log
# (--log-file=LOGDIR/ROLE.%p.log) and this gate reads them all. A log fails the gate when it has
#   - an error: "ERROR SUMMARY: N" with N > 0 (invalid reads/writes, uses of uninitialised values,
#     bad frees, and leaks of the kinds given to --errors-for-leak-kinds), or a definite or
#     indirect leak in its LEAK SUMMARY;
#   - a crash: the process was terminated by SIGSEGV, SIGBUS, SIGILL, SIGFPE or SIGABRT, or valgrind
#     itself failed;
#   - no final "ERROR SUMMARY" when the process had to finish under valgrind. Valgrind writes the
#     summaries (and runs the leak check) when the process exits, so a process that was SIGKILLed,
#     or is still running, leaves a log without them, and its leaks would go unseen.
# The ROLE prefix says which processes must finish under valgrind:
#   api, worker, admin  the services (scripts/stack.sh under IMGGEN_VALGRIND): they never exec, so
#                       every one of their logs must end in a summary.
#   test-*              test binaries (the Makefile, scripts/test-integration.sh). They run helpers
#                       through popen/system (fork, then exec of /bin/sh); valgrind stops following a
#                       process at exec, which leaves a log holding only valgrind's header. Such a
#                       header-only log is accepted (a test process killed before it finished shows as
#                       a failed test); anything more without a summary fails.
#   any other           must end in a summary.
set -euo pipefail

dir=${1:?usage: valgrind-gate.sh LOGDIR}
[[ -d $dir ]] || {
    echo "valgrind-gate: ${dir} is not a directory" >&2
    exit 1
}
shopt -s nullglob
logs=("$dir"/*.log)
if [[ ${#logs[@]} -eq 0 ]]; then
    echo "valgrind-gate: no logs in ${dir}" >&2
    exit 1
fi

# header_only FILE: nothing but valgrind's start-up banner (and blank "==PID== " lines).
header_only() {
    ! grep -qvE '^==[0-9]+== ((Memcheck, a memory error detector|Copyright \(C\)|Using Valgrind-|Command: |Parent PID: ).*)?$' "$1"
}

show() {
    local f=$1 why=$2
    printf '== %s: %s\n' "$f" "$why" >&2
    grep -A30 -m3 -E 'Invalid |uninitialised|Mismatched free|free\(\) / delete|definitely lost in|indirectly lost in|Process terminating|impossible' "$f" >&2 ||
        tail -n 20 "$f" >&2
}

declare -A roles=()
bad=0 execd=0
for f in "${logs[@]}"; do
    base=${f##*/}
    role=${base%%.*}
    [[ $role == test-* ]] && role="test"
    roles[$role]=$((${roles[$role]:-0} + 1))
    if grep -qE 'ERROR SUMMARY: [1-9]|definitely lost: [1-9]|indirectly lost: [1-9]' "$f"; then
        show "$f" "errors or leaks"
        bad=$((bad + 1))
    elif grep -qE "Process terminating with default action of signal (4|6|7|8|11) |the 'impossible' happened" "$f"; then
        show "$f" "the process crashed"
        bad=$((bad + 1))
    elif ! grep -q 'ERROR SUMMARY: ' "$f"; then
        if [[ $role == test ]] && header_only "$f"; then
            execd=$((execd + 1))
        else
            show "$f" "no summary: the process was killed (SIGKILL) or is still running, so no leak check ran"
            bad=$((bad + 1))
        fi
    fi
done

counts=""
for role in $(printf '%s\n' "${!roles[@]}" | sort); do counts+="${counts:+, }${roles[$role]} ${role}"; done
if [[ $bad -gt 0 ]]; then
    echo "valgrind-gate: ${bad} of ${#logs[@]} process logs in ${dir} failed (${counts})" >&2
    exit 1
fi
echo "valgrind-gate: ${#logs[@]} process logs (${counts}; ${execd} of them test helpers that exec'd), no errors, no leaks"
