package session_test

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

// exampleDB opens a throwaway SQLite file with the recommended DSN and
// returns it with a function that waits for cleanups, closes and removes it.
func exampleDB() (*gorm.DB, func()) {
	dir, err := os.MkdirTemp("", "gormsession-example")
	if err != nil {
		log.Fatal(err)
	}
	db, err := gorm.Open(sqlite.Open(session.SQLiteDSN(filepath.Join(dir, "app.db"))), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	return db, func() {
		if sqlDB, err := db.DB(); err == nil {
			_ = sqlDB.Close()
		}
		_ = os.RemoveAll(dir)
	}
}

// The quick start: a typed cart kept across requests.
func Example_quickStart() {
	// Any *gorm.DB will do: SQLite here, PostgreSQL or MySQL in production.
	dir, _ := os.MkdirTemp("", "quickstart")
	defer os.RemoveAll(dir)
	db, err := gorm.Open(sqlite.Open(session.SQLiteDSN(filepath.Join(dir, "app.db"))), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close()
	ctx := context.Background()

	type Cart struct {
		Items []string `json:"items"`
	}
	carts, err := session.New[Cart](db) // creates the sessions table if needed
	if err != nil {
		log.Fatal(err)
	}
	defer carts.Close() // at shutdown: stop and wait for the random cleanup

	// First request: no cookie, so Open returns a fresh session.
	s, err := carts.Open(ctx, "")
	if err != nil {
		log.Fatal(err)
	}
	s.Data.Items = append(s.Data.Items, "apple") // typed: no Get/Put, no type assertions
	if err := carts.Save(ctx, s); err != nil {
		log.Fatal(err)
	}
	cookie := s.Token() // send this to the client

	// Next request: the cookie comes back.
	s, err = carts.Open(ctx, cookie)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.IsNew(), s.Data.Items)

	// A stale copy cannot overwrite a newer save.
	stale, _ := carts.Load(ctx, cookie)
	s.Data.Items = append(s.Data.Items, "pear")
	_ = carts.Save(ctx, s)
	stale.Data.Items = nil
	fmt.Println(errors.Is(carts.Save(ctx, stale), session.ErrConflict))
	// Output:
	// false [apple]
	// true
}

// Update is the safe way to change a session from concurrent requests: it
// reloads and reapplies the change whenever another save got there first.
func ExampleContainer_Update() {
	db, done := exampleDB()
	defer done()
	ctx := context.Background()

	type Visits struct{ N int }
	c, _ := session.New[Visits](db)
	s, _ := c.Open(ctx, "")
	_ = c.Save(ctx, s)

	for range 3 {
		if _, err := c.Update(ctx, s.Token(), func(v *Visits) error {
			v.N++
			return nil
		}); err != nil {
			log.Fatal(err)
		}
	}
	s, _ = c.Load(ctx, s.Token())
	fmt.Println(s.Data.N)
	// Output: 3
}

// Renew at login: the session keeps its data, gets a subject and a new
// token, and the token from before login is dead.
func ExampleContainer_Renew() {
	db, done := exampleDB()
	defer done()
	ctx := context.Background()

	type User struct{ Name string }
	c, _ := session.New[User](db)
	s, _ := c.Open(ctx, "")
	_ = c.Save(ctx, s)
	before := s.Token()

	s.Data.Name = "ann"
	s.SetSubject("user:42")
	if err := c.Renew(ctx, s); err != nil {
		log.Fatal(err)
	}
	_, err := c.Load(ctx, before)
	fmt.Println(s.Token() != before, errors.Is(err, session.ErrNotFound))

	// Later, "log out everywhere":
	n, _ := c.DestroySubject(ctx, "user:42")
	fmt.Println(n)
	// Output:
	// true true
	// 1
}

// Options: a one-hour absolute lifetime, logged out after 15 minutes of
// inactivity, its own table, and no random cleanup (a cron job runs
// Cleanup instead).
func ExampleNew() {
	db, done := exampleDB()
	defer done()
	ctx := context.Background()

	type Prefs struct{ Theme string }
	clock := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	prefs, err := session.New[Prefs](db,
		session.WithTable("pref_sessions"),
		session.WithLifetime(time.Hour),
		session.WithIdleTimeout(15*time.Minute),
		session.WithCleanupFrequency(0),
		sessiontest.WithClock(func() time.Time { return clock }),
	)
	if err != nil {
		log.Fatal(err)
	}
	s, _ := prefs.Open(ctx, "")
	_ = prefs.Save(ctx, s)
	fmt.Println(s.ExpiresAt().UTC().Format(time.Kitchen))

	clock = clock.Add(16 * time.Minute) // idle too long
	ok, _ := prefs.Exists(ctx, s.Token())
	n, _ := prefs.Cleanup(ctx)
	fmt.Println(ok, n)

	_, err = session.New[Prefs](db, session.WithLifetime(-time.Hour))
	fmt.Println(err)
	// Output:
	// 12:15PM
	// false 1
	// session: invalid option
	// session: WithLifetime: lifetime must be at least 1s, got -1h0m0s
}

// AdjustTime ages every stored session, so expiry is tested without
// sleeping.
func ExampleContainer_AdjustTime() {
	db, done := exampleDB()
	defer done()
	ctx := context.Background()

	c, _ := session.New[struct{}](db, session.WithLifetime(time.Hour))
	s, _ := c.Open(ctx, "")
	_ = c.Save(ctx, s)

	_ = c.AdjustTime(ctx, -2*time.Hour)
	ok, _ := c.Exists(ctx, s.Token())
	fmt.Println(ok)
	// Output: false
}
