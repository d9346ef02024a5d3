package session

import (
	"context"
	"time"

	"github.com/gormsession/gormsession/internal/store"
)

// Cleanup deletes every session expired as of now, in batches sized by
// time for the database at hand (short on SQLite and MySQL/MariaDB, where
// a batch can hold writers up, longer on PostgreSQL, where it cannot),
// each bounded by WithCleanupTimeout, until none is left; it never deletes
// a live session, also not one a concurrent Save renews meanwhile. It reports how
// many rows it deleted, also alongside an error when it stopped early.
// The random cleanup calls the same code; call Cleanup yourself (from a
// scheduled job) when WithCleanupFrequency is 0.
func (c *Container[T]) Cleanup(ctx context.Context) (int64, error) {
	start := c.cfg.clockStart()
	n, err := c.repo.Cleanup(ctx, c.cfg.nowMs(), c.cleanupOptions())
	if err != nil {
		err = dbErr(ctx, "cleanup", err)
	}
	c.cfg.observe(ctx, start, Event{Op: "cleanup", Rows: n, Err: err})
	return n, err
}

// cleanupOptions are the options of every cleanup of c, the random one
// included: store.DefaultPacing sizes the batches by time, capped by
// sessiontest.WithCleanupBatchSize when a test set it (0: no cap).
func (c *Container[T]) cleanupOptions() store.CleanupOptions {
	return store.CleanupOptions{BatchTimeout: c.cfg.cleanupTimeout, BatchSize: c.cfg.cleanupBatch}
}

// AdjustTime shifts every stored time of every session in the table by
// delta: a negative delta makes sessions older, so tests can check expiry
// without sleeping. It is a test aid; running it on a production table
// expires (or revives) real sessions.
func (c *Container[T]) AdjustTime(ctx context.Context, delta time.Duration) error {
	if _, err := c.repo.AdjustTime(ctx, delta.Milliseconds()); err != nil {
		return dbErr(ctx, "adjust time", err)
	}
	return nil
}
