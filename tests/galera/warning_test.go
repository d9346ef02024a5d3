package galera_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gormsession/gormsession/session"
)

// TestNewWarnsWithoutSyncWait: session.New on a Galera node whose
// wsrep_sync_wait lacks its read bit (1) logs one Warn line naming
// wsrep_sync_wait; with the bit set it logs nothing about it.
func TestNewWarnsWithoutSyncWait(t *testing.T) {
	c := need(t)
	for _, tc := range []struct {
		syncWait string
		warn     bool
	}{
		{"0", true},
		{"1", false},
		{"2", true}, // UPDATE/DELETE only
		{"3", false},
	} {
		t.Run("wsrep_sync_wait="+tc.syncWait, func(t *testing.T) {
			db := openNode(t, c, 0, "wsrep_sync_wait="+tc.syncWait)
			var buf bytes.Buffer
			log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
			ct, err := session.New[Counter](db, session.WithTable(table(t, db)), session.WithLogger(log),
				session.WithCleanupFrequency(0))
			require.NoError(t, err)
			require.NoError(t, ct.Close())
			out := buf.String()
			t.Logf("logged: %q", out)
			if !tc.warn {
				require.NotContains(t, out, "wsrep_sync_wait")
				return
			}
			require.Equal(t, 1, strings.Count(out, "wsrep_sync_wait="+tc.syncWait), out)
			require.Contains(t, out, "level=WARN")
			require.Contains(t, out, "Galera")
		})
	}
}
