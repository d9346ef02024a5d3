package sessiongin_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	sessiongin "github.com/gormsession/gormsession/integrations/gin"
	"github.com/gormsession/gormsession/integrations/internal/webtest"
	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessionhttp"
)

type Cart = webtest.Cart

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	goleak.VerifyTestMain(m, testdb.LeakOptions...)
}

// app is a gin engine with gin.Recovery in front of Middleware, and a
// counter of the requests that reached the handlers after Middleware.
type app struct {
	*webtest.Env
	reached atomic.Int64
}

// setup serves these routes under Middleware(e.M):
//
//	GET  /show            the cart, read only (c.String)
//	POST /add/:style      add ?item with Update, answer in the given style
//	POST /count           Count++ with Update
//	POST /login           subject "user:1", then Renew
//	POST /logout          Destroy
//	POST /direct          Count = 100 set directly, while another writer saves
//	POST /panic           add "boom" with Update, then panic
//	POST /down            add ?item with Update, the database goes away, answer
func setup(t *testing.T, d string, opts ...sessionhttp.Option) *app {
	t.Helper()
	a := &app{Env: webtest.New(t, d, opts...)}
	m := a.M
	r := gin.New()
	r.Use(gin.RecoveryWithWriter(io.Discard), sessiongin.Middleware(m), func(c *gin.Context) {
		a.reached.Add(1)
		c.Next()
	})
	r.GET("/show", func(c *gin.Context) {
		s, ok := m.Session(c.Request)
		if !ok {
			c.String(http.StatusInternalServerError, "no session")
			return
		}
		c.String(http.StatusOK, "items=%s", strings.Join(s.Data.Items, ","))
	})
	add := func(c *gin.Context) bool {
		item := c.Query("item")
		if err := m.Update(c.Request, func(cart *Cart) error {
			cart.Items = append(cart.Items, item)
			return nil
		}); err != nil {
			c.String(http.StatusInternalServerError, "update: %v", err)
			return false
		}
		return true
	}
	r.POST("/add/:style", func(c *gin.Context) {
		if c.Param("style") == "status-first" {
			// gin sends nothing at c.Status: a change made after it, and a
			// header set after it, still make it into the response.
			c.Status(http.StatusCreated)
			if !add(c) {
				return
			}
			c.Header("X-After-Status", "yes")
			c.String(http.StatusCreated, "added")
			return
		}
		if !add(c) {
			return
		}
		switch c.Param("style") {
		case "json":
			s, _ := m.Session(c.Request)
			c.JSON(http.StatusOK, s.Data)
		case "string":
			c.String(http.StatusCreated, "added")
		case "redirect":
			c.Redirect(http.StatusSeeOther, "/show")
		case "abort":
			c.AbortWithStatus(http.StatusNoContent)
		case "data":
			c.Data(http.StatusOK, "text/plain", []byte("added"))
		case "stream":
			c.Stream(func(w io.Writer) bool {
				_, _ = io.WriteString(w, "added")
				return false
			})
		case "header-now":
			c.Writer.WriteHeaderNow()
			_, _ = c.Writer.WriteString("added")
		case "nothing":
		}
	})
	r.POST("/count", func(c *gin.Context) {
		if err := m.Update(c.Request, func(cart *Cart) error { cart.Count++; return nil }); err != nil {
			c.String(http.StatusInternalServerError, "update: %v", err)
			return
		}
		c.String(http.StatusOK, "counted")
	})
	r.POST("/login", func(c *gin.Context) {
		s, _ := m.Session(c.Request)
		s.SetSubject("user:1")
		if err := m.Renew(c.Request); err != nil {
			_ = m.Destroy(c.Request)
			c.String(http.StatusInternalServerError, "sign-in failed")
			return
		}
		c.Redirect(http.StatusSeeOther, "/show")
	})
	r.POST("/logout", func(c *gin.Context) {
		if err := m.Destroy(c.Request); err != nil {
			c.String(http.StatusInternalServerError, "sign-out failed")
			return
		}
		c.Redirect(http.StatusSeeOther, "/show")
	})
	r.POST("/direct", func(c *gin.Context) {
		s, _ := m.Session(c.Request)
		s.Data.Count = 100 // directly, not through Update
		// Another writer saves the same session meanwhile.
		if _, err := a.C.Update(context.Background(), s.Token(), func(cart *Cart) error {
			cart.Count = 7
			return nil
		}); err != nil {
			c.String(http.StatusInternalServerError, "direct write: %v", err)
			return
		}
		c.String(http.StatusOK, "direct")
	})
	r.POST("/panic", func(c *gin.Context) {
		if add(c) {
			panic("handler bug")
		}
	})
	r.POST("/down", func(c *gin.Context) {
		if add(c) {
			a.Down()
			c.Header("X-Handler", "yes")
			c.String(http.StatusCreated, "added")
		}
	})
	a.Serve(t, r)
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
		for _, tc := range []struct {
			style  string
			status int
			body   string
		}{
			{"json", http.StatusOK, `{"items":["apple"]}`},
			{"string", http.StatusCreated, "added"},
			{"redirect", http.StatusSeeOther, ""},
			{"abort", http.StatusNoContent, ""},
			{"data", http.StatusOK, "added"},
			{"stream", http.StatusOK, "added"},
			{"header-now", http.StatusOK, "added"},
			{"status-first", http.StatusCreated, "added"},
			{"nothing", http.StatusOK, ""},
		} {
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
			if tc.style == "status-first" {
				require.Equal(t, "yes", resp.Header.Get("X-After-Status"))
			}

			// The cookie opens the session on the next request, which
			// changes nothing and so sends no cookie.
			resp, body = a.Do(t, cl, http.MethodGet, "/show")
			require.Equal(t, "items=apple", body, tc.style)
			require.Empty(t, resp.Header.Values("Set-Cookie"), tc.style)
		}
		require.EqualValues(t, 9, a.Count(t))
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
// refused with 409, never stored over the other write.
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
		require.EqualValues(t, 1, a.reached.Load(), "the chain after Middleware was aborted")
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
// session leaves it as it was, with no cookie, while gin.Recovery in
// front answers 500.
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

		// The engine serves the next request of the session normally.
		_, body := a.Do(t, cl, http.MethodGet, "/show")
		require.Equal(t, "items=apple", body)
	})
}

func TestNilManager(t *testing.T) {
	t.Parallel()
	r := gin.New()
	var errs []string
	reached := false
	r.Use(func(c *gin.Context) {
		c.Next()
		for _, e := range c.Errors {
			errs = append(errs, e.Error())
		}
	}, sessiongin.Middleware[Cart](nil))
	r.GET("/", func(c *gin.Context) { reached = true })
	rec := newRecorder()
	r.ServeHTTP(rec, mustRequest(t, http.MethodGet, "/"))
	require.Equal(t, http.StatusInternalServerError, rec.Code)
	require.False(t, reached)
	require.Equal(t, []string{"sessiongin: Middleware: nil *sessionhttp.Manager"}, errs)
}

// TestOrderOfMiddlewares: a middleware in front of Middleware sees gin's
// own request and writer again once the chain returned.
func TestOrderOfMiddlewares(t *testing.T) {
	t.Parallel()
	e := webtest.New(t, testdb.SQLite)
	r := gin.New()
	var before, after gin.ResponseWriter
	var beforeReq, afterReq *http.Request
	var inner bool
	r.Use(func(c *gin.Context) {
		before, beforeReq = c.Writer, c.Request
		c.Next()
		after, afterReq = c.Writer, c.Request
	}, sessiongin.Middleware(e.M))
	r.GET("/", func(c *gin.Context) {
		_, inner = e.M.Session(c.Request)
		c.String(http.StatusOK, "%T", c.Writer)
	})
	rec := newRecorder()
	r.ServeHTTP(rec, mustRequest(t, http.MethodGet, "/"))
	require.Equal(t, http.StatusOK, rec.Code)
	require.True(t, inner, "the handler's c.Request carries the session")
	require.NotEqual(t, fmt.Sprintf("%T", before), rec.Body.String(), "the handler wrote through the committing writer")
	require.Same(t, beforeReq, afterReq)
	require.True(t, before == after)
}

// TestCustomErrorHandler: the Manager's error handler answers through
// gin's writer, in place of the handler's response.
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
