package main

import (
	"context"
	"fmt"
	"log"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormsession/gormsession/bench"
	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/model"
	"github.com/gormsession/gormsession/session"
)

// cart is the payload the session tests store, so that the figures are of
// the same rows.
type cart struct {
	Items []string `json:"items"`
	Count int      `json:"count"`
}

// table is the sessions table of every figure, in the figure's namespace.
const table = "rel_sessions"

// target is one database for one figure: a pool opened as the session
// tests open theirs (16 connections, idle ones kept a minute, GORM's
// logger silent) on a namespace of its own.
type target struct {
	dialect string
	db      *gorm.DB
	ns      *bench.NS // nil on SQLite
}

// open makes a fresh namespace for fig on dialect d and a pool on it.
func (r *runner) open(ctx context.Context, d, fig string) (*target, error) {
	t := &target{dialect: d}
	var dsn string
	if d == bench.SQLite {
		dsn = session.SQLiteDSN(filepath.Join(r.dir, fig+".db"))
	} else {
		ns, err := r.env.Namespace(ctx, d, "rel_"+fig)
		if err != nil {
			return nil, fmt.Errorf("namespace: %w", err)
		}
		t.ns = ns
		r.atExit(func() { _ = ns.Drop(context.Background()) })
		// The bench's comparisons add interpolateParams=true to MySQL
		// DSNs; the session tests, whose figures these are, connect
		// without it.
		dsn = strings.Replace(ns.DSN, "&interpolateParams=true", "", 1)
	}
	db, err := openGorm(d, dsn, 16)
	if err != nil {
		return nil, err
	}
	t.db = db
	r.version(ctx, d, db)
	return t, nil
}

// openGorm opens GORM on dsn with a silent logger and at most conns
// connections.
func openGorm(d, dsn string, conns int) (*gorm.DB, error) {
	var dial gorm.Dialector
	switch d {
	case bench.Postgres:
		dial = postgres.Open(dsn)
	case bench.MySQL:
		dial = mysql.Open(dsn)
	default:
		dial = sqlite.Open(dsn)
	}
	db, err := gorm.Open(dial, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", d, err)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return nil, err
	}
	sqlDB.SetMaxOpenConns(conns)
	sqlDB.SetConnMaxIdleTime(time.Minute)
	return db, nil
}

// close waits for random cleanups, closes the pool and drops the
// namespace.
func (t *target) close(ctx context.Context) {
	closeGorm(t.db)
	if t.ns != nil {
		if err := t.ns.Drop(ctx); err != nil {
			log.Printf("drop %s: %v", t.ns.Name, err)
		}
	}
}

func closeGorm(db *gorm.DB) {
	if p := hooks.Of(db); p != nil {
		p.Wait()
	}
	if sqlDB, err := db.DB(); err == nil {
		_ = sqlDB.Close()
	}
}

var versionOnce sync.Map

// version logs the server version of d once per run, for the
// "where the figures come from" table.
func (r *runner) version(ctx context.Context, d string, db *gorm.DB) {
	if _, seen := versionOnce.LoadOrStore(d, true); seen {
		return
	}
	q := map[string]string{bench.Postgres: "SELECT version()", bench.MySQL: "SELECT VERSION()", bench.SQLite: "SELECT sqlite_version()"}[d]
	var v string
	if err := db.WithContext(ctx).Raw(q).Scan(&v).Error; err == nil {
		log.Printf("%s: %s", d, v)
	}
}

// container makes a container of carts on t's table; the random cleanup
// is off unless opts turn it on.
func (t *target) container(opts ...session.Option) (*session.Container[cart], error) {
	opts = append([]session.Option{session.WithTable(table), session.WithCleanupFrequency(0)}, opts...)
	return session.New[cart](t.db, opts...)
}

// rows returns every row of the table as stored.
func rows(ctx context.Context, db *gorm.DB) ([]model.SessionRow, error) {
	var out []model.SessionRow
	err := db.WithContext(ctx).Table(table).Order("id").Find(&out).Error
	return out, err
}

// rowsEqual compares two table dumps without printing them.
func rowsEqual(a, b []model.SessionRow) bool {
	return slices.EqualFunc(a, b, func(x, y model.SessionRow) bool {
		return x.ID == y.ID && x.Subject == y.Subject && string(x.Payload) == string(y.Payload) &&
			x.Version == y.Version && x.CreatedAt == y.CreatedAt && x.UpdatedAt == y.UpdatedAt &&
			x.Deadline == y.Deadline && x.ExpiresAt == y.ExpiresAt
	})
}

func countRows(ctx context.Context, db *gorm.DB) (int64, error) {
	var n int64
	err := db.WithContext(ctx).Table(table).Count(&n).Error
	return n, err
}

// latencies collects operation durations from many goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.d)
}

// quantile returns the q-quantile (0 < q <= 1) of the durations seen, by
// the nearest-rank method; 0 when none were seen.
func (l *latencies) quantile(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	i := int(float64(len(s))*q+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}
