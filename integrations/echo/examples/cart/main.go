// Command cart is a small echo shop: a cart kept in a gormsession session,
// with sign-in (the session moves to a new token: Renew) and sign-out
// (the session ends and its cookie expires: Destroy).
//
//	go run ./examples/cart                 # http://127.0.0.1:8080, SQLite file cart.db
//	go run ./examples/cart -addr :9000 -db /tmp/shop.db
//
// It serves plain http for local use, so its cookie has no "__Host-"
// prefix and no Secure attribute; behind TLS keep sessionhttp's defaults.
package main

import (
	"flag"
	"html/template"
	"log"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	sessionecho "github.com/gormsession/gormsession/integrations/echo"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessionhttp"
)

// Cart is what a visitor's session holds.
type Cart struct {
	User  string   `json:"user,omitempty"`
	Items []string `json:"items,omitempty"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	path := flag.String("db", "cart.db", "SQLite database file")
	flag.Parse()
	db, err := gorm.Open(sqlite.Open(session.SQLiteDSN(*path)), &gorm.Config{Logger: logger.Discard})
	if err != nil {
		log.Fatal(err)
	}
	h, err := newServer(db)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("cart: listening on http://%s", *addr)
	log.Fatal(http.ListenAndServe(*addr, h))
}

var page = template.Must(template.New("cart").Parse(`<!doctype html>
<title>cart</title>
{{if .User}}<p>Signed in as {{.User}}.</p>
<form method="post" action="/logout"><button>Sign out</button></form>
{{else}}<form method="post" action="/login"><input name="user" placeholder="name"> <button>Sign in</button></form>
{{end}}<p>Cart: {{range .Items}}{{.}} {{else}}empty{{end}}</p>
<form method="post" action="/cart"><input name="item" placeholder="item"> <button>Add</button></form>
`))

// newServer returns the shop's handler, with its sessions in db.
func newServer(db *gorm.DB) (http.Handler, error) {
	carts, err := session.New[Cart](db)
	if err != nil {
		return nil, err
	}
	m, err := sessionhttp.New(carts, sessionhttp.WithCookie(http.Cookie{
		Name: "cart", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, // plain http: no Secure
	}))
	if err != nil {
		return nil, err
	}

	e := echo.New()
	e.HideBanner = true
	e.Use(middleware.Recover(), sessionecho.Middleware(m))
	e.GET("/", func(c echo.Context) error {
		s, _ := m.Session(c.Request())
		c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
		c.Response().WriteHeader(http.StatusOK)
		return page.Execute(c.Response(), s.Data)
	})
	e.POST("/cart", func(c echo.Context) error {
		item := strings.TrimSpace(c.FormValue("item"))
		if item == "" {
			return echo.NewHTTPError(http.StatusBadRequest, "name an item")
		}
		if err := m.Update(c.Request(), func(cart *Cart) error {
			cart.Items = append(cart.Items, item)
			return nil
		}); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, "/")
	})
	e.POST("/login", func(c echo.Context) error {
		user := strings.TrimSpace(c.FormValue("user"))
		if user == "" {
			return echo.NewHTTPError(http.StatusBadRequest, "name a user")
		}
		// A real shop checks a password here. Then: the subject, and a
		// new token, so a token seen before sign-in is worthless after it.
		s, _ := m.Session(c.Request())
		s.Data.User = user
		s.SetSubject("user:" + user)
		if err := m.Renew(c.Request()); err != nil {
			_ = m.Destroy(c.Request()) // the browser starts over
			return echo.NewHTTPError(http.StatusInternalServerError, "sign-in failed, please try again").SetInternal(err)
		}
		return c.Redirect(http.StatusSeeOther, "/")
	})
	e.POST("/logout", func(c echo.Context) error {
		if err := m.Destroy(c.Request()); err != nil {
			return echo.NewHTTPError(http.StatusInternalServerError, "sign-out failed, please try again").SetInternal(err)
		}
		return c.Redirect(http.StatusSeeOther, "/")
	})
	return e, nil
}
