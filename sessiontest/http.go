package sessiontest

import (
	"context"
	"net/http"
	"testing"

	"github.com/gormsession/gormsession/internal/sessionstate"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessionhttp"
)

// Request returns a copy of r that carries the token (in the cookie, or in
// the header of sessionhttp.WithTokenHeader) of a session stored
// for it in m's container, so a handler can be unit-tested through
// m.Handler as if the client had come back with its cookie. fn, if not
// nil, sets the session's Data and subject before it is stored. The stored
// session is returned too, for checking what the handler did (Load it
// again by its token). Any failure fails the test.
func Request[T any](t testing.TB, m *sessionhttp.Manager[T], r *http.Request, fn func(*session.Session[T])) (*http.Request, *session.Session[T]) {
	t.Helper()
	if m == nil || r == nil {
		t.Fatalf("sessiontest: Request: nil manager or request")
	}
	attach, c := sessionstate.ManagerParts(m)
	container := c.(*session.Container[T])
	ctx := context.Background()
	s, err := container.Open(ctx, "")
	if err != nil {
		t.Fatalf("sessiontest: Request: open a session: %v", err)
	}
	if fn != nil {
		fn(s)
	}
	if err := container.Save(ctx, s); err != nil {
		t.Fatalf("sessiontest: Request: store the session: %v", err)
	}
	out := r.Clone(r.Context())
	attach(out, s.Token())
	return out, s
}
