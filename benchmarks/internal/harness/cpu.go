package harness

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the kernel's USER_HZ: /proc reports CPU time in these.
const clockTick = 100

// A CPUWatch measures how much CPU the processes outside a benchmark used:
// the busy time of all the machine's CPUs less that of this process and of
// Pids (its redis-server, a Node process). The zero value watches this
// process only.
type CPUWatch struct {
	Pids []int // processes of the benchmark besides this one
}

// A CPUMark is the state of the CPUs at one moment, taken by
// [CPUWatch.Mark].
type CPUMark struct {
	at    time.Time
	busy  uint64 // all CPUs' user, nice, system and steal time
	owned uint64 // the benchmark's processes' user and system time
}

// Mark reads the CPU time of the machine and of the benchmark's processes
// from /proc: a read of /proc/stat and of one stat file per process, some
// tens of microseconds. A process that has exited counts for nothing.
func (w *CPUWatch) Mark() CPUMark {
	m := CPUMark{at: time.Now(), busy: machineBusy(), owned: ProcTime("self")}
	for _, pid := range w.Pids {
		m.owned += ProcTime(strconv.Itoa(pid))
	}
	return m
}

// Foreign returns the CPU, in cores, that processes outside the benchmark
// used between the marks a and b; 0 when /proc cannot tell. It is coarse:
// /proc counts in hundredths of a second.
func Foreign(a, b CPUMark) float64 {
	secs := b.at.Sub(a.at).Seconds()
	if secs <= 0 || b.busy < a.busy {
		return 0
	}
	other := float64(b.busy-a.busy) - float64(b.owned-a.owned)
	return max(other, 0) / clockTick / secs
}

// machineBusy returns the busy time of all CPUs from /proc/stat: user, nice,
// system and steal. Interrupt time is left out: the loopback traffic of the
// benchmark itself is handled there.
func machineBusy() uint64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var sum uint64
	for _, i := range []int{1, 2, 3, 8} { // user nice system (idle iowait irq softirq) steal
		n, _ := strconv.ParseUint(f[i], 10, 64)
		sum += n
	}
	return sum
}

// ProcTime returns the user and system time of a process (a pid, or
// "self"), in clock ticks (USER_HZ, 100 a second on Linux); 0 where /proc
// cannot tell.
func ProcTime(pid string) uint64 {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: fields start after it.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseUint(f[11], 10, 64)
	stime, _ := strconv.ParseUint(f[12], 10, 64)
	return utime + stime
}
