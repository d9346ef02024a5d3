package gormsession_test

// The end-to-end test: the whole stack (sessionhttp, session, repository,
// a real database) behind a real TLS server, driven by an HTTP client with a
// cookie jar, the way a browser would.

import (
	"context"
	"io"
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

// Cart is the session payload of the end-to-end test.
type Cart struct {
	User  string   `json:"user,omitempty"`
	Items []string `json:"items"`
}

// shop is a small web shop: a cart, login and logout.
type shop struct {
	t      *testing.T
	db     *gorm.DB
	table  string
	carts  *session.Container[Cart]
	m      *sessionhttp.Manager[Cart]
	srv    *httptest.Server
	client *http.Client
	// together makes two /add-together requests wait inside the handler
	// until both have loaded the session, so they really race.
	together sync.WaitGroup
	// viaUpdate makes /add-together change the cart with Manager.Update
	// rather than directly.
	viaUpdate bool
}

// cookieName is sessionhttp's default session cookie name.
const cookieName = "__Host-session"

func newShop(t *testing.T, db *gorm.DB, opts ...sessionhttp.Option) *shop {
	t.Helper()
	table := testdb.Table(t, db)
	carts, err := session.New[Cart](db, session.WithTable(table), session.WithCleanupFrequency(0))
	require.NoError(t, err)
	t.Cleanup(func() { hooks.Of(db).Wait() })
	m, err := sessionhttp.New(carts, opts...)
	require.NoError(t, err)
	s := &shop{t: t, db: db, table: table, carts: carts, m: m}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		sess, _ := s.m.Session(r)
		io.WriteString(w, "user="+sess.Data.User+" items="+strings.Join(sess.Data.Items, ","))
	})
	mux.HandleFunc("POST /add", func(w http.ResponseWriter, r *http.Request) {
		sess, _ := s.m.Session(r)
		sess.Data.Items = append(sess.Data.Items, r.FormValue("item"))
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /add-together", func(w http.ResponseWriter, r *http.Request) {
		sess, _ := s.m.Session(r)
		s.together.Done()
		s.together.Wait()
		item := r.FormValue("item")
		if !s.viaUpdate {
			sess.Data.Items = append(sess.Data.Items, item)
		} else if err := s.m.Update(r, func(c *Cart) error {
			c.Items = append(c.Items, item)
			return nil
		}); err != nil {
			http.Error(w, "update failed", http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		sess, _ := s.m.Session(r)
		sess.Data.User = r.FormValue("user")
		sess.SetSubject("user:" + sess.Data.User)
		if err := s.m.Renew(r); err != nil {
			http.Error(w, "login failed", http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := s.m.Destroy(r); err != nil {
			http.Error(w, "logout failed", http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	s.srv = httptest.NewTLSServer(s.m.Handler(mux))
	t.Cleanup(s.srv.Close)

	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	client := *s.srv.Client()
	client.Jar = jar
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	t.Cleanup(client.CloseIdleConnections)
	s.client = &client
	return s
}

// do sends a request (a POST of form when form is not nil), without
// following redirects, and returns the response and its body.
func (s *shop) do(method, path string, form url.Values) (*http.Response, string) {
	s.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.srv.URL+path, body)
	require.NoError(s.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := s.client.Do(req)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	return resp, string(b)
}

// token returns the session token in the jar, "" if none.
func (s *shop) token() string {
	u, _ := url.Parse(s.srv.URL)
	for _, c := range s.client.Jar.Cookies(u) {
		if c.Name == cookieName {
			return c.Value
		}
	}
	return ""
}

func (s *shop) rows() int64 {
	s.t.Helper()
	var n int64
	require.NoError(s.t, s.db.Table(s.table).Count(&n).Error)
	return n
}

func (s *shop) alive(tok string) bool {
	s.t.Helper()
	ok, err := s.carts.Exists(context.Background(), tok)
	require.NoError(s.t, err)
	return ok
}

func setCookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestEndToEnd(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		s := newShop(t, db)
		name := cookieName

		// Visit: an anonymous visitor who only looks gets nothing.
		resp, body := s.do(http.MethodGet, "/", nil)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, "user= items=", body)
		require.Nil(t, setCookie(resp, name))
		require.Zero(t, s.rows())

		// Write: the first change stores the session and sets the cookie.
		resp, _ = s.do(http.MethodPost, "/add", url.Values{"item": {"apple"}})
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		c := setCookie(resp, name)
		require.NotNil(t, c)
		require.True(t, c.Secure && c.HttpOnly && c.SameSite == http.SameSiteLaxMode && c.Path == "/")
		first := s.token()
		require.Equal(t, c.Value, first)
		require.EqualValues(t, 1, s.rows())

		// Reload: the cart persists, and reading sends no new cookie.
		resp, body = s.do(http.MethodGet, "/", nil)
		require.Equal(t, "user= items=apple", body)
		require.Nil(t, setCookie(resp, name))

		// Renew at login: a new cookie value, the old token is dead, the
		// cart came along.
		resp, _ = s.do(http.MethodPost, "/login", url.Values{"user": {"ada"}})
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.NotNil(t, setCookie(resp, name))
		second := s.token()
		require.NotEqual(t, first, second)
		require.False(t, s.alive(first))
		require.True(t, s.alive(second))
		_, body = s.do(http.MethodGet, "/", nil)
		require.Equal(t, "user=ada items=apple", body)
		require.EqualValues(t, 1, s.rows())
		infos, err := s.carts.List(context.Background(), "user:ada")
		require.NoError(t, err)
		require.Len(t, infos, 1)

		// The old token, replayed by an attacker who saw it, is worthless.
		stolen := s.srv.Client()
		req, err := http.NewRequest(http.MethodGet, s.srv.URL+"/", nil)
		require.NoError(t, err)
		req.AddCookie(&http.Cookie{Name: name, Value: first})
		r2, err := stolen.Do(req)
		require.NoError(t, err)
		b2, _ := io.ReadAll(r2.Body)
		r2.Body.Close()
		require.Equal(t, "user= items=", string(b2))

		// Two concurrent requests of one session with the default policy:
		// one wins, the other is refused with 409 (never dropped silently)
		// and a retry lands it.
		s.together.Add(2)
		codes := s.race("pear", "plum")
		require.ElementsMatch(t, []int{http.StatusSeeOther, http.StatusConflict}, codes)
		if codes[0] == http.StatusConflict {
			s.do(http.MethodPost, "/add", url.Values{"item": {"pear"}})
		} else {
			s.do(http.MethodPost, "/add", url.Values{"item": {"plum"}})
		}
		_, body = s.do(http.MethodGet, "/", nil)
		require.Contains(t, []string{"user=ada items=apple,pear,plum", "user=ada items=apple,plum,pear"}, body)

		// Destroy at logout: the cookie is expired, the row and token gone.
		resp, _ = s.do(http.MethodPost, "/logout", nil)
		c = setCookie(resp, name)
		require.NotNil(t, c)
		require.Empty(t, c.Value)
		require.Less(t, c.MaxAge, 0, "sent as Max-Age=0")
		require.Empty(t, s.token())
		require.False(t, s.alive(second))
		require.Zero(t, s.rows())
		_, body = s.do(http.MethodGet, "/", nil)
		require.Equal(t, "user= items=", body)
	})
}

func TestEndToEndConcurrentRequestsMerge(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		s := newShop(t, db)
		s.viaUpdate = true
		s.do(http.MethodPost, "/add", url.Values{"item": {"apple"}})
		tok := s.token()

		s.together.Add(2)
		codes := s.race("pear", "plum")
		require.Equal(t, []int{http.StatusSeeOther, http.StatusSeeOther}, codes)

		stored, err := s.carts.Load(context.Background(), tok)
		require.NoError(t, err)
		require.ElementsMatch(t, []string{"apple", "pear", "plum"}, stored.Data.Items, "no write is lost")
		require.Equal(t, tok, s.token(), "re-applying an update does not change the token")
	})
}

// race sends one POST /add-together per item at once, with the same
// session cookie, and returns their status codes in item order.
func (s *shop) race(items ...string) []int {
	s.t.Helper()
	codes := make([]int, len(items))
	var wg sync.WaitGroup
	for i, item := range items {
		req, err := http.NewRequest(http.MethodPost, s.srv.URL+"/add-together",
			strings.NewReader(url.Values{"item": {item}}.Encode()))
		require.NoError(s.t, err)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		wg.Go(func() {
			resp, err := s.client.Do(req)
			if err != nil {
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		})
	}
	wg.Wait()
	return codes
}
