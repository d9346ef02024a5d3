package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/plugin/dbresolver"

	"github.com/gormsession/gormsession/internal/faulttest"
	"github.com/gormsession/gormsession/internal/token"
	"github.com/gormsession/gormsession/session"
)

// resolverCounts are the outcomes of the read-your-writes cycles. The
// first group must stay zero; the second shows that the replica lagged and
// that the application's own reads did go to it.
type resolverCounts struct {
	cycles int

	falseLogouts      int // a saved (or just renewed) session read back as new or not found
	staleReads        int // a session read back with an older payload than the one saved
	falseConflicts    int // ErrConflict from a Save in a plain load-save sequence
	updateNotFound    int // Update of a just-saved session gave ErrNotFound
	aliveAfterRenew   int // the token a Renew replaced still exists or loads
	loggedInAfterDest int // a destroyed session still exists or opens
	notOnPrimary      int // a saved session's row is missing on the primary right after Save
	otherErrors       int

	replicaBehind  int // right after Save, the row was not yet on the replica (read directly)
	appReadsMissed int // right after Save, the application's read through the resolver did not see the row
	oldOnReplica   int // right after Renew, the replica still had the old token's row
	// right after Destroy and the checks that follow it, the replica still
	// had the destroyed session's row
	destroyedOnReplica int
}

// TestResolverReadYourWrites registers gorm.io/plugin/dbresolver globally
// on the *gorm.DB given to session.New, with a private primary as the
// source and its streaming replica, applying changes with no delay or
// 200ms late, as the replica. Every cycle saves a new session and then
// plays the requests that follow it: open by token, load and save twice,
// Update, a login's Renew and a logout's Destroy; every tenth cycle waits
// for the replica to catch up before the login, so that the replica holds
// the rows Renew and Destroy remove. A statement of the
// library sent to the replica would show as a false logout, a stale read,
// a false conflict, an Update of a just-saved session that finds nothing,
// a token alive after Renew or a session alive after Destroy; all must be
// zero. The test also proves the resolver is really active on that
// *gorm.DB: the application's own SELECTs through it answer from the
// replica (pg_is_in_recovery() is true there, and right after a Save they
// miss the new row), while the row is on the primary, read directly.
func TestResolverReadYourWrites(t *testing.T) {
	t.Parallel()
	for _, delay := range []time.Duration{0, 200 * time.Millisecond} {
		t.Run(fmt.Sprintf("apply_delay=%s", delay), func(t *testing.T) {
			t.Parallel()
			primary := faulttest.StartPostgres(t)
			replica := primary.StartReplica(faulttest.ReplicaOptions{ApplyDelay: delay})

			db := open(t, primary.DSN(), 8)
			resolver := dbresolver.Register(dbresolver.Config{
				Sources:  []gorm.Dialector{postgres.Open(primary.DSN())},
				Replicas: []gorm.Dialector{postgres.Open(replica.DSN())},
			})
			require.NoError(t, db.Use(resolver))
			// The resolver's own pools; registered after open's cleanup,
			// so closed before it waits for the random cleanup.
			t.Cleanup(func() {
				_ = resolver.Call(func(p gorm.ConnPool) error {
					if c, ok := p.(io.Closer); ok {
						_ = c.Close()
					}
					return nil
				})
			})
			// Direct pools, without the resolver, to see where rows are.
			onPrimary := open(t, primary.DSN(), 4)
			onReplica := open(t, replica.DSN(), 4)

			const table = "rr_sessions"
			c, err := session.New[Cart](db, session.WithTable(table))
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })

			ctx := context.Background()
			// The table reaches the replica (after the apply delay).
			require.Eventually(t, func() bool {
				var exists bool
				return onReplica.Raw("SELECT to_regclass(?) IS NOT NULL", table).Scan(&exists).Error == nil && exists
			}, time.Minute, 10*time.Millisecond, "the sessions table never reached the replica")
			// The resolver is active: a plain query of the application
			// through the same *gorm.DB runs on the replica, and so does
			// the session table's count...
			var inRecovery bool
			require.NoError(t, db.WithContext(ctx).Raw("SELECT pg_is_in_recovery()").Scan(&inRecovery).Error)
			require.True(t, inRecovery, "an application SELECT through the resolver did not reach the replica")
			var port int
			require.NoError(t, db.WithContext(ctx).Raw("SELECT inet_server_port()").Scan(&port).Error)
			require.Equal(t, replica.Port(), port)
			// ...while a write through it goes to the primary.
			require.NoError(t, db.WithContext(ctx).Exec("CREATE TABLE app_probe (n int)").Error)

			const workers, perWorker = 4, 75
			var (
				mu     sync.Mutex
				total  resolverCounts
				sample []string // the first unexpected errors
			)
			start := time.Now()
			var wg sync.WaitGroup
			for w := range workers {
				wg.Go(func() {
					var mine resolverCounts
					var errs []string
					for i := range perWorker {
						cycle(ctx, c, db, onPrimary, onReplica, table, fmt.Sprintf("user:%d:%d", w, i), i%10 == 0, &mine, &errs)
					}
					mu.Lock()
					defer mu.Unlock()
					total.add(mine)
					sample = append(sample, errs...)
				})
			}
			wg.Wait()
			took := time.Since(start)

			t.Logf("apply delay %s: %d cycles in %s; failures: false logouts %d, stale reads %d, false conflicts %d, "+
				"Update ErrNotFound %d, tokens alive after Renew %d, logged in after Destroy %d, not on primary %d, other errors %d; "+
				"lag seen: row not yet on replica after Save %d, application read through resolver missed it %d, old token still on replica after Renew %d, destroyed session still on replica %d",
				delay, total.cycles, took.Round(time.Millisecond), total.falseLogouts, total.staleReads, total.falseConflicts,
				total.updateNotFound, total.aliveAfterRenew, total.loggedInAfterDest, total.notOnPrimary, total.otherErrors,
				total.replicaBehind, total.appReadsMissed, total.oldOnReplica, total.destroyedOnReplica)

			require.Empty(t, sample, "unexpected errors")
			require.Equal(t, workers*perWorker, total.cycles)
			require.Zero(t, total.falseLogouts, "false logouts")
			require.Zero(t, total.staleReads, "stale reads")
			require.Zero(t, total.falseConflicts, "false conflicts")
			require.Zero(t, total.updateNotFound, "Update of a just-saved session: ErrNotFound")
			require.Zero(t, total.aliveAfterRenew, "tokens alive after Renew")
			require.Zero(t, total.loggedInAfterDest, "sessions alive after Destroy")
			require.Zero(t, total.notOnPrimary, "saved rows missing on the primary")
			if delay > 0 {
				// With a 200ms delay the application's reads right after a
				// Save lag: the same reads from the library would have
				// logged users out. Not asserted for no delay, where the
				// replica often catches up first.
				require.Positive(t, total.appReadsMissed, "the replica never lagged: the test proves nothing")
				require.Positive(t, total.oldOnReplica, "the replica never held a renewed token's old row: the test proves less than it says")
			}

			// Still after the load: the application's reads go to the
			// replica, the library's rows are on the primary.
			require.NoError(t, db.WithContext(ctx).Raw("SELECT pg_is_in_recovery()").Scan(&inRecovery).Error)
			require.True(t, inRecovery)
			var probeOnPrimary int64
			require.NoError(t, onPrimary.Raw("SELECT count(*) FROM pg_tables WHERE tablename = 'app_probe'").Scan(&probeOnPrimary).Error)
			require.EqualValues(t, 1, probeOnPrimary, "the application's write through the resolver did not reach the primary")
		})
	}
}

// cycle is one session's life, as described on TestResolverReadYourWrites.
func cycle(ctx context.Context, c *session.Container[Cart], app, onPrimary, onReplica *gorm.DB,
	table, subject string, waitReplica bool, n *resolverCounts, errs *[]string) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	n.cycles++
	unexpected := func(step string, err error) {
		n.otherErrors++
		if len(*errs) < 5 {
			*errs = append(*errs, step+": "+err.Error())
		}
	}
	rowCount := func(db *gorm.DB, tok string) int64 {
		id, _ := token.Parse(tok) // the table's key: the token's hash
		var k int64
		if err := db.WithContext(ctx).Table(table).Where("id = ?", id).Count(&k).Error; err != nil {
			unexpected("count", err)
			return -1
		}
		return k
	}

	// A new session is saved (the response that sets the cookie).
	s, err := c.Open(ctx, "")
	if err != nil {
		unexpected("open new", err)
		return
	}
	s.Data.N = 1
	if err := c.Save(ctx, s); err != nil {
		unexpected("save new", err)
		return
	}
	tok := s.Token()
	if rowCount(onPrimary, tok) != 1 {
		n.notOnPrimary++
	}
	if rowCount(app, tok) == 0 { // through the resolver: the replica
		n.appReadsMissed++
	}
	if rowCount(onReplica, tok) == 0 {
		n.replicaBehind++
	}

	// The next request updates it at once.
	if _, err := c.Update(ctx, tok, func(d *Cart) error { d.N++; return nil }); err != nil {
		if errors.Is(err, session.ErrNotFound) {
			n.updateNotFound++
			return
		}
		unexpected("update just saved", err)
		return
	}

	// The next request opens it by its cookie: still logged in.
	o, err := c.Open(ctx, tok)
	switch {
	case err != nil:
		unexpected("open saved", err)
		return
	case o.IsNew():
		n.falseLogouts++
		return
	case o.Data.N != 2:
		n.staleReads++
	}

	// Two requests in sequence: load, change, save; never a conflict.
	for want := 3; want <= 4; want++ {
		l, err := c.Load(ctx, tok)
		switch {
		case errors.Is(err, session.ErrNotFound):
			n.falseLogouts++
			return
		case err != nil:
			unexpected("load", err)
			return
		case l.Data.N != want-1:
			n.staleReads++
		}
		l.Data.N = want
		if err := c.Save(ctx, l); err != nil {
			if errors.Is(err, session.ErrConflict) {
				n.falseConflicts++
				return
			}
			unexpected("save loaded", err)
			return
		}
	}

	if waitReplica {
		// Let the replica catch up, so that it holds the row that Renew
		// and Destroy are about to move or delete: a read of the library
		// sent to it would then find a dead token alive.
		for end := time.Now().Add(10 * time.Second); rowCount(onReplica, tok) != 1; {
			if time.Now().After(end) {
				unexpected("replica catch-up", errors.New("the row did not reach the replica in 10s"))
				return
			}
			time.Sleep(5 * time.Millisecond) // polling for replication, not for time to pass
		}
	}

	// Login: a new subject, moved to a new token.
	u, err := c.Update(ctx, tok, func(d *Cart) error { d.Items = append(d.Items, "x"); return nil })
	if err != nil {
		if errors.Is(err, session.ErrNotFound) {
			n.updateNotFound++
			return
		}
		unexpected("update", err)
		return
	}
	if u.Data.N != 4 {
		n.staleReads++
	}
	u.SetSubject(subject)
	if err := c.Renew(ctx, u); err != nil {
		if errors.Is(err, session.ErrConflict) {
			n.falseConflicts++
			return
		}
		unexpected("renew", err)
		return
	}
	if rowCount(onReplica, tok) == 1 {
		n.oldOnReplica++
	}
	alive, err := c.Exists(ctx, tok)
	if err != nil {
		unexpected("exists old", err)
		return
	}
	if _, lerr := c.Load(ctx, tok); alive || !errors.Is(lerr, session.ErrNotFound) {
		if lerr != nil && !errors.Is(lerr, session.ErrNotFound) {
			unexpected("load old", lerr)
			return
		}
		n.aliveAfterRenew++
	}
	newTok := u.Token()
	in, err := c.Open(ctx, newTok)
	switch {
	case err != nil:
		unexpected("open renewed", err)
		return
	case in.IsNew() || in.Subject() != subject:
		n.falseLogouts++
		return
	case in.Data.N != 4:
		n.staleReads++
	}

	// Logout.
	if err := c.Destroy(ctx, in); err != nil {
		unexpected("destroy", err)
		return
	}
	alive, err = c.Exists(ctx, newTok)
	if err != nil {
		unexpected("exists destroyed", err)
		return
	}
	after, err := c.Open(ctx, newTok)
	if err != nil {
		unexpected("open destroyed", err)
		return
	}
	if alive || !after.IsNew() {
		n.loggedInAfterDest++
	}
	if rowCount(onReplica, newTok) == 1 {
		n.destroyedOnReplica++
	}
}

func (r *resolverCounts) add(o resolverCounts) {
	r.cycles += o.cycles
	r.falseLogouts += o.falseLogouts
	r.staleReads += o.staleReads
	r.falseConflicts += o.falseConflicts
	r.updateNotFound += o.updateNotFound
	r.aliveAfterRenew += o.aliveAfterRenew
	r.loggedInAfterDest += o.loggedInAfterDest
	r.notOnPrimary += o.notOnPrimary
	r.otherErrors += o.otherErrors
	r.replicaBehind += o.replicaBehind
	r.appReadsMissed += o.appReadsMissed
	r.oldOnReplica += o.oldOnReplica
	r.destroyedOnReplica += o.destroyedOnReplica
}

// TestResolverWithReplicaAsDefaultConnection: an application that opened
// its *gorm.DB on a replica and lists the primary as the resolver's source
// still gets every statement of the library on the primary, transactions
// included (the migration, and Update's locked retries under contention,
// which begin a transaction rather than run a single statement).
func TestResolverWithReplicaAsDefaultConnection(t *testing.T) {
	t.Parallel()
	primary := faulttest.StartPostgres(t)
	replica := primary.StartReplica(faulttest.ReplicaOptions{})

	db := open(t, replica.DSN(), 8)
	resolver := dbresolver.Register(dbresolver.Config{
		Sources: []gorm.Dialector{postgres.Open(primary.DSN())},
	})
	require.NoError(t, db.Use(resolver))
	t.Cleanup(func() {
		_ = resolver.Call(func(p gorm.ConnPool) error {
			if c, ok := p.(io.Closer); ok {
				_ = c.Close()
			}
			return nil
		})
	})

	c, err := session.New[Cart](db, session.WithTable("rr_default_replica"))
	require.NoError(t, err, "the migration's transaction must run on the primary")
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	s, err := c.Open(ctx, "")
	require.NoError(t, err)
	require.NoError(t, c.Save(ctx, s))

	// Contention makes Update take its locked, transactional path.
	const workers, each = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for range workers {
		wg.Go(func() {
			for range each {
				if _, err := c.Update(ctx, s.Token(), func(c *Cart) error { c.N++; return nil }); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	got, err := c.Load(ctx, s.Token())
	require.NoError(t, err)
	require.Equal(t, workers*each, got.Data.N)
}
