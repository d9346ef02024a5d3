package sessionhttp_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"

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
	m, err := sessionhttp.New(visits)
	if err != nil {
		log.Fatal(err) // a bad option or a nil container
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Update(r, func(v *Visits) error { v.Count++; return nil }); err != nil {
			http.Error(w, "no session", http.StatusInternalServerError)
			return
		}
		s, _ := m.Session(r)
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

// An "add to cart" handler. Update changes the session's cart right away
// and remembers the change: if another request of the same session (a
// double click, a second tab) saved the cart first, the Manager applies
// the change again to the stored cart instead of answering 409 Conflict,
// so both items are kept.
func ExampleManager_Update() {
	addToCart := func(m *sessionhttp.Manager[Cart]) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			item := r.FormValue("item")
			err := m.Update(r, func(c *Cart) error {
				if len(c.Items) >= 50 {
					return errors.New("the cart is full")
				}
				c.Items = append(c.Items, item)
				return nil
			})
			if err != nil {
				http.Error(w, err.Error(), http.StatusUnprocessableEntity)
				return
			}
			http.Redirect(w, r, "/cart", http.StatusSeeOther)
		}
	}
	_ = addToCart
}

// Serving plain http on localhost during development takes a cookie
// without the "__Host-" prefix and without Secure, because browsers refuse
// a "__Host-" cookie that is not Secure. New refuses the combination
// rather than renaming the cookie.
func ExampleWithCookie() {
	dev := func(visits *session.Container[Visits]) (*sessionhttp.Manager[Visits], error) {
		return sessionhttp.New(visits, sessionhttp.WithCookie(http.Cookie{
			Name:     "session",
			Path:     "/",
			HttpOnly: true,
			SameSite: http.SameSiteLaxMode,
		}))
	}
	_ = dev
}

// A login handler: set the subject, then Renew, so that the token the
// browser held before the login is dead afterwards. If Renew fails,
// nothing of this session is stored; end it with Destroy and answer 500.
func ExampleManager_Renew() {
	type Account struct{ UserID int }
	login := func(m *sessionhttp.Manager[Account], userID int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			s, _ := m.Session(r)
			s.Data.UserID = userID
			s.SetSubject(fmt.Sprintf("user:%d", userID))
			if err := m.Renew(r); err != nil {
				_ = m.Destroy(r) // the browser starts over; the old token is dead
				http.Error(w, "Sign-in failed, please try again.", http.StatusInternalServerError)
				return
			}
			http.Redirect(w, r, "/", http.StatusSeeOther)
		}
	}
	_ = login
}
