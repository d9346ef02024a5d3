package session_test

import (
	"testing"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// load returns the size of a load test's workload: full normally, short
// under -short (the CI secrets step). The loads are fixed: these tests
// assert correctness, and the figures of docs/reliability.md come from
// the same workloads at their measured sizes in bench/cmd/reliability.
func load(full, short int) int {
	if testing.Short() {
		return short
	}
	return full
}

// silent returns db with a discarding logger, for the test's own raw SQL
// that names ids or payloads: those statements are the test's, not the
// library's, and must not reach a captured log.
func silent(db *gorm.DB) *gorm.DB {
	return db.Session(&gorm.Session{Logger: logger.Discard})
}
