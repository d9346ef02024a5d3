package ginstore_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/gin-contrib/sessions"
	"github.com/gin-gonic/gin"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormsession/gormsession/adapters/gorillastore"
	"github.com/gormsession/gormsession/adapters/gorillastore/ginstore"
	"github.com/gormsession/gormsession/codec"
	"github.com/gormsession/gormsession/session"
)

// gin-contrib/sessions handlers, unchanged, on a gormsession table.
func Example() {
	dir, _ := os.MkdirTemp("", "ginstore")
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
	st, err := gorillastore.New(c)
	if err != nil {
		log.Fatal(err)
	}

	r := gin.New()
	r.Use(sessions.Sessions("session", ginstore.Store{Store: st}))
	r.GET("/count", func(ctx *gin.Context) {
		s := sessions.Default(ctx)
		n, _ := s.Get("count").(int)
		s.Set("count", n+1)
		if err := s.Save(); err != nil { // errors.Is(err, session.ErrConflict) on a lost race
			ctx.Status(http.StatusInternalServerError)
			return
		}
		ctx.String(http.StatusOK, "count %d", n+1)
	})

	var cookie *http.Cookie
	for range 3 {
		req := httptest.NewRequest("GET", "/count", nil)
		if cookie != nil {
			req.AddCookie(cookie)
		}
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		cookie = w.Result().Cookies()[0]
		fmt.Println(w.Body.String())
	}
	// Output:
	// count 1
	// count 2
	// count 3
}
