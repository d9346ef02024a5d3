// Command webapp is a small coffee shop that keeps its visitors' sessions
// with gormsession: a cart that survives reloads, sign-up and sign-in with
// bcrypt-hashed passwords, a flash message, and a page that lists the
// signed-in user's sessions with "sign out everywhere else".
//
//	cd examples/webapp && go run .              # SQLite file demo.db, http://127.0.0.1:8080
//	go run . -dsn 'host=127.0.0.1 user=postgres dbname=test sslmode=disable'
//	go run . -dsn 'root@tcp(127.0.0.1:3306)/test?parseTime=true'
//
// Without -cert and -key it serves plain http for local development, with
// a cookie named "session" that is not Secure (a sessionhttp.WithCookie
// template); with them it serves https and the cookie is sessionhttp's
// default, "__Host-session", Secure.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/session"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to listen on")
	file := flag.String("db", "demo.db", "SQLite file to use when -dsn is empty")
	dsn := flag.String("dsn", "", "PostgreSQL or MySQL/MariaDB DSN; empty uses the SQLite file of -db")
	driver := flag.String("driver", "", "sqlite, postgres or mysql; by default guessed from -dsn")
	cert := flag.String("cert", "", "TLS certificate file; with -key, serve https with Secure cookies")
	key := flag.String("key", "", "TLS key file")
	flag.Parse()
	if err := run(*addr, *file, *dsn, *driver, *cert, *key); err != nil {
		log.Fatal(err)
	}
}

func run(addr, file, dsn, driver, cert, key string) error {
	if (cert == "") != (key == "") {
		return errors.New("-cert and -key go together")
	}
	db, err := openDB(driver, dsn, file)
	if err != nil {
		return err
	}
	defer hooks.Of(db).Wait() // let a running random cleanup finish

	tls := cert != ""
	a, err := newApp(db, options{secure: tls})
	if err != nil {
		return err
	}
	srv := &http.Server{
		Addr:              addr,
		Handler:           a.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       time.Minute,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()

	scheme := "http"
	if tls {
		scheme = "https"
	} else {
		slog.Warn("serving plain http: session cookies are not Secure; use -cert and -key outside development")
	}
	slog.Info("gopher coffee is open", "url", scheme+"://"+addr+"/", "database", db.Dialector.Name())
	if tls {
		err = srv.ListenAndServeTLS(cert, key)
	} else {
		err = srv.ListenAndServe()
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// openDB opens the database: SQLite on file when dsn is empty, otherwise
// PostgreSQL or MySQL/MariaDB as driver says or dsn looks.
func openDB(driver, dsn, file string) (*gorm.DB, error) {
	if driver == "" {
		driver = guessDriver(dsn)
	}
	var d gorm.Dialector
	switch driver {
	case "sqlite":
		if dsn == "" {
			// WAL, a busy timeout and immediate transactions: the DSN the
			// project recommends for SQLite.
			dsn = session.SQLiteDSN(file)
		}
		d = sqlite.Open(dsn)
	case "postgres":
		d = postgres.Open(dsn)
	case "mysql":
		d = mysql.Open(dsn)
	default:
		return nil, fmt.Errorf("unknown -driver %q: want sqlite, postgres or mysql", driver)
	}
	db, err := gorm.Open(d, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", driver, err)
	}
	return db, nil
}

// guessDriver tells the driver from the shape of dsn.
func guessDriver(dsn string) string {
	switch {
	case dsn == "":
		return "sqlite"
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"), strings.Contains(dsn, "host="):
		return "postgres"
	case strings.Contains(dsn, "@tcp("), strings.Contains(dsn, "@unix("):
		return "mysql"
	default:
		return "postgres"
	}
}
