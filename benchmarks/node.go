package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// nodeRunner drives node/bench.mjs, which runs the workloads on
// connect-redis in a Node process of its own: it sends one request per line
// on the script's standard input and reads one JSON result per line from its
// standard output.
type nodeRunner struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	out     *bufio.Scanner
	version string // connect-redis, node-redis and Node versions, for the table
}

// nodeRequest asks for one measurement.
type nodeRequest struct {
	Workload workload `json:"workload"`
	C        int      `json:"c"`
	WarmMs   int64    `json:"warmMs"`
	WindowMs int64    `json:"windowMs"`
}

// nodeResult is the script's answer: Ops operations completed in the
// measured window of Seconds, Total in all (warm-up included); for "all",
// Ops sessions in one pass.
type nodeResult struct {
	Ops     int64   `json:"ops"`
	Total   int64   `json:"total"`
	Seconds float64 `json:"seconds"`
	Error   string  `json:"error"`
	Ready   bool    `json:"ready"`
	Version string  `json:"version"`
}

// startNode starts the Node side, or reports why it cannot run.
func startNode(dir, addr string, ids []string, sessionJSON []byte) (*nodeRunner, error) {
	bin, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("node is not on the PATH")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "connect-redis")); err != nil {
		return nil, fmt.Errorf("connect-redis is not installed: run npm ci in %s (run.sh does)", dir)
	}
	tmp, err := os.MkdirTemp("", "typedstore-bench-node-")
	if err != nil {
		return nil, err
	}
	idsFile := filepath.Join(tmp, "ids.txt")
	sessFile := filepath.Join(tmp, "session.json")
	if err := os.WriteFile(idsFile, []byte(strings.Join(ids, "\n")), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(sessFile, sessionJSON, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "bench.mjs", "redis://"+addr+"/0", idsFile, sessFile)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	n := &nodeRunner{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	n.out.Buffer(make([]byte, 64<<10), 1<<20)
	hello, err := n.read()
	os.RemoveAll(tmp) // the script has read both files once it is ready
	if err != nil {
		n.stop()
		return nil, err
	}
	n.version = hello.Version
	return n, nil
}

func (n *nodeRunner) read() (nodeResult, error) {
	var r nodeResult
	if !n.out.Scan() {
		if err := n.out.Err(); err != nil {
			return r, fmt.Errorf("node: %w", err)
		}
		return r, errors.New("node: the script exited")
	}
	if err := json.Unmarshal(n.out.Bytes(), &r); err != nil {
		return r, fmt.Errorf("node: bad answer %q: %w", n.out.Text(), err)
	}
	if r.Error != "" {
		return r, fmt.Errorf("node: %s", r.Error)
	}
	return r, nil
}

// run asks the script for one measurement.
func (n *nodeRunner) run(w workload, c int, warm, window time.Duration) (nodeResult, error) {
	req, _ := json.Marshal(nodeRequest{Workload: w, C: c, WarmMs: warm.Milliseconds(), WindowMs: window.Milliseconds()})
	if _, err := n.in.Write(append(req, '\n')); err != nil {
		return nodeResult{}, fmt.Errorf("node: %w", err)
	}
	return n.read()
}

// stop closes the script's input, which ends it, and kills it by pid if it
// has not exited within five seconds.
func (n *nodeRunner) stop() {
	n.in.Close()
	done := make(chan struct{})
	go func() { n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		n.cmd.Process.Kill()
		<-done
	}
}
