#!/usr/bin/env bash
# stop.sh — `make stop`: stop the development stack that `make run` started in var/ (nginx, worker,
# responders, PostgreSQL). Data (database, images, token in var/dev.env) stays for the next run;
# delete var/ to start from scratch. Never fails when parts are not running.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
exec "$REPO/scripts/stack.sh" down "$REPO/var"
