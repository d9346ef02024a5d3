// Package sessiongin gives gin handlers the typed sessions of gormsession,
// with exactly the behaviour of package sessionhttp: the session is read
// from its cookie, stored if it changed just before the response starts,
// and its cookie set at that moment; Update re-applies its change after a
// conflict with a concurrent request of the same session; Renew moves the
// session to a new token; Destroy ends it and expires the cookie; failures
// are answered 409, 503 (with Retry-After) or 500, or by your own
// sessionhttp.WithErrorHandler.
//
// It does not re-implement any of that. Middleware runs a
// *sessionhttp.Manager's Handler around the rest of the gin chain, so
// inside your handlers c.Request is the request that went through the
// Manager, and you use the Manager's own methods with it:
//
//	carts, err := session.New[Cart](db)
//	m, err := sessionhttp.New(carts)
//
//	r := gin.New()
//	r.Use(gin.Recovery(), sessiongin.Middleware(m))
//	r.POST("/cart", func(c *gin.Context) {
//		item := c.PostForm("item")
//		if err := m.Update(c.Request, func(cart *Cart) error {
//			cart.Items = append(cart.Items, item)
//			return nil
//		}); err != nil {
//			c.AbortWithStatus(http.StatusInternalServerError)
//			return
//		}
//		c.Redirect(http.StatusSeeOther, "/") // stored, cookie set
//	})
//
// Read with m.Session(c.Request), change with m.Update(c.Request, fn),
// call m.Renew(c.Request) right after sign-in and m.Destroy(c.Request) at
// sign-out. The Manager's documentation is the contract; this package adds
// only the plumbing gin needs.
//
// # The response writer
//
// gin's c.Writer does not send the header when a handler sets the status
// (c.Status, and so c.JSON, c.String, c.Redirect before their body): it
// sends it at WriteHeaderNow, at the first body byte, at Flush or Hijack,
// or after the last handler returned. Middleware replaces c.Writer, for
// the handlers after it, with a writer that commits the session at each of
// those moments and not before, so a change made after c.Status but before
// the body is still stored, and the session cookie always reaches the
// client: with c.JSON, c.String, c.Data, c.Redirect, c.AbortWithStatus,
// c.Stream or a handler that writes nothing.
//
// # Panics
//
// If a handler panics before the response started, nothing is stored and
// no cookie is set, as with sessionhttp: Middleware puts gin's own c.Writer
// and c.Request back while the panic passes, so a recovery middleware in
// front of it (gin.Recovery) answers 500 without committing the
// half-changed session. Put the recovery middleware before Middleware.
//
// # Order
//
// Use Middleware before the handlers and middlewares that use the session.
// Middlewares in front of it see the original c.Request, without the
// session, both before and after the chain; a middleware behind it that
// wraps c.Writer wraps the committing writer, which is what you want.
package sessiongin
