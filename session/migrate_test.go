package session_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessiontest"
)

// New refuses a table of that name that is not a sessions table (another
// library's, say) before it changes anything in it.
func TestNewRefusesAForeignTable(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.All {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			db := testdb.Open(t, d, nil)
			table := testdb.Table(t, db)
			q := quoteFor(db, table)
			require.NoError(t, db.Exec("CREATE TABLE "+q+" (id varchar(64) NOT NULL PRIMARY KEY, data text, expires_at bigint)").Error)
			require.NoError(t, db.Exec("INSERT INTO "+q+" (id, data, expires_at) VALUES ('a', 'theirs', 1)").Error)
			before, err := db.Migrator().ColumnTypes(table)
			require.NoError(t, err)

			_, err = session.New[Cart](db, session.WithTable(table), session.WithCleanupFrequency(0))
			require.Error(t, err)
			require.Contains(t, err.Error(), "not a gormsession table")

			after, err := db.Migrator().ColumnTypes(table)
			require.NoError(t, err)
			require.Len(t, after, len(before), "no column was added")
			var data string
			require.NoError(t, db.Raw("SELECT data FROM "+q+" WHERE id = 'a'").Scan(&data).Error)
			require.Equal(t, "theirs", data)
		})
	}
}

// On an up-to-date table New runs no DDL, so an application transaction
// holding the table open does not make it wait: with a lock timeout of
// 200 ms (1 s on MySQL) any DDL would fail.
func TestNewOnAnUpToDateTableTakesNoTableLock(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.All {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "test.db")
			db := testdb.OpenAt(t, d, path, nil)
			e := setup(t, db)
			ctx := context.Background()
			s, err := e.c.Open(ctx, "")
			require.NoError(t, err)
			s.Data.Items = []string{"x"}
			require.NoError(t, e.c.Save(ctx, s))

			if d != testdb.SQLite {
				// An open transaction that wrote to the table.
				tx := db.Begin()
				require.NoError(t, tx.Error)
				defer tx.Rollback()
				require.NoError(t, tx.Exec("UPDATE "+quoteFor(db, e.table)+" SET version = version WHERE id = ?", idOf(t, s.Token())).Error)
			}
			start := time.Now()
			c, err := session.New[Cart](impatient(t, db, path), session.WithTable(e.table), session.WithCleanupFrequency(0))
			require.NoError(t, err, "New must not need a table lock")
			require.NoError(t, c.Close())
			require.Less(t, time.Since(start), 30*time.Second)
		})
	}
}

// The per-subject cap is best effort: when ending an old session fails
// (here: its row is locked past the server's lock timeout), the sign-in
// still succeeds, the failure is logged and observed, and the next
// sign-in ends it.
func TestMaxSessionsTrimFailureDoesNotFailSignIn(t *testing.T) {
	t.Parallel()
	for _, d := range []string{testdb.Postgres, testdb.MySQL} {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			db := testdb.Open(t, d, nil)
			e := setup(t, db)
			var logs syncBuffer
			var trimErrs []error
			clk := sessiontest.NewClock(time.Now())
			c, err := session.New[Cart](impatient(t, db, ""), session.WithTable(e.table), session.WithCleanupFrequency(0),
				sessiontest.WithClock(clk.Now),
				session.WithMaxSessionsPerSubject(2), session.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
				session.WithObserver(func(_ context.Context, ev session.Event) {
					if ev.Op == "trim" {
						trimErrs = append(trimErrs, ev.Err)
					}
				}))
			require.NoError(t, err)
			defer c.Close()
			ctx := context.Background()
			signIn := func() *session.Session[Cart] {
				s, err := c.Open(ctx, "")
				require.NoError(t, err)
				s.SetSubject("user:1")
				require.NoError(t, c.Save(ctx, s))
				clk.Advance(time.Second) // distinct updated_at
				return s
			}
			a := signIn()
			b := signIn()
			release := rowLock(t, db, e.table, idOf(t, a.Token()))
			third := signIn()
			release()
			require.Len(t, trimErrs, 3)
			require.NoError(t, trimErrs[0])
			require.NoError(t, trimErrs[1])
			require.Error(t, trimErrs[2], "ending a was refused by the lock")
			require.Contains(t, logs.String(), "per-subject cap failed")
			require.NotContains(t, logs.String(), a.Token())
			for _, s := range []*session.Session[Cart]{a, b, third} {
				ok, err := c.Exists(ctx, s.Token())
				require.NoError(t, err)
				require.True(t, ok, "nothing ended yet; the sign-in succeeded")
			}
			signIn()
			for _, s := range []*session.Session[Cart]{a, b} {
				ok, err := c.Exists(ctx, s.Token())
				require.NoError(t, err)
				require.False(t, ok, "the next sign-in ended the oldest")
			}
			list, err := c.List(ctx, "user:1")
			require.NoError(t, err)
			require.Len(t, list, 2, "the next sign-in trimmed to the cap")
			require.False(t, strings.Contains(logs.String(), "user:1"), "no subject in the log")
		})
	}
}
