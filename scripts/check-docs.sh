#!/usr/bin/env bash
# Docs must match the code mechanically: every configuration key in
# fcgi-app/lib/config.c is in docs/configuration.md and imggen.env.example,
# every API error code in fcgi-app/ (and the nginx error pages) is in
# docs/api.md, and every generation status in the schema is in docs/api.md.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
missing() { echo "check-docs: $1 is not documented in $2" >&2; status=1; }

keys=$(grep -oE '^\s*\{ "[A-Z][A-Z0-9_]+", CFG_' fcgi-app/lib/config.c | grep -oE '[A-Z][A-Z0-9_]+' | grep -v '^CFG_')
[ -n "$keys" ] || { echo "check-docs: no keys found in config.c" >&2; exit 1; }
for k in $keys; do
	grep -q "\`$k\`" docs/configuration.md || missing "$k" docs/configuration.md
	grep -qE "^#?$k=" imggen.env.example || missing "$k" imggen.env.example
done

codes=$( (grep -ohE '"[a-z_]+",\s*[01] \}' fcgi-app/lib/ig_err.c | grep -oE '"[a-z_]+"';
	grep -rhoE '(setc\([^,]+, [A-Z_]+, |api_code = )"[a-z_]+"' fcgi-app | grep -oE '"[a-z_]+"$';
	grep -ohE '"code":"[a-z_]+"' nginx/snippets/*.conf | grep -oE '"[a-z_]+"$') | tr -d '"' | sort -u | grep -v '^ok$')
for c in $codes; do
	grep -q "\`$c\`" docs/api.md || missing "error code $c" docs/api.md
done

for s in $(grep -oE "status IN \([^)]*\)" sql/0001_init.sql | head -1 | grep -oE "'[a-z]+'" | tr -d "'"); do
	grep -q "\`$s\`" docs/api.md || missing "status $s" docs/api.md
done
[ $status -eq 0 ] && echo "check-docs: docs match the code"
exit $status
