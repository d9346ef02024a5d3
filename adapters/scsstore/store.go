package scsstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/gormsession/gormsession/internal/redact"
	"github.com/gormsession/gormsession/internal/store"
)

// Defaults of the options, stated in each option's documentation.
const (
	tableDefault           = "scs_sessions"
	cleanupIntervalDefault = 5 * time.Minute
	// cleanupBatchTimeout bounds each DELETE of a cleanup run, as
	// session.Container's cleanup does.
	cleanupBatchTimeout = 30 * time.Second
)

// tombstoneRetention is how long after Delete a tombstone lives at least.
const tombstoneRetention = 24 * time.Hour

// tokenMaxLength is the longest token accepted, in bytes.
const tokenMaxLength = 256

// ErrInvalidToken is matched by the error Commit returns for an empty
// token or one longer than 256 bytes. The message never holds the token.
var ErrInvalidToken = errors.New("invalid session token")

// ErrInvalidOption is matched by the error New returns when an option has
// a bad value; the message names every such option.
var ErrInvalidOption = errors.New("invalid option")

// An Option configures New. Options are applied in order; a later one wins.
type Option func(*config)

type config struct {
	table       string
	interval    time.Duration
	autoMigrate bool
	now         func() time.Time
	errs        []error
}

// WithTable sets the table name. Default "scs_sessions". New accepts
// exactly the names session.WithTable accepts, such as a plain SQL
// identifier of at most 48 characters (letters, digits and underscores,
// not starting with a digit), and refuses any other with
// ErrInvalidOption. Several stores, and session.Container values, may
// share a database with different tables; do not share one table between
// an scs store and a session.Container, whose payloads differ.
func WithTable(name string) Option {
	return func(c *config) {
		c.table = name
	}
}

// WithCleanupInterval sets how often the background goroutine started by
// New deletes expired sessions and tombstones. Default 5 minutes, as scs's
// own SQL stores; 0 starts no goroutine (call Cleanup yourself, or run
// sessionctl cleanup); a negative interval is an error.
func WithCleanupInterval(d time.Duration) Option {
	return func(c *config) {
		if d < 0 {
			c.fail("WithCleanupInterval", "negative interval %v", d)
			return
		}
		c.interval = d
	}
}

// WithoutAutoMigrate makes New leave the table alone: create it beforehand
// with sessionctl migrate or repository.Migrate (the table of
// session.New). By default New creates the table and its indexes if they
// do not exist.
func WithoutAutoMigrate() Option {
	return func(c *config) { c.autoMigrate = false }
}

// withClock makes the store read the time from now; for tests.
func withClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

func (c *config) fail(option, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("scsstore: %s: %s", option, fmt.Sprintf(format, args...)))
}

// Store keeps scs sessions in a gormsession table. It implements scs.Store
// and scs.CtxStore, and is safe for concurrent use. Make one with New and
// Close it when done.
type Store struct {
	st    *store.Store
	blind *store.Blind
	now   func() time.Time // time.Now, or a test's clock

	stop      context.CancelFunc // nil without a cleanup goroutine
	done      chan struct{}
	closeOnce sync.Once
}

// New returns a Store on db. Unless WithoutAutoMigrate is given, it creates
// the table and its indexes if they do not exist (idempotent, safe when
// several processes start at once). Unless WithCleanupInterval(0) is
// given, it starts a goroutine that deletes expired sessions and
// tombstones every interval; Close stops it.
//
// New fails with an error matching ErrInvalidOption for a bad option, and
// with the database's error when the migration fails. db must be a
// PostgreSQL, SQLite or MySQL/MariaDB handle; its clauses, settings and
// plugins apply to every statement the store runs. Like the constructors
// of scs's own stores, New takes no context: the migration runs under
// context.Background().
func New(db *gorm.DB, opts ...Option) (*Store, error) {
	cfg := config{table: tableDefault, interval: cleanupIntervalDefault, autoMigrate: true, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	if len(cfg.errs) > 0 {
		return nil, errors.Join(append([]error{fmt.Errorf("scsstore: %w", ErrInvalidOption)}, cfg.errs...)...)
	}
	if db == nil {
		return nil, errors.New("scsstore: nil *gorm.DB")
	}
	st, err := store.New(db, cfg.table)
	if errors.Is(err, store.ErrInvalidTable) {
		return nil, fmt.Errorf("scsstore: %w: WithTable: not a table name this database accepts", ErrInvalidOption)
	}
	if err != nil {
		return nil, fmt.Errorf("scsstore: %w", err)
	}
	if cfg.autoMigrate {
		if err := st.Migrate(context.Background()); err != nil {
			return nil, dbErr(context.Background(), "migrate", err)
		}
	}
	s := &Store{st: st, blind: store.NewBlind(st), now: cfg.now}
	if cfg.interval > 0 {
		ctx, stop := context.WithCancel(context.Background())
		s.stop, s.done = stop, make(chan struct{})
		go s.cleanupEvery(ctx, cfg.interval)
	}
	return s, nil
}

// id returns the stored id of token: its lowercase hex SHA-256. ok is
// false for a token outside the accepted length.
func id(token string) (string, bool) {
	if token == "" || len(token) > tokenMaxLength {
		return "", false
	}
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:]), true
}

// Find is FindCtx with context.Background().
func (s *Store) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// FindCtx returns the data committed for token. found is false, and err
// nil, when there is no such session: the token is unknown, malformed
// (empty or over 256 bytes), deleted, or expired (its expiry is not after
// now). err reports only a database failure, or ctx ending.
func (s *Store) FindCtx(ctx context.Context, token string) (b []byte, found bool, err error) {
	key, ok := id(token)
	if !ok {
		return nil, false, nil
	}
	b, found, err = s.blind.Find(ctx, key, s.now().UnixMilli())
	if err != nil {
		return nil, false, dbErr(ctx, "find", err)
	}
	return b, found, nil
}

// Commit is CommitCtx with context.Background().
func (s *Store) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// CommitCtx stores b as token's data until expiry (kept to the
// millisecond), in one statement: it creates the session when there is no
// row for token, and overwrites the data and expiry when there is one,
// also an expired one not cleaned up yet. The last commit wins: there is no
// conflict detection. A commit of a token that was deleted, while its
// tombstone lasts, changes nothing and returns nil (see DeleteCtx). It fails
// with ErrInvalidToken for an empty token or one over 256 bytes, and
// otherwise only when the database fails or ctx ends.
func (s *Store) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	key, ok := id(token)
	if !ok {
		return fmt.Errorf("scsstore: commit: %w", ErrInvalidToken)
	}
	if _, err := s.blind.Write(ctx, key, b, expiry.UnixMilli(), s.now().UnixMilli()); err != nil {
		return dbErr(ctx, "commit", err)
	}
	return nil
}

// Delete is DeleteCtx with context.Background().
func (s *Store) Delete(token string) error {
	return s.DeleteCtx(context.Background(), token)
}

// DeleteCtx ends token's session; scs calls it from Destroy and
// RenewToken. Deleting an unknown token is not an error (it leaves a
// tombstone too). An empty token, which scs passes when destroying a
// session that was never saved, or one over 256 bytes is ignored: nothing
// can be stored under it.
//
// The row becomes a tombstone, in one statement: no data, never found,
// never overwritten by Commit. It lives until the later of the session's
// expiry and 24 hours after the Delete; cleanup then removes it. So:
//
//   - once DeleteCtx has returned, FindCtx of token reports not found;
//   - a CommitCtx of token that the database runs after the Delete, while
//     the tombstone exists (at least 24 hours), changes nothing: a request
//     that loaded the session before it was destroyed or renewed cannot
//     bring it back when it commits at its end;
//   - a commit after the tombstone is gone is stored as a commit of an
//     unknown token would be. Without an scs IdleTimeout, the expiry scs
//     commits for a loaded session is its deadline, which the tombstone
//     outlived, so such a row is already expired and never found (unless
//     that request merged a longer-lived session into it with
//     MergeSession). With an IdleTimeout, a request that commits more than
//     24 hours after the Delete could store the session again.
//
// A Commit and a Delete racing for one token are serialized by the
// database on the row's primary key, on all three databases; either order
// ends with the tombstone.
func (s *Store) DeleteCtx(ctx context.Context, token string) error {
	key, ok := id(token)
	if !ok {
		return nil
	}
	now := s.now()
	if err := s.blind.Tombstone(ctx, key, now.UnixMilli(), now.Add(tombstoneRetention).UnixMilli()); err != nil {
		return dbErr(ctx, "delete", err)
	}
	return nil
}

// Cleanup deletes the rows of the table that expired (expires_at not after
// now): sessions and tombstones; a live session or a tombstone still
// guarding its token is never deleted. It deletes in bounded batches, each
// within 30 seconds, and returns how many rows it deleted, also when it
// stops early on an error or ctx ending. The background goroutine calls it;
// call it yourself with WithCleanupInterval(0).
func (s *Store) Cleanup(ctx context.Context) (int64, error) {
	n, err := s.st.Cleanup(ctx, s.now().UnixMilli(), store.CleanupOptions{BatchTimeout: cleanupBatchTimeout})
	if err != nil {
		return n, dbErr(ctx, "cleanup", err)
	}
	return n, nil
}

// Close stops the background cleanup, cancelling a run in progress, and
// waits for it to end. Close is idempotent and always returns nil; the
// store still serves Find, Commit and Delete afterwards.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.stop != nil {
			s.stop()
			<-s.done
		}
	})
	return nil
}

// cleanupEvery runs Cleanup every interval until ctx ends, logging a
// failure with slog's default logger.
func (s *Store) cleanupEvery(ctx context.Context, interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.Cleanup(ctx); err != nil && ctx.Err() == nil {
			slog.Default().LogAttrs(ctx, slog.LevelWarn, "scsstore: cleanup failed",
				slog.String("table", s.st.Table()), slog.String("error", err.Error()))
		}
	}
}

// dbError wraps a failure reported by the database. Its message names the
// operation and the database's message with anything shaped like a token or
// a stored id removed; the original error is still reachable through
// errors.Is and errors.As, as is the context's error when ctx had ended.
type dbError struct {
	op    string
	err   error
	cause error // ctx.Err(), or nil
}

func (e *dbError) Error() string {
	return "scsstore: " + e.op + ": " + redact.Secrets(e.err.Error())
}

func (e *dbError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.err, e.cause}
	}
	return []error{e.err}
}

func dbErr(ctx context.Context, op string, err error) error {
	return &dbError{op: op, err: err, cause: ctx.Err()}
}
