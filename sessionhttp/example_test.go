package sessionhttp_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessionhttp"
)

// Visits is the session payload of the example.
type Visits struct {
	Count int `json:"count"`
}

// A page that counts a visitor's visits. The handler only changes
// s.Data; the middleware saves the session and sets the cookie.
func Example() {
	dir, err := os.MkdirTemp("", "sessionhttp-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	dsn := "file:" + filepath.Join(dir, "app.db") + "?_journal_mode=WAL&_busy_timeout=10000&_txlock=immediate&_synchronous=NORMAL"
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}

	visits, err := session.New[Visits](db)
	if err != nil {
		log.Fatal(err)
	}
	m := sessionhttp.New(visits)
	if err := m.Err(); err != nil {
		log.Fatal(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s, _ := m.Session(r)
		s.Data.Count++
		fmt.Fprintf(w, "visit number %d", s.Data.Count)
	})
	mux.HandleFunc("GET /about", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "a page that never touches the session")
	})
	srv := httptest.NewTLSServer(m.Handler(mux))
	defer srv.Close()

	client := srv.Client()
	client.Jar, _ = cookiejar.New(nil)
	for _, path := range []string{"/about", "/", "/", "/"} {
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			log.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Printf("%-7s %s\n", path, body)
		for _, c := range resp.Cookies() {
			fmt.Printf("        cookie %s: HttpOnly=%v Secure=%v SameSite=Lax:%v Path=%s\n",
				c.Name, c.HttpOnly, c.Secure, c.SameSite == http.SameSiteLaxMode, c.Path)
		}
	}
	// Output:
	// /about  a page that never touches the session
	// /       visit number 1
	//         cookie __Host-session: HttpOnly=true Secure=true SameSite=Lax:true Path=/
	// /       visit number 2
	//         cookie __Host-session: HttpOnly=true Secure=true SameSite=Lax:true Path=/
	// /       visit number 3
	//         cookie __Host-session: HttpOnly=true Secure=true SameSite=Lax:true Path=/
}

// Cart items added by two requests of one session at once are both kept:
// the request that loses the race merges its items into the stored cart
// instead of being answered 409 Conflict.
func ExampleWithMerge() {
	newManager := func(carts *session.Container[Cart]) *sessionhttp.Manager[Cart] {
		return sessionhttp.New(carts, sessionhttp.WithMerge(func(stored, mine *Cart) error {
			for _, it := range mine.Items {
				if !slices.Contains(stored.Items, it) {
					stored.Items = append(stored.Items, it)
				}
			}
			return nil
		}))
	}
	_ = newManager
}

// Serving plain http on localhost during development takes one option; the
// cookie is then named "session", because browsers refuse a "__Host-"
// cookie that is not Secure.
func ExampleWithSecure() {
	dev := func(visits *session.Container[Visits]) *sessionhttp.Manager[Visits] {
		return sessionhttp.New(visits, sessionhttp.WithSecure(false))
	}
	_ = dev
}
