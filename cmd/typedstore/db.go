package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"net/url"
	"strings"
	"time"

	"github.com/goccy/go-json"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
	"github.com/typedstore/typedstore/internal/atrest"
	"github.com/typedstore/typedstore/internal/glob"
	"github.com/typedstore/typedstore/internal/nodes"
)

// maxValue is the largest stored session the tool reads or writes: far
// above typedstore's default MaxSize, since an operator must be able to see
// and move what is there.
const maxValue = 512 << 20

// db is a connection to the sessions of one prefix.
type db struct {
	g      *global
	store  *typedstore.Store[json.RawMessage] // Open's: it owns client
	client redis.UniversalClient
	match  string // SCAN MATCH pattern of the prefix
	host   string // where, for messages: the URL's host, no credentials
	// ownerPath is -owner-path, split; nil without it.
	ownerPath []string
	// keys are -keys-file's, and sealer opens the values under them; nil
	// without it.
	keys   [][]byte
	sealer *atrest.Sealer
	// hasher turns the ids given as arguments into names under
	// -id-hash-key-file; nil without it.
	hasher *atrest.Hasher
}

func open(g *global) (*db, error) {
	opts := typedstore.Options[json.RawMessage]{
		Prefix:      g.prefix,
		OwnerPrefix: g.ownerPrefix,
		ScanCount:   g.batch,
		MaxSize:     maxValue,
		Codec:       rawJSON{},
	}
	switch {
	case g.compress < 0:
		return nil, usagef("-compress-above %d: want 0 or more", g.compress)
	case g.compress > 0 && g.keysFile == "":
		return nil, usagef("-compress-above needs -keys-file: compressed values are sealed")
	case g.plaintext && g.keysFile == "":
		return nil, usagef("-accept-plaintext needs -keys-file, whose first key seals what it reads in clear")
	}
	var sealer *atrest.Sealer
	var keys [][]byte
	if g.keysFile != "" {
		var err error
		if keys, err = readKeys("keys-file", g.keysFile, typedstore.EncryptionKeySize); err != nil {
			return nil, err
		}
		opts.EncryptionKeys, opts.CompressAbove, opts.AcceptPlaintext = keys, g.compress, g.plaintext
		sealer = atrest.NewSealer(keys, 0, maxValue)
	}
	var hasher *atrest.Hasher
	if g.idHashFile != "" {
		keys, err := readKeys("id-hash-key-file", g.idHashFile, -typedstore.MinIDHashKeySize)
		if err != nil {
			return nil, err
		}
		if len(keys) > 1 {
			return nil, usagef("-id-hash-key-file: %s holds %d keys; an application has one IDHashKey", g.idHashFile, len(keys))
		}
		hasher = atrest.NewHasher(keys[0])
	}
	var path []string
	if g.ownerPath != "" {
		path = splitPath(g.ownerPath)
		opts.Owner = func(v json.RawMessage) string { return ownerAt(v, path) }
	} else if g.ownerPrefix != "" {
		return nil, usagef("-owner-prefix needs -owner-path, which says whose each session is")
	}
	s, err := typedstore.Open(g.url, opts)
	if err != nil {
		// Open's messages never repeat the URL; drop its package name.
		return nil, usageError{strings.TrimPrefix(err.Error(), "typedstore: ")}
	}
	host := "Redis"
	if u, err := url.Parse(g.url); err == nil && u.Host != "" {
		host = u.Host
	}
	return &db{g: g, store: s, client: s.Client(), match: glob.Escape(g.prefix) + "*", host: host, ownerPath: path, keys: keys, sealer: sealer, hasher: hasher}, nil
}

// name returns the name of the key of the session id given as an
// argument: its hash under -id-hash-key-file, id itself otherwise. The
// tool's store takes names for ids, as ls and export show them.
func (d *db) name(id string) string {
	if d.hasher == nil {
		return id
	}
	return d.hasher.Name(id)
}

// openError is the error of a record whose value does not open under
// -keys-file.
type openError struct{ err error }

func (e openError) Error() string {
	return "the value does not open under -keys-file: " + e.err.Error()
}
func (e openError) Unwrap() error { return e.err }

// open returns the plaintext of the value of key under -keys-file, and its
// value itself without it.
func (d *db) open(key string, value []byte) ([]byte, error) {
	if d.sealer == nil || (d.g.plaintext && !atrest.IsSealed(value)) {
		return value, nil
	}
	plain, _, err := d.sealer.Open(key, value)
	return plain, err
}

func (d *db) close() { d.store.Close() }

// rawJSON is the codec of the tool's store: the stored bytes as they are.
type rawJSON struct{}

func (rawJSON) Encode(v json.RawMessage) ([]byte, error) { return v, nil }
func (rawJSON) Decode(b []byte, v *json.RawMessage) error {
	if atrest.IsSealed(b) { // under -keys-file, the store has opened it
		return errSealed
	}
	*v = append((*v)[:0], b...)
	return nil
}

// errSealed is the error of a sealed value read without -keys-file: the
// tool cannot read the owner, or anything else, in it.
var errSealed = errors.New("the value is sealed: -keys-file opens it")

// record is one key found under the prefix.
type record struct {
	id    string
	value []byte // nil when the walk did not read values; opened under -keys-file
	size  int    // the size of the value in Redis
	// sealed is set for a sealed value read without -keys-file: value
	// holds it as it is stored, and nothing in it can be read.
	sealed bool
	ttlMs  int64  // the time to live as Redis reports it, in ms: -1 for none
	err    error  // the key holds another type than a string, or a value that does not open
	node   string // the address of the master that holds it
}

// walkOptions says what a walk reads.
type walkOptions struct {
	values bool // read each value (GET) and its time to live (PTTL)
	// progress, when set, is called after each batch with the records
	// passed so far and the share of the key space scanned, from 0 to 1.
	progress func(done int64, fraction float64)
}

// walk passes fn every session under the prefix, in batches of about
// -batch: one SCAN per batch on every master in turn, and, for values, one
// pipeline per batch with the GET and PTTL of each key and the next SCAN.
// It keeps nothing between batches, so its memory does not grow with the
// number of sessions; the price is that a key that SCAN returns twice
// (Redis may, while it resizes its table) is passed twice. A key that
// expires between its SCAN and its GET is not passed.
//
// On a cluster, a slot that moves during the walk can hide a session from
// it or show one twice: the walk compares every master's slots before and
// after and returns a warning when they differ.
func (d *db) walk(ctx context.Context, o walkOptions, fn func([]record) error) (warning string, err error) {
	nodes, addrs, err := d.masters(ctx)
	if err != nil {
		return "", err
	}
	before, err := d.topology(ctx, nodes)
	if err != nil {
		return "", err
	}
	var done int64
	batch := make([]record, 0, d.g.batch)
	for i, node := range nodes {
		keys, cursor, err := node.Scan(ctx, 0, d.match, int64(d.g.batch)).Result()
		if err != nil {
			return "", fmt.Errorf("scan %s: %w", addrs[i], err)
		}
		for {
			batch = batch[:0]
			var next *redis.ScanCmd
			if o.values && len(keys) > 0 {
				gets := make([]*redis.StringCmd, len(keys))
				ttls := make([]*redis.Cmd, len(keys))
				_, err := node.Pipelined(ctx, func(p redis.Pipeliner) error {
					for j, k := range keys {
						gets[j], ttls[j] = p.Get(ctx, k), p.Do(ctx, "PTTL", k) // in ms: no Duration to overflow
					}
					if cursor != 0 {
						next = p.Scan(ctx, cursor, d.match, int64(d.g.batch))
					}
					return nil
				})
				if err := ctx.Err(); err != nil {
					return "", err
				}
				_ = err // each command carries its own error
				for j, k := range keys {
					ms, _ := ttls[j].Int64()
					r := record{id: strings.TrimPrefix(k, d.g.prefix), node: addrs[i], ttlMs: ms}
					b, err := gets[j].Bytes()
					switch {
					case err == redis.Nil:
						continue // expired or deleted since the SCAN
					case redis.HasErrorPrefix(err, "WRONGTYPE"):
						r.err = err
					case err != nil:
						return "", fmt.Errorf("get from %s: %w", addrs[i], err)
					default:
						r.size = len(b)
						r.sealed = d.sealer == nil && atrest.IsSealed(b)
						if r.value, err = d.open(k, b); err != nil {
							r.err = openError{err}
						}
					}
					if err := ttls[j].Err(); err != nil {
						return "", fmt.Errorf("pttl on %s: %w", addrs[i], err)
					}
					if r.ttlMs == -2 {
						continue // gone since the GET
					}
					batch = append(batch, r)
				}
			} else {
				for _, k := range keys {
					batch = append(batch, record{id: strings.TrimPrefix(k, d.g.prefix), node: addrs[i], ttlMs: -1})
				}
			}
			if len(batch) > 0 {
				if err := fn(batch); err != nil {
					return "", err
				}
			}
			done += int64(len(batch))
			if o.progress != nil {
				o.progress(done, (float64(i)+scanned(cursor))/float64(len(nodes)))
			}
			if cursor == 0 {
				break
			}
			if err := ctx.Err(); err != nil {
				return "", err
			}
			if next == nil {
				next = node.Scan(ctx, cursor, d.match, int64(d.g.batch))
			}
			if keys, cursor, err = next.Result(); err != nil {
				return "", fmt.Errorf("scan %s: %w", addrs[i], err)
			}
		}
	}
	after, err := d.topology(ctx, nodes)
	if err != nil {
		return "", err
	}
	if before != after || strings.Contains(after, "[") {
		return "the cluster's slots moved during the walk: a session may have been missed or passed twice; run it again", nil
	}
	return "", nil
}

// maxTTLMs is the longest time to live, in milliseconds, that a
// time.Duration holds (about 292 years).
const maxTTLMs = math.MaxInt64 / int64(time.Millisecond)

// ttl returns the record's time to live (see durationOfMs).
func (r record) ttl() time.Duration { return durationOfMs(r.ttlMs) }

// durationOfMs returns a PTTL reply as a Duration: -1 (or -2) as it is,
// and a time to live too long for a Duration as the longest one.
func durationOfMs(ms int64) time.Duration {
	if ms < 0 {
		return time.Duration(ms)
	}
	return time.Duration(min(ms, maxTTLMs)) * time.Millisecond
}

// scanned returns the share of a Redis table that a SCAN has covered when
// it returns cursor: Redis walks the buckets in the order of their
// bit-reversed index, so the reversed cursor, read as a fraction of 2⁶⁴,
// is the share done whatever the table's size. 0 means done.
func scanned(cursor uint64) float64 {
	if cursor == 0 {
		return 1
	}
	return float64(bits.Reverse64(cursor)) / math.Exp2(64)
}

// masters returns a client on every master (every shard of a ring; the
// server itself otherwise), sorted by address, and their addresses.
func (d *db) masters(ctx context.Context) ([]redis.Cmdable, []string, error) {
	found, err := nodes.Masters(ctx, d.client)
	if err != nil {
		return nil, nil, fmt.Errorf("list the masters: %w", err)
	}
	if found == nil {
		return []redis.Cmdable{d.client}, []string{d.host}, nil
	}
	masters, addrs := make([]redis.Cmdable, len(found)), make([]string, len(found))
	for i, c := range found {
		masters[i], addrs[i] = c, c.Options().Addr
	}
	return masters, addrs, nil
}

// topology returns, on a cluster, each master's own view of its slots (see
// nodes.Slots); "" elsewhere.
func (d *db) topology(ctx context.Context, masters []redis.Cmdable) (string, error) {
	if _, ok := d.client.(*redis.ClusterClient); !ok {
		return "", nil
	}
	t, err := nodes.Slots(ctx, masters)
	if err != nil {
		return "", fmt.Errorf("cluster nodes: %w", err)
	}
	return t, nil
}

// owner returns the owner of a stored session under -owner-path.
func (d *db) owner(value []byte) string {
	if d.ownerPath == nil {
		return ""
	}
	return ownerAt(value, d.ownerPath)
}
