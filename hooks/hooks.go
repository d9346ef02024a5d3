// Package hooks is the GORM plugin that fires gormsession's random cleanup:
// when a query against a registered sessions table succeeds, it starts that
// table's cleanup with probability 1/frequency (the classic "about once
// every 100 opens" garbage collection).
//
// The cleanup never runs in the caller's goroutine, request or transaction:
// it runs in its own goroutine, on the database's root connection pool, with
// a fresh context bounded by a timeout. At most one cleanup per table runs
// at a time; a dice roll that lands while one is running is skipped. A
// failing cleanup is logged and counted, and never touches the statement
// that triggered it. Wait blocks until running cleanups finish, for tests
// and graceful shutdown.
//
// session.New installs the plugin and registers its table; applications
// rarely use this package directly, except to call Wait at shutdown.
package hooks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
)

// Name is the plugin's name in gorm.Config.Plugins.
const Name = "gormsession:cleanup"

// TimeoutDefault bounds one cleanup run when Table.Timeout is zero.
const TimeoutDefault = time.Minute

// CleanupFunc deletes expired sessions using db, which is bound to the root
// connection pool (never a caller's transaction) and to a context with the
// run's timeout, and reports how many rows it deleted.
type CleanupFunc func(ctx context.Context, db *gorm.DB) (int64, error)

// Table registers one sessions table with the plugin.
type Table struct {
	// Name is the table whose queries roll the dice.
	Name string
	// Frequency: a cleanup starts with probability 1/Frequency per query;
	// 1 means every query, 0 (or less) never.
	Frequency int
	// Cleanup is the work to run.
	Cleanup CleanupFunc
	// Rand is the random source; nil means a source seeded from
	// crypto-quality randomness. Inject a seeded source (rand.NewPCG) for
	// deterministic tests. The plugin serialises calls to it.
	Rand rand.Source
	// Timeout bounds one run; 0 means TimeoutDefault.
	Timeout time.Duration
	// Logger receives one line per run (Debug on success, Warn on failure);
	// nil means slog.Default(). Lines carry the table name, counts and
	// durations, never a token, id or payload.
	Logger *slog.Logger
	// OnRun, if set, is called after each run with its outcome.
	OnRun func(deleted int64, took time.Duration, err error)
}

// Stats counts what the plugin did for one table.
type Stats struct {
	Rolls    int64 // queries that rolled the dice
	Started  int64 // cleanups started
	Skipped  int64 // rolls that won while a cleanup was already running
	Failures int64 // cleanups that returned an error
	Deleted  int64 // rows deleted by all cleanups
}

// Plugin implements gorm.Plugin. Use Install; the zero value is not usable.
type Plugin struct {
	mu     sync.RWMutex
	db     *gorm.DB // root, set by Initialize
	tables map[string]*entry
	once   sync.Once

	runMu  sync.Mutex
	active int           // cleanups running
	idle   chan struct{} // closed when active drops to zero
}

type entry struct {
	mu                                         sync.Mutex // guards cfg.Rand and cfg
	cfg                                        Table
	rng                                        *rand.Rand
	refs                                       int // registrations; guarded by Plugin.mu
	running                                    atomic.Bool
	rolls, started, skipped, failures, deleted atomic.Int64
}

var installMu sync.Mutex

// Install returns the plugin installed on db, installing it first if db has
// none. It is safe to call from several goroutines and any number of times.
func Install(db *gorm.DB) (*Plugin, error) {
	installMu.Lock()
	defer installMu.Unlock()
	if p := Of(db); p != nil {
		return p, nil
	}
	p := &Plugin{tables: map[string]*entry{}}
	if err := db.Use(p); err != nil {
		return nil, err
	}
	return p, nil
}

// Of returns the plugin installed on db, or nil.
func Of(db *gorm.DB) *Plugin {
	if db == nil || db.Config == nil {
		return nil
	}
	p, _ := db.Config.Plugins[Name].(*Plugin)
	return p
}

// Name implements gorm.Plugin.
func (p *Plugin) Name() string { return Name }

// Initialize implements gorm.Plugin. It registers the plugin's callbacks
// once; calling it again is harmless.
func (p *Plugin) Initialize(db *gorm.DB) error {
	var err error
	p.once.Do(func() {
		p.mu.Lock()
		p.db = db
		if p.tables == nil {
			p.tables = map[string]*entry{}
		}
		p.mu.Unlock()
		err = errors.Join(
			db.Callback().Query().After("gorm:query").Register(Name+":query", p.afterQuery),
			db.Callback().Row().After("gorm:row").Register(Name+":row", p.afterQuery),
		)
	})
	return err
}

// Register adds one table. The first registration of a table on a
// database decides its random cleanup; registering it again (a second
// container on the same table) with the same Frequency and Timeout is
// accepted and changes nothing, and with a different Frequency or Timeout
// fails with ErrConflictingRegistration rather than silently changing what
// the first registration asked for.
func (p *Plugin) Register(t Table) error {
	if t.Name == "" || t.Cleanup == nil {
		return errors.New("hooks: register: table name and cleanup are required")
	}
	if t.Timeout <= 0 {
		t.Timeout = TimeoutDefault
	}
	if t.Logger == nil {
		t.Logger = slog.Default()
	}
	src := t.Rand
	if src == nil {
		src = rand.NewPCG(rand.Uint64(), rand.Uint64())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.tables[t.Name]; e != nil {
		e.mu.Lock()
		cfg := e.cfg
		e.mu.Unlock()
		if cfg.Frequency != t.Frequency || cfg.Timeout != t.Timeout {
			return fmt.Errorf("%w: table %q runs its random cleanup with frequency %d and timeout %s; this registration asks for frequency %d and timeout %s",
				ErrConflictingRegistration, t.Name, cfg.Frequency, cfg.Timeout, t.Frequency, t.Timeout)
		}
		e.refs++
		return nil
	}
	p.tables[t.Name] = &entry{cfg: t, rng: rand.New(src), refs: 1}
	return nil
}

// Unregister undoes one Register of table: once every registration is
// undone, queries of the table roll no more dice and its counters are
// dropped. A cleanup already running is not interrupted (see Wait).
// Unregistering a table that is not registered does nothing.
func (p *Plugin) Unregister(table string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e := p.tables[table]; e != nil {
		if e.refs--; e.refs <= 0 {
			delete(p.tables, table)
		}
	}
}

// ErrConflictingRegistration is returned by Register for a table already
// registered on the same database with another cleanup frequency or
// timeout.
var ErrConflictingRegistration = errors.New("hooks: table already registered with other cleanup settings")

// Stats returns the counters of table; zero for a table never registered.
func (p *Plugin) Stats(table string) Stats {
	if p == nil {
		return Stats{}
	}
	p.mu.RLock()
	e := p.tables[table]
	p.mu.RUnlock()
	if e == nil {
		return Stats{}
	}
	return Stats{Rolls: e.rolls.Load(), Started: e.started.Load(), Skipped: e.skipped.Load(),
		Failures: e.failures.Load(), Deleted: e.deleted.Load()}
}

// Wait blocks until every cleanup started so far has finished. Call it in
// tests before checking for leaked goroutines, and at shutdown before
// closing the database. A nil *Plugin waits for nothing.
func (p *Plugin) Wait() {
	if p == nil {
		return
	}
	p.runMu.Lock()
	n, idle := p.active, p.idle
	p.runMu.Unlock()
	if n > 0 {
		<-idle
	}
}

func (p *Plugin) started() {
	p.runMu.Lock()
	if p.active == 0 {
		p.idle = make(chan struct{})
	}
	p.active++
	p.runMu.Unlock()
}

func (p *Plugin) finished() {
	p.runMu.Lock()
	p.active--
	if p.active == 0 {
		close(p.idle)
	}
	p.runMu.Unlock()
}

func (p *Plugin) afterQuery(db *gorm.DB) {
	if db.Error != nil || db.DryRun || db.Statement == nil || db.Statement.Table == "" {
		return
	}
	// A single-row query (Row, or QueryRowContext underneath) carries its
	// error in the *sql.Row until Scan; a failed one must not roll either.
	if row, ok := db.Statement.Dest.(*sql.Row); ok && (row == nil || row.Err() != nil) {
		return
	}
	p.mu.RLock()
	e := p.tables[db.Statement.Table]
	p.mu.RUnlock()
	if e == nil {
		return
	}
	e.mu.Lock()
	cfg := e.cfg
	fire := cfg.Frequency > 0 && e.rng.IntN(cfg.Frequency) == 0
	e.mu.Unlock()
	if cfg.Frequency <= 0 {
		return
	}
	e.rolls.Add(1)
	if !fire {
		return
	}
	if !e.running.CompareAndSwap(false, true) {
		e.skipped.Add(1)
		return
	}
	e.started.Add(1)
	p.started()
	go p.run(e, cfg)
}

func (p *Plugin) run(e *entry, cfg Table) {
	defer p.finished()
	defer e.running.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()

	p.mu.RLock()
	root := p.db
	p.mu.RUnlock()
	// A new session on the root pool: never the statement's connection,
	// which may be a transaction.
	db := root.Session(&gorm.Session{NewDB: true, Context: ctx})
	db.Statement.ConnPool = root.Config.ConnPool

	start := time.Now()
	n, err := safeCleanup(ctx, db, cfg.Cleanup)
	took := time.Since(start)
	e.deleted.Add(n)
	if err != nil {
		e.failures.Add(1)
		cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "gormsession: random cleanup failed",
			slog.String("table", cfg.Name), slog.Int64("deleted", n),
			slog.Duration("took", took), slog.String("error", err.Error()))
	} else {
		cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "gormsession: random cleanup done",
			slog.String("table", cfg.Name), slog.Int64("deleted", n), slog.Duration("took", took))
	}
	if cfg.OnRun != nil {
		cfg.OnRun(n, took, err)
	}
}

// safeCleanup runs fn and turns a panic into an error: the cleanup runs on a
// goroutine of ours, where a panic would take the whole program down.
func safeCleanup(ctx context.Context, db *gorm.DB, fn CleanupFunc) (n int64, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("hooks: cleanup panicked")
		}
	}()
	return fn(ctx, db)
}
