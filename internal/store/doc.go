// Package store holds every SQL statement gormsession runs against its
// sessions table: migrate, insert, load, exists, versioned update, rekey,
// touch, delete (by id, by subject, all), batched cleanup per dialect and
// the time shift used by tests. Package session builds on it, and package
// repository exposes what operators need.
//
// It works on model.SessionRow values whose payload is already-encoded
// bytes. All writes are single statements; nothing here reads and then
// writes.
//
// A Store is bound to one *gorm.DB (the root pool or a transaction) and one
// table. It is immutable and safe for concurrent use; WithDB returns a copy
// bound to another *gorm.DB.
//
// Every statement runs through GORM's Raw on a copy of the bound handle's
// statement and through GORM's callback chain, so the caller's clauses,
// settings and plugins (the random-cleanup hook, a resolver, tracing) see
// it, and queries carry the table name so a plugin can tell its own
// table's statements from others.
package store
