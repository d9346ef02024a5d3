package sessiontest

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/gormsession/gormsession/internal/sessionstate"
	"github.com/gormsession/gormsession/session"
)

// WithClock makes the container read the time from now instead of
// time.Now, for every stored time and expiry check. Stored sessions can
// also be aged with Container.AdjustTime. nil makes session.New fail.
func WithClock(now func() time.Time) session.Option {
	return sessionstate.WithClock(now).(session.Option)
}

// WithCleanupRand makes the random cleanup roll its dice with src, so a
// test knows when it fires (rand.NewPCG(1, 2), say). The container
// serialises its calls to src. nil makes session.New fail.
func WithCleanupRand(src rand.Source) session.Option {
	return sessionstate.WithCleanupRand(src).(session.Option)
}

// WithCleanupBatchSize caps how many rows one cleanup batch deletes, so a
// test can watch a cleanup work in batches of a known size. Without it
// (and with n = 1000, the value that stands for "not set") the batches are
// sized by time for the database at hand, between 1000 rows and the cap.
// With n below 1000 every batch but the last deletes exactly n rows, and
// the cleanup stops after the first batch that finds fewer. It must be 1
// to 100000, or session.New fails.
func WithCleanupBatchSize(n int) session.Option {
	return sessionstate.WithCleanupBatchSize(n).(session.Option)
}

// Clock is a clock a test moves by hand, for WithClock. It is safe for
// concurrent use. The zero value is not usable; call NewClock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock that reads start until moved.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time; pass c.Now to WithClock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d (back when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
