// Package horizon remembers, for the sessions a process has recently
// indexed, how far their owner index entries reach, so that a load that
// extends a session can tell without asking Redis whether the index already
// covers the new expiry.
//
// It keeps no session ids: entries are keyed by a 64-bit keyed hash of the
// id, and owners and values by hashes too. Memory is bounded: a shard that
// fills up drops its lapsed entries, and then half of the rest. A dropped or
// wrong entry only costs one more index write, never a missed one, except
// through a hash collision (about 2⁻⁶⁴ per pair of ids).
package horizon

import (
	"hash/maphash"
	"sync"
)

const (
	shards   = 16
	perShard = 4096 // entries per shard: 65,536 in all, about 3 MB when full
)

// Cache maps sessions to the expiry, in Unix milliseconds, that their owner
// index entry covers. The zero value is not usable; call New.
type Cache struct {
	seed   maphash.Seed
	shards [shards]shard
}

type shard struct {
	mu sync.Mutex
	m  map[uint64]entry
}

type entry struct {
	owner uint64 // hash of the owner the entry was made for
	value uint64 // hash of the stored value; 0 when not known
	until int64  // Unix ms up to which the index covers the session
}

// New returns an empty Cache.
func New() *Cache {
	c := &Cache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[uint64]entry)
	}
	return c
}

// Hash returns the hash the cache uses for s, never 0.
func (c *Cache) Hash(s string) uint64 { return nonzero(maphash.String(c.seed, s)) }

// HashBytes returns the hash the cache uses for b, never 0.
func (c *Cache) HashBytes(b []byte) uint64 { return nonzero(maphash.Bytes(c.seed, b)) }

func nonzero(h uint64) uint64 {
	if h == 0 {
		return 1
	}
	return h
}

// Covers reports whether the index entry made for session id, of owner, with
// the stored value whose hash is value (0: not known), reaches at least
// need (Unix ms). A value hash of 0 on either side matches any value.
func (c *Cache) Covers(id, owner, value uint64, need int64) bool {
	sh := &c.shards[id%shards]
	sh.mu.Lock()
	e, ok := sh.m[id]
	sh.mu.Unlock()
	return ok && e.owner == owner && (value == 0 || e.value == 0 || e.value == value) && e.until >= need
}

// Put records that session id, of owner, with the stored value whose hash
// is value (0: not known), is indexed up to until (Unix ms). now is the
// current time in Unix ms, for dropping lapsed entries.
func (c *Cache) Put(id, owner, value uint64, until, now int64) {
	sh := &c.shards[id%shards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if _, ok := sh.m[id]; !ok && len(sh.m) >= perShard {
		sh.evict(now)
	}
	sh.m[id] = entry{owner: owner, value: value, until: until}
}

// Forget drops what the cache knows of session id.
func (c *Cache) Forget(id uint64) {
	sh := &c.shards[id%shards]
	sh.mu.Lock()
	delete(sh.m, id)
	sh.mu.Unlock()
}

// Len returns the number of entries, for tests.
func (c *Cache) Len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// evict drops the lapsed entries, and half of the others if that freed
// nothing. The caller holds sh.mu.
func (sh *shard) evict(now int64) {
	for k, e := range sh.m {
		if e.until < now {
			delete(sh.m, k)
		}
	}
	if len(sh.m) < perShard {
		return
	}
	i := 0
	for k := range sh.m { // map order is random: this drops a random half
		if i%2 == 0 {
			delete(sh.m, k)
		}
		i++
	}
}
