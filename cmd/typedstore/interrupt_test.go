package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Ctrl-C during an export leaves whole lines: a valid export of the
// sessions it names, which import restores.
func TestInterruptedExportLeavesAValidPrefix(t *testing.T) {
	url, c := server(t)
	const total = 60000
	seed(t, c, "sess:", total, 100, time.Hour)
	file := filepath.Join(t.TempDir(), "e.jsonl")
	cmd := exec.Command(binary, "export", "-url", url, "-batch", "5", "-o", file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the export has written to the file, then interrupt it.
	deadline := time.Now().Add(time.Minute)
	for {
		if fi, err := os.Stat(file); err == nil && fi.Size() > 0 {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the export wrote nothing in a minute")
		}
		time.Sleep(5 * time.Millisecond) // polling the file: a condition, not a timed wait
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, isExit := err.(*exec.ExitError); !isExit || ee.ExitCode() != exitInterrupted {
		t.Fatalf("interrupted export: %v; want exit status %d\n%s", err, exitInterrupted, stderr.String())
	}
	m := regexp.MustCompile(`interrupted: exported (\d+) sessions to .*, whole lines`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("interrupted export said %q; want how many it exported", stderr.String())
	}
	reported, _ := strconv.Atoi(m[1])
	ids := readExport(t, file)
	if len(ids) != reported || reported == 0 || reported >= total {
		t.Fatalf("the interrupted export holds %d whole lines and reported %d, of %d sessions", len(ids), reported, total)
	}
	if got := ok(t, url, "import", "-prefix", "back:", file).stdout; !strings.Contains(got, strconv.Itoa(reported)+" sessions written, 0 kept") {
		t.Errorf("import of the interrupted export = %q", got)
	}
	ctx := context.Background()
	for _, id := range ids {
		if c.Get(ctx, "back:"+id).Val() != c.Get(ctx, "sess:"+id).Val() {
			t.Fatalf("session %s was not restored as exported", id)
		}
	}
}

// Ctrl-C during an import finishes the writes under way and says how many
// it wrote; running it again completes it.
func TestInterruptedImportResumes(t *testing.T) {
	url, c := server(t)
	const total = 60000
	seed(t, c, "sess:", total, 100, time.Hour)
	file := filepath.Join(t.TempDir(), "e.jsonl")
	ok(t, url, "export", "-o", file)
	cmd := exec.Command(binary, "import", "-url", url, "-prefix", "copy:", "-workers", "1", file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	deadline := time.Now().Add(time.Minute)
	for c.Exists(ctx, "copy:id0000000", "copy:id0000001", "copy:id0000002").Val() == 0 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the import wrote nothing in a minute")
		}
		time.Sleep(5 * time.Millisecond) // polling Redis: a condition, not a timed wait
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != exitInterrupted {
		t.Fatalf("interrupted import: %v; want exit status %d\n%s", err, exitInterrupted, stderr.String())
	}
	m := regexp.MustCompile(`(\d+) sessions written`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("interrupted import said %q; want how many it wrote", stderr.String())
	}
	written, _ := strconv.Atoi(m[1])
	if written == 0 || written >= total {
		t.Fatalf("the interrupted import wrote %d of %d", written, total)
	}
	if got := ok(t, url, "count", "-prefix", "copy:").stdout; strings.TrimSpace(got) != m[1] {
		t.Errorf("the interrupted import reported %d written; %s are there", written, got)
	}
	got := ok(t, url, "import", "-prefix", "copy:", file).stdout
	if want := strconv.Itoa(total-written) + " sessions written, " + strconv.Itoa(written) + " kept"; !strings.Contains(got, want) {
		t.Errorf("the import run again = %q; want %q", got, want)
	}
}
