package harness

import "slices"

// Median returns the median of xs, the mean of the middle two when their
// number is even, and 0 when there are none. It sorts a copy: xs is left
// as it is.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	xs = slices.Clone(xs)
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

// MedianOf returns the [Median] of f over ss: one figure of a cell's
// samples over the repetitions.
func MedianOf[S any](ss []S, f func(S) float64) float64 {
	xs := make([]float64, len(ss))
	for i, s := range ss {
		xs[i] = f(s)
	}
	return Median(xs)
}
