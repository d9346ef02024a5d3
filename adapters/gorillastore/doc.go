// Package gorillastore keeps github.com/gorilla/sessions sessions in a
// gormsession table, so that applications written against gorilla/sessions,
// gin-contrib/sessions (through package ginstore) or echo-contrib/session
// change their storage without changing a handler.
//
//	c, err := session.New[[]byte](db, session.WithTable("web_sessions"), session.WithCodec(codec.Gob{}))
//	defer c.Close()
//	store, err := gorillastore.New(c)
//
//	// in a handler, exactly as with any gorilla store:
//	s, _ := store.Get(r, "session")
//	s.Values["user"] = 42
//	err = s.Save(r, w) // errors.Is(err, session.ErrConflict) when another request saved it first
//
// It replaces wader/gormstore, gin-contrib/sessions' GORM backend, which
// writes a save whose row is gone as a new row (so a request that was
// already running when the user logged out signs them back in) and does not
// notice two requests overwriting each other.
//
// # What carries over from gormsession
//
//   - Hashed tokens. The cookie holds the session's token (256 random bits);
//     the table holds only its SHA-256, so a leaked table or backup resumes
//     no session. That is why there are no securecookie keys: a signature
//     would add nothing to a random token the server looks up, and there is
//     no key to rotate or leak. A token the server did not issue is never
//     adopted.
//   - No resurrection. Saves are versioned single statements and a save
//     never inserts a stored session again: once a session is destroyed
//     (Options.MaxAge < 0, Container.DestroySubject) or has expired, a late
//     save of a copy loaded before fails with session.ErrNotFound.
//   - Conflict detection. gorilla's Save carries the *sessions.Session, and
//     the store keeps the gormsession session it was loaded as alongside it
//     (keyed weakly, outside Values, so nothing is added to your data and
//     nothing leaks when a session is never saved). A save of a copy that
//     another request saved meanwhile fails with session.ErrConflict and
//     changes nothing. Match it with errors.Is, load again and redo the
//     change. A save that changed nothing writes nothing, so the common
//     "save at the end of every handler" never conflicts and costs no write.
//   - Expiry in the database: the container's absolute lifetime and idle
//     timeout (session.WithLifetime, session.WithIdleTimeout) hold whatever
//     the cookie says, and expired rows are deleted by the random cleanup or
//     Container.Cleanup.
//   - Token renewal and owners: Store.Renew rotates the token at sign-in
//     (gorilla has no such call), Store.SetSubject names the owner, and
//     Container.DestroySubject logs a user out everywhere.
//   - Operations: the table is an ordinary gormsession table, so sessionctl
//     (stats, cleanup, revoke, migrate) and session.WithEncryption work on it.
//
// # What does not
//
//   - Typed payloads. Values is gorilla's map[interface{}]interface{},
//     stored with encoding/gob: register every type you put in it with
//     gob.Register before the first request, as gorilla's own stores require.
//     Values that cannot be decoded any more (a type renamed or no longer
//     registered) give a fresh session and an error matching
//     session.ErrCorrupt.
//   - Automatic retries. Container.Update and sessionhttp's re-applied
//     changes have no gorilla counterpart: a conflict is reported to the
//     handler, never resolved for it.
//   - The cookie's lifetime is what Options.MaxAge says, as in gorilla; it is
//     not kept in step with the session's expiry, and the session's lifetime
//     is the container's, not MaxAge. A cookie that outlives its session
//     brings a fresh session, never an error.
//
// # Cookies
//
// The cookie is named after the session and carries the token as its
// value. Its attributes come from the session's sessions.Options: Path,
// Domain, MaxAge (0: a browser-session cookie; > 0: seconds; < 0: delete the
// session), Secure, HttpOnly, Partitioned and SameSite. The defaults are
// DefaultOptions: Path "/", HttpOnly, Secure, SameSite=Lax, MaxAge 0.
package gorillastore
