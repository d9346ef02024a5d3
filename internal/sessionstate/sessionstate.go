// Package sessionstate lets the other packages of this module reach what
// only package session knows without it becoming public API: the
// middleware asks a session whether it changed since it was loaded and
// whether opening it refreshed its idle deadline; the test kit makes the
// options that are test knobs, not production settings. Package session sets the functions in its init;
// their arguments are a *session.Container[T] and a *session.Session[T] of
// the same T.
package sessionstate

import (
	"math/rand/v2"
	"net/http"
	"time"
)

var (
	// Changed reports whether the session differs from what is stored (see
	// package session for what counts as a change).
	Changed func(container, sess any) (bool, error)
	// Refreshed reports whether loading the session moved its stored idle
	// deadline, so the client's cookie lifetime should move too.
	Refreshed func(sess any) bool
	// TTL returns how long the session has left by the container's clock.
	TTL func(container, sess any) time.Duration
	// Snapshot returns the session's Data as the container's codec encodes
	// it, for Restore and Differs.
	Snapshot func(container, sess any) ([]byte, error)
	// Restore sets the session's Data to the value snap encodes.
	Restore func(container, sess any, snap []byte) error
	// Differs reports whether the session's Data is no longer the value
	// snap encodes (compared as Changed compares).
	Differs func(container, sess any, snap []byte) (bool, error)
)

// ManagerParts returns a function that makes a request carry a token the
// way a *sessionhttp.Manager[T] reads it (its cookie or its header), and
// the Manager's *session.Container[T]; package sessionhttp sets it, for the
// test kit's requests that carry a session.
var ManagerParts func(manager any) (attach func(r *http.Request, token string), container any)

// Test knobs for package sessiontest; each returns a session.Option.
var (
	WithClock            func(now func() time.Time) any
	WithCleanupRand      func(src rand.Source) any
	WithCleanupBatchSize func(n int) any
)
