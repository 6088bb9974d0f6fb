package main

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
	"time"

	"github.com/redis/go-redis/v9"
)

// server is the private redis-server of a run, on a free loopback port.
type server struct {
	addr string
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// startServer starts redis-server from the PATH on a free port of
// 127.0.0.1, without persistence, and waits until it answers PING.
func startServer() (*server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, errors.New("redis-server is not on the PATH")
	}
	dir, err := os.MkdirTemp("", "typedstore-bench-redis-")
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &server{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir}
		s.cmd = exec.Command(bin,
			"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir,
			"--logfile", "redis.log", "--daemonize", "no", "--databases", "4")
		if err := s.cmd.Start(); err != nil {
			return nil, err
		}
		s.done = make(chan struct{})
		go func() { s.cmd.Wait(); close(s.done) }()
		if lastErr = s.waitReady(); lastErr == nil {
			return s, nil
		}
		s.stop()
	}
	os.RemoveAll(dir)
	return nil, fmt.Errorf("start redis-server: %w", lastErr)
}

func (s *server) waitReady() error {
	c := redis.NewClient(&redis.Options{Addr: s.addr, MaxRetries: -1})
	defer c.Close()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case <-s.done:
			return errors.New("redis-server exited")
		default:
		}
		if c.Ping(context.Background()).Err() == nil {
			return nil
		}
	}
	return errors.New("redis-server did not answer PING within 10s")
}

// stop kills the server by its pid, waits for it, and removes its directory.
func (s *server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
		}
	}
	os.RemoveAll(s.dir)
}

func (s *server) pid() int { return s.cmd.Process.Pid }

func freePort() (int, error) {
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if port != 6379 {
			return port, nil
		}
	}
	return 0, errors.New("no free port")
}

// adminCommands are the commands that set up connections or read the
// statistics, left out of the counts of commands per operation.
var adminCommands = map[string]bool{
	"info": true, "ping": true, "hello": true, "client|setinfo": true, "client|setname": true,
	"client": true, "select": true, "command": true, "command|docs": true, "auth": true,
}

// commandCalls returns the server's count of calls of each command so far
// (INFO commandstats), less the admin commands.
func commandCalls(ctx context.Context, c *redis.Client) (map[string]int64, error) {
	info, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, err
	}
	calls := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		name, rest, ok := strings.Cut(line, ":calls=")
		if !ok {
			continue
		}
		name = strings.TrimPrefix(name, "cmdstat_")
		if adminCommands[name] {
			continue
		}
		n, _, _ := strings.Cut(rest, ",")
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("commandstats line %q: %w", line, err)
		}
		calls[name] = v
	}
	return calls, nil
}

// diffCalls returns after - before, leaving out commands not called.
func diffCalls(before, after map[string]int64) map[string]int64 {
	d := map[string]int64{}
	for k, v := range after {
		if n := v - before[k]; n > 0 {
			d[k] = n
		}
	}
	return d
}
