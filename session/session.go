package session

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Session is one session: the typed payload Data plus what the store keeps
// about it. Change Data (and the subject), then pass the session to
// Container.Save. A Session is a value owned by one request: it is not safe
// for concurrent use, and two copies of one stored session are reconciled
// by versioning (the later Save of a stale copy fails with ErrConflict).
type Session[T any] struct {
	// Data is the typed payload. A fresh session holds T's zero value.
	Data T

	token     string
	id        string // hex SHA-256 of token: the stored primary key
	subject   string
	createdAt int64 // Unix ms
	updatedAt int64
	deadline  int64
	expiresAt int64
	version   int64 // version loaded or last saved; 0 when new
	isNew     bool
	destroyed bool
	// refreshed: loading it moved the stored idle deadline.
	refreshed bool
	// renewFailed: a Renew of it failed, so only a Renew may store it now.
	renewFailed bool
	// plain is the inner (unsealed) encoding of Data as loaded or last
	// saved, and storedSubject the subject then; Changed compares with both.
	plain         []byte
	storedSubject string
}

// Token returns the secret that identifies the session to its client, for
// the cookie. It is never stored as is: the table holds its SHA-256. It
// changes on Renew.
func (s *Session[T]) Token() string { return s.token }

// IsNew reports whether the session has not been stored yet: Open made it
// because the token was empty, malformed, unknown, expired or undecodable.
func (s *Session[T]) IsNew() bool { return s.isNew }

// Subject returns the owner key set with SetSubject, "" if none.
func (s *Session[T]) Subject() string { return s.subject }

// SetSubject sets the owner key, for example "user:42", that
// Container.DestroySubject and Container.List look sessions up by: at most
// 255 bytes of valid UTF-8 without NUL, or Save fails with ErrTooLarge or
// ErrInvalidSubject. "" makes the session anonymous again. A new session
// stores it on Save; a stored session's subject changes only through
// Renew, which moves the session to a new token (Save returns
// ErrRenewRequired), so a token that existed before a login never carries
// the user who logged in.
func (s *Session[T]) SetSubject(subject string) { s.subject = subject }

// CreatedAt returns when the session was first stored (for a new session,
// when it was made).
func (s *Session[T]) CreatedAt() time.Time { return time.UnixMilli(s.createdAt) }

// ExpiresAt returns when the session expires unless it is active again:
// the earlier of its absolute deadline and its idle deadline. For a new
// session it is provisional until Save.
func (s *Session[T]) ExpiresAt() time.Time { return time.UnixMilli(s.expiresAt) }

// Handle returns a short, stable reference to this session that is safe to
// show to its owner and to put in a form (see Info.Handle and
// Container.DestroyOthers). It cannot be turned back into the token or the
// stored id. It changes on Renew.
func (s *Session[T]) Handle() string { return handleOf(s.id) }

func handleOf(id string) string {
	sum := sha256.Sum256([]byte("gormsession:handle:" + id))
	return hex.EncodeToString(sum[:8])
}

// Info describes one stored session without its payload, as List returns.
type Info struct {
	// Handle identifies the session to DestroyOthers; see Session.Handle.
	Handle    string
	Subject   string
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
}
