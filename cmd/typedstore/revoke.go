package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/typedstore/typedstore"
)

var revokeCmd = &command{
	name:    "revoke",
	summary: "Log a user out everywhere: delete every session of an owner.",
	help: `revoke deletes every session whose member at -owner-path is -owner, after
asking on a terminal; elsewhere it needs -yes. -keep spares sessions (the
one the user is using, say).

When the owner has an index (typedstore's Options.Owner keeps one under
-owner-prefix), revoke reads it, as Store.DeleteOwned does: time in
proportion to that owner's sessions. Otherwise it warns and scans every
session under the prefix, which also finds sessions that no index lists
(written by Express, say). -scan forces the scan.

Examples:
	typedstore revoke -owner-path passport.user -owner alice
	typedstore revoke -owner-path userId -owner 42 -keep 4f1c2e9a-6a42-4b4c-9d55-1f0e3b8a7c21 -yes
	typedstore revoke -owner-path userId -owner 42 -dry-run`,
	setup: func(fs *flag.FlagSet) runFunc {
		var (
			owner          string
			keep           listFlag
			yes, dry, scan bool
		)
		fs.StringVar(&owner, "owner", "", "the `owner` whose sessions to delete (required)")
		fs.Var(&keep, "keep", "a session `id` to keep (repeatable)")
		fs.BoolVar(&yes, "yes", false, "delete without asking")
		fs.BoolVar(&dry, "dry-run", false, "count what would be deleted, and delete nothing")
		fs.BoolVar(&scan, "scan", false, "scan every session even when the owner has an index")
		return func(ctx context.Context, a *app, d *db, args []string) error {
			switch {
			case len(args) > 0:
				return usagef("revoke takes no arguments (the owner is -owner)")
			case owner == "":
				return usagef("revoke needs -owner")
			case d.g.ownerPath == "":
				return usagef("revoke needs -owner-path, which says whose each session is")
			}
			indexed := false
			if !scan {
				n, err := d.client.Exists(ctx, d.ownerKey(owner)).Result()
				if err != nil {
					return fmt.Errorf("look for the owner's index: %w", err)
				}
				indexed = n == 1
			}
			for i, id := range keep {
				keep[i] = d.name(id)
			}
			if indexed {
				return d.revokeIndexed(ctx, a, owner, keep, yes, dry)
			}
			kept := map[string]bool{}
			for _, name := range keep {
				kept[name] = true
			}
			if !scan {
				fmt.Fprintf(a.stderr, "typedstore: warning: no owner index under %s: scanning every session under %s\n", d.ownerKey(""), d.g.prefix)
			}
			var ids []string // the owner's sessions: few, whatever the number of sessions
			sealed, unopened := 0, 0
			m := a.meter(d.g, "revoke: scan")
			warning, err := d.walk(ctx, walkOptions{values: true, progress: m.update}, func(batch []record) error {
				var oe openError
				for _, r := range batch {
					switch {
					case r.sealed:
						sealed++
					case errors.As(r.err, &oe):
						unopened++
					}
					if r.err == nil && !kept[r.id] && d.owner(r.value) == owner {
						ids = append(ids, r.id)
					}
				}
				return nil
			})
			m.finish()
			if err != nil {
				return fmt.Errorf("nothing deleted: %w", err)
			}
			switch {
			case sealed > 0:
				return fmt.Errorf("nothing deleted: %d sessions are sealed, and their owners unknown without -keys-file", sealed)
			case unopened > 0:
				return fmt.Errorf("nothing deleted: %d sessions do not open under -keys-file (sealed under another key, or in clear: see -accept-plaintext), and their owners are unknown", unopened)
			}
			warn(a, warning)
			if dry || len(ids) == 0 {
				reportDeleted(a, dry, len(ids))
				return nil
			}
			if err := a.confirm(ctx, yes, fmt.Sprintf("delete %d sessions of that owner on %s", len(ids), d.host)); err != nil {
				return err
			}
			for start := 0; start < len(ids); start += d.g.batch {
				batch := ids[start:min(start+d.g.batch, len(ids))]
				if err := d.store.Delete(context.WithoutCancel(ctx), batch...); err != nil {
					return fmt.Errorf("deleted %d of %d sessions: %w", start, len(ids), err)
				}
			}
			reportDeleted(a, false, len(ids))
			return nil
		}
	},
}

// ownerKey returns the key of owner's index.
func (d *db) ownerKey(owner string) string {
	p := d.g.ownerPrefix
	if p == "" {
		p = typedstore.DefaultOwnerPrefix + d.g.prefix
	}
	return p + owner
}

func (d *db) revokeIndexed(ctx context.Context, a *app, owner string, keep []string, yes, dry bool) error {
	n, err := d.store.CountOwned(ctx, owner)
	if err != nil {
		return err
	}
	for _, id := range keep {
		if v, err := d.store.Get(ctx, id); err == nil && d.owner(v) == owner {
			n--
		}
	}
	if dry || n == 0 {
		reportDeleted(a, dry, n)
		return nil
	}
	if err := a.confirm(ctx, yes, fmt.Sprintf("delete %d sessions of that owner on %s", n, d.host)); err != nil {
		return err
	}
	deleted, err := d.store.DeleteOwned(context.WithoutCancel(ctx), owner, keep...)
	if err != nil {
		return err
	}
	reportDeleted(a, false, deleted)
	return nil
}

// reportDeleted prints how many sessions revoke deleted, or would have.
func reportDeleted(a *app, dry bool, n int) {
	if dry {
		fmt.Fprintf(a.stdout, "would delete %d sessions\n", n)
	} else {
		fmt.Fprintf(a.stdout, "deleted %d sessions\n", n)
	}
}
