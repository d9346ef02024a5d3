package sessionhttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"

	"github.com/gormsession/gormsession/internal/redact"
	"github.com/gormsession/gormsession/internal/sessionstate"
	"github.com/gormsession/gormsession/session"
)

// Manager connects a session.Container to net/http: its Handler reads the
// session cookie, opens the session, hands it to the wrapped handler
// through the request context, and stores it and sets the cookie just
// before the response starts. Make one per container at start-up with
// New; it is safe for concurrent use by any number of requests. The zero
// value is not usable.
type Manager[T any] struct {
	c       *session.Container[T]
	cookie  http.Cookie // the template; see WithCookie
	header  string      // WithTokenHeader's name, canonical; "" for the cookie
	bearer  bool        // header is Authorization: "Bearer <token>"
	onError func(http.ResponseWriter, *http.Request, error)
	logger  *slog.Logger
}

// New returns a Manager for the sessions of c. With no options the cookie
// is "__Host-session", Secure, HttpOnly, SameSite=Lax, Path "/", with no
// Domain and a Max-Age that follows the session's expiry (see WithCookie),
// and failures are answered by the default error handler (see
// WithErrorHandler).
//
// New fails, and returns no Manager, when c is nil, an option is nil or an
// option has a bad value: the error matches ErrInvalidOption and names
// every problem, so a misconfiguration stops the program at start-up
// rather than answering requests with 500. New does no I/O.
func New[T any](c *session.Container[T], opts ...Option) (*Manager[T], error) {
	cfg := defaults()
	for i, o := range opts {
		if o == nil {
			cfg.fail("New", "option %d is nil", i+1)
			continue
		}
		o(&cfg)
	}
	if c == nil {
		cfg.fail("New", "the container is nil")
	}
	cfg.checkCookie()
	if err := cfg.err(); err != nil {
		return nil, err
	}
	m := &Manager[T]{c: c, cookie: cfg.cookie, onError: cfg.onError, logger: cfg.logger, header: cfg.header}
	m.bearer = m.header == "Authorization"
	if m.onError == nil {
		m.onError = m.defaultError
	}
	return m, nil
}

// Handler returns next wrapped in session handling; it has the shape of a
// middleware, func(http.Handler) http.Handler, so it works with
// http.ServeMux and the common routers.
//
// For each request it reads the session cookie and opens the session
// leniently (no, malformed, unknown or expired token: a new, unsaved
// session), then calls next with the session in the request context (see
// Session). If opening fails (the database is down) next is not called and
// the error handler answers. A nil next is answered by the error handler
// too.
//
// The session is committed just before the response starts: at the first
// WriteHeader (other than 1xx), Write, Flush, ReadFrom or Hijack of the
// wrapped ResponseWriter, or when next returns having written nothing. It
// is stored only if it changed: its payload or subject differs from what
// was loaded (equal encodings, or for codecs that are not deterministic
// equal decoded values), so there is no flag to remember; a request that
// never called Session or Update costs no comparison, and an anonymous
// visitor whose session stays untouched gets no row and no cookie. A
// stored session whose subject changed is renewed, not saved, so a login
// that forgot Renew still moves to a new token. After a Renew that failed,
// nothing of the request's session is stored and no cookie is sent,
// whatever the handler does next (Destroy lifts this). The cookie is set at
// the same moment, so it always precedes the first body byte: when the
// session was stored, when its token differs from the cookie's, or when
// opening it moved its idle deadline (its Max-Age then follows). A cookie
// whose token names no live session is left alone rather than expired: it
// is harmless (the next request treats it as unknown), and expiring it
// could delete the fresh cookie a concurrent sign-in of the same browser
// has just set. Responses that use the session or set the cookie get
// "Vary: Cookie", and a Set-Cookie response gets
// `Cache-Control: no-cache="Set-Cookie"` unless the handler set
// Cache-Control itself.
//
// Two requests of one session that run at once both load the same stored
// version, and the later save finds it changed (session.ErrConflict).
// When every change the losing request made went through Update, the
// Manager resolves that itself (see Update) and the request succeeds with
// both changes kept. Otherwise the conflict is reported: the error handler
// answers (409 by default), so a change is refused loudly, never lost
// silently.
//
// If the commit fails, the handler's response is replaced: the error
// handler answers on the original ResponseWriter with the header as it was
// before next ran, the handler's later writes fail, and its status is
// ignored.
//
// Make changes before the response starts. A change made after it is still
// stored when next returns if the client already holds the session's
// current token (conflicts are handled as above); otherwise (a new
// session, whose cookie could not be sent, or a subject change, which
// needs a new token) it is dropped, and the error handler gets an error
// matching ErrResponseStarted, as it does for a late store that fails.
//
// Writes run with the request's context values but not its cancellation,
// so a client that goes away mid-request does not undo the session change
// of work the handler finished. If next panics before the response
// started, nothing is stored. The wrapped ResponseWriter keeps
// http.Flusher, http.Hijacker and io.ReaderFrom working and has Unwrap, for
// http.ResponseController.
func (m *Manager[T]) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if next == nil {
			m.onError(w, r, errors.New("sessionhttp: Handler: nil next handler"))
			return
		}
		incoming := m.incoming(r)
		s, err := m.c.Open(r.Context(), incoming)
		if err != nil {
			m.onError(w, r, fmt.Errorf("sessionhttp: start: %w", err))
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
// did not pass through this Manager's Handler. Read its Data freely; change
// it through Update, so that a concurrent request of the same session
// cannot make this one fail. Changing Data (or the subject) directly works
// too, but such a request is answered 409 when it loses a race (see
// Handler). The session belongs to this request: do not use it from other
// goroutines.
//
// When the Manager resolves a conflict it replaces the session in place
// (the pointer stays valid) with the stored result, which holds the other
// request's changes too. After Destroy, Session returns the new, empty
// session that replaced the destroyed one.
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

// Update changes the request's session Data with fn, right away: fn gets a
// pointer to Data, changes it and returns nil. If fn returns an error,
// Update restores Data as it was and returns that error unchanged; nothing
// else happens.
//
// Update also remembers fn, and that is its point: when the commit finds
// that a concurrent request of the same session saved first
// (session.ErrConflict), the Manager loads the stored session, applies the
// remembered functions to it again, in order, and saves that, retrying the
// same way on a further conflict, as Container.Update does (bounded, with a
// short random pause). So any number of concurrent requests that each add
// to a cart all succeed and all their items are kept. fn may therefore run
// more than once, each time on a fresher value: it must only change the
// value it is given, decide from that value (add an item, increment a
// count, clear a flash message only if it is still the one shown) and be
// quick. It runs with the request's session locked, so it must not call
// the Manager's methods. If it fails when re-applied, the error handler
// gets its error, matching session.ErrConflict as well (409 by default).
//
// The Manager re-applies only when it can tell that the request changed
// nothing else: if Data was also changed outside Update, or the subject
// changed, a conflict is reported as for any direct write. It tells by the
// container's codec, as it tells what to store: Update keeps Data's
// encoding after each call and compares Data with it (and, before the
// first call, with the stored value). When fn fails, Data is set back to
// the value its encoding holds, so what the codec does not store
// (unexported fields, for JSON) is not restored.
//
// Renew re-applies the same way when its own write conflicts, unless the
// subject changed (a login): see Renew. After a successful Renew or a
// commit, the remembered functions are forgotten: their changes are stored.
//
// Update fails with ErrNoSession when r did not pass through Handler. Once
// the response has started it still applies fn, and the change is stored
// as Handler describes for late changes. Like Session, call it from the
// request's goroutine only.
func (m *Manager[T]) Update(r *http.Request, fn func(*T) error) error {
	if fn == nil {
		return errors.New("sessionhttp: update: nil function")
	}
	st := m.state(r)
	if st == nil {
		return fmt.Errorf("sessionhttp: update: %w", ErrNoSession)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.accessed = true
	return st.update(fn)
}

// Renew gives the request's session a new token right away, storing its
// current Data and subject under it; the old token is dead afterwards and
// the response carries the new cookie. Call it whenever privileges change,
// above all right after login (set the subject, then Renew), so that a
// token planted or seen before login is worthless after it (session
// fixation). A new session is stored by Renew even if it is empty.
//
// If Renew fails, nothing of this request's session will be stored, under
// any token, and no cookie is sent: above all the login's subject never
// reaches the old token. Answer the request as a failure; a login handler
// should also end the session with Destroy (which lifts the block), so
// that the browser starts over.
//
// When another request of the session saved first (session.ErrConflict):
// if the subject is unchanged and Data was changed only through Update,
// Renew loads the stored session, re-applies the Update functions and
// renews that, bounded like the commit's retries (a function that fails
// when re-applied makes Renew return its error, which matches
// session.ErrConflict too); otherwise, and above all when the subject
// changed, it returns the conflict, so that a login is never applied over
// a session that changed under it.
//
// Renew fails with ErrNoSession when r did not pass through Handler, and
// with ErrResponseStarted, doing nothing, once the response has started.
// It returns the store's errors as they are: session.ErrNotFound when the
// session was destroyed, renewed away or expired meanwhile, session
// errors for a bad subject, and database errors.
func (m *Manager[T]) Renew(r *http.Request) error {
	st := m.state(r)
	if st == nil {
		return fmt.Errorf("sessionhttp: renew: %w", ErrNoSession)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.accessed = true
	if st.committed {
		return fmt.Errorf("sessionhttp: renew: %w", ErrResponseStarted)
	}
	err := st.renew()
	st.renewFailed = err != nil
	var re *replayError
	var ae *attemptsError
	if errors.As(err, &re) || errors.As(err, &ae) {
		err = fmt.Errorf("sessionhttp: renew: %w", err)
	}
	return err
}

// Destroy deletes the request's session from the store right away (call it
// at logout); its token is dead afterwards, and the response expires the
// cookie. For the rest of the request Session returns a new, empty session
// in its place: if the handler writes to it (a "you are signed out" flash
// message, say), it is stored with a new cookie instead. Destroying a
// session that was never stored, or twice, is not an error. Destroy also
// lifts the block a failed Renew put on storing the session.
//
// Once the response has started, the row is still deleted but the cookie
// can no longer be expired; the browser keeps a dead token, which the next
// request treats as unknown. Destroy fails with ErrNoSession when r did
// not pass through Handler, or returns the store's error as it is; the
// session is then unchanged.
func (m *Manager[T]) Destroy(r *http.Request) error {
	st := m.state(r)
	if st == nil {
		return fmt.Errorf("sessionhttp: destroy: %w", ErrNoSession)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	st.accessed = true
	if err := m.c.Destroy(st.ctx, st.s); err != nil {
		return err
	}
	fresh, err := m.c.Open(st.ctx, "")
	if err != nil {
		return err
	}
	st.s, st.subject, st.destroyed, st.renewFailed = fresh, "", true, false
	st.fns, st.snapshot, st.tainted = nil, nil, false
	return nil
}

func (m *Manager[T]) state(r *http.Request) *state[T] {
	if r == nil {
		return nil
	}
	st, _ := r.Context().Value(m).(*state[T])
	return st
}

// incoming returns the token r carries: the session cookie's value, or
// with WithTokenHeader that header's ("" if none).
func (m *Manager[T]) incoming(r *http.Request) string {
	if m.header == "" {
		if ck, err := r.Cookie(m.cookie.Name); err == nil {
			return ck.Value
		}
		return ""
	}
	v := strings.TrimSpace(r.Header.Get(m.header))
	if m.bearer {
		scheme, tok, ok := strings.Cut(v, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return ""
		}
		return strings.TrimSpace(tok)
	}
	return v
}

// attach makes r carry tok as m reads it; for the test kit.
func (m *Manager[T]) attach(r *http.Request, tok string) {
	switch {
	case m.header == "":
		r.AddCookie(&http.Cookie{Name: m.cookie.Name, Value: tok})
	case m.bearer:
		r.Header.Set(m.header, "Bearer "+tok)
	default:
		r.Header.Set(m.header, tok)
	}
}

// sendToken puts s's token on the response header h: the session cookie,
// or with WithTokenHeader the header (an empty value when s is nil: the
// session ended and the client should forget its token).
func (m *Manager[T]) sendToken(h http.Header, s *session.Session[T]) {
	if m.header != "" {
		v := ""
		if s != nil {
			v = s.Token()
			if m.bearer {
				v = "Bearer " + v
			}
		}
		h.Set(m.header, v)
		// A response that carries a token is never stored by a cache.
		if h.Get("Cache-Control") == "" {
			h.Set("Cache-Control", "no-store")
		}
		return
	}
	ck := m.expiredCookie()
	if s != nil {
		ck = m.sessionCookie(s)
	}
	h.Add("Set-Cookie", ck.String())
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", `no-cache="Set-Cookie"`)
	}
}

// sessionCookie returns the session cookie carrying s's token. It is
// persistent, with a Max-Age that follows s's expiry, unless the template
// asks for browser-session cookies and s has no lifetime of its own.
func (m *Manager[T]) sessionCookie(s *session.Session[T]) *http.Cookie {
	c := m.cookie
	c.Value = s.Token()
	if lifetime, _ := s.Expiry(); m.cookie.MaxAge == 0 || lifetime > 0 {
		c.MaxAge = max(1, int(math.Ceil(sessionstate.TTL(m.c, s).Seconds())))
	} else {
		c.MaxAge = 0 // a browser-session cookie
	}
	return &c
}

// expiredCookie returns a cookie that makes the browser delete the session
// cookie: the same attributes, so that it matches.
func (m *Manager[T]) expiredCookie() *http.Cookie {
	c := m.cookie
	c.MaxAge = -1 // sent as Max-Age=0
	return &c
}

func (m *Manager[T]) defaultError(w http.ResponseWriter, r *http.Request, err error) {
	m.logger.LogAttrs(r.Context(), slog.LevelError, "gormsession: http session error",
		slog.String("method", r.Method),
		slog.String("error", redact.Secrets(err.Error())))
	if errors.Is(err, ErrResponseStarted) {
		return
	}
	code := http.StatusInternalServerError
	switch {
	case errors.Is(err, session.ErrConflict) || errors.Is(err, session.ErrNotFound):
		code = http.StatusConflict
	case errors.Is(err, session.ErrUnavailable):
		// The database is restarting or failing over: a client may retry.
		code = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "1")
	}
	http.Error(w, http.StatusText(code), code)
}

func init() {
	sessionstate.ManagerParts = func(m any) (func(*http.Request, string), any) {
		return m.(interface {
			partsAny() (func(*http.Request, string), any)
		}).partsAny()
	}
}

// partsAny serves sessionstate.ManagerParts.
func (m *Manager[T]) partsAny() (func(*http.Request, string), any) { return m.attach, m.c }
