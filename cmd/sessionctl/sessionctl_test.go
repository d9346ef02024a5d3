package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/model"
	"github.com/gormsession/gormsession/repository"
)

// clock is the fixed "now" of every in-process run.
var clock = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

// fixture is one database with a table of its own, reachable by the CLI
// through dsn.
type fixture struct {
	dialect string
	dsn     string
	db      *gorm.DB
	table   string
	repo    *repository.Repository
}

// eachDB runs fn as a parallel subtest per available database, with a
// fresh, not yet created table.
func eachDB(t *testing.T, fn func(t *testing.T, f *fixture)) {
	t.Helper()
	for _, d := range testdb.All {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			testdb.Require(t, d)
			f := &fixture{dialect: d}
			switch d {
			case testdb.SQLite:
				path := filepath.Join(t.TempDir(), "sessions.db")
				f.db, f.dsn = testdb.OpenAt(t, d, path, nil), path
			case testdb.Postgres:
				f.db, f.dsn = testdb.Open(t, d, nil), os.Getenv(testdb.EnvPostgres)
			case testdb.MySQL:
				f.db, f.dsn = testdb.Open(t, d, nil), os.Getenv(testdb.EnvMySQL)
			}
			f.table = testdb.Table(t, f.db)
			repo, err := repository.New(f.db, f.table)
			require.NoError(t, err)
			f.repo = repo
			fn(t, f)
		})
	}
}

// migrated creates the table.
func (f *fixture) migrated(t *testing.T) *fixture {
	t.Helper()
	require.NoError(t, f.repo.Migrate(context.Background()))
	return f
}

// add stores a row created age before the clock that expires (or expired)
// at clock+ttl.
func (f *fixture) add(t *testing.T, subject string, age, ttl time.Duration) {
	t.Helper()
	var n int64
	require.NoError(t, f.db.Raw("SELECT COUNT(*) FROM "+f.table).Scan(&n).Error)
	created := clock.Add(-age).UnixMilli()
	row := model.SessionRow{
		ID: fmt.Sprintf("%064x", n+1), Subject: subject, Payload: []byte("{}"), Version: 1,
		CreatedAt: created, UpdatedAt: created,
		Deadline: clock.Add(ttl).UnixMilli(), ExpiresAt: clock.Add(ttl).UnixMilli(),
	}
	require.NoError(t, insertRow(f.db, f.table, row))
}

// insertRow stores row in table with GORM, as an application's sessions
// would be: the repository has no Insert.
func insertRow(db *gorm.DB, table string, row model.SessionRow) error {
	return db.WithContext(context.Background()).Table(table).Create(&row).Error
}

// stats returns the repository's Stats at the clock.
func (f *fixture) stats(t *testing.T) repository.Stats {
	t.Helper()
	s, err := f.repo.Stats(context.Background(), clock, 0)
	require.NoError(t, err)
	return s
}

func (f *fixture) count(t *testing.T) int64 {
	t.Helper()
	return f.stats(t).Total
}

// result is one in-process run of the CLI.
type result struct {
	code           int
	stdout, stderr string
}

// ctl runs the CLI with the fixture's DSN and table appended to args.
func (f *fixture) ctl(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return ctlWith(t, &app{stdin: strings.NewReader(stdin)}, append(args, "--dsn", f.dsn, "--table", f.table)...)
}

// ctlWith runs the CLI in-process with a's settings, the fixed clock and an
// empty environment.
func ctlWith(t *testing.T, a *app, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	a.stdout, a.stderr = &out, &errOut
	if a.now == nil {
		a.now = func() time.Time { return clock }
	}
	if a.getenv == nil {
		a.getenv = func(string) string { return "" }
	}
	if a.stdin == nil {
		a.stdin = strings.NewReader("")
	}
	if a.progressEvery == 0 {
		a.progressEvery = time.Hour
	}
	code := a.run(context.Background(), args)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// requireOneLine checks that stderr is exactly one line starting with
// "sessionctl: " and containing want.
func requireOneLine(t *testing.T, stderr, want string) {
	t.Helper()
	require.True(t, strings.HasPrefix(stderr, "sessionctl: "), "stderr: %q", stderr)
	require.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
	require.True(t, strings.HasSuffix(stderr, "\n"))
	require.Contains(t, stderr, want)
	require.NotContains(t, stderr, "goroutine")
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, f *fixture) {
		r := f.ctl(t, "", "migrate")
		require.Equal(t, exitOK, r.code, r.stderr)
		require.Equal(t, fmt.Sprintf("table %q created in ", f.table), r.stdout[:len(f.table)+20])
		ok, err := f.repo.TableExists(context.Background())
		require.NoError(t, err)
		require.True(t, ok)

		r = f.ctl(t, "", "migrate")
		require.Equal(t, exitOK, r.code, r.stderr)
		require.Contains(t, r.stdout, "already exists")
		require.Empty(t, r.stderr)
	})
}

func TestMissingTable(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, f *fixture) {
		for _, args := range [][]string{{"stats"}, {"cleanup"}, {"cleanup", "--dry-run"}, {"revoke", "--all", "--yes"}} {
			r := f.ctl(t, "", args...)
			require.Equal(t, exitNoTable, r.code, "%v: %s", args, r.stderr)
			requireOneLine(t, r.stderr, fmt.Sprintf("table %q does not exist", f.table))
			require.Contains(t, r.stderr, "sessionctl migrate")
			require.Empty(t, r.stdout)
		}
	})
}

func TestStatsText(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, f *fixture) {
		f.migrated(t)
		f.add(t, "user:42", 26*time.Hour, time.Hour)
		f.add(t, "user:42", 90*time.Minute, time.Hour)
		f.add(t, "user:7", 65*time.Second, time.Hour)
		f.add(t, "", 30*time.Second, time.Hour)
		f.add(t, "user:9", 48*time.Hour, -time.Minute) // expired
		f.add(t, "", 3*time.Hour, 0)                   // expires exactly now: expired

		r := f.ctl(t, "", "stats", "--top", "5")
		require.Equal(t, exitOK, r.code, r.stderr)
		require.Empty(t, r.stderr)
		out := r.stdout
		t.Log("\n" + out)
		require.Contains(t, out, fmt.Sprintf("Table           %q in ", f.table))
		require.Contains(t, out, "Checked at      2026-11-30T12:00:00Z\n")
		require.Contains(t, out, "Sessions        6 stored\n")
		require.Contains(t, out, "  live          4  (not expired: 3 with a subject, 1 anonymous; 2 distinct subjects)\n")
		require.Contains(t, out, "  expired       2  (left for the next cleanup: sessionctl cleanup)\n")
		require.Contains(t, out, "Oldest created  2026-11-28T12:00:00Z  (2d 0h ago)\n")
		require.Contains(t, out, "Newest created  2026-11-30T11:59:30Z  (30s ago)\n")
		require.Contains(t, out, "Size on disk    ")
		require.NotContains(t, out, "unknown")
		require.Contains(t, out, "\nTop 2 subjects by live sessions:\n  LIVE  SUBJECT\n     2  user:42\n     1  user:7\n")
		require.NotContains(t, out, "user:9", "an expired subject is not among the top")
	})
}

func TestStatsEmpty(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, f *fixture) {
		f.migrated(t)
		r := f.ctl(t, "", "stats")
		require.Equal(t, exitOK, r.code, r.stderr)
		require.Contains(t, r.stdout, "Sessions        0 stored\n")
		require.Contains(t, r.stdout, "Oldest created  -  (the table is empty)\n")
		require.Contains(t, r.stdout, "No live session has a subject.")
	})
}

func TestStatsJSON(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, f *fixture) {
		f.migrated(t)
		f.add(t, "user:1", time.Hour, time.Hour)
		f.add(t, "user:1", 2*time.Hour, time.Hour)
		f.add(t, "user:2", time.Minute, time.Hour)
		f.add(t, "", 3*time.Hour, -time.Hour)

		r := f.ctl(t, "", "stats", "--json", "--top", "1")
		require.Equal(t, exitOK, r.code, r.stderr)
		var got map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &got), r.stdout)
		require.Equal(t, f.table, got["table"])
		require.Equal(t, map[string]string{"sqlite": "sqlite", "postgres": "postgres", "mysql": "mysql"}[f.dialect], got["dialect"])
		require.Equal(t, "2026-11-30T12:00:00Z", got["checked_at"])
		require.Equal(t, 4.0, got["total"])
		require.Equal(t, 3.0, got["live"])
		require.Equal(t, 1.0, got["expired"])
		require.Equal(t, 0.0, got["live_anonymous"])
		require.Equal(t, 2.0, got["live_subjects"])
		require.Equal(t, "2026-11-30T09:00:00Z", got["oldest_created_at"])
		require.Equal(t, "2026-11-30T11:59:00Z", got["newest_created_at"])
		require.Equal(t, []any{map[string]any{"subject": "user:1", "live": 2.0}}, got["top_subjects"])
		require.Greater(t, got["size_bytes"], 0.0)
		require.Contains(t, []any{"table", "database"}, got["size_scope"])

		// An empty table: null times, an empty list.
		require.Equal(t, exitOK, f.ctl(t, "", "revoke", "--all", "--yes").code)
		r = f.ctl(t, "", "stats", "--json")
		require.Equal(t, exitOK, r.code, r.stderr)
		got = nil
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &got))
		require.Nil(t, got["oldest_created_at"])
		require.Equal(t, []any{}, got["top_subjects"])
	})
}

func TestCleanup(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, f *fixture) {
		f.migrated(t)
		for range 5 {
			f.add(t, "", 2*time.Hour, -time.Hour)
		}
		f.add(t, "", 2*time.Hour, 0) // expires exactly now
		for range 3 {
			f.add(t, "user:1", time.Hour, time.Millisecond)
		}

		r := f.ctl(t, "", "cleanup", "--dry-run", "--batch-size", "4")
		require.Equal(t, exitOK, r.code, r.stderr)
		require.Equal(t, fmt.Sprintf("dry run: 6 expired sessions in table %q would be deleted, in batches of 4; nothing deleted\n", f.table), r.stdout)
		require.Equal(t, int64(9), f.count(t))

		r = f.ctl(t, "", "cleanup", "--batch-size", "4")
		require.Equal(t, exitOK, r.code, r.stderr)
		require.Equal(t, fmt.Sprintf("deleted 6 expired sessions from table %q in 0s\n", f.table), r.stdout)
		require.Empty(t, r.stderr)
		require.Equal(t, int64(3), f.count(t), "the live sessions stay")
		require.Zero(t, f.stats(t).Expired)

		r = f.ctl(t, "", "cleanup")
		require.Equal(t, exitOK, r.code, r.stderr)
		require.Equal(t, fmt.Sprintf("deleted 0 expired sessions from table %q in 0s\n", f.table), r.stdout)
	})
}

// tick returns a clock that moves one second forward on every call.
func tick() func() time.Time {
	now := clock
	return func() time.Time {
		now = now.Add(time.Second)
		return now
	}
}

func TestCleanupProgress(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, f *fixture) {
		f.migrated(t)
		for range 5 {
			f.add(t, "", time.Hour, -time.Hour)
		}
		args := []string{"cleanup", "--batch-size", "2", "--dsn", f.dsn, "--table", f.table}

		// A terminal: one line redrawn in place, then the summary.
		r := ctlWith(t, &app{tty: true, now: tick(), progressEvery: time.Second}, args...)
		require.Equal(t, exitOK, r.code, r.stderr)
		require.Equal(t,
			"\r\033[Kdeleted 2 rows in 1 batch, elapsed 1s (2 rows/s)"+
				"\r\033[Kdeleted 4 rows in 2 batches, elapsed 2s (2 rows/s)"+
				"\r\033[Kdeleted 5 rows in 3 batches, elapsed 3s (2 rows/s)"+
				"\r\033[K"+
				fmt.Sprintf("deleted 5 expired sessions from table %q in 4s (1 rows/s)\n", f.table),
			r.stdout)

		// Not a terminal: plain lines, here every batch (a second apart).
		for range 3 {
			f.add(t, "", time.Hour, -time.Hour)
		}
		r = ctlWith(t, &app{now: tick(), progressEvery: time.Second}, args...)
		require.Equal(t, exitOK, r.code, r.stderr)
		require.Equal(t,
			"progress: deleted 2 rows in 1 batch, elapsed 1s (2 rows/s)\n"+
				"progress: deleted 3 rows in 2 batches, elapsed 2s (2 rows/s)\n"+
				fmt.Sprintf("deleted 3 expired sessions from table %q in 3s (1 rows/s)\n", f.table),
			r.stdout)
		require.NotContains(t, r.stdout, "\r")
	})
}

func TestRevokeSubject(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, f *fixture) {
		f.migrated(t)
		f.add(t, "user:42", time.Hour, time.Hour)
		f.add(t, "user:42", time.Hour, -time.Hour) // expired ones go too
		f.add(t, "user:7", time.Hour, time.Hour)
		f.add(t, "", time.Hour, time.Hour)

		// No answer (stdin closed), then "n": nothing is deleted.
		for _, answer := range []string{"", "n\n", "nope\n"} {
			r := f.ctl(t, answer, "revoke", "--subject", "user:42")
			require.Equal(t, exitAborted, r.code)
			require.Contains(t, r.stderr, fmt.Sprintf("Delete 2 sessions of subject user:42 in table %q? Their users will have to log in again. [y/N] ", f.table))
			require.True(t, strings.HasSuffix(r.stderr, "sessionctl: revoke: not confirmed; nothing deleted\n"), r.stderr)
			require.Empty(t, r.stdout)
			require.Equal(t, int64(4), f.count(t))
		}

		r := f.ctl(t, "y\n", "revoke", "--subject", "user:42")
		require.Equal(t, exitOK, r.code, r.stderr)
		require.Equal(t, fmt.Sprintf("revoked 2 sessions of subject user:42 in table %q\n", f.table), r.stdout)
		require.Equal(t, int64(2), f.count(t))
		n, err := f.repo.CountSubject(context.Background(), "user:7")
		require.NoError(t, err)
		require.Equal(t, int64(1), n, "other subjects stay")

		r = f.ctl(t, "", "revoke", "--subject", "user:42")
		require.Equal(t, exitOK, r.code, r.stderr)
		require.Equal(t, fmt.Sprintf("nothing to revoke: no sessions of subject user:42 in table %q\n", f.table), r.stdout)

		r = f.ctl(t, "", "revoke", "--subject", "user:7", "--yes")
		require.Equal(t, exitOK, r.code, r.stderr)
		require.Equal(t, fmt.Sprintf("revoked 1 session of subject user:7 in table %q\n", f.table), r.stdout)
		require.Empty(t, r.stderr, "no prompt with --yes")
		require.Equal(t, int64(1), f.count(t), "the anonymous session stays")
	})
}

func TestRevokeAll(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, f *fixture) {
		f.migrated(t)
		f.add(t, "user:1", time.Hour, time.Hour)
		f.add(t, "", time.Hour, time.Hour)
		f.add(t, "", time.Hour, -time.Hour)

		r := f.ctl(t, "no\n", "revoke", "--all")
		require.Equal(t, exitAborted, r.code)
		require.Equal(t, int64(3), f.count(t))

		r = f.ctl(t, "YES", "revoke", "--all")
		require.Equal(t, exitOK, r.code, r.stderr)
		require.Equal(t, fmt.Sprintf("revoked 3 sessions in table %q\n", f.table), r.stdout)
		require.Zero(t, f.count(t))
	})
}

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	dsn := filepath.Join(t.TempDir(), "x.db")
	cases := []struct {
		args []string
		want string
	}{
		{nil, "no command given"},
		{[]string{"frobnicate"}, `unknown command "frobnicate"`},
		{[]string{"stats", "--nope"}, "stats: flag provided but not defined: -nope"},
		{[]string{"stats", "extra"}, `stats: unexpected argument "extra"`},
		{[]string{"stats"}, "no database: pass --dsn or set GORMSESSION_DSN"},
		{[]string{"stats", "--dsn", dsn, "--table", "no-dashes"}, `--table: "no-dashes" is not [schema.]table`},
		{[]string{"stats", "--dsn", dsn, "--top", "-1"}, "--top must be 0 to 1000"},
		{[]string{"cleanup", "--dsn", dsn, "--batch-size", "-1"}, "--batch-size must be 0 (sized by time) to 100000"},
		{[]string{"revoke", "--dsn", dsn}, "give exactly one of --subject S or --all"},
		{[]string{"revoke", "--dsn", dsn, "--all", "--subject", "u"}, "give exactly one of --subject S or --all"},
		{[]string{"revoke", "--dsn", dsn, "--subject", strings.Repeat("s", 256)}, "longer than 255 bytes"},
	}
	for _, c := range cases {
		r := ctlWith(t, &app{}, c.args...)
		require.Equal(t, exitUsage, r.code, "%v: %s", c.args, r.stderr)
		requireOneLine(t, r.stderr, c.want)
	}
	_, err := os.Stat(dsn)
	require.ErrorIs(t, err, os.ErrNotExist, "a usage error touches no database")
}

func TestConnectErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown driver", []string{"--dsn", "x.db", "--driver", "oracle"}, exitBadDSN, `--driver "oracle": want postgres, mysql or sqlite`},
		{"postgres url", []string{"--dsn", "postgres://u:hunter2@localhost:notaport/db"}, exitBadDSN, "bad DSN: postgres:"},
		{"mysql no slash", []string{"--dsn", "u:hunter2@tcp(localhost:3306)"}, exitBadDSN, "bad DSN: mysql:"},
		{"mysql url", []string{"--dsn", "mysql://u:hunter2@localhost/db", "--driver", "mysql"}, exitBadDSN, "without mysql://"},
		{"postgres refused", []string{"--dsn", "host=127.0.0.1 port=1 user=u password=hunter2 dbname=d sslmode=disable"}, exitConnect, "cannot connect: postgres 127.0.0.1:1/d:"},
		{"mysql refused", []string{"--dsn", "u:hunter2@tcp(127.0.0.1:1)/d"}, exitConnect, "cannot connect: mysql 127.0.0.1:1/d:"},
		{"sqlite missing", []string{"--dsn", filepath.Join(dir, "nope.db")}, exitConnect, "database file " + filepath.Join(dir, "nope.db") + " does not exist"},
		{"sqlite no dir", []string{"--dsn", "file:" + filepath.Join(dir, "no", "such", "dir.db") + "?_busy_timeout=1", "--driver", "sqlite"}, exitConnect, "does not exist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := ctlWith(t, &app{}, append([]string{"stats"}, c.args...)...)
			require.Equal(t, c.code, r.code, r.stderr)
			requireOneLine(t, r.stderr, c.want)
			require.NotContains(t, r.stderr, "hunter2", "no password in messages")
			require.Empty(t, r.stdout)
		})
	}
	_, err := os.Stat(filepath.Join(dir, "nope.db"))
	require.ErrorIs(t, err, os.ErrNotExist, "stats does not create a SQLite file")
}

func TestEnvDSN(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "env.db")
	env := func(k string) string {
		if k == EnvDSN {
			return path
		}
		return ""
	}
	r := ctlWith(t, &app{getenv: env}, "migrate")
	require.Equal(t, exitOK, r.code, r.stderr)
	require.Equal(t, `table "sessions" created in sqlite file `+path+"\n", r.stdout)
	r = ctlWith(t, &app{getenv: env}, "--table", "other", "stats")
	require.Equal(t, exitNoTable, r.code, "the global flags go before the command too")
	r = ctlWith(t, &app{getenv: env}, "stats", "--dsn", path+".missing")
	require.Equal(t, exitConnect, r.code, "--dsn wins over the environment")
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"-h"}, {"help"}} {
		r := ctlWith(t, &app{}, args...)
		require.Equal(t, exitOK, r.code)
		require.Empty(t, r.stderr)
		for _, want := range []string{"migrate", "cleanup", "stats", "revoke", "GORMSESSION_DSN", "Exit codes:", "  5    the sessions table does not exist"} {
			require.Contains(t, r.stdout, want)
		}
	}
	for _, c := range commands {
		for _, args := range [][]string{{c.name, "--help"}, {"help", c.name}} {
			r := ctlWith(t, &app{}, args...)
			require.Equal(t, exitOK, r.code)
			require.True(t, strings.HasPrefix(r.stdout, "sessionctl "+c.name+": "), r.stdout)
			require.Contains(t, r.stdout, "-dsn string")
			require.Contains(t, r.stdout, "Exit codes:")
		}
	}
	require.Contains(t, ctlWith(t, &app{}, "cleanup", "-h").stdout, "-dry-run")
	require.Contains(t, ctlWith(t, &app{}, "stats", "-h").stdout, "-json")
	require.Contains(t, ctlWith(t, &app{}, "revoke", "-h").stdout, "-yes")
}

func TestDetectDriver(t *testing.T) {
	t.Parallel()
	for dsn, want := range map[string]dialect{
		"postgres://u:p@db:5432/app?sslmode=disable":        dialectPostgres,
		"postgresql://db/app":                               dialectPostgres,
		"host=127.0.0.1 user=postgres dbname=test":          dialectPostgres,
		"user=app dbname=app":                               dialectPostgres,
		"dbname=app host=/var/run/postgresql":               dialectPostgres,
		"root@tcp(127.0.0.1:3306)/test?parseTime=true":      dialectMySQL,
		"u:p@tcp(db:3306)/app":                              dialectMySQL,
		"tcp(db:3306)/app":                                  dialectMySQL,
		"u:p@unix(/run/mysqld/mysqld.sock)/app":             dialectMySQL,
		"./demo.db":                                         dialectSQLite,
		"/var/lib/app/sessions.sqlite":                      dialectSQLite,
		"file:demo.db?_busy_timeout=5000&_txlock=immediate": dialectSQLite,
		"demo.db":                     dialectSQLite,
		":memory:":                    dialectSQLite,
		"file::memory:?mode=memory":   dialectSQLite,
		" ./demo.db\t":                dialectSQLite,
		"POSTGRES://u:p@db/app":       dialectPostgres,
		"PostgreSQL://db/app":         dialectPostgres,
		"  postgres://u:p@db/app  ":   dialectPostgres,
		"app:p@/test":                 dialectMySQL,
		"app@/test":                   dialectMySQL,
		"@/test":                      dialectMySQL,
		"app:p@(db:3306)/test":        dialectMySQL,
		"app:p@tcp6([::1]:3306)/test": dialectMySQL,
		"MySQL://u:p@db/app":          dialectMySQL,
		"Server=db;User Id=app;Password=p;Database=test": "",
		"server=db;uid=app;pwd=p;database=test":          "",
		"sqlserver://u:p@db/app":                         "",
		"FILE://demo.db":                                 "",
		"./a=b.db":                                       "",
		"./a@b.db":                                       "",
		"./a b://c.db":                                   "",
		"":                                               "",
		"   ":                                            "",
	} {
		require.Equal(t, want, detectDriver(dsn), dsn)
	}
}

func TestSQLiteDSNOptions(t *testing.T) {
	t.Parallel()
	tg, err := parseDSN("./demo.db", "", time.Second)
	require.NoError(t, err)
	require.Equal(t, "./demo.db", tg.sqlitePath)
	require.Equal(t, "sqlite file ./demo.db", tg.where)

	// Options are added only to a DSN without any: the database file of a
	// fresh migrate ends up in WAL mode.
	path := filepath.Join(t.TempDir(), "wal.db")
	r := ctlWith(t, &app{}, "migrate", "--dsn", path)
	require.Equal(t, exitOK, r.code, r.stderr)
	db := testdb.OpenAt(t, testdb.SQLite, path, nil)
	var mode string
	require.NoError(t, db.Raw("PRAGMA journal_mode").Scan(&mode).Error)
	require.Equal(t, "wal", mode)
}

func TestInterrupted(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "int.db")
	require.Equal(t, exitOK, ctlWith(t, &app{}, "migrate", "--dsn", path).code)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	a := &app{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(string) string { return "" },
		now: func() time.Time { return clock }, progressEvery: time.Hour}
	code := a.run(ctx, []string{"stats", "--dsn", path})
	require.Equal(t, exitInterrupted, code)
	requireOneLine(t, errOut.String(), "interrupted")
}

func TestRevokePromptInterrupted(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "prompt.db")
	require.Equal(t, exitOK, ctlWith(t, &app{}, "migrate", "--dsn", path).code)
	db := testdb.OpenAt(t, testdb.SQLite, path, nil)
	repo, err := repository.New(db, model.TableDefault)
	require.NoError(t, err)
	require.NoError(t, insertRow(db, model.TableDefault, model.SessionRow{ID: strings.Repeat("b", 64),
		Payload: []byte("{}"), Version: 1, ExpiresAt: clock.Add(time.Hour).UnixMilli()}))

	// Standard input that never answers: the prompt gives up when ctx ends.
	stdin, w := io.Pipe()
	defer w.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	prompt := &promptWriter{asked: make(chan struct{})}
	a := &app{stdin: stdin, stdout: &out, stderr: prompt, getenv: func(string) string { return "" },
		now: func() time.Time { return clock }, progressEvery: time.Hour}
	done := make(chan int)
	go func() { done <- a.run(ctx, []string{"revoke", "--all", "--dsn", path}) }()
	<-prompt.asked
	cancel()
	require.Equal(t, exitInterrupted, <-done)
	require.Contains(t, prompt.String(), "sessionctl: interrupted: revoke: nothing deleted")
	s, err := repo.Stats(context.Background(), clock, 0)
	require.NoError(t, err)
	require.Equal(t, int64(1), s.Total, "nothing deleted")
}

// promptWriter is a stderr that closes asked once the revoke prompt has
// been written.
type promptWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	asked chan struct{}
}

func (p *promptWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	had := strings.Contains(p.buf.String(), "[y/N]")
	n, err := p.buf.Write(b)
	if !had && strings.Contains(p.buf.String(), "[y/N]") {
		close(p.asked)
	}
	return n, err
}

func (p *promptWriter) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.String()
}
