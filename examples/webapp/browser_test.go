package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/gormsession/gormsession/internal/testdb"
)

// Environment variables of the browser test.
const (
	// envChromium overrides the browser binary (default chromiumDefault).
	envChromium = "GORMSESSION_TEST_CHROMIUM"
	// envScreenshot, when set, is the path the test writes a PNG of the
	// shop to (the README's docs/webapp.png).
	envScreenshot = "GORMSESSION_SCREENSHOT"
	// chromiumDefault is where Debian's chromium package puts the browser.
	chromiumDefault = "/usr/bin/chromium"
)

// chromiumPath returns the browser to drive, or skips t when there is none,
// or fails it when GORMSESSION_TEST_REQUIRE names "browser".
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv(envChromium)
	if path == "" {
		path = chromiumDefault
	}
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if slices.Contains(strings.Split(os.Getenv(testdb.EnvRequire), ","), "browser") {
		t.Fatalf("the browser test is required (%s) but %s is missing; install Debian's chromium package", testdb.EnvRequire, path)
	}
	t.Skipf("%s is missing; install Debian's chromium package to run the browser test", path)
	return ""
}

// TestBrowser drives the shop in headless Chromium, as a visitor would:
// visit, fill the cart, reload, sign up, sign in from a second browser,
// sign out everywhere else from the first, and sign out.
func TestBrowser(t *testing.T) {
	t.Parallel()
	chromium := chromiumPath(t)
	a := newTestApp(t, testdb.Open(t, testdb.SQLite, nil))
	url := a.srv.URL

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// Only flags that need no network, and a fresh profile.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "profile")),
	)
	defer cancelAlloc()
	first, cancelFirst := chromedp.NewContext(allocCtx)
	defer cancelFirst()

	// step runs actions in tab and fails the test on error.
	step := func(tab context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(tab, actions...), what)
	}
	// submit clicks a button that submits a form and waits for the page
	// the redirect leads to.
	submit := func(tab context.Context, id string) {
		t.Helper()
		resp, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.ID(id)))
		require.NoError(t, err, "click #%s", id)
		require.EqualValues(t, 200, resp.Status, "page after #%s", id)
	}
	text := func(tab context.Context, id string) string {
		t.Helper()
		s, err := chromedp.Run(tab, chromedp.Text(chromedp.ID(id)))
		require.NoError(t, err, "text of #%s", id)
		return strings.TrimSpace(s)
	}
	has := func(tab context.Context, id string) bool {
		t.Helper()
		n, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.getElementById(`+"`"+id+"`"+`) !== null`))
		require.NoError(t, err)
		return n
	}
	// cookie returns the tab's session cookie, nil if it has none.
	cookie := func(tab context.Context) *network.Cookie {
		t.Helper()
		res, err := chromedp.Call(tab, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
		require.NoError(t, err)
		for _, c := range res.Cookies {
			if c.Name == a.cookie {
				return c
			}
		}
		return nil
	}

	// 1. Visit: the shop shows an empty cart, and looking sets no cookie.
	step(first, "visit", chromedp.EmulateViewport(1280, 860), chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("cart-empty")))
	require.Contains(t, text(first, "product-beans"), "Espresso beans")
	require.Nil(t, cookie(first), "an anonymous visitor who only looks gets no cookie")

	// 2. Add to cart: the cart fills, the flash says so, the session cookie
	// appears, HttpOnly and SameSite=Lax.
	submit(first, "add-beans")
	require.Equal(t, "1", text(first, "cart-count"))
	submit(first, "add-kettle")
	require.Equal(t, "Added Gooseneck kettle to your cart.", text(first, "flash"))
	require.Equal(t, "2", text(first, "cart-count"))
	require.Equal(t, "€57.90", text(first, "cart-total"))
	anon := cookie(first)
	require.NotNil(t, anon)
	require.Len(t, anon.Value, 43)
	require.True(t, anon.HTTPOnly)
	require.Equal(t, network.CookieSameSiteLax, anon.SameSite)
	require.True(t, anon.Session, "a browser-session cookie until the visitor asks to be remembered")
	require.True(t, a.alive(t, anon.Value))

	// 3. Reload: the cart persists, the flash was shown once.
	step(first, "reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("cart")))
	require.Equal(t, "2", text(first, "cart-count"))
	require.False(t, has(first, "flash"))
	require.Equal(t, anon.Value, cookie(first).Value, "reading does not change the token")

	// 4. Sign up (which signs in): the cookie value changes, the old token
	// is dead, the cart came along.
	step(first, "sign-up form", chromedp.Click(chromedp.ID("signup-link")), chromedp.WaitVisible(chromedp.ID("signup")),
		chromedp.SendKeys(chromedp.ID("email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery"))
	submit(first, "signup")
	require.Equal(t, "Signed in as ada@example.com", text(first, "who"))
	require.Contains(t, text(first, "flash"), "Welcome to Gopher Coffee!")
	require.Equal(t, "2", text(first, "cart-count"))
	signedIn := cookie(first)
	require.NotNil(t, signedIn)
	require.NotEqual(t, anon.Value, signedIn.Value, "signing in renews the token")
	require.False(t, a.alive(t, anon.Value), "the token from before sign-in is dead")

	if path := os.Getenv(envScreenshot); path != "" {
		png, err := chromedp.Run(first, chromedp.FullScreenshot(100))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, png, 0o644))
	}

	// 5. A second browser context (its own cookies) signs in as the same user.
	second, cancelSecond := chromedp.NewContext(first, chromedp.WithNewBrowserContext())
	defer cancelSecond()
	step(second, "second browser", chromedp.Navigate(url+"/signin"), chromedp.WaitVisible(chromedp.ID("signin")))
	require.Nil(t, cookie(second), "the second context shares no cookies with the first")
	step(second, "sign-in form",
		chromedp.SendKeys(chromedp.ID("email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery"))
	submit(second, "signin")
	require.Equal(t, "Signed in as ada@example.com", text(second, "who"))
	other := cookie(second)
	require.NotNil(t, other)
	require.NotEqual(t, signedIn.Value, other.Value)

	// 6. The first browser lists both sessions, marks its own, and signs
	// out everywhere else.
	step(first, "sessions page", chromedp.Navigate(url+"/sessions"), chromedp.WaitVisible(chromedp.ID("sessions")))
	require.Equal(t, "2 active sessions", text(first, "session-count"))
	require.Equal(t, "This browser", text(first, "current"))
	submit(first, "signout-others")
	require.Equal(t, "Signed out 1 other session.", text(first, "flash"))
	require.Equal(t, "1 active session", text(first, "session-count"))
	require.False(t, a.alive(t, other.Value))
	require.True(t, a.alive(t, signedIn.Value))

	// 7. The second browser is signed out: its next page is anonymous, and
	// the token its cookie still holds is dead.
	step(second, "reload second", chromedp.Reload(), chromedp.WaitVisible(chromedp.ID("cart")))
	require.True(t, has(second, "signin-link"))
	require.False(t, has(second, "who"))
	if c := cookie(second); c != nil {
		require.False(t, a.alive(t, c.Value))
	}
	step(second, "visit sessions page", chromedp.Navigate(url+"/sessions"), chromedp.WaitVisible(chromedp.ID("signin")))
	loc, err := chromedp.Run(second, chromedp.Location())
	require.NoError(t, err)
	require.Equal(t, url+"/signin?next=%2Fsessions", loc, "the sessions page sends it to sign in")

	// 8. Sign out in the first: the cookie is gone and its token is dead.
	step(first, "home", chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("signout")))
	submit(first, "signout")
	require.Equal(t, "You are signed out. See you soon.", text(first, "flash"))
	require.True(t, has(first, "signin-link"))
	require.Nil(t, cookie(first), "signing out removes the cookie")
	require.False(t, a.alive(t, signedIn.Value))
	require.Zero(t, count(text(first, "cart"), "×"), "the cart went with the session")
}
