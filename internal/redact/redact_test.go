package redact_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gormsession/gormsession/internal/redact"
	"github.com/gormsession/gormsession/internal/token"
)

func TestSecrets(t *testing.T) {
	t.Parallel()
	tok, id := token.New()
	hex64 := strings.Repeat("ab12", 16)
	cases := []struct{ in, want string }{
		{"no secrets here", "no secrets here"},
		{"", ""},
		{"token " + tok, "token [redacted]"},
		{"Error 1062: Duplicate entry '" + id + "' for key 'PRIMARY'", "Error 1062: Duplicate entry '[redacted]' for key 'PRIMARY'"},
		{id + "/" + tok, "[redacted]/[redacted]"},
		{"a=" + tok + "&b=1", "a=[redacted]&b=1"},
		// pgx's statement cache names stay readable: the run is longer than an id.
		{`prepared statement "stmtcache_` + hex64 + `" already exists`, `prepared statement "stmtcache_` + hex64 + `" already exists`},
		// A run one character off either length is not secret-shaped.
		{tok + "x", tok + "x"},
		{hex64[:63], hex64[:63]},
		// 64 characters that are not all hex are not an id.
		{strings.Repeat("z", 64), strings.Repeat("z", 64)},
	}
	for _, c := range cases {
		require.Equal(t, c.want, redact.Secrets(c.in), c.in)
	}
}
