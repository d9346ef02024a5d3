package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gormsession/gormsession/session"
)

// statementsOf splits --print-sql output into its statements: the ones
// that create (uncommented) and the upgrade ones (commented).
func statementsOf(out string) (create, upgrade []string) {
	for _, part := range strings.Split(out, ";\n") {
		var stmt []string
		comment := false
		for _, line := range strings.Split(part, "\n") {
			switch {
			case strings.HasPrefix(line, "-- ALTER"):
				upgrade = append(upgrade, strings.TrimPrefix(line, "-- "))
			case strings.HasPrefix(line, "--") || strings.TrimSpace(line) == "":
				comment = comment || strings.HasPrefix(line, "--")
			default:
				stmt = append(stmt, line)
			}
		}
		if len(stmt) > 0 {
			create = append(create, strings.Join(stmt, "\n"))
		}
	}
	return create, upgrade
}

// The SQL --print-sql prints, run by hand (as a migration tool would),
// makes a table the library uses with WithoutAutoMigrate; printing
// connects to nothing.
func TestMigratePrintSQL(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, f *fixture) {
		// By --driver, with no DSN at all: nothing is connected to.
		r := ctlWith(t, &app{}, "migrate", "--print-sql", "--driver", f.dialect, "--table", f.table)
		require.Equal(t, exitOK, r.code, r.stderr)
		byDSN := f.ctl(t, "", "migrate", "--print-sql")
		require.Equal(t, exitOK, byDSN.code, byDSN.stderr)
		require.Equal(t, r.stdout, byDSN.stdout, "the DSN's form names the same database")
		ok, err := f.repo.TableExists(context.Background())
		require.NoError(t, err)
		require.False(t, ok, "printing created nothing")

		create, upgrade := statementsOf(r.stdout)
		require.NotEmpty(t, create)
		wantUpgrade := 3 // lifetime, idle_timeout, label
		if f.dialect == "mysql" {
			wantUpgrade++ // and the subject made varbinary
		}
		require.Len(t, upgrade, wantUpgrade)
		for _, q := range create {
			require.NoError(t, f.db.Exec(q).Error, q)
		}
		c, err := session.New[struct{ N int }](f.db, session.WithTable(f.table), session.WithoutAutoMigrate(),
			session.WithCleanupFrequency(0), session.WithMaxLifetime(48*time.Hour))
		require.NoError(t, err)
		defer c.Close()
		ctx := context.Background()
		s, err := c.Open(ctx, "")
		require.NoError(t, err)
		s.Data.N = 7
		s.SetSubject("user:1")
		s.SetLabel("printed")
		s.SetExpiry(36*time.Hour, 0)
		require.NoError(t, c.Save(ctx, s))
		list, err := c.List(ctx, "user:1")
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, "printed", list[0].Label)

		// Running migrate after a tool created the table changes nothing.
		r = f.ctl(t, "", "migrate")
		require.Equal(t, exitOK, r.code, r.stderr)
		require.Contains(t, r.stdout, "already exists")
	})
}

func TestMigratePrintSQLErrors(t *testing.T) {
	t.Parallel()
	r := ctlWith(t, &app{}, "migrate", "--print-sql", "--driver", "oracle")
	require.Equal(t, exitBadDSN, r.code)
	requireOneLine(t, r.stderr, "--driver")
	r = ctlWith(t, &app{}, "migrate", "--print-sql", "--driver", "sqlite", "--table", "auth.sessions")
	require.Equal(t, exitUsage, r.code)
	requireOneLine(t, r.stderr, "invalid table name")
	r = ctlWith(t, &app{}, "migrate", "--print-sql")
	require.Equal(t, exitUsage, r.code, "no driver and no DSN")
	r = ctlWith(t, &app{}, "migrate", "--print-sql", "--driver", "postgres", "--table", "auth.sessions")
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Contains(t, r.stdout, `CREATE TABLE IF NOT EXISTS "auth"."sessions"`)
	require.Contains(t, r.stdout, `CREATE INDEX IF NOT EXISTS "sessions_expires_at_idx" ON "auth"."sessions"`)
}
