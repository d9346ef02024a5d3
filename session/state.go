package session

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"time"

	"github.com/gormsession/gormsession/internal/sessionstate"
)

func init() {
	sessionstate.Changed = func(c, s any) (bool, error) { return c.(containerState).changedAny(s) }
	sessionstate.TTL = func(c, s any) time.Duration { return c.(containerState).ttlAny(s) }
	sessionstate.Snapshot = func(c, s any) ([]byte, error) { return c.(containerState).snapshotAny(s) }
	sessionstate.Restore = func(c, s any, snap []byte) error { return c.(containerState).restoreAny(s, snap) }
	sessionstate.Differs = func(c, s any, snap []byte) (bool, error) { return c.(containerState).differsAny(s, snap) }
	sessionstate.Refreshed = func(s any) bool { return s.(interface{ refreshedAny() bool }).refreshedAny() }
	sessionstate.WithClock = func(now func() time.Time) any { return withClock(now) }
	sessionstate.WithCleanupRand = func(src rand.Source) any { return withCleanupRand(src) }
	sessionstate.WithCleanupBatchSize = func(n int) any { return withCleanupBatchSize(n) }
}

// containerState is what package sessionstate asks a Container[T] about
// one of its sessions.
type containerState interface {
	changedAny(s any) (bool, error)
	ttlAny(s any) time.Duration
	snapshotAny(s any) ([]byte, error)
	restoreAny(s any, snap []byte) error
	differsAny(s any, snap []byte) (bool, error)
}

func (c *Container[T]) snapshotAny(s any) ([]byte, error) {
	b, err := c.inner.Encode(&s.(*Session[T]).Data)
	if err != nil {
		return nil, fmt.Errorf("session: snapshot: %w", err)
	}
	return b, nil
}

func (c *Container[T]) restoreAny(s any, snap []byte) error {
	var v T
	if err := c.inner.Decode(snap, &v); err != nil {
		return fmt.Errorf("session: restore: %w", err)
	}
	s.(*Session[T]).Data = v
	return nil
}

func (c *Container[T]) differsAny(s any, snap []byte) (bool, error) {
	return c.differs(&s.(*Session[T]).Data, snap)
}

func (c *Container[T]) changedAny(s any) (bool, error) { return c.changed(s.(*Session[T])) }

func (c *Container[T]) ttlAny(s any) time.Duration {
	return time.Duration(s.(*Session[T]).expiresAt-c.cfg.nowMs()) * time.Millisecond
}

func (s *Session[T]) refreshedAny() bool { return s != nil && s.refreshed }

// changed reports whether s differs from what is stored: its subject,
// label or own expiry changed, or its Data is not the value it was loaded or last saved with. A
// new session counts as changed only if its Data is not T's zero value or it
// has a subject, a label or an expiry of its own. Equal encodings mean equal values; different encodings are
// decoded and compared, because a codec need not be deterministic (gob
// writes maps in random order), so an untouched session never counts as
// changed.
func (c *Container[T]) changed(s *Session[T]) (bool, error) {
	if s == nil || s.destroyed {
		return false, nil
	}
	if s.subject != s.storedSubject || s.label != s.storedLabel ||
		s.lifetime != s.storedLifetime || s.idle != s.storedIdle {
		return true, nil
	}
	if s.isNew && s.plain == nil && reflect.ValueOf(&s.Data).Elem().IsZero() {
		// A fresh session still holding T's zero value: nothing to encode
		// or compare (the anonymous visitor's request).
		return false, nil
	}
	plain, err := c.inner.Encode(&s.Data)
	if err != nil {
		return false, fmt.Errorf("session: changed: %w", err)
	}
	base := s.plain
	if s.isNew && base == nil {
		var zero T
		if base, err = c.inner.Encode(&zero); err != nil {
			return false, fmt.Errorf("session: changed: %w", err)
		}
	}
	return c.differsEncoded(&s.Data, plain, base), nil
}

// differs reports whether data is no longer the value base encodes.
func (c *Container[T]) differs(data *T, base []byte) (bool, error) {
	plain, err := c.inner.Encode(data)
	if err != nil {
		return false, fmt.Errorf("session: changed: %w", err)
	}
	return c.differsEncoded(data, plain, base), nil
}

// differsEncoded reports whether data, which encodes as plain, is another
// value than base encodes: equal encodings mean equal values; different
// ones are decoded and compared, because a codec need not be deterministic.
func (c *Container[T]) differsEncoded(data *T, plain, base []byte) bool {
	if bytes.Equal(plain, base) {
		return false
	}
	var was T
	if err := c.inner.Decode(base, &was); err != nil {
		return true
	}
	return !reflect.DeepEqual(&was, data)
}
