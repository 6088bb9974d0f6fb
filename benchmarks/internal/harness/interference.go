package harness

// Interference tallies the CPU that processes outside the benchmark took
// during the measurements of a run, as Watch measures it, for the notes
// under the tables, and says which measurements [LeastDisturbed] runs
// again. Set Watch, MaxForeign and Retries before use; the counts start at
// zero.
type Interference struct {
	Watch      *CPUWatch
	MaxForeign float64 // cores: a measurement during which other processes used more is disturbed
	Retries    int     // the most times LeastDisturbed runs a disturbed measurement again

	Kept      int // measurements LeastDisturbed kept
	Retried   int // measurements LeastDisturbed ran again
	Disturbed int // measurements kept although disturbed: their retries ran out

	sum float64 // cores, over the measurements added
	n   int
}

// Add adds the cores that other processes used during one measurement to
// the mean that [Interference.Mean] returns. [LeastDisturbed] adds the
// measurements it keeps; a caller adds those it watches itself.
func (in *Interference) Add(cores float64) {
	in.sum += cores
	in.n++
}

// Mean returns the mean cores that other processes used over the
// measurements added; 0 before the first.
func (in *Interference) Mean() float64 { return in.sum / float64(max(in.n, 1)) }

// LeastDisturbed calls measure between two marks of in.Watch, and calls it
// again, up to in.Retries more times, while other processes used more than
// in.MaxForeign cores during it. It returns the result of the least
// disturbed call and the cores other processes used during it, and counts
// it in in (Add, Kept, Retried, Disturbed). It returns the first error of
// measure at once. Each call costs two [CPUWatch.Mark]s besides measure.
func LeastDisturbed[T any](in *Interference, measure func() (T, error)) (T, float64, error) {
	var best T
	var bestCores float64
	for attempt := 0; ; attempt++ {
		m0 := in.Watch.Mark()
		v, err := measure()
		if err != nil {
			var zero T
			return zero, 0, err
		}
		cores := Foreign(m0, in.Watch.Mark())
		if attempt == 0 || cores < bestCores {
			best, bestCores = v, cores
		}
		if bestCores <= in.MaxForeign || attempt >= in.Retries {
			break
		}
		in.Retried++
	}
	in.Kept++
	in.Add(bestCores)
	if bestCores > in.MaxForeign {
		in.Disturbed++
	}
	return best, bestCores, nil
}
