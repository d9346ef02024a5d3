package session_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
)

// openSQLite opens dsn with GORM's logger quiet and closes it with t.
func openSQLite(t *testing.T, dsn string) *gorm.DB {
	t.Helper()
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: testdb.Logger()})
	require.NoError(t, err)
	sqlDB, err := db.DB()
	require.NoError(t, err)
	t.Cleanup(func() { _ = sqlDB.Close() })
	return db
}

// hammer runs 8 goroutines of 50 Open/Save/Update cycles each on c and
// returns every error.
func hammer(t *testing.T, c *session.Container[Cart]) []error {
	t.Helper()
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			ctx := context.Background()
			for i := range 50 {
				s, err := c.Open(ctx, "")
				if err == nil {
					s.Data.Count = i
					err = c.Save(ctx, s)
				}
				if err == nil {
					_, err = c.Update(ctx, s.Token(), func(c *Cart) error { c.Count++; return nil })
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return errs
}

// TestSQLiteInMemoryIdioms: the in-memory DSNs GORM users write in their
// own tests either work under concurrency or are refused by New with an
// error that says what to use instead.
func TestSQLiteInMemoryIdioms(t *testing.T) {
	t.Parallel()
	t.Run("private memory is refused", func(t *testing.T) {
		t.Parallel()
		_, err := session.New[Cart](openSQLite(t, ":memory:"), session.WithCleanupFrequency(0))
		require.Error(t, err)
		require.Contains(t, err.Error(), "SetMaxOpenConns(1)")
		_, err = session.New[Cart](openSQLite(t, "file::memory:"), session.WithCleanupFrequency(0))
		require.Error(t, err)
	})
	t.Run("private memory on one connection works", func(t *testing.T) {
		t.Parallel()
		db := openSQLite(t, ":memory:")
		sqlDB, _ := db.DB()
		sqlDB.SetMaxOpenConns(1)
		c, err := session.New[Cart](db, session.WithCleanupFrequency(0))
		require.NoError(t, err)
		require.Empty(t, hammer(t, c))
	})
	for i, dsn := range []string{
		"file::memory:?cache=shared", // one database for the whole process
		"file:memdb_%s?mode=memory&cache=shared",
		"file:memdb_%s?mode=memory&cache=shared&_busy_timeout=10000",
	} {
		t.Run(fmt.Sprintf("shared cache %d", i), func(t *testing.T) {
			t.Parallel()
			name := fmt.Sprintf("%x", rand.Uint64())
			if i > 0 {
				dsn = fmt.Sprintf(dsn, name)
			}
			db := openSQLite(t, dsn)
			c, err := session.New[Cart](db, session.WithCleanupFrequency(0), session.WithTable("t_"+name))
			require.NoError(t, err)
			errs := hammer(t, c)
			require.Empty(t, errs, "%d of 400 cycles failed, first: %v", len(errs), errs)
		})
	}
}

// TestSQLiteWithoutRecommendedSettingsWarns: New logs one Warn line naming
// the DSN parameters a SQLite handle lacks, and nothing for the
// recommended DSN.
func TestSQLiteWithoutRecommendedSettingsWarns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, dsn, want string
	}{
		// The driver's own busy timeout (5 s) counts: only the others are named.
		{"plain file", "file:%s", "_journal_mode=WAL&_txlock=immediate"},
		{"no busy timeout", "file:%s?_journal_mode=WAL&_busy_timeout=0&_txlock=immediate", "_busy_timeout=10000"},
		{"no txlock", "file:%s?_journal_mode=WAL&_busy_timeout=5000", "_txlock=immediate"},
		{"recommended", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "app.db")
			dsn := testdb.SQLiteDSN(path)
			if tc.dsn != "" {
				dsn = fmt.Sprintf(tc.dsn, path)
			}
			var buf bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&buf, nil))
			c, err := session.New[Cart](openSQLite(t, dsn), session.WithCleanupFrequency(0), session.WithLogger(logger))
			require.NoError(t, err)
			require.NoError(t, c.Close())
			if tc.want == "" {
				require.Empty(t, buf.String())
				return
			}
			require.Contains(t, buf.String(), "level=WARN")
			require.Contains(t, buf.String(), `set="`+tc.want+`"`)
			require.NotContains(t, buf.String(), path, "the DSN is never logged")
		})
	}
}

// TestNoGaleraWarningOffGalera: New says nothing about Galera on a MySQL or
// MariaDB server that is not a Galera node (the warning itself is tested
// against a real cluster in the scale-out tests).
func TestNoGaleraWarningOffGalera(t *testing.T) {
	t.Parallel()
	db := testdb.Open(t, testdb.MySQL, nil)
	var buf bytes.Buffer
	c, err := session.New[Cart](db, session.WithTable(testdb.Table(t, db)), session.WithCleanupFrequency(0),
		session.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.NotContains(t, buf.String(), "Galera")
}
