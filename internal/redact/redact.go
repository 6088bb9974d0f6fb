// Package redact shortens session ids for messages. A session id is a
// credential: an error string or a log line shows a hint of it, never all
// of it.
package redact

// ID returns a hint of a session id: at most its first six bytes, and no
// more than a quarter of it, followed by "…", quoted as by %q. It tells
// sessions apart in a log without revealing a usable id.
func ID(id string) string {
	n := min(len(id)/4, 6)
	b := make([]byte, 0, n+8)
	b = append(b, '"')
	for i := 0; i < n; i++ {
		c := id[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			c = '?'
		}
		b = append(b, c)
	}
	return string(append(b, "…\""...))
}
