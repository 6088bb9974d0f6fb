// Command rusage runs a command and writes its wall time and peak resident
// set size to a file. The benchmark (../run.sh) runs every contender
// through it, so that all of them are timed and measured the same way.
//
//	rusage -o result.txt command [arg...]
//
// The command's standard input, output and error are rusage's own. When
// it exits 0, the file gets one line, "SECONDS MAXRSS_KIB": the wall time
// from just before the command started to just after it was waited for,
// and ru_maxrss as wait4 reports it for the command. On Linux that is the
// largest peak of the command and of every descendant it waited for: for
// a shell running a pipeline, the largest of its processes, not their sum.
// When the command fails, rusage writes no file and exits with its status.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

func main() {
	out := flag.String("o", "", "the `file` to write the measures to")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: rusage -o FILE command [arg...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	cmd := exec.Command(flag.Arg(0), flag.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if err != nil {
		fmt.Fprintf(os.Stderr, "rusage: %s: %v\n", flag.Arg(0), err)
		if ee, ok := errors.AsType[*exec.ExitError](err); ok && ee.ExitCode() > 0 {
			os.Exit(ee.ExitCode())
		}
		os.Exit(1)
	}
	// ru_maxrss is in KiB on Linux.
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	line := fmt.Sprintf("%.6f %d\n", elapsed.Seconds(), ru.Maxrss)
	if err := os.WriteFile(*out, []byte(line), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "rusage:", err)
		os.Exit(1)
	}
}
