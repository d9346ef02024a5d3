package store

import (
	"strconv"
	"strings"
)

// statements holds the SQL of one table and dialect, built once by New.
// Placeholders are already in the dialect's syntax ($1, $2, ... on
// PostgreSQL, ? elsewhere), so a statement reaches the driver without GORM
// parsing it again on every call.
type statements struct {
	migrate             []string
	upgrade             []column // columns added since the first release
	insert              string
	load                string
	loadForUpdate       string
	exists              string
	update              string
	rekey               string
	probe               string
	stored              string
	touch               string
	deleteID            string
	deleteSubject       string
	deleteAll           string
	deleteSubjectExcept string
	listSubject         string
	subjectOverflow     string
	deleteSubjectID     string
	cleanupBatch        string // one %d verb: the batch size
	countExpired        string
	adjustTime          string
}

const columns = "id, subject, payload, version, created_at, updated_at, deadline, expires_at, lifetime, idle_timeout, label"

// firstColumns are the columns of the first release's table; every later
// column has a default, so an INSERT naming just these stays valid.
const firstColumns = "id, subject, payload, version, created_at, updated_at, deadline, expires_at"

// rowColumns are the columns a load reads, in the order of loadScan's
// destinations: every column but the id.
const rowColumns = "subject, payload, version, created_at, updated_at, deadline, expires_at, lifetime, idle_timeout, label"

func buildStatements(d Dialect, table string) *statements {
	t := d.quote(table)
	// {pk} names the table in the single-row writes. MariaDB's optimizer
	// may pick the expires_at index for "WHERE id = ? AND ... expires_at >
	// ?" in an UPDATE, and a range scan of that index under REPEATABLE READ
	// takes next-key locks in the opposite order to a primary-key write:
	// concurrent saves of one session then deadlock. The hint keeps every
	// single-row write on the primary key.
	pk := t
	if d == MySQL {
		pk = t + " FORCE INDEX (PRIMARY)"
	}
	r := strings.NewReplacer("{t}", t, "{pk}", pk, "{cols}", columns, "{row}", rowColumns)
	f := r.Replace
	s := &statements{
		migrate:             migrateDDL(d, table),
		upgrade:             upgradeColumns(d),
		insert:              f("INSERT INTO {t} ({cols}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
		load:                f("SELECT {row} FROM {t} WHERE id = ? AND expires_at > ?"),
		exists:              f("SELECT 1 FROM {t} WHERE id = ? AND expires_at > ?"),
		update:              f("UPDATE {pk} SET subject = ?, payload = ?, version = version + 1, updated_at = ?, deadline = ?, expires_at = ?, lifetime = ?, idle_timeout = ?, label = ? WHERE id = ? AND version = ? AND expires_at > ?"),
		rekey:               f("UPDATE {pk} SET id = ?, subject = ?, payload = ?, version = version + 1, updated_at = ?, deadline = ?, expires_at = ?, lifetime = ?, idle_timeout = ?, label = ? WHERE id = ? AND version = ? AND expires_at > ?"),
		probe:               f("SELECT version, expires_at FROM {t} WHERE id = ?"),
		stored:              f("SELECT {row} FROM {t} WHERE id = ?"),
		touch:               f("UPDATE {pk} SET updated_at = ?, expires_at = ? WHERE id = ? AND expires_at > ? AND expires_at < ?"),
		deleteID:            f("DELETE FROM {t} WHERE id = ?"),
		deleteSubject:       f("DELETE FROM {t} WHERE subject = ? AND subject <> ''"),
		deleteAll:           f("DELETE FROM {t}"),
		deleteSubjectExcept: f("DELETE FROM {t} WHERE subject = ? AND subject <> '' AND id <> ?"),
		listSubject:         f("SELECT id, subject, version, created_at, updated_at, deadline, expires_at, lifetime, idle_timeout, label FROM {t} WHERE subject = ? AND subject <> '' AND expires_at > ? ORDER BY created_at, id"),
		deleteSubjectID:     f("DELETE FROM {t} WHERE id = ? AND subject = ?"),
		subjectOverflow:     f("SELECT id FROM {t} WHERE subject = ? AND subject <> '' AND expires_at > ? AND id <> ? ORDER BY updated_at DESC, id"),
		countExpired:        f("SELECT COUNT(*) FROM {t} WHERE expires_at <= ?"),
		adjustTime:          f("UPDATE {t} SET created_at = created_at + ?, updated_at = updated_at + ?, deadline = deadline + ?, expires_at = expires_at + ?"),
	}
	// Inside a transaction, lock the row until commit. SQLite has no row
	// locks: there the transaction itself (BEGIN IMMEDIATE with the
	// recommended DSN) holds the database's write lock.
	s.loadForUpdate = s.load
	if d != SQLite {
		s.loadForUpdate += " FOR UPDATE"
	}
	switch d {
	case MySQL:
		// MySQL and MariaDB cannot name the target table in a subquery of a
		// DELETE, but they can order and limit the DELETE itself.
		s.cleanupBatch = f("DELETE FROM {t} WHERE expires_at <= ? ORDER BY expires_at LIMIT %d")
	case Postgres:
		// SKIP LOCKED lets concurrent cleanups share the work, and FOR UPDATE
		// makes PostgreSQL re-check the subquery's condition against a row a
		// concurrent save changed, so a row made live again is left alone.
		s.cleanupBatch = f("DELETE FROM {t} WHERE id IN (SELECT id FROM {t} WHERE expires_at <= ? LIMIT %d FOR UPDATE SKIP LOCKED) AND expires_at <= ?")
	default:
		s.cleanupBatch = f("DELETE FROM {t} WHERE id IN (SELECT id FROM {t} WHERE expires_at <= ? LIMIT %d) AND expires_at <= ?")
	}
	for _, q := range []*string{&s.insert, &s.load, &s.loadForUpdate, &s.exists, &s.update, &s.rekey, &s.probe, &s.stored, &s.touch,
		&s.deleteID, &s.deleteSubject, &s.deleteAll, &s.deleteSubjectExcept, &s.listSubject, &s.subjectOverflow, &s.deleteSubjectID,
		&s.cleanupBatch, &s.countExpired, &s.adjustTime} {
		*q = bindVars(d, *q)
	}
	return s
}

// bindVars rewrites the "?" placeholders of q into the dialect's syntax.
// The statements here have no "?" inside a literal or identifier.
func bindVars(d Dialect, q string) string {
	if d != Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// column is a column added to the table after the first release, with its
// definition in one dialect.
type column struct{ name, def string }

// upgradeColumns returns the columns Migrate adds to a table made by an
// earlier release, in order. Each has a default, so rows written by an
// older release (or by the scs adapter's plain INSERT) stay valid.
func upgradeColumns(d Dialect) []column {
	label := "varchar(100) NOT NULL DEFAULT ''"
	switch d {
	case MySQL:
		// Bytes, as the subject: the application's text, compared exactly
		// and never refused by a table's character set.
		label = "varbinary(100) NOT NULL DEFAULT ''"
	case SQLite:
		label = "TEXT NOT NULL DEFAULT ''"
	}
	num := "bigint NOT NULL DEFAULT 0"
	if d == SQLite {
		num = "INTEGER NOT NULL DEFAULT 0"
	}
	return []column{{"lifetime", num}, {"idle_timeout", num}, {"label", label}}
}

// migrateDDL returns the idempotent statements that create the table and
// its indexes, in the current release's shape.
func migrateDDL(d Dialect, table string) []string {
	t := d.quote(table)
	_, name := SplitTable(table)
	// Index names are not qualified: an index lives in its table's schema.
	expIdx := d.quote(name + "_expires_at_idx")
	subIdx := d.quote(name + "_subject_idx")
	var extra strings.Builder
	for _, c := range upgradeColumns(d) {
		extra.WriteString(",\n\t" + c.name + " " + c.def)
	}
	more := extra.String()
	switch d {
	case Postgres:
		return []string{
			"CREATE TABLE IF NOT EXISTS " + t + ` (
	id varchar(64) NOT NULL PRIMARY KEY,
	subject varchar(255) NOT NULL DEFAULT '',
	payload bytea NOT NULL,
	version bigint NOT NULL,
	created_at bigint NOT NULL,
	updated_at bigint NOT NULL,
	deadline bigint NOT NULL,
	expires_at bigint NOT NULL` + more + `
)`,
			"CREATE INDEX IF NOT EXISTS " + expIdx + " ON " + t + " (expires_at)",
			"CREATE INDEX IF NOT EXISTS " + subIdx + " ON " + t + " (subject) WHERE subject <> ''",
		}
	case MySQL:
		return []string{
			"CREATE TABLE IF NOT EXISTS " + t + ` (
	id char(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
	subject varbinary(255) NOT NULL DEFAULT '',
	payload longblob NOT NULL,
	version bigint NOT NULL,
	created_at bigint NOT NULL,
	updated_at bigint NOT NULL,
	deadline bigint NOT NULL,
	expires_at bigint NOT NULL` + more + `,
	PRIMARY KEY (id),
	KEY ` + expIdx + ` (expires_at),
	KEY ` + subIdx + ` (subject)
) ENGINE=InnoDB`,
		}
	default:
		return []string{
			"CREATE TABLE IF NOT EXISTS " + t + ` (
	id TEXT NOT NULL PRIMARY KEY,
	subject TEXT NOT NULL DEFAULT '',
	payload BLOB NOT NULL,
	version INTEGER NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	deadline INTEGER NOT NULL,
	expires_at INTEGER NOT NULL` + more + `
) WITHOUT ROWID`,
			"CREATE INDEX IF NOT EXISTS " + expIdx + " ON " + t + " (expires_at)",
			"CREATE INDEX IF NOT EXISTS " + subIdx + " ON " + t + " (subject) WHERE subject <> ''",
		}
	}
}

// SchemaSQL returns the statements Migrate runs to create table on d in
// the current shape, and the ones that bring a table of the previous
// release to it, for migration tools. It runs no SQL.
func SchemaSQL(d Dialect, table string) (create, upgrade []string) {
	t := d.quote(table)
	for _, c := range upgradeColumns(d) {
		upgrade = append(upgrade, "ALTER TABLE "+t+" ADD COLUMN "+c.name+" "+c.def)
	}
	if d == MySQL {
		upgrade = append(upgrade, "ALTER TABLE "+t+" MODIFY subject varbinary(255) NOT NULL DEFAULT ''")
	}
	return migrateDDL(d, table), upgrade
}

// ParseDialect returns the Dialect named name, as GORM's dialectors name
// themselves ("postgres" or "pgx", "mysql", "sqlite" or "sqlite3").
func ParseDialect(name string) (Dialect, error) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "postgres", "postgresql", "pgx":
		return Postgres, nil
	case "sqlite", "sqlite3":
		return SQLite, nil
	case "mysql", "mariadb":
		return MySQL, nil
	}
	return "", ErrUnsupportedDialect
}
