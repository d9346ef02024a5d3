package session_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gormsession/gormsession/internal/store"
	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/internal/token"
	"github.com/gormsession/gormsession/session"
)

// BenchmarkCleanupAtScale is the cleanup-at-scale figure run, not part of
// any default test run: it needs GORMSESSION_BENCH_CLEANUP=1 and
// PostgreSQL (GORMSESSION_TEST_POSTGRES_DSN). It fills a table with
// 1,000,000 expired and 100,000 live sessions (GORMSESSION_BENCH_EXPIRED /
// GORMSESSION_BENCH_LIVE override), measures Load latency with 8 readers
// for 5s, then runs the cleanup while the same readers keep loading, and
// reports rows/s, the slowest batch and both p99s. It fails if a live row
// was deleted or an expired one is left. Command (docs/reliability.md):
//
//	GORMSESSION_BENCH_CLEANUP=1 go test -run '^$' -bench '^BenchmarkCleanupAtScale$' -benchtime=1x -timeout 30m ./session/
func BenchmarkCleanupAtScale(b *testing.B) {
	if os.Getenv("GORMSESSION_BENCH_CLEANUP") != "1" {
		b.Skip("set GORMSESSION_BENCH_CLEANUP=1 (and a PostgreSQL DSN) to run the cleanup-at-scale figure run")
	}
	expired, live := envInt("GORMSESSION_BENCH_EXPIRED", 1_000_000), envInt("GORMSESSION_BENCH_LIVE", 100_000)
	db := testdb.Open(b, testdb.Postgres, nil)
	table := testdb.Table(b, db)
	c, err := session.New[Cart](db, session.WithTable(table), session.WithCleanupFrequency(0))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now().UnixMilli()
	day := (24 * time.Hour).Milliseconds()

	start := time.Now()
	for lo := 1; lo <= expired; lo += 250_000 {
		hi := min(lo+250_000-1, expired)
		err := db.Exec(fmt.Sprintf(`INSERT INTO %q (id, subject, payload, version, created_at, updated_at, deadline, expires_at)
SELECT encode(sha256(('expired:' || g)::bytea), 'hex'), '', convert_to('{"items":["old"],"count":' || g || '}', 'UTF8'), 1,
       ?::bigint - 2 * ?::bigint, ?::bigint - 2 * ?::bigint, ?::bigint - ?::bigint - g, ?::bigint - ?::bigint - g
FROM generate_series(?::int, ?::int) AS g`, table), now, day, now, day, now, day, now, day, lo, hi).Error
		if err != nil {
			b.Fatal(err)
		}
	}
	tokens := make([]string, 0, live)
	for len(tokens) < live {
		var ids []string
		for range min(10_000, live-len(tokens)) {
			tok, id := token.New()
			tokens = append(tokens, tok)
			ids = append(ids, id)
		}
		err := db.Exec(fmt.Sprintf(`INSERT INTO %q (id, subject, payload, version, created_at, updated_at, deadline, expires_at)
SELECT unnest(?::text[]), '', convert_to('{"items":["live"],"count":1}', 'UTF8'), 1, ?::bigint, ?::bigint, ?::bigint + ?::bigint, ?::bigint + ?::bigint`, table),
			"{"+strings.Join(ids, ",")+"}", now, now, now, day, now, day).Error
		if err != nil {
			b.Fatal(err)
		}
	}
	if err := db.Exec(fmt.Sprintf(`ANALYZE %q`, table)).Error; err != nil {
		b.Fatal(err)
	}
	b.Logf("filled %d expired + %d live rows in %v", expired, live, time.Since(start).Round(time.Millisecond))

	// Readers: Load random live sessions until stopped.
	readers := func(stop *atomic.Bool) (*latencies, *atomic.Int64, *sync.WaitGroup) {
		lat, errs := &latencies{}, &atomic.Int64{}
		wg := &sync.WaitGroup{}
		for w := range 8 {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(w), 3))
				for !stop.Load() {
					t0 := time.Now()
					if _, err := c.Load(ctx, tokens[rng.IntN(len(tokens))]); err != nil {
						errs.Add(1)
					}
					lat.add(time.Since(t0))
				}
			})
		}
		return lat, errs, wg
	}
	var stop atomic.Bool
	base, baseErrs, wg := readers(&stop)
	time.Sleep(5 * time.Second) // a measurement window, not an expiry wait
	stop.Store(true)
	wg.Wait()

	b.ResetTimer()
	var during *latencies
	var duringErrs *atomic.Int64
	var deleted int64
	var took, slowest time.Duration
	var batches int
	for range b.N {
		stop.Store(false)
		var wg *sync.WaitGroup
		during, duringErrs, wg = readers(&stop)
		repo, err := store.New(db, table)
		if err != nil {
			b.Fatal(err)
		}
		// The options Container.Cleanup passes, plus OnBatch to time each batch.
		t0 := time.Now()
		deleted, err = repo.Cleanup(ctx, time.Now().UnixMilli(), store.CleanupOptions{
			BatchSize: 1000, BatchTimeout: 30 * time.Second,
			OnBatch: func(_ int64, d time.Duration) { batches++; slowest = max(slowest, d) },
		})
		took = time.Since(t0)
		stop.Store(true)
		wg.Wait()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()

	var liveLeft, expiredLeft int64
	if err := db.Table(table).Where("expires_at > ?", time.Now().UnixMilli()).Count(&liveLeft).Error; err != nil {
		b.Fatal(err)
	}
	if err := db.Table(table).Where("expires_at <= ?", time.Now().UnixMilli()).Count(&expiredLeft).Error; err != nil {
		b.Fatal(err)
	}
	if liveLeft != int64(live) || expiredLeft != 0 || deleted != int64(expired) {
		b.Fatalf("cleanup deleted %d; live left %d of %d; expired left %d", deleted, liveLeft, live, expiredLeft)
	}
	if baseErrs.Load()+duringErrs.Load() > 0 {
		b.Fatalf("%d Loads failed without cleanup, %d during", baseErrs.Load(), duringErrs.Load())
	}
	rate := float64(deleted) / took.Seconds()
	b.ReportMetric(rate, "rows/s")
	b.ReportMetric(float64(slowest.Microseconds())/1000, "slowest-batch-ms")
	b.ReportMetric(float64(base.quantile(0.99).Microseconds())/1000, "load-p99-idle-ms")
	b.ReportMetric(float64(during.quantile(0.99).Microseconds())/1000, "load-p99-cleanup-ms")
	b.Logf("FIGURE cleanup-at-scale postgres: deleted %d expired rows among %d live in %v (%.0f rows/s), %d batches of %d, slowest batch %v; live rows deleted 0; Load p50/p99 without cleanup %v/%v (%d loads), during cleanup %v/%v (%d loads)",
		deleted, live, took.Round(time.Millisecond), rate, batches, 1000, slowest.Round(time.Microsecond),
		base.quantile(0.5), base.quantile(0.99), len(base.d), during.quantile(0.5), during.quantile(0.99), len(during.d))
}

func envInt(name string, def int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(name), &n); err == nil && n > 0 {
		return n
	}
	return def
}
