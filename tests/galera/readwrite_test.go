package galera_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/tests/galera/internal/cluster"
)

// TestReadYourWritesAcrossNodes: a request saves a session on node 1 and
// the next request, served by node 2, opens it. With wsrep_sync_wait=1 in
// the DSN (the setting the library asks for on Galera) node 2 waits for
// the writes certified before the read, so it never misses the new
// session (Open would hand out a fresh one: IsNew) nor sees old data.
// Every cycle checks both a session just inserted and one just updated.
// With wsrep_sync_wait=0 the same cycles are only measured.
func TestReadYourWritesAcrossNodes(t *testing.T) {
	c := need(t)
	for _, tc := range []struct {
		params string
		assert bool
	}{
		{"wsrep_sync_wait=1", true},
		{"wsrep_sync_wait=0", false},
	} {
		t.Run(tc.params, func(t *testing.T) {
			missed, stale, took := readYourWrites(t, c, tc.params)
			t.Logf("%s: %d cycles in %v: %d inserted sessions missed on node 2 (Open gave a fresh one), %d updates read stale",
				tc.params, cycles, took.Round(time.Millisecond), missed, stale)
			if tc.assert {
				require.Zero(t, missed, "node 2 missed sessions saved on node 1")
				require.Zero(t, stale, "node 2 served sessions older than saved on node 1")
			}
		})
	}
}

const cycles = 200

func readYourWrites(t *testing.T, c *cluster.Cluster, params string) (missed, stale int, took time.Duration) {
	ctx := context.Background()
	db1, db2 := openNode(t, c, 0, params), openNode(t, c, 1, params)
	name := table(t, db1)
	c1, err := session.New[Counter](db1, session.WithTable(name), session.WithCleanupFrequency(0), quiet)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c1.Close() })
	c2, err := session.New[Counter](db2, session.WithTable(name), session.WithCleanupFrequency(0), quiet,
		session.WithoutAutoMigrate())
	require.NoError(t, err)
	t.Cleanup(func() { _ = c2.Close() })

	long, err := c1.Open(ctx, "")
	require.NoError(t, err)
	require.NoError(t, c1.Save(ctx, long))
	require.Eventually(t, func() bool { ok, err := c2.Exists(ctx, long.Token()); return err == nil && ok },
		30*time.Second, 10*time.Millisecond)

	start := time.Now()
	for i := range cycles {
		// A new session: INSERT on node 1, Open on node 2.
		s, err := c1.Open(ctx, "")
		require.NoError(t, err)
		s.Data = Counter{Count: i, Note: fmt.Sprintf("new %d", i)}
		require.NoError(t, c1.Save(ctx, s))
		got, err := c2.Open(ctx, s.Token())
		require.NoError(t, err)
		if got.IsNew() || got.Data != s.Data {
			missed++
		}
		// A stored session: UPDATE on node 1, Open on node 2.
		long.Data = Counter{Count: i, Note: fmt.Sprintf("update %d", i)}
		require.NoError(t, c1.Save(ctx, long))
		got, err = c2.Open(ctx, long.Token())
		require.NoError(t, err)
		if got.IsNew() || got.Data != long.Data {
			stale++
		}
	}
	return missed, stale, time.Since(start)
}
