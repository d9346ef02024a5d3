package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormsession/gormsession/repository"
)

// sqliteParams are the parameters a SQLite DSN without any gets: WAL so
// readers run beside the writer, a busy timeout so a writer waits for the
// lock instead of failing, immediate transactions so none deadlocks
// upgrading its lock, and synchronous=NORMAL, which is safe with WAL.
const sqliteParams = "_journal_mode=WAL&_busy_timeout=10000&_txlock=immediate&_synchronous=NORMAL"

var (
	pgKeyValue = regexp.MustCompile(`(^|\s)(host|hostaddr|port|dbname|user|password|sslmode|service)\s*=`)
	mysqlNet   = regexp.MustCompile(`(^|@)(tcp|tcp6|unix)\(`)
)

// detectDriver names the database a DSN is for: postgres for a postgres://
// or postgresql:// URL or a key=value string naming host, dbname, user and
// the like; mysql for the go-sql-driver form user:pass@tcp(host)/db;
// sqlite for anything else.
func detectDriver(dsn string) repository.Dialect {
	switch {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		return repository.Postgres
	case mysqlNet.MatchString(dsn):
		return repository.MySQL
	case pgKeyValue.MatchString(dsn) && !strings.HasPrefix(dsn, "file:"):
		return repository.Postgres
	default:
		return repository.SQLite
	}
}

// driverFlag maps a --driver value to a dialect.
func driverFlag(name string) (repository.Dialect, bool) {
	switch strings.ToLower(name) {
	case "postgres", "postgresql", "pgx", "pg":
		return repository.Postgres, true
	case "mysql", "mariadb":
		return repository.MySQL, true
	case "sqlite", "sqlite3":
		return repository.SQLite, true
	}
	return "", false
}

// target is a parsed DSN, ready to open.
type target struct {
	dialect repository.Dialect
	dial    gorm.Dialector
	// where describes the database for humans, without credentials.
	where string
	// password is the DSN's password, to keep it out of every message.
	password string
	// sqlitePath is the SQLite file, "" for an in-memory database.
	sqlitePath string
}

// parseDSN works out the dialect (forced by driver when not "") and builds
// the dialector. It fails with exitBadDSN; it does not connect.
func parseDSN(dsn, driver string, connectTimeout time.Duration) (*target, error) {
	d := detectDriver(dsn)
	if driver != "" {
		var ok bool
		if d, ok = driverFlag(driver); !ok {
			return nil, fail(exitBadDSN, "--driver %q: want postgres, mysql or sqlite", driver)
		}
	}
	switch d {
	case repository.Postgres:
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			// pgx redacts the password in its message.
			return nil, fail(exitBadDSN, "bad DSN: postgres: %v", err)
		}
		if cfg.ConnectTimeout == 0 {
			cfg.ConnectTimeout = connectTimeout
		}
		return &target{
			dialect:  d,
			dial:     postgres.New(postgres.Config{Conn: stdlib.OpenDB(*cfg)}),
			where:    fmt.Sprintf("postgres %s:%d/%s", cfg.Host, cfg.Port, cfg.Database),
			password: cfg.Password,
		}, nil
	case repository.MySQL:
		if strings.HasPrefix(dsn, "mysql://") {
			return nil, fail(exitBadDSN, "bad DSN: mysql: write it as user:pass@tcp(host:3306)/db, without mysql://")
		}
		cfg, err := mysqldriver.ParseDSN(dsn)
		if err != nil {
			return nil, fail(exitBadDSN, "bad DSN: mysql: %v", err)
		}
		if cfg.Timeout == 0 {
			cfg.Timeout = connectTimeout
		}
		return &target{
			dialect:  d,
			dial:     mysql.Open(cfg.FormatDSN()),
			where:    fmt.Sprintf("mysql %s/%s", cfg.Addr, cfg.DBName),
			password: cfg.Passwd,
		}, nil
	default:
		path := strings.TrimPrefix(dsn, "file:")
		if i := strings.IndexByte(path, '?'); i >= 0 {
			path = path[:i]
		}
		if path == "" {
			return nil, fail(exitBadDSN, "bad DSN: sqlite: no file name")
		}
		full := dsn
		if !strings.Contains(dsn, "?") {
			full = "file:" + path + "?" + sqliteParams
		}
		t := &target{dialect: d, dial: sqlite.Open(full), where: "sqlite file " + path, sqlitePath: path}
		if path == ":memory:" || strings.Contains(dsn, "mode=memory") {
			t.sqlitePath, t.where = "", "sqlite in memory"
		}
		return t, nil
	}
}

// connect opens and pings the database. create allows a missing SQLite
// file to be created (migrate); otherwise it is exitConnect. Every failure
// is exitConnect.
func (a *app) connect(ctx context.Context, g *globals, create bool) (*gorm.DB, *target, func(), error) {
	t, err := parseDSN(g.dsn, g.driver, g.connectTimeout)
	if err != nil {
		return nil, nil, nil, err
	}
	a.secrets = append(a.secrets, t.password)
	if t.sqlitePath != "" && !create {
		if _, err := os.Stat(t.sqlitePath); errors.Is(err, os.ErrNotExist) {
			return nil, nil, nil, fail(exitConnect, "cannot connect: sqlite: database file %s does not exist", t.sqlitePath)
		}
	}
	db, err := gorm.Open(t.dial, &gorm.Config{Logger: logger.Discard, DisableAutomaticPing: true})
	if err != nil {
		return nil, nil, nil, fail(exitConnect, "cannot connect: %s: %v", t.where, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, nil, nil, fail(exitConnect, "cannot connect: %s: %v", t.where, err)
	}
	closer := func() { _ = sqlDB.Close() }
	pctx, cancel := context.WithTimeout(ctx, g.connectTimeout)
	defer cancel()
	if err := sqlDB.PingContext(pctx); err != nil {
		closer()
		if ctx.Err() != nil {
			return nil, nil, nil, ctx.Err()
		}
		return nil, nil, nil, fail(exitConnect, "cannot connect: %s: %v", t.where, err)
	}
	return db, t, closer, nil
}

// open connects and returns the repository of the table, which must exist
// (else exitNoTable).
func (a *app) open(ctx context.Context, g *globals) (*repository.Repository, *target, func(), error) {
	db, t, closer, err := a.connect(ctx, g, false)
	if err != nil {
		return nil, nil, nil, err
	}
	repo, err := repository.New(db, g.table)
	if err != nil {
		closer()
		return nil, nil, nil, fail(exitUsage, "%v", err)
	}
	ok, err := repo.TableExists(ctx)
	if err != nil {
		closer()
		return nil, nil, nil, err
	}
	if !ok {
		closer()
		return nil, nil, nil, fail(exitNoTable, "table %q does not exist in %s (create it with: sessionctl migrate)", g.table, t.where)
	}
	return repo, t, closer, nil
}
