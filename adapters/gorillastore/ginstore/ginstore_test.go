package ginstore_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gin-contrib/sessions"
	"github.com/gin-contrib/sessions/tester"
	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/adapters/gorillastore"
	"github.com/gormsession/gormsession/adapters/gorillastore/ginstore"
	"github.com/gormsession/gormsession/codec"
	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessiontest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	gin.DefaultWriter = io.Discard // the access log of gin.Default, which the suite uses
	goleak.VerifyTestMain(m, testdb.LeakOptions...)
}

func newStore(t *testing.T, db *gorm.DB) (ginstore.Store, *session.Container[[]byte]) {
	t.Helper()
	c := sessiontest.NewOn[[]byte](t, db, session.WithCodec(codec.Gob{}))
	st, err := gorillastore.New(c)
	require.NoError(t, err)
	return ginstore.Store{Store: st}, c
}

// gin-contrib/sessions' own store test suite (package tester, which its
// cookie, redis, memstore, gorm ... stores run) passes on every database.
func TestGinContribSuite(t *testing.T) {
	t.Parallel()
	type factory = func(*testing.T) sessions.Store
	suite := map[string]func(*testing.T, factory){
		"GetSet":    func(t *testing.T, f factory) { tester.GetSet(t, f) },
		"DeleteKey": func(t *testing.T, f factory) { tester.DeleteKey(t, f) },
		"Flashes":   func(t *testing.T, f factory) { tester.Flashes(t, f) },
		"Clear":     func(t *testing.T, f factory) { tester.Clear(t, f) },
		"Options":   func(t *testing.T, f factory) { tester.Options(t, f) },
		"Many":      func(t *testing.T, f factory) { tester.Many(t, f) },
	}
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		for name, run := range suite {
			t.Run(name, func(t *testing.T) {
				run(t, func(t *testing.T) sessions.Store {
					st, _ := newStore(t, db)
					return st
				})
			})
		}
	})
}

// A gin application: a counter, a login that renews the token, a logout,
// and a slow request that loads, waits and saves.
func ginApp(st ginstore.Store, loaded, release chan struct{}) *gin.Engine {
	r := gin.New()
	r.Use(sessions.Sessions("sid", st))
	save := func(c *gin.Context, s sessions.Session) {
		err := s.Save()
		switch {
		case err == nil:
			c.String(http.StatusOK, "%v|%v", s.Get("n"), s.Get("user"))
		case errors.Is(err, session.ErrConflict):
			c.String(http.StatusConflict, "conflict")
		case errors.Is(err, session.ErrNotFound):
			c.String(http.StatusGone, "gone")
		default:
			c.String(http.StatusInternalServerError, "error")
		}
	}
	r.POST("/inc", func(c *gin.Context) {
		s := sessions.Default(c)
		n, _ := s.Get("n").(int)
		if c.Query("wait") == "1" {
			loaded <- struct{}{}
			<-release
		}
		s.Set("n", n+1)
		save(c, s)
	})
	r.POST("/login", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Set("user", c.Query("user"))
		g, err := st.Get(c.Request, "sid") // the gorilla session under s
		if err == nil {
			st.SetSubject(g, "user:"+c.Query("user"))
			err = st.Renew(c.Request, c.Writer, g)
		}
		if err != nil {
			c.String(http.StatusInternalServerError, "error")
			return
		}
		save(c, s)
	})
	r.POST("/logout", func(c *gin.Context) {
		s := sessions.Default(c)
		s.Options(sessions.Options{MaxAge: -1})
		save(c, s)
	})
	return r
}

// serve runs one request through the engine with the cookie, and returns
// the status, the body and the cookie to send next (the old one when the
// response set none, "" when it expired it).
func serve(t *testing.T, r *gin.Engine, method, path, cookie string) (int, string, string) {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "sid", Value: cookie})
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	for _, c := range w.Result().Cookies() {
		if c.Name == "sid" {
			cookie = c.Value
		}
	}
	return w.Code, w.Body.String(), cookie
}

// Through a gin engine: values across requests, a renewed token at login
// (the old one dead), a conflict, and a logout that a stale save cannot
// undo.
func TestGinEngine(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		st, c := newStore(t, db)
		loaded, release := make(chan struct{}), make(chan struct{})
		r := ginApp(st, loaded, release)

		code, body, ck := serve(t, r, "POST", "/inc", "")
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "1|<nil>", body)
		require.Len(t, ck, 43)
		_, body, ck = serve(t, r, "POST", "/inc", ck)
		require.Equal(t, "2|<nil>", body)

		old := ck
		code, body, ck = serve(t, r, "POST", "/login?user=ann", ck)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "2|ann", body)
		require.NotEqual(t, old, ck)
		ok, err := c.Exists(t.Context(), old)
		require.NoError(t, err)
		require.False(t, ok, "the pre-login token is dead")
		list, err := c.List(t.Context(), "user:ann")
		require.NoError(t, err)
		require.Len(t, list, 1)

		// Conflict: a slow request loaded n=2, a fast one stored n=3.
		var wg sync.WaitGroup
		var slow int
		wg.Go(func() { slow, _, _ = serve(t, r, "POST", "/inc?wait=1", ck) })
		<-loaded
		code, body, _ = serve(t, r, "POST", "/inc", ck)
		require.Equal(t, http.StatusOK, code)
		require.Equal(t, "3|ann", body)
		release <- struct{}{}
		wg.Wait()
		require.Equal(t, http.StatusConflict, slow)

		// Logout while a slow request holds a copy: the copy cannot bring it back.
		wg.Go(func() { slow, _, _ = serve(t, r, "POST", "/inc?wait=1", ck) })
		<-loaded
		code, _, after := serve(t, r, "POST", "/logout", ck)
		require.Equal(t, http.StatusOK, code)
		require.Empty(t, after, "the cookie is expired")
		release <- struct{}{}
		wg.Wait()
		require.Equal(t, http.StatusGone, slow)
		ok, err = c.Exists(t.Context(), ck)
		require.NoError(t, err)
		require.False(t, ok)

		_, body, _ = serve(t, r, "POST", "/inc", ck)
		require.True(t, strings.HasPrefix(body, "1|"), "the old cookie opens a fresh session: %s", body)
	})
}
