package hook

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/modgate/modgate/moderation"
	"github.com/modgate/modgate/rules"
)

// Outcomes of a hook request, the values of the `outcome` label.
const (
	outcomeAllow      = "allow"
	outcomeMask       = "mask"
	outcomeReject     = "reject"
	outcomeHold       = "hold"
	outcomeRewrite    = "rewrite"
	outcomeFlag       = "flag"
	outcomeReplay     = "replay"
	outcomeDeadline   = "deadline"
	outcomeBadRequest = "bad_request"
	outcomeUnauth     = "unauthorized"
	outcomeTooLarge   = "too_large"
	outcomeError      = "error"
	outcomeDropped    = "dropped"  // pending: the sender deleted it, or Stream's timeout ran out
	outcomeReported   = "reported" // commands: a report taken; events: a flag queued
	outcomeRefused    = "refused"  // commands: a report refused, or a command modgate does not know
)

var outcomes = []string{outcomeAllow, outcomeMask, outcomeRewrite, outcomeFlag, outcomeHold, outcomeReject, outcomeReplay, outcomeDeadline,
	outcomeBadRequest, outcomeUnauth, outcomeTooLarge, outcomeError}

// The hooks, the values of the `hook` label.
const (
	hookBeforeSend = "before_send"
	hookPending    = "pending"
	hookCommands   = "commands"
	hookEvents     = "events"
)

// metrics are modgate's Prometheus series. Labels are bounded: hooks,
// outcomes, actions and rule ids, never a user or channel.
type metrics struct {
	registry     *prometheus.Registry
	beforeSend   hookMetrics
	pending      hookMetrics
	decisions    *ruleCounts // also read by the console
	deadline     prometheus.Counter
	stateErrors  prometheus.Counter
	signatures   *prometheus.CounterVec // refused signatures by hook and reason
	holdFailures *prometheus.CounterVec // holds the review queue could not keep, by reason
	commands     hookMetrics
	events       hookMetrics
	consequences *prometheus.CounterVec // by what they do: ban, would_ban...
	reports      *prometheus.CounterVec // new reporters, by source
}

// Reasons a signature is refused, the values of the `reason` label.
const (
	signatureMissing    = "missing"     // no X-Signature
	signatureMalformed  = "malformed"   // not 64 hex digits
	signatureMismatch   = "mismatch"    // made with another secret, or over other bytes
	signatureUnknownKey = "unknown_key" // an X-Api-Key that has no secret
)

var signatureReasons = []string{signatureMissing, signatureMalformed, signatureMismatch, signatureUnknownKey}

// hookMetrics are the series of one hook, resolved once.
type hookMetrics struct {
	requests map[string]prometheus.Counter // by outcome
	latency  prometheus.Observer
}

func newMetrics(rules *moderation.RulesFile, reviews *moderation.Reviews, shared SharedState, h *health) *metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "modgate", Name: "hook_requests_total",
		Help: "Hook requests by hook and outcome.",
	}, []string{"hook", "outcome"})
	decisions := newRuleCounts()
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "modgate", Name: "hook_duration_seconds",
		Help:    "Time from the request's arrival to its answer, by hook.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 1.5},
	}, []string{"hook"})
	deadline := prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "modgate", Name: "deadline_exceeded_total",
		Help: "Messages let through because evaluation ran past MODGATE_DEADLINE.",
	})
	stateErrors := prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "modgate", Name: "state_errors_total",
		Help: "Messages for which shared state (Redis) failed or was too slow; their limit rules followed on_error.",
	})
	signatures := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "modgate", Name: "signature_failures_total",
		Help: "Hook calls refused (401) for their signature, by hook and reason; Stream lets such a message through unmoderated.",
	}, []string{"hook", "reason"})
	for _, hook := range []string{hookBeforeSend, hookPending, hookCommands, hookEvents} {
		for _, reason := range signatureReasons {
			signatures.WithLabelValues(hook, reason)
		}
	}
	holdFailures := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "modgate", Name: "hold_failures_total",
		Help: "Held messages the review queue could not keep (reason: full, error, invalid, no_queue); their rule's on_error decided instead.",
	}, []string{"reason"})
	consequences := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "modgate", Name: "consequences_total",
		Help: "Consequences the rules gave senders, by what they do (ban, shadow_ban, timeout, flag; would_<do> in observe mode). Whether Stream carried them out is in the audit log.",
	}, []string{"action"})
	for _, do := range consequenceActions {
		consequences.WithLabelValues(do)
		consequences.WithLabelValues("would_" + do)
	}
	reports := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "modgate", Name: "reports_total",
		Help: "Reports queued, by source: command (/report), stream (message.flagged and user.flagged events). A reporter counts once per item.",
	}, []string{"source"})
	reports.WithLabelValues(moderation.ReportCommand)
	reports.WithLabelValues(moderation.ReportStream)
	reg.MustRegister(requests, decisions, latency, deadline, stateErrors, signatures, holdFailures, consequences, reports)
	if reviews != nil {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace: "modgate", Name: "review_queue_items",
			Help: "Open items of the review queue (waiting, deciding or failed); -1 when the queue could not be read.",
		}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			n, err := reviews.Queue.Len(ctx)
			if err != nil {
				return -1
			}
			return float64(n)
		}))
	}
	if shared != nil {
		dropped := func(reason string, get func() uint64) prometheus.Collector {
			return prometheus.NewCounterFunc(prometheus.CounterOpts{
				Namespace: "modgate", Name: "state_answers_dropped_total",
				Help:        "Answers not stored for Stream's retries, by reason (queue_full, write_failed); a retry of such a message is evaluated again without being counted.",
				ConstLabels: prometheus.Labels{"reason": reason},
			}, func() float64 { return float64(get()) })
		}
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Namespace: "modgate", Name: "state_healthy",
				Help: "1 when the last check found every server that holds modgate's keys serving, 0 when shared state is degraded (or not checked yet).",
			}, h.healthy),
			dropped("queue_full", func() uint64 { n, _ := shared.AnswersDropped(); return n }),
			dropped("write_failed", func() uint64 { _, n := shared.AnswersDropped(); return n }),
		)
	}
	if rules != nil {
		reloads := func(result string, get func(moderation.ReloadStatus) uint64) prometheus.Collector {
			return prometheus.NewCounterFunc(prometheus.CounterOpts{
				Namespace: "modgate", Name: "rules_reloads_total", Help: "Reloads of the rules file by result.",
				ConstLabels: prometheus.Labels{"result": result},
			}, func() float64 { return float64(get(rules.Status())) })
		}
		reg.MustRegister(
			reloads("success", func(s moderation.ReloadStatus) uint64 { return s.Successes }),
			reloads("failure", func(s moderation.ReloadStatus) uint64 { return s.Failures }),
			reloads("unchanged", func(s moderation.ReloadStatus) uint64 { return s.Unchanged }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Namespace: "modgate", Name: "rules_last_reload_successful",
				Help: "1 when the last look at the rules file put it in force or found it unchanged, 0 when it was refused.",
			}, func() float64 {
				if rules.Status().LastError != "" {
					return 0
				}
				return 1
			}),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Namespace: "modgate", Name: "rules_loaded_timestamp_seconds",
				Help: "When the rules in force were loaded.",
			}, func() float64 { return float64(rules.Status().LoadedAt.Unix()) }),
		)
	}
	forHook := func(hook string, outcomes ...string) hookMetrics {
		h := hookMetrics{requests: map[string]prometheus.Counter{}, latency: latency.WithLabelValues(hook)}
		for _, o := range outcomes {
			h.requests[o] = requests.WithLabelValues(hook, o)
		}
		return h
	}
	return &metrics{
		registry:     reg,
		beforeSend:   forHook(hookBeforeSend, outcomes...),
		pending:      forHook(hookPending, slices.Concat(outcomes, []string{outcomeDropped})...),
		decisions:    decisions,
		deadline:     deadline,
		stateErrors:  stateErrors,
		signatures:   signatures,
		holdFailures: holdFailures,
		commands: forHook(hookCommands, outcomeReported, outcomeRefused, outcomeBadRequest, outcomeUnauth, outcomeTooLarge,
			outcomeError),
		events: forHook(hookEvents, eventReported, eventRemoved, eventIgnored, eventDuplicate, outcomeBadRequest, outcomeUnauth,
			outcomeTooLarge, outcomeError),
		consequences: consequences,
		reports:      reports,
	}
}

// countFired counts the rules that fired for a verdict.
func (m *metrics) countFired(v *moderation.Verdict) {
	for _, f := range v.Fired {
		m.decisions.add(ruleFired{rule: f.RuleID, action: f.Action, observed: f.Observed})
	}
}

// ruleFired is what a rule did: acted, or would have (observe mode).
type ruleFired struct {
	rule     string
	action   rules.Action
	observed bool
}

// label is the action label: the action, or would_<action>.
func (k ruleFired) label() string {
	if k.observed {
		return "would_" + k.action.String()
	}
	return k.action.String()
}

// ruleCounts counts the rules that fired since the process started, by
// rule and action. /metrics exports them as modgate_rule_decisions_total
// and the console reads them directly. Rule ids are bounded by the rules
// files loaded.
type ruleCounts struct {
	mu   sync.RWMutex
	by   map[ruleFired]*atomic.Uint64
	desc *prometheus.Desc
}

func newRuleCounts() *ruleCounts {
	return &ruleCounts{by: map[ruleFired]*atomic.Uint64{}, desc: prometheus.NewDesc("modgate_rule_decisions_total",
		"Rules that fired, by action and rule id.", []string{"action", "rule"}, nil)}
}

func (c *ruleCounts) add(k ruleFired) {
	c.mu.RLock()
	n := c.by[k]
	c.mu.RUnlock()
	if n == nil {
		c.mu.Lock()
		if n = c.by[k]; n == nil {
			n = new(atomic.Uint64)
			c.by[k] = n
		}
		c.mu.Unlock()
	}
	n.Add(1)
}

// ruleCount is how often one rule fired, by action label.
type ruleCount struct {
	Action string // the action label: hold, would_hold, ...
	Count  uint64
}

// byRule returns the counts of every rule that fired, each rule's sorted
// by action label.
func (c *ruleCounts) byRule() map[string][]ruleCount {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make(map[string][]ruleCount, len(c.by))
	for k, n := range c.by {
		out[k.rule] = append(out[k.rule], ruleCount{Action: k.label(), Count: n.Load()})
	}
	for _, counts := range out {
		slices.SortFunc(counts, func(a, b ruleCount) int { return strings.Compare(a.Action, b.Action) })
	}
	return out
}

// Describe implements prometheus.Collector.
func (c *ruleCounts) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *ruleCounts) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	for k, n := range c.by {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, float64(n.Load()), k.label(), k.rule)
	}
}

// outcomeOfStatus names the outcome of a request answered with an error
// status.
func outcomeOfStatus(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return outcomeUnauth
	case status == http.StatusRequestEntityTooLarge:
		return outcomeTooLarge
	case status >= 400 && status < 500:
		return outcomeBadRequest
	}
	return outcomeError
}
