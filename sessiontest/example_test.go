package sessiontest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessiontest"
)

// A Clock moves only when told to.
func ExampleClock() {
	clock := sessiontest.NewClock(time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC))
	fmt.Println(clock.Now().Format(time.Kitchen))
	clock.Advance(90 * time.Minute)
	fmt.Println(clock.Now().Format(time.Kitchen))
	// Output:
	// 12:00PM
	// 1:30PM
}

// WithClock lets a test expire a session without waiting. In a test,
// sessiontest.New(t, ...) makes the container and its database; an
// Example has no *testing.T, so this one opens a SQLite file itself.
func ExampleWithClock() {
	dir, err := os.MkdirTemp("", "sessiontest-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := gorm.Open(sqlite.Open("file:"+filepath.Join(dir, "app.db")+"?_journal_mode=WAL&_busy_timeout=10000&_txlock=immediate"),
		&gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close()

	type Cart struct{ Items []string }
	clock := sessiontest.NewClock(time.Now())
	carts, err := session.New[Cart](db, sessiontest.WithClock(clock.Now), session.WithLifetime(time.Hour))
	if err != nil {
		log.Fatal(err)
	}
	defer carts.Close()
	ctx := context.Background()

	s, _ := carts.Open(ctx, "")
	s.Data.Items = []string{"book"}
	if err := carts.Save(ctx, s); err != nil {
		log.Fatal(err)
	}
	clock.Advance(59 * time.Minute)
	_, err = carts.Load(ctx, s.Token())
	fmt.Println("after 59 minutes:", err)
	clock.Advance(2 * time.Minute)
	_, err = carts.Load(ctx, s.Token())
	fmt.Println("after 61 minutes:", errors.Is(err, session.ErrNotFound))
	// Output:
	// after 59 minutes: <nil>
	// after 61 minutes: true
}
