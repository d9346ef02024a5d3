package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gormsession/gormsession/internal/redact"
	"github.com/gormsession/gormsession/internal/store"
)

// Errors returned by the Container. Each is returned wrapped with the
// package and the operation, so it reads once ("session: save: conflict"),
// and matches with errors.Is through every wrap.
var (
	// ErrNotFound: Load, Update or Exists-style lookups found no live
	// session for the token (malformed, never issued, destroyed, renewed
	// away, or expired); Save or Renew found the row destroyed or expired
	// since it was loaded. A destroyed session is never re-created.
	ErrNotFound = errors.New("not found")

	// ErrConflict: Save or Renew lost a race, because another save of the
	// same session landed after this copy was loaded. Load again, reapply
	// the change and save, or use Update, which does that for you.
	ErrConflict = errors.New("conflict")

	// ErrTooLarge: the encoded payload is larger than WithMaxPayloadSize, or
	// the subject is longer than 255 bytes. Nothing was written.
	ErrTooLarge = errors.New("too large")

	// ErrCorrupt: the stored payload could not be decoded into T (tampered,
	// sealed with an unknown key, or written for an incompatible type).
	// Load and Update return it; Open treats such a row as unknown and
	// starts a fresh session. The row is left as it is.
	ErrCorrupt = errors.New("stored payload cannot be decoded")

	// ErrInvalidSubject: a subject that is not valid UTF-8 or holds a NUL
	// byte (Save, Renew, and the lookups by subject), or an empty subject
	// given to DestroySubject or List, where it
	// would match every anonymous session. Nothing reached the database.
	ErrInvalidSubject = errors.New("invalid subject")

	// ErrUnavailable: the database could not be reached or cannot take
	// statements right now (it refused or broke the connection, is
	// restarting, failing over or read-only, or has too many connections).
	// It is not the application's fault: answer "try again later" (HTTP
	// 503). Reads and statements that never reached the server were
	// already retried briefly. The outcome of a write that failed this way
	// is unknown: it may have been applied (a Save retried after it may
	// then report ErrConflict). The error also matches the driver's error.
	ErrUnavailable = errors.New("database unavailable")

	// ErrRenewRequired: Save refused a stored session whose subject changed,
	// or whose Renew failed, because it would store the change under a
	// token that existed before it (session fixation). Store it with Renew,
	// or end it with Destroy. Nothing was written.
	ErrRenewRequired = errors.New("renew required")
)

// checkSubject validates a subject before it reaches SQL: PostgreSQL
// refuses NUL bytes and invalid UTF-8 (with a message that quotes the
// bytes), MySQL refuses invalid UTF-8, and SQLite stores either; one rule
// keeps the three alike. An empty subject is valid only where allowEmpty.
func checkSubject(subject string, allowEmpty bool) error {
	switch {
	case subject == "" && !allowEmpty:
		return fmt.Errorf("empty: %w", ErrInvalidSubject)
	case !utf8.ValidString(subject):
		return fmt.Errorf("not valid UTF-8: %w", ErrInvalidSubject)
	case strings.IndexByte(subject, 0) >= 0:
		return fmt.Errorf("holds a NUL byte: %w", ErrInvalidSubject)
	}
	return nil
}

// dbError wraps a failure reported by the database. Its message names the
// operation and the database's message with anything shaped like a token or
// a stored id removed; the original error is still reachable through
// errors.As and errors.Is, as is the context's error when the context ended.
type dbError struct {
	op  string
	err error
	ctx error // the context's error when it had ended, or ErrUnavailable
}

func (e *dbError) Error() string {
	return "session: " + e.op + ": " + redact.Secrets(e.err.Error())
}

func (e *dbError) Unwrap() []error {
	if e.ctx != nil {
		return []error{e.err, e.ctx}
	}
	return []error{e.err}
}

func dbErr(ctx context.Context, op string, err error) error {
	e := &dbError{op: op, err: err, ctx: ctx.Err()}
	if e.ctx == nil && store.Unavailable(err) {
		e.ctx = ErrUnavailable
	}
	return e
}
