#!/usr/bin/env bash
# test-deb.sh — the Debian package: built with dpkg-buildpackage, installed with apt on this
# machine, its files against `make install`'s, its maintainer scripts at work.
#
#   bash tests/install/test-deb.sh          (make test-deb; root; installs and purges imggen)
#
# 1. `make deb` (dpkg-buildpackage -us -uc -b on a copy of the tree), or the .deb in $IMGGEN_DEB.
#    lintian, when installed: no error or warning beyond the overrides (a maintainer address on a
#    .local host is reported, not failed).
# 2. The package's files and modes are exactly those of `make install PREFIX=/usr SYSCONFDIR=/etc
#    UNITDIR=/lib/systemd/system DESTDIR=…`, but for what debhelper adds or changes:
#    /usr/share/doc/imggen/, the lintian overrides, and the man pages gzipped.
# 3. `apt-get install ./imggen_*.deb`: the imggen system user, /var/lib/imggen/files, imggen.env
#    root:imggen 0640 through dpkg-statoverride, the units enabled (deb-systemd-helper's symlinks; not
#    started), `dpkg -L` = the .deb, the installed units pass `systemd-analyze verify`, the binaries
#    read the configuration as imggen and find the migrations, `man imggen-admin`.
# 4. imggen.env edited, then the same package reinstalled and a newer version (the same .deb
#    repacked as VERSION+test1) installed: the edit and owner/mode survive both.
# 5. apt-get remove keeps the configuration; purge removes it, the statoverride, the enablement
#    symlinks and the (empty) /var/lib/imggen, and keeps the user.
# A previously installed imggen is refused (the test would remove it). Ends "N passed, N failed".
set -euo pipefail

PROG=test-deb.sh
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"

# shellcheck source=scripts/lib/checks.sh
. "$REPO/scripts/lib/checks.sh"

[[ $(id -u) -eq 0 ]] || die "run as root (apt-get install)"
if dpkg-query -W -f='${db:Status-Status}' imggen 2>/dev/null | grep -qv '^not-installed$'; then
    die "imggen is already installed on this machine; remove it first (apt-get purge imggen)"
fi
export DEBIAN_FRONTEND=noninteractive

W=$(mktemp -d "${TMPDIR:-/tmp}/imggen-deb.XXXXXX")
INSTALLED=0
cleanup() {
    set +e
    if [[ $INSTALLED -eq 1 ]]; then
        apt-get purge -y -qq imggen >/dev/null 2>&1
    fi
    if [[ $FAILED -eq 0 && -z ${IMGGEN_KEEP:-} ]]; then rm -rf "$W"; else log "kept ${W}"; fi
}
trap cleanup EXIT

apt_get() { apt-get -y -q -o Dpkg::Use-Pty=0 "$@" >>"$W/apt.log" 2>&1; }

# ---------------------------------------------------------------------------------------------------
if [[ -n ${IMGGEN_DEB:-} ]]; then
    DEB=$(realpath "$IMGGEN_DEB")
else
    log "make deb (log: ${W}/build.log)"
    nice make --no-print-directory BUILD=build/deb-test deb >"$W/build.log" 2>&1 || {
        tail -n 40 "$W/build.log"
        die "make deb failed"
    }
    DEB=""
    for f in "$REPO"/build/deb-test/deb/imggen_*.deb; do DEB=$f; done # imggen-dbgsym_* does not match
    ok "dpkg-buildpackage -us -uc -b: ${DEB#"$REPO"/}"
    check "the package's unit tests ran during the build" grep -q 'Synthesis: Tested: [0-9]* | Passing: [0-9]* | Failing: 0 | Crashing: 0' "$W/build.log"
fi
VERSION=$(dpkg-deb -f "$DEB" Version)
check "Depends has the shared libraries (shlibs), multiwatch, adduser" \
    bash -c "dpkg-deb -f '$DEB' Depends | grep -q libfcgi0ldbl && dpkg-deb -f '$DEB' Depends | grep -q multiwatch && dpkg-deb -f '$DEB' Depends | grep -q adduser"
if command -v lintian >/dev/null; then
    nice lintian --pedantic "$DEB" >"$W/lintian.log" 2>&1 || true
    problems=$(grep -E '^[EW]: ' "$W/lintian.log" | grep -v 'bogus-mail-host' || true)
    check "lintian: no error or warning${problems:+: $problems}" test -z "$problems"
    if grep -q 'bogus-mail-host' "$W/lintian.log"; then
        log "note: lintian reports the maintainer address $(dpkg-deb -f "$DEB" Maintainer) (bogus-mail-host)"
    fi
else
    log "lintian is not installed; skipped"
fi

# ---------------------------------------------------------------------------------------------------
log "make install DESTDIR with the package's paths"
MI=$W/make-install
nice make -s --no-print-directory BUILD=build/deb-test/make-install PREFIX=/usr SYSCONFDIR=/etc \
    UNITDIR=/lib/systemd/system DESTDIR="$MI" install >"$W/make-install.log" 2>&1 || {
    cat "$W/make-install.log"
    die "make install failed"
}
(cd "$MI" && find . -mindepth 1 -printf '%m %y %P\n' | sed 's/ d \(.*\)$/ d \1\//' | sort -k3) >"$W/make-install.list"
# dpkg-deb -c: "-rw-r--r-- root/root 123 date time ./path"
dpkg-deb -c "$DEB" | awk '{ p = $6; sub(/^\.\//, "", p); if (p != "") print $1, p }' |
    grep -vE ' usr/share/doc/?$| usr/share/doc/imggen| usr/share/lintian' |
    sed -E 's#^(\S+) (usr/share/man/.*)\.gz$#\1 \2#' |
    awk '{
        m = $1; t = substr(m, 1, 1) == "d" ? "d" : (substr(m, 1, 1) == "l" ? "l" : "f"); n = 0
        for (i = 2; i <= 10; i++) { n = n * 2 + (substr(m, i, 1) != "-") }
        printf "%o %s %s\n", n, t, $2
    }' | sort -k3 >"$W/deb.list"
if diff -u "$W/make-install.list" "$W/deb.list" >"$W/list.diff"; then
    ok "the .deb holds exactly make install's files and modes ($(wc -l <"$W/deb.list") entries; doc/ and .gz aside)"
else
    cat "$W/list.diff"
    fail "the .deb differs from make install (- make install, + .deb)"
fi

# ---------------------------------------------------------------------------------------------------
log "apt-get install ./${DEB##*/}"
user_existed=0
getent passwd imggen >/dev/null && user_existed=1
cp "$DEB" "$W/"
if apt_get install "$W/${DEB##*/}"; then
    INSTALLED=1
    ok "apt-get install ./${DEB##*/}"
else
    tail -n 30 "$W/apt.log"
    die "apt-get install failed"
fi
check "dpkg: imggen ${VERSION} installed" test "$(dpkg-query -W -f='${Version} ${db:Status-Status}' imggen)" = "${VERSION} installed"
uid=$(id -u imggen 2>/dev/null || echo none)
check "system user imggen (uid ${uid}$([[ $user_existed -eq 1 ]] && echo ', already there'))" test "$uid" != none -a "${uid/none/9999}" -lt 1000
check "group imggen" quiet getent group imggen
check "/var/lib/imggen/files imggen:imggen 0755" test "$(stat -c '%U:%G %a' /var/lib/imggen/files)" = "imggen:imggen 755"
check "/etc/imggen/imggen.env root:imggen 0640" test "$(stat -c '%U:%G %a' /etc/imggen/imggen.env)" = "root:imggen 640"
check "… through dpkg-statoverride ($(dpkg-statoverride --list /etc/imggen/imggen.env))" \
    test "$(dpkg-statoverride --list /etc/imggen/imggen.env)" = "root imggen 640 /etc/imggen/imggen.env"
check "imggen.env is a conffile" grep -qx '/etc/imggen/imggen.env' /var/lib/dpkg/info/imggen.conffiles
for link in multi-user.target.wants/imggen-api.service multi-user.target.wants/imggen-worker.service \
    sockets.target.wants/imggen-api.socket timers.target.wants/imggen-maintenance.timer; do
    check "enabled: /etc/systemd/system/${link}" test -L "/etc/systemd/system/$link"
done
dpkg -L imggen | sed 's#^/##' | grep -v '^\.\?$' | sort >"$W/dpkg-L.list"
dpkg-deb -c "$DEB" | awk '{ p = $6; sub(/^\.\//, "", p); sub(/\/$/, "", p); if (p != "") print p }' | sort >"$W/deb-paths.list"
check "dpkg -L imggen lists the .deb's contents" diff -q "$W/deb-paths.list" "$W/dpkg-L.list"
out=$(systemd-analyze verify /lib/systemd/system/imggen-api.socket /lib/systemd/system/imggen-api.service \
    /lib/systemd/system/imggen-worker.service /lib/systemd/system/imggen-maintenance.service \
    /lib/systemd/system/imggen-maintenance.timer 2>&1) && rc=0 || rc=$?
check "systemd-analyze verify on the installed units${out:+: $out}" test "$rc" -eq 0 -a -z "$out"
out=$(cd / && runuser -u imggen -- env IMGGEN_CONFIG=/etc/imggen/imggen.env /usr/bin/imggen-admin --check-config 2>&1) && rc=0 || rc=$?
check "imggen-admin --check-config as imggen reads /etc/imggen/imggen.env" test "$rc" -eq 0
check "… and finds the migrations in /usr/share/imggen/sql" grep -qx 'IMGGEN_SQL_DIR=/usr/share/imggen/sql' <<<"$out"
check "man -w imggen-admin" test "$(man -w imggen-admin 2>/dev/null)" = /usr/share/man/man8/imggen-admin.8.gz
check "imggen-api --help" quiet /usr/bin/imggen-api --help

# ---------------------------------------------------------------------------------------------------
log "configuration survives a reinstall and an upgrade"
printf '\n# edited by the operator\nIMGGEN_LOG_LEVEL=debug\n' >>/etc/imggen/imggen.env
cp -p /etc/imggen/imggen.env "$W/env.edited"
apt_get install --reinstall "$W/${DEB##*/}" || fail "apt-get install --reinstall"
check "reinstall keeps the edited imggen.env" cmp -s "$W/env.edited" /etc/imggen/imggen.env
check "… root:imggen 0640" test "$(stat -c '%U:%G %a' /etc/imggen/imggen.env)" = "root:imggen 640"
# A newer version: the same package repacked with VERSION+test1.
rm -rf "$W/repack"
dpkg-deb -R "$DEB" "$W/repack"
sed -i "s/^Version: .*/Version: ${VERSION}+test1/" "$W/repack/DEBIAN/control"
dpkg-deb -b --root-owner-group "$W/repack" "$W/imggen_${VERSION}+test1.deb" >/dev/null
if apt_get install "$W/imggen_${VERSION}+test1.deb"; then
    ok "upgrade to ${VERSION}+test1 (postinst configure with the old version)"
else
    tail -n 20 "$W/apt.log"
    fail "upgrade to ${VERSION}+test1"
fi
check "upgrade keeps the edited imggen.env" cmp -s "$W/env.edited" /etc/imggen/imggen.env
check "… root:imggen 0640" test "$(stat -c '%U:%G %a' /etc/imggen/imggen.env)" = "root:imggen 640"
check "no imggen.env.dpkg-* left" test -z "$(find /etc/imggen -name '*.dpkg-*')"

# ---------------------------------------------------------------------------------------------------
log "remove, then purge"
apt_get remove imggen || fail "apt-get remove"
check "remove: binaries gone" test ! -e /usr/bin/imggen-api
check "remove: configuration kept" cmp -s "$W/env.edited" /etc/imggen/imggen.env
apt_get purge imggen || fail "apt-get purge"
INSTALLED=0
check "purge: /etc/imggen gone" test ! -e /etc/imggen
check "purge: statoverride gone" test -z "$(dpkg-statoverride --list /etc/imggen/imggen.env || true)"
check "purge: enablement symlinks gone" test -z "$(find /etc/systemd/system -name 'imggen-*' 2>/dev/null)"
check "purge: empty /var/lib/imggen gone" test ! -e /var/lib/imggen
check "purge: the imggen user stays" quiet id -u imggen

checks_summary test-deb
