// Command modgate-load is modgate's load tool, a development tool that is
// not part of the shipped binary. It drives a modgate with signed
// before-send requests and, in the same run, a bare baseline (an Echo server
// that decodes the body with encoding/json and writes the message back), and
// prints both and their ratio.
//
//	go run ./cmd/modgate-load                        memory state, ./rules.yaml
//	go run ./cmd/modgate-load -redis redis://127.0.0.1:6379/14 -processes 3
//	go run ./cmd/modgate-load -target http://host:8080 -key K -secret S -no-baseline
//
// Without -target it builds modgate from this checkout (or runs -modgate)
// and starts it; see -h for the flags.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program, callable from tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == baselineCommand {
		// The tool starts itself again as the baseline server, so that the
		// baseline runs in a process of its own that can be pinned and
		// measured like modgate.
		return baseline(ctx, os.Getenv("MODGATE_ADDR"), stderr)
	}
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		fmt.Fprintf(stderr, "modgate-load: unexpected argument %q\n", args[0])
		return 2
	}
	return load(ctx, args, stdout, stderr)
}
