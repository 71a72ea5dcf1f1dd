// Command modgate is a moderation hook for Stream Chat.
//
//	modgate serve            run the hooks (default)
//	modgate check [FILE]     validate a rules file
//	modgate test [FILE] MSG  explain what the rules do with a message (or --jsonl FILE)
//	modgate queue ...        the review queue, through the admin API
//	modgate healthcheck      ask a running modgate whether it is ready
//	modgate version          print the version
//
// Configuration comes from the environment (modgate serve -h lists it);
// serve also takes -addr and -rules. Every command answers -h.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] == "serve" || strings.HasPrefix(os.Args[1], "-") {
		limit, err := memoryLimit(os.Getenv)
		if err != nil {
			fmt.Fprintln(os.Stderr, "modgate:", err)
			os.Exit(2)
		}
		if limit > 0 {
			debug.SetMemoryLimit(limit)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, serve drains; a second one ends the
		// process at once, as signals do by default.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], osEnvironment(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// memoryLimit reads MODGATE_MEMORY_LIMIT, the Go runtime's soft memory
// limit for serve ("128MiB" by default, "0" for none): the collector runs
// before the heap reaches it rather than at twice the live heap, which for
// modgate (tens of MiB of counters and webhook ids, and short-lived garbage
// from every request) keeps the resident size near the live size. It is
// soft: past it the process still serves, and the collector takes at most
// half the CPU. GOMEMLIMIT, when set, is Go's own setting and wins: 0 is
// returned.
func memoryLimit(getenv func(string) string) (int64, error) {
	if getenv("GOMEMLIMIT") != "" {
		return 0, nil
	}
	switch v := setting(getenv, "MODGATE_MEMORY_LIMIT"); v {
	case "0":
		return 0, nil
	default:
		n, err := parseBytes(v)
		if err != nil {
			return 0, fmt.Errorf("MODGATE_MEMORY_LIMIT: %w", err)
		}
		return n, nil
	}
}
