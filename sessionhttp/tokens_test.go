package sessionhttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessionhttp"
	"github.com/gormsession/gormsession/sessiontest"
)

// tokenApp is a handler with the usual routes: /add changes the cart,
// /view reads it, /login renews with a subject (remember=1 gives the
// session a lifetime of its own), /logout destroys.
func tokenApp(m *sessionhttp.Manager[Cart]) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/add", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Update(r, func(c *Cart) error { c.Count++; return nil }); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/view", func(w http.ResponseWriter, r *http.Request) {
		s, _ := m.Session(r)
		w.Write([]byte(strconv.Itoa(s.Data.Count)))
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := m.Session(r)
		s.SetSubject("user:1")
		if r.URL.Query().Get("remember") == "1" {
			s.SetExpiry(30*24*time.Hour, 7*24*time.Hour)
		}
		if err := m.Renew(r); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Destroy(r); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return m.Handler(mux)
}

func tokenManager(t *testing.T, db *gorm.DB, opts ...sessionhttp.Option) (*session.Container[Cart], *sessionhttp.Manager[Cart]) {
	t.Helper()
	c := sessiontest.NewOn[Cart](t, db, session.WithLifetime(12*time.Hour), session.WithMaxLifetime(30*24*time.Hour))
	m, err := sessionhttp.New(c, opts...)
	require.NoError(t, err)
	return c, m
}

func serve(h http.Handler, path string, header http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "https://example.test"+path, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestTokenHeaders(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		for _, tc := range []struct{ name, prefix string }{
			{"Authorization", "Bearer "},
			{"X-Session-Token", ""},
		} {
			t.Run(tc.name, func(t *testing.T) {
				c, m := tokenManager(t, db, sessionhttp.WithTokenHeader(tc.name))
				h := tokenApp(m)
				with := func(tok string) http.Header {
					return http.Header{tc.name: {tc.prefix + tok}}
				}
				tokenOf := func(w *httptest.ResponseRecorder) string {
					t.Helper()
					v := w.Header().Get(tc.name)
					require.True(t, strings.HasPrefix(v, tc.prefix), v)
					return strings.TrimPrefix(v, tc.prefix)
				}

				// An anonymous read: no row, no token, no cookie.
				w := serve(h, "/view", nil)
				require.Equal(t, "0", w.Body.String())
				require.Empty(t, w.Header().Values(tc.name))
				require.Empty(t, w.Header().Values("Set-Cookie"))

				// A change: the token comes back in the header, never in a cookie.
				w = serve(h, "/add", nil)
				require.Equal(t, http.StatusNoContent, w.Code)
				tok := tokenOf(w)
				require.NotEmpty(t, tok)
				require.Empty(t, w.Header().Values("Set-Cookie"))
				require.Equal(t, "no-store", w.Header().Get("Cache-Control"))
				require.Contains(t, w.Header().Values("Vary"), tc.name)

				// The token opens the session; a read sends no token back.
				w = serve(h, "/add", with(tok))
				require.Empty(t, w.Header().Values(tc.name), "an unchanged token is not sent again")
				w = serve(h, "/view", with(tok))
				require.Equal(t, "2", w.Body.String())

				// The cookie is not read in header mode.
				w = serve(h, "/view", http.Header{"Cookie": {"__Host-session=" + tok}})
				require.Equal(t, "0", w.Body.String())

				// Login renews: the new token comes back, the old one is dead.
				w = serve(h, "/login", with(tok))
				require.Equal(t, http.StatusNoContent, w.Code)
				renewed := tokenOf(w)
				require.NotEqual(t, tok, renewed)
				ok, err := c.Exists(context.Background(), tok)
				require.NoError(t, err)
				require.False(t, ok)
				w = serve(h, "/view", with(renewed))
				require.Equal(t, "2", w.Body.String())

				// Logout: an empty header tells the client to forget the token.
				w = serve(h, "/logout", with(renewed))
				require.Equal(t, http.StatusNoContent, w.Code)
				require.Equal(t, []string{""}, w.Header().Values(tc.name))
				ok, err = c.Exists(context.Background(), renewed)
				require.NoError(t, err)
				require.False(t, ok)

				// Malformed values are an anonymous visitor, not an error.
				for _, v := range []string{"", "Bearer", "Basic abc", "Bearer " + strings.Repeat("x", 5000), "\x00"} {
					w = serve(h, "/view", http.Header{tc.name: {v}})
					require.Equal(t, http.StatusOK, w.Code)
					require.Equal(t, "0", w.Body.String())
				}

				// The test kit's requests follow the Manager's header.
				r, _ := sessiontest.Request(t, m, httptest.NewRequest(http.MethodGet, "/view", nil), func(s *session.Session[Cart]) {
					s.Data.Count = 41
				})
				w = httptest.NewRecorder()
				h.ServeHTTP(w, r)
				require.Equal(t, "41", w.Body.String())
			})
		}
	})
}

func TestTokenHeaderNamesAreChecked(t *testing.T) {
	t.Parallel()
	c := sessiontest.New[Cart](t)
	for _, bad := range []string{"", "Cookie", "set-cookie", "X Token", "X-Tok\n"} {
		_, err := sessionhttp.New(c, sessionhttp.WithTokenHeader(bad))
		require.ErrorIs(t, err, sessionhttp.ErrInvalidOption, "%q", bad)
	}
	_, err := sessionhttp.New(c, sessionhttp.WithTokenHeader("authorization"))
	require.NoError(t, err)
}

// With a browser-session cookie template, a session given a lifetime of its
// own ("remember me") gets a persistent cookie whose Max-Age follows it;
// the others keep browser-session cookies.
func TestRememberMeCookies(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		_, m := tokenManager(t, db, sessionhttp.WithCookie(http.Cookie{
			Name: "__Host-session", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: -1,
		}))
		h := tokenApp(m)
		cookie := func(w *httptest.ResponseRecorder) *http.Cookie {
			t.Helper()
			cs := w.Result().Cookies()
			require.Len(t, cs, 1)
			return cs[0]
		}
		for _, remember := range []bool{false, true} {
			w := serve(h, "/add", nil)
			ck := cookie(w)
			require.Zero(t, ck.MaxAge, "an anonymous session has a browser-session cookie")
			q := "/login"
			if remember {
				q += "?remember=1"
			}
			w = serve(h, q, http.Header{"Cookie": {ck.Name + "=" + ck.Value}})
			require.Equal(t, http.StatusNoContent, w.Code)
			ck = cookie(w)
			if !remember {
				require.Zero(t, ck.MaxAge, "signed in without remember me: still a browser-session cookie")
				require.Empty(t, ck.RawExpires)
				continue
			}
			week := int((7 * 24 * time.Hour).Seconds())
			require.InDelta(t, week, ck.MaxAge, 5, "persistent for the session's own idle window")
			// A later change keeps it persistent.
			w = serve(h, "/add", http.Header{"Cookie": {ck.Name + "=" + ck.Value}})
			require.InDelta(t, week, cookie(w).MaxAge, 5)
		}
	})
}
