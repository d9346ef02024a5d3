package gorillastore_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
)

// app is a small gorilla/sessions application: a cart, flashes, a login
// that renews the token, and a logout that deletes the session. Requests
// with ?wait=1 stop between loading and saving until the gate opens.
// Handlers that match errors save with s.Save: gorilla's registry Save
// (sessions.Save) formats each store error with %v, so errors.Is cannot
// see through it (TestGorillaRegistrySaveLosesErrorChain).
func (e *env) app(g *gate) http.Handler {
	mux := http.NewServeMux()
	answer := func(w http.ResponseWriter, r *http.Request, s *sessions.Session, flashes []any, err error) {
		if err != nil {
			http.Error(w, http.StatusText(status(err)), status(err))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(viewOf(s, flashes))
	}
	wait := func(r *http.Request) {
		if r.URL.Query().Get("wait") == "1" {
			g.loaded <- struct{}{}
			<-g.release
		}
	}
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		s, err := e.st.Get(r, cookieName)
		answer(w, r, s, nil, err)
	})
	mux.HandleFunc("POST /add", func(w http.ResponseWriter, r *http.Request) {
		s, err := e.st.Get(r, cookieName)
		if err != nil {
			answer(w, r, s, nil, err)
			return
		}
		wait(r)
		cart, _ := s.Values["cart"].(Cart)
		item := r.URL.Query().Get("item")
		cart.Items = append(cart.Items, item)
		s.Values["cart"] = cart
		s.AddFlash("added " + item)
		answer(w, r, s, nil, s.Save(r, w))
	})
	mux.HandleFunc("GET /flashes", func(w http.ResponseWriter, r *http.Request) {
		s, err := e.st.Get(r, cookieName)
		if err != nil {
			answer(w, r, s, nil, err)
			return
		}
		f := s.Flashes()
		answer(w, r, s, f, sessions.Save(r, w)) // the registry's Save
	})
	mux.HandleFunc("GET /touch", func(w http.ResponseWriter, r *http.Request) {
		s, err := e.st.Get(r, cookieName)
		if err != nil {
			answer(w, r, s, nil, err)
			return
		}
		wait(r)
		answer(w, r, s, nil, s.Save(r, w)) // nothing changed
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		s, err := e.st.Get(r, cookieName)
		if err != nil {
			answer(w, r, s, nil, err)
			return
		}
		user := r.URL.Query().Get("user")
		s.Values["user"] = user
		e.st.SetSubject(s, "user:"+user)
		answer(w, r, s, nil, e.st.Renew(r, w, s))
	})
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		s, err := e.st.Get(r, cookieName)
		if err != nil {
			answer(w, r, s, nil, err)
			return
		}
		s.Options.MaxAge = -1
		answer(w, r, s, nil, s.Save(r, w))
	})
	return mux
}

func (e *env) server(t *testing.T, g *gate) *httptest.Server {
	srv := httptest.NewTLSServer(e.app(g))
	t.Cleanup(srv.Close)
	return srv
}

func sessionCookie(t *testing.T, cs []*http.Cookie) *http.Cookie {
	t.Helper()
	for _, c := range cs {
		if c.Name == cookieName {
			return c
		}
	}
	t.Fatalf("no %s cookie in the response", cookieName)
	return nil
}

// Values set in one request come back in the next through the cookie; the
// cookie carries a 43-character token with the default attributes, and the
// table holds only the token's hash.
func TestGorillaSetGetAcrossRequests(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		b := newBrowser(t, e.server(t, nil))

		code, v, _ := b.do("GET", "/get")
		require.Equal(t, http.StatusOK, code)
		require.True(t, v.New)
		require.Empty(t, b.token(), "a visitor who saves nothing gets no cookie")
		require.Zero(t, e.rows(t), "and no row")

		code, v, cs := b.do("POST", "/add?item=apple")
		require.Equal(t, http.StatusOK, code)
		ck := sessionCookie(t, cs)
		assert.Len(t, ck.Value, 43)
		assert.Equal(t, "/", ck.Path)
		assert.True(t, ck.Secure)
		assert.True(t, ck.HttpOnly)
		assert.Equal(t, http.SameSiteLaxMode, ck.SameSite)
		assert.Zero(t, ck.MaxAge, "a browser-session cookie by default")
		assert.True(t, ck.Expires.IsZero())
		hashed, plain := e.storedAs(t, ck.Value)
		require.True(t, hashed, "stored under the token's hash")
		require.False(t, plain, "never under the token")
		require.NotEmpty(t, v.ID)
		require.NotContains(t, ck.Value, v.ID)

		_, _, _ = b.do("POST", "/add?item=pear")
		code, v, _ = b.do("GET", "/get")
		require.Equal(t, http.StatusOK, code)
		require.False(t, v.New)
		require.Equal(t, []string{"apple", "pear"}, v.Items)
		require.Equal(t, int64(1), e.rows(t))
	})
}

// Flashes added in one request are read once in the next.
func TestGorillaFlashes(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		b := newBrowser(t, e.server(t, nil))
		b.do("POST", "/add?item=apple")
		b.do("POST", "/add?item=pear")
		_, v, _ := b.do("GET", "/flashes")
		require.Equal(t, []string{"added apple", "added pear"}, v.Flashes)
		_, v, _ = b.do("GET", "/flashes")
		require.Empty(t, v.Flashes, "read once")
		require.Equal(t, []string{"apple", "pear"}, v.Items)
	})
}

// MaxAge -1 deletes the row and expires the cookie; the old token then
// opens a fresh session.
func TestGorillaMaxAgeNegativeDeletes(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		b := newBrowser(t, e.server(t, nil))
		b.do("POST", "/add?item=apple")
		tok := b.token()
		require.NotEmpty(t, tok)

		code, _, cs := b.do("POST", "/logout")
		require.Equal(t, http.StatusOK, code)
		ck := sessionCookie(t, cs)
		require.Empty(t, ck.Value)
		require.Equal(t, -1, ck.MaxAge, "sent as Max-Age=0")
		require.Zero(t, e.rows(t))
		ok, err := e.c.Exists(t.Context(), tok)
		require.NoError(t, err)
		require.False(t, ok)
		require.Empty(t, b.token(), "the browser dropped the cookie")

		b.setToken(tok) // a copy of the old cookie
		_, v, _ := b.do("GET", "/get")
		require.True(t, v.New)
		require.Empty(t, v.Items)
	})
}

// A request that loaded the session before a logout and saves after it
// gets ErrNotFound (410 here) and does not bring the session back, whether
// it changed the session or not.
func TestGorillaStaleSaveAfterDeleteDoesNotResurrect(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		for _, path := range []string{"POST /add?item=late&wait=1", "GET /touch?wait=1"} {
			e := newEnv(t, db)
			g := newGate()
			b := newBrowser(t, e.server(t, g))
			b.do("POST", "/add?item=apple")
			tok := b.token()

			method, target, _ := strings.Cut(path, " ")
			var wg sync.WaitGroup
			var code int
			wg.Go(func() { code, _, _ = b.do(method, target) })
			<-g.loaded
			logout, _, _ := b.do("POST", "/logout")
			require.Equal(t, http.StatusOK, logout)
			close(g.release)
			wg.Wait()

			if method == "POST" {
				require.Equal(t, http.StatusGone, code, "%s: the changed stale copy is refused", path)
			} else {
				require.Equal(t, http.StatusOK, code, "%s: an unchanged copy writes nothing", path)
			}
			require.Zero(t, e.rows(t), path)
			ok, err := e.c.Exists(t.Context(), tok)
			require.NoError(t, err)
			require.False(t, ok, path)
		}
	})
}

// Two requests that load the same version: the second save is a conflict
// (409) and the first one's change stays.
func TestGorillaConflictDetected(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		g := newGate()
		b := newBrowser(t, e.server(t, g))
		b.do("POST", "/add?item=apple")

		var wg sync.WaitGroup
		var code int
		wg.Go(func() { code, _, _ = b.do("POST", "/add?item=slow&wait=1") })
		<-g.loaded
		fast, _, _ := b.do("POST", "/add?item=fast")
		require.Equal(t, http.StatusOK, fast)
		close(g.release)
		wg.Wait()
		require.Equal(t, http.StatusConflict, code)

		_, v, _ := b.do("GET", "/get")
		require.Equal(t, []string{"apple", "fast"}, v.Items, "the conflicting save changed nothing")
	})
}

// A save that changed nothing writes nothing, and sends the cookie again.
func TestGorillaUnchangedSaveDoesNotWrite(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		b := newBrowser(t, e.server(t, nil))
		b.do("POST", "/add?item=apple")
		b.do("POST", "/add?item=pear") // two items: a map gob may write in either order
		before := e.writes.Load()
		require.Equal(t, int64(2), before)
		for range 5 {
			code, v, cs := b.do("GET", "/touch")
			require.Equal(t, http.StatusOK, code)
			require.Equal(t, []string{"apple", "pear"}, v.Items)
			require.Equal(t, b.token(), sessionCookie(t, cs).Value)
		}
		require.Equal(t, before, e.writes.Load())
	})
}

// Renew at login moves the session to a new token with its values and
// subject: the old token is dead, the subject's sessions can be listed and
// ended everywhere.
func TestGorillaRenewAtLogin(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		b := newBrowser(t, e.server(t, nil))
		b.do("POST", "/add?item=apple")
		before := b.token()
		_, v0, _ := b.do("GET", "/get")

		code, v, _ := b.do("POST", "/login?user=ann")
		require.Equal(t, http.StatusOK, code)
		after := b.token()
		require.NotEqual(t, before, after)
		require.NotEqual(t, v0.ID, v.ID, "the ID (the handle) changes with the token")
		ok, err := e.c.Exists(t.Context(), before)
		require.NoError(t, err)
		require.False(t, ok, "the old token is dead")

		_, v, _ = b.do("GET", "/get")
		require.Equal(t, "ann", v.User)
		require.Equal(t, []string{"apple"}, v.Items)
		list, err := e.c.List(t.Context(), "user:ann")
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, v.ID, list[0].Handle)

		n, err := e.c.DestroySubject(t.Context(), "user:ann") // log out everywhere
		require.NoError(t, err)
		require.Equal(t, int64(1), n)
		_, v, _ = b.do("GET", "/get")
		require.True(t, v.New)
	})
}

// A cookie the server never issued is not adopted: the session saved
// under it gets a token of its own.
func TestGorillaPlantedTokenNotAdopted(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		b := newBrowser(t, e.server(t, nil))
		for _, planted := range []string{
			"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", // well formed, unknown
			"not-a-token", "",
		} {
			b.setToken(planted)
			code, _, _ := b.do("POST", "/add?item=x")
			require.Equal(t, http.StatusOK, code)
			require.NotEqual(t, planted, b.token())
			require.Len(t, b.token(), 43)
		}
	})
}

// Every attribute of sessions.Options reaches the cookie; MaxAge is passed
// through as gorilla passes it.
func TestGorillaCookieOptions(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		e.st.Options = &sessions.Options{Path: "/app", Domain: "example.com", MaxAge: 3600, Secure: true,
			HttpOnly: false, Partitioned: true, SameSite: http.SameSiteNoneMode}
		r := httptest.NewRequest("GET", "https://example.com/app", nil)
		w := httptest.NewRecorder()
		s, err := e.st.Get(r, cookieName)
		require.NoError(t, err)
		s.Values["k"] = "v"
		require.NoError(t, s.Save(r, w))
		ck := sessionCookie(t, w.Result().Cookies())
		assert.Equal(t, "/app", ck.Path)
		assert.Equal(t, "example.com", ck.Domain)
		assert.Equal(t, 3600, ck.MaxAge)
		assert.True(t, ck.Secure)
		assert.False(t, ck.HttpOnly)
		assert.True(t, ck.Partitioned)
		assert.Equal(t, http.SameSiteNoneMode, ck.SameSite)
		assert.Contains(t, w.Header().Get("Set-Cookie"), "Expires=", "gorilla's NewCookie adds Expires")

		// A handler's change to its session's copy does not touch the store's.
		s.Options.Path = "/other"
		require.Equal(t, "/app", e.st.Options.Path)

		// The registry: Get twice on one request is one session.
		again, err := e.st.Get(r, cookieName)
		require.NoError(t, err)
		require.Same(t, s, again)
	})
}

// Values that gob cannot encode fail the save before any SQL, with no cookie.
func TestGorillaUnregisteredTypeFailsSave(t *testing.T) {
	t.Parallel()
	type unregistered struct{ A int }
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		r := httptest.NewRequest("GET", "/", nil)
		w := httptest.NewRecorder()
		s, err := e.st.Get(r, cookieName)
		require.NoError(t, err)
		s.Values["x"] = unregistered{A: 1}
		err = s.Save(r, w)
		require.Error(t, err)
		require.Contains(t, err.Error(), "gorillastore: save:")
		require.Empty(t, w.Header().Values("Set-Cookie"))
		require.Zero(t, e.rows(t))
	})
}

// A stored payload that does not decode as gorilla Values gives a fresh
// session and an error matching session.ErrCorrupt, as gorilla's stores do;
// saving it starts a new session.
func TestGorillaUndecodableValues(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		bad, err := e.c.Open(t.Context(), "")
		require.NoError(t, err)
		bad.Data = []byte("not a gob stream of Values")
		require.NoError(t, e.c.Save(t.Context(), bad))

		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: cookieName, Value: bad.Token()})
		s, err := e.st.New(r, cookieName)
		require.ErrorIs(t, err, session.ErrCorrupt)
		require.NotContains(t, err.Error(), bad.Token())
		require.True(t, s.IsNew)
		require.Empty(t, s.Values)

		s.Values["k"] = "v"
		w := httptest.NewRecorder()
		require.NoError(t, s.Save(r, w))
		require.NotEqual(t, bad.Token(), sessionCookie(t, w.Result().Cookies()).Value)
		require.Equal(t, int64(2), e.rows(t))
	})
}

// When the database fails while a session is opened, New returns a fresh
// session and the error, and Save refuses that session: the client's
// cookie is never replaced by an empty session because of an outage.
func TestGorillaLoadFailureIsNotSaved(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		r := httptest.NewRequest("GET", "/", nil)
		w := httptest.NewRecorder()
		s, err := e.st.Get(r, cookieName)
		require.NoError(t, err)
		s.Values["k"] = "v"
		require.NoError(t, s.Save(r, w))
		tok := sessionCookie(t, w.Result().Cookies()).Value

		// The same store through a pool that is closed.
		broken := testdb.Open(t, testdb.Dialect(db), nil)
		bc, err := session.New[[]byte](broken, session.WithTable(e.table), session.WithoutAutoMigrate(),
			session.WithCleanupFrequency(0))
		require.NoError(t, err)
		t.Cleanup(func() { _ = bc.Close() })
		sqlDB, err := broken.DB()
		require.NoError(t, err)
		require.NoError(t, sqlDB.Close())
		bst := newStoreOn(t, bc)

		r = httptest.NewRequest("GET", "/", nil)
		r.AddCookie(&http.Cookie{Name: cookieName, Value: tok})
		w = httptest.NewRecorder()
		s, err = bst.Get(r, cookieName)
		require.Error(t, err)
		require.NotNil(t, s)
		require.True(t, s.IsNew)
		s.Values["k"] = "overwritten"
		require.Error(t, s.Save(r, w))
		s.Options.MaxAge = -1
		require.Error(t, s.Save(r, w), "nor destroyed")
		require.Empty(t, w.Header().Values("Set-Cookie"))

		ok, err := e.c.Exists(t.Context(), tok)
		require.NoError(t, err)
		require.True(t, ok)
	})
}

// gorilla's sessions.Save (the registry's) reports a refused save as an
// error, but formats it with %v, so errors.Is does not match it: handlers
// that tell a conflict from other failures call Session.Save (or
// Store.Save). The refusal itself holds either way.
func TestGorillaRegistrySaveLosesErrorChain(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		r := httptest.NewRequest("GET", "/", nil)
		w := httptest.NewRecorder()
		s, err := e.st.Get(r, cookieName)
		require.NoError(t, err)
		s.Values["n"] = 1
		require.NoError(t, s.Save(r, w))
		ck := sessionCookie(t, w.Result().Cookies())

		stale := httptest.NewRequest("GET", "/", nil)
		stale.AddCookie(ck)
		old, err := e.st.Get(stale, cookieName)
		require.NoError(t, err)
		s.Values["n"] = 2
		require.NoError(t, s.Save(r, w))

		old.Values["n"] = 3
		err = sessions.Save(stale, httptest.NewRecorder())
		require.Error(t, err)
		require.NotErrorIs(t, err, session.ErrConflict, "upstream drops the chain")
		require.Contains(t, err.Error(), "conflict")
		require.ErrorIs(t, old.Save(stale, httptest.NewRecorder()), session.ErrConflict)

		fresh := httptest.NewRequest("GET", "/", nil)
		fresh.AddCookie(ck)
		now, err := e.st.Get(fresh, cookieName)
		require.NoError(t, err)
		require.Equal(t, 2, now.Values["n"])
	})
}

// A stored session's new subject is stored only through Renew: a plain
// Save refuses it (session.ErrRenewRequired). A Renew that loses a race
// leaves the old token in place, and a plain Save then still refuses the
// session, so a failed sign-in never signs in the old token.
func TestGorillaSubjectNeedsRenew(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		r := httptest.NewRequest("GET", "/", nil)
		w := httptest.NewRecorder()
		s, err := e.st.Get(r, cookieName)
		require.NoError(t, err)
		s.Values["n"] = 1
		require.NoError(t, s.Save(r, w))
		ck := sessionCookie(t, w.Result().Cookies())

		load := func() (*http.Request, *sessions.Session) {
			r := httptest.NewRequest("GET", "/", nil)
			r.AddCookie(ck)
			s, err := e.st.Get(r, cookieName)
			require.NoError(t, err)
			require.False(t, s.IsNew)
			return r, s
		}

		r1, s1 := load()
		e.st.SetSubject(s1, "user:ann")
		require.Equal(t, "user:ann", e.st.Subject(s1))
		w1 := httptest.NewRecorder()
		require.ErrorIs(t, s1.Save(r1, w1), session.ErrRenewRequired)
		require.Empty(t, w1.Header().Values("Set-Cookie"))

		// A stale copy's Renew is a conflict; the copy cannot be saved after it.
		r2, s2 := load()
		_, s3 := load()
		s3.Values["n"] = 2
		require.NoError(t, e.st.Save(r2, httptest.NewRecorder(), s3))
		e.st.SetSubject(s2, "user:ann")
		require.ErrorIs(t, e.st.Renew(r2, httptest.NewRecorder(), s2), session.ErrConflict)
		e.st.SetSubject(s2, "")
		require.ErrorIs(t, s2.Save(r2, httptest.NewRecorder()), session.ErrRenewRequired)
		list, err := e.c.List(t.Context(), "user:ann")
		require.NoError(t, err)
		require.Empty(t, list)

		// A fresh load signs in.
		r4, s4 := load()
		e.st.SetSubject(s4, "user:ann")
		w4 := httptest.NewRecorder()
		require.NoError(t, e.st.Renew(r4, w4, s4))
		require.NotEqual(t, ck.Value, sessionCookie(t, w4.Result().Cookies()).Value)
		list, err = e.c.List(t.Context(), "user:ann")
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, 2, s4.Values["n"])
	})
}

// A session made with sessions.NewSession (not by the store) and a
// session renewed before it was ever stored are saved as new sessions.
func TestGorillaForeignAndNewSessions(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db)
		r := httptest.NewRequest("GET", "/", nil)
		foreign := sessions.NewSession(e.st, cookieName)
		foreign.Values["k"] = "v"
		w := httptest.NewRecorder()
		require.NoError(t, foreign.Save(r, w))
		require.False(t, foreign.IsNew)
		require.NotEmpty(t, foreign.ID)
		tok := sessionCookie(t, w.Result().Cookies()).Value
		ok, err := e.c.Exists(t.Context(), tok)
		require.NoError(t, err)
		require.True(t, ok)

		s, err := e.st.New(httptest.NewRequest("GET", "/", nil), cookieName)
		require.NoError(t, err)
		e.st.SetSubject(s, "user:bob")
		w = httptest.NewRecorder()
		require.NoError(t, e.st.Renew(r, w, s))
		list, err := e.c.List(t.Context(), "user:bob")
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Equal(t, s.ID, list[0].Handle)
		require.Equal(t, int64(2), e.rows(t))
	})
}

// Expiry is the database's: a session past the container's lifetime opens
// fresh, and a copy loaded before it expired cannot save it back to life.
// The store works unchanged on an encrypted container.
func TestGorillaExpiryAndEncryption(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := newEnv(t, db, session.WithLifetime(time.Hour), session.WithEncryption(make([]byte, 32)))
		r := httptest.NewRequest("GET", "/", nil)
		w := httptest.NewRecorder()
		s, err := e.st.Get(r, cookieName)
		require.NoError(t, err)
		s.Values["cart"] = Cart{Items: []string{"apple"}}
		require.NoError(t, s.Save(r, w))
		ck := sessionCookie(t, w.Result().Cookies())

		before := httptest.NewRequest("GET", "/", nil)
		before.AddCookie(ck)
		old, err := e.st.Get(before, cookieName)
		require.NoError(t, err)
		require.Equal(t, Cart{Items: []string{"apple"}}, old.Values["cart"], "decrypted and decoded")

		require.NoError(t, e.c.AdjustTime(t.Context(), -2*time.Hour))
		after := httptest.NewRequest("GET", "/", nil)
		after.AddCookie(ck)
		s, err = e.st.Get(after, cookieName)
		require.NoError(t, err)
		require.True(t, s.IsNew, "expired in the database, whatever the cookie says")

		old.Values["cart"] = Cart{Items: []string{"apple", "late"}}
		require.ErrorIs(t, old.Save(before, httptest.NewRecorder()), session.ErrNotFound)
		ok, err := e.c.Exists(t.Context(), ck.Value)
		require.NoError(t, err)
		require.False(t, ok)
	})
}
