// Package session keeps web sessions in a SQL table through GORM, with a
// payload of your own type.
//
// A Container[T] stores sessions whose Data is a T in one table; make one
// per table at start-up with New, share it, and Close it at shutdown:
//
//	carts, err := session.New[Cart](db)          // creates the table if needed
//	defer carts.Close()
//	s, err := carts.Open(ctx, tokenFromCookie)   // unknown, expired or empty token: a fresh session
//	s.Data.Items = append(s.Data.Items, "apple") // typed: no Get/Put, no type assertions
//	err = carts.Save(ctx, s)                     // a concurrent save surfaces as ErrConflict
//
// The contract, in short:
//
//   - Tokens are 32 random bytes, base64url (43 characters). The table holds
//     only their SHA-256, so a leaked table or backup gives no usable
//     session. A token the server did not issue is never adopted: Open makes
//     a fresh session instead, and loading never writes a row.
//   - Every stored session has a version. Save of a stale copy fails with
//     ErrConflict and changes nothing; a destroyed or expired session is
//     never re-created (ErrNotFound). Update loads, applies a function and
//     saves, again on a lost race.
//   - A stored session's subject (its owner, "user:42") changes only through
//     Renew, which moves it to a new token, so a token planted or seen
//     before a login is worthless after it.
//   - Sessions expire at an absolute deadline (WithLifetime) and, if set,
//     after inactivity (WithIdleTimeout); the idle refresh is throttled and
//     never rewrites the payload.
//   - Expired rows are deleted in bounded batches by Cleanup, or by a random
//     cleanup that about one query in 100 of the table starts in the
//     background, outside the caller's request and transaction (see
//     WithCleanupFrequency and package hooks).
//   - PostgreSQL, SQLite and MySQL/MariaDB behave alike. Times are stored as
//     Unix milliseconds; writes are single statements.
//   - No token, stored id or payload ever appears in an error or a log line.
//     Errors read once ("session: save: conflict") and match their sentinel
//     with errors.Is through every wrap.
//
// Package sessionhttp connects a Container to net/http; package sessiontest
// makes containers for tests; package repository serves operators' tools.
package session
