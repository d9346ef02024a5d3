package session

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"strings"

	"gorm.io/gorm"

	"github.com/gormsession/gormsession/internal/store"
)

// errPrivateMemory is New's error for a private in-memory SQLite database
// behind a pool that may open more than one connection.
var errPrivateMemory = errors.New("a private in-memory SQLite database (\":memory:\") is a different, empty database on every connection of the pool: " +
	"use a file (sessiontest.Open makes one in a temporary directory), or call SetMaxOpenConns(1) on the pool")

// checkSQLite looks at a SQLite handle before New uses it. A private
// in-memory database on a pool of several connections is an error, since
// the table would exist on one connection only. Otherwise it logs one Warn
// line naming what to set when the handle runs without WAL, without a
// busy timeout, or with deferred transactions: Update's locked retry and
// concurrent writers depend on all three (see the recommended DSN in the
// README). The DSN is read, when the dialector has one, to tell shared-
// cache and private in-memory databases apart and to see _txlock; it is
// never logged.
func checkSQLite(ctx context.Context, db *gorm.DB, logger *slog.Logger, table string) error {
	if d, err := store.DialectOf(db); err != nil || d != store.SQLite {
		return nil
	}
	dsn := strings.ToLower(dialectorDSN(db))
	memory := strings.Contains(dsn, ":memory:") || strings.Contains(dsn, "mode=memory")
	if memory && !strings.Contains(dsn, "cache=shared") {
		if sqlDB, err := db.DB(); err == nil && sqlDB.Stats().MaxOpenConnections != 1 {
			return errPrivateMemory
		}
		return nil
	}
	if memory {
		return nil // one shared database in memory: no WAL, no file lock to wait for
	}
	var missing []string
	var mode string
	if err := db.WithContext(ctx).Raw("PRAGMA journal_mode").Scan(&mode).Error; err == nil && !strings.EqualFold(mode, "wal") {
		missing = append(missing, "_journal_mode=WAL")
	}
	var busy int64
	if err := db.WithContext(ctx).Raw("PRAGMA busy_timeout").Scan(&busy).Error; err == nil && busy <= 0 {
		missing = append(missing, "_busy_timeout=10000")
	}
	if dsn != "" && !strings.Contains(dsn, "_txlock=immediate") && !strings.Contains(dsn, "_txlock=exclusive") {
		missing = append(missing, "_txlock=immediate")
	}
	if len(missing) > 0 {
		logger.LogAttrs(ctx, slog.LevelWarn, "gormsession: the SQLite handle lacks settings that concurrent sessions need; add them to the DSN",
			slog.String("table", table), slog.String("set", strings.Join(missing, "&")))
	}
	return nil
}

// dialectorDSN returns the DSN field of db's dialector ("" if it has
// none): the SQLite dialectors keep it there, and reading it by name keeps
// this package free of any driver import.
func dialectorDSN(db *gorm.DB) string {
	v := reflect.ValueOf(db.Dialector)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return ""
		}
		v = v.Elem()
	}
	if v.Kind() != reflect.Struct {
		return ""
	}
	f := v.FieldByName("DSN")
	if !f.IsValid() || f.Kind() != reflect.String {
		return ""
	}
	return f.String()
}

// SQLiteDSN returns the DSN recommended for a SQLite file at path, for
// gorm.io/driver/sqlite (mattn/go-sqlite3):
//
//	file:PATH?_journal_mode=WAL&_busy_timeout=10000&_txlock=immediate&_synchronous=NORMAL
//
// WAL lets readers run while one writer writes; the busy timeout makes a
// writer wait up to 10 s for the lock instead of failing with "database is
// locked"; immediate transactions take the write lock when they begin, so
// two transactions cannot deadlock upgrading their locks (Update's locked
// retry depends on it); synchronous=NORMAL is durable across application
// crashes in WAL mode and much faster than FULL.
func SQLiteDSN(path string) string {
	return "file:" + path + "?_journal_mode=WAL&_busy_timeout=10000&_txlock=immediate&_synchronous=NORMAL"
}
