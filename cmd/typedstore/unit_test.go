package main

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/goccy/go-json"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
	}{{"0", 0}, {"4096", 4096}, {"4K", 4096}, {"4k", 4096}, {"4KiB", 4096}, {"4KB", 4096}, {"1MiB", 1 << 20}, {"2 G", 2 << 30}, {"7B", 7}} {
		if got, err := parseSize(tc.in); err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "-1", "4X", "K", "1.5K", "99999999999G"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = nil error; want one", in)
		}
	}
}

// scanned reads the share of the table a SCAN cursor has covered, for a
// table of any size: Redis's cursor walks the buckets in reversed-bit order.
func TestScanned(t *testing.T) {
	for _, size := range []uint{4, 10, 20} {
		mask := uint64(1)<<size - 1
		var cursor uint64
		for i := uint64(1); i < 1<<size; i++ {
			// Redis's next cursor: set the unmasked bits, reverse, add one,
			// reverse back (dictScan in dict.c).
			cursor |= ^mask
			cursor = bits.Reverse64(bits.Reverse64(cursor)+1) & mask
			if got, want := scanned(cursor), float64(i)/float64(uint64(1)<<size); got != want {
				t.Fatalf("table of 2^%d: scanned after %d buckets = %v; want %v", size, i, got, want)
			}
		}
	}
	if scanned(0) != 1 {
		t.Error("scanned(0) != 1: cursor 0 ends a scan")
	}
}

// Space-Saving's counts are never too low and too high by at most the
// error it reports, every owner with more than n/limit sessions is listed,
// and it is exact while the owners fit.
func TestSpaceSaving(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ owners, limit, n int }{{50, 100, 5000}, {5000, 100, 20000}, {100000, 1000, 100000}} {
		s := newSpaceSaving(tc.limit)
		truth := map[string]int64{}
		for range tc.n {
			// A skewed stream: a few owners with many sessions.
			o := fmt.Sprint("u", int(float64(tc.owners)*r.Float64()*r.Float64()*r.Float64()))
			truth[o]++
			s.add(o)
		}
		exact := len(truth) <= tc.limit
		if exact != (s.evictions == 0) {
			t.Errorf("%+v: exact = %v with %d evictions", tc, exact, s.evictions)
		}
		bound := s.maxError()
		listed := map[string]bool{}
		for _, c := range s.ranked(tc.limit) {
			listed[c.owner] = true
			if c.count < truth[c.owner] || c.count > truth[c.owner]+bound {
				t.Errorf("%+v: %s counted %d, truly %d, error bound %d", tc, c.owner, c.count, truth[c.owner], bound)
			}
			if exact && c.count != truth[c.owner] {
				t.Errorf("%+v: %s counted %d; want exactly %d", tc, c.owner, c.count, truth[c.owner])
			}
		}
		for o, n := range truth {
			if n > int64(tc.n/tc.limit) && !listed[o] {
				t.Errorf("%+v: %s has %d sessions, more than n/limit, and is not listed", tc, o, n)
			}
		}
	}
}

func TestLookupAndEdits(t *testing.T) {
	doc := []byte(`{"a":{"b":"x","n":12,"arr":[true,{"c":null}]},"s":"q\"uote"}`)
	for path, want := range map[string]string{"a.b": "x", "a.n": "12", "a.arr.0": "true", "a.arr.1.c": "null", "s": `q"uote`} {
		v, ok := lookup(doc, splitPath(path))
		got, sok := scalar(v)
		if !ok || !sok || got != want {
			t.Errorf("lookup %s = %q (%v, %v); want %q", path, got, ok, sok, want)
		}
	}
	for _, path := range []string{"a.z", "a.arr.2", "a.arr.x", "s.t", "a"} {
		v, ok := lookup(doc, splitPath(path))
		if _, sok := scalar(v); ok && sok {
			t.Errorf("lookup %s found a scalar %s", path, v)
		}
	}
	if got := ownerAt(doc, splitPath("a.arr.1.c")); got != "" {
		t.Errorf("a null owner = %q; want anonymous", got)
	}
	var edits []edit
	for _, e := range []struct{ op, arg string }{{"rename", "a.b=user.id"}, {"set", `user.role={"x":[1.50]}`}, {"delete", "s"}, {"delete", "nothere.x"}, {"rename", "gone=x"}} {
		ed, err := parseEdit(e.op, e.arg)
		if err != nil {
			t.Fatal(err)
		}
		edits = append(edits, ed)
	}
	out, err := applyEdits(doc, edits)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"a":{"arr":[true,{"c":null}],"n":12},"user":{"id":"x","role":{"x":[1.50]}}}`; string(out) != want {
		t.Errorf("edits gave %s; want %s", out, want)
	}
	set, _ := parseEdit("set", "s.t=1")
	if _, err := applyEdits(doc, []edit{set}); err == nil || !strings.Contains(err.Error(), "s is not an object") {
		t.Errorf("a set through a string = %v; want an error naming it", err)
	}
	for _, tc := range []struct{ op, arg string }{{"set", "a"}, {"set", "a=nope"}, {"set", "a..b=1"}, {"rename", "a"}, {"delete", ""}, {"rename", "a=.b"}} {
		if _, err := parseEdit(tc.op, tc.arg); err == nil {
			t.Errorf("-%s %q = nil error; want one", tc.op, tc.arg)
		}
	}
}

func TestExportLineRoundTrips(t *testing.T) {
	for _, value := range []string{`{"a":1}`, ` {"a" : 1} `, "{\n}", "\x00\xff", "", `"s"`, "{\"a\":\"\u2028\"}"} {
		r := record{id: `id<&>"\` + "\u2028", value: []byte(value), ttlMs: 1500}
		line, err := exportLine(r)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Count(string(line), "\n") != 1 || !json.Valid(line) {
			t.Fatalf("exportLine(%q) = %q: not one line of JSON", value, line)
		}
		l, err := parseLine(line[:len(line)-1])
		if err != nil || l.id != r.id || string(l.value) != value || l.ttl != r.ttl() {
			t.Errorf("exportLine(%q) read back as %q, %q, %v, %v", value, l.id, l.value, l.ttl, err)
		}
	}
}

// No error about a line repeats the line's id, a credential.
func FuzzParseLineNeverEchoesTheID(f *testing.F) {
	f.Add("secretsecret", `,"ttl":5,value}`)
	f.Add("secretsecret", `,"ttl":"x"}`)
	f.Add("secretsecret", `,"ttl":5,"bytes":"!"}`)
	f.Add("secretsecret", `,"ttl":5,"value":{},"zz":1}`)
	f.Fuzz(func(t *testing.T, id, rest string) {
		if len(id) < 8 {
			return
		}
		idJSON, _ := json.Marshal(id)
		line := `{"id":` + string(idJSON) + rest
		if _, err := parseLine([]byte(line)); err != nil {
			if strings.Contains(err.Error(), id) || strings.Contains(err.Error(), strings.Trim(string(idJSON), `"`)) {
				t.Fatalf("parseLine(%q) error %q repeats the id", line, err)
			}
		}
	})
}
