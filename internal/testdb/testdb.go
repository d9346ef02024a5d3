// Package testdb opens the real databases the tests run against. SQLite
// always runs (a fresh file per test); PostgreSQL and MySQL/MariaDB run when
// GORMSESSION_TEST_POSTGRES_DSN / GORMSESSION_TEST_MYSQL_DSN are set, and
// GORMSESSION_TEST_REQUIRE (a comma-separated list such as
// "postgres,mysql") turns a missing DSN into a test failure instead of a
// skip.
package testdb

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/session"
)

// The dialect names used in subtest names and by Open.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
	MySQL    = "mysql"
)

// Environment variables read by this package.
const (
	EnvPostgres = "GORMSESSION_TEST_POSTGRES_DSN"
	EnvMySQL    = "GORMSESSION_TEST_MYSQL_DSN"
	EnvRequire  = "GORMSESSION_TEST_REQUIRE"
	// EnvGormConfig names the gorm.Config every handle is opened with, as
	// GORM applications commonly configure theirs: empty for GORM's
	// defaults, or a comma-separated list of "prepare" (PrepareStmt) and
	// "skiptx" (SkipDefaultTransaction). CI runs the suites under each.
	EnvGormConfig = "GORMSESSION_TEST_GORM_CONFIG"
)

// LeakOptions are the goleak options for packages whose tests open
// handles here: GORM's prepared-statement cache (PrepareStmt) starts an
// expiry goroutine per handle that nothing stops.
var LeakOptions = []goleak.Option{goleak.IgnoreTopFunction("gorm.io/gorm/internal/lru.NewLRU[...].func1")}

// GormConfigs lists the gorm.Config variants CI runs the suites under, by
// their EnvGormConfig spelling.
var GormConfigs = []string{"", "prepare", "skiptx", "prepare,skiptx"}

// ApplyGormConfig sets on cfg the options that variant (an EnvGormConfig
// value) names, and fails t on an unknown one.
func ApplyGormConfig(t testing.TB, cfg *gorm.Config, variant string) {
	t.Helper()
	for _, opt := range strings.Split(variant, ",") {
		switch strings.TrimSpace(opt) {
		case "":
		case "prepare":
			cfg.PrepareStmt = true
		case "skiptx":
			cfg.SkipDefaultTransaction = true
		default:
			t.Fatalf("%s: unknown option %q (want prepare, skiptx)", EnvGormConfig, opt)
		}
	}
}

// SQLiteDSN is session.SQLiteDSN, the DSN the project recommends for a
// SQLite file.
func SQLiteDSN(path string) string { return session.SQLiteDSN(path) }

// All lists every dialect in test order.
var All = []string{SQLite, Postgres, MySQL}

// Each runs fn as a parallel subtest once per available dialect, with a
// fresh connection pool. Unavailable dialects are skipped, or fail the test
// when GORMSESSION_TEST_REQUIRE names them.
func Each(t *testing.T, fn func(t *testing.T, db *gorm.DB)) {
	t.Helper()
	for _, d := range All {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			fn(t, Open(t, d, nil))
		})
	}
}

// Available reports whether dialect d can be tested here.
func Available(d string) bool {
	switch d {
	case SQLite:
		return true
	case Postgres:
		return os.Getenv(EnvPostgres) != ""
	case MySQL:
		return os.Getenv(EnvMySQL) != ""
	}
	return false
}

// Require skips t when dialect d is not available, or fails it when
// GORMSESSION_TEST_REQUIRE names d.
func Require(t testing.TB, d string) {
	t.Helper()
	if Available(d) {
		return
	}
	if slices.Contains(strings.Split(os.Getenv(EnvRequire), ","), d) {
		t.Fatalf("%s is required (%s) but its DSN variable is not set", d, EnvRequire)
	}
	t.Skipf("%s not configured; set its DSN variable to run", d)
}

// Open opens a fresh connection pool to dialect d, closed when t ends.
// cfg may be nil; by default GORM's logger is silent (see EnvCaptureLogs). For SQLite the pool
// is on a new file of its own.
func Open(t testing.TB, d string, cfg *gorm.Config) *gorm.DB {
	t.Helper()
	return OpenAt(t, d, filepath.Join(t.TempDir(), "test.db"), cfg)
}

// OpenAt is Open, with the SQLite file at path (ignored for the other
// dialects), so that several pools can share one SQLite database.
func OpenAt(t testing.TB, d, path string, cfg *gorm.Config) *gorm.DB {
	t.Helper()
	Require(t, d)
	if cfg == nil {
		cfg = &gorm.Config{}
	}
	c := *cfg
	cfg = &c
	ApplyGormConfig(t, cfg, os.Getenv(EnvGormConfig))
	if cfg.Logger == nil {
		cfg.Logger = Logger() // logger.Discard unless EnvCaptureLogs is set
	}
	var dial gorm.Dialector
	switch d {
	case SQLite:
		dial = sqlite.Open(SQLiteDSN(path))
	case Postgres:
		dial = postgres.Open(os.Getenv(EnvPostgres))
	case MySQL:
		dial = mysql.Open(os.Getenv(EnvMySQL))
	}
	db, err := gorm.Open(dial, cfg)
	if err != nil {
		t.Fatalf("open %s: %v", d, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		t.Fatalf("open %s: %v", d, err)
	}
	sqlDB.SetMaxOpenConns(16)
	sqlDB.SetConnMaxIdleTime(time.Minute)
	t.Cleanup(func() { _ = sqlDB.Close() })
	return db
}

// Table returns a table name unique to this test run, and drops that table
// when t ends.
func Table(t testing.TB, db *gorm.DB) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	t.Cleanup(func() { _ = db.Migrator().DropTable(name) })
	return name
}

// Dialect returns the dialect name of db.
func Dialect(db *gorm.DB) string { return db.Dialector.Name() }
