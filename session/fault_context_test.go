package session_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/model"
	"github.com/gormsession/gormsession/session"
)

// call is one Container operation, run with ctx.
type call struct {
	name  string
	write bool // blocked by a lock on writes; reads are not
	fn    func(ctx context.Context) error
}

// everyCall returns every Container operation that touches the database,
// each on its own copy of the stored session tok (subject "user:1"), so
// that none depends on another having run.
func everyCall(t *testing.T, e env, tok string) []call {
	t.Helper()
	ctx := context.Background()
	load := func() *session.Session[Cart] {
		s, err := e.c.Load(ctx, tok)
		require.NoError(t, err)
		s.Data.Count = 99
		return s
	}
	saveCopy, renewCopy, destroyCopy, othersCopy, handleCopy := load(), load(), load(), load(), load()
	fresh, err := e.c.Open(ctx, "")
	require.NoError(t, err)
	fresh.Data.Count = 1
	return []call{
		{"Open", false, func(ctx context.Context) error { _, err := e.c.Open(ctx, tok); return err }},
		{"Load", false, func(ctx context.Context) error { _, err := e.c.Load(ctx, tok); return err }},
		{"Exists", false, func(ctx context.Context) error { _, err := e.c.Exists(ctx, tok); return err }},
		{"List", false, func(ctx context.Context) error { _, err := e.c.List(ctx, "user:1"); return err }},
		{"DestroyOthers(handle)", false, func(ctx context.Context) error {
			_, err := e.c.DestroyOthers(ctx, handleCopy, "0000")
			return err
		}},
		{"Save(loaded)", true, func(ctx context.Context) error { return e.c.Save(ctx, saveCopy) }},
		{"Save(new)", true, func(ctx context.Context) error { return e.c.Save(ctx, fresh) }},
		{"Update", true, func(ctx context.Context) error {
			_, err := e.c.Update(ctx, tok, func(c *Cart) error { c.Count = 98; return nil })
			return err
		}},
		{"Renew", true, func(ctx context.Context) error { return e.c.Renew(ctx, renewCopy) }},
		{"Destroy", true, func(ctx context.Context) error { return e.c.Destroy(ctx, destroyCopy) }},
		{"DestroySubject", true, func(ctx context.Context) error { _, err := e.c.DestroySubject(ctx, "user:1"); return err }},
		{"DestroyOthers", true, func(ctx context.Context) error { _, err := e.c.DestroyOthers(ctx, othersCopy); return err }},
		{"Cleanup", true, func(ctx context.Context) error { _, err := e.c.Cleanup(ctx); return err }},
		{"AdjustTime", true, func(ctx context.Context) error { return e.c.AdjustTime(ctx, -time.Minute) }},
	}
}

// storedSession saves a session with subject "user:1" plus an expired one
// (so Cleanup has work) and returns the live one's token.
func storedSession(t *testing.T, e env) string {
	t.Helper()
	ctx := context.Background()
	s, err := e.c.Open(ctx, "")
	require.NoError(t, err)
	s.Data.Items = []string{"kept"}
	s.SetSubject("user:1")
	require.NoError(t, e.c.Save(ctx, s))
	return s.Token()
}

// promptSlack is how long past its deadline a call may take to return: a
// correctness bound (the call gave up), not a speed goal.
const promptSlack = 5 * time.Second

// TestFaultCancelledContextEveryCall: every Container call given an
// already-cancelled context returns an error matching context.Canceled
// (ErrorKind "canceled") without waiting, and writes nothing.
func TestFaultCancelledContextEveryCall(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db)
		tok := storedSession(t, e)
		before := e.rows(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for _, c := range everyCall(t, e, tok) {
			start := time.Now()
			err := c.fn(ctx)
			took := time.Since(start)
			require.ErrorIs(t, err, context.Canceled, c.name)
			require.Equal(t, "canceled", session.ErrorKind(err), c.name)
			require.Less(t, took, promptSlack, c.name)
		}
		require.True(t, rowsEqual(before, e.rows(t)), "a cancelled call wrote")
	})
}

// TestFaultCancelledContextUnderGormConfigs: the cancelled-context calls
// of TestFaultCancelledContextEveryCall on handles configured as GORM
// applications commonly configure theirs. Under PrepareStmt, GORM answers
// a statement it could not prepare (here: the context is already
// cancelled) with an empty *sql.Row, whose Scan panics; no call may panic
// or succeed, whatever the configuration.
func TestFaultCancelledContextUnderGormConfigs(t *testing.T) {
	t.Parallel()
	for _, variant := range testdb.GormConfigs[1:] {
		t.Run(strings.ReplaceAll(variant, ",", "+"), func(t *testing.T) {
			t.Parallel()
			for _, d := range testdb.All {
				t.Run(d, func(t *testing.T) {
					t.Parallel()
					cfg := &gorm.Config{}
					testdb.ApplyGormConfig(t, cfg, variant)
					e := setup(t, testdb.Open(t, d, cfg))
					tok := storedSession(t, e)
					before := e.rows(t)
					ctx, cancel := context.WithCancel(context.Background())
					cancel()
					for _, c := range everyCall(t, e, tok) {
						var err error
						require.NotPanics(t, func() { err = c.fn(ctx) }, c.name)
						require.ErrorIs(t, err, context.Canceled, c.name)
					}
					require.True(t, rowsEqual(before, e.rows(t)), "a cancelled call wrote")
					// The same handle still works once the context is live.
					s, err := e.c.Load(context.Background(), tok)
					require.NoError(t, err)
					require.Equal(t, []string{"kept"}, s.Data.Items)
				})
			}
		})
	}
}

// TestFaultTimedOutContextUnderLock: with the table locked by another
// connection (PostgreSQL LOCK TABLE ... ACCESS EXCLUSIVE, MySQL LOCK
// TABLES ... WRITE, SQLite BEGIN IMMEDIATE, which blocks writers only),
// every call that the lock blocks fails with an error matching
// context.DeadlineExceeded (ErrorKind "timeout"). On PostgreSQL and MySQL
// it returns within its 300ms deadline plus slack. On SQLite a write
// waiting for the lock does not see its context until the busy timeout
// of the DSN (10s for testdb.SQLiteDSN) runs out: the driver interrupts
// statements, not SQLite's busy wait; the bound asserted there is the
// busy timeout plus slack (docs/reliability.md). Nothing is written, and
// once the lock is gone the same container works again.
func TestFaultTimedOutContextUnderLock(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db)
		tok := storedSession(t, e)
		before := e.rows(t)
		calls := everyCall(t, e, tok)
		release := lockTable(t, db, e.table, true)
		const deadline = 300 * time.Millisecond
		bound := deadline + promptSlack
		if testdb.Dialect(db) == testdb.SQLite {
			bound += sqliteBusyTimeout
		}
		type outcome struct {
			err  error
			took time.Duration
		}
		out := make([]outcome, len(calls))
		var wg sync.WaitGroup
		for i, c := range calls {
			if testdb.Dialect(db) == testdb.SQLite && !c.write {
				continue // WAL readers are never blocked
			}
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), deadline)
				defer cancel()
				start := time.Now()
				err := c.fn(ctx)
				out[i] = outcome{err, time.Since(start)}
			})
		}
		wg.Wait()
		for i, c := range calls {
			if testdb.Dialect(db) == testdb.SQLite && !c.write {
				continue
			}
			require.ErrorIs(t, out[i].err, context.DeadlineExceeded, "%s: %v", c.name, out[i].err)
			require.Equal(t, "timeout", session.ErrorKind(out[i].err), c.name)
			require.Less(t, out[i].took, bound, c.name)
		}
		if testdb.Dialect(db) == testdb.Postgres {
			// pgx sends its cancel requests in the background: release the
			// lock only once no statement of ours still waits for it, or a
			// statement whose cancel had not arrived yet would run.
			require.Eventually(t, func() bool {
				var waiting int64
				err := db.Raw("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE ?",
					"%"+e.table+"%").Scan(&waiting).Error
				return err == nil && waiting == 0
			}, promptSlack, 10*time.Millisecond, "timed-out statements still wait for the lock")
		}
		release()
		// On MySQL/MariaDB the driver closes the connection of a call whose
		// context ended, but the server still runs the statement that was
		// waiting for the lock once the lock goes: a timed-out write's
		// outcome is unknown there (docs/reliability.md), so the table is
		// not compared. On PostgreSQL the driver's cancel request ends the
		// waiting statement on the server; over this direct connection the
		// table is unchanged.
		if testdb.Dialect(db) != testdb.MySQL {
			require.True(t, rowsEqual(before, e.rows(t)), "a timed-out call wrote")
			got, err := e.c.Load(context.Background(), tok)
			require.NoError(t, err, "the container does not recover after the lock")
			require.Equal(t, []string{"kept"}, got.Data.Items)
		}
		s, err := e.c.Open(context.Background(), "")
		require.NoError(t, err)
		require.NoError(t, e.c.Save(context.Background(), s), "the container does not recover after the lock")
	})
}

// rowsEqual compares two table dumps without printing them (a failure
// message must not carry ids or payloads).
func rowsEqual(a, b []model.SessionRow) bool {
	return slices.EqualFunc(a, b, func(x, y model.SessionRow) bool {
		return x.ID == y.ID && x.Subject == y.Subject && bytes.Equal(x.Payload, y.Payload) && x.Version == y.Version &&
			x.CreatedAt == y.CreatedAt && x.UpdatedAt == y.UpdatedAt && x.Deadline == y.Deadline && x.ExpiresAt == y.ExpiresAt
	})
}

// sqliteBusyTimeout is the busy timeout in testdb.SQLiteDSN.
const sqliteBusyTimeout = 10 * time.Second

// lockTable holds a lock on table from a dedicated connection of db until
// release is called (or t ends). all: block reads too where the database
// can (PostgreSQL ACCESS EXCLUSIVE, MySQL WRITE); otherwise block writes
// only (PostgreSQL EXCLUSIVE, MySQL READ). On SQLite both are BEGIN
// IMMEDIATE, which blocks other writers only.
func lockTable(t *testing.T, db *gorm.DB, table string, all bool) (release func()) {
	t.Helper()
	sqlDB, err := db.DB()
	require.NoError(t, err)
	ctx := context.Background()
	conn, err := sqlDB.Conn(ctx)
	require.NoError(t, err)
	var lock, unlock []string
	switch testdb.Dialect(db) {
	case testdb.Postgres:
		mode := "EXCLUSIVE"
		if all {
			mode = "ACCESS EXCLUSIVE"
		}
		lock = []string{"BEGIN", fmt.Sprintf(`LOCK TABLE %q IN %s MODE`, table, mode)}
		unlock = []string{"ROLLBACK"}
	case testdb.MySQL:
		mode := "READ"
		if all {
			mode = "WRITE"
		}
		lock = []string{fmt.Sprintf("LOCK TABLES `%s` %s", table, mode)}
		unlock = []string{"UNLOCK TABLES"}
	default:
		lock = []string{"BEGIN IMMEDIATE"}
		unlock = []string{"ROLLBACK"}
	}
	for _, q := range lock {
		_, err := conn.ExecContext(ctx, q)
		require.NoError(t, err, q)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			for _, q := range unlock {
				_, _ = conn.ExecContext(ctx, q)
			}
			_ = conn.Close()
		})
	}
	t.Cleanup(release)
	return release
}

// refuseDeletes makes every DELETE on table fail inside the database, with
// a trigger: a cleanup that fails for real, not in a mock.
func refuseDeletes(t *testing.T, db *gorm.DB, table string) {
	t.Helper()
	name := table + "_refuse"
	var stmts []string
	switch testdb.Dialect(db) {
	case testdb.Postgres:
		stmts = []string{
			fmt.Sprintf(`CREATE FUNCTION %q() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'deletes refused'; END $$`, name),
			fmt.Sprintf(`CREATE TRIGGER %q BEFORE DELETE ON %q FOR EACH ROW EXECUTE FUNCTION %q()`, name, table, name),
		}
		t.Cleanup(func() {
			_ = db.Migrator().DropTable(table)
			_ = db.Exec(fmt.Sprintf(`DROP FUNCTION IF EXISTS %q()`, name)).Error
		})
	case testdb.MySQL:
		stmts = []string{fmt.Sprintf("CREATE TRIGGER `%s` BEFORE DELETE ON `%s` FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'deletes refused'", name, table)}
	default:
		stmts = []string{fmt.Sprintf(`CREATE TRIGGER %q BEFORE DELETE ON %q BEGIN SELECT RAISE(ABORT, 'deletes refused'); END`, name, table)}
	}
	for _, q := range stmts {
		require.NoError(t, db.Exec(q).Error)
	}
}

// logRecorder is a slog.Handler that keeps every record's text.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Level.String() + " " + rec.Message)
	rec.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
	r.mu.Lock()
	r.lines = append(r.lines, b.String())
	r.mu.Unlock()
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }
func (r *logRecorder) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.lines, "\n")
}

// TestFaultRandomCleanupFailureNeverFailsRequests: the random cleanup fires
// on every query (frequency 1) while it cannot succeed, either because
// the database refuses the DELETE (a trigger raises an error) or because
// another connection holds a lock that blocks writes until the cleanup's
// 1s timeout. Every user request still succeeds, the failures are counted
// and logged at Warn without any token, id or payload, and no row is lost.
func TestFaultRandomCleanupFailureNeverFailsRequests(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"refused", "locked"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			testdb.Each(t, func(t *testing.T, db *gorm.DB) {
				rec := &logRecorder{}
				e := setup(t, db, session.WithCleanupFrequency(1), session.WithCleanupTimeout(time.Second),
					session.WithLogger(slog.New(rec)), session.WithLifetime(time.Hour))
				ctx := context.Background()
				// Expired rows for the cleanup to try to delete, and a live one.
				var expired []string
				for range 5 {
					s, err := e.c.Open(ctx, "")
					require.NoError(t, err)
					s.Data.Items = []string{"secret-payload-expired"}
					require.NoError(t, e.c.Save(ctx, s))
					expired = append(expired, s.Token())
				}
				require.NoError(t, e.c.AdjustTime(ctx, -2*time.Hour))
				hooks.Of(db).Wait()
				tok := storedSession(t, e)
				hooks.Of(db).Wait()
				stats0 := hooks.Of(db).Stats(e.table)

				writes := mode == "refused"
				if writes {
					refuseDeletes(t, db, e.table)
				} else {
					defer lockTable(t, db, e.table, false)()
				}
				for i := range 20 {
					s, err := e.c.Open(ctx, tok)
					require.NoError(t, err, "open #%d", i)
					require.False(t, s.IsNew())
					_, err = e.c.Load(ctx, tok)
					require.NoError(t, err, "load #%d", i)
					ok, err := e.c.Exists(ctx, tok)
					require.NoError(t, err)
					require.True(t, ok)
					if writes {
						s.Data.Count = i
						require.NoError(t, e.c.Save(ctx, s), "save #%d", i)
						_, err = e.c.Update(ctx, tok, func(c *Cart) error { c.Count++; return nil })
						require.NoError(t, err, "update #%d", i)
					}
				}
				hooks.Of(db).Wait()
				st := hooks.Of(db).Stats(e.table)
				require.Positive(t, st.Started-stats0.Started, "no cleanup fired")
				require.Equal(t, st.Started-stats0.Started, st.Failures-stats0.Failures, "a cleanup succeeded; the test proves nothing")
				logs := rec.all()
				require.Contains(t, logs, "random cleanup failed")
				for _, x := range append(expired, tok, idOf(t, tok), "secret-payload", "kept") {
					require.NotContains(t, logs, x)
				}
				ok, err := e.c.Exists(ctx, tok)
				require.NoError(t, err)
				require.True(t, ok, "the live session was lost")
				if writes {
					require.EqualValues(t, 6, e.count(t), "a row was lost")
				}
			})
		})
	}
}
