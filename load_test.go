package typedstore_test

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
)

// Loads of store operations, and checks of what they leave behind, shared
// by the cluster, ring and Sentinel suites.

// setMany writes n sessions "<tag><i>" with UserID i, from 8 goroutines,
// and returns their ids.
func setMany(ctx context.Context, t *testing.T, s *typedstore.Store[session], tag string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%05d", tag, i)
	}
	var wg sync.WaitGroup
	var failures atomic.Int64
	var first atomic.Value
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < n; i += 8 {
				if err := s.Set(ctx, ids[i], session{UserID: int64(i), Name: ids[i]}); err != nil {
					failures.Add(1)
					first.CompareAndSwap(nil, err)
				}
			}
		})
	}
	wg.Wait()
	if f := failures.Load(); f > 0 {
		t.Fatalf("%d of %d Sets failed, one with: %v", f, n, first.Load())
	}
	return ids
}

// checkIterations checks that IDs, All and Len see exactly the sessions
// want (by id, with UserID), each once, and returns how many each saw.
func checkIterations(t *testing.T, s *typedstore.Store[session], want map[string]int64) (nIDs, nAll, nLen int) {
	t.Helper()
	ids, err := collectIDs(t, s)
	if err != nil {
		t.Errorf("IDs: %v", err)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			t.Errorf("IDs yielded %q twice", ids[i])
		}
	}
	if wantIDs := slices.Sorted(maps.Keys(want)); !slices.Equal(ids, wantIDs) {
		t.Errorf("IDs = %d ids; want %d (missing %d, unexpected %d)", len(ids), len(wantIDs),
			len(difference(wantIDs, ids)), len(difference(ids, wantIDs)))
	}
	all, err := collectAll(t, s) // reports duplicates itself
	if err != nil {
		t.Errorf("All: %v", err)
	}
	for id, u := range want {
		if v, ok := all[id]; !ok || v.UserID != u {
			t.Errorf("All[%q] = %+v, %v; want UserID %d", id, v, ok, u)
			break
		}
	}
	if len(all) != len(want) {
		t.Errorf("All = %d sessions; want %d", len(all), len(want))
	}
	n, err := s.Len(context.Background())
	if err != nil || n != len(want) {
		t.Errorf("Len = %d, %v; want %d", n, err, len(want))
	}
	return len(ids), len(all), n
}

// difference returns the elements of a that are not in b.
func difference(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}

// errKind shortens an error to its kind, for counting.
func errKind(err error) string {
	msg := err.Error()
	for _, k := range []string{"connection refused", "CLUSTERDOWN", "TRYAGAIN", "MOVED", "ASK", "EOF", "i/o timeout",
		"connection reset", "deadline exceeded", "LOADING", "READONLY", "wrong value", "not found"} {
		if strings.Contains(msg, k) {
			return k
		}
	}
	return msg
}

// writeLoad writes new sessions, and reads each back, from four goroutines
// while a master fails, and records when writes to the keys that the
// failover affects failed and when they came back. Every write is to a new
// id, so that a write acknowledged and then lost in the failover is not
// hidden by a later one.
type writeLoad struct {
	s        *typedstore.Store[session]
	affected func(id string) bool
	stop     chan struct{}
	wg       sync.WaitGroup
	acked    [][]string // per worker: the ids of the acknowledged writes

	mu                          sync.Mutex
	killedAt, settledAt         time.Time
	firstErr, lastErr           time.Time // start, end of failed writes to affected keys
	otherFirstErr, otherLastErr time.Time // the same, for other keys
	firstOK                     time.Time // end of the first acknowledged write to an affected key started after the kill
	recovered                   chan struct{}
	writes, failed, otherFailed int
	reads, readsFailed          int
	failedSettled               []string // calls started after settledAt that failed
	errKinds                    map[string]int

	// Per worker: calls whose write and read both succeeded, the start of
	// the last of them, and the calls started after settledAt.
	okCalls      []int
	lastOK       []time.Time
	settledCalls []int
	lastHitOK    time.Time // start of the last acknowledged write to an affected key
}

// loadWait bounds each wait for a writeLoad to reach a state.
const loadWait = 30 * time.Second

// startWriteLoad starts the load on s, whose prefix must hold no session,
// until stopAndWait.
func startWriteLoad(s *typedstore.Store[session], affected func(string) bool) *writeLoad {
	const workers = 4
	l := &writeLoad{s: s, affected: affected, stop: make(chan struct{}),
		recovered: make(chan struct{}), errKinds: map[string]int{}, acked: make([][]string, workers),
		okCalls: make([]int, workers), lastOK: make([]time.Time, workers), settledCalls: make([]int, workers)}
	for w := range workers {
		l.wg.Go(func() {
			for seq := 0; ; seq++ {
				select {
				case <-l.stop:
					return
				default:
				}
				id := fmt.Sprintf("w%d-%07d", w, seq)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				start := time.Now()
				err := s.Set(ctx, id, session{UserID: int64(seq), Name: id})
				end := time.Now()
				var rerr error
				if err == nil {
					l.acked[w] = append(l.acked[w], id)
					_, rerr = s.Get(ctx, id)
				}
				cancel()
				l.record(w, id, start, end, err, rerr)
			}
		})
	}
	return l
}

func (l *writeLoad) record(w int, id string, start, end time.Time, err, rerr error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	if err == nil {
		l.reads++
	}
	if err == nil && rerr == nil {
		l.okCalls[w]++
		l.lastOK[w] = start
	}
	if !l.settledAt.IsZero() && start.After(l.settledAt) {
		l.settledCalls[w]++
	}
	if rerr != nil {
		l.readsFailed++
		l.errKinds["Get: "+errKind(rerr)]++
	}
	if err != nil {
		l.errKinds["Set: "+errKind(err)]++
	}
	if !l.settledAt.IsZero() && start.After(l.settledAt) {
		for _, e := range []error{err, rerr} {
			if e != nil && len(l.failedSettled) < 10 {
				l.failedSettled = append(l.failedSettled, fmt.Sprintf("%q: %v", id, e))
			}
		}
	}
	hit := l.affected(id)
	if err == nil && hit {
		l.lastHitOK = start
	}
	switch {
	case err != nil && hit:
		l.failed++
		if l.firstErr.IsZero() {
			l.firstErr = start
		}
		l.lastErr = end
	case err != nil:
		l.otherFailed++
		if l.otherFirstErr.IsZero() {
			l.otherFirstErr = start
		}
		l.otherLastErr = end
	case hit && !l.killedAt.IsZero() && start.After(l.killedAt) && l.firstOK.IsZero():
		l.firstOK = end
		close(l.recovered)
	}
}

// killed records the moment the master died, or the failover began.
func (l *writeLoad) killed() {
	l.mu.Lock()
	l.killedAt = time.Now()
	l.mu.Unlock()
}

// settled records the moment from which every call must succeed.
func (l *writeLoad) settled() {
	l.mu.Lock()
	l.settledAt = time.Now()
	l.mu.Unlock()
}

// waitRecovered waits until a write to an affected key, started after the
// kill, is acknowledged, and returns the window: the time from the kill to
// that acknowledgement.
func (l *writeLoad) waitRecovered(timeout time.Duration) (time.Duration, bool) {
	select {
	case <-l.recovered:
	case <-time.After(timeout):
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.firstOK.Sub(l.killedAt), true
}

// waitUntil waits, polling, until cond, called with l.mu held, is true,
// and reports whether it was within loadWait.
func (l *writeLoad) waitUntil(cond func() bool) bool {
	for deadline := time.Now().Add(loadWait); ; time.Sleep(5 * time.Millisecond) {
		l.mu.Lock()
		ok := cond()
		l.mu.Unlock()
		if ok {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// waitBusy waits until every worker has written and read back n sessions:
// the load runs.
func (l *writeLoad) waitBusy(n int) bool {
	return l.waitUntil(func() bool { return slices.Min(l.okCalls) >= n })
}

// waitWorking waits until every worker has written and read back a session
// in a call started after since, and a write to an affected key started
// after since has been acknowledged: the client works again for every
// goroutine and for the keys that the failover moved.
func (l *writeLoad) waitWorking(since time.Time) bool {
	return l.waitUntil(func() bool {
		for _, t := range l.lastOK {
			if !t.After(since) {
				return false
			}
		}
		return l.lastHitOK.After(since)
	})
}

// waitSettledCalls waits until every worker has made n calls started after
// the moment recorded by settled.
func (l *writeLoad) waitSettledCalls(n int) bool {
	return l.waitUntil(func() bool { return slices.Min(l.settledCalls) >= n })
}

func (l *writeLoad) stopAndWait() {
	close(l.stop)
	l.wg.Wait()
}

// lost returns how many writes were acknowledged and are now missing, among
// the affected keys and among the others, and how many were acknowledged.
func (l *writeLoad) lost(t *testing.T) (affected, other, acked int) {
	t.Helper()
	seq, errf := l.s.IDs(context.Background())
	have := map[string]bool{}
	for id := range seq {
		have[id] = true
	}
	if err := errf(); err != nil {
		t.Fatalf("IDs after the failover: %v", err)
	}
	for _, ids := range l.acked {
		for _, id := range ids {
			acked++
			switch {
			case have[id]:
			case l.affected(id):
				affected++
			default:
				other++
			}
		}
	}
	return affected, other, acked
}

func (l *writeLoad) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	since := func(x time.Time) string {
		if x.IsZero() {
			return "never"
		}
		return "+" + x.Sub(l.killedAt).Round(time.Millisecond).String()
	}
	var kinds []string
	for _, k := range slices.Sorted(maps.Keys(l.errKinds)) {
		kinds = append(kinds, fmt.Sprintf("%s ×%d", k, l.errKinds[k]))
	}
	if len(kinds) == 0 {
		kinds = []string{"none"}
	}
	return fmt.Sprintf("failed writes to the failed master's keys from %s to %s, to other keys from %s to %s; "+
		"%d writes (%d failed on the failed master's keys, %d on others), %d reads (%d failed); errors: %s",
		since(l.firstErr), since(l.lastErr), since(l.otherFirstErr), since(l.otherLastErr),
		l.writes, l.failed, l.otherFailed, l.reads, l.readsFailed, strings.Join(kinds, ", "))
}

// dialLog is a go-redis hook that records the client's dials: which are
// under way, when the last one that succeeded started and when the last
// one that failed ended. After as many failed dials as its size, a
// go-redis pool fails every call that needs a new connection with the last
// dial error, without dialing, until a probe that it runs once a second
// succeeds; the calls served by pooled connections do not show it.
type dialLog struct {
	mu          sync.Mutex
	seq         int
	underWay    map[int]time.Time // start of each dial under way, by sequence number
	lastOK      time.Time         // start of the last successful dial
	lastFailure time.Time         // end of the last failed dial
}

func (d *dialLog) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		start := time.Now()
		d.mu.Lock()
		if d.underWay == nil {
			d.underWay = map[int]time.Time{}
		}
		d.seq++
		seq := d.seq
		d.underWay[seq] = start
		d.mu.Unlock()
		conn, err := next(ctx, network, addr)
		d.mu.Lock()
		delete(d.underWay, seq)
		if err != nil {
			d.lastFailure = time.Now()
		} else {
			d.lastOK = start
		}
		d.mu.Unlock()
		return conn, err
	}
}

func (d *dialLog) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (d *dialLog) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// probeInterval is how often a go-redis pool that stopped dialing after
// failed dials tries to dial again.
const probeInterval = time.Second

// waitDialed waits, polling, until the client's pool dials the server that
// is the master at since, and no earlier failure can make it fail calls any
// more: no dial started before since is under way and, if a dial failed,
// either one started after since has succeeded after the last failure, or
// one and a half probe intervals have passed since the last failure and
// since without another (a pool that had stopped dialing would have probed
// meanwhile, and that dial would have succeeded). It reports whether that
// happened within loadWait.
func (d *dialLog) waitDialed(since time.Time) bool {
	settled := func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, start := range d.underWay {
			if !start.After(since) {
				return false
			}
		}
		if d.lastFailure.IsZero() || d.lastOK.After(since) && d.lastOK.After(d.lastFailure) {
			return true
		}
		return time.Since(laterOf(d.lastFailure, since)) > probeInterval*3/2
	}
	for deadline := time.Now().Add(loadWait); !settled(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			return false
		}
	}
	return true
}

// laterOf returns the later of a and b.
func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
