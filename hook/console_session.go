package hook

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/modgate/modgate/moderation"
)

// Console sessions. Signing in with an admin token sets a cookie that
// holds the session, signed with HMAC-SHA256: any process with the same
// secret accepts it, and no process keeps sessions. The cookie names the
// token it was made with by a fingerprint, so a token removed from
// MODGATE_ADMIN_TOKENS ends its sessions, and a role changed there applies
// at once. A session ends SessionIdle after its last use and SessionMax
// after its sign-in, whichever comes first.
//
// Signing out removes the cookie from the browser and refuses the session
// on this process from then on. A copy of the cookie taken before (only
// someone with the moderator's browser can: it is HttpOnly, and Secure over
// TLS) is still accepted by other processes until it expires: that is the
// price of keeping no shared session state, and why sessions idle out.
//
// Every form that changes something carries a CSRF token made from the
// session (the sign-in form, one made from a cookie of its own), and a
// request that a browser says comes from another site is refused.

// consoleKeys sign sessions and CSRF tokens; each is derived from the
// secret for its one use.
type consoleKeys struct {
	session, csrf, login, token []byte
}

func deriveConsoleKeys(secret []byte, tokens []AdminToken) consoleKeys {
	if len(secret) == 0 {
		// Every process configured with the same tokens derives the same key.
		h := sha256.New()
		sorted := slices.Clone(tokens)
		slices.SortFunc(sorted, func(a, b AdminToken) int { return strings.Compare(a.Name, b.Name) })
		for _, t := range sorted {
			fmt.Fprintf(h, "%s\x00%s\x00%x\x00", t.Name, t.Role, t.hash)
		}
		secret = h.Sum(nil)
	}
	root := mac(secret, []byte("modgate console v1"))
	return consoleKeys{session: mac(root, []byte("session")), csrf: mac(root, []byte("csrf")), login: mac(root, []byte("sign-in")),
		token: mac(root, []byte("token"))}
}

func mac(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// session is what the cookie holds.
type session struct {
	ID     string `json:"id"`  // random: what sign-out revokes, and what CSRF tokens are made from
	Name   string `json:"n"`   // the admin token's name
	Token  string `json:"t"`   // the token's fingerprint
	Issued int64  `json:"iat"` // sign-in, unix seconds
	Seen   int64  `json:"seen"`
}

// signedIn is the moderator of a request: the token as configured now,
// and the session.
type signedIn struct {
	AdminToken
	session session
}

const contextConsole = "modgate.console"

func consoleWho(c echo.Context) *signedIn {
	w, _ := c.Get(contextConsole).(*signedIn)
	return w
}

// fingerprint names a token in a cookie without revealing anything of it.
func (k *console) fingerprint(t *AdminToken) string {
	return base64.RawURLEncoding.EncodeToString(mac(k.keys.token, t.hash[:])[:12])
}

func (k *console) seal(s session) string {
	body, _ := json.Marshal(s)
	payload := base64.RawURLEncoding.EncodeToString(body)
	return payload + "." + base64.RawURLEncoding.EncodeToString(mac(k.keys.session, []byte(payload)))
}

// open checks a cookie's signature and reads its session; expiry and the
// token are the caller's to check.
func (k *console) open(cookie string) (session, bool) {
	payload, sig, ok := strings.Cut(cookie, ".")
	if !ok {
		return session{}, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, mac(k.keys.session, []byte(payload))) {
		return session{}, false
	}
	body, err := base64.RawURLEncoding.DecodeString(payload)
	var s session
	if err != nil || json.Unmarshal(body, &s) != nil || s.ID == "" {
		return session{}, false
	}
	return s, true
}

// csrfToken is the CSRF token of a session's forms.
func (k *console) csrfToken(sessionID string) string {
	return base64.RawURLEncoding.EncodeToString(mac(k.keys.csrf, []byte(sessionID))[:18])
}

// loginToken is the CSRF token of a sign-in form, made from its cookie.
func (k *console) loginToken(nonce string) string {
	return base64.RawURLEncoding.EncodeToString(mac(k.keys.login, []byte(nonce))[:18])
}

func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// secure reports whether the browser reached modgate over TLS: directly,
// or through a trusted proxy that says so.
func (s *Server) secure(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if !s.console.cfg.TrustProxy {
		return false
	}
	proto := r.Header.Get("X-Forwarded-Proto")
	if i := strings.LastIndexByte(proto, ','); i >= 0 {
		proto = proto[i+1:]
	}
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

// Cookie names. Over TLS the __Host- prefix makes browsers refuse the
// cookie unless it is Secure, for the whole host and set by it: a
// neighbouring subdomain cannot plant one.
func cookieName(secure bool, name string) string {
	if secure {
		return "__Host-" + name
	}
	return name
}

const (
	sessionCookie = "modgate_console"
	loginCookie   = "modgate_console_signin"
)

func (s *Server) setCookie(c echo.Context, name, value string, maxAge time.Duration) {
	secure := s.secure(c.Request())
	ck := &http.Cookie{Name: cookieName(secure, name), Value: value, Path: "/", HttpOnly: true, Secure: secure,
		SameSite: http.SameSiteStrictMode, MaxAge: int(maxAge / time.Second)}
	if maxAge < 0 {
		ck.MaxAge = -1
	} else {
		ck.Expires = time.Now().Add(maxAge) // for browsers that read only Expires
	}
	c.SetCookie(ck)
}

func (s *Server) cookie(c echo.Context, name string) string {
	ck, err := c.Cookie(cookieName(s.secure(c.Request()), name))
	if err != nil {
		return ""
	}
	return ck.Value
}

// consoleSession admits requests with a valid session and renews its idle
// time (at most once a minute); others are sent to the sign-in page.
func (s *Server) consoleSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		who, renew := s.sessionOf(c)
		if who == nil {
			if v := s.cookie(c, sessionCookie); v != "" {
				s.setCookie(c, sessionCookie, "", -1)
			}
			if isScript(c) || c.Request().Method != http.MethodGet {
				c.Response().Header().Set("HX-Redirect", "/console/login")
				return unauthorized.err("your session has ended: sign in again")
			}
			to := "/console/login"
			if p := c.Request().URL.RequestURI(); p != "/console" && p != "/console/" {
				to += "?next=" + url.QueryEscape(p)
			}
			return c.Redirect(http.StatusSeeOther, to)
		}
		if renew {
			who.session.Seen = s.consoleNow().Unix()
			s.setCookie(c, sessionCookie, s.console.seal(who.session), s.console.cfg.SessionIdle)
		}
		c.Set(contextConsole, who)
		return next(c)
	}
}

// sessionOf reads the request's session: nil when there is none, or it is
// forged, expired, signed out, or its token is no longer configured.
func (s *Server) sessionOf(c echo.Context) (who *signedIn, renew bool) {
	v := s.cookie(c, sessionCookie)
	if v == "" {
		return nil, false
	}
	k := s.console
	ss, ok := k.open(v)
	if !ok {
		return nil, false
	}
	now := s.consoleNow()
	issued, seen := time.Unix(ss.Issued, 0), time.Unix(ss.Seen, 0)
	if !now.Before(issued.Add(k.cfg.SessionMax)) || !now.Before(seen.Add(k.cfg.SessionIdle)) || k.revoked.has(ss.ID, now) {
		return nil, false
	}
	for i := range s.cfg.AdminTokens {
		t := &s.cfg.AdminTokens[i]
		if t.Name == ss.Name && sameToken(k.fingerprint(t), ss.Token) {
			return &signedIn{AdminToken: *t, session: ss}, now.Sub(seen) >= time.Minute
		}
	}
	return nil, false
}

// consoleCSRF refuses a state-changing request without the session's CSRF
// token, or that the browser says comes from another site.
func (s *Server) consoleCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			return next(c)
		}
		if err := crossSite(r); err != nil {
			return err
		}
		who := consoleWho(c)
		r.Body = http.MaxBytesReader(c.Response(), r.Body, consoleMaxForm)
		token := r.Header.Get("X-CSRF-Token")
		if token == "" {
			token = formValue(c, "csrf")
		}
		if !sameToken(token, s.console.csrfToken(who.session.ID)) {
			return forbidden.err("this form is out of date or did not come from the console (no valid CSRF token): reload the page and try again")
		}
		return next(c)
	}
}

// consoleMaxForm bounds a console form.
const consoleMaxForm = 256 << 10

// crossSite refuses a request that the browser says another site made:
// Sec-Fetch-Site, or else Origin. Browsers that send neither rely on the
// CSRF token alone.
func crossSite(r *http.Request) error {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin":
	default:
		return forbidden.err("the console accepts forms only from its own pages")
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			return forbidden.err("the console accepts forms only from its own pages")
		}
	}
	return nil
}

// consoleRequireModerator refuses a decision to a read-only token.
func (s *Server) consoleRequireModerator(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if consoleWho(c).Role != RoleModerator {
			return forbidden.err("your token may only read: it cannot decide")
		}
		return next(c)
	}
}

// loginPage is the data of the sign-in page.
type loginPage struct {
	Next       string
	Token      string // the form's CSRF token
	Error      string
	SignedOut  bool
	NoTokens   bool
	RetryAfter string
}

func (s *Server) consoleLoginPage(c echo.Context) error {
	if who, _ := s.sessionOf(c); who != nil {
		return c.Redirect(http.StatusSeeOther, localPath(c.QueryParam("next")))
	}
	return s.renderLogin(c, http.StatusOK, loginPage{SignedOut: c.QueryParam("signed_out") == "1"})
}

// renderLogin shows the sign-in form with a fresh cookie for its CSRF token.
func (s *Server) renderLogin(c echo.Context, status int, p loginPage) error {
	nonce := randomID()
	s.setCookie(c, loginCookie, nonce, time.Hour)
	p.Token = s.console.loginToken(nonce)
	if p.Next == "" {
		p.Next = c.QueryParam("next")
	}
	p.Next = localPath(p.Next)
	p.NoTokens = len(s.cfg.AdminTokens) == 0
	return s.render(c, status, "login", view{Title: "Sign in", Page: p})
}

// consoleLogin signs in with an admin token.
func (s *Server) consoleLogin(c echo.Context) error {
	r := c.Request()
	if err := crossSite(r); err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(c.Response(), r.Body, consoleMaxForm)
	p := loginPage{Next: formValue(c, "next")}
	if !sameToken(formValue(c, "csrf"), s.console.loginToken(s.cookie(c, loginCookie))) {
		p.Error = "The sign-in form had expired. Please enter your token again."
		return s.renderLogin(c, http.StatusForbidden, p)
	}
	addr := s.clientAddr(r)
	now := s.consoleNow()
	if ok, wait := s.console.signIns.allow(r.Context(), addr, now); !ok {
		c.Response().Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(wait.Seconds()))))
		s.log.Warn("console sign-in refused: too many attempts", "client", addr)
		p.Error = "Too many sign-in attempts from your address. Try again in " + roughly(wait) + "."
		return s.renderLogin(c, http.StatusTooManyRequests, p)
	}
	t := s.adminToken(strings.TrimSpace(formValue(c, "token")))
	if t == nil {
		s.log.Warn("console sign-in refused: not a valid token", "client", addr)
		p.Error = "That token is not valid."
		return s.renderLogin(c, http.StatusUnauthorized, p)
	}
	ss := session{ID: randomID(), Name: t.Name, Token: s.console.fingerprint(t), Issued: now.Unix(), Seen: now.Unix()}
	s.setCookie(c, sessionCookie, s.console.seal(ss), s.console.cfg.SessionIdle)
	s.setCookie(c, loginCookie, "", -1)
	s.log.Info("console sign-in", "admin", t.Name, "role", t.Role, "client", addr)
	return c.Redirect(http.StatusSeeOther, localPath(p.Next))
}

// consoleLogout signs out: the cookie goes, and this process refuses the
// session from now on.
func (s *Server) consoleLogout(c echo.Context) error {
	who := consoleWho(c)
	s.console.revoked.add(who.session.ID, time.Unix(who.session.Issued, 0).Add(s.console.cfg.SessionMax), s.consoleNow())
	s.setCookie(c, sessionCookie, "", -1)
	s.log.Info("console sign-out", "admin", who.Name)
	return c.Redirect(http.StatusSeeOther, "/console/login?signed_out=1")
}

// clientAddr is the address sign-in attempts are counted by: the peer's,
// or, behind a trusted proxy, the last address it appended to
// X-Forwarded-For. IPv6 addresses count by their /64: one subscriber
// usually has them all.
func (s *Server) clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if s.console.cfg.TrustProxy {
		if v := r.Header.Values("X-Forwarded-For"); len(v) > 0 {
			last := v[len(v)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if last = strings.TrimSpace(last); last != "" {
				host = last
			}
		}
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// Sign-in attempts allowed per client address.
const (
	signInAttempts = 10
	signInWindow   = 10 * time.Minute
)

// signInLimit counts sign-in attempts per client address: in the shared
// counters when there are (with Redis, every process counts together), in
// this process otherwise, and when the shared ones fail.
type signInLimit struct {
	shared moderation.Counter
	mu     sync.Mutex
	local  map[string]*attempts
}

type attempts struct {
	since time.Time
	n     int
}

func newSignInLimit(shared moderation.Counter) *signInLimit {
	return &signInLimit{shared: shared, local: map[string]*attempts{}}
}

// allow counts an attempt from addr and reports whether it may go on, or
// how long until it may.
func (l *signInLimit) allow(ctx context.Context, addr string, now time.Time) (bool, time.Duration) {
	if l.shared != nil {
		hits := []moderation.Hit{{Key: "console-sign-in:" + addr, Group: addr, Limit: signInAttempts, Window: signInWindow}}
		if _, err := l.shared.Count(ctx, moderation.Claim{}, nil, now, time.Time{}, hits); err == nil {
			return hits[0].Allowed, hits[0].RetryAfter
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.local) > 10_000 {
		for k, a := range l.local {
			if now.Sub(a.since) >= signInWindow {
				delete(l.local, k)
			}
		}
	}
	a := l.local[addr]
	if a == nil || now.Sub(a.since) >= signInWindow {
		a = &attempts{since: now}
		l.local[addr] = a
	}
	if a.n >= signInAttempts {
		return false, a.since.Add(signInWindow).Sub(now)
	}
	a.n++
	return true, 0
}

// revocations are the sessions signed out on this process, kept until
// they would have expired anyway.
type revocations struct {
	mu  sync.Mutex
	ids map[string]time.Time
}

func newRevocations() *revocations { return &revocations{ids: map[string]time.Time{}} }

func (r *revocations) add(id string, until, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, u := range r.ids {
		if !now.Before(u) {
			delete(r.ids, k)
		}
	}
	r.ids[id] = until
}

func (r *revocations) has(id string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	u, ok := r.ids[id]
	return ok && now.Before(u)
}

// roughly says a wait in words: "3 minutes", "40 seconds".
func roughly(d time.Duration) string {
	switch {
	case d >= 90*time.Second:
		return fmt.Sprintf("%d minutes", int(math.Ceil(d.Minutes())))
	case d > time.Second:
		return fmt.Sprintf("%d seconds", int(math.Ceil(d.Seconds())))
	}
	return "a moment"
}
