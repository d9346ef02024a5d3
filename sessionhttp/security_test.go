package sessionhttp_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mysqldriver "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/require"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/codec"
	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessionhttp"
	"github.com/gormsession/gormsession/sessiontest"
)

// The regression tests in this file cover three findings of a security
// review: a login whose Renew failed must never leave the planted
// pre-login token signed in (fixation); a read-only request that
// refreshed the idle deadline must re-send the cookie with the new
// Max-Age; and a read-only request must not write, whatever the codec
// (gob encodes maps in random order).

// TestSecurityFailedRenewNeverSignsInPlantedToken: an attacker plants an
// anonymous stored session's token in the victim's browser; the victim's
// login sets the subject and calls Renew, which fails because another
// connection holds a lock on the session's row (SQLite: the database's
// write lock) and the Manager's database gives up waiting quickly. The
// lock is released right after Renew returned, so the middleware could
// store the session under the planted token if it tried. It must not: the
// handler's 500 goes out unchanged, without a session cookie, and the
// planted token never carries the victim's subject.
func TestSecurityFailedRenewNeverSignsInPlantedToken(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		d := testdb.Dialect(db)
		mgrDB, lockDB := shortLockPools(t, d, db)

		const victim = "user:victim"
		lk := newRowLock()
		renewErr := make(chan error, 1)
		e := setup(t, mgrDB, func(m *sessionhttp.Manager[Cart]) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/", cartMux(m))
			mux.HandleFunc("POST /victim-login", func(w http.ResponseWriter, r *http.Request) {
				s, _ := m.Session(r)
				s.SetSubject(victim)
				err := m.Renew(r)
				renewErr <- err
				// From here on a write of the row would succeed.
				lk.release()
				if err != nil {
					http.Error(w, "renew failed", http.StatusInternalServerError)
					return
				}
				io.WriteString(w, "logged in")
			})
			mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
				s, _ := m.Session(r)
				io.WriteString(w, "subject="+s.Subject())
			})
			return mux
		})

		// The attacker gets a stored, anonymous session.
		attacker := newClient(t, e.ts)
		resp, _ := e.do(t, attacker, http.MethodPost, "/add?item=bait")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		planted := e.token(attacker)
		require.NotEmpty(t, planted)

		// ... and plants it in the victim's browser.
		browser := newClient(t, e.ts)
		plant(t, e, browser, planted)

		lk.acquire(t, d, lockDB, e.table, idOfToken(t, planted))
		resp, body := e.do(t, browser, http.MethodPost, "/victim-login")
		lk.release() // in case the handler did not run

		var err error
		select {
		case err = <-renewErr:
		default:
			t.Fatalf("the login handler did not run: %d %q", resp.StatusCode, body)
		}
		require.Error(t, err, "Renew must fail while the row is locked")
		t.Logf("Renew failed as intended: %v", err)
		require.NoError(t, lk.err(), "the lock was held and released cleanly")

		// The handler's own 500, not the error handler's answer, and no
		// session cookie at all (in particular none with the planted token).
		require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
		require.Equal(t, "renew failed\n", body)
		for _, c := range resp.Cookies() {
			require.NotEqual(t, planted, c.Value, "a Set-Cookie carries the planted token")
		}
		require.Nil(t, sessionCookie(resp, cookieName), "Set-Cookie: %v", resp.Header.Values("Set-Cookie"))
		require.Equal(t, planted, e.token(browser))

		// The planted token is dead or still anonymous, never the victim.
		s, lerr := e.c.Load(context.Background(), planted)
		if lerr != nil {
			require.ErrorIs(t, lerr, session.ErrNotFound)
		} else {
			require.Empty(t, s.Subject(), "the planted token was signed in")
		}
		require.Zero(t, countSubject(t, e, victim), "a row carries the victim's subject")

		// The attacker, still holding the planted token, is not the victim.
		_, body = e.get(t, attacker, "/whoami")
		require.Equal(t, "subject=", body)
		require.Zero(t, countSubject(t, e, victim))
	})
}

// TestSecurityForgottenRenewMovesToNewToken: a login handler that sets the
// subject of a planted, stored session but forgets Renew still moves the
// session to a new token; the planted one is dead.
func TestSecurityForgottenRenewMovesToNewToken(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		const victim = "user:victim"
		e := setup(t, db, func(m *sessionhttp.Manager[Cart]) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/", cartMux(m))
			mux.HandleFunc("POST /careless-login", func(w http.ResponseWriter, r *http.Request) {
				s, _ := m.Session(r)
				s.SetSubject(victim)
				io.WriteString(w, "logged in")
			})
			return mux
		})

		attacker := newClient(t, e.ts)
		e.do(t, attacker, http.MethodPost, "/add?item=bait")
		planted := e.token(attacker)
		require.NotEmpty(t, planted)

		browser := newClient(t, e.ts)
		plant(t, e, browser, planted)
		resp, body := e.do(t, browser, http.MethodPost, "/careless-login")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "logged in", body)

		c := sessionCookie(resp, cookieName)
		require.NotNil(t, c, "Set-Cookie: %v", resp.Header.Values("Set-Cookie"))
		require.NotEqual(t, planted, c.Value, "the session stayed on the planted token")
		require.Positive(t, c.MaxAge)
		require.Equal(t, c.Value, e.token(browser))

		s, err := e.c.Load(context.Background(), c.Value)
		require.NoError(t, err)
		require.Equal(t, victim, s.Subject())
		require.Equal(t, []string{"bait"}, s.Data.Items, "the renewed session keeps its data")

		_, err = e.c.Load(context.Background(), planted)
		require.ErrorIs(t, err, session.ErrNotFound, "the planted token must be dead")
		require.EqualValues(t, 1, countSubject(t, e, victim))
		require.EqualValues(t, 1, e.count(t))
	})
}

// TestSecurityIdleRefreshResendsCookie: with an idle timeout, a user who
// only reads keeps the session alive on the server, and every refresh of
// the idle deadline re-sends the cookie so that the browser keeps it too.
// Before the fix the cookie's Max-Age moved only on a save, so the browser
// dropped the cookie while the server session lived on.
func TestSecurityIdleRefreshResendsCookie(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		const idle = 3 * time.Second
		clock := sessiontest.NewClock(time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC))
		e := setupContainer[Cart](t, db, cartMux,
			session.WithIdleTimeout(idle), sessiontest.WithClock(clock.Now))

		resp, body := e.do(t, e.client, http.MethodPost, "/add?item=apple")
		require.Equal(t, "items=apple", body)
		c := sessionCookie(resp, cookieName)
		require.NotNil(t, c)
		require.Positive(t, c.MaxAge)
		require.LessOrEqual(t, c.MaxAge, int(idle/time.Second))
		tok := c.Value
		browserExpiry := clock.Now().Add(time.Duration(c.MaxAge) * time.Second)

		refreshes := 0
		for i := range 12 { // 6s of fake time: twice the idle timeout
			clock.Advance(500 * time.Millisecond)
			now := clock.Now()
			require.True(t, now.Before(browserExpiry),
				"read %d: the browser dropped the cookie %v ago while the session lives", i, now.Sub(browserExpiry))
			resp, body := e.get(t, e.client, "/")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Equal(t, "items=apple", body, "read %d saw a fresh session", i)
			if c := sessionCookie(resp, cookieName); c != nil {
				require.Equal(t, tok, c.Value, "read %d: a read-only request changed the token", i)
				require.Positive(t, c.MaxAge)
				browserExpiry = now.Add(time.Duration(c.MaxAge) * time.Second)
				if c.MaxAge >= 2 && c.MaxAge <= 3 {
					refreshes++
				}
			}
			require.Equal(t, tok, e.token(e.client))
		}
		require.Positive(t, refreshes, "no read-only response re-sent the cookie with a Max-Age near the idle timeout")

		// The stored session really is alive at the end, unchanged.
		require.Equal(t, []string{"apple"}, e.stored(t, tok).Items)
	})
}

// Prefs is a payload with a map of several keys, which gob encodes in a
// random order, and a slice.
type Prefs struct {
	Scores map[string]int `json:"scores"`
	Tags   []string       `json:"tags"`
}

func newPrefs() Prefs {
	p := Prefs{Scores: map[string]int{}, Tags: []string{"a", "b", "c"}}
	for i := range 20 {
		p.Scores[fmt.Sprintf("k%02d", i)] = i * 7
	}
	return p
}

// prefsMux serves:
//
//	POST /seed  stores newPrefs()
//	GET  /      the payload as JSON, without changing it
//	POST /bump  adds 1 to Scores["k07"]
func prefsMux(m *sessionhttp.Manager[Prefs]) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /seed", func(w http.ResponseWriter, r *http.Request) {
		s, _ := m.Session(r)
		s.Data = newPrefs()
		io.WriteString(w, "seeded")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s, _ := m.Session(r)
		b, _ := json.Marshal(s.Data) // sorted keys: deterministic
		w.Write(b)
	})
	mux.HandleFunc("POST /bump", func(w http.ResponseWriter, r *http.Request) {
		s, _ := m.Session(r)
		s.Data.Scores["k07"]++
		io.WriteString(w, "bumped")
	})
	return mux
}

// TestSecurityReadOnlyRequestsDoNotWrite: for each shipped codec,
// concurrent read-only requests of one session all succeed and write
// nothing (the stored version does not move), while a real change is
// still saved. Before the fix gob's random map order made every read a
// write, and concurrent reads of one cookie failed with 409.
func TestSecurityReadOnlyRequestsDoNotWrite(t *testing.T) {
	t.Parallel()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cases := []struct {
		name    string
		cd      codec.Codec
		sealed  bool
		readers []int
	}{
		{"json", codec.JSON{}, false, []int{8}},
		{"gob", codec.Gob{}, false, []int{8, 32}},
		{"sealed-json", codec.JSON{}, true, []int{8}},
		{"sealed-gob", codec.Gob{}, true, []int{8, 32}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testdb.Each(t, func(t *testing.T, db *gorm.DB) {
				opts := []session.Option{session.WithCodec(tc.cd)}
				if tc.sealed {
					opts = append(opts, session.WithEncryption(key))
				}
				e := setupContainer[Prefs](t, db, prefsMux, opts...)

				resp, _ := e.do(t, e.client, http.MethodPost, "/seed")
				require.Equal(t, http.StatusOK, resp.StatusCode)
				tok := e.token(e.client)
				require.NotEmpty(t, tok)
				id := idOfToken(t, tok)
				want, err := json.Marshal(newPrefs())
				require.NoError(t, err)
				v0 := storedVersion(t, e, id)
				require.EqualValues(t, 1, v0, "storing a new session is one write")

				for _, n := range tc.readers {
					codes, bodies, cookies, errs := concurrentGets(e, e.client, "/", n)
					ok := make([]int, n)
					for i := range n {
						require.NoError(t, errs[i], "reader %d of %d", i, n)
						ok[i] = http.StatusOK
					}
					require.Equal(t, ok, codes, "statuses of %d concurrent read-only requests", n)
					for i := range n {
						require.JSONEq(t, string(want), bodies[i], "reader %d of %d", i, n)
						require.Empty(t, cookies[i], "reader %d of %d got a Set-Cookie", i, n)
					}
					require.Equal(t, v0, storedVersion(t, e, id), "%d read-only requests wrote the session", n)
				}

				// A real change is saved: one write, with the new value.
				resp, body := e.do(t, e.client, http.MethodPost, "/bump")
				require.Equal(t, http.StatusOK, resp.StatusCode, body)
				require.Equal(t, v0+1, storedVersion(t, e, id))
				s, err := e.c.Load(context.Background(), tok)
				require.NoError(t, err)
				wantData := newPrefs()
				wantData.Scores["k07"]++
				require.Equal(t, wantData, s.Data)

				// And reading it back afterwards is again no write.
				_, body = e.get(t, e.client, "/")
				require.Contains(t, body, `"k07":50`)
				require.Equal(t, v0+1, storedVersion(t, e, id))
			})
		})
	}
}

// --- helpers -------------------------------------------------------------

// tenv is env for any payload type.
type tenv[T any] struct {
	db     *gorm.DB
	table  string
	c      *session.Container[T]
	m      *sessionhttp.Manager[T]
	ts     *httptest.Server
	client *http.Client
}

// setupContainer is setup for a payload of type T and a container made
// with opts (on a fresh table, without random cleanup).
func setupContainer[T any](t *testing.T, db *gorm.DB, mux func(m *sessionhttp.Manager[T]) http.Handler, opts ...session.Option) *tenv[T] {
	t.Helper()
	table := testdb.Table(t, db)
	opts = append([]session.Option{session.WithTable(table), session.WithCleanupFrequency(0)}, opts...)
	c, err := session.New[T](db, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { hooks.Of(db).Wait() })
	e := &tenv[T]{db: db, table: table, c: c}
	e.m, err = sessionhttp.New(c, sessionhttp.WithLogger(slog.New(slog.DiscardHandler)))
	require.NoError(t, err)
	e.ts = httptest.NewTLSServer(e.m.Handler(mux(e.m)))
	t.Cleanup(e.ts.Close)
	e.client = newClient(t, e.ts)
	return e
}

func (e *tenv[T]) do(t *testing.T, cl *http.Client, method, path string) (*http.Response, string) {
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

func (e *tenv[T]) get(t *testing.T, cl *http.Client, path string) (*http.Response, string) {
	t.Helper()
	return e.do(t, cl, http.MethodGet, path)
}

func (e *tenv[T]) token(cl *http.Client) string {
	u, _ := url.Parse(e.ts.URL)
	for _, c := range cl.Jar.Cookies(u) {
		if c.Name == cookieName {
			return c.Value
		}
	}
	return ""
}

func (e *tenv[T]) stored(t *testing.T, tok string) T {
	t.Helper()
	s, err := e.c.Load(context.Background(), tok)
	require.NoError(t, err)
	return s.Data
}

// concurrentGets sends n GETs of path at once from cl and returns each
// one's status, body, session Set-Cookie values and error.
func concurrentGets[T any](e *tenv[T], cl *http.Client, path string, n int) (codes []int, bodies []string, cookies [][]string, errs []error) {
	codes, bodies, cookies, errs = make([]int, n), make([]string, n), make([][]string, n), make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			resp, err := cl.Get(e.ts.URL + path)
			if err != nil {
				errs[i] = err
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			codes[i], bodies[i], errs[i] = resp.StatusCode, string(b), err
			for _, c := range resp.Cookies() {
				if c.Name == cookieName {
					cookies[i] = append(cookies[i], c.Value)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	return codes, bodies, cookies, errs
}

// storedVersion reads the version column of the row with id.
func storedVersion[T any](t *testing.T, e *tenv[T], id string) int64 {
	t.Helper()
	var v []int64
	require.NoError(t, e.db.Table(e.table).Where("id = ?", id).Pluck("version", &v).Error)
	require.Len(t, v, 1, "no row for the session")
	return v[0]
}

// idOfToken is the stored id of tok: the lower-case hex SHA-256 of its
// base64url-decoded 32 bytes.
func idOfToken(t *testing.T, tok string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	require.NoError(t, err)
	require.Len(t, raw, 32)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// plant puts the session cookie tok into cl's jar, as an attacker who can
// set cookies for the victim's browser would.
func plant(t *testing.T, e *env, cl *http.Client, tok string) {
	t.Helper()
	u, err := url.Parse(e.ts.URL)
	require.NoError(t, err)
	cl.Jar.SetCookies(u, []*http.Cookie{{Name: cookieName, Value: tok, Path: "/", Secure: true}})
	require.Equal(t, tok, e.token(cl))
}

func countSubject(t *testing.T, e *env, subject string) int64 {
	t.Helper()
	var n int64
	require.NoError(t, e.db.Table(e.table).Where("subject = ?", subject).Count(&n).Error)
	return n
}

// shortLockPools returns, for dialect d, a pool for the Manager that
// gives up quickly on a lock (SQLite: a 200ms busy timeout; PostgreSQL:
// lock_timeout 200ms; MySQL/MariaDB: innodb_lock_wait_timeout 1s) and a
// second pool on the same database for the test to hold locks with. db is
// the pool testdb.Each made for d.
func shortLockPools(t *testing.T, d string, db *gorm.DB) (mgr, locker *gorm.DB) {
	t.Helper()
	cfg := &gorm.Config{Logger: testdb.Logger()}
	testdb.ApplyGormConfig(t, cfg, os.Getenv(testdb.EnvGormConfig))
	var dial gorm.Dialector
	locker = db
	switch d {
	case testdb.SQLite:
		path := filepath.Join(t.TempDir(), "fixation.db")
		dsn := testdb.SQLiteDSN(path)
		short := strings.Replace(dsn, "_busy_timeout=10000", "_busy_timeout=200", 1)
		require.NotEqual(t, dsn, short, "testdb.SQLiteDSN no longer sets _busy_timeout=10000")
		dial = sqlite.Open(short)
		locker = testdb.OpenAt(t, testdb.SQLite, path, nil)
	case testdb.Postgres:
		pc, err := pgx.ParseConfig(os.Getenv(testdb.EnvPostgres))
		require.NoError(t, err)
		pc.RuntimeParams["lock_timeout"] = "200ms"
		sqlDB := stdlib.OpenDB(*pc)
		t.Cleanup(func() { _ = sqlDB.Close() })
		dial = postgres.New(postgres.Config{Conn: sqlDB})
	case testdb.MySQL:
		mc, err := mysqldriver.ParseDSN(os.Getenv(testdb.EnvMySQL))
		require.NoError(t, err)
		if mc.Params == nil {
			mc.Params = map[string]string{}
		}
		mc.Params["innodb_lock_wait_timeout"] = "1"
		dial = mysql.Open(mc.FormatDSN())
	default:
		t.Fatalf("unknown dialect %q", d)
	}
	mgr, err := gorm.Open(dial, cfg)
	require.NoError(t, err)
	sqlDB, err := mgr.DB()
	require.NoError(t, err)
	sqlDB.SetMaxOpenConns(16)
	t.Cleanup(func() { _ = sqlDB.Close() })
	return mgr, locker
}

// rowLock is a lock held by another connection on one session's row
// (SQLite: on the whole database), in a transaction of its own goroutine,
// until release.
type rowLock struct {
	once     sync.Once
	stop     chan struct{}
	released chan struct{}
	e        error
}

func newRowLock() *rowLock {
	return &rowLock{stop: make(chan struct{}), released: make(chan struct{})}
}

// acquire locks the row with id of table through db and returns once the
// lock is held. PostgreSQL and MySQL: SELECT ... FOR UPDATE in a
// transaction; SQLite: BEGIN IMMEDIATE, which takes the write lock. Call
// it once.
func (lk *rowLock) acquire(t *testing.T, d string, db *gorm.DB, table, id string) {
	t.Helper()
	locked := make(chan error, 1)
	go func() {
		defer close(lk.released)
		ctx := context.Background()
		sqlDB, err := db.DB()
		if err != nil {
			locked <- err
			return
		}
		conn, err := sqlDB.Conn(ctx)
		if err != nil {
			locked <- err
			return
		}
		defer conn.Close()
		var got string
		if d == testdb.SQLite {
			_, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE")
		} else if _, err = conn.ExecContext(ctx, "BEGIN"); err == nil {
			q := "SELECT id FROM " + table + " WHERE id = ? FOR UPDATE"
			if d == testdb.Postgres {
				q = strings.Replace(q, "?", "$1", 1)
			}
			err = conn.QueryRowContext(ctx, q, id).Scan(&got)
			if err == nil && got != id {
				err = errors.New("locked the wrong row")
			}
		}
		if err != nil {
			_, _ = conn.ExecContext(ctx, "ROLLBACK")
			locked <- err
			return
		}
		locked <- nil
		<-lk.stop
		_, lk.e = conn.ExecContext(ctx, "ROLLBACK")
	}()
	t.Cleanup(lk.release)
	require.NoError(t, <-locked, "taking the lock")
}

// release ends the lock's transaction and waits until it has ended. Safe
// to call more than once and from any goroutine, once acquire was called.
func (lk *rowLock) release() {
	lk.once.Do(func() { close(lk.stop) })
	<-lk.released
}

// err is the error of ending the lock's transaction; call after release.
func (lk *rowLock) err() error {
	<-lk.released
	return lk.e
}
