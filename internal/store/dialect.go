package store

import (
	"errors"
	"fmt"
	"regexp"

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

// ErrInvalidTable is returned by New for a table name that is not a plain SQL
// identifier: a letter or underscore, then up to 47 letters, digits or
// underscores. The limit keeps derived index names within PostgreSQL's
// 63-byte identifier limit.
var ErrInvalidTable = errors.New("repository: invalid table name")

var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,47}$`)

// ValidTable reports whether name is accepted as a table name.
func ValidTable(name string) bool { return tableName.MatchString(name) }

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

// quote returns name quoted as an identifier for the dialect. name has been
// checked by ValidTable, so it needs no escaping.
func (d Dialect) quote(name string) string {
	if d == MySQL {
		return "`" + name + "`"
	}
	return `"` + name + `"`
}
