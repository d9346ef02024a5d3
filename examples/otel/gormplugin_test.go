package sessionotel_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
	"gorm.io/plugin/opentelemetry/tracing"

	"github.com/gormsession/gormsession/internal/testdb"
	"github.com/gormsession/gormsession/session"
	"github.com/gormsession/gormsession/sessiontest"
)

// pluginScope is the instrumentation scope of GORM's OpenTelemetry plugin.
const pluginScope = "gorm.io/plugin/opentelemetry"

// ownHandle returns a second *gorm.DB on db's connection pool, without
// db's plugins: the sessions' handle when the application's has GORM's
// tracing plugin with query variables on.
func ownHandle(t *testing.T, db *gorm.DB) *gorm.DB {
	t.Helper()
	pool, err := db.DB()
	require.NoError(t, err)
	var dial gorm.Dialector
	switch db.Dialector.Name() {
	case "sqlite":
		dial = sqlite.New(sqlite.Config{Conn: pool})
	case "postgres":
		dial = postgres.New(postgres.Config{Conn: pool})
	case "mysql":
		dial = mysql.New(mysql.Config{Conn: pool})
	default:
		t.Fatalf("unknown dialect %s", db.Dialector.Name())
	}
	own, err := gorm.Open(dial, &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	return own
}

// TestGORMTracingPlugin checks what docs/observability.md tells users of
// GORM's OpenTelemetry plugin (gorm.io/plugin/opentelemetry/tracing
// v0.1.16), on each database:
//   - by default the plugin records each statement with its bound values
//     inlined (db.query.text), so stored ids, subjects and payloads of the
//     sessions table reach the traces;
//   - with tracing.WithoutQueryVariables() it records placeholders only,
//     and no secret reaches any span, the plugin's or ours;
//   - sessions kept through a handle of their own without the plugin leave
//     no statement spans at all.
func TestGORMTracingPlugin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		opts      []tracing.Option
		ownHandle bool // sessions on a handle without the plugin
		leak      bool
	}{
		{name: "default", leak: true},
		{name: "WithoutQueryVariables", opts: []tracing.Option{tracing.WithoutQueryVariables()}},
		{name: "own handle", ownHandle: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testdb.Each(t, func(t *testing.T, db *gorm.DB) {
				r := newRig(t)
				sessionsDB := db
				if tc.ownHandle {
					sessionsDB = ownHandle(t, db)
				}
				opts := append([]tracing.Option{tracing.WithTracerProvider(r.tp), tracing.WithoutMetrics()}, tc.opts...)
				require.NoError(t, db.Use(tracing.NewPlugin(opts...)))
				c := sessiontest.NewOn[Cart](t, sessionsDB, session.WithObserver(r.observe),
					session.WithIdleTimeout(time.Hour), session.WithMaxPayloadSize(1024))

				ctx, parent := r.tp.Tracer("test").Start(context.Background(), "request")
				begin := time.Now() // after New's migration, which runs on a context of its own
				secrets := exercise(t, ctx, c)
				// The application's own query still goes through the plugin.
				var one int
				require.NoError(t, db.WithContext(ctx).Raw("SELECT 1").Scan(&one).Error)
				parent.End()

				var statements, onSessions int
				for _, sp := range r.spans.Ended() {
					if sp.InstrumentationScope().Name != pluginScope {
						continue
					}
					if sp.StartTime().Before(begin) {
						continue
					}
					statements++
					require.Equal(t, parent.SpanContext().SpanID(), sp.Parent().SpanID(), "statement spans are children of the request's span")
					if attrs(sp.Attributes())["db.collection.name"].AsString() != "" {
						onSessions++
					}
				}
				if tc.ownHandle {
					require.Equal(t, 1, statements, "only the application's own query is traced")
				} else {
					require.Greater(t, onSessions, 10, "the sessions' statements are traced")
				}

				found := leaks(texts(t, r.spans.Ended(), r.collect(t)), secrets)
				if tc.leak {
					require.Contains(t, found, "stored id")
					require.Contains(t, found, "subject")
					require.Contains(t, found, "payload marker")
					require.NotContains(t, found, "token", "tokens never reach SQL, only their hashes")
				} else {
					require.Empty(t, found, "secrets in the telemetry")
				}
			})
		})
	}
}
