package hooks_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessiontest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, testdb.LeakOptions...) }

type payload struct{ N int }

// container makes a sessions table on db with the given cleanup frequency
// and a seeded random source.
func container(t *testing.T, db *gorm.DB, freq int, opts ...session.Option) (*session.Container[payload], string) {
	t.Helper()
	table := testdb.Table(t, db)
	opts = append([]session.Option{session.WithTable(table), session.WithCleanupFrequency(freq),
		sessiontest.WithCleanupRand(rand.NewPCG(1, 2))}, opts...)
	c, err := session.New[payload](db, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { hooks.Of(db).Wait() })
	return c, table
}

// openUnknown opens n well-formed tokens that were never stored: each is
// one query of the table.
func openUnknown(t *testing.T, c *session.Container[payload], n int) {
	t.Helper()
	ctx := context.Background()
	s, err := c.Open(ctx, "")
	require.NoError(t, err)
	tok := s.Token()
	for range n {
		s, err := c.Open(ctx, tok)
		require.NoError(t, err)
		require.True(t, s.IsNew())
	}
}

func TestFiresWithinBinomialBand(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		c, table := container(t, db, 100)
		const opens, freq = 10000, 100
		openUnknown(t, c, opens)
		hooks.Of(db).Wait()
		st := hooks.Of(db).Stats(table)
		require.EqualValues(t, opens, st.Rolls)
		fired := float64(st.Started + st.Skipped)
		mean := opens / float64(freq)
		sigma := math.Sqrt(opens * (1.0 / freq) * (1 - 1.0/freq))
		require.InDelta(t, mean, fired, 3*sigma, "fired %v times", fired)
		require.Zero(t, st.Failures)
		t.Logf("%s: fired %v times in %d opens (band %.0f..%.0f), %d skipped while one ran",
			testdb.Dialect(db), fired, opens, mean-3*sigma, mean+3*sigma, st.Skipped)
	})
}

func TestFrequencyZeroNeverFires(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		c, table := container(t, db, 0)
		openUnknown(t, c, 2000)
		require.Equal(t, hooks.Stats{}, hooks.Of(db).Stats(table))
	})
}

func TestCleanupDeletesExpiredRows(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		c, table := container(t, db, 1, session.WithLifetime(time.Hour))
		ctx := context.Background()
		for range 5 {
			s, _ := c.Open(ctx, "")
			require.NoError(t, c.Save(ctx, s))
		}
		hooks.Of(db).Wait()
		require.NoError(t, c.AdjustTime(ctx, -2*time.Hour))
		openUnknown(t, c, 1)
		hooks.Of(db).Wait()
		var n int64
		require.NoError(t, db.Table(table).Count(&n).Error)
		require.Zero(t, n)
		require.EqualValues(t, 5, hooks.Of(db).Stats(table).Deleted)
	})
}

func TestFailingCleanupNeverFailsTheQuery(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		c, table := container(t, db, 1)
		p := hooks.Of(db)
		var calls atomic.Int64
		p.Unregister(table)
		require.NoError(t, p.Register(hooks.Table{Name: table, Frequency: 1,
			Cleanup: func(context.Context, *gorm.DB) (int64, error) {
				if calls.Add(1)%2 == 0 {
					panic("cleanup exploded")
				}
				return 0, errors.New("cleanup failed")
			}}))
		for range 50 {
			openUnknown(t, c, 1)
			p.Wait()
		}
		st := p.Stats(table)
		require.EqualValues(t, calls.Load(), st.Failures)
		require.Equal(t, st.Started, st.Failures)
		require.GreaterOrEqual(t, st.Started, int64(50))
	})
}

func TestNeverRunsInsideTheCallersTransaction(t *testing.T) {
	t.Parallel()
	for _, skip := range []bool{false, true} {
		name := "default-transaction"
		if skip {
			name = "skip-default-transaction"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, d := range testdb.All {
				t.Run(d, func(t *testing.T) {
					t.Parallel()
					db := testdb.Open(t, d, &gorm.Config{SkipDefaultTransaction: skip})
					c, table := container(t, db, 0, session.WithLifetime(time.Hour))
					ctx := context.Background()
					for range 3 {
						s, _ := c.Open(ctx, "")
						require.NoError(t, c.Save(ctx, s))
					}
					require.NoError(t, c.AdjustTime(ctx, -2*time.Hour))

					// Observe where the cleanup runs, then let the real one run.
					p := hooks.Of(db)
					var inTx, ran atomic.Bool
					real := func(ctx context.Context, root *gorm.DB) (int64, error) {
						_, isTx := root.Statement.ConnPool.(gorm.TxCommitter)
						inTx.Store(isTx)
						ran.Store(true)
						return c.WithTx(root).Cleanup(ctx)
					}
					p.Unregister(table)
					require.NoError(t, p.Register(hooks.Table{Name: table, Frequency: 1, Cleanup: real}))

					tx := db.Begin()
					require.NoError(t, tx.Error)
					s, err := c.WithTx(tx).Open(ctx, "")
					require.NoError(t, err)
					_, err = c.WithTx(tx).Open(ctx, s.Token()) // a query of the table inside tx
					require.NoError(t, err)
					require.NoError(t, tx.Rollback().Error)
					p.Wait()

					require.True(t, ran.Load())
					require.False(t, inTx.Load(), "cleanup ran on a transaction")
					var n int64
					require.NoError(t, db.Table(table).Count(&n).Error)
					require.Zero(t, n, "the cleanup's deletes must survive the caller's rollback")
				})
			}
		})
	}
}

func TestAtMostOneRunPerTable(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	c, table := container(t, db, 1)
	p := hooks.Of(db)
	release := make(chan struct{})
	var running, most atomic.Int64
	p.Unregister(table)
	require.NoError(t, p.Register(hooks.Table{Name: table, Frequency: 1,
		Cleanup: func(context.Context, *gorm.DB) (int64, error) {
			n := running.Add(1)
			if n > most.Load() {
				most.Store(n)
			}
			<-release
			running.Add(-1)
			return 0, nil
		}}))
	openUnknown(t, c, 20)
	close(release)
	p.Wait()
	st := p.Stats(table)
	require.EqualValues(t, 1, most.Load())
	require.EqualValues(t, 1, st.Started)
	require.EqualValues(t, 20, st.Skipped+st.Started)
}

func TestReactsOnlyToItsOwnTableAndSuccessfulQueries(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	_, table := container(t, db, 1)
	p := hooks.Of(db)
	var calls atomic.Int64
	p.Unregister(table)
	require.NoError(t, p.Register(hooks.Table{Name: table, Frequency: 1,
		Cleanup: func(context.Context, *gorm.DB) (int64, error) { calls.Add(1); return 0, nil }}))

	other := testdb.Table(t, db)
	require.NoError(t, db.Exec("CREATE TABLE "+other+" (id INTEGER)").Error)
	var n int64
	require.NoError(t, db.Table(other).Count(&n).Error)
	// A failing statement on our table and a dry run roll no dice.
	require.Error(t, db.Table(table).Where("no_such_column = 1").Count(&n).Error)
	var rows []map[string]any
	require.NoError(t, db.Session(&gorm.Session{DryRun: true}).Table(table).Find(&rows).Error)
	p.Wait()
	require.Zero(t, p.Stats(table).Rolls)
	require.Zero(t, calls.Load())

	require.NoError(t, db.Table(table).Count(&n).Error)
	p.Wait()
	require.EqualValues(t, 1, calls.Load())
}

func TestInstallIsIdempotent(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	p1, err := hooks.Install(db)
	require.NoError(t, err)
	p2, err := hooks.Install(db)
	require.NoError(t, err)
	require.Same(t, p1, p2)
	require.Equal(t, "gormsession:cleanup", p1.Name())
	require.NoError(t, p1.Initialize(db), "a second Initialize is harmless")
	require.Error(t, p1.Register(hooks.Table{Name: "x"}), "a table needs a cleanup")
	var nilPlugin *hooks.Plugin
	nilPlugin.Wait()
	require.Equal(t, hooks.Stats{}, nilPlugin.Stats("x"))
}

// TestSecondContainerCannotChangeTheFirstsCleanup: a second container on
// the same table and database with other cleanup settings is refused by
// New, and the first container's settings stay in force; one with the same
// settings shares the table's cleanup.
func TestSecondContainerCannotChangeTheFirstsCleanup(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		a, table := container(t, db, 0)
		_, err := session.New[payload](db, session.WithTable(table), session.WithCleanupFrequency(1))
		require.ErrorIs(t, err, hooks.ErrConflictingRegistration)
		require.Contains(t, err.Error(), "frequency 0")
		_, err = session.New[payload](db, session.WithTable(table), session.WithCleanupFrequency(0),
			session.WithCleanupTimeout(3*time.Second))
		require.ErrorIs(t, err, hooks.ErrConflictingRegistration)

		b, err := session.New[payload](db, session.WithTable(table), session.WithCleanupFrequency(0))
		require.NoError(t, err)
		openUnknown(t, a, 200)
		openUnknown(t, b, 200)
		require.Equal(t, hooks.Stats{}, hooks.Of(db).Stats(table), "frequency 0 must stay 0")

		// The reverse: a table whose first container cleans on every query
		// keeps doing so after a refused frequency-0 container.
		c, other := container(t, db, 1)
		_, err = session.New[payload](db, session.WithTable(other), session.WithCleanupFrequency(0))
		require.ErrorIs(t, err, hooks.ErrConflictingRegistration)
		openUnknown(t, c, 10)
		hooks.Of(db).Wait()
		require.EqualValues(t, 10, hooks.Of(db).Stats(other).Rolls)
	})
}

// TestCloseRacingQueries: Close while many queries of the table fire
// cleanups (and a test Waits meanwhile): once Close returns no random
// cleanup of the container runs any more, and nothing panics or leaks.
func TestCloseRacingQueries(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	var runs atomic.Int64
	c, _ := container(t, db, 1, session.WithObserver(func(_ context.Context, e session.Event) {
		if e.Op == "cleanup" && e.Random {
			runs.Add(1)
		}
	}))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					openUnknown(t, c, 1)
					hooks.Of(db).Wait()
				}
			}
		})
	}
	for runs.Load() < 5 {
		openUnknown(t, c, 1)
	}
	require.NoError(t, c.Close())
	after := runs.Load()
	openUnknown(t, c, 200) // the container still works, without dice
	close(stop)
	wg.Wait()
	hooks.Of(db).Wait()
	require.Equal(t, after, runs.Load(), "a random cleanup ran after Close returned")
}
