package store

import (
	"context"
	"strings"
)

// Blind runs the statements of a store that cannot name a version: one
// whose caller (an adapter for another session library, such as scs)
// writes a session's whole data with no knowledge of what it read. It
// shares the table, its migration and its cleanup with the Store it was
// made from.
//
// Blind rows are ordinary rows with an empty subject, whose version
// counts the writes from 1 up. A deleted session is kept as a tombstone
// until it expires: a row with version 0 (a value no other writer uses),
// an empty payload and an empty subject. Tombstones are never loaded, and
// a blind write never overwrites one, so a writer that read a session
// before it was deleted cannot bring it back. Cleanup removes a tombstone
// like any row once its expires_at has passed.
//
// A Blind is immutable and safe for concurrent use.
type Blind struct {
	st                *Store
	find, write, tomb string
}

// NewBlind returns the blind statements of st's table.
func NewBlind(st *Store) *Blind {
	d := st.dialect
	f := strings.NewReplacer("{t}", d.quote(st.table), "{cols}", firstColumns).Replace
	b := &Blind{st: st,
		find: f("SELECT payload FROM {t} WHERE id = ? AND expires_at > ? AND version > 0"),
	}
	switch d {
	case MySQL:
		// ON DUPLICATE KEY UPDATE has no WHERE: every assignment keeps the
		// stored value on a tombstone. MySQL applies the assignments left
		// to right, each seeing the ones before, so version (the test) is
		// assigned last, and created_at (which tests expires_at) first.
		// The arguments are repeated rather than read back with VALUES(),
		// which MySQL 8.0.20 deprecated.
		b.write = f("INSERT INTO {t} ({cols}) VALUES (?, '', ?, 1, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE " +
			"created_at = IF(version > 0 AND expires_at <= ?, ?, created_at), " +
			"payload = IF(version > 0, ?, payload), " +
			"updated_at = IF(version > 0, ?, updated_at), " +
			"deadline = IF(version > 0, ?, deadline), " +
			"expires_at = IF(version > 0, ?, expires_at), " +
			"version = IF(version > 0, version + 1, 0)")
		b.tomb = f("INSERT INTO {t} ({cols}) VALUES (?, '', ?, 0, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE " +
			"subject = '', payload = ?, version = 0, updated_at = ?, " +
			"deadline = GREATEST(deadline, ?), expires_at = GREATEST(expires_at, ?)")
	default:
		// PostgreSQL and SQLite (3.24+) share the upsert syntax; only the
		// two-argument maximum is spelt differently.
		greatest := "GREATEST"
		if d == SQLite {
			greatest = "MAX"
		}
		b.write = f("INSERT INTO {t} AS s ({cols}) VALUES (?, '', ?, 1, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET " +
			"created_at = CASE WHEN s.expires_at <= excluded.updated_at THEN excluded.created_at ELSE s.created_at END, " +
			"payload = excluded.payload, version = s.version + 1, updated_at = excluded.updated_at, " +
			"deadline = excluded.deadline, expires_at = excluded.expires_at WHERE s.version > 0")
		b.tomb = f("INSERT INTO {t} AS s ({cols}) VALUES (?, '', ?, 0, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET " +
			"subject = '', payload = excluded.payload, version = 0, updated_at = excluded.updated_at, " +
			"deadline = " + greatest + "(s.deadline, excluded.deadline), " +
			"expires_at = " + greatest + "(s.expires_at, excluded.expires_at)")
	}
	for _, q := range []*string{&b.find, &b.write, &b.tomb} {
		*q = bindVars(d, *q)
	}
	return b
}

// Find returns the payload of the row with id if it is live at now and not
// a tombstone; found is false otherwise, which is not an error.
func (b *Blind) Find(ctx context.Context, id string, now int64) (payload []byte, found bool, err error) {
	found, err = b.st.queryBound(ctx, b.find, []any{id, now}, &payload)
	if !found {
		payload = nil
	}
	return payload, found, err
}

// Write stores payload under id with expiresAt as both its deadline and
// its expires_at, in one statement: it inserts a row with version 1 when
// there is none, overwrites the row and bumps its version when there is one
// that is not a tombstone (a row that had expired counts as new, so its
// created_at becomes now), and changes nothing when the row is a tombstone.
// It reports whether it stored the payload, false meaning it met a
// tombstone (on MySQL, also when the row already held exactly these
// values, which the caller cannot tell apart and need not).
func (b *Blind) Write(ctx context.Context, id string, payload []byte, expiresAt, now int64) (bool, error) {
	payload = nonNil(payload)
	vars := []any{id, payload, now, now, expiresAt, expiresAt}
	if b.st.dialect == MySQL {
		vars = append(vars, now, now, payload, now, expiresAt, expiresAt)
	}
	n, err := b.st.execBound(ctx, b.write, vars...)
	return n > 0, err
}

// Tombstone turns the row with id into a tombstone, or inserts one when
// there is no row, in one statement. The tombstone expires at the later of
// the row's expires_at and until; its deadline likewise.
func (b *Blind) Tombstone(ctx context.Context, id string, now, until int64) error {
	empty := []byte{}
	vars := []any{id, empty, now, now, until, until}
	if b.st.dialect == MySQL {
		vars = append(vars, empty, now, until, until)
	}
	_, err := b.st.execBound(ctx, b.tomb, vars...)
	return err
}
