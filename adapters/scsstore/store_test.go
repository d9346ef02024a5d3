package scsstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/repository"
)

func TestMain(m *testing.M) {
	// The stores' cleanup goroutines end with Close. scs.New starts one
	// for its default memstore, which the tests replace; memstore's
	// StopCleanup races with that goroutine's start, so it is left running.
	goleak.VerifyTestMain(m, append(testdb.LeakOptions,
		goleak.IgnoreTopFunction("github.com/alexedwards/scs/v2/memstore.(*MemStore).startCleanup"))...)
}

// clock is a settable time source for the store, so expiry is tested
// without sleeping. scs itself reads the real clock; the tests move the
// store's clock forward past what scs committed.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newStore returns a store on a table of its own, without a cleanup
// goroutine unless opts ask for one, on a clock starting at the real time.
func newStore(t *testing.T, db *gorm.DB, opts ...Option) (*Store, string, *clock) {
	t.Helper()
	table := testdb.Table(t, db)
	c := &clock{t: time.Now()}
	s, err := New(db, append([]Option{WithTable(table), WithCleanupInterval(0), withClock(c.now)}, opts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s, table, c
}

// app is an scs SessionManager with its LoadAndSave middleware on a test
// server, with handlers that put, get, renew and destroy.
type app struct {
	sm  *scs.SessionManager
	srv *httptest.Server
	// hold, when set, makes /slow-put wait after the session is loaded:
	// loaded is closed, then the handler waits for release.
	loaded, release chan struct{}
}

func newApp(t *testing.T, store scs.Store) *app {
	t.Helper()
	a := &app{sm: scs.New()}
	a.sm.Store = store
	a.sm.Lifetime = time.Hour
	a.sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		t.Errorf("scs error: %v", err)
		http.Error(w, "error", http.StatusInternalServerError)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/put", func(w http.ResponseWriter, r *http.Request) {
		a.sm.Put(r.Context(), "v", r.URL.Query().Get("v"))
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, a.sm.GetString(r.Context(), "v"))
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		if err := a.sm.RenewToken(r.Context()); err != nil {
			http.Error(w, "renew", http.StatusInternalServerError)
			return
		}
		a.sm.Put(r.Context(), "user", "alice")
	})
	mux.HandleFunc("/user", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, a.sm.GetString(r.Context(), "user"))
	})
	mux.HandleFunc("/destroy", func(w http.ResponseWriter, r *http.Request) {
		if err := a.sm.Destroy(r.Context()); err != nil {
			http.Error(w, "destroy", http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("/slow-put", func(w http.ResponseWriter, r *http.Request) {
		close(a.loaded)
		<-a.release
		a.sm.Put(r.Context(), "v", r.URL.Query().Get("v"))
	})
	a.srv = httptest.NewServer(a.sm.LoadAndSave(mux))
	t.Cleanup(a.srv.Close)
	return a
}

// do sends a GET for path with the session cookie token ("" for none) and
// returns the body and the token of the cookie the response set ("" when
// it set none or expired it).
func (a *app) do(t *testing.T, path, token string) (body, newToken string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.srv.URL+path, nil)
	require.NoError(t, err)
	if token != "" {
		req.AddCookie(&http.Cookie{Name: a.sm.Cookie.Name, Value: token})
	}
	resp, err := a.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %s", path, b)
	for _, c := range resp.Cookies() {
		if c.Name == a.sm.Cookie.Name && c.MaxAge >= 0 {
			newToken = c.Value
		}
	}
	return string(b), newToken
}

func hashOf(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// row is what the table holds for one id.
type row struct {
	ID        string
	Subject   []byte
	Payload   []byte
	Version   int64
	ExpiresAt int64
}

// rows reads the whole table.
func rows(t *testing.T, db *gorm.DB, table string) map[string]row {
	t.Helper()
	var rs []row
	require.NoError(t, db.Raw("SELECT id, subject, payload, version, expires_at FROM "+table).Scan(&rs).Error)
	out := map[string]row{}
	for _, r := range rs {
		out[r.ID] = r
	}
	return out
}

func TestPutGetAcrossRequests(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		s, table, _ := newStore(t, db)
		a := newApp(t, s)
		_, tok := a.do(t, "/put?v=hello", "")
		require.Len(t, tok, 43, "scs makes 43-character tokens")
		body, _ := a.do(t, "/get", tok)
		require.Equal(t, "hello", body)
		_, again := a.do(t, "/put?v=world", tok)
		require.Equal(t, tok, again, "the token stays until RenewToken")
		body, _ = a.do(t, "/get", tok)
		require.Equal(t, "world", body)

		rs := rows(t, db, table)
		require.Len(t, rs, 1)
		r := rs[hashOf(tok)]
		require.EqualValues(t, 2, r.Version, "one row, written twice")
		require.Empty(t, r.Subject)
		// The expiry is scs's deadline, to the millisecond.
		exp := time.UnixMilli(r.ExpiresAt)
		require.WithinDuration(t, time.Now().Add(time.Hour), exp, time.Minute)
	})
}

// TestStoredIDIsTheHash scans the whole table after several requests: each
// row's id is the SHA-256 of a token, and no token appears in any column.
func TestStoredIDIsTheHash(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		s, table, _ := newStore(t, db)
		a := newApp(t, s)
		var tokens []string
		for _, v := range []string{"a", "b", "c"} {
			_, tok := a.do(t, "/put?v="+v, "")
			tokens = append(tokens, tok)
		}
		_, renewed := a.do(t, "/login", tokens[0])
		tokens = append(tokens, renewed)
		rs := rows(t, db, table)
		require.Len(t, rs, 4, "three sessions and the tombstone of the renewed token")
		for _, tok := range tokens {
			require.Contains(t, rs, hashOf(tok))
			for id, r := range rs {
				for _, col := range []string{id, string(r.Subject), string(r.Payload)} {
					require.NotContains(t, col, tok, "a raw token is stored")
				}
			}
		}
	})
}

func TestRenewToken(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		s, table, _ := newStore(t, db)
		a := newApp(t, s)
		_, old := a.do(t, "/put?v=cart", "")
		_, tok := a.do(t, "/login", old)
		require.NotEmpty(t, tok)
		require.NotEqual(t, old, tok)
		body, _ := a.do(t, "/user", tok)
		require.Equal(t, "alice", body)
		body, _ = a.do(t, "/get", tok)
		require.Equal(t, "cart", body, "the data moves to the new token")

		body, _ = a.do(t, "/user", old)
		require.Empty(t, body, "the old token is dead")
		r := rows(t, db, table)[hashOf(old)]
		require.Zero(t, r.Version, "the old token's row is a tombstone")
		require.Empty(t, r.Payload)
	})
}

// TestDestroyThenStaleCommit interleaves two requests on one session: A
// loads it, B destroys it (or logs in, which renews the token), then A
// commits. The old cookie must find nothing afterwards. The same run on
// scs's memstore shows the resurrection the test is built to catch.
func TestDestroyThenStaleCommit(t *testing.T) {
	t.Parallel()
	// run returns what the old cookie finds at the end.
	run := func(t *testing.T, store scs.Store, path string, idle time.Duration) (body string) {
		a := newApp(t, store)
		a.sm.IdleTimeout = idle // with one, scs commits on every request
		_, tok := a.do(t, "/put?v=before", "")
		a.loaded, a.release = make(chan struct{}), make(chan struct{})
		var once sync.Once
		release := func() { once.Do(func() { close(a.release) }) }
		defer release() // also when an assertion fails, so A ends
		stale := make(chan string, 1)
		go func() {
			// A: its session is loaded before the handler runs.
			req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/slow-put?v=stale", nil)
			req.AddCookie(&http.Cookie{Name: a.sm.Cookie.Name, Value: tok})
			resp, err := a.srv.Client().Do(req)
			if err != nil {
				stale <- err.Error()
				return
			}
			_ = resp.Body.Close()
			stale <- resp.Status
		}()
		<-a.loaded
		_, newTok := a.do(t, path, tok) // B
		if path == "/destroy" {
			require.Empty(t, newTok, "destroy expires the cookie")
		} else {
			require.NotEqual(t, tok, newTok, "login renews the token")
			user, _ := a.do(t, "/user", newTok)
			require.Equal(t, "alice", user)
		}
		release()
		require.Equal(t, "200 OK", <-stale, "A's commit is not an error")
		body, _ = a.do(t, "/get", tok)
		return body
	}

	t.Run("memstore", func(t *testing.T) {
		t.Parallel()
		ms := memstore.NewWithCleanupInterval(0)
		require.Equal(t, "stale", run(t, ms, "/destroy", 0), "memstore brings the destroyed session back")
	})
	for _, tc := range []struct {
		name, path string
		idle       time.Duration
		rows       int // the tombstone, and the renewed session
	}{
		{"destroy", "/destroy", 0, 1},
		{"destroy-idle", "/destroy", 30 * time.Minute, 1},
		{"login", "/login", 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testdb.Each(t, func(t *testing.T, db *gorm.DB) {
				s, table, _ := newStore(t, db)
				require.Empty(t, run(t, s, tc.path, tc.idle), "the old session came back")
				rs := rows(t, db, table)
				require.Len(t, rs, tc.rows)
				tomb := 0
				for _, r := range rs {
					if r.Version == 0 {
						tomb++
						require.Empty(t, r.Payload)
					}
				}
				require.Equal(t, 1, tomb, "the old token's row is a tombstone")
			})
		})
	}
}

// TestDeleteRacesCommits runs many commits of one token against its
// Delete: once Delete has returned, the token is never found again.
func TestDeleteRacesCommits(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		s, _, _ := newStore(t, db)
		ctx := context.Background()
		exp := time.Now().Add(time.Hour)
		for round := range 5 {
			tok := strings.Repeat("x", round+1)
			require.NoError(t, s.CommitCtx(ctx, tok, []byte("v"), exp))
			var wg sync.WaitGroup
			for range 6 {
				wg.Go(func() {
					for range 5 {
						if err := s.CommitCtx(ctx, tok, []byte("late"), exp); err != nil {
							t.Errorf("commit: %v", err)
						}
					}
				})
			}
			require.NoError(t, s.DeleteCtx(ctx, tok))
			_, found, err := s.FindCtx(ctx, tok)
			require.NoError(t, err)
			require.False(t, found, "round %d: found right after Delete", round)
			wg.Wait()
			_, found, err = s.FindCtx(ctx, tok)
			require.NoError(t, err)
			require.False(t, found, "round %d: a commit racing Delete brought it back", round)
		}
	})
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		s, _, clk := newStore(t, db)
		a := newApp(t, s)
		_, tok := a.do(t, "/put?v=soon-gone", "")
		clk.advance(59 * time.Minute)
		body, _ := a.do(t, "/get", tok)
		require.Equal(t, "soon-gone", body)
		clk.advance(2 * time.Minute) // past scs's one-hour lifetime
		body, _ = a.do(t, "/get", tok)
		require.Empty(t, body)
		_, found, err := s.Find(tok)
		require.NoError(t, err)
		require.False(t, found)

		// Commit with an expiry in the past stores nothing findable.
		require.NoError(t, s.Commit("past", []byte("x"), clk.now().Add(-time.Second)))
		_, found, err = s.Find("past")
		require.NoError(t, err)
		require.False(t, found)
		// ... and a commit of the expired token starts it afresh.
		require.NoError(t, s.Commit(tok, []byte("again"), clk.now().Add(time.Minute)))
		b, found, err := s.Find(tok)
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, []byte("again"), b)
	})
}

func TestMalformedTokens(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		s, table, _ := newStore(t, db)
		ctx := context.Background()
		long := strings.Repeat("A", tokenMaxLength+1)
		for _, tok := range []string{"", long} {
			b, found, err := s.FindCtx(ctx, tok)
			require.NoError(t, err, "scs's contract: a malformed token is not found, not an error")
			require.False(t, found)
			require.Nil(t, b)
			require.NoError(t, s.DeleteCtx(ctx, tok), "scs deletes \"\" when destroying an unsaved session")
			err = s.CommitCtx(ctx, tok, []byte("x"), time.Now().Add(time.Hour))
			require.ErrorIs(t, err, ErrInvalidToken)
			if tok != "" {
				require.NotContains(t, err.Error(), tok)
			}
		}
		require.Empty(t, rows(t, db, table), "nothing reached the table")

		// Odd but acceptable tokens: any bytes, up to the limit.
		for _, tok := range []string{"x", strings.Repeat("é", tokenMaxLength/2), "a\x00b' OR 1=1 --"} {
			require.NoError(t, s.CommitCtx(ctx, tok, []byte("ok"), time.Now().Add(time.Hour)))
			b, found, err := s.FindCtx(ctx, tok)
			require.NoError(t, err)
			require.True(t, found)
			require.Equal(t, []byte("ok"), b)
		}

		// Through scs: a junk or unknown cookie gives a new session.
		a := newApp(t, s)
		for _, junk := range []string{"not-a-token", strings.Repeat("Z", 300), strings.Repeat("A", 43)} {
			body, tok := a.do(t, "/get", junk)
			require.Empty(t, body)
			require.Empty(t, tok, "an unchanged new session sets no cookie")
			_, tok = a.do(t, "/put?v=1", junk)
			require.NotEqual(t, junk, tok, "a token the server did not issue is never adopted")
		}
		// Destroy of a session that was never saved.
		_, tok := a.do(t, "/destroy", "")
		require.Empty(t, tok)
	})
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		s, table, _ := newStore(t, db)
		require.NoError(t, s.Commit("live", []byte("v"), time.Now().Add(time.Hour)))
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, found, err := s.FindCtx(ctx, "live")
		require.ErrorIs(t, err, context.Canceled)
		require.False(t, found)
		require.ErrorIs(t, s.CommitCtx(ctx, "new", []byte("v"), time.Now().Add(time.Hour)), context.Canceled)
		require.ErrorIs(t, s.DeleteCtx(ctx, "live"), context.Canceled)
		_, err = s.Cleanup(ctx)
		require.ErrorIs(t, err, context.Canceled)

		rs := rows(t, db, table)
		require.Len(t, rs, 1, "the cancelled commit stored nothing")
		require.EqualValues(t, 1, rs[hashOf("live")].Version, "the cancelled delete left the session")
		b, found, err := s.Find("live")
		require.NoError(t, err)
		require.True(t, found)
		require.Equal(t, []byte("v"), b)
	})
}

// fixture commits live and expired sessions and live and expired
// tombstones, relative to the store's clock, and returns the ids of the
// rows that must survive a cleanup and of those that must go.
func fixture(t *testing.T, s *Store, clk *clock) (keep, gone []string) {
	t.Helper()
	now := clk.now()
	commit := func(tok string, exp time.Time) {
		require.NoError(t, s.Commit(tok, []byte("data"), exp))
	}
	commit("live", now.Add(time.Hour))
	commit("expired", now.Add(time.Minute))
	commit("deleted-long", now.Add(48*time.Hour))
	require.NoError(t, s.Delete("deleted-long")) // tombstone until its own expiry, 48h
	commit("deleted-short", now.Add(time.Minute))
	require.NoError(t, s.Delete("deleted-short")) // tombstone for 24h
	require.NoError(t, s.Delete("never-saved"))   // tombstone for 24h
	clk.advance(25 * time.Hour)
	commit("live-later", clk.now().Add(time.Hour))
	return []string{hashOf("deleted-long"), hashOf("live-later")},
		[]string{hashOf("live"), hashOf("expired"), hashOf("deleted-short"), hashOf("never-saved")}
}

func TestCleanupRemovesExpiredRowsAndTombstonesOnly(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		s, table, clk := newStore(t, db)
		keep, gone := fixture(t, s, clk)
		n, err := s.Cleanup(context.Background())
		require.NoError(t, err)
		require.EqualValues(t, len(gone), n)
		rs := rows(t, db, table)
		require.Len(t, rs, len(keep))
		for _, id := range keep {
			require.Contains(t, rs, id)
		}
		// The surviving tombstone still guards its token.
		require.NoError(t, s.Commit("deleted-long", []byte("back"), clk.now().Add(time.Hour)))
		_, found, err := s.Find("deleted-long")
		require.NoError(t, err)
		require.False(t, found)
	})
}

// TestOperatorsTools runs package repository, which sessionctl is built
// on, over the store's table: its migration accepts the table as it is,
// its stats see the rows, and its cleanup deletes what Cleanup would.
func TestOperatorsTools(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		s, table, clk := newStore(t, db)
		keep, gone := fixture(t, s, clk)
		repo, err := repository.New(db, table)
		require.NoError(t, err)
		require.NoError(t, repo.Migrate(ctx))
		st, err := repo.Stats(ctx, clk.now(), 5)
		require.NoError(t, err)
		require.EqualValues(t, len(keep)+len(gone), st.Total)
		require.EqualValues(t, len(keep), st.Live, "a live tombstone counts as live")
		require.Zero(t, st.Subjects)
		n, err := repo.Cleanup(ctx, clk.now(), repository.CleanupOptions{})
		require.NoError(t, err)
		require.EqualValues(t, len(gone), n)
		rs := rows(t, db, table)
		require.Len(t, rs, len(keep))
		_, found, err := s.Find("live-later")
		require.NoError(t, err)
		require.True(t, found)
	})
}

func TestBackgroundCleanup(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		s, table, clk := newStore(t, db)
		keep, _ := fixture(t, s, clk)
		// A second store on the same table, with the goroutine running.
		bg, err := New(db, WithTable(table), WithCleanupInterval(10*time.Millisecond), WithoutAutoMigrate(),
			withClock(clk.now))
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(rows(t, db, table)) == len(keep) },
			10*time.Second, 10*time.Millisecond)
		require.NoError(t, bg.Close())
		require.NoError(t, bg.Close(), "Close is idempotent")
		for _, id := range keep {
			require.Contains(t, rows(t, db, table), id)
		}
	})
}

func TestNewOptions(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	for _, tc := range []struct {
		name string
		opts []Option
		want string
	}{
		{"table", []Option{WithTable("no spaces")}, "WithTable"},
		{"interval", []Option{WithCleanupInterval(-time.Second)}, "WithCleanupInterval"},
	} {
		_, err := New(db, tc.opts...)
		require.ErrorIs(t, err, ErrInvalidOption, tc.name)
		require.ErrorContains(t, err, tc.want, tc.name)
	}
	_, err := New(nil)
	require.Error(t, err)

	// WithoutAutoMigrate leaves a missing table missing: the first
	// statement fails with the database's error.
	s, err := New(db, WithTable("never_made"), WithoutAutoMigrate(), WithCleanupInterval(0))
	require.NoError(t, err)
	_, _, err = s.Find("tok")
	require.Error(t, err)
	require.False(t, errors.Is(err, ErrInvalidToken))
	require.NotContains(t, err.Error(), hashOf("tok"), "no stored id in an error")

	// The default table, and a migration that runs twice.
	s1, err := New(db)
	require.NoError(t, err)
	defer s1.Close()
	s2, err := New(db)
	require.NoError(t, err)
	defer s2.Close()
	require.NoError(t, s1.Commit("t", []byte("v"), time.Now().Add(time.Hour)))
	b, found, err := s2.Find("t")
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, []byte("v"), b)
	require.True(t, db.Migrator().HasTable(tableDefault))
}

// The store satisfies the scs interfaces it claims, and not the iterable
// one.
var (
	_ scs.Store    = (*Store)(nil)
	_ scs.CtxStore = (*Store)(nil)
)

func TestNotIterable(t *testing.T) {
	t.Parallel()
	var s any = &Store{}
	_, iterable := s.(scs.IterableStore)
	_, iterableCtx := s.(scs.IterableCtxStore)
	require.False(t, iterable || iterableCtx, "the table holds no tokens to iterate")
}
