package sessionhttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sync"

	"github.com/gormsession/gormsession/internal/redact"
	"github.com/gormsession/gormsession/internal/sessionstate"
	"github.com/gormsession/gormsession/session"
)

// Manager connects a session.Container to net/http: its Handler reads the
// session cookie, opens the session, hands it to the wrapped handler
// through the request context and saves it and sets the cookie before the
// response starts. Make one per container at start-up; it is safe for
// concurrent use. The zero value is not usable: call New.
type Manager[T any] struct {
	c       *session.Container[T]
	cfg     config
	name    string
	merge   func(stored, mine *T) error
	onError ErrorHandler
	err     error
}

// New returns a Manager for the sessions of c. With no options the cookie
// is "__Host-session", Secure, HttpOnly, SameSite=Lax, Path "/", with no
// Domain and a Max-Age that follows the session's expiry; conflicts are
// reported to the error handler, which answers 409 or 500 without details.
// New never fails: a bad option, or a nil c, is reported by Err and makes
// the Manager answer every request through the error handler.
func New[T any](c *session.Container[T], opts ...Option) *Manager[T] {
	cfg := defaults()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	m := &Manager[T]{c: c}
	if c == nil {
		cfg.fail("New", "container must not be nil")
	}
	if cfg.merge != nil {
		fn, ok := cfg.merge.(func(stored, mine *T) error)
		if !ok {
			var zero T
			cfg.fail("WithMerge", "merge function's type %T does not match the payload type %T", cfg.merge, zero)
		}
		m.merge = fn
	}
	m.err = cfg.check()
	m.cfg, m.name = cfg, cfg.cookieName()
	m.onError = cfg.onError
	if m.onError == nil {
		m.onError = m.defaultError
	}
	return m
}

// Err reports a configuration problem: nil, or an error matching
// ErrInvalidOption that names each bad option. Check it once at start-up.
func (m *Manager[T]) Err() error { return m.err }

// CookieName returns the name of the session cookie.
func (m *Manager[T]) CookieName() string { return m.name }

// Handler returns next wrapped in session handling; it has the shape of a
// middleware, func(http.Handler) http.Handler, so it works with
// http.ServeMux and the common routers.
//
// For each request it reads the session cookie and opens the session
// leniently (no, malformed, unknown or expired token: a new, unsaved
// session), then calls next with the session in the request context (see
// Session). If opening fails (the database is down) next is not called and
// the error handler answers.
//
// The session is saved, if it changed, just before the response starts:
// at the first WriteHeader, Write, Flush, ReadFrom or Hijack of the wrapped
// ResponseWriter, or when next returns having written nothing. "Changed"
// compares the payload and the subject with what was loaded (equal
// encodings, or for codecs that are not deterministic equal decoded
// values), so there is no flag to remember; a request that never called
// Session costs no comparison, and an anonymous visitor whose session stays
// untouched gets no row and no cookie. A stored session whose subject
// changed is renewed, not saved (a login that forgot Renew still moves to a
// new token). After a Renew that failed, nothing of the request's session
// is stored and no cookie is sent, whatever the handler does next: it was
// told by Renew's error and answers as it sees fit (end the session with
// Destroy, which lifts this). The cookie is set at the same
// moment, so it always precedes the first body byte: when the session was
// saved or renewed, when its token differs from the cookie's, or when
// opening it refreshed its idle deadline (its Max-Age then follows). A cookie whose token
// names no live session is left alone rather than expired: it is harmless
// (the next request treats it as unknown and the next save replaces it),
// and expiring it could delete the fresh cookie that a concurrent sign-in
// of the same browser has just set. Responses that use the session or set
// the cookie get "Vary: Cookie", and a Set-Cookie response gets
// `Cache-Control: no-cache="Set-Cookie"` unless the handler set
// Cache-Control itself.
//
// If that save fails, the handler's response is replaced: the error
// handler answers on the original ResponseWriter, later writes of the
// handler return ErrAborted, and its status is ignored. A conflict with a
// concurrent request of the same session follows the conflict policy (see
// WithMerge): by default it is reported, never silently dropped.
//
// Make changes before writing the response. A change made after the
// response started is still saved at the end when the client already holds
// the session's current token (the same conflict policy applies); otherwise
// (a new session, whose cookie could not be sent) it cannot be kept, and
// the error handler gets an error matching ErrResponseStarted, as it does
// for a late save that fails.
//
// The save runs with the request's context values but not its
// cancellation, so a client that goes away mid-request does not undo the
// session change of work the handler finished. If next panics before the
// response started, nothing is saved. The wrapped ResponseWriter keeps http.Flusher, http.Hijacker and
// io.ReaderFrom working and has Unwrap, for http.ResponseController.
func (m *Manager[T]) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.err != nil {
			m.onError(w, r, m.err)
			return
		}
		if next == nil {
			m.onError(w, r, errors.New("sessionhttp: handler: nil next handler"))
			return
		}
		var incoming string
		if ck, err := r.Cookie(m.name); err == nil {
			incoming = ck.Value
		}
		s, err := m.c.Open(r.Context(), incoming)
		if err != nil {
			m.onError(w, r, fmt.Errorf("sessionhttp: open: %w", err))
			return
		}
		st := &state[T]{
			m:        m,
			ctx:      context.WithoutCancel(r.Context()),
			s:        s,
			incoming: incoming,
			subject:  s.Subject(),
			header:   w.Header().Clone(),
		}
		r = r.WithContext(context.WithValue(r.Context(), m, st))
		st.r = r
		next.ServeHTTP(&responseWriter[T]{ResponseWriter: w, st: st}, r)
		st.finish(w)
	})
}

// Session returns the request's session and true, or nil and false when r
// did not pass through this Manager's Handler. Change its Data (and
// subject) freely before the response starts; Handler saves it. The
// session belongs to this request: do not use it from other goroutines.
// After Destroy it returns the new, empty session that replaced the
// destroyed one.
func (m *Manager[T]) Session(r *http.Request) (*session.Session[T], bool) {
	st := m.state(r)
	if st == nil {
		return nil, false
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.accessed = true
	return st.s, true
}

// Renew gives the request's session a new token right away, storing its
// current Data and subject under it; the old token is dead afterwards and
// the response carries the new cookie. Call it whenever privileges change,
// above all right after login (set the subject, then Renew), so that a
// token planted or seen before login is worthless after it (session
// fixation). A new session is stored by Renew even if it is empty.
//
// It fails with ErrNoSession when r did not pass through Handler, with
// ErrResponseStarted (and does nothing) once the response has started, and
// with session.ErrNotFound when the session was destroyed or expired
// meanwhile. A concurrent save of the same session is session.ErrConflict
// unless WithMerge is set, in which case Renew merges and retries.
func (m *Manager[T]) Renew(r *http.Request) error {
	st := m.state(r)
	if st == nil {
		return ErrNoSession
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.accessed = true
	if st.committed {
		return fmt.Errorf("sessionhttp: renew: %w", ErrResponseStarted)
	}
	err := st.write("renew", m.c.Renew)
	st.renewFailed = err != nil
	return err
}

// Destroy deletes the request's session from the store right away (call it
// at logout); its token is dead afterwards, and the response expires the
// cookie. For the rest of the request Session returns a new, empty session
// in its place: if the handler writes to it (a "you are logged out" flash
// message, say), it is saved with a new cookie instead. Destroying a session
// that was never stored, or twice, is not an error.
//
// Once the response has started, the row is still deleted but the cookie
// can no longer be expired; the browser keeps a dead token, which the next
// request treats as unknown. It fails with ErrNoSession when r did not
// pass through Handler, or with the database's error.
func (m *Manager[T]) Destroy(r *http.Request) error {
	st := m.state(r)
	if st == nil {
		return ErrNoSession
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.accessed = true
	if err := m.c.Destroy(st.ctx, st.s); err != nil {
		return fmt.Errorf("sessionhttp: destroy: %w", err)
	}
	fresh, err := m.c.Open(st.ctx, "")
	if err != nil {
		return fmt.Errorf("sessionhttp: destroy: %w", err)
	}
	st.s, st.subject, st.destroyed, st.renewFailed = fresh, "", true, false
	return nil
}

func (m *Manager[T]) state(r *http.Request) *state[T] {
	if r == nil {
		return nil
	}
	st, _ := r.Context().Value(m).(*state[T])
	return st
}

// cookie returns the session cookie carrying s's token.
func (m *Manager[T]) cookie(s *session.Session[T]) *http.Cookie {
	c := m.blank()
	c.Value = s.Token()
	if m.cfg.persist {
		c.MaxAge = max(1, int(math.Ceil(sessionstate.TTL(m.c, s).Seconds())))
	}
	return c
}

// expired returns a cookie that makes the browser delete the session cookie.
func (m *Manager[T]) expired() *http.Cookie {
	c := m.blank()
	c.MaxAge = -1 // sent as Max-Age=0
	return c
}

func (m *Manager[T]) blank() *http.Cookie {
	return &http.Cookie{
		Name:     m.name,
		Path:     m.cfg.path,
		Domain:   m.cfg.domain,
		Secure:   m.cfg.secure,
		HttpOnly: m.cfg.httpOnly,
		SameSite: m.cfg.sameSite,
	}
}

func (m *Manager[T]) defaultError(w http.ResponseWriter, r *http.Request, err error) {
	m.cfg.logger.LogAttrs(r.Context(), slog.LevelError, "gormsession: http session error",
		slog.String("method", r.Method),
		slog.String("error", redact.Secrets(err.Error())))
	if errors.Is(err, ErrResponseStarted) {
		return
	}
	code := http.StatusInternalServerError
	if errors.Is(err, session.ErrConflict) || errors.Is(err, session.ErrNotFound) {
		code = http.StatusConflict
	}
	http.Error(w, http.StatusText(code), code)
}

// state is one request's session handling. mu guards every field after
// Handler made it.
type state[T any] struct {
	mu sync.Mutex
	m  *Manager[T]
	r  *http.Request
	// ctx is the request's context without its cancellation, for writes.
	ctx context.Context
	s   *session.Session[T]
	// incoming is the cookie's token ("" if none); client is the token the
	// client holds once the response has started.
	incoming, client string
	// subject is the subject as loaded or last stored.
	subject string
	// header is a copy of the response header before next ran, restored
	// when the error handler takes over.
	header    http.Header
	accessed  bool // the handler used the session
	saved     bool // the session was written during this request
	destroyed bool // Destroy ran during this request
	// renewFailed: a Renew failed during this request, so the session may
	// no longer be stored under any token the client could hold.
	renewFailed bool
	committed   bool // the response has started
	failed      bool // the error handler answered instead of the handler
}

// begin commits the session before the response starts, once: it saves a
// changed session and sets or expires the cookie on w's header. It reports
// false when that failed and the error handler answered instead.
func (st *state[T]) begin(w http.ResponseWriter) bool {
	st.mu.Lock()
	if st.committed {
		ok := !st.failed
		st.mu.Unlock()
		return ok
	}
	st.committed = true
	err := st.prepare(w.Header())
	st.failed = err != nil
	st.client = st.incoming
	if err == nil {
		st.client = st.s.Token()
		if st.s.IsNew() {
			st.client = ""
		}
	}
	st.mu.Unlock()
	if err != nil {
		h := w.Header()
		clear(h)
		for k, v := range st.header {
			h[k] = v
		}
		st.m.onError(w, st.r, err)
	}
	return err == nil
}

// prepare saves the session if it changed and sets the cookie and the
// caching headers on h. Called with mu held.
func (st *state[T]) prepare(h http.Header) error {
	m, s := st.m, st.s
	changed, err := st.changed()
	if err != nil {
		return err
	}
	if changed && !st.renewFailed {
		if err := st.store(); err != nil {
			return err
		}
	}
	var ck *http.Cookie
	switch {
	case !s.IsNew() && (st.saved || s.Token() != st.incoming || sessionstate.Refreshed(s)):
		ck = m.cookie(s)
	case s.IsNew() && st.destroyed && st.incoming != "":
		ck = m.expired()
	}
	if ck != nil {
		h.Add("Set-Cookie", ck.String())
		if h.Get("Cache-Control") == "" {
			h.Set("Cache-Control", `no-cache="Set-Cookie"`)
		}
	}
	if ck != nil || st.accessed {
		addVary(h)
	}
	return nil
}

// changed reports whether the handler changed the session; a session the
// handler never asked for costs nothing. Called with mu held.
func (st *state[T]) changed() (bool, error) {
	if !st.accessed {
		return false, nil
	}
	changed, err := sessionstate.Changed(st.m.c, st.s)
	if err != nil {
		return false, fmt.Errorf("sessionhttp: save: %w", err)
	}
	return changed, nil
}

// store writes a changed session before the response starts. A stored
// session whose subject changed is renewed rather than saved, so a login
// that forgot to call Renew still never signs in the token the client
// came with. Called with mu held.
func (st *state[T]) store() error {
	if !st.s.IsNew() && st.s.Subject() != st.subject {
		return st.write("renew", st.m.c.Renew)
	}
	return st.save()
}

// save stores the session under the conflict policy. Called with mu held.
func (st *state[T]) save() error { return st.write("save", st.m.c.Save) }

// write stores the session with op (the container's Save or Renew) under
// the conflict policy: on ErrConflict with a merge function set, merge and
// write again. Called with mu held.
func (st *state[T]) write(name string, op func(context.Context, *session.Session[T]) error) error {
	err := op(st.ctx, st.s)
	if errors.Is(err, session.ErrConflict) && st.m.merge != nil {
		err = st.mergeLoop(func(fresh *session.Session[T]) error { return op(st.ctx, fresh) })
	}
	if err != nil {
		return fmt.Errorf("sessionhttp: %s: %w", name, err)
	}
	st.saved, st.subject = true, st.s.Subject()
	return nil
}

// mergeLoop resolves a conflict with the merge policy: load the stored
// session, merge this request's Data into it, apply this request's subject
// if it changed one, and write it with write; again on another conflict.
// On success the request's session becomes the written one, so the
// handler's pointer stays valid. Called with mu held.
func (st *state[T]) mergeLoop(write func(*session.Session[T]) error) error {
	m := st.m
	err := error(session.ErrConflict)
	for range m.cfg.attempts {
		fresh, lerr := m.c.Load(st.ctx, st.s.Token())
		if lerr != nil {
			return lerr
		}
		if merr := m.merge(&fresh.Data, &st.s.Data); merr != nil {
			return fmt.Errorf("merge: %w", merr)
		}
		if sub := st.s.Subject(); sub != st.subject {
			fresh.SetSubject(sub)
		}
		if err = write(fresh); err == nil {
			*st.s = *fresh
			return nil
		}
		if !errors.Is(err, session.ErrConflict) {
			return err
		}
	}
	return fmt.Errorf("merge gave up after %d attempts: %w", m.cfg.attempts, err)
}

// finish runs after next returned: it commits if nothing was written, and
// otherwise keeps a change made after the response started, if it can.
func (st *state[T]) finish(w http.ResponseWriter) {
	st.mu.Lock()
	if !st.committed {
		st.mu.Unlock()
		st.begin(w)
		return
	}
	var err error
	if !st.failed {
		var changed bool
		changed, err = st.changed()
		switch {
		case err != nil:
		case !changed, st.renewFailed:
		case !st.s.IsNew() && st.s.Token() == st.client:
			err = st.save()
		default:
			err = errors.New("sessionhttp: save: the session's cookie could not be sent")
		}
	}
	st.mu.Unlock()
	if err != nil {
		st.m.onError(w, st.r, fmt.Errorf("%w: %w", ErrResponseStarted, err))
	}
}

// addVary adds "Cookie" to h's Vary header unless it is already there.
func addVary(h http.Header) {
	for _, v := range h.Values("Vary") {
		for _, f := range splitComma(v) {
			if f == "*" || http.CanonicalHeaderKey(f) == "Cookie" {
				return
			}
		}
	}
	h.Add("Vary", "Cookie")
}
