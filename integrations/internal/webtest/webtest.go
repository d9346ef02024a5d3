// Package webtest is the shared test bed of the web framework integrations
// (integrations/gin, integrations/echo): a session.Container and a
// sessionhttp.Manager of Carts on a table of their own, on each of the
// three databases, behind a TLS test server, with clients that keep
// cookies, and a way to take the database away mid-test. It is for the
// integrations' tests only.
package webtest

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessionhttp"
)

// Cart is the payload the tests store.
type Cart struct {
	Items []string `json:"items,omitempty"`
	Count int      `json:"count,omitempty"`
}

// CookieName is the session cookie's name (sessionhttp's default).
const CookieName = "__Host-session"

// Env is one test's sessions: C and M on a table of their own, served by
// the handler given to Serve.
type Env struct {
	Dialect string
	// DB is a handle of its own on the database, for looking at the table
	// (it stays up when Down takes the container's handle away).
	DB    *gorm.DB
	Table string
	C     *session.Container[Cart]
	M     *sessionhttp.Manager[Cart]
	URL   string // the test server's, once Serve ran

	client *http.Client
	down   func()
}

// Each runs fn as a parallel subtest on each dialect (see testdb.Each:
// PostgreSQL and MariaDB are skipped when their DSN variable is unset,
// unless GORMSESSION_TEST_REQUIRE names them).
func Each(t *testing.T, fn func(t *testing.T, d string)) {
	t.Helper()
	for _, d := range testdb.All {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			testdb.Require(t, d)
			fn(t, d)
		})
	}
}

// New returns the sessions of one test on dialect d. The container runs on
// a connection pool of its own which Down can take away: on PostgreSQL and
// MariaDB it reaches the server through a TCP relay that Down shuts (the
// server looks gone: connections break and new ones are refused, which
// the store reports as session.ErrUnavailable); on SQLite Down closes the
// pool (sql: database is closed, which is not unavailability). Random
// cleanup is off.
func New(t *testing.T, d string, opts ...sessionhttp.Option) *Env {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db") // SQLite: both pools share it
	keeper := testdb.OpenAt(t, d, path, nil)
	table := testdb.Table(t, keeper) // dropped through keeper at the end
	db, down := cuttable(t, d, path)
	c, err := session.New[Cart](db, session.WithTable(table), session.WithCleanupFrequency(0))
	require.NoError(t, err)
	t.Cleanup(func() { hooks.Of(db).Wait() })
	m, err := sessionhttp.New(c, opts...)
	require.NoError(t, err)
	return &Env{Dialect: d, DB: keeper, Table: table, C: c, M: m, down: down}
}

// Serve starts a TLS test server of h, closed when t ends.
func (e *Env) Serve(t *testing.T, h http.Handler) {
	t.Helper()
	ts := httptest.NewTLSServer(h)
	t.Cleanup(ts.Close)
	e.URL = ts.URL
	e.client = ts.Client()
}

// Client returns a client of the server with a cookie jar of its own, which
// does not follow redirects.
func (e *Env) Client(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	cl := *e.client
	cl.Jar = jar
	cl.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	t.Cleanup(cl.CloseIdleConnections)
	return &cl
}

// Do sends method path (no body) with cl and returns the response and its
// body, read.
func (e *Env) Do(t *testing.T, cl *http.Client, method, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.URL+path, nil)
	require.NoError(t, err)
	resp, err := cl.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(body)
}

// Token returns the session token cl's jar holds for the server, "" if none.
func (e *Env) Token(cl *http.Client) string {
	u, _ := url.Parse(e.URL)
	for _, c := range cl.Jar.Cookies(u) {
		if c.Name == CookieName {
			return c.Value
		}
	}
	return ""
}

// SetToken puts tok in cl's jar as the session cookie.
func (e *Env) SetToken(cl *http.Client, tok string) {
	u, _ := url.Parse(e.URL)
	cl.Jar.SetCookies(u, []*http.Cookie{{Name: CookieName, Value: tok, Path: "/", Secure: true}})
}

// Count returns the number of rows in the table.
func (e *Env) Count(t *testing.T) int64 {
	t.Helper()
	var n int64
	require.NoError(t, e.DB.Table(e.Table).Count(&n).Error)
	return n
}

// Stored returns the stored Data of tok, failing t if it does not open.
func (e *Env) Stored(t *testing.T, tok string) Cart {
	t.Helper()
	s, err := e.C.Load(context.Background(), tok)
	require.NoError(t, err)
	return s.Data
}

// Down takes the container's database away (see New).
func (e *Env) Down() { e.down() }

// SessionCookie returns the session cookie resp sets, or nil.
func SessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == CookieName {
			return c
		}
	}
	return nil
}

// cuttable opens a pool on dialect d that the returned function takes away.
func cuttable(t *testing.T, d, path string) (*gorm.DB, func()) {
	t.Helper()
	cfg := &gorm.Config{Logger: testdb.Logger()}
	var dial gorm.Dialector
	var r *relay
	switch d {
	case testdb.SQLite:
		db := testdb.OpenAt(t, d, path, cfg)
		sqlDB, err := db.DB()
		require.NoError(t, err)
		return db, func() { _ = sqlDB.Close() }
	case testdb.Postgres:
		pc, err := pgx.ParseConfig(os.Getenv(testdb.EnvPostgres))
		require.NoError(t, err)
		r = startRelay(t, net.JoinHostPort(pc.Host, strconv.Itoa(int(pc.Port))))
		pc.Host, pc.Port, pc.Fallbacks = "127.0.0.1", uint16(r.port()), nil
		sqlDB := stdlib.OpenDB(*pc)
		t.Cleanup(func() { _ = sqlDB.Close() })
		dial = postgres.New(postgres.Config{Conn: sqlDB})
	case testdb.MySQL:
		mc, err := mysqldriver.ParseDSN(os.Getenv(testdb.EnvMySQL))
		require.NoError(t, err)
		r = startRelay(t, mc.Addr)
		mc.Net, mc.Addr = "tcp", r.addr()
		dial = mysql.Open(mc.FormatDSN())
	}
	db, err := gorm.Open(dial, cfg)
	require.NoError(t, err)
	sqlDB, err := db.DB()
	require.NoError(t, err)
	sqlDB.SetMaxOpenConns(16)
	t.Cleanup(func() { _ = sqlDB.Close() })
	return db, r.shut
}

// relay forwards TCP connections from a port of 127.0.0.1 to a database
// server, until shut.
type relay struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	shutUp bool
	wg     sync.WaitGroup
}

func startRelay(t *testing.T, target string) *relay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	r := &relay{ln: ln, target: target}
	r.wg.Add(1)
	go r.serve()
	t.Cleanup(func() { r.shut(); r.wg.Wait() })
	return r
}

func (r *relay) addr() string { return r.ln.Addr().String() }
func (r *relay) port() int    { return r.ln.Addr().(*net.TCPAddr).Port }

func (r *relay) serve() {
	defer r.wg.Done()
	for {
		in, err := r.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.Dial("tcp", r.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		if !r.track(in, out) {
			return
		}
		r.wg.Add(2)
		go r.pipe(in, out)
		go r.pipe(out, in)
	}
}

// track remembers a relayed pair, or closes it when the relay is shut.
func (r *relay) track(in, out net.Conn) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shutUp {
		_ = in.Close()
		_ = out.Close()
		return false
	}
	r.conns = append(r.conns, in, out)
	return true
}

func (r *relay) pipe(dst, src net.Conn) {
	defer r.wg.Done()
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
}

// shut stops listening (new connections are refused) and breaks every
// relayed connection. Calling it again does nothing.
func (r *relay) shut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.shutUp {
		return
	}
	r.shutUp = true
	_ = r.ln.Close()
	for _, c := range r.conns {
		_ = c.Close()
	}
}
