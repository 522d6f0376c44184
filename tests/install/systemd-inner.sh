#!/usr/bin/env bash
# systemd-inner.sh — the part of test-systemd.sh that runs inside the container, as root, with systemd
# as PID 1: an operator's first installation and first upgrade, by docs/operations.md ("Installing").
#
#   systemd-inner.sh DEB
#
# Prints one "ok …" or "FAIL …" line per check; the caller counts them.
set -uo pipefail

DEB=$1
cd /
ok() { printf 'ok   %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*"; }
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else fail "$what"; fi
}
quiet() { "$@" >/dev/null 2>&1; }
mainpid() { systemctl show -p MainPID --value "$1"; }
export DEBIAN_FRONTEND=noninteractive
CURL=(curl -sS --max-time 10 --cacert /etc/ssl/imggen-test/cert.pem)

# A container made from a build host may carry its "no services from maintainer scripts" policy.
rm -f /usr/sbin/policy-rc.d
if dpkg-query -W -f='${db:Status-Status}' imggen 2>/dev/null | grep -q installed; then
    dpkg -P imggen >/dev/null 2>&1
fi

# --- install ---------------------------------------------------------------------------------------
out=$(dpkg -i "$DEB" 2>&1) && rc=0 || rc=$?
check "dpkg -i ${DEB##*/} under systemd (exit ${rc})" test "$rc" -eq 0
[[ $rc -eq 0 ]] || printf '%s\n' "$out"
for u in imggen-api.socket imggen-api.service imggen-worker.service imggen-maintenance.timer; do
    check "postinst enabled ${u}, did not start it" \
        test "$(systemctl is-enabled "$u")/$(systemctl is-active "$u")" = enabled/inactive
done

# --- configure (docs/operations.md: Configure) -----------------------------------------------------
if ! runuser -u postgres -- pg_lsclusters -h 2>/dev/null | grep -q online; then
    pg_createcluster --start 15 main >/dev/null 2>&1 || true
fi
runuser -u postgres -- createuser imggen
runuser -u postgres -- createdb -O imggen imggen
check "configuration is the untouched sample" cmp -s /usr/share/imggen/imggen.env.example /etc/imggen/imggen.env
out=$(runuser -u imggen -- imggen-admin migrate 2>/dev/null) && rc=0 || rc=$?
check "imggen-admin migrate as imggen: ${out}" test "$rc" -eq 0
mkdir -p /etc/ssl/imggen-test
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout /etc/ssl/imggen-test/key.pem \
    -out /etc/ssl/imggen-test/cert.pem -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost 2>/dev/null
sed -i -e 's|imggen.example.com;|localhost;|' \
    -e 's|/etc/letsencrypt/live/imggen.example.com/fullchain.pem|/etc/ssl/imggen-test/cert.pem|' \
    -e 's|/etc/letsencrypt/live/imggen.example.com/privkey.pem|/etc/ssl/imggen-test/key.pem|' \
    /etc/nginx/sites-available/imggen
rm -f /etc/nginx/sites-enabled/default
ln -s ../sites-available/imggen /etc/nginx/sites-enabled/imggen
check "nginx -t with the site enabled" quiet nginx -t
systemctl reload-or-restart nginx
systemctl start imggen-api.socket imggen-api.service imggen-worker.service imggen-maintenance.timer
sleep 1
for u in imggen-api.socket imggen-api.service imggen-worker.service imggen-maintenance.timer; do
    check "systemctl start: ${u} active" test "$(systemctl is-active "$u")" = active
done
check "socket /run/imggen/api.sock srw-rw---- imggen:www-data" \
    test "$(stat -c '%A %U:%G' /run/imggen/api.sock)" = "srw-rw---- imggen:www-data"
api=$(mainpid imggen-api.service)
# The responder count the unit asks for (Environment=RESPONDERS=N).
want=$(systemctl show -p Environment --value imggen-api.service | tr ' ' '\n' | sed -n 's/^RESPONDERS=//p')
for _ in $(seq 50); do
    [[ $(pgrep -P "$api" -x imggen-api | wc -l) -eq ${want:-0} ]] && break
    sleep 0.2
done
n=$(pgrep -P "$api" -x imggen-api | wc -l)
check "imggen-api.service: multiwatch (pid ${api}) with ${n} responders (unit: ${want}), user imggen" \
    test -n "$want" -a "$n" -eq "${want:-0}" -a "$(ps -o user= --ppid "$api" | sort -u)" = imggen
for _ in $(seq 50); do
    [[ $("${CURL[@]}" -o /dev/null -w '%{http_code}' https://localhost/api/generate/health) == 200 ]] && break
    sleep 0.2
done
check "health through the installed site: 200" \
    test "$("${CURL[@]}" -o /dev/null -w '%{http_code}' https://localhost/api/generate/health)" = 200
check "responders log to the journal" quiet journalctl -u imggen-api.service -o cat --grep 'responder ready'

# --- first user, a generation ----------------------------------------------------------------------
runuser -u imggen -- imggen-admin user create systemd@imggen.test >/dev/null
TOKEN=$(runuser -u imggen -- imggen-admin token create systemd@imggen.test 2>/dev/null)
GEN=$("${CURL[@]}" -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"prompt":"A fox in the snow","aspectRatio":"1:1"}' https://localhost/api/generate/text-to-image | jq -r .generationId)
status=""
for _ in $(seq 100); do
    doc=$("${CURL[@]}" -H "Authorization: Bearer $TOKEN" "https://localhost/api/generate/queue/$GEN")
    status=$(jq -r .status <<<"$doc")
    [[ $status == completed || $status == failed ]] && break
    sleep 0.2
done
check "generation ${GEN}: ${status}" test "$status" = completed
url=$(jq -r '.images[0].imageUrl' <<<"$doc")
code=$("${CURL[@]}" -o /tmp/img.png -w '%{http_code}' "$url")
check "image ${url} served by nginx from /var/lib/imggen/files: ${code}, PNG" \
    test "$code" = 200 -a "$(head -c 4 /tmp/img.png | od -An -tx1 | tr -d ' ')" = 89504e47
f=$(find /var/lib/imggen/files -name '*.png' | head -n 1)
check "stored 0644 imggen (UMask=0022 under ProtectSystem=strict)" test "$(stat -c '%a %U' "$f")" = "644 imggen"

# --- a responder killed ----------------------------------------------------------------------------
victim=$(pgrep -P "$api" -x imggen-api | head -n 1)
kill -KILL "$victim"
for _ in $(seq 50); do
    now=$(pgrep -P "$api" -x imggen-api | tr '\n' ' ')
    [[ $(wc -w <<<"$now") -eq $want ]] && ! grep -qw "$victim" <<<"$now" && break
    sleep 0.2
done
check "SIGKILL responder ${victim}: replaced by multiwatch (now ${now}), same service" \
    test "$(wc -w <<<"$now")" -eq "$want" -a "$(mainpid imggen-api.service)" = "$api" -a -z "$(grep -w "$victim" <<<"$now")"

# --- maintenance -----------------------------------------------------------------------------------
systemctl start imggen-maintenance.service
check "imggen-maintenance.service: $(systemctl show -p Result --value imggen-maintenance.service), exit $(systemctl show -p ExecMainStatus --value imggen-maintenance.service)" \
    test "$(systemctl show -p Result --value imggen-maintenance.service)/$(systemctl show -p ExecMainStatus --value imggen-maintenance.service)" = success/0
check "its report is in the journal" quiet journalctl -u imggen-maintenance.service -o cat --grep 'rescued [0-9]+ job'
check "imggen-maintenance.timer is scheduled" quiet grep -q imggen-maintenance.timer <<<"$(systemctl list-timers --all --no-legend)"

# --- zero-downtime reload --------------------------------------------------------------------------
if command -v wrk >/dev/null; then
    n0=$(wc -l </var/log/nginx/imggen.access.log)
    # Four restarts, not two: a stop signal that cut off an accepted connection cost about one
    # request in fifty restarts (docs/architecture.md, "Request path"); test-e2e restarts 25 times.
    # Not more: systemd's default start limit (5 starts in 10 s) counts restarts too.
    wrk -t2 -c8 -d9s --timeout 10s https://localhost/api/generate/health >/tmp/wrk.log 2>&1 &
    wpid=$!
    sleep 1
    for _ in 1 2 3 4; do
        systemctl restart imggen-api.service
        sleep 1.5
    done
    wait "$wpid"
    reqs=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' /tmp/wrk.log)
    check "wrk during four 'systemctl restart imggen-api': ${reqs} requests, no error, no non-2xx" \
        test "${reqs:-0}" -gt 0 -a -z "$(grep -E 'Socket errors|Non-2xx' /tmp/wrk.log)"
    tail -n +"$((n0 + 1))" /var/log/nginx/imggen.access.log | sed -E 's/^[^"]*"[^"]*" ([0-9]{3}) .*/\1/' >/tmp/statuses
    bad=$(grep -cvE '^(200|499)$' /tmp/statuses)
    check "nginx: $(wc -l </tmp/statuses) requests in the window, ${bad} failed" test "$bad" -eq 0
    check "the service was restarted (main pid ${api} → $(mainpid imggen-api.service))" test "$(mainpid imggen-api.service)" != "$api"
else
    fail "wrk not installed: reload under load not tested"
fi

# --- graceful stop of the worker -------------------------------------------------------------------
t0=$(date +%s%3N)
systemctl stop imggen-worker.service
ms=$(($(date +%s%3N) - t0))
check "systemctl stop imggen-worker: ${ms} ms, $(systemctl show -p Result --value imggen-worker.service), exit $(systemctl show -p ExecMainStatus --value imggen-worker.service)" \
    test "$(systemctl show -p Result --value imggen-worker.service)/$(systemctl show -p ExecMainStatus --value imggen-worker.service)" = success/0
check "worker logged 'worker stopped'" quiet journalctl -u imggen-worker.service -o cat --grep 'worker stopped'
systemctl start imggen-worker.service

# --- upgrade with the services running ---------------------------------------------------------------
echo '# edited by the operator' >>/etc/imggen/imggen.env
cp -p /etc/imggen/imggen.env /tmp/env.edited
version=$(dpkg-deb -f "$DEB" Version)
rm -rf /tmp/repack
dpkg-deb -R "$DEB" /tmp/repack
sed -i "s/^Version: .*/Version: ${version}+test1/" /tmp/repack/DEBIAN/control
dpkg-deb -b --root-owner-group /tmp/repack /tmp/up.deb >/dev/null
a=$(mainpid imggen-api.service) w=$(mainpid imggen-worker.service)
out=$(dpkg -i /tmp/up.deb 2>&1) && rc=0 || rc=$?
check "upgrade to ${version}+test1 (exit ${rc}) ran imggen-admin migrate" grep -q 'schema up to date' <<<"$out"
check "… and restarted the responders (${a} → $(mainpid imggen-api.service)) and the worker (${w} → $(mainpid imggen-worker.service))" \
    test "$(mainpid imggen-api.service)" != "$a" -a "$(mainpid imggen-worker.service)" != "$w" -a "$(mainpid imggen-worker.service)" != 0
check "… kept the edited imggen.env, root:imggen 0640" \
    test "$(cmp -s /tmp/env.edited /etc/imggen/imggen.env && stat -c '%U:%G %a' /etc/imggen/imggen.env)" = "root:imggen 640"
check "health after the upgrade" test "$("${CURL[@]}" -o /dev/null -w '%{http_code}' https://localhost/api/generate/health)" = 200

# --- remove, purge -----------------------------------------------------------------------------------
dpkg -r imggen >/dev/null 2>&1
states=$(systemctl is-active imggen-api.socket imggen-api.service imggen-worker.service imggen-maintenance.timer | sort -u | tr '\n' ' ')
check "dpkg -r stops every unit (${states})" test "$states" = "inactive "
check "… and the socket is gone" test ! -e /run/imggen/api.sock
dpkg -P imggen >/dev/null 2>&1
check "dpkg -P removes the configuration and the enablement" \
    test ! -e /etc/imggen -a -z "$(find /etc/systemd/system -name 'imggen*')"
check "… and keeps the stored images" test -f "$f"
