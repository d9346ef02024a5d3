package store

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"gorm.io/gorm"
)

// Dialect names a supported SQL database family.
type Dialect string

// The supported dialects, named as GORM's dialectors name themselves.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
	MySQL    Dialect = "mysql"
)

// ErrUnsupportedDialect is returned by New when the *gorm.DB talks to a
// database other than PostgreSQL, SQLite or MySQL/MariaDB.
var ErrUnsupportedDialect = errors.New("repository: unsupported database dialect")

// ErrInvalidTable is returned by New for a table name it does not accept:
// a plain SQL identifier (a letter or underscore, then up to 47 letters,
// digits or underscores; the limit keeps derived index names within
// PostgreSQL's 63-byte identifier limit), optionally qualified on
// PostgreSQL and MySQL by a schema (database) name of the same form of up
// to 63 bytes and a dot: "auth.sessions". SQLite takes no qualifier.
var ErrInvalidTable = errors.New("repository: invalid table name")

var tableName = regexp.MustCompile(`^(?:[A-Za-z_][A-Za-z0-9_]{0,62}\.)?[A-Za-z_][A-Za-z0-9_]{0,47}$`)

// ValidTable reports whether name is accepted as a table name by some
// dialect: a plain identifier, or one qualified by a schema. New also
// refuses a qualified name on SQLite.
func ValidTable(name string) bool { return tableName.MatchString(name) }

// SplitTable returns the schema qualifier of a name ValidTable accepts ("" for
// none) and the table's own name.
func SplitTable(name string) (schema, table string) {
	if i := strings.IndexByte(name, '.'); i >= 0 {
		return name[:i], name[i+1:]
	}
	return "", name
}

// DialectOf reports the dialect of db's dialector.
func DialectOf(db *gorm.DB) (Dialect, error) {
	if db == nil || db.Dialector == nil {
		return "", fmt.Errorf("%w: no dialector", ErrUnsupportedDialect)
	}
	switch name := db.Dialector.Name(); name {
	case "postgres", "pgx":
		return Postgres, nil
	case "sqlite", "sqlite3":
		return SQLite, nil
	case "mysql":
		return MySQL, nil
	default:
		return "", fmt.Errorf("%w: %q", ErrUnsupportedDialect, name)
	}
}

// quote returns name quoted as an identifier for the dialect, each part of
// a schema-qualified name on its own. name has been checked by ValidTable,
// so it needs no escaping.
func (d Dialect) quote(name string) string {
	q := `"`
	if d == MySQL {
		q = "`"
	}
	if schema, table := SplitTable(name); schema != "" {
		return q + schema + q + "." + q + table + q
	}
	return q + name + q
}
