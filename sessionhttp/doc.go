// Package sessionhttp is the net/http side of gormsession: a middleware
// that reads the session cookie, opens the session from a
// session.Container, hands it to your handler through the request context,
// and saves it and sets the cookie before the response starts.
//
//	carts, err := session.New[Cart](db)
//	m := sessionhttp.New(carts)
//	if err := m.Err(); err != nil { ... } // a bad option
//
//	mux := http.NewServeMux()
//	mux.HandleFunc("POST /cart", func(w http.ResponseWriter, r *http.Request) {
//		s, _ := m.Session(r)
//		s.Data.Items = append(s.Data.Items, r.FormValue("item"))
//		http.Redirect(w, r, "/", http.StatusSeeOther) // saved, cookie set
//	})
//	http.ListenAndServeTLS(addr, cert, key, m.Handler(mux))
//
// There is no Save to call: the Handler saves the session when its encoded
// payload or subject changed, and only then, so an anonymous visitor who
// never writes gets no row and no cookie. Call Manager.Renew right after
// login and Manager.Destroy at logout.
//
// # Cookies
//
// The defaults are the strictest that work for a typical site: the cookie
// is named "__Host-session" and is Secure, HttpOnly, SameSite=Lax, Path "/"
// with no Domain, and its Max-Age follows the session's expiry. Every
// attribute has an option; WithSecure(false) serves plain http on
// localhost for development (the name becomes "session").
//
// # Conflicts
//
// Two requests of one session that run at once both load the same stored
// version; when the second saves, the store reports session.ErrConflict
// rather than overwrite the first. By default that request is answered by
// the error handler (409 Conflict), so its change is refused loudly, never
// lost silently. WithMerge makes the Manager merge instead: it reloads the
// stored session, calls your merge function and saves the result.
//
// # Errors
//
// Failures to open or save go to the error handler (WithErrorHandler); the
// default logs them and answers 409 or 500 with the bare status text.
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
