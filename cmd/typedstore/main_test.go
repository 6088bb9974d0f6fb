package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore/internal/redistest"
)

// binary is the typedstore command built for the tests, which run it as a
// process, as an operator would.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "typedstore-cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "typedstore")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what a run of the command printed, and its exit status.
type result struct {
	stdout, stderr string
	code           int
}

// cli runs the command with args, stdin as its input, and TYPEDSTORE_URL
// set to url.
func cli(t *testing.T, url, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = append(os.Environ(), "TYPEDSTORE_URL="+url)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	r := result{out.String(), errOut.String(), 0}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("typedstore %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// ok runs the command and fails the test unless it exits with status 0.
func ok(t *testing.T, url string, args ...string) result {
	t.Helper()
	r := cli(t, url, "", args...)
	if r.code != 0 {
		t.Fatalf("typedstore %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// fails runs the command and checks that it exits with status code and a
// one-line message on stderr that contains want and none of secrets.
func fails(t *testing.T, url string, code int, want string, secrets []string, args ...string) result {
	t.Helper()
	r := cli(t, url, "", args...)
	if r.code != code {
		t.Fatalf("typedstore %s: exit %d; want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, want) {
		t.Errorf("typedstore %s: stderr %q; want a line with %q", strings.Join(args, " "), r.stderr, want)
	}
	for _, s := range secrets {
		if strings.Contains(r.stderr, s) {
			t.Errorf("typedstore %s: stderr %q repeats %q", strings.Join(args, " "), r.stderr, s)
		}
	}
	return r
}

// server starts a private redis-server, so that the tests may count the
// commands it received, and returns its URL and a client on it.
func server(t *testing.T) (string, *redis.Client) {
	t.Helper()
	s := redistest.Start(t)
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { c.Close() })
	return "redis://" + s.Addr, c
}

// seed writes n sessions under prefix, in pipelines: session i belongs to
// owner u(i%owners), is expressSession-shaped, and lives ttl.
func seed(t testing.TB, c redis.UniversalClient, prefix string, n, owners int, ttl time.Duration) {
	t.Helper()
	ctx := context.Background()
	const batch = 1000
	for start := 0; start < n; start += batch {
		p := c.Pipeline()
		for i := start; i < min(start+batch, n); i++ {
			p.Set(ctx, fmt.Sprintf("%sid%07d", prefix, i), sessionJSON(i, owners, ttl), ttl)
		}
		if _, err := p.Exec(ctx); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
}

// sessionJSON returns the stored JSON of session i, shaped as
// express-session stores it, with a passport user.
func sessionJSON(i, owners int, ttl time.Duration) string {
	return fmt.Sprintf(`{"cookie":{"originalMaxAge":%d,"expires":"%s","httpOnly":true,"path":"/"},"passport":{"user":"u%d"},"cart":[%d]}`,
		ttl.Milliseconds(), time.Now().Add(ttl).UTC().Format("2006-01-02T15:04:05.000Z"), i%owners, i)
}

// commandCalls returns how many times the server ran each command.
func commandCalls(t *testing.T, c *redis.Client) map[string]int {
	t.Helper()
	return redistest.CommandCalls(t, c)
}
