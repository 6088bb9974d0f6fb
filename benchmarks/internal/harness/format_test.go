package harness

import (
	"cmp"
	"testing"
)

func TestNumbers(t *testing.T) {
	for _, tt := range []struct {
		name string
		f    func(float64) string
		x    float64
		want string
	}{
		{"Thousands", Thousands, 0, "0"},
		{"Thousands", Thousands, 999.4, "999"},
		{"Thousands", Thousands, 1000, "1,000"},
		{"Thousands", Thousands, 1234567, "1,234,567"},
		{"Thousands", Thousands, -1234, "-1,234"},
		{"Decimal", Decimal, 1, "1"},
		{"Decimal", Decimal, 0.5, "0.5"},
		{"Decimal", Decimal, 2.333, "2.33"},
		{"Decimal", Decimal, 0.004, "0"},
		{"Decimal", Decimal, 1000, "1000"},
		{"Micros", Micros, 4.181, "4.18"},
		{"Micros", Micros, 9.994, "9.99"},
		{"Micros", Micros, 10, "10.0"},
		{"Micros", Micros, 1631.54, "1631.5"},
	} {
		if got := tt.f(tt.x); got != tt.want {
			t.Errorf("%s(%v) = %q; want %q", tt.name, tt.x, got, tt.want)
		}
	}
}

func TestCommands(t *testing.T) {
	d := map[string]float64{"get": 1, "expire": 0.5, "scan": 0.004}
	got := Commands(d, func(a, b string) int { return cmp.Compare(d[b], d[a]) }, Decimal)
	if want := "GET 1, EXPIRE 0.5"; got != want {
		t.Errorf("Commands(%v) = %q; want %q", d, got, want)
	}
	if got := Commands(nil, cmp.Compare[string], Decimal); got != "" {
		t.Errorf("Commands(nil) = %q; want \"\"", got)
	}
}
