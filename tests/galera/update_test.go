package galera_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/tests/galera/internal/cluster"
)

// TestCrossNodeUpdate: 8 goroutines on each of the 3 nodes make 50
// Container.Update(+1) calls each on one session, through a container on
// their node's own *gorm.DB. Galera certifies conflicting commits of
// different nodes at commit time and rolls the losers back (Error 1213),
// and a commit replicated from another node aborts the local transactions
// that hold or wait for the row's lock (Error 1213 again, often on the
// SELECT ... FOR UPDATE of Update's locked attempts). Update redoes those.
// With wsrep_sync_wait=0 a node's first, unlocked read may also be stale;
// the versioned write then misses and Update retries the same way.
//
// Asserted: no Update call fails and no increment is lost or applied
// twice: every node ends at exactly 1200. (Update spreads its attempts out
// further, up to 256 ms, after the database rolled one back, as a
// certification failure does; with the 32 ms of a lost race it gave up
// after 64 attempts in about one run in seven.) The figures (errors, counts, retries, statement outcomes, Galera's
// certification failures and brute-force aborts) are logged every run.
//
// Run it repeatedly with -run TestCrossNodeUpdate -count=5.
func TestCrossNodeUpdate(t *testing.T) {
	c := need(t)
	for _, params := range []string{"wsrep_sync_wait=1", "wsrep_sync_wait=0"} {
		t.Run(params, func(t *testing.T) { crossNodeUpdate(t, c, params) })
	}
}

func crossNodeUpdate(t *testing.T, c *cluster.Cluster, params string) {
	const goroutines, calls = 8, 50
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	var fnCalls atomic.Int64
	var retriesMu sync.Mutex
	var retries []int // Event.Retries of every update
	observe := func(_ context.Context, e session.Event) {
		if e.Op == "update" {
			retriesMu.Lock()
			retries = append(retries, e.Retries)
			retriesMu.Unlock()
		}
	}
	stmts := &statements{n: map[string]int{}}
	var name string
	var containers [cluster.Size]*session.Container[Counter]
	for i := range cluster.Size {
		db := openNode(t, c, i, params)
		stmts.watch(t, db)
		if i == 0 {
			name = table(t, db)
		}
		ct, err := session.New[Counter](db, session.WithTable(name), session.WithCleanupFrequency(0), quiet,
			session.WithObserver(observe))
		require.NoError(t, err)
		t.Cleanup(func() { _ = ct.Close() })
		containers[i] = ct
	}

	s, err := containers[0].Open(ctx, "")
	require.NoError(t, err)
	require.NoError(t, containers[0].Save(ctx, s))
	tok := s.Token()
	for i, ct := range containers {
		require.Eventually(t, func() bool {
			ok, err := ct.Exists(ctx, tok)
			return err == nil && ok
		}, 30*time.Second, 10*time.Millisecond, "the session never became visible on node %d", i+1)
	}

	var before [cluster.Size][2]int64
	for i := range cluster.Size {
		before[i] = [2]int64{statusInt(t, c, i, "wsrep_local_cert_failures"), statusInt(t, c, i, "wsrep_local_bf_aborts")}
	}

	stmts.reset()
	var mu sync.Mutex
	errs := map[string]int{}
	var failed, other atomic.Int64 // other: failures that are not ErrConflict
	start := time.Now()
	var wg sync.WaitGroup
	for _, ct := range containers {
		for range goroutines {
			wg.Go(func() {
				for range calls {
					_, err := ct.Update(ctx, tok, func(v *Counter) error {
						fnCalls.Add(1)
						v.Count++
						return nil
					})
					if err != nil {
						failed.Add(1)
						if !errors.Is(err, session.ErrConflict) {
							other.Add(1)
						}
						mu.Lock()
						errs[err.Error()]++
						mu.Unlock()
					}
				}
			})
		}
	}
	wg.Wait()
	took := time.Since(start)

	const want = cluster.Size * goroutines * calls
	var counts [cluster.Size]int
	for i, ct := range containers {
		// With wsrep_sync_wait=0 a node may still be applying the last
		// write sets: give it time to catch up (a shortfall is asserted
		// below, after the figures are logged).
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			got, err := ct.Load(ctx, tok)
			require.NoError(t, err, "node %d", i+1)
			counts[i] = got.Data.Count
			if counts[i] >= want-int(failed.Load()) || time.Now().After(deadline) {
				break
			}
		}
	}
	var certFailures, bfAborts []string
	for i := range cluster.Size {
		certFailures = append(certFailures, fmt.Sprint(statusInt(t, c, i, "wsrep_local_cert_failures")-before[i][0]))
		bfAborts = append(bfAborts, fmt.Sprint(statusInt(t, c, i, "wsrep_local_bf_aborts")-before[i][1]))
	}
	t.Logf("%s: %d updates in %v (%.0f/s): %d errors, final count per node %v (want %d); fn ran %d times; %s; "+
		"per node since the start: wsrep_local_cert_failures %s, wsrep_local_bf_aborts %s",
		params, want, took.Round(time.Millisecond), float64(want)/took.Seconds(), failed.Load(), counts, want,
		fnCalls.Load(), retryStats(retries), strings.Join(certFailures, "/"), strings.Join(bfAborts, "/"))
	msgs := make([]string, 0, len(errs))
	for m, n := range errs {
		msgs = append(msgs, fmt.Sprintf("%dx %s", n, m))
	}
	sort.Strings(msgs)
	for _, m := range msgs {
		t.Logf("error: %s", m)
	}
	t.Logf("statements: %s", stmts)
	require.Zero(t, other.Load(), "Update failed with errors other than ErrConflict")
	require.Zero(t, failed.Load(), "Update gave up")
	for i := range cluster.Size {
		require.Equal(t, want, counts[i], "node %d: increments lost or applied twice", i+1)
	}
}

// retryStats summarises the retries of every update: total, how many
// updates retried at all, quantiles and the maximum, against the 63
// retries (64 attempts) Update allows.
func retryStats(r []int) string {
	if len(r) == 0 {
		return "no updates observed"
	}
	r = slices.Clone(r)
	slices.Sort(r)
	total, retried, over32 := 0, 0, 0
	for _, n := range r {
		total += n
		if n > 0 {
			retried++
		}
		if n >= 32 {
			over32++
		}
	}
	q := func(p float64) int { return r[min(len(r)-1, int(p*float64(len(r))))] }
	return fmt.Sprintf("retries %d in total, %d updates retried; per update p50 %d, p90 %d, p99 %d, max %d (limit 63); %d updates needed 32 or more",
		total, retried, q(0.5), q(0.9), q(0.99), r[len(r)-1], over32)
}

// statements counts the outcomes of the statements the containers send,
// by kind (in a transaction or not; SELECT, SELECT ... FOR UPDATE, UPDATE)
// and result (ok, no row, or the error number), through GORM callbacks
// that run after GORM's own. A transaction's COMMIT passes no callback: a
// certification failure at commit shows as a locked UPDATE that matched
// its row in an Update that nevertheless went on.
type statements struct {
	mu sync.Mutex
	n  map[string]int
}

func (s *statements) watch(t *testing.T, db *gorm.DB) {
	t.Helper()
	record := func(tx *gorm.DB) {
		sql := tx.Statement.SQL.String()
		kind := strings.ToUpper(strings.Fields(sql + " ?")[0])
		if strings.HasSuffix(strings.TrimSpace(sql), "FOR UPDATE") {
			kind += " FOR UPDATE"
		}
		if _, inTx := tx.Statement.ConnPool.(gorm.TxCommitter); inTx {
			kind = "tx " + kind
		}
		result := "ok"
		switch err := tx.Error; {
		case err != nil:
			result = err.Error()
			if i := strings.Index(result, ":"); strings.HasPrefix(result, "Error ") && i > 0 {
				result = result[:i]
			}
		case kind == "UPDATE" || kind == "tx UPDATE":
			result = fmt.Sprintf("%d rows", tx.RowsAffected)
		}
		s.mu.Lock()
		s.n[kind+": "+result]++
		s.mu.Unlock()
	}
	require.NoError(t, db.Callback().Row().After("gorm:row").Register("galera_test:row", record))
	require.NoError(t, db.Callback().Raw().After("gorm:raw").Register("galera_test:raw", record))
}

func (s *statements) reset() {
	s.mu.Lock()
	clear(s.n)
	s.mu.Unlock()
}

func (s *statements) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := slices.Sorted(maps.Keys(s.n))
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = fmt.Sprintf("%s %d", k, s.n[k])
	}
	return strings.Join(out, "; ")
}
