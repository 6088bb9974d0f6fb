package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"slices"

	"github.com/typedstore/typedstore"
)

var migrateCmd = &command{
	name:    "migrate",
	summary: "Bring every session to a schema version, editing its JSON; a dry run unless -apply.",
	help: `migrate runs typedstore's Store.Migrate with Version -to: every session
stored with a lower version (in its member -version-key; none is version 0)
gets the edits, in the order given, and the version -to, in one
compare-and-set that keeps its time to live and leaves alone a session
changed meanwhile. Sessions at -to or above are only counted. Edits:

	-set PATH=JSON      set a member (objects on the way are made)
	-rename FROM=TO     move a member, if there
	-delete PATH        remove a member, if there

Without -apply it writes nothing and reports what it would do: how many
sessions are in each version, how many would be migrated, and those that
cannot be (each named by the error, its id cut to a hint of at most six
characters). With -apply it asks
on a terminal (elsewhere it needs -yes). An interrupted migrate is resumed
by running it again: what it migrated is at -to, and only counted.

The application's own Options.Migrations in Go do the same at each
session's next read; migrate is for doing it all at once, ahead of a
deploy that drops the old shape.

With -keys-file (see "typedstore help"), migrate also reseals under the
first key every session sealed under another, in the same write (with
-accept-plaintext, every session stored in clear too); without -to, that
is all it does: the last step of a rotation of keys, or of a switch to
encryption.

Examples:
	typedstore migrate -to 2 -rename userId=user.id
	typedstore migrate -to 2 -rename userId=user.id -set 'user.role="member"' -apply -yes
	typedstore migrate -to 3 -delete legacyCart -version-key v
	typedstore migrate -keys-file /run/secrets/session-keys -apply`,
	setup: func(fs *flag.FlagSet) runFunc {
		var (
			to                   int
			key                  string
			sets, renames, drops listFlag
			apply, yes           bool
		)
		fs.IntVar(&to, "to", 0, "the `version` to bring sessions to (1 or more; required without -keys-file)")
		fs.StringVar(&key, "version-key", typedstore.DefaultVersionKey, "the top-level `member` that holds a session's version")
		fs.Var(&sets, "set", "set `PATH=JSON` (repeatable)")
		fs.Var(&renames, "rename", "rename `FROM=TO` (repeatable)")
		fs.Var(&drops, "delete", "delete the member at `PATH` (repeatable)")
		fs.BoolVar(&apply, "apply", false, "write; without it, migrate is a dry run")
		fs.BoolVar(&yes, "yes", false, "with -apply: write without asking")
		return func(ctx context.Context, a *app, d *db, args []string) error {
			if len(args) > 0 {
				return usagef("migrate takes no arguments (edits are flags)")
			}
			switch {
			case to < 0 || (to == 0 && d.keys == nil):
				return usagef("migrate needs -to, the version to bring sessions to (1 or more), or -keys-file, to reseal them under its first key")
			case to == 0 && len(sets)+len(renames)+len(drops) > 0:
				return usagef("edits need -to, the version they bring sessions to")
			}
			var edits []edit
			for _, f := range []struct {
				op   string
				list listFlag
			}{{"set", sets}, {"rename", renames}, {"delete", drops}} {
				for _, s := range f.list {
					e, err := parseEdit(f.op, s)
					if err != nil {
						return err
					}
					edits = append(edits, e)
				}
			}
			opts := typedstore.Options[anySession]{
				Prefix:          d.g.prefix,
				ScanCount:       d.g.batch,
				MaxSize:         maxValue,
				EncryptionKeys:  d.keys,
				CompressAbove:   d.g.compress,
				AcceptPlaintext: d.g.plaintext,
			}
			if to > 0 {
				opts.Version, opts.VersionKey = to, key
				opts.Migrations = map[int]func([]byte) ([]byte, error){
					to - 1: func(b []byte) ([]byte, error) { return applyEdits(b, edits) },
				}
			}
			s, err := typedstore.New(d.client, opts)
			if err != nil {
				return usageError{err.Error()}
			}
			if apply {
				what := fmt.Sprintf("migrate the sessions under %s on %s to version %d", d.g.prefix, d.host, to)
				if to == 0 {
					what = fmt.Sprintf("reseal the sessions under %s on %s under the first key of -keys-file", d.g.prefix, d.host)
				}
				if err := a.confirm(ctx, yes, what); err != nil {
					return err
				}
			}
			m := a.meter(d.g, "migrate")
			r, err := s.Migrate(ctx, typedstore.MigrateOptions{
				DryRun:   !apply,
				Progress: func(r typedstore.MigrateReport) { m.update(int64(r.Sessions), 0) },
			})
			m.finish()
			printMigrate(a, r, to, apply, d.keys != nil)
			if err != nil {
				return fmt.Errorf("stopped after %d sessions: %w", r.Sessions, err)
			}
			if r.Failed > 0 {
				return fmt.Errorf("%d sessions cannot be migrated", r.Failed)
			}
			return nil
		}
	},
}

// anySession is a session of any shape: every member is one its type does
// not declare, so the store keeps them all, and records the version.
type anySession struct{ typedstore.Extra }

func printMigrate(a *app, r typedstore.MigrateReport, to int, apply, sealed bool) {
	fmt.Fprintf(a.stdout, "sessions: %d\n", r.Sessions)
	if to > 0 {
		for _, v := range slices.Sorted(maps.Keys(r.Versions)) {
			fmt.Fprintf(a.stdout, "  version %d: %d\n", v, r.Versions[v])
		}
	}
	if sealed {
		fmt.Fprintf(a.stdout, "sealed under an older key, or in clear: %d\n", r.OldKey)
	}
	switch {
	case to == 0 && apply:
		fmt.Fprintf(a.stdout, "resealed under the first key: %d\nchanged by another writer meanwhile (left as written): %d\n", r.Migrated, r.Changed)
	case to == 0:
		fmt.Fprintf(a.stdout, "would reseal under the first key: %d (dry run: -apply writes)\n", r.Migrated)
	case apply:
		fmt.Fprintf(a.stdout, "migrated to version %d: %d\nchanged by another writer meanwhile (left as written): %d\n", to, r.Migrated, r.Changed)
	default:
		fmt.Fprintf(a.stdout, "would migrate to version %d: %d (dry run: -apply writes)\n", to, r.Migrated)
	}
	fmt.Fprintf(a.stdout, "cannot be migrated: %d\n", r.Failed)
	for _, err := range r.Errors {
		fmt.Fprintf(a.stdout, "  %s\n", oneLine(err))
	}
}
