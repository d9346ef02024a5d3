package session_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
)

// rowLock holds, from a connection of its own, a lock that makes a write of
// the session with id wait: SQLite's database write lock (BEGIN
// IMMEDIATE), a row lock (SELECT ... FOR UPDATE) elsewhere. release ends it.
func rowLock(t *testing.T, db *gorm.DB, table, id string) (release func()) {
	t.Helper()
	ctx := context.Background()
	if testdb.Dialect(db) == testdb.SQLite {
		sqlDB, err := db.DB()
		require.NoError(t, err)
		conn, err := sqlDB.Conn(ctx)
		require.NoError(t, err)
		_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
		require.NoError(t, err)
		return func() {
			_, _ = conn.ExecContext(ctx, "ROLLBACK")
			_ = conn.Close()
		}
	}
	tx := db.Begin()
	require.NoError(t, tx.Error)
	var got string
	require.NoError(t, tx.Raw("SELECT id FROM "+table+" WHERE id = ? FOR UPDATE", id).Scan(&got).Error)
	require.Equal(t, id, got)
	return func() { tx.Rollback() }
}

// impatient returns a second pool on db's database whose writes give up
// after about 200 ms (1 s on MySQL) when another connection holds the lock
// they need: the server aborts the statement (SQLite's busy timeout,
// PostgreSQL's lock_timeout, InnoDB's innodb_lock_wait_timeout), so unlike
// a client-side deadline the failed write cannot still be applied later.
// path is the SQLite file, ignored elsewhere.
func impatient(t *testing.T, db *gorm.DB, path string) *gorm.DB {
	t.Helper()
	var dial gorm.Dialector
	switch testdb.Dialect(db) {
	case testdb.SQLite:
		dial = sqlite.Open("file:" + path + "?_journal_mode=WAL&_busy_timeout=200&_txlock=immediate")
	case testdb.Postgres:
		dsn := os.Getenv(testdb.EnvPostgres)
		if strings.Contains(dsn, "://") {
			dsn = withParam(dsn, "options=-c%20lock_timeout%3D200")
		} else {
			dsn += " options='-c lock_timeout=200'"
		}
		dial = postgres.Open(dsn)
	default:
		dsn := withParam(os.Getenv(testdb.EnvMySQL), "innodb_lock_wait_timeout=1")
		dial = mysql.Open(dsn)
	}
	short, err := gorm.Open(dial, &gorm.Config{Logger: testdb.Logger()})
	require.NoError(t, err)
	sqlDB, err := short.DB()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sqlDB.Close() })
	return short
}

// withParam adds a query parameter to a URL-shaped DSN.
func withParam(dsn, param string) string {
	if strings.Contains(dsn, "?") {
		return dsn + "&" + param
	}
	return dsn + "?" + param
}

// TestFailedRenewNeverSignsInThePreLoginToken: the login that fails
// halfway. An anonymous session (its token possibly planted by an
// attacker) gets a subject, and Renew fails for a passing reason (a lock
// held past the database's lock timeout). The old token must never
// carry the subject: Save refuses (ErrRenewRequired) even once the lock is
// gone, and only a successful Renew stores the subject, under a new token.
func TestFailedRenewNeverSignsInThePreLoginToken(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.All {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "test.db")
			db := testdb.OpenAt(t, d, path, nil)
			e := setup(t, db)
			c, err := session.New[Cart](impatient(t, db, path), session.WithTable(e.table), session.WithCleanupFrequency(0))
			require.NoError(t, err)
			ctx := context.Background()

			planted, err := c.Open(ctx, "")
			require.NoError(t, err)
			planted.Data.Items = []string{"bait"}
			require.NoError(t, c.Save(ctx, planted))
			tok := planted.Token()

			s, err := c.Load(ctx, tok) // the victim's request, with the planted cookie
			require.NoError(t, err)
			s.SetSubject("user:victim")
			s.Data.Items = append(s.Data.Items, "victim's")

			release := rowLock(t, db, e.table, idOf(t, tok))
			err = c.Renew(ctx, s)
			release()
			require.Error(t, err, "Renew must fail while the lock is held")
			require.Equal(t, tok, s.Token(), "a failed Renew keeps the old token")

			// With the lock gone, every save under the old token is refused.
			require.ErrorIs(t, c.Save(ctx, s), session.ErrRenewRequired)
			s.SetSubject("")
			require.ErrorIs(t, c.Save(ctx, s), session.ErrRenewRequired, "a failed Renew refuses any later Save")
			s.SetSubject("user:victim")

			got, err := c.Load(ctx, tok)
			require.NoError(t, err)
			require.Empty(t, got.Subject(), "the pre-login token must not be signed in")
			require.Equal(t, []string{"bait"}, got.Data.Items)
			for _, r := range e.rows(t) {
				require.NotEqual(t, "user:victim", r.Subject)
			}

			// Renew again: the subject lands under a new token; the old is dead.
			require.NoError(t, c.Renew(ctx, s))
			require.NotEqual(t, tok, s.Token())
			_, err = c.Load(ctx, tok)
			require.ErrorIs(t, err, session.ErrNotFound)
			got, err = c.Load(ctx, s.Token())
			require.NoError(t, err)
			require.Equal(t, "user:victim", got.Subject())
			require.NoError(t, c.Save(ctx, s), "after a successful Renew, Save works again")
		})
	}
}

// TestSaveRefusesASubjectChangeWithoutRenew: on a stored session a
// subject change (login, logout by clearing it, a switch of user) can only
// be stored by Renew; Save refuses it before any SQL. A new session's
// subject is stored by Save, its token being new.
func TestSaveRefusesASubjectChangeWithoutRenew(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db)
		ctx := context.Background()
		s, err := e.c.Open(ctx, "")
		require.NoError(t, err)
		s.SetSubject("user:1")
		require.NoError(t, e.c.Save(ctx, s), "a new session stores its subject with Save")
		before := e.rows(t)

		statements := statementCounter(t, db)
		for _, subject := range []string{"user:2", ""} {
			s.SetSubject(subject)
			require.ErrorIs(t, e.c.Save(ctx, s), session.ErrRenewRequired, subject)
		}
		require.Zero(t, statements.Load(), "refused before SQL")
		require.True(t, rowsEqual(before, e.rows(t)))

		s.SetSubject("user:1")
		s.Data.Count = 7
		require.NoError(t, e.c.Save(ctx, s), "the same subject saves as before")
		s.SetSubject("user:2")
		old := s.Token()
		require.NoError(t, e.c.Renew(ctx, s))
		ok, err := e.c.Exists(ctx, old)
		require.NoError(t, err)
		require.False(t, ok)
	})
}

// TestSubjectsAreValidatedBeforeSQL: a subject that is not valid UTF-8 or
// holds a NUL byte fails with ErrInvalidSubject on every call that takes
// one, on every database alike, before any SQL and without quoting the
// bytes in the error.
func TestSubjectsAreValidatedBeforeSQL(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db)
		ctx := context.Background()
		stored, err := e.c.Open(ctx, "")
		require.NoError(t, err)
		require.NoError(t, e.c.Save(ctx, stored))
		statements := statementCounter(t, db)
		for _, bad := range []string{"user\x00admin", "user:\xff\xfe", "\xc3(", "ok\x00"} {
			fresh, err := e.c.Open(ctx, "")
			require.NoError(t, err)
			fresh.SetSubject(bad)
			errs := []error{e.c.Save(ctx, fresh)}
			stored.SetSubject(bad)
			errs = append(errs, e.c.Renew(ctx, stored))
			_, err = e.c.DestroySubject(ctx, bad)
			errs = append(errs, err)
			_, err = e.c.List(ctx, bad)
			errs = append(errs, err)
			for i, err := range errs {
				require.ErrorIs(t, err, session.ErrInvalidSubject, "%q call %d", bad, i)
				require.NotContains(t, err.Error(), bad, "%q call %d", bad, i)
				require.Equal(t, "invalid", session.ErrorKind(err))
			}
		}
		require.Zero(t, statements.Load(), "no SQL for an invalid subject")
		require.EqualValues(t, 1, e.count(t))
	})
}

// TestSubjectsCompareExactly: "alice" and "alice " are two subjects on
// every database (MySQL's PAD SPACE collations would make them one).
func TestSubjectsCompareExactly(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db)
		subjectsCompareExactly(t, e.c)
	})
}

func subjectsCompareExactly(t *testing.T, c *session.Container[Cart]) {
	t.Helper()
	ctx := context.Background()
	save := func(subject string) *session.Session[Cart] {
		s, err := c.Open(ctx, "")
		require.NoError(t, err)
		s.SetSubject(subject)
		require.NoError(t, c.Save(ctx, s))
		return s
	}
	alice, spaced, spaced2 := save("alice"), save("alice "), save("alice  ")

	list, err := c.List(ctx, "alice")
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "alice", list[0].Subject)
	require.Equal(t, alice.Handle(), list[0].Handle)

	ended, err := c.DestroyOthers(ctx, alice, spaced.Handle())
	require.NoError(t, err)
	require.Zero(t, ended, "alice must not end a session of \"alice \"")

	n, err := c.DestroySubject(ctx, "alice")
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	for _, s := range []*session.Session[Cart]{spaced, spaced2} {
		ok, err := c.Exists(ctx, s.Token())
		require.NoError(t, err)
		require.True(t, ok, "%q survived", s.Subject())
	}
	list, err = c.List(ctx, "alice ")
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, "alice ", list[0].Subject)
}

// TestMigrationMakesOldMySQLSubjectsExact: a MySQL table made by the
// earlier DDL (utf8mb4_bin, a PAD SPACE collation) is converted by New so
// that its subjects compare exactly, keeping the stored rows.
func TestMigrationMakesOldMySQLSubjectsExact(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.MySQL, nil)
	table := testdb.Table(t, db)
	require.NoError(t, db.Exec("CREATE TABLE `"+table+"` ("+
		"id char(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL, "+
		"subject varchar(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL DEFAULT '', "+
		"payload longblob NOT NULL, version bigint NOT NULL, created_at bigint NOT NULL, "+
		"updated_at bigint NOT NULL, deadline bigint NOT NULL, expires_at bigint NOT NULL, "+
		"PRIMARY KEY (id), KEY `"+table+"_expires_at_idx` (expires_at), KEY `"+table+"_subject_idx` (subject)) ENGINE=InnoDB").Error)
	now := time.Now().UnixMilli()
	require.NoError(t, db.Exec("INSERT INTO `"+table+"` VALUES (?, 'bob', '{}', 1, ?, ?, ?, ?)",
		"00000000000000000000000000000000000000000000000000000000000000aa", now, now, now+60000, now+60000).Error)

	c, err := session.New[Cart](db, session.WithTable(table), session.WithCleanupFrequency(0))
	require.NoError(t, err)
	var typ string
	require.NoError(t, db.Raw("SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = 'subject'", table).Scan(&typ).Error)
	require.Equal(t, "varbinary", typ)
	list, err := c.List(context.Background(), "bob")
	require.NoError(t, err)
	require.Len(t, list, 1, "the stored row survived the conversion")
	subjectsCompareExactly(t, c)

	_, err = session.New[Cart](db, session.WithTable(table), session.WithCleanupFrequency(0))
	require.NoError(t, err, "migrating a converted table again is a no-op")
}
