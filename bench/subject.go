package bench

import (
	"context"
	"errors"
	"time"
)

// A Subject is one way of keeping sessions that the workloads drive:
// hand-written SQL, plain GORM, gormsession or a peer store. Keys are what
// a client would send back: tokens, or signed cookie values for gorilla
// stores.
type Subject interface {
	// Name is the subject's label in the tables.
	Name() string
	// Reset drops and recreates the subject's table, empty.
	Reset(ctx context.Context) error
	// Seed bulk-inserts n sessions expiring at exp and returns their keys.
	Seed(ctx context.Context, n int, exp time.Time) ([]string, error)
	// Create makes and stores a new session.
	Create(ctx context.Context) error
	// Load reads and decodes the live session of key.
	Load(ctx context.Context, key string) error
	// Open loads the session of key and returns a handle for Save.
	Open(ctx context.Context, key string) (any, error)
	// Save changes the payload of an opened session and stores it.
	Save(ctx context.Context, h any) error
	// Cleanup deletes expired sessions and reports how many (-1 when the
	// store does not say); ErrUnsupported when the subject has no callable
	// cleanup.
	Cleanup(ctx context.Context) (int64, error)
	// Close releases the subject's connections.
	Close() error
}

// ErrUnsupported is returned by Subject.Cleanup for stores whose cleanup
// cannot be called.
var ErrUnsupported = errors.New("bench: not supported by this subject")

// errMissing means a load did not find a session that must be there; a
// benchmark that sees it is measuring the wrong path and stops.
var errMissing = errors.New("bench: seeded session not found")

// Factory builds a subject on a namespace.
type Factory struct {
	Name string
	// Peer marks a peer store (left out of the regression guard).
	Peer bool
	// Dialects the subject supports; nil means all.
	Dialects []string
	New      func(ctx context.Context, ns *NS) (Subject, error)
}

// Supports reports whether f runs on dialect.
func (f Factory) Supports(dialect string) bool {
	if f.Dialects == nil {
		return true
	}
	for _, d := range f.Dialects {
		if d == dialect {
			return true
		}
	}
	return false
}

// Subjects lists every subject, hand-written baseline first.
func Subjects() []Factory {
	return []Factory{
		{Name: "raw", New: newRaw},
		{Name: "rawblob", New: newRawBlob},
		{Name: "gorm", New: newPlainGorm},
		{Name: "ours", New: newOurs},
		{Name: "scs_pgxstore", Peer: true, Dialects: []string{Postgres}, New: newSCSPgx},
		{Name: "scs_postgresstore", Peer: true, Dialects: []string{Postgres}, New: newSCSPostgres},
		{Name: "scs_sqlite3store", Peer: true, Dialects: []string{SQLite}, New: newSCSSQLite},
		{Name: "scs_mysqlstore", Peer: true, Dialects: []string{MySQL}, New: newSCSMySQL},
		{Name: "scs_gormstore", Peer: true, New: newSCSGorm},
		{Name: "wader_gormstore", Peer: true, New: newWader},
	}
}

// Lifetime is the lifetime of every seeded and created session.
const Lifetime = 24 * time.Hour

func nowMs() int64 { return time.Now().UnixMilli() }
