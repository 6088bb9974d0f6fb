#!/usr/bin/env bash
# Runs the side-by-side comparison and prints its Markdown table:
#
#   bash benchmarks/run.sh            # the full run (about 5 minutes on 2 cores)
#   bash benchmarks/run.sh -quick     # every cell once, briefly: a smoke test
#   bash benchmarks/run.sh -reps 5 -window 2s -o table.md
#   bash benchmarks/run.sh -o table.md -svg benchmarks/chart.svg   # and the chart
#
# Output files (-o, -svg, -cpuprofile) are taken relative to the directory
# run.sh is called from.
#
# It installs the pinned npm packages (connect-redis, redis, express-session)
# from package-lock.json when they are missing, then runs the Go driver,
# which starts its own redis-server on a free loopback port and stops it by
# pid when it is done. Arguments go to the driver (go run . -h lists them).
set -euo pipefail
export BENCHMARKS_CALLER_DIR="$PWD"
cd "$(dirname "$0")"
if command -v node >/dev/null && command -v npm >/dev/null; then
	if [ ! -d node/node_modules/connect-redis ] || [ node/package-lock.json -nt node/node_modules/.package-lock.json ]; then
		(cd node && npm ci --no-audit --no-fund --loglevel=error)
	fi
else
	echo "# node or npm not found: connect-redis will be left out" >&2
fi
exec go run . "$@"
