package typedstore

import "time"

// TTLOf returns the time to live that a write of v would give it now, for
// the external tests.
func (s *Store[T]) TTLOf(v T) time.Duration { return s.ttlOf(v) }

// PipelineWrites returns how many writes the store has in flight before
// commands queue, or 0 when it does not pipeline, for the external tests.
func (s *Store[T]) PipelineWrites() int {
	if s.pipe == nil {
		return 0
	}
	return s.pipe.Limit()
}

// Rotated is rotated, for the benchmarks of package typedstore_test.
func Rotated[S ~[]E, E any](s S, runs *int) S { return rotated(s, runs) }
