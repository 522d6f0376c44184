#!/usr/bin/env bash
# run.sh — `make run`: install what is missing, build, start a development stack in var/ (HTTPS on
# port 8443, 4 responders, 1 worker), make sure there is a demo user with a working API token
# (kept in var/dev.env), submit one generation, wait for it and show the result.
# Running it again reuses what is already up. Stop everything with `make stop`.
# Environment: IMGGEN_BIN (binaries, default build/default), IMGGEN_HTTPS_PORT (default 8443),
# IMGGEN_SKIP_DEPS=1 / IMGGEN_SKIP_BUILD=1 (skip those steps).
set -euo pipefail

PROG=run.sh
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VAR=$REPO/var
DEV_ENV=$VAR/dev.env
DEMO_EMAIL=demo@imggen.local
PORT=${IMGGEN_HTTPS_PORT:-8443}
PROMPT_JSON='{"prompt":"A lighthouse on a cliff at dawn","numberOfImages":2,"aspectRatio":"16:9"}'

log() { printf '%s: %s\n' "$PROG" "$*" >&2; }
die() {
    printf '%s: error: %s\n' "$PROG" "$*" >&2
    exit 1
}
section() { printf '\n==== %s ====\n' "$*" >&2; }

now_ms() { date +%s%3N; }

# json_get FIELD < JSON: print a top-level string/number field ("" when absent).
json_get() {
    local field=$1
    if command -v python3 >/dev/null 2>&1; then
        python3 -c '
import json, sys
try:
    v = json.load(sys.stdin).get(sys.argv[1], "")
except Exception:
    v = ""
print("" if v is None else v if isinstance(v, str) else json.dumps(v))' "$field"
    else
        # fallback for a flat "field":"value" / "field":123 (our own API's output)
        tr -d '\n' | sed -n "s/.*\"${field}\"[[:space:]]*:[[:space:]]*\"\\{0,1\\}\\([^\",}]*\\).*/\\1/p" | head -n 1
    fi
}

# image_urls < JSON: every images[].imageUrl, one a line.
image_urls() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except Exception:
    sys.exit(0)
for im in d.get("images") or []:
    if isinstance(im, dict) and im.get("imageUrl"):
        print(im["imageUrl"])'
    else
        tr -d '\n' | grep -o '"imageUrl"[[:space:]]*:[[:space:]]*"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/'
    fi
}

pretty() {
    if command -v python3 >/dev/null 2>&1 && python3 -m json.tool <<<"$1" 2>/dev/null; then
        return 0
    fi
    printf '%s\n' "$1"
}

# api METHOD PATH [BODY]: sets HTTP_STATUS and HTTP_BODY.
api() {
    local method=$1 path=$2 body=${3:-} out
    local -a args=(-sS --max-time 30 --cacert "$IMGGEN_CACERT" -X "$method" -w '\n%{http_code}')
    [[ -n ${IMGGEN_TOKEN:-} ]] && args+=(-H "Authorization: Bearer ${IMGGEN_TOKEN}")
    if [[ -n $body ]]; then
        args+=(-H 'Content-Type: application/json' --data-binary "$body")
    fi
    out=$(curl "${args[@]}" "${IMGGEN_URL}${path}") || {
        HTTP_STATUS=000
        HTTP_BODY=""
        return 0
    }
    HTTP_STATUS=${out##*$'\n'}
    HTTP_BODY=${out%$'\n'*}
}

ensure_token() {
    if [[ -f $DEV_ENV ]]; then
        IMGGEN_TOKEN=$(sed -n 's/^IMGGEN_TOKEN=//p' "$DEV_ENV" | tail -n 1)
        if [[ -n $IMGGEN_TOKEN ]]; then
            # Authentication comes before the lookup: a valid token gets 404 for the nil id.
            api GET /api/generate/queue/00000000-0000-0000-0000-000000000000
            case $HTTP_STATUS in
            200 | 404)
                log "reusing the API token in ${DEV_ENV}"
                return 0
                ;;
            401 | 403) log "the token in ${DEV_ENV} no longer works; creating a new one" ;;
            *) die "checking the token: GET /api/generate/queue/<id> answered ${HTTP_STATUS}: ${HTTP_BODY}" ;;
            esac
        fi
    fi
    IMGGEN_TOKEN=""
    local out admin_log=$VAR/log/admin.log
    if out=$("$IMGGEN_ADMIN" user create "$DEMO_EMAIL" 2>>"$admin_log"); then
        log "created user ${DEMO_EMAIL} (${out})"
    else
        log "user ${DEMO_EMAIL} exists already (or could not be created; see var/log/admin.log)"
    fi
    if ! IMGGEN_TOKEN=$("$IMGGEN_ADMIN" token create "$DEMO_EMAIL" --name make-run 2>>"$admin_log"); then
        tail -n 20 "$admin_log" >&2
        die "imggen-admin token create ${DEMO_EMAIL} failed"
    fi
    IMGGEN_TOKEN=$(printf '%s' "$IMGGEN_TOKEN" | tr -d '[:space:]')
    [[ -n $IMGGEN_TOKEN ]] || die "imggen-admin token create printed no token"
    log "created a new API token for ${DEMO_EMAIL}"
}

write_dev_env() {
    local tmp
    tmp=$(mktemp "$VAR/.dev.env.XXXXXX")
    {
        echo "IMGGEN_URL=${IMGGEN_URL}"
        echo "IMGGEN_TOKEN=${IMGGEN_TOKEN}"
        echo "DATABASE_URL=${DATABASE_URL}"
        echo "IMGGEN_CACERT=${IMGGEN_CACERT}"
    } >"$tmp"
    chmod 0600 "$tmp"
    mv "$tmp" "$DEV_ENV"
}

# png_info FILE: "PNG image, WxH" or fail.
png_info() {
    local f=$1 sig w h
    sig=$(head -c 8 "$f" | od -An -tx1 | tr -d ' \n')
    [[ $sig == 89504e470d0a1a0a ]] || return 1
    w=$((16#$(tail -c +17 "$f" | head -c 4 | od -An -tx1 | tr -d ' \n')))
    h=$((16#$(tail -c +21 "$f" | head -c 4 | od -An -tx1 | tr -d ' \n')))
    printf 'PNG image, %sx%s, %s bytes\n' "$w" "$h" "$(wc -c <"$f" | tr -d ' ')"
}

main() {
    cd "$REPO"

    if [[ ${IMGGEN_SKIP_DEPS:-0} != 1 ]]; then
        section "dependencies"
        bash scripts/deps.sh
    fi
    if [[ ${IMGGEN_SKIP_BUILD:-0} != 1 ]]; then
        section "build"
        make all
    fi

    section "stack (var/)"
    scripts/stack.sh up "$VAR" --https-port "$PORT" --responders 4 --bin "${IMGGEN_BIN:-build/default}"
    set -a
    # shellcheck disable=SC1091 # written by stack.sh
    . "$VAR/stack.env"
    set +a

    section "demo user and token"
    ensure_token
    write_dev_env

    section "generation"
    log "POST ${IMGGEN_URL}/api/generate/text-to-image ${PROMPT_JSON}"
    api POST /api/generate/text-to-image "$PROMPT_JSON"
    if [[ $HTTP_STATUS != 202 ]]; then
        pretty "$HTTP_BODY" >&2
        die "expected 202, got ${HTTP_STATUS}"
    fi
    pretty "$HTTP_BODY"
    local id status deadline
    id=$(json_get generationId <<<"$HTTP_BODY")
    [[ $id =~ ^[A-Za-z0-9-]+$ ]] || die "no generationId in the answer"
    log "generation ${id} queued; polling GET /api/generate/queue/${id}"
    deadline=$(($(now_ms) + 60000))
    while :; do
        api GET "/api/generate/queue/${id}"
        [[ $HTTP_STATUS == 200 ]] || die "GET /api/generate/queue/${id} answered ${HTTP_STATUS}: ${HTTP_BODY}"
        status=$(json_get status <<<"$HTTP_BODY")
        [[ $status == completed || $status == failed || $status == canceled ]] && break
        if (($(now_ms) >= deadline)); then
            pretty "$HTTP_BODY" >&2
            tail -n 20 "$VAR/log/worker.log" >&2 || true
            die "generation ${id} still '${status}' after 60s (worker log: var/log/worker.log)"
        fi
        sleep 0.5
    done

    section "result: ${status}"
    pretty "$HTTP_BODY"
    if [[ $status != completed ]]; then
        die "generation ${id} ended '${status}' (worker log: var/log/worker.log)"
    fi
    local -a urls=()
    mapfile -t urls < <(image_urls <<<"$HTTP_BODY")
    [[ ${#urls[@]} -gt 0 ]] || die "the completed generation lists no images"
    printf '\nimage URLs:\n'
    printf '  %s\n' "${urls[@]}"
    local first=${urls[0]}
    curl -sS --max-time 30 --fail --cacert "$IMGGEN_CACERT" -o "$VAR/last-image.png" "$first" ||
        die "could not fetch ${first}"
    local info
    info=$(png_info "$VAR/last-image.png") || die "${first} is not a PNG"
    printf 'fetched %s -> var/last-image.png: %s\n' "$first" "$info"

    cat <<EOF

==== imggen is running on ${IMGGEN_URL} ====
  logs:   var/log/{api,worker,postgres,nginx-error,nginx-access}.log
  config: var/imggen.env   (API token etc.: var/dev.env)

Use the API with curl:
  . var/dev.env
  curl --cacert "\$IMGGEN_CACERT" -H "Authorization: Bearer \$IMGGEN_TOKEN" \\
       -H 'Content-Type: application/json' \\
       -d '{"prompt":"A red fox in the snow","numberOfImages":1,"aspectRatio":"1:1"}' \\
       "\$IMGGEN_URL/api/generate/text-to-image"
  curl --cacert "\$IMGGEN_CACERT" -H "Authorization: Bearer \$IMGGEN_TOKEN" "\$IMGGEN_URL/api/generate/queue/<generationId>"
  curl --cacert "\$IMGGEN_CACERT" -H "Authorization: Bearer \$IMGGEN_TOKEN" "\$IMGGEN_URL/api/generate/queue?limit=10"

Admin CLI:  IMGGEN_CONFIG=var/imggen.env ${IMGGEN_ADMIN} queue stats
Stop:       make stop
EOF
}

main "$@"
