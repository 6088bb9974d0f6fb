package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/goccy/go-json"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore/internal/atrest"
)

var showCmd = &command{
	name:    "show",
	args:    "ID",
	summary: "Print one session: its time to live and its JSON, indented.",
	help: `show reads the session under prefix+ID, or prefix and the hash of ID under
-id-hash-key-file (GET and PTTL in one round trip). A value that is not
JSON is printed as it is, and a sealed one, without -keys-file, is said to
be sealed. With -json it prints the line that export writes for it:
{"id", "ttl", "value"}.

Examples:
	typedstore show 4f1c2e9a-6a42-4b4c-9d55-1f0e3b8a7c21
	typedstore show -json 4f1c2e9a-6a42-4b4c-9d55-1f0e3b8a7c21 | jq .value.cookie`,
	setup: func(fs *flag.FlagSet) runFunc {
		var asJSON bool
		fs.BoolVar(&asJSON, "json", false, "print one JSON line")
		return func(ctx context.Context, a *app, d *db, args []string) error {
			if len(args) != 1 {
				return usagef("show takes one session id")
			}
			name := d.name(args[0])
			key := d.g.prefix + name
			var get *redis.StringCmd
			var ttl *redis.Cmd
			if _, err := d.client.Pipelined(ctx, func(p redis.Pipeliner) error {
				get, ttl = p.Get(ctx, key), p.Do(ctx, "PTTL", key)
				return nil
			}); err != nil && !errors.Is(err, redis.Nil) {
				return fmt.Errorf("read the session: %w", err)
			}
			value, err := get.Bytes()
			if err == redis.Nil {
				return errors.New("no session under that id") // the id is a credential: not repeated
			}
			if err != nil {
				return fmt.Errorf("read the session: %w", err)
			}
			ms, _ := ttl.Int64()
			size := len(value)
			if value, err = d.open(key, value); err != nil {
				return fmt.Errorf("the session does not open under -keys-file: %w", err)
			}
			r := record{id: name, value: value, ttlMs: ms, size: size}
			if asJSON {
				line, err := exportLine(r)
				if err != nil {
					return err
				}
				_, err = a.stdout.Write(line)
				return err
			}
			fmt.Fprintf(a.stdout, "ttl:  %s\nsize: %d bytes\n", humanTTL(r.ttl()), r.size)
			if d.sealer == nil && atrest.IsSealed(value) {
				_, err := fmt.Fprintln(a.stdout, "value: sealed (-keys-file opens it)")
				return err
			}
			var out bytes.Buffer
			if json.Indent(&out, value, "", "  ") != nil {
				out.Reset()
				out.Write(value)
			}
			out.WriteByte('\n')
			_, err = a.stdout.Write(out.Bytes())
			return err
		}
	},
}
