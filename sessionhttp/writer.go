package sessionhttp

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
)

// responseWriter commits the session at the first sign of a response. It
// keeps Flush, Hijack and ReadFrom, and unwraps for http.ResponseController.
type responseWriter[T any] struct {
	http.ResponseWriter
	st *state[T]
}

// WriteHeader commits the session, then writes the status. Informational
// statuses (1xx other than 101) pass through without committing, as they
// may precede the final header.
func (w *responseWriter[T]) WriteHeader(code int) {
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if w.st.begin(w.ResponseWriter) {
		w.ResponseWriter.WriteHeader(code)
	}
}

// Write commits the session, then writes p; after a failed commit it
// writes nothing and returns errAborted.
func (w *responseWriter[T]) Write(p []byte) (int, error) {
	if !w.st.begin(w.ResponseWriter) {
		return 0, errAborted
	}
	return w.ResponseWriter.Write(p)
}

// ReadFrom commits the session, then copies from r, keeping the
// underlying writer's ReadFrom (sendfile) when it has one.
func (w *responseWriter[T]) ReadFrom(r io.Reader) (int64, error) {
	if !w.st.begin(w.ResponseWriter) {
		return 0, errAborted
	}
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, r)
}

// Flush implements http.Flusher.
func (w *responseWriter[T]) Flush() { _ = w.FlushError() }

// FlushError commits the session and flushes, reporting whether the
// underlying writer could flush (http.ResponseController uses it).
func (w *responseWriter[T]) FlushError() error {
	ok := w.st.begin(w.ResponseWriter)
	err := http.NewResponseController(w.ResponseWriter).Flush()
	if !ok {
		return errAborted
	}
	return err
}

// Hijack implements http.Hijacker. The session is saved first; the cookie
// is in the header map, but after a hijack writing it is up to the caller.
func (w *responseWriter[T]) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.st.begin(w.ResponseWriter) {
		return nil, nil, errAborted
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap returns the wrapped ResponseWriter, for http.ResponseController.
func (w *responseWriter[T]) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// writerOnly hides every method but Write, so io.Copy cannot loop back
// into ReadFrom.
type writerOnly struct{ io.Writer }

func splitComma(s string) []string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = strings.TrimSpace(p)
	}
	return parts
}
