package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/internal/store"
	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/model"
)

// pacing returns the dialect's default pacing with the given target and
// sizes, so a test decides how batches grow or shrink.
func pacing(repo *store.Store, target time.Duration, start, lo, hi int) store.Pacing {
	p := store.DefaultPacing(repo.Dialect())
	p.Target, p.Start, p.Min, p.Max, p.Pause = target, start, lo, hi, 0
	return p
}

// seed inserts n rows expiring at exp (one value for all, the hardest case
// for a walk by key) with ids that sort among the others' by prefix.
func seed(t *testing.T, repo *store.Store, n int, exp func(i int) int64, prefix string) {
	t.Helper()
	for i := range n {
		e := exp(i)
		row := model.SessionRow{ID: fmt.Sprintf("%s%058x", prefix, i), Payload: []byte("{}"), Version: 1,
			Deadline: e, ExpiresAt: e}
		require.NoError(t, repo.Insert(context.Background(), &row))
	}
}

func same(v int64) func(int) int64 { return func(int) int64 { return v } }

func counts(t *testing.T, repo *store.Store) (expired, live int64) {
	t.Helper()
	expired, err := repo.CountExpired(context.Background(), 1000)
	require.NoError(t, err)
	all, err := repo.CountExpired(context.Background(), 1<<40)
	require.NoError(t, err)
	return expired, all - expired
}

// Batch sizes follow the time target: a generous target doubles the size
// after every full batch up to Max, an impossible one halves it down to
// Min; a cap from CleanupOptions.BatchSize bounds both.
func TestCleanupPacingGrowsAndShrinksWithinBounds(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		for _, tc := range []struct {
			name    string
			target  time.Duration
			start   int
			cap     int
			batches []int64
		}{
			{"grows", time.Hour, 2, 0, []int64{2, 4, 8, 16, 16, 14}},
			// 16+8+4 rows, then 2 a batch for the other 32, then an
			// empty batch finds the end.
			{"shrinks", time.Nanosecond, 16, 0, append(append([]int64{16, 8, 4}, slices.Repeat([]int64{2}, 16)...), 0)},
			{"capped", time.Hour, 2, 5, []int64{2, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 4}},
		} {
			repo := newRepo(t, db)
			seed(t, repo, 60, same(500), "a0")
			seed(t, repo, 9, same(2000), "a1")
			var batches []int64
			n, err := repo.CleanupPaced(ctx, 1000, store.CleanupOptions{BatchSize: tc.cap,
				OnBatch: func(d int64, _ time.Duration) { batches = append(batches, d) }},
				pacing(repo, tc.target, tc.start, 2, 16))
			require.NoError(t, err, tc.name)
			require.EqualValues(t, 60, n, tc.name)
			require.Equal(t, tc.batches, batches, tc.name)
			expired, live := counts(t, repo)
			require.Zero(t, expired, tc.name)
			require.EqualValues(t, 9, live, tc.name)
		}
	})
}

// The walk by key deletes exactly the expired rows whatever their order:
// runs of equal expires_at that batches cut in the middle, live rows whose
// ids sort between expired ones, and the row expiring exactly at now.
func TestCleanupWalksTiesAndSpreadTimes(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		repo := newRepo(t, db)
		seed(t, repo, 23, same(700), "b1")                                     // one tie run
		seed(t, repo, 31, func(i int) int64 { return 100 + int64(i%7) }, "b0") // short runs
		seed(t, repo, 1, same(1000), "b2")                                     // exactly at now: expired
		seed(t, repo, 17, func(i int) int64 { return 1001 + int64(i) }, "b0f") // live, ids among the expired
		for _, size := range []int{1, 4, 7, 1000} {
			n, err := repo.CleanupPaced(context.Background(), 1000, store.CleanupOptions{BatchSize: size},
				pacing(repo, time.Hour, size, size, size))
			require.NoError(t, err)
			if size == 1 {
				require.EqualValues(t, 55, n)
			} else {
				require.Zero(t, n, "nothing left for the next run")
			}
			expired, live := counts(t, repo)
			require.Zero(t, expired)
			require.EqualValues(t, 17, live)
		}
	})
}

// A row a save makes live again while the cleanup runs survives it, and
// the rows around it are still deleted. The save happens between batches,
// ahead of the cleanup's position.
func TestCleanupKeepsARowRenewedMeanwhile(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		for _, p := range []func(*store.Store) store.Pacing{
			func(r *store.Store) store.Pacing { return pacing(r, time.Hour, 5, 5, 5) },
			func(*store.Store) store.Pacing { return store.FixedPacing(5) },
		} {
			repo := newRepo(t, db)
			seed(t, repo, 20, same(500), "c0")
			seed(t, repo, 20, same(600), "c1")
			renewed := fmt.Sprintf("c1%058x", 19) // the very last expired row
			once := false
			n, err := repo.CleanupPaced(ctx, 1000, store.CleanupOptions{OnBatch: func(int64, time.Duration) {
				if once {
					return
				}
				once = true
				row, found, err := repo.Stored(ctx, renewed)
				require.NoError(t, err)
				require.True(t, found)
				ok, err := repo.Touch(ctx, renewed, 1000, 5000, 0)
				require.NoError(t, err)
				require.True(t, ok, "renew %+v", row.ExpiresAt)
			}}, p(repo))
			require.NoError(t, err)
			require.EqualValues(t, 39, n)
			_, found, err := repo.Load(ctx, renewed, 1000)
			require.NoError(t, err)
			require.True(t, found, "the renewed row survives")
			expired, live := counts(t, repo)
			require.Zero(t, expired)
			require.EqualValues(t, 1, live)
		}
	})
}

// Cleanups running at once on one table delete every expired row once
// between them and no live row, whichever takes which batch.
func TestCleanupsRunningAtOnce(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		repo := newRepo(t, db)
		seed(t, repo, 150, func(i int) int64 { return 200 + int64(i%3) }, "d0")
		seed(t, repo, 11, same(3000), "d1")
		var wg sync.WaitGroup
		total := make([]int64, 3)
		for i := range total {
			wg.Go(func() {
				n, err := repo.CleanupPaced(context.Background(), 1000, store.CleanupOptions{BatchTimeout: time.Minute},
					pacing(repo, time.Hour, 10, 10, 10))
				require.NoError(t, err)
				total[i] = n
			})
		}
		wg.Wait()
		require.EqualValues(t, 150, total[0]+total[1]+total[2])
		expired, live := counts(t, repo)
		require.Zero(t, expired)
		require.EqualValues(t, 11, live)
	})
}

// A transaction holding a live row locked does not stop the cleanup: a
// batch locks only the expired rows (or, on SQLite, waits for the one
// writer like any other statement, which this test does not exercise).
// On MariaDB, a batch that scanned the primary key between two ids of a
// run of equal expires_at values would lock the live rows among them.
func TestCleanupPassesLockedLiveRows(t *testing.T) {
	t.Parallel()
	for _, d := range []string{testdb.Postgres, testdb.MySQL} {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			testdb.Require(t, d)
			db := testdb.Open(t, d, nil)
			repo := newRepo(t, db)
			// Even rows expired, odd ones live: in id order they alternate.
			seed(t, repo, 80, func(i int) int64 { return 500 + 2500*int64(i%2) }, "e0")
			ctx := context.Background()
			locked := fmt.Sprintf("e0%058x", 17)
			tx := db.WithContext(ctx).Begin()
			require.NoError(t, tx.Error)
			defer tx.Rollback()
			var one int
			require.NoError(t, tx.Raw("SELECT 1 FROM "+repo.Quote(repo.Table())+" WHERE id = ? AND expires_at > 1000 FOR UPDATE", locked).Row().Scan(&one))
			n, err := repo.CleanupPaced(ctx, 1000, store.CleanupOptions{BatchTimeout: 10 * time.Second},
				pacing(repo, time.Hour, 7, 7, 7))
			require.NoError(t, err)
			require.EqualValues(t, 40, n)
		})
	}
}

// A batch that outlives its timeout stops the cleanup with
// ErrBatchTimeout, and a context cancelled between batches stops it with
// the rows deleted so far.
func TestCleanupStopsOnTimeoutAndCancel(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		repo := newRepo(t, db)
		seed(t, repo, 30, same(500), "f0")
		_, err := repo.Cleanup(context.Background(), 1000, store.CleanupOptions{BatchTimeout: time.Nanosecond})
		require.ErrorIs(t, err, store.ErrBatchTimeout)

		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		n, err := repo.CleanupPaced(ctx, 1000, store.CleanupOptions{OnBatch: func(int64, time.Duration) { cancel() }},
			pacing(repo, time.Hour, 10, 10, 10))
		require.ErrorIs(t, err, context.Canceled)
		require.EqualValues(t, 10, n)
		expired, _ := counts(t, repo)
		require.EqualValues(t, 20, expired)
	})
}

// The previous release's policy stays available for comparison: fixed
// batches that stop after a short one.
func TestFixedPacing(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		repo := newRepo(t, db)
		seed(t, repo, 25, same(500), "g0")
		var batches []int64
		n, err := repo.CleanupPaced(context.Background(), 1000, store.CleanupOptions{
			OnBatch: func(d int64, _ time.Duration) { batches = append(batches, d) }}, store.FixedPacing(10))
		require.NoError(t, err)
		require.EqualValues(t, 25, n)
		require.Equal(t, []int64{10, 10, 5}, batches)
	})
}
