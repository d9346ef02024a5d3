package session_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/model"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessiontest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, testdb.LeakOptions...)
}

// Cart is the payload most tests store.
type Cart struct {
	Items []string `json:"items"`
	Count int      `json:"count"`
}

// newClock returns a clock for sessiontest.WithClock at a fixed date.
func newClock() *sessiontest.Clock {
	return sessiontest.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
}

// env is what most tests need: a container on its own table.
type env struct {
	db    *gorm.DB
	table string
	c     *session.Container[Cart]
}

// setup returns a container of Carts on a fresh table of db. The random
// cleanup is off unless opts turn it on; running cleanups are waited for
// when the test ends.
func setup(t *testing.T, db *gorm.DB, opts ...session.Option) env {
	t.Helper()
	table := testdb.Table(t, db)
	opts = append([]session.Option{session.WithTable(table), session.WithCleanupFrequency(0)}, opts...)
	c, err := session.New[Cart](db, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { hooks.Of(db).Wait() })
	return env{db: db, table: table, c: c}
}

// rows returns every row of the table as stored.
func (e env) rows(t *testing.T) []model.SessionRow {
	t.Helper()
	var out []model.SessionRow
	require.NoError(t, e.db.Table(e.table).Order("id").Find(&out).Error)
	return out
}

func (e env) count(t *testing.T) int64 {
	t.Helper()
	var n int64
	require.NoError(t, e.db.Table(e.table).Count(&n).Error)
	return n
}

// idOf computes the stored id of a token the way the documentation says:
// hex SHA-256 of the 32 decoded bytes.
func idOf(t *testing.T, tok string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	require.NoError(t, err)
	require.Len(t, raw, 32)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}
