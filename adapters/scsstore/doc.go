// Package scsstore is a session store for github.com/alexedwards/scs/v2
// that keeps an scs SessionManager's sessions in a gormsession table
// through GORM, on PostgreSQL, SQLite or MySQL/MariaDB. It implements
// scs.Store and scs.CtxStore; set it as the manager's Store and keep the
// rest of the application as it is:
//
//	store, err := scsstore.New(db) // creates the table "scs_sessions"
//	if err != nil { ... }
//	defer store.Close() // stops the background cleanup
//	sessionManager := scs.New()
//	sessionManager.Store = store
//
// # What carries over from gormsession, and what does not
//
// Carried over:
//
//   - Hashed tokens at rest. A row's id is the lowercase hex SHA-256 of the
//     scs token; the token itself is stored nowhere, so a copy of the table
//     gives no one a session. (scs's HashTokenInStore is not needed; with
//     it the hash is hashed again, which is harmless.)
//   - No resurrection after Destroy or RenewToken. scs deletes the old
//     token when the application calls Destroy or RenewToken, but another
//     request that loaded the session earlier still commits it when it ends,
//     and most scs stores then insert it again: the user who logged out is
//     logged back in. Here Delete leaves a tombstone and a Commit never
//     overwrites one (Store.DeleteCtx states the exact guarantee).
//   - The table format of package model, made by the same migration as
//     session.New, so operators' tools work on it: sessionctl migrate,
//     cleanup and stats (which counts tombstones as live rows until they
//     expire), package repository.
//   - Expiry kept in the database: the expiry scs passes to Commit is the
//     row's expires_at in Unix milliseconds, Find never returns an expired
//     row, and cleanup deletes expired rows in bounded batches.
//
// Not carried over:
//
//   - Conflict detection. scs's Commit carries no version of what the
//     request read, so a conflict cannot be detected through it: of two
//     requests that change one session at once, the last commit wins, as
//     with every scs store. Use package session directly where lost updates
//     matter.
//   - Typed payloads: the payload is scs's encoding of its map of values.
//   - Subjects, and so "log out everywhere" (DestroySubject) and per-user
//     session lists: scs data has no owner key, and rows are stored with an
//     empty subject.
//   - scs.IterableStore (All): it must return the tokens of all sessions,
//     and the table holds only their hashes. This store does not implement
//     it; scs's Iterate panics on a store without it.
//
// # Tokens
//
// Any token of 1 to 256 bytes is accepted; scs makes 43-character
// base64url tokens. A token never reaches SQL, an error or a log line; only
// its hash is stored. Find reports a token outside those bounds as not
// found and Delete ignores it, as scs's Store contract asks for tampered
// and malformed tokens (scs calls Delete with an empty token to destroy a
// session that was never saved); Commit refuses it with ErrInvalidToken.
//
// # Table and cleanup
//
// New creates the table (default "scs_sessions") unless
// WithoutAutoMigrate is given, and starts a goroutine that deletes expired
// sessions and tombstones every five minutes (WithCleanupInterval; 0
// disables it) until Close. Do not point it at a table that an scs SQL
// store made: that table has other columns.
package scsstore
