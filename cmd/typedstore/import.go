package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/goccy/go-json"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/atrest"
)

var importCmd = &command{
	name:    "import",
	args:    "FILE",
	summary: "Write the sessions of an export back, each with its time to live.",
	help: `import reads JSON Lines as export writes them (FILE, or - for stdin) and
writes each session under prefix+id with the time to live of its line (ttl,
in milliseconds; -1: none). A session that already exists is kept, and
counted; -overwrite replaces it instead, after asking on a terminal
(elsewhere it needs -yes). With -owner-path the owners' indexes are written
as typedstore writes them, so that revoke and Store.DeleteOwned find the
imported sessions.

A FILE is read twice: first to check every line, so that a bad line (not
JSON, no id, a ttl that is neither -1 nor positive, both or neither of value
and bytes, a member it does not know) stops the import before anything is
written, with the number of the line. stdin is read once: a bad line stops
the import there, and the lines before it are written. Nothing is skipped
silently.

On Ctrl-C, import stops reading, finishes the writes under way (no session
is half-written: each is one SET, and its index entry follows it) and says
how many lines it wrote. Running the same import again finishes the work:
what it wrote exists and is kept.

Examples:
	typedstore import sessions.jsonl
	typedstore import -dry-run sessions.jsonl
	typedstore import -url 'redis://new1:7000?addr=new2:7000' -owner-path passport.user -overwrite -yes sessions.jsonl`,
	setup: func(fs *flag.FlagSet) runFunc {
		var (
			overwrite, yes, dry bool
			workers             int
		)
		fs.BoolVar(&overwrite, "overwrite", false, "replace sessions that exist (asks first; -yes does not)")
		fs.BoolVar(&yes, "yes", false, "with -overwrite: replace without asking")
		fs.BoolVar(&dry, "dry-run", false, "check every line, and write nothing")
		fs.IntVar(&workers, "workers", 32, "sessions written at once")
		return func(ctx context.Context, a *app, d *db, args []string) error {
			if len(args) != 1 {
				return usagef("import takes one file (- for stdin)")
			}
			if workers < 1 || workers > 1024 {
				return usagef("-workers %d: want 1 to 1024", workers)
			}
			in, name, err := openInput(a, args[0])
			if err != nil {
				return err
			}
			defer in.Close()
			check := func(n int64, l importLine) error { return d.checkImport(n, l) }
			lines := int64(-1) // unknown until checked
			if f, ok := in.(*os.File); ok && f != os.Stdin {
				if lines, err = readLines(f, check); err != nil {
					return fmt.Errorf("%s: %w; nothing was imported", name, err)
				}
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					return err
				}
			}
			if dry {
				if lines < 0 {
					if lines, err = readLines(in, check); err != nil {
						return fmt.Errorf("%s: %w", name, err)
					}
				}
				fmt.Fprintf(a.stdout, "%s: %d sessions, every line valid; nothing written (-dry-run)\n", name, lines)
				return nil
			}
			if overwrite {
				what := "sessions"
				if lines >= 0 {
					what = fmt.Sprintf("%d sessions", lines)
				}
				if err := a.confirm(ctx, yes, fmt.Sprintf("import %s into %s on %s, replacing those that exist", what, d.g.prefix, d.host)); err != nil {
					return err
				}
			}
			w, err := newImporter(d, overwrite)
			if err != nil {
				return err
			}
			m := a.meter(d.g, "import")
			res := w.run(ctx, in, workers, func(done int64) {
				fraction := 0.0
				if lines > 0 {
					fraction = float64(done) / float64(lines)
				}
				m.update(done, fraction)
			})
			m.finish()
			summary := fmt.Sprintf("%d sessions written, %d kept as they were (they existed)", res.written, res.kept)
			if res.err != nil {
				return fmt.Errorf("%s: %s before: %w", name, summary, res.err)
			}
			fmt.Fprintf(a.stdout, "%s: %s\n", name, summary)
			return nil
		}
	},
}

func openInput(a *app, name string) (io.ReadCloser, string, error) {
	if name == "-" {
		return io.NopCloser(a.stdin), "stdin", nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, "", err
	}
	return f, name, nil
}

// importLine is one checked line of an import.
type importLine struct {
	id    string
	value []byte
	ttl   time.Duration // -1: none
}

// readLines reads JSON Lines from r, checks each and passes it to fn with
// its number; it returns how many lines it read, and stops at the first bad
// line with an error that names it (never its content: the id is a
// credential) or at fn's first error.
func readLines(r io.Reader, fn func(n int64, l importLine) error) (int64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 2*maxValue)
	var n int64
	for sc.Scan() {
		n++
		l, err := parseLine(sc.Bytes())
		if err != nil {
			return n - 1, fmt.Errorf("line %d: %w", n, err)
		}
		if err := fn(n, l); err != nil {
			return n - 1, err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("longer than %d bytes", 2*maxValue)
		}
		return n, fmt.Errorf("line %d: %w", n+1, err)
	}
	return n, nil
}

func parseLine(b []byte) (importLine, error) {
	var l exportedLine
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&l); err != nil {
		return importLine{}, fmt.Errorf("not a line of an export: %v", jsonReason(err))
	}
	if d.More() {
		return importLine{}, errors.New("not a line of an export: more than one JSON value")
	}
	switch {
	case l.ID == nil || *l.ID == "":
		return importLine{}, errors.New(`no "id"`)
	case len(*l.ID) > typedstore.MaxIDLen:
		return importLine{}, fmt.Errorf(`an "id" longer than %d bytes`, typedstore.MaxIDLen)
	case l.TTL == nil:
		return importLine{}, errors.New(`no "ttl"`)
	case *l.TTL == 0 || *l.TTL < -1:
		return importLine{}, fmt.Errorf(`"ttl" %d: want milliseconds left, or -1 for none`, *l.TTL)
	case *l.TTL > maxTTLMs:
		return importLine{}, fmt.Errorf(`"ttl" %d: longer than %d ms (292 years), the longest that can be given`, *l.TTL, maxTTLMs)
	case (l.Value == nil) == (l.Bytes == nil):
		return importLine{}, errors.New(`want exactly one of "value" and "bytes"`)
	case len(l.Value) > maxValue || len(l.Bytes) > maxValue:
		return importLine{}, fmt.Errorf("a value larger than %d bytes", maxValue)
	}
	out := importLine{id: *l.ID, value: l.Value, ttl: -1}
	if l.Bytes != nil {
		out.value = l.Bytes
	}
	if *l.TTL > 0 {
		out.ttl = time.Duration(*l.TTL) * time.Millisecond
	}
	return out, nil
}

// jsonReason returns a decoding error without the text it quotes, which
// may hold a session id.
func jsonReason(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("invalid JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("%q holds a %s", typ.Field, typ.Value)
	case errors.Is(err, io.EOF):
		return "an empty line"
	}
	if msg := err.Error(); strings.Contains(msg, "unknown field") {
		return "an unknown member"
	} else if len(msg) < 80 && !containsQuote(msg) {
		return msg
	}
	return "invalid JSON"
}

func containsQuote(s string) bool {
	for _, c := range s {
		if c == '"' || c == '\'' {
			return true
		}
	}
	return false
}

// importer writes sessions through typedstore's write path, so that owners'
// indexes are kept: one store for sessions that expire (their time to live
// from the line), one for those that do not.
type importer struct {
	d                 *db
	expiring, lasting *typedstore.Store[importLine]
	overwrite         bool
}

// checkImport returns the error of line n, l, that the importer would
// write wrongly: under -keys-file, a value sealed already, which sealing
// again would make unreadable; under -owner-path without -keys-file, a
// sealed value, whose owner it cannot read to index it.
func (d *db) checkImport(n int64, l importLine) error {
	switch sealed := atrest.IsSealed(l.value); {
	case sealed && d.keys != nil:
		return fmt.Errorf("line %d: the value is sealed already (exported without -keys-file): import it without -keys-file", n)
	case sealed && d.g.ownerPath != "":
		return fmt.Errorf("line %d: the value is sealed: -owner-path needs -keys-file to read its owner and index it", n)
	}
	return nil
}

func newImporter(d *db, overwrite bool) (*importer, error) {
	opts := typedstore.Options[importLine]{
		Prefix:         d.g.prefix,
		OwnerPrefix:    d.g.ownerPrefix,
		MaxSize:        maxValue,
		Codec:          lineCodec{},
		TTLFunc:        func(l importLine) time.Duration { return l.ttl },
		EncryptionKeys: d.keys,
		CompressAbove:  d.g.compress,
	}
	if d.g.ownerPath != "" {
		path := splitPath(d.g.ownerPath)
		opts.Owner = func(l importLine) string { return ownerAt(l.value, path) }
	}
	expiring, err := typedstore.New(d.client, opts)
	if err != nil {
		return nil, err
	}
	opts.TTLFunc, opts.DisableTTL = nil, true
	lasting, err := typedstore.New(d.client, opts)
	if err != nil {
		return nil, err
	}
	return &importer{d: d, expiring: expiring, lasting: lasting, overwrite: overwrite}, nil
}

// lineCodec stores a line's value as it is.
type lineCodec struct{}

func (lineCodec) Encode(l importLine) ([]byte, error) { return l.value, nil }
func (lineCodec) Decode(b []byte, l *importLine) error {
	l.value = b
	return nil
}

type importResult struct {
	written, kept int64
	err           error
}

// run reads lines from r and writes them with workers at once, until the
// end, a bad line, a failed write or ctx done. Writes already sent finish
// whatever ctx says, so that none is cut in two. The lines of one id go to
// one worker, in their order: a repeated id is written by its first line
// (by its last with -overwrite), the others counted as kept.
func (w *importer) run(ctx context.Context, r io.Reader, workers int, progress func(int64)) importResult {
	type job struct {
		n int64
		l importLine
	}
	jobs := make([]chan job, workers)
	for i := range jobs {
		jobs[i] = make(chan job, 1)
	}
	seed := maphash.MakeSeed()
	var (
		mu  sync.Mutex
		res importResult
		wg  sync.WaitGroup
	)
	failed := make(chan struct{})
	var once sync.Once
	fail := func(err error) {
		mu.Lock()
		if res.err == nil {
			res.err = err
		}
		mu.Unlock()
		once.Do(func() { close(failed) })
	}
	wctx := context.WithoutCancel(ctx)
	for i := range workers {
		wg.Go(func() {
			for j := range jobs[i] {
				s := w.expiring
				if j.l.ttl < 0 {
					s = w.lasting
				}
				var err error
				if w.overwrite {
					err = s.Set(wctx, j.l.id, j.l)
				} else {
					err = s.Create(wctx, j.l.id, j.l)
				}
				mu.Lock()
				switch {
				case err == nil:
					res.written++
				case errors.Is(err, typedstore.ErrExists):
					res.kept++
					err = nil
				}
				if err == nil {
					progress(res.written + res.kept)
				}
				mu.Unlock()
				if err != nil {
					fail(fmt.Errorf("line %d: %w", j.n, err))
				}
			}
		})
	}
	_, err := readLines(r, func(n int64, l importLine) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := w.d.checkImport(n, l); err != nil {
			return err
		}
		select {
		case jobs[maphash.String(seed, l.id)%uint64(workers)] <- job{n, l}:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-failed:
			return errStop
		}
	})
	for _, ch := range jobs {
		close(ch)
	}
	wg.Wait()
	if err != nil && err != errStop {
		fail(err)
	}
	return res
}

// errStop stops reading after a failed write, which is the error reported.
var errStop = errors.New("stop")
