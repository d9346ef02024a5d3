package session_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/gormsession/gormsession/codec"
	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
)

func TestCorruptRowsGiveTypedErrors(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, db *gorm.DB) {
		for name, opt := range map[string]session.Option{
			"json":   session.WithCodec(codec.JSON{}),
			"gob":    session.WithCodec(codec.Gob{}),
			"sealed": session.WithEncryption(bytes.Repeat([]byte{4}, 32)),
		} {
			e := setup(t, db, opt, session.WithLogger(slog.New(slog.DiscardHandler)))
			ctx := context.Background()
			good, _ := e.c.Open(ctx, "")
			good.Data.Items = []string{"keep"}
			require.NoError(t, e.c.Save(ctx, good))
			bad, _ := e.c.Open(ctx, "")
			bad.Data.Items = []string{"lost"}
			require.NoError(t, e.c.Save(ctx, bad))

			require.NoError(t, db.Table(e.table).Where("id = ?", idOf(t, bad.Token())).
				Update("payload", []byte(`{"items": 42, "count": "x"}`)).Error)

			s, err := e.c.Load(ctx, bad.Token())
			require.ErrorIs(t, err, session.ErrCorrupt, name)
			require.Nil(t, s, name)
			require.NotContains(t, err.Error(), "42", name)
			_, err = e.c.Update(ctx, bad.Token(), func(*Cart) error { return nil })
			require.ErrorIs(t, err, session.ErrCorrupt, name)

			// Open is lenient: a fresh, empty session, and the row is left alone.
			s, err = e.c.Open(ctx, bad.Token())
			require.NoError(t, err, name)
			require.True(t, s.IsNew(), name)
			require.Empty(t, s.Data.Items, name)
			require.EqualValues(t, 2, e.count(t), name)

			// The other session is untouched.
			s, err = e.c.Load(ctx, good.Token())
			require.NoError(t, err, name)
			require.Equal(t, []string{"keep"}, s.Data.Items, name)
		}
	})
}

// secretsIn returns every token, stored id and payload marker a test used,
// so that logs and errors can be searched for them.
var tokenShaped = regexp.MustCompile(`[A-Za-z0-9_-]{43}|[0-9a-f]{64}`)

func TestErrorsAndLogsCarryNoSecrets(t *testing.T) {
	t.Parallel()
	for _, d := range testdb.All {
		t.Run(d, func(t *testing.T) {
			t.Parallel()
			var gormLog, appLog syncBuffer
			db := testdb.Open(t, d, &gorm.Config{Logger: logger.New(
				logWriter{&gormLog}, logger.Config{LogLevel: logger.Info, SlowThreshold: time.Nanosecond})})
			const marker = "PAYLOAD-MARKER-7f3a"
			e := setup(t, db, session.WithCleanupFrequency(1), session.WithMaxPayloadSize(300),
				session.WithLogger(slog.New(slog.NewTextHandler(&appLog, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			ctx := context.Background()

			var errs []error
			var secrets []string
			note := func(err error) {
				if err != nil {
					errs = append(errs, err)
				}
			}
			s, _ := e.c.Open(ctx, "")
			s.Data.Items = []string{marker}
			s.SetSubject("user:" + marker)
			note(e.c.Save(ctx, s))
			secrets = append(secrets, s.Token(), idOf(t, s.Token()))
			stale, _ := e.c.Load(ctx, s.Token())
			note(e.c.Save(ctx, s))
			note(e.c.Save(ctx, stale)) // conflict
			_, err := e.c.Load(ctx, idOf(t, s.Token()))
			note(err) // not found
			s.Data.Items = []string{strings.Repeat(marker, 50)}
			note(e.c.Save(ctx, s)) // too large
			s.Data.Items = []string{marker}
			note(e.c.Renew(ctx, s))
			secrets = append(secrets, s.Token(), idOf(t, s.Token()))
			// The test's own tampering is not logged: only the library's lines count.
			quietDB := db.Session(&gorm.Session{Logger: logger.Discard})
			require.NoError(t, quietDB.Table(e.table).Where("1 = 1").Update("payload", []byte(marker)).Error)
			_, err = e.c.Load(ctx, s.Token())
			note(err) // corrupt
			_, _ = e.c.Open(ctx, s.Token())
			note(e.c.Destroy(ctx, s))
			note(e.c.Save(ctx, s)) // not found after destroy
			_, err = e.c.DestroySubject(ctx, "")
			note(err)
			// A database that is gone.
			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			_, err = e.c.Load(cancelled, secrets[0])
			note(err)
			require.ErrorIs(t, err, context.Canceled)
			x, _ := e.c.Open(ctx, "")
			sqlDB, _ := db.DB()
			e.wait()
			require.NoError(t, sqlDB.Close())
			note(e.c.Save(ctx, x))
			secrets = append(secrets, x.Token(), idOf(t, x.Token()))
			_, err = e.c.Load(ctx, secrets[0])
			note(err)

			require.GreaterOrEqual(t, len(errs), 9)
			kinds := map[string]bool{}
			for _, err := range errs {
				msg := err.Error()
				kinds[session.ErrorKind(err)] = true
				require.True(t, strings.HasPrefix(msg, "session: "), msg)
				require.NotContains(t, msg, marker)
				for _, sec := range secrets {
					require.NotContains(t, msg, sec)
				}
			}
			for _, k := range []string{"conflict", "not_found", "too_large", "corrupt", "invalid", "canceled", "database"} {
				require.True(t, kinds[k], "no %s error was produced", k)
			}
			logs := gormLog.String() + appLog.String()
			require.NotEmpty(t, gormLog.String(), "GORM's logger saw nothing: the test proves nothing")
			require.NotContains(t, logs, "record not found")
			require.NotContains(t, logs, marker)
			for _, sec := range secrets {
				require.NotContains(t, logs, sec)
			}
			require.Empty(t, tokenShaped.FindAllString(logs, -1))
		})
	}
}

// logWriter adapts a buffer to GORM's logger.Writer.
type logWriter struct{ w *syncBuffer }

func (l logWriter) Printf(format string, args ...any) {
	_, _ = l.w.Write([]byte(strings.TrimSpace(sprintf(format, args...)) + "\n"))
}

func TestErrorKindIsStable(t *testing.T) {
	t.Parallel()
	require.Empty(t, session.ErrorKind(nil))
	require.Equal(t, "database", session.ErrorKind(errors.New("x")))
	require.Equal(t, "timeout", session.ErrorKind(context.DeadlineExceeded))
}
