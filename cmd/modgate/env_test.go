package main

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite README.md's table of variables from the code")

// TestMisnamedVariables: a variable that looks meant for modgate but that
// it does not read is named, with the one meant when it is close, and
// REDIS_URL given the MODGATE_ prefix is fatal while REDIS_URL is unset.
func TestMisnamedVariables(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		env   map[string]string
		want  []string
		fatal bool
	}{
		{"swapped letters", map[string]string{"MODGATE_ADRR": ":9090"}, []string{"MODGATE_ADRR: did you mean MODGATE_ADDR?"}, false},
		{"letter missing", map[string]string{"MODGATE_DEADLIN": "1s"}, []string{"MODGATE_DEADLIN: did you mean MODGATE_DEADLINE?"}, false},
		{"plural", map[string]string{"MODGATE_ADMIN_TOKEN_S": "x"}, []string{"MODGATE_ADMIN_TOKEN_S: did you mean MODGATE_ADMIN_TOKENS?"}, false},
		{"nothing close", map[string]string{"MODGATE_COLOUR": "blue"}, []string{"MODGATE_COLOUR is not a modgate variable (modgate serve -h lists them)"}, false},
		{"prefixed redis url alone", map[string]string{"MODGATE_REDIS_URL": "redis://r:6379/0"},
			[]string{"MODGATE_REDIS_URL is not read: the variable is REDIS_URL, without MODGATE_"}, true},
		{"prefixed redis url beside the real one", map[string]string{"MODGATE_REDIS_URL": "redis://a/0", "REDIS_URL": "redis://b/0"},
			[]string{"MODGATE_REDIS_URL is not read: the variable is REDIS_URL, without MODGATE_"}, false},
		{"prefixed secret", map[string]string{"MODGATE_STREAM_API_SECRET": "s"},
			[]string{"MODGATE_STREAM_API_SECRET is not read: the variable is STREAM_API_SECRET, without MODGATE_"}, true},
		{"near miss outside the prefix", map[string]string{"STREAM_API_KEYS": "k", "REDIS_ULR": "redis://x"},
			[]string{"REDIS_ULR: did you mean REDIS_URL?", "STREAM_API_KEYS: did you mean STREAM_API_KEY?"}, false},
		{"other programs' variables", map[string]string{"HOME": "/root", "PATH": "/bin", "REDIS_HOST": "x", "STREAM_NAME": "y", "GOMEMLIMIT": "1GiB"}, nil, false},
		{"known ones", map[string]string{"MODGATE_ADDR": ":1", "REDIS_URL": "redis://x/0", "MODGATE_TEST_REDIS_URL": "redis://y/1", "MODGATE_ADMIN_TOKEN": "t"}, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			fatal := false
			for _, m := range misnamedVariables(environment(tc.env)) {
				got = append(got, m.String())
				fatal = fatal || m.fatal
			}
			if !slices.Equal(got, tc.want) || fatal != tc.fatal {
				t.Fatalf("got %q (fatal %v), want %q (fatal %v)", got, fatal, tc.want, tc.fatal)
			}
		})
	}
}

// TestConfigurationReadsTheTable: serve reads no variable that the table
// (and so serve -h and the README) lacks, and every variable the table
// gives serve is read; the defaults it uses are the table's.
func TestConfigurationReadsTheTable(t *testing.T) {
	t.Parallel()
	read := map[string]bool{}
	getenv := func(name string) string { read[name] = true; return "" }
	c, err := loadConfig(getenv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := memoryLimit(getenv); err != nil {
		t.Fatal(err)
	}
	for name := range read {
		if _, ok := known(name); !ok && name != "GOMEMLIMIT" { // Go's own, read to give it way
			t.Errorf("serve reads %s, which the table of variables lacks", name)
		}
	}
	for _, v := range variables {
		if v.who == forServe && !read[v.name] {
			t.Errorf("the table gives %s to serve, which does not read it", v.name)
		}
	}
	if c.addr != ":8080" || c.rulesPath != "rules.yaml" || c.deadline.String() != "300ms" || c.drain.String() != "5s" ||
		c.maxBody != 1<<20 || c.queueMax != 100000 || c.redisPrefix != "modgate" || !c.logJSON || c.logLevel.String() != "INFO" {
		t.Fatalf("defaults: %+v", c)
	}
}

// TestStreamKeysRefuseDuplicates: a key given twice is refused, as is a
// key given with two secrets in the two variables; the same pair in both
// is fine.
func TestStreamKeysRefuseDuplicates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		env  map[string]string
		want string // "" for no error
	}{
		{"twice in the list", map[string]string{"MODGATE_STREAM_KEYS": "a:one,b:two,a:three"}, `MODGATE_STREAM_KEYS: key "a" is given twice`},
		{"twice with one secret", map[string]string{"MODGATE_STREAM_KEYS": "a:one, a:one"}, `MODGATE_STREAM_KEYS: key "a" is given twice`},
		{"two secrets across", map[string]string{"STREAM_API_KEY": "a", "STREAM_API_SECRET": "one", "MODGATE_STREAM_KEYS": "a:two"},
			`MODGATE_STREAM_KEYS: key "a" is STREAM_API_KEY too, with another secret`},
		{"same pair across", map[string]string{"STREAM_API_KEY": "a", "STREAM_API_SECRET": "one", "MODGATE_STREAM_KEYS": "a:one,b:two"}, ""},
		{"not a pair", map[string]string{"MODGATE_STREAM_KEYS": "a:one,bsecret"}, `MODGATE_STREAM_KEYS: "bsec…" is not key:secret`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := streamKeys(environment(tc.env).get)
			if (tc.want == "") != (err == nil) || (err != nil && err.Error() != tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestDevelopmentKeys: keys made up for development are told from
// Stream's.
func TestDevelopmentKeys(t *testing.T) {
	t.Parallel()
	for key, dev := range map[string]bool{"dev": true, "key": true, "test-app": true, "my_local_key": true, "abc": true,
		"mmhfdzb5evj2": false, "x7k2m9q4w8zr": false, "MMHFDZB5EVJ2": true} {
		if got := looksLikeDevelopmentKey(key); got != dev {
			t.Errorf("%q: %v, want %v", key, got, dev)
		}
	}
}

// TestEditDistance: each slip counts one.
func TestEditDistance(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b string
		d    int
	}{{"MODGATE_ADRR", "MODGATE_ADDR", 1}, {"ADDR", "ADR", 1}, {"ADDR", "ADDRS", 1}, {"ADDR", "ADDX", 1}, {"", "abc", 3}, {"abc", "abc", 0}, {"ca", "abc", 3}} {
		if got := editDistance(tc.a, tc.b); got != tc.d {
			t.Errorf("%q %q: %d, want %d", tc.a, tc.b, got, tc.d)
		}
	}
}

// TestREADMEVariables: README.md's tables of variables are the table in
// env.go (go test ./cmd/modgate -run README -update writes them).
func TestREADMEVariables(t *testing.T) {
	path := filepath.Join("..", "..", "README.md")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const begin = "<!-- variables: written by go test ./cmd/modgate -run README -update from cmd/modgate/env.go -->\n"
	const end = "<!-- end of variables -->\n"
	readme := string(data)
	i, j := strings.Index(readme, begin), strings.Index(readme, end)
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q ... %q section", begin, end)
	}
	want := begin + variablesMarkdown() + end
	got := readme[i : j+len(end)]
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(readme[:i]+want+readme[j+len(end):]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatalf("README.md's variables differ from cmd/modgate/env.go; run go test ./cmd/modgate -run README -update\ngot:\n%s\nwant:\n%s", got, want)
}

// variablesMarkdown is the README's tables of variables.
func variablesMarkdown() string {
	var b strings.Builder
	table := func(who string) {
		b.WriteString("| variable | default | meaning |\n|---|---|---|\n")
		for _, v := range variables {
			if v.who != who {
				continue
			}
			def := "—"
			switch {
			case v.shown != "":
				def = v.shown
				if _, ok := known(def); ok {
					def = "`" + def + "`"
				}
			case v.def != "":
				def = "`" + v.def + "`"
			}
			b.WriteString("| `" + v.name + "` | " + def + " | " + v.doc + " |\n")
		}
	}
	table(forServe)
	b.WriteString("\n`modgate queue`, a client of the admin API, reads:\n\n")
	table(forClient)
	var tests []string
	for _, v := range variables {
		if v.who == forTests {
			tests = append(tests, "`"+v.name+"`")
		}
	}
	sort.Strings(tests)
	b.WriteString("\nThe tests read " + strings.Join(tests, ", ") + " (see [Development](#development)).\n")
	return b.String()
}
