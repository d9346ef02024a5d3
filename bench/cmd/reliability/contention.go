package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gormsession/gormsession/session"
)

// updateFigure: 64 goroutines call Update on one session
// (TestReliabilityUpdateNoLostUpdates).
var updateFigure = figure{
	name:  "update",
	title: "64 goroutines x %s Update on one session",
	load:  func(r *runner) string { return count(r.n(100)) },
	columns: []string{"database", "conflicts retried", "most retries in one call", "gave up",
		"p50", "p99", "updates/s", "lost updates"},
	run: func(ctx context.Context, r *runner) [][]string {
		return r.each(ctx, "update", 8, func(ctx context.Context, t *target) ([]string, error) {
			return runUpdate(ctx, r, t, 64, r.n(100))
		})
	},
}

func runUpdate(ctx context.Context, r *runner, t *target, workers, each int) ([]string, error) {
	var updates, retries, gaveUp, maxRetry atomic.Int64
	lat := &latencies{}
	c, err := t.container(session.WithObserver(func(_ context.Context, e session.Event) {
		if e.Op != "update" {
			return
		}
		updates.Add(1)
		retries.Add(int64(e.Retries))
		for {
			m := maxRetry.Load()
			if int64(e.Retries) <= m || maxRetry.CompareAndSwap(m, int64(e.Retries)) {
				break
			}
		}
		if session.ErrorKind(e.Err) == "conflict" {
			gaveUp.Add(1)
		}
		lat.add(e.Duration)
	}))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	s, err := c.Open(ctx, "")
	if err != nil {
		return nil, err
	}
	if err := c.Save(ctx, s); err != nil {
		return nil, err
	}
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for range each {
				if _, err := c.Update(ctx, s.Token(), func(c *cart) error { c.Count++; return nil }); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	got, err := c.Load(ctx, s.Token())
	if err != nil {
		return nil, err
	}
	total := workers * each
	lost := total - int(failed.Load()) - got.Data.Count
	if lost != 0 {
		r.problem("update on %s: %d updates that returned nil are not in the counter", t.dialect, lost)
	}
	if err, _ := firstErr.Load().(error); err != nil {
		r.problem("update on %s: %d of %d updates failed, the first with: %v", t.dialect, failed.Load(), total, err)
	}
	if updates.Load() != int64(total) {
		r.problem("update on %s: %d updates observed of %d", t.dialect, updates.Load(), total)
	}
	return []string{count(retries.Load()), count(maxRetry.Load()), count(gaveUp.Load()),
		dur(lat.quantile(0.5)), dur(lat.quantile(0.99)), rate(int64(total), took), count(lost)}, nil
}

// staleFigure: 64 goroutines load, increment and Save one session
// (TestReliabilityStaleSaveNeverSilent).
var staleFigure = figure{
	name:    "stale",
	title:   "plain Save from stale copies, 64 goroutines x %s rounds of Load, increment, Save",
	load:    func(r *runner) string { return count(r.n(100)) },
	columns: []string{"database", "attempts", "saved", "`ErrConflict`", "silent losses"},
	run: func(ctx context.Context, r *runner) [][]string {
		return r.each(ctx, "stale", 5, func(ctx context.Context, t *target) ([]string, error) {
			return runStale(ctx, r, t, 64, r.n(100))
		})
	},
}

func runStale(ctx context.Context, r *runner, t *target, workers, each int) ([]string, error) {
	c, err := t.container()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	s, err := c.Open(ctx, "")
	if err != nil {
		return nil, err
	}
	if err := c.Save(ctx, s); err != nil {
		return nil, err
	}
	var wins, conflicts atomic.Int64
	var other atomic.Value
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				cp, err := c.Load(ctx, s.Token())
				if err != nil {
					other.CompareAndSwap(nil, err)
					return
				}
				cp.Data.Count++
				switch err := c.Save(ctx, cp); {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, session.ErrConflict):
					conflicts.Add(1)
				default:
					other.CompareAndSwap(nil, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := other.Load().(error); err != nil {
		r.problem("stale on %s: an attempt was neither saved nor ErrConflict: %v", t.dialect, err)
	}
	got, err := c.Load(ctx, s.Token())
	if err != nil {
		return nil, err
	}
	silent := wins.Load() - int64(got.Data.Count)
	if silent != 0 {
		r.problem("stale on %s: %d saves that returned nil are not in the counter", t.dialect, silent)
	}
	return []string{count(wins.Load() + conflicts.Load()), count(wins.Load()), count(conflicts.Load()), count(silent)}, nil
}

// destroyFigure races Destroy against Save and Update of other copies
// (TestReliabilityDestroyVersusSave).
var destroyFigure = figure{
	name:  "destroy",
	title: "destroy versus save, %s trials",
	load:  func(r *runner) string { return count(r.n(1000)) },
	columns: []string{"database", "save landed before the destroy", "save got `ErrNotFound`",
		"update got `ErrNotFound`", "deadlock errors", "resurrections"},
	run: func(ctx context.Context, r *runner) [][]string {
		return r.each(ctx, "destroy", 6, func(ctx context.Context, t *target) ([]string, error) {
			return runDestroy(ctx, r, t, r.n(1000))
		})
	},
}

type raceResult struct {
	savedFirst, notFound, updNotFound, deadlocks, resurrected atomic.Int64
}

func runDestroy(ctx context.Context, r *runner, t *target, trials int) ([]string, error) {
	c, err := t.container()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	res := &raceResult{}
	jobs := make(chan int)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range jobs {
				if firstErr.Load() != nil {
					continue
				}
				if err := destroyVersusSave(ctx, c, res); err != nil {
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
		return nil, err
	}
	left, err := countRows(ctx, t.db)
	if err != nil {
		return nil, err
	}
	if n := res.resurrected.Load(); n > 0 || left > 0 {
		r.problem("destroy on %s: %d destroyed sessions came back, %d rows left", t.dialect, n, left)
	}
	if n := res.deadlocks.Load(); n > 0 {
		r.problem("destroy on %s: %d deadlock errors returned to the caller", t.dialect, n)
	}
	if got := res.savedFirst.Load() + res.notFound.Load(); got != int64(trials) {
		r.problem("destroy on %s: %d of %d trials classified", t.dialect, got, trials)
	}
	return []string{count(res.savedFirst.Load()), count(res.notFound.Load()), count(res.updNotFound.Load()),
		count(res.deadlocks.Load()), count(res.resurrected.Load())}, nil
}

// isDeadlock reports a MySQL/MariaDB deadlock (error 1213).
func isDeadlock(err error) bool {
	return err != nil && strings.Contains(err.Error(), "Error 1213")
}

// destroyVersusSave is one trial: store a session, load two copies, race
// Destroy of one against Save of the other and an Update of the token,
// then save the stale copy once more. The session must be gone.
func destroyVersusSave(ctx context.Context, c *session.Container[cart], res *raceResult) error {
	s, err := c.Open(ctx, "")
	if err != nil {
		return err
	}
	s.Data.Items = []string{"v1"}
	if err := c.Save(ctx, s); err != nil {
		return err
	}
	a, err := c.Load(ctx, s.Token())
	if err != nil {
		return err
	}
	b, err := c.Load(ctx, s.Token())
	if err != nil {
		return err
	}
	b.Data.Items = []string{"v2"}
	var saveErr, updErr, destroyErr error
	var wg sync.WaitGroup
	wg.Go(func() { destroyErr = c.Destroy(ctx, a) })
	wg.Go(func() { saveErr = c.Save(ctx, b) })
	wg.Go(func() {
		_, updErr = c.Update(ctx, s.Token(), func(c *cart) error { c.Count++; return nil })
	})
	wg.Wait()
	for _, err := range []error{destroyErr, saveErr, updErr} {
		if isDeadlock(err) {
			res.deadlocks.Add(1)
		}
	}
	for i := 0; isDeadlock(destroyErr) && i < 10; i++ {
		destroyErr = c.Destroy(ctx, a)
	}
	if destroyErr != nil {
		return fmt.Errorf("destroy: %w", destroyErr)
	}
	switch {
	case saveErr == nil:
		res.savedFirst.Add(1)
	case errors.Is(saveErr, session.ErrNotFound), isDeadlock(saveErr):
		res.notFound.Add(1)
	case errors.Is(saveErr, session.ErrConflict): // the Update landed in between
		res.savedFirst.Add(1)
	default:
		return fmt.Errorf("save: %w", saveErr)
	}
	switch {
	case updErr == nil, isDeadlock(updErr):
	case errors.Is(updErr, session.ErrNotFound):
		res.updNotFound.Add(1)
	default:
		return fmt.Errorf("update: %w", updErr)
	}
	// Nothing the losers do afterwards brings it back.
	switch err := c.Save(ctx, b); {
	case err == nil:
		res.resurrected.Add(1)
		return nil
	case isDeadlock(err):
		res.deadlocks.Add(1)
	case !errors.Is(err, session.ErrNotFound) && !errors.Is(err, session.ErrConflict):
		return fmt.Errorf("save after destroy: %w", err)
	}
	ok, err := c.Exists(ctx, s.Token())
	if err != nil {
		return err
	}
	if ok {
		res.resurrected.Add(1)
	}
	return nil
}

// manyFigure: 200 goroutines on 200 sessions
// (TestReliabilityManySessionsAtOnce).
var manyFigure = figure{
	name:    "many",
	title:   "200 goroutines on 200 sessions, %s rounds each",
	load:    func(r *runner) string { return count(r.n(10)) },
	columns: []string{"database", "operations", "errors", "p50", "p99", "operations/s"},
	run: func(ctx context.Context, r *runner) [][]string {
		return r.each(ctx, "many", 6, func(ctx context.Context, t *target) ([]string, error) {
			return runMany(ctx, r, t, 200, r.n(10))
		})
	},
}

func runMany(ctx context.Context, r *runner, t *target, workers, rounds int) ([]string, error) {
	lat := &latencies{}
	c, err := t.container(session.WithObserver(func(_ context.Context, e session.Event) { lat.add(e.Duration) }))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	tokens := make([]string, workers)
	counts := make([]int, workers)
	errs := make([]error, workers)
	var ops atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Go(func() { tokens[w], counts[w], errs[w] = oneSessionWorker(ctx, c, rounds, &ops) })
	}
	wg.Wait()
	took := time.Since(start)
	failed := 0
	for w, err := range errs {
		if err != nil {
			failed++
			if failed == 1 {
				r.problem("many on %s: a worker failed: %v", t.dialect, err)
			}
			continue
		}
		got, err := c.Load(ctx, tokens[w])
		if err != nil {
			return nil, err
		}
		if got.Data.Count != counts[w] {
			r.problem("many on %s: a session holds %d, its worker wrote %d", t.dialect, got.Data.Count, counts[w])
		}
	}
	return []string{count(ops.Load()), count(failed), dur(lat.quantile(0.5)), dur(lat.quantile(0.99)), rate(ops.Load(), took)}, nil
}

// oneSessionWorker opens and saves a session, then runs rounds of open,
// save, update and exists on it, renewing it every fifth round; it stops
// at its first error.
func oneSessionWorker(ctx context.Context, c *session.Container[cart], rounds int, ops *atomic.Int64) (string, int, error) {
	s, err := c.Open(ctx, "")
	if err != nil {
		return "", 0, err
	}
	if err := c.Save(ctx, s); err != nil {
		return "", 0, err
	}
	ops.Add(2)
	tok, n := s.Token(), 0
	for i := range rounds {
		s, err := c.Open(ctx, tok)
		if err != nil {
			return "", 0, err
		}
		if s.IsNew() {
			return "", 0, errors.New("own session not found")
		}
		s.Data.Count++
		if err := c.Save(ctx, s); err != nil {
			return "", 0, err
		}
		n++
		s, err = c.Update(ctx, tok, func(c *cart) error { c.Count++; return nil })
		if err != nil {
			return "", 0, err
		}
		n++
		ok, err := c.Exists(ctx, tok)
		if err != nil || !ok {
			return "", 0, errors.Join(err, errors.New("own session does not exist"))
		}
		ops.Add(4)
		if i%5 == 4 {
			// s is what Update stored, so it is current.
			if err := c.Renew(ctx, s); err != nil {
				return "", 0, err
			}
			tok = s.Token()
			ops.Add(1)
		}
	}
	return tok, n, nil
}
