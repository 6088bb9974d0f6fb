package jsonfields

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"
)

type inner struct {
	Deep  int `json:"deep"`
	Other int
}

type Named struct {
	X int `json:"x"`
}

type decodesItself struct{ N int }

func (d *decodesItself) UnmarshalJSON([]byte) error { return nil }

type sample struct {
	inner                  // flattened: deep, Other
	Named   `json:"named"` // a member of its own
	*Ptr                   // flattened through a pointer
	A       int            `json:"a,omitempty"`
	B       string         // "B"
	Skipped int            `json:"-"`
	hidden  int            //nolint:unused // not a member
	When    time.Time      `json:"when"`
}

type Ptr struct {
	P int `json:"p"`
}

// The unexported field is set, so that it counts as used.
var _ = sample{hidden: 1}

func names(s *Set) []string {
	var out []string
	for n := range s.exact {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func TestOf(t *testing.T) {
	s := Of(reflect.TypeFor[sample]())
	if got, want := names(s), []string{"B", "Other", "a", "deep", "named", "p", "when"}; !slices.Equal(got, want) {
		t.Errorf("names = %q; want %q", got, want)
	}
	if Of(reflect.TypeFor[*sample]()) == nil {
		t.Error("Of(*sample) = nil; want sample's names")
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[map[string]any](), reflect.TypeFor[int](), reflect.TypeFor[decodesItself](), reflect.TypeFor[time.Time]()} {
		if Of(typ) != nil {
			t.Errorf("Of(%v) != nil; want nil", typ)
		}
	}
}

func TestUnknown(t *testing.T) {
	s := Of(reflect.TypeFor[sample]())
	tests := []struct{ in, want string }{
		{`{}`, ``},
		{` { } `, ``},
		{`{"a":1,"B":"x"}`, ``},
		{`{"a":1,"extra":{"k":[1,"}",{"z":null}]},"B":"x"}`, `"extra":{"k":[1,"}",{"z":null}]}`},
		{`{ "x1" : "v\"}" , "A" : 2 , "x2" : [ ] }`, `"x1":"v\"}","x2":[ ]`},
		{`{"DEEP":1,"other":2,"p":3,"Named":{}}`, ``}, // case-insensitive, as the decoder matches
		{`{"e\u0078tra":true,"\u0061":1}`, `"e\u0078tra":true`},
		{`{"n":-1.5e3,"t":true,"f":false,"z":null}`, `"n":-1.5e3,"t":true,"f":false,"z":null`},
		// Not well-formed: nothing.
		{`[1,2]`, ``}, {`{"a":1`, ``}, {`{"a" 1}`, ``}, {`{"x":1}}`, ``}, {`{"x":"`, ``}, {`{"x":[1,2}`, ``}, {``, ``}, {`{"x":}`, ``},
	}
	for _, tt := range tests {
		if got := string(s.Unknown([]byte(tt.in))); got != tt.want {
			t.Errorf("Unknown(%s) = %s; want %s", tt.in, got, tt.want)
		}
	}
}

// The decoder folds case as Unicode does ("ſ" is "s", the Kelvin sign is
// "k", Cyrillic capitals are their small letters, but the dotless "ı" is
// not "i"): what it reads into a field is declared, and nothing else is.
func TestFoldMatchesTheDecoder(t *testing.T) {
	type folds struct {
		S   int `json:"s"`
		K   int `json:"k"`
		Key int `json:"ключ"`
		I   int `json:"id"`
	}
	set := Of(reflect.TypeFor[folds]())
	for _, key := range []string{"S", "ſ", "K", "\u212a", "\u017f", "КЛЮЧ", "Ключ", "ıd", "ID", "Id", "x"} {
		data := []byte(`{"` + key + `":7}`)
		var v folds
		if err := gojson.Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
		decoded := v != folds{}
		if kept := set.Unknown(data) != nil; kept == decoded {
			t.Errorf("member %q: decoded into a field %v, kept as unknown %v; want exactly one", key, decoded, kept)
		}
	}
}

func TestSplice(t *testing.T) {
	tests := []struct{ obj, members, want string }{
		{`{"a":1}`, `"x":2`, `{"a":1,"x":2}`},
		{`{}`, `"x":2`, `{"x":2}`},
		{`{ }`, `"x":2`, `{ "x":2}`},
		{`{"a":1}`, ``, `{"a":1}`},
		{`null`, `"x":2`, `null`},
		{`[1]`, `"x":2`, `[1]`},
	}
	for _, tt := range tests {
		if got := string(Splice([]byte(tt.obj), []byte(tt.members))); got != tt.want {
			t.Errorf("Splice(%s, %s) = %s; want %s", tt.obj, tt.members, got, tt.want)
		}
	}
}

// No allocation when a session has nothing the type does not declare.
func TestUnknownAllocatesNothingForKnownMembers(t *testing.T) {
	s := Of(reflect.TypeFor[sample]())
	data := []byte(`{"a":1,"B":"some text","named":{"x":1},"when":"2026-12-02T13:00:00Z","DEEP":4}`)
	if n := testing.AllocsPerRun(100, func() { s.Unknown(data) }); n != 0 {
		t.Errorf("Unknown allocates %v times for an object of known members; want 0", n)
	}
}

// For any object, Unknown's members spliced into the encoding of what the
// type decoded give back every member the type does not declare, unchanged.
func FuzzUnknown(f *testing.F) {
	f.Add([]byte(`{"a":1,"extra":{"k":[1,"}"]},"B":"x","x2":null}`))
	f.Add([]byte(`{"named":{"x":3},"Other":"not a number"}`))
	s := Of(reflect.TypeFor[sample]())
	f.Fuzz(func(t *testing.T, data []byte) {
		members := s.Unknown(data)
		var orig map[string]json.RawMessage
		if json.Unmarshal(data, &orig) != nil {
			return
		}
		var v sample
		if json.Unmarshal(data, &v) != nil {
			return
		}
		enc, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out := Splice(enc, members)
		var got map[string]json.RawMessage
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("Splice gave %s: %v", out, err)
		}
		for k, raw := range orig {
			if s.has([]byte(k)) {
				continue
			}
			if g, ok := got[k]; !ok || !jsonEqual(t, g, raw) {
				t.Errorf("member %q: %s after the round trip; want %s", k, g, raw)
			}
		}
	})
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func BenchmarkUnknown(b *testing.B) {
	s := Of(reflect.TypeFor[sample]())
	data := []byte(`{"a":1,"B":"some text","named":{"x":1,"y":[1,2,3],"z":"a long string with \"quotes\" in it"},"when":"2026-12-02T13:00:00Z","DEEP":4}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		s.Unknown(data)
	}
}

func TestLookup(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"v":2,"a":1}`, `2`},
		{`{"a":{"v":9},"v" : "x" }`, `"x"`},
		{`{"v":1,"v":3}`, `3`},
		{`{"V":2}`, `2`},
		{`{"\u0076":4}`, `4`},
		{`{}`, ``},
		{`{"v":`, ``},
		{`[1]`, ``},
	}
	for _, tt := range tests {
		if got := string(Lookup([]byte(tt.in), "v")); got != tt.want {
			t.Errorf("Lookup(%s, v) = %s; want %s", tt.in, got, tt.want)
		}
	}
}
