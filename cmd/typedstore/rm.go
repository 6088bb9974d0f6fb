package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/redis/go-redis/v9"
)

var rmCmd = &command{
	name:    "rm",
	args:    "ID...",
	summary: "Delete sessions by id.",
	help: `rm deletes the sessions under prefix+ID for each ID given (UNLINK), or
under prefix and the hash of ID with -id-hash-key-file, after asking on a
terminal; elsewhere it needs -yes. It reports how many existed.
-dry-run reports that and deletes nothing. The owners' indexes drop the
entries of deleted sessions when next read.

Examples:
	typedstore rm 4f1c2e9a-6a42-4b4c-9d55-1f0e3b8a7c21
	typedstore ls -owner-path userId -owner 42 -json | jq -r .id | xargs typedstore rm -yes`,
	setup: func(fs *flag.FlagSet) runFunc {
		var yes, dry bool
		fs.BoolVar(&yes, "yes", false, "delete without asking")
		fs.BoolVar(&dry, "dry-run", false, "report what would be deleted, and delete nothing")
		return func(ctx context.Context, a *app, d *db, ids []string) error {
			if len(ids) == 0 {
				return usagef("rm needs at least one session id")
			}
			seen := map[string]bool{}
			unique := ids[:0:0]
			for _, id := range ids {
				if id == "" {
					return usagef("an empty session id")
				}
				if name := d.name(id); !seen[name] {
					seen[name] = true
					unique = append(unique, name)
				}
			}
			ids = unique
			found, err := d.existing(ctx, ids)
			if err != nil {
				return err
			}
			if dry {
				fmt.Fprintf(a.stdout, "would delete %d sessions (%d of the ids given have none)\n", len(found), len(ids)-len(found))
				return nil
			}
			if len(found) == 0 {
				fmt.Fprintf(a.stdout, "deleted 0 sessions (none of the %d ids given has one)\n", len(ids))
				return nil
			}
			if err := a.confirm(ctx, yes, fmt.Sprintf("delete %d sessions under %s on %s", len(found), d.g.prefix, d.host)); err != nil {
				return err
			}
			if err := d.store.Delete(context.WithoutCancel(ctx), found...); err != nil {
				return fmt.Errorf("delete: %w", err)
			}
			fmt.Fprintf(a.stdout, "deleted %d sessions (%d of the ids given had none)\n", len(found), len(ids)-len(found))
			return nil
		}
	},
}

// existing returns those of ids that have a session, in one round trip.
func (d *db) existing(ctx context.Context, ids []string) ([]string, error) {
	cmds := make([]*redis.IntCmd, len(ids))
	if _, err := d.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.Exists(ctx, d.g.prefix+id)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("look the sessions up: %w", err)
	}
	var found []string
	for i, c := range cmds {
		if c.Val() == 1 {
			found = append(found, ids[i])
		}
	}
	return found, nil
}
