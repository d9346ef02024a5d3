// Package sessionhttp is the net/http side of gormsession: a middleware
// that reads the session cookie, opens the session from a
// session.Container, hands it to your handler through the request context,
// and stores it and sets the cookie before the response starts.
//
//	carts, err := session.New[Cart](db)
//	m, err := sessionhttp.New(carts) // fails on a bad option
//
//	mux := http.NewServeMux()
//	mux.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
//		item := r.FormValue("item")
//		if err := m.Update(r, func(c *Cart) error {
//			c.Items = append(c.Items, item)
//			return nil
//		}); err != nil {
//			http.Error(w, err.Error(), http.StatusUnprocessableEntity)
//			return
//		}
//		http.Redirect(w, r, "/", http.StatusSeeOther) // stored, cookie set
//	})
//	http.ListenAndServeTLS(addr, cert, key, m.Handler(mux))
//
// There is no Save to call: the Handler stores the session when its
// payload or subject changed, and only then, so an anonymous visitor who
// never writes gets no row and no cookie. Read the session with
// Manager.Session, change it with Manager.Update, call Manager.Renew right
// after login and Manager.Destroy at logout.
//
// # Cookies
//
// The defaults are the strictest that work for a typical site: the cookie
// is named "__Host-session" and is Secure, HttpOnly, SameSite=Lax, Path "/"
// with no Domain, and its Max-Age follows the session's expiry.
// WithCookie replaces them with a template of your own, used as given; New
// refuses a template browsers would reject (a "__Host-" cookie that is not
// Secure, say) instead of quietly adjusting it.
//
// # Conflicts
//
// Two requests of one session that run at once both load the same stored
// version; when the second stores, the store reports session.ErrConflict
// rather than overwrite the first. If that request changed the session only
// through Manager.Update, the Manager loads the stored session, applies the
// remembered changes to it again and stores that, so both requests succeed
// and both changes are kept: a double click or two tabs never show an
// error page. If it also changed the session directly, or changed the
// subject, the conflict goes to the error handler (409 Conflict by
// default), so the change is refused loudly, never lost silently.
//
// # Errors
//
// Failures to open or store go to the error handler (WithErrorHandler);
// the default logs them and answers 409, 503 (with Retry-After, when the
// database is unavailable) or 500 with the bare status text.
// Nothing in this package panics on runtime conditions, and no error or
// log line carries a token, a stored id or a payload.
//
// # Routers
//
// Manager.Handler has the shape func(http.Handler) http.Handler, the
// middleware shape of net/http's ServeMux, chi (r.Use(m.Handler)), gorilla
// mux (r.Use(m.Handler)) and most others. Wrap the whole router, or only
// the routes that need sessions.
package sessionhttp
