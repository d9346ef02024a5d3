package session

import (
	"context"
	"errors"
	"time"
)

// Event describes one finished operation. It never carries a token, a
// stored id or a payload.
type Event struct {
	// Op names the operation: "open", "load", "exists", "save", "update",
	// "renew", "destroy", "destroy_subject", "destroy_others", "cleanup",
	// "touch" (the idle refresh of an open or load), or "trim" (ending a
	// subject's sessions over WithMaxSessionsPerSubject, after every save
	// or renew that stores a subject under a cap, also when it ends none).
	Op string
	// Table is the container's table, so one Observer can serve several
	// containers and label by table.
	Table    string
	Duration time.Duration
	// Err is the operation's error, nil on success; ErrorKind sorts it.
	Err error
	// New: for "open", the session returned is fresh; for "save", it was
	// inserted rather than updated.
	New bool
	// Retries: for "update", how many conflicts it retried.
	Retries int
	// Rows: for "cleanup", "destroy_subject", "destroy_others" and
	// "trim", rows deleted.
	Rows int64
	// Random: for "cleanup", the run was fired by the random-cleanup hook.
	Random bool
}

// ErrorKind sorts an error from this package into a short, stable label for
// metrics: "" for nil, then "not_found", "conflict", "too_large",
// "corrupt", "unavailable", "canceled", "timeout", "invalid" or
// "database".
func ErrorKind(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrConflict):
		return "conflict"
	case errors.Is(err, ErrTooLarge):
		return "too_large"
	case errors.Is(err, ErrCorrupt):
		return "corrupt"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, ErrInvalidSubject), errors.Is(err, ErrRenewRequired), errors.Is(err, ErrInvalidOption):
		return "invalid"
	default:
		return "database"
	}
}

// observe reports an operation that started at start, if an observer is set.
func (c *config) observe(ctx context.Context, start time.Time, e Event) {
	if c.observer == nil {
		return
	}
	e.Duration = time.Since(start)
	e.Table = c.table
	c.observer(ctx, e)
}

// clockStart returns the start time for observe, or the zero time when no
// observer is set (and no time is needed).
func (c *config) clockStart() time.Time {
	if c.observer == nil {
		return time.Time{}
	}
	return time.Now()
}
