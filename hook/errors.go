package hook

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/modgate/modgate/moderation"
)

// Every error answer modgate gives goes through answerError, which finds
// the status and the stable code of the error in the tables below: the
// errors of the HTTP face itself (a body too large, a bad signature...) and
// the domain errors of package moderation. A handler returns the error;
// Echo hands it to answerError. Anything in no table is a 500 with a
// generic body, logged once.

// class is a kind of error answer: its status and stable code.
type class struct {
	status int
	code   string
}

// fault is an error of the HTTP face: its class, and what went wrong in
// words for the caller.
type fault struct {
	class
	err error
}

func (f *fault) Error() string { return f.err.Error() }
func (f *fault) Unwrap() error { return f.err }

// The HTTP face's own errors.
var (
	tooLarge        = class{http.StatusRequestEntityTooLarge, "too_large"}
	badBody         = class{http.StatusBadRequest, "bad_body"}
	badSignature    = class{http.StatusUnauthorized, "bad_signature"}
	badPayload      = class{http.StatusBadRequest, "bad_payload"}
	badRequest      = class{http.StatusBadRequest, "invalid"}
	tokenInQuery    = class{http.StatusBadRequest, "token_in_query"}
	unauthorized    = class{http.StatusUnauthorized, "unauthorized"}
	forbidden       = class{http.StatusForbidden, "forbidden"}
	notFound        = class{http.StatusNotFound, "not_found"}
	notAllowed      = class{http.StatusMethodNotAllowed, "method_not_allowed"}
	noQueue         = class{http.StatusServiceUnavailable, "no_queue"}
	noRulesFile     = class{http.StatusServiceUnavailable, "no_rules_file"}
	rulesRefused    = class{http.StatusUnprocessableEntity, "rules_refused"}
	internalFailure = class{http.StatusInternalServerError, "internal"}
)

// err returns an error of class c that says msg.
func (c class) err(msg string) error { return &fault{c, errors.New(msg)} }

// wrap returns err as an error of class c.
func (c class) wrap(err error) error { return &fault{c, err} }

// domainClasses maps moderation's errors to HTTP, first match wins: an
// error that wraps two sentinels gets the first one's class.
var domainClasses = []struct {
	err error
	class
}{
	{moderation.ErrNotFound, notFound},
	{moderation.ErrUnconfirmed, class{http.StatusConflict, "unconfirmed_approval"}},
	{moderation.ErrFull, class{http.StatusServiceUnavailable, "queue_full"}},
	{moderation.ErrRefused, class{http.StatusBadGateway, "stream_refused"}},
	{moderation.ErrChanged, class{http.StatusConflict, "changed"}},
	{moderation.ErrConflict, class{http.StatusConflict, "already_decided"}},
	{moderation.ErrExpired, class{http.StatusGone, "expired"}},
	{moderation.ErrInvalid, badRequest},
	{moderation.ErrUnavailable, class{http.StatusServiceUnavailable, "unavailable"}},
}

// statusClasses names Echo's own errors (unknown route, wrong method, ...).
var statusClasses = map[int]class{
	http.StatusNotFound:              notFound,
	http.StatusMethodNotAllowed:      notAllowed,
	http.StatusRequestEntityTooLarge: tooLarge,
	http.StatusUnauthorized:          unauthorized,
}

// classOf finds err's class; false for an error in no table.
func classOf(err error) (class, bool) {
	var f *fault
	if errors.As(err, &f) {
		return f.class, true
	}
	for _, d := range domainClasses {
		if errors.Is(err, d.err) {
			return d.class, true
		}
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		if c, ok := statusClasses[he.Code]; ok {
			return c, true
		}
		return class{he.Code, "bad_request"}, true
	}
	return internalFailure, false
}

// errorBody is every error answer: a stable code and a sentence.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// answerError is Echo's error handler: it answers err in the JSON shape of
// every error, with the status and code of its class; the console's, as a
// page.
func (s *Server) answerError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	cl, known := classOf(err)
	msg := err.Error()
	var he *echo.HTTPError
	switch {
	case !known:
		s.log.Error("request failed", "path", c.Path(), "err", err)
		msg = "internal error"
	case errors.As(err, &he):
		msg = http.StatusText(he.Code)
	}
	if s.console != nil && isConsole(c.Request()) {
		s.consoleError(c, cl, msg)
		return
	}
	_ = c.JSON(cl.status, errorBody{errorDetail{cl.code, msg}})
}
