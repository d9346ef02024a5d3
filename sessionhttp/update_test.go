package sessionhttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessionhttp"
)

// barrier returns a function that n requests call inside the handler:
// each call returns once all n have made it, so that all of them loaded
// the same stored version before any of them commits. If one never
// arrives the others give up after a minute, a safety net against a hung
// test rather than a timing assumption: the test then fails on its counts.
func barrier(n int) func() {
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

// burst sends one POST per path at once with cl and returns each one's
// status code and body; a request that failed has code 0 and its error as
// the body.
func burst(ts string, cl *http.Client, paths []string) (codes []int, bodies []string) {
	codes, bodies = make([]int, len(paths)), make([]string, len(paths))
	var wg sync.WaitGroup
	for i, p := range paths {
		wg.Go(func() {
			resp, err := cl.Post(ts+p, "text/plain", nil)
			if err != nil {
				bodies[i] = err.Error()
				return
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			codes[i], bodies[i] = resp.StatusCode, string(b)
			if err != nil {
				codes[i], bodies[i] = 0, err.Error()
			}
		})
	}
	wg.Wait()
	return codes, bodies
}

// raceMux serves cartMux and POST /race?item=..., which waits at wait
// (after the session was opened) and then runs change.
func raceMux(wait func(), change func(m *sessionhttp.Manager[Cart], r *http.Request, item string) error) func(m *sessionhttp.Manager[Cart]) http.Handler {
	return func(m *sessionhttp.Manager[Cart]) http.Handler {
		mux := http.NewServeMux()
		mux.Handle("/", cartMux(m))
		mux.HandleFunc("POST /race", func(w http.ResponseWriter, r *http.Request) {
			wait()
			if err := change(m, r, r.URL.Query().Get("item")); err != nil {
				http.Error(w, "change failed: "+err.Error(), http.StatusInternalServerError)
				return
			}
			w.Header().Set("X-Handler", "yes")
			io.WriteString(w, "added")
		})
		return mux
	}
}

// addDirectly appends item to Data without Update.
func addDirectly(m *sessionhttp.Manager[Cart], r *http.Request, item string) error {
	s, _ := m.Session(r)
	s.Data.Items = append(s.Data.Items, item)
	return nil
}

// addByUpdate appends item to Data with Update.
func addByUpdate(m *sessionhttp.Manager[Cart], r *http.Request, item string) error {
	return m.Update(r, func(c *Cart) error {
		c.Items = append(c.Items, item)
		return nil
	})
}

// raceTwo stores a cart holding "apple", then sends POST /race for "pear"
// and "plum" at once on that session, and returns their status codes and
// bodies in that order and the session's token.
func raceTwo(t *testing.T, e *env) ([]int, []string, string) {
	t.Helper()
	resp, _ := e.do(t, e.client, http.MethodPost, "/add?item=apple")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	tok := e.token(e.client)
	require.NotEmpty(t, tok)
	codes, bodies := burst(e.ts.URL, e.client, []string{"/race?item=pear", "/race?item=plum"})
	return codes, bodies, tok
}

// TestConcurrentRequestsConflictIsReported: a handler that writes Data
// directly, without Update, and loses a race is answered 409 by the
// default error handler; its change is refused, not dropped silently and
// not merged.
func TestConcurrentRequestsConflictIsReported(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		e := setup(t, db, raceMux(barrier(2), addDirectly))
		codes, bodies, tok := raceTwo(t, e)
		won := 0
		if codes[1] == http.StatusOK {
			won = 1
		}
		lost := 1 - won
		require.Equal(t, http.StatusOK, codes[won], "bodies %q", bodies)
		require.Equal(t, "added", bodies[won])
		require.Equal(t, http.StatusConflict, codes[lost], "the losing write is refused, not dropped")
		require.Equal(t, "Conflict\n", bodies[lost], "no detail reaches the client")

		items := e.stored(t, tok).Items
		require.Equal(t, []string{"apple", []string{"pear", "plum"}[won]}, items)
		logs := e.logs.String()
		require.Contains(t, logs, "sessionhttp: commit: session: ")
		require.Contains(t, logs, "conflict")
		require.Equal(t, 1, strings.Count(logs, "sessionhttp"), "one error, read once: %s", logs)
		require.NotContains(t, logs, tok)
	})
}

// TestConflictPolicyByKindOfChange: of two requests that race on one
// session, the loser succeeds with both changes kept when it changed Data
// only through Update, and gets the error handler (with the conflict)
// whenever it also changed Data directly, before or after Update, or
// changed the subject.
func TestConflictPolicyByKindOfChange(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		change   func(m *sessionhttp.Manager[Cart], r *http.Request, item string) error
		resolved bool
	}{
		{"update", addByUpdate, true},
		{"two updates", func(m *sessionhttp.Manager[Cart], r *http.Request, item string) error {
			if err := addByUpdate(m, r, item); err != nil {
				return err
			}
			return m.Update(r, func(c *Cart) error { c.Count++; return nil })
		}, true},
		{"update, then a direct write", func(m *sessionhttp.Manager[Cart], r *http.Request, item string) error {
			if err := addByUpdate(m, r, item); err != nil {
				return err
			}
			s, _ := m.Session(r)
			s.Data.Flash = "direct"
			return nil
		}, false},
		{"a direct write, then update", func(m *sessionhttp.Manager[Cart], r *http.Request, item string) error {
			s, _ := m.Session(r)
			s.Data.Flash = "direct"
			return addByUpdate(m, r, item)
		}, false},
		{"a direct write between updates", func(m *sessionhttp.Manager[Cart], r *http.Request, item string) error {
			if err := addByUpdate(m, r, item); err != nil {
				return err
			}
			s, _ := m.Session(r)
			s.Data.Items[0] = "mangled" // in place: the slice is shared with nothing the Manager kept
			return m.Update(r, func(c *Cart) error { c.Count++; return nil })
		}, false},
		{"update and a subject", func(m *sessionhttp.Manager[Cart], r *http.Request, item string) error {
			s, _ := m.Session(r)
			s.SetSubject("user:" + item)
			return addByUpdate(m, r, item)
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testdb.Each(t, func(t *testing.T, db *gorm.DB) {
				var mu sync.Mutex
				var got []error
				e := setup(t, db, raceMux(barrier(2), tc.change),
					sessionhttp.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
						mu.Lock()
						got = append(got, err)
						mu.Unlock()
						http.Error(w, "refused", http.StatusConflict)
					}))
				codes, bodies, tok := raceTwo(t, e)
				mu.Lock()
				defer mu.Unlock()
				if tc.resolved {
					require.Equal(t, []int{http.StatusOK, http.StatusOK}, codes, "bodies %q, errors %v", bodies, got)
					require.Equal(t, []string{"added", "added"}, bodies)
					require.Empty(t, got)
					stored := e.stored(t, tok)
					require.Equal(t, "apple", stored.Items[0])
					require.ElementsMatch(t, []string{"apple", "pear", "plum"}, stored.Items, "no write is lost")
					if tc.name == "two updates" {
						require.Equal(t, 2, stored.Count)
					}
					require.Equal(t, tok, e.token(e.client), "resolving a conflict does not change the token")
					return
				}
				require.ElementsMatch(t, []int{http.StatusOK, http.StatusConflict}, codes, "bodies %q", bodies)
				require.Contains(t, bodies, "refused\n", "the loser's response is replaced")
				require.Len(t, got, 1)
				if !errors.Is(got[0], session.ErrConflict) {
					// Both renewed: the loser's token was renewed away.
					require.ErrorIs(t, got[0], session.ErrNotFound)
				}
				msg := got[0].Error()
				t.Logf("the loser's error: %s", msg)
				require.True(t, strings.HasPrefix(msg, "sessionhttp: commit: session: "), msg)
				require.Equal(t, 1, strings.Count(msg, "sessionhttp"), "the error reads once: %s", msg)
			})
		})
	}
}

// TestConcurrentAddToCart: 8, then 32 requests that each add an item to
// the cart of ONE session with Update, at once, through a real server and
// the session cookie: every request succeeds (303, no 409) and the stored
// cart holds exactly every item once and the exact count.
func TestConcurrentAddToCart(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		for _, n := range []int{8, 32} {
			t.Run(strconv.Itoa(n), func(t *testing.T) {
				wait := barrier(n)
				var conflicts, runs atomic.Int32
				e := setup(t, db, func(m *sessionhttp.Manager[Cart]) http.Handler {
					mux := http.NewServeMux()
					mux.Handle("/", cartMux(m))
					mux.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
						wait() // every request has loaded the same version
						item := r.URL.Query().Get("item")
						err := m.Update(r, func(c *Cart) error {
							runs.Add(1)
							c.Items = append(c.Items, item)
							c.Count++
							return nil
						})
						if err != nil {
							http.Error(w, "update failed", http.StatusInternalServerError)
							return
						}
						http.Redirect(w, r, "/", http.StatusSeeOther)
					})
					return mux
				}, sessionhttp.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
					conflicts.Add(1)
					t.Errorf("error handler: %v", err)
					http.Error(w, "refused", http.StatusConflict)
				}))
				resp, _ := e.do(t, e.client, http.MethodPost, "/add?item=seed")
				require.Equal(t, http.StatusOK, resp.StatusCode)
				tok := e.token(e.client)
				require.NotEmpty(t, tok)

				paths := make([]string, n)
				want := []string{"seed"}
				for i := range n {
					paths[i] = "/cart?item=i" + strconv.Itoa(i)
					want = append(want, "i"+strconv.Itoa(i))
				}
				codes, bodies := burst(e.ts.URL, e.client, paths)
				succeeded := 0
				for i, code := range codes {
					if code == http.StatusSeeOther {
						succeeded++
					} else {
						t.Errorf("request %d: %d %q", i, code, bodies[i])
					}
				}
				stored := e.stored(t, tok)
				t.Logf("%s: %d concurrent adds, %d answered 303, final count %d, %d items, %d re-applications",
					testdb.Dialect(db), n, succeeded, stored.Count, len(stored.Items), int(runs.Load())-n)
				require.GreaterOrEqual(t, int(runs.Load()), 2*n-1,
					"all loaded one version, so all but one lost a race and re-applied their update")
				require.Equal(t, n, succeeded)
				require.Zero(t, conflicts.Load())
				require.Equal(t, n, stored.Count, "the count is exact")
				require.ElementsMatch(t, want, stored.Items, "every item once")
				require.Equal(t, "seed", stored.Items[0])
				require.Equal(t, tok, e.token(e.client))
				require.EqualValues(t, 1, e.count(t))
			})
		}
	})
}

// TestUpdateErrorChangesNothing: an error from fn comes back unchanged and
// leaves Data as it was, even when fn changed it in place before failing;
// nothing is stored for it.
func TestUpdateErrorChangesNothing(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		errNo := errors.New("no such product")
		e := setup(t, db, func(m *sessionhttp.Manager[Cart]) http.Handler {
			mux := http.NewServeMux()
			mux.Handle("/", cartMux(m))
			mux.HandleFunc("POST /try", func(w http.ResponseWriter, r *http.Request) {
				s, _ := m.Session(r)
				before := fmt.Sprintf("%#v", s.Data)
				err := m.Update(r, func(c *Cart) error {
					if len(c.Items) > 0 {
						c.Items[0] = "mangled"
					}
					c.Items = append(c.Items, "half")
					c.Flash, c.Count = "half", 7
					return errNo
				})
				after := fmt.Sprintf("%#v", s.Data)
				fmt.Fprintf(w, "same error=%v unchanged=%v", err == errNo, before == after)
				if r.URL.Query().Has("then") {
					_ = m.Update(r, func(c *Cart) error {
						c.Items = append(c.Items, r.URL.Query().Get("then"))
						return nil
					})
				}
			})
			return mux
		})

		// A new session: nothing stored, no cookie.
		resp, body := e.do(t, e.client, http.MethodPost, "/try")
		require.Equal(t, "same error=true unchanged=true", body)
		require.Empty(t, resp.Header.Values("Set-Cookie"))
		require.Zero(t, e.count(t))

		// A stored session: no write at all.
		e.do(t, e.client, http.MethodPost, "/add?item=apple")
		tok := e.token(e.client)
		id := idOfToken(t, tok)
		var v1 []int64
		require.NoError(t, e.db.Table(e.table).Where("id = ?", id).Pluck("version", &v1).Error)
		resp, body = e.do(t, e.client, http.MethodPost, "/try")
		require.Equal(t, "same error=true unchanged=true", body)
		require.Empty(t, resp.Header.Values("Set-Cookie"))
		var v2 []int64
		require.NoError(t, e.db.Table(e.table).Where("id = ?", id).Pluck("version", &v2).Error)
		require.Equal(t, v1, v2, "nothing was written")
		require.Equal(t, Cart{Items: []string{"apple"}}, e.stored(t, tok))

		// A failed Update, then one that works: only the second lands.
		_, body = e.do(t, e.client, http.MethodPost, "/try?then=pear")
		require.Equal(t, "same error=true unchanged=true", body)
		require.Equal(t, Cart{Items: []string{"apple", "pear"}}, e.stored(t, tok))
	})
}

// TestReplayErrorGoesToErrorHandler: when a remembered function fails as
// it is re-applied to the stored session after a conflict, the error
// handler gets its error, which matches session.ErrConflict as well.
func TestReplayErrorGoesToErrorHandler(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		errFull := errors.New("cart is full")
		var mu sync.Mutex
		var got []error
		e := setup(t, db, raceMux(barrier(2), func(m *sessionhttp.Manager[Cart], r *http.Request, item string) error {
			return m.Update(r, func(c *Cart) error {
				if len(c.Items) >= 2 {
					return errFull
				}
				c.Items = append(c.Items, item)
				return nil
			})
		}), sessionhttp.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			mu.Lock()
			got = append(got, err)
			mu.Unlock()
			http.Error(w, "try again", http.StatusTeapot)
		}))
		codes, bodies, tok := raceTwo(t, e)
		require.ElementsMatch(t, []int{http.StatusOK, http.StatusTeapot}, codes, "bodies %q", bodies)
		require.ElementsMatch(t, []string{"added", "try again\n"}, bodies, "the handler's response is replaced")
		require.Len(t, e.stored(t, tok).Items, 2)
		mu.Lock()
		defer mu.Unlock()
		require.Len(t, got, 1)
		require.ErrorIs(t, got[0], errFull)
		require.ErrorIs(t, got[0], session.ErrConflict)
		require.EqualError(t, got[0], "sessionhttp: commit: an update failed when re-applied after a conflict: cart is full")
	})
}

var errNoPears = errors.New("no pears")

// TestRenewConflictPolicy: a Renew that loses a race re-applies the
// request's Updates to the stored session and renews that when the subject
// is unchanged and Data changed only through Update; a login (a subject
// change), or a direct write, gets the conflict instead.
func TestRenewConflictPolicy(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		change   func(m *sessionhttp.Manager[Cart], r *http.Request) error
		resolved bool
	}{
		{"update", func(m *sessionhttp.Manager[Cart], r *http.Request) error {
			return m.Update(r, func(c *Cart) error { c.Flash = "welcome"; return nil })
		}, true},
		{"login", func(m *sessionhttp.Manager[Cart], r *http.Request) error {
			s, _ := m.Session(r)
			s.SetSubject("user:7")
			s.Data.Flash = "welcome"
			return nil
		}, false},
		{"login through update", func(m *sessionhttp.Manager[Cart], r *http.Request) error {
			s, _ := m.Session(r)
			s.SetSubject("user:7")
			return m.Update(r, func(c *Cart) error { c.Flash = "welcome"; return nil })
		}, false},
		{"direct write", func(m *sessionhttp.Manager[Cart], r *http.Request) error {
			s, _ := m.Session(r)
			s.Data.Flash = "welcome"
			return nil
		}, false},
		{"update that fails when re-applied", func(m *sessionhttp.Manager[Cart], r *http.Request) error {
			return m.Update(r, func(c *Cart) error {
				if slices.Contains(c.Items, "pear") {
					return errNoPears
				}
				c.Flash = "welcome"
				return nil
			})
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := testdb.Open(t, testdb.SQLite, nil)
			var c *session.Container[Cart]
			var renewErr error
			e := setup(t, db, func(m *sessionhttp.Manager[Cart]) http.Handler {
				mux := http.NewServeMux()
				mux.Handle("/", cartMux(m))
				mux.HandleFunc("POST /login-race", func(w http.ResponseWriter, r *http.Request) {
					s, _ := m.Session(r)
					if err := tc.change(m, r); err != nil {
						http.Error(w, "change failed", http.StatusInternalServerError)
						return
					}
					// Another request of this session saves in between.
					if _, err := c.Update(r.Context(), s.Token(), func(cart *Cart) error {
						cart.Items = append(cart.Items, "pear")
						return nil
					}); err != nil {
						http.Error(w, "update failed", http.StatusInternalServerError)
						return
					}
					if renewErr = m.Renew(r); renewErr != nil {
						http.Error(w, "renew failed", http.StatusConflict)
						return
					}
					io.WriteString(w, "renewed")
				})
				return mux
			})
			c = e.c
			e.do(t, e.client, http.MethodPost, "/add?item=apple")
			old := e.token(e.client)

			resp, body := e.do(t, e.client, http.MethodPost, "/login-race")
			if !tc.resolved {
				require.Equal(t, http.StatusConflict, resp.StatusCode)
				require.ErrorIs(t, renewErr, session.ErrConflict)
				if errors.Is(renewErr, errNoPears) {
					require.EqualError(t, renewErr, "sessionhttp: renew: an update failed when re-applied after a conflict: no pears")
				} else {
					require.NotContains(t, renewErr.Error(), "sessionhttp", "the store's error as it is")
				}
				require.Empty(t, resp.Header.Values("Set-Cookie"))
				require.Equal(t, Cart{Items: []string{"apple", "pear"}}, e.stored(t, old), "nothing renewed, the other write kept")
				require.Zero(t, countSubject(t, e, "user:7"))
				return
			}
			require.Equal(t, "renewed", body)
			now := e.token(e.client)
			require.NotEqual(t, old, now)
			s, err := e.c.Load(context.Background(), now)
			require.NoError(t, err)
			require.Empty(t, s.Subject())
			require.Equal(t, Cart{Items: []string{"apple", "pear"}, Flash: "welcome"}, s.Data, "both changes kept")
			alive, err := e.c.Exists(context.Background(), old)
			require.NoError(t, err)
			require.False(t, alive)
		})
	}
}

// Ledger is a payload whose value lives behind pointers that change in
// place: big.Int keeps its digits in an unexported slice its methods
// modify.
type Ledger struct {
	Total *big.Int `json:"total"`
	Notes []string `json:"notes"`
}

// TestUpdateOfPointerPayloadResolvesConflicts: changes are tracked by the
// codec's encoding, so an Update that changes a value in place behind a
// pointer is re-applied on a conflict like any other: both requests land.
func TestUpdateOfPointerPayloadResolvesConflicts(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.SQLite, nil)
	wait := barrier(2)
	e := setupContainer[Ledger](t, db, func(m *sessionhttp.Manager[Ledger]) http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("POST /seed", func(w http.ResponseWriter, r *http.Request) {
			s, _ := m.Session(r)
			s.Data = Ledger{Total: big.NewInt(1), Notes: []string{"seed"}}
		})
		mux.HandleFunc("POST /race", func(w http.ResponseWriter, r *http.Request) {
			wait()
			if err := m.Update(r, func(l *Ledger) error {
				l.Notes = append(l.Notes, r.URL.Query().Get("item"))
				l.Total.Add(l.Total, big.NewInt(1))
				return nil
			}); err != nil {
				http.Error(w, "update failed", http.StatusInternalServerError)
			}
		})
		return mux
	})
	resp, _ := e.do(t, e.client, http.MethodPost, "/seed")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	tok := e.token(e.client)
	codes, bodies := burst(e.ts.URL, e.client, []string{"/race?item=a", "/race?item=b"})
	require.Equal(t, []int{http.StatusOK, http.StatusOK}, codes, "bodies %q", bodies)
	stored := e.stored(t, tok)
	require.Len(t, stored.Notes, 3)
	require.EqualValues(t, 3, stored.Total.Int64())
	require.ElementsMatch(t, []string{"a", "b"}, stored.Notes[1:])
}
