package store

import (
	"context"
	"errors"
	"time"
)

// CleanupOptions bound a cleanup run.
type CleanupOptions struct {
	// BatchSize is the most rows one DELETE removes; values below 1 mean
	// BatchSizeDefault.
	BatchSize int
	// BatchTimeout bounds each DELETE; 0 means no bound beyond ctx.
	BatchTimeout time.Duration
	// Pause is slept between batches so that other writers get the lock
	// (SQLite has one writer at a time); 0 means none.
	Pause time.Duration
	// OnBatch, if set, is called after every batch with the rows it deleted
	// and how long it took.
	OnBatch func(deleted int64, took time.Duration)
}

// BatchSizeDefault is the batch size used when CleanupOptions.BatchSize is
// not set.
const BatchSizeDefault = 1000

// DeleteExpiredBatch deletes at most size rows whose expires_at is not after
// now and reports how many it deleted. A live row is never deleted.
func (r *Store) DeleteExpiredBatch(ctx context.Context, now int64, size int) (int64, error) {
	if size < 1 {
		size = BatchSizeDefault
	}
	if r.dialect == MySQL {
		return r.execBound(ctx, r.batchSQL(size), now)
	}
	return r.execBound(ctx, r.batchSQL(size), now, now)
}

// Cleanup deletes the rows expired at now in batches until a batch comes
// back short, and reports how many rows it deleted in all, also when it
// stops early on an error or a cancelled ctx.
func (r *Store) Cleanup(ctx context.Context, now int64, opts CleanupOptions) (int64, error) {
	size := opts.BatchSize
	if size < 1 {
		size = BatchSizeDefault
	}
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		start := time.Now()
		n, err := r.batch(ctx, now, size, opts.BatchTimeout)
		total += n
		if err != nil {
			return total, err
		}
		if opts.OnBatch != nil {
			opts.OnBatch(n, time.Since(start))
		}
		if n < int64(size) {
			return total, nil
		}
		if opts.Pause > 0 {
			t := time.NewTimer(opts.Pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return total, ctx.Err()
			case <-t.C:
			}
		}
	}
}

func (r *Store) batch(ctx context.Context, now int64, size int, timeout time.Duration) (int64, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, timeout, ErrBatchTimeout)
		defer cancel()
	}
	n, err := r.DeleteExpiredBatch(ctx, now, size)
	if err != nil && context.Cause(ctx) == ErrBatchTimeout {
		err = errors.Join(ErrBatchTimeout, err)
	}
	return n, err
}

// ErrBatchTimeout is part of the error Cleanup returns when one batch took
// longer than CleanupOptions.BatchTimeout.
var ErrBatchTimeout = errors.New("cleanup batch timed out")
