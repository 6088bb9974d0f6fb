// Command web compares four web stacks under HTTP load, request for
// request, on one redis-server: net/http with httpsession on typedstore,
// Express with express-session and connect-redis, net/http with scs on
// goredisstore, and net/http with gorilla/sessions on rbcervilla/redisstore.
// Each stack runs as a process of its own; a load generator in this
// process sends the same four flows (see stacks.go) over loopback from 1,
// 32 and 256 clients, each with its own cookie, and measures requests per
// second, the median and 99th-percentile latency, the Redis commands per
// request (INFO commandstats) and the server's CPU per request (/proc).
// The stacks take turns, in a rotating order, for every cell, and every
// cell is measured -reps times; the table gives medians and ratios.
//
//	cd benchmarks && go run ./web              # the full run
//	cd benchmarks && go run ./web -quick       # every cell once, briefly
//	cd benchmarks && go run ./web -o table.md -svg web.svg
//
// It needs node and the packages of benchmarks/node (npm ci there) for the
// Express stack; without them it stops, unless -skip-express.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore/benchmarks/internal/harness"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-serve" {
		if len(os.Args) != 5 {
			fmt.Fprintln(os.Stderr, "usage: web -serve STACK ADDR REDIS")
			os.Exit(2)
		}
		if err := serve(os.Args[2], os.Args[3], os.Args[4]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	quick := flag.Bool("quick", false, "every cell once, briefly: a smoke test")
	reps := flag.Int("reps", 3, "measurements of every cell")
	window := flag.Duration("window", 2*time.Second, "length of a measurement")
	warm := flag.Duration("warm", 500*time.Millisecond, "warm-up before each measurement")
	conc := flag.String("c", "1,32,256", "concurrent clients")
	out := flag.String("o", "", "write the Markdown table to this file too")
	svg := flag.String("svg", "", "write the chart (SVG) to this file")
	skipExpress := flag.Bool("skip-express", false, "leave out Express (no node)")
	flag.Parse()
	if *quick {
		*reps, *window, *warm = 1, 300*time.Millisecond, 100*time.Millisecond
		if !harness.FlagGiven("c") {
			*conc = "1,32"
		}
	}
	cs, err := harness.Concurrencies(*conc)
	if err != nil {
		fail(err)
	}
	r, err := run(cs, *reps, *warm, *window, !*skipExpress)
	if err != nil {
		fail(err)
	}
	table := r.table()
	fmt.Print(table)
	if *out != "" {
		if err := os.WriteFile(callerPath(*out), []byte(table), 0o644); err != nil {
			fail(err)
		}
	}
	if *svg != "" {
		if err := os.WriteFile(callerPath(*svg), []byte(r.chart()), 0o644); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "web:", err)
	os.Exit(1)
}

// callerPath is p relative to the directory run.sh was called from, when
// it set one.
func callerPath(p string) string {
	if dir := os.Getenv("BENCHMARKS_CALLER_DIR"); dir != "" && !filepath.IsAbs(p) {
		return filepath.Join(dir, p)
	}
	return p
}

// The flows, in the table's order.
var flows = []flow{
	{"anonymous page", "GET", "/anon", false},
	{"logged-in read", "GET", "/me", true},
	{"session change", "POST", "/cart", true},
	{"login", "POST", "/login", true},
}

type flow struct {
	name, method, path string
	loggedIn           bool // each client logs in first
}

// stack is one server process.
type stack struct {
	name string
	base string
	cmd  *exec.Cmd
}

// stackNames are the stacks, typedstore's first.
var stackNames = []string{"typedstore", "express", "scs", "gorilla"}

// start starts the stack's server on a free port, and waits until it
// says it listens.
func start(name, redisAddr string) (*stack, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	var cmd *exec.Cmd
	if name == "express" {
		cmd = exec.Command("node", "node/web.mjs", fmt.Sprint(port), "redis://"+redisAddr)
	} else {
		self, err := os.Executable()
		if err != nil {
			return nil, err
		}
		cmd = exec.Command(self, "-serve", name, addr, redisAddr)
	}
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && strings.TrimSpace(line) != "listening" {
			err = fmt.Errorf("%s said %q", name, line)
		}
		ready <- err
		io.Copy(io.Discard, stdout)
	}()
	select {
	case err := <-ready:
		if err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("%s did not listen within 30 s", name)
	}
	return &stack{name: name, base: "http://" + addr, cmd: cmd}, nil
}

func (s *stack) stop() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// cell is one measurement of one stack.
type cell struct {
	rps, p50, p99 float64 // requests/s; µs
	cmds          float64 // Redis commands per request
	cpu           float64 // the server's CPU µs per request
}

// results holds every measurement: by flow, concurrency and stack.
type results struct {
	cs     []int
	stacks []string
	cells  map[string][]cell // flow|c|stack
	notes  []string
}

func key(f string, c int, s string) string { return fmt.Sprintf("%s|%d|%s", f, c, s) }

func run(cs []int, reps int, warm, window time.Duration, withExpress bool) (*results, error) {
	load := harness.LoadAvg()
	srv, err := harness.StartServer()
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer admin.Close()
	names := stackNames
	if !withExpress {
		names = slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == "express" })
	}
	var stacks []*stack
	defer func() {
		for _, s := range stacks {
			s.stop()
		}
	}()
	for _, n := range names {
		s, err := start(n, srv.Addr)
		if err != nil {
			return nil, err
		}
		stacks = append(stacks, s)
	}
	r := &results{cs: cs, stacks: names, cells: map[string][]cell{}}
	for rep := range reps {
		for _, f := range flows {
			for _, c := range cs {
				for i := range stacks {
					s := stacks[(i+rep)%len(stacks)] // a rotating order
					m, err := measure(admin, s, f, c, warm, window)
					if err != nil {
						return nil, fmt.Errorf("%s, %s, c=%d: %w", s.name, f.name, c, err)
					}
					k := key(f.name, c, s.name)
					r.cells[k] = append(r.cells[k], m)
					harness.Logf("%-10s %-15s c=%-3d %8.0f req/s  p50 %6.0f µs  p99 %7.0f µs  %.2f cmds  %5.0f µs CPU", s.name, f.name, c, m.rps, m.p50, m.p99, m.cmds, m.cpu)
				}
			}
		}
	}
	r.notes = append(r.notes, harness.Machine(load), harness.RedisVersion())
	return r, nil
}

// client is one browser: its cookies, by name.
type client struct {
	cookies map[string]string
}

func (cl *client) do(hc *http.Client, method, url string) error {
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		return err
	}
	for n, v := range cl.cookies {
		req.AddCookie(&http.Cookie{Name: n, Value: v})
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s", method, url, res.Status)
	}
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 {
			delete(cl.cookies, c.Name)
		} else {
			cl.cookies[c.Name] = c.Value
		}
	}
	return nil
}

// measure runs flow f on stack s from c clients: a warm-up, then a window
// in which it counts the requests and keeps their latencies.
func measure(admin *redis.Client, s *stack, f flow, c int, warm, window time.Duration) (cell, error) {
	ctx := context.Background()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c, MaxConnsPerHost: c, IdleConnTimeout: time.Minute}}
	defer hc.CloseIdleConnections()
	clients := make([]*client, c)
	for i := range clients {
		clients[i] = &client{cookies: map[string]string{}}
		if f.loggedIn {
			if err := clients[i].do(hc, "POST", s.base+"/login"); err != nil {
				return cell{}, err
			}
		}
	}
	cmds0, err := harness.CommandCalls(ctx, admin)
	if err != nil {
		return cell{}, err
	}
	cpu0 := procCPU(s.cmd.Process.Pid)
	var phase atomic.Int32 // 0 warm-up, 1 measuring, 2 stop
	var total atomic.Int64
	lat := make([][]time.Duration, c)
	errs := make([]error, c)
	var wg sync.WaitGroup
	for i := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				p := phase.Load()
				if p == 2 {
					return
				}
				t0 := time.Now()
				if err := clients[i].do(hc, f.method, s.base+f.path); err != nil {
					errs[i] = err
					phase.Store(2)
					return
				}
				total.Add(1)
				if p == 1 {
					lat[i] = append(lat[i], time.Since(t0))
				}
			}
		}()
	}
	time.Sleep(warm)
	t0 := time.Now()
	phase.CompareAndSwap(0, 1)
	time.Sleep(window)
	phase.CompareAndSwap(1, 2)
	elapsed := time.Since(t0)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return cell{}, err
	}
	cpu1 := procCPU(s.cmd.Process.Pid)
	cmds1, err := harness.CommandCalls(ctx, admin)
	if err != nil {
		return cell{}, err
	}
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return cell{}, errors.New("no request completed in the window")
	}
	slices.Sort(all)
	n := float64(total.Load())
	var cmds int64
	for name, d := range harness.DiffCalls(cmds0, cmds1) {
		if !harness.AdminCommand(name) {
			cmds += d
		}
	}
	return cell{
		rps:  float64(len(all)) / elapsed.Seconds(),
		p50:  micros(all[len(all)/2]),
		p99:  micros(all[min(len(all)-1, len(all)*99/100)]),
		cmds: float64(cmds) / n,
		cpu:  float64(cpu1-cpu0) * 1e6 / clockTicks / n,
	}, nil
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// clockTicks is the unit of harness.ProcTime (USER_HZ).
const clockTicks = 100

// procCPU returns the user and system time of the process pid, in clock
// ticks.
func procCPU(pid int) uint64 { return harness.ProcTime(strconv.Itoa(pid)) }
