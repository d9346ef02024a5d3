package session

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gormsession/gormsession/internal/token"
	"github.com/gormsession/gormsession/model"
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
	// lifetime and idle are the session's own expiry in ms (0: the
	// container's), label its label; stored* are their values as loaded or
	// last saved, so that a change of any of them alone is saved.
	lifetime, idle             int64
	label                      string
	storedLifetime, storedIdle int64
	storedLabel                string
}

// Token returns the secret that identifies the session to its client, for
// the cookie. It is never stored as is: the table holds its SHA-256. It
// changes on Renew.
//
// A new session's token is made at the first call of Token or Handle, or
// when the session is first stored, so a visitor whose session is never
// stored costs no random bytes and no hash. (Copies of a new session
// made before then get tokens of their own.)
func (s *Session[T]) Token() string {
	s.mint()
	return s.token
}

// mint gives a new session its token and stored id, once.
func (s *Session[T]) mint() {
	if s.token == "" && s.isNew {
		s.token, s.id = token.New()
	}
}

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

// SetExpiry gives the session its own absolute lifetime and idle timeout,
// in place of the container's WithLifetime and WithIdleTimeout: a "remember
// me" login, say, or a short-lived session for a sensitive task. It is
// stored by the next Save or Renew.
//
// The lifetime counts from the session's creation, which Renew keeps, so
// no Renew ever moves the absolute deadline; a lifetime shorter than the
// session's age ends it at that Save. Each value is bounded by the
// container's WithMaxLifetime when saved; 0 (or a negative value) means
// the container's own setting. An idle timeout at least as long as the
// lifetime turns the idle timeout off for this session.
//
// A session with its own lifetime is a remembered one: package sessionhttp
// sends it a persistent cookie even where its cookie template asks for
// browser-session cookies (see sessionhttp.WithCookie).
func (s *Session[T]) SetExpiry(lifetime, idle time.Duration) {
	s.lifetime, s.idle = max(0, lifetime.Milliseconds()), max(0, idle.Milliseconds())
}

// Expiry returns the session's own lifetime and idle timeout, each 0 when
// it follows the container's. After a Save they are the bounded values
// stored.
func (s *Session[T]) Expiry() (lifetime, idle time.Duration) {
	return time.Duration(s.lifetime) * time.Millisecond, time.Duration(s.idle) * time.Millisecond
}

// SetLabel sets a short text the application chooses to tell its user's
// sessions apart on a "your sessions" page, such as "Firefox on Linux";
// Container.List returns it in Info.Label. It is stored by the next Save or
// Renew. The label is made safe to store and show rather than refused,
// because it often comes from the client (a User-Agent header): invalid
// UTF-8 and control characters become U+FFFD and spaces, and it is cut at
// a character boundary to at most 100 bytes. Do not put secrets in it: it
// is stored in clear and shown to operators.
func (s *Session[T]) SetLabel(label string) { s.label = cleanLabel(label) }

// Label returns the session's label, "" if none.
func (s *Session[T]) Label() string { return s.label }

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
func (s *Session[T]) Handle() string {
	s.mint()
	return handleOf(s.id)
}

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
	// Label is the session's label (see Session.SetLabel), "" if none.
	Label string
	// Remembered reports whether the session has its own lifetime (see
	// Session.SetExpiry).
	Remembered bool
}

// cleanLabel makes label valid UTF-8 without control characters, at most
// model.LabelMaxLength bytes long, cut at a character boundary.
func cleanLabel(label string) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(label, "\uFFFD") {
		if unicode.IsControl(r) {
			r = ' '
		}
		if b.Len()+utf8.RuneLen(r) > model.LabelMaxLength {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
