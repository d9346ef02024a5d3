package session

import (
	"context"
	"errors"
	"time"
)

// Op names a Container operation in an Event.
type Op string

// The operations an Observer hears about.
const (
	OpOpen           Op = "open"
	OpLoad           Op = "load"
	OpExists         Op = "exists"
	OpSave           Op = "save"
	OpUpdate         Op = "update"
	OpRenew          Op = "renew"
	OpDestroy        Op = "destroy"
	OpDestroySubject Op = "destroy_subject"
	OpDestroyOthers  Op = "destroy_others"
	OpCleanup        Op = "cleanup"
	OpTouch          Op = "touch"
)

// Event describes one finished operation. It never carries a token, a
// stored id or a payload.
type Event struct {
	Op Op
	// Table is the container's table, so one Observer can serve several
	// containers and label by table.
	Table    string
	Duration time.Duration
	// Err is the operation's error, nil on success; ErrorKind sorts it.
	Err error
	// New: for OpOpen, the session returned is fresh; for OpSave, it was
	// inserted rather than updated.
	New bool
	// Retries: for OpUpdate, how many conflicts it retried.
	Retries int
	// Rows: for OpCleanup, OpDestroySubject and OpDestroyOthers, rows
	// deleted.
	Rows int64
	// Random: for OpCleanup, the run was fired by the random-cleanup hook.
	Random bool
}

// Observer hears about every operation of a Container, for metrics. Observe
// is called synchronously at the end of each operation, from many
// goroutines at once: keep it fast and safe for concurrent use.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// ObserverFunc adapts a function to Observer.
type ObserverFunc func(ctx context.Context, e Event)

// Observe implements Observer.
func (f ObserverFunc) Observe(ctx context.Context, e Event) { f(ctx, e) }

// ErrorKind sorts an error from this package into a short, stable label for
// metrics: "" for nil, then "not_found", "conflict", "too_large",
// "corrupt", "canceled", "timeout", "invalid" or "database".
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
	c.observer.Observe(ctx, e)
}

// clockStart returns the start time for observe, or the zero time when no
// observer is set (and no time is needed).
func (c *config) clockStart() time.Time {
	if c.observer == nil {
		return time.Time{}
	}
	return time.Now()
}
