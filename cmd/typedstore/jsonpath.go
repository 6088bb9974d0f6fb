package main

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/goccy/go-json"
)

// A path names a member of a session's JSON by the names of the objects on
// the way, separated by dots: "userId", "passport.user"; a number indexes
// an array: "roles.0".
func splitPath(p string) []string { return strings.Split(p, ".") }

func checkPath(flag, p string) error {
	for _, name := range splitPath(p) {
		if name == "" {
			return usagef("%s %q: want member names separated by dots, such as passport.user", flag, p)
		}
	}
	return nil
}

// lookup returns the JSON at path in doc, and whether it is there.
func lookup(doc []byte, path []string) (json.RawMessage, bool) {
	cur := json.RawMessage(doc)
	for _, name := range path {
		if t := bytes.TrimLeft(cur, " \t\r\n"); len(t) > 0 && t[0] == '[' {
			var arr []json.RawMessage
			i, err := strconv.Atoi(name)
			if err != nil || json.Unmarshal(cur, &arr) != nil || i < 0 || i >= len(arr) {
				return nil, false
			}
			cur = arr[i]
			continue
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(cur, &obj) != nil || obj == nil {
			return nil, false
		}
		v, ok := obj[name]
		if !ok {
			return nil, false
		}
		cur = v
	}
	return cur, true
}

// scalar returns a JSON value as text: a string without its quotes, a
// number, true, false or null as written; ok is false for objects and
// arrays.
func scalar(v json.RawMessage) (s string, ok bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || v[0] == '{' || v[0] == '[' {
		return "", false
	}
	if v[0] == '"' {
		if json.Unmarshal(v, &s) != nil {
			return "", false
		}
		return s, true
	}
	return string(v), true
}

// ownerAt returns the owner of a session: the scalar at path, "" when
// there is none (an anonymous session).
func ownerAt(doc []byte, path []string) string {
	v, ok := lookup(doc, path)
	if !ok {
		return ""
	}
	s, ok := scalar(v)
	if !ok || s == "null" {
		return ""
	}
	return s
}

// condition is a --where test: the scalar at path equals want.
type condition struct {
	path []string
	want string
}

func parseCondition(s string) (condition, error) {
	p, want, ok := strings.Cut(s, "=")
	if !ok {
		return condition{}, usagef("-where %q: want PATH=VALUE, such as cookie.path=/", s)
	}
	if err := checkPath("-where", p); err != nil {
		return condition{}, err
	}
	return condition{splitPath(p), want}, nil
}

func (c condition) holds(doc []byte) bool {
	v, ok := lookup(doc, c.path)
	if !ok {
		return false
	}
	s, ok := scalar(v)
	return ok && s == c.want
}

// An edit changes a session's JSON for migrate.
type edit struct {
	op       string // "set", "rename" or "delete"
	path, to []string
	value    any // for set
}

func parseEdit(op, s string) (edit, error) {
	e := edit{op: op}
	switch op {
	case "set":
		p, v, ok := strings.Cut(s, "=")
		if !ok {
			return e, usagef("-set %q: want PATH=JSON, such as theme=\"dark\" or prefs.size=12", s)
		}
		if err := decodeUseNumber([]byte(v), &e.value); err != nil {
			return e, usagef("-set %q: the value is not JSON (a string needs its quotes)", s)
		}
		e.path = splitPath(p)
		return e, checkPath("-set", p)
	case "rename":
		from, to, ok := strings.Cut(s, "=")
		if !ok {
			return e, usagef("-rename %q: want FROM=TO, such as userId=user.id", s)
		}
		e.path, e.to = splitPath(from), splitPath(to)
		if err := checkPath("-rename", from); err != nil {
			return e, err
		}
		return e, checkPath("-rename", to)
	default:
		e.path = splitPath(s)
		return e, checkPath("-delete", s)
	}
}

func decodeUseNumber(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

// applyEdits returns doc with edits applied in order. A path through a
// member that is not an object is an error; deleting or renaming a member
// that is not there changes nothing.
func applyEdits(doc []byte, edits []edit) ([]byte, error) {
	var root any
	if err := decodeUseNumber(doc, &root); err != nil {
		return nil, err
	}
	obj, ok := root.(map[string]any)
	if !ok {
		return nil, errors.New("the session is not a JSON object")
	}
	for _, e := range edits {
		switch e.op {
		case "set":
			if err := put(obj, e.path, e.value); err != nil {
				return nil, err
			}
		case "delete":
			take(obj, e.path)
		case "rename":
			if v, ok := take(obj, e.path); ok {
				if err := put(obj, e.to, v); err != nil {
					return nil, err
				}
			}
		}
	}
	return json.Marshal(obj)
}

// put sets the member at path, making the objects on the way.
func put(obj map[string]any, path []string, v any) error {
	for i, name := range path[:len(path)-1] {
		next, ok := obj[name]
		if !ok {
			m := map[string]any{}
			obj[name], obj = m, m
			continue
		}
		if obj, ok = next.(map[string]any); !ok {
			return fmt.Errorf("%s is not an object", strings.Join(path[:i+1], "."))
		}
	}
	obj[path[len(path)-1]] = v
	return nil
}

// take removes the member at path and returns it.
func take(obj map[string]any, path []string) (any, bool) {
	for _, name := range path[:len(path)-1] {
		next, ok := obj[name].(map[string]any)
		if !ok {
			return nil, false
		}
		obj = next
	}
	v, ok := obj[path[len(path)-1]]
	delete(obj, path[len(path)-1])
	return v, ok
}
