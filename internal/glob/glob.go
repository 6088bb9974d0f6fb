// Package glob escapes key prefixes for the patterns of Redis's SCAN MATCH.
package glob

import "strings"

// Escape escapes the characters that SCAN MATCH gives a meaning to, so
// that the pattern Escape(p)+"*" matches exactly the keys that start with
// p.
func Escape(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '*', '?', '[', ']', '\\', '^', '-':
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
