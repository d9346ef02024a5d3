package main

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gormsession/gormsession/bench"
	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessiontest"
)

// sqliteFigure: mixed load on one SQLite file, with the recommended DSN
// and with a plain path (TestReliabilitySQLiteFileRecommendedDSNNeverLocked
// and TestReliabilitySQLiteFileDefaultDSNControl). The control runs its
// whole load here; the test stops at its first lock error.
var sqliteFigure = figure{
	name:    "sqlite",
	title:   "SQLite file under mixed load, 32 goroutines x %s operations, 32 connections",
	load:    func(r *runner) string { return count(r.n(1000)) },
	columns: []string{"DSN", "operations", "time", "operations/s", "random cleanups", "lock errors (\"database is locked\")", "other errors"},
	run: func(ctx context.Context, r *runner) [][]string {
		if !r.has(bench.SQLite) {
			return nil
		}
		var out [][]string
		for _, v := range []struct{ label, file string }{
			{"recommended (`session.SQLiteDSN`: WAL, busy timeout, immediate transactions)", "sqlite-recommended.db"},
			{"control: plain file path (driver defaults: rollback journal, deferred transactions, 5 s busy timeout)", "sqlite-plain.db"},
		} {
			path := filepath.Join(r.dir, v.file)
			dsn := path
			recommended := strings.HasPrefix(v.label, "recommended")
			if recommended {
				dsn = session.SQLiteDSN(path)
			}
			row, err := runSQLiteMixed(ctx, dsn, 32, r.n(1000), 50)
			if err != nil {
				r.problem("sqlite (%s): %v", v.file, err)
				out = append(out, []string{v.label, "error: " + oneLine(err.Error()), "", "", "", "", ""})
				continue
			}
			switch {
			case recommended && (row.locked > 0 || row.other > 0):
				r.problem("sqlite: %d lock errors and %d other errors with the recommended DSN; the first: %s", row.locked, row.other, row.first)
			case !recommended && row.locked == 0:
				r.note("sqlite: the control produced no lock error at this load; the comparison proves nothing here")
			case !recommended && row.other > 0:
				r.problem("sqlite: %d errors other than lock errors in the control; the first: %s", row.other, row.first)
			}
			out = append(out, []string{v.label, count(row.ops), dur(row.took), rate(row.ops, row.took),
				count(row.cleanups), count(row.locked), count(row.other)})
		}
		return out
	},
}

type mixedResult struct {
	ops, locked, other, cleanups int64
	first                        string // the first other error
	took                         time.Duration
}

// runSQLiteMixed runs workers goroutines of each mixed operations (open,
// then save, update, renew, destroy or exists) on a SQLite file with a
// random cleanup about once per cleanupFreq queries, and sorts the errors
// into lock errors and others.
func runSQLiteMixed(ctx context.Context, dsn string, workers, each, cleanupFreq int) (mixedResult, error) {
	var res mixedResult
	db, err := openGorm(bench.SQLite, dsn, workers)
	if err != nil {
		return res, err
	}
	defer closeGorm(db)
	// Creating the table is itself a write that can meet a lock; retry it
	// a few times so the run measures the sessions' operations.
	var c *session.Container[cart]
	for range 5 {
		if c, err = session.New[cart](db, session.WithTable(table), session.WithCleanupFrequency(cleanupFreq),
			sessiontest.WithCleanupRand(rand.NewPCG(1, 2)), session.WithLifetime(time.Hour),
			session.WithLogger(slog.New(slog.DiscardHandler))); err == nil {
			break
		}
	}
	if err != nil {
		return res, err
	}
	defer c.Close()
	var ops, locked, other atomic.Int64
	var firstOnce sync.Once
	note := func(err error) {
		switch {
		case err == nil:
		case strings.Contains(err.Error(), "database is locked"), strings.Contains(err.Error(), "database table is locked"):
			locked.Add(1)
		default:
			other.Add(1)
			firstOnce.Do(func() { res.first = oneLine(err.Error()) })
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			tok := ""
			for range each {
				ops.Add(1)
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
						_, err := c.Update(ctx, tok, func(c *cart) error { c.Count++; return nil })
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
	res.took = time.Since(start)
	hooks.Of(db).Wait()
	res.ops, res.locked, res.other = ops.Load(), locked.Load(), other.Load()
	res.cleanups = hooks.Of(db).Stats(table).Started
	return res, nil
}
