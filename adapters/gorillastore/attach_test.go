package gorillastore

import (
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gormsession/gormsession/sessiontest"
)

// The store's link from a gorilla session to its gormsession session goes
// away with the gorilla session: handing out sessions that are never saved
// leaks nothing, and Values never carry it.
func TestAttachmentsAreReleased(t *testing.T) {
	t.Parallel()
	st, err := New(sessiontest.New[[]byte](t))
	require.NoError(t, err)

	const n = 500
	held := make([]any, 0, n)
	for range n {
		r := httptest.NewRequest("GET", "/", nil)
		s, err := st.Get(r, "sid")
		require.NoError(t, err)
		require.Empty(t, s.Values, "nothing of the store's in Values")
		held = append(held, s)
	}
	runtime.GC()
	require.Equal(t, n, st.attached(), "a session in use stays attached through a GC")
	runtime.KeepAlive(held)
	clear(held)

	kept := httptest.NewRequest("GET", "/", nil)
	s, err := st.Get(kept, "sid")
	require.NoError(t, err)
	s.Values["k"] = "v"
	deadline := time.Now().Add(30 * time.Second)
	for st.attached() > 1 && time.Now().Before(deadline) {
		runtime.GC()
		time.Sleep(10 * time.Millisecond) // cleanups run on their own goroutine
	}
	require.Equal(t, 1, st.attached(), "only the session still in use is attached")

	// The one still referenced still saves as the same session.
	w := httptest.NewRecorder()
	require.NoError(t, s.Save(kept, w))
	w2 := httptest.NewRecorder()
	require.NoError(t, s.Save(kept, w2))
	require.Equal(t, cookieValue(w), cookieValue(w2))
	runtime.KeepAlive(s)
}

func cookieValue(w *httptest.ResponseRecorder) string {
	for _, c := range w.Result().Cookies() {
		if c.Name == "sid" {
			return c.Value
		}
	}
	return ""
}
