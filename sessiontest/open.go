package sessiontest

import (
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/gormsession/gormsession/session"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// envDSN names the variable that points Open at another database.
const envDSN = "GORMSESSION_TEST_DSN"

const (
	// maxOpenConns bounds each pool, so that many parallel tests stay
	// within a server's connection limit.
	maxOpenConns = 10
	// connectTimeout bounds connecting to a server that does not answer,
	// unless the DSN sets its own timeout.
	connectTimeout = 10 * time.Second
)

// The hint that ends every message about a DSN Open refuses. No message
// holds the DSN or a driver's parse error, which can quote parts of it.
const dsnForms = "write postgres://user:pass@host:5432/db, host=H user=U dbname=D, " +
	"user:pass@tcp(host:3306)/db, file:PATH, :memory: or a plain file path"

var (
	pgKeyValue = regexp.MustCompile(`(^|\s)(host|dbname|user)\s*=`)
	mysqlForm  = regexp.MustCompile(`@((tcp6?|unix)?\(|/)`)
)

// Open returns a *gorm.DB for the test t, with GORM's logger discarded.
// Its connection pool is closed when t ends, after the cleanups registered
// later (those of New and NewOn on it) have run; do not use it after that.
// Open fails t with t.Fatalf when the database cannot be opened or does not
// answer a ping. It is safe to call from parallel tests; each call opens a
// pool of its own, of at most 10 connections (change that through db.DB()).
//
// Without GORMSESSION_TEST_DSN (unset or empty), the database is a new
// SQLite file in t.TempDir(), opened with the project's recommended DSN
// (WAL journal, a 10 s busy timeout, immediate transactions,
// synchronous=NORMAL):
//
//	file:PATH?_journal_mode=WAL&_busy_timeout=10000&_txlock=immediate&_synchronous=NORMAL
//
// With it, Open opens the database it names, surrounding spaces ignored.
// The driver follows from the form of the DSN:
//
//   - PostgreSQL: a postgres:// or postgresql:// URL, or a key=value string
//     with host=, dbname= or user=. Without a connect_timeout, connecting
//     gives up after 10 s.
//   - MySQL/MariaDB: the go-sql-driver form [user[:pass]]@[net(addr)]/db,
//     such as user:pass@tcp(host:3306)/db, user@/db or @(host)/db.
//     parseTime=true is added when the DSN does not set parseTime; without
//     a timeout, connecting gives up after 10 s.
//   - SQLite: file:PATH[?params], :memory:, or a plain path holding none of
//     "@", "=" and "://". A DSN without "?params" gets the recommended
//     ones. Tests that share the file each work on tables of their own. An
//     in-memory database lives in one connection, so its pool has one
//     connection: a test that holds a transaction open must not use the
//     pool outside it meanwhile.
//
// Any other form (another URL scheme such as mysql://, an ADO-style
// Key=Value;... string) fails t without opening anything. No failure
// message holds the DSN, which may hold a password, nor the password: the
// message names the variable and the driver, and a driver's connection
// error is shown with the password removed.
func Open(t testing.TB) *gorm.DB {
	t.Helper()
	what, secrets := "sqlite", []string(nil)
	var dial gorm.Dialector
	memory := false
	if dsn := strings.TrimSpace(os.Getenv(envDSN)); dsn == "" {
		dial = sqlite.Open(session.SQLiteDSN(filepath.Join(t.TempDir(), "sessions.db")))
	} else {
		d, err := dialector(dsn)
		if err != nil {
			t.Fatalf("sessiontest: %s: %v (the value is not shown, as it may hold a password)", envDSN, err)
		}
		dial, what, memory = d.dial, d.name+" database from "+envDSN, d.memory
		secrets = []string{os.Getenv(envDSN), dsn, d.password}
	}
	db, err := gorm.Open(dial, &gorm.Config{Logger: logger.Discard})
	var sqlDB *sql.DB
	if db != nil {
		// Closed also when the ping failed: an open pool runs a goroutine.
		if sqlDB, _ = db.DB(); sqlDB != nil {
			t.Cleanup(func() { _ = sqlDB.Close() })
		}
	}
	if err == nil && sqlDB == nil {
		err = errors.New("no *sql.DB under the *gorm.DB")
	}
	if err != nil {
		t.Fatalf("sessiontest: open %s: %s", what, redact(err, secrets))
	}
	if memory {
		sqlDB.SetMaxOpenConns(1)
	} else {
		sqlDB.SetMaxOpenConns(maxOpenConns)
	}
	return db
}

// target is a DSN ready to open.
type target struct {
	name     string // "postgres", "mysql" or "sqlite"
	dial     gorm.Dialector
	password string // "" when the DSN has none
	memory   bool   // an in-memory SQLite database
}

// dialector detects the driver of dsn and builds its dialector without
// connecting. Its errors hold no part of dsn.
func dialector(dsn string) (*target, error) {
	scheme, _, isURL := strings.Cut(dsn, "://")
	switch {
	case strings.HasPrefix(dsn, "file:") || dsn == ":memory:":
		return sqliteTarget(dsn), nil
	case isURL && !strings.ContainsAny(scheme, "/@=?"):
		switch strings.ToLower(scheme) {
		case "postgres", "postgresql":
			return postgresTarget(strings.ToLower(scheme) + dsn[len(scheme):])
		case "mysql":
			return nil, errors.New("mysql: a mysql:// URL is not a go-sql-driver DSN; write user:pass@tcp(host:3306)/db")
		}
		return nil, errors.New("not a PostgreSQL, MySQL or SQLite DSN; " + dsnForms)
	case pgKeyValue.MatchString(dsn):
		return postgresTarget(dsn)
	case mysqlForm.MatchString(dsn):
		return mysqlTarget(dsn)
	case !strings.ContainsAny(dsn, "@=") && !isURL:
		return sqliteTarget(dsn), nil
	}
	return nil, errors.New("not a PostgreSQL, MySQL or SQLite DSN; " + dsnForms)
}

func postgresTarget(dsn string) (*target, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil { // the error quotes the DSN, so it is not shown
		return nil, errors.New("postgres: cannot parse it; write postgres://user:pass@host:5432/db or host=H port=P user=U dbname=D")
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = connectTimeout
	}
	return &target{
		name:     "postgres",
		dial:     postgres.New(postgres.Config{Conn: stdlib.OpenDB(*cfg)}),
		password: cfg.Password,
	}, nil
}

func mysqlTarget(dsn string) (*target, error) {
	cfg, err := mysqldriver.ParseDSN(dsn)
	if err != nil || !slices.Contains([]string{"tcp", "tcp6", "unix"}, cfg.Net) {
		return nil, errors.New("mysql: cannot parse it; write user:pass@tcp(host:3306)/db")
	}
	if !strings.Contains(dsn, "parseTime=") {
		cfg.ParseTime = true
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = connectTimeout
	}
	return &target{name: "mysql", dial: mysql.Open(cfg.FormatDSN()), password: cfg.Passwd}, nil
}

func sqliteTarget(dsn string) *target {
	path, params, hasParams := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
	full := dsn
	if !hasParams && path != ":memory:" {
		full = session.SQLiteDSN(path)
	}
	memory := path == ":memory:" || strings.Contains(params, "mode=memory")
	return &target{name: "sqlite", dial: sqlite.Open(full), memory: memory}
}

// redact returns err's message with every non-empty secret replaced.
func redact(err error, secrets []string) string {
	msg := err.Error()
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}
