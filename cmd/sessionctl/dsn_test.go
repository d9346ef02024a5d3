package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The password of every DSN below. No output may hold either half: a
// driver's parse error can quote a password cut at its '/'.
const (
	pwHead = "S3c"
	pwTail = "retPW"
	pw     = pwHead + "/" + pwTail
)

// requireNoPassword checks that no output holds the password or a half of
// it, and that dir, where the binary ran, is still empty: no SQLite file
// was created under a name taken from the DSN.
func requireNoPassword(t *testing.T, dir string, outputs ...string) {
	t.Helper()
	for _, out := range outputs {
		require.NotContains(t, out, pwHead)
		require.NotContains(t, out, pwTail)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries, "no file is created in the working directory")
}

// TestBinaryDSNs builds the command and runs it on DSNs that are
// mistyped, of an unsupported form or unreachable, each passed with --dsn
// and through $GORMSESSION_DSN, to migrate (which would create a SQLite
// file) and to stats. It checks the exit code, that the one-line error
// never holds the password, and that no file is created in the working
// directory; then that a DSN given where another argument belongs is not
// echoed, and that an accepted SQLite path is trimmed.
func TestBinaryDSNs(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	cases := []struct {
		name   string
		dsn    string
		driver string
		code   int
		want   string
	}{
		// Accepted forms: they reach the driver and fail to connect.
		{"mysql user:pass@/db", "app:" + pw + "@/test", "", exitConnect, "cannot connect: mysql 127.0.0.1:3306/test:"},
		{"mysql user@/db", "app@/test", "", exitConnect, "cannot connect: mysql 127.0.0.1:3306/test:"},
		{"mysql @(host)/db", "app:" + pw + "@(127.0.0.1:1)/test", "", exitConnect, "cannot connect: mysql 127.0.0.1:1/test:"},
		{"mysql @tcp(host)/db", "app:" + pw + "@tcp(127.0.0.1:1)/test", "", exitConnect, "cannot connect: mysql 127.0.0.1:1/test:"},
		{"mysql @unix(sock)/db", "app:" + pw + "@unix(/nonexistent/mysqld.sock)/test", "", exitConnect, "cannot connect: mysql /nonexistent/mysqld.sock/test:"},
		{"postgres upper-case scheme", "POSTGRES://app:" + pwHead + "%2F" + pwTail + "@127.0.0.1:1/test?sslmode=disable", "", exitConnect, "cannot connect: postgres 127.0.0.1:1/test:"},
		{"postgres mixed-case scheme", "PostgreSQL://app:" + pwHead + "%2F" + pwTail + "@127.0.0.1:1/test?sslmode=disable", "", exitConnect, "cannot connect: postgres 127.0.0.1:1/test:"},
		{"postgres surrounding spaces", " \t postgres://app:" + pwHead + "%2F" + pwTail + "@127.0.0.1:1/test?sslmode=disable \n", "", exitConnect, "cannot connect: postgres 127.0.0.1:1/test:"},
		{"postgres key/value", "host=127.0.0.1 port=1 user=app password=" + pw + " dbname=test sslmode=disable", "", exitConnect, "cannot connect: postgres 127.0.0.1:1/test:"},
		{"postgres key/value, --driver", "host=127.0.0.1 port=1 user=app password=" + pw + " dbname=test sslmode=disable", "postgresql", exitConnect, "cannot connect: postgres 127.0.0.1:1/test:"},

		// Refused before any connection.
		{"ADO", "Server=db;User Id=app;Password=" + pw + ";Database=test", "", exitBadDSN, "bad DSN: not a PostgreSQL, MySQL or SQLite DSN"},
		{"ADO, --driver postgres", "Server=db;User Id=app;Password=" + pw + ";Database=test", "postgres", exitBadDSN, "bad DSN: postgres: cannot parse it"},
		{"ADO lower-case, --driver postgres", "server=db;uid=app;pwd=" + pw + ";database=test", "postgres", exitBadDSN, "bad DSN: postgres: cannot parse it"},
		{"ADO, --driver mysql", "Server=db;User Id=app;Password=" + pw + ";Database=test", "mysql", exitBadDSN, "bad DSN: mysql: cannot parse it"},
		{"ADO, --driver sqlite", "Server=db;User Id=app;Password=" + pw + ";Database=test", "sqlite", exitBadDSN, "bad DSN: sqlite:"},
		{"postgres key/value with ;", "host=127.0.0.1;password=" + pw, "", exitBadDSN, "bad DSN: postgres: cannot parse it"},
		{"postgres key/value missing a space", "host=127.0.0.1 port=1 user=apppassword=" + pw, "", exitBadDSN, "bad DSN: postgres: cannot parse it"},
		{"postgres bad port", "postgres://app:" + pw + "@db:notaport/test", "", exitBadDSN, "bad DSN: postgres: cannot parse it"},
		{"mysql unparseable", "app:" + pw + "@tcp(127.0.0.1:1)", "", exitBadDSN, "bad DSN: mysql: cannot parse it"},
		{"mysql URL", "MySQL://app:" + pw + "@127.0.0.1:1/test", "", exitBadDSN, "without mysql://"},
		{"unknown scheme", "sqlserver://app:" + pw + "@db/test", "", exitBadDSN, "bad DSN: not a PostgreSQL, MySQL or SQLite DSN"},
		{"path with =", "./data=" + pw + ".db", "", exitBadDSN, "bad DSN: not a PostgreSQL, MySQL or SQLite DSN"},
		{"path with @", "./backup@" + pw + ".db", "", exitBadDSN, "bad DSN: not a PostgreSQL, MySQL or SQLite DSN"},
		{"path with @, --driver sqlite", "./backup@" + pw + ".db", "sqlite", exitBadDSN, "bad DSN: sqlite:"},
		{"mysql form, --driver sqlite", "app:" + pw + "@/test", "sqlite", exitBadDSN, "bad DSN: --driver sqlite, but the DSN has the mysql form"},
		{"postgres URL, --driver mysql", "postgres://app:" + pw + "@127.0.0.1:1/test", "mysql", exitBadDSN, "bad DSN: --driver mysql, but the DSN has the postgres form"},
	}
	for _, c := range cases {
		t.Run("forms/"+c.name, func(t *testing.T) {
			t.Parallel()
			for _, cmd := range []string{"migrate", "stats"} {
				args := []string{cmd, "--connect-timeout", "5s"}
				if c.driver != "" {
					args = append(args, "--driver", c.driver)
				}
				// Through the environment, no argument can mask an echoed DSN.
				dir := t.TempDir()
				code, stdout, stderr := runBinary(t, bin, dir, c.dsn, "", args...)
				require.Equal(t, c.code, code, "%s via $%s: %s", cmd, EnvDSN, stderr)
				requireOneLine(t, stderr, c.want)
				require.Empty(t, stdout)
				requireNoPassword(t, dir, stdout, stderr)

				dir = t.TempDir()
				code, stdout, stderr = runBinary(t, bin, dir, "", "", append(args, "--dsn", c.dsn)...)
				require.Equal(t, c.code, code, "%s via --dsn: %s", cmd, stderr)
				requireOneLine(t, stderr, c.want)
				require.Empty(t, stdout)
				requireNoPassword(t, dir, stdout, stderr)
			}
		})
	}

	t.Run("misplaced DSN", func(t *testing.T) {
		t.Parallel()
		dsn := "host=127.0.0.1 user=app password=" + pw
		for _, c := range []struct {
			args []string
			code int
		}{
			{[]string{dsn}, exitUsage},
			{[]string{"stats", dsn}, exitUsage},
			{[]string{"stats", "--connect-timeout", dsn}, exitUsage},
			{[]string{"stats", "--connect-timeout=" + dsn}, exitUsage},
			{[]string{"stats", "--driver", dsn, "--dsn", "demo.db"}, exitBadDSN},
		} {
			dir := t.TempDir()
			code, stdout, stderr := runBinary(t, bin, dir, "", "", c.args...)
			require.Equal(t, c.code, code, "%d args: %s", len(c.args), stderr)
			requireOneLine(t, stderr, "sessionctl: ")
			require.Empty(t, stdout)
			requireNoPassword(t, dir, stdout, stderr)
		}
	})

	t.Run("trimmed SQLite path", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		code, stdout, stderr := runBinary(t, bin, dir, "", "", "migrate", "--dsn", "  demo.db \t")
		require.Equal(t, exitOK, code, stderr)
		require.Equal(t, `table "sessions" created in sqlite file demo.db`+"\n", stdout)
		_, err := os.Stat(filepath.Join(dir, "demo.db"))
		require.NoError(t, err)
	})
}
