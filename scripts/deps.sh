#!/usr/bin/env bash
# deps.sh — make sure the Debian packages imggen needs to build, test and run are installed.
# Fast and quiet when everything is present (one dpkg-query call). As root, installs what is missing
# with apt-get; otherwise prints the missing packages and exits 1.
set -euo pipefail

PROG=deps.sh
PACKAGES=(
    build-essential pkg-config
    libfcgi-dev libpq-dev libjson-c-dev libcurl4-openssl-dev libssl-dev uuid-dev zlib1g-dev
    libcriterion-dev
    postgresql nginx-light spawn-fcgi multiwatch
    curl openssl valgrind ca-certificates
    iproute2 # ss(8), used by scripts/stack.sh to find a free port
    python3  # tests/install/sockact.py, tests/security/tls_handshake.py
    # install and packaging tests (make test-install*, make test-deb), benchmarks
    debhelper dpkg-dev jq wrk mandoc systemd systemd-container
    # libFuzzer harnesses (make fuzz, make fuzz-smoke)
    clang libclang-rt-14-dev
)

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }

missing_packages() {
    local status pkg
    local -A installed=()
    # One call for all packages; unknown packages go to stderr and are simply not "installed".
    while IFS=' ' read -r pkg status; do
        [[ $status == installed ]] && installed[$pkg]=1
    done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
    for pkg in "${PACKAGES[@]}"; do
        [[ -n ${installed[$pkg]:-} ]] || printf '%s\n' "$pkg"
    done
}

# The S3 and provider stand-ins of the tests run on Node.js (20 or newer; the base image has it).
ensure_node() {
    if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
        return 0
    fi
    if [[ $(id -u) -ne 0 ]]; then
        log "node and npm are needed by the tests' stand-in servers: install nodejs and npm"
        exit 1
    fi
    log "installing: nodejs npm"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
}

main() {
    command -v dpkg-query >/dev/null 2>&1 || {
        log "dpkg-query not found: this script supports Debian/Ubuntu only. Install the equivalents of: ${PACKAGES[*]}"
        exit 1
    }
    local -a missing
    mapfile -t missing < <(missing_packages)
    if [[ ${#missing[@]} -eq 0 ]]; then
        log "all ${#PACKAGES[@]} packages are installed"
        ensure_node
        return 0
    fi
    if [[ $(id -u) -ne 0 ]]; then
        log "missing packages: ${missing[*]}"
        log "install them with: sudo apt-get install ${missing[*]}"
        exit 1
    fi
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    mapfile -t missing < <(missing_packages)
    if [[ ${#missing[@]} -gt 0 ]]; then
        log "still missing after apt-get install: ${missing[*]}"
        exit 1
    fi
    ensure_node
    log "done"
}

main "$@"
