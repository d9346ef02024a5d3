package bench

import (
	"context"
	"net/http"
	"os"
	"testing"

	"github.com/gormsession/gormsession/session"
)

// The HTTP benchmark of issue 13, part 2, for profiling one subject:
//
//	go test -run '^$' -bench 'HTTP/postgres/ours/read' -benchmem -cpuprofile cpu.out -memprofile mem.out
//
// BENCH_SESSIONS sets how many signed-in sessions are seeded per store
// (default 10000). cmd/httpbench is what run.sh uses for the report.
func BenchmarkHTTP(b *testing.B) {
	ctx := context.Background()
	env := EnvFromEnvironment()
	n := 10000
	if v := os.Getenv("BENCH_SESSIONS"); v != "" {
		if _, err := fmtSscan(v, &n); err != nil {
			b.Fatal(err)
		}
	}
	for _, dialect := range []string{Postgres, SQLite, MySQL} {
		b.Run(dialect, func(b *testing.B) {
			for _, name := range HTTPSubjectNames(dialect) {
				b.Run(name, func(b *testing.B) {
					fs, err := NewHTTPFixtures(ctx, env, dialect, n, func(s string) bool { return s == name })
					if err != nil {
						b.Skip(err)
					}
					defer func() {
						for _, f := range fs {
							_ = f.Close(ctx, false)
						}
					}()
					for _, f := range fs {
						for _, h := range f.Subjects {
							for _, sc := range HTTPScenarios {
								b.Run(sc, HTTPBench(ctx, sc, h))
							}
						}
					}
				})
			}
		})
	}
}

// TestHTTPSubjects checks that every subject of the HTTP benchmark does what
// its scenarios claim on each database: an anonymous visitor gets no cookie,
// a signed-in read succeeds, and a write is stored (the next load through the
// store sees the extra visit).
func TestHTTPSubjects(t *testing.T) {
	t.Parallel()
	env := EnvFromEnvironment()
	env.Dir = t.TempDir()
	env.RunID += "_test"
	dialects := []string{SQLite}
	if os.Getenv("GORMSESSION_TEST_POSTGRES_DSN") != "" {
		dialects = append(dialects, Postgres)
	}
	if os.Getenv("GORMSESSION_TEST_MYSQL_DSN") != "" {
		dialects = append(dialects, MySQL)
	}
	for _, dialect := range dialects {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			fs, err := NewHTTPFixtures(ctx, env, dialect, 40, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				for _, f := range fs {
					if err := f.Close(ctx, false); err != nil {
						t.Error(err)
					}
				}
			})
			var names []string
			for _, f := range fs {
				for _, h := range f.Subjects {
					names = append(names, h.Name)
					c := ""
					if err := h.RoundTrip(ctx, http.MethodGet, "/anon", &c); err != nil || c != "" {
						t.Errorf("%s: anonymous: err %v, got a cookie: %t", h.Name, err, c != "")
					}
					if f.Store == nil {
						continue // "none" has no sessions to check
					}
					if err := h.RoundTrip(ctx, http.MethodGet, "/read", &c); err == nil {
						t.Errorf("%s: a read without a cookie succeeded", h.Name)
					}
					i := len(h.Keys) - 1
					if err := h.RoundTrip(ctx, http.MethodGet, "/read", &h.Keys[i]); err != nil {
						t.Errorf("%s: read: %v", h.Name, err)
					}
					before := visits(t, f.Store, h.Keys[i])
					if err := h.RoundTrip(ctx, http.MethodPost, "/write", &h.Keys[i]); err != nil {
						t.Errorf("%s: write: %v", h.Name, err)
					}
					if h.Keys[i] == "" {
						t.Fatalf("%s: the write dropped the cookie", h.Name)
					}
					if after := visits(t, f.Store, h.Keys[i]); after != before+1 {
						t.Errorf("%s: visits %d after a write, want %d", h.Name, after, before+1)
					}
				}
			}
			want := HTTPSubjectNames(dialect)
			if len(names) != len(want) {
				t.Errorf("subjects %v, want %v", names, want)
			}
		})
	}
}

// visits loads the session of key through the store and returns its visit
// count.
func visits(t *testing.T, s Subject, key string) int64 {
	t.Helper()
	h, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatalf("%s: open: %v", s.Name(), err)
	}
	switch h := h.(type) {
	case *session.Session[Payload]:
		return h.Data.Visits
	case *waderHandle:
		return h.s.Values["data"].(Payload).Visits
	case context.Context:
		return s.(*scsSubject).sm.Get(h, "data").(Payload).Visits
	}
	t.Fatalf("%s: unknown handle %T", s.Name(), h)
	return 0
}
