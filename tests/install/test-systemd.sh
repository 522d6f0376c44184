#!/usr/bin/env bash
# test-systemd.sh — the Debian package under a real systemd, on a machine where systemd is not PID 1.
#
#   bash tests/install/test-systemd.sh      (make test-install-systemd; root)
#
# Boots this machine's own Debian as a container: systemd-nspawn on an overlay whose lower layer is /
# (read-only in effect) and whose upper layer is a tmpfs, with a private network, so nothing it does
# reaches the host's files, ports or services. There systemd is PID 1, and tests/install/systemd-inner.sh
# does what docs/operations.md ("Installing") tells an operator, with the distribution's own
# PostgreSQL and nginx: dpkg -i, createuser/createdb, migrate, enable the site, systemctl start; then
# a generation through nginx, a responder killed, the maintenance service, `systemctl restart
# imggen-api` four times under wrk, `systemctl stop imggen-worker`, an upgrade with the services running
# (postinst migrates and restarts), dpkg -r and -P. This is what test-e2e.sh emulates without systemd:
# socket activation with StandardInput=socket, every hardening option, KillMode, the maintainer
# scripts' systemctl calls.
# Needs: systemd-container (systemd-nspawn), nsenter, overlayfs, and on the host the packages the
# inner test uses (postgresql, nginx, multiwatch, wrk, jq, curl). The .deb: $IMGGEN_DEB, else make deb.
# Ends with "N passed, N failed"; logs are kept on failure (IMGGEN_KEEP=1 always).
set -euo pipefail

PROG=test-systemd.sh
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    echo "test-systemd: 0 passed, 1 failed"
    exit 1
}

[[ $(id -u) -eq 0 ]] || die "run as root"
command -v systemd-nspawn >/dev/null || die "systemd-nspawn not found (apt-get install systemd-container)"
command -v nsenter >/dev/null || die "nsenter not found"
if [[ -d /run/systemd/system ]]; then
    log "note: systemd is PID 1 here; the container is still used, to keep the host untouched"
fi

if [[ -n ${IMGGEN_DEB:-} ]]; then
    DEB=$(realpath "$IMGGEN_DEB")
else
    log "make deb"
    nice make --no-print-directory BUILD=build/deb-test deb >/tmp/imggen-systemd-build.$$.log 2>&1 || {
        tail -n 30 /tmp/imggen-systemd-build.$$.log
        die "make deb failed"
    }
    rm -f /tmp/imggen-systemd-build.$$.log
    DEB=""
    for f in "$REPO"/build/deb-test/deb/imggen_*.deb; do DEB=$f; done
fi
[[ -f $DEB ]] || die "no .deb"

ROOT=$(mktemp -d /tmp/imggen-nspawn.XXXXXX)
LOGS=$(mktemp -d /tmp/imggen-nspawn-logs.XXXXXX)
NSPAWN_PID=""
MOUNTED=0
RESULT=1
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    set +e
    if [[ -n $NSPAWN_PID ]] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
        kill -TERM "$NSPAWN_PID" # nspawn asks the container's systemd to power off
        for _ in $(seq 300); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$NSPAWN_PID" 2>/dev/null
        wait "$NSPAWN_PID" 2>/dev/null
    fi
    if [[ $MOUNTED -eq 1 ]]; then
        umount "$ROOT/merged" 2>/dev/null || umount -l "$ROOT/merged"
        umount "$ROOT" 2>/dev/null || umount -l "$ROOT"
    fi
    rmdir "$ROOT/merged" "$ROOT/upper" "$ROOT/work" "$ROOT" 2>/dev/null
    if [[ $RESULT -eq 0 && -z ${IMGGEN_KEEP:-} ]]; then rm -rf "$LOGS"; else log "logs kept in ${LOGS}"; fi
}
trap cleanup EXIT

# The container's root: / below, a tmpfs above (an upper layer on another file system, so the layers
# do not overlap). Everything the container writes lands in the tmpfs and goes at unmount.
mount -t tmpfs -o size=4g,mode=0755 imggen-nspawn "$ROOT"
MOUNTED=1
mkdir "$ROOT/upper" "$ROOT/work" "$ROOT/merged"
mount -t overlay imggen-nspawn -o "lowerdir=/,upperdir=$ROOT/upper,workdir=$ROOT/work" "$ROOT/merged" ||
    die "cannot mount an overlay on / (overlayfs)"
systemd-id128 new >"$ROOT/merged/etc/machine-id" # the host's id would clash (journal linking)

# The container's systemd mounts a fresh /tmp, which would hide a checkout under /tmp (CI's clone
# may live there): hand the script and the package over inside the container's own tree.
mkdir -p "$ROOT/merged/opt/imggen-test"
cp "$REPO/tests/install/systemd-inner.sh" "$DEB" "$ROOT/merged/opt/imggen-test/"
INNER_DEB=/opt/imggen-test/$(basename "$DEB")
log "booting the container (console: ${LOGS}/console.log)"
setsid systemd-nspawn --quiet --register=no --keep-unit --link-journal=no --private-network \
    --machine="imggen-test-$$" --console=read-only -D "$ROOT/merged" -b >"$LOGS/console.log" 2>&1 &
NSPAWN_PID=$!
LEADER=""
for _ in $(seq 100); do
    LEADER=$(pgrep -P "$NSPAWN_PID" -x systemd || true)
    [[ -n $LEADER ]] && break
    kill -0 "$NSPAWN_PID" 2>/dev/null || { cat "$LOGS/console.log"; die "systemd-nspawn exited"; }
    sleep 0.1
done
[[ -n $LEADER ]] || die "no systemd in the container"
IN() { nsenter -t "$LEADER" -m -u -i -n -p -- "$@"; }
state=""
for _ in $(seq 120); do
    state=$(IN systemctl is-system-running 2>/dev/null || true)
    [[ $state == running || $state == degraded ]] && break
    sleep 0.5
done
[[ $state == running || $state == degraded ]] || { tail -n 30 "$LOGS/console.log"; die "the container did not boot (${state})"; }
log "container up (systemd pid ${LEADER} on the host, state ${state}); running systemd-inner.sh"
if [[ $state == degraded ]]; then
    IN systemctl --failed --no-legend >&2 || true
fi

IN /bin/bash /opt/imggen-test/systemd-inner.sh "$INNER_DEB" 2>&1 | tee "$LOGS/inner.log"
IN journalctl -o short-iso -u 'imggen*' --no-pager >"$LOGS/journal.log" 2>&1 || true
passed=$(grep -c '^ok ' "$LOGS/inner.log" || true)
failed=$(grep -c '^FAIL ' "$LOGS/inner.log" || true)
[[ $passed -gt 0 && $failed -eq 0 ]] && RESULT=0
echo
echo "test-systemd: ${passed} passed, ${failed} failed"
exit "$RESULT"
