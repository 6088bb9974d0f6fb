package harness

import (
	"context"
	"os/exec"
	"testing"

	"github.com/redis/go-redis/v9"
)

func TestStartServer(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not on the PATH")
	}
	srv, err := StartServer()
	if err != nil {
		t.Fatalf("StartServer: %v", err)
	}
	t.Cleanup(srv.Stop)
	if srv.Addr == "127.0.0.1:6379" {
		t.Fatalf("StartServer listens on %s; want a port other than 6379", srv.Addr)
	}
	ctx := context.Background()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { c.Close() })
	before, err := CommandCalls(ctx, c)
	if err != nil {
		t.Fatalf("CommandCalls: %v", err)
	}
	c.Set(ctx, "k", "v", 0)
	c.Get(ctx, "k")
	c.Get(ctx, "k")
	after, err := CommandCalls(ctx, c)
	if err != nil {
		t.Fatalf("CommandCalls: %v", err)
	}
	got := DiffCalls(before, after)
	if len(got) != 2 || got["set"] != 1 || got["get"] != 2 {
		t.Errorf("DiffCalls = %v; want map[get:2 set:1]", got)
	}
}

func TestAdminCommand(t *testing.T) {
	for name, want := range map[string]bool{"info": true, "hello": true, "client|setinfo": true, "get": false} {
		if got := AdminCommand(name); got != want {
			t.Errorf("AdminCommand(%q) = %v; want %v", name, got, want)
		}
	}
}
