package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"
)

// confirm lets a destructive step go ahead: at once with -yes; after the
// operator answers yes on a terminal; never otherwise, so that a script
// that forgot -yes changes nothing.
func (a *app) confirm(ctx context.Context, yes bool, question string) error {
	if yes {
		return nil
	}
	if !a.interactive {
		return usagef("%s: refused without -yes, since stdin is not a terminal to ask on; nothing was changed", question)
	}
	fmt.Fprintf(a.stderr, "%s? [y/N] ", question)
	answers := make(chan string, 1)
	go func() {
		answer, _ := bufio.NewReader(a.stdin).ReadString('\n')
		answers <- answer
	}()
	var answer string
	select {
	case answer = <-answers:
	case <-ctx.Done(): // Ctrl-C at the question
		fmt.Fprintln(a.stderr)
		return fmt.Errorf("nothing was changed: %w", ctx.Err())
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return usagef("%s: not confirmed; nothing was changed", question)
}
