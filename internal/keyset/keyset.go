// Package keyset remembers which strings it has seen, as 64-bit
// fingerprints in an open-addressing table: 9 to 14 bytes per string
// whatever its length, where a Go map of 128-bit hashes takes about 18 to
// 36.
//
// The cost of the fingerprint is a false "seen": two different strings with
// the same fingerprint. Among n strings, the chance that any two share one
// is about n²/2⁶⁵: 3×10⁻⁸ for a million, 3×10⁻⁶ for ten million, 3×10⁻⁴ for
// a hundred million. A string seen before is always reported as seen.
package keyset

import (
	"hash/maphash"
	"math/bits"
)

// Set is a set of fingerprints of strings. Its zero value is not usable:
// call New. It is not safe for concurrent use.
type Set struct {
	seed  maphash.Seed
	mask  uint64   // the bits of a hash kept as the fingerprint
	slots []uint64 // fingerprints; 0 is an empty slot
	n     int
}

const minSlots = 64

// New returns an empty Set with a random seed, so that the strings that
// collide differ from one Set to the next.
func New() *Set { return newBits(64) }

// newBits returns a Set that keeps only the low b bits of each hash: for
// tests of the rate of false "seen", which is too small to see at 64.
func newBits(b uint) *Set {
	return &Set{seed: maphash.MakeSeed(), mask: ^uint64(0) >> (64 - b), slots: make([]uint64, minSlots)}
}

// Add records s and reports whether it was new: false for a string added
// before, and (rarely, see the package documentation) for a new one whose
// fingerprint an earlier string has.
func (s *Set) Add(str string) bool {
	f := maphash.String(s.seed, str) & s.mask
	if f == 0 {
		f = 1 // 0 marks an empty slot
	}
	if !insert(s.slots, f) {
		return false
	}
	s.n++
	if s.n > len(s.slots)/8*7 {
		s.grow()
	}
	return true
}

// Len returns the number of fingerprints recorded.
func (s *Set) Len() int { return s.n }

// Bytes returns the size of the table, for measurements.
func (s *Set) Bytes() int { return 8 * len(s.slots) }

// grow moves the fingerprints to a table half as large again, which keeps
// the table between 7/12 and 7/8 full.
func (s *Set) grow() {
	old := s.slots
	s.slots = make([]uint64, len(old)+len(old)/2)
	for _, f := range old {
		if f != 0 {
			insert(s.slots, f)
		}
	}
}

// insert puts f in the first free slot from its home, by linear probing,
// and reports whether it was not there already. The home is f scaled to
// the table's length (Lemire's multiply-shift), so the length need not be a
// power of two; the fingerprint's high bits pick it, so a fingerprint of
// fewer bits is first spread over all 64.
func insert(slots []uint64, f uint64) bool {
	home, _ := bits.Mul64(f*0x9e3779b97f4a7c15, uint64(len(slots)))
	for i := home; ; {
		switch slots[i] {
		case 0:
			slots[i] = f
			return true
		case f:
			return false
		}
		if i++; i == uint64(len(slots)) {
			i = 0
		}
	}
}
