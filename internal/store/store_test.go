package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/internal/store"
	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/model"
)

func newRepo(t *testing.T, db *gorm.DB) *store.Store {
	t.Helper()
	repo, err := store.New(db, testdb.Table(t, db))
	require.NoError(t, err)
	require.NoError(t, repo.Migrate(context.Background()))
	require.NoError(t, repo.Migrate(context.Background()), "migrate is idempotent")
	return repo
}

func insert(t *testing.T, repo *store.Store, n int, expires int64, prefix string) {
	t.Helper()
	for i := range n {
		row := model.SessionRow{ID: fmt.Sprintf("%s%060x", prefix, i), Payload: []byte("{}"), Version: 1,
			Deadline: expires, ExpiresAt: expires}
		require.NoError(t, repo.Insert(context.Background(), &row))
	}
}

func TestCleanupRunsInBatchesAndStopsOnAShortOne(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		for _, tc := range []struct {
			expired, size int
			batches       []int64
		}{
			{25, 10, []int64{10, 10, 5}},
			{20, 10, []int64{10, 10, 0}},
			{0, 10, []int64{0}},
		} {
			repo := newRepo(t, db)
			insert(t, repo, tc.expired, 500, "aaaa")
			insert(t, repo, 7, 2000, "bbbb")
			var batches []int64
			n, err := repo.Cleanup(ctx, 1000, store.CleanupOptions{BatchSize: tc.size,
				OnBatch: func(d int64, _ time.Duration) { batches = append(batches, d) }})
			require.NoError(t, err)
			require.EqualValues(t, tc.expired, n)
			require.Equal(t, tc.batches, batches)
			expired, err := repo.CountExpired(ctx, 1000)
			require.NoError(t, err)
			require.Zero(t, expired)
			live, err := repo.CountExpired(ctx, 3000)
			require.NoError(t, err)
			require.EqualValues(t, 7, live, "live rows must all remain")
		}
	})
}

func TestCleanupBoundary(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		repo := newRepo(t, db)
		insert(t, repo, 1, 1000, "cccc") // expires exactly at now: expired
		insert(t, repo, 1, 1001, "dddd") // one millisecond left: live
		n, err := repo.DeleteExpiredBatch(ctx, 1000, 10)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		_, found, err := repo.Load(ctx, fmt.Sprintf("dddd%060x", 0), 1000)
		require.NoError(t, err)
		require.True(t, found)
	})
}

func TestCleanupHonoursCancellation(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	repo := newRepo(t, db)
	insert(t, repo, 5, 10, "eeee")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n, err := repo.Cleanup(ctx, 1000, store.CleanupOptions{BatchSize: 2})
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, n)
}

func TestNewRejectsBadTablesAndDialects(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	for _, name := range []string{"", "1abc", "a-b", "a b", "a;drop", `a"b`, "x234567890123456789012345678901234567890123456789"} {
		_, err := store.New(db, name)
		require.ErrorIs(t, err, store.ErrInvalidTable, name)
	}
	_, err := store.New(&gorm.DB{Config: &gorm.Config{}}, "ok")
	require.ErrorIs(t, err, store.ErrUnsupportedDialect)
}
