package sessionecho_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	sessionecho "github.com/gormsession/gormsession/integrations/echo"
	"github.com/gormsession/gormsession/integrations/internal/webtest"
	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessionhttp"
)

type Cart = webtest.Cart

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, testdb.LeakOptions...)
}

// app is an echo server with middleware.Recover in front of Middleware,
// and a counter of the requests that reached the handlers after it.
type app struct {
	*webtest.Env
	reached atomic.Int64
}

// newEcho returns an echo without banner or log output.
func newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.Logger.SetOutput(io.Discard)
	return e
}

// setup serves these routes under Middleware(a.M):
//
//	GET  /show            the cart, read only (c.String)
//	POST /add/:style      add ?item with Update, answer in the given style
//	POST /count           Count++ with Update
//	POST /login           subject "user:1", then Renew
//	POST /logout          Destroy
//	POST /direct          Count = 100 set directly, while another writer saves
//	POST /panic           add ?item with Update, then panic
//	POST /down            add ?item with Update, the database goes away, answer
func setup(t *testing.T, d string, opts ...sessionhttp.Option) *app {
	t.Helper()
	a := &app{Env: webtest.New(t, d, opts...)}
	m := a.M
	e := newEcho()
	e.Use(middleware.Recover(), sessionecho.Middleware(m), func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			a.reached.Add(1)
			return next(c)
		}
	})
	e.GET("/show", func(c echo.Context) error {
		s, ok := m.Session(c.Request())
		if !ok {
			return errors.New("no session")
		}
		return c.String(http.StatusOK, "items="+strings.Join(s.Data.Items, ","))
	})
	add := func(c echo.Context) error {
		item := c.QueryParam("item")
		return m.Update(c.Request(), func(cart *Cart) error {
			cart.Items = append(cart.Items, item)
			return nil
		})
	}
	e.POST("/add/:style", func(c echo.Context) error {
		if err := add(c); err != nil {
			return err
		}
		switch c.Param("style") {
		case "json":
			s, _ := m.Session(c.Request())
			return c.JSON(http.StatusOK, s.Data)
		case "string":
			return c.String(http.StatusCreated, "added")
		case "redirect":
			return c.Redirect(http.StatusSeeOther, "/show")
		case "nocontent":
			return c.NoContent(http.StatusNoContent)
		case "blob":
			return c.Blob(http.StatusOK, "text/plain", []byte("added"))
		case "stream":
			return c.Stream(http.StatusOK, "text/plain", strings.NewReader("added"))
		case "flush":
			c.Response().Flush()
			_, err := io.WriteString(c.Response(), "added")
			return err
		case "error":
			return echo.NewHTTPError(http.StatusBadRequest, "refused")
		}
		return nil // "nothing"
	})
	e.POST("/count", func(c echo.Context) error {
		if err := m.Update(c.Request(), func(cart *Cart) error { cart.Count++; return nil }); err != nil {
			return err
		}
		return c.String(http.StatusOK, "counted")
	})
	e.POST("/login", func(c echo.Context) error {
		s, _ := m.Session(c.Request())
		s.SetSubject("user:1")
		if err := m.Renew(c.Request()); err != nil {
			_ = m.Destroy(c.Request())
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/show")
	})
	e.POST("/logout", func(c echo.Context) error {
		if err := m.Destroy(c.Request()); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/show")
	})
	e.POST("/direct", func(c echo.Context) error {
		s, _ := m.Session(c.Request())
		s.Data.Count = 100 // directly, not through Update
		// Another writer saves the same session meanwhile.
		if _, err := a.C.Update(context.Background(), s.Token(), func(cart *Cart) error {
			cart.Count = 7
			return nil
		}); err != nil {
			return err
		}
		return c.String(http.StatusOK, "direct")
	})
	e.POST("/panic", func(c echo.Context) error {
		if err := add(c); err != nil {
			return err
		}
		panic("handler bug")
	})
	e.POST("/down", func(c echo.Context) error {
		if err := add(c); err != nil {
			return err
		}
		a.Down()
		c.Response().Header().Set("X-Handler", "yes")
		return c.String(http.StatusCreated, "added")
	})
	a.Serve(t, e)
	return a
}

func TestAnonymousReadSendsNoCookie(t *testing.T) {
	t.Parallel()
	webtest.Each(t, func(t *testing.T, d string) {
		a := setup(t, d)
		cl := a.Client(t)
		resp, body := a.Do(t, cl, http.MethodGet, "/show")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "items=", body)
		require.Empty(t, resp.Header.Values("Set-Cookie"))
		require.Equal(t, "Cookie", resp.Header.Get("Vary"), "the response used the session")
		require.Zero(t, a.Count(t), "reading stores nothing")
	})
}

// TestChangeSavedCookieSet: however the handler answers, the change is
// stored and the cookie is in the response the client gets.
func TestChangeSavedCookieSet(t *testing.T) {
	t.Parallel()
	webtest.Each(t, func(t *testing.T, d string) {
		a := setup(t, d)
		styles := []struct {
			style  string
			status int
			body   string
		}{
			{"json", http.StatusOK, `{"items":["apple"]}` + "\n"},
			{"string", http.StatusCreated, "added"},
			{"redirect", http.StatusSeeOther, ""},
			{"nocontent", http.StatusNoContent, ""},
			{"blob", http.StatusOK, "added"},
			{"stream", http.StatusOK, "added"},
			{"flush", http.StatusOK, "added"},
			{"error", http.StatusBadRequest, `{"message":"refused"}` + "\n"},
			{"nothing", http.StatusOK, ""},
		}
		for _, tc := range styles {
			cl := a.Client(t)
			resp, body := a.Do(t, cl, http.MethodPost, "/add/"+tc.style+"?item=apple")
			require.Equal(t, tc.status, resp.StatusCode, tc.style)
			require.Equal(t, tc.body, body, tc.style)
			ck := webtest.SessionCookie(resp)
			require.NotNil(t, ck, "%s: the session cookie reached the client", tc.style)
			require.True(t, ck.Secure && ck.HttpOnly && ck.MaxAge > 0, tc.style)
			require.Equal(t, `no-cache="Set-Cookie"`, resp.Header.Get("Cache-Control"), tc.style)
			tok := a.Token(cl)
			require.Equal(t, ck.Value, tok)
			require.Equal(t, []string{"apple"}, a.Stored(t, tok).Items, tc.style)

			// The cookie opens the session on the next request, which
			// changes nothing and so sends no cookie.
			resp, body = a.Do(t, cl, http.MethodGet, "/show")
			require.Equal(t, "items=apple", body, tc.style)
			require.Empty(t, resp.Header.Values("Set-Cookie"), tc.style)
		}
		require.EqualValues(t, len(styles), a.Count(t))
	})
}

func TestRenewMovesToken(t *testing.T) {
	t.Parallel()
	webtest.Each(t, func(t *testing.T, d string) {
		a := setup(t, d)
		cl := a.Client(t)
		a.Do(t, cl, http.MethodPost, "/add/string?item=apple")
		old := a.Token(cl)
		require.NotEmpty(t, old)

		resp, _ := a.Do(t, cl, http.MethodPost, "/login")
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.NotNil(t, webtest.SessionCookie(resp))
		tok := a.Token(cl)
		require.NotEqual(t, old, tok)
		s, err := a.C.Load(context.Background(), tok)
		require.NoError(t, err)
		require.Equal(t, "user:1", s.Subject())
		require.Equal(t, []string{"apple"}, s.Data.Items)

		ok, err := a.C.Exists(context.Background(), old)
		require.NoError(t, err)
		require.False(t, ok, "the old token no longer opens")
		stale := a.Client(t)
		a.SetToken(stale, old)
		resp, body := a.Do(t, stale, http.MethodGet, "/show")
		require.Equal(t, "items=", body, "the old token opens a new, empty session")
		require.Empty(t, resp.Header.Values("Set-Cookie"))
		require.EqualValues(t, 1, a.Count(t))
	})
}

func TestDestroyExpiresCookie(t *testing.T) {
	t.Parallel()
	webtest.Each(t, func(t *testing.T, d string) {
		a := setup(t, d)
		cl := a.Client(t)
		a.Do(t, cl, http.MethodPost, "/add/string?item=apple")
		tok := a.Token(cl)
		require.EqualValues(t, 1, a.Count(t))

		resp, _ := a.Do(t, cl, http.MethodPost, "/logout")
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		ck := webtest.SessionCookie(resp)
		require.NotNil(t, ck)
		require.Negative(t, ck.MaxAge, "Max-Age=0: the browser deletes it")
		require.Empty(t, a.Token(cl))
		require.Zero(t, a.Count(t))
		_, err := a.C.Load(context.Background(), tok)
		require.ErrorIs(t, err, session.ErrNotFound)
	})
}

// TestConcurrentUpdatesAllLand: requests of one session that run at once
// each add one; the Manager re-applies the losers' Update functions, so
// every request succeeds and the count is exact.
func TestConcurrentUpdatesAllLand(t *testing.T) {
	t.Parallel()
	webtest.Each(t, func(t *testing.T, d string) {
		a := setup(t, d)
		cl := a.Client(t)
		a.Do(t, cl, http.MethodPost, "/add/string?item=apple")
		tok := a.Token(cl)
		const n = 16
		var wg sync.WaitGroup
		codes := make(chan int, n)
		for range n {
			wg.Go(func() {
				resp, _ := a.Do(t, cl, http.MethodPost, "/count")
				codes <- resp.StatusCode
			})
		}
		wg.Wait()
		close(codes)
		for code := range codes {
			require.Equal(t, http.StatusOK, code)
		}
		require.Equal(t, tok, a.Token(cl), "no request moved the token")
		require.Equal(t, Cart{Items: []string{"apple"}, Count: n}, a.Stored(t, tok))
	})
}

// TestConflictIs409: a direct change that loses to another writer is
// refused with 409, never stored over the other write, and echo's error
// handler adds nothing to the Manager's answer.
func TestConflictIs409(t *testing.T) {
	t.Parallel()
	webtest.Each(t, func(t *testing.T, d string) {
		a := setup(t, d)
		cl := a.Client(t)
		a.Do(t, cl, http.MethodPost, "/add/string?item=apple")
		tok := a.Token(cl)
		resp, body := a.Do(t, cl, http.MethodPost, "/direct")
		require.Equal(t, http.StatusConflict, resp.StatusCode)
		require.Equal(t, "Conflict\n", body, "the error handler's answer replaced the handler's")
		require.Empty(t, resp.Header.Values("Set-Cookie"))
		require.Equal(t, Cart{Items: []string{"apple"}, Count: 7}, a.Stored(t, tok), "the other write is kept")
	})
}

// unavailable is the status of the default error handler when the
// database went away: 503 where the server is gone (the relay is shut:
// session.ErrUnavailable), 500 on SQLite, whose closed pool answers
// "sql: database is closed", which is not unavailability.
func unavailable(t *testing.T, a *app, resp *http.Response, body string) {
	t.Helper()
	if a.Dialect == testdb.SQLite {
		require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
		require.Equal(t, "Internal Server Error\n", body)
		return
	}
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Equal(t, "1", resp.Header.Get("Retry-After"))
	require.Equal(t, "Service Unavailable\n", body)
}

func TestDatabaseDownOnOpen(t *testing.T) {
	t.Parallel()
	webtest.Each(t, func(t *testing.T, d string) {
		a := setup(t, d)
		cl := a.Client(t)
		a.Do(t, cl, http.MethodPost, "/add/string?item=apple")
		require.EqualValues(t, 1, a.reached.Load())
		a.Down()
		resp, body := a.Do(t, cl, http.MethodGet, "/show")
		unavailable(t, a, resp, body)
		require.EqualValues(t, 1, a.reached.Load(), "the chain after Middleware did not run")
		require.Empty(t, resp.Header.Values("Set-Cookie"))
	})
}

func TestDatabaseDownOnCommit(t *testing.T) {
	t.Parallel()
	webtest.Each(t, func(t *testing.T, d string) {
		a := setup(t, d)
		cl := a.Client(t)
		resp, body := a.Do(t, cl, http.MethodPost, "/down?item=apple")
		unavailable(t, a, resp, body)
		require.Empty(t, resp.Header.Get("X-Handler"), "the handler's response was replaced")
		require.Empty(t, resp.Header.Values("Set-Cookie"))
		require.Zero(t, a.Count(t))
	})
}

// TestPanicStoresNothing: a handler that panics after changing the
// session leaves it as it was, with no cookie, while middleware.Recover
// in front answers 500.
func TestPanicStoresNothing(t *testing.T) {
	t.Parallel()
	webtest.Each(t, func(t *testing.T, d string) {
		a := setup(t, d)
		cl := a.Client(t)
		resp, _ := a.Do(t, cl, http.MethodPost, "/panic?item=boom")
		require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
		require.Empty(t, resp.Header.Values("Set-Cookie"))
		require.Zero(t, a.Count(t), "a new session is not stored")

		a.Do(t, cl, http.MethodPost, "/add/string?item=apple")
		tok := a.Token(cl)
		resp, _ = a.Do(t, cl, http.MethodPost, "/panic?item=boom")
		require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
		require.Empty(t, resp.Header.Values("Set-Cookie"))
		require.Equal(t, []string{"apple"}, a.Stored(t, tok).Items, "a stored session is unchanged")

		_, body := a.Do(t, cl, http.MethodGet, "/show")
		require.Equal(t, "items=apple", body)
	})
}

// TestWrapMiddlewarePanicCommits shows why this package is more than
// echo.WrapMiddleware(m.Handler): under it, the recovery middleware's
// answer to a panic goes through the committing response and stores the
// half-changed session. If this test starts failing, echo fixed that, and
// the package doc should say so.
func TestWrapMiddlewarePanicCommits(t *testing.T) {
	t.Parallel()
	env := webtest.New(t, testdb.SQLite)
	e := newEcho()
	e.Use(middleware.Recover(), echo.WrapMiddleware(env.M.Handler))
	e.POST("/panic", func(c echo.Context) error {
		if err := env.M.Update(c.Request(), func(cart *Cart) error {
			cart.Items = append(cart.Items, "boom")
			return nil
		}); err != nil {
			return err
		}
		panic("handler bug")
	})
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "https://example.test/panic", nil))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.NotEmpty(t, rec.Header().Values("Set-Cookie"), "WrapMiddleware commits on a panic")
	require.EqualValues(t, 1, env.Count(t))
}

// TestResponseBookkeeping: middlewares in front of Middleware see echo's
// own request and response again, with the status and size the handler
// wrote, and Before functions registered on either response run.
func TestResponseBookkeeping(t *testing.T) {
	t.Parallel()
	env := webtest.New(t, testdb.SQLite)
	e := newEcho()
	var outerBefore, innerBefore bool
	var before, after *echo.Response
	var beforeReq, afterReq *http.Request
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			before, beforeReq = c.Response(), c.Request()
			c.Response().Before(func() { outerBefore = true })
			err := next(c)
			after, afterReq = c.Response(), c.Request()
			return err
		}
	}, sessionecho.Middleware(env.M))
	e.GET("/", func(c echo.Context) error {
		c.Response().Before(func() { innerBefore = true })
		if err := env.M.Update(c.Request(), func(cart *Cart) error { cart.Count++; return nil }); err != nil {
			return err
		}
		return c.String(http.StatusAccepted, "hello")
	})
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://example.test/", nil))
	require.Equal(t, http.StatusAccepted, rec.Code)
	require.NotEmpty(t, rec.Header().Values("Set-Cookie"))
	require.True(t, outerBefore && innerBefore)
	require.Same(t, before, after)
	require.Same(t, beforeReq, afterReq)
	require.True(t, after.Committed)
	require.Equal(t, http.StatusAccepted, after.Status)
	require.EqualValues(t, len("hello"), after.Size)
}

func TestNilManager(t *testing.T) {
	t.Parallel()
	e := newEcho()
	reached := false
	e.Use(sessionecho.Middleware[Cart](nil))
	e.GET("/", func(c echo.Context) error { reached = true; return nil })
	var logged bytes.Buffer
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		logged.WriteString(err.Error())
		e.DefaultHTTPErrorHandler(err, c)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "https://example.test/", nil))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.False(t, reached)
	require.Contains(t, logged.String(), "sessionecho: Middleware: nil *sessionhttp.Manager")
}

// TestCustomErrorHandler: the Manager's error handler answers through
// echo's response, in place of the handler's, and echo's own error
// handler adds nothing.
func TestCustomErrorHandler(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	a := setup(t, testdb.SQLite, sessionhttp.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTeapot)
		_, _ = fmt.Fprintf(w, `{"conflict":%t}`, errors.Is(err, session.ErrConflict))
	}))
	cl := a.Client(t)
	a.Do(t, cl, http.MethodPost, "/add/json?item=apple")
	require.Zero(t, calls.Load())
	resp, body := a.Do(t, cl, http.MethodPost, "/direct")
	require.Equal(t, http.StatusTeapot, resp.StatusCode)
	require.Equal(t, `{"conflict":true}`, body)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.Empty(t, resp.Header.Values("Set-Cookie"))
	require.EqualValues(t, 1, calls.Load())
}
