package gorillastore_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/labstack/echo-contrib/session"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/adapters/gorillastore"
	"github.com/gormsession/gormsession/internal/testdb"
	gs "github.com/gormsession/gormsession/session"
)

// An echo application on echo-contrib/session: a counter,
// a slow variant that waits between load and save, and a logout.
func echoApp(st *gorillastore.Store, g *gate) *echo.Echo {
	e := echo.New()
	e.Use(session.Middleware(st))
	save := func(c echo.Context, n int) error {
		s, _ := session.Get(cookieName, c)
		err := s.Save(c.Request(), c.Response())
		switch {
		case err == nil:
			return c.JSON(http.StatusOK, map[string]any{"n": n})
		case errors.Is(err, gs.ErrConflict):
			return c.NoContent(http.StatusConflict)
		case errors.Is(err, gs.ErrNotFound):
			return c.NoContent(http.StatusGone)
		default:
			return err
		}
	}
	e.POST("/inc", func(c echo.Context) error {
		s, err := session.Get(cookieName, c)
		if err != nil {
			return err
		}
		n, _ := s.Values["n"].(int)
		if c.QueryParam("wait") == "1" {
			g.loaded <- struct{}{}
			<-g.release
		}
		s.Values["n"] = n + 1
		return save(c, n+1)
	})
	e.POST("/logout", func(c echo.Context) error {
		s, err := session.Get(cookieName, c)
		if err != nil {
			return err
		}
		s.Options.MaxAge = -1
		return save(c, 0)
	})
	return e
}

// serveEcho runs one request through echo's own ServeHTTP and returns the
// status, the body and the cookie to send next.
func serveEcho(t *testing.T, e *echo.Echo, method, path, cookie string) (int, string, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: cookieName, Value: cookie})
	}
	w := httptest.NewRecorder()
	e.ServeHTTP(w, req)
	for _, c := range w.Result().Cookies() {
		if c.Name == cookieName {
			cookie = c.Value
		}
	}
	return w.Code, w.Body.String(), cookie
}

// Through echo-contrib/session and echo v4: values across requests, a
// conflict, a logout, and a stale save after it that does not resurrect.
func TestEchoContrib(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		env := newEnv(t, db)
		g := newGate()
		e := echoApp(env.st, g)

		code, body, ck := serveEcho(t, e, "POST", "/inc", "")
		require.Equal(t, http.StatusOK, code)
		require.JSONEq(t, `{"n":1}`, body)
		require.Len(t, ck, 43)
		_, body, ck = serveEcho(t, e, "POST", "/inc", ck)
		require.JSONEq(t, `{"n":2}`, body)

		var wg sync.WaitGroup
		var slow int
		wg.Go(func() { slow, _, _ = serveEcho(t, e, "POST", "/inc?wait=1", ck) })
		<-g.loaded
		code, body, _ = serveEcho(t, e, "POST", "/inc", ck)
		require.Equal(t, http.StatusOK, code)
		require.JSONEq(t, `{"n":3}`, body)
		g.release <- struct{}{}
		wg.Wait()
		require.Equal(t, http.StatusConflict, slow)

		wg.Go(func() { slow, _, _ = serveEcho(t, e, "POST", "/inc?wait=1", ck) })
		<-g.loaded
		code, _, after := serveEcho(t, e, "POST", "/logout", ck)
		require.Equal(t, http.StatusOK, code)
		require.Empty(t, after)
		g.release <- struct{}{}
		wg.Wait()
		require.Equal(t, http.StatusGone, slow)
		require.Zero(t, env.rows(t))

		_, body, _ = serveEcho(t, e, "POST", "/inc", ck)
		require.JSONEq(t, `{"n":1}`, body, "the old cookie opens a fresh session")
	})
}
