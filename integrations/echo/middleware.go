package sessionecho

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/gormsession/gormsession/sessionhttp"
)

// errNilManager is what a Middleware made without a Manager returns on
// each request.
var errNilManager = errors.New("sessionecho: Middleware: nil *sessionhttp.Manager")

// Middleware returns an echo middleware that runs the rest of the chain
// inside m.Handler. For each request it opens the session from its cookie
// (see sessionhttp.Manager.Handler) and calls the next handler with
// c.Request() set to the request that carries it, so that
// m.Session(c.Request()), m.Update(c.Request(), fn), m.Renew(c.Request())
// and m.Destroy(c.Request()) work in the handlers after it, and with
// c.Response() writing through the Manager, which commits the session just
// before the response starts. c.Response() is a new *echo.Response over
// the original one, so the Before and After functions registered on
// either run, and the original keeps an accurate Status, Size and
// Committed. When the chain returns, or panics through it, c.Request() and
// c.Response() are put back as they were. The next handler's error is
// returned as it is.
//
// If the session cannot be opened (the database is down), the Manager's
// error handler answers (503 with Retry-After, or 500, by default), the
// rest of the chain does not run, and Middleware returns nil. If the
// commit fails, the error handler's response replaces the handlers', as
// with sessionhttp, and their later writes fail.
//
// A nil m is not a panic: every request gets an *echo.HTTPError with
// status 500 whose internal error says so. The returned middleware is safe
// for concurrent use.
func Middleware[T any](m *sessionhttp.Manager[T]) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		if m == nil {
			return func(echo.Context) error {
				return echo.NewHTTPError(http.StatusInternalServerError).SetInternal(errNilManager)
			}
		}
		return func(c echo.Context) (err error) {
			req, res := c.Request(), c.Response()
			// Put echo's own request and response back whatever happens:
			// above all when a handler panics, so that a recovery
			// middleware in front of this one answers through the original
			// response without committing the session (sessionhttp stores
			// nothing when its handler panics).
			defer func() {
				c.SetRequest(req)
				c.SetResponse(res)
			}()
			m.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c.SetRequest(r)
				// w commits, then writes through res (its Before
				// functions, Status, Size, Committed) to the connection.
				inner := echo.NewResponse(w, c.Echo())
				inner.Status = http.StatusOK // as echo sets it for each request
				c.SetResponse(inner)
				err = next(c)
			})).ServeHTTP(res, req)
			return err
		}
	}
}
