package main

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/typedstore/typedstore/internal/redistest"
)

// On a terminal, a long export draws a progress bar with the count, the
// rate and the time left, as tmux shows it.
func TestProgressBarOnATerminal(t *testing.T) {
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		if redistest.Required() {
			t.Fatal("tmux is required (TYPEDSTORE_REQUIRE_REDIS=1, TYPEDSTORE_HEAVY=1 or CI=true) but is not on PATH")
		}
		t.Skip("no tmux on PATH: install tmux to see the progress bar through a terminal (bash .ci/run does)")
	}
	url, c := server(t)
	seed(t, c, "sess:", 200000, 1000, time.Hour)
	dir := t.TempDir()
	file := filepath.Join(dir, "e.jsonl")
	session := "typedstore-test-" + filepath.Base(dir)
	script := binary + " export -url " + url + " -batch 50 -o " + file + "; echo exit status $?; sleep 600"
	run := func(args ...string) string {
		out, err := exec.Command(tmux, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("-L", session, "new-session", "-d", "-s", session, "-x", "120", "-y", "10", script)
	t.Cleanup(func() { exec.Command(tmux, "-L", session, "kill-server").Run() })

	bar := regexp.MustCompile(`export +\d+% \|[█ ]+\| \(\d+/\d+, \d+ sessions/s\) \[\d+s:\d+s\]`)
	var during, after string
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for ctx.Err() == nil && after == "" {
		pane := run("-L", session, "capture-pane", "-p", "-t", session)
		switch {
		case strings.Contains(pane, "exit status"):
			after = pane
		case during == "" && bar.MatchString(pane) && !strings.Contains(pane, "100%"):
			during = pane
		}
		time.Sleep(20 * time.Millisecond) // polling the pane: a condition, not a timed wait
	}
	t.Logf("the pane during the export:\n%s", strings.TrimRight(during, "\n"))
	t.Logf("the pane after it:\n%s", strings.TrimRight(after, "\n"))
	if during == "" {
		t.Errorf("no progress bar was seen before the export ended; the pane at the end:\n%s", after)
	}
	if !strings.Contains(after, "100% |") || !strings.Contains(after, "exported 200000 sessions to "+file) || !strings.Contains(after, "exit status 0") {
		t.Errorf("the pane after the export:\n%s", after)
	}
}
