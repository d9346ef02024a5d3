package main

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/internal/token"
	"github.com/gormsession/gormsession/session"
)

// nextCases are sign-in redirect targets as the handler receives them
// (form-decoded), with what safeNext makes of them.
var nextCases = []struct{ name, next, want string }{
	{"tab after the slash", "/\t/evil.example/", "/"},
	{"newline after the slash", "/\n/evil", "/"},
	{"carriage return after the slash", "/\r/evil", "/"},
	{"%09 as received decoded", "/\t/evil", "/"},
	{"NUL", "/\x00/evil", "/"},
	{"DEL", "/\x7f/evil", "/"},
	{"no-break space", "/\u00a0/evil", "/"},
	{"ideographic space", "/\u3000/evil", "/"},
	{"space inside", "/ /evil", "/"},
	{"leading space", " /x", "/"},
	{"leading tab", "\t//evil", "/"},
	{"trailing space", "/x ", "/"},
	{"protocol-relative", "//evil", "/"},
	{"three slashes", "///evil", "/"},
	{"slash backslash", "/\\evil", "/"},
	{"two backslashes", "\\\\evil", "/"},
	{"backslash in the path", "/x\\y", "/"},
	{"absolute URL", "https://evil", "/"},
	{"scheme without slashes", "https:evil", "/"},
	{"javascript URL", "javascript:alert(1)", "/"},
	{"relative path", "sessions", "/"},
	{"encoded slash makes two", "/%2F/evil", "/"},
	{"bad escape", "/%zz", "/"},
	{"empty", "", "/"},
	{"path", "/cart", "/cart"},
	{"path with a query", "/sessions?x=1", "/sessions?x=1"},
	{"encoded tab stays encoded", "/%09/evil", "/%09/evil"},
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for _, tc := range nextCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, safeNext(tc.next), "%q", tc.next)
		})
	}
}

// TestSignInNextStaysOnSite signs in through the app's handler with every
// next value of nextCases (the form carries it percent-encoded, so a tab
// arrives as %09) and checks the redirect and the sign-in form.
func TestSignInNextStaysOnSite(t *testing.T) {
	t.Parallel()
	a := newTestApp(t, testdb.Open(t, testdb.SQLite, nil))
	_, err := a.users.signUp(t.Context(), "ada@example.com", "correct horse")
	require.NoError(t, err)
	base, err := url.Parse(a.srv.URL)
	require.NoError(t, err)
	for _, tc := range nextCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := a.browser(t)
			resp, _ := b.post("/signin", url.Values{"email": {"ada@example.com"}, "password": {"correct horse"}, "next": {tc.next}})
			require.Equal(t, http.StatusSeeOther, resp.StatusCode)
			loc := resp.Header.Get("Location")
			require.Equal(t, tc.want, loc)
			to, err := base.Parse(loc)
			require.NoError(t, err)
			require.Equal(t, base.Host, to.Host)

			resp, body := b.get("/signin?next=" + url.QueryEscape(tc.next))
			require.Equal(t, http.StatusOK, resp.StatusCode)
			if tc.want == "/" {
				require.Contains(t, body, `<input type="hidden" name="next" value="/">`)
			}
		})
	}
}

// TestFailedRenewDoesNotSignInPlantedToken is the session-fixation
// regression test. An attacker gets an anonymous session (a cart) and plants
// its cookie in the victim's browser; the victim signs in (or signs up)
// while another connection holds SQLite's write lock, so that the
// renewal fails with "database is locked" after the app's short busy
// timeout. The lock is released at different moments: after the request
// (every write of the request fails), as soon as the renewal failed
// (destroying the session and any later save succeed), or as soon as the
// destroy after it failed too (a later save succeeds). In no case may the
// answer be a redirect into the account, nor the planted token end up
// signed in as the victim.
func TestFailedRenewDoesNotSignInPlantedToken(t *testing.T) {
	t.Parallel()
	const (
		email    = "victim@example.com"
		password = "correct horse"
	)
	for _, flow := range []string{"signin", "signup"} {
		for _, release := range []string{"", "renew", "destroy"} {
			name := flow + "/lock held through the request"
			if release != "" {
				name = flow + "/lock released once " + release + " failed"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				path := filepath.Join(t.TempDir(), "shop.db")
				db := openSQLiteBusy(t, path, 200*time.Millisecond)
				lock := &writeLock{db: lockerDB(t, path)}
				t.Cleanup(lock.release)

				// During the victim's request, record renewals and
				// destroys, and release the lock when the chosen one fails.
				var (
					watching atomic.Bool
					mu       sync.Mutex
					events   []session.Event
				)
				observer := func(_ context.Context, e session.Event) {
					if !watching.Load() || (e.Op != "renew" && e.Op != "destroy") {
						return
					}
					mu.Lock()
					events = append(events, e)
					mu.Unlock()
					if e.Op == release && e.Err != nil {
						lock.release()
					}
				}
				a := newTestApp(t, db, session.WithObserver(observer))

				// For sign-up the lock is taken right after the account is
				// created, just before the renewal.
				var lockAtCreate atomic.Bool
				require.NoError(t, db.Callback().Create().After("gorm:commit_or_rollback_transaction").
					Register("webapp_test:lock", func(tx *gorm.DB) {
						if _, ok := tx.Statement.Dest.(*User); ok && tx.Error == nil && lockAtCreate.CompareAndSwap(true, false) {
							lock.hold()
						}
					}))

				victimSubject := ""
				if flow == "signin" {
					u, err := a.users.signUp(t.Context(), email, password)
					require.NoError(t, err)
					victimSubject = subjectOf(u.ID)
				}

				// The attacker's anonymous session, planted in the victim's browser.
				attacker := a.browser(t)
				resp, _ := attacker.post("/cart/add", url.Values{"sku": {"beans"}})
				require.Equal(t, http.StatusSeeOther, resp.StatusCode)
				planted := attacker.token()
				require.NotEmpty(t, planted)
				require.True(t, a.alive(t, planted))
				victim := a.browser(t)
				victim.plant(planted)

				form := url.Values{"email": {email}, "password": {password}, "next": {"/sessions"}}
				watching.Store(true)
				if flow == "signin" {
					lock.hold()
				} else {
					lockAtCreate.Store(true)
				}
				resp, body := victim.post("/"+flow, form)
				watching.Store(false)
				lock.release()
				require.NoError(t, lock.error(), "taking or releasing the write lock")

				// The renewal failed on the lock; otherwise this test
				// proves nothing.
				mu.Lock()
				seen := append([]session.Event(nil), events...)
				mu.Unlock()
				require.NotEmpty(t, seen)
				require.Equal(t, "renew", seen[0].Op)
				require.ErrorContains(t, seen[0].Err, "database is locked")

				// The victim sees the error page, not the account.
				require.Equal(t, http.StatusInternalServerError, resp.StatusCode)
				require.Empty(t, resp.Header.Get("Location"))
				require.Contains(t, body, "Something went wrong on our side.")

				if flow == "signup" {
					var u User
					require.NoError(t, db.Table(a.users.table).Where("email = ?", email).Take(&u).Error)
					victimSubject = subjectOf(u.ID)
				}

				// The store: the planted token is gone or still anonymous,
				// and no session at all carries the victim's subject.
				s, err := a.sessions.Load(t.Context(), planted)
				if !errors.Is(err, session.ErrNotFound) {
					require.NoError(t, err)
					require.Empty(t, s.Subject())
					require.Zero(t, s.Data.UserID)
					require.Empty(t, s.Data.Email)
				}
				id, ok := token.Parse(planted)
				require.True(t, ok)
				var subjects []string
				require.NoError(t, db.Table(a.sessionsTable).Where("id = ?", id).Pluck("subject", &subjects).Error)
				require.NotContains(t, subjects, victimSubject)
				var n int64
				require.NoError(t, db.Table(a.sessionsTable).Where("subject = ?", victimSubject).Count(&n).Error)
				require.Zero(t, n, "no session is signed in as the victim")

				// The attacker's browser is not signed in as the victim.
				_, body = attacker.get("/")
				require.NotContains(t, body, "Signed in as")
				require.NotContains(t, body, email)
				resp, _ = attacker.get("/sessions")
				require.Equal(t, http.StatusSeeOther, resp.StatusCode)
				require.Equal(t, "/signin?next=%2Fsessions", resp.Header.Get("Location"))

				// The app destroyed the session after the failed renewal,
				// successfully unless the lock was still held.
				require.GreaterOrEqual(t, len(seen), 2, "events: %v", seen)
				require.Equal(t, "destroy", seen[1].Op)
				if release == "renew" {
					require.NoError(t, seen[1].Err)
				} else {
					require.ErrorContains(t, seen[1].Err, "database is locked")
				}

				// Nor is the victim's browser signed in; a second try
				// works and kills the planted token.
				_, body = victim.get("/")
				require.NotContains(t, body, "Signed in as")
				resp, _ = victim.post("/signin", form)
				require.Equal(t, http.StatusSeeOther, resp.StatusCode)
				require.Equal(t, "/sessions", resp.Header.Get("Location"))
				require.NotEqual(t, planted, victim.token())
				require.False(t, a.alive(t, planted))
				_, body = attacker.get("/")
				require.NotContains(t, body, "Signed in as")
			})
		}
	}
}

// openSQLiteBusy opens the SQLite file at path with the project's DSN but a
// busy timeout of busy, so that a write waiting for a held lock soon fails
// with "database is locked". It is closed when t ends.
func openSQLiteBusy(t *testing.T, path string, busy time.Duration) *gorm.DB {
	t.Helper()
	dsn := "file:" + path + "?_journal_mode=WAL&_busy_timeout=" + strconv.FormatInt(busy.Milliseconds(), 10) +
		"&_txlock=immediate&_synchronous=NORMAL"
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: testdb.Logger()})
	require.NoError(t, err)
	sqlDB, err := db.DB()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sqlDB.Close() })
	return db
}

// lockerDB opens a second pool on the SQLite file at path, with the
// project's long busy timeout, so that taking the lock waits for any write
// the app has in flight.
func lockerDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	sqlDB, err := testdb.OpenAt(t, testdb.SQLite, path, nil).DB()
	require.NoError(t, err)
	return sqlDB
}

// writeLock holds SQLite's write lock (BEGIN IMMEDIATE) on a connection of
// its own, as another process's long write would. hold and release may run
// on any goroutine and report through error; release is idempotent.
type writeLock struct {
	db   *sql.DB
	mu   sync.Mutex
	conn *sql.Conn
	err  error
}

func (l *writeLock) hold() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil || l.err != nil {
		l.err = errors.Join(l.err, errors.New("writeLock: hold twice"))
		return
	}
	ctx := context.Background()
	conn, err := l.db.Conn(ctx)
	if err == nil {
		if _, err = conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
			_ = conn.Close()
		}
	}
	if err != nil {
		l.err = err
		return
	}
	l.conn = conn
}

func (l *writeLock) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return
	}
	_, err := l.conn.ExecContext(context.Background(), "ROLLBACK")
	l.err = errors.Join(l.err, err, l.conn.Close())
	l.conn = nil
}

func (l *writeLock) error() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// plant puts a session cookie with tok in b's jar, as an attacker who can
// set cookies for the site would.
func (b *browser) plant(tok string) {
	b.t.Helper()
	u, err := url.Parse(b.app.srv.URL)
	require.NoError(b.t, err)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: b.app.cookie, Value: tok, Path: "/"}})
	require.Equal(b.t, tok, b.token())
}
