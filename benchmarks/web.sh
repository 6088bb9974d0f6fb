#!/usr/bin/env bash
# Runs the HTTP comparison (web/main.go) and prints its Markdown tables:
#
#   bash benchmarks/web.sh                      # the full run (about 8 minutes on 2 cores)
#   bash benchmarks/web.sh -quick               # every cell once, briefly: a smoke test
#   bash benchmarks/web.sh -o web.md -svg benchmarks/web.svg
#
# Output files are taken relative to the directory web.sh is called from.
# It installs the pinned npm packages (express, express-session,
# connect-redis, redis) from package-lock.json when they are missing; the
# driver starts its own redis-server and the four servers on free loopback
# ports, and stops them by pid when it is done.
set -euo pipefail
export BENCHMARKS_CALLER_DIR="$PWD"
cd "$(dirname "$0")"
if [ ! -d node/node_modules/express ] || [ node/package-lock.json -nt node/node_modules/.package-lock.json ]; then
	(cd node && npm ci --no-audit --no-fund --loglevel=error)
fi
exec go run ./web "$@"
