package repository_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/model"
	"github.com/gormsession/gormsession/repository"
)

// statsRepo returns a repository on a fresh, migrated table, and the
// table's name.
func statsRepo(t *testing.T, db *gorm.DB) (*repository.Repository, string) {
	t.Helper()
	table := testdb.Table(t, db)
	repo, err := repository.New(db, table)
	require.NoError(t, err)
	require.NoError(t, repo.Migrate(context.Background()))
	return repo, table
}

// insertRow stores row in table with GORM: the repository has no Insert.
func insertRow(db *gorm.DB, table string, row model.SessionRow) error {
	return db.WithContext(context.Background()).Table(table).Create(&row).Error
}

// statsInsert stores a row with the given subject, creation time and expiry.
func statsInsert(t *testing.T, db *gorm.DB, table string, n int, subject string, created, expires int64) {
	t.Helper()
	row := model.SessionRow{
		ID:        fmt.Sprintf("%064x", n),
		Subject:   subject,
		Payload:   []byte("{}"),
		Version:   1,
		CreatedAt: created,
		UpdatedAt: created,
		Deadline:  expires,
		ExpiresAt: expires,
	}
	require.NoError(t, insertRow(db, table, row))
}

func TestStats(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		repo, table := statsRepo(t, db)
		const now = int64(1_800_000_000_000)

		empty, err := repo.Stats(ctx, time.UnixMilli(now), 5)
		require.NoError(t, err)
		require.Equal(t, int64(0), empty.Total)
		require.Equal(t, int64(0), empty.OldestCreated)
		require.Equal(t, int64(0), empty.NewestCreated)
		require.Empty(t, empty.TopSubjects)

		// Live: user:a x3, user:b x2, user:c x1, anonymous x2.
		// Expired: user:a x1, user:z x4 (never counted among the top), anonymous x1.
		i := 0
		add := func(subject string, created, expires int64) {
			i++
			statsInsert(t, db, table, i, subject, created, expires)
		}
		for range 3 {
			add("user:a", now-1000, now+1000)
		}
		add("user:b", now-5000, now+1)
		add("user:b", now-2000, now+1000)
		add("user:c", now-100, now+1000)
		add("", now-3000, now+1000)
		add("", now-50, now+1000)
		add("user:a", now-9000, now-1)
		for range 4 {
			add("user:z", now-4000, now)
		}
		add("", now-8000, now-5000)

		s, err := repo.Stats(ctx, time.UnixMilli(now), 2)
		require.NoError(t, err)
		require.Equal(t, int64(14), s.Total)
		require.Equal(t, int64(8), s.Live)
		require.Equal(t, int64(6), s.Expired)
		require.Equal(t, int64(2), s.Anonymous)
		require.Equal(t, int64(3), s.Subjects)
		require.Equal(t, now-9000, s.OldestCreated)
		require.Equal(t, now-50, s.NewestCreated)
		require.Equal(t, []repository.SubjectCount{{Subject: "user:a", Live: 3}, {Subject: "user:b", Live: 2}}, s.TopSubjects)
		require.NotEmpty(t, s.SizeScope)
		require.Equal(t, -1, s.GaleraSyncWait, "not a Galera node")
		require.Positive(t, s.Size)

		none, err := repo.Stats(ctx, time.UnixMilli(now), 0)
		require.NoError(t, err)
		require.Empty(t, none.TopSubjects)

		// A cleanup deletes exactly what Stats counted as expired.
		deleted, err := repo.Cleanup(ctx, time.UnixMilli(now), repository.CleanupOptions{})
		require.NoError(t, err)
		require.Equal(t, s.Expired, deleted, "Stats and Cleanup agree on what is expired")
		after, err := repo.Stats(ctx, time.UnixMilli(now), 0)
		require.NoError(t, err)
		require.Equal(t, s.Live, after.Total)
		require.Zero(t, after.Expired)
	})
}

func TestStatsTopSubjectsTies(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		repo, table := statsRepo(t, db)
		const now = int64(1_800_000_000_000)
		statsInsert(t, db, table, 1, "b", now, now+10)
		statsInsert(t, db, table, 2, "a", now, now+10)
		statsInsert(t, db, table, 3, "c", now, now+10)
		s, err := repo.Stats(ctx, time.UnixMilli(now), 10)
		require.NoError(t, err)
		require.Equal(t, []repository.SubjectCount{{Subject: "a", Live: 1}, {Subject: "b", Live: 1}, {Subject: "c", Live: 1}}, s.TopSubjects)
	})
}

func TestTableExists(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		repo, err := repository.New(db, testdb.Table(t, db))
		require.NoError(t, err)
		ok, err := repo.TableExists(ctx)
		require.NoError(t, err)
		require.False(t, ok)

		_, err = repo.Stats(ctx, time.UnixMilli(0), 1)
		require.Error(t, err, "stats of a missing table")

		require.NoError(t, repo.Migrate(ctx))
		ok, err = repo.TableExists(ctx)
		require.NoError(t, err)
		require.True(t, ok)
	})
}

func TestCountSubject(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		ctx := context.Background()
		repo, table := statsRepo(t, db)
		const now = int64(1_800_000_000_000)
		statsInsert(t, db, table, 1, "user:1", now, now+10)
		statsInsert(t, db, table, 2, "user:1", now, now-10) // expired rows count too
		statsInsert(t, db, table, 3, "user:2", now, now+10)
		statsInsert(t, db, table, 4, "", now, now+10)

		s, err := repo.Stats(ctx, time.UnixMilli(now), 0)
		require.NoError(t, err)
		require.Equal(t, int64(4), s.Total)
		n, err := repo.CountSubject(ctx, "user:1")
		require.NoError(t, err)
		require.Equal(t, int64(2), n)
		n, err = repo.CountSubject(ctx, "")
		require.NoError(t, err)
		require.Equal(t, int64(0), n, "the empty subject matches nothing")

		deleted, err := repo.DeleteSubject(ctx, "user:1")
		require.NoError(t, err)
		require.Equal(t, int64(2), deleted, "CountSubject counts what DeleteSubject deletes")
	})
}

func ExampleRepository_Stats() {
	// The sessionctl command runs this against any DSN; here an in-memory
	// SQLite database stands in.
	db, cleanup := statsExampleDB()
	defer cleanup()
	ctx := context.Background()
	repo, _ := repository.New(db, "sessions")
	_ = repo.Migrate(ctx)

	const now = int64(1_800_000_000_000)
	for i, subject := range []string{"user:42", "user:42", "", "user:7"} {
		_ = insertRow(db, "sessions", model.SessionRow{ID: fmt.Sprintf("%064x", i), Subject: subject,
			Payload: []byte("{}"), Version: 1, CreatedAt: now - int64(i)*1000,
			UpdatedAt: now, Deadline: now + 60_000, ExpiresAt: now + 60_000 - int64(i)*30_000})
	}
	s, err := repo.Stats(ctx, time.UnixMilli(now), 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("total %d, live %d, expired %d, anonymous %d, subjects %d\n",
		s.Total, s.Live, s.Expired, s.Anonymous, s.Subjects)
	fmt.Printf("top: %s with %d\n", s.TopSubjects[0].Subject, s.TopSubjects[0].Live)
	fmt.Println("size known:", s.Size > 0)
	// Output:
	// total 4, live 2, expired 2, anonymous 0, subjects 1
	// top: user:42 with 2
	// size known: true
}

// statsExampleDB opens a SQLite file in a temporary directory, for examples,
// which have no *testing.T.
func statsExampleDB() (*gorm.DB, func()) {
	dir, err := os.MkdirTemp("", "gormsession-example")
	if err != nil {
		panic(err)
	}
	db, err := gorm.Open(sqlite.Open(testdb.SQLiteDSN(filepath.Join(dir, "example.db"))),
		&gorm.Config{Logger: logger.Discard})
	if err != nil {
		panic(err)
	}
	return db, func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
		_ = os.RemoveAll(dir)
	}
}

func ExampleRepository_TableExists() {
	// sessionctl tells a missing table (exit code 5) from an empty one.
	db, cleanup := statsExampleDB()
	defer cleanup()
	ctx := context.Background()
	repo, _ := repository.New(db, "sessions")

	before, _ := repo.TableExists(ctx)
	_ = repo.Migrate(ctx)
	after, _ := repo.TableExists(ctx)
	s, _ := repo.Stats(ctx, time.Now(), 0)
	fmt.Println(before, after, s.Total)
	// Output: false true 0
}

func ExampleRepository_CountSubject() {
	// What "sessionctl revoke --subject user:42" shows before it asks.
	db, cleanup := statsExampleDB()
	defer cleanup()
	ctx := context.Background()
	repo, _ := repository.New(db, "sessions")
	_ = repo.Migrate(ctx)
	for i, subject := range []string{"user:42", "user:42", "user:7", ""} {
		_ = insertRow(db, "sessions", model.SessionRow{ID: fmt.Sprintf("%064x", i), Subject: subject,
			Payload: []byte("{}"), Version: 1, ExpiresAt: 1})
	}
	n, _ := repo.CountSubject(ctx, "user:42")
	deleted, _ := repo.DeleteSubject(ctx, "user:42")
	left, _ := repo.Stats(ctx, time.UnixMilli(0), 0)
	fmt.Printf("%d to revoke, %d revoked, %d left\n", n, deleted, left.Total)
	// Output: 2 to revoke, 2 revoked, 2 left
}
