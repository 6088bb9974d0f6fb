package main

import (
	"context"
	"testing"
)

func TestQuickstartRuns(t *testing.T) {
	t.Setenv("REDIS_URL", "")
	if err := run(context.Background()); err != nil {
		t.Fatalf("run: %v", err)
	}
}
