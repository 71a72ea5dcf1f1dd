package hook_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/modgate/modgate/hook"
	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
	"github.com/modgate/modgate/storage"
)

// The console in a real browser: headless Chromium driven through the
// DevTools protocol. The test skips when no Chromium is installed, except
// under CI (CI set), where it must run: .ci/run installs Debian's chromium.
// With MODGATE_SCREENSHOTS=docs/screenshots (relative to the repository) it
// writes the screenshots the README shows there; otherwise to a temporary
// folder.

// chromium finds the browser, or skips.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("MODGATE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium found (chromium, chromium-browser or google-chrome on PATH, or MODGATE_CHROMIUM): " +
			"CI must run the console's browser tests; install it with apt-get install chromium")
	}
	t.Skip("no Chromium installed (apt-get install chromium): skipping the console's browser tests")
	return ""
}

// browserTab starts a headless Chromium with a profile of its own and
// returns a tab. Every console message the pages write is collected; the
// test fails on an uncaught exception or an error (a Content-Security-
// Policy violation is one) other than those allowed.
func browserTab(t *testing.T, allowed ...string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(alloc)
	// A ceiling for the whole test, not a measurement: every step waits for
	// a condition, and a broken page fails here rather than hanging CI.
	ctx, cancelTime := context.WithTimeout(ctx, 2*time.Minute)
	if err := chromedp.Do(ctx); err != nil {
		cancelTime()
		cancelTab()
		cancelAlloc()
		t.Fatalf("starting %s: %v", chromium(t), err)
	}
	messages := chromedp.Console(ctx)
	var mu sync.Mutex
	var problems []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type != chromedp.ConsoleError && !m.IsException() {
				continue
			}
			text := fmt.Sprintf("%s: %s (%s)", m.Type, m.Text, m.URL)
			ok := false
			for _, a := range allowed {
				ok = ok || strings.Contains(text, a)
			}
			if !ok {
				mu.Lock()
				problems = append(problems, text)
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancelTime()
		cancelTab()
		cancelAlloc()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, p := range problems {
			t.Errorf("the page wrote to the console: %s", p)
		}
	})
	return ctx
}

// screenshots is where the test writes its screenshots.
func screenshots(t *testing.T) string {
	dir := os.Getenv("MODGATE_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join("..", dir) // tests run in hook/
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

const browserRules = `
version: 1
settings: {hold_reply: "Your message is waiting for a moderator."}
lists:
  spam: {terms: [buy now, cheap meds, free crypto]}
  insults: {terms: [idiot, moron]}
rules:
  - id: spam
    description: Advertising and scams wait for a moderator.
    when: {text: {contains: [list.spam]}}
    action: hold
  - id: insults
    description: Name-calling waits for a moderator.
    when: {text: {contains: [list.insults]}}
    action: hold
`

// pendingFrom delivers a pending message from user in channel, as Stream
// does, and keeps it at the fake Stream as pending.
func pendingFrom(r *rig, id, user, channel, text string) {
	r.t.Helper()
	r.stream.put(id, storedMessage{text: text, userID: user, pending: true})
	body := fmt.Sprintf(`{"message":{"id":%q,"text":%q,"cid":%q,"user":{"id":%q},"created_at":%q}}`, id, text, channel, user,
		r.clock.Now().Format(time.RFC3339Nano))
	req := signed([]byte(body), testKey, testSecret)
	req.URL.Path = "/hooks/pending/PassOnPendingMessage"
	req.Header.Set("X-Webhook-Id", "wh-"+id)
	if rec := r.do(req); rec.Code != 200 || !strings.Contains(rec.Body.String(), "held") {
		r.t.Fatalf("pending %s: %d %s", id, rec.Code, rec.Body)
	}
}

// stepTime bounds one step (a ceiling, not a measurement): a step that
// waits for something that never comes fails with the page as it was.
const stepTime = 20 * time.Second

func do(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTime)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		t.Fatalf("%v\n%s", err, pageState(ctx))
	}
}

func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTime)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("%v\n%s", err, pageState(ctx))
	}
	return v
}

// waitFor waits until the expression is true in the page.
func waitFor(t *testing.T, ctx context.Context, what, expression string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, stepTime)
	defer cancel()
	if _, err := chromedp.Run(sctx, chromedp.Poll[bool](expression, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		t.Fatalf("waiting for %s (%s): %v\n%s", what, expression, err, pageState(ctx))
	}
}

// pageState says where the page is, to explain a failed step.
func pageState(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	state, err := chromedp.Run(ctx, chromedp.Evaluate[string](`'at ' + location.href + ', focus on ' +
		(document.activeElement ? document.activeElement.outerHTML.slice(0, 200) : 'nothing') + '\n' +
		(document.querySelector('main') || document.body).outerHTML`))
	if err != nil {
		return "(the page could not be read: " + err.Error() + ")"
	}
	return state
}

func shoot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png := run(t, ctx, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", filepath.Join(dir, name))
}

// TestConsoleInABrowser: a moderator signs in, sees the held messages with
// their matches highlighted, approves one from the keyboard and rejects
// one with a reason, sees a new one arrive, reads the audit log and signs
// out; a reader sees no decide controls; a POST without the CSRF token is
// refused. The fake Stream gets exactly one commit and one delete.
func TestConsoleInABrowser(t *testing.T) {
	ctx := browserTab(t, "the server responded with a status of 403")
	set, err := rules.Parse("rules.yaml", []byte(browserRules), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := newRig(t, "memory", 0, withConsole(func(cc *hook.ConsoleConfig) { cc.PollEvery = 200 * time.Millisecond }),
		func(c *hook.Config) {
			c.Engine = moderation.NewEngine(set, moderation.EngineOptions{State: storage.NewMemory(storage.MemoryOptions{})})
		})
	srv := httptest.NewServer(r.server)
	t.Cleanup(srv.Close)
	dir := screenshots(t)
	pendingFrom(r, "m1", "sam", "messaging:general", "Hey all, B.U.Y N0W: çheap MEDS at my shop, DM me")
	pendingFrom(r, "m2", "riley", "messaging:gaming", "you are such an 1d10t honestly")
	pendingFrom(r, "m3", "kim", "messaging:general", "get free crypto here → bit.ly/x")

	// Without a session, the console sends the browser to the sign-in page.
	do(t, ctx, chromedp.Navigate(srv.URL+"/console"), chromedp.WaitVisible(chromedp.ID("token")))
	if loc := run(t, ctx, chromedp.Location()); !strings.HasPrefix(loc, srv.URL+"/console/login") {
		t.Fatalf("without a session: %s", loc)
	}
	do(t, ctx, chromedp.SendKeys(chromedp.ID("token"), modToken+"\n"), chromedp.WaitVisible(chromedp.ID("queue-items")))

	// Three held messages, newest first, each with its matches highlighted.
	marks := run(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('#queue-items .item')].map(a =>
		a.dataset.item + ': ' + [...a.querySelectorAll('blockquote mark')].map(m => m.textContent).join(' | '))`))
	if fmt.Sprint(marks) != "[m3: free crypto m2: 1d10t m1: B.U.Y N0W | çheap MEDS]" {
		t.Fatalf("the queue shows %q", marks)
	}
	shoot(t, ctx, dir, "console-queue.png")

	// Approve the first from the keyboard: j moves to it, a approves it.
	do(t, ctx, chromedp.KeyEvent("j"))
	waitFor(t, ctx, "j to focus the first message", `document.activeElement.dataset.item === 'm3'`)
	do(t, ctx, chromedp.KeyEvent("a"))
	waitFor(t, ctx, "the approval to be done", `document.querySelector('[data-item="m3"]').dataset.state === 'done'`)
	if txt := run(t, ctx, chromedp.Text(chromedp.CSS(`[data-item="m3"] [data-state-text]`))); txt != "Done: approved by ann" {
		t.Fatalf("the approved message says %q", txt)
	}
	waitFor(t, ctx, "the focus to stay on the decided message", `document.activeElement === document.querySelector('[data-item="m3"]')`)

	// Reject the second with a reason, with the mouse.
	do(t, ctx,
		chromedp.SendKeys(chromedp.CSS(`[data-item="m2"] input[name="reason"]`), "Insults are not welcome here"),
		chromedp.Click(chromedp.CSS(`[data-item="m2"] button[data-decide="reject"]`)))
	waitFor(t, ctx, "the rejection to be done", `document.querySelector('[data-item="m2"]').dataset.state === 'done'`)
	if calls := r.stream.got(); fmt.Sprint(calls) != "[POST /messages/m3/commit DELETE /messages/m2]" {
		t.Fatalf("the fake Stream got %v, want exactly one commit and one delete", calls)
	}

	// A POST without the CSRF token, from the signed-in page, is refused.
	status := run(t, ctx, chromedp.Evaluate[int](`fetch('/console/items/m1/approve', {method: 'POST',
		headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body: 'reason=no+token'}).then(r => r.status)`,
		chromedp.EvalAwaitPromise))
	if status != 403 || r.item("m1").State != moderation.HeldWaiting || len(r.stream.got()) != 2 {
		t.Fatalf("a POST without the CSRF token: %d, %s, %v", status, r.item("m1").State, r.stream.got())
	}

	// A message held now appears at the top without a reload.
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`))
	pendingFrom(r, "m4", "alex", "messaging:general", "what a moron")
	waitFor(t, ctx, "the new message to appear", `document.querySelector('#queue-items .item').dataset.item === 'm4'`)
	if !run(t, ctx, chromedp.Evaluate[bool](`window.notReloaded === true && document.querySelector('[data-item="m4"] mark').textContent === 'moron'`)) {
		t.Fatal("the page reloaded, or the new message has no highlight")
	}

	// An item's page explains the match.
	do(t, ctx, chromedp.Click(chromedp.CSS(`[data-item="m1"] a.details`)), chromedp.WaitVisible(chromedp.CSS("table.matches")))
	why := run(t, ctx, chromedp.Text(chromedp.CSS("table.matches tbody")))
	if !strings.Contains(why, "leetspeak") || !strings.Contains(why, "buy now") || !strings.Contains(why, "diacritics") {
		t.Fatalf("the item's page explains %q", why)
	}
	shoot(t, ctx, dir, "console-item.png")

	// The audit log shows both decisions.
	do(t, ctx, chromedp.Click(chromedp.CSS(`nav a[href="/console/audit"]`)), chromedp.WaitVisible(chromedp.CSS("table.audit")))
	rows := run(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('table.audit tbody tr')]
		.filter(tr => tr.className !== 'audit-held').map(tr => [...tr.cells].slice(1).map(c => c.textContent.trim()).join('|'))`))
	if fmt.Sprint(rows) != "[ann|rejected|m2|riley|messaging:gaming|insults|Insults are not welcome here ann|approved|m3|kim|messaging:general|spam|]" {
		t.Fatalf("the audit log shows %q", rows)
	}

	// On a phone, and at 200% zoom, nothing needs scrolling sideways.
	for _, size := range []struct {
		name string
		w, h int64
		zoom float64
	}{{"a phone", 390, 844, 3}, {"200% zoom", 640, 450, 2}} {
		for _, p := range []string{"/console", "/console/items/m1", "/console/audit", "/console/rules"} {
			do(t, ctx, chromedp.EmulateViewport(size.w, size.h, chromedp.EmulateScale(size.zoom)), chromedp.Navigate(srv.URL+p),
				chromedp.WaitVisible(chromedp.CSS("main")))
			if wide := run(t, ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); wide {
				t.Errorf("%s on %s scrolls sideways", p, size.name)
			}
		}
	}
	// A selection decided at once: x selects from the keyboard.
	pendingFrom(r, "m5", "drew", "messaging:general", "buy now buy now")
	pendingFrom(r, "m6", "drew", "messaging:general", "BUY NOW!!!")
	do(t, ctx, chromedp.EmulateViewport(1280, 900), chromedp.Navigate(srv.URL+"/console"), chromedp.WaitVisible(chromedp.ID("queue-items")),
		chromedp.KeyEvent("j"), chromedp.KeyEvent("x"), chromedp.KeyEvent("j"), chromedp.KeyEvent("x"))
	if n := run(t, ctx, chromedp.Text(chromedp.CSS("[data-selected-count]"))); n != "2" {
		t.Fatalf("%s selected", n)
	}
	do(t, ctx, chromedp.Click(chromedp.CSS(`#bulk button[value="approve"]`)))
	waitFor(t, ctx, "the selection to be approved", `['m5', 'm6'].every(id => document.querySelector('[data-item="' + id + '"]').dataset.state === 'done')`)
	if txt := run(t, ctx, chromedp.Text(chromedp.ID("bulk-status"))); txt != "Approved 2." {
		t.Fatalf("the bulk decision says %q", txt)
	}
	if n := r.stream.count("POST /messages/m5/commit") + r.stream.count("POST /messages/m6/commit"); n != 2 || len(r.stream.got()) != 4 {
		t.Fatalf("the fake Stream got %v", r.stream.got())
	}

	// Sign out: the sign-in page, and the console sends there again.
	do(t, ctx, chromedp.Click(chromedp.CSS(".signout button")), chromedp.WaitVisible(chromedp.ID("token")))
	if txt := run(t, ctx, chromedp.Text(chromedp.CSS(".login .ok"))); txt != "You have signed out." {
		t.Fatalf("after sign-out: %q", txt)
	}
	do(t, ctx, chromedp.Navigate(srv.URL+"/console"), chromedp.WaitVisible(chromedp.ID("token")))

	// A reader sees the messages and their highlights, and no decide controls.
	do(t, ctx, chromedp.SendKeys(chromedp.ID("token"), readToken+"\n"), chromedp.WaitVisible(chromedp.ID("queue-items")))
	seen := run(t, ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('#queue-items .item')].map(a => a.dataset.item +
		(a.querySelector('mark') ? '+' : '-')).join(' ') + ' / controls: ' +
		document.querySelectorAll('[data-decide], #bulk, input.select, form[action$="/approve"], form[action$="/reject"]').length`))
	if seen != "m4+ m1+ / controls: 0" {
		t.Fatalf("a reader sees %q", seen)
	}
	do(t, ctx, chromedp.KeyEvent("j"), chromedp.KeyEvent("a"))
	if len(r.stream.got()) != 4 || r.item("m4").State != moderation.HeldWaiting {
		t.Fatalf("a reader's keys decided: %v", r.stream.got())
	}
}

// TestReportsAndBansInABrowser: a moderator sees a reported message with
// its reporters, dismisses it from the keyboard, and lifts a ban from the
// sender's page; on a phone the sender's page needs no sideways scroll.
func TestReportsAndBansInABrowser(t *testing.T) {
	ctx := browserTab(t)
	r := newRig(t, "memory", 0, withConsole(), withRules(t, "memory", escalationRules(t, false)))
	srv := httptest.NewServer(r.server)
	t.Cleanup(srv.Close)
	r.command("report", reportBody("u2", "sells pills", true))
	r.command("report", reportBody("u3", "spam", true))
	r.profane(0, 3, escalationReply)

	do(t, ctx, chromedp.Navigate(srv.URL+"/console/login?next=%2Fconsole%3Fkind%3Dreport"), chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), modToken+"\n"), chromedp.WaitVisible(chromedp.ID("queue-items")))
	card := run(t, ctx, chromedp.Evaluate[string](`(() => { const a = document.querySelector('#queue-items .item');
		return a.querySelector('h2').textContent.trim() + ' | ' + a.querySelector('blockquote').textContent + ' | ' +
			[...a.querySelectorAll('.reporters li')].map(li => li.textContent).join('; ') + ' | ' +
			[...a.querySelectorAll('button[data-decide]')].map(b => b.firstChild.textContent).join(', ') })()`))
	if card != "Report: author in messaging:general | buy cheap pills | u2: sells pills; u3: spam | Dismiss, Remove the message" {
		t.Fatalf("the report shows %q", card)
	}
	do(t, ctx, chromedp.KeyEvent("j"), chromedp.KeyEvent("a"))
	waitFor(t, ctx, "the report to be dismissed", `document.querySelector('#queue-items .item').dataset.state === 'done'`)
	if txt := run(t, ctx, chromedp.Text(chromedp.CSS(`#queue-items [data-state-text]`))); txt != "Done: dismissed by ann" {
		t.Fatalf("the dismissed report says %q", txt)
	}

	do(t, ctx, chromedp.Navigate(srv.URL+"/console/sender?user=u1"), chromedp.WaitVisible(chromedp.CSS("table.bans")))
	do(t, ctx, chromedp.Click(chromedp.CSS(`form.lift button`)), chromedp.WaitVisible(chromedp.CSS("table.bans tr.ban-lifted")))
	if _, banned := r.stream.ban("u1", ""); banned || r.stream.count("DELETE /moderation/ban") != 1 {
		t.Fatalf("the fake Stream got %v", r.stream.got())
	}
	do(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3)), chromedp.Navigate(srv.URL+"/console/sender?user=u1"),
		chromedp.WaitVisible(chromedp.CSS("main")))
	if wide := run(t, ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); wide {
		// Name what sticks out: long ids once did, in the audit table.
		t.Errorf("the sender's page scrolls sideways on a phone: %s", run(t, ctx, chromedp.Evaluate[string](
			`[...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
				.map(e => e.tagName + ' ' + e.textContent.slice(0, 40)).slice(0, 5).join('; ')`)))
	}
}
