package typedstore

import (
	"bytes"
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore/internal/jsonfields"
)

// DefaultVersionKey is the top-level member that holds a session's version
// when [Options.VersionKey] is empty.
const DefaultVersionKey = "schemaVersion"

// decodeStored decodes data, the stored value of id under key, read by op:
// it opens it (under Options.EncryptionKeys), applies the migrations from
// the version it was stored with, and returns the members of the
// (migrated) session that T does not declare (nil when T keeps them in its
// Extra, or when there are none), and whether data was stored in an older
// shape or in clear (under AcceptPlaintext), which a write of v would bring
// up to date. A value sealed under an older key is not stale: reads leave
// it to Migrate, since during a rotation's rollout, stores with the keys in
// either order would otherwise reseal it back and forth.
func (s *Store[T]) decodeStored(op, id, key string, data []byte, keep bool) (v T, unknown []byte, stale bool, err error) {
	plain, st, err := s.unseal(op, id, key, data)
	if err != nil {
		return v, nil, false, err
	}
	v, unknown, stale, err = s.decodePlain(op, id, plain, keep || st == inClear)
	return v, unknown, stale || st == inClear, err
}

// decodePlain is decodeStored after unseal.
//
// Finding the members T does not declare costs a second pass over data, so
// it is made only when they have somewhere to go: with keep (the caller
// writes the session back, as Update does), into T's Extra, or into the
// write that brings a stale session up to date. A Get of a T without an
// Extra skips it.
func (s *Store[T]) decodePlain(op, id string, data []byte, keep bool) (v T, unknown []byte, stale bool, err error) {
	var newer []byte // the version member of a session stored by a newer program
	if s.opts.Version > 0 {
		ver, err := s.versionOf(data)
		if err != nil {
			return v, nil, false, opErr(op, &CorruptError{ID: id, Err: err})
		}
		switch {
		case ver > s.opts.Version:
			newer = s.versionMember(ver)
		case ver < s.opts.Version:
			stale = true
			for n := ver; n < s.opts.Version; n++ {
				if m := s.opts.Migrations[n]; m != nil {
					if data, err = m(data); err != nil {
						return v, nil, false, opErr(op, &CorruptError{ID: id, Err: fmt.Errorf("migrate from version %d: %w", n, err)})
					}
				}
			}
		}
	}
	if err := s.opts.Codec.Decode(data, &v); err != nil {
		var zero T
		return zero, nil, false, opErr(op, &CorruptError{ID: id, Err: err})
	}
	if s.fields != nil && (keep || stale || s.carrier) {
		unknown = s.fields.Unknown(data)
		if newer != nil {
			unknown = joinMembers(newer, unknown)
		}
		if s.carrier {
			any(&v).(ExtraCarrier).SessionExtra().members = unknown
			unknown = nil
		}
	}
	return v, unknown, stale, nil
}

// versionOf returns the version data was stored with: the integer in its
// version member, or 0 when it has none.
func (s *Store[T]) versionOf(data []byte) (int, error) {
	// Found as the decoder would find a member of that name, since the
	// store declares it (and so never keeps it as unknown) that way.
	raw := jsonfields.Lookup(data, s.opts.VersionKey)
	if raw == nil {
		return 0, nil
	}
	n, err := strconv.Atoi(string(raw))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("version member %q is not a version (an integer, 0 or more)", s.opts.VersionKey) // its value could be anything in the session
	}
	return n, nil
}

// versionMember returns the member that records version n.
func (s *Store[T]) versionMember(n int) []byte {
	return strconv.AppendInt(append([]byte(nil), s.versionName...), int64(n), 10)
}

// withVersion returns the members to write with a session: members, with
// the store's version in front unless they hold a newer one (which
// decodeStored puts in front).
func (s *Store[T]) withVersion(members []byte) []byte {
	if s.opts.Version == 0 || bytes.HasPrefix(members, s.versionName) {
		return members
	}
	return joinMembers(s.ownVersion, members)
}

// joinMembers returns a and b, members as jsonfields.Unknown returns them,
// as one list.
func joinMembers(a, b []byte) []byte {
	switch {
	case len(a) == 0:
		return b
	case len(b) == 0:
		return a
	}
	out := make([]byte, 0, len(a)+1+len(b))
	return append(append(append(out, a...), ','), b...)
}

// upgradeScript writes a session brought up to date by its migrations over
// the value it was read as, keeping its time to live, unless it changed
// meanwhile. ARGV: the value read, the new value.
var upgradeScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
	return 0
end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
`)

// upgrade writes v, decoded from the stale value old of id, back in the
// current shape, once: if another request changed the session meanwhile
// (or migrated it first), its write stands. A failure is not reported: the
// read succeeded, and the next one migrates again.
func (s *Store[T]) upgrade(ctx context.Context, key string, old []byte, v T, unknown []byte) {
	data, err := s.encode("upgrade", key, v, unknown)
	if err != nil {
		return
	}
	_ = upgradeScript.Run(ctx, s.client, []string{key}, old, data).Err()
}
