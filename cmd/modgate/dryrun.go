package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/modgate/modgate/hook/stream"
	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rawjson"
	"github.com/modgate/modgate/rules"
)

const testText = `usage:
  modgate test [FILE] "message" [flags]   explain what the rules do with one message
  modgate test [FILE] --jsonl FILE        one Stream payload or {"text": ...} a line ("-" for
                                          stdin); prints one JSON verdict a line, then a summary

FILE is the rules file (MODGATE_RULES, or rules.yaml, when left out); a
lone argument ending in .yaml or .yml is taken for it. The flags say who
sent the message; nothing is counted or stored.
`

// dryRun is `modgate test`: it evaluates messages with a rules file and
// explains, rule by rule, what fired and why. Nothing is counted or stored.
func dryRun(args []string, env environment, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	jsonl := fs.String("jsonl", "", "read messages from `FILE`, one JSON object a line")
	var who sender
	fs.StringVar(&who.userID, "user-id", "u-test", "the sender's user id")
	fs.StringVar(&who.userRole, "user-role", "user", "the sender's role")
	fs.StringVar(&who.userName, "user-name", "", "the sender's name")
	fs.StringVar(&who.userCreated, "user-created", "", "when the sender's account was created (RFC 3339), or its age (24h, 7d)")
	fs.StringVar(&who.channel, "channel", "messaging:general", "the channel's cid (type:id)")
	fs.StringVar(&who.ip, "ip", "", "request_info.ip")
	fs.StringVar(&who.ext, "ext", "", "request_info.ext, as the client sent it (device-id=123)")
	fs.StringVar(&who.hook, "hook", moderation.HookBeforeSend, "the hook: before_send or pending")
	var positional []string
	for {
		if code, ok := parseFlags(fs, args, usageOf(fs, testText), stdout, stderr); !ok {
			return code
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	warnMisnamed(env, "test", stderr)
	path := setting(env.get, "MODGATE_RULES")
	var message string
	switch {
	case *jsonl != "" && len(positional) <= 1:
		if len(positional) == 1 {
			path = positional[0]
		}
	case *jsonl == "" && len(positional) == 0:
		fmt.Fprintln(stderr, `modgate test: no message to test: modgate test [FILE] "message", or --jsonl FILE; modgate test -h for help`)
		return 2
	case *jsonl == "" && len(positional) == 1 && looksLikeRulesFile(positional[0]):
		fmt.Fprintf(stderr, "modgate test: no message to test with %s: modgate test %s \"message\"; modgate test -h for help\n",
			positional[0], positional[0])
		return 2
	case *jsonl == "" && len(positional) == 1:
		message = positional[0]
	case *jsonl == "" && len(positional) == 2:
		path, message = positional[0], positional[1]
	default:
		extra := positional[len(positional)-1]
		fmt.Fprintf(stderr, "modgate test: unexpected argument %q: one rules file and one message (quote a message of several words); modgate test -h for help\n", extra)
		return 2
	}
	set, err := rules.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	engine := moderation.NewEngine(set, moderation.EngineOptions{})
	if *jsonl == "" {
		msg, err := who.message(message, time.Now())
		if err != nil {
			fmt.Fprintln(stderr, "modgate test:", err)
			return 2
		}
		explainOne(stdout, path, set, engine, msg)
		return 0
	}
	in := stdin
	if *jsonl != "-" {
		f, err := os.Open(*jsonl)
		if err != nil {
			fmt.Fprintln(stderr, "modgate test:", err)
			return 1
		}
		defer f.Close()
		in = f
	}
	if err := explainLines(in, stdout, engine); err != nil {
		fmt.Fprintln(stderr, "modgate test:", err)
		return 1
	}
	return 0
}

// looksLikeRulesFile tells a lone argument that names a rules file from
// a message: it ends in .yaml or .yml.
func looksLikeRulesFile(arg string) bool {
	ext := strings.ToLower(filepath.Ext(arg))
	return ext == ".yaml" || ext == ".yml"
}

// sender is who `modgate test` pretends sent the message.
type sender struct {
	userID, userRole, userName, userCreated, channel, ip, ext, hook string
}

func (s sender) message(text string, now time.Time) (moderation.Message, error) {
	user := map[string]any{"id": s.userID, "role": s.userRole}
	if s.userName != "" {
		user["name"] = s.userName
	}
	if s.userCreated != "" {
		created, err := time.Parse(time.RFC3339, s.userCreated)
		if err != nil {
			age, aerr := rules.ParseDuration(s.userCreated)
			if aerr != nil {
				return moderation.Message{}, fmt.Errorf("--user-created: %q is neither a time (2026-11-01T10:00:00Z) nor an age (24h, 7d)", s.userCreated)
			}
			created = now.Add(-age)
		}
		user["created_at"] = created.UTC().Format(time.RFC3339)
	}
	ctype, cid, _ := strings.Cut(s.channel, ":")
	channel := map[string]any{"cid": s.channel, "type": ctype, "id": cid}
	info := map[string]any{"type": "client"}
	if s.ip != "" {
		info["ip"] = s.ip
	}
	if s.ext != "" {
		info["ext"] = s.ext
	}
	msg := moderation.Message{Text: text, Hook: s.hook}
	msg.Object, _ = json.Marshal(map[string]any{"id": "", "text": text, "type": "regular"})
	msg.User, _ = json.Marshal(user)
	msg.Channel, _ = json.Marshal(channel)
	msg.RequestInfo, _ = json.Marshal(info)
	return msg, nil
}

func explainOne(w io.Writer, path string, set *rules.Set, engine *moderation.Engine, msg moderation.Message) {
	v, results := engine.Explain(&msg)
	text := msg.Text
	fmt.Fprintf(w, "rules:   %s (version %s, %d rules)\n", path, set.Version, len(set.Rules))
	fmt.Fprintf(w, "message: %q\n", text)
	switch {
	case v.Refused():
		fmt.Fprintf(w, "verdict: %s, the sender sees %q\n", v.Action, v.Reply)
	case v.Changed():
		fmt.Fprintf(w, "verdict: %s", v.Action)
		if v.TextChanged {
			fmt.Fprintf(w, " -> %q", v.Text)
		}
		for _, f := range v.Fields {
			fmt.Fprintf(w, ", %s=%s", f.Key, f.JSON)
		}
		fmt.Fprintln(w)
	default:
		fmt.Fprintln(w, "verdict: allow (unchanged)")
	}
	if v.DeadlineHit {
		fmt.Fprintln(w, "         (the deadline passed)")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	for _, r := range results {
		status := "no match"
		switch {
		case r.Skipped != "":
			status = "skipped: " + r.Skipped
		case r.Observed && r.Matched:
			status = "MATCHED (observe mode: would " + r.Action.String() + ")"
		case !r.Reached && r.Matched:
			status = "would match, but an earlier rule ended the check"
		case !r.Reached:
			status = "not reached"
		case r.Matched && r.Limit != nil:
			status = fmt.Sprintf("counts against its limit (%d per %s by %s); a dry run counts nothing",
				r.Limit.Count, rules.HumanDuration(r.Limit.Per), strings.Join(r.Limit.By, "+"))
		case r.Matched:
			status = "MATCHED"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.RuleID, r.Action, status)
		if r.Reached && r.Matched && r.Skipped == "" {
			explainSanctions(tw, ruleByID(set, r.RuleID))
		}
		for _, m := range r.Matches {
			list := "inline"
			if m.List != "" {
				list = "list " + m.List
			}
			switch {
			case m.Start < 0 && m.Term != "" && m.Term != m.Value:
				fmt.Fprintf(tw, "\t\tthe field's value %q, for %q\n", m.Value, m.Term)
			case m.Start < 0:
				fmt.Fprintf(tw, "\t\tthe field's value %q\n", m.Value)
			default:
				fmt.Fprintf(tw, "\t\t%q at %d-%d is term %q (%s), folded %q, via %s\n",
					m.Original, m.Start, m.End, m.Term, list, m.Folded, m.Steps)
			}
		}
	}
	tw.Flush()
}

func ruleByID(set *rules.Set, id string) *rules.Rule {
	for _, r := range set.Rules {
		if r.ID == id {
			return r
		}
	}
	return nil
}

// explainSanctions says what a rule that acts does to the sender: its
// strikes, and its consequences, which a dry run cannot decide when they
// read strikes (it counts none).
func explainSanctions(w io.Writer, r *rules.Rule) {
	if r == nil {
		return
	}
	if s := r.Strikes; s != nil {
		word := "strikes"
		if s.Count == 1 {
			word = "strike"
		}
		fmt.Fprintf(w, "\t\tgives the sender %d %s, remembered %s\n", s.Count, word, rules.HumanDuration(s.Decay))
	}
	for i := range r.Consequences {
		c := &r.Consequences[i]
		what := strings.ReplaceAll(c.Do, "_", " ")
		switch {
		case c.Minutes() > 0:
			what += " for " + rules.HumanDuration(c.For)
		case c.Do != rules.DoFlag:
			what += " until lifted"
		}
		if c.Mode == rules.ModeObserve {
			what = "would " + what + " (observe mode)"
		}
		switch ws := c.StrikeWindows(); {
		case len(ws) > 0:
			fmt.Fprintf(w, "\t\tthen %s, if its condition holds: it reads the sender's strikes within %s, which a dry run does not count\n",
				what, rules.HumanDuration(ws[0].Within))
		case c.When != nil:
			fmt.Fprintf(w, "\t\tthen %s, if its condition holds\n", what)
		default:
			fmt.Fprintf(w, "\t\tthen %s\n", what)
		}
	}
}

type lineVerdict struct {
	Line   int          `json:"line"`
	Input  string       `json:"input,omitempty"`
	Error  string       `json:"error,omitempty"`
	Action string       `json:"action,omitempty"`
	Text   *string      `json:"text,omitempty"`
	Reply  string       `json:"reply,omitempty"`
	Rules  []ruleReport `json:"rules,omitempty"`
}

type ruleReport struct {
	ID       string        `json:"id"`
	Action   string        `json:"action"`
	Reached  bool          `json:"reached"`
	Skipped  string        `json:"skipped,omitempty"`
	Matched  bool          `json:"matched"`
	Observed bool          `json:"observed,omitempty"`
	Matches  []matchReport `json:"matches,omitempty"`
}

type matchReport struct {
	Start  int      `json:"start"` // -1 for another field than the text
	End    int      `json:"end"`
	Text   string   `json:"text"`
	Value  string   `json:"value,omitempty"` // the field's value, for another field than the text
	Term   string   `json:"term"`
	List   string   `json:"list,omitempty"`
	Folded string   `json:"folded"`
	Steps  []string `json:"steps,omitempty"`
}

type summary struct {
	Messages          int            `json:"messages"`
	Verdicts          map[string]int `json:"verdicts"`
	Errors            int            `json:"errors"`
	Seconds           float64        `json:"seconds"`
	MessagesPerSecond float64        `json:"messages_per_second"`
}

// explainLines reads one JSON object a line: a Stream payload (with a
// `message` object) or {"text": ...}.
func explainLines(r io.Reader, w io.Writer, engine *moderation.Engine) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	out := bufio.NewWriter(w)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	sum := summary{Verdicts: map[string]int{}}
	var elapsed time.Duration
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		lv := lineVerdict{Line: n}
		msg, err := messageFromLine([]byte(line))
		if err != nil {
			lv.Error = err.Error()
			sum.Errors++
			if err := enc.Encode(lv); err != nil {
				return err
			}
			continue
		}
		start := time.Now()
		v, results := engine.Explain(&msg)
		elapsed += time.Since(start)
		sum.Messages++
		lv.Input = msg.Text
		lv.Action = verdictName(v)
		sum.Verdicts[lv.Action]++
		if v.TextChanged && !v.Refused() {
			lv.Text = &v.Text
		}
		lv.Reply = v.Reply
		for _, res := range results {
			rr := ruleReport{ID: res.RuleID, Action: res.Action.String(), Reached: res.Reached, Matched: res.Matched,
				Observed: res.Observed, Skipped: res.Skipped}
			for _, m := range res.Matches {
				mr := matchReport{Start: m.Start, End: m.End, Text: m.Original, Value: m.Value, Term: m.Term, List: m.List, Folded: m.Folded}
				if m.Steps != 0 {
					mr.Steps = strings.Split(m.Steps.String(), ",")
				}
				rr.Matches = append(rr.Matches, mr)
			}
			lv.Rules = append(lv.Rules, rr)
		}
		if err := enc.Encode(lv); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading messages: %w", err)
	}
	sum.Seconds = elapsed.Seconds()
	if elapsed > 0 {
		sum.MessagesPerSecond = float64(sum.Messages) / elapsed.Seconds()
	}
	return enc.Encode(map[string]summary{"summary": sum})
}

func verdictName(v moderation.Verdict) string {
	if v.Refused() || v.Changed() {
		return v.Action.String()
	}
	return "allow"
}

func messageFromLine(line []byte) (moderation.Message, error) {
	var p stream.Payload
	err := p.Parse(line)
	if err == nil {
		return moderation.Message{ID: p.ID, Text: p.Text, Object: p.Message, User: p.User, Channel: p.Channel,
			RequestInfo: p.RequestInfo, Metadata: rawjson.Lookup(p.Body, "metadata")}, nil
	}
	if !errors.Is(err, stream.ErrNoMessage) {
		return moderation.Message{}, err
	}
	var plain struct {
		Text *string `json:"text"`
	}
	if err := json.Unmarshal(line, &plain); err != nil || plain.Text == nil {
		return moderation.Message{}, errors.New(`line is neither a Stream payload nor {"text": ...}`)
	}
	obj, _ := json.Marshal(map[string]string{"text": *plain.Text})
	return moderation.Message{Text: *plain.Text, Object: obj}, nil
}
