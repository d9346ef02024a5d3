// Package repository holds every SQL statement gormsession runs against its
// sessions table: migrate, insert, load, exists, versioned update, rekey,
// touch, delete (by id, by subject, all), batched cleanup per dialect, stats
// and the time shift used by tests.
//
// It works on model.SessionRow values whose payload is already-encoded bytes,
// so tools such as the sessionctl command need no payload type. All writes are
// single statements; nothing here reads and then writes.
//
// A Repository is bound to one *gorm.DB (the root pool or a transaction) and
// one table. It is immutable and safe for concurrent use; WithDB returns a
// copy bound to another *gorm.DB.
//
// Statements are built once per table and dialect, run through GORM's
// callback chain (so plugins such as the random-cleanup hook see them), and
// carry the table name on queries so that a plugin can tell its own table's
// statements from others.
package repository
