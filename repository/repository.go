package repository

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/gormsession/gormsession/internal/store"
)

// Errors of New.
var (
	// ErrUnsupportedDialect: the *gorm.DB talks to a database other than
	// PostgreSQL, SQLite or MySQL/MariaDB.
	ErrUnsupportedDialect = store.ErrUnsupportedDialect
	// ErrInvalidTable: the table name is not a plain SQL identifier (a
	// letter or underscore, then up to 47 letters, digits or underscores,
	// which keeps derived index names within PostgreSQL's 63-byte limit),
	// optionally qualified on PostgreSQL and MySQL by a schema name and a
	// dot ("auth.sessions").
	ErrInvalidTable = store.ErrInvalidTable
)

// ErrForeignTable is returned by Migrate when a table of that name exists
// but is not a sessions table (it lacks their columns); nothing is changed.
var ErrForeignTable = store.ErrForeignTable

// Repository is one sessions table seen by an operator. It is immutable
// and safe for concurrent use. The zero value is not usable; call New.
type Repository struct {
	st *store.Store
}

// New returns a Repository for table on db. It runs no SQL; it fails with
// ErrInvalidTable or ErrUnsupportedDialect. Its statements run through db
// as session.Container's do: db's clauses, settings and plugins apply.
func New(db *gorm.DB, table string) (*Repository, error) {
	st, err := store.New(db, table)
	if err != nil {
		return nil, err
	}
	return &Repository{st: st}, nil
}

// Migrate creates the table and its indexes if they do not exist, and
// brings a table made by an earlier release up to date: it adds the
// lifetime, idle_timeout and label columns it lacks, and on MySQL/MariaDB a
// utf8mb4 subject column becomes varbinary so subjects compare byte for
// byte. A table already up to date (its columns and indexes, read from
// the catalog) takes no DDL and so waits for no table lock; a table of
// that name that is not a sessions table is left unchanged and is an
// error. It is idempotent and safe to run from several processes at once:
// on PostgreSQL under an advisory lock named after the table, on SQLite in
// one immediate transaction; MySQL's CREATE TABLE IF NOT EXISTS is atomic.
func (r *Repository) Migrate(ctx context.Context) error { return r.st.Migrate(ctx) }

// CleanupOptions bound a cleanup run; the zero value is usable.
type CleanupOptions struct {
	// BatchSize caps how many rows one batch deletes; below 1 means no
	// cap beyond the dialect's own. Within the cap, batches are sized by
	// time: each aims at a duration per dialect (short on SQLite, where a
	// batch holds the only write lock; longer on PostgreSQL, where it
	// blocks no writer) and the next size follows the rate measured.
	BatchSize int
	// BatchTimeout bounds each batch; 0 means no bound beyond ctx.
	BatchTimeout time.Duration
	// Pause is slept between batches so other writers get the lock (SQLite
	// has one writer at a time); 0 means the dialect's default (a few
	// milliseconds on SQLite, none elsewhere), below 0 none.
	Pause time.Duration
	// OnBatch, if set, is called after every batch with the rows it
	// deleted and how long it took.
	OnBatch func(deleted int64, took time.Duration)
}

// Cleanup deletes the sessions expired at now in batches until a batch
// comes back short, and reports how many rows it deleted in all, also when
// it stops early on an error or an ended ctx (the batch under way is
// rolled back whole). It never deletes a session live at now.
func (r *Repository) Cleanup(ctx context.Context, now time.Time, opts CleanupOptions) (int64, error) {
	return r.st.Cleanup(ctx, now.UnixMilli(), store.CleanupOptions(opts))
}

// DeleteSubject deletes every session of subject, live or expired ("log
// out everywhere"), and reports how many it deleted. An empty subject
// deletes nothing.
func (r *Repository) DeleteSubject(ctx context.Context, subject string) (int64, error) {
	return r.st.DeleteSubject(ctx, subject)
}

// DeleteAll deletes every session of the table and reports how many.
func (r *Repository) DeleteAll(ctx context.Context) (int64, error) { return r.st.DeleteAll(ctx) }

// SchemaSQL returns the SQL of the sessions table named table on dialect
// ("postgres", "mysql" or "sqlite", as GORM's dialectors name themselves;
// "pgx", "mariadb" and "sqlite3" are accepted too), for migration tools
// such as goose, golang-migrate or atlas, and for review by a DBA:
//
//   - create: the statements that create the table and its indexes in the
//     current shape, exactly as Migrate (and session.New) run them; they
//     are idempotent (IF NOT EXISTS);
//   - upgrade: the statements that bring a table made by the previous
//     release to the current shape (run them once; Migrate does the same
//     itself, checking the catalog first).
//
// Applications whose migrations are run by such a tool pass
// session.WithoutAutoMigrate. SchemaSQL runs no SQL; it fails with
// ErrUnsupportedDialect or ErrInvalidTable (a schema-qualified name on
// SQLite included).
func SchemaSQL(dialect, table string) (create, upgrade []string, err error) {
	d, err := store.ParseDialect(dialect)
	if err != nil {
		return nil, nil, err
	}
	if schema, _ := store.SplitTable(table); !store.ValidTable(table) || (schema != "" && d == store.SQLite) {
		return nil, nil, ErrInvalidTable
	}
	create, upgrade = store.SchemaSQL(d, table)
	return create, upgrade, nil
}

// ValidTable reports whether New accepts name as a table name.
func ValidTable(name string) bool { return store.ValidTable(name) }
