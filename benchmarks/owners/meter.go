package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore/benchmarks/internal/harness"
)

// usage is what some calls cost in Redis: the round trips and the commands
// the client sent, counted by its hook, and the commands Redis ran, from
// INFO commandstats. Those that ran without being sent ran inside scripts.
type usage struct {
	trips int64
	sent  map[string]int64
	ran   map[string]int64
}

// meter measures usage on one hooked client.
type meter struct {
	ctr   *counter
	admin *redis.Client // unhooked; its INFO is left out of the counts
}

type mark struct {
	t     tally
	calls map[string]int64
}

func (m *meter) mark(ctx context.Context) (mark, error) {
	calls, err := harness.CommandCalls(ctx, m.admin)
	return mark{m.ctr.snapshot(), calls}, err
}

func (m *meter) since(ctx context.Context, before mark) (usage, error) {
	after, err := m.mark(ctx)
	if err != nil {
		return usage{}, err
	}
	t := after.t.since(before.t)
	return usage{trips: t.trips, sent: t.sent, ran: harness.DiffCalls(before.calls, after.calls)}, nil
}

// perOp is usage divided by the number of operations it covers.
type perOp struct {
	trips float64
	sent  map[string]float64
	inLua map[string]float64 // ran inside scripts: ran less sent
}

func (u usage) per(ops int64) perOp {
	p := perOp{sent: map[string]float64{}, inLua: map[string]float64{}}
	if ops <= 0 {
		return p
	}
	p.trips = float64(u.trips) / float64(ops)
	for name, n := range u.ran {
		sent := min(u.sent[name], n)
		if sent > 0 {
			p.sent[name] = float64(sent) / float64(ops)
		}
		if n > sent {
			p.inLua[name] = float64(n-sent) / float64(ops)
		}
	}
	return p
}

// meanPerOp averages per-operation usages.
func meanPerOp(ps []perOp) perOp {
	out := perOp{sent: map[string]float64{}, inLua: map[string]float64{}}
	for _, p := range ps {
		out.trips += p.trips / float64(len(ps))
		for k, v := range p.sent {
			out.sent[k] += v / float64(len(ps))
		}
		for k, v := range p.inLua {
			out.inLua[k] += v / float64(len(ps))
		}
	}
	return out
}

// cmdOrder is the order in which commands are shown: about the order in
// which the operations send or run them.
var cmdOrder = []string{
	"scan", "zscan", "get", "getex", "mget", "type", "set", "pexpire", "del", "unlink", "evalsha", "eval",
	"zremrangebyscore", "zadd", "zrange", "persist", "zcard", "zscore", "zrem",
}

// fmtCmds shows commands per operation by name, in the order of cmdOrder:
// "SET 1, EVALSHA 1". Fractions under 0.005 are left out.
func fmtCmds(d map[string]float64) string {
	rank := func(n string) int {
		if i := slices.Index(cmdOrder, n); i >= 0 {
			return i
		}
		return len(cmdOrder)
	}
	return harness.Commands(d, func(a, b string) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), cmp.Compare(a, b))
	}, trimFloat)
}

// fmtUsage shows the commands sent, and, in brackets, those run inside
// scripts.
func fmtUsage(p perOp) string {
	s := fmtCmds(p.sent)
	if in := fmtCmds(p.inLua); in != "" {
		s += " (in the script: " + in + ")"
	}
	return s
}

// trimFloat is [harness.Decimal], with commas from 100 on: the SCAN ways
// of a large run send thousands of commands.
func trimFloat(x float64) string {
	if x >= 100 {
		return harness.Thousands(x)
	}
	return harness.Decimal(x)
}

// fmtUs is [harness.Micros], rounded to whole microseconds with commas
// from 1,000 on: the SCAN ways take hundreds of milliseconds.
func fmtUs(x float64) string {
	if x >= 1000 {
		return harness.Thousands(x)
	}
	return harness.Micros(x)
}

// fmtRatio shows the median of ratios, with the lowest and highest in
// brackets when there are several.
func fmtRatio(rs []float64) string {
	if len(rs) == 0 {
		return "–"
	}
	f := func(x float64) string {
		if x >= 100 {
			return harness.Thousands(x)
		}
		return fmt.Sprintf("%.2f", x)
	}
	s := f(harness.Median(rs)) + "×"
	if len(rs) > 1 {
		s += fmt.Sprintf(" (%s–%s)", f(slices.Min(rs)), f(slices.Max(rs)))
	}
	return s
}
