package hook

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
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
)

var outcomes = []string{outcomeAllow, outcomeMask, outcomeRewrite, outcomeFlag, outcomeHold, outcomeReject, outcomeReplay, outcomeDeadline,
	outcomeBadRequest, outcomeUnauth, outcomeTooLarge, outcomeError}

// metrics are modgate's Prometheus series. Labels are bounded: hooks,
// outcomes, actions and rule ids, never a user or channel.
type metrics struct {
	registry  *prometheus.Registry
	requests  map[string]prometheus.Counter // before-send outcomes, resolved once
	decisions *prometheus.CounterVec
	latency   prometheus.Observer
	deadline  prometheus.Counter
}

func newMetrics() *metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "modgate", Name: "hook_requests_total",
		Help: "Hook requests by hook and outcome.",
	}, []string{"hook", "outcome"})
	decisions := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "modgate", Name: "rule_decisions_total",
		Help: "Rules that fired, by action and rule id.",
	}, []string{"action", "rule"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "modgate", Name: "hook_duration_seconds",
		Help:    "Time from the request's arrival to its answer, by hook.",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 1.5},
	}, []string{"hook"})
	deadline := prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "modgate", Name: "deadline_exceeded_total",
		Help: "Messages let through because evaluation ran past MODGATE_DEADLINE.",
	})
	reg.MustRegister(requests, decisions, latency, deadline)
	m := &metrics{
		registry:  reg,
		requests:  map[string]prometheus.Counter{},
		decisions: decisions,
		latency:   latency.WithLabelValues("before_send"),
		deadline:  deadline,
	}
	for _, o := range outcomes {
		m.requests[o] = requests.WithLabelValues("before_send", o)
	}
	return m
}
