// Package ginstore lets gin-contrib/sessions keep its sessions in a
// gormsession table through a gorillastore.Store.
//
// gin-contrib/sessions' Store is gorilla's Store plus an Options method;
// Store adds that method and nothing else:
//
//	c, err := session.New[[]byte](db, session.WithTable("web_sessions"), session.WithCodec(codec.Gob{}))
//	gs, err := gorillastore.New(c)
//	r := gin.New()
//	r.Use(sessions.Sessions("session", ginstore.Store{Store: gs}))
//
// Handlers use sessions.Default(c) as before. gin-contrib's Session.Save
// returns the store's error, so a concurrent save is seen as
// errors.Is(err, session.ErrConflict). To rotate the token at sign-in,
// call gs.Renew(c.Request, c.Writer, g) with g from gs.Get(c.Request, name):
// it is the same *sessions.Session that sessions.Default(c) works on
// (gorilla keeps it in the request's context, so this holds unless a
// middleware between sessions.Sessions and the handler replaced c.Request
// before the session was first used).
package ginstore

import (
	"github.com/gin-contrib/sessions"

	"github.com/gormsession/gormsession/adapters/gorillastore"
)

// Store is a *gorillastore.Store with the Options method gin-contrib/sessions
// asks of a store. Its zero value has no store: set Store.
type Store struct {
	*gorillastore.Store
}

var _ sessions.Store = Store{}

// Options replaces the cookie attributes that sessions start with, as
// gin-contrib's own stores do (gin-contrib's Options has no Partitioned).
// Call it before the store serves requests.
func (s Store) Options(o sessions.Options) {
	s.Store.Options = o.ToGorillaOptions()
}
