package horizon

import "testing"

func TestCovers(t *testing.T) {
	c := New()
	id, alice, bob := c.Hash("session"), c.Hash("alice"), c.Hash("bob")
	value := c.HashBytes([]byte(`{"name":"alice"}`))
	c.Put(id, alice, value, 1000, 0)
	for _, tc := range []struct {
		name         string
		owner, value uint64
		need         int64
		want         bool
	}{
		{"same owner and value, within", alice, value, 1000, true},
		{"value not known", alice, 0, 900, true},
		{"beyond the entry", alice, value, 1001, false},
		{"another owner", bob, value, 10, false},
		{"another value", alice, value + 1, 10, false},
	} {
		if got := c.Covers(id, tc.owner, tc.value, tc.need); got != tc.want {
			t.Errorf("%s: Covers = %v; want %v", tc.name, got, tc.want)
		}
	}
	if c.Covers(c.Hash("other session"), alice, value, 10) {
		t.Error("Covers of a session never put = true")
	}
	c.Forget(id)
	if c.Covers(id, alice, value, 10) {
		t.Error("Covers after Forget = true")
	}
}

func TestHashesAreNeverZero(t *testing.T) {
	c := New()
	for _, s := range []string{"", "a", "\x00"} {
		if c.Hash(s) == 0 || c.HashBytes([]byte(s)) == 0 {
			t.Errorf("a hash of %q is 0, which means unknown", s)
		}
	}
}

// The cache stays within its bound however many sessions pass through it,
// dropping lapsed entries first.
func TestBounded(t *testing.T) {
	c := New()
	const n = 10 * shards * perShard
	for i := range uint64(n) {
		c.Put(i, 1, 1, int64(i), int64(i)-100)
	}
	if got := c.Len(); got > shards*perShard {
		t.Errorf("Len = %d after %d puts; want at most %d", got, n, shards*perShard)
	}
	// The most recent entries, which have not lapsed, are still there.
	if !c.Covers(n-1, 1, 1, n-1) {
		t.Error("the last entry put was dropped")
	}
}
