package typedstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
)

// pipelineCounter is a go-redis hook that counts the GETs and SETs a
// client sends as plain commands and in pipelines (not the commands
// go-redis sends to set up a connection).
type pipelineCounter struct {
	pipelines, pipelined, plain atomic.Int64
}

func isGetOrSet(cmd redis.Cmder) bool { return cmd.Name() == "get" || cmd.Name() == "set" }

func (*pipelineCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *pipelineCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if isGetOrSet(cmd) {
			h.plain.Add(1)
		}
		return next(ctx, cmd)
	}
}

func (h *pipelineCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		n := 0
		for _, c := range cmds {
			if isGetOrSet(c) {
				n++
			}
		}
		if n > 0 {
			h.pipelines.Add(1)
			h.pipelined.Add(int64(n))
		}
		return next(ctx, cmds)
	}
}

// By default, one caller's commands go out as plain commands, and many
// concurrent callers' share pipelines; with DisablePipelining, none does.
func TestPipeliningIsTheDefault(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    typedstore.Options[session]
		callers int
		shared  bool
		ring    bool // a *redis.Ring of two servers: every client pipelines
	}{
		{"one caller", typedstore.Options[session]{}, 1, false, false},
		{"64 callers", typedstore.Options[session]{}, 64, true, false},
		{"64 callers, DisablePipelining", typedstore.Options[session]{DisablePipelining: true}, 64, false, false},
		{"64 callers on a ring", typedstore.Options[session]{}, 64, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h pipelineCounter
			var s *typedstore.Store[session]
			if tc.ring {
				ring := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{
					"a": miniredis.RunT(t).Addr(), "b": miniredis.RunT(t).Addr(),
				}})
				t.Cleanup(func() { ring.Close() })
				ring.AddHook(&h)
				var err error
				if s, err = typedstore.New(ring, tc.opts); err != nil {
					t.Fatal(err)
				}
			} else {
				var client *redis.Client
				_, client, s = newMini(t, tc.opts)
				client.AddHook(&h)
			}
			ctx := context.Background()
			const rounds = 50
			var wg sync.WaitGroup
			for w := range tc.callers {
				wg.Go(func() {
					id := fmt.Sprint("w", w)
					for i := range rounds {
						if err := s.Set(ctx, id, session{UserID: int64(i)}); err != nil {
							t.Error(err)
							return
						}
						if got, err := s.Get(ctx, id); err != nil || got.UserID != int64(i) {
							t.Errorf("Get(%s) = %d, %v; want %d", id, got.UserID, err, i)
							return
						}
					}
				})
			}
			wg.Wait()
			all := int64(2 * rounds * tc.callers)
			if got := h.plain.Load() + h.pipelined.Load(); got != all {
				t.Errorf("%d commands sent; want %d", got, all)
			}
			switch {
			case tc.shared && h.pipelines.Load() == 0:
				t.Errorf("no pipeline among %d concurrent callers; want them to share", tc.callers)
			case !tc.shared && h.pipelines.Load() != 0:
				t.Errorf("%d pipelines carrying %d commands; want plain commands only", h.pipelines.Load(), h.pipelined.Load())
			}
		})
	}
}

// Under many concurrent callers, some of which give up at any point, every
// call returns its own result: its context's error, or the reply to its
// own command; run with -race, no call reads a command that a pipeline is
// still filling in.
func TestPipelinedCallsThatGiveUp(t *testing.T) {
	mr, _, s := newMini(t, typedstore.Options[session]{PipelineWrites: 1, Owner: func(v session) string { return v.Name }})
	mr.HSet("sess:hash", "f", "v")
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 48 {
		wg.Go(func() {
			id := fmt.Sprint("w", w)
			for i := range 60 {
				sctx, cancel := ctx, context.CancelFunc(func() {})
				if (w+i)%5 == 0 {
					sctx, cancel = context.WithTimeout(ctx, time.Duration(i%4)*10*time.Microsecond)
				}
				owner := ""
				if i%3 == 0 {
					owner = "alice"
				}
				err := s.Set(sctx, id, session{UserID: int64(i), Name: owner})
				if err == nil {
					err = s.Touch(sctx, id, session{})
				}
				if err == nil {
					_, err = s.GetAndExtend(sctx, id, time.Hour)
				}
				cancel()
				if err != nil && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("Set, Touch or GetAndExtend of %s: %v", id, err)
					return
				}
				if _, err := s.Get(ctx, "hash"); !errors.Is(err, typedstore.ErrCorrupt) {
					t.Errorf("Get of a hash = %v; want ErrCorrupt", err)
					return
				}
				if _, err := s.Get(ctx, "missing"); !errors.Is(err, typedstore.ErrNotFound) {
					t.Errorf("Get of a missing session = %v; want ErrNotFound", err)
					return
				}
				if err := s.Delete(ctx, "missing"); err != nil {
					t.Errorf("Delete of a missing session: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// PipelineWrites defaults to DefaultPipelineWrites; DisablePipelining
// turns pipelining off.
func TestPipelineWrites(t *testing.T) {
	for _, tc := range []struct {
		opts typedstore.Options[session]
		want int
	}{
		{typedstore.Options[session]{}, typedstore.DefaultPipelineWrites},
		{typedstore.Options[session]{PipelineWrites: 5}, 5},
		{typedstore.Options[session]{DisablePipelining: true, PipelineWrites: 5}, 0},
	} {
		_, _, s := newMini(t, tc.opts)
		if got := s.PipelineWrites(); got != tc.want {
			t.Errorf("with %+v: %d writes before commands queue; want %d", tc.opts, got, tc.want)
		}
	}
	if typedstore.DefaultPipelineWrites != 2 {
		t.Errorf("DefaultPipelineWrites = %d; the docs and benchmarks say 2", typedstore.DefaultPipelineWrites)
	}
}
