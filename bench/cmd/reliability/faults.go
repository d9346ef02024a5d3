package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/gormsession/gormsession/bench"
	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/session"
)

// call is one Container operation, run with ctx.
type call struct {
	name  string
	write bool // blocked by a lock on writes; reads are not
	fn    func(ctx context.Context) error
}

// storedSession saves a session with subject "user:1" and returns its
// token.
func storedSession(ctx context.Context, c *session.Container[cart]) (string, error) {
	s, err := c.Open(ctx, "")
	if err != nil {
		return "", err
	}
	s.Data.Items = []string{"kept"}
	s.SetSubject("user:1")
	return s.Token(), c.Save(ctx, s)
}

// everyCall returns every Container operation that touches the database,
// each on its own copy of the stored session tok, so that none depends on
// another having run (the list of TestFaultTimedOutContextUnderLock).
func everyCall(ctx context.Context, c *session.Container[cart], tok string) ([]call, error) {
	var copies [5]*session.Session[cart]
	for i := range copies {
		s, err := c.Load(ctx, tok)
		if err != nil {
			return nil, err
		}
		s.Data.Count = 99
		copies[i] = s
	}
	saveCopy, renewCopy, destroyCopy, othersCopy, handleCopy := copies[0], copies[1], copies[2], copies[3], copies[4]
	fresh, err := c.Open(ctx, "")
	if err != nil {
		return nil, err
	}
	fresh.Data.Count = 1
	return []call{
		{"Open", false, func(ctx context.Context) error { _, err := c.Open(ctx, tok); return err }},
		{"Load", false, func(ctx context.Context) error { _, err := c.Load(ctx, tok); return err }},
		{"Exists", false, func(ctx context.Context) error { _, err := c.Exists(ctx, tok); return err }},
		{"List", false, func(ctx context.Context) error { _, err := c.List(ctx, "user:1"); return err }},
		{"DestroyOthers(handle)", false, func(ctx context.Context) error {
			_, err := c.DestroyOthers(ctx, handleCopy, "0000")
			return err
		}},
		{"Save(loaded)", true, func(ctx context.Context) error { return c.Save(ctx, saveCopy) }},
		{"Save(new)", true, func(ctx context.Context) error { return c.Save(ctx, fresh) }},
		{"Update", true, func(ctx context.Context) error {
			_, err := c.Update(ctx, tok, func(c *cart) error { c.Count = 98; return nil })
			return err
		}},
		{"Renew", true, func(ctx context.Context) error { return c.Renew(ctx, renewCopy) }},
		{"Destroy", true, func(ctx context.Context) error { return c.Destroy(ctx, destroyCopy) }},
		{"DestroySubject", true, func(ctx context.Context) error { _, err := c.DestroySubject(ctx, "user:1"); return err }},
		{"DestroyOthers", true, func(ctx context.Context) error { _, err := c.DestroyOthers(ctx, othersCopy); return err }},
		{"Cleanup", true, func(ctx context.Context) error { _, err := c.Cleanup(ctx); return err }},
		{"AdjustTime", true, func(ctx context.Context) error { return c.AdjustTime(ctx, -time.Minute) }},
	}, nil
}

// timeoutDeadline is the deadline of every call blocked by the lock.
const timeoutDeadline = 300 * time.Millisecond

// timeoutFigure: every call a table lock blocks, with a 300 ms deadline
// (TestFaultTimedOutContextUnderLock); and whether the table changed
// after the lock went, that is whether a timed-out write was applied late.
var timeoutFigure = figure{
	name:  "timeout",
	title: "calls blocked by a table lock, each with a 300 ms deadline",
	columns: []string{"database", "blocked calls", "error", "slowest return",
		"table changed within 2 s after the lock went (timed-out writes applied late)"},
	run: func(ctx context.Context, r *runner) [][]string {
		return r.each(ctx, "timeout", 5, func(ctx context.Context, t *target) ([]string, error) {
			return runTimeout(ctx, r, t)
		})
	},
}

func runTimeout(ctx context.Context, r *runner, t *target) ([]string, error) {
	c, err := t.container()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	tok, err := storedSession(ctx, c)
	if err != nil {
		return nil, err
	}
	before, err := rows(ctx, t.db)
	if err != nil {
		return nil, err
	}
	calls, err := everyCall(ctx, c, tok)
	if err != nil {
		return nil, err
	}
	release, err := lockTable(ctx, t.db, t.dialect, table, true)
	if err != nil {
		return nil, err
	}
	type outcome struct {
		name string
		err  error
		took time.Duration
	}
	var out []*outcome
	var wg sync.WaitGroup
	for _, cl := range calls {
		if t.dialect == bench.SQLite && !cl.write {
			continue // WAL readers are never blocked
		}
		o := &outcome{name: cl.name}
		out = append(out, o)
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(ctx, timeoutDeadline)
			defer cancel()
			start := time.Now()
			o.err = cl.fn(cctx)
			o.took = time.Since(start)
		})
	}
	wg.Wait()
	release()
	var slowest time.Duration
	kind := "`context.DeadlineExceeded`"
	for _, o := range out {
		slowest = max(slowest, o.took)
		if !errors.Is(o.err, context.DeadlineExceeded) || session.ErrorKind(o.err) != "timeout" {
			kind = "not all `context.DeadlineExceeded`"
			r.problem("timeout on %s: %s returned %v, not a deadline error", t.dialect, o.name, o.err)
		}
	}
	// Statements that waited for the lock may still run now.
	changed := false
	for end := time.Now().Add(2 * time.Second); !changed && time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		now, err := rows(ctx, t.db)
		if err != nil {
			return nil, err
		}
		changed = !rowsEqual(before, now)
	}
	s, err := c.Open(ctx, "")
	if err == nil {
		err = c.Save(ctx, s)
	}
	if err != nil {
		r.problem("timeout on %s: the container does not recover after the lock: %v", t.dialect, err)
	}
	changedCell := "no"
	if changed {
		changedCell = "**yes**"
	}
	return []string{count(len(out)), kind, dur(slowest), changedCell}, nil
}

// lockTable holds a lock on table name from a dedicated connection of db
// until release is called. all: block reads too where the database can
// (PostgreSQL ACCESS EXCLUSIVE, MySQL WRITE); otherwise block writes only
// (PostgreSQL EXCLUSIVE, MySQL READ). On SQLite both are BEGIN IMMEDIATE,
// which blocks other writers only.
func lockTable(ctx context.Context, db *gorm.DB, dialect, name string, all bool) (release func(), err error) {
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return nil, err
	}
	var lock, unlock []string
	switch dialect {
	case bench.Postgres:
		mode := "EXCLUSIVE"
		if all {
			mode = "ACCESS EXCLUSIVE"
		}
		lock = []string{"BEGIN", fmt.Sprintf(`LOCK TABLE %q IN %s MODE`, name, mode)}
		unlock = []string{"ROLLBACK"}
	case bench.MySQL:
		mode := "READ"
		if all {
			mode = "WRITE"
		}
		lock = []string{fmt.Sprintf("LOCK TABLES `%s` %s", name, mode)}
		unlock = []string{"UNLOCK TABLES"}
	default:
		lock = []string{"BEGIN IMMEDIATE"}
		unlock = []string{"ROLLBACK"}
	}
	for _, q := range lock {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			for _, q := range unlock {
				_, _ = conn.ExecContext(context.Background(), q)
			}
			_ = conn.Close()
		})
	}, nil
}

// refuseDeletes makes every DELETE on the table fail inside the database,
// with a trigger; the figure's namespace takes it away.
func refuseDeletes(ctx context.Context, db *gorm.DB, dialect string) error {
	name := table + "_refuse"
	var stmts []string
	switch dialect {
	case bench.Postgres:
		stmts = []string{
			fmt.Sprintf(`CREATE FUNCTION %q() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'deletes refused'; END $$`, name),
			fmt.Sprintf(`CREATE TRIGGER %q BEFORE DELETE ON %q FOR EACH ROW EXECUTE FUNCTION %q()`, name, table, name),
		}
	case bench.MySQL:
		stmts = []string{fmt.Sprintf("CREATE TRIGGER `%s` BEFORE DELETE ON `%s` FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'deletes refused'", name, table)}
	default:
		stmts = []string{fmt.Sprintf(`CREATE TRIGGER %q BEFORE DELETE ON %q BEGIN SELECT RAISE(ABORT, 'deletes refused'); END`, name, table)}
	}
	for _, q := range stmts {
		if err := db.WithContext(ctx).Exec(q).Error; err != nil {
			return err
		}
	}
	return nil
}

// cleanupFailFigure: the random cleanup fires on every query while it
// cannot succeed (TestFaultRandomCleanupFailureNeverFailsRequests).
var cleanupFailFigure = figure{
	name:  "cleanupfail",
	title: "the random cleanup failing on every query, 20 rounds of requests",
	columns: []string{"database", "mode", "random cleanups started", "failed", "requests", "requests failed",
		"rows lost"},
	run: func(ctx context.Context, r *runner) [][]string {
		var out [][]string
		for _, mode := range []string{"refused", "locked"} {
			out = append(out, r.each(ctx, "cleanupfail_"+mode, 7, func(ctx context.Context, t *target) ([]string, error) {
				return runCleanupFail(ctx, r, t, mode)
			})...)
		}
		return out
	},
}

func runCleanupFail(ctx context.Context, r *runner, t *target, mode string) ([]string, error) {
	c, err := t.container(session.WithCleanupFrequency(1), session.WithCleanupTimeout(time.Second),
		session.WithLogger(slog.New(slog.DiscardHandler)), session.WithLifetime(time.Hour))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	// Expired rows for the cleanup to try to delete, and a live one.
	for range 5 {
		s, err := c.Open(ctx, "")
		if err == nil {
			err = c.Save(ctx, s)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := c.AdjustTime(ctx, -2*time.Hour); err != nil {
		return nil, err
	}
	hooks.Of(t.db).Wait()
	tok, err := storedSession(ctx, c)
	if err != nil {
		return nil, err
	}
	hooks.Of(t.db).Wait()
	stats0 := hooks.Of(t.db).Stats(table)
	writes := mode == "refused"
	if writes {
		if err := refuseDeletes(ctx, t.db, t.dialect); err != nil {
			return nil, err
		}
	} else {
		release, err := lockTable(ctx, t.db, t.dialect, table, false)
		if err != nil {
			return nil, err
		}
		defer release()
	}
	requests, failed := 0, 0
	note := func(err error) {
		requests++
		if err != nil {
			failed++
			if failed == 1 {
				r.problem("cleanupfail %s on %s: a request failed: %v", mode, t.dialect, err)
			}
		}
	}
	for i := range 20 {
		s, err := c.Open(ctx, tok)
		note(err)
		if err == nil && s.IsNew() {
			note(errors.New("the live session was not found"))
		}
		_, err = c.Load(ctx, tok)
		note(err)
		_, err = c.Exists(ctx, tok)
		note(err)
		if writes && s != nil {
			s.Data.Count = i
			note(c.Save(ctx, s))
			_, err = c.Update(ctx, tok, func(c *cart) error { c.Count++; return nil })
			note(err)
		}
	}
	hooks.Of(t.db).Wait()
	st := hooks.Of(t.db).Stats(table)
	started, failures := st.Started-stats0.Started, st.Failures-stats0.Failures
	if started == 0 || failures != started {
		r.problem("cleanupfail %s on %s: %d cleanups started, %d failed; the run proves nothing", mode, t.dialect, started, failures)
	}
	lost := "-"
	if writes {
		n, err := countRows(ctx, t.db)
		if err != nil {
			return nil, err
		}
		lost = count(6 - n)
		if n != 6 {
			r.problem("cleanupfail %s on %s: %d rows of 6 left", mode, t.dialect, n)
		}
	}
	return []string{mode, count(started), count(failures), count(requests), count(failed), lost}, nil
}
