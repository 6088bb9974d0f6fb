package harness

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// adminCommands are the commands that set up connections or read the
// statistics, left out of the counts of commands per operation.
var adminCommands = map[string]bool{
	"info": true, "ping": true, "hello": true, "client|setinfo": true, "client|setname": true,
	"client": true, "select": true, "command": true, "command|docs": true, "auth": true,
}

// AdminCommand reports whether name, lower-case as INFO commandstats and
// go-redis's Cmder.Name spell it, is a command that sets up a connection
// or reads the statistics (HELLO, CLIENT SETINFO, SELECT, INFO, PING, …).
// [CommandCalls] leaves these out; a client-side count should too, to
// match it.
func AdminCommand(name string) bool { return adminCommands[name] }

// CommandCalls returns the server's count of calls of each command so far,
// from INFO commandstats, by lower-case name (subcommands as
// "client|setinfo"), less the admin commands ([AdminCommand]). It costs one
// round trip, and the INFO it sends is not counted.
func CommandCalls(ctx context.Context, c *redis.Client) (map[string]int64, error) {
	info, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, err
	}
	calls := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		name, rest, ok := strings.Cut(line, ":calls=")
		if !ok {
			continue
		}
		name = strings.TrimPrefix(name, "cmdstat_")
		if adminCommands[name] {
			continue
		}
		n, _, _ := strings.Cut(rest, ",")
		v, err := strconv.ParseInt(n, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("commandstats line %q: %w", line, err)
		}
		calls[name] = v
	}
	return calls, nil
}

// DiffCalls returns after - before for each command, leaving out those
// not called in between. It does not modify its arguments.
func DiffCalls(before, after map[string]int64) map[string]int64 {
	d := map[string]int64{}
	for k, v := range after {
		if n := v - before[k]; n > 0 {
			d[k] = n
		}
	}
	return d
}
