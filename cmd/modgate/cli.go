package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// command is one subcommand of modgate.
type command struct {
	name     string
	synopsis string // the arguments, for the overview
	summary  string
}

// commands are modgate's subcommands, in the order the help lists them.
var commands = []command{
	{"serve", "[-addr ADDR] [-rules FILE]", "run the hooks (the default)"},
	{"check", "[FILE]", "validate a rules file and run its inline tests"},
	{"test", `[FILE] "message" [flags] | --jsonl FILE`, "explain what the rules do with a message"},
	{"queue", "list|show|approve|reject ...", "the review queue, through the admin API"},
	{"healthcheck", "[-live] [-addr ADDR]", "ask a running modgate whether it is ready (for container health checks)"},
	{"version", "", "print the version, the revision and the Go toolchain of this build"},
	{"help", "[COMMAND]", "this help, or a command's"},
}

func usage(w io.Writer) {
	fmt.Fprint(w, "modgate: a moderation hook for Stream Chat\n\nusage:\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  modgate %-12s %-42s %s\n", c.name, c.synopsis, c.summary)
	}
	fmt.Fprint(w, `
Every command answers -h with its own help; modgate serve -h lists the
environment variables. modgate --version is modgate version.
`)
}

// run is the whole program; main only supplies the process's context,
// arguments, environment and streams, so tests can call it directly.
func run(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	} else if len(args) > 0 { // modgate -flag: serve's flags, or modgate's own
		switch args[0] {
		case "-version", "--version":
			return printVersion(args[1:], stdout, stderr)
		case "-h", "-help", "--help":
			usage(stdout)
			return 0
		}
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, env, stdout, stderr)
	case "check":
		return check(args, env, stdout, stderr)
	case "test":
		return dryRun(args, env, os.Stdin, stdout, stderr)
	case "queue":
		return queueCmd(args, env.get, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, args, env.get, stdout, stderr)
	case "version":
		return printVersion(args, stdout, stderr)
	case "help":
		switch {
		case len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help":
			usage(stdout)
			return 0
		case args[0] != "help" && isCommand(args[0]):
			return run(ctx, []string{args[0], "-h"}, env, stdout, stderr)
		}
		return unknownCommand("modgate help", args[0], commandNames(), stderr)
	}
	return unknownCommand("modgate", cmd, commandNames(), stderr)
}

func isCommand(name string) bool {
	for _, c := range commands {
		if c.name == name {
			return true
		}
	}
	return false
}

func commandNames() []string {
	names := make([]string, len(commands))
	for i, c := range commands {
		names[i] = c.name
	}
	return names
}

// unknownCommand names the word that is not a command of prog, with the
// nearest one when it is likely a slip, and exits 2.
func unknownCommand(prog, word string, names []string, stderr io.Writer) int {
	fmt.Fprintf(stderr, "%s: unknown command %q", prog, word)
	best, bestDist := "", 0
	for _, n := range names {
		if d := editDistance(word, n); best == "" || d < bestDist {
			best, bestDist = n, d
		}
	}
	if bestDist <= 2 && bestDist < len(best)/2+1 {
		fmt.Fprintf(stderr, ": did you mean %s?", best)
	}
	fmt.Fprintf(stderr, "\n%s commands: %s; %s -h for help\n", prog, strings.Join(names, ", "), prog)
	return 2
}

// parseFlags parses args with fs. Asked for help (-h, -help, --help), it
// prints usage to stdout and reports exit 0; on a bad flag it prints the
// problem and where help is to stderr and reports exit 2. ok is true when
// the command should go on.
func parseFlags(fs *flag.FlagSet, args []string, usage func(io.Writer), stdout, stderr io.Writer) (exit int, ok bool) {
	fs.SetOutput(stderr)
	fs.Usage = func() {} // printed here, to the stream that fits
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, true
	case errors.Is(err, flag.ErrHelp):
		usage(stdout)
		return 0, false
	}
	fmt.Fprintf(stderr, "modgate %s -h for help\n", fs.Name())
	return 2, false
}

// usageOf prints a command's synopsis and text, then its flags.
func usageOf(fs *flag.FlagSet, text string) func(io.Writer) {
	return func(w io.Writer) {
		fmt.Fprint(w, text)
		if hasFlags(fs) {
			fmt.Fprintln(w, "\nflags:")
			out := fs.Output()
			fs.SetOutput(w)
			fs.PrintDefaults()
			fs.SetOutput(out)
		}
	}
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// noArguments refuses arguments a command does not take.
func noArguments(cmd string, args []string, stderr io.Writer) int {
	if len(args) == 0 {
		return 0
	}
	fmt.Fprintf(stderr, "modgate %s: unexpected argument %q; modgate %s -h for help\n", cmd, args[0], cmd)
	return 2
}
