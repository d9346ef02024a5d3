package sessionotel_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"gorm.io/gorm"

	sessionotel "github.com/gormsession/gormsession/examples/otel"
	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/internal/token"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessiontest"
)

// A secret is a value that must never reach telemetry, with what it is
// (failure messages name the kind, never the value).
type secret struct{ kind, value string }

// exercise runs every kind of Container operation on c under ctx,
// failures included, with a recognisable subject and payload, and returns
// the secrets it handled: every token, every stored id (a token's hex
// SHA-256), the list handles, the subject and the payload.
func exercise(t *testing.T, ctx context.Context, c *session.Container[Cart]) []secret {
	t.Helper()
	marker := "payload-" + strings.ReplaceAll(t.Name(), "/", "-") + "-q7Zx"
	subject := "user:subject-" + marker
	var secrets []secret
	addToken := func(s *session.Session[Cart]) {
		secrets = append(secrets, secret{"token", s.Token()}, secret{"stored id", idOf(t, s.Token())})
	}

	s, err := c.Open(ctx, "")
	require.NoError(t, err)
	s.Data = Cart{Items: []string{marker}, Note: "note-" + marker}
	require.NoError(t, c.Save(ctx, s))
	addToken(s)
	_, err = c.Open(ctx, s.Token())
	require.NoError(t, err)
	ok, err := c.Exists(ctx, s.Token())
	require.NoError(t, err)
	require.True(t, ok)

	// Login: the subject, a new token.
	s.SetSubject(subject)
	require.NoError(t, c.Renew(ctx, s))
	addToken(s)

	// A second device of the same user, and the handles of the list page.
	o, err := c.Open(ctx, "")
	require.NoError(t, err)
	o.SetSubject(subject)
	o.Data.Note = marker
	require.NoError(t, c.Save(ctx, o))
	addToken(o)
	infos, err := c.List(ctx, subject)
	require.NoError(t, err)
	require.Len(t, infos, 2)
	for _, in := range infos {
		secrets = append(secrets, secret{"handle", in.Handle})
	}

	// An idle refresh ("touch") on load, once a tenth of the idle window
	// has passed.
	require.NoError(t, c.AdjustTime(ctx, -10*time.Minute))
	_, err = c.Load(ctx, s.Token())
	require.NoError(t, err)

	// Failures: too large, conflict, invalid subject, not found.
	big, err := c.Load(ctx, s.Token())
	require.NoError(t, err)
	big.Data.Note = strings.Repeat(marker, 100)
	require.ErrorIs(t, c.Save(ctx, big), session.ErrTooLarge)
	stale, err := c.Load(ctx, s.Token())
	require.NoError(t, err)
	_, err = c.Update(ctx, s.Token(), func(v *Cart) error { v.Items = append(v.Items, marker); return nil })
	require.NoError(t, err)
	require.ErrorIs(t, c.Save(ctx, stale), session.ErrConflict)
	bad, err := c.Open(ctx, "")
	require.NoError(t, err)
	bad.Data.Note = marker
	bad.SetSubject("user:\x00" + marker)
	require.ErrorIs(t, c.Save(ctx, bad), session.ErrInvalidSubject)
	_, err = c.DestroySubject(ctx, "user:\x00"+marker)
	require.ErrorIs(t, err, session.ErrInvalidSubject)
	_, err = c.Load(ctx, idOf(t, s.Token())) // an id is not a token
	require.ErrorIs(t, err, session.ErrNotFound)
	gone, err := c.Open(ctx, "")
	require.NoError(t, err)
	require.NoError(t, c.Save(ctx, gone))
	addToken(gone)
	require.NoError(t, c.Destroy(ctx, gone))
	_, err = c.Load(ctx, gone.Token()) // a well-formed token without a row
	require.ErrorIs(t, err, session.ErrNotFound)

	// Log out elsewhere, then everywhere; a cleanup.
	n, err := c.DestroyOthers(ctx, s)
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	_, err = c.DestroySubject(ctx, subject)
	require.NoError(t, err)
	_, err = c.Cleanup(ctx)
	require.NoError(t, err)

	payload, err := json.Marshal(s.Data)
	require.NoError(t, err)
	return append(secrets, secret{"subject", subject}, secret{"payload marker", marker}, secret{"payload", string(payload)})
}

// texts returns every string recorded in spans and rm: span names, status
// descriptions, attribute keys and values (of spans, events, links and
// resources), metric names, descriptions, units and data point
// attributes, and then all of it as JSON, the way an exporter sees it.
func texts(t *testing.T, spans []sdktrace.ReadOnlySpan, rm metricdata.ResourceMetrics) []string {
	t.Helper()
	var out []string
	for _, sp := range spans {
		out = append(out, sp.Name(), sp.Status().Description)
		kvs := slices.Clone(sp.Attributes())
		for _, ev := range sp.Events() {
			out = append(out, ev.Name)
			kvs = append(kvs, ev.Attributes...)
		}
		for _, l := range sp.Links() {
			kvs = append(kvs, l.Attributes...)
		}
		kvs = append(kvs, sp.Resource().Attributes()...)
		for _, kv := range kvs {
			out = append(out, string(kv.Key), kv.Value.String())
		}
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out = append(out, m.Name, m.Description, m.Unit)
			for _, set := range pointAttributes(t, m) {
				for _, kv := range set.ToSlice() {
					out = append(out, string(kv.Key), kv.Value.String())
				}
			}
		}
	}
	spansJSON, err := json.Marshal(tracetest.SpanStubsFromReadOnlySpans(spans))
	require.NoError(t, err)
	metricsJSON, err := json.Marshal(rm)
	require.NoError(t, err)
	return append(out, string(spansJSON), string(metricsJSON))
}

// leaks returns the kinds of the secrets found in any of texts, compared
// case-insensitively.
func leaks(texts []string, secrets []secret) []string {
	var found []string
	for _, s := range secrets {
		for _, text := range texts {
			if strings.Contains(strings.ToLower(text), strings.ToLower(s.value)) {
				found = append(found, s.kind)
				break
			}
		}
	}
	return found
}

// TestNoSecrets runs every kind of operation, failures included, then
// scans everything recorded: no token, stored id, list handle, subject or
// payload may appear, and only this package's attribute keys are used.
func TestNoSecrets(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		r := newRig(t)
		c := sessiontest.NewOn[Cart](t, db, session.WithObserver(r.observe),
			session.WithIdleTimeout(time.Hour), session.WithMaxPayloadSize(1024))
		ctx, parent := r.tp.Tracer("test").Start(context.Background(), "request")
		secrets := exercise(t, ctx, c)
		parent.End()

		// The scan covered every kind of operation and of failure.
		seen := map[string]bool{}
		for _, sp := range r.ours() {
			seen[sp.Name()] = true
			if k, ok := attrs(sp.Attributes())["error.type"]; ok {
				seen[k.AsString()] = true
			}
		}
		for _, want := range []string{"open", "load", "exists", "save", "update", "renew", "destroy",
			"destroy_subject", "destroy_others", "cleanup", "touch"} {
			require.True(t, seen["gormsession."+want], "no %s span", want)
		}
		for _, want := range []string{"too_large", "conflict", "invalid", "not_found"} {
			require.True(t, seen[want], "no %s failure", want)
		}

		// Only the documented attribute keys.
		allowed := []attribute.Key{sessionotel.OpKey, sessionotel.TableKey, sessionotel.OutcomeKey, "error.type",
			sessionotel.NewKey, sessionotel.RetriesKey, sessionotel.RowsKey, sessionotel.CleanupTriggerKey}
		for _, sp := range r.ours() {
			for _, kv := range sp.Attributes() {
				require.Contains(t, allowed, kv.Key, sp.Name())
			}
		}
		rm := r.collect(t)
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				for _, set := range pointAttributes(t, m) {
					for _, kv := range set.ToSlice() {
						require.Contains(t, allowed, kv.Key, m.Name)
					}
				}
			}
		}

		require.Empty(t, leaks(texts(t, r.spans.Ended(), rm), secrets), "secrets in the telemetry")
	})
}

// TestLeaksAreFound: the scan is not blind. A span that carries a stored
// id is caught.
func TestLeaksAreFound(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	c := sessiontest.New[Cart](t, session.WithObserver(r.observe))
	ctx := context.Background()
	s, err := c.Open(ctx, "")
	require.NoError(t, err)
	require.NoError(t, c.Save(ctx, s))
	tok, id := s.Token(), idOf(t, s.Token())
	_, leak := r.tp.Tracer("leaky").Start(ctx, "leaky")
	leak.SetAttributes(attribute.String("db.query.text", "SELECT * FROM sessions WHERE id = '"+strings.ToUpper(id)+"'"))
	leak.End()
	found := leaks(texts(t, r.spans.Ended(), r.collect(t)), []secret{{"token", tok}, {"stored id", id}})
	require.Equal(t, []string{"stored id"}, found)
}

// idOf returns the id a token is stored under: its hex SHA-256.
func idOf(t *testing.T, tok string) string {
	t.Helper()
	id, ok := token.Parse(tok)
	require.True(t, ok)
	return id
}

// pointAttributes returns the attribute sets of m's data points.
func pointAttributes(t *testing.T, m metricdata.Metrics) []attribute.Set {
	t.Helper()
	var out []attribute.Set
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, p := range d.DataPoints {
			out = append(out, p.Attributes)
		}
	case metricdata.Histogram[float64]:
		for _, p := range d.DataPoints {
			out = append(out, p.Attributes)
		}
	default:
		t.Fatalf("metric %s: unexpected data %T", m.Name, m.Data)
	}
	return out
}
