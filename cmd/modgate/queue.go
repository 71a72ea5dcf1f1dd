package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

const queueText = `usage:
  modgate queue list [--kind KIND] [--channel CID] [--user ID] [--rule ID] [--limit N] [--cursor C]
  modgate queue show ID
  modgate queue approve ID
  modgate queue reject ID [--reason TEXT] [--force]

The queue holds held messages, reports (kind report: approve dismisses,
reject removes the message) and the consequences the rules give senders
(kind consequence: carried out by modgate; approve tries a failed one
again, reject cancels it). approve and reject wait up to 5 s for Stream; when it has not confirmed by
then, modgate goes on trying and the item reads "deciding" (queue show).
--force rejects a message an approval may already have made visible
(Stream did not confirm it): the message is then deleted from the channel.

A client of the admin API: MODGATE_ADMIN_URL (by default http://127.0.0.1
and the port of MODGATE_ADMIN_ADDR, or else of MODGATE_ADDR) and
MODGATE_ADMIN_TOKEN (a token of MODGATE_ADMIN_TOKENS).
`

// queueCommands are the subcommands of modgate queue.
var queueCommands = []string{"list", "show", "approve", "reject"}

// queueCmd is `modgate queue`: the review queue for moderators at a terminal.
func queueCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "modgate queue: which command? ", strings.Join(queueCommands, ", "), "\n\n", queueText)
		return 2
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("queue "+sub, flag.ContinueOnError)
	if strings.HasPrefix(sub, "-") { // modgate queue -h
		fs = flag.NewFlagSet("queue", flag.ContinueOnError)
		if code, ok := parseFlags(fs, append([]string{sub}, args...), usageOf(fs, queueText), stdout, stderr); !ok {
			return code
		}
		return unknownCommand("modgate queue", sub, queueCommands, stderr)
	}
	kind := fs.String("kind", "", "only items of this kind: message, report or consequence")
	channel := fs.String("channel", "", "only this channel (cid)")
	user := fs.String("user", "", "only this sender")
	rule := fs.String("rule", "", "only messages this rule held")
	limit := fs.Int("limit", 0, "at most this many")
	cursor := fs.String("cursor", "", "the next page")
	reason := fs.String("reason", "", "why it is rejected")
	force := fs.Bool("force", false, "reject even though an unconfirmed approval may have made the message visible")
	var id string
	for {
		if code, ok := parseFlags(fs, args, usageOf(fs, queueText), stdout, stderr); !ok {
			return code
		}
		if fs.NArg() == 0 {
			break
		}
		if id != "" {
			fmt.Fprintf(stderr, "modgate queue %s: unexpected argument %q: one item id; modgate queue -h for help\n", sub, fs.Arg(0))
			return 2
		}
		id, args = fs.Arg(0), fs.Args()[1:]
	}
	switch {
	case !slices.Contains(queueCommands, sub):
		return unknownCommand("modgate queue", sub, queueCommands, stderr)
	case sub == "list" && id != "":
		fmt.Fprintf(stderr, "modgate queue list: unexpected argument %q: filter with --channel, --user or --rule\n", id)
		return 2
	case sub != "list" && id == "":
		fmt.Fprintf(stderr, "modgate queue %s: which item? modgate queue %s ID (modgate queue list shows them)\n", sub, sub)
		return 2
	}
	api := &adminClient{base: strings.TrimSuffix(adminURL(getenv), "/"),
		token: setting(getenv, "MODGATE_ADMIN_TOKEN"), http: &http.Client{Timeout: 30 * time.Second}}
	if api.token == "" {
		fmt.Fprintln(stderr, "modgate queue: set MODGATE_ADMIN_TOKEN to a token of MODGATE_ADMIN_TOKENS")
		return 2
	}
	switch {
	case sub == "list" && id == "":
		q := url.Values{}
		for k, v := range map[string]string{"kind": *kind, "channel": *channel, "user": *user, "rule": *rule, "cursor": *cursor} {
			if v != "" {
				q.Set(k, v)
			}
		}
		if *limit > 0 {
			q.Set("limit", fmt.Sprint(*limit))
		}
		var page struct {
			Items []struct {
				ID, Hook, State string
				Kind            string
				ChannelCID      string `json:"channel_cid"`
				UserID          string `json:"user_id"`
				Text            string
				Rules           []string
				HeldAt          time.Time `json:"held_at"`
				Deadline        time.Time
				Decision        string
				DecidedBy       string `json:"decided_by"`
				Attempts        int
				LastError       string `json:"last_error"`
				Report          *struct{ Count int }
				Consequence     *struct {
					Do      string
					Minutes int
				}
			}
			Next string `json:"next_cursor"`
		}
		if _, err := api.call(http.MethodGet, "/admin/queue?"+q.Encode(), nil, &page); err != nil {
			fmt.Fprintln(stderr, "modgate queue:", err)
			return 1
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tHELD\tCHANNEL\tUSER\tRULES\tSTATE\tTEXT")
		for _, h := range page.Items {
			text := h.Text
			if len([]rune(text)) > 60 {
				text = string([]rune(text)[:57]) + "..."
			}
			switch {
			case h.Report != nil:
				h.Rules = []string{fmt.Sprintf("report by %d", h.Report.Count)}
			case h.Kind == "report":
				h.Rules = []string{"report"}
			case h.Consequence != nil && h.Consequence.Minutes > 0:
				h.Rules = append(h.Rules, fmt.Sprintf("%s %dm", h.Consequence.Do, h.Consequence.Minutes))
			case h.Consequence != nil:
				h.Rules = append(h.Rules, h.Consequence.Do)
			}
			state := h.State
			if h.Decision != "" {
				state += fmt.Sprintf(" (%s by %s, %d tries", h.Decision, h.DecidedBy, h.Attempts)
				if h.LastError != "" {
					state += ": " + h.LastError
				}
				state += ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%q\n", h.ID, h.HeldAt.Format(time.DateTime), h.ChannelCID, h.UserID,
				strings.Join(h.Rules, ","), state, text)
		}
		tw.Flush()
		if page.Next != "" {
			fmt.Fprintf(stdout, "more: modgate queue list --cursor %s\n", page.Next)
		}
		return 0
	case sub == "show" && id != "":
		var item json.RawMessage
		if _, err := api.call(http.MethodGet, "/admin/queue/"+url.PathEscape(id), nil, &item); err != nil {
			fmt.Fprintln(stderr, "modgate queue:", err)
			return 1
		}
		var pretty bytes.Buffer
		json.Indent(&pretty, item, "", "  ")
		fmt.Fprintln(stdout, pretty.String())
		return 0
	case (sub == "approve" || sub == "reject") && id != "":
		var body []byte
		if sub == "reject" && (*reason != "" || *force) {
			body, _ = json.Marshal(map[string]any{"reason": *reason, "force": *force})
		}
		var answer struct {
			Result string
			Item   struct {
				LastError string `json:"last_error"`
			}
		}
		status, err := api.call(http.MethodPost, "/admin/queue/"+url.PathEscape(id)+"/"+sub, body, &answer)
		if err != nil {
			fmt.Fprintln(stderr, "modgate queue:", err)
			return 1
		}
		if status == http.StatusAccepted {
			fmt.Fprintf(stdout, "%s: deciding: Stream has not confirmed yet", id)
			if answer.Item.LastError != "" {
				fmt.Fprintf(stdout, " (%s)", answer.Item.LastError)
			}
			fmt.Fprintf(stdout, "; modgate keeps trying: modgate queue show %s\n", id)
			return 0
		}
		fmt.Fprintf(stdout, "%s: %s\n", id, answer.Result)
		return 0
	}
	return 2 // not reached: every command is handled above
}

// adminURL is MODGATE_ADMIN_URL, or the admin API of a modgate on this
// machine with the same environment: the port of MODGATE_ADMIN_ADDR, or
// else of MODGATE_ADDR.
func adminURL(getenv func(string) string) string {
	if u := setting(getenv, "MODGATE_ADMIN_URL"); u != "" {
		return u
	}
	addr := setting(getenv, "MODGATE_ADMIN_ADDR")
	if addr == "" {
		addr = setting(getenv, "MODGATE_ADDR")
	}
	u, err := localURL(addr, "")
	if err != nil {
		return "http://127.0.0.1:8080"
	}
	return u
}

type adminClient struct {
	base, token string
	http        *http.Client
}

// call makes one admin API call, decoding the answer into out and an
// error answer into an error that names its code. It returns the status.
func (a *adminClient) call(method, path string, body []byte, out any) (int, error) {
	req, err := http.NewRequest(method, a.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Code != "" {
			return resp.StatusCode, fmt.Errorf("%s (%d): %s", e.Error.Code, resp.StatusCode, e.Error.Message)
		}
		return resp.StatusCode, fmt.Errorf("the admin API answered %d: %.200s", resp.StatusCode, data)
	}
	if out != nil {
		return resp.StatusCode, json.Unmarshal(data, out)
	}
	return resp.StatusCode, nil
}
