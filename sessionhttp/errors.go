package sessionhttp

import (
	"errors"

	"github.com/gormsession/gormsession/session"
)

// Errors of this package, matched with errors.Is. They are returned
// wrapped with the package and the operation ("sessionhttp: renew:
// response already started"). An error that comes from the store (a
// database failure, session.ErrConflict, session.ErrNotFound, ...) keeps
// the store's own message: Renew and Destroy return it as it is, and the
// error handler gets it behind the phase that failed ("sessionhttp:
// commit: " + the store's error), so it reads once. No error of this
// package carries a token, a stored id or a payload.
var (
	// ErrNoSession: Update, Renew or Destroy got a request that did not
	// pass through this Manager's Handler (another Manager's does not
	// count). Nothing was done.
	ErrNoSession = errors.New("request has no session (wrap the handler with Manager.Handler)")

	// ErrResponseStarted: the response had already started (a status or a
	// body byte was written, or it was flushed or hijacked), so no cookie
	// can be sent any more. Renew returns it and does nothing. The error
	// handler gets an error matching it, and the cause, when a change made
	// after the response started could not be stored (see
	// Manager.Handler); the status can no longer change then, so an error
	// handler should only log it.
	ErrResponseStarted = errors.New("response already started")

	// ErrInvalidOption: New got a bad option or a nil container. The
	// message names each problem, and New returns no Manager.
	ErrInvalidOption = errors.New("invalid option")
)

// errAborted is what the wrapped ResponseWriter's writes return once the
// commit failed and the error handler answered instead of the handler.
var errAborted = errors.New("sessionhttp: response replaced by the error handler")

// lateError reports a change made after the response started that could
// not be stored: it matches ErrResponseStarted and the cause.
type lateError struct{ err error }

func (e *lateError) Error() string {
	return "sessionhttp: commit after the response started: " + e.err.Error()
}

func (e *lateError) Unwrap() []error { return []error{ErrResponseStarted, e.err} }

// replayError reports a remembered Update function that failed when it was
// re-applied to the stored session after a conflict: it matches the
// function's error and session.ErrConflict.
type replayError struct{ err error }

func (e *replayError) Error() string {
	return "an update failed when re-applied after a conflict: " + e.err.Error()
}

func (e *replayError) Unwrap() []error { return []error{e.err, session.ErrConflict} }
