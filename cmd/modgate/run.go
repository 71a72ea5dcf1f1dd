package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
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

// config is the service configuration read from the environment.
type config struct {
	addr      string
	adminAddr string // "": the admin API shares addr
	maxConns  int    // on addr; 0: the default for the descriptor limit
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
	streamBaseSet  bool // STREAM_BASE_URL was given
	streamUser     string
	holdTTL        time.Duration
	reportTTL      time.Duration
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

// loadConfig reads the configuration; every default comes from the table
// of variables. All problems are reported at once.
func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		addr:      setting(getenv, "MODGATE_ADDR"),
		adminAddr: setting(getenv, "MODGATE_ADMIN_ADDR"),
		rulesPath: setting(getenv, "MODGATE_RULES"),
		logJSON:   setting(getenv, "MODGATE_LOG_FORMAT") != "text",
	}
	var errs []error
	var err error
	if c.keys, err = streamKeys(getenv); err != nil {
		errs = append(errs, err)
	}
	if v := setting(getenv, "MODGATE_MAX_CONNS"); v != "" {
		if c.maxConns, err = strconv.Atoi(v); err != nil || c.maxConns < 1 {
			errs = append(errs, fmt.Errorf("MODGATE_MAX_CONNS: %q is not a whole number of 1 or more", v))
		}
	}
	if c.adminAddr != "" && c.adminAddr == c.addr && !strings.HasSuffix(c.addr, ":0") {
		errs = append(errs, fmt.Errorf("MODGATE_ADMIN_ADDR: %q is MODGATE_ADDR too: leave it unset to serve everything on one address", c.adminAddr))
	}
	switch v := setting(getenv, "MODGATE_INSECURE_SKIP_SIGNATURE"); v {
	case "0", "false":
	case "1", "true":
		c.insecure = true
	default:
		errs = append(errs, fmt.Errorf("MODGATE_INSECURE_SKIP_SIGNATURE: %q is not 1 or 0", v))
	}
	if c.maxBody, err = parseBytes(setting(getenv, "MODGATE_MAX_BODY")); err != nil {
		errs = append(errs, fmt.Errorf("MODGATE_MAX_BODY: %w", err))
	}
	durations := []struct {
		name string
		to   *time.Duration
	}{
		{"MODGATE_DEADLINE", &c.deadline}, {"MODGATE_PENDING_DEADLINE", &c.pendingDL}, {"MODGATE_REPLAY_TTL", &c.replayTTL},
		{"MODGATE_PENDING_TIMEOUT", &c.pendingTimeout}, {"MODGATE_HOLD_TTL", &c.holdTTL}, {"MODGATE_REPORT_TTL", &c.reportTTL},
		{"MODGATE_DECISION_LEASE", &c.decisionLease}, {"MODGATE_RULES_POLL", &c.rulesPoll},
	}
	for _, d := range durations {
		if *d.to, err = parseDuration(setting(getenv, d.name)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d.name, err))
		}
	}
	if c.decisionLease > 0 && c.decisionLease < 10*time.Second {
		errs = append(errs, fmt.Errorf("MODGATE_DECISION_LEASE: %s is shorter than 10s, too short for a call to Stream and its retries", c.decisionLease))
	}
	if c.admin, err = hook.ParseAdminTokens(setting(getenv, "MODGATE_ADMIN_TOKENS")); err != nil {
		errs = append(errs, fmt.Errorf("MODGATE_ADMIN_TOKENS: %w", err))
	}
	c.redisURL = setting(getenv, "REDIS_URL")
	c.debugAddr = setting(getenv, "MODGATE_DEBUG_ADDR")
	c.streamBase = setting(getenv, "STREAM_BASE_URL")
	c.streamBaseSet = getenv("STREAM_BASE_URL") != ""
	c.streamUser = setting(getenv, "MODGATE_STREAM_USER")
	queueMax := setting(getenv, "MODGATE_QUEUE_MAX")
	if c.queueMax, err = strconv.Atoi(queueMax); err != nil || c.queueMax < 1 {
		errs = append(errs, fmt.Errorf("MODGATE_QUEUE_MAX: %q is not a whole number of 1 or more", queueMax))
	}
	c.redisPipeline = setting(getenv, "MODGATE_REDIS_AUTOPIPELINE") != "0"
	c.redisPrefix = setting(getenv, "MODGATE_REDIS_PREFIX")
	if strings.ContainsAny(c.redisPrefix, "{}") {
		errs = append(errs, fmt.Errorf("MODGATE_REDIS_PREFIX: %q: braces are not allowed (modgate sets the Redis Cluster hash tags itself)", c.redisPrefix))
	}
	// A call to Redis waits until the message's deadline: by default no
	// shorter bound, so a slow answer that still arrives in time is used.
	c.redisTimeout = c.deadline
	if v := setting(getenv, "MODGATE_REDIS_TIMEOUT"); v != "" {
		if c.redisTimeout, err = parseDuration(v); err != nil {
			errs = append(errs, fmt.Errorf("MODGATE_REDIS_TIMEOUT: %w", err))
		}
	}
	if v := setting(getenv, "MODGATE_DRAIN"); v != "0" {
		if c.drain, err = parseDuration(v); err != nil {
			errs = append(errs, fmt.Errorf("MODGATE_DRAIN: %w", err))
		}
	}
	if c.console, err = loadConsole(getenv); err != nil {
		errs = append(errs, err)
	}
	if err := c.logLevel.UnmarshalText([]byte(setting(getenv, "MODGATE_LOG_LEVEL"))); err != nil {
		errs = append(errs, fmt.Errorf("MODGATE_LOG_LEVEL: %w", err))
	}
	return c, errors.Join(errs...)
}

// streamKeys reads the Stream keys and secrets: STREAM_API_KEY and
// STREAM_API_SECRET, and MODGATE_STREAM_KEYS. A key given twice in
// MODGATE_STREAM_KEYS is refused, and one given in both with two secrets:
// which secret checks its calls would otherwise depend on the order.
func streamKeys(getenv func(string) string) (map[string]string, error) {
	keys := map[string]string{}
	var errs []error
	single := setting(getenv, "STREAM_API_KEY")
	if secret := setting(getenv, "STREAM_API_SECRET"); secret != "" {
		keys[single] = secret
	}
	list := setting(getenv, "MODGATE_STREAM_KEYS")
	if list == "" {
		return keys, nil
	}
	seen := map[string]bool{}
	for _, pair := range strings.Split(list, ",") {
		key, secret, ok := strings.Cut(strings.TrimSpace(pair), ":")
		switch {
		case !ok || key == "" || secret == "":
			errs = append(errs, fmt.Errorf("MODGATE_STREAM_KEYS: %q is not key:secret", redact(pair)))
			continue
		case seen[key]:
			errs = append(errs, fmt.Errorf("MODGATE_STREAM_KEYS: key %q is given twice", key))
			continue
		case key == single && keys[key] != "" && keys[key] != secret:
			errs = append(errs, fmt.Errorf("MODGATE_STREAM_KEYS: key %q is STREAM_API_KEY too, with another secret", key))
			continue
		}
		seen[key] = true
		keys[key] = secret
	}
	return keys, errors.Join(errs...)
}

// publisher builds what carries moderators' decisions to Stream: a REST
// client with the first configured key that has a name. Without one,
// decisions fail with a clear error and the held messages stay queued.
func (c config) publisher() (moderation.Publisher, *stream.Approvals, error) {
	key := c.publisherKey()
	if key == "" {
		return noPublisher{}, stream.NewApprovals(c.keys[""] + "modgate"), nil
	}
	approvals := stream.NewApprovals(c.keys[key])
	client, err := stream.NewClient(key, c.keys[key], stream.ClientOptions{BaseURL: c.streamBase})
	if err != nil {
		return nil, nil, err
	}
	return &stream.Publisher{Client: client, Approvals: approvals, UserID: c.streamUser}, approvals, nil
}

// publisherKey is the key decisions are sent with: the first of the named
// keys in order, or "" when none has a name.
func (c config) publisherKey() string {
	keys := make([]string, 0, len(c.keys))
	for k := range c.keys {
		if k != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	sort.Strings(keys)
	return keys[0]
}

// messageSource is where reports read the messages they name: Stream,
// through the publisher's client; nil without one.
func messageSource(p moderation.Publisher) hook.MessageSource {
	if sp, ok := p.(*stream.Publisher); ok {
		return sp
	}
	return nil
}

// noPublisher refuses decisions when no Stream API key is configured.
type noPublisher struct{}

var errNoStreamKey = fmt.Errorf("no Stream API key configured (STREAM_API_KEY): decisions cannot reach Stream: %w", moderation.ErrUnavailable)

func (noPublisher) Patch(context.Context, *moderation.Held) error { return errNoStreamKey }
func (noPublisher) Commit(context.Context, string) error          { return errNoStreamKey }
func (noPublisher) Delete(context.Context, string) error          { return errNoStreamKey }
func (noPublisher) Send(context.Context, *moderation.Held) error  { return errNoStreamKey }
func (noPublisher) Remove(context.Context, string) error          { return errNoStreamKey }
func (noPublisher) Enforce(context.Context, *moderation.Held, time.Time) error {
	return errNoStreamKey
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

const serveText = `usage: modgate serve [-addr ADDR] [-rules FILE]

Runs the hooks Stream calls, the admin API, the console and the metrics,
with the rules of FILE, reloaded when it changes. The rest of the
configuration is read from the environment (below); a MODGATE_ variable
that modgate does not read is warned about at start.
`

func serveUsage(fs *flag.FlagSet) func(io.Writer) {
	return func(w io.Writer) {
		usageOf(fs, serveText)(w)
		fmt.Fprintln(w, "\nenvironment (the flags win over MODGATE_ADDR and MODGATE_RULES):")
		variablesHelp(w, forServe)
	}
}

func serve(ctx context.Context, args []string, env environment, stdout, stderr io.Writer) int {
	c, cfgErr := loadConfig(env.get)
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", c.addr, "address to listen on (MODGATE_ADDR)")
	fs.StringVar(&c.rulesPath, "rules", c.rulesPath, "rules file (MODGATE_RULES)")
	if code, ok := parseFlags(fs, args, serveUsage(fs), stdout, stderr); !ok {
		return code
	}
	if code := noArguments("serve", fs.Args(), stderr); code != 0 {
		return code
	}
	log := newLogger(c, stderr)
	fatal := false
	for _, m := range misnamedVariables(env) {
		if m.fatal {
			log.Error(m.String(), "variable", m.name, "did_you_mean", m.suggestion)
			fatal = true
			continue
		}
		log.Warn(m.String(), "variable", m.name, "did_you_mean", m.suggestion)
	}
	if cfgErr != nil {
		log.Error("configuration is invalid", "err", cfgErr)
		return 2
	}
	if fatal {
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
	log.Info("rules loaded", "file", c.rulesPath, "rule_count", len(set.Rules), "rules_version", set.Version)
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
		err = r.Check(pingCtx)
		cancel()
		switch {
		case isDBOutOfRange(err):
			log.Error("REDIS_URL is invalid: the server has no database of that number (Redis has 16, 0 to 15, unless its databases setting says otherwise)", "err", err)
			return 2
		case err != nil:
			// Start anyway: limits follow their on_error until Redis answers.
			log.Warn("redis does not answer yet; limit rules follow their on_error until it does", "err", err)
		}
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
	c.logWhereDecisionsGo(log)
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
		Messages:        messageSource(publisher),
		ReportWait:      c.reportTTL,
		Console:         c.console.config(state),
	})
	// Decisions the rules made for pending messages that a previous run did
	// not carry out, or that Stream refused for a while: now, then regularly.
	defer reviews.Wait()
	go reviews.Run(ctx, 0, func(n int, err error) {
		switch {
		case err != nil:
			log.Warn("carrying out queued decisions failed", "count", n, "err", err)
		case n > 0:
			log.Info("carried out queued decisions", "count", n)
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

	listeners, err := listen(c, server, log)
	if err != nil {
		log.Error("cannot listen", "err", err)
		return 1
	}
	failed := serveAll(listeners)
	go server.WatchState(ctx, stateCheckEvery)
	attrs := []any{"state", stateName}
	for _, l := range listeners {
		key := l.name + "_addr"
		if l.name == "hooks" {
			key = "addr"
		}
		attrs = append(attrs, key, l.ln.Addr().String())
	}
	log.Info("listening", attrs...)

	select {
	case err := <-failed:
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
		case err := <-failed:
			log.Error("server stopped", "err", err)
			return 1
		case <-time.After(c.drain):
		}
	}
	log.Info("shutting down: finishing requests in flight")
	if err := shutdownAll(listeners); err != nil {
		log.Error("shutdown did not finish", "err", err)
		return 1
	}
	log.Info("stopped")
	return 0
}

// isDBOutOfRange reports the answer of a Redis server asked for a
// database it does not have: a mistake in REDIS_URL that no wait mends.
func isDBOutOfRange(err error) bool {
	var rerr redis.Error
	return errors.As(err, &rerr) && strings.Contains(rerr.Error(), "DB index is out of range")
}

// logWhereDecisionsGo says at start where moderators' decisions are sent,
// and warns when a development key would send them to Stream's production
// API because STREAM_BASE_URL was left out.
func (c config) logWhereDecisionsGo(log *slog.Logger) {
	key := c.publisherKey()
	if key == "" {
		log.Warn("no STREAM_API_KEY: moderators' decisions and the rules' decisions on pending messages cannot reach Stream; held messages stay queued")
		return
	}
	log.Info("decisions go to Stream", "stream_base_url", c.streamBase, "api_key", key)
	if !c.streamBaseSet && looksLikeDevelopmentKey(key) {
		log.Warn("STREAM_API_KEY looks like a development key, but STREAM_BASE_URL is not set: decisions go to Stream's production API",
			"stream_base_url", c.streamBase, "api_key", key)
	}
}

// looksLikeDevelopmentKey tells keys made up for development or tests
// from Stream's: those are a dozen or more lower-case letters and digits.
func looksLikeDevelopmentKey(key string) bool {
	k := strings.ToLower(key)
	for _, w := range []string{"dev", "test", "local", "example", "demo", "fake", "dummy", "mock", "changeme", "key"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	if len(key) < 10 {
		return true
	}
	for _, r := range key {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return true
		}
	}
	return false
}

// check is `modgate check`: it loads a rules file as serve would, runs its
// inline tests, and prints every problem and warning as file:line:column.
// Warnings (costly patterns) do not make it fail.
const checkText = `usage: modgate check [FILE]

Loads a rules file (FILE, or MODGATE_RULES, or rules.yaml) as serve would,
runs its inline tests, and prints every problem and warning as
file:line:column. Exits 0 when the file would be accepted (warnings about
costly patterns included), 1 when it would be refused.
`

func check(args []string, env environment, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	if code, ok := parseFlags(fs, args, usageOf(fs, checkText), stdout, stderr); !ok {
		return code
	}
	if fs.NArg() > 1 {
		return noArguments("check", fs.Args()[1:], stderr)
	}
	warnMisnamed(env, "check", stderr)
	path := setting(env.get, "MODGATE_RULES")
	if fs.NArg() == 1 {
		path = fs.Arg(0)
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
