package harness

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Thousands returns x rounded to a whole number, with a comma between
// groups of three digits: "1,234,567".
func Thousands(x float64) string {
	s := fmt.Sprintf("%.0f", x)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Decimal returns x with at most two decimals and without trailing zeros:
// "1", "0.5", "2.33".
func Decimal(x float64) string {
	s := fmt.Sprintf("%.2f", x)
	return strings.TrimRight(strings.TrimRight(s, "0"), ".")
}

// Micros returns a time in microseconds with two decimals under 10 and one
// from 10 on: "4.18", "78.7", "1631.5".
func Micros(x float64) string {
	if x < 10 {
		return fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprintf("%.1f", x)
}

// Commands returns the commands per operation in d, by name, as "GET 1,
// EXPIRE 1": upper-case names in the order of compare, each count
// formatted by num; counts under 0.005 are left out.
func Commands(d map[string]float64, compare func(a, b string) int, num func(float64) string) string {
	var parts []string
	for _, n := range slices.SortedFunc(maps.Keys(d), compare) {
		if d[n] < 0.005 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s", strings.ToUpper(n), num(d[n])))
	}
	return strings.Join(parts, ", ")
}
