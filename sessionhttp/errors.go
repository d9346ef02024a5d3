package sessionhttp

import "errors"

// Errors of this package. Errors that come from the session store (a
// database failure, session.ErrConflict, session.ErrNotFound, ...) are
// wrapped as "sessionhttp: <operation>: ..." and still match their
// sentinel with errors.Is. No error of this package carries a token, a
// stored id or a payload.
var (
	// ErrNoSession: Renew or Destroy was called with a request that did not
	// pass through Manager.Handler (or through the Handler of another
	// Manager).
	ErrNoSession = errors.New("sessionhttp: request has no session (is the handler wrapped by Manager.Handler?)")

	// ErrResponseStarted: the response had already started (a status or a
	// body byte was written, or it was flushed or hijacked), so no cookie
	// can be sent any more. Renew returns it and does nothing. The error
	// handler receives it, joined with the cause, when the session was
	// changed after the response started and the change could not be kept
	// (see Manager.Handler); the status of such a response can no longer be
	// changed, so an error handler should only log it.
	ErrResponseStarted = errors.New("sessionhttp: response already started")

	// ErrAborted is what the wrapped ResponseWriter's Write returns after
	// saving the session failed and the error handler answered the request
	// instead of the handler.
	ErrAborted = errors.New("sessionhttp: response replaced by the error handler")

	// ErrInvalidOption is matched by Manager.Err when an option has a bad
	// value; its message names the option. A Manager with a bad option
	// answers every request through the error handler with this error.
	ErrInvalidOption = errors.New("sessionhttp: invalid option")
)
