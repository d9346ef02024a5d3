// Package repository is the operator's view of a gormsession sessions
// table: create or upgrade it, delete expired sessions in batches, revoke
// a subject's sessions, and report statistics, all without the payload
// type, so tools such as the sessionctl command work on any table.
// Applications use package session; the statements themselves are shared
// with it.
package repository
