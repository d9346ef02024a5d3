// Package sessionstate lets the middleware packages of this module ask a
// session what only package session knows (whether it changed since it was
// loaded, whether opening it refreshed its idle deadline) without that
// becoming public API. Package session sets the functions in its init;
// their arguments are a *session.Container[T] and a *session.Session[T] of
// the same T.
package sessionstate

import "time"

var (
	// Changed reports whether the session differs from what is stored (see
	// package session for what counts as a change).
	Changed func(container, sess any) (bool, error)
	// Refreshed reports whether loading the session moved its stored idle
	// deadline, so the client's cookie lifetime should move too.
	Refreshed func(sess any) bool
	// TTL returns how long the session has left by the container's clock.
	TTL func(container, sess any) time.Duration
)
