package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/gormsession/gormsession/codec"
	"github.com/gormsession/gormsession/internal/seal"
	"github.com/gormsession/gormsession/internal/store"
	"github.com/gormsession/gormsession/model"
)

// Defaults of the options, stated in each option's documentation.
const (
	lifetimeDefault       = 24 * time.Hour
	cleanupFreqDefault    = 100
	maxPayloadDefault     = 64 << 10
	cleanupTimeoutDefault = 30 * time.Second
	updateAttemptsDefault = 64
)

// An Option configures New. Options are applied in order; a later one wins.
type Option func(*config)

type config struct {
	table          string
	lifetime       time.Duration
	idle           time.Duration
	maxLifetime    time.Duration // 0: lifetime
	maxPerSubject  int           // 0: no cap
	cleanupFreq    int
	cleanupBatch   int // 0: no cap (sessiontest.WithCleanupBatchSize)
	cleanupTimeout time.Duration
	cleanupRand    rand.Source
	codec          codec.Codec
	sealer         *seal.Sealer
	now            func() time.Time
	maxPayload     int
	logger         *slog.Logger
	autoMigrate    bool
	updateAttempts int
	observer       func(context.Context, Event)
	errs           []error
}

func defaults() config {
	return config{
		table:          model.TableDefault,
		lifetime:       lifetimeDefault,
		cleanupFreq:    cleanupFreqDefault,
		cleanupTimeout: cleanupTimeoutDefault,
		codec:          codec.JSON{},
		now:            time.Now,
		maxPayload:     maxPayloadDefault,
		logger:         slog.Default(),
		autoMigrate:    true,
		updateAttempts: updateAttemptsDefault,
	}
}

func (c *config) fail(option, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("session: %s: %s", option, fmt.Sprintf(format, args...)))
}

func (c *config) err() error {
	if c.maxLifetime != 0 && c.maxLifetime < c.lifetime {
		c.fail("WithMaxLifetime", "maximum %v is shorter than the lifetime %v", c.maxLifetime, c.lifetime)
	}
	if len(c.errs) == 0 {
		return nil
	}
	return errors.Join(append([]error{fmt.Errorf("session: %w", ErrInvalidOption)}, c.errs...)...)
}

// ErrInvalidOption is matched by the error New returns when an option has a
// bad value; the message names every such option.
var ErrInvalidOption = errors.New("invalid option")

// WithTable sets the table name. Default "sessions". The name
// must be a plain identifier: a letter or underscore, then at most 47
// letters, digits or underscores. On PostgreSQL and MySQL it may be
// qualified by a schema (on MySQL, a database) of the same form of up to
// 63 bytes: "auth.sessions"; the schema must exist, and the indexes are
// created in it. Each part is quoted, so the names are case-sensitive as
// written. Several containers, even with different payload types, may
// share one database through different tables.
func WithTable(name string) Option {
	return func(c *config) {
		if !store.ValidTable(name) {
			c.fail("WithTable", "table name must be [schema.]table, each [A-Za-z_][A-Za-z0-9_]*, the table at most 48 bytes")
			return
		}
		c.table = name
	}
}

// WithLifetime sets the absolute lifetime: a session expires this long
// after it was first saved, however active it is. Default 24h.
// Must be at least one second.
func WithLifetime(d time.Duration) Option {
	return func(c *config) {
		if d < time.Second {
			c.fail("WithLifetime", "lifetime must be at least 1s, got %v", d)
			return
		}
		c.lifetime = d
	}
}

// WithIdleTimeout sets the inactivity timeout: a session that is neither
// saved nor opened for this long expires, even before its absolute
// deadline. Default 0 (off). Must be 0 or at least one
// second. Activity refreshes the stored deadline only once a tenth of the
// idle window has passed since the last refresh, so reads stay reads.
func WithIdleTimeout(d time.Duration) Option {
	return func(c *config) {
		if d != 0 && d < time.Second {
			c.fail("WithIdleTimeout", "idle timeout must be 0 (off) or at least 1s, got %v", d)
			return
		}
		c.idle = d
	}
}

// WithMaxLifetime sets the longest lifetime and idle timeout a session may
// be given of its own with Session.SetExpiry, for example 30 days for
// "remember me"; longer values are lowered to it when the session is saved.
// Default: the container's lifetime (WithLifetime), so that sessions can
// only be given shorter ones. Must be at least that lifetime.
func WithMaxLifetime(d time.Duration) Option {
	return func(c *config) {
		if d < time.Second {
			c.fail("WithMaxLifetime", "maximum lifetime must be at least 1s, got %v", d)
			return
		}
		c.maxLifetime = d
	}
}

// WithMaxSessionsPerSubject caps the live sessions one subject (one user)
// may have at n, as OWASP ASVS asks: whenever a session is stored with a
// subject by Renew (a sign-in) or by the first Save of a new session, the
// subject's least recently active other sessions beyond n-1 are ended, so
// that the new sign-in always succeeds and the oldest devices are signed
// out. Ending them is best effort: a failure is logged (and reported to
// the observer as op "trim") but does not fail the sign-in, and the next
// sign-in trims again. Default 0: no cap. Negative values are an error.
func WithMaxSessionsPerSubject(n int) Option {
	return func(c *config) {
		if n < 0 {
			c.fail("WithMaxSessionsPerSubject", "cap must be 0 (none) or more, got %d", n)
			return
		}
		c.maxPerSubject = n
	}
}

// WithCleanupFrequency sets how often the random cleanup fires: about once
// per n successful queries of the table (each Open or Load is one).
// Default 100; 1 means every query; 0 never
// (then run Cleanup yourself, for example from the sessionctl command).
// Negative values are an error.
func WithCleanupFrequency(n int) Option {
	return func(c *config) {
		if n < 0 {
			c.fail("WithCleanupFrequency", "frequency must be 0 (never) or more, got %d", n)
			return
		}
		c.cleanupFreq = n
	}
}

// WithCleanupTimeout bounds one random cleanup run and each batch of
// Cleanup. Default 30s; must be positive.
func WithCleanupTimeout(d time.Duration) Option {
	return func(c *config) {
		if d <= 0 {
			c.fail("WithCleanupTimeout", "timeout must be positive, got %v", d)
			return
		}
		c.cleanupTimeout = d
	}
}

// WithCodec sets how payloads are encoded. Default codec.JSON{}. nil is an
// error. To encrypt payloads at rest, add WithEncryption.
func WithCodec(cd codec.Codec) Option {
	return func(c *config) {
		if cd == nil {
			c.fail("WithCodec", "codec must not be nil")
			return
		}
		c.codec = cd
	}
}

// WithEncryption encrypts every stored payload with AES-GCM, after the
// codec and bound to the id of its row: a payload copied into another
// session's row does not open there, and tampering, truncation or an
// unknown key make the row undecodable (Open starts a fresh session, Load
// returns ErrCorrupt). It seals with keys[0] and opens with whichever key
// fits, so rotate a key by putting the new one first and keeping the old
// ones until every session sealed with them has expired. Each key is 16, 24
// or 32 bytes (AES-128, -192, -256) and is copied; no key, or a key of
// another length, is an error that names the key by position, never its
// bytes. Default: no encryption. Sealing adds 29 bytes per payload, counted
// by WithMaxPayloadSize.
func WithEncryption(keys ...[]byte) Option {
	return func(c *config) {
		s, err := seal.New(keys...)
		if err != nil {
			c.fail("WithEncryption", "%v", err)
			return
		}
		c.sealer = s
	}
}

// WithMaxPayloadSize sets the largest encoded (and sealed) payload, in
// bytes, that Save accepts; a larger one fails with ErrTooLarge before any
// SQL runs. Default 64 KiB; must be 1 to 16 MiB.
func WithMaxPayloadSize(n int) Option {
	return func(c *config) {
		if n < 1 || n > 16<<20 {
			c.fail("WithMaxPayloadSize", "size must be 1 to 16 MiB, got %d", n)
			return
		}
		c.maxPayload = n
	}
}

// WithLogger sets the structured logger. Default slog.Default(). Lines
// never carry a token, a stored id or a payload: a corrupt row is logged at
// Warn, a random cleanup at Debug (Warn when it fails), a failed idle touch
// at Warn. nil is an error.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l == nil {
			c.fail("WithLogger", "logger must not be nil")
			return
		}
		c.logger = l
	}
}

// WithoutAutoMigrate makes New skip creating the table. Use it when the
// schema is managed elsewhere, for example with the sessionctl migrate
// command at deploy time.
func WithoutAutoMigrate() Option {
	return func(c *config) { c.autoMigrate = false }
}

// WithObserver sets a function that is told about every operation, for
// metrics: it is called synchronously at the end of each operation, from
// many goroutines at once, so keep it fast and safe for concurrent use.
// Default none. nil is an error.
func WithObserver(o func(ctx context.Context, e Event)) Option {
	return func(c *config) {
		if o == nil {
			c.fail("WithObserver", "observer must not be nil")
			return
		}
		c.observer = o
	}
}

// Test knobs, reachable only through package sessiontest (see
// internal/sessionstate): a clock, the random cleanup's source of
// randomness and the cleanup batch size.

func withClock(now func() time.Time) Option {
	return func(c *config) {
		if now == nil {
			c.fail("sessiontest.WithClock", "clock must not be nil")
			return
		}
		c.now = now
	}
}

func withCleanupRand(src rand.Source) Option {
	return func(c *config) {
		if src == nil {
			c.fail("sessiontest.WithCleanupRand", "source must not be nil")
			return
		}
		c.cleanupRand = src
	}
}

func withCleanupBatchSize(n int) Option {
	return func(c *config) {
		if n < 1 || n > 100000 {
			c.fail("sessiontest.WithCleanupBatchSize", "batch size must be 1 to 100000, got %d", n)
			return
		}
		c.cleanupBatch = n
	}
}
