package sessiongin_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/gin-gonic/gin"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	sessiongin "github.com/gormsession/gormsession/integrations/gin"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessionhttp"
)

// Visits is the session payload of the example.
type Visits struct {
	Count int `json:"count"`
}

// A page that counts a visitor's visits. The handler changes the session
// with the Manager's Update on c.Request; the middleware stores it and
// sets the cookie before gin sends the header.
func Example() {
	dir, err := os.MkdirTemp("", "sessiongin-example")
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

	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.Use(gin.Recovery(), sessiongin.Middleware(m))
	r.GET("/", func(c *gin.Context) {
		if err := m.Update(c.Request, func(v *Visits) error { v.Count++; return nil }); err != nil {
			c.AbortWithStatus(http.StatusInternalServerError)
			return
		}
		s, _ := m.Session(c.Request)
		c.JSON(http.StatusOK, gin.H{"visit": s.Data.Count})
	})
	r.GET("/about", func(c *gin.Context) {
		c.String(http.StatusOK, "a page that never touches the session")
	})
	srv := httptest.NewTLSServer(r)
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
	// /       {"visit":1} cookies=1
	// /       {"visit":2} cookies=1
	// /       {"visit":3} cookies=1
}
