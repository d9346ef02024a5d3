package main

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gormsession/gormsession/session"
)

// Metrics is a session.Observer that turns a Container's events into
// Prometheus metrics. Make one per container (per table) and pass it with
// session.WithObserver; it is safe for concurrent use.
//
// Every metric carries a constant "table" label, so several containers can
// export into one registry. Only successful operations count as opens,
// saves, renewals, destroys and cleanup runs; failed ones are counted in
// gormsession_errors_total by operation and session.ErrorKind.
type Metrics struct {
	opens           *prometheus.CounterVec
	saves           *prometheus.CounterVec
	conflicts       *prometheus.CounterVec
	updateRetries   prometheus.Counter
	renewals        prometheus.Counter
	destroys        *prometheus.CounterVec
	destroyedRows   prometheus.Counter
	cleanupRuns     *prometheus.CounterVec
	cleanupDeleted  *prometheus.CounterVec
	cleanupDuration *prometheus.HistogramVec
	duration        *prometheus.HistogramVec
	errors          *prometheus.CounterVec
}

// NewMetrics creates the metrics of table's container and registers them
// with reg. It fails if reg already holds metrics for that table.
func NewMetrics(reg prometheus.Registerer, table string) (*Metrics, error) {
	const ns = "gormsession"
	m := &Metrics{
		opens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "opens_total",
			Help: "Sessions opened, by whether a fresh one was made (result=new) or a stored one found (result=existing).",
		}, []string{"result"}),
		saves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "saves_total",
			Help: "Sessions saved by Save, by kind: insert (a new session) or update.",
		}, []string{"kind"}),
		conflicts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "conflicts_total",
			Help: "Operations that failed with ErrConflict (a concurrent save won), by operation.",
		}, []string{"op"}),
		updateRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "update_retries_total",
			Help: "Conflicts that Update absorbed by loading again and retrying.",
		}),
		renewals: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "renewals_total",
			Help: "Sessions given a new token by Renew.",
		}),
		destroys: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "destroys_total",
			Help: "Destroy calls (scope=session), DestroySubject calls (scope=subject) and DestroyOthers calls (scope=others).",
		}, []string{"scope"}),
		destroyedRows: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: ns, Name: "subject_destroyed_sessions_total",
			Help: "Sessions deleted by DestroySubject and DestroyOthers.",
		}),
		cleanupRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "cleanup_runs_total",
			Help: "Cleanup runs that finished without error, by trigger: random (the hook) or manual (Cleanup).",
		}, []string{"trigger"}),
		cleanupDeleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "cleanup_deleted_sessions_total",
			Help: "Expired sessions deleted by cleanup runs, by trigger, including runs that stopped early on an error.",
		}, []string{"trigger"}),
		cleanupDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "cleanup_duration_seconds",
			Help:    "How long cleanup runs took, by trigger.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 10), // 1ms to about 4m
		}, []string{"trigger"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: ns, Name: "operation_duration_seconds",
			Help:    "How long Container operations other than cleanup took, by operation.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5ms to about 4s
		}, []string{"op"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: ns, Name: "errors_total",
			Help: "Operations that returned an error, by operation and kind (session.ErrorKind).",
		}, []string{"op", "kind"}),
	}
	wrapped := prometheus.WrapRegistererWith(prometheus.Labels{"table": table}, reg)
	for _, c := range []prometheus.Collector{
		m.opens, m.saves, m.conflicts, m.updateRetries, m.renewals, m.destroys, m.destroyedRows,
		m.cleanupRuns, m.cleanupDeleted, m.cleanupDuration, m.duration, m.errors,
	} {
		if err := wrapped.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Observe implements session.Observer.
func (m *Metrics) Observe(_ context.Context, e session.Event) {
	op := e.Op
	if e.Op == "cleanup" {
		trigger := "manual"
		if e.Random {
			trigger = "random"
		}
		m.cleanupDuration.WithLabelValues(trigger).Observe(e.Duration.Seconds())
		m.cleanupDeleted.WithLabelValues(trigger).Add(float64(e.Rows))
		if e.Err == nil {
			m.cleanupRuns.WithLabelValues(trigger).Inc()
		}
	} else {
		m.duration.WithLabelValues(op).Observe(e.Duration.Seconds())
	}
	if e.Op == "update" {
		// Retries happened whether or not the last attempt succeeded.
		m.updateRetries.Add(float64(e.Retries))
	}
	if e.Err != nil {
		m.errors.WithLabelValues(op, session.ErrorKind(e.Err)).Inc()
		if errors.Is(e.Err, session.ErrConflict) {
			m.conflicts.WithLabelValues(op).Inc()
		}
		return
	}
	switch e.Op {
	case "open":
		if e.New {
			m.opens.WithLabelValues("new").Inc()
		} else {
			m.opens.WithLabelValues("existing").Inc()
		}
	case "save":
		if e.New {
			m.saves.WithLabelValues("insert").Inc()
		} else {
			m.saves.WithLabelValues("update").Inc()
		}
	case "renew":
		m.renewals.Inc()
	case "destroy":
		m.destroys.WithLabelValues("session").Inc()
	case "destroy_subject":
		m.destroys.WithLabelValues("subject").Inc()
		m.destroyedRows.Add(float64(e.Rows))
	case "destroy_others":
		m.destroys.WithLabelValues("others").Inc()
		m.destroyedRows.Add(float64(e.Rows))
	}
}
