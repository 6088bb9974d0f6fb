// Package jsonfields finds the members of a JSON object that a Go struct
// type does not declare, and puts them back into the object's encoding, so
// that a store can save a session without losing what another program (an
// Express app) keeps in it.
//
// The names a type declares follow encoding/json's rules, which
// github.com/goccy/go-json shares: exported fields, named by their tag or
// their Go name, untagged embedded structs flattened, "-" skipped; a member
// whose name matches a declared one without regard to case (Unicode simple
// folding: "ſ" is "s", "K" the Kelvin sign is "k") is declared too, since
// the decoder reads it into that field.
package jsonfields

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
)

// Set is the set of top-level member names a struct type declares.
type Set struct {
	exact map[string]struct{}
	lower []string // the names in lower case, for the case-insensitive match
}

var (
	unmarshaler     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// Of returns the names that type t declares, or nil when t is not a
// struct or a pointer to one, or when it decodes itself (implements
// json.Unmarshaler or encoding.TextUnmarshaler, possibly through an
// embedded field): then the type, not this package, decides what becomes
// of the members.
func Of(t reflect.Type) *Set {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	pt := reflect.PointerTo(t)
	if pt.Implements(unmarshaler) || pt.Implements(textUnmarshaler) {
		return nil
	}
	s := &Set{exact: map[string]struct{}{}}
	s.add(t, map[reflect.Type]bool{})
	return s
}

// add adds the names of struct type t's fields; seen breaks cycles of
// embedded pointers.
func (s *Set) add(t reflect.Type, seen map[reflect.Type]bool) {
	if seen[t] {
		return
	}
	seen[t] = true
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			s.add(ft, seen) // flattened, exported or not, as encoding/json does
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		s.Declare(name)
	}
}

// has reports whether the member name (raw, between its quotes) is
// declared.
func (s *Set) has(name []byte) bool {
	if _, ok := s.exact[string(name)]; ok {
		return true
	}
	if bytes.IndexByte(name, '\\') >= 0 {
		var str string
		if json.Unmarshal(append(append([]byte{'"'}, name...), '"'), &str) != nil {
			return true // unreadable: leave it to the decoder
		}
		name = []byte(str)
		if _, ok := s.exact[str]; ok {
			return true
		}
	}
	for _, l := range s.lower {
		if strings.EqualFold(l, string(name)) {
			return true
		}
	}
	return false
}

// Unknown returns the members of the JSON object data whose names s does
// not declare, as they stand in data and separated by commas
// (`"a":1,"b":{"c":2}`), or nil when there are none or data is not a
// well-formed object. It allocates only when it finds some.
func (s *Set) Unknown(data []byte) []byte {
	var out []byte
	ok := walk(data, func(name, member, value []byte) {
		if s.has(name) {
			return
		}
		if out != nil {
			out = append(out, ',')
		}
		out = append(append(append(out, member...), ':'), value...)
	})
	if !ok {
		return nil
	}
	return out
}

// walk calls fn with each member of the JSON object data: its name (raw,
// between its quotes), the member's name with its quotes, and its value, as
// they stand in data. It reports whether data is a well-formed object.
func walk(data []byte, fn func(name, member, value []byte)) bool {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return skipSpace(data, i+1) == len(data)
	}
	for {
		start := i
		end, ok := skipString(data, i)
		if !ok {
			return false
		}
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return false
		}
		value := skipSpace(data, i+1)
		if i, ok = skipValue(data, value); !ok {
			return false
		}
		fn(data[start+1:end-1], data[start:end], data[value:i])
		i = skipSpace(data, i)
		if i >= len(data) {
			return false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return skipSpace(data, i+1) == len(data)
		default:
			return false
		}
	}
}

// Splice returns the JSON object obj with members (as Unknown returns them)
// added before its closing brace. obj is returned as it is when members is
// empty or obj is not an object.
func Splice(obj, members []byte) []byte {
	if len(members) == 0 {
		return obj
	}
	end := len(obj) - 1
	for end >= 0 && isSpace(obj[end]) {
		end--
	}
	if end < 1 || obj[end] != '}' || obj[skipSpace(obj, 0)] != '{' {
		return obj
	}
	inner := end - 1
	for inner >= 0 && isSpace(obj[inner]) {
		inner--
	}
	out := make([]byte, 0, end+len(members)+2)
	out = append(out, obj[:end]...)
	if obj[inner] != '{' {
		out = append(out, ',')
	}
	out = append(out, members...)
	return append(out, '}')
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(data []byte, i int) int {
	for i < len(data) && isSpace(data[i]) {
		i++
	}
	return i
}

// skipString returns the index just past the string that starts at i.
func skipString(data []byte, i int) (int, bool) {
	if i >= len(data) || data[i] != '"' {
		return 0, false
	}
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1, true
		}
	}
	return 0, false
}

// skipValue returns the index just past the value that starts at i.
func skipValue(data []byte, i int) (int, bool) {
	if i >= len(data) {
		return 0, false
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for i < len(data) {
			switch data[i] {
			case '"':
				end, ok := skipString(data, i)
				if !ok {
					return 0, false
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return 0, false
	}
	// A number, true, false or null.
	start := i
	for i < len(data) && !isSpace(data[i]) && data[i] != ',' && data[i] != '}' && data[i] != ']' {
		i++
	}
	return i, i > start
}

// Declare adds name to the names s declares.
func (s *Set) Declare(name string) {
	if _, dup := s.exact[name]; !dup {
		s.exact[name] = struct{}{}
		s.lower = append(s.lower, strings.ToLower(name))
	}
}

// Declares reports whether s declares name, as the decoder would match it.
func (s *Set) Declares(name string) bool { return s.has([]byte(name)) }

// Lookup returns the value of the top-level member of the JSON object data
// that the decoder would read into a field named name (the exact name, or
// one equal to it without regard to case, escapes decoded), as it stands in
// data; nil when there is none or data is not a well-formed object. Of
// several, the last wins, as in the decoder.
func Lookup(data []byte, name string) []byte {
	var found []byte
	ok := walk(data, func(key, _, value []byte) {
		k := string(key)
		if strings.IndexByte(k, '\\') >= 0 {
			var str string
			if json.Unmarshal(append(append([]byte{'"'}, key...), '"'), &str) != nil {
				return
			}
			k = str
		}
		if k == name || strings.EqualFold(k, name) {
			found = value
		}
	})
	if !ok {
		return nil
	}
	return found
}
