package sessiontest_test

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	"gorm.io/driver/mysql"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/sessiontest"
)

const envDSN = "GORMSESSION_TEST_DSN"

// serverDSN returns the DSN the project's variable env holds, skipping t
// when it is not set, or failing it when GORMSESSION_TEST_REQUIRE names
// dialect.
func serverDSN(t *testing.T, dialect, env string) string {
	t.Helper()
	dsn := os.Getenv(env)
	if dsn == "" {
		if slices.Contains(strings.Split(os.Getenv("GORMSESSION_TEST_REQUIRE"), ","), dialect) {
			t.Fatalf("%s is required (GORMSESSION_TEST_REQUIRE) but %s is not set", dialect, env)
		}
		t.Skipf("%s not set", env)
	}
	return dsn
}

// TestEnvDSN runs the round trip with GORMSESSION_TEST_DSN in each form
// Open accepts: SQLite forms always, PostgreSQL and MySQL/MariaDB when the
// project's GORMSESSION_TEST_POSTGRES_DSN / GORMSESSION_TEST_MYSQL_DSN are
// set. t.Setenv rules out t.Parallel here.
func TestEnvDSN(t *testing.T) {
	// check opens the database the variable names and runs the round trip
	// on it; it returns the database for further checks.
	check := func(t *testing.T, dsn, dialect string) *gorm.DB {
		t.Helper()
		t.Setenv(envDSN, dsn)
		db := sessiontest.Open(t)
		require.Equal(t, dialect, db.Dialector.Name())
		roundTrip(t, sessiontest.NewOn[cart](t, db))
		roundTrip(t, sessiontest.New[cart](t))
		return db
	}
	journal := func(t *testing.T, db *gorm.DB) string {
		t.Helper()
		var mode string
		require.NoError(t, db.Raw("PRAGMA journal_mode").Scan(&mode).Error)
		return mode
	}

	t.Run("sqlite file:", func(t *testing.T) {
		db := check(t, "file:"+filepath.Join(t.TempDir(), "a.db"), "sqlite")
		require.Equal(t, "wal", journal(t, db), "the recommended parameters were added")
	})
	t.Run("sqlite file: with parameters", func(t *testing.T) {
		db := check(t, "file:"+filepath.Join(t.TempDir(), "a.db")+"?_busy_timeout=5000", "sqlite")
		require.Equal(t, "delete", journal(t, db), "the caller's parameters were kept as they are")
	})
	t.Run("sqlite path", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "b.db")
		db := check(t, " "+path+"\n", "sqlite")
		require.Equal(t, "wal", journal(t, db))
		require.FileExists(t, path)
	})
	t.Run("sqlite :memory:", func(t *testing.T) {
		db := check(t, ":memory:", "sqlite")
		sqlDB, err := db.DB()
		require.NoError(t, err)
		require.Equal(t, 1, sqlDB.Stats().MaxOpenConnections, "one connection holds the database")
	})

	t.Run("postgres", func(t *testing.T) {
		dsn := serverDSN(t, "postgres", "GORMSESSION_TEST_POSTGRES_DSN")
		check(t, dsn, "postgres")
	})
	t.Run("postgres URL", func(t *testing.T) {
		cfg, err := pgx.ParseConfig(serverDSN(t, "postgres", "GORMSESSION_TEST_POSTGRES_DSN"))
		require.NoError(t, err)
		u := url.URL{Scheme: "PostgreSQL", User: url.User(cfg.User), Host: cfg.Host + ":" + strconv.Itoa(int(cfg.Port)),
			Path: "/" + cfg.Database, RawQuery: "sslmode=disable"}
		if cfg.Password != "" {
			u.User = url.UserPassword(cfg.User, cfg.Password)
		}
		check(t, u.String(), "postgres")
	})
	t.Run("mysql", func(t *testing.T) {
		check(t, serverDSN(t, "mysql", "GORMSESSION_TEST_MYSQL_DSN"), "mysql")
	})
	t.Run("mysql without parseTime", func(t *testing.T) {
		cfg, err := mysqldriver.ParseDSN(serverDSN(t, "mysql", "GORMSESSION_TEST_MYSQL_DSN"))
		require.NoError(t, err)
		cfg.ParseTime = false
		dsn := cfg.FormatDSN()
		require.NotContains(t, dsn, "parseTime")
		db := check(t, dsn, "mysql")
		require.Contains(t, db.Dialector.(*mysql.Dialector).DSN, "parseTime=true")
	})
}

// fatalTB records a test's failure without failing the real test. Like
// testing.T's, its Fatalf and FailNow end the goroutine that calls them.
// Everything else goes to the real test.
type fatalTB struct {
	testing.TB
	mu     sync.Mutex
	failed bool
	msgs   []string
}

func (f *fatalTB) record(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed = true
	if msg != "" {
		f.msgs = append(f.msgs, msg)
	}
}

func (f *fatalTB) Error(args ...any)                 { f.record(fmt.Sprint(args...)) }
func (f *fatalTB) Errorf(format string, args ...any) { f.record(fmt.Sprintf(format, args...)) }
func (f *fatalTB) Fatal(args ...any)                 { f.record(fmt.Sprint(args...)); runtime.Goexit() }
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.record(fmt.Sprintf(format, args...))
	runtime.Goexit()
}
func (f *fatalTB) Fail()    { f.record("") }
func (f *fatalTB) FailNow() { f.record(""); runtime.Goexit() }
func (f *fatalTB) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// openWith runs Open with GORMSESSION_TEST_DSN set to dsn, on a fatalTB
// over t, in a goroutine of its own so that a Fatalf ends only that.
func openWith(t *testing.T, dsn string) *fatalTB {
	t.Helper()
	t.Setenv(envDSN, dsn)
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sessiontest.Open(f)
	}()
	<-done
	return f
}

// TestBadDSN: a DSN Open refuses, or a database it cannot reach, fails the
// test with a message that names the variable but holds neither the DSN
// nor its password.
func TestBadDSN(t *testing.T) {
	const pw = "S3cretPW"
	cases := []struct {
		name, dsn string
		want      string // in the message
	}{
		// Refused before anything is opened.
		{"ADO", "Server=db;User Id=app;Password=" + pw + ";Database=test", "not a PostgreSQL, MySQL or SQLite DSN"},
		{"other scheme", "sqlserver://app:" + pw + "@db/test", "not a PostgreSQL, MySQL or SQLite DSN"},
		{"mysql URL", "mysql://app:" + pw + "@127.0.0.1:1/test", "not a go-sql-driver DSN"},
		{"postgres unparseable", "postgres://app:" + pw + "@db:notaport/test", "postgres: cannot parse it"},
		{"mysql unparseable", "app:" + pw + "@tcp(127.0.0.1:1)", "mysql: cannot parse it"},
		{"path with =", "./data=" + pw + ".db", "not a PostgreSQL, MySQL or SQLite DSN"},
		{"path with @", "./backup@" + pw + ".db", "not a PostgreSQL, MySQL or SQLite DSN"},
		// Accepted, but nothing listens there.
		{"postgres URL unreachable", "postgres://app:" + pw + "@127.0.0.1:1/test?sslmode=disable", "open postgres database from " + envDSN},
		{"postgres key/value unreachable", "host=127.0.0.1 port=1 user=app password=" + pw + " dbname=test sslmode=disable", "open postgres database from " + envDSN},
		{"mysql unreachable", "app:" + pw + "@tcp(127.0.0.1:1)/test", "open mysql database from " + envDSN},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := openWith(t, tc.dsn)
			require.True(t, f.Failed())
			require.Len(t, f.msgs, 1)
			msg := f.msgs[0]
			require.Contains(t, msg, "sessiontest: ")
			require.Contains(t, msg, envDSN)
			require.Contains(t, msg, tc.want)
			require.NotContains(t, msg, pw)
			require.NotContains(t, msg, tc.dsn)
		})
	}

	t.Run("accepted", func(t *testing.T) {
		f := openWith(t, "file:"+filepath.Join(t.TempDir(), "ok.db"))
		require.False(t, f.Failed(), "%v", f.msgs)
	})
}
