package harness

import (
	"slices"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, tt := range []struct {
		xs   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}} {
		in := slices.Clone(tt.xs)
		if got := Median(tt.xs); got != tt.want {
			t.Errorf("Median(%v) = %v; want %v", tt.xs, got, tt.want)
		}
		if !slices.Equal(in, tt.xs) {
			t.Errorf("Median sorted its argument: %v; want %v", tt.xs, in)
		}
	}
}

func TestMedianOf(t *testing.T) {
	type sample struct{ ops float64 }
	ss := []sample{{30}, {10}, {20}}
	if got := MedianOf(ss, func(s sample) float64 { return s.ops }); got != 20 {
		t.Errorf("MedianOf(%v) = %v; want 20", ss, got)
	}
}
