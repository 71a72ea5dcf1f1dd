package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestServeConsole: `modgate serve` mounts the console unless told not
// to; a session made on one process works on another with the same
// secret; behind a trusted proxy that says https the cookie is Secure.
func TestServeConsole(t *testing.T) {
	t.Parallel()
	env := func(extra ...string) map[string]string {
		m := map[string]string{"MODGATE_RULES": shippedRules(t), "STREAM_API_SECRET": "secret",
			"MODGATE_ADMIN_TOKENS": "ann:moderator:mod-token-0123456789", "MODGATE_CONSOLE_SECRET": strings.Repeat("k", 32)}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i]] = extra[i+1]
		}
		return m
	}
	noRedirects := func(jar http.CookieJar) *http.Client {
		return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	get := func(c *http.Client, u string, header ...string) (*http.Response, string) {
		req, _ := http.NewRequest("GET", u, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	a := start(t, env("MODGATE_TRUST_PROXY", "1"))
	defer a.stop(t)
	b := start(t, env("MODGATE_TRUST_PROXY", "1"))
	defer b.stop(t)
	off := start(t, env("MODGATE_CONSOLE", "0"))
	defer off.stop(t)

	jar, _ := cookiejar.New(nil)
	c := noRedirects(jar)
	if resp, _ := get(c, "http://"+a.addr+"/console"); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/login" {
		t.Fatalf("GET /console without a session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := get(c, "http://"+off.addr+"/console/login"); resp.StatusCode != 404 {
		t.Fatalf("MODGATE_CONSOLE=0: %d", resp.StatusCode)
	}

	// Sign in on a, as through a proxy that terminates TLS.
	resp, page := get(c, "http://"+a.addr+"/console/login", "X-Forwarded-Proto", "https")
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("the sign-in page: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("POST", "http://"+a.addr+"/console/login",
		strings.NewReader(url.Values{"csrf": {m[1]}, "token": {"mod-token-0123456789"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-Proto", "https")
	for _, ck := range resp.Cookies() {
		req.AddCookie(ck) // the jar keeps Secure cookies for https only
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "__Host-modgate_console" {
			session = ck
		}
	}
	if resp.StatusCode != http.StatusSeeOther || session == nil || !session.Secure || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode {
		t.Fatalf("sign-in behind a proxy: %d %v", resp.StatusCode, resp.Header["Set-Cookie"])
	}

	// The same session, on the other process.
	resp, page = get(noRedirects(nil), "http://"+b.addr+"/console", "Cookie", "__Host-modgate_console="+session.Value,
		"X-Forwarded-Proto", "https")
	if resp.StatusCode != 200 || !strings.Contains(page, "Held messages") {
		t.Fatalf("the session on another process: %d", resp.StatusCode)
	}
}
