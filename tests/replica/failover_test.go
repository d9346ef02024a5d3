package replica

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gormsession/gormsession/internal/faulttest"
	"github.com/gormsession/gormsession/session"
)

// ack is a Save that returned nil.
type ack struct {
	token, marker string
	start, end    time.Time
}

// failure is a Save that failed, by kind: "unavailable" (matches
// session.ErrUnavailable), "deadline" (the call's context deadline, without
// ErrUnavailable), or the error's text for anything else.
type failure struct {
	kind       string
	start, end time.Time
}

// TestFailoverSynchronousStandby runs 8 writers that save new sessions in
// a loop through one connection pool whose DSN names a primary and its
// synchronous standby (target_session_attrs=read-write), crashes the
// primary (pg_ctl stop -m immediate), and promotes the standby. The
// writers go on throughout. Errors are allowed while there is no primary,
// but each must match session.ErrUnavailable or be the call's own context
// deadline, and nothing may panic. Afterwards:
//   - every session whose Save returned nil, before, during or after the
//     failover, is on the new primary with its payload (0 lost: the
//     standby had each acknowledged commit on disk);
//   - the same *gorm.DB, pool and Container save again without a restart;
//   - the outage (from the crash to the first acknowledged Save that
//     started after it) and the errors by kind are logged.
func TestFailoverSynchronousStandby(t *testing.T) {
	t.Parallel()
	primary := faulttest.StartPostgres(t)
	standby := primary.StartReplica(faulttest.ReplicaOptions{Synchronous: true})
	dsn := fmt.Sprintf("host=127.0.0.1,127.0.0.1 port=%d,%d user=postgres dbname=postgres sslmode=disable "+
		"connect_timeout=2 target_session_attrs=read-write", primary.Port(), standby.Port())
	const writers = 8
	db := open(t, dsn, 2*writers)
	const table = "failover_sessions"
	c, err := session.New[Cart](db, session.WithTable(table))
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })

	const (
		opTimeout = 2 * time.Second
		detection = time.Second // from the crash to the promotion
	)
	var (
		mu    sync.Mutex
		acks  []ack
		fails []failure
		stop  atomic.Bool
	)
	writer := func(w int) {
		for i := 0; !stop.Load(); i++ {
			marker := "w" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
			start := time.Now()
			var tok string
			err := func() (err error) {
				defer func() {
					if r := recover(); r != nil {
						err = fmt.Errorf("panic: %v", r)
					}
				}()
				ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
				defer cancel()
				s, err := c.Open(ctx, "")
				if err != nil {
					return err
				}
				s.Data.Items = []string{marker}
				tok = s.Token()
				return c.Save(ctx, s)
			}()
			end := time.Now()
			mu.Lock()
			switch {
			case err == nil:
				acks = append(acks, ack{token: tok, marker: marker, start: start, end: end})
			case errors.Is(err, session.ErrUnavailable):
				fails = append(fails, failure{kind: "unavailable", start: start, end: end})
			case errors.Is(err, context.DeadlineExceeded):
				fails = append(fails, failure{kind: "deadline", start: start, end: end})
			default:
				fails = append(fails, failure{kind: err.Error(), start: start, end: end})
			}
			if end.Sub(start) > opTimeout+time.Second {
				fails = append(fails, failure{kind: fmt.Sprintf("a Save took %v, past its %v deadline", end.Sub(start), opTimeout), start: start, end: end})
			}
			mu.Unlock()
			if err == nil {
				continue
			}
			// A client backs off a little after a failure.
			time.Sleep(5 * time.Millisecond)
		}
	}
	acked := func(after time.Time) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, a := range acks {
			if a.start.After(after) {
				n++
			}
		}
		return n
	}
	// waitFor polls the writers' progress (not the clock) for up to 20s.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		end := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(end) {
				stop.Store(true)
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	var wg sync.WaitGroup
	t.Cleanup(func() { stop.Store(true); wg.Wait() }) // also when a require fails
	began := time.Now()
	for w := range writers {
		wg.Go(func() { writer(w) })
	}
	waitFor("saves before the crash", func() bool { return acked(began) >= 200 })
	mu.Lock()
	require.Empty(t, fails, "errors before the crash")
	mu.Unlock()

	crashed := time.Now()
	primary.StopImmediate() // returns once the server is gone
	stopped := time.Now()
	// Whatever promotes the standby takes a moment to notice the crash;
	// meanwhile there is no primary at all.
	time.Sleep(detection)
	promoting := time.Now()
	standby.Promote()
	promoted := time.Now()
	waitFor("a save after the failover", func() bool { return acked(promoting) > 0 })
	// Writes go on: the same pool finds the new primary by itself.
	resumed := time.Now()
	waitFor("saves after the failover", func() bool { return acked(resumed) >= 200 })
	stop.Store(true)
	wg.Wait()
	finished := time.Now()

	mu.Lock()
	defer mu.Unlock()
	sort.Slice(acks, func(i, j int) bool { return acks[i].end.Before(acks[j].end) })
	var lastBefore, recovered time.Time
	before, inFlight, withoutPrimary := 0, 0, 0
	for _, a := range acks {
		switch {
		case a.end.Before(crashed):
			before++
		case a.start.Before(stopped):
			inFlight++ // begun before the server was gone, answered after the stop began
		case a.end.Before(promoting):
			withoutPrimary++ // impossible: no server accepted writes then
		case recovered.IsZero():
			recovered = a.end
		}
		if a.end.Before(stopped) {
			lastBefore = a.end
		}
	}
	require.False(t, recovered.IsZero())
	kinds := map[string]int{}     // every failed Save, by kind
	afterward := map[string]int{} // those begun after the first acknowledged save after the promotion
	var others []string
	for _, f := range fails {
		kinds[f.kind]++
		if f.start.After(recovered) {
			afterward[f.kind]++
		}
		if f.kind != "unavailable" && f.kind != "deadline" {
			others = append(others, f.kind)
		}
	}

	// Every acknowledged session is on the new primary, read directly.
	direct := open(t, standby.DSN(), writers)
	check, err := session.New[Cart](direct, session.WithTable(table), session.WithoutAutoMigrate(), session.WithCleanupFrequency(0))
	require.NoError(t, err)
	t.Cleanup(func() { _ = check.Close() })
	var inRecovery bool
	require.NoError(t, direct.Raw("SELECT pg_is_in_recovery()").Scan(&inRecovery).Error)
	require.False(t, inRecovery, "the standby was not promoted")
	var lost, wrong atomic.Int64
	var cw sync.WaitGroup
	next := atomic.Int64{}
	for range writers {
		cw.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(acks) {
					return
				}
				s, err := check.Load(context.Background(), acks[i].token)
				switch {
				case errors.Is(err, session.ErrNotFound):
					lost.Add(1)
				case err != nil:
					wrong.Add(1)
				case len(s.Data.Items) != 1 || s.Data.Items[0] != acks[i].marker:
					wrong.Add(1)
				}
			}
		})
	}
	cw.Wait()

	// The pool the writers used: it now reaches the promoted standby.
	var port int
	require.NoError(t, db.Raw("SELECT inet_server_port()").Scan(&port).Error)
	s, err := c.Open(context.Background(), "")
	require.NoError(t, err)
	require.NoError(t, c.Save(context.Background(), s), "a save through the original pool after recovery")

	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	t.Logf("failover: %d writers, %d sessions acknowledged (%d before the crash, %d in flight while the primary was being stopped, "+
		"%d without a primary, %d after the promotion), lost %d, wrong payload %d; "+
		"stop -m immediate took %s, then %s without a primary (simulated detection), promote took %s, "+
		"first acknowledged save %s after promote began; outage (no save acknowledged) %s; "+
		"failed saves: ErrUnavailable %d, context deadline %d, other %d (begun after recovery: %v); whole run %s",
		writers, len(acks), before, inFlight, withoutPrimary, len(acks)-before-inFlight-withoutPrimary, lost.Load(), wrong.Load(),
		ms(stopped.Sub(crashed)), ms(promoting.Sub(stopped)), ms(promoted.Sub(promoting)),
		ms(recovered.Sub(promoting)), ms(recovered.Sub(lastBefore)),
		kinds["unavailable"], kinds["deadline"], len(others), afterward, ms(finished.Sub(began)))
	require.Zero(t, withoutPrimary, "saves acknowledged while no server accepted writes")
	require.Empty(t, others, "errors other than ErrUnavailable and deadlines, or panics")
	require.Zero(t, lost.Load(), "acknowledged sessions lost in the failover")
	require.Zero(t, wrong.Load(), "acknowledged sessions read back wrong")
	require.Equal(t, standby.Port(), port, "the pool does not reach the new primary")
	require.NotEmpty(t, fails, "no Save failed: the crash was not seen, and the test proves less than it says")
}
