package sessionotel_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"gorm.io/gorm"

	sessionotel "github.com/gormsession/gormsession/examples/otel"
	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessiontest"
)

// Cart is the payload of the tests.
type Cart struct {
	Items []string `json:"items"`
	Note  string   `json:"note"`
}

// rig is an Observer on the SDK's in-memory span recorder and manual
// metric reader, which also keeps the events it was given.
type rig struct {
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	obs    *sessionotel.Observer

	mu     sync.Mutex
	events []session.Event
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	r.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	t.Cleanup(func() {
		_ = r.tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	var err error
	r.obs, err = sessionotel.New(sessionotel.WithTracerProvider(r.tp), sessionotel.WithMeterProvider(mp))
	require.NoError(t, err)
	return r
}

// observe is the session.Observer the containers of the tests get.
func (r *rig) observe(ctx context.Context, e session.Event) {
	r.obs.Observe(ctx, e)
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

// ours returns the ended spans this package made, in the order they ended.
func (r *rig) ours() []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range r.spans.Ended() {
		if s.InstrumentationScope().Name == sessionotel.ScopeName {
			out = append(out, s)
		}
	}
	return out
}

func (r *rig) collect(t *testing.T) metricdata.ResourceMetrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.reader.Collect(context.Background(), &rm))
	return rm
}

func attrs(kvs []attribute.KeyValue) map[attribute.Key]attribute.Value {
	m := make(map[attribute.Key]attribute.Value, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

// find returns the metric called name.
func find(t *testing.T, rm metricdata.ResourceMetrics, name string) metricdata.Metrics {
	t.Helper()
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m
			}
		}
	}
	t.Fatalf("no metric %s", name)
	return metricdata.Metrics{}
}

// matches reports whether set holds every attribute of want, and no
// error.type unless want names one.
func matches(set attribute.Set, want map[attribute.Key]string) bool {
	for k, v := range want {
		got, ok := set.Value(k)
		if !ok || got.String() != v {
			return false
		}
	}
	if _, ok := want["error.type"]; !ok && set.HasValue("error.type") {
		return false
	}
	return true
}

// sum adds up the int64 sum points of name whose attributes match want.
func sum(t *testing.T, rm metricdata.ResourceMetrics, name string, want map[attribute.Key]string) int64 {
	t.Helper()
	data, ok := find(t, rm, name).Data.(metricdata.Sum[int64])
	require.True(t, ok, "%s is not an int64 sum", name)
	var n int64
	for _, p := range data.DataPoints {
		if matches(p.Attributes, want) {
			n += p.Value
		}
	}
	return n
}

// histCount adds up the observation counts of the duration histogram
// points whose attributes match want.
func histCount(t *testing.T, rm metricdata.ResourceMetrics, want map[attribute.Key]string) uint64 {
	t.Helper()
	m := find(t, rm, "gormsession.operation.duration")
	require.Equal(t, "s", m.Unit)
	data, ok := m.Data.(metricdata.Histogram[float64])
	require.True(t, ok)
	var n uint64
	for _, p := range data.DataPoints {
		if matches(p.Attributes, want) {
			n += p.Count
		}
	}
	return n
}

func TestNewRejectsNil(t *testing.T) {
	t.Parallel()
	for name, opt := range map[string]sessionotel.Option{
		"nil Option":         nil,
		"WithTracerProvider": sessionotel.WithTracerProvider(nil),
		"WithMeterProvider":  sessionotel.WithMeterProvider(nil),
	} {
		o, err := sessionotel.New(opt)
		require.ErrorIs(t, err, sessionotel.ErrInvalidOption, name)
		require.ErrorContains(t, err, name)
		require.Nil(t, o)
	}
	// With no options, the global (no-op by default) providers serve.
	o, err := sessionotel.New()
	require.NoError(t, err)
	o.Observe(context.Background(), session.Event{Op: "open", Duration: time.Millisecond})
}

// TestSpansAndMetrics runs a request's worth of operations under a parent
// span on each database and checks the spans (names, parent, times, status,
// attributes) and the metrics they left.
func TestSpansAndMetrics(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		r := newRig(t)
		table := testdb.Table(t, db)
		c := sessiontest.NewOn[Cart](t, db, session.WithTable(table), session.WithObserver(r.observe))

		ctx, parent := r.tp.Tracer("test").Start(context.Background(), "GET /cart")
		before := time.Now()

		// A new session, saved, then loaded twice: the second copy's save
		// is a conflict.
		s, err := c.Open(ctx, "")
		require.NoError(t, err)
		s.Data.Items = []string{"apple"}
		require.NoError(t, c.Save(ctx, s))
		tok := s.Token()
		a, err := c.Load(ctx, tok)
		require.NoError(t, err)
		b, err := c.Load(ctx, tok)
		require.NoError(t, err)
		require.NoError(t, c.Save(ctx, a))
		require.ErrorIs(t, c.Save(ctx, b), session.ErrConflict)

		// An unknown token: not found.
		_, err = c.Load(ctx, "")
		require.ErrorIs(t, err, session.ErrNotFound)

		// Update loses one race (a save lands inside fn) and retries.
		first := true
		_, err = c.Update(ctx, tok, func(v *Cart) error {
			if first {
				first = false
				o, err := c.Load(ctx, tok)
				require.NoError(t, err)
				require.NoError(t, c.Save(ctx, o))
			}
			v.Items = append(v.Items, "pear")
			return nil
		})
		require.NoError(t, err)

		// Two more sessions expire; a manual cleanup deletes them.
		for range 2 {
			e, err := c.Open(ctx, "")
			require.NoError(t, err)
			require.NoError(t, c.Save(ctx, e))
		}
		s, err = c.Load(ctx, tok)
		require.NoError(t, err)
		require.NoError(t, c.Destroy(ctx, s))
		require.NoError(t, c.AdjustTime(ctx, -48*time.Hour))
		n, err := c.Cleanup(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(2), n)

		after := time.Now()
		parent.End()

		spans := r.ours()
		r.mu.Lock()
		events := slices.Clone(r.events)
		r.mu.Unlock()
		var names []string
		for _, sp := range spans {
			names = append(names, sp.Name())
		}
		require.Equal(t, []string{
			"gormsession.open", "gormsession.save", "gormsession.load", "gormsession.load",
			"gormsession.save", "gormsession.save", "gormsession.load",
			"gormsession.load", "gormsession.save", "gormsession.update", // Update, with a save inside fn
			"gormsession.open", "gormsession.save", "gormsession.open", "gormsession.save",
			"gormsession.load", "gormsession.destroy", "gormsession.cleanup",
		}, names)
		require.Len(t, events, len(spans))

		var prevEnd time.Time
		for i, sp := range spans {
			e := events[i]
			require.Equal(t, "gormsession."+e.Op, sp.Name())
			// A child of the request's span, of kind internal.
			require.Equal(t, parent.SpanContext().TraceID(), sp.SpanContext().TraceID(), sp.Name())
			require.Equal(t, parent.SpanContext().SpanID(), sp.Parent().SpanID(), sp.Name())
			require.Equal(t, trace.SpanKindInternal, sp.SpanKind())
			// Placed where the operation ran: as long as the event says,
			// within the test's window, and (the operations being
			// sequential here, except inside Update's fn) in order.
			require.Equal(t, e.Duration, sp.EndTime().Sub(sp.StartTime()), sp.Name())
			require.False(t, sp.StartTime().Before(before), sp.Name())
			require.False(t, sp.EndTime().After(after), sp.Name())
			if sp.Name() != "gormsession.update" {
				require.False(t, sp.StartTime().Before(prevEnd), "%s starts before the previous span ended", sp.Name())
				prevEnd = sp.EndTime()
			}

			at := attrs(sp.Attributes())
			require.Equal(t, e.Op, at[sessionotel.OpKey].AsString())
			require.Equal(t, table, at[sessionotel.TableKey].AsString())
			if e.Err == nil {
				require.Equal(t, codes.Unset, sp.Status().Code, sp.Name())
				require.Equal(t, "ok", at[sessionotel.OutcomeKey].AsString())
				require.NotContains(t, at, attribute.Key("error.type"))
			} else {
				require.Equal(t, codes.Error, sp.Status().Code, sp.Name())
				require.Equal(t, session.ErrorKind(e.Err), sp.Status().Description)
				require.Equal(t, "error", at[sessionotel.OutcomeKey].AsString())
				require.Equal(t, session.ErrorKind(e.Err), at["error.type"].AsString())
			}
			require.Empty(t, sp.Events(), "no exception events: an error's text is never recorded")
		}

		// Attributes particular to some operations.
		at := attrs(spans[0].Attributes())
		require.True(t, at[sessionotel.NewKey].AsBool(), "open made a new session")
		require.True(t, attrs(spans[1].Attributes())[sessionotel.NewKey].AsBool(), "save inserted")
		require.False(t, attrs(spans[4].Attributes())[sessionotel.NewKey].AsBool(), "save updated")
		require.Equal(t, "conflict", attrs(spans[5].Attributes())["error.type"].AsString())
		require.Equal(t, "not_found", attrs(spans[6].Attributes())["error.type"].AsString())
		require.Equal(t, int64(1), attrs(spans[9].Attributes())[sessionotel.RetriesKey].AsInt64())
		cl := attrs(spans[16].Attributes())
		require.Equal(t, int64(2), cl[sessionotel.RowsKey].AsInt64())
		require.Equal(t, "manual", cl[sessionotel.CleanupTriggerKey].AsString())

		// Metrics.
		rm := r.collect(t)
		ok := map[attribute.Key]string{"gormsession.table": table, "gormsession.outcome": "ok"}
		with := func(m map[attribute.Key]string, kv ...string) map[attribute.Key]string {
			out := map[attribute.Key]string{}
			for k, v := range m {
				out[k] = v
			}
			for i := 0; i < len(kv); i += 2 {
				out[attribute.Key(kv[i])] = kv[i+1]
			}
			return out
		}
		const ops = "gormsession.operations"
		require.Equal(t, int64(5), sum(t, rm, ops, with(ok, "gormsession.op", "save")))
		require.Equal(t, int64(1), sum(t, rm, ops, with(ok, "gormsession.op", "save", "gormsession.outcome", "error", "error.type", "conflict")))
		require.Equal(t, int64(1), sum(t, rm, ops, with(ok, "gormsession.op", "load", "gormsession.outcome", "error", "error.type", "not_found")))
		require.Equal(t, int64(4), sum(t, rm, ops, with(ok, "gormsession.op", "load")))
		require.Equal(t, int64(1), sum(t, rm, ops, with(ok, "gormsession.op", "update")))
		require.Equal(t, int64(len(spans)-2), sum(t, rm, ops, ok), "one count per operation; two failed")
		require.Equal(t, uint64(3), histCount(t, rm, with(ok, "gormsession.op", "open")))
		require.Equal(t, uint64(1), histCount(t, rm, with(ok, "gormsession.op", "cleanup")))
		require.Equal(t, uint64(1), histCount(t, rm, with(ok, "gormsession.op", "save", "gormsession.outcome", "error", "error.type", "conflict")))
		require.Equal(t, int64(2), sum(t, rm, "gormsession.sessions.deleted",
			map[attribute.Key]string{"gormsession.op": "cleanup", "gormsession.table": table, "gormsession.cleanup.trigger": "manual"}))
		require.Equal(t, int64(1), sum(t, rm, "gormsession.update.retries", map[attribute.Key]string{"gormsession.table": table}))
	})
}

// TestRandomCleanup: the cleanup the hooks plugin fires runs without the
// caller's context, so its span is a root span; its rows reach the deleted
// sessions counter under trigger "random".
func TestRandomCleanup(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		r := newRig(t)
		table := testdb.Table(t, db)
		c := sessiontest.NewOn[Cart](t, db, session.WithTable(table), session.WithObserver(r.observe),
			session.WithCleanupFrequency(1))
		ctx, parent := r.tp.Tracer("test").Start(context.Background(), "request")
		defer parent.End()

		s, err := c.Open(ctx, "")
		require.NoError(t, err)
		require.NoError(t, c.Save(ctx, s))
		require.NoError(t, c.AdjustTime(ctx, -48*time.Hour))
		hooks.Of(db).Wait()
		ok, err := c.Exists(ctx, s.Token()) // a query on the table: a random cleanup starts
		require.NoError(t, err)
		require.False(t, ok)
		hooks.Of(db).Wait()

		var rows int64
		var runs int
		for _, sp := range r.ours() {
			if sp.Name() != "gormsession.cleanup" {
				require.Equal(t, parent.SpanContext().SpanID(), sp.Parent().SpanID(), sp.Name())
				continue
			}
			runs++
			require.False(t, sp.Parent().IsValid(), "a random cleanup's span is a root span")
			at := attrs(sp.Attributes())
			require.Equal(t, "random", at[sessionotel.CleanupTriggerKey].AsString())
			require.Equal(t, table, at[sessionotel.TableKey].AsString())
			require.Equal(t, codes.Unset, sp.Status().Code)
			rows += at[sessionotel.RowsKey].AsInt64()
		}
		require.Positive(t, runs)
		require.Equal(t, int64(1), rows, "the expired session was deleted once")
		require.Equal(t, int64(1), sum(t, r.collect(t), "gormsession.sessions.deleted",
			map[attribute.Key]string{"gormsession.op": "cleanup", "gormsession.table": table, "gormsession.cleanup.trigger": "random"}))
	})
}
