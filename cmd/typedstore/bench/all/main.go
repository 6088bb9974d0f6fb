// Command all ranges over every session under a prefix with the library's
// Store.All and prints how many there were and their bytes: the baseline
// that the benchmark compares typedstore export and stats with.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/goccy/go-json"
	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:6379", "Redis address")
	prefix := flag.String("prefix", "sess:", "key prefix")
	batch := flag.Int("batch", 1000, "SCAN COUNT")
	flag.Parse()
	client := redis.NewClient(&redis.Options{Addr: *addr})
	defer client.Close()
	s, err := typedstore.New(client, typedstore.Options[json.RawMessage]{Prefix: *prefix, ScanCount: *batch})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	seq, errf := s.All(context.Background())
	n, size := 0, 0
	for _, v := range seq {
		n++
		size += len(v)
	}
	if err := errf(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(n, size)
}
