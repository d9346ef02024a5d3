package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gormsession/gormsession/bench"
	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/session"
)

// hardStopFigure: a private PostgreSQL server stopped hard and restarted
// under load (TestFaultPostgresHardStopAndRecover).
var hardStopFigure = figure{
	name:  "hardstop",
	title: "PostgreSQL stopped hard (pg_ctl stop -m immediate) and restarted under 6 goroutines of mixed work",
	columns: []string{"sessions committed before the stop", "in all", "calls failed while locked or down",
		"server down", "first save after `pg_ctl start` returned", "counter / acknowledged / attempted updates",
		"random cleanups started / failed", "panics", "late returns", "committed sessions lost"},
	run: func(ctx context.Context, r *runner) [][]string {
		if !r.has(bench.Postgres) {
			return nil
		}
		bin, err := findServerBin(r.pgbin)
		if err != nil {
			log.Printf("hardstop: skipped: %v", err)
			return [][]string{{"skipped: " + err.Error(), "", "", "", "", "", "", "", "", ""}}
		}
		row, err := runHardStop(ctx, r, bin)
		if err != nil {
			r.problem("hardstop: %v", err)
			return [][]string{{"error: " + oneLine(err.Error()), "", "", "", "", "", "", "", "", ""}}
		}
		return [][]string{row}
	},
}

// hardStopDeadline is the context deadline of every call; a call that
// returns later than this plus lateSlack is a late return.
const (
	hardStopDeadline = 2 * time.Second
	lateSlack        = 5 * time.Second
)

func runHardStop(ctx context.Context, r *runner, bin string) ([]string, error) {
	pg, err := startPostgres(bin)
	if err != nil {
		return nil, err
	}
	r.atExit(pg.remove)
	defer pg.remove()
	db, err := openGorm(bench.Postgres, pg.dsn(), 8)
	if err != nil {
		return nil, err
	}
	defer closeGorm(db)
	c, err := session.New[cart](db, session.WithTable("fault_sessions"), session.WithCleanupFrequency(10),
		session.WithCleanupTimeout(2*time.Second), session.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, err
	}
	defer c.Close()
	counter, err := c.Open(ctx, "")
	if err != nil {
		return nil, err
	}
	if err := c.Save(ctx, counter); err != nil {
		return nil, err
	}

	var (
		mu        sync.Mutex
		committed = map[string]string{} // token -> payload marker
		late      int
		panics    []string
		okUpdates atomic.Int64
		tried     atomic.Int64
		failures  atomic.Int64
		stop      atomic.Bool
		phase     atomic.Int32 // 0 up, 1 locked or down, 2 back
		downErrs  atomic.Int64
	)
	op := func(name string, fn func(ctx context.Context) error) error {
		cctx, cancel := context.WithTimeout(ctx, hardStopDeadline)
		defer cancel()
		start := time.Now()
		var err error
		func() {
			defer func() {
				if p := recover(); p != nil {
					mu.Lock()
					panics = append(panics, fmt.Sprintf("%s: %v", name, p))
					mu.Unlock()
				}
			}()
			err = fn(cctx)
		}()
		if time.Since(start) > hardStopDeadline+lateSlack {
			mu.Lock()
			late++
			mu.Unlock()
		}
		if err != nil {
			failures.Add(1)
			if phase.Load() == 1 {
				downErrs.Add(1)
			}
		}
		return err
	}
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			var mine []string
			for i := 0; !stop.Load(); i++ {
				switch rng.IntN(3) {
				case 0: // a new session
					marker := "w" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
					var tok string
					err := op("save", func(ctx context.Context) error {
						s, err := c.Open(ctx, "")
						if err != nil {
							return err
						}
						s.Data.Items = []string{marker}
						tok = s.Token()
						return c.Save(ctx, s)
					})
					if err == nil {
						mu.Lock()
						committed[tok] = marker
						mu.Unlock()
						mine = append(mine, tok)
					}
				case 1: // the shared counter
					tried.Add(1)
					err := op("update", func(ctx context.Context) error {
						_, err := c.Update(ctx, counter.Token(), func(c *cart) error { c.Count++; return nil })
						return err
					})
					if err == nil {
						okUpdates.Add(1)
					}
				default: // read one of ours back
					if len(mine) == 0 {
						continue
					}
					tok := mine[rng.IntN(len(mine))]
					_ = op("open", func(ctx context.Context) error {
						s, err := c.Open(ctx, tok)
						if err == nil && s.IsNew() {
							mu.Lock()
							panics = append(panics, "a committed session was not found by Open")
							mu.Unlock()
						}
						return err
					})
				}
			}
		})
	}
	// Whatever happens below, the workers stop before this returns.
	defer func() { stop.Store(true); wg.Wait() }()
	waitFor := func(what string, cond func() bool) error {
		end := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(end) {
				return fmt.Errorf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return nil
	}
	ncommitted := func() int { mu.Lock(); defer mu.Unlock(); return len(committed) }

	// Up: some work commits.
	if err := waitFor("sessions before the stop", func() bool { return ncommitted() >= 20 }); err != nil {
		return nil, err
	}
	if n := failures.Load(); n > 0 {
		r.problem("hardstop: %d calls failed while the server was up", n)
	}
	before := ncommitted()

	// Get a random cleanup stuck behind a lock that blocks writes, so
	// that it is running when the server goes away.
	phase.Store(1)
	release, err := lockTable(ctx, db, bench.Postgres, "fault_sessions", false)
	if err != nil {
		return nil, err
	}
	defer release()
	started := hooks.Of(db).Stats("fault_sessions").Started
	if err := waitFor("a cleanup blocked by the lock", func() bool { return hooks.Of(db).Stats("fault_sessions").Started > started }); err != nil {
		return nil, err
	}

	if err := pg.stopImmediate(); err != nil {
		return nil, err
	}
	stoppedAt := time.Now()
	if err := waitFor("errors while down", func() bool { return downErrs.Load() >= 200 && time.Since(stoppedAt) > time.Second }); err != nil {
		return nil, err
	}
	downFor := time.Since(stoppedAt)

	if err := pg.start(); err != nil {
		return nil, err
	}
	restartedAt := time.Now()
	phase.Store(2)
	// Recovery: the same container saves again.
	var recovered time.Duration
	if err := waitFor("recovery", func() bool {
		s, err := c.Open(ctx, "")
		if err != nil || c.Save(ctx, s) != nil {
			return false
		}
		recovered = time.Since(restartedAt)
		return true
	}); err != nil {
		return nil, err
	}
	afterRestart := ncommitted()
	if err := waitFor("sessions after the restart", func() bool { return ncommitted() >= afterRestart+20 }); err != nil {
		return nil, err
	}
	stop.Store(true)
	wg.Wait()
	hooks.Of(db).Wait()

	lost := 0
	for tok, marker := range committed {
		s, err := c.Load(ctx, tok)
		if err != nil || len(s.Data.Items) != 1 || s.Data.Items[0] != marker {
			lost++
		}
	}
	got, err := c.Load(ctx, counter.Token())
	if err != nil {
		return nil, err
	}
	st := hooks.Of(db).Stats("fault_sessions")
	switch {
	case len(panics) > 0:
		r.problem("hardstop: %d panics or missing sessions, the first: %s", len(panics), panics[0])
	case late > 0:
		r.problem("hardstop: %d calls returned later than their deadline plus %v", late, lateSlack)
	case lost > 0:
		r.problem("hardstop: %d committed sessions lost", lost)
	case int64(got.Data.Count) < okUpdates.Load() || int64(got.Data.Count) > tried.Load():
		r.problem("hardstop: counter %d, acknowledged %d, attempted %d", got.Data.Count, okUpdates.Load(), tried.Load())
	case downErrs.Load() == 0 || st.Failures == 0:
		r.problem("hardstop: no call or no random cleanup failed while the server was down; the run proves less than it says")
	}
	return []string{count(before), count(len(committed)), count(downErrs.Load()), dur(downFor), dur(recovered),
		fmt.Sprintf("%s / %s / %s", count(got.Data.Count), count(okUpdates.Load()), count(tried.Load())),
		fmt.Sprintf("%s / %s", count(st.Started), count(st.Failures)),
		count(len(panics)), count(late), count(lost)}, nil
}
