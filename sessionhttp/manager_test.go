package sessionhttp_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
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
		// Max-Age follows the container's default lifetime, 24h.
		require.InDelta(t, (24 * time.Hour).Seconds(), float64(c.MaxAge), 5)
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

// TestCookieTemplate: WithCookie's template is used as given, on the
// session cookie and on the one that expires it; its Value and Expires are
// ignored and a negative MaxAge makes a browser-session cookie.
func TestCookieTemplate(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	e := setup(t, db, cartMux, sessionhttp.WithCookie(http.Cookie{
		Name:     "session",
		Value:    "ignored",
		Path:     "/",
		Domain:   "example.test",
		Expires:  time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC),
		MaxAge:   -1,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	}))
	resp, _ := e.do(t, e.client, http.MethodPost, "/add?item=x")
	c := sessionCookie(resp, "session")
	require.NotNil(t, c, "Set-Cookie: %v", resp.Header.Values("Set-Cookie"))
	require.Len(t, c.Value, 43, "the template's Value is ignored")
	require.False(t, c.Secure)
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, c.SameSite)
	require.Equal(t, "example.test", c.Domain)
	require.Equal(t, "/", c.Path)
	require.Zero(t, c.MaxAge, "a browser-session cookie has no Max-Age")
	require.True(t, c.Expires.IsZero(), "nor Expires")
	require.Nil(t, sessionCookie(resp, cookieName), "no cookie under the default name")

	// The cookie that expires it at logout has the same attributes.
	req := newRequest(t, http.MethodPost, e.ts.URL+"/logout")
	req.AddCookie(&http.Cookie{Name: "session", Value: c.Value})
	resp, err := e.ts.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	c = sessionCookie(resp, "session")
	require.NotNil(t, c)
	require.Empty(t, c.Value)
	require.Less(t, c.MaxAge, 0, "Max-Age=0")
	require.Equal(t, "example.test", c.Domain)
	require.Equal(t, http.SameSiteStrictMode, c.SameSite)
	require.True(t, c.HttpOnly)

	// HttpOnly off, and another name.
	other := setup(t, db, cartMux, sessionhttp.WithCookie(http.Cookie{Name: "sid", Path: "/", Secure: true}))
	resp, _ = other.do(t, other.client, http.MethodPost, "/add?item=x")
	c = sessionCookie(resp, "sid")
	require.NotNil(t, c)
	require.False(t, c.HttpOnly)
	require.True(t, c.Secure)
	require.Equal(t, http.SameSite(0), c.SameSite, "SameSite left out")
	require.Positive(t, c.MaxAge, "MaxAge 0 in the template: Max-Age follows the session")
}

// TestCookieTemplatePartitioned: a Partitioned (CHIPS) cookie stays
// Partitioned, also when it is expired.
func TestCookieTemplatePartitioned(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	e := setup(t, db, cartMux, sessionhttp.WithCookie(http.Cookie{
		Name: "__Host-embedded", Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteNoneMode, Partitioned: true,
	}))
	resp, _ := e.do(t, e.client, http.MethodPost, "/add?item=x")
	raw := resp.Header.Get("Set-Cookie")
	require.True(t, strings.HasPrefix(raw, "__Host-embedded="), raw)
	require.Contains(t, raw, "; Partitioned")
	require.Contains(t, raw, "; SameSite=None")
	require.Contains(t, raw, "; Secure")
	require.Contains(t, raw, "; Max-Age=")
	c := sessionCookie(resp, "__Host-embedded")
	require.NotNil(t, c)

	req := newRequest(t, http.MethodPost, e.ts.URL+"/logout")
	req.AddCookie(&http.Cookie{Name: "__Host-embedded", Value: c.Value})
	resp, err := e.ts.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	raw = resp.Header.Get("Set-Cookie")
	require.True(t, strings.HasPrefix(raw, "__Host-embedded=;"), raw)
	require.Contains(t, raw, "; Max-Age=0")
	require.Contains(t, raw, "; Partitioned")
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	c, err := session.New[Cart](db, session.WithTable(testdb.Table(t, db)), session.WithCleanupFrequency(0))
	require.NoError(t, err)
	t.Cleanup(func() { hooks.Of(db).Wait() })

	base := http.Cookie{Name: "sid", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	with := func(change func(*http.Cookie)) []sessionhttp.Option {
		ck := base
		change(&ck)
		return []sessionhttp.Option{sessionhttp.WithCookie(ck)}
	}
	cases := []struct {
		name   string
		c      *session.Container[Cart]
		opts   []sessionhttp.Option
		naming []string
	}{
		{"empty name", c, with(func(ck *http.Cookie) { ck.Name = "" }), []string{"WithCookie", "name"}},
		{"name with space", c, with(func(ck *http.Cookie) { ck.Name = "a b" }), []string{"WithCookie", `name "a b"`}},
		{"name with separator", c, with(func(ck *http.Cookie) { ck.Name = "a;b" }), []string{"WithCookie", "name"}},
		{"host prefix not secure", c, with(func(ck *http.Cookie) { ck.Name, ck.Secure = "__Host-x", false }), []string{"WithCookie", "__Host-", "Secure"}},
		{"host prefix with domain", c, with(func(ck *http.Cookie) { ck.Name, ck.Domain = "__Host-x", "example.test" }), []string{"WithCookie", "__Host-", "Domain"}},
		{"host prefix with path", c, with(func(ck *http.Cookie) { ck.Name, ck.Path = "__Host-x", "/app" }), []string{"WithCookie", "__Host-", "Path"}},
		{"host prefix in lower case", c, with(func(ck *http.Cookie) { ck.Name, ck.Secure = "__host-x", false }), []string{"WithCookie", "__host-"}},
		{"secure prefix not secure", c, with(func(ck *http.Cookie) { ck.Name, ck.Secure = "__Secure-x", false }), []string{"WithCookie", "__Secure-", "Secure"}},
		{"empty path", c, with(func(ck *http.Cookie) { ck.Path = "" }), []string{"WithCookie", "Path"}},
		{"relative path", c, with(func(ck *http.Cookie) { ck.Path = "app" }), []string{"WithCookie", `Path "app"`}},
		{"path with semicolon", c, with(func(ck *http.Cookie) { ck.Path = "/a;b" }), []string{"WithCookie", "Path"}},
		{"bad domain", c, with(func(ck *http.Cookie) { ck.Domain = "exa mple" }), []string{"WithCookie", "Domain"}},
		{"none without secure", c, with(func(ck *http.Cookie) { ck.SameSite, ck.Secure = http.SameSiteNoneMode, false }), []string{"WithCookie", "SameSite=None"}},
		{"unknown same site", c, with(func(ck *http.Cookie) { ck.SameSite = http.SameSite(9) }), []string{"WithCookie", "SameSite mode 9"}},
		{"partitioned without secure", c, with(func(ck *http.Cookie) { ck.Partitioned, ck.Secure = true, false }), []string{"WithCookie", "Partitioned"}},
		{"positive max age", c, with(func(ck *http.Cookie) { ck.MaxAge = 3600 }), []string{"WithCookie", "MaxAge"}},
		{"nil error handler", c, []sessionhttp.Option{sessionhttp.WithErrorHandler(nil)}, []string{"WithErrorHandler"}},
		{"nil logger", c, []sessionhttp.Option{sessionhttp.WithLogger(nil)}, []string{"WithLogger"}},
		{"nil option", c, []sessionhttp.Option{sessionhttp.WithLogger(slog.Default()), nil}, []string{"option 2 is nil"}},
		{"nil container", nil, nil, []string{"container"}},
		{"two problems", c, append(with(func(ck *http.Cookie) { ck.Name = "__Host-x"; ck.Secure = false }), sessionhttp.WithLogger(nil)), []string{"__Host-", "WithLogger"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, err := sessionhttp.New(tc.c, tc.opts...)
			require.Nil(t, m)
			require.ErrorIs(t, err, sessionhttp.ErrInvalidOption)
			require.True(t, strings.HasPrefix(err.Error(), "sessionhttp: invalid option: "), err.Error())
			require.Equal(t, 1, strings.Count(err.Error(), "sessionhttp"), "the error reads once: %s", err)
			for _, want := range tc.naming {
				require.Contains(t, err.Error(), want)
			}
		})
	}

	// Templates that are fine as given: nothing is renamed or adjusted.
	for _, ck := range []http.Cookie{
		{Name: "__Host-a", Path: "/", Secure: true},
		{Name: "__Secure-a", Path: "/shop", Domain: "example.test", Secure: true, SameSite: http.SameSiteNoneMode},
		{Name: "a", Path: "/", SameSite: http.SameSiteDefaultMode, MaxAge: -1},
	} {
		m, err := sessionhttp.New(c, sessionhttp.WithCookie(ck))
		require.NoError(t, err, "%+v", ck)
		require.NotNil(t, m)
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
	e.m, err = sessionhttp.New(c, opts...)
	require.NoError(t, err)
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
		msg := got[0].Error()
		require.True(t, strings.HasPrefix(msg, "sessionhttp: start: session: "), "the phase, then the store's own error: %s", msg)
		require.Equal(t, 1, strings.Count(msg, "sessionhttp"), "the error reads once: %s", msg)
		require.NotContains(t, msg, tok)
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
		require.ErrorContains(t, <-writeErr, "sessionhttp: response replaced by the error handler",
			"the handler's writes fail once the error handler answered")
		require.Contains(t, logs.String(), "sessionhttp: commit: session: ")
		require.Equal(t, 1, strings.Count(logs.String(), "sessionhttp"), "the error reads once: %s", logs)
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
		mux.HandleFunc("POST /late-update", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "body first")
			if err := m.Update(r, func(c *Cart) error {
				c.Items = append(c.Items, "late update")
				return nil
			}); err != nil {
				panic(err)
			}
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
	e.do(t, e.client, http.MethodPost, "/late-update")
	require.Equal(t, []string{"apple", "late", "late update"}, e.stored(t, tok).Items)
	require.Len(t, errs(), 1)
	require.EqualError(t, errs()[0], "sessionhttp: commit after the response started: the session's cookie could not be sent")
}

func TestWithoutHandler(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	c, err := session.New[Cart](db, session.WithTable(testdb.Table(t, db)), session.WithCleanupFrequency(0))
	require.NoError(t, err)
	t.Cleanup(func() { hooks.Of(db).Wait() })
	m, err := sessionhttp.New(c)
	require.NoError(t, err)
	r := newRequest(t, http.MethodGet, "/")
	s, ok := m.Session(r)
	require.False(t, ok)
	require.Nil(t, s)
	require.ErrorIs(t, m.Renew(r), sessionhttp.ErrNoSession)
	require.ErrorIs(t, m.Destroy(r), sessionhttp.ErrNoSession)
	called := false
	err = m.Update(r, func(*Cart) error { called = true; return nil })
	require.ErrorIs(t, err, sessionhttp.ErrNoSession)
	require.False(t, called)
	require.EqualError(t, m.Renew(r), "sessionhttp: renew: "+sessionhttp.ErrNoSession.Error())
	_, ok = m.Session(nil)
	require.False(t, ok)

	// Two Managers do not see each other's sessions.
	other, err := sessionhttp.New(c, sessionhttp.WithCookie(http.Cookie{Name: "other", Path: "/"}))
	require.NoError(t, err)
	rec := newRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, mine := m.Session(r)
		_, theirs := other.Session(r)
		if !mine || theirs {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})).ServeHTTP(rec, r)
	require.Equal(t, http.StatusOK, rec.Code)

	// A nil function is refused, inside Handler too.
	rec = newRecorder()
	m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := m.Update(r, nil); err == nil {
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
