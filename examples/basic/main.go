// Command basic is the smallest complete gormsession program: it keeps a
// shopping cart in a SQLite file (basic.db in the working directory unless
// -db says otherwise), opens it by token, changes it, saves it, shows a
// lost update being caught, renews the token and destroys the session.
//
//	go run ./examples/basic
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormsession/gormsession/session"
)

// Cart is the typed session payload.
type Cart struct {
	Items []string `json:"items"`
}

func main() {
	path := flag.String("db", "basic.db", "SQLite file to keep sessions in")
	flag.Parse()
	if err := run(context.Background(), *path); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, path string) error {
	// WAL, a busy timeout and immediate transactions: the DSN we recommend.
	db, err := gorm.Open(sqlite.Open(session.SQLiteDSN(path)), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return err
	}

	carts, err := session.New[Cart](db) // creates the sessions table if needed
	if err != nil {
		return err
	}
	defer carts.Close() // at shutdown: stop and wait for the random cleanup

	// A first visit: no cookie yet, so Open makes a fresh session.
	s, err := carts.Open(ctx, "")
	if err != nil {
		return err
	}
	s.Data.Items = append(s.Data.Items, "apple")
	if err := carts.Save(ctx, s); err != nil {
		return err
	}
	tok := s.Token() // this would go into the cookie
	fmt.Printf("new session saved, %d characters of token in the cookie\n", len(tok))

	// The next request brings the token back.
	s, err = carts.Open(ctx, tok)
	if err != nil {
		return err
	}
	fmt.Printf("reopened: new=%v items=%v\n", s.IsNew(), s.Data.Items)

	// Two requests of one session change it at once: the later save of a
	// stale copy is refused instead of silently overwriting the other.
	a, _ := carts.Load(ctx, tok)
	b, _ := carts.Load(ctx, tok)
	a.Data.Items = append(a.Data.Items, "pear")
	b.Data.Items = append(b.Data.Items, "plum")
	if err := carts.Save(ctx, a); err != nil {
		return err
	}
	if err := carts.Save(ctx, b); errors.Is(err, session.ErrConflict) {
		fmt.Println("second save refused: session.ErrConflict")
	}
	// Update retries such races for you.
	s, err = carts.Update(ctx, tok, func(c *Cart) error {
		c.Items = append(c.Items, "plum")
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Printf("after Update: items=%v\n", s.Data.Items)

	// Log in: bind the session to a user and give it a new token.
	s.SetSubject("user:42")
	if err := carts.Renew(ctx, s); err != nil {
		return err
	}
	old, _ := carts.Exists(ctx, tok)
	fmt.Printf("renewed: old token still valid=%v\n", old)

	// Log out.
	if err := carts.Destroy(ctx, s); err != nil {
		return err
	}
	alive, _ := carts.Exists(ctx, s.Token())
	fmt.Printf("destroyed: still valid=%v\n", alive)
	fmt.Fprintf(os.Stderr, "sessions are kept in %s\n", path)
	return nil
}
