package typedstore_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"pgregory.net/rapid"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/clock"
	"github.com/typedstore/typedstore/internal/redistest"
)

// storeMachine checks a Store against a map model under random sequences of
// operations. Time is virtual: the model's clock moves only in Expire, which
// fast-forwards miniredis. TTLs are whole multiples of 10 s plus 5 s and the
// clock moves in steps of 10 s, so the few milliseconds of real time that
// pass during a run never put a key on the edge of its expiry.
type storeMachine struct {
	ctx   context.Context
	mr    *miniredis.Miniredis // nil against a real server, where time does not move
	s     *typedstore.Store[session]
	now   time.Duration // virtual time since the start
	model map[string]modelEntry
	scale time.Duration // unit of the TTLs drawn
}

type modelEntry struct {
	v        session
	expireAt time.Duration // virtual time at which the session expires
}

var machineIDs = []string{"a", "b", "c", "d", "e", "glob*", "nul\x00", "sp ace"}

func (m *storeMachine) drawID(t *rapid.T) string {
	return rapid.SampledFrom(machineIDs).Draw(t, "id")
}

// drawSession draws a session whose cookie expires in -5, 5, 15, … 95 units,
// or that has no cookie expiry (and so takes the store's TTL of 45 units).
func (m *storeMachine) drawSession(t *rapid.T) (session, time.Duration) {
	v := session{
		UserID: rapid.Int64().Draw(t, "user"),
		Name:   rapid.String().Draw(t, "name"),
	}
	if rapid.Bool().Draw(t, "browserCookie") {
		return v, 45 * m.scale
	}
	ttl := time.Duration(rapid.IntRange(-1, 9).Draw(t, "ttl")*10+5) * m.scale
	e := expiring(v.UserID, ttl)
	e.Name = v.Name
	return e, ttl
}

func (m *storeMachine) live() map[string]session {
	out := map[string]session{}
	for id, e := range m.model {
		if e.expireAt > m.now {
			out[id] = e.v
		}
	}
	return out
}

func (m *storeMachine) Set(t *rapid.T) {
	id := m.drawID(t)
	v, ttl := m.drawSession(t)
	if err := m.s.Set(m.ctx, id, v); err != nil {
		t.Fatalf("Set(%q): %v", id, err)
	}
	if ttl <= 0 {
		delete(m.model, id)
		return
	}
	m.model[id] = modelEntry{v: v, expireAt: m.now + ttl}
}

func (m *storeMachine) Get(t *rapid.T) {
	id := m.drawID(t)
	got, err := m.s.Get(m.ctx, id)
	want, ok := m.live()[id]
	switch {
	case !ok && !errors.Is(err, typedstore.ErrNotFound):
		t.Fatalf("Get(%q) = %+v, %v; want ErrNotFound", id, got, err)
	case ok && err != nil:
		t.Fatalf("Get(%q) = %v; want %+v", id, err, want)
	case ok && !sameSession(got, want):
		t.Fatalf("Get(%q) = %+v; want %+v", id, got, want)
	}
}

func (m *storeMachine) Touch(t *rapid.T) {
	id := m.drawID(t)
	v, ttl := m.drawSession(t)
	err := m.s.Touch(m.ctx, id, v)
	e, ok := m.live()[id]
	if !ok {
		if ttl > 0 && !errors.Is(err, typedstore.ErrNotFound) {
			t.Fatalf("Touch(%q) of a missing session = %v; want ErrNotFound", id, err)
		}
		if ttl <= 0 && err != nil {
			t.Fatalf("Touch(%q) with an expired cookie = %v; want nil", id, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Touch(%q): %v", id, err)
	}
	if ttl <= 0 {
		delete(m.model, id)
		return
	}
	m.model[id] = modelEntry{v: e, expireAt: m.now + ttl}
}

func (m *storeMachine) Delete(t *rapid.T) {
	ids := rapid.SliceOfNDistinct(rapid.SampledFrom(machineIDs), 0, 3, rapid.ID).Draw(t, "ids")
	if err := m.s.Delete(m.ctx, ids...); err != nil {
		t.Fatalf("Delete(%q): %v", ids, err)
	}
	for _, id := range ids {
		delete(m.model, id)
	}
}

func (m *storeMachine) Clear(t *rapid.T) {
	if rapid.IntRange(0, 4).Draw(t, "clear") != 0 { // keep Clear rare
		t.Skip("no clear this time")
	}
	if err := m.s.Clear(m.ctx); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	clear(m.model)
}

func (m *storeMachine) Expire(t *rapid.T) {
	if m.mr == nil {
		t.Skip("time does not move on a real server")
	}
	d := time.Duration(rapid.IntRange(1, 5).Draw(t, "steps")) * 10 * m.scale
	m.mr.FastForward(d)
	m.now += d
}

func (m *storeMachine) Check(t *rapid.T) {
	want := m.live()
	if n, err := m.s.Len(m.ctx); err != nil || n != len(want) {
		t.Fatalf("Len = %d, %v; want %d", n, err, len(want))
	}
	seq, errf := m.s.IDs(m.ctx)
	ids := slices.Sorted(seq)
	if err := errf(); err != nil || !slices.Equal(ids, slices.Sorted(maps.Keys(want))) {
		t.Fatalf("IDs = %q, %v; want %q", ids, err, slices.Sorted(maps.Keys(want)))
	}
	all, allErr := m.s.All(m.ctx)
	got := map[string]session{}
	for id, v := range all {
		got[id] = v
	}
	if err := allErr(); err != nil || len(got) != len(want) {
		t.Fatalf("All = %d sessions, %v; want %d", len(got), err, len(want))
	}
	for id, w := range want {
		if !sameSession(got[id], w) {
			t.Fatalf("All[%q] = %+v; want %+v", id, got[id], w)
		}
	}
}

func sameSession(a, b session) bool {
	return a.UserID == b.UserID && a.Name == b.Name && a.Expires().Equal(b.Expires()) &&
		reflect.DeepEqual(a.OriginalMaxAge, b.OriginalMaxAge)
}

func TestStoreMachine(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		mr := miniredis.RunT(t)
		client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		defer client.Close()
		s, err := typedstore.New(client, typedstore.Options[session]{
			TTL:       45 * time.Second,
			ScanCount: rapid.IntRange(1, 5).Draw(t, "scanCount"),
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Repeat(rapid.StateMachineActions(&storeMachine{
			ctx: context.Background(), mr: mr, s: s, model: map[string]modelEntry{}, scale: time.Second,
		}))
	})
}

// checkMachineOnServer runs the state machine against a real server (a
// single redis-server, a cluster or a ring) through client, under a prefix of
// its own that is full of glob characters, with TTLs in minutes and no time
// passing.
func checkMachineOnServer(t *testing.T, client redis.UniversalClient) {
	t.Helper()
	rapid.Check(t, func(rt *rapid.T) {
		s, err := typedstore.New(client, typedstore.Options[session]{
			Prefix:    redistest.UniquePrefix(t) + "[m]*?:",
			TTL:       45 * time.Minute,
			ScanCount: rapid.IntRange(1, 5).Draw(rt, "scanCount"),
		})
		if err != nil {
			rt.Fatal(err)
		}
		ctx := context.Background()
		defer s.Clear(ctx)
		rt.Repeat(rapid.StateMachineActions(&storeMachine{
			ctx: ctx, s: s, model: map[string]modelEntry{}, scale: time.Minute,
		}))
	})
}

// TestStoreMachineRealRedis runs the same machine against a real
// redis-server (TYPEDSTORE_REDIS_ADDR, or one the test starts), under a
// prefix of its own, with TTLs in minutes and no time passing.
func TestStoreMachineRealRedis(t *testing.T) {
	client := redistest.Client(t)
	checkMachineOnServer(t, client)
}

// codecSample exercises the kinds of field a session type has.
type codecSample struct {
	typedstore.Cookie `json:"cookie"`
	ID                int64             `json:"id"`
	Ratio             float64           `json:"ratio"`
	Name              string            `json:"name"`
	Tags              []string          `json:"tags"`
	Attrs             map[string]int    `json:"attrs"`
	Nested            *codecSample      `json:"nested,omitempty"`
	Flags             map[string]bool   `json:"flags,omitempty"`
	When              time.Time         `json:"when"`
	Raw               []byte            `json:"raw"`
	Opt               *string           `json:"opt"`
	Extra             map[string]string `json:"-"`
}

func drawCodecSample(t *rapid.T, depth int) codecSample {
	v := codecSample{
		ID:    rapid.Int64().Draw(t, "id"),
		Ratio: rapid.Float64().Filter(func(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }).Draw(t, "ratio"),
		Name:  rapid.String().Draw(t, "name"),
		Tags:  rapid.SliceOf(rapid.String()).Draw(t, "tags"),
		Attrs: rapid.MapOf(rapid.String(), rapid.Int()).Draw(t, "attrs"),
		When:  time.Unix(rapid.Int64Range(0, 1<<34).Draw(t, "sec"), rapid.Int64Range(0, 999_999_999).Draw(t, "nsec")).UTC(),
		Raw:   rapid.SliceOf(rapid.Byte()).Draw(t, "raw"),
	}
	if rapid.Bool().Draw(t, "hasCookie") {
		exp := time.UnixMilli(rapid.Int64Range(0, 1<<42).Draw(t, "expires")).UTC()
		age := rapid.Int64().Draw(t, "maxAge")
		v.Cookie = typedstore.Cookie{
			OriginalMaxAge: &age, ExpiresAt: &exp, HTTPOnly: rapid.Bool().Draw(t, "httpOnly"),
			Secure: rapid.Bool().Draw(t, "secure"), Path: rapid.String().Draw(t, "path"),
			SameSite: typedstore.SameSite(rapid.SampledFrom([]string{"", "lax", "strict", "none"}).Draw(t, "sameSite")),
		}
	}
	if rapid.Bool().Draw(t, "hasOpt") {
		s := rapid.String().Draw(t, "opt")
		v.Opt = &s
	}
	if depth > 0 && rapid.Bool().Draw(t, "hasNested") {
		n := drawCodecSample(t, depth-1)
		v.Nested = &n
	}
	return v
}

// normalize maps the values that JSON cannot tell apart (nil and empty
// slices and maps) to one form.
func normalize(v *codecSample) {
	if len(v.Tags) == 0 {
		v.Tags = nil
	}
	if len(v.Attrs) == 0 {
		v.Attrs = nil
	}
	if len(v.Raw) == 0 {
		v.Raw = nil
	}
	if v.Nested != nil {
		normalize(v.Nested)
	}
}

func TestJSONCodecRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var codec typedstore.JSONCodec[codecSample]
		in := drawCodecSample(t, 2)
		data, err := codec.Encode(in)
		if err != nil {
			t.Fatalf("Encode: %v", err)
		}
		var out codecSample
		if err := codec.Decode(data, &out); err != nil {
			t.Fatalf("Decode(%s): %v", data, err)
		}
		normalize(&in)
		normalize(&out)
		if !reflect.DeepEqual(in, out) {
			t.Fatalf("Decode(Encode(x)) = %+v; want %+v (JSON %s)", out, in, data)
		}
	})
}

// Any bytes at all, decoded as a session, give a value or an error: never a
// panic.
func TestDecodeArbitraryBytesNeverPanics(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		data := rapid.OneOf(
			rapid.SliceOf(rapid.Byte()),
			rapid.Map(rapid.String(), func(s string) []byte { return []byte(`{"cookie":` + s + `}`) }),
			rapid.Map(rapid.SliceOf(rapid.Byte()), func(b []byte) []byte {
				return append([]byte(`{"cookie":{"expires":"2026-01-01T00:00:00Z","sameSite":`), b...)
			}),
		).Draw(t, "data")
		var v session
		_ = typedstore.JSONCodec[session]{}.Decode(data, &v)
	})
}

func ExampleJSONCodec() {
	var codec typedstore.JSONCodec[session]
	exp := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	maxAge := int64(86400000)
	data, _ := codec.Encode(session{
		Cookie: typedstore.Cookie{OriginalMaxAge: &maxAge, ExpiresAt: &exp, HTTPOnly: true, Path: "/", SameSite: "lax"},
		UserID: 7,
	})
	fmt.Println(string(data))
	// Output:
	// {"cookie":{"originalMaxAge":86400000,"expires":"2026-11-24T12:00:00Z","httpOnly":true,"path":"/","sameSite":"lax"},"userId":7}
}

// ownerMachine checks the owner index against a model under random
// sequences of writes that change owners, deletes, DeleteOwned with kept
// ids, loads and touches that extend sessions, and the passing of time,
// with a MaxPerOwner cap drawn for each run. After every step, each owner's
// OwnedBy must be what the model says (and CountOwned, when drawn), and once OwnedBy has
// run, the owner's index must hold exactly the ids of their live sessions:
// no entry without a session, no live session missing.
//
// All sessions take the store's TTL, so the cap must evict the sessions
// last written or extended earliest. The model knows each session's expiry
// only to within a span: exactly on miniredis, where time moves only in
// steps, and between the instants before and after the call that set it on
// a real server. Among sessions whose spans overlap, either may go, so the
// model asks Redis which went, and checks that as many went as the cap
// says and that no session kept surely expires before one deleted. Time
// moves in steps of 30 units, more than the index's slack of a quarter of
// the TTL.
type ownerMachine struct {
	ctx    context.Context
	mr     *miniredis.Miniredis // nil against a real server, where time does not move
	fake   *clock.Fake
	client redis.UniversalClient
	s      *typedstore.Store[session]
	now    time.Duration
	scale  time.Duration
	cap    int
	model  map[string]ownedModel
}

type ownedModel struct {
	owner    string
	expireAt time.Duration
	// expiry holds the instant the session expires at, on the clock that
	// Redis counts its time to live by: the moment of the last write or
	// extension on miniredis, the span of the call on a real server.
	expiry span
}

// span is an interval of instants, as durations since an origin.
type span struct{ from, to time.Duration }

// before reports whether a surely ends before b begins.
func (a span) before(b span) bool { return a.to < b.from }

// started returns the instant an operation starts, on the clock Redis
// counts time to live by; done, given it, the span of the operation.
func (m *ownerMachine) started() time.Duration {
	if m.mr != nil {
		return m.now
	}
	return time.Duration(time.Now().UnixNano())
}

func (m *ownerMachine) done(start time.Duration) span {
	if m.mr != nil {
		return span{start, start}
	}
	// Redis counts in milliseconds: a millisecond of slack each side.
	return span{start - time.Millisecond, time.Duration(time.Now().UnixNano()) + time.Millisecond}
}

var (
	machineOwners = []string{"", "alice", "bob", "c*?", "nul\x00"}
	ownerTTL      = 100 // units
)

func (m *ownerMachine) live() map[string]ownedModel {
	out := map[string]ownedModel{}
	for id, e := range m.model {
		if e.expireAt > m.now {
			out[id] = e
		}
	}
	return out
}

// ownedBy returns owner's live sessions in the model, sorted.
func (m *ownerMachine) ownedBy(owner string) []string {
	var ids []string
	for id, e := range m.live() {
		if e.owner == owner {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// wrote records a write of id for owner over the span at, and checks what
// the cap did: the sessions of owner it deleted must be as many as the cap
// says, and none of them may surely expire after one it kept.
func (m *ownerMachine) wrote(t *rapid.T, id, owner string, at span) {
	m.model[id] = ownedModel{owner: owner, expireAt: m.now + time.Duration(ownerTTL)*m.scale, expiry: at}
	if owner == "" || m.cap == 0 {
		return
	}
	live := m.live()
	var others []string
	for _, o := range m.ownedBy(owner) {
		if o != id {
			others = append(others, o)
		}
	}
	need := len(others) + 1 - m.cap
	if need <= 0 {
		return
	}
	var kept, gone []string
	for _, o := range others {
		n, err := m.client.Exists(m.ctx, m.s.Prefix()+o).Result()
		if err != nil {
			t.Fatalf("EXISTS %q: %v", o, err)
		}
		if n == 1 {
			kept = append(kept, o)
		} else {
			gone = append(gone, o)
		}
	}
	if len(gone) != need {
		t.Fatalf("writing %q for %q with cap %d deleted %q of %q; want %d deleted", id, owner, m.cap, gone, others, need)
	}
	for _, k := range kept {
		for _, g := range gone {
			if live[k].expiry.before(live[g].expiry) {
				t.Fatalf("writing %q for %q with cap %d kept %q and deleted %q, which expires later", id, owner, m.cap, k, g)
			}
		}
	}
	for _, g := range gone {
		delete(m.model, g)
	}
}

func (m *ownerMachine) Write(t *rapid.T) {
	id := rapid.SampledFrom(machineIDs).Draw(t, "id")
	owner := rapid.SampledFrom(machineOwners).Draw(t, "owner")
	v := session{Name: owner, UserID: rapid.Int64Range(1, 9).Draw(t, "user")}
	_, exists := m.live()[id]
	start := m.started()
	switch op := rapid.SampledFrom([]string{"Set", "Create", "Replace", "Update"}).Draw(t, "op"); op {
	case "Set":
		if err := m.s.Set(m.ctx, id, v); err != nil {
			t.Fatalf("Set(%q, %q): %v", id, owner, err)
		}
	case "Create":
		err := m.s.Create(m.ctx, id, v)
		if exists {
			if !errors.Is(err, typedstore.ErrExists) {
				t.Fatalf("Create(%q) of a live session = %v; want ErrExists", id, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Create(%q, %q): %v", id, owner, err)
		}
	case "Replace", "Update":
		var err error
		if op == "Replace" {
			err = m.s.Replace(m.ctx, id, v)
		} else {
			err = m.s.Update(m.ctx, id, func(old *session) error { old.Name = owner; return nil })
		}
		if !exists {
			if !errors.Is(err, typedstore.ErrNotFound) {
				t.Fatalf("%s(%q) of a missing session = %v; want ErrNotFound", op, id, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("%s(%q, %q): %v", op, id, owner, err)
		}
	}
	m.wrote(t, id, owner, m.done(start))
}

func (m *ownerMachine) Extend(t *rapid.T) {
	id := rapid.SampledFrom(machineIDs).Draw(t, "id")
	e, ok := m.live()[id]
	start := m.started()
	var err error
	if rapid.Bool().Draw(t, "touch") {
		err = m.s.Touch(m.ctx, id, session{Name: e.owner})
	} else {
		var v session
		v, err = m.s.GetAndExtend(m.ctx, id, time.Duration(ownerTTL)*m.scale)
		if err == nil && v.Name != e.owner {
			t.Fatalf("GetAndExtend(%q) = owner %q; want %q", id, v.Name, e.owner)
		}
	}
	if !ok {
		if !errors.Is(err, typedstore.ErrNotFound) {
			t.Fatalf("extending the missing %q = %v; want ErrNotFound", id, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("extending %q: %v", id, err)
	}
	e.expireAt, e.expiry = m.now+time.Duration(ownerTTL)*m.scale, m.done(start)
	m.model[id] = e
}

func (m *ownerMachine) Delete(t *rapid.T) {
	id := rapid.SampledFrom(machineIDs).Draw(t, "id")
	if err := m.s.Delete(m.ctx, id); err != nil {
		t.Fatalf("Delete(%q): %v", id, err)
	}
	delete(m.model, id)
}

func (m *ownerMachine) DeleteOwned(t *rapid.T) {
	owner := rapid.SampledFrom(machineOwners[1:]).Draw(t, "owner")
	keep := rapid.SliceOfNDistinct(rapid.SampledFrom(machineIDs), 0, 2, rapid.ID).Draw(t, "keep")
	var want []string
	for _, id := range m.ownedBy(owner) {
		if !slices.Contains(keep, id) {
			want = append(want, id)
		}
	}
	n, err := m.s.DeleteOwned(m.ctx, owner, keep...)
	if err != nil || n != len(want) {
		t.Fatalf("DeleteOwned(%q, keep %q) = %d, %v; want %d (%q)", owner, keep, n, err, len(want), want)
	}
	for _, id := range want {
		delete(m.model, id)
	}
}

func (m *ownerMachine) Count(t *rapid.T) {
	owner := rapid.SampledFrom(machineOwners[1:]).Draw(t, "owner")
	if n, err := m.s.CountOwned(m.ctx, owner); err != nil || n != len(m.ownedBy(owner)) {
		t.Fatalf("CountOwned(%q) = %d, %v; want %d", owner, n, err, len(m.ownedBy(owner)))
	}
}

func (m *ownerMachine) Expire(t *rapid.T) {
	if m.mr == nil {
		t.Skip("time does not move on a real server")
	}
	d := time.Duration(rapid.IntRange(1, 3).Draw(t, "steps")) * 30 * m.scale
	m.fake.Advance(d)
	m.mr.FastForward(d)
	m.now += d
}

func (m *ownerMachine) Check(t *rapid.T) {
	for _, owner := range machineOwners[1:] {
		want := m.ownedBy(owner)
		seq, errf := m.s.OwnedBy(m.ctx, owner)
		got := slices.Sorted(func(yield func(string) bool) {
			for id := range seq {
				if !yield(id) {
					return
				}
			}
		})
		if err := errf(); err != nil || !slices.Equal(got, want) {
			t.Fatalf("OwnedBy(%q) = %q, %v; want %q", owner, got, err, want)
		}
		entries, err := m.client.ZRange(m.ctx, "owner:"+m.s.Prefix()+owner, 0, -1).Result()
		if slices.Sort(entries); err != nil || !slices.Equal(entries, want) {
			t.Fatalf("after OwnedBy, %q's index = %q, %v; want exactly %q", owner, entries, err, want)
		}
	}
}

// checkOwnerMachine runs the owner machine through client, under a prefix
// of its own full of glob characters, with a clock frozen between steps; mr
// is nil on a real server.
func checkOwnerMachine(t *testing.T, client redis.UniversalClient, mr *miniredis.Miniredis) {
	t.Helper()
	rapid.Check(t, func(rt *rapid.T) {
		fake := clock.NewFake(time.Now())
		clock.Set(rt, fake.Now)
		scale := time.Second
		if mr == nil {
			scale = time.Minute
		}
		m := &ownerMachine{
			ctx: context.Background(), mr: mr, fake: fake, client: client, scale: scale,
			cap: rapid.IntRange(0, 3).Draw(rt, "cap"), model: map[string]ownedModel{},
		}
		s, err := typedstore.New(client, typedstore.Options[session]{
			Prefix:      redistest.UniquePrefix(t) + "[o]*?:",
			TTL:         time.Duration(ownerTTL) * scale,
			ScanCount:   rapid.IntRange(1, 5).Draw(rt, "scanCount"),
			Owner:       byName,
			MaxPerOwner: m.cap,
		})
		if err != nil {
			rt.Fatal(err)
		}
		m.s = s
		defer s.Clear(m.ctx)
		rt.Repeat(rapid.StateMachineActions(m))
	})
}

func TestOwnerMachine(t *testing.T) {
	mr := miniredis.RunT(t)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	t.Cleanup(func() { client.Close() })
	checkOwnerMachine(t, client, mr)
}

// TestOwnerMachineRealRedis is the owner machine on a real redis-server:
// a heavy suite, since every step lists every owner over the network.
func TestOwnerMachineRealRedis(t *testing.T) {
	redistest.Heavy(t)
	checkOwnerMachine(t, redistest.Client(t), nil)
}
