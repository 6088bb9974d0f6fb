// Command benchmarks compares typedstore with raw go-redis, scs with its
// go-redis store, the gorilla redisstore and connect-redis on Node, against
// one private redis-server, and prints one Markdown table.
//
//	bash run.sh            # installs the pinned npm packages, then: go run .
//	go run . -reps 5       # more repetitions
//	go run . -quick        # every cell once, briefly: a smoke test (< 60 s)
//
// It starts redis-server (from the PATH) on a free loopback port, preloads
// -sessions sessions of about 500 bytes of JSON, and runs, for -reps
// repetitions, every workload at every concurrency for every contender, in
// an order that rotates from one repetition to the next. Each cell runs its
// callers for a warm-up, then counts the operations completed in a fixed
// window. The table shows medians over the repetitions; the ratio is the
// contender's throughput over raw go-redis + goccy/go-json's in the same
// workload and repetition.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore/benchmarks/internal/harness"
)

var (
	flagQuick    = flag.Bool("quick", false, "run every cell once, briefly, on 5,000 sessions: a smoke test")
	flagReps     = flag.Int("reps", 5, "repetitions; the table shows medians")
	flagWindow   = flag.Duration("window", 400*time.Millisecond, "measured time of each cell")
	flagWarm     = flag.Duration("warm", 80*time.Millisecond, "warm-up before each cell's window")
	flagSessions = flag.Int("sessions", 100_000, "sessions preloaded")
	flagConc     = flag.String("c", "1,32,256", "concurrencies (goroutines, or Node async callers)")
	flagOnly     = flag.String("only", "", "comma-separated workloads to run (default: all of them)")
	flagNoNode   = flag.Bool("nonode", false, "leave out connect-redis")
	flagNodeDir  = flag.String("nodedir", "node", "directory of bench.mjs and its node_modules")
	flagOut      = flag.String("o", "", "also write the table to this file")
	flagSVG      = flag.String("svg", "", "also draw the table's ratios as an SVG chart in this file")
	flagForeign  = flag.Float64("maxforeign", 0.25, "run a window again when other processes used more than this many cores during it")
	flagRetries  = flag.Int("retries", 3, "the most times a disturbed window is run again; the least disturbed run is kept")
	flagCPUProf  = flag.String("cpuprofile", "", "write a CPU profile of the Go side of the whole run to this file")
)

// baseline is the contender that ratios are relative to.
const baseline = "raw go-redis + goccy"

// sample is one cell's measurement in one repetition.
type sample struct {
	opsPerSec  float64
	usPerOp    float64 // mean latency of one call (for "all": time per session)
	allocsOp   float64 // Go only; -1 when not measured
	bytesOp    float64
	cmdsPerOp  float64 // Redis commands per operation, from INFO commandstats
	cmdDetail  map[string]float64
	ratio      float64
	iterations int     // for "all": passes
	peakHeap   float64 // for "all": the live heap's growth halfway through the pass, in bytes; -1 when not measured
}

type cellKey struct {
	w    workload
	c    int
	name string
}

func main() {
	flag.Parse()
	// run.sh runs the driver in its own directory: take the output files
	// relative to the directory run.sh was called from.
	if dir := os.Getenv("BENCHMARKS_CALLER_DIR"); dir != "" {
		for _, p := range []*string{flagOut, flagSVG, flagCPUProf} {
			if *p != "" && !filepath.IsAbs(*p) {
				*p = filepath.Join(dir, *p)
			}
		}
	}
	if *flagQuick {
		*flagReps = 1
		*flagWindow = 60 * time.Millisecond
		*flagWarm = 20 * time.Millisecond
		if !harness.FlagGiven("sessions") {
			*flagSessions = 5000
		}
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchmarks:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	stopProfile, err := harness.StartCPUProfile(*flagCPUProf)
	if err != nil {
		return err
	}
	defer stopProfile()
	load0 := harness.LoadAvg()
	concs, err := harness.Concurrencies(*flagConc)
	if err != nil {
		return err
	}
	workloads := []workload{wLoad, wSave, wTouch, wLoadTouch, wAll}
	if *flagOnly != "" {
		known := workloads
		workloads = nil
		for _, f := range strings.Split(*flagOnly, ",") {
			w := workload(strings.TrimSpace(f))
			if !slices.Contains(known, w) {
				return fmt.Errorf("-only: unknown workload %q (want some of %v)", w, known)
			}
			workloads = append(workloads, w)
		}
	}

	srv, err := harness.StartServer()
	if err != nil {
		return err
	}
	defer srv.Stop()
	harness.Logf("redis-server pid %d on %s", srv.Pid(), srv.Addr)

	ids := makeIDs(*flagSessions)
	sess := newSession(time.Now())
	jsonData, err := goccyJSON.marshal(sess)
	if err != nil {
		return err
	}
	start := time.Now()
	if err := preload(ctx, srv.Addr, ids, sess, jsonData); err != nil {
		return err
	}
	harness.Logf("preloaded %d sessions of %d bytes of JSON in 3 databases in %v", len(ids), len(jsonData), time.Since(start).Round(time.Millisecond))

	currentIDs = ids
	e := &env{addr: srv.Addr, sess: sess, jsonData: jsonData, ids: ids, workers: slices.Max(concs)}
	contenders := []*contender{
		newRaw(e, "raw go-redis + encoding/json", stdJSON, false),
		newRaw(e, baseline, goccyJSON, true),
	}
	for _, v := range typedstoreVariants {
		c, err := newTypedstore(e, v.name, v.set, v.all)
		if err != nil {
			return err
		}
		contenders = append(contenders, c)
	}
	contenders = append(contenders, newSCS(e))
	g, err := newGorilla(e)
	if err != nil {
		return err
	}
	contenders = append(contenders, g)
	var skipped []string
	var nodeVersion string
	if !*flagNoNode {
		n, err := startNode(*flagNodeDir, srv.Addr, ids, jsonData)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("connect-redis: %v", err))
			harness.Logf("connect-redis left out: %v", err)
		} else {
			defer n.stop()
			nodeVersion = n.version
			contenders = append(contenders, &contender{
				name:  "connect-redis (Node)",
				node:  n,
				notes: map[workload]string{wLoadTouch: "get, then touch: GET, then EXPIRE", wAll: "all(): SCAN every key, then one MGET of all"},
			})
		}
	}
	defer func() {
		for _, c := range contenders {
			if c.close != nil {
				c.close()
			}
		}
	}()

	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer admin.Close()
	watch := &harness.CPUWatch{Pids: []int{srv.Pid()}}
	for _, ct := range contenders {
		if ct.node != nil {
			watch.Pids = append(watch.Pids, ct.node.cmd.Process.Pid)
		}
	}
	interference := &harness.Interference{Watch: watch, MaxForeign: *flagForeign, Retries: *flagRetries}

	results := map[cellKey][]sample{}
	begin := time.Now()
	for rep := range *flagReps {
		for _, w := range workloads {
			cs := concs
			if w == wAll {
				cs = []int{1}
			}
			for _, c := range cs {
				// Rotate the order of the contenders from one repetition and
				// cell to the next, so that none always runs first or last.
				order := slices.Clone(contenders)
				shift := (rep + len(results)) % len(order)
				order = append(order[shift:], order[:shift]...)
				row := map[string]sample{}
				for _, ct := range order {
					if !ct.has(w) {
						continue
					}
					// Run the window again, up to -retries times, while other
					// processes took CPU from it; keep the least disturbed.
					best, _, err := harness.LeastDisturbed(interference, func() (sample, error) {
						return measure(ctx, admin, ct, w, c, len(ids))
					})
					if err != nil {
						return fmt.Errorf("%s, %s, c=%d: %w", ct.name, w, c, err)
					}
					row[ct.name] = best
				}
				base, ok := row[baseline]
				for name, s := range row {
					if ok && base.opsPerSec > 0 {
						s.ratio = s.opsPerSec / base.opsPerSec
					}
					k := cellKey{w, c, name}
					results[k] = append(results[k], s)
				}
			}
		}
		harness.Logf("repetition %d of %d done (%v)", rep+1, *flagReps, time.Since(begin).Round(time.Second))
	}

	var out strings.Builder
	writeTable(&out, results, contenders, workloads, concs)
	writeVersus(&out, results, workloads, concs)
	fmt.Fprintf(&out, "\n%s\n", describe(len(ids), len(jsonData), nodeVersion, load0))
	fmt.Fprintf(&out, "- other processes on the machine used %.2f cores on average during the %d windows kept; %d windows were run again because they used more than %.2f; %d kept windows still exceed it\n",
		interference.Mean(), interference.Kept, interference.Retried, *flagForeign, interference.Disturbed)
	for _, s := range skipped {
		fmt.Fprintf(&out, "\nNot measured: %s\n", s)
	}
	fmt.Print(out.String())
	if *flagOut != "" {
		if err := os.WriteFile(*flagOut, []byte(out.String()), 0o644); err != nil {
			return err
		}
	}
	if *flagSVG != "" {
		note := fmt.Sprintf("other processes on the machine used %.2f cores on average during the windows kept; %d of %d exceed -maxforeign %.2f",
			interference.Mean(), interference.Disturbed, interference.Kept, *flagForeign)
		notes := chartNotes(harness.RedisVersion(), len(ids), len(jsonData), nodeVersion, note)
		if err := writeChart(*flagSVG, results, contenders, workloads, concs, notes); err != nil {
			return err
		}
		harness.Logf("chart written to %s", *flagSVG)
	}
	return nil
}

func (c *contender) has(w workload) bool {
	if c.node != nil {
		return true
	}
	if w == wAll {
		return c.all != nil
	}
	return c.ops[w] != nil
}

// measure runs one cell: contender ct on workload w at concurrency c.
func measure(ctx context.Context, admin *redis.Client, ct *contender, w workload, c, sessions int) (sample, error) {
	runtime.GC() // do not bill this cell for the garbage of the previous one
	before, err := harness.CommandCalls(ctx, admin)
	if err != nil {
		return sample{}, err
	}
	var s sample
	var total int64
	switch {
	case ct.node != nil:
		r, err := ct.node.run(w, c, *flagWarm, *flagWindow)
		if err != nil {
			return sample{}, err
		}
		s = rate(r.Ops, r.Seconds, c)
		s.allocsOp, s.bytesOp = -1, -1
		total = r.Total
		if w == wAll {
			if r.Ops != int64(sessions) {
				return sample{}, fmt.Errorf("all() returned %d sessions; want %d", r.Ops, sessions)
			}
			s = rate(r.Ops, r.Seconds, 1)
			s.allocsOp, s.bytesOp = -1, -1
			s.iterations = 1
			s.peakHeap = -1
		}
	case w == wAll:
		s, total, err = measureAll(ctx, ct, sessions)
	default:
		s, total, err = measureOps(ctx, ct.ops[w], c)
	}
	if err != nil {
		return sample{}, err
	}
	after, err := harness.CommandCalls(ctx, admin)
	if err != nil {
		return sample{}, err
	}
	if w == wAll {
		total = 1 // commands per pass, not per session
	}
	if total > 0 {
		s.cmdDetail = map[string]float64{}
		for name, n := range harness.DiffCalls(before, after) {
			s.cmdDetail[name] = float64(n) / float64(total)
			s.cmdsPerOp += float64(n) / float64(total)
		}
	}
	return s, nil
}

func rate(ops int64, seconds float64, c int) sample {
	if ops == 0 || seconds <= 0 {
		return sample{}
	}
	return sample{opsPerSec: float64(ops) / seconds, usPerOp: seconds * 1e6 * float64(c) / float64(ops)}
}

// measureOps runs op from c goroutines, each on ids drawn at random: a
// warm-up, then a window in which completed calls, allocations and time are
// counted. It also returns the number of calls made in all, warm-up
// included, to turn Redis's command counts into commands per call.
func measureOps(ctx context.Context, op opFunc, c int) (sample, int64, error) {
	ids := currentIDs
	win, err := harness.RunCallers(c, *flagWarm, *flagWindow, func(g int, r *rand.Rand) error {
		return op(ctx, g, ids[r.IntN(len(ids))])
	})
	if err != nil {
		return sample{}, 0, err
	}
	s := rate(win.Measured, win.Elapsed.Seconds(), c)
	if win.Measured > 0 {
		s.allocsOp = float64(win.Mallocs) / float64(win.Measured)
		s.bytesOp = float64(win.Bytes) / float64(win.Measured)
	}
	return s, win.Total, nil
}

// currentIDs are the preloaded ids that measureOps draws from.
var currentIDs []string

// measureAll times one full iteration over every session; the per-operation
// figures are per session.
func measureAll(ctx context.Context, ct *contender, sessions int) (sample, int64, error) {
	// Halfway through the pass, collect garbage and weigh the live heap, to
	// show what the iteration holds on to: it should not grow with the
	// number of sessions. The collection's time is not counted.
	runtime.GC()
	base := liveHeap()
	var held uint64
	var paused time.Duration
	seen := 0
	each := func() {
		if seen++; seen == sessions/2 {
			t := time.Now()
			runtime.GC()
			held = max(liveHeap(), base) - base
			paused = time.Since(t)
		}
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	t0 := time.Now()
	n, err := ct.all(ctx, each)
	elapsed := time.Since(t0) - paused
	runtime.ReadMemStats(&m1)
	if err != nil {
		return sample{}, 0, err
	}
	if n != sessions {
		return sample{}, 0, fmt.Errorf("saw %d sessions; want %d", n, sessions)
	}
	s := rate(int64(n), elapsed.Seconds(), 1)
	s.allocsOp = float64(m1.Mallocs-m0.Mallocs) / float64(n)
	s.bytesOp = float64(m1.TotalAlloc-m0.TotalAlloc) / float64(n)
	s.iterations = 1
	s.peakHeap = float64(held)
	return s, int64(n), nil
}

// liveHeap returns the bytes of heap objects; right after a collection, the
// live heap.
func liveHeap() uint64 {
	m := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(m)
	return m[0].Value.Uint64()
}

// writeTable writes the Markdown table of medians.
func writeTable(w io.Writer, results map[cellKey][]sample, contenders []*contender, workloads []workload, concs []int) {
	fmt.Fprintln(w, "| workload | c | contender | ops/s | µs/op | allocs/op | B/op | Redis cmds/op | × raw goccy | notes |")
	fmt.Fprintln(w, "|---|--:|---|--:|--:|--:|--:|---|--:|---|")
	for _, wl := range workloads {
		cs := concs
		if wl == wAll {
			cs = []int{1}
		}
		for _, c := range cs {
			for _, ct := range contenders {
				ss := results[cellKey{wl, c, ct.name}]
				if len(ss) == 0 {
					continue
				}
				ops := harness.MedianOf(ss, func(s sample) float64 { return s.opsPerSec })
				us := harness.MedianOf(ss, func(s sample) float64 { return s.usPerOp })
				allocs, bytes := "–", "–"
				if ss[0].allocsOp >= 0 {
					allocs = fmt.Sprintf("%.0f", harness.MedianOf(ss, func(s sample) float64 { return s.allocsOp }))
					bytes = fmt.Sprintf("%.0f", harness.MedianOf(ss, func(s sample) float64 { return s.bytesOp }))
				}
				ratio := fmt.Sprintf("%.2f×", harness.MedianOf(ss, func(s sample) float64 { return s.ratio }))
				if len(ss) > 1 && ct.name != baseline {
					lo := slices.MinFunc(ss, func(a, b sample) int { return cmp.Compare(a.ratio, b.ratio) }).ratio
					hi := slices.MaxFunc(ss, func(a, b sample) int { return cmp.Compare(a.ratio, b.ratio) }).ratio
					ratio += fmt.Sprintf(" (%.2f–%.2f)", lo, hi)
				}
				note := ct.notes[wl]
				if wl == wAll && ss[0].peakHeap >= 0 {
					peak := harness.MedianOf(ss, func(s sample) float64 { return s.peakHeap })
					note = strings.TrimPrefix(note+fmt.Sprintf("; holds %.1f MB halfway", peak/1e6), "; ")
				}
				name := ct.name
				if ct.name == baseline {
					name = "**" + name + "**"
				}
				fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n",
					wl, c, name, harness.Thousands(ops), harness.Micros(us), allocs, bytes, fmtCmds(ss), ratio, note)
			}
		}
	}
}

// versus are the pairs of contenders that writeVersus compares.
var versus = []struct{ name, of, title string }{
	{"typedstore", "connect-redis (Node)", "× connect-redis"},
	{"typedstore", "typedstore DisablePipelining", "× DisablePipelining"},
}

// writeVersus writes a second table: for each cell, typedstore's throughput
// over that of each contender in versus, taken within each repetition (the
// median, and in brackets the lowest and highest).
func writeVersus(w io.Writer, results map[cellKey][]sample, workloads []workload, concs []int) {
	var b strings.Builder
	for _, wl := range workloads {
		if wl == wAll {
			continue
		}
		for _, c := range concs {
			row := fmt.Sprintf("| %s | %d |", wl, c)
			found := false
			for _, v := range versus {
				a, o := results[cellKey{wl, c, v.name}], results[cellKey{wl, c, v.of}]
				if len(a) == 0 || len(a) != len(o) {
					row += " – |"
					continue
				}
				ratios := make([]float64, len(a))
				for i := range a {
					ratios[i] = a[i].opsPerSec / o[i].opsPerSec
				}
				slices.Sort(ratios)
				row += fmt.Sprintf(" %.2f× (%.2f–%.2f) |", harness.Median(ratios), ratios[0], ratios[len(ratios)-1])
				found = true
			}
			if found {
				fmt.Fprintln(&b, row)
			}
		}
	}
	if b.Len() == 0 {
		return
	}
	fmt.Fprintf(w, "\nThroughput of typedstore (pipelined, the default) over that of another contender, within each repetition:\n\n| workload | c |")
	for _, v := range versus {
		fmt.Fprintf(w, " %s |", v.title)
	}
	fmt.Fprintf(w, "\n|---|--:|%s\n%s", strings.Repeat("--:|", len(versus)), b.String())
}

// fmtCmds shows the commands per operation, by name, from the last
// repetition, the most frequent first: "GET 1, EXPIRE 1".
func fmtCmds(ss []sample) string {
	d := ss[len(ss)-1].cmdDetail
	return harness.Commands(d, func(a, b string) int { return cmp.Compare(d[b], d[a]) }, harness.Decimal)
}

// describe says what the table was measured on.
func describe(sessions, size int, nodeVersion, load0 string) string {
	parts := []string{
		fmt.Sprintf("%s; %d sessions of %d bytes of JSON preloaded; %s", harness.RedisVersion(), sessions, size, runMode()),
		harness.Machine(load0),
	}
	if nodeVersion != "" {
		parts = append(parts, nodeVersion)
	}
	parts = append(parts,
		"µs/op is the mean latency of one call (window × c ÷ ops); for \"all\", ops are sessions and µs/op is per session",
		"allocs/op and B/op: Go heap allocations per call over the window (runtime.MemStats), the driver's included; – for Node",
		"Redis cmds/op: INFO commandstats deltas per call (warm-up included); for \"all\", per pass over every session",
		"× raw goccy: throughput over raw go-redis + goccy/go-json in the same workload and repetition: the median of the ratios, and in brackets the lowest and highest",
		"holds … halfway: for \"all\", how much the live Go heap has grown halfway through a pass (after a forced collection, whose time is not counted): what the iteration keeps")
	return "- " + strings.Join(parts, "\n- ")
}

// runMode says how many repetitions of what windows the run made.
func runMode() string {
	if *flagQuick {
		return "-quick: one repetition of very short windows; a smoke test, not a measurement"
	}
	return fmt.Sprintf("medians of %d interleaved repetitions, %v window after %v warm-up per cell", *flagReps, *flagWindow, *flagWarm)
}

// chartNotes are the lines under the chart: what it was measured on, and
// the command that measures it again.
func chartNotes(redis string, sessions, size int, nodeVersion, interference string) []string {
	var args []string
	flag.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "o", "svg", "cpuprofile", "nodedir":
			return
		}
		if f.Value.String() == "true" {
			args = append(args, "-"+f.Name)
			return
		}
		args = append(args, "-"+f.Name+" "+f.Value.String())
	})
	cmd := strings.Join(append([]string{"bash benchmarks/run.sh"}, args...), " ")
	node := ""
	if nodeVersion != "" {
		node = "; " + nodeVersion
	}
	return []string{
		fmt.Sprintf("%s on loopback; %s, %d CPUs, %s/%s%s", redis, runtime.Version(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, node),
		fmt.Sprintf("%d sessions of %d bytes of JSON; %s", sessions, size, runMode()),
		strings.ToUpper(interference[:1]) + interference[1:],
		"c: concurrent callers. Each bar: the median over the repetitions of the contender's throughput over the baseline's in the same repetition.",
		"Measured with: " + cmd + " (benchmarks/README.md has the table)",
	}
}
