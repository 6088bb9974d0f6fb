package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/typedstore/typedstore"
)

// writeFile writes lines to a file of the test's and returns its path.
func writeFile(t *testing.T, name string, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// With -keys-file and -id-hash-key-file, the tool reads, exports, reseals,
// deletes and imports the sessions of an application that stores them
// sealed under hashed ids.
func TestSessionsAtRest(t *testing.T) {
	url, c := server(t)
	ctx := context.Background()
	k1, k2, hashKey := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 40)
	appStore := func(keys ...[]byte) *typedstore.Store[owned] {
		t.Helper()
		s, err := typedstore.New(c, typedstore.Options[owned]{
			TTL: time.Hour, EncryptionKeys: keys, IDHashKey: hashKey,
			Owner: func(v owned) string { return v.Passport.User },
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	app := appStore(k1)
	owners := map[string]string{"alpha-id": "u1", "beta-id": "u1", "gamma-id": "u2", "delta-id": "u1"}
	names := map[string]string{}
	for id, owner := range owners {
		var v owned
		v.Passport.User = owner
		if err := app.Set(ctx, id, v); err != nil {
			t.Fatal(err)
		}
		mac := hmac.New(sha256.New, hashKey)
		mac.Write([]byte(id))
		names[id] = base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}
	keys1 := writeFile(t, "keys1", "# the application's keys, newest first", hex.EncodeToString(k1))
	keys2 := writeFile(t, "keys2", base64.StdEncoding.EncodeToString(k2), "", hex.EncodeToString(k1))
	hashFile := writeFile(t, "idhash", base64.RawURLEncoding.EncodeToString(hashKey))

	var rows []lsRow
	for _, line := range strings.Split(strings.TrimSpace(ok(t, url, "ls", "-json", "-keys-file", keys1, "-owner-path", "passport.user").stdout), "\n") {
		var r lsRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("ls -json line %q: %v", line, err)
		}
		rows = append(rows, r)
	}
	if len(rows) != 4 {
		t.Fatalf("ls found %d sessions; want 4", len(rows))
	}
	for _, r := range rows {
		id := ""
		for i, n := range names {
			if n == r.ID {
				id = i
			}
		}
		if id == "" || r.Owner != owners[id] || r.Size < 46 {
			t.Errorf("ls row %+v: want a hash of an id, its owner, and the sealed size", r)
		}
	}

	show := ok(t, url, "show", "-keys-file", keys1, "-id-hash-key-file", hashFile, "alpha-id").stdout
	if !strings.Contains(show, `"user": "u1"`) {
		t.Errorf("show of an id = %q; want its JSON", show)
	}
	if byName := ok(t, url, "show", "-keys-file", keys1, names["alpha-id"]).stdout; byName != show {
		t.Errorf("show of the hash = %q; want what show of the id printed", byName)
	}
	if sealed := ok(t, url, "show", names["alpha-id"]).stdout; !strings.Contains(sealed, "value: sealed (-keys-file opens it)") {
		t.Errorf("show without -keys-file = %q; want it to say the value is sealed", sealed)
	}
	fails(t, url, 1, "does not open under -keys-file", nil, "show", "-keys-file", writeFile(t, "other", hex.EncodeToString(k2)), names["alpha-id"])
	stats := ok(t, url, "stats", "-keys-file", writeFile(t, "wrong", hex.EncodeToString(k2))).stdout
	if !strings.Contains(stats, "values that do not open under -keys-file") {
		t.Errorf("stats under a wrong key = %q; want the values that do not open counted", stats)
	}

	export := filepath.Join(t.TempDir(), "sessions.jsonl")
	ok(t, url, "export", "-keys-file", keys1, "-o", export)
	data, _ := os.ReadFile(export)
	if !bytes.Contains(data, []byte(`"passport":{"user":"u2"}`)) || !bytes.Contains(data, []byte(names["gamma-id"])) || bytes.Contains(data, []byte("gamma-id")) {
		t.Errorf("export = %s; want the sessions opened, under their hashes", data)
	}

	// Rotation: the new key first, then migrate reseals, and the old key
	// can go.
	dry := ok(t, url, "migrate", "-keys-file", keys2).stdout
	if !strings.Contains(dry, "sealed under an older key, or in clear: 4") || !strings.Contains(dry, "would reseal under the first key: 4") {
		t.Errorf("migrate dry run = %q", dry)
	}
	applied := ok(t, url, "migrate", "-keys-file", keys2, "-apply", "-yes").stdout
	if !strings.Contains(applied, "resealed under the first key: 4") {
		t.Errorf("migrate -apply = %q", applied)
	}
	rotated := appStore(k2)
	for id := range owners {
		if v, err := rotated.Get(ctx, id); err != nil || v.Passport.User != owners[id] {
			t.Errorf("Get(%s) under the new key alone = %+v, %v", id, v, err)
		}
	}
	fails(t, url, 2, "migrate needs -to", nil, "migrate")
	fails(t, url, 2, "edits need -to", nil, "migrate", "-keys-file", keys2, "-delete", "passport")

	if got := ok(t, url, "rm", "-id-hash-key-file", hashFile, "-yes", "alpha-id", "no-such-id").stdout; !strings.Contains(got, "deleted 1 sessions") {
		t.Errorf("rm of an id = %q", got)
	}
	if got := ok(t, url, "revoke", "-keys-file", keys2, "-id-hash-key-file", hashFile, "-owner-path", "passport.user", "-owner", "u1", "-keep", "beta-id", "-yes").stdout; !strings.Contains(got, "deleted 1") {
		t.Errorf("revoke keeping beta = %q", got)
	}
	ids, err := collect(rotated)
	if err != nil || !slices.Equal(ids, sortedOf(names["beta-id"], names["gamma-id"])) {
		t.Errorf("sessions left = %q, %v; want beta's and gamma's", ids, err)
	}

	// Without -keys-file, export and import move sealed values as they
	// are; they open again under the same prefix.
	sealedExport := filepath.Join(t.TempDir(), "sealed.jsonl")
	ok(t, url, "export", "-o", sealedExport)
	if data, _ := os.ReadFile(sealedExport); !bytes.Contains(data, []byte(`"bytes"`)) || bytes.Contains(data, []byte("passport")) {
		t.Errorf("export without -keys-file = %s; want the sealed values in base64", data)
	}
	if err := rotated.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	ok(t, url, "import", sealedExport)
	if v, err := rotated.Get(ctx, "gamma-id"); err != nil || v.Passport.User != "u2" {
		t.Errorf("Get after an import of sealed values = %+v, %v", v, err)
	}

	// Import seals under the first key, keeping the names.
	if err := rotated.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	ok(t, url, "import", "-keys-file", keys2, export)
	for id := range owners {
		if v, err := rotated.Get(ctx, id); err != nil || v.Passport.User != owners[id] {
			t.Errorf("Get(%s) after the import = %+v, %v", id, v, err)
		}
	}
}

func collect(s *typedstore.Store[owned]) ([]string, error) {
	seq, errf := s.IDs(context.Background())
	return slices.Sorted(seq), errf()
}

func sortedOf(s ...string) []string { slices.Sort(s); return s }

// Key files that do not hold keys of the right size are usage errors that
// name the line, never its content.
func TestKeyFilesAreChecked(t *testing.T) {
	url, _ := server(t)
	short := hex.EncodeToString(bytes.Repeat([]byte{7}, 16))
	for _, tc := range []struct {
		flag, content, want string
	}{
		{"-keys-file", short, "the key on line 1 of"},
		{"-keys-file", "not a key at all!", "line 1 of"},
		{"-keys-file", "# only a comment", "holds no key"},
		{"-id-hash-key-file", short, "want at least 32"},
		{"-id-hash-key-file", hex.EncodeToString(bytes.Repeat([]byte{7}, 32)) + "\n" + hex.EncodeToString(bytes.Repeat([]byte{8}, 32)), "an application has one IDHashKey"},
	} {
		path := writeFile(t, "keys", tc.content)
		fails(t, url, 2, tc.want, []string{short, "not a key at all"}, "count", tc.flag, path)
	}
	fails(t, url, 2, "-keys-file", nil, "count", "-keys-file", filepath.Join(t.TempDir(), "missing"))
}

// migrate -accept-plaintext seals the sessions of an application that
// switches to encryption.
func TestMigrateSealsPlaintext(t *testing.T) {
	url, c := server(t)
	ctx := context.Background()
	seed(t, c, "sess:", 20, 2, time.Hour)
	keys := writeFile(t, "keys", hex.EncodeToString(bytes.Repeat([]byte{1}, 32)))
	fails(t, url, 2, "-accept-plaintext needs -keys-file", nil, "migrate", "-accept-plaintext")
	r := cli(t, url, "", "migrate", "-keys-file", keys, "-apply", "-yes")
	if r.code != 1 || !strings.Contains(r.stdout, "cannot be migrated: 20") {
		t.Errorf("migrate without -accept-plaintext: exit %d\n%s", r.code, r.stdout)
	}
	if got := ok(t, url, "migrate", "-keys-file", keys, "-accept-plaintext", "-apply", "-yes").stdout; !strings.Contains(got, "resealed under the first key: 20") {
		t.Errorf("migrate -accept-plaintext = %q", got)
	}
	s, err := typedstore.New(c, typedstore.Options[owned]{EncryptionKeys: [][]byte{bytes.Repeat([]byte{1}, 32)}})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(ctx, "id0000007"); err != nil || v.Passport.User != "u1" {
		t.Errorf("Get of a session sealed by migrate = %+v, %v", v, err)
	}
}

// Without -keys-file, the tool reads nothing in sealed values: it refuses
// to revoke by owner (and leaves the owner's index as it is), warns where
// owners are listed, and counts them apart; an export of sealed values
// cannot be imported with -keys-file, which would seal them twice.
func TestSealedWithoutKeysFile(t *testing.T) {
	url, c := server(t)
	ctx := context.Background()
	key := bytes.Repeat([]byte{5}, 32)
	app, err := typedstore.New(c, typedstore.Options[owned]{
		TTL: time.Hour, EncryptionKeys: [][]byte{key},
		Owner: func(v owned) string { return v.Passport.User },
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, owner := range []string{"u1", "u1", "u1", "u2"} {
		var v owned
		v.Passport.User = owner
		if err := app.Set(ctx, fmt.Sprintf("session-%d", i), v); err != nil {
			t.Fatal(err)
		}
	}
	index := "owner:sess:u1"
	fails(t, url, 1, "-keys-file opens it", nil, "revoke", "-owner-path", "passport.user", "-owner", "u1", "-dry-run")
	fails(t, url, 1, "-keys-file opens it", nil, "revoke", "-owner-path", "passport.user", "-owner", "u1", "-yes")
	fails(t, url, 1, "4 sessions are sealed", nil, "revoke", "-owner-path", "passport.user", "-owner", "u1", "-scan", "-yes")
	if n := c.ZCard(ctx, index).Val(); n != 3 {
		t.Errorf("the owner's index has %d entries after the refused revokes; want 3", n)
	}
	if n, err := app.CountOwned(ctx, "u1"); err != nil || n != 3 {
		t.Errorf("CountOwned = %d, %v; want 3", n, err)
	}
	if r := ok(t, url, "ls", "-owner-path", "passport.user"); !strings.Contains(r.stderr, "4 sessions are sealed") {
		t.Errorf("ls -owner-path stderr = %q; want a warning", r.stderr)
	}
	if got := ok(t, url, "stats", "-owner-path", "passport.user").stdout; !strings.Contains(got, "sealed, owner unknown (-keys-file opens them)  4") {
		t.Errorf("stats = %q; want the sealed sessions counted apart", got)
	}

	export := filepath.Join(t.TempDir(), "sealed.jsonl")
	ok(t, url, "export", "-o", export)
	if fi, err := os.Stat(export); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the export's mode = %v, %v; want 0600", fi.Mode(), err)
	}
	keys := writeFile(t, "keys", hex.EncodeToString(key))
	fails(t, url, 1, "the value is sealed already", nil, "import", "-keys-file", keys, "-prefix", "copy:", export)
	if n := c.Exists(ctx, "copy:session-0").Val(); n != 0 {
		t.Error("the refused import wrote a session")
	}

	// -compress-above: what migrate and import write is compressed as the
	// application's store would.
	fails(t, url, 2, "-compress-above needs -keys-file", nil, "migrate", "-compress-above", "10")
	ok(t, url, "import", "-prefix", "copy:", export)
	plain := filepath.Join(t.TempDir(), "plain.jsonl")
	ok(t, url, "export", "-keys-file", keys, "-o", plain)
	ok(t, url, "import", "-keys-file", keys, "-compress-above", "10", "-prefix", "squeezed:", plain)
	if v := c.Get(ctx, "squeezed:session-0").Val(); len(v) < 2 || v[1] != 1 {
		t.Errorf("an import with -compress-above stored flags %q; want it compressed", v[:2])
	}
}

// A key file holds a key in hex (of 32 bytes or more, with or without 0x)
// or in base64; a file larger than any file of keys is refused.
func TestKeyFileFormats(t *testing.T) {
	url, c := server(t)
	hashKey := append([]byte{0xD3, 0x10}, bytes.Repeat([]byte{3}, 38)...) // in base64, "0x…"
	s, err := typedstore.New(c, typedstore.Options[owned]{TTL: time.Hour, IDHashKey: hashKey})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(context.Background(), "the-id", owned{}); err != nil {
		t.Fatal(err)
	}
	for name, line := range map[string]string{
		"hex":    hex.EncodeToString(hashKey),
		"0x hex": "0x" + hex.EncodeToString(hashKey),
		"HEX":    strings.ToUpper(hex.EncodeToString(hashKey)),
		"base64": base64.StdEncoding.EncodeToString(hashKey),
	} {
		if name == "base64" && !strings.HasPrefix(line, "0x") {
			t.Fatalf("the base64 key %q does not begin with 0x", line)
		}
		if got := ok(t, url, "show", "-id-hash-key-file", writeFile(t, "key", line), "the-id").stdout; !strings.Contains(got, "ttl:") {
			t.Errorf("show with the key in %s = %q", name, got)
		}
	}
	fails(t, url, 2, "not a file of keys", nil, "count", "-keys-file", writeFile(t, "huge", strings.Repeat("A", 2<<20)))
}

// With -keys-file, values that do not open (under another key, or in
// clear) stop revoke and are counted by ls; -accept-plaintext reads those
// in clear.
func TestUnopenedValues(t *testing.T) {
	url, c := server(t)
	ctx := context.Background()
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	app, err := typedstore.New(c, typedstore.Options[owned]{TTL: time.Hour, EncryptionKeys: [][]byte{k1}})
	if err != nil {
		t.Fatal(err)
	}
	var v owned
	v.Passport.User = "alice"
	for _, id := range []string{"a", "b"} {
		if err := app.Set(ctx, id, v); err != nil {
			t.Fatal(err)
		}
	}
	c.Set(ctx, "sess:clear", `{"passport":{"user":"alice"}}`, time.Hour)
	k1File, k2File := writeFile(t, "k1", hex.EncodeToString(k1)), writeFile(t, "k2", hex.EncodeToString(k2))
	fails(t, url, 1, "3 sessions do not open under -keys-file", nil, "revoke", "-keys-file", k2File, "-owner-path", "passport.user", "-owner", "alice", "-yes")
	fails(t, url, 1, "1 sessions do not open under -keys-file", nil, "revoke", "-keys-file", k1File, "-owner-path", "passport.user", "-owner", "alice", "-yes")
	if r := ok(t, url, "ls", "-keys-file", k1File); !strings.Contains(r.stderr, "1 sessions do not open") {
		t.Errorf("ls stderr = %q; want the value in clear counted", r.stderr)
	}
	if got := ok(t, url, "revoke", "-keys-file", k1File, "-accept-plaintext", "-owner-path", "passport.user", "-owner", "alice", "-yes").stdout; !strings.Contains(got, "deleted 3") {
		t.Errorf("revoke -accept-plaintext = %q; want all 3 deleted", got)
	}
	fails(t, url, 2, "-accept-plaintext needs -keys-file", nil, "count", "-accept-plaintext")

	// import -owner-path without -keys-file cannot index a sealed value.
	if err := app.Set(ctx, "c", v); err != nil {
		t.Fatal(err)
	}
	export := filepath.Join(t.TempDir(), "sealed.jsonl")
	ok(t, url, "export", "-o", export)
	fails(t, url, 1, "-owner-path needs -keys-file", nil, "import", "-owner-path", "passport.user", "-prefix", "copy:", export)
}
