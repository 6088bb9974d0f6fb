// Command bench measures typedstore export and stats over many sessions,
// side by side with two baselines, in one run: redis-cli --scan piped into
// a pipeline of GETs (redis-cli --pipe, which reads every reply and prints
// none), and the library's Store.All (./all). For each number of sessions
// it starts a redis-server of its own on a free port, seeds the sessions
// in pipelines, then runs every contender as a process, interleaved and
// repeated, and reports the median sessions per second and the median peak
// RSS (getrusage's ru_maxrss of the process; for the redis-cli pipeline,
// the larger of its two processes).
//
// From cmd/typedstore:
//
//	go run ./bench          # 100,000, 300,000 and 1,000,000 sessions
//	go run ./bench -quick   # 20,000 sessions, once: for CI
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

func main() {
	quick := flag.Bool("quick", false, "20,000 sessions, one repetition")
	reps := flag.Int("reps", 3, "repetitions of each contender")
	sizes := flag.String("sizes", "100000,300000,1000000", "numbers of sessions, comma-separated")
	flag.Parse()
	if *quick {
		*sizes, *reps = "20000", 1
	}
	if err := run(*sizes, *reps); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// contender is one program measured: args are run with the server's
// address substituted for {addr} and its port for {port}; its output must
// hold the number of sessions, {n} in want, so that a contender that did
// nothing cannot pass for a fast one.
type contender struct {
	name  string
	shell bool // run args[0] with sh -c: a pipeline of processes
	args  []string
	want  string
}

func run(sizesFlag string, reps int) error {
	dir, err := os.MkdirTemp("", "typedstore-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for _, b := range []struct{ out, pkg string }{{"typedstore", "."}, {"all", "./bench/all"}} {
		if out, err := exec.Command("go", "build", "-o", filepath.Join(dir, b.out), b.pkg).CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	ts, all := filepath.Join(dir, "typedstore"), filepath.Join(dir, "all")
	contenders := []contender{
		// redis-cli's --scan has no COUNT option: it scans with Redis's
		// default of 10 keys a call.
		{"redis-cli --scan, GETs through redis-cli --pipe", true, []string{`redis-cli -p {port} --scan --pattern 'sess:*' | sed 's/^/GET /' | redis-cli -p {port} --pipe`}, "replies: {n}"},
		{"Store.All", false, []string{all, "-addr", "{addr}", "-batch", "1000"}, "{n} "},
		{"typedstore export", false, []string{ts, "export", "-url", "redis://{addr}", "-batch", "1000", "-progress", "none", "-o", os.DevNull}, "exported {n} sessions"},
		{"typedstore stats", false, []string{ts, "stats", "-url", "redis://{addr}", "-batch", "1000", "-progress", "none", "-owner-path", "passport.user", "-json"}, `"sessions":{n},`},
	}
	fmt.Printf("| sessions | contender | sessions/s | ×redis-cli | peak RSS (MiB) |\n|---:|---|---:|---:|---:|\n")
	for _, f := range strings.Split(sizesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("size %q", f)
		}
		if err := measure(dir, n, reps, contenders); err != nil {
			return err
		}
	}
	return nil
}

func measure(dir string, n, reps int, contenders []contender) error {
	srv, addr, err := startRedis(dir)
	if err != nil {
		return err
	}
	defer func() {
		srv.Process.Kill()
		srv.Wait()
	}()
	if err := seed(addr, n); err != nil {
		return err
	}
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	rates := make([][]float64, len(contenders))
	rss := make([][]float64, len(contenders))
	for range reps {
		for i, c := range contenders { // interleaved: one of each per repetition
			args := make([]string, len(c.args))
			for j, a := range c.args {
				args[j] = strings.NewReplacer("{addr}", addr, "{port}", port).Replace(a)
			}
			var cmd *exec.Cmd
			if c.shell {
				cmd = exec.Command("sh", "-c", args[0])
			} else {
				cmd = exec.Command(args[0], args[1:]...)
			}
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			start := time.Now()
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("%s: %v\n%s", c.name, err, out.String())
			}
			elapsed := time.Since(start)
			if want := strings.ReplaceAll(c.want, "{n}", strconv.Itoa(n)); !strings.Contains(out.String(), want) {
				return fmt.Errorf("%s did not report %q:\n%s", c.name, want, out.String())
			}
			rates[i] = append(rates[i], float64(n)/elapsed.Seconds())
			// ru_maxrss in KiB: of the process, or for sh -c, of the
			// largest of its children.
			ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
			rss[i] = append(rss[i], float64(ru.Maxrss)/1024)
		}
	}
	base := median(rates[0])
	for i, c := range contenders {
		fmt.Printf("| %d | %s | %.0f | %.2f | %.1f |\n", n, c.name, median(rates[i]), median(rates[i])/base, median(rss[i]))
	}
	return nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// startRedis starts a redis-server on a free loopback port, keeping
// nothing on disk.
func startRedis(dir string) (*exec.Cmd, string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	addr := l.Addr().String()
	l.Close()
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	for range 100 {
		if c.Ping(context.Background()).Err() == nil {
			return cmd, addr, nil
		}
		time.Sleep(50 * time.Millisecond) // waiting for the server to listen
	}
	cmd.Process.Kill()
	cmd.Wait()
	return nil, "", fmt.Errorf("redis-server did not start on %s", addr)
}

// seed writes n express-session-shaped sessions with random 32-character
// ids, 1,000 to a pipeline.
func seed(addr string, n int) error {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	ctx := context.Background()
	expires := time.Now().Add(24 * time.Hour).UTC().Format("2006-01-02T15:04:05.000Z")
	id := make([]byte, 16)
	for start := 0; start < n; start += 1000 {
		p := c.Pipeline()
		for i := start; i < min(start+1000, n); i++ {
			rand.Read(id)
			v := `{"cookie":{"originalMaxAge":86400000,"expires":"` + expires + `","httpOnly":true,"path":"/"},"passport":{"user":"u` + strconv.Itoa(i%50000) + `"},"cart":[1,2,3]}`
			p.Set(ctx, "sess:"+hex.EncodeToString(id), v, 24*time.Hour)
		}
		if _, err := p.Exec(ctx); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
	}
	return nil
}
