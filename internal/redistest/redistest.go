// Package redistest starts real redis-server processes for tests, on free
// loopback ports, and stops them by pid when the test ends.
//
// Tests that need a real Redis call [Addr]. It returns, in this order, the
// server named by TYPEDSTORE_REDIS_ADDR, or a redis-server that it starts
// from the PATH. When neither is available the test fails if the
// environment requires real servers (see [Required]), and is skipped, with
// the reason, otherwise.
//
// The heavy suites (a cluster, a Sentinel group, servers killed, restarted
// or paused, the Node interop test) call [Heavy] first: they run only when
// TYPEDSTORE_HEAVY=1, as .ci/run sets it, so that a plain go test ./...
// stays quick.
package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// HeavyEnv is the environment variable that turns the heavy suites on
// when set to 1 (see [Heavy]).
const HeavyEnv = "TYPEDSTORE_HEAVY"

// Required reports whether the environment demands real-server tests:
// TYPEDSTORE_REQUIRE_REDIS=1, TYPEDSTORE_HEAVY=1 or CI=true. A test that
// finds what it needs missing (redis-server, node, node_modules) then
// fails instead of being skipped.
func Required() bool {
	return os.Getenv("TYPEDSTORE_REQUIRE_REDIS") == "1" || heavy() || os.Getenv("CI") == "true"
}

func heavy() bool { return os.Getenv(HeavyEnv) == "1" }

// Heavy skips the test unless TYPEDSTORE_HEAVY=1 is set in the
// environment, and skips it with -short in any case. Heavy suites take
// seconds each: they start clusters or Sentinel groups, kill, restart or
// pause servers, or run Node. With TYPEDSTORE_HEAVY=1 they are also
// [Required]: what they need must be there.
func Heavy(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("heavy suite: skipped with -short; run it without -short and with TYPEDSTORE_HEAVY=1 (bash .ci/run does)")
	}
	if !heavy() {
		t.Skip("heavy suite: set TYPEDSTORE_HEAVY=1 to run it (bash .ci/run does)")
	}
}

// Unavailable fails the test when real-Redis tests are required, and skips it
// otherwise.
func Unavailable(t testing.TB, why string) {
	t.Helper()
	if Required() {
		t.Fatalf("real Redis required (TYPEDSTORE_REQUIRE_REDIS=1, TYPEDSTORE_HEAVY=1 or CI=true) but %s", why)
	}
	t.Skipf("skipping real-Redis test: %s (set TYPEDSTORE_REDIS_ADDR or put redis-server on PATH)", why)
}

// Addr returns the address of a real Redis server for the test: the one in
// TYPEDSTORE_REDIS_ADDR, or a private one started for this test. Tests that
// share TYPEDSTORE_REDIS_ADDR must use key prefixes of their own (see
// [UniquePrefix]) and must not flush the database.
func Addr(t testing.TB) string {
	t.Helper()
	if addr := os.Getenv("TYPEDSTORE_REDIS_ADDR"); addr != "" {
		return addr
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		Unavailable(t, "no redis-server on PATH and TYPEDSTORE_REDIS_ADDR is unset")
	}
	return Start(t).Addr
}

// Client returns a go-redis client on [Addr], closed when the test ends.
func Client(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: Addr(t)})
	t.Cleanup(func() { c.Close() })
	if err := c.Ping(context.Background()).Err(); err != nil {
		Unavailable(t, fmt.Sprintf("PING %s: %v", c.Options().Addr, err))
	}
	return c
}

var prefixSeq atomic.Int64

// UniquePrefix returns a key prefix that no other test or process uses.
func UniquePrefix(t testing.TB) string {
	return fmt.Sprintf("typedstore-test:%d:%d:%d:", os.Getpid(), time.Now().UnixNano(), prefixSeq.Add(1))
}

// Server is a redis-server process started for a test.
type Server struct {
	Addr string
	Port int
	Dir  string
	args []string
	cmd  *exec.Cmd
	done chan struct{} // closed when the process has exited
}

// Start starts a redis-server on a free loopback port, with no persistence
// unless args (extra redis-server arguments, such as "--appendonly", "yes")
// say otherwise, and stops it when the test ends.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		Unavailable(t, "no redis-server on PATH")
	}
	s := &Server{Dir: t.TempDir(), args: args}
	var lastErr error
	for range 5 {
		port, err := FreePort(0)
		if err != nil {
			t.Fatal(err)
		}
		s.Port = port
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if lastErr = s.start(bin); lastErr == nil {
			t.Cleanup(s.Stop)
			return s
		}
	}
	t.Fatalf("redistest: start redis-server: %v", lastErr)
	return nil
}

func (s *Server) start(bin string) error {
	args := append([]string{
		"--port", strconv.Itoa(s.Port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.Dir,
		"--logfile", "redis.log", "--daemonize", "no",
	}, s.args...)
	return s.run("redis-server", exec.Command(bin, args...))
}

// run starts cmd, a redis-server process for s, and waits until it answers
// PING on s.Addr, for at most 10 seconds.
func (s *Server) run(what string, cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("%s exited: %s", what, s.logTail())
		default:
		}
		if ping(s.Addr) == nil {
			s.done = done
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Kill()
	<-done
	return fmt.Errorf("%s did not answer PING within 10s", what)
}

// Stop kills the server by pid and waits for its port to close.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
	}
	s.cmd = nil
}

// Pid returns the process id of the running server, or 0.
func (s *Server) Pid() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Restart stops the server and starts it again on the same port and
// directory, with the same arguments.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	bin, _ := exec.LookPath("redis-server")
	var err error
	for range 50 { // the port may linger for a moment
		if err = s.start(bin); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("redistest: restart redis-server: %v", err)
}

func (s *Server) logTail() string {
	f, err := os.Open(s.Dir + "/redis.log")
	if err != nil {
		return "(no log)"
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return strings.Join(lines, "\n")
}

func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// FreePort returns a TCP port on 127.0.0.1 that nothing listens on. When max
// is positive, the port is below max (a Redis Cluster node needs port+10000
// free for its bus, so cluster tests pass 55535).
func FreePort(max int) (int, error) {
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if max <= 0 || port < max {
			return port, nil
		}
	}
	return 0, errors.New("redistest: no free port found")
}

// CommandCalls returns how many times the server behind c has run each
// command, by lower-case name, from INFO commandstats.
func CommandCalls(t testing.TB, c redis.UniversalClient) map[string]int {
	t.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		n, _, _ := strings.Cut(rest, ",")
		calls[strings.TrimPrefix(name, "cmdstat_")], _ = strconv.Atoi(n)
	}
	return calls
}
