package typedstore_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/typedstore/typedstore"
)

func TestOpen(t *testing.T) {
	mr, _, _ := newMini(t, typedstore.Options[session]{})
	s, err := typedstore.Open("redis://"+mr.Addr()+"/0", typedstore.Options[session]{Prefix: "o:"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	ctx := context.Background()
	if err := s.Set(ctx, "k", session{UserID: 9}); err != nil {
		t.Fatal(err)
	}
	if !mr.Exists("o:k") {
		t.Errorf("Open's store wrote elsewhere: keys = %q", mr.Keys())
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := s.Get(ctx, "k"); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("Get after Close = %v; want redis.ErrClosed: Close closes the client Open made", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v; want nil", err)
	}

	for _, u := range []string{
		"redis://user:secret@localhost:6380/3?dial_timeout=2s",
		"rediss://localhost:6380",
		"unix:///tmp/redis.sock?db=2",
		"redis://localhost:7000?addr=localhost:7001&addr=localhost:7002",
	} {
		s, err := typedstore.Open(u, typedstore.Options[session]{})
		if err != nil {
			t.Errorf("Open(%q): %v", u, err)
			continue
		}
		s.Close()
	}
	cluster, err := typedstore.Open("redis://localhost:7000?addr=localhost:7001", typedstore.Options[session]{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cluster.Client().(*redis.ClusterClient); !ok {
		t.Errorf("Open with addr parameters made a %T; want *redis.ClusterClient", cluster.Client())
	}
	cluster.Close()
	sentinel, err := typedstore.Open("redis://localhost:26379?master_name=mymaster&addr=localhost:26380", typedstore.Options[session]{})
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := sentinel.Client().(*redis.Client); !ok || !strings.HasPrefix(c.String(), "Redis<FailoverClient") {
		t.Errorf("Open with master_name made %v; want a failover client", sentinel.Client())
	}
	sentinel.Close()

	for _, u := range []string{"http://localhost", "redis://user:hunter2@[::1", "redis://localhost/notadb"} {
		if _, err := typedstore.Open(u, typedstore.Options[session]{}); err == nil {
			t.Errorf("Open(%q) = nil error; want one", u)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("Open error %q leaks the password", err)
		}
	}
	if _, err := typedstore.Open("redis://localhost", typedstore.Options[session]{TTL: -1}); err == nil {
		t.Error("Open with invalid options = nil error; want one")
	}
}

func TestCloseLeavesCallersClientOpen(t *testing.T) {
	_, client, s := newMini(t, typedstore.Options[session]{})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Errorf("caller's client after Store.Close: %v; want it still open", err)
	}
}

func TestOpenEmptyURL(t *testing.T) {
	_, err := typedstore.Open("", typedstore.Options[session]{})
	if err == nil || !strings.Contains(err.Error(), "URL is empty") {
		t.Errorf("Open(\"\") = %v; want an error saying the URL is empty", err)
	}
}
