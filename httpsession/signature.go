package httpsession

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/url"
	"strings"
)

// maxCookieLen is the longest cookie value, in bytes, that is considered at
// all: browsers keep at most 4096 bytes for a whole cookie, and anything
// longer is rejected before any HMAC is computed.
const maxCookieLen = 4096

// sign returns id + "." + the unpadded standard base64 of
// HMAC-SHA256(secret, id): the output of cookie-signature's sign, which
// express-session uses.
func sign(id, secret string) string {
	return id + "." + mac(id, secret)
}

func mac(id, secret string) string {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(id))
	return base64.RawStdEncoding.EncodeToString(h.Sum(nil))
}

// unsign returns the id inside a signed value (id + "." + signature) when
// one of secrets produced its signature. Each comparison takes the same time
// whatever the bytes compared (hmac.Equal), so the response time does not
// tell an attacker how much of a forged signature was right.
func unsign(signed string, secrets []string) (string, bool) {
	dot := strings.LastIndexByte(signed, '.')
	if dot < 0 {
		return "", false
	}
	id, sig := signed[:dot], signed[dot+1:]
	ok := false
	for _, secret := range secrets {
		// Go on after a match, so that the time taken does not tell
		// which secret signed the cookie.
		if hmac.Equal([]byte(mac(id, secret)), []byte(sig)) {
			ok = true
		}
	}
	if !ok {
		return "", false
	}
	return id, true
}

// encodeCookieValue returns the value of the session cookie for id, as
// express-session writes it: "s:" + sign(id, secret), escaped as
// JavaScript's encodeURIComponent does.
func encodeCookieValue(id, secret string) string {
	return encodeURIComponent("s:" + sign(id, secret))
}

// decodeCookieValue returns the id in a session cookie's value when the
// value is well formed and signed by one of secrets. It accepts the value
// URL-encoded (as express-session and this package write it) or not.
func decodeCookieValue(raw string, secrets []string) (string, bool) {
	if len(raw) > maxCookieLen {
		return "", false
	}
	val := raw
	if strings.IndexByte(raw, '%') >= 0 {
		v, err := url.PathUnescape(raw)
		if err != nil {
			return "", false
		}
		val = v
	}
	signed, ok := strings.CutPrefix(val, "s:")
	if !ok {
		return "", false
	}
	id, ok := unsign(signed, secrets)
	if !ok || !validID(id) {
		return "", false
	}
	return id, true
}

// encodeURIComponent escapes s as JavaScript's encodeURIComponent does:
// every byte but A–Z a–z 0–9 - _ . ! ~ * ' ( ) becomes %XX (upper case).
func encodeURIComponent(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + len(s)/4)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

func unreserved(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-_.!~*'()", c) >= 0
}
