package sessionhttp

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/gormsession/gormsession/internal/sessionstate"
	"github.com/gormsession/gormsession/session"
)

// renewAttempts bounds the load-reapply-renew cycles of a Renew that keeps
// losing races, as Container.Update bounds its own.
const renewAttempts = 16

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

	// What changed since the session was loaded or last stored (the
	// baseline). fns are the Update functions applied since, in order.
	// snapshot is Data as the codec encodes it right after the last of
	// them. tainted means Data or the subject changed outside Update (or
	// could not be tracked), so a conflict is reported instead of resolved;
	// fns and snapshot are then nil.
	fns      []func(*T) error
	snapshot []byte
	tainted  bool

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

// attemptsError reports a Renew that lost every race.
type attemptsError struct {
	n   int
	err error
}

func (e *attemptsError) Error() string {
	return fmt.Sprintf("gave up after %d attempts: %v", e.n, e.err)
}

func (e *attemptsError) Unwrap() error { return e.err }

// update applies fn to Data, restoring Data if fn fails, and remembers fn
// unless the changes can no longer be tracked. Called with mu held.
func (st *state[T]) update(fn func(*T) error) error {
	st.observe()
	backup := st.snapshot // Data as it is now, unless tainted
	if backup == nil {
		var err error
		if backup, err = sessionstate.Snapshot(st.m.c, st.s); err != nil {
			return fmt.Errorf("sessionhttp: update: %w", err)
		}
	}
	if err := fn(&st.s.Data); err != nil {
		if rerr := sessionstate.Restore(st.m.c, st.s, backup); rerr != nil {
			st.taint()
		}
		return err
	}
	if st.tainted {
		return nil
	}
	snap, err := sessionstate.Snapshot(st.m.c, st.s)
	if err != nil {
		st.taint()
		return nil
	}
	st.fns = append(st.fns, fn)
	st.snapshot = snap
	return nil
}

// observe taints the state if Data or the subject changed outside Update
// since the baseline or the last Update. Called with mu held.
func (st *state[T]) observe() {
	switch {
	case st.tainted:
	case st.s.Subject() != st.subject:
		st.taint()
	case st.snapshot == nil:
		// No Update since the baseline: Data must still be what is stored.
		if changed, err := sessionstate.Changed(st.m.c, st.s); err != nil || changed {
			st.taint()
		}
	default:
		if differs, err := sessionstate.Differs(st.m.c, st.s, st.snapshot); err != nil || differs {
			st.taint()
		}
	}
}

func (st *state[T]) taint() { st.tainted, st.fns, st.snapshot = true, nil, nil }

// stored makes the session as it is now the baseline. Called with mu held.
func (st *state[T]) stored() {
	st.saved, st.subject = true, st.s.Subject()
	st.fns, st.snapshot, st.tainted = nil, nil, false
}

// replay applies the remembered Update functions to d, in order.
func (st *state[T]) replay(d *T) error {
	for _, fn := range st.fns {
		if err := fn(d); err != nil {
			return err
		}
	}
	return nil
}

// save stores the session with Container.Save. A conflict is resolved by
// re-applying the Update functions to the stored session when every change
// went through Update, and returned otherwise. Called with mu held.
func (st *state[T]) save() error {
	err := st.m.c.Save(st.ctx, st.s)
	if errors.Is(err, session.ErrConflict) {
		if st.observe(); !st.tainted {
			err = st.replaySave()
		}
	}
	if err == nil {
		st.stored()
	}
	return err
}

// replaySave re-applies the Update functions to the stored session with
// Container.Update, which retries on further conflicts, and makes the
// result the request's session.
func (st *state[T]) replaySave() error {
	var fnErr error
	fresh, err := st.m.c.Update(st.ctx, st.s.Token(), func(d *T) error {
		fnErr = st.replay(d)
		return fnErr
	})
	switch {
	case fnErr != nil:
		return &replayError{fnErr}
	case err != nil:
		return err
	}
	*st.s = *fresh
	return nil
}

// renew gives the session a new token with Container.Renew. A conflict is
// resolved as save does, by re-applying the Update functions to the stored
// session and renewing that, but never when the subject changed. Called
// with mu held.
func (st *state[T]) renew() error {
	err := st.m.c.Renew(st.ctx, st.s)
	if errors.Is(err, session.ErrConflict) {
		if st.observe(); !st.tainted {
			err = st.replayRenew(err)
		}
	}
	if err == nil {
		st.stored()
	}
	return err
}

func (st *state[T]) replayRenew(err error) error {
	pause := time.Millisecond
	for range renewAttempts - 1 {
		time.Sleep(rand.N(pause) + time.Microsecond)
		pause = min(2*pause, 32*time.Millisecond)
		fresh, lerr := st.m.c.Load(st.ctx, st.s.Token())
		if lerr != nil {
			return lerr
		}
		if ferr := st.replay(&fresh.Data); ferr != nil {
			return &replayError{ferr}
		}
		if err = st.m.c.Renew(st.ctx, fresh); err == nil {
			*st.s = *fresh
			return nil
		}
		if !errors.Is(err, session.ErrConflict) {
			return err
		}
	}
	return &attemptsError{renewAttempts, err}
}

// begin commits the session before the response starts, once: it stores a
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
		st.client = ""
		if !st.s.IsNew() {
			st.client = st.s.Token()
		}
	}
	st.mu.Unlock()
	if err != nil {
		h := w.Header()
		clear(h)
		for k, v := range st.header {
			h[k] = v
		}
		st.m.onError(w, st.r, fmt.Errorf("sessionhttp: commit: %w", err))
	}
	return err == nil
}

// prepare stores the session if it changed and sets the cookie and the
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
	sent := true
	switch {
	case !s.IsNew() && s.Token() != st.incoming:
		m.sendToken(h, s)
	case !s.IsNew() && m.header == "" && (st.saved || sessionstate.Refreshed(s)):
		// The cookie's Max-Age follows the expiry that moved; a header
		// token has no expiry to refresh.
		m.sendToken(h, s)
	case s.IsNew() && st.destroyed && st.incoming != "":
		m.sendToken(h, nil)
	default:
		sent = false
	}
	if sent || st.accessed {
		m.addVary(h)
	}
	return nil
}

// changed reports whether the handler changed the session; a session the
// handler never asked for costs nothing. Called with mu held.
func (st *state[T]) changed() (bool, error) {
	if !st.accessed {
		return false, nil
	}
	return sessionstate.Changed(st.m.c, st.s)
}

// store writes a changed session before the response starts. A stored
// session whose subject changed is renewed rather than saved, so a login
// that forgot to call Renew still never signs in the token the client
// came with. Called with mu held.
func (st *state[T]) store() error {
	if !st.s.IsNew() && st.s.Subject() != st.subject {
		return st.renew()
	}
	return st.save()
}

// finish runs after next returned: it commits if nothing was written, and
// otherwise stores a change made after the response started, if it can.
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
			err = errors.New("the session's cookie could not be sent")
		}
	}
	st.mu.Unlock()
	if err != nil {
		st.m.onError(w, st.r, &lateError{err})
	}
}

// addVary adds the request header the token comes in ("Cookie", or
// WithTokenHeader's) to h's Vary header unless it is already there.
func (m *Manager[T]) addVary(h http.Header) {
	name := "Cookie"
	if m.header != "" {
		name = m.header
	}
	for _, v := range h.Values("Vary") {
		for _, f := range splitComma(v) {
			if f == "*" || http.CanonicalHeaderKey(f) == name {
				return
			}
		}
	}
	h.Add("Vary", name)
}
