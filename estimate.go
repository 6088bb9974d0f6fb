package typedstore

import (
	"context"
	"math"
	"strings"

	"github.com/redis/go-redis/v9"
)

// EstimateSamples is the number of keys [Store.EstimateLen] samples on each
// server.
const EstimateSamples = 256

// LenEstimate is an estimate of the number of sessions, made by
// [Store.EstimateLen].
type LenEstimate struct {
	// Sessions is the estimate.
	Sessions int
	// Margin is the half-width of a 95% interval of the sampling error:
	// the true number is within Sessions ± Margin in about 19 estimates
	// out of 20, less the biases that EstimateLen describes. Where every
	// sample is a session, or none is, it is taken as if one in 256 were
	// not, or were: such samples do not prove the share exact. It is 0 only
	// for an empty database.
	Margin int
	// Keys is the number of keys in the databases sampled (DBSIZE, summed
	// over the masters of a cluster or the shards of a ring).
	Keys int
}

// EstimateLen estimates the number of sessions under the store's prefix
// without scanning, for a gauge of active sessions that can be read every
// few seconds at any scale: on each server (every master of a cluster,
// every shard of a ring) it sends DBSIZE and [EstimateSamples] RANDOMKEY
// commands in one pipeline, and multiplies the number of keys by the share
// of the sampled keys that are under the prefix. Each of those commands
// takes constant time, so an estimate costs one round trip per server,
// whatever the number of keys; [Store.Len] is exact and scans them all.
//
// It is exact when the database holds nothing but this store's sessions,
// and otherwise off by a sampling error of about ±2·√(p(1−p)/256) of the
// database's keys (p being the share of them that are sessions: ±6% of
// them at p = ½, ±4% at p = 0.9), which [LenEstimate.Margin] gives. Under
// [Options.Owner], the owner indexes are keys of the database too, and so
// a share of it that is not sessions. Two biases are not in the margin:
// DBSIZE counts keys that have expired and that Redis has not reclaimed
// yet (RANDOMKEY never returns those, so they count as sessions in
// proportion to p: Redis's active expiry keeps them under about a tenth of
// the keys with an expiry, usually far fewer), and RANDOMKEY on a large
// server is close to uniform, not exactly.
func (s *Store[T]) EstimateLen(ctx context.Context) (LenEstimate, error) {
	ctx, p := s.observe(ctx, OpEstimateLen)
	e, err := s.estimateLen(ctx)
	p.end(ctx, Result{Err: err, Sessions: e.Sessions})
	return e, err
}

func (s *Store[T]) estimateLen(ctx context.Context) (LenEstimate, error) {
	const op = "estimate len"
	if err := ctx.Err(); err != nil {
		return LenEstimate{}, s.wrapErr(ctx, op, err)
	}
	servers, err := s.nodes(ctx)
	if err != nil {
		return LenEstimate{}, err
	}
	var e LenEstimate
	var variance float64
	for _, n := range servers {
		var size *redis.IntCmd
		samples := make([]*redis.StringCmd, EstimateSamples)
		_, err := n.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			size = pipe.DBSize(ctx)
			for i := range samples {
				samples[i] = pipe.RandomKey(ctx)
			}
			return nil
		})
		if err != nil && err != redis.Nil {
			return LenEstimate{}, s.wrapErr(ctx, op, err)
		}
		keys := int(size.Val())
		hits, drawn := 0, 0
		for _, c := range samples {
			k, err := c.Result()
			if err != nil { // redis.Nil: the database is empty
				continue
			}
			drawn++
			if strings.HasPrefix(k, s.opts.Prefix) {
				hits++
			}
		}
		e.Keys += keys
		if drawn == 0 {
			continue
		}
		share := float64(hits) / float64(drawn)
		e.Sessions += int(math.Round(share * float64(keys)))
		// The variance of the share, kept away from 0 at the ends: 256
		// hits of 256 do not prove that every key is a session.
		v := max(share*(1-share), 1/float64(drawn)) / float64(drawn)
		variance += v * float64(keys) * float64(keys)
	}
	e.Margin = int(math.Ceil(1.96 * math.Sqrt(variance)))
	return e, nil
}
