package gorillastore_test

import (
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormsession/gormsession/adapters/gorillastore"
	"github.com/gormsession/gormsession/codec"
	"github.com/gormsession/gormsession/session"
)

// A gorilla/sessions handler, unchanged, on a gormsession table; a stale
// copy cannot overwrite a newer save, and a logout is final.
func Example() {
	dir, _ := os.MkdirTemp("", "gorillastore")
	defer os.RemoveAll(dir)
	db, err := gorm.Open(sqlite.Open(session.SQLiteDSN(filepath.Join(dir, "app.db"))), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	sqlDB, _ := db.DB()
	defer sqlDB.Close()

	c, err := session.New[[]byte](db, session.WithTable("web_sessions"), session.WithCodec(codec.Gob{}))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	store, err := gorillastore.New(c)
	if err != nil {
		log.Fatal(err)
	}

	// The handler is plain gorilla/sessions code.
	visit := func(w http.ResponseWriter, r *http.Request) {
		s, _ := store.Get(r, "session")
		n, _ := s.Values["visits"].(int)
		s.Values["visits"] = n + 1
		if err := s.Save(r, w); err != nil {
			http.Error(w, "try again", http.StatusInternalServerError)
			return
		}
		fmt.Fprintf(w, "visit %d", n+1)
	}
	request := func(cookie *http.Cookie) (*http.Request, *httptest.ResponseRecorder) {
		r := httptest.NewRequest("GET", "https://example.com/", nil)
		if cookie != nil {
			r.AddCookie(cookie)
		}
		return r, httptest.NewRecorder()
	}

	r, w := request(nil)
	visit(w, r)
	cookie := w.Result().Cookies()[0]
	r, w = request(cookie)
	visit(w, r)
	fmt.Println(w.Body.String())

	// Two requests load the session; the first to save wins.
	r1, w1 := request(cookie)
	r2, w2 := request(cookie)
	s1, _ := store.Get(r1, "session")
	s2, _ := store.Get(r2, "session")
	s1.Values["visits"] = 10
	fmt.Println(s1.Save(r1, w1))
	s2.Values["visits"] = 20
	fmt.Println(errors.Is(s2.Save(r2, w2), session.ErrConflict))

	// Logout deletes the row; a late save of an old copy cannot bring it back.
	r3, w3 := request(cookie)
	late, _ := store.Get(r3, "session")
	r4, w4 := request(cookie)
	s4, _ := store.Get(r4, "session")
	s4.Options.MaxAge = -1
	fmt.Println(s4.Save(r4, w4))
	late.Values["visits"] = 99
	fmt.Println(errors.Is(late.Save(r3, w3), session.ErrNotFound))
	ok, _ := c.Exists(r3.Context(), cookie.Value)
	fmt.Println(ok)
	// Output:
	// visit 2
	// <nil>
	// true
	// <nil>
	// true
	// false
}
