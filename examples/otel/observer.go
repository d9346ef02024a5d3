// Package sessionotel turns the events of a gormsession Container (the
// session.Event values its WithObserver option reports) into OpenTelemetry
// spans and metrics.
//
//	obs, err := sessionotel.New() // the global providers, or pass your own
//	if err != nil { ... }
//	carts, err := session.New[Cart](db, session.WithObserver(obs.Observe))
//
// # Spans
//
// Every finished operation becomes one span named "gormsession." and the
// operation ("gormsession.open", "gormsession.save", ...), of kind internal,
// a child of the span in the operation's context (the request's span, when
// the HTTP server is instrumented). An event arrives when its operation
// ends, so the span is created afterwards with the operation's start time
// (the event's end less its Duration) and ended with its end time: it sits
// on the timeline where the operation ran. For the same reason, spans made
// during the operation (the SQL spans of GORM's tracing plugin, or the
// "touch" span of an idle refresh inside "open") are its siblings under the
// request's span, not its children. A random cleanup runs in a goroutine of
// its own, without the caller's context: its span is the root of a trace.
//
// A failed operation's span has status Error, described by the error's
// kind (session.ErrorKind, such as "conflict" or "not_found") only; the
// error text is never recorded.
//
// # Attributes
//
// Spans and metrics carry only what the event carries, and no event holds
// a secret: the operation (gormsession.op), the container's table
// (gormsession.table), the outcome (gormsession.outcome: "ok" or "error"),
// the error kind (error.type, on failures only) and, on spans, the event's
// counts: gormsession.new for "open" and "save", gormsession.retries for
// "update", gormsession.rows for "cleanup", "destroy_subject" and
// "destroy_others", gormsession.cleanup.trigger ("random" or "manual") for
// "cleanup". Never a token, a stored session id (the token's hash), a
// subject or a payload: the events do not have them to give.
//
// # Metrics
//
//   - gormsession.operation.duration (histogram, s): how long operations
//     took, by op, table, outcome and error.type.
//   - gormsession.operations (counter, {operation}): finished operations, by
//     op, table, outcome and error.type.
//   - gormsession.sessions.deleted (counter, {session}): sessions deleted by
//     "cleanup" (by gormsession.cleanup.trigger), "destroy_subject" and
//     "destroy_others", by op and table, including the rows a failed run
//     deleted before it stopped.
//   - gormsession.update.retries (counter, {retry}): conflicts Update
//     absorbed by loading again, by table.
//
// This package lives in the examples tree as a Go module of its own, so
// that the library's go.mod never lists OpenTelemetry. Copy it, or import it
// as is.
package sessionotel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/gormsession/gormsession/session"
)

// ScopeName is the instrumentation scope of the tracer and the meter.
const ScopeName = "github.com/gormsession/gormsession/examples/otel"

// The attribute keys this package sets, besides semconv's error.type.
const (
	OpKey             = attribute.Key("gormsession.op")
	TableKey          = attribute.Key("gormsession.table")
	OutcomeKey        = attribute.Key("gormsession.outcome")
	NewKey            = attribute.Key("gormsession.new")
	RetriesKey        = attribute.Key("gormsession.retries")
	RowsKey           = attribute.Key("gormsession.rows")
	CleanupTriggerKey = attribute.Key("gormsession.cleanup.trigger")
)

// ErrInvalidOption is returned by New for a nil option value.
var ErrInvalidOption = errors.New("sessionotel: invalid option")

// Observer turns session events into spans and metrics. Make one with New
// and pass its Observe method to session.WithObserver; one Observer may
// serve several containers (their spans and metrics carry the table). It
// is safe for concurrent use. The zero value is not usable.
type Observer struct {
	tracer     trace.Tracer
	duration   metric.Float64Histogram
	operations metric.Int64Counter
	deleted    metric.Int64Counter
	retries    metric.Int64Counter
}

// Option configures New.
type Option func(*config)

type config struct {
	tp  trace.TracerProvider
	mp  metric.MeterProvider
	bad string // the first invalid option, for New's error
}

func (c *config) fail(what string) {
	if c.bad == "" {
		c.bad = what
	}
}

// WithTracerProvider sets where spans go. Default: the global provider
// (otel.GetTracerProvider) at the time New is called. nil is an error.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(c *config) {
		if tp == nil {
			c.fail("WithTracerProvider: nil provider")
			return
		}
		c.tp = tp
	}
}

// WithMeterProvider sets where metrics go. Default: the global provider
// (otel.GetMeterProvider) at the time New is called. nil is an error.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(c *config) {
		if mp == nil {
			c.fail("WithMeterProvider: nil provider")
			return
		}
		c.mp = mp
	}
}

// durationBuckets are the histogram's bucket bounds in seconds: from half
// a millisecond (a primary-key read) to a minute (a long cleanup run).
var durationBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// New makes an Observer that records to the providers the options name
// (the global ones by default). It fails, wrapping ErrInvalidOption, for a
// nil Option or a nil provider, and when the meter refuses an instrument.
func New(opts ...Option) (*Observer, error) {
	var c config
	for _, o := range opts {
		if o == nil {
			c.fail("nil Option")
			continue
		}
		o(&c)
	}
	if c.bad != "" {
		return nil, fmt.Errorf("sessionotel: new: %s: %w", c.bad, ErrInvalidOption)
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	meter := c.mp.Meter(ScopeName)
	o := &Observer{tracer: c.tp.Tracer(ScopeName)}
	var err, e error
	o.duration, e = meter.Float64Histogram("gormsession.operation.duration",
		metric.WithDescription("How long gormsession Container operations took."),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(durationBuckets...))
	err = errors.Join(err, e)
	o.operations, e = meter.Int64Counter("gormsession.operations",
		metric.WithDescription("Finished gormsession Container operations."),
		metric.WithUnit("{operation}"))
	err = errors.Join(err, e)
	o.deleted, e = meter.Int64Counter("gormsession.sessions.deleted",
		metric.WithDescription("Sessions deleted by cleanup, DestroySubject, DestroyOthers and the per-subject cap."),
		metric.WithUnit("{session}"))
	err = errors.Join(err, e)
	o.retries, e = meter.Int64Counter("gormsession.update.retries",
		metric.WithDescription("Conflicts that Update absorbed by loading again and retrying."),
		metric.WithUnit("{retry}"))
	err = errors.Join(err, e)
	if err != nil {
		return nil, fmt.Errorf("sessionotel: new: create instruments: %w", err)
	}
	return o, nil
}

// Observe records e: one span, and the metrics. Pass it to
// session.WithObserver. It is called when the operation has ended, so it
// takes the end as now and the start as now less e.Duration.
func (o *Observer) Observe(ctx context.Context, e session.Event) {
	end := time.Now()
	start := end.Add(-e.Duration)
	kind := session.ErrorKind(e.Err)

	// The attributes both the span and the metrics carry.
	base := make([]attribute.KeyValue, 0, 8)
	base = append(base, OpKey.String(e.Op))
	if e.Table != "" {
		base = append(base, TableKey.String(e.Table))
	}
	if kind == "" {
		base = append(base, OutcomeKey.String("ok"))
	} else {
		base = append(base, OutcomeKey.String("error"), semconv.ErrorTypeKey.String(kind))
	}

	// spanAttrs grows into base's spare capacity; base itself (its
	// length) is unchanged, and is what the metrics get.
	spanAttrs := base
	trigger := "manual"
	if e.Random {
		trigger = "random"
	}
	switch e.Op {
	case "open", "save":
		spanAttrs = append(spanAttrs, NewKey.Bool(e.New))
	case "update":
		spanAttrs = append(spanAttrs, RetriesKey.Int(e.Retries))
	case "cleanup":
		spanAttrs = append(spanAttrs, RowsKey.Int64(e.Rows), CleanupTriggerKey.String(trigger))
	case "destroy_subject", "destroy_others", "trim":
		spanAttrs = append(spanAttrs, RowsKey.Int64(e.Rows))
	}
	_, span := o.tracer.Start(ctx, "gormsession."+e.Op,
		trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(spanAttrs...))
	if kind != "" {
		span.SetStatus(codes.Error, kind) // the kind only: never e.Err's text
	}
	span.End(trace.WithTimestamp(end))

	set := metric.WithAttributeSet(attribute.NewSet(base...))
	o.duration.Record(ctx, e.Duration.Seconds(), set)
	o.operations.Add(ctx, 1, set)
	switch e.Op {
	case "cleanup":
		o.deleted.Add(ctx, e.Rows, metric.WithAttributes(OpKey.String(e.Op), TableKey.String(e.Table), CleanupTriggerKey.String(trigger)))
	case "destroy_subject", "destroy_others", "trim":
		o.deleted.Add(ctx, e.Rows, metric.WithAttributes(OpKey.String(e.Op), TableKey.String(e.Table)))
	case "update":
		if e.Retries > 0 {
			o.retries.Add(ctx, int64(e.Retries), metric.WithAttributes(TableKey.String(e.Table)))
		}
	}
}
