package session_test

import (
	"context"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormsession/gormsession/session"
)

// latencies collects operation durations from many goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

// quantile returns the q-quantile (0 < q <= 1) of the durations seen, by
// the nearest-rank method; 0 when none were seen.
func (l *latencies) quantile(q float64) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return quantile(l.d, q)
}

func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s))*q+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}

// updateStats is an Observer that counts what Update and Save reported.
type updateStats struct {
	updates   atomic.Int64
	retries   atomic.Int64 // conflicts that Update retried
	gaveUp    atomic.Int64 // Updates that ended in ErrConflict
	maxRetry  atomic.Int64
	latencies latencies
}

func (u *updateStats) Observe(_ context.Context, e session.Event) {
	if e.Op != "update" {
		return
	}
	u.updates.Add(1)
	u.retries.Add(int64(e.Retries))
	for {
		m := u.maxRetry.Load()
		if int64(e.Retries) <= m || u.maxRetry.CompareAndSwap(m, int64(e.Retries)) {
			break
		}
	}
	if session.ErrorKind(e.Err) == "conflict" {
		u.gaveUp.Add(1)
	}
	u.latencies.add(e.Duration)
}

// scale returns n, or n*factor when GORMSESSION_TEST_SCALE=factor is set
// (for figure-producing runs), or n/shortDiv under -short.
func scale(n, shortDiv int) int {
	if f, err := strconv.Atoi(os.Getenv("GORMSESSION_TEST_SCALE")); err == nil && f > 1 {
		return n * f
	}
	if testing.Short() && shortDiv > 1 {
		return max(1, n/shortDiv)
	}
	return n
}

// figures reports whether this is a figure-producing run
// (GORMSESSION_TEST_FIGURES=1): heavier loads, nothing cut short.
func figures() bool { return os.Getenv("GORMSESSION_TEST_FIGURES") == "1" }

// silent returns db with a discarding logger, for the test's own raw SQL
// that names ids or payloads: those statements are the test's, not the
// library's, and must not reach a captured log.
func silent(db *gorm.DB) *gorm.DB {
	return db.Session(&gorm.Session{Logger: logger.Discard})
}
