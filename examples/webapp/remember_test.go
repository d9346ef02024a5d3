package main

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/internal/testdb"
)

// sessionCookie returns the session cookie a response set, or nil.
func sessionCookie(a *testApp, resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == a.cookie {
			return c
		}
	}
	return nil
}

// "Remember me" gives the session a lifetime of its own and a persistent
// cookie; without it the cookie goes with the browser. The sessions page
// shows each device's label and which sessions are remembered.
func TestRememberMeAndDeviceLabels(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		a := newTestApp(t, db)
		desk, phone := a.browser(t), a.browser(t)
		resp, _ := desk.post("/signup", url.Values{"email": {"lin@example.com"}, "password": {"lovelace1815"}})
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		ck := sessionCookie(a, resp)
		require.NotNil(t, ck)
		require.Zero(t, ck.MaxAge, "not remembered: a browser-session cookie")
		require.True(t, ck.Expires.IsZero())

		resp, _ = phone.post("/signin", url.Values{"email": {"lin@example.com"}, "password": {"lovelace1815"}, "remember": {"on"}})
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		ck = sessionCookie(a, resp)
		require.NotNil(t, ck)
		require.InDelta(t, (7 * 24 * time.Hour).Seconds(), ck.MaxAge, 10, "remembered: persistent for its idle week")
		s, err := a.sessions.Load(t.Context(), ck.Value)
		require.NoError(t, err)
		lifetime, idle := s.Expiry()
		require.Equal(t, rememberFor, lifetime)
		require.Equal(t, 7*24*time.Hour, idle)

		_, body := desk.get("/sessions")
		require.Equal(t, 2, count(body, `class="label">Go client`), body)
		require.Equal(t, 1, count(body, `Remembered`))
	})
}

func TestDeviceLabel(t *testing.T) {
	t.Parallel()
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0":                                                                  "Firefox on Linux",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0":           "Edge on Windows",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1": "Safari on iPhone",
		"Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36":                            "Chrome on Android",
		"curl/8.5.0": "curl",
		"":           "Unknown device",
	} {
		require.Equal(t, want, deviceLabel(ua), ua)
	}
}
