package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/session"
)

func openSQLite(t *testing.T) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(sqlite.Open(session.SQLiteDSN(filepath.Join(t.TempDir(), "test.db"))), &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	sqlDB, err := db.DB()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sqlDB.Close() })
	return db
}

// histogramCount returns how many observations the histogram series of
// name with the given labels holds in reg.
func histogramCount(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) uint64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue metrics
				}
			}
			return m.GetHistogram().GetSampleCount()
		}
	}
	return 0
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openSQLite(t)
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg, "sessions")
	require.NoError(t, err)
	c, err := session.New[Visits](db, session.WithObserver(m.Observe), session.WithCleanupFrequency(0))
	require.NoError(t, err)

	// A new session, saved, then opened again.
	s, err := c.Open(ctx, "")
	require.NoError(t, err)
	s.Data.Count = 1
	require.NoError(t, c.Save(ctx, s))
	tok := s.Token()
	_, err = c.Open(ctx, tok)
	require.NoError(t, err)

	// Two copies saved: the second is a conflict.
	a, err := c.Load(ctx, tok)
	require.NoError(t, err)
	b, err := c.Load(ctx, tok)
	require.NoError(t, err)
	require.NoError(t, c.Save(ctx, a))
	require.ErrorIs(t, c.Save(ctx, b), session.ErrConflict)

	// Update loses one race (a save lands inside fn) and retries once.
	first := true
	s, err = c.Update(ctx, tok, func(v *Visits) error {
		if first {
			first = false
			o, err := c.Load(ctx, tok)
			require.NoError(t, err)
			o.Data.Count = 100
			require.NoError(t, c.Save(ctx, o))
		}
		v.Count++
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 101, s.Data.Count)

	// Log in: subject and new token.
	s.SetSubject("user:1")
	require.NoError(t, c.Renew(ctx, s))

	// An unknown token is ErrNotFound for Load.
	_, err = c.Load(ctx, "")
	require.ErrorIs(t, err, session.ErrNotFound)

	// A second session of user:1, then "log out everywhere".
	s2, err := c.Open(ctx, "")
	require.NoError(t, err)
	s2.SetSubject("user:1")
	require.NoError(t, c.Save(ctx, s2))
	n, err := c.DestroySubject(ctx, "user:1")
	require.NoError(t, err)
	require.Equal(t, int64(2), n)

	// One session destroyed at logout.
	s3, err := c.Open(ctx, "")
	require.NoError(t, err)
	require.NoError(t, c.Save(ctx, s3))
	require.NoError(t, c.Destroy(ctx, s3))

	// Three sessions expire; a manual cleanup deletes them.
	for range 3 {
		e, err := c.Open(ctx, "")
		require.NoError(t, err)
		require.NoError(t, c.Save(ctx, e))
	}
	require.NoError(t, c.AdjustTime(ctx, -48*time.Hour))
	n, err = c.Cleanup(ctx)
	require.NoError(t, err)
	require.Equal(t, int64(3), n)

	// A second container, on its own table, whose every query fires the
	// random cleanup.
	m2, err := NewMetrics(reg, "random")
	require.NoError(t, err)
	r, err := session.New[Visits](db, session.WithTable("random"), session.WithObserver(m2.Observe), session.WithCleanupFrequency(1))
	require.NoError(t, err)
	rs, err := r.Open(ctx, "") // an empty token runs no query
	require.NoError(t, err)
	require.NoError(t, r.Save(ctx, rs))
	require.NoError(t, r.AdjustTime(ctx, -48*time.Hour))
	ok, err := r.Exists(ctx, rs.Token()) // one query: one random cleanup
	require.NoError(t, err)
	require.False(t, ok)
	hooks.Of(db).Wait()

	value := func(c prometheus.Collector) float64 { return testutil.ToFloat64(c) }
	require.Equal(t, 6.0, value(m.opens.WithLabelValues("new")))
	require.Equal(t, 1.0, value(m.opens.WithLabelValues("existing")))
	require.Equal(t, 6.0, value(m.saves.WithLabelValues("insert")))
	require.Equal(t, 2.0, value(m.saves.WithLabelValues("update")), "a's save and the save inside Update's fn")
	require.Equal(t, 1.0, value(m.conflicts.WithLabelValues("save")))
	require.Equal(t, 1.0, value(m.updateRetries))
	require.Equal(t, 1.0, value(m.renewals))
	require.Equal(t, 1.0, value(m.destroys.WithLabelValues("session")))
	require.Equal(t, 1.0, value(m.destroys.WithLabelValues("subject")))
	require.Equal(t, 2.0, value(m.destroyedRows))
	require.Equal(t, 1.0, value(m.cleanupRuns.WithLabelValues("manual")))
	require.Equal(t, 3.0, value(m.cleanupDeleted.WithLabelValues("manual")))
	require.Equal(t, 0.0, value(m.cleanupRuns.WithLabelValues("random")))
	require.Equal(t, 1.0, value(m.errors.WithLabelValues("save", "conflict")))
	require.Equal(t, 1.0, value(m.errors.WithLabelValues("load", "not_found")))
	require.Equal(t, 1.0, value(m2.cleanupRuns.WithLabelValues("random")))
	require.Equal(t, 1.0, value(m2.cleanupDeleted.WithLabelValues("random")))

	require.Equal(t, uint64(7), histogramCount(t, reg, "gormsession_operation_duration_seconds",
		map[string]string{"table": "sessions", "op": "open"}))
	require.Equal(t, uint64(4), histogramCount(t, reg, "gormsession_operation_duration_seconds",
		map[string]string{"table": "sessions", "op": "load"}))
	require.Equal(t, uint64(1), histogramCount(t, reg, "gormsession_cleanup_duration_seconds",
		map[string]string{"table": "random", "trigger": "random"}))

	// The table label tells the two containers apart in one registry.
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP gormsession_cleanup_runs_total Cleanup runs that finished without error, by trigger: random (the hook) or manual (Cleanup).
# TYPE gormsession_cleanup_runs_total counter
gormsession_cleanup_runs_total{table="random",trigger="random"} 1
gormsession_cleanup_runs_total{table="sessions",trigger="manual"} 1
gormsession_cleanup_runs_total{table="sessions",trigger="random"} 0
`), "gormsession_cleanup_runs_total"))

	// A second set of metrics for the same table is refused.
	_, err = NewMetrics(reg, "sessions")
	require.Error(t, err)
}

func TestHandler(t *testing.T) {
	t.Parallel()
	db := openSQLite(t)
	reg := prometheus.NewRegistry()
	visits, err := newContainer(db, reg, session.WithCleanupFrequency(0))
	require.NoError(t, err)
	h := countVisits(visits)

	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	require.Equal(t, "visits: 1\n", rec.Body.String())
	cookies := rec.Result().Cookies()
	require.Len(t, cookies, 1)

	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(cookies[0])
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, "visits: 2\n", rec.Body.String())

	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP gormsession_opens_total Sessions opened, by whether a fresh one was made (result=new) or a stored one found (result=existing).
# TYPE gormsession_opens_total counter
gormsession_opens_total{result="existing",table="sessions"} 1
gormsession_opens_total{result="new",table="sessions"} 1
# HELP gormsession_saves_total Sessions saved by Save, by kind: insert (a new session) or update.
# TYPE gormsession_saves_total counter
gormsession_saves_total{kind="insert",table="sessions"} 1
gormsession_saves_total{kind="update",table="sessions"} 1
`), "gormsession_opens_total", "gormsession_saves_total"))
}
