// Package sessionecho gives echo (v4) handlers the typed sessions of
// gormsession, with exactly the behaviour of package sessionhttp: the
// session is read from its cookie, stored if it changed just before the
// response starts, and its cookie set at that moment; Update re-applies
// its change after a conflict with a concurrent request of the same
// session; Renew moves the session to a new token; Destroy ends it and
// expires the cookie; failures are answered 409, 503 (with Retry-After) or
// 500, or by your own sessionhttp.WithErrorHandler.
//
// It does not re-implement any of that. Middleware runs a
// *sessionhttp.Manager's Handler around the rest of the echo chain, so
// inside your handlers c.Request() is the request that went through the
// Manager, and you use the Manager's own methods with it:
//
//	carts, err := session.New[Cart](db)
//	m, err := sessionhttp.New(carts)
//
//	e := echo.New()
//	e.Use(middleware.Recover(), sessionecho.Middleware(m))
//	e.POST("/cart", func(c echo.Context) error {
//		item := c.FormValue("item")
//		if err := m.Update(c.Request(), func(cart *Cart) error {
//			cart.Items = append(cart.Items, item)
//			return nil
//		}); err != nil {
//			return err
//		}
//		return c.Redirect(http.StatusSeeOther, "/") // stored, cookie set
//	})
//
// Read with m.Session(c.Request()), change with m.Update(c.Request(), fn),
// call m.Renew(c.Request()) right after sign-in and m.Destroy(c.Request())
// at sign-out. The Manager's documentation is the contract; this package
// adds only the plumbing echo needs.
//
// # Why not echo.WrapMiddleware(m.Handler)
//
// It nearly works, and the difference is the panic guarantee.
// WrapMiddleware leaves the committing response in the context after the
// chain returns, so when a handler panics, the recovery middleware in
// front (middleware.Recover) answers through it, and that answer commits
// the half-changed session and sets its cookie. Middleware puts the
// request and the response back while the panic passes, so, as with
// sessionhttp, a handler that panics before the response started stores
// nothing. Put the recovery middleware before Middleware.
//
// # Errors returned by handlers
//
// echo writes the response for an error a handler returns after the chain
// returned, through its HTTPErrorHandler. By then the Manager has
// committed: a change the handler made before returning the error is
// stored, and the cookie goes out with the error page, just as a net/http
// handler that changes the session and then writes an error status. If you
// want a failed request to leave the session alone, make the change after
// the last check that can fail.
//
// When the Manager's error handler has answered (the session could not be
// opened or stored), c.Response().Committed is true, so echo's default
// HTTPErrorHandler writes nothing more.
package sessionecho
