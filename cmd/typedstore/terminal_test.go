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

// pane is a tmux server of the test's own, running one shell command in a
// terminal of 120×10.
type pane struct {
	t            *testing.T
	tmux, socket string
}

func newPane(t *testing.T, script string) *pane {
	t.Helper()
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		if redistest.Required() {
			t.Fatal("tmux is required (TYPEDSTORE_REQUIRE_REDIS=1, TYPEDSTORE_HEAVY=1 or CI=true) but is not on PATH")
		}
		t.Skip("no tmux on PATH: install tmux to run the command on a terminal (bash .ci/run does)")
	}
	p := &pane{t: t, tmux: tmux, socket: "typedstore-test-" + filepath.Base(t.TempDir())}
	p.run("new-session", "-d", "-s", p.socket, "-x", "120", "-y", "10", script+"; echo exit status $?; sleep 600")
	t.Cleanup(func() { exec.Command(tmux, "-L", p.socket, "kill-server").Run() })
	return p
}

func (p *pane) run(args ...string) string {
	p.t.Helper()
	out, err := exec.Command(p.tmux, append([]string{"-L", p.socket}, args...)...).CombinedOutput()
	if err != nil {
		p.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func (p *pane) capture() string { return p.run("capture-pane", "-p", "-t", p.socket) }

// waitFor returns the pane as soon as it holds want, and fails the test if
// it does not within a minute.
func (p *pane) waitFor(want string) string {
	p.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		s := p.capture()
		if strings.Contains(s, want) {
			return s
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("the pane never showed %q:\n%s", want, s)
		}
		time.Sleep(20 * time.Millisecond) // polling the pane: a condition, not a timed wait
	}
}

// On a terminal, a long export draws a progress bar with the count, the
// rate and the time left, as tmux shows it.
func TestProgressBarOnATerminal(t *testing.T) {
	url, c := server(t)
	seed(t, c, "sess:", 200000, 1000, time.Hour)
	file := filepath.Join(t.TempDir(), "e.jsonl")
	p := newPane(t, binary+" export -url "+url+" -batch 50 -o "+file)

	bar := regexp.MustCompile(`export +\d+% \|[█ ]+\| \(\d+/\d+, \d+ sessions/s\) \[\d+s:\d+s\]`)
	var during, after string
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for ctx.Err() == nil && after == "" {
		s := p.capture()
		switch {
		case strings.Contains(s, "exit status"):
			after = s
		case during == "" && bar.MatchString(s) && !strings.Contains(s, "100%"):
			during = s
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

// On a terminal, a destructive command asks, and does nothing unless the
// answer is yes.
func TestConfirmationOnATerminal(t *testing.T) {
	url, c := server(t)
	seed(t, c, "sess:", 3, 1, time.Hour)
	ctx := context.Background()
	for _, tc := range []struct {
		answer string
		left   int64
		says   string
	}{{"n", 3, "not confirmed; nothing was changed"}, {"", 3, "not confirmed"}, {"y", 1, "deleted 2 sessions"}} {
		p := newPane(t, binary+" rm -url "+url+" id0000000 id0000001")
		p.waitFor("delete 2 sessions under sess: on " + strings.TrimPrefix(url, "redis://") + "? [y/N]")
		p.run("send-keys", "-t", p.socket, tc.answer, "Enter")
		s := p.waitFor("exit status")
		if !strings.Contains(s, tc.says) {
			t.Errorf("answering %q: the pane shows\n%s\nwant %q", tc.answer, s, tc.says)
		}
		if n := c.Exists(ctx, "sess:id0000000", "sess:id0000001", "sess:id0000002").Val(); n != tc.left {
			t.Errorf("answering %q left %d sessions; want %d", tc.answer, n, tc.left)
		}
	}
}

// Ctrl-C at the question ends the command with status 130, nothing changed.
func TestInterruptAtTheQuestion(t *testing.T) {
	url, c := server(t)
	seed(t, c, "sess:", 1, 1, time.Hour)
	p := newPane(t, binary+" rm -url "+url+" id0000000")
	p.waitFor("? [y/N]")
	p.run("send-keys", "-t", p.socket, "C-c")
	if s := p.waitFor("exit status"); !strings.Contains(s, "exit status 130") || !strings.Contains(s, "nothing was changed") {
		t.Errorf("Ctrl-C at the question; the pane shows\n%s", s)
	}
	if c.Exists(context.Background(), "sess:id0000000").Val() != 1 {
		t.Error("Ctrl-C at the question deleted the session")
	}
}
