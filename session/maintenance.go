package session

import (
	"context"
	"time"

	"github.com/gormsession/gormsession/internal/store"
)

// Cleanup deletes every session expired as of now, in batches of
// 1000 rows, each bounded by WithCleanupTimeout, until a
// batch comes back short; it never deletes a live session. It reports how
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

func (c *Container[T]) cleanupOptions() store.CleanupOptions {
	return store.CleanupOptions{BatchSize: c.cfg.cleanupBatch, BatchTimeout: c.cfg.cleanupTimeout}
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
