package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"
)

// baselineCommand is the argument with which the tool starts itself as the
// baseline server.
const baselineCommand = "baseline-server"

// baseline is the floor modgate is measured against: an Echo server that
// reads the body, decodes it with encoding/json and writes the message
// back, as a naive hook would.
func baseline(ctx context.Context, addr string, stderr io.Writer) int {
	if addr == "" {
		addr = "127.0.0.1:8090"
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.POST("/hooks/before-message-send", func(c echo.Context) error {
		body, err := io.ReadAll(c.Request().Body)
		if err != nil {
			return c.NoContent(http.StatusBadRequest)
		}
		var p struct {
			Message map[string]any `json:"message"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return c.NoContent(http.StatusBadRequest)
		}
		return c.JSON(http.StatusOK, map[string]any{"message": p.Message})
	})
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	srv := &http.Server{Addr: addr, Handler: e}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(stderr, "baseline:", err)
		return 1
	}
	return 0
}
