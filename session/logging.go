package session

import (
	"context"
	"time"

	"gorm.io/gorm"

	"github.com/gormsession/gormsession/internal/redact"
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

// Trace passes the statement on with its error's message redacted: some
// drivers quote key values in errors (MySQL's duplicate-entry message).
func (l quietLogger) Trace(ctx context.Context, begin time.Time, fc func() (string, int64), err error) {
	if err != nil {
		err = &redactedError{err}
	}
	l.Interface.Trace(ctx, begin, fc, err)
}

// redactedError shows err's message without token- or id-shaped runs and
// still unwraps to err (GORM's logger checks for ErrRecordNotFound).
type redactedError struct{ err error }

func (e *redactedError) Error() string { return redact.Secrets(e.err.Error()) }
func (e *redactedError) Unwrap() error { return e.err }

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
