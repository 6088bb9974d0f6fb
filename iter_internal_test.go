package typedstore

import (
	"strings"
	"testing"

	"github.com/typedstore/typedstore/internal/glob"
)

// globMatch is a reference implementation of the glob that Redis's SCAN
// MATCH uses (stringmatchlen in util.c), written from its documentation:
// * any run of bytes, ? any one byte, [abc] [^abc] [a-z] a class, and \x
// the byte x itself.
func globMatch(pattern, s string) bool {
	for len(pattern) > 0 {
		switch pattern[0] {
		case '*':
			for len(pattern) > 1 && pattern[1] == '*' {
				pattern = pattern[1:]
			}
			if len(pattern) == 1 {
				return true
			}
			for i := 0; i <= len(s); i++ {
				if globMatch(pattern[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if len(s) == 0 {
				return false
			}
			s = s[1:]
			pattern = pattern[1:]
		case '[':
			if len(s) == 0 {
				return false
			}
			pattern = pattern[1:]
			not := len(pattern) > 0 && pattern[0] == '^'
			if not {
				pattern = pattern[1:]
			}
			match := false
			for {
				if len(pattern) == 0 {
					break // unterminated class: Redis treats the end as ']'
				}
				if pattern[0] == ']' {
					pattern = pattern[1:]
					break
				}
				switch {
				case pattern[0] == '\\' && len(pattern) >= 2:
					if pattern[1] == s[0] {
						match = true
					}
					pattern = pattern[2:]
				case len(pattern) >= 3 && pattern[1] == '-':
					lo, hi := pattern[0], pattern[2]
					if lo > hi {
						lo, hi = hi, lo
					}
					if s[0] >= lo && s[0] <= hi {
						match = true
					}
					pattern = pattern[3:]
				default:
					if pattern[0] == s[0] {
						match = true
					}
					pattern = pattern[1:]
				}
			}
			if match == not {
				return false
			}
			s = s[1:]
		case '\\':
			if len(pattern) >= 2 {
				pattern = pattern[1:]
			}
			fallthrough
		default:
			if len(s) == 0 || pattern[0] != s[0] {
				return false
			}
			s = s[1:]
			pattern = pattern[1:]
		}
	}
	return len(s) == 0
}

func TestGlobMatchReference(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"a*", "abc", true},
		{"a*", "ba", false},
		{"a?c", "abc", true},
		{"a[1]:*", "a1:x", true},
		{"a[1]:*", "a[1]:x", false},
		{`a\[1\]:*`, "a[1]:x", true},
		{"[^x]y", "ay", true},
		{"[^x]y", "xy", false},
		{"[a-c]", "b", true},
		{"[c-a]", "b", true},
		{`\*`, "*", true},
		{`\*`, "a", false},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v; want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestEscapeGlob(t *testing.T) {
	for _, p := range []string{"sess:", "app[1]:", "a*b?", `back\slash`, "[^a-z]", "", "\x00nul", "ünï"} {
		pattern := glob.Escape(p) + "*"
		for _, k := range []string{p, p + "id", p + "*", "x" + p, strings.TrimSuffix(p, ":") + "1:", "a1:", "ab", "sess", ""} {
			if got, want := globMatch(pattern, k), strings.HasPrefix(k, p); got != want {
				t.Errorf("pattern %q (prefix %q) matches %q = %v; want %v", pattern, p, k, got, want)
			}
		}
	}
}

// FuzzEscapeGlob checks that the SCAN MATCH pattern made from any prefix
// matches exactly the keys that start with that prefix.
func FuzzEscapeGlob(f *testing.F) {
	f.Add("sess:", "sess:abc")
	f.Add("app[1]:", "app1:x")
	f.Add(`a\*?[^]-`, `a\*?[^]-z`)
	f.Fuzz(func(t *testing.T, prefix, key string) {
		pattern := glob.Escape(prefix) + "*"
		for _, k := range []string{key, prefix + key} {
			if got, want := globMatch(pattern, k), strings.HasPrefix(k, prefix); got != want {
				t.Errorf("pattern %q (prefix %q) matches %q = %v; want %v", pattern, prefix, k, got, want)
			}
		}
	})
}
