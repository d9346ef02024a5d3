package sessiontest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/session"
)

// New returns a session container for payloads of type T, for the test t,
// in one call. It is NewOn on a database from Open(t): a new SQLite file of
// the test's own, or the database GORMSESSION_TEST_DSN names. When t ends,
// the container is closed, its table dropped and the database closed.
//
// A failure (a bad option, a database that cannot be opened, a failed
// migration) fails t with t.Fatalf and a message that names what failed, so
// call New from the test's goroutine.
func New[T any](t testing.TB, opts ...session.Option) *session.Container[T] {
	t.Helper()
	return NewOn[T](t, Open(t), opts...)
}

// NewOn is New on db, a database the test already uses: for code under
// test that needs the sessions and its own tables in the same database, in
// one transaction (Container.WithTx) for instance. db stays the caller's:
// NewOn never closes it, and it must stay open until t's cleanups have run
// (a db from Open(t), called before NewOn, is closed after them).
//
// The container has a table of its own, named "t_" and 12 random hex
// digits, so containers of parallel tests on one database never see each
// other's sessions. Its random cleanup is off: WithCleanupFrequency(0)
// comes before opts, and a later option wins, so opts can turn it on (then
// hooks.Of(db).Wait() waits for a cleanup that has started). opts go to
// session.New unchanged; a WithTable among them replaces the table name,
// and that table is then the caller's to drop.
//
// When t ends, the container is closed (no random cleanup starts any more,
// and a running one is cancelled and waited for) and the table is dropped;
// a failure to drop it is reported with t.Errorf. Any failure of NewOn
// itself fails t with t.Fatalf and a message that names what failed.
func NewOn[T any](t testing.TB, db *gorm.DB, opts ...session.Option) *session.Container[T] {
	t.Helper()
	if db == nil {
		t.Fatalf("sessiontest: NewOn: nil *gorm.DB")
	}
	table := "t_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:12]
	all := append([]session.Option{session.WithTable(table), session.WithCleanupFrequency(0)}, opts...)
	// The drop is registered first so that it runs last, after Close, and
	// also when New fails halfway through its migration.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := db.WithContext(ctx).Migrator().DropTable(table); err != nil {
			t.Errorf("sessiontest: drop table %s: %v", table, err)
		}
	})
	c, err := session.New[T](db, all...)
	if err != nil {
		t.Fatalf("sessiontest: session.New on table %s: %v", table, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
