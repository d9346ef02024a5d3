package sessionhttp_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessionhttp"
)

func TestAnonymousVisitorGetsNoCookieAndNoRow(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db, cartMux)

		resp, body := e.get(t, e.client, "/")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "items=", body)
		require.Empty(t, resp.Header.Values("Set-Cookie"))
		require.Equal(t, "Cookie", resp.Header.Get("Vary"), "the response used the session")

		resp, _ = e.get(t, e.client, "/static")
		require.Empty(t, resp.Header.Values("Set-Cookie"))
		require.Empty(t, resp.Header.Values("Vary"), "the response did not use the session")

		require.Zero(t, e.count(t))
		require.Empty(t, e.token(e.client))
	})
}

func TestCookieDefaults(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db, cartMux)

		resp, body := e.do(t, e.client, http.MethodPost, "/add?item=apple")
		require.Equal(t, "items=apple", body)
		raw := resp.Header.Values("Set-Cookie")
		require.Len(t, raw, 1)
		c := sessionCookie(resp, "__Host-session")
		require.NotNil(t, c, "Set-Cookie: %v", raw)
		require.Len(t, c.Value, 43)
		require.True(t, c.HttpOnly)
		require.True(t, c.Secure)
		require.Equal(t, http.SameSiteLaxMode, c.SameSite)
		require.Equal(t, "/", c.Path)
		require.Empty(t, c.Domain)
		// Max-Age follows the 24h default lifetime.
		require.InDelta(t, session.LifetimeDefault.Seconds(), float64(c.MaxAge), 5)
		require.Equal(t, "Cookie", resp.Header.Get("Vary"))
		require.Equal(t, `no-cache="Set-Cookie"`, resp.Header.Get("Cache-Control"))

		require.EqualValues(t, 1, e.count(t))
		require.Equal(t, []string{"apple"}, e.stored(t, c.Value).Items)

		// An unchanged session is not written again and gets no new cookie.
		resp, body = e.get(t, e.client, "/")
		require.Equal(t, "items=apple", body)
		require.Empty(t, resp.Header.Values("Set-Cookie"))
	})
}

func TestCookieOptions(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	e := setup(t, db, cartMux,
		sessionhttp.WithSecure(false),
		sessionhttp.WithSameSite(http.SameSiteStrictMode),
		sessionhttp.WithPath("/"),
		sessionhttp.WithDomain("example.test"),
		sessionhttp.WithPersistent(false),
	)
	require.Equal(t, "session", e.m.CookieName())
	resp, _ := e.do(t, e.client, http.MethodPost, "/add?item=x")
	c := sessionCookie(resp, "session")
	require.NotNil(t, c)
	require.False(t, c.Secure)
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, c.SameSite)
	require.Equal(t, "example.test", c.Domain)
	require.Zero(t, c.MaxAge, "a browser-session cookie has no Max-Age")

	named := sessionhttp.New(e.c, sessionhttp.WithCookieName("sid"), sessionhttp.WithHTTPOnly(false))
	require.NoError(t, named.Err())
	require.Equal(t, "sid", named.CookieName())
}

func TestInvalidOptions(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	c, err := session.New[Cart](db, session.WithTable(testdb.Table(t, db)), session.WithCleanupFrequency(0))
	require.NoError(t, err)
	t.Cleanup(func() { hooks.Of(db).Wait() })

	cases := []struct {
		name   string
		c      *session.Container[Cart]
		opts   []sessionhttp.Option
		naming string
	}{
		{"empty name", c, []sessionhttp.Option{sessionhttp.WithCookieName("")}, "WithCookieName"},
		{"name with space", c, []sessionhttp.Option{sessionhttp.WithCookieName("a b")}, "WithCookieName"},
		{"host prefix with domain", c, []sessionhttp.Option{sessionhttp.WithCookieName("__Host-x"), sessionhttp.WithDomain("example.test")}, "WithCookieName"},
		{"host prefix not secure", c, []sessionhttp.Option{sessionhttp.WithCookieName("__Host-x"), sessionhttp.WithSecure(false)}, "WithCookieName"},
		{"secure prefix not secure", c, []sessionhttp.Option{sessionhttp.WithCookieName("__Secure-x"), sessionhttp.WithSecure(false)}, "WithCookieName"},
		{"relative path", c, []sessionhttp.Option{sessionhttp.WithPath("app")}, "WithPath"},
		{"empty domain", c, []sessionhttp.Option{sessionhttp.WithDomain("")}, "WithDomain"},
		{"none without secure", c, []sessionhttp.Option{sessionhttp.WithSameSite(http.SameSiteNoneMode), sessionhttp.WithSecure(false)}, "WithSameSite"},
		{"unknown same site", c, []sessionhttp.Option{sessionhttp.WithSameSite(http.SameSite(9))}, "WithSameSite"},
		{"nil error handler", c, []sessionhttp.Option{sessionhttp.WithErrorHandler(nil)}, "WithErrorHandler"},
		{"nil logger", c, []sessionhttp.Option{sessionhttp.WithLogger(nil)}, "WithLogger"},
		{"nil merge", c, []sessionhttp.Option{sessionhttp.WithMerge[Cart](nil)}, "WithMerge"},
		{"merge of another type", c, []sessionhttp.Option{sessionhttp.WithMerge(func(stored, mine *string) error { return nil })}, "WithMerge"},
		{"nil container", nil, nil, "container"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := sessionhttp.New(tc.c, tc.opts...)
			require.ErrorIs(t, m.Err(), sessionhttp.ErrInvalidOption)
			require.Contains(t, m.Err().Error(), tc.naming)

			// Such a Manager answers every request with the error handler.
			rec := newRecorder()
			called := false
			m.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { called = true })).
				ServeHTTP(rec, newRequest(t, "GET", "/"))
			require.False(t, called)
			require.Equal(t, http.StatusInternalServerError, rec.Code)
		})
	}
}

func TestReloadPersistsAndCountsRows(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db, cartMux)
		for _, item := range []string{"a", "b", "c"} {
			resp, _ := e.do(t, e.client, http.MethodPost, "/add?item="+item)
			require.Equal(t, http.StatusOK, resp.StatusCode)
		}
		_, body := e.get(t, e.client, "/")
		require.Equal(t, "items=a,b,c", body)
		require.EqualValues(t, 1, e.count(t), "one session, saved three times")

		// Another browser has its own session.
		other := newClient(t, e.ts)
		_, body = e.get(t, other, "/")
		require.Equal(t, "items=", body)
	})
}

func TestRenewAndDestroy(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		e := setup(t, db, cartMux)
		e.do(t, e.client, http.MethodPost, "/add?item=apple")
		before := e.token(e.client)
		require.NotEmpty(t, before)

		resp, body := e.do(t, e.client, http.MethodPost, "/login")
		require.Equal(t, "logged in", body)
		c := sessionCookie(resp, "__Host-session")
		require.NotNil(t, c)
		after := e.token(e.client)
		require.Equal(t, c.Value, after)
		require.NotEqual(t, before, after, "login changes the token")

		alive, err := e.c.Exists(ctx, before)
		require.NoError(t, err)
		require.False(t, alive, "the token from before login is dead")
		s, err := e.c.Load(ctx, after)
		require.NoError(t, err)
		require.Equal(t, "user:1", s.Subject())
		require.Equal(t, []string{"apple"}, s.Data.Items, "renewal keeps the data")
		require.EqualValues(t, 1, e.count(t))

		resp, body = e.do(t, e.client, http.MethodPost, "/logout")
		require.Equal(t, "logged out", body)
		c = sessionCookie(resp, "__Host-session")
		require.NotNil(t, c, "logout expires the cookie")
		require.Empty(t, c.Value)
		require.Less(t, c.MaxAge, 0, "Max-Age=0")
		require.True(t, c.Secure, "a __Host- cookie is only deleted with its attributes")
		require.Empty(t, e.token(e.client), "the browser dropped the cookie")
		require.Zero(t, e.count(t))
		alive, err = e.c.Exists(ctx, after)
		require.NoError(t, err)
		require.False(t, alive)

		// The next visit is anonymous again.
		resp, body = e.get(t, e.client, "/")
		require.Equal(t, "items=", body)
		require.Empty(t, resp.Header.Values("Set-Cookie"))
	})
}

func TestRenewOfANewSessionStoresIt(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	e := setup(t, db, cartMux)
	resp, body := e.do(t, e.client, http.MethodPost, "/login")
	require.Equal(t, "logged in", body)
	c := sessionCookie(resp, "__Host-session")
	require.NotNil(t, c)
	s, err := e.c.Load(context.Background(), c.Value)
	require.NoError(t, err)
	require.Equal(t, "user:1", s.Subject())
}

func TestDestroyThenWriteStartsAFreshSession(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	e := setup(t, db, func(m *sessionhttp.Manager[Cart]) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("/", cartMux(m))
		mux.HandleFunc("POST /logout-flash", func(w http.ResponseWriter, r *http.Request) {
			old, _ := m.Session(r)
			if err := m.Destroy(r); err != nil {
				http.Error(w, "destroy failed", http.StatusInternalServerError)
				return
			}
			s, _ := m.Session(r)
			if s == old || !s.IsNew() || len(s.Data.Items) != 0 {
				http.Error(w, "not a fresh session", http.StatusInternalServerError)
				return
			}
			s.Data.Flash = "bye"
			io.WriteString(w, "ok")
		})
		return mux
	})
	e.do(t, e.client, http.MethodPost, "/add?item=apple")
	old := e.token(e.client)

	resp, body := e.do(t, e.client, http.MethodPost, "/logout-flash")
	require.Equal(t, "ok", body)
	c := sessionCookie(resp, "__Host-session")
	require.NotNil(t, c)
	require.NotEqual(t, old, c.Value)
	require.Positive(t, c.MaxAge)
	alive, err := e.c.Exists(context.Background(), old)
	require.NoError(t, err)
	require.False(t, alive)
	require.Equal(t, Cart{Flash: "bye"}, e.stored(t, c.Value))
	require.EqualValues(t, 1, e.count(t))
}

// A cookie naming no live session is neither adopted nor expired: expiring
// it could delete the new cookie a concurrent sign-in just set.
func TestUnknownCookieIsLeftAlone(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	e := setup(t, db, cartMux)
	for _, value := range []string{"not-a-token", strings.Repeat("A", 43)} {
		req := newRequest(t, http.MethodGet, e.ts.URL+"/")
		req.AddCookie(&http.Cookie{Name: "__Host-session", Value: value})
		resp, err := e.ts.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Empty(t, resp.Header.Values("Set-Cookie"))

		// A write replaces it with a new token.
		req = newRequest(t, http.MethodPost, e.ts.URL+"/add?item=x")
		req.AddCookie(&http.Cookie{Name: "__Host-session", Value: value})
		resp, err = e.ts.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		c := sessionCookie(resp, "__Host-session")
		require.NotNil(t, c)
		require.NotEqual(t, value, c.Value, "an unknown token is never adopted")
	}
	require.EqualValues(t, 2, e.count(t))
}

func TestSetCookieBeforeBodyWithFlush(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	release := make(chan struct{})
	done := make(chan error, 1)
	e := setup(t, db, func(m *sessionhttp.Manager[Cart]) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, _ := m.Session(r)
			s.Data.Items = []string{"streamed"}
			io.WriteString(w, "first chunk\n")
			err := http.NewResponseController(w).Flush()
			if err == nil {
				err = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Minute))
			}
			done <- err
			<-release
			io.WriteString(w, "second chunk\n")
		})
	})
	defer close(release)

	resp, err := e.client.Get(e.ts.URL + "/")
	require.NoError(t, err)
	defer resp.Body.Close()
	// The handler is still running: the header, with the cookie, and the
	// first chunk arrived because Flush went through.
	require.NoError(t, <-done, "Flush and SetWriteDeadline work through the wrapper")
	c := sessionCookie(resp, "__Host-session")
	require.NotNil(t, c)
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	require.NoError(t, err)
	require.Equal(t, "first chunk\n", line)
	require.Equal(t, []string{"streamed"}, e.stored(t, c.Value).Items, "saved before the first byte")
}

func TestHijackWorks(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	e := setup(t, db, func(m *sessionhttp.Manager[Cart]) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, _ := m.Session(r)
			s.Data.Items = []string{"upgraded"}
			conn, rw, err := http.NewResponseController(w).Hijack()
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			defer conn.Close()
			rw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
			rw.Flush()
		})
	})
	_, body := e.get(t, e.client, "/")
	require.Equal(t, "hijacked", body)
	require.EqualValues(t, 1, e.count(t), "the session was saved before the hijack")
}

func TestReadFromAndVaryMerging(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	e := setup(t, db, func(m *sessionhttp.Manager[Cart]) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, _ := m.Session(r)
			s.Data.Items = []string{"copied"}
			w.Header().Set("Vary", "Accept-Encoding")
			w.Header().Set("Cache-Control", "private, no-store")
			io.Copy(w, strings.NewReader("copied body"))
		})
	})
	resp, body := e.get(t, e.client, "/")
	require.Equal(t, "copied body", body)
	require.NotNil(t, sessionCookie(resp, "__Host-session"))
	require.Equal(t, []string{"Accept-Encoding", "Cookie"}, resp.Header.Values("Vary"))
	require.Equal(t, "private, no-store", resp.Header.Get("Cache-Control"), "the handler's Cache-Control wins")
}

// barrier makes n requests wait for each other inside the handler, so that
// all of them loaded the same stored version before any saves.
func barrier(n int) func() {
	var wg sync.WaitGroup
	wg.Add(n)
	return func() {
		wg.Done()
		wg.Wait()
	}
}

// concurrentAdds sends two POST /add-sync requests of one session at once
// and returns their status codes and bodies.
func concurrentAdds(t *testing.T, e *env) ([2]int, [2]string) {
	t.Helper()
	var codes [2]int
	var bodies [2]string
	var wg sync.WaitGroup
	for i, item := range []string{"pear", "plum"} {
		wg.Go(func() {
			req, err := http.NewRequest(http.MethodPost, e.ts.URL+"/add-sync?item="+item, nil)
			if err != nil {
				return
			}
			resp, err := e.client.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			codes[i], bodies[i] = resp.StatusCode, string(b)
		})
	}
	wg.Wait()
	return codes, bodies
}

func syncMux(wait func()) func(m *sessionhttp.Manager[Cart]) http.Handler {
	return func(m *sessionhttp.Manager[Cart]) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("/", cartMux(m))
		mux.HandleFunc("POST /add-sync", func(w http.ResponseWriter, r *http.Request) {
			s, _ := m.Session(r)
			wait()
			s.Data.Items = append(s.Data.Items, r.URL.Query().Get("item"))
			w.Header().Set("X-Handler", "yes")
			io.WriteString(w, "added")
		})
		return mux
	}
}

func TestConcurrentRequestsConflictIsReported(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db, syncMux(barrier(2)))
		e.do(t, e.client, http.MethodPost, "/add?item=apple")
		tok := e.token(e.client)

		codes, bodies := concurrentAdds(t, e)
		won := 0
		if codes[1] == http.StatusOK {
			won = 1
		}
		lost := 1 - won
		require.Equal(t, http.StatusOK, codes[won], "bodies %q", bodies)
		require.Equal(t, "added", bodies[won])
		require.Equal(t, http.StatusConflict, codes[lost], "the losing write is refused, not dropped")
		require.Equal(t, "Conflict\n", bodies[lost], "no detail reaches the client")

		items := e.stored(t, tok).Items
		require.Len(t, items, 2)
		require.Equal(t, "apple", items[0])
		require.Equal(t, []string{"pear", "plum"}[won], items[1])
		logs := e.logs.String()
		require.Contains(t, logs, "conflict")
		require.NotContains(t, logs, tok)
	})
}

func TestConcurrentRequestsMerge(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		var merges atomic.Int32
		e := setup(t, db, syncMux(barrier(2)), sessionhttp.WithMerge(func(stored, mine *Cart) error {
			merges.Add(1) // only the losing request merges
			for _, it := range mine.Items {
				if !slices.Contains(stored.Items, it) {
					stored.Items = append(stored.Items, it)
				}
			}
			return nil
		}))
		e.do(t, e.client, http.MethodPost, "/add?item=apple")
		tok := e.token(e.client)

		codes, bodies := concurrentAdds(t, e)
		require.Equal(t, [2]int{http.StatusOK, http.StatusOK}, codes, "bodies %q", bodies)
		require.EqualValues(t, 1, merges.Load())
		items := e.stored(t, tok).Items
		require.ElementsMatch(t, []string{"apple", "pear", "plum"}, items, "no write is lost")
		require.Equal(t, "apple", items[0])
	})
}

func TestMergeErrorGoesToErrorHandler(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	refuse := errors.New("cannot merge carts")
	var got []error
	var mu sync.Mutex
	e := setup(t, db, syncMux(barrier(2)),
		sessionhttp.WithMerge(func(stored, mine *Cart) error { return refuse }),
		sessionhttp.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			mu.Lock()
			got = append(got, err)
			mu.Unlock()
			http.Error(w, "try again", http.StatusTeapot)
		}))
	e.do(t, e.client, http.MethodPost, "/add?item=apple")
	codes, bodies := concurrentAdds(t, e)
	require.ElementsMatch(t, []int{http.StatusOK, http.StatusTeapot}, codes[:], "bodies %q", bodies)
	require.ElementsMatch(t, []string{"added", "try again\n"}, bodies[:], "the handler's response is replaced")
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 1)
	require.ErrorIs(t, got[0], refuse)
}

func TestRenewConflictPolicy(t *testing.T) {
	t.Parallel()
	for _, merge := range []bool{false, true} {
		t.Run(map[bool]string{false: "report", true: "merge"}[merge], func(t *testing.T) {
			t.Parallel()
			db := testdb.Open(t, testdb.SQLite, nil)
			var c *session.Container[Cart]
			var renewErr error
			var opts []sessionhttp.Option
			if merge {
				opts = append(opts, sessionhttp.WithMerge(func(stored, mine *Cart) error {
					stored.Flash = mine.Flash
					return nil
				}))
			}
			e := setup(t, db, func(m *sessionhttp.Manager[Cart]) http.Handler {
				mux := http.NewServeMux()
				mux.Handle("/", cartMux(m))
				mux.HandleFunc("POST /login-race", func(w http.ResponseWriter, r *http.Request) {
					s, _ := m.Session(r)
					s.SetSubject("user:7")
					s.Data.Flash = "welcome"
					// Another request of this session saves in between.
					if _, err := c.Update(r.Context(), s.Token(), func(cart *Cart) error {
						cart.Items = append(cart.Items, "pear")
						return nil
					}); err != nil {
						http.Error(w, "update failed", http.StatusInternalServerError)
						return
					}
					if renewErr = m.Renew(r); renewErr != nil {
						http.Error(w, "renew failed", http.StatusConflict)
						return
					}
					io.WriteString(w, "logged in")
				})
				return mux
			}, opts...)
			c = e.c
			e.do(t, e.client, http.MethodPost, "/add?item=apple")
			old := e.token(e.client)

			resp, body := e.do(t, e.client, http.MethodPost, "/login-race")
			if !merge {
				require.Equal(t, http.StatusConflict, resp.StatusCode)
				require.ErrorIs(t, renewErr, session.ErrConflict)
				require.Equal(t, Cart{Items: []string{"apple", "pear"}}, e.stored(t, old), "nothing renewed, the other write kept")
				return
			}
			require.Equal(t, "logged in", body)
			now := e.token(e.client)
			require.NotEqual(t, old, now)
			s, err := e.c.Load(context.Background(), now)
			require.NoError(t, err)
			require.Equal(t, "user:7", s.Subject(), "the merge keeps this request's subject")
			require.Equal(t, Cart{Items: []string{"apple", "pear"}, Flash: "welcome"}, s.Data)
			alive, err := e.c.Exists(context.Background(), old)
			require.NoError(t, err)
			require.False(t, alive)
		})
	}
}

// downEnv is a Manager whose container's connection pool can be closed,
// to play a database that went down.
func downEnv(t *testing.T, d string, h func(m *sessionhttp.Manager[Cart]) http.Handler, opts ...sessionhttp.Option) (*env, func()) {
	t.Helper()
	keeper := testdb.Open(t, d, nil) // drops the table at the end
	table := testdb.Table(t, keeper)
	db := testdb.Open(t, d, nil)
	c, err := session.New[Cart](db, session.WithTable(table), session.WithCleanupFrequency(0))
	require.NoError(t, err)
	e := &env{db: keeper, table: table, c: c, logs: &syncBuffer{}}
	e.m = sessionhttp.New(c, opts...)
	e.ts = httptest.NewTLSServer(e.m.Handler(h(e.m)))
	t.Cleanup(e.ts.Close)
	e.client = newClient(t, e.ts)
	sqlDB, err := db.DB()
	require.NoError(t, err)
	return e, func() { require.NoError(t, sqlDB.Close()) }
}

func TestDatabaseDownOnOpen(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, _ *gorm.DB) {
		d := t.Name()[strings.LastIndex(t.Name(), "/")+1:]
		var mu sync.Mutex
		var got []error
		e, down := downEnv(t, d, cartMux, sessionhttp.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			mu.Lock()
			got = append(got, err)
			mu.Unlock()
			http.Error(w, "sessions unavailable", http.StatusServiceUnavailable)
		}))
		e.do(t, e.client, http.MethodPost, "/add?item=apple")
		tok := e.token(e.client)
		require.NotEmpty(t, tok)
		down()

		resp, body := e.get(t, e.client, "/")
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		require.Equal(t, "sessions unavailable\n", body, "the handler did not run")
		require.Len(t, got, 1)
		require.ErrorContains(t, got[0], "sessionhttp: open")
		require.NotContains(t, got[0].Error(), tok)
	})
}

func TestDatabaseDownOnSaveDefaultHandler(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, _ *gorm.DB) {
		d := t.Name()[strings.LastIndex(t.Name(), "/")+1:]
		var down func()
		writeErr := make(chan error, 1)
		logs := &syncBuffer{}
		e, closeDB := downEnv(t, d, func(m *sessionhttp.Manager[Cart]) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s, _ := m.Session(r)
				s.Data.Items = append(s.Data.Items, "lost")
				down() // the database goes away mid-request
				w.Header().Set("X-Handler", "yes")
				w.WriteHeader(http.StatusCreated)
				_, err := io.WriteString(w, "handler body")
				writeErr <- err
			})
		}, sessionhttp.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
		down = closeDB

		resp, body := e.get(t, e.client, "/")
		require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
		require.Equal(t, "Internal Server Error\n", body, "no details leak")
		require.Empty(t, resp.Header.Get("X-Handler"), "the handler's response was replaced")
		require.Empty(t, resp.Header.Values("Set-Cookie"))
		require.ErrorIs(t, <-writeErr, sessionhttp.ErrAborted)
		require.Contains(t, logs.String(), "sessionhttp: save")
	})
}

func TestLateChanges(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	var mu sync.Mutex
	var got []error
	var renewErr error
	e := setup(t, db, func(m *sessionhttp.Manager[Cart]) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("/", cartMux(m))
		mux.HandleFunc("POST /late", func(w http.ResponseWriter, r *http.Request) {
			s, _ := m.Session(r)
			io.WriteString(w, "body first")
			s.Data.Items = append(s.Data.Items, "late")
			renewErr = m.Renew(r)
		})
		return mux
	}, sessionhttp.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		mu.Lock()
		got = append(got, err)
		mu.Unlock()
	}))

	// A new session: its cookie could not be sent, so the change cannot
	// be kept, and the error handler hears about it.
	resp, body := e.do(t, e.client, http.MethodPost, "/late")
	require.Equal(t, "body first", body)
	require.Empty(t, resp.Header.Values("Set-Cookie"))
	require.ErrorIs(t, renewErr, sessionhttp.ErrResponseStarted)
	require.Zero(t, e.count(t))
	errs := func() []error {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
	require.Len(t, errs(), 1)
	require.ErrorIs(t, errs()[0], sessionhttp.ErrResponseStarted)

	// A stored session whose token the client holds: the late change is saved.
	e.do(t, e.client, http.MethodPost, "/add?item=apple")
	tok := e.token(e.client)
	e.do(t, e.client, http.MethodPost, "/late")
	require.Equal(t, []string{"apple", "late"}, e.stored(t, tok).Items)
	require.Len(t, errs(), 1)
}

func TestWithoutHandler(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	c, err := session.New[Cart](db, session.WithTable(testdb.Table(t, db)), session.WithCleanupFrequency(0))
	require.NoError(t, err)
	t.Cleanup(func() { hooks.Of(db).Wait() })
	m := sessionhttp.New(c)
	r := newRequest(t, http.MethodGet, "/")
	s, ok := m.Session(r)
	require.False(t, ok)
	require.Nil(t, s)
	require.ErrorIs(t, m.Renew(r), sessionhttp.ErrNoSession)
	require.ErrorIs(t, m.Destroy(r), sessionhttp.ErrNoSession)
	_, ok = m.Session(nil)
	require.False(t, ok)

	// Two Managers do not see each other's sessions.
	other := sessionhttp.New(c, sessionhttp.WithCookieName("other"))
	rec := newRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, mine := m.Session(r)
		_, theirs := other.Session(r)
		if !mine || theirs {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})).ServeHTTP(rec, r)
	require.Equal(t, http.StatusOK, rec.Code)

	rec = newRecorder()
	m.Handler(nil).ServeHTTP(rec, r)
	require.Equal(t, http.StatusInternalServerError, rec.Code)
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func newRequest(t *testing.T, method, target string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, target, nil)
	require.NoError(t, err)
	return r
}

func TestInformationalStatusDoesNotCommit(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	e := setup(t, db, func(m *sessionhttp.Manager[Cart]) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</style.css>; rel=preload; as=style")
			w.WriteHeader(http.StatusEarlyHints)
			s, _ := m.Session(r)
			s.Data.Items = []string{"after early hints"}
			io.WriteString(w, "done")
		})
	})
	resp, body := e.get(t, e.client, "/")
	require.Equal(t, "done", body)
	c := sessionCookie(resp, "__Host-session")
	require.NotNil(t, c, "the final header carries the cookie")
	require.Equal(t, []string{"after early hints"}, e.stored(t, c.Value).Items)
}
