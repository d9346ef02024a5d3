package sessionecho_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	sessionecho "github.com/gormsession/gormsession/integrations/echo"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessionhttp"
)

// Visits is the session payload of the example.
type Visits struct {
	Count int `json:"count"`
}

// A page that counts a visitor's visits. The handler changes the session
// with the Manager's Update on c.Request(); the middleware stores it and
// sets the cookie before the response starts.
func Example() {
	dir, err := os.MkdirTemp("", "sessionecho-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := gorm.Open(sqlite.Open(session.SQLiteDSN(filepath.Join(dir, "app.db"))), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	if sqlDB, err := db.DB(); err == nil {
		defer sqlDB.Close()
	}

	visits, err := session.New[Visits](db)
	if err != nil {
		log.Fatal(err)
	}
	m, err := sessionhttp.New(visits)
	if err != nil {
		log.Fatal(err)
	}

	e := echo.New()
	e.Use(middleware.Recover(), sessionecho.Middleware(m))
	e.GET("/", func(c echo.Context) error {
		if err := m.Update(c.Request(), func(v *Visits) error { v.Count++; return nil }); err != nil {
			return err
		}
		s, _ := m.Session(c.Request())
		return c.String(http.StatusOK, fmt.Sprintf("visit number %d", s.Data.Count))
	})
	e.GET("/about", func(c echo.Context) error {
		return c.String(http.StatusOK, "a page that never touches the session")
	})
	srv := httptest.NewTLSServer(e)
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
		fmt.Printf("%-7s %s cookies=%d\n", path, body, len(resp.Cookies()))
	}
	// Output:
	// /about  a page that never touches the session cookies=0
	// /       visit number 1 cookies=1
	// /       visit number 2 cookies=1
	// /       visit number 3 cookies=1
}
