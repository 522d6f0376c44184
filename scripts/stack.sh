#!/usr/bin/env bash
# stack.sh — bring a complete private imggen stack up or down inside one directory.
#
#   scripts/stack.sh up DIR [--https-port PORT] [--responders N] [--bin BIN_DIR] [--no-fsync]
#   scripts/stack.sh down DIR
#   scripts/stack.sh pg-stop DIR | pg-start DIR      (PostgreSQL only; for database-outage tests)
#   scripts/stack.sh status DIR
#
# A stack is: PostgreSQL (private unix socket, no TCP), imggen-admin migrate, N imggen-api responders
# (spawn-fcgi + multiwatch on DIR/run/api.sock), one imggen-worker, and nginx serving HTTPS on
# 127.0.0.1:PORT with a self-signed certificate. Everything lives under DIR:
#
#   DIR/pg/data  DIR/pg/run        PostgreSQL cluster and its socket directory (owned by postgres when root)
#   DIR/log/*.log                  postgres, api (responders), worker, nginx-error, nginx-access, migrate
#   DIR/run/*.pid DIR/run/api.sock
#   DIR/tls/{cert,key}.pem         self-signed, SAN DNS:localhost,IP:127.0.0.1 (use cert.pem as the CA)
#   DIR/files                      IMGGEN_FS_ROOT, served by nginx at /files/
#   DIR/nginx.conf DIR/nginx/      nginx config (from nginx/imggen-dev.conf.in) and its temp dirs
#   DIR/imggen.env                 config for the binaries (IMGGEN_CONFIG); rewritten on every `up`.
#                                  Keys in the optional DIR/imggen.local.env override or extend it.
#   DIR/stack.env                  for clients and tests: IMGGEN_URL, IMGGEN_CACERT, DATABASE_URL, ...
#
# --no-fsync (used by test-integration.sh): PostgreSQL runs with fsync, synchronous_commit and
# full_page_writes off; only for throw-away stacks. --responders N (default 2). PORT default: the
# port this DIR used last time if it is still free, else a random free one.
# `up` is idempotent: what already runs is reused. A service is restarted only when its configuration
# changed (port, responders, imggen.env) or its binary was rebuilt after it started.
# Environment: IMGGEN_BIN (binaries, default <repo>/build/default), PG_BINDIR (PostgreSQL binaries,
# default the newest /usr/lib/postgresql/*/bin), IMGGEN_STOP_TIMEOUT (seconds to wait for a graceful
# stop of worker/responders, default 20; 180 for a stack started under valgrind).
# IMGGEN_VALGRIND=LOGDIR (for `up`; used by `make valgrind`): imggen-api, imggen-worker (supervisor and
# children) and imggen-admin run under valgrind memcheck, each process logging to LOGDIR/ROLE.PID.log
# (ROLE: api, worker, admin); stack.env's IMGGEN_ADMIN then names DIR/bin/imggen-admin, a wrapper
# that runs imggen-admin under valgrind too (IMGGEN_VALGRIND_ADMIN: see write_admin_wrapper).
# Start-up deadlines are multiplied by IMGGEN_VALGRIND_SLOW (default 6). A running stack whose
# valgrind setting differs is restarted by `up`; `down` stops the services with SIGTERM and waits
# for them (and valgrind's leak check) to exit, so every log ends in its summary.
set -euo pipefail

PROG=stack.sh
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib/ports.sh
. "$REPO/scripts/lib/ports.sh"
IS_ROOT=0
[[ $(id -u) -eq 0 ]] && IS_ROOT=1

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }
die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}

usage() {
    cat >&2 <<'EOF'
usage: stack.sh up DIR [--https-port PORT] [--responders N] [--bin BIN_DIR] [--no-fsync]
       stack.sh down DIR
       stack.sh pg-stop DIR
       stack.sh pg-start DIR
       stack.sh status DIR
EOF
    exit 2
}

# ---------------------------------------------------------------------------------------------------
# small helpers

now_ms() { date +%s%3N; }

# wait_for SECONDS DESCRIPTION COMMAND...: poll COMMAND until it succeeds or the deadline passes.
wait_for() {
    local secs=$1 what=$2
    shift 2
    local deadline=$(($(now_ms) + secs * 1000))
    while :; do
        if "$@" >/dev/null 2>&1; then
            return 0
        fi
        if (($(now_ms) >= deadline)); then
            log "timed out after ${secs}s waiting for ${what}"
            return 1
        fi
        sleep 0.1
    done
}

# proc_alive PID: the process exists and is not a zombie.
proc_alive() {
    local pid=$1 stat
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat:0:1} != Z ]]
}

proc_cmdline() { tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true; }

# pid_from_file FILE PATTERN: print the pid in FILE if that process is alive and its command line
# contains PATTERN (guards against a recycled pid); fail otherwise.
pid_from_file() {
    local file=$1 pattern=$2 pid
    [[ -s $file ]] || return 1
    pid=$(tr -dc '0-9' <"$file")
    proc_alive "$pid" || return 1
    [[ $(proc_cmdline "$pid") == *"$pattern"* ]] || return 1
    printf '%s\n' "$pid"
}

# pids_in_group PGID: every live process whose process group is PGID.
pids_in_group() {
    local pgid=$1 f stat rest
    for f in /proc/[0-9]*/stat; do
        stat=$(cat "$f" 2>/dev/null) || continue
        rest=${stat##*) }
        # rest: state ppid pgrp ...
        read -r -a fields <<<"$rest"
        [[ ${fields[2]:-} == "$pgid" && ${fields[0]} != Z ]] && printf '%s\n' "${f//[!0-9]/}"
    done
    return 0
}

group_alive() { [[ -n $(pids_in_group "$1") ]]; }
proc_gone() { ! proc_alive "$1"; }
group_gone() { ! group_alive "$1"; }

# stop_pid NAME PID SIGNAL SECONDS [GROUP]: send SIGNAL, wait up to SECONDS, then SIGKILL.
# With GROUP=group, wait for / kill the whole process group PID (spawn-fcgi makes multiwatch a
# session leader, so its responders share its group).
stop_pid() {
    local name=$1 pid=$2 sig=$3 secs=$4 group=${5:-}
    local gone=proc_gone
    if [[ $group == group ]]; then gone=group_gone; fi
    log "stopping ${name} (pid ${pid})"
    kill "-${sig}" "$pid" 2>/dev/null || true
    if wait_for "$secs" "${name} to exit" "$gone" "$pid"; then
        return 0
    fi
    warn "${name} did not stop within ${secs}s; sending SIGKILL"
    if [[ $group == group ]]; then
        kill -KILL -- "-${pid}" 2>/dev/null || true
    fi
    kill -KILL "$pid" 2>/dev/null || true
    wait_for 5 "${name} to die" "$gone" "$pid" || true
}

# daemonize PIDFILE LOGFILE COMMAND...: start COMMAND in its own session, stdin from /dev/null,
# stdout+stderr appended to LOGFILE, no other inherited descriptors; its pid goes to PIDFILE.
daemonize() {
    local pidfile=$1 logfile=$2
    shift 2
    rm -f "$pidfile"
    # shellcheck disable=SC2016 # expanded by the inner shell
    setsid bash -c '
        pidfile=$1 logfile=$2
        shift 2
        for fd in /proc/$$/fd/*; do
            fd=${fd##*/}
            if [[ $fd -gt 2 ]]; then eval "exec ${fd}>&-"; fi
        done 2>/dev/null
        echo $$ >"$pidfile"
        exec "$@" </dev/null >>"$logfile" 2>&1
    ' daemonize "$pidfile" "$logfile" "$@" &
    wait_for 10 "pid file ${pidfile}" test -s "$pidfile"
}

show_log_tail() {
    local f=$1 n=${2:-30}
    if [[ -s $f ]]; then
        printf '%s: ---- last %s lines of %s ----\n' "$PROG" "$n" "$f" >&2
        tail -n "$n" "$f" >&2
        printf '%s: ---- end of %s ----\n' "$PROG" "$f" >&2
    else
        log "(${f} is empty or missing)"
    fi
}

pick_free_port() { free_port "$@" || die "could not find a free TCP port"; }

# ---------------------------------------------------------------------------------------------------
# valgrind (IMGGEN_VALGRIND=LOGDIR)

VG_DIR=""
SLOW=1

# vg_setup: VG_DIR (absolute, created) and SLOW from IMGGEN_VALGRIND; nothing when it is unset.
vg_setup() {
    local vg
    VG_DIR=${IMGGEN_VALGRIND:-}
    [[ -n $VG_DIR ]] || return 0
    vg=$(command -v valgrind) || die "IMGGEN_VALGRIND is set but valgrind is not installed (apt-get install valgrind)"
    VG_DIR=$(realpath -m -- "$VG_DIR")
    # (the options go through VALGRIND_OPTS, which valgrind splits at white space)
    [[ $VG_DIR$REPO != *[[:space:]]* ]] || die "IMGGEN_VALGRIND and the repository path may not contain white space"
    mkdir -p "$VG_DIR"
    [[ -f $REPO/tests/valgrind.supp ]] || die "missing ${REPO}/tests/valgrind.supp"
    SLOW=${IMGGEN_VALGRIND_SLOW:-6}
    [[ $SLOW =~ ^[1-9][0-9]*$ ]] || die "bad IMGGEN_VALGRIND_SLOW '${SLOW}'"
    VG_BIN=$vg
    VG_ENV=$(command -v env) # absolute: multiwatch execs without a PATH search
}

# vg_cmd ROLE: VG_CMD=() without valgrind, else the command (to prefix a binary with) that runs it
# under valgrind, each process -- forked children included -- logging to VG_DIR/ROLE.PID.log. Leaks
# count as errors only when definite or indirect ("possibly lost" blocks are interior pointers that
# libraries keep). The options travel in VALGRIND_OPTS so that the process's command line stays
# "valgrind.bin BINARY": the tests find the worker by its command line's start (first 255 bytes).
vg_cmd() {
    VG_CMD=()
    [[ -n $VG_DIR ]] || return 0
    VG_CMD=("$VG_ENV" "VALGRIND_OPTS=--leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect --num-callers=30 --read-inline-info=no --suppressions=$REPO/tests/valgrind.supp --log-file=$VG_DIR/$1.%p.log"
        "$VG_BIN")
}

# under_valgrind: this stack is being started, or was started, with IMGGEN_VALGRIND.
under_valgrind() { [[ -n $VG_DIR || -n $(state_get VALGRIND) ]]; }

# The seconds a stop may take: valgrind makes shutdown and the exit-time leak check slow.
stop_timeout() {
    if [[ -n ${IMGGEN_STOP_TIMEOUT:-} ]]; then
        printf '%s\n' "$IMGGEN_STOP_TIMEOUT"
    elif under_valgrind; then
        printf '180\n'
    else
        printf '20\n'
    fi
}

# write_admin_wrapper: under IMGGEN_VALGRIND, DIR/bin/imggen-admin: a wrapper that runs
# BIN_DIR/imggen-admin under valgrind; ADMIN_CMD is what stack.env names as IMGGEN_ADMIN.
# IMGGEN_VALGRIND_ADMIN=N (default 3) runs each distinct command (its first two words, e.g.
# "user create") under valgrind the first N times per stack and natively after that: the test
# fixtures create a user and a token for nearly every test, and valgrind's ~2 s start-up per call
# would otherwise be most of the run. "all" runs every call under valgrind.
write_admin_wrapper() {
    local tmp sample=${IMGGEN_VALGRIND_ADMIN:-3}
    ADMIN_CMD=$BIN_DIR/imggen-admin
    [[ -n $VG_DIR ]] || return 0
    [[ $sample == all || $sample =~ ^[0-9]+$ ]] || die "bad IMGGEN_VALGRIND_ADMIN '${sample}' (a number or all)"
    vg_cmd admin
    mkdir -p "$DIR/bin" "$RUN_DIR/admin-valgrind"
    tmp=$(mktemp "$DIR/bin/.imggen-admin.XXXXXX")
    # shellcheck disable=SC2016 # the wrapper's own expansions
    {
        echo '#!/usr/bin/env bash'
        echo '# Written by scripts/stack.sh (IMGGEN_VALGRIND): imggen-admin under valgrind memcheck,'
        echo '# each distinct command (first two words) the first SAMPLE times, then natively.'
        printf 'SAMPLE=%q SEEN=%q ADMIN=%q\n' "$sample" "$RUN_DIR/admin-valgrind" "$BIN_DIR/imggen-admin"
        printf 'VG=('
        printf ' %q' "${VG_CMD[@]}"
        printf ' )\n'
        echo 'if [[ $SAMPLE == all ]]; then exec "${VG[@]}" "$ADMIN" "$@"; fi'
        echo 'key=${1:-}.${2:-}'
        echo 'key=${key//[!A-Za-z0-9_-]/_}'
        echo 'for ((i = 1; i <= SAMPLE; i++)); do'
        echo '    # mkdir is atomic: concurrent calls take different slots'
        echo '    if mkdir "$SEEN/$key.$i" 2>/dev/null; then exec "${VG[@]}" "$ADMIN" "$@"; fi'
        echo 'done'
        echo 'exec "$ADMIN" "$@"'
    } >"$tmp"
    chmod 0755 "$tmp"
    mv "$tmp" "$DIR/bin/imggen-admin"
    ADMIN_CMD=$DIR/bin/imggen-admin
}

# ---------------------------------------------------------------------------------------------------
# layout

set_paths() {
    local d=$1
    [[ -n $d ]] || usage
    d=$(realpath -m -- "$d") # absolute and normalised; the directory need not exist yet
    if [[ ! $d =~ ^/[A-Za-z0-9._/+-]+$ ]]; then
        die "stack directory '${d}' may only contain letters, digits and . _ / + - (it is written into URLs and config files)"
    fi
    DIR=$d
    PG_DIR=$DIR/pg
    PGDATA=$PG_DIR/data
    PG_RUN=$PG_DIR/run
    LOG_DIR=$DIR/log
    RUN_DIR=$DIR/run
    TLS_DIR=$DIR/tls
    FILES_DIR=$DIR/files
    NGINX_CONF=$DIR/nginx.conf
    API_SOCK=$RUN_DIR/api.sock
    API_PID=$RUN_DIR/api.pid
    WORKER_PID=$RUN_DIR/worker.pid
    NGINX_PID=$RUN_DIR/nginx.pid
    CONFIG_FILE=$DIR/imggen.env
    LOCAL_CONFIG_FILE=$DIR/imggen.local.env
    STACK_ENV=$DIR/stack.env
    STATE_FILE=$DIR/stack.state
    PG_LOG=$LOG_DIR/postgres.log
    API_LOG=$LOG_DIR/api.log
    WORKER_LOG=$LOG_DIR/worker.log
    NGINX_ERROR_LOG=$LOG_DIR/nginx-error.log
    MIGRATE_LOG=$LOG_DIR/migrate.log
    if [[ $IS_ROOT -eq 1 ]]; then
        DATABASE_URL="postgresql://postgres@/imggen?host=${PG_RUN}"
    else
        DATABASE_URL="postgresql:///imggen?host=${PG_RUN}"
    fi
}

# find_pg_bindir [quiet]: set PG_BINDIR; dies (or, with "quiet", returns 1) when there is none.
find_pg_bindir() {
    local quiet=${1:-}
    if [[ -n ${PG_BINDIR:-} ]]; then
        [[ -x $PG_BINDIR/initdb ]] && return 0
        [[ -n $quiet ]] && return 1
        die "PG_BINDIR=${PG_BINDIR} has no initdb"
    fi
    local d best=""
    for d in /usr/lib/postgresql/*/bin; do
        if [[ -x $d/initdb ]]; then best=$d; fi # glob order: the newest major version wins
    done
    if [[ -z $best ]] && command -v initdb >/dev/null 2>&1; then
        best=$(dirname "$(command -v initdb)")
    fi
    if [[ -z $best ]]; then
        [[ -n $quiet ]] && return 1
        die "PostgreSQL server binaries not found (install postgresql: bash scripts/deps.sh)"
    fi
    PG_BINDIR=$best
}

# Run a PostgreSQL client/server command as the cluster owner (initdb refuses root).
as_pg() {
    if [[ $IS_ROOT -eq 1 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# ---------------------------------------------------------------------------------------------------
# PostgreSQL

pg_running() {
    [[ -f $PGDATA/PG_VERSION ]] || return 1
    as_pg "$PG_BINDIR/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1
}

pg_prepare_dirs() {
    mkdir -p "$PG_RUN" "$LOG_DIR"
    touch "$PG_LOG"
    if [[ $IS_ROOT -eq 1 ]]; then
        id postgres >/dev/null 2>&1 || die "there is no 'postgres' user (install postgresql: bash scripts/deps.sh)"
        chmod o+x "$DIR" # our own directory: let postgres traverse it (mktemp makes 0700 dirs)
        chown -R postgres: "$PG_DIR"
        chown postgres: "$PG_LOG"
        if ! runuser -u postgres -- test -w "$PG_RUN" 2>/dev/null; then
            local p=$DIR blockers=""
            while [[ $p != / ]]; do
                p=$(dirname "$p")
                runuser -u postgres -- test -x "$p" 2>/dev/null || blockers+=" $p"
            done
            die "PostgreSQL runs as user 'postgres', which cannot reach ${PG_DIR}: no search (x) permission on${blockers:- a parent directory}. Use a stack directory under /tmp or /var/tmp, or 'chmod o+x' those directories."
        fi
    fi
}

pg_write_conf() {
    local fast=$1 f=$PGDATA/imggen-stack.conf tmp
    tmp=$(mktemp "$DIR/.pgconf.XXXXXX")
    {
        echo "# Written by scripts/stack.sh on every 'up'; included from postgresql.conf."
        echo "listen_addresses = ''                      # unix socket only: no TCP port to clash on"
        echo "unix_socket_directories = '${PG_RUN}'"
        echo "port = 5432"
        echo "idle_in_transaction_session_timeout = '60s'"
        echo "log_line_prefix = '%m [%p] %q%u@%d '"
        if [[ $fast -eq 1 ]]; then
            echo "# --no-fsync (throw-away test stacks only): a crash of this machine can corrupt this"
            echo "# cluster, which is fine for a stack that is deleted after the run and much faster."
            echo "fsync = off"
            echo "synchronous_commit = off"
            echo "full_page_writes = off"
        fi
    } >"$tmp"
    if [[ -f $f ]] && cmp -s "$tmp" "$f"; then
        rm -f "$tmp"
        return 1 # unchanged
    fi
    mv "$tmp" "$f"
    chmod 0644 "$f"
    [[ $IS_ROOT -eq 1 ]] && chown postgres: "$f"
    return 0
}

pg_init() {
    if [[ -f $PGDATA/PG_VERSION ]]; then
        return 0
    fi
    if [[ -d $PGDATA ]]; then
        log "removing incomplete PostgreSQL data directory ${PGDATA}"
        rm -rf "$PGDATA"
    fi
    log "initdb ${PGDATA}"
    if ! as_pg "$PG_BINDIR/initdb" -D "$PGDATA" -A trust -E UTF8 --locale=C.UTF-8 --nosync \
        >>"$PG_LOG" 2>&1; then
        show_log_tail "$PG_LOG"
        die "initdb failed"
    fi
    echo "include_if_exists = 'imggen-stack.conf'" | as_pg tee -a "$PGDATA/postgresql.conf" >/dev/null
}

pg_start() {
    if pg_running; then
        return 0
    fi
    log "starting PostgreSQL (log: ${PG_LOG})"
    if ! as_pg "$PG_BINDIR/pg_ctl" start -D "$PGDATA" -w -t 60 -l "$PG_LOG" >/dev/null 2>&1; then
        show_log_tail "$PG_LOG"
        die "PostgreSQL did not start"
    fi
}

pg_wait_ready() {
    if ! wait_for 30 "PostgreSQL to accept connections" \
        as_pg "$PG_BINDIR/pg_isready" -q -h "$PG_RUN" -p 5432 -d postgres; then
        show_log_tail "$PG_LOG"
        die "PostgreSQL is not ready"
    fi
}

pg_createdb() {
    local exists
    exists=$(as_pg "$PG_BINDIR/psql" -h "$PG_RUN" -d postgres -XAtqc \
        "SELECT 1 FROM pg_database WHERE datname = 'imggen'") || die "cannot query PostgreSQL"
    if [[ $exists != 1 ]]; then
        log "creating database imggen"
        as_pg "$PG_BINDIR/createdb" -h "$PG_RUN" imggen || die "createdb imggen failed"
    fi
}

pg_stop() {
    if ! pg_running; then
        return 0
    fi
    log "stopping PostgreSQL"
    if ! as_pg "$PG_BINDIR/pg_ctl" stop -D "$PGDATA" -m fast -w -t 30 >/dev/null 2>&1; then
        warn "fast shutdown did not finish; using immediate"
        as_pg "$PG_BINDIR/pg_ctl" stop -D "$PGDATA" -m immediate -w -t 30 >/dev/null 2>&1 || true
    fi
}

# ---------------------------------------------------------------------------------------------------
# TLS and nginx

# ensure_cert: returns 0 when it created a new certificate, 1 when the existing one is kept.
ensure_cert() {
    local cert=$TLS_DIR/cert.pem key=$TLS_DIR/key.pem
    mkdir -p "$TLS_DIR"
    if [[ -s $cert && -s $key ]] && openssl x509 -in "$cert" -noout -checkend 86400 >/dev/null 2>&1; then
        return 1
    fi
    log "creating self-signed certificate ${cert}"
    (
        umask 077
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
            -keyout "$key" -out "$cert" -days 397 -subj "/CN=localhost" \
            -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,digitalSignature,keyCertSign" \
            -addext "extendedKeyUsage=serverAuth" >"$LOG_DIR/openssl.log" 2>&1
    ) || {
        show_log_tail "$LOG_DIR/openssl.log"
        die "openssl could not create the certificate"
    }
    chmod 0644 "$cert"
    return 0
}

# render_nginx_conf PORT OUTFILE
render_nginx_conf() {
    local port=$1 out=$2 user_directive="# (not root: nginx keeps the invoking user)"
    [[ $IS_ROOT -eq 1 ]] && user_directive="user root;  # root-run stack: workers must reach root-owned ${DIR}"
    sed -e "s|@USER_DIRECTIVE@|${user_directive}|g" \
        -e "s|@STACK_DIR@|${DIR}|g" \
        -e "s|@HTTPS_PORT@|${port}|g" \
        -e "s|@TLS_DIR@|${TLS_DIR}|g" \
        -e "s|@API_SOCK@|${API_SOCK}|g" \
        -e "s|@FILES_DIR@|${FILES_DIR}|g" \
        -e "s|@SNIPPETS_DIR@|${REPO}/nginx/snippets|g" \
        "$REPO/nginx/imggen-dev.conf.in" >"$out"
    # The snippets are included, not copied: record their digest so that a change to them changes
    # the rendered file, which is what makes `up` restart nginx.
    printf '# sources digest: %s\n' "$(cat "$REPO/nginx/imggen-dev.conf.in" "$REPO"/nginx/snippets/*.conf |
        sha256sum | cut -d' ' -f1)" >>"$out"
    if grep -q '@[A-Z_]*@' "$out"; then
        die "unreplaced placeholder in ${out}: $(grep -o '@[A-Z_]*@' "$out" | head -n 1)"
    fi
}

nginx_pid() { pid_from_file "$NGINX_PID" "$NGINX_CONF"; }

nginx_stop() {
    local pid
    if pid=$(nginx_pid); then
        stop_pid nginx "$pid" TERM 10
    fi
    rm -f "$NGINX_PID"
}

# nginx_start PORT: returns 0 started, 1 failed, 2 failed because the port is taken.
nginx_start() {
    local port=$1 out before
    mkdir -p "$DIR/nginx"
    before=0
    if [[ -f $NGINX_ERROR_LOG ]]; then before=$(wc -c <"$NGINX_ERROR_LOG"); fi
    if out=$(
        bash -c 'for fd in /proc/$$/fd/*; do fd=${fd##*/}; if [[ $fd -gt 2 ]]; then eval "exec ${fd}>&-"; fi; done 2>/dev/null
                 exec nginx -c "$1" </dev/null' _ "$NGINX_CONF" 2>&1
    ); then
        wait_for 10 "nginx pid file" nginx_pid || return 1
        return 0
    fi
    printf '%s\n' "$out" >>"$NGINX_ERROR_LOG"
    # nginx may report the failed bind in its error log rather than on stderr.
    if [[ $out == *"Address already in use"* ]] ||
        tail -c +"$((before + 1))" "$NGINX_ERROR_LOG" 2>/dev/null | grep -q "Address already in use"; then
        log "port ${port} is already in use"
        return 2
    fi
    printf '%s\n' "$out" >&2
    return 1
}

# ---------------------------------------------------------------------------------------------------
# imggen services

write_imggen_env() {
    local port=$1 tmp key line
    local -a keys=(DATABASE_URL IMGGEN_PROVIDER IMGGEN_STORAGE IMGGEN_FS_ROOT PUBLIC_BASE_URL
        IMGGEN_SQL_DIR IMGGEN_WORKER_PROCESSES IMGGEN_LOG_LEVEL)
    local -A val=(
        [DATABASE_URL]=$DATABASE_URL
        [IMGGEN_PROVIDER]=local
        [IMGGEN_STORAGE]=fs
        [IMGGEN_FS_ROOT]=$FILES_DIR
        [PUBLIC_BASE_URL]="https://localhost:${port}/files"
        [IMGGEN_SQL_DIR]=$REPO/sql
        [IMGGEN_WORKER_PROCESSES]=2
        [IMGGEN_LOG_LEVEL]=info
    )
    if [[ -f $LOCAL_CONFIG_FILE ]]; then
        while IFS= read -r line || [[ -n $line ]]; do
            [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
            [[ $line =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] ||
                die "${LOCAL_CONFIG_FILE}: not KEY=VALUE: ${line}"
            key=${BASH_REMATCH[1]}
            [[ -v "val[$key]" ]] || keys+=("$key")
            val[$key]=${BASH_REMATCH[2]}
        done <"$LOCAL_CONFIG_FILE"
    fi
    # Keys the file sets are removed from the services' environment (see set_service_env), so the
    # file is the one source of truth; no comments in it, in case a parser is strict. 0600: the
    # local overrides may hold provider or storage secrets.
    CONFIG_KEYS=("${keys[@]}")
    tmp=$(mktemp "$DIR/.imggen.env.XXXXXX")
    for key in "${keys[@]}"; do
        printf '%s=%s\n' "$key" "${val[$key]}"
    done >"$tmp"
    chmod 0600 "$tmp"
    if [[ -f $CONFIG_FILE ]] && cmp -s "$tmp" "$CONFIG_FILE"; then
        rm -f "$tmp"
        return 1
    fi
    mv "$tmp" "$CONFIG_FILE"
    return 0
}

# SERVICE_ENV=(env -u KEY... IMGGEN_CONFIG=FILE): every binary runs under it, with the file's keys
# unset, so a stray DATABASE_URL in the caller's environment cannot point the stack elsewhere.
set_service_env() {
    local k
    SERVICE_ENV=(env)
    for k in "${CONFIG_KEYS[@]}"; do SERVICE_ENV+=(-u "$k"); done
    SERVICE_ENV+=("IMGGEN_CONFIG=$CONFIG_FILE")
}

check_bins() {
    local b
    for b in imggen-api imggen-worker imggen-admin; do
        [[ -x $BIN_DIR/$b ]] || die "${BIN_DIR}/${b} not found or not executable (build first: make all)"
    done
}

run_migrations() {
    log "imggen-admin migrate"
    vg_cmd admin
    if ! (cd "$DIR" && "${SERVICE_ENV[@]}" "${VG_CMD[@]}" "$BIN_DIR/imggen-admin" migrate) >>"$MIGRATE_LOG" 2>&1; then
        show_log_tail "$MIGRATE_LOG"
        die "imggen-admin migrate failed"
    fi
}

api_pid() { pid_from_file "$API_PID" multiwatch; }

responders_stop() {
    local pid secs
    secs=$(stop_timeout)
    if pid=$(api_pid); then
        # multiwatch forwards its graceful signal (SIGUSR1, libfcgi's "finish and exit") to the
        # responders and exits when they are gone.
        stop_pid "responders (multiwatch)" "$pid" TERM "$secs" group
    elif [[ -s $API_PID ]]; then
        # multiwatch is gone but orphaned responders may still hold the socket
        pid=$(tr -dc '0-9' <"$API_PID")
        if [[ -n $pid ]] && group_alive "$pid"; then
            under_valgrind || secs=5
            stop_pid "orphaned responders" "$pid" TERM "$secs" group
        fi
    fi
    rm -f "$API_PID" "$API_SOCK"
}

responders_start() {
    local n=$1 out
    rm -f "$API_SOCK"
    log "starting ${n} responders on ${API_SOCK} (log: ${API_LOG})"
    # spawn-fcgi points the child's stdout/stderr at /dev/null when it forks (it keeps only fd 0,
    # the listening socket), so a tiny sh re-points them at the log before exec'ing multiwatch;
    # fd 0 must stay untouched. multiwatch (and so the responders) inherit that log. Under
    # IMGGEN_VALGRIND multiwatch forks valgrind, which runs the responder on the same fd 0.
    vg_cmd api
    # shellcheck disable=SC2016 # expanded by the inner shell
    if ! out=$(cd "$DIR" && "${SERVICE_ENV[@]}" spawn-fcgi -s "$API_SOCK" -M 0666 -P "$API_PID" -- \
        /bin/sh -c 'log=$1; shift; exec "$@" >>"$log" 2>&1' imggen-api-log "$API_LOG" \
        /usr/bin/multiwatch -f "$n" -- "${VG_CMD[@]}" "$BIN_DIR/imggen-api" 2>&1); then
        printf '%s\n' "$out" >>"$API_LOG"
        show_log_tail "$API_LOG"
        die "spawn-fcgi failed"
    fi
    printf '%s\n' "$out" >>"$API_LOG"
    if ! wait_for 10 "responders" api_pid; then
        show_log_tail "$API_LOG"
        die "the responders did not start"
    fi
}

worker_pid() { pid_from_file "$WORKER_PID" imggen-worker; }

worker_stop() {
    local pid
    if pid=$(worker_pid); then
        stop_pid worker "$pid" TERM "$(stop_timeout)"
    fi
    rm -f "$WORKER_PID"
}

worker_start() {
    log "starting worker (log: ${WORKER_LOG})"
    vg_cmd worker
    (cd "$DIR" && daemonize "$WORKER_PID" "$WORKER_LOG" \
        "${SERVICE_ENV[@]}" "${VG_CMD[@]}" "$BIN_DIR/imggen-worker") || die "could not start the worker"
    # env(1) execs the worker (or valgrind, which runs it in the same process), so the pid in the file
    # is the worker's own
}

health_status() {
    curl -sS -o /dev/null -w '%{http_code}' --max-time 3 --cacert "$TLS_DIR/cert.pem" \
        "https://localhost:$1/api/generate/health" 2>/dev/null || true
}

health_ok() { [[ $(health_status "$1") == 200 ]]; }

state_get() {
    local key=$1
    [[ -f $STATE_FILE ]] || return 0
    sed -n "s/^${key}=//p" "$STATE_FILE" | tail -n 1
}

# ---------------------------------------------------------------------------------------------------
# commands

cmd_up() {
    local port="" responders=2 fast=0 port_given=0
    BIN_DIR=${IMGGEN_BIN:-$REPO/build/default}
    while [[ $# -gt 0 ]]; do
        case $1 in
        --https-port)
            [[ $# -ge 2 ]] || usage
            port=$2 port_given=1
            shift 2
            ;;
        --https-port=*) port=${1#*=} port_given=1 && shift ;;
        --responders)
            [[ $# -ge 2 ]] || usage
            responders=$2
            shift 2
            ;;
        --responders=*) responders=${1#*=} && shift ;;
        --bin)
            [[ $# -ge 2 ]] || usage
            BIN_DIR=$2
            shift 2
            ;;
        --bin=*) BIN_DIR=${1#*=} && shift ;;
        --no-fsync) fast=1 && shift ;;
        *) usage ;;
        esac
    done
    [[ -z $port || $port =~ ^[0-9]+$ && $port -ge 1 && $port -le 65535 ]] || die "bad --https-port '${port}'"
    [[ $responders =~ ^[1-9][0-9]*$ ]] || die "bad --responders '${responders}'"
    [[ $BIN_DIR == /* ]] || BIN_DIR=$PWD/$BIN_DIR
    BIN_DIR=$(realpath -m "$BIN_DIR")

    check_bins
    vg_setup
    command -v nginx >/dev/null || die "nginx not found (bash scripts/deps.sh)"
    command -v spawn-fcgi >/dev/null || die "spawn-fcgi not found (bash scripts/deps.sh)"
    [[ -x /usr/bin/multiwatch ]] || die "/usr/bin/multiwatch not found (bash scripts/deps.sh)"
    find_pg_bindir
    # unix socket paths are limited to 107 bytes
    ((${#PG_RUN} + 16 <= 107)) || die "stack directory path too long for a unix socket: ${DIR}"
    ((${#API_SOCK} <= 107)) || die "stack directory path too long for a unix socket: ${DIR}"

    mkdir -p "$DIR" "$LOG_DIR" "$RUN_DIR" "$FILES_DIR" "$DIR/nginx"
    log "stack directory ${DIR}"

    # 1. PostgreSQL
    pg_prepare_dirs
    pg_init
    local pg_conf_changed=0
    pg_write_conf "$fast" && pg_conf_changed=1
    if pg_running && [[ $pg_conf_changed -eq 1 ]]; then
        log "PostgreSQL settings changed; reloading"
        as_pg "$PG_BINDIR/pg_ctl" reload -D "$PGDATA" >/dev/null
    fi
    pg_start
    pg_wait_ready
    pg_createdb

    # 2. port, certificate, nginx. nginx goes first so an auto-picked port that turns out to be
    #    taken (a race with another process) can still be changed before anything depends on it.
    local old_port
    old_port=$(state_get HTTPS_PORT)
    if [[ -z $port ]]; then
        if [[ -n $old_port ]] && { nginx_pid >/dev/null || ! port_in_use "$old_port"; }; then
            port=$old_port
        else
            port=$(pick_free_port)
        fi
    fi
    # A port that something else listens on: fail (or pick another) before touching our nginx.
    if ! { nginx_pid >/dev/null && [[ $port == "$old_port" ]]; } && port_in_use "$port"; then
        if [[ $port_given -eq 1 ]]; then
            die "port ${port} is already in use by another process (choose another --https-port)"
        fi
        port=$(pick_free_port)
    fi
    local cert_changed=0
    ensure_cert && cert_changed=1
    local attempt rc tmpconf
    for ((attempt = 1; ; attempt++)); do
        tmpconf=$(mktemp "$DIR/.nginx.conf.XXXXXX")
        render_nginx_conf "$port" "$tmpconf"
        chmod 0644 "$tmpconf"
        if [[ $cert_changed -eq 0 ]] && nginx_pid >/dev/null && [[ -f $NGINX_CONF ]] &&
            cmp -s "$tmpconf" "$NGINX_CONF"; then
            rm -f "$tmpconf"
            log "nginx already running on port ${port}"
            break
        fi
        nginx_stop
        mv "$tmpconf" "$NGINX_CONF"
        log "starting nginx on https://localhost:${port} (log: ${NGINX_ERROR_LOG})"
        rc=0
        nginx_start "$port" || rc=$?
        [[ $rc -eq 0 ]] && break
        if [[ $rc -eq 2 && $port_given -eq 0 && $attempt -lt 5 ]]; then
            port=$(pick_free_port)
            continue
        fi
        show_log_tail "$NGINX_ERROR_LOG"
        die "nginx did not start"
    done

    # 3. configuration for the binaries; a change restarts the services that read it
    local config_changed=0
    write_imggen_env "$port" && config_changed=1
    set_service_env
    local vg_changed=0
    if [[ $(state_get VALGRIND) != "$VG_DIR" ]]; then vg_changed=1; fi
    write_admin_wrapper

    # 4. migrations (idempotent)
    run_migrations

    # 5. responders
    local restart=0 pid
    if pid=$(api_pid); then
        if [[ $config_changed -eq 1 ]]; then
            log "configuration changed; restarting the responders"
            restart=1
        elif [[ $(state_get RESPONDERS) != "$responders" ]]; then
            log "responder count changed; restarting the responders"
            restart=1
        elif [[ $vg_changed -eq 1 ]]; then
            log "valgrind setting (IMGGEN_VALGRIND) changed; restarting the responders"
            restart=1
        elif [[ $BIN_DIR/imggen-api -nt $API_PID || $(state_get BIN_DIR) != "$BIN_DIR" ]]; then
            log "imggen-api was rebuilt; restarting the responders"
            restart=1
        elif [[ ! -S $API_SOCK ]]; then
            log "responder socket is missing; restarting the responders"
            restart=1
        else
            log "responders already running (pid ${pid})"
        fi
        if [[ $restart -eq 1 ]]; then responders_stop; fi
    else
        responders_stop # clean up orphans, stale pid file and socket
        restart=1
    fi
    if [[ $restart -eq 1 ]]; then responders_start "$responders"; fi

    # 6. worker
    restart=0
    if pid=$(worker_pid); then
        if [[ $config_changed -eq 1 ]]; then
            log "configuration changed; restarting the worker"
            restart=1
        elif [[ $BIN_DIR/imggen-worker -nt $WORKER_PID || $(state_get BIN_DIR) != "$BIN_DIR" ]]; then
            log "imggen-worker was rebuilt; restarting the worker"
            restart=1
        elif [[ $vg_changed -eq 1 ]]; then
            log "valgrind setting (IMGGEN_VALGRIND) changed; restarting the worker"
            restart=1
        else
            log "worker already running (pid ${pid})"
        fi
        if [[ $restart -eq 1 ]]; then worker_stop; fi
    else
        rm -f "$WORKER_PID"
        restart=1
    fi
    if [[ $restart -eq 1 ]]; then worker_start; fi

    # state, so the next `up` knows what it is looking at
    {
        echo "HTTPS_PORT=${port}"
        echo "RESPONDERS=${responders}"
        echo "BIN_DIR=${BIN_DIR}"
        echo "VALGRIND=${VG_DIR}"
    } >"$STATE_FILE"

    # 7. readiness
    if ! wait_for $((10 * SLOW)) "the responder socket ${API_SOCK}" test -S "$API_SOCK"; then
        show_log_tail "$API_LOG"
        die "the responder socket did not appear"
    fi
    if ! wait_for $((20 * SLOW)) "GET https://localhost:${port}/api/generate/health to answer 200" health_ok "$port"; then
        log "last health status: $(health_status "$port")"
        show_log_tail "$API_LOG"
        show_log_tail "$NGINX_ERROR_LOG" 10
        show_log_tail "$PG_LOG" 10
        die "the stack in ${DIR} is not healthy (run: scripts/stack.sh down ${DIR})"
    fi
    if ! worker_pid >/dev/null; then
        show_log_tail "$WORKER_LOG"
        die "the worker exited (run: scripts/stack.sh down ${DIR})"
    fi

    # 8. stack.env for clients and tests (plain KEY=VALUE, no quoting needed: the values have no
    #    spaces or shell metacharacters, so it can be sourced by sh and read by simple parsers)
    local tmp
    tmp=$(mktemp "$DIR/.stack.env.XXXXXX")
    {
        echo "IMGGEN_URL=https://localhost:${port}"
        echo "IMGGEN_CACERT=${TLS_DIR}/cert.pem"
        echo "DATABASE_URL=${DATABASE_URL}"
        echo "IMGGEN_CONFIG=${CONFIG_FILE}"
        echo "IMGGEN_ADMIN=${ADMIN_CMD}"
        echo "IMGGEN_STACK_DIR=${DIR}"
        echo "IMGGEN_FS_ROOT=${FILES_DIR}"
    } >"$tmp"
    chmod 0644 "$tmp"
    mv "$tmp" "$STACK_ENV"
    log "stack is up: https://localhost:${port} (environment: ${STACK_ENV})"
}

cmd_down() {
    [[ $# -eq 0 ]] || usage
    if [[ ! -d $DIR ]]; then
        log "nothing to stop: ${DIR} does not exist"
        return 0
    fi
    nginx_stop
    worker_stop
    responders_stop
    if [[ -f $PGDATA/PG_VERSION ]]; then
        if find_pg_bindir quiet; then
            pg_stop
        else
            warn "PostgreSQL binaries not found; cannot stop PostgreSQL in ${PGDATA}"
        fi
    fi
    log "stack in ${DIR} is down"
}


cmd_pg_stop() {
    [[ $# -eq 0 ]] || usage
    [[ -f $PGDATA/PG_VERSION ]] || die "no PostgreSQL cluster in ${PGDATA}"
    find_pg_bindir
    pg_stop
}

cmd_pg_start() {
    [[ $# -eq 0 ]] || usage
    [[ -f $PGDATA/PG_VERSION ]] || die "no PostgreSQL cluster in ${PGDATA} (run: stack.sh up ${DIR})"
    find_pg_bindir
    pg_start
    pg_wait_ready
}

cmd_status() {
    [[ $# -eq 0 ]] || usage
    local pid rc=0
    if [[ -f $PGDATA/PG_VERSION ]] && find_pg_bindir quiet && pg_running; then
        echo "postgres:   running (socket dir ${PG_RUN})"
    else
        echo "postgres:   stopped"
        rc=1
    fi
    if pid=$(api_pid); then echo "responders: running (multiwatch pid ${pid})"; else
        echo "responders: stopped"
        rc=1
    fi
    if pid=$(worker_pid); then echo "worker:     running (pid ${pid})"; else
        echo "worker:     stopped"
        rc=1
    fi
    if pid=$(nginx_pid); then echo "nginx:      running (pid ${pid}, port $(state_get HTTPS_PORT))"; else
        echo "nginx:      stopped"
        rc=1
    fi
    return "$rc"
}

main() {
    [[ $# -ge 2 ]] || usage
    local cmd=$1
    set_paths "$2"
    shift 2
    CONFIG_KEYS=()
    case $cmd in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    pg-stop) cmd_pg_stop "$@" ;;
    pg-start) cmd_pg_start "$@" ;;
    status) cmd_status "$@" ;;
    *) usage ;;
    esac
}

main "$@"
