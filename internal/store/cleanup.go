package store

import (
	"context"
	"errors"
	"math"
	"time"
)

// CleanupOptions bound a cleanup run. Its fields mirror
// repository.CleanupOptions, which converts to it.
type CleanupOptions struct {
	// BatchSize caps how many rows one batch deletes; values below 1 mean
	// no cap beyond the dialect's own (Pacing.Max). Within the cap the
	// batch size follows Pacing.Target.
	BatchSize int
	// BatchTimeout bounds each batch; 0 means no bound beyond ctx.
	BatchTimeout time.Duration
	// Pause is slept between batches so that other writers get the lock
	// (SQLite has one writer at a time); 0 means the dialect's default
	// (Pacing.Pause), below 0 none.
	Pause time.Duration
	// OnBatch, if set, is called after every batch with the rows it deleted
	// and how long it took.
	OnBatch func(deleted int64, took time.Duration)
}

// BatchSizeDefault is the batch size of FixedPacing's callers and of
// DeleteExpiredBatch when given no size: the fixed size of releases that
// did not size batches by time.
const BatchSizeDefault = 1000

// Pacing says how Cleanup sizes its batches and which statements it runs.
// The zero value is not usable; start from DefaultPacing or FixedPacing.
type Pacing struct {
	// Target is how long one batch should take. After every full batch the
	// next size is the measured rate times Target, at most twice and at
	// least half the last size, within [Min, Max]: a batch slowed down by
	// a busy machine halves the next one, not more. 0 keeps the size fixed
	// at Start.
	Target time.Duration
	// Start is the size of the first batch; Min and Max bound every batch.
	Start, Min, Max int
	// Pause is slept between batches (see CleanupOptions.Pause).
	Pause time.Duration
	// Keyset walks the expires_at index by key: each batch first reads
	// the (expires_at, id) of its last row, then deletes the rows between
	// the previous batch's last row and that one, so no batch scans index
	// entries an earlier batch deleted (InnoDB keeps them, delete-marked,
	// until its purge runs; a second scan walks them all again). Without
	// it a batch is one statement that takes the first rows of the range.
	Keyset bool
	// Fixed runs the statement of releases that did not size batches by
	// time (ORDER BY expires_at LIMIT on MySQL, id IN (SELECT ... LIMIT)
	// elsewhere), for comparison; it implies a fixed size.
	Fixed bool
}

// DefaultPacing returns the pacing Cleanup uses on d.
//
//   - PostgreSQL: MVCC means a batch blocks no writer (it locks only the
//     expired rows it deletes), so batches are long: 500 ms, starting at
//     10,000 rows and up to 100,000, each one statement that deletes the
//     oldest rows by ctid, with no second index probe per row. Every batch
//     after the first walks the index entries of the rows the batches
//     before it deleted once more, so fewer, larger batches cost less.
//   - MySQL/MariaDB: InnoDB locks the index range a DELETE scans; short
//     batches (20 ms) keep any writer that touches that range waiting no
//     longer than one of them, and the key walk skips the delete-marked
//     entries earlier batches left behind.
//   - SQLite: a batch holds the database's only write lock, so batches are
//     short (45 ms, under the 50 ms a waiting writer may be held up;
//     15 ms made the per-batch costs dominate: 2.28x one DELETE against
//     1.30x) with a 2 ms pause after each, in which a waiting
//     writer's busy handler gets the lock; the key walk reads each next
//     boundary outside the write lock.
func DefaultPacing(d Dialect) Pacing {
	switch d {
	case Postgres:
		return Pacing{Target: 500 * time.Millisecond, Start: 10_000, Min: 1000, Max: 100_000}
	case MySQL:
		return Pacing{Target: 20 * time.Millisecond, Start: 2000, Min: 1000, Max: 50_000, Keyset: true}
	default:
		return Pacing{Target: 45 * time.Millisecond, Start: 2000, Min: 1000, Max: 50_000,
			Pause: 2 * time.Millisecond, Keyset: true}
	}
}

// FixedPacing returns the policy of releases before time-sized batches:
// size rows a batch, whatever they take, with that release's statement and
// no pause. For measurements and comparisons.
func FixedPacing(size int) Pacing {
	if size < 1 {
		size = BatchSizeDefault
	}
	return Pacing{Start: size, Min: size, Max: size, Fixed: true}
}

// capped returns p with its sizes within [1, limit] when limit is at least 1.
func (p Pacing) capped(limit int) Pacing {
	p.Min = max(p.Min, 1)
	p.Max = max(p.Max, p.Min)
	if limit >= 1 {
		p.Max = min(p.Max, limit)
		p.Min = min(p.Min, p.Max)
	}
	p.Start = min(max(p.Start, p.Min), p.Max)
	return p
}

// next returns the size of the batch after one of size rows that took
// took.
func (p Pacing) next(size int, took time.Duration) int {
	if p.Target <= 0 || p.Fixed {
		return size
	}
	n := float64(size) * 2
	if took > 0 {
		n = min(n, float64(size)*float64(p.Target)/float64(took))
	}
	n = max(n, float64(size)/2)
	return min(max(int(n), p.Min), p.Max)
}

// DeleteExpiredBatch deletes at most size rows whose expires_at is not after
// now with the statement of FixedPacing, and reports how many it deleted.
// A live row is never deleted.
func (r *Store) DeleteExpiredBatch(ctx context.Context, now int64, size int) (int64, error) {
	if size < 1 {
		size = BatchSizeDefault
	}
	if r.dialect == MySQL {
		return r.execBound(ctx, r.batchSQL(size), now)
	}
	return r.execBound(ctx, r.batchSQL(size), now, now)
}

// Cleanup deletes the rows expired at now in batches paced by
// DefaultPacing, until the last expired row is gone, and reports how many
// rows it deleted in all, also when it stops early on an error or a
// cancelled ctx (the batch under way is rolled back whole).
func (r *Store) Cleanup(ctx context.Context, now int64, opts CleanupOptions) (int64, error) {
	return r.CleanupPaced(ctx, now, opts, DefaultPacing(r.dialect))
}

// CleanupPaced is Cleanup with the pacing p, capped by opts.BatchSize.
//
// A live row is never deleted, also not one a concurrent save makes live
// again while a batch runs: every DELETE bounds expires_at by now in its
// own WHERE (directly, or on SQLite through an upper key not after now),
// which the database evaluates against the row it is about to delete
// (PostgreSQL re-checks a row a concurrent transaction changed, InnoDB's
// DELETE reads the latest version, SQLite has one writer). It
// stops after a batch that found fewer rows than it asked for; rows that
// expire meanwhile are left to the next run.
func (r *Store) CleanupPaced(ctx context.Context, now int64, opts CleanupOptions, p Pacing) (int64, error) {
	p = p.capped(opts.BatchSize)
	pause := p.Pause
	switch {
	case opts.Pause > 0:
		pause = opts.Pause
	case opts.Pause < 0:
		pause = 0
	}
	var walk *keyWalk
	if p.Keyset && !p.Fixed {
		walk = r.newKeyWalk()
	}
	size := p.Start
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		start := time.Now()
		n, more, err := r.batch(ctx, now, size, p, walk, opts.BatchTimeout)
		took := time.Since(start)
		total += n
		if err != nil {
			return total, err
		}
		if opts.OnBatch != nil {
			opts.OnBatch(n, took)
		}
		if !more {
			return total, nil
		}
		size = p.next(size, took)
		if pause > 0 {
			t := time.NewTimer(pause)
			select {
			case <-ctx.Done():
				t.Stop()
				return total, ctx.Err()
			case <-t.C:
			}
		}
	}
}

// batch deletes one batch of at most size rows and reports whether more
// may be left.
func (r *Store) batch(ctx context.Context, now int64, size int, p Pacing, walk *keyWalk, timeout time.Duration) (n int64, more bool, err error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, timeout, ErrBatchTimeout)
		defer cancel()
	}
	switch {
	case walk != nil:
		n, more, err = walk.step(ctx, r, now, size)
	case p.Fixed:
		n, err = r.DeleteExpiredBatch(ctx, now, size)
		more = n >= int64(size)
	default:
		// PostgreSQL (and SQLite or MySQL with Keyset off): one statement
		// that takes the first size expired rows.
		n, err = r.execBound(ctx, r.firstRowsSQL(), r.firstRowsArgs(now, size)...)
		more = n >= int64(size)
	}
	if err != nil && context.Cause(ctx) == ErrBatchTimeout {
		err = errors.Join(ErrBatchTimeout, err)
	}
	return n, more, err
}

// firstRowsSQL deletes up to a given number of the rows with the lowest
// expires_at that are not after now. On PostgreSQL the DELETE finds them by
// ctid (a direct heap fetch, no primary-key probe per row), and its own
// "expires_at <= now" is re-checked against a row a concurrent save
// changed, so a renewed row survives. The subquery locks nothing: locking
// (FOR UPDATE SKIP LOCKED, as releases before did so that concurrent
// cleanups took different rows) costs a second write per row and made a
// batch twice as slow; a concurrent cleanup now waits for the rows a
// running batch deletes, then skips them.
func (r *Store) firstRowsSQL() string {
	t := r.dialect.quote(r.table)
	switch r.dialect {
	case Postgres:
		return "DELETE FROM " + t + " WHERE ctid = ANY(ARRAY(SELECT ctid FROM " + t +
			" WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)) AND expires_at <= $3"
	case MySQL:
		return "DELETE FROM " + t + " WHERE expires_at <= ? ORDER BY expires_at LIMIT ?"
	default:
		return "DELETE FROM " + t + " WHERE id IN (SELECT id FROM " + t +
			" WHERE expires_at <= ? ORDER BY expires_at LIMIT ?) AND expires_at <= ?"
	}
}

func (r *Store) firstRowsArgs(now int64, size int) []any {
	if r.dialect == MySQL {
		return []any{now, size}
	}
	return []any{now, size, now}
}

// keyWalk is the position of a cleanup that walks the expires_at index by
// key: the (expires_at, id) of the last row its batches covered. InnoDB
// and SQLite append the primary key to a secondary index, so that index
// is ordered by (expires_at, id) and a position is where a range scan of
// it starts.
type keyWalk struct {
	exp      int64
	id       string
	boundary string // the key of the size-th expired row after the position
	between  string // delete the expired rows after the position up to a key
	rest     string // delete the expired rows after the position
	spelt    bool   // positions are spelt out (MySQL), not row values
}

// The position before the first row: expires_at is a Unix time in
// milliseconds, never this low, and every id sorts after "".
const walkStartExp = math.MinInt64

func (r *Store) newKeyWalk() *keyWalk {
	t := r.dialect.quote(r.table)
	if r.dialect == MySQL {
		// MySQL and MariaDB compare row values without an index range, so
		// the position is spelt out, and every statement is held to the
		// index being walked: given a range of ids among equal expires_at
		// values, MariaDB otherwise merges it with a primary-key range,
		// sorts, and locks the live rows in between. A DELETE takes an
		// index hint only in the multi-table form.
		_, name := SplitTable(r.table)
		from := t + " AS s FORCE INDEX (" + r.dialect.quote(name+"_expires_at_idx") + ")"
		after := "expires_at <= ? AND expires_at >= ? AND (expires_at > ? OR (expires_at = ? AND id > ?))"
		return &keyWalk{
			exp:      walkStartExp,
			boundary: "SELECT expires_at, id FROM " + from + " WHERE " + after + " ORDER BY expires_at, id LIMIT 1 OFFSET ?",
			between: "DELETE s FROM " + from + " WHERE " + after +
				" AND expires_at <= ? AND (expires_at < ? OR (expires_at = ? AND id <= ?))",
			rest:  "DELETE s FROM " + from + " WHERE " + after,
			spelt: true,
		}
	}
	// SQLite compares row values as index ranges. The batch's DELETE is
	// bounded by two keys only: with "expires_at <= now" next to them the
	// planner ends the scan at now instead of at the upper key, and scans
	// the rest of a run of equal expires_at values on every batch. The
	// upper key is not after now, and a row a save renews meanwhile moves
	// past now, out of the range, so the check is implied.
	after := "expires_at <= ? AND (expires_at, id) > (?, ?)"
	return &keyWalk{
		exp:      walkStartExp,
		boundary: "SELECT expires_at, id FROM " + t + " WHERE " + after + " ORDER BY expires_at, id LIMIT 1 OFFSET ?",
		between:  "DELETE FROM " + t + " WHERE (expires_at, id) > (?, ?) AND (expires_at, id) <= (?, ?)",
		rest:     "DELETE FROM " + t + " WHERE " + after,
	}
}

// pos returns the arguments that place a statement after the position.
func (w *keyWalk) pos(now int64) []any {
	if w.spelt {
		return []any{now, w.exp, w.exp, w.exp, w.id}
	}
	return []any{now, w.exp, w.id}
}

// step deletes the next batch of at most size rows and moves the position
// past it. more is false when the batch reached the end of the expired
// range.
func (w *keyWalk) step(ctx context.Context, r *Store, now int64, size int) (int64, bool, error) {
	var exp int64
	var id string
	found, err := r.unseenQuery(ctx, w.boundary, append(w.pos(now), size-1), &exp, &id)
	if err != nil {
		return 0, false, err
	}
	var n int64
	switch {
	case found && w.spelt:
		n, err = r.execBound(ctx, w.between, append(w.pos(now), exp, exp, exp, id)...)
	case found:
		n, err = r.execBound(ctx, w.between, w.exp, w.id, exp, id)
	default:
		n, err = r.execBound(ctx, w.rest, w.pos(now)...)
	}
	if err != nil || !found {
		return n, false, err
	}
	w.exp, w.id = exp, id
	return n, true, nil
}

// unseenQuery is queryBound for the key walk's reads, which the
// random-cleanup plugin must not count as queries of the table: it rolls
// its dice after every query naming its table, and a cleanup's own reads
// would roll them again. The statement still runs through GORM's query
// chain, so every other plugin sees it; only its table name is left out.
func (r *Store) unseenQuery(ctx context.Context, sql string, vars []any, dest ...any) (bool, error) {
	for attempt := 1; ; attempt++ {
		tx := r.raw(ctx, sql, vars)
		tx.Statement.Table = ""
		found, err := queryOnce(tx, dest)
		if err == nil || !r.retry(ctx, err, attempt, true) {
			return found, err
		}
	}
}

// ErrBatchTimeout is part of the error Cleanup returns when one batch took
// longer than CleanupOptions.BatchTimeout.
var ErrBatchTimeout = errors.New("cleanup batch timed out")
