package main

import (
	"context"
	"flag"
	"fmt"
)

var countCmd = &command{
	name:    "count",
	summary: "Print the number of sessions under the prefix.",
	help: `count walks the keys under the prefix with SCAN (every master of a
cluster) without reading a value. A key that Redis returns twice while it
resizes its table is counted twice; stats reads every session instead.

Examples:
	typedstore count
	typedstore count -url redis://cache.internal:6379/2 -prefix myapp:
	typedstore count -url 'redis://10.0.0.1:7000?addr=10.0.0.2:7000&addr=10.0.0.3:7000'`,
	setup: func(fs *flag.FlagSet) runFunc {
		return func(ctx context.Context, a *app, d *db, args []string) error {
			if len(args) > 0 {
				return usagef("count takes no arguments")
			}
			m := a.meter(d.g, "count")
			var n int64
			warning, err := d.walk(ctx, walkOptions{progress: m.update}, func(batch []record) error {
				n += int64(len(batch))
				return nil
			})
			m.finish()
			if err != nil {
				return fmt.Errorf("after %d sessions: %w", n, err)
			}
			warn(a, warning)
			fmt.Fprintln(a.stdout, n)
			return nil
		}
	},
}

// warn prints a warning, if any, on stderr.
func warn(a *app, warning string) {
	if warning != "" {
		fmt.Fprintln(a.stderr, "typedstore: warning:", warning)
	}
}
