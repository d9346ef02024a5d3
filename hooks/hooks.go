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
// that triggered it; a panicking one is logged with its value and stack.
//
// The plugin sees every query of the application: for a table that is not
// registered its cost is one map lookup without a lock, and the dice of a
// registered table take no lock in production either.
//
// session.New installs the plugin and registers its table, and
// session.Container.Close unregisters it at shutdown (cancelling and
// waiting for a running cleanup); applications rarely use this package
// directly. Tests read Stats and use Wait.
package hooks

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
)

// name is the plugin's name in gorm.Config.Plugins.
const name = "gormsession:cleanup"

// timeoutDefault bounds one cleanup run when Table.Timeout is zero.
const timeoutDefault = time.Minute

// Table registers one sessions table with the plugin.
type Table struct {
	// Name is the table whose queries roll the dice.
	Name string
	// Frequency: a cleanup starts with probability 1/Frequency per query;
	// 1 means every query, 0 (or less) never.
	Frequency int
	// Cleanup deletes expired sessions using db, which is bound to the root
	// connection pool (never a caller's transaction) and to ctx, which
	// carries the run's timeout and ends early when the table is
	// unregistered; it reports how many rows it deleted.
	Cleanup func(ctx context.Context, db *gorm.DB) (int64, error)
	// Rand, if set, is the random source for the dice, so tests know when
	// a cleanup fires; the plugin serialises calls to it. Nil (production)
	// uses the runtime's lock-free random numbers.
	Rand rand.Source
	// Timeout bounds one run; 0 means one minute.
	Timeout time.Duration
	// Logger receives one line per run (Debug on success, Warn on failure,
	// Error with the panic's value and stack when the cleanup panicked);
	// nil means slog.Default(). Lines carry the table name, counts and
	// durations, never a token, id or payload.
	Logger *slog.Logger
}

// Stats counts what the plugin did for one table.
type Stats struct {
	Rolls    int64 // queries that rolled the dice
	Started  int64 // cleanups started
	Skipped  int64 // rolls that won while a cleanup was already running
	Failures int64 // cleanups that returned an error or panicked
	Deleted  int64 // rows deleted by all cleanups
}

// Plugin implements gorm.Plugin. Use Install; the zero value is not usable.
type Plugin struct {
	mu     sync.Mutex                        // serialises registrations
	tables atomic.Pointer[map[string]*entry] // copied on write: a query's lookup takes no lock
	db     atomic.Pointer[gorm.DB]           // root, set by Initialize
	once   sync.Once

	// Cleanups running, for Wait. Not a WaitGroup: Wait may run while
	// queries start new cleanups, which a WaitGroup does not allow.
	runMu  sync.Mutex
	active int
	idle   chan struct{} // closed when active drops to zero
}

type entry struct {
	cfg  Table
	refs int // registrations; guarded by Plugin.mu

	randMu sync.Mutex // guards rng, set only when cfg.Rand is
	rng    *rand.Rand

	running atomic.Bool
	ctx     context.Context // ended when the table is unregistered
	cancel  context.CancelFunc
	// startMu orders starting a cleanup against unregistering the table:
	// once closed is set no cleanup starts, so done.Wait in Unregister
	// sees every one that did. Taken only when the dice fire.
	startMu sync.Mutex
	closed  bool
	done    sync.WaitGroup // this table's cleanups

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
	p := &Plugin{}
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
	p, _ := db.Config.Plugins[name].(*Plugin)
	return p
}

// Name implements gorm.Plugin: "gormsession:cleanup".
func (p *Plugin) Name() string { return name }

// Initialize implements gorm.Plugin. It registers the plugin's callbacks
// once; calling it again is harmless.
func (p *Plugin) Initialize(db *gorm.DB) error {
	var err error
	p.once.Do(func() {
		p.db.Store(db)
		err = errors.Join(
			db.Callback().Query().After("gorm:query").Register(name+":query", p.afterQuery),
			db.Callback().Row().After("gorm:row").Register(name+":row", p.afterQuery),
		)
	})
	return err
}

// Register adds one table. The first registration of a table on a
// database decides its random cleanup; registering it again (a second
// container on the same table) with the same Frequency and Timeout is
// accepted and changes nothing, and with a different Frequency or Timeout
// fails with ErrConflictingRegistration rather than silently changing what
// the first registration asked for. Each successful Register is undone by
// one Unregister.
func (p *Plugin) Register(t Table) error {
	if t.Name == "" || t.Cleanup == nil {
		return errors.New("hooks: register: table name and cleanup are required")
	}
	if t.Timeout <= 0 {
		t.Timeout = timeoutDefault
	}
	if t.Logger == nil {
		t.Logger = slog.Default()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.snapshot()
	if e := old[t.Name]; e != nil {
		if e.cfg.Frequency != t.Frequency || e.cfg.Timeout != t.Timeout {
			return fmt.Errorf("%w: table %q runs its random cleanup with frequency %d and timeout %s; this registration asks for frequency %d and timeout %s",
				ErrConflictingRegistration, t.Name, e.cfg.Frequency, e.cfg.Timeout, t.Frequency, t.Timeout)
		}
		e.refs++
		return nil
	}
	e := &entry{cfg: t, refs: 1}
	if t.Rand != nil {
		e.rng = rand.New(t.Rand)
	}
	e.ctx, e.cancel = context.WithCancel(context.Background())
	next := make(map[string]*entry, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[t.Name] = e
	p.tables.Store(&next)
	return nil
}

// ErrConflictingRegistration is returned by Register for a table already
// registered on the same database with another cleanup frequency or
// timeout.
var ErrConflictingRegistration = errors.New("hooks: table already registered with other cleanup settings")

// Unregister undoes one Register of table. When the last registration is
// undone, queries of the table roll no more dice, a cleanup of it that is
// running has its context cancelled, and Unregister waits for it to
// return. Unregistering a table that is not registered does nothing.
func (p *Plugin) Unregister(table string) {
	p.mu.Lock()
	old := p.snapshot()
	e := old[table]
	if e == nil {
		p.mu.Unlock()
		return
	}
	if e.refs--; e.refs > 0 {
		p.mu.Unlock()
		return
	}
	next := make(map[string]*entry, len(old))
	for k, v := range old {
		if k != table {
			next[k] = v
		}
	}
	p.tables.Store(&next)
	p.mu.Unlock()
	e.startMu.Lock()
	e.closed = true
	e.startMu.Unlock()
	e.cancel()
	e.done.Wait()
}

func (p *Plugin) snapshot() map[string]*entry {
	if m := p.tables.Load(); m != nil {
		return *m
	}
	return nil
}

// Stats returns the counters of table; zero for a table not registered.
func (p *Plugin) Stats(table string) Stats {
	if p == nil {
		return Stats{}
	}
	e := p.snapshot()[table]
	if e == nil {
		return Stats{}
	}
	return Stats{Rolls: e.rolls.Load(), Started: e.started.Load(), Skipped: e.skipped.Load(),
		Failures: e.failures.Load(), Deleted: e.deleted.Load()}
}

// Wait blocks until every cleanup started so far, of any table, has
// finished; for tests. A nil *Plugin waits for nothing. To stop one
// table's cleanups for good (graceful shutdown), close its containers
// (session.Container.Close), which unregisters the table.
func (p *Plugin) Wait() {
	if p != nil {
		p.runMu.Lock()
		n, idle := p.active, p.idle
		p.runMu.Unlock()
		if n > 0 {
			<-idle
		}
	}
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
	e := p.snapshot()[db.Statement.Table]
	if e == nil || e.cfg.Frequency <= 0 {
		return
	}
	e.rolls.Add(1)
	if !e.roll() {
		return
	}
	if !e.running.CompareAndSwap(false, true) {
		e.skipped.Add(1)
		return
	}
	e.startMu.Lock()
	if e.closed {
		// The table was unregistered after this query looked it up.
		e.startMu.Unlock()
		e.running.Store(false)
		return
	}
	e.started.Add(1)
	p.runMu.Lock()
	if p.active == 0 {
		p.idle = make(chan struct{})
	}
	p.active++
	p.runMu.Unlock()
	e.done.Add(1)
	e.startMu.Unlock()
	go p.run(e)
}

// roll reports whether this query fires a cleanup: with probability
// 1/Frequency.
func (e *entry) roll() bool {
	if e.rng == nil {
		return rand.IntN(e.cfg.Frequency) == 0
	}
	e.randMu.Lock()
	defer e.randMu.Unlock()
	return e.rng.IntN(e.cfg.Frequency) == 0
}

func (p *Plugin) run(e *entry) {
	defer func() {
		p.runMu.Lock()
		if p.active--; p.active == 0 {
			close(p.idle)
		}
		p.runMu.Unlock()
	}()
	defer e.done.Done()
	defer e.running.Store(false)
	cfg := e.cfg
	ctx, cancel := context.WithTimeout(e.ctx, cfg.Timeout)
	defer cancel()

	root := p.db.Load()
	// A new session on the root pool: never the statement's connection,
	// which may be a transaction.
	db := root.Session(&gorm.Session{NewDB: true, Context: ctx})
	db.Statement.ConnPool = root.Config.ConnPool

	start := time.Now()
	n, panicked, err := safeCleanup(ctx, db, cfg.Cleanup)
	took := time.Since(start)
	e.deleted.Add(n)
	switch {
	case panicked != nil:
		e.failures.Add(1)
		cfg.Logger.LogAttrs(ctx, slog.LevelError, "gormsession: random cleanup panicked",
			slog.String("table", cfg.Name), slog.Duration("took", took),
			slog.String("panic", fmt.Sprint(panicked.value)), slog.String("stack", string(panicked.stack)))
	case err != nil:
		e.failures.Add(1)
		cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "gormsession: random cleanup failed",
			slog.String("table", cfg.Name), slog.Int64("deleted", n),
			slog.Duration("took", took), slog.String("error", err.Error()))
	default:
		cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "gormsession: random cleanup done",
			slog.String("table", cfg.Name), slog.Int64("deleted", n), slog.Duration("took", took))
	}
}

// recovered is a panic of a cleanup, with the stack where it happened.
type recovered struct {
	value any
	stack []byte
}

// safeCleanup runs fn and recovers a panic: the cleanup runs on a goroutine
// of ours, where a panic would take the whole program down.
func safeCleanup(ctx context.Context, db *gorm.DB, fn func(context.Context, *gorm.DB) (int64, error)) (n int64, p *recovered, err error) {
	defer func() {
		if r := recover(); r != nil {
			p = &recovered{value: r, stack: debug.Stack()}
			err = errors.New("hooks: cleanup panicked")
		}
	}()
	n, err = fn(ctx, db)
	return n, nil, err
}
