package session_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"log"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormsession/gormsession/hooks"
	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessiontest"
)

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSecretsNeverInErrorsOrLogs drives every operation, and every kind of
// failure the library reports (conflict, not found, too large, corrupt
// row, duplicate key from the database, cancelled context, random cleanup
// refused by the database, idle refresh), with GORM's logger at Info and
// the library's slog logger at Debug. No token, stored id (either case),
// subject or payload marker appears in any error string or log line,
// although the statements themselves are logged.
func TestSecretsNeverInErrorsOrLogs(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.All {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			gormLog, slogLog := &syncBuffer{}, &syncBuffer{}
			db := testdb.Open(t, d, &gorm.Config{Logger: logger.New(log.New(gormLog, "", 0),
				logger.Config{LogLevel: logger.Info, Colorful: false})})
			var mark [6]byte
			_, _ = rand.Read(mark[:])
			payload := "PAYLOAD-" + hex.EncodeToString(mark[:])
			subject := "SUBJECT-" + hex.EncodeToString(mark[:])
			clock := newClock()
			e := setup(t, db, session.WithLogger(slog.New(slog.NewTextHandler(slogLog, &slog.HandlerOptions{Level: slog.LevelDebug}))),
				sessiontest.WithClock(clock.Now), session.WithIdleTimeout(time.Hour), session.WithLifetime(24*time.Hour),
				session.WithMaxPayloadSize(1024), session.WithCleanupFrequency(1))
			ctx := context.Background()
			var tokens []string
			var errs []error
			note := func(err error) {
				if err != nil {
					errs = append(errs, err)
				}
			}
			newSession := func() *session.Session[Cart] {
				s, err := e.c.Open(ctx, "")
				require.NoError(t, err)
				s.Data.Items = []string{payload}
				s.SetSubject(subject)
				require.NoError(t, e.c.Save(ctx, s))
				tokens = append(tokens, s.Token())
				return s
			}
			a := newSession()
			b := newSession()

			// Ordinary traffic, an idle refresh included.
			_, err := e.c.Load(ctx, a.Token())
			require.NoError(t, err)
			clock.Advance(10 * time.Minute)
			_, err = e.c.Open(ctx, a.Token())
			require.NoError(t, err)
			_, err = e.c.Update(ctx, a.Token(), func(c *Cart) error { c.Count++; return nil })
			require.NoError(t, err)
			_, err = e.c.List(ctx, subject)
			require.NoError(t, err)

			// Conflict.
			stale, err := e.c.Load(ctx, b.Token())
			require.NoError(t, err)
			_, err = e.c.Update(ctx, b.Token(), func(c *Cart) error { c.Count++; return nil })
			require.NoError(t, err)
			stale.Data.Items = append(stale.Data.Items, payload)
			err = e.c.Save(ctx, stale)
			require.ErrorIs(t, err, session.ErrConflict)
			note(err)
			note(e.c.Renew(ctx, stale))

			// Too large.
			big := newSession()
			big.Data.Items = []string{strings.Repeat(payload, 100)}
			err = e.c.Save(ctx, big)
			require.ErrorIs(t, err, session.ErrTooLarge)
			note(err)

			// Corrupt row: Load errs, Open logs a warning.
			c := newSession()
			setPayload(t, e, c.Token(), []byte(`{"items":["`+payload+`"],"count":"`+payload+`"}`))
			_, err = e.c.Load(ctx, c.Token())
			require.ErrorIs(t, err, session.ErrCorrupt)
			note(err)
			_, err = e.c.Update(ctx, c.Token(), func(*Cart) error { return nil })
			note(err)
			_, err = e.c.Open(ctx, c.Token())
			require.NoError(t, err)

			// Duplicate key from the database: two copies of one new
			// session with different data.
			fresh, err := e.c.Open(ctx, "")
			require.NoError(t, err)
			fresh.Data.Items = []string{payload}
			tokens = append(tokens, fresh.Token())
			twin := *fresh
			twin.Data.Items = []string{payload, payload}
			require.NoError(t, e.c.Save(ctx, fresh))
			err = e.c.Save(ctx, &twin)
			require.Error(t, err)
			note(err)

			// Not found after destroy, renewed-away token.
			d1 := newSession()
			require.NoError(t, e.c.Destroy(ctx, d1))
			note(e.c.Save(ctx, d1))
			_, err = e.c.Load(ctx, d1.Token())
			note(err)
			r := newSession()
			old := r.Token()
			require.NoError(t, e.c.Renew(ctx, r))
			tokens = append(tokens, r.Token())
			_, err = e.c.Load(ctx, old)
			note(err)

			// Cancelled context.
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			_, err = e.c.Load(cctx, a.Token())
			note(err)
			note(e.c.Save(cctx, a))

			// The random cleanup, refused by the database.
			hooks.Of(db).Wait()
			refuseDeletes(t, db, e.table)
			require.NoError(t, e.c.AdjustTime(ctx, -48*time.Hour))
			e2 := newSession()
			_, err = e.c.Load(ctx, e2.Token())
			require.NoError(t, err)
			hooks.Of(db).Wait()
			_, err = e.c.Cleanup(ctx)
			require.Error(t, err)
			note(err)
			_, err = e.c.DestroySubject(ctx, subject)
			note(err)
			_, err = e.c.DestroySubject(ctx, "")
			note(err)

			// A database that is gone.
			gone, _ := e.c.Open(ctx, "")
			gone.Data.Items = []string{payload}
			tokens = append(tokens, gone.Token())
			hooks.Of(db).Wait()
			sqlDB, _ := db.DB()
			require.NoError(t, sqlDB.Close())
			note(e.c.Save(ctx, gone))
			_, err = e.c.Load(ctx, a.Token())
			note(err)

			require.GreaterOrEqual(t, len(errs), 14)
			kinds := map[string]bool{}
			for _, err := range errs {
				kinds[session.ErrorKind(err)] = true
				require.True(t, strings.HasPrefix(err.Error(), "session: "), "an error names its package: %s", err)
			}
			for _, k := range []string{"conflict", "not_found", "too_large", "corrupt", "invalid", "canceled", "database"} {
				require.True(t, kinds[k], "no %s error was produced", k)
			}
			secrets := []string{payload, subject}
			for _, tok := range tokens {
				id := idOf(t, tok)
				secrets = append(secrets, tok, id, strings.ToUpper(id))
			}
			glog, slg := gormLog.String(), slogLog.String()
			require.Contains(t, glog, "INSERT INTO", "GORM logged nothing; the test proves nothing")
			require.Contains(t, slg, "random cleanup failed")
			require.Contains(t, slg, "cannot be decoded")
			for _, s := range secrets {
				require.False(t, strings.Contains(glog, s), "a secret is in GORM's log (MySQL quotes the key in duplicate-entry errors)")
				require.False(t, strings.Contains(slg, s), "a secret is in the slog log")
				for _, err := range errs {
					require.False(t, strings.Contains(err.Error(), s), "a secret is in an error string")
				}
			}
		})
	}
}
