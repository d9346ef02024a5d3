package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormsession/gormsession/session"
)

// TestShop walks the shop as a browser would: add, sign in (new token,
// cart kept), add, sign out (cookie expired, cart gone).
func TestShop(t *testing.T) {
	t.Parallel()
	db, err := gorm.Open(sqlite.Open(session.SQLiteDSN(filepath.Join(t.TempDir(), "cart.db"))), &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	sqlDB, err := db.DB()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sqlDB.Close() })
	h, err := newServer(db)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	cl := &http.Client{Jar: jar}
	t.Cleanup(cl.CloseIdleConnections)
	u, _ := url.Parse(srv.URL)
	token := func() string {
		for _, c := range jar.Cookies(u) {
			if c.Name == "cart" {
				return c.Value
			}
		}
		return ""
	}
	post := func(path string, form url.Values) string {
		resp, err := cl.PostForm(srv.URL+path, form) // follows the 303 to GET /
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
		return string(body)
	}

	require.Contains(t, post("/cart", url.Values{"item": {"apple"}}), "Cart: apple")
	anon := token()
	require.NotEmpty(t, anon)
	body := post("/login", url.Values{"user": {"ada"}})
	require.Contains(t, body, "Signed in as ada.")
	require.Contains(t, body, "Cart: apple", "the cart survives sign-in")
	require.NotEqual(t, anon, token(), "sign-in moved the session to a new token")
	require.True(t, strings.Contains(post("/cart", url.Values{"item": {"pear"}}), "Cart: apple pear"))
	body = post("/logout", nil)
	require.Contains(t, body, "Sign in")
	require.Contains(t, body, "Cart: empty")
	require.Empty(t, token(), "the cookie was expired")
}
