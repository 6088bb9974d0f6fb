package harness

import (
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
)

// FlagGiven reports whether the flag name was set on the command line, as
// opposed to left at its default. Call it after flag.Parse.
func FlagGiven(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// Concurrencies parses a comma-separated list of concurrencies, as "1,32,256",
// each a whole number of at least 1.
func Concurrencies(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(f), &n); err != nil || n < 1 {
			return nil, fmt.Errorf("bad concurrency %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}

// Logf writes a line of progress to standard error, after "# ", so that
// standard output holds only the tables.
func Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "# "+format+"\n", args...)
}

// StartCPUProfile starts a CPU profile of the whole process, written to
// the file path, and returns the function that stops it and closes the
// file; with an empty path it does nothing and returns a function that
// does nothing. Profiling costs a few percent of the CPU while it runs.
func StartCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
