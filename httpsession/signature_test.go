package httpsession

import (
	"strings"
	"testing"
)

// golden is express-session's Set-Cookie value for the id "apple" signed
// with "keyboard cat" (cookie-signature's own test vector, URL-encoded by
// the cookie package).
const golden = "s%3Aapple.D8Y%2BpkTAmeR0PobOhY4G97PRW%2Bj7bUnP%2F5m6%2FOn1MCU"

func TestGoldenVector(t *testing.T) {
	if got := encodeCookieValue("apple", "keyboard cat"); got != golden {
		t.Errorf("encodeCookieValue(apple, keyboard cat) = %q; want %q", got, golden)
	}
	if got := sign("apple", "keyboard cat"); got != "apple.D8Y+pkTAmeR0PobOhY4G97PRW+j7bUnP/5m6/On1MCU" {
		t.Errorf("sign(apple, keyboard cat) = %q", got)
	}
	id, ok := decodeCookieValue(golden, []string{"keyboard cat"})
	if !ok || id != "apple" {
		t.Errorf("decodeCookieValue(golden) = %q, %v; want apple, true", id, ok)
	}
}

func TestDecodeCookieValue(t *testing.T) {
	secrets := []string{"new secret", "keyboard cat"}
	tests := []struct {
		name, raw string
		want      string // "" for rejected
	}{
		{"golden", golden, "apple"},
		{"not url-encoded", "s:apple.D8Y+pkTAmeR0PobOhY4G97PRW+j7bUnP/5m6/On1MCU", "apple"},
		{"id with a dot", encodeCookieValue("a.b", "new secret"), "a.b"},
		{"old secret", encodeCookieValue("pear", "keyboard cat"), "pear"},
		{"unknown secret", encodeCookieValue("pear", "other"), ""},
		{"unsigned", "apple", ""},
		{"no signature", "s%3Aapple", ""},
		{"empty signature", "s%3Aapple.", ""},
		{"tampered id", strings.Replace(golden, "apple", "applf", 1), ""},
		{"tampered signature", strings.Replace(golden, "D8Y", "D8Z", 1), ""},
		{"truncated", golden[:len(golden)-1], ""},
		{"padded signature", strings.Replace(golden, "MCU", "MCU%3D", 1), ""},
		{"bad encoding", "s%3Aapple.%zz", ""},
		{"empty id", encodeCookieValue("", "keyboard cat"), ""},
		{"empty", "", ""},
		{"oversized", encodeCookieValue(strings.Repeat("x", maxCookieLen), "keyboard cat"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := decodeCookieValue(tt.raw, secrets)
			if got != tt.want || ok != (tt.want != "") {
				t.Errorf("decodeCookieValue(%q) = %q, %v; want %q", tt.raw, got, ok, tt.want)
			}
		})
	}
}

func TestEncodeURIComponent(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abcXYZ019", "abcXYZ019"},
		{"-_.!~*'()", "-_.!~*'()"},
		{"s:a+b/c=", "s%3Aa%2Bb%2Fc%3D"},
		{" ,;\"\\%", "%20%2C%3B%22%5C%25"},
		{"é", "%C3%A9"},
		{"\x00\x7f", "%00%7F"},
	}
	for _, tt := range tests {
		if got := encodeURIComponent(tt.in); got != tt.want {
			t.Errorf("encodeURIComponent(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestDefaultGenID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := defaultGenID()
		if len(id) != 32 || strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Fatalf("defaultGenID() = %q; want 32 characters of base64url", id)
		}
		if seen[id] {
			t.Fatalf("defaultGenID() returned %q twice", id)
		}
		seen[id] = true
	}
}
