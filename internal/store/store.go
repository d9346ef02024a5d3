package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/gormsession/gormsession/model"
)

// Store runs the statements of one sessions table. The zero value is
// not usable; call New.
type Store struct {
	db      *gorm.DB
	table   string
	dialect Dialect
	sql     *statements
}

// New returns a Store for table on db. It fails with ErrInvalidTable or
// ErrUnsupportedDialect; it runs no SQL.
func New(db *gorm.DB, table string) (*Store, error) {
	if !ValidTable(table) {
		return nil, ErrInvalidTable
	}
	d, err := DialectOf(db)
	if err != nil {
		return nil, err
	}
	if schema, _ := SplitTable(table); schema != "" && d == SQLite {
		return nil, ErrInvalidTable
	}
	return &Store{db: bind(db, table), table: table, dialect: d, sql: buildStatements(d, table)}, nil
}

// WithDB returns a copy of r that runs its statements on db, typically a
// transaction begun on the database r was built for.
func (r *Store) WithDB(db *gorm.DB) *Store {
	c := *r
	c.db = bind(db, r.table)
	return &c
}

// bind returns db naming table, so plugins can tell which table a statement
// is for, as a handle whose every chained call starts from a copy of its
// statement: db's clauses and settings reach every statement, and no
// statement leaks into the next. Every statement is also marked as a
// write for GORM's read/write-splitting plugin (gorm.io/plugin/dbresolver,
// whose Write operation sets this key): sessions need read-your-writes, so
// even their SELECTs go to the primary, whatever replicas the application
// registered.
func bind(db *gorm.DB, table string) *gorm.DB {
	return db.Table(table).Set(resolverWrite, struct{}{}).Session(&gorm.Session{})
}

// resolverWrite is the statement setting by which dbresolver sends a
// statement to its sources rather than its replicas.
const resolverWrite = "gorm:db_resolver:write"

// Transaction runs fn in a transaction begun on r's handle under ctx, on
// the primary: a single statement is steered by the write mark as it runs,
// but a transaction takes its connection when it begins, so the resolver's
// callback (registered on GORM's query chain) is given the marked
// statement first, as dbresolver's own Write clause does. Without a
// resolver that is a no-op.
func (r *Store) Transaction(ctx context.Context, fn func(tx *gorm.DB) error) error {
	db := r.db.WithContext(ctx)
	if _, inTx := db.Statement.ConnPool.(gorm.TxCommitter); !inTx {
		if route := db.Callback().Query().Get("gorm:db_resolver"); route != nil {
			route(db)
		}
	}
	return db.Transaction(fn)
}

// Table returns the table name.
func (r *Store) Table() string { return r.table }

// Dialect returns the database dialect.
func (r *Store) Dialect() Dialect { return r.dialect }

// Migrate creates the table and its indexes if they do not exist, and
// brings a table made by an earlier release to the current shape (adding
// the columns it lacks). It is idempotent and safe to run from several
// processes at once: on PostgreSQL the statements run under a
// transaction-scoped advisory lock named after the table; on SQLite in one
// immediate transaction; MySQL's CREATE TABLE IF NOT EXISTS is atomic on its
// own, and a column another process added first is taken as added. A
// table already in shape (its columns and indexes, read from the catalog)
// takes no DDL at all, so no table lock is queued behind the application's
// open transactions. A table of that name that lacks the first release's
// columns is not changed: Migrate fails with ErrForeignTable.
func (r *Store) Migrate(ctx context.Context) error {
	return r.Transaction(ctx, func(tx *gorm.DB) error {
		if r.dialect == Postgres {
			h := fnv.New64a()
			h.Write([]byte("gormsession:migrate:" + r.table))
			if err := tx.Exec("SELECT pg_advisory_xact_lock(?)", int64(h.Sum64())).Error; err != nil {
				return err
			}
		}
		have, err := r.columnNames(tx)
		if err != nil {
			return err
		}
		if len(have) > 0 {
			// The table exists: it must be one of ours before anything
			// changes it.
			for _, c := range strings.Split(firstColumns, ", ") {
				if !have[c] {
					return fmt.Errorf("%w: the table exists without the column %s: not a gormsession table", ErrForeignTable, c)
				}
			}
		}
		upToDate := len(have) > 0 && r.hasCurrentColumns(have)
		if upToDate && r.dialect != MySQL {
			// CREATE INDEX IF NOT EXISTS takes a table lock on PostgreSQL
			// even when the index exists, which would queue New behind the
			// application's open transactions: ask the catalog first.
			if upToDate, err = r.indexesExist(tx); err != nil {
				return err
			}
		}
		if !upToDate {
			for _, stmt := range r.sql.migrate {
				if err := tx.Exec(stmt).Error; err != nil {
					return err
				}
			}
			if err := r.addColumns(tx, have); err != nil {
				return err
			}
		}
		if r.dialect == MySQL {
			return r.exactSubjects(tx)
		}
		return nil
	})
}

// ErrForeignTable is returned by Migrate when a table of that name exists
// but is not a sessions table; Migrate then changes nothing.
var ErrForeignTable = errors.New("store: foreign table")

// hasCurrentColumns reports whether have holds every column of the
// current release.
func (r *Store) hasCurrentColumns(have map[string]bool) bool {
	for _, c := range strings.Split(columns, ", ") {
		if !have[c] {
			return false
		}
	}
	return true
}

// indexesExist reports whether both indexes of the table exist, asking
// the catalog (PostgreSQL, SQLite).
func (r *Store) indexesExist(tx *gorm.DB) (bool, error) {
	schema, name := SplitTable(r.table)
	idx := []string{name + "_expires_at_idx", name + "_subject_idx"}
	var q string
	var args []any
	if r.dialect == Postgres {
		// An index lives in its table's schema; unqualified, to_regclass
		// resolves it through the search_path as the table was.
		prefix := ""
		if schema != "" {
			prefix = r.dialect.quote(schema) + "."
		}
		q = "SELECT COUNT(*) FROM (SELECT to_regclass(?) AS a UNION ALL SELECT to_regclass(?)) AS x WHERE a IS NOT NULL"
		args = []any{prefix + r.dialect.quote(idx[0]), prefix + r.dialect.quote(idx[1])}
	} else {
		q, args = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name IN (?, ?)", []any{idx[0], idx[1]}
	}
	var n int64
	if err := tx.Session(&gorm.Session{NewDB: true}).Raw(q, args...).Scan(&n).Error; err != nil {
		return false, err
	}
	return n == 2, nil
}

// addColumns adds the columns of the current release that the table
// lacks; have are the columns it had before the CREATE TABLE (none when it
// did not exist).
func (r *Store) addColumns(tx *gorm.DB, have map[string]bool) error {
	if len(have) == 0 {
		return nil // created just now, in the current shape
	}
	t := r.dialect.quote(r.table)
	for _, c := range r.sql.upgrade {
		if have[c.name] {
			continue
		}
		err := tx.Exec("ALTER TABLE " + t + " ADD COLUMN " + c.name + " " + c.def).Error
		if err != nil && !r.duplicateColumn(err) {
			return err
		}
	}
	return nil
}

// duplicateColumn reports whether err says the column exists already: a
// process that migrated at the same moment added it first (MySQL's DDL
// does not wait for our transaction; PostgreSQL and SQLite serialize
// migrations and never get here).
func (r *Store) duplicateColumn(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Error 1060") || strings.Contains(msg, "duplicate column") || strings.Contains(msg, "(42701)")
}

// columnNames returns the names of the table's columns, as the catalog
// of r's dialect lists them.
func (r *Store) columnNames(tx *gorm.DB) (map[string]bool, error) {
	schema, name := SplitTable(r.table)
	var q string
	var args []any
	switch r.dialect {
	case Postgres:
		// to_regclass resolves the name as every statement does: through
		// the search_path when unqualified.
		q, args = "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(?) AND attnum > 0 AND NOT attisdropped",
			[]any{r.dialect.quote(r.table)}
	case MySQL:
		q, args = "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND TABLE_NAME = ?",
			[]any{schema, name}
	default:
		q, args = "SELECT name FROM pragma_table_info(?)", []any{name}
	}
	var names []string
	// A new statement: this query is not one of the table's, and must not
	// roll the random cleanup's dice.
	if err := tx.Session(&gorm.Session{NewDB: true}).Raw(q, args...).Scan(&names).Error; err != nil {
		return nil, err
	}
	have := make(map[string]bool, len(names))
	for _, n := range names {
		have[strings.ToLower(n)] = true
	}
	return have, nil
}

// exactSubjects makes a MySQL table's subject column compare bytes exactly.
// Tables made before it was varbinary have a utf8mb4_bin column, a PAD
// SPACE collation under which 'alice' = 'alice ', so lookups by subject
// crossed between the two; varbinary compares every byte, as PostgreSQL
// and SQLite do. Converting keeps the stored bytes.
func (r *Store) exactSubjects(tx *gorm.DB) error {
	var typ string
	// A new statement: this query is not one of the table's, and must not
	// roll the random cleanup's dice.
	schema, name := SplitTable(r.table)
	err := tx.Session(&gorm.Session{NewDB: true}).Raw("SELECT DATA_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = COALESCE(NULLIF(?, ''), DATABASE()) AND TABLE_NAME = ? AND COLUMN_NAME = 'subject'",
		schema, name).Scan(&typ).Error
	if err != nil || strings.EqualFold(typ, "varbinary") {
		return err
	}
	return tx.Exec("ALTER TABLE " + r.dialect.quote(r.table) + " MODIFY subject varbinary(255) NOT NULL DEFAULT ''").Error
}

// ErrDuplicate is returned by Insert when a row with that id exists.
var ErrDuplicate = errors.New("store: duplicate id")

// Insert stores a new row. A duplicate id fails with an error matching
// ErrDuplicate (and still wrapping the database's error).
func (r *Store) Insert(ctx context.Context, row *model.SessionRow) error {
	payload := row.Payload
	if payload == nil {
		payload = []byte{}
	}
	_, err := r.execBound(ctx, r.sql.insert, row.ID, row.Subject, payload, row.Version,
		row.CreatedAt, row.UpdatedAt, row.Deadline, row.ExpiresAt, row.Lifetime, row.IdleTimeout, row.Label)
	if err != nil && r.duplicate(err) {
		return fmt.Errorf("%w: %w", ErrDuplicate, err)
	}
	return err
}

// duplicate reports whether err is a unique-key violation, as the
// dialector's error translator sees it.
func (r *Store) duplicate(err error) bool {
	t, ok := r.db.Dialector.(gorm.ErrorTranslator)
	return ok && errors.Is(t.Translate(err), gorm.ErrDuplicatedKey)
}

// Load reads the row with id if it is live at now (expires_at > now). found
// is false for a missing or expired row; that is not an error.
func (r *Store) Load(ctx context.Context, id string, now int64) (row model.SessionRow, found bool, err error) {
	return r.load(ctx, r.sql.load, id, now)
}

// LoadForUpdate is Load that also locks the row until the transaction r
// runs in ends (SELECT ... FOR UPDATE; on SQLite the transaction already
// holds the write lock). Run it on a Store bound to a transaction.
func (r *Store) LoadForUpdate(ctx context.Context, id string, now int64) (row model.SessionRow, found bool, err error) {
	return r.load(ctx, r.sql.loadForUpdate, id, now)
}

// loadScan is one load's row, arguments and scan destinations in a single
// allocation, where separate ones would cost four on every load.
type loadScan struct {
	row  model.SessionRow
	vars [2]any
	dest [10]any
}

// scanInto points ls's destinations at its row's columns, in the order of
// rowColumns.
func (ls *loadScan) scanInto() []any {
	ls.dest = [10]any{&ls.row.Subject, &ls.row.Payload, &ls.row.Version,
		&ls.row.CreatedAt, &ls.row.UpdatedAt, &ls.row.Deadline, &ls.row.ExpiresAt,
		&ls.row.Lifetime, &ls.row.IdleTimeout, &ls.row.Label}
	return ls.dest[:]
}

func (r *Store) load(ctx context.Context, sql, id string, now int64) (model.SessionRow, bool, error) {
	ls := &loadScan{}
	ls.vars = [2]any{id, now}
	// The id is not selected: it is the one asked for, and every column
	// less is a value less for the driver to convert.
	found, err := r.queryBound(ctx, sql, ls.vars[:], ls.scanInto()...)
	if found {
		ls.row.ID = id
	}
	return ls.row, found, err
}

// Exists reports whether a row with id is live at now.
func (r *Store) Exists(ctx context.Context, id string, now int64) (bool, error) {
	var one int
	return r.queryBound(ctx, r.sql.exists, []any{id, now}, &one)
}

// Update writes every column of row but id, version and created_at, and
// bumps the version, but only if the stored row still has version and is
// live at now. It reports whether a row was changed; false means the row
// was saved by someone else, deleted or has expired (see Probe).
func (r *Store) Update(ctx context.Context, row *model.SessionRow, version, now int64) (bool, error) {
	n, err := r.execBound(ctx, r.sql.update, row.Subject, nonNil(row.Payload), row.UpdatedAt, row.Deadline, row.ExpiresAt,
		row.Lifetime, row.IdleTimeout, row.Label, row.ID, version, now)
	return n > 0, err
}

// Rekey is Update that also moves the row from oldID to row.ID, in one
// statement: afterwards no row has oldID.
func (r *Store) Rekey(ctx context.Context, oldID string, row *model.SessionRow, version, now int64) (bool, error) {
	n, err := r.execBound(ctx, r.sql.rekey, row.ID, row.Subject, nonNil(row.Payload), row.UpdatedAt, row.Deadline, row.ExpiresAt,
		row.Lifetime, row.IdleTimeout, row.Label, oldID, version, now)
	return n > 0, err
}

// State is what Probe found.
type State int

// The states Probe reports.
const (
	Missing State = iota // no row with that id
	Expired              // a row whose expires_at is not after now
	Live                 // a live row
)

// Probe tells why an Update matched no row: the row is Missing, Expired, or
// Live (and then someone saved it in between; version is its version now).
func (r *Store) Probe(ctx context.Context, id string, now int64) (state State, version int64, err error) {
	var expires int64
	found, err := r.queryBound(ctx, r.sql.probe, []any{id}, &version, &expires)
	switch {
	case err != nil:
		return Missing, 0, err
	case !found:
		return Missing, 0, nil
	case expires <= now:
		return Expired, version, nil
	default:
		return Live, version, nil
	}
}

// Stored reads the row with id whether or not it is live; found is false
// when there is none.
func (r *Store) Stored(ctx context.Context, id string) (row model.SessionRow, found bool, err error) {
	ls := &loadScan{}
	ls.vars = [2]any{id}
	found, err = r.queryBound(ctx, r.sql.stored, ls.vars[:1], ls.scanInto()...)
	if found {
		ls.row.ID = id
	}
	return ls.row, found, err
}

// Touch records activity without changing the payload or the version: it
// sets updated_at and moves expires_at forward to expiresAt, only if the row
// is live at now and expiresAt is later than the stored value.
func (r *Store) Touch(ctx context.Context, id string, updatedAt, expiresAt, now int64) (bool, error) {
	n, err := r.execBound(ctx, r.sql.touch, updatedAt, expiresAt, id, now, expiresAt)
	return n > 0, err
}

// Delete removes the row with id and reports how many rows went (0 or 1).
func (r *Store) Delete(ctx context.Context, id string) (int64, error) {
	return r.execBound(ctx, r.sql.deleteID, id)
}

// DeleteSubject removes every row of subject, live or expired. An empty
// subject deletes nothing.
func (r *Store) DeleteSubject(ctx context.Context, subject string) (int64, error) {
	return r.execBound(ctx, r.sql.deleteSubject, subject)
}

// DeleteSubjectExcept removes every row of subject except the row with
// keepID. An empty subject deletes nothing.
func (r *Store) DeleteSubjectExcept(ctx context.Context, subject, keepID string) (int64, error) {
	return r.execBound(ctx, r.sql.deleteSubjectExcept, subject, keepID)
}

// DeleteAll removes every row of the table.
func (r *Store) DeleteAll(ctx context.Context) (int64, error) {
	return r.execBound(ctx, r.sql.deleteAll)
}

// ListSubject returns the live rows of subject at now, oldest first, without
// their payloads. An empty subject lists nothing.
func (r *Store) ListSubject(ctx context.Context, subject string, now int64) ([]model.SessionRow, error) {
	rows, err := rowsOf(r.raw(ctx, r.sql.listSubject, []any{subject, now}))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.SessionRow
	for rows.Next() {
		var row model.SessionRow
		if err := rows.Scan(&row.ID, &row.Subject, &row.Version, &row.CreatedAt, &row.UpdatedAt,
			&row.Deadline, &row.ExpiresAt, &row.Lifetime, &row.IdleTimeout, &row.Label); err != nil {
			return nil, err
		}
		out = append(out, row)
	}
	return out, rows.Err()
}

// TrimSubject ends the live sessions of subject at now beyond the keep most
// recently active ones other than keepID (the session just signed in,
// which always stays), and reports how many it deleted. An empty subject
// or keep < 0 deletes nothing.
func (r *Store) TrimSubject(ctx context.Context, subject, keepID string, keep int, now int64) (int64, error) {
	if subject == "" || keep < 0 {
		return 0, nil
	}
	rows, err := rowsOf(r.raw(ctx, r.sql.subjectOverflow, []any{subject, now, keepID}))
	if err != nil {
		return 0, err
	}
	var ids []any
	for i := 0; rows.Next(); i++ {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		if i >= keep {
			ids = append(ids, id)
		}
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	var n int64
	for _, id := range ids {
		// One row at a time, by primary key: no statement locks a range
		// of the subject index that concurrent sign-ins also write.
		d, err := r.execBound(ctx, r.sql.deleteSubjectID, id, subject)
		if err != nil {
			return n, err
		}
		n += d
	}
	return n, nil
}

// AdjustTime adds delta milliseconds to every stored time of every row
// (negative delta makes sessions older) and reports how many rows changed.
func (r *Store) AdjustTime(ctx context.Context, delta int64) (int64, error) {
	return r.execBound(ctx, r.sql.adjustTime, delta, delta, delta, delta)
}

// CountExpired counts rows whose expires_at is not after now.
func (r *Store) CountExpired(ctx context.Context, now int64) (int64, error) {
	var n int64
	_, err := r.queryBound(ctx, r.sql.countExpired, []any{now}, &n)
	return n, err
}

// execBound runs one write statement and returns the number of rows it
// affected, again (after a short, jittered pause) when the database chose
// it as a deadlock or serialization victim outside a transaction.
func (r *Store) execBound(ctx context.Context, sql string, vars ...any) (int64, error) {
	for attempt := 1; ; attempt++ {
		tx := r.raw(ctx, sql, vars)
		tx = tx.Callback().Raw().Execute(tx)
		if tx.Error == nil || !r.retry(ctx, tx.Error, attempt, false) {
			return tx.RowsAffected, tx.Error
		}
	}
}

// queryBound runs a query that returns at most one row and scans it into
// dest, retrying as execBound does. found is false when there is no row.
func (r *Store) queryBound(ctx context.Context, sql string, vars []any, dest ...any) (bool, error) {
	for attempt := 1; ; attempt++ {
		found, err := queryOnce(r.raw(ctx, sql, vars), dest)
		if err == nil || !r.retry(ctx, err, attempt, true) {
			return found, err
		}
	}
}

// queryOnce runs tx's query as a multi-row query and scans its first row.
// It uses Rows, not Row: under gorm.Config.PrepareStmt a statement that
// cannot be prepared (a cancelled context, a lost connection) comes back
// from Row as an empty *sql.Row whose Scan panics, while Rows reports the
// error.
func queryOnce(tx *gorm.DB, dest []any) (bool, error) {
	rows, err := rowsOf(tx)
	if err != nil {
		return false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return false, rows.Err()
	}
	if err := rows.Scan(dest...); err != nil {
		return false, err
	}
	return true, rows.Close()
}

// rowsOf runs tx's query through GORM's row callbacks (so plugins
// registered after gorm:row, such as the random-cleanup hook, see it) and
// returns its result set, never nil without an error.
func rowsOf(tx *gorm.DB) (*sql.Rows, error) {
	rows, err := tx.Rows()
	if err == nil && rows == nil {
		err = errNoResult
	}
	return rows, err
}

var errNoResult = errors.New("store: the query returned no result set (dry run?)")

// raw returns one statement on r's handle: sql, whose placeholders are
// already in the dialect's syntax, with vars, running under ctx. It is the
// single way this package runs SQL. Raw makes a copy of the handle's
// statement, so the clauses, settings and plugins of the *gorm.DB given to
// New (or WithDB) apply to every statement. The SQL, its arguments and the
// context are then set on that copy through the Statement's exported
// fields: GORM would otherwise rebuild the SQL byte by byte on every call
// (Raw with the text) and copy the statement a second time (WithContext),
// which together cost more than the rest of a load on SQLite.
func (r *Store) raw(ctx context.Context, sql string, vars []any) *gorm.DB {
	tx := r.db.Raw("")
	st := tx.Statement
	st.SQL.Grow(len(sql))
	st.SQL.WriteString(sql)
	st.Vars = vars
	st.Context = ctx
	return tx
}

// statementRetries is how many times a single statement outside a
// transaction runs when the database picks it as a deadlock victim, or,
// for a read or a statement that never reached the server, when the
// database is unavailable.
const statementRetries = 4

// retry reports whether a statement that failed with err may run again,
// and if so sleeps a short random time first (growing with attempt), so
// that statements that collided do not collide again at once and a
// database that is restarting is not hammered. It may when the statement
// ran outside a transaction (inside one, the whole transaction is lost and
// only its owner can redo it), attempts remain, and either the database
// rolled it back whole (a deadlock or serialization victim, a SQLite
// table lock), or it could not have changed anything: a read (read) that
// met an unavailable database, or any statement refused before it was
// sent (NotSent).
func (r *Store) retry(ctx context.Context, err error, attempt int, read bool) bool {
	if ctx.Err() != nil {
		return false
	}
	limit := statementRetries
	pause := time.Millisecond << min(attempt, 3) // up to 8 ms
	switch {
	case Transient(err):
		if r.dialect == SQLite {
			// A shared-cache table lock is released within microseconds
			// but refused, not waited for: try more often, briefly.
			limit = 64
		}
	case (read && Unavailable(err)) || NotSent(err):
		// A restarting or failing-over server answers within
		// milliseconds: pause long enough not to spin, short enough to
		// keep a request's latency.
		pause = 20 * time.Millisecond << min(attempt, 3) // up to 160 ms
	default:
		return false
	}
	if attempt >= limit {
		return false
	}
	if _, inTx := r.db.Statement.ConnPool.(gorm.TxCommitter); inTx {
		return false
	}
	t := time.NewTimer(pause/2 + rand.N(pause/2) + 100*time.Microsecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Transient reports whether err says the database aborted the statement
// (and its transaction) to break a deadlock or a serialization conflict,
// or refused it for a lock it would not wait for: SQLSTATE 40001 or 40P01,
// MySQL/MariaDB error 1213, SQLite's SQLITE_LOCKED. Such work can be
// redone from the start.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var coded interface{ SQLState() string }
	if errors.As(err, &coded) {
		switch coded.SQLState() {
		case "40001", "40P01":
			return true
		}
	}
	msg := err.Error()
	return strings.Contains(msg, "Error 1213") || strings.Contains(msg, "(40001)") || strings.Contains(msg, "(40P01)") ||
		// SQLITE_LOCKED: a shared-cache database's table lock, which SQLite
		// does not wait for (the busy timeout covers only file locks).
		strings.Contains(msg, "database table is locked")
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// batchSQL returns the cleanup statement for one batch of size rows.
func (r *Store) batchSQL(size int) string {
	return fmt.Sprintf(r.sql.cleanupBatch, size)
}

// QueryRow runs a query written with GORM's "?" placeholders that returns
// at most one row and scans it into dest; found is false when there is no
// row. For statements of other packages (operators' statistics), which
// need no speed: GORM binds the arguments.
func (r *Store) QueryRow(ctx context.Context, sql string, args []any, dest ...any) (bool, error) {
	return queryOnce(r.bindRaw(ctx, sql, args), dest)
}

// Rows runs a query written with GORM's "?" placeholders and returns its
// result set; the caller closes it.
func (r *Store) Rows(ctx context.Context, sql string, args []any) (*sql.Rows, error) {
	return rowsOf(r.bindRaw(ctx, sql, args))
}

// bindRaw is raw for SQL with GORM's "?" placeholders, which GORM rewrites
// in the dialect's syntax as it binds args.
func (r *Store) bindRaw(ctx context.Context, sql string, args []any) *gorm.DB {
	tx := r.db.Raw(sql, args...)
	tx.Statement.Context = ctx
	return tx
}

// Quote returns name quoted as an identifier of the Store's dialect.
func (r *Store) Quote(name string) string { return r.dialect.quote(name) }
