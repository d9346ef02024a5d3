package gorillastore_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/gob"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/adapters/gorillastore"
	"github.com/gormsession/gormsession/codec"
	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessiontest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, testdb.LeakOptions...)
}

// Cart is a type an application keeps in Values; like every such type it
// is registered with gob.
type Cart struct {
	Items []string
}

func init() { gob.Register(Cart{}) }

const cookieName = "sid"

// env is one test's store on a table of its own.
type env struct {
	db    *gorm.DB
	table string
	c     *session.Container[[]byte]
	st    *gorillastore.Store
	// writes counts the saves and renews that reached the database.
	writes atomic.Int64
}

func newEnv(t *testing.T, db *gorm.DB, opts ...session.Option) *env {
	t.Helper()
	e := &env{db: db, table: testdb.Table(t, db)}
	opts = append([]session.Option{
		session.WithTable(e.table),
		session.WithCodec(codec.Gob{}),
		session.WithObserver(func(_ context.Context, ev session.Event) {
			if (ev.Op == "save" || ev.Op == "renew") && ev.Err == nil {
				e.writes.Add(1)
			}
		}),
	}, opts...)
	e.c = sessiontest.NewOn[[]byte](t, db, opts...)
	st, err := gorillastore.New(e.c)
	require.NoError(t, err)
	e.st = st
	return e
}

// rows counts the stored sessions, live or not.
func (e *env) rows(t *testing.T) int64 {
	t.Helper()
	var n int64
	require.NoError(t, e.db.Table(e.table).Count(&n).Error)
	return n
}

// storedAs reports whether the table has a row under the hash of tok, and
// whether it has one under tok itself (it never should).
func (e *env) storedAs(t *testing.T, tok string) (hashed, plain bool) {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	require.NoError(t, err)
	sum := sha256.Sum256(raw)
	var n, m int64
	require.NoError(t, e.db.Table(e.table).Where("id = ?", hex.EncodeToString(sum[:])).Count(&n).Error)
	require.NoError(t, e.db.Table(e.table).Where("id = ?", tok).Count(&m).Error)
	return n == 1, m > 0
}

// status maps a store error to the HTTP status an application would answer.
func status(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, session.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, session.ErrNotFound):
		return http.StatusGone
	default:
		return http.StatusInternalServerError
	}
}

// view is what the test app answers: the session as the handler saw it.
type view struct {
	New     bool     `json:"new"`
	ID      string   `json:"id"`
	User    string   `json:"user"`
	Items   []string `json:"items"`
	Flashes []string `json:"flashes"`
}

func viewOf(s *sessions.Session, flashes []any) view {
	v := view{New: s.IsNew, ID: s.ID}
	if u, ok := s.Values["user"].(string); ok {
		v.User = u
	}
	if c, ok := s.Values["cart"].(Cart); ok {
		v.Items = c.Items
	}
	for _, f := range flashes {
		v.Flashes = append(v.Flashes, f.(string))
	}
	return v
}

// gate holds a request between loading its session and saving it, so a
// test can run another request in between.
type gate struct {
	loaded  chan struct{}
	release chan struct{}
}

func newGate() *gate { return &gate{loaded: make(chan struct{}), release: make(chan struct{})} }

// browser is an HTTPS client with a cookie jar.
type browser struct {
	t   *testing.T
	srv *httptest.Server
	c   *http.Client
}

func newBrowser(t *testing.T, srv *httptest.Server) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := srv.Client()
	c.Jar = jar
	return &browser{t: t, srv: srv, c: c}
}

// do sends a request and returns the status, the decoded view (for a 200)
// and the response's Set-Cookie cookies.
func (b *browser) do(method, path string) (int, view, []*http.Cookie) {
	b.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, b.srv.URL+path, nil)
	require.NoError(b.t, err)
	res, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer res.Body.Close()
	var v view
	if res.StatusCode == http.StatusOK {
		require.NoError(b.t, json.NewDecoder(res.Body).Decode(&v))
	}
	return res.StatusCode, v, res.Cookies()
}

// token is the session token the browser holds ("" when none).
func (b *browser) token() string {
	u, err := url.Parse(b.srv.URL)
	require.NoError(b.t, err)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == cookieName {
			return c.Value
		}
	}
	return ""
}

// setToken plants a cookie in the browser, as an attacker would.
func (b *browser) setToken(tok string) {
	u, err := url.Parse(b.srv.URL)
	require.NoError(b.t, err)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: tok, Path: "/"}})
}

func newStoreOn(t *testing.T, c *session.Container[[]byte]) *gorillastore.Store {
	t.Helper()
	st, err := gorillastore.New(c)
	require.NoError(t, err)
	return st
}
