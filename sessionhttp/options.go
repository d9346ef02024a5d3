package sessionhttp

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// An Option configures New. Options apply in order, and a later one of the
// same kind wins. A bad value makes New fail with an error that matches
// ErrInvalidOption and names the option; a nil Option is an error too.
type Option func(*config)

type config struct {
	header  string
	cookie  http.Cookie
	onError func(http.ResponseWriter, *http.Request, error)
	logger  *slog.Logger
	errs    []string
}

func defaults() config {
	return config{
		cookie: http.Cookie{
			Name:     "__Host-session",
			Path:     "/",
			Secure:   true,
			HttpOnly: true,
			SameSite: http.SameSiteLaxMode,
		},
		logger: slog.Default(),
	}
}

func (c *config) fail(option, format string, args ...any) {
	c.errs = append(c.errs, option+": "+fmt.Sprintf(format, args...))
}

// err returns nil or one error matching ErrInvalidOption that lists every
// problem found.
func (c *config) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return fmt.Errorf("sessionhttp: %w: %s", ErrInvalidOption, strings.Join(c.errs, "; "))
}

// WithCookie sets the session cookie's attributes from tmpl.
//
// Without this option the cookie is
//
//	http.Cookie{Name: "__Host-session", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
//
// with no Domain and a Max-Age that follows the session's expiry: the
// "__Host-" prefix makes browsers accept it only over https, from the host
// itself, for the whole site, so neither a sibling subdomain nor a
// plain-http page can plant or overwrite it; HttpOnly hides it from
// scripts; SameSite=Lax keeps it off cross-site subrequests and POSTs.
//
// tmpl is used as given, every field with its http.Cookie meaning: a field
// left at its zero value is off (Secure false, HttpOnly false, SameSite
// zero leaves the attribute out), nothing is filled in from the default.
// Name, Path, Domain, Secure, HttpOnly, SameSite and Partitioned go on
// every session cookie and on the one that expires it at Destroy. Value,
// Expires, RawExpires, Raw, Unparsed and Quoted are ignored. MaxAge says
// how long the browser keeps the cookie: 0 (the default) means a Max-Age
// that follows the session's ExpiresAt, renewed whenever the session is
// saved or its idle deadline moves; a negative MaxAge asks for a
// browser-session cookie (no Max-Age and no Expires), which the browser
// drops when it closes while the stored session still expires on its own
// schedule, except for a session with a lifetime of its own
// (session.Session.SetExpiry, a "remember me" login), which gets a
// persistent cookie whose Max-Age follows its expiry. So a site with a
// "remember me" box sets MaxAge -1 and calls SetExpiry when the box is
// ticked. A positive MaxAge is an error: the session's lifetime is the
// container's or its own (session.WithLifetime, session.WithIdleTimeout,
// session.Session.SetExpiry).
//
// New fails, naming the problem, when the name is empty or not an HTTP
// token; when Path does not start with "/" (an empty Path would scope the
// cookie to the directory of whichever URL set it); when Domain or Path
// holds characters a cookie attribute cannot carry; when SameSite is not
// one of net/http's constants; when a "__Host-" name (any case) is not
// Secure, has a Domain or a Path other than "/"; when a "__Secure-" name,
// SameSite=None or Partitioned is not Secure; or when MaxAge is positive.
// Names are never changed behind the caller's back.
//
// For plain http on localhost during development, drop the prefix and
// Secure, for example
//
//	sessionhttp.WithCookie(http.Cookie{Name: "session", Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
//
// and never serve that to the internet.
func WithCookie(tmpl http.Cookie) Option {
	return func(c *config) {
		c.cookie = http.Cookie{
			Name:        tmpl.Name,
			Path:        tmpl.Path,
			Domain:      tmpl.Domain,
			MaxAge:      tmpl.MaxAge,
			Secure:      tmpl.Secure,
			HttpOnly:    tmpl.HttpOnly,
			SameSite:    tmpl.SameSite,
			Partitioned: tmpl.Partitioned,
		}
	}
}

// WithTokenHeader makes the Manager take the token from the request header
// name instead of the cookie, for API and mobile clients, and send a new
// or renewed token back in the response header of the same name (an empty
// value when the session was destroyed: the client should forget its
// token). With "Authorization" the token travels as "Bearer <token>" both
// ways; with any other name (for example "X-Session-Token") as it is. The
// cookie is then neither read nor set.
//
// The trade-offs, against the cookie: the client must store the token and
// send it on every request itself, and none of the cookie's protections
// apply (no HttpOnly: a script that can read the client's storage can read
// the token; no Secure or __Host- prefix: serve only over https; no
// Max-Age: the client learns of expiry from a response that carries a new
// token or from your handler). Cross-site request forgery does not apply,
// since browsers never attach the header on their own, which is also why
// the cookie is not accepted as a fallback. Responses that carry a token
// get "Cache-Control: no-store" unless the handler set Cache-Control, and
// responses that use the session get the header name in Vary.
//
// New fails when name is not a valid header name, or is Cookie or
// Set-Cookie.
func WithTokenHeader(name string) Option {
	return func(c *config) {
		canon := http.CanonicalHeaderKey(name)
		if name == "" || (&http.Cookie{Name: name}).Valid() != nil || canon == "Cookie" || canon == "Set-Cookie" {
			c.fail("WithTokenHeader", "%q is not a header name this option can use", name)
			return
		}
		c.header = canon
	}
}

// checkCookie validates the cookie template once every option is applied.
func (c *config) checkCookie() {
	ck := c.cookie
	const opt = "WithCookie"
	nameOK := ck.Name != "" && (&http.Cookie{Name: ck.Name}).Valid() == nil
	if !nameOK {
		c.fail(opt, "name %q is not a non-empty HTTP token", ck.Name)
	}
	if !strings.HasPrefix(ck.Path, "/") {
		c.fail(opt, "Path %q does not start with \"/\"", ck.Path)
	} else if (&http.Cookie{Name: "x", Path: ck.Path}).Valid() != nil {
		c.fail(opt, "Path %q holds a character a cookie cannot carry", ck.Path)
	}
	if ck.Domain != "" && (&http.Cookie{Name: "x", Domain: ck.Domain}).Valid() != nil {
		c.fail(opt, "Domain %q is not a valid cookie domain", ck.Domain)
	}
	if ck.SameSite < 0 || ck.SameSite > http.SameSiteNoneMode {
		c.fail(opt, "unknown SameSite mode %d", int(ck.SameSite))
	}
	if ck.MaxAge > 0 {
		c.fail(opt, "MaxAge %d is positive; use 0 to follow the session's expiry or a negative value for a browser-session cookie", ck.MaxAge)
	}
	prefixed := func(p string) bool { return len(ck.Name) >= len(p) && strings.EqualFold(ck.Name[:len(p)], p) }
	switch {
	case nameOK && prefixed("__Host-"):
		if !ck.Secure || ck.Domain != "" || ck.Path != "/" {
			c.fail(opt, "a %q cookie must be Secure, have Path \"/\" and no Domain (browsers refuse it otherwise)", ck.Name[:len("__Host-")])
		}
	case nameOK && prefixed("__Secure-"):
		if !ck.Secure {
			c.fail(opt, "a %q cookie must be Secure (browsers refuse it otherwise)", ck.Name[:len("__Secure-")])
		}
	}
	if ck.SameSite == http.SameSiteNoneMode && !ck.Secure {
		c.fail(opt, "SameSite=None requires Secure")
	}
	if ck.Partitioned && !ck.Secure {
		c.fail(opt, "Partitioned requires Secure")
	}
}

// WithErrorHandler sets what answers a request when the Manager cannot do
// its part: opening the session failed (a database error; the wrapped
// handler did not run), or committing it before the response started
// failed (a database error; a conflict the Manager did not resolve, which
// matches session.ErrConflict; the session was destroyed or renewed away
// by another request meanwhile, session.ErrNotFound, and is never
// re-created). The wrapped handler's response is then discarded: h gets
// the original ResponseWriter with the header as it was before the wrapped
// handler ran, and the handler's later writes fail.
//
// When err matches ErrResponseStarted the response was already under way
// (see Manager.Handler), its status can no longer change, and h should
// only log.
//
// err never carries a token, a stored id or a payload. h is called on the
// request's goroutine, possibly from inside the wrapped handler's Write,
// and must be safe for concurrent use across requests.
//
// The default logs err at Error level (see WithLogger) and answers 409
// Conflict for session.ErrConflict and session.ErrNotFound, 503 Service
// Unavailable with "Retry-After: 1" for session.ErrUnavailable (the
// database is restarting or failing over), 500 Internal Server Error
// otherwise, with the bare status text as the body. nil is an error.
func WithErrorHandler(h func(w http.ResponseWriter, r *http.Request, err error)) Option {
	return func(c *config) {
		if h == nil {
			c.fail("WithErrorHandler", "handler is nil")
			return
		}
		c.onError = h
	}
}

// WithLogger sets the logger of the default error handler. Default
// slog.Default(). Its lines carry the error and the request method, never
// a token, a stored id or a payload. It is unused when WithErrorHandler is
// given. nil is an error.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l == nil {
			c.fail("WithLogger", "logger is nil")
			return
		}
		c.logger = l
	}
}
