#!/usr/bin/env bash
# tls.sh — the shipped nginx site (nginx/imggen.conf with nginx/snippets/) checked from outside with
# a TLS client (tls_handshake.py) and curl: TLS 1.2/1.3 only with forward-secret AEAD ciphers, HSTS and the other
# security headers on API answers and nginx's own errors, header and body limits answered with JSON,
# slow clients cut off, limit_req on failed authentication.
#
#   tests/security/tls.sh            (inside scripts/test-integration.sh, which exports the stack)
#
# The production file is rendered into a private nginx on free ports of 127.0.0.1, in front of the
# running test stack's responders (IMGGEN_STACK_DIR/run/api.sock) and files: only its paths, ports
# and certificate are replaced (any other difference fails the render check). The development
# stack's own nginx shares the snippets and is checked for protocols and headers too.
# Output: one line per check, then "N passed, N failed"; exit status 1 if any check failed.
set -uo pipefail

PROG=tls.sh
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/lib/checks.sh
. "$REPO/scripts/lib/checks.sh"
WORK=""
NGINX_PID=""
SSERVER_PID=""

cleanup() {
    [[ -n $SSERVER_PID ]] && kill "$SSERVER_PID" 2>/dev/null
    if [[ -n $NGINX_PID ]]; then
        kill -QUIT "$NGINX_PID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$NGINX_PID" 2>/dev/null
    fi
    [[ -n $WORK && $FAILED -eq 0 ]] && rm -rf "$WORK"
    [[ -n $WORK && $FAILED -ne 0 ]] && log "kept ${WORK} for inspection"
}
trap cleanup EXIT

for v in IMGGEN_STACK_DIR IMGGEN_URL IMGGEN_CACERT IMGGEN_ADMIN; do
    [[ -n ${!v:-} ]] || {
        log "${v} is not set: run through scripts/test-integration.sh"
        exit 1
    }
done
STACK=$IMGGEN_STACK_DIR
CA=$IMGGEN_CACERT

# shellcheck source=scripts/lib/ports.sh
. "$REPO/scripts/lib/ports.sh"

# ---------------------------------------------------------------------------------------------------
# render and start the production site

WORK=$(mktemp -d "${TMPDIR:-/tmp}/imggen-tls.XXXXXX")
chmod 0755 "$WORK"
mkdir -p "$WORK/temp" "$WORK/log"
SITE=$WORK/site.conf

# render_site: nginx/imggen.conf on ports PORT and HTTP_PORT of 127.0.0.1, with the stack's paths.
render_site() {
    sed -e "s|listen 443 ssl http2;|listen 127.0.0.1:${PORT} ssl http2;|" \
        -e "/listen \[::\]:443 ssl http2;/d" \
        -e "s|listen 80;|listen 127.0.0.1:${HTTP_PORT};|" \
        -e "/listen \[::\]:80;/d" \
        -e "s|/etc/letsencrypt/live/imggen.example.com/fullchain.pem|${STACK}/tls/cert.pem|" \
        -e "s|/etc/letsencrypt/live/imggen.example.com/privkey.pem|${STACK}/tls/key.pem|" \
        -e "s|/var/log/nginx/imggen.access.log|${WORK}/log/access.log|" \
        -e "s|/var/log/nginx/imggen.error.log|${WORK}/log/error.log|" \
        -e "s|/etc/nginx/snippets/|${REPO}/nginx/snippets/|g" \
        -e "s|unix:/run/imggen/api.sock|unix:${STACK}/run/api.sock|" \
        -e "s|/var/lib/imggen/files/|${STACK}/files/|" \
        "$REPO/nginx/imggen.conf" >"$SITE"
}
PORT=$(free_port) || exit 1
HTTP_PORT=$(free_port "$PORT") || exit 1
render_site
# Every path of the shipped file must have been replaced: otherwise this test checks something else.
if sed 's/#.*//' "$SITE" | grep -nE '/etc/letsencrypt|/run/imggen|/var/lib/imggen|/var/log|/etc/nginx/snippets|listen (80|443)|\[::\]'; then
    fail "render nginx/imggen.conf for a private run (unreplaced paths above: update tls.sh)"
    exit 1
fi
USER_LINE=""
[[ $(id -u) -eq 0 ]] && USER_LINE="user root;"
cat >"$WORK/nginx.conf" <<EOF
${USER_LINE}
daemon on;
worker_processes 1;
pid ${WORK}/nginx.pid;
error_log ${WORK}/log/error.log warn;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path ${WORK}/temp/body;
    fastcgi_temp_path ${WORK}/temp/fastcgi;
    proxy_temp_path ${WORK}/temp/proxy;
    scgi_temp_path ${WORK}/temp/scgi;
    uwsgi_temp_path ${WORK}/temp/uwsgi;
    include ${SITE};
}
EOF
if ! nginx -t -q -c "$WORK/nginx.conf" -e "$WORK/log/error.log" 2>"$WORK/nginx-t.log"; then
    cat "$WORK/nginx-t.log" >&2
    fail "nginx -t accepts nginx/imggen.conf"
    exit 1
fi
ok "nginx -t accepts nginx/imggen.conf (rendered to ${SITE})"
# Retried on other ports when a port was taken meanwhile (scripts/lib/ports.sh).
started=0
for attempt in 1 2 3 4 5; do
    if ((attempt > 1)); then
        PORT=$(free_port) && HTTP_PORT=$(free_port "$PORT") || break
        render_site
    fi
    if nginx -c "$WORK/nginx.conf" -e "$WORK/log/error.log" 2>"$WORK/nginx-start.log"; then
        started=1
        break
    fi
    grep -q 'Address already in use' "$WORK/nginx-start.log" || break
    log "attempt ${attempt}: $(tail -n 1 "$WORK/nginx-start.log"); trying other ports"
done
if [[ $started -eq 0 ]]; then
    cat "$WORK/nginx-start.log" >&2
    fail "start nginx with nginx/imggen.conf"
    exit 1
fi
for _ in $(seq 50); do [[ -s $WORK/nginx.pid ]] && break; sleep 0.1; done
NGINX_PID=$(cat "$WORK/nginx.pid")
PROD=https://localhost:${PORT}

# ---------------------------------------------------------------------------------------------------
# protocols and ciphers

# handshake HOSTPORT VERSION [CIPHERS]: succeeds when a TLS handshake offering only VERSION (1.0 to
# 1.3) completes; its "Protocol"/"Cipher" lines or its error go to $WORK/handshake.log. The client
# (tls_handshake.py) allows the old protocols and ciphers, which OpenSSL 3 otherwise refuses by
# itself at its default security level, and waits for the handshake's end: `openssl s_client
# </dev/null` gave up when its input ended first, now and then, on a loaded machine.
handshake() {
    python3 "$REPO/tests/security/tls_handshake.py" "$1" "$CA" "${@:2}" >"$WORK/handshake.log" 2>&1
}

# refused HOSTPORT VERSION [CIPHERS]: the server refuses that handshake (exit 1; exit 3, a cipher
# this machine's OpenSSL cannot offer at all, proves nothing and is not a refusal).
refused() {
    local rc=0
    handshake "$@" || rc=$?
    [[ $rc -eq 1 ]]
}

# A control: this client can speak TLS 1.0 and 1.1 (to a server that allows them), so a refusal
# below is nginx's.
SPORT=$(free_port) || exit 1
openssl s_server -accept "127.0.0.1:${SPORT}" -cert "$STACK/tls/cert.pem" -key "$STACK/tls/key.pem" \
    -cipher 'DEFAULT:@SECLEVEL=0' -tls1_1 -quiet -naccept 1 >/dev/null 2>&1 </dev/null &
SSERVER_PID=$!
for _ in $(seq 100); do port_in_use "$SPORT" && break; sleep 0.1; done
check "control: this client completes TLS 1.1 with a server that allows it" \
    handshake "127.0.0.1:${SPORT}" 1.1
kill "$SSERVER_PID" 2>/dev/null
SSERVER_PID=""

for hp in "127.0.0.1:${PORT}" "127.0.0.1:${IMGGEN_URL##*:}"; do
    what=production
    [[ $hp == "127.0.0.1:${PORT}" ]] || what="development stack"
    check "${what}: TLS 1.0 refused" refused "$hp" 1.0
    check "${what}: TLS 1.1 refused" refused "$hp" 1.1
    check "${what}: TLS 1.2 accepted" handshake "$hp" 1.2
    if grep -qE 'Cipher *: *ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$' "$WORK/handshake.log"; then
        ok "${what}: TLS 1.2 negotiates forward-secret AEAD ($(grep -m1 -oE 'Cipher *: *\S+' "$WORK/handshake.log"))"
    else
        fail "${what}: TLS 1.2 cipher: $(grep -m1 -E 'Cipher' "$WORK/handshake.log")"
    fi
    check "${what}: TLS 1.3 accepted" handshake "$hp" 1.3
    for c in ECDHE-ECDSA-AES128-SHA AES128-GCM-SHA256 AES256-SHA256 ECDHE-ECDSA-AES256-SHA384 DES-CBC3-SHA; do
        rc=0
        handshake "$hp" 1.2 "${c}:@SECLEVEL=0" || rc=$?
        case $rc in
        1) ok "${what}: TLS 1.2 with ${c} (no forward secrecy or no AEAD) refused" ;;
        3) log "${what}: TLS 1.2 with ${c} not tested: $(cat "$WORK/handshake.log")" ;;
        *) fail "${what}: TLS 1.2 with ${c} (no forward secrecy or no AEAD): $(cat "$WORK/handshake.log")" ;;
        esac
    done
done

# ---------------------------------------------------------------------------------------------------
# security headers

# fetch URL [CURL ARGS...]: headers to $WORK/h, body to $WORK/b, status on stdout.
fetch() {
    local url=$1
    shift
    curl -sS --cacert "$CA" -o "$WORK/b" -D "$WORK/h" -w '%{http_code}' "$@" "$url" 2>"$WORK/curl.err" || echo 000
}
has_header() { grep -qiE "^$1: *$2" "$WORK/h"; }
# The body is one JSON document (node is there for the tests' stand-in servers).
json_body() {
    [[ -s $WORK/b ]] && node -e 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))' "$WORK/b" 2>/dev/null
}

headers_ok() { # headers_ok WHAT WANT_HSTS
    local what=$1 hsts=$2 h missing=""
    has_header X-Content-Type-Options nosniff || missing+=" X-Content-Type-Options"
    if [[ $what != *"nginx error"* ]]; then
        has_header X-Frame-Options DENY || missing+=" X-Frame-Options"
        has_header Referrer-Policy no-referrer || missing+=" Referrer-Policy"
        has_header Content-Security-Policy "default-src 'none'" || missing+=" Content-Security-Policy"
    fi
    [[ $hsts == 1 ]] && { has_header Strict-Transport-Security 'max-age=[0-9]{8}' || missing+=" Strict-Transport-Security"; }
    if grep -qiE '^Server: .*[0-9]' "$WORK/h"; then missing+=" (Server header shows a version)"; fi
    h=$(grep -i '^content-type:' "$WORK/h" | tr -d '\r')
    [[ $h == *application/json* ]] || missing+=" (Content-Type: ${h:-none})"
    if [[ -z $missing ]]; then ok "${what}: security headers present, JSON"; else fail "${what}: missing${missing}"; fi
}

TOKEN=""
EMAIL="tls-$$-${RANDOM}@example.com"
"$IMGGEN_ADMIN" user create "$EMAIL" >/dev/null 2>&1
TOKEN=$("$IMGGEN_ADMIN" token create "$EMAIL" 2>/dev/null | grep -oE 'igt_[A-Za-z0-9_-]{43}' | head -n 1)
[[ -n $TOKEN ]] && ok "a token for the checks" || fail "create a token with imggen-admin"

for base in "$PROD" "$IMGGEN_URL"; do
    hsts=1
    what=production
    [[ $base == "$PROD" ]] || {
        hsts=0 # the development site sends no HSTS for localhost (imggen-dev.conf.in)
        what="development stack"
    }
    st=$(fetch "$base/api/generate/health")
    [[ $st == 200 ]] && headers_ok "${what}: API 200 (health)" $hsts || fail "${what}: health answered ${st}"
    st=$(fetch "$base/api/generate/queue" -H "Authorization: Bearer ${TOKEN}")
    [[ $st == 200 ]] && headers_ok "${what}: API 200 (list)" $hsts || fail "${what}: list answered ${st}"
    st=$(fetch "$base/api/generate/queue/00000000-0000-4000-8000-000000000000" -H "Authorization: Bearer ${TOKEN}")
    [[ $st == 404 ]] && headers_ok "${what}: API 404" $hsts || fail "${what}: missing generation answered ${st}"
    st=$(fetch "$base/api/generate/queue" -H "Authorization: Bearer igt_${RANDOM}")
    [[ $st == 401 ]] && headers_ok "${what}: API 401" $hsts || fail "${what}: bad token answered ${st}"
    st=$(fetch "$base/nothing-here")
    [[ $st == 404 ]] && headers_ok "${what}: nginx error 404" $hsts || fail "${what}: /nothing-here answered ${st}"
done

# ---------------------------------------------------------------------------------------------------
# limits (production site)

big=$(head -c 65536 /dev/zero | tr '\0' 'a')
# HTTP/1.1: nginx's JSON 400 (or 414 for the URI). HTTP/2: the same JSON, or the stream reset (000):
# a refusal either way, never a 5xx or an answer from the API.
limited() { # limited STATUS PROTO ALLOWED_RE
    if [[ $1 =~ ^($3)$ ]] && json_body; then return 0; fi
    [[ $2 == --http2 && $1 =~ ^0+$ ]]
}
for proto in --http1.1 --http2; do
    st=$(fetch "$PROD/api/generate/health" "$proto" -H "X-Big: ${big}")
    check "a 64 KB header (${proto#--}): refused (${st}), JSON when answered" limited "$st" "$proto" '400|431|494'
    st=$(fetch "$PROD/api/generate/queue" "$proto" -H "Authorization: Bearer igt_${big:0:9000}")
    check "a 9 KB Authorization header (${proto#--}): refused (${st}), JSON when answered" limited "$st" "$proto" '400|401|431|494'
    st=$(fetch "$PROD/api/generate/queue/${big:0:20000}" "$proto" -H "Authorization: Bearer ${TOKEN}")
    check "a 20 KB URI (${proto#--}): refused (${st}), JSON when answered" limited "$st" "$proto" '400|414'
done
head -c 70000 /dev/zero | tr '\0' ' ' >"$WORK/bigbody"
st=$(fetch "$PROD/api/generate/text-to-image" -X POST -H "Authorization: Bearer ${TOKEN}" \
    -H 'Content-Type: application/json' --data-binary "@$WORK/bigbody")
if [[ $st == 413 ]] && json_body; then headers_ok "a 70 KB body: nginx error 413" 1; else fail "a 70 KB body answered ${st}"; fi

# Slow clients: the directives are in the shipped configuration, and a client that stops sending
# its header is cut off after client_header_timeout.
conf_all=$(cat "$SITE" "$REPO"/nginx/snippets/*.conf)
for d in client_header_timeout client_body_timeout send_timeout keepalive_timeout large_client_header_buffers client_max_body_size; do
    grep -qE "^\s*${d}\s" <<<"$conf_all" && ok "slow clients/limits: ${d} set" || fail "slow clients/limits: ${d} missing"
done
hto=$(grep -oE '^\s*client_header_timeout\s+[0-9]+s' <<<"$conf_all" | grep -oE '[0-9]+' | head -n 1)
# node: when does the server close a connection that sent half a header and then nothing?
elapsed=$(node -e '
const tls = require("tls"), fs = require("fs"), t0 = Date.now();
const s = tls.connect({ host: "127.0.0.1", port: +process.argv[1], servername: "localhost",
    ca: fs.readFileSync(process.argv[2]) }, () => s.write("GET /api/generate/health HTTP/1.1\r\nHost: localhost\r\n"));
s.on("data", () => {});
s.on("error", () => {});
s.on("close", () => { console.log(Math.round((Date.now() - t0) / 1000)); process.exit(0); });
setTimeout(() => { console.log(-1); process.exit(0); }, +process.argv[3] * 1000);
' "$PORT" "$CA" $((hto + 15)))
if ((elapsed >= 0 && elapsed <= hto + 3)); then
    ok "a client that stops sending its header is cut off after ${elapsed}s (client_header_timeout ${hto}s)"
else
    fail "a client that stops sending its header held the connection ${elapsed}s (client_header_timeout ${hto}s; -1: still open)"
fi

# ---------------------------------------------------------------------------------------------------
# limit_req on failed authentication (production site)

# burst N URL [CURL ARGS...]: N requests of URL in one curl run (one connection, fast); the codes.
# Set THEN=(--next CURL ARGS... URLS...) to append more requests to the same run.
THEN=()
burst() {
    local n=$1 url=$2 i
    shift 2
    local -a args=()
    for ((i = 0; i < n; i++)); do args+=(-o /dev/null "$url"); done
    curl -sS --cacert "$CA" -w '%{http_code}\n' "$@" "${args[@]}" "${THEN[@]}" 2>/dev/null
}
codes=$(burst 60 "$PROD/api/generate/queue" -H 'Authorization: Bearer not-a-token')
n401=$(grep -c '^401$' <<<"$codes")
n429=$(grep -c '^429$' <<<"$codes")
if ((n429 > 0 && n401 >= 25 && n401 + n429 == 60)); then
    ok "60 quick requests with a malformed token: ${n401} x 401, then ${n429} x 429"
else
    fail "60 quick requests with a malformed token: $(sort <<<"$codes" | uniq -c | tr '\n' ' ')"
fi
# The zone refills at 5 r/s, so the checks below do not rely on the state the burst above left:
# each first fills it again with 40 failed authentications in the same curl run as its probes
# (--next keeps the connection), with no pause (a process start, a TLS handshake) to drain it.
THEN=(--next --cacert "$CA" -w '%{http_code}\n' -H 'Authorization: Basic YTpi' -D "$WORK/h" -o "$WORK/b"
    "$PROD/api/generate/queue")
codes=$(burst 40 "$PROD/api/generate/queue" -H 'Authorization: Basic YTpi')
st=$(tail -n 1 <<<"$codes")
if [[ $st == 429 ]] && json_body && has_header Retry-After '[0-9]+'; then
    ok "the limited answer: JSON 429 with Retry-After"
else
    fail "the limited answer: ${st}"
fi
THEN=(--next --cacert "$CA" -w '%{http_code}\n')
for ((i = 0; i < 20; i++)); do THEN+=(-o /dev/null "$PROD/api/generate/queue?access_token=${TOKEN}"); done
codes=$(burst 40 "$PROD/api/generate/queue" -H 'Authorization: Basic YTpi' | tail -n 20)
THEN=()
n429=$(grep -c '^429$' <<<"$codes")
if ((n429 >= 15)); then
    ok "a token in the query string counts as a failed authentication (${n429} of 20 limited)"
else
    fail "a token in the query string while limited: $(sort <<<"$codes" | uniq -c | tr '\n' ' ')"
fi
codes=$(burst 40 "$PROD/api/generate/queue" -H "Authorization: Bearer ${TOKEN}")
n200=$(grep -c '^200$' <<<"$codes")
((n200 == 40)) && ok "meanwhile 40 quick requests with a valid token are all served (200)" ||
    fail "valid token while limited: $(sort <<<"$codes" | uniq -c | tr '\n' ' ')"
codes=$(burst 40 "$PROD/api/generate/health")
n200=$(grep -c '^200$' <<<"$codes")
((n200 == 40)) && ok "meanwhile 40 quick health checks are all served (200)" ||
    fail "health while limited: $(sort <<<"$codes" | uniq -c | tr '\n' ' ')"
if grep -qF "${TOKEN#igt_}" "$WORK/log/access.log" "$WORK/log/error.log"; then
    fail "the production logs hold the token sent in a query string"
else
    ok "the production access log does not hold the token sent in a query string ([redacted])"
fi

checks_summary "$PROG"
