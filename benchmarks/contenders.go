package main

import (
	"context"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/alexedwards/scs/goredisstore"
	"github.com/alexedwards/scs/v2"
	goccy "github.com/goccy/go-json"
	"github.com/gorilla/sessions"
	"github.com/rbcervilla/redisstore/v9"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
)

// A workload is one column family of the table.
type workload string

const (
	wLoad      workload = "load"       // read an existing session
	wSave      workload = "save"       // write a session, with its TTL
	wTouch     workload = "touch"      // reset a session's TTL
	wLoadTouch workload = "load+touch" // read a session and reset its TTL: a request on a rolling session
	wAll       workload = "all"        // iterate over every stored session
)

// opFunc does one operation on the session id. worker is the index of the
// calling goroutine, for contenders that keep per-goroutine state.
type opFunc func(ctx context.Context, worker int, id string) error

// contender is one session store, or a raw client doing the same commands.
// A nil operation is one the library does not have.
type contender struct {
	name  string
	ops   map[workload]opFunc
	all   func(ctx context.Context, each func()) (int, error) // calls each for every session; returns how many
	notes map[workload]string
	node  *nodeRunner // set for connect-redis, which runs in a Node process
	close func()
}

// env is what the contenders are built from.
type env struct {
	addr     string
	sess     Session
	jsonData []byte
	ids      []string
	workers  int // the most goroutines an operation is called from
}

func newClient(addr string, db int) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: addr, DB: db})
}

// typedstoreVariants are the typedstore rows of the table: each one's
// options are the defaults, with Prefix and TTL those of the comparison,
// changed by its set function.
var typedstoreVariants = []struct {
	name string
	set  func(*typedstore.Options[Session])
	all  bool // also iterate: All sends no pipelined commands, so one row is enough
}{
	{"typedstore", func(*typedstore.Options[Session]) {}, true},
	{"typedstore DisablePipelining", func(o *typedstore.Options[Session]) { o.DisablePipelining = true }, false},
}

// newTypedstore builds one typedstore contender.
func newTypedstore(e *env, name string, set func(*typedstore.Options[Session]), withAll bool) (*contender, error) {
	client := newClient(e.addr, jsonDB)
	opts := typedstore.Options[Session]{Prefix: jsonPrefix, TTL: sessionTTL}
	set(&opts)
	store, err := typedstore.New(client, opts)
	if err != nil {
		client.Close()
		return nil, err
	}
	sess := e.sess
	ctr := &contender{
		name: name,
		ops: map[workload]opFunc{
			wLoad: func(ctx context.Context, _ int, id string) error {
				_, err := store.Get(ctx, id)
				return err
			},
			wSave: func(ctx context.Context, _ int, id string) error { return store.Set(ctx, id, sess) },
			wTouch: func(ctx context.Context, _ int, id string) error {
				return store.Touch(ctx, id, sess)
			},
			wLoadTouch: func(ctx context.Context, _ int, id string) error {
				_, err := store.GetAndExtend(ctx, id, sessionTTL)
				return err
			},
		},
		notes: map[workload]string{wLoadTouch: "GetAndExtend"},
		close: func() { store.Close(); client.Close() },
	}
	if withAll {
		ctr.all = func(ctx context.Context, each func()) (int, error) {
			seq, errf := store.All(ctx)
			n := 0
			for _, v := range seq {
				if v.UserID != 0 {
					n++
					each()
				}
			}
			return n, errf()
		}
	}
	return ctr, nil
}

// jsonCodec is the JSON package of a raw contender.
type jsonCodec struct {
	marshal   func(any) ([]byte, error)
	unmarshal func([]byte, any) error
}

var (
	stdJSON   = jsonCodec{stdjson.Marshal, stdjson.Unmarshal}
	goccyJSON = jsonCodec{goccy.Marshal, goccy.Unmarshal}
)

// newRaw builds a contender that sends the commands by hand: GET and
// decode; encode and SET … EX; EXPIRE; GET then EXPIRE (as express-session
// with connect-redis does); and for "all", a loop of SCAN then MGET of the
// batch, decoding each value.
func newRaw(e *env, name string, codec jsonCodec, withAll bool) *contender {
	client := newClient(e.addr, jsonDB)
	sess := e.sess
	load := func(ctx context.Context, key string) error {
		data, err := client.Get(ctx, key).Bytes()
		if err != nil {
			return err
		}
		var v Session
		return codec.unmarshal(data, &v)
	}
	touch := func(ctx context.Context, key string) error {
		ok, err := client.Expire(ctx, key, sessionTTL).Result()
		if err == nil && !ok {
			err = errors.New("EXPIRE: no such key")
		}
		return err
	}
	c := &contender{
		name: name,
		ops: map[workload]opFunc{
			wLoad: func(ctx context.Context, _ int, id string) error { return load(ctx, jsonPrefix+id) },
			wSave: func(ctx context.Context, _ int, id string) error {
				data, err := codec.marshal(sess)
				if err != nil {
					return err
				}
				return client.Set(ctx, jsonPrefix+id, data, sessionTTL).Err()
			},
			wTouch: func(ctx context.Context, _ int, id string) error { return touch(ctx, jsonPrefix+id) },
			wLoadTouch: func(ctx context.Context, _ int, id string) error {
				key := jsonPrefix + id
				if err := load(ctx, key); err != nil {
					return err
				}
				return touch(ctx, key)
			},
		},
		notes: map[workload]string{wLoadTouch: "GET, then EXPIRE"},
		close: func() { client.Close() },
	}
	if withAll {
		c.all = func(ctx context.Context, each func()) (int, error) {
			n := 0
			var cursor uint64
			for {
				keys, next, err := client.Scan(ctx, cursor, jsonPrefix+"*", 100).Result()
				if err != nil {
					return n, err
				}
				if len(keys) > 0 {
					vals, err := client.MGet(ctx, keys...).Result()
					if err != nil {
						return n, err
					}
					for _, raw := range vals {
						str, ok := raw.(string)
						if !ok {
							continue // expired since the SCAN
						}
						var v Session
						if err := codec.unmarshal([]byte(str), &v); err != nil {
							return n, err
						}
						n++
						each()
					}
				}
				if cursor = next; cursor == 0 {
					return n, nil
				}
			}
		}
		c.notes[wAll] = "SCAN, then MGET, per batch of 100"
	}
	return c
}

// newSCS builds the scs contender: a SessionManager on goredisstore, with
// scs's default gob codec. Load is SessionManager.Load (FindCtx, then
// decode); save is what SessionManager.Commit does (encode, then CommitCtx:
// SET with the TTL). scs has no touch: a session with an IdleTimeout is
// extended by committing it again, so touch is a commit too, and load+touch
// is Load followed by Commit under an IdleTimeout (GET, then SET).
func newSCS(e *env) *contender {
	client := newClient(e.addr, scsDB)
	store := goredisstore.NewWithPrefix(client, scsPrefix)
	sm := scs.New()
	sm.Store = store
	sm.Lifetime = sessionTTL
	idle := scs.New()
	idle.Store = store
	idle.Lifetime = sessionTTL
	idle.IdleTimeout = sessionTTL
	values := map[string]any{"session": e.sess}
	deadline := e.sess.Cookie.Expires()
	commit := func(ctx context.Context, id string) error {
		b, err := sm.Codec.Encode(deadline, values)
		if err != nil {
			return err
		}
		return store.CommitCtx(ctx, id, b, time.Now().Add(sessionTTL))
	}
	return &contender{
		name: "scs + goredisstore",
		ops: map[workload]opFunc{
			wLoad: func(ctx context.Context, _ int, id string) error {
				ctx, err := sm.Load(ctx, id)
				if err != nil {
					return err
				}
				if _, ok := sm.Get(ctx, "session").(Session); !ok {
					return fmt.Errorf("scs: no session under %q", id)
				}
				return nil
			},
			wSave:  func(ctx context.Context, _ int, id string) error { return commit(ctx, id) },
			wTouch: func(ctx context.Context, _ int, id string) error { return commit(ctx, id) },
			wLoadTouch: func(ctx context.Context, _ int, id string) error {
				ctx, err := idle.Load(ctx, id)
				if err != nil {
					return err
				}
				if _, ok := idle.Get(ctx, "session").(Session); !ok {
					return fmt.Errorf("scs: no session under %q", id)
				}
				_, _, err = idle.Commit(ctx)
				return err
			},
		},
		all: func(ctx context.Context, each func()) (int, error) {
			n := 0
			err := sm.Iterate(ctx, func(ctx context.Context) error {
				if _, ok := sm.Get(ctx, "session").(Session); ok {
					n++
					each()
				}
				return nil
			})
			return n, err
		},
		notes: map[workload]string{
			wTouch:     "no touch: SET of the whole session",
			wLoadTouch: "Load, then Commit: GET, then SET",
			wAll:       "Iterate: AllCtx is SCAN, then one GET per key",
		},
		close: func() { client.Close() },
	}
}

// gorillaWorker is one goroutine's request and response for the gorilla
// store, whose API works on *http.Request and http.ResponseWriter.
type gorillaWorker struct {
	req  *http.Request
	w    headerWriter
	sess *sessions.Session
}

// headerWriter is the least http.ResponseWriter that Save needs (it sets the
// cookie); its header is cleared before each call.
type headerWriter http.Header

func (w headerWriter) Header() http.Header         { return http.Header(w) }
func (w headerWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w headerWriter) WriteHeader(int)             {}

// newGorilla builds the gorilla contender: rbcervilla/redisstore/v9, with its
// default gob serializer and MaxAge set to the TTL. Load is store.New on a
// request that carries the session cookie (GET, then decode); save is
// store.Save (encode, SET with the TTL, and the Set-Cookie header it always
// writes). gorilla sessions have no touch and no iteration: touch is a Save
// (a SET of the whole session), load+touch a New then a Save.
func newGorilla(e *env) (*contender, error) {
	client := newClient(e.addr, gorillaDB)
	store, err := redisstore.NewRedisStore(context.Background(), client)
	if err != nil {
		client.Close()
		return nil, err
	}
	store.KeyPrefix(gorillaPrefix)
	store.Options(sessions.Options{Path: "/", MaxAge: int(sessionTTL / time.Second), HttpOnly: true})
	cookies := make(map[string]string, len(e.ids))
	for _, id := range e.ids {
		cookies[id] = gorillaName + "=" + id
	}
	workers := make([]gorillaWorker, e.workers)
	for i := range workers {
		s := sessions.NewSession(store, gorillaName)
		opts := sessions.Options{Path: "/", MaxAge: int(sessionTTL / time.Second), HttpOnly: true}
		s.Options = &opts
		s.Values["session"] = e.sess
		workers[i] = gorillaWorker{
			req:  &http.Request{Header: http.Header{"Cookie": {""}}},
			w:    headerWriter{},
			sess: s,
		}
	}
	load := func(ctx context.Context, w *gorillaWorker, id string) (*sessions.Session, error) {
		w.req.Header["Cookie"][0] = cookies[id]
		// The request's context is context.Background, as ctx is here: the
		// gorilla API takes it from the request.
		s, err := store.New(w.req, gorillaName)
		if err != nil {
			return nil, err
		}
		if _, ok := s.Values["session"].(Session); !ok || s.IsNew {
			return nil, fmt.Errorf("gorilla: no session under %q", id)
		}
		return s, nil
	}
	save := func(ctx context.Context, w *gorillaWorker, s *sessions.Session, id string) error {
		clear(w.w)
		s.ID = id
		return store.Save(w.req, w.w, s)
	}
	return &contender{
		name: "gorilla redisstore",
		ops: map[workload]opFunc{
			wLoad: func(ctx context.Context, worker int, id string) error {
				_, err := load(ctx, &workers[worker], id)
				return err
			},
			wSave: func(ctx context.Context, worker int, id string) error {
				w := &workers[worker]
				return save(ctx, w, w.sess, id)
			},
			wTouch: func(ctx context.Context, worker int, id string) error {
				w := &workers[worker]
				return save(ctx, w, w.sess, id)
			},
			wLoadTouch: func(ctx context.Context, worker int, id string) error {
				w := &workers[worker]
				s, err := load(ctx, w, id)
				if err != nil {
					return err
				}
				return save(ctx, w, s, id)
			},
		},
		notes: map[workload]string{
			wTouch:     "no touch: Save, a SET of the whole session",
			wLoadTouch: "New, then Save: GET, then SET",
		},
		close: func() { client.Close() },
	}, nil
}
