package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof" // served only on MODGATE_DEBUG_ADDR
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/modgate/modgate/hook"
	"github.com/modgate/modgate/hook/stream"
	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
	"github.com/modgate/modgate/storage"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `modgate: a moderation hook for Stream Chat

usage:
  modgate serve [-addr :8080] [-rules rules.yaml]   run the hooks (the default)
  modgate check [rules.yaml]                        validate a rules file
  modgate test [rules.yaml] "message"               explain what the rules do with a message
  modgate test [rules.yaml] --jsonl FILE            the same for one JSON message a line
  modgate queue list|show|approve|reject ...        the review queue, through the admin API
  modgate version                                   print the version

Configuration is read from the environment; see README.md.
`

// run is the whole program; main only supplies the process's context,
// arguments, environment and streams, so tests can call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stderr)
	case "check":
		return check(args, getenv, stdout, stderr)
	case "test":
		return dryRun(args, getenv, os.Stdin, stdout, stderr)
	case "queue":
		return queueCmd(args, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "modgate", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "modgate: unknown command %q\n\n%s", cmd, usage)
	return 2
}

// config is the service configuration read from the environment.
type config struct {
	addr      string
	rulesPath string
	keys      map[string]string
	insecure  bool
	maxBody   int64
	deadline  time.Duration
	pendingDL time.Duration
	replayTTL time.Duration
	logLevel  slog.Level
	logJSON   bool
	admin     []hook.AdminToken
	rulesPoll time.Duration

	debugAddr      string
	streamBase     string
	holdTTL        time.Duration
	pendingTimeout time.Duration
	queueMax       int
	decisionLease  time.Duration
	redisPipeline  bool
	redisURL       string
	redisPrefix    string
	redisTimeout   time.Duration
	drain          time.Duration
	console        consoleEnv
}

// stateCheckEvery is how often shared state is checked for /readyz: a
// failing server shows there within this and the check's timeout (as long
// again, at most a second).
const stateCheckEvery = time.Second

func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		addr:      envOr(getenv, "MODGATE_ADDR", ":8080"),
		rulesPath: envOr(getenv, "MODGATE_RULES", "rules.yaml"),
		keys:      map[string]string{},
		logJSON:   envOr(getenv, "MODGATE_LOG_FORMAT", "json") != "text",
	}
	var errs []error
	if secret := getenv("STREAM_API_SECRET"); secret != "" {
		c.keys[getenv("STREAM_API_KEY")] = secret
	}
	if list := getenv("MODGATE_STREAM_KEYS"); list != "" {
		for _, pair := range strings.Split(list, ",") {
			key, secret, ok := strings.Cut(strings.TrimSpace(pair), ":")
			if !ok || key == "" || secret == "" {
				errs = append(errs, fmt.Errorf("MODGATE_STREAM_KEYS: %q is not key:secret", redact(pair)))
				continue
			}
			c.keys[key] = secret
		}
	}
	switch v := getenv("MODGATE_INSECURE_SKIP_SIGNATURE"); v {
	case "", "0", "false":
	case "1", "true":
		c.insecure = true
	default:
		errs = append(errs, fmt.Errorf("MODGATE_INSECURE_SKIP_SIGNATURE: %q is not 1 or 0", v))
	}
	var err error
	if c.maxBody, err = parseBytes(envOr(getenv, "MODGATE_MAX_BODY", "1MiB")); err != nil {
		errs = append(errs, fmt.Errorf("MODGATE_MAX_BODY: %w", err))
	}
	if c.deadline, err = parseDuration(envOr(getenv, "MODGATE_DEADLINE", "300ms")); err != nil {
		errs = append(errs, fmt.Errorf("MODGATE_DEADLINE: %w", err))
	}
	if c.pendingDL, err = parseDuration(envOr(getenv, "MODGATE_PENDING_DEADLINE", "5s")); err != nil {
		errs = append(errs, fmt.Errorf("MODGATE_PENDING_DEADLINE: %w", err))
	}
	if c.replayTTL, err = parseDuration(envOr(getenv, "MODGATE_REPLAY_TTL", "10m")); err != nil {
		errs = append(errs, fmt.Errorf("MODGATE_REPLAY_TTL: %w", err))
	}
	if c.admin, err = hook.ParseAdminTokens(getenv("MODGATE_ADMIN_TOKENS")); err != nil {
		errs = append(errs, fmt.Errorf("MODGATE_ADMIN_TOKENS: %w", err))
	}
	c.redisURL = getenv("REDIS_URL")
	c.debugAddr = getenv("MODGATE_DEBUG_ADDR")
	c.streamBase = envOr(getenv, "STREAM_BASE_URL", stream.DefaultBaseURL)
	if c.pendingTimeout, err = parseDuration(envOr(getenv, "MODGATE_PENDING_TIMEOUT", "72h")); err != nil {
		errs = append(errs, fmt.Errorf("MODGATE_PENDING_TIMEOUT: %w", err))
	}
	if c.holdTTL, err = parseDuration(envOr(getenv, "MODGATE_HOLD_TTL", "72h")); err != nil {
		errs = append(errs, fmt.Errorf("MODGATE_HOLD_TTL: %w", err))
	}
	if c.queueMax, err = strconv.Atoi(envOr(getenv, "MODGATE_QUEUE_MAX", "100000")); err != nil || c.queueMax < 1 {
		errs = append(errs, fmt.Errorf("MODGATE_QUEUE_MAX: %q is not a whole number of 1 or more", getenv("MODGATE_QUEUE_MAX")))
	}
	if c.decisionLease, err = parseDuration(envOr(getenv, "MODGATE_DECISION_LEASE", "1m")); err != nil {
		errs = append(errs, fmt.Errorf("MODGATE_DECISION_LEASE: %w", err))
	} else if c.decisionLease < 10*time.Second {
		errs = append(errs, fmt.Errorf("MODGATE_DECISION_LEASE: %s is shorter than 10s, too short for a call to Stream and its retries", c.decisionLease))
	}
	c.redisPipeline = envOr(getenv, "MODGATE_REDIS_AUTOPIPELINE", "1") != "0"
	c.redisPrefix = envOr(getenv, "MODGATE_REDIS_PREFIX", "modgate")
	if strings.ContainsAny(c.redisPrefix, "{}") {
		errs = append(errs, fmt.Errorf("MODGATE_REDIS_PREFIX: %q: braces are not allowed (modgate sets the Redis Cluster hash tags itself)", c.redisPrefix))
	}
	// A call to Redis waits until the message's deadline: by default no
	// shorter bound, so a slow answer that still arrives in time is used.
	c.redisTimeout = c.deadline
	if v := getenv("MODGATE_REDIS_TIMEOUT"); v != "" {
		if c.redisTimeout, err = parseDuration(v); err != nil {
			errs = append(errs, fmt.Errorf("MODGATE_REDIS_TIMEOUT: %w", err))
		}
	}
	if v := envOr(getenv, "MODGATE_DRAIN", "5s"); v != "0" {
		if c.drain, err = parseDuration(v); err != nil {
			errs = append(errs, fmt.Errorf("MODGATE_DRAIN: %w", err))
		}
	}
	if c.rulesPoll, err = parseDuration(envOr(getenv, "MODGATE_RULES_POLL", "1s")); err != nil {
		errs = append(errs, fmt.Errorf("MODGATE_RULES_POLL: %w", err))
	}
	if c.console, err = loadConsole(getenv); err != nil {
		errs = append(errs, err)
	}
	if err := c.logLevel.UnmarshalText([]byte(envOr(getenv, "MODGATE_LOG_LEVEL", "info"))); err != nil {
		errs = append(errs, fmt.Errorf("MODGATE_LOG_LEVEL: %w", err))
	}
	return c, errors.Join(errs...)
}

// publisher builds what carries moderators' decisions to Stream: a REST
// client with the first configured key that has a name. Without one,
// decisions fail with a clear error and the held messages stay queued.
func (c config) publisher() (moderation.Publisher, *stream.Approvals, error) {
	keys := make([]string, 0, len(c.keys))
	for k := range c.keys {
		if k != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) == 0 {
		return noPublisher{}, stream.NewApprovals(c.keys[""] + "modgate"), nil
	}
	approvals := stream.NewApprovals(c.keys[keys[0]])
	client, err := stream.NewClient(keys[0], c.keys[keys[0]], stream.ClientOptions{BaseURL: c.streamBase})
	if err != nil {
		return nil, nil, err
	}
	return &stream.Publisher{Client: client, Approvals: approvals}, approvals, nil
}

// noPublisher refuses decisions when no Stream API key is configured.
type noPublisher struct{}

var errNoStreamKey = fmt.Errorf("no Stream API key configured (STREAM_API_KEY): decisions cannot reach Stream: %w", moderation.ErrUnavailable)

func (noPublisher) Patch(context.Context, *moderation.Held) error { return errNoStreamKey }
func (noPublisher) Commit(context.Context, string) error          { return errNoStreamKey }
func (noPublisher) Delete(context.Context, string) error          { return errNoStreamKey }
func (noPublisher) Send(context.Context, *moderation.Held) error  { return errNoStreamKey }

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

func redact(pair string) string {
	if key, _, ok := strings.Cut(pair, ":"); ok {
		return key + ":…"
	}
	if len(pair) > 4 {
		return pair[:4] + "…"
	}
	return pair
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 300ms or 2s", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q must be positive", s)
	}
	return d, nil
}

// parseBytes reads a size: a number of bytes, or with a KiB, MiB or GiB suffix.
func parseBytes(s string) (int64, error) {
	mult := int64(1)
	num := s
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1000}, {"MB", 1000_000}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			mult, num = u.mult, strings.TrimSpace(strings.TrimSuffix(s, u.suffix))
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<40)/mult {
		return 0, fmt.Errorf("%q is not a size such as 1048576 or 1MiB", s)
	}
	return n * mult, nil
}

func newLogger(c config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.logLevel}
	if c.logJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	c, cfgErr := loadConfig(getenv)
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.addr, "addr", c.addr, "address to listen on (MODGATE_ADDR)")
	fs.StringVar(&c.rulesPath, "rules", c.rulesPath, "rules file (MODGATE_RULES)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := newLogger(c, stderr)
	if cfgErr != nil {
		log.Error("configuration is invalid", "err", cfgErr)
		return 2
	}
	var keys *stream.Keys
	switch {
	case len(c.keys) > 0:
		keys = stream.NewKeys(c.keys)
	case c.insecure:
		log.Warn("SIGNATURE CHECKING IS OFF: anyone who can reach modgate can call its hooks; use this only for local development")
	default:
		log.Error("no Stream API secret configured: set STREAM_API_KEY and STREAM_API_SECRET (or MODGATE_STREAM_KEYS=key:secret,...); for local development only, MODGATE_INSECURE_SKIP_SIGNATURE=1")
		return 2
	}
	set, err := rules.Load(c.rulesPath)
	if err != nil {
		log.Error("rules refused", "file", c.rulesPath, "err", err)
		return 1
	}
	log.Info("rules loaded", "file", c.rulesPath, "rules", len(set.Rules), "rules_version", set.Version)
	for _, w := range set.Warnings {
		log.Warn("rules warning", "file", c.rulesPath, "warning", w.Error())
	}

	var state moderation.State
	var shared hook.SharedState
	var queue moderation.Queue = storage.NewMemoryQueue(c.queueMax)
	var audit moderation.AuditLog = storage.NewMemoryAudit(0)
	stateName := "memory"
	if c.redisURL != "" {
		// go-redis's own messages go to this log, as JSON like the rest.
		// Its logger is global to the process: it is set here, once.
		redis.SetLogger(storage.NewRedisLog(log))
		r, err := storage.OpenRedis(c.redisURL, storage.RedisOptions{Prefix: c.redisPrefix, Timeout: c.redisTimeout, AutoPipeline: c.redisPipeline})
		if err != nil {
			log.Error("REDIS_URL is invalid", "err", err)
			return 2
		}
		defer r.Close()
		pingCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := r.Check(pingCtx); err != nil {
			// Start anyway: limits follow their on_error until Redis answers.
			log.Warn("redis does not answer yet; limit rules follow their on_error until it does", "err", err)
		}
		cancel()
		state, shared, stateName = r, r, r.String()
		queue, audit = r.Queue(c.queueMax), r.Audit(0)
	} else {
		state = storage.NewMemory(storage.MemoryOptions{})
	}
	engine := moderation.NewEngine(set, moderation.EngineOptions{State: state, ReplayTTL: c.replayTTL})
	publisher, approvals, err := c.publisher()
	if err != nil {
		log.Error("stream client", "err", err)
		return 2
	}
	reviews := &moderation.Reviews{Queue: queue, Publisher: publisher, Audit: audit, Log: log, Lease: c.decisionLease}
	rulesFile := moderation.NewRulesFile(c.rulesPath, engine, log)
	rulesFile.Audit = audit
	server := hook.New(hook.Config{
		Keys:            keys,
		Engine:          engine,
		Logger:          log,
		MaxBody:         c.maxBody,
		Deadline:        c.deadline,
		PendingDeadline: c.pendingDL,
		SharedState:     shared,
		Rules:           rulesFile,
		AdminTokens:     c.admin,
		Reviews:         reviews,
		HoldTTL:         c.holdTTL,
		PendingTimeout:  c.pendingTimeout,
		Approvals:       approvals,
		Console:         c.console.config(state),
	})
	// Decisions the rules made for pending messages that a previous run did
	// not carry out, or that Stream refused for a while: now, then regularly.
	defer reviews.Wait()
	go reviews.Run(ctx, 0, func(n int, err error) {
		if n > 0 || err != nil {
			log.Info("carried out queued decisions", "count", n, "err", err)
		}
	})
	if len(c.admin) == 0 {
		log.Info("no MODGATE_ADMIN_TOKENS: the admin API refuses every call")
	}

	// Reload on SIGHUP and whenever the rules file or its lists change.
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go rulesFile.Watch(watchCtx, c.rulesPoll)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-watchCtx.Done():
				return
			case <-hup:
				log.Info("SIGHUP: reloading the rules")
				_ = rulesFile.ReloadBy("modgate", "SIGHUP")
			}
		}
	}()

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		log.Error("cannot listen", "addr", c.addr, "err", err)
		return 1
	}
	// Stream gives up on a call after 5 s at most, so a request that takes
	// longer to arrive is of no use. The same value for headers and the whole
	// request sets one read deadline per request instead of two.
	srv := &http.Server{
		Handler:           server,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       5 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if c.debugAddr != "" {
		// Profiles on their own listener, never on the public one.
		dbg := &http.Server{Addr: c.debugAddr, Handler: http.DefaultServeMux, ReadHeaderTimeout: 5 * time.Second}
		go dbg.ListenAndServe()
		defer dbg.Close()
		log.Info("debug listener (pprof)", "addr", c.debugAddr)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	go server.WatchState(ctx, stateCheckEvery)
	log.Info("listening", "addr", ln.Addr().String(), "state", stateName)

	select {
	case err := <-served:
		log.Error("server stopped", "err", err)
		return 1
	case <-ctx.Done():
	}
	// Readiness turns 503 at once, so load balancers stop sending; requests
	// that still come during the drain are answered as usual.
	server.Drain()
	if c.drain > 0 {
		log.Info("draining: /readyz answers 503, requests are still answered", "drain", c.drain.String())
		select {
		case err := <-served:
			log.Error("server stopped", "err", err)
			return 1
		case <-time.After(c.drain):
		}
	}
	log.Info("shutting down: finishing requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Error("shutdown did not finish", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// check is `modgate check`: it loads a rules file as serve would, runs its
// inline tests, and prints every problem and warning as file:line:column.
// Warnings (costly patterns) do not make it fail.
func check(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	path := envOr(getenv, "MODGATE_RULES", "rules.yaml")
	if len(args) > 0 {
		path = args[0]
	}
	set, err := rules.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		var fe *rules.FileError
		if errors.As(err, &fe) {
			for _, w := range fe.Warnings {
				fmt.Fprintln(stderr, w.Error())
			}
		}
		return 1
	}
	for _, w := range set.Warnings {
		fmt.Fprintln(stderr, w.Error())
	}
	fmt.Fprintf(stdout, "%s: ok: %d rules, version %s", path, len(set.Rules), set.Version)
	switch n := len(set.Warnings); {
	case n == 1:
		fmt.Fprint(stdout, ", 1 warning")
	case n > 1:
		fmt.Fprintf(stdout, ", %d warnings", n)
	}
	fmt.Fprintln(stdout)
	return 0
}
