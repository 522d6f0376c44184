#!/usr/bin/env bash
# Mechanical checks of the source rules (docs/architecture.md, "Rules"):
# banned functions, libpq only in the SQL modules, libfcgi only in fcgi_io.c.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
fail() { echo "lint: $*" >&2; status=1; }

banned='\b(sprintf|vsprintf|strcpy|strcat|strncat|gets|strtok)\s*\('
if grep -rnE "$banned" fcgi-app tests --include='*.c' --include='*.h'; then
	fail "banned function used (use snprintf or struct buf)"
fi
pq=$(grep -rlE '\bPQ[a-zA-Z]+\s*\(' fcgi-app --include='*.c' |
	grep -vE 'fcgi-app/lib/(db|store|queue|maint|migrate)\.c$' || true)
[ -z "$pq" ] || fail "libpq called outside db/store/queue/maint/migrate: $pq"
if grep -rnE 'PQexec\s*\(' fcgi-app --include='*.c' | grep -v 'fcgi-app/lib/db.c'; then
	fail "PQexec outside db.c (use db_exec with parameters)"
fi
fc=$(grep -rl 'fcgiapp.h\|fcgi_stdio.h' fcgi-app | grep -v 'fcgi-app/responder/fcgi_io.c' || true)
[ -z "$fc" ] || fail "libfcgi included outside fcgi_io.c: $fc"
exit $status
