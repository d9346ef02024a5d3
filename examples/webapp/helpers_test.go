package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
)

// testApp is the shop on fresh tables of db, served over plain http (as
// `go run` does) by an httptest server.
type testApp struct {
	*app
	db            *gorm.DB
	srv           *httptest.Server
	sessionsTable string
}

// newTestApp starts the shop on db; extra options go to the session
// container after the test's own.
func newTestApp(t *testing.T, db *gorm.DB, extra ...session.Option) *testApp {
	t.Helper()
	users := testdb.Table(t, db)
	sessions := testdb.Table(t, db)
	a, err := newApp(db, options{
		bcryptCost: bcrypt.MinCost,
		usersTable: users,
		sessions:   append([]session.Option{session.WithTable(sessions), session.WithCleanupFrequency(0)}, extra...),
		logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	t.Cleanup(func() { hooks.Of(db).Wait() })
	srv := httptest.NewServer(a.routes())
	t.Cleanup(srv.Close)
	return &testApp{app: a, db: db, srv: srv, sessionsTable: sessions}
}

// browser is an HTTP client with its own cookie jar that does not follow
// redirects, so tests see each response.
type browser struct {
	t   *testing.T
	app *testApp
	c   *http.Client
}

func (a *testApp) browser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	t.Cleanup(c.CloseIdleConnections)
	return &browser{t: t, app: a, c: c}
}

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.app.srv.URL + path)
	require.NoError(b.t, err)
	return resp, readBody(b.t, resp)
}

func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.c.PostForm(b.app.srv.URL+path, form)
	require.NoError(b.t, err)
	return resp, readBody(b.t, resp)
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(body)
}

// token returns the session cookie's value, "" if none.
func (b *browser) token() string {
	u, _ := url.Parse(b.app.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == b.app.cookie {
			return c.Value
		}
	}
	return ""
}

func (a *testApp) alive(t *testing.T, tok string) bool {
	t.Helper()
	ok, err := a.sessions.Exists(context.Background(), tok)
	require.NoError(t, err)
	return ok
}

// count returns how many times sub occurs in s.
func count(s, sub string) int { return strings.Count(s, sub) }
