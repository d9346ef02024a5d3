package session

import (
	"context"
	"errors"
	"regexp"
)

// Errors returned by the Container. Each is wrapped with the operation
// ("session: save: ...") and matches with errors.Is through every wrap.
var (
	// ErrNotFound: Load, Update or Exists-style lookups found no live
	// session for the token (malformed, never issued, destroyed, renewed
	// away, or expired); Save or Renew found the row destroyed or expired
	// since it was loaded. A destroyed session is never re-created.
	ErrNotFound = errors.New("session: not found")

	// ErrConflict: Save or Renew lost a race, because another save of the
	// same session landed after this copy was loaded. Load again, reapply
	// the change and save, or use Update, which does that for you.
	ErrConflict = errors.New("session: conflict: saved concurrently")

	// ErrTooLarge: the encoded payload is larger than WithMaxPayloadSize, or
	// the subject is longer than 255 bytes. Nothing was written.
	ErrTooLarge = errors.New("session: payload too large")

	// ErrCorrupt: the stored payload could not be decoded into T (tampered,
	// sealed with an unknown key, or written for an incompatible type).
	// Load and Update return it; Open treats such a row as unknown and
	// starts a fresh session. The row is left as it is.
	ErrCorrupt = errors.New("session: stored payload cannot be decoded")

	// ErrEmptySubject: DestroySubject, DestroyOthers or List was given "",
	// which would match every anonymous session.
	ErrEmptySubject = errors.New("session: empty subject")
)

// dbError wraps a failure reported by the database. Its message names the
// operation and the database's message with anything shaped like a token or
// a stored id removed; the original error is still reachable through
// errors.As and errors.Is, as is the context's error when the context ended.
type dbError struct {
	op  string
	err error
	ctx error
}

func (e *dbError) Error() string {
	return "session: " + e.op + ": " + redact(e.err.Error())
}

func (e *dbError) Unwrap() []error {
	if e.ctx != nil {
		return []error{e.err, e.ctx}
	}
	return []error{e.err}
}

func dbErr(ctx context.Context, op string, err error) error {
	return &dbError{op: op, err: err, ctx: ctx.Err()}
}

// Stored ids are 64 hex digits; tokens are 43 base64url characters. Drivers
// quote key values in some messages (MySQL's duplicate-entry error, for one).
var secretShaped = regexp.MustCompile(`[0-9a-fA-F]{64}|[A-Za-z0-9_-]{43}`)

func redact(msg string) string {
	return secretShaped.ReplaceAllString(msg, "[redacted]")
}
