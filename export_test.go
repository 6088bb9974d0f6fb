package typedstore

import "time"

// TTLOf returns the time to live that a write of v would give it now, for
// the external tests.
func (s *Store[T]) TTLOf(v T) time.Duration { return s.ttlOf(v) }
