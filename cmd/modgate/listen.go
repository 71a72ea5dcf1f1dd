package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/netutil"

	"github.com/modgate/modgate/hook"
)

// shutdownTimeout bounds how long requests in flight may take to finish
// once the drain is over; a Kubernetes terminationGracePeriodSeconds must
// leave room for MODGATE_DRAIN and this.
const shutdownTimeout = 15 * time.Second

// adminMaxConns caps the connections of the admin address: moderators'
// browsers, scrapers and probes.
const adminMaxConns = 256

// defaultMaxConns is the cap on the hooks' connections when
// MODGATE_MAX_CONNS is unset: 10,000, or half the descriptors the process
// may open if that is lower, leaving the rest to Redis, the rules files,
// the admin address and the runtime.
func defaultMaxConns() int {
	n := 10000
	if limit := descriptorLimit(); limit > 0 && limit/2 < uint64(n) {
		n = max(int(limit/2), 1)
	}
	return n
}

// listener is one address serve listens on.
type listener struct {
	name   string // hooks, admin or debug, for the log
	server *http.Server
	ln     net.Listener
}

// capped limits ln to max connections open at once: past it, Accept waits
// until one closes, and new connections wait in the kernel's queue rather
// than taking a descriptor each. Reaching the cap is logged, at most once
// a minute.
func capped(ln net.Listener, maxConns int, name string, log *slog.Logger) net.Listener {
	return &cappedListener{Listener: netutil.LimitListener(ln, maxConns), max: int64(maxConns), name: name, log: log}
}

type cappedListener struct {
	net.Listener
	max    int64
	open   atomic.Int64
	warned atomic.Int64 // unix seconds of the last warning
	name   string
	log    *slog.Logger
}

func (l *cappedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if n := l.open.Add(1); n >= l.max {
		now, last := time.Now().Unix(), l.warned.Load()
		if now-last >= 60 && l.warned.CompareAndSwap(last, now) {
			l.log.Warn("connection cap reached: new connections wait until one closes", "listener", l.name,
				"max_conns", l.max)
		}
	}
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *cappedListener
	once sync.Once
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}

// httpServer is the server of one address. Stream gives up on a call
// after 5 s at most, so a request that takes longer to arrive is of no use.
// The same value for headers and the whole request sets one read deadline
// per request instead of two.
func httpServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       5 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// listen opens serve's addresses: the hooks' (everything's, without an
// admin address), the admin one, and the one for profiles. On an error
// the addresses already opened are closed.
func listen(c config, server *hook.Server, log *slog.Logger) ([]listener, error) {
	var out []listener
	open := func(name, addr string, maxConns int, h http.Handler) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("listening on %s (%s): %w", addr, name, err)
		}
		if maxConns > 0 {
			ln = capped(ln, maxConns, name, log)
		}
		out = append(out, listener{name: name, server: httpServer(h, log), ln: ln})
		return nil
	}
	maxConns := c.maxConns
	if maxConns == 0 {
		maxConns = defaultMaxConns()
	}
	var err error
	switch {
	case c.adminAddr == "":
		err = open("hooks", c.addr, maxConns, server)
	default:
		admin := server.Admin()
		if c.debugAddr == c.adminAddr {
			mux := http.NewServeMux()
			mux.Handle("/debug/pprof/", http.DefaultServeMux) // net/http/pprof's handlers
			mux.Handle("/", admin)
			admin = mux
		}
		err = open("hooks", c.addr, maxConns, server.Hooks())
		if err == nil {
			err = open("admin", c.adminAddr, adminMaxConns, admin)
		}
	}
	if err == nil && c.debugAddr != "" && c.debugAddr != c.adminAddr {
		// Profiles never on the hooks' address.
		err = open("debug", c.debugAddr, 0, http.DefaultServeMux)
	}
	if err != nil {
		for _, l := range out {
			l.ln.Close()
		}
		return nil, err
	}
	return out, nil
}

// serveAll serves every listener until one fails (its error is sent on
// the channel) or they are shut down.
func serveAll(ls []listener) <-chan error {
	failed := make(chan error, len(ls))
	for _, l := range ls {
		go func() {
			if err := l.server.Serve(l.ln); !errors.Is(err, http.ErrServerClosed) {
				failed <- fmt.Errorf("%s address: %w", l.name, err)
			}
		}()
	}
	return failed
}

// shutdownAll closes every listener and waits for the requests in flight,
// at most shutdownTimeout.
func shutdownAll(ls []listener) error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	errs := make([]error, len(ls))
	var wg sync.WaitGroup
	for i, l := range ls {
		wg.Go(func() { errs[i] = l.server.Shutdown(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}
