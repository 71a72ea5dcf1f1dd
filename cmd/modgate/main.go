// Command modgate is a moderation hook for Stream Chat.
//
//	modgate serve            run the hooks (default)
//	modgate check [FILE]     validate a rules file
//	modgate test [FILE] MSG  explain what the rules do with a message (or --jsonl FILE)
//	modgate version          print the version
//
// Configuration comes from the environment (see the README); serve also
// takes -addr and -rules.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
