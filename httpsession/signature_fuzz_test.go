package httpsession

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
	"testing"
)

// FuzzDecodeCookieValue feeds arbitrary cookie values to the parser and the
// signature check: no panic, and a value is accepted only if it names a
// valid id that the secret really signed.
func FuzzDecodeCookieValue(f *testing.F) {
	f.Add(golden)
	f.Add("s:apple.D8Y+pkTAmeR0PobOhY4G97PRW+j7bUnP/5m6/On1MCU")
	f.Add("s%3Aapple.D8Y%2BpkTAmeR0PobOhY4G97PRW%2Bj7bUnP%2F5m6%2FOn1MCU%")
	f.Add("s:.")
	f.Add("apple")
	f.Add("s%3A%E2%82%AC.x")
	secrets := []string{"keyboard cat", "old secret"}
	f.Fuzz(func(t *testing.T, raw string) {
		id, ok := decodeCookieValue(raw, secrets)
		if !ok {
			return
		}
		if !validID(id) {
			t.Fatalf("decodeCookieValue(%q) accepted the invalid id %q", raw, id)
		}
		// Check the acceptance independently: the unescaped value must be
		// "s:" + id + "." + an HMAC of id under one of the secrets.
		val := raw
		if strings.Contains(raw, "%") {
			val, _ = url.PathUnescape(raw)
		}
		sig, ok := strings.CutPrefix(val, "s:"+id+".")
		if !ok {
			t.Fatalf("decodeCookieValue(%q) = %q, not the id the value holds", raw, id)
		}
		for _, s := range secrets {
			h := hmac.New(sha256.New, []byte(s))
			h.Write([]byte(id))
			if base64.RawStdEncoding.EncodeToString(h.Sum(nil)) == sig {
				return
			}
		}
		t.Fatalf("decodeCookieValue(%q) = %q, but no secret signed it", raw, id)
	})
}

// FuzzSignRoundTrip signs arbitrary ids with arbitrary secrets: a signed
// cookie decodes to its id under the secret that signed it, never under
// another, and a one-byte change either breaks the signature or leaves the
// same id (an equivalent escape).
func FuzzSignRoundTrip(f *testing.F) {
	f.Add("apple", "keyboard cat", uint(3))
	f.Add("id with spaces;=,", "s", uint(0))
	f.Add("ünïcødé", "🔑", uint(40))
	f.Fuzz(func(t *testing.T, id, secret string, flip uint) {
		if !validID(id) || secret == "" {
			return
		}
		v := encodeCookieValue(id, secret)
		got, ok := decodeCookieValue(v, []string{secret})
		if !ok || got != id {
			t.Fatalf("decode(encode(%q)) = %q, %v; want the id", id, got, ok)
		}
		if got, ok := decodeCookieValue(v, []string{secret + "x"}); ok {
			t.Fatalf("cookie for %q verified under another secret as %q", id, got)
		}
		b := []byte(v)
		i := int(flip % uint(len(b)))
		b[i] ^= 1 << (flip % 7)
		if got, ok := decodeCookieValue(string(b), []string{secret}); ok && got != id {
			t.Fatalf("tampered cookie %q verified as %q (original id %q)", b, got, id)
		}
	})
}
