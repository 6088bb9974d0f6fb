package typedstore

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// DecodeAction says what a [Store] does with a stored session that cannot
// be decoded or migrated: see [Options.OnDecodeError].
type DecodeAction int

const (
	// DecodeFail reports the error, wrapping a [*CorruptError], and leaves
	// the stored value as it is: the default.
	DecodeFail DecodeAction = iota
	// DecodeMissing reports the session as missing ([ErrNotFound]) and
	// leaves the stored value for its time to live to remove: a caller such
	// as package httpsession starts a new session, and the value can still
	// be examined.
	DecodeMissing
	// DecodeDelete deletes the stored value and reports the session as
	// missing.
	DecodeDelete
	// DecodeRepair uses the value that OnDecodeError returns, with the
	// stored members that T does not declare, and writes it back: from Get
	// and GetAndExtend as a migrated session is written back (once, by
	// compare-and-set, keeping the time to live), from Update as Update
	// writes.
	DecodeRepair
)

// decodeOrRepair is decodeStored for the reads of one session (Get,
// GetAndExtend, Update): a value that cannot be decoded goes to
// OnDecodeError, which may repair it (stale is then set, so that the caller
// writes the repaired value back) or have it deleted or taken for missing.
func (s *Store[T]) decodeOrRepair(ctx context.Context, p probe, op, id, key string, data []byte, keep bool) (v T, unknown []byte, stale bool, err error) {
	plain, st, err := s.unseal(op, id, key, data)
	opened := err == nil
	if opened {
		v, unknown, stale, err = s.decodePlain(op, id, plain, keep || st == inClear)
		stale = stale || st == inClear
		data = plain
	}
	var ce *CorruptError
	if err == nil || !errors.As(err, &ce) {
		return v, unknown, stale, err
	}
	p.event(ctx, id, Event{Kind: EventCorrupt, Bytes: len(data), Err: ce.Err})
	if s.opts.OnDecodeError == nil {
		return v, unknown, stale, err
	}
	repaired, action := s.opts.OnDecodeError(data, ce.Err)
	switch action {
	case DecodeMissing:
		return v, nil, false, notFoundErr(op)
	case DecodeDelete:
		if derr := s.do(ctx, redis.NewIntCmd(ctx, "unlink", key)); derr != nil {
			return v, nil, false, s.wrapErr(ctx, op+": delete undecodable session", derr)
		}
		return v, nil, false, notFoundErr(op)
	case DecodeRepair:
		// What the stored value holds beside T's members is kept, as for
		// any write of a session read first, and so is a newer version;
		// nothing of a value that did not open (which may be anyone's) is.
		unknown = nil
		if s.fields != nil && opened {
			unknown = s.fields.Unknown(data)
			if ver, verr := s.versionOf(data); verr == nil && s.opts.Version > 0 && ver > s.opts.Version {
				unknown = joinMembers(s.versionMember(ver), unknown)
			}
			if s.carrier {
				any(&repaired).(ExtraCarrier).SessionExtra().members = unknown
				unknown = nil
			}
		}
		return repaired, unknown, true, nil
	}
	return v, unknown, stale, err
}
