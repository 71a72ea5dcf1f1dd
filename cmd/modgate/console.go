package main

import (
	"errors"
	"fmt"

	"github.com/modgate/modgate/hook"
	"github.com/modgate/modgate/moderation"
)

// consoleEnv is the moderators' console's configuration, from the
// environment: MODGATE_CONSOLE (on unless 0), MODGATE_CONSOLE_SECRET and
// MODGATE_TRUST_PROXY.
type consoleEnv struct {
	off        bool
	secret     []byte
	trustProxy bool
}

func loadConsole(getenv func(string) string) (consoleEnv, error) {
	var e consoleEnv
	var errs []error
	switch v := setting(getenv, "MODGATE_CONSOLE"); v {
	case "1", "true":
	case "0", "false":
		e.off = true
	default:
		errs = append(errs, fmt.Errorf("MODGATE_CONSOLE: %q is not 1 or 0", v))
	}
	if s := setting(getenv, "MODGATE_CONSOLE_SECRET"); s != "" {
		if len(s) < 32 {
			errs = append(errs, errors.New("MODGATE_CONSOLE_SECRET: at least 32 characters, random (openssl rand -hex 32)"))
		}
		e.secret = []byte(s)
	}
	switch v := setting(getenv, "MODGATE_TRUST_PROXY"); v {
	case "0", "false":
	case "1", "true":
		e.trustProxy = true
	default:
		errs = append(errs, fmt.Errorf("MODGATE_TRUST_PROXY: %q is not 1 or 0", v))
	}
	return e, errors.Join(errs...)
}

// config is the console's, or nil when it is off. Sign-in attempts are
// counted in state: with Redis, by every process together.
func (e consoleEnv) config(state moderation.Counter) *hook.ConsoleConfig {
	if e.off {
		return nil
	}
	return &hook.ConsoleConfig{Secret: e.secret, TrustProxy: e.trustProxy, SignIns: state}
}
