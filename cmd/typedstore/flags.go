package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// errHelp reports that -h printed the usage.
var errHelp = flag.ErrHelp

// global holds the flags every command takes.
type global struct {
	url         string
	prefix      string
	ownerPath   string
	ownerPrefix string
	batch       int
	progress    string
	every       time.Duration
	keysFile    string
	idHashFile  string
	compress    int
	plaintext   bool
}

// maxBatch bounds -batch: a pipeline of that many keys' values is held in
// memory at once.
const maxBatch = 100000

// defaultURL is the Redis URL when neither -url nor $TYPEDSTORE_URL is set.
const defaultURL = "redis://127.0.0.1:6379"

func (g *global) define(fs *flag.FlagSet) {
	// No default here: flag would print it, password and all, in the help.
	fs.StringVar(&g.url, "url", "", "Redis `URL`: redis://, rediss://, unix://; a cluster with addr= parameters, Sentinel with master_name= (default $TYPEDSTORE_URL, else "+defaultURL+")")
	fs.StringVar(&g.prefix, "prefix", "sess:", "key `prefix` of the sessions")
	fs.StringVar(&g.ownerPath, "owner-path", "", "dotted JSON `path` to a session's owner, such as passport.user or userId")
	fs.StringVar(&g.ownerPrefix, "owner-prefix", "", "key `prefix` of the owner index (default owner: followed by -prefix)")
	fs.IntVar(&g.batch, "batch", 1000, "sessions per SCAN batch and per pipeline")
	fs.StringVar(&g.progress, "progress", "auto", "progress `style`: auto (a bar on a terminal, lines elsewhere), bar, lines or none")
	fs.DurationVar(&g.every, "progress-every", 2*time.Second, "`interval` between progress lines")
	fs.StringVar(&g.keysFile, "keys-file", "", "`file` of the application's EncryptionKeys, one per line in hex or base64, the first first: values are opened with them, and written sealed under the first")
	fs.BoolVar(&g.plaintext, "accept-plaintext", false, "with -keys-file: read the values stored in clear too, as Options.AcceptPlaintext does (migrate seals them)")
	fs.IntVar(&g.compress, "compress-above", 0, "with -keys-file: the application's CompressAbove, in `bytes`, for what the tool writes (import, migrate)")
	fs.StringVar(&g.idHashFile, "id-hash-key-file", "", "`file` holding the application's IDHashKey: the session ids given as arguments are hashed into the names of their keys")
}

// flags returns the command's flag set, writing its usage to w.
func (c *command) flags(w io.Writer) (*flag.FlagSet, *global, runFunc) {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(w)
	g := &global{}
	g.define(fs)
	run := c.setup(fs)
	fs.Usage = func() {
		fmt.Fprintf(w, "Usage: typedstore %s [flags] %s\n\n%s\n\nFlags:\n", c.name, c.args, c.summary)
		fs.PrintDefaults()
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.help))
	}
	return fs, g, run
}

// run parses args, connects and runs the command. Flags may come after
// arguments (rm ID -dry-run); after "--" everything is an argument.
func (c *command) run(ctx context.Context, a *app, args []string) error {
	fs, g, run := c.flags(a.stderr)
	usage := fs.Usage
	fs.Usage = func() {} // a bad flag is one line, not the usage
	fs.SetOutput(io.Discard)
	var rest []string
	for {
		in := args
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				usage()
				return errHelp
			}
			return usageError{err.Error() + "; run typedstore help " + c.name}
		}
		args = fs.Args()
		if used := len(in) - len(args); used > 0 && in[used-1] == "--" {
			rest = append(rest, args...) // the terminator: no flags after it
			break
		}
		if len(args) == 0 {
			break
		}
		rest, args = append(rest, args[0]), args[1:]
	}
	if g.url == "" {
		g.url = cmp.Or(os.Getenv("TYPEDSTORE_URL"), defaultURL)
	}
	if err := g.check(); err != nil {
		return err
	}
	db, err := open(g)
	if err != nil {
		return err
	}
	defer db.close()
	return run(ctx, a, db, rest)
}

func (g *global) check() error {
	switch {
	case g.prefix == "":
		return usagef("-prefix is empty: every key of the database would be taken for a session")
	case g.batch < 1 || g.batch > maxBatch:
		return usagef("-batch %d: want 1 to %d", g.batch, maxBatch)
	case g.every <= 0:
		return usagef("-progress-every %v: want a positive interval", g.every)
	}
	if g.ownerPath != "" {
		if err := checkPath("-owner-path", g.ownerPath); err != nil {
			return err
		}
	}
	switch g.progress {
	case "auto", "bar", "lines", "none":
	default:
		return usagef("-progress %q: want auto, bar, lines or none", g.progress)
	}
	return nil
}

// parseSize reads a size in bytes: a number with an optional unit B, K or
// KiB, M or MiB, G or GiB (powers of 1024; KB, MB and GB too).
func parseSize(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KIB", 1 << 10}, {"MIB", 1 << 20}, {"GIB", 1 << 30}, {"KB", 1 << 10}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q: want bytes such as 4096, 4K or 1MiB", s)
	}
	return n * mult, nil
}

// sizeFlag is a flag.Value for a size in bytes (see parseSize).
type sizeFlag struct {
	n   int64
	set bool
}

func (f *sizeFlag) String() string { return strconv.FormatInt(f.n, 10) }
func (f *sizeFlag) Set(s string) error {
	n, err := parseSize(s)
	f.n, f.set = n, true
	return err
}

// listFlag is a flag.Value that collects every use of a repeatable flag.
type listFlag []string

func (f *listFlag) String() string     { return strings.Join(*f, ",") }
func (f *listFlag) Set(s string) error { *f = append(*f, s); return nil }

// humanBytes formats n bytes for people: 512 B, 1.5 KiB, 212.3 MiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// humanTTL formats a time to live to the second: "none" for a key that
// does not expire.
func humanTTL(d time.Duration) string {
	if d < 0 {
		return "none"
	}
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}
