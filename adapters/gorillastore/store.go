package gorillastore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"runtime"
	"sync"
	"weak"

	"github.com/gorilla/sessions"

	"github.com/gormsession/gormsession/codec"
	"github.com/gormsession/gormsession/session"
)

// Store keeps gorilla/sessions sessions in a gormsession table. It
// implements sessions.Store, so it works wherever a gorilla store does:
// sessions.Session.Save, sessions.Save, echo-contrib/session, and (through
// package ginstore) gin-contrib/sessions. It is safe for concurrent use;
// make one at start-up and share it. The zero value is not usable: call
// New.
type Store struct {
	// Options are the cookie attributes every session starts with (each
	// session gets a copy in its own Options, which a handler may change).
	// New sets the defaults: Path "/", HttpOnly, Secure, SameSite=Lax and
	// MaxAge 0, a browser-session cookie. Replace or change them before the
	// store serves requests, as with gorilla's own stores; nil means the
	// defaults. They shape the cookie only: how long a session lives in the
	// database is the container's setting (session.WithLifetime,
	// session.WithIdleTimeout).
	Options *sessions.Options

	c *session.Container[[]byte]

	mu sync.Mutex
	// loaded maps each gorilla session this store handed out to the
	// gormsession session under it. The key is weak and a runtime cleanup
	// removes the entry when the gorilla session is garbage collected, so a
	// session that is never saved leaks nothing.
	loaded map[weak.Pointer[sessions.Session]]*entry
}

// entry is what the store keeps about one gorilla session.
type entry struct {
	s *session.Session[[]byte]
	// stored is the encoding of the Values as last loaded or saved, to tell
	// an unchanged session from a changed one.
	stored []byte
	// storedSubject is the subject as last loaded or saved.
	storedSubject string
	// loadErr, when set, is why the session could not be loaded; Save
	// refuses such a session instead of replacing the client's cookie.
	loadErr error
	// renew asks the next save to move the session to a new token;
	// renewFailed records that the last one failed, so that the session is
	// never skipped as unchanged (the core then refuses it).
	renew, renewFailed bool
}

// New returns a Store over c, whose payload is the gob encoding of a
// session's Values (give the store a table of its own: session.WithTable).
// Any codec works for c; codec.Gob stores the bytes as they are, the default
// JSON codec as base64 text, a third larger. session.WithEncryption seals
// them as usual. The Store never closes c: the application keeps it, for
// Container.DestroySubject ("log out everywhere"), Container.List,
// Container.Cleanup and Container.Close at shutdown.
//
// New fails only when c is nil.
func New(c *session.Container[[]byte]) (*Store, error) {
	if c == nil {
		return nil, errors.New("gorillastore: new: nil container")
	}
	return &Store{
		Options: DefaultOptions(),
		c:       c,
		loaded:  make(map[weak.Pointer[sessions.Session]]*entry),
	}, nil
}

// DefaultOptions returns the cookie attributes New gives a Store: Path "/",
// HttpOnly, Secure, SameSite=Lax, and MaxAge 0 (no Max-Age or Expires: a
// browser-session cookie). Secure cookies travel over HTTPS only; a
// development server on plain HTTP needs Secure off. A positive MaxAge
// keeps the cookie across browser restarts; match it to the container's
// session.WithLifetime, since a cookie that outlives its session only
// brings back a fresh one.
func DefaultOptions() *sessions.Options {
	return &sessions.Options{
		Path:     "/",
		HttpOnly: true,
		Secure:   true,
		SameSite: http.SameSiteLaxMode,
	}
}

// Get returns the session called name for r, from the request's
// gorilla registry: the first call opens it (see New), later calls on the
// same request return the same *sessions.Session. It has New's results.
func (st *Store) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(st, name)
}

// New opens the session called name from r's cookie of that name, without
// the request registry (use Get in handlers). It never returns a nil
// session.
//
// A missing, malformed, unknown, destroyed or expired token gives a fresh
// session (IsNew true, no Values) and no error; a token the server did not
// issue is never adopted. A stored session gives its Values and IsNew
// false. The session's ID is its gormsession handle (session.Session.Handle):
// stable until Renew, safe to log or show, and no use for resuming the
// session; the token itself is only in the cookie.
//
// Two failures return a fresh session along with the error, as gorilla's
// stores do. Values that cannot be decoded (a type missing its
// gob.Register, or a changed type) give an error matching
// session.ErrCorrupt; saving the fresh session starts a new one. A database
// failure (matching session.ErrUnavailable when the database is down) gives
// a session that Save refuses with the same error, so an outage never
// replaces the client's cookie with an empty session.
func (st *Store) New(r *http.Request, name string) (*sessions.Session, error) {
	gs := sessions.NewSession(st, name)
	opts := *st.options()
	gs.Options = &opts
	gs.IsNew = true
	ctx := contextOf(r)
	tok := ""
	if r != nil {
		if ck, err := r.Cookie(name); err == nil {
			tok = ck.Value
		}
	}
	s, err := st.c.Open(ctx, tok)
	if err != nil {
		err = fmt.Errorf("gorillastore: open: %w", err)
		st.attach(gs, &entry{loadErr: err})
		return gs, err
	}
	if s.IsNew() {
		st.attach(gs, &entry{s: s})
		return gs, nil
	}
	values, err := decode(s.Data)
	if err != nil {
		fresh, ferr := st.c.Open(ctx, "") // a fresh session: no SQL
		if ferr != nil {
			ferr = fmt.Errorf("gorillastore: open: %w", ferr)
			st.attach(gs, &entry{loadErr: ferr})
			return gs, ferr
		}
		st.attach(gs, &entry{s: fresh})
		return gs, fmt.Errorf("gorillastore: open: %w: %w", session.ErrCorrupt, err)
	}
	gs.Values, gs.IsNew, gs.ID = values, false, s.Handle()
	st.attach(gs, &entry{s: s, stored: s.Data, storedSubject: s.Subject()})
	return gs, nil
}

// Save stores gs and sets its cookie on w, with the attributes of
// gs.Options (the store's Options when nil). Call it before the response
// starts, as with any gorilla store.
//
// With Options.MaxAge < 0 Save destroys the session: its row is deleted and
// the cookie expired, and a later save of any stale copy of it fails with an
// error matching session.ErrNotFound; it is never re-created. A database
// failure is returned and the cookie left alone, so the logout can be
// retried. Destroying a session that was never stored only expires the
// cookie.
//
// Otherwise a new session is inserted, and a loaded one is saved with
// gormsession's versioned update: if another request saved the same
// session since this one loaded it, Save fails with an error matching
// session.ErrConflict and changes nothing (load it again and redo the
// change); if it was destroyed or expired meanwhile, with
// session.ErrNotFound. A loaded session whose Values and subject are
// unchanged is not written at all, only its cookie is sent again; a
// stale copy that changed nothing can therefore lose no one's work and
// reports no conflict (if the session was destroyed meanwhile, the cookie
// sent again holds a dead token, which the next request treats as
// unknown). Values that gob cannot encode (an unregistered type)
// fail before any SQL; so does a subject set with SetSubject on a stored
// session without Renew (session.ErrRenewRequired).
//
// Errors read "gorillastore: save: ..." (Renew's too) and never carry a
// token, an id or a value.
func (st *Store) Save(r *http.Request, w http.ResponseWriter, gs *sessions.Session) error {
	if gs == nil {
		return errors.New("gorillastore: save: nil session")
	}
	ctx := contextOf(r)
	opts := gs.Options
	if opts == nil {
		opts = st.options()
	}
	e := st.lookup(gs)
	if e != nil && e.loadErr != nil {
		return fmt.Errorf("gorillastore: save: the session was not loaded: %w", e.loadErr)
	}
	if opts.MaxAge < 0 {
		if e != nil {
			if err := st.c.Destroy(ctx, e.s); err != nil {
				return fmt.Errorf("gorillastore: save: destroy: %w", err)
			}
			st.detach(gs)
		}
		gs.ID, gs.IsNew = "", true
		http.SetCookie(w, sessions.NewCookie(gs.Name(), "", opts))
		return nil
	}
	if e == nil {
		// Not from this store's New (sessions.NewSession, or destroyed
		// above earlier): a fresh session.
		s, err := st.c.Open(ctx, "")
		if err != nil {
			return fmt.Errorf("gorillastore: save: %w", err)
		}
		e = &entry{s: s}
		st.attach(gs, e)
	}
	b, err := encode(gs.Values)
	if err != nil {
		return fmt.Errorf("gorillastore: save: %w", err)
	}
	renew := e.renew
	e.renew = false
	switch {
	case renew:
		e.s.Data = b
		err = st.c.Renew(ctx, e.s)
		e.renewFailed = err != nil
	case !e.s.IsNew() && !e.renewFailed && e.s.Subject() == e.storedSubject && same(e.stored, b, gs.Values):
		// Unchanged: nothing to write.
	default:
		e.s.Data = b
		err = st.c.Save(ctx, e.s)
	}
	if err != nil {
		return fmt.Errorf("gorillastore: save: %w", err)
	}
	e.stored, e.storedSubject = b, e.s.Subject()
	gs.ID, gs.IsNew = e.s.Handle(), false
	http.SetCookie(w, sessions.NewCookie(gs.Name(), e.s.Token(), opts))
	return nil
}

// Renew moves gs to a new token and saves it, as Save does, in one
// statement; the old token is dead afterwards and the new cookie is set
// on w. Call it right after a login (after SetSubject, if you use
// subjects), so that a token an attacker planted or saw before the login is
// worthless after it (session fixation). gorilla/sessions has no such call;
// without it, a gorilla session keeps its token for its whole life.
//
// It fails as Save does: session.ErrConflict when another request saved gs
// since it was loaded, session.ErrNotFound when it was destroyed or
// expired. After a failed Renew, gs keeps its old token and a plain Save
// of it fails with session.ErrRenewRequired until a Renew succeeds or the
// session is destroyed (MaxAge < 0). When gs.Options.MaxAge < 0, Renew
// destroys the session instead, which ends the old token too.
func (st *Store) Renew(r *http.Request, w http.ResponseWriter, gs *sessions.Session) error {
	if gs == nil {
		return errors.New("gorillastore: renew: nil session")
	}
	if e := st.lookup(gs); e != nil && e.loadErr == nil {
		e.renew = true
	} else if e == nil {
		s, err := st.c.Open(contextOf(r), "")
		if err != nil {
			return fmt.Errorf("gorillastore: renew: %w", err)
		}
		st.attach(gs, &entry{s: s, renew: true})
	}
	return st.Save(r, w, gs)
}

// SetSubject sets the owner key of gs, for example "user:42", which
// Container.DestroySubject ("log out everywhere") and Container.List look
// sessions up by; "" makes it anonymous again (see
// session.Session.SetSubject for what is valid). A new session stores it
// on its first Save; a stored session stores it only through Renew, which
// a sign-in should call anyway. It does nothing to a session that is not
// from this store or whose load failed.
func (st *Store) SetSubject(gs *sessions.Session, subject string) {
	if e := st.lookup(gs); e != nil && e.s != nil {
		e.s.SetSubject(subject)
	}
}

// Subject returns the owner key of gs as SetSubject set it or as it was
// stored, "" when there is none or gs is not from this store.
func (st *Store) Subject(gs *sessions.Session) string {
	if e := st.lookup(gs); e != nil && e.s != nil {
		return e.s.Subject()
	}
	return ""
}

func (st *Store) options() *sessions.Options {
	if st.Options == nil {
		return DefaultOptions()
	}
	return st.Options
}

func (st *Store) attach(gs *sessions.Session, e *entry) {
	key := weak.Make(gs)
	st.mu.Lock()
	_, had := st.loaded[key]
	st.loaded[key] = e
	st.mu.Unlock()
	if !had {
		runtime.AddCleanup(gs, st.forget, key)
	}
}

func (st *Store) forget(key weak.Pointer[sessions.Session]) {
	st.mu.Lock()
	delete(st.loaded, key)
	st.mu.Unlock()
}

func (st *Store) lookup(gs *sessions.Session) *entry {
	if gs == nil {
		return nil
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.loaded[weak.Make(gs)]
}

func (st *Store) detach(gs *sessions.Session) {
	st.forget(weak.Make(gs))
}

// attached reports how many gorilla sessions the store keeps an entry for
// (for the tests).
func (st *Store) attached() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.loaded)
}

func contextOf(r *http.Request) context.Context {
	if r == nil {
		return context.Background()
	}
	return r.Context()
}

// encode returns the gob encoding of values.
func encode(values map[any]any) ([]byte, error) {
	if values == nil {
		values = map[any]any{}
	}
	return codec.Gob{}.Encode(&values)
}

// decode returns the values b encodes; an empty b is an empty map.
func decode(b []byte) (map[any]any, error) {
	values := map[any]any{}
	if len(b) == 0 {
		return values, nil
	}
	if err := (codec.Gob{}).Decode(b, &values); err != nil {
		return nil, err
	}
	if values == nil {
		values = map[any]any{}
	}
	return values, nil
}

// same reports whether values, encoded as b, equal the stored encoding:
// gob writes a map in random order, so different bytes are decoded and
// compared before they count as a change.
func same(stored, b []byte, values map[any]any) bool {
	if stored == nil {
		return false
	}
	if string(stored) == string(b) {
		return true
	}
	old, err := decode(stored)
	if err != nil {
		return false
	}
	if values == nil {
		values = map[any]any{}
	}
	return reflect.DeepEqual(old, values)
}
