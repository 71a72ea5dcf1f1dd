package hook_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/modgate/modgate/hook"
	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
	"github.com/modgate/modgate/storage"
)

// The console over plain HTTP, as a browser without scripts sees it (and
// as its scripts call it, with their headers). console_browser_test.go
// drives it in a real browser.

const consoleSecret = "a console secret for the tests, 0123456789"

// withConsole turns the console on, with changes.
func withConsole(changes ...func(*hook.ConsoleConfig)) func(*hook.Config) {
	return func(c *hook.Config) {
		cc := &hook.ConsoleConfig{Secret: []byte(consoleSecret), SignIns: storage.NewMemory(storage.MemoryOptions{})}
		for _, change := range changes {
			change(cc)
		}
		c.Console = cc
	}
}

// newConsoleRig is the review rig with the console on, served over HTTP.
func newConsoleRig(t *testing.T, store string, opts ...func(*hook.Config)) (*rig, *httptest.Server) {
	t.Helper()
	r := newRig(t, store, 0, append([]func(*hook.Config){withConsole()}, opts...)...)
	srv := httptest.NewServer(r.server)
	t.Cleanup(srv.Close)
	return r, srv
}

// client is a browser without scripts: it keeps cookies and does not
// follow redirects, so that tests see them.
type client struct {
	t      *testing.T
	base   string
	http   *http.Client
	header http.Header
}

func newClient(t *testing.T, base string, hc *http.Client) *client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	if hc == nil {
		hc = &http.Client{}
	}
	c := *hc
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &client{t: t, base: base, http: &c, header: http.Header{}}
}

func (c *client) do(method, path string, form url.Values, header ...string) (*http.Response, string) {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (c *client) get(path string, header ...string) (*http.Response, string) {
	c.t.Helper()
	return c.do(http.MethodGet, path, nil, header...)
}

func (c *client) post(path string, form url.Values, header ...string) (*http.Response, string) {
	c.t.Helper()
	return c.do(http.MethodPost, path, form, header...)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrfOf is the CSRF token of the forms of a page.
func csrfOf(t *testing.T, page string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", page)
	}
	return html.UnescapeString(m[1])
}

// signIn signs in with token and returns the CSRF token of the session.
func (c *client) signIn(token string) string {
	c.t.Helper()
	resp, page := c.get("/console/login")
	if resp.StatusCode != 200 {
		c.t.Fatalf("GET /console/login: %d", resp.StatusCode)
	}
	resp, page = c.post("/console/login", url.Values{"csrf": {csrfOf(c.t, page)}, "token": {token}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console" {
		c.t.Fatalf("sign-in: %d %s\n%s", resp.StatusCode, resp.Header.Get("Location"), page)
	}
	resp, page = c.get("/console/rules")
	if resp.StatusCode != 200 {
		c.t.Fatalf("GET /console/rules after sign-in: %d", resp.StatusCode)
	}
	return csrfOf(c.t, page)
}

// decideForm is the form of the approve and reject buttons.
func decideForm(csrf, reason string) url.Values {
	return url.Values{"csrf": {csrf}, "reason": {reason}, "return": {"/console"}}
}

func TestConsoleWithoutASession(t *testing.T) {
	t.Parallel()
	r, srv := newConsoleRig(t, "memory")
	r.pending("wh-1", "m1", "please reviewme")
	c := newClient(t, srv.URL, nil)
	for _, tc := range []struct {
		name, method, path string
		header             []string
		status             int
		location           string
	}{
		{"the queue", "GET", "/console", nil, http.StatusSeeOther, "/console/login"},
		{"the queue, with a slash", "GET", "/console/", nil, http.StatusSeeOther, "/console/login"},
		{"another page comes back after sign-in", "GET", "/console/audit?actor=ann", nil, http.StatusSeeOther,
			"/console/login?next=%2Fconsole%2Faudit%3Factor%3Dann"},
		{"an item", "GET", "/console/items/m1", nil, http.StatusSeeOther, "/console/login?next=%2Fconsole%2Fitems%2Fm1"},
		{"the page's script", "GET", "/console/fresh?since=0", []string{"X-Requested-With", "modgate-console"}, 401, ""},
		{"htmx", "GET", "/console/items/m1/card", []string{"HX-Request", "true"}, 401, ""},
		{"a decision", "POST", "/console/items/m1/approve", nil, 401, ""},
		{"sign-out", "POST", "/console/logout", nil, 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := c.do(tc.method, tc.path, url.Values{}, tc.header...)
			if resp.StatusCode != tc.status || resp.Header.Get("Location") != tc.location {
				t.Fatalf("%d %q\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
			}
			if tc.status == 401 && resp.Header.Get("HX-Redirect") != "/console/login" {
				t.Fatalf("no HX-Redirect to the sign-in page: %v", resp.Header)
			}
		})
	}
	if r.item("m1").State != moderation.HeldWaiting || len(r.stream.got()) != 0 {
		t.Fatalf("a request without a session changed something: %+v %v", r.item("m1"), r.stream.got())
	}
	// The admin API does not take the console's cookie, nor the console a bearer token.
	c.signIn(modToken)
	if resp, _ := c.get("/admin/queue"); resp.StatusCode != 401 {
		t.Fatalf("the admin API with a console cookie: %d", resp.StatusCode)
	}
	bare := newClient(t, srv.URL, nil)
	if resp, _ := bare.get("/console", "Authorization", "Bearer "+modToken); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the console with a bearer token: %d", resp.StatusCode)
	}
}

func TestConsoleSignIn(t *testing.T) {
	t.Parallel()
	_, srv := newConsoleRig(t, "memory")
	for _, tc := range []struct {
		name     string
		token    string
		next     string
		header   []string
		noCookie bool
		status   int
		location string
		says     string
	}{
		{"moderator", modToken, "", nil, false, http.StatusSeeOther, "/console", ""},
		{"reader, back to where they were", readToken, "/console/audit?actor=ann", nil, false, http.StatusSeeOther, "/console/audit?actor=ann", ""},
		{"a token with spaces around it", "  " + modToken + "\n", "", nil, false, http.StatusSeeOther, "/console", ""},
		{"a wrong token", "mod-token-0123456780", "", nil, false, 401, "", "That token is not valid."},
		{"no token", "", "", nil, false, 401, "", "That token is not valid."},
		{"a form without its cookie", modToken, "", nil, true, 403, "", "The sign-in form had expired."},
		{"another site's form", modToken, "", []string{"Sec-Fetch-Site", "cross-site"}, false, 403, "", "only from its own pages"},
		{"another site's origin", modToken, "", []string{"Origin", "https://evil.example"}, false, 403, "", "only from its own pages"},
		{"a redirect elsewhere", modToken, "//evil.example/", nil, false, http.StatusSeeOther, "/console", ""},
		{"a redirect to the admin API", modToken, "/admin/queue", nil, false, http.StatusSeeOther, "/console", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newClient(t, srv.URL, nil)
			_, page := c.get("/console/login")
			if tc.noCookie {
				c.http.Jar, _ = cookiejar.New(nil)
			}
			resp, page := c.post("/console/login", url.Values{"csrf": {csrfOf(t, page)}, "token": {tc.token}, "next": {tc.next}}, tc.header...)
			if resp.StatusCode != tc.status || resp.Header.Get("Location") != tc.location || !strings.Contains(page, tc.says) {
				t.Fatalf("%d %q\n%s", resp.StatusCode, resp.Header.Get("Location"), page)
			}
			if tc.status == 401 && (!strings.Contains(page, `aria-invalid="true"`) || !strings.Contains(page, `role="alert"`)) {
				t.Fatalf("the refusal is not tied to the field for screen readers:\n%s", page)
			}
			if tc.status != http.StatusSeeOther {
				if resp, _ := c.get("/console"); resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("signed in after a refusal: %d", resp.StatusCode)
				}
			}
		})
	}
}

// TestConsoleSignInIsRateLimited: ten attempts per address in ten
// minutes, counted in the shared counters or, without them, in the
// process; behind a trusted proxy, per forwarded address.
func TestConsoleSignInIsRateLimited(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		shared bool
	}{{"shared counters", true}, {"this process", false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, srv := newConsoleRig(t, "memory", withConsole(func(cc *hook.ConsoleConfig) {
				cc.TrustProxy = true
				if !tc.shared {
					cc.SignIns = nil
				}
			}))
			attempt := func(from, token string) *http.Response {
				c := newClient(t, srv.URL, nil)
				_, page := c.get("/console/login")
				resp, _ := c.post("/console/login", url.Values{"csrf": {csrfOf(t, page)}, "token": {token}}, "X-Forwarded-For", "198.51.100.7, "+from)
				return resp
			}
			for i := range 10 {
				if resp := attempt("203.0.113.9", "wrong-token-0123456789"); resp.StatusCode != 401 {
					t.Fatalf("attempt %d: %d", i+1, resp.StatusCode)
				}
			}
			resp := attempt("203.0.113.9", modToken)
			if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("the 11th attempt, with the right token: %d %v", resp.StatusCode, resp.Header)
			}
			if resp := attempt("2001:db8:1:2::99", modToken); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("another address: %d", resp.StatusCode)
			}
			// IPv6 addresses count by their /64.
			for range 9 {
				attempt("2001:db8:1:2::1", "wrong-token-0123456789")
			}
			if resp := attempt("2001:db8:1:2:ffff::5", modToken); resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("another address of the same /64: %d", resp.StatusCode)
			}
			r.clock.add(10*time.Minute + time.Second)
			if resp := attempt("203.0.113.9", modToken); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("after the window: %d", resp.StatusCode)
			}
		})
	}
	t.Run("a forwarded address is not trusted by default", func(t *testing.T) {
		t.Parallel()
		_, srv := newConsoleRig(t, "memory")
		for i := range 11 {
			c := newClient(t, srv.URL, nil)
			_, page := c.get("/console/login")
			resp, _ := c.post("/console/login", url.Values{"csrf": {csrfOf(t, page)}, "token": {"wrong-token-0123456789"}},
				"X-Forwarded-For", fmt.Sprintf("192.0.2.%d", i))
			if want := map[bool]int{true: 429, false: 401}[i == 10]; resp.StatusCode != want {
				t.Fatalf("attempt %d: %d, want %d", i+1, resp.StatusCode, want)
			}
		}
	})
}

// sessionCookie is the console's session cookie as last set.
func sessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, ck := range resp.Cookies() {
		if strings.HasSuffix(ck.Name, "modgate_console") {
			return ck
		}
	}
	t.Fatalf("no session cookie in %v", resp.Header["Set-Cookie"])
	return nil
}

func TestConsoleSessionCookie(t *testing.T) {
	t.Parallel()
	signIn := func(t *testing.T, c *client, header ...string) *http.Response {
		_, page := c.get("/console/login", header...)
		resp, _ := c.post("/console/login", url.Values{"csrf": {csrfOf(t, page)}, "token": {modToken}}, header...)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in: %d", resp.StatusCode)
		}
		return resp
	}
	for _, tc := range []struct {
		name       string
		trustProxy bool
		tls        bool
		header     []string
		secure     bool
	}{
		{"plain HTTP", false, false, nil, false},
		{"TLS", false, true, nil, true},
		{"a trusted proxy that says https", true, false, []string{"X-Forwarded-Proto", "https"}, true},
		{"a trusted proxy that says http", true, false, []string{"X-Forwarded-Proto", "http"}, false},
		{"an untrusted header that says https", false, false, []string{"X-Forwarded-Proto", "https"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, "memory", 0, withConsole(func(cc *hook.ConsoleConfig) { cc.TrustProxy = tc.trustProxy }))
			srv := httptest.NewUnstartedServer(r.server)
			if tc.tls {
				srv.StartTLS()
			} else {
				srv.Start()
			}
			t.Cleanup(srv.Close)
			c := newClient(t, srv.URL, srv.Client())
			ck := sessionCookie(t, signIn(t, c, tc.header...))
			want := map[bool]string{true: "__Host-modgate_console", false: "modgate_console"}[tc.secure]
			if ck.Name != want || ck.Secure != tc.secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/" ||
				ck.Domain != "" || ck.MaxAge != 1800 {
				t.Fatalf("cookie %+v", ck)
			}
			if resp, _ := c.get("/console", tc.header...); resp.StatusCode != 200 {
				t.Fatalf("with the cookie: %d", resp.StatusCode)
			}
		})
	}
}

func TestConsoleSessions(t *testing.T) {
	t.Parallel()
	r, srv := newConsoleRig(t, "memory")
	signedIn := func(t *testing.T, c *client) bool {
		t.Helper()
		resp, _ := c.get("/console/rules")
		switch resp.StatusCode {
		case 200:
			return true
		case http.StatusSeeOther:
			return false
		}
		t.Fatalf("GET /console/rules: %d", resp.StatusCode)
		return false
	}
	cookieOf := func(t *testing.T, c *client) string {
		u, _ := url.Parse(srv.URL)
		for _, ck := range c.http.Jar.Cookies(u) {
			if ck.Name == "modgate_console" {
				return ck.Value
			}
		}
		t.Fatal("no session cookie")
		return ""
	}
	withCookie := func(value string) *client {
		c := newClient(t, srv.URL, nil)
		c.header.Set("Cookie", "modgate_console="+value)
		return c
	}

	t.Run("forged", func(t *testing.T) {
		c := newClient(t, srv.URL, nil)
		c.signIn(modToken)
		v := cookieOf(t, c)
		payload, sig, _ := strings.Cut(v, ".")
		for _, forged := range []string{payload + "." + sig[:len(sig)-2] + "AA", "x" + v, payload, "", "." + sig,
			strings.Replace(v, payload, payload[:len(payload)-4], 1)} {
			if signedIn(t, withCookie(forged)) {
				t.Fatalf("a forged cookie %q is accepted", forged)
			}
		}
	})
	t.Run("idle, then renewed by use", func(t *testing.T) {
		c := newClient(t, srv.URL, nil)
		c.signIn(modToken)
		old := cookieOf(t, c)
		r.clock.add(20 * time.Minute)
		if !signedIn(t, c) || cookieOf(t, c) == old {
			t.Fatal("a session used after 20 minutes is not renewed")
		}
		r.clock.add(20 * time.Minute)
		if !signedIn(t, c) {
			t.Fatal("a renewed session ended")
		}
		if signedIn(t, withCookie(old)) {
			t.Fatal("the cookie before renewal outlives its idle time")
		}
		r.clock.add(31 * time.Minute)
		if signedIn(t, c) {
			t.Fatal("a session idle for 31 minutes still works")
		}
	})
	t.Run("at most twelve hours", func(t *testing.T) {
		c := newClient(t, srv.URL, nil)
		c.signIn(modToken)
		for i := 0; i < 12*60/25; i++ {
			r.clock.add(25 * time.Minute)
			if !signedIn(t, c) {
				t.Fatalf("ended after %d minutes of use", (i+1)*25)
			}
		}
		r.clock.add(25 * time.Minute)
		if signedIn(t, c) {
			t.Fatal("a session in use outlives twelve hours")
		}
	})
	t.Run("signed out", func(t *testing.T) {
		c := newClient(t, srv.URL, nil)
		csrf := c.signIn(modToken)
		copied := cookieOf(t, c)
		resp, _ := c.post("/console/logout", url.Values{"csrf": {csrf}})
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/login?signed_out=1" {
			t.Fatalf("sign-out: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		if ck := sessionCookie(t, resp); ck.MaxAge >= 0 || ck.Value != "" {
			t.Fatalf("sign-out leaves the cookie: %+v", ck)
		}
		if signedIn(t, c) || signedIn(t, withCookie(copied)) {
			t.Fatal("a signed-out session still works on this process")
		}
		_, page := c.get("/console/login?signed_out=1")
		if !strings.Contains(page, "You have signed out.") {
			t.Fatal("the sign-in page does not say so")
		}
	})
	t.Run("sign-out needs the CSRF token", func(t *testing.T) {
		c := newClient(t, srv.URL, nil)
		c.signIn(modToken)
		if resp, _ := c.post("/console/logout", url.Values{}); resp.StatusCode != 403 || !signedIn(t, c) {
			t.Fatalf("sign-out without the token: %d", resp.StatusCode)
		}
	})
}

// TestConsoleSessionsAcrossProcesses: a session made on one process works
// on the others that share the secret (or, without one, the tokens), ends
// with its token, and takes the token's role as configured now.
func TestConsoleSessionsAcrossProcesses(t *testing.T) {
	t.Parallel()
	r, srv := newConsoleRig(t, "memory")
	serve := func(cfg hook.Config) *httptest.Server {
		s := httptest.NewServer(hook.New(cfg))
		t.Cleanup(s.Close)
		return s
	}
	// A session's cookie, taken to each process as the load balancer would.
	var cookie string
	signIn := func(s *httptest.Server, token string) {
		c := newClient(t, s.URL, nil)
		c.signIn(token)
		u, _ := url.Parse(s.URL)
		for _, ck := range c.http.Jar.Cookies(u) {
			if ck.Name == "modgate_console" {
				cookie = ck.Value
			}
		}
	}
	on := func(s *httptest.Server) (int, string) {
		c := newClient(t, s.URL, nil)
		c.header.Set("Cookie", "modgate_console="+cookie)
		resp, page := c.get("/console")
		return resp.StatusCode, page
	}
	signIn(srv, modToken)
	other := r.cfg
	if code, page := on(serve(other)); code != 200 || !strings.Contains(page, `data-decide="approve"`) && !strings.Contains(page, "Approve selected") {
		t.Fatalf("another process with the same secret: %d", code)
	}
	otherSecret := r.cfg
	otherSecret.Console = &hook.ConsoleConfig{Secret: []byte("another secret, another secret, 0123456789")}
	if code, _ := on(serve(otherSecret)); code != http.StatusSeeOther {
		t.Fatalf("a process with another secret: %d", code)
	}
	tokens, _ := hook.ParseAdminTokens("ann:moderator:another-token-0123456789, bob:read:" + readToken)
	rotated := r.cfg
	rotated.AdminTokens = tokens
	if code, _ := on(serve(rotated)); code != http.StatusSeeOther {
		t.Fatalf("a process where ann's token changed: %d", code)
	}
	tokens, _ = hook.ParseAdminTokens("ann:read:" + modToken)
	demoted := r.cfg
	demoted.AdminTokens = tokens
	code, page := on(serve(demoted))
	if code != 200 || strings.Contains(page, "Approve selected") || !strings.Contains(page, "read only") {
		t.Fatalf("a process where ann's token may only read: %d", code)
	}

	// Without a secret, processes with the same tokens sign alike.
	derived := r.cfg
	derived.Console = &hook.ConsoleConfig{}
	a, b := serve(derived), serve(derived)
	signIn(a, readToken)
	if code, _ := on(b); code != 200 {
		t.Fatalf("a session signed with the key derived from the tokens, on another process: %d", code)
	}
	derived.AdminTokens = tokens
	if code, _ := on(serve(derived)); code != http.StatusSeeOther {
		t.Fatalf("a process whose tokens differ: %d", code)
	}
}

// TestConsoleHeaders: every console answer forbids framing and inline
// scripts; pages are not cached; no page carries inline script or style.
func TestConsoleHeaders(t *testing.T) {
	t.Parallel()
	r, srv := newConsoleRig(t, "memory")
	r.pending("wh-1", "m1", "please reviewme")
	c := newClient(t, srv.URL, nil)
	_, login := c.get("/console/login")
	csrf := c.signIn(modToken)
	scriptTag := regexp.MustCompile(`(?is)<script([^>]*)>(.*?)</script>`)
	inline := regexp.MustCompile(`(?i)<style|\sstyle=|\son[a-z]+=|javascript:`)
	pages := map[string]string{"/console/login": login}
	for _, p := range []string{"/console", "/console/items/m1", "/console/sender?user=u1", "/console/audit", "/console/rules",
		"/console/try", "/console/items/nothing", "/console/nothing"} {
		resp, page := c.get(p)
		pages[p] = page
		h := resp.Header
		if h.Get("Content-Security-Policy") != "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
			"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'" ||
			h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" ||
			!strings.HasPrefix(h.Get("Content-Type"), "text/html") {
			t.Errorf("%s: headers %v", p, h)
		}
	}
	_, tried := c.post("/console/try", url.Values{"csrf": {csrf}, "text": {"reviewme"}})
	pages["/console/try (a result)"] = tried
	for p, page := range pages {
		if m := inline.FindString(page); m != "" {
			t.Errorf("%s has inline script or style: %q", p, m)
		}
		for _, m := range scriptTag.FindAllStringSubmatch(page, -1) {
			if !strings.Contains(m[1], ` src="/console/static/`) || strings.TrimSpace(m[2]) != "" {
				t.Errorf("%s has an inline script: %q", p, m[0])
			}
		}
		if !strings.Contains(page, `<html lang="en">`) || !strings.Contains(page, `name="viewport"`) {
			t.Errorf("%s: no language or viewport", p)
		}
	}
}

func TestConsoleStaticFiles(t *testing.T) {
	t.Parallel()
	_, srv := newConsoleRig(t, "memory")
	c := newClient(t, srv.URL, nil)
	_, page := c.get("/console/login")
	for _, tc := range []struct{ name, ctype string }{{"console.css", "text/css"}, {"console.js", "text/javascript"},
		{"htmx.min.js", "text/javascript"}, {"icon.svg", "image/svg+xml"}} {
		m := regexp.MustCompile(`/console/static/` + regexp.QuoteMeta(tc.name) + `\?v=([0-9a-f]+)`).FindStringSubmatch(page)
		if m == nil {
			t.Errorf("the page does not load %s", tc.name)
			continue
		}
		resp, body := c.get(m[0])
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), tc.ctype) || len(body) == 0 ||
			resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d %v", tc.name, resp.StatusCode, resp.Header)
		}
		if resp, _ := c.get("/console/static/" + tc.name + "?v=old"); resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s under an old hash may be kept", tc.name)
		}
		if resp, _ := c.get(m[0], "If-None-Match", `"`+m[1]+`"`); resp.StatusCode != http.StatusNotModified {
			t.Errorf("%s: %d to a matching If-None-Match", tc.name, resp.StatusCode)
		}
	}
	if resp, _ := c.get("/console/static/nothing.js"); resp.StatusCode != 404 {
		t.Errorf("an unknown file: %d", resp.StatusCode)
	}
	if resp, _ := c.get("/console/static/..%2Fconsole.go"); resp.StatusCode != 404 {
		t.Errorf("a path out of the folder: %d", resp.StatusCode)
	}
}

// TestConsoleApprove: a moderator's approval through the console reaches
// the fake Stream once, as a commit, and shows in the item and the audit
// log; a second one is refused.
func TestConsoleApprove(t *testing.T) {
	forEachStore(t, func(t *testing.T, store string) {
		r, srv := newConsoleRig(t, store)
		r.pending("wh-1", "m1", "please reviewme now")
		c := newClient(t, srv.URL, nil)
		csrf := c.signIn(modToken)
		_, page := c.get("/console")
		if !strings.Contains(page, `<mark title="reviewme (rule review)">reviewme</mark>`) {
			t.Fatalf("the queue does not highlight the match:\n%s", page)
		}
		resp, _ := c.post("/console/items/m1/approve", decideForm(csrf, ""))
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console?decided=m1" {
			t.Fatalf("approve: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		if got := r.stream.got(); fmt.Sprint(got) != "[POST /messages/m1/commit]" {
			t.Fatalf("Stream got %v", got)
		}
		if m, _ := r.stream.message("m1"); m.pending {
			t.Fatal("the message is still pending at Stream")
		}
		_, page = c.get("/console?decided=m1")
		if !strings.Contains(page, "Done: approved by ann") {
			t.Fatalf("the page does not show the decision:\n%s", page)
		}
		resp, page = c.post("/console/items/m1/approve", decideForm(csrf, ""))
		if resp.StatusCode != 409 || !strings.Contains(page, "decided already") {
			t.Fatalf("approve again: %d\n%s", resp.StatusCode, page)
		}
		if n := r.stream.count("POST /messages/m1/commit"); n != 1 {
			t.Fatalf("%d commits", n)
		}
		if got := r.auditOf("m1"); fmt.Sprint(got) != "[held by modgate approved by ann]" {
			t.Fatalf("audit %v", got)
		}
	})
}

// TestConsoleDecisionsInPlace: what htmx gets back from a decision: the
// item's card as the decision left it, with the error and its status when
// there is one.
func TestConsoleDecisionsInPlace(t *testing.T) {
	t.Parallel()
	r, srv := newConsoleRig(t, "memory")
	c := newClient(t, srv.URL, nil)
	csrf := c.signIn(modToken)
	hx := []string{"HX-Request", "true"}
	for i := 1; i <= 4; i++ {
		r.pending(fmt.Sprint("wh-", i), fmt.Sprint("m", i), "reviewme")
	}
	state := regexp.MustCompile(`data-state="([a-z]+)"`)
	for _, tc := range []struct {
		name     string
		before   func()
		path     string
		reason   string
		status   int
		state    string
		says     string
		stream   string
		notAgain bool
	}{
		{"rejected with a reason", nil, "/console/items/m1/reject", "spam, again", 200, "done", "Done: rejected by ann — reason: spam, again",
			"DELETE /messages/m1", true},
		{"Stream down: tried again later", func() { r.stream.fail(slices.Repeat([]string{down503}, 5)...) }, "/console/items/m2/approve", "",
			200, "deciding", "try 1 failed", "POST /messages/m2/commit", false},
		{"Stream refuses for good", func() {
			r.stream.mu.Lock()
			delete(r.stream.msgs, "m3")
			r.stream.mu.Unlock()
		}, "/console/items/m3/approve", "", 502, "failed", "Failed: approve by ann did not reach Stream", "POST /messages/m3/commit", false},
		{"unknown", nil, "/console/items/nothing/approve", "", 404, "", "not found", "", false},
		{"past its deadline", func() {
			r.clock.add(73 * time.Hour)
			csrf = c.signIn(modToken)
		}, "/console/items/m4/approve", "", 410, "expired", "deadline passed", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before()
			}
			before := len(r.stream.got())
			resp, card := c.post(tc.path, decideForm(csrf, tc.reason), hx...)
			m := state.FindStringSubmatch(card)
			if resp.StatusCode != tc.status || (tc.state != "" && (m == nil || m[1] != tc.state)) || !strings.Contains(html.UnescapeString(card), tc.says) {
				t.Fatalf("%d %v\n%s", resp.StatusCode, m, card)
			}
			if tc.state != "" && strings.Contains(card, "<html") {
				t.Fatalf("a whole page for htmx:\n%s", card)
			}
			// Stream's client tries a call a few times before a try fails.
			calls := r.stream.got()[before:]
			if (len(calls) == 0) != (tc.stream == "") || slices.ContainsFunc(calls, func(c string) bool { return c != tc.stream }) {
				t.Fatalf("Stream got %v, want %s", calls, tc.stream)
			}
			if tc.notAgain && strings.Contains(card, "data-decide") {
				t.Fatalf("a done item can be decided again:\n%s", card)
			}
		})
	}
	// An error that is not about the item comes as text htmx must not swap in.
	resp, text := c.post("/console/items/m2/reject", decideForm(csrf, strings.Repeat("x", 501)), hx...)
	if resp.StatusCode != 400 || resp.Header.Get("HX-Reswap") != "none" || text != "reason: at most 500 bytes" {
		t.Fatalf("a reason too long: %d %v %q", resp.StatusCode, resp.Header, text)
	}

	// A deciding card asks to be read again, later when it waits for a retry.
	resp, card := c.get("/console/items/m2/card?return=%2Fconsole", hx...)
	if resp.StatusCode != 200 || !strings.Contains(card, `hx-trigger="load delay:5000ms"`) {
		t.Fatalf("the card of a deciding item: %d\n%s", resp.StatusCode, card)
	}
}

// TestConsoleRejectingAnUnconfirmedApproval: an approval that may have
// reached Stream is rejected only when the moderator ticks that the
// message may be visible.
func TestConsoleRejectingAnUnconfirmedApproval(t *testing.T) {
	t.Parallel()
	r, srv := newConsoleRig(t, "memory")
	r.pending("wh-1", "m1", "reviewme")
	c := newClient(t, srv.URL, nil)
	csrf := c.signIn(modToken)
	hx := []string{"HX-Request", "true"}
	r.stream.fail(apply500, down503, down503, down503, down503)
	resp, card := c.post("/console/items/m1/approve", decideForm(csrf, ""), hx...)
	if resp.StatusCode != 200 || !strings.Contains(card, `data-state="deciding"`) || !strings.Contains(card, `name="force"`) {
		t.Fatalf("an unconfirmed approval: %d\n%s", resp.StatusCode, card)
	}
	resp, card = c.post("/console/items/m1/reject", decideForm(csrf, "changed my mind"), hx...)
	if resp.StatusCode != 409 || !strings.Contains(card, "reject with force") {
		t.Fatalf("a rejection without force: %d\n%s", resp.StatusCode, card)
	}
	form := decideForm(csrf, "changed my mind")
	form.Set("force", "1")
	resp, card = c.post("/console/items/m1/reject", form, hx...)
	if resp.StatusCode != 200 || !strings.Contains(card, `data-state="done"`) || r.stream.count("DELETE /messages/m1") != 1 {
		t.Fatalf("a forced rejection: %d %v\n%s", resp.StatusCode, r.stream.got(), card)
	}
}

// TestConsoleBulkDecisions: a selection decided at once.
func TestConsoleBulkDecisions(t *testing.T) {
	t.Parallel()
	r, srv := newConsoleRig(t, "memory")
	for i := 1; i <= 3; i++ {
		r.pending(fmt.Sprint("wh-", i), fmt.Sprint("m", i), "reviewme")
	}
	c := newClient(t, srv.URL, nil)
	csrf := c.signIn(modToken)
	form := func(decision string, ids ...string) url.Values {
		return url.Values{"csrf": {csrf}, "decision": {decision}, "id": ids, "reason": {"flood"}, "return": {"/console?rule=review"}}
	}
	resp, answer := c.post("/console/decide", form("approve", "m1", "m2", "m1"), "HX-Request", "true")
	if resp.StatusCode != 200 || strings.Count(answer, `hx-swap-oob="outerHTML"`) != 3 || !strings.Contains(answer, "Approved 2.") {
		t.Fatalf("bulk approve: %d\n%s", resp.StatusCode, answer)
	}
	if r.stream.count("POST /messages/m1/commit") != 1 || r.stream.count("POST /messages/m2/commit") != 1 {
		t.Fatalf("Stream got %v", r.stream.got())
	}
	resp, _ = c.post("/console/decide", form("reject", "m3", "m1"))
	if resp.StatusCode != 400 {
		t.Fatalf("a selection with an item decided already: %d", resp.StatusCode)
	}
	if r.stream.count("DELETE /messages/m3") != 1 || r.stream.count("DELETE /messages/m1") != 0 {
		t.Fatalf("Stream got %v", r.stream.got())
	}
	for _, tc := range []struct {
		name string
		form url.Values
	}{
		{"nothing selected", form("approve")},
		{"no decision", form("maybe", "m1")},
		{"too many", form("approve", strings.Split(strings.Repeat("x,", 101), ",")[:101]...)},
	} {
		if resp, page := c.post("/console/decide", tc.form); resp.StatusCode != 400 {
			t.Errorf("%s: %d\n%s", tc.name, resp.StatusCode, page)
		}
	}
	if resp, _ := c.post("/console/decide", url.Values{"decision": {"approve"}, "id": {"m9"}}); resp.StatusCode != 403 {
		t.Fatalf("without the CSRF token: %d", resp.StatusCode)
	}
}

// TestConsoleReadRole: a read token sees everything and decides nothing.
func TestConsoleReadRole(t *testing.T) {
	t.Parallel()
	r, srv := newConsoleRig(t, "memory")
	r.pending("wh-1", "m1", "please reviewme")
	c := newClient(t, srv.URL, nil)
	csrf := c.signIn(readToken)
	for _, p := range []string{"/console", "/console/items/m1", "/console/sender?user=u1"} {
		resp, page := c.get(p)
		if resp.StatusCode != 200 || !strings.Contains(page, "<mark") || strings.Contains(page, "data-decide") ||
			strings.Contains(page, `form="bulk"`) || strings.Contains(page, `id="bulk"`) || strings.Contains(page, "/approve") {
			t.Fatalf("%s for a reader: %d\n%s", p, resp.StatusCode, page)
		}
	}
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/console/items/m1/approve", decideForm(csrf, "")},
		{"/console/items/m1/reject", decideForm(csrf, "no")},
		{"/console/decide", url.Values{"csrf": {csrf}, "decision": {"approve"}, "id": {"m1"}}},
	} {
		resp, page := c.post(tc.path, tc.form)
		if resp.StatusCode != 403 || !strings.Contains(page, "may only read") {
			t.Fatalf("%s by a reader: %d\n%s", tc.path, resp.StatusCode, page)
		}
	}
	if resp, _ := c.post("/console/try", url.Values{"csrf": {csrf}, "text": {"reviewme"}}); resp.StatusCode != 200 {
		t.Fatalf("a reader tries a message: %d", resp.StatusCode)
	}
	if r.item("m1").State != moderation.HeldWaiting || len(r.stream.got()) != 0 {
		t.Fatalf("a reader changed something: %v", r.stream.got())
	}
}

// TestConsoleCSRF: a state-changing request without the session's token,
// or from another site, is refused and changes nothing.
func TestConsoleCSRF(t *testing.T) {
	t.Parallel()
	r, srv := newConsoleRig(t, "memory")
	r.pending("wh-1", "m1", "reviewme")
	c := newClient(t, srv.URL, nil)
	csrf := c.signIn(modToken)
	other := newClient(t, srv.URL, nil)
	otherCSRF := other.signIn(modToken)
	for _, tc := range []struct {
		name   string
		form   url.Values
		header []string
	}{
		{"no token", url.Values{}, nil},
		{"an empty token", url.Values{"csrf": {""}}, nil},
		{"a wrong token", url.Values{"csrf": {"AAAAAAAAAAAAAAAAAAAAAAAA"}}, nil},
		{"another session's token", url.Values{"csrf": {otherCSRF}}, nil},
		{"the token, from another site", url.Values{"csrf": {csrf}}, []string{"Sec-Fetch-Site", "cross-site"}},
		{"the token, from another origin", url.Values{"csrf": {csrf}}, []string{"Origin", "https://evil.example"}},
		{"the token, in the query string", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := "/console/items/m1/approve"
			if tc.form == nil {
				path += "?csrf=" + url.QueryEscape(csrf)
				tc.form = url.Values{}
			}
			resp, page := c.post(path, tc.form, tc.header...)
			if resp.StatusCode != 403 {
				t.Fatalf("%d\n%s", resp.StatusCode, page)
			}
		})
	}
	if r.item("m1").State != moderation.HeldWaiting || len(r.stream.got()) != 0 {
		t.Fatalf("a refused request changed something: %v", r.stream.got())
	}
	// The header htmx could send serves as well as the field.
	resp, _ := c.post("/console/items/m1/approve", url.Values{}, "X-CSRF-Token", csrf, "HX-Request", "true", "Sec-Fetch-Site", "same-origin",
		"Origin", srv.URL)
	if resp.StatusCode != 200 || r.stream.count("POST /messages/m1/commit") != 1 {
		t.Fatalf("with the token in a header: %d %v", resp.StatusCode, r.stream.got())
	}
}

// TestConsoleEscapesWhatSendersWrite: a message, a sender id or a channel
// is shown as text, never as markup.
func TestConsoleEscapesWhatSendersWrite(t *testing.T) {
	t.Parallel()
	r, srv := newConsoleRig(t, "memory")
	r.stream.put("m1", storedMessage{pending: true})
	body := `{"message":{"id":"m1","text":"reviewme <script>alert(1)</script><img src=x onerror=alert(2)>","cid":"messaging:\"><b>x</b>",` +
		`"user":{"id":"\"><script>alert(3)</script>"}}}`
	req := signed([]byte(body), testKey, testSecret)
	req.URL.Path = "/hooks/pending/PassOnPendingMessage"
	if rec := r.do(req); rec.Code != 200 {
		t.Fatalf("pending: %d %s", rec.Code, rec.Body)
	}
	c := newClient(t, srv.URL, nil)
	c.signIn(modToken)
	for _, p := range []string{"/console", "/console/items/m1", "/console/audit", "/console/sender?user=%22%3E%3Cscript%3Ealert%283%29%3C%2Fscript%3E"} {
		_, page := c.get(p)
		for _, bad := range []string{"<script>alert", "<img src=x", "<b>x</b>", `"><script`} {
			if strings.Contains(page, bad) {
				t.Errorf("%s shows %q as markup", p, bad)
			}
		}
		if !strings.Contains(page, "alert") {
			t.Errorf("%s does not show the text at all", p)
		}
	}
}

// TestConsoleLiveUpdates: the queue page's script reads the messages held
// since the newest it shows, and the count.
func TestConsoleLiveUpdates(t *testing.T) {
	t.Parallel()
	r, srv := newConsoleRig(t, "memory")
	c := newClient(t, srv.URL, nil)
	c.signIn(readToken)
	_, page := c.get("/console")
	m := regexp.MustCompile(`data-fresh="([^"]+)" data-since="(\d+)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("the queue page does not say where new messages are read:\n%s", page)
	}
	fresh := html.UnescapeString(m[1]) + "&since=" + m[2]
	r.pending("wh-1", "m1", "reviewme one")
	r.pending("wh-2", "m2", "reviewme two")
	resp, cards := c.get(fresh, "X-Requested-With", "modgate-console")
	if resp.StatusCode != 200 || resp.Header.Get("X-Modgate-Open") != "2" || resp.Header.Get("X-Modgate-Since") == "" ||
		strings.Count(cards, "<article") != 2 || strings.Index(cards, "</mark> two") > strings.Index(cards, "</mark> one") {
		t.Fatalf("fresh: %d %v\n%s", resp.StatusCode, resp.Header, cards[:min(len(cards), 3000)])
	}
	if strings.Contains(cards, "<html") {
		t.Fatal("a whole page for the script")
	}
	_, filtered := c.get("/console/fresh?rule=bad&since="+m[2], "X-Requested-With", "modgate-console")
	if strings.Contains(filtered, "<article") {
		t.Fatalf("the filter is not kept:\n%s", filtered)
	}
	if resp, _ := c.get("/console/fresh?since=yesterday"); resp.StatusCode != 400 {
		t.Fatalf("a bad since: %d", resp.StatusCode)
	}
	// Past the first page, nothing is added live.
	_, page = c.get("/console?cursor=" + url.QueryEscape("MTIzOmFi"))
	if strings.Contains(page, "data-fresh") {
		t.Fatal("a later page takes new messages")
	}
}

// TestConsoleQueuePage: newest first, filters, paging.
func TestConsoleQueuePage(t *testing.T) {
	t.Parallel()
	r, srv := newConsoleRig(t, "memory")
	c := newClient(t, srv.URL, nil)
	c.signIn(readToken)
	for i := range 30 {
		r.pending(fmt.Sprint("wh-", i), fmt.Sprintf("m%02d", i), fmt.Sprintf("reviewme number %02d", i))
	}
	order := regexp.MustCompile(`reviewme</mark> number (\d\d)`)
	numbers := func(page string) string {
		var out []string
		for _, m := range order.FindAllStringSubmatch(page, -1) {
			out = append(out, m[1])
		}
		return strings.Join(out, " ")
	}
	_, page := c.get("/console")
	first := numbers(page)
	if !strings.HasPrefix(first, "29 28 27") || len(strings.Fields(first)) != 25 {
		t.Fatalf("first page: %s", first)
	}
	next := regexp.MustCompile(`href="(/console\?cursor=[^"]+)" rel="next"`).FindStringSubmatch(page)
	if next == nil || !strings.Contains(page, `<span data-open-count>30</span> open`) {
		t.Fatalf("no next page or count:\n%s", page)
	}
	_, page = c.get(html.UnescapeString(next[1]))
	if got := numbers(page); got != "04 03 02 01 00" || !strings.Contains(page, "Newest messages") {
		t.Fatalf("second page: %s", got)
	}
	for _, tc := range []struct {
		query  string
		status int
		want   string
	}{
		{"?user=u1&channel=messaging:general&rule=review&age=1h", 200, first},
		{"?user=nobody", 200, ""},
		{"?rule=bad", 200, ""},
		{"?age=older-1h", 200, ""},
		{"?age=forever", 400, ""},
		{"?cursor=!!", 400, ""},
	} {
		resp, page := c.get("/console" + tc.query)
		if resp.StatusCode != tc.status || (tc.status == 200 && numbers(page) != tc.want) {
			t.Errorf("%s: %d %s", tc.query, resp.StatusCode, numbers(page))
		}
	}
}

func TestConsoleSenderAndAudit(t *testing.T) {
	t.Parallel()
	r, srv := newConsoleRig(t, "memory")
	r.pending("wh-1", "m1", "reviewme first")
	r.pending("wh-2", "m2", "reviewme second")
	c := newClient(t, srv.URL, nil)
	csrf := c.signIn(modToken)
	c.post("/console/items/m1/reject", decideForm(csrf, "not here"))
	_, page := c.get("/console/sender?user=u1")
	if !strings.Contains(page, "reviewme</mark> second") || strings.Contains(page, "reviewme</mark> first") ||
		!strings.Contains(page, "not here") || !strings.Contains(page, ">rejected<") {
		t.Fatalf("the sender's page:\n%s", page)
	}
	for _, tc := range []struct {
		query string
		rows  int
	}{
		{"", 3},
		{"?actor=ann", 1},
		{"?action=held", 2},
		{"?action=rejected&user=u1&channel=messaging:general&since=1h", 1},
		{"?user=nobody", 0},
	} {
		_, page := c.get("/console/audit" + tc.query)
		if n := strings.Count(page, "<tr class=\"audit-"); n != tc.rows {
			t.Errorf("audit%s: %d rows, want %d", tc.query, n, tc.rows)
		}
	}
	if resp, _ := c.get("/console/audit?since=forever"); resp.StatusCode != 400 {
		t.Errorf("a bad since: %d", resp.StatusCode)
	}
	if resp, _ := c.get("/console/sender"); resp.StatusCode != 400 {
		t.Errorf("no sender: %d", resp.StatusCode)
	}
}

// TestConsoleRulesAndTry: the rules page shows the counts /metrics shows;
// trying a message explains it and changes nothing.
func TestConsoleRulesAndTry(t *testing.T) {
	t.Parallel()
	r, srv := newConsoleRig(t, "memory")
	r.pending("wh-1", "m1", "reviewme")
	r.pending("wh-2", "m2", "reviewme")
	r.pending("wh-3", "m3", "badword")
	c := newClient(t, srv.URL, nil)
	csrf := c.signIn(readToken)
	_, page := c.get("/console/rules")
	for _, want := range []string{`<tr id="rule-review">`, "hold: 2", "reject: 1", r.cfg.Engine.Rules().Version} {
		if !strings.Contains(page, want) {
			t.Fatalf("the rules page lacks %q:\n%s", want, page)
		}
	}
	metrics := r.metrics()
	for _, want := range []string{`modgate_rule_decisions_total{action="hold",rule="review"} 2`, `modgate_rule_decisions_total{action="reject",rule="bad"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Fatalf("/metrics lacks %q", want)
		}
	}
	open := len(r.items(""))
	resp, page := c.post("/console/try", url.Values{"csrf": {csrf}, "text": {"Please R3VIEWME now"}, "role": {"user"},
		"account_age": {"2h"}, "channel": {"messaging:general"}, "hook": {"pending"}})
	if resp.StatusCode != 200 || !strings.Contains(page, "Held for a moderator by rule review") ||
		!strings.Contains(page, `<mark title="reviewme (rule review)">R3VIEWME</mark>`) || !strings.Contains(page, "leetspeak") ||
		!strings.Contains(page, "not reached: an earlier rule ended the check") {
		t.Fatalf("try: %d\n%s", resp.StatusCode, page)
	}
	if len(r.items("")) != open || r.metrics() != metrics && !sameDecisions(r.metrics(), metrics) {
		t.Fatal("trying a message changed the queue or the counts")
	}
	// A rule that fired and is no longer in force keeps its counts, apart.
	next, err := rules.Parse("rules.yaml", []byte(strings.Replace(reviewRules, "  - id: bad\n", "  - id: worse\n", 1)), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.cfg.Engine.Swap(next)
	_, page = c.get("/console/rules")
	if !strings.Contains(page, "Rules no longer in force") || !strings.Contains(page, "<code>bad</code>: reject: 1") ||
		!strings.Contains(page, `<tr id="rule-worse">`) {
		t.Fatalf("the rules page after a change:\n%s", page)
	}
	for _, tc := range []struct{ name, field, value string }{
		{"no text", "text", ""},
		{"a bad account age", "account_age", "old"},
		{"a bad channel", "channel", "general"},
	} {
		form := url.Values{"csrf": {csrf}, "text": {"hello"}}
		form.Set(tc.field, tc.value)
		if resp, _ := c.post("/console/try", form); resp.StatusCode != 400 {
			t.Errorf("%s: %d", tc.name, resp.StatusCode)
		}
	}
}

// sameDecisions compares the rule decision counts of two scrapes.
func sameDecisions(a, b string) bool {
	pick := func(s string) string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, "modgate_rule_decisions_total{") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
	return pick(a) == pick(b)
}

func TestConsoleOffAndWithoutAQueue(t *testing.T) {
	t.Parallel()
	r := newRig(t, "memory", 0)
	if rec := r.do(httptest.NewRequest("GET", "/console", nil)); rec.Code != 404 {
		t.Fatalf("no console configured: %d", rec.Code)
	}
	_, srv := newConsoleRig(t, "memory", func(c *hook.Config) { c.Reviews = nil })
	c := newClient(t, srv.URL, nil)
	c.signIn(modToken)
	resp, page := c.get("/console")
	if resp.StatusCode != 503 || !strings.Contains(page, "keeps no review queue") || !strings.Contains(page, "no_queue") {
		t.Fatalf("without a queue: %d\n%s", resp.StatusCode, page)
	}
	if resp, _ := c.get("/console/rules"); resp.StatusCode != 200 {
		t.Fatalf("the rules page without a queue: %d", resp.StatusCode)
	}
	notokens := newRig(t, "memory", 0, withConsole(), func(c *hook.Config) { c.AdminTokens = nil })
	rec := httptest.NewRecorder()
	notokens.server.ServeHTTP(rec, httptest.NewRequest("GET", "/console/login", nil))
	if !strings.Contains(rec.Body.String(), "nobody can sign in") {
		t.Fatalf("the sign-in page without tokens:\n%s", rec.Body)
	}
}

// TestConsoleClientHangsUp: a moderator whose browser goes away while
// Stream is slow still gets the decision made, once.
func TestConsoleClientHangsUp(t *testing.T) {
	t.Parallel()
	r, srv := newConsoleRig(t, "memory")
	r.pending("wh-1", "m1", "reviewme")
	c := newClient(t, srv.URL, nil)
	csrf := c.signIn(modToken)
	r.stream.fail(hang)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/console/items/m1/approve", strings.NewReader(decideForm(csrf, "").Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	done := make(chan error, 1)
	go func() {
		resp, err := c.http.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	<-r.stream.entered
	cancel()
	<-done
	close(r.stream.release)
	r.reviews.Wait()
	if h := r.item("m1"); h.State != moderation.HeldDone || r.stream.count("POST /messages/m1/commit") != 1 {
		t.Fatalf("%s after the moderator left: %v", h.State, r.stream.got())
	}
}

// TestConsoleShowsARefusedRulesFile: the rules page says when the last
// change to the rules file was refused, and why.
func TestConsoleShowsARefusedRulesFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(reviewRules), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err := rules.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	engine := moderation.NewEngine(set, moderation.EngineOptions{})
	file := moderation.NewRulesFile(path, engine, nil)
	_, srv := newConsoleRig(t, "memory", func(c *hook.Config) { c.Engine, c.Rules = engine, file })
	c := newClient(t, srv.URL, nil)
	c.signIn(readToken)
	if _, page := c.get("/console/rules"); strings.Contains(page, "was refused") || !strings.Contains(page, path) {
		t.Fatalf("a good file:\n%s", page)
	}
	if err := os.WriteFile(path, []byte("version: 1\nrules:\n  - id: x\n    action: explode\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := file.Reload(); err == nil {
		t.Fatal("a broken file was accepted")
	}
	_, page := c.get("/console/rules")
	if !strings.Contains(page, `role="alert"`) || !strings.Contains(page, "was refused") || !strings.Contains(page, "explode") ||
		!strings.Contains(page, "1 refused") {
		t.Fatalf("a refused file:\n%s", page)
	}
}
