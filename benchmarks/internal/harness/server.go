package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// A Server is a private redis-server started by [StartServer], listening on
// Addr until [Server.Stop].
type Server struct {
	Addr string // host:port on 127.0.0.1

	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

// StartServer starts redis-server from the PATH on a free port of
// 127.0.0.1 (never 6379), without persistence (no RDB, no AOF) and with 4
// databases, in a temporary directory that holds only its log, and waits
// until it answers PING. It tries up to 5 ports, in case another process
// takes a port between the moment it is found free and the server's bind,
// and waits up to 10 s for each: it usually returns within tens of
// milliseconds. The caller must call [Server.Stop].
func StartServer() (*Server, error) {
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
		s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir}
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
		s.Stop()
	}
	os.RemoveAll(dir)
	return nil, fmt.Errorf("start redis-server: %w", lastErr)
}

// waitReady pings the server every 20 ms until it answers, exits, or 10 s
// pass.
func (s *Server) waitReady() error {
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
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

// Stop kills the server by its pid (SIGKILL: nothing is saved), waits up
// to 10 s for it to exit, and removes its directory. It kills no other
// process.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
		}
	}
	os.RemoveAll(s.dir)
}

// Pid returns the server's process id, for the log and for a [CPUWatch].
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// freePort returns a port of 127.0.0.1 that no one listens on, other than
// 6379, Redis's default.
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
