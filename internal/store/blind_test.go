package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/internal/store"
	"github.com/gormsession/gormsession/internal/testdb"
)

func TestBlindWriteFindTombstone(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		repo := newRepo(t, db)
		b := store.NewBlind(repo)
		id := fmt.Sprintf("%064x", 1)

		_, found, err := b.Find(ctx, id, 1000)
		require.NoError(t, err)
		require.False(t, found)

		ok, err := b.Write(ctx, id, []byte("one"), 5000, 1000)
		require.NoError(t, err)
		require.True(t, ok, "insert")
		ok, err = b.Write(ctx, id, []byte("two"), 6000, 1100)
		require.NoError(t, err)
		require.True(t, ok, "overwrite")
		row, found, err := repo.Stored(ctx, id)
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, []byte("two"), row.Payload)
		require.EqualValues(t, 2, row.Version)
		require.EqualValues(t, 1000, row.CreatedAt)
		require.EqualValues(t, 1100, row.UpdatedAt)
		require.EqualValues(t, 6000, row.ExpiresAt)
		require.EqualValues(t, 6000, row.Deadline)
		require.Empty(t, row.Subject)

		p, found, err := b.Find(ctx, id, 5999)
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, []byte("two"), p)
		_, found, err = b.Find(ctx, id, 6000)
		require.NoError(t, err)
		require.False(t, found, "expired at expires_at")

		// The tombstone keeps the later expiry: the row's own here.
		require.NoError(t, b.Tombstone(ctx, id, 1200, 3000))
		row, found, err = repo.Stored(ctx, id)
		require.NoError(t, err)
		require.True(t, found)
		require.Zero(t, row.Version)
		require.Empty(t, row.Payload)
		require.EqualValues(t, 6000, row.ExpiresAt)
		_, found, err = b.Find(ctx, id, 1300)
		require.NoError(t, err)
		require.False(t, found, "a tombstone is not found")

		ok, err = b.Write(ctx, id, []byte("stale"), 7000, 1300)
		require.NoError(t, err)
		require.False(t, ok, "a write meets the tombstone")
		row, _, err = repo.Stored(ctx, id)
		require.NoError(t, err)
		require.Zero(t, row.Version)
		require.Empty(t, row.Payload)
		require.EqualValues(t, 6000, row.ExpiresAt)

		// Cleanup removes it once expired, and then the id is free again.
		n, err := repo.Cleanup(ctx, 6000, store.CleanupOptions{})
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		ok, err = b.Write(ctx, id, []byte("new"), 9000, 6100)
		require.NoError(t, err)
		require.True(t, ok)

		// A tombstone of an unknown id lives until "until".
		other := fmt.Sprintf("%064x", 2)
		require.NoError(t, b.Tombstone(ctx, other, 1000, 4000))
		row, found, err = repo.Stored(ctx, other)
		require.NoError(t, err)
		require.True(t, found)
		require.Zero(t, row.Version)
		require.EqualValues(t, 4000, row.ExpiresAt)
		require.EqualValues(t, 1000, row.CreatedAt)
		// ... or the row's expiry, if later: a second Delete extends it.
		require.NoError(t, b.Tombstone(ctx, other, 2000, 5000))
		row, _, err = repo.Stored(ctx, other)
		require.NoError(t, err)
		require.EqualValues(t, 5000, row.ExpiresAt)
	})
}

func TestBlindWriteOverExpiredRowStartsAfresh(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		repo := newRepo(t, db)
		b := store.NewBlind(repo)
		id := fmt.Sprintf("%064x", 3)
		_, err := b.Write(ctx, id, []byte("old"), 2000, 1000)
		require.NoError(t, err)
		ok, err := b.Write(ctx, id, []byte("new"), 9000, 3000)
		require.NoError(t, err)
		require.True(t, ok)
		row, _, err := repo.Stored(ctx, id)
		require.NoError(t, err)
		require.EqualValues(t, 3000, row.CreatedAt)
		require.EqualValues(t, 9000, row.ExpiresAt)
		require.Equal(t, []byte("new"), row.Payload)
	})
}

// TestBlindTombstoneRacesWrites runs writes of one id against its
// tombstone: whatever the interleaving, once Tombstone has returned the
// row is a tombstone and stays one.
func TestBlindTombstoneRacesWrites(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		repo := newRepo(t, db)
		b := store.NewBlind(repo)
		for round := range 5 {
			id := fmt.Sprintf("%064x", 100+round)
			_, err := b.Write(ctx, id, []byte("v"), 9000, 1000)
			require.NoError(t, err)
			var wg sync.WaitGroup
			errs := make(chan error, 16)
			for w := range 8 {
				wg.Go(func() {
					for i := range 5 {
						if _, err := b.Write(ctx, id, fmt.Appendf(nil, "%d-%d", w, i), 9000, 1000); err != nil {
							errs <- err
						}
					}
				})
			}
			require.NoError(t, b.Tombstone(ctx, id, 1000, 1000))
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			row, found, err := repo.Stored(ctx, id)
			require.NoError(t, err)
			require.True(t, found)
			require.Zero(t, row.Version, "round %d: a write after the tombstone was stored", round)
			_, found, err = b.Find(ctx, id, 1000)
			require.NoError(t, err)
			require.False(t, found)
		}
	})
}
