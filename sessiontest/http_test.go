package sessiontest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessionhttp"
	"github.com/gormsession/gormsession/sessiontest"
)

// TestRequestCarriesAStoredSession: a handler unit-tested through
// m.Handler with sessiontest.Request sees the session the test set up, and
// what it changes is stored under the same token.
func TestRequestCarriesAStoredSession(t *testing.T) {
	t.Parallel()
	c := sessiontest.New[cart](t)
	m, err := sessionhttp.New(c)
	require.NoError(t, err)
	handler := m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, ok := m.Session(r)
		if !ok {
			http.Error(w, "no session", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "%s has %d", s.Subject(), len(s.Data.Items))
		require.NoError(t, m.Update(r, func(c *cart) error { c.Items = append(c.Items, "pear"); return nil }))
	}))

	r, s := sessiontest.Request(t, m, httptest.NewRequest(http.MethodGet, "https://example.test/cart", nil),
		func(s *session.Session[cart]) {
			s.SetSubject("user:7")
			s.Data.Items = []string{"apple"}
		})
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, r)
	require.Equal(t, http.StatusOK, rec.Code)
	require.Equal(t, "user:7 has 1", rec.Body.String())

	got, err := c.Load(context.Background(), s.Token())
	require.NoError(t, err)
	require.Equal(t, []string{"apple", "pear"}, got.Data.Items, "the handler's change is stored under the same token")
	require.Equal(t, "user:7", got.Subject())
}
