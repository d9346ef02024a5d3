package sessionhttp

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
)

// Defaults of the options.
const (
	// CookieNameDefault is the cookie name when the cookie is Secure, has no
	// Domain and has Path "/": the "__Host-" prefix makes browsers refuse
	// the cookie unless it is exactly that, so a sibling subdomain or a
	// plain-http page cannot plant or overwrite it.
	CookieNameDefault = "__Host-session"
	// CookieNameInsecureDefault is the cookie name otherwise (WithSecure(false),
	// WithDomain or WithPath), where the "__Host-" prefix is not allowed.
	CookieNameInsecureDefault = "session"
	// PathDefault is the cookie's default Path.
	PathDefault = "/"
	// SameSiteDefault is the cookie's default SameSite attribute: Lax, sent
	// on top-level navigations from other sites but not on their
	// subrequests or cross-site POSTs (a first line against CSRF).
	SameSiteDefault = http.SameSiteLaxMode
	// MergeAttemptsDefault is how many times the merge conflict policy tries
	// load-merge-save before it reports session.ErrConflict.
	MergeAttemptsDefault = 16
)

// An Option configures New. Options are applied in order; a later one
// wins. A bad value does not make New fail (its signature has no error):
// it makes Manager.Err report ErrInvalidOption naming the option, and the
// Manager answers every request through the error handler. Check Err once
// at start-up.
type Option func(*config)

// ErrorHandler answers a request whose session could not be opened or
// saved. err never carries a token, a stored id or a payload. See
// WithErrorHandler.
type ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

type config struct {
	name     string // "" means the default for the other attributes
	path     string
	domain   string
	secure   bool
	httpOnly bool
	sameSite http.SameSite
	persist  bool
	onError  ErrorHandler
	logger   *slog.Logger
	merge    any // func(stored, mine *T) error of the Manager's T
	attempts int
	errs     []error
}

func defaults() config {
	return config{
		path:     PathDefault,
		secure:   true,
		httpOnly: true,
		sameSite: SameSiteDefault,
		persist:  true,
		logger:   slog.Default(),
		attempts: MergeAttemptsDefault,
	}
}

func (c *config) fail(option, format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("sessionhttp: %s: %s", option, fmt.Sprintf(format, args...)))
}

// cookieName returns the configured or the default cookie name.
func (c *config) cookieName() string {
	switch {
	case c.name != "":
		return c.name
	case c.secure && c.domain == "" && c.path == "/":
		return CookieNameDefault
	default:
		return CookieNameInsecureDefault
	}
}

// check validates the combination of options once all are applied.
func (c *config) check() error {
	name := c.cookieName()
	if strings.HasPrefix(name, "__Host-") && (!c.secure || c.domain != "" || c.path != "/") {
		c.fail("WithCookieName", "a __Host- cookie must be Secure, have no Domain and Path \"/\"")
	}
	if strings.HasPrefix(name, "__Secure-") && !c.secure {
		c.fail("WithCookieName", "a __Secure- cookie must be Secure")
	}
	if c.sameSite == http.SameSiteNoneMode && !c.secure {
		c.fail("WithSameSite", "SameSite=None requires a Secure cookie")
	}
	if len(c.errs) == 0 {
		return nil
	}
	return errors.Join(append([]error{ErrInvalidOption}, c.errs...)...)
}

// validCookieString reports whether s is a valid cookie name (name true)
// or attribute value: no control characters, spaces, ';' or ',', and for a
// name none of the other separators of an HTTP token either.
func validCookieString(s string, name bool) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b <= ' ' || b >= 0x7f || b == ';' || b == ',' {
			return false
		}
		if name && strings.IndexByte("()<>@:\\\"/[]?={}", b) >= 0 {
			return false
		}
	}
	return true
}

// WithCookieName sets the cookie's name. Default: CookieNameDefault
// ("__Host-session") when the cookie is Secure, has no Domain and Path is
// "/", else CookieNameInsecureDefault ("session"). The name must be an
// HTTP token; a "__Host-" name requires Secure, no Domain and Path "/", a
// "__Secure-" name requires Secure.
func WithCookieName(name string) Option {
	return func(c *config) {
		if !validCookieString(name, true) {
			c.fail("WithCookieName", "cookie name must be a non-empty HTTP token")
			return
		}
		c.name = name
	}
}

// WithPath sets the cookie's Path. Default PathDefault ("/"). It must start
// with "/". A path other than "/" rules out the "__Host-" default name.
func WithPath(path string) Option {
	return func(c *config) {
		if !strings.HasPrefix(path, "/") || !validCookieString(path, false) {
			c.fail("WithPath", "path must start with \"/\" and contain no spaces, controls, ';' or ','")
			return
		}
		c.path = path
	}
}

// WithDomain sets the cookie's Domain, which also sends it to every
// subdomain of domain. Default none: the cookie goes back only to the host
// that set it, which is safer; set a Domain only to share sessions across
// subdomains. A Domain rules out the "__Host-" default name.
func WithDomain(domain string) Option {
	return func(c *config) {
		if !validCookieString(domain, false) {
			c.fail("WithDomain", "domain must be a non-empty host name")
			return
		}
		c.domain = domain
	}
}

// WithSecure sets the cookie's Secure attribute: the browser sends a Secure
// cookie over https only. Default true. WithSecure(false) is the one option
// needed to serve plain http on localhost during development; it also
// changes the default name to "session", because browsers reject a
// "__Host-" cookie that is not Secure. Never turn it off in production.
func WithSecure(secure bool) Option {
	return func(c *config) { c.secure = secure }
}

// WithHTTPOnly sets the cookie's HttpOnly attribute, which hides the cookie
// from JavaScript so a script injected into a page cannot read the token.
// Default true.
func WithHTTPOnly(httpOnly bool) Option {
	return func(c *config) { c.httpOnly = httpOnly }
}

// WithSameSite sets the cookie's SameSite attribute. Default
// SameSiteDefault (Lax). http.SameSiteStrictMode also withholds the cookie
// on links from other sites; http.SameSiteNoneMode requires Secure;
// http.SameSiteDefaultMode leaves the attribute out.
func WithSameSite(mode http.SameSite) Option {
	return func(c *config) {
		if mode < http.SameSiteDefaultMode || mode > http.SameSiteNoneMode {
			c.fail("WithSameSite", "unknown SameSite mode %d", int(mode))
			return
		}
		c.sameSite = mode
	}
}

// WithPersistent sets whether the cookie carries Max-Age. Default true: its
// Max-Age follows the session's ExpiresAt, so the browser keeps it across
// restarts until the session expires. false sends a browser-session cookie
// (no Max-Age), which the browser drops when it closes; the stored session
// still expires on its own schedule.
func WithPersistent(persistent bool) Option {
	return func(c *config) { c.persist = persistent }
}

// WithErrorHandler sets what answers a request when the session cannot be
// opened or saved: a database failure, a conflict the conflict policy did
// not resolve (err matches session.ErrConflict), a session that was
// destroyed or renewed away by another request while this one ran
// (session.ErrNotFound; it is never re-created), or a misconfigured Manager
// (ErrInvalidOption). The handler's own response is then discarded: w is
// the original ResponseWriter, with the headers as they were before the
// wrapped handler ran.
//
// When err matches ErrResponseStarted, the response was already under way
// (see Manager.Handler) and only logging is still possible.
//
// The default logs err at Error level (see WithLogger) and answers 409
// Conflict for session.ErrConflict and session.ErrNotFound, 500 Internal
// Server Error otherwise, with the bare status text as the body: no
// detail reaches the client. nil is an error.
func WithErrorHandler(h ErrorHandler) Option {
	return func(c *config) {
		if h == nil {
			c.fail("WithErrorHandler", "error handler must not be nil")
			return
		}
		c.onError = h
	}
}

// WithLogger sets the logger of the default error handler. Default
// slog.Default(). Lines carry the error and the request method, never a
// token, a stored id or a payload. nil is an error.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l == nil {
			c.fail("WithLogger", "logger must not be nil")
			return
		}
		c.logger = l
	}
}

// WithMerge sets the conflict policy to merging, for sessions of type T.
//
// A conflict happens when two requests of one session run at once: both
// load the same stored version, the first saves, and the second's save
// finds the row changed (session.ErrConflict). By default the second
// request is answered by the error handler (409 Conflict), so its change is
// refused loudly rather than lost silently. With WithMerge, the Manager
// instead loads the stored session again and calls merge(stored, mine):
// stored holds what the other request saved, mine what this request wants
// to save, and merge must change stored so it holds both (for example add
// mine's new cart items to stored's). The result is saved, with this
// request's subject if it changed one; losing yet another race repeats the
// cycle, up to MergeAttemptsDefault times, after which the error handler
// gets session.ErrConflict. merge may run more than once per request, must
// only change stored, and may return an error to refuse the merge, which
// goes to the error handler. Renew merges the same way.
//
// T must be the Manager's payload type; otherwise Manager.Err reports
// ErrInvalidOption. nil is an error.
func WithMerge[T any](merge func(stored, mine *T) error) Option {
	return func(c *config) {
		if merge == nil {
			c.fail("WithMerge", "merge function must not be nil")
			return
		}
		c.merge = merge
	}
}
