package session_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/repository"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessiontest"
)

// A "remember me" login gives one session a long lifetime and idle timeout
// of its own; other sessions keep the container's; Renew never moves the
// absolute deadline; values above the maximum are lowered to it.
func TestPerSessionExpiry(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		clk := sessiontest.NewClock(time.UnixMilli(1_800_000_000_000))
		e := setup(t, db, sessiontest.WithClock(clk.Now),
			session.WithLifetime(12*time.Hour), session.WithIdleTimeout(30*time.Minute),
			session.WithMaxLifetime(30*24*time.Hour))
		ctx := context.Background()
		created := clk.Now()

		plain, err := e.c.Open(ctx, "")
		require.NoError(t, err)
		plain.Data.Items = []string{"a"}
		require.NoError(t, e.c.Save(ctx, plain))
		require.Equal(t, created.Add(30*time.Minute), plain.ExpiresAt(), "the container's idle timeout")

		s, err := e.c.Open(ctx, "")
		require.NoError(t, err)
		s.Data.Items = []string{"b"}
		require.NoError(t, e.c.Save(ctx, s))
		clk.Advance(10 * time.Minute)

		// The login: remember me for 60 days (above the 30-day maximum),
		// idle 7 days.
		s, err = e.c.Load(ctx, s.Token())
		require.NoError(t, err)
		s.SetSubject("user:1")
		s.SetExpiry(60*24*time.Hour, 7*24*time.Hour)
		require.NoError(t, e.c.Renew(ctx, s))
		lifetime, idle := s.Expiry()
		require.Equal(t, 30*24*time.Hour, lifetime, "bounded by WithMaxLifetime")
		require.Equal(t, 7*24*time.Hour, idle)
		require.Equal(t, clk.Now().Add(7*24*time.Hour), s.ExpiresAt())

		// Stored: a later load sees it, and the idle window is the session's.
		clk.Advance(6 * 24 * time.Hour)
		s, err = e.c.Load(ctx, s.Token())
		require.NoError(t, err, "alive after 6 days without activity")
		lifetime, _ = s.Expiry()
		require.Equal(t, 30*24*time.Hour, lifetime)
		_, err = e.c.Load(ctx, plain.Token())
		require.ErrorIs(t, err, session.ErrNotFound, "the plain session idled out after 30 minutes")

		// Renew keeps the deadline counted from creation: active every
		// few days, the session still ends 30 days after it was created.
		for range 7 {
			clk.Advance(4 * 24 * time.Hour)
			s, err = e.c.Load(ctx, s.Token())
			if err != nil {
				break
			}
			require.NoError(t, e.c.Renew(ctx, s))
			require.False(t, s.ExpiresAt().After(created.Add(30*24*time.Hour)), "never past the absolute deadline")
		}
		require.ErrorIs(t, err, session.ErrNotFound, "ended at its absolute deadline")
		require.False(t, clk.Now().Before(created.Add(30*24*time.Hour)))
		require.True(t, clk.Now().Before(created.Add(34*24*time.Hour)))
	})
}

// Changing only the expiry or the label of a stored session saves it, and
// an unchanged session is not saved; a new session with only a label is
// stored.
func TestExpiryAndLabelChangesAreSaved(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db, session.WithMaxLifetime(48*time.Hour))
		ctx := context.Background()
		s, err := e.c.Open(ctx, "")
		require.NoError(t, err)
		s.SetLabel("Firefox on Linux")
		require.NoError(t, e.c.Save(ctx, s))
		require.Equal(t, int64(1), e.count(t), "a new session with only a label is stored")

		s, err = e.c.Load(ctx, s.Token())
		require.NoError(t, err)
		require.Equal(t, "Firefox on Linux", s.Label())
		v := e.rows(t)[0].Version
		require.NoError(t, e.c.Save(ctx, s))
		require.Equal(t, v+1, e.rows(t)[0].Version, "Save always writes when called")

		s.SetExpiry(36*time.Hour, 0)
		require.NoError(t, e.c.Save(ctx, s))
		row := e.rows(t)[0]
		require.Equal(t, (36 * time.Hour).Milliseconds(), row.Lifetime)
		require.Equal(t, row.CreatedAt+(36*time.Hour).Milliseconds(), row.Deadline)

		// Back to the container's lifetime.
		s.SetExpiry(0, 0)
		require.NoError(t, e.c.Save(ctx, s))
		row = e.rows(t)[0]
		require.Zero(t, row.Lifetime)
		require.Equal(t, row.CreatedAt+(24*time.Hour).Milliseconds(), row.Deadline)
	})
}

func TestLabelsAreListedAndMadeSafe(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db)
		ctx := context.Background()
		labels := []string{
			"Safari on iPhone",
			"bad\xffbytes\x00and\ttabs\r\n",
			strings.Repeat("é", 80), // 160 bytes
			"",
		}
		for i, l := range labels {
			s, err := e.c.Open(ctx, "")
			require.NoError(t, err)
			s.SetSubject("user:7")
			s.SetLabel(l)
			if i == 1 {
				s.SetExpiry(time.Hour, 0)
			}
			require.NoError(t, e.c.Save(ctx, s))
		}
		list, err := e.c.List(ctx, "user:7")
		require.NoError(t, err)
		require.Len(t, list, 4)
		got := map[string]bool{}
		for _, in := range list {
			require.True(t, utf8.ValidString(in.Label))
			require.LessOrEqual(t, len(in.Label), 100)
			require.NotContains(t, in.Label, "\x00")
			require.NotContains(t, in.Label, "\n")
			got[in.Label] = in.Remembered
		}
		require.Contains(t, got, "Safari on iPhone")
		require.Contains(t, got, "bad\uFFFDbytes and tabs  ")
		require.True(t, got["bad\uFFFDbytes and tabs  "], "the session with its own lifetime is remembered")
		require.False(t, got["Safari on iPhone"])
		require.Contains(t, got, strings.Repeat("é", 50), "cut at a character boundary within 100 bytes")
		require.Contains(t, got, "")
	})
}

// WithMaxSessionsPerSubject ends the least recently active sessions of a
// subject at a sign-in past the cap; the new sign-in always stays, and
// other subjects are untouched.
func TestMaxSessionsPerSubject(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		clk := sessiontest.NewClock(time.UnixMilli(1_800_000_000_000))
		var mu sync.Mutex
		var trims []session.Event
		e := setup(t, db, sessiontest.WithClock(clk.Now), session.WithMaxSessionsPerSubject(3),
			session.WithObserver(func(_ context.Context, ev session.Event) {
				if ev.Op == "trim" {
					mu.Lock()
					trims = append(trims, ev)
					mu.Unlock()
				}
			}))
		ctx := context.Background()
		other, err := e.c.Open(ctx, "")
		require.NoError(t, err)
		other.SetSubject("user:other")
		require.NoError(t, e.c.Save(ctx, other))

		signIn := func(label string) *session.Session[Cart] {
			clk.Advance(time.Minute)
			s, err := e.c.Open(ctx, "")
			require.NoError(t, err)
			s.Data.Items = []string{label}
			require.NoError(t, e.c.Save(ctx, s)) // anonymous first
			s.SetSubject("user:1")
			s.SetLabel(label)
			require.NoError(t, e.c.Renew(ctx, s))
			return s
		}
		a, b, c := signIn("a"), signIn("b"), signIn("c")
		// a is active again: b is now the least recently active.
		clk.Advance(time.Minute)
		a, err = e.c.Load(ctx, a.Token())
		require.NoError(t, err)
		a.Data.Items = append(a.Data.Items, "more")
		require.NoError(t, e.c.Save(ctx, a))

		d := signIn("d")
		labels := func() []string {
			list, err := e.c.List(ctx, "user:1")
			require.NoError(t, err)
			var out []string
			for _, in := range list {
				out = append(out, in.Label)
			}
			return out
		}
		require.ElementsMatch(t, []string{"a", "c", "d"}, labels())
		_, err = e.c.Load(ctx, b.Token())
		require.ErrorIs(t, err, session.ErrNotFound, "the least recently active session was ended")
		for _, s := range []*session.Session[Cart]{a, c, d, other} {
			_, err := e.c.Load(ctx, s.Token())
			require.NoError(t, err)
		}
		// A new session saved with a subject counts too.
		clk.Advance(time.Minute)
		n, err := e.c.Open(ctx, "")
		require.NoError(t, err)
		n.SetSubject("user:1")
		n.SetLabel("e")
		require.NoError(t, e.c.Save(ctx, n))
		require.ElementsMatch(t, []string{"a", "d", "e"}, labels())

		mu.Lock()
		defer mu.Unlock()
		var ended int64
		for _, ev := range trims {
			require.NoError(t, ev.Err)
			ended += ev.Rows
		}
		require.Equal(t, int64(2), ended)
	})
}

func TestMaxOptionsAreValidated(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	for name, opts := range map[string][]session.Option{
		"WithMaxLifetime":           {session.WithMaxLifetime(time.Millisecond)},
		"WithMaxLifetime shorter":   {session.WithLifetime(2 * time.Hour), session.WithMaxLifetime(time.Hour)},
		"WithMaxSessionsPerSubject": {session.WithMaxSessionsPerSubject(-1)},
	} {
		_, err := session.New[Cart](db, opts...)
		require.ErrorIs(t, err, session.ErrInvalidOption, name)
		require.Contains(t, err.Error(), strings.Fields(name)[0])
	}
}

// firstReleaseDDL is the table as the first release created it, before the
// lifetime, idle_timeout and label columns.
func firstReleaseDDL(dialect, table string) string {
	switch dialect {
	case testdb.Postgres:
		return `CREATE TABLE "` + table + `" (id varchar(64) NOT NULL PRIMARY KEY, subject varchar(255) NOT NULL DEFAULT '',
			payload bytea NOT NULL, version bigint NOT NULL, created_at bigint NOT NULL, updated_at bigint NOT NULL,
			deadline bigint NOT NULL, expires_at bigint NOT NULL)`
	case testdb.MySQL:
		return "CREATE TABLE `" + table + "` (id char(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, " +
			"subject varbinary(255) NOT NULL DEFAULT '', payload longblob NOT NULL, version bigint NOT NULL, " +
			"created_at bigint NOT NULL, updated_at bigint NOT NULL, deadline bigint NOT NULL, expires_at bigint NOT NULL, " +
			"PRIMARY KEY (id), KEY `" + table + "_expires_at_idx` (expires_at), KEY `" + table + "_subject_idx` (subject)) ENGINE=InnoDB"
	default:
		return `CREATE TABLE "` + table + `" (id TEXT NOT NULL PRIMARY KEY, subject TEXT NOT NULL DEFAULT '',
			payload BLOB NOT NULL, version INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
			deadline INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID`
	}
}

// New brings a table created by the previous release's DDL to the current
// shape, from several processes at once, keeping its rows.
func TestMigratesATableOfThePreviousRelease(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		table := testdb.Table(t, db)
		require.NoError(t, db.Exec(firstReleaseDDL(testdb.Dialect(db), table)).Error)
		old, err := session.New[Cart](db, session.WithTable(table), session.WithCleanupFrequency(0), session.WithoutAutoMigrate())
		require.NoError(t, err)
		t.Cleanup(func() { old.Close() })
		// A row as the previous release wrote it.
		now := time.Now().UnixMilli()
		q := fmt.Sprintf("INSERT INTO %s (id, subject, payload, version, created_at, updated_at, deadline, expires_at) VALUES (?, 'user:1', ?, 1, ?, ?, ?, ?)",
			quoteFor(db, table))
		require.NoError(t, db.Exec(q, strings.Repeat("ab", 32), []byte(`{"Items":["kept"]}`), now, now, now+3600_000, now+3600_000).Error)

		// Four processes start at once.
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := session.New[Cart](db, session.WithTable(table), session.WithCleanupFrequency(0))
				if err == nil {
					c.Close()
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		c, err := session.New[Cart](db, session.WithTable(table), session.WithCleanupFrequency(0))
		require.NoError(t, err, "migrating again is a no-op")
		t.Cleanup(func() { c.Close() })

		list, err := c.List(context.Background(), "user:1")
		require.NoError(t, err)
		require.Len(t, list, 1, "the old row survived")
		require.Equal(t, "", list[0].Label)
		require.False(t, list[0].Remembered)

		ctx := context.Background()
		s, err := c.Open(ctx, "")
		require.NoError(t, err)
		s.SetSubject("user:1")
		s.SetLabel("new")
		s.SetExpiry(time.Hour, time.Minute)
		require.NoError(t, c.Save(ctx, s))
		list, err = c.List(ctx, "user:1")
		require.NoError(t, err)
		require.Len(t, list, 2)
	})
}

func quoteFor(db *gorm.DB, table string) string {
	if testdb.Dialect(db) == testdb.MySQL {
		return "`" + table + "`"
	}
	return `"` + table + `"`
}

// A schema-qualified table name works on PostgreSQL and MySQL (a database
// there), and is refused on SQLite.
func TestSchemaQualifiedTables(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		d := testdb.Dialect(db)
		schema := testdb.Table(t, db) // a fresh, unique name
		if d == testdb.SQLite {
			_, err := session.New[Cart](db, session.WithTable(schema+".sessions"))
			require.ErrorIs(t, err, session.ErrInvalidOption)
			return
		}
		kind := "SCHEMA"
		if d == testdb.MySQL {
			kind = "DATABASE"
		}
		require.NoError(t, db.Exec("CREATE "+kind+" "+schema).Error)
		drop := "DROP SCHEMA " + schema + " CASCADE"
		if d == testdb.MySQL {
			drop = "DROP DATABASE " + schema
		}
		t.Cleanup(func() { db.Exec(drop) })
		// The same table name in the default schema, to prove the two stay apart.
		plainName := testdb.Table(t, db)
		qualified := schema + "." + plainName
		c, err := session.New[Cart](db, session.WithTable(qualified), session.WithCleanupFrequency(0))
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		plain, err := session.New[Cart](db, session.WithTable(plainName), session.WithCleanupFrequency(0))
		require.NoError(t, err)
		t.Cleanup(func() { plain.Close() })
		_, err = session.New[Cart](db, session.WithTable(qualified), session.WithCleanupFrequency(0))
		require.NoError(t, err, "migrating again is a no-op")

		ctx := context.Background()
		s, err := c.Open(ctx, "")
		require.NoError(t, err)
		s.Data.Items = []string{"x"}
		s.SetSubject("user:q")
		require.NoError(t, c.Save(ctx, s))
		got, err := c.Load(ctx, s.Token())
		require.NoError(t, err)
		require.Equal(t, []string{"x"}, got.Data.Items)
		_, err = plain.Load(ctx, s.Token())
		require.ErrorIs(t, err, session.ErrNotFound, "the row is in the qualified table only")
		var n int64
		require.NoError(t, db.Table(qualified).Count(&n).Error)
		require.Equal(t, int64(1), n)
		// The operators' tools see the qualified table, not the plain one.
		repo, err := repository.New(db, qualified)
		require.NoError(t, err)
		exists, err := repo.TableExists(ctx)
		require.NoError(t, err)
		require.True(t, exists)
		st, err := repo.Stats(ctx, time.Now(), 1)
		require.NoError(t, err)
		require.Equal(t, int64(1), st.Live)
		require.Equal(t, "table", st.SizeScope, "the size of the qualified table is found")
		missing, err := repository.New(db, schema+".nothing_here")
		require.NoError(t, err)
		exists, err = missing.TableExists(ctx)
		require.NoError(t, err)
		require.False(t, exists)

		removed, err := c.Cleanup(ctx)
		require.NoError(t, err)
		require.Zero(t, removed)
		ended, err := c.DestroySubject(ctx, "user:q")
		require.NoError(t, err)
		require.Equal(t, int64(1), ended)

		for _, bad := range []string{schema + ".", "." + plainName, "a.b.c", schema + ".x-y", `a".b`} {
			_, err := session.New[Cart](db, session.WithTable(bad))
			require.ErrorIs(t, err, session.ErrInvalidOption, bad)
		}
	})
}
