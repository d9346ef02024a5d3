package session

import (
	"context"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// quietLogger wraps the application's GORM logger so that the statements of
// this package are logged without the values of their string and byte
// parameters (stored ids, subjects, payloads). Numbers (times, versions,
// limits) are kept: they help and reveal nothing.
type quietLogger struct{ logger.Interface }

func (l quietLogger) LogMode(level logger.LogLevel) logger.Interface {
	return quietLogger{l.Interface.LogMode(level)}
}

// ParamsFilter implements gorm.ParamsFilter.
func (quietLogger) ParamsFilter(_ context.Context, sql string, params ...any) (string, []any) {
	out := make([]any, len(params))
	for i, p := range params {
		switch p.(type) {
		case string, []byte:
			out[i] = "[redacted]"
		default:
			out[i] = p
		}
	}
	return sql, out
}

// quiet returns db with its logger wrapped, unless it already is.
func quiet(db *gorm.DB) *gorm.DB {
	if db.Logger == nil {
		return db
	}
	if _, ok := db.Logger.(quietLogger); ok {
		return db
	}
	return db.Session(&gorm.Session{Logger: quietLogger{db.Logger}})
}

var _ gorm.ParamsFilter = quietLogger{}
