package hooks_test

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/model"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessiontest"
)

// session.New installs the plugin; at shutdown, wait for a running cleanup
// before closing the database.
func ExamplePlugin_Wait() {
	dir, _ := os.MkdirTemp("", "hooks-example")
	defer os.RemoveAll(dir)
	db, err := gorm.Open(sqlite.Open("file:"+filepath.Join(dir, "app.db")+"?_journal_mode=WAL&_busy_timeout=10000"),
		&gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	c, _ := session.New[struct{}](db,
		session.WithCleanupFrequency(10),                   // about one cleanup per 10 opens
		sessiontest.WithCleanupRand(rand.NewPCG(2026, 11))) // deterministic for this example
	ctx := context.Background()
	for range 100 {
		_, _ = c.Open(ctx, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") // well-formed, unknown
	}

	hooks.Of(db).Wait() // shutdown: let the last cleanup finish
	st := hooks.Of(db).Stats(model.TableDefault)
	fmt.Println(st.Rolls, st.Started+st.Skipped > 0, st.Failures)
	sqlDB, _ := db.DB()
	_ = sqlDB.Close()
	// Output: 100 true 0
}
