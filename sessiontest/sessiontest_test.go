package sessiontest_test

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessiontest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type cart struct {
	Items []string `json:"items"`
}

// unknownToken is well formed and was never issued: opening it is one
// query of the table that finds nothing.
const unknownToken = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"

// roundTrip saves a new session in c and loads it back.
func roundTrip(t *testing.T, c *session.Container[cart]) {
	t.Helper()
	ctx := context.Background()
	s, err := c.Open(ctx, "")
	require.NoError(t, err)
	require.True(t, s.IsNew())
	s.Data.Items = []string{"book", "pen"}
	require.NoError(t, c.Save(ctx, s))

	got, err := c.Load(ctx, s.Token())
	require.NoError(t, err)
	require.False(t, got.IsNew())
	require.Equal(t, []string{"book", "pen"}, got.Data.Items)
	ok, err := c.Exists(ctx, s.Token())
	require.NoError(t, err)
	require.True(t, ok)
}

// randomCleanups counts the random cleanups a container reports, and the
// rows they deleted, through session.WithObserver.
type randomCleanups struct {
	mu   sync.Mutex
	runs int
	rows int64
}

func (r *randomCleanups) option() session.Option {
	return session.WithObserver(func(_ context.Context, e session.Event) {
		if e.Op == "cleanup" && e.Random {
			r.mu.Lock()
			r.runs++
			r.rows += e.Rows
			r.mu.Unlock()
		}
	})
}

func (r *randomCleanups) get() (int, int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.runs, r.rows
}

// TestNewRoundTrip is the kit's main use: a container in one call, on
// SQLite unless GORMSESSION_TEST_DSN names another database.
func TestNewRoundTrip(t *testing.T) {
	t.Parallel()
	roundTrip(t, sessiontest.New[cart](t))
}

// TestOpenDefaultSQLite checks the default database: a SQLite file in the
// test's temporary directory, opened with the recommended settings, a new
// one per call.
func TestOpenDefaultSQLite(t *testing.T) {
	t.Parallel()
	if os.Getenv("GORMSESSION_TEST_DSN") != "" {
		t.Skip("GORMSESSION_TEST_DSN is set; the default database is not in use")
	}
	db := sessiontest.Open(t)
	require.Equal(t, "sqlite", db.Dialector.Name())

	var journal string
	var busy, synchronous int
	require.NoError(t, db.Raw("PRAGMA journal_mode").Scan(&journal).Error)
	require.NoError(t, db.Raw("PRAGMA busy_timeout").Scan(&busy).Error)
	require.NoError(t, db.Raw("PRAGMA synchronous").Scan(&synchronous).Error)
	require.Equal(t, "wal", journal)
	require.Equal(t, 10000, busy)
	require.Equal(t, 1, synchronous, "synchronous=NORMAL")

	var files []struct {
		Seq  int
		Name string
		File string
	}
	require.NoError(t, db.Raw("PRAGMA database_list").Scan(&files).Error)
	require.NotEmpty(t, files)
	tempRoot := filepath.Dir(t.TempDir()) // the parent of every t.TempDir() of t
	require.True(t, strings.HasPrefix(files[0].File, tempRoot+string(filepath.Separator)),
		"the database file is in the test's temporary directory")

	other := sessiontest.Open(t)
	require.NoError(t, db.Exec("CREATE TABLE only_here (id INTEGER)").Error)
	require.False(t, other.Migrator().HasTable("only_here"), "each Open is a database of its own")
}

// TestContainersIsolated: sessions saved by one test's container are not
// seen by another's, whether they run on databases of their own (the
// default) or share one.
func TestContainersIsolated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("two tests", func(t *testing.T) {
		t.Parallel()
		c := sessiontest.New[cart](t)
		s, err := c.Open(ctx, "")
		require.NoError(t, err)
		require.NoError(t, c.Save(ctx, s))
		// A test of its own, run while this one's container still exists.
		t.Run("other", func(t *testing.T) {
			other := sessiontest.New[cart](t)
			_, err := other.Load(ctx, s.Token())
			require.ErrorIs(t, err, session.ErrNotFound)
		})
		_, err = c.Load(ctx, s.Token())
		require.NoError(t, err)
	})

	t.Run("one database", func(t *testing.T) {
		t.Parallel()
		db := sessiontest.Open(t)
		a := sessiontest.NewOn[cart](t, db)
		b := sessiontest.NewOn[cart](t, db)
		s, err := a.Open(ctx, "")
		require.NoError(t, err)
		require.NoError(t, a.Save(ctx, s))
		_, err = b.Load(ctx, s.Token())
		require.ErrorIs(t, err, session.ErrNotFound)
		_, err = a.Load(ctx, s.Token())
		require.NoError(t, err)
	})
}

// TestClockDrivesExpiry: WithClock decides when a session expires.
func TestClockDrivesExpiry(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := sessiontest.NewClock(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))
	c := sessiontest.New[cart](t, sessiontest.WithClock(clock.Now), session.WithLifetime(time.Hour))

	s, err := c.Open(ctx, "")
	require.NoError(t, err)
	require.NoError(t, c.Save(ctx, s))
	require.Equal(t, clock.Now().Add(time.Hour).UnixMilli(), s.ExpiresAt().UnixMilli())

	clock.Advance(59 * time.Minute)
	_, err = c.Load(ctx, s.Token())
	require.NoError(t, err)

	clock.Advance(2 * time.Hour)
	_, err = c.Load(ctx, s.Token())
	require.ErrorIs(t, err, session.ErrNotFound)
	ok, err := c.Exists(ctx, s.Token())
	require.NoError(t, err)
	require.False(t, ok)
}

// saveSessions saves n sessions in c.
func saveSessions(t *testing.T, c *session.Container[cart], n int) {
	t.Helper()
	ctx := context.Background()
	for range n {
		s, err := c.Open(ctx, "")
		require.NoError(t, err)
		require.NoError(t, c.Save(ctx, s))
	}
}

// TestRandomCleanupOffByDefault: New turns the random cleanup off, so
// expired rows stay until Cleanup runs.
func TestRandomCleanupOffByDefault(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := sessiontest.Open(t)
	clock := sessiontest.NewClock(time.Now())
	var seen randomCleanups
	c := sessiontest.NewOn[cart](t, db, sessiontest.WithClock(clock.Now), session.WithLifetime(time.Hour), seen.option())

	saveSessions(t, c, 3)
	clock.Advance(2 * time.Hour)
	for range 200 {
		_, err := c.Open(ctx, unknownToken)
		require.NoError(t, err)
	}
	hooks.Of(db).Wait()
	runs, _ := seen.get()
	require.Zero(t, runs)
	n, err := c.Cleanup(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 3, n, "the expired rows were left for Cleanup")
}

// TestWithCleanupRand: options can turn the random cleanup on, and
// WithCleanupRand makes its dice deterministic.
func TestWithCleanupRand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("every query", func(t *testing.T) {
		t.Parallel()
		db := sessiontest.Open(t)
		clock := sessiontest.NewClock(time.Now())
		var seen randomCleanups
		c := sessiontest.NewOn[cart](t, db, sessiontest.WithClock(clock.Now), session.WithLifetime(time.Hour),
			session.WithCleanupFrequency(1), sessiontest.WithCleanupRand(rand.NewPCG(1, 2)), seen.option())
		saveSessions(t, c, 3)
		hooks.Of(db).Wait() // for cleanups the saves may have fired, before the sessions expire
		clock.Advance(2 * time.Hour)
		runs, rows := seen.get()

		_, err := c.Open(ctx, unknownToken) // one query: the dice fire
		require.NoError(t, err)
		hooks.Of(db).Wait() // lets the cleanup it started finish (Close would cancel it)
		runsAfter, rowsAfter := seen.get()
		require.GreaterOrEqual(t, runsAfter-runs, 1)
		require.EqualValues(t, 3, rowsAfter-rows, "the random cleanup deleted the expired rows")
		n, err := c.Cleanup(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
	})

	t.Run("same seed, same runs", func(t *testing.T) {
		t.Parallel()
		db := sessiontest.Open(t)
		// fired opens c unknown 40 times, waiting after each, and records
		// which opens fired a cleanup.
		fired := func(seed uint64) []bool {
			var seen randomCleanups
			c := sessiontest.NewOn[cart](t, db, session.WithCleanupFrequency(3),
				sessiontest.WithCleanupRand(rand.NewPCG(seed, seed)), seen.option())
			var out []bool
			for range 40 {
				before, _ := seen.get()
				_, err := c.Open(ctx, unknownToken)
				require.NoError(t, err)
				hooks.Of(db).Wait()
				after, _ := seen.get()
				out = append(out, after > before)
			}
			return out
		}
		first, second := fired(7), fired(7)
		require.Equal(t, first, second)
		require.Contains(t, first, true)
		require.Contains(t, first, false)
		require.NotEqual(t, first, fired(8), "another seed, other runs")
	})
}

// TestTableDropped: the table of a container is gone once its test ends.
func TestTableDropped(t *testing.T) {
	t.Parallel()
	db := sessiontest.Open(t)
	// Record the tables the kit's statements name.
	var mu sync.Mutex
	var tables []string
	record := func(tx *gorm.DB) {
		mu.Lock()
		defer mu.Unlock()
		if name := tx.Statement.Table; strings.HasPrefix(name, "t_") && !slices.Contains(tables, name) {
			tables = append(tables, name)
		}
	}
	seen := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(tables)
	}
	require.NoError(t, db.Callback().Query().After("gorm:query").Register("sessiontest_test:query", record))
	require.NoError(t, db.Callback().Row().After("gorm:row").Register("sessiontest_test:row", record))

	t.Run("test", func(t *testing.T) {
		roundTrip(t, sessiontest.NewOn[cart](t, db))
		require.Len(t, seen(), 1)
		require.True(t, db.Migrator().HasTable(seen()[0]))
	})
	require.Len(t, seen(), 1)
	require.False(t, db.Migrator().HasTable(seen()[0]), "the table was dropped when the test ended")
}

// TestOpenClosedAfterTest: the pool of Open is closed when its test ends.
func TestOpenClosedAfterTest(t *testing.T) {
	t.Parallel()
	var db *gorm.DB
	t.Run("test", func(t *testing.T) {
		db = sessiontest.Open(t)
		require.NoError(t, db.Exec("SELECT 1").Error)
	})
	sqlDB, err := db.DB()
	require.NoError(t, err)
	require.ErrorContains(t, sqlDB.Ping(), "database is closed")
}
