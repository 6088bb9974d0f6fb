package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"unicode/utf8"

	"github.com/goccy/go-json"

	"github.com/typedstore/typedstore"
)

var exportCmd = &command{
	name:    "export",
	summary: "Write every session, with its time to live, as JSON Lines.",
	help: `export writes one line per session under the prefix:

	{"id":"…","ttl":86399000,"value":{…}}

ttl is the time to live left, in milliseconds (-1: none), which import
gives the session again. value is the stored JSON, byte for byte; a value
that is not JSON on one line (another codec, a newline inside, space
around it) is written as "bytes", in base64, instead. Keys under the
prefix that hold another type than a string, or whose id typedstore does
not write (empty, longer than 1024 bytes, not UTF-8), are counted on
stderr, not exported.

With -keys-file, values are written opened, in clear; without it, sealed
values are written as they are, in base64. A file that -o creates is
readable by its owner only.

export streams: its memory does not grow with the number of sessions. On
Ctrl-C it stops after the line it is writing: the file then holds whole
lines, a valid export of the sessions it names, and the command exits
with status 130. A session written or deleted during the export may or may
not be in it.

Examples:
	typedstore export -o sessions.jsonl
	typedstore export -url rediss://old.internal:6380 | typedstore import -url 'redis://new1:7000?addr=new2:7000' -`,
	setup: func(fs *flag.FlagSet) runFunc {
		var out string
		fs.StringVar(&out, "o", "-", "the `file` to write (- for stdout)")
		return func(ctx context.Context, a *app, d *db, args []string) error {
			if len(args) > 0 {
				return usagef("export takes no arguments (the file is -o)")
			}
			var w io.Writer = a.stdout
			name := "stdout"
			if out != "-" {
				// Only its owner may read it: it holds sessions, in clear
				// under -keys-file.
				f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
				if err != nil {
					return err
				}
				defer f.Close()
				w, name = f, out
			}
			bw := bufio.NewWriterSize(w, 256<<10)
			var n, other, unfit int64
			m := a.meter(d.g, "export")
			warning, err := d.walk(ctx, walkOptions{values: true, progress: m.update}, func(batch []record) error {
				for _, r := range batch {
					if r.err != nil {
						other++
						continue
					}
					if !importable(r.id) {
						unfit++
						continue
					}
					line, err := exportLine(r)
					if err != nil {
						return err
					}
					if _, err := bw.Write(line); err != nil {
						return err
					}
					n++
				}
				return nil
			})
			m.finish()
			// Every line was written whole: flushing keeps the file a
			// valid export, whatever stopped the walk.
			if ferr := bw.Flush(); err == nil {
				err = ferr
			}
			if f, ok := w.(*os.File); ok && out != "-" {
				if fi, serr := f.Stat(); serr == nil && fi.Mode().IsRegular() {
					if serr := f.Sync(); err == nil {
						err = serr
					}
				}
			}
			if other > 0 {
				fmt.Fprintf(a.stderr, "typedstore: warning: %d keys under %s hold another type than a string, or a value that does not open under -keys-file: not exported\n", other, d.g.prefix)
			}
			if unfit > 0 {
				fmt.Fprintf(a.stderr, "typedstore: warning: %d keys under %s have an id that typedstore does not write (empty, longer than %d bytes, or not UTF-8): not exported\n", unfit, d.g.prefix, typedstore.MaxIDLen)
			}
			if err != nil && ctx.Err() != nil {
				return fmt.Errorf("exported %d sessions to %s, whole lines, before: %w", n, name, err)
			}
			if err != nil {
				return fmt.Errorf("%s: after %d sessions: %w", name, n, err)
			}
			warn(a, warning)
			fmt.Fprintf(a.stderr, "exported %d sessions to %s\n", n, name)
			return nil
		}
	},
}

// importable reports whether import can write a session under id: one
// that typedstore accepts, and that a JSON string holds as it is.
func importable(id string) bool {
	return id != "" && len(id) <= typedstore.MaxIDLen && utf8.ValidString(id)
}

// exportedLine is one line of an export, as import reads it.
type exportedLine struct {
	ID    *string         `json:"id"`
	TTL   *int64          `json:"ttl"`
	Value json.RawMessage `json:"value"`
	Bytes []byte          `json:"bytes"`
}

// exportLine returns the line, newline included, that export writes for r.
// It is built by hand so that the value is written byte for byte (an
// encoder would compact it).
func exportLine(r record) ([]byte, error) {
	id, err := json.MarshalWithOption(r.id, json.DisableHTMLEscape())
	if err != nil {
		return nil, fmt.Errorf("encode an id: %w", err)
	}
	ttl := r.ttlMs
	if ttl == 0 {
		ttl = 1 // expiring now: PTTL rounds down
	}
	b := make([]byte, 0, len(r.value)+len(id)+40)
	b = append(b, `{"id":`...)
	b = append(b, id...)
	b = append(b, `,"ttl":`...)
	b = strconv.AppendInt(b, ttl, 10)
	// A value with a line break inside, or space around it, would not be
	// read back byte for byte.
	if !bytes.ContainsAny(r.value, "\r\n") && len(bytes.TrimSpace(r.value)) == len(r.value) && json.Valid(r.value) {
		b = append(b, `,"value":`...)
		b = append(b, r.value...)
	} else {
		b = append(b, `,"bytes":"`...)
		b = base64.StdEncoding.AppendEncode(b, r.value)
		b = append(b, '"')
	}
	return append(b, "}\n"...), nil
}
