package hook_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/modgate/modgate/moderation"
)

// The console and the new kinds of items: a report shows who reported what
// and removes or dismisses; a sender's page shows their strikes and bans,
// and lifts a ban (moderators only, with the session's CSRF token).

func TestConsoleShowsReports(t *testing.T) {
	t.Parallel()
	r, srv := newConsoleRig(t, "memory")
	r.command("report", reportBody("u2", "sells <b>pills</b>", true))
	r.command("report", reportBody("u3", "", true))
	r.event("ev-1", `{"type":"user.flagged","user":{"id":"u7"},"target_user":{"id":"troll"},"reason":"threats"}`)
	c := newClient(t, srv.URL, nil)
	csrf := c.signIn(modToken)
	resp, page := c.get("/console?kind=report")
	if resp.StatusCode != 200 {
		t.Fatalf("%d", resp.StatusCode)
	}
	for _, want := range []string{"Report:</span>", "buy cheap pills", "Reported by 2:", "sells &lt;b&gt;pills&lt;/b&gt;",
		">Dismiss<", ">Remove the message<", "Report of a user:</span>", "A report of the user, not of one message.",
		"(flagged in Stream): <q>threats</q>"} {
		if !strings.Contains(page, want) {
			t.Errorf("the queue lacks %q", want)
		}
	}
	if strings.Contains(page, "<b>pills") {
		t.Error("a reason shows as markup")
	}
	// A report of a user has nothing to remove.
	userReport := moderation.ReportID(moderation.ReportTarget{UserID: "troll"})
	_, item := c.get("/console/items/" + userReport)
	if strings.Contains(item, "/reject") || !strings.Contains(item, ">Dismiss<") {
		t.Fatalf("a report of a user offers to remove:\n%s", item)
	}
	// Dismissed: nothing changes in Stream, the card says so.
	resp, _ = c.post("/console/items/"+reportOf("m1")+"/approve", decideForm(csrf, ""))
	if resp.StatusCode != 303 || len(r.stream.got()) != 0 {
		t.Fatalf("dismiss: %d %v", resp.StatusCode, r.stream.got())
	}
	_, item = c.get("/console/items/" + reportOf("m1"))
	if !strings.Contains(item, "Done: dismissed by ann") {
		t.Fatalf("the dismissed report:\n%s", item)
	}
}

func TestConsoleSenderBansAndLifts(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		r, srv := newConsoleRig(t, store, withRules(t, store, escalationRules(t, false)))
		r.profane(0, 3, escalationReply)
		reader := newClient(t, srv.URL, nil)
		reader.signIn(readToken)
		resp, page := reader.get("/console/sender?user=u1")
		if resp.StatusCode != 200 {
			t.Fatalf("%d", resp.StatusCode)
		}
		for _, want := range []string{"<dt>in the last 1 hour</dt><dd>3</dd>", "banned (3 strikes)", "Rule profanity: a third message refused"} {
			if !strings.Contains(page, want) {
				t.Errorf("the sender's page lacks %q:\n%s", want, page)
			}
		}
		if strings.Contains(page, "/console/sender/lift") {
			t.Fatal("a reader is offered to lift")
		}
		mod := newClient(t, srv.URL, nil)
		csrf := mod.signIn(modToken)
		_, page = mod.get("/console/sender?user=u1")
		if !strings.Contains(page, `action="/console/sender/lift"`) {
			t.Fatalf("a moderator is not offered to lift:\n%s", page)
		}
		item := r.auditWith(moderation.AuditBanned)[0].ItemID
		form := url.Values{"user": {"u1"}, "do": {"ban"}, "of": {item}, "return": {"/console/sender?user=u1"}}
		// Without the token, or by a reader: refused, Stream untouched.
		if resp, _ := mod.post("/console/sender/lift", form); resp.StatusCode != 403 {
			t.Fatalf("a lift without CSRF: %d", resp.StatusCode)
		}
		_, readerPage := reader.get("/console/rules")
		form.Set("csrf", csrfOf(t, readerPage))
		if resp, _ := reader.post("/console/sender/lift", form); resp.StatusCode != 403 {
			t.Fatalf("a lift by a reader: %d", resp.StatusCode)
		}
		if r.stream.count("DELETE /moderation/ban") != 0 {
			t.Fatal("a refused lift reached Stream")
		}
		form.Set("csrf", csrf)
		resp, _ = mod.post("/console/sender/lift", form)
		if resp.StatusCode != 303 || resp.Header.Get("Location") != "/console/sender?user=u1" {
			t.Fatalf("lift: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		if _, banned := r.stream.ban("u1", ""); banned || r.stream.count("DELETE /moderation/ban") != 1 {
			t.Fatalf("not lifted at Stream: %v", r.stream.got())
		}
		_, page = mod.get("/console/sender?user=u1")
		if !strings.Contains(page, "lifted a ban") || !strings.Contains(page, "by ann") {
			t.Fatalf("the lift is not shown:\n%s", page)
		}
	})
}

// TestConsoleShowsAConsequenceUnderWay: a ban Stream refuses stays in the
// queue, failed, for a moderator to try again or cancel.
func TestConsoleShowsAConsequenceUnderWay(t *testing.T) {
	t.Parallel()
	r, srv := newConsoleRig(t, "memory", withRules(t, "memory", escalationRules(t, false)))
	r.profane(0, 2, escalationReply)
	r.stream.fail(refuse) // Stream refuses the ban for good
	r.profane(2, 1, escalationReply)
	c := newClient(t, srv.URL, nil)
	csrf := c.signIn(modToken)
	_, page := c.get("/console?kind=consequence")
	for _, want := range []string{"Ban for 15 minutes:</span>", "After 3 strikes within 10 minutes.", ">Try again<", ">Cancel<", "Failed:"} {
		if !strings.Contains(page, want) {
			t.Errorf("the queue lacks %q:\n%s", want, page)
		}
	}
	id := r.items("?kind=consequence")[0].ID
	if resp, _ := c.post("/console/items/"+id+"/approve", decideForm(csrf, "")); resp.StatusCode != 303 {
		t.Fatalf("try again: %d", resp.StatusCode)
	}
	r.reviews.Wait()
	if _, ok := r.stream.ban("u1", ""); !ok {
		t.Fatalf("tried again, not banned: %v", r.stream.got())
	}
}
