package typedstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore/internal/atrest"
)

// forwardPrefix is prepended to Options.Prefix to form the keys that say,
// for a short while after a session's id was renewed, which id it has now.
const forwardPrefix = "renewed:"

// forwardKey returns the key that forwards the old id id.
func (s *Store[T]) forwardKey(op, id string) (string, error) {
	key, err := s.key(op, id)
	if err != nil {
		return "", err
	}
	return forwardPrefix + key, nil
}

// forward records for ttl that the session under the id from now lives
// under the id to, unless another renewal of from recorded its own id
// first: it returns the id that from forwards to, or to itself when the
// forward recorded first does not open. Under
// Options.EncryptionKeys, the value is to sealed, bound to the key, so that
// whoever can write to Redis cannot forward an old id elsewhere; under
// Options.IDHashKey, the key holds from's hash and the value to sealed
// (under a key derived from IDHashKey, without EncryptionKeys), so that
// neither id stands in clear.
func (s *Store[T]) forward(ctx context.Context, from, to string, ttl time.Duration) (string, error) {
	const op = "forward renewed id"
	key, err := s.forwardKey(op, from)
	if err != nil {
		return "", err
	}
	if err := checkID(op, to); err != nil {
		return "", err
	}
	var value any = to
	if s.forwards != nil {
		value = s.forwards.Seal(key, []byte(to))
	}
	set := redis.NewBoolCmd(ctx, "set", key, value, "nx", "px", ceilMillis(ttl).Milliseconds())
	if err := s.do(ctx, set); err != nil && !errors.Is(err, redis.Nil) {
		return "", s.wrapErr(ctx, op, err)
	}
	if set.Val() {
		return to, nil
	}
	got, err := s.forwarded(ctx, from)
	if err == nil && got == "" {
		// The forward there expired as it was read, or does not open
		// (written by anyone with access to Redis): from forwards nowhere,
		// and this renewal stands.
		return to, nil
	}
	return got, err
}

// forwarded returns the id that the renewed id from now forwards to, or ""
// when it forwards nowhere.
func (s *Store[T]) forwarded(ctx context.Context, from string) (string, error) {
	const op = "read renewed id"
	key, err := s.forwardKey(op, from)
	if err != nil {
		return "", err
	}
	b, err := s.bytes(ctx, "get", key)
	switch {
	case errors.Is(err, redis.Nil):
		return "", nil
	case err != nil:
		return "", s.wrapErr(ctx, op, err)
	}
	to := string(b)
	switch {
	case s.forwards == nil:
	case s.opts.AcceptPlaintext && !atrest.IsSealed(b):
		// written in clear by a program without keys, during a switch
	default:
		plain, _, err := s.forwards.Open(key, b)
		if to = string(plain); err != nil {
			to = "" // a value that does not open forwards nowhere
		}
	}
	if to != "" && len(to) <= MaxIDLen {
		return to, nil
	}
	return "", nil
}

// forwardPrefixErr reports a Prefix or OwnerPrefix under which the keys of
// forward would fall, or the other way round.
func (s *Store[T]) forwardPrefixErr() error {
	fp := forwardPrefix + s.opts.Prefix
	for _, p := range []string{s.opts.Prefix, s.opts.OwnerPrefix} {
		if p == s.opts.OwnerPrefix && s.opts.Owner == nil {
			continue
		}
		if strings.HasPrefix(fp, p) || strings.HasPrefix(p, fp) {
			return fmt.Errorf("the keys of renewed ids, under %q, and those under %q overlap: choose another Prefix", fp, p)
		}
	}
	return nil
}
