package session_test

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The README's quick start must be the runnable example, verbatim.
func TestREADMEQuickStartIsTheExample(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	src, err := os.ReadFile("example_test.go")
	require.NoError(t, err)
	s := string(src)
	start := strings.Index(s, "// The quick start")
	require.GreaterOrEqual(t, start, 0)
	end := strings.Index(s[start:], "\n}\n")
	require.Greater(t, end, 0)
	require.Contains(t, string(readme), "```go\n"+s[start:start+end+3]+"```")
}
