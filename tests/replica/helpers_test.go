package replica

import (
	"testing"

	"github.com/stretchr/testify/require"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/internal/testdb"
)

// Cart is the sessions' payload.
type Cart struct {
	Items []string `json:"items,omitempty"`
	N     int      `json:"n"`
}

// open opens dsn with the pgx-based PostgreSQL driver; the pool is closed
// when t ends, after any random cleanup running on it has finished.
func open(t *testing.T, dsn string, maxOpen int) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(postgres.Open(dsn), &gorm.Config{Logger: testdb.Logger()})
	require.NoError(t, err)
	sqlDB, err := db.DB()
	require.NoError(t, err)
	sqlDB.SetMaxOpenConns(maxOpen)
	t.Cleanup(func() {
		hooks.Of(db).Wait()
		_ = sqlDB.Close()
	})
	return db
}
