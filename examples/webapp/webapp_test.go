package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
)

func TestShopFlow(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		a := newTestApp(t, db)
		b := a.browser(t)

		// An anonymous look gets no cookie.
		resp, body := b.get("/")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Contains(t, body, "Your cart is empty.")
		require.Empty(t, b.token())
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		require.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'")

		// Adding to the cart starts the session; the flash shows once.
		resp, _ = b.post("/cart/add", url.Values{"sku": {"beans"}})
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		anon := b.token()
		require.NotEmpty(t, anon)
		b.post("/cart/add", url.Values{"sku": {"beans"}})
		b.post("/cart/add", url.Values{"sku": {"kettle"}})
		_, body = b.get("/")
		require.Contains(t, body, "Added Gooseneck kettle to your cart.")
		require.Contains(t, body, `<span id="cart-count">3</span>`)
		require.Contains(t, body, `<span id="cart-total">€76.80</span>`)
		_, body = b.get("/")
		require.NotContains(t, body, "Added Gooseneck kettle", "a flash shows once")
		require.Contains(t, body, `<span id="cart-count">3</span>`, "the cart persists")

		b.post("/cart/remove", url.Values{"sku": {"beans"}})
		_, body = b.get("/")
		require.Contains(t, body, `<span id="cart-count">2</span>`)
		b.post("/cart/add", url.Values{"sku": {"nonsense"}})
		_, body = b.get("/")
		require.Contains(t, body, "That product is not in our catalog.")

		// Sign-up validates, then signs in with a new token; the cart comes along.
		resp, body = b.post("/signup", url.Values{"email": {"not an email"}, "password": {"longenough"}})
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
		require.Contains(t, body, "please enter a valid email address")
		resp, body = b.post("/signup", url.Values{"email": {"ada@example.com"}, "password": {"short"}})
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
		require.Contains(t, body, "at least 8 characters")
		require.Contains(t, body, `value="ada@example.com"`, "the form keeps the email")
		resp, _ = b.post("/signup", url.Values{"email": {" Ada@Example.com "}, "password": {"correct horse"}})
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Equal(t, "/", resp.Header.Get("Location"))
		signedIn := b.token()
		require.NotEqual(t, anon, signedIn, "sign-up renews the token")
		require.False(t, a.alive(t, anon))
		_, body = b.get("/")
		require.Contains(t, body, "Signed in as ada@example.com")
		require.Contains(t, body, "Welcome to Gopher Coffee!")
		require.Contains(t, body, `<span id="cart-count">2</span>`)

		other := a.browser(t)
		resp, body = other.post("/signup", url.Values{"email": {"ada@example.com"}, "password": {"another one"}})
		require.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
		require.Contains(t, body, "already exists")

		// Sign out: the cookie goes, the token dies, the page says so.
		resp, _ = b.post("/signout", nil)
		require.Equal(t, "/?signed-out", resp.Header.Get("Location"))
		require.Empty(t, b.token())
		require.False(t, a.alive(t, signedIn))
		_, body = b.get("/?signed-out")
		require.Contains(t, body, "You are signed out.")
		require.Contains(t, body, "Your cart is empty.")
		require.Empty(t, b.token())

		// Sign in again.
		resp, body = b.post("/signin", url.Values{"email": {"ada@example.com"}, "password": {"wrong password"}})
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Contains(t, body, "do not match an account")
		resp, body = b.post("/signin", url.Values{"email": {"nobody@example.com"}, "password": {"wrong password"}})
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Contains(t, body, "do not match an account", "an unknown email looks the same")
		resp, _ = b.post("/signin", url.Values{"email": {"ada@example.com"}, "password": {"correct horse"}, "next": {"/sessions"}})
		require.Equal(t, "/sessions", resp.Header.Get("Location"))
		require.NotEmpty(t, b.token())
	})
}

func TestSessionsPage(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		a := newTestApp(t, db)
		laptop, phone, tablet := a.browser(t), a.browser(t), a.browser(t)

		resp, _ := laptop.get("/sessions")
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Equal(t, "/signin?next=%2Fsessions", resp.Header.Get("Location"))

		laptop.post("/signup", url.Values{"email": {"grace@example.com"}, "password": {"hopper1906"}})
		for _, b := range []*browser{phone, tablet} {
			resp, _ = b.post("/signin", url.Values{"email": {"grace@example.com"}, "password": {"hopper1906"}})
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		}

		_, body := laptop.get("/sessions")
		require.Equal(t, 3, count(body, `class="session"`))
		require.Equal(t, 1, count(body, `id="current"`))
		require.Contains(t, body, "3 active sessions")
		current, _ := a.sessions.Load(t.Context(), laptop.token())
		require.Contains(t, body, `data-handle="`+current.Handle()+`"`)
		row := body[strings.Index(body, `data-handle="`+current.Handle()+`"`):]
		require.Contains(t, row[:strings.Index(row, "</tr>")], "This browser")

		// End the phone's session from the laptop.
		phoneSession, err := a.sessions.Load(t.Context(), phone.token())
		require.NoError(t, err)
		resp, _ = laptop.post("/sessions/revoke", url.Values{"handle": {phoneSession.Handle()}})
		require.Equal(t, "/sessions", resp.Header.Get("Location"))
		_, body = laptop.get("/sessions")
		require.Contains(t, body, "Signed out that session.")
		require.Contains(t, body, "2 active sessions")
		_, body = phone.get("/")
		require.NotContains(t, body, "Signed in as")
		require.NotEmpty(t, phone.token())
		require.False(t, a.alive(t, phone.token()), "the phone's cookie holds a dead token")

		// The laptop cannot end its own session by handle, nor others' sessions.
		laptop.post("/sessions/revoke", url.Values{"handle": {current.Handle()}})
		_, body = laptop.get("/sessions")
		require.Contains(t, body, "use Sign out")
		require.True(t, a.alive(t, laptop.token()))

		// Sign out everywhere else.
		laptop.post("/sessions/others", nil)
		_, body = laptop.get("/sessions")
		require.Contains(t, body, "Signed out 1 other session.")
		require.Contains(t, body, "1 active session<")
		require.Contains(t, body, "disabled")
		_, body = tablet.get("/")
		require.NotContains(t, body, "Signed in as")
		_, body = laptop.get("/")
		require.Contains(t, body, "Signed in as grace@example.com")
	})
}

func TestCrossOriginPostIsRefused(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, testdb.Open(t, testdb.SQLite, nil))
	req, err := http.NewRequest(http.MethodPost, a.srv.URL+"/cart/add", strings.NewReader("sku=beans"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := a.srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Empty(t, resp.Cookies())
}

func TestAgo(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		-10 * time.Second: "just now", -time.Minute: "1 minute ago", -5 * time.Minute: "5 minutes ago",
		-3 * time.Hour: "3 hours ago", 23 * time.Hour: "in 23 hours", 7 * 24 * time.Hour: "in 7 days",
		30 * time.Second: "in under a minute", 24*time.Hour - time.Minute: "in 24 hours",
		-59*time.Minute - 50*time.Second: "1 hour ago", -90 * time.Second: "2 minutes ago",
	} {
		require.Equal(t, want, ago(now.Add(d), now), d.String())
	}
}

func TestGuessDriver(t *testing.T) {
	t.Parallel()
	require.Equal(t, "sqlite", guessDriver(""))
	require.Equal(t, "postgres", guessDriver("host=127.0.0.1 user=postgres dbname=test"))
	require.Equal(t, "postgres", guessDriver("postgres://u@h/db"))
	require.Equal(t, "mysql", guessDriver("root@tcp(127.0.0.1:3306)/test?parseTime=true"))
	_, err := openDB("oracle", "", "")
	require.ErrorContains(t, err, "unknown -driver")
}

// TestConcurrentCartChanges: a double click or parallel requests never
// meet an error page. Eight simultaneous "Add to cart" POSTs with one
// cookie all answer 303 and the cart counts all eight; then two
// simultaneous "Remove" POSTs both answer 303 and remove two. Each burst's
// requests are held, right after their session was opened, until all of
// them have opened it, so they really load one stored version and race.
func TestConcurrentCartChanges(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		var (
			gate     atomic.Pointer[func()]
			resolved atomic.Int32 // conflicts resolved by re-applying a change
		)
		observer := func(_ context.Context, e session.Event) {
			switch {
			case e.Op == "open":
				if wait := gate.Load(); wait != nil {
					(*wait)()
				}
			case e.Op == "update" && e.Err == nil:
				resolved.Add(1)
			}
		}
		a := newTestApp(t, db, session.WithObserver(observer))
		b := a.browser(t)
		resp, _ := b.post("/cart/add", url.Values{"sku": {"kettle"}})
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		tok := b.token()
		require.NotEmpty(t, tok)

		// burst sends n POSTs of path at once with b's cookie.
		burst := func(n int, path string, form url.Values) []int {
			wait := openBarrier(n)
			gate.Store(&wait)
			defer gate.Store(nil)
			codes := make([]int, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					resp, err := b.c.PostForm(a.srv.URL+path, form)
					if err != nil {
						t.Errorf("request %d: %v", i, err)
						return
					}
					defer resp.Body.Close()
					body, _ := io.ReadAll(resp.Body)
					codes[i] = resp.StatusCode
					if resp.StatusCode != http.StatusSeeOther {
						t.Errorf("request %d: %d %s", i, resp.StatusCode, body)
					}
				})
			}
			wg.Wait()
			return codes
		}
		seeOther := func(n int) []int { return slices.Repeat([]int{http.StatusSeeOther}, n) }

		const n = 8
		require.Equal(t, seeOther(n), burst(n, "/cart/add", url.Values{"sku": {"beans"}}))
		t.Logf("%s: %d simultaneous adds answered 303, %d conflicts resolved by re-applying",
			testdb.Dialect(db), n, resolved.Load())
		require.GreaterOrEqual(t, int(resolved.Load()), n-1, "all but one lost a race")
		_, body := b.get("/")
		require.Contains(t, body, `<span id="cart-count">9</span>`, "1 kettle and 8 beans")
		require.Contains(t, body, "Added Espresso beans to your cart.")
		s, err := a.sessions.Load(t.Context(), tok)
		require.NoError(t, err)
		require.ElementsMatch(t, []CartLine{{SKU: "kettle", Qty: 1}, {SKU: "beans", Qty: 8}}, s.Data.Cart)
		require.Empty(t, s.Data.Flash, "the page cleared the flash it showed")
		require.Equal(t, tok, b.token())

		require.Equal(t, seeOther(2), burst(2, "/cart/remove", url.Values{"sku": {"beans"}}))
		_, body = b.get("/")
		require.Contains(t, body, `<span id="cart-count">7</span>`)
	})
}

// openBarrier returns a function that n callers call: each returns once
// all n have called it. If one never comes the others give up after a
// minute, a safety net against a hung test, not a timing assumption: the
// test then fails on its counts.
func openBarrier(n int) func() {
	var wg sync.WaitGroup
	wg.Add(n)
	all := make(chan struct{})
	go func() {
		wg.Wait()
		close(all)
	}()
	return func() {
		wg.Done()
		select {
		case <-all:
		case <-time.After(time.Minute):
		}
	}
}
