package session_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/internal/faulttest"
	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
)

// TestFaultPostgresHardStopAndRecover runs a mixed load against a private
// PostgreSQL server (started by the test in a temporary directory, on its
// own port) and stops that server hard, pg_ctl stop -m immediate, in the
// middle of it, then starts it again. Throughout:
//   - every call returns within its 2s context deadline plus slack, with an
//     error while the server is down, and nothing panics;
//   - the random cleanup, firing on about every tenth query, is caught
//     running (held up by a lock that blocks writes) when the server goes
//     away and fails, without failing any request by itself;
//   - the same process, same *gorm.DB and same Container recover once the
//     server is back, without a restart;
//   - every session whose Save returned nil before, during or after the
//     outage is still there with its payload, and the shared counter is at
//     least the number of Updates that returned nil (none lost) and at most
//     the number attempted.
//
// It is skipped when the PostgreSQL server binaries are not installed,
// unless GORMSESSION_TEST_REQUIRE contains "pgfault".
func TestFaultPostgresHardStopAndRecover(t *testing.T) {
	t.Parallel()
	pg := faulttest.StartPostgres(t)
	db, err := gorm.Open(postgres.Open(pg.DSN()), &gorm.Config{Logger: testdb.Logger()})
	require.NoError(t, err)
	sqlDB, err := db.DB()
	require.NoError(t, err)
	sqlDB.SetMaxOpenConns(8)
	t.Cleanup(func() { _ = sqlDB.Close() })
	rec := &logRecorder{}
	c, err := session.New[Cart](db, session.WithTable("fault_sessions"), session.WithCleanupFrequency(10),
		session.WithCleanupTimeout(2*time.Second), session.WithLogger(slog.New(rec)))
	require.NoError(t, err)
	t.Cleanup(func() { hooks.Of(db).Wait() })

	ctx := context.Background()
	counter, err := c.Open(ctx, "")
	require.NoError(t, err)
	require.NoError(t, c.Save(ctx, counter))

	const deadline = 2 * time.Second
	var (
		mu        sync.Mutex
		committed = map[string]string{} // token -> payload marker
		slow      []string
		panics    []string
		okUpdates atomic.Int64
		tried     atomic.Int64
		failures  atomic.Int64
		stop      atomic.Bool
		phase     atomic.Int32 // 0 up, 1 down, 2 back
		downErrs  atomic.Int64
		upErrs    []string // the first errors while the server was up
	)
	op := func(name string, fn func(ctx context.Context) error) error {
		cctx, cancel := context.WithTimeout(ctx, deadline)
		defer cancel()
		start := time.Now()
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					mu.Lock()
					panics = append(panics, fmt.Sprintf("%s: %v", name, r))
					mu.Unlock()
				}
			}()
			err = fn(cctx)
		}()
		if took := time.Since(start); took > deadline+promptSlack {
			mu.Lock()
			slow = append(slow, fmt.Sprintf("%s took %v", name, took))
			mu.Unlock()
		}
		if err != nil {
			failures.Add(1)
			if phase.Load() == 1 {
				downErrs.Add(1)
			} else {
				mu.Lock()
				if len(upErrs) < 5 {
					upErrs = append(upErrs, name+": "+err.Error())
				}
				mu.Unlock()
			}
		}
		return err
	}
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			var mine []string
			for i := 0; !stop.Load(); i++ {
				switch rng.IntN(3) {
				case 0: // a new session
					marker := "w" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
					var tok string
					err := op("save", func(ctx context.Context) error {
						s, err := c.Open(ctx, "")
						if err != nil {
							return err
						}
						s.Data.Items = []string{marker}
						tok = s.Token()
						return c.Save(ctx, s)
					})
					if err == nil {
						mu.Lock()
						committed[tok] = marker
						mu.Unlock()
						mine = append(mine, tok)
					}
				case 1: // the shared counter
					tried.Add(1)
					err := op("update", func(ctx context.Context) error {
						_, err := c.Update(ctx, counter.Token(), func(c *Cart) error { c.Count++; return nil })
						return err
					})
					if err == nil {
						okUpdates.Add(1)
					}
				default: // read one of ours back
					if len(mine) == 0 {
						continue
					}
					tok := mine[rng.IntN(len(mine))]
					_ = op("open", func(ctx context.Context) error {
						s, err := c.Open(ctx, tok)
						if err == nil && s.IsNew() {
							mu.Lock()
							panics = append(panics, "a committed session was not found by Open")
							mu.Unlock()
						}
						return err
					})
				}
			}
		})
	}

	waitFor := func(what string, cond func() bool) {
		end := time.Now().Add(60 * time.Second)
		for !cond() {
			require.True(t, time.Now().Before(end), "timed out waiting for %s", what)
			time.Sleep(20 * time.Millisecond) // polling for load to happen, not for expiry
		}
	}
	// Up: some work commits.
	waitFor("sessions before the stop", func() bool { mu.Lock(); defer mu.Unlock(); return len(committed) >= 20 })
	mu.Lock()
	firstErrs := slices.Clone(upErrs)
	mu.Unlock()
	require.Zero(t, failures.Load(), "failures while the server was up: %q", firstErrs)

	// Get a random cleanup stuck behind a lock that blocks writes, so
	// that it is running when the server goes away.
	phase.Store(1)
	lockTable(t, db, "fault_sessions", false)
	// Counted from now, a started cleanup is one whose DELETE waits for
	// the lock (or that found another still running and was skipped).
	started := hooks.Of(db).Stats("fault_sessions").Started
	waitFor("a cleanup blocked by the lock", func() bool { return hooks.Of(db).Stats("fault_sessions").Started > started })

	pg.StopImmediate()
	stoppedAt := time.Now()
	waitFor("errors while down", func() bool { return downErrs.Load() >= 200 && time.Since(stoppedAt) > time.Second })

	pg.Start()
	phase.Store(2)
	// Recovery: the same container saves again.
	waitFor("recovery", func() bool {
		s, err := c.Open(ctx, "")
		if err != nil {
			return false
		}
		return c.Save(ctx, s) == nil
	})
	mu.Lock()
	afterRestart := len(committed)
	mu.Unlock()
	waitFor("sessions after the restart", func() bool { mu.Lock(); defer mu.Unlock(); return len(committed) >= afterRestart+20 })
	stop.Store(true)
	wg.Wait()
	hooks.Of(db).Wait()

	require.Empty(t, panics)
	require.Empty(t, slow, "calls that did not return within their deadline")
	require.Positive(t, downErrs.Load())
	require.Positive(t, hooks.Of(db).Stats("fault_sessions").Failures, "no random cleanup failed; the test proves less than it says")
	// Nothing committed was lost.
	for tok, marker := range committed {
		s, err := c.Load(ctx, tok)
		require.NoError(t, err, "committed session %s lost", marker)
		require.Equal(t, []string{marker}, s.Data.Items)
	}
	got, err := c.Load(ctx, counter.Token())
	require.NoError(t, err)
	require.GreaterOrEqual(t, int64(got.Data.Count), okUpdates.Load(), "an acknowledged update was lost")
	require.LessOrEqual(t, int64(got.Data.Count), tried.Load())
	require.NotContains(t, rec.all(), counter.Token())
}
