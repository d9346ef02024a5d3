package session

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/gormsession/gormsession/codec"
	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/internal/redact"
	"github.com/gormsession/gormsession/internal/seal"
	"github.com/gormsession/gormsession/internal/store"
	"github.com/gormsession/gormsession/internal/token"
	"github.com/gormsession/gormsession/model"
)

// Container stores sessions whose payload is a T in one table. It is safe
// for concurrent use by many goroutines; make one per table at start-up and
// share it. The zero value is not usable: call New.
type Container[T any] struct {
	cfg  *config
	repo *store.Store
	// close unregisters the random cleanup, once; shared by WithTx views.
	close func()
	// inner is the codec that turns T into bytes; sealr, with
	// WithEncryption, seals those bytes for storage, bound to the row id.
	inner codec.Codec
	sealr *seal.Sealer
}

// New returns a Container for payloads of type T stored through db.
//
// Unless WithoutAutoMigrate is given, New creates the table and its indexes
// if they are missing; that is idempotent and safe when several processes
// start at once. New also installs the random-cleanup plugin (package
// hooks) on db and registers the table with it. It fails with an error
// matching ErrInvalidOption (naming each bad option), with
// store.ErrUnsupportedDialect for a database other than PostgreSQL,
// SQLite or MySQL/MariaDB, with hooks.ErrConflictingRegistration when a
// container on the same table and *gorm.DB already runs the random cleanup
// with another WithCleanupFrequency or WithCleanupTimeout (the first one's
// settings stay in force; several containers may share a table when they
// agree), or with the database's error from the migration.
//
// Pass the application's root *gorm.DB, not a transaction; use WithTx for
// transactional work. Statements of this package are logged by db's GORM
// logger with their string and byte parameters redacted.
func New[T any](db *gorm.DB, opts ...Option) (*Container[T], error) {
	if db == nil {
		return nil, errors.New("session: new: nil *gorm.DB")
	}
	cfg := defaults()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if err := cfg.err(); err != nil {
		return nil, err
	}
	repo, err := store.New(quiet(db), cfg.table)
	if errors.Is(err, store.ErrInvalidTable) {
		// ValidTable accepted it: a schema-qualified name on SQLite.
		return nil, fmt.Errorf("session: %w: WithTable: SQLite table names cannot be qualified by a schema", ErrInvalidOption)
	}
	if err != nil {
		return nil, fmt.Errorf("session: new: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := checkSQLite(ctx, quiet(db), cfg.logger, cfg.table); err != nil {
		return nil, fmt.Errorf("session: new: %w", err)
	}
	checkGalera(ctx, quiet(db), cfg.logger, cfg.table)
	c := &Container[T]{cfg: &cfg, repo: repo, inner: cfg.codec, sealr: cfg.sealer}
	p, err := hooks.Install(db)
	if err != nil {
		return nil, fmt.Errorf("session: new: install cleanup hook: %w", err)
	}
	err = p.Register(hooks.Table{
		Name:      cfg.table,
		Frequency: cfg.cleanupFreq,
		Rand:      cfg.cleanupRand,
		Timeout:   cfg.cleanupTimeout,
		Logger:    cfg.logger,
		Cleanup: func(ctx context.Context, root *gorm.DB) (int64, error) {
			start := cfg.clockStart()
			n, err := c.repo.WithDB(quiet(root)).Cleanup(ctx, cfg.nowMs(), c.cleanupOptions())
			cfg.observe(ctx, start, Event{Op: "cleanup", Rows: n, Err: err, Random: true})
			return n, err
		},
	})
	if err != nil {
		return nil, fmt.Errorf("session: new: %w", err)
	}
	c.close = sync.OnceFunc(func() { p.Unregister(cfg.table) })
	if cfg.autoMigrate {
		if err := repo.Migrate(ctx); err != nil {
			c.close()
			return nil, dbErr(ctx, "new: migrate", err)
		}
	}
	return c, nil
}

// Close stops this container's random cleanup, for graceful shutdown:
// no new one starts because of this container, and a running one has its
// context cancelled and is waited for (a batch under way is rolled back).
// When other containers share the table on the same *gorm.DB, the table's
// random cleanup goes on until the last of them is closed. Close never
// touches the *gorm.DB, which belongs to the caller; call it before closing
// that. The container's other methods keep working after Close. Close is
// safe to call more than once, from a WithTx view too, and always returns
// nil.
func (c *Container[T]) Close() error {
	c.close()
	return nil
}

// WithTx returns a view of c whose every statement runs in tx, a
// transaction begun on the database c was made with. Nothing it writes is
// visible to others until tx commits, and a rollback undoes it. The random
// cleanup still runs outside tx. The view is meant for tx's lifetime only.
func (c *Container[T]) WithTx(tx *gorm.DB) *Container[T] {
	v := *c
	v.repo = c.repo.WithDB(quiet(tx))
	return &v
}

// Open returns the session for token, or a fresh one. It is lenient: an
// empty, malformed, unknown or expired token, or a row whose payload cannot
// be decoded (logged at Warn), gives a new, unsaved session with a new
// token (IsNew reports true); a token the server did not issue is never
// adopted. Only a database failure (or ctx ending) is an error.
//
// Opening writes no row. With an idle timeout, opening a live session may
// refresh its stored idle deadline (see WithIdleTimeout); a failure of that
// refresh is logged, not returned.
func (c *Container[T]) Open(ctx context.Context, tok string) (*Session[T], error) {
	start := c.cfg.clockStart()
	if tok == "" {
		// A visitor without a token: nothing to look up.
		s := c.fresh()
		c.cfg.observe(ctx, start, Event{Op: "open", New: true})
		return s, nil
	}
	s, err := c.load(ctx, "open", tok)
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound):
		s, err = c.fresh(), nil
	case errors.Is(err, ErrCorrupt):
		c.cfg.logger.LogAttrs(ctx, slog.LevelWarn, "gormsession: stored session cannot be decoded; starting a fresh one",
			slog.String("table", c.cfg.table))
		s, err = c.fresh(), nil
	}
	c.cfg.observe(ctx, start, Event{Op: "open", Err: err, New: s != nil && s.isNew})
	return s, err
}

// Load returns the live session for token. It is strict: an empty,
// malformed, unknown, destroyed or expired token gives ErrNotFound, and a
// row whose payload cannot be decoded gives ErrCorrupt. Like Open it writes
// nothing but a throttled idle refresh.
func (c *Container[T]) Load(ctx context.Context, tok string) (*Session[T], error) {
	start := c.cfg.clockStart()
	s, err := c.load(ctx, "load", tok)
	c.cfg.observe(ctx, start, Event{Op: "load", Err: err})
	return s, err
}

// Exists reports whether token names a live session. A malformed token is
// simply false. Exists never writes, not even an idle refresh.
func (c *Container[T]) Exists(ctx context.Context, tok string) (bool, error) {
	start := c.cfg.clockStart()
	id, ok := token.Parse(tok)
	var found bool
	var err error
	if ok {
		found, err = c.repo.Exists(ctx, id, c.cfg.nowMs())
		if err != nil {
			err = dbErr(ctx, "exists", err)
		}
	}
	c.cfg.observe(ctx, start, Event{Op: "exists", Err: err})
	return found, err
}

func (c *Container[T]) load(ctx context.Context, op, tok string) (*Session[T], error) {
	return c.loadRow(ctx, op, tok, false)
}

// loadRow loads and decodes the session for tok. With lock, the row is
// read with LoadForUpdate (c must be bound to a transaction) and the idle
// refresh is skipped: the caller saves right away, which refreshes it.
func (c *Container[T]) loadRow(ctx context.Context, op, tok string, lock bool) (*Session[T], error) {
	id, ok := token.Parse(tok)
	if !ok {
		return nil, fmt.Errorf("session: %s: %w", op, ErrNotFound)
	}
	now := c.cfg.nowMs()
	var row model.SessionRow
	var found bool
	var err error
	if lock {
		row, found, err = c.repo.LoadForUpdate(ctx, id, now)
	} else {
		row, found, err = c.repo.Load(ctx, id, now)
	}
	if err != nil {
		return nil, dbErr(ctx, op, err)
	}
	if !found {
		return nil, fmt.Errorf("session: %s: %w", op, ErrNotFound)
	}
	s := &Session[T]{token: tok}
	if err := c.decode(&row, s); err != nil {
		return nil, fmt.Errorf("session: %s: %w", op, err)
	}
	if !lock {
		c.touch(ctx, s, now)
	}
	return s, nil
}

// decode fills s, a session just made whose Data is T's zero value, from
// row. On error s.Data may be partly filled and s must be discarded.
func (c *Container[T]) decode(row *model.SessionRow, s *Session[T]) error {
	plain := row.Payload
	if c.sealr != nil {
		var err error
		if plain, err = c.sealr.Open(row.Payload, []byte(row.ID)); err != nil {
			return fmt.Errorf("%w: %w", ErrCorrupt, err)
		}
	}
	// Straight into s.Data: a separate value would cost an allocation and
	// a copy of T on every load.
	if err := c.inner.Decode(plain, &s.Data); err != nil {
		return fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	s.id, s.subject, s.storedSubject = row.ID, row.Subject, row.Subject
	s.createdAt, s.updatedAt, s.deadline, s.expiresAt = row.CreatedAt, row.UpdatedAt, row.Deadline, row.ExpiresAt
	s.version, s.plain = row.Version, plain
	s.lifetime, s.idle, s.label = row.Lifetime, row.IdleTimeout, row.Label
	s.stored()
	return nil
}

// touch refreshes the idle deadline when at least a tenth of the idle
// window has passed since the last refresh. It never changes the payload or
// the version.
func (c *Container[T]) touch(ctx context.Context, s *Session[T], now int64) {
	idle := c.idleMs(s.idle)
	if idle == 0 || now-s.updatedAt < idle/10 {
		return
	}
	exp := min(s.deadline, now+idle)
	if exp <= s.expiresAt {
		return
	}
	start := c.cfg.clockStart()
	_, err := c.repo.Touch(ctx, s.id, now, exp, now)
	if err != nil {
		c.cfg.logger.LogAttrs(ctx, slog.LevelWarn, "gormsession: idle refresh failed",
			slog.String("table", c.cfg.table), slog.String("error", redact.Secrets(err.Error())))
	} else {
		s.updatedAt, s.expiresAt, s.refreshed = now, exp, true
	}
	c.cfg.observe(ctx, start, Event{Op: "touch", Err: err})
}

// fresh returns a new, unsaved session; its token is made when first
// needed (see Session.Token).
func (c *Container[T]) fresh() *Session[T] {
	now := c.cfg.nowMs()
	s := &Session[T]{isNew: true}
	c.stamp(s, now)
	return s
}

// stamp sets a new session's times as of now.
func (c *Container[T]) stamp(s *Session[T], now int64) {
	s.createdAt = now
	s.times(c.plan(s, now))
}

// timing is what a write of a session stores about its expiry.
type timing struct{ lifetime, idle, deadline, updatedAt, expiresAt int64 }

// plan returns the timing of a write of s at now: its own lifetime and
// idle timeout bounded by the container's maximum, the absolute deadline
// they give counted from its creation, and its expiry as active at now.
func (c *Container[T]) plan(s *Session[T], now int64) timing {
	limit := c.cfg.maxLifetime
	if limit == 0 {
		limit = c.cfg.lifetime
	}
	t := timing{lifetime: min(s.lifetime, limit.Milliseconds()), idle: min(s.idle, limit.Milliseconds()), updatedAt: now}
	t.deadline = s.createdAt + c.cfg.lifetime.Milliseconds()
	if t.lifetime > 0 {
		t.deadline = s.createdAt + t.lifetime
	}
	t.expiresAt = t.deadline
	if idle := c.idleMs(t.idle); idle > 0 {
		t.expiresAt = min(t.deadline, now+idle)
	}
	return t
}

// times sets s's expiry as a write with timing t stored it.
func (s *Session[T]) times(t timing) {
	s.lifetime, s.idle, s.deadline, s.updatedAt, s.expiresAt = t.lifetime, t.idle, t.deadline, t.updatedAt, t.expiresAt
}

// idleMs returns the idle timeout in ms that applies to a session whose
// own is own (0: the container's); 0 means none.
func (c *Container[T]) idleMs(own int64) int64 {
	if own > 0 {
		return own
	}
	return c.cfg.idle.Milliseconds()
}

// stored records that s's subject, expiry and label are as stored.
func (s *Session[T]) stored() {
	s.storedSubject, s.storedLifetime, s.storedIdle, s.storedLabel = s.subject, s.lifetime, s.idle, s.label
}

// trim enforces WithMaxSessionsPerSubject after s was stored with a
// subject; see there.
func (c *Container[T]) trim(ctx context.Context, s *Session[T]) {
	if c.cfg.maxPerSubject == 0 || s.subject == "" {
		return
	}
	start := c.cfg.clockStart()
	n, err := c.repo.TrimSubject(ctx, s.subject, s.id, c.cfg.maxPerSubject-1, c.cfg.nowMs())
	if err != nil {
		err = dbErr(ctx, "trim", err)
		c.cfg.logger.LogAttrs(ctx, slog.LevelWarn, "gormsession: ending sessions over the per-subject cap failed",
			slog.String("table", c.cfg.table), slog.String("error", redact.Secrets(err.Error())))
	}
	c.cfg.observe(ctx, start, Event{Op: "trim", Rows: n, Err: err})
}

// Save stores s. A new session is inserted (its lifetime starts now). A
// loaded one is updated only if the stored row still has the version s was
// loaded with and is live: if another save landed in between, Save returns
// ErrConflict and changes nothing; if the session was destroyed, renewed
// away or has expired, Save returns ErrNotFound and never re-creates it.
// Saving counts as activity for the idle timeout but never extends the
// absolute deadline. An encoded payload over WithMaxPayloadSize, or a
// subject over 255 bytes, fails with ErrTooLarge before any SQL runs; a
// subject that is not valid UTF-8 or holds a NUL byte, with
// ErrInvalidSubject.
//
// Saving a new session is idempotent: when an earlier Save of it failed
// with an unknown outcome (ErrUnavailable) but its insert was applied, a
// Save of the same data and subject succeeds and adopts the stored row. A
// different copy of the same new session saved first is ErrConflict.
//
// Save never stores a stored session's new subject under its current
// token: once the subject changed (a login, a switch of user) or a Renew
// of s failed, Save returns ErrRenewRequired and writes nothing, and only
// a successful Renew stores s. That way a token planted or seen before a
// login is never signed in, not even when the login's Renew fails.
func (c *Container[T]) Save(ctx context.Context, s *Session[T]) error {
	start := c.cfg.clockStart()
	wasNew := s != nil && s.isNew
	var err error
	switch {
	case s != nil && !s.isNew && !s.destroyed && s.renewFailed:
		err = fmt.Errorf("session: save: a renew of this session failed: %w", ErrRenewRequired)
	case s != nil && !s.isNew && !s.destroyed && s.subject != s.storedSubject:
		err = fmt.Errorf("session: save: the subject changed: %w", ErrRenewRequired)
	default:
		err = c.save(ctx, "save", s)
	}
	c.cfg.observe(ctx, start, Event{Op: "save", Err: err, New: wasNew})
	return err
}

func (c *Container[T]) save(ctx context.Context, op string, s *Session[T]) error {
	if s == nil {
		return fmt.Errorf("session: %s: nil session", op)
	}
	if s.destroyed {
		return fmt.Errorf("session: %s: %w", op, ErrNotFound)
	}
	s.mint()
	plain, stored, err := c.encode(op, s, s.id)
	if err != nil {
		return err
	}
	now := c.cfg.nowMs()
	if s.isNew {
		c.stamp(s, now)
		row := c.row(s, s.id, stored, timing{s.lifetime, s.idle, s.deadline, s.updatedAt, s.expiresAt})
		row.Version = 1
		if err := c.repo.Insert(ctx, &row); err != nil {
			if !errors.Is(err, store.ErrDuplicate) {
				return dbErr(ctx, op, err)
			}
			// The row exists: either this very insert was applied by an
			// earlier attempt whose outcome was unknown (success), or
			// another copy of this new session was saved first (conflict).
			if err := c.adoptFirstVersion(ctx, op, s, plain); err != nil {
				return err
			}
			return nil
		}
		s.isNew, s.version = false, 1
		s.plain = plain
		s.stored()
		c.trim(ctx, s)
		return nil
	}
	t := c.plan(s, now)
	row := c.row(s, s.id, stored, t)
	ok, err := c.repo.Update(ctx, &row, s.version, now)
	if err != nil {
		return dbErr(ctx, op, err)
	}
	if !ok {
		return c.explain(ctx, op, s.id, now)
	}
	s.version++
	s.times(t)
	s.plain = plain
	s.stored()
	return nil
}

// adoptFirstVersion is Save's answer to a duplicate id for a new session:
// when the stored row is the session's first version with the same subject
// and payload, it was this save's own insert (applied by an attempt that
// reported a broken connection, say), and s becomes that stored session;
// otherwise another copy of the session was saved first: ErrConflict.
func (c *Container[T]) adoptFirstVersion(ctx context.Context, op string, s *Session[T], plain []byte) error {
	row, found, err := c.repo.Stored(ctx, s.id)
	if err != nil {
		return dbErr(ctx, op, err)
	}
	if found && row.Version == 1 && row.Subject == s.subject {
		stored := row.Payload
		if c.sealr != nil {
			stored, err = c.sealr.Open(row.Payload, []byte(row.ID))
		}
		if err == nil && bytes.Equal(stored, plain) && row.Label == s.label && row.Lifetime == s.lifetime && row.IdleTimeout == s.idle {
			s.isNew, s.version = false, 1
			s.createdAt, s.updatedAt, s.deadline, s.expiresAt = row.CreatedAt, row.UpdatedAt, row.Deadline, row.ExpiresAt
			s.plain = plain
			s.stored()
			return nil
		}
	}
	return fmt.Errorf("session: %s: %w", op, ErrConflict)
}

// explain tells, after a versioned write matched no row, whether the row
// was changed by someone else (ErrConflict) or is gone (ErrNotFound).
func (c *Container[T]) explain(ctx context.Context, op, id string, now int64) error {
	state, _, err := c.repo.Probe(ctx, id, now)
	switch {
	case err != nil:
		return dbErr(ctx, op, err)
	case state == store.Live:
		return fmt.Errorf("session: %s: %w", op, ErrConflict)
	default:
		return fmt.Errorf("session: %s: %w", op, ErrNotFound)
	}
}

// encode returns the inner encoding of s.Data and the form to store under
// id (sealed payloads are bound to their row's id), after checking the size
// limits.
func (c *Container[T]) encode(op string, s *Session[T], id string) (plain, stored []byte, err error) {
	if len(s.subject) > model.SubjectMaxLength {
		return nil, nil, fmt.Errorf("session: %s: subject longer than %d bytes: %w", op, model.SubjectMaxLength, ErrTooLarge)
	}
	if err := checkSubject(s.subject, true); err != nil {
		return nil, nil, fmt.Errorf("session: %s: %w", op, err)
	}
	plain, err = c.inner.Encode(&s.Data)
	if err != nil {
		return nil, nil, fmt.Errorf("session: %s: %w", op, err)
	}
	stored = plain
	if c.sealr != nil {
		stored = c.sealr.Seal(plain, []byte(id))
	}
	if len(stored) > c.cfg.maxPayload {
		return nil, nil, fmt.Errorf("session: %s: encoded payload of %d bytes exceeds %d: %w", op, len(stored), c.cfg.maxPayload, ErrTooLarge)
	}
	return plain, stored, nil
}

// row returns the row that stores s under id with payload stored and the
// expiry t.
func (c *Container[T]) row(s *Session[T], id string, stored []byte, t timing) model.SessionRow {
	return model.SessionRow{ID: id, Subject: s.subject, Payload: stored, Version: s.version,
		CreatedAt: s.createdAt, UpdatedAt: t.updatedAt, Deadline: t.deadline, ExpiresAt: t.expiresAt,
		Lifetime: t.lifetime, IdleTimeout: t.idle, Label: s.label}
}

// Update loads the session for token, calls fn with its Data, and saves
// the result, all again from a fresh load whenever the save loses a race
// (ErrConflict) or the database rolled the attempt back whole to break a
// deadlock, a serialization conflict or, on a Galera cluster, a
// certification conflict with another node: up to 64 attempts with a
// short, growing, randomised pause. The first attempt takes no lock (two
// statements); later ones run in a transaction that locks the row while fn
// runs (SELECT ... FOR UPDATE; SQLite's write lock), so a hot session's
// updates queue up rather than starve.
//
// fn may therefore run more than once, each time on a fresher value: it
// must only change the value it is given and should be quick. A change is
// stored at most once, except that a save whose outcome is unknown (the
// connection broke after the statement was sent: ErrUnavailable) is not
// retried and may nevertheless have been applied. An error from fn stops
// Update, saves nothing and is returned wrapped. Update fails with
// ErrNotFound for a token without a live session (it never creates one),
// ErrCorrupt for an undecodable one, and ErrConflict when every attempt
// lost.
func (c *Container[T]) Update(ctx context.Context, tok string, fn func(*T) error) (*Session[T], error) {
	start := c.cfg.clockStart()
	s, retries, err := c.update(ctx, tok, fn)
	c.cfg.observe(ctx, start, Event{Op: "update", Err: err, Retries: retries})
	return s, err
}

func (c *Container[T]) update(ctx context.Context, tok string, fn func(*T) error) (*Session[T], int, error) {
	if fn == nil {
		return nil, 0, errors.New("session: update: nil function")
	}
	backoff := time.Millisecond
	for attempt := 1; ; attempt++ {
		var s *Session[T]
		var err error
		if attempt == 1 {
			s, err = c.updateOnce(ctx, tok, fn, false) // two statements, no transaction
		} else {
			s, err = c.updateLocked(ctx, tok, fn)
		}
		if err == nil {
			return s, attempt - 1, nil
		}
		// A lost race, or a deadlock, serialization or certification
		// failure (a Galera node's 1213) that the database rolled back
		// whole: both are redone from a fresh load.
		if !errors.Is(err, ErrConflict) && !store.Transient(err) {
			return nil, attempt - 1, err
		}
		if attempt >= c.cfg.updateAttempts {
			return nil, attempt - 1, fmt.Errorf("session: update: gave up after %d attempts: %w", attempt, ErrConflict)
		}
		// Full jitter: sleep a random time up to the current bound.
		t := time.NewTimer(rand.N(backoff) + time.Microsecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, attempt, dbErr(ctx, "update", ctx.Err())
		case <-t.C:
		}
		// A lost race on one server is soon settled by the row lock the
		// next attempt takes; a rollback by the database (above all a
		// Galera certification failure, which the local lock cannot
		// prevent) needs writers to spread out further.
		limit := 32 * time.Millisecond
		if store.Transient(err) || errors.Is(err, errRolledBack) {
			limit = 256 * time.Millisecond
		}
		backoff = min(2*backoff, limit)
	}
}

// errRolledBack marks an Update attempt that the database rolled back whole
// (a deadlock, serialization or certification failure).
var errRolledBack = errors.New("rolled back by the database")

// updateOnce is one load-change-save. With lock, c must be bound to a
// transaction and the row is locked as it is read.
func (c *Container[T]) updateOnce(ctx context.Context, tok string, fn func(*T) error, lock bool) (*Session[T], error) {
	s, err := c.loadRow(ctx, "update", tok, lock)
	if err != nil {
		return nil, err
	}
	if err := fn(&s.Data); err != nil {
		return nil, fmt.Errorf("session: update: %w", err)
	}
	if err := c.save(ctx, "update", s); err != nil {
		return nil, err
	}
	return s, nil
}

// updateLocked is updateOnce in a transaction that locks the row as it
// reads it, so concurrent Updates of one session queue up instead of
// retrying one another out: used once an optimistic attempt has lost a
// race. Within WithTx it runs in a savepoint of the caller's transaction.
func (c *Container[T]) updateLocked(ctx context.Context, tok string, fn func(*T) error) (*Session[T], error) {
	var out *Session[T]
	var ours error // an error this package made, returned as is
	err := c.repo.Transaction(ctx, func(tx *gorm.DB) error {
		out, ours = c.WithTx(tx).updateOnce(ctx, tok, fn, true)
		return ours
	})
	switch {
	case store.Transient(ours), store.Transient(err):
		// A deadlock or certification victim: the transaction is gone;
		// try again, after a longer pause than for a lost race.
		return nil, fmt.Errorf("session: update: %w (%w)", ErrConflict, errRolledBack)
	case ours != nil:
		return nil, ours
	case err != nil:
		return nil, dbErr(ctx, "update", err)
	}
	return out, nil
}

// Renew gives s a new token and stores s under it (its Data and subject as
// they are now) in one statement; the old token is dead afterwards. Call it
// whenever privileges change, above all right after login, so a token an
// attacker planted or saw before login is worthless after it (session
// fixation). The absolute deadline is kept. A new session is inserted under
// the new token. Like Save it fails with ErrConflict if s is stale and with
// ErrNotFound if the session was destroyed or has expired. When Renew
// fails, s keeps its old token and Save refuses it (ErrRenewRequired): end
// the session with Destroy, or try Renew again.
func (c *Container[T]) Renew(ctx context.Context, s *Session[T]) error {
	start := c.cfg.clockStart()
	err := c.renew(ctx, s)
	if s != nil {
		s.renewFailed = err != nil
	}
	c.cfg.observe(ctx, start, Event{Op: "renew", Err: err})
	return err
}

func (c *Container[T]) renew(ctx context.Context, s *Session[T]) error {
	if s == nil {
		return errors.New("session: renew: nil session")
	}
	if s.destroyed {
		return fmt.Errorf("session: renew: %w", ErrNotFound)
	}
	if s.isNew {
		oldTok, oldID := s.token, s.id
		s.token, s.id = token.New()
		if err := c.save(ctx, "renew", s); err != nil {
			s.token, s.id = oldTok, oldID
			return err
		}
		return nil
	}
	newTok, newID := token.New()
	plain, stored, err := c.encode("renew", s, newID)
	if err != nil {
		return err
	}
	now := c.cfg.nowMs()
	t := c.plan(s, now)
	row := c.row(s, newID, stored, t)
	ok, err := c.repo.Rekey(ctx, s.id, &row, s.version, now)
	if err != nil {
		return dbErr(ctx, "renew", err)
	}
	if !ok {
		return c.explain(ctx, "renew", s.id, now)
	}
	s.token, s.id = newTok, newID
	s.version++
	s.times(t)
	s.plain = plain
	s.stored()
	c.trim(ctx, s)
	return nil
}

// Destroy deletes s from the store; its token is dead afterwards and a
// later Save or Renew of s fails with ErrNotFound. Destroying a session that
// is already gone, or was never saved, is not an error.
func (c *Container[T]) Destroy(ctx context.Context, s *Session[T]) error {
	start := c.cfg.clockStart()
	var err error
	if s == nil {
		err = errors.New("session: destroy: nil session")
	} else if !s.isNew && !s.destroyed {
		if _, derr := c.repo.Delete(ctx, s.id); derr != nil {
			err = dbErr(ctx, "destroy", derr)
		}
	}
	if err == nil && s != nil {
		s.destroyed = true
	}
	c.cfg.observe(ctx, start, Event{Op: "destroy", Err: err})
	return err
}

func (c *config) nowMs() int64 { return c.now().UnixMilli() }
