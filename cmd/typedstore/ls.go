package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-json"
)

var lsCmd = &command{
	name:    "ls",
	summary: "List sessions: id, time to live, size and owner, with filters.",
	help: `ls reads every session under the prefix (SCAN, then GET and PTTL in one
pipeline per batch) and prints those that pass every filter given. The
OWNER column needs -owner-path. The age that -older-than tests is the time
since the session started, read from -started-path (typedstore.Lifetime's
member, Unix milliseconds), or, for a session without it, since it was last
saved (its cookie's expires less originalMaxAge, as express-session writes
them); a session with neither has no age and does not match.

-json prints one JSON object per line: {"id", "ttl" (milliseconds; -1 for
none), "size" (bytes), "owner"}.

Examples:
	typedstore ls -owner-path passport.user -owner alice
	typedstore ls -where cookie.path=/admin -larger-than 4K
	typedstore ls -older-than 720h -json | jq -r .id`,
	setup: func(fs *flag.FlagSet) runFunc {
		var (
			f        filter
			where    listFlag
			asJSON   bool
			limit    int
			larger   sizeFlag
			olderStr string
		)
		fs.StringVar(&f.owner, "owner", "", "only the sessions of this `owner` (needs -owner-path)")
		fs.Var(&where, "where", "only sessions whose member at `PATH=VALUE` has that value (repeatable: all must hold)")
		fs.StringVar(&olderStr, "older-than", "", "only sessions older than this `duration`, such as 720h")
		fs.Var(&larger, "larger-than", "only sessions larger than this `size`, such as 4K")
		fs.StringVar(&f.startedPath, "started-path", "lifetime.startedAt", "dotted JSON `path` of a session's start, in Unix milliseconds")
		fs.BoolVar(&asJSON, "json", false, "print JSON Lines, for scripts")
		fs.IntVar(&limit, "limit", 0, "stop after this many sessions (0: no limit)")
		return func(ctx context.Context, a *app, d *db, args []string) error {
			if len(args) > 0 {
				return usagef("ls takes no arguments (filters are flags)")
			}
			if err := f.parse(d, where, olderStr, larger); err != nil {
				return err
			}
			if limit < 0 {
				return usagef("-limit %d: want 0 or more", limit)
			}
			out := newLister(a.stdout, asJSON, d.g.ownerPath != "")
			m := a.meter(d.g, "ls")
			n, sealed, unopened := 0, 0, 0
			warning, err := d.walk(ctx, walkOptions{values: true, progress: m.update}, func(batch []record) error {
				now := time.Now()
				var oe openError
				for _, r := range batch {
					switch {
					case r.sealed:
						sealed++
					case errors.As(r.err, &oe):
						unopened++
					}
					if r.err != nil || !f.match(d, r, now) {
						continue
					}
					out.add(r, d.owner(r.value))
					if n++; n == limit {
						return errEnough
					}
				}
				return out.flush()
			})
			m.finish()
			if err == errEnough {
				err = nil
			}
			if ferr := out.flush(); err == nil {
				err = ferr
			}
			if err != nil {
				return fmt.Errorf("after %d sessions: %w", n, err)
			}
			if sealed > 0 && (d.g.ownerPath != "" || f.readsValues()) {
				warn(a, fmt.Sprintf("%d sessions are sealed: without -keys-file, their owners and members read as missing", sealed))
			}
			if unopened > 0 {
				warn(a, fmt.Sprintf("%d sessions do not open under -keys-file (sealed under another key, or in clear: see -accept-plaintext): not listed", unopened))
			}
			warn(a, warning)
			return nil
		}
	},
}

// errEnough stops a walk that has found what it wanted.
var errEnough = fmt.Errorf("enough")

// filter is what ls and stats select sessions by.
type filter struct {
	owner       string
	where       []condition
	olderThan   time.Duration
	largerThan  int64
	startedPath string
	started     []string
}

func (f *filter) parse(d *db, where listFlag, older string, larger sizeFlag) error {
	if f.owner != "" && d.g.ownerPath == "" {
		return usagef("-owner needs -owner-path, which says whose each session is")
	}
	for _, w := range where {
		c, err := parseCondition(w)
		if err != nil {
			return err
		}
		f.where = append(f.where, c)
	}
	if older != "" {
		var err error
		if f.olderThan, err = time.ParseDuration(older); err != nil || f.olderThan < 0 {
			return usagef("-older-than %q: want a duration such as 720h", older)
		}
	}
	if err := checkPath("-started-path", f.startedPath); err != nil {
		return err
	}
	f.started = splitPath(f.startedPath)
	f.largerThan = -1
	if larger.set {
		f.largerThan = larger.n
	}
	return nil
}

// readsValues reports whether f looks into the values of sessions.
func (f *filter) readsValues() bool { return f.owner != "" || len(f.where) > 0 || f.olderThan > 0 }

func (f *filter) match(d *db, r record, now time.Time) bool {
	if f.largerThan >= 0 && int64(r.size) <= f.largerThan {
		return false
	}
	if f.owner != "" && d.owner(r.value) != f.owner {
		return false
	}
	for _, c := range f.where {
		if !c.holds(r.value) {
			return false
		}
	}
	if f.olderThan > 0 {
		age, ok := ageOf(r.value, f.started, now)
		if !ok || age <= f.olderThan {
			return false
		}
	}
	return true
}

// ageOf returns how long ago a session started: at the Unix millisecond at
// started, or else when it was last saved, by its cookie.
func ageOf(doc []byte, started []string, now time.Time) (time.Duration, bool) {
	if v, ok := lookup(doc, started); ok {
		if ms, err := strconv.ParseInt(string(v), 10, 64); err == nil && ms > 0 {
			return now.Sub(time.UnixMilli(ms)), true
		}
	}
	var c struct {
		Cookie struct {
			Expires        *time.Time `json:"expires"`
			OriginalMaxAge *int64     `json:"originalMaxAge"`
		} `json:"cookie"`
	}
	if json.Unmarshal(doc, &c) != nil || c.Cookie.Expires == nil || c.Cookie.OriginalMaxAge == nil {
		return 0, false
	}
	saved := c.Cookie.Expires.Add(-time.Duration(*c.Cookie.OriginalMaxAge) * time.Millisecond)
	return now.Sub(saved), true
}

// lister prints the rows of ls.
type lister struct {
	w      io.Writer
	tw     *tabwriter.Writer
	asJSON bool
	owners bool
	enc    *json.Encoder
}

func newLister(w io.Writer, asJSON, owners bool) *lister {
	l := &lister{w: w, asJSON: asJSON, owners: owners, enc: json.NewEncoder(w)}
	if !asJSON {
		l.tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
		if owners {
			fmt.Fprintln(l.tw, "ID\tTTL\tSIZE\tOWNER")
		} else {
			fmt.Fprintln(l.tw, "ID\tTTL\tSIZE")
		}
	}
	return l
}

// lsRow is a line of ls -json.
type lsRow struct {
	ID    string `json:"id"`
	TTL   int64  `json:"ttl"`
	Size  int    `json:"size"`
	Owner string `json:"owner,omitempty"`
	// IDBase64 holds the id's bytes when it is not UTF-8: ID then holds
	// it with U+FFFD for the bytes JSON cannot carry.
	IDBase64 string `json:"idBase64,omitempty"`
}

func (l *lister) add(r record, owner string) {
	if l.asJSON {
		l.enc.Encode(lsRow{ID: r.id, TTL: r.ttlMs, Size: r.size, Owner: owner, IDBase64: rawID(r.id)})
		return
	}
	if l.owners {
		fmt.Fprintf(l.tw, "%s\t%s\t%d\t%s\n", printable(r.id), humanTTL(r.ttl()), r.size, printable(owner))
	} else {
		fmt.Fprintf(l.tw, "%s\t%s\t%d\n", printable(r.id), humanTTL(r.ttl()), r.size)
	}
}

func (l *lister) flush() error {
	if l.tw != nil {
		return l.tw.Flush()
	}
	return nil
}

// rawID returns, for an id that is not UTF-8 (which JSON cannot hold as
// it is), its bytes in base64; "" for any other id.
func rawID(id string) string {
	if utf8.ValidString(id) {
		return ""
	}
	return base64.StdEncoding.EncodeToString([]byte(id))
}

// printable returns an id as ls prints it: as it is, or quoted in Go's
// syntax when it holds what a terminal would act on (line breaks, tabs,
// escape sequences) or is not UTF-8.
func printable(id string) string {
	for _, c := range id {
		if c == utf8.RuneError || !strconv.IsPrint(c) || c == ' ' {
			return strconv.Quote(id)
		}
	}
	if id == "" || id[0] == '"' {
		return strconv.Quote(id)
	}
	return id
}
