package main

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gormsession/gormsession/bench"
	"github.com/gormsession/gormsession/repository"
)

// cleanupFigure: the cleanup of a large PostgreSQL table while readers
// load live sessions.
var cleanupFigure = figure{
	name:  "cleanup",
	title: "cleanup at scale on PostgreSQL: %s",
	load: func(r *runner) string {
		return fmt.Sprintf("%s expired rows among %s live ones, 8 readers", count(r.n(1_000_000)), count(r.n(100_000)))
	},
	columns: []string{"database", "fill", "cleanup time", "rows/s", "batches", "slowest batch", "live rows deleted",
		"`Load` p50 / p99 without cleanup", "`Load` p50 / p99 during cleanup"},
	run: func(ctx context.Context, r *runner) [][]string {
		if !r.has(bench.Postgres) {
			return nil
		}
		return [][]string{r.one(ctx, bench.Postgres, "cleanup", 9, func(ctx context.Context, t *target) ([]string, error) {
			return runCleanup(ctx, r, t, r.n(1_000_000), r.n(100_000))
		})}
	},
}

// cleanupWindow is how long the readers run without a cleanup, for the
// baseline latencies.
const cleanupWindow = 5 * time.Second

func runCleanup(ctx context.Context, r *runner, t *target, expired, live int) ([]string, error) {
	c, err := t.container()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	db := t.db.WithContext(ctx)
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
			return nil, fmt.Errorf("fill expired: %w", err)
		}
	}
	tokens := make([]string, 0, live)
	for len(tokens) < live {
		var ids []string
		for range min(10_000, live-len(tokens)) {
			tok := bench.NewToken()
			tokens = append(tokens, tok)
			ids = append(ids, bench.StoredID(tok))
		}
		err := db.Exec(fmt.Sprintf(`INSERT INTO %q (id, subject, payload, version, created_at, updated_at, deadline, expires_at)
SELECT unnest(?::text[]), '', convert_to('{"items":["live"],"count":1}', 'UTF8'), 1, ?::bigint, ?::bigint, ?::bigint + ?::bigint, ?::bigint + ?::bigint`, table),
			"{"+strings.Join(ids, ",")+"}", now, now, now, day, now, day).Error
		if err != nil {
			return nil, fmt.Errorf("fill live: %w", err)
		}
	}
	if err := db.Exec(fmt.Sprintf(`ANALYZE %q`, table)).Error; err != nil {
		return nil, err
	}
	fill := time.Since(start)
	log.Printf("cleanup: filled %d expired + %d live rows in %v", expired, live, fill.Round(time.Millisecond))

	// readers Load random live sessions until stop is set.
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
	time.Sleep(cleanupWindow) // a measurement window
	stop.Store(true)
	wg.Wait()

	stop.Store(false)
	during, duringErrs, wg := readers(&stop)
	repo, err := repository.New(t.db, table)
	if err != nil {
		stop.Store(true)
		wg.Wait()
		return nil, err
	}
	// The options Container.Cleanup uses, plus OnBatch to time each batch.
	var batches int
	var slowest time.Duration
	t0 := time.Now()
	deleted, err := repo.Cleanup(ctx, time.Now(), repository.CleanupOptions{
		BatchSize: 1000, BatchTimeout: 30 * time.Second,
		OnBatch: func(_ int64, d time.Duration) { batches++; slowest = max(slowest, d) },
	})
	took := time.Since(t0)
	stop.Store(true)
	wg.Wait()
	if err != nil {
		return nil, fmt.Errorf("cleanup: %w", err)
	}

	var liveLeft, expiredLeft int64
	at := time.Now().UnixMilli()
	if err := db.Table(table).Where("expires_at > ?", at).Count(&liveLeft).Error; err != nil {
		return nil, err
	}
	if err := db.Table(table).Where("expires_at <= ?", at).Count(&expiredLeft).Error; err != nil {
		return nil, err
	}
	if liveLeft != int64(live) || expiredLeft != 0 || deleted != int64(expired) {
		r.problem("cleanup: deleted %d of %d; live left %d of %d; expired left %d", deleted, expired, liveLeft, live, expiredLeft)
	}
	if n := baseErrs.Load() + duringErrs.Load(); n > 0 {
		r.problem("cleanup: %d Loads failed without cleanup, %d during", baseErrs.Load(), duringErrs.Load())
	}
	return []string{dur(fill), dur(took), rate(deleted, took), fmt.Sprintf("%s x %s", count(batches), count(1000)),
		dur(slowest), count(int64(live) - liveLeft),
		fmt.Sprintf("%s / %s (%s loads)", dur(base.quantile(0.5)), dur(base.quantile(0.99)), count(base.len())),
		fmt.Sprintf("%s / %s (%s loads)", dur(during.quantile(0.5)), dur(during.quantile(0.99)), count(during.len())),
	}, nil
}
