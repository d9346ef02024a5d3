package session_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

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

func TestErrorKindIsStable(t *testing.T) {
	t.Parallel()
	require.Empty(t, session.ErrorKind(nil))
	require.Equal(t, "database", session.ErrorKind(errors.New("x")))
	require.Equal(t, "timeout", session.ErrorKind(context.DeadlineExceeded))
}
