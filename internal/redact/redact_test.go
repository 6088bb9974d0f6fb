package redact

import "testing"

func TestID(t *testing.T) {
	tests := []struct{ id, want string }{
		{"", `"…"`},
		{"abc", `"…"`},
		{"abcdefgh", `"ab…"`},
		{"SECRET-SESSION-ID-0123456789abcdefghij", `"SECRET…"`},
		{"a\x00b\"c\\d\xffefgh", `"a?b…"`},
	}
	for _, tt := range tests {
		if got := ID(tt.id); got != tt.want {
			t.Errorf("ID(%q) = %s; want %s", tt.id, got, tt.want)
		}
	}
}
