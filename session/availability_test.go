package session_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"

	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessionhttp"
)

// TestSaveOfANewSessionIsIdempotent: a Save of a new session whose insert
// was already applied (here: by a first Save of an identical copy, as when
// the first attempt's outcome was unknown) succeeds and adopts the stored
// row; a copy with other data is ErrConflict, with or without encryption.
func TestSaveOfANewSessionIsIdempotent(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string][]session.Option{
		"plain":  nil,
		"sealed": {session.WithEncryption([]byte("0123456789abcdef0123456789abcdef"))},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			testdb.Each(t, func(t *testing.T, db *gorm.DB) {
				e := setup(t, db, opts...)
				ctx := context.Background()
				s, err := e.c.Open(ctx, "")
				require.NoError(t, err)
				s.Data.Items = []string{"apple"}
				s.SetSubject("user:1")
				_ = s.Token() // made before copying, so the copies share it
				retry, other := *s, *s
				other.Data.Items = []string{"pear"}

				require.NoError(t, e.c.Save(ctx, s))
				require.NoError(t, e.c.Save(ctx, &retry), "the same insert again is success")
				require.False(t, retry.IsNew())
				require.Equal(t, s.CreatedAt(), retry.CreatedAt(), "the stored row is adopted")
				retry.Data.Count = 5
				require.NoError(t, e.c.Save(ctx, &retry), "the adopted copy saves as version 1")

				require.ErrorIs(t, e.c.Save(ctx, &other), session.ErrConflict)
				got, err := e.c.Load(ctx, s.Token())
				require.NoError(t, err)
				require.Equal(t, Cart{Items: []string{"apple"}, Count: 5}, got.Data)
				require.EqualValues(t, 1, e.count(t))
			})
		})
	}
}

// TestUnreachableDatabaseIsUnavailable: with the server gone (nothing
// listens on the port), every call fails with ErrUnavailable (kind
// "unavailable") after a few brief retries, never quoting the DSN, and the
// middleware answers 503 with Retry-After.
func TestUnreachableDatabaseIsUnavailable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		dial gorm.Dialector
	}{
		{testdb.Postgres, postgres.Open("host=127.0.0.1 port=1 user=postgres password=S3cretPW dbname=test sslmode=disable connect_timeout=2")},
		{testdb.MySQL, mysql.New(mysql.Config{DSN: "root:S3cretPW@tcp(127.0.0.1:1)/test?parseTime=true&timeout=2s", SkipInitializeWithVersion: true})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, err := gorm.Open(tc.dial, &gorm.Config{DisableAutomaticPing: true, Logger: testdb.Logger()})
			require.NoError(t, err)
			sqlDB, _ := db.DB()
			t.Cleanup(func() { _ = sqlDB.Close() })
			c, err := session.New[Cart](db, session.WithoutAutoMigrate(), session.WithCleanupFrequency(0),
				session.WithTable("t_unreachable"))
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			tok := strings.Repeat("A", 43)
			_, err = c.Load(ctx, tok)
			requireUnavailable(t, err)
			_, err = c.Open(ctx, tok)
			requireUnavailable(t, err)
			s, _ := c.Open(ctx, "")
			s.Data.Items = []string{"apple"}
			requireUnavailable(t, c.Save(ctx, s))
			_, err = c.Update(ctx, tok, func(*Cart) error { return nil })
			requireUnavailable(t, err)
			_, err = c.Cleanup(ctx)
			requireUnavailable(t, err)

			m, err := sessionhttp.New(c)
			require.NoError(t, err)
			rec := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodGet, "https://example.test/", nil)
			r.AddCookie(&http.Cookie{Name: "__Host-session", Value: tok})
			m.Handler(http.NotFoundHandler()).ServeHTTP(rec, r)
			require.Equal(t, http.StatusServiceUnavailable, rec.Code)
			require.Equal(t, "1", rec.Header().Get("Retry-After"))
		})
	}
}

func requireUnavailable(t *testing.T, err error) {
	t.Helper()
	require.ErrorIs(t, err, session.ErrUnavailable)
	require.Equal(t, "unavailable", session.ErrorKind(err))
	require.NotContains(t, err.Error(), "S3cretPW")
	require.True(t, strings.HasPrefix(err.Error(), "session: "), err.Error())
}
