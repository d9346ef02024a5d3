package session_test

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessiontest"
)

// TestReliabilityUpdateNoLostUpdates: 64 goroutines each call Update 50
// times on one session. Every increment lands: the final counter is exact,
// every call was observed, and none gave up with ErrConflict (64 writers
// on one row must queue, not starve). bench/cmd/reliability runs the same
// workload at 64 x 100 and reports retries and latencies.
func TestReliabilityUpdateNoLostUpdates(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		var observed atomic.Int64
		e := setup(t, db, session.WithObserver(func(_ context.Context, ev session.Event) {
			if ev.Op == "update" {
				observed.Add(1)
			}
		}))
		ctx := context.Background()
		s, _ := e.c.Open(ctx, "")
		require.NoError(t, e.c.Save(ctx, s))

		workers, each := 64, load(50, 12)
		var wg sync.WaitGroup
		var failed atomic.Int64
		var firstErr atomic.Value
		for range workers {
			wg.Go(func() {
				for range each {
					if _, err := e.c.Update(ctx, s.Token(), func(c *Cart) error { c.Count++; return nil }); err != nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err)
					}
				}
			})
		}
		wg.Wait()
		got, err := e.c.Load(ctx, s.Token())
		require.NoError(t, err)
		// No update is lost silently: the counter is exactly the number
		// of Updates that returned nil...
		require.Equal(t, workers*each-int(failed.Load()), got.Data.Count, "lost updates")
		require.EqualValues(t, workers*each, observed.Load())
		// ...and none gives up: every one lands.
		if err, _ := firstErr.Load().(error); err != nil {
			require.NoError(t, err, "%d of %d updates failed", failed.Load(), workers*each)
		}
		require.Equal(t, workers*each, got.Data.Count)
	})
}

// TestReliabilityStaleSaveNeverSilent: 64 goroutines each load, increment
// and Save 50 times with plain Save. Every Save either lands or fails with
// ErrConflict: successes + conflicts = attempts, and the final counter
// equals the successes, so no save was lost silently.
func TestReliabilityStaleSaveNeverSilent(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db)
		ctx := context.Background()
		s, _ := e.c.Open(ctx, "")
		require.NoError(t, e.c.Save(ctx, s))

		workers, each := 64, load(50, 12)
		var wins, conflicts atomic.Int64
		var other sync.Map
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for range each {
					cp, err := e.c.Load(ctx, s.Token())
					if err != nil {
						other.Store(w, err)
						return
					}
					cp.Data.Count++
					switch err := e.c.Save(ctx, cp); {
					case err == nil:
						wins.Add(1)
					case errors.Is(err, session.ErrConflict):
						conflicts.Add(1)
					default:
						other.Store(w, err)
						return
					}
				}
			})
		}
		wg.Wait()
		other.Range(func(_, v any) bool { require.NoError(t, v.(error)); return false })
		require.EqualValues(t, workers*each, wins.Load()+conflicts.Load(), "every attempt is a win or a conflict")
		got, err := e.c.Load(ctx, s.Token())
		require.NoError(t, err)
		require.EqualValues(t, wins.Load(), got.Data.Count, "a save was lost silently")
		require.Positive(t, conflicts.Load(), "no race happened; the test proves nothing")
	})
}

// TestReliabilityDestroyVersusSave races a Destroy against a Save and an
// Update of other copies of the same session, 1,000 times. Afterwards the
// session is gone every time: a save that lost the race fails with
// ErrNotFound (or ErrConflict) and never re-creates the row. And no call
// returns a deadlock error: a logout that failed because a request saved
// at the same moment would leave the session alive. (InnoDB reports
// deadlocks, error 1213, between these single-row statements; they must be
// retried, not returned.)
func TestReliabilityDestroyVersusSave(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db)
		res := destroyRaces(t, e, load(1000, 250))
		require.EqualValues(t, 0, e.count(t), "a destroyed session came back")
		require.Zero(t, res.deadlocks.Load(), "deadlock errors returned to the caller in %d trials", res.trials)
	})
}

type raceResult struct {
	trials                                       int
	savedFirst, notFound, updNotFound, deadlocks atomic.Int64
}

func destroyRaces(t *testing.T, e env, trials int) *raceResult {
	t.Helper()
	ctx := context.Background()
	res := &raceResult{trials: trials}
	var wg sync.WaitGroup
	jobs := make(chan int)
	var firstErr atomic.Value
	for range 8 {
		wg.Go(func() {
			for range jobs {
				if firstErr.Load() != nil {
					continue
				}
				if err := destroyVersusSave(ctx, e, res); err != nil {
					firstErr.CompareAndSwap(nil, err)
				}
			}
		})
	}
	for i := range trials {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		require.NoError(t, err)
	}
	require.EqualValues(t, trials, res.savedFirst.Load()+res.notFound.Load())
	return res
}

// isDeadlock reports a MySQL/MariaDB deadlock (error 1213).
func isDeadlock(err error) bool {
	return err != nil && strings.Contains(err.Error(), "Error 1213")
}

func destroyVersusSave(ctx context.Context, e env, res *raceResult) error {
	s, err := e.c.Open(ctx, "")
	if err != nil {
		return err
	}
	s.Data.Items = []string{"v1"}
	if err := e.c.Save(ctx, s); err != nil {
		return err
	}
	a, err := e.c.Load(ctx, s.Token())
	if err != nil {
		return err
	}
	b, err := e.c.Load(ctx, s.Token())
	if err != nil {
		return err
	}
	b.Data.Items = []string{"v2"}
	var saveErr, updErr, destroyErr error
	var wg sync.WaitGroup
	wg.Go(func() { destroyErr = e.c.Destroy(ctx, a) })
	wg.Go(func() { saveErr = e.c.Save(ctx, b) })
	wg.Go(func() {
		_, updErr = e.c.Update(ctx, s.Token(), func(c *Cart) error { c.Count++; return nil })
	})
	wg.Wait()
	for _, err := range []error{destroyErr, saveErr, updErr} {
		if isDeadlock(err) {
			res.deadlocks.Add(1)
		}
	}
	for i := 0; isDeadlock(destroyErr) && i < 10; i++ {
		destroyErr = e.c.Destroy(ctx, a)
	}
	if destroyErr != nil {
		return destroyErr
	}
	switch {
	case saveErr == nil:
		res.savedFirst.Add(1)
	case errors.Is(saveErr, session.ErrNotFound), isDeadlock(saveErr):
		res.notFound.Add(1)
	case errors.Is(saveErr, session.ErrConflict): // the Update landed in between
		res.savedFirst.Add(1)
	default:
		return saveErr
	}
	switch {
	case updErr == nil, isDeadlock(updErr):
	case errors.Is(updErr, session.ErrNotFound):
		res.updNotFound.Add(1)
	default:
		return updErr
	}
	// Nothing the losers do afterwards brings it back.
	if err := e.c.Save(ctx, b); err == nil {
		return errors.New("a save after destroy succeeded")
	} else if isDeadlock(err) {
		res.deadlocks.Add(1)
	} else if !errors.Is(err, session.ErrNotFound) && !errors.Is(err, session.ErrConflict) {
		return err
	}
	ok, err := e.c.Exists(ctx, s.Token())
	if err != nil {
		return err
	}
	if ok {
		return errors.New("the session exists after destroy")
	}
	return nil
}

// TestReliabilityManySessionsAtOnce: 200 goroutines each work on their own
// session for a fixed number of operations (open, save, update, load,
// exists, renew). No operation fails and every session ends with exactly
// the count its goroutine wrote.
func TestReliabilityManySessionsAtOnce(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db)
		ctx := context.Background()
		const workers = 200
		rounds := load(10, 5)
		tokens := make([]string, workers)
		counts := make([]int, workers)
		errs := make([]error, workers)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() { tokens[w], counts[w], errs[w] = oneSessionWorker(ctx, e, rounds) })
		}
		wg.Wait()
		for w, err := range errs {
			require.NoError(t, err, "worker %d", w)
		}
		for w, tok := range tokens {
			got, err := e.c.Load(ctx, tok)
			require.NoError(t, err, "worker %d", w)
			require.Equal(t, counts[w], got.Data.Count, "worker %d", w)
		}
		require.EqualValues(t, workers, e.count(t))
	})
}

func oneSessionWorker(ctx context.Context, e env, rounds int) (string, int, error) {
	s, err := e.c.Open(ctx, "")
	if err != nil {
		return "", 0, err
	}
	if err := e.c.Save(ctx, s); err != nil {
		return "", 0, err
	}
	tok, count := s.Token(), 0
	for i := range rounds {
		s, err := e.c.Open(ctx, tok)
		if err != nil {
			return "", 0, err
		}
		if s.IsNew() {
			return "", 0, errors.New("own session not found")
		}
		s.Data.Count++
		if err := e.c.Save(ctx, s); err != nil {
			return "", 0, err
		}
		count++
		s, err = e.c.Update(ctx, tok, func(c *Cart) error { c.Count++; return nil })
		if err != nil {
			return "", 0, err
		}
		count++
		ok, err := e.c.Exists(ctx, tok)
		if err != nil || !ok {
			return "", 0, errors.Join(err, errors.New("own session does not exist"))
		}
		if i%5 == 4 {
			// s is what Update stored, so it is current.
			if err := e.c.Renew(ctx, s); err != nil {
				return "", 0, err
			}
			tok = s.Token()
		}
	}
	return tok, count, nil
}

// TestReliabilitySQLiteFileRecommendedDSNNeverLocked: 32 goroutines x 1,000
// mixed operations (open, save, update, renew, destroy; the random cleanup
// firing about once per 50 queries) on one SQLite file opened with the DSN
// the README recommends (testdb.SQLiteDSN). Zero errors, in particular zero
// "database is locked".
func TestReliabilitySQLiteFileRecommendedDSNNeverLocked(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/shared.db"
	db := testdb.OpenAt(t, testdb.SQLite, path, nil)
	sqlDB, err := db.DB()
	require.NoError(t, err)
	sqlDB.SetMaxOpenConns(32)
	res := sqliteMixedRun(t, db, 32, load(1000, 250), 50, 0)
	require.Zero(t, res.locked, "database is locked with the recommended DSN")
	require.Empty(t, res.other, "other errors")
}

// TestReliabilitySQLiteFileDefaultDSNControl is the control for the test
// above: the same load on a SQLite file opened with a plain path (the
// driver's defaults: rollback journal, deferred transactions, 5s busy
// timeout). It asserts that this load does produce "database is locked"
// errors, which the recommended DSN avoids. The driver's 5s busy timeout
// makes every lock error cost 5s, so the workers stop at the first one.
func TestReliabilitySQLiteFileDefaultDSNControl(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/plain.db"
	db, err := gorm.Open(sqlite.Open(path), &gorm.Config{Logger: testdb.Logger()})
	require.NoError(t, err)
	sqlDB, err := db.DB()
	require.NoError(t, err)
	sqlDB.SetMaxOpenConns(32)
	t.Cleanup(func() { _ = sqlDB.Close() })
	res := sqliteMixedRun(t, db, 32, load(1000, 250), 50, 1)
	require.Positive(t, res.locked, "the control produced no lock error: the comparison proves nothing on this machine")
}

type mixedResult struct {
	locked int64
	other  []string
}

// sqliteMixedRun runs workers goroutines of each mixed operations on db and
// sorts the errors into lock errors and others.
// With stopAt > 0 the workers stop once that many lock errors were seen.
func sqliteMixedRun(t *testing.T, db *gorm.DB, workers, each, cleanupFreq int, stopAt int64) mixedResult {
	t.Helper()
	table := testdb.Table(t, db)
	var c *session.Container[Cart]
	// Creating the table is itself a write that can meet a lock; retry it
	// a few times so the run measures the sessions' operations.
	var err error
	for range 5 {
		if c, err = session.New[Cart](db, session.WithTable(table), session.WithCleanupFrequency(cleanupFreq),
			sessiontest.WithCleanupRand(rand.NewPCG(1, 2)), session.WithLifetime(time.Hour),
			session.WithLogger(slog.New(slog.DiscardHandler))); err == nil {
			break
		}
	}
	require.NoError(t, err)
	t.Cleanup(func() { hooks.Of(db).Wait() })
	ctx := context.Background()
	var res mixedResult
	var mu sync.Mutex
	var locked atomic.Int64
	note := func(err error) {
		if err == nil {
			return
		}
		if strings.Contains(err.Error(), "database is locked") || strings.Contains(err.Error(), "database table is locked") {
			locked.Add(1)
			return
		}
		mu.Lock()
		if len(res.other) < 20 {
			res.other = append(res.other, err.Error())
		}
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			tok := ""
			for range each {
				if stopAt > 0 && locked.Load() >= stopAt {
					return
				}
				s, err := c.Open(ctx, tok)
				note(err)
				if err != nil {
					continue
				}
				tok = s.Token()
				switch r := rng.IntN(10); {
				case r < 5:
					s.Data.Count++
					note(c.Save(ctx, s))
				case r < 7:
					if !s.IsNew() {
						_, err := c.Update(ctx, tok, func(c *Cart) error { c.Count++; return nil })
						note(err)
					}
				case r < 8:
					note(c.Renew(ctx, s))
					tok = s.Token()
				case r < 9:
					note(c.Destroy(ctx, s))
					tok = ""
				default:
					_, err := c.Exists(ctx, tok)
					note(err)
				}
			}
		})
	}
	wg.Wait()
	hooks.Of(db).Wait()
	res.locked = locked.Load()
	return res
}
