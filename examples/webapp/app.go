package main

import (
	"embed"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessionhttp"
)

// Visit is the typed session payload: who is signed in, the cart, and a
// message for the next page.
type Visit struct {
	UserID uint       `json:"uid,omitempty"`
	Email  string     `json:"email,omitempty"`
	Cart   []CartLine `json:"cart,omitempty"`
	Flash  string     `json:"flash,omitempty"`
}

// CartLine is one product in the cart.
type CartLine struct {
	SKU string `json:"sku"`
	Qty int    `json:"qty"`
}

// Product is something the shop sells; prices are in cents.
type Product struct {
	SKU, Name, Note, Color string
	Price                  int
}

var catalog = []Product{
	{SKU: "beans", Name: "Espresso beans", Note: "1 kg, medium roast, notes of cocoa", Color: "#7c4a2d", Price: 1890},
	{SKU: "grinder", Name: "Hand grinder", Note: "Ceramic burrs, 40 grind settings", Color: "#475569", Price: 4900},
	{SKU: "kettle", Name: "Gooseneck kettle", Note: "0.9 l, for a slow, even pour", Color: "#0f766e", Price: 3900},
	{SKU: "cups", Name: "Two cups", Note: "Stoneware, 180 ml each", Color: "#b45309", Price: 2400},
}

func product(sku string) (Product, bool) {
	for _, p := range catalog {
		if p.SKU == sku {
			return p, true
		}
	}
	return Product{}, false
}

//go:embed templates
var templateFS embed.FS

// options configure newApp; the zero value is what the command uses over
// plain http.
type options struct {
	secure     bool             // Secure cookies (serving https)
	bcryptCost int              // 0: bcrypt.DefaultCost
	usersTable string           // "": "webapp_users"
	sessions   []session.Option // extra container options
	logger     *slog.Logger     // nil: slog.Default()
}

// app is the shop.
type app struct {
	users    *users
	sessions *session.Container[Visit]
	m        *sessionhttp.Manager[Visit]
	cookie   string // the session cookie's name
	pages    map[string]*template.Template
	log      *slog.Logger
}

func newApp(db *gorm.DB, o options) (*app, error) {
	if o.bcryptCost == 0 {
		o.bcryptCost = bcrypt.DefaultCost
	}
	if o.usersTable == "" {
		o.usersTable = "webapp_users"
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	us, err := newUsers(db, o.usersTable, o.bcryptCost)
	if err != nil {
		return nil, err
	}
	opts := append([]session.Option{
		session.WithLifetime(7 * 24 * time.Hour),
		session.WithIdleTimeout(24 * time.Hour),
		// "Remember me" keeps a session for up to 30 days.
		session.WithMaxLifetime(rememberFor),
		// At most ten signed-in devices per account; the least recently
		// used is signed out by the eleventh sign-in.
		session.WithMaxSessionsPerSubject(10),
		session.WithLogger(o.logger),
	}, o.sessions...)
	visits, err := session.New[Visit](db, opts...)
	if err != nil {
		return nil, err
	}
	// sessionhttp's default cookie, spelled out, but a browser-session
	// cookie (MaxAge -1): it goes when the browser closes, unless the
	// visitor ticked "Remember me" at sign-in (a session with a lifetime of
	// its own gets a persistent cookie). Over plain http (local
	// development) it can be neither Secure nor, therefore, "__Host-".
	cookie := http.Cookie{Name: "__Host-session", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: -1}
	if !o.secure {
		cookie.Name, cookie.Secure = "session", false
	}
	m, err := sessionhttp.New(visits, sessionhttp.WithCookie(cookie), sessionhttp.WithLogger(o.logger))
	if err != nil {
		return nil, err
	}
	a := &app{users: us, sessions: visits, m: m, cookie: cookie.Name, pages: map[string]*template.Template{}, log: o.logger}
	funcs := template.FuncMap{"money": money, "ago": ago, "stamp": stamp}
	for _, page := range []string{"shop.html", "signin.html", "signup.html", "sessions.html", "error.html"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+page)
		if err != nil {
			return nil, err
		}
		a.pages[page] = t
	}
	return a, nil
}

// routes returns the whole site: security headers, then net/http's
// cross-origin protection against CSRF, then the session middleware, then
// the pages.
func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.shop)
	mux.HandleFunc("POST /cart/add", a.cartAdd)
	mux.HandleFunc("POST /cart/remove", a.cartRemove)
	mux.HandleFunc("POST /cart/clear", a.cartClear)
	mux.HandleFunc("GET /signup", a.signUpForm)
	mux.HandleFunc("POST /signup", a.signUp)
	mux.HandleFunc("GET /signin", a.signInForm)
	mux.HandleFunc("POST /signin", a.signIn)
	mux.HandleFunc("POST /signout", a.signOut)
	mux.HandleFunc("GET /sessions", a.sessionList)
	mux.HandleFunc("POST /sessions/revoke", a.sessionRevoke)
	mux.HandleFunc("POST /sessions/others", a.sessionOthers)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		a.render(w, r, http.StatusNotFound, "error.html", &page{Title: "Not found", Error: "There is no page here."})
	})
	return securityHeaders(http.NewCrossOriginProtection().Handler(a.m.Handler(mux)))
}

func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// page is what every template gets.
type page struct {
	Title   string
	Email   string // signed-in user, "" if anonymous
	Flash   string
	Error   string
	Form    url.Values
	Next    string
	Lines   []line
	Count   int
	Total   int
	Catalog []Product
	// The sessions page.
	Sessions []session.Info
	Current  string
	Now      time.Time
}

type line struct {
	Product
	Qty      int
	Subtotal int
}

// visit returns the request's session. The middleware always provides one.
func (a *app) visit(r *http.Request) *session.Session[Visit] {
	s, _ := a.m.Session(r)
	return s
}

// update changes the visit with fn. Every change of the session's data
// goes through it (sign-in aside, which renews the token anyway), so a
// double click or two tabs never meet an error page: when another request
// of the same session stored first, the middleware applies fn again to
// what that request stored. fn must therefore decide from the value it is
// given.
func (a *app) update(r *http.Request, fn func(v *Visit)) error {
	return a.m.Update(r, func(v *Visit) error {
		fn(v)
		return nil
	})
}

// render writes a page. It shows and clears the flash message; the
// middleware saves that change before the page's first byte.
func (a *app) render(w http.ResponseWriter, r *http.Request, status int, name string, p *page) {
	if s, ok := a.m.Session(r); ok {
		p.Email = s.Data.Email
		if shown := s.Data.Flash; shown != "" {
			p.Flash = shown
			// Clear it only if it is still the one shown: a concurrent
			// request may have left a new one, for the next page.
			if err := a.update(r, func(v *Visit) {
				if v.Flash == shown {
					v.Flash = ""
				}
			}); err != nil {
				a.fail(w, r, err)
				return
			}
		}
		for _, cl := range s.Data.Cart {
			if pr, ok := product(cl.SKU); ok {
				p.Lines = append(p.Lines, line{Product: pr, Qty: cl.Qty, Subtotal: cl.Qty * pr.Price})
				p.Count += cl.Qty
				p.Total += cl.Qty * pr.Price
			}
		}
	}
	var b strings.Builder
	if err := a.pages[name].Execute(&b, p); err != nil {
		a.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// fail answers 500 and logs err; no detail reaches the visitor.
func (a *app) fail(w http.ResponseWriter, r *http.Request, err error) {
	a.log.ErrorContext(r.Context(), "webapp: request failed", "method", r.Method, "path", r.URL.Path, "error", err.Error())
	http.Error(w, "Something went wrong on our side. Please try again.", http.StatusInternalServerError)
}

func (a *app) flashTo(w http.ResponseWriter, r *http.Request, to, msg string) {
	if err := a.update(r, func(v *Visit) { v.Flash = msg }); err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func (a *app) shop(w http.ResponseWriter, r *http.Request) {
	p := &page{Title: "Shop", Catalog: catalog}
	if r.URL.Query().Has("signed-out") {
		p.Flash = "You are signed out. See you soon."
	}
	a.render(w, r, http.StatusOK, "shop.html", p)
}

func (a *app) cartAdd(w http.ResponseWriter, r *http.Request) {
	pr, ok := product(r.PostFormValue("sku"))
	if !ok {
		a.flashTo(w, r, "/", "That product is not in our catalog.")
		return
	}
	err := a.update(r, func(v *Visit) {
		found := false
		for i := range v.Cart {
			if v.Cart[i].SKU == pr.SKU {
				v.Cart[i].Qty++
				found = true
			}
		}
		if !found {
			v.Cart = append(v.Cart, CartLine{SKU: pr.SKU, Qty: 1})
		}
		v.Flash = "Added " + pr.Name + " to your cart."
	})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *app) cartRemove(w http.ResponseWriter, r *http.Request) {
	sku := r.PostFormValue("sku")
	err := a.update(r, func(v *Visit) {
		var out []CartLine
		for _, cl := range v.Cart {
			if cl.SKU == sku {
				cl.Qty--
			}
			if cl.Qty > 0 {
				out = append(out, cl)
			}
		}
		v.Cart = out
	})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *app) cartClear(w http.ResponseWriter, r *http.Request) {
	err := a.update(r, func(v *Visit) {
		v.Cart = nil
		v.Flash = "Your cart is empty again."
	})
	if err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *app) signUpForm(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "signup.html", &page{Title: "Create an account", Next: safeNext(r.URL.Query().Get("next"))})
}

func (a *app) signUp(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.PostFormValue("next"))
	u, err := a.users.signUp(r.Context(), r.PostFormValue("email"), r.PostFormValue("password"))
	if isVisitorError(err) {
		a.render(w, r, http.StatusUnprocessableEntity, "signup.html",
			&page{Title: "Create an account", Error: err.Error(), Form: r.PostForm, Next: next})
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.startSignedIn(w, r, u, "Welcome to Gopher Coffee! Your cart came along.", next)
}

func (a *app) signInForm(w http.ResponseWriter, r *http.Request) {
	a.render(w, r, http.StatusOK, "signin.html", &page{Title: "Sign in", Next: safeNext(r.URL.Query().Get("next"))})
}

func (a *app) signIn(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.PostFormValue("next"))
	u, err := a.users.signIn(r.Context(), r.PostFormValue("email"), r.PostFormValue("password"))
	if isVisitorError(err) {
		a.render(w, r, http.StatusUnauthorized, "signin.html",
			&page{Title: "Sign in", Error: err.Error(), Form: r.PostForm, Next: next})
		return
	}
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.startSignedIn(w, r, u, "Welcome back, "+u.Email+".", next)
}

// startSignedIn binds the session to u and gives it a new token: a token
// anyone saw before sign-in is worthless after it.
//
// If the renewal fails, even for a passing reason (a busy database, a
// dropped connection), the visitor is not signed in: the session must not
// reach the store with u's subject under its old token, which someone may
// have planted in this browser (session fixation). So the sign-in is
// undone in memory (with nothing changed, the middleware has nothing to
// save) and the session is destroyed; if destroying fails too, its error
// is only logged. Either way the visitor gets the error page and can sign
// in again; a cart in the destroyed session is lost, a fair price for a
// rare failure.
func (a *app) startSignedIn(w http.ResponseWriter, r *http.Request, u *User, flash, next string) {
	s := a.visit(r)
	before, subject := s.Data, s.Subject()
	s.Data.UserID, s.Data.Email, s.Data.Flash = u.ID, u.Email, flash
	s.SetSubject(subjectOf(u.ID))
	s.SetLabel(deviceLabel(r.UserAgent()))
	if r.PostFormValue("remember") != "" {
		s.SetExpiry(rememberFor, 7*24*time.Hour)
	}
	if err := a.m.Renew(r); err != nil {
		s.Data = before
		s.SetSubject(subject)
		if derr := a.m.Destroy(r); derr != nil {
			a.log.WarnContext(r.Context(), "webapp: destroy after a failed renew", "error", derr.Error())
		}
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (a *app) signOut(w http.ResponseWriter, r *http.Request) {
	if err := a.m.Destroy(r); err != nil {
		a.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/?signed-out", http.StatusSeeOther)
}

// signedIn returns the session of a signed-in visitor, or redirects to the
// sign-in page and returns nil.
func (a *app) signedIn(w http.ResponseWriter, r *http.Request) *session.Session[Visit] {
	s := a.visit(r)
	if s.Data.UserID == 0 || s.Subject() == "" {
		http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.Path), http.StatusSeeOther)
		return nil
	}
	return s
}

func (a *app) sessionList(w http.ResponseWriter, r *http.Request) {
	s := a.signedIn(w, r)
	if s == nil {
		return
	}
	infos, err := a.sessions.List(r.Context(), s.Subject())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	a.render(w, r, http.StatusOK, "sessions.html",
		&page{Title: "Your sessions", Sessions: infos, Current: s.Handle(), Now: time.Now()})
}

func (a *app) sessionRevoke(w http.ResponseWriter, r *http.Request) {
	s := a.signedIn(w, r)
	if s == nil {
		return
	}
	handle := r.PostFormValue("handle")
	if handle == s.Handle() {
		a.flashTo(w, r, "/sessions", "To end this session, use Sign out.")
		return
	}
	n, err := a.sessions.DestroyOthers(r.Context(), s, handle)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	msg := "That session had already ended."
	if n > 0 {
		msg = "Signed out that session."
	}
	a.flashTo(w, r, "/sessions", msg)
}

func (a *app) sessionOthers(w http.ResponseWriter, r *http.Request) {
	s := a.signedIn(w, r)
	if s == nil {
		return
	}
	n, err := a.sessions.DestroyOthers(r.Context(), s)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	msg := "There were no other sessions."
	switch {
	case n == 1:
		msg = "Signed out 1 other session."
	case n > 1:
		msg = "Signed out " + strconv.FormatInt(n, 10) + " other sessions."
	}
	a.flashTo(w, r, "/sessions", msg)
}

func subjectOf(id uint) string { return "user:" + strconv.FormatUint(uint64(id), 10) }

func isVisitorError(err error) bool {
	for _, e := range []error{errBadCredentials, errEmailTaken, errBadEmail, errShortPassword, errLongPassword} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// safeNext returns next when it is a path on this site, and "/" otherwise.
//
// Browsers read a Location header leniently: they drop tabs and newlines
// anywhere in it, trim leading and trailing spaces and control
// characters, and take a backslash for a slash, so "/\t/evil.example/" and
// "/\\evil.example" both lead to evil.example. So next must consist of
// printable ASCII other than space and backslash (a genuine target has
// every other character percent-encoded), and must parse as a URL with
// neither scheme nor host whose path starts with exactly one "/". A query
// is kept.
func safeNext(next string) string {
	for i := 0; i < len(next); i++ {
		if c := next[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return "/"
		}
	}
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	return next
}

func money(cents int) string { return fmt.Sprintf("€%d.%02d", cents/100, cents%100) }

func stamp(t time.Time) string { return t.Local().Format("2 Jan 2006, 15:04") }

// ago tells a time relative to now in words, rounded to the nearest unit:
// "just now", "5 minutes ago", "in 3 days".
func ago(t, now time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		if future {
			return "in under a minute"
		}
		return "just now"
	case d < time.Hour-30*time.Second:
		s = plural(int(d.Round(time.Minute)/time.Minute), "minute")
	case d < 48*time.Hour-30*time.Minute:
		s = plural(int(d.Round(time.Hour)/time.Hour), "hour")
	default:
		s = plural(int(d.Round(24*time.Hour)/(24*time.Hour)), "day")
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// rememberFor is how long "Remember me" keeps a visitor signed in.
const rememberFor = 30 * 24 * time.Hour

// deviceLabel names the browser and system a User-Agent header describes,
// roughly, for the sessions page: "Firefox on Linux". The header is the
// client's word, so the label is only a hint for the visitor, never a
// security signal; the session package makes it safe to store.
func deviceLabel(ua string) string {
	find := func(pairs [][2]string) string {
		for _, p := range pairs {
			if strings.Contains(ua, p[0]) {
				return p[1]
			}
		}
		return ""
	}
	// Order matters: Edge and Opera also claim Chrome, Chrome claims Safari.
	browser := find([][2]string{{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"},
		{"HeadlessChrome/", "Headless Chrome"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"}, {"Go-http-client", "Go client"}})
	system := find([][2]string{{"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"}})
	switch {
	case browser == "" && system == "":
		return "Unknown device"
	case system == "":
		return browser
	case browser == "":
		return "A browser on " + system
	}
	return browser + " on " + system
}
