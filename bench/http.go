package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/gorilla/sessions"

	"github.com/gormsession/gormsession/sessionhttp"
)

// The HTTP scenarios (issue 13, part 2), in report order: what one request
// through a session manager costs, driven through its ServeHTTP with real
// Cookie and Set-Cookie headers (no network).
const (
	// HAnon: an anonymous visitor (no cookie) whose handler reads the
	// session and never writes; no row and no cookie are expected.
	HAnon = "anon"
	// HRead: a signed-in visitor whose handler reads the payload only.
	HRead = "read"
	// HWrite: a signed-in visitor whose handler changes the payload.
	HWrite = "write"
	// HMix32: 32 concurrent clients, each on a session of its own, nine
	// reads for every write (chosen at random per request).
	HMix32 = "mix32"
)

// HTTPScenarios lists the scenarios in report order.
var HTTPScenarios = []string{HAnon, HRead, HWrite, HMix32}

// HTTPIdleTimeout is the idle timeout of the scs "_idle" subjects: with one,
// scs stores the session on every request that loads it.
const HTTPIdleTimeout = 30 * time.Minute

// HTTPSubject is one session manager in front of the benchmark's handler.
type HTTPSubject struct {
	// Name is the label in the tables: "ours" (sessionhttp), the scs store
	// ("scs_pgxstore", "_idle" with HTTPIdleTimeout), "wader_gormstore"
	// (gorilla/sessions), or "none" (no sessions: the harness's own cost).
	Name string
	// Peer marks another library's manager: ratios are to the fastest peer.
	Peer bool
	// GORM marks a peer that keeps its sessions through GORM.
	GORM bool
	// Cookie is the session cookie's name.
	Cookie string
	// Handler is the whole stack: the manager's middleware (if it has one)
	// around the benchmark's handler.
	Handler http.Handler
	// Keys are the cookie values of signed-in sessions seeded for this
	// subject; the scenarios replace them from Set-Cookie, as a browser
	// would.
	Keys []string
}

// HTTPFixture is one store on one database with the HTTP subjects that run
// over it (scs with and without idle timeout share a store and its rows).
type HTTPFixture struct {
	NS       *NS // nil for "none"
	Store    Subject
	Subjects []*HTTPSubject
}

// Release closes the fixture's idle connections, so that subjects that are
// not running hold none of the server's slots.
func (f *HTTPFixture) Release() {
	if f.NS != nil {
		f.NS.Release()
	}
}

// Close closes the store and drops its namespace (unless keep).
func (f *HTTPFixture) Close(ctx context.Context, keep bool) error {
	if f.Store == nil {
		return nil
	}
	err := f.Store.Close()
	if !keep {
		err = errors.Join(err, f.NS.Drop(ctx))
	}
	return err
}

// httpStore says which store factory an HTTP subject family sits on.
type httpStore struct {
	name     string // the store subject's name (its namespace)
	dialects []string
	new      func(ctx context.Context, ns *NS) (Subject, error)
	wrap     func(s Subject, keys []string) ([]*HTTPSubject, error)
}

var httpStores = []httpStore{
	{name: "ours", new: newOurs, wrap: wrapOurs},
	{name: "scs_pgxstore", dialects: []string{Postgres}, new: newSCSPgx, wrap: wrapSCS(false)},
	{name: "scs_sqlite3store", dialects: []string{SQLite}, new: newSCSSQLite, wrap: wrapSCS(false)},
	{name: "scs_mysqlstore", dialects: []string{MySQL}, new: newSCSMySQL, wrap: wrapSCS(false)},
	{name: "scs_gormstore", new: newSCSGorm, wrap: wrapSCS(true)},
	{name: "wader_gormstore", new: newWader, wrap: wrapWader},
}

// HTTPSubjectNames lists every HTTP subject name that dialect has, in
// report order ("none" first).
func HTTPSubjectNames(dialect string) []string {
	names := []string{"none"}
	for _, st := range httpStores {
		if !supports(st.dialects, dialect) {
			continue
		}
		names = append(names, st.name)
		if st.name != "ours" && st.name != "wader_gormstore" {
			names = append(names, st.name+"_idle")
		}
	}
	return names
}

func supports(dialects []string, d string) bool {
	if dialects == nil {
		return true
	}
	for _, x := range dialects {
		if x == d {
			return true
		}
	}
	return false
}

// NewHTTPFixtures builds every HTTP subject on dialect whose name want
// accepts (nil: all), each store in a namespace of its own seeded with n
// signed-in sessions. On error the fixtures made so far are closed and
// dropped.
func NewHTTPFixtures(ctx context.Context, env Env, dialect string, n int, want func(string) bool) ([]*HTTPFixture, error) {
	if want == nil {
		want = func(string) bool { return true }
	}
	var fs []*HTTPFixture
	fail := func(err error) ([]*HTTPFixture, error) {
		for _, f := range fs {
			_ = f.Close(ctx, false)
		}
		return nil, err
	}
	if want("none") {
		keys := make([]string, n)
		for i := range keys {
			keys[i] = NewToken()
		}
		fs = append(fs, &HTTPFixture{Subjects: []*HTTPSubject{{
			Name: "none", Cookie: "session", Handler: noneHandler{}, Keys: keys,
		}}})
	}
	for _, st := range httpStores {
		if !supports(st.dialects, dialect) || !(want(st.name) || want(st.name+"_idle")) {
			continue
		}
		ns, err := env.Namespace(ctx, dialect, "http_"+st.name)
		if err != nil {
			return fail(fmt.Errorf("%s/%s: namespace: %w", dialect, st.name, err))
		}
		s, err := st.new(ctx, ns)
		if err != nil {
			_ = ns.Drop(ctx)
			return fail(fmt.Errorf("%s/%s: %w", dialect, st.name, err))
		}
		f := &HTTPFixture{NS: ns, Store: s}
		fs = append(fs, f)
		if err := s.Reset(ctx); err != nil {
			return fail(fmt.Errorf("%s/%s: reset: %w", dialect, st.name, err))
		}
		keys, err := s.Seed(ctx, n, time.Now().Add(Lifetime))
		if err != nil {
			return fail(fmt.Errorf("%s/%s: seed: %w", dialect, st.name, err))
		}
		subs, err := st.wrap(s, keys)
		if err != nil {
			return fail(fmt.Errorf("%s/%s: %w", dialect, st.name, err))
		}
		for _, h := range subs {
			if want(h.Name) {
				f.Subjects = append(f.Subjects, h)
			}
		}
		ns.Release()
	}
	return fs, nil
}

// errNotSignedIn means a request that must find the seeded, signed-in
// session did not (or an anonymous one found a signed-in session).
var errNotSignedIn = errors.New("bench: wrong session for the scenario")

// app is the handler every manager wraps: /anon and /read look at the
// payload, /write adds a visit; each answers 200 "ok" when the session is
// what the scenario expects, 500 otherwise.
type app struct {
	// view returns the request's payload and whether it is signed in.
	view func(r *http.Request) (Payload, bool, error)
	// bump adds a visit to the signed-in session the way the library is
	// used: before the response starts.
	bump func(w http.ResponseWriter, r *http.Request) error
}

var ok = []byte("ok")

func (a app) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var err error
	switch r.URL.Path {
	case "/anon", "/read":
		var in bool
		var p Payload
		p, in, err = a.view(r)
		if err == nil && (in != (r.URL.Path == "/read") || in && p.UserID == 0) {
			err = errNotSignedIn
		}
	case "/write":
		err = a.bump(w, r)
	default:
		err = errNotSignedIn
	}
	if err != nil {
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	_, _ = w.Write(ok)
}

// noneHandler answers like app without any session: the harness's floor.
type noneHandler struct{}

func (noneHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(ok) }

// wrapOurs puts sessionhttp with its defaults in front of the container.
func wrapOurs(s Subject, keys []string) ([]*HTTPSubject, error) {
	o := s.(*ours)
	m, err := sessionhttp.New(o.c)
	if err != nil {
		return nil, err
	}
	a := app{
		view: func(r *http.Request) (Payload, bool, error) {
			s, ok := m.Session(r)
			if !ok {
				return Payload{}, false, sessionhttp.ErrNoSession
			}
			return s.Data, s.Data.UserID != 0, nil
		},
		bump: func(w http.ResponseWriter, r *http.Request) error {
			return m.Update(r, func(p *Payload) error {
				if p.UserID == 0 {
					return errNotSignedIn
				}
				p.Visits++
				return nil
			})
		},
	}
	return []*HTTPSubject{{Name: "ours", Cookie: "__Host-session", Handler: m.Handler(a), Keys: keys}}, nil
}

// wrapSCS puts scs's LoadAndSave in front of the store, once as the store
// subject has it (no idle timeout) and once with HTTPIdleTimeout, on the
// same store and rows.
func wrapSCS(gorm bool) func(s Subject, keys []string) ([]*HTTPSubject, error) {
	return func(s Subject, keys []string) ([]*HTTPSubject, error) {
		sub := s.(*scsSubject)
		idle := scs.New()
		idle.Store, idle.Lifetime, idle.IdleTimeout = sub.sm.Store, sub.sm.Lifetime, HTTPIdleTimeout
		var out []*HTTPSubject
		for _, v := range []struct {
			name string
			sm   *scs.SessionManager
		}{{sub.name, sub.sm}, {sub.name + "_idle", idle}} {
			sm := v.sm
			a := app{
				view: func(r *http.Request) (Payload, bool, error) {
					p, ok := sm.Get(r.Context(), "data").(Payload)
					return p, ok, nil
				},
				bump: func(w http.ResponseWriter, r *http.Request) error {
					p, ok := sm.Get(r.Context(), "data").(Payload)
					if !ok {
						return errNotSignedIn
					}
					p.Visits++
					sm.Put(r.Context(), "data", p)
					return nil
				},
			}
			out = append(out, &HTTPSubject{
				Name: v.name, Peer: true, GORM: gorm, Cookie: sm.Cookie.Name,
				Handler: sm.LoadAndSave(a), Keys: append([]string(nil), keys...),
			})
		}
		return out, nil
	}
}

// wrapWader uses gorilla/sessions over wader/gormstore as its README does:
// store.Get in the handler, Values, and Save (which writes the row and the
// cookie) only when the handler changed something.
func wrapWader(s Subject, keys []string) ([]*HTTPSubject, error) {
	w := s.(*wader)
	var store sessions.Store = w.store
	a := app{
		view: func(r *http.Request) (Payload, bool, error) {
			s, err := store.Get(r, waderCookie)
			if err != nil {
				return Payload{}, false, err
			}
			p, ok := s.Values["data"].(Payload)
			return p, ok && !s.IsNew, nil
		},
		bump: func(rw http.ResponseWriter, r *http.Request) error {
			s, err := store.Get(r, waderCookie)
			if err != nil {
				return err
			}
			p, ok := s.Values["data"].(Payload)
			if !ok || s.IsNew {
				return errNotSignedIn
			}
			p.Visits++
			s.Values["data"] = p
			return s.Save(r, rw)
		},
	}
	return []*HTTPSubject{{Name: "wader_gormstore", Peer: true, GORM: true, Cookie: waderCookie, Handler: a, Keys: keys}}, nil
}

// RoundTrip serves one request of a client that holds the session cookie
// *c ("" for none) through h.Handler, and updates *c from the response's
// Set-Cookie as a browser would. Any status but 200 is an error (which
// names neither the cookie nor the session).
func (h *HTTPSubject) RoundTrip(ctx context.Context, method, path string, c *string) error {
	r := httptest.NewRequestWithContext(ctx, method, path, nil)
	if *c != "" {
		r.Header.Set("Cookie", h.Cookie+"="+*c)
	}
	w := httptest.NewRecorder()
	h.Handler.ServeHTTP(w, r)
	if w.Code != http.StatusOK {
		return fmt.Errorf("%s %s: status %d", method, path, w.Code)
	}
	for _, line := range w.Header()["Set-Cookie"] {
		ck, err := http.ParseSetCookie(line)
		if err != nil {
			return fmt.Errorf("%s %s: bad Set-Cookie: %w", method, path, err)
		}
		if ck.Name != h.Cookie {
			continue
		}
		if ck.MaxAge < 0 || ck.Value == "" {
			*c = ""
		} else {
			*c = ck.Value
		}
	}
	return nil
}

// HTTPBench returns the benchmark of scenario sc on h: one op is one
// request, its time and allocations everything the request costs in this
// process (the harness's own share is what subject "none" measures). It
// also reports CPUMetric: the process's CPU time per request (every thread:
// the handler, GC, the driver, an in-process SQLite; not a database
// server's), which a busy neighbour inflates far less than wall time.
func HTTPBench(ctx context.Context, sc string, h *HTTPSubject) func(*testing.B) {
	fail := func(b *testing.B, err error) {
		b.Helper()
		b.Fatalf("%s/%s: %v", h.Name, sc, err)
	}
	// warm opens the connections the timed loop will use (conc requests at
	// once) before the clock starts, so that no run pays for a connection
	// handshake: the driver closes idle connections between runs.
	warm := func(b *testing.B, conc int) {
		path := "/read"
		if sc == HAnon {
			path = "/anon"
		}
		var wg sync.WaitGroup
		errs := make([]error, conc)
		for i := range conc {
			wg.Go(func() {
				c := ""
				if path == "/read" {
					c = h.Keys[i%len(h.Keys)]
				}
				errs[i] = h.RoundTrip(ctx, http.MethodGet, path, &c)
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			fail(b, err)
		}
	}
	keyed := func(method, path string) func(*testing.B) {
		return func(b *testing.B) {
			b.ReportAllocs()
			warm(b, 2)
			rng := rand.New(rand.NewPCG(rand.Uint64(), 2))
			cpu := processCPU()
			defer reportCPU(b, cpu)
			for b.Loop() {
				c := &h.Keys[rng.IntN(len(h.Keys))]
				if err := h.RoundTrip(ctx, method, path, c); err != nil {
					fail(b, err)
				}
				if *c == "" {
					fail(b, errors.New("the session cookie was dropped"))
				}
			}
		}
	}
	switch sc {
	case HAnon:
		return func(b *testing.B) {
			b.ReportAllocs()
			warm(b, 2)
			cpu := processCPU()
			defer reportCPU(b, cpu)
			for b.Loop() {
				c := ""
				if err := h.RoundTrip(ctx, http.MethodGet, "/anon", &c); err != nil {
					fail(b, err)
				}
				if c != "" {
					fail(b, errors.New("an anonymous visitor who wrote nothing got a session cookie"))
				}
			}
		}
	case HRead:
		return keyed(http.MethodGet, "/read")
	case HWrite:
		return keyed(http.MethodPost, "/write")
	case HMix32:
		return func(b *testing.B) {
			b.ReportAllocs()
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((32 + procs - 1) / procs)
			warm(b, 32)
			b.ResetTimer()
			// Consecutive indices from a random start: every client has a
			// session of its own (len(Keys) >= the number of clients).
			var next atomic.Int64
			next.Store(rand.Int64N(int64(len(h.Keys))))
			var failed atomic.Pointer[error]
			cpu := processCPU()
			defer reportCPU(b, cpu)
			b.RunParallel(func(pb *testing.PB) {
				c := &h.Keys[int(next.Add(1)%int64(len(h.Keys)))]
				rng := rand.New(rand.NewPCG(rand.Uint64(), 3))
				for pb.Next() {
					method, path := http.MethodGet, "/read"
					if rng.IntN(10) == 0 {
						method, path = http.MethodPost, "/write"
					}
					err := h.RoundTrip(ctx, method, path, c)
					if err == nil && *c == "" {
						err = errors.New("the session cookie was dropped")
					}
					if err != nil {
						failed.CompareAndSwap(nil, &err)
						return
					}
				}
			})
			if e := failed.Load(); e != nil {
				fail(b, *e)
			}
		}
	}
	panic("bench: unknown HTTP scenario " + sc)
}

// CPUMetric is the unit of the CPU time per request HTTPBench reports.
const CPUMetric = "cpu-ns/op"

// reportCPU reports the process's CPU time since start per op of b.
func reportCPU(b *testing.B, start time.Duration) {
	if b.N > 0 && !b.Failed() {
		b.ReportMetric(float64(processCPU()-start)/float64(b.N), CPUMetric)
	}
}
