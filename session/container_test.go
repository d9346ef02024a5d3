package session_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/model"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessiontest"
)

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	cases := map[string]session.Option{
		"WithTable":            session.WithTable(""),
		"WithLifetime":         session.WithLifetime(-time.Hour),
		"WithIdleTimeout":      session.WithIdleTimeout(time.Millisecond),
		"WithCleanupFrequency": session.WithCleanupFrequency(-1),
		"WithCleanupBatchSize": sessiontest.WithCleanupBatchSize(0),
		"WithCleanupTimeout":   session.WithCleanupTimeout(0),
		"WithCleanupRand":      sessiontest.WithCleanupRand(nil),
		"WithCodec":            session.WithCodec(nil),
		"WithClock":            sessiontest.WithClock(nil),
		"WithMaxPayloadSize":   session.WithMaxPayloadSize(0),
		"WithLogger":           session.WithLogger(nil),
		"WithObserver":         session.WithObserver(nil),
	}
	for name, opt := range cases {
		_, err := session.New[Cart](db, opt)
		require.ErrorIs(t, err, session.ErrInvalidOption, name)
		require.Contains(t, err.Error(), name)
	}
	_, err := session.New[Cart](db, session.WithTable("x; DROP TABLE y"))
	require.ErrorIs(t, err, session.ErrInvalidOption)
	_, err = session.New[Cart](nil)
	require.Error(t, err)
}

func TestNewDefaultsWork(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db)
		ctx := context.Background()
		s, err := e.c.Open(ctx, "")
		require.NoError(t, err)
		require.WithinDuration(t, time.Now().Add(24*time.Hour), s.ExpiresAt(), time.Minute)
		require.NoError(t, e.c.Save(ctx, s))
		row := e.rows(t)[0]
		require.Equal(t, 24*time.Hour.Milliseconds(), row.Deadline-row.CreatedAt)
		require.Equal(t, row.Deadline, row.ExpiresAt)
	})
}

func TestMigrateIdempotentAndConcurrent(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.All {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			path := t.TempDir() + "/shared.db"
			const n = 4
			dbs := make([]*gorm.DB, n)
			for i := range dbs {
				dbs[i] = testdb.OpenAt(t, d, path, nil)
			}
			table := testdb.Table(t, dbs[0])
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i := range dbs {
				wg.Go(func() {
					_, errs[i] = session.New[Cart](dbs[i], session.WithTable(table), session.WithCleanupFrequency(0))
				})
			}
			wg.Wait()
			for i, err := range errs {
				require.NoError(t, err, "process %d", i)
			}
			// Once more, now that it exists.
			c, err := session.New[Cart](dbs[0], session.WithTable(table), session.WithCleanupFrequency(0))
			require.NoError(t, err)
			s, err := c.Open(context.Background(), "")
			require.NoError(t, err)
			require.NoError(t, c.Save(context.Background(), s))
		})
	}
}

func TestOpenIsLenientAndWritesNothing(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		clock := newClock()
		e := setup(t, db, sessiontest.WithClock(clock.Now), session.WithLifetime(time.Hour))
		ctx := context.Background()

		saved, err := e.c.Open(ctx, "")
		require.NoError(t, err)
		require.True(t, saved.IsNew())
		saved.Data.Items = []string{"apple"}
		require.NoError(t, e.c.Save(ctx, saved))
		require.False(t, saved.IsNew())
		require.EqualValues(t, 1, e.count(t))

		unknown, _ := mustFresh(t, e.c)
		for name, tok := range map[string]string{
			"empty": "", "malformed": "not a token", "unknown": unknown,
			"too long": saved.Token() + "A", "stored id": idOf(t, saved.Token()),
		} {
			s, err := e.c.Open(ctx, tok)
			require.NoError(t, err, name)
			require.True(t, s.IsNew(), name)
			require.NotEqual(t, tok, s.Token(), name)
			require.Empty(t, s.Data.Items, name)
			_, err = e.c.Load(ctx, tok)
			require.ErrorIs(t, err, session.ErrNotFound, name)
		}

		for range 10000 {
			tok, _ := mustFresh(t, e.c)
			s, err := e.c.Open(ctx, tok)
			require.NoError(t, err)
			require.True(t, s.IsNew())
		}
		require.EqualValues(t, 1, e.count(t), "opening unknown tokens wrote rows")

		clock.Advance(time.Hour)
		s, err := e.c.Open(ctx, saved.Token())
		require.NoError(t, err)
		require.True(t, s.IsNew(), "an expired session must not be reopened")
		ok, err := e.c.Exists(ctx, saved.Token())
		require.NoError(t, err)
		require.False(t, ok)
	})
}

// mustFresh returns a token the server issued but never stored.
func mustFresh(t *testing.T, c *session.Container[Cart]) (string, *session.Session[Cart]) {
	t.Helper()
	s, err := c.Open(context.Background(), "")
	require.NoError(t, err)
	return s.Token(), s
}

func TestTokensAreHashedAtRest(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db)
		ctx := context.Background()
		var tokens []string
		for i := range 20 {
			s, err := e.c.Open(ctx, "")
			require.NoError(t, err)
			require.Len(t, s.Token(), 43)
			s.Data.Count = i
			s.SetSubject(fmt.Sprintf("user:%d", i%3))
			require.NoError(t, e.c.Save(ctx, s))
			tokens = append(tokens, s.Token())
		}
		// Dump the table raw, every column as the database returns it.
		rows, err := db.Raw("SELECT * FROM " + e.table).Rows()
		require.NoError(t, err)
		var dump bytes.Buffer
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			for _, v := range vals {
				fmt.Fprintf(&dump, "%v|%s\n", v, v)
			}
		}
		require.NoError(t, rows.Close())
		stored := map[string]bool{}
		for _, r := range e.rows(t) {
			stored[r.ID] = true
		}
		for _, tok := range tokens {
			require.NotContains(t, dump.String(), tok)
			require.True(t, stored[idOf(t, tok)], "row id is not the hex SHA-256 of the token")
			// A stored hash presented as a token is not a session.
			_, err := e.c.Load(ctx, idOf(t, tok))
			require.ErrorIs(t, err, session.ErrNotFound)
		}
	})
}

func TestSaveDetectsConflicts(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db)
		ctx := context.Background()
		s, _ := e.c.Open(ctx, "")
		require.NoError(t, e.c.Save(ctx, s))

		a, err := e.c.Load(ctx, s.Token())
		require.NoError(t, err)
		b, err := e.c.Load(ctx, s.Token())
		require.NoError(t, err)
		a.Data.Items = []string{"a"}
		b.Data.Items = []string{"b"}
		require.NoError(t, e.c.Save(ctx, a))
		err = e.c.Save(ctx, b)
		require.ErrorIs(t, err, session.ErrConflict)
		require.Equal(t, "session: save: conflict", err.Error())

		got, err := e.c.Load(ctx, s.Token())
		require.NoError(t, err)
		require.Equal(t, []string{"a"}, got.Data.Items, "the losing save must change nothing")
		// The winner can keep saving.
		a.Data.Count = 7
		require.NoError(t, e.c.Save(ctx, a))
	})
}

func TestSaveAfterDestroyNeverRecreates(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db)
		ctx := context.Background()
		s, _ := e.c.Open(ctx, "")
		require.NoError(t, e.c.Save(ctx, s))
		other, err := e.c.Load(ctx, s.Token())
		require.NoError(t, err)

		require.NoError(t, e.c.Destroy(ctx, s))
		require.NoError(t, e.c.Destroy(ctx, s), "destroying twice is fine")
		require.NoError(t, e.c.Destroy(ctx, other), "destroying a gone session is fine")

		require.ErrorIs(t, e.c.Save(ctx, s), session.ErrNotFound)
		require.ErrorIs(t, e.c.Save(ctx, other), session.ErrNotFound)
		require.ErrorIs(t, e.c.Renew(ctx, other), session.ErrNotFound)
		require.EqualValues(t, 0, e.count(t))

		// A copy loaded before the destroy, saved afterwards: still gone.
		s2, _ := e.c.Open(ctx, "")
		require.NoError(t, e.c.Save(ctx, s2))
		stale, err := e.c.Load(ctx, s2.Token())
		require.NoError(t, err)
		_, err = e.c.DestroySubject(ctx, "nobody")
		require.NoError(t, err)
		require.NoError(t, e.c.Destroy(ctx, s2))
		require.ErrorIs(t, e.c.Save(ctx, stale), session.ErrNotFound)
		require.EqualValues(t, 0, e.count(t))

		// A new session destroyed before its first save is never stored.
		fresh, _ := e.c.Open(ctx, "")
		require.NoError(t, e.c.Destroy(ctx, fresh))
		require.ErrorIs(t, e.c.Save(ctx, fresh), session.ErrNotFound)
		require.EqualValues(t, 0, e.count(t))
	})
}

func TestUpdateRetriesUntilEveryIncrementLands(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		var retries atomic.Int64
		e := setup(t, db, session.WithObserver((func(_ context.Context, ev session.Event) {
			if ev.Op == "update" {
				retries.Add(int64(ev.Retries))
			}
		})))
		ctx := context.Background()
		s, _ := e.c.Open(ctx, "")
		require.NoError(t, e.c.Save(ctx, s))

		const workers, each = 32, 50
		var wg sync.WaitGroup
		errs := make(chan error, workers*each)
		for range workers {
			wg.Go(func() {
				for range each {
					if _, err := e.c.Update(ctx, s.Token(), func(c *Cart) error { c.Count++; return nil }); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		got, err := e.c.Load(ctx, s.Token())
		require.NoError(t, err)
		require.Equal(t, workers*each, got.Data.Count)
		t.Logf("%s: %d conflicts retried", testdb.Dialect(db), retries.Load())

		// fn's error stops Update and saves nothing.
		boom := errors.New("boom")
		_, err = e.c.Update(ctx, s.Token(), func(c *Cart) error { c.Count = -1; return boom })
		require.ErrorIs(t, err, boom)
		got, _ = e.c.Load(ctx, s.Token())
		require.Equal(t, workers*each, got.Data.Count)
		// An unknown token is not created.
		tok, _ := mustFresh(t, e.c)
		_, err = e.c.Update(ctx, tok, func(*Cart) error { return nil })
		require.ErrorIs(t, err, session.ErrNotFound)
		require.EqualValues(t, 1, e.count(t))
	})
}

func TestAbsoluteAndIdleTimeouts(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		clock := newClock()
		e := setup(t, db, sessiontest.WithClock(clock.Now),
			session.WithLifetime(time.Hour), session.WithIdleTimeout(10*time.Minute))
		ctx := context.Background()
		s, _ := e.c.Open(ctx, "")
		s.Data.Items = []string{"kept"}
		require.NoError(t, e.c.Save(ctx, s))
		created := s.CreatedAt()
		require.True(t, clock.Now().Add(10*time.Minute).Equal(s.ExpiresAt()))
		before := e.rows(t)[0]

		// Throttled: 30s later is under a tenth of the window, no write.
		clock.Advance(30 * time.Second)
		_, err := e.c.Load(ctx, s.Token())
		require.NoError(t, err)
		require.Equal(t, before, e.rows(t)[0])

		// Activity every 9 minutes keeps it alive past many idle windows...
		for range 6 {
			clock.Advance(9 * time.Minute)
			got, err := e.c.Load(ctx, s.Token())
			require.NoError(t, err)
			require.Equal(t, []string{"kept"}, got.Data.Items)
		}
		after := e.rows(t)[0]
		require.Equal(t, before.Version, after.Version, "a touch must not bump the version")
		require.Equal(t, before.Payload, after.Payload, "a touch must not rewrite the payload")
		require.Greater(t, after.ExpiresAt, before.ExpiresAt)
		// ...but never past the absolute deadline.
		require.LessOrEqual(t, after.ExpiresAt, created.Add(time.Hour).UnixMilli())
		clock.Advance(9 * time.Minute) // 54.5 + 9 = 63.5 minutes after creation
		_, err = e.c.Load(ctx, s.Token())
		require.ErrorIs(t, err, session.ErrNotFound)

		// Idle: a second session left alone for 10 minutes expires.
		s2, _ := e.c.Open(ctx, "")
		require.NoError(t, e.c.Save(ctx, s2))
		clock.Advance(10*time.Minute - time.Millisecond)
		ok, err := e.c.Exists(ctx, s2.Token())
		require.NoError(t, err)
		require.True(t, ok)
		clock.Advance(time.Millisecond)
		ok, err = e.c.Exists(ctx, s2.Token())
		require.NoError(t, err)
		require.False(t, ok)
		require.ErrorIs(t, e.c.Save(ctx, s2), session.ErrNotFound, "an expired session is not revived by a save")
	})
}

func TestRenewIssuesNewTokenAndKillsOld(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db)
		ctx := context.Background()
		s, _ := e.c.Open(ctx, "")
		s.Data.Items = []string{"x"}
		require.NoError(t, e.c.Save(ctx, s))
		old := s.Token()
		oldHandle := s.Handle()

		s.SetSubject("user:1")
		require.NoError(t, e.c.Renew(ctx, s))
		require.NotEqual(t, old, s.Token())
		require.NotEqual(t, oldHandle, s.Handle())
		_, err := e.c.Load(ctx, old)
		require.ErrorIs(t, err, session.ErrNotFound)
		got, err := e.c.Load(ctx, s.Token())
		require.NoError(t, err)
		require.Equal(t, []string{"x"}, got.Data.Items)
		require.Equal(t, "user:1", got.Subject())
		require.Equal(t, s.CreatedAt(), got.CreatedAt(), "renew keeps the absolute deadline")
		require.EqualValues(t, 1, e.count(t))

		// A copy holding the old token can neither save nor renew.
		stale, err := e.c.Open(ctx, old)
		require.NoError(t, err)
		require.True(t, stale.IsNew())

		// Renewing a new session stores it under a fresh token.
		n, _ := e.c.Open(ctx, "")
		first := n.Token()
		require.NoError(t, e.c.Renew(ctx, n))
		require.NotEqual(t, first, n.Token())
		require.False(t, n.IsNew())
		ok, _ := e.c.Exists(ctx, n.Token())
		require.True(t, ok)
	})
}

func TestDestroySubjectAndOthers(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db)
		ctx := context.Background()
		bySubject := map[string][]*session.Session[Cart]{}
		for i := range 12 {
			s, _ := e.c.Open(ctx, "")
			subj := []string{"user:1", "user:2", "", "user:10"}[i%4]
			s.SetSubject(subj)
			require.NoError(t, e.c.Save(ctx, s))
			bySubject[subj] = append(bySubject[subj], s)
		}
		_, err := e.c.DestroySubject(ctx, "")
		require.ErrorIs(t, err, session.ErrInvalidSubject)

		list, err := e.c.List(ctx, "user:2")
		require.NoError(t, err)
		require.Len(t, list, 3)

		n, err := e.c.DestroyOthers(ctx, bySubject["user:2"][0])
		require.NoError(t, err)
		require.EqualValues(t, 2, n)
		list, _ = e.c.List(ctx, "user:2")
		require.Len(t, list, 1)
		require.Equal(t, bySubject["user:2"][0].Handle(), list[0].Handle)

		u10 := bySubject["user:10"]
		n, err = e.c.DestroyOthers(ctx, u10[0], bySubject["user:1"][0].Handle(), u10[0].Handle())
		require.NoError(t, err)
		require.Zero(t, n, "a handle of another subject, or of current itself, must not match")
		n, err = e.c.DestroyOthers(ctx, u10[0], u10[1].Handle(), "not-a-handle")
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		_, err = e.c.DestroyOthers(ctx, bySubject[""][0])
		require.ErrorIs(t, err, session.ErrInvalidSubject, "an anonymous session has no others")

		n, err = e.c.DestroySubject(ctx, "user:1")
		require.NoError(t, err)
		require.EqualValues(t, 3, n)
		for subj, ss := range bySubject {
			for i, s := range ss {
				ok, err := e.c.Exists(ctx, s.Token())
				require.NoError(t, err)
				want := subj != "user:1" && !(subj == "user:2" && i > 0) && !(subj == "user:10" && i == 1)
				require.Equal(t, want, ok, "%q #%d", subj, i)
			}
		}
	})
}

func TestCleanupDeletesExactlyTheExpired(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		clock := newClock()
		var batches []int64
		e := setup(t, db, sessiontest.WithClock(clock.Now), session.WithLifetime(time.Hour),
			sessiontest.WithCleanupBatchSize(7))
		ctx := context.Background()
		save := func(n int) []string {
			var toks []string
			for range n {
				s, _ := e.c.Open(ctx, "")
				require.NoError(t, e.c.Save(ctx, s))
				toks = append(toks, s.Token())
			}
			return toks
		}
		old := save(30)
		clock.Advance(30 * time.Minute)
		live := save(11)
		clock.Advance(30 * time.Minute) // the first 30 are now exactly at their deadline
		n, err := e.c.Cleanup(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 30, n)
		for _, tok := range live {
			ok, err := e.c.Exists(ctx, tok)
			require.NoError(t, err)
			require.True(t, ok)
		}
		require.EqualValues(t, 11, e.count(t))
		for _, tok := range old {
			ok, _ := e.c.Exists(ctx, tok)
			require.False(t, ok)
		}
		n, err = e.c.Cleanup(ctx)
		require.NoError(t, err)
		require.Zero(t, n)
		_ = batches
	})
}

func TestAdjustTimeAgesSessions(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db, session.WithLifetime(3*time.Hour))
		ctx := context.Background()
		s, _ := e.c.Open(ctx, "")
		require.NoError(t, e.c.Save(ctx, s))
		before := e.rows(t)[0]
		require.NoError(t, e.c.AdjustTime(ctx, -2*time.Hour))
		after := e.rows(t)[0]
		d := (2 * time.Hour).Milliseconds()
		require.Equal(t, before.CreatedAt-d, after.CreatedAt)
		require.Equal(t, before.UpdatedAt-d, after.UpdatedAt)
		require.Equal(t, before.ExpiresAt-d, after.ExpiresAt)
		require.Equal(t, before.Deadline-d, after.Deadline)
		ok, _ := e.c.Exists(ctx, s.Token())
		require.True(t, ok, "one hour left")
		require.NoError(t, e.c.AdjustTime(ctx, -2*time.Hour))
		ok, _ = e.c.Exists(ctx, s.Token())
		require.False(t, ok, "aged past its lifetime")
		n, err := e.c.Cleanup(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
	})
}

func TestWithTxRollbackLeavesNothing(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db)
		ctx := context.Background()
		kept, _ := e.c.Open(ctx, "")
		kept.Data.Items = []string{"before"}
		require.NoError(t, e.c.Save(ctx, kept))
		before := e.rows(t)

		rollback := errors.New("roll back")
		err := db.Transaction(func(tx *gorm.DB) error {
			c := e.c.WithTx(tx)
			s, err := c.Open(ctx, "")
			require.NoError(t, err)
			require.NoError(t, c.Save(ctx, s))
			ok, err := c.Exists(ctx, s.Token())
			require.NoError(t, err)
			require.True(t, ok, "visible inside the transaction")
			_, err = c.Update(ctx, kept.Token(), func(c *Cart) error { c.Items = []string{"inside"}; return nil })
			require.NoError(t, err)
			other, err := c.Load(ctx, kept.Token())
			require.NoError(t, err)
			require.NoError(t, c.Renew(ctx, other))
			return rollback
		})
		require.ErrorIs(t, err, rollback)
		require.Equal(t, before, e.rows(t))
		got, err := e.c.Load(ctx, kept.Token())
		require.NoError(t, err)
		require.Equal(t, []string{"before"}, got.Data.Items)

		// And a committed transaction keeps its work.
		var tok string
		require.NoError(t, db.Transaction(func(tx *gorm.DB) error {
			s, _ := e.c.WithTx(tx).Open(ctx, "")
			tok = s.Token()
			return e.c.WithTx(tx).Save(ctx, s)
		}))
		ok, _ := e.c.Exists(ctx, tok)
		require.True(t, ok)
	})
}

func TestPayloadLimitsBeforeSQL(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db, session.WithMaxPayloadSize(100))
		ctx := context.Background()
		s, _ := e.c.Open(ctx, "")
		require.NoError(t, e.c.Save(ctx, s))

		statements := statementCounter(t, db)

		s.Data.Items = []string{strings.Repeat("x", 200)}
		err := e.c.Save(ctx, s)
		require.ErrorIs(t, err, session.ErrTooLarge)
		require.NotContains(t, err.Error(), "xxxx")
		s.Data.Items = nil
		s.SetSubject(strings.Repeat("u", model.SubjectMaxLength+1))
		require.ErrorIs(t, e.c.Renew(ctx, s), session.ErrTooLarge)
		n, _ := e.c.Open(ctx, "")
		n.Data.Items = []string{strings.Repeat("y", 200)}
		require.ErrorIs(t, e.c.Save(ctx, n), session.ErrTooLarge)
		n.Data.Items = nil
		n.SetSubject(strings.Repeat("u", model.SubjectMaxLength+1))
		require.ErrorIs(t, e.c.Save(ctx, n), session.ErrTooLarge)
		require.Zero(t, statements.Load(), "no SQL may run for an oversized payload")
		require.EqualValues(t, 1, e.count(t))
	})
}
