#!/usr/bin/env bash
# run.sh measures typedstore export and stats over many sessions, side by
# side with two baselines, and prints a Markdown table.
#
# Usage, from the repository's root:
#
#	bash cmd/typedstore/bench/run.sh          # 100,000, 300,000 and 1,000,000 sessions
#	bash cmd/typedstore/bench/run.sh -quick   # 20,000 sessions: for CI, well under a minute
#
# -reps N sets the repetitions (3 by default) and -sizes A,B,... the numbers
# of sessions.
#
# For each number of sessions it starts a redis-server of its own on a free
# loopback port (never 6379), keeping nothing on disk, seeds it with
# express-session-shaped sessions (./seed), and runs the contenders:
#
#	redis-cli   redis-cli --scan --pattern 'sess:*', each key turned into a
#	            GET by awk and sent by a second redis-cli with --pipe, which
#	            pipelines the GETs and reads every reply but prints none
#	            (only their count). redis-cli 7.0's --scan has no COUNT
#	            option: it scans 10 keys a call. It reads no time to live.
#	Store.All   the library's Store.All over json.RawMessage, ScanCount 1000
#	            (./all): it keeps a hash of every key it has passed, so its
#	            memory grows with the number of sessions.
#	export      typedstore export -batch 1000 -progress none -o /dev/null
#	stats       typedstore stats -batch 1000 -progress none
#	            -owner-path passport.user -json
#
# Each contender runs as its own process under ./rusage, which measures all
# of them the same way: wall time, and peak RSS (ru_maxrss; for the
# redis-cli pipeline, the largest of its processes). The contenders are
# interleaved, one of each per repetition, each repetition starting with the
# next contender, and every run must report all the sessions, so that one
# that did nothing cannot pass for a fast one. The table gives the medians
# of the repetitions; each run's numbers go to stderr as it ends.
set -euo pipefail

usage() {
	echo "usage: bash cmd/typedstore/bench/run.sh [-quick] [-reps N] [-sizes A,B,...]"
}

sizes=(100000 300000 1000000)
reps=3
while (($#)); do
	case $1 in
	-quick) sizes=(20000) ;;
	-reps)
		reps=${2:?-reps needs a number}
		shift
		;;
	-sizes)
		IFS=, read -ra sizes <<<"${2:?-sizes needs numbers}"
		shift
		;;
	-h | -help | --help)
		usage
		exit 0
		;;
	*)
		usage >&2
		exit 2
		;;
	esac
	shift
done
for n in "${sizes[@]}" "$reps"; do
	if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
		echo "run.sh: $n: want a positive number" >&2
		exit 2
	fi
done
for tool in go redis-server redis-cli awk; do
	if ! command -v "$tool" >/dev/null; then
		echo "run.sh: $tool is not installed" >&2
		exit 1
	fi
done

bench=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
module=$(dirname "$bench") # cmd/typedstore, the command's module
tmp=$(mktemp -d "${TMPDIR:-/tmp}/typedstore-bench.XXXXXX")
server=  # the pid of the running redis-server, ours
port=

stop_server() {
	if [[ -n $server ]]; then
		kill "$server" 2>/dev/null || true
		wait "$server" 2>/dev/null || true
		server=
	fi
}
trap 'stop_server; rm -rf "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "building into $tmp" >&2
(cd "$module" && go build -o "$tmp/typedstore" . && go build -o "$tmp/" ./bench/all ./bench/seed ./bench/rusage)

# start_server starts a redis-server on a free port and sets server and
# port. A port is taken only once the server there answers with our pid: a
# server of someone else's is never seeded.
start_server() {
	local try p
	for try in $(seq 20); do
		p=$((20000 + RANDOM % 12000))
		if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			continue # in use
		fi
		redis-server --bind 127.0.0.1 --port "$p" --save '' --appendonly no \
			--dir "$tmp" --logfile "$tmp/redis.log" </dev/null >/dev/null 2>&1 &
		server=$!
		for _ in $(seq 100); do
			if ! kill -0 "$server" 2>/dev/null; then
				break # it lost a race for the port
			fi
			if redis-cli -h 127.0.0.1 -p "$p" info server 2>/dev/null | tr -d '\r' | grep -qx "process_id:$server"; then
				port=$p
				return
			fi
			sleep 0.05
		done
		stop_server
	done
	echo "run.sh: could not start redis-server; its log:" >&2
	cat "$tmp/redis.log" >&2 || true
	exit 1
}

# measure KEY PATTERN COMMAND... runs the command under rusage, checks that
# its output matches the extended regular expression PATTERN, and adds its
# seconds and KiB to the samples of KEY.
measure() {
	local key=$1 pattern=$2 secs kib
	shift 2
	if ! "$tmp/rusage" -o "$tmp/last" "$@" >"$tmp/out" 2>&1; then
		echo "run.sh: $key failed:" >&2
		cat "$tmp/out" >&2
		exit 1
	fi
	if ! grep -qE -- "$pattern" "$tmp/out"; then
		echo "run.sh: $key did not report /$pattern/:" >&2
		cat "$tmp/out" >&2
		exit 1
	fi
	read -r secs kib <"$tmp/last"
	echo "$secs $kib" >>"$tmp/samples.$key"
	awk -v k="$key" -v s="$secs" -v m="$kib" 'BEGIN { printf "  %-20s %8.3f s %8.1f MiB\n", k, s, m / 1024 }' >&2
}

contenders=(redis-cli all export stats)

# run_contender NAME N runs one contender once over N sessions.
run_contender() {
	local n=$2 url="redis://127.0.0.1:$port"
	case $1 in
	redis-cli)
		measure "$n.redis-cli" "^errors: 0, replies: $n\$" bash -c \
			"redis-cli -h 127.0.0.1 -p $port --scan --pattern 'sess:*' | awk '{ print \"GET \" \$0 }' | redis-cli -h 127.0.0.1 -p $port --pipe"
		;;
	all)
		measure "$n.all" "^$n [0-9]+\$" "$tmp/all" -addr "127.0.0.1:$port" -prefix sess: -batch 1000
		;;
	export)
		measure "$n.export" "^exported $n sessions to /dev/null\$" \
			"$tmp/typedstore" export -url "$url" -prefix sess: -batch 1000 -progress none -o /dev/null
		;;
	stats)
		measure "$n.stats" "\"sessions\":$n," \
			"$tmp/typedstore" stats -url "$url" -prefix sess: -batch 1000 -progress none -owner-path passport.user -json
		;;
	esac
}

# median prints the median of the numbers in column COL of FILE.
median() {
	sort -g -k"$1,$1" "$2" | awk -v c="$1" '{ v[NR] = $c } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

started=$SECONDS
for n in "${sizes[@]}"; do
	start_server
	echo "$n sessions: redis-server pid $server on port $port; seeding" >&2
	t=$SECONDS
	"$tmp/seed" -addr "127.0.0.1:$port" -n "$n"
	echo "  seeded in $((SECONDS - t)) s; redis used_memory $(redis-cli -h 127.0.0.1 -p "$port" info memory | awk -F: '/^used_memory_human:/ { print $2 }' | tr -d '\r')" >&2
	for ((r = 0; r < reps; r++)); do
		echo "  repetition $((r + 1)) of $reps" >&2
		for ((i = 0; i < ${#contenders[@]}; i++)); do
			run_contender "${contenders[(r + i) % ${#contenders[@]}]}" "$n"
		done
	done
	stop_server
done

echo "done in $((SECONDS - started)) s" >&2
echo "typedstore export and stats against redis-cli and Store.All: $(redis-server --version | awk '{ print $3 }' | tr -d v=) redis-server, $(go env GOVERSION), $(nproc) CPUs, median of $reps runs"
echo
echo "| sessions | contender | command | sessions/s | × redis-cli | peak RSS (MiB) |"
echo "|---:|---|---|---:|---:|---:|"
for n in "${sizes[@]}"; do
	base=$(median 1 "$tmp/samples.$n.redis-cli")
	for c in "${contenders[@]}"; do
		case $c in
		redis-cli) who="redis-cli" what="--scan, GET via --pipe" ;;
		all) who="Store.All" what="range over All" ;;
		export) who="typedstore" what="export" ;;
		stats) who="typedstore" what="stats" ;;
		esac
		secs=$(median 1 "$tmp/samples.$n.$c")
		kib=$(median 2 "$tmp/samples.$n.$c")
		awk -v n="$n" -v who="$who" -v what="$what" -v s="$secs" -v b="$base" -v m="$kib" \
			'BEGIN { printf "| %d | %s | %s | %.0f | %.2f | %.1f |\n", n, who, what, n / s, b / s, m / 1024 }'
	done
done
