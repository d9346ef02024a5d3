package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
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

var (
	urlScheme  = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://`)
	pgKeyValue = regexp.MustCompile(`(^|\s)(host|hostaddr|port|dbname|user|password|sslmode|service)\s*=`)
	mysqlForm  = regexp.MustCompile(`@((tcp6?|unix)?\(|/)|^(tcp6?|unix)\(`)
	pgParam    = regexp.MustCompile(`^[a-z_][a-z0-9_.]*$`)
)

// sqliteParams are the parameters a SQLite DSN without any gets: those of
// session.SQLiteDSN (a test keeps them equal; the command does not import
// package session, to stay free of payload types).
const sqliteParams = "_journal_mode=WAL&_busy_timeout=10000&_txlock=immediate&_synchronous=NORMAL"

// dialect names a database family sessionctl can open.
type dialect string

// The dialects, named as GORM's dialectors name themselves.
const (
	dialectPostgres dialect = "postgres"
	dialectSQLite   dialect = "sqlite"
	dialectMySQL    dialect = "mysql"
)

// detectDriver names the database a DSN is for, ignoring surrounding
// whitespace and the case of a URL scheme, or returns "" when it is none
// of these forms:
//   - postgres: a postgres:// or postgresql:// URL, or a key=value string
//     with one of the keys host, hostaddr, port, dbname, user, password,
//     sslmode and service at its start or after whitespace;
//   - mysql: a mysql:// URL (which parseDSN refuses), or the go-sql-driver
//     form [user[:pass]]@[net(addr)]/db with net tcp, tcp6, unix or empty:
//     user:pass@/db, user@/db, user@tcp(host)/db, @unix(/sock)/db,
//     @(host)/db, and tcp(host)/db without a user;
//   - sqlite: file:..., :memory:, or a plain path holding none of @, = and
//     ://.
//
// Any other DSN (another URL scheme, an ADO-style Key=Value;... string)
// gets "", so that it is refused and never opened as a file named after
// it.
func detectDriver(dsn string) dialect {
	dsn = strings.TrimSpace(dsn)
	if strings.HasPrefix(dsn, "file:") || dsn == ":memory:" {
		return dialectSQLite
	}
	if m := urlScheme.FindStringSubmatch(dsn); m != nil {
		switch strings.ToLower(m[1]) {
		case "postgres", "postgresql":
			return dialectPostgres
		case "mysql":
			return dialectMySQL
		}
		return ""
	}
	switch {
	case pgKeyValue.MatchString(dsn):
		return dialectPostgres
	case mysqlForm.MatchString(dsn):
		return dialectMySQL
	case dsn != "" && !strings.ContainsAny(dsn, "@=") && !strings.Contains(dsn, "://"):
		return dialectSQLite
	}
	return ""
}

// driverFlag maps a --driver value to a dialect.
func driverFlag(name string) (dialect, bool) {
	switch strings.ToLower(name) {
	case "postgres", "postgresql", "pgx", "pg":
		return dialectPostgres, true
	case "mysql", "mariadb":
		return dialectMySQL, true
	case "sqlite", "sqlite3":
		return dialectSQLite, true
	}
	return "", false
}

// target is a parsed DSN, ready to open.
type target struct {
	dialect dialect
	dial    gorm.Dialector
	// where describes the database for humans, without credentials.
	where string
	// password is the DSN's password, to keep it out of every message.
	password string
	// sqlitePath is the SQLite file, "" for an in-memory database.
	sqlitePath string
}

// Messages for a refused DSN. None shows the DSN, nor the drivers' parse
// errors, which can quote parts of it and so its password.
const (
	badDSN      = "bad DSN: not a PostgreSQL, MySQL or SQLite DSN of an accepted form (it is not shown, as it may hold a password; see sessionctl --help for the forms)"
	badPostgres = "bad DSN: postgres: cannot parse it; write postgres://user:pass@host:5432/db or host=H port=P user=U password=P dbname=D"
	badMySQL    = "bad DSN: mysql: cannot parse it; write user:pass@tcp(host:3306)/db"
	badSQLite   = "bad DSN: sqlite: write file:PATH[?params], :memory: or a path holding none of @, = and ://"
)

// parseDSN builds the dialector of dsn, surrounding whitespace ignored; it
// does not connect. The dialect is the one detectDriver names, or the one
// driver (a --driver value) names when not "". It fails with exitBadDSN,
// and a message holding no part of the DSN, when driver is unknown, when
// the DSN has no accepted form or the form of a database other than
// driver's, when it does not parse for its dialect, and for a mysql://
// URL or a PostgreSQL DSN that looks mistyped (see pgMistyped).
func parseDSN(dsn, driver string, connectTimeout time.Duration) (*target, error) {
	dsn = strings.TrimSpace(dsn)
	detected := detectDriver(dsn)
	d := detected
	if driver != "" {
		var ok bool
		if d, ok = driverFlag(driver); !ok {
			return nil, fail(exitBadDSN, "--driver %q: want postgres, mysql or sqlite", driver)
		}
		if detected != "" && detected != d {
			return nil, fail(exitBadDSN, "bad DSN: --driver %s, but the DSN has the %s form (see sessionctl --help)", d, detected)
		}
	}
	if m := urlScheme.FindStringSubmatch(dsn); m != nil {
		dsn = strings.ToLower(m[1]) + dsn[len(m[1]):]
	}
	switch d {
	case dialectPostgres:
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil || pgMistyped(cfg) {
			return nil, fail(exitBadDSN, badPostgres)
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
	case dialectMySQL:
		if strings.HasPrefix(dsn, "mysql://") {
			return nil, fail(exitBadDSN, "bad DSN: mysql: write it as user:pass@tcp(host:3306)/db, without mysql://")
		}
		cfg, err := mysqldriver.ParseDSN(dsn)
		if err != nil || !slices.Contains([]string{"tcp", "tcp6", "unix"}, cfg.Net) {
			return nil, fail(exitBadDSN, badMySQL)
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
	case dialectSQLite:
		path, _, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
		if detected != dialectSQLite || path == "" {
			return nil, fail(exitBadDSN, badSQLite)
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
	return nil, fail(exitBadDSN, badDSN)
}

// pgMistyped reports whether a parsed PostgreSQL DSN looks mistyped rather
// than meant: a host, user or database name holding '=' or ';' (a missing
// space, or an ADO-style Key=Value;... string), or a run-time parameter
// whose name is not a lower-case identifier or whose value holds ';'. Such
// a DSN can have put its password where messages show it.
func pgMistyped(cfg *pgx.ConnConfig) bool {
	names := []string{cfg.Host, cfg.User, cfg.Database}
	for _, f := range cfg.Fallbacks {
		names = append(names, f.Host)
	}
	for _, n := range names {
		if strings.ContainsAny(n, "=;") {
			return true
		}
	}
	for k, v := range cfg.RuntimeParams {
		if !pgParam.MatchString(k) || strings.Contains(v, ";") {
			return true
		}
	}
	return false
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
