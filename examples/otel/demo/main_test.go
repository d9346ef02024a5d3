package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gormsession/gormsession/internal/redact"
)

// TestRun runs the demo on a SQLite file and checks what it printed: the
// request spans and the session spans under them, the failed save, the
// metrics, and nothing shaped like a token or a stored id.
func TestRun(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, filepath.Join(t.TempDir(), "demo.db")))
	text := out.String()
	for _, want := range []string{
		`"Name": "POST /login"`, `"Name": "gormsession.open"`, `"Name": "gormsession.renew"`,
		`"Name": "gormsession.update"`, `"Name": "gormsession.destroy"`, `"Name": "gormsession.cleanup"`,
		`"Description": "conflict"`,
		`"Name": "gormsession.operation.duration"`, `"Name": "gormsession.operations"`,
		`"Name": "gormsession.sessions.deleted"`,
	} {
		require.Contains(t, text, want)
	}
	require.Equal(t, 1, strings.Count(text, `"Description": "conflict"`))
	require.Equal(t, text, redact.Secrets(text), "a token- or id-shaped string was printed")
	require.NotContains(t, text, "user:42", "the subject was printed")
	require.NotContains(t, text, "teapot", "the payload was printed")
}
