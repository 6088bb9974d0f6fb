// Command typedstore is an operator's tool for the sessions that
// github.com/typedstore/typedstore (and connect-redis) keep in Redis: it
// counts, lists, shows, deletes, revokes, summarizes, exports, imports and
// migrates them, on a single server, through Sentinel or on a cluster.
//
// It handles sessions as the JSON they are stored as, without knowing the
// application's session type. Commands that walk every session stream in
// batches (SCAN, never KEYS), so their memory does not grow with the number
// of sessions; on a terminal they show a progress bar, and elsewhere a line
// every few seconds. Ctrl-C stops them between batches: what was done is
// reported, and nothing is left half-written.
//
// Run typedstore help, or typedstore help COMMAND, for the commands, their
// flags and examples; docs/cli.md in the repository is the guide.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
	"golang.org/x/term"
)

// Exit codes.
const (
	exitOK          = 0
	exitError       = 1   // the command failed
	exitUsage       = 2   // bad flags or arguments, or a refused confirmation
	exitInterrupted = 130 // stopped by SIGINT or SIGTERM (128 + SIGINT)
)

// command is one subcommand.
type command struct {
	name, args, summary string
	// help is the text after the flags in "typedstore help NAME": what the
	// command does, then examples.
	help string
	// setup defines the command's own flags on fs and returns the function
	// that runs it, once the flags are parsed and Redis is reachable.
	setup func(fs *flag.FlagSet) runFunc
}

// runFunc runs a command on db with the arguments left after the flags.
type runFunc func(ctx context.Context, a *app, db *db, args []string) error

// commands are the subcommands, in the order of "typedstore help"; each is
// defined in a file of its own.
var commands = []*command{countCmd, lsCmd, showCmd, rmCmd, revokeCmd, statsCmd, exportCmd, importCmd, migrateCmd}

func commandNamed(name string) *command {
	i := slices.IndexFunc(commands, func(c *command) bool { return c.name == name })
	if i < 0 {
		return nil
	}
	return commands[i]
}

// app is what a command runs with: its streams and whether they are
// terminals.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// interactive: stdin and stderr are terminals, so that the tool may
	// ask before it destroys and draw a progress bar.
	interactive bool
	// barOK: stderr is a terminal, where a progress bar can be drawn.
	barOK bool
}

func main() {
	a := &app{
		stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		barOK:       term.IsTerminal(int(os.Stderr.Fd())),
		interactive: term.IsTerminal(int(os.Stdin.Fd())) && term.IsTerminal(int(os.Stderr.Fd())),
	}
	redis.SetLogger(quiet{}) // errors reach the operator as one line, not as go-redis's logs
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := a.main(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// main runs the command line args and returns the exit code.
func (a *app) main(ctx context.Context, args []string) int {
	if len(args) == 0 {
		a.usage(a.stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		return a.help(rest)
	}
	c := commandNamed(name)
	if c == nil {
		fmt.Fprintf(a.stderr, "typedstore: unknown command %q; run typedstore help\n", name)
		return exitUsage
	}
	err := c.run(ctx, a, rest)
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, new(usageError)):
		fmt.Fprintf(a.stderr, "typedstore %s: %v\n", c.name, err)
		return exitUsage
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		fmt.Fprintf(a.stderr, "typedstore %s: interrupted: %v\n", c.name, err)
		return exitInterrupted
	default:
		fmt.Fprintf(a.stderr, "typedstore %s: %v\n", c.name, oneLine(err))
		return exitError
	}
}

func (a *app) help(args []string) int {
	if len(args) == 0 {
		a.usage(a.stdout)
		return exitOK
	}
	c := commandNamed(args[0])
	if c == nil {
		fmt.Fprintf(a.stderr, "typedstore: unknown command %q; run typedstore help\n", args[0])
		return exitUsage
	}
	fs, _, _ := c.flags(a.stdout)
	fs.Usage()
	return exitOK
}

func (a *app) usage(w io.Writer) {
	fmt.Fprint(w, `typedstore: count, inspect, search, revoke, export, import and migrate the
sessions that typedstore and connect-redis keep in Redis.

Usage:
	typedstore COMMAND [flags] [arguments]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "\t%-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Every command takes -url (default $TYPEDSTORE_URL, else redis://127.0.0.1:6379)
and -prefix (default sess:). Run typedstore help COMMAND for its flags and
examples.

Exit status: 0 done; 1 failed; 2 bad usage or a refused confirmation;
130 interrupted.
`)
}

// quiet is a go-redis logger that drops what it is given.
type quiet struct{}

func (quiet) Printf(context.Context, string, ...any) {}

// usageError is an error in the command line, or a confirmation refused:
// exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

// oneLine joins the lines of a multi-line error (errors.Join) with "; ".
func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
}
