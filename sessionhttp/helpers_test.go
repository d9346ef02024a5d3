package sessionhttp_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessionhttp"
)

// Cart is the payload the tests store.
type Cart struct {
	Items []string `json:"items"`
	Flash string   `json:"flash,omitempty"`
	Count int      `json:"count,omitempty"`
}

// cookieName is the session cookie's default name.
const cookieName = "__Host-session"

// env is a TLS server running h under a Manager of Carts on a fresh table.
type env struct {
	db     *gorm.DB
	table  string
	c      *session.Container[Cart]
	m      *sessionhttp.Manager[Cart]
	ts     *httptest.Server
	client *http.Client
	logs   *syncBuffer
}

// setup starts an httptest TLS server serving mux(m) wrapped in m.Handler,
// with a client that keeps cookies. The Manager logs into e.logs.
func setup(t *testing.T, db *gorm.DB, mux func(m *sessionhttp.Manager[Cart]) http.Handler, opts ...sessionhttp.Option) *env {
	t.Helper()
	table := testdb.Table(t, db)
	c, err := session.New[Cart](db, session.WithTable(table), session.WithCleanupFrequency(0))
	require.NoError(t, err)
	t.Cleanup(func() { hooks.Of(db).Wait() })
	e := &env{db: db, table: table, c: c, logs: &syncBuffer{}}
	logger := slog.New(slog.NewTextHandler(e.logs, nil))
	e.m, err = sessionhttp.New(c, append([]sessionhttp.Option{sessionhttp.WithLogger(logger)}, opts...)...)
	require.NoError(t, err)
	e.ts = httptest.NewTLSServer(e.m.Handler(mux(e.m)))
	t.Cleanup(e.ts.Close)
	e.client = newClient(t, e.ts)
	return e
}

// newClient returns a client of ts with its own cookie jar.
func newClient(t *testing.T, ts *httptest.Server) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	cl := *ts.Client()
	cl.Jar = jar
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	t.Cleanup(cl.CloseIdleConnections)
	return &cl
}

// get sends a GET of path and returns the response with its body read.
func (e *env) get(t *testing.T, cl *http.Client, path string) (*http.Response, string) {
	t.Helper()
	return e.do(t, cl, http.MethodGet, path)
}

func (e *env) do(t *testing.T, cl *http.Client, method, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, nil)
	require.NoError(t, err)
	resp, err := cl.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

// token returns the session token cl holds for e's server, "" if none.
func (e *env) token(cl *http.Client) string {
	u, _ := url.Parse(e.ts.URL)
	for _, c := range cl.Jar.Cookies(u) {
		if c.Name == cookieName {
			return c.Value
		}
	}
	return ""
}

func (e *env) count(t *testing.T) int64 {
	t.Helper()
	var n int64
	require.NoError(t, e.db.Table(e.table).Count(&n).Error)
	return n
}

func (e *env) stored(t *testing.T, tok string) Cart {
	t.Helper()
	s, err := e.c.Load(context.Background(), tok)
	require.NoError(t, err)
	return s.Data
}

// sessionCookie returns the Set-Cookie of the session cookie in resp, or nil.
func sessionCookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// cartMux serves:
//
//	GET  /         the cart, without changing it
//	POST /add?item the cart with item added
//	GET  /static   a page that never touches the session
//	POST /login    subject "user:1" and Renew
//	POST /logout   Destroy
func cartMux(m *sessionhttp.Manager[Cart]) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s, _ := m.Session(r)
		io.WriteString(w, "items="+strings.Join(s.Data.Items, ","))
	})
	mux.HandleFunc("POST /add", func(w http.ResponseWriter, r *http.Request) {
		s, _ := m.Session(r)
		s.Data.Items = append(s.Data.Items, r.URL.Query().Get("item"))
		io.WriteString(w, "items="+strings.Join(s.Data.Items, ","))
	})
	mux.HandleFunc("GET /static", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "static")
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := m.Session(r)
		s.SetSubject("user:1")
		if err := m.Renew(r); err != nil {
			http.Error(w, "renew failed", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "logged in")
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Destroy(r); err != nil {
			http.Error(w, "destroy failed", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "logged out")
	})
	return mux
}

// syncBuffer is a bytes.Buffer safe for concurrent use, for logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
