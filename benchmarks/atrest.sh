#!/usr/bin/env bash
# Measures what the options of sessions at rest (EncryptionKeys, IDHashKey,
# CompressAbove) cost, side by side with the store without them, and prints
# a Markdown table of medians and ratios:
#
#   bash benchmarks/atrest.sh              # 8 repetitions, about 3 minutes
#   COUNT=3 bash benchmarks/atrest.sh      # fewer
#
# Two benchmarks of the repository root, each repeated COUNT times with its
# cells interleaved, so that a ratio compares runs made moments apart:
# BenchmarkAtRestCPU (the client's CPU alone: key, encode and seal for a
# Set; key, open and decode for a Get) and BenchmarkAtRest on a private
# redis-server (the whole call, round trip included). stored-B is the size
# of the value in Redis.
set -euo pipefail
cd "$(dirname "$0")/.."
count="${COUNT:-8}"
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
go test -run '^$' -bench '^BenchmarkAtRestCPU$' -benchmem -count "$count" . >>"$out"
TYPEDSTORE_BENCH_REDIS=1 TYPEDSTORE_REQUIRE_REDIS=1 go test -run '^$' -bench '^BenchmarkAtRest$/^redis$/' -benchtime 3000x -count "$count" . >>"$out"
awk -v count="$count" '
function median(list,    n, a, i, j, t) {
	n = split(list, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
/^BenchmarkAtRest/ {
	name = $1; sub(/-[0-9]+$/, "", name)
	rep = ++reps[name]
	for (i = 3; i < NF; i++) {
		if ($(i + 1) == "ns/op") { ns[name] = ns[name] " " $i; at[name, rep] = $i }
		if ($(i + 1) == "allocs/op") allocs[name] = $i
		if ($(i + 1) == "stored-B") stored[name] = $i
	}
}
END {
	printf "| benchmark | size | option | op | median ns | × plain | allocs | stored bytes |\n"
	printf "|---|---|---|---|---:|---:|---:|---:|\n"
	split("BenchmarkAtRestCPU/ BenchmarkAtRest/redis/", benches, " ")
	split("small large", sizes, " ")
	split("plain sealed hashed sealed+hashed sealed+compressed", opts, " ")
	split("Set Get", ops, " ")
	n = 0
	for (b = 1; b <= 2; b++) for (z = 1; z <= 2; z++) for (o = 1; o <= 5; o++) for (q = 1; q <= 2; q++) {
		name = benches[b] sizes[z] "/" opts[o] "/" ops[q]
		if (name in reps) order[++n] = name
	}
	for (k = 1; k <= n; k++) {
		name = order[k]
		split(name, p, "/")
		bench = p[1] == "BenchmarkAtRestCPU" ? "CPU only" : "on redis-server"
		off = p[1] == "BenchmarkAtRestCPU" ? 1 : 2
		size = p[off + 1]; opt = p[off + 2]; op = p[off + 3]
		pos = index(name, "/" opt "/")
		base = substr(name, 1, pos) "plain" substr(name, pos + length(opt) + 1)
		ratios = ""
		for (r = 1; r <= reps[name]; r++) ratios = ratios " " at[name, r] / at[base, r]
		printf "| %s | %s | %s | %s | %.0f | %.2f | %s | %s |\n", bench, size, opt, op, median(ns[name]), median(ratios), allocs[name], stored[name] + 0
	}
	printf "\n%d repetitions; × plain is the median, over the repetitions, of the ratio to the same cell without the options in that repetition.\n", count
}' "$out"
