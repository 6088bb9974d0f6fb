package keyset

import (
	"fmt"
	"runtime"
	"testing"
)

// A string added before is always seen; new ones are new, at 64 bits.
func TestAddSeesWhatItAdded(t *testing.T) {
	s := New()
	const n = 200_000
	for i := range n {
		if !s.Add(fmt.Sprint("sess:", i)) {
			t.Fatalf("Add of new string %d = false; want true", i)
		}
	}
	for i := range n {
		if s.Add(fmt.Sprint("sess:", i)) {
			t.Fatalf("second Add of string %d = true; want false", i)
		}
	}
	if s.Len() != n {
		t.Errorf("Len = %d; want %d", s.Len(), n)
	}
}

// The chance of a false "seen" is that of two fingerprints matching: with
// 16-bit fingerprints, 2000 strings give about 2000²/2¹⁷ ≈ 30.5 false
// "seen" (a Poisson count: outside 5 to 75 by chance less than once in
// 10⁸ runs). A table that probed badly, or a fingerprint that kept fewer
// bits than it says, would fall outside.
func TestFalseSeenRate(t *testing.T) {
	const n, b = 2000, 16
	s := newBits(b)
	falses := 0
	for i := range n {
		if !s.Add(fmt.Sprint("sess:", i)) {
			falses++
		}
	}
	want := float64(n) * float64(n) / float64(uint64(2)<<b)
	if falses < 5 || falses > 75 {
		t.Errorf("%d of %d new strings taken as seen with %d-bit fingerprints; want about %.1f", falses, n, b, want)
	}
}

// At a million strings, the table takes 9 to 14 bytes per string, measured
// on the live heap.
func TestMemoryPerString(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: a million strings")
	}
	const n = 1_000_000
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("sess:%032x", i)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := New()
	for _, k := range keys {
		s.Add(k)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perKey := float64(after.HeapAlloc-before.HeapAlloc) / n
	if perKey < 9 || perKey > 14 {
		t.Errorf("%.1f bytes per string on the heap at %d strings; want 9 to 14", perKey, n)
	}
	if got := float64(s.Bytes()) / n; got < 9 || got > 14 {
		t.Errorf("table of %.1f bytes per string; want 9 to 14", got)
	}
	runtime.KeepAlive(keys)
	runtime.KeepAlive(s)
}

func BenchmarkAdd(b *testing.B) {
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = fmt.Sprintf("sess:%032x", i)
	}
	b.ReportAllocs()
	s := New()
	for i := 0; b.Loop(); i++ {
		if i%len(keys) == 0 {
			s = New()
		}
		s.Add(keys[i%len(keys)])
	}
}

// Each Set has a seed of its own, so the strings that collide differ from
// one Set (one iteration) to the next: with 16-bit fingerprints, two Sets
// over the same 2,000 strings take different ones for seen (about 30 each;
// the chance that two random seeds pick the same ones is negligible).
func TestSeedsDiffer(t *testing.T) {
	falses := func() string {
		s := newBits(16)
		var out []byte
		for i := range 2000 {
			if !s.Add(fmt.Sprint("sess:", i)) {
				out = fmt.Appendf(out, "%d,", i)
			}
		}
		return string(out)
	}
	if a, b := falses(), falses(); a == b {
		t.Errorf("two Sets took the same strings for seen (%s): the seed is not fresh", a)
	}
}
