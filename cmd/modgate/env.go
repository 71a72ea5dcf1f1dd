package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/modgate/modgate/hook/stream"
)

// environment is the process's environment as modgate sees it: read once
// at start, so that a run is decided by what it was given.
type environment map[string]string

// osEnvironment reads the process's environment.
func osEnvironment() environment {
	env := environment{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	return env
}

func (e environment) get(name string) string { return e[name] }

// Who reads a variable.
const (
	forServe  = "serve"
	forClient = "client" // modgate queue and modgate healthcheck
	forTests  = "tests"  // go test, never the binary
)

// variable is one environment variable modgate reads.
type variable struct {
	name string
	// def is the value used when the variable is unset or empty ("" for
	// none); loadConfig reads it from here, so the help and the README
	// cannot say otherwise.
	def string
	// shown is how the documentation shows the default, when that is not
	// def itself (a default taken from another variable, or computed).
	shown string
	who   string
	doc   string // Markdown, one paragraph
}

// variables is every environment variable modgate reads. `modgate serve
// -h` prints it and README.md's configuration table is generated from it
// (go test ./cmd/modgate -run README -update).
var variables = []variable{
	{name: "MODGATE_ADDR", def: ":8080", who: forServe,
		doc: "address the hooks listen on: `/hooks/...`, `/healthz` and `/readyz`, and everything else too unless `MODGATE_ADMIN_ADDR` is set"},
	{name: "MODGATE_ADMIN_ADDR", who: forServe,
		doc: "a second address for the admin API (`/admin/...`), the moderators' console (`/console`) and `/metrics`: set, `MODGATE_ADDR` answers only the hooks, `/healthz` and `/readyz`, so that only they face the internet (see [Deploying](#deploying))"},
	{name: "MODGATE_MAX_CONNS", shown: "10000, or half the descriptor limit if lower", who: forServe,
		doc: "most connections open at once on `MODGATE_ADDR` (the admin address takes at most 256 more): past it new connections wait in the kernel's queue until one closes, so that a flood of connections cannot use up the descriptors that Redis, the rules files and the connections already open need; a warning says when the cap is reached"},
	{name: "MODGATE_RULES", def: "rules.yaml", who: forServe,
		doc: "the rules file; list files are read relative to it (also read by `check` and `test`)"},
	{name: "STREAM_API_KEY", who: forServe,
		doc: "the app's API key: the `X-Api-Key` that `STREAM_API_SECRET` signs, and the key modgate calls Stream's REST API with"},
	{name: "STREAM_API_SECRET", who: forServe,
		doc: "the app's API secret; without `STREAM_API_KEY` it is used for any `X-Api-Key`"},
	{name: "MODGATE_STREAM_KEYS", who: forServe,
		doc: "several keys at once: `key1:secret1,key2:secret2` (key rotation, several apps); a key given twice, or given here with another secret than `STREAM_API_SECRET`'s, is refused"},
	{name: "MODGATE_INSECURE_SKIP_SIGNATURE", def: "0", who: forServe,
		doc: "`1` accepts unsigned calls. For local development only: modgate warns at start and on `/readyz`"},
	{name: "MODGATE_MAX_BODY", def: "1MiB", who: forServe,
		doc: "largest request body, before and after gunzip (`1048576`, `512KiB`, `2MiB`)"},
	{name: "MODGATE_DEADLINE", def: "300ms", who: forServe,
		doc: "time allowed to evaluate one message, counted from the moment its whole body has been read; past it the rules not yet evaluated follow their `on_error` (see [Failure policy](#failure-policy))"},
	{name: "MODGATE_PENDING_DEADLINE", def: "5s", who: forServe,
		doc: "the same for a pending message, which nobody waits for; past it a rule's `on_error` that rejects or holds decides, otherwise a moderator does (see [Held messages](#held-messages-and-the-review-queue))"},
	{name: "MODGATE_REPLAY_TTL", def: "10m", who: forServe,
		doc: "how long the answer to an `X-Webhook-Id` is remembered for Stream's retries"},
	{name: "REDIS_URL", shown: "none: memory state", who: forServe,
		doc: "shared state for several processes: `redis://[user:pass@]host:6379/0`, `rediss://` (TLS), `redis+cluster://host:7000?addr=host2:7001`, `redis+sentinel://host:26379?master_name=mymaster`; Redis 6.0 or later (the count script uses `SET ... KEEPTTL`). A URL without a scheme, a database number that is not a whole number of 0 or more, or one the server does not have is an error at start. Run a Cluster with `cluster-require-full-coverage no`, so that the other masters keep serving while one fails over"},
	{name: "MODGATE_REDIS_TIMEOUT", shown: "MODGATE_DEADLINE", who: forServe,
		doc: "the longest one call to Redis waits; a message's call waits until the message's deadline anyway, so by default nothing shorter bounds it (see [Failure policy](#failure-policy))"},
	{name: "MODGATE_REDIS_PREFIX", def: "modgate", who: forServe,
		doc: "prefix of every key, to share one Redis between apps; no braces (modgate sets the Cluster hash tags itself)"},
	{name: "MODGATE_REDIS_AUTOPIPELINE", def: "1", who: forServe,
		doc: "concurrent messages share Redis pipelines (go-redis's auto-pipeliner, one server or Sentinel: up to four batches of 32 scripts in flight); `0` sends each script on its own"},
	{name: "MODGATE_DRAIN", def: "5s", who: forServe,
		doc: "on `SIGTERM` or `SIGINT`, how long `/readyz` answers 503 while requests are still answered, before the listeners close (then requests in flight have up to 15 s to finish); `0` for none; a second signal ends the process at once"},
	{name: "MODGATE_ADMIN_TOKENS", who: forServe,
		doc: "admin API and console tokens: `name:role:token,...`, role `read` or `moderator`, tokens of 16+ characters; the name is what the audit log records"},
	{name: "STREAM_BASE_URL", def: stream.DefaultBaseURL, who: forServe,
		doc: "Stream's REST API, for commits, deletes and approved sends (signed with the first named key of `STREAM_API_KEY`/`MODGATE_STREAM_KEYS`); a line at start says where decisions go, and warns when the key looks like a development key"},
	{name: "MODGATE_STREAM_USER", def: "modgate", who: forServe,
		doc: "the user of your Stream app that modgate flags messages as and tells senders of rejected held messages as (see [Strikes, consequences, reports](#strikes-consequences-reports)); create it once in Stream (`upsertUser`), with the permission to send restricted-visibility messages for `rejected_reply`"},
	{name: "MODGATE_HOLD_TTL", def: "72h", who: forServe,
		doc: "how long a message held on the before-send hook waits for a moderator"},
	{name: "MODGATE_REPORT_TTL", def: "168h", who: forServe,
		doc: "how long a reported or flagged message waits for a moderator (see [Strikes, consequences, reports](#strikes-consequences-reports))"},
	{name: "MODGATE_PENDING_TIMEOUT", def: "72h", who: forServe,
		doc: "the pending hook's `timeout_ms` in Stream: a pending message can be approved until `created_at` plus this"},
	{name: "MODGATE_QUEUE_MAX", def: "100000", who: forServe,
		doc: "most open items (waiting, deciding, failed) in the review queue; past it a hold follows its rule's `on_error`"},
	{name: "MODGATE_DECISION_LEASE", def: "1m", who: forServe,
		doc: "how long a try at carrying a decision out to Stream owns its item (10 s at least); a try gives up at three quarters of it, and one whose process died is taken over when it runs out"},
	{name: "MODGATE_RULES_POLL", def: "1s", who: forServe,
		doc: "how often the rules file and its lists are looked at for changes"},
	{name: "MODGATE_DEBUG_ADDR", who: forServe,
		doc: "serve Go's pprof profiles (`/debug/pprof/`) on this address, e.g. `127.0.0.1:6060`; keep it private. The same address as `MODGATE_ADMIN_ADDR` serves them on the admin listener"},
	{name: "MODGATE_MEMORY_LIMIT", def: "128MiB", who: forServe,
		doc: "Go's soft memory limit for `serve`: the collector runs as the heap nears it instead of at twice the live heap, which keeps the resident size near what is live; `0` for none; `GOMEMLIMIT`, when set, wins. Raise it with a larger `MODGATE_MAX_BODY`, very long word lists or more state, and keep it under a container's memory limit"},
	{name: "MODGATE_LOG_LEVEL", def: "info", who: forServe,
		doc: "`debug` logs one line per decision (rule ids, terms and the sender's id, never the text)"},
	{name: "MODGATE_LOG_FORMAT", def: "json", who: forServe,
		doc: "`text` for a terminal"},

	{name: "MODGATE_CONSOLE", def: "1", who: forServe,
		doc: "`0` turns the [moderator console](#the-moderator-console) at `/console` off"},
	{name: "MODGATE_CONSOLE_SECRET", shown: "derived from MODGATE_ADMIN_TOKENS", who: forServe,
		doc: "signs console sessions and CSRF tokens: 32+ random characters (`openssl rand -hex 32`), the same on every process behind one address; changing it signs everyone out"},
	{name: "MODGATE_TRUST_PROXY", def: "0", who: forServe,
		doc: "`1` when modgate is reached only through a proxy that sets `X-Forwarded-Proto` and appends the client to `X-Forwarded-For`: the console then marks its cookie Secure when the proxy says `https`, and limits sign-ins per forwarded address. Leave it `0` otherwise: anyone can send those headers"},

	{name: "MODGATE_ADMIN_URL", shown: "http://127.0.0.1 and the port of MODGATE_ADMIN_ADDR, or else of MODGATE_ADDR", who: forClient,
		doc: "`modgate queue`: the admin API to call"},
	{name: "MODGATE_ADMIN_TOKEN", who: forClient,
		doc: "`modgate queue`: a token of `MODGATE_ADMIN_TOKENS`"},

	{name: "MODGATE_TEST_REDIS_URL", def: "redis://127.0.0.1:6379/15", who: forTests, doc: "the Redis the tests use"},
	{name: "MODGATE_TEST_REDIS_CLUSTER_URL", who: forTests, doc: "the Redis Cluster the tests use"},
	{name: "MODGATE_TEST_REDIS_SENTINEL_URL", who: forTests, doc: "the Sentinel group the tests use"},
	{name: "MODGATE_CORPUS", who: forTests, doc: "another copy of the labelled corpus for the rules tests"},
	{name: "MODGATE_CHROMIUM", who: forTests, doc: "the Chromium the console's browser tests drive"},
	{name: "MODGATE_SCREENSHOTS", who: forTests, doc: "where the console's browser tests write the README's screenshots"},
}

// known looks a variable up.
func known(name string) (variable, bool) {
	for _, v := range variables {
		if v.name == name {
			return v, true
		}
	}
	return variable{}, false
}

// setting reads a variable of the table, or its default.
func setting(getenv func(string) string, name string) string {
	v, ok := known(name)
	if !ok {
		panic("modgate reads " + name + ", which is not in the table of variables")
	}
	if s := getenv(name); s != "" {
		return s
	}
	return v.def
}

// misnamed is a variable that looks meant for modgate but is not one.
type misnamed struct {
	name       string
	suggestion string // the variable meant, when one is close
	// fatal: the variable meant is unset, so modgate would run otherwise
	// than asked (REDIS_URL written MODGATE_REDIS_URL: memory state).
	fatal bool
}

func (m misnamed) String() string {
	switch {
	case m.suggestion != "" && strings.TrimPrefix(m.name, "MODGATE_") == m.suggestion:
		return fmt.Sprintf("%s is not read: the variable is %s, without MODGATE_", m.name, m.suggestion)
	case m.suggestion != "":
		return fmt.Sprintf("%s: did you mean %s?", m.name, m.suggestion)
	}
	return fmt.Sprintf("%s is not a modgate variable (modgate serve -h lists them)", m.name)
}

// misnamedVariables finds the variables of env that look meant for modgate
// but that it does not read: MODGATE_ ones it does not know, ones close to
// a name it reads, and REDIS_URL or STREAM_... given the MODGATE_ prefix.
func misnamedVariables(env environment) []misnamed {
	var out []misnamed
	for name := range env {
		if _, ok := known(name); ok {
			continue
		}
		if bare, ok := strings.CutPrefix(name, "MODGATE_"); ok {
			if v, ok := known(bare); ok {
				out = append(out, misnamed{name: name, suggestion: v.name, fatal: env[v.name] == "" && env[name] != ""})
				continue
			}
			out = append(out, misnamed{name: name, suggestion: closest(name)})
			continue
		}
		// Outside modgate's prefix, only a near miss of one of its own
		// names: other programs' variables are none of its business.
		if s := closest(name); s != "" && !strings.HasPrefix(s, "MODGATE_") {
			out = append(out, misnamed{name: name, suggestion: s})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// closest returns the known variable nearest to name, or "" when none is
// near enough to be what was meant.
func closest(name string) string {
	best, bestDist := "", 0
	for _, v := range variables {
		d := editDistance(name, v.name)
		if best == "" || d < bestDist {
			best, bestDist = v.name, d
		}
	}
	// One or two slips (a letter missing, doubled, swapped or wrong), and
	// less than a third of the name.
	if bestDist == 0 || bestDist > 2 || 3*bestDist >= len(strings.TrimPrefix(best, "MODGATE_")) {
		return ""
	}
	return best
}

// editDistance is the optimal string alignment distance: insertions,
// deletions, substitutions and swaps of neighbours each count one.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// warnMisnamed prints the misnamed variables of env for the commands that
// have no log (check, test). They only read the rules, so none is fatal
// there.
func warnMisnamed(env environment, cmd string, stderr io.Writer) {
	for _, m := range misnamedVariables(env) {
		fmt.Fprintf(stderr, "modgate %s: warning: %s\n", cmd, m)
	}
}

// variablesHelp lists the variables who reads, for -h: each with its
// default and what it does, the Markdown made plain.
func variablesHelp(w io.Writer, who string) {
	for _, v := range variables {
		if v.who != who {
			continue
		}
		def := v.shown
		if def == "" {
			def = v.def
		}
		if def == "" {
			def = "unset"
		}
		fmt.Fprintf(w, "  %s (default: %s)\n", v.name, def)
		for _, line := range wrap(plain(v.doc), 76) {
			fmt.Fprintf(w, "      %s\n", line)
		}
	}
}

// plain drops the Markdown of a doc string: code quotes, and links but
// their text.
func plain(md string) string {
	md = strings.ReplaceAll(md, "`", "")
	var b strings.Builder
	for {
		open := strings.Index(md, "[")
		mid := strings.Index(md, "](")
		if open < 0 || mid < open {
			break
		}
		end := strings.Index(md[mid:], ")")
		if end < 0 {
			break
		}
		b.WriteString(md[:open])
		b.WriteString(md[open+1 : mid])
		md = md[mid+end+1:]
	}
	b.WriteString(md)
	return b.String()
}

// wrap cuts text into lines of at most width characters, at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
