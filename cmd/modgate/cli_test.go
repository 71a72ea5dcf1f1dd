package main

import (
	"bytes"
	"context"
	"fmt"
	"runtime/debug"
	"strings"
	"testing"
)

// runCmd runs modgate with args and no environment.
func runCmd(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	code = run(context.Background(), args, envFrom(env), &out, &errs)
	return code, out.String(), errs.String()
}

// TestEveryCommandAnswersHelp: -h, -help and --help print the command's
// usage on stdout and exit 0, for every command and queue's commands,
// without needing a rules file, a token or a running modgate.
func TestEveryCommandAnswersHelp(t *testing.T) {
	t.Parallel()
	var cmds [][]string
	for _, c := range commands {
		cmds = append(cmds, []string{c.name})
	}
	for _, q := range queueCommands {
		cmds = append(cmds, []string{"queue", q})
	}
	cmds = append(cmds, []string{"test", "rules.yaml"}, []string{"help", "serve"})
	for _, cmd := range cmds {
		for _, h := range []string{"-h", "-help", "--help"} {
			args := append(append([]string{}, cmd...), h)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				t.Parallel()
				code, out, errs := runCmd(t, nil, args...)
				if code != 0 || errs != "" || !strings.Contains(out, "usage") {
					t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
				}
			})
		}
	}
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		code, out, _ := runCmd(t, nil, args...)
		if code != 0 || !strings.Contains(out, "modgate healthcheck") {
			t.Fatalf("%v: exit %d\n%s", args, code, out)
		}
	}
}

// TestServeHelpListsTheVariables: serve -h names every variable serve
// reads with the default the code uses, and its flags' defaults are the
// variables' defaults.
func TestServeHelpListsTheVariables(t *testing.T) {
	t.Parallel()
	code, out, _ := runCmd(t, nil, "serve", "-h")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, v := range variables {
		if v.who != forServe {
			if strings.Contains(out, "  "+v.name+" (") {
				t.Errorf("serve -h lists %s, which serve does not read", v.name)
			}
			continue
		}
		def := v.def
		if v.shown != "" {
			def = v.shown
		} else if def == "" {
			def = "unset"
		}
		if want := "  " + v.name + " (default: " + def + ")\n"; !strings.Contains(out, want) {
			t.Errorf("serve -h lacks %q", want)
		}
	}
	for flag, name := range map[string]string{"addr": "MODGATE_ADDR", "rules": "MODGATE_RULES"} {
		v, _ := known(name)
		if want := fmt.Sprintf("  -%s string\n", flag); !strings.Contains(out, want) || !strings.Contains(out, fmt.Sprintf("(default %q)", v.def)) {
			t.Errorf("serve -h: -%s should show the default %q:\n%s", flag, v.def, out)
		}
	}
}

// TestCommandsNameTheBadWord: an unknown command, queue command or
// argument is named, with the nearest command when it is a slip.
func TestCommandsNameTheBadWord(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"command", []string{"frobnicate"}, `modgate: unknown command "frobnicate"`},
		{"slip", []string{"serv"}, `modgate: unknown command "serv": did you mean serve?`},
		{"help of nothing", []string{"help", "nothing"}, `modgate help: unknown command "nothing"`},
		{"queue command", []string{"queue", "frob"}, `modgate queue: unknown command "frob"`},
		{"queue slip", []string{"queue", "lsit"}, `modgate queue: unknown command "lsit": did you mean list?`},
		{"queue without command", []string{"queue"}, "modgate queue: which command? list, show, approve, reject"},
		{"queue show without id", []string{"queue", "show"}, "modgate queue show: which item?"},
		{"queue approve two ids", []string{"queue", "approve", "a", "b"}, `modgate queue approve: unexpected argument "b"`},
		{"serve argument", []string{"serve", "rules.yaml"}, `modgate serve: unexpected argument "rules.yaml"`},
		{"check two files", []string{"check", "a.yaml", "b.yaml"}, `modgate check: unexpected argument "b.yaml"`},
		{"version argument", []string{"version", "now"}, `modgate version: unexpected argument "now"`},
		{"healthcheck argument", []string{"healthcheck", "x"}, `modgate healthcheck: unexpected argument "x"`},
		{"bad flag", []string{"check", "-frob"}, "flag provided but not defined: -frob\nmodgate check -h for help"},
		{"test three words", []string{"test", "rules.yaml", "hello", "world"}, `modgate test: unexpected argument "world"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, errs := runCmd(t, nil, tc.args...)
			if code != 2 || !strings.Contains(errs, tc.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant %q", code, errs, tc.want)
			}
		})
	}
}

// TestTestWithoutAMessage: `modgate test rules.yaml` says that the message
// is missing instead of testing the text "rules.yaml".
func TestTestWithoutAMessage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"test", shippedRules(t)}, {"test", "my-rules.yml"}, {"test"}} {
		code, out, errs := runCmd(t, nil, args...)
		if code != 2 || out != "" || !strings.Contains(errs, "modgate test: no message to test") {
			t.Fatalf("%v: exit %d\nstdout %q\nstderr %q", args, code, out, errs)
		}
	}
	// A lone message is still tested with the default rules file.
	code, out, errs := runCmd(t, map[string]string{"MODGATE_RULES": shippedRules(t)}, "test", "hello there")
	if code != 0 || !strings.Contains(out, `message: "hello there"`) {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
}

// TestVersionReadsTheBuildInformation: the module version, revision and
// times come from the build information, and values stamped at link time
// win.
func TestVersionReadsTheBuildInformation(t *testing.T) {
	info := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261130065547-fc2ae7150e5a+dirty"},
		Settings: []debug.BuildSetting{{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"},
			{Key: "vcs.revision", Value: "fc2ae7150e5ac9eeb6fe22b9302392151759d3dc"},
			{Key: "vcs.time", Value: "2026-11-30T06:55:47Z"}, {Key: "vcs.modified", Value: "true"}}}
	var out bytes.Buffer
	versionOf(info, true).write(&out)
	want := "modgate v0.0.0-20261130065547-fc2ae7150e5a+dirty\n" +
		"revision:    fc2ae7150e5ac9eeb6fe22b9302392151759d3dc (with uncommitted changes)\n" +
		"commit time: 2026-11-30T06:55:47Z\n" +
		"go:          go1.26.8 linux/arm64\n"
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}

	version, revision, buildTime = "v0.2.0", "0123abcd", "2026-12-01T10:00:00Z"
	t.Cleanup(func() { version, revision, buildTime = "", "", "" })
	out.Reset()
	versionOf(info, true).write(&out)
	want = "modgate v0.2.0\nrevision:    0123abcd\ncommit time: 2026-11-30T06:55:47Z\nbuilt:       2026-12-01T10:00:00Z\n" +
		"go:          go1.26.8 linux/arm64\n"
	if out.String() != want {
		t.Fatalf("stamped: got\n%s\nwant\n%s", out.String(), want)
	}

	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		code, stdout, _ := runCmd(t, nil, args...)
		if code != 0 || !strings.HasPrefix(stdout, "modgate v0.2.0\n") || !strings.Contains(stdout, "\ngo:          go1.") {
			t.Fatalf("%v: exit %d %q", args, code, stdout)
		}
	}
}

// TestCheckWarnsOfMisnamedVariables: check names a misspelt variable and
// still checks the file it was given.
func TestCheckWarnsOfMisnamedVariables(t *testing.T) {
	t.Parallel()
	code, out, errs := runCmd(t, map[string]string{"MODGATE_RULEZ": "other.yaml", "MODGATE_REDIS_URL": "redis://x/0"}, "check", shippedRules(t))
	if code != 0 || !strings.Contains(out, ": ok: ") ||
		!strings.Contains(errs, "modgate check: warning: MODGATE_RULEZ: did you mean MODGATE_RULES?\n") ||
		!strings.Contains(errs, "modgate check: warning: MODGATE_REDIS_URL is not read: the variable is REDIS_URL") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
}
