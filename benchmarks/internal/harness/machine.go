package harness

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
)

// LoadAvg returns the machine's load averages over 1, 5 and 15 minutes from
// /proc/loadavg, as "0.52 0.48 0.40", to show whether something else
// competed for the CPUs during a run; "?" where /proc cannot tell.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// Machine describes what a run ran on, for the notes under a table: the Go
// version, GOMAXPROCS, the CPUs, the OS and architecture, and the load
// averages before the run (loadBefore, from [LoadAvg]) and now.
func Machine(loadBefore string) string {
	return fmt.Sprintf("%s, GOMAXPROCS %d, %d CPUs, %s/%s; load average %s before the run, %s after",
		runtime.Version(), runtime.GOMAXPROCS(0), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, loadBefore, LoadAvg())
}

// RedisVersion returns "redis-server" and the version of the one on the
// PATH, as "redis-server 7.2.4"; it runs redis-server --version, some
// milliseconds.
func RedisVersion() string {
	out, err := exec.Command("redis-server", "--version").Output()
	if err != nil {
		return "redis-server"
	}
	if f := strings.Fields(string(out)); len(f) >= 3 {
		return "redis-server " + strings.TrimPrefix(f[2], "v=")
	}
	return strings.TrimSpace(string(out))
}
