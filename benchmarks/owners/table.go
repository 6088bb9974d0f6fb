package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/typedstore/typedstore/benchmarks/internal/harness"
)

// writeListing writes the first table: the median time of each way, its
// round trips and commands per call, and the index way's speed-up.
func writeListing(w io.Writer, n int, ways []way, res map[string][]timed, ratios map[string][]float64) {
	fmt.Fprintf(w, "Listing and deleting the 10 sessions of one user, among %s sessions of %s users:\n\n", harness.Thousands(float64(n)), harness.Thousands(float64(max(n/10, 1))))
	fmt.Fprintln(w, "| task | how | µs | round trips | Redis commands | × faster than SCAN |")
	fmt.Fprintln(w, "|---|---|--:|--:|---|--:|")
	tasks := map[string]string{"list": "list the user's sessions", "delete": "delete them (log out everywhere)"}
	for _, wy := range ways {
		ts := res[wy.name]
		us := make([]float64, len(ts))
		costs := make([]perOp, len(ts))
		for i, t := range ts {
			us[i], costs[i] = t.us, t.cost
		}
		cost := meanPerOp(costs)
		task, name, ratio := "", wy.name, "1×"
		if wy.index {
			task, name, ratio = tasks[wy.task], "**"+wy.name+"**", fmtRatio(ratios[wy.task])
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s |\n", task, name, fmtUs(harness.Median(us)), trimFloat(cost.trips), fmtUsage(cost), ratio)
	}
}

// writeRequests writes the second table: each request with and without
// Owner, at each concurrency.
func writeRequests(w io.Writer, concs []int, res map[cell][]opSample, ratios map[cell][]float64) {
	fmt.Fprintf(w, "\nWhat the index adds to each request, the same store with and without Owner:\n\n")
	fmt.Fprintln(w, "| request | c | store | ops/s | µs/op | allocs/op | B/op | round trips/op | Redis cmds/op | × without Owner |")
	fmt.Fprintln(w, "|---|--:|---|--:|--:|--:|--:|--:|---|--:|")
	for _, req := range requests {
		for _, c := range concs {
			for _, v := range variants {
				ss := res[cell{req.name, c, v}]
				med := func(f func(opSample) float64) float64 { return harness.MedianOf(ss, f) }
				costs := make([]perOp, len(ss))
				for i, s := range ss {
					costs[i] = s.cost
				}
				cost := meanPerOp(costs)
				ratio := "1×"
				if v == withOwner {
					ratio = fmtRatio(ratios[cell{req.name, c, v}])
				}
				fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %.0f | %.0f | %s | %s | %s |\n",
					req.name, c, v,
					harness.Thousands(med(func(s opSample) float64 { return s.opsPerSec })),
					fmtUs(med(func(s opSample) float64 { return s.usPerOp })),
					med(func(s opSample) float64 { return s.allocsOp }),
					med(func(s opSample) float64 { return s.bytesOp }),
					trimFloat(cost.trips), fmtUsage(cost), ratio)
			}
		}
	}
}

// runInfo is what the notes under the tables tell about the run.
type runInfo struct {
	sessions, owners, size, working int
	keys                            int64
	preload, took                   time.Duration
	load0                           string
	in                              *harness.Interference
}

// writeNotes writes what the tables were measured on and how.
func writeNotes(w io.Writer, r runInfo) {
	notes := []string{
		fmt.Sprintf("%s on loopback; %s sessions of %d bytes of JSON, 10 for each of %s users, preloaded in %v with pipelines of SET PX, ZADD and PEXPIRE that leave what a Store with Owner writes (checked with OwnedBy), and the target user's 10 written with Set: %s keys; %s",
			harness.RedisVersion(), harness.Thousands(float64(r.sessions)), r.size, harness.Thousands(float64(r.owners)), r.preload.Round(100*time.Millisecond), harness.Thousands(float64(r.keys)), runMode()),
		fmt.Sprintf("%s; the run took %v", harness.Machine(r.load0), r.took.Round(time.Second)),
		fmt.Sprintf("first table: µs is the wall time of one call: for OwnedBy and DeleteOwned, the median of %d calls in each repetition (before each DeleteOwned, the 10 sessions are written again with Set, untimed); for the SCAN ways, one pass; then the median over the repetitions. × is the SCAN way's time over the index's in the same repetition: the median, and in brackets the lowest and highest", *flagCalls),
		fmt.Sprintf("the SCAN ways: SCAN MATCH %s* COUNT %d over every key, each batch's MGET in the same pipeline as the next SCAN (one round trip per batch), every session decoded with goccy/go-json and the user's kept, then, to delete, one DEL of their keys: a best case of scs's Iterate (one GET per key) and connect-redis's all() (COUNT 100, one MGET of every key), the only ways these stores offer", prefix, scanCount),
		"round trips: counted by a go-redis hook on the client (one per command or pipeline); Redis commands: INFO commandstats deltas per call, those the client sent, and in brackets those that ran inside the script (the deltas less what the client sent)",
		fmt.Sprintf("second table: the same Store (Prefix %q, TTL 24h, JSON) with and without Options.Owner on one client; in each cell, c goroutines call it, the two stores taking turns over %d slices of a %v window, each after %v of warm-up; ops/s and µs/op (window × c ÷ calls) over the windows; allocs/op and B/op: runtime.MemStats deltas over the windows per call, the driver's included; commands per call over warm-ups and windows; × is the throughput with Owner over without it in the same repetition: the median, and in brackets the lowest and highest", prefix, *flagSlices, *flagWindow, *flagWarm/time.Duration(*flagSlices)),
		fmt.Sprintf("write, read and Touch draw at random from %s sessions of as many users that the store with Owner wrote before the first window, so the process knows that their index entries cover the new expiry (they reach an hour past it); read, cold draws from the other %s preloaded sessions, with a store with Owner made afresh for each slice, which knows none of them: the first extending load of a session in a process sends the index script", harness.Thousands(float64(r.working)), harness.Thousands(float64(r.sessions-r.working))),
		interferenceNote(r.in),
	}
	fmt.Fprint(w, "- "+strings.Join(notes, "\n- ")+"\n")
}

// interferenceNote says how much CPU other processes took during the
// measurements, and how many slices of the second table were run again.
func interferenceNote(in *harness.Interference) string {
	return fmt.Sprintf("other processes on the machine used %.2f cores on average during the measurements; of the %d slices of the second table kept, %d were run again because they used more than %.2f, and %d still exceed it",
		in.Mean(), in.Kept, in.Retried, in.MaxForeign, in.Disturbed)
}

// runMode says how many repetitions the run made.
func runMode() string {
	if *flagQuick {
		return "-quick: one repetition of brief windows; a smoke test, not a measurement"
	}
	return fmt.Sprintf("medians of %d interleaved repetitions", *flagReps)
}
