package hook

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/modgate/modgate/moderation"
)

// The moderators' console: pages under /console, rendered on the server
// with html/template, that show the review queue and why each message was
// held, let moderators decide, and show the audit log, the rules in force
// and what the rules make of a message. It reaches the queue only through
// moderation.Reviews, like the admin API, and answers errors from the same
// table (errors.go), as pages.
//
// The pages work without scripts; two small files enhance them: htmx
// (vendored, its licence beside it) decides in place and follows a
// decision until Stream confirms it, and console.js adds the keyboard
// shortcuts and the live arrival of new held messages. Nothing is loaded
// from elsewhere, and the Content-Security-Policy allows nothing else.
//
// Sessions are signed cookies (console_session.go): any process that has
// the same secret accepts them, so several processes behind one address
// need no shared session store.

//go:embed console/templates/*.html
var consoleTemplates embed.FS

//go:embed console/static
var consoleStatic embed.FS

// Defaults of ConsoleConfig.
const (
	DefaultSessionIdle = 30 * time.Minute
	DefaultSessionMax  = 12 * time.Hour
	DefaultPollEvery   = 5 * time.Second
)

// ConsoleConfig configures the console at /console. Who may sign in, and
// with which role, is Config.AdminTokens.
type ConsoleConfig struct {
	// Secret signs session cookies and CSRF tokens: every process behind
	// one address needs the same. Empty: a key derived from the admin
	// tokens (changing any token then signs everyone out).
	Secret []byte
	// TrustProxy says that modgate is reached only through a proxy that
	// sets X-Forwarded-Proto (https makes the cookie Secure) and appends
	// the client's address to X-Forwarded-For (sign-in attempts are
	// limited per address). Without it both headers are ignored: anyone
	// could send them.
	TrustProxy bool
	// SignIns counts sign-in attempts per client address. With Redis every
	// process shares the count. nil: each process counts its own.
	SignIns moderation.Counter
	// SessionIdle ends a session unused that long; SessionMax ends any
	// session that long after its sign-in.
	SessionIdle time.Duration
	SessionMax  time.Duration
	// PollEvery is how often an open queue page looks for new held messages.
	PollEvery time.Duration
	// Now is the clock; nil: the review queue's, or time.Now.
	Now func() time.Time
}

// console is the console's state: its keys, pages and assets.
type console struct {
	cfg     ConsoleConfig
	keys    consoleKeys
	pages   map[string]*template.Template
	assets  map[string]asset
	signIns *signInLimit
	revoked *revocations
}

// asset is a static file: its bytes, type and a hash of its content that
// its URL carries, so that browsers may keep it until it changes.
type asset struct {
	body  []byte
	ctype string
	hash  string
}

// consolePages are the page templates; each is parsed with the layout and
// the partials.
var consolePages = []string{"login", "queue", "item", "sender", "audit", "rules", "try", "error"}

func newConsole(cfg ConsoleConfig, tokens []AdminToken) *console {
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = DefaultSessionIdle
	}
	if cfg.SessionMax <= 0 {
		cfg.SessionMax = DefaultSessionMax
	}
	if cfg.PollEvery <= 0 {
		cfg.PollEvery = DefaultPollEvery
	}
	k := &console{cfg: cfg, keys: deriveConsoleKeys(cfg.Secret, tokens), pages: map[string]*template.Template{},
		assets: map[string]asset{}, signIns: newSignInLimit(cfg.SignIns), revoked: newRevocations()}
	err := fs.WalkDir(consoleStatic, "console/static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := consoleStatic.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		k.assets[path.Base(p)] = asset{body: body, ctype: ctype, hash: hex.EncodeToString(sum[:6])}
		return nil
	})
	if err != nil {
		panic("console: reading the embedded static files: " + err.Error()) // a build defect, caught by every test
	}
	funcs := template.FuncMap{"asset": k.assetURL}
	for _, name := range consolePages {
		k.pages[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(consoleTemplates,
			"console/templates/layout.html", "console/templates/partials.html", "console/templates/"+name+".html"))
	}
	return k
}

// assetURL is the address of a static file, with its hash.
func (k *console) assetURL(name string) string {
	a, ok := k.assets[name]
	if !ok {
		panic("console: no static file " + name)
	}
	return "/console/static/" + name + "?v=" + a.hash
}

// mountConsole adds the console's routes.
func (s *Server) mountConsole(e *echo.Echo) {
	g := e.Group("/console", s.consoleHeaders)
	g.GET("/static/:name", s.consoleAsset)
	g.GET("/login", s.consoleLoginPage)
	g.POST("/login", s.consoleLogin)

	in := g.Group("", s.consoleSession, s.consoleCSRF)
	in.GET("", s.consoleQueue)
	in.GET("/", s.consoleQueue)
	in.GET("/fresh", s.consoleFresh)
	in.GET("/items/:id", s.consoleItem)
	in.GET("/items/:id/card", s.consoleCard)
	in.GET("/sender", s.consoleSender)
	in.GET("/audit", s.consoleAudit)
	in.GET("/rules", s.consoleRules)
	in.GET("/try", s.consoleTryPage)
	in.POST("/try", s.consoleTry)
	in.POST("/logout", s.consoleLogout)
	in.POST("/items/:id/approve", s.consoleDecide(moderation.Approve), s.consoleRequireModerator)
	in.POST("/items/:id/reject", s.consoleDecide(moderation.Reject), s.consoleRequireModerator)
	in.POST("/decide", s.consoleDecideMany, s.consoleRequireModerator)
	in.POST("/sender/lift", s.consoleLift, s.consoleRequireModerator)
}

// consoleCSP allows the console's own files and nothing else: no inline
// script or style, no frames, forms that post only to modgate.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// consoleHeaders sets the headers of every console answer.
func (s *Server) consoleHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", consoleCSP)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Cache-Control", "no-store") // pages show messages and tokens' names; assets say otherwise
		return next(c)
	}
}

// consoleAsset serves a static file: kept a year by browsers when its URL
// carries its current hash.
func (s *Server) consoleAsset(c echo.Context) error {
	a, ok := s.console.assets[c.Param("name")]
	if !ok {
		return notFound.err("no such file")
	}
	h := c.Response().Header()
	if c.QueryParam("v") == a.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	h.Set("ETag", `"`+a.hash+`"`)
	if c.Request().Header.Get("If-None-Match") == `"`+a.hash+`"` {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, a.ctype, a.body)
}

// view is what every page shows: who is signed in, the CSRF token of
// their forms, the count of open items.
type view struct {
	Title     string
	Nav       string // the section: queue, audit, rules, try
	Who       *AdminToken
	CanDecide bool
	CSRF      string
	Open      int  // open items in the queue
	OpenKnown bool // false when the queue could not be counted
	PollMS    int64
	Page      any // the page's own data
}

// render writes page with status; the page is built whole before anything
// is sent, so a template failure is a clean error page.
func (s *Server) render(c echo.Context, status int, page string, v view) error {
	if who := consoleWho(c); who != nil {
		v.Who, v.CanDecide, v.CSRF = &who.AdminToken, who.Role == RoleModerator, s.console.csrfToken(who.session.ID)
		if s.cfg.Reviews != nil {
			n, err := s.cfg.Reviews.Queue.Len(c.Request().Context())
			v.Open, v.OpenKnown = n, err == nil
		}
	}
	v.PollMS = s.console.cfg.PollEvery.Milliseconds()
	var b bytes.Buffer
	if err := s.console.pages[page].ExecuteTemplate(&b, "layout", v); err != nil {
		return err
	}
	return c.HTMLBlob(status, b.Bytes())
}

// renderPart writes a named partial template alone: the answer to a
// request of the page's scripts.
func (s *Server) renderPart(c echo.Context, status int, name string, data any) error {
	var b bytes.Buffer
	if err := s.console.pages["queue"].ExecuteTemplate(&b, name, data); err != nil {
		return err
	}
	return c.HTMLBlob(status, b.Bytes())
}

// errorPage is the data of the error page.
type errorPage struct {
	Status  int
	Code    string
	Message string
	Back    string
}

// consoleError answers an error of a console request as a page (or, to a
// script, as a short text), with the status and code of its class.
func (s *Server) consoleError(c echo.Context, cl class, msg string) {
	if isScript(c) {
		// Not a card: htmx must not swap it in; the page's script shows it.
		c.Response().Header().Set("HX-Reswap", "none")
		_ = c.String(cl.status, msg)
		return
	}
	back := "/console"
	if consoleWho(c) == nil {
		back = "/console/login"
	}
	err := s.render(c, cl.status, "error", view{Title: http.StatusText(cl.status), Page: errorPage{Status: cl.status, Code: cl.code,
		Message: msg, Back: back}})
	if err != nil {
		s.log.Error("rendering the console's error page failed", "err", err)
		_ = c.String(cl.status, msg)
	}
}

// isScript reports whether the request comes from the page's scripts
// (htmx, or console.js) rather than from the browser itself.
func isScript(c echo.Context) bool {
	h := c.Request().Header
	return h.Get("HX-Request") == "true" || h.Get("X-Requested-With") == "modgate-console"
}

// isConsole reports whether a request is the console's.
func isConsole(r *http.Request) bool {
	return r.URL.Path == "/console" || strings.HasPrefix(r.URL.Path, "/console/")
}

// pathID reads the id in a console URL. Echo unescapes a path parameter
// unless the path has escapes it keeps raw (an escaped slash).
func pathID(c echo.Context) string {
	id := c.Param("id")
	if c.Request().URL.RawPath != "" {
		if u, err := url.PathUnescape(id); err == nil {
			return u
		}
	}
	return id
}

// localPath returns p when it is a path of the console, else /console: a
// redirect never leaves modgate.
func localPath(p string) string {
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || strings.ContainsAny(p, "\\\r\n") ||
		strings.HasPrefix(p, "//") {
		return "/console"
	}
	clean := path.Clean(u.Path)
	if clean != "/console" && !strings.HasPrefix(clean, "/console/") {
		return "/console"
	}
	if clean != u.Path {
		u.Path, u.RawPath = clean, ""
	}
	return u.RequestURI()
}

// formValue reads a field of a posted form: never the query string, where
// a CSRF token or a reason would end up in logs.
func formValue(c echo.Context, name string) string {
	return c.Request().PostFormValue(name)
}

// consoleNow is the console's clock.
func (s *Server) consoleNow() time.Time {
	switch {
	case s.console.cfg.Now != nil:
		return s.console.cfg.Now()
	case s.cfg.Reviews != nil && s.cfg.Reviews.Now != nil:
		return s.cfg.Reviews.Now()
	}
	return time.Now()
}
