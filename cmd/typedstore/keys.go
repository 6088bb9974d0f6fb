package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/typedstore/typedstore"
)

// readKeys reads the keys in the file at path, one per line, in hex (of 32
// bytes or more) or in base64 (standard or URL-safe, padded or not); blank lines and lines that
// begin with # are skipped. Every key must be size bytes long, or, with
// size < 0, at least -size bytes. Its errors name lines, never their
// content: a key is a secret.
func readKeys(flagName, path string, size int) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usageError{fmt.Sprintf("-%s: %v", flagName, err)}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	switch {
	case err != nil:
		return nil, usageError{fmt.Sprintf("-%s: %v", flagName, err)}
	case len(data) > maxKeyFile:
		return nil, usageError{fmt.Sprintf("-%s: %s is larger than %d bytes: not a file of keys", flagName, path, maxKeyFile)}
	}
	var keys [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, maxKeyFile)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		key, ok := decodeKey(string(line))
		switch {
		case !ok:
			return nil, usageError{fmt.Sprintf("-%s: line %d of %s is not a key in hex or base64", flagName, n, path)}
		case size > 0 && len(key) != size:
			return nil, usageError{fmt.Sprintf("-%s: the key on line %d of %s is %d bytes long; want %d", flagName, n, path, len(key), size)}
		case size < 0 && len(key) < -size:
			return nil, usageError{fmt.Sprintf("-%s: the key on line %d of %s is %d bytes long; want at least %d", flagName, n, path, len(key), -size)}
		}
		keys = append(keys, key)
	}
	if err := sc.Err(); err != nil {
		return nil, usageError{fmt.Sprintf("-%s: %s: %v", flagName, path, err)}
	}
	if len(keys) == 0 {
		return nil, usageError{fmt.Sprintf("-%s: %s holds no key", flagName, path)}
	}
	return keys, nil
}

// maxKeyFile is the largest file of keys the tool reads: room for
// thousands of keys, and no more.
const maxKeyFile = 1 << 20

// decodeKey decodes a key written in hex (64 digits or more: 32 bytes or
// more; or after 0x) or in base64. A line of hex digits is hex: base64 of 32 random
// bytes is all hex digits once in 2⁸⁶ keys.
func decodeKey(s string) ([]byte, bool) {
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		if b, err := hex.DecodeString(h); err == nil && len(b) >= typedstore.EncryptionKeySize {
			return b, true
		} // base64 may begin with 0x too
	}
	if len(s) >= 2*typedstore.EncryptionKeySize && len(s)%2 == 0 {
		if b, err := hex.DecodeString(s); err == nil {
			return b, true
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, true
		}
	}
	return nil, false
}
