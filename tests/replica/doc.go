// Package replica tests gormsession against PostgreSQL replication, on
// private servers that the tests start themselves (package
// internal/faulttest): a primary with a lagging asynchronous streaming
// replica behind GORM's read/write-splitting plugin (gorm.io/plugin/dbresolver),
// where a session must never be read from the replica, and a primary with a
// synchronous standby that is promoted after the primary crashes, where no
// acknowledged session may be lost and the same connection pool must find
// the new primary by itself.
//
// It is a module of its own so that the library's go.mod does not list
// dbresolver. The tests are skipped when the PostgreSQL server binaries
// are missing, unless GORMSESSION_TEST_REQUIRE contains "pgfault".
package replica
