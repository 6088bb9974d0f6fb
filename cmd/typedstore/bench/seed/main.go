// Command seed writes n sessions shaped like express-session's into Redis,
// for the benchmark (../run.sh):
//
//	sess:<32 hex digits> = {"cookie":{"originalMaxAge":86400000,"expires":"…","httpOnly":true,"path":"/"},"passport":{"user":"u…"},"cart":[1,2,3]}
//
// each with a time to live of one day, and every four sessions sharing an
// owner (passport.user). The ids come from a pseudo-random generator with
// a fixed seed, so that every run holds the same keys: the order in which
// SCAN returns them, and so the work of a walk, is the same from one run
// to the next. The sessions are written in pipelines of SETs over a few
// connections at once; seed then checks that the database holds exactly n
// keys, since it is meant for a server of the benchmark's own.
package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ttl is the sessions' time to live, and originalMaxAge's: express-session
// sets both from the cookie's maxAge.
const ttl = 24 * time.Hour

func main() {
	addr := flag.String("addr", "", "Redis `address`, host:port (required)")
	n := flag.Int("n", 100000, "number of sessions")
	prefix := flag.String("prefix", "sess:", "key `prefix`")
	batch := flag.Int("batch", 1000, "SETs per pipeline")
	conns := flag.Int("conns", 4, "pipelines in flight at once")
	seed := flag.Uint64("seed", 1, "seed of the ids")
	flag.Parse()
	if *addr == "" || *n < 0 || *batch < 1 || *conns < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*addr, *prefix, *n, *batch, *conns, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

// chunk is one pipeline's worth of sessions: keys[j] is session first+j.
type chunk struct {
	first int
	keys  []string
}

func run(addr, prefix string, n, batch, conns int, seed uint64) error {
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: addr, PoolSize: conns})
	defer client.Close()
	if size, err := client.DBSize(ctx).Result(); err != nil {
		return err
	} else if size != 0 {
		return fmt.Errorf("%s already holds %d keys: want an empty database", addr, size)
	}
	expires := time.Now().Add(ttl).UTC().Format("2006-01-02T15:04:05.000Z")
	head := `{"cookie":{"originalMaxAge":` + strconv.FormatInt(ttl.Milliseconds(), 10) +
		`,"expires":"` + expires + `","httpOnly":true,"path":"/"},"passport":{"user":"u`
	const tail = `"},"cart":[1,2,3]}`

	// The ids are drawn in one goroutine, in order, so that they do not
	// depend on how the pipelines are scheduled.
	chunks := make(chan chunk, conns)
	go func() {
		defer close(chunks)
		r := rand.New(rand.NewPCG(seed, 0))
		var id [16]byte
		for first := 0; first < n; first += batch {
			c := chunk{first: first, keys: make([]string, min(batch, n-first))}
			for j := range c.keys {
				binary.LittleEndian.PutUint64(id[:8], r.Uint64())
				binary.LittleEndian.PutUint64(id[8:], r.Uint64())
				c.keys[j] = prefix + hex.EncodeToString(id[:])
			}
			chunks <- c
		}
	}()

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for range conns {
		wg.Go(func() {
			for c := range chunks {
				_, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
					for j, k := range c.keys {
						p.Set(ctx, k, head+strconv.Itoa((c.first+j)/4)+tail, ttl)
					}
					return nil
				})
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	size, err := client.DBSize(ctx).Result()
	if err != nil {
		return err
	}
	if size != int64(n) {
		return fmt.Errorf("%s holds %d keys after seeding, want %d", addr, size, n)
	}
	return nil
}
