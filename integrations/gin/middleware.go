package sessiongin

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/gormsession/gormsession/sessionhttp"
)

// errNilManager is what a Middleware made without a Manager reports, through
// c.Error, on each request.
var errNilManager = errors.New("sessiongin: Middleware: nil *sessionhttp.Manager")

// Middleware returns a gin middleware that runs the rest of the chain
// inside m.Handler. For each request it opens the session from its cookie
// (see sessionhttp.Manager.Handler), sets c.Request to the request that
// carries it, so that m.Session(c.Request), m.Update(c.Request, fn),
// m.Renew(c.Request) and m.Destroy(c.Request) work in the handlers after
// it, and sets c.Writer to a writer that commits the session just before
// gin sends the response header. When the chain returns, or panics
// through it, c.Request and c.Writer are put back as they were.
//
// If the session cannot be opened (the database is down), the Manager's
// error handler answers (503 with Retry-After, or 500, by default) and the
// chain is aborted: the handlers after Middleware do not run. If the
// commit fails, the error handler's response replaces the handlers', as
// with sessionhttp, and their later writes fail.
//
// A nil m is not a panic: every request is answered 500, with an error
// recorded in c.Errors, and the chain is aborted. The returned handler is
// safe for concurrent use.
func Middleware[T any](m *sessionhttp.Manager[T]) gin.HandlerFunc {
	if m == nil {
		return func(c *gin.Context) {
			_ = c.Error(errNilManager)
			c.AbortWithStatus(http.StatusInternalServerError)
		}
	}
	return func(c *gin.Context) {
		req, gw := c.Request, c.Writer
		ran := false
		// Put gin's own request and writer back whatever happens: above
		// all when a handler panics, so that a recovery middleware in front
		// of this one answers through gin's writer without committing the
		// session (sessionhttp stores nothing when its handler panics).
		defer func() { c.Request, c.Writer = req, gw }()
		m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ran = true
			c.Request = r
			c.Writer = &responseWriter{ResponseWriter: gw, session: w}
			c.Next()
		})).ServeHTTP(gw, req)
		if !ran {
			// The Manager answered instead of the chain (opening failed).
			c.Abort()
		}
	}
}

// responseWriter is the gin.ResponseWriter the handlers after Middleware
// see. Its embedded ResponseWriter is gin's writer, which keeps the status,
// the size and the header; session is sessionhttp's writer around that
// same gin writer, which commits the session before passing a write on.
// Every method that makes gin send the header goes through session; the
// status alone does not, because gin sends nothing when the status is set.
type responseWriter struct {
	gin.ResponseWriter
	session http.ResponseWriter
}

// WriteHeader records the status as gin does, without sending anything or
// committing the session: gin sends the header later, at WriteHeaderNow,
// the first Write, Flush, Hijack or the end of the chain.
func (w *responseWriter) WriteHeader(code int) { w.ResponseWriter.WriteHeader(code) }

// WriteHeaderNow commits the session, then sends the header with the
// recorded status. If the commit failed, the Manager's error handler has
// answered and gin's writer sends nothing more.
func (w *responseWriter) WriteHeaderNow() {
	if !w.ResponseWriter.Written() {
		w.session.WriteHeader(w.ResponseWriter.Status())
	}
	w.ResponseWriter.WriteHeaderNow()
}

// Write commits the session, then writes p through gin's writer (which
// sends the header first). After a failed commit it writes nothing and
// returns an error.
func (w *responseWriter) Write(p []byte) (int, error) { return w.session.Write(p) }

// WriteString is Write for a string.
func (w *responseWriter) WriteString(s string) (int, error) { return io.WriteString(w.session, s) }

// Flush commits the session, then flushes through gin's writer.
func (w *responseWriter) Flush() { _ = http.NewResponseController(w.session).Flush() }

// Hijack commits the session (its cookie is in the header map, which after
// a hijack is the caller's to write), then hijacks through gin's writer.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return http.NewResponseController(w.session).Hijack()
}

// Unwrap returns sessionhttp's writer, so that http.ResponseController
// reaches the connection through the session commit.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.session }
