package hook

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/modgate/modgate/moderation"
)

// Admin roles: read sees, moderator also acts.
const (
	RoleRead      = "read"
	RoleModerator = "moderator"
)

// AdminToken is one bearer token of the admin API. Name is who the audit
// log records.
type AdminToken struct {
	Name string
	Role string
	hash [sha256.Size]byte
}

// ParseAdminTokens reads MODGATE_ADMIN_TOKENS: `name:role:token,...`.
func ParseAdminTokens(s string) ([]AdminToken, error) {
	var out []AdminToken
	var errs []error
	names := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.SplitN(item, ":", 3)
		if len(parts) != 3 || parts[0] == "" || parts[2] == "" {
			errs = append(errs, fmt.Errorf("%q is not name:role:token", redactToken(item)))
			continue
		}
		name, role, token := parts[0], parts[1], parts[2]
		if role != RoleRead && role != RoleModerator {
			errs = append(errs, fmt.Errorf("%s: role %q is not read or moderator", name, role))
			continue
		}
		if len(token) < 16 {
			errs = append(errs, fmt.Errorf("%s: a token must be at least 16 characters", name))
			continue
		}
		if names[name] {
			errs = append(errs, fmt.Errorf("%s: the name is used twice", name))
			continue
		}
		names[name] = true
		out = append(out, AdminToken{Name: name, Role: role, hash: sha256.Sum256([]byte(token))})
	}
	return out, errors.Join(errs...)
}

func redactToken(item string) string {
	if i := strings.LastIndexByte(item, ':'); i >= 0 {
		return item[:i+1] + "…"
	}
	return "…"
}

// contextAdmin is where the authenticated token's name and role are kept.
const contextAdmin = "modgate.admin"

// requireRole admits requests with a bearer token of role (a moderator
// token also reads). Tokens in the query string are refused: they end up
// in logs and browser histories.
func (s *Server) requireRole(role string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			q := c.Request().URL.Query()
			for _, k := range []string{"token", "access_token", "auth", "bearer"} {
				if q.Has(k) {
					return tokenInQuery.err("send the token in the Authorization header, never in the URL")
				}
			}
			h := c.Request().Header.Get("Authorization")
			token, ok := strings.CutPrefix(h, "Bearer ")
			if !ok || token == "" {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="modgate"`)
				return unauthorized.err("an admin bearer token is required")
			}
			t := s.adminToken(token)
			if t == nil {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="modgate", error="invalid_token"`)
				return unauthorized.err("the token is not valid")
			}
			if role == RoleModerator && t.Role != RoleModerator {
				return forbidden.err("this token may only read")
			}
			c.Set(contextAdmin, t)
			return next(c)
		}
	}
}

// adminToken finds the token, comparing against every configured one in
// constant time.
func (s *Server) adminToken(token string) *AdminToken {
	sum := sha256.Sum256([]byte(token))
	var found *AdminToken
	for i := range s.cfg.AdminTokens {
		t := &s.cfg.AdminTokens[i]
		if subtle.ConstantTimeCompare(sum[:], t.hash[:]) == 1 {
			found = t
		}
	}
	return found
}

func admin(c echo.Context) *AdminToken {
	t, _ := c.Get(contextAdmin).(*AdminToken)
	return t
}

// rulesStatusBody is GET /admin/rules.
type rulesStatusBody struct {
	moderation.ReloadStatus
	Files []string `json:"files"`
}

func (s *Server) getRules(c echo.Context) error {
	set := s.cfg.Engine.Rules()
	body := rulesStatusBody{Files: set.Files}
	if s.cfg.Rules != nil {
		body.ReloadStatus = s.cfg.Rules.Status()
	} else {
		body.Version, body.Rules = set.Version, len(set.Rules)
	}
	return c.JSON(http.StatusOK, body)
}

func (s *Server) reloadRules(c echo.Context) error {
	if s.cfg.Rules == nil {
		return noRulesFile.err("these rules were not loaded from a file")
	}
	err := s.cfg.Rules.ReloadBy(admin(c).Name, "admin API")
	st := s.cfg.Rules.Status()
	s.log.Info("rules reload requested", "admin", admin(c).Name, "rules_version", st.Version, "ok", err == nil || errors.Is(err, moderation.ErrUnchanged))
	switch {
	case errors.Is(err, moderation.ErrUnchanged):
		return c.JSON(http.StatusOK, map[string]any{"result": "unchanged", "status": st})
	case err != nil:
		// The error answer, with the status of the rules still in force.
		return c.JSON(rulesRefused.status, map[string]any{
			"error":  errorDetail{rulesRefused.code, err.Error()},
			"status": st,
		})
	}
	return c.JSON(http.StatusOK, map[string]any{"result": "reloaded", "status": st})
}
