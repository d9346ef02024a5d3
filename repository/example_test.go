package repository_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormsession/gormsession/model"
	"github.com/gormsession/gormsession/repository"
)

// The repository works on rows, so tools need no payload type. The rows
// here are stored with GORM, as an application's sessions would be.
func Example() {
	dir, _ := os.MkdirTemp("", "repository-example")
	defer os.RemoveAll(dir)
	db, err := gorm.Open(sqlite.Open("file:"+filepath.Join(dir, "app.db")+"?_journal_mode=WAL&_busy_timeout=10000"),
		&gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	defer func() { sqlDB, _ := db.DB(); _ = sqlDB.Close() }()
	ctx := context.Background()

	repo, err := repository.New(db, model.TableDefault)
	if err != nil {
		log.Fatal(err)
	}
	if err := repo.Migrate(ctx); err != nil {
		log.Fatal(err)
	}
	for i, expires := range []int64{100, 200, 5000} {
		id := fmt.Sprintf("%064x", i)
		row := model.SessionRow{ID: id, Payload: []byte("{}"), Version: 1, Deadline: expires, ExpiresAt: expires}
		if err := db.Table(model.TableDefault).Create(&row).Error; err != nil {
			log.Fatal(err)
		}
	}
	now := time.UnixMilli(1000)
	s, err := repo.Stats(ctx, now, 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("live:", s.Live, "expired:", s.Expired)

	deleted, err := repo.Cleanup(ctx, now, repository.CleanupOptions{BatchSize: 1})
	fmt.Println("deleted:", deleted, err)
	// Output:
	// live: 1 expired: 2
	// deleted: 2 <nil>
}

// SchemaSQL gives a migration tool the table's SQL; the application then
// opts out of the automatic migration with session.WithoutAutoMigrate.
func ExampleSchemaSQL() {
	create, upgrade, err := repository.SchemaSQL("postgres", "auth.sessions")
	if err != nil {
		log.Fatal(err)
	}
	for _, q := range create[1:] { // the indexes; create[0] is the table
		fmt.Println(q + ";")
	}
	fmt.Println(upgrade[0] + ";")
	// Output:
	// CREATE INDEX IF NOT EXISTS "sessions_expires_at_idx" ON "auth"."sessions" (expires_at);
	// CREATE INDEX IF NOT EXISTS "sessions_subject_idx" ON "auth"."sessions" (subject) WHERE subject <> '';
	// ALTER TABLE "auth"."sessions" ADD COLUMN lifetime bigint NOT NULL DEFAULT 0;
}
