#!/usr/bin/env bash
# test-install.sh — `make install` into a DESTDIR, checked the way an operator or a packager would.
#
#   bash tests/install/test-install.sh          (make test-install)
#
# 1. make install DESTDIR=D (default PREFIX=/usr/local, SYSCONFDIR=/etc): the exact file tree, each
#    file's mode, no placeholder left in a rendered file, the binaries' compiled-in IMGGEN_SQL_DIR is
#    where the migrations went, every binary answers --help, the man pages pass mandoc -Tlint (groff
#    without mandoc), the units pass `systemd-analyze verify` and `systemd-analyze security`.
# 2. A second install after editing imggen.env (and the nginx site): both are kept byte for byte
#    and imggen.env keeps mode 0640; the files that belong to imggen are replaced.
# 3. make uninstall: only the edited configuration is left.
# 4. make install with PREFIX=/opt/imggen SYSCONFDIR=/opt/imggen/etc: the units, cron file, man pages
#    and binaries follow (IMGGEN_CONFIG in the units, ExecStart, compiled-in IMGGEN_SQL_DIR).
# Needs no root and starts nothing. Builds into $IMGGEN_INSTALL_BUILD (default build/install-test) so
# that build/default is not rebuilt for another PREFIX. Ends with "N passed, N failed".
set -euo pipefail

PROG=test-install.sh
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${IMGGEN_INSTALL_BUILD:-build/install-test}
cd "$REPO"

# shellcheck source=scripts/lib/checks.sh
. "$REPO/scripts/lib/checks.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/imggen-install.XXXXXX")
cleanup() {
    if [[ $FAILED -eq 0 && -z ${IMGGEN_KEEP:-} ]]; then rm -rf "$WORK"; else log "kept ${WORK}"; fi
}
trap cleanup EXIT

mk() { nice make -s --no-print-directory BUILD="$BUILD" "$@"; }

# tree DIR: "mode type path" for everything under DIR, sorted.
tree() {
    (cd "$1" && find . -mindepth 1 \( -type f -o -type l -o -type d \) -printf '%m %y %P\n' | sort -k3)
}

# --------------------------------------------------------------------------------------------------
log "building and installing into ${WORK}/d (BUILD=${BUILD})"
D=$WORK/d
mk install DESTDIR="$D" >"$WORK/install1.log" 2>&1 || {
    cat "$WORK/install1.log"
    fail "make install DESTDIR=…"
    exit 1
}
ok "make install DESTDIR=… (PREFIX=/usr/local SYSCONFDIR=/etc)"

SQL_FILES=$(cd sql && ls -- *.sql)
{
    for d in etc etc/cron.d etc/imggen etc/nginx etc/nginx/sites-available etc/nginx/snippets \
        usr usr/local usr/local/bin usr/local/lib usr/local/lib/systemd usr/local/lib/systemd/system \
        usr/local/share usr/local/share/imggen usr/local/share/imggen/nginx \
        usr/local/share/imggen/nginx/snippets usr/local/share/imggen/sql usr/local/share/man \
        usr/local/share/man/man5 usr/local/share/man/man8; do
        echo "755 d $d"
    done
    echo "644 f etc/cron.d/imggen"
    echo "640 f etc/imggen/imggen.env"
    echo "644 f etc/nginx/sites-available/imggen"
    for s in nginx/snippets/imggen-*.conf; do
        echo "644 f etc/nginx/snippets/${s##*/}"
        echo "644 f usr/local/share/imggen/nginx/snippets/${s##*/}"
    done
    for b in imggen-admin imggen-api imggen-worker; do echo "755 f usr/local/bin/$b"; done
    for u in imggen-api.service imggen-api.socket imggen-maintenance.service \
        imggen-maintenance.timer imggen-worker.service; do
        echo "644 f usr/local/lib/systemd/system/$u"
    done
    echo "644 f usr/local/share/imggen/imggen.env.example"
    echo "644 f usr/local/share/imggen/nginx/imggen.conf"
    for f in $SQL_FILES; do echo "644 f usr/local/share/imggen/sql/$f"; done
    echo "644 f usr/local/share/man/man5/imggen.env.5"
    for m in imggen-admin imggen-api imggen-worker; do echo "644 f usr/local/share/man/man8/$m.8"; done
} | sort -k3 >"$WORK/expected.tree"
tree "$D" >"$WORK/actual.tree"
if diff -u "$WORK/expected.tree" "$WORK/actual.tree"; then
    ok "installed tree and modes are exactly as expected ($(wc -l <"$WORK/actual.tree") entries)"
else
    fail "installed tree and modes (diff above: - expected, + installed)"
fi

check "imggen.env is the sample, byte for byte" cmp -s imggen.env.example "$D/etc/imggen/imggen.env"
check "the shipped site points at the installed snippets" \
    grep -q 'include /etc/nginx/snippets/imggen-server.conf;' "$D/etc/nginx/sites-available/imggen"
check "snippets are the repository's" diff -r nginx/snippets "$D/etc/nginx/snippets"
if grep -rn '@[A-Z][A-Z]*@' "$D/usr/local/lib/systemd" "$D/usr/local/share/man" "$D/etc/cron.d"; then
    fail "no @PLACEHOLDER@ left in units, man pages, cron file"
else
    ok "no @PLACEHOLDER@ left in units, man pages, cron file"
fi

sqldir=$(env -i IMGGEN_CONFIG=/dev/null "$D/usr/local/bin/imggen-admin" --check-config |
    sed -n 's/^IMGGEN_SQL_DIR=//p')
check "compiled-in IMGGEN_SQL_DIR (${sqldir}) is where the migrations are installed" \
    test "$sqldir" = /usr/local/share/imggen/sql -a -f "$D$sqldir/0001_init.sql"

for b in imggen-api imggen-worker imggen-admin; do
    out=$("$D/usr/local/bin/$b" --help 2>&1) && rc=0 || rc=$?
    check "$b --help exits 0 and prints a usage line" test "$rc" -eq 0 -a -n "$(grep -i usage <<<"$out")"
done

# Man pages: mandoc's linter when there is one (warnings and worse fail), else groff's.
for m in "$D"/usr/local/share/man/man*/*; do
    if command -v mandoc >/dev/null; then
        out=$(mandoc -Tlint -W warning "$m" 2>&1 | grep -v 'mandoc.db' || true)
    else
        out=$(groff -mandoc -z -ww "$m" 2>&1 || true)
    fi
    check "man page ${m##*/} lints clean${out:+: $out}" test -z "$out"
done
out=$(MANPATH="$D/usr/local/share/man" man -P cat imggen-admin 2>/dev/null | grep -c 'maintenance' || true)
check "man imggen-admin renders from the installed tree" test "${out:-0}" -gt 0

# systemd-analyze works here without systemd running as PID 1. It insists that ExecStart= binaries
# exist and that Documentation=man: pages resolve, so it is given the DESTDIR copies of both.
if command -v systemd-analyze >/dev/null; then
    mkdir -p "$WORK/units"
    for u in "$D"/usr/local/lib/systemd/system/*; do
        sed "s|/usr/local/bin/|$D/usr/local/bin/|g" "$u" >"$WORK/units/${u##*/}"
    done
    if [[ ! -x /usr/bin/multiwatch ]]; then
        log "multiwatch is not installed; pointing imggen-api.service at /bin/true for verify"
        sed -i 's|/usr/bin/multiwatch|/bin/true|' "$WORK/units/imggen-api.service"
    fi
    out=$(cd "$WORK/units" && MANPATH="$D/usr/local/share/man" systemd-analyze verify ./*.socket ./*.service ./*.timer 2>&1) &&
        rc=0 || rc=$?
    check "systemd-analyze verify: all five units${out:+: $out}" test "$rc" -eq 0 -a -z "$out"
    for s in imggen-api.service imggen-worker.service imggen-maintenance.service; do
        # --threshold is in tenths: 30 is an overall exposure of 3.0 ("OK" goes up to 4.9).
        out=$(systemd-analyze security --offline=yes --threshold=30 "$WORK/units/$s" 2>&1) && rc=0 || rc=$?
        level=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$out")
        check "systemd-analyze security ${s}: exposure ${level:-?} <= 3" test "$rc" -eq 0
    done
else
    fail "systemd-analyze not found (apt-get install systemd)"
fi

# --------------------------------------------------------------------------------------------------
log "second install over an edited configuration"
printf '\n# edited by the operator\nIMGGEN_LOG_LEVEL=debug\n' >>"$D/etc/imggen/imggen.env"
chmod 0640 "$D/etc/imggen/imggen.env"
printf '# my site\n' >>"$D/etc/nginx/sites-available/imggen"
cp -p "$D/etc/imggen/imggen.env" "$WORK/env.before"
cp -p "$D/etc/nginx/sites-available/imggen" "$WORK/site.before"
echo 'stale' >"$D/etc/nginx/snippets/imggen-api.conf"
touch -d '2000-01-01' "$D/usr/local/bin/imggen-api"
mk install DESTDIR="$D" >"$WORK/install2.log" 2>&1 || {
    cat "$WORK/install2.log"
    fail "second make install"
}
check "second install keeps the edited imggen.env byte for byte" cmp -s "$WORK/env.before" "$D/etc/imggen/imggen.env"
check "… and its mode 0640" test "$(stat -c %a "$D/etc/imggen/imggen.env")" = 640
check "… and says so" grep -q 'KEEP .*imggen.env (never overwritten' "$WORK/install2.log"
check "second install keeps the edited nginx site" cmp -s "$WORK/site.before" "$D/etc/nginx/sites-available/imggen"
check "second install replaces imggen's own snippets" cmp -s nginx/snippets/imggen-api.conf "$D/etc/nginx/snippets/imggen-api.conf"
check "second install replaces the binaries" test "$D/usr/local/bin/imggen-api" -nt "$WORK/env.before"
tree "$D" >"$WORK/actual2.tree"
check "second install leaves the same tree and modes" diff -u "$WORK/actual.tree" "$WORK/actual2.tree"

# --------------------------------------------------------------------------------------------------
log "make uninstall"
mk uninstall DESTDIR="$D" >"$WORK/uninstall.log" 2>&1 || {
    cat "$WORK/uninstall.log"
    fail "make uninstall"
}
left=$(cd "$D" && find . -type f -printf '%P\n' | sort | tr '\n' ' ')
check "uninstall leaves only the edited configuration (left: ${left})" \
    test "$left" = "etc/imggen/imggen.env etc/nginx/sites-available/imggen "
# An unedited configuration goes too.
D2=$WORK/d2
if ! { mk install DESTDIR="$D2" && mk uninstall DESTDIR="$D2"; } >"$WORK/install3.log" 2>&1; then
    cat "$WORK/install3.log"
fi
left=$(cd "$D2" && find . -type f -printf '%P\n' | sort | tr '\n' ' ')
check "install + uninstall with nothing edited leaves no file (left: ${left:-none})" test -z "$left"

# --------------------------------------------------------------------------------------------------
log "install with PREFIX=/opt/imggen SYSCONFDIR=/opt/imggen/etc"
D3=$WORK/d3
mk install DESTDIR="$D3" PREFIX=/opt/imggen SYSCONFDIR=/opt/imggen/etc >"$WORK/install4.log" 2>&1 || {
    cat "$WORK/install4.log"
    fail "make install PREFIX=/opt/imggen"
}
U=$D3/opt/imggen/lib/systemd/system
check "units read /opt/imggen/etc/imggen/imggen.env" \
    test "$(grep -c '^Environment=IMGGEN_CONFIG=/opt/imggen/etc/imggen/imggen.env$' "$U"/*.service | grep -c ':1$')" -eq 3
# shellcheck disable=SC2016 # a literal ${RESPONDERS}
check "units run /opt/imggen/bin binaries" \
    grep -q '^ExecStart=/usr/bin/multiwatch -f ${RESPONDERS} -- /opt/imggen/bin/imggen-api$' "$U/imggen-api.service"
check "cron file under SYSCONFDIR runs /opt/imggen/bin/imggen-admin" \
    grep -q '/opt/imggen/bin/imggen-admin maintenance' "$D3/opt/imggen/etc/cron.d/imggen"
check "env file under SYSCONFDIR" test -f "$D3/opt/imggen/etc/imggen/imggen.env"
check "site includes snippets under SYSCONFDIR" \
    grep -q 'include /opt/imggen/etc/nginx/snippets/imggen-api.conf;' "$D3/opt/imggen/etc/nginx/sites-available/imggen"
check "man page names the SQL directory" grep -q '/opt/imggen/share/imggen/sql' "$D3/opt/imggen/share/man/man8/imggen-admin.8"
sqldir=$(env -i IMGGEN_CONFIG=/dev/null "$D3/opt/imggen/bin/imggen-admin" --check-config | sed -n 's/^IMGGEN_SQL_DIR=//p')
check "rebuilt for the new PREFIX: IMGGEN_SQL_DIR=${sqldir}" test "$sqldir" = /opt/imggen/share/imggen/sql
# Back to the default PREFIX: config.o is rebuilt again (the stamp), not left pointing at /opt.
mk all >/dev/null 2>&1
sqldir=$(env -i IMGGEN_CONFIG=/dev/null "$BUILD/imggen-admin" --check-config | sed -n 's/^IMGGEN_SQL_DIR=//p')
check "a plain make afterwards rebuilds for /usr/local again (${sqldir})" test "$sqldir" = /usr/local/share/imggen/sql

checks_summary test-install
